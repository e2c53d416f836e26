"""NNI 3.0's own example scripts, run offline twice: with NNI, and with only their ``nni.compression``
imports changed to ``swiftcompress`` — then their results compared.

    PYTHONPATH=bindings/python python bindings/python/tests/nni_examples/harness.py            # all scripts
    PYTHONPATH=bindings/python python bindings/python/tests/nni_examples/harness.py pd_fuse    # by name

prints a parity table (script, NNI ran, swiftcompress ran, compared items, equal) and exits 1 unless
every script is at parity: both runs completed, or both failed at the same line with the same error
(NNI's own failure, reproduced: pqd_fuse), and everything recorded until then is equal. ``tests/test_nni_examples.py`` runs
it per script under pytest.

The scripts (``scripts/``, vendored unmodified from microsoft/nni at commit
767ed7f22e1e588ce76cbbecb6c6a4a76a309805, MIT license: ``scripts/LICENSE.nni``) are
``examples/compression/{pruning,quantization,fusion}/*.py``, ``examples/compression/evaluator/
torch_evaluator.py`` and ``examples/tutorials/{pruning_quick_start,quantization_quick_start,
pruning_speedup}.py``. Excluded: ``evaluator/lightning_evaluator.py`` (PyTorch Lightning is not
installed), ``tutorials/new_pruning_bert_glue.py`` and ``quantization_bert_glue.py`` (BERT through
transformers, downloaded weights and GLUE data), ``tutorials/quantization_speedup.py`` (TensorRT, a
GPU), and the NAS / HPO tutorials (``darts.py``, ``hello_nas.py``, ``nasbench_as_dataset.py``,
``hpo_*``, ``scripts/trial_sklearn.py``: not compression).

What a run changes, all of it listed here and applied to the script's text before ``runpy``:

(a) ``IMPORT_SUBSTITUTIONS`` and ``GRAPH_SUBSTITUTIONS``, in the swiftcompress run only: each
    ``nni.compression`` import line becomes the swiftcompress one, ``ModelSpeedup`` and
    ``auto_set_denpendency_group_ids`` included. ``KEPT_FROM_NNI`` lists the graph-tool imports a
    script may keep from NNI in both runs: only a script with ``nni_graph`` set (its reason:
    pqd_fuse reads NNI's ModelSpeedup internals), or every script with ``HARNESS_GRAPH=nni``; the
    harness says so. A ``nni.compression`` line in neither list fails the run (nothing stays NNI's
    silently). ``nni.trace`` and ``nni.common.types`` are not
    ``nni.compression`` and stay.
(b) Offline data and models (both runs): ``torchvision.datasets.MNIST`` / ``CIFAR10`` become
    ``SyntheticImages`` (fixed uint8 images of the real shapes, 1x28x28 / 32x32x3, 8 training and 4
    test samples, labels 0-9, from a fixed numpy seed; ``download`` ignored); torchvision's
    ``resnet18`` and ``mobilenet_v3_small`` ignore ``pretrained`` / ``weights`` (random init, no
    download); NNI's ``examples/compression/models.py`` (vendored) is loaded with its own
    substitutions (``MODELS_SUBSTITUTIONS``) as the modules ``models`` and
    ``examples.compression.models`` that the scripts import.
(c) ``COMMON_SUBSTITUTIONS`` and ``SCRIPTS[name].substitutions`` (both runs): CPU instead of
    CUDA, batch 4, a 2x3x32x32 dummy input instead of 8x3x224x224, and epochs / steps / intervals
    shrunk so each run takes seconds (each one is listed with its script below).
(e) Around each ``ModelSpeedup`` (both runs): torch's random generator is put back, when
    ``speedup_model()`` returns, to its state when the ModelSpeedup was made. NNI's mask inference
    draws from it (it randomizes every intermediate tensor), swiftcompress's does not (a documented
    divergence, docs/speedup.md); without this the scripts' later data order would differ.
(d) Before each run: ``random``, ``numpy`` and ``torch`` seeded with 0 and the shim modules
    reloaded, so both runs see the same random stream; then ``runpy.run_path(..., run_name=
    '__main__')``.

Compared (``compare``): every scalar loss passed to ``Tensor.backward`` (in order), every result of
a compressor's ``compress()`` (masks, calibration configs; recorded by wrapping ``compress`` of
the compressor classes of both packages), and the script's globals ``masks``,
``calibration_config`` and ``model`` (its parameters, ``_nni_wrapper.`` removed from NNI's names;
parameters only one side has, such as NNI's wrapper-held quantization parameters, are listed, not
compared), and what each ``ModelSpeedup(model, dummy_input, masks)`` was given (the masks and the
model's state dict at its entry). A ``masks`` global that was given to ModelSpeedup is compared at
that entry only: NNI's ModelSpeedup rewrites the masks dict in place, and how depends on its
container (NNI's pruners return a ``defaultdict(dict)``, which ModelSpeedup fills with entries for
other modules; swiftcompress's return a plain dict), so the dict after speedup is ModelSpeedup's
by-product; the sped-up model itself is compared (``model``). Tensors must be bit-identical unless the script's ``tolerance`` says otherwise (with
its reason); every comparison reports the largest difference.

``nni_patches.apply()`` patches NNI's tracer for this torch (see that module) before any run.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import io
import logging
import math
import os
import random
import runpy
import sys
import tempfile
import traceback
import types
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
SCRIPTS_DIR = HERE / "scripts"
NNI_COMMIT = "767ed7f22e1e588ce76cbbecb6c6a4a76a309805"

# (a) import substitutions, swiftcompress run only
IMPORT_SUBSTITUTIONS: List[Tuple[str, str]] = [
    ("from nni.compression import TorchEvaluator", "from swiftcompress import TorchEvaluator"),
    ("from nni.compression.utils import TorchEvaluator", "from swiftcompress.utils import TorchEvaluator"),
    ("from nni.compression.pruning import", "from swiftcompress.pruning import"),
    ("from nni.compression.quantization import", "from swiftcompress.quantization import"),
    ("from nni.compression.distillation import", "from swiftcompress.distillation import"),
    ("from nni.compression.base.compressor import Quantizer", "from swiftcompress.quantization import Quantizer"),
]
KEPT_FROM_NNI: List[str] = [
    "from nni.compression.utils import auto_set_denpendency_group_ids",
    "from nni.compression.speedup import ModelSpeedup",
]
KEPT_NOTE = ("ModelSpeedup and auto_set_denpendency_group_ids come from swiftcompress in the swiftcompress run, "
             "except in pqd_fuse (nni_graph: it reads NNI's ModelSpeedup internals); HARNESS_GRAPH=nni keeps NNI's "
             "in both runs everywhere")
# The swiftcompress run takes swiftcompress's graph tools too (HARNESS_GRAPH=nni: NNI's in both runs).
GRAPH_SUBSTITUTIONS: List[Tuple[str, str]] = [
    ("from nni.compression.utils import auto_set_denpendency_group_ids",
     "from swiftcompress.utils import auto_set_denpendency_group_ids"),
    ("from nni.compression.speedup import ModelSpeedup", "from swiftcompress.speedup import ModelSpeedup"),
]


def our_graph(name: str = "") -> bool:
    """Whether the swiftcompress run of script ``name`` uses swiftcompress's graph tools."""
    script = SCRIPTS.get(name)
    return os.environ.get("HARNESS_GRAPH") != "nni" and not (script is not None and script.nni_graph)

