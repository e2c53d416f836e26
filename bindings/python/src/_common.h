/*
 * Internal declarations shared by the translation units of swiftcompress._core:
 * _core.c (module, Session type, pruning and general calls), _quant.c (quantization methods),
 * _real.c (real quantization, batch-norm folding), _distill.c (distillation methods). Nothing here is part of a public interface.
 */
#ifndef SWIFTCOMPRESS_PY_COMMON_H
#define SWIFTCOMPRESS_PY_COMMON_H

/* The extension uses only CPython's limited API of 3.11 (the stable ABI): one abi3 wheel serves
 * every CPython >= 3.11. setup.py defines Py_LIMITED_API (to the same value) for every unit. */
#ifndef Py_LIMITED_API
#define Py_LIMITED_API 0x030B0000
#endif
#if Py_LIMITED_API != 0x030B0000
#error "swiftcompress._core is built on the limited API of CPython 3.11 (Py_LIMITED_API 0x030B0000)"
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include "swiftcompress.h"

/* A tensor spec converted to a C ABI tensor (shape and strides stored inline). */
typedef struct {
    sc_tensor t;
    int64_t shape[SC_MAX_NDIM];
    int64_t strides[SC_MAX_NDIM];
} tensor_arg;

/* The Session object (swiftcompress._core.Session). */
typedef struct {
    PyObject_HEAD
    sc_session *session;
    int busy;            /* a call with the GIL released is running */
    PyObject *keepalive; /* dict key -> object kept while the core holds pointers */
} SessionObject;

/* Raises the exception registered for `status` with `message` (UTF-8, may be NULL). Returns NULL. */
PyObject *scpy_raise_status(int status, const char *message);

/* Raises the exception for a failed session call, with the session's last error. Returns NULL. */
PyObject *scpy_session_error(SessionObject *self, int status);

/* 0 when the session is open and not busy; else sets an exception and returns -1. */
int scpy_check_open(SessionObject *self);

/* Converts a spec tuple (data_ptr, dtype, shape, strides|None) into *arg; `what` names it in errors.
 * Returns 0, or -1 with an exception set. */
int scpy_read_spec(PyObject *spec, const char *what, tensor_arg *arg);

/* Like scpy_read_spec, but None gives NULL in *out (and 0). */
int scpy_read_optional_spec(PyObject *spec, const char *what, tensor_arg *arg, const sc_tensor **out);

/* `seq` (any iterable) as a new tuple reference, as PySequence_Fast but always a tuple, so that the
 * limited API's PyTuple_Size / PyTuple_GetItem read it; a tuple is returned as itself. When `seq`
 * is not iterable, TypeError(`message`); NULL with an exception set on failure. */
PyObject *scpy_as_tuple(PyObject *seq, const char *message);

/* The name of `obj`'s type as the interpreter prints it (`list`, `torch.Size`: the module is
 * given for types outside builtins) into buf (NUL-terminated, truncated to size - 1 bytes). Never
 * fails: "?" when the name cannot be read (any error is cleared). */
void scpy_type_name(PyObject *obj, char *buf, size_t size);

/* Reads a target index (a non-negative int) into *index. Returns 0, or -1 with an exception set
 * (IndexError for a negative one; the core checks the upper bound). */
int scpy_read_index(PyObject *arg, size_t *index);

/* Stores `obj` in the session's keepalive dict under `key` (a new reference is taken). */
int scpy_keep(SessionObject *self, PyObject *key, PyObject *obj);

/* Runs `call` (an expression giving an SC_* status) into `status` with the GIL released and the
 * session's busy flag set, so that a second thread gets RuntimeError instead of racing. */
#define SCPY_CALL_BUSY(self, status, call) \
    do {                                   \
        (self)->busy = 1;                  \
        Py_BEGIN_ALLOW_THREADS             \
        (status) = (call);                 \
        Py_END_ALLOW_THREADS               \
        (self)->busy = 0;                  \
    } while (0)

/* Runs `call` into `status` with the GIL released (module functions: no session). */
#define SCPY_CALL_NOGIL(status, call) \
    do {                              \
        Py_BEGIN_ALLOW_THREADS        \
        (status) = (call);            \
        Py_END_ALLOW_THREADS          \
    } while (0)

/* A PyMethodDef entry for a METH_VARARGS | METH_KEYWORDS function. */
#define SCPY_KW_METHOD(name, fn, doc) {(name), (PyCFunction)(void (*)(void))(fn), METH_VARARGS | METH_KEYWORDS, (doc)}

/* Session methods and module functions of the other translation units (NULL-terminated arrays):
 * _quant.c (observers, parameters, fake quantization), _real.c (real quantization, folding),
 * _distill.c (distillation). */
extern PyMethodDef scpy_quant_session_methods[];
extern PyMethodDef scpy_real_session_methods[];
extern PyMethodDef scpy_real_module_methods[];
extern PyMethodDef scpy_distill_session_methods[];
/* _training.c (training-aware pruning) */
extern PyMethodDef scpy_training_module_methods[];
extern PyMethodDef scpy_training_session_methods[];
extern PyMethodDef scpy_train_module_methods[]; /* _quant_train.c: training-time quantizers */
extern PyMethodDef scpy_graph_module_methods[]; /* _graph.c: dependency groups and shrink plans */
extern PyMethodDef scpy_wanda_module_methods[]; /* _wanda.c: Wanda's input norms and metric */
/* _distributed.c: sharded targets across ranks (docs/distributed.md) */
extern PyMethodDef scpy_dist_session_methods[];
extern PyMethodDef scpy_dist_module_methods[];

#endif
