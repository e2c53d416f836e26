/*
 * swiftcompress.h — the stable C ABI of libswiftcompress.so.
 *
 * swiftcompress implements the compression config specification (pruning, quantization,
 * distillation; current and legacy formats) with NNI 3.0's behaviour, and writes its results
 * straight into buffers the caller owns. This header is C99 and usable from C++; every entry
 * point is prefixed `sc_` and no Swift type is visible.
 *
 * The flow (pruning):
 *
 *     sc_session *s;
 *     sc_session_create(SC_MODE_PRUNING, &s);
 *     sc_session_add_module(s, "fc1", "Linear", NULL, 0);        // the model's modules
 *     sc_session_set_config(s, "[{\"op_types\": [\"Linear\"], \"sparse_ratio\": 0.5}]", (size_t)-1);
 *     // now the targets are resolved: sc_session_target_count / sc_session_target / report
 *     sc_session_bind(s, "fc1", "weight", &weight_tensor, &mask_tensor);   // caller buffers
 *     sc_session_generate_masks(s, SC_METRIC_LEVEL);             // masks written into mask buffers
 *     sc_session_apply_masks(s);                                  // optional: weight *= mask
 *     sc_session_free(s);
 *
 * Conventions (they hold for every function below unless its comment says otherwise):
 *   - Every function that can fail returns an `int` status: SC_OK (0) on success, one of the
 *     SC_ERROR_* codes otherwise. Outputs are written only on success.
 *   - On failure a readable message is kept: for a call with a session, in that session
 *     (sc_session_last_error); for a call without one (sc_session_create, sc_apply_mask, ...)
 *     in the calling thread (sc_last_error). A successful call does not clear it.
 *   - Strings passed in are NUL-terminated UTF-8 unless a length is given; SC_NUL_TERMINATED
 *     ((size_t)-1) as a length means "NUL-terminated". They are read during the call only and
 *     never retained. Text that is not UTF-8 gives SC_ERROR_INVALID_ARGUMENT.
 *   - Strings and arrays returned through `const char **` / `const int64_t **` are owned by the
 *     library; their lifetime is stated at each function. Never free them.
 *   - A session is not thread-safe: use one session per thread (sessions are independent and
 *     may run concurrently; the library uses its own worker threads inside a call).
 *   - No function aborts the process on bad input: NULL pointers, wrong sizes, wrong dtypes,
 *     invalid JSON and unknown names all return an error status with a message.
 *   - A failing call changes nothing: a failed sc_session_set_config keeps the earlier config and
 *     bindings, a failed sc_session_add_modules_json adds no module.
 *   - A session pointer that was freed (or never created by sc_session_create) is detected: the
 *     call returns SC_ERROR_INVALID_ARGUMENT with the message in sc_last_error(). Freeing it again
 *     does nothing.
 */
#ifndef SWIFTCOMPRESS_H
#define SWIFTCOMPRESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------------------------- */

/* The version this header describes. SC_VERSION_NUMBER is MAJOR*10000 + MINOR*100 + PATCH. */
#define SC_VERSION_MAJOR 0
#define SC_VERSION_MINOR 2
#define SC_VERSION_PATCH 0
#define SC_VERSION_NUMBER (SC_VERSION_MAJOR * 10000 + SC_VERSION_MINOR * 100 + SC_VERSION_PATCH)
#define SC_VERSION_STRING "0.2.0"

/*
 * The version of the library actually loaded, as SC_VERSION_NUMBER. Compare it with the header's
 * to detect a mismatched libswiftcompress.so. Never fails.
 */
int sc_version_number(void);

/* The loaded library's version as "MAJOR.MINOR.PATCH"; a static string, never NULL. */
const char *sc_version_string(void);

/* ---------------------------------------------------------------------------------------------
 * Status codes and errors
 * ------------------------------------------------------------------------------------------- */

/* Status codes. New codes may be added; treat any non-zero value as an error. */
#define SC_OK 0
#define SC_ERROR_NULL_POINTER 1      /* a required pointer argument was NULL */
#define SC_ERROR_INVALID_ARGUMENT 2  /* an out-of-range enum, count, index or size */
#define SC_ERROR_INVALID_JSON 3      /* JSON text that does not parse (message: line, column) */
#define SC_ERROR_CONFIG 4            /* a config list that breaks the specification (message:
                                        config index, key path, expected, got) */
#define SC_ERROR_UNKNOWN_NAME 5      /* a module or target name that is not known */
#define SC_ERROR_SHAPE 6             /* mismatched or invalid shapes, strides or element counts */
#define SC_ERROR_DTYPE 7             /* an unsupported or unexpected dtype */
#define SC_ERROR_STATE 8             /* a call out of order (e.g. masks before a config, an
                                        unbound target, a pruning call on a quantization session) */
#define SC_ERROR_PRUNING 9           /* the pruning rules rejected the targets (message names the
                                        target and the setting) */
#define SC_ERROR_DISTILLATION 10     /* distillation settings or links rejected (message names the
                                        target, the key and the value) */
#define SC_ERROR_QUANTIZATION 11     /* quantization settings or parameters rejected (a bad
                                        quant_dtype, a granularity that does not fit the tensor, a
                                        NaN or infinite tracked range; message names the target and
                                        the key) */
#define SC_ERROR_INTERNAL 100        /* a bug in swiftcompress; please report the message */

/* A short constant name for a status code ("SC_OK", "SC_ERROR_SHAPE", ... or "SC_ERROR_UNKNOWN"
 * for codes this library does not know). Static string, never NULL. */
const char *sc_status_name(int status);

/*
 * The message of the last failed call made without a session (or of sc_session_create) on the
 * calling thread; "" when there was none. Owned by the library; valid until the next failing
 * call on this thread.
 */
const char *sc_last_error(void);

/* ---------------------------------------------------------------------------------------------
 * Tensors: views over caller memory
 * ------------------------------------------------------------------------------------------- */

/* Element types. */
#define SC_DTYPE_FLOAT32 0
#define SC_DTYPE_FLOAT64 1
#define SC_DTYPE_FLOAT16 2   /* IEEE binary16 */
#define SC_DTYPE_BFLOAT16 3  /* the upper 16 bits of a binary32 */

/* As a text length: the text is NUL-terminated. */
#define SC_NUL_TERMINATED ((size_t)-1)

/* The most dimensions a tensor may have. */
#define SC_MAX_NDIM 16

/*
 * A view of a tensor the caller owns (the layout PyTorch uses: data_ptr, shape, strides).
 *   data:    the element at index 0 (for PyTorch: tensor.data_ptr()), aligned to the element
 *            size. May be NULL only when the tensor has no elements.
 *   dtype:   one of SC_DTYPE_*.
 *   ndim:    number of dimensions, 0 (a scalar) to SC_MAX_NDIM.
 *   shape:   ndim sizes, each >= 0. May be NULL only when ndim is 0.
 *   strides: ndim strides in elements (not bytes), each >= 0 when the size is > 1 (negative
 *            strides are rejected); NULL means contiguous row-major. Overlapping strides are
 *            rejected for buffers the library writes, and so are strides that address memory
 *            outside the address space. A view may span at most 2^48 bytes.
 * Errors for a bad view: SC_ERROR_NULL_POINTER (the view, a NULL data of a non-empty tensor, a
 * NULL shape with ndim > 0), SC_ERROR_DTYPE (dtype), SC_ERROR_SHAPE (ndim, sizes, strides,
 * misaligned data).
 * The struct and its shape/strides arrays are read during the call only. What happens to `data`
 * is stated at each function.
 */
typedef struct sc_tensor {
    void *data;
    int32_t dtype;
    int32_t ndim;
    const int64_t *shape;
    const int64_t *strides;
} sc_tensor;

/* ---------------------------------------------------------------------------------------------
 * Sessions
 * ------------------------------------------------------------------------------------------- */

/* Compression modes: which templates and keys a config list is read with. */
#define SC_MODE_PRUNING 0
#define SC_MODE_QUANTIZATION 1
#define SC_MODE_DISTILLATION 2

/* An opaque session: one model's module list, one config list and its resolved targets, and the
 * caller buffers bound to them. */
typedef struct sc_session sc_session;

/*
 * Creates an empty session for `mode` (SC_MODE_*) and stores it in *out. Free it with
 * sc_session_free. Errors: SC_ERROR_NULL_POINTER (out), SC_ERROR_INVALID_ARGUMENT (mode); the
 * message is in sc_last_error(). On error *out is set to NULL (when out is not NULL).
 */
int sc_session_create(int mode, sc_session **out);

/* Frees a session and everything it owns (strings it returned become invalid). Buffers bound to
 * it are the caller's and are not touched. NULL is allowed and does nothing. */
void sc_session_free(sc_session *session);

/*
 * The message of the session's last failed call; "" when none failed. Owned by the session;
 * valid until its next failing call or sc_session_free. NULL session: returns sc_last_error().
 */
const char *sc_session_last_error(const sc_session *session);

/*
 * Adds one module of the model, in `named_modules()` order: its name ("" for the root,
 * "layer1.0.conv1"), its type's class name ("Conv2d"), and optionally the names of its forward
 * arguments without `self` (so `_input_x` targets can be resolved to positions); pass NULL and 0
 * when they are not known. Adding a module after the config was set discards the resolved targets
 * and bindings (set the config again). Errors: SC_ERROR_NULL_POINTER, SC_ERROR_INVALID_ARGUMENT
 * (a duplicate name, an empty type, non-UTF-8 text).
 */
int sc_session_add_module(sc_session *session, const char *name, const char *type,
                          const char *const *forward_args, size_t forward_arg_count);

/*
 * Adds modules from JSON text: a list of {"name": str, "type": str, "forward_args": [str]
 * (optional)} objects, or an object {"modules": [...]} (the format of the files in examples/models;
 * other keys are ignored). `length` is the text's length in bytes or (size_t)-1 when it is
 * NUL-terminated. Errors as sc_session_add_module (a list that parses but is not a module list is
 * SC_ERROR_INVALID_ARGUMENT, with the path of the bad entry), and SC_ERROR_INVALID_JSON.
 */
int sc_session_add_modules_json(sc_session *session, const char *json, size_t length);

