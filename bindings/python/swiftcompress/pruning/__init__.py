"""NNI 3.0-compatible pruners whose masks are computed by the Swift core.

    from swiftcompress.pruning import L1NormPruner     # was: from nni.compression.pruning import ...
    pruner = L1NormPruner(model, config_list)
    model, masks = pruner.compress()                   # masks: {module_name: {target_name: tensor}}
    ...                                                # forward applies the masks while wrapped
    pruner.unwrap_model()

Contract (as NNI 3.0's, with the differences listed in docs/python.md):

- The constructor resolves the config list against the model (errors: ConfigError, a ValueError;
  model-dependent problems are warnings through ``warnings`` and the ``swiftcompress`` logger) and
  wraps the model: each module with a target gets a ``forward`` that applies its masks.
- ``compress()`` allocates one mask per target (``torch.empty_like`` of the target: same shape,
  dtype, device and strides; nothing is filled in Python), hands pointers to the weights and masks
  to the core, which ranks the weights in place (no copy of any weight) and writes every mask
  (1 keep, 0 prune). It returns ``(model, masks)``; a target whose attribute is None (a
  ``bias=False`` layer) has the mask None, as in NNI.
- The masks are live: they are the tensors the wrapped forward uses (NNI returns clones). Each
  compress() allocates new ones; masks returned earlier keep their values.
- While wrapped, the forward of each module with a target, and of each of its ancestors, swaps the
  targets for ``weight * mask`` (apply_method ``'mul'``) or ``weight - 1000 * (mask != 1)``
  (``'add'``) for the duration of the call and restores the parameters afterwards: the parameters
  stay where they are (``state_dict()`` keys and values are unchanged), gradients flow to them
  through the mask, and a parent that reads a child's weight directly (the fused fast path of
  ``nn.TransformerEncoderLayer``) sees the masked weight. Masks follow the weight's device and dtype
  (converted on first use after ``model.to(...)``).
- ``unwrap_model()`` restores every original ``forward``; the weights are never modified.
- Threads: calls on one pruner (compress, update_masks, get_masks, wrap / unwrap) and the wrapped
  forward (for as long as it has parameters swapped) serialize under the pruner's reentrant lock
  (``swiftcompress._sync``); each call returns the masks it had the core write.

Tensors: CPU tensors with any strides (channels_last, transposed) are passed as they are (the C ABI
takes strides in elements). A target on another device (CUDA, MPS) is copied to the CPU for the
ranking and its mask copied back to the device (one copy each way, documented in docs/python.md).
``meta`` tensors, sparse or quantized layouts and dtypes other than float32 / float64 / float16 /
bfloat16 raise TensorError / DtypeError (TypeErrors) naming the target.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from .. import _core
from .._session import emit_warnings, logger, open_session
from .._sync import SharedLock, lock_for, locked
from .._tensors import check_tensor, host, is_host, module_tensor, qualified_name
from .._tensors import spec as _spec
from ..errors import InvalidArgumentError, PruningError, ShapeError, StateError

__all__ = ["Pruner", "LevelPruner", "L1NormPruner", "L2NormPruner", "FPGMPruner"]


Masks = Dict[str, Dict[str, Optional[torch.Tensor]]]


class _Target:
    """One resolved target: where its tensor lives and its mask."""

    __slots__ = ("module_name", "target_name", "module", "apply_add", "is_parameter", "has_rule", "mask", "swapped")

    def __init__(self, module_name: str, target_name: str, module: torch.nn.Module, entry: Dict[str, Any]) -> None:
        settings = entry["settings"]
        self.module_name = module_name
        self.target_name = target_name
        self.module = module
        self.apply_add = settings.get("apply_method") == "add"
        self.is_parameter = entry.get("kind", "parameter") == "parameter"
        self.has_rule = settings.get("sparse_ratio") is not None or settings.get("sparse_threshold") is not None
        self.mask: Optional[torch.Tensor] = None
        self.swapped: Optional[Tuple[Any, torch.Tensor]] = None  # (container, original) while swapped

    @property
    def qualified_name(self) -> str:
        return qualified_name(self.module_name, self.target_name)

    def tensor(self) -> Optional[torch.Tensor]:
        """The target's tensor now (None when the attribute is None); checks what the core can read."""
        return module_tensor(self.module, self.module_name, self.target_name, "rank")


