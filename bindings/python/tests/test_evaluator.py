"""swiftcompress.TorchEvaluator against NNI 3.0's nni.compression.TorchEvaluator.

Both evaluators drive the same training_func over the same seeded data and model, with the same
loss patch, optimizer-step tasks and gradient hooks; the trained weights, the patched losses and
what the hooks saw must be bit-identical (same torch ops in the same order on the CPU).
"""
from __future__ import annotations

import logging

import pytest
import torch

import nni
from nni.compression import TorchEvaluator as NniTorchEvaluator
from nni.compression.utils.evaluator import TensorHook as NniTensorHook, ForwardHook as NniForwardHook

import swiftcompress
from swiftcompress.utils import (BackwardHook, ForwardHook, LightningEvaluator, TensorHook, TorchEvaluator,
                                 TransformersEvaluator, trace)
from swiftcompress.errors import InvalidArgumentError, StateError


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))


def _batches():
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(4, 6, generator=g), torch.randint(0, 3, (4,), generator=g)) for _ in range(5)]


def _training_func(losses):
    def training_func(model, optimizer, training_step, lr_scheduler, max_steps, max_epochs):
        steps = 0
        for _ in range(max_epochs or 100):
            for batch in _batches():
                optimizer.zero_grad()
                loss = training_step(batch, model)
                losses.append(loss.detach().clone())
                loss.backward()
                optimizer.step()
                steps += 1
                if max_steps is not None and steps >= max_steps:
                    return
            if lr_scheduler is not None:
                lr_scheduler.step()
    return training_func


def _training_step(batch, model):
    return torch.nn.functional.cross_entropy(model(batch[0]), batch[1])


def _run(evaluator_cls, hook_classes, tracer, max_steps, max_epochs):
    """Trains _model() through an evaluator with a loss patch, step tasks and hooks; returns what
    every observer saw."""
    model = _model()
    optimizer = tracer(torch.optim.Adam)(model.parameters(), lr=0.01)
    scheduler = tracer(torch.optim.lr_scheduler.StepLR)(optimizer, step_size=1, gamma=0.5)
    losses, events, grads, outputs = [], [], [], []
    evaluator = evaluator_cls(_training_func(losses), optimizer, _training_step, scheduler,
                              dummy_input=torch.zeros(1, 6))
    evaluator._init_optimizer_helpers(model)
    evaluator.bind_model(model, {n: n for n, _ in model.named_parameters()})
    evaluator.patch_loss(lambda loss, batch: loss + 0.5 * batch[0].abs().mean())
    evaluator.patch_loss(lambda loss, batch: loss * 2)
    evaluator.patch_optimizer_step([lambda: events.append("before")], [lambda: events.append("after")])
    tensor_hook_cls, forward_hook_cls = hook_classes

    def grad_factory(buffer):
        def hook(grad):
            grads.append(grad.clone())
        return hook

    def forward_factory(buffer):
        def hook(module, inputs, output):
            outputs.append(output.detach().clone())
        return hook

    evaluator.register_hooks([tensor_hook_cls(model[0].weight, "0.weight", grad_factory),
                              forward_hook_cls(model[2], "2", forward_factory)])
    evaluator.train(max_steps, max_epochs)
    hooks_before = len(evaluator.get_all_hooks())
    evaluator.unbind_model()
    assert evaluator.get_all_hooks() == []
    # after unbind: neither the patches nor the hooks act on the model any more
    loss_after = _training_step(_batches()[0], model)
    loss_after.backward()
    return dict(weights=[p.detach().clone() for p in model.parameters()], losses=losses, events=events,
                grads=grads, outputs=outputs, hooks=hooks_before, lr=optimizer.param_groups[0]["lr"],
                grads_after_unbind=len(grads), dummy=evaluator.get_dummy_input())


@pytest.mark.parametrize("max_steps,max_epochs", [(7, None), (None, 2)])
def test_training_equals_nni(max_steps, max_epochs):
    ours = _run(TorchEvaluator, (TensorHook, ForwardHook), trace, max_steps, max_epochs)
    theirs = _run(NniTorchEvaluator, (NniTensorHook, NniForwardHook), nni.trace, max_steps, max_epochs)
    steps = max_steps if max_steps is not None else 5 * max_epochs
    assert len(ours["losses"]) == len(theirs["losses"]) == steps
    for a, b in zip(ours["losses"], theirs["losses"]):
        assert torch.equal(a, b)
    for a, b in zip(ours["weights"], theirs["weights"]):
        assert torch.equal(a, b)
    assert ours["events"] == theirs["events"] == ["before", "after"] * steps
    assert len(ours["grads"]) == len(theirs["grads"]) == steps
    for a, b in zip(ours["grads"], theirs["grads"]):
        assert torch.equal(a, b)
    for a, b in zip(ours["outputs"], theirs["outputs"]):
        assert torch.equal(a, b)
    assert ours["hooks"] == 2
    assert ours["grads_after_unbind"] == steps  # the hook was removed by unbind_model
    # The traced optimizer and scheduler were re-created on bind: the user's optimizer kept lr 0.01
    assert ours["lr"] == theirs["lr"] == 0.01
    assert torch.equal(ours["dummy"], torch.zeros(1, 6))