# (c) numeric substitutions
COMMON_SUBSTITUTIONS: List[Tuple[str, str]] = [
    ("device = 'cuda:0'", "device = 'cpu'"),          # CPU only
    ("device = 'cuda'", "device = 'cpu'"),
    ("torch.rand(8, 3, 224, 224)", "torch.rand(2, 3, 32, 32)"),  # CIFAR-sized dummy input, batch 2
    ("batch_size=64", "batch_size=4"),
    ("batch_size=200", "batch_size=4"),
    ("batch_size=1000", "batch_size=4"),
    ("batch_size=128", "batch_size=4"),
]
MODELS_SUBSTITUTIONS: List[Tuple[str, str]] = [
    ("batch_size: int = 128", "batch_size: int = 4"),
    ("num_workers=8", "num_workers=0"),               # no worker processes
]


@dataclasses.dataclass
class Script:
    path: str                                          # under scripts/
    substitutions: List[Tuple[str, str]]
    needs: List[Tuple[str, str]]                       # (swiftcompress module, name) not on main yet
    needs_branch: str = ""
    tolerance: Optional[Tuple[float, float, str]] = None  # (rtol, atol, reason); None: bit-identical
    # A reason when the script's last compress() picks among equal metrics (SEMANTICS.md: ties toward
    # the lower flat index; NNI: torch.topk's order): everything until that compress returned is
    # compared as usual, its masks by the number pruned per tensor, and what follows (the speedup of
    # other channels, fine-tuning) is listed as not compared. None: no such divergence.
    ties: Optional[str] = None
    # A reason when the script must keep NNI's ModelSpeedup / auto_set_denpendency_group_ids in both
    # runs (it uses NNI internals that swiftcompress's do not have). None: swiftcompress's.
    nni_graph: Optional[str] = None


