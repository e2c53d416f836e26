"""The evaluator forms of DynamicLayerwiseDistiller and Adaptive1dLayerwiseDistiller against NNI 3.0.

Each test runs the same seeded models, batches and traced SGD through NNI's distiller with NNI's
TorchEvaluator and through ours with swiftcompress.TorchEvaluator, for a few steps of
``compress(max_steps=...)``, and compares every step's training loss and the final student (and
trans-layer) weights.

Tolerance: the core computes the distillation losses and their gradients in double and rounds the
gradient once to float32, where NNI's ``F.mse_loss`` / ``F.kl_div`` work in float32; the losses and
weights therefore agree to float32 rounding (``rtol=1e-5, atol=1e-6`` after 4 SGD steps), not bit
for bit.  Run: ``PYTHONPATH=bindings/python python -m pytest bindings/python/tests/test_distillers_nni.py``.
"""
from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F

nni_distillation = pytest.importorskip("nni.compression.distillation")
import nni  # noqa: E402
from nni.compression import TorchEvaluator as NniTorchEvaluator  # noqa: E402

import swiftcompress  # noqa: E402
from swiftcompress.distillation import Adaptive1dLayerwiseDistiller, DynamicLayerwiseDistiller  # noqa: E402
from swiftcompress.errors import DistillationError, InvalidArgumentError, StateError  # noqa: E402

STEPS = 4
RTOL, ATOL = 1e-5, 1e-6


class Net(torch.nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(5, hidden)
        self.act = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(hidden, 7)
        self.head = torch.nn.Linear(7, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.fc2(self.act(self.fc1(x))))


def _batches():
    g = torch.Generator().manual_seed(7)
    return [(torch.randn(4, 5, generator=g), torch.randint(0, 3, (4,), generator=g)) for _ in range(3)]


def _training_func(losses):
    batches = _batches()

    def training_func(model, optimizer, training_step, lr_scheduler, max_steps, max_epochs):
        model.train()
        for step in range(max_steps):
            optimizer.zero_grad()
            loss = training_step(batches[step % len(batches)], model)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return training_func


def training_step(batch, model):
    return F.cross_entropy(model(batch[0]), batch[1])


def teacher_predict(batch, teacher):
    return teacher(batch[0])


def _run(side, distiller_name, config_list, student_hidden=6, teacher_hidden=6, lam=0.5, fuse_config=None):
    """Builds models, evaluator and distiller for ``side`` ('nni' or 'sc') and trains STEPS steps;
    returns (losses, student state_dict, trans-layer weights)."""
    torch.manual_seed(0)
    student, teacher = Net(student_hidden), Net(teacher_hidden)
    teacher2 = Net(teacher_hidden)
    losses = []
    if side == "nni":
        optimizer = nni.trace(torch.optim.SGD)(student.parameters(), lr=0.1, momentum=0.9)
        evaluator = NniTorchEvaluator(_training_func(losses), optimizer, training_step)
        cls = getattr(nni_distillation, distiller_name)
    else:
        optimizer = swiftcompress.trace(torch.optim.SGD)(student.parameters(), lr=0.1, momentum=0.9)
        evaluator = swiftcompress.TorchEvaluator(_training_func(losses), optimizer, training_step)
        cls = {"DynamicLayerwiseDistiller": DynamicLayerwiseDistiller,
               "Adaptive1dLayerwiseDistiller": Adaptive1dLayerwiseDistiller}[distiller_name]
    distiller = cls(student, config_list, evaluator, teacher, teacher_predict, lam)
    if fuse_config is not None:
        distiller = DynamicLayerwiseDistiller.from_compressor(distiller, fuse_config, teacher2, teacher_predict, 0.25) \
            if side == "sc" else nni_distillation.DynamicLayerwiseDistiller.from_compressor(
                distiller, fuse_config, teacher2, teacher_predict, 0.25)
    if distiller_name == "Adaptive1dLayerwiseDistiller":
        distiller.track_forward(_batches()[0][0])
    distiller.compress(max_steps=STEPS, max_epochs=None)
    trans = {}
    if hasattr(distiller, "trans_linears"):
        for module_name, targets in distiller.trans_linears.items():
            for target_name, linear in targets.items():
                if linear is not None:
                    trans[(module_name, target_name)] = [p.detach().clone() for p in linear.parameters()]
    distiller.unwrap_model()
    distiller.unwrap_teacher_model()
    for c in distiller.fused_compressors[1:]:
        assert not c._is_wrapped  # NNI: shared wrappers; ours: the fused ones are unwrapped with it
        c.unwrap_teacher_model()
    state = {k: v.detach().clone() for k, v in student.state_dict().items()}
    return losses, state, trans


def _compare(config_list, distiller_name="DynamicLayerwiseDistiller", **kwargs):
    nni_losses, nni_state, nni_trans = _run("nni", distiller_name, config_list, **kwargs)
    sc_losses, sc_state, sc_trans = _run("sc", distiller_name, config_list, **kwargs)
    assert len(nni_losses) == len(sc_losses) == STEPS
    print("max |loss diff|", max(abs(a - b) for a, b in zip(sc_losses, nni_losses)),
          "max |weight diff|", max(float((sc_state[k] - nni_state[k]).abs().max()) for k in nni_state))
    torch.testing.assert_close(torch.tensor(sc_losses), torch.tensor(nni_losses), rtol=RTOL, atol=ATOL)
    assert nni_state.keys() == sc_state.keys()
    for name in nni_state:
        torch.testing.assert_close(sc_state[name], nni_state[name], rtol=RTOL, atol=ATOL, msg=name)
    # the weights moved: the distillation gradient reached the student
    torch.manual_seed(0)
    initial = Net(kwargs.get("student_hidden", 6)).state_dict()
    assert any(not torch.equal(initial[k], sc_state[k]) for k in initial)
    assert nni_trans.keys() == sc_trans.keys()
    for key in nni_trans:
        for a, b in zip(sc_trans[key], nni_trans[key]):
            torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)
    return sc_losses, sc_trans