/*
 * Sets the config list (JSON text: a list of config objects, current or legacy format) and
 * resolves it against the modules added so far: which modules and targets are compressed, with
 * which settings. Replaces an earlier config and drops all bindings. `length` as above.
 * Errors: SC_ERROR_INVALID_JSON, SC_ERROR_CONFIG (the message names the config index, the key
 * path, what was expected and what was given). Problems that depend on the model (an op_name that
 * matches nothing, a module without a template) are warnings in the report, not errors.
 */
int sc_session_set_config(sc_session *session, const char *json, size_t length);

/* The number of resolved targets (0 before a config is set or when the session is NULL). */
size_t sc_session_target_count(const sc_session *session);

/*
 * The module name and target name ("weight", "bias", "_input_0", ...) of resolved target `index`
 * (0 <= index < sc_session_target_count), in the order the config engine resolved them. Either
 * output pointer may be NULL. The strings are owned by the session and valid until the config or
 * modules change or the session is freed. Errors: SC_ERROR_NULL_POINTER (session),
 * SC_ERROR_INVALID_ARGUMENT (index), SC_ERROR_STATE (no config set).
 */
int sc_session_target(const sc_session *session, size_t index, const char **module_name,
                      const char **target_name);

/*
 * The canonical settings of resolved target `index` as a JSON object (e.g. {"sparse_ratio": 0.5,
 * "granularity": "out_channel", ...}). *json receives the text (NUL-terminated) and *length, if
 * not NULL, its length in bytes. Owned by the session; valid until the next call on the session
 * that returns JSON, a config or module change, or sc_session_free. Errors as sc_session_target.
 */
int sc_session_target_settings(sc_session *session, size_t index, const char **json, size_t *length);

/*
 * The explain report as JSON: the configs (what each selected), the targets with their settings,
 * per target its typed "facts" (role, active, apply, and per mode: prunes; quant_dtype, quant_bits,
 * quant_scheme, granularity, quant_start_step; lambda, links), the fusions, and the warnings
 * (format: docs/config.md, "The report's JSON"; read the facts, not the settings' keys).
 * `table` non-zero gives instead the aligned text table for people. Ownership of
 * *text as sc_session_target_settings. Errors: SC_ERROR_NULL_POINTER, SC_ERROR_STATE (no config).
 */
int sc_session_report(sc_session *session, int table, const char **text, size_t *length);

/* ---------------------------------------------------------------------------------------------
 * Pruning (sessions created with SC_MODE_PRUNING)
 * ------------------------------------------------------------------------------------------- */

/* Metrics ranking the blocks of a target. */
#define SC_METRIC_LEVEL 0     /* |w| per element (LevelPruner) */
#define SC_METRIC_L1 1        /* L1 norm per block (L1NormPruner) */
#define SC_METRIC_L2 2        /* L2 norm per block (L2NormPruner) */
#define SC_METRIC_FPGM 3      /* sum of L2 distances to the other blocks (FPGMPruner) */
#define SC_METRIC_SUPPLIED 4  /* the caller's metric per target (sc_session_bind_metric) */

/*
 * Binds a resolved target to caller memory: `tensor` is the target's values (read when masks are
 * generated; written only by sc_session_apply_masks) and `mask` the buffer its mask is written
 * into (1 keep, 0 prune; the same shape as `tensor`, any of the dtypes, any non-overlapping
 * strides). Both data pointers are retained, not copied: the buffers must stay valid and unmoved
 * until the target is bound again, the config or modules change, or the session is freed. The
 * shape and strides arrays are copied. Binding again replaces the earlier binding.
 * A target the model does not have (the bias of a Conv2d(bias=False), an input no forward pass has
 * produced) is bound with `tensor` and `mask` both NULL: it gets no mask and no rule reads it, as in
 * NNI; sc_session_generate_masks then fails with SC_ERROR_STATE if that target has a sparse_ratio or
 * sparse_threshold of its own, or SC_ERROR_PRUNING if another target aligns to it.
 * Errors: SC_ERROR_NULL_POINTER (session, names, one of tensor and mask, or a NULL data pointer
 * of a non-empty tensor), SC_ERROR_STATE (no config, or not a pruning session), SC_ERROR_UNKNOWN_NAME
 * (no such resolved target; the message lists close names), SC_ERROR_DTYPE, SC_ERROR_SHAPE (ndim
 * out of range, negative sizes or strides, mask shape differing from the tensor's, overlapping
 * strides of the tensor or the mask: both are written by the library).
 */
int sc_session_bind(sc_session *session, const char *module_name, const char *target_name,
                    const sc_tensor *tensor, const sc_tensor *mask);

/*
 * Binds a metric the caller computed (Taylor, movement, slim scores, ...) to a bound target: one
 * value per block, shaped like the metric (e.g. [64, 1, 1, 1] or [64] for a conv's out channels
 * with granularity 'out_channel'; the weight's shape for fine-grained). Used by every metric kind
 * when bound; required for SC_METRIC_SUPPLIED. The data pointer is retained as in sc_session_bind
 * (until the target is bound again). Errors as sc_session_bind; a metric shape that does not fit
 * the target's granularity is reported by sc_session_generate_masks.
 */
int sc_session_bind_metric(sc_session *session, const char *module_name, const char *target_name,
                           const sc_tensor *metric);

/*
 * Computes every target's mask with `metric` (SC_METRIC_*) and the rules in NNI's order
 * (threshold, dependency group, global group, ratio, align) and writes it into the bound mask
 * buffers. Every resolved target must be bound (absent ones with NULL buffers). Masks are written only after every check passed:
 * on error no mask buffer has been touched. Errors: SC_ERROR_NULL_POINTER, SC_ERROR_INVALID_ARGUMENT
 * (metric), SC_ERROR_STATE (no config, an unbound target — named in the message — or not a
 * pruning session), SC_ERROR_SHAPE (a supplied metric of the wrong shape), SC_ERROR_PRUNING (the
 * rules rejected a target: bad settings, dependency members of different metric shapes, align to
 * a missing target, a global group with two ratios); the message names the target.
 */
int sc_session_generate_masks(sc_session *session, int metric);

/*
 * Applies every bound mask to its bound tensor in place (absent targets are skipped), as the target's apply_method says:
 * 'mul' multiplies, 'add' adds -1000 where the mask is 0. The tensor buffers are written.
 * Errors: SC_ERROR_NULL_POINTER, SC_ERROR_STATE (no config, an unbound target, not a pruning
 * session).
 */
int sc_session_apply_masks(sc_session *session);

/* apply_method values for sc_apply_mask. */
#define SC_APPLY_MUL 0  /* x * mask */
#define SC_APPLY_ADD 1  /* x - 1000 where mask != 1 (NNI's 'add') */

/*
 * Applies one mask to one tensor in place, without a session: `method` SC_APPLY_MUL or
 * SC_APPLY_ADD. Both are caller buffers of the same shape, any dtypes and
 * strides; `target` is written (its strides must not overlap), `mask` only read. Errors (message
 * in sc_last_error): SC_ERROR_NULL_POINTER, SC_ERROR_INVALID_ARGUMENT (method), SC_ERROR_DTYPE,
 * SC_ERROR_SHAPE.
 */
int sc_apply_mask(const sc_tensor *mask, const sc_tensor *target, int method);

/* Sparsity schedules for iterative pruning. */
#define SC_SCHEDULE_LINEAR 0  /* ratio * step / total_steps */
#define SC_SCHEDULE_AGP 1     /* ratio * (1 - (1 - step / total_steps)^3) */

/*
 * The sparse ratio to use at `step` of `total_steps` (0 <= step <= total_steps, total_steps > 0)
 * for a final `ratio` in [0, 1], written to *out. Errors (message in sc_last_error):
 * SC_ERROR_NULL_POINTER, SC_ERROR_INVALID_ARGUMENT.
 */
int sc_sparsity_schedule(int schedule, double ratio, int64_t step, int64_t total_steps, double *out);

/* ---------------------------------------------------------------------------------------------
 * Distillation (sessions created with SC_MODE_DISTILLATION)
 *
 * Per step: bind each target's student tensor (and a gradient buffer), bind the teacher tensor of
 * each of its links, then sc_session_distill returns NNI's distillation loss (the sum over targets
 * of the smallest lambda * loss over their links) and writes d(loss)/d(student) into the gradient
 * buffers. Methods (the target's apply_method): 'mse' = mean squared error; 'kl' =
 * kl_div(log_softmax(s/2), softmax(t/2), batchmean) * 4 over the last dim.
 * ------------------------------------------------------------------------------------------- */

/*
 * Adds one module name of the teacher model (named_modules() order; "" for the root), so that
 * links can be checked: once at least one teacher module was added, sc_session_distill fails with
 * SC_ERROR_DISTILLATION for a link that names no teacher module (the message gives close names).
 * Errors: SC_ERROR_NULL_POINTER, SC_ERROR_INVALID_ARGUMENT (a duplicate name, non-UTF-8 text),
 * SC_ERROR_STATE (not a distillation session).
 */
int sc_session_add_teacher_module(sc_session *session, const char *name);

/*
 * The links of resolved target `index`: *count receives their number (at least 1). 'auto' (the
 * default) is resolved to the student module's own name. Errors: SC_ERROR_NULL_POINTER,
 * SC_ERROR_INVALID_ARGUMENT (index), SC_ERROR_STATE (no config, not a distillation session),
 * SC_ERROR_DISTILLATION (the target's settings are invalid).
 */
int sc_session_target_link_count(sc_session *session, size_t index, size_t *count);

/*
 * The teacher module name of link `link` (0 <= link < count) of resolved target `index`. The
 * string is owned by the session, valid until the config or modules change or the session is
 * freed. Errors as sc_session_target_link_count, and SC_ERROR_INVALID_ARGUMENT (link).
 */
int sc_session_target_link(sc_session *session, size_t index, size_t link, const char **teacher_module);

