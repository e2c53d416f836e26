"""``DynamicLayerwiseDistiller``: NNI 3.0's layer-wise distiller over the core's losses and gradients.

The Python layer only wires torch: forward hooks record the student's and the teacher's hidden states,
``DistillStep`` (an autograd Function, ``_function.py``) hands them to the core, which resolves the
config list, checks the links against the teacher's module names, and computes the losses and
d(loss)/d(student).
"""
from __future__ import annotations

import numbers
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch.utils._pytree import tree_map

from .._session import emit_warnings, forward_arguments, logger, module_list, open_session
from .._fusion import fused_of, fusion_train, identity_names, inherited_evaluator
from .._sync import locked
from .._wrapping import compressor_lock
from ..errors import DistillationError, InvalidArgumentError, ShapeError, StateError, TensorError
from .._tensors import qualified_name
from .._slots import MISSING as _MISSING
from .._slots import Slot as _Slot
from ..utils.evaluator import Evaluator as _Evaluator
from ._function import Binding, DistillStep, StepState

__all__ = ["DynamicLayerwiseDistiller", "Adaptive1dLayerwiseDistiller"]

class _Recorder:
    """The forward hooks of one module name: they store the module's targets' tensors of its last call
    into ``states[(module_name, target_name)]`` (NNI's 'refresh' buffer)."""

    def __init__(self, module_name: str, module: torch.nn.Module, slots: List[_Slot],
                 states: Dict[Tuple[str, str], torch.Tensor], side: str) -> None:
        self.module_name = module_name
        self.module = module
        self.inputs = [s for s in slots if s.kind == "input"]
        self.outputs = [s for s in slots if s.kind == "output"]
        self.states = states
        self.side = side
        self.handles: List[Any] = []

    def _store(self, slot: _Slot, value: Any, where: str) -> None:
        key = (self.module_name, slot.target_name)
        if value is None:
            self.states.pop(key, None)  # not recorded in this call
            return
        if value is _MISSING or not isinstance(value, torch.Tensor):
            name = qualified_name(self.module_name, slot.target_name)
            raise TensorError(f"{self.side} {name}: distillation records tensors; the {where} is "
                              f"{type(value).__name__ if value is not _MISSING else 'an unsupported container'}")
        self.states[key] = value

    def _pre_hook(self, module: torch.nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        for slot in self.inputs:
            self._store(slot, slot.read_input(args, kwargs), "forward input")

    def _hook(self, module: torch.nn.Module, args: Tuple[Any, ...], output: Any) -> None:
        for slot in self.outputs:
            value = slot.read_output(output)
            if value is _MISSING:
                raise TensorError(f"{self.side} {self.module_name}.{slot.target_name}: the module returned a "
                                  f"{type(output).__name__}; outputs are distilled from a tensor, a list/tuple "
                                  "or a dict")
            self._store(slot, value, "output")

    def install(self) -> None:
        if self.inputs:
            self.handles.append(self.module.register_forward_pre_hook(self._pre_hook, with_kwargs=True))
        if self.outputs:
            self.handles.append(self.module.register_forward_hook(self._hook))

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


def _carries_gradient(t: Optional[torch.Tensor]) -> bool:
    """Whether a loss over ``t`` would backpropagate into something: ``t`` has a graph, or is a leaf that
    requires grad (a parameter). A view made under ``torch.no_grad()`` of a parameter reports
    ``requires_grad`` but has no graph: nothing reaches the parameter through it."""
    return t is not None and t.requires_grad and (t.grad_fn is not None or (t.is_leaf and t._base is None))


class DynamicLayerwiseDistiller:
    """Layer-wise distillation with NNI 3.0's semantics, computed by the swiftcompress core.

    ``DynamicLayerwiseDistiller(model, config_list, evaluator, teacher_model, teacher_predict,
    origin_loss_lambda=1.0)``: NNI 3.0's signature. ``evaluator`` (a :class:`swiftcompress.TorchEvaluator`,
    or None) drives :meth:`compress(max_steps, max_epochs) <compress>`, which patches the evaluator's
    loss into :meth:`loss` as NNI does; :meth:`from_compressor` fuses the distiller with a pruner /
    quantizer / distiller. The evaluator-free form ``DynamicLayerwiseDistiller(model, config_list,
    teacher_model, teacher_predict, origin_loss_lambda=1.0)`` (a module third) stays: put
    :meth:`loss` into your own training loop. An ``evaluator`` that is neither None, a module nor a
    swiftcompress evaluator raises TypeError naming it.

    - ``model``: the student (``torch.nn.Module``). ``config_list``: the distillation config list
      (current or legacy format; per target ``lambda`` (a number, default 1), ``link`` (``'auto'``:
      the student module's own name, a teacher module name, or a list of them), ``apply_method``
      (``'mse'``, default, or ``'kl'``)); the target of every module is ``_output_0`` unless
      ``target_names`` says otherwise (``_input_*`` / ``_output_*``).
    - ``teacher_model``: the teacher; its module names are handed to the core, so a link naming no
      teacher module raises DistillationError at construction (with close names).
    - ``teacher_predict(batch, teacher_model)``: runs the teacher on a batch (its return value is not
      used; the hooks record the hidden states).
    - ``origin_loss_lambda``: the weight of the original loss in :meth:`loss`.

    The constructor resolves the config list (ConfigError; model-dependent problems are warnings
    through ``warnings`` and the ``swiftcompress`` logger), checks every target's settings and links
    with the core (DistillationError naming the target, key and value) and installs forward hooks
    on the student modules with targets and on the linked teacher modules.

    Every forward pass records each target's tensor of the module's last call (inputs by a forward
    pre-hook, outputs by a forward hook), in the student and in the teacher. The recorded tensors are
    the module's own (the student's keep their autograd graph); nothing is copied until
    :meth:`compute_distill_loss`.

    Threads: :meth:`loss`, :meth:`compute_distill_loss` and the wrap / unwrap methods serialize under
    the distiller's reentrant lock (``swiftcompress._sync``), so concurrent losses never see each
    other's bindings; the recording hooks keep the last tensor per target without the lock.
    """

    def __init__(self, model: torch.nn.Module, config_list: Sequence[Dict[str, Any]], evaluator: Any = None,
                 teacher_model: Optional[torch.nn.Module] = None,
                 teacher_predict: Optional[Callable[[Any, torch.nn.Module], Any]] = None,
                 origin_loss_lambda: float = 1.0) -> None:
        cls = type(self).__name__
        if isinstance(evaluator, torch.nn.Module):
            # The evaluator-free form (model, config_list, teacher_model, teacher_predict[, origin_loss_lambda]):
            # the positional arguments after config_list shift by one.
            # (teacher_predict / origin_loss_lambda may come by keyword.)
            if teacher_model is None:
                evaluator, teacher_model = None, evaluator
            else:
                if teacher_predict is not None:
                    origin_loss_lambda = teacher_predict  # type: ignore[assignment]
                evaluator, teacher_model, teacher_predict = None, evaluator, teacher_model
        if evaluator is not None and not isinstance(evaluator, _Evaluator):
            raise TypeError(f"{cls}: evaluator: expected a swiftcompress evaluator (swiftcompress.TorchEvaluator) or "
                            f"None, got {type(evaluator).__name__} (the signatures are {cls}(model, config_list, "
                            "evaluator, teacher_model, teacher_predict, origin_loss_lambda=1.0) and, without an "
                            f"evaluator, {cls}(model, config_list, teacher_model, teacher_predict, "
                            "origin_loss_lambda=1.0))")
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"{cls}: model: expected a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(teacher_model, torch.nn.Module):
            raise TypeError(f"{cls}: teacher_model: expected a torch.nn.Module, got {type(teacher_model).__name__} "
                            f"(the signature is {cls}(model, config_list, evaluator, teacher_model, teacher_predict, "
                            "origin_loss_lambda=1.0); the evaluator may be left out)")
        if model is teacher_model:
            raise InvalidArgumentError(f"{cls}: the student model and the teacher model must be different objects")
        if not callable(teacher_predict):
            raise TypeError(f"{cls}: teacher_predict: expected a callable (batch, teacher_model), got "
                            f"{type(teacher_predict).__name__}")
        if isinstance(origin_loss_lambda, bool) or not isinstance(origin_loss_lambda, numbers.Real):
            raise InvalidArgumentError(f"{cls}: origin_loss_lambda: expected a number, got {origin_loss_lambda!r}")
        self.bound_model = model
        self.config_list = config_list
        self.teacher_model = teacher_model
        self.teacher_predict = teacher_predict
        self.origin_loss_lambda = origin_loss_lambda
        self.evaluator = evaluator
        # NNI's Compressor: the first compressor given an evaluator records its optimizers' recipes
        if evaluator is not None and not evaluator._initialization_complete:
            evaluator._init_optimizer_helpers(model)
        self.fused_compressors: List[Any] = [self]

        session, modules, report = open_session(model, config_list, "distillation")
        teacher_listing, teacher_modules = module_list(teacher_model)
        session.add_teacher_modules([name for name, _, _ in teacher_listing])
        emit_warnings(report, stacklevel=2)

        # Targets in the core's order; their links; where each tensor is read in both models.
        entries: Dict[Tuple[str, str], Dict[str, Any]] = {}
        for module_name, info in report["modules"].items():
            for target_name, entry in info["targets"].items():
                entries[(module_name, target_name)] = entry
        bindings: List[Binding] = []
        for index, (module_name, target_name) in enumerate(session.targets()):
            bindings.append(Binding(module_name, target_name, session.target_links(index)))
        self._state = StepState(session, bindings)
        # Settings and links checked by the core now (not at the first step): every target is parked
        # (placeholder student, no teacher), so distill() only validates and returns 0.
        self._state.park()
        session.distill()

        cache: Dict[Any, Optional[List[str]]] = {}
        student_slots: Dict[str, List[_Slot]] = {}
        teacher_slots: Dict[str, Dict[str, _Slot]] = {}
        for b in bindings:
            entry = entries[(b.module_name, b.target_name)]
            module = modules[b.module_name]
            student_slots.setdefault(b.module_name, []).append(
                _Slot.from_report(b.target_name, entry, forward_arguments(module, cache)))
            for link in b.links:
                teacher_module = teacher_modules[link]
                teacher_slots.setdefault(link, {}).setdefault(
                    b.target_name, _Slot.from_report(b.target_name, entry, forward_arguments(teacher_module, cache)))
        self._student_states: Dict[Tuple[str, str], torch.Tensor] = {}
        self._teacher_states: Dict[Tuple[str, str], torch.Tensor] = {}
        self._student_recorders = [
            _Recorder(name, modules[name], slots, self._student_states, "student")
            for name, slots in student_slots.items()]
        self._teacher_recorders = [
            _Recorder(name, teacher_modules[name], list(slots.values()), self._teacher_states, "teacher")
            for name, slots in teacher_slots.items()]
        self._is_wrapped = False
        self._teacher_is_wrapped = False
        self._warned_teacher_grad = False
        # loss / compute_distill_loss serialize across threads (shared with compressors of the modules)
        self._lock = compressor_lock(list(modules.values()) + list(teacher_modules.values()))
        self.wrap_model()
        self.wrap_teacher_model()

    # -- hooks --------------------------------------------------------------------------------

    @locked
    def wrap_model(self) -> None:
        """Installs the forward hooks on the student (done by the constructor), and wraps again the
        compressors fused into this one by :meth:`from_compressor` that are unwrapped (NNI's fused
        compressors share their wrappers)."""
        self._set_hooks(teacher=False, wrap=True)
        self._set_fused(wrap=True)

    @locked
    def unwrap_model(self) -> None:
        """Removes the student's forward hooks and drops its recorded tensors (NNI: the teacher stays
        wrapped until :meth:`unwrap_teacher_model`), and unwraps the compressors fused into this one
        by :meth:`from_compressor`: NNI's fused compressors share their wrappers, so its
        ``distiller.unwrap_model()`` leaves the model bare (what NNI's fusion examples rely on before
        ModelSpeedup)."""
        self._set_hooks(teacher=False, wrap=False)
        self._set_fused(wrap=False)

    def _set_fused(self, wrap: bool) -> None:
        for compressor in getattr(self, "fused_compressors", [self])[1:]:
            if getattr(compressor, "_is_wrapped", wrap) != wrap:
                compressor.wrap_model() if wrap else compressor.unwrap_model()

    @locked
    def wrap_teacher_model(self) -> None:
        """Installs the forward hooks on the linked teacher modules (done by the constructor)."""
        self._set_hooks(teacher=True, wrap=True)

    @locked
    def unwrap_teacher_model(self) -> None:
        """Removes the teacher's forward hooks and drops its recorded tensors."""
        self._set_hooks(teacher=True, wrap=False)

    def _set_hooks(self, teacher: bool, wrap: bool) -> None:
        """Installs (``wrap``) or removes the hooks of the student's or the teacher's recorders; a
        removal drops the recorded tensors. Warns, as NNI does, when there is nothing to do."""
        flag = "_teacher_is_wrapped" if teacher else "_is_wrapped"
        if getattr(self, flag) == wrap:
            logger.warning("The bound model has been wrapped, no need to wrap again." if wrap else
                           "The bound model is not wrapped, can not unwrap it.")
            return
        for recorder in self._teacher_recorders if teacher else self._student_recorders:
            if wrap:
                recorder.install()
            else:
                recorder.remove()
        if not wrap:
            (self._teacher_states if teacher else self._student_states).clear()
        setattr(self, flag, wrap)

    # -- losses -------------------------------------------------------------------------------

    @locked
    def compute_distill_loss(self) -> torch.Tensor:
        """The distillation loss of the hidden states recorded since the last call, as a 0-dim tensor
        whose backward is the core's d(loss)/d(student output).

        Per target: for each link whose teacher tensor was recorded, ``lambda * loss`` (``mse``:
        ``F.mse_loss``; ``kl``: ``F.kl_div(log_softmax(s/2), softmax(t/2), 'batchmean') * 4`` over the
        last dim), the smallest of them counts (the first of equal ones); a target whose student, or
        every teacher, was not recorded adds nothing, and no gradient path (as NNI adds no term for
        it). The loss is the sum over targets, as in NNI.

        The tensor is float64 when a recorded student, or a recorded teacher of a recorded student, is
        float64 (torch's promotion, as NNI's loss has it), else float32 (also for float16 / bfloat16
        students: the core computes in double), on the first recorded student's device; with
        nothing recorded it is ``torch.zeros(())`` (NNI returns the int 0). The recorded tensors are
        dropped afterwards (NNI's ``clean()``). Teacher tensors are constants: no gradient flows into
        the teacher (NNI's would when the teacher ran with gradients enabled; a UserWarning says so
        once when a recorded teacher tensor requires grad). Raises ShapeError (a teacher of another shape than
        its student, an empty student), DtypeError / TensorError (a tensor the core cannot read).
        """
        state = self._state
        students: List[torch.Tensor] = []
        # Targets whose student was recorded but none of whose teachers was: NNI adds no term for them,
        # so they get no gradient path at all (a zero gradient would still move the parameters behind
        # them under momentum or weight decay); their loss reads 0.0.
        idle: List[int] = []
        for index, binding in enumerate(state.bindings):
            key = (binding.module_name, binding.target_name)
            binding.student = self._student_states.get(key)
            if binding.student is not None:
                binding.student = self._student_input(binding, binding.student)
            binding.teachers = [self._teacher_states.get((link, binding.target_name)) for link in binding.links]
            if binding.student is not None and all(t is None for t in binding.teachers):
                binding.student = None
                idle.append(index)
            if binding.student is not None:
                students.append(binding.student)
        self._student_states.clear()
        self._teacher_states.clear()
        if not self._warned_teacher_grad and students and torch.is_grad_enabled() and any(
                _carries_gradient(t) for b in state.bindings if b.student is not None for t in b.teachers):
            self._warned_teacher_grad = True
            warnings.warn(f"{type(self).__name__}: a recorded teacher tensor requires grad (the teacher ran with "
                          "gradients enabled); the distillation loss treats teacher tensors as constants, so no "
                          "gradient reaches the teacher (NNI 3.0's loss would backpropagate into it). Run the "
                          "teacher under torch.no_grad(), as loss() does. This is warned once per distiller.",
                          UserWarning, stacklevel=3)  # 3: the caller, past the @locked wrapper
        try:
            if not students:
                state.total = 0.0
                state.losses = [None] * len(state.bindings)
                result = torch.zeros(())
            else:
                result = DistillStep.apply(state, *students)
            for index in idle:
                state.losses[index] = 0.0
            return result
        finally:
            for binding in state.bindings:  # the step's tensors are not kept here
                binding.student = None
                binding.teachers = [None] * len(binding.links)

    def _student_input(self, binding: Binding, student: torch.Tensor) -> torch.Tensor:
        """The tensor the core compares with the teachers for ``binding``'s recorded ``student``
        (itself here; Adaptive1dLayerwiseDistiller's learnable projection of it)."""
        return student

    @locked
    def loss(self, original_loss: Any, batch: Any) -> torch.Tensor:
        """``origin_loss_lambda * original_loss + compute_distill_loss()``, after running
        ``teacher_predict(batch, teacher_model)`` under ``torch.no_grad()``: call it where the
        training loop has the student's loss of ``batch`` (after the student's forward on it)."""
        with torch.no_grad():
            self.teacher_predict(batch, self.teacher_model)
        return self.origin_loss_lambda * original_loss + self.compute_distill_loss()

    @property
    def last_losses(self) -> Dict[str, Dict[str, Optional[float]]]:
        """The core's losses of the last :meth:`compute_distill_loss`, per target: ``{module_name:
        {target_name: lambda * loss of the chosen link, 0.0 when the student was recorded but no linked
        teacher was, or None when the student was not recorded}}`` (Python floats, computed in
        double)."""
        out: Dict[str, Dict[str, Optional[float]]] = {}
        for binding, loss in zip(self._state.bindings, self._state.losses):
            out.setdefault(binding.module_name, {})[binding.target_name] = loss
        return out

    def target_links(self) -> Dict[str, Dict[str, List[str]]]:
        """``{module_name: {target_name: [teacher module name, ...]}}``: every target's links as the core
        resolved them (``'auto'`` is the student module's own name)."""
        out: Dict[str, Dict[str, List[str]]] = {}
        for binding in self._state.bindings:
            out.setdefault(binding.module_name, {})[binding.target_name] = list(binding.links)
        return out

    # -- NNI 3.0's Compressor: evaluator, compress, fusion ------------------------------------

    @classmethod
    def from_compressor(cls, compressor: Any, new_config_list: Sequence[Dict[str, Any]],
                        teacher_model: torch.nn.Module, teacher_predict: Callable[[Any, torch.nn.Module], Any],
                        origin_loss_lambda: float = 1.0, evaluator: Any = None) -> "DynamicLayerwiseDistiller":
        """NNI's ``from_compressor``: a distiller of ``compressor``'s bound model with
        ``new_config_list``, inheriting its evaluator (``evaluator`` is used only when ``compressor``
        has none; a warning when both are given, as NNI), fused with it: :meth:`compress` runs the
        training hooks of this distiller and of every compressor fused into ``compressor`` in one
        evaluator run (this distiller's first, as NNI orders them). ``compressor`` (a pruner,
        quantizer or distiller of this package) stays wrapped: swiftcompress's wrappers stack per
        mode, where NNI moves its wrappers to the new compressor."""
        fused = fused_of(compressor, cls.__name__)
        inherited = inherited_evaluator(compressor, evaluator)
        new = cls(compressor.bound_model, new_config_list, inherited,
                  teacher_model, teacher_predict, origin_loss_lambda)
        new.fused_compressors.extend(fused)
        return new

    def _get_param_names_map(self) -> Dict[str, str]:
        """NNI's ``{original parameter name: wrapped name}``: the identity (our wrapping never moves a
        parameter)."""
        return identity_names(self.bound_model)

    def track_forward(self, *args: Any, **kwargs: Any) -> None:
        """NNI's ``track_forward``: one student forward under ``torch.no_grad()`` with the tensors of
        ``args`` / ``kwargs`` moved to the student's device (the hooks record its hidden states)."""
        _forward_no_grad(self.bound_model, args, kwargs)

    def _fuse_preprocess(self, evaluator: Any) -> None:
        """Patches the evaluator's loss into :meth:`loss` (NNI's loss patch)."""
        evaluator.patch_loss(self.loss)

    def _fuse_postprocess(self, evaluator: Any) -> None:
        pass

    def compress(self, max_steps: Optional[int] = None, max_epochs: Optional[int] = None) -> torch.nn.Module:
        """NNI's ``compress(max_steps, max_epochs)``: binds the student to the evaluator, lets this
        distiller (loss patch) and every fused compressor patch the evaluator, trains for
        ``max_steps`` optimizer steps / ``max_epochs`` epochs (the caller's ``training_func`` decides
        how they count), post-processes, unbinds; returns the student. StateError without an
        evaluator; InvalidArgumentError when both lengths are None."""
        if self.evaluator is None:
            raise StateError(f"{type(self).__name__}.compress(max_steps, max_epochs) trains through an evaluator; "
                             "this distiller was built without one (pass evaluator=TorchEvaluator(...), or call "
                             "loss() in your own training loop)")
        if max_steps is None and max_epochs is None:
            raise InvalidArgumentError(f"{type(self).__name__}.compress: max_steps and max_epochs are both None; "
                                       "give at least one")
        fusion_train(self.evaluator, self.bound_model, self.fused_compressors, max_steps, max_epochs,
                     self._get_param_names_map())
        return self.bound_model


def _forward_no_grad(model: torch.nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
    """``model(*args, **kwargs)`` under ``torch.no_grad()``, tensors moved to the model's device."""
    params = list(model.parameters())
    device = params[0].device if params else None

    def move(x: Any) -> Any:
        return x.to(device) if device is not None and isinstance(x, torch.Tensor) else x

    with torch.no_grad():
        model(*tree_map(move, args), **tree_map(move, kwargs))


class Adaptive1dLayerwiseDistiller(DynamicLayerwiseDistiller):
    """NNI 3.0's ``Adaptive1dLayerwiseDistiller``: as :class:`DynamicLayerwiseDistiller`, but each
    target has exactly one link, and where the last dimension of the student's hidden state differs
    from the teacher's, a learnable ``torch.nn.Linear(student_dim, teacher_dim)`` (NNI's trans layer, a
    model layer trained by autograd) maps the student's hidden state before the core computes the
    loss; the loss is then the sum of the targets' ``lambda * loss`` (the core's formulas).

    Call :meth:`track_forward` with a real batch first (it runs the student and the teacher once
    under ``torch.no_grad()``, recording the shapes), then :meth:`compress`: it creates the linear
    layers (``trans_linears[module_name][target_name]``: a Linear, or None where the dimensions
    agree; created in target order, so the same seed gives NNI's initial weights), adds their
    parameters to the evaluator's optimizer through ``patch_optim_param_group({module_name:
    params})``, and patches the loss. Errors: DistillationError naming the target for a target with
    more than one link (at construction; NNI asserts at compress) and for a target whose hidden
    states were not recorded by track_forward (at compress).
    """

    def __init__(self, model: torch.nn.Module, config_list: Sequence[Dict[str, Any]], evaluator: Any = None,
                 teacher_model: Optional[torch.nn.Module] = None,
                 teacher_predict: Optional[Callable[[Any, torch.nn.Module], Any]] = None,
                 origin_loss_lambda: float = 1.0) -> None:
        super().__init__(model, config_list, evaluator, teacher_model, teacher_predict, origin_loss_lambda)
        for binding in self._state.bindings:
            if len(binding.links) != 1:
                self.unwrap_model()
                self.unwrap_teacher_model()
                raise DistillationError(f"{binding.qualified_name}: link: {type(self).__name__} supports one link "
                                        f"per target, got {binding.links!r}")
        self.trans_linears: Dict[str, Dict[str, Optional[torch.nn.Linear]]] = {}

    def track_forward(self, *args: Any, **kwargs: Any) -> None:
        """One forward of the student and one of the teacher under ``torch.no_grad()`` (NNI's
        track_forward); the recorded hidden states give the trans layers' shapes."""
        _forward_no_grad(self.bound_model, args, kwargs)
        _forward_no_grad(self.teacher_model, args, kwargs)

    def _register_trans_linear(self) -> None:
        linears: Dict[str, Dict[str, Optional[torch.nn.Linear]]] = {}
        for binding in self._state.bindings:
            key = (binding.module_name, binding.target_name)
            student = self._student_states.get(key)
            teacher = self._teacher_states.get((binding.links[0], binding.target_name))
            if student is None or teacher is None:
                raise DistillationError(f"{binding.qualified_name}: no hidden state of the "
                                        f"{'student' if student is None else 'teacher'} was recorded; call "
                                        f"{type(self).__name__}.track_forward(...) before compress")
            if student.dim() == 0 or teacher.dim() == 0:
                raise ShapeError(f"{binding.qualified_name}: the hidden states must have a last dimension, got "
                                 f"shapes {list(student.shape)} and {list(teacher.shape)}")
            linear = None
            if student.shape[-1] != teacher.shape[-1]:
                linear = torch.nn.Linear(student.shape[-1], teacher.shape[-1]).to(student.device)
            linears.setdefault(binding.module_name, {})[binding.target_name] = linear
        self.trans_linears = linears

    def _student_input(self, binding: Binding, student: torch.Tensor) -> torch.Tensor:
        linear = self.trans_linears.get(binding.module_name, {}).get(binding.target_name)
        if linear is None:
            return student
        return linear.to(student.device)(student)

    def _fuse_preprocess(self, evaluator: Any) -> None:
        """Creates the trans layers, adds their parameters to the optimizer, patches the loss."""
        self._register_trans_linear()
        params = {module_name: [p for linear in targets.values() if linear is not None for p in linear.parameters()]
                  for module_name, targets in self.trans_linears.items()}
        params = {name: ps for name, ps in params.items() if ps}
        if params:
            evaluator.patch_optim_param_group(params)
        evaluator.patch_loss(self.loss)
