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
"""
from __future__ import annotations

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


def fail() -> None:
    """The status round of this rank with its failure flag set (call it, then raise the error)."""
    rank, size = world()
    _core.distributed_fail(rank, size, reducer())
