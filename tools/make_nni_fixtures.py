"""Generate swiftcompress's NNI 3.0 reference fixtures.

Run from the repository root:

    /work/nnienv/bin/python tools/make_nni_fixtures.py

Writes
  examples/models/{resnet50,mobilenet_v2,transformer_encoder}.json   module lists (engine input)
  examples/models/README.md
  Tests/SwiftCompressTests/Fixtures/nni/<case>.json                    what NNI 3.0 does with a config list
  Tests/SwiftCompressTests/Fixtures/nni/README.md

The script only *calls* NNI (trans_legacy_config_list, default_config_schema,
select_modules_by_config, register_wrappers); no NNI code is copied.
Output is deterministic: the script re-executes itself with PYTHONHASHSEED=0 because NNI
iterates over sets of module names (and the first failing module names the error).
"""
import os
import sys

if os.environ.get('PYTHONHASHSEED') != '0':
    os.environ['PYTHONHASHSEED'] = '0'
    os.execv(sys.executable, [sys.executable] + sys.argv)

import copy
import inspect
import json
import logging
import shlex
import warnings
from pathlib import Path

warnings.filterwarnings('ignore')
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torchvision  # noqa: E402
import nni  # noqa: E402
from nni.compression.base.config import (  # noqa: E402
    default_config_schema, select_modules_by_config, trans_legacy_config_list)
from nni.compression.base.wrapper import register_wrappers  # noqa: E402

logging.disable(logging.CRITICAL)  # NNI warns 'have already configured' for repeated targets

ROOT = Path(__file__).resolve().parent.parent
MODELS_DIR = ROOT / 'examples' / 'models'
FIXTURES_DIR = ROOT / 'Tests' / 'SwiftCompressTests' / 'Fixtures' / 'nni'
COMMAND = shlex.join([sys.executable] + sys.argv)
VERSIONS = f'torch {torch.__version__}, torchvision {torchvision.__version__}, nni {nni.__version__}'
PRODUCED_BY = f'{COMMAND} ({VERSIONS})'


# ----------------------------------------------------------------------------- models

