/*
 * fuzz_common.h — shared helpers of the libFuzzer targets in fuzz/ (C99, header-only).
 *
 *   - fdp: a FuzzedDataProvider-style reader. Every read consumes bytes from the front of the input
 *     and returns 0 / the low end of the range once the input is used up, so any input is valid.
 *   - ft: a tensor the target owns (shape, strides, dtype, one malloc'd buffer sized exactly to the
 *     memory the view addresses, so AddressSanitizer sees any access outside it), built with fuzzed
 *     layouts: contiguous, explicit, permuted, padded, zero, negative, huge or raw strides, and an
 *     optionally misaligned data pointer.
 *   - Invariants of include/swiftcompress.h checked after every call (CHECK_STATUS): a status is one
 *     of the header's codes and never SC_ERROR_INTERNAL; a failure leaves a non-empty message. The
 *     targets also check that failed calls leave caller buffers unchanged (ft_snapshot /
 *     ft_unchanged) and per-function facts (masks 0/1, quantized values within [qmin, qmax], ...).
 * An invariant that does not hold prints "INVARIANT VIOLATED: ..." and aborts, which libFuzzer
 * reports as a crash and saves the input.
 */
#ifndef SC_FUZZ_COMMON_H
#define SC_FUZZ_COMMON_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcompress.h"

#if defined(__clang__) || defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

/* ------------------------------------------------------------------------------------------------
 * Failing an invariant
 * ---------------------------------------------------------------------------------------------- */

static void fz_violation(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "\nINVARIANT VIOLATED at %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    fflush(stderr);
    abort();
}
#define FZ_FAIL(...) fz_violation(__FILE__, __LINE__, __VA_ARGS__)
#define FZ_ASSERT(cond, ...)                  \
    do {                                      \
        if (!(cond)) FZ_FAIL(__VA_ARGS__);    \
    } while (0)

/* Calls per entry point (per call site, summed by function name at exit): how often each function
 * was reached and how often it succeeded. Printed to stderr at exit as "calls: name total ok". */
#define FZ_MAX_SITES 256
static struct { const char *call; unsigned long long total, ok; } fz_sites[FZ_MAX_SITES];
static int fz_nsites;
static void fz_count(const char *call, int ok) {
    int i;
    for (i = 0; i < fz_nsites && fz_sites[i].call != call; i++) {}
    if (i == fz_nsites) {
        if (fz_nsites == FZ_MAX_SITES) return;
        fz_sites[fz_nsites++].call = call;
    }
    fz_sites[i].total++;
    fz_sites[i].ok += ok ? 1 : 0;
}
__attribute__((destructor)) static void fz_print_counts(void) {
    char names[FZ_MAX_SITES][64];
    unsigned long long total[FZ_MAX_SITES], ok[FZ_MAX_SITES];
    int n = 0;
    for (int i = 0; i < fz_nsites; i++) {
        char name[64];
        size_t k = strcspn(fz_sites[i].call, "(");
        if (k >= sizeof name) k = sizeof name - 1;
        memcpy(name, fz_sites[i].call, k);
        name[k] = 0;
        int j;
        for (j = 0; j < n && strcmp(names[j], name) != 0; j++) {}
        if (j == n) { memcpy(names[n], name, k + 1); total[n] = ok[n] = 0; n++; }
        total[j] += fz_sites[i].total;
        ok[j] += fz_sites[i].ok;
    }
    for (int j = 0; j < n; j++) fprintf(stderr, "calls: %s %llu %llu\n", names[j], total[j], ok[j]);
}

/* The status is a code of the header, not SC_ERROR_INTERNAL; a failure has a non-empty message
 * (the session's for a live session, the thread's otherwise). Returns the status. */
