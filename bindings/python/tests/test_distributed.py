"""Pruning and PTQ over DTensor parameters sharded across gloo ranks (docs/distributed.md).

One spawn per world size (2 and 4 CPU processes, gloo, a file rendezvous) runs every case; each rank
builds the same full weights from a seed, keeps its shard as a DTensor (``DTensor.from_local``:
``Shard(0)``, ``Shard(1)`` or ``Replicate``) and runs the pruner / quantizer; rank 0 gathers the masks
(``full_tensor()``, in the test only) and writes them with each rank's errors to a file. The parent
process computes the single-process masks and scales of the same weights (and QATQuantizer's
moving-average ranges over a tensor-parallel MLP) and compares bit for bit.
Weights are multiples of 1/8 in [-2, 2): many equal values, so the ties of the cut are split across
ranks and the tie order (lowest global index first) is exercised. The spawn is bounded by a timeout;
a hang fails the test.
"""
from __future__ import annotations

import os
import traceback
from collections import OrderedDict
from typing import Any, Dict, List, Tuple

import pytest
import torch
import torch.nn as nn

SPAWN_TIMEOUT_S = 150


def tied(shape: Tuple[int, ...], seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(-16, 16, shape, generator=g).float() / 8)


# name -> (out, in, seed, placement); placement: ("shard", dim) or ("replicate",)
LAYERS = OrderedDict(
    q=(32, 24, 1, ("shard", 0)),
    k=(32, 24, 2, ("shard", 0)),
    v=(32, 24, 3, ("shard", 1)),
    o=(24, 32, 4, ("shard", 1)),
    r=(16, 24, 5, ("replicate",)),
    u=(30, 8, 6, ("shard", 0)),  # uneven: 15 + 15 rows on 2 ranks, 8 + 8 + 8 + 6 on 4 (torch.chunk, as Shard)
    w=(32, 24, 7, ("shard", 1)),
)


def plain_model() -> nn.Module:
    model = nn.Module()
    for name, (out, inp, seed, _) in LAYERS.items():
        layer = nn.Linear(inp, out, bias=False)
        with torch.no_grad():
            layer.weight.copy_(tied((out, inp), seed))
        model.add_module(name, layer)
    return model


def ptq_model() -> nn.Module:
    """plain_model with two outliers in q (per tensor, Shard(0)), at rows held by the first and the
    last rank: no rank alone holds q's range."""
    model = plain_model()
    with torch.no_grad():
        model.q.weight[0, 0] = 3.0
        model.q.weight[-1, -1] = -2.5
    return model


def fsdp_model() -> nn.Module:
    """A two-layer MLP for FSDP2 (30 output rows: uneven shards on 4 ranks)."""
    model = nn.Sequential(OrderedDict(fc1=nn.Linear(24, 32, bias=False), act=nn.ReLU(), fc2=nn.Linear(32, 30, bias=False)))
    with torch.no_grad():
        model.fc1.weight.copy_(tied((32, 24), 11))
        model.fc2.weight.copy_(tied((30, 32), 12))
    return model


FSDP_CONFIG = [{"op_types": ["Linear"], "sparse_ratio": 0.6, "global_group_id": 0}]
FSDP_INPUT = tied((3, 24), 13)


