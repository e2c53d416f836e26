/*
 * swiftcompress._core: real quantization and batch-norm folding (sc_session_quantize and
 * friends, sc_fold_batch_norm). Session methods in scpy_real_session_methods, module functions in
 * scpy_real_module_methods. See _core.c for the conventions and _common.h for the helpers.
 *
 * Quantized buffers are raw memory given as (address: int, size in bytes: int); the Python package
 * allocates them (e.g. a torch.uint8 tensor of qstorage_bytes(storage, count) bytes) and keeps them
 * alive during the call. Nothing is retained after a call. The GIL is released while the core runs.
 */
#include "_common.h"

/* An address (int, 0 for NULL) into *out. Returns 0, or -1 with an exception set. */
static int read_address(PyObject *obj, const char *what, void **out) {
    if (!PyLong_Check(obj)) {
        char type_name[128];
        scpy_type_name(obj, type_name, sizeof type_name);
        PyErr_Format(PyExc_TypeError, "%s must be an int address (data_ptr()), got %.100s", what, type_name);
        return -1;
    }
    void *p = PyLong_AsVoidPtr(obj);
    if (p == NULL && PyErr_Occurred()) return -1;
    *out = p;
    return 0;
}

/* A byte count (int >= 0) into *out. Returns 0, or -1 with an exception set. */
static int read_size(PyObject *obj, const char *what, size_t *out) {
    if (!PyLong_Check(obj)) {
        char type_name[128];
        scpy_type_name(obj, type_name, sizeof type_name);
        PyErr_Format(PyExc_TypeError, "%s must be an int, got %.100s", what, type_name);
        return -1;
    }
    size_t n = PyLong_AsSize_t(obj);
    if (n == (size_t)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s must be an int >= 0 that fits size_t", what);
        return -1;
    }
    *out = n;
    return 0;
}

/* Session.quantize(module_name, target_name, x, out_ptr, out_bytes, storage) -> nan_count */
static PyObject *Session_quantize(SessionObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"module_name", "target_name", "x", "out_ptr", "out_bytes", "storage", NULL};
    const char *module, *target;
    PyObject *xspec, *optr, *obytes;
    int storage;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ssOOOi:quantize", kwlist, &module, &target, &xspec, &optr, &obytes,
                                     &storage))
        return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    tensor_arg x;
    void *out = NULL;
    size_t nbytes = 0, nans = 0;
    if (scpy_read_spec(xspec, "quantize: x", &x) < 0 || read_address(optr, "quantize: out_ptr", &out) < 0 ||
        read_size(obytes, "quantize: out_bytes", &nbytes) < 0)
        return NULL;
    int status;
    SCPY_CALL_BUSY(self, status, sc_session_quantize(self->session, module, target, &x.t, out, nbytes, storage, &nans));
    if (status != SC_OK) return scpy_session_error(self, status);
    return PyLong_FromSize_t(nans);
}

/* Session.dequantize(module_name, target_name, q_ptr, q_bytes, storage, out) -> None */
static PyObject *Session_dequantize(SessionObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"module_name", "target_name", "q_ptr", "q_bytes", "storage", "out", NULL};
    const char *module, *target;
    PyObject *qptr, *qbytes, *ospec;
    int storage;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "ssOOiO:dequantize", kwlist, &module, &target, &qptr, &qbytes, &storage,
                                     &ospec))
        return NULL;
    if (scpy_check_open(self) < 0) return NULL;
    tensor_arg o;
    void *q = NULL;
    size_t nbytes = 0;
    if (read_address(qptr, "dequantize: q_ptr", &q) < 0 || read_size(qbytes, "dequantize: q_bytes", &nbytes) < 0 ||
        scpy_read_spec(ospec, "dequantize: out", &o) < 0)
        return NULL;
    int status;
    SCPY_CALL_BUSY(self, status, sc_session_dequantize(self->session, module, target, q, nbytes, storage, &o.t));
    if (status != SC_OK) return scpy_session_error(self, status);
    Py_RETURN_NONE;
}

/* _core.quantize(x, scale, zero_point, bits, is_signed, out_ptr, out_bytes, storage) -> nan_count */
static PyObject *core_quantize(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"x", "scale", "zero_point", "bits", "is_signed", "out_ptr", "out_bytes", "storage", NULL};
    PyObject *xspec, *sspec, *zspec, *optr, *obytes;
    int bits, is_signed, storage;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOipOOi:quantize", kwlist, &xspec, &sspec, &zspec, &bits, &is_signed,
                                     &optr, &obytes, &storage))
        return NULL;
    tensor_arg x, s, z;
    void *out = NULL;
    size_t nbytes = 0, nans = 0;
    if (scpy_read_spec(xspec, "quantize: x", &x) < 0 || scpy_read_spec(sspec, "quantize: scale", &s) < 0 ||
        scpy_read_spec(zspec, "quantize: zero_point", &z) < 0 || read_address(optr, "quantize: out_ptr", &out) < 0 ||
        read_size(obytes, "quantize: out_bytes", &nbytes) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_quantize(&x.t, &s.t, &z.t, bits, is_signed, out, nbytes, storage, &nans));
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    return PyLong_FromSize_t(nans);
}

