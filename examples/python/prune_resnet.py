"""Prune a torchvision model with swiftcompress's NNI-compatible API and print the result per layer.

    python examples/python/prune_resnet.py [--model resnet50] [--pruner L1NormPruner] [--ratio 0.5]
                                           [--config my_config.json]

What it does, as a PyTorch user would:
1. builds a torchvision model (random weights: nothing is downloaded);
2. prints what the config list will do (`swiftcompress.explain`);
3. prunes it: `Pruner(model, config_list).compress()` returns the model, wrapped so that forward
   applies the masks, and the masks `{module_name: {target_name: tensor}}`;
4. prints per layer the weight shape, the kept output channels and the sparsity, the time taken, and
   checks that a forward pass while wrapped equals one with the masked weights;
5. unwraps the model (its weights were never modified).

The config list is the same one NNI 3.0 takes (`from nni.compression.pruning import L1NormPruner`
works the same with this list).
"""
from __future__ import annotations

import argparse
import copy
import json
import time

import torch
import torchvision

import swiftcompress
from swiftcompress import pruning


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet50", help="a torchvision.models constructor (resnet50, mobilenet_v2, ...)")
    parser.add_argument("--pruner", default="L1NormPruner",
                        choices=["LevelPruner", "L1NormPruner", "L2NormPruner", "FPGMPruner"])
    parser.add_argument("--ratio", type=float, default=0.5, help="sparse_ratio of every Conv2d and Linear")
    parser.add_argument("--config", help="a JSON file with a config list (instead of --ratio)")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = getattr(torchvision.models, args.model)(weights=None).eval()
    if args.config:
        with open(args.config) as f:
            config_list = json.load(f)
    else:
        # Prune the convolutions and the classifier; keep the first convolution (the stem) whole.
        stem = next(name for name, module in model.named_modules() if isinstance(module, torch.nn.Conv2d))
        config_list = [{"op_types": ["Conv2d", "Linear"], "exclude_op_names": [stem], "sparse_ratio": args.ratio}]
    print(f"{args.model}, {args.pruner}, config_list = {json.dumps(config_list)}\n")

    report = swiftcompress.explain(model, config_list)
    print(f"{len(report.targets)} modules selected, {len(report.warnings)} warning(s)")
    for warning in report.warnings:
        print("  warning:", warning)

    start = time.perf_counter()
    pruner = getattr(pruning, args.pruner)(model, config_list)
    model, masks = pruner.compress()
    elapsed = time.perf_counter() - start

    modules = dict(model.named_modules())
    print(f"\n{'module':28s} {'weight shape':>20s} {'kept rows':>12s} {'sparsity':>9s}")
    pruned = total = 0
    for name, targets in masks.items():
        mask = targets.get("weight")
        if mask is None:
            continue
        weight = modules[name].weight
        kept_rows = int(mask.flatten(1).any(dim=1).sum()) if mask.dim() > 1 else int(mask.sum())
        zeros = int((mask == 0).sum())
        pruned += zeros
        total += mask.numel()
        print(f"{name:28s} {str(tuple(weight.shape)):>20s} {f'{kept_rows}/{weight.shape[0]}':>12s} "
              f"{zeros / mask.numel():9.1%}")
    print(f"\n{len(masks)} modules, {total:,} weights, {pruned:,} pruned ({pruned / max(total, 1):.1%}); "
          f"Pruner(model, config_list).compress() took {elapsed * 1000:.1f} ms")

    # While wrapped, forward uses weight * mask; check it against a copy with the masks applied.
    x = torch.randn(1, 3, 224, 224)
    pruner.unwrap_model()
    masked = copy.deepcopy(model)
    with torch.no_grad():
        masked_modules = dict(masked.named_modules())
        for name, targets in masks.items():
            for target, mask in targets.items():
                if mask is not None:
                    getattr(masked_modules[name], target).mul_(mask)
        pruner.wrap_model()
        same = torch.allclose(model(x), masked(x), rtol=1e-5, atol=1e-6)
    pruner.unwrap_model()
    print(f"forward while wrapped equals forward with the masked weights: {same}")


if __name__ == "__main__":
    main()
