"""Internal: ``Pruner.compress`` over parameters sharded across torch.distributed ranks (DTensor,
FSDP2's ``fully_shard``, tensor-parallel modules); see docs/distributed.md.

Each rank binds its local shards and their placements; the core ranks them and finds the cut of
the unsharded model through all-reduces of small summaries (``_distributed.reducer``); the masks
come back as DTensors with the weight's mesh and placements (their local tensors written by the
core). A rank whose preparation fails takes part in the core's status round first, so every rank
raises (the failing rank its own error prefixed ``rank r of N:``, the others an error naming it)
instead of hanging.
"""
from __future__ import annotations

from typing import Any, List, Optional

import torch

from .. import _distributed
from .._tensors import host, is_host
from .._tensors import spec as _spec


def uses_shards(pruner: Any) -> bool:
    """True when a parameter of the bound model is a DTensor and torch.distributed is initialized."""
    return _distributed.uses_shards(pruner.bound_model)


def unshards_later(module: Any, value: Any) -> bool:
    """True for a sharded parameter of an FSDP2 module (``fully_shard``): FSDP2's pre-forward hook
    replaces it by the unsharded weight, so an ancestor's swap would be overwritten; the module's
    own wrapped forward (which runs after that hook) masks the unsharded weight instead."""
    return _distributed.is_sharded(value) and any(c.__name__ == "FSDPModule" for c in type(module).__mro__)


def gathers_mask(mask: torch.Tensor, value: torch.Tensor) -> bool:
    """True when a sharded mask meets an unsharded weight (FSDP2 unshards parameters for the
    forward): the wrapped forward then multiplies by the gathered mask."""
    return _distributed.is_sharded(mask) and not _distributed.is_sharded(value)


def compress_sharded(pruner: Any) -> List[Optional[torch.Tensor]]:
    """Binds every target (local shards and placements), runs the core's distributed cut, and
    returns the new masks in target order (DTensors for sharded targets)."""
    session = pruner._session
    masks: List[Optional[torch.Tensor]] = []
    wraps = []  # (index, DTensor weight, local mask on the weight's device)
    try:
        for target in pruner._targets:
            tensor = target.tensor() if target.is_parameter else None
            if tensor is None:
                session.bind(target.module_name, target.target_name, None, None)
                masks.append(None)
                continue
            value = tensor.detach()
            sharded = _distributed.is_sharded(value)
            if sharded:
                local, local_shape, global_shape, offsets, counted = _distributed.shard(value, target.qualified_name)
            else:
                local = value
            ranked = host(local)
            mask = torch.empty_like(ranked)
            session.bind(target.module_name, target.target_name, _spec(ranked), _spec(mask), (ranked, mask))
            if sharded:
                session.bind_shard(target.module_name, target.target_name, local_shape, global_shape, offsets, counted)
            pruner._bind_metric(target, ranked)
            if sharded:
                wraps.append((len(masks), value, local))
            elif not is_host(local):
                wraps.append((len(masks), None, local))
            masks.append(mask)
    except BaseException as error:
        _distributed.fail(error)
        raise
    rank, size = _distributed.world()
    session.generate_masks_distributed(pruner._metric, rank, size, _distributed.reducer())
    from torch.distributed.tensor import DTensor
    for index, weight, local in wraps:
        mask = masks[index]
        if mask is not None and mask.device != local.device:
            mask = mask.to(local.device)
        if weight is not None:
            mask = DTensor.from_local(mask, weight.device_mesh, weight.placements, run_check=False,
                                      shape=weight.shape, stride=weight.stride())
        masks[index] = mask
    return masks
