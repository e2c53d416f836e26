"""Evaluators: the training loop of the caller, as NNI 3.0's ``nni.compression.TorchEvaluator``.

    from swiftcompress import TorchEvaluator               # was: from nni.compression import TorchEvaluator
    evaluator = TorchEvaluator(training_func, optimizer, training_step, lr_scheduler,
                               dummy_input=..., evaluating_func=...)
    pruner = TaylorPruner(model, config_list, evaluator, training_steps=100)

A training-aware compressor (Taylor, Slim, Movement pruners; QAT, LSQ, DoReFa, BNN quantizers;
the evaluator forms of the distillers) does not own a training loop: it borrows the caller's
through an evaluator, and intervenes in it at three points, as NNI 3.0 does:

- ``patch_loss(patch)``: the loss returned by ``training_step`` becomes ``patch(loss, batch)``
  (an added penalty, a distillation loss);
- ``patch_optimizer_step(before_step_tasks, after_step_tasks)``: callables run before and after
  each ``step()`` of the first optimizer (mask updates, schedules);
- ``register_hooks(hooks)``: tensor, forward and backward hooks (:class:`TensorHook`,
  :class:`ForwardHook`, :class:`BackwardHook`) that hand gradients and activations to the core.

The evaluator does no arithmetic on values: it only patches and calls. ``train(max_steps,
max_epochs)`` calls the caller's ``training_func`` with the bound model, the optimizer(s), the
patched ``training_step``, the lr scheduler(s) and the training length.

Optimizers (a documented divergence in how, not in what): NNI 3.0 requires optimizers and lr
schedulers created through ``nni.trace`` and re-creates them on every ``bind_model`` for its
renamed (``_nni_wrapper``) parameters. swiftcompress's wrapping leaves every parameter where it is,
so:

- a traced optimizer (by ``nni.trace`` or :func:`trace`: it has ``trace_symbol``, ``trace_args``,
  ``trace_kwargs``) is re-created on every ``bind_model`` exactly as NNI does — same class, same
  arguments, same parameter groups looked up by parameter name, fresh state — and so are the traced
  lr schedulers, on the new optimizers. Same seeds then give NNI's trajectory.
- a plain optimizer is used as it is (its state carries over between compressions), and so is a
  plain lr scheduler; NNI refuses these.

Parameters a compressor adds (LSQ's learnable scales, for example) enter the optimizers through
``patch_optim_param_group({module_name: [params]})``: into the parameter group that holds a
parameter of that module, else into the first group of the first optimizer (NNI's rule).

Errors: InvalidArgumentError (a ``ValueError``) naming the argument for anything that is not an
optimizer, scheduler or callable where one is expected; StateError for calls out of order (train
before bind_model, bind_model before ``_init_optimizer_helpers``).

``LightningEvaluator``, ``TransformersEvaluator`` and ``DeepspeedTorchEvaluator`` are NNI's names
for other training frameworks; they raise ImportError on construction (their frameworks are not
supported by this release: see docs/python.md).
"""
from __future__ import annotations

import copy
import functools
import logging
import types
from collections.abc import MutableMapping, Sequence
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor
from torch.nn import Module
from torch.optim import Optimizer
from torch.utils.hooks import RemovableHandle

from ..errors import InvalidArgumentError, StateError

__all__ = ["Evaluator", "TorchEvaluator", "LightningEvaluator", "TransformersEvaluator", "DeepspeedTorchEvaluator",
           "Hook", "TensorHook", "ModuleHook", "ForwardHook", "BackwardHook", "trace", "is_traceable"]

_logger = logging.getLogger("swiftcompress")

try:
    _SCHEDULER: Any = torch.optim.lr_scheduler.LRScheduler
except AttributeError:  # pragma: no cover - torch < 2.0
    _SCHEDULER = torch.optim.lr_scheduler._LRScheduler  # type: ignore[attr-defined]


# -- tracing (what nni.trace records) -------------------------------------------------------

