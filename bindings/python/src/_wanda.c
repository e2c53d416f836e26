/*
 * Wanda calls of swiftcompress._core (see the "Wanda and N:M masks" section of
 * include/swiftcompress.h): module functions over tensor specs, nothing retained. Specs are
 * (data_ptr, SC_DTYPE_*, shape, strides|None) tuples. Argument conversion only.
 */
#include "_common.h"

static PyObject *core_wanda_accumulate(PyObject *m, PyObject *args) {
    PyObject *n, *x;
    long long dim;
    int reset;
    if (!PyArg_ParseTuple(args, "OOLp:wanda_accumulate", &n, &x, &dim, &reset)) return NULL;
    tensor_arg tn, tx;
    if (scpy_read_spec(n, "wanda_accumulate: norms", &tn) < 0 || scpy_read_spec(x, "wanda_accumulate: input", &tx) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_wanda_accumulate(&tn.t, &tx.t, (int64_t)dim, reset));
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    Py_RETURN_NONE;
}

static PyObject *core_wanda_metric(PyObject *m, PyObject *args) {
    PyObject *w, *n, *o;
    if (!PyArg_ParseTuple(args, "OOO:wanda_metric", &w, &n, &o)) return NULL;
    tensor_arg tw, tn, to;
    if (scpy_read_spec(w, "wanda_metric: weight", &tw) < 0 || scpy_read_spec(n, "wanda_metric: norms", &tn) < 0 ||
        scpy_read_spec(o, "wanda_metric: out", &to) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_wanda_metric(&tw.t, &tn.t, &to.t));
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    Py_RETURN_NONE;
}

PyMethodDef scpy_wanda_module_methods[] = {
    {"wanda_accumulate", core_wanda_accumulate, METH_VARARGS,
     "wanda_accumulate(norms, input, channel_dim, reset): norms[c] (+)= sum of input^2 over all but channel_dim."},
    {"wanda_metric", core_wanda_metric, METH_VARARGS,
     "wanda_metric(weight, norms, out): out = |weight| * sqrt(norms[j]), j along dim 1."},
    {NULL, NULL, 0, NULL},
};
