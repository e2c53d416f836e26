/*
 * distributed.c — the summaries API (sc_session_bind_shard, sc_session_generate_masks_distributed,
 * sc_session_reduce_observers_distributed, sc_distributed_fail, sc_distributed_status) with ranks simulated by threads of
 * one process over an in-memory all-reduce (what MPI_Allreduce / ncclAllReduce does for a trainer).
 *
 * 1. Level pruning of fc1 [16, 12] and fc2 [8, 12] in one global group (sparse_ratio 0.55): the
 *    weights are multiples of 1/4 in [-2, 2) (many equal values, so the cut splits the blocks of
 *    one key); each of 2 and 4 ranks holds a column slab (dim 1 sharded) of fc1 and a row slab
 *    (dim 0) of fc2. The ranks' masks put back together must equal sc_session_generate_masks of the
 *    whole weights byte for byte, and int(288 * 0.55) = 158 elements must be pruned.
 *    The same with L1 of out_channel blocks (sparse_ratio 0.5, 144 pruned): fc1's rows span its
 *    column slabs, so their norms are the ranks' partial sums added across ranks (exact here).
 * 2. PTQ: a per-tensor int8 observer on fc1 sharded along dim 1, with outliers 1.5 and -1.5 put
 *    in the first and the last column slab (no rank holds the whole range): after the reduction
 *    every rank's scale equals the scale of the whole weight. QAT: a moving-average observer of
 *    the same slabs over two batches (the second halved) with sc_session_observe_distributed:
 *    every rank's scale and tracked range equal the whole weight's moving average (2 rounds per
 *    batch).
 * 3. Failure: on 2 ranks, rank 1 binds a shard that does not fit (offset past the end), calls
 *    sc_distributed_fail and rank 0's sc_session_generate_masks_distributed returns
 *    SC_ERROR_PRUNING with a message naming rank 1; NULL allreduce gives SC_ERROR_NULL_POINTER.
 * 4. sc_distributed_status (a step before the distributed call): on 4 ranks with ranks 1 and 2
 *    failing, ranks 0 and 3 get SC_ERROR_QUANTIZATION "ranks 1, 2 of 4 failed in the trainer's
 *    setup ..." and the failing ranks SC_OK; all passing: SC_OK everywhere; on one rank the summary
 *    {flag 0, fingerprint 0, its square 0, 1 rank}, a bad mode (still a failing participant), a
 *    failing all-reduce, a rank outside the world.
 * Exit status 0 when every check passed. Built and run by tests/c/run.sh.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcompress.h"

static const char *kModules = "[{\"name\": \"\", \"type\": \"Net\"}, {\"name\": \"fc1\", \"type\": \"Linear\"},"
                              " {\"name\": \"fc2\", \"type\": \"Linear\"}]";
static const char *kConfig = "[{\"op_names\": [\"fc1\", \"fc2\"], \"target_names\": [\"weight\"], \"sparse_ratio\": 0.55, \"global_group_id\": 0}]";
/* L1 of out_channel blocks: fc1's rows span its column slabs (a row-parallel Linear) */
static const char *kL1Config = "[{\"op_names\": [\"fc1\", \"fc2\"], \"target_names\": [\"weight\"], \"sparse_ratio\": 0.5, "
                               "\"global_group_id\": 0, \"granularity\": \"out_channel\"}]";
static const char *cur_config;
static int cur_metric;
static const char *kQuantConfig =
    "[{\"op_names\": [\"fc1\"], \"target_names\": [\"weight\"], \"quant_dtype\": \"int8\", \"quant_scheme\": \"affine\"}]";

#define R1 16
#define C1 12
#define R2 8
#define C2 12
static float w1[R1 * C1], w2[R2 * C2];
static float e1[R1 * C1]; /* w1 with outliers in the first and the last column slab (QAT) */
static float ref1[R1 * C1], ref2[R2 * C2];
static float got1[R1 * C1], got2[R2 * C2];
static int failures = 0;

#define CHECK(cond, ...)                   \
    do {                                   \
        if (!(cond)) {                     \
            printf("FAIL: " __VA_ARGS__);  \
            printf("\n");                  \
            failures++;                    \
        }                                  \
    } while (0)

/* --- an in-memory all-reduce for `world` threads ---------------------------------------------- */

#define CAPACITY 65536
typedef struct group {
    int world;
    pthread_barrier_t barrier;
    pthread_mutex_t mutex;
    int64_t sum[CAPACITY];
    double ext[CAPACITY];
} group;

