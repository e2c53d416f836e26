"""NNI 3.0-compatible quantizers computed by the swiftcompress core: PtqQuantizer, QATQuantizer
(here), LsqQuantizer, LsqPlusQuantizer, DoReFaQuantizer, BNNQuantizer (``_training.py``). Each takes
NNI's ``evaluator`` and trains through it in ``compress(max_steps, max_epochs)``; the evaluator-free
use below stays.

    from swiftcompress.quantization import PtqQuantizer     # was: nni.compression.quantization
    quantizer = PtqQuantizer(model, config_list)
    quantizer.calibrate(batches)                  # runs the model on each batch under torch.no_grad()
    model, calibration_config = quantizer.compress()
    ...                                           # forward is fake-quantized from now on
    quantizer.unwrap_model()

    quantizer = QATQuantizer(model, config_list, quant_start_step=100)
    for x, y in loader:                           # your own training loop
        loss = criterion(model(x), y)
        optimizer.zero_grad(); loss.backward(); optimizer.step()
        quantizer.step()                          # one call per optimizer step
    calibration_config = quantizer.get_calibration_config()

Contract (NNI 3.0's; differences and decisions in docs/python.md, "Quantization"):

- The constructor resolves the config list against the model with the core (ConfigError,
  QuantizationError for bad keys and values, naming the config index and key; warnings through
  ``warnings``, each emitted once) and wraps the model: forward pre-hooks for
  ``_input_*`` targets, forward hooks for ``_output_*`` targets, and, for modules with ``weight`` /
  ``bias`` targets, a ``forward`` (an instance attribute) that swaps each parameter for its
  fake-quantized value for the duration of the call and puts the parameter back afterwards (the
  parameters stay where they are: ``state_dict()`` and the optimizer's parameters are unchanged).
- Every number is the core's: per-block min / max observers (running min / max for
  PtqQuantizer, moving average with decay 0.99 for QATQuantizer), scales and zero points, fake
  quantization and its straight-through gradient mask. Python allocates the buffers and wires
  torch (hooks, an autograd Function); no formula is computed here.
- The quantizers choose the apply method by phase, as NNI 3.0's do, whatever ``apply_method``
  the config gives: PtqQuantizer bypasses while calibrating and applies ``clamp_round`` (gradient
  straight through) after ``compress()``; QATQuantizer bypasses before ``quant_start_step`` and
  applies ``qat_clamp_round`` (gradient zeroed where the value was clamped) from it on.
- ``unwrap_model()`` removes the hooks and restores every ``forward``; parameters were never
  modified.
- Wrapping is ``swiftcompress._wrapping``'s (shared with pruning); inputs and outputs are found
  by ``swiftcompress._slots`` (shared with distillation). ``torch.export`` (strict or not) traces
  the fake quantization as torch operators with the core's scale and zero point as constants
  (``quantization/_torch.py``, bit-equal to the core; nothing is observed while tracing). A deep
  copy or pickle of a wrapped model is a frozen quantized model: the core's parameters of the
  moment of the copy, applied by the same torch formulation, no observers, no quantizer.
  ``print(model)`` names the quantized targets.
- Threads: calls on one quantizer (calibrate, compress, step, get_calibration_config, wrap /
  unwrap), every observer update and fake quantization of the hooks, and each parameter-swapping
  forward serialize under the quantizer's reentrant lock (``swiftcompress._sync``); the bound
  model's root forward holds it too, so a whole ``model(x)`` is one serialized step. A copy of a
  quantized model has one new lock of its own; a traced forward (torch.export) takes no lock.

Tensors: CPU tensors with any strides are handed to the core as they are; tensors on another
device are copied to the CPU for the core and the results copied back (one copy each way), as the
pruning package does (``swiftcompress._tensors``). Unsupported dtypes and layouts raise DtypeError /
TensorError naming the target.
"""
from __future__ import annotations

import copy
from collections import defaultdict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch

from .. import _core, _distributed
from .._session import emit_warnings, forward_arguments, logger, open_compressor, run_batch
from .._fusion import fused_of, fusion_train, inherited_evaluator
from .._slots import Slot
from .._sync import SharedLock, locked
from .._tensors import check_tensor, host, spec
from .._wrapping import (Swap, WrappedForward, WrappingHook, check_wrappable, compressor_lock, install, note,
                         tracing, uninstall, unnote, wrappings)
from ._torch import Frozen, torch_fake_quantize
from ..errors import InvalidArgumentError, QuantizationError, StateError

__all__ = ["Quantizer", "PtqQuantizer", "QATQuantizer", "LsqQuantizer", "LsqPlusQuantizer", "DoReFaQuantizer",
           "BNNQuantizer", "CalibrationConfig"]

CalibrationConfig = Dict[str, Dict[str, Dict[str, Any]]]


class _Target(Swap):
    """One resolved target: where its values come from (``slot`` for an input / output), and its
    observer's state as Python needs it. A parameter target is swapped by the wrapped forward for
    what its quantizer makes of it; a copy (deepcopy, pickle) is a :class:`_FrozenTarget`."""

    __slots__ = ("quantizer", "kind", "slot", "facts", "start_step", "observed", "dtype", "active", "traced")

    def __init__(self, quantizer: "Quantizer", module_name: str, target_name: str, module: torch.nn.Module,
                 entry: Dict[str, Any], facts: Dict[str, Any], start_step: int,
                 forward_args: Optional[List[str]]) -> None:
        super().__init__(module, module_name, target_name)
        self.quantizer = quantizer
        self.kind: str = facts["role"]
        self.slot: Optional[Slot] = (None if self.kind == "parameter" else
                                     Slot.from_report(target_name, entry, forward_args, type(quantizer).__name__))
        self.facts = facts  # the core's typed facts of the target (report["facts"]), never its setting keys
        self.start_step = start_step  # QATQuantizer: the step from which the target is fake-quantized
        self.observed = False  # the core's observer holds at least one batch
        self.dtype: Optional[torch.dtype] = None  # dtype of the last observed batch (of the calibration buffers)
        self.active = False  # fake quantization is applied (PTQ: compressed; QAT: scale computed once)
        self.traced: Optional[Frozen] = None  # the core's parameters for the torch formulation (cache)

    def parameter(self) -> Optional[torch.Tensor]:
        """The parameter / buffer now (None when the attribute is None); checks what the core can read."""
        return self.current("quantize")

    def replacement(self, value: torch.Tensor) -> Optional[torch.Tensor]:
        return self.quantizer._parameter_forward(self, value)

    def activation(self, x: Any) -> Any:
        return self.quantizer._activation_forward(self, x)

    def __deepcopy__(self, memo: Dict[int, Any]) -> "_FrozenTarget":
        return _FrozenTarget(copy.deepcopy(self.module, memo), self.module_name, self.target_name, self.slot,
                             self.quantizer._snapshot(self))

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_FrozenTarget, (self.module, self.module_name, self.target_name, self.slot,
                                self.quantizer._snapshot(self)))


