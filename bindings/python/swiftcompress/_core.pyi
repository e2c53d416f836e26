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
SC_ERROR_DISTILLATION: int
SC_ERROR_QUANTIZATION: int
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
SC_OBSERVER_MINMAX: int
SC_OBSERVER_EMA: int

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
    # Distillation (sessions created with SC_MODE_DISTILLATION; src/_distill.c).
    def add_teacher_modules(self, names: Sequence[str]) -> None:
        """Adds the teacher's module names (named_modules() order, "" for the root); from then on
        distill() checks every link against them (DistillationError naming the link and close names).
        Names added before a failing one (a duplicate; InvalidArgumentError) stay added. A name holding a NUL
        character raises InvalidArgumentError (the C ABI would read it cut short); not a str: TypeError."""
    def target_links(self, index: int) -> List[str]:
        """The teacher module names of resolved target ``index`` ('auto' resolved to the student module's
        own name). DistillationError for invalid settings, StateError without a config."""
    def bind_student(self, module_name: str, target_name: str, student: TensorSpec, gradient: Optional[TensorSpec],
                     keepalive: Any = ...) -> None:
        """Binds a target's student tensor (read by distill()) and optionally the buffer d(loss)/d(student)
        is written into (same shape, any supported dtype and non-overlapping strides). Unbinds the
        target's teachers. ``keepalive`` is held until the student is bound again, the config or modules
        change, or close(). UnknownNameError, ShapeError, DtypeError, StateError."""
    def bind_teacher(self, module_name: str, target_name: str, link: int, teacher: Optional[TensorSpec],
                     keepalive: Any = ...) -> None:
        """Binds the teacher tensor of link ``link`` (index into target_links()) of a target whose student
        is bound (StateError otherwise); None unbinds it (the link is skipped, as NNI skips an unrecorded
        teacher). ``keepalive`` is held until the student is bound again (or the teacher unbound)."""
    def distill(self) -> Tuple[float, List[float]]:
        """``(total, [per-target loss])``: per target the smallest lambda * loss over its bound links
        (0 with none), the total their sum; writes d(total)/d(student) into the gradient buffers. Every
        target's student must be bound. The GIL is released meanwhile. Errors (nothing written): StateError
        (no config, an unbound student), ShapeError (a teacher or gradient of another shape than its student,
        an empty student, more than 2^40 elements, a 'kl' student whose last dim exceeds 2^28), DistillationError (settings; a link
        naming no teacher module)."""
