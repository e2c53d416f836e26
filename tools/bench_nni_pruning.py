"""Times NNI 3.0's mask generation on torchvision ResNet-50, for swiftcompress-bench to compare against.

Run from the repository root (swiftcompress-bench runs it itself, see docs/pruning.md):
    /work/nnienv/bin/python tools/bench_nni_pruning.py [--runs N] [--fpgm-runs N] [--cases level,global,l1,fpgm]

The model is torchvision's resnet50 with its default random initialisation (torch.manual_seed(0), no
download); the targets are the weights of every Conv2d, Linear and BatchNorm2d (107 weights, 25,529,472
float32 values: the shapes of examples/models/resnet50.json). Each case builds its pruner once, then
times `pruner.generate_masks()` (NNI's metric computation and sparsity rules, what
`Pruning.generateMasks` does) and reports the median of the runs.

Prints one JSON object per line: {"case": ..., "median_s": ..., "runs": [...], "sparsity": ...},
then {"torch": ..., "nni": ..., "threads": ...}.
"""
import argparse
import json
import time

import torch
import torchvision
import nni
from nni.compression.pruning import LevelPruner, L1NormPruner, FPGMPruner

OPS = ['Conv2d', 'Linear', 'BatchNorm2d']

CASES = {
    'level': ('level 0.8 per target', LevelPruner,
              [{'op_types': OPS, 'target_names': ['weight'], 'sparse_ratio': 0.8}]),
    'global': ('level 0.8 global group', LevelPruner,
               [{'op_types': OPS, 'target_names': ['weight'], 'sparse_ratio': 0.8, 'global_group_id': 'all'}]),
    'l1': ('L1 out_channel 0.5', L1NormPruner,
           [{'op_types': OPS, 'target_names': ['weight'], 'sparse_ratio': 0.5, 'granularity': 'out_channel'}]),
    'fpgm': ('FPGM out_channel 0.5', FPGMPruner,
             [{'op_types': OPS, 'target_names': ['weight'], 'sparse_ratio': 0.5, 'granularity': 'out_channel'}]),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runs', type=int, default=5, help='timed runs of level, global and L1')
    ap.add_argument('--fpgm-runs', type=int, default=3, help='timed runs of FPGM')
    ap.add_argument('--cases', default='level,global,l1,fpgm')
    args = ap.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    model.eval()
    for key in args.cases.split(','):
        name, pruner_cls, config_list = CASES[key]
        pruner = pruner_cls(model, config_list)
        runs = args.fpgm_runs if key == 'fpgm' else args.runs
        times = []
        masks = None
        with torch.no_grad():
            for _ in range(max(1, runs)):
                t0 = time.perf_counter()
                masks = pruner.generate_masks()
                times.append(time.perf_counter() - t0)
        pruned = total = 0
        for ts in masks.values():
            for m in ts.values():
                total += m.numel()
                pruned += int((m == 0).sum())
        pruner.unwrap_model()
        times.sort()
        print(json.dumps({'case': name, 'median_s': times[len(times) // 2], 'runs': times,
                          'targets': sum(len(ts) for ts in masks.values()), 'elements': total,
                          'sparsity': pruned / max(total, 1)}), flush=True)
    print(json.dumps({'torch': torch.__version__, 'nni': nni.__version__, 'threads': torch.get_num_threads()}), flush=True)


if __name__ == '__main__':
    main()
