"""swiftcompress.distillation.DynamicLayerwiseDistiller and the Session distillation methods of _core.

References, computed in the same run: torch's formulation (``F.mse_loss``; ``F.kl_div(log_softmax(s/2),
softmax(t/2), 'batchmean') * 4``) evaluated in float64 on the same values, autograd's gradient of it,
and NNI 3.0's ``DynamicLayerwiseDistiller`` on deep copies of the same models and batch.
"""
from __future__ import annotations

import copy
import gc
import json
import sys
import weakref
from typing import Any, Dict, List

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from swiftcompress import _core
from swiftcompress.distillation import DynamicLayerwiseDistiller
from swiftcompress.errors import (ConfigError, DistillationError, DtypeError, InvalidArgumentError, ShapeError,
                                  StateError, TensorError, UnknownNameError)


# -- models -----------------------------------------------------------------------------------

class Student(nn.Module):
    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, hidden)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(hidden, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu(self.fc1(x)))


class Teacher(nn.Module):
    """fc1 as the student's, and three heads on the same hidden state (fc2, head, aux)."""

    def __init__(self, use_aux: bool = True) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(16, 4)
        self.head = nn.Linear(16, 4)
        self.aux = nn.Linear(16, 4)
        self.use_aux = use_aux

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu(self.fc1(x))
        out = self.fc2(h) + self.head(h)
        if self.use_aux:
            out = out + self.aux(h)
        return out


class Emit(nn.Module):
    """Returns its parameter (optionally through a transposing view): the output's values are set by
    the test, and the parameter's gradient is d loss / d output."""

    def __init__(self, value: torch.Tensor, transpose: bool = False) -> None:
        super().__init__()
        self.out = nn.Parameter(value.clone())
        self.transpose = transpose

    def forward(self) -> torch.Tensor:
        return self.out.t() if self.transpose else self.out.view_as(self.out)


class Pair(nn.Module):
    """A model with one module `out` (an Emit), so that configs can name it."""

    def __init__(self, value: torch.Tensor, transpose: bool = False) -> None:
        super().__init__()
        self.out = Emit(value, transpose)

    def forward(self, *_: Any) -> torch.Tensor:
        return self.out()


def predict(batch: torch.Tensor, teacher: nn.Module) -> torch.Tensor:
    return teacher(batch)


def models(seed: int = 0):
    torch.manual_seed(seed)
    return Student(), Teacher()


def batch(seed: int = 1, shape=(4, 3, 8)) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def step(distiller: DynamicLayerwiseDistiller) -> torch.Tensor:
    """One step on a Pair student: its forward (the hooks record), then loss() with the original loss 0
    (the teacher_predict of these tests ignores the batch)."""
    distiller.bound_model()
    return distiller.loss(torch.zeros(()), None)


def torch_loss(method: str, s: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    if method == "mse":
        return F.mse_loss(s, t)
    return F.kl_div(F.log_softmax(s / 2, dim=-1), F.softmax(t / 2, dim=-1), reduction="batchmean") * 4


def nni_run(student: nn.Module, teacher: nn.Module, config_list: List[Dict[str, Any]], x: torch.Tensor,
            origin_loss_lambda: float = 1.0):
    """NNI 3.0's distillation loss on deep copies, and the gradients of the student's parameters."""
    from nni.compression.distillation import DynamicLayerwiseDistiller as NNIDistiller

    s, t = copy.deepcopy(student), copy.deepcopy(teacher)
    distiller = NNIDistiller(s, copy.deepcopy(config_list), None, t, predict, origin_loss_lambda)
    s(x)
    with torch.no_grad():
        predict(x, t)
    loss = distiller.compute_distill_loss()
    grads = {}
    if isinstance(loss, torch.Tensor):
        loss.backward()
        distiller.unwrap_model()
        distiller.unwrap_teacher_model()
        grads = {n: p.grad.clone() for n, p in s.named_parameters() if p.grad is not None}
    return float(loss), grads


def our_run(student: nn.Module, teacher: nn.Module, config_list, x: torch.Tensor):
    distiller = DynamicLayerwiseDistiller(student, config_list, teacher, predict)
    student.zero_grad()
    student(x)
    with torch.no_grad():
        predict(x, teacher)
    loss = distiller.compute_distill_loss()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in student.named_parameters() if p.grad is not None}
    return distiller, loss, grads


def assert_close(actual: torch.Tensor, expected: torch.Tensor, rtol: float) -> None:
    """Elementwise |a - e| <= rtol * max|e| (relative to the tensor's scale: single elements of a
    gradient may be ~0)."""
    scale = float(expected.abs().max())
    diff = float((actual.double() - expected.double()).abs().max())
    assert diff <= rtol * max(scale, 1e-30), f"max diff {diff} > {rtol} * {scale}"


# -- parity with NNI 3.0 ----------------------------------------------------------------------

NNI_CONFIGS = {
    "auto-mse-lambda": [{"op_names": ["fc1", "fc2"], "lambda": 0.5}],
    "kl-three-links": [{"op_names": ["fc2"], "apply_method": "kl", "link": ["head", "aux", "fc2"]}],
    "mixed-negative-lambda": [
        {"op_names": ["fc1"], "lambda": 0.7, "link": "fc1"},
        {"op_names": ["fc2"], "apply_method": "kl", "lambda": -0.3, "link": ["head", "aux"]},
    ],
    "op-types-auto": [{"op_types": ["Linear"], "lambda": 2.0}],
}


