"""Shared models and helpers for the swiftcompress Python tests.

The reference is NNI 3.0 (`nni.compression.pruning`), run in the same process on a deep copy of the
same model. Weights are made tie-free (`tie_free_`): every floating-point parameter value of a model
gets a distinct magnitude, so that "the smallest k" is one set and NNI's `topk` (whose order among
equal values is unspecified) and the core's deterministic tie rule must agree exactly.
"""
from __future__ import annotations

import copy
import logging
from typing import Callable, Dict, Optional

import pytest
import torch
import torch.nn as nn

logging.getLogger("nni").setLevel(logging.ERROR)


class TextClassifier(nn.Module):
    """The transformer encoder of examples/models/transformer_encoder.json: Embedding(1000, 256), a
    4-layer TransformerEncoder (d_model 256, 8 heads, feed-forward 1024), Linear(256, 10)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(1000, 256)
        layer = nn.TransformerEncoderLayer(d_model=256, nhead=8, dim_feedforward=1024, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=4, enable_nested_tensor=False)
        self.head = nn.Linear(256, 10)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))


def build(name: str) -> nn.Module:
    import torchvision

    if name == "resnet18":
        return torchvision.models.resnet18(weights=None)
    if name == "resnet50":
        return torchvision.models.resnet50(weights=None)
    if name == "mobilenet_v2":
        return torchvision.models.mobilenet_v2(weights=None)
    if name == "transformer":
        return TextClassifier()
    raise KeyError(name)


def example_input(name: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    if name == "transformer":
        return torch.randint(0, 1000, (2, 12), generator=g)
    return torch.randn(2, 3, 64, 64, generator=g)


@torch.no_grad()
def tie_free_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Gives every floating-point parameter value of the model a distinct magnitude: a random
    permutation of consecutive positive float32 bit patterns (from 2^-7 upwards), with random signs."""
    params = [p for p in model.parameters() if p.is_floating_point()]
    total = sum(p.numel() for p in params)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(total, generator=g, dtype=torch.int64)
    magnitudes = (order + 0x3C000000).to(torch.int32).view(torch.float32)
    signs = torch.randint(0, 2, (total,), generator=g, dtype=torch.int8).to(torch.float32) * 2 - 1
    values = magnitudes * signs
    offset = 0
    for p in params:
        n = p.numel()
        p.copy_(values[offset:offset + n].view_as(p))
        offset += n
    return model


_CACHE: Dict[str, Dict[str, torch.Tensor]] = {}


def seeded_model(name: str) -> nn.Module:
    """A fresh model with the same tie-free weights on every call (eval mode)."""
    model = build(name)
    if name not in _CACHE:
        tie_free_(model)
        _CACHE[name] = {k: v.clone() for k, v in model.state_dict().items()}
    else:
        model.load_state_dict(_CACHE[name])
    return model.eval()


def nni_masks(pruner_name: str, model: nn.Module, config_list) -> Dict[str, Dict[str, Optional[torch.Tensor]]]:
    """NNI 3.0's masks for a deep copy of the model (the copy is unwrapped afterwards)."""
    import nni.compression.pruning as nni_pruning

    clone = copy.deepcopy(model)
    pruner = getattr(nni_pruning, pruner_name)(clone, copy.deepcopy(config_list))
    _, masks = pruner.compress()
    pruner.unwrap_model()
    return {m: dict(t) for m, t in masks.items()}


def our_masks(pruner_name: str, model: nn.Module, config_list):
    import swiftcompress.pruning as sc_pruning

    pruner = getattr(sc_pruning, pruner_name)(model, config_list)
    _, masks = pruner.compress()
    return pruner, masks


def mask_diff(ours, theirs) -> Dict[str, str]:
    """Per qualified target name, what differs between two mask dicts ({} when identical)."""
    out: Dict[str, str] = {}
    for module in sorted(set(ours) | set(theirs)):
        a, b = ours.get(module), theirs.get(module)
        if a is None or b is None:
            out[module] = f"module only in {'ours' if b is None else 'NNI'}"
            continue
        for target in sorted(set(a) | set(b)):
            x, y = a.get(target, "missing"), b.get(target, "missing")
            name = f"{module}.{target}"
            if x is None and y is None:
                continue
            if isinstance(x, str) or isinstance(y, str) or x is None or y is None:
                out[name] = f"ours {x if x is None or isinstance(x, str) else 'tensor'}, NNI " \
                            f"{y if y is None or isinstance(y, str) else 'tensor'}"
                continue
            if x.shape != y.shape or x.dtype != y.dtype:
                out[name] = f"shape/dtype ours {tuple(x.shape)} {x.dtype}, NNI {tuple(y.shape)} {y.dtype}"
            elif not torch.equal(x, y):
                out[name] = (f"{int((x != y).sum())} of {x.numel()} differ; pruned ours {int((x == 0).sum())}, "
                             f"NNI {int((y == 0).sum())}")
    return out


@pytest.fixture
def model_factory() -> Callable[[str], nn.Module]:
    return seeded_model
