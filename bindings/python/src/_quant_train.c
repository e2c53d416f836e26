/*
 * swiftcompress._core: the training-time quantizers' forward values and gradients (sc_lsq_forward,
 * sc_lsq_backward, sc_dorefa_*, sc_binarize, sc_clamp_in_place, sc_trainable_initial_params).
 * Module functions in scpy_train_module_methods. Tensors are spec tuples (see _core.c); nothing is
 * retained after a call; the GIL is released while the core runs.
 */
#include "_common.h"

static PyObject *done(int status) {
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    Py_RETURN_NONE;
}

/* trainable_initial_params(method, qmin, qmax) -> (scale, zero_point) */
static PyObject *core_trainable_initial_params(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"method", "qmin", "qmax", NULL};
    int method;
    long long qmin, qmax;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iLL:trainable_initial_params", kwlist, &method, &qmin, &qmax)) return NULL;
    double scale = 0, zero_point = 0;
    int status = sc_trainable_initial_params(method, (int64_t)qmin, (int64_t)qmax, &scale, &zero_point);
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    return Py_BuildValue("(dd)", scale, zero_point);
}

/* trainable_tracked_range(scale, zero_point, qmin, qmax, tracked_min, tracked_max) */
static PyObject *core_trainable_tracked_range(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"scale", "zero_point", "qmin", "qmax", "tracked_min", "tracked_max", NULL};
    PyObject *ss, *zs, *lo, *hi;
    long long qmin, qmax;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOLLOO:trainable_tracked_range", kwlist, &ss, &zs, &qmin, &qmax,
                                     &lo, &hi)) return NULL;
    tensor_arg s, z, a, b;
    if (scpy_read_spec(ss, "trainable_tracked_range: scale", &s) < 0 ||
        scpy_read_spec(zs, "trainable_tracked_range: zero_point", &z) < 0 ||
        scpy_read_spec(lo, "trainable_tracked_range: tracked_min", &a) < 0 ||
        scpy_read_spec(hi, "trainable_tracked_range: tracked_max", &b) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_trainable_tracked_range(&s.t, &z.t, (int64_t)qmin, (int64_t)qmax, &a.t, &b.t));
    return done(status);
}

/* lsq_forward(x, scale, zero_point, qmin, qmax, out) */
static PyObject *core_lsq_forward(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"x", "scale", "zero_point", "qmin", "qmax", "out", NULL};
    PyObject *xs, *ss, *zs, *os;
    long long qmin, qmax;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOLLO:lsq_forward", kwlist, &xs, &ss, &zs, &qmin, &qmax, &os)) return NULL;
    tensor_arg x, s, z, o;
    const sc_tensor *zp = NULL;
    if (scpy_read_spec(xs, "lsq_forward: x", &x) < 0 || scpy_read_spec(ss, "lsq_forward: scale", &s) < 0 ||
        scpy_read_optional_spec(zs, "lsq_forward: zero_point", &z, &zp) < 0 || scpy_read_spec(os, "lsq_forward: out", &o) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_lsq_forward(&x.t, &s.t, zp, (int64_t)qmin, (int64_t)qmax, &o.t));
    return done(status);
}

/* lsq_backward(x, scale, zero_point, qmin, qmax, grad_output, grad_input, grad_scale, grad_zero_point) */
static PyObject *core_lsq_backward(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"x", "scale", "zero_point", "qmin", "qmax", "grad_output", "grad_input", "grad_scale",
                             "grad_zero_point", NULL};
    PyObject *xs, *ss, *zs, *gs, *gis, *gss, *gzs;
    long long qmin, qmax;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOLLOOOO:lsq_backward", kwlist, &xs, &ss, &zs, &qmin, &qmax, &gs, &gis,
                                     &gss, &gzs))
        return NULL;
    tensor_arg x, s, z, g, gi, gsc, gz;
    const sc_tensor *zp = NULL, *gip = NULL, *gzp = NULL;
    if (scpy_read_spec(xs, "lsq_backward: x", &x) < 0 || scpy_read_spec(ss, "lsq_backward: scale", &s) < 0 ||
        scpy_read_optional_spec(zs, "lsq_backward: zero_point", &z, &zp) < 0 ||
        scpy_read_spec(gs, "lsq_backward: grad_output", &g) < 0 ||
        scpy_read_optional_spec(gis, "lsq_backward: grad_input", &gi, &gip) < 0 ||
        scpy_read_spec(gss, "lsq_backward: grad_scale", &gsc) < 0 ||
        scpy_read_optional_spec(gzs, "lsq_backward: grad_zero_point", &gz, &gzp) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_lsq_backward(&x.t, &s.t, zp, (int64_t)qmin, (int64_t)qmax, &g.t, gip, &gsc.t, gzp));
    return done(status);
}

