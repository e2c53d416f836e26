"""Writes NNI 3.0's pruning masks for small seeded models to Tests/SwiftCompressTests/Fixtures/pruning/.

Run from the repository root:
    /work/nnienv/bin/python tools/make_pruning_fixtures.py

Each case records the pruner, the config list, every target's settings as NNI resolved them
(`target_space.setting` after the pruner was built) and the mask NNI produced. The weights
(torch.randn with a fixed seed, float32, no ties) are stored once in weights.json.
"""
import json
import os
import sys

import torch
import nni
from nni.compression.pruning import LevelPruner, L1NormPruner, L2NormPruner, FPGMPruner

OUT = os.path.join(os.path.dirname(__file__), '..', 'Tests', 'SwiftCompressTests', 'Fixtures', 'pruning')
COMMAND = '/work/nnienv/bin/python tools/make_pruning_fixtures.py'


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 8, 3)
        self.conv3 = torch.nn.Conv2d(8, 12, 1)
        self.fc1 = torch.nn.Linear(16, 12)
        self.fc2 = torch.nn.Linear(12, 6)

    def forward(self, x):
        x = self.conv3(self.conv2(self.bn1(self.conv1(x))))
        return self.fc2(self.fc1(x.flatten(1)[:, :16]))


def make_model():
    torch.manual_seed(20240603)
    model = Net()
    with torch.no_grad():
        for _, p in model.named_parameters():
            p.copy_(torch.randn_like(p))
    return model


PRUNERS = {'level': LevelPruner, 'l1': L1NormPruner, 'l2': L2NormPruner, 'fpgm': FPGMPruner}
CONVLIN = ['Conv2d', 'Linear']

CASES = [
    ('level_ratio', 'level', [{'op_types': CONVLIN, 'sparse_ratio': 0.7}]),
    ('level_ratio_per_target', 'level', [{'op_names': ['conv1'], 'sparse_ratio': 0.3},
                                         {'op_names': ['fc1', 'conv3'], 'sparse_ratio': 0.8},
                                         {'op_names': ['bn1'], 'sparse_ratio': 0.5}]),
    ('l1_ratio', 'l1', [{'op_types': CONVLIN, 'sparse_ratio': 0.5}]),
    ('l2_ratio', 'l2', [{'op_types': CONVLIN + ['BatchNorm2d'], 'sparse_ratio': 0.3}]),
    ('fpgm_ratio', 'fpgm', [{'op_types': CONVLIN, 'sparse_ratio': 0.5}]),
    ('level_global', 'level', [{'op_types': CONVLIN, 'sparse_ratio': 0.6, 'global_group_id': 'g'}]),
    ('l1_global_equal_rows', 'l1', [{'op_names': ['conv1', 'conv2'], 'sparse_ratio': 0.4, 'global_group_id': 1}]),
    ('l1_global_mixed_rows', 'l1', [{'op_names': ['conv2', 'conv3', 'fc1'], 'sparse_ratio': 0.5, 'global_group_id': 1}]),
    ('level_threshold', 'level', [{'op_types': CONVLIN, 'sparse_threshold': 0.8}]),
    ('level_threshold_min', 'level', [{'op_types': CONVLIN, 'sparse_threshold': 0.05, 'min_sparse_ratio': 0.5}]),
    ('level_threshold_max', 'level', [{'op_types': CONVLIN, 'sparse_threshold': 2.0, 'max_sparse_ratio': 0.6}]),
    ('l1_threshold', 'l1', [{'op_types': CONVLIN, 'sparse_threshold': 5.0}]),
    ('level_min_max', 'level', [{'op_names': ['conv1'], 'sparse_ratio': 0.9, 'max_sparse_ratio': 0.6},
                                {'op_names': ['fc1'], 'sparse_ratio': 0.1, 'min_sparse_ratio': 0.45}]),
    ('l1_dependency', 'l1', [{'op_names': ['conv1', 'conv2'], 'sparse_ratio': 0.5, 'dependency_group_id': 'd'}]),
    ('l2_dependency_blocks', 'l2', [{'op_names': ['conv2'], 'sparse_ratio': 0.5, 'dependency_group_id': 7,
                                     'internal_metric_block': 2},
                                    {'op_names': ['conv1'], 'sparse_ratio': 0.5, 'dependency_group_id': 7,
                                     'internal_metric_block': 4}]),
    ('l1_blocks', 'l1', [{'op_names': ['fc1'], 'sparse_ratio': 0.5, 'granularity': [2, 4]},
                         {'op_names': ['conv2'], 'sparse_ratio': 0.5, 'granularity': [1, 2, -1, -1]}]),
    ('level_blocks', 'level', [{'op_names': ['fc1'], 'sparse_ratio': 0.25, 'granularity': [3, -1]}]),
    ('l2_in_channel', 'l2', [{'op_names': ['fc1', 'conv2'], 'sparse_ratio': 0.5, 'granularity': 'in_channel'}]),
    ('fpgm_in_channel', 'fpgm', [{'op_names': ['conv3', 'fc2'], 'sparse_ratio': 0.5, 'granularity': 'in_channel'}]),
    ('l1_align_bn', 'l1', [{'op_names': ['conv1'], 'sparse_ratio': 0.5},
                           {'op_names': ['bn1'], 'sparse_threshold': -100.0,
                            'target_settings': {'weight': {'align': {'module_name': 'conv1', 'target_name': 'weight', 'dims': [0]}}}}]),
    ('level_align_in_dim', 'level', [{'op_names': ['fc1'], 'sparse_ratio': 0.6},
                                     {'op_names': ['fc2'], 'sparse_threshold': -100.0, 'granularity': 'in_channel',
                                      'target_settings': {'weight': {'align': {'module_name': 'fc1', 'target_name': 'weight', 'dims': [0]}}}}]),
]


