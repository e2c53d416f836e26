"""Internal: tensors sharded over torch.distributed ranks (DTensor: ``distribute_tensor``, FSDP2's
``fully_shard``, tensor-parallel modules) handed to the core's summaries API (docs/distributed.md).

Python walks the tensors and moves the core's summaries; the core ranks, counts and decides:

- :func:`shard` gives a DTensor's local tensor and where it lies in the global tensor
  (``compute_local_shape_and_global_offset``: any mesh, uneven shards included), and whether this
  rank counts it (a ``Replicate`` mesh dim is counted on its coordinate 0 only). ``Partial``
  placements raise TensorError.
- :func:`reducer` is the ``reduce(buffer, op)`` the core calls once per round: the buffer (a
  memoryview over the core's int64 / float64 summary) is all-reduced in place with
  ``torch.distributed.all_reduce`` over the default process group (SUM, MIN or MAX). For the NCCL
  backend the summary goes through a CUDA tensor (copied there and back: a few KiB).
- :func:`fail` is the status round of a rank that failed before its core call, so that the other
  ranks raise naming it instead of waiting in the next collective.
- :func:`constructor` wraps a pruner's / quantizer's ``__init__``: when torch.distributed is
  initialized and the model holds DTensor parameters, every rank ends its construction with one
  status round (``sc_distributed_status``: world size + 3 int64), so that a constructor failing on
  one rank makes every rank raise (the failing rank its own error prefixed ``rank r of N:``, the
  others naming it) instead of the others waiting in ``compress()``'s round.
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Optional, Tuple

import torch

from . import _core
from .errors import TensorError

try:  # torch >= 2.4
    from torch.distributed.tensor import DTensor, Partial, Replicate
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset
except ImportError:  # pragma: no cover - torch without DTensor
    DTensor = None  # type: ignore[assignment,misc]


def is_sharded(value: Any) -> bool:
    """True for a DTensor (a parameter of a sharded module included)."""
    return DTensor is not None and isinstance(value, DTensor)


def shard(value: Any, name: str) -> Tuple[torch.Tensor, Tuple[int, ...], Tuple[int, ...], Tuple[int, ...], bool]:
    """``(local, local_shape, global_shape, offsets, counted)`` of a DTensor ``value``."""
    mesh = value.device_mesh
    placements = tuple(value.placements)
    for p in placements:
        if isinstance(p, Partial):
            raise TensorError(f"{name}: a DTensor with a Partial placement holds partial sums, not values; "
                              "redistribute it to Shard or Replicate first")
    local = value.to_local()
    global_shape = tuple(value.shape)
    local_shape, offsets = compute_local_shape_and_global_offset(value.shape, mesh, placements)
    coords = mesh.get_coordinate() or []
    counted = all(not isinstance(p, Replicate) or coords[d] == 0 for d, p in enumerate(placements))
    return local, tuple(local.shape), global_shape, tuple(offsets), counted


def world() -> Tuple[int, int]:
    """``(rank, world_size)`` of the default process group."""
    import torch.distributed as dist
    return dist.get_rank(), dist.get_world_size()


def reducer(group: Optional[Any] = None) -> Callable[[memoryview, int], None]:
    """The ``reduce(buffer, op)`` callable of the core's summaries API over ``group`` (default:
    the default process group)."""
    import torch.distributed as dist
    ops = {_core.SC_REDUCE_SUM_INT64: (torch.int64, dist.ReduceOp.SUM),
           _core.SC_REDUCE_MIN_FLOAT64: (torch.float64, dist.ReduceOp.MIN),
           _core.SC_REDUCE_MAX_FLOAT64: (torch.float64, dist.ReduceOp.MAX)}
    device = None
    if dist.get_backend(group) == "nccl":
        device = torch.device("cuda", torch.cuda.current_device())

    def reduce(buffer: memoryview, op: int) -> None:
        dtype, reduce_op = ops[op]
        values = torch.frombuffer(buffer, dtype=dtype)
        if device is None:
            dist.all_reduce(values, op=reduce_op, group=group)
        else:
            staged = values.to(device)
            dist.all_reduce(staged, op=reduce_op, group=group)
            values.copy_(staged.cpu())

    return reduce


def fail(error: Optional[BaseException] = None) -> None:
    """The status round of this rank with its failure flag set (call it, then raise the error;
    ``error``, when given, is prefixed with the rank: :func:`prefix_rank`)."""
    rank, size = world()
    _core.distributed_fail(rank, size, reducer())
    if error is not None:
        prefix_rank(error)


def prefix_rank(error: BaseException) -> None:
    """Prefixes ``error``'s message with ``rank r of N: `` (the failing rank's own error, after its
    status round), when the message is its first argument."""
    if error.args and isinstance(error.args[0], str):
        rank, size = world()
        error.args = (f"rank {rank} of {size}: {error.args[0]}",) + error.args[1:]


def _model_of(args: Tuple[Any, ...], kwargs: Any) -> Any:
    """The model a constructor binds: its first argument (``model``), or the bound model of a
    pruner handed to LinearPruner / AGPPruner."""
    value = args[0] if args else kwargs.get("model", kwargs.get("pruner"))
    if not isinstance(value, torch.nn.Module):
        value = getattr(value, "bound_model", None)
    return value if isinstance(value, torch.nn.Module) else None


def uses_shards(model: Any) -> bool:
    """True when torch.distributed is initialized and a parameter of ``model`` is a DTensor."""
    import torch.distributed as dist
    if model is None or not (dist.is_available() and dist.is_initialized()):
        return False
    return any(is_sharded(p) for p in model.parameters())


_constructing = threading.local()  # depth of the constructors running in this thread


def constructor(mode: int) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorator of a compressor's ``__init__`` (``mode``: ``_core.SC_MODE_PRUNING`` or
    ``SC_MODE_QUANTIZATION``, the kind of error of the other ranks). The outermost constructor
    running in a thread (a subclass's ``__init__`` calling its base's, a compressor built inside
    another's constructor: one round only) over a sharded model ends with the status round of
    every rank: on a rank whose construction raised, its flag set and then its own error, prefixed
    with its rank; on the others, PruningError / QuantizationError naming the failing ranks (the
    object built there is unwrapped first). Without torch.distributed or DTensor parameters: no
    round."""
    def decorate(init: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(init)
        def wrapped(self: Any, *args: Any, **kwargs: Any) -> None:
            depth = getattr(_constructing, "depth", 0)
            if depth > 0 or not uses_shards(_model_of(args, kwargs)):
                init(self, *args, **kwargs)
                return
            step = f"{type(self).__name__}'s constructor"
            _constructing.depth = depth + 1
            try:
                init(self, *args, **kwargs)
            except BaseException as error:
                _constructing.depth = depth
                rank, size = world()
                try:
                    _core.distributed_status(rank, size, True, mode, step, reducer())
                except Exception:  # noqa: BLE001 - the all-reduce failed: this rank's own error first
                    pass
                prefix_rank(error)
                raise
            _constructing.depth = depth
            rank, size = world()
            try:
                _core.distributed_status(rank, size, False, mode, step, reducer())
            except BaseException:
                if getattr(self, "_is_wrapped", False):
                    self.unwrap_model()  # another rank failed: this rank's compressor is dropped
                raise
        wrapped._sc_distributed = True  # type: ignore[attr-defined]
        return wrapped
    return decorate


def wrap_constructors(cls: type, mode: int) -> None:
    """Wraps ``cls.__init__`` with :func:`constructor` if ``cls`` defines its own (called for the
    base class and from its ``__init_subclass__``)."""
    init = cls.__dict__.get("__init__")
    if init is not None and not getattr(init, "_sc_distributed", False):
        cls.__init__ = constructor(mode)(init)  # type: ignore[misc]
