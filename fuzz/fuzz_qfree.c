/*
 * fuzz_qfree.c — target (c), session-free half: sc_quantize, sc_dequantize, sc_fold_batch_norm,
 * sc_qstorage_bytes. Every input reaches one of them (no config to get past), so they run millions
 * of times.
 *
 * Byte 0 picks the call (and a quantize -> dequantize round trip); the rest is read with the
 * structured reader: x's shape, dtype and layout; a scale shape (per tensor as ndim 0 or all ones,
 * per block with each size dividing x's, or a shape that does not fit); scales (mostly positive,
 * sometimes 0, negative, NaN, infinite, subnormal) and zero points (mostly integers in range);
 * bits 1..17, is_signed 0..2, storage (also bad ones), out_bytes exact / short / long.
 * Invariants, besides fuzz_common.h's: on failure nothing is written (byte buffers and tensors
 * compared with copies; *nan_count and *bytes untouched); on success every stored value is in
 * [qmin, qmax], the odd 4-bit padding nibble is 0, bytes after sc_qstorage_bytes are untouched,
 * *nan_count is x's NaN count, and a round trip gives back x within half a scale step where x is
 * inside the range; views the header rejects are rejected.
 */
#include "fuzz_quant_common.h"

typedef struct params {
    ft scale, zp;
    int bits, is_signed;
    int64_t qmin, qmax;
    int valid; /* bits, is_signed and every scale / zero point are valid */
} params;

/* A scale shape for a tensor of `ndim` dims `shape`. */
static int32_t scale_shape(fdp *p, int32_t ndim, const int64_t *shape, int64_t *out) {
    int kind = (int)fdp_range(p, 0, 9);
    if (kind < 3 || ndim <= 0 || ndim > SC_MAX_NDIM) { /* per tensor */
        if (kind == 0 || ndim <= 0 || ndim > SC_MAX_NDIM) return 0;
        int32_t n = (int32_t)fdp_range(p, 1, 4);
        for (int d = 0; d < n; d++) out[d] = 1;
        return n;
    }
    if (kind == 9) return fz_shape(p, out, 4, 6); /* anything */
    for (int d = 0; d < ndim; d++) {
        int64_t n = shape[d];
        if (n <= 0) { out[d] = n; continue; }
        switch (fdp_range(p, 0, 3)) {
            case 0: out[d] = 1; break;
            case 1: out[d] = n; break;
            case 2: {
                int64_t k = fdp_range(p, 1, n < 8 ? n : 8);
                while (n % k) k--;
                out[d] = n / k;
                break;
            }
            default: out[d] = n > 1 ? n - 1 : 2; break; /* does not divide (or is too large) */
        }
    }
    return ndim;
}

/* `xdtype`: the dtype of the tensor the parameters are used with (float64 computes in float64, the
 * others in float32). */