class TextClassifier(nn.Module):
    """Small text classifier: token ids -> embedding -> 4-layer encoder -> mean pool -> logits."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(1000, 256)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(d_model=256, nhead=8, dim_feedforward=1024, batch_first=True),
            num_layers=4)
        self.head = nn.Linear(256, 10)

    def forward(self, tokens):
        x = self.embed(tokens)
        x = self.encoder(x)
        return self.head(x.mean(dim=1))


MODELS = {
    'resnet50': lambda: torchvision.models.resnet50(weights=None),
    'mobilenet_v2': lambda: torchvision.models.mobilenet_v2(weights=None),
    'transformer_encoder': TextClassifier,
}


def make_model(name):
    torch.manual_seed(0)
    return MODELS[name]().eval()


def module_entry(name, module):
    args = inspect.getfullargspec(module.forward).args
    if args and args[0] == 'self':
        args = args[1:]
    own = dict(module.named_parameters(recurse=False))
    own.update(module.named_buffers(recurse=False))
    params = {}
    for key in ('weight', 'bias'):
        if own.get(key) is not None:
            params[key] = list(own[key].shape)
        elif hasattr(module, key) and getattr(module, key) is None:
            params[key] = None
    entry = {'name': name, 'type': type(module).__name__, 'forward_args': args, 'parameters': params}
    other = {k: list(v.shape) for k, v in module.named_parameters(recurse=False) if k not in ('weight', 'bias')}
    if other:
        entry['other_parameters'] = other
    return entry


def module_list(model_name):
    model = make_model(model_name)
    return {'model': model_name, 'produced_by': PRODUCED_BY,
            'modules': [module_entry(n, m) for n, m in model.named_modules(remove_duplicate=False)]}


# ----------------------------------------------------------------------------- cases
# (name, model, mode, description, config_list)
P, Q, D = 'pruning', 'quantization', 'distillation'
CASES = [
    # --- pruning, v3 format
    ('resnet50_prune_op_types', 'resnet50', P, 'op_types alone selects every Conv2d and Linear; shorthand sparse_ratio reaches weight only',
     [{'op_types': ['Conv2d', 'Linear'], 'sparse_ratio': 0.5}]),
    ('resnet50_prune_op_names', 'resnet50', P, 'op_names alone (exact names, any type with a template)',
     [{'op_names': ['conv1', 'bn1', 'layer1.0.conv1', 'fc'], 'sparse_ratio': 0.5}]),
    ('resnet50_prune_types_and_names', 'resnet50', P, 'op_types and op_names together: the intersection (BatchNorm2d names dropped)',
     [{'op_names': ['conv1', 'bn1', 'layer1.0.conv1', 'layer1.0.bn1'], 'op_types': ['Conv2d'], 'sparse_ratio': 0.3}]),
    ('resnet50_prune_re_prefix', 'resnet50', P, "op_names_re 'layer1' matches every name starting with layer1 (re.match), narrowed by op_types",
     [{'op_names_re': ['layer1'], 'op_types': ['Conv2d', 'BatchNorm2d'], 'sparse_ratio': 0.5}]),
    ('resnet50_prune_re_anchor_start', 'resnet50', P, "op_names_re 'conv1' matches only 'conv1': re.match anchors at the start, so layerX.Y.conv1 is not selected",
     [{'op_names_re': ['conv1'], 'sparse_ratio': 0.5}]),
    ('resnet50_prune_re_dotstar', 'resnet50', P, "op_names_re '.*conv2' matches every layerX.Y.conv2",
     [{'op_names_re': ['.*conv2'], 'sparse_ratio': 0.5}]),
    ('resnet50_prune_re_alternation', 'resnet50', P, 'alternation inside a group',
     [{'op_names_re': ['layer1\\.0\\.(conv1|conv2)'], 'sparse_ratio': 0.5}]),
    ('resnet50_prune_re_charclass', 'resnet50', P, 'character classes and + repetition',
     [{'op_names_re': ['layer[12]\\.[0-9]+\\.conv[13]'], 'sparse_ratio': 0.5}]),
    ('resnet50_prune_re_dollar', 'resnet50', P, "'$' anchors the end: 'layer1\\.0\\.downsample\\.[01]$' skips the Sequential 'layer1.0.downsample'",
     [{'op_names_re': ['layer1\\.0\\.downsample\\.[01]$', 'layer4\\.2\\.conv3$', 'fc$'], 'sparse_ratio': 0.5}]),
    ('resnet50_prune_exclude', 'resnet50', P, 'exclude_op_names and exclude_op_names_re remove modules from an op_types selection',
     [{'op_types': ['Conv2d'], 'exclude_op_names': ['conv1'], 'exclude_op_names_re': ['layer[234]\\.', '.*downsample'], 'sparse_ratio': 0.5}]),
    ('resnet50_prune_exclude_types', 'resnet50', P, 'exclude_op_types removes ReLU/Sequential/Bottleneck from a regex selection',
     [{'op_names_re': ['layer1\\.0'], 'exclude_op_types': ['ReLU', 'Sequential', 'Bottleneck'], 'sparse_ratio': 0.5}]),
    ('resnet50_prune_shorthand', 'resnet50', P, 'all pruning shorthand keys; apply_method add reaches weight and bias, the others weight only',
     [{'op_names': ['layer1.0.conv1', 'fc'], 'sparse_ratio': 0.6, 'granularity': 'out_channel', 'max_sparse_ratio': 0.9,
       'min_sparse_ratio': 0.1, 'global_group_id': 'g1', 'dependency_group_id': 3, 'internal_metric_block': 2, 'apply_method': 'add'}]),
    ('resnet50_prune_threshold', 'resnet50', P, 'sparse_threshold shorthand with max_sparse_ratio',
     [{'op_types': ['Linear'], 'sparse_threshold': 0.01, 'max_sparse_ratio': 0.8}]),
    ('resnet50_prune_int_ratio', 'resnet50', P, 'sparse_ratio given as int 1: schema rejects it (float), register_wrappers accepts it',
     [{'op_names': ['fc'], 'sparse_ratio': 1}]),
    ('resnet50_prune_align_shorthand', 'resnet50', P, 'align as a shorthand key reaches only the bias target (weight has no align key)',
     [{'op_names': ['fc', 'layer4.2.conv3'], 'sparse_ratio': 0.5, 'align': {'module_name': 'layer4.2.conv3', 'target_name': 'weight', 'dims': [0]}}]),
    ('resnet50_prune_target_names_weight', 'resnet50', P, "target_names ['weight'] drops the bias target",
     [{'op_types': ['Linear'], 'op_names_re': ['fc'], 'target_names': ['weight'], 'sparse_ratio': 0.5}]),
    ('resnet50_prune_target_settings', 'resnet50', P, "target_settings overrides weight keys and adds a new '_output_' target (becomes '_output_0') to every selected module; NNI's schema wrongly rejects sparse_ratio both as shorthand and in target_settings (shared Or(only_one) counter)",
     [{'op_names': ['fc', 'layer4.2.conv3'], 'sparse_ratio': 0.5,
       'target_settings': {'weight': {'sparse_ratio': 0.7, 'granularity': 'in_channel'},
                           '_output_': {'sparse_ratio': 0.25, 'apply_method': 'add', 'granularity': 'per_channel'}}}]),
    ('resnet50_prune_two_configs_same_module', 'resnet50', P, "fc reached by two configs: weight/bias keep the first config's settings; the new '_output_0' target of the second config is still added (schema rejects config 2: shared Or(only_one) counter)",
     [{'op_names': ['fc'], 'sparse_ratio': 0.5},
      {'op_names': ['fc', 'layer4.2.conv3'], 'sparse_ratio': 0.8, 'target_settings': {'_output_': {'sparse_ratio': 0.1, 'apply_method': 'add'}}}]),
    ('resnet50_prune_batchnorm', 'resnet50', P, 'BatchNorm2d has the default pruning template (weight + bias)',
     [{'op_types': ['BatchNorm2d'], 'op_names_re': ['layer2\\.0\\.'], 'sparse_ratio': 0.4}]),
    ('resnet50_prune_block_out_channel', 'resnet50', P, 'block granularity [1, -1, -1, -1] (same as out_channel)',
     [{'op_names_re': ['layer3\\.0\\.'], 'op_types': ['Conv2d'], 'granularity': [1, -1, -1, -1], 'sparse_ratio': 0.5}]),
    ('mobilenet_v2_prune_re_escaped', 'mobilenet_v2', P, "escaped dot: 'features\\.1\\.' matches only block features.1 (narrowed to Conv2d)",
     [{'op_names_re': ['features\\.1\\.'], 'op_types': ['Conv2d'], 'sparse_ratio': 0.5}]),
    ('mobilenet_v2_prune_re_unescaped', 'mobilenet_v2', P, "unescaped dot: 'features.1.' also matches features.10. ... features.18. (narrowed to Conv2d)",
     [{'op_names_re': ['features.1.'], 'op_types': ['Conv2d'], 'sparse_ratio': 0.5}]),
    ('mobilenet_v2_prune_output_target', 'mobilenet_v2', P, "target_names ['weight', '_output_'] with a target_settings entry for '_output_' (apply_method add, per_channel); schema rejects it (shared Or(only_one) counter)",
     [{'op_names': ['classifier.1', 'features.18.0'], 'target_names': ['weight', '_output_'], 'sparse_ratio': 0.5,
       'target_settings': {'_output_': {'sparse_ratio': 0.3, 'apply_method': 'add', 'granularity': 'per_channel'}}}]),
    ('mobilenet_v2_prune_missing_output_setting', 'mobilenet_v2', P, "target_names ['_output_'] without a target_settings entry: pruning templates have no '_output_' (NNI raises KeyError)",
     [{'op_names': ['classifier.1'], 'target_names': ['_output_'], 'sparse_ratio': 0.5}]),
    ('transformer_encoder_prune_embedding', 'transformer_encoder', P, 'Embedding has a weight-only pruning template (no bias)',
     [{'op_types': ['Embedding'], 'sparse_ratio': 0.5, 'granularity': 'in_channel'}]),
    ('transformer_encoder_prune_embedding_bias', 'transformer_encoder', P, "target_names ['weight', 'bias'] on Embedding: no bias in its template (NNI raises KeyError)",
     [{'op_names': ['embed'], 'target_names': ['weight', 'bias'], 'sparse_ratio': 0.5}]),
    ('transformer_encoder_prune_linear', 'transformer_encoder', P, "op_types ['Linear'] does not select self_attn.out_proj (its type is NonDynamicallyQuantizableLinear)",
     [{'op_types': ['Linear'], 'sparse_ratio': 0.5}]),
    ('transformer_encoder_prune_block_4x4', 'transformer_encoder', P, 'block granularity [4, 4] on the feed-forward Linears',
     [{'op_names_re': ['encoder\\.layers\\.[0-9]+\\.linear[12]'], 'sparse_ratio': 0.5, 'granularity': [4, 4]}]),
    # --- quantization, v3 format
    ('resnet50_quant_conv_linear', 'resnet50', Q, 'op_types Conv2d+Linear, int8 affine: all four template targets (conv bias is None but still a target)',
     [{'op_types': ['Conv2d', 'Linear'], 'quant_dtype': 'int8', 'quant_scheme': 'affine'}]),
    ('resnet50_quant_target_names', 'resnet50', Q, "target_names ['_input_', 'weight', '_output_'] -> _input_0, weight, _output_0 (note the order)",
     [{'op_names': ['conv1', 'fc'], 'target_names': ['_input_', 'weight', '_output_'], 'quant_dtype': 'int8'}]),
    ('resnet50_quant_activations', 'resnet50', Q, 'ReLU (activation template: _input_/_output_) and BatchNorm2d (default template)',
     [{'op_names': ['relu', 'bn1', 'layer1.0.relu', 'layer1.0.bn1'], 'quant_dtype': 'uint8'}]),
    ('resnet50_quant_input_by_name', 'resnet50', Q, "target '_input_input' (Conv2d.forward's argument is named 'input') uses the '_input_' template",
     [{'op_names': ['conv1'], 'target_names': ['_input_input', 'weight'], 'quant_dtype': 'int8'}]),
    ('resnet50_quant_output_0', 'resnet50', Q, "target '_output_0' takes target_settings['_output_'] when no '_output_0' entry is given",
     [{'op_names': ['fc'], 'target_names': ['_output_0'], 'quant_dtype': 'int8', 'target_settings': {'_output_': {'quant_dtype': 'int4'}}}]),
    ('resnet50_quant_fuse_names', 'resnet50', Q, "fuse_names [['conv1', 'bn1']] as JSON gives it (lists, not tuples): NNI's validate_fused_modules_config wants List[Tuple[str]] and raises ValueError",
     [{'op_names': ['conv1'], 'target_names': ['_input_', 'weight', '_output_'], 'quant_dtype': 'int8', 'fuse_names': [['conv1', 'bn1']]}]),
    ('resnet50_quant_missing_dtype', 'resnet50', Q, 'no quant_dtype: the schema requires it, register_wrappers accepts it (quant_dtype stays null)',
     [{'op_types': ['Linear'], 'quant_scheme': 'symmetric'}]),
    ('mobilenet_v2_quant_relu6_bn', 'mobilenet_v2', Q, "ReLU6 and BatchNorm2d in block features.1; the '_input_' setting goes per_channel through target_settings (NNI's schema wants quant_dtype in every target_settings entry and rejects it)",
     [{'op_types': ['ReLU6', 'BatchNorm2d'], 'op_names_re': ['features\\.1\\.'], 'quant_dtype': 'int8',
       'target_settings': {'_input_': {'granularity': 'per_channel'}}}]),
    ('transformer_encoder_quant_linear', 'transformer_encoder', Q, "Linear with '_input_' per_channel via target_settings; a second config adds '_input_input' to head, which NNI keeps as a target separate from '_input_0'",
     [{'op_types': ['Linear'], 'target_names': ['_input_', 'weight'], 'quant_dtype': 'int8',
       'target_settings': {'_input_': {'granularity': 'per_channel', 'quant_dtype': 'uint8'}}},
      {'op_names': ['head'], 'target_names': ['_input_input'], 'quant_dtype': 'int4'}]),
    # --- distillation, v3 format
    ('resnet50_distil_names', 'resnet50', D, "op_names ['layer4', 'fc'] (Sequential has no template of its own): lambda/link/apply_method reach '_output_0'",
     [{'op_names': ['layer4', 'fc'], 'lambda': 0.5, 'link': 'fc', 'apply_method': 'mse'}]),
    ('resnet50_distil_link_list', 'resnet50', D, 'link as a list of teacher names, apply_method kl',
     [{'op_names': ['layer3', 'layer4'], 'lambda': 1.0, 'link': ['layer3', 'layer4'], 'apply_method': 'kl'}]),
    ('mobilenet_v2_distil_features', 'mobilenet_v2', D, 'InvertedResidual/Sequential modules registered on the fly; no shorthand -> all settings null',
     [{'op_names_re': ['features\\.1[5-8]$', 'classifier$']}]),
    ('transformer_encoder_distil_all', 'transformer_encoder', D, "op_names_re ['.*'] in distillation: every module including the root '' gets '_output_0'",
     [{'op_names_re': ['.*'], 'lambda': 0.3, 'apply_method': 'mse'}]),
    # --- legacy pruning
    ('resnet50_legacy_sparsity', 'resnet50', P, "legacy 'sparsity' -> target_names weight+bias, weight sparse_ratio",
     [{'op_names': ['layer1.0.conv1', 'layer1.0.conv2', 'fc'], 'sparsity': 0.5}]),
    ('resnet50_legacy_total_sparsity', 'resnet50', P, "legacy total_sparsity: translation adds 'group_id', which NNI's own schema rejects; register_wrappers keeps it",
     [{'op_types': ['Conv2d'], 'op_names_re': ['layer4'], 'total_sparsity': 0.5}, {'op_names': ['fc'], 'total_sparsity': 0.8}]),
    ('resnet50_legacy_exclude', 'resnet50', P, 'legacy exclude: True with op_names -> exclude_op_names added to every config',
     [{'op_types': ['Conv2d'], 'op_names_re': ['layer1\\.'], 'sparsity': 0.5}, {'exclude': True, 'op_names': ['layer1.0.conv1', 'layer1.1.conv2']}]),
    ('resnet50_legacy_exclude_types_and_names', 'resnet50', P, 'legacy exclude with op_types AND op_names: NNI excludes the union (all Linear plus the named conv), not the intersection',
     [{'op_types': ['Conv2d', 'Linear'], 'op_names_re': ['layer1\\.0\\.', 'fc'], 'sparsity_per_layer': 0.5},
      {'exclude': True, 'op_types': ['Linear'], 'op_names': ['layer1.0.conv1']}]),
    ('resnet50_legacy_same_layer_twice', 'resnet50', P, 'legacy: layer1.0.conv2 in two sub-configs; NNI 3.0 keeps the first (0.3), the v2 documents say the later one wins',
     [{'op_names': ['layer1.0.conv1', 'layer1.0.conv2'], 'sparsity': 0.3}, {'op_names': ['layer1.0.conv2', 'layer1.0.conv3'], 'sparsity': 0.8}]),
    ('transformer_encoder_legacy_partial_names', 'transformer_encoder', P, "legacy op_partial_names ['linear'] -> op_names_re ['.*linear.*']",
     [{'op_partial_names': ['linear'], 'sparsity_per_layer': 0.5}]),
    ('transformer_encoder_legacy_max_sparsity', 'transformer_encoder', P, 'legacy max_sparsity_per_layer with sparsity_per_layer -> weight max_sparse_ratio',
     [{'op_types': ['Linear'], 'sparsity_per_layer': 0.5, 'max_sparsity_per_layer': 0.7}]),
    # --- legacy quantization
    ('resnet50_legacy_quant_input_weight', 'resnet50', Q, "legacy quant_types ['input', 'weight'] with quant_bits per type (the translation has no top-level quant_dtype, so NNI's schema rejects its own translation)",
     [{'op_types': ['Conv2d'], 'op_names_re': ['layer1\\.0\\.'], 'quant_types': ['input', 'weight'], 'quant_bits': {'input': 8, 'weight': 8}},
      {'op_names': ['fc'], 'quant_types': ['input', 'weight'], 'quant_bits': {'input': 8, 'weight': 8}}]),
    ('mobilenet_v2_legacy_quant_weight_int_bits', 'mobilenet_v2', Q, "legacy quant_types ['weight'] with quant_bits 4 (an int)",
     [{'op_types': ['Linear'], 'quant_types': ['weight'], 'quant_bits': 4}, {'op_names': ['features.0.0'], 'quant_types': ['weight'], 'quant_bits': 4}]),
    ('mobilenet_v2_legacy_quant_output', 'mobilenet_v2', Q, "legacy quant_types ['output'] on ReLU6",
     [{'op_types': ['ReLU6'], 'op_names_re': ['features\\.[01]\\.'], 'quant_types': ['output'], 'quant_bits': {'output': 8}}]),
    ('transformer_encoder_legacy_quant_start_step', 'transformer_encoder', Q, 'legacy quant_start_step stays in the translation as a shorthand no target has: schema rejects it, register_wrappers drops it',
     [{'op_types': ['Linear'], 'quant_types': ['input', 'weight'], 'quant_bits': 8, 'quant_start_step': 100}]),
    # --- documented divergences
    ('resnet50_prune_missing_name_dataparallel', 'resnet50', P, "divergence: op_name 'module.conv1' (DataParallel prefix) names no module; NNI raises KeyError",
     [{'op_names': ['module.conv1'], 'sparse_ratio': 0.5}]),
    ('resnet50_prune_missing_name_typo', 'resnet50', P, "divergence: typo 'layer1.0.conv9' next to a valid name; NNI raises KeyError",
     [{'op_names': ['layer1.0.conv1', 'layer1.0.conv9'], 'sparse_ratio': 0.5}]),
    ('resnet50_prune_re_all', 'resnet50', P, "divergence: op_names_re ['.*'] in pruning reaches modules without a template; NNI raises AssertionError",
     [{'op_names_re': ['.*'], 'sparse_ratio': 0.5}]),
    ('mobilenet_v2_quant_re_all', 'mobilenet_v2', Q, "divergence: op_names_re ['.*'] in quantization reaches modules without a template; NNI raises AssertionError",
     [{'op_names_re': ['.*'], 'quant_dtype': 'int8'}]),
]


# ----------------------------------------------------------------------------- running NNI

def jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted(jsonable(v) for v in obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f'not JSON-able: {obj!r}')


def error_text(exc):
    return f'{type(exc).__name__}: {exc}'


def run_case(name, model_name, mode, description, config_list):
    given = copy.deepcopy(config_list)
    translated = trans_legacy_config_list(given)
    legacy = translated is not given  # NNI returns its argument itself when the list is not legacy
    translated_json = jsonable(translated)
    if legacy:  # these three lists are built from Python sets by NNI: sort them
        for cfg in translated_json:
            for key in ('exclude_op_types', 'exclude_op_names', 'exclude_op_names_re'):
                if key in cfg:
                    cfg[key] = sorted(cfg[key])

    schema_errors = []
    for cfg in translated:
        try:  # a fresh schema per config: schema's Or(only_one=True) keeps a match count
            default_config_schema(mode).validate(copy.deepcopy(cfg))
            schema_errors.append(None)
        except Exception as exc:  # schema.SchemaError
            schema_errors.append(str(exc))

    model = make_model(model_name)
    order = [n for n, _ in model.named_modules(remove_duplicate=False)]
    selected = []
    for cfg in translated:
        try:
            modules = select_modules_by_config(model, copy.deepcopy(cfg))[0]
            selected.append(sorted(modules))
        except Exception as exc:
            selected.append('ERROR: ' + error_text(exc))

    try:
        _, spaces = register_wrappers(model, copy.deepcopy(translated), mode)
        targets = {m: {t: ts.setting for t, ts in spaces[m].items()} for m in order if m in spaces}
        result = {'ok': True, 'targets': targets}
    except Exception as exc:
        result = {'ok': False, 'error': error_text(exc)}

    return {'produced_by': PRODUCED_BY, 'model': model_name, 'mode': mode, 'description': description,
            'config_list': jsonable(config_list), 'legacy': legacy, 'translated': translated_json,
            'schema_errors': schema_errors, 'selected': selected, 'result': jsonable(result)}


# ----------------------------------------------------------------------------- output

def dumps(obj, indent=0):
    """JSON with one item per line, but lists of scalars kept on one line."""
    pad, inner = ' ' * indent, ' ' * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return '{}'
        items = [f'{inner}{json.dumps(k)}: {dumps(v, indent + 1)}' for k, v in obj.items()]
        return '{\n' + ',\n'.join(items) + '\n' + pad + '}'
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return json.dumps(obj)
        return '[\n' + ',\n'.join(inner + dumps(v, indent + 1) for v in obj) + '\n' + pad + ']'
    return json.dumps(obj)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith('\n') else text + '\n')


MODELS_README = f"""# Example module lists

