"""Training-aware pruners (NNI 3.0's TaylorPruner, SlimPruner) and scheduled pruners (LinearPruner,
AGPPruner) whose metrics, penalties and schedules are computed by the Swift core.

The training loop is the evaluator's (NNI's ``TorchEvaluator`` interface: ``bind_model``,
``patch_loss``, ``patch_optimizer_step(before_step_tasks, after_step_tasks)``, ``register_hooks``,
``train(max_steps, max_epochs)``, ``unbind_model``). Python only walks targets, registers hooks and
passes tensor pointers: Taylor's ``(w * g)^2`` accumulation and average, Slim's ``|factor|`` metric
and its L1 penalty (value and gradient, through a ``torch.autograd.Function`` whose forward and
backward call the core) and the Linear / AGP goal schedules are computed by the core
(``sc_taylor_*``, ``sc_slim_*``, ``sc_session_set_schedule``). CPU tensors only (the accumulators
read the gradients in place).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from .. import _core, _distributed
from .._tensors import spec as _spec
from ..errors import InvalidArgumentError, PruningError
from . import Pruner, Masks, L1NormPruner, L2NormPruner, LevelPruner, FPGMPruner

from ..utils.evaluator import TensorHook as _OurTensorHook
from .._fusion import fusion_train


def _tensor_hook(evaluator: Any, *args: Any) -> Any:
    """A TensorHook of the evaluator's own family (ours, or NNI's for NNI's evaluators: each checks
    the hook class it registers)."""
    if type(evaluator).__module__.startswith("nni."):
        from nni.compression.utils.evaluator import TensorHook as NNITensorHook
        return NNITensorHook(*args)
    return _OurTensorHook(*args)

__all__ = ["TaylorPruner", "SlimPruner", "MovementPruner", "LinearPruner", "AGPPruner"]


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidArgumentError(f"{name}: expected an int >= {low}, got {value!r}")
    return value


def _check_evaluator(evaluator: Any, owner: str, model: Optional[torch.nn.Module] = None) -> Any:
    """``evaluator`` after NNI's first-use initialization on ``model`` (its optimizer helpers)."""
    for method in ("bind_model", "patch_optimizer_step", "register_hooks", "train", "unbind_model", "patch_loss"):
        if not callable(getattr(evaluator, method, None)):
            raise InvalidArgumentError(f"{owner}: evaluator must be an Evaluator (TorchEvaluator); "
                                       f"{type(evaluator).__name__} has no {method}()")
    if model is not None and getattr(evaluator, "_initialization_complete", True) is False:
        evaluator._init_optimizer_helpers(model)
    return evaluator


_UNMASKED: Any = object()


