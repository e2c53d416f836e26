/*
 * distill_mlp.c — layer-wise distillation of a tiny MLP held in plain C arrays through libswiftcompress.
 *
 *   cc -std=c99 -I include examples/c/distill_mlp.c -L <libdir> -lswiftcompress -Wl,-rpath,<libdir>
 *
 * Student: fc1 = Linear(8, 16), relu, fc2 = Linear(16, 4) (the logits).
 * Teacher: fc1 = Linear(8, 16), relu, and two heads on the same hidden state, head = Linear(16, 4) and
 * aux = Linear(16, 4). Weights, biases and the batch of 4 inputs come from a fixed LCG (see lcg_value),
 * so the output is the same on every machine; examples/c/expected/distill_mlp.txt holds it.
 *
 * The forward passes are plain C (accumulated in double in a fixed order, stored as float32: the
 * outputs a framework would hand over). The config list has two targets, the output (`_output_0`) of
 * two student modules, as NNI's DynamicLayerwiseDistiller would take them:
 *   - fc1's output (the hidden layer before the ReLU): 'mse' against the teacher's fc1 ('link'
 *     'auto', the same name), lambda 0.5;
 *   - fc2's output (the logits): 'kl' (temperature 2, as NNI) against two teacher outputs, head and
 *     aux ('link' a list): the smaller lambda * loss of the two counts.
 * The session checks the links against the teacher's module names. Every step the program writes the
 * outputs into the bound buffers (bound once: the library keeps the pointers), calls
 * sc_session_distill for the loss per target, the total and d loss / d output in the gradient
 * buffers, and takes one plain SGD step on the student's last layer (fc2) by the chain rule:
 * dW2[o][j] = sum_b g[b][o] relu(h[b][j]), db2[o] = sum_b g[b][o] with g = d loss / d logits. fc1 is
 * not trained here, so its mse term stays; the kl term falls.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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
 * float32. DistillExampleParityTests.swift computes the same values. */
static uint64_t lcg_state = 2024;
static float lcg_value(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((int32_t)(lcg_state >> 40) - (1 << 23)) / (float)(1 << 23);
}

#define BATCH 4
#define IN 8
#define HIDDEN 16
#define OUT 4
#define STEPS 6
#define LEARNING_RATE 0.5

/* Parameters, filled from the LCG in this order. */
static float s_w1[HIDDEN * IN], s_b1[HIDDEN], s_w2[OUT * HIDDEN], s_b2[OUT];    /* student */
static float t_w1[HIDDEN * IN], t_b1[HIDDEN], t_wh[OUT * HIDDEN], t_bh[OUT];    /* teacher fc1, head */
static float t_wa[OUT * HIDDEN], t_ba[OUT];                                     /* teacher aux */
static float x[BATCH * IN];

/* Outputs (what forward hooks would record) and the gradient buffers. */
static float s_h[BATCH * HIDDEN], s_logits[BATCH * OUT];
static float t_h[BATCH * HIDDEN], t_head[BATCH * OUT], t_aux[BATCH * OUT];
static float g_h[BATCH * HIDDEN], g_logits[BATCH * OUT];

static void fill(float *v, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) v[i] = lcg_value();
}

/* y[b][o] = bias[o] + sum_k w[o][k] * in[b][k] (ReLU first when `relu`), in double, stored as float. */
static void linear(const float *in, int in_features, int relu, const float *w, const float *bias, int out_features, float *y) {
    int b, o, k;
    for (b = 0; b < BATCH; b++)
        for (o = 0; o < out_features; o++) {
            double acc = bias[o];
            for (k = 0; k < in_features; k++) {
                double v = in[b * in_features + k], p;
                if (relu && v < 0) v = 0;
                p = (double)w[o * in_features + k] * v;
                acc += p;
            }
            y[b * out_features + o] = (float)acc;
        }
}

static sc_tensor view(float *data, const int64_t *shape) {
    sc_tensor t;
    t.data = data;
    t.dtype = SC_DTYPE_FLOAT32;
    t.ndim = 2;
    t.shape = shape;
    t.strides = NULL; /* contiguous row-major */
    return t;
}

