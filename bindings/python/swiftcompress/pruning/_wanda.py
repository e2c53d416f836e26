"""WandaPruner: Sun et al. 2023, "A Simple and Effective Pruning Approach for Large Language Models".

    pruner = WandaPruner(model, [{"op_types": ["Linear"], "sparse_ratio": 0.5}])
    pruner.calibrate(batches)            # forwards the batches; the core sums each input channel's x^2
    model, masks = pruner.compress()     # metric |W_ij| * ||X_j||_2, pruned per output row

The metric of weight element (i, j) is ``|W_ij| * ||X_j||_2``, where ``||X_j||_2`` is the L2 norm
of input channel j over every token of the calibration inputs. With ``sparse_ratio`` each output
row (dim 0) prunes ``int(row length * ratio)`` elements (the paper's comparison group); with
``mask_structure: "N:M"`` every M consecutive weights along the input dim prune their N smallest.

Python hooks the targeted modules (forward pre-hooks) and hands tensors to the core: the sums of
squares (``sc_wanda_accumulate``), the metric (``sc_wanda_metric``) and the masks
(``sc_session_generate_masks(SC_METRIC_WANDA)``) are computed there. Linear layers (input
``[..., in_features]``) and convolutions with ``groups=1`` (input ``[N, C, ...]``; a kernel's
positions share their input channel's norm) are supported.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch

from .. import _core
from .._session import run_batch
from .._tensors import host, is_host
from .._tensors import spec as _spec
from ..errors import InvalidArgumentError, PruningError
from . import Masks, Pruner

__all__ = ["WandaPruner"]


class WandaPruner(Pruner):
    """``WandaPruner(model, config_list, evaluator=None)``.

    - ``calibrate(batches)``: runs ``model(batch)`` (``model(*batch)`` for a tuple or list,
      ``model(**batch)`` for a dict) under ``torch.no_grad()`` for each batch, the core adding each
      targeted layer's input channel sums of squares. May be called several times (the sums go on).
    - ``compress()``: the masks from the metric (PruningError naming a target that saw no
      calibration input). With an ``evaluator`` (NNI's Evaluator interface) and no calibrate()
      call, compress() calibrates over ``evaluator.evaluate()``.
    - ``reset_calibration()``: forgets the sums.

    Errors: PruningError for a target module that is not a Linear or a groups=1 convolution, or
    an input / output target; the core's ShapeError for an input whose channels do not match.
    """

    _metric = _core.SC_METRIC_WANDA

    def __init__(self, model: torch.nn.Module, config_list: Sequence[Dict[str, Any]], evaluator: Any = None) -> None:
        super().__init__(model, config_list, evaluator)
        self._norms: Dict[str, torch.Tensor] = {}
        self._channel_dim: Dict[str, int] = {}
        for target in self._targets:
            if not (target.is_parameter and target.has_rule):
                continue
            module = target.module
            if isinstance(module, torch.nn.Linear):
                dim = -1
            elif isinstance(module, torch.nn.modules.conv._ConvNd) and not isinstance(
                    module, (torch.nn.ConvTranspose1d, torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d)) \
                    and module.groups == 1:
                dim = 1
            else:
                raise PruningError(f"{target.qualified_name}: WandaPruner needs a Linear or a groups=1 Conv module "
                                   f"(the layer input's channels along the weight's dim 1), got {type(module).__name__}")
            if target.target_name != "weight":
                raise PruningError(f"{target.qualified_name}: WandaPruner prunes weights (the metric scales "
                                   "weight[:, j] by input channel j's norm); remove it from target_names")
            self._channel_dim[target.module_name] = dim

    # -- calibration --------------------------------------------------------------------------

    def reset_calibration(self) -> None:
        """Forgets the accumulated input norms."""
        self._norms = {}

    def _hooks(self) -> List[Any]:
        handles = []
        seen = set()
        for target in self._targets:
            name = target.module_name
            if name not in self._channel_dim or name in seen:
                continue
            seen.add(name)
            handles.append(target.module.register_forward_pre_hook(self._collector(name), with_kwargs=True))
        return handles

    def _collector(self, name: str) -> Any:
        dim = self._channel_dim[name]

        def hook(module: torch.nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
            x = args[0] if args else next(iter(kwargs.values()), None)
            if not isinstance(x, torch.Tensor):
                raise PruningError(f"{name}.weight: WandaPruner.calibrate: the layer's input is "
                                   f"{type(x).__name__}, not a tensor")
            x = x.detach()
            if not is_host(x):
                x = host(x)
            norms = self._norms.get(name)
            first = norms is None
            if norms is None:
                channels = x.shape[dim] if x.dim() > 0 else 0
                norms = self._norms[name] = torch.empty(channels, dtype=torch.float64)
            _core.wanda_accumulate(_spec(norms), _spec(x), dim, first)
        return hook

    def calibrate(self, batches: Iterable[Any]) -> None:
        """Forwards every batch of ``batches`` through the model (no gradients); the core adds
        each targeted layer's per-input-channel sums of squares of its input."""
        if isinstance(batches, (torch.Tensor, dict)):
            raise InvalidArgumentError("WandaPruner.calibrate: expected an iterable of batches (e.g. a list or a "
                                       f"DataLoader), got one {type(batches).__name__}; wrap it in a list")
        handles = self._hooks()
        try:
            with torch.no_grad():
                for batch in batches:
                    run_batch(self.bound_model, batch)
        finally:
            for h in handles:
                h.remove()

    def _calibrate_with_evaluator(self) -> None:
        evaluator = self.evaluator
        if not callable(getattr(evaluator, "evaluate", None)):
            raise InvalidArgumentError(f"WandaPruner: evaluator must be an Evaluator with evaluate(); got "
                                       f"{type(evaluator).__name__}")
        if getattr(evaluator, "_initialization_complete", True) is False:
            evaluator._init_optimizer_helpers(self.bound_model)
        evaluator.bind_model(self.bound_model, {n: n for n, _ in self.bound_model.named_parameters()})
        handles = self._hooks()
        try:
            with torch.no_grad():
                evaluator.evaluate()
        finally:
            for h in handles:
                h.remove()
            evaluator.unbind_model()

    # -- masks --------------------------------------------------------------------------------

    def compress(self, max_steps: Optional[int] = None, max_epochs: Optional[int] = None  # type: ignore[override]
                 ) -> Tuple[torch.nn.Module, Masks]:
        """The masks from the Wanda metric of the calibration so far; returns ``(model, masks)``.
        ``max_steps`` / ``max_epochs`` must be None (one-shot pruning). PruningError naming the
        first target that saw no calibration input."""
        with self._lock:
            if not self._norms and self.evaluator is not None and max_steps is None and max_epochs is None:
                self._calibrate_with_evaluator()
            return super().compress(max_steps, max_epochs)

    def _bind_metric(self, target: Any, ranked: torch.Tensor) -> None:
        if not target.has_rule:
            return
        norms = self._norms.get(target.module_name)
        if norms is None:
            raise PruningError(f"{target.qualified_name}: WandaPruner.compress: no calibration input "
                               "reached this layer; call calibrate(batches) first")
        metric = torch.empty(ranked.shape, dtype=torch.float64 if ranked.dtype == torch.float64 else torch.float32)
        _core.wanda_metric(_spec(ranked), _spec(norms), _spec(metric))
        self._session.bind_metric(target.module_name, target.target_name, _spec(metric), metric)
