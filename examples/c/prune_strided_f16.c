/*
 * prune_strided_f16.c — prune tensors that are neither float32 nor row-major, in place.
 *
 *   cc -std=c99 -I include examples/c/prune_strided_f16.c -L <libdir> -lswiftcompress -Wl,-rpath,<libdir>
 *
 * Two weights as a PyTorch program may hold them:
 *   - conv.weight: Conv2d(8, 16, 3) in float16, stored channels_last (memory order O, kh, kw, I:
 *     strides {72, 1, 24, 8} in elements for the logical shape {16, 8, 3, 3}); its mask is float16
 *     with the same strides.
 *   - fc.weight: Linear(24, 12) in bfloat16, stored transposed (memory order in, out: strides
 *     {1, 12} for the logical shape {12, 24}, as `w.t()` of a contiguous [24, 12] tensor); its
 *     mask is a contiguous float32 array.
 * One session, metric L2 (L2NormPruner): conv.weight loses half of its output channels, fc.weight
 * a third of its input columns ('in_channel'). `target_names` limits both configs to the weights,
 * so the biases are not targets. The program prints per target the kept mask elements, the
 * sparsity, the zeros after apply and an FNV-1a hash of the mask in logical row-major order;
 * examples/c/expected/prune_strided_f16.txt holds the output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcompress.h"

#define CHECK(session, call)                                                                      \
    do {                                                                                          \
        int status_ = (call);                                                                     \
        if (status_ != SC_OK) {                                                                   \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #call,              \
                    sc_status_name(status_), sc_session_last_error(session));                     \
            exit(1);                                                                              \
        }                                                                                         \
    } while (0)

/* The fixed LCG (as in prune_mlp.c); ExamplesParityTests.swift computes the same values. */
static uint64_t lcg_state = 2024;
static uint64_t lcg_next(void) {
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return lcg_state;
}

/* A float16 value k / 1024 for an 11-bit k in [-1024, 1024), exactly, as IEEE binary16 bits. */
static uint16_t half_from_lcg(void) {
    int32_t k = (int32_t)(lcg_next() >> 53) - 1024;
    uint16_t sign = k < 0 ? 0x8000 : 0;
    uint32_t m = (uint32_t)(k < 0 ? -k : k);
    int e = 0;
    if (m == 0) return sign;
    while ((m >> (e + 1)) != 0) e++;                  /* 2^e <= m < 2^(e+1), e <= 10 */
    /* m / 1024 = 1.f * 2^(e - 10): exponent field e - 10 + 15, 10 fraction bits. */
    return (uint16_t)(sign | (uint32_t)(e + 5) << 10 | ((m << (10 - e)) & 0x3FF));
}

/* A bfloat16 value k / 128 for an 8-bit k in [-128, 128), exactly, as the upper half of a float32. */
static uint16_t bfloat16_from_lcg(void) {
    float v = (float)((int32_t)(lcg_next() >> 56) - 128) / 128.0f;
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return (uint16_t)(bits >> 16); /* exact: v has at most 8 significant bits */
}

static int is_zero16(uint16_t bits) { return (bits & 0x7FFF) == 0; } /* +-0 in both formats */

/* conv.weight: logical [16, 8, 3, 3], memory [16, 3, 3, 8]. */
static const int64_t conv_shape[4] = {16, 8, 3, 3};
static const int64_t conv_strides[4] = {72, 1, 24, 8};
static uint16_t conv_w[16 * 8 * 3 * 3], conv_mask[16 * 8 * 3 * 3];

/* fc.weight: logical [12, 24], memory [24, 12]. */
static const int64_t fc_shape[2] = {12, 24};
static const int64_t fc_strides[2] = {1, 12};
static uint16_t fc_w[12 * 24];
static float fc_mask[12 * 24];

static uint64_t fnv1a(uint64_t hash, unsigned bit) { return (hash ^ bit) * 1099511628211ULL; }

