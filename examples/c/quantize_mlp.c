/*
 * quantize_mlp.c — post-training quantization (calibration) of a tiny MLP held in plain C arrays
 * through libswiftcompress.
 *
 *   cc -std=c99 -I include examples/c/quantize_mlp.c -L <libdir> -lswiftcompress -Wl,-rpath,<libdir>
 *
 * Model: fc1 = Linear(8, 16, bias=False), relu, fc2 = Linear(16, 4, bias=False). Weights and the 3
 * calibration batches of 4 inputs come from a fixed LCG (see lcg_value), so the output is the same on
 * every machine; examples/c/expected/quantize_mlp.txt holds it.
 *
 * The config list quantizes both weights as int8, symmetric, per output channel, and both layers'
 * inputs (`_input_`, resolved to `_input_0`) as uint8, affine, per tensor with 'qat_clamp_round'. The
 * program observes each weight once and each input on every batch (min/max, as NNI's PtqQuantizer
 * calibrates; fc2's input is relu(fc1(x)), computed in plain C in double and stored as float32), then
 * prints per target its scale shape, scales and zero points, and the largest |x - fake_quantize(x)|
 * over the weight (or the last batch's input), with how many input values were clamped (gradient
 * mask 0).
 *
 * Then it quantizes both weights for real, per output channel: into int8 bytes with the calibrated
 * session (sc_session_quantize), and into packed int4 (two values per byte) with a second session
 * whose config says int4; it dequantizes them back (sc_session_dequantize, and sc_dequantize with
 * the scales and zero points read through sc_session_quant_params) and prints the buffer sizes, the
 * first bytes, the largest |w - dequantize(quantize(w))| and how many values equal fake
 * quantization. Tests/SwiftCompressTests/CABI/QuantizeExampleParityTests.swift computes the same
 * text through the Swift API.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcompress.h"

/* Exit with the library's message when a call fails. */
#define CHECK(session, call)                                                                      \
    do {                                                                                          \
        int status_ = (call);                                                                     \
        if (status_ != SC_OK) {                                                                   \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,              \
                    sc_status_name(status_), sc_session_last_error(session));                     \
            exit(1);                                                                              \
        }                                                                                         \
    } while (0)

/* The fixed LCG (Knuth's MMIX constants): each value is a 24-bit integer / 2^23 in [-1, 1), exact in
 * float32. QuantizeExampleParityTests.swift computes the same values. */
static uint64_t lcg_state = 7;
static float lcg_value(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((int32_t)(lcg_state >> 40) - (1 << 23)) / (float)(1 << 23);
}

#define BATCH 4
#define IN 8
#define HIDDEN 16
#define OUT 4
#define BATCHES 3

static float w1[HIDDEN * IN], w2[OUT * HIDDEN], x[BATCHES][BATCH * IN], a2[BATCHES][BATCH * HIDDEN];

static sc_tensor matrix(float *data, int64_t *shape, int64_t rows, int64_t cols) {
    sc_tensor t;
    shape[0] = rows;
    shape[1] = cols;
    t.data = data;
    t.dtype = SC_DTYPE_FLOAT32;
    t.ndim = 2;
    t.shape = shape;
    t.strides = NULL;
    return t;
}

/* Quantizes weight `w` ([rows, cols]) of `module` into `storage` through session `s`, dequantizes it
 * back twice (with the session, and with sc_dequantize and the scales read back), and prints the
 * byte count, the first 8 bytes, the largest error and the agreement with fake quantization. */
static unsigned char qbytes[HIDDEN * IN];
static float deq[HIDDEN * IN], deq2[HIDDEN * IN], fq[HIDDEN * IN];