typedef struct rank_ctx {
    group *g;
    int rank;
} rank_ctx;

static int allreduce(void *buffer, int64_t count, int op, void *user) {
    rank_ctx *ctx = (rank_ctx *)user;
    group *g = ctx->g;
    int64_t i;
    if (count > CAPACITY) return 1;
    pthread_barrier_wait(&g->barrier); /* the previous round has been read by everyone */
    if (ctx->rank == 0) {
        for (i = 0; i < count; i++) {
            g->sum[i] = 0;
            g->ext[i] = op == SC_REDUCE_MIN_FLOAT64 ? 1e308 : -1e308;
        }
    }
    pthread_barrier_wait(&g->barrier);
    pthread_mutex_lock(&g->mutex);
    for (i = 0; i < count; i++) {
        if (op == SC_REDUCE_SUM_INT64) {
            g->sum[i] += ((int64_t *)buffer)[i];
        } else {
            double v = ((double *)buffer)[i];
            if (op == SC_REDUCE_MIN_FLOAT64 ? v < g->ext[i] : v > g->ext[i]) g->ext[i] = v;
        }
    }
    pthread_mutex_unlock(&g->mutex);
    pthread_barrier_wait(&g->barrier);
    for (i = 0; i < count; i++) {
        if (op == SC_REDUCE_SUM_INT64) ((int64_t *)buffer)[i] = g->sum[i];
        else ((double *)buffer)[i] = g->ext[i];
    }
    return 0;
}

/* --- pruning ----------------------------------------------------------------------------------- */

static sc_tensor view(float *data, int64_t *shape) {
    sc_tensor t;
    t.data = data;
    t.dtype = SC_DTYPE_FLOAT32;
    t.ndim = 2;
    t.shape = shape;
    t.strides = NULL;
    return t;
}

static sc_session *session(int mode, const char *config) {
    sc_session *s = NULL;
    if (sc_session_create(mode, &s) != SC_OK) return NULL;
    if (sc_session_add_modules_json(s, kModules, (size_t)-1) != SC_OK || sc_session_set_config(s, config, (size_t)-1) != SC_OK) {
        printf("FAIL: session: %s\n", sc_session_last_error(s));
        sc_session_free(s);
        return NULL;
    }
    return s;
}

typedef struct job {
    rank_ctx ctx;
    int world;
    int bad;            /* this rank binds a shard that does not fit */
    int ptq;            /* run the PTQ part too (every rank or none) */
    int status;         /* of the distributed call */
    char message[512];
    double scale;       /* PTQ */
    float ema[3];       /* QAT: scale, tracked min, tracked max */
} job;