static void make_params(params *q, fdp *p, int32_t xndim, const int64_t *xshape, int32_t xdtype) {
    memset(q, 0, sizeof *q);
    q->bits = fdp_one_in(p, 16) ? (int)fdp_range(p, -1, 20) : (int)fdp_range(p, 2, 16);
    q->is_signed = fdp_one_in(p, 32) ? 2 : fdp_bool(p);
    q->valid = q->bits >= 2 && q->bits <= 16 && (q->is_signed == 0 || q->is_signed == 1);
    if (q->valid) fz_qrange(q->bits, q->is_signed, &q->qmin, &q->qmax);
    int64_t sshape[SC_MAX_NDIM + 2], zshape[SC_MAX_NDIM + 2];
    int32_t sndim = scale_shape(p, xndim, xshape, sshape);
    memcpy(zshape, sshape, sizeof zshape);
    int32_t zndim = sndim;
    if (fdp_one_in(p, 24)) zndim = fz_shape(p, zshape, 3, 4);
    ft_make(&q->scale, p, fdp_one_in(p, 3) ? fz_dtype(p) : SC_DTYPE_FLOAT32, sndim, sshape);
    ft_make(&q->zp, p, fdp_one_in(p, 3) ? fz_dtype(p) : SC_DTYPE_FLOAT32, zndim, zshape);
    if (q->scale.addressable && q->scale.t.data)
        for (int64_t i = 0; i < q->scale.count; i++) {
            static const double good[] = {1.0, 0.5, 0.1, 0.25, 2.0, 1e-3, 0.0078125, 1.1920929e-07, 3.0, 0.01};
            uint8_t sel = fdp_u8(p);
            double v = sel < 224 ? good[sel % 10] : fdp_double(p);
            /* Open bug 2 (fuzz/regressions/README.md): a scale that is finite and > 0 as given but 0
             * or infinite in float32, the precision of a non-float64 x, is accepted and divides by
             * zero. Unless FZ_KNOWN_BUGS=1 such scales are replaced by 1. */
            if (!fz_known_bugs() && xdtype != SC_DTYPE_FLOAT64 && isfinite(v) && v > 0 && ((float)v == 0.0f || isinf((float)v)))
                v = 1.0;
            ft_set(&q->scale, i, v);
        }
    else q->valid = 0;
    if (q->zp.addressable && q->zp.t.data)
        for (int64_t i = 0; i < q->zp.count; i++) {
            uint8_t sel = fdp_u8(p);
            double v;
            if (sel < 224 && q->valid) v = (double)(q->qmin + (int64_t)(fdp_u16(p) % (uint64_t)(q->qmax - q->qmin + 1)));
            else if (sel < 240) v = q->valid ? (double)(sel & 1 ? q->qmax : q->qmin) : 0.0;
            else v = fdp_double(p);
            ft_set(&q->zp, i, v);
        }
    else q->valid = 0;
    /* validity from the values as stored (views with stride 0 keep the last one written) */
    for (int64_t i = 0; q->valid && i < q->scale.count; i++) {
        double v = ft_get(&q->scale, i);
        if (!(v > 0 && isfinite(v))) q->valid = 0;
    }
    for (int64_t i = 0; q->valid && i < q->zp.count; i++) {
        double v = ft_get(&q->zp, i);
        if (!(v == floor(v) && v >= (double)q->qmin && v <= (double)q->qmax)) q->valid = 0;
    }
    if (q->scale.bad_view || q->zp.bad_view) q->valid = 0;
    if (getenv("FZ_VERBOSE")) {
        fprintf(stderr, "params: bits %d signed %d valid %d; scale", q->bits, q->is_signed, q->valid);
        for (int64_t i = 0; q->scale.addressable && i < q->scale.count; i++) fprintf(stderr, " %g", ft_get(&q->scale, i));
        fprintf(stderr, "; zero point");
        for (int64_t i = 0; q->zp.addressable && i < q->zp.count; i++) fprintf(stderr, " %g", ft_get(&q->zp, i));
        fprintf(stderr, "\n");
    }
}
static void free_params(params *q) {
    ft_free(&q->scale);
    ft_free(&q->zp);
}

/* The block (element index of the scale, row-major) of element `i` of x. */
static int64_t block_of(const ft *x, const ft *scale, int64_t i) {
    if (scale->count == 1) return 0;
    int64_t b = 0, mul = 1;
    for (int d = x->t.ndim - 1; d >= 0; d--) {
        int64_t n = x->shape[d], c = i % n;
        i /= n;
        int64_t per = n / scale->shape[d];
        b += (c / per) * mul;
        mul *= scale->shape[d];
    }
    return b;
}

static size_t pick_bytes(fdp *p, size_t need, int ok) {
    if (!ok) return (size_t)fdp_range(p, 0, 16);
    switch (fdp_range(p, 0, 15)) {
        case 0: return need ? need - 1 : 0;
        case 1: return 0;
        case 2: return need + (size_t)fdp_range(p, 1, 5);
        default: return need;
    }
}

