"""Type stubs of swiftcompress._core, the thin CPython extension over include/swiftcompress.h.

A tensor spec is ``(data_ptr, dtype, shape, strides)``: the address of element 0, an SC_DTYPE_*
code, the sizes, and the strides in elements (None: contiguous row-major).
"""
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Type

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
SC_METRIC_WANDA: int
SC_REDUCE_SUM_INT64: int
SC_REDUCE_MIN_FLOAT64: int
SC_REDUCE_MAX_FLOAT64: int
SC_SCHEDULE_LINEAR: int
SC_SCHEDULE_AGP: int
SC_SCHEDULE_NONE: int
# Quantization (include/swiftcompress.h, "Quantization")
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

# Training-aware pruning (_training.c; include/swiftcompress.h, "Training-aware pruning"). Nothing
# is retained; errors raise the status's exception (ShapeError naming the argument, ...).
def wanda_accumulate(norms: TensorSpec, input: TensorSpec, channel_dim: int, reset: bool) -> None: ...
def wanda_metric(weight: TensorSpec, norms: TensorSpec, out: TensorSpec) -> None: ...
# sharded targets (docs/distributed.md): reduce(buffer, op) all-reduces the core's summary in place
def distributed_fail(rank: int, world_size: int, reduce: Callable[[memoryview, int], None]) -> None: ...
def distributed_status(rank: int, world_size: int, failed: bool, mode: int, step: str,
                       reduce: Callable[[memoryview, int], None]) -> None: ...
def taylor_accumulate(buffer: TensorSpec, weight: TensorSpec, gradient: TensorSpec, reset: bool) -> None:
    """buffer = (0 if reset else buffer) + (weight * gradient)^2, elementwise."""
def taylor_average(buffer: TensorSpec, steps: int, out: TensorSpec) -> None:
    """out = buffer / steps (steps >= 1)."""
def slim_metric(factor: TensorSpec, out: TensorSpec) -> None:
    """out = |factor|."""
def slim_penalty(loss: TensorSpec, factors: Sequence[TensorSpec], regular_scale: float, out: TensorSpec) -> None:
    """out = loss + regular_scale * sum ||factor||_1 / len(factors) (one-element loss and out)."""
def slim_penalty_backward(factors: Sequence[TensorSpec], regular_scale: float, grad_output: TensorSpec,
                          grads: Sequence[TensorSpec]) -> None:
    """grads[k] = sign(factors[k]) * (grad_output / len(factors)) * regular_scale."""

# Real quantization and batch-norm folding (_real.c; include/swiftcompress.h, "Real quantization and
# batch-norm folding"). A quantized buffer is raw memory (address, size in bytes) holding the values
# in the tensor's logical row-major order in an SC_QSTORAGE_* layout; 4-bit layouts put value 2k in
# the low nibble of byte k and value 2k+1 in the high nibble (an odd count leaves the last high
# nibble 0).
SC_QSTORAGE_INT8: int
SC_QSTORAGE_UINT8: int
SC_QSTORAGE_INT16: int
SC_QSTORAGE_UINT16: int
SC_QSTORAGE_INT4: int
SC_QSTORAGE_UINT4: int
SC_FOLD_CONV: int
SC_FOLD_LINEAR: int

def qstorage_bytes(storage: int, count: int) -> int:
    """Bytes that ``count`` values take in layout ``storage`` (count, 2 * count, or (count + 1) // 2).
    Raises InvalidArgumentError for an unknown layout."""
def quantize(x: TensorSpec, scale: TensorSpec, zero_point: TensorSpec, bits: int, is_signed: bool, out_ptr: int,
             out_bytes: int, storage: int) -> int:
    """Real quantization with explicit parameters: writes q = round_half_even(clamp(zp + x / scale, qmin, qmax))
    for every element of ``x`` into ``out_bytes`` bytes at ``out_ptr`` (read and written during the call only)
    and returns how many elements were NaN (stored as the zero point). The quantized type is ``intN`` /
    ``uintN`` with N = ``bits``; the scale's shape gives the blocks (one element: per tensor; else x's rank
    with sizes dividing x's). float32 unless x is float64. Raises InvalidArgumentError (bits, storage,
    out_bytes too small), DtypeError (a layout that cannot hold the range), ShapeError (scale shape),
    QuantizationError (a scale that is not finite and > 0, a zero point outside [qmin, qmax])."""