static void real_weight(sc_session *s, const char *module, int storage, float *w, int64_t rows, int64_t cols) {
    int64_t shape[2], bshape[2], b2shape[2], fshape[2], sshape[2];
    sc_tensor tw = matrix(w, shape, rows, cols), tb = matrix(deq, bshape, rows, cols);
    sc_tensor tb2 = matrix(deq2, b2shape, rows, cols), tf = matrix(fq, fshape, rows, cols);
    float scale[HIDDEN], zero[HIDDEN];
    sc_tensor ts = matrix(scale, sshape, rows, 1), tz = ts;
    size_t n = (size_t)(rows * cols), bytes = 0, nans = 0, same = 0, i;
    int bits = 0, is_signed = 0, identical = 1;
    double err = 0;

    tz.data = zero;
    CHECK(NULL, sc_qstorage_bytes(storage, n, &bytes));
    CHECK(s, sc_session_quantize(s, module, "weight", &tw, qbytes, sizeof qbytes, storage, &nans));
    CHECK(s, sc_session_dequantize(s, module, "weight", qbytes, bytes, storage, &tb));
    CHECK(s, sc_session_fake_quantize(s, module, "weight", &tw, &tf, NULL));
    CHECK(s, sc_session_quant_range(s, module, "weight", &bits, &is_signed, NULL, NULL));
    CHECK(s, sc_session_quant_params(s, module, "weight", &ts, &tz, NULL, NULL));
    CHECK(NULL, sc_dequantize(qbytes, bytes, storage, &ts, &tz, bits, is_signed, &tb2));
    for (i = 0; i < n; i++) {
        double e = fabs((double)w[i] - (double)deq[i]);
        if (e > err) err = e;
        if (deq[i] == fq[i]) same++;
        if (deq2[i] != deq[i]) identical = 0;
    }
    printf("%s.weight as %s%d: %zu values in %zu bytes, first bytes", module, is_signed ? "int" : "uint", bits, n, bytes);
    for (i = 0; i < 8; i++) printf(" %02x", qbytes[i]);
    printf("\n  max |w - dequantize(quantize(w))| = %.9g; %zu of %zu equal fake quantization; %zu NaN; sc_dequantize %s\n",
           err, same, n, nans, identical ? "agrees" : "differs");
}