/* dorefa_weight_forward(weight, scale, zero_point, qmin, qmax, out) */
static PyObject *core_dorefa_weight_forward(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"weight", "scale", "zero_point", "qmin", "qmax", "out", NULL};
    PyObject *ws, *os;
    double scale, zero_point;
    long long qmin, qmax;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OddLLO:dorefa_weight_forward", kwlist, &ws, &scale, &zero_point, &qmin,
                                     &qmax, &os))
        return NULL;
    tensor_arg w, o;
    if (scpy_read_spec(ws, "dorefa_weight_forward: weight", &w) < 0 || scpy_read_spec(os, "dorefa_weight_forward: out", &o) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_dorefa_weight_forward(&w.t, scale, zero_point, (int64_t)qmin, (int64_t)qmax, &o.t));
    return done(status);
}

/* dorefa_weight_backward(weight, grad_output, grad_input) */
static PyObject *core_dorefa_weight_backward(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"weight", "grad_output", "grad_input", NULL};
    PyObject *ws, *gs, *gis;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO:dorefa_weight_backward", kwlist, &ws, &gs, &gis)) return NULL;
    tensor_arg w, g, gi;
    if (scpy_read_spec(ws, "dorefa_weight_backward: weight", &w) < 0 ||
        scpy_read_spec(gs, "dorefa_weight_backward: grad_output", &g) < 0 ||
        scpy_read_spec(gis, "dorefa_weight_backward: grad_input", &gi) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_dorefa_weight_backward(&w.t, &g.t, &gi.t));
    return done(status);
}

/* dorefa_input_forward(x, qmin, qmax, symmetric, out) -> (scale, zero_point) */
static PyObject *core_dorefa_input_forward(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"x", "qmin", "qmax", "symmetric", "out", NULL};
    PyObject *xs, *os;
    long long qmin, qmax;
    int symmetric;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OLLpO:dorefa_input_forward", kwlist, &xs, &qmin, &qmax, &symmetric,
                                     &os)) return NULL;
    tensor_arg x, o;
    if (scpy_read_spec(xs, "dorefa_input_forward: x", &x) < 0 || scpy_read_spec(os, "dorefa_input_forward: out", &o) < 0)
        return NULL;
    double scale = 0, zero_point = 0;
    int status;
    SCPY_CALL_NOGIL(status, sc_dorefa_input_forward(&x.t, (int64_t)qmin, (int64_t)qmax, symmetric, &o.t, &scale,
                                                    &zero_point));
    if (status != SC_OK) return scpy_raise_status(status, sc_last_error());
    return Py_BuildValue("(dd)", scale, zero_point);
}

/* dorefa_gradient(grad, noise, bits, qmin, qmax, out) */
static PyObject *core_dorefa_gradient(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"grad", "noise", "bits", "qmin", "qmax", "out", NULL};
    PyObject *gs, *ns, *os;
    int bits;
    long long qmin, qmax;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOiLLO:dorefa_gradient", kwlist, &gs, &ns, &bits, &qmin, &qmax, &os))
        return NULL;
    tensor_arg g, n, o;
    if (scpy_read_spec(gs, "dorefa_gradient: grad", &g) < 0 || scpy_read_spec(ns, "dorefa_gradient: noise", &n) < 0 ||
        scpy_read_spec(os, "dorefa_gradient: out", &o) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_dorefa_gradient(&g.t, &n.t, bits, (int64_t)qmin, (int64_t)qmax, &o.t));
    return done(status);
}

