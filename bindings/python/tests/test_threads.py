"""Threads (issue 18): concurrent calls on one pruner / quantizer / distiller serialize under the
object's lock, so every thread gets the result a single-threaded call gives (never a buffer the core
did not write), and the wrapped forward of a pruned or quantized model is correct in every thread
(no unmasked weight seen midway). Each test runs 100 rounds of 4 threads with a short switch
interval (more interleaving) and a time bound."""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Dict, List

import pytest
import torch
import torch.nn as nn

from swiftcompress.distillation import DynamicLayerwiseDistiller
from swiftcompress.pruning import L1NormPruner, LevelPruner
from swiftcompress.quantization import PtqQuantizer, QATQuantizer

from thread_support import start_barrier_threads

THREADS = 4
ROUNDS = 100
TIME_BOUND_S = 60.0


@pytest.fixture(autouse=True)
def short_switch_interval():
    """A short switch interval (more interleaving) and one intra-op torch thread (tiny tensors)."""
    old = sys.getswitchinterval()
    threads = torch.get_num_threads()
    sys.setswitchinterval(1e-6)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        sys.setswitchinterval(old)
        torch.set_num_threads(threads)


def run_rounds(work: Callable[[int], Any], rounds: int = ROUNDS, threads: int = THREADS) -> List[List[Any]]:
    """``rounds`` times: ``threads`` threads run ``work(i)`` at once (released together by a barrier).
    Returns every round's results; an exception in a thread fails the test (re-raised here)."""
    start = time.monotonic()
    results: List[List[Any]] = []
    for _ in range(rounds):
        out, errors, pool = start_barrier_threads(work, threads)
        for t in pool:
            t.join(timeout=TIME_BOUND_S)
            assert not t.is_alive(), "a thread did not finish (deadlock?)"
        if errors:
            raise errors[0]
        results.append(out)
        assert time.monotonic() - start < TIME_BOUND_S
    return results


def mlp(width: int = 48, depth: int = 6) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(*[nn.Sequential(nn.Linear(width, width), nn.ReLU()) for _ in range(depth)])


def snapshot(masks):
    return {m: {t: None if v is None else v.clone() for t, v in d.items()} for m, d in masks.items()}


def assert_masks_equal(got, expected) -> None:
    assert list(got) == list(expected)
    for module, targets in expected.items():
        for target, mask in targets.items():
            if mask is None:
                assert got[module][target] is None
            else:
                assert torch.equal(got[module][target], mask), f"{module}.{target}"


def test_concurrent_compress_gives_every_thread_the_single_thread_masks():
    model = mlp()
    config_list = [{"op_types": ["Linear"], "sparse_ratio": 0.5}]
    expected = snapshot(L1NormPruner(mlp(), config_list).compress()[1])
    assert sum(int((m == 0).sum()) for d in expected.values() for m in d.values() if m is not None) == 6 * 24 * (48 + 1)  # half the rows of each weight and their biases
    pruner = L1NormPruner(model, config_list)
    results = run_rounds(lambda i: pruner.compress()[1])
    for round_results in results:
        masks = {id(r["0.0"]["weight"]) for r in round_results}
        assert len(masks) == THREADS  # each call allocated and got its own masks ...
        for r in round_results:
            assert_masks_equal(r, expected)  # ... written completely by the core


def test_concurrent_compress_and_update_masks_and_get_masks():
    model = mlp(depth=3)
    config_list = [{"op_types": ["Linear"], "sparse_ratio": 0.25}]
    pruner = LevelPruner(model, config_list)
    expected = snapshot(pruner.compress()[1])

    def work(i: int):
        if i == 0:
            pruner.update_masks(snapshot(expected))
            return pruner.get_masks()
        return pruner.compress()[1]

    for round_results in run_rounds(work):
        for r in round_results:
            assert_masks_equal(r, expected)


def mlp_reference(model: nn.Sequential, masks, x: torch.Tensor, blocks: range) -> torch.Tensor:
    """The MLP's blocks ``blocks`` computed with torch from the weights times their masks."""
    h = x
    for k in blocks:
        linear = model[k][0]
        mask = masks[f"{k}.0"]
        weight = linear._parameters["weight"] * mask["weight"]
        bias = linear._parameters["bias"] * (1 if mask.get("bias") is None else mask["bias"])
        h = torch.relu(torch.nn.functional.linear(h, weight, bias))
    return h


def test_wrapped_forward_in_threads_always_sees_the_masked_weights():
    model = mlp().eval()
    x = torch.randn(3, 48, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        unmasked = model(x)
    pruner = L1NormPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.5}])
    _, masks = pruner.compress()
    with torch.no_grad():
        expected = mlp_reference(model, masks, x, range(6))
        hidden = mlp_reference(model, masks, x, range(2))
        expected_inner = mlp_reference(model, masks, hidden, range(2, 3))
        assert not torch.allclose(expected, unmasked)
        assert torch.allclose(model(x), expected, rtol=0, atol=1e-6)
    inner = model[2]  # called directly by half of the threads while the others run the whole model

    def work(i: int):
        with torch.no_grad():
            if i % 2:
                return "inner", inner(hidden)
            return "model", model(x)

    for round_results in run_rounds(work):
        for kind, out in round_results:
            reference = expected if kind == "model" else expected_inner
            assert torch.allclose(out, reference, rtol=0, atol=1e-6), kind
    pruner.unwrap_model()
    with torch.no_grad():
        assert torch.equal(model(x), unmasked)  # the parameters are back in place, never modified


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(8, 16)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.relu(self.fc1(x)))


QUANT_CONFIG = [{"op_types": ["Linear"], "target_names": ["_input_", "weight", "bias", "_output_"],
                 "quant_dtype": "int8", "quant_scheme": "affine"}]