def jsonable(v):
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def main():
    os.makedirs(OUT, exist_ok=True)
    model = make_model()
    weights = {}
    for name, p in model.named_parameters():
        weights[name] = {'shape': list(p.shape), 'values': [float(x) for x in p.detach().flatten().tolist()]}
    with open(os.path.join(OUT, 'weights.json'), 'w') as f:
        json.dump({'produced_by': COMMAND, 'note': 'float32 values of Net in the script, torch.manual_seed(20240603)',
                   'parameters': weights}, f, separators=(',', ':'))
    cases = []
    for case_name, pruner_name, config_list in CASES:
        model = make_model()
        try:
            pruner = PRUNERS[pruner_name](model, config_list)
            _, masks = pruner.compress()
        except Exception as e:  # a case NNI rejects is recorded, not silently dropped
            print(f'{case_name}: NNI raised {type(e).__name__}: {e}', file=sys.stderr)
            cases.append({'name': case_name, 'pruner': pruner_name, 'config_list': config_list,
                          'nni_error': f'{type(e).__name__}: {e}'})
            continue
        targets = []
        for module_name, ts in pruner._target_spaces.items():
            for target_name, space in ts.items():
                if space.target is None:
                    continue
                mask = masks[module_name][target_name]
                targets.append({'module': module_name, 'target': target_name, 'shape': list(space.shape),
                                'settings': jsonable(space.setting),
                                'mask': [int(x) for x in mask.flatten().tolist()]})
        cases.append({'name': case_name, 'pruner': pruner_name, 'config_list': config_list, 'targets': targets})
        print(case_name, 'targets:', len(targets))
    with open(os.path.join(OUT, 'cases.json'), 'w') as f:
        json.dump({'produced_by': COMMAND, 'nni': nni.__version__, 'torch': torch.__version__, 'cases': cases}, f,
                  separators=(',', ':'))


if __name__ == '__main__':
    main()