/*
 * Binds the student tensor of a resolved target (read by sc_session_distill) and, optionally, the
 * buffer d(loss)/d(student) is written into (`gradient` NULL: the loss only). The gradient has the
 * student's shape, any dtype, non-overlapping strides; it may be the student's own buffer with the
 * same layout (the gradient then replaces the values), and must not otherwise overlap the student,
 * a teacher, or any tensor or gradient buffer bound to another target (not detected: each target's
 * gradient replaces its buffer's values in target order). Data pointers are retained (not copied) until the target's student is bound again,
 * the config or modules change, or the session is freed; binding the student again clears the
 * target's teachers. Errors: SC_ERROR_NULL_POINTER, SC_ERROR_STATE (no config, not a distillation
 * session), SC_ERROR_UNKNOWN_NAME, SC_ERROR_DTYPE, SC_ERROR_SHAPE (a bad view, a gradient shape
 * differing from the student's).
 */
int sc_session_bind_student(sc_session *session, const char *module_name, const char *target_name,
                            const sc_tensor *student, const sc_tensor *gradient);

/*
 * Binds the teacher tensor of link `link` of a target whose student is bound: the linked teacher
 * module's same-named target, of the student's shape (dtype and strides may differ). NULL
 * `teacher` unbinds it: the link is skipped (as NNI skips a teacher output it did not record).
 * The data pointer is retained as in sc_session_bind_student. Errors: as
 * sc_session_bind_student, SC_ERROR_INVALID_ARGUMENT (link), SC_ERROR_STATE (student not bound).
 */
int sc_session_bind_teacher(sc_session *session, const char *module_name, const char *target_name,
                            size_t link, const sc_tensor *teacher);

/*
 * Computes the distillation loss of every resolved target and writes each target's gradient
 * (of lambda * loss of its chosen link, replacing the buffer's values; zeros when no link has a
 * teacher) into its gradient buffer. *total_loss receives the sum over targets of the smallest
 * lambda * loss over each target's links (the first of equal ones). `target_losses`, when not
 * NULL, receives each target's term (target_loss_count must equal sc_session_target_count).
 * Every resolved target's student must be bound. Everything is checked before any gradient is
 * written. Errors: SC_ERROR_NULL_POINTER (session, total_loss), SC_ERROR_INVALID_ARGUMENT
 * (target_loss_count), SC_ERROR_STATE (no config, an unbound student — named —, not a
 * distillation session), SC_ERROR_SHAPE (a teacher or gradient shape differing from the
 * student's, an empty student, a student of more than 2^40 elements or a 'kl' student whose last
 * dim exceeds 2^28), SC_ERROR_DISTILLATION (bad settings, a link naming no teacher
 * module).
 */
int sc_session_distill(sc_session *session, double *total_loss, double *target_losses, size_t target_loss_count);

/* ---------------------------------------------------------------------------------------------
 * Quantization (sessions created with SC_MODE_QUANTIZATION)
 *
 * Per target (named by module and target name as in sc_session_target): observe batches of its
 * values (calibration for PTQ, every training forward for QAT), then read its scale and zero point
 * and fake-quantize tensors with them. The session keeps one observer per resolved target: the
 * per-block tracked min and max (NNI 3.0's PtqQuantizer / QATQuantizer), dropped when the config or
 * the modules change. Formulas (docs/quantization.md): min := min(min, 0), max := max(max, 0);
 * symmetric: scale = max(|min|, |max|) / ((qmax - qmin) / 2), zero point (qmax + qmin + 1) div 2;
 * affine: scale = (max - min) / (qmax - qmin), zero point = qmin - round_half_even(min / scale);
 * scales at least 2^-23. Fake quantization: q = round_half_even(clamp(zp + x / scale, qmin, qmax)),
 * x' = (q - zp) * scale. float32 results equal NNI's bit for bit (float64 tensors are computed in
 * float64; float16 and bfloat16 in float32).
 * No buffer is retained: every pointer is read or written during the call only.
 * ------------------------------------------------------------------------------------------- */

/* How an observer folds each batch into the tracked range. */
#define SC_OBSERVER_MINMAX 0  /* running min / max over all batches (PtqQuantizer) */
#define SC_OBSERVER_EMA 1     /* moving average, decay 0.99; the first batch sets the range
                                 (QATQuantizer) */

/*
 * Folds one batch of a target's values into its observer: the per-block min and max of `batch`
 * (blocks from the target's granularity: one block per tensor by default, per channel, or block
 * sizes), combined as `observer` (SC_OBSERVER_*) says. The first batch fixes the observer kind and
 * the scale shape (sc_session_scale_shape); later batches may differ in shape only where the scale
 * shape does not (an activation's batch dim). A NaN in a block makes its tracked range NaN (as
 * torch). `batch` is any dtype and strides, read during the call only.
 * Errors: SC_ERROR_NULL_POINTER (session, names, batch), SC_ERROR_INVALID_ARGUMENT (observer),
 * SC_ERROR_STATE (no config, not a quantization session, an observer kind differing from the
 * target's first one), SC_ERROR_UNKNOWN_NAME, SC_ERROR_DTYPE, SC_ERROR_SHAPE (a bad view, an empty
 * batch, a batch whose scale shape differs from the tracked one), SC_ERROR_QUANTIZATION (settings
 * rejected: quant_dtype, quant_scheme, granularity, apply_method, or a granularity that does not
 * fit the batch). On error the observer is unchanged.
 */
int sc_session_observe(sc_session *session, const char *module_name, const char *target_name,
                       const sc_tensor *batch, int observer);

/*
 * The scale shape of a target that has observed a batch: NNI's shape of its scale tensor (ndim 0
 * for per-tensor quantization; keepdim, e.g. [64, 1, 1, 1] per channel of a conv weight or
 * [1, C, 1, 1] of an NCHW input). *ndim receives the dimension count and *shape the sizes (not
 * NULL even when *ndim is 0); the array is owned by the session and valid until the config or
 * modules change or the session is freed. Errors: SC_ERROR_NULL_POINTER (session, names, ndim,
 * shape), SC_ERROR_STATE (no config, not a quantization session, no batch observed yet),
 * SC_ERROR_UNKNOWN_NAME, SC_ERROR_QUANTIZATION (settings rejected).
 */
int sc_session_scale_shape(sc_session *session, const char *module_name, const char *target_name,
                           size_t *ndim, const int64_t **shape);

/*
 * Writes a target's scale and zero point, computed from its settings (quant_dtype, quant_scheme)
 * and its observer's tracked range, into `scale` and `zero_point`, and, when not NULL, the tracked
 * range itself into `tracked_min` / `tracked_max`. Each buffer has exactly the scale shape
 * (sc_session_scale_shape), any dtype (values rounded to it; zero points are integers) and
 * non-overlapping strides. Scales are computed in float32 (float64 when the last batch was
 * float64). Everything is checked before any buffer is written.
 * Errors: SC_ERROR_NULL_POINTER (session, names, scale, zero_point), SC_ERROR_STATE (no config,
 * not a quantization session, no batch observed yet), SC_ERROR_UNKNOWN_NAME, SC_ERROR_DTYPE,
 * SC_ERROR_SHAPE (a bad view, a buffer whose shape is not the scale shape), SC_ERROR_QUANTIZATION
 * (settings rejected; a tracked range holding NaN or infinity, or too wide for float32).
 */
int sc_session_quant_params(sc_session *session, const char *module_name, const char *target_name,
                            const sc_tensor *scale, const sc_tensor *zero_point,
                            const sc_tensor *tracked_min, const sc_tensor *tracked_max);

/*
 * Applies the target's apply_method to `x` with the scale and zero point of its observer (as
 * sc_session_quant_params computes them) and writes the result into `out`:
 *   'clamp_round' (default): fake quantization; `gradient_mask`, if given, is set to 1 everywhere
 *                 (the gradient passes straight through, NNI's ClampRound);
 *   'qat_clamp_round': fake quantization; `gradient_mask` is 1 where zp + x / scale was inside
 *                 [qmin, qmax] and 0 where it was clamped (multiply the incoming gradient by it);
 *   'bypass':     `out` receives `x` unchanged, the mask is all 1; no batch need be observed.
 * `x` is read; `out` and `gradient_mask` (both of x's shape, any dtype, non-overlapping strides)
 * are written. `out` may be `x` itself with the same data pointer, dtype and strides (in place); it
 * must not otherwise overlap `x` (not detected). `gradient_mask` may be NULL.
 * NaN gives NaN (mask 1); infinities clamp to the ends of the range.
 * Errors: SC_ERROR_NULL_POINTER (session, names, x, out), SC_ERROR_STATE (no config, not a
 * quantization session, no batch observed yet for a method other than 'bypass'),
 * SC_ERROR_UNKNOWN_NAME, SC_ERROR_DTYPE, SC_ERROR_SHAPE (a bad view, `out` or `gradient_mask` of
 * another shape than `x`, an `x` whose block count differs from the observed scale shape's),
 * SC_ERROR_QUANTIZATION (settings rejected, a granularity that does not fit `x`, a NaN or infinite
 * tracked range). Nothing is written on error.
 */
int sc_session_fake_quantize(sc_session *session, const char *module_name, const char *target_name,
                             const sc_tensor *x, const sc_tensor *out, const sc_tensor *gradient_mask);

/* Apply methods for sc_session_fake_quantize_as (the names of `apply_method` in a config). */
#define SC_APPLY_CLAMP_ROUND 0     /* 'clamp_round' */
#define SC_APPLY_QAT_CLAMP_ROUND 1 /* 'qat_clamp_round' */
#define SC_APPLY_BYPASS 2          /* 'bypass' */

/*
 * sc_session_fake_quantize with `apply_method` (SC_APPLY_*) in place of the target's own
 * `apply_method` setting; every other setting is the target's. For quantizers that choose the
 * method by phase, as NNI 3.0's do (PtqQuantizer: 'bypass' while calibrating, 'clamp_round'
 * after; QATQuantizer: 'bypass' before quant_start_step, 'qat_clamp_round' from it on, whatever
 * the config says). Arguments, results and errors as sc_session_fake_quantize, plus
 * SC_ERROR_INVALID_ARGUMENT for an unknown apply_method.
 */
int sc_session_fake_quantize_as(sc_session *session, const char *module_name, const char *target_name,
                                int apply_method, const sc_tensor *x, const sc_tensor *out,
                                const sc_tensor *gradient_mask);