/* dorefa_output_forward(x, scale, zero_point, qmin, qmax, out, gradient_mask) */
static PyObject *core_dorefa_output_forward(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"x", "scale", "zero_point", "qmin", "qmax", "out", "gradient_mask", NULL};
    PyObject *xs, *os, *ms;
    double scale, zero_point;
    long long qmin, qmax;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OddLLOO:dorefa_output_forward", kwlist, &xs, &scale, &zero_point, &qmin,
                                     &qmax, &os, &ms))
        return NULL;
    tensor_arg x, o, mk;
    const sc_tensor *mp = NULL;
    if (scpy_read_spec(xs, "dorefa_output_forward: x", &x) < 0 || scpy_read_spec(os, "dorefa_output_forward: out", &o) < 0 ||
        scpy_read_optional_spec(ms, "dorefa_output_forward: gradient_mask", &mk, &mp) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_dorefa_output_forward(&x.t, scale, zero_point, (int64_t)qmin, (int64_t)qmax, &o.t, mp));
    return done(status);
}

/* binarize(x, clip_outside, out, gradient_mask) */
static PyObject *core_binarize(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"x", "clip_outside", "out", "gradient_mask", NULL};
    PyObject *xs, *os, *ms;
    int clip;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OpOO:binarize", kwlist, &xs, &clip, &os, &ms)) return NULL;
    tensor_arg x, o, mk;
    const sc_tensor *mp = NULL;
    if (scpy_read_spec(xs, "binarize: x", &x) < 0 || scpy_read_spec(os, "binarize: out", &o) < 0 ||
        scpy_read_optional_spec(ms, "binarize: gradient_mask", &mk, &mp) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_binarize(&x.t, clip, &o.t, mp));
    return done(status);
}

/* clamp_in_place(x, lo, hi) */
static PyObject *core_clamp_in_place(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"x", "lo", "hi", NULL};
    PyObject *xs;
    double lo, hi;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Odd:clamp_in_place", kwlist, &xs, &lo, &hi)) return NULL;
    tensor_arg x;
    if (scpy_read_spec(xs, "clamp_in_place: x", &x) < 0) return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_clamp_in_place(&x.t, lo, hi));
    return done(status);
}

/* fold_batch_norm_backward(layer, weight, bias, bn_weight, running_mean, running_var, eps, grad_folded_weight,
 *                          grad_folded_bias, grad_weight, grad_bias, grad_bn_weight, grad_bn_bias) */
static PyObject *core_fold_batch_norm_backward(PyObject *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"layer", "weight", "bias", "bn_weight", "running_mean", "running_var", "eps",
                             "grad_folded_weight", "grad_folded_bias", "grad_weight", "grad_bias", "grad_bn_weight",
                             "grad_bn_bias", NULL};
    int layer;
    double eps;
    PyObject *ws, *bs, *gs, *ms, *vs, *gws, *gbs, *ows, *obs, *ogs, *obetas;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iOOOOOdOOOOOO:fold_batch_norm_backward", kwlist, &layer, &ws, &bs, &gs,
                                     &ms, &vs, &eps, &gws, &gbs, &ows, &obs, &ogs, &obetas))
        return NULL;
    tensor_arg w, b, g, mean, var, gw, gb, ow, ob, og, obeta;
    const sc_tensor *bp = NULL, *gp = NULL, *gbp = NULL, *obp = NULL, *ogp = NULL, *obetap = NULL;
    if (scpy_read_spec(ws, "fold_batch_norm_backward: weight", &w) < 0 ||
        scpy_read_optional_spec(bs, "fold_batch_norm_backward: bias", &b, &bp) < 0 ||
        scpy_read_optional_spec(gs, "fold_batch_norm_backward: bn_weight", &g, &gp) < 0 ||
        scpy_read_spec(ms, "fold_batch_norm_backward: running_mean", &mean) < 0 ||
        scpy_read_spec(vs, "fold_batch_norm_backward: running_var", &var) < 0 ||
        scpy_read_spec(gws, "fold_batch_norm_backward: grad_folded_weight", &gw) < 0 ||
        scpy_read_optional_spec(gbs, "fold_batch_norm_backward: grad_folded_bias", &gb, &gbp) < 0 ||
        scpy_read_spec(ows, "fold_batch_norm_backward: grad_weight", &ow) < 0 ||
        scpy_read_optional_spec(obs, "fold_batch_norm_backward: grad_bias", &ob, &obp) < 0 ||
        scpy_read_optional_spec(ogs, "fold_batch_norm_backward: grad_bn_weight", &og, &ogp) < 0 ||
        scpy_read_optional_spec(obetas, "fold_batch_norm_backward: grad_bn_bias", &obeta, &obetap) < 0)
        return NULL;
    int status;
    SCPY_CALL_NOGIL(status, sc_fold_batch_norm_backward(layer, &w.t, bp, gp, &mean.t, &var.t, eps, &gw.t, gbp, &ow.t, obp,
                                                        ogp, obetap));
    return done(status);
}

