"""NNI 3.0-compatible pruners whose masks are computed by the Swift core.

    from swiftcompress.pruning import L1NormPruner     # was: from nni.compression.pruning import ...
    pruner = L1NormPruner(model, config_list)
    model, masks = pruner.compress()                   # masks: {module_name: {target_name: tensor}}
    ...                                                # forward applies the masks while wrapped
    pruner.unwrap_model()

Contract (as NNI 3.0's, with the differences listed in docs/python.md):

- The constructor resolves the config list against the model (errors: ConfigError, a ValueError;
  model-dependent problems are warnings, each emitted once through ``warnings``) and
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
  (``'add'``), or leaves them (``'bypass'``, as NNI), for the duration of the call (the shared
  mechanism of ``swiftcompress._wrapping``) and restores the parameters afterwards: the parameters
  stay where they are (``state_dict()`` keys and values are unchanged), gradients flow to them
  through the mask, and a parent that reads a child's weight directly (the fused fast path of
  ``nn.TransformerEncoderLayer``) sees the masked weight. Masks follow the weight's device and dtype
  (converted on first use after ``model.to(...)``).
- ``unwrap_model()`` restores every original ``forward``; the weights are never modified.
- Masks are saved and restored with :func:`save_masks` / :func:`load_masks` and ``update_masks``;
  ``load_state_dict`` of plain weights keeps a wrapped model masked; ``torch.export`` traces the
  masking as ``weight * mask``; copies stay masked; ``print(model)`` names the pruned targets.
- Threads: calls on one pruner (compress, update_masks, get_masks, wrap / unwrap) and the wrapped
  forward (for as long as it has parameters swapped) serialize under the pruner's reentrant lock
  (``swiftcompress._sync``); each call returns the masks it had the core write. A copy of a wrapped
  model has one new lock of its own; a traced forward (torch.export) takes no lock.

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
from .._distributed import wrap_constructors as _wrap_constructors
from .._session import emit_warnings, logger, open_compressor
from .._sync import locked
from .._tensors import host, is_host
from .._wrapping import (Swap, WrappedForward, check_wrappable, compressor_lock, install, note, tracing, uninstall,
                         unnote)
from .._tensors import spec as _spec
from . import _distributed as _sharded
from ..errors import InvalidArgumentError, PruningError, ShapeError, StateError

__all__ = ["Pruner", "LevelPruner", "L1NormPruner", "L2NormPruner", "FPGMPruner", "save_masks", "load_masks",
           "TaylorPruner", "SlimPruner", "MovementPruner", "LinearPruner", "AGPPruner", "WandaPruner"]


Masks = Dict[str, Dict[str, Optional[torch.Tensor]]]


class _Target(Swap):
    """One resolved target: where its tensor lives and its mask. Swapped by the wrapped forward for
    ``target * mask`` ('mul'), ``target - 1000 * (mask != 1)`` ('add'), or left as it is
    ('bypass', as NNI 3.0 and the core's applyMask do)."""

    __slots__ = ("apply", "is_parameter", "has_rule", "mask", "factor", "score", "shape")

    def __init__(self, module_name: str, target_name: str, module: torch.nn.Module, facts: Dict[str, Any]) -> None:
        super().__init__(module, module_name, target_name)
        # the core's typed facts of the target (report["facts"]), never its setting keys
        self.apply: str = facts["apply"]
        self.is_parameter = facts["role"] == "parameter"
        self.has_rule: bool = facts["prunes"]
        self.mask: Optional[torch.Tensor] = None
        self.factor: Optional[torch.Tensor] = None  # SlimPruner's scaling factor (NNI's slim_mul)
        self.shape: Optional[Tuple[int, ...]] = None  # an '_output_' target's last output shape (NNI tracks it)
        self.score: Optional[torch.Tensor] = None  # MovementPruner's score (NNI's movement_mul)

    def pruning_output(self, value: Any) -> Any:
        """The wrapped forward's output for an ``_output_`` target: its shape recorded (the
        training-aware pruners bind an aligned output mask of that shape), then ``value * mask``
        ('mul'; the mask has the metric's keepdim shape and broadcasts, as NNI's output masks) or
        ``value`` (no mask yet, 'bypass', a non-tensor output)."""
        if not isinstance(value, torch.Tensor):  # (the wrapped forward calls it for '_output_' targets only)
            return value
        self.shape = tuple(value.shape)
        mask = self.mask
        if mask is None or self.apply != "mul":
            return value
        if mask.device != value.device or mask.dtype != value.dtype:
            mask = mask.to(device=value.device, dtype=value.dtype)
        return value * mask

    def tensor(self) -> Optional[torch.Tensor]:
        """The target's tensor now (None when the attribute is None); checks what the core can read."""
        return self.current("rank")

    def replacement(self, value: torch.Tensor) -> Optional[torch.Tensor]:
        mask = self.mask
        if self.score is not None and mask is not None and self.apply == "mul":
            # movement_mul: target * mask, the mask's gradient passed straight to the score
            from ._training import _StraightThrough
            return value * _StraightThrough.apply(self.score, mask)
        if self.factor is not None:  # slim_mul: target * factor, then the mask
            value = value * self.factor
            if mask is None or self.apply == "bypass":
                return value
        if mask is None or self.apply == "bypass":
            return None
        if _sharded.unshards_later(self.module, value):
            return None  # swapped by the module's own forward, after FSDP2 has unsharded the weight
        keep = True
        if _sharded.gathers_mask(mask, value):
            # FSDP2's forward: the module holds the unsharded weight, the mask is still sharded: its
            # shards are gathered for this call (a collective, as FSDP2's own), not kept
            mask, keep = mask.full_tensor(), False
        if mask.device != value.device or mask.dtype != value.dtype:
            mask = mask.to(device=value.device, dtype=value.dtype)
            if keep and not tracing():  # converted once (not to a traced tensor)
                self.mask = mask
        if self.apply == "add":
            return value - (mask != 1).to(value.dtype) * 1000
        return value * mask


class Pruner:
    """Base of the four pruners: ``Pruner(model, config_list)``; subclasses set the metric."""

    _metric: int = _core.SC_METRIC_LEVEL

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # over a sharded model, every rank ends the outermost constructor with a status round (docs/distributed.md)
        _wrap_constructors(cls, _core.SC_MODE_PRUNING)

    def __init__(self, model: torch.nn.Module, config_list: Sequence[Dict[str, Any]], evaluator: Any = None) -> None:
        # evaluator: as NNI 3.0's basic pruners, optional; used by LinearPruner / AGPPruner over this pruner
        self.evaluator = evaluator
        self._session, modules, report = open_compressor(self, model, config_list, "pruning")
        self._modules = modules
        emit_warnings(report, stacklevel=2)
        self._targets: List[_Target] = []
        self._by_module: Dict[str, List[_Target]] = {}
        # One forward per module object (a module shared under two names gets both names' masks).
        self._by_object: Dict[int, List[_Target]] = {}
        for module_name, info in report["modules"].items():
            module = modules[module_name]
            facts = report["facts"][module_name]
            group = [_Target(module_name, name, module, facts[name]) for name in info["targets"]]
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
        self._lock = compressor_lock(modules.values())  # shared with compressors of the same modules
        self.wrap_model()

    @classmethod
    def from_compressor(cls, compressor: Any, new_config_list: Sequence[Dict[str, Any]], evaluator: Any = None) -> Any:
        """A new pruner of this class over ``compressor``'s model (unwrapped first) with
        ``new_config_list``; ``compressor``'s evaluator is kept unless it has none (then
        ``evaluator``), as NNI 3.0's ``from_compressor``."""
        if getattr(compressor, "_is_wrapped", False):
            compressor.unwrap_model()
        own = getattr(compressor, "evaluator", None)
        return cls(compressor.bound_model, new_config_list, own if own is not None else evaluator)

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
            check_wrappable(group[0].module, group[0].module_name, "pruning", None,
                            "another swiftcompress pruner (or is part of a copy of a wrapped model); call the "
                            "pruner's unwrap_model() first")
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
        self._wrapped: List[WrappedForward] = []
        label = type(self).__name__
        for key, module in objects.items():
            own = self._by_object.get(key, [])
            forward = WrappedForward("pruning", self, label, module, own, subtree[key],
                                     module.__dict__.get("forward"), self._lock)
            install(forward)
            if own:
                note(module)
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
            uninstall(forward)
            unnote(forward.module)
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
        if _sharded.uses_shards(self):  # DTensor parameters: the cut across ranks (docs/distributed.md)
            for target, mask in zip(self._targets, _sharded.compress_sharded(self)):
                target.mask = mask
            self._compressed = True
            return self.bound_model, self.get_masks()
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
                ranked = tensor
                mask = torch.empty_like(tensor, requires_grad=False)
            else:
                # Another device (or a lazily negated view): rank a CPU copy, copy the mask back after.
                ranked = host(tensor)
                mask = torch.empty_like(ranked)
                device_targets.append((len(new_masks), tensor))
            bind(target.module_name, target.target_name, _spec(ranked), _spec(mask), (ranked, mask))
            self._bind_metric(target, ranked)
            new_masks.append(mask)
        session.generate_masks(self._metric)
        for index, tensor in device_targets:
            new_masks[index] = new_masks[index].to(tensor.device)  # type: ignore[union-attr]
        for target, mask in zip(self._targets, new_masks):
            target.mask = mask
        self._compressed = True
        return self.bound_model, self.get_masks()

    def _bind_metric(self, target: _Target, ranked: torch.Tensor) -> None:
        """Binds a caller-computed metric for ``target`` (ranked: the host tensor the core ranks)
        before the masks are generated; the core computes the metric of these pruners itself."""

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


_wrap_constructors(Pruner, _core.SC_MODE_PRUNING)


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


def save_masks(masks: Masks, path: Any) -> None:
    """Writes ``masks`` (``{module_name: {target_name: tensor or None}}``, what ``compress()`` and
    ``get_masks()`` return) to ``path`` (a file name or a binary file object) with ``torch.save``, as
    the plain nested dict: ``torch.load`` reads it too, and so does NNI's ``update_masks``. Restore
    with ``pruner.update_masks(load_masks(path))`` on a pruner of a fresh model built with the same
    config list. InvalidArgumentError for anything that is not such a dict."""
    torch.save(_checked_masks(masks, "save_masks"), path)


def load_masks(path: Any, map_location: Any = None) -> Masks:
    """The masks written by :func:`save_masks` (or ``torch.save`` of a compress() result), read with
    ``torch.load(weights_only=True)`` (no code runs). ``map_location`` as torch.load's (update_masks
    moves a mask to its weight's device and dtype on first use anyway). InvalidArgumentError when
    the file does not hold ``{module_name: {target_name: tensor or None}}``."""
    return _checked_masks(torch.load(path, map_location=map_location, weights_only=True), "load_masks")


def _checked_masks(masks: Any, what: str) -> Masks:
    if not isinstance(masks, dict):
        raise InvalidArgumentError(f"{what}: expected {{module_name: {{target_name: mask}}}}, got "
                                   f"{type(masks).__name__}")
    out: Masks = {}
    for module_name, targets in masks.items():
        if not isinstance(module_name, str) or not isinstance(targets, dict):
            raise InvalidArgumentError(f"{what}: entry {module_name!r}: expected a str module name and a dict "
                                       f"{{target_name: mask}}, got {type(targets).__name__}")
        entry: Dict[str, Optional[torch.Tensor]] = {}
        for target_name, mask in targets.items():
            if not isinstance(target_name, str) or not (mask is None or isinstance(mask, torch.Tensor)):
                raise InvalidArgumentError(f"{what}: {module_name}.{target_name}: expected a tensor or None, got "
                                           f"{type(mask).__name__}")
            entry[target_name] = mask
        out[module_name] = entry
    return out


from ._training import AGPPruner, LinearPruner, MovementPruner, SlimPruner, TaylorPruner  # noqa: E402  (they subclass Pruner)
from ._wanda import WandaPruner  # noqa: E402  (subclasses Pruner)