/*
 * The quantized range of a target's quant_dtype: *bits (2 to 16), *is_signed (1 for 'intN', 0 for
 * 'uintN'), *qmin and *qmax (intN: [-(2^(N-1)) + 1, 2^(N-1) - 1]; uintN: [0, 2^N - 1]). Any output
 * pointer may be NULL. The scheme and the other settings are in sc_session_target_settings.
 * Errors: SC_ERROR_NULL_POINTER (session, names), SC_ERROR_STATE (no config, not a quantization
 * session), SC_ERROR_UNKNOWN_NAME, SC_ERROR_QUANTIZATION (settings rejected).
 */
int sc_session_quant_range(sc_session *session, const char *module_name, const char *target_name,
                           int *bits, int *is_signed, int64_t *qmin, int64_t *qmax);

/* ---------------------------------------------------------------------------------------------
 * Real quantization and batch-norm folding
 *
 * Real quantization writes the integers fake quantization computes,
 *     q = round_half_even(clamp(zp + x / scale, qmin, qmax)),
 * into a caller byte buffer, so that int8 / packed int4 weights can be shipped; dequantization
 * writes (q - zp) * scale back into a tensor (fake quantization's values, except that -0.0 comes
 * back as +0.0). The session functions take scale and zero point from the target's observer (as
 * sc_session_quant_params computes them) and the blocks from its granularity; sc_quantize and
 * sc_dequantize take them from caller tensors, with the blocks given by the scale's shape.
 * A quantized buffer holds the values in the logical row-major order of the tensor they belong to
 * (whatever its strides), densely, in one of the SC_QSTORAGE_* layouts; it needs no alignment.
 * No buffer is retained: every pointer is read or written during the call only.
 * ------------------------------------------------------------------------------------------- */

/* Layouts of a quantized buffer. A layout must hold the whole [qmin, qmax] range of the quant_dtype
 * (int8 for int2...int8, uint8 for uint2...uint8, int16 / uint16 up to 16 bits, int4 for
 * int2...int4, uint4 for uint2...uint4; a uintN fits the signed layouts of more bits too). */
