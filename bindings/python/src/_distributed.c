/*
 * Sharded targets across ranks (see the "Sharded targets across ranks" section of
 * include/swiftcompress.h and docs/distributed.md): Session methods and a module function over
 * the core's summaries API. The caller's reduce function is a Python callable
 * `reduce(buffer, op)`: `buffer` is a writable memoryview over the core's summary (8-byte
 * elements: int64 for SC_REDUCE_SUM_INT64, double otherwise), valid only during the call, which
 * it must reduce in place over all ranks; it returns normally, or raises (the exception is then
 * raised by the method, chained after the core's error). Argument conversion only; written with
 * calls of the limited API.
 */
#include "_common.h"

typedef struct {
    PyObject *fn;     /* the reduce callable (borrowed for the call) */
    PyObject *error;  /* the first exception it raised (owned), or NULL */
    int failed;       /* a call raised: later rounds fail without calling it */
} reduce_ctx;

/* sc_allreduce_fn: called by the core (GIL released by the caller), takes the GIL for the call. */
static int call_reduce(void *buffer, int64_t count, int op, void *user) {
    reduce_ctx *ctx = (reduce_ctx *)user;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = 0;
    if (ctx->failed) { /* an earlier round failed: do not call again */
        PyGILState_Release(g);
        return 1;
    }
    PyObject *view = PyMemoryView_FromMemory((char *)buffer, (Py_ssize_t)(count * 8), PyBUF_WRITE);
    PyObject *res = view == NULL ? NULL : PyObject_CallFunction(ctx->fn, "Oi", view, op);
    if (res == NULL) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (tb != NULL && value != NULL) PyException_SetTraceback(value, tb);
        Py_XDECREF(type);
        Py_XDECREF(tb);
        ctx->error = value; /* owned; NULL only if Python lost the exception */
        ctx->failed = 1;
        rc = 1;
    }
    Py_XDECREF(res);
    if (view != NULL) {
        PyObject *r = PyObject_CallMethod(view, "release", NULL);
        if (r == NULL) PyErr_Clear();
        Py_XDECREF(r);
        Py_DECREF(view);
    }
    PyGILState_Release(g);
    return rc;
}

/* Raises the core's error for `status`; the callback's exception, if any, becomes its cause. */
static PyObject *dist_error(int status, const char *message, reduce_ctx *ctx) {
    scpy_raise_status(status, message);
    if (ctx->error != NULL) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (value != NULL) PyException_SetCause(value, ctx->error); /* steals ctx->error */
        else Py_DECREF(ctx->error);
        ctx->error = NULL;
        PyErr_Restore(type, value, tb);
    }
    return NULL;
}

static int read_dims(PyObject *seq, const char *what, int64_t *out, int *ndim) {
    Py_ssize_t n = PySequence_Size(seq);
    if (n < 0) return -1;
    if (n > SC_MAX_NDIM) {
        PyErr_Format(PyExc_ValueError, "%s has %zd entries; at most %d", what, n, SC_MAX_NDIM);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_GetItem(seq, i);
        if (item == NULL) return -1;
        long long v = PyLong_AsLongLong(item);
        Py_DECREF(item);
        if (v == -1 && PyErr_Occurred()) return -1;
        out[i] = (int64_t)v;
    }
    *ndim = (int)n;
    return 0;
}

static PyObject *Session_bind_shard(SessionObject *self, PyObject *args) {
    const char *module, *target;
    PyObject *local, *global, *offsets;
    int counted;
    if (!PyArg_ParseTuple(args, "ssOOOp:bind_shard", &module, &target, &local, &global, &offsets, &counted)) return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    int64_t l[SC_MAX_NDIM], g[SC_MAX_NDIM], o[SC_MAX_NDIM];
    int nl = 0, ng = 0, no = 0;
    if (read_dims(local, "local_shape", l, &nl) < 0 || read_dims(global, "global_shape", g, &ng) < 0 ||
        read_dims(offsets, "offsets", o, &no) < 0)
        return NULL;
    if (ng != nl || no != nl) {
        PyErr_Format(PyExc_ValueError, "bind_shard: local_shape, global_shape and offsets have %d, %d and %d entries; "
                     "they need one per dim", nl, ng, no);
        return NULL;
    }
    int status = sc_session_bind_shard(self->session, module, target, nl, l, g, o, counted);
    if (status != SC_OK) return scpy_session_error(self, status);
    Py_RETURN_NONE;
}

static PyObject *Session_generate_masks_distributed(SessionObject *self, PyObject *args) {
    int metric, rank, world;
    PyObject *fn;
    if (!PyArg_ParseTuple(args, "iiiO:generate_masks_distributed", &metric, &rank, &world, &fn)) return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    reduce_ctx ctx = {fn, NULL, 0};
    int64_t stats[2] = {0, 0};
    int status;
    SCPY_CALL_BUSY(self, status, sc_session_generate_masks_distributed(self->session, metric, rank, world, call_reduce, &ctx, stats));
    if (status != SC_OK) return dist_error(status, sc_session_last_error(self->session), &ctx);
    Py_XDECREF(ctx.error);
    return Py_BuildValue("(LL)", (long long)stats[0], (long long)stats[1]);
}