int main(void) {
    static const int64_t hidden_shape[2] = {BATCH, HIDDEN}, logits_shape[2] = {BATCH, OUT};
    static const char *student_modules =
        "[{\"name\": \"\", \"type\": \"Student\"}, {\"name\": \"fc1\", \"type\": \"Linear\"},"
        " {\"name\": \"relu\", \"type\": \"ReLU\"}, {\"name\": \"fc2\", \"type\": \"Linear\"}]";
    static const char *teacher_modules[] = {"", "fc1", "relu", "head", "aux"};
    static const char *config =
        "[{\"op_names\": [\"fc1\"], \"apply_method\": \"mse\", \"lambda\": 0.5},"
        " {\"op_names\": [\"fc2\"], \"apply_method\": \"kl\", \"link\": [\"head\", \"aux\"]}]";
    sc_session *s = NULL;
    sc_tensor sh, sl, gh, gl, th, thead, taux;
    size_t i, n, link, links;
    double total, losses[2];
    int step, b, o, j;

    if (sc_version_number() != SC_VERSION_NUMBER) {
        fprintf(stderr, "header %s but library %s\n", SC_VERSION_STRING, sc_version_string());
        return 1;
    }
    fill(s_w1, HIDDEN * IN), fill(s_b1, HIDDEN), fill(s_w2, OUT * HIDDEN), fill(s_b2, OUT);
    fill(t_w1, HIDDEN * IN), fill(t_b1, HIDDEN), fill(t_wh, OUT * HIDDEN), fill(t_bh, OUT);
    fill(t_wa, OUT * HIDDEN), fill(t_ba, OUT);
    fill(x, BATCH * IN);

    /* The session: the student's modules, the teacher's module names, the config. */
    CHECK(NULL, sc_session_create(SC_MODE_DISTILLATION, &s));
    CHECK(s, sc_session_add_modules_json(s, student_modules, SC_NUL_TERMINATED));
    for (i = 0; i < sizeof teacher_modules / sizeof teacher_modules[0]; i++)
        CHECK(s, sc_session_add_teacher_module(s, teacher_modules[i]));
    CHECK(s, sc_session_set_config(s, config, SC_NUL_TERMINATED));
    n = sc_session_target_count(s);
    printf("%zu targets\n", n);
    for (i = 0; i < n; i++) {
        const char *module, *target, *teacher;
        CHECK(s, sc_session_target(s, i, &module, &target));
        CHECK(s, sc_session_target_link_count(s, i, &links));
        printf("  %s.%s links", module, target);
        for (link = 0; link < links; link++) {
            CHECK(s, sc_session_target_link(s, i, link, &teacher));
            printf(" %s", teacher);
        }
        printf("\n");
    }

    /* Bind once: the library reads the buffers at every sc_session_distill. Teacher tensors per link,
     * in the order of the target's links (fc2: head, aux). */
    sh = view(s_h, hidden_shape), gh = view(g_h, hidden_shape), th = view(t_h, hidden_shape);
    sl = view(s_logits, logits_shape), gl = view(g_logits, logits_shape);
    thead = view(t_head, logits_shape), taux = view(t_aux, logits_shape);
    CHECK(s, sc_session_bind_student(s, "fc1", "_output_0", &sh, &gh));
    CHECK(s, sc_session_bind_teacher(s, "fc1", "_output_0", 0, &th));
    CHECK(s, sc_session_bind_student(s, "fc2", "_output_0", &sl, &gl));
    CHECK(s, sc_session_bind_teacher(s, "fc2", "_output_0", 0, &thead));
    CHECK(s, sc_session_bind_teacher(s, "fc2", "_output_0", 1, &taux));

    /* The teacher's outputs do not change. */
    linear(x, IN, 0, t_w1, t_b1, HIDDEN, t_h);
    linear(t_h, HIDDEN, 1, t_wh, t_bh, OUT, t_head);
    linear(t_h, HIDDEN, 1, t_wa, t_ba, OUT, t_aux);

    for (step = 0; step < STEPS; step++) {
        linear(x, IN, 0, s_w1, s_b1, HIDDEN, s_h);
        linear(s_h, HIDDEN, 1, s_w2, s_b2, OUT, s_logits);
        CHECK(s, sc_session_distill(s, &total, losses, 2));
        printf("step %d  fc1 mse %.6f  fc2 kl %.6f  total %.6f\n", step, losses[0], losses[1], total);
        if (step == 0) {
            printf("  d loss / d fc1 output [0, 0:4]: %+.8f %+.8f %+.8f %+.8f\n", g_h[0], g_h[1], g_h[2], g_h[3]);
            printf("  d loss / d logits [0, 0:4]:     %+.8f %+.8f %+.8f %+.8f\n", g_logits[0], g_logits[1], g_logits[2],
                   g_logits[3]);
        }
        /* SGD on fc2: W2 -= lr * sum_b g[b][o] relu(h[b][j]), b2 -= lr * sum_b g[b][o]. */
        for (o = 0; o < OUT; o++) {
            double db = 0;
            for (j = 0; j < HIDDEN; j++) {
                double dw = 0;
                for (b = 0; b < BATCH; b++) {
                    double h = s_h[b * HIDDEN + j] > 0 ? s_h[b * HIDDEN + j] : 0, p;
                    p = (double)g_logits[b * OUT + o] * h;
                    dw += p;
                }
                s_w2[o * HIDDEN + j] = (float)(s_w2[o * HIDDEN + j] - LEARNING_RATE * dw);
            }
            for (b = 0; b < BATCH; b++) db += g_logits[b * OUT + o];
            s_b2[o] = (float)(s_b2[o] - LEARNING_RATE * db);
        }
    }
    sc_session_free(s);
    return 0;
}