@pytest.mark.parametrize("name", list(NNI_CONFIGS))
def test_loss_and_gradients_equal_nni(name):
    config_list = NNI_CONFIGS[name]
    student, teacher = models()
    x = batch()
    expected_loss, expected_grads = nni_run(student, teacher, config_list, x)
    distiller, loss, grads = our_run(student, teacher, config_list, x)
    assert loss.dtype == torch.float32 and loss.dim() == 0
    assert abs(float(loss) - expected_loss) <= 1e-5 * abs(expected_loss)
    assert set(grads) == set(expected_grads) and grads
    for n in grads:
        assert_close(grads[n], expected_grads[n], 1e-5)


def test_teacher_not_recorded_is_skipped_as_in_nni():
    # the teacher's `aux` does not run: link 'aux' is skipped, 'head' counts (NNI skips a link whose
    # hidden state is None); a student module that does not run adds nothing.
    torch.manual_seed(3)
    student, teacher = Student(), Teacher(use_aux=False)
    config_list = [{"op_names": ["fc2"], "apply_method": "kl", "link": ["aux", "head"]}]
    x = batch()
    expected_loss, expected_grads = nni_run(student, teacher, config_list, x)
    distiller, loss, grads = our_run(student, teacher, config_list, x)
    assert expected_loss > 0
    assert abs(float(loss) - expected_loss) <= 1e-5 * expected_loss
    for n in expected_grads:
        assert_close(grads[n], expected_grads[n], 1e-5)

    # only the aux link: nothing recorded for it, the loss is 0 (NNI: the int 0) with no graph, so no
    # gradient path reaches fc2; next to an fc1 target that counts, fc2's parameters get no gradient
    # (None, as NNI's: a zero gradient would still move them under momentum or weight decay)
    distiller.unwrap_model()
    distiller.unwrap_teacher_model()
    config_list = [{"op_names": ["fc2"], "link": "aux"}]
    expected_loss, _ = nni_run(student, teacher, config_list, x)
    d = DynamicLayerwiseDistiller(student, config_list, teacher, predict)
    student(x)
    with torch.no_grad():
        predict(x, teacher)
    loss = d.compute_distill_loss()
    assert expected_loss == 0 and float(loss) == 0.0 and not loss.requires_grad
    assert d.last_losses == {"fc2": {"_output_0": 0.0}}
    d.unwrap_model()
    d.unwrap_teacher_model()
    config_list = [{"op_names": ["fc1"]}, {"op_names": ["fc2"], "link": "aux"}]
    expected_loss, expected_grads = nni_run(student, teacher, config_list, x)
    student.zero_grad(set_to_none=True)
    distiller, loss, grads = our_run(student, teacher, config_list, x)
    assert set(expected_grads) == set(grads) == {"fc1.weight", "fc1.bias"}
    assert student.fc2.weight.grad is None and student.fc2.bias.grad is None
    assert abs(float(loss) - expected_loss) <= 1e-5 * expected_loss
    for n in expected_grads:
        assert_close(grads[n], expected_grads[n], 1e-5)
    assert distiller.last_losses["fc2"] == {"_output_0": 0.0} and distiller.last_losses["fc1"]["_output_0"] > 0

    # the student's forward is not run at all: 0, and last_losses says "not recorded"
    d = DynamicLayerwiseDistiller(Student(), [{"op_names": ["fc2"]}], Teacher(), predict)
    predict(x, d.teacher_model)
    zero = d.compute_distill_loss()
    assert zero.dim() == 0 and float(zero) == 0.0 and not zero.requires_grad
    assert d.last_losses == {"fc2": {"_output_0": None}}


def test_loss_method_equals_nni_formula_with_origin_lambda():
    student, teacher = models(5)
    config_list = [{"op_names": ["fc1"], "lambda": 0.25}, {"op_names": ["fc2"], "apply_method": "kl"}]
    x = batch(6)
    labels = torch.tensor([[0, 1, 2], [3, 0, 1], [2, 3, 0], [1, 2, 3]])

    from nni.compression.distillation import DynamicLayerwiseDistiller as NNIDistiller
    s2, t2 = copy.deepcopy(student), copy.deepcopy(teacher)
    nni = NNIDistiller(s2, copy.deepcopy(config_list), None, t2, predict, 0.6)
    original2 = F.cross_entropy(s2(x).reshape(-1, 4), labels.reshape(-1))
    with torch.no_grad():  # NNI's loss patch, as its evaluator runs it
        predict(x, t2)
    expected = 0.6 * original2 + nni.compute_distill_loss()
    expected.backward()

    ours = DynamicLayerwiseDistiller(student, config_list, teacher, predict, origin_loss_lambda=0.6)
    original = F.cross_entropy(student(x).reshape(-1, 4), labels.reshape(-1))
    total = ours.loss(original, x)
    total.backward()
    assert abs(float(total) - float(expected)) <= 1e-5 * float(expected)
    wrapped = dict(s2.named_parameters())
    for n, p in student.named_parameters():
        other = wrapped.get(n) if n in wrapped else wrapped[n.replace(".", "._nni_wrapper.", 1)]
        assert_close(p.grad, other.grad, 1e-5)


# -- formulas, shapes, dtypes, layouts --------------------------------------------------------