_RESNET_EPOCHS = [("max_epochs=10)", "max_epochs=1)")]
_DISTILLATION_TOLERANCE = (
    1e-4, 1e-5,
    "the distillation loss and its gradient are computed by the core in double (NNI: float32 "
    "F.mse_loss), so losses and weights agree to float32 rounding, compounded over the steps")

SCRIPTS: Dict[str, Script] = {
    "norm_pruning": Script("compression/pruning/norm_pruning.py", _RESNET_EPOCHS, []),
    "scheduled_pruning": Script("compression/pruning/scheduled_pruning.py", _RESNET_EPOCHS + [
        ("training_steps=100", "training_steps=2"),
        ("interval_steps=100, total_times=10", "interval_steps=2, total_times=2"),
        ("max_steps=100 * 10", "max_steps=2 * 2"),
    ], [("swiftcompress.pruning", "TaylorPruner"), ("swiftcompress.pruning", "AGPPruner")], "wt-prune",
        ties="the second mask update prunes 256 of layer4's 512 channels, and 296 to 360 of them have Taylor "
             "metric 0 (the 224 pruned by the first update, plus channels without gradient: NNI's train() leaves "
             "the model in eval mode after its first evaluate, and at 32x32 input layer4 is 1x1, so with 4 "
             "images many ReLUs are dead)"),
    # regular_scale: with 2 steps instead of 1000 and the default scale 1, the penalty's constant
    # gradient sign drives every factor alike (Adam's first steps are +-lr): 19 distinct values among
    # 512 channels, and which of the equal ones are pruned is a documented divergence (SEMANTICS.md:
    # ties toward the lower flat index; NNI: torch.topk's order). A small scale lets the loss
    # gradient make the factors distinct, so the masks, the speedup and the fine-tuning compare.
    "slim_pruning": Script("compression/pruning/slim_pruning.py", _RESNET_EPOCHS + [
        ("training_steps=1000", "training_steps=2, regular_scale=1e-4")], [("swiftcompress.pruning", "SlimPruner")],
        "wt-prune"),
    "taylor_pruning": Script("compression/pruning/taylor_pruning.py", _RESNET_EPOCHS + [
        ("training_steps=300", "training_steps=2")], [("swiftcompress.pruning", "TaylorPruner")], "wt-prune"),
    "bnn_example": Script("compression/quantization/bnn_example.py", [
        ("quantizer.compress(None, 400)", "quantizer.compress(None, 1)")],
        [("swiftcompress.quantization", "BNNQuantizer")], "wt-quant"),
    "dorefa_example": Script("compression/quantization/dorefa_example.py", [
        ("quantizer.compress(None, 10)", "quantizer.compress(None, 1)")],
        [("swiftcompress.quantization", "DoReFaQuantizer")], "wt-quant"),
    "lsq_example": Script("compression/quantization/lsq_example.py", [
        ("quantizer.compress(None, 4)", "quantizer.compress(None, 1)")],
        [("swiftcompress.quantization", "LsqQuantizer")], "wt-quant"),
    "ptq_example": Script("compression/quantization/ptq_example.py", [
        ("quantizer.compress(None, 5)", "quantizer.compress(None, 1)")],
        [("swiftcompress.quantization", "PtqQuantizer.from_compressor")], "wt-quant"),
    "qat_example": Script("compression/quantization/qat_example.py", [
        ("training_model(model, optimizer, training_step, None, None, 5)",
         "training_model(model, optimizer, training_step, None, None, 1)"),
        ("quantizer.compress(None, max_epochs=5)", "quantizer.compress(None, max_epochs=2)"),
    ], [("swiftcompress.quantization", "QATQuantizer.from_compressor")], "wt-quant"),
    "pd_fuse": Script("compression/fusion/pd_fuse.py", [
        ("max_epochs=30)", "max_epochs=1)"),
        ("training_steps=100", "training_steps=2"),
        ("interval_steps=100, total_times=30", "interval_steps=2, total_times=2"),
        ("max_steps=100 * 60", "max_steps=2 * 3"),
    ], [("swiftcompress.pruning", "TaylorPruner"), ("swiftcompress.pruning", "AGPPruner")], "wt-prune",
        _DISTILLATION_TOLERANCE),
    "pqd_fuse": Script("compression/fusion/pqd_fuse.py", [
        ("max_epochs=30)", "max_epochs=1)"),
        ("training_steps=100", "training_steps=2"),
        ("interval_steps=100, total_times=30", "interval_steps=2, total_times=2"),
        ("quant_start_step=100", "quant_start_step=2"),
        ("max_steps=100 * 60", "max_steps=2 * 3"),
    ], [("swiftcompress.pruning", "TaylorPruner"), ("swiftcompress.pruning", "AGPPruner"),
        ("swiftcompress.quantization", "QATQuantizer.from_compressor")], "wt-prune + wt-quant", _DISTILLATION_TOLERANCE,
        nni_graph="its trans() reads NNI's ModelSpeedup internals (speedup.node_infos[node].output_masks / "
                  ".param_masks per fx node), which swiftcompress's ModelSpeedup does not have; NNI's own run fails "
                  "inside trans() (a calibration scale of None)"),
    "torch_evaluator": Script("compression/evaluator/torch_evaluator.py", [
        # LambdaLR calls lr_lambda(0) at construction: the original raises ZeroDivisionError with NNI too
        ("lr_lambda=lambda epoch: 1 / epoch", "lr_lambda=lambda epoch: 1 / (epoch + 1)")], []),
    "pruning_quick_start": Script("tutorials/pruning_quick_start.py", [
        ("for epoch in range(3):", "for epoch in range(1):")], []),
    "quantization_quick_start": Script("tutorials/quantization_quick_start.py", [
        ("training_model(model, optimizer, training_step, None, None, 5)",
         "training_model(model, optimizer, training_step, None, None, 1)"),
        ("quantizer.compress(None, max_epochs=5)", "quantizer.compress(None, max_epochs=2)"),
    ], [("swiftcompress.quantization", "QATQuantizer.from_compressor")], "wt-quant"),
    "pruning_speedup": Script("tutorials/pruning_speedup.py", [], []),
}


