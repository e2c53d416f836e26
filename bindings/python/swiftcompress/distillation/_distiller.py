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

from .._session import emit_warnings, forward_arguments, logger, module_list, open_session
from .._sync import locked
from .._wrapping import compressor_lock
from ..errors import InvalidArgumentError, TensorError
from .._tensors import qualified_name
from .._slots import MISSING as _MISSING
from .._slots import Slot as _Slot
from ._function import Binding, DistillStep, StepState

__all__ = ["DynamicLayerwiseDistiller"]

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

    ``DynamicLayerwiseDistiller(model, config_list, teacher_model, teacher_predict,
    origin_loss_lambda=1.0)`` (NNI 3.0 takes an ``evaluator`` third; this class takes none: put
    :meth:`loss` into your own training loop).

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

    def __init__(self, model: torch.nn.Module, config_list: Sequence[Dict[str, Any]],
                 teacher_model: torch.nn.Module, teacher_predict: Callable[[Any, torch.nn.Module], Any],
                 origin_loss_lambda: float = 1.0) -> None:
        cls = type(self).__name__
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"{cls}: model: expected a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(teacher_model, torch.nn.Module):
            raise TypeError(f"{cls}: teacher_model: expected a torch.nn.Module, got {type(teacher_model).__name__} "
                            f"(the signature is {cls}(model, config_list, teacher_model, teacher_predict, "
                            "origin_loss_lambda=1.0); NNI's evaluator argument is not taken)")
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
        """Installs the forward hooks on the student (done by the constructor)."""
        self._set_hooks(teacher=False, wrap=True)

    @locked
    def unwrap_model(self) -> None:
        """Removes the student's forward hooks and drops its recorded tensors (NNI: the teacher stays
        wrapped until :meth:`unwrap_teacher_model`)."""
        self._set_hooks(teacher=False, wrap=False)

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
