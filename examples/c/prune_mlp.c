/*
 * prune_mlp.c — prune a 3-layer MLP held in plain C arrays through libswiftcompress.
 *
 *   cc -std=c99 -I include examples/c/prune_mlp.c -L <libdir> -lswiftcompress -Wl,-rpath,<libdir>
 *
 * The model is fc1 = Linear(16, 32), fc2 = Linear(32, 32), fc3 = Linear(32, 10) (ReLUs between
 * them have no parameters). Weights and biases are filled by a fixed LCG (see lcg_value), so the
 * output is the same on every machine; examples/c/expected/prune_mlp.txt holds it.
 *
 * Two sessions, as two NNI pruners would be:
 *   - LevelPruner-like: fc1 and fc3 (every Linear but fc2), fine-grained |w|, sparse_ratio 0.5;
 *     each bias is aligned to its weight by the Linear template (bias i kept iff row i keeps a weight).
 *   - L1NormPruner-like: fc2, one L1 norm per output row ('out_channel'), sparse_ratio 0.5.
 * Each session resolves its config list against the module list, the program binds every resolved
 * target to its weight array and a mask array, generates the masks, applies them (weight *= mask)
 * and prints, per target: kept mask elements, the sparsity, the zeros in the weight after apply
 * and an FNV-1a hash of the mask (its 0/1 values in row-major order, one byte each).
 */
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

/* The fixed LCG (Knuth's MMIX constants): each value is a 24-bit integer / 2^23 in [-1, 1), exact
 * in float32. ExamplesParityTests.swift computes the same values. */
static uint64_t lcg_state = 42;
static float lcg_value(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((int32_t)(lcg_state >> 40) - (1 << 23)) / (float)(1 << 23);
}

/* One parameter of the model: where its values live and where its mask goes. */
typedef struct param {
    const char *module;
    const char *name;
    int32_t ndim;
    int64_t shape[2];
    float *values;
    float *mask;
} param;

#define IN 16
#define HIDDEN 32
#define OUT 10

static float fc1_w[HIDDEN * IN], fc1_b[HIDDEN], fc1_wm[HIDDEN * IN], fc1_bm[HIDDEN];
static float fc2_w[HIDDEN * HIDDEN], fc2_b[HIDDEN], fc2_wm[HIDDEN * HIDDEN], fc2_bm[HIDDEN];
static float fc3_w[OUT * HIDDEN], fc3_b[OUT], fc3_wm[OUT * HIDDEN], fc3_bm[OUT];

static param params[] = {
    {"fc1", "weight", 2, {HIDDEN, IN}, fc1_w, fc1_wm},
    {"fc1", "bias", 1, {HIDDEN, 0}, fc1_b, fc1_bm},
    {"fc2", "weight", 2, {HIDDEN, HIDDEN}, fc2_w, fc2_wm},
    {"fc2", "bias", 1, {HIDDEN, 0}, fc2_b, fc2_bm},
    {"fc3", "weight", 2, {OUT, HIDDEN}, fc3_w, fc3_wm},
    {"fc3", "bias", 1, {OUT, 0}, fc3_b, fc3_bm},
};
#define PARAM_COUNT (sizeof params / sizeof params[0])

static int64_t numel(const param *p) { return p->ndim == 1 ? p->shape[0] : p->shape[0] * p->shape[1]; }

static param *find_param(const char *module, const char *name) {
    size_t i;
    for (i = 0; i < PARAM_COUNT; i++)
        if (strcmp(params[i].module, module) == 0 && strcmp(params[i].name, name) == 0) return &params[i];
    return NULL;
}

/* Prints one line per resolved target of the session (after masks were generated and applied). */
static void print_targets(sc_session *s) {
    size_t i, n = sc_session_target_count(s);
    for (i = 0; i < n; i++) {
        const char *module, *name;
        const param *p;
        int64_t k, kept = 0, zeros = 0, count;
        uint64_t hash = 14695981039346656037ULL;
        char shape[32], qualified[64];
        CHECK(s, sc_session_target(s, i, &module, &name));
        p = find_param(module, name);
        count = numel(p);
        for (k = 0; k < count; k++) {
            unsigned char bit = p->mask[k] != 0.0f;
            kept += bit;
            zeros += p->values[k] == 0.0f;
            hash = (hash ^ bit) * 1099511628211ULL;
        }
        if (p->ndim == 1) snprintf(shape, sizeof shape, "[%lld]", (long long)p->shape[0]);
        else snprintf(shape, sizeof shape, "[%lld, %lld]", (long long)p->shape[0], (long long)p->shape[1]);
        snprintf(qualified, sizeof qualified, "%s.%s", module, name);
        printf("  %-13s %-14s kept %4lld/%-4lld sparsity %.4f zeros %4lld mask %016llx\n", qualified,
               shape, (long long)kept, (long long)count, (double)(count - kept) / (double)count,
               (long long)zeros, (unsigned long long)hash);
    }
}

/* Creates a session for the MLP with `config`, binds every target, generates and applies masks. */
static void prune(const char *title, const char *config, int metric) {
    static const char *modules =
        "[{\"name\": \"\", \"type\": \"MLP\"},"
        " {\"name\": \"fc1\", \"type\": \"Linear\"}, {\"name\": \"relu1\", \"type\": \"ReLU\"},"
        " {\"name\": \"fc2\", \"type\": \"Linear\"}, {\"name\": \"relu2\", \"type\": \"ReLU\"},"
        " {\"name\": \"fc3\", \"type\": \"Linear\"}]";
    sc_session *s = NULL;
    size_t i, n;
    CHECK(NULL, sc_session_create(SC_MODE_PRUNING, &s));
    CHECK(s, sc_session_add_modules_json(s, modules, (size_t)-1));
    CHECK(s, sc_session_set_config(s, config, (size_t)-1));
    n = sc_session_target_count(s);
    printf("%s: %zu targets\n", title, n);
    for (i = 0; i < n; i++) {
        const char *module, *name;
        param *p;
        sc_tensor tensor, mask;
        CHECK(s, sc_session_target(s, i, &module, &name));
        p = find_param(module, name);
        if (p == NULL) {
            fprintf(stderr, "the model has no parameter %s.%s\n", module, name);
            exit(1);
        }
        tensor.data = p->values;
        tensor.dtype = SC_DTYPE_FLOAT32;
        tensor.ndim = p->ndim;
        tensor.shape = p->shape;
        tensor.strides = NULL; /* contiguous row-major */
        mask = tensor;
        mask.data = p->mask;
        CHECK(s, sc_session_bind(s, module, name, &tensor, &mask));
    }
    CHECK(s, sc_session_generate_masks(s, metric));
    CHECK(s, sc_session_apply_masks(s));
    print_targets(s);
    sc_session_free(s);
}

int main(void) {
    size_t i;
    int64_t k;
    if (sc_version_number() != SC_VERSION_NUMBER) {
        fprintf(stderr, "header %s but library %s\n", SC_VERSION_STRING, sc_version_string());
        return 1;
    }
    for (i = 0; i < PARAM_COUNT; i++)
        for (k = 0; k < numel(&params[i]); k++) params[i].values[k] = lcg_value();

    prune("level 0.5 on fc1, fc3",
          "[{\"op_types\": [\"Linear\"], \"exclude_op_names\": [\"fc2\"], \"sparse_ratio\": 0.5}]",
          SC_METRIC_LEVEL);
    prune("L1 out_channel 0.5 on fc2",
          "[{\"op_names\": [\"fc2\"], \"sparse_ratio\": 0.5, \"granularity\": \"out_channel\"}]",
          SC_METRIC_L1);
    return 0;
}