def is_traceable(obj: Any) -> bool:
    """True when ``obj`` records how it was constructed: ``trace_symbol`` (the class),
    ``trace_args`` and ``trace_kwargs`` — objects made by ``nni.trace(cls)(...)`` or
    :func:`trace`."""
    return all(hasattr(obj, name) for name in ("trace_symbol", "trace_args", "trace_kwargs"))


def trace(cls: type) -> Callable[..., Any]:
    """``trace(torch.optim.Adam)(params, lr=...)``: constructs ``cls(*args, **kwargs)`` and records
    ``trace_symbol = cls``, ``trace_args`` and ``trace_kwargs`` on the instance, as ``nni.trace``
    does for classes, so that an evaluator can re-create the optimizer or lr scheduler for the
    compressed model. For scripts that drop NNI entirely; ``nni.trace`` objects work as well.
    InvalidArgumentError when ``cls`` is not a class."""
    if not isinstance(cls, type):
        raise InvalidArgumentError(f"trace: expected a class (an optimizer or lr scheduler class), got "
                                   f"{type(cls).__name__}")

    @functools.wraps(cls)
    def construct(*args: Any, **kwargs: Any) -> Any:
        # a one-shot iterator (model.parameters()) is kept as a list, for the record and the class
        args = tuple(list(a) if hasattr(a, "__next__") else a for a in args)
        kwargs = {k: (list(v) if hasattr(v, "__next__") else v) for k, v in kwargs.items()}
        obj = cls(*args, **kwargs)
        obj.trace_symbol = cls
        obj.trace_args = list(args)
        obj.trace_kwargs = dict(kwargs)
        return obj

    return construct


def _param_list(params: Any, what: str) -> List[Tensor]:
    if isinstance(params, Tensor):
        return [params]
    if isinstance(params, (set, frozenset)):
        raise InvalidArgumentError(f"{what}: optimizer parameters must be an ordered collection (a list), not a "
                                   "set: the order of a set changes between runs")
    return list(params)