class _MaskedForward:
    """The ``forward`` of a wrapped module (an instance attribute). For the duration of the original
    forward it swaps every target of the module's subtree that is not swapped yet for ``target *
    mask`` (``target - 1000 * (mask != 1)`` for apply_method 'add') in its module's ``_parameters``
    / ``_buffers``, then puts the original tensors back, also when forward raises.

    Ancestors of target modules are wrapped too, so a parent that reads a child's weight directly
    (the fused fast path of ``nn.TransformerEncoderLayer`` in eval mode, ``F.linear(x,
    self.fc.weight)``) sees the masked weight; the outermost wrapped call does the swapping, nested
    ones find their targets swapped already. ``owner`` is the pruner (None in a deep copy of a
    wrapped model, which stays masked but belongs to no pruner).

    Threads: every call holds ``lock`` (the pruner's, reentrant) from the first swap to the last
    restore, so two threads running the wrapped model serialize: none sees another's swap undone
    midway (an unmasked weight) and ``compress`` / ``update_masks`` never change a mask during a
    forward. The forwards of one copied model share one new lock (SharedLock)."""

    __slots__ = ("owner", "module", "own", "subtree", "previous", "lock")

    def __init__(self, owner: Optional["Pruner"], module: torch.nn.Module, own: List[_Target],
                 subtree: List[_Target], previous: Any, lock: Optional[SharedLock] = None) -> None:
        self.lock = lock if lock is not None else SharedLock()
        self.owner = owner
        self.module = module
        self.own = own          # the module's own targets (empty for an ancestor)
        self.subtree = subtree  # the targets of the module and of its descendants
        self.previous = previous  # the instance forward replaced (None: the class's forward)

    def __deepcopy__(self, memo: Dict[int, Any]) -> "_MaskedForward":
        import copy

        return _MaskedForward(None, copy.deepcopy(self.module, memo), copy.deepcopy(self.own, memo),
                              copy.deepcopy(self.subtree, memo), copy.deepcopy(self.previous, memo),
                              copy.deepcopy(self.lock, memo))

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_MaskedForward, (None, self.module, self.own, self.subtree, self.previous, self.lock))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return self._swapped_call(args, kwargs)

    def _swapped_call(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        swapped = []
        try:
            for target in self.subtree:
                mask = target.mask
                if mask is None or target.swapped is not None:
                    continue
                module = target.module
                name = target.target_name
                parameters = module._parameters
                buffers = module._buffers
                container = parameters if name in parameters else buffers if name in buffers else None
                value = container[name] if container is not None else getattr(module, name)
                if value is None:
                    continue
                if mask.device != value.device or mask.dtype != value.dtype:
                    mask = target.mask = mask.to(device=value.device, dtype=value.dtype)
                if target.apply_add:
                    masked = value - (mask != 1).to(value.dtype) * 1000
                else:
                    masked = value * mask
                if container is not None:
                    container[name] = masked
                else:
                    object.__setattr__(module, name, masked)
                target.swapped = (container, value)
                swapped.append(target)
            if self.previous is None:
                return type(self.module).forward(self.module, *args, **kwargs)
            return self.previous(*args, **kwargs)
        finally:
            for target in reversed(swapped):
                container, value = target.swapped
                if container is not None:
                    container[target.target_name] = value
                else:
                    object.__setattr__(target.module, target.target_name, value)
                target.swapped = None


def _forward_chain(module: torch.nn.Module):
    """The _MaskedForward objects installed on a module, outermost first."""
    forward = module.__dict__.get("forward")
    while isinstance(forward, _MaskedForward):
        yield forward
        forward = forward.previous


class Pruner:
    """Base of the four pruners: ``Pruner(model, config_list)``; subclasses set the metric."""

    _metric: int = _core.SC_METRIC_LEVEL

    def __init__(self, model: torch.nn.Module, config_list: Sequence[Dict[str, Any]]) -> None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"{type(self).__name__}: expected a torch.nn.Module, got {type(model).__name__}")
        self.bound_model = model
        self.config_list = config_list
        self._session, modules, report = open_session(model, config_list, "pruning")
        self._modules = modules
        emit_warnings(report, stacklevel=2)
        self._targets: List[_Target] = []
        self._by_module: Dict[str, List[_Target]] = {}
        # One forward per module object (a module shared under two names gets both names' masks).
        self._by_object: Dict[int, List[_Target]] = {}
        for module_name, info in report["modules"].items():
            module = modules[module_name]
            group = [_Target(module_name, name, module, entry) for name, entry in info["targets"].items()]
            self._targets.extend(group)
            self._by_module[module_name] = group
            self._by_object.setdefault(id(module), []).extend(group)
        for target in self._targets:
            if not target.is_parameter:
                if target.has_rule:
                    raise PruningError(
                        f"{target.qualified_name}: {type(self).__name__} prunes parameters; an input or output "
                        "target needs activations, which this pruner does not collect (NNI 3.0 fails there "
                        "too); remove it from target_names")
            else:
                target.tensor()  # fail early on a missing attribute, an unsupported dtype or device
        self._is_wrapped = False
        self._compressed = False
        self._lock = lock_for(modules.values())  # shared with compressors of the same modules
        self.wrap_model()

    # -- wrapping ---------------------------------------------------------------------------

    @locked
    def wrap_model(self) -> None:
        """Installs the masking forward on every module with a target and on its ancestors (done by
        the constructor). Raises StateError when a module with a target is wrapped already (by
        another pruner, NNI, or as part of a copy of a wrapped model)."""
        if self._is_wrapped:
            logger.warning("The bound model has been wrapped, no need to wrap again.")
            return
        for group in self._by_object.values():
            module = group[0].module
            if any(f.own for f in _forward_chain(module)):
                raise StateError(f"module '{group[0].module_name}' is already wrapped by another swiftcompress "
                                 "pruner (or is part of a copy of a wrapped model); call the pruner's "
                                 "unwrap_model() first")
            if "_nni_wrapper" in module.__dict__ or "_nni_wrapper" in module._modules:
                raise StateError(f"module '{group[0].module_name}' is wrapped by an NNI compressor; call its "
                                 "unwrap_model() first")
        # subtree targets per module object: each target's module and every ancestor by name
        subtree: Dict[int, List[_Target]] = {}
        objects: Dict[int, torch.nn.Module] = {}
        modules = self._modules
        for target in self._targets:
            name = target.module_name
            while True:
                module = modules.get(name)  # None for a prefix that names no module: a name with a "."
                if module is not None:      # (torch's _modules accepts "layer.1.x" as a child's name)
                    objects[id(module)] = module
                    subtree.setdefault(id(module), []).append(target)
                if not name:
                    break
                name = name.rpartition(".")[0]
        self._wrapped = []
        for key, module in objects.items():
            forward = _MaskedForward(self, module, self._by_object.get(key, []), subtree[key],
                                     module.__dict__.get("forward"), self._lock)
            module.__dict__["forward"] = forward
            self._wrapped.append(forward)
        self._is_wrapped = True

    @locked
    def unwrap_model(self) -> None:
        """Restores every module's forward as it was before wrap_model(). The weights were never
        modified."""
        if not self._is_wrapped:
            logger.warning("The bound model is not wrapped, can not unwrap it.")
            return
        for forward in self._wrapped:
            module = forward.module
            outer = module.__dict__.get("forward")
            if outer is forward:
                if forward.previous is None:
                    del module.__dict__["forward"]
                else:
                    module.__dict__["forward"] = forward.previous
            else:  # another pruner wrapped an ancestor on top of ours: unlink ours from the chain
                for link in _forward_chain(module):
                    if link.previous is forward:
                        link.previous = forward.previous
                        break
        self._wrapped = []
        self._is_wrapped = False

    # -- masks ------------------------------------------------------------------------------

    @locked
    def compress(self, max_steps: Optional[int] = None, max_epochs: Optional[int] = None
                 ) -> Tuple[torch.nn.Module, Masks]:
        """Computes every mask with the core and returns ``(model, masks)``.

        ``max_steps`` / ``max_epochs`` exist for NNI's signature: these pruners prune once, without
        training, and raise InvalidArgumentError when either is given. Raises PruningError /
        ShapeError when the rules reject a target (no mask is changed then).

        Thread-safe: concurrent calls (and wrapped forwards) on one pruner serialize under the
        pruner's lock; each call returns the masks it had the core write.
        """
        if max_steps is not None or max_epochs is not None:
            raise InvalidArgumentError(f"{type(self).__name__} prunes once without training: max_steps and "
                                       "max_epochs must be None")
        session = self._session
        bind = session.bind
        device_targets = []
        new_masks: List[Optional[torch.Tensor]] = []
        for target in self._targets:
            tensor = target.tensor() if target.is_parameter else None
            if tensor is None:
                bind(target.module_name, target.target_name, None, None)
                new_masks.append(None)
                continue
            if is_host(tensor):
                mask = torch.empty_like(tensor, requires_grad=False)
                bind(target.module_name, target.target_name, _spec(tensor), _spec(mask), (tensor, mask))
            else:
                # Another device (or a lazily negated view): rank a CPU copy, copy the mask back after.
                copy = host(tensor)
                mask = torch.empty_like(copy)
                bind(target.module_name, target.target_name, _spec(copy), _spec(mask), (copy, mask))
                device_targets.append((len(new_masks), tensor))
            new_masks.append(mask)
        session.generate_masks(self._metric)
        for index, tensor in device_targets:
            new_masks[index] = new_masks[index].to(tensor.device)  # type: ignore[union-attr]
        for target, mask in zip(self._targets, new_masks):
            target.mask = mask
        self._compressed = True
        return self.bound_model, self.get_masks()

    @locked
    def get_masks(self) -> Masks:
        """``{module_name: {target_name: mask}}`` in model order; the live masks (not copies). Before
        compress(): all-ones masks (what the unmasked forward computes), as in NNI."""
        masks: Masks = {}
        for module_name, group in self._by_module.items():
            entry: Dict[str, Optional[torch.Tensor]] = {}
            for target in group:
                if self._compressed or target.mask is not None:
                    entry[target.target_name] = target.mask
                else:
                    tensor = target.tensor() if target.is_parameter else None
                    entry[target.target_name] = None if tensor is None else torch.ones_like(tensor)
            masks[module_name] = entry
        return masks

    @locked
    def update_masks(self, masks: Masks) -> None:
        """Replaces masks (``{module_name: {target_name: tensor or None}}``); the wrapped forward uses
        them from then on (the tensors are used as given, not copied). A module or target that is
        not a target of this pruner raises StateError; a mask whose shape differs from its
        target's raises ShapeError."""
        for module_name, target_masks in masks.items():
            group = self._by_module.get(module_name)
            if group is None:
                raise StateError(f"update_masks: module '{module_name}' has no target in this pruner")
            by_name = {t.target_name: t for t in group}
            for target_name, mask in target_masks.items():
                target = by_name.get(target_name)
                if target is None:
                    raise StateError(f"update_masks: '{module_name}.{target_name}' is not a target of this pruner")
                if mask is not None:
                    tensor = target.tensor() if target.is_parameter else None
                    if tensor is not None and tuple(mask.shape) != tuple(tensor.shape):
                        raise ShapeError(f"update_masks: {target.qualified_name}: mask shape {tuple(mask.shape)} "
                                         f"differs from the target's {tuple(tensor.shape)}")
                target.mask = mask
        self._compressed = True


class LevelPruner(Pruner):
    """Magnitude pruning: ``|w|`` per element, fine-grained by default (NNI's LevelPruner)."""

    _metric = _core.SC_METRIC_LEVEL


class L1NormPruner(Pruner):
    """L1 norm per block, ``out_channel`` by default (NNI's L1NormPruner)."""

    _metric = _core.SC_METRIC_L1


class L2NormPruner(Pruner):
    """L2 norm per block, ``out_channel`` by default (NNI's L2NormPruner)."""

    _metric = _core.SC_METRIC_L2


class FPGMPruner(Pruner):
    """Filter pruning via geometric median: per block, the sum of L2 distances to the other blocks
    of the target; the smallest are pruned (NNI's FPGMPruner)."""

    _metric = _core.SC_METRIC_FPGM