CASES: Dict[str, Tuple[str, List[Dict[str, Any]]]] = {
    # Level in one global group over members sharded along dims 0 and 1 and a replicated one
    "level_global": ("LevelPruner", [{"op_names": list(LAYERS), "sparse_ratio": 0.55, "global_group_id": 0}]),
    # L1 (out_channel) with a dependency group over q and k (column-parallel, Shard(0)), a ratio on r
    "l1_dependency": ("L1NormPruner", [{"op_names": ["q", "k"], "sparse_ratio": 0.5, "dependency_group_id": 1},
                                        {"op_names": ["r"], "sparse_ratio": 0.3}]),
    # L1 in one global group of mixed block sizes (24 and 8 elements) with a max bound: the weighted form
    "l1_global": ("L1NormPruner", [{"op_names": ["q", "k", "u"], "sparse_ratio": 0.5, "global_group_id": 2},
                                    {"op_names": ["r"], "sparse_ratio": 0.5, "global_group_id": 2, "max_sparse_ratio": 0.25}]),
    # out_channel blocks that span the shards (v and o: Shard(1), a row-parallel Linear): each rank's
    # partial sums added across ranks, in a global group with a column-parallel (q) and a replicated
    # (r) member, a ratio, and a threshold with a max bound
    "l1_row_parallel": ("L1NormPruner", [{"op_names": ["v", "q", "r"], "sparse_ratio": 0.5, "global_group_id": 3},
                                         {"op_names": ["o"], "sparse_threshold": 33.0, "max_sparse_ratio": 0.25}]),
    "l2_row_parallel": ("L2NormPruner", [{"op_names": ["v", "w"], "sparse_ratio": 0.5, "dependency_group_id": 4},
                                         {"op_names": ["o"], "sparse_ratio": 0.3}]),
    # per-target ratios and thresholds (one with a max bound: the fallback to the ratio cut)
    "ratios_thresholds": ("LevelPruner", [{"op_names": ["q"], "sparse_ratio": 0.3},
                                          {"op_names": ["v"], "sparse_ratio": 0.7},
                                          {"op_names": ["o"], "sparse_threshold": 0.5},
                                          {"op_names": ["k"], "sparse_threshold": 1.0, "max_sparse_ratio": 0.2}]),
}

PTQ_CONFIG = [
    {"op_names": ["v", "o", "k"], "target_names": ["weight"], "quant_dtype": "int8", "quant_scheme": "affine",
     "granularity": "per_channel"},
    {"op_names": ["q", "r"], "target_names": ["weight"], "quant_dtype": "int8", "quant_scheme": "symmetric"},
]


QAT_CONFIG = [
    {"op_names": ["fc1"], "target_names": ["weight"], "quant_dtype": "int8", "quant_scheme": "affine",
     "granularity": "per_channel"},
    {"op_names": ["fc2"], "target_names": ["weight"], "quant_dtype": "int8", "quant_scheme": "symmetric"},
]


def qat_model() -> nn.Module:
    """fsdp_model's MLP with two outliers in fc2, at columns held by the first and the last rank of
    a Shard(1): no rank's own range of fc2 is the whole weight's."""
    model = fsdp_model()
    with torch.no_grad():
        model.fc2.weight[0, 0] = 3.0
        model.fc2.weight[-1, -1] = -2.5
    return model


def qat_run(model: nn.Module, x: Any) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
    """QATQuantizer's moving-average observers over 3 training forwards, the weights halved after
    each (quant_start_step 1000: observed, never fake-quantized); the tracked ranges."""
    from swiftcompress.quantization import QATQuantizer

    quantizer = QATQuantizer(model, QAT_CONFIG, quant_start_step=1000)
    model.train()
    for _ in range(3):
        model(x)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(0.5)
    calib = quantizer.get_calibration_config()
    return {m: (t["weight"]["tracked_min"], t["weight"]["tracked_max"]) for m, t in calib.items()}


