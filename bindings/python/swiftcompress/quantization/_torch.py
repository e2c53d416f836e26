"""Internal: fake quantization with torch operators and the core's scale and zero point.

Used only where the core cannot be called: while ``torch.export`` / dynamo trace a quantized model
(fake tensors have no data pointer) and in copies of a quantized model (which have no core
session). The scale and zero point are always the core's (``Session.quant_params``); this module
applies them with NNI 3.0's ``ClampRound`` formula, the one the core implements (docs/quantization.md):
``t = zp + x / scale``, ``q = round_half_even(clamp(t, qmin, qmax))``, ``x' = (q - zp) * scale``, in
float64 for float64 tensors and float32 otherwise (float16 / bfloat16 values are widened exactly
and the result rounded once, as the core does). tests/test_export.py checks it bit for bit against
the core's ``fake_quantize``. Gradient: straight through (``clamp_round``), or zeroed where ``t``
was clamped (``qat_clamp_round``; NaN keeps its gradient, as in the core).
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional, Tuple

import torch


class Frozen(NamedTuple):
    """The core's quantization parameters of one target."""

    scale: torch.Tensor       # NNI's scale shape ([] per tensor, keepdim otherwise)
    zero_point: torch.Tensor  # the same shape and dtype, integer values
    qmin: int
    qmax: int
    qat: bool                 # gradient zeroed where clamped (qat_clamp_round)


def _expand(p: torch.Tensor, shape: Tuple[int, ...]) -> torch.Tensor:
    """``p`` (a scale shape) repeated over its blocks so that it broadcasts against ``shape``."""
    if p.dim() == 0:
        return p
    for d, (n, size) in enumerate(zip(p.shape, shape)):
        if n != 1 and n != size:
            p = p.repeat_interleave(size // n, dim=d)
    return p


def _transform(x: torch.Tensor, frozen: Frozen) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    work = frozen.scale.dtype
    scale = _expand(frozen.scale, tuple(x.shape)).to(device=x.device)
    zero_point = _expand(frozen.zero_point, tuple(x.shape)).to(device=x.device)
    t = zero_point + x.to(work) / scale
    return t, scale, zero_point


class _TorchFakeQuantize(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, frozen: Frozen) -> torch.Tensor:  # type: ignore[override]
        t, scale, zero_point = _transform(x, frozen)
        q = torch.round(torch.clamp(t, frozen.qmin, frozen.qmax))
        out = ((q - zero_point) * scale).to(x.dtype)
        if frozen.qat and ctx.needs_input_grad[0]:
            ctx.save_for_backward(~((t < frozen.qmin) | (t > frozen.qmax)))
        ctx.qat = frozen.qat and ctx.needs_input_grad[0]
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[Optional[torch.Tensor], None]:  # type: ignore[override]
        if ctx.qat:
            (keep,) = ctx.saved_tensors
            grad = grad * keep.to(grad.dtype)
        return grad, None


def torch_fake_quantize(x: torch.Tensor, frozen: Frozen) -> torch.Tensor:
    """``x`` fake-quantized with ``frozen`` (the core's parameters), by torch operators."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _TorchFakeQuantize.apply(x, frozen)
    t, scale, zero_point = _transform(x, frozen)
    q = torch.round(torch.clamp(t, frozen.qmin, frozen.qmax))
    return ((q - zero_point) * scale).to(x.dtype)
