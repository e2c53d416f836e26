/*
 * threads.c — sessions used from several threads at once give the masks of a single-threaded run.
 *
 *   threads [THREADS] [ROUNDS]      (defaults 8 and 3)
 *
 * The model (fc1, fc2 in a global group, a conv, a head pruned per input channel; about 0.5 M
 * float32 weights) is pruned once on the main thread with each metric (level, L1, L2, FPGM): those
 * masks and applied weights are the reference. Then THREADS threads start together (a barrier) and
 * each, ROUNDS times and for each metric, creates its own session, binds its own copies of the same
 * weights, generates and applies the masks, and compares both with the reference byte for byte.
 * Each thread also leaves an error of its own in sc_last_error() and checks, after every thread
 * has done the same, that it still reads its own message.
 * Distillation: a session with two targets (mse with lambda 0.5 on a [256, 512] float32 output; kl over
 * two links on [128, 1000] logits, large enough for the library's own worker threads) is distilled
 * once on the main thread; then each thread, ROUNDS times, creates its own session, binds the shared
 * (read-only) student and teacher buffers and its own gradient buffers, and compares the total, the
 * per-target losses and the gradients with the reference bit for bit.
 * Exit status 0 when every comparison matched. Built and run by tests/c/run.sh.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcompress.h"

typedef struct param {
    const char *module, *name;
    int32_t ndim;
    int64_t shape[4];
    size_t count;
} param;

static param params[] = {
    {"fc1", "weight", 2, {512, 256, 0, 0}, 0},  {"fc1", "bias", 1, {512, 0, 0, 0}, 0},
    {"fc2", "weight", 2, {256, 512, 0, 0}, 0},  {"fc2", "bias", 1, {256, 0, 0, 0}, 0},
    {"conv", "weight", 4, {64, 32, 3, 3}, 0},   {"conv", "bias", 1, {64, 0, 0, 0}, 0},
    {"head", "weight", 2, {10, 256, 0, 0}, 0},  {"head", "bias", 1, {10, 0, 0, 0}, 0},
};
#define PARAMS (sizeof params / sizeof params[0])

static const int metrics[4] = {SC_METRIC_LEVEL, SC_METRIC_L1, SC_METRIC_L2, SC_METRIC_FPGM};
static const char *metric_names[4] = {"level", "L1", "L2", "FPGM"};
#define METRICS 4

static const char *kModules =
    "[{\"name\": \"\", \"type\": \"Net\"}, {\"name\": \"fc1\", \"type\": \"Linear\"}, {\"name\": \"fc2\", \"type\": \"Linear\"},"
    " {\"name\": \"conv\", \"type\": \"Conv2d\"}, {\"name\": \"head\", \"type\": \"Linear\"}]";
static const char *kConfig =
    "[{\"op_names\": [\"fc1\", \"fc2\"], \"sparse_ratio\": 0.6, \"global_group_id\": 1},"
    " {\"op_names\": [\"conv\"], \"sparse_ratio\": 0.5},"
    " {\"op_names\": [\"head\"], \"sparse_ratio\": 0.3, \"granularity\": \"in_channel\"}]";

static size_t total;          /* elements of all parameters */
static float *initial;        /* the weights every run starts from, parameters back to back */
static float *ref_masks[METRICS], *ref_weights[METRICS];
static pthread_barrier_t barrier;
static int rounds = 3;

/* One pruning run: fresh session, weights copied from `initial` into `weights`, masks into `masks`.
 * Returns 0 or prints the failure and returns 1. */