class _TrainingPruner(Pruner):
    """Base of the training-aware pruners: an evaluator, a trigger after each optimizer step and
    NNI's ``interval_steps`` / ``total_times`` (set by LinearPruner / AGPPruner)."""

    def __init__(self, model: torch.nn.Module, config_list: List[Dict], evaluator: Any) -> None:
        # before the base constructor, which wraps the model (wrap_model reads it)
        self._own_parameters: List[Tuple[torch.nn.Module, str, torch.nn.Parameter]] = []
        super().__init__(model, config_list, _check_evaluator(evaluator, type(self).__name__, model))
        self.fused_compressors = [self]
        self.interval_steps = -1
        self.total_times: Any = 1

    def _register_own(self, module: torch.nn.Module, name: str, parameter: torch.nn.Parameter) -> None:
        """Registers a pruner-owned Parameter (a Slim factor, a movement score) on ``module`` while
        the model is wrapped; unwrap_model() takes it off again, as NNI's wrapper-held ones go with
        the wrapper (so ModelSpeedup and state_dict see the user's parameters only)."""
        module.register_parameter(name, parameter)
        self._own_parameters.append((module, name, parameter))

    def wrap_model(self) -> None:
        was_wrapped = self._is_wrapped
        super().wrap_model()
        if not was_wrapped:
            for module, name, parameter in self._own_parameters:
                module.register_parameter(name, parameter)

    def unwrap_model(self) -> None:
        was_wrapped = self._is_wrapped
        super().unwrap_model()
        if was_wrapped:
            for module, name, _ in self._own_parameters:
                if name in module._parameters:
                    delattr(module, name)

    def _bind_and_generate(self, source: Callable[[Any], Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]],
                           metric: int) -> None:
        """Binds each target's ranked tensor and optional per-block metric given by ``source`` and
        has the core write new masks (the wrapped forward uses them from then on)."""
        session = self._session
        new_masks: List[Optional[torch.Tensor]] = []
        for target in self._targets:
            tensor = target.tensor() if target.is_parameter else None
            if tensor is None and target.shape is not None:
                # an '_output_' target seen in training (align only: the constructor refuses one with a
                # rule of its own): the core aligns a mask of the metric's keepdim shape, which the
                # wrapped forward multiplies into the output (NNI's output mask)
                shape = session.metric_shape(target.module_name, target.target_name, list(target.shape), False)
                carrier = torch.zeros(shape)
                mask = torch.empty(shape)
                session.bind(target.module_name, target.target_name, _spec(carrier), _spec(mask), (carrier, mask))
                new_masks.append(mask)
                continue
            if tensor is None:
                session.bind(target.module_name, target.target_name, None, None)
                new_masks.append(None)
                continue
            ranked, block_metric = source(target)
            if ranked is _UNMASKED:  # NNI leaves this target's mask all ones (bound as absent: no rule reads it)
                session.bind(target.module_name, target.target_name, None, None)
                new_masks.append(torch.ones_like(tensor, requires_grad=False))
                continue
            ranked = tensor if ranked is None else ranked
            mask = torch.empty_like(tensor, requires_grad=False)
            session.bind(target.module_name, target.target_name, _spec(ranked), _spec(mask), (ranked, mask))
            if block_metric is not None:
                session.bind_metric(target.module_name, target.target_name, _spec(block_metric), block_metric)
            new_masks.append(mask)
        session.generate_masks(metric)
        for target, mask in zip(self._targets, new_masks):
            target.mask = mask
        self._compressed = True

    def _active(self) -> List[Any]:
        return [t for t in self._targets if t.is_parameter and t.has_rule and t.tensor() is not None]

    def _fusion_compress(self, max_steps: Optional[int], max_epochs: Optional[int]) -> None:
        fusion_train(self.evaluator, self.bound_model, self.fused_compressors, max_steps, max_epochs)

    def _fuse_postprocess(self, evaluator: Any) -> None:
        pass

    def compress(self, max_steps: Optional[int] = None, max_epochs: Optional[int] = None  # type: ignore[override]
                 ) -> Tuple[torch.nn.Module, Masks]:
        """Trains through the evaluator for ``training_steps`` optimizer steps (NNI: no
        ``max_steps`` / ``max_epochs`` for a single Taylor / Slim pruner; InvalidArgumentError
        otherwise), generating the masks with the core after the last one; returns
        ``(model, masks)``."""
        if max_steps is not None or max_epochs is not None:
            raise InvalidArgumentError(f"{type(self).__name__}.compress: max_steps and max_epochs must be None (the "
                                       "pruner trains for training_steps); got "
                                       f"max_steps={max_steps!r}, max_epochs={max_epochs!r}")
        self._fusion_compress(self.training_steps, None)  # type: ignore[attr-defined]
        return self.bound_model, self.get_masks()

    def _step_trigger(self, generate: Callable[[], None], on_reset: Callable[[], None]) -> Callable[[], None]:
        """NNI's trigger: count optimizer steps; generate at ``training_steps``; restart every
        ``interval_steps`` while ``total_times`` remain."""
        self._current_step = 0
        self._remaining_times = self.total_times

        def task() -> None:
            self._current_step += 1
            if self._current_step == self.training_steps:  # type: ignore[attr-defined]
                generate()
                if isinstance(self._remaining_times, int):
                    self._remaining_times -= 1
            if self._current_step == self.interval_steps and (
                    self._remaining_times == "unlimited" or self._remaining_times > 0):
                self._current_step = 0
                on_reset()
        return task