def missing_needs(name: str) -> List[str]:
    """The swiftcompress names ``name`` needs that this checkout lacks. ``X.attr``: class X with
    ``attr`` (``PtqQuantizer.from_compressor`` / ``QATQuantizer.from_compressor`` stand for the
    evaluator-driven quantizers with NNI's signatures: main's refuse an evaluator)."""
    missing = []
    for module_name, what in SCRIPTS[name].needs:
        cls_name, _, attr = what.partition(".")
        try:
            cls = getattr(importlib.import_module(module_name), cls_name)
        except (ImportError, AttributeError):
            missing.append(what)
            continue
        if attr and not hasattr(cls, attr):
            missing.append(what)
    return missing


# -- (b) offline data and models ---------------------------------------------------------------

class SyntheticImages:
    """Stands in for ``torchvision.datasets.MNIST`` / ``CIFAR10``: same constructor, fixed uint8
    images of the real shape (PIL images, as torchvision returns them), 8 training / 4 test samples,
    labels 0-9; ``root`` and ``download`` are ignored (nothing is read or fetched)."""

    shape: Tuple[int, ...] = ()
    mode = ""

    def __init__(self, root: Any = None, train: bool = True, transform: Any = None, target_transform: Any = None,
                 download: bool = False) -> None:
        import numpy as np
        rng = np.random.default_rng(1 if train else 2)
        n = 8 if train else 4
        self.data = rng.integers(0, 256, size=(n, *self.shape), dtype=np.uint8)
        self.targets = [int(t) for t in rng.integers(0, 10, size=n)]
        self.transform, self.target_transform = transform, target_transform
        self.train = train

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> Any:
        from PIL import Image
        image, target = Image.fromarray(self.data[index], mode=self.mode), self.targets[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target


class SyntheticMNIST(SyntheticImages):
    shape, mode = (28, 28), "L"


class SyntheticCIFAR10(SyntheticImages):
    shape, mode = (32, 32, 3), "RGB"


def _random_init(builder: Any) -> Any:
    def build(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("pretrained", None)
        kwargs["weights"] = None  # random init: nothing downloaded
        return builder(*args, **kwargs)
    build.__wrapped__ = builder  # type: ignore[attr-defined]
    return build


@contextlib.contextmanager
def offline() -> Any:
    """Patches torchvision's datasets and pretrained builders for the duration of a run."""
    import torchvision.datasets as tvd
    import torchvision.datasets.cifar as tvc
    import torchvision.datasets.mnist as tvm
    import torchvision.models.mobilenetv3 as mnv3
    import torchvision.models.resnet as rn
    patches = [(tvd, "MNIST", SyntheticMNIST), (tvm, "MNIST", SyntheticMNIST), (tvd, "CIFAR10", SyntheticCIFAR10),
               (tvc, "CIFAR10", SyntheticCIFAR10), (rn, "resnet18", _random_init(rn.resnet18)),
               (mnv3, "mobilenet_v3_small", _random_init(mnv3.mobilenet_v3_small))]
    saved = [(m, n, getattr(m, n)) for m, n, _ in patches]
    try:
        for module, name, value in patches:
            setattr(module, name, value)
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


_SHIM_MODULES = ("models", "examples", "examples.compression", "examples.compression.models",
                 "nni_assets.compression.mnist_model")


def _install_models_shim() -> None:
    """``examples/compression/models.py`` (vendored) with MODELS_SUBSTITUTIONS, as ``models`` and
    ``examples.compression.models``; NNI's ``nni_assets`` MNIST model module is re-imported fresh."""
    for name in _SHIM_MODULES:
        sys.modules.pop(name, None)
    source = substitute((SCRIPTS_DIR / "compression/models.py").read_text(), MODELS_SUBSTITUTIONS, "models.py")
    module = types.ModuleType("examples.compression.models")
    module.__file__ = str(SCRIPTS_DIR / "compression/models.py")
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    for package in ("examples", "examples.compression"):
        pkg = types.ModuleType(package)
        pkg.__path__ = []  # type: ignore[attr-defined]
        sys.modules[package] = pkg
    sys.modules["examples.compression"].models = module  # type: ignore[attr-defined]
    sys.modules["examples"].compression = sys.modules["examples.compression"]  # type: ignore[attr-defined]
    sys.modules["examples.compression.models"] = module
    sys.modules["models"] = module


# -- (a), (c) text substitutions -------------------------------------------------------------

def substitute(text: str, substitutions: List[Tuple[str, str]], what: str, required: bool = True) -> str:
    for old, new in substitutions:
        if required and old not in text:
            raise ValueError(f"{what}: substitution {old!r} matches nothing (the vendored script changed?)")
        text = text.replace(old, new)
    return text


def script_text(name: str, side: str) -> str:
    """The text of script ``name`` as run for ``side`` ('nni' or 'swiftcompress')."""
    script = SCRIPTS[name]
    text = (SCRIPTS_DIR / script.path).read_text()
    text = substitute(text, COMMON_SUBSTITUTIONS, name, required=False)
    text = substitute(text, script.substitutions, name)
    if side == "swiftcompress":
        text = substitute(text, IMPORT_SUBSTITUTIONS, name, required=False)
        if our_graph(name):
            text = substitute(text, GRAPH_SUBSTITUTIONS, name, required=False)
    # every nni.compression import left is one of KEPT_FROM_NNI (a parenthesized import spans lines)
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("from nni.compression", "import nni.compression")) and not any(
                stripped.startswith(k) for k in KEPT_FROM_NNI):
            if side == "swiftcompress":
                raise ValueError(f"{name}: {stripped!r} has no swiftcompress substitution")
    return text


# -- recording ---------------------------------------------------------------------------------

class Recorder:
    """Records the scalar losses passed to ``Tensor.backward`` and the results of ``compress()``."""

    def __init__(self) -> None:
        self.losses: List[float] = []
        self.compressed: List[Any] = []
        self.losses_at_compress: List[int] = []  # len(losses) when each compress() returned
        self.speedup_inputs: List[Any] = []
        self._depth = 0

    @contextlib.contextmanager
    def active(self, side: str, name: str = "") -> Any:
        import torch
        original_backward = torch.Tensor.backward
        recorder = self

        def backward(self: Any, *args: Any, **kwargs: Any) -> Any:
            if self.numel() == 1:
                recorder.losses.append(float(self.detach().reshape(())))
            return original_backward(self, *args, **kwargs)

        classes = compressor_classes(side)
        saved = [(cls, cls.__dict__["compress"]) for cls in classes]

        def wrap(fn: Any) -> Any:
            def compress(*args: Any, **kwargs: Any) -> Any:
                recorder._depth += 1
                try:
                    result = fn(*args, **kwargs)
                finally:
                    recorder._depth -= 1
                if recorder._depth == 0:  # the outermost call (not a super().compress inside it)
                    recorder.compressed.append(_snapshot(result[1] if isinstance(result, tuple) else None))
                    recorder.losses_at_compress.append(len(recorder.losses))
                return result
            return compress

        if side == "swiftcompress" and our_graph(name):
            from swiftcompress.speedup import ModelSpeedup
        else:
            from nni.compression.speedup import ModelSpeedup
        original_speedup_init = ModelSpeedup.__init__
        original_speedup_model = ModelSpeedup.speedup_model

        def speedup_init(self: Any, model: Any, dummy_input: Any, masks_or_file: Any, *args: Any, **kwargs: Any) -> Any:
            recorder.speedup_inputs.append({
                "id": id(masks_or_file), "masks": _snapshot(masks_or_file),
                "state": {n.replace("_nni_wrapper.", ""): v.detach().clone() for n, v in model.state_dict().items()}})
            self._harness_rng = torch.get_rng_state()
            return original_speedup_init(self, model, dummy_input, masks_or_file, *args, **kwargs)

        def speedup_model(self: Any, *args: Any, **kwargs: Any) -> Any:
            # (e) NNI's mask inference draws from torch's generator (it randomizes every intermediate
            # tensor), swiftcompress's draws nothing: the generator is put back as it was when the
            # ModelSpeedup was made, in both runs, so later draws (data order) are comparable.
            result = original_speedup_model(self, *args, **kwargs)
            state = getattr(self, "_harness_rng", None)
            if state is not None:
                torch.set_rng_state(state)
            return result

        torch.Tensor.backward = backward  # type: ignore[method-assign]
        ModelSpeedup.__init__ = speedup_init  # type: ignore[method-assign]
        ModelSpeedup.speedup_model = speedup_model  # type: ignore[method-assign]
        try:
            for cls, fn in saved:
                setattr(cls, "compress", wrap(fn))
            yield self
        finally:
            torch.Tensor.backward = original_backward  # type: ignore[method-assign]
            ModelSpeedup.__init__ = original_speedup_init  # type: ignore[method-assign]
            ModelSpeedup.speedup_model = original_speedup_model  # type: ignore[method-assign]
            for cls, fn in saved:
                setattr(cls, "compress", fn)


def compressor_classes(side: str) -> List[type]:
    """The classes defining ``compress`` in the compressor packages of ``side``."""
    packages = (["nni.compression.pruning", "nni.compression.quantization", "nni.compression.distillation",
                 "nni.compression.base.compressor"] if side == "nni" else
                ["swiftcompress.pruning", "swiftcompress.quantization", "swiftcompress.distillation"])
    found: Dict[int, type] = {}
    for package in packages:
        module = importlib.import_module(package)
        for value in list(vars(module).values()):
            if isinstance(value, type) and "compress" in value.__dict__:
                found[id(value)] = value
        for sub in list(sys.modules):
            if sub.startswith(package + ".") and sys.modules[sub] is not None:
                for value in list(vars(sys.modules[sub]).values()):
                    if isinstance(value, type) and "compress" in value.__dict__:
                        found[id(value)] = value
    return list(found.values())


def _snapshot(value: Any) -> Any:
    """A detached copy of masks / calibration configs / tensors / containers."""
    import torch
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _snapshot(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_snapshot(v) for v in value)
    if isinstance(value, (int, float, str, bool, type(None))):
        return value
    return repr(type(value).__name__)


@dataclasses.dataclass
class RunResult:
    ran: bool
    error: str
    items: Dict[str, Any]
    output: str


def run_script(name: str, side: str) -> RunResult:
    """Runs script ``name`` for ``side`` and returns what it recorded."""
    import numpy as np
    import torch
    import nni_patches
    nni_patches.apply()
    text = script_text(name, side)
    recorder = Recorder()
    out = io.StringIO()
    saved_path = list(sys.path)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="nni-example-") as tmp:
        target = Path(tmp) / SCRIPTS[name].path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        error = ""
        scope: Dict[str, Any] = {}
        try:
            random.seed(0)
            np.random.seed(0)
            torch.manual_seed(0)
            os.chdir(tmp)
            with offline(), recorder.active(side, name), contextlib.redirect_stdout(out):
                _install_models_shim()
                scope = runpy.run_path(str(target), run_name="__main__")
        except BaseException as exc:  # noqa: BLE001 - a script's failure is a result
            if isinstance(exc, KeyboardInterrupt):
                raise
            tb = traceback.extract_tb(exc.__traceback__)
            where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(tb)
                          if f.filename == str(target)), "")
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} ({where})"
            if os.environ.get("HARNESS_TRACEBACK"):  # debugging aid: the whole traceback on stderr
                traceback.print_exception(exc, file=sys.__stderr__)
        finally:
            os.chdir(cwd)
            sys.path[:] = saved_path
            for module in _SHIM_MODULES:
                sys.modules.pop(module, None)
    items: Dict[str, Any] = {"losses": recorder.losses}
    for index, result in enumerate(recorder.compressed):
        items[f"compress[{index}]"] = result
    if recorder.losses_at_compress:
        items["_losses_at_last_compress"] = recorder.losses_at_compress[-1]
    for index, given in enumerate(recorder.speedup_inputs):
        items[f"ModelSpeedup[{index}].masks"] = given["masks"]
        items[f"ModelSpeedup[{index}].model"] = given["state"]
    given_to_speedup = {given["id"] for given in recorder.speedup_inputs}
    for key in ("masks", "calibration_config"):
        if key in scope and id(scope[key]) not in given_to_speedup:
            items[key] = _snapshot(scope[key])
    if isinstance(scope.get("model"), torch.nn.Module):
        items["model"] = {n.replace("_nni_wrapper.", ""): p.detach().clone()
                          for n, p in scope["model"].named_parameters()}
    return RunResult(not error, error, items, out.getvalue())


