"""TaylorPruner, SlimPruner, LinearPruner and AGPPruner against NNI 3.0, computed in the test: the
same model, seeds, synthetic data and a few steps through NNI's TorchEvaluator (our pruners take
any evaluator with its interface). Masks must be bit-identical (torch.equal): NNI's result is
deterministic on the CPU for these models. Run:
PYTHONPATH=bindings/python /work/venv/bin/python -m pytest -p no:cacheprovider -q bindings/python/tests/test_training_pruners.py
"""
import pytest
import torch

nni = pytest.importorskip("nni")
import nni.compression.pruning as npr  # noqa: E402
from nni.compression import TorchEvaluator  # noqa: E402

import swiftcompress._core as core  # noqa: E402
from swiftcompress import pruning as spr  # noqa: E402
from swiftcompress.errors import InvalidArgumentError, PruningError  # noqa: E402


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(self.bn2(self.conv2(x)))
        return self.fc(x.flatten(1))


def _data():
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(4, 3, 4, 4, generator=g), torch.randint(0, 10, (4,), generator=g)) for _ in range(16)]


DATA = _data()


def training_func(model, optimizer, training_step, lr_scheduler, max_steps, max_epochs):
    model.train()
    steps = 0
    for _ in range(max_epochs or 100):
        for batch in DATA:
            optimizer.zero_grad()
            loss = training_step(batch, model)
            loss.backward()
            optimizer.step()
            steps += 1
            if max_steps is not None and steps >= max_steps:
                return


def training_step(batch, model):
    x, y = batch
    return torch.nn.functional.cross_entropy(model(x), y)


def evaluator_for(model):
    opt = nni.trace(torch.optim.SGD)(model.parameters(), lr=0.1, momentum=0.9)
    return TorchEvaluator(training_func, opt, training_step)


def fresh():
    torch.manual_seed(1)
    return Net()


def pair(build):
    """(nni masks, our masks) of ``build(pruning_module, model, evaluator)`` after compress()."""
    out = []
    for mod in (npr, spr):
        model = fresh()
        pruner, args = build(mod, model, evaluator_for(model))
        _, masks = pruner.compress(*args)
        out.append({m: {t: v.detach().clone() for t, v in d.items() if v is not None} for m, d in masks.items()})
    return out


def assert_same(nni_masks, our_masks):
    count = 0
    for module, targets in nni_masks.items():
        for target, mask in targets.items():
            ours = our_masks[module][target]
            if module.startswith("bn") and target == "bias":
                # SEMANTICS.md (align keeping every dim of the source): a BatchNorm bias follows its weight;
                # NNI 3.0 reduces over no dim as if over all and keeps every bias
                assert torch.equal(ours, our_masks[module]["weight"]), f"{module}.{target}"
                count += 1
                continue
            assert torch.equal(ours.to(mask.dtype), mask), f"{module}.{target}"
            count += 1
    assert count > 0
    return count


CONV = [{"op_types": ["Conv2d"], "sparse_ratio": 0.5}, {"op_names": ["fc"], "sparse_ratio": 0.3}]
BN = [{"op_types": ["BatchNorm2d"], "sparse_ratio": 0.5}]


def test_taylor_masks_equal_nni():
    n, s = pair(lambda mod, model, ev: (mod.TaylorPruner(model, CONV, ev, training_steps=3), ()))
    assert assert_same(n, s) == 6  # weights and the biases aligned to them
    assert int(s["conv1"]["weight"].sum()) == 4 * 27  # half of 8 filters kept


def test_slim_masks_equal_nni():
    n, s = pair(lambda mod, model, ev: (mod.SlimPruner(model, BN, ev, training_steps=4, regular_scale=0.5), ()))
    assert assert_same(n, s) == 4  # weights pruned as NNI, biases aligned to them (SEMANTICS.md)
    assert int(s["bn1"]["weight"].sum()) == 4


def test_slim_on_conv_and_linear_weights_equals_nni():
    # NNI's slim_pruning example targets Conv2d: one factor per output channel ([8, 1, 1, 1]; the fc's
    # [10, 1]), multiplied into the weight. regular_scale 1e-3 keeps the factors distinct (with the
    # default 1 the penalty's sign moves every factor alike, and which of equal factors are pruned
    # is a documented divergence: SEMANTICS.md, ties).
    factors = {}

    def build(mod, model, ev):
        pruner = mod.SlimPruner(model, CONV, ev, training_steps=4, regular_scale=1e-3)
        factors[mod.__name__] = pruner
        return pruner, ()
    n, s = pair(build)
    assert assert_same(n, s) == 6
    ours, theirs = factors["swiftcompress.pruning"], factors["nni.compression.pruning"]
    assert tuple(ours.scaling_factors["conv1"]["weight"].shape) == (8, 1, 1, 1)
    assert tuple(ours.scaling_factors["fc"]["weight"].shape) == (10, 1)
    for module in ("conv1", "conv2", "fc"):
        assert torch.equal(ours.scaling_factors[module]["weight"].detach(),
                           theirs.scaling_factors[module]["weight"].detach()), module
    # the factors are the pruner's: unwrapped, the model has only its own parameters (NNI: on the wrapper)
    ours.unwrap_model()
    names = [name for name, _ in ours.bound_model.named_parameters()]
    assert not any("slim_factor" in name for name in names)
    ours.wrap_model()
    assert "weight_slim_factor" in dict(ours.bound_model.conv1.named_parameters())


