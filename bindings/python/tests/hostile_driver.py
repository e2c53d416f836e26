"""Driver of the hostile-input and misuse suite (tests/test_hostile.py).

Cases are generated deterministically from ``(seed, index)`` (:func:`make_case`), so a worker needs
only the indices. :func:`run_suite` starts a few worker processes (``python hostile_driver.py
worker SEED``), hands each a share of the indices on stdin and reads two lines per case from its
stdout: ``S <index>`` before the case runs and ``R <index> <outcome json>`` after. A worker that
dies (a signal, an abort) or hangs has its case recorded as a crash (with the signal) and a new
worker continues with the next index, so every crash is attributed to its case.

Every outcome is classified (:func:`run_case`):

- ``ok``: the result equals a reference: masks against a torch computation (level: the number
  pruned is ``floor(n * sparse_ratio)`` and no pruned ``|w|`` exceeds a kept one; L1 / L2: the same
  per output row with the row norms) and against the same call on a clean contiguous float32 copy;
  quantization: tracked ranges equal to ``torch.aminmax`` of the observed tensor, scales and zero
  points equal to the affine / symmetric formula with the core's integer range; distillation: the
  loss equal to ``lambda * F.mse_loss`` and the gradient to its torch gradient;
- ``error``: a swiftcompress error (``SwiftCompressError``), with its class; a case may name the
  classes it allows (a tensor of an integer dtype must give DtypeError);
- ``wrong``: anything else that came back (a mismatch, a mask value other than 0 / 1, a
  disallowed error class);
- ``foreign``: an exception that is not a swiftcompress error (ValueError, AttributeError, ...);
- ``crash``: the worker process died or hung in the case;
- ``skipped``: not started before the suite's time budget ran out.
"""
from __future__ import annotations

import copy
import json
import math
import os
import random
import subprocess
import sys
import threading
import time
import traceback
import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

from thread_support import start_barrier_threads  # beside this file (sys.path[0] when run as a worker)

KINDS = ("prune_config", "prune_tensor", "quant_config", "quant_tensor", "distill_config", "misuse", "odd_model",
         "distill_tensor")


class Wrong(Exception):
    """A result that differs from its reference."""


# ---------------------------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------------------------

RATIOS = [0.0, 0.25, 0.5, 0.55, 0.9, 1.0, -0.1, 1.5, 1e308, -1e308, 2 ** 70, "0.5", None, True, [0.5],
          {"v": 0.5}, float("nan"), float("inf"), 1e-300, 3]
OP_TYPES = [["Linear"], "Linear", [], [1], ["Conv2d", "Linear"], None, ["linear"], [["Linear"]], ["Linear"] * 50]
GRANULARITIES = ["default", "out_channel", "in_channel", "bogus", 5, None, [2, 3], [1, -1], [0, 0], [-1, 2],
                 [10 ** 20, 1]]
UNKNOWN = [("sparse_ration", 0.5), ("exclude", True), ("exclude", "yes"), ("op_names", ["0", "nope"]),
           ("op_names", "0"), ("op_names_re", ["("]), ("op_names_re", [r"\d"]), ("target_names", ["weight"]),
           ("target_names", ["bias"]), ("target_names", [7]), ("target_names", ["_input_"]),
           ("sparse_threshold", 0.3), ("sparse_threshold", -1), ("max_sparse_ratio", 0.6),
           ("min_sparse_ratio", 0.1), ("global_group_id", "g"), ("global_group_id", 7),
           ("dependency_group_id", 1), ("dependency_group_id", [1]), ("align", {"module_name": None}),
           ("apply_method", "add"), ("apply_method", "xor"), ("", 1), ("\x00", 2), ("\ud800", 3)]
LEGACY = [{"sparsity_per_layer": 0.5, "op_types": ["Linear"]}, {"sparsity": 0.3, "op_types": ["default"]},
          {"total_sparsity": 0.5, "op_types": ["Linear"]}, {"sparsity_per_layer": 2, "op_types": ["Linear"]},
          {"sparsity_per_layer": 0.5, "op_types": ["Linear"], "sparse_ratio": 0.4},
          {"exclude": True, "op_names": ["0"]}]


def nested(depth: int) -> Any:
    value: Any = 0.5
    for _ in range(depth):
        value = [value]
    return value


def random_config(rng: random.Random) -> Any:
    shape = rng.random()
    if shape < 0.04:
        return rng.choice([{}, "[]", 5, None, [None], [[]], [1, 2], ({"op_types": ["Linear"], "sparse_ratio": 0.5},)])
    if shape < 0.08:
        return [{"op_types": ["Linear"], "sparse_ratio": nested(rng.choice([10, 600, 5000]))}]
    configs = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        if rng.random() < 0.15:
            configs.append(copy.deepcopy(rng.choice(LEGACY)))
            continue
        config: Dict[str, Any] = {}
        if rng.random() < 0.9:
            config["op_types"] = copy.deepcopy(rng.choice(OP_TYPES[:2] * 4 + OP_TYPES))
        if rng.random() < 0.85:
            config["sparse_ratio"] = rng.choice(RATIOS[:6] * 3 + RATIOS)
        if rng.random() < 0.4:
            config["granularity"] = copy.deepcopy(rng.choice(GRANULARITIES))
        for _ in range(rng.choice([0, 0, 1, 2])):
            key, value = rng.choice(UNKNOWN)
            config[key] = copy.deepcopy(value)
        configs.append(config)
    return configs


TENSOR_VARIANTS = ["contiguous", "transposed", "sliced", "expand_rows", "expand_all", "zero_size", "float64",
                   "float16", "bfloat16", "int32", "int64", "int8", "uint8", "bool", "complex64",
                   "float8_e4m3fn", "meta", "no_grad", "shared_param", "shared_view", "channels_last",
                   "negative_view", "nan", "inf", "sparse", "plain_tensor"]
DISTILL_VARIANTS = ["contiguous", "transposed", "expand", "float16", "bfloat16", "float64", "negative_view",
                    "zero_size", "nan", "int32", "channels_last", "sliced", "scalar_rows"]
ODD_NAMES = ["fc", "a\x00b", "\x00", "fc\ud800", "\udfff", "f" * 5000, "layer.1.x", "ünïcødé", "名前",
             "emoji\U0001F600", " ", "a\nb", "\t", "00"]
ODD_BAD = ("\x00", "\ud800", "\udfff")  # what the core cannot take: InvalidArgumentError
MISUSE = ["compress_twice", "unwrap_twice", "compress_after_unwrap", "wrap_again", "second_pruner",
          "update_masks_bad", "calibrate_after_compress", "ptq_compress_without_calibrate", "qat_steps",
          "distill_after_unwrap", "threads_compress", "threads_calibrate", "threads_loss", "explain_closed",
          "pruner_on_quantized", "deepcopy_wrapped", "pickle_wrapped", "get_masks_before"]


