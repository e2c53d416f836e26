"""Internal: the one wrapping mechanism of the pruners and quantizers.

A wrapped module gets an instance ``forward``: the bound method :meth:`WrappedForward.forward` of a
:class:`WrappedForward` object stored in ``module.__dict__['forward']`` (a real Python method, so
``torch.export`` and dynamo see a function with ``__code__``). For the duration of the original
forward it swaps each tensor attribute it is given (a :class:`Swap`: a pruned weight, a
fake-quantized parameter) in the module's ``_parameters`` / ``_buffers`` for its replacement, then
puts the original tensors back, also when forward raises. The parameters never move: ``state_dict()``
keys and values stay the plain model's, ``load_state_dict`` writes into the parameters the wrapped
forward reads, and gradients reach them through the replacement.

Activations (``_input_*`` / ``_output_*`` targets) are handled by forward hooks that are
:class:`WrappingHook` objects. :func:`wrappings` finds both kinds on a module; it is the only way
the packages detect wrapping (a copy of a wrapped model is found as wrapped too: its wrappers have
``owner`` None). :func:`note` adds the wrapping to ``print(model)``: the module's ``extra_repr``
gets ``[swiftcompress: pruned weight (L1NormPruner)]``.

Copies: ``copy.deepcopy`` and pickling copy a wrapper with ``owner`` None and deep copies of its
swaps; each Swap class decides what its copy is (pruning: the same masks; quantization: a frozen
snapshot of the core's scale and zero point).

Threads (docs/python.md, "Threads"): every wrapper carries ``lock``, the
:class:`~swiftcompress._sync.SharedLock` of its compressor (one per pruner / quantizer, shared by
compressors that wrap common modules). :meth:`WrappedForward.forward` holds it from its first swap to
its last restore, and a :class:`WrappingHook` subclass holds it for its call (:meth:`WrappingHook.guard`),
so the core calls they make (observer updates, fake quantization) and the swapped parameters are
never seen by another thread's forward midway. A copied model (deepcopy, pickle) gets one new lock
for all of its wrappers (SharedLock's copy; a threading lock itself is never copied). While
torch.export / dynamo trace (:func:`tracing`) no lock is taken: a traced program has no Python lock,
and dynamo cannot trace one.
"""
from __future__ import annotations

import contextlib
import copy
from typing import Any, ContextManager, Dict, Iterable, Iterator, List, Optional, Tuple

import torch

from ._sync import SharedLock, lock_for
from ._tensors import module_tensor, qualified_name
from .errors import StateError

__all__ = ["Swap", "WrappedForward", "WrappingHook", "wrappings", "check_wrappable", "install", "uninstall", "note", "unnote",
           "original_forward", "tracing", "compressor_lock"]


def tracing() -> bool:
    """True while torch.export / dynamo (torch.compile) trace the model: tensors may be fake (no data
    pointer), so the core cannot be called and the torch formulation is used instead."""
    return torch.compiler.is_compiling() or torch.compiler.is_exporting()


class Swap:
    """One tensor attribute of a module that a wrapped forward replaces for the duration of a call.
    Subclasses give :meth:`replacement`; ``swapped`` holds ``(container, original)`` while swapped,
    so a nested wrapped call (an ancestor's and the module's own) swaps it once."""

    __slots__ = ("module", "module_name", "target_name", "swapped")

    def __init__(self, module: torch.nn.Module, module_name: str, target_name: str) -> None:
        self.module = module
        self.module_name = module_name
        self.target_name = target_name
        self.swapped: Optional[Tuple[Any, torch.Tensor]] = None

    def replacement(self, value: torch.Tensor) -> Optional[torch.Tensor]:
        """What the forward sees instead of ``value``; None or ``value`` itself: leave it."""
        raise NotImplementedError

    @property
    def qualified_name(self) -> str:
        return qualified_name(self.module_name, self.target_name)

    def current(self, operation: str) -> Optional[torch.Tensor]:
        """The attribute's tensor now (None when the attribute is None); checks that the core can
        read it for ``operation`` (``'rank'``, ``'quantize'``: named in the errors)."""
        return module_tensor(self.module, self.module_name, self.target_name, operation)


def _swap_in(target: Swap) -> bool:
    module = target.module
    name = target.target_name
    parameters = module._parameters
    buffers = module._buffers
    container = parameters if name in parameters else buffers if name in buffers else None
    value = container[name] if container is not None else getattr(module, name, None)
    if value is None:
        return False
    new = target.replacement(value)
    if new is None or new is value:
        return False
    if container is not None:
        container[name] = new
    else:
        object.__setattr__(module, name, new)
    target.swapped = (container, value)
    return True


