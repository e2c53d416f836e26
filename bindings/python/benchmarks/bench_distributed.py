"""Pruning a Llama-shaped model whose weights are sharded over 2 and 4 gloo ranks (CPU processes):
swiftcompress's summaries protocol (docs/distributed.md) against gathering the weights on every rank
and pruning there.

    PYTHONPATH=bindings/python python bindings/python/benchmarks/bench_distributed.py \
        [--blocks 4] [--hidden 1024] [--worlds 2 4] [--repeats 3]

The model: ``--blocks`` decoder blocks, each with q, k, v, o [hidden, hidden] and an MLP of 4x
(gate, up [4 hidden, hidden], down [hidden, 4 hidden]), float32, no biases; every weight a DTensor
``Shard(0)`` on a 1-D CPU mesh (what FSDP2's ``fully_shard`` gives). Two configs: one global group
over every weight (LevelPruner, sparse_ratio 0.5: one selection over all elements) and a ratio per
weight (LevelPruner, 0.5 each: one selection per weight).

Per rank and config it prints the median wall time of ``compress()`` over ``--repeats`` runs and the
bytes this rank handed to all-reduces (every summary round counted), against the baseline: each
weight gathered (``DTensor.full_tensor()``, an all-gather) and a single-process ``compress()`` of the
full model on every rank; its bytes are this rank's shard (what it contributes to the all-gathers)
and the full weights it receives. Ranks share this machine's cores: times are wall times of
processes running side by side, medians of repeats, not a cluster's figures.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any, Dict, List

import torch
import torch.nn as nn


def layer_shapes(blocks: int, hidden: int) -> List[tuple]:
    shapes = []
    for b in range(blocks):
        for name in ("q", "k", "v", "o"):
            shapes.append((f"layers.{b}.attn.{name}", hidden, hidden))
        shapes.append((f"layers.{b}.mlp.gate", 4 * hidden, hidden))
        shapes.append((f"layers.{b}.mlp.up", 4 * hidden, hidden))
        shapes.append((f"layers.{b}.mlp.down", hidden, 4 * hidden))
    return shapes


def build(blocks: int, hidden: int, rank: int, world: int, mesh: Any) -> nn.Module:
    """Each rank's model: its Shard(0) rows of every weight (the same full weights on every rank,
    from one seed per layer)."""
    from torch.distributed.tensor import DTensor, Shard

    model = nn.Module()
    for i, (name, out, inp) in enumerate(layer_shapes(blocks, hidden)):
        g = torch.Generator().manual_seed(i)
        rows = out // world
        local = torch.empty(rows, inp)
        # only this rank's rows are generated (the same values the full tensor holds there)
        full_rows = torch.randn(out, inp, generator=g)[rank * rows:(rank + 1) * rows]
        local.copy_(full_rows)
        del full_rows
        linear = nn.Linear(inp, out, bias=False, device="meta")
        weight = DTensor.from_local(local, mesh, [Shard(0)], run_check=False, shape=torch.Size((out, inp)),
                                    stride=(inp, 1))
        linear.weight = nn.Parameter(weight)
        parent = model
        parts = name.split(".")
        for p in parts[:-1]:
            if not hasattr(parent, p):
                parent.add_module(p, nn.Module())
            parent = getattr(parent, p)
        parent.add_module(parts[-1], linear)
    return model


CONFIGS = {
    "global group": [{"op_types": ["Linear"], "sparse_ratio": 0.5, "global_group_id": 0}],
    "ratio per weight": [{"op_types": ["Linear"], "sparse_ratio": 0.5}],
}


def worker(rank: int, world: int, directory: str, blocks: int, hidden: int, repeats: int) -> None:
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh

    import swiftcompress._distributed as sd
    from swiftcompress.pruning import LevelPruner

    dist.init_process_group("gloo", init_method=f"file://{directory}/rendezvous", rank=rank, world_size=world)
    torch.set_num_threads(1)
    mesh = init_device_mesh("cpu", (world,))
    counted = {"bytes": 0, "rounds": 0}
    real_reducer = sd.reducer

    def counting_reducer(group: Any = None) -> Any:
        reduce = real_reducer(group)

        def wrapped(buffer: memoryview, op: int) -> None:
            counted["bytes"] += buffer.nbytes
            counted["rounds"] += 1
            reduce(buffer, op)
        return wrapped

    sd.reducer = counting_reducer
    out: Dict[str, Any] = {}
    for label, config in CONFIGS.items():
        model = build(blocks, hidden, rank, world, mesh)
        local_bytes = sum(p.to_local().numel() * 4 for p in model.parameters())
        global_bytes = sum(p.numel() * 4 for p in model.parameters())
        times, gather_times = [], []
        for _ in range(repeats):
            pruner = LevelPruner(model, config)
            counted["bytes"] = counted["rounds"] = 0
            dist.barrier()
            t0 = time.perf_counter()
            pruner.compress()
            times.append(time.perf_counter() - t0)
            summary_bytes, rounds = counted["bytes"], counted["rounds"]
            pruner.unwrap_model()
            # baseline: gather every weight, prune the full model on this rank
            dist.barrier()
            t0 = time.perf_counter()
            full = nn.Module()
            for name, module in model.named_modules():
                if isinstance(module, nn.Linear):
                    linear = nn.Linear(module.in_features, module.out_features, bias=False, device="meta")
                    linear.weight = nn.Parameter(module.weight.full_tensor())
                    full.add_module(name.replace(".", "_"), linear)
            LevelPruner(full, config).compress()
            gather_times.append(time.perf_counter() - t0)
            del full
        out[label] = dict(time=statistics.median(times), gather_time=statistics.median(gather_times),
                          bytes=summary_bytes, rounds=rounds, local_bytes=local_bytes, global_bytes=global_bytes)
    torch.save(out, os.path.join(directory, f"rank{rank}.pt"))
    dist.barrier()
    dist.destroy_process_group()


def main() -> None:
    import torch.multiprocessing as mp

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=4)
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--worlds", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    params = sum(o * i for _, o, i in layer_shapes(args.blocks, args.hidden))
    print(f"Llama-shaped: {args.blocks} blocks, hidden {args.hidden}, MLP 4x: {params / 1e6:.1f} M float32 weights "
          f"({params * 4 / 2**20:.0f} MiB), Shard(0), gloo on {os.cpu_count()} CPU cores, torch {torch.__version__}")
    print()
    print("| ranks | config | swiftcompress compress() | bytes to all-reduce per rank (rounds) | gather + prune | "
          "gather: bytes sent / received per rank | weight bytes per rank |")
    print("|---|---|---|---|---|---|---|")
    for world in args.worlds:
        with tempfile.TemporaryDirectory() as directory:
            mp.start_processes(worker, args=(world, directory, args.blocks, args.hidden, args.repeats), nprocs=world,
                               start_method="spawn")
            ranks = [torch.load(os.path.join(directory, f"rank{r}.pt")) for r in range(world)]
        for label in CONFIGS:
            r0 = ranks[0][label]
            slowest = max(r[label]["time"] for r in ranks)
            slowest_gather = max(r[label]["gather_time"] for r in ranks)
            print(f"| {world} | {label} | {slowest * 1e3:.0f} ms | {r0['bytes'] / 1024:.1f} KiB ({r0['rounds']}) | "
                  f"{slowest_gather * 1e3:.0f} ms | {r0['local_bytes'] / 2**20:.0f} MiB / {r0['global_bytes'] / 2**20:.0f} MiB | "
                  f"{r0['local_bytes'] / 2**20:.0f} MiB |")


if __name__ == "__main__":
    main()