class TaylorPruner(_TrainingPruner):
    """NNI 3.0's TaylorPruner: ``TaylorPruner(model, config_list, evaluator, training_steps)``.

    Each backward of ``training_steps`` optimizer steps, a hook on every pruned weight has the core
    accumulate ``(w * dL/dw)^2`` (``sc_taylor_accumulate``); after the last step the core averages
    it over ``training_steps`` (``sc_taylor_average``) and ranks the blocks by its L1 norm, NNI's
    ``norm_metrics(p=1)``. Errors: InvalidArgumentError naming ``evaluator`` / ``training_steps``.
    """

    def __init__(self, model: torch.nn.Module, config_list: List[Dict], evaluator: Any, training_steps: int) -> None:
        self.training_steps = _check_int(training_steps, "TaylorPruner: training_steps", 1)
        super().__init__(model, config_list, evaluator)
        self.interval_steps = training_steps
        self._buffers: Dict[int, torch.Tensor] = {}

    @classmethod
    def from_compressor(cls, compressor: Any, new_config_list: List[Dict], training_steps: int,
                        evaluator: Any = None) -> "TaylorPruner":
        """A TaylorPruner over ``compressor``'s model (unwrapped first), with ``compressor``'s
        evaluator unless it has none (then ``evaluator``)."""
        model, evaluator = _take_over(compressor, evaluator)
        return cls(model, new_config_list, evaluator, training_steps)

    def _fuse_preprocess(self, evaluator: Any) -> None:
        hooks = []
        self._buffers = {}
        for index, target in enumerate(self._targets):
            if not (target.is_parameter and target.has_rule):
                continue
            weight = target.tensor()
            if weight is None:
                continue
            hooks.append(_tensor_hook(evaluator, weight, target.target_name, self._collector(index, weight)))
        evaluator.register_hooks(hooks)
        evaluator.patch_optimizer_step(before_step_tasks=[], after_step_tasks=[
            self._step_trigger(self._generate, self._buffers.clear)])

    def _collector(self, index: int, weight: torch.Tensor) -> Callable[[List[Any]], Callable[[torch.Tensor], None]]:
        def factory(buffer: List[Any]) -> Callable[[torch.Tensor], None]:
            def collect(grad: torch.Tensor) -> None:
                if self._current_step >= self.training_steps:
                    return
                acc = self._buffers.get(index)
                first = acc is None
                if acc is None:
                    acc = self._buffers[index] = torch.empty_like(grad)
                g = grad.detach()
                _core.taylor_accumulate(_spec(acc), _spec(weight.detach()), _spec(g), first)
            return collect
        return factory

    def _generate(self) -> None:
        averages: Dict[int, torch.Tensor] = {}
        for index, acc in self._buffers.items():
            out = torch.empty_like(acc)
            _core.taylor_average(_spec(acc), self.training_steps, _spec(out))
            averages[index] = out
        position = {id(t): i for i, t in enumerate(self._targets)}

        def source(target: Any) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
            avg = averages.get(position[id(target)])
            if avg is None and target.has_rule:
                raise PruningError(f"{target.qualified_name}: TaylorPruner received no gradient for it in "
                                   f"{self.training_steps} training steps")
            return avg, None
        self._bind_and_generate(source, _core.SC_METRIC_L1)