SHAPES = [(7,), (4, 5), (2, 3, 6), (2, 3, 2, 5)]
DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def _values(shape, seed, scale=3.0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale


@pytest.mark.parametrize("method", ["mse", "kl"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d).replace("torch.", ""))
def test_loss_and_gradient_equal_torch_formula(method, shape, dtype):
    s = _values(shape, 1).to(dtype)
    t = _values(shape, 2).to(dtype)
    student, teacher = Pair(s), Pair(t)
    lam = 0.75
    d = DynamicLayerwiseDistiller(student, [{"op_names": ["out"], "apply_method": method, "lambda": lam}],
                                  teacher, lambda b, m: m())
    loss = step(d)  # origin loss 0: the distillation loss alone
    loss.backward()

    # the reference: torch's formulation in float64 on the same (rounded) values, and autograd
    s64 = s.double().requires_grad_()
    expected = lam * torch_loss(method, s64, t.double())
    expected.backward()
    core_loss = d.last_losses["out"]["_output_0"]
    assert abs(core_loss - float(expected)) <= 1e-9 * abs(float(expected))
    assert loss.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert abs(float(loss) - float(expected)) <= 1e-5 * abs(float(expected))
    grad = student.out.out.grad
    assert grad.dtype == dtype and grad.shape == s.shape
    if dtype in (torch.float32, torch.float64):
        assert_close(grad, s64.grad, 1e-5)
        # and torch's own computation in the student's dtype
        own = lam * torch_loss(method, s, t)
        assert abs(float(own) - core_loss) <= 1e-5 * abs(core_loss)
    else:
        # one rounding to the 16-bit dtype (through float32): within one unit in the last place
        eps = torch.finfo(dtype).eps
        diff = (grad.double() - s64.grad.to(dtype).double()).abs()
        assert bool((diff <= eps * s64.grad.abs() + 1e-30).all())


@pytest.mark.parametrize("method", ["mse", "kl"])
def test_mixed_dtypes_and_strided_tensors(method):
    # a transposed float32 student output, a float16 teacher read through a slice with gaps
    s = _values((5, 6), 3).float()
    t_full = _values((6, 10), 4).half()
    t = t_full[:, ::2]  # shape (6, 5), strides (10, 2)
    student = Pair(s, transpose=True)  # output s.t(): shape (6, 5), strides (1, 6)
    teacher = Pair(t_full)
    teacher.out.forward = lambda: teacher.out.out[:, ::2]  # the strided view, as the teacher's output
    d = DynamicLayerwiseDistiller(student, [{"op_names": ["out"], "apply_method": method}], teacher,
                                  lambda b, m: m())
    out = student()
    assert not out.is_contiguous()
    predict_out = teacher()
    assert predict_out.stride() == (10, 2)
    loss = d.compute_distill_loss()
    loss.backward()
    s64 = s.double().t().requires_grad_()
    expected = torch_loss(method, s64, t.double())
    expected.backward()
    assert abs(float(loss) - float(expected)) <= 1e-5 * abs(float(expected))
    assert_close(student.out.out.grad, s64.grad.t(), 1e-5)


def test_large_logits_kl_is_finite_and_equals_torch():
    s = torch.tensor([[1e4, -1e4, 0.0, 5e3], [3e4, 3e4, -2e4, 0.0]])
    t = torch.tensor([[9e3, -1e4, 1.0, 5e3], [-3e4, 3e4, 2e4, 1.0]])
    student, teacher = Pair(s), Pair(t)
    d = DynamicLayerwiseDistiller(student, [{"op_names": ["out"], "apply_method": "kl"}], teacher, lambda b, m: m())
    loss = step(d)
    loss.backward()
    s64 = s.double().requires_grad_()
    expected = torch_loss("kl", s64, t.double())
    expected.backward()
    assert torch.isfinite(loss) and float(expected) > 0
    assert abs(float(loss) - float(expected)) <= 1e-5 * float(expected)
    assert_close(student.out.out.grad, s64.grad, 1e-5)


def test_negative_view_teacher_is_resolved():
    s, t = _values((3, 4), 7).float(), _values((3, 4), 8).float()
    student, teacher = Pair(s), Pair(t)
    teacher.out.forward = lambda: torch._neg_view(teacher.out.out.detach())
    d = DynamicLayerwiseDistiller(student, [{"op_names": ["out"]}], teacher, lambda b, m: m())
    loss = step(d)
    assert abs(float(loss) - float(F.mse_loss(s.double(), -t.double()))) <= 1e-5 * float(loss)


# -- links and lambda -------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["mse", "kl"])
def test_link_list_takes_the_smallest_loss(method):
    s = _values((4, 6), 10)
    # the second link is the closest teacher
    teachers = {"far": _values((4, 6), 11) * 3, "near": s + 0.1 * _values((4, 6), 12), "mid": _values((4, 6), 13)}

    class Many(nn.Module):
        def __init__(self):
            super().__init__()
            for k, v in teachers.items():
                setattr(self, k, Emit(v.float()))

        def forward(self):
            return [getattr(self, k)() for k in teachers]

    student = Pair(s.float())
    d = DynamicLayerwiseDistiller(student, [{"op_names": ["out"], "apply_method": method, "link": list(teachers)}],
                                  Many(), lambda b, m: m())
    assert d.target_links() == {"out": {"_output_0": ["far", "near", "mid"]}}
    loss = step(d)
    loss.backward()
    per_link = {k: float(torch_loss(method, s.float().double(), v.float().double())) for k, v in teachers.items()}
    assert min(per_link, key=per_link.get) == "near"
    assert abs(float(loss) - per_link["near"]) <= 1e-5 * per_link["near"]
    s64 = s.float().double().requires_grad_()
    torch_loss(method, s64, teachers["near"].float().double()).backward()
    assert_close(student.out.out.grad, s64.grad, 1e-5)


def test_negative_lambda_chooses_the_largest_raw_loss_and_scales():
    s = _values((3, 5), 20).float()
    a, b = _values((3, 5), 21).float(), (s + 0.01)

    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = Emit(a), Emit(b)

        def forward(self):
            return self.a(), self.b()

    losses = {}
    grads = {}
    for lam in (1.0, 0.25, -0.5):
        student = Pair(s)
        d = DynamicLayerwiseDistiller(student, [{"op_names": ["out"], "lambda": lam, "link": ["a", "b"]}], Two(),
                                      lambda _, m: m())
        loss = step(d)
        loss.backward()
        losses[lam] = float(loss)
        grads[lam] = student.out.out.grad.clone()
    raw_a, raw_b = float(F.mse_loss(s.double(), a.double())), float(F.mse_loss(s.double(), b.double()))
    assert raw_b < raw_a
    assert abs(losses[1.0] - raw_b) <= 1e-5 * raw_b
    assert abs(losses[0.25] - 0.25 * raw_b) <= 1e-5 * 0.25 * raw_b
    assert abs(losses[-0.5] - (-0.5 * raw_a)) <= 1e-5 * 0.5 * raw_a  # min of (-0.5 a, -0.5 b) = -0.5 a
    assert_close(grads[0.25], 0.25 * grads[1.0], 1e-6)
    expected = -0.5 * 2 * (s.double() - a.double()) / s.numel()
    assert_close(grads[-0.5], expected, 1e-5)


def test_int_lambda_is_accepted():
    # NNI 3.0's schema accepts an int lambda but its setter asserts a float (AssertionError); here 2 == 2.0
    s, t = _values((2, 3), 30).float(), _values((2, 3), 31).float()
    values = []
    for lam in (2, 2.0):
        d = DynamicLayerwiseDistiller(Pair(s), [{"op_names": ["out"], "lambda": lam}], Pair(t), lambda b, m: m())
        values.append(float(step(d)))
    assert values[0] == values[1] and abs(values[0] - 2 * float(F.mse_loss(s.double(), t.double()))) <= 1e-5 * values[0]


# -- inputs and tuple / dict outputs ----------------------------------------------------------

class Block(nn.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.fc = nn.Linear(6, 6)

    def forward(self, x: torch.Tensor, *, scale: float = 1.0):
        y = self.fc(x) * scale
        return {"y": y, "z": y.tanh()}


class Outer(nn.Module):
    def __init__(self, seed: int) -> None:
        super().__init__()
        self.block = Block(seed)
        self.pre = nn.Linear(6, 6)

    def forward(self, x):
        return self.block(self.pre(x))["z"]


def test_input_and_dict_output_targets():
    torch.manual_seed(40)
    student, teacher = Outer(41), Outer(42)
    config_list = [{"op_names": ["block"], "target_names": ["_input_x", "_output_z"],
                    "target_settings": {"_input_x": {"lambda": 0.5}, "_output_z": {"apply_method": "kl"}}}]
    x = _values((5, 6), 43).float()
    d = DynamicLayerwiseDistiller(student, config_list, teacher, predict)
    student(x)
    with torch.no_grad():
        teacher(x)
    loss = d.compute_distill_loss()
    s_in, t_in = student.pre(x), teacher.pre(x)
    s_z, t_z = student.block(s_in)["z"], teacher.block(t_in)["z"]
    expected = 0.5 * F.mse_loss(s_in, t_in) + torch_loss("kl", s_z, t_z)
    assert abs(float(loss) - float(expected)) <= 1e-5 * float(expected)
    assert d.last_losses["block"].keys() == {"_input_x", "_output_z"}
    # the gradient reaches the student's parameters through both recorded tensors
    loss.backward()
    g_ours = {n: p.grad.clone() for n, p in student.named_parameters()}
    student.zero_grad()
    expected.backward()
    for n, p in student.named_parameters():
        assert_close(g_ours[n], p.grad, 1e-5)


# -- training ---------------------------------------------------------------------------------

def test_training_run_distillation_loss_falls_and_tracks_nni():
    torch.manual_seed(50)
    teacher = Student(hidden=32)
    student = Student(hidden=8)
    config_list = [{"op_names": ["fc2"], "apply_method": "kl"}]
    data = torch.randn(40, 16, 8, generator=torch.Generator().manual_seed(51))

    from nni.compression.distillation import DynamicLayerwiseDistiller as NNIDistiller
    nni_student, nni_teacher = copy.deepcopy(student), copy.deepcopy(teacher)
    nni = NNIDistiller(nni_student, copy.deepcopy(config_list), None, nni_teacher, predict)
    ours = DynamicLayerwiseDistiller(student, config_list, teacher, predict)
    opt = torch.optim.SGD(student.parameters(), lr=0.5)
    nni_opt = torch.optim.SGD(nni_student.parameters(), lr=0.5)
    history, nni_history = [], []
    for step in range(40):
        x = data[step]
        student(x)
        loss = ours.loss(torch.zeros(()), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(float(loss))

        nni_student(x)
        with torch.no_grad():
            predict(x, nni_teacher)
        nni_loss = nni.compute_distill_loss()
        nni_opt.zero_grad()
        nni_loss.backward()
        nni_opt.step()
        nni_history.append(float(nni_loss))
    assert history[-1] < 0.5 * history[0], history
    for a, b in zip(history, nni_history):
        assert abs(a - b) <= 1e-4 * abs(b)


# -- errors -----------------------------------------------------------------------------------

def _error(config_list, teacher=None):
    with pytest.raises(Exception) as info:
        DynamicLayerwiseDistiller(Student(), config_list, teacher or Teacher(), predict)
    return info


def test_link_to_a_module_the_teacher_lacks():
    info = _error([{"op_names": ["fc2"], "link": ["head", "module.fc2"]}])
    assert info.type is DistillationError
    assert str(info.value) == "fc2._output_0: link: 'module.fc2' names no module of the teacher; closest: 'fc2'"
    assert info.value.status_name == "SC_ERROR_DISTILLATION"
    assert isinstance(info.value, ValueError)


def test_unknown_apply_method_and_bad_lambda():
    info = _error([{"op_names": ["fc2"], "apply_method": "cosine"}])
    assert info.type is ConfigError
    assert str(info.value) == "config_list[0].apply_method: expected one of 'mse', 'kl', got 'cosine'"
    info = _error([{"op_names": ["fc1"]}, {"op_names": ["fc2"], "lambda": "x"}])
    assert info.type is ConfigError
    assert str(info.value) == "config_list[1].lambda: expected a finite number, got 'x'"
    info = _error([{"op_names": ["fc2"], "lambda": float("nan")}])
    assert info.type is ConfigError
    assert str(info.value) == "config_list[0].lambda: expected a finite number, got nan"
    info = _error([{"op_names": ["fc2"], "lambda": True}])  # a bool is not a number here (NNI asserts a float)
    assert info.type is ConfigError
    assert str(info.value) == "config_list[0].lambda: expected a finite number, got True"
    info = _error([{"op_names": ["fc2"], "link": []}])
    assert info.type is ConfigError
    assert str(info.value) == ("config_list[0].link: expected a module name or a non-empty list of module names, "
                               "got []")


def test_constructor_argument_errors():
    student, teacher = models()
    with pytest.raises(TypeError, match="evaluator: expected a swiftcompress evaluator"):
        DynamicLayerwiseDistiller(student, [{"op_names": ["fc2"]}], "evaluator", teacher, predict)
    # NNI's order without an evaluator is the evaluator-free distiller
    d = DynamicLayerwiseDistiller(student, [{"op_names": ["fc2"]}], None, teacher, predict)
    assert d.evaluator is None and d.teacher_model is teacher and d.teacher_predict is predict
    d.unwrap_model()
    d.unwrap_teacher_model()
    with pytest.raises(InvalidArgumentError, match="different objects"):
        DynamicLayerwiseDistiller(student, [{"op_names": ["fc2"]}], student, predict)
    with pytest.raises(InvalidArgumentError, match="origin_loss_lambda: expected a number, got 'a'"):
        DynamicLayerwiseDistiller(student, [{"op_names": ["fc2"]}], teacher, predict, origin_loss_lambda="a")
    with pytest.raises(TypeError, match="teacher_predict"):
        DynamicLayerwiseDistiller(student, [{"op_names": ["fc2"]}], teacher, 3)
    # nothing was left installed by the failed constructors
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in student.modules())
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in teacher.modules())


def test_step_errors_name_the_target():
    # a teacher of another shape
    s, t = _values((2, 3), 60).float(), _values((3, 2), 61).float()
    d = DynamicLayerwiseDistiller(Pair(s), [{"op_names": ["out"], "link": "out"}], Pair(t), lambda b, m: m())
    with pytest.raises(ShapeError) as info:
        step(d)
    assert str(info.value) == "out._output_0: the teacher of link 'out' has shape [3, 2] but the student has shape [2, 3]"
    # an integer output
    ints = Pair(torch.zeros(2, 3))
    ints.out.forward = lambda: torch.ones(2, 3, dtype=torch.int64)
    d = DynamicLayerwiseDistiller(ints, [{"op_names": ["out"]}], Pair(t), lambda b, m: m())
    with pytest.raises(DtypeError, match=r"out._output_0: the student tensor: dtype torch.int64 is not supported"):
        step(d)
    # a non-tensor output value
    odd = Pair(torch.zeros(2, 3))
    odd.out.forward = lambda: ("text",)
    d = DynamicLayerwiseDistiller(odd, [{"op_names": ["out"]}], Pair(t), lambda b, m: m())
    with pytest.raises(TensorError, match=r"student out._output_0: distillation records tensors; the output is str"):
        odd()


def test_empty_student_and_no_grad():
    empty = Pair(torch.zeros(0, 3))
    d = DynamicLayerwiseDistiller(empty, [{"op_names": ["out"]}], Pair(torch.zeros(0, 3)), lambda b, m: m())
    with pytest.raises(ShapeError, match=r"out._output_0: the student tensor of shape \[0, 3\] has no elements"):
        step(d)
    s, t = _values((2, 3), 64).float(), _values((2, 3), 65).float()
    student = Pair(s)
    d = DynamicLayerwiseDistiller(student, [{"op_names": ["out"]}], Pair(t), lambda b, m: m())
    with torch.no_grad():
        loss = step(d)
    assert not loss.requires_grad
    assert abs(float(loss) - float(F.mse_loss(s.double(), t.double()))) <= 1e-6 * float(loss)


def test_failed_step_then_good_step():
    s = _values((2, 3), 62).float()
    teacher = Pair(_values((2, 3), 63).float())
    student = Pair(s)
    d = DynamicLayerwiseDistiller(student, [{"op_names": ["out"]}], teacher, lambda b, m: m())
    student()
    teacher.out.forward = lambda: torch.zeros(4)  # wrong shape this step
    teacher()
    with pytest.raises(ShapeError):
        d.compute_distill_loss()
    del teacher.out.forward
    loss = step(d)
    assert abs(float(loss) - float(F.mse_loss(s, teacher.out.out))) <= 1e-6 * float(loss)


# -- hooks and lifetimes ----------------------------------------------------------------------

def test_unwrap_removes_the_hooks():
    student, teacher = models()
    d = DynamicLayerwiseDistiller(student, NNI_CONFIGS["kl-three-links"] + [{"op_names": ["fc1"]}], teacher, predict)
    assert len(student.fc1._forward_hooks) == 1 and len(student.fc2._forward_hooks) == 1
    assert [len(getattr(teacher, n)._forward_hooks) for n in ("fc1", "fc2", "head", "aux")] == [1, 1, 1, 1]
    d.unwrap_model()
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in student.modules())
    student(batch())
    predict(batch(), teacher)
    assert float(d.compute_distill_loss()) == 0.0  # nothing recorded by the student now
    d.unwrap_teacher_model()
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in teacher.modules())
    d.wrap_model()
    d.wrap_teacher_model()
    x = batch()
    student(x)
    predict(x, teacher)
    loss = d.compute_distill_loss()
    # rewrapped, both sides record again: NNI's formula on the same outputs (kl: the smallest of the
    # three links; mse on fc1)
    with torch.no_grad():
        h = teacher.relu(teacher.fc1(x))
        out = student(x)
        kl = min(float(torch_loss("kl", out, getattr(teacher, n)(h))) for n in ("head", "aux", "fc2"))
        expected = kl + float(F.mse_loss(student.fc1(x), teacher.fc1(x)))
    assert abs(float(loss) - expected) <= 1e-5 * expected


