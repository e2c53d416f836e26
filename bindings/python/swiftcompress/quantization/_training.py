"""NNI 3.0's training-time quantizers: LsqQuantizer, LsqPlusQuantizer, DoReFaQuantizer, BNNQuantizer.

    from swiftcompress.quantization import LsqQuantizer      # was: nni.compression.quantization
    evaluator = TorchEvaluator(training_func, optimizer, training_step)
    quantizer = LsqQuantizer(model, config_list, evaluator)
    model, calibration_config = quantizer.compress(max_steps=100, max_epochs=None)

Every value and gradient is the core's (include/swiftcompress.h, "Training-time quantizers";
``TrainableQuantization`` in the Swift core): each quantizer applies a ``torch.autograd.Function``
whose forward and backward hand the tensors to ``_core`` and return the buffers the core wrote.
Python only allocates those buffers (``empty_like``), wires the hooks and the evaluator, and copies
the core's initial values into the learnable parameters.

Contract (NNI 3.0's; decisions in docs/quantization.md, "Training-time quantizers"):

- ``Quantizer(model, config_list, evaluator)``; ``compress(max_steps, max_epochs)`` trains through
  the evaluator (``evaluator.train``) and returns ``(model, calibration_config)``. Without an
  evaluator the quantized forward works in your own loop; call ``step()`` after each optimizer
  step (NNI's optimizer task: it ends the initialisation phase, and BNN clips its weights).
- Scale and zero point are per tensor (NNI's default for these quantizers); another granularity
  raises QuantizationError naming the target.
- LSQ / LSQ+: the learnable ``scale`` (and LSQ+ ``zero_point``) of each target are
  ``torch.nn.Parameter`` s of shape ``[1]`` (float32, on the module's device) held by the
  quantizer (``quantizer.learnable_parameters()``); compress() adds them to the evaluator's
  optimizers with ``patch_optim_param_group`` as NNI does. Until the first optimizer step every
  forward resets them to NNI's initial values (scale 0.01; LSQ+ zero point (qmax - qmin) / 2).
- DoReFa: weights get ``dorefa_clamp_round_weight``, outputs of activation modules
  ``dorefa_clamp_round_output``, with the affine parameters of [0, 1]. Not done (raise
  QuantizationError): input targets, and NNI's gradient quantization backward hook (random noise
  on the output gradient of modules with only weight targets): see docs.
- BNN: ``sign`` with sign(0) = 1, the gradient straight through (outputs: zeroed where |x| > 1);
  after each optimizer step the parameter targets are clipped to [-1, 1] by the core.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import torch

from .. import _core
from .._tensors import check_tensor, host, spec
from ..errors import InvalidArgumentError, QuantizationError
from . import CalibrationConfig, Quantizer, _check_existed_wrappers, _Target

__all__ = ["LsqQuantizer", "LsqPlusQuantizer", "DoReFaQuantizer", "BNNQuantizer"]


def _out(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x, memory_format=torch.contiguous_format)


def _back(result: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return result if result.device == like.device else result.to(like.device)


class _Lsq(torch.autograd.Function):
    """LSQ (zero_point None) / LSQ+ fake quantization: forward and backward by the core."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: torch.Tensor, zero_point: Optional[torch.Tensor],  # type: ignore[override]
                qmin: int, qmax: int) -> torch.Tensor:
        xs, ss = host(x.detach()), host(scale.detach())
        zs = None if zero_point is None else host(zero_point.detach())
        out = _out(xs)
        _core.lsq_forward(spec(xs), spec(ss), None if zs is None else spec(zs), qmin, qmax, spec(out))
        ctx.save_for_backward(x, scale, zero_point)
        ctx.qmin, ctx.qmax = qmin, qmax
        return _back(out, x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[Any, ...]:  # type: ignore[override]
        x, scale, zero_point = ctx.saved_tensors
        xs, ss, gs = host(x.detach()), host(scale.detach()), host(grad.detach().contiguous())
        zs = None if zero_point is None else host(zero_point.detach())
        grad_x = _out(xs)
        grad_scale = torch.empty_like(ss)
        grad_zp = None if zs is None else torch.empty_like(zs)
        _core.lsq_backward(spec(xs), spec(ss), None if zs is None else spec(zs), ctx.qmin, ctx.qmax, spec(gs),
                           spec(grad_x), spec(grad_scale), None if grad_zp is None else spec(grad_zp))
        return (_back(grad_x, x), _back(grad_scale, scale), None if grad_zp is None else _back(grad_zp, zero_point),
                None, None)


class _DoReFaWeight(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, w: torch.Tensor, scale: float, zero_point: float, qmin: int, qmax: int  # type: ignore[override]
                ) -> torch.Tensor:
        ws = host(w.detach())
        out = _out(ws)
        _core.dorefa_weight_forward(spec(ws), scale, zero_point, qmin, qmax, spec(out))
        ctx.save_for_backward(w)
        return _back(out, w)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[Any, ...]:  # type: ignore[override]
        (w,) = ctx.saved_tensors
        ws, gs = host(w.detach()), host(grad.detach().contiguous())
        grad_w = _out(ws)
        _core.dorefa_weight_backward(spec(ws), spec(gs), spec(grad_w))
        return _back(grad_w, w), None, None, None, None


class _Masked(torch.autograd.Function):
    """An output the core computed together with a gradient mask: backward multiplies by it
    (the one torch operation of the autograd glue, as in the PTQ / QAT path)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, kind: str, scale: float, zero_point: float, qmin: int,  # type: ignore[override]
                qmax: int, clip: bool) -> torch.Tensor:
        xs = host(x.detach())
        out, mask = _out(xs), _out(xs)
        if kind == "dorefa_output":
            _core.dorefa_output_forward(spec(xs), scale, zero_point, qmin, qmax, spec(out), spec(mask))
        else:
            _core.binarize(spec(xs), clip, spec(out), spec(mask))
        ctx.save_for_backward(_back(mask, x))
        return _back(out, x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[Any, ...]:  # type: ignore[override]
        (mask,) = ctx.saved_tensors
        return grad * mask, None, None, None, None, None, None


class _TrainingQuantizer(Quantizer):
    """Base of the four: per-target quantization range and parameters, the evaluator hooks, the
    optimizer task (``step()``)."""

    _method: int = -1

    def __init__(self, model: torch.nn.Module, config_list: Sequence[Dict[str, Any]], evaluator: Any = None,
                 existed_wrappers: Any = None) -> None:
        _check_existed_wrappers(existed_wrappers, type(self).__name__)
        self.is_init = False
        self._ranges: Dict[int, Tuple[int, int]] = {}
        self._params: Dict[int, Tuple[Any, Any]] = {}
        super().__init__(model, config_list, evaluator)
        for target in self._targets:
            granularity = target.facts.get("granularity")
            if granularity != "per_tensor":
                raise QuantizationError(f"{target.qualified_name}: granularity {granularity!r}: {type(self).__name__} "
                                        "supports a per-tensor scale only (leave granularity unset)")
            _, _, qmin, qmax = self._session.quant_range(target.module_name, target.target_name)
            self._ranges[id(target)] = (qmin, qmax)
            self._validate(target)
            self._params[id(target)] = self._initial_parameters(target)

    # subclasses --------------------------------------------------------------------------------

    def _validate(self, target: _Target) -> None:
        pass

    def _initial_parameters(self, target: _Target) -> Tuple[Any, Any]:
        scale, zero_point = _core.trainable_initial_params(self._method, *self._ranges[id(target)])
        return scale, zero_point

    def _quantize(self, target: _Target, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    # wiring ------------------------------------------------------------------------------------

    def _activation_forward(self, target: _Target, x: Any) -> Any:
        if not isinstance(x, torch.Tensor):
            return x
        check_tensor(x, target.qualified_name, "quantize")
        return self._quantize(target, x)

    def _parameter_forward(self, target: _Target, value: torch.Tensor) -> torch.Tensor:
        check_tensor(value, target.qualified_name, "quantize")
        return self._quantize(target, value)

    def step(self) -> None:
        """NNI's optimizer task, run after each optimizer step (compress() registers it with the
        evaluator; call it yourself in your own loop): ends the initialisation phase."""
        self.is_init = True

    def _after_step_tasks(self) -> List[Any]:
        return [self.step]

    def compress(self, max_steps: Optional[int] = None, max_epochs: Optional[int] = None
                 ) -> Tuple[torch.nn.Module, CalibrationConfig]:
        """Trains ``max_steps`` / ``max_epochs`` through the evaluator (NNI's ``compress``) and returns
        ``(model, calibration_config)``; without an evaluator both must be None and it only returns."""
        if self.evaluator is not None:
            self._fusion_compress(max_steps, max_epochs)
        elif max_steps is not None or max_epochs is not None:
            raise InvalidArgumentError(f"{type(self).__name__}.compress without an evaluator: max_steps and max_epochs "
                                       "must be None (train in your own loop calling step(), or pass an evaluator)")
        return self.bound_model, self.get_calibration_config()

    def _scale_zero_point(self, target: _Target) -> Tuple[torch.Tensor, torch.Tensor]:
        scale, zero_point = self._params[id(target)]
        as_tensor = (lambda v: v.detach().clone() if isinstance(v, torch.Tensor) else torch.tensor(v))
        return as_tensor(scale), as_tensor(zero_point)

    def get_calibration_config(self) -> CalibrationConfig:
        """``{module_name: {target_name: {'scale', 'zero_point', 'quant_dtype', 'quant_scheme',
        'quant_bits', 'tracked_max', 'tracked_min'}}}`` (a defaultdict), NNI's keys: CPU copies of the
        scale and zero point (float32; LSQ / LSQ+ shape ``[1]``, DoReFa / BNN ``[]``) and, as NNI
        reports for a target without tracked values, ``tracked_max = scale * (qmax - zero_point)``
        and ``tracked_min = scale * (qmin - zero_point)`` of the scale's shape, computed by the core
        (``sc_trainable_tracked_range``)."""
        config: CalibrationConfig = defaultdict(dict)
        for target in self._targets:
            bits, _, qmin, qmax = self._session.quant_range(target.module_name, target.target_name)
            scale, zero_point = self._scale_zero_point(target)
            tracked_min, tracked_max = torch.empty_like(scale), torch.empty_like(scale)
            _core.trainable_tracked_range(spec(scale), spec(zero_point), qmin, qmax, spec(tracked_min),
                                          spec(tracked_max))
            config[target.module_name][target.target_name] = {
                "scale": scale, "zero_point": zero_point, "quant_dtype": target.facts["quant_dtype"],
                "quant_scheme": target.facts["quant_scheme"], "quant_bits": bits,
                "tracked_max": tracked_max, "tracked_min": tracked_min}
        return config

    def update_calibration_config(self, calibration_config: CalibrationConfig) -> None:
        """NNI's ``update_calibration_config``: copies each given target's ``scale`` and
        ``zero_point`` into the quantizer's (learnable parameters keep their identity, so the
        optimizer keeps them). InvalidArgumentError names an unknown module or target, a missing key,
        or a ``quant_bits`` / ``quant_dtype`` / ``quant_scheme`` that differs from the target's."""
        by_name = {(t.module_name, t.target_name): t for t in self._targets}
        for module_name, targets in calibration_config.items():
            for target_name, entry in targets.items():
                target = by_name.get((module_name, target_name))
                if target is None:
                    raise InvalidArgumentError(f"calibration_config[{module_name!r}][{target_name!r}]: not a target of "
                                               "this quantizer")
                bits, _, _, _ = self._session.quant_range(module_name, target_name)
                for key, mine in (("quant_bits", bits), ("quant_dtype", target.facts["quant_dtype"]),
                                  ("quant_scheme", target.facts["quant_scheme"])):
                    if key in entry and entry[key] != mine:
                        raise InvalidArgumentError(f"calibration_config[{module_name!r}][{target_name!r}][{key!r}] is "
                                                   f"{entry[key]!r}; the target's is {mine!r}")
                for key in ("scale", "zero_point"):
                    if key not in entry:
                        raise InvalidArgumentError(f"calibration_config[{module_name!r}][{target_name!r}]: no {key!r}")
                self._set_parameters(target, entry["scale"], entry["zero_point"])

    def _set_parameters(self, target: _Target, scale: Any, zero_point: Any) -> None:
        old_scale, old_zp = self._params[id(target)]
        self._params[id(target)] = (_assign(old_scale, scale), _assign(old_zp, zero_point))