# -- (d) comparison ----------------------------------------------------------------------------

@dataclasses.dataclass
class Comparison:
    equal: bool
    exact: bool
    max_diff: float
    notes: List[str]


def compare(a: Any, b: Any, tolerance: Optional[Tuple[float, float, str]], path: str = "",
            result: Optional[Comparison] = None, lenient_keys: bool = False) -> Comparison:
    """Compares NNI's ``a`` with swiftcompress's ``b``: tensors bit-identical, or within
    ``tolerance`` (rtol, atol) when given; containers by key / position."""
    import torch
    r = result or Comparison(True, True, 0.0, [])

    def fail(note: str) -> None:
        r.equal = False
        r.exact = False
        r.notes.append(f"{path}: {note}")

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            fail(f"{type(a).__name__} vs {type(b).__name__}")
        elif a.shape != b.shape:
            fail(f"shape {list(a.shape)} vs {list(b.shape)}")
        elif not torch.equal(a, b):
            r.exact = False
            if a.is_floating_point() and b.is_floating_point():
                diff = float((a.double() - b.double()).abs().max())
                r.max_diff = max(r.max_diff, diff)
                if tolerance is None or not torch.allclose(b.double(), a.double(), rtol=tolerance[0],
                                                           atol=tolerance[1]):
                    fail(f"max |diff| {diff:.3g}")
            else:
                fail(f"{int((a != b).sum())} of {a.numel()} elements differ")
    elif isinstance(a, dict) and isinstance(b, dict):
        keys_a, keys_b = set(a), set(b)
        if keys_a != keys_b:
            note = f"keys only in NNI {sorted(map(str, keys_a - keys_b))[:4]}, only in swiftcompress " \
                   f"{sorted(map(str, keys_b - keys_a))[:4]}"
            if lenient_keys:
                r.notes.append(f"{path}: {note} (not compared)")
            else:
                fail(note)
        for key in [k for k in a if k in b]:
            compare(a[key], b[key], tolerance, f"{path}.{key}" if path else str(key), r)
    elif isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            fail(f"length {len(a)} vs {len(b)}")
        for index, (x, y) in enumerate(zip(a, b)):
            compare(x, y, tolerance, f"{path}[{index}]", r)
    elif isinstance(a, float) and isinstance(b, float):
        if a != b:
            r.exact = False
            diff = abs(a - b)
            r.max_diff = max(r.max_diff, diff)
            if tolerance is None or not math.isclose(a, b, rel_tol=tolerance[0], abs_tol=tolerance[1]):
                fail(f"{a!r} vs {b!r}")
    elif a != b:
        fail(f"{a!r} vs {b!r}")
    return r


