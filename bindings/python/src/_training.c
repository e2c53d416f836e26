/*
 * Training-aware pruning calls of swiftcompress._core (see the "Training-aware pruning" section of
 * include/swiftcompress.h): module functions over tensor specs (nothing retained) and the session
 * method set_schedule. Specs are (data_ptr, SC_DTYPE_*, shape, strides|None) tuples.
 */
#include "_common.h"

#define MAX_FACTORS 4096

/* Reads a list of specs into args[0..n) (n <= MAX_FACTORS). Returns n, or -1 with an exception set. */
static Py_ssize_t read_spec_list(PyObject *list, const char *what, tensor_arg *args) {
    PyObject *seq = scpy_as_tuple(list, what);
    if (seq == NULL) return -1;
    Py_ssize_t n = PyTuple_Size(seq);
    if (n > MAX_FACTORS) {
        PyErr_Format(PyExc_ValueError, "%s: %zd tensors; at most %d", what, n, MAX_FACTORS);
        Py_DECREF(seq);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (scpy_read_spec(PyTuple_GetItem(seq, i), what, &args[i]) < 0) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return n;
}

/* Packs the sc_tensor parts of args into a contiguous array (the C ABI takes sc_tensor arrays). */
static sc_tensor *pack(tensor_arg *args, Py_ssize_t n) {
    sc_tensor *out = (sc_tensor *)PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(sc_tensor));
    if (out == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) out[i] = args[i].t;
    return out;
}

static PyObject *core_taylor_accumulate(PyObject *m, PyObject *args) {
    PyObject *b, *w, *g;
    int reset;
    if (!PyArg_ParseTuple(args, "OOOp:taylor_accumulate", &b, &w, &g, &reset)) return NULL;
    tensor_arg tb, tw, tg;
    if (scpy_read_spec(b, "taylor_accumulate: buffer", &tb) < 0 || scpy_read_spec(w, "taylor_accumulate: weight", &tw) < 0 ||
        scpy_read_spec(g, "taylor_accumulate: gradient", &tg) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_taylor_accumulate(&tb.t, &tw.t, &tg.t, reset));
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    Py_RETURN_NONE;
}

static PyObject *core_taylor_average(PyObject *m, PyObject *args) {
    PyObject *b, *o;
    long long steps;
    if (!PyArg_ParseTuple(args, "OLO:taylor_average", &b, &steps, &o)) return NULL;
    tensor_arg tb, to;
    if (scpy_read_spec(b, "taylor_average: buffer", &tb) < 0 || scpy_read_spec(o, "taylor_average: out", &to) < 0) return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_taylor_average(&tb.t, (int64_t)steps, &to.t));
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    Py_RETURN_NONE;
}

static PyObject *core_slim_metric(PyObject *m, PyObject *args) {
    PyObject *f, *o;
    if (!PyArg_ParseTuple(args, "OO:slim_metric", &f, &o)) return NULL;
    tensor_arg tf, to;
    if (scpy_read_spec(f, "slim_metric: factor", &tf) < 0 || scpy_read_spec(o, "slim_metric: out", &to) < 0) return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_slim_metric(&tf.t, &to.t));
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    Py_RETURN_NONE;
}

static PyObject *core_slim_penalty(PyObject *m, PyObject *args) {
    PyObject *loss, *factors, *out;
    double scale;
    if (!PyArg_ParseTuple(args, "OOdO:slim_penalty", &loss, &factors, &scale, &out)) return NULL;
    tensor_arg tl, to;
    if (scpy_read_spec(loss, "slim_penalty: loss", &tl) < 0 || scpy_read_spec(out, "slim_penalty: out", &to) < 0) return NULL;
    tensor_arg *fa = (tensor_arg *)PyMem_Calloc(MAX_FACTORS, sizeof(tensor_arg));
    if (fa == NULL) return PyErr_NoMemory();
    Py_ssize_t n = read_spec_list(factors, "slim_penalty: factors", fa);
    sc_tensor *packed = n < 0 ? NULL : pack(fa, n);
    if (packed == NULL) {
        PyMem_Free(fa);
        return NULL;
    }
    int status;
    SCPY_CALL_NOGIL(status, sc_slim_penalty(&tl.t, packed, (size_t)n, scale, &to.t));
    PyMem_Free(packed);
    PyMem_Free(fa);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    Py_RETURN_NONE;
}

