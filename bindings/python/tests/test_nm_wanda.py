"""mask_structure "N:M" and WandaPruner (issue 15).

N:M masks are checked against hand-computed masks and against a direct torch computation (per group
of M along the input dim, the N smallest |w| by a stable sort: lower index first on ties) for the
four dtypes, Linear and Conv weights. WandaPruner is checked against a direct torch computation of
Sun et al. 2023's metric and mask (the paper's code: ``W_metric = |W| * sqrt(scaler_row)``, a stable
sort per output row at sparse_ratio, ``topk(largest=False)`` per N:M group), computed in this file.
Run: PYTHONPATH=bindings/python /work/venv/bin/python -m pytest -p no:cacheprovider -q bindings/python/tests/test_nm_wanda.py
"""
import pytest
import torch

import swiftcompress
from swiftcompress import explain
from swiftcompress.errors import ConfigError, PruningError
from swiftcompress.pruning import L1NormPruner, LevelPruner, WandaPruner

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def nm_reference(metric: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """Keep-mask (1 keep, 0 prune) of N:M over rows of dim 0, groups of M along the flattened rest."""
    rows = metric.reshape(metric.shape[0], -1).double()
    groups = rows.reshape(-1, m)
    order = torch.sort(groups, dim=1, stable=True).indices[:, :n]
    keep = torch.ones_like(groups)
    keep.scatter_(1, order, 0.0)
    return keep.reshape(metric.shape)


def linear(out_features, in_features, dtype, seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(in_features, out_features))
    return model.to(dtype)


def test_hand_computed_2_4_every_dtype():
    w = torch.tensor([[0.5, -0.1, 0.3, -0.7, 0.2, 0.05, -0.4, 0.9],
                      [1.0, 2.0, 3.0, 4.0, -4.0, -3.0, -2.0, -1.0]])
    want = torch.tensor([[1, 0, 0, 1, 0, 0, 1, 1],
                         [0, 0, 1, 1, 1, 1, 0, 0]])
    for dtype in DTYPES:
        model = torch.nn.Sequential(torch.nn.Linear(8, 2, bias=False)).to(dtype)
        with torch.no_grad():
            model[0].weight.copy_(w.to(dtype))
        _, masks = LevelPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.5, "mask_structure": "2:4"}]).compress()
        mask = masks["0"]["weight"]
        assert mask.dtype == dtype
        assert torch.equal(mask.float(), want.float()), dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nm", [(2, 4), (1, 4), (4, 8)])
def test_linear_matches_torch(dtype, nm):
    n, m = nm
    model = linear(16, 64, dtype, seed=n * 10 + m)
    config = [{"op_types": ["Linear"], "mask_structure": f"{n}:{m}"}]
    _, masks = LevelPruner(model, config).compress()
    mask = masks["0"]["weight"]
    want = nm_reference(model[0].weight.detach().abs(), n, m)
    assert torch.equal(mask.double(), want)
    assert masks["0"]["bias"].sum().item() == 16  # bias untouched: mask_structure is the weight's


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_groups_along_flattened_input_dims(dtype):
    torch.manual_seed(3)
    model = torch.nn.Sequential(torch.nn.Conv2d(4, 6, 3)).to(dtype)  # rows of 4 * 3 * 3 = 36
    _, masks = LevelPruner(model, [{"op_types": ["Conv2d"], "sparse_ratio": 0.5,
                                    "target_settings": {"weight": {"mask_structure": "2:4"}}}]).compress()
    mask = masks["0"]["weight"]
    assert torch.equal(mask.double(), nm_reference(model[0].weight.detach().abs(), 2, 4))
    # hand-computed: a [1, 2, 1, 2] conv, 1:2 -> per output row (3 -1 | 2 5) prunes -1 and 2
    conv = torch.nn.Sequential(torch.nn.Conv2d(2, 1, (1, 2), bias=False)).to(dtype)
    with torch.no_grad():
        conv[0].weight.copy_(torch.tensor([[[[3.0, -1.0]], [[2.0, 5.0]]]]).to(dtype))
    _, masks = LevelPruner(conv, [{"op_types": ["Conv2d"], "mask_structure": "1:2"}]).compress()
    assert masks["0"]["weight"].flatten().tolist() == [1, 0, 0, 1]