@dataclasses.dataclass
class Parity:
    script: str
    nni: RunResult
    swiftcompress: RunResult
    compared: List[str]
    comparison: Optional[Comparison]

    @property
    def same_failure(self) -> bool:
        """Both runs failed, at the same line with the same error (NNI's own failure, reproduced)."""
        return not self.nni.ran and not self.swiftcompress.ran and self.nni.error == self.swiftcompress.error

    @property
    def equal(self) -> bool:
        return bool((self.same_failure or (self.nni.ran and self.swiftcompress.ran)) and self.comparison
                    and self.comparison.equal)

    def verdict(self) -> str:
        prefix = ""
        if self.same_failure:
            prefix = "same failure as NNI; until then: "
        elif not self.nni.ran:
            return "n/a (NNI failed)"
        elif not self.swiftcompress.ran:
            return "no (swiftcompress failed)"
        assert self.comparison is not None
        c = self.comparison
        if not c.equal:
            return prefix + "NO: " + "; ".join(c.notes[:3])
        if c.exact:
            return prefix + "bit-identical"
        tol = SCRIPTS[self.script].tolerance
        if SCRIPTS[self.script].ties:
            return prefix + "equal until the tie-break (then pruned counts equal; later results not compared)"
        return prefix + (f"within rtol={tol[0]:g} atol={tol[1]:g} (max |diff| {c.max_diff:.2g})" if tol else "?")