static int prune(int metric, float *weights, float *masks, const char *who) {
    sc_session *s = NULL;
    size_t i, offset = 0;
    int status;
    memcpy(weights, initial, total * sizeof(float));
    memset(masks, 0xFF, total * sizeof(float));
    if ((status = sc_session_create(SC_MODE_PRUNING, &s)) != SC_OK) {
        printf("FAIL %s: sc_session_create: %s: %s\n", who, sc_status_name(status), sc_last_error());
        return 1;
    }
    status = sc_session_add_modules_json(s, kModules, (size_t)-1);
    if (status == SC_OK) status = sc_session_set_config(s, kConfig, (size_t)-1);
    for (i = 0; status == SC_OK && i < PARAMS; offset += params[i].count, i++) {
        sc_tensor t, m;
        t.data = weights + offset;
        t.dtype = SC_DTYPE_FLOAT32;
        t.ndim = params[i].ndim;
        t.shape = params[i].shape;
        t.strides = NULL;
        m = t;
        m.data = masks + offset;
        status = sc_session_bind(s, params[i].module, params[i].name, &t, &m);
    }
    if (status == SC_OK) status = sc_session_generate_masks(s, metric);
    if (status == SC_OK) status = sc_session_apply_masks(s);
    if (status != SC_OK) printf("FAIL %s: %s: %s\n", who, sc_status_name(status), sc_session_last_error(s));
    sc_session_free(s);
    return status != SC_OK;
}

/* --- distillation ------------------------------------------------------------------------------ */

typedef struct distill_target {
    const char *module;
    int64_t shape[2];
    size_t count;
    float *student, *teacher[2];
    int links;
} distill_target;

static distill_target dtargets[] = {
    {"fc1", {256, 512}, 0, NULL, {NULL, NULL}, 1},
    {"head", {128, 1000}, 0, NULL, {NULL, NULL}, 2},
};
#define DTARGETS (sizeof dtargets / sizeof dtargets[0])
static const char *kDistillConfig =
    "[{\"op_names\": [\"fc1\"], \"lambda\": 0.5, \"apply_method\": \"mse\"},"
    " {\"op_names\": [\"head\"], \"apply_method\": \"kl\", \"link\": [\"head\", \"fc2\"]}]";
static size_t dtotal;                    /* gradient elements of all targets */
static double ref_distill[1 + DTARGETS]; /* total, then per target */
static float *ref_gradients;

/* One distillation run: fresh session, the shared students and teachers, gradients into `gradients`,
 * the total and per-target losses into losses[0..DTARGETS]. Returns 0 or prints the failure and returns 1. */
static int distill(float *gradients, double *losses, const char *who) {
    sc_session *s = NULL;
    size_t i, offset = 0;
    int status, l;
    memset(gradients, 0xFF, dtotal * sizeof(float));
    if ((status = sc_session_create(SC_MODE_DISTILLATION, &s)) != SC_OK) {
        printf("FAIL %s: sc_session_create: %s: %s\n", who, sc_status_name(status), sc_last_error());
        return 1;
    }
    status = sc_session_add_modules_json(s, kModules, (size_t)-1);
    if (status == SC_OK) status = sc_session_set_config(s, kDistillConfig, (size_t)-1);
    for (i = 0; status == SC_OK && i < DTARGETS; offset += dtargets[i].count, i++) {
        sc_tensor st, gt;
        st.data = dtargets[i].student;
        st.dtype = SC_DTYPE_FLOAT32;
        st.ndim = 2;
        st.shape = dtargets[i].shape;
        st.strides = NULL;
        gt = st;
        gt.data = gradients + offset;
        status = sc_session_bind_student(s, dtargets[i].module, "_output_0", &st, &gt);
        for (l = 0; status == SC_OK && l < dtargets[i].links; l++) {
            sc_tensor tt = st;
            tt.data = dtargets[i].teacher[l];
            status = sc_session_bind_teacher(s, dtargets[i].module, "_output_0", (size_t)l, &tt);
        }
    }
    if (status == SC_OK) status = sc_session_distill(s, &losses[0], &losses[1], DTARGETS);
    if (status != SC_OK) printf("FAIL %s: %s: %s\n", who, sc_status_name(status), sc_session_last_error(s));
    sc_session_free(s);
    return status != SC_OK;
}

