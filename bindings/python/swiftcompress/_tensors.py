"""Internal: torch tensors to core tensor specs, shared by the pruning and quantization packages.

The C ABI reads any strides (in elements), so CPU tensors are handed over as they are
(channels_last, transposed, sliced views): no copy. A tensor the core cannot address directly, one
on another device (CUDA, MPS) or a lazily negated view (``is_neg()``, e.g. from ``torch._neg_view``:
its memory holds the values' negation), is copied to a dense CPU tensor first (:func:`host`); results computed
into a CPU buffer are copied back by the caller. ``meta`` tensors, sparse or quantized layouts and
dtypes other than float32 / float64 / float16 / bfloat16 raise TensorError / DtypeError (TypeErrors)
naming the target (:func:`check_tensor`).
"""
from __future__ import annotations

from typing import Any, Tuple

import torch

from . import _core
from .errors import DtypeError, TensorError

DTYPES = {
    torch.float32: _core.SC_DTYPE_FLOAT32,
    torch.float64: _core.SC_DTYPE_FLOAT64,
    torch.float16: _core.SC_DTYPE_FLOAT16,
    torch.bfloat16: _core.SC_DTYPE_BFLOAT16,
}

Spec = Tuple[int, int, Any, Tuple[int, ...]]


def spec(t: torch.Tensor) -> Spec:
    """The core's tensor spec of a CPU tensor: ``(data_ptr, SC_DTYPE_*, shape, strides)``."""
    return (t.data_ptr(), DTYPES[t.dtype], t.shape, t.stride())


def check_tensor(value: Any, name: str, purpose: str) -> torch.Tensor:
    """``value`` if the core can read it, else TensorError / DtypeError naming ``name``.
    ``purpose`` completes "has no data to ..." in the message for ``meta`` tensors."""
    if not isinstance(value, torch.Tensor):
        raise TensorError(f"{name}: expected a tensor, got {type(value).__name__}")
    if value.dtype not in DTYPES:
        raise DtypeError(f"{name}: dtype {value.dtype} is not supported; expected "
                         "torch.float32, torch.float64, torch.float16 or torch.bfloat16")
    if value.layout is not torch.strided:
        raise TensorError(f"{name}: layout {value.layout} is not supported; expected a "
                          "dense (torch.strided) tensor")
    if value.device.type == "meta":
        raise TensorError(f"{name}: the tensor is on the 'meta' device and has no data to "
                          f"{purpose}; materialize the model (to_empty / load_state_dict) first")
    return value


_MISSING = object()


def qualified_name(module_name: str, target_name: str) -> str:
    """``module.target`` (just ``target`` for the root module, whose name is "")."""
    return f"{module_name}.{target_name}" if module_name else target_name


def module_tensor(module: Any, module_name: str, target_name: str, purpose: str) -> Any:
    """The attribute ``target_name`` of ``module`` now, checked by :func:`check_tensor` (None when the
    attribute is None, e.g. ``bias=False``); TensorError when the module has no such attribute."""
    value = getattr(module, target_name, _MISSING)
    if value is None:
        return None
    name = qualified_name(module_name, target_name)
    if value is _MISSING:
        raise TensorError(f"{name}: module '{module_name}' ({type(module).__name__}) has no attribute '{target_name}'")
    return check_tensor(value, name, purpose)


def is_host(t: torch.Tensor) -> bool:
    """True when the core can address ``t``'s memory as it is (a CPU tensor, not a lazy view)."""
    return t.device.type == "cpu" and not t.is_neg()


def host(t: torch.Tensor) -> torch.Tensor:
    """``t`` itself when :func:`is_host`, else a detached CPU copy (one copy) with the negation
    resolved."""
    if is_host(t):
        return t
    return t.detach().to("cpu").resolve_neg()


def readable(value: Any, name: str, purpose: str) -> torch.Tensor:
    """``value`` detached, as the core can read it (:func:`check_tensor`, then :func:`host`): the same
    memory for a CPU tensor, else a CPU copy with lazy negation / conjugation resolved."""
    value = host(check_tensor(value, name, purpose).detach())
    if value.is_conj():
        value = value.resolve_conj()
    return value