def _assign(old: Any, new: Any) -> Any:
    if isinstance(old, torch.nn.Parameter):
        with torch.no_grad():
            value = torch.as_tensor(new, dtype=old.dtype, device=old.device)
            old.copy_(value.reshape(old.shape) if value.numel() == old.numel() else value)
        return old
    return float(new) if not isinstance(new, torch.Tensor) else float(new.reshape(-1)[0])


def _module_device(module: torch.nn.Module) -> torch.device:
    for t in list(module.parameters()) + list(module.buffers()):
        return t.device
    return torch.device("cpu")


class LsqQuantizer(_TrainingQuantizer):
    """NNI 3.0's LsqQuantizer (learned step size): ``LsqQuantizer(model, config_list, evaluator)``.
    Each target is fake-quantized as ``round(clamp(x / s, qmin, qmax)) * s`` with a learnable
    per-tensor scale ``s`` (a ``[1]`` float32 Parameter, 0.01 until the first optimizer step);
    the gradients are LSQ's (input straight through inside the range; the scale's with the
    grad-scale factor 1 / sqrt(qmax * numel)), computed by the core. NNI's warnings for a
    non-symmetric scheme and an unsigned parameter dtype are logged the same way."""

    _method = _core.SC_TRAIN_LSQ
    _learns_zero_point = False

    def _validate(self, target: _Target) -> None:
        from .._session import logger
        if target.facts["quant_scheme"] != "symmetric":
            logger.warning(f"LsqQuantizer only supports symmetric mode, but got {target.facts['quant_scheme']}")
        if target.facts["quant_dtype"].startswith("uint") and target.kind == "parameter":
            logger.warning("In the LsqQuantizer, quantization of parameters only supports int type")

    def _initial_parameters(self, target: _Target) -> Tuple[Any, Any]:
        scale, zero_point = super()._initial_parameters(target)
        device = _module_device(target.module)
        s = torch.nn.Parameter(torch.tensor([scale], dtype=torch.float32, device=device))
        z: Any = (torch.nn.Parameter(torch.tensor([zero_point], dtype=torch.float32, device=device))
                  if self._learns_zero_point else zero_point)
        return s, z

    def learnable_parameters(self) -> Dict[str, List[torch.nn.Parameter]]:
        """``{module_name: [scale (, zero_point), ...]}``: the Parameters compress() adds to the
        evaluator's optimizers (NNI's ``patch_optimizer_param_group``); add them to your own
        optimizer when training without an evaluator."""
        out: Dict[str, List[torch.nn.Parameter]] = {}
        for target in self._targets:
            scale, zero_point = self._params[id(target)]
            group = out.setdefault(target.module_name, [])
            group.append(scale)
            if isinstance(zero_point, torch.nn.Parameter):
                group.append(zero_point)
        return out

    def _extra_parameters(self) -> Dict[str, List[torch.nn.Parameter]]:
        extra = super()._extra_parameters()  # fused biases, as NNI
        for name, params in self.learnable_parameters().items():
            extra.setdefault(name, []).extend(params)
        return extra

    def _reset(self, target: _Target) -> None:
        """Before the first optimizer step NNI resets the parameters on every forward."""
        scale, zero_point = self._params[id(target)]
        initial_scale, initial_zp = _core.trainable_initial_params(self._method, *self._ranges[id(target)])
        with torch.no_grad():
            scale.fill_(initial_scale)
            if isinstance(zero_point, torch.nn.Parameter):
                zero_point.fill_(initial_zp)

    def _quantize(self, target: _Target, x: torch.Tensor) -> torch.Tensor:
        if not self.is_init:
            self._reset(target)
        scale, zero_point = self._params[id(target)]
        qmin, qmax = self._ranges[id(target)]
        return _Lsq.apply(x, scale, zero_point if isinstance(zero_point, torch.nn.Parameter) else None, qmin, qmax)


