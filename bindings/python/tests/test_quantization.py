"""swiftcompress.quantization against NNI 3.0's PtqQuantizer and QATQuantizer, run in the same
process on deep copies of the same model with the same data: scales, zero points, tracked ranges,
fake-quantized outputs and, for QAT, the weights after a few SGD steps must be equal bit for bit
(float32). Per channel and blocks (NNI 3.0 rejects per_channel on weights) are checked against a
direct torch computation of the formulas (docs/quantization.md)."""
from __future__ import annotations

import copy
import logging
from typing import Any, Dict, List

import nni  # the reference; installed in the test environment (a missing NNI fails, it does not skip)
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from nni.compression.quantization import PtqQuantizer as NniPtq
from nni.compression.quantization import QATQuantizer as NniQat
from nni.compression.utils import TorchEvaluator

import swiftcompress
from swiftcompress.errors import ConfigError, DtypeError, InvalidArgumentError, QuantizationError, StateError
from swiftcompress.quantization import PtqQuantizer, QATQuantizer

logging.getLogger("nni").setLevel(logging.ERROR)


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu(self.fc1(x)))


class CNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 6, 3, padding=1)
        self.fc = nn.Linear(6 * 6 * 6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.relu(self.conv1(x)))
        return self.fc(x.flatten(1))