def test_dynamic_mse_and_kl_equals_nni():
    losses, _ = _compare([{"op_names": ["fc1"], "lambda": 0.3},
                          {"op_names": ["head"], "apply_method": "kl", "link": "head"},
                          {"op_names": ["fc2"], "link": ["fc2"], "lambda": 2.0}])
    assert losses[0] > 0


def test_dynamic_min_over_links_equals_nni():
    # fc1's output against the teacher's fc1 and act (relu of it, same shape): the smaller loss counts
    _compare([{"op_names": ["fc1"], "link": ["fc1", "act"], "lambda": 0.7},
              {"op_names": ["head"], "apply_method": "kl"}])


def test_adaptive1d_trans_layer_equals_nni():
    _, trans = _compare([{"op_names": ["fc1"], "lambda": 0.5}, {"op_names": ["head"], "apply_method": "kl"}],
                        "Adaptive1dLayerwiseDistiller", student_hidden=4, teacher_hidden=6)
    assert list(trans) == [("fc1", "_output_0")]  # head's dims agree: no trans layer
    assert trans[("fc1", "_output_0")][0].shape == (6, 4)


def test_from_compressor_fuses_two_distillers_as_nni():
    _compare([{"op_names": ["fc1"], "lambda": 0.5}], fuse_config=[{"op_names": ["head"], "apply_method": "kl"}])