static void do_quantize(fdp *p, int roundtrip) {
    int64_t shape[SC_MAX_NDIM + 2];
    int32_t ndim = fz_shape(p, shape, 4, 5);
    ft x;
    ft_make(&x, p, fdp_one_in(p, 2) ? fz_dtype(p) : SC_DTYPE_FLOAT32, ndim, shape);
    ft_fill(&x, p);
    params q;
    make_params(&q, p, ndim, shape, x.t.dtype);
    int storage = fz_storage(p);
    int ok;
    size_t count = x.count > 0 ? (size_t)x.count : 0;
    size_t need = fz_qbytes(storage, count, &ok);
    size_t out_bytes = x.addressable ? pick_bytes(p, need, ok) : 16;
    fz_qbuf out;
    fz_qbuf_make(&out, out_bytes, p);
    int null_out = x.count == 0 && fdp_bool(p);
    size_t nan_count = 123456789;
    ft_snapshot(&x);
    int st = CHECK_STATUS(NULL, sc_quantize(&x.t, &q.scale.t, &q.zp.t, q.bits, q.is_signed, null_out ? NULL : out.p,
                                            out_bytes, storage, fdp_bool(p) ? &nan_count : NULL));
    FZ_ASSERT(ft_unchanged(&x) && ft_unchanged(&q.scale) && ft_unchanged(&q.zp), "sc_quantize wrote an input");
    if (st != SC_OK) {
        FZ_ASSERT(fz_qbuf_unchanged(&out, 0), "a failed sc_quantize (%s) wrote the output", sc_status_name(st));
        FZ_ASSERT(nan_count == 123456789, "a failed sc_quantize wrote *nan_count");
    } else {
        FZ_ASSERT(!x.bad_view && !q.scale.bad_view && !q.zp.bad_view, "sc_quantize accepted a view the header rejects (x layout %d)",
                  x.layout);
        FZ_ASSERT(q.valid, "sc_quantize accepted bits %d is_signed %d or a scale / zero point out of range", q.bits, q.is_signed);
        FZ_ASSERT(ok && out_bytes >= need, "sc_quantize accepted storage %d with %zu bytes for %zu values", storage, out_bytes, count);
        fz_check_quantized(&out, storage, count, q.qmin, q.qmax, "sc_quantize");
        int64_t nans = fz_nan_count(&x);
        if (nan_count != 123456789 && nans >= 0)
            FZ_ASSERT((int64_t)nan_count == nans, "sc_quantize counted %zu NaNs, x has %lld", nan_count, (long long)nans);
        if (roundtrip && count > 0) {
            ft back;
            int32_t bd = fdp_bool(p) ? SC_DTYPE_FLOAT64 : x.t.dtype;
            ft_make(&back, p, bd, ndim, shape);
            ft_snapshot(&back);
            st = CHECK_STATUS(NULL, sc_dequantize(out.p, out_bytes, storage, &q.scale.t, &q.zp.t, q.bits, q.is_signed, &back.t));
            if (st != SC_OK) {
                FZ_ASSERT(ft_unchanged(&back), "a failed sc_dequantize wrote its output");
                FZ_ASSERT(back.bad_view || back.overlapping || !back.addressable || back.may_be_rejected,
                          "sc_dequantize rejected what sc_quantize accepted (%s: %s)", sc_status_name(st), sc_last_error());
            } else if (x.t.dtype == SC_DTYPE_FLOAT32 || x.t.dtype == SC_DTYPE_FLOAT64) {
                FZ_ASSERT(!back.bad_view && !back.overlapping, "sc_dequantize accepted a view the header rejects");
                for (int64_t i = 0; i < x.count; i++) {
                    double v = ft_get(&x, i), s = ft_get(&q.scale, block_of(&x, &q.scale, i)),
                           z = ft_get(&q.zp, block_of(&x, &q.zp, i)), r = ft_get(&back, i);
                    if (!isfinite(v) || s < 1e-30 || s > 1e30) continue;
                    double lo = ((double)q.qmin - z) * s, hi = ((double)q.qmax - z) * s;
                    if (v < lo || v > hi) continue;
                    /* half a step, plus the rounding of zp + x / scale in the computation precision
                     * (float32 unless x is float64: an ulp of 21838.5 is 2^-9 of a step) */
                    double ulp = x.t.dtype == SC_DTYPE_FLOAT64 ? 0x1p-50 : 0x1p-21;
                    double tol = s * 0.5 * (1 + 1e-4) + (fabs(z) * s + fabs(v) + s) * ulp + fabs(v) * 1e-5 + 1e-30;
                    if (back.t.dtype != SC_DTYPE_FLOAT64 && back.t.dtype != SC_DTYPE_FLOAT32) tol += fabs(v) * 1e-2;
                    FZ_ASSERT(fabs(r - v) <= tol, "round trip of element %lld: x %.9g -> %.9g (scale %g, zp %g, bits %d%s)",
                              (long long)i, v, r, s, z, q.bits, q.is_signed ? " signed" : "");
                }
            }
            ft_free(&back);
        }
    }
    fz_qbuf_free(&out);
    free_params(&q);
    ft_free(&x);
}

