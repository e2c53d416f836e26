"""Graph capture for the core's channel-dependency analysis (include/swiftcompress.h, "Graph
analysis"): the model is traced with ``torch.fx`` (standard ``torch.nn`` modules are leaves), shapes
come from running ``dummy_input`` through the traced graph (``ShapeProp``), and every fx node that
makes a tensor becomes one core node: a module call (conv, linear, embedding, norm, a per-channel
module) or a functional / method op (add / sub / mul / div, cat, split / chunk items, flatten / view /
reshape, permute / transpose, mean / sum, ...). What the graph cannot describe becomes an opaque
node, whose inputs keep all their channels.

When ``torch.fx`` cannot trace the model, the children that fail are traced as opaque leaves (a
warning names them); a model whose own ``forward`` cannot be traced raises the fx error.

Nothing here computes on values: shapes are read off the traced tensors and handed over as they are.
"""
from __future__ import annotations

import operator
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.fx
import torch.nn as nn
from torch.fx.passes.shape_prop import ShapeProp

from .. import _core

OPS = _core.graph_op_codes()

CONV_TYPES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
PER_CHANNEL_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm1d, nn.InstanceNorm2d,
                     nn.InstanceNorm3d, nn.SyncBatchNorm)
PASS_MODULES = (nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.LeakyReLU,
                nn.ELU, nn.SELU, nn.CELU, nn.Mish, nn.Softplus, nn.Hardtanh, nn.Identity, nn.Dropout, nn.Dropout1d,
                nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d,
                nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d,
                nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d, nn.ZeroPad2d, nn.ConstantPad1d,
                nn.ConstantPad2d, nn.ConstantPad3d, nn.ReflectionPad2d, nn.ReplicationPad2d, nn.Upsample,
                nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d)

ELEMENTWISE_FUNCTIONS = {operator.add, operator.sub, operator.mul, operator.truediv, operator.iadd, operator.isub,
                         operator.imul, operator.itruediv, torch.add, torch.sub, torch.subtract, torch.mul,
                         torch.multiply, torch.div, torch.divide}
ELEMENTWISE_METHODS = {"add", "add_", "sub", "sub_", "mul", "mul_", "div", "div_", "multiply", "divide"}
PASS_FUNCTIONS = {torch.relu, torch.relu_, torch.sigmoid, torch.tanh, nn.functional.relu, nn.functional.relu6,
                  nn.functional.gelu, nn.functional.silu, nn.functional.hardswish, nn.functional.hardsigmoid,
                  nn.functional.leaky_relu, nn.functional.elu, nn.functional.mish, nn.functional.dropout,
                  nn.functional.adaptive_avg_pool1d, nn.functional.adaptive_avg_pool2d,
                  nn.functional.adaptive_avg_pool3d, nn.functional.avg_pool1d, nn.functional.avg_pool2d,
                  nn.functional.avg_pool3d, nn.functional.max_pool1d, nn.functional.max_pool2d,
                  nn.functional.max_pool3d, nn.functional.adaptive_max_pool2d, nn.functional.hardtanh,
                  nn.functional.interpolate, torch.clone}
try:  # torchvision's stochastic depth (fx-wrapped): identity in eval, a per-sample scale in training
    from torchvision.ops import stochastic_depth as _stochastic_depth
    PASS_FUNCTIONS.add(_stochastic_depth)
except Exception:  # noqa: BLE001 - torchvision is optional
    pass
PASS_METHODS = {"relu", "relu_", "sigmoid", "tanh", "contiguous", "clone", "detach", "float", "to", "type_as", "expand"}
RESHAPE_FUNCTIONS = {torch.flatten, torch.reshape, torch.squeeze, torch.unsqueeze}
RESHAPE_METHODS = {"view", "reshape", "flatten", "squeeze", "unsqueeze", "unflatten", "view_as", "reshape_as"}
REDUCE_FUNCTIONS = {torch.mean: "mean", torch.sum: "sum", torch.amax: "amax"}
REDUCE_METHODS = {"mean", "sum", "amax"}
ATTENTION_FUNCTIONS = {nn.functional.scaled_dot_product_attention}