class LsqPlusQuantizer(LsqQuantizer):
    """NNI 3.0's LsqPlusQuantizer: LSQ with a learnable zero point,
    ``(round(clamp(x / s + zp, qmin, qmax)) - zp) * s``; scale 0.01 and zero point
    (qmax - qmin) / 2 until the first optimizer step (NNI's initialisation); the zero point's
    gradient is ``-s * g`` where the value was clamped. Warns (as NNI) for a non-affine scheme."""

    _method = _core.SC_TRAIN_LSQ_PLUS
    _learns_zero_point = True

    def _validate(self, target: _Target) -> None:
        from .._session import logger
        if target.facts["quant_scheme"] != "affine":
            logger.warning(f"LsqPlusQuantizer only supports affine mode, but got {target.facts['quant_scheme']}")


_ACTIVATIONS = ("ReLU", "RReLU", "LeakyReLU", "PReLU", "Softplus", "ELU", "CELU", "SELU", "GELU", "ReLU6", "Sigmoid",
                "Tanh", "Softsign", "Hardtanh", "Threshold", "Tanhshrink", "Softshrink", "Hardshrink", "LogSigmoid",
                "Softmin", "Softmax", "LogSoftmax", "Hardswish")


class _StraightInput(torch.autograd.Function):
    """DoReFa's input quantization (the batch's own scale and zero point, by the core); the
    gradient passes straight through (NNI's ClampRound)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, quantizer: Any, target: _Target, qmin: int, qmax: int,  # type: ignore[override]
                symmetric: bool) -> torch.Tensor:
        xs = host(x.detach())
        out = _out(xs)
        scale, zero_point = _core.dorefa_input_forward(spec(xs), qmin, qmax, symmetric, spec(out))
        quantizer._params[id(target)] = (scale, zero_point)  # the target's calibration values until the next batch
        return _back(out, x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Tuple[Any, ...]:  # type: ignore[override]
        return grad, None, None, None, None, None


class DoReFaQuantizer(_TrainingQuantizer):
    """NNI 3.0's DoReFaQuantizer: weights ``2 * Q(tanh(w) / (2 max|tanh w|) + 0.5) - 1``, activation
    outputs ``Q(clamp(x, 0, 1))``, ``Q`` the fake quantization with the affine scale and zero point
    of [0, 1], and inputs ``clamp_round`` with the scale and zero point of each batch's own range
    (NNI's ``update_scale_zp``, on every forward); gradients straight through the rounding (through
    tanh and the maximum for weights). During ``compress`` a module whose weight but not output is
    quantized gets NNI's gradient quantization (a full backward pre-hook: each incoming gradient
    quantized per sample with uniform noise drawn from torch's generator as NNI draws it; removed by
    ``unwrap_model``). All values computed by the core. Errors (QuantizationError, naming the
    target): a config without ``quant_scheme`` (NNI asserts), an output target of a module that is
    not an activation (NNI's ValueError)."""

    _method = _core.SC_TRAIN_DOREFA

    def __init__(self, model: torch.nn.Module, config_list: Sequence[Dict[str, Any]], evaluator: Any = None,
                 existed_wrappers: Any = None) -> None:
        self._gradient_hooks: List[Any] = []  # handles of the gradient quantization hooks
        super().__init__(model, config_list, evaluator, existed_wrappers)

    def _validate(self, target: _Target) -> None:
        from .._session import logger
        if target.facts["quant_scheme"] is None:
            raise QuantizationError(f"{target.qualified_name}: DoReFaQuantizer needs quant_scheme set ('affine')")
        if target.kind == "output" and type(target.module).__name__ not in _ACTIVATIONS:
            raise QuantizationError(f"{target.qualified_name}: output quantization is only supported for activation "
                                    f"modules, got {type(target.module).__name__}")
        if target.kind == "parameter" and target.facts["quant_scheme"] != "affine":
            logger.warning(f"Only supports affine mode for weight quantization, bug got {target.facts['quant_scheme']}")

    def _quantize(self, target: _Target, x: torch.Tensor) -> torch.Tensor:
        qmin, qmax = self._ranges[id(target)]
        if target.kind == "input":
            return _StraightInput.apply(x, self, target, qmin, qmax, target.facts["quant_scheme"] == "symmetric")
        scale, zero_point = self._params[id(target)]
        if target.kind == "parameter":
            return _DoReFaWeight.apply(x, scale, zero_point, qmin, qmax)
        return _Masked.apply(x, "dorefa_output", scale, zero_point, qmin, qmax, False)

    def register_output_backward_hook(self) -> None:
        """NNI's ``register_output_backward_hook`` (``compress`` calls it, as NNI's): a full backward
        pre-hook quantizing the incoming gradients on every module with a quantized parameter and no
        quantized output, with the first parameter target's bits and range. Call it yourself when
        training in your own loop; ``unwrap_model`` removes the hooks."""
        by_module: Dict[int, List[_Target]] = {}
        for target in self._targets:
            by_module.setdefault(id(target.module), []).append(target)
        for group in by_module.values():
            if any(t.kind == "output" for t in group):
                continue
            first = next((t for t in group if t.kind == "parameter"), None)
            if first is None:
                continue
            bits, _, qmin, qmax = self._session.quant_range(first.module_name, first.target_name)
            handle = first.module.register_full_backward_pre_hook(_gradient_hook(bits, qmin, qmax))
            self._gradient_hooks.append(handle)

    def _fuse_preprocess(self, evaluator: Any) -> None:
        self.register_output_backward_hook()
        super()._fuse_preprocess(evaluator)

    def unwrap_model(self) -> None:
        """As :meth:`Quantizer.unwrap_model`, also removing the gradient quantization hooks."""
        for handle in self._gradient_hooks:
            handle.remove()
        self._gradient_hooks = []
        super().unwrap_model()


def _gradient_hook(bits: int, qmin: int, qmax: int) -> Callable[..., Any]:
    def quantize_gradients(module: torch.nn.Module, grad_output: Tuple[Any, ...]) -> Tuple[Any, ...]:
        new = []
        for g in grad_output:
            if not isinstance(g, torch.Tensor) or g.dim() == 0:
                new.append(g)
                continue
            # NNI's draw: torch.zeros_like(amax(|g|, dims 1.., keepdim)).uniform_(-0.5, 0.5)
            noise = torch.zeros((g.shape[0],) + (1,) * (g.dim() - 1), dtype=g.dtype, device=g.device).uniform_(-0.5, 0.5)
            gs = host(g.detach())
            out = _out(gs)
            _core.dorefa_gradient(spec(gs), spec(host(noise)), bits, qmin, qmax, spec(out))
            new.append(_back(out, g))
        return tuple(new)
    return quantize_gradients


class BNNQuantizer(_TrainingQuantizer):
    """NNI 3.0's BNNQuantizer: every target becomes ``sign(x)`` (sign(0) = 1), the gradient passes
    straight through (output targets: zeroed where |x| > 1); after each optimizer step the
    parameter targets are clipped to [-1, 1] (NNI's optimizer task). All computed by the core."""

    _method = _core.SC_TRAIN_BNN

    def _quantize(self, target: _Target, x: torch.Tensor) -> torch.Tensor:
        return _Masked.apply(x, "bnn", 1.0, 0.0, 0, 1, target.kind == "output")

    def step(self) -> None:
        """NNI's optimizer task: ends the initialisation and clips every parameter target (an
        ``nn.Parameter``) into [-1, 1] in place, by the core."""
        super().step()
        for target in self._targets:
            if target.kind != "parameter":
                continue
            value = target.parameter()
            if isinstance(value, torch.nn.Parameter):
                with torch.no_grad():
                    work = host(value.data)
                    _core.clamp_in_place(spec(work), -1.0, 1.0)
                    if work is not value.data:
                        value.data.copy_(work)
