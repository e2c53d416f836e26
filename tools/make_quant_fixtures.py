"""Writes NNI 3.0's quantization results for a small seeded model to
Tests/SwiftCompressTests/Fixtures/quantization/.

Run from the repository root:
    /work/nnienv/bin/python tools/make_quant_fixtures.py

Everything comes from NNI 3.0's own code paths (torch 2.15, CPU, float32):

- ptq.json: PtqQuantizer on the model below, one config per (quant_dtype, quant_scheme) with
  per-tensor granularity on every target of Conv2d and Linear. The quantizer's track function is
  wrapped to record each tensor it observes (in order); after `compress()` the fixture holds the
  tracked min/max, scale and zero point NNI computed, and the fake-quantized value of the last
  observed tensor through NNI's `ClampRound` (`quant_apply_methods['clamp_round']`) and the
  gradient mask of `QATClampRound` (backward of a sum).
- qat.json: QATQuantizer (EMA observer, decay 0.99) over 3 training steps (SGD with lr 0, so
  weights do not move), same recording; tracked min/max, scale and zero point after the last step.
- scale_cases.json: NNI's `compute_scale_zp` (ptq_quantizer) on chosen tracked ranges (zero
  ranges, one-sided ranges, ties for round-half-even), and `ClampRound` on values that land on
  .5 exactly.
- fold.json: NNI's `fuse_conv_bn` and `fuse_linear_bn`, captured through a PtqQuantizer with
  `fuse_names`: the inputs (weights, biases, batch-norm statistics, eps) and the folded weight and
  bias NNI hands to the quantized forward.

Floats are written with Python's repr of the float32 value (exact when read back as a double and
rounded to float32).
"""
import json
import os
import types

import torch
import nni
from nni.compression.quantization import PtqQuantizer, QATQuantizer
from nni.compression.quantization import ptq_quantizer as ptq_module
from nni.compression.base import wrapper as wrapper_module
from nni.compression.base.apply_method import quant_apply_methods
from nni.compression.utils import TorchEvaluator

OUT = os.path.join(os.path.dirname(__file__), '..', 'Tests', 'SwiftCompressTests', 'Fixtures', 'quantization')
COMMAND = '/work/nnienv/bin/python tools/make_quant_fixtures.py'


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 4, 3)
        self.bn1 = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(36, 5)
        self.bn2 = torch.nn.BatchNorm1d(5)

    def forward(self, x):
        x = self.bn1(self.conv1(x))
        return self.bn2(self.fc(x.flatten(1)))


def make_model():
    torch.manual_seed(20240611)
    model = Net()
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * 0.5)
        for bn in (model.bn1, model.bn2):
            bn.running_mean.copy_(torch.randn_like(bn.running_mean) * 0.3)
            bn.running_var.copy_(torch.rand_like(bn.running_var) + 0.25)
    return model


def batches():
    g = torch.Generator().manual_seed(7)
    return [torch.randn(2, 3, 5, 5, generator=g) * 1.5 + 0.2 for _ in range(4)]