# torch.nn containers traced through (their Linear / LayerNorm / attention children become nodes).
TRANSPARENT = (nn.TransformerEncoder, nn.TransformerEncoderLayer, nn.TransformerDecoder, nn.TransformerDecoderLayer,
               nn.Transformer)


class _Tracer(torch.fx.Tracer):
    """fx's default leaves (torch.nn modules) plus the modules that failed to trace."""

    def __init__(self, extra_leaves: Sequence[nn.Module] = ()) -> None:
        super().__init__()
        self.extra_leaves = set(map(id, extra_leaves))

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if id(m) in self.extra_leaves:
            return True
        if isinstance(m, TRANSPARENT):
            return False
        return super().is_leaf_module(m, qualname)


def _trace(model: nn.Module) -> torch.fx.GraphModule:
    # nn.TransformerEncoderLayer's fast-path checks branch on tensor properties, which fx cannot
    # trace; with the fast path off the checks stop at their first branch (the traced graph is the
    # layer's regular path, which computes the same).
    mha = getattr(torch.backends, "mha", None)
    if mha is None or not hasattr(mha, "set_fastpath_enabled"):
        with _TransformerHelpers():
            return _trace_graph(model)
    enabled = mha.get_fastpath_enabled()
    mha.set_fastpath_enabled(False)
    try:
        with _TransformerHelpers():
            return _trace_graph(model)
    finally:
        mha.set_fastpath_enabled(enabled)


class _TransformerHelpers:
    """nn.TransformerEncoder.forward asks ``_get_seq_len(src)`` (``src.is_nested``, a branch fx cannot
    follow) only for a causal-mask check that needs no value without a mask: while tracing, it is
    recorded as a call (fx's wrap table); the table is restored afterwards (the GraphModule's code
    registers entries of its own there)."""

    def __enter__(self) -> None:
        self.saved = None
        try:
            import torch.fx._symbolic_trace as st
            import torch.nn.modules.transformer as tr
            if hasattr(tr, "_get_seq_len") and isinstance(getattr(st, "_wrapped_fns_to_patch", None), dict):
                self.table = st._wrapped_fns_to_patch
                self.saved = dict(self.table)
                self.table[(id(tr.__dict__), "_get_seq_len")] = tr.__dict__
        except Exception:  # noqa: BLE001 - a torch without these internals traces without the wrap
            self.saved = None

    def __exit__(self, *exc: Any) -> None:
        if self.saved is not None:
            self.table.clear()
            self.table.update(self.saved)


def _trace_graph(model: nn.Module) -> torch.fx.GraphModule:
    try:
        tracer = _Tracer()
        return torch.fx.GraphModule(model, tracer.trace(model))
    except Exception as error:  # noqa: BLE001 - fx raises many kinds
        first_error = error
    leaves: List[nn.Module] = []
    names: List[str] = []

    def collect(module: nn.Module, prefix: str) -> None:
        for name, child in module.named_children():
            qual = f"{prefix}.{name}" if prefix else name
            if _Tracer().is_leaf_module(child, qual):
                continue
            try:
                _Tracer(leaves).trace(child)
            except Exception:  # noqa: BLE001
                # a child that fails: its own children may trace; when none of them fails, the child is the leaf.
                before = len(leaves)
                collect(child, qual)
                try:
                    _Tracer(leaves).trace(child)
                except Exception:  # noqa: BLE001
                    del leaves[before:]
                    del names[before:]
                    leaves.append(child)
                    names.append(qual)

    collect(model, "")
    try:
        tracer = _Tracer(leaves)
        gm = torch.fx.GraphModule(model, tracer.trace(model))
    except Exception:
        raise first_error
    warnings.warn(f"swiftcompress: torch.fx could not trace {', '.join(names) or 'the model'} ({first_error}); "
                  "traced as opaque modules, whose channels are kept", stacklevel=3)
    return gm