`resnet50.json`, `mobilenet_v2.json` and `transformer_encoder.json` describe the modules of
torchvision's `resnet50(weights=None)`, torchvision's `mobilenet_v2(weights=None)` and a small
text classifier (`embed` = Embedding(1000, 256), `encoder` = 4-layer TransformerEncoder with
d_model 256, 8 heads, feed-forward 1024, `head` = Linear(256, 10)), in the format the engine takes
as input: `{{"model", "produced_by", "modules": [{{"name", "type", "forward_args", "parameters",
"other_parameters"?}}]}}`, with modules in `named_modules(remove_duplicate=False)` order (the root is
`""`), `type` the class `__name__`, `forward_args` the forward signature without `self`,
`parameters` the shapes of the module's own `weight`/`bias` (`null` when the attribute is `None`)
and `other_parameters` (only when there are any) the module's other own parameters, e.g.
MultiheadAttention's `in_proj_weight`. They are generated, not hand-written; regenerate them (and
the NNI fixtures in `Tests/SwiftCompressTests/Fixtures/nni/`) from the repository root with
`/work/nnienv/bin/python tools/make_nni_fixtures.py` ({VERSIONS}).
"""

FIXTURES_README_HEAD = f"""# NNI 3.0 reference fixtures

One JSON file per case: what NNI 3.0's config code does with a config list on a model whose module
list is in `examples/models/<model>.json`. Generated by `tools/make_nni_fixtures.py`, which only
calls NNI; regenerate from the repository root with

    /work/nnienv/bin/python tools/make_nni_fixtures.py