def test_loss_forms_sequence_and_dict():
    model = _model()
    seen = []

    def training_func(model, optimizer, training_step, lr_scheduler, max_steps, max_epochs):
        batch = _batches()[0]
        seen.append(training_step(batch, model))

    for form in ("tuple", "dict"):
        seen.clear()

        def step(batch, model, form=form):
            loss = torch.tensor(3.0)
            return (loss, "extra") if form == "tuple" else {"loss": loss, "n": 1}

        ev = TorchEvaluator(training_func, torch.optim.SGD(model.parameters(), lr=0.1), step)
        ev._init_optimizer_helpers(model)
        ev.bind_model(model)
        ev.patch_loss(lambda loss, batch: loss + 1)
        ev.train(max_steps=1)
        out = seen[0]
        if form == "tuple":
            assert out[0].item() == 4.0 and out[1] == "extra"
        else:
            assert out["loss"].item() == 4.0 and out["n"] == 1
        ev.revert_loss()
        seen.clear()
        ev.train(max_steps=1)
        assert (seen[0][0] if form == "tuple" else seen[0]["loss"]).item() == 3.0
        ev.unbind_model()


def test_plain_optimizer_is_used_as_given_and_param_groups_patched():
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    used = []

    def training_func(model, opt, training_step, lr_scheduler, max_steps, max_epochs):
        used.append(opt)

    ev = TorchEvaluator(training_func, optimizer, _training_step)
    ev._init_optimizer_helpers(model)
    ev.bind_model(model)
    extra = torch.nn.Parameter(torch.ones(2))
    stray = torch.nn.Parameter(torch.ones(1))
    ev.patch_optim_param_group({"2": [extra], "nowhere": [stray]})
    ev.train(max_steps=1)
    assert used == [optimizer]
    params = optimizer.param_groups[0]["params"]
    assert any(p is extra for p in params) and any(p is stray for p in params)
    with pytest.raises(InvalidArgumentError, match="leaf"):
        ev.patch_optim_param_group({"0": [extra * 2]})
    ev.unbind_model()


def test_evaluate_and_warnings(caplog):
    model = _model()
    ev = TorchEvaluator(lambda *a: None, torch.optim.SGD(model.parameters(), lr=0.1), _training_step,
                        evaluating_func=lambda m: {"default": 0.75, "top5": 0.9})
    ev._init_optimizer_helpers(model)
    with pytest.raises(StateError, match="bind_model first"):
        ev.evaluate()
    ev.bind_model(model)
    assert ev.evaluate() == (0.75, {"default": 0.75, "top5": 0.9})
    ev.unbind_model()
    with caplog.at_level(logging.WARNING, logger="swiftcompress"):
        ev.unbind_model()
    assert "Did not bind any model" in caplog.text
    ev2 = TorchEvaluator(lambda *a: None, torch.optim.SGD(model.parameters(), lr=0.1), _training_step)
    ev2._init_optimizer_helpers(model)
    ev2.bind_model(model)
    with caplog.at_level(logging.WARNING, logger="swiftcompress"):
        assert ev2.evaluate() is None
    assert "Did not pass evaluation_func" in caplog.text


def test_backward_hook_sees_output_gradient():
    model = _model()
    got = []

    def factory(buffer):
        def hook(module, grad_input, grad_output):
            got.append(grad_output[0].clone())
        return hook

    hook = BackwardHook(model[2], "2", factory)
    hook.register()
    x = torch.ones(2, 6)
    model(x).sum().backward()
    hook.remove()
    assert torch.equal(got[0], torch.ones(2, 3))  # d(sum)/d(output) = 1


def test_bad_arguments_are_named():
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(InvalidArgumentError, match="training_func must be callable"):
        TorchEvaluator(3, opt, _training_step)
    with pytest.raises(InvalidArgumentError, match=r"optimizers\[1\] must be a torch.optim.Optimizer, got str"):
        TorchEvaluator(lambda *a: None, [opt, "adam"], _training_step)
    with pytest.raises(InvalidArgumentError, match=r"lr_schedulers\[0\] must be a torch lr scheduler"):
        TorchEvaluator(lambda *a: None, opt, _training_step, lr_schedulers=[object()])
    other = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(InvalidArgumentError, match="not in optimizers"):
        TorchEvaluator(lambda *a: None, opt, _training_step, torch.optim.lr_scheduler.StepLR(other, 1))
    ev = TorchEvaluator(lambda *a: None, opt, _training_step)
    with pytest.raises(StateError, match="_init_optimizer_helpers"):
        ev.bind_model(model)
    ev._init_optimizer_helpers(model)
    with pytest.raises(StateError, match="no model is bound"):
        ev.train(max_steps=1)
    ev.bind_model(model)
    with pytest.raises(InvalidArgumentError, match="max_steps must be None or an int >= 0, got -1"):
        ev.train(max_steps=-1)
    with pytest.raises(InvalidArgumentError, match="before_step_tasks holds a int"):
        ev.patch_optimizer_step([1], [])
    with pytest.raises(InvalidArgumentError, match="TensorHook\\('x'\\): target must be a tensor"):
        TensorHook(model, "x", lambda b: None)
    with pytest.raises(InvalidArgumentError, match="set"):
        TorchEvaluator(lambda *a: None, trace(torch.optim.SGD)({p for p in model.parameters()}, lr=0.1),
                       _training_step)._init_optimizer_helpers(model)
    with pytest.raises(ImportError, match="LightningEvaluator"):
        LightningEvaluator(None, None)
    with pytest.raises(ImportError, match="TransformersEvaluator"):
        TransformersEvaluator(None)
    assert swiftcompress.TorchEvaluator is TorchEvaluator


def test_training_step_bad_output():
    model = _model()
    seen = []

    def training_func(model, optimizer, training_step, lr_scheduler, max_steps, max_epochs):
        seen.append(training_step(_batches()[0], model))

    ev = TorchEvaluator(training_func, torch.optim.SGD(model.parameters(), lr=0.1), lambda b, m: 3.0)
    ev._init_optimizer_helpers(model)
    ev.bind_model(model)
    ev.patch_loss(lambda loss, batch: loss)
    with pytest.raises(InvalidArgumentError, match="training_step must return a loss tensor"):
        ev.train(max_steps=1)