class _FrozenTarget(Swap):
    """A target of a copy of a quantized model: the core's scale and zero point of the moment of the
    copy (``frozen``; None: the target was not fake-quantized then, and passes unchanged), applied
    with the torch formulation (:func:`torch_fake_quantize`). No observer: a copy belongs to no
    quantizer."""

    __slots__ = ("slot", "frozen")

    def __init__(self, module: torch.nn.Module, module_name: str, target_name: str, slot: Optional[Slot],
                 frozen: Optional[Frozen]) -> None:
        super().__init__(module, module_name, target_name)
        self.slot = slot
        self.frozen = frozen

    def replacement(self, value: torch.Tensor) -> Optional[torch.Tensor]:
        return None if self.frozen is None else torch_fake_quantize(value, self.frozen)

    def activation(self, x: Any) -> Any:
        if self.frozen is None or not isinstance(x, torch.Tensor):
            return x
        return torch_fake_quantize(x, self.frozen)


class _FakeQuantize(torch.autograd.Function):
    """x -> the core's fake quantization of x; backward multiplies the incoming gradient by the
    core's gradient mask (qat_clamp_round) or passes it straight through (clamp_round)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, quantizer: "Quantizer", target: _Target, method: int,  # type: ignore[override]
                with_mask: bool) -> torch.Tensor:
        out, mask = quantizer._fake_quantize(target, x, method, with_mask)
        ctx.has_mask = mask is not None
        if mask is not None:
            ctx.save_for_backward(mask)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[Optional[torch.Tensor], None, None, None, None]:  # type: ignore[override]
        if ctx.has_mask:
            (mask,) = ctx.saved_tensors
            grad = grad * mask
        return grad, None, None, None, None


class _Hook(WrappingHook):
    """The forward pre-hook (``side`` 'input', registered with ``with_kwargs=True``) or forward hook
    ('output') of a module with ``_input_*`` / ``_output_*`` targets: replaces each target's tensor,
    found by its :class:`~swiftcompress._slots.Slot`, by what the target makes of it. A deep copy
    (or pickle) of a hooked model gets hooks with frozen targets (``owner`` None)."""

    __slots__ = ("side",)

    def __init__(self, owner: Optional["Quantizer"], label: str, targets: List[Any], side: str,
                 lock: Optional[SharedLock] = None) -> None:
        super().__init__("quantization", owner, label, targets, lock)
        self.side = side

    def __deepcopy__(self, memo: Dict[int, Any]) -> "_Hook":
        # the copy's lock: SharedLock's deepcopy (one new lock per copied model, through the memo)
        return _Hook(None, self.label, copy.deepcopy(self.own, memo), self.side, copy.deepcopy(self.lock, memo))

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_Hook, (None, self.label, self.own, self.side, self.lock))

    def __call__(self, module: torch.nn.Module, args: Tuple[Any, ...], third: Any) -> Any:
        with self.guard():  # observer updates and fake quantization serialize across threads
            if self.side == "input":
                kwargs = third
                new_args = list(args)
                changed = False
                for target in self.own:
                    changed = target.slot.map_input(new_args, kwargs, target.activation) or changed
                return (tuple(new_args), kwargs) if changed else None
            output = third
            for target in self.own:
                output = target.slot.map_output(output, target.activation)
            return output


class _Fold(torch.autograd.Function):
    """Batch-norm folding (``_core.fold_batch_norm``) with its gradients for the weight, the bias
    and the batch norm's weight and bias (``_core.fold_batch_norm_backward``); the running
    statistics are constants, as in NNI's fusion."""

    @staticmethod
    def forward(ctx: Any, weight: torch.Tensor, bias: Optional[torch.Tensor], gamma: Optional[torch.Tensor],  # type: ignore[override]
                beta: Optional[torch.Tensor], mean: torch.Tensor, var: torch.Tensor, eps: float, layer: int
                ) -> Tuple[torch.Tensor, torch.Tensor]:
        w = host(weight.detach())
        vectors = [None if v is None else host(v.detach()) for v in (bias, gamma, beta)]
        m, v = host(mean.detach()), host(var.detach())
        folded_w = torch.empty_like(w, memory_format=torch.contiguous_format)
        folded_b = torch.empty(w.shape[0], dtype=w.dtype)
        _core.fold_batch_norm(layer, spec(w), *[None if t is None else spec(t) for t in vectors], spec(m), spec(v), eps,
                              spec(folded_w), spec(folded_b))
        ctx.save_for_backward(weight, bias, gamma, mean.detach().clone(), var.detach().clone())
        ctx.eps, ctx.layer, ctx.has_beta = eps, layer, beta is not None
        return folded_w.to(weight.device), folded_b.to(weight.device)

    @staticmethod
    def backward(ctx: Any, grad_w: Optional[torch.Tensor], grad_b: Optional[torch.Tensor]) -> Tuple[Any, ...]:  # type: ignore[override]
        weight, bias, gamma, mean, var = ctx.saved_tensors
        w = host(weight.detach())
        gw = host((torch.zeros_like(weight) if grad_w is None else grad_w).detach().contiguous())
        gb = None if grad_b is None else host(grad_b.detach().contiguous())
        out_w = torch.empty_like(w, memory_format=torch.contiguous_format)
        out_b = None if bias is None else torch.empty(w.shape[0], dtype=w.dtype)
        out_g = None if gamma is None else torch.empty(w.shape[0], dtype=w.dtype)
        out_beta = None if not ctx.has_beta else torch.empty(w.shape[0], dtype=w.dtype)
        b = None if bias is None else host(bias.detach())
        g = None if gamma is None else host(gamma.detach())
        _core.fold_batch_norm_backward(ctx.layer, spec(w), None if b is None else spec(b), None if g is None else spec(g),
                                       spec(host(mean)), spec(host(var)), ctx.eps, spec(gw),
                                       None if gb is None else spec(gb), spec(out_w),
                                       None if out_b is None else spec(out_b), None if out_g is None else spec(out_g),
                                       None if out_beta is None else spec(out_beta))
        device = weight.device
        move = (lambda t: None if t is None else t.to(device))
        if gb is None:
            out_beta = None
        return move(out_w), move(out_b), move(out_g), move(out_beta), None, None, None, None