/* _core.dequantize(q_ptr, q_bytes, storage, scale, zero_point, bits, is_signed, out) -> None */
static PyObject *core_dequantize(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"q_ptr", "q_bytes", "storage", "scale", "zero_point", "bits", "is_signed", "out", NULL};
    PyObject *qptr, *qbytes, *sspec, *zspec, *ospec;
    int bits, is_signed, storage;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOiOOipO:dequantize", kwlist, &qptr, &qbytes, &storage, &sspec, &zspec,
                                     &bits, &is_signed, &ospec))
        return NULL;
    tensor_arg o, s, z;
    void *q = NULL;
    size_t nbytes = 0;
    if (read_address(qptr, "dequantize: q_ptr", &q) < 0 || read_size(qbytes, "dequantize: q_bytes", &nbytes) < 0 ||
        scpy_read_spec(sspec, "dequantize: scale", &s) < 0 || scpy_read_spec(zspec, "dequantize: zero_point", &z) < 0 ||
        scpy_read_spec(ospec, "dequantize: out", &o) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_dequantize(q, nbytes, storage, &s.t, &z.t, bits, is_signed, &o.t));
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    Py_RETURN_NONE;
}

/* _core.qstorage_bytes(storage, count) -> bytes */
static PyObject *core_qstorage_bytes(PyObject *m, PyObject *args) {
    int storage;
    PyObject *count_obj;
    if (!PyArg_ParseTuple(args, "iO:qstorage_bytes", &storage, &count_obj)) return NULL;
    size_t count = 0, bytes = 0;
    if (read_size(count_obj, "qstorage_bytes: count", &count) < 0) return NULL;
    int status = sc_qstorage_bytes(storage, count, &bytes);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    return PyLong_FromSize_t(bytes);
}

/* _core.fold_batch_norm(layer, weight, bias, bn_weight, bn_bias, running_mean, running_var, eps,
 *                       folded_weight, folded_bias) -> None */
static PyObject *core_fold_batch_norm(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"layer", "weight", "bias", "bn_weight", "bn_bias", "running_mean", "running_var", "eps",
                             "folded_weight", "folded_bias", NULL};
    int layer;
    double eps;
    PyObject *wspec, *bspec, *gspec, *betaspec, *mspec, *vspec, *fwspec, *fbspec;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iOOOOOOdOO:fold_batch_norm", kwlist, &layer, &wspec, &bspec, &gspec,
                                     &betaspec, &mspec, &vspec, &eps, &fwspec, &fbspec))
        return NULL;
    tensor_arg w, b, g, beta, mean, var, fw, fb;
    const sc_tensor *bp = NULL, *gp = NULL, *betap = NULL;
    if (scpy_read_spec(wspec, "fold_batch_norm: weight", &w) < 0 ||
        scpy_read_optional_spec(bspec, "fold_batch_norm: bias", &b, &bp) < 0 ||
        scpy_read_optional_spec(gspec, "fold_batch_norm: bn_weight", &g, &gp) < 0 ||
        scpy_read_optional_spec(betaspec, "fold_batch_norm: bn_bias", &beta, &betap) < 0 ||
        scpy_read_spec(mspec, "fold_batch_norm: running_mean", &mean) < 0 ||
        scpy_read_spec(vspec, "fold_batch_norm: running_var", &var) < 0 ||
        scpy_read_spec(fwspec, "fold_batch_norm: folded_weight", &fw) < 0 ||
        scpy_read_spec(fbspec, "fold_batch_norm: folded_bias", &fb) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_fold_batch_norm(layer, &w.t, bp, gp, betap, &mean.t, &var.t, eps, &fw.t, &fb.t));
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    Py_RETURN_NONE;
}

PyMethodDef scpy_real_session_methods[] = {
    SCPY_KW_METHOD("quantize", Session_quantize,
        "quantize(module_name, target_name, x, out_ptr, out_bytes, storage) -> nan_count: real quantization of x "
        "with the target's observed scale and zero point into out_bytes bytes at out_ptr (SC_QSTORAGE_* layout)."),
    SCPY_KW_METHOD("dequantize", Session_dequantize,
        "dequantize(module_name, target_name, q_ptr, q_bytes, storage, out): (q - zp) * scale into out."),
    {NULL, NULL, 0, NULL},
};

PyMethodDef scpy_real_module_methods[] = {
    SCPY_KW_METHOD("quantize", core_quantize,
        "quantize(x, scale, zero_point, bits, is_signed, out_ptr, out_bytes, storage) -> nan_count: real quantization "
        "with explicit parameters (the scale's shape gives the blocks)."),
    SCPY_KW_METHOD("dequantize", core_dequantize,
        "dequantize(q_ptr, q_bytes, storage, scale, zero_point, bits, is_signed, out): (q - zp) * scale into out."),
    {"qstorage_bytes", core_qstorage_bytes, METH_VARARGS,
     "qstorage_bytes(storage, count) -> the bytes count values take in an SC_QSTORAGE_* layout."},
    SCPY_KW_METHOD("fold_batch_norm", core_fold_batch_norm,
        "fold_batch_norm(layer, weight, bias, bn_weight, bn_bias, running_mean, running_var, eps, folded_weight, "
        "folded_bias): folds a batch norm into the conv (SC_FOLD_CONV) or linear (SC_FOLD_LINEAR) layer before it."),
    {NULL, NULL, 0, NULL},
};