def _inputs(dummy_input: Any) -> Tuple[Tuple[Any, ...], Dict[str, Any]]:
    if isinstance(dummy_input, dict):
        return (), dict(dummy_input)
    if isinstance(dummy_input, (list, tuple)):
        return tuple(dummy_input), {}
    return (dummy_input,), {}


def _meta_shape(node: torch.fx.Node) -> Optional[List[int]]:
    meta = node.meta.get("tensor_meta")
    if meta is not None and hasattr(meta, "shape"):
        return list(meta.shape)
    return None


def _tuple_shapes(node: torch.fx.Node) -> Optional[List[List[int]]]:
    meta = node.meta.get("tensor_meta")
    if isinstance(meta, (list, tuple)) and all(hasattr(m, "shape") for m in meta):
        return [list(m.shape) for m in meta]
    return None


class CapturedGraph:
    """A model's core graph: ``handle`` (the core's sc_graph), ``module_nodes`` (module name -> the
    indices of its calls), ``modules`` (name -> module) and ``node_names``."""

    def __init__(self, model: nn.Module, dummy_input: Any) -> None:
        self.model = model
        gm = _trace(model)
        args, kwargs = _inputs(dummy_input)
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        if kwargs:
            ordered = [kwargs.get(p.target) for p in placeholders]
            args = tuple(ordered)
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                ShapeProp(gm).propagate(*args[:len(placeholders)])
        finally:
            model.train(was_training)
        _mark_splits(gm)
        self.gm = gm
        self.handle = _core.graph_create()
        self.node_names: List[str] = []
        self.kinds: List[str] = []
        self.shapes: List[List[int]] = []
        self.input_shapes: List[Optional[List[int]]] = []
        self.inputs: List[List[int]] = []
        self.attention_nodes: List[int] = []
        self.module_nodes: Dict[str, List[int]] = {}
        self.modules: Dict[str, nn.Module] = dict(model.named_modules())
        self._index: Dict[torch.fx.Node, int] = {}
        for node in gm.graph.nodes:
            self._add(node)

    # -- building ---------------------------------------------------------------------------------

    def _node(self, name: str, op: str, inputs: Sequence[int], shape: Sequence[int], attrs: Sequence[int] = ()) -> int:
        index = _core.graph_add_node(self.handle, name, OPS[op], list(inputs), list(shape), list(attrs))
        self.node_names.append(name)
        self.kinds.append(op)
        self.shapes.append(list(shape))
        self.input_shapes.append(self.shapes[inputs[0]] if inputs else None)
        self.inputs.append(list(inputs))
        if op == "attention":
            self.attention_nodes.append(index)
        return index

    def _tensor_inputs(self, values: Any) -> List[int]:
        found: List[int] = []

        def walk(v: Any) -> None:
            if isinstance(v, torch.fx.Node):
                if v in self._index:
                    found.append(self._index[v])
            elif isinstance(v, (list, tuple)):
                for x in v:
                    walk(x)
            elif isinstance(v, dict):
                for x in v.values():
                    walk(x)

        walk(values)
        return found

    def _add(self, node: torch.fx.Node) -> None:
        shape = _meta_shape(node)
        if node.op == "output":
            inputs = self._tensor_inputs(node.args)
            self._node("output", "output", inputs, [])
            return
        if node.op in ("placeholder", "get_attr"):
            if shape is not None:
                self._index[node] = self._node(node.name, "input", [], shape)
            return
        inputs = self._tensor_inputs((node.args, node.kwargs))
        if node.op == "call_function" and node.target is operator.getitem:
            self._getitem(node, shape)
            return
        if shape is None:
            if getattr(node, "_sc_split", None) is not None:
                return  # its getitem users become split nodes
            # a tuple-valued op (or a non-tensor): an opaque node keeps its inputs; items become opaque.
            meta = node.meta.get("tensor_meta")
            if inputs and isinstance(meta, (list, tuple)) and any(hasattr(m, "shape") for m in meta):
                self._index[node] = self._node(node.name, "opaque", inputs, [])
            return
        if node.op == "call_module":
            self._module(node, inputs, shape)
        elif node.op == "call_function":
            self._function(node, node.target, inputs, shape)
        elif node.op == "call_method":
            self._method(node, inputs, shape)

    def _getitem(self, node: torch.fx.Node, shape: Optional[List[int]]) -> None:
        source, item = node.args[0], node.args[1]
        if shape is None or not isinstance(source, torch.fx.Node):
            return
        split = getattr(source, "_sc_split", None)
        if split is not None and isinstance(item, int):
            kind, dim, sizes = split
            source_index = self._index[source.args[0]]
            if kind == "chunk":
                self._index[node] = self._node(node.name, "chunk", [source_index], shape, [dim, item, sizes])
            elif kind == "split":
                self._index[node] = self._node(node.name, "split", [source_index], shape, [dim, item, *sizes])
            else:  # sizes given as constants: they would not fit fewer channels, so the input keeps its own
                self._index[node] = self._node(node.name, "opaque", [source_index], shape)
            return
        inputs = self._tensor_inputs(node.args)
        if len(inputs) == 1 and _is_unsqueeze_index(item):
            # x[:, None, ...]: new size-1 dims only, a reshape whose sizes all follow the input.
            self._index[node] = self._node(node.name, "reshape", inputs, shape, [0] * len(shape))
            return
        self._index[node] = self._node(node.name, "opaque", inputs, shape)

    def _module(self, node: torch.fx.Node, inputs: List[int], shape: List[int]) -> None:
        name = str(node.target)
        m = self.gm.get_submodule(name)
        index: int
        if isinstance(m, CONV_TYPES) and len(inputs) == 1:
            transposed = 1 if isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)) else 0
            attrs = [m.in_channels, m.out_channels, m.groups, transposed, 0 if m.bias is None else 1, *m.kernel_size]
            index = self._node(name, "conv", inputs, shape, attrs)
        elif isinstance(m, nn.Linear) and len(inputs) == 1:
            index = self._node(name, "linear", inputs, shape, [m.in_features, m.out_features, 0 if m.bias is None else 1])
        elif isinstance(m, nn.Embedding) and len(inputs) == 1:
            index = self._node(name, "embedding", inputs, shape, [m.num_embeddings, m.embedding_dim])
        elif isinstance(m, PER_CHANNEL_NORMS) and len(inputs) == 1:
            index = self._node(name, "norm", inputs, shape, [1, 0])
        elif isinstance(m, nn.LayerNorm) and len(inputs) == 1 and len(m.normalized_shape) == 1:
            index = self._node(name, "norm", inputs, shape, [-1, -1])
        elif isinstance(m, nn.GroupNorm) and len(inputs) == 1:
            index = self._node(name, "norm", inputs, shape, [1, m.num_groups])
        elif isinstance(m, nn.PReLU) and m.num_parameters == 1 and len(inputs) == 1:
            index = self._node(name, "pass", inputs, shape)
        elif isinstance(m, PASS_MODULES) and len(inputs) == 1:
            index = self._node(name, "pass", inputs, shape)
        elif isinstance(m, nn.Flatten) and len(inputs) == 1:
            index = self._node(name, "reshape", inputs, shape, [0] * len(shape))
        elif isinstance(m, nn.Unflatten) and len(inputs) == 1:
            index = self._node(name, "reshape", inputs, shape,
                               _unflatten_flags(len(shape), m.dim, m.unflattened_size))
        else:
            index = self._node(name, "opaque", inputs, shape)
        self.module_nodes.setdefault(name, []).append(index)
        self._index[node] = index

    @staticmethod
    def _arg(node: torch.fx.Node, position: int, key: str, default: Any) -> Any:
        if key in node.kwargs:
            return node.kwargs[key]
        return node.args[position] if len(node.args) > position else default

    def _function(self, node: torch.fx.Node, target: Any, inputs: List[int], shape: List[int]) -> None:
        name = node.name
        if target in ELEMENTWISE_FUNCTIONS and inputs:
            self._index[node] = self._node(name, "elementwise", inputs, shape)
        elif target in (torch.cat, torch.concat) and inputs:
            self._index[node] = self._node(name, "cat", inputs, shape, [self._arg(node, 1, "dim", 0)])
        elif target in PASS_FUNCTIONS and len(inputs) == 1:
            self._index[node] = self._node(name, "pass", inputs, shape)
        elif target in RESHAPE_FUNCTIONS and len(inputs) == 1:
            sizes = self._arg(node, 1, "shape", None) if target is torch.reshape else None
            self._index[node] = self._node(name, "reshape", inputs, shape, _size_flags(sizes, len(shape)))
        elif target in ATTENTION_FUNCTIONS:
            self._attention(node, shape)
        elif target is nn.functional.layer_norm and isinstance(node.args[0], torch.fx.Node) \
                and node.args[0] in self._index and len(tuple(self._arg(node, 1, "normalized_shape", ()))) == 1:
            # F.layer_norm over the last dim (torchvision's LayerNorm2d between permutes): a LayerNorm
            # node, which passes the channels on and fixes them (its statistics span them).
            self._index[node] = self._node(name, "norm", [self._index[node.args[0]]], shape, [-1, -1])
        elif target is torch.permute and len(inputs) == 1:
            self._index[node] = self._node(name, "permute", inputs, shape, list(self._arg(node, 1, "dims", ())))
        elif target is torch.transpose and len(inputs) == 1:
            self._index[node] = self._node(name, "transpose", inputs, shape,
                                           [self._arg(node, 1, "dim0", 0), self._arg(node, 2, "dim1", 1)])
        elif target in REDUCE_FUNCTIONS and len(inputs) == 1:
            self._reduce(node, inputs, shape, 1)
        else:
            self._index[node] = self._node(name, "opaque", inputs, shape)

    def _method(self, node: torch.fx.Node, inputs: List[int], shape: List[int]) -> None:
        name, method = node.name, node.target
        if method in ELEMENTWISE_METHODS and inputs:
            self._index[node] = self._node(name, "elementwise", inputs, shape)
        elif method in PASS_METHODS and len(inputs) == 1:
            self._index[node] = self._node(name, "pass", inputs, shape)
        elif method in RESHAPE_METHODS and len(inputs) == 1:
            if method in ("view", "reshape"):
                sizes: Any = node.args[1:]
                if len(sizes) == 1 and isinstance(sizes[0], (list, tuple, torch.fx.Node)):
                    sizes = sizes[0]
                flags = _size_flags(sizes, len(shape))
            elif method == "unflatten":
                flags = _unflatten_flags(len(shape), self._arg(node, 1, "dim", 0), self._arg(node, 2, "sizes", ()))
            else:
                flags = [0] * len(shape)
            self._index[node] = self._node(name, "reshape", inputs, shape, flags)
        elif method in RESHAPE_METHODS and len(inputs) == 2 and method.endswith("_as"):
            self._index[node] = self._node(name, "reshape", inputs[:1], shape, [0] * len(shape))
        elif method == "permute" and len(inputs) == 1:
            dims = node.args[1:]
            if len(dims) == 1 and isinstance(dims[0], (list, tuple)):
                dims = dims[0]
            self._index[node] = self._node(name, "permute", inputs, shape, list(dims))
        elif method == "transpose" and len(inputs) == 1:
            self._index[node] = self._node(name, "transpose", inputs, shape,
                                           [self._arg(node, 1, "dim0", 0), self._arg(node, 2, "dim1", 1)])
        elif method in REDUCE_METHODS and len(inputs) == 1:
            self._reduce(node, inputs, shape, 1)
        else:
            self._index[node] = self._node(name, "opaque", inputs, shape)

    def _attention(self, node: torch.fx.Node, shape: List[int]) -> None:
        """scaled_dot_product_attention(query, key, value, attn_mask=None, ..., scale=None, enable_gqa=False)."""
        parts = [self._arg(node, i, key, None) for i, key in enumerate(("query", "key", "value", "attn_mask"))]
        tensors = [p for p in parts if isinstance(p, torch.fx.Node)]
        if not all(isinstance(p, torch.fx.Node) and p in self._index for p in parts[:3]) or \
                any(p not in self._index for p in tensors):
            self._index[node] = self._node(node.name, "opaque", self._tensor_inputs((node.args, node.kwargs)), shape)
            return
        inputs = [self._index[p] for p in tensors]
        gqa = 1 if node.kwargs.get("enable_gqa", False) is True else 0
        scale = 0 if node.kwargs.get("scale", None) is None else 1
        self._index[node] = self._node(node.name, "attention", inputs, shape, [gqa, scale])

    def _reduce(self, node: torch.fx.Node, inputs: List[int], shape: List[int], position: int) -> None:
        dims = self._arg(node, position, "dim", None)
        keepdim = bool(self._arg(node, position + 1, "keepdim", False))
        if dims is None:
            dims = []
        elif isinstance(dims, int):
            dims = [dims]
        self._index[node] = self._node(node.name, "reduce", inputs, shape, [1 if keepdim else 0, *dims])


