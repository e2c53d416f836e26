"""``count_flops_params`` (NNI 3.0's ``nni.compression.utils.counter.count_flops_params``, default
mode): the model is traced and the core counts each conv / linear call's FLOPs (per sample) and
parameters."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

import torch

from .. import _core
from ._graph import capture


def count_flops_params(model: torch.nn.Module, x: Any, custom_ops: Any = None, verbose: bool = True,
                       mode: str = "default") -> Tuple[int, int, List[Dict[str, Any]]]:
    """Returns ``(flops, params, results)`` as NNI's default mode does: conv FLOPs
    ``out_channels x output spatial size x kernel size x in_channels / groups``, linear FLOPs
    ``in_features x out_features`` (per sample), params of the conv and linear modules only;
    ``results`` one dict per conv / linear call (``name``, ``module_type``, ``flops``, ``params``,
    ``weight_shape``, ``input_size``, ``output_size``). ``x``: a tensor, a tuple of tensors, or a
    shape tuple of ints (a zero tensor of that shape). Counts the model as it is (masks are not
    read: count after ``ModelSpeedup``). ``custom_ops`` and ``mode='full'`` are not supported
    (NotImplementedError). ``verbose`` prints the table."""
    if custom_ops:
        raise NotImplementedError("count_flops_params: custom_ops is not supported")
    if mode != "default":
        raise NotImplementedError(f"count_flops_params: mode {mode!r} is not supported; only 'default'")
    if isinstance(x, tuple) and x and all(isinstance(t, int) for t in x):
        x = torch.zeros(x)
    graph = capture(model, x)
    total_flops, total_params, node_flops, node_params = _core.graph_cost(graph.handle)
    results: List[Dict[str, Any]] = []
    for name, indices in graph.module_nodes.items():
        module = graph.modules.get(name)
        for index in indices:
            if graph.kinds[index] not in ("conv", "linear"):
                continue
            results.append({"name": name, "module_type": type(module).__name__, "flops": node_flops[index],
                            "params": node_params[index],
                            "weight_shape": tuple(module.weight.shape) if hasattr(module, "weight") else 0,
                            "input_size": graph.input_shapes[index], "output_size": graph.shapes[index]})
    if verbose:
        rows = [("Index", "Name", "Type", "Weight Shape", "FLOPs", "#Params")]
        rows += [(str(i), r["name"], r["module_type"], str(r["weight_shape"]), str(r["flops"]), str(r["params"]))
                 for i, r in enumerate(results)]
        widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
        print(f"FLOPs total: {total_flops}")
        print(f"#Params total: {total_params}")
    return total_flops, total_params, results