static void *run_rank(void *arg) {
    job *j = (job *)arg;
    int rank = j->ctx.rank, world = j->world;
    int64_t c1 = C1 / world, r2 = R2 / world;
    float *l1 = malloc(sizeof(float) * R1 * c1), *l2 = malloc(sizeof(float) * r2 * C2);
    float *m1 = malloc(sizeof(float) * R1 * c1), *m2 = malloc(sizeof(float) * r2 * C2);
    int64_t s1[2] = {R1, c1}, s2[2] = {r2, C2}, g1[2] = {R1, C1}, g2[2] = {R2, C2};
    int64_t o1[2] = {0, rank * c1}, o2[2] = {rank * r2, 0};
    int64_t i, k, stats[2] = {0, 0};
    sc_tensor t1, t2, k1, k2;
    sc_session *s = session(SC_MODE_PRUNING, cur_config);
    for (i = 0; i < R1; i++)
        for (k = 0; k < c1; k++) l1[i * c1 + k] = w1[i * C1 + rank * c1 + k];
    for (i = 0; i < r2 * C2; i++) l2[i] = w2[rank * r2 * C2 + i];
    t1 = view(l1, s1), k1 = view(m1, s1), t2 = view(l2, s2), k2 = view(m2, s2);
    j->status = s == NULL ? SC_ERROR_INTERNAL : SC_OK;
    if (j->status == SC_OK) j->status = sc_session_bind(s, "fc1", "weight", &t1, &k1);
    if (j->status == SC_OK) j->status = sc_session_bind(s, "fc2", "weight", &t2, &k2);
    if (j->status == SC_OK) j->status = sc_session_bind_shard(s, "fc1", "weight", 2, s1, g1, o1, 1);
    if (j->status == SC_OK && j->bad) o2[0] = R2; /* past the end: does not fit */
    if (j->status == SC_OK) j->status = sc_session_bind_shard(s, "fc2", "weight", 2, s2, g2, o2, 1);
    if (j->status != SC_OK) {
        snprintf(j->message, sizeof j->message, "%s", s ? sc_session_last_error(s) : "no session");
        if (sc_distributed_fail(rank, world, allreduce, &j->ctx) != SC_OK) printf("FAIL: sc_distributed_fail: %s\n", sc_last_error());
    } else {
        j->status = sc_session_generate_masks_distributed(s, cur_metric, rank, world, allreduce, &j->ctx, stats);
        snprintf(j->message, sizeof j->message, "%s", j->status == SC_OK ? "" : sc_session_last_error(s));
        if (j->status == SC_OK) {
            for (i = 0; i < R1; i++)
                for (k = 0; k < c1; k++) got1[i * C1 + rank * c1 + k] = m1[i * c1 + k];
            for (i = 0; i < r2 * C2; i++) got2[rank * r2 * C2 + i] = m2[i];
            CHECK(stats[0] >= 5 && stats[1] > 0, "rank %d: stats %lld rounds, %lld bytes", rank, (long long)stats[0], (long long)stats[1]);
        }
    }
    sc_session_free(s);
    /* PTQ and QAT over fc1's shard of e1 (w1 with outliers: no rank holds the whole range) */
    for (i = 0; i < R1; i++)
        for (k = 0; k < c1; k++) l1[i * c1 + k] = e1[i * C1 + rank * c1 + k];
    if (j->ptq) {
        sc_session *q = session(SC_MODE_QUANTIZATION, kQuantConfig);
        float scale = 0, zero = 0;
        int64_t one[1] = {1};
        sc_tensor sc, zp;
        int st = q == NULL ? SC_ERROR_INTERNAL : SC_OK;
        sc.data = &scale, sc.dtype = SC_DTYPE_FLOAT32, sc.ndim = 0, sc.shape = one, sc.strides = NULL;
        zp = sc, zp.data = &zero;
        if (st == SC_OK) st = sc_session_observe(q, "fc1", "weight", &t1, SC_OBSERVER_MINMAX);
        if (st == SC_OK) st = sc_session_bind_shard(q, "fc1", "weight", 2, s1, g1, o1, 1);
        if (st == SC_OK) st = sc_session_reduce_observers_distributed(q, rank, world, allreduce, &j->ctx, NULL);
        if (st == SC_OK) st = sc_session_quant_params(q, "fc1", "weight", &sc, &zp, NULL, NULL);
        CHECK(st == SC_OK, "rank %d: PTQ: %s", rank, q ? sc_session_last_error(q) : "no session");
        j->scale = scale;
        sc_session_free(q);
    }
    /* QAT: a moving-average observer of fc1's shard over two batches (the second halved), each
     * batch's range reduced across the ranks before the average */
    if (j->ptq) {
        sc_session *q = session(SC_MODE_QUANTIZATION, kQuantConfig);
        float v[4] = {0, 0, 0, 0};
        int64_t one[1] = {1}, qstats[2] = {0, 0};
        sc_tensor out[4];
        int st = q == NULL ? SC_ERROR_INTERNAL : SC_OK, b;
        for (b = 0; b < 4; b++) out[b].data = &v[b], out[b].dtype = SC_DTYPE_FLOAT32, out[b].ndim = 0, out[b].shape = one, out[b].strides = NULL;
        if (st == SC_OK) st = sc_session_bind_shard(q, "fc1", "weight", 2, s1, g1, o1, 1);
        for (b = 0; b < 2 && st == SC_OK; b++) {
            if (b == 1)
                for (i = 0; i < R1 * c1; i++) l1[i] *= 0.5f;
            st = sc_session_observe_distributed(q, "fc1", "weight", &t1, SC_OBSERVER_EMA, rank, world, allreduce, &j->ctx, qstats);
            /* a status round (world + 3 int64) and one max of 3 doubles (one per-tensor block) */
            CHECK(st != SC_OK || (qstats[0] == 2 && qstats[1] == (world + 3 + 3) * 8), "rank %d: EMA stats %lld rounds, %lld bytes",
                  rank, (long long)qstats[0], (long long)qstats[1]);
        }
        /* accepted (its range is the whole weight's already) and left as it is */
        if (st == SC_OK) st = sc_session_reduce_observers_distributed(q, rank, world, allreduce, &j->ctx, NULL);
        if (st == SC_OK) st = sc_session_quant_params(q, "fc1", "weight", &out[0], &out[1], &out[2], &out[3]);
        CHECK(st == SC_OK, "rank %d: QAT: %s", rank, q ? sc_session_last_error(q) : "no session");
        j->ema[0] = v[0], j->ema[1] = v[2], j->ema[2] = v[3];
        sc_session_free(q);
    }
    free(l1), free(l2), free(m1), free(m2);
    return NULL;
}