def _size_flags(sizes: Any, rank: int) -> List[int]:
    """One flag per output dim of a view / reshape: 1 where the call gives the size as a constant
    (an int other than -1), 0 where it is computed (-1, or a traced value such as ``x.size(0)``)."""
    if sizes is None or isinstance(sizes, torch.fx.Node):
        return [0] * rank
    sizes = list(sizes)
    if len(sizes) != rank:
        return [0] * rank
    return [1 if isinstance(s, int) and not isinstance(s, bool) and s != -1 else 0 for s in sizes]


def _unflatten_flags(rank: int, dim: Any, sizes: Any) -> List[int]:
    """Flags of ``unflatten(dim, sizes)``: the new dims as ``_size_flags``, the others computed."""
    if not isinstance(dim, int) or isinstance(sizes, torch.fx.Node):
        return [0] * rank
    sizes = list(sizes)
    start = dim if dim >= 0 else dim + rank - len(sizes) + 1
    flags = [0] * rank
    if 0 <= start <= rank - len(sizes):
        flags[start:start + len(sizes)] = _size_flags(sizes, len(sizes))
    return flags


def _is_unsqueeze_index(item: Any) -> bool:
    """An index of full slices, ``None`` and ``...`` with at least one ``None``: new size-1 dims only."""
    items = item if isinstance(item, tuple) else (item,)
    full = all(i is None or i is Ellipsis or (isinstance(i, slice) and i == slice(None)) for i in items)
    return full and any(i is None for i in items)