def test_adaptive1d_errors_name_the_target():
    torch.manual_seed(0)
    s, t = Net(4), Net(6)
    with pytest.raises(DistillationError, match=r"fc1._output_0: link: Adaptive1dLayerwiseDistiller supports one "
                                                r"link per target, got \['fc1', 'act'\]"):
        Adaptive1dLayerwiseDistiller(s, [{"op_names": ["fc1"], "link": ["fc1", "act"]}], None, t, teacher_predict)
    assert not any(m._forward_hooks for m in list(s.modules()) + list(t.modules()))
    evaluator = swiftcompress.TorchEvaluator(_training_func([]), swiftcompress.trace(torch.optim.SGD)(
        s.parameters(), lr=0.1), training_step)
    d = Adaptive1dLayerwiseDistiller(s, [{"op_names": ["fc1"]}], evaluator, t, teacher_predict)
    with pytest.raises(DistillationError, match=r"fc1._output_0: no hidden state of the student was recorded; call "
                                                r"Adaptive1dLayerwiseDistiller.track_forward"):
        d.compress(max_steps=1, max_epochs=None)
    assert evaluator.model is None  # unbound again


def test_evaluator_argument_errors():
    torch.manual_seed(0)
    s, t = Net(6), Net(6)
    with pytest.raises(TypeError, match=r"evaluator: expected a swiftcompress evaluator .*got int"):
        DynamicLayerwiseDistiller(s, [{"op_names": ["fc1"]}], 3, t, teacher_predict)
    with pytest.raises(TypeError, match="teacher_model: expected a torch.nn.Module, got NoneType"):
        DynamicLayerwiseDistiller(s, [{"op_names": ["fc1"]}], None, None, teacher_predict)
    d = DynamicLayerwiseDistiller(s, [{"op_names": ["fc1"]}], None, t, teacher_predict)
    with pytest.raises(StateError, match=r"compress\(max_steps, max_epochs\) trains through an evaluator"):
        d.compress(max_steps=1, max_epochs=None)
    evaluator = swiftcompress.TorchEvaluator(_training_func([]), swiftcompress.trace(torch.optim.SGD)(
        s.parameters(), lr=0.1), training_step)
    d2 = DynamicLayerwiseDistiller.from_compressor(d, [{"op_names": ["fc2"]}], Net(6), teacher_predict,
                                                   evaluator=evaluator)
    assert d2.evaluator is evaluator and d2.fused_compressors == [d2, d]
    with pytest.raises(InvalidArgumentError, match="max_steps and max_epochs are both None"):
        d2.compress(max_steps=None, max_epochs=None)
    with pytest.raises(TypeError, match="from_compressor: compressor: expected a swiftcompress compressor, got str"):
        DynamicLayerwiseDistiller.from_compressor("pruner", [{"op_names": ["fc2"]}], Net(6), teacher_predict)
    # main's L1NormPruner has no training hooks: it cannot be fused (checked before anything is wrapped)
    from swiftcompress.pruning import L1NormPruner
    pruner = L1NormPruner(s, [{"op_names": ["fc2"], "sparse_ratio": 0.5}])
    if not hasattr(pruner, "_fuse_preprocess"):
        with pytest.raises(TypeError, match="compressor: L1NormPruner cannot be fused"):
            DynamicLayerwiseDistiller.from_compressor(pruner, [{"op_names": ["fc1"]}], Net(6), teacher_predict)
    pruner.unwrap_model()


def test_from_compressor_warns_on_a_second_evaluator(caplog):
    torch.manual_seed(0)
    s, t = Net(6), Net(6)
    make = lambda: swiftcompress.TorchEvaluator(_training_func([]), swiftcompress.trace(torch.optim.SGD)(  # noqa: E731
        s.parameters(), lr=0.1), training_step)
    first = make()
    d = DynamicLayerwiseDistiller(s, [{"op_names": ["fc1"]}], first, t, teacher_predict)
    with caplog.at_level(logging.WARNING, logger="swiftcompress"):
        d2 = DynamicLayerwiseDistiller.from_compressor(d, [{"op_names": ["fc2"]}], Net(6), teacher_predict,
                                                       evaluator=make())
    assert d2.evaluator is first
    assert "the new evaluator passed to this function will be ignored" in caplog.text