static int run_world(int world, int bad_rank, job *jobs) {
    static group g;
    pthread_t threads[8];
    int r;
    g.world = world;
    pthread_barrier_init(&g.barrier, NULL, (unsigned)world);
    pthread_mutex_init(&g.mutex, NULL);
    for (r = 0; r < world; r++) {
        memset(&jobs[r], 0, sizeof jobs[r]);
        jobs[r].ctx.g = &g, jobs[r].ctx.rank = r, jobs[r].world = world, jobs[r].bad = r == bad_rank, jobs[r].ptq = bad_rank < 0;
        pthread_create(&threads[r], NULL, run_rank, &jobs[r]);
    }
    for (r = 0; r < world; r++) pthread_join(threads[r], NULL);
    pthread_barrier_destroy(&g.barrier);
    pthread_mutex_destroy(&g.mutex);
    return 0;
}

/* --- sc_distributed_status: a step before the distributed call, failing on some ranks ------------ */

static int64_t last_summary[4];

static int one_rank(void *buffer, int64_t count, int op, void *user) { /* world 1: the sum is the summary */
    (void)op, (void)user;
    if (count == 4) memcpy(last_summary, buffer, sizeof last_summary);
    return 0;
}

static int broken(void *buffer, int64_t count, int op, void *user) {
    (void)buffer, (void)count, (void)op, (void)user;
    return 3;
}

typedef struct status_job {
    rank_ctx ctx;
    int world;
    int failed;
    int status;
    char message[512];
} status_job;

static void *run_status(void *arg) {
    status_job *j = (status_job *)arg;
    j->status = sc_distributed_status(j->ctx.rank, j->world, j->failed, SC_MODE_QUANTIZATION, "the trainer's setup", allreduce, &j->ctx);
    snprintf(j->message, sizeof j->message, "%s", j->status == SC_OK ? "" : sc_last_error());
    return NULL;
}

/* `failed`: a bit per failing rank. */
static void run_status_world(int world, unsigned failed, status_job *jobs) {
    static group g;
    pthread_t threads[8];
    int r;
    g.world = world;
    pthread_barrier_init(&g.barrier, NULL, (unsigned)world);
    pthread_mutex_init(&g.mutex, NULL);
    for (r = 0; r < world; r++) {
        memset(&jobs[r], 0, sizeof jobs[r]);
        jobs[r].ctx.g = &g, jobs[r].ctx.rank = r, jobs[r].world = world, jobs[r].failed = (failed >> r) & 1;
        pthread_create(&threads[r], NULL, run_status, &jobs[r]);
    }
    for (r = 0; r < world; r++) pthread_join(threads[r], NULL);
    pthread_barrier_destroy(&g.barrier);
    pthread_mutex_destroy(&g.mutex);
}