def test_step_tensors_are_not_kept():
    student, teacher = models()
    d = DynamicLayerwiseDistiller(student, [{"op_names": ["fc1", "fc2"]}], teacher, predict)
    out = student(batch())
    hidden = weakref.ref(d._student_states[("fc1", "_output_0")])
    predict(batch(), teacher)
    teacher_hidden = weakref.ref(d._teacher_states[("fc1", "_output_0")])
    loss = d.compute_distill_loss()
    (loss + out.sum()).backward()
    del loss, out
    gc.collect()
    assert hidden() is None and teacher_hidden() is None


def test_with_a_pruner_on_the_student():
    # hooks and the pruner's masking forward compose: the recorded output is the masked one
    from swiftcompress.pruning import L1NormPruner

    student, teacher = models(70)
    pruner = L1NormPruner(student, [{"op_names": ["fc1"], "sparse_ratio": 0.5}])
    pruner.compress()
    d = DynamicLayerwiseDistiller(student, [{"op_names": ["fc1"]}], teacher, predict)
    x = batch()
    student(x)
    loss = d.loss(torch.zeros(()), x)
    masks = pruner.get_masks()["fc1"]
    masked = F.linear(x, student.fc1.weight * masks["weight"], student.fc1.bias * masks["bias"])
    assert float(masks["weight"].sum()) == 64.0
    assert abs(float(loss) - float(F.mse_loss(masked, teacher.fc1(x)))) <= 1e-5 * float(loss)


