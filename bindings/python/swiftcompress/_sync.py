"""Internal: the locks that make one pruner / quantizer / distiller safe to use from several threads.

Contract (docs/python.md, "Threads"): every call of a compressor object that reaches its core
session (pruning ``compress`` / ``update_masks`` / ``get_masks`` / wrap / unwrap; quantization
``calibrate`` / ``compress`` / ``step`` / ``get_calibration_config``, every observer update and fake
quantization done by the wrapped forward; distillation ``loss`` / ``compute_distill_loss``) runs
under the object's lock, so concurrent calls *serialize*: each returns the complete result it would
have returned alone, never a buffer the core did not write. The wrapped forward holds the lock for
as long as it has parameters swapped (a pruned or quantized weight in ``module._parameters``), so a
forward in another thread never sees an unmasked weight midway, nor a weight swapped by a forward
it is not part of. Concurrent forwards of one wrapped model therefore run one after the other.

The lock is reentrant (a forward run by ``calibrate``, nested wrapped modules). Compressors that
wrap common modules share one lock (:func:`lock_for` finds the lock already registered for any of
the modules), so the order in which nested wrapped forwards take locks cannot deadlock two threads.
"""
from __future__ import annotations

import threading
import weakref
from typing import Any, Dict, Iterable, Optional, Tuple

__all__ = ["SharedLock", "lock_for", "locked"]


class SharedLock:
    """A reentrant lock (``with lock:``) that survives ``copy.deepcopy`` and pickling as one new lock
    per copied object graph: every object of a copied wrapped model that referred to this lock refers
    to the same new one (deepcopy's memo and pickle's memo both keep identity)."""

    __slots__ = ("_lock", "__weakref__")

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def __enter__(self) -> "SharedLock":
        self._lock.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()

    def __deepcopy__(self, memo: Dict[int, Any]) -> "SharedLock":
        return SharedLock()

    def __reduce__(self) -> Tuple[Any, ...]:
        return (SharedLock, ())


# module object -> the lock of the compressors wrapping it (weak: a freed module drops its entry)
_REGISTRY: "weakref.WeakKeyDictionary[Any, SharedLock]" = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def lock_for(modules: Iterable[Any], default: Optional[SharedLock] = None) -> SharedLock:
    """The lock for a compressor that wraps ``modules``: the one registered for the first of them
    that has one (another compressor wraps it), else ``default`` (the lock of a wrapping found on
    them, ``_wrapping.compressor_lock``), else a new one; registered for every module that has none
    yet."""
    modules = list(modules)
    with _GUARD:
        lock: Optional[SharedLock] = None
        for module in modules:
            try:
                lock = _REGISTRY.get(module)
            except TypeError:  # not weak-referenceable / unhashable: not shared
                continue
            if lock is not None:
                break
        if lock is None:
            lock = default if default is not None else SharedLock()
        for module in modules:
            try:
                _REGISTRY.setdefault(module, lock)
            except TypeError:
                pass
        return lock


def locked(method: Any) -> Any:
    """Decorator: runs the method under ``self._lock`` (a :class:`SharedLock`)."""
    import functools

    @functools.wraps(method)
    def call_locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return call_locked