static void check_status(void) {
    status_job jobs[8];
    int r;
    run_status_world(4, 0, jobs); /* every rank passes */
    for (r = 0; r < 4; r++) CHECK(jobs[r].status == SC_OK, "status, all pass: rank %d: %s", r, jobs[r].message);
    run_status_world(4, (1u << 1) | (1u << 2), jobs); /* ranks 1 and 2 fail */
    for (r = 0; r < 4; r++) {
        if (r == 1 || r == 2) {
            CHECK(jobs[r].status == SC_OK, "status: failing rank %d: %s (%s)", r, sc_status_name(jobs[r].status), jobs[r].message);
        } else {
            CHECK(jobs[r].status == SC_ERROR_QUANTIZATION &&
                      strcmp(jobs[r].message, "ranks 1, 2 of 4 failed in the trainer's setup (they raise the error); every rank stops here") == 0,
                  "status: passing rank %d: %s (%s)", r, sc_status_name(jobs[r].status), jobs[r].message);
        }
    }
    /* one rank: the summary is its own */
    CHECK(sc_distributed_status(0, 1, 0, SC_MODE_PRUNING, NULL, one_rank, NULL) == SC_OK && last_summary[3] == 1 &&
              last_summary[0] == 0,
          "status, world 1: %s", sc_last_error());
    CHECK(sc_distributed_status(0, 1, 0, SC_MODE_DISTILLATION, "x", one_rank, NULL) == SC_ERROR_INVALID_ARGUMENT &&
              strstr(sc_last_error(), "mode is 2") != NULL && last_summary[0] == 1,
          "status, bad mode (a failing participant): %s", sc_last_error());
    CHECK(sc_distributed_status(0, 1, 1, SC_MODE_QUANTIZATION, "x", broken, NULL) == SC_ERROR_QUANTIZATION &&
              strstr(sc_last_error(), "the all-reduce failed") != NULL,
          "status, failed all-reduce: %s", sc_last_error());
    CHECK(sc_distributed_status(1, 1, 0, SC_MODE_PRUNING, "x", one_rank, NULL) == SC_ERROR_INVALID_ARGUMENT, "status, rank 1 of 1");
}

/* The single-process masks of cur_config / cur_metric into ref1, ref2; returns the number pruned. */
static int reference(void) {
    sc_session *s = session(SC_MODE_PRUNING, cur_config);
    int64_t s1[2] = {R1, C1}, s2[2] = {R2, C2};
    sc_tensor t1 = view(w1, s1), k1 = view(ref1, s1), t2 = view(w2, s2), k2 = view(ref2, s2);
    int pruned = 0;
    size_t i;
    CHECK(s && sc_session_bind(s, "fc1", "weight", &t1, &k1) == SC_OK && sc_session_bind(s, "fc2", "weight", &t2, &k2) == SC_OK &&
              sc_session_generate_masks(s, cur_metric) == SC_OK,
          "reference masks: %s", s ? sc_session_last_error(s) : "");
    sc_session_free(s);
    for (i = 0; i < R1 * C1; i++) pruned += ref1[i] == 0;
    for (i = 0; i < R2 * C2; i++) pruned += ref2[i] == 0;
    return pruned;
}