Versions: {VERSIONS}. The script re-executes itself with `PYTHONHASHSEED=0`, so the output is
byte-for-byte reproducible (NNI iterates over sets of module names; the first module without a
template names the AssertionError).

## Format

- `produced_by`: the command line and versions; `model`: the module list used; `mode`:
  `pruning` | `quantization` | `distillation`; `description`: what the case exercises.
- `config_list`: the config list as given to NNI.
- `legacy`: NNI's decision that the list is legacy (first config has `exclude`, `sparsity`,
  `sparsity_per_layer`, `total_sparsity` or `quant_types`).
- `translated`: `nni.compression.base.config.trans_legacy_config_list(config_list)`. For legacy
  lists `exclude_op_types` / `exclude_op_names` / `exclude_op_names_re` are sorted (NNI builds them
  from sets, so their order is arbitrary).
- `schema_errors`: per translated config, `null` or `str(SchemaError)` from
  `default_config_schema(mode).validate(config)`, a fresh schema per config. Informational:
  register_wrappers runs anyway, and swiftcompress accepts some things this schema rejects.
- `selected`: per translated config, the sorted module names `select_modules_by_config` returns,
  or `"ERROR: <Type>: <message>"` if it raises.
- `result`: `{{"ok": true, "targets": {{module: {{target: setting}}}}}}` from
  `register_wrappers(model, translated, mode)` (its configured target spaces, each `.setting`),
  modules in `named_modules` order, targets in NNI's order; or `{{"ok": false, "error":
  "<Type>: <message>"}}`. Each case uses a fresh model. The documented divergences (see
  `/work/shared/spec/SEMANTICS.md`, "Where we follow the documents") are recorded as NNI does them;
  swiftcompress is expected to differ there.

## Cases

| case | model | mode | NNI result | what it exercises |
|---|---|---|---|---|
"""


def main():
    for model_name in MODELS:
        write(MODELS_DIR / f'{model_name}.json', dumps(module_list(model_name)))
    write(MODELS_DIR / 'README.md', MODELS_README)

    rows = []
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names)), 'duplicate case names'
    for name, model_name, mode, description, config_list in CASES:
        fixture = run_case(name, model_name, mode, description, config_list)
        write(FIXTURES_DIR / f'{name}.json', dumps(fixture))
        res = fixture['result']
        outcome = f"ok ({len(res['targets'])} modules)" if res['ok'] else res['error'].split(':')[0]
        rows.append(f'| `{name}` | {model_name} | {mode}{" (legacy)" if fixture["legacy"] else ""} '
                    f'| {outcome} | {description.replace("|", "/")} |')
    write(FIXTURES_DIR / 'README.md', FIXTURES_README_HEAD + '\n'.join(rows))
    print(f'wrote {len(MODELS)} module lists and {len(CASES)} fixtures')


if __name__ == '__main__':
    main()
