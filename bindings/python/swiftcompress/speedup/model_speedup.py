"""ModelSpeedup: the model is traced (:mod:`swiftcompress.utils._graph`), the masks are handed to the
core, and the core's shrink plan (kept output / input indices and new attributes per module) is
applied by slicing parameters and buffers. Python selects indices the core gave; it computes none."""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List, Optional

import torch
import torch.nn as nn

from .. import _core
from .._tensors import spec
from ..utils._graph import CONV_TYPES, CapturedGraph, _inputs, capture

_LOGGER = logging.getLogger("swiftcompress.speedup")

# Attributes of an attention module that hold its head counts (torch, Hugging Face, nanoGPT names).
QUERY_HEAD_ATTRS = ("num_heads", "num_attention_heads", "n_head", "n_heads", "heads")
KV_HEAD_ATTRS = ("num_key_value_heads", "num_kv_heads", "n_kv_heads", "n_kv_head")

# The module types NNI 3.0's ModelSpeedup replaces with newly built modules (its replacement table,
# whatever their masks): those come back in training mode, BatchNorm's num_batches_tracked at 0.
NNI_REBUILT_TYPES = ("BatchNorm1d", "BatchNorm2d", "InstanceNorm2d", "Conv1d", "Conv2d", "Linear", "PReLU",
                     "GroupNorm", "ConvTranspose2d", "LayerNorm", "Embedding", "PixelShuffle")


def _select(t: torch.Tensor, dim: int, indices: Optional[List[int]]) -> torch.Tensor:
    if indices is None or len(indices) == t.shape[dim]:
        return t
    return torch.index_select(t, dim, torch.tensor(indices, dtype=torch.long, device=t.device))


def _replace(module: nn.Module, name: str, value: Optional[torch.Tensor]) -> None:
    old = getattr(module, name, None)
    if old is None or value is None or value is old:
        return
    if isinstance(old, nn.Parameter):
        setattr(module, name, nn.Parameter(value.detach().clone(), requires_grad=old.requires_grad))
    else:
        setattr(module, name, value.detach().clone())