def dequantize(q_ptr: int, q_bytes: int, storage: int, scale: TensorSpec, zero_point: TensorSpec, bits: int,
               is_signed: bool, out: TensorSpec) -> None:
    """Writes (q - zp) * scale for the ``out``-element-count values at ``q_ptr`` into ``out`` (its shape gives
    the blocks). Errors as quantize."""
def fold_batch_norm(layer: int, weight: TensorSpec, bias: Optional[TensorSpec], bn_weight: Optional[TensorSpec],
                    bn_bias: Optional[TensorSpec], running_mean: TensorSpec, running_var: TensorSpec, eps: float,
                    folded_weight: TensorSpec, folded_bias: TensorSpec) -> None:
    """Folds a batch norm (eval mode) into the conv (SC_FOLD_CONV) or linear (SC_FOLD_LINEAR) layer before it:
    folded_weight[c] = weight[c] * gamma[c] / sqrt(var[c] + eps), folded_bias as NNI 3.0's fuse_conv_bn /
    fuse_linear_bn (float32, NNI's operation order). None bias / bn_weight / bn_bias: 0 / 1 / 0. The folded
    buffers may be the weight and bias themselves. Raises InvalidArgumentError (layer, eps), ShapeError
    (vectors without C elements, a folded weight of another shape), DtypeError."""

class Session:
    """One model's modules, one config list, its resolved targets and the bound buffers.

    Not thread-safe (a call while another runs with the GIL released raises RuntimeError; the
    package's pruners, quantizers and distillers serialize their calls with a lock instead). Bound
    buffers must stay valid while bound: pass the objects that own them as ``keepalive``; the
    session holds them for as long as the core holds the pointers: until the target is bound again,
    an accepted set_config, an add_modules / add_modules_json that discarded the resolved targets,
    or close(). A refused call (set_config, bind, bind_metric, bind_student, add_modules) keeps the
    earlier bindings and their objects. add_modules raises InvalidArgumentError naming the item for
    a name (module, type, forward argument) that is not a str, holds a NUL or a lone surrogate."""

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
    def set_schedule(self, schedule: int, step: int, total_steps: int) -> None:
        """Scales every target's goals by SC_SCHEDULE_LINEAR / SC_SCHEDULE_AGP at ``step`` of
        ``total_steps`` for the next generate_masks; schedule -1 restores the config's goals."""
    def metric_shape(self, module_name: str, target_name: str, shape: Sequence[int], level_default: bool) -> Tuple[int, ...]:
        """The target's metric (block) shape for a tensor of ``shape``, NNI's keepdim shape."""
    def generate_masks(self, metric: int) -> None: ...
    def bind_shard(self, module_name: str, target_name: str, local_shape: Sequence[int], global_shape: Sequence[int],
                   offsets: Sequence[int], counted: bool) -> None: ...
    def generate_masks_distributed(self, metric: int, rank: int, world_size: int,
                                   reduce: Callable[[memoryview, int], None]) -> Tuple[int, int]: ...
    def reduce_observers_distributed(self, rank: int, world_size: int,
                                     reduce: Callable[[memoryview, int], None]) -> Tuple[int, int]: ...
    def observe_distributed(self, module_name: str, target_name: str, batch: TensorSpec, observer: int, rank: int,
                            world_size: int, reduce: Callable[[memoryview, int], None]) -> Tuple[int, int]: ...
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
    # Real quantization (sessions created with SC_MODE_QUANTIZATION; src/_real.c).
    def quantize(self, module_name: str, target_name: str, x: TensorSpec, out_ptr: int, out_bytes: int,
                 storage: int) -> int:
        """Real quantization of ``x`` with the scale and zero point of the target's observer (blocks from its
        granularity) into ``out_bytes`` bytes at ``out_ptr`` in layout ``storage``; returns the NaN count.
        Raises StateError before the target observed a batch, DtypeError for a layout that cannot hold its
        quant_dtype, InvalidArgumentError (storage, out_bytes too small), ShapeError, QuantizationError."""
    def dequantize(self, module_name: str, target_name: str, q_ptr: int, q_bytes: int, storage: int,
                   out: TensorSpec) -> None:
        """Writes (q - zp) * scale for the values at ``q_ptr`` into ``out`` with the target's observed
        parameters. Errors as quantize."""