def parity(name: str) -> Parity:
    """Runs ``name`` with NNI, then with swiftcompress, and compares what both recorded."""
    nni_run = run_script(name, "nni")
    sc_run = run_script(name, "swiftcompress")
    compared: List[str] = []
    comparison = None
    if (nni_run.ran and sc_run.ran) or (not nni_run.ran and nni_run.error == sc_run.error):
        comparison = Comparison(True, True, 0.0, [])
        tolerance = SCRIPTS[name].tolerance
        ties = SCRIPTS[name].ties
        if ties and "_losses_at_last_compress" in nni_run.items:
            return _tie_parity(name, nni_run, sc_run, comparison, tolerance)
        for key in nni_run.items:
            if key.startswith("_"):
                continue
            if key not in sc_run.items:
                comparison.equal = False
                comparison.notes.append(f"{key}: recorded by NNI only")
                continue
            if key == "losses" and not nni_run.items[key]:
                continue
            compared.append(f"{key}({_count(nni_run.items[key])})")
            compare(nni_run.items[key], sc_run.items[key], tolerance, key, comparison, lenient_keys=key == "model")
        for key in sc_run.items:
            if key not in nni_run.items:
                comparison.equal = False
                comparison.notes.append(f"{key}: recorded by swiftcompress only")
    return Parity(name, nni_run, sc_run, compared, comparison)