int main(void) {
    static const char *modules =
        "[{\"name\": \"\", \"type\": \"MLP\"}, {\"name\": \"fc1\", \"type\": \"Linear\"},"
        " {\"name\": \"relu\", \"type\": \"ReLU\"}, {\"name\": \"fc2\", \"type\": \"Linear\"}]";
    static const char *config =
        "[{\"op_names\": [\"fc1\", \"fc2\"], \"target_names\": [\"weight\"], \"quant_dtype\": \"int8\","
        "  \"quant_scheme\": \"symmetric\", \"granularity\": \"per_channel\"},"
        " {\"op_names\": [\"fc1\", \"fc2\"], \"target_names\": [\"_input_\"], \"quant_dtype\": \"uint8\","
        "  \"quant_scheme\": \"affine\", \"apply_method\": \"qat_clamp_round\"}]";
    static const char *config4 =
        "[{\"op_names\": [\"fc1\", \"fc2\"], \"target_names\": [\"weight\"], \"quant_dtype\": \"int4\","
        "  \"quant_scheme\": \"symmetric\", \"granularity\": \"per_channel\"}]";
    sc_session *s4 = NULL;
    sc_session *s = NULL;
    size_t i, t, count;
    int b, o, k;
    int64_t shape[2];

    for (i = 0; i < HIDDEN * IN; i++) w1[i] = lcg_value();
    for (i = 0; i < OUT * HIDDEN; i++) w2[i] = lcg_value();
    for (b = 0; b < BATCHES; b++)
        for (i = 0; i < BATCH * IN; i++) x[b][i] = lcg_value();
    /* fc2's input: relu(x @ w1^T), accumulated in double in k order, stored as float32. */
    for (b = 0; b < BATCHES; b++)
        for (i = 0; i < BATCH; i++)
            for (o = 0; o < HIDDEN; o++) {
                double acc = 0;
                for (k = 0; k < IN; k++) acc += (double)w1[o * IN + k] * (double)x[b][i * IN + k];
                a2[b][i * HIDDEN + o] = acc > 0 ? (float)acc : 0.0f;
            }

    CHECK(NULL, sc_session_create(SC_MODE_QUANTIZATION, &s));
    CHECK(s, sc_session_add_modules_json(s, modules, SC_NUL_TERMINATED));
    CHECK(s, sc_session_set_config(s, config, SC_NUL_TERMINATED));
    count = sc_session_target_count(s);
    printf("%zu targets\n", count);

    /* Calibration: weights once, inputs on every batch. */
    {
        sc_tensor tw1 = matrix(w1, shape, HIDDEN, IN);
        CHECK(s, sc_session_observe(s, "fc1", "weight", &tw1, SC_OBSERVER_MINMAX));
    }
    {
        sc_tensor tw2 = matrix(w2, shape, OUT, HIDDEN);
        CHECK(s, sc_session_observe(s, "fc2", "weight", &tw2, SC_OBSERVER_MINMAX));
    }
    for (b = 0; b < BATCHES; b++) {
        sc_tensor tx = matrix(x[b], shape, BATCH, IN);
        CHECK(s, sc_session_observe(s, "fc1", "_input_0", &tx, SC_OBSERVER_MINMAX));
        tx = matrix(a2[b], shape, BATCH, HIDDEN);
        CHECK(s, sc_session_observe(s, "fc2", "_input_0", &tx, SC_OBSERVER_MINMAX));
    }

    for (t = 0; t < count; t++) {
        const char *module = NULL, *target = NULL;
        const int64_t *sshape = NULL;
        size_t ndim = 0, d, blocks = 1, n = 0, clamped = 0;
        float scale[HIDDEN], zero[HIDDEN], out[HIDDEN * IN], mask[HIDDEN * IN], *values = NULL; /* the largest target: w1 */
        float tmin[HIDDEN], tmax[HIDDEN];
        double err = 0;
        int64_t vshape[2];
        sc_tensor ts, tz, tn, tx, tm, to, tk;
        int bits = 0, is_signed = 0;
        int64_t qmin = 0, qmax = 0;

        CHECK(s, sc_session_target(s, t, &module, &target));
        CHECK(s, sc_session_quant_range(s, module, target, &bits, &is_signed, &qmin, &qmax));
        CHECK(s, sc_session_scale_shape(s, module, target, &ndim, &sshape));
        for (d = 0; d < ndim; d++) blocks *= (size_t)sshape[d];
        if (blocks > HIDDEN) {
            fprintf(stderr, "unexpected scale shape\n");
            return 1;
        }
        ts.data = scale;
        tz.data = zero;
        tn.data = tmin;
        tm.data = tmax;
        ts.dtype = tz.dtype = tn.dtype = tm.dtype = SC_DTYPE_FLOAT32;
        ts.ndim = tz.ndim = tn.ndim = tm.ndim = (int32_t)ndim;
        ts.shape = tz.shape = tn.shape = tm.shape = sshape;
        ts.strides = tz.strides = tn.strides = tm.strides = NULL;
        CHECK(s, sc_session_quant_params(s, module, target, &ts, &tz, &tn, &tm));

        printf("%s.%s: %s%d [%lld, %lld], scale shape [", module, target, is_signed ? "int" : "uint", bits,
               (long long)qmin, (long long)qmax);
        for (d = 0; d < ndim; d++) printf(d ? ", %lld" : "%lld", (long long)sshape[d]);
        printf("]\n");
        for (d = 0; d < blocks; d++)
            printf("  block %zu: range [%.9g, %.9g] scale %.9g zero point %.0f\n", d, tmin[d], tmax[d], scale[d], zero[d]);

        if (strcmp(module, "fc1") == 0 && strcmp(target, "weight") == 0) {
            values = w1;
            tx = matrix(w1, vshape, HIDDEN, IN);
        } else if (strcmp(module, "fc2") == 0 && strcmp(target, "weight") == 0) {
            values = w2;
            tx = matrix(w2, vshape, OUT, HIDDEN);
        } else if (strcmp(module, "fc1") == 0) {
            values = x[BATCHES - 1];
            tx = matrix(values, vshape, BATCH, IN);
        } else {
            values = a2[BATCHES - 1];
            tx = matrix(values, vshape, BATCH, HIDDEN);
        }
        n = (size_t)(vshape[0] * vshape[1]);
        to = tx;
        to.data = out;
        tk = tx;
        tk.data = mask;
        CHECK(s, sc_session_fake_quantize(s, module, target, &tx, &to, &tk));
        for (i = 0; i < n; i++) {
            double e = fabs((double)values[i] - (double)out[i]);
            if (e > err) err = e;
            if (mask[i] == 0) clamped++;
        }
        printf("  max |x - fake_quantize(x)| = %.9g over %zu values, %zu clamped\n", err, n, clamped);
    }

    /* Real quantization of the weights: int8 with the calibrated session, int4 with a second one. */
    CHECK(NULL, sc_session_create(SC_MODE_QUANTIZATION, &s4));
    CHECK(s4, sc_session_add_modules_json(s4, modules, SC_NUL_TERMINATED));
    CHECK(s4, sc_session_set_config(s4, config4, SC_NUL_TERMINATED));
    {
        sc_tensor tw1 = matrix(w1, shape, HIDDEN, IN);
        CHECK(s4, sc_session_observe(s4, "fc1", "weight", &tw1, SC_OBSERVER_MINMAX));
    }
    {
        sc_tensor tw2 = matrix(w2, shape, OUT, HIDDEN);
        CHECK(s4, sc_session_observe(s4, "fc2", "weight", &tw2, SC_OBSERVER_MINMAX));
    }
    printf("real quantization of the weights (per output channel):\n");
    real_weight(s, "fc1", SC_QSTORAGE_INT8, w1, HIDDEN, IN);
    real_weight(s4, "fc1", SC_QSTORAGE_INT4, w1, HIDDEN, IN);
    real_weight(s, "fc2", SC_QSTORAGE_INT8, w2, OUT, HIDDEN);
    real_weight(s4, "fc2", SC_QSTORAGE_INT4, w2, OUT, HIDDEN);
    sc_session_free(s4);
    sc_session_free(s);
    return 0;
}