static int fz_check_status(const char *file, int line, const char *call, int status, const sc_session *s) {
    fz_count(call, status == SC_OK);
    if (!((status >= SC_OK && status <= SC_ERROR_QUANTIZATION) || status == SC_ERROR_INTERNAL))
        fz_violation(file, line, "%s returned %d, not a status code of swiftcompress.h", call, status);
    if (status != SC_OK) {
        const char *m = s ? sc_session_last_error(s) : sc_last_error();
        if (m == NULL || m[0] == '\0')
            fz_violation(file, line, "%s failed with %s and an empty message", call, sc_status_name(status));
        if (status == SC_ERROR_INTERNAL)
            fz_violation(file, line, "%s returned SC_ERROR_INTERNAL (a bug): %s", call, m);
    }
    return status;
}
#define CHECK_STATUS(s, call) fz_check_status(__FILE__, __LINE__, #call, (call), (s))

/* Whether the targets produce the input classes of bugs that were open (see fuzz/regressions/
 * README.md). All three are fixed, so this is on by default; FZ_KNOWN_BUGS=0 steers around them
 * again (for fuzzing an older library). A bug found later is steered around here while it is open. */
static int fz_known_bugs(void) {
    static int v = -1;
    if (v < 0) v = getenv("FZ_KNOWN_BUGS") == NULL || strcmp(getenv("FZ_KNOWN_BUGS"), "0") != 0;
    return v;
}

/* ------------------------------------------------------------------------------------------------
 * The structured reader
 * ---------------------------------------------------------------------------------------------- */

typedef struct fdp {
    const uint8_t *data;
    size_t size;
} fdp;

static inline uint8_t fdp_u8(fdp *p) {
    if (p->size == 0) return 0;
    uint8_t v = p->data[0];
    p->data++;
    p->size--;
    return v;
}
static inline uint16_t fdp_u16(fdp *p) { return (uint16_t)(fdp_u8(p) | ((uint16_t)fdp_u8(p) << 8)); }
static inline uint32_t fdp_u32(fdp *p) { return (uint32_t)fdp_u16(p) | ((uint32_t)fdp_u16(p) << 16); }
static inline uint64_t fdp_u64(fdp *p) { return (uint64_t)fdp_u32(p) | ((uint64_t)fdp_u32(p) << 32); }
static inline int fdp_bool(fdp *p) { return fdp_u8(p) & 1; }
/* 1 in `n` (n >= 1), from one byte; false once the input is used up (so that the rare branches
 * do not all fire on the zeros of an exhausted input). */
static inline int fdp_one_in(fdp *p, unsigned n) { return n <= 1 || fdp_u8(p) % n == n - 1; }
/* An integer in [lo, hi] (hi - lo < 2^32), from as few bytes as the range needs. */
static inline int64_t fdp_range(fdp *p, int64_t lo, int64_t hi) {
    if (hi <= lo) return lo;
    uint64_t span = (uint64_t)(hi - lo);
    uint64_t v = span < 256 ? fdp_u8(p) : span < 65536 ? fdp_u16(p) : fdp_u32(p);
    return lo + (int64_t)(v % (span + 1));
}
/* One of `n` entries of a table. */
#define FDP_PICK(p, table) ((table)[fdp_range((p), 0, (int64_t)(sizeof(table) / sizeof((table)[0])) - 1)])
static inline size_t fdp_remaining(const fdp *p) { return p->size; }