static PyObject *Session_reduce_observers_distributed(SessionObject *self, PyObject *args) {
    int rank, world;
    PyObject *fn;
    if (!PyArg_ParseTuple(args, "iiO:reduce_observers_distributed", &rank, &world, &fn)) return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    reduce_ctx ctx = {fn, NULL, 0};
    int64_t stats[2] = {0, 0};
    int status;
    SCPY_CALL_BUSY(self, status, sc_session_reduce_observers_distributed(self->session, rank, world, call_reduce, &ctx, stats));
    if (status != SC_OK) return dist_error(status, sc_session_last_error(self->session), &ctx);
    Py_XDECREF(ctx.error);
    return Py_BuildValue("(LL)", (long long)stats[0], (long long)stats[1]);
}

static PyObject *Session_observe_distributed(SessionObject *self, PyObject *args) {
    const char *module, *target;
    PyObject *spec, *fn;
    int observer, rank, world;
    if (!PyArg_ParseTuple(args, "ssOiiiO:observe_distributed", &module, &target, &spec, &observer, &rank, &world, &fn))
        return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    tensor_arg batch;
    if (scpy_read_spec(spec, "observe_distributed: batch", &batch) < 0) return NULL;
    reduce_ctx ctx = {fn, NULL, 0};
    int64_t stats[2] = {0, 0};
    int status;
    SCPY_CALL_BUSY(self, status, sc_session_observe_distributed(self->session, module, target, &batch.t, observer, rank, world,
                                                                call_reduce, &ctx, stats));
    if (status != SC_OK) return dist_error(status, sc_session_last_error(self->session), &ctx);
    Py_XDECREF(ctx.error);
    return Py_BuildValue("(LL)", (long long)stats[0], (long long)stats[1]);
}

static PyObject *core_distributed_fail(PyObject *m, PyObject *args) {
    int rank, world;
    PyObject *fn;
    if (!PyArg_ParseTuple(args, "iiO:distributed_fail", &rank, &world, &fn)) return NULL;
    reduce_ctx ctx = {fn, NULL, 0};
    int status;
    SCPY_CALL_NOGIL(status, sc_distributed_fail(rank, world, call_reduce, &ctx));
    if (status != SC_OK) return dist_error(status, sc_last_error(), &ctx);
    Py_XDECREF(ctx.error);
    Py_RETURN_NONE;
}

static PyObject *core_distributed_status(PyObject *m, PyObject *args) {
    int rank, world, failed, mode;
    const char *step;
    PyObject *fn;
    if (!PyArg_ParseTuple(args, "iipisO:distributed_status", &rank, &world, &failed, &mode, &step, &fn)) return NULL;
    reduce_ctx ctx = {fn, NULL, 0};
    int status;
    SCPY_CALL_NOGIL(status, sc_distributed_status(rank, world, failed, mode, step, call_reduce, &ctx));
    if (status != SC_OK) return dist_error(status, sc_last_error(), &ctx);
    Py_XDECREF(ctx.error);
    Py_RETURN_NONE;
}

PyMethodDef scpy_dist_session_methods[] = {
    {"bind_shard", (PyCFunction)Session_bind_shard, METH_VARARGS,
     "bind_shard(module_name, target_name, local_shape, global_shape, offsets, counted): where the bound "
     "tensor lies in its unsharded tensor."},
    {"generate_masks_distributed", (PyCFunction)Session_generate_masks_distributed, METH_VARARGS,
     "generate_masks_distributed(metric, rank, world_size, reduce) -> (rounds, bytes): the masks of the "
     "unsharded model's cut; reduce(buffer, op) all-reduces the core's summary in place (GIL released "
     "between calls)."},
    {"observe_distributed", (PyCFunction)Session_observe_distributed, METH_VARARGS,
     "observe_distributed(module_name, target_name, batch_spec, observer, rank, world_size, reduce) -> (rounds, bytes): "
     "observe of this rank's shard, the batch's range reduced over the ranks before it is folded in."},
    {"reduce_observers_distributed", (PyCFunction)Session_reduce_observers_distributed, METH_VARARGS,
     "reduce_observers_distributed(rank, world_size, reduce) -> (rounds, bytes): observer ranges of "
     "sharded targets reduced over the ranks."},
    {NULL, NULL, 0, NULL},
};

PyMethodDef scpy_dist_module_methods[] = {
    {"distributed_fail", core_distributed_fail, METH_VARARGS,
     "distributed_fail(rank, world_size, reduce): the status round of a rank that failed before its call."},
    {"distributed_status", core_distributed_status, METH_VARARGS,
     "distributed_status(rank, world_size, failed, mode, step, reduce): the status round of a step every rank "
     "runs before its distributed call (a constructor); raises PruningError / QuantizationError (mode) on a "
     "passing rank when another rank failed."},
    {NULL, NULL, 0, NULL},
};