class ModelSpeedup:
    """NNI 3.0's ``ModelSpeedup(model, dummy_input, masks_or_file, ...)``; ``speedup_model()``
    shrinks ``model`` in place and returns it.

    ``masks_or_file``: ``{module_name: {"weight": mask, "bias": mask}}`` (what a pruner's
    ``compress()`` returns) or a file ``torch.save``-d with one (``map_location`` as torch.load's).
    The masks are applied to the parameters (``target * mask``, by the core), then for each Conv /
    ConvTranspose / Linear / Embedding / BatchNorm / InstanceNorm / per-channel GroupNorm call in
    the traced graph the core's plan gives the kept output and input channel indices: parameters
    and buffers are sliced and ``in_channels`` / ``out_channels`` / ``groups`` / ``in_features`` /
    ``out_features`` / ``num_features`` / ``embedding_dim`` / ``num_channels`` / ``num_groups`` set.
    Attention heads: for each ``F.scaled_dot_product_attention`` call whose q, k and v come from
    projections viewed as ``(..., -1, head_dim)`` (heads computed, head dim constant), whole heads
    are removed where every mask prunes them (grouped-query attention: a key / value head with its
    query heads), and the head counts of the module owning the query projection
    (``num_heads`` / ``num_attention_heads`` / ``n_head`` / ``n_heads`` / ``heads``,
    ``num_key_value_heads`` / ``num_kv_heads`` / ``n_kv_heads``) are set. A view that gives the head
    count as a constant (``view(b, t, self.n_head, d)``) keeps every head; ``nn.MultiheadAttention``
    is opaque (its heads are kept).

    A channel is removed when every mask that covers it prunes it and nothing fixes it (graph inputs
    and outputs, LayerNorm statistics, grouped non-depthwise convs, ops the graph cannot describe);
    removed channels are those the masks prune at every layer that carries them, so the shrunk model
    computes the masked model with those channels at zero. Channels kept but masked stay zero.

    As NNI's, the constructor runs ``model(dummy_input)`` once, without gradients, in the model's
    current mode: in training mode BatchNorm running statistics take one update from
    ``dummy_input`` (call ``model.eval()`` first to avoid it). A channel whose weight rows are all
    masked goes with its bias when no bias mask is given (NNI's rule; a bias mask keeps it where it
    is 1). As NNI's, which builds a new module for every traced Conv / Linear / norm / Embedding
    call, those modules come back in training mode and BatchNorm's ``num_batches_tracked`` at 0,
    whatever the model's mode: call ``model.eval()`` after ``speedup_model()`` for inference.

    Pass an unwrapped model (a pruner's wrappers hold masks of the old shapes). Sizes a forward gives as
    constants (``x.view(-1, 400)``) keep the dims they describe. ``batch_dim``, ``batch_size``,
    ``customized_mask_updaters``, ``customized_replacers``, ``graph_module``,
    ``garbage_collect_values`` are accepted for NNI compatibility and not used (the core's analysis
    does not run the model in batches); ``logger`` receives one info line per shrunk module.
    """

    def __init__(self, model: nn.Module, dummy_input: Any, masks_or_file: Any, map_location: Any = None,
                 batch_dim: int = 0, batch_size: int = 8, customized_mask_updaters: Any = None,
                 customized_replacers: Any = None, graph_module: Any = None, garbage_collect_values: bool = True,
                 logger: Optional[logging.Logger] = None) -> None:
        self.bound_model = model
        self.dummy_input = dummy_input
        if isinstance(masks_or_file, (str, os.PathLike)):
            masks_or_file = torch.load(masks_or_file, map_location=map_location)
        if not isinstance(masks_or_file, dict):
            raise TypeError(f"ModelSpeedup: masks_or_file must be a dict of masks or a file path, got "
                            f"{type(masks_or_file).__name__}")
        self.masks: Dict[str, Dict[str, torch.Tensor]] = masks_or_file
        self.logger = logger or _LOGGER
        # NNI 3.0's constructor traces by running the model once on dummy_input in its current mode
        # (before the masks are applied): in training mode that is one BatchNorm statistics update
        # (and one draw of each dropout). The same call here keeps NNI's scripts' later results.
        args, kwargs = _inputs(dummy_input)
        with torch.no_grad():
            model(*args, **kwargs)
        self.graph: Optional[CapturedGraph] = None
        self.report: Optional[Dict[str, Any]] = None

    def _apply_masks(self) -> None:
        modules = dict(self.bound_model.named_modules())
        for name, targets in self.masks.items():
            module = modules.get(name)
            if module is None:
                raise KeyError(f"ModelSpeedup: the masks name module {name!r}, which the model does not have")
            for target, mask in targets.items():
                value = getattr(module, target, None)
                if mask is None or not isinstance(value, torch.Tensor):
                    continue
                with torch.no_grad():
                    m = mask.detach().to(value.device)
                    _core.apply_mask(spec(m), spec(value.data), 0)

    def speedup_model(self) -> nn.Module:
        """Shrinks the model in place (see the class) and returns it."""
        model = self.bound_model
        self._apply_masks()
        graph = capture(model, self.dummy_input)
        self.graph = graph
        for name, targets in self.masks.items():
            weight = targets.get("weight")
            if weight is None:
                continue
            bias = targets.get("bias")
            for index in graph.module_nodes.get(name, []):
                if graph.kinds[index] not in ("conv", "linear", "embedding"):
                    continue
                w = weight.detach().contiguous()
                b = None if bias is None else bias.detach().contiguous()
                _core.graph_set_mask(graph.handle, index, spec(w), None if b is None else spec(b))
        self.report = json.loads(_core.graph_report(graph.handle))
        OUT, IN = _core.graph_op_codes()["OUTPUT"], _core.graph_op_codes()["INPUT"]
        with torch.no_grad():
            for name, indices in graph.module_nodes.items():
                index = indices[0]
                module = graph.modules[name]
                kind = graph.kinds[index]
                if kind not in ("conv", "linear", "embedding", "norm"):
                    continue
                out = _core.graph_plan(graph.handle, index, OUT)
                inp = _core.graph_plan(graph.handle, index, IN)
                attrs = _core.graph_shrunk_attrs(graph.handle, index)
                if kind == "conv":
                    self._conv(module, out, inp, attrs)
                elif kind == "linear":
                    _replace(module, "weight", _select(_select(module.weight, 0, out), 1, inp))
                    _replace(module, "bias", None if module.bias is None else _select(module.bias, 0, out))
                    module.in_features, module.out_features = attrs[0], attrs[1]
                elif kind == "embedding":
                    _replace(module, "weight", _select(module.weight, 1, out))
                    module.embedding_dim = attrs[1]
                else:
                    self._norm(module, out, attrs)
                self.logger.info("swiftcompress speedup: %s -> %s", name, attrs)
        self._heads(graph)
        self._as_rebuilt(graph)
        return model

    @staticmethod
    def _as_rebuilt(graph: CapturedGraph) -> None:
        """NNI's ModelSpeedup puts a new module in place of every traced call of a type in
        NNI_REBUILT_TYPES: the new module is in training mode (whatever the model's mode) and a
        BatchNorm's ``num_batches_tracked`` restarts at 0. The same state here keeps NNI's scripts'
        results (fine-tuning after a speedup) the same."""
        for name in graph.module_nodes:
            module = graph.modules.get(name)
            if module is None or type(module).__name__ not in NNI_REBUILT_TYPES:
                continue
            module.training = True
            tracked = getattr(module, "num_batches_tracked", None)
            if isinstance(tracked, torch.Tensor):
                module.num_batches_tracked = torch.zeros_like(tracked)

    def _heads(self, graph: CapturedGraph) -> None:
        """Sets the head counts of each attention call's module (the parent of the Linear that makes
        its query) to the core's kept heads, where that module holds them under a known name
        (QUERY_HEAD_ATTRS, KV_HEAD_ATTRS) with the traced value."""
        for index in graph.attention_nodes:
            heads = _core.graph_shrunk_attrs(graph.handle, index)
            before, after = tuple(heads[2:4]), tuple(heads[4:6])
            owner = self._projection_owner(graph, graph.inputs[index][0])
            if owner is None or after == before:
                continue
            for names, old, new in ((QUERY_HEAD_ATTRS, before[0], after[0]), (KV_HEAD_ATTRS, before[1], after[1])):
                for attr in names:
                    value = getattr(owner, attr, None)
                    if isinstance(value, int) and not isinstance(value, bool) and value == old and new != old:
                        setattr(owner, attr, new)
                        self.logger.info("swiftcompress speedup: %s.%s -> %d", graph.node_names[index], attr, new)

    @staticmethod
    def _projection_owner(graph: CapturedGraph, start: int) -> Optional[nn.Module]:
        """The module holding the Linear (or conv) whose output reaches node ``start``, walking
        back through single-input views and transposes."""
        node = start
        for _ in range(64):
            if graph.kinds[node] in ("linear", "conv"):
                name = graph.node_names[node]
                parent = name.rpartition(".")[0]
                return graph.modules.get(parent)
            inputs = graph.inputs[node]
            if len(inputs) != 1:
                return None
            node = inputs[0]
        return None

    @staticmethod
    def _conv(module: nn.Module, out: Optional[List[int]], inp: Optional[List[int]], attrs: List[int]) -> None:
        assert isinstance(module, CONV_TYPES)
        grouped = module.groups > 1
        w = module.weight
        if attrs[3] == 1:  # ConvTranspose: weight [in, out / groups, k...]
            w = _select(w, 0, inp)
            if not grouped:
                w = _select(w, 1, out)
        else:
            w = _select(w, 0, out)
            if not grouped:
                w = _select(w, 1, inp)
        _replace(module, "weight", w)
        _replace(module, "bias", None if module.bias is None else _select(module.bias, 0, out))
        module.in_channels, module.out_channels, module.groups = attrs[0], attrs[1], attrs[2]

    @staticmethod
    def _norm(module: nn.Module, kept: Optional[List[int]], attrs: List[int]) -> None:
        if kept is None:
            return
        for name in ("weight", "bias", "running_mean", "running_var"):
            value = getattr(module, name, None)
            if isinstance(value, torch.Tensor) and value.dim() == 1:
                _replace(module, name, _select(value, 0, kept))
        if hasattr(module, "num_features"):
            module.num_features = len(kept)
        if isinstance(module, nn.GroupNorm):
            module.num_channels, module.num_groups = len(kept), attrs[1]