class TwoLinears(nn.Module):
    """A column-parallel fc1 and a row-parallel fc2 of the same input: with one-hot input rows
    every output element is one weight (times 1, plus zeros), exact whatever the order of the sums,
    so the sharded forward's output can equal one process's bit for bit."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(24, 32, bias=False)
        self.fc2 = nn.Linear(24, 30, bias=False)
        with torch.no_grad():
            self.fc1.weight.copy_(tied((32, 24), 21))
            self.fc2.weight.copy_(tied((30, 24), 22))
            self.fc2.weight[0, 0] = 3.0  # (columns of the first and the last rank of a Shard(1))
            self.fc2.weight[-1, -1] = -2.5

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        return self.fc1(x), self.fc2(x)


FQ_CONFIG = [
    {"op_names": ["fc1"], "target_names": ["weight"], "quant_dtype": "int8", "quant_scheme": "affine",
     "granularity": "per_channel"},
    {"op_names": ["fc2"], "target_names": ["weight"], "quant_dtype": "int4", "quant_scheme": "symmetric"},
]
FQ_INPUT = torch.zeros(4, 24)
FQ_INPUT[[0, 1, 2, 3], [0, 7, 13, 23]] = 1.0  # one-hot rows, columns on every rank of 2 and 4


def fake_quantized_forward(model: nn.Module, x: Any) -> Tuple[Any, Any]:
    """PtqQuantizer: the weights observed by compress(), then the fake-quantized forward."""
    from swiftcompress.quantization import PtqQuantizer

    PtqQuantizer(model, FQ_CONFIG).compress()
    model.eval()
    with torch.no_grad():
        return model(x)


def qat_forward_backward(model: nn.Module, x: Any) -> Tuple[Any, Any, Any, Any]:
    """QATQuantizer active from step 0: one training forward (observed, then fake-quantized with
    the gradient mask of qat_clamp_round) and the backward of the outputs' sum; (outputs, weight
    gradients), gathered when sharded."""
    from swiftcompress.quantization import QATQuantizer

    QATQuantizer(model, FQ_CONFIG, quant_start_step=0)
    model.train()
    y1, y2 = model(x)
    full = (lambda t: t.full_tensor()) if hasattr(y1, "full_tensor") else (lambda t: t)
    (full(y1).sum() + full(y2).sum()).backward()
    return (full(y1).detach(), full(y2).detach(), full(model.fc1.weight.grad), full(model.fc2.weight.grad))


def single_process() -> Dict[str, Any]:
    import swiftcompress.pruning as pruning
    from swiftcompress.quantization import PtqQuantizer

    out: Dict[str, Any] = {}
    for case, (cls, config) in CASES.items():
        _, masks = getattr(pruning, cls)(plain_model(), config).compress()
        out[case] = {m: t["weight"].clone() for m, t in masks.items()}
    model = fsdp_model()
    _, masks = pruning.LevelPruner(model, FSDP_CONFIG).compress()
    out["fsdp"] = ({m: t["weight"].clone() for m, t in masks.items()}, model(FSDP_INPUT).detach())
    quantizer = PtqQuantizer(ptq_model(), PTQ_CONFIG)
    _, calib = quantizer.compress()
    out["ptq"] = {m: (t["weight"]["scale"].clone(), t["weight"]["zero_point"].clone()) for m, t in calib.items()}
    out["qat"] = qat_run(qat_model(), FSDP_INPUT)
    model = TwoLinears()
    out["fq"] = fake_quantized_forward(model, FQ_INPUT)
    out["fq_plain"] = tuple(y.detach() for y in TwoLinears()(FQ_INPUT))
    out["qat_fq"] = qat_forward_backward(TwoLinears(), FQ_INPUT)
    return out


def sharded_model(rank: int, world: int, mesh: Any, bad: bool = False, base: Any = None) -> nn.Module:
    """plain_model (or ``base``'s weights) with every weight this rank's shard of it, as a DTensor."""
    from torch.distributed.tensor import DTensor, Replicate, Shard

    model = plain_model()
    for name, (out, inp, seed, place) in LAYERS.items():
        full = tied((out, inp), seed) if base is None else getattr(base, name).weight.detach().clone()
        if place[0] == "shard":
            local, placements = full.chunk(world, dim=place[1])[rank].contiguous(), [Shard(place[1])]
        else:
            local, placements = full.clone(), [Replicate()]
        if bad and name == "v":
            local = local.to(torch.int32)  # this rank's shard cannot be ranked
        dt = DTensor.from_local(local, mesh, placements, run_check=False, shape=full.shape, stride=full.stride())
        getattr(model, name).weight = nn.Parameter(dt, requires_grad=not bad or name != "v")
    return model


def worker(rank: int, world: int, directory: str) -> None:
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    dist.init_process_group("gloo", init_method=f"file://{directory}/rendezvous", rank=rank, world_size=world)
    try:
        import swiftcompress.pruning as pruning
        from swiftcompress.quantization import PtqQuantizer

        mesh = init_device_mesh("cpu", (world,))
        results: Dict[str, Any] = {}
        for case, (cls, config) in CASES.items():
            _, masks = getattr(pruning, cls)(sharded_model(rank, world, mesh), config).compress()
            results[case] = {m: t["weight"].full_tensor() for m, t in masks.items()}
            results[case + "_local_type"] = type(next(iter(masks.values()))["weight"]).__name__
        # FSDP2: fully_shard (Shard(0) DTensor parameters), masks, and the masked forward (which
        # multiplies FSDP2's unsharded weights by the gathered masks)
        from torch.distributed.fsdp import fully_shard
        model = fsdp_model()
        fully_shard(model.fc1, mesh=mesh)
        fully_shard(model.fc2, mesh=mesh)
        fully_shard(model, mesh=mesh)
        _, masks = pruning.LevelPruner(model, FSDP_CONFIG).compress()
        results["fsdp"] = ({m: t["weight"].full_tensor() for m, t in masks.items()}, model(FSDP_INPUT).detach(),
                           [type(t["weight"]).__name__ for t in masks.values()])
        # PTQ: weights observed shard by shard, ranges reduced across ranks
        _, calib = PtqQuantizer(sharded_model(rank, world, mesh, base=ptq_model()), PTQ_CONFIG).compress()
        results["ptq"] = {m: (t["weight"]["scale"], t["weight"]["zero_point"]) for m, t in calib.items()}
        # QAT: moving-average observers of a column-parallel fc1 (Shard(0)) and a row-parallel fc2
        # (Shard(1)), each training forward's range reduced across ranks before the average
        from torch.distributed.tensor import DTensor, Replicate, Shard
        model = qat_model()
        for name, dim in (("fc1", 0), ("fc2", 1)):
            full = getattr(model, name).weight.detach()
            local = full.chunk(world, dim=dim)[rank].contiguous()
            getattr(model, name).weight = nn.Parameter(DTensor.from_local(local, mesh, [Shard(dim)], run_check=False,
                                                                          shape=full.shape, stride=full.stride()))
        results["qat"] = qat_run(model, DTensor.from_local(FSDP_INPUT, mesh, [Replicate()], run_check=False))
        # the fake-quantized forward of DTensor weights (PtqQuantizer after compress()): each rank
        # quantizes its shard with its scales; the output gathered (full_tensor) on every rank
        model = TwoLinears()
        for name, dim in (("fc1", 0), ("fc2", 1)):
            full = getattr(model, name).weight.detach()
            local = full.chunk(world, dim=dim)[rank].contiguous()
            getattr(model, name).weight = nn.Parameter(DTensor.from_local(local, mesh, [Shard(dim)], run_check=False,
                                                                          shape=full.shape, stride=full.stride()))
        y1, y2 = fake_quantized_forward(model, DTensor.from_local(FQ_INPUT, mesh, [Replicate()], run_check=False))
        results["fq"] = (y1.full_tensor(), y2.full_tensor(), type(model.fc1.weight).__name__)
        # QAT's training forward (observed across ranks, then fake-quantized) and its backward
        model = TwoLinears()
        for name, dim in (("fc1", 0), ("fc2", 1)):
            full = getattr(model, name).weight.detach()
            local = full.chunk(world, dim=dim)[rank].contiguous()
            getattr(model, name).weight = nn.Parameter(DTensor.from_local(local, mesh, [Shard(dim)], run_check=False,
                                                                          shape=full.shape, stride=full.stride()))
        results["qat_fq"] = qat_forward_backward(model, DTensor.from_local(FQ_INPUT, mesh, [Replicate()], run_check=False))
        # the ranks' own shards of v's mask (Shard(1)) keep the weight's placement
        # a bad shard on the last rank: every rank raises
        errors = {}
        pruner = pruning.LevelPruner(sharded_model(rank, world, mesh), [{"op_names": list(LAYERS), "sparse_ratio": 0.5}])
        if rank == world - 1:  # the weight is replaced after the constructor's checks
            pruner.bound_model.v.weight = sharded_model(rank, world, mesh, bad=True).v.weight
        try:
            pruner.compress()
        except Exception as e:  # noqa: BLE001 - recorded for the parent
            errors["bad_dtype"] = (type(e).__name__, str(e))
        # ranks handed different configs: every rank raises
        try:
            ratio = 0.5 if rank != world - 1 else 0.6
            pruning.LevelPruner(sharded_model(rank, world, mesh), [{"op_names": ["q"], "sparse_ratio": ratio}]).compress()
        except Exception as e:  # noqa: BLE001
            errors["mismatch"] = (type(e).__name__, str(e))
        # FPGM ranks a block against every other block: rejected on every rank for a sharded weight
        try:
            pruning.FPGMPruner(sharded_model(rank, world, mesh), [{"op_names": ["q"], "sparse_ratio": 0.5}]).compress()
        except Exception as e:  # noqa: BLE001
            errors["fpgm"] = (type(e).__name__, str(e))
        # a constructor failing on one rank only: every rank raises there (none waits in compress())
        last = world - 1
        model = sharded_model(rank, world, mesh)
        try:
            pruning.LevelPruner(model, [{"op_names": ["q"], "sparse_ratio": 1.5 if rank == last else 0.5}])
        except Exception as e:  # noqa: BLE001
            errors["constructor_config"] = (type(e).__name__, str(e))
        # no rank's model is left wrapped: a new pruner over it prunes int(32 * 24 * 0.5) = 384 weights of q
        _, masks = pruning.LevelPruner(model, [{"op_names": ["q"], "sparse_ratio": 0.5}]).compress()
        results["after_constructor"] = int((masks["q"]["weight"].full_tensor() == 0).sum())
        try:  # an int32 shard on the last rank, found by the constructor's checks
            pruning.L1NormPruner(sharded_model(rank, world, mesh, bad=rank == last), [{"op_names": ["v"], "sparse_ratio": 0.5}])
        except Exception as e:  # noqa: BLE001
            errors["constructor_dtype"] = (type(e).__name__, str(e))
        try:  # a quantizer's constructor
            PtqQuantizer(sharded_model(rank, world, mesh), [{"op_names": ["q"], "target_names": ["weight"],
                                                            "quant_dtype": "int17" if rank == last else "int8"}])
        except Exception as e:  # noqa: BLE001
            errors["constructor_ptq"] = (type(e).__name__, str(e))

        class Checked(pruning.LevelPruner):  # a subclass whose own step fails, after the base constructor
            def __init__(self, model: nn.Module, config_list: List[Dict[str, Any]], fail: bool) -> None:
                super().__init__(model, config_list)
                if fail:
                    raise ValueError("the subclass's check failed")

        try:
            Checked(sharded_model(rank, world, mesh), [{"op_names": ["q"], "sparse_ratio": 0.5}], rank == 0)
        except Exception as e:  # noqa: BLE001
            errors["constructor_subclass"] = (type(e).__name__, str(e))
        results["errors"] = errors
        dist.barrier()
        torch.save(results, os.path.join(directory, f"rank{rank}.pt"))
    except BaseException:
        with open(os.path.join(directory, f"rank{rank}.err"), "w") as f:
            f.write(traceback.format_exc())
        raise
    finally:
        dist.destroy_process_group()


def run_world(world: int, tmp_path: Any) -> List[Dict[str, Any]]:
    import torch.multiprocessing as mp

    directory = str(tmp_path / f"world{world}")
    os.makedirs(directory)
    ctx = mp.start_processes(worker, args=(world, directory), nprocs=world, join=False, start_method="spawn")
    import time
    deadline = time.monotonic() + SPAWN_TIMEOUT_S
    try:
        while not ctx.join(timeout=max(1.0, deadline - time.monotonic())):
            if time.monotonic() > deadline:
                raise AssertionError(f"{world} ranks did not finish within {SPAWN_TIMEOUT_S} s (a hang)")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()
    return [torch.load(os.path.join(directory, f"rank{r}.pt"), weights_only=False) for r in range(world)]


@pytest.fixture(scope="module")
def reference() -> Dict[str, Any]:
    return single_process()


def test_the_reference_cut_splits_ties(reference: Dict[str, Any]) -> None:
    # the global cut takes some but not all weights of its magnitude: the tie order decides
    weights = torch.cat([tied(LAYERS[n][:2], LAYERS[n][2]).flatten() for n in LAYERS]).abs()
    masks = torch.cat([reference["level_global"][n].flatten() for n in LAYERS])
    assert int((masks == 0).sum()) == int(weights.numel() * 0.55)
    key = weights[masks == 0].max()
    at_key = masks[weights == key]
    assert 0 < int((at_key == 0).sum()) < at_key.numel()


@pytest.mark.parametrize("world", [2, 4])
def test_sharded_ranks_equal_one_process(world: int, tmp_path: Any, reference: Dict[str, Any]) -> None:
    ranks = run_world(world, tmp_path)
    for rank, results in enumerate(ranks):
        for case in CASES:
            assert results[case + "_local_type"] == "DTensor"
            for name, expected in reference[case].items():
                got = results[case][name]
                assert got.dtype == expected.dtype and got.shape == expected.shape
                assert torch.equal(got, expected), f"{case}: {name} on rank {rank} of {world}"
            # the cut is not trivial: something pruned, something kept
            assert 0 < sum(int((m == 0).sum()) for m in reference[case].values()) < sum(
                m.numel() for m in reference[case].values())
        expected_masks, expected_output = reference["fsdp"]
        got_masks, got_output, kinds = results["fsdp"]
        assert kinds == ["DTensor", "DTensor"]
        for name, expected in expected_masks.items():
            assert torch.equal(got_masks[name], expected), f"fsdp: {name} on rank {rank} of {world}"
        assert torch.equal(got_output, expected_output), f"fsdp forward on rank {rank} of {world}"
        for name, (scale, zero_point) in reference["ptq"].items():
            got_scale, got_zero = results["ptq"][name]
            if name == "v":  # per_channel over out channels, v sharded along dim 1: global scales reduced
                assert torch.equal(got_scale, scale) and torch.equal(got_zero, zero_point)
            elif name == "o":  # per_channel, o sharded along dim 1 too
                assert torch.equal(got_scale, scale) and torch.equal(got_zero, zero_point)
            elif name == "k":  # per_channel, k sharded along its channel dim: this rank's channels
                assert torch.equal(got_scale, scale.chunk(world, 0)[rank])
                assert torch.equal(got_zero, zero_point.chunk(world, 0)[rank])
            else:  # per tensor: q (Shard(0), reduced) and r (replicated)
                assert torch.equal(got_scale, scale) and torch.equal(got_zero, zero_point), name
        q = ptq_model().q.weight.detach()  # (no rank alone holds q's range)
        assert (q.chunk(world, 0)[rank].min(), q.chunk(world, 0)[rank].max()) != (q.min(), q.max())
        # QAT: fc2 per tensor (sharded along the dim its block reduces): the whole weight's range;
        # fc1 per channel (sharded along its channels): this rank's channels of it
        (min2, max2), (got_min2, got_max2) = reference["qat"]["fc2"], results["qat"]["fc2"]
        assert torch.equal(got_min2, min2) and torch.equal(got_max2, max2), f"qat fc2 on rank {rank} of {world}"
        (min1, max1), (got_min1, got_max1) = reference["qat"]["fc1"], results["qat"]["fc1"]
        assert torch.equal(got_min1, min1.chunk(world, 0)[rank]) and torch.equal(got_max1, max1.chunk(world, 0)[rank])
        # the fake-quantized forward: one process's output bit for bit (and not the plain one's)
        got1, got2, kind = results["fq"]
        assert kind == "DTensor"
        assert torch.equal(got1, reference["fq"][0]) and torch.equal(got2, reference["fq"][1]), f"fq on rank {rank} of {world}"
        assert not torch.equal(got2, reference["fq_plain"][1]) and not torch.equal(got1, reference["fq_plain"][0])
        # QAT active: outputs and weight gradients (the qat_clamp_round mask) equal one process's; the
        # reference is quantized (not the plain output) and its mask drops something (2 of fc1's 128)
        assert not torch.equal(reference["qat_fq"][0], reference["fq_plain"][0])
        assert int(reference["qat_fq"][2].sum()) == 126
        for got, expected, what in zip(results["qat_fq"], reference["qat_fq"], ("fc1 out", "fc2 out", "fc1 grad", "fc2 grad")):
            assert torch.equal(got, expected), f"qat {what} on rank {rank} of {world}"
        # (no rank alone holds fc2's range: its shard's range differs from the whole weight's)
        whole = qat_model().fc2.weight.detach()
        part = whole.chunk(world, 1)[rank]
        assert (part.min(), part.max()) != (whole.min(), whole.max())
        errors = results["errors"]
        last = world - 1
        kind, message = errors["bad_dtype"]
        if rank == last:
            assert kind == "DtypeError" and "v.weight" in message and message.startswith(f"rank {last} of {world}: ")
        else:
            assert kind == "PruningError"
            assert f"rank {last} of {world} failed" in message
        kind, message = errors["mismatch"]
        assert kind == "PruningError" and "different target lists" in message
        # constructors failing on one rank: its own error, prefixed with its rank; the others name it
        kind, message = errors["constructor_config"]
        if rank == last:
            assert kind == "ConfigError" and message.startswith(f"rank {last} of {world}: ") and "sparse_ratio" in message
        else:
            assert kind == "PruningError" and f"rank {last} of {world} failed in LevelPruner's constructor" in message
        assert results["after_constructor"] == 384
        kind, message = errors["constructor_dtype"]
        if rank == last:
            assert kind == "DtypeError" and message.startswith(f"rank {last} of {world}: ") and "v.weight" in message
        else:
            assert kind == "PruningError" and f"rank {last} of {world} failed in L1NormPruner's constructor" in message
        kind, message = errors["constructor_ptq"]
        if rank == last:
            assert kind == "ConfigError" and message.startswith(f"rank {last} of {world}: ") and "int17" in message
        else:
            assert kind == "QuantizationError" and f"rank {last} of {world} failed in PtqQuantizer's constructor" in message
        kind, message = errors["constructor_subclass"]
        if rank == 0:
            assert (kind, message) == ("ValueError", f"rank 0 of {world}: the subclass's check failed")
        else:
            assert kind == "PruningError" and f"rank 0 of {world} failed in Checked's constructor" in message
        kind, message = errors["fpgm"]
        assert kind == "PruningError" and "FPGM ranks a block against every other block" in message


def test_the_reduce_callback_gets_the_summary_and_its_exception_is_the_cause() -> None:
    from swiftcompress import _core
    from swiftcompress.errors import PruningError

    seen = []

    def identity(buffer: memoryview, op: int) -> None:  # one rank: the sum is the summary itself
        seen.append((buffer.nbytes, op, torch.frombuffer(buffer, dtype=torch.int64).tolist()))

    _core.distributed_fail(0, 1, identity)
    # the status round of world 1: this rank's failure flag, no fingerprint, one rank
    assert seen == [(32, _core.SC_REDUCE_SUM_INT64, [1, 0, 0, 1])]

    def broken(buffer: memoryview, op: int) -> None:
        raise RuntimeError("the communicator is down")

    with pytest.raises(PruningError, match="the all-reduce failed") as info:
        _core.distributed_fail(0, 1, broken)
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(Exception, match="rank is 2"):
        _core.distributed_fail(2, 2, identity)


def test_the_status_round_of_a_constructor() -> None:
    from swiftcompress import _core
    from swiftcompress.errors import InvalidArgumentError

    seen = []

    def identity(buffer: memoryview, op: int) -> None:
        seen.append(torch.frombuffer(buffer, dtype=torch.int64).tolist())

    # world 1: a passing rank puts no flag, a fingerprint of 0 (and its square) and one rank
    _core.distributed_status(0, 1, False, _core.SC_MODE_PRUNING, "the constructor", identity)
    _core.distributed_status(0, 1, True, _core.SC_MODE_QUANTIZATION, "the constructor", identity)
    assert seen == [[0, 0, 0, 1], [1, 0, 0, 1]]

    def others_failed(buffer: memoryview, op: int) -> None:  # what this rank of 2 sees when rank 1 failed
        values = torch.frombuffer(buffer, dtype=torch.int64)
        values[1] += 1
        values[4] += 1

    from swiftcompress.errors import PruningError, QuantizationError
    with pytest.raises(QuantizationError, match=r"^rank 1 of 2 failed in X's constructor \(it raises the error\); every rank stops here"):
        _core.distributed_status(0, 2, False, _core.SC_MODE_QUANTIZATION, "X's constructor", others_failed)
    with pytest.raises(PruningError, match=r"^rank 1 of 2 failed in the local step"):
        _core.distributed_status(0, 2, False, _core.SC_MODE_PRUNING, "", others_failed)
    seen.clear()
    with pytest.raises(InvalidArgumentError, match="mode is 2"):
        _core.distributed_status(0, 1, False, _core.SC_MODE_DISTILLATION, "x", identity)
    assert seen == [[1, 0, 0, 1]]  # still a participant, as a failing rank


def test_constructor_warnings_point_at_the_caller() -> None:
    # the constructors' wrapper (the status round over sharded models) adds a frame: the config's
    # warnings still name this file, the caller's (emit_warnings walks past the package's frames)
    import warnings

    import swiftcompress.pruning as pruning
    from swiftcompress.quantization import PtqQuantizer

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pruning.LevelPruner(plain_model(), [{"op_names": ["q"], "sparse_ratio": 0.5}, {"op_names": ["zzz"], "sparse_ratio": 0.5}])
        PtqQuantizer(plain_model(), [{"op_names": ["q"], "target_names": ["weight"]}])
    assert len(caught) == 3, [str(w.message) for w in caught]  # zzz names no module, selects no module; no quant_dtype
    assert all(w.filename == __file__ for w in caught), [(w.filename, str(w.message)) for w in caught]
