"""Internal: from a PyTorch model and a config list to a core session.

One pass over ``model.named_modules(remove_duplicate=False)`` gives the module list (name, class
name, positional forward arguments from ``inspect.signature(module.forward)``); the config list goes
to the core as ``json.dumps`` text; the core's explain report (JSON) gives the targets, their
typed facts (``report["facts"]``: role, apply, dtype, start step, ...; docs/config.md) and the
warnings. Nothing here, nor in the compressors, interprets a config or setting key.
"""
from __future__ import annotations

import inspect
import json
import logging
import math
import os
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


def _short(value: Any) -> str:
    text = repr(value)
    return (text if len(text) <= 80 else text[:77] + "...") + f" ({type(value).__name__})"


def check_name(name: Any, what: str) -> str:
    """``name`` when the core can take it (a str without NUL characters that encodes as UTF-8);
    else InvalidArgumentError naming ``what`` and the name (torch accepts both as module names)."""
    if not isinstance(name, str):
        raise InvalidArgumentError(f"{what}: expected a str, got {_short(name)}")
    if "\0" in name:
        raise InvalidArgumentError(f"{what} {name!r} contains a NUL character (at {name.index(chr(0))}); the "
                                   "core takes names as C strings: rename the module")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidArgumentError(f"{what} {name!r} is not valid Unicode text (a lone surrogate at {error.start}); "
                                   "the core takes UTF-8 names: rename the module") from None
    return name


def module_type_name(module: Any) -> str:
    """``type(module).__name__``, except for a module FSDP2's ``fully_shard`` has re-classed
    (``FSDPLinear``, bases ``(FSDPModule, Linear)``): the original class's name, so ``op_types``
    select it as before sharding (docs/distributed.md)."""
    cls = type(module)
    bases = cls.__bases__
    if len(bases) == 2 and bases[0].__name__ == "FSDPModule" and cls.__name__ == "FSDP" + bases[1].__name__:
        return bases[1].__name__
    return cls.__name__


def module_list(model: Any) -> Tuple[List[Tuple[str, str, Optional[List[str]]]], Dict[str, Any]]:
    """``([(name, type name, forward args)], {name: module})`` in ``named_modules()`` order.

    Every item of ``named_modules(remove_duplicate=False)`` must be a ``(name, module)`` tuple with a
    str name the core can take (no NUL character, no lone surrogate) and a module (an object with a
    callable ``forward``); anything else raises InvalidArgumentError naming the item and the module."""
    named = getattr(model, "named_modules", None)
    if named is None:
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}")
    cache: Dict[Any, Optional[List[str]]] = {}
    listing: List[Tuple[str, str, Optional[List[str]]]] = []
    modules: Dict[str, Any] = {}
    for index, item in enumerate(named(remove_duplicate=False)):
        where = f"model.named_modules() item {index}"
        if not isinstance(item, tuple) or len(item) != 2:
            raise InvalidArgumentError(f"{where}: expected a (name, module) tuple, got {_short(item)}")
        name, module = item
        check_name(name, f"{where}: module name")
        try:
            forward = getattr(module, "forward", None)
        except Exception:  # a property that raises: not a module
            forward = None
        if not callable(forward):
            raise InvalidArgumentError(f"{where}: module {name!r}: expected a module (an object with a callable "
                                       f"forward), got {_short(module)}")
        type_name = check_name(module_type_name(module), f"module {name!r}: class name")
        arguments = forward_arguments(module, cache)
        if arguments is not None:
            for argument in arguments:
                check_name(argument, f"module {name!r}: forward argument name")
        listing.append((name, type_name, arguments))
        modules[name] = module
    return listing, modules


# The core's JSON nesting limit: a config list json.dumps cannot write (RecursionError) is reported
# at the first container nested deeper than this.
MAX_CONFIG_DEPTH = 512


def _render_path(node: Any) -> str:
    """The path of a node of _locate_bad_value's walk, ('config_list', '[0]', '.key', ...) joined; a
    long one is shortened in the middle."""
    parts: List[str] = []
    while node is not None:
        node, part = node
        parts.append(part)
    parts.reverse()
    if len(parts) > 12:
        parts = parts[:8] + [f"...({len(parts) - 11} more levels)..."] + parts[-3:]
    return "".join(parts)