# -- the _core Session methods ----------------------------------------------------------------

def _session():
    s = _core.Session(_core.SC_MODE_DISTILLATION)
    s.add_modules([("", "M", None), ("a", "Linear", None), ("b", "Linear", None)])
    s.add_teacher_modules(["", "a", "b", "c"])
    s.set_config(json.dumps([{"op_names": ["a"], "link": ["c", "b"]}, {"op_names": ["b"]}]))
    return s


def _spec(t):
    return (t.data_ptr(), {torch.float32: _core.SC_DTYPE_FLOAT32, torch.float64: _core.SC_DTYPE_FLOAT64}[t.dtype],
            tuple(t.shape), t.stride())


def test_core_session_distill_and_errors():
    s = _session()
    assert s.targets() == [("a", "_output_0"), ("b", "_output_0")]
    assert s.target_links(0) == ["c", "b"] and s.target_links(1) == ["b"]
    with pytest.raises(InvalidArgumentError):
        s.target_links(2)
    st = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    t1 = torch.tensor([[1.0, 2.0], [3.0, 6.0]])  # mse 1.0
    t2 = torch.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=torch.float64)  # mse 0.25
    g = torch.empty(2, 2)
    with pytest.raises(StateError, match="no student bound"):
        s.bind_teacher("a", "_output_0", 0, _spec(t1), t1)
    with pytest.raises(StateError, match="'a._output_0' has no student bound"):
        s.distill()
    s.bind_student("a", "_output_0", _spec(st), _spec(g), (st, g))
    s.bind_teacher("a", "_output_0", 0, _spec(t1), t1)
    s.bind_teacher("a", "_output_0", 1, _spec(t2), t2)
    with pytest.raises(InvalidArgumentError, match="link 2 is out of range"):
        s.bind_teacher("a", "_output_0", 2, _spec(t1), t1)
    with pytest.raises(IndexError):
        s.bind_teacher("a", "_output_0", -1, _spec(t1), t1)
    with pytest.raises(UnknownNameError):
        s.bind_student("z", "_output_0", _spec(st), None, st)
    with pytest.raises(ShapeError, match="gradient shape"):
        s.bind_student("b", "_output_0", _spec(st), _spec(torch.empty(4)), None)
    s.bind_student("b", "_output_0", _spec(st), None, st)  # no teacher: adds 0
    total, losses = s.distill()
    assert losses == [0.25, 0.0] and total == 0.25
    assert torch.equal(g, torch.tensor([[0.0, 0.0], [0.0, -0.5]]))  # 2 (s - t2) / 4
    s.bind_teacher("a", "_output_0", 1, None)  # unbound: only link 'c' is left
    total, losses = s.distill()
    assert total == 1.0 and torch.equal(g, torch.tensor([[0.0, 0.0], [0.0, -1.0]]))
    s.close()
    with pytest.raises(ValueError, match="closed"):
        s.distill()