class _FusedForward(WrappedForward):
    """The forward of the first module of a ``fuse_names`` group (NNI 3.0's ``fuse_conv_bn`` /
    ``fuse_linear_bn`` / ``*_relu``): without gradients it runs the layer with its own weight and
    bias and the batch norm's own forward on that output (torch's BatchNorm: in training mode this
    updates its running statistics, as NNI's fusion does), folds the batch norm's running
    statistics into the weight and bias with the core (``_core.fold_batch_norm``), runs the
    quantizer's forward with the folded weight and bias in place (the weight target observes and
    quantizes the folded weight), then applies the ReLU of the group. Gradients reach the weight,
    the bias and the batch norm's weight and bias through the fold (``_Fold``, the core's)."""

    __slots__ = ("bn", "relu", "group")

    def __init__(self, owner: Any, label: str, module: torch.nn.Module, bn: Optional[torch.nn.Module],
                 relu: Optional[torch.nn.Module], group: List[str], previous: Any, lock: Optional[SharedLock]) -> None:
        super().__init__("quantization", owner, label, module, [], [], previous, lock)
        self.bn = bn
        self.relu = relu
        self.group = group

    def _swapped_call(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        module = self.module
        call = (lambda: type(module).forward(module, *args, **kwargs)) if self.previous is None else \
            (lambda: self.previous(*args, **kwargs))
        if self.bn is None:
            output = call()
        else:
            output = self._folded_call(call, args, kwargs)
        if self.relu is not None:
            output = type(self.relu).forward(self.relu, output)
        return output

    def _folded_call(self, call: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        module, bn = self.module, self.bn
        weight, bias = module._parameters["weight"], module._parameters.get("bias")
        with torch.no_grad():
            plain = type(module).forward(module, *args, **kwargs)
            type(bn).forward(bn, plain)  # torch's batch norm: updates the running statistics in training mode
        layer = _core.SC_FOLD_LINEAR if isinstance(module, torch.nn.Linear) else _core.SC_FOLD_CONV
        folded_w, folded_b = _Fold.apply(weight, bias, bn.weight, bn.bias, bn.running_mean, bn.running_var, float(bn.eps),
                                         layer)
        if bias is None:
            folded_b = folded_b.detach()  # NNI wraps the folded bias of a layer without one in a new Parameter
        had_bias = "bias" in module._parameters
        module._parameters["weight"] = folded_w
        module._parameters["bias"] = folded_b
        try:
            return call()
        finally:
            module._parameters["weight"] = weight
            if had_bias:
                module._parameters["bias"] = bias
            else:
                del module._parameters["bias"]


class _IdentityForward(WrappedForward):
    """The forward of a module folded into another by ``fuse_names`` (NNI's IdentityModuleWrapper):
    returns its input."""

    def __init__(self, owner: Any, label: str, module: torch.nn.Module, previous: Any, lock: Optional[SharedLock]) -> None:
        super().__init__("quantization", owner, label, module, [], [], previous, lock)

    def _swapped_call(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        if args:
            return args[0]
        if kwargs:
            return next(iter(kwargs.values()))
        raise InvalidArgumentError(f"module '{self.module.__class__.__name__}' is fused into another by fuse_names and "
                                   "passes its input through: called without an input")


class Quantizer:
    """Base of PtqQuantizer and QATQuantizer: ``Quantizer(model, config_list)``. Subclasses decide
    the observer (``_observer``) and, per phase, whether a target is observed and how it is applied."""

    _observer: int = _core.SC_OBSERVER_MINMAX
    _qat = False  # traced / copied fake quantization masks the gradient (qat_clamp_round)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # over a sharded model, every rank ends the outermost constructor with a status round (docs/distributed.md)
        _distributed.wrap_constructors(cls, _core.SC_MODE_QUANTIZATION)

    def __init__(self, model: torch.nn.Module, config_list: Sequence[Dict[str, Any]], evaluator: Any = None) -> None:
        self.evaluator = _check_evaluator(evaluator, type(self).__name__)
        if self.evaluator is not None and not getattr(self.evaluator, "_initialization_complete", True):
            # NNI's Compressor: the evaluator records the optimizer's parameter names on the plain model
            self.evaluator._init_optimizer_helpers(model)
        self.fused_compressors: List[Any] = [self]
        self._session, modules, report = open_compressor(self, model, config_list, "quantization")
        self._check_fusions(report)
        emit_warnings(report, stacklevel=3)
        self._targets: List[_Target] = []
        self._sharded = False  # a DTensor parameter was observed (its range is reduced across ranks)
        signatures: Dict[Any, Optional[List[str]]] = {}
        for module_name, info in report["modules"].items():
            module = modules[module_name]
            for name, entry in info["targets"].items():
                facts = report["facts"][module_name][name]
                start = facts["quant_start_step"]
                target = _Target(self, module_name, name, module, entry, facts,
                                 self._default_start_step() if start is None else start,
                                 None if facts["role"] == "parameter" else forward_arguments(module, signatures))
                self._targets.append(target)
        for target in self._targets:
            # settings the core rejects (quant_dtype, quant_scheme, ...) fail here, naming the target
            self._session.quant_range(target.module_name, target.target_name)
            if target.kind == "parameter":
                target.parameter()  # a missing attribute, an unsupported dtype or device
        self._is_wrapped = False
        self._handles: List[Any] = []
        self._forwards: List[WrappedForward] = []
        self._lock = compressor_lock(modules.values())  # shared with compressors of the same modules
        self.wrap_model()

    def _default_start_step(self) -> int:
        return 0

    _folds_batch_norm = True  # fuse_names: folded in forward (_FusedForward)

    def _check_fusions(self, report: Dict[str, Any]) -> None:
        self._fusions: List[List[str]] = []
        self._fusion_configs: List[int] = []  # the config index of each group (for errors)
        for config in report["configs"]:
            fuse, i = config.get("fusions"), config["index"]  # the core's fuse_names groups of the config
            if not fuse:
                continue
            if not self._folds_batch_norm:
                raise QuantizationError(
                    f"fuse_names is not supported by {type(self).__name__} yet: config_list[{i}].fuse_names = "
                    f"{fuse!r} asks for batch-norm folding during training, which only PtqQuantizer does (without "
                    "gradients through the fold); remove fuse_names, or fold the batch norms into the model first")
            self._fusions.extend([list(group) for group in fuse])
            self._fusion_configs.extend([i] * len(fuse))

    # -- wrapping ---------------------------------------------------------------------------

    @locked
    def wrap_model(self) -> None:
        """Installs the hooks and forwards (done by the constructor). Raises StateError when a module
        with a target is wrapped already (by another swiftcompress quantizer or an NNI compressor)."""
        if self._is_wrapped:
            logger.warning("The bound model has been wrapped, no need to wrap again.")
            return
        by_object: Dict[int, Tuple[torch.nn.Module, List[_Target]]] = {}
        for target in self._targets:
            by_object.setdefault(id(target.module), (target.module, []))[1].append(target)
        for module, group in by_object.values():
            check_wrappable(module, group[0].module_name, "quantization", self,
                            "another swiftcompress quantizer (or is part of a copy of a quantized model); call its "
                            "unwrap_model() first")
        label = type(self).__name__
        for module, group in by_object.values():
            inputs = [t for t in group if t.kind == "input"]
            outputs = [t for t in group if t.kind == "output"]
            parameters = [t for t in group if t.kind == "parameter"]
            if inputs:
                self._handles.append(module.register_forward_pre_hook(_Hook(self, label, inputs, "input", self._lock),
                                                                      with_kwargs=True))
            if parameters:
                forward = WrappedForward("quantization", self, label, module, parameters, parameters,
                                         module.__dict__.get("forward"), self._lock)
                install(forward)
                self._forwards.append(forward)
            if outputs:
                self._handles.append(module.register_forward_hook(_Hook(self, label, outputs, "output", self._lock)))
            note(module)
        root = self.bound_model
        if not any(f.module is root for f in self._forwards):
            # A forward of the whole model holds the lock from its first module to its last, so a
            # forward in another thread (or get_calibration_config) never interleaves between two
            # modules' observer updates (docs/python.md, "Threads"). No target (own and swaps empty:
            # not a wrapping that wrappings() users or print(model) count): nothing is swapped.
            forward = WrappedForward("quantization", self, label, root, [], [], root.__dict__.get("forward"),
                                     self._lock)
            install(forward)
            self._forwards.append(forward)
        for group, index in zip(getattr(self, "_fusions", []), getattr(self, "_fusion_configs", [])):
            self._install_fusion(group, label, f"config_list[{index}].fuse_names {group!r}")
        self._is_wrapped = True

    def _install_fusion(self, group: List[str], label: str, where: str) -> None:
        """``fuse_names`` group ``[first, bn?, relu?]``: the first module's forward folds the batch
        norm (``_FusedForward``); the others become identities (NNI's IdentityModuleWrapper)."""
        root = self.bound_model
        modules = [root.get_submodule(name) for name in group]
        first = modules[0]
        names_of_targets = {(t.module_name, t.target_name) for t in self._targets}
        if any(name == n for name in group[1:] for n, _ in names_of_targets):
            raise QuantizationError(f"{where}: don't provide quantization settings for the fused modules "
                                    f"{group[1:]!r} (NNI 3.0's rule)")
        bn = next((m for m in modules[1:] if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)), None)
        relu = next((m for m in modules[1:] if isinstance(m, torch.nn.ReLU)), None)
        if relu is not None and not any(n == group[0] and t.startswith("_output_") for n, t in names_of_targets):
            raise QuantizationError(f"{where}: fusing the ReLU needs an output target on '{group[0]}' (add '_output_' "
                                    "to its target_names; NNI 3.0's rule)")
        if bn is not None:
            if (group[0], "weight") not in names_of_targets:
                raise QuantizationError(f"{where}: in the fusion of a batch norm the weight of "
                                        f"'{group[0]}' needs to be quantized (add 'weight' to its target_names)")
            if not bn.track_running_stats:
                raise QuantizationError(f"{where}: '{group[1]}' does not track running statistics; "
                                        "folding its batch statistics is not supported by swiftcompress yet")
        fused = _FusedForward(self, label, first, bn, relu, group, first.__dict__.get("forward"), self._lock)
        install(fused)
        self._forwards.append(fused)
        for module in modules[1:]:
            identity = _IdentityForward(self, label, module, module.__dict__.get("forward"), self._lock)
            install(identity)
            self._forwards.append(identity)

    @locked
    def unwrap_model(self) -> None:
        """Removes the hooks and restores every module's forward as it was before wrap_model(). The
        parameters were never modified; the observers and the step count are kept (wrap_model()
        again continues where it stopped)."""
        if not self._is_wrapped:
            logger.warning("The bound model is not wrapped, can not unwrap it.")
            return
        for handle in self._handles:
            handle.remove()
        self._handles = []
        for forward in self._forwards:
            uninstall(forward)
        self._forwards = []
        for target in self._targets:
            unnote(target.module)
        self._is_wrapped = False

    # -- the core ---------------------------------------------------------------------------

    def _observe(self, target: _Target, x: torch.Tensor) -> None:
        if tracing():  # torch.export / dynamo: no data to observe; the traced program has no observer
            return
        target.traced = None
        if _distributed.is_sharded(x) and self._observer == _core.SC_OBSERVER_EMA:
            self._observe_across_ranks(target, x)
            return
        check_tensor(x, target.qualified_name, "observe")
        x = x.detach()
        if _distributed.is_sharded(x):  # a DTensor parameter: its local shard, placement recorded
            x, local_shape, global_shape, offsets, counted = _distributed.shard(x, target.qualified_name)
            self._session.bind_shard(target.module_name, target.target_name, local_shape, global_shape, offsets, counted)
            self._sharded = True
        batch = host(x)
        self._session.observe(target.module_name, target.target_name, spec(batch), self._observer)
        target.observed = True
        target.dtype = x.dtype

    def _observe_across_ranks(self, target: _Target, x: Any) -> None:
        """A moving-average observer of a DTensor: this rank's shard observed with the batch's range
        reduced over the ranks before the average (``observe_distributed``: a collective per call,
        so every rank observes the same targets in the same order, as its forward does). A rank
        failing before the core call takes part in the status round first (every rank raises)."""
        try:
            check_tensor(x, target.qualified_name, "observe")
            local, local_shape, global_shape, offsets, counted = _distributed.shard(x.detach(), target.qualified_name)
            self._session.bind_shard(target.module_name, target.target_name, local_shape, global_shape, offsets, counted)
            batch = host(local)
            batch_spec = spec(batch)
        except BaseException as error:
            _distributed.fail(error)
            raise
        rank, size = _distributed.world()
        self._session.observe_distributed(target.module_name, target.target_name, batch_spec, self._observer, rank, size,
                                          _distributed.reducer())
        target.observed = True
        target.dtype = local.dtype

    def _fake_quantize(self, target: _Target, x: torch.Tensor, method: int, with_mask: bool
                       ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The core's fake quantization of ``x`` into a new tensor (x's shape, dtype, device, and its
        strides when dense), and the gradient mask (same) when asked for. A DTensor (a sharded
        weight): its local shard is quantized with the target's scales, which are this shard's
        already (the unsharded tensor's range, or this rank's channels when sharded along them),
        and the results are DTensors with x's mesh and placements."""
        if _distributed.is_sharded(x):
            local = _distributed.shard(x.detach(), target.qualified_name)[0]  # (Partial placements raise)
            out, mask = self._fake_quantize(target, local, method, with_mask)
            from torch.distributed.tensor import DTensor

            def rebuild(t: torch.Tensor) -> torch.Tensor:
                return DTensor.from_local(t, x.device_mesh, x.placements, run_check=False, shape=x.shape, stride=x.stride())
            return rebuild(out), None if mask is None else rebuild(mask)
        check_tensor(x, target.qualified_name, "quantize")
        source = host(x.detach())
        out = torch.empty_like(source)
        mask = torch.empty_like(source) if with_mask else None
        self._session.fake_quantize(target.module_name, target.target_name, spec(source), spec(out),
                                    None if mask is None else spec(mask), method)
        if source is not x and x.device != out.device:
            out = out.to(x.device)
            mask = None if mask is None else mask.to(x.device)
        return out, mask

    def _apply(self, target: _Target, x: torch.Tensor, method: int) -> torch.Tensor:
        if tracing():
            if target.traced is None:
                target.traced = _core_parameters(self, target)
            return torch_fake_quantize(x, target.traced)
        with_mask = (method == _core.SC_APPLY_QAT_CLAMP_ROUND and torch.is_grad_enabled() and x.requires_grad)
        return _FakeQuantize.apply(x, self, target, method, with_mask)

    # -- policies (subclasses) ----------------------------------------------------------------

    def _activation_forward(self, target: _Target, x: Any) -> Any:
        raise NotImplementedError

    def _parameter_forward(self, target: _Target, value: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # -- results ----------------------------------------------------------------------------

    def _snapshot(self, target: _Target) -> Optional[Frozen]:
        """The core's parameters of an active target for the torch formulation (None: inactive)."""
        if not target.active:
            return None
        return target.traced if target.traced is not None else _core_parameters(self, target)

    def _frozen(self, target: _Target) -> Frozen:
        """``(scale, zero_point, qmin, qmax, qat)``: the core's scale and zero point, in float64 for a
        float64 target and float32 otherwise (the precision the core computes in), its range, and
        whether the gradient is masked (qat_clamp_round)."""
        shape = self._session.scale_shape(target.module_name, target.target_name)
        dtype = torch.float64 if target.dtype == torch.float64 else torch.float32
        scale, zero_point = torch.empty(shape, dtype=dtype), torch.empty(shape, dtype=dtype)
        self._session.quant_params(target.module_name, target.target_name, spec(scale), spec(zero_point))
        _, _, qmin, qmax = self._session.quant_range(target.module_name, target.target_name)
        return Frozen(scale, zero_point, qmin, qmax, self._qat)

    def _quant_params(self, target: _Target) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(scale, zero_point, tracked_min, tracked_max): CPU tensors of the scale shape in the dtype
        of the last observed batch, written by the core."""
        shape = self._session.scale_shape(target.module_name, target.target_name)
        dtype = target.dtype or torch.float32
        scale, zero_point, tracked_min, tracked_max = (torch.empty(shape, dtype=dtype) for _ in range(4))
        self._session.quant_params(target.module_name, target.target_name, spec(scale), spec(zero_point),
                                   spec(tracked_min), spec(tracked_max))
        return scale, zero_point, tracked_min, tracked_max

    # -- the evaluator (NNI 3.0's Compressor) ------------------------------------------------------

    def _get_param_names_map(self) -> Dict[str, str]:
        """NNI's ``{original parameter name: wrapped name}``: the same names here (the wrapping
        never moves a parameter)."""
        if not self._is_wrapped:
            raise StateError("the parameter names map needs the model wrapped (call wrap_model() first)")
        return {name: name for name, _ in self.bound_model.named_parameters()}

    def _extra_parameters(self) -> Dict[str, List[torch.nn.Parameter]]:
        """``{module_name: [parameters]}`` the quantizer trains besides the model's (learnable
        scales and zero points), given to ``evaluator.patch_optim_param_group`` as NNI does. As NNI's
        ``patch_optimizer_param_group``, this includes the bias of each layer folded with a batch norm
        by ``fuse_names``: NNI's optimizers then hold that bias twice and step it twice per optimizer
        step; kept for parity (docs/python.md, "fuse_names")."""
        extra: Dict[str, List[torch.nn.Parameter]] = {}
        for group in getattr(self, "_fusions", []):
            module = self.bound_model.get_submodule(group[0])
            folds = any(isinstance(self.bound_model.get_submodule(n), torch.nn.modules.batchnorm._BatchNorm)
                        for n in group[1:])
            bias = module._parameters.get("bias")
            if folds and isinstance(bias, torch.nn.Parameter):
                extra.setdefault(group[0], []).append(bias)
        return extra

    def _fuse_preprocess(self, evaluator: Any) -> None:
        extra = self._extra_parameters()
        if extra:
            evaluator.patch_optim_param_group(extra)
        tasks = self._after_step_tasks()
        if tasks:
            evaluator.patch_optimizer_step(before_step_tasks=[], after_step_tasks=tasks)

    def _after_step_tasks(self) -> List[Any]:
        return []

    def _fuse_postprocess(self, evaluator: Any) -> None:
        pass

    def _fusion_compress(self, max_steps: Optional[int], max_epochs: Optional[int]) -> None:
        """NNI's ``_fusion_compress``: binds the model to the evaluator, lets every fused
        compressor patch it, trains ``max_steps`` / ``max_epochs``, post-processes, unbinds."""
        if self.evaluator is None:
            raise StateError(f"{type(self).__name__}.compress(max_steps, max_epochs) trains through an evaluator; this "
                             "quantizer was built without one (pass evaluator=TorchEvaluator(...))")
        fusion_train(self.evaluator, self.bound_model, self.fused_compressors, max_steps, max_epochs,
                     self._get_param_names_map())

    @classmethod
    def from_compressor(cls, compressor: Any, new_config_list: Sequence[Dict[str, Any]], *args: Any,
                        evaluator: Any = None, **kwargs: Any) -> "Quantizer":
        """NNI's ``from_compressor``: a new quantizer of ``compressor``'s bound model with
        ``new_config_list``, inheriting its evaluator (``evaluator`` is used only when it has none;
        a warning when both are given), and fused with it: ``compress`` runs every fused
        compressor's training hooks in one evaluator run. ``compressor`` keeps its wrapping (its
        targets and this quantizer's must then be different modules; StateError otherwise)."""
        fused = fused_of(compressor, cls.__name__)
        new = cls(compressor.bound_model, new_config_list, *args, evaluator=inherited_evaluator(compressor, evaluator),
                  **kwargs)
        new.fused_compressors.extend(fused)
        return new

    @locked
    def track_forward(self, *args: Any, **kwargs: Any) -> None:
        """NNI's ``track_forward``: one forward of the bound model under ``torch.no_grad()`` with
        ``args`` / ``kwargs`` moved to the model's device, so that the observers see a batch (in
        training mode QATQuantizer's do; PtqQuantizer's observe during calibrate / compress)."""
        if not self._is_wrapped:
            raise StateError("track_forward: the bound model is not wrapped, can not track information with an "
                             "unwrapped model")
        device = next(iter(self.bound_model.parameters()), torch.empty(0)).device
        move = (lambda v: v.to(device) if isinstance(v, torch.Tensor) else v)
        with torch.no_grad():
            self.bound_model(*[move(a) for a in args], **{k: move(v) for k, v in kwargs.items()})

    @property
    def _target_spaces(self) -> Dict[str, Dict[str, Any]]:
        """NNI's ``{module_name: {target_name: target space}}`` view, for scripts that read it (NNI's
        lsq_example prints it): the target objects (``module_name``, ``target_name``, ``module``;
        not NNI's TargetSpace class). Read-only; private in NNI too."""
        out: Dict[str, Dict[str, Any]] = {}
        for target in self._targets:
            out.setdefault(target.module_name, {})[target.target_name] = target
        return out

    @property
    def _module_wrappers(self) -> Dict[str, torch.nn.Module]:
        """NNI's ``{module_name: wrapper}`` view: here the module itself (its forward is patched in
        place, nothing wraps it). Read-only."""
        return {target.module_name: target.module for target in self._targets}

    @locked
    def get_calibration_config(self) -> CalibrationConfig:
        """``{module_name: {target_name: {'scale', 'zero_point', 'quant_dtype', 'quant_scheme',
        'quant_bits', 'tracked_max', 'tracked_min'}}}`` as NNI 3.0 returns it (a defaultdict):
        CPU tensors of the scale shape (``[]`` per tensor, keepdim otherwise) in the target's dtype
        for the scale, zero point (integers held in that dtype) and tracked range; ``quant_dtype``
        the setting (``'int8'`` when not given), ``quant_scheme`` the setting (None when not given),
        ``quant_bits`` an int. Before a target has a scale (PTQ: before compress(); QAT: before its
        quant_start_step) its scale and zero point are None; before it observed a batch it has no
        tracked keys. Fresh tensors each call."""
        config: CalibrationConfig = defaultdict(dict)
        for target in self._targets:
            bits, _, _, _ = self._session.quant_range(target.module_name, target.target_name)
            facts = target.facts
            entry: Dict[str, Any] = {"scale": None, "zero_point": None, "quant_dtype": facts["quant_dtype"],
                                     "quant_scheme": facts["quant_scheme"], "quant_bits": bits}
            if target.observed:
                scale, zero_point, tracked_min, tracked_max = self._quant_params(target)
                if target.active:
                    entry["scale"], entry["zero_point"] = scale, zero_point
                entry["tracked_max"], entry["tracked_min"] = tracked_max, tracked_min
            config[target.module_name][target.target_name] = entry
        return config


def _core_parameters(quantizer: "Quantizer", target: _Target) -> Frozen:
    """:meth:`Quantizer._frozen`, computed by the core on real CPU tensors also while torch.export
    traces with fake tensors (the tracing modes are suspended for the call)."""
    from torch.utils._python_dispatch import _disable_current_modes

    # The quantizer's lock: a traced forward takes none, and a copy (deepcopy, pickle) snapshots the
    # core outside any forward; either may run while another thread's forward uses the session.
    with _disable_current_modes(), quantizer._lock:
        return quantizer._frozen(target)


# torch.compiler.assume_constant_result(_core_parameters) without importing torch._dynamo (seconds):
# dynamo (strict export) calls it once at trace time and keeps the result as constants.
_core_parameters._dynamo_marked_constant = True  # type: ignore[attr-defined]


_EVALUATOR_METHODS = ("bind_model", "unbind_model", "train", "patch_optimizer_step", "patch_optim_param_group")


def _check_evaluator(evaluator: Any, owner: str) -> Any:
    """``evaluator`` when it is None or has NNI 3.0's Evaluator methods (swiftcompress's or NNI's
    TorchEvaluator); InvalidArgumentError naming the argument otherwise."""
    if evaluator is None:
        return None
    missing = [m for m in _EVALUATOR_METHODS if not callable(getattr(evaluator, m, None))]
    if missing:
        raise InvalidArgumentError(f"{owner}: evaluator: expected an Evaluator (swiftcompress.utils.TorchEvaluator or "
                                   f"NNI's), got {type(evaluator).__name__} {evaluator!r:.60} without "
                                   f"{', '.join(missing)}")
    return evaluator


def _check_existed_wrappers(existed_wrappers: Any, owner: str) -> None:
    if existed_wrappers is not None:
        raise InvalidArgumentError(f"{owner}: existed_wrappers: NNI's wrapper objects do not exist in swiftcompress; use "
                                   f"{owner}.from_compressor(compressor, config_list) to combine compressors")


def _batches(batches: Any) -> Iterable[Any]:
    if isinstance(batches, (torch.Tensor, dict)):
        return (batches,)
    try:
        return iter(batches)
    except TypeError:
        raise InvalidArgumentError(f"calibrate: expected an iterable of batches (or one tensor / dict), got "
                                   f"{type(batches).__name__}") from None


_distributed.wrap_constructors(Quantizer, _core.SC_MODE_QUANTIZATION)


class PtqQuantizer(Quantizer):
    """Post-training quantization (NNI 3.0's PtqQuantizer): ``calibrate(batches)`` runs the model
    while running min / max observers collect the range of every target; ``compress()`` computes
    the scales and zero points and fake-quantizes the forward from then on.

    ``PtqQuantizer(model, config_list, evaluator=None, existed_wrappers=None,
    is_bias_correction=False)`` (NNI 3.0's signature): with an evaluator, ``compress(max_steps,
    max_epochs)`` calibrates by training through it as NNI does; without one, ``calibrate(batches)``
    then ``compress()``. ``fuse_names`` groups are folded in forward (``_FusedForward``).
    ``is_bias_correction=True`` and ``existed_wrappers`` are not supported (they raise)."""

    _observer = _core.SC_OBSERVER_MINMAX
    _folds_batch_norm = True

    def __init__(self, model: torch.nn.Module, config_list: Sequence[Dict[str, Any]], evaluator: Any = None,
                 existed_wrappers: Any = None, is_bias_correction: bool = False) -> None:
        _check_existed_wrappers(existed_wrappers, "PtqQuantizer")
        if not isinstance(is_bias_correction, bool):
            raise InvalidArgumentError(f"is_bias_correction: expected a bool, got {is_bias_correction!r}")
        if is_bias_correction:
            raise QuantizationError("is_bias_correction=True is not supported by swiftcompress yet (NNI 3.0 corrects "
                                    "each layer's bias by the mean difference of its float and quantized outputs); "
                                    "leave it False")
        self.is_bias_correction = is_bias_correction
        self._calibrating = False
        self._observe_parameters = False  # observed on every forward (training through the evaluator)
        self._compressed = False
        self.is_compressed = False
        super().__init__(model, config_list, evaluator)

    @locked
    def calibrate(self, batches: Any) -> int:
        """Runs the model on each batch under ``torch.no_grad()`` while the observers collect:
        parameter targets (``weight``, ``bias``) are observed from the parameter (once per call: a
        running min / max of an unchanged tensor), ``_input_*`` / ``_output_*`` targets on every
        call of their module. A batch is a tensor (``model(batch)``), a tuple or list of positional
        inputs (``model(*batch)``) or a dict of keyword inputs (``model(**batch)``); ``batches`` is
        an iterable of batches (a list, a generator, a DataLoader yielding inputs), or one tensor or
        dict taken as a single batch. The forward is not quantized while calibrating. May be called
        again, also after compress(): the quantized forward then uses the widened ranges (the core
        computes the parameters from the observers at each call). Returns the number of batches
        run. Thread-safe: calls on one quantizer (and its wrapped forwards) serialize under its lock."""
        if not self._is_wrapped:
            raise StateError("calibrate: the model is not wrapped (call wrap_model() first)")
        count = 0
        self._calibrating = True
        try:
            for target in self._targets:
                if target.kind == "parameter" and target.module_name not in self._folded():
                    value = target.parameter()
                    if value is not None:
                        self._observe(target, value)
            with torch.no_grad():
                for batch in _batches(batches):
                    run_batch(self.bound_model, batch)
                    count += 1
        finally:
            self._calibrating = False
        return count

    @locked
    def compress(self, max_steps: Optional[int] = None, max_epochs: Optional[int] = None
                 ) -> Tuple[torch.nn.Module, CalibrationConfig]:
        """Computes every target's scale and zero point (the core's, from the observed range),
        turns fake quantization on in forward and returns ``(model, calibration_config)`` (see
        get_calibration_config).

        With an evaluator (NNI 3.0's way): ``compress(max_steps, max_epochs)`` first trains the
        model through it (``evaluator.train``; at least one of the two must be given) while every
        forward observes (parameters included, as NNI's track function does) and passes unchanged,
        then runs ``evaluator.evaluate()`` (still observing), then computes the parameters.
        Without an evaluator, calibrate(batches) first; ``max_steps`` / ``max_epochs`` must be None.

        Parameter targets not observed yet are observed from the parameter first. StateError
        names an input / output target that observed nothing; QuantizationError a NaN or
        infinite range."""
        if self.evaluator is not None:
            self._fusion_compress(max_steps, max_epochs)
            return self.bound_model, self.get_calibration_config()
        if max_steps is not None or max_epochs is not None:
            raise InvalidArgumentError("PtqQuantizer.compress without an evaluator calibrates with calibrate(batches): "
                                       "max_steps and max_epochs must be None (or build the quantizer with an evaluator)")
        self._finish()
        return self.bound_model, self.get_calibration_config()

    def _fuse_preprocess(self, evaluator: Any) -> None:
        super()._fuse_preprocess(evaluator)
        self._calibrating = True
        self._observe_parameters = True

    def _fuse_postprocess(self, evaluator: Any) -> None:
        try:
            evaluator.evaluate()
        finally:
            self._calibrating = False
            self._observe_parameters = False
        self._finish()

    def _finish(self) -> None:
        for target in self._targets:
            if target.observed:
                continue
            if target.kind == "parameter" and target.module_name not in self._folded():
                value = target.parameter()
                if value is not None:
                    self._observe(target, value)
                continue
            raise StateError(f"{target.qualified_name} observed no batch: module '{target.module_name}' was not "
                             "called by calibrate(batches); calibrate with data that reaches it, or remove it "
                             "from the config list")
        if self._sharded:  # ranges of sharded parameters reduced over the ranks
            rank, size = _distributed.world()
            self._session.reduce_observers_distributed(rank, size, _distributed.reducer())
        for target in self._targets:
            if target.observed:
                self._quant_params(target)  # a NaN or infinite range fails here, before anything changes
        for target in self._targets:
            target.active = target.observed
        self._compressed = True
        self.is_compressed = True

    def _activation_forward(self, target: _Target, x: Any) -> Any:
        if not isinstance(x, torch.Tensor):
            return x
        if self._calibrating:
            self._observe(target, x)
            return x
        if target.active:
            return self._apply(target, x, _core.SC_APPLY_CLAMP_ROUND)
        return x

    def _folded(self) -> List[str]:
        """The modules whose weight and bias are folded with a batch norm (fuse_names): their
        parameter targets observe the folded values in each calibration forward, as NNI's."""
        return [g[0] for g in self._fusions if any(isinstance(self.bound_model.get_submodule(n),
                                                              torch.nn.modules.batchnorm._BatchNorm) for n in g[1:])]

    def _parameter_forward(self, target: _Target, value: torch.Tensor) -> torch.Tensor:
        if self._observe_parameters or (self._calibrating and target.module_name in self._folded()):
            self._observe(target, value)
        if target.active and not self._calibrating:
            return self._apply(target, value, _core.SC_APPLY_CLAMP_ROUND)
        return value


class _ModeFlag:
    """NNI 3.0's wrapper training flag for one module: installed as the module's instance ``train``
    (so ``model.train()`` / ``model.eval()`` reach it through the usual recursion over children),
    it records the mode and then runs the previous ``train`` (the class's, or an instance one it
    replaced). ``training`` starts True, as a freshly created NNI wrapper module."""

    __slots__ = ("module", "previous", "training")

    def __init__(self, module: torch.nn.Module, previous: Any) -> None:
        self.module = module
        self.previous = previous
        self.training = True

    @classmethod
    def install(cls, module: torch.nn.Module) -> "_ModeFlag":
        flag = cls(module, module.__dict__.get("train"))
        object.__setattr__(module, "train", flag)
        return flag

    def __call__(self, mode: bool = True) -> torch.nn.Module:
        self.training = bool(mode)
        if self.previous is not None:
            return self.previous(mode)
        return type(self.module).train(self.module, mode)

    def remove(self) -> None:
        if self.module.__dict__.get("train") is self:
            if self.previous is None:
                del self.module.__dict__["train"]
            else:
                object.__setattr__(self.module, "train", self.previous)

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_restore_flag, (self.module, self.previous, self.training))


