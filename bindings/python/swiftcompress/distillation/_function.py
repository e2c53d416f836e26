"""Internal: one distillation step through the core as a ``torch.autograd.Function``.

``DistillStep`` binds every target's student tensor (and, when it needs a gradient, a gradient buffer
of its shape and strides: float64 for a float64 student, else float32) and the teacher tensor of each
of its links to the core session, calls
``Session.distill()`` (the loss per target and the total; d(total)/d(student) written into the
gradient buffers), parks every target again and returns the total as a 0-dim tensor. Its backward
returns ``grad_output * buffer`` per student, rounded once to the student's dtype. Nothing here
computes a loss: the formulas are the core's.

Tensors go to the core as specs ``(data_ptr, dtype, shape, strides)``: a CPU tensor of a supported
dtype (float32, float64, float16, bfloat16) with any strides is read in place (no copy); a tensor on
another device, or a lazily negated / conjugated view, is copied to the CPU first and its gradient
copied back to the student's device in backward.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

import torch
from torch.autograd.function import once_differentiable

from .. import _core
from .._tensors import qualified_name, readable, spec

# The dtype of a student's gradient buffer (the core writes d loss / d student into it).
_GRADIENT_DTYPES = {
    torch.float32: torch.float32,
    torch.float64: torch.float64,
    torch.float16: torch.float32,
    torch.bfloat16: torch.float32,
}


def host_tensor(value: torch.Tensor, what: str) -> torch.Tensor:
    """``value`` detached, as the core can read it (``swiftcompress._tensors.readable``): the same
    memory for a strided CPU tensor, else a CPU copy. Raises DtypeError / TensorError naming ``what``."""
    return readable(value, what, "distil")


class Binding:
    """What one step hands to the core for one target: its names, the student (None: not recorded this
    step) and one teacher per link (None: not recorded)."""

    __slots__ = ("module_name", "target_name", "qualified_name", "links", "student", "teachers")

    def __init__(self, module_name: str, target_name: str, links: Sequence[str]) -> None:
        self.module_name = module_name
        self.target_name = target_name
        self.qualified_name = qualified_name(module_name, target_name)
        self.links = list(links)
        self.student: Optional[torch.Tensor] = None
        self.teachers: List[Optional[torch.Tensor]] = [None] * len(self.links)


class StepState:
    """The session and the bindings of one distiller, shared by every step; ``losses`` receives the
    core's per-target losses of the last step (Python floats, in target order; None: not recorded)."""

    __slots__ = ("session", "bindings", "placeholder", "losses", "total")

    def __init__(self, session: _core.Session, bindings: List[Binding]) -> None:
        self.session = session
        self.bindings = bindings
        # Bound as the student of a target not recorded this step (and between steps, so that the
        # core holds no pointer into a tensor of an earlier step): no teacher is bound with it, so
        # the target adds 0 (as NNI skips it) and nothing is written.
        self.placeholder = torch.zeros(1, dtype=torch.float32)
        self.losses: List[Optional[float]] = [None] * len(bindings)
        self.total: float = 0.0

    def park(self) -> None:
        """Binds the placeholder as every target's student (which unbinds its teachers and gradient)."""
        placeholder = self.placeholder
        placeholder_spec = spec(placeholder)
        bind = self.session.bind_student
        for b in self.bindings:
            bind(b.module_name, b.target_name, placeholder_spec, None, placeholder)


class DistillStep(torch.autograd.Function):
    """``DistillStep.apply(state, *students)`` -> the total loss (0-dim). ``students`` are the recorded
    student tensors of the targets whose ``Binding.student`` is set, in target order."""

    @staticmethod
    def forward(ctx: Any, state: StepState, *students: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        session = state.session
        gradients: List[Optional[torch.Tensor]] = []
        devices: List[torch.device] = []
        recorded = [b for b in state.bindings if b.student is not None]
        try:
            for index, (binding, student) in enumerate(zip(recorded, students)):
                name = binding.qualified_name
                host = host_tensor(student, f"{name}: the student tensor")
                gradient = None
                if ctx.needs_input_grad[index + 1]:
                    # float16 / bfloat16 students get a float32 buffer: backward scales it in float32
                    # and rounds once to the student's dtype (as autograd through a float32 loss does).
                    gradient = torch.empty_like(host, dtype=_GRADIENT_DTYPES[host.dtype])
                session.bind_student(binding.module_name, binding.target_name, spec(host),
                                     None if gradient is None else spec(gradient), (host, gradient))
                for link, teacher in enumerate(binding.teachers):
                    if teacher is None:
                        continue
                    t = host_tensor(teacher, f"{name}: the teacher tensor of link {binding.links[link]!r}")
                    session.bind_teacher(binding.module_name, binding.target_name, link, spec(t), t)
                gradients.append(gradient)
                devices.append((student.device, student.dtype))
            total, losses = session.distill()
        finally:
            state.park()
        state.total = total
        present = {id(b) for b in recorded}
        state.losses = [loss if id(b) in present else None for b, loss in zip(state.bindings, losses)]
        ctx.gradients = gradients
        ctx.devices = devices
        # torch's promotion of each student/teacher pair, as NNI's F.mse_loss / F.kl_div returns it:
        # float64 when a recorded student, or a recorded teacher of a recorded student, is float64.
        wide = any(s.dtype == torch.float64 for s in students) or any(
            t is not None and t.dtype == torch.float64 for b in recorded for t in b.teachers)
        dtype = torch.float64 if wide else torch.float32
        return torch.tensor(total, dtype=dtype, device=students[0].device)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_output: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:  # type: ignore[override]
        grads: List[Optional[torch.Tensor]] = [None]
        for gradient, (device, dtype) in zip(ctx.gradients, ctx.devices):
            if gradient is None:
                grads.append(None)
                continue
            if gradient.device != device:
                gradient = gradient.to(device)
            grads.append((gradient * grad_output.to(device=device, dtype=gradient.dtype)).to(dtype))
        return tuple(grads)