# Training-time quantizers (src/_quant_train.c; include/swiftcompress.h "Training-time quantizers").
SC_TRAIN_LSQ: int
SC_TRAIN_LSQ_PLUS: int
SC_TRAIN_DOREFA: int
SC_TRAIN_BNN: int

def trainable_initial_params(method: int, qmin: int, qmax: int) -> Tuple[float, float]: ...
def lsq_forward(x: Any, scale: Any, zero_point: Optional[Any], qmin: int, qmax: int, out: Any) -> None: ...
def lsq_backward(x: Any, scale: Any, zero_point: Optional[Any], qmin: int, qmax: int, grad_output: Any,
                 grad_input: Optional[Any], grad_scale: Any, grad_zero_point: Optional[Any]) -> None: ...
def dorefa_weight_forward(weight: Any, scale: float, zero_point: float, qmin: int, qmax: int, out: Any) -> None: ...
def dorefa_weight_backward(weight: Any, grad_output: Any, grad_input: Any) -> None: ...
def dorefa_output_forward(x: Any, scale: float, zero_point: float, qmin: int, qmax: int, out: Any,
                          gradient_mask: Optional[Any]) -> None: ...
def binarize(x: Any, clip_outside: bool, out: Any, gradient_mask: Optional[Any]) -> None: ...
def clamp_in_place(x: Any, lo: float, hi: float) -> None: ...
def fold_batch_norm_backward(layer: int, weight: Any, bias: Optional[Any], bn_weight: Optional[Any], running_mean: Any,
                             running_var: Any, eps: float, grad_folded_weight: Any, grad_folded_bias: Optional[Any],
                             grad_weight: Any, grad_bias: Optional[Any], grad_bn_weight: Optional[Any],
                             grad_bn_bias: Optional[Any]) -> None: ...

# Graph analysis (_graph.c; include/swiftcompress.h, "Graph analysis: dependency groups and shrink plans").
# A graph is a capsule owning an sc_graph; node kinds are graph_op_codes()'s values.
def graph_create() -> Any:
    """An empty sc_graph (freed with the returned object)."""
def graph_add_node(graph: Any, name: str, op: int, inputs: Sequence[int], shape: Sequence[int],
                   attrs: Sequence[int]) -> int:
    """sc_graph_add_node: appends a node, returns its index (InvalidArgumentError for a bad description)."""
def graph_set_mask(graph: Any, node: int, weight_mask: TensorSpec, bias_mask: Optional[TensorSpec]) -> None:
    """sc_graph_set_mask: a conv / linear / embedding node's masks (read during the call)."""
def graph_groups(graph: Any) -> List[List[int]]:
    """The dependency groups (node indices), sc_graph_dependency_groups / sc_graph_group_members."""
def graph_node_group(graph: Any, node: int) -> Tuple[int, int]:
    """(group or -1, internal_metric_block or 0), sc_graph_node_group."""
def graph_plan(graph: Any, node: int, which: int) -> Optional[List[int]]:
    """sc_graph_shrink_plan: kept output (which=OUTPUT) / input (INPUT) indices; None when untracked."""
def graph_shrunk_attrs(graph: Any, node: int) -> List[int]:
    """sc_graph_shrunk_attrs: the node's attributes after shrinking."""
def graph_report(graph: Any) -> str:
    """sc_graph_report's JSON (groups with members and tied_by; per node kept indices)."""
def graph_config_list(graph: Any, config_list_json: str, report_configs_json: str) -> str:
    """sc_graph_config_list's JSON: NNI's auto_set_denpendency_group_ids config list."""
def graph_cost(graph: Any) -> Tuple[int, int, List[int], List[int]]:
    """sc_graph_cost: (total FLOPs, total params, per-node FLOPs, per-node params), NNI's default mode."""
def graph_op_codes() -> Dict[str, int]:
    """SC_GRAPH_OP_* by lower-case name, and "OUTPUT" / "INPUT" (SC_GRAPH_OUTPUT / SC_GRAPH_INPUT)."""