static void do_dequantize(fdp *p) {
    int64_t shape[SC_MAX_NDIM + 2];
    int32_t ndim = fz_shape(p, shape, 4, 5);
    ft out;
    ft_make(&out, p, fdp_one_in(p, 2) ? fz_dtype(p) : SC_DTYPE_FLOAT32, ndim, shape);
    params q;
    make_params(&q, p, ndim, shape, out.t.dtype);
    int storage = fz_storage(p);
    int ok;
    size_t count = out.count > 0 ? (size_t)out.count : 0;
    size_t need = fz_qbytes(storage, count, &ok);
    size_t q_bytes = out.addressable ? pick_bytes(p, need, ok) : 16;
    fz_qbuf in;
    fz_qbuf_make(&in, q_bytes, p);
    ft_snapshot(&out);
    int st = CHECK_STATUS(NULL, sc_dequantize(count == 0 && fdp_bool(p) ? NULL : in.p, q_bytes, storage, &q.scale.t, &q.zp.t, q.bits, q.is_signed, &out.t));
    FZ_ASSERT(fz_qbuf_unchanged(&in, 0), "sc_dequantize wrote its input");
    if (st != SC_OK) FZ_ASSERT(ft_unchanged(&out), "a failed sc_dequantize (%s) wrote its output", sc_status_name(st));
    else {
        FZ_ASSERT(!out.bad_view && !out.overlapping, "sc_dequantize accepted a view the header rejects (layout %d)", out.layout);
        FZ_ASSERT(q.valid, "sc_dequantize accepted bits %d is_signed %d or a scale / zero point out of range", q.bits, q.is_signed);
    }
    fz_qbuf_free(&in);
    free_params(&q);
    ft_free(&out);
}

