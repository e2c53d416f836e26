"""Times torch's native CPU kernels for the operations swiftcompress-quant-bench measures, on the
same sizes, and prints one JSON object (medians in milliseconds).

    /work/nnienv/bin/python tools/bench_torch_quant.py [--size 100000000] [--channels 1000] [--runs 7]

`swift run -c release --scratch-path .build-quant swiftcompress-quant-bench` runs this script
itself when /work/nnienv/bin/python exists (or $SWIFTCOMPRESS_PYTHON names a Python with torch),
after its own measurements, and prints both side by side.

Cases (float32, torch.randn data, torch's default intra-op threads):
- minmax_tensor: torch.aminmax(x) over all values.
- minmax_channel: torch.aminmax(x.view(C, -1), dim=1).
- fakequant_tensor: torch.fake_quantize_per_tensor_affine(x, scale, 0, -127, 127) (a new output tensor).
- fakequant_channel: torch.fake_quantize_per_channel_affine(x.view(C, -1), scales, zero_points, 0, -127, 127).
"""
import argparse
import json
import statistics
import time

import torch


def median_ms(fn, runs):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--size', type=int, default=100_000_000)
    p.add_argument('--channels', type=int, default=1000)
    p.add_argument('--runs', type=int, default=7)
    a = p.parse_args()
    torch.manual_seed(0)
    x = torch.randn(a.size)
    xc = x.view(a.channels, -1)
    lo, hi = torch.aminmax(x)
    scale = float(torch.max(lo.abs(), hi.abs())) / 127.0
    clo, chi = torch.aminmax(xc, dim=1)
    scales = torch.max(clo.abs(), chi.abs()) / 127.0
    zps = torch.zeros(a.channels, dtype=torch.int32)
    cases = {
        'minmax_tensor': median_ms(lambda: torch.aminmax(x), a.runs),
        'minmax_channel': median_ms(lambda: torch.aminmax(xc, dim=1), a.runs),
        'fakequant_tensor': median_ms(lambda: torch.fake_quantize_per_tensor_affine(x, scale, 0, -127, 127), a.runs),
        'fakequant_channel': median_ms(lambda: torch.fake_quantize_per_channel_affine(xc, scales, zps, 0, -127, 127), a.runs),
    }
    print(json.dumps({'torch': torch.__version__, 'threads': torch.get_num_threads(),
                      'cpu_capability': torch.backends.cpu.get_cpu_capability(),
                      'size': a.size, 'channels': a.channels, 'runs': a.runs, 'cases': cases}))


if __name__ == '__main__':
    main()