def _reference_l1(trained_state, config):
    """NNI's L1NormPruner with ``config`` on a fresh model holding ``trained_state``."""
    model = fresh()
    model.load_state_dict(trained_state)
    _, masks = npr.L1NormPruner(model, config).compress()
    return {m: {t: v.detach().clone() for t, v in d.items() if v is not None} for m, d in masks.items()}


# NNI 3.0's LinearPruner / AGPPruner re-wrap the bound pruner's model and rebuild the evaluator's
# optimizer with the wrapped modules' parameters left out (4 of the 10 parameters of Net are
# trained: checked with the optimizer's param_groups), so NNI's scheduled runs do not train the
# pruned layers. Ours train every parameter, as the plain loop does. The parity checked here is
# therefore: our final masks == NNI's L1NormPruner with the final goals on the weights we trained
# (the last schedule update has factor 1), and the core's schedule == NNI's formulas.
@pytest.mark.parametrize("cls", ["LinearPruner", "AGPPruner"])
def test_scheduled_over_l1_final_masks_equal_nni(cls):
    model = fresh()
    pruner = getattr(spr, cls)(spr.L1NormPruner(model, CONV), 2, 3, evaluator_for(model))
    _, masks = pruner.compress(6, None)
    ours = {m: {t: v.detach().clone() for t, v in d.items() if v is not None} for m, d in masks.items()}
    pruner.unwrap_model()
    assert assert_same(_reference_l1(model.state_dict(), CONV), ours) == 6


def test_agp_over_taylor_one_update_equals_nni_taylor():
    n, s = pair(lambda mod, model, ev: (
        (mod.AGPPruner(spr.TaylorPruner(model, CONV, ev, training_steps=3), 3, 1), (3, None)) if mod is spr
        else (npr.TaylorPruner(model, CONV, ev, training_steps=3), ())))
    assert assert_same(n, s) == 6


def test_linear_over_taylor_one_update_equals_nni_taylor():
    n, s = pair(lambda mod, model, ev: (
        (mod.LinearPruner(spr.TaylorPruner(model, CONV, ev, training_steps=2), 2, 1), (2, None)) if mod is spr
        else (npr.TaylorPruner(model, CONV, ev, training_steps=2), ())))
    assert assert_same(n, s) == 6


@pytest.mark.parametrize("times", [0, 1, 2, 3])
def test_core_schedule_equals_nni_formulas(times):
    goal, total = 0.7, 3
    assert core.sparsity_schedule(core.SC_SCHEDULE_LINEAR, goal, times, total) == goal * ((1 - 0.0) * times / total)
    assert core.sparsity_schedule(core.SC_SCHEDULE_AGP, goal, times, total) == \
        goal * (1 - (1 - 0.0) * (1 - times / total) ** 3)


LIN = [{"op_types": ["Linear"], "sparse_ratio": 0.5}, {"op_names": ["conv2"], "sparse_ratio": 0.25,
                                                      "granularity": "out_channel"}]


@pytest.mark.parametrize("warmup,cooldown,steps", [(1, 4, 6), (0, 3, 3)])
def test_movement_masks_equal_nni(warmup, cooldown, steps):
    n, s = pair(lambda mod, model, ev: (mod.MovementPruner(model, LIN, ev, warmup, cooldown), (steps, None)))
    assert assert_same(n, s) == 4
    assert int(s["fc"]["weight"].sum()) == 640  # half of the 10 rows after the last update


def test_movement_bad_arguments():
    model = fresh()
    ev = evaluator_for(model)
    with pytest.raises(InvalidArgumentError, match="cooldown_begin_step"):
        spr.MovementPruner(model, LIN, ev, 3, 3)
    with pytest.raises(InvalidArgumentError, match="max_steps"):
        spr.MovementPruner(model, LIN, ev, 1, 4).compress(2, None)


@pytest.mark.parametrize("which", ["taylor", "slim", "movement"])
def test_our_torch_evaluator_gives_nni_masks(which):
    """The same runs through swiftcompress.utils.TorchEvaluator (ours) instead of NNI's."""
    from swiftcompress.utils import TorchEvaluator as OurEvaluator, trace

    def make(mod, model, ev):
        if which == "taylor":
            return mod.TaylorPruner(model, CONV, ev, training_steps=3), ()
        if which == "slim":
            return mod.SlimPruner(model, BN, ev, training_steps=4, regular_scale=0.5), ()
        return mod.MovementPruner(model, LIN, ev, 1, 4), (6, None)
    model = fresh()
    n_pruner, n_args = make(npr, model, evaluator_for(model))
    _, n_masks = n_pruner.compress(*n_args)
    model = fresh()
    ours = OurEvaluator(training_func, trace(torch.optim.SGD)(model.parameters(), lr=0.1, momentum=0.9), training_step)
    s_pruner, s_args = make(spr, model, ours)
    _, s_masks = s_pruner.compress(*s_args)
    clean = lambda masks: {m: {t: v for t, v in d.items() if v is not None} for m, d in masks.items()}  # noqa: E731
    assert assert_same(clean(n_masks), clean(s_masks)) >= 4