def _mark_splits(gm: torch.fx.GraphModule) -> None:
    """Tags split / chunk nodes with (kind, dim, item sizes or chunk count) for their getitem users:
    ``chunk`` (the count given; item sizes follow the input), ``split`` (sizes computed at run time)
    or ``constant`` (sizes given as ints: the items keep their channels)."""
    for node in gm.graph.nodes:
        if node.op not in ("call_function", "call_method"):
            continue
        target = node.target
        is_split = target in (torch.split, torch.chunk, torch.tensor_split) or target in ("split", "chunk")
        if not is_split:
            continue
        shapes = _tuple_shapes(node)
        if shapes is None:
            continue
        dim = CapturedGraph._arg(node, 2, "dim", 0)
        is_chunk = target in (torch.chunk, "chunk")
        given = CapturedGraph._arg(node, 1, "chunks" if is_chunk else "split_size_or_sections", None)
        if is_chunk and isinstance(given, int):
            node._sc_split = ("chunk", dim, given)  # type: ignore[attr-defined]
            continue
        values = given if isinstance(given, (list, tuple)) else [given]
        constant = any(isinstance(v, int) for v in values) or target is torch.tensor_split
        node._sc_split = ("constant" if constant else "split", dim, [s[dim] for s in shapes])  # type: ignore[attr-defined]


def capture(model: nn.Module, dummy_input: Any) -> CapturedGraph:
    """Traces ``model`` and builds its core graph (see the module docstring)."""
    return CapturedGraph(model, dummy_input)