#define SC_QSTORAGE_INT8 0   /* one int8_t per value (1 byte) */
#define SC_QSTORAGE_UINT8 1  /* one uint8_t per value */
#define SC_QSTORAGE_INT16 2  /* one int16_t per value (2 bytes, native byte order) */
#define SC_QSTORAGE_UINT16 3 /* one uint16_t per value (2 bytes, native byte order) */
#define SC_QSTORAGE_INT4 4   /* two values per byte: value 2k in the low nibble (bits 0-3) of byte k,
                                value 2k+1 in the high nibble (bits 4-7), each a two's complement
                                nibble (-8...7); with an odd count the last byte's high nibble is
                                written as 0 (PyTorch's quint4x2 order) */
#define SC_QSTORAGE_UINT4 5  /* as SC_QSTORAGE_INT4 with unsigned nibbles (0...15) */

/*
 * The size in bytes of `count` values in layout `storage` (SC_QSTORAGE_*), written to *bytes:
 * count for the 8-bit layouts, 2 * count for the 16-bit ones, (count + 1) / 2 for the 4-bit ones.
 * Errors (message in sc_last_error): SC_ERROR_NULL_POINTER (bytes), SC_ERROR_INVALID_ARGUMENT
 * (storage; a count whose size does not fit in size_t).
 */
int sc_qstorage_bytes(int storage, size_t count, size_t *bytes);

/*
 * Quantizes `x` (any dtype and strides, read) with the scale and zero point of a target's observer
 * and writes one integer per element of x (count = x's element count) into `out` in layout
 * `storage` (SC_QSTORAGE_*), in x's logical row-major order. `out_bytes` is the size of the buffer at `out`;
 * it must be at least sc_qstorage_bytes(storage, count) (bytes after those are not touched). `out`
 * may be NULL only when x has no elements, and must not overlap x. The blocks (which scale each
 * element uses) come from the target's granularity applied to x's shape, and their number must be
 * the observed scale shape's. float64 tensors are computed in float64, the others in float32.
 * *nan_count, when nan_count is not NULL, receives the number of NaN elements of x; each is stored
 * as the zero point (integers cannot hold NaN; treat a non-zero count as bad data). Infinities
 * clamp to qmin / qmax. Everything is checked before `out` is written.
 * Errors: SC_ERROR_NULL_POINTER (session, names, x, out with elements), SC_ERROR_INVALID_ARGUMENT
 * (storage, out_bytes too small), SC_ERROR_STATE (no config, not a quantization session, no batch
 * observed yet), SC_ERROR_UNKNOWN_NAME, SC_ERROR_DTYPE (a bad view; a layout that cannot hold the
 * target's quant_dtype range, e.g. uint8 values in SC_QSTORAGE_INT8: the message names quant_dtype
 * and the layout to use), SC_ERROR_SHAPE (a bad view, an x whose block count differs from the
 * observed scale shape's), SC_ERROR_QUANTIZATION (settings rejected, a granularity that does not
 * fit x, a NaN or infinite tracked range).
 */
int sc_session_quantize(sc_session *session, const char *module_name, const char *target_name,
                        const sc_tensor *x, void *out, size_t out_bytes, int storage, size_t *nan_count);

/*
 * Dequantizes: reads count = the element count of `out` integers in layout `storage` from `q`
 * (`q_bytes` bytes, at least sc_qstorage_bytes(storage, count); NULL only when count is 0) and
 * writes (q - zp) * scale, with the scale and zero point of the target's observer, into `out`
 * (any dtype, non-overlapping strides; its shape gives the blocks), in out's logical row-major
 * order. Computed in float64 when `out` is float64, else in float32 and rounded to out's dtype.
 * Stored values outside [qmin, qmax] are not checked (they dequantize by the same formula).
 * `q` must not overlap `out`. Everything is checked before `out` is written.
 * Errors: SC_ERROR_NULL_POINTER (session, names, out, q with elements), SC_ERROR_INVALID_ARGUMENT
 * (storage, q_bytes too small), SC_ERROR_STATE, SC_ERROR_UNKNOWN_NAME, SC_ERROR_DTYPE,
 * SC_ERROR_SHAPE, SC_ERROR_QUANTIZATION as sc_session_quantize.
 */
int sc_session_dequantize(sc_session *session, const char *module_name, const char *target_name,
                          const void *q, size_t q_bytes, int storage, const sc_tensor *out);

/*
 * sc_session_quantize without a session: scale and zero point are caller tensors (any float dtype
 * and strides, read; the same shape; scales finite and > 0, zero points integers in [qmin, qmax]),
 * the quantized type is `bits` (2 to 16) and `is_signed` (1: 'intN', [-(2^(N-1)) + 1, 2^(N-1) - 1];
 * 0: 'uintN', [0, 2^N - 1]). The scale's shape gives the blocks, as NNI's scale tensors do: one
 * element (any shape, e.g. ndim 0) is per tensor; otherwise it has x's ndim and each size divides
 * x's, so dim d is cut into blocks of x.shape[d] / scale.shape[d] (per output channel of a conv
 * weight [64, 3, 3, 3]: scale [64, 1, 1, 1]; per channel of an NCHW input: [1, C, 1, 1]).
 * Parameters are used in x's precision (float32 unless x is float64). `out`, `out_bytes`,
 * `storage` and `nan_count` as for sc_session_quantize. Errors (message in sc_last_error, naming
 * "x" or the argument): SC_ERROR_NULL_POINTER (x, scale, zero_point, out with elements),
 * SC_ERROR_INVALID_ARGUMENT (bits, is_signed not 0 or 1, storage, out_bytes too small),
 * SC_ERROR_DTYPE (a bad view, a layout that cannot hold the range), SC_ERROR_SHAPE (a bad view,
 * zero_point's shape differing from scale's, a scale shape that does not fit x),
 * SC_ERROR_QUANTIZATION (a scale or zero point out of range, named with its block).
 */
int sc_quantize(const sc_tensor *x, const sc_tensor *scale, const sc_tensor *zero_point, int bits,
                int is_signed, void *out, size_t out_bytes, int storage, size_t *nan_count);

/*
 * sc_session_dequantize without a session: `q`, `q_bytes`, `storage` and `out` as there; scale,
 * zero point, bits and is_signed as for sc_quantize (the scale's shape fitting out's shape). The
 * parameters are used in out's precision (float64 for a float64 `out`, else float32). Errors as
 * sc_quantize (names "out"), SC_ERROR_NULL_POINTER for q with elements.
 */
int sc_dequantize(const void *q, size_t q_bytes, int storage, const sc_tensor *scale, const sc_tensor *zero_point,
                  int bits, int is_signed, const sc_tensor *out);

/* The layer a batch norm is folded into (NNI 3.0's fuse_conv_bn / fuse_linear_bn). The folded
 * weight is the same for both; the bias arithmetic is ordered differently, so float32 results
 * differ in the last bit. */
#define SC_FOLD_CONV 0   /* Conv1d/2d/3d: bias' = ((bias - mean) * r) * gamma + beta */
#define SC_FOLD_LINEAR 1 /* Linear: bias' = (bias - mean) * (gamma * r) + beta */

/*
 * Folds a batch norm into the convolution or linear layer before it (`fuse_names`), in eval mode:
 * with r = 1 / sqrt(running_var + eps) per output channel c,
 *     folded_weight[c, ...] = weight[c, ...] * (gamma[c] * r[c])
 *     folded_bias[c]        = as SC_FOLD_CONV / SC_FOLD_LINEAR say (a NULL bias counts as 0)
 * so that bn(layer(x, weight, bias)) == layer(x, folded_weight, folded_bias) up to rounding. Each
 * operation is rounded to float32 (float64 when `weight` is float64), in NNI 3.0's order, so
 * float32 results are NNI's bit for bit; outputs are rounded to their dtypes. Fold first, then
 * observe and quantize the folded weight, as NNI does.
 *   layer:        SC_FOLD_CONV or SC_FOLD_LINEAR.
 *   weight:       the layer's weight, ndim >= 1, dim 0 = C output channels / features (read).
 *   bias:         the layer's bias, C elements, or NULL (read).
 *   bn_weight, bn_bias: gamma and beta, C elements each, or NULL for affine=False (1 and 0).
 *   running_mean, running_var: C elements each (read). For a batch norm that does not track
 *                 running statistics, pass the batch mean and unbiased batch variance, as NNI uses.
 *   eps:          the batch norm's eps (torch's default 1e-5), finite and >= 0; rounded to the
 *                 computation precision before it is added.
 *   folded_weight: written, weight's shape, any dtype, non-overlapping strides; may be `weight`
 *                 itself with the same data pointer, dtype and strides (in place).
 *   folded_bias:  written, C elements (any shape), any dtype, non-overlapping strides; may be
 *                 `bias` itself with the same layout.
 * "C elements" means an element count of C, whatever the shape. Buffers must not otherwise
 * overlap. Everything is checked before anything is written.
 * Errors (message in sc_last_error): SC_ERROR_NULL_POINTER (weight, running_mean, running_var,
 * folded_weight, folded_bias), SC_ERROR_INVALID_ARGUMENT (layer, eps), SC_ERROR_DTYPE (a bad
 * view), SC_ERROR_SHAPE (a bad view, a weight of ndim 0, a vector without C elements, a
 * folded_weight of another shape than weight).
 */
int sc_fold_batch_norm(int layer, const sc_tensor *weight, const sc_tensor *bias, const sc_tensor *bn_weight,
                       const sc_tensor *bn_bias, const sc_tensor *running_mean, const sc_tensor *running_var,
                       double eps, const sc_tensor *folded_weight, const sc_tensor *folded_bias);

/* ---------------------------------------------------------------------------------------------
 * Training-aware pruning (TaylorPruner, SlimPruner; LinearPruner / AGPPruner schedules)
 *
 * Metric accumulators fed with caller tensors each training step. None of these retains a
 * pointer: every buffer is the caller's, read or written only during the call. Tensors may have
 * any of the four dtypes and any strides (written ones must not overlap). Arithmetic is done per
 * element and rounded to the written tensor's dtype after each operation, as torch's float ops.
 * Errors (message in sc_last_error): SC_ERROR_NULL_POINTER, SC_ERROR_DTYPE, SC_ERROR_SHAPE (shapes
 * that differ; the message names the argument), SC_ERROR_INVALID_ARGUMENT.
 * ------------------------------------------------------------------------------------------- */

/*
 * Taylor's per-step accumulation (call it from the weight's gradient hook):
 * buffer = (reset ? 0 : buffer) + (weight * gradient)^2, elementwise. All three have the same shape.
 */
int sc_taylor_accumulate(const sc_tensor *buffer, const sc_tensor *weight, const sc_tensor *gradient, int reset);

/*
 * Taylor's average after `steps` (>= 1, NNI's training_steps) accumulations: out = buffer / steps.
 * Bind `out` as the target's tensor (sc_session_bind) and generate with SC_METRIC_L1: that is NNI's
 * norm metric with p=1 over the blocks of the averaged data.
 */
int sc_taylor_average(const sc_tensor *buffer, int64_t steps, const sc_tensor *out);

/*
 * Slim's metric: out = |factor| (same shape; the scaling factor has the target's metric shape, so
 * bind `out` with sc_session_bind_metric and generate with SC_METRIC_SUPPLIED).
 */
int sc_slim_metric(const sc_tensor *factor, const sc_tensor *out);

/*
 * Slim's patched loss: out = loss + regular_scale * (sum_k ||factors[k]||_1) / count (NNI's
 * loss_patch; count 0 gives loss). `loss` and `out` hold one element each; `factors` is an array of
 * `count` tensors. regular_scale must be finite. Rounded as torch computes NNI's expression: each
 * norm accumulated in logical order in float32 (Double for float64 factors), the scale cast to the
 * loss's type; bit-identical to torch on one thread for factors under 32768 elements.
 */
int sc_slim_penalty(const sc_tensor *loss, const sc_tensor *factors, size_t count, double regular_scale,
                    const sc_tensor *out);

/*
 * The backward of sc_slim_penalty for the factors: grads[k] = sign(factors[k]) * (grad_output / count)
 * * regular_scale (sign(0) = 0); `grad_output` holds one element, `grads` is an array of `count`
 * tensors shaped like the factors (written). The loss's own gradient is grad_output.
 */
int sc_slim_penalty_backward(const sc_tensor *factors, size_t count, double regular_scale,
                             const sc_tensor *grad_output, const sc_tensor *grads);

#define SC_SCHEDULE_NONE (-1) /* sc_session_set_schedule: the config's goals */

/*
 * Scales every target's goals (sparse_ratio, sparse_threshold, max_sparse_ratio, min_sparse_ratio)
 * by the schedule's factor at `step` of `total_steps` (SC_SCHEDULE_LINEAR: step / total_steps,
 * SC_SCHEDULE_AGP: 1 - (1 - step / total_steps)^3; NNI's LinearPruner / AGPPruner with initial
 * ratio 0) for the next sc_session_generate_masks calls; SC_SCHEDULE_NONE restores the config's
 * goals. A new config clears it. Errors: SC_ERROR_NULL_POINTER, SC_ERROR_STATE (not a pruning
 * session), SC_ERROR_INVALID_ARGUMENT (schedule; total_steps < 1; step outside [0, total_steps]).
 */
int sc_session_set_schedule(sc_session *session, int schedule, int64_t step, int64_t total_steps);

/*
 * The metric shape (one value per block, NNI's keepdim shape, e.g. [64, 1, 1, 1] for a conv weight
 * with 'out_channel') of the resolved target for a tensor of `shape` (`ndim` sizes) under its
 * granularity; `level_default` non-zero takes LevelPruner's fine-grained default instead of
 * 'out_channel'. Written to out_shape (room for SC_MAX_NDIM sizes) and *out_ndim. Used to allocate
 * per-block scores (MovementPruner). Errors: SC_ERROR_NULL_POINTER, SC_ERROR_STATE (no config, not
 * a pruning session), SC_ERROR_UNKNOWN_NAME, SC_ERROR_SHAPE (ndim, negative sizes), SC_ERROR_PRUNING
 * (a granularity that does not fit the shape).
 */
int sc_session_metric_shape(sc_session *session, const char *module_name, const char *target_name,
                            const int64_t *shape, int32_t ndim, int level_default, int64_t *out_shape,
                            int32_t *out_ndim);

/* ---------------------------------------------------------------------------------------------
 * Training-time quantizers (NNI 3.0's LsqQuantizer, LsqPlusQuantizer, DoReFaQuantizer,
 * BNNQuantizer): forward values and gradients, per-tensor scale and zero point.
 *
 * Sessionless and stateless: each call reads its input tensors and writes its output tensors
 * during the call only (the caller owns all memory; nothing is retained), from any thread.
 * Tensors: any float dtype and strides (sc_tensor); every output has the shape of `x` (or
 * `weight`) unless said otherwise; outputs must not overlap inputs unless said otherwise.
 * Precision: element operations are rounded to float32 (float64 for float64 x), in NNI's order,
 * so element values are NNI's bit for bit; sums over the tensor (the scale / zero-point
 * gradients, DoReFa's gradient through max|tanh w|) are accumulated in double and rounded once
 * (torch sums in float32: about 1e-6 relative apart); DoReFa's tanh is the C library's (torch's
 * may differ by 1 ulp). qmin < qmax are the quant_dtype's range (sc_session_quant_range).
 * Errors (message in sc_last_error; nothing is written on error): SC_ERROR_NULL_POINTER (a
 * required pointer), SC_ERROR_INVALID_ARGUMENT (method, qmin / qmax, lo / hi, clip_outside),
 * SC_ERROR_DTYPE / SC_ERROR_SHAPE (a bad view, an output of another shape, a scale or zero point
 * or their gradients that are not 1 element, an empty DoReFa weight), SC_ERROR_QUANTIZATION (a
 * scale that is 0 or not finite in the computation precision, a non-finite zero point).
 * ------------------------------------------------------------------------------------------- */
#define SC_TRAIN_LSQ 0       /* scale 0.01, zero point 0 */
#define SC_TRAIN_LSQ_PLUS 1  /* scale 0.01, zero point (qmax - qmin) / 2 */
#define SC_TRAIN_DOREFA 2    /* affine parameters of [0, 1]: max(1 / (qmax - qmin), FLT_EPSILON), qmin */
#define SC_TRAIN_BNN 3       /* scale 1, zero point 0 */

/* The scale and zero point NNI 3.0 starts `method` with (float32 values, written as double). */
int sc_trainable_initial_params(int method, int64_t qmin, int64_t qmax, double *scale, double *zero_point);

/* The range NNI 3.0's calibration config reports for a learned per-tensor scale and zero point:
 * *tracked_max = scale * (qmax - zero_point), *tracked_min = scale * (qmin - zero_point), each
 * operation rounded to float32 (double for a float64 scale). scale, zero_point, tracked_min and
 * tracked_max are 1-element tensors (outputs rounded to their dtype). Errors: SC_ERROR_NULL_POINTER,
 * SC_ERROR_DTYPE / SC_ERROR_SHAPE (a bad view, not 1 element), SC_ERROR_INVALID_ARGUMENT (qmin >= qmax). */
int sc_trainable_tracked_range(const sc_tensor *scale, const sc_tensor *zero_point, int64_t qmin, int64_t qmax,
                               const sc_tensor *tracked_min, const sc_tensor *tracked_max);

/* LSQ (zero_point NULL) or LSQ+ fake quantization into `out` (may be x itself, same layout):
 *     LSQ:  out = round(clamp(x / s, qmin, qmax)) * s
 *     LSQ+: out = (round(clamp(x / s + zp, qmin, qmax)) - zp) * s      (round: half to even)
 * scale, zero_point: 1-element tensors (the learnable parameters), read. */
int sc_lsq_forward(const sc_tensor *x, const sc_tensor *scale, const sc_tensor *zero_point, int64_t qmin, int64_t qmax,
                   const sc_tensor *out);

/* The gradients of sc_lsq_forward for the incoming gradient grad_output (x's shape, read): with
 * q = x / s, t = q (+ zp), neg = t < qmin, pos = t > qmax, mid = neither, f = 1 / sqrt(qmax * numel):
 *     grad_input      = grad_output * mid                                   (NULL: not computed)
 *     grad_scale      = sum((neg*(qmin - zp) + pos*(qmax - zp) + mid*(-q - zp + round(q + zp))) * g * f)
 *     grad_zero_point = sum((neg + pos) * -s * g)        (LSQ+ only; NULL when zero_point is NULL)
 * grad_scale, grad_zero_point: 1-element tensors, written. */
int sc_lsq_backward(const sc_tensor *x, const sc_tensor *scale, const sc_tensor *zero_point, int64_t qmin, int64_t qmax,
                    const sc_tensor *grad_output, const sc_tensor *grad_input, const sc_tensor *grad_scale,
                    const sc_tensor *grad_zero_point);

/* DoReFa's weight quantization: u = tanh(w), y = u / (2 max|u|) + 0.5,
 * out = 2 ((round(clamp(zp + y / scale, qmin, qmax)) - zp) scale) - 1. weight: non-empty. */
int sc_dorefa_weight_forward(const sc_tensor *weight, double scale, double zero_point, int64_t qmin, int64_t qmax,
                             const sc_tensor *out);

/* d out / d weight applied to grad_output (straight through the rounding, through tanh and the
 * maximum as torch's autograd goes; the maximum's share is split evenly between ties) into
 * grad_input (written). */
int sc_dorefa_weight_backward(const sc_tensor *weight, const sc_tensor *grad_output, const sc_tensor *grad_input);

/* DoReFa's output quantization: out = (round(clamp(zp + clamp(x, 0, 1) / s, qmin, qmax)) - zp) s;
 * gradient_mask (NULL: not written): 1 where 0 <= x <= 1, else 0 (multiply the gradient by it). */
int sc_dorefa_output_forward(const sc_tensor *x, double scale, double zero_point, int64_t qmin, int64_t qmax,
                             const sc_tensor *out, const sc_tensor *gradient_mask);

/* DoReFa's input quantization (NNI's update_scale_zp for an input target, then clamp_round): the
 * scale and zero point of the batch's own range [min(min x, 0), max(max x, 0)] (affine, or
 * symmetric when `symmetric` is 1), written to *scale / *zero_point, and out = (round(clamp(zp +
 * x / s, qmin, qmax)) - zp) * s (float32; double for float64 x). The gradient passes straight
 * through (the caller's). Errors: SC_ERROR_NULL_POINTER, SC_ERROR_INVALID_ARGUMENT (qmin / qmax,
 * symmetric), SC_ERROR_DTYPE / SC_ERROR_SHAPE (a bad view, out of another shape, an empty x),
 * SC_ERROR_QUANTIZATION (a NaN or infinite element: no finite range). */
int sc_dorefa_input_forward(const sc_tensor *x, int64_t qmin, int64_t qmax, int symmetric, const sc_tensor *out,
                            double *scale, double *zero_point);

/* DoReFa's gradient quantization (NNI's backward pre-hook on a module whose weight but not output
 * is quantized) of one incoming gradient `grad` [B, ...] into `out` (same shape): with n =
 * 2^bits - 1, m_b = max|grad[b]| and the affine scale / zero point of [-0.5 / n, 1 + 0.5 / n],
 * out = ((dequant(quant(grad / (2 m_b) + 0.5 + noise_b / n)) - 0.5) * 2) * m_b, each step rounded
 * as torch computes it in float32. `noise` holds B uniform draws in [-0.5, 0.5) (any shape with B
 * elements; draw them as NNI does, torch.zeros(B, 1, ...).uniform_(-0.5, 0.5)). An all-zero sample
 * gives NaN, as NNI's. Errors: SC_ERROR_NULL_POINTER, SC_ERROR_INVALID_ARGUMENT (bits outside 1 to
 * 16, qmin / qmax), SC_ERROR_DTYPE / SC_ERROR_SHAPE (a bad view, a 0-d grad, noise without B
 * elements, out of another shape). */
int sc_dorefa_gradient(const sc_tensor *grad, const sc_tensor *noise, int bits, int64_t qmin, int64_t qmax,
                       const sc_tensor *out);

/* BNN's binarization: out = sign(x), sign(0) = +1, NaN stays NaN. gradient_mask (NULL: not
 * written): for clip_outside = 1 (output targets) 0 where |x| > 1, else 1; for 0 all 1. */
int sc_binarize(const sc_tensor *x, int clip_outside, const sc_tensor *out, const sc_tensor *gradient_mask);

/* Clamps x into [lo, hi] in place (BNN clips its weights to [-1, 1] after each optimizer step). */
int sc_clamp_in_place(const sc_tensor *x, double lo, double hi);

/* The gradients of sc_fold_batch_norm (training through fuse_names; the running statistics get
 * none), r = 1 / sqrt(running_var + eps), f = bn_weight * r, gW' / gb' = grad_folded_weight / _bias:
 *     grad_weight[c, ...] = gW'[c, ...] * f[c]                                  (written, weight's shape)
 *     grad_bias[c]        = SC_FOLD_CONV: (gb'[c] * gamma[c]) * r[c]; SC_FOLD_LINEAR: gb'[c] * f[c]
 *     grad_bn_weight[c]   = CONV: sum(gW'[c, ...] W[c, ...]) r[c] + gb'[c] ((b[c] - mean[c]) r[c]);
 *                           LINEAR: (sum(gW'[c, ...] W[c, ...]) + gb'[c] (b[c] - mean[c])) r[c]
 *     grad_bn_bias[c]     = gb'[c]
 * bias, bn_weight (NULL: affine=False), grad_folded_bias (NULL: no gradient through the folded bias,
 * its terms drop) are read; grad_bias, grad_bn_weight, grad_bn_bias may be NULL (not written).
 * Per-channel sums in double. Errors as sc_fold_batch_norm (SC_ERROR_SHAPE for a vector without C
 * elements or a gradient of another shape than weight). */
int sc_fold_batch_norm_backward(int layer, const sc_tensor *weight, const sc_tensor *bias, const sc_tensor *bn_weight,
                                const sc_tensor *running_mean, const sc_tensor *running_var, double eps,
                                const sc_tensor *grad_folded_weight, const sc_tensor *grad_folded_bias,
                                const sc_tensor *grad_weight, const sc_tensor *grad_bias, const sc_tensor *grad_bn_weight,
                                const sc_tensor *grad_bn_bias);

/* ---------------------------------------------------------------------------------------------
 * Graph analysis: dependency groups and shrink plans (issue 14)
 *
 * A flat description of a traced model, built node by node (inputs before their users), then
 * analysed: which conv / linear / embedding modules' output channels are tied (NNI's dependency
 * groups), NNI's internal_metric_block, and for every node the channel indices kept once the
 * channels its masks prune are physically removed. The Python binding builds the graph from
 * torch.fx; a C caller builds the same description. Every call returns SC_OK or an SC_ERROR_*
 * status with the message in sc_last_error() of the calling thread. A graph is not thread-safe.
 *
 *     sc_graph *g; size_t x, c, out;
 *     sc_graph_create(&g);
 *     int64_t s0[] = {1, 3, 8, 8}, s1[] = {1, 4, 8, 8}, conv[] = {3, 4, 1, 0};
 *     sc_graph_add_node(g, "x", SC_GRAPH_OP_INPUT, NULL, 0, s0, 4, NULL, 0, &x);
 *     sc_graph_add_node(g, "conv", SC_GRAPH_OP_CONV, &x, 1, s1, 4, conv, 4, &c);
 *     sc_graph_add_node(g, "out", SC_GRAPH_OP_OUTPUT, &c, 1, NULL, 0, NULL, 0, &out);
 *     sc_graph_set_mask(g, c, &weight_mask, NULL);       // then the plan: sc_graph_shrink_plan
 *     sc_graph_free(g);
 * ------------------------------------------------------------------------------------------- */

/* Node kinds and their attributes (int64 values; dims may be negative, counted from the end). */
#define SC_GRAPH_OP_INPUT 0       /* graph input or constant; no inputs, no attrs; channels fixed */
#define SC_GRAPH_OP_CONV 1        /* {in_channels, out_channels, groups, transposed 0/1[, bias 0/1, kernel sizes...]}; 1 input, channels in dim 1 */
#define SC_GRAPH_OP_LINEAR 2      /* {in_features, out_features[, bias 0/1]}; 1 input, features in the last dim */
#define SC_GRAPH_OP_EMBEDDING 3   /* {num_embeddings, embedding_dim}; 1 input (indices) */
#define SC_GRAPH_OP_NORM 4        /* {dim, num_groups}: 0 BatchNorm/InstanceNorm, -1 LayerNorm, k GroupNorm(k); 1 input */
#define SC_GRAPH_OP_ELEMENTWISE 5 /* add/sub/mul/div of >= 1 tensors, broadcasting; no attrs */
#define SC_GRAPH_OP_PASS 6        /* per-channel op keeping the rank (activation, pooling, dropout); 1 input */
#define SC_GRAPH_OP_CAT 7         /* {dim} */
#define SC_GRAPH_OP_SPLIT 8       /* one item of split/chunk: {dim, index (< 0: from the end), size_0, size_1, ...}; 1 input */
#define SC_GRAPH_OP_RESHAPE 9     /* view/reshape/flatten; 1 input; no attrs (the shapes say it: a tracked dim
                                   * split in two, or two merged, keeps its channels), or one flag per output
                                   * dim: 1 = the call gives that size as a constant (not -1), 0 = computed at
                                   * run time; with flags a tracked dim may be split (heads and head dims) or
                                   * tracked dims merged: the kept channels stay a product over the split dims
                                   * and a constant dim keeps all or none of its indices */