static PyObject *core_slim_penalty_backward(PyObject *m, PyObject *args) {
    PyObject *factors, *gout, *grads;
    double scale;
    if (!PyArg_ParseTuple(args, "OdOO:slim_penalty_backward", &factors, &scale, &gout, &grads)) return NULL;
    tensor_arg tg;
    if (scpy_read_spec(gout, "slim_penalty_backward: grad_output", &tg) < 0) return NULL;
    tensor_arg *fa = (tensor_arg *)PyMem_Calloc(2 * MAX_FACTORS, sizeof(tensor_arg));
    if (fa == NULL) return PyErr_NoMemory();
    Py_ssize_t n = read_spec_list(factors, "slim_penalty_backward: factors", fa);
    Py_ssize_t k = n < 0 ? -1 : read_spec_list(grads, "slim_penalty_backward: grads", fa + MAX_FACTORS);
    if (k >= 0 && k != n) {
        PyErr_Format(PyExc_ValueError, "slim_penalty_backward: %zd factors but %zd gradient buffers", n, k);
        k = -1;
    }
    sc_tensor *pf = k < 0 ? NULL : pack(fa, n);
    sc_tensor *pg = pf == NULL ? NULL : pack(fa + MAX_FACTORS, n);
    if (pg == NULL) {
        PyMem_Free(pf);
        PyMem_Free(fa);
        return NULL;
    }
    int status;
    SCPY_CALL_NOGIL(status, sc_slim_penalty_backward(pf, (size_t)n, scale, &tg.t, pg));
    PyMem_Free(pf);
    PyMem_Free(pg);
    PyMem_Free(fa);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    Py_RETURN_NONE;
}

static PyObject *Session_set_schedule(SessionObject *self, PyObject *args) {
    if (scpy_check_open(self) < 0) return NULL;
    int schedule;
    long long step, total;
    if (!PyArg_ParseTuple(args, "iLL:set_schedule", &schedule, &step, &total)) return NULL;
    int status;
    SCPY_CALL_BUSY(self, status, sc_session_set_schedule(self->session, schedule, (int64_t)step, (int64_t)total));
    if (status != SC_OK) return scpy_session_error(self, status);
    Py_RETURN_NONE;
}

static PyObject *Session_metric_shape(SessionObject *self, PyObject *args) {
    if (scpy_check_open(self) < 0) return NULL;
    const char *module, *target;
    PyObject *shape;
    int level_default;
    if (!PyArg_ParseTuple(args, "ssOp:metric_shape", &module, &target, &shape, &level_default)) return NULL;
    PyObject *seq = scpy_as_tuple(shape, "metric_shape: shape must be a sequence of ints");
    if (seq == NULL) return NULL;
    Py_ssize_t n = PyTuple_Size(seq);
    if (n > SC_MAX_NDIM) {
        Py_DECREF(seq);
        return PyErr_Format(PyExc_ValueError, "metric_shape: %zd dimensions; at most %d", n, SC_MAX_NDIM);
    }
    int64_t dims[SC_MAX_NDIM], out[SC_MAX_NDIM];
    for (Py_ssize_t i = 0; i < n; i++) {
        long long v = PyLong_AsLongLong(PyTuple_GetItem(seq, i));
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return NULL;
        }
        dims[i] = (int64_t)v;
    }
    Py_DECREF(seq);
    int32_t out_ndim = 0;
    int status;
    SCPY_CALL_BUSY(self, status, sc_session_metric_shape(self->session, module, target, dims, (int32_t)n, level_default,
                                                        out, &out_ndim));
    if (status != SC_OK) return scpy_session_error(self, status);
    PyObject *t = PyTuple_New(out_ndim);
    if (t == NULL) return NULL;
    for (int32_t i = 0; i < out_ndim; i++) PyTuple_SetItem(t, i, PyLong_FromLongLong((long long)out[i]));
    return t;
}

PyMethodDef scpy_training_module_methods[] = {
    {"taylor_accumulate", core_taylor_accumulate, METH_VARARGS,
     "taylor_accumulate(buffer, weight, gradient, reset): buffer = (reset ? 0 : buffer) + (weight * gradient)^2."},
    {"taylor_average", core_taylor_average, METH_VARARGS, "taylor_average(buffer, steps, out): out = buffer / steps."},
    {"slim_metric", core_slim_metric, METH_VARARGS, "slim_metric(factor, out): out = |factor|."},
    {"slim_penalty", core_slim_penalty, METH_VARARGS,
     "slim_penalty(loss, factors, regular_scale, out): out = loss + regular_scale * sum ||f||_1 / len(factors)."},
    {"slim_penalty_backward", core_slim_penalty_backward, METH_VARARGS,
     "slim_penalty_backward(factors, regular_scale, grad_output, grads): grads[k] = sign(f_k) * grad_output / n * scale."},
    {NULL, NULL, 0, NULL},
};

PyMethodDef scpy_training_session_methods[] = {
    {"set_schedule", (PyCFunction)Session_set_schedule, METH_VARARGS,
     "set_schedule(schedule, step, total_steps): scale every target's goals (SC_SCHEDULE_*; -1 clears)."},
    {"metric_shape", (PyCFunction)Session_metric_shape, METH_VARARGS,
     "metric_shape(module_name, target_name, shape, level_default) -> the target's metric (block) shape."},
    {NULL, NULL, 0, NULL},
};
