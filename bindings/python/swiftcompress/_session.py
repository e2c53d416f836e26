"""Internal: from a PyTorch model and a config list to a core session.

One pass over ``model.named_modules(remove_duplicate=False)`` gives the module list (name, class
name, positional forward arguments from ``inspect.signature(module.forward)``); the config list goes
to the core as ``json.dumps`` text; the core's explain report (JSON) gives the targets, their
settings and the warnings. Nothing here interprets a config key.
"""
from __future__ import annotations

import inspect
import json
import logging
import math
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import _core
from .errors import ConfigError, InvalidArgumentError, SwiftCompressWarning

logger = logging.getLogger("swiftcompress")
logger.addHandler(logging.NullHandler())  # a library: the application decides where records go

MODES = {
    "pruning": _core.SC_MODE_PRUNING,
    "quantization": _core.SC_MODE_QUANTIZATION,
    "distillation": _core.SC_MODE_DISTILLATION,
}

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def forward_arguments(module: Any, cache: Dict[Any, Optional[List[str]]]) -> Optional[List[str]]:
    """The names of the positional parameters of ``module.forward`` (``self`` excluded), or None when
    the signature cannot be read. Cached per underlying function (one lookup per module class)."""
    forward = module.forward
    original = getattr(type(getattr(forward, "__self__", None)), "swiftcompress_original", None)
    if original is not None:  # a swiftcompress wrapper (swiftcompress._wrapping): the wrapped forward's
        forward = original(forward.__self__)
    key = getattr(forward, "__func__", forward)
    try:
        return cache[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable callable
        key = None
    try:
        parameters = inspect.signature(forward).parameters.values()
        names: Optional[List[str]] = [p.name for p in parameters if p.kind in _POSITIONAL]
    except (TypeError, ValueError):
        names = None
    if key is not None:
        cache[key] = names
    return names


def module_list(model: Any) -> Tuple[List[Tuple[str, str, Optional[List[str]]]], Dict[str, Any]]:
    """``([(name, type name, forward args)], {name: module})`` in ``named_modules()`` order."""
    named = getattr(model, "named_modules", None)
    if named is None:
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    cache: Dict[Any, Optional[List[str]]] = {}
    listing: List[Tuple[str, str, Optional[List[str]]]] = []
    modules: Dict[str, Any] = {}
    for name, module in named(remove_duplicate=False):
        listing.append((name, type(module).__name__, forward_arguments(module, cache)))
        modules[name] = module
    return listing, modules


def _locate_bad_value(value: Any, path: str) -> Optional[str]:
    """The first value json.dumps cannot write faithfully, as 'path: expected ..., got ...'."""
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return f"{path}: expected a finite number, got {value!r}"
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _locate_bad_value(item, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}: expected str keys, got the key {key!r} ({type(key).__name__})"
            found = _locate_bad_value(item, f"{path}.{key}")
            if found:
                return found
        return None
    return (f"{path}: expected a JSON value (str, int, float, bool, None, list, dict), got "
            f"{value!r} ({type(value).__module__}.{type(value).__qualname__})")


def config_json(config_list: Any) -> str:
    """The config list as JSON text; a value JSON cannot carry raises ConfigError naming its path."""
    try:
        return json.dumps(config_list, allow_nan=False)
    except (TypeError, ValueError) as error:
        located = _locate_bad_value(config_list, "config_list")
        raise ConfigError(located or f"config_list: {error}") from None


def mode_code(mode: str) -> int:
    try:
        return MODES[mode]
    except (KeyError, TypeError):
        raise InvalidArgumentError(
            f"mode: expected one of {', '.join(repr(m) for m in MODES)}, got {mode!r}") from None


def open_session(model: Any, config_list: Sequence[Dict[str, Any]], mode: str
                 ) -> Tuple[_core.Session, Dict[str, Any], Dict[str, Any]]:
    """A session with the model's modules and the config list set: ``(session, {name: module},
    report as a dict)``. Raises the core's errors (ConfigError, ...)."""
    code = mode_code(mode)
    text = config_json(config_list)
    listing, modules = module_list(model)
    session = _core.Session(code)
    session.add_modules(listing)
    session.set_config(text)
    report = json.loads(session.report())
    return session, modules, report


def emit_warnings(report: Dict[str, Any], stacklevel: int) -> None:
    """Sends every warning of the report through ``warnings`` and the ``swiftcompress`` logger."""
    for warning in report.get("warnings", ()):
        message = warning.get("message", "")
        logger.warning(message)
        warnings.warn(message, SwiftCompressWarning, stacklevel=stacklevel + 1)