#define SC_GRAPH_OP_PERMUTE 10    /* {the permutation}; 1 input */
#define SC_GRAPH_OP_TRANSPOSE 11  /* {dim0, dim1}; 1 input */
#define SC_GRAPH_OP_REDUCE 12     /* mean/sum/amax: {keepdim 0/1, dims...} (no dims: all); 1 input */
#define SC_GRAPH_OP_OPAQUE 13     /* anything else: its inputs' channels are fixed */
#define SC_GRAPH_OP_OUTPUT 14     /* graph output: its inputs' channels are fixed; shape may be empty */
#define SC_GRAPH_OP_ATTENTION 15  /* scaled_dot_product_attention: inputs q [..., Hq, L, E], k [..., Hkv, S, E],
                                   * v [..., Hkv, S, Ev] (+ an optional mask, whose channels are fixed); output
                                   * [..., Hq, L, Ev]; {enable_gqa 0/1, scale_given 0/1} (Hkv < Hq needs
                                   * enable_gqa). q, k, v tracked over (head, head dim) with E == Ev: q's (h, d),
                                   * k's and v's (h / (Hq / Hkv), d) are tied, the output carries v's channels,
                                   * heads are kept or removed whole, and without a given scale the head dim is
                                   * not cut. Otherwise q, k, v keep their channels. sc_graph_shrunk_attrs gives
                                   * {enable_gqa, scale_given, query heads, key/value heads, kept query heads,
                                   * kept key/value heads}, key/value heads counted as v's distinct heads (a
                                   * head repeated for grouped queries, as repeat_kv makes, counts once). */
