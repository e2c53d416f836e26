/*
 * swiftcompress._core: the quantization methods of Session (sc_session_observe, scale shape,
 * quant params, fake quantize, quant range). See _core.c for the conventions (tensor specs, errors,
 * the GIL) and _common.h for the shared helpers.
 *
 * Nothing is retained: every buffer is read or written during the call only, so no keepalive is
 * needed. observe and fake_quantize release the GIL (with the session's busy flag set, so a second
 * thread gets RuntimeError instead of racing); the small calls keep it.
 */
#include "_common.h"

/* Parses (module_name, target_name) with `format` ("ss:<method>") and checks the session is open.
 * Returns 0, or -1 with an exception set. */
static int read_target_args(SessionObject *self, PyObject *args, PyObject *kwds, const char *format, const char **module,
                            const char **target) {
    static char *kwlist[] = {"module_name", "target_name", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, format, kwlist, module, target)) return -1;
    return scpy_check_open(self);
}

static PyObject *Session_observe(SessionObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"module_name", "target_name", "batch", "observer", NULL};
    const char *module, *target;
    PyObject *spec;
    int observer;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ssOi:observe", kwlist, &module, &target, &spec, &observer))
        return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    tensor_arg batch;
    if (scpy_read_spec(spec, "observe: batch", &batch) < 0) return NULL;
    int status;
    SCPY_CALL_BUSY(self, status, sc_session_observe(self->session, module, target, &batch.t, observer));
    if (status != SC_OK) return scpy_session_error(self, status);
    Py_RETURN_NONE;
}

static PyObject *Session_scale_shape(SessionObject *self, PyObject *args, PyObject *kwds) {
    const char *module, *target;
    if (read_target_args(self, args, kwds, "ss:scale_shape", &module, &target) < 0) return NULL;
    size_t ndim = 0;
    const int64_t *shape = NULL;
    int status = sc_session_scale_shape(self->session, module, target, &ndim, &shape);
    if (status != SC_OK) return scpy_session_error(self, status);
    if (ndim > 0 && shape == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "scale_shape: the core returned no shape array");
        return NULL;
    }
    if (ndim > (size_t)PY_SSIZE_T_MAX) return PyErr_NoMemory();
    PyObject *tuple = PyTuple_New((Py_ssize_t)ndim);
    if (tuple == NULL) return NULL;
    for (size_t i = 0; i < ndim; i++) {
        PyObject *v = PyLong_FromLongLong((long long)shape[i]);
        if (v == NULL) {
            Py_DECREF(tuple);
            return NULL;
        }
        PyTuple_SetItem(tuple, (Py_ssize_t)i, v);
    }
    return tuple;
}

static PyObject *Session_quant_params(SessionObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"module_name", "target_name", "scale", "zero_point", "tracked_min", "tracked_max", NULL};
    const char *module, *target;
    PyObject *sspec, *zspec, *minspec = Py_None, *maxspec = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ssOO|OO:quant_params", kwlist, &module, &target, &sspec, &zspec,
                                     &minspec, &maxspec))
        return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    tensor_arg scale, zero, tmin, tmax;
    const sc_tensor *minp = NULL, *maxp = NULL;
    if (scpy_read_spec(sspec, "quant_params: scale", &scale) < 0 ||
        scpy_read_spec(zspec, "quant_params: zero_point", &zero) < 0 ||
        scpy_read_optional_spec(minspec, "quant_params: tracked_min", &tmin, &minp) < 0 ||
        scpy_read_optional_spec(maxspec, "quant_params: tracked_max", &tmax, &maxp) < 0)
        return NULL;
    int status = sc_session_quant_params(self->session, module, target, &scale.t, &zero.t, minp, maxp);
    if (status != SC_OK) return scpy_session_error(self, status);
    Py_RETURN_NONE;
}

static PyObject *Session_fake_quantize(SessionObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"module_name", "target_name", "x", "out", "gradient_mask", "apply_method", NULL};
    const char *module, *target;
    PyObject *xspec, *ospec, *mspec = Py_None, *method = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ssOO|OO:fake_quantize", kwlist, &module, &target, &xspec, &ospec,
                                     &mspec, &method))
        return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    int use_method = 0;
    int apply_method = 0;
    if (method != Py_None) {
        long m = PyLong_AsLong(method);
        if (m == -1 && PyErr_Occurred()) return NULL;
        if (m < INT32_MIN || m > INT32_MAX) {
            PyErr_Format(PyExc_ValueError, "fake_quantize: apply_method %ld is out of range", m);
            return NULL;
        }
        use_method = 1;
        apply_method = (int)m;
    }
    tensor_arg x, out, mask;
    const sc_tensor *maskp = NULL;
    if (scpy_read_spec(xspec, "fake_quantize: x", &x) < 0 || scpy_read_spec(ospec, "fake_quantize: out", &out) < 0 ||
        scpy_read_optional_spec(mspec, "fake_quantize: gradient_mask", &mask, &maskp) < 0)
        return NULL;
    int status;
    SCPY_CALL_BUSY(self, status,
                   use_method
                       ? sc_session_fake_quantize_as(self->session, module, target, apply_method, &x.t, &out.t, maskp)
                       : sc_session_fake_quantize(self->session, module, target, &x.t, &out.t, maskp));
    if (status != SC_OK) return scpy_session_error(self, status);
    Py_RETURN_NONE;
}

static PyObject *Session_quant_range(SessionObject *self, PyObject *args, PyObject *kwds) {
    const char *module, *target;
    if (read_target_args(self, args, kwds, "ss:quant_range", &module, &target) < 0) return NULL;
    int bits = 0, is_signed = 0;
    int64_t qmin = 0, qmax = 0;
    int status = sc_session_quant_range(self->session, module, target, &bits, &is_signed, &qmin, &qmax);
    if (status != SC_OK) return scpy_session_error(self, status);
    return Py_BuildValue("(iNLL)", bits, PyBool_FromLong(is_signed), (long long)qmin, (long long)qmax);
}

PyMethodDef scpy_quant_session_methods[] = {
    SCPY_KW_METHOD("observe", Session_observe,
        "observe(module_name, target_name, batch_spec, observer): folds a batch into the target's observer "
        "(SC_OBSERVER_MINMAX or SC_OBSERVER_EMA; GIL released)."),
    SCPY_KW_METHOD("scale_shape", Session_scale_shape,
        "scale_shape(module_name, target_name) -> tuple: the shape of the target's scale (() per tensor)."),
    SCPY_KW_METHOD("quant_params", Session_quant_params,
        "quant_params(module_name, target_name, scale_spec, zero_point_spec, tracked_min_spec=None, "
        "tracked_max_spec=None): writes the scale, zero point and tracked range (buffers of the scale shape)."),
    SCPY_KW_METHOD("fake_quantize", Session_fake_quantize,
        "fake_quantize(module_name, target_name, x_spec, out_spec, gradient_mask_spec=None, apply_method=None): "
        "writes the target's apply_method (or SC_APPLY_* when given) of x into out (GIL released)."),
    SCPY_KW_METHOD("quant_range", Session_quant_range,
        "quant_range(module_name, target_name) -> (bits, signed, qmin, qmax)."),
    {NULL, NULL, 0, NULL},
};