@pytest.mark.parametrize("dtype,channels_last", [(torch.float64, False), (torch.float32, True)])
def test_taylor_and_slim_other_dtype_and_strides_equal_nni(dtype, channels_last):
    """float64 weights and gradients, or channels_last conv weights (strided tensors to the core)."""
    def step(batch, model):
        x, y = batch
        x = x.to(dtype)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return torch.nn.functional.cross_entropy(model(x), y)

    for build in (lambda mod, model, ev: mod.TaylorPruner(model, CONV, ev, training_steps=2),
                  lambda mod, model, ev: mod.SlimPruner(model, BN, ev, training_steps=2)):
        out = []
        for mod in (npr, spr):
            model = fresh().to(dtype)
            if channels_last:
                model = model.to(memory_format=torch.channels_last)
            opt = nni.trace(torch.optim.SGD)(model.parameters(), lr=0.1, momentum=0.9)
            _, masks = build(mod, model, TorchEvaluator(training_func, opt, step)).compress()
            out.append({m: {t: v.detach().clone() for t, v in d.items() if v is not None} for m, d in masks.items()})
        assert assert_same(*out) >= 4


def test_from_compressor_keeps_model_and_evaluator():
    model = fresh()
    ev = evaluator_for(model)
    l1 = spr.L1NormPruner(model, CONV, ev)
    taylor = spr.TaylorPruner.from_compressor(l1, CONV, training_steps=2)
    assert taylor.bound_model is model and taylor.evaluator is ev and not l1._is_wrapped
    slim = spr.SlimPruner.from_compressor(taylor, BN, training_steps=1, regular_scale=0.1)
    assert slim.evaluator is ev and slim.regular_scale == 0.1
    l2 = spr.L2NormPruner.from_compressor(slim, CONV)
    assert l2.evaluator is ev and l2.bound_model is model
    with pytest.raises(InvalidArgumentError, match="LinearPruner"):
        spr.LinearPruner.from_compressor(l2, CONV)


def test_core_taylor_and_slim_values():
    w = torch.tensor([1.0, -2.0, 3.0])
    g = torch.tensor([0.5, 0.25, -1.0])
    buf = torch.empty(3)
    core.taylor_accumulate(spr._training._spec(buf), spr._training._spec(w), spr._training._spec(g), True)
    core.taylor_accumulate(spr._training._spec(buf), spr._training._spec(w), spr._training._spec(g), False)
    assert buf.tolist() == [0.5, 0.5, 18.0]  # 2 * (w*g)^2
    avg = torch.empty(3)
    core.taylor_average(spr._training._spec(buf), 2, spr._training._spec(avg))
    assert avg.tolist() == [0.25, 0.25, 9.0]
    f = torch.tensor([1.0, -2.0, 0.0]).requires_grad_()
    loss = torch.tensor(1.0, requires_grad=True)
    out = spr._training._SlimPenalty.apply(2.0, loss, f)
    assert out.item() == 1.0 + 2.0 * 3.0  # loss + scale * ||f||_1 / 1
    out.backward()
    assert f.grad.tolist() == [2.0, -2.0, 0.0] and loss.grad.item() == 1.0


def test_bad_arguments_name_them():
    model = fresh()
    ev = evaluator_for(model)
    with pytest.raises(InvalidArgumentError, match="training_steps"):
        spr.TaylorPruner(model, CONV, ev, training_steps=0)
    with pytest.raises(InvalidArgumentError, match="evaluator"):
        spr.TaylorPruner(model, CONV, object(), training_steps=1)
    with pytest.raises(InvalidArgumentError, match="regular_scale"):
        spr.SlimPruner(model, BN, ev, training_steps=1, regular_scale=float("nan"))
    p = spr.L1NormPruner(model, CONV)
    with pytest.raises(InvalidArgumentError, match="total_times"):
        spr.LinearPruner(p, 1, 0, ev)
    with pytest.raises(InvalidArgumentError, match="interval_steps"):
        spr.AGPPruner(p, 0, 1, ev)
    with pytest.raises(InvalidArgumentError, match="max_steps"):
        spr.AGPPruner(p, 2, 3, ev).compress(1, None)
    with pytest.raises(ValueError, match="buffer|weight"):
        core.taylor_accumulate(spr._training._spec(torch.empty(2)), spr._training._spec(torch.empty(3)),
                               spr._training._spec(torch.empty(3)), True)