def make_case(seed: int, index: int) -> Dict[str, Any]:
    """The case ``index`` of suite ``seed`` (deterministic)."""
    rng = random.Random(seed * 1_000_003 + index)
    kind = KINDS[index % len(KINDS)]
    case: Dict[str, Any] = {"index": index, "kind": kind, "seed": rng.randrange(2 ** 31)}
    if kind == "prune_config":
        case["pruner"] = rng.choice(["LevelPruner", "L1NormPruner", "L2NormPruner", "FPGMPruner"])
        case["config"] = random_config(rng)
    elif kind == "prune_tensor":
        case["pruner"] = rng.choice(["LevelPruner", "L1NormPruner", "L2NormPruner", "FPGMPruner"])
        case["variant"] = TENSOR_VARIANTS[(index // len(KINDS)) % len(TENSOR_VARIANTS)]
        case["ratio"] = rng.choice([0.0, 0.3, 0.5, 0.55, 0.9, 1.0])
    elif kind == "quant_config":
        config: Dict[str, Any] = {"op_types": ["Linear"],
                                  "target_names": rng.choice([["weight"], ["_input_", "weight"], ["_output_"],
                                                              ["weight", "bias"], ["nope"], "weight"])}
        for key, pool in (("quant_dtype", ["int8", "uint8", "int4", "uint4", "int16", "int2", "int32", "float8",
                                           "int", 8, None]),
                          ("quant_scheme", ["affine", "symmetric", "bogus", None, 1]),
                          ("granularity", ["default", "per_channel", "per_tensor", [1, -1], [-1, 1], "bogus", 0])):
            if rng.random() < 0.7:
                config[key] = rng.choice(pool[:3] * 2 + pool)
        if rng.random() < 0.2:
            key, value = rng.choice([("quant_start_step", 2), ("fuse_names", [["0", "1"]]),
                                     ("apply_method", "bypass"), ("quant_bits", 8), ("quant_types", ["weight"])])
            config[key] = value
        case["config"] = [config] if rng.random() < 0.9 else random_config(rng)
        case["quantizer"] = rng.choice(["PtqQuantizer", "PtqQuantizer", "QATQuantizer"])
    elif kind == "quant_tensor":
        case["variant"] = TENSOR_VARIANTS[(index // len(KINDS)) % len(TENSOR_VARIANTS)]
        case["scheme"] = rng.choice(["affine", "symmetric"])
        case["dtype"] = rng.choice(["int8", "uint8", "int4"])
        case["granularity"] = rng.choice(["default", "per_channel"])
    elif kind == "distill_config":
        config = {"op_names": rng.choice([["0"], ["0", "2"], ["9"], "0", []])}
        if rng.random() < 0.8:
            config["lambda"] = rng.choice([0.5, 1, 2.0, -1.0, 0, 1e308, float("inf"), float("nan"), "x", None,
                                           True, [1]])
        if rng.random() < 0.4:
            config["link"] = rng.choice(["auto", "0", ["0", "2"], "nope", 5, [], ["0", 1]])
        if rng.random() < 0.3:
            config["apply_method"] = rng.choice(["mse", "kl", "l1", None, 3])
        if rng.random() < 0.2:
            config["target_names"] = rng.choice([["_output_0"], ["_input_0"], ["weight"], ["_output_9"]])
        case["config"] = [config]
    elif kind == "distill_tensor":
        case["variant"] = DISTILL_VARIANTS[(index // len(KINDS)) % len(DISTILL_VARIANTS)]
        case["method"] = rng.choice(["mse", "kl"])
        case["lambda"] = rng.choice([1.0, 0.5, 3])
    elif kind == "misuse":
        case["scenario"] = MISUSE[(index // len(KINDS)) % len(MISUSE)]
    else:
        case["name"] = rng.choice(ODD_NAMES)
        case["duck"] = rng.choice([None, None, "str", "short", "long", "int_name", "none_name", "int_module",
                                   "list_item"])
        case["api"] = rng.choice(["explain", "LevelPruner", "PtqQuantizer", "distiller_teacher"])
    return case


# ---------------------------------------------------------------------------------------------
# references
# ---------------------------------------------------------------------------------------------

def _torch():
    import torch
    import torch.nn as nn

    return torch, nn


def check_binary(masks) -> None:
    torch, _ = _torch()
    for module, targets in masks.items():
        for target, mask in targets.items():
            if mask is None:
                continue
            values = mask.detach().float()
            if values.numel() and not bool(((values == 0) | (values == 1)).all()):
                raise Wrong(f"{module}.{target}: a mask value other than 0 and 1 (unwritten memory?)")


def masks_equal(a, b, what: str) -> None:
    torch, _ = _torch()
    if list(a) != list(b):
        raise Wrong(f"{what}: modules {list(a)} != {list(b)}")
    for module in a:
        if list(a[module]) != list(b[module]):
            raise Wrong(f"{what}: {module} targets differ")
        for target in a[module]:
            x, y = a[module][target], b[module][target]
            if (x is None) != (y is None):
                raise Wrong(f"{what}: {module}.{target}: None on one side")
            if x is not None and (tuple(x.shape) != tuple(y.shape) or
                                  not torch.equal(x.detach().float().cpu(), y.detach().float().cpu())):
                raise Wrong(f"{what}: {module}.{target}: masks differ")


def level_reference(values, mask, ratio: float, what: str) -> None:
    """floor(n * ratio) pruned, and no pruned |w| above a kept |w|."""
    torch, _ = _torch()
    n = values.numel()
    pruned = int((mask == 0).sum())
    if pruned != math.floor(n * ratio + 1e-9) and pruned != math.floor(n * ratio):
        raise Wrong(f"{what}: {pruned} of {n} pruned, expected floor({n} * {ratio})")
    magnitude = values.detach().double().abs().flatten()
    flat = mask.flatten()
    if 0 < pruned < n and float(magnitude[flat == 0].max()) > float(magnitude[flat == 1].min()):
        raise Wrong(f"{what}: a pruned |w| is larger than a kept one")


def norm_reference(values, mask, ratio: float, p: int, what: str) -> None:
    """out_channel: floor(rows * ratio) rows pruned whole, and no pruned row norm above a kept one."""
    torch, _ = _torch()
    rows = values.shape[0]
    if rows == 0 or values.numel() == 0:
        return
    norms = values.detach().double().reshape(rows, -1).norm(p=p, dim=1)
    row_mask = mask.reshape(rows, -1)
    if not bool((row_mask == row_mask[:, :1]).all()):
        raise Wrong(f"{what}: a row is pruned in part")
    kept = row_mask[:, 0] == 1
    pruned = int((~kept).sum())
    if pruned != math.floor(rows * ratio + 1e-9) and pruned != math.floor(rows * ratio):
        raise Wrong(f"{what}: {pruned} of {rows} rows pruned, expected floor({rows} * {ratio})")
    if 0 < pruned < rows and float(norms[~kept].max()) > float(norms[kept].min()) * (1 + 1e-12):
        raise Wrong(f"{what}: a pruned row norm is larger than a kept one")


def quant_reference(entry: Dict[str, Any], observed, qrange: Tuple[int, bool, int, int], scheme: Optional[str],
                    what: str, range_rtol: float = 0.0) -> None:
    """tracked range = torch.aminmax of the observed tensor (per tensor, or over the scale's blocks);
    scale / zero point = the affine or symmetric formula over the core's integer range."""
    torch, _ = _torch()
    scale, zero_point = entry["scale"], entry["zero_point"]
    tmin, tmax = entry["tracked_min"], entry["tracked_max"]
    x = observed.detach().double()
    if scale.dim() == 0:
        lo, hi = x.min(), x.max()
    else:
        dims = [d for d in range(x.dim()) if scale.shape[d] == 1 and x.shape[d] != 1]
        lo = x.amin(dim=dims, keepdim=True) if dims else x
        hi = x.amax(dim=dims, keepdim=True) if dims else x
    lo, hi = lo.to(tmin.dtype).double(), hi.to(tmax.dtype).double()
    if not torch.allclose(tmin.double(), lo, rtol=range_rtol, atol=0) or not torch.allclose(
            tmax.double(), hi, rtol=range_rtol, atol=0):
        raise Wrong(f"{what}: tracked range differs from torch.aminmax")
    _, _, qmin, qmax = qrange
    scheme = scheme or "symmetric"  # the default of both quantizers (NNI's)
    rtol = {torch.bfloat16: 1e-2, torch.float16: 2e-3}.get(scale.dtype, 1e-5)
    lo0 = torch.minimum(tmin.double(), torch.zeros(()))
    hi0 = torch.maximum(tmax.double(), torch.zeros(()))
    if scheme == "symmetric":
        expected = torch.maximum(lo0.abs(), hi0) / ((qmax - qmin) / 2)
    else:
        expected = (hi0 - lo0) / (qmax - qmin)
    live = expected > 1e-30
    s = scale.double()
    if not bool(torch.isfinite(s).all()) or not bool((s > 0).all()):
        raise Wrong(f"{what}: scale not finite and positive")
    if not torch.allclose(s[live], expected[live], rtol=rtol, atol=0):
        raise Wrong(f"{what}: scale {s.flatten()[:4].tolist()} != {expected.flatten()[:4].tolist()}")
    zp = zero_point.double()
    if not bool((zp == zp.round()).all()) or float(zp.min()) < qmin or float(zp.max()) > qmax:
        raise Wrong(f"{what}: zero point not an integer in [{qmin}, {qmax}]")
    if scheme == "symmetric":
        if not bool((zp == (qmax + qmin + 1) // 2).all()):
            raise Wrong(f"{what}: symmetric zero point {zp.flatten()[:4].tolist()} != {(qmax + qmin + 1) // 2}")
    else:
        ref_zp = (qmin - torch.round(lo0 / expected.clamp_min(1e-30))).clamp(qmin, qmax)
        if bool(((zp - ref_zp).abs()[live] > 1).any()):
            raise Wrong(f"{what}: zero point differs from qmin - round(min / scale) by more than 1")


# ---------------------------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------------------------

def mlp(seed: int):
    torch, nn = _torch()
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5))


def quiet(fn: Callable[[], Any]) -> Any:
    import logging

    logging.getLogger("swiftcompress").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


def case_prune_config(case: Dict[str, Any]) -> str:
    import swiftcompress
    import swiftcompress.pruning as pruning

    model = mlp(case["seed"] % 1000)
    pruner = getattr(pruning, case["pruner"])(model, case["config"])
    _, masks = pruner.compress()
    check_binary(masks)
    # the same call on a fresh copy gives the same masks
    again = quiet(lambda: getattr(pruning, case["pruner"])(mlp(case["seed"] % 1000), case["config"]))
    masks_equal(masks, again.compress()[1], "second run")
    # targets with a plain ratio rule: the torch reference
    report = swiftcompress.explain(mlp(case["seed"] % 1000), case["config"])
    modules = dict(model.named_modules())
    for module_name, targets in report.targets.items():
        for target_name, settings in targets.items():
            mask = masks[module_name][target_name]
            ratio = settings.get("sparse_ratio")
            plain = (mask is not None and target_name == "weight" and isinstance(ratio, (int, float))
                     and settings.get("sparse_threshold") is None and settings.get("global_group_id") is None
                     and settings.get("dependency_group_id") is None and settings.get("max_sparse_ratio") is None
                     and settings.get("min_sparse_ratio") is None)
            if not plain:
                continue
            weight = getattr(modules[module_name], target_name)
            granularity = settings.get("granularity")
            what = f"{module_name}.{target_name}"
            if case["pruner"] == "LevelPruner" and granularity in ("default", None):
                level_reference(weight, mask, ratio, what)
            elif case["pruner"] in ("L1NormPruner", "L2NormPruner") and granularity in ("default", "out_channel"):
                norm_reference(weight, mask, ratio, 1 if case["pruner"] == "L1NormPruner" else 2, what)
    return "ok"


def hostile_tensor(variant: str, shape: Tuple[int, ...], seed: int):
    """``(tensor, clean)``: the hostile tensor of ``variant`` and a clean contiguous float32 tensor of
    the same values (float64 for a float64 tensor; None when there are none: meta)."""
    torch, _ = _torch()
    g = torch.Generator().manual_seed(seed)
    base = torch.randn(*shape, generator=g)
    if variant in ("contiguous", "no_grad", "shared_param", "plain_tensor"):
        t = base.clone()
    elif variant == "transposed":
        t = base.t().contiguous().t() if base.dim() == 2 else base.transpose(0, 1).contiguous().transpose(0, 1)
    elif variant == "sliced":
        t = torch.randn(shape[0], shape[1] * 2, *shape[2:], generator=g)[:, ::2]
    elif variant == "expand_rows":
        t = torch.randn(shape[0], 1, *shape[2:], generator=g).expand(*shape)
    elif variant == "expand_all":
        t = torch.randn((), generator=g).expand(*shape)
    elif variant == "zero_size":
        t = torch.randn(shape[0], 0, *shape[2:])
    elif variant in ("float64", "float16", "bfloat16", "complex64"):
        t = base.to(getattr(torch, variant))
    elif variant in ("int32", "int64", "int8", "uint8", "bool"):
        t = (base * 10).to(getattr(torch, variant))
    elif variant == "float8_e4m3fn":
        t = base.to(torch.float8_e4m3fn)
    elif variant == "meta":
        t = torch.empty(*shape, device="meta")
    elif variant == "shared_view":
        big = torch.randn(shape[0] * 2, *shape[1:], generator=g)
        t = big[: shape[0]]
    elif variant == "channels_last":
        t = base.contiguous(memory_format=torch.channels_last) if base.dim() == 4 else base.t().contiguous().t()
    elif variant == "negative_view":
        t = torch._neg_view(base)
    elif variant == "nan":
        t = base.clone()
        t.view(-1)[1] = float("nan")
    elif variant == "inf":
        t = base.clone()
        t.view(-1)[2] = float("inf")
    elif variant == "sparse":
        t = base.to_sparse()
    else:
        raise KeyError(variant)
    if t.device.type == "meta" or t.layout is not torch.strided or t.dtype not in (
            torch.float32, torch.float64, torch.float16, torch.bfloat16):
        clean = None
    else:
        dtype = torch.float64 if t.dtype == torch.float64 else torch.float32
        clean = t.resolve_neg().to(dtype).contiguous().clone()
    return t, clean


def set_target(module, name: str, value, variant: str) -> None:
    torch, nn = _torch()
    if variant == "plain_tensor" or value.layout is not torch.strided:
        del module._parameters[name]
        object.__setattr__(module, name, value)
        return
    grad = variant != "no_grad" and (value.is_floating_point() or value.is_complex()) and value.device.type != "meta"
    try:
        module._parameters[name] = nn.Parameter(value, requires_grad=grad)
    except (RuntimeError, TypeError):
        del module._parameters[name]
        object.__setattr__(module, name, value)


INTEGER_LIKE = {"int32", "int64", "int8", "uint8", "bool", "complex64", "float8_e4m3fn"}


def allowed_errors(variant: str) -> Optional[Tuple[str, ...]]:
    if variant in INTEGER_LIKE:
        return ("DtypeError",)
    if variant in ("meta", "sparse"):
        return ("TensorError",)
    if variant in ("nan", "inf"):
        return ("PruningError", "QuantizationError", "ShapeError")
    if variant in ("expand_rows", "expand_all"):  # overlapping elements: the core writes targets in place
        return ("ShapeError",)
    if variant == "zero_size":
        return ("ShapeError", "PruningError", "QuantizationError")
    return ()  # any error is wrong


def conv_model(seed: int):
    torch, nn = _torch()
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.Flatten(), nn.Linear(6, 4))


def case_prune_tensor(case: Dict[str, Any]) -> str:
    import swiftcompress.pruning as pruning

    variant, ratio = case["variant"], case["ratio"]
    use_conv = variant == "channels_last" or case["seed"] % 3 == 0
    model = conv_model(case["seed"] % 1000) if use_conv else mlp(case["seed"] % 1000)
    shape = tuple(model[0].weight.shape)
    tensor, clean = hostile_tensor(variant, shape, case["seed"])
    set_target(model[0], "weight", tensor, variant)
    other_clean = None
    if variant == "shared_param":
        other = model[3] if use_conv else model[2]
        if tuple(other.weight.shape) == shape:
            other._parameters["weight"] = model[0]._parameters["weight"]
    elif variant == "shared_view" and not use_conv:
        # the second target overlaps the first one's storage: both read the same memory
        storage = tensor._base if tensor._base is not None else tensor
        view = storage.view(-1)[4:44].view(5, 8)
        model[2]._parameters["weight"] = _torch()[1].Parameter(view)
        other_clean = view.detach().clone()
    config = [{"op_types": ["Linear", "Conv2d"], "sparse_ratio": ratio, "target_names": ["weight"]}]
    pruner = getattr(pruning, case["pruner"])(model, config)
    _, masks = pruner.compress()
    check_binary(masks)
    mask = masks["0"]["weight"]
    if tuple(mask.shape) != tuple(tensor.shape) or mask.dtype != tensor.dtype:
        raise Wrong(f"mask {tuple(mask.shape)} {mask.dtype} for a weight {tuple(tensor.shape)} {tensor.dtype}")
    if variant != "plain_tensor" and not (variant == "shared_param"):
        # the same call on a clean contiguous float32 copy of the values
        reference_model = conv_model(case["seed"] % 1000) if use_conv else mlp(case["seed"] % 1000)
        reference_model[0]._parameters["weight"] = _torch()[1].Parameter(clean)
        if other_clean is not None:
            reference_model[2]._parameters["weight"] = _torch()[1].Parameter(other_clean)
        reference = quiet(lambda: getattr(pruning, case["pruner"])(reference_model, config)).compress()[1]
        if variant not in ("float16", "bfloat16"):  # ranking in 16 bits may order near values otherwise
            masks_equal(masks, reference, "clean copy")
    values = clean
    if variant in ("float16", "bfloat16"):
        values = tensor.float()
    if variant not in ("nan", "inf") and values is not None:
        if case["pruner"] == "LevelPruner":
            level_reference(values, mask.float(), ratio, "0.weight")
        elif case["pruner"] in ("L1NormPruner", "L2NormPruner"):
            norm_reference(values, mask.float(), ratio, 1 if case["pruner"] == "L1NormPruner" else 2, "0.weight")
    # the wrapped forward uses the mask; the parameter is untouched
    if variant in ("contiguous", "transposed", "channels_last"):
        torch, _ = _torch()
        x = torch.randn(2, 3, 5, 5) if use_conv else torch.randn(2, 6)
        x = x.to(tensor.dtype)
        with torch.no_grad():
            out = model[0](x)
            layer = model[0]
            fn = torch.nn.functional.conv2d if use_conv else torch.nn.functional.linear
            expected = fn(x, layer._parameters["weight"] * mask, layer.bias)
        if not torch.allclose(out, expected, rtol=1e-5, atol=1e-6):
            raise Wrong("the wrapped forward differs from the masked weight's")
    pruner.unwrap_model()
    return "ok"


def quant_check(quantizer, config, observed: Dict[Tuple[str, str], Any], scheme_of) -> None:
    for module_name, targets in config.items():
        for target_name, entry in targets.items():
            if entry.get("scale") is None:
                continue
            source = observed.get((module_name, target_name))
            if source is None:
                continue
            qrange = quantizer._session.quant_range(module_name, target_name)
            quant_reference(entry, source, qrange, scheme_of(module_name, target_name),
                            f"{module_name}.{target_name}")


def case_quant_config(case: Dict[str, Any]) -> str:
    import swiftcompress
    import swiftcompress.quantization as quantization

    torch, _ = _torch()
    model = mlp(case["seed"] % 1000)
    cls = getattr(quantization, case["quantizer"])
    quantizer = cls(model, case["config"])
    x = torch.randn(4, 6, generator=torch.Generator().manual_seed(case["seed"]))
    if case["quantizer"] == "PtqQuantizer":
        quantizer.calibrate([x])
        _, config = quantizer.compress()
    else:
        model.train()
        with torch.no_grad():
            model(x)
        quantizer.step()
        _, config = quantizer.compress()
    report = swiftcompress.explain(mlp(0), case["config"], mode="quantization")
    observed: Dict[Tuple[str, str], Any] = {}
    for name, module in model.named_modules():
        for target in ("weight", "bias"):
            if getattr(module, target, None) is not None:
                observed[(name, target)] = getattr(module, target)
    observed[("0", "_input_0")] = x

    def scheme_of(module_name: str, target_name: str) -> Optional[str]:
        return report.targets[module_name][target_name].get("quant_scheme")

    quant_check(quantizer, config, observed, scheme_of)
    quantizer.unwrap_model()
    return "ok"


def case_quant_tensor(case: Dict[str, Any]) -> str:
    import swiftcompress.quantization as quantization

    torch, nn = _torch()
    variant = case["variant"]
    model = mlp(case["seed"] % 1000)
    shape = tuple(model[0].weight.shape)
    tensor, clean = hostile_tensor(variant, shape, case["seed"])
    set_target(model[0], "weight", tensor, variant)
    config = [{"op_names": ["0"], "target_names": ["weight"], "quant_dtype": case["dtype"],
               "quant_scheme": case["scheme"], "granularity": case["granularity"]}]
    quantizer = quantization.PtqQuantizer(model, config)
    _, result = quantizer.compress()
    entry = result["0"]["weight"]
    values = tensor.float() if variant in ("float16", "bfloat16") else clean
    qrange = quantizer._session.quant_range("0", "weight")
    if values is not None and variant not in ("nan", "inf"):
        quant_reference(entry, values if variant not in ("float16", "bfloat16") else tensor, qrange,
                        case["scheme"], "0.weight")
    if clean is not None and variant not in ("float16", "bfloat16", "plain_tensor"):
        reference_model = mlp(case["seed"] % 1000)
        reference_model[0]._parameters["weight"] = nn.Parameter(clean)
        reference = quiet(lambda: quantization.PtqQuantizer(reference_model, config)).compress()[1]["0"]["weight"]
        for key in ("scale", "zero_point", "tracked_min", "tracked_max"):
            if not torch.equal(entry[key].float(), reference[key].float()):
                raise Wrong(f"{key} differs from the clean copy's")
    quantizer.unwrap_model()
    return "ok"


def distill_models(seed: int):
    torch, nn = _torch()
    torch.manual_seed(seed)
    student = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5))
    teacher = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 5))
    return student, teacher


def case_distill_config(case: Dict[str, Any]) -> str:
    from swiftcompress.distillation import DynamicLayerwiseDistiller

    torch, _ = _torch()
    import torch.nn.functional as F

    student, teacher = distill_models(case["seed"] % 1000)
    distiller = DynamicLayerwiseDistiller(student, case["config"], teacher,
                                          lambda batch, t: t(batch))
    x = torch.randn(3, 6, generator=torch.Generator().manual_seed(case["seed"]))
    out = student(x)
    loss = distiller.loss(torch.zeros(()), x)
    if not torch.isfinite(loss) and not any(isinstance(c.get("lambda"), float) and not math.isfinite(c["lambda"])
                                            for c in case["config"] if isinstance(c, dict)):
        lam = [c.get("lambda") for c in case["config"]]
        if not (lam and isinstance(lam[0], (int, float)) and abs(lam[0]) > 1e300):
            raise Wrong(f"a non-finite loss {float(loss)}")
    config = case["config"][0]
    simple = (config.get("op_names") == ["0"] and config.get("link", "auto") in ("auto", "0")
              and config.get("apply_method", "mse") in ("mse", None) and "target_names" not in config
              and isinstance(config.get("lambda", 1), (int, float)) and not isinstance(config.get("lambda"), bool)
              and abs(config.get("lambda", 1)) < 1e6)
    if simple:
        lam = config.get("lambda", 1)
        with torch.no_grad():
            target = teacher[0](x)
        hidden = student[0](x)
        expected = lam * F.mse_loss(hidden, target)
        if not torch.allclose(loss.double(), expected.double(), rtol=1e-5, atol=1e-7):
            raise Wrong(f"loss {float(loss)} != {float(expected)}")
        if loss.requires_grad:
            got = torch.autograd.grad(loss, student[0].weight)[0]
            ref = torch.autograd.grad(expected, student[0].weight)[0]
            if not torch.allclose(got, ref, rtol=1e-4, atol=1e-6):
                raise Wrong("gradient differs from torch's")
    del out
    distiller.unwrap_model()
    distiller.unwrap_teacher_model()
    return "ok"


def run_threads(work: Callable[[int], Any], count: int = 4) -> List[Any]:
    out, errors, pool = start_barrier_threads(work, count)
    for t in pool:
        t.join(30)
    if errors:
        raise errors[0]
    return out


def expect_error(fn: Callable[[], Any], name: str) -> None:
    import swiftcompress

    try:
        fn()
    except swiftcompress.SwiftCompressError as error:
        if type(error).__name__ != name:
            raise Wrong(f"expected {name}, got {type(error).__name__}: {error}")
        return
    raise Wrong(f"expected {name}, nothing was raised")


def case_misuse(case: Dict[str, Any]) -> str:
    import pickle

    import swiftcompress
    from swiftcompress.distillation import DynamicLayerwiseDistiller
    from swiftcompress.pruning import L1NormPruner, LevelPruner
    from swiftcompress.quantization import PtqQuantizer, QATQuantizer

    torch, nn = _torch()
    scenario = case["scenario"]
    model = mlp(case["seed"] % 1000)
    x = torch.randn(3, 6)
    prune = [{"op_types": ["Linear"], "sparse_ratio": 0.5}]
    quant = [{"op_types": ["Linear"], "target_names": ["_input_", "weight"], "quant_dtype": "int8"}]

    def masked_forward(m, masks):
        h = x
        for k in (0, 2):
            h = nn.functional.linear(h, m[k]._parameters["weight"] * masks[str(k)]["weight"],
                                     m[k]._parameters["bias"] * masks[str(k)]["bias"])
            if k == 0:
                h = torch.relu(h)
        return h

    if scenario == "compress_twice":
        p = L1NormPruner(model, prune)
        first = {m: {t: v.clone() for t, v in d.items()} for m, d in p.compress()[1].items()}
        second = p.compress()[1]
        masks_equal(first, second, "second compress")
        with torch.no_grad():
            if not torch.allclose(model(x), masked_forward(model, second), atol=1e-6):
                raise Wrong("forward after the second compress")
    elif scenario == "unwrap_twice":
        p = L1NormPruner(model, prune)
        p.compress()
        p.unwrap_model()
        p.unwrap_model()  # a logged warning, as NNI
        if "forward" in model[0].__dict__:
            raise Wrong("still wrapped")
    elif scenario == "compress_after_unwrap":
        p = LevelPruner(model, prune)
        p.unwrap_model()
        _, masks = p.compress()
        check_binary(masks)
        level_reference(model[0].weight, masks["0"]["weight"], 0.5, "0.weight")
        with torch.no_grad():
            if not torch.equal(model(x), mlp(case["seed"] % 1000)(x)):
                raise Wrong("an unwrapped model is masked")
    elif scenario == "wrap_again":
        p = L1NormPruner(model, prune)
        _, masks = p.compress()
        p.unwrap_model()
        p.wrap_model()
        p.wrap_model()  # a logged warning
        with torch.no_grad():
            if not torch.allclose(model(x), masked_forward(model, masks), atol=1e-6):
                raise Wrong("forward after wrapping again")
    elif scenario == "second_pruner":
        L1NormPruner(model, prune)
        expect_error(lambda: LevelPruner(model, prune), "StateError")
    elif scenario == "update_masks_bad":
        p = L1NormPruner(model, prune)
        p.compress()
        expect_error(lambda: p.update_masks({"0": {"weight": torch.ones(2, 2)}}), "ShapeError")
        expect_error(lambda: p.update_masks({"9": {"weight": torch.ones(2, 2)}}), "StateError")
        expect_error(lambda: p.update_masks({"0": {"nope": torch.ones(2, 2)}}), "StateError")
    elif scenario == "calibrate_after_compress":
        q = PtqQuantizer(model, quant)
        q.calibrate([x])
        q.compress()
        q.calibrate([x * 3])
        _, config = q.compress()
        quant_reference(config["0"]["_input_0"], torch.cat([x, x * 3]), q._session.quant_range("0", "_input_0"),
                        None, "0._input_0")
    elif scenario == "ptq_compress_without_calibrate":
        q = PtqQuantizer(model, quant)
        expect_error(q.compress, "StateError")
    elif scenario == "qat_steps":
        q = QATQuantizer(model, quant, quant_start_step=2)
        model.train()
        for _ in range(3):
            with torch.no_grad():
                model(x)
            q.step()
        if q.current_step != 3:
            raise Wrong("step count")
        entry = q.compress()[1]["0"]["weight"]
        # three moving-average updates with the same weight: the range moves by float32 roundings only
        quant_reference(entry, model[0].weight, q._session.quant_range("0", "weight"), None, "0.weight",
                        range_rtol=1e-6)
    elif scenario == "distill_after_unwrap":
        student, teacher = distill_models(1)
        d = DynamicLayerwiseDistiller(student, [{"op_names": ["0"]}], teacher, lambda b, t: t(b))
        d.unwrap_model()
        student(x)
        loss = d.loss(torch.zeros(()), x)  # the student recorded nothing: no term
        if float(loss) != 0.0:
            raise Wrong("a loss without recorded students")
    elif scenario == "threads_compress":
        p = L1NormPruner(model, prune)
        expected = {m: {t: v.clone() for t, v in d.items()} for m, d in p.compress()[1].items()}
        for masks in run_threads(lambda i: p.compress()[1]):
            masks_equal(masks, expected, "thread")
    elif scenario == "threads_calibrate":
        q = PtqQuantizer(model, quant)
        run_threads(lambda i: q.calibrate([x * (i + 1)]))
        _, config = q.compress()
        quant_reference(config["0"]["_input_0"], torch.cat([x * k for k in (1, 2, 3, 4)]),
                        q._session.quant_range("0", "_input_0"), None, "0._input_0")
    elif scenario == "threads_loss":
        student, teacher = distill_models(1)

        def predict(batch, t):
            t(batch)
            student(batch)

        d = DynamicLayerwiseDistiller(student, [{"op_names": ["0"]}], teacher, predict)
        expected = float(d.loss(torch.zeros(()), x))
        for loss in run_threads(lambda i: float(d.loss(torch.zeros(()), x))):
            if loss != expected:
                raise Wrong(f"a thread's loss {loss} != {expected}")
    elif scenario == "explain_closed":
        report = swiftcompress.explain(model, prune)
        if list(report.targets) != ["0", "2"]:
            raise Wrong("explain targets")
    elif scenario == "pruner_on_quantized":
        PtqQuantizer(model, quant)
        p = L1NormPruner(model, prune)  # different wrappers: both apply
        _, masks = p.compress()
        check_binary(masks)
    elif scenario == "deepcopy_wrapped":
        p = L1NormPruner(model, prune)
        _, masks = p.compress()
        clone = copy.deepcopy(model)
        with torch.no_grad():
            if not torch.allclose(clone(x), masked_forward(model, masks), atol=1e-6):
                raise Wrong("a deep copy of a wrapped model is not masked")
        expect_error(lambda: LevelPruner(clone, prune), "StateError")
    elif scenario == "pickle_wrapped":
        p = L1NormPruner(model, prune)
        _, masks = p.compress()
        clone = pickle.loads(pickle.dumps(model))
        with torch.no_grad():
            if not torch.allclose(clone(x), masked_forward(model, masks), atol=1e-6):
                raise Wrong("a pickled wrapped model is not masked")
    elif scenario == "get_masks_before":
        p = L1NormPruner(model, prune)
        masks = p.get_masks()
        if not all(bool((m == 1).all()) for d in masks.values() for m in d.values()):
            raise Wrong("get_masks before compress is not all ones")
    else:
        raise KeyError(scenario)
    return "ok"


def case_odd_model(case: Dict[str, Any]) -> str:
    """A model with a module of an odd name (torch accepts any str), or a duck-typed model whose
    named_modules() yields an odd item; the name must be in the report (and pruned), or the call
    must raise InvalidArgumentError when the core cannot take it."""
    import swiftcompress
    from swiftcompress.distillation import DynamicLayerwiseDistiller
    from swiftcompress.pruning import LevelPruner
    from swiftcompress.quantization import PtqQuantizer

    torch, nn = _torch()
    name, duck, api = case["name"], case["duck"], case["api"]
    model = nn.Sequential(nn.Linear(4, 4))
    model._modules[name] = nn.Linear(4, 4)  # as add_module, without its check of "." (a hostile name)
    config = [{"op_types": ["Linear"], "sparse_ratio": 0.5}]
    bad = any(c in name for c in ODD_BAD)
    if duck is not None:
        items = {"str": "fc", "short": ("fc",), "long": ("fc", nn.Linear(2, 2), 1), "int_name": (3, nn.Linear(2, 2)),
                 "none_name": (None, nn.Linear(2, 2)), "int_module": ("fc", 5), "list_item": ["fc", nn.Linear(2, 2)]}

        class Duck:
            def named_modules(self, remove_duplicate=True):
                return iter([("", nn.Sequential()), items[duck]])

        expect_error(lambda: swiftcompress.explain(Duck(), config), "InvalidArgumentError")
        return "ok"
    if api == "explain":
        run = lambda: swiftcompress.explain(model, config).targets  # noqa: E731
    elif api == "LevelPruner":
        run = lambda: LevelPruner(model, config).compress()[1]  # noqa: E731
    elif api == "PtqQuantizer":
        run = lambda: PtqQuantizer(model, [{"op_types": ["Linear"], "target_names": ["weight"]}]).compress()[1]  # noqa: E731
    else:
        run = lambda: DynamicLayerwiseDistiller(nn.Sequential(nn.Linear(4, 4)), [{"op_names": ["0"]}],  # noqa: E731
                                                model, lambda b, t: t(b)).target_links()
    if bad:
        expect_error(run, "InvalidArgumentError")
        return "ok"
    result = run()
    if api in ("explain", "LevelPruner", "PtqQuantizer") and list(result) != ["0", name]:
        raise Wrong(f"modules {list(result)[:3]}")
    if api == "LevelPruner":
        check_binary(result)
        level_reference(model._modules[name].weight, result[name]["weight"], 0.5, "odd.weight")
    return "ok"


class _Shaped:
    """The hidden state of a distill_tensor case: Linear(6, 8) then the variant's view / cast."""

    def __init__(self, variant: str) -> None:
        self.variant = variant

    def __call__(self, h):
        torch, _ = _torch()
        v = self.variant
        if v == "transposed":
            return h.t()
        if v == "expand":
            return h[:, :1].expand(-1, 8)
        if v in ("float16", "bfloat16", "float64"):
            return h.to(getattr(torch, v))
        if v == "negative_view":
            return torch._neg_view(h)
        if v == "zero_size":
            return h[:0]
        if v == "nan":
            return h * torch.tensor([float("nan")] + [1.0] * 7)
        if v == "int32":
            return (h * 10).to(torch.int32)
        if v == "channels_last":
            return h.reshape(3, 2, 2, 2).contiguous(memory_format=torch.channels_last)
        if v == "sliced":
            return h[:, ::2]
        if v == "scalar_rows":
            return h[:, :1]
        return h


def case_distill_tensor(case: Dict[str, Any]) -> str:
    """Student / teacher hidden states of a hostile layout or dtype: the core's loss and gradient
    against torch's formulas on the same values (float64), or DtypeError / ShapeError."""
    from swiftcompress.distillation import DynamicLayerwiseDistiller

    torch, nn = _torch()
    import torch.nn.functional as F

    shaped = _Shaped(case["variant"])

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(6, 8)
            self.out = nn.Identity()

        def forward(self, x):
            return self.out(shaped(self.lin(x)))

    torch.manual_seed(case["seed"] % 1000)
    student, teacher = Net(), Net()
    lam, method = case["lambda"], case["method"]
    config = [{"op_names": ["out"], "lambda": lam, "apply_method": method}]
    distiller = DynamicLayerwiseDistiller(student, config, teacher, lambda batch, t: t(batch))
    x = torch.randn(3, 6, generator=torch.Generator().manual_seed(case["seed"]))
    s_out = student(x)
    loss = distiller.loss(torch.zeros(()), x)
    got = torch.autograd.grad(loss, student.lin.weight)[0]
    # torch's formula in float64 on the same values
    with torch.no_grad():
        t_out = teacher(x).resolve_neg().double()
    s_ref = shaped(student.lin(x)).resolve_neg().double()
    if method == "mse":
        expected = lam * F.mse_loss(s_ref, t_out)
    else:
        expected = lam * F.kl_div(F.log_softmax(s_ref / 2, dim=-1), F.softmax(t_out / 2, dim=-1),
                                  reduction="batchmean") * 4
    ref_grad = torch.autograd.grad(expected, student.lin.weight)[0]
    low = s_out.dtype in (torch.float16, torch.bfloat16)
    rtol = 2e-2 if low else 1e-5
    if not torch.allclose(loss.double(), expected, rtol=1e-6 if not low else 1e-6, atol=1e-9, equal_nan=True):
        raise Wrong(f"loss {float(loss)} != {float(expected)}")
    if not torch.allclose(got.double(), ref_grad.double(), rtol=rtol, atol=1e-6 if not low else 1e-3, equal_nan=True):
        raise Wrong(f"gradient differs from torch's (max {float((got.double() - ref_grad).abs().max())})")
    distiller.unwrap_model()
    distiller.unwrap_teacher_model()
    return "ok"


RUNNERS = {"distill_tensor": case_distill_tensor, "odd_model": case_odd_model, "prune_config": case_prune_config, "prune_tensor": case_prune_tensor, "quant_config": case_quant_config,
           "quant_tensor": case_quant_tensor, "distill_config": case_distill_config, "misuse": case_misuse}


def run_case(case: Dict[str, Any]) -> Dict[str, Any]:
    """The outcome of one case: {"outcome": ok | error | wrong | foreign, "detail": ...}."""
    import swiftcompress

    allowed = None
    if case["kind"] == "distill_tensor":
        allowed = {"int32": ("DtypeError",), "zero_size": ("ShapeError",)}.get(case["variant"], ())
    elif "variant" in case:
        allowed = allowed_errors(case["variant"])
    try:
        quiet(lambda: RUNNERS[case["kind"]](case))
    except Wrong as wrong:
        return {"outcome": "wrong", "detail": str(wrong)}
    except swiftcompress.SwiftCompressError as error:
        name = type(error).__name__
        if allowed is not None and name not in allowed:
            return {"outcome": "wrong", "detail": f"{name} is not allowed here: {error}"}
        return {"outcome": "error", "detail": name}
    except Exception as error:  # noqa: BLE001 - the point of the suite
        return {"outcome": "foreign", "detail": f"{type(error).__name__}: {error}",
                "traceback": traceback.format_exc(limit=6)}
    must_fail = ({"int32", "zero_size"} if case["kind"] == "distill_tensor" else INTEGER_LIKE | {"meta", "sparse"})
    if allowed and case.get("variant") in must_fail:
        return {"outcome": "wrong", "detail": f"{case['variant']}: expected one of {allowed}, got a result"}
    return {"outcome": "ok", "detail": ""}


# ---------------------------------------------------------------------------------------------
# processes
# ---------------------------------------------------------------------------------------------

def worker(seed: int) -> None:
    """Reads case indices (one per line) from stdin; runs each, reporting S / R lines."""
    import torch

    torch.set_num_threads(1)
    out = sys.stdout
    deadline = float(os.environ.get("SWIFTCOMPRESS_HOSTILE_DEADLINE", "inf"))
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        index = int(line)
        if time.time() > deadline:  # the suite's time bound: the remaining cases are skipped
            out.write(f"K {index}\n")
            continue
        out.write(f"S {index}\n")
        out.flush()
        if os.environ.get("SWIFTCOMPRESS_HOSTILE_ABORT") == str(index):  # the driver's self-test
            os.abort()
        if os.environ.get("SWIFTCOMPRESS_HOSTILE_HANG") == str(index):
            time.sleep(3600)
        result = run_case(make_case(seed, index))
        out.write(f"R {index} {json.dumps(result)}\n")
        out.flush()


def _run_worker(seed: int, indices: List[int], results: Dict[int, Dict[str, Any]], case_timeout: float,
                env: Dict[str, str]) -> None:
    """Runs ``indices`` in worker processes, a new one after each crash or hang."""
    import tempfile

    pending = list(indices)
    while pending:
        with tempfile.TemporaryFile("w+") as errors:
            proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "worker", str(seed)],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True, env=env)
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("".join(f"{i}\n" for i in pending))
            proc.stdin.close()
            state: Dict[str, Any] = {"current": None, "started": time.monotonic(), "hung": False}

            def watchdog() -> None:
                while proc.poll() is None:
                    if state["current"] is not None and time.monotonic() - state["started"] > case_timeout:
                        state["hung"] = True
                        proc.kill()
                        return
                    time.sleep(0.1)

            dog = threading.Thread(target=watchdog, daemon=True)
            dog.start()
            done_here = 0
            for line in proc.stdout:
                parts = line.rstrip("\n").split(" ", 2)
                if parts[0] == "S" and len(parts) == 2:
                    state["started"] = time.monotonic()
                    state["current"] = int(parts[1])
                elif parts[0] == "K" and len(parts) == 2:
                    results[int(parts[1])] = {"outcome": "skipped", "detail": "past the deadline"}
                    done_here += 1
                elif parts[0] == "R" and len(parts) == 3:
                    results[int(parts[1])] = json.loads(parts[2])
                    state["current"] = None
                    done_here += 1
            proc.wait()
            dog.join()
            errors.seek(0)
            stderr = errors.read()[-2000:]
        current = state["current"]
        if current is not None and current not in results:
            signal = -proc.returncode if proc.returncode and proc.returncode < 0 else None
            results[current] = {"outcome": "crash", "stderr": stderr,
                                "detail": ("hung" if state["hung"] else "died") + f": exit {proc.returncode}, signal {signal}"}
        pending = [i for i in pending if i not in results]
        if pending and not done_here and current is None:
            for i in pending:  # the worker failed before any case (an import error)
                results[i] = {"outcome": "crash", "detail": f"worker exit {proc.returncode}", "stderr": stderr}
            pending = []


def run_suite(seed: int, count: int, workers: int = 3, case_timeout: float = 60.0,
              extra_env: Optional[Dict[str, str]] = None, time_budget: Optional[float] = None
              ) -> Dict[int, Dict[str, Any]]:
    """Runs cases 0..count-1 of ``seed`` in ``workers`` processes; returns {index: outcome}. With
    ``time_budget`` (seconds), cases not started by then are recorded as skipped."""
    env = dict(os.environ)
    env.update(extra_env or {})
    if time_budget is not None:
        env["SWIFTCOMPRESS_HOSTILE_DEADLINE"] = repr(time.time() + time_budget)
    env.setdefault("OMP_NUM_THREADS", "1")
    # The workers import the swiftcompress this process imported (the installed package under
    # run_tests.sh, an in-place build with PYTHONPATH=bindings/python), never the bare sources.
    import swiftcompress

    package = os.path.dirname(os.path.dirname(os.path.abspath(swiftcompress.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([p for p in [package, env.get("PYTHONPATH")] if p])
    results: Dict[int, Dict[str, Any]] = {}
    shares = [list(range(k, count, workers)) for k in range(workers)]
    threads = [threading.Thread(target=_run_worker, args=(seed, share, results, case_timeout, env))
               for share in shares]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def describe(case: Dict[str, Any]) -> str:
    """A short text of a case (a deeply nested config is not repr'd)."""
    try:
        return repr(case)[:300]
    except RecursionError:
        return repr({k: v for k, v in case.items() if k != "config"})[:300] + " (deep config)"


def summarize(results: Dict[int, Dict[str, Any]]) -> Dict[str, int]:
    """{cases, ok, error, wrong, foreign, crash, skipped}: the number of cases of each outcome."""
    counts = {"cases": len(results), "ok": 0, "error": 0, "wrong": 0, "foreign": 0, "crash": 0, "skipped": 0}
    for outcome in results.values():
        counts[outcome["outcome"]] += 1
    return counts


def by_kind(seed: int, results: Dict[int, Dict[str, Any]]) -> Dict[str, Dict[str, int]]:
    """Per case kind, the number of cases of each outcome (and per error class)."""
    table: Dict[str, Dict[str, int]] = {}
    for index, outcome in results.items():
        row = table.setdefault(KINDS[index % len(KINDS)], {})
        key = outcome["outcome"] + (":" + outcome["detail"] if outcome["outcome"] == "error" else "")
        row[key] = row.get(key, 0) + 1
    return table


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "worker":
        worker(int(sys.argv[2]))
    else:
        seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
        count = int(sys.argv[2]) if len(sys.argv) > 2 else 300
        start = time.monotonic()
        results = run_suite(seed, count)
        for index in sorted(results):
            outcome = results[index]
            if outcome["outcome"] not in ("ok", "error"):
                print(index, describe(make_case(seed, index)), outcome)
        for kind, row in by_kind(seed, results).items():
            print(kind, dict(sorted(row.items())))
        print(summarize(results), f"{time.monotonic() - start:.1f} s")