PyMethodDef scpy_train_module_methods[] = {
    SCPY_KW_METHOD("fold_batch_norm_backward", core_fold_batch_norm_backward,
        "fold_batch_norm_backward(layer, weight, bias, bn_weight, running_mean, running_var, eps, grad_folded_weight, "
        "grad_folded_bias, grad_weight, grad_bias, grad_bn_weight, grad_bn_bias): the gradients of fold_batch_norm."),
    SCPY_KW_METHOD("trainable_initial_params", core_trainable_initial_params,
        "trainable_initial_params(method, qmin, qmax) -> (scale, zero_point): NNI's initial values (SC_TRAIN_*)."),
    SCPY_KW_METHOD("trainable_tracked_range", core_trainable_tracked_range,
        "trainable_tracked_range(scale, zero_point, qmin, qmax, tracked_min, tracked_max): NNI's reported range of a "
        "learned scale / zero point (1-element tensors) into tracked_min / tracked_max."),
    SCPY_KW_METHOD("dorefa_input_forward", core_dorefa_input_forward,
        "dorefa_input_forward(x, qmin, qmax, symmetric, out) -> (scale, zero_point): DoReFa's per-batch input "
        "quantization into out."),
    SCPY_KW_METHOD("dorefa_gradient", core_dorefa_gradient,
        "dorefa_gradient(grad, noise, bits, qmin, qmax, out): DoReFa's gradient quantization into out."),
    SCPY_KW_METHOD("lsq_forward", core_lsq_forward,
        "lsq_forward(x, scale, zero_point, qmin, qmax, out): LSQ (zero_point None) / LSQ+ fake quantization into out."),
    SCPY_KW_METHOD("lsq_backward", core_lsq_backward,
        "lsq_backward(x, scale, zero_point, qmin, qmax, grad_output, grad_input, grad_scale, grad_zero_point): "
        "the input, scale and zero-point gradients (grad_input / grad_zero_point may be None)."),
    SCPY_KW_METHOD("dorefa_weight_forward", core_dorefa_weight_forward,
        "dorefa_weight_forward(weight, scale, zero_point, qmin, qmax, out): DoReFa's weight quantization."),
    SCPY_KW_METHOD("dorefa_weight_backward", core_dorefa_weight_backward,
        "dorefa_weight_backward(weight, grad_output, grad_input): its gradient with respect to the weight."),
    SCPY_KW_METHOD("dorefa_output_forward", core_dorefa_output_forward,
        "dorefa_output_forward(x, scale, zero_point, qmin, qmax, out, gradient_mask): DoReFa's output quantization."),
    SCPY_KW_METHOD("binarize", core_binarize,
        "binarize(x, clip_outside, out, gradient_mask): sign with sign(0) = 1, and BNN's gradient mask."),
    SCPY_KW_METHOD("clamp_in_place", core_clamp_in_place, "clamp_in_place(x, lo, hi): clamps x into [lo, hi]."),
    {NULL, NULL, 0, NULL},
};