def test_block_metric_groups_of_blocks():
    # L1 over blocks [1, 2]: row (1 1 | 5 5 | 2 2 | 9 9) has block norms (2 10 4 18); 2:4 prunes blocks 0, 2
    model = torch.nn.Sequential(torch.nn.Linear(8, 1, bias=False))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 1, 5, 5, 2, 2, 9, 9]]))
    _, masks = L1NormPruner(model, [{"op_types": ["Linear"], "granularity": [1, 2], "mask_structure": "2:4"}]).compress()
    assert masks["0"]["weight"].flatten().tolist() == [0, 0, 1, 1, 0, 0, 1, 1]


def test_errors_name_config_key_and_target():
    model = linear(4, 8, torch.float32)
    with pytest.raises(ConfigError) as e:
        LevelPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.3, "mask_structure": "2:4"}])
    assert str(e.value) == ("config_list[0] (0.weight).sparse_ratio: expected N/M = 0.5 with mask_structure '2:4' "
                            "(or no sparse_ratio), got 0.3")
    with pytest.raises(ConfigError) as e:
        LevelPruner(model, [{"op_types": ["Linear"], "mask_structure": "5:4"}])
    assert "config_list[0].mask_structure: expected 'N:M'" in str(e.value) and "got '5:4'" in str(e.value)
    odd = linear(4, 6, torch.float32)
    with pytest.raises(PruningError) as e:
        LevelPruner(odd, [{"op_types": ["Linear"], "mask_structure": "2:4"}]).compress()
    assert str(e.value).startswith("0.weight: mask_structure: M = 4 dividing the row length along the input dim, got a row of 6")


def test_explain_shows_mask_structure():
    model = linear(4, 8, torch.float32)
    report = explain(model, [{"op_types": ["Linear"], "sparse_ratio": 0.5, "mask_structure": "2:4"}], "pruning")
    assert "mask_structure='2:4'" in str(report)
    # "0:0" is unstructured: the plain ratio's mask
    _, a = LevelPruner(linear(4, 8, torch.float32, 7), [{"op_types": ["Linear"], "sparse_ratio": 0.5, "mask_structure": "0:0"}]).compress()
    _, b = LevelPruner(linear(4, 8, torch.float32, 7), [{"op_types": ["Linear"], "sparse_ratio": 0.5}]).compress()
    assert torch.equal(a["0"]["weight"], b["0"]["weight"])


# -- Wanda -------------------------------------------------------------------------------------

class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = torch.nn.Linear(32, 64)
        self.down = torch.nn.Linear(64, 16)

    def forward(self, x):
        return self.down(torch.relu(self.up(x)))


def batches(seed=0, count=4):
    g = torch.Generator().manual_seed(seed)
    # [batch, tokens, hidden]: channels with very different scales, so Wanda differs from magnitude
    scale = torch.linspace(0.1, 4.0, 32)
    return [torch.randn(2, 5, 32, generator=g) * scale for _ in range(count)]


def wanda_reference(model, data, sparsity=0.5, nm=None):
    """The paper's metric and mask, directly in torch (keep-masks per module name)."""
    inputs = {}
    hooks = [m.register_forward_pre_hook(lambda mod, args, name=name: inputs.setdefault(name, []).append(args[0].detach()))
             for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for x in data:
            model(x)
    for h in hooks:
        h.remove()
    masks = {}
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear):
            continue
        X = torch.cat([x.reshape(-1, x.shape[-1]) for x in inputs[name]]).double()
        scaler_row = (X ** 2).sum(0)  # squared L2 norm of each input channel over all tokens
        W = module.weight.detach()
        metric = W.abs().float() * torch.sqrt(scaler_row).float().reshape(1, -1)
        pruned = torch.zeros_like(metric, dtype=torch.bool)
        if nm is None:
            order = torch.sort(metric, dim=-1, stable=True)[1][:, :int(metric.shape[1] * sparsity)]
            pruned.scatter_(1, order, True)
        else:
            n, m = nm
            for ii in range(0, metric.shape[1], m):
                tmp = metric[:, ii:ii + m].double()
                order = torch.sort(tmp, dim=1, stable=True)[1][:, :n]
                pruned.scatter_(1, ii + order, True)
        masks[name] = (~pruned).to(W.dtype)
    return masks