#define SC_GRAPH_OP_CHUNK 16      /* one item of chunk(chunks, dim): {dim, index, chunks}; 1 input; items of
                                   * ceil(size / chunks), the last smaller. The item sizes follow the input's
                                   * at run time: equal chunks keep the same indices in every chunk, unequal
                                   * ones keep their channels (a SPLIT's sizes are the caller's to rewrite) */

/* `which` of sc_graph_shrink_plan. */
#define SC_GRAPH_OUTPUT 0
#define SC_GRAPH_INPUT 1

/* An opaque graph description and its cached analysis. */
typedef struct sc_graph sc_graph;

/* Creates an empty graph in *out; free it with sc_graph_free. Errors: SC_ERROR_NULL_POINTER (out). */
int sc_graph_create(sc_graph **out);

/* Frees a graph (NULL, or a pointer that is not a live graph: nothing happens). */
void sc_graph_free(sc_graph *graph);

/* Appends a node; its index (0, 1, ...) goes to *index (may be NULL). `name` (UTF-8): a module's
 * qualified name for module nodes (two nodes with the same name and op are two calls of one module
 * and share its channels), any label otherwise. `inputs`: input_count earlier node indices (NULL
 * for 0). `shape`: the output's ndim sizes (>= 0; ndim <= 16). `attrs`: per op, above. The shapes
 * are checked against the op (a conv's input dim 1 is in_channels, cat sizes add up, ...).
 * Errors: SC_ERROR_NULL_POINTER, SC_ERROR_INVALID_ARGUMENT (the message names the node, what was
 * expected and what was given). Invalidates the analysis. */
int sc_graph_add_node(sc_graph *graph, const char *name, int op, const size_t *inputs, size_t input_count,
                      const int64_t *shape, size_t ndim, const int64_t *attrs, size_t attr_count, size_t *index);

/* The number of nodes added so far into *count. Errors: SC_ERROR_NULL_POINTER. */
int sc_graph_node_count(sc_graph *graph, size_t *count);

/* Sets the mask of a conv / linear / embedding node: output channel j is pruned when all of its
 * weight-mask entries are 0 (conv, linear: weight[j]; transposed conv: its column of weight[:, ...];
 * embedding: weight[:, j]) and, when bias_mask is not NULL, bias_mask[j] is 0. Without a bias_mask a
 * bias keeps no channel: as NNI 3.0's ModelSpeedup, the channel goes with its bias (a bias_mask of 1
 * at j keeps it). The masks are read
 * during the call only (float dtypes). Errors: SC_ERROR_INVALID_ARGUMENT (node), SC_ERROR_SHAPE
 * (another op, a mask shape that is not the module's weight / bias shape), tensor errors. */
int sc_graph_set_mask(sc_graph *graph, size_t node, const sc_tensor *weight_mask, const sc_tensor *bias_mask);

/* Analyses the graph (once; cached until the next change) and gives the number of dependency
 * groups: sets of conv / linear / embedding nodes whose output channels must be pruned together
 * (tied by add/sub/mul/div, cat along another dim, depthwise convs, calls of one module);
 * every such node is in exactly one group (singletons included), groups ordered by their first
 * member. Errors: SC_ERROR_NULL_POINTER, SC_ERROR_INVALID_ARGUMENT (a graph over the limits). */
int sc_graph_dependency_groups(sc_graph *graph, size_t *group_count);

/* The node indices of group `group` (ascending) into members[0..capacity); *count gets their
 * number (members NULL with capacity 0: the count only). Errors: SC_ERROR_INVALID_ARGUMENT (group
 * out of range, capacity below the count). */
int sc_graph_group_members(sc_graph *graph, size_t group, size_t *members, size_t capacity, size_t *count);

/* Node `node`'s group (-1 for other ops) and NNI's internal_metric_block for it (the lcm of its own
 * groups and those of the grouped convs / GroupNorms it feeds; 0 where NNI sets none). Either
 * pointer may be NULL. */
int sc_graph_node_group(sc_graph *graph, size_t node, int64_t *group, int64_t *internal_metric_block);

/* The shrink plan of node `node`: the kept indices (ascending) of its output channels
 * (which = SC_GRAPH_OUTPUT: conv dim 1, linear / embedding last dim, other ops the channel dims
 * they carry, flattened in row-major order) or of its input channels as it reads them
 * (SC_GRAPH_INPUT: conv dim 1, linear last dim, norm its dim). *count gets their number, or -1 when
 * nothing is tracked there (keep everything). A channel is removed when a mask votes on it, every
 * vote prunes it and no op fixes it (graph inputs / outputs, LayerNorm, grouped convs, opaque ops,
 * broadcasting against an untracked tensor). indices NULL with capacity 0: the count only.
 * Errors: SC_ERROR_INVALID_ARGUMENT (node, which, capacity below the count). */
int sc_graph_shrink_plan(sc_graph *graph, size_t node, int which, int64_t *indices, size_t capacity, int64_t *count);

/* The node's attributes after shrinking, same layout as given (conv {in, out, groups, transposed}
 * with a depthwise conv's groups = its kept inputs; linear {in, out}; embedding {num, dim}; others
 * unchanged) into attrs[0..capacity); *count gets their number. */
int sc_graph_shrunk_attrs(sc_graph *graph, size_t node, int64_t *attrs, size_t capacity, size_t *count);

/* The analysis as JSON: {"groups": [{"group", "members", "tied_by"}], "nodes": [{"name", "op",
 * "group"?, "internal_metric_block"?, "kept_output"?, "kept_input"?, "attrs", "shrunk_attrs"}]}.
 * *json stays valid until the graph's next JSON call or sc_graph_free; *length (may be NULL)
 * gets its byte count. */
int sc_graph_report(sc_graph *graph, const char **json, size_t *length);

/* NNI's auto_set_denpendency_group_ids config list: for each non-exclusion entry of report_configs
 * (JSON: the explain report's "configs", objects with "index", "exclusion", "selected",
 * "translated"?) and each module it selects: {"op_names": [module], ...config_list[index] (or its
 * translation) without op_names / op_names_re / op_types / exclude_op_* / fuse_names, "dependency_group_id":
 * "auto_group_<group>" for modules of the graph's groups, "internal_metric_block": n where NNI sets
 * one}. *json as sc_graph_report. Errors: SC_ERROR_INVALID_JSON (text or shapes). */
int sc_graph_config_list(sc_graph *graph, const char *config_list, const char *report_configs, const char **json,
                         size_t *length);

/* NNI's count_flops_params (default mode) over the graph as described (run it on a shrunk model's
 * graph for the shrunk figures): conv FLOPs = out_channels * prod(output dims after dim 1) *
 * prod(kernel) * in_channels / groups, params = out * in / groups * prod(kernel) (+ out with a bias);
 * linear FLOPs = in * out (per sample, as NNI), params = in * out (+ out); other nodes 0. A module
 * called twice counts FLOPs per call, params once. Per node into node_flops / node_params (either
 * may be NULL; capacity >= the node count when one is given), totals into *total_flops /
 * *total_params (may be NULL). Errors: SC_ERROR_NULL_POINTER, SC_ERROR_INVALID_ARGUMENT (capacity). */
int sc_graph_cost(sc_graph *graph, int64_t *node_flops, int64_t *node_params, size_t capacity, int64_t *total_flops,
                  int64_t *total_params);

/* ---------------------------------------------------------------------------------------------
 * Wanda and N:M masks (issue 15)
 *
 * Wanda (Sun et al. 2023): feed each targeted layer's calibration inputs to sc_wanda_accumulate,
 * write the metric |W_ij| * ||X_j||_2 with sc_wanda_metric into a buffer of the weight's shape, bind
 * it with sc_session_bind_metric and generate with SC_METRIC_WANDA: a sparse_ratio is then applied
 * per output row (each row of dim 0 prunes int(row length * ratio), the paper's comparison group);
 * mask_structure "N:M" prunes the N smallest of every M consecutive values along the input dim.
 * mask_structure itself is a config key (read by the core; every metric honours it).
 * ------------------------------------------------------------------------------------------- */

#define SC_METRIC_WANDA 5  /* the caller's Wanda metric (sc_wanda_metric), ratio per output row */

/* Adds to norms[c] (or stores, when reset != 0) the sum of input^2 over every position of input
 * whose index along channel_dim is c (negative: from the end; -1 for a Linear's [..., in_features]
 * input, 1 for a conv's [N, C, ...]). Sums in double, stored in norms' dtype (float64 recommended).
 * norms: writable, one value per channel, any dtype and strides; input: read, any dtype, strides.
 * Nothing retained. Errors: SC_ERROR_SHAPE (channel_dim out of range, norms of another size; nothing
 * written), SC_ERROR_NULL_POINTER / SC_ERROR_INVALID_ARGUMENT for bad descriptors. */
int sc_wanda_accumulate(const sc_tensor *norms, const sc_tensor *input, int64_t channel_dim, int reset);

