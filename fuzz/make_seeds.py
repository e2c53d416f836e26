#!/usr/bin/env python3
"""fuzz/make_seeds.py - writes the seed corpus of fuzz_config (fuzz/corpus/config/) from the spec's
examples: every config list of Tests/SwiftCompressTests/Fixtures/nni (with its mode and model),
examples/configs, and a few module lists of examples/models' format. Run from anywhere; it
rewrites fuzz/corpus/config/seed-*. The structured targets (pruning, quantization, ...) need no
seeds from the spec: their corpora are kept from fuzzing runs (fuzz/run.sh --merge)."""
import glob
import hashlib
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus", "config")
MODES = {"pruning": 0, "quantization": 1, "distillation": 2}
MODELS = {"builtin": 0, "resnet50": 1, "mobilenet_v2": 2, "transformer_encoder": 3}

def write(flags, text):
    data = bytes([flags]) + text.encode()
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)

os.makedirs(OUT, exist_ok=True)
for old in glob.glob(os.path.join(OUT, "seed-*")):
    os.remove(old)
count = 0
for path in sorted(glob.glob(os.path.join(ROOT, "Tests/SwiftCompressTests/Fixtures/nni/*.json"))):
    case = json.load(open(path))
    mode = MODES[case["mode"]]
    model = MODELS.get(case["model"], 0)
    text = json.dumps(case["config_list"], separators=(",", ":"))
    write(mode | model << 2 | 0x20, text)          # with the second, halved config
    write(mode | 0 << 2, text)                     # against the small built-in module list
    count += 2
for path in sorted(glob.glob(os.path.join(ROOT, "examples/configs/*.json"))):
    text = json.dumps(json.load(open(path)), separators=(",", ":"))
    write(0 | 1 << 2 | 0x80, text)
    count += 1
# module lists of their own (flags 0x10): "<modules>\0<config>"
modules = [{"name": "a", "type": "Linear", "forward_args": ["input"]},
           {"name": "a.b", "type": "Conv2d"}, {"name": "c", "type": "BatchNorm2d"}]
for mode, cfg in [(0, [{"op_types": ["Linear"], "sparse_ratio": 0.5}]),
                  (1, [{"op_names": ["a"], "target_names": ["_input_", "weight"], "quant_dtype": "int8"}]),
                  (2, [{"op_names_re": [".*"], "lambda": 0.3, "link": "auto"}])]:
    write(mode | 0x10 | 0x40, json.dumps({"modules": modules}) + "\0" + json.dumps(cfg))
    write(mode | 0x10, json.dumps(modules) + "\0" + json.dumps(cfg))
    count += 2
print(f"{count} seeds in {OUT}")