def _locate_bad_value(value: Any, path: str) -> Optional[str]:
    """The first value json.dumps cannot write faithfully, as 'path: expected ..., got ...', or the
    first container nested deeper than MAX_CONFIG_DEPTH (or containing itself). Iterative: any
    nesting and cycles are walked without recursion."""
    stack: List[Tuple[Any, Any, int, Tuple[int, ...]]] = [(value, (None, path), 0, ())]
    while stack:
        value, node, depth, ancestors = stack.pop()
        if value is None or isinstance(value, (str, bool, int)):
            continue
        if isinstance(value, float):
            if math.isfinite(value):
                continue
            return f"{_render_path(node)}: expected a finite number, got {value!r}"
        if isinstance(value, (list, tuple, dict)):
            if id(value) in ancestors:
                return f"{_render_path(node)}: the config list contains itself (a circular reference)"
            if depth >= MAX_CONFIG_DEPTH:
                return (f"{_render_path(node)}: nested deeper than {MAX_CONFIG_DEPTH} levels (the core's "
                        "limit; a config list is a list of flat dicts)")
            inner = ancestors + (id(value),) if depth < 64 else ancestors[-63:] + (id(value),)
            children: List[Tuple[Any, Any, int, Tuple[int, ...]]] = []
            if isinstance(value, dict):
                for key, item in value.items():
                    if not isinstance(key, str):
                        return f"{_render_path(node)}: expected str keys, got the key {key!r} ({type(key).__name__})"
                    children.append((item, (node, f".{key}"), depth + 1, inner))
            else:
                for i, item in enumerate(value):
                    children.append((item, (node, f"[{i}]"), depth + 1, inner))
            stack.extend(reversed(children))
            continue
        return (f"{_render_path(node)}: expected a JSON value (str, int, float, bool, None, list, dict), got "
                f"{value!r} ({type(value).__module__}.{type(value).__qualname__})")
    return None


def config_json(config_list: Any) -> str:
    """The config list as JSON text; a value JSON cannot carry (NaN, a torch.dtype, a non-str key),
    nesting json.dumps cannot follow (RecursionError) or a circular reference raises ConfigError
    naming its path."""
    try:
        return json.dumps(config_list, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as error:
        located = _locate_bad_value(config_list, "config_list")
        raise ConfigError(located or f"config_list: {type(error).__name__}: {error}") from None


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


def open_compressor(compressor: Any, model: Any, config_list: Sequence[Dict[str, Any]], mode: str
                    ) -> Tuple[_core.Session, Dict[str, Any], Dict[str, Any]]:
    """The start of a pruner's or a quantizer's constructor: TypeError unless ``model`` is a
    ``torch.nn.Module``; sets ``compressor.bound_model`` and ``compressor.config_list``; then
    :func:`open_session`."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{type(compressor).__name__}: expected a torch.nn.Module, got {type(model).__name__}")
    compressor.bound_model = model
    compressor.config_list = config_list
    return open_session(model, config_list, mode)


def run_batch(model: Any, batch: Any) -> Any:
    """One calibration forward: ``model(**batch)`` for a dict, ``model(*batch)`` for a tuple or
    list, ``model(batch)`` otherwise (the caller decides about gradients)."""
    if isinstance(batch, dict):
        return model(**batch)
    if isinstance(batch, (tuple, list)):
        return model(*batch)
    return model(batch)


def emit_warnings(report: Dict[str, Any], stacklevel: int) -> None:
    """Emits every warning of the report once, through ``warnings.warn(..., SwiftCompressWarning)``
    (one channel: ``logging.captureWarnings(True)`` sends them to the ``py.warnings`` logger)."""
    # past this package's own frames too (a subclass's constructor calling its base's, the
    # constructor wrapper of _distributed.constructor): the warning points at the user's call
    import sys
    package = os.path.dirname(os.path.abspath(__file__))
    level = stacklevel + 1
    try:
        frame: Any = sys._getframe(stacklevel)
    except ValueError:  # a shallower stack than stacklevel: warnings.warn copes with that itself
        frame = None
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package + os.sep):
        frame = frame.f_back
        level += 1
    for warning in report.get("warnings", ()):
        warnings.warn(warning.get("message", ""), SwiftCompressWarning, stacklevel=level)