static void do_fold(fdp *p) {
    int64_t shape[SC_MAX_NDIM + 2];
    int32_t ndim = fz_shape(p, shape, 4, 6);
    int64_t c = ndim > 0 && ndim <= SC_MAX_NDIM ? shape[0] : 1;
    if (c < 0) c = 1;
    if (c > 64) c = 3;
    ft w, fw, vec[6];
    ft_make(&w, p, fdp_one_in(p, 3) ? fz_dtype(p) : SC_DTYPE_FLOAT32, ndim, shape);
    ft_fill(&w, p);
    int present[6]; /* bias, gamma, beta, mean, var, folded_bias */
    for (int i = 0; i < 6; i++) {
        int64_t vs[SC_MAX_NDIM + 2];
        int32_t vn;
        switch (fdp_range(p, 0, 7)) {
            case 0: vn = 2; vs[0] = 1; vs[1] = c; break;
            case 1: vn = fz_shape(p, vs, 2, 6); break;
            case 2: vn = 0; break;
            default: vn = 1; vs[0] = c; break;
        }
        ft_make(&vec[i], p, fdp_one_in(p, 3) ? fz_dtype(p) : SC_DTYPE_FLOAT32, vn, vs);
        ft_fill(&vec[i], p);
        if (i == 4 && vec[i].addressable && vec[i].t.data && fdp_bool(p)) /* mostly sane variances */
            for (int64_t e = 0; e < vec[i].count; e++) ft_set(&vec[i], e, fabs(ft_get(&vec[i], e)) + 0.5);
        present[i] = i >= 3 || !fdp_one_in(p, 3);
    }
    int in_place = fdp_one_in(p, 4);
    if (in_place) memset(&fw, 0, sizeof fw);
    else {
        int64_t fs[SC_MAX_NDIM + 2];
        memcpy(fs, shape, sizeof fs);
        int32_t fn = ndim;
        if (fdp_one_in(p, 12)) fn = fz_shape(p, fs, 4, 6);
        ft_make(&fw, p, fdp_one_in(p, 3) ? fz_dtype(p) : SC_DTYPE_FLOAT32, fn, fs);
    }
    int bias_in_place = present[0] && fdp_one_in(p, 4);
    static const double eps_table[] = {1e-5, 1e-3, 0.0, 1.0, -1e-5, NAN, INFINITY, 1e-300, 0.1};
    double eps = FDP_PICK(p, eps_table);
    int layer = fdp_one_in(p, 24) ? (int)fdp_range(p, -1, 3) : fdp_bool(p);
    const sc_tensor *fwt = in_place ? &w.t : &fw.t;
    const sc_tensor *fbt = bias_in_place ? &vec[0].t : &vec[5].t;
    for (int i = 0; i < 6; i++) ft_snapshot(&vec[i]);
    ft_snapshot(&w);
    ft_snapshot(&fw);
    int st = CHECK_STATUS(NULL, sc_fold_batch_norm(layer, &w.t, present[0] ? &vec[0].t : NULL, present[1] ? &vec[1].t : NULL,
                                                   present[2] ? &vec[2].t : NULL, &vec[3].t, &vec[4].t, eps, fwt, fbt));
    for (int i = 1; i < 5; i++) FZ_ASSERT(ft_unchanged(&vec[i]), "sc_fold_batch_norm wrote input vector %d", i);
    if (!bias_in_place) FZ_ASSERT(ft_unchanged(&vec[0]), "sc_fold_batch_norm wrote the bias");
    if (!in_place) FZ_ASSERT(ft_unchanged(&w), "sc_fold_batch_norm wrote the weight");
    if (st != SC_OK) {
        FZ_ASSERT(ft_unchanged(&w) && ft_unchanged(&fw) && ft_unchanged(&vec[0]) && ft_unchanged(&vec[5]),
                  "a failed sc_fold_batch_norm (%s) wrote an output", sc_status_name(st));
    } else {
        FZ_ASSERT(layer == 0 || layer == 1, "sc_fold_batch_norm accepted layer %d", layer);
        FZ_ASSERT(isfinite(eps) && eps >= 0, "sc_fold_batch_norm accepted eps %g", eps);
        FZ_ASSERT(!w.bad_view && !(in_place ? 0 : fw.bad_view) && !vec[3].bad_view && !vec[4].bad_view,
                  "sc_fold_batch_norm accepted a view the header rejects");
        FZ_ASSERT(!(in_place ? w.overlapping : fw.overlapping) && !(bias_in_place ? vec[0] : vec[5]).overlapping,
                  "sc_fold_batch_norm accepted an overlapping output");
    }
    for (int i = 0; i < 6; i++) ft_free(&vec[i]);
    ft_free(&w);
    ft_free(&fw);
}

static void do_qstorage_bytes(fdp *p) {
    int storage = fz_storage(p);
    size_t count = fdp_bool(p) ? (size_t)fdp_u16(p) : (size_t)fdp_u64(p);
    size_t bytes = 4242;
    int st = CHECK_STATUS(NULL, sc_qstorage_bytes(storage, count, fdp_one_in(p, 32) ? NULL : &bytes));
    int ok;
    size_t want = fz_qbytes(storage, count, &ok);
    if (st == SC_OK) FZ_ASSERT(ok && bytes == want, "sc_qstorage_bytes(%d, %zu) = %zu, want %zu", storage, count, bytes, want);
    else FZ_ASSERT(bytes == 4242, "a failed sc_qstorage_bytes wrote *bytes");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fdp p = {data, size};
    switch (fdp_u8(&p) % 8) {
        case 0: case 1: do_quantize(&p, 0); break;
        case 2: case 3: do_quantize(&p, 1); break;
        case 4: case 5: do_dequantize(&p); break;
        case 6: do_fold(&p); break;
        default: do_qstorage_bytes(&p); break;
    }
    return 0;
}
