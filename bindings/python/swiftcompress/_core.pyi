"""Type stubs of swiftcompress._core, the thin CPython extension over include/swiftcompress.h.

A tensor spec is ``(data_ptr, dtype, shape, strides)``: the address of element 0, an SC_DTYPE_*
code, the sizes, and the strides in elements (None: contiguous row-major).
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Type

TensorSpec = Tuple[int, int, Sequence[int], Optional[Sequence[int]]]

SC_VERSION_NUMBER: int
SC_OK: int
SC_ERROR_NULL_POINTER: int
SC_ERROR_INVALID_ARGUMENT: int
SC_ERROR_INVALID_JSON: int
SC_ERROR_CONFIG: int
SC_ERROR_UNKNOWN_NAME: int
SC_ERROR_SHAPE: int
SC_ERROR_DTYPE: int
SC_ERROR_STATE: int
SC_ERROR_PRUNING: int
SC_ERROR_INTERNAL: int
SC_DTYPE_FLOAT32: int
SC_DTYPE_FLOAT64: int
SC_DTYPE_FLOAT16: int
SC_DTYPE_BFLOAT16: int
SC_MAX_NDIM: int
SC_MODE_PRUNING: int
SC_MODE_QUANTIZATION: int
SC_MODE_DISTILLATION: int
SC_METRIC_LEVEL: int
SC_METRIC_L1: int
SC_METRIC_L2: int
SC_METRIC_FPGM: int
SC_METRIC_SUPPLIED: int
SC_SCHEDULE_LINEAR: int
SC_SCHEDULE_AGP: int
# Quantization (include/swiftcompress.h, "Quantization")
SC_ERROR_QUANTIZATION: int
SC_OBSERVER_MINMAX: int  # running min / max over all batches (PtqQuantizer)
SC_OBSERVER_EMA: int  # moving average, decay 0.99; the first batch sets the range (QATQuantizer)
SC_APPLY_CLAMP_ROUND: int  # 'clamp_round': fake quantization, gradient mask all 1
SC_APPLY_QAT_CLAMP_ROUND: int  # 'qat_clamp_round': fake quantization, mask 0 where zp + x / scale was clamped
SC_APPLY_BYPASS: int  # 'bypass': out = x, mask all 1

def version_number() -> int:
    """The loaded libswiftcompress.so's SC_VERSION_NUMBER."""
def version_string() -> str:
    """The loaded library's version, "MAJOR.MINOR.PATCH"."""
def status_name(status: int) -> str:
    """The constant name of a status code ("SC_ERROR_CONFIG", ...)."""
def set_error_classes(classes: Dict[int, Type[BaseException]]) -> None:
    """The exception class raised for each status (others raise RuntimeError)."""
def apply_mask(mask: TensorSpec, target: TensorSpec, method: int) -> None:
    """Applies ``mask`` to ``target`` in place: method 0 multiplies, 1 subtracts 1000 where mask != 1."""
def sparsity_schedule(schedule: int, ratio: float, step: int, total_steps: int) -> float:
    """The sparse ratio at ``step`` of ``total_steps`` (SC_SCHEDULE_LINEAR or SC_SCHEDULE_AGP)."""

class Session:
    """One model's modules, one config list, its resolved targets and the bound buffers.

    Not thread-safe (a concurrent call raises RuntimeError). Bound buffers must stay valid while
    bound: pass the objects that own them as ``keepalive``; the session holds them until the target
    is bound again, the config or modules change, or close()."""

    closed: bool
    def __init__(self, mode: int = ...) -> None: ...
    def close(self) -> None: ...
    def add_modules(self, modules: Sequence[Tuple[str, str, Optional[Sequence[str]]]]) -> None: ...
    def add_modules_json(self, text: str) -> None: ...
    def set_config(self, json_text: str) -> None: ...
    def targets(self) -> List[Tuple[str, str]]: ...
    def target_settings(self, index: int) -> str: ...
    def report(self, table: bool = ...) -> str: ...
    def bind(self, module_name: str, target_name: str, tensor: Optional[TensorSpec], mask: Optional[TensorSpec],
             keepalive: Any = ...) -> None: ...
    def bind_metric(self, module_name: str, target_name: str, metric: TensorSpec, keepalive: Any = ...) -> None: ...
    def generate_masks(self, metric: int) -> None: ...
    def apply_masks(self) -> None: ...
    # -- quantization (SC_MODE_QUANTIZATION sessions; _quant.c). Nothing is retained: buffers are
    # read or written during the call only. Errors: StateError (no config, wrong mode, no batch
    # observed yet), UnknownNameError, DtypeError, ShapeError, QuantizationError (settings rejected,
    # a granularity that does not fit, a NaN or infinite tracked range), InvalidArgumentError.
    def observe(self, module_name: str, target_name: str, batch: TensorSpec, observer: int) -> None:
        """Folds one batch into the target's observer: per-block min / max of ``batch``, combined as
        ``observer`` says (SC_OBSERVER_MINMAX: running min / max; SC_OBSERVER_EMA: moving average,
        decay 0.99). The first batch fixes the observer kind and the scale shape. GIL released."""
    def scale_shape(self, module_name: str, target_name: str) -> Tuple[int, ...]:
        """NNI's shape of the target's scale: ``()`` per tensor, keepdim otherwise (``(64, 1, 1, 1)``
        per channel of a conv weight). StateError before the first observed batch."""
    def quant_params(self, module_name: str, target_name: str, scale: TensorSpec, zero_point: TensorSpec,
                     tracked_min: Optional[TensorSpec] = ..., tracked_max: Optional[TensorSpec] = ...) -> None:
        """Writes the scale and zero point computed from the tracked range (and the tracked range
        itself when its buffers are given); every buffer has exactly the scale shape, any dtype."""
    def fake_quantize(self, module_name: str, target_name: str, x: TensorSpec, out: TensorSpec,
                      gradient_mask: Optional[TensorSpec] = ..., apply_method: Optional[int] = ...) -> None:
        """Writes the target's apply_method of ``x`` into ``out`` (x's shape; may be ``x`` itself), and
        the straight-through gradient mask into ``gradient_mask`` when given (1 keep, 0 where
        'qat_clamp_round' clamped). ``apply_method`` (SC_APPLY_*) replaces the target's own setting
        (sc_session_fake_quantize_as). GIL released."""
    def quant_range(self, module_name: str, target_name: str) -> Tuple[int, bool, int, int]:
        """``(bits, signed, qmin, qmax)`` of the target's quant_dtype."""