/* Writes out[i, j, ...] = |weight[i, j, ...]| * sqrt(norms[j]) (weight of rank >= 2, input channels
 * along dim 1; a conv's kernel positions share their channel's norm), each factor rounded to out's
 * dtype and the product rounded once (float32 out: the paper's float32 metric). out: writable, the
 * weight's shape. Errors: SC_ERROR_SHAPE (rank < 2, norms without weight.shape[1] values, out of
 * another shape), an engine error for a negative or NaN norm; nothing written then. */
int sc_wanda_metric(const sc_tensor *weight, const sc_tensor *norms, const sc_tensor *out);

/* ---------------------------------------------------------------------------------------------
 * Sharded targets across ranks: the summaries API (issue 16, docs/distributed.md)
 *
 * For a trainer whose weights are sharded over ranks (FSDP, tensor parallel, any MPI / NCCL
 * program): every rank binds its local shard of each target (sc_session_bind, as usual) and where
 * that shard lies in the unsharded tensor (sc_session_bind_shard). sc_session_generate_masks_distributed
 * then ranks the local shards in the core and finds the exact cut of the unsharded model in rounds:
 * each round the core writes this rank's summary (8-byte counts: histograms of metric keys, counts
 * below thresholds, a status round) into a buffer it owns and calls `allreduce` on it; the caller
 * reduces that buffer in place over all ranks with its own communicator (MPI_Allreduce with
 * MPI_IN_PLACE, ncclAllReduce, torch.distributed.all_reduce) and returns; the core consumes the
 * reduced summary and goes on. No weight crosses the communicator. Each rank's masks are the local
 * shards of the single-process masks, bit for bit, ties included.
 *
 * Every rank must make the same calls with the same target list; the core keeps the rounds and
 * their sizes the same on every rank. The first round is a status round of world_size + 3
 * int64: a rank whose bindings or settings fail takes part with its failure flag set, and then
 * every rank returns an error (the failing rank its own, the others SC_ERROR_PRUNING /
 * SC_ERROR_QUANTIZATION naming the failing ranks) instead of hanging in a later collective.
 * ------------------------------------------------------------------------------------------- */

#define SC_REDUCE_SUM_INT64 0    /* elementwise sum of int64_t */
#define SC_REDUCE_MIN_FLOAT64 1  /* elementwise minimum of double */
#define SC_REDUCE_MAX_FLOAT64 2  /* elementwise maximum of double */

/* The caller's collective: reduce `count` 8-byte elements at `buffer` (int64_t for
 * SC_REDUCE_SUM_INT64, double otherwise) in place over all ranks with `op`, then return 0; any
 * other return value is a failure (the core call then returns SC_ERROR_PRUNING / _QUANTIZATION with
 * "the all-reduce failed"). `buffer` belongs to the core and is valid only during the call. */
typedef int (*sc_allreduce_fn)(void *buffer, int64_t count, int op, void *user_data);

/* Records where target (module_name, target_name)'s local tensor lies in its unsharded tensor:
 * local_shape, global_shape and offsets (the global coordinates of the local tensor's first
 * element) have `ndim` entries each (0 <= offsets[d], local_shape[d] + offsets[d] <= global_shape[d]).
 * counted != 0 when this rank's copy counts in the global statistics: every rank for a sharded
 * tensor, exactly one replica for a replicated one. A target without a shard binding is whole on
 * every rank and counted on rank 0. Pruning sessions check local_shape against the bound tensor
 * when masks are generated; quantization sessions use it in sc_session_reduce_observers_distributed.
 * Cleared with the other bindings by sc_session_set_config. Errors: SC_ERROR_NULL_POINTER,
 * SC_ERROR_INVALID_ARGUMENT (ndim outside 0..SC_MAX_NDIM), SC_ERROR_UNKNOWN_NAME, SC_ERROR_SHAPE
 * (a box that does not fit), SC_ERROR_STATE (a session of another mode). */
int sc_session_bind_shard(sc_session *session, const char *module_name, const char *target_name, int ndim,
                          const int64_t *local_shape, const int64_t *global_shape, const int64_t *offsets, int counted);

/* sc_session_generate_masks across ranks: rank in 0..world_size-1, `allreduce` called with
 * `user_data` once per round (a status round of world_size + 3 int64; when blocks span a sharded
 * dim, a partial-sums round of world_size x (their global block count) int64; one int64 per
 * sparse_threshold target with min/max bounds, then 256 int64 per open selection per round: 4 rounds
 * for float32 / 16-bit metrics, 8 for float64 ones and dependency groups, up to 8 more when the cut
 * splits the blocks of one metric value). stats (may be NULL) receives {rounds, bytes this rank
 * passed to allreduce}. Supported over shards: thresholds, dependency groups, global groups (the
 * weighted form too: 256 int64 per member per round), ratios, N:M groups along an unsharded last dim, for
 * metrics whose blocks lie inside one shard, and for the level / L1 / L2 norms of blocks that span
 * a sharded dim (out_channel of a weight sharded along dim 1: each rank's partial sums, exchanged
 * bit for bit and added in rank order; equal to the single-process norms whenever those sums are
 * exact, docs/distributed.md). Rejected: SC_METRIC_SUPPLIED / Wanda / FPGM metrics of blocks that
 * span a sharded dim, a shard that cuts blocks along a dim they do not reduce, FPGM and align on
 * sharded targets. Errors: those of sc_session_generate_masks,
 * SC_ERROR_NULL_POINTER (allreduce), SC_ERROR_PRUNING for another rank's failure, ranks handed
 * different target lists, a failed allreduce or an unsupported rule; no mask is written then. */
int sc_session_generate_masks_distributed(sc_session *session, int metric, int rank, int world_size,
                                          sc_allreduce_fn allreduce, void *user_data, int64_t *stats);

/* Quantization sessions: reduces the tracked ranges of the observed targets that have a shard
 * binding (running min / max observers, i.e. PTQ) over the ranks, after every rank has observed its
 * shards: a target sharded along dims its scale blocks reduce (any dim for per_tensor, dims other
 * than the channel for per_channel) gets the minimum of the minima and maximum of the maxima
 * (SC_REDUCE_MIN_FLOAT64 / SC_REDUCE_MAX_FLOAT64 rounds); one sharded along the channel dim only
 * keeps its local ranges (its blocks are whole). Scales and zero points are then those of the
 * unsharded tensor. Targets observed with sc_session_observe_distributed (their ranges are the
 * unsharded tensor's already) are left as they are. A status round comes first, as above. stats as
 * above. Errors: SC_ERROR_STATE (not observed, a moving-average observer observed with
 * sc_session_observe), SC_ERROR_SHAPE (sharded along both kinds of dims),
 * SC_ERROR_QUANTIZATION for another rank's failure or a failed allreduce. */
int sc_session_reduce_observers_distributed(sc_session *session, int rank, int world_size, sc_allreduce_fn allreduce,
                                            void *user_data, int64_t *stats);

/* sc_session_observe for a target whose batch is this rank's shard (quantization sessions; bind the
 * shard's placement with sc_session_bind_shard first, or the target is observed as a whole tensor):
 * the observer then tracks the unsharded tensor's range batch by batch, so moving-average
 * observers (SC_OBSERVER_EMA, QAT) give the single-process scales too. Rounds: a status round of
 * world_size + 3 int64; for a target sharded along dims its scale blocks reduce (any dim per
 * tensor, dims other than the channel per channel), one SC_REDUCE_MAX_FLOAT64 round of 3 x (scale
 * blocks) doubles (negated minima, maxima, a NaN flag per block: the batch's global range, folded
 * in as sc_session_observe folds a batch). A target sharded along its channel dim only, or without
 * a shard binding, is observed locally after the status round. A rank's empty shard takes part
 * without values. Every rank calls it for the same targets in the same order with the same
 * observer. stats as above. Errors: those of sc_session_observe (an empty batch only when the
 * unsharded tensor is empty), SC_ERROR_SHAPE (a batch of another shape than the bound shard,
 * sharded along both kinds of dims), SC_ERROR_QUANTIZATION for another rank's failure, different
 * targets or settings on the ranks, or a failed allreduce; a rank whose arguments are bad still
 * takes part in the status round. On error the observer is unchanged. */
int sc_session_observe_distributed(sc_session *session, const char *module_name, const char *target_name,
                                   const sc_tensor *batch, int observer, int rank, int world_size, sc_allreduce_fn allreduce,
                                   void *user_data, int64_t *stats);

/* For a rank that failed before it could make the distributed call (its own error is in hand): takes
 * part in the status round with its failure flag set, so that the other ranks' calls return an
 * error naming it instead of waiting. Returns SC_OK when the round completed (the caller then
 * reports its own error), or SC_ERROR_INVALID_ARGUMENT / SC_ERROR_NULL_POINTER for bad arguments,
 * SC_ERROR_PRUNING when the all-reduce failed. */
int sc_distributed_fail(int rank, int world_size, sc_allreduce_fn allreduce, void *user_data);

/* The status round of a step every rank runs before its distributed call (the Python package calls
 * it at the end of a pruner's or quantizer's constructor over a sharded model; a trainer can call
 * it after its own setup): every rank calls it once, failed != 0 on a rank whose step failed (its
 * own error in hand). The same round of world_size + 3 int64 as the first round of the calls above.
 * `mode` (SC_MODE_PRUNING or SC_MODE_QUANTIZATION) picks the error of the passing ranks; `step`
 * (may be NULL or empty: "the local step") names the step in it. Returns SC_OK when every rank
 * passed, and on a failing rank when the round completed (the caller then reports its own error);
 * on a passing rank SC_ERROR_PRUNING / SC_ERROR_QUANTIZATION "rank 1 of 2 failed in <step> ...;
 * every rank stops here" when another rank failed, or when the ranks disagree on world_size;
 * SC_ERROR_PRUNING / _QUANTIZATION when the all-reduce failed; SC_ERROR_INVALID_ARGUMENT (rank,
 * world_size, mode: a bad mode still takes part as a failing rank) / SC_ERROR_NULL_POINTER. */
int sc_distributed_status(int rank, int world_size, int failed, int mode, const char *step, sc_allreduce_fn allreduce,
                          void *user_data);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTCOMPRESS_H */
