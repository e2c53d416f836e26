"""Exceptions and warnings of swiftcompress.

Every failure of the core arrives as one of these exceptions, carrying the core's message (which
names the config index, key path, expectation and value, or the target and setting) and the
attributes ``status`` (the C status code) and ``status_name`` (e.g. ``"SC_ERROR_CONFIG"``).
They derive from ``ValueError`` (bad values) or ``TypeError`` (bad types), so code written for
NNI's ``ValueError`` / ``TypeError`` keeps catching them; ``SwiftCompressError`` catches them all.
"""
from __future__ import annotations

from . import _core

__all__ = [
    "SwiftCompressError", "ConfigError", "UnknownNameError", "ShapeError", "DtypeError", "TensorError",
    "StateError", "PruningError", "QuantizationError", "DistillationError", "InvalidArgumentError", "InternalError", "SwiftCompressWarning",
]


class SwiftCompressError(Exception):
    """Base class of every swiftcompress exception."""

    status: int = -1
    status_name: str = ""


class ConfigError(SwiftCompressError, ValueError):
    """A config list that breaks the specification, or that is not valid JSON."""


class UnknownNameError(SwiftCompressError, ValueError):
    """A module or target name that is not known (the message lists close names)."""


class ShapeError(SwiftCompressError, ValueError):
    """Mismatched or invalid shapes, strides or element counts."""


class DtypeError(SwiftCompressError, TypeError):
    """A tensor whose dtype the core does not support (float32, float64, float16, bfloat16 are)."""


class TensorError(SwiftCompressError, TypeError):
    """A tensor the package cannot hand to the core: sparse or quantized layout, or a device without
    data (``meta``), or a target attribute that is not a tensor."""


class StateError(SwiftCompressError, ValueError):
    """A call out of order (masks before a config, a model already wrapped, ...)."""


class PruningError(SwiftCompressError, ValueError):
    """The pruning rules rejected the targets (the message names the target and the setting)."""


class QuantizationError(SwiftCompressError, ValueError):
    """Quantization settings or parameters rejected (quant_dtype, quant_scheme, granularity,
    apply_method; a granularity that does not fit the tensor; a NaN or infinite tracked range)."""


class DistillationError(SwiftCompressError, ValueError):
    """Distillation settings or links rejected (lambda, link, apply_method; a link naming no teacher
    module)."""


class InvalidArgumentError(SwiftCompressError, ValueError):
    """An out-of-range argument (mode, metric, index) or a missing one."""


class InternalError(SwiftCompressError, RuntimeError):
    """A bug in swiftcompress: please report the message."""


class SwiftCompressWarning(UserWarning):
    """A warning of the explain report: something in the config list that is ignored or dropped."""


_core.set_error_classes({
    _core.SC_ERROR_NULL_POINTER: InvalidArgumentError,
    _core.SC_ERROR_INVALID_ARGUMENT: InvalidArgumentError,
    _core.SC_ERROR_INVALID_JSON: ConfigError,
    _core.SC_ERROR_CONFIG: ConfigError,
    _core.SC_ERROR_UNKNOWN_NAME: UnknownNameError,
    _core.SC_ERROR_SHAPE: ShapeError,
    _core.SC_ERROR_DTYPE: DtypeError,
    _core.SC_ERROR_STATE: StateError,
    _core.SC_ERROR_PRUNING: PruningError,
    _core.SC_ERROR_QUANTIZATION: QuantizationError,
    _core.SC_ERROR_DISTILLATION: DistillationError,
    _core.SC_ERROR_INTERNAL: InternalError,
})