def calibration_values(config):
    return {(m, t): (entry["scale"].clone(), entry["zero_point"].clone(), entry["tracked_min"].clone(),
                     entry["tracked_max"].clone())
            for m, targets in config.items() for t, entry in targets.items()}


def assert_calibration_equal(got, expected) -> None:
    got = calibration_values(got)
    assert list(got) == list(expected)
    for key, values in expected.items():
        for a, b in zip(got[key], values):
            assert torch.equal(a, b), key


def test_ptq_concurrent_calibrate_compress_and_forward():
    g = torch.Generator().manual_seed(1)
    data = [torch.randn(5, 8, generator=g) * (1 + i) for i in range(3)]
    x = torch.randn(2, 8, generator=g)
    reference = PtqQuantizer(MLP(), QUANT_CONFIG)
    reference.calibrate(data)
    expected = calibration_values(reference.compress()[1])
    assert expected[("fc1", "weight")][0].numel() == 1 and float(expected[("fc1", "weight")][0]) > 0
    with torch.no_grad():
        expected_out = reference.bound_model(x)
        assert not torch.equal(expected_out, MLP()(x))  # the forward is fake-quantized
    quantizer = PtqQuantizer(MLP(), QUANT_CONFIG)
    quantizer.calibrate(data)
    quantizer.compress()

    def work(i: int):
        if i == 0:
            return "calibrate", quantizer.calibrate(data)  # the same batches: the ranges do not change
        if i == 1:
            with torch.no_grad():
                return "forward", quantizer.bound_model(x)
        return "compress", quantizer.compress()[1]

    for round_results in run_rounds(work):
        for kind, value in round_results:
            if kind == "calibrate":
                assert value == 3
            elif kind == "forward":
                assert torch.equal(value, expected_out)  # never an unquantized (calibrating) forward
            else:
                assert_calibration_equal(value, expected)


def key_of(config) -> Dict[str, bytes]:
    """Per target, the calibration config's values as bytes (None: absent)."""
    out = {}
    for m, targets in config.items():
        for t, entry in targets.items():
            parts = []
            for k in ("scale", "zero_point", "tracked_min", "tracked_max"):
                v = entry.get(k)
                parts.append(b"-" if v is None else v.numpy().tobytes())
            out[f"{m}.{t}"] = b"|".join(parts)
    return out


def test_qat_concurrent_training_forwards_and_steps():
    # Every training forward folds the (same) batch into the moving averages, so the state after k
    # forwards is one value per k: every output and every calibration config a thread sees must be
    # one that the single-threaded sequence of the same forwards produces (a whole-model forward
    # holds the quantizer's lock from its first module to its last).
    x = torch.randn(4, 8, generator=torch.Generator().manual_seed(3))
    forwards = ROUNDS * (THREADS - 1)
    reference = QATQuantizer(MLP(), QUANT_CONFIG)
    reference.bound_model.train()
    outputs = set()
    configs: Dict[str, set] = {}

    def add(config) -> None:
        for target, value in key_of(config).items():
            configs.setdefault(target, set()).add(value)

    whole = {b"".join(key_of(reference.get_calibration_config()).values())}
    add(reference.get_calibration_config())
    with torch.no_grad():
        for _ in range(forwards):
            outputs.add(reference.bound_model(x).numpy().tobytes())
            add(reference.get_calibration_config())
            whole.add(b"".join(key_of(reference.get_calibration_config()).values()))
    final = key_of(reference.get_calibration_config())
    assert len(configs["fc1.weight"]) > 2  # the moving averages move (rounding), so the check is sharp
    quantizer = QATQuantizer(MLP(), QUANT_CONFIG)
    quantizer.bound_model.train()

    def work(i: int):
        if i == 0:
            quantizer.step()
            return "config", key_of(quantizer.get_calibration_config())
        with torch.no_grad():
            return "forward", quantizer.bound_model(x).numpy().tobytes()

    rounds = run_rounds(work)
    assert quantizer.current_step == ROUNDS
    for round_results in rounds:
        for kind, value in round_results:
            if kind == "forward":
                assert value in outputs
            else:
                assert b"".join(value.values()) in whole  # a consistent snapshot between forwards
                assert all(v in configs[target] for target, v in value.items()), value
    assert key_of(quantizer.get_calibration_config()) == final


def test_distiller_concurrent_losses_and_gradients():
    def student_and_teacher():
        torch.manual_seed(0)
        student = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
        torch.manual_seed(1)
        teacher = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
        return student, teacher

    x = torch.randn(5, 6, generator=torch.Generator().manual_seed(4))
    config_list = [{"op_names": ["0", "2"], "lambda": 0.5}]

    def make():
        student, teacher = student_and_teacher()

        def predict(batch, teacher_model):
            teacher_model(batch)
            with torch.enable_grad():  # the student's forward inside loss(): recorded with the teacher's
                student(batch)

        return student, DynamicLayerwiseDistiller(student, config_list, teacher, predict)

    ref_student, ref = make()
    ref_loss = ref.loss(torch.zeros(()), x)
    ref_grad = torch.autograd.grad(ref_loss, ref_student[0].weight)[0]
    assert ref_loss.item() > 0 and ref_grad.abs().sum().item() > 0
    student, distiller = make()

    def work(i: int):
        loss = distiller.loss(torch.zeros(()), x)
        return loss.detach(), torch.autograd.grad(loss, student[0].weight)[0]

    for round_results in run_rounds(work):
        for loss, grad in round_results:
            assert torch.equal(loss, ref_loss.detach())
            assert torch.equal(grad, ref_grad)