typedef struct worker {
    pthread_t thread;
    int id;
    int failures;
    int runs;
    int distill_runs;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    float *weights = malloc(total * sizeof(float)), *masks = malloc(total * sizeof(float));
    char who[64], step_text[32];
    double out;
    int r, k;
    if (weights == NULL || masks == NULL) {
        printf("FAIL thread %d: out of memory\n", w->id);
        w->failures++;
        pthread_barrier_wait(&barrier);
        pthread_barrier_wait(&barrier);
        free(weights);
        free(masks);
        return NULL;
    }
    /* A thread-local error that names this thread's step, then wait until every thread made one. */
    pthread_barrier_wait(&barrier);
    if (sc_sparsity_schedule(SC_SCHEDULE_LINEAR, 0.5, 1000 + w->id, 10, &out) == SC_OK) {
        printf("FAIL thread %d: step %d of 10 was accepted\n", w->id, 1000 + w->id);
        w->failures++;
    }
    pthread_barrier_wait(&barrier);
    snprintf(step_text, sizeof step_text, "%d", 1000 + w->id);
    if (strstr(sc_last_error(), step_text) == NULL) {
        printf("FAIL thread %d: sc_last_error() is not this thread's: %s\n", w->id, sc_last_error());
        w->failures++;
    }
    for (r = 0; r < rounds; r++)
        for (k = 0; k < METRICS; k++) {
            int metric = (k + w->id + r) % METRICS; /* threads run different metrics at the same time */
            snprintf(who, sizeof who, "thread %d round %d %s", w->id, r, metric_names[metric]);
            w->runs++;
            if (prune(metrics[metric], weights, masks, who)) {
                w->failures++;
                continue;
            }
            if (memcmp(masks, ref_masks[metric], total * sizeof(float)) != 0) {
                printf("FAIL %s: masks differ from the single-threaded run\n", who);
                w->failures++;
            }
            if (memcmp(weights, ref_weights[metric], total * sizeof(float)) != 0) {
                printf("FAIL %s: applied weights differ from the single-threaded run\n", who);
                w->failures++;
            }
        }
    {
        float *gradients = malloc(dtotal * sizeof(float));
        double losses[1 + DTARGETS];
        if (gradients == NULL) {
            printf("FAIL thread %d: out of memory\n", w->id);
            w->failures++;
        }
        for (r = 0; gradients != NULL && r < rounds; r++) {
            snprintf(who, sizeof who, "thread %d round %d distill", w->id, r);
            w->distill_runs++;
            if (distill(gradients, losses, who)) {
                w->failures++;
                continue;
            }
            if (memcmp(losses, ref_distill, sizeof losses) != 0) {
                printf("FAIL %s: losses %.17g (%.17g, %.17g) differ from the single-threaded %.17g (%.17g, %.17g)\n", who,
                       losses[0], losses[1], losses[2], ref_distill[0], ref_distill[1], ref_distill[2]);
                w->failures++;
            }
            if (memcmp(gradients, ref_gradients, dtotal * sizeof(float)) != 0) {
                printf("FAIL %s: gradients differ from the single-threaded run\n", who);
                w->failures++;
            }
        }
        free(gradients);
    }
    free(weights);
    free(masks);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 8, failures = 0, runs = 0, distill_runs = 0, t, k;
    size_t i;
    uint64_t state = 99;
    worker *workers;
    if (argc > 2) rounds = atoi(argv[2]);
    if (threads < 1 || threads > 64 || rounds < 1) {
        fprintf(stderr, "usage: threads [THREADS 1..64] [ROUNDS >= 1]\n");
        return 2;
    }
    total = 0;
    for (i = 0; i < PARAMS; i++) {
        int d;
        params[i].count = 1;
        for (d = 0; d < params[i].ndim; d++) params[i].count *= (size_t)params[i].shape[d];
        total += params[i].count;
    }
    initial = malloc(total * sizeof(float));
    workers = calloc((size_t)threads, sizeof *workers);
    if (initial == NULL || workers == NULL) return 2;
    for (i = 0; i < total; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        initial[i] = (float)((int32_t)(state >> 40) - (1 << 23)) / (float)(1 << 23);
    }
    for (k = 0; k < METRICS; k++) {
        ref_masks[k] = malloc(total * sizeof(float));
        ref_weights[k] = malloc(total * sizeof(float));
        if (ref_masks[k] == NULL || ref_weights[k] == NULL) return 2;
        if (prune(metrics[k], ref_weights[k], ref_masks[k], metric_names[k])) return 1;
    }
    {
        /* The reference is not trivial: every metric prunes something and keeps something. */
        for (k = 0; k < METRICS; k++) {
            size_t kept = 0;
            for (i = 0; i < total; i++) kept += ref_masks[k][i] == 1.0f;
            if (kept == 0 || kept == total) {
                printf("FAIL %s: reference keeps %zu of %zu\n", metric_names[k], kept, total);
                failures++;
            }
        }
    }

    /* Distillation inputs (students and teachers shared by every thread, read only) and the reference. */
    dtotal = 0;
    for (i = 0; i < DTARGETS; i++) {
        int l;
        size_t j;
        dtargets[i].count = (size_t)(dtargets[i].shape[0] * dtargets[i].shape[1]);
        dtotal += dtargets[i].count;
        dtargets[i].student = malloc(dtargets[i].count * sizeof(float));
        if (dtargets[i].student == NULL) return 2;
        for (j = 0; j < dtargets[i].count; j++) dtargets[i].student[j] = initial[(j * 7 + i) % total] * 4;
        for (l = 0; l < dtargets[i].links; l++) {
            dtargets[i].teacher[l] = malloc(dtargets[i].count * sizeof(float));
            if (dtargets[i].teacher[l] == NULL) return 2;
            for (j = 0; j < dtargets[i].count; j++)
                dtargets[i].teacher[l][j] = initial[(j * 13 + 5 * (size_t)l + 1) % total] * (float)(3 + l);
        }
    }
    ref_gradients = malloc(dtotal * sizeof(float));
    if (ref_gradients == NULL) return 2;
    if (distill(ref_gradients, ref_distill, "distill")) return 1;
    if (!(ref_distill[1] > 0 && ref_distill[2] > 0 && ref_distill[0] == ref_distill[1] + ref_distill[2])) {
        printf("FAIL distill: reference losses %.17g = %.17g + %.17g\n", ref_distill[0], ref_distill[1], ref_distill[2]);
        failures++;
    }

    pthread_barrier_init(&barrier, NULL, (unsigned)threads);
    for (t = 0; t < threads; t++) {
        workers[t].id = t;
        if (pthread_create(&workers[t].thread, NULL, work, &workers[t]) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            return 2;
        }
    }
    for (t = 0; t < threads; t++) {
        pthread_join(workers[t].thread, NULL);
        failures += workers[t].failures;
        runs += workers[t].runs;
        distill_runs += workers[t].distill_runs;
    }
    pthread_barrier_destroy(&barrier);
    printf("threads: %d threads x %d rounds x %d metrics = %d runs on %zu weights, %d distillation runs on %zu outputs"
           " (total loss %.6f), %d failed\n", threads, rounds, METRICS, runs, total, distill_runs, dtotal, ref_distill[0], failures);
    for (k = 0; k < METRICS; k++) {
        free(ref_masks[k]);
        free(ref_weights[k]);
    }
    for (i = 0; i < DTARGETS; i++) {
        free(dtargets[i].student);
        free(dtargets[i].teacher[0]);
        free(dtargets[i].teacher[1]);
    }
    free(ref_gradients);
    free(initial);
    free(workers);
    return failures == 0 ? 0 : 1;
}