/* A double: mostly from a table of interesting values, sometimes raw bits. */
static double fdp_double(fdp *p) {
    static const double table[] = {0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 3.0, -3.0, 0.25, 0.1, 1e-3, 7.5,
                                   100.0, -100.0, 1e-7, 1e-30, -1e-30, 1e30, -1e30, 1e38, 3.4e38, 1e300,
                                   -1e300, 1.17549435e-38, 1e-45, 4.9e-324, 65504.0, 65520.0, 127.0, 128.0,
                                   255.0, 0.999, 1.001, INFINITY, -INFINITY, NAN};
    uint8_t sel = fdp_u8(p);
    if (sel < 200) return table[sel % (sizeof table / sizeof table[0])];
    if (sel < 240) return (double)(int8_t)fdp_u8(p) / 8.0;
    uint64_t bits = fdp_u64(p);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* ------------------------------------------------------------------------------------------------
 * Element conversion (float16 / bfloat16 by hand)
 * ---------------------------------------------------------------------------------------------- */

static inline size_t fz_dtype_size(int32_t dtype) {
    switch (dtype) {
        case SC_DTYPE_FLOAT32: return 4;
        case SC_DTYPE_FLOAT64: return 8;
        case SC_DTYPE_FLOAT16:
        case SC_DTYPE_BFLOAT16: return 2;
        default: return 4; /* invalid dtypes get 4-byte storage; the library must reject them */
    }
}
static inline int fz_dtype_valid(int32_t dtype) { return dtype >= 0 && dtype <= 3; }

static double fz_half_to_double(uint16_t h) {
    int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    double v;
    if (exp == 0) v = ldexp((double)man, -24);
    else if (exp == 31) v = man ? NAN : INFINITY;
    else v = ldexp((double)(man | 1024), exp - 25);
    return sign ? -v : v;
}
static uint16_t fz_double_to_half(double d) { /* truncating; only used to fill inputs */
    float f = (float)d;
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    int exp = (int)((x >> 23) & 255) - 127 + 15;
    uint32_t man = x & 0x7FFFFF;
    if (((x >> 23) & 255) == 255) return (uint16_t)(sign | 0x7C00 | (man ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7C00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        return (uint16_t)(sign | (man >> (14 - exp)));
    }
    return (uint16_t)(sign | ((uint32_t)exp << 10) | (man >> 13));
}

static double fz_load(const void *base, int32_t dtype, int64_t index) {
    const char *c = (const char *)base;
    switch (dtype) {
        case SC_DTYPE_FLOAT64: { double v; memcpy(&v, c + index * 8, 8); return v; }
        case SC_DTYPE_FLOAT16: { uint16_t v; memcpy(&v, c + index * 2, 2); return fz_half_to_double(v); }
        case SC_DTYPE_BFLOAT16: {
            uint16_t v;
            memcpy(&v, c + index * 2, 2);
            uint32_t x = (uint32_t)v << 16;
            float f;
            memcpy(&f, &x, 4);
            return f;
        }
        default: { float v; memcpy(&v, c + index * 4, 4); return v; }
    }
}
static void fz_store(void *base, int32_t dtype, int64_t index, double value) {
    char *c = (char *)base;
    switch (dtype) {
        case SC_DTYPE_FLOAT64: memcpy(c + index * 8, &value, 8); break;
        case SC_DTYPE_FLOAT16: { uint16_t v = fz_double_to_half(value); memcpy(c + index * 2, &v, 2); break; }
        case SC_DTYPE_BFLOAT16: {
            float f = (float)value;
            uint32_t x;
            memcpy(&x, &f, 4);
            uint16_t v = (uint16_t)(x >> 16);
            memcpy(c + index * 2, &v, 2);
            break;
        }
        default: { float f = (float)value; memcpy(c + index * 4, &f, 4); break; }
    }
}

/* ------------------------------------------------------------------------------------------------
 * Tensors owned by a target
 * ---------------------------------------------------------------------------------------------- */

#define FZ_MAX_ELEMENTS 32768 /* views with more elements or a larger span only come from overflowing
                                 sizes or strides: they get a 64-byte buffer and must be rejected */

enum {
    FZ_LAYOUT_NULL_STRIDES, /* contiguous, strides NULL */
    FZ_LAYOUT_CONTIGUOUS,   /* explicit row-major strides */
    FZ_LAYOUT_PERMUTED,     /* column-major */
    FZ_LAYOUT_PADDED,       /* row-major with gaps */
    FZ_LAYOUT_ZERO,         /* one dim of stride 0 (overlapping) */
    FZ_LAYOUT_NEGATIVE,     /* one dim of negative stride */
    FZ_LAYOUT_HUGE,         /* one dim of huge stride */
    FZ_LAYOUT_RAW,          /* strides straight from the input */
    FZ_LAYOUT_COUNT
};

typedef struct ft {
    sc_tensor t;
    int64_t shape[SC_MAX_NDIM + 2];
    int64_t strides[SC_MAX_NDIM + 2];
    int layout;
    char *buf;       /* the allocation (NULL when none) */
    size_t bytes;    /* its size */
    char *copy;      /* ft_snapshot's copy */
    int64_t count;   /* element count (-1 when a size is negative or the product overflows) */
    int addressable; /* every element lies inside buf (span computed without overflow) */
    int bad_view;    /* the header says this view must be rejected (any use) */
    int overlapping; /* two elements share memory (rejected for buffers the library writes) */
    int may_be_rejected; /* a legal view the library rejects anyway (a negative stride of a size-1 dim) */
    int huge;        /* non-empty, but its span or size overflows: must be rejected by any call */
} ft;

/* FZ_VERBOSE=1 in the environment prints every view a target builds (to read a reproducer). */
static void ft_print(const ft *x, const char *why) {
    static int verbose = -1;
    if (verbose < 0) verbose = getenv("FZ_VERBOSE") != NULL;
    if (!verbose) return;
    fprintf(stderr, "view %s: dtype %d ndim %d shape [", why, x->t.dtype, x->t.ndim);
    for (int d = 0; d < x->t.ndim && d <= SC_MAX_NDIM; d++) fprintf(stderr, "%s%lld", d ? ", " : "", (long long)x->shape[d]);
    fprintf(stderr, "] strides ");
    if (!x->t.strides) fprintf(stderr, "NULL");
    else for (int d = 0; d < x->t.ndim && d <= SC_MAX_NDIM; d++) fprintf(stderr, "%s%lld", d ? ", " : "[", (long long)x->strides[d]);
    fprintf(stderr, "%s layout %d, %zu bytes at %p (data %p), count %lld%s%s%s\n", x->t.strides && x->t.ndim ? "]" : "", x->layout,
            x->bytes, (void *)x->buf, x->t.data, (long long)x->count, x->bad_view ? ", must be rejected" : "",
            x->overlapping ? ", overlapping" : "", x->huge ? ", huge" : "");
}

static void ft_free(ft *x) {
    free(x->buf);
    free(x->copy);
    memset(x, 0, sizeof *x);
}

/* Element offset of logical index `i` (row-major) in a valid view. */
static int64_t ft_elem(const ft *x, int64_t i) {
    if (!x->t.strides) return i;
    int64_t off = 0;
    for (int d = x->t.ndim - 1; d >= 0; d--) {
        int64_t n = x->shape[d];
        off += (i % n) * x->strides[d];
        i /= n;
    }
    return off;
}
static double ft_get(const ft *x, int64_t i) { return fz_load(x->t.data, x->t.dtype, ft_elem(x, i)); }
static void ft_set(ft *x, int64_t i, double v) { fz_store(x->t.data, x->t.dtype, ft_elem(x, i), v); }

/* Builds the view of `ndim` dims `shape` in `dtype` with a fuzzed layout; values are not filled. */
static void ft_make(ft *x, fdp *p, int32_t dtype, int32_t ndim, const int64_t *shape) {
    memset(x, 0, sizeof *x);
    x->t.dtype = dtype;
    x->t.ndim = ndim;
    int dims = ndim < 0 ? 0 : ndim > SC_MAX_NDIM + 1 ? SC_MAX_NDIM + 1 : ndim;
    if (ndim < 0 || ndim > SC_MAX_NDIM) x->bad_view = 1;
    if (!fz_dtype_valid(dtype)) x->bad_view = 1;
    int64_t count = 1;
    int overflow = 0;
    for (int d = 0; d < dims; d++) {
        x->shape[d] = shape[d];
        if (shape[d] < 0) {
            x->bad_view = 1;
            overflow = 1;
        } else if (!overflow && shape[d] > 0 && count > INT64_MAX / shape[d]) {
            overflow = 1;
        } else if (!overflow) {
            count *= shape[d];
        }
    }
    x->count = overflow ? -1 : count;
    x->t.shape = x->shape;
    {   /* half NULL strides, a quarter good explicit strides, a quarter any layout */
        uint8_t sel = fdp_u8(p);
        x->layout = sel < 128 ? FZ_LAYOUT_NULL_STRIDES
                  : sel < 192 ? FZ_LAYOUT_CONTIGUOUS + sel % 3 /* contiguous, permuted, padded */
                              : (int)fdp_range(p, 0, FZ_LAYOUT_COUNT - 1);
    }
    if (dims == 0 && x->layout != FZ_LAYOUT_NULL_STRIDES) x->layout = FZ_LAYOUT_CONTIGUOUS;
    int special = dims > 0 ? (int)fdp_range(p, 0, dims - 1) : 0;
    int64_t s = 1;
    switch (x->layout) {
        case FZ_LAYOUT_NULL_STRIDES: break;
        case FZ_LAYOUT_PERMUTED:
            for (int d = 0; d < dims; d++) {
                x->strides[d] = s;
                if (x->shape[d] > 0 && __builtin_mul_overflow(s, x->shape[d], &s)) s = 1;
            }
            break;
        default: {
            int64_t pad = x->layout == FZ_LAYOUT_PADDED ? fdp_range(p, 1, 3) : 0;
            for (int d = dims - 1; d >= 0; d--) {
                x->strides[d] = s;
                if (x->shape[d] > 0 && (__builtin_mul_overflow(s, x->shape[d], &s) || __builtin_add_overflow(s, d == dims - 1 ? pad : 0, &s))) s = 1;
            }
            if (x->layout == FZ_LAYOUT_ZERO && dims) x->strides[special] = 0;
            if (x->layout == FZ_LAYOUT_NEGATIVE && dims) x->strides[special] = -(x->strides[special] ? x->strides[special] : 1);
            if (x->layout == FZ_LAYOUT_HUGE && dims) {
                /* strides whose span overflows: outside any address space */
                static const int64_t huge[] = {INT64_MAX, INT64_MAX / 2 + 1, INT64_MIN, INT64_MAX / 3 * 2, (int64_t)1 << 40};
                x->strides[special] = FDP_PICK(p, huge);
            }
            if (x->layout == FZ_LAYOUT_RAW)
                for (int d = 0; d < dims; d++) x->strides[d] = (int64_t)(int8_t)fdp_u8(p);
            break;
        }
    }
    if (x->layout != FZ_LAYOUT_NULL_STRIDES) x->t.strides = x->strides;

    /* The memory the view addresses: element offsets [lo, hi], computed exactly (128 bits). */
    __int128 lo = 0, hi = 0;
    int dims_ok = ndim >= 0 && ndim <= SC_MAX_NDIM, empty = 0;
    for (int d = 0; d < dims; d++) {
        if (x->shape[d] < 0) dims_ok = 0;
        if (x->shape[d] == 0) empty = 1;
    }
    size_t es = fz_dtype_size(dtype);
    if (dims_ok && !empty) {
        __int128 rowmajor = 1;
        for (int d = dims - 1; d >= 0; d--) {
            __int128 st = x->t.strides ? (__int128)x->strides[d] : rowmajor;
            const __int128 cap = (__int128)1 << 63; /* beyond any extent that matters; keeps 128 bits enough */
            rowmajor = rowmajor > cap / (x->shape[d] ? x->shape[d] : 1) ? cap : rowmajor * x->shape[d];
            if (x->shape[d] <= 1) {
                /* The header requires strides >= 0 only where the size is > 1, but the library
                 * rejects every negative stride (reported): such a view may go either way. */
                if (st < 0) x->may_be_rejected = 1;
                continue;
            }
            if (st < 0) x->bad_view = 1; /* negative strides are rejected when the size is > 1 */
            __int128 ext = st * (x->shape[d] - 1); /* |st| <= 2^63, size < 2^63 */
            if (ext > 0) hi += ext; else lo += ext;
            if (hi > cap * 4) hi = cap * 4;
            if (lo < -cap * 4) lo = -cap * 4;
        }
    }
    __int128 extent = (hi - lo + 1) * (__int128)es;
    if (dims_ok && empty) {
        x->bytes = fdp_bool(p) ? 0 : es;
        x->addressable = 1;
        lo = 0;
    } else if (dims_ok && extent > (__int128)INT64_MAX && extent < ((__int128)1 << 65) && !fz_known_bugs()) {
        /* Views of 2^63 to 2^65 bytes whose end does not wrap around the 64-bit address space are
         * open bug 1 (fuzz/regressions/quantization/open-*: the library accepts them and traps on an
         * arithmetic overflow). Unless FZ_KNOWN_BUGS=1, such a view gets a NULL data pointer instead
         * (which must be rejected), so that fuzzing goes on past the known bug. */
        x->bytes = 0;
        x->huge = x->bad_view = 1;
        lo = 0;
    } else if (!dims_ok || extent > (__int128)INT64_MAX) {
        /* beyond any address space (or sizes the header rejects): must be rejected */
        x->bytes = 64;
        x->huge = x->bad_view = 1;
        lo = 0;
    } else if (hi - lo < FZ_MAX_ELEMENTS && x->count >= 0 && x->count <= FZ_MAX_ELEMENTS) {
        x->bytes = (size_t)extent;
        x->addressable = 1;
    } else {
        /* a legal view too large to allocate or to go through in time (many elements over a small
         * span with stride 0): given a NULL data pointer instead, which must be rejected */
        x->bytes = 0;
        x->huge = x->bad_view = 1;
        lo = 0;
    }
    /* Overlap: with dims of size > 1 sorted by stride, each stride exceeds the span of the smaller. */
    if (x->t.strides && count > 1) {
        int64_t st[SC_MAX_NDIM + 2], sz[SC_MAX_NDIM + 2];
        int n = 0;
        for (int d = 0; d < dims; d++)
            if (x->shape[d] > 1) { st[n] = x->strides[d] == INT64_MIN ? INT64_MAX : x->strides[d] < 0 ? -x->strides[d] : x->strides[d]; sz[n] = x->shape[d]; n++; }
        for (int a = 1; a < n; a++)
            for (int b = a; b > 0 && st[b] < st[b - 1]; b--) {
                int64_t t = st[b]; st[b] = st[b - 1]; st[b - 1] = t;
                t = sz[b]; sz[b] = sz[b - 1]; sz[b - 1] = t;
            }
        int64_t span = 0;
        for (int a = 0; a < n; a++) {
            if (st[a] <= span) { x->overlapping = 1; break; }
            if (st[a] > INT64_MAX / sz[a]) break;
            span += st[a] * (sz[a] - 1);
        }
    }
    int misalign = es > 1 && x->bytes > 0 && fdp_one_in(p, 32);
    if (x->bytes > 0) {
        x->buf = (char *)malloc(x->bytes + (misalign ? 1 : 0));
        if (!x->buf) abort();
        memset(x->buf, 0, x->bytes + (misalign ? 1 : 0));
        x->t.data = x->buf + (misalign ? 1 : 0) + (size_t)(-lo) * es;
        if (misalign && count > 0) x->bad_view = 1;
    } else {
        x->t.data = fdp_one_in(p, 4) ? (void *)x->shape : NULL;
    }
    if (x->bytes == 0 && !(dims_ok && empty)) x->t.data = NULL;
    if (count > 0 && fdp_one_in(p, 64)) { /* a NULL data pointer of a non-empty tensor */
        x->t.data = NULL;
        x->bad_view = 1;
        x->addressable = 0;
    }
    ft_print(x, "made");
}

/* Fills every element of an addressable view from the input. */
static void ft_fill(ft *x, fdp *p) {
    if (!x->addressable || x->count <= 0 || !x->t.data) return;
    int mode = (int)fdp_range(p, 0, 3);
    double base = fdp_double(p), step = (double)(int8_t)fdp_u8(p) / 4.0;
    for (int64_t i = 0; i < x->count; i++) {
        double v;
        switch (mode) {
            case 0: v = fdp_remaining(p) ? fdp_double(p) : base; break;
            case 1: v = base + step * (double)i; break;
            case 2: v = (double)(int8_t)fdp_u8(p) / 16.0; break;
            default: v = (double)((i * 7919 + 13) % 23) - 11.0; break;
        }
        ft_set(x, i, v);
    }
}

/* Remembers the buffer's bytes (ft_unchanged compares). */
static void ft_snapshot(ft *x) {
    free(x->copy);
    x->copy = NULL;
    if (x->bytes) {
        x->copy = (char *)malloc(x->bytes + 1);
        if (!x->copy) abort();
        memcpy(x->copy, x->buf, x->bytes);
    }
}
static int ft_unchanged(const ft *x) { return x->bytes == 0 || !x->copy || memcmp(x->copy, x->buf, x->bytes) == 0; }

/* A shape of 0..maxdim dims with sizes 0..maxsize; rarely a negative size or too many dims. */
static int32_t fz_shape(fdp *p, int64_t *shape, int maxdim, int maxsize) {
    int32_t ndim = maxdim >= 1 ? (int32_t)fdp_range(p, 1, maxdim) : 0;
    if (fdp_one_in(p, 8)) ndim = 0;
    if (fdp_one_in(p, 128)) ndim = SC_MAX_NDIM + 1;
    if (fdp_one_in(p, 128)) ndim = -1;
    int dims = ndim < 0 ? 0 : ndim;
    for (int d = 0; d < dims; d++) {
        shape[d] = fdp_range(p, 1, maxsize);
        if (fdp_one_in(p, 48)) shape[d] = 0;
        if (fdp_one_in(p, 128)) shape[d] = -1;
        if (fdp_one_in(p, 200)) shape[d] = fdp_bool(p) ? INT64_MAX / 2 + 1 : (int64_t)1 << 40;
    }
    return ndim;
}

static int32_t fz_dtype(fdp *p) {
    uint8_t b = fdp_u8(p);
    if (b >= 250) return b == 250 ? -1 : b == 251 ? 4 : 99;
    return (int32_t)(b % 4);
}

/* A string buffer for JSON text. */
typedef struct fz_str {
    char *s;
    size_t n, cap;
} fz_str;
static void fz_str_add(fz_str *b, const char *fmt, ...) {
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        int k = b->s ? vsnprintf(b->s + b->n, room, fmt, ap) : -1;
        va_end(ap);
        if (k >= 0 && (size_t)k < room) { b->n += (size_t)k; return; }
        size_t want = b->cap ? b->cap * 2 : 1024;
        while (k >= 0 && want < b->n + (size_t)k + 1) want *= 2;
        char *ns = (char *)realloc(b->s, want);
        if (!ns) abort();
        b->s = ns;
        b->cap = want;
    }
}
static void fz_str_free(fz_str *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* Sets the config list built in `cfg` (printed with FZ_VERBOSE), frees `cfg`, and returns the
 * checked status. On failure the session is freed too (the caller returns at once). */
static int fz_set_config(sc_session *s, fz_str *cfg) {
    if (getenv("FZ_VERBOSE")) fprintf(stderr, "config: %s\n", cfg->s);
    int st = CHECK_STATUS(s, sc_session_set_config(s, cfg->s, cfg->n));
    fz_str_free(cfg);
    if (st != SC_OK) sc_session_free(s);
    return st;
}

/* A mask value is 0 or 1 (-0.0 counts as 0). */
static int fz_is01(double v) { return v == 0.0 || v == 1.0; }

#endif
