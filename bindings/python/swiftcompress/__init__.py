"""swiftcompress: model compression from NNI-style config lists, computed by a Swift core.

    import swiftcompress
    print(swiftcompress.explain(model, config_list))           # what the config list will do
    from swiftcompress.pruning import L1NormPruner              # NNI 3.0's pruner API
    model, masks = L1NormPruner(model, config_list).compress()

The core is libswiftcompress.so.0 (bundled in this package with its headers, ``get_include()``), reached
through the thin extension ``swiftcompress._core``. ``swiftcompress.pruning``, ``.quantization`` and
``.distillation`` and ``.utils`` (the evaluators: ``swiftcompress.TorchEvaluator``) need PyTorch;
``explain`` needs only an object with ``named_modules()``.
"""
from __future__ import annotations

from typing import Any

from . import _core
from ._explain import ExplainReport, ReportWarning, explain
from .errors import (ConfigError, DistillationError, DtypeError, InternalError, InvalidArgumentError, PruningError,
                     QuantizationError, ShapeError, StateError, SwiftCompressError, SwiftCompressWarning, TensorError,
                     UnknownNameError)

__version__ = _core.version_string()

if _core.version_number() != _core.SC_VERSION_NUMBER:  # pragma: no cover - a broken installation
    raise ImportError(f"swiftcompress: the bundled libswiftcompress.so.0 is version {_core.version_string()}, "
                      f"the extension was built for {_core.SC_VERSION_NUMBER}; reinstall the package")



def get_include() -> str:
    """The directory of the C and C++ headers shipped inside the package (``swiftcompress.h``,
    ``swiftcompress.hpp``, ``swiftcompress_torch.hpp``), for C++ extensions that call the core
    directly, e.g. ``torch.utils.cpp_extension.CppExtension(..., include_dirs=[swiftcompress.get_include()],
    extra_link_args=[swiftcompress.get_library(), "-Wl,-rpath," + os.path.dirname(swiftcompress.get_library())])``.
    The headers are those of the bundled library's version."""
    import os
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "include")


def get_library() -> str:
    """The path of the bundled ``libswiftcompress.so.MAJOR`` (the Swift runtime linked in; it needs
    only libc, libm, libstdc++ and libgcc_s), for linking C++ extensions against (see
    :func:`get_include`)."""
    import glob
    import os
    found = sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)), "libswiftcompress.so.*")))
    if not found:  # pragma: no cover - a broken installation (_core could not have been imported)
        raise FileNotFoundError("swiftcompress: no bundled libswiftcompress.so.* in the package")
    return found[0]


__all__ = [
    "explain", "get_include", "get_library", "ExplainReport", "ReportWarning", "pruning", "quantization", "distillation",
    "SwiftCompressError", "ConfigError", "UnknownNameError", "ShapeError", "DtypeError", "TensorError",
    "StateError", "PruningError", "QuantizationError", "DistillationError", "InvalidArgumentError", "InternalError",
    "SwiftCompressWarning", "utils", "speedup", "TorchEvaluator", "LightningEvaluator", "TransformersEvaluator", "trace",
    "WandaPruner",
]

# NNI 3.0 exports its evaluators from nni.compression; so do we (they need torch: imported on use).
_FROM_UTILS = ("TorchEvaluator", "LightningEvaluator", "TransformersEvaluator", "DeepspeedTorchEvaluator", "trace")


def __getattr__(name: str) -> Any:
    # The subpackages import torch: only when asked for.
    import importlib
    if name in ("pruning", "quantization", "distillation", "utils", "speedup"):
        return importlib.import_module("." + name, __name__)
    if name == "WandaPruner":  # issue 15: the one pruner exported at the top level (not an NNI 3.0 name)
        return getattr(importlib.import_module(".pruning", __name__), name)
    if name in _FROM_UTILS:
        return getattr(importlib.import_module(".utils", __name__), name)
    raise AttributeError(f"module 'swiftcompress' has no attribute {name!r}")
