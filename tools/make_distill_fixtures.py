"""Writes distillation loss fixtures to Tests/SwiftCompressTests/Fixtures/distillation/.

Run from the repository root:
    /work/nnienv/bin/python tools/make_distill_fixtures.py

losses.json: one case per (method, shape, dtype). Inputs are seeded torch.randn values rounded to
the case's dtype (stored as the exact values of that dtype). `loss` and `gradient` are the spec's
formulation evaluated by torch in float64 on those values, the gradient (d loss / d student) by
autograd:
    mse: F.mse_loss(s, t)
    kl:  F.kl_div((s / 2).log_softmax(dim=-1), (t / 2).softmax(dim=-1), reduction='batchmean') * (2 ** 2)
`loss_native` (float32 / float64 cases only) is the same formulation evaluated by torch in the
case's own dtype.

nni_total.json: NNI 3.0's DynamicLayerwiseDistiller on a small student/teacher pair: the config
list, the student's module list, each target's settings as NNI resolved them, the student and
teacher hidden states, NNI's `compute_distill_loss()` and the gradient of that loss with respect
to each student hidden state (autograd, each hidden state a leaf: the partial derivative).
"""
import json
import math
import os
import zlib

import torch
import torch.nn.functional as F
import nni
from nni.compression.distillation import DynamicLayerwiseDistiller
from nni.compression.utils import TorchEvaluator

OUT = os.path.join(os.path.dirname(__file__), '..', 'Tests', 'SwiftCompressTests', 'Fixtures', 'distillation')
COMMAND = '/work/nnienv/bin/python tools/make_distill_fixtures.py'
DTYPES = {'float32': torch.float32, 'float64': torch.float64, 'float16': torch.float16, 'bfloat16': torch.bfloat16}


def formulation(method, s, t):
    if method == 'mse':
        return F.mse_loss(s, t)
    return F.kl_div((s / 2).log_softmax(dim=-1), (t / 2).softmax(dim=-1), reduction='batchmean') * (2 ** 2)


def values(x):
    return [float(v) for v in x.double().flatten().tolist()]


def loss_case(name, method, shape, dtype, scale=1.0, note='', teacher_mask=None):
    gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
    s = (torch.randn(shape, generator=gen) * scale).to(DTYPES[dtype])
    t = (torch.randn(shape, generator=gen) * scale).to(DTYPES[dtype])
    if teacher_mask is not None:
        # Masked teacher logits: their softmax probability underflows to exactly 0.
        flat = t.view(-1)
        for i in teacher_mask:
            flat[i] = teacher_mask[i]
    s64 = s.double().requires_grad_(True)
    t64 = t.double()
    loss = formulation(method, s64, t64)
    loss.backward()
    case = {
        'name': name, 'method': method, 'dtype': dtype, 'shape': list(shape), 'note': note,
        'student': values(s), 'teacher': values(t),
        'loss': float(loss.item()), 'gradient': values(s64.grad),
    }
    if dtype in ('float32', 'float64'):
        case['loss_native'] = float(formulation(method, s, t).item())
    assert math.isfinite(case['loss'])
    return case


def loss_cases():
    cases = []
    for method in ('mse', 'kl'):
        for shape in ([], [7], [4, 5], [2, 3, 4], [2, 2, 3, 5]):
            label = 'x'.join(map(str, shape)) or 'scalar'
            cases.append(loss_case(f'{method}_{label}_float32', method, shape, 'float32'))
        for dtype in ('float64', 'float16', 'bfloat16'):
            cases.append(loss_case(f'{method}_2x3x4_{dtype}', method, [2, 3, 4], dtype))
        cases.append(loss_case(f'{method}_3x300_float32', method, [3, 300], 'float32',
                               note='rows of 300 elements'))
    for dtype in ('float32', 'float16', 'bfloat16', 'float64'):
        cases.append(loss_case(f'kl_large_logits_{dtype}', 'kl', [3, 8], dtype, scale=1e4,
                               note='logits of magnitude 1e4: the softmaxes must be shifted'))
    cases.append(loss_case('kl_masked_teacher_float32', 'kl', [2, 6], 'float32',
                           teacher_mask={1: -1e30, 7: -1e30, 8: -1e30},
                           note='teacher logits -1e30: probability 0, term 0 (xlogy)'))
    return cases


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(8, 16)
        self.act = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(16, 16)
        self.fc3 = torch.nn.Linear(16, 16)
        self.head = torch.nn.Linear(16, 10)

    def forward(self, x):
        return self.head(self.fc3(self.act(self.fc2(self.act(self.fc1(x))))))


def nni_total():
    torch.manual_seed(7)
    student, teacher = Net(), Net()
    teacher_modules = [n for n, _ in teacher.named_modules(remove_duplicate=False)]
    config_list = [
        {'op_names': ['fc1'], 'lambda': 0.5, 'apply_method': 'mse'},
        {'op_names': ['fc2'], 'lambda': 2.0, 'link': ['fc1', 'fc3', 'fc2'], 'apply_method': 'mse'},
        {'op_names': ['fc3'], 'lambda': -0.5, 'link': ['fc2', 'fc3']},
        {'op_names': ['head'], 'lambda': 1.5, 'link': 'head', 'apply_method': 'kl'},
    ]

    def training(model, optimizer, training_step, lr_scheduler, max_steps, max_epochs):
        pass

    def training_step(batch, model):
        return model(batch).sum()

    evaluator = TorchEvaluator(training, nni.trace(torch.optim.SGD)(student.parameters(), lr=0.1), training_step)
    distiller = DynamicLayerwiseDistiller(student, config_list, evaluator, teacher, lambda batch, model: model(batch))
    x = torch.randn(4, 3, 8)
    with torch.no_grad():
        teacher(x)
    student(x)
    targets = []
    hidden = []
    for module_name, ts in distiller._target_spaces.items():
        for target_name, space in ts.items():
            # A leaf copy, so that autograd gives each target's own partial derivative (the
            # engine's gradient) rather than one that also flows through later targets.
            hs = space.hidden_state.detach().clone().requires_grad_(True)
            space.hidden_state = hs
            hidden.append(hs)
            teachers = [values(distiller._teacher_target_spaces[link][target_name].hidden_state) for link in space.link]
            targets.append({
                'module': module_name, 'target': target_name, 'shape': list(hs.shape),
                'lambda': space.lambda_, 'link': list(space.link), 'apply_method': space.apply_method,
                'student': values(hs.detach()), 'teachers': teachers,
            })
    total = distiller.compute_distill_loss()
    total.backward()
    for t, hs in zip(targets, hidden):
        t['gradient'] = values(hs.grad)
    distiller.unwrap_model()
    modules = [{'name': n, 'type': type(m).__name__} for n, m in student.named_modules(remove_duplicate=False)]
    return {
        'produced_by': COMMAND, 'nni': nni.__version__, 'torch': torch.__version__,
        'config_list': config_list, 'modules': modules, 'teacher_modules': teacher_modules,
        'targets': targets, 'total': float(total.item()),
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, 'losses.json'), 'w') as f:
        json.dump({'produced_by': COMMAND, 'torch': torch.__version__, 'cases': loss_cases()}, f)
    with open(os.path.join(OUT, 'nni_total.json'), 'w') as f:
        json.dump(nni_total(), f)


if __name__ == '__main__':
    main()