def make(name: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return MLP() if name == "mlp" else CNN()


def batches(name: str, count: int = 3, seed: int = 1) -> List[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shape = (5, 8) if name == "mlp" else (2, 3, 8, 8)
    return [torch.randn(*shape, generator=g) * (1 + i) for i in range(count)]


def targets_of(name: str) -> Dict[str, Any]:
    return {"op_types": ["Linear", "Conv2d"], "target_names": ["_input_", "weight", "bias", "_output_"]}


def nni_ptq(model: nn.Module, config_list: List[Dict[str, Any]], data: List[torch.Tensor]):
    def training_func(model, optimizers, training_step, lr_schedulers=None, max_steps=None, max_epochs=None):
        with torch.no_grad():
            for b in data:
                model(b)

    optimizer = nni.trace(torch.optim.SGD)(model.parameters(), lr=0.1)
    evaluator = TorchEvaluator(training_func, optimizer, lambda batch, model: model(batch).sum())
    quantizer = NniPtq(model, copy.deepcopy(config_list), evaluator)
    model, calibration = quantizer.compress(max_steps=1, max_epochs=None)
    return quantizer, model, calibration


def ptq_both(name: str, config_list: List[Dict[str, Any]]):
    """Calibrates and compresses `make(name)` with our PtqQuantizer and a deep copy with NNI's, on
    `batches(name)`. Returns (data, our model, NNI's model, our calibration config, NNI's)."""
    data = batches(name)
    model = make(name)
    reference = copy.deepcopy(model)
    quantizer = PtqQuantizer(model, config_list)
    quantizer.calibrate(data)
    _, ours = quantizer.compress()
    _, nni_model, theirs = nni_ptq(reference, config_list, data)
    return data, model, nni_model, ours, theirs


def assert_same_calibration(ours: Dict[str, Any], theirs: Dict[str, Any]) -> int:
    """Every module, target, key and value equal: tensors bit for bit, with equal shape and dtype."""
    assert type(ours) is type(theirs)
    assert set(ours) == set(theirs)
    count = 0
    for module, targets in theirs.items():
        assert set(ours[module]) == set(targets), module
        for target, entry in targets.items():
            mine = ours[module][target]
            assert list(mine) == list(entry), (module, target)  # the same keys in NNI's order
            for key, value in entry.items():
                if isinstance(value, torch.Tensor):
                    assert isinstance(mine[key], torch.Tensor), (module, target, key)
                    assert mine[key].shape == value.shape and mine[key].dtype == value.dtype, (module, target, key)
                    assert mine[key].device == value.device
                    assert torch.equal(mine[key], value), (module, target, key, mine[key], value)
                    count += 1
                else:
                    assert mine[key] == value and type(mine[key]) is type(value), (module, target, key)
    return count


DTYPES = ["int8", "uint8", "int4"]
SCHEMES = ["symmetric", "affine"]


@pytest.mark.parametrize("model_name", ["mlp", "cnn"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scheme", SCHEMES)
def test_ptq_matches_nni(model_name: str, dtype: str, scheme: str) -> None:
    config_list = [dict(targets_of(model_name), quant_dtype=dtype, quant_scheme=scheme)]
    data = batches(model_name)
    model = make(model_name)
    reference = copy.deepcopy(model)
    plain = copy.deepcopy(model)

    quantizer = PtqQuantizer(model, config_list)
    assert quantizer.calibrate(data) == 3
    ours_model, ours = quantizer.compress()
    assert ours_model is model
    _, nni_model, theirs = nni_ptq(reference, config_list, data)
    checked = assert_same_calibration(ours, theirs)
    assert checked == 4 * 4 * (2 if model_name == "mlp" else 3)  # 4 tensors x 4 targets x modules

    probe = batches(model_name, count=1, seed=7)[0] * 3  # values beyond the calibrated range clamp
    with torch.no_grad():
        out = model(probe)
        expected = nni_model(probe)
        unquantized = plain(probe)
    assert torch.equal(out, expected)
    assert not torch.equal(out, unquantized)  # it is fake-quantized


@pytest.mark.parametrize("model_name", ["mlp", "cnn"])
@pytest.mark.parametrize("scheme", SCHEMES)
def test_ptq_float64_matches_nni(model_name: str, scheme: str) -> None:
    # float64 models are computed in float64 by the core, as torch computes them.
    config_list = [dict(targets_of(model_name), quant_dtype="uint8", quant_scheme=scheme)]
    data = [b.double() for b in batches(model_name)]
    model = make(model_name).double()
    reference = copy.deepcopy(model)
    quantizer = PtqQuantizer(model, config_list)
    quantizer.calibrate(data)
    _, ours = quantizer.compress()
    _, nni_model, theirs = nni_ptq(reference, config_list, data)
    assert assert_same_calibration(ours, theirs) == 4 * 4 * (2 if model_name == "mlp" else 3)
    assert ours["fc" if model_name == "cnn" else "fc1"]["weight"]["scale"].dtype == torch.float64
    with torch.no_grad():
        assert torch.equal(model(data[0] * 2), nni_model(data[0] * 2))


@pytest.mark.parametrize("dtype,mantissa", [(torch.float16, 10), (torch.bfloat16, 7)])
def test_ptq_16_bit_within_one_place_of_nni(dtype: torch.dtype, mantissa: int) -> None:
    # The core computes 16-bit tensors in float32 and rounds once (docs/quantization.md); torch
    # rounds every operation to 16 bits. Tracked ranges are equal; scales within one unit in the
    # last 16-bit place; zero points within 1 (they come from min / scale).
    config_list = [dict(targets_of("mlp"), quant_dtype="uint8", quant_scheme="affine")]
    data = [b.to(dtype) for b in batches("mlp")]
    model = make("mlp").to(dtype)
    reference = copy.deepcopy(model)
    quantizer = PtqQuantizer(model, config_list)
    quantizer.calibrate(data)
    _, ours = quantizer.compress()
    _, _, theirs = nni_ptq(reference, config_list, data)
    differing = 0
    for module, targets in theirs.items():
        for target, entry in targets.items():
            mine = ours[module][target]
            for key in ("scale", "zero_point", "tracked_min", "tracked_max"):
                assert mine[key].dtype == entry[key].dtype == dtype and mine[key].shape == entry[key].shape
            assert torch.equal(mine["tracked_min"], entry["tracked_min"])
            assert torch.equal(mine["tracked_max"], entry["tracked_max"])
            a, b = mine["scale"].double(), entry["scale"].double()
            ulp = torch.exp2(torch.floor(torch.log2(b)) - mantissa)
            assert (a - b).abs().item() <= ulp.item(), (module, target, a, b)
            assert (mine["zero_point"].double() - entry["zero_point"].double()).abs().item() <= 1
            differing += int(not torch.equal(mine["scale"], entry["scale"]))
    assert differing < 8  # most are equal


def test_ptq_legacy_config_matches_nni() -> None:
    # NNI 3.0's schema requires a top-level quant_dtype even in a legacy list (None is accepted).
    config_list = [{"quant_types": ["input", "weight", "output"], "quant_bits": {"input": 8, "weight": 4, "output": 8},
                    "op_types": ["Conv2d", "Linear"], "quant_dtype": None}]
    data, model, nni_model, ours, theirs = ptq_both("cnn", config_list)
    assert assert_same_calibration(ours, theirs) == 4 * 3 * 3
    assert ours["conv1"]["weight"]["quant_dtype"] == "int4" and ours["conv1"]["weight"]["quant_bits"] == 4
    with torch.no_grad():
        assert torch.equal(model(data[0]), nni_model(data[0]))


def test_ptq_ignores_config_apply_method_as_nni() -> None:
    # NNI 3.0's PtqQuantizer sets the apply method itself ('clamp_round' after compress).
    config_list = [dict(targets_of("mlp"), quant_dtype="int8", apply_method="bypass")]
    data, model, nni_model, _, _ = ptq_both("mlp", config_list)
    with torch.no_grad():
        assert torch.equal(model(data[1]), nni_model(data[1]))
        assert not torch.equal(model(data[1]), make("mlp")(data[1]))


def test_ptq_gradient_is_straight_through_as_nni() -> None:
    config_list = [dict(targets_of("cnn"), quant_dtype="uint8", quant_scheme="affine")]
    data, model, nni_model, _, _ = ptq_both("cnn", config_list)
    x1 = (data[2] * 2).requires_grad_()
    x2 = (data[2] * 2).requires_grad_()
    target = torch.randn(2, 5, generator=torch.Generator().manual_seed(3))
    F.mse_loss(model(x1), target).backward()
    F.mse_loss(nni_model(x2), target).backward()
    assert torch.equal(x1.grad, x2.grad)
    assert torch.equal(model.conv1.weight.grad, nni_model.conv1._nni_wrapper.weight.grad)


def test_calibration_batches_forms_and_no_grad() -> None:
    model = make("mlp")
    quantizer = PtqQuantizer(model, [{"op_names": ["fc1"], "target_names": ["_input_"], "quant_dtype": "int8"}])
    seen = []
    model.fc1.register_forward_pre_hook(lambda m, a: seen.append(torch.is_grad_enabled()))
    x = torch.randn(4, 8, generator=torch.Generator().manual_seed(2))
    assert quantizer.calibrate(x) == 1                      # one tensor: one batch
    assert quantizer.calibrate([(x * 2,), {"x": x * -3}]) == 2  # positional tuple, keyword dict
    assert seen == [False, False, False]
    _, config = quantizer.compress()
    entry = config["fc1"]["_input_0"]
    assert entry["tracked_min"].item() == torch.stack([x.min(), (x * 2).min(), (x * -3).min()]).min().item()
    assert entry["tracked_max"].item() == torch.stack([x.max(), (x * 2).max(), (x * -3).max()]).max().item()
    expected_scale = torch.max(entry["tracked_min"].abs(), entry["tracked_max"].abs()) / (254 / 2)
    assert torch.equal(entry["scale"], expected_scale)
    assert torch.equal(entry["zero_point"], torch.tensor(0.0))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_ptq_per_channel_activations_match_nni(scheme: str) -> None:
    # NNI 3.0 accepts per_channel on inputs / outputs (dim 1; scale shape [1, C, 1, 1]).
    config_list = [{"op_types": ["Conv2d"], "target_names": ["_input_", "_output_"], "quant_dtype": "int8",
                    "quant_scheme": scheme, "granularity": "per_channel"}]
    data, model, nni_model, ours, theirs = ptq_both("cnn", config_list)
    assert assert_same_calibration(ours, theirs) == 4 * 2 * 2
    assert ours["conv2"]["_output_0"]["scale"].shape == (1, 6, 1, 1)
    with torch.no_grad():
        assert torch.equal(model(data[0] * 2), nni_model(data[0] * 2))


class TupleLinear(nn.Linear):
    def forward(self, input: torch.Tensor):
        y = super().forward(input)
        return y, y * 2


class DictLinear(nn.Linear):
    def forward(self, input: torch.Tensor):
        y = super().forward(input)
        return {"main": y, "aux": -y}


TupleLinear.__name__ = DictLinear.__name__ = "Linear"  # the Linear template applies (type names)


class KeywordNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = TupleLinear(8, 6)
        self.b = DictLinear(6, 4)
        self.c = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, z = self.a(input=x)                                   # an input passed by keyword
        d = self.b(y + z)
        return self.c(input=d["main"] + d["aux"] * 0.5)


def test_keyword_inputs_tuple_and_dict_outputs_match_nni() -> None:
    config_list = [
        {"op_names": ["a"], "target_names": ["_input_", "_output_0", "_output_1"], "quant_dtype": "int8"},
        {"op_names": ["b"], "target_names": ["_input_", "_output_main", "_output_aux"], "quant_dtype": "uint8",
         "quant_scheme": "affine"},
        {"op_names": ["c"], "target_names": ["_input_", "_output_"], "quant_dtype": "int4"},
    ]
    torch.manual_seed(0)
    model = KeywordNet()
    reference = copy.deepcopy(model)
    data = batches("mlp")
    quantizer = PtqQuantizer(model, config_list)
    quantizer.calibrate(data)
    _, ours = quantizer.compress()
    _, nni_model, theirs = nni_ptq(reference, config_list, data)
    assert assert_same_calibration(ours, theirs) == 4 * 8
    assert sorted(ours["b"]) == ["_input_0", "_output_aux", "_output_main"]
    with torch.no_grad():
        assert torch.equal(model(data[0] * 2), nni_model(data[0] * 2))


def test_calibrate_after_compress_widens_the_ranges() -> None:
    config_list = [dict(targets_of("mlp"), quant_dtype="int8")]
    data = batches("mlp")
    model, reference = make("mlp"), make("mlp")
    quantizer = PtqQuantizer(model, config_list)
    quantizer.calibrate(data[:1])
    _, first = quantizer.compress()
    quantizer.calibrate(data[1:])
    with torch.no_grad():
        after = model(data[0])
    # the same as calibrating on all the data before compress()
    other = PtqQuantizer(reference, config_list)
    other.calibrate(data)
    _, expected = other.compress()
    assert_same_calibration(quantizer.get_calibration_config(), expected)
    assert first["fc1"]["_input_0"]["tracked_max"] < expected["fc1"]["_input_0"]["tracked_max"]
    with torch.no_grad():
        assert torch.equal(after, reference(data[0]))


# -- per channel and blocks: a direct torch computation of the formulas ------------------------

def reference_fake_quant(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, qmin: int, qmax: int,
                         scheme: str):
    lo = torch.minimum(lo, torch.zeros_like(lo))
    hi = torch.maximum(hi, torch.zeros_like(hi))
    eps = torch.finfo(torch.float32).eps
    if scheme == "symmetric":
        scale = torch.maximum(torch.maximum(lo.abs(), hi.abs()) / (float(qmax - qmin) / 2), torch.full_like(lo, eps))
        zero_point = torch.full_like(lo, float((qmax + qmin + 1) // 2))
    else:
        scale = torch.maximum((hi - lo) / float(qmax - qmin), torch.full_like(lo, eps))
        zero_point = torch.clamp(qmin - torch.round(lo / scale), qmin, qmax)
    q = torch.round(torch.clamp(zero_point + x / scale, qmin, qmax))
    return scale, zero_point, (q - zero_point) * scale


@pytest.mark.parametrize("scheme", SCHEMES)
def test_per_channel_weight_and_activation(scheme: str) -> None:
    model = make("cnn")
    plain = copy.deepcopy(model)
    config_list = [{"op_names": ["conv1"], "target_names": ["weight", "_output_"], "quant_dtype": "uint8",
                    "quant_scheme": scheme, "granularity": "per_channel"}]
    data = batches("cnn")
    quantizer = PtqQuantizer(model, config_list)
    quantizer.calibrate(data)
    _, config = quantizer.compress()

    w = plain.conv1.weight.detach()
    lo = w.amin(dim=(1, 2, 3), keepdim=True)
    hi = w.amax(dim=(1, 2, 3), keepdim=True)
    scale, zero_point, w_fq = reference_fake_quant(w, lo, hi, 0, 255, scheme)
    entry = config["conv1"]["weight"]
    assert entry["scale"].shape == (4, 1, 1, 1)
    assert torch.equal(entry["tracked_min"], lo) and torch.equal(entry["tracked_max"], hi)
    assert torch.equal(entry["scale"], scale) and torch.equal(entry["zero_point"], zero_point)

    with torch.no_grad():
        outs = [F.conv2d(b, w, plain.conv1.bias) for b in data]
    lo_a = torch.stack([o.amin(dim=(0, 2, 3), keepdim=True) for o in outs]).amin(dim=0)
    hi_a = torch.stack([o.amax(dim=(0, 2, 3), keepdim=True) for o in outs]).amax(dim=0)
    entry = config["conv1"]["_output_0"]
    assert entry["scale"].shape == (1, 4, 1, 1)
    assert torch.equal(entry["tracked_min"], lo_a) and torch.equal(entry["tracked_max"], hi_a)

    probe = data[1] * 1.5
    with torch.no_grad():
        got = model.conv1(probe)
        conv = F.conv2d(probe, w_fq, plain.conv1.bias)
    _, _, expected = reference_fake_quant(conv, lo_a, hi_a, 0, 255, scheme)
    assert torch.equal(got, expected)


def test_blocks_on_linear_weight() -> None:
    model = make("mlp")
    plain = copy.deepcopy(model)
    config_list = [{"op_names": ["fc1"], "target_names": ["weight"], "quant_dtype": "int4",
                    "quant_scheme": "affine", "granularity": [4, -1]}]
    quantizer = PtqQuantizer(model, config_list)
    _, config = quantizer.compress()  # weights only: compress observes them
    w = plain.fc1.weight.detach()  # (16, 8): blocks of 4 rows x all 8 columns
    lo = w.reshape(4, 4, 8).amin(dim=(1, 2))
    hi = w.reshape(4, 4, 8).amax(dim=(1, 2))
    entry = config["fc1"]["weight"]
    assert entry["scale"].numel() == 4
    assert torch.equal(entry["tracked_min"].reshape(-1), lo) and torch.equal(entry["tracked_max"].reshape(-1), hi)
    scale, zero_point, _ = reference_fake_quant(lo, lo, hi, -7, 7, "affine")
    assert torch.equal(entry["scale"].reshape(-1), scale) and torch.equal(entry["zero_point"].reshape(-1), zero_point)
    expanded = lambda t: t.reshape(4, 1, 1).expand(4, 4, 8).reshape(16, 8)  # noqa: E731
    _, _, w_fq = reference_fake_quant(w, expanded(lo), expanded(hi), -7, 7, "affine")
    x = batches("mlp")[0]
    with torch.no_grad():
        assert torch.equal(model.fc1(x), F.linear(x, w_fq, plain.fc1.bias))


# -- QAT ---------------------------------------------------------------------------------------

def train_data(name: str, steps: int):
    g = torch.Generator().manual_seed(5)
    shape, out = ((6, 8), 4) if name == "mlp" else ((2, 3, 8, 8), 5)
    return [(torch.randn(*shape, generator=g) * (1 + 0.5 * i), torch.randn(shape[0], out, generator=g))
            for i in range(steps)]


def nni_qat(model, config_list, data, quant_start_step):
    def training_step(batch, model, *args, **kwargs):
        x, y = batch
        return F.mse_loss(model(x), y)

    def training_func(model, optimizers, training_step, lr_schedulers=None, max_steps=None, max_epochs=None):
        model.train()
        for batch in data:
            optimizers.zero_grad()
            training_step(batch, model).backward()
            optimizers.step()

    optimizer = nni.trace(torch.optim.SGD)(model.parameters(), lr=0.05)
    evaluator = TorchEvaluator(training_func, optimizer, training_step)
    quantizer = NniQat(model, copy.deepcopy(config_list), evaluator, quant_start_step=quant_start_step)
    _, calibration = quantizer.compress(max_steps=len(data), max_epochs=None)
    return quantizer, calibration


def our_qat(model, config_list, data, quant_start_step=0):
    quantizer = QATQuantizer(model, config_list, quant_start_step=quant_start_step)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for x, y in data:
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
        quantizer.step()
    return quantizer


@pytest.mark.parametrize("model_name,dtype,scheme,start", [
    ("mlp", "int8", "symmetric", 0), ("mlp", "uint8", "affine", 0), ("cnn", "int4", "affine", 0),
    ("cnn", "int8", "symmetric", 2), ("mlp", "int4", "symmetric", 3),
])
def test_qat_matches_nni(model_name: str, dtype: str, scheme: str, start: int) -> None:
    config_list = [dict(targets_of(model_name), quant_dtype=dtype, quant_scheme=scheme)]
    data = train_data(model_name, 5)
    model = make(model_name)
    reference = copy.deepcopy(model)
    quantizer = our_qat(model, config_list, data, start)
    nni_quantizer, theirs = nni_qat(reference, config_list, data, start)
    assert quantizer.current_step == nni_quantizer.current_step == 5
    assert_same_calibration(quantizer.get_calibration_config(), theirs)
    probe = data[0][0] * 2
    model.eval()
    reference.eval()
    with torch.no_grad():
        assert torch.equal(model(probe), reference(probe))  # eval: quantized with the last scales
    nni_quantizer.unwrap_model()
    for (name, ours), (_, nni_value) in zip(model.state_dict().items(), reference.state_dict().items()):
        assert torch.equal(ours, nni_value), name  # the same weights after 5 SGD steps


def test_qat_per_channel_activations_match_nni() -> None:
    config_list = [dict(targets_of("cnn"), quant_dtype="int8", quant_scheme="affine",
                        target_settings={"_input_": {"quant_dtype": "int8", "granularity": "per_channel"},
                                         "_output_": {"quant_dtype": "uint8", "granularity": "per_channel"}})]
    data = train_data("cnn", 5)
    model = make("cnn")
    reference = copy.deepcopy(model)
    quantizer = our_qat(model, config_list, data, 1)
    nni_quantizer, theirs = nni_qat(reference, config_list, data, 1)
    assert assert_same_calibration(quantizer.get_calibration_config(), theirs) == 4 * 4 * 3
    nni_quantizer.unwrap_model()
    for (name, ours), (_, nni_value) in zip(model.state_dict().items(), reference.state_dict().items()):
        assert torch.equal(ours, nni_value), name


def test_qat_gradient_mask() -> None:
    # One training forward: the scale comes from this batch, so values beyond it in a second batch clamp.
    model = make("mlp")
    quantizer = QATQuantizer(model, [{"op_names": ["fc2"], "target_names": ["_output_"], "quant_dtype": "int8"}])
    model.train()
    x = batches("mlp")[0]
    model(x)
    config = quantizer.get_calibration_config()["fc2"]["_output_0"]
    scale, zp = config["scale"], config["zero_point"]
    hook_grad = {}

    def keep(grad):
        hook_grad["g"] = grad

    def capture(module, args, output):  # runs before the quantizer's hook: sees the raw output
        output.register_hook(keep)

    h = model.fc2.register_forward_hook(capture, prepend=True)
    model.eval()  # no observer update: the scale stays
    y = model(x * 3)
    h.remove()
    upstream = torch.randn(y.shape, generator=torch.Generator().manual_seed(9))
    y.backward(upstream)
    # the gradient reaching fc2's raw output: zero exactly where zp + v / scale left [qmin, qmax]
    with torch.no_grad():
        quantizer.unwrap_model()
        v = model(x * 3)
    t = zp + v / scale
    inside = (t >= -127) & (t <= 127)
    assert (~inside).any() and inside.any()
    assert torch.equal(hook_grad["g"], torch.where(inside, upstream, torch.zeros_like(upstream)))


def test_qat_start_step_bypasses_and_observes() -> None:
    config_list = [dict(targets_of("mlp"), quant_dtype="int8")]
    model = make("mlp")
    plain = copy.deepcopy(model)
    quantizer = QATQuantizer(model, config_list, quant_start_step=2)
    model.train()
    x = batches("mlp")[0]
    with torch.no_grad():
        assert torch.equal(model(x), plain(x))  # before the start step: unchanged
    entry = quantizer.get_calibration_config()["fc1"]["weight"]
    assert entry["scale"] is None and entry["zero_point"] is None  # no scale yet, as NNI
    assert torch.equal(entry["tracked_min"], plain.fc1.weight.detach().min())  # but observed
    quantizer.step()
    quantizer.step()
    with torch.no_grad():
        assert not torch.equal(model(x), plain(x))
    assert quantizer.get_calibration_config()["fc1"]["weight"]["scale"] is not None


def test_legacy_quant_start_step_per_config() -> None:
    legacy = [{"quant_types": ["input", "weight", "output"], "quant_bits": 8, "op_types": ["Linear"],
               "quant_start_step": 2}]
    current = [{"op_types": ["Linear"], "target_names": ["_input_", "weight", "_output_"], "quant_dtype": "int8"}]
    report = swiftcompress.explain(make("mlp"), legacy, mode="quantization")
    assert report.configs[0]["quant_start_step"] == 2
    assert "[quant_start_step 2]" in str(report)
    data = train_data("mlp", 4)
    a, b = make("mlp"), make("mlp")
    qa = our_qat(a, legacy, data)                      # the config's quant_start_step
    qb = our_qat(b, current, data, quant_start_step=2)  # the constructor's
    assert_same_calibration(qa.get_calibration_config(), qb.get_calibration_config())
    for va, vb in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(va, vb)
    c = make("mlp")
    qc = our_qat(c, current, data, quant_start_step=0)
    assert not all(torch.equal(va, vc) for va, vc in zip(a.state_dict().values(), c.state_dict().values()))
    del qc


# -- errors, wrapping ----------------------------------------------------------------------------

@pytest.mark.parametrize("setting,key,value", [
    ({"quant_dtype": "int17"}, "quant_dtype", "int17"),
    ({"quant_dtype": "float8"}, "quant_dtype", "float8"),
    ({"quant_scheme": "asymmetric"}, "quant_scheme", "asymmetric"),
    ({"granularity": "per_row"}, "granularity", "per_row"),
    ({"apply_method": "lsq_clamp_round"}, "apply_method", "lsq_clamp_round"),
])
def test_bad_values_name_the_key(setting: Dict[str, Any], key: str, value: str) -> None:
    config_list = [dict({"op_types": ["Linear"], "target_names": ["weight"]}, **setting)]
    with pytest.raises(ConfigError) as info:
        PtqQuantizer(make("mlp"), config_list)
    assert str(info.value).startswith(f"config_list[0].{key}: expected ")
    assert str(info.value).endswith(f"got '{value}'")


def test_rejected_by_the_data_name_the_target() -> None:
    model = make("mlp")
    quantizer = PtqQuantizer(model, [{"op_names": ["fc1"], "target_names": ["weight"], "granularity": [3, -1]}])
    with pytest.raises(QuantizationError) as info:
        quantizer.compress()
    assert str(info.value) == "fc1.weight: granularity: block size 3 does not divide dim 0 of shape [16, 8]"
    quantizer.unwrap_model()

    quantizer = PtqQuantizer(model, [{"op_names": ["fc1"], "target_names": ["_input_"]}])
    x = batches("mlp")[0].clone()
    x[1, 2] = float("nan")
    quantizer.calibrate([x])
    with pytest.raises(QuantizationError) as info:
        quantizer.compress()
    assert str(info.value).startswith("fc1._input_0: tracked range of block 0 is [nan, nan]")
    with pytest.raises(DtypeError) as info:
        quantizer.calibrate([torch.ones(2, 8, dtype=torch.int64)])
    assert str(info.value).startswith("fc1._input_0: dtype torch.int64 is not supported")
    quantizer.unwrap_model()


def test_bad_key_names_it() -> None:
    with pytest.raises(ConfigError) as info:
        PtqQuantizer(make("mlp"), [{"op_types": ["Linear"], "target_settings": {"weight": {"quant_dtpye": "int8"}}}])
    assert str(info.value).startswith("config_list[0].target_settings.weight.quant_dtpye: expected a quantization key")
    assert "did you mean 'quant_dtype'?" in str(info.value)
    with pytest.raises(InvalidArgumentError, match="quant_start_step: expected an int, got 1.5"):
        QATQuantizer(make("mlp"), [{"op_types": ["Linear"]}], quant_start_step=1.5)
    with pytest.raises(InvalidArgumentError, match="QATQuantizer: evaluator: expected an Evaluator"):
        QATQuantizer(make("mlp"), [{"op_types": ["Linear"]}], object())
    with pytest.raises(InvalidArgumentError, match="PtqQuantizer: evaluator: expected an Evaluator"):
        PtqQuantizer(make("mlp"), [{"op_types": ["Linear"]}], object())
    with pytest.raises(InvalidArgumentError, match="max_steps and max_epochs must be None"):
        PtqQuantizer(make("mlp"), [{"op_types": ["Linear"], "target_names": ["weight"]}]).compress(max_steps=3)


def test_fuse_names_wraps_and_unwraps() -> None:
    class ConvBN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn = nn.BatchNorm2d(4)

        def forward(self, x):
            return self.bn(self.conv(x))

    config_list = [{"op_names": ["conv"], "target_names": ["weight"], "quant_dtype": "int8",
                    "fuse_names": [["conv", "bn"]]}]
    model = ConvBN()
    # the quantizers fold (tests/test_nni_quantizers.py compares them with NNI)
    quantizer = QATQuantizer(model, config_list)
    assert "forward" in model.conv.__dict__ and "forward" in model.bn.__dict__
    quantizer.unwrap_model()
    assert "forward" not in model.conv.__dict__ and "forward" not in model.bn.__dict__


def test_unwrap_restores_forward() -> None:
    model = make("cnn")
    plain = copy.deepcopy(model)
    quantizer = PtqQuantizer(model, [dict(targets_of("cnn"), quant_dtype="int8")])
    assert "forward" in model.conv1.__dict__ and model.conv1._forward_pre_hooks and model.conv1._forward_hooks
    data = batches("cnn")
    quantizer.calibrate(data)
    quantizer.compress()
    assert list(model.state_dict()) == list(plain.state_dict())  # parameters stay where they are
    assert [p is q for p, q in zip(model.parameters(), [model.conv1.weight, model.conv1.bias])] == [True, True]
    with torch.no_grad():
        quantized = model(data[0])
        assert not torch.equal(quantized, plain(data[0]))
        quantizer.unwrap_model()
        assert torch.equal(model(data[0]), plain(data[0]))
        quantizer.wrap_model()  # the observers are kept: the same quantized forward again
        assert torch.equal(model(data[0]), quantized)
        quantizer.unwrap_model()
    for module in (model.conv1, model.conv2, model.fc):
        assert "forward" not in module.__dict__
        assert not module._forward_pre_hooks and not module._forward_hooks
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), plain.state_dict().values()))
    # a second quantizer may wrap the model now, not while the first one holds it
    q2 = PtqQuantizer(model, [dict(targets_of("cnn"), quant_dtype="int8")])
    with pytest.raises(StateError):
        PtqQuantizer(model, [dict(targets_of("cnn"), quant_dtype="int8")])
    q2.unwrap_model()


def test_copies_of_a_wrapped_model_stay_quantized() -> None:
    # (was test_copies_of_a_wrapped_model_are_plain: issue 12 asks copies to stay quantized)
    import io

    model = make("cnn")
    plain = copy.deepcopy(model)
    quantizer = PtqQuantizer(model, [dict(targets_of("cnn"), quant_dtype="int8")])
    data = batches("cnn")
    quantizer.calibrate(data)
    quantizer.compress()
    clone = copy.deepcopy(model)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    with torch.no_grad():
        quantized = model(data[0])
        assert not torch.equal(quantized, plain(data[0]))  # the original stays quantized
        assert torch.equal(clone(data[0]), quantized)     # and so do its copies
        assert torch.equal(loaded(data[0]), quantized)


def test_compress_names_unreached_target() -> None:
    model = make("mlp")
    quantizer = PtqQuantizer(model, [{"op_names": ["fc2"], "target_names": ["_input_"], "quant_dtype": "int8"}])
    with pytest.raises(StateError) as info:
        quantizer.compress()
    assert "fc2._input_0" in str(info.value)


# -- tensors: strides and views are read as they are ------------------------------------------

class Linear(nn.Linear):
    """A Linear (same type name, so the Linear template applies) that keeps the weight its forward
    saw: the quantizer's fake-quantized weight."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.__dict__["seen"] = self.weight  # a plain attribute, not a registered parameter
        return super().forward(x)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = Linear(4 * 6 * 6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).flatten(1))


def test_non_contiguous_and_negated_views() -> None:
    config_list = [{"op_types": ["Conv2d", "Linear"], "target_names": ["_input_", "weight"],
                    "quant_dtype": "uint8", "quant_scheme": "affine"}]
    data = batches("cnn")
    torch.manual_seed(0)
    a = Net()
    b = copy.deepcopy(a)
    with torch.no_grad():  # b: the same weights held transposed / channels_last
        b.fc.weight = nn.Parameter(a.fc.weight.detach().t().contiguous().t())
        b.conv.weight = nn.Parameter(a.conv.weight.detach().to(memory_format=torch.channels_last))
    assert not b.fc.weight.is_contiguous() and not b.conv.weight.is_contiguous()
    qa, qb = PtqQuantizer(a, config_list), PtqQuantizer(b, config_list)
    qa.calibrate([-x for x in data])
    qb.calibrate([torch._neg_view(x.to(memory_format=torch.channels_last)) for x in data])
    ca, cb = qa.compress()[1], qb.compress()[1]
    # the conv's input range and both weights' parameters (the fc input comes from convolutions
    # of different memory formats, whose float sums may round differently)
    for module, target in (("conv", "_input_0"), ("conv", "weight"), ("fc", "weight")):
        for key in ("scale", "zero_point", "tracked_min", "tracked_max"):
            assert torch.equal(ca[module][target][key], cb[module][target][key]), (module, target, key)
    with torch.no_grad():
        a(data[0])
        b(data[0])
    assert torch.equal(a.fc.seen, b.fc.seen)  # the same fake-quantized values ...
    assert b.fc.seen.stride() == b.fc.weight.stride()  # ... written in the parameter's own layout
    assert not torch.equal(a.fc.seen, a.fc.weight)


# -- the extension's quantization methods (_quant.c) ----------------------------------------------

def test_core_session_methods() -> None:
    from swiftcompress import _core
    from swiftcompress._session import open_session
    from swiftcompress._tensors import spec
    from swiftcompress.errors import UnknownNameError

    config = [{"op_names": ["fc1"], "target_names": ["weight"], "quant_dtype": "uint4", "quant_scheme": "affine"}]
    session, _, _ = open_session(make("mlp"), config, "quantization")
    assert session.quant_range("fc1", "weight") == (4, False, 0, 15)
    with pytest.raises(StateError, match="observed no batch"):
        session.scale_shape("fc1", "weight")
    with pytest.raises(UnknownNameError):
        session.quant_range("fc9", "weight")
    with pytest.raises(TypeError, match="spec tuple"):
        session.observe("fc1", "weight", "not a spec", _core.SC_OBSERVER_MINMAX)
    w = torch.tensor([[-1.0, 0.5], [2.0, 3.0]])
    with pytest.raises(InvalidArgumentError, match="observer"):
        session.observe("fc1", "weight", spec(w), 5)
    session.observe("fc1", "weight", spec(w), _core.SC_OBSERVER_MINMAX)
    assert session.scale_shape("fc1", "weight") == ()
    scale, zero_point = torch.empty(()), torch.empty((), dtype=torch.float64)
    lo, hi = torch.empty(()), torch.empty(())
    session.quant_params("fc1", "weight", spec(scale), spec(zero_point), spec(lo), spec(hi))
    # affine uint4 on [-1, 3]: scale = 4 / 15, zero point = 0 - round(-3.75) = 4
    assert torch.equal(scale, torch.tensor(4.0) / 15) and zero_point.item() == 4.0
    assert lo.item() == -1.0 and hi.item() == 3.0
    x = torch.tensor([-2.0, 0.0, 1.0, 5.0])
    out, mask = torch.empty(4), torch.empty(4)
    # t = 4 + x / scale = -3.5 (clamped), 4, 7.75, 22.75 (clamped): q = 0, 4, 8, 15
    session.fake_quantize("fc1", "weight", spec(x), spec(out), spec(mask), _core.SC_APPLY_QAT_CLAMP_ROUND)
    assert torch.equal(out, (torch.tensor([0.0, 4.0, 8.0, 15.0]) - 4) * scale)
    assert torch.equal(mask, torch.tensor([0.0, 1.0, 1.0, 0.0]))
    session.fake_quantize("fc1", "weight", spec(x), spec(out), spec(mask))  # the config's clamp_round
    assert torch.equal(mask, torch.ones(4))
    session.fake_quantize("fc1", "weight", spec(x), spec(out), None, _core.SC_APPLY_BYPASS)
    assert torch.equal(out, x)
    with pytest.raises(InvalidArgumentError, match="apply_method"):
        session.fake_quantize("fc1", "weight", spec(x), spec(out), None, 7)
    session.close()
    with pytest.raises(ValueError, match="closed"):
        session.quant_range("fc1", "weight")