def _zero_counts(masks: Any) -> Any:
    """``{module: {target: number of zeros}}`` of a masks dict (what tie order cannot change)."""
    import torch
    if isinstance(masks, torch.Tensor):
        return int((masks == 0).sum())
    if isinstance(masks, dict):
        return {k: _zero_counts(v) for k, v in masks.items()}
    return masks


def _tie_parity(name: str, nni_run: RunResult, sc_run: RunResult, comparison: Comparison,
                tolerance: Optional[Tuple[float, float, str]]) -> Parity:
    """Parity for a script with ``ties``: the losses until the last compress() returned and every
    earlier compress result as usual; the last compress's masks by zeros per tensor; the rest listed."""
    compared: List[str] = []
    cut = nni_run.items["_losses_at_last_compress"]
    if sc_run.items.get("_losses_at_last_compress") != cut:
        comparison.equal = False
        comparison.notes.append(f"last compress after {cut} losses (NNI) vs "
                                f"{sc_run.items.get('_losses_at_last_compress')} (swiftcompress)")
    compare(nni_run.items["losses"][:cut], sc_run.items["losses"][:cut], tolerance, "losses", comparison)
    compared.append(f"losses until the last compress({cut})")
    results = sorted(k for k in nni_run.items if k.startswith("compress["))
    for key in results:
        if key not in sc_run.items:
            comparison.equal = False
            comparison.notes.append(f"{key}: recorded by NNI only")
        elif key == results[-1]:
            compare(_zero_counts(nni_run.items[key]), _zero_counts(sc_run.items[key]), None, key + " zeros", comparison)
            compared.append(f"{key} pruned counts")
        else:
            compare(nni_run.items[key], sc_run.items[key], tolerance, key, comparison)
            compared.append(key)
    rest = [k for k in nni_run.items if not k.startswith(("compress[", "_")) and k != "losses"]
    comparison.notes.append(f"not compared after the tie-break: later losses, {', '.join(rest)} "
                            f"({SCRIPTS[name].ties})")
    comparison.exact = False
    return Parity(name, nni_run, sc_run, compared, comparison)


def _count(value: Any) -> int:
    return len(value) if isinstance(value, (list, dict, tuple)) else 1


def print_table(results: List[Parity], file: Any = None) -> None:
    file = file or sys.stdout
    print(f"NOTE: {KEPT_NOTE}.", file=file)
    header = ("script", "NNI ran", "swiftcompress ran", "compared items", "equal")
    rows = [header]
    for p in results:
        sc = "yes" if p.swiftcompress.ran else "no: " + p.swiftcompress.error
        missing = missing_needs(p.script)
        if missing:
            sc += f" [needs {', '.join(missing)} ({SCRIPTS[p.script].needs_branch})]"
        rows.append((p.script, "yes" if p.nni.ran else "no: " + p.nni.error, sc,
                     ", ".join(p.compared) or "-", p.verdict()))
    widths = [min(max(len(r[i]) for r in rows), 70) for i in range(len(header))]
    for row in rows:
        print(" | ".join(cell[:70].ljust(w) for cell, w in zip(row, widths)), file=file)
    for p in results:
        if p.comparison and p.comparison.notes:
            for note in p.comparison.notes[:8]:
                print(f"  {p.script}: {note}", file=file)


def main(argv: List[str]) -> int:
    sys.path.insert(0, str(HERE))
    logging.getLogger("nni").setLevel(logging.WARNING)
    names = argv or list(SCRIPTS)
    unknown = [n for n in names if n not in SCRIPTS]
    if unknown:
        print(f"unknown scripts {unknown}; known: {', '.join(SCRIPTS)}", file=sys.stderr)
        return 2
    import torch
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    results = [parity(n) for n in names]
    print_table(results)
    return 0 if all(p.equal for p in results) else 1


if HERE.as_posix() not in sys.path:
    sys.path.insert(0, HERE.as_posix())

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