class _SlimPenalty(torch.autograd.Function):
    """``loss + regular_scale * mean_k ||factor_k||_1``: value and gradients from the core."""

    @staticmethod
    def forward(ctx: Any, scale: float, loss: torch.Tensor, *factors: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.scale = scale
        ctx.save_for_backward(*factors)
        loss_d = loss.detach()
        out = torch.empty_like(loss_d)
        _core.slim_penalty(_spec(loss_d), [_spec(f.detach()) for f in factors], scale, _spec(out))
        return out

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> Any:  # type: ignore[override]
        factors = ctx.saved_tensors
        grads = [torch.empty_like(f) for f in factors]
        go = grad_output.detach()
        _core.slim_penalty_backward([_spec(f.detach()) for f in factors], ctx.scale, _spec(go),
                                    [_spec(g) for g in grads])
        return (None, grad_output, *grads)


class SlimPruner(_TrainingPruner):
    """NNI 3.0's SlimPruner: ``SlimPruner(model, config_list, evaluator, training_steps, regular_scale=1.)``.

    Each pruned target gets a scaling factor (a Parameter of the target's metric shape, ones,
    registered on the module as ``<target>_slim_factor``) that the wrapped forward multiplies into
    the target (NNI's ``slim_mul``), trained by its own ``Adam(lr=1e-2)`` stepped before the
    user's optimizer step as NNI. The loss is patched with the core's
    ``loss + regular_scale * mean ||factor||_1`` (``sc_slim_penalty``, its gradient from
    ``sc_slim_penalty_backward``); after ``training_steps`` steps the masks rank ``|factor|``
    (``sc_slim_metric``). Errors: InvalidArgumentError naming the argument.
    """

    def __init__(self, model: torch.nn.Module, config_list: List[Dict], evaluator: Any, training_steps: int,
                 regular_scale: float = 1.) -> None:
        self.training_steps = _check_int(training_steps, "SlimPruner: training_steps", 1)
        if isinstance(regular_scale, bool) or not isinstance(regular_scale, (int, float)) or \
                regular_scale != regular_scale or regular_scale in (float("inf"), float("-inf")):
            raise InvalidArgumentError(f"SlimPruner: regular_scale: expected a finite number, got {regular_scale!r}")
        self.regular_scale = float(regular_scale)
        super().__init__(model, config_list, evaluator)
        self.interval_steps = training_steps
        self.scaling_factors: Dict[str, Dict[str, torch.nn.Parameter]] = {}
        self._factor_of: Dict[int, torch.nn.Parameter] = {}

    @classmethod
    def from_compressor(cls, compressor: Any, new_config_list: List[Dict], training_steps: int,
                        regular_scale: float = 1., evaluator: Any = None) -> "SlimPruner":
        """A SlimPruner over ``compressor``'s model (see TaylorPruner.from_compressor)."""
        model, evaluator = _take_over(compressor, evaluator)
        return cls(model, new_config_list, evaluator, training_steps, regular_scale)

    def _fuse_preprocess(self, evaluator: Any) -> None:
        factors = []
        session = self._session
        for index, target in enumerate(self._targets):
            weight = target.tensor() if target.is_parameter else None
            if weight is None or not target.has_rule:
                continue
            # ones of the target's metric shape from the core (NNI: the scaler's keepdim shrink; a
            # BatchNorm weight's metric is per element, a Conv2d / Linear weight's per output channel)
            shape = session.metric_shape(target.module_name, target.target_name, list(weight.shape), False)
            if len(shape) != weight.dim() or any(s not in (1, w) for s, w in zip(shape, weight.shape)):
                raise PruningError(f"{target.qualified_name}: SlimPruner needs a granularity whose blocks broadcast "
                                   f"over the target (whole dims); metric shape {tuple(shape)} for a target of shape "
                                   f"{tuple(weight.shape)}")
            factor = torch.nn.Parameter(torch.ones(shape, dtype=weight.dtype, device=weight.device))
            self._register_own(target.module, f"{target.target_name}_slim_factor", factor)
            self.scaling_factors.setdefault(target.module_name, {})[target.target_name] = factor
            self._factor_of[index] = factor
            target.factor = factor
            factors.append(factor)
        if factors:
            optimizer = torch.optim.Adam([{"params": factors}], 1e-2)
            evaluator.patch_optimizer_step(before_step_tasks=[optimizer.step], after_step_tasks=[optimizer.zero_grad])
        scale = self.regular_scale

        def loss_patch(original_loss: torch.Tensor, batch: Any) -> torch.Tensor:
            return _SlimPenalty.apply(scale, original_loss, *factors)
        evaluator.patch_loss(loss_patch)
        evaluator.patch_optimizer_step(before_step_tasks=[], after_step_tasks=[
            self._step_trigger(self._generate, lambda: None)])

    def _generate(self) -> None:
        position = {id(t): i for i, t in enumerate(self._targets)}

        def source(target: Any) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
            factor = self._factor_of.get(position[id(target)])
            if factor is None:  # no rank of its own: an aligned bias follows its weight (the core's align rule)
                return None, None
            metric = torch.empty_like(factor, requires_grad=False)
            _core.slim_metric(_spec(factor.detach()), _spec(metric))
            return None, metric  # |factor| is the per-block metric (NNI ranks it as given)
        self._bind_and_generate(source, _core.SC_METRIC_SUPPLIED)


class _StraightThrough(torch.autograd.Function):
    """Forward: the mask; backward: the incoming gradient passed to the score (NNI's movement STE;
    autograd reduces it to the score's block shape)."""

    @staticmethod
    def forward(ctx: Any, score: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return mask

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> Any:  # type: ignore[override]
        return grad_output, None


class MovementPruner(_TrainingPruner):
    """NNI 3.0's MovementPruner: ``MovementPruner(model, config_list, evaluator, warmup_step,
    cooldown_begin_step, regular_scale=1.)``.

    Each pruned target gets a score (a Parameter of the target's metric shape from the core,
    zeros, registered as ``<target>_mvp_score``); the wrapped forward computes
    ``target * STE(score, mask)`` (NNI's ``movement_mul``), so the score is trained with
    ``dL/d(mask) = dL/d(target') * target`` by its own ``Adam(lr=1e-2)`` stepped before the user's
    optimizer as NNI. After every optimizer step past ``warmup_step`` the core ranks the scores
    (supplied metric) with goals grown by the AGP schedule until ``cooldown_begin_step``
    (``sc_session_set_schedule``). Built for ``sparse_ratio`` targets (NNI's ratio path; NNI adds no
    penalty there either). NOT built: NNI's ``sparse_threshold`` path (sigmoid scores,
    ``regular_scale`` penalty); a threshold target is cut on the raw scores, which differs from NNI. Errors: InvalidArgumentError naming the argument.
    """

    def __init__(self, model: torch.nn.Module, config_list: List[Dict], evaluator: Any, warmup_step: int,
                 cooldown_begin_step: int, regular_scale: float = 1.) -> None:
        warmup_step = _check_int(warmup_step, "MovementPruner: warmup_step", 0)
        cooldown_begin_step = _check_int(cooldown_begin_step, "MovementPruner: cooldown_begin_step", 1)
        if not warmup_step < cooldown_begin_step:
            raise InvalidArgumentError(f"MovementPruner: warmup_step ({warmup_step}) must be smaller than "
                                       f"cooldown_begin_step ({cooldown_begin_step})")
        self.warmup_step = warmup_step
        self.cooldown_begin_step = cooldown_begin_step
        self.regular_scale = regular_scale
        super().__init__(model, config_list, evaluator)
        self.interval_steps = 1
        self.total_times = cooldown_begin_step - warmup_step
        self.scores: Dict[str, Dict[str, torch.nn.Parameter]] = {}

    @classmethod
    def from_compressor(cls, compressor: Any, new_config_list: List[Dict], warmup_step: int, cooldown_begin_step: int,
                        regular_scale: float = 1., evaluator: Any = None) -> "MovementPruner":
        """A MovementPruner over ``compressor``'s model (see TaylorPruner.from_compressor)."""
        model, evaluator = _take_over(compressor, evaluator)
        return cls(model, new_config_list, evaluator, warmup_step, cooldown_begin_step, regular_scale)

    def compress(self, max_steps: Optional[int], max_epochs: Optional[int]  # type: ignore[override]
                 ) -> Tuple[torch.nn.Module, Masks]:
        """Trains ``max_steps`` (>= cooldown_begin_step, else InvalidArgumentError) or
        ``max_epochs``; masks regenerated after every step past warmup_step."""
        if max_steps is not None and max_steps < self.cooldown_begin_step:
            raise InvalidArgumentError(f"MovementPruner.compress: max_steps is {max_steps}; expected at least "
                                       f"cooldown_begin_step = {self.cooldown_begin_step}")
        self._fusion_compress(max_steps, max_epochs)
        return self.bound_model, self.get_masks()

    def _fuse_preprocess(self, evaluator: Any) -> None:
        session = self._session
        session.set_schedule(_core.SC_SCHEDULE_AGP, 0, self.total_times)  # NNI: goals * 0 until the first update
        scores = []
        for target in self._targets:
            weight = target.tensor() if target.is_parameter else None
            if weight is None or not target.has_rule or target.apply != "mul":
                continue
            shape = session.metric_shape(target.module_name, target.target_name, list(weight.shape), False)
            score = torch.nn.Parameter(torch.zeros(shape, dtype=weight.dtype, device=weight.device))
            self._register_own(target.module, f"{target.target_name}_mvp_score", score)
            self.scores.setdefault(target.module_name, {})[target.target_name] = score
            target.score = score
            target.mask = torch.ones_like(weight, requires_grad=False)  # NNI's initial mask
            scores.append(score)
        if scores:
            optimizer = torch.optim.Adam([{"params": scores}], 1e-2)

            def score_step() -> None:
                optimizer.step()
                optimizer.zero_grad()
            evaluator.patch_optimizer_step(before_step_tasks=[score_step], after_step_tasks=[])
        state = {"step": 0, "interval": 0, "remaining": self.total_times}

        def task() -> None:
            state["step"] += 1
            if self.warmup_step < state["step"] <= self.cooldown_begin_step:
                state["interval"] += 1
                if state["interval"] == self.interval_steps:
                    state["remaining"] -= 1
                    session.set_schedule(_core.SC_SCHEDULE_AGP, self.total_times - state["remaining"], self.total_times)
                    if state["remaining"] > 0:
                        state["interval"] = 0
            if self.warmup_step < state["step"]:
                self._generate()
        evaluator.patch_optimizer_step(before_step_tasks=[], after_step_tasks=[task])

    def _generate(self) -> None:
        def source(target: Any) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
            if target.score is None:
                return None, None
            return None, target.score.detach()
        self._bind_and_generate(source, _core.SC_METRIC_SUPPLIED)


def _take_over(compressor: Any, evaluator: Any) -> Tuple[torch.nn.Module, Any]:
    if getattr(compressor, "_is_wrapped", False):
        compressor.unwrap_model()
    own = getattr(compressor, "evaluator", None)
    return compressor.bound_model, own if own is not None else evaluator


_BASIC = (LevelPruner, L1NormPruner, L2NormPruner, FPGMPruner)


class _ComboPruner:
    """NNI's LinearPruner / AGPPruner: the bound pruner's goals grow by the core's schedule
    (``sc_session_set_schedule``) every ``interval_steps`` optimizer steps, ``total_times`` times."""

    _schedule: int = _core.SC_SCHEDULE_LINEAR

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _distributed.wrap_constructors(cls, _core.SC_MODE_PRUNING)  # as Pruner's (docs/distributed.md)

    def __init__(self, pruner: Pruner, interval_steps: int, total_times: int, evaluator: Any = None) -> None:
        name = type(self).__name__
        if not isinstance(pruner, Pruner):
            raise InvalidArgumentError(f"{name}: pruner must be a swiftcompress pruner, got {type(pruner).__name__}")
        self.interval_steps = _check_int(interval_steps, f"{name}: interval_steps", 1)
        self.total_times = _check_int(total_times, f"{name}: total_times", 1)
        own = getattr(pruner, "evaluator", None)
        self.evaluator = _check_evaluator(own if own is not None else evaluator, name, pruner.bound_model)
        self.bound_pruner = pruner
        self.bound_model = pruner.bound_model
        # NNI: the combo pruner heads its bound pruner's fusion chain (from_compressor on it fuses both)
        self.fused_compressors: List[Any] = [self] + list(getattr(pruner, "fused_compressors", [pruner]))[1:]

    @classmethod
    def from_compressor(cls, *args: Any, **kwargs: Any) -> Any:
        raise InvalidArgumentError(f"{cls.__name__} can not be initialized from a compressor (as in NNI 3.0)")

    def _schedule_at(self, times: int) -> None:
        self.bound_pruner._session.set_schedule(self._schedule, times, self.total_times)  # the core scales the goals

    def _fuse_preprocess(self, evaluator: Any) -> None:
        """NNI's order: goals at the schedule's start, the bound pruner told the interval and the
        number of updates, this pruner's schedule trigger, then the bound pruner's own patches."""
        pruner = self.bound_pruner
        self._schedule_at(0)
        if isinstance(pruner, _TrainingPruner):
            pruner.interval_steps = self.interval_steps
            pruner.total_times = self.total_times
        self._register_trigger(evaluator)
        if isinstance(pruner, _TrainingPruner):
            pruner._fuse_preprocess(evaluator)

    def _fuse_postprocess(self, evaluator: Any) -> None:
        if isinstance(self.bound_pruner, _TrainingPruner):
            self.bound_pruner._fuse_postprocess(evaluator)

    def compress(self, max_steps: Optional[int], max_epochs: Optional[int]) -> Tuple[torch.nn.Module, Masks]:
        """Trains through the evaluator (``max_steps`` >= ``total_times * interval_steps``, else
        InvalidArgumentError), the masks regenerated at each schedule update; returns
        ``(model, masks)``."""
        if max_steps is not None and max_steps < self.total_times * self.interval_steps:
            raise InvalidArgumentError(f"{type(self).__name__}.compress: max_steps is {max_steps}; expected at least "
                                       f"total_times * interval_steps = {self.total_times * self.interval_steps}")
        fusion_train(self.evaluator, self.bound_model, self.fused_compressors, max_steps, max_epochs)
        return self.bound_model, self.bound_pruner.get_masks()

    def _register_trigger(self, evaluator: Any) -> None:
        state = {"step": 0, "remaining": self.total_times}
        basic = isinstance(self.bound_pruner, _BASIC)

        def task() -> None:
            state["step"] += 1
            if state["step"] == self.interval_steps:
                state["remaining"] -= 1
                self._schedule_at(self.total_times - state["remaining"])
                if basic and state["remaining"] >= 0:
                    Pruner.compress(self.bound_pruner)  # NNI's norm pruner trigger fires at interval_steps too
                if state["remaining"] > 0:
                    state["step"] = 0
        evaluator.patch_optimizer_step(before_step_tasks=[], after_step_tasks=[task])

    def get_masks(self) -> Masks:
        """The bound pruner's masks."""
        return self.bound_pruner.get_masks()

    @property
    def _is_wrapped(self) -> bool:
        return self.bound_pruner._is_wrapped

    def wrap_model(self) -> None:
        """Wraps the bound pruner's modules again (NNI: the wrappers are shared)."""
        self.bound_pruner.wrap_model()

    def unwrap_model(self) -> None:
        """Unwraps the bound pruner's modules (a fused distiller's unwrap_model calls it too)."""
        self.bound_pruner.unwrap_model()


_distributed.wrap_constructors(_ComboPruner, _core.SC_MODE_PRUNING)


class LinearPruner(_ComboPruner):
    """NNI 3.0's LinearPruner(pruner, interval_steps, total_times, evaluator=None): the bound pruner's
    sparse goals are ``goal * times / total_times`` after each of ``total_times`` updates (one
    every ``interval_steps`` optimizer steps), computed by the core."""

    _schedule = _core.SC_SCHEDULE_LINEAR


class AGPPruner(_ComboPruner):
    """NNI 3.0's AGPPruner(pruner, interval_steps, total_times, evaluator=None): goals
    ``goal * (1 - (1 - times / total_times)^3)``, computed by the core."""

    _schedule = _core.SC_SCHEDULE_AGP