def _restore_flag(module: torch.nn.Module, previous: Any, training: bool) -> _ModeFlag:
    flag = _ModeFlag(module, previous)
    flag.training = training
    return flag


class QATQuantizer(Quantizer):
    """Quantization-aware training (NNI 3.0's QATQuantizer) inside your own training loop:
    ``QATQuantizer(model, config_list, evaluator=None, quant_start_step=0, existed_wrappers=None)``
    (NNI 3.0's signature): with an evaluator ``compress(max_steps, max_epochs)`` trains through it;
    without one call ``step()`` after each optimizer step of your loop.

    On every forward in training mode (``module.training``) each target's moving-average observer
    (decay 0.99, the first batch sets the range) takes the batch, parameters included. A target is
    fake-quantized once a training forward has run at a step >= its start step (the constructor's
    ``quant_start_step``, or the legacy config key ``quant_start_step`` of its config), with
    ``qat_clamp_round``: the gradient is zeroed where ``zp + x / scale`` was clamped and passes
    straight through elsewhere. Before that the target passes unchanged while its observer still
    runs. In eval mode nothing is observed and the targets that have a scale are fake-quantized with
    it (NNI 3.0's behaviour)."""

    _observer = _core.SC_OBSERVER_EMA
    _qat = True

    def __init__(self, model: torch.nn.Module, config_list: Sequence[Dict[str, Any]], evaluator: Any = None,
                 quant_start_step: int = 0, existed_wrappers: Any = None) -> None:
        _check_existed_wrappers(existed_wrappers, "QATQuantizer")
        if isinstance(quant_start_step, bool) or not isinstance(quant_start_step, int):
            raise InvalidArgumentError(f"quant_start_step: expected an int, got {quant_start_step!r}")
        self.quant_start_step = max(quant_start_step, 0)
        self.current_step = 0
        self._mode_flags: Dict[int, _ModeFlag] = {}  # set by wrap_model (the constructor wraps)
        super().__init__(model, config_list, evaluator)

    def _default_start_step(self) -> int:
        return self.quant_start_step

    @locked
    def step(self) -> int:
        """Counts one optimizer step (call it after ``optimizer.step()``); returns the new count."""
        self.current_step += 1
        return self.current_step

    @locked
    def compress(self, max_steps: Optional[int] = None, max_epochs: Optional[int] = None
                 ) -> Tuple[torch.nn.Module, CalibrationConfig]:
        """``(model, get_calibration_config())``. With an evaluator (NNI 3.0's way) it first trains
        ``max_steps`` / ``max_epochs`` through it, counting one step after each optimizer step
        (``evaluator.patch_optimizer_step``). Without one the training happens in your loop with
        step(); ``max_steps`` / ``max_epochs`` must then be None. The model stays fake-quantized."""
        if self.evaluator is not None:
            self._fusion_compress(max_steps, max_epochs)
        elif max_steps is not None or max_epochs is not None:
            raise InvalidArgumentError("QATQuantizer.compress without an evaluator: max_steps and max_epochs must be "
                                       "None (train in your own loop calling step(), or pass an evaluator)")
        return self.bound_model, self.get_calibration_config()

    def _after_step_tasks(self) -> List[Any]:
        return [self.step]

    def wrap_model(self) -> None:
        """As :meth:`Quantizer.wrap_model`; each wrapped module also gets NNI's wrapper training flag
        (:class:`_ModeFlag`): True from the wrap until the next ``train()`` / ``eval()`` reaches
        the module, then the mode given. The observers run while it is True (NNI 3.0's
        ``wrapper.training``): a ``track_forward`` right after wrapping a model left in eval mode
        observes its batch, as NNI's does."""
        was_wrapped = self._is_wrapped
        super().wrap_model()
        if not was_wrapped and self._is_wrapped:
            flags: Dict[int, _ModeFlag] = {}
            for target in self._targets:
                if id(target.module) not in flags:
                    flags[id(target.module)] = _ModeFlag.install(target.module)
            self._mode_flags = flags

    def unwrap_model(self) -> None:
        """As :meth:`Quantizer.unwrap_model`, removing the training flags."""
        was_wrapped = self._is_wrapped
        super().unwrap_model()
        if was_wrapped:
            for flag in self._mode_flags.values():
                flag.remove()
            self._mode_flags = {}

    def _wrapper_training(self, target: _Target) -> bool:
        flag = self._mode_flags.get(id(target.module))
        return flag.training if flag is not None else target.module.training

    def _track(self, target: _Target, x: torch.Tensor, training: bool) -> None:
        if training and not tracing():
            self._observe(target, x)
            if self.current_step >= target.start_step:
                target.active = True

    def _activation_forward(self, target: _Target, x: Any) -> Any:
        if not isinstance(x, torch.Tensor):
            return x
        self._track(target, x, self._wrapper_training(target))
        if target.active:
            return self._apply(target, x, _core.SC_APPLY_QAT_CLAMP_ROUND)
        return x

    def _parameter_forward(self, target: _Target, value: torch.Tensor) -> torch.Tensor:
        self._track(target, value, self._wrapper_training(target))
        if target.active:
            return self._apply(target, value, _core.SC_APPLY_QAT_CLAMP_ROUND)
        return value


from ._training import BNNQuantizer, DoReFaQuantizer, LsqPlusQuantizer, LsqQuantizer  # noqa: E402