static void print_line(const char *name, const char *shape, int64_t kept, int64_t count, int64_t zeros, uint64_t hash) {
    printf("  %-13s %-14s kept %4lld/%-4lld sparsity %.4f zeros %4lld mask %016llx\n", name, shape, (long long)kept,
           (long long)count, (double)(count - kept) / (double)count, (long long)zeros, (unsigned long long)hash);
}

int main(void) {
    static const char *modules = "[{\"name\": \"\", \"type\": \"Net\"}, {\"name\": \"conv\", \"type\": \"Conv2d\"},"
                                 " {\"name\": \"fc\", \"type\": \"Linear\"}]";
    static const char *config =
        "[{\"op_names\": [\"conv\"], \"target_names\": [\"weight\"], \"sparse_ratio\": 0.5},"
        " {\"op_names\": [\"fc\"], \"target_names\": [\"weight\"], \"sparse_ratio\": 0.34,"
        "  \"granularity\": \"in_channel\"}]";
    sc_session *s = NULL;
    sc_tensor conv_t = {conv_w, SC_DTYPE_FLOAT16, 4, conv_shape, conv_strides};
    sc_tensor conv_m = {conv_mask, SC_DTYPE_FLOAT16, 4, conv_shape, conv_strides};
    sc_tensor fc_t = {fc_w, SC_DTYPE_BFLOAT16, 2, fc_shape, fc_strides};
    sc_tensor fc_m = {fc_mask, SC_DTYPE_FLOAT32, 2, fc_shape, NULL};
    int64_t o, i, h, w, kept = 0, zeros = 0;
    uint64_t hash = 14695981039346656037ULL;

    if (sc_version_number() != SC_VERSION_NUMBER) {
        fprintf(stderr, "header %s but library %s\n", SC_VERSION_STRING, sc_version_string());
        return 1;
    }
    /* Fill in logical row-major order, writing each value where its strides put it. */
    for (o = 0; o < 16; o++)
        for (i = 0; i < 8; i++)
            for (h = 0; h < 3; h++)
                for (w = 0; w < 3; w++) conv_w[o * 72 + i + h * 24 + w * 8] = half_from_lcg();
    for (o = 0; o < 12; o++)
        for (i = 0; i < 24; i++) fc_w[o + i * 12] = bfloat16_from_lcg();

    CHECK(NULL, sc_session_create(SC_MODE_PRUNING, &s));
    CHECK(s, sc_session_add_modules_json(s, modules, (size_t)-1));
    CHECK(s, sc_session_set_config(s, config, (size_t)-1));
    printf("L2, float16 channels_last conv + transposed bfloat16 linear: %zu targets\n", sc_session_target_count(s));
    CHECK(s, sc_session_bind(s, "conv", "weight", &conv_t, &conv_m));
    CHECK(s, sc_session_bind(s, "fc", "weight", &fc_t, &fc_m));
    CHECK(s, sc_session_generate_masks(s, SC_METRIC_L2));
    CHECK(s, sc_session_apply_masks(s));
    sc_session_free(s);

    for (o = 0; o < 16; o++)
        for (i = 0; i < 8; i++)
            for (h = 0; h < 3; h++)
                for (w = 0; w < 3; w++) {
                    int64_t at = o * 72 + i + h * 24 + w * 8;
                    unsigned bit = !is_zero16(conv_mask[at]);
                    kept += bit;
                    zeros += is_zero16(conv_w[at]);
                    hash = fnv1a(hash, bit);
                }
    print_line("conv.weight", "[16, 8, 3, 3]", kept, 16 * 8 * 3 * 3, zeros, hash);

    kept = zeros = 0;
    hash = 14695981039346656037ULL;
    for (o = 0; o < 12; o++)
        for (i = 0; i < 24; i++) {
            unsigned bit = fc_mask[o * 24 + i] != 0.0f;
            kept += bit;
            zeros += is_zero16(fc_w[o + i * 12]);
            hash = fnv1a(hash, bit);
        }
    print_line("fc.weight", "[12, 24]", kept, 12 * 24, zeros, hash);
    return 0;
}