def test_core_session_link_to_missing_teacher_module():
    s = _core.Session(_core.SC_MODE_DISTILLATION)
    s.add_modules([("", "M", None), ("fc2", "Linear", None)])
    s.add_teacher_modules(["", "head"])
    with pytest.raises(InvalidArgumentError, match="added already"):
        s.add_teacher_modules(["head"])
    with pytest.raises(TypeError):
        s.add_teacher_modules("head")
    # a name with a NUL would reach the C ABI cut short ('fc2', which would then pass the link check)
    with pytest.raises(InvalidArgumentError, match=r"names\[1\] contains a NUL character"):
        s.add_teacher_modules(["aux", "fc2\x00x"])
    s.set_config(json.dumps([{"op_names": ["fc2"]}]))
    s.bind_student("fc2", "_output_0", _spec(torch.zeros(1)), None, None)
    with pytest.raises(DistillationError, match=r"fc2._output_0: link: 'fc2' names no module of the teacher"):
        s.distill()


def test_core_keepalive_is_held_while_bound():
    s = _session()
    st, t1 = torch.ones(2, 2), torch.zeros(2, 2)
    keep_student, keep_teacher = object(), object()
    base_s, base_t = sys.getrefcount(keep_student), sys.getrefcount(keep_teacher)
    s.bind_student("a", "_output_0", _spec(st), None, keep_student)
    s.bind_teacher("a", "_output_0", 0, _spec(t1), keep_teacher)
    assert sys.getrefcount(keep_student) == base_s + 1 and sys.getrefcount(keep_teacher) == base_t + 1
    s.bind_teacher("a", "_output_0", 0, None)  # unbinding drops the teacher's
    assert sys.getrefcount(keep_teacher) == base_t
    s.bind_teacher("a", "_output_0", 0, _spec(t1), keep_teacher)
    with pytest.raises(InvalidArgumentError):  # a failed bind keeps the earlier binding's object
        s.bind_teacher("a", "_output_0", 5, _spec(t1), object())
    assert sys.getrefcount(keep_teacher) == base_t + 1
    s.bind_student("a", "_output_0", _spec(st), None, None)  # rebinding the student drops both
    assert sys.getrefcount(keep_student) == base_s and sys.getrefcount(keep_teacher) == base_t
    s.bind_student("a", "_output_0", _spec(st), None, keep_student)
    with pytest.raises(UnknownNameError):
        s.bind_student("a", "_input_0", _spec(st), None, object())
    with pytest.raises(ShapeError):  # refused: the earlier binding and its object stay
        s.bind_student("a", "_output_0", _spec(st), _spec(torch.empty(3)), object())
    assert sys.getrefcount(keep_student) == base_s + 1
    s.set_config(json.dumps([{"op_names": ["b"]}]))  # a config change drops every binding
    assert sys.getrefcount(keep_student) == base_s