def _swap_out(target: Swap) -> None:
    container, value = target.swapped  # type: ignore[misc]
    if container is not None:
        container[target.target_name] = value
    else:
        object.__setattr__(target.module, target.target_name, value)
    target.swapped = None


class WrappedForward:
    """The wrapper of one module by one compressor. ``kind``: 'pruning' or 'quantization';
    ``owner``: the compressor (None in a copy); ``label``: the compressor's class name; ``own``: the
    module's own targets (for detection and :func:`note`; empty for an ancestor that only swaps its
    descendants' targets); ``swaps``: what :meth:`forward` swaps; ``previous``: the instance forward
    it replaced (None: the class's); ``lock``: the compressor's lock, held by :meth:`forward` while
    the swaps are in place (None: no lock)."""

    __slots__ = ("kind", "owner", "label", "module", "own", "swaps", "previous", "lock", "outputs", "__weakref__")

    def __init__(self, kind: str, owner: Any, label: str, module: torch.nn.Module, own: List[Any],
                 swaps: List[Swap], previous: Any, lock: Optional[SharedLock] = None) -> None:
        self.kind = kind
        self.owner = owner
        self.label = label
        self.module = module
        self.own = own
        self.swaps = swaps
        self.previous = previous
        self.lock = lock
        # the own targets that post-process the output (a pruner's aligned '_output_' masks)
        self.outputs = [t for t in own if t.target_name.startswith("_output_") and hasattr(t, "pruning_output")]

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        lock = self.lock
        if lock is None or tracing():  # a traced program has no lock (and dynamo cannot trace one)
            return self._swapped_call(args, kwargs)
        with lock:  # from the first swap to the last restore (docs/python.md, "Threads")
            return self._swapped_call(args, kwargs)

    def _swapped_call(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        swapped: List[Swap] = []
        try:
            for target in self.swaps:
                if target.swapped is None and _swap_in(target):
                    swapped.append(target)
            if self.previous is None:
                result = type(self.module).forward(self.module, *args, **kwargs)
            else:
                result = self.previous(*args, **kwargs)
            for target in self.outputs:
                result = target.pruning_output(result)
            return result
        finally:
            for target in reversed(swapped):
                _swap_out(target)

    def names(self) -> List[str]:
        return [t.target_name for t in self.own]

    def swiftcompress_original(self) -> Any:
        """The module's forward without swiftcompress wrappers (``_session.forward_arguments`` reads
        its signature)."""
        return original_forward(self.module)

    def __deepcopy__(self, memo: Dict[int, Any]) -> "WrappedForward":
        # The copy's lock: SharedLock's deepcopy (a new lock, one per copied model through the memo).
        return WrappedForward(self.kind, None, self.label, copy.deepcopy(self.module, memo),
                              copy.deepcopy(self.own, memo), copy.deepcopy(self.swaps, memo),
                              copy.deepcopy(self.previous, memo), copy.deepcopy(self.lock, memo))

    def __reduce__(self) -> Tuple[Any, ...]:
        return (WrappedForward, (self.kind, None, self.label, self.module, self.own, self.swaps, self.previous,
                                 self.lock))


class WrappingHook:
    """Base of the forward (pre-)hook objects of a wrapping: same ``kind`` / ``owner`` / ``label``
    / ``own`` / ``lock`` as :class:`WrappedForward`, so that :func:`wrappings` finds them. A
    subclass's ``__call__`` runs under :meth:`guard`. Copies (deepcopy, pickle) are the subclass's;
    they copy ``lock`` as :class:`WrappedForward` does."""

    __slots__ = ("kind", "owner", "label", "own", "lock")

    def __init__(self, kind: str, owner: Any, label: str, own: List[Any], lock: Optional[SharedLock] = None) -> None:
        self.kind = kind
        self.owner = owner
        self.label = label
        self.own = own
        self.lock = lock

    def names(self) -> List[str]:
        return [t.target_name for t in self.own]

    def guard(self) -> ContextManager[Any]:
        """The lock to hold for one call of the hook (nothing while tracing, or without a lock)."""
        lock = self.lock
        if lock is None or tracing():
            return contextlib.nullcontext()
        return lock


def compressor_lock(modules: Iterable[torch.nn.Module]) -> SharedLock:
    """The lock of a new compressor that wraps ``modules``: the one registered for any of them (a
    compressor wraps it, or did), else the lock of a wrapping already on one of them (a copy of a
    wrapped model has its own), else a new one (:func:`swiftcompress._sync.lock_for`). Compressors
    whose wrappers nest therefore share one lock and cannot deadlock each other."""
    modules = list(modules)
    existing: Optional[SharedLock] = None
    for module in modules:
        if not isinstance(module, torch.nn.Module):
            continue
        for wrapping in wrappings(module):
            if getattr(wrapping, "lock", None) is not None:
                existing = wrapping.lock
                break
        if existing is not None:
            break
    return lock_for(modules, existing)


def _forward_chain(module: torch.nn.Module) -> Iterator[WrappedForward]:
    forward = module.__dict__.get("forward")
    while True:
        wrapper = getattr(forward, "__self__", None)
        if not isinstance(wrapper, WrappedForward):
            return
        yield wrapper
        forward = wrapper.previous


def wrappings(module: torch.nn.Module) -> Iterator[Any]:
    """Every swiftcompress wrapping of ``module``: its wrapped forwards (outermost first), then its
    hooks. A wrapping with an empty ``own`` is an ancestor's forward (pruning)."""
    yield from _forward_chain(module)
    for hooks in (module._forward_pre_hooks, module._forward_hooks):
        for hook in hooks.values():
            if isinstance(hook, WrappingHook):
                yield hook


def check_wrappable(module: torch.nn.Module, module_name: str, kind: str, owner: Any, others: str) -> None:
    """StateError when ``module`` already has its own swiftcompress wrapping of ``kind`` (one of
    ``owner``'s own is allowed; ``owner`` None allows none), ``others`` naming who may have wrapped it
    and what to do, or when an NNI compressor wraps it."""
    if any(w.kind == kind and w.own and (owner is None or w.owner is not owner) for w in wrappings(module)):
        raise StateError(f"module '{module_name}' is already wrapped by {others}")
    if "_nni_wrapper" in module.__dict__ or "_nni_wrapper" in module._modules:
        raise StateError(f"module '{module_name}' is wrapped by an NNI compressor; call its unwrap_model() first")


def original_forward(module: torch.nn.Module) -> Any:
    """``module.forward`` without the swiftcompress wrappers (for its signature)."""
    forward = module.__dict__.get("forward")
    for wrapper in _forward_chain(module):
        forward = wrapper.previous
    return forward if forward is not None else type(module).forward.__get__(module, type(module))


def install(wrapper: WrappedForward) -> None:
    """Makes ``wrapper`` the module's forward (outermost)."""
    wrapper.module.__dict__["forward"] = wrapper.forward


def uninstall(wrapper: WrappedForward) -> None:
    """Removes ``wrapper`` from its module's forward chain (also when another wrapper was installed
    on top of it)."""
    module = wrapper.module
    outer = None
    for link in _forward_chain(module):
        if link is wrapper:
            if outer is None:
                if wrapper.previous is None:
                    module.__dict__.pop("forward", None)
                else:
                    module.__dict__["forward"] = wrapper.previous
            else:
                outer.previous = wrapper.previous
            return
        outer = link


# -- print(model) ------------------------------------------------------------------------------

_VERBS = {"pruning": "pruned", "quantization": "quantized"}


class _Note:
    """The instance ``extra_repr`` of a wrapped module: the class's, then one note per wrapping."""

    __slots__ = ("module",)

    def __init__(self, module: torch.nn.Module) -> None:
        self.module = module

    def extra_repr(self) -> str:
        module = self.module
        base = type(module).extra_repr(module)
        notes: Dict[Tuple[str, str, bool], List[str]] = {}
        # in the order the wrappings were installed: the forward chain from the innermost, then hooks
        chain = list(_forward_chain(module))
        hooks = [w for w in wrappings(module) if isinstance(w, WrappingHook)]
        for wrapping in chain[::-1] + hooks:
            if not wrapping.own:
                continue
            key = (wrapping.kind, wrapping.label, wrapping.owner is None)
            names = notes.setdefault(key, [])
            names.extend(n for n in wrapping.names() if n not in names)
        if not notes:
            return base
        parts = []
        for (kind, label, is_copy), names in notes.items():
            whose = f"copy of a {label} model" if is_copy else label
            parts.append(f"{_VERBS.get(kind, kind)} {', '.join(names)} ({whose})")
        text = f"[swiftcompress: {'; '.join(parts)}]"
        return f"{base}, {text}" if base else text

    def __deepcopy__(self, memo: Dict[int, Any]) -> "_Note":
        return _Note(copy.deepcopy(self.module, memo))

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_Note, (self.module,))


def note(module: torch.nn.Module) -> None:
    """Adds the swiftcompress note to ``module``'s ``extra_repr`` (once)."""
    current = module.__dict__.get("extra_repr")
    if not isinstance(getattr(current, "__self__", None), _Note):
        module.__dict__["extra_repr"] = _Note(module).extra_repr


def unnote(module: torch.nn.Module) -> None:
    """Removes the note when no wrapping with own targets is left on ``module``."""
    current = module.__dict__.get("extra_repr")
    if isinstance(getattr(current, "__self__", None), _Note) and not any(w.own for w in wrappings(module)):
        del module.__dict__["extra_repr"]