@pytest.mark.parametrize("nm", [None, (2, 4)])
def test_wanda_matches_the_paper(nm):
    torch.manual_seed(0)
    model = Mlp()
    data = batches()
    want = wanda_reference(model, data, 0.5, nm)
    config = [{"op_types": ["Linear"], "sparse_ratio": 0.5}]
    if nm:
        config[0]["mask_structure"] = "2:4"
    pruner = WandaPruner(model, config)
    pruner.calibrate(data[:2])
    pruner.calibrate(data[2:])  # the sums go on over calls
    _, masks = pruner.compress()
    for name in ("up", "down"):
        assert torch.equal(masks[name]["weight"], want[name]), name
        # per output row exactly half pruned
        assert masks[name]["weight"].sum(1).tolist() == [masks[name]["weight"].shape[1] // 2] * masks[name]["weight"].shape[0]
    # Wanda's mask is not the magnitude mask (the input scales matter)
    assert not torch.equal(masks["up"]["weight"], wanda_reference_level(model))
    pruner.unwrap_model()


def wanda_reference_level(model):
    W = model.up.weight.detach()
    pruned = torch.zeros_like(W, dtype=torch.bool)
    pruned.scatter_(1, torch.sort(W.abs(), dim=-1, stable=True)[1][:, :W.shape[1] // 2], True)
    return (~pruned).float()


def test_wanda_bfloat16_and_conv():
    torch.manual_seed(1)
    model = Mlp().to(torch.bfloat16)
    data = [x.to(torch.bfloat16) for x in batches(1)]
    want = wanda_reference(model, data, 0.5)
    pruner = WandaPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.5}])
    pruner.calibrate(data)
    _, masks = pruner.compress()
    assert masks["up"]["weight"].dtype == torch.bfloat16
    assert torch.equal(masks["up"]["weight"], want["up"]) and torch.equal(masks["down"]["weight"], want["down"])
    # Conv: norms per input channel over batch and positions; kernel positions share them.
    conv = torch.nn.Sequential(torch.nn.Conv2d(4, 3, 2))
    xs = [torch.randn(2, 4, 5, 5) * torch.tensor([0.1, 1.0, 3.0, 10.0]).reshape(1, 4, 1, 1) for _ in range(2)]
    pruner = WandaPruner(conv, [{"op_types": ["Conv2d"], "sparse_ratio": 0.5}])
    pruner.calibrate(xs)
    _, masks = pruner.compress()
    norms = sum((x.double() ** 2).sum((0, 2, 3)) for x in xs)
    W = conv[0].weight.detach()
    metric = (W.abs().float() * norms.sqrt().float().reshape(1, 4, 1, 1)).reshape(3, -1)
    pruned = torch.zeros_like(metric, dtype=torch.bool)
    pruned.scatter_(1, torch.sort(metric, dim=-1, stable=True)[1][:, :8], True)
    assert torch.equal(masks["0"]["weight"], (~pruned).float().reshape(W.shape))


def test_wanda_evaluator_form_and_errors():
    torch.manual_seed(2)
    model = Mlp()
    data = batches(2)
    want = wanda_reference(model, data, 0.5)

    class Evaluator:
        def bind_model(self, model, names=None):
            self.model = model

        def unbind_model(self):
            self.model = None

        def evaluate(self):
            for x in data:
                self.model(x)

    _, masks = WandaPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.5}], Evaluator()).compress()
    assert torch.equal(masks["up"]["weight"], want["up"])
    with pytest.raises(PruningError, match=r"up.weight: WandaPruner.compress: no calibration input"):
        WandaPruner(Mlp(), [{"op_types": ["Linear"], "sparse_ratio": 0.5}]).compress()
    with pytest.raises(PruningError, match="needs a Linear or a groups=1 Conv"):
        WandaPruner(torch.nn.Sequential(torch.nn.Embedding(10, 4)), [{"op_types": ["Embedding"], "sparse_ratio": 0.5}])
    assert swiftcompress.WandaPruner is WandaPruner
