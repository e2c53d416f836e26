"""Post-training quantization of a small PyTorch MLP with swiftcompress's NNI-compatible PtqQuantizer.

    python examples/python/quantize_mlp.py [--dtype int8] [--scheme affine] [--granularity default]

What it does, as a PyTorch user would (a few seconds on a laptop CPU):
1. trains a 3-layer MLP on a synthetic 4-class problem (fixed seeds: the same numbers every run);
2. quantizes it: `PtqQuantizer(model, config_list)`, `calibrate(batches)` on 8 training batches,
   `compress()`, which returns the model (its forward now fake-quantized: weights, and the inputs
   and outputs of every Linear) and NNI 3.0's calibration config
   `{module: {target: {'scale', 'zero_point', 'quant_dtype', 'quant_scheme', 'quant_bits',
   'tracked_max', 'tracked_min'}}}`;
3. prints the calibration config per target, then the test accuracy and the largest logit
   difference of the quantized model against the float model;
4. unwraps the model (its parameters were never modified) and checks it is the float model again.

The config list is the one NNI 3.0 takes (`from nni.compression.quantization import PtqQuantizer`).
"""
from __future__ import annotations

import argparse
import copy
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from swiftcompress.quantization import PtqQuantizer


def make_data(n: int, centers: torch.Tensor, generator: torch.Generator):
    labels = torch.randint(0, 4, (n,), generator=generator)
    x = centers[labels] + torch.randn(n, 16, generator=generator) * 1.5
    return x, labels


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="int8", help="quant_dtype: intN or uintN, N from 2 to 16")
    parser.add_argument("--scheme", default="affine", choices=["affine", "symmetric"])
    parser.add_argument("--granularity", default="default", choices=["default", "per_channel"],
                        help="per_channel applies to the weights (one scale per output row)")
    args = parser.parse_args()

    torch.set_num_threads(1)  # a model this small gains nothing from threads (and is not slowed by their spinning)
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    centers = torch.randn(4, 16, generator=g)
    x_train, y_train = make_data(2048, centers, g)
    x_test, y_test = make_data(1024, centers, g)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for step in range(150):
        batch = slice((step * 128) % 2048, (step * 128) % 2048 + 128)
        loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    reference = copy.deepcopy(model)

    config_list = [{"op_types": ["Linear"], "target_names": ["_input_", "weight", "_output_"],
                    "quant_dtype": args.dtype, "quant_scheme": args.scheme,
                    "target_settings": {"weight": {"granularity": args.granularity}}}]
    start = time.perf_counter()
    quantizer = PtqQuantizer(model, config_list)
    quantizer.calibrate([x_train[i * 128:(i + 1) * 128] for i in range(8)])
    model, calibration_config = quantizer.compress()
    elapsed = time.perf_counter() - start

    print(f"calibration config ({args.dtype}, {args.scheme}, weights {args.granularity}):")
    for module_name, targets in calibration_config.items():
        for target_name, entry in targets.items():
            scale, zero_point = entry["scale"], entry["zero_point"]
            if scale.numel() == 1:
                numbers = (f"scale {scale.item():.6g}  zero_point {zero_point.item():g}  "
                           f"range [{entry['tracked_min'].item():.4g}, {entry['tracked_max'].item():.4g}]")
            else:
                numbers = (f"{scale.numel()} scales {scale.min().item():.4g}..{scale.max().item():.4g}, "
                           f"scale shape {tuple(scale.shape)}")
            print(f"  {module_name:>2}.{target_name:<10} {entry['quant_dtype']:<6} {entry['quant_bits']:>2} bits  {numbers}")

    with torch.no_grad():
        difference = (model(x_test) - reference(x_test)).abs().max().item()
    print(f"calibrate + compress: {elapsed * 1000:.1f} ms")
    print(f"test accuracy: float {accuracy(reference, x_test, y_test):.4f}, "
          f"quantized {accuracy(model, x_test, y_test):.4f}; largest logit difference {difference:.4g}")

    quantizer.unwrap_model()
    with torch.no_grad():
        assert torch.equal(model(x_test), reference(x_test)), "unwrap_model() restores the float model"
    print("unwrapped: the float model again")


if __name__ == "__main__":
    main()