def floats(t):
    return [float(v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def tensor(t):
    return {'shape': list(t.shape), 'values': floats(t)}


def make_evaluator(model, data, train_mode):
    def training_step(batch, model):
        return model(batch).sum()

    def training_func(model, optimizers, training_step, lr_schedulers=None, max_steps=None, max_epochs=None):
        model.train(train_mode)
        for step, batch in enumerate(data[:max_steps]):
            optimizers.zero_grad()
            loss = training_step(batch, model)
            loss.backward()
            optimizers.step()

    def evaluating_func(model):
        model.eval()
        with torch.no_grad():
            model(data[-1])
        return 0.0

    optimizer = nni.trace(torch.optim.SGD)(model.parameters(), lr=0.0)
    return TorchEvaluator(training_func, optimizer, training_step, evaluating_func=evaluating_func)


def recorder(cls):
    """A subclass of `cls` whose track function records every tensor it observes."""
    class Recording(cls):
        def track_min_max_val(self, wrapper, target_name, target):
            if target_name in wrapper.quantization_target_spaces and (cls is PtqQuantizer or wrapper.training):
                self.seen.setdefault((wrapper.name, target_name), []).append(target.detach().clone())
            return super().track_min_max_val(wrapper, target_name, target)
    Recording.seen = None
    return Recording


TARGET_ORDER = ['_input_0', 'weight', 'bias', '_output_0']


def target_results(quantizer, model):
    out = []
    # NNI keeps its target spaces in set order; list them in model order, then TARGET_ORDER.
    for module_name, _ in model.named_modules():
        spaces = quantizer._target_spaces.get(module_name, {})
        for target_name in sorted(spaces, key=TARGET_ORDER.index):
            ts = spaces[target_name]
            seen = quantizer.seen.get((module_name, target_name), [])
            last = seen[-1]
            fake = quant_apply_methods['clamp_round'](last, ts)
            x = last.clone().requires_grad_(True)
            y = quant_apply_methods["qat_clamp_round"](x, ts)
            y.backward(torch.ones_like(y))
            out.append({
                'module': module_name, 'target': target_name,
                'settings': {k: v for k, v in ts.setting.items() if k in ('quant_dtype', 'quant_scheme', 'granularity', 'apply_method')},
                'qmin': ts.qmin, 'qmax': ts.qmax,
                'batches': [tensor(b) for b in seen],
                'tracked_min': floats(ts.tracked_min), 'tracked_max': floats(ts.tracked_max),
                'scale_shape': list(ts.scale.shape),
                'scale': floats(ts.scale), 'zero_point': floats(ts.zero_point),
                'fake_quant': floats(fake), 'grad_mask': floats(x.grad),
            })
    return out


DTYPES_SCHEMES = [(d, s) for d in ('int8', 'uint8', 'int4', 'uint4') for s in ('symmetric', 'affine')]


def config(dtype, scheme):
    return [{'op_types': ['Conv2d', 'Linear'], 'target_names': ['_input_', 'weight', 'bias', '_output_'],
             'quant_dtype': dtype, 'quant_scheme': scheme, 'granularity': 'default'}]


def run_cases(cls, train_mode, steps, kwargs):
    cases = []
    for dtype, scheme in DTYPES_SCHEMES:
        model = make_model()
        data = batches()
        quantizer = recorder(cls)(model, config(dtype, scheme), make_evaluator(model, data, train_mode), **kwargs)
        quantizer.seen = {}
        quantizer.compress(max_steps=steps, max_epochs=None)
        cases.append({'name': f'{dtype}_{scheme}', 'config_list': config(dtype, scheme), 'targets': target_results(quantizer, model)})
    return cases


def scale_cases():
    out = []
    ranges = [(-1.0, 2.0), (0.5, 3.0), (-3.0, -0.25), (0.0, 0.0), (-1e-9, 1e-9), (-0.1, 25.5),
              (-2.5, 2.5), (-1.234567, 0.000123), (-100.0, 0.7), (-0.3, 0.3)]
    for dtype in ('int8', 'uint8', 'int4', 'uint4', 'int2', 'uint16', 'int16'):
        bits = int(dtype.lstrip('uint'))
        qmin, qmax = (-2 ** (bits - 1) + 1, 2 ** (bits - 1) - 1) if dtype.startswith('int') else (0, 2 ** bits - 1)
        for scheme in ('symmetric', 'affine'):
            for lo, hi in ranges:
                ts = types.SimpleNamespace(tracked_min=torch.tensor(lo, dtype=torch.float32),
                                           tracked_max=torch.tensor(hi, dtype=torch.float32),
                                           quant_scheme=scheme, qmin=qmin, qmax=qmax)
                scale, zp = ptq_module.compute_scale_zp(ts)
                out.append({'quant_dtype': dtype, 'quant_scheme': scheme, 'tracked_min': floats(ts.tracked_min)[0],
                            'tracked_max': floats(ts.tracked_max)[0], 'scale': floats(scale)[0], 'zero_point': floats(zp)[0]})
    return out


def tie_cases():
    # Values k/4 with scale 0.5: x / scale lands on .5 for odd k, so round-half-even decides.
    x = torch.arange(-40, 41, dtype=torch.float32) / 4
    out = []
    for qmin, qmax, zp in ((-127, 127, 0.0), (0, 255, 128.0), (-7, 7, 0.0), (0, 15, 3.0)):
        ts = types.SimpleNamespace(_scaler=None, scale=torch.tensor(0.5), zero_point=torch.tensor(zp), qmin=qmin, qmax=qmax)
        y = quant_apply_methods['clamp_round'](x, ts)
        out.append({'qmin': qmin, 'qmax': qmax, 'scale': 0.5, 'zero_point': zp, 'x': floats(x), 'fake_quant': floats(y)})
    return out


def fold_cases():
    captured = []
    original = wrapper_module.fuse_modules

    def capture(wrapper, params_dict, *args, **kwargs):
        before = {k: v.detach().clone() for k, v in params_dict.items()}
        result = original(wrapper, params_dict, *args, **kwargs)
        bn = wrapper.fused_modules[1]
        captured.append({
            'module': wrapper.name, 'layer': 'conv' if isinstance(wrapper.module, torch.nn.Conv2d) else 'linear',
            'weight': tensor(before['weight']), 'bias': tensor(before['bias']),
            'bn_weight': floats(bn.weight), 'bn_bias': floats(bn.bias),
            'running_mean': floats(bn.running_mean), 'running_var': floats(bn.running_var), 'eps': bn.eps,
            'folded_weight': tensor(result[0]['weight']), 'folded_bias': floats(result[0]['bias']),
        })
        return result

    wrapper_module.fuse_modules = capture
    try:
        model = make_model()
        data = batches()
        cfg = [{'op_names': ['conv1', 'fc'], 'target_names': ['_input_', 'weight', 'bias', '_output_'],
                'quant_dtype': 'int8', 'fuse_names': [('conv1', 'bn1'), ('fc', 'bn2')]}]
        quantizer = PtqQuantizer(model, cfg, make_evaluator(model, data, False))
        quantizer.compress(max_steps=1, max_epochs=None)
    finally:
        wrapper_module.fuse_modules = original
    seen = {}
    for c in captured:  # one per module (every forward gives the same values in eval mode)
        seen.setdefault(c['module'], c)
    return list(seen.values())


def main():
    os.makedirs(OUT, exist_ok=True)
    files = {
        'ptq.json': {'command': COMMAND, 'quantizer': 'PtqQuantizer', 'steps': 1, 'cases': run_cases(PtqQuantizer, False, 1, {})},
        'qat.json': {'command': COMMAND, 'quantizer': 'QATQuantizer', 'steps': 3,
                     'cases': run_cases(QATQuantizer, True, 3, {'quant_start_step': 0})},
        'scale_cases.json': {'command': COMMAND, 'function': 'nni.compression.quantization.ptq_quantizer.compute_scale_zp',
                             'cases': scale_cases(), 'ties': tie_cases()},
        'fold.json': {'command': COMMAND, 'function': 'nni.compression.base.fuse_modules.fuse_conv_bn / fuse_linear_bn',
                      'cases': fold_cases()},
    }
    for name, content in files.items():
        with open(os.path.join(OUT, name), 'w') as f:
            json.dump(content, f, separators=(',', ':'))
            f.write('\n')
        print(name, os.path.getsize(os.path.join(OUT, name)), 'bytes')


if __name__ == '__main__':
    main()