# -- the example ------------------------------------------------------------------------------

def test_example_distill_mlp_runs_and_the_loss_falls():
    import pathlib
    import re
    import subprocess

    script = pathlib.Path(__file__).resolve().parents[3] / "examples" / "python" / "distill_mlp.py"
    assert script.is_file(), script
    done = subprocess.run([sys.executable, str(script), "--steps", "60"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = re.search(r"distillation loss ([0-9.]+) -> ([0-9.]+) in 60 steps", done.stdout)
    assert found, done.stdout
    first, last = float(found.group(1)), float(found.group(2))
    assert last < 0.6 * first, done.stdout


# -- edge cases against NNI 3.0 (computed in the same run) -------------------------------------

class InplaceStudent(nn.Module):
    """fc1's output is changed in place by the ReLU after the hook recorded it (NNI reads the tensor
    object too, so both see the ReLU'd values, and the gradient flows through the in-place op)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(8, 16)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu(self.fc1(x)))


class TwiceStudent(Student):
    """fc1 runs twice in one forward: the last call's output is the one recorded (NNI's 'refresh')."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu(self.fc1(x)) + self.fc1(2 * x)
        return self.fc2(h)


class Split(nn.Module):
    """Returns a tuple: `_output_0` a slice (a non-contiguous view), `_output_1` another, through tanh."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(8, 6)

    def forward(self, x: torch.Tensor):
        y = self.lin(x)
        return y[..., :3], y[..., 3:].tanh()


class TupleModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.block = Split()
        self.fc = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.block(x)
        return self.fc(a * b)


class Broadcast(nn.Module):
    """Outputs its (1, 5) parameter expanded to the batch: a stride-0 view."""

    def __init__(self) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.randn(1, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.p.expand(x.shape[0], 5)


class BroadcastModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.e = Broadcast()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.e(x)


def _x(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(11))


# name: (student class, teacher class, config list, input, eval mode)
EDGE_CASES = {
    "batch-1-mse": (Student, Teacher, [{"op_names": ["fc1", "fc2"]}], _x(1, 8), False),
    "batch-1-kl": (Student, Teacher, [{"op_names": ["fc2"], "apply_method": "kl"}], _x(1, 8), False),
    "1-D-outputs-kl": (Student, Teacher, [{"op_names": ["fc1", "fc2"], "apply_method": "kl"}], _x(8), False),
    "inplace-after-record": (InplaceStudent, InplaceStudent, [{"op_names": ["fc1"]}], _x(4, 8), False),
    "module-called-twice": (TwiceStudent, TwiceStudent, [{"op_names": ["fc1", "fc2"], "lambda": 0.5}], _x(4, 8),
                            False),
    "eval-mode": (Student, Teacher, [{"op_names": ["fc1", "fc2"], "apply_method": "kl"}], _x(4, 8), True),
    "tuple-output-1-kl": (TupleModel, TupleModel,
                          [{"op_names": ["block"], "target_names": ["_output_1"], "apply_method": "kl"}], _x(4, 8),
                          False),
    "tuple-outputs-0-1": (TupleModel, TupleModel, [{"op_names": ["block"], "target_names": ["_output_0", "_output_1"]}],
                          _x(4, 8), False),
    "expanded-output-kl": (BroadcastModel, BroadcastModel, [{"op_names": ["e"], "apply_method": "kl"}], _x(4, 8),
                           False),
    "transposed-input-3-D-kl": (Student, Teacher, [{"op_names": ["fc1", "fc2"], "apply_method": "kl"}],
                                _x(3, 4, 8).transpose(0, 1), False),
}


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_edge_cases_equal_nni(name):
    import warnings as _warnings

    student_cls, teacher_cls, config_list, x, eval_mode = EDGE_CASES[name]
    torch.manual_seed(21)
    student, teacher = student_cls(), teacher_cls()
    if eval_mode:
        student.eval()
        teacher.eval()
    expected_loss, expected_grads = nni_run(student, teacher, config_list, x)
    with _warnings.catch_warnings():
        # a teacher run under no_grad is never warned about (not even an expanded parameter, whose
        # no_grad view reports requires_grad but carries no graph)
        _warnings.simplefilter("error", UserWarning)
        distiller, loss, grads = our_run(student, teacher, config_list, x)
    assert expected_loss > 0
    assert loss.dtype == torch.float32 and loss.dim() == 0
    assert abs(float(loss) - expected_loss) <= 1e-5 * expected_loss
    assert set(grads) == set(expected_grads) and grads
    for n in grads:
        assert_close(grads[n], expected_grads[n], 1e-5)


@pytest.mark.parametrize("method", ["mse", "kl"])
def test_float64_teacher_promotes_the_loss_as_nni(method):
    # NNI's F.mse_loss / F.kl_div of a float32 student and a float64 teacher is float64 (torch's
    # promotion); the loss here is float64 too, with NNI's value and student gradients.
    from nni.compression.distillation import DynamicLayerwiseDistiller as NNIDistiller

    torch.manual_seed(22)
    student, teacher = Student(), Teacher().double()
    config_list = [{"op_names": ["fc1", "fc2"], "apply_method": method}]
    x = _x(4, 8)
    predict64 = lambda b, m: m(b.double())  # noqa: E731
    s2, t2 = copy.deepcopy(student), copy.deepcopy(teacher)
    nni = NNIDistiller(s2, copy.deepcopy(config_list), None, t2, predict64)
    s2(x)
    with torch.no_grad():
        predict64(x, t2)
    expected = nni.compute_distill_loss()
    expected.backward()
    ours = DynamicLayerwiseDistiller(student, config_list, teacher, predict64)
    student(x)
    with torch.no_grad():
        predict64(x, teacher)
    loss = ours.compute_distill_loss()
    loss.backward()
    assert expected.dtype == torch.float64 and loss.dtype == torch.float64
    assert abs(float(loss) - float(expected)) <= 1e-5 * float(expected)
    wrapped = dict(s2.named_parameters())
    for n, p in student.named_parameters():
        other = wrapped.get(n) if n in wrapped else wrapped[n.replace(".", "._nni_wrapper.", 1)]
        assert p.grad.dtype == torch.float32
        assert_close(p.grad, other.grad, 1e-5)


def test_teacher_run_with_grad_gets_no_gradient_and_is_warned_once():
    # The documented difference: NNI's loss backpropagates into a teacher that ran with gradients
    # enabled; here teacher tensors are constants and a UserWarning says so once. The student's
    # gradients are NNI's either way.
    from nni.compression.distillation import DynamicLayerwiseDistiller as NNIDistiller

    torch.manual_seed(23)
    student, teacher = Student(), Teacher()
    config_list = [{"op_names": ["fc1", "fc2"], "lambda": 0.5}]
    x = _x(4, 8)
    s2, t2 = copy.deepcopy(student), copy.deepcopy(teacher)
    nni = NNIDistiller(s2, copy.deepcopy(config_list), None, t2, predict)
    s2(x)
    predict(x, t2)  # with gradients
    expected = nni.compute_distill_loss()
    expected.backward()
    assert any(p.grad is not None and float(p.grad.abs().max()) > 0 for p in t2.parameters())

    ours = DynamicLayerwiseDistiller(student, config_list, teacher, predict)
    student(x)
    predict(x, teacher)
    with pytest.warns(UserWarning, match="no gradient reaches the teacher"):
        loss = ours.compute_distill_loss()
    loss.backward()
    assert abs(float(loss) - float(expected)) <= 1e-5 * float(expected)
    assert all(p.grad is None for p in teacher.parameters())
    wrapped = dict(s2.named_parameters())
    for n, p in student.named_parameters():
        other = wrapped.get(n) if n in wrapped else wrapped[n.replace(".", "._nni_wrapper.", 1)]
        assert_close(p.grad, other.grad, 1e-5)

    # once per distiller: the next such step does not warn again; a no_grad teacher never warns
    import warnings as _warnings
    student(x)
    predict(x, teacher)
    with _warnings.catch_warnings():
        _warnings.simplefilter("error")
        ours.compute_distill_loss()
    fresh = DynamicLayerwiseDistiller(Student(), config_list, Teacher(), predict)
    fresh.bound_model(x)
    with _warnings.catch_warnings():
        _warnings.simplefilter("error")
        fresh.loss(torch.zeros(()), x)


def test_expanded_kl_row_over_the_limit_is_a_shape_error():
    # A broadcast output (stride 0) may claim a kl row far longer than its memory; the core refuses a
    # last dim over 2^28 (its softmax work buffers) instead of failing to allocate them.
    one = torch.ones(1)
    huge = one.expand(1, (1 << 28) + 1)
    student, teacher = Pair(torch.zeros(1)), Pair(torch.zeros(1))
    student.out.forward = lambda: huge
    teacher.out.forward = lambda: huge
    d = DynamicLayerwiseDistiller(student, [{"op_names": ["out"], "apply_method": "kl"}], teacher, lambda b, m: m())
    with pytest.raises(ShapeError, match=r"out._output_0: kl: the last dim .* is 268435457; at most 268435456"):
        step(d)
    # a broadcast output of 2^40 + 1 elements (far more than its memory): refused before any work
    many = one.expand((1 << 40) + 1)
    student.out.forward = lambda: many
    teacher.out.forward = lambda: many
    with pytest.raises(ShapeError, match=r"out._output_0: the student tensor of shape \[1099511627777\] has "
                                         r"1099511627777 elements; at most 1099511627776 are supported"):
        step(d)
    # a long broadcast row under the limit is computed: uniform logits, loss 0
    long = one.expand(2, 1 << 20)
    student.out.forward = lambda: long
    teacher.out.forward = lambda: long
    assert float(step(d)) == 0.0