int main(void) {
    uint64_t state = 7;
    size_t i;
    int world, r, pruned = 0;
    double whole_scale;
    float whole_ema[3];
    job jobs[8];
    sc_session *s;
    for (i = 0; i < R1 * C1; i++) state = state * 6364136223846793005ULL + 1442695040888963407ULL, w1[i] = (float)((int)(state >> 61) - 4) / 4;
    for (i = 0; i < R2 * C2; i++) state = state * 6364136223846793005ULL + 1442695040888963407ULL, w2[i] = (float)((int)(state >> 61) - 4) / 4;
    memcpy(e1, w1, sizeof e1);
    e1[0] = 1.5f, e1[R1 * C1 - 1] = -1.5f; /* (row 0, column 0) and (row 15, column 11): no slab holds both */
    /* the single-process reference */
    cur_config = kConfig, cur_metric = SC_METRIC_LEVEL;
    pruned = reference();
    CHECK(pruned == 158, "reference prunes %d elements; expected int(288 * 0.55) = 158", pruned);
    /* the whole weight's per-tensor scale */
    {
        sc_session *q = session(SC_MODE_QUANTIZATION, kQuantConfig);
        int64_t s1[2] = {R1, C1}, one[1] = {1};
        float scale = 0, zero = 0;
        sc_tensor t1 = view(e1, s1), sc, zp;
        sc.data = &scale, sc.dtype = SC_DTYPE_FLOAT32, sc.ndim = 0, sc.shape = one, sc.strides = NULL;
        zp = sc, zp.data = &zero;
        CHECK(q && sc_session_observe(q, "fc1", "weight", &t1, SC_OBSERVER_MINMAX) == SC_OK &&
                  sc_session_quant_params(q, "fc1", "weight", &sc, &zp, NULL, NULL) == SC_OK,
              "reference scale");
        whole_scale = scale;
        sc_session_free(q);
    }
    /* the whole weight's moving average over the same two batches */
    {
        sc_session *q = session(SC_MODE_QUANTIZATION, kQuantConfig);
        int64_t s1[2] = {R1, C1}, one[1] = {1};
        float v[4] = {0, 0, 0, 0}, half[R1 * C1];
        sc_tensor t1 = view(e1, s1), t2 = view(half, s1), out[4];
        int b;
        for (i = 0; i < R1 * C1; i++) half[i] = e1[i] * 0.5f;
        for (b = 0; b < 4; b++) out[b].data = &v[b], out[b].dtype = SC_DTYPE_FLOAT32, out[b].ndim = 0, out[b].shape = one, out[b].strides = NULL;
        CHECK(q && sc_session_observe(q, "fc1", "weight", &t1, SC_OBSERVER_EMA) == SC_OK &&
                  sc_session_observe(q, "fc1", "weight", &t2, SC_OBSERVER_EMA) == SC_OK &&
                  sc_session_quant_params(q, "fc1", "weight", &out[0], &out[1], &out[2], &out[3]) == SC_OK,
              "reference EMA scale");
        whole_ema[0] = v[0], whole_ema[1] = v[2], whole_ema[2] = v[3];
        sc_session_free(q);
    }
    for (world = 2; world <= 4; world += 2) {
        memset(got1, 0xFF, sizeof got1), memset(got2, 0xFF, sizeof got2);
        run_world(world, -1, jobs);
        for (r = 0; r < world; r++) {
            CHECK(jobs[r].status == SC_OK, "world %d rank %d: %s", world, r, jobs[r].message);
            CHECK(jobs[r].scale == whole_scale && whole_scale > 0, "world %d rank %d: scale %.9g, whole %.9g", world, r,
                  jobs[r].scale, whole_scale);
            CHECK(memcmp(jobs[r].ema, whole_ema, sizeof whole_ema) == 0 && whole_ema[0] > 0, "world %d rank %d: EMA scale %.9g "
                  "[%.9g, %.9g], whole %.9g [%.9g, %.9g]", world, r, jobs[r].ema[0], jobs[r].ema[1], jobs[r].ema[2], whole_ema[0],
                  whole_ema[1], whole_ema[2]);
        }
        CHECK(memcmp(got1, ref1, sizeof ref1) == 0 && memcmp(got2, ref2, sizeof ref2) == 0,
              "world %d: the ranks' masks differ from the single-process masks", world);
    }
    /* L1 of out_channel rows that span fc1's column slabs: the ranks' partial sums (of quarters:
     * exact) added across ranks give the single-process norms, so the same masks */
    cur_config = kL1Config, cur_metric = SC_METRIC_L1;
    pruned = reference();
    CHECK(pruned == 144, "L1 reference prunes %d elements; expected 12 rows of 12 = int(288 * 0.5)", pruned);
    for (world = 2; world <= 4; world += 2) {
        memset(got1, 0xFF, sizeof got1), memset(got2, 0xFF, sizeof got2);
        run_world(world, -1, jobs);
        for (r = 0; r < world; r++) CHECK(jobs[r].status == SC_OK, "L1, world %d rank %d: %s", world, r, jobs[r].message);
        CHECK(memcmp(got1, ref1, sizeof ref1) == 0 && memcmp(got2, ref2, sizeof ref2) == 0,
              "L1, world %d: the ranks' masks differ from the single-process masks", world);
    }
    cur_config = kConfig, cur_metric = SC_METRIC_LEVEL;
    check_status();
    run_world(2, 1, jobs);
    CHECK(jobs[1].status == SC_ERROR_SHAPE && strstr(jobs[1].message, "does not fit") != NULL, "bad rank: %s (%s)",
          sc_status_name(jobs[1].status), jobs[1].message);
    CHECK(jobs[0].status == SC_ERROR_PRUNING && strstr(jobs[0].message, "rank 1 of 2 failed") != NULL, "good rank: %s (%s)",
          sc_status_name(jobs[0].status), jobs[0].message);
    s = session(SC_MODE_PRUNING, kConfig);
    CHECK(sc_session_generate_masks_distributed(s, SC_METRIC_LEVEL, 0, 1, NULL, NULL, NULL) == SC_ERROR_NULL_POINTER &&
              strstr(sc_session_last_error(s), "allreduce") != NULL,
          "NULL allreduce: %s", sc_session_last_error(s));
    sc_session_free(s);
    if (failures) return 1;
    printf("distributed: 2 and 4 ranks equal one process (Level masks, L1 masks of rows spanning shards, PTQ and EMA scales); a failing rank makes every rank fail; "
           "the status round of a step before the call\n");
    return 0;
}
