/* fuzz_quant_common.h — reading and checking quantized byte buffers (fuzz_quantization.c, fuzz_qfree.c). */
#ifndef SC_FUZZ_QUANT_COMMON_H
#define SC_FUZZ_QUANT_COMMON_H

#include "fuzz_common.h"

/* The bytes `count` values take in `storage`, or 0 with *ok = 0 for an unknown storage. */
static size_t fz_qbytes(int storage, size_t count, int *ok) {
    *ok = 1;
    switch (storage) {
        case SC_QSTORAGE_INT8: case SC_QSTORAGE_UINT8: return count;
        case SC_QSTORAGE_INT16: case SC_QSTORAGE_UINT16: return count > SIZE_MAX / 2 ? (*ok = 0, 0) : count * 2;
        case SC_QSTORAGE_INT4: case SC_QSTORAGE_UINT4: return count / 2 + (count & 1);
        default: *ok = 0; return 0;
    }
}

/* Value `i` of a quantized buffer. */
static int64_t fz_qget(const uint8_t *q, int storage, size_t i) {
    switch (storage) {
        case SC_QSTORAGE_INT8: return (int8_t)q[i];
        case SC_QSTORAGE_UINT8: return q[i];
        case SC_QSTORAGE_INT16: { int16_t v; memcpy(&v, q + 2 * i, 2); return v; }
        case SC_QSTORAGE_UINT16: { uint16_t v; memcpy(&v, q + 2 * i, 2); return v; }
        case SC_QSTORAGE_INT4: { int n = (q[i / 2] >> ((i & 1) * 4)) & 15; return n >= 8 ? n - 16 : n; }
        default: return (q[i / 2] >> ((i & 1) * 4)) & 15;
    }
}

/* A byte buffer with room after its `bytes` (the tail must never be written). */
typedef struct fz_qbuf {
    uint8_t *p;
    size_t bytes, alloc;
    uint8_t *copy;
} fz_qbuf;
#define FZ_QTAIL 8
static void fz_qbuf_make(fz_qbuf *b, size_t bytes, fdp *p) {
    b->bytes = bytes;
    b->alloc = bytes + FZ_QTAIL;
    b->p = (uint8_t *)malloc(b->alloc);
    b->copy = (uint8_t *)malloc(b->alloc);
    if (!b->p || !b->copy) abort();
    for (size_t i = 0; i < b->alloc; i++) b->p[i] = i < bytes && fdp_remaining(p) ? fdp_u8(p) : (uint8_t)(0xA5 ^ i);
    memcpy(b->copy, b->p, b->alloc);
}
static int fz_qbuf_unchanged(const fz_qbuf *b, size_t from) {
    return memcmp(b->p + from, b->copy + from, b->alloc - from) == 0;
}
static void fz_qbuf_free(fz_qbuf *b) {
    free(b->p);
    free(b->copy);
    memset(b, 0, sizeof *b);
}

static void fz_qrange(int bits, int is_signed, int64_t *qmin, int64_t *qmax) {
    if (is_signed) { *qmin = -((int64_t)1 << (bits - 1)) + 1; *qmax = ((int64_t)1 << (bits - 1)) - 1; }
    else { *qmin = 0; *qmax = ((int64_t)1 << bits) - 1; }
}

/* After a successful quantize of `count` values: each in [qmin, qmax], the 4-bit padding nibble 0,
 * bytes after sc_qstorage_bytes untouched. */
static void fz_check_quantized(const fz_qbuf *b, int storage, size_t count, int64_t qmin, int64_t qmax, const char *who) {
    int ok;
    size_t need = fz_qbytes(storage, count, &ok);
    for (size_t i = 0; i < count; i++) {
        int64_t v = fz_qget(b->p, storage, i);
        FZ_ASSERT(v >= qmin && v <= qmax, "%s stored %lld at %zu, outside [%lld, %lld] (storage %d)", who, (long long)v, i,
                  (long long)qmin, (long long)qmax, storage);
    }
    if ((storage == SC_QSTORAGE_INT4 || storage == SC_QSTORAGE_UINT4) && (count & 1))
        FZ_ASSERT((b->p[count / 2] >> 4) == 0, "%s: the padding nibble of an odd count is not 0", who);
    FZ_ASSERT(fz_qbuf_unchanged(b, need), "%s wrote past sc_qstorage_bytes (%zu of %zu bytes)", who, need, b->bytes);
}

static int fz_storage(fdp *p) { return fdp_one_in(p, 24) ? (int)fdp_range(p, -2, 9) : (int)fdp_range(p, 0, 5); }

/* Mostly a layout that holds [qmin, qmax] of `bits` / `is_signed` (when known), else any. */
static int fz_storage_for(fdp *p, int bits, int is_signed) {
    if (bits < 2 || bits > 16 || fdp_one_in(p, 4)) return fz_storage(p);
    int b = fdp_bool(p);
    if (bits <= 4 && fdp_bool(p)) return is_signed ? SC_QSTORAGE_INT4 : (b ? SC_QSTORAGE_UINT4 : SC_QSTORAGE_INT8);
    if (bits <= 8) return is_signed ? (b ? SC_QSTORAGE_INT8 : SC_QSTORAGE_INT16) : (b ? SC_QSTORAGE_UINT8 : SC_QSTORAGE_UINT16);
    return is_signed ? SC_QSTORAGE_INT16 : SC_QSTORAGE_UINT16;
}

/* The number of NaNs of an addressable view (-1 when unknown). */
static int64_t fz_nan_count(const ft *x) {
    if (!x->addressable || x->count < 0 || (x->count > 0 && !x->t.data)) return -1;
    int64_t n = 0;
    for (int64_t i = 0; i < x->count; i++) n += isnan(ft_get(x, i)) ? 1 : 0;
    return n;
}

#endif