class _OptimizerRecipe:
    """How to re-create a traced optimizer: its class, its arguments with the parameters replaced by
    parameter names (per group), deep-copied at recording."""

    def __init__(self, model: Module, optimizer: Optimizer, index: int) -> None:
        self.cls = optimizer.trace_symbol  # type: ignore[attr-defined]
        args = list(optimizer.trace_args)  # type: ignore[attr-defined]
        kwargs = dict(optimizer.trace_kwargs)  # type: ignore[attr-defined]
        what = f"optimizers[{index}]"
        self.in_kwargs = "params" in kwargs
        if self.in_kwargs:
            params = kwargs.pop("params")
        elif args:
            params = args.pop(0)
        else:
            raise InvalidArgumentError(f"{what}: the traced optimizer was built without parameters")
        groups = _param_list(params, what)
        if not groups:
            raise InvalidArgumentError(f"{what}: the traced optimizer was built with an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        names = {id(p): name for name, p in model.named_parameters()}
        self.groups = []
        for group in groups:
            group = dict(group)
            ids = {id(p) for p in _param_list(group["params"], what)}
            group["params"] = [name for name, p in model.named_parameters() if id(p) in ids and id(p) in names]
            self.groups.append(group)
        self.args = copy.deepcopy(args)
        self.kwargs = copy.deepcopy(kwargs)

    def build(self, model: Module, names_map: Optional[Dict[str, str]]) -> Optimizer:
        names_map = names_map or {}
        groups = copy.deepcopy(self.groups)
        for group in groups:
            wanted = {names_map.get(name, name) for name in group["params"]}
            group["params"] = [p for name, p in model.named_parameters() if name in wanted]
        args = copy.deepcopy(self.args)
        kwargs = copy.deepcopy(self.kwargs)
        if self.in_kwargs:
            kwargs["params"] = groups
        else:
            args.insert(0, groups)
        optimizer = self.cls(*args, **kwargs)
        optimizer.trace_symbol, optimizer.trace_args, optimizer.trace_kwargs = self.cls, args, kwargs
        return optimizer


class _SchedulerRecipe:
    def __init__(self, scheduler: Any) -> None:
        self.cls = scheduler.trace_symbol
        args = list(scheduler.trace_args)
        kwargs = dict(scheduler.trace_kwargs)
        self.in_kwargs = "optimizer" in kwargs
        if self.in_kwargs:
            kwargs["optimizer"] = None
        elif args:
            args[0] = None
        self.args = copy.deepcopy(args)
        self.kwargs = copy.deepcopy(kwargs)

    def build(self, optimizer: Optimizer) -> Any:
        args = copy.deepcopy(self.args)
        kwargs = copy.deepcopy(self.kwargs)
        if self.in_kwargs:
            kwargs["optimizer"] = optimizer
        else:
            args[0] = optimizer
        return self.cls(*args, **kwargs)


# -- hooks -----------------------------------------------------------------------------------

class Hook:
    """A torch hook made by ``hook_factory(buffer)`` on ``target`` (a tensor or a module), as NNI's.

    ``buffer`` is a list the hook may fill (gradients, activations); it is emptied on
    :meth:`remove`. ``target_name`` names the target in messages (``'conv1.weight'``)."""

    def __init__(self, target: Union[Module, Tensor], target_name: str,
                 hook_factory: Callable[[List], Callable]) -> None:
        if not callable(hook_factory):
            raise InvalidArgumentError(f"{type(self).__name__}({target_name!r}): hook_factory must be callable, got "
                                       f"{type(hook_factory).__name__}")
        self.target = target
        self.target_name = target_name
        self.hook_factory = hook_factory
        self.buffer: List = []
        self.handle: Optional[RemovableHandle] = None

    def _register(self, hook_func: Callable) -> RemovableHandle:
        raise NotImplementedError  # pragma: no cover - abstract

    def register(self) -> None:
        """Registers the hook (a warning when it is registered already)."""
        if self.handle is not None:
            _logger.warning("%s for %s already has been registered.", type(self).__name__, self.target_name)
            return
        self.handle = self._register(self.hook_factory(self.buffer))

    def remove(self) -> None:
        """Removes the hook and empties its buffer (a warning when it is not registered)."""
        if self.handle is None:
            _logger.warning("%s for %s has not been registered yet.", type(self).__name__, self.target_name)
            return
        self.handle.remove()
        self.handle = None
        self.buffer = []


class TensorHook(Hook):
    """A gradient hook on a tensor (``tensor.register_hook``); the hook gets the gradient."""

    def __init__(self, target: Tensor, target_name: str, hook_factory: Callable[[List], Callable]) -> None:
        if not isinstance(target, Tensor):
            raise InvalidArgumentError(f"TensorHook({target_name!r}): target must be a tensor, got "
                                       f"{type(target).__name__}")
        super().__init__(target, target_name, hook_factory)

    def _register(self, hook_func: Callable) -> RemovableHandle:
        return self.target.register_hook(hook_func)  # type: ignore[union-attr]


class ModuleHook(Hook):
    """Base of the module hooks."""

    def __init__(self, target: Module, target_name: str, hook_factory: Callable[[List], Callable]) -> None:
        if not isinstance(target, Module):
            raise InvalidArgumentError(f"{type(self).__name__}({target_name!r}): target must be a torch.nn.Module, "
                                       f"got {type(target).__name__}")
        super().__init__(target, target_name, hook_factory)


class ForwardHook(ModuleHook):
    """A forward hook (``module.register_forward_hook``): ``hook(module, input, output)``."""

    def _register(self, hook_func: Callable) -> RemovableHandle:
        return self.target.register_forward_hook(hook_func)  # type: ignore[union-attr]


class BackwardHook(ModuleHook):
    """A backward hook (``module.register_full_backward_hook``): ``hook(module, grad_input,
    grad_output)``. NNI 3.0 uses the deprecated ``register_backward_hook``; the full hook gives the
    gradients of the module's inputs and outputs as documented by torch, also for modules with
    several operations."""

    def _register(self, hook_func: Callable) -> RemovableHandle:
        return self.target.register_full_backward_hook(hook_func)  # type: ignore[union-attr]


# -- evaluators ------------------------------------------------------------------------------

class Evaluator:
    """Base of the evaluators: the interface compressors use (see the module docstring)."""

    _initialization_complete: bool = False

    def _init_optimizer_helpers(self, pure_model: Module) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def bind_model(self, model: Module, param_names_map: Optional[Dict[str, str]] = None) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def unbind_model(self) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def patch_loss(self, patch: Callable[[Tensor, Any], Tensor]) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def revert_loss(self) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def patch_optimizer_step(self, before_step_tasks: List[Callable], after_step_tasks: List[Callable]) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def revert_optimizer_step(self) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def patch_optim_param_group(self, module_name_param_dict: Dict[str, List[Tensor]]) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def register_hooks(self, hooks: List[Hook]) -> None:
        """Registers every hook (``Hook.register()``) and remembers it for :meth:`remove_all_hooks`."""
        if not hasattr(self, "_hooks"):
            self._hooks: List[Hook] = []
        for hook in hooks:
            if not isinstance(hook, Hook):
                raise InvalidArgumentError(f"register_hooks: expected Hook objects (TensorHook, ForwardHook, "
                                           f"BackwardHook), got {type(hook).__name__}")
            hook.register()
            self._hooks.append(hook)

    def get_all_hooks(self) -> List[Hook]:
        """The hooks registered and not removed."""
        return list(getattr(self, "_hooks", []))

    def remove_all_hooks(self) -> None:
        """Removes every registered hook (``Hook.remove()``)."""
        for hook in getattr(self, "_hooks", []):
            hook.remove()
        if hasattr(self, "_hooks"):
            self._hooks.clear()

    def train(self, max_steps: Optional[int] = None, max_epochs: Optional[int] = None) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def finetune(self) -> None:
        raise NotImplementedError  # pragma: no cover - abstract

    def evaluate(self) -> Any:
        raise NotImplementedError  # pragma: no cover - abstract

    def get_dummy_input(self) -> Any:
        raise NotImplementedError  # pragma: no cover - abstract


def _patched_output(out: Any, patch: Callable[[Tensor, Any], Tensor], batch: Any) -> Any:
    """``training_step``'s output with its loss replaced by ``patch(loss, batch)``: a tensor, the first
    element of a sequence, or ``out['loss']`` (NNI's three forms)."""
    if isinstance(out, Tensor):
        return patch(out, batch)
    if isinstance(out, Sequence) and not isinstance(out, str) and out and isinstance(out[0], Tensor):
        return (patch(out[0], batch),) + tuple(out[1:])
    if isinstance(out, MutableMapping) and isinstance(out.get("loss"), Tensor):
        out["loss"] = patch(out["loss"], batch)
        return out
    raise InvalidArgumentError("training_step must return a loss tensor, a sequence whose first element is the loss "
                               f"tensor, or a dict with a 'loss' tensor; got {type(out).__name__}")


class TorchEvaluator(Evaluator):
    """The evaluator of a plain PyTorch training loop (NNI 3.0's signature).

    ``training_func(model, optimizers, training_step, lr_schedulers, max_steps, max_epochs)`` is the
    caller's loop: it must call ``training_step(batch, model)`` for the loss, ``loss.backward()`` and
    ``optimizers.step()``, and stop after ``max_steps`` optimizer steps or ``max_epochs`` epochs
    (whichever is given; both may be None for the caller's default length).
    ``optimizers``: one ``torch.optim.Optimizer`` or a list; ``lr_schedulers``: None, one scheduler or
    a list (each on one of the optimizers). Traced ones (``nni.trace`` / :func:`trace`) are
    re-created per ``bind_model``; plain ones are used as they are (see the module docstring).
    ``training_step(batch, model, *args, **kwargs)`` returns the loss (a tensor, a sequence with the
    loss first, or a dict with ``'loss'``). ``dummy_input``: what :meth:`get_dummy_input` returns.
    ``evaluating_func(model)``: returns a float or a dict (its ``'default'`` is the metric).

    Raises InvalidArgumentError naming the argument for a wrong type.
    """

    def __init__(self, training_func: Callable, optimizers: Union[Optimizer, List[Optimizer]],
                 training_step: Callable, lr_schedulers: Any = None, dummy_input: Any = None,
                 evaluating_func: Optional[Callable] = None) -> None:
        if not callable(training_func):
            raise InvalidArgumentError(f"TorchEvaluator: training_func must be callable, got {type(training_func).__name__}")
        if not callable(training_step):
            raise InvalidArgumentError(f"TorchEvaluator: training_step must be callable, got {type(training_step).__name__}")
        if evaluating_func is not None and not callable(evaluating_func):
            raise InvalidArgumentError(f"TorchEvaluator: evaluating_func must be callable or None, got "
                                       f"{type(evaluating_func).__name__}")
        self.training_func = training_func
        self._ori_training_step = training_step
        self._training_step = training_step
        self.dummy_input = dummy_input
        self.evaluating_func = evaluating_func
        self._train_with_single_optimizer = isinstance(optimizers, Optimizer)
        self._train_with_single_scheduler = isinstance(lr_schedulers, _SCHEDULER)
        optimizer_list = list(optimizers) if isinstance(optimizers, (list, tuple)) else [optimizers]
        if not optimizer_list:
            raise InvalidArgumentError("TorchEvaluator: optimizers is empty; give a torch.optim.Optimizer or a list")
        for index, optimizer in enumerate(optimizer_list):
            if not isinstance(optimizer, Optimizer):
                raise InvalidArgumentError(f"TorchEvaluator: optimizers[{index}] must be a torch.optim.Optimizer, got "
                                           f"{type(optimizer).__name__}")
        if lr_schedulers is None:
            scheduler_list: List[Any] = []
        elif isinstance(lr_schedulers, (list, tuple)):
            scheduler_list = list(lr_schedulers)
        else:
            scheduler_list = [lr_schedulers]
        for index, scheduler in enumerate(scheduler_list):
            if not isinstance(scheduler, _SCHEDULER):
                raise InvalidArgumentError(f"TorchEvaluator: lr_schedulers[{index}] must be a torch lr scheduler, got "
                                           f"{type(scheduler).__name__}")
            if not any(scheduler.optimizer is optimizer for optimizer in optimizer_list):
                raise InvalidArgumentError(f"TorchEvaluator: lr_schedulers[{index}] schedules an optimizer that is not "
                                           "in optimizers")
        self._tmp_optimizers = optimizer_list
        self._tmp_lr_schedulers = scheduler_list
        self.model: Optional[Module] = None
        self._optimizers: Optional[List[Optimizer]] = None
        self._lr_schedulers: Optional[List[Any]] = None
        self._first_optimizer_step: Optional[Callable] = None
        self._param_names_map: Optional[Dict[str, str]] = None
        self._initialization_complete = False

    def _init_optimizer_helpers(self, pure_model: Module) -> None:
        """Records how to re-create the traced optimizers and schedulers for ``pure_model`` (the
        model as the caller built it). Called by the first compressor given this evaluator."""
        if self._initialization_complete:
            raise StateError("TorchEvaluator: the optimizer helpers are initialized already")
        if not isinstance(pure_model, Module):
            raise InvalidArgumentError(f"TorchEvaluator: the model must be a torch.nn.Module, got "
                                       f"{type(pure_model).__name__}")
        self._optimizer_recipes = [(_OptimizerRecipe(pure_model, o, i) if is_traceable(o) else o)
                                   for i, o in enumerate(self._tmp_optimizers)]
        ids = {id(o): i for i, o in enumerate(self._tmp_optimizers)}
        self._scheduler_recipes = [(_SchedulerRecipe(s) if is_traceable(s) else s) for s in self._tmp_lr_schedulers]
        self._scheduler_optimizer = [ids[id(s.optimizer)] for s in self._tmp_lr_schedulers]
        del self._tmp_optimizers, self._tmp_lr_schedulers
        self._initialization_complete = True

    def bind_model(self, model: Module, param_names_map: Optional[Dict[str, str]] = None) -> None:
        """Binds the (wrapped) model: traced optimizers and schedulers are re-created for it; a model
        bound before is unbound first (with a warning, as NNI)."""
        if not self._initialization_complete:
            raise StateError("TorchEvaluator.bind_model: call _init_optimizer_helpers(model) first (a compressor "
                             "does it when it is given the evaluator)")
        if not isinstance(model, Module):
            raise InvalidArgumentError(f"TorchEvaluator.bind_model: model must be a torch.nn.Module, got "
                                       f"{type(model).__name__}")
        if self.model is not None:
            _logger.warning("Already bound a model, will unbind it before bind a new model.")
            self.unbind_model()
        self.model = model
        self._param_names_map = param_names_map
        self._optimizers = [r.build(model, param_names_map) if isinstance(r, _OptimizerRecipe) else r
                            for r in self._optimizer_recipes]
        self._lr_schedulers = [r.build(self._optimizers[self._scheduler_optimizer[i]])
                               if isinstance(r, _SchedulerRecipe) else r
                               for i, r in enumerate(self._scheduler_recipes)]
        self._first_optimizer_step = self._optimizers[0].__dict__.get("step")

    def unbind_model(self) -> None:
        """Reverts the loss and optimizer patches, removes the hooks and forgets the model."""
        if self.model is None:
            _logger.warning("Did not bind any model, no need to unbind model.")
            return
        self.revert_loss()
        self.revert_optimizer_step()
        self.remove_all_hooks()
        self._first_optimizer_step = None
        self._lr_schedulers = None
        self._optimizers = None
        self._param_names_map = None
        self.model = None

    def _bound(self, what: str) -> List[Optimizer]:
        if self.model is None or self._optimizers is None:
            raise StateError(f"TorchEvaluator.{what}: no model is bound (bind_model first)")
        return self._optimizers

    def patch_optim_param_group(self, module_name_param_dict: Dict[str, List[Tensor]]) -> None:
        """Adds parameters a compressor created, ``{module_name: [tensor, ...]}``, to the parameter
        group that holds a parameter of that module (searching the optimizers in order), else to
        the first group of the first optimizer. Non-leaf tensors raise InvalidArgumentError."""
        optimizers = self._bound("patch_optim_param_group")
        assert self.model is not None
        owner = {id(p): name.rpartition(".")[0] for name, p in self.model.named_parameters()}
        for module_name, params in module_name_param_dict.items():
            for param in params:
                if not isinstance(param, Tensor) or not (param.is_leaf or param.retains_grad):
                    raise InvalidArgumentError(f"patch_optim_param_group: {module_name}: expected leaf tensors, got "
                                               f"{type(param).__name__}")
            placed = False
            for optimizer in optimizers:
                for group in optimizer.param_groups:
                    if any(owner.get(id(p)) == module_name for p in group["params"]):
                        group["params"].extend(params)
                        placed = True
                        break
                if placed:
                    break
            if not placed:
                optimizers[0].param_groups[0]["params"].extend(params)

    def patch_loss(self, patch: Callable[[Tensor, Any], Tensor]) -> None:
        """From now on the loss of ``training_step(batch, ...)`` is ``patch(loss, batch)``; patches
        stack (the last one applies to the result of the earlier ones)."""
        if not callable(patch):
            raise InvalidArgumentError(f"patch_loss: patch must be callable, got {type(patch).__name__}")
        old_step = self._training_step

        def patched_training_step(*args: Any, **kwargs: Any) -> Any:
            out = old_step(*args, **kwargs)
            batch = args[0] if args else kwargs.get("batch")
            return _patched_output(out, patch, batch)

        self._training_step = patched_training_step

    def revert_loss(self) -> None:
        """Removes every loss patch."""
        self._training_step = self._ori_training_step

    def patch_optimizer_step(self, before_step_tasks: List[Callable], after_step_tasks: List[Callable]) -> None:
        """Runs ``before_step_tasks`` before and ``after_step_tasks`` after each ``step()`` of the
        first optimizer (NNI patches the first optimizer only, and so do we)."""
        optimizers = self._bound("patch_optimizer_step")
        for what, tasks in (("before_step_tasks", before_step_tasks), ("after_step_tasks", after_step_tasks)):
            for task in tasks:
                if not callable(task):
                    raise InvalidArgumentError(f"patch_optimizer_step: {what} holds a {type(task).__name__}, not a "
                                               "callable")
        optimizer = optimizers[0]
        old_step = optimizer.step
        before, after = list(before_step_tasks), list(after_step_tasks)

        def patched_step(_: Any, *args: Any, **kwargs: Any) -> Any:
            for task in before:
                task()
            output = old_step(*args, **kwargs)
            for task in after:
                task()
            return output

        optimizer.step = types.MethodType(patched_step, optimizer)  # type: ignore[method-assign]

    def revert_optimizer_step(self) -> None:
        """Restores the first optimizer's own ``step``."""
        if not self._optimizers:
            return
        optimizer = self._optimizers[0]
        if self._first_optimizer_step is not None:
            optimizer.step = self._first_optimizer_step  # type: ignore[method-assign]
        else:
            optimizer.__dict__.pop("step", None)

    def train(self, max_steps: Optional[int] = None, max_epochs: Optional[int] = None) -> None:
        """Calls ``training_func`` with the bound model, the optimizer(s), the patched
        ``training_step``, the scheduler(s), ``max_steps`` and ``max_epochs``."""
        optimizers = self._bound("train")
        for what, value in (("max_steps", max_steps), ("max_epochs", max_epochs)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise InvalidArgumentError(f"TorchEvaluator.train: {what} must be None or an int >= 0, got {value!r}")
        optimizer_arg: Any = optimizers[0] if self._train_with_single_optimizer else optimizers
        schedulers = self._lr_schedulers or []
        scheduler_arg: Any = None if not schedulers else (schedulers[0] if self._train_with_single_scheduler
                                                          else schedulers)
        self.training_func(self.model, optimizer_arg, self._training_step, scheduler_arg, max_steps, max_epochs)

    def finetune(self) -> None:
        """``train()`` with the caller's default length."""
        self.train()

    def evaluate(self) -> Any:
        """``evaluating_func(model)``: a float as it is; a dict as ``(dict['default'], dict)``; None with
        a warning when no evaluating_func was given (NNI's rules)."""
        if self.model is None:
            raise StateError("TorchEvaluator.evaluate: no model is bound (bind_model first)")
        if self.evaluating_func is None:
            _logger.warning("Did not pass evaluation_func to %s, will return None for calling evaluate()",
                            type(self).__name__)
            return None
        metric = self.evaluating_func(self.model)
        if isinstance(metric, dict):
            if "default" not in metric:
                _logger.warning("Evaluation function returns a dict metric without key `default`, will return None "
                                "as the model evaluation metric value.")
            return metric.get("default"), metric
        return metric

    def get_dummy_input(self) -> Any:
        """The ``dummy_input`` given to the constructor."""
        return self.dummy_input


def _unsupported(name: str, package: str) -> type:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        raise ImportError(f"{name} (NNI's evaluator for {package}) is not supported by this swiftcompress release; "
                          "use TorchEvaluator with a training_func that runs your loop (docs/python.md)")

    return type(name, (Evaluator,), {"__init__": __init__, "__doc__": f"NNI's {name}: not supported; raises "
                                                                        "ImportError on construction."})


LightningEvaluator = _unsupported("LightningEvaluator", "PyTorch Lightning")
TransformersEvaluator = _unsupported("TransformersEvaluator", "Hugging Face transformers")
DeepspeedTorchEvaluator = _unsupported("DeepspeedTorchEvaluator", "DeepSpeed")
