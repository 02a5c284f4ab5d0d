/*
 * fuzz_common.h - helpers shared by the libFuzzer harnesses in Tests/fuzz (C, public header only).
 *
 * Decoding: a fuzz input is read as a stream of bytes (FuzzIn); reading past its end yields zeros, so every
 * input decodes to some call. The pick_* helpers map bytes to hostile arguments: dimensions from a table
 * of edge values (0, 1, small, 2^31, 2^40, 2^59, 2^62, INT64_MAX, negatives), invalid ndim, enums just
 * outside their ranges, special scales (0, subnormal, NaN, inf, 1e30), zero points outside the dtype.
 *
 * Buffers: a harness never lets the library touch memory a valid call could not touch. Element counts are
 * computed with overflow detection (sq_fz_numel); a real, exactly sized heap buffer (so ASan sees one byte
 * past its end) is allocated only for counts <= FZ_MAX_ELEMS. For a representable count above that, the
 * data pointer is NULL, which the header makes an error for a non-empty buffer; for an invalid or
 * overflowing count a small buffer is passed, and the call must fail. A call the header says must fail
 * that returns SQ_OK aborts the harness (fz_fail), so libFuzzer reports it as a crash.
 */
#ifndef SQ_FUZZ_COMMON_H
#define SQ_FUZZ_COMMON_H

#include "swiftquant.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_MAX_ELEMS 4096

/* ---- input stream ---------------------------------------------------------------------------------- */

typedef struct FuzzIn {
    const uint8_t *p;
    size_t n;
} FuzzIn;

static inline uint8_t fz_u8(FuzzIn *in)
{
    if (in->n == 0) return 0;
    uint8_t v = in->p[0];
    in->p++;
    in->n--;
    return v;
}
static inline uint16_t fz_u16(FuzzIn *in) { uint16_t lo = fz_u8(in); return (uint16_t)(lo | ((uint16_t)fz_u8(in) << 8)); }
static inline uint32_t fz_u32(FuzzIn *in) { uint32_t lo = fz_u16(in); return lo | ((uint32_t)fz_u16(in) << 16); }
static inline uint64_t fz_u64(FuzzIn *in) { uint64_t lo = fz_u32(in); return lo | ((uint64_t)fz_u32(in) << 32); }

/* ---- failure reporting ------------------------------------------------------------------------------ */

/* A library result that contradicts the header: print it and abort (libFuzzer saves the input). */
#define fz_fail(...)                                                                                     \
    do {                                                                                                 \
        fprintf(stderr, "FUZZ CHECK FAILED at %s:%d: ", __FILE__, __LINE__);                            \
        fprintf(stderr, __VA_ARGS__);                                                                    \
        fprintf(stderr, "\n  last error message: \"%s\"\n", sq_last_error_message());                    \
        abort();                                                                                         \
    } while (0)

/* A call that must fail returned SQ_OK. */
#define fz_expect_fail(st, must_fail, what)                                                              \
    do {                                                                                                 \
        if ((must_fail) && (st) == SQ_OK) fz_fail("%s returned SQ_OK for arguments it must reject", what); \
    } while (0)

/* A failing call must leave a message. */
static inline void fz_check_message(sq_status st, const char *what)
{
    if (st != SQ_OK) {
        const char *m = sq_last_error_message();
        if (m == NULL || m[0] == '\0') fz_fail("%s failed with %d but left no message", what, (int)st);
        if (strcmp(sq_status_string(st), "SQ_UNKNOWN_STATUS") == 0) fz_fail("%s returned unknown status %d", what, (int)st);
        if (st == SQ_ERROR_INTERNAL) fz_fail("%s returned SQ_ERROR_INTERNAL", what);
    }
}

/* ---- verbose mode: SQ_FUZZ_VERBOSE=1 prints the decoded arguments of each call ------------------- */

static inline int fz_verbose(void)
{
    static int v = -1;
    if (v < 0) v = getenv("SQ_FUZZ_VERBOSE") != NULL;
    return v;
}
#define fz_log(...)                                                                                      \
    do {                                                                                                 \
        if (fz_verbose()) fprintf(stderr, __VA_ARGS__);                                                  \
    } while (0)
static inline void fz_log_shape(const char *name, const int64_t *shape, int32_t ndim)
{
    if (!fz_verbose()) return;
    fprintf(stderr, "%s = ", name);
    if (shape == NULL) { fprintf(stderr, "NULL (ndim %d)", ndim); return; }
    fprintf(stderr, "[");
    for (int32_t i = 0; i < ndim && i < SQ_MAX_NDIM + 2; i++) fprintf(stderr, "%s%lld", i ? ", " : "", (long long)shape[i]);
    fprintf(stderr, "]%s (ndim %d)", ndim > SQ_MAX_NDIM + 2 ? "..." : "", ndim);
}
static inline void fz_log_params(const char *name, const sq_qparams *p)
{
    if (!fz_verbose()) return;
    if (p == NULL) { fprintf(stderr, "%s = NULL", name); return; }
    fprintf(stderr, "%s = {count %lld, dtype %d, axis %d, block %lld, scale %s", name, (long long)p->count, p->dtype,
            p->axis, (long long)p->block_size, p->scale ? "" : "NULL");
    if (p->scale && p->count > 0 && p->count <= 4096) fprintf(stderr, "[0]=%g", (double)p->scale[0]);
    fprintf(stderr, ", zp %s", p->zero_point ? "" : "NULL");
    if (p->zero_point && p->count > 0 && p->count <= 4096) fprintf(stderr, "[0]=%d", p->zero_point[0]);
    fprintf(stderr, "}");
}

/* ---- checked arithmetic ----------------------------------------------------------------------------- */

static inline int fz_mul(int64_t a, int64_t b, int64_t *out) { return __builtin_mul_overflow(a, b, out) ? 0 : 1; }

/* Shape classes. */
enum { FZ_SHAPE_INVALID = -1, FZ_SHAPE_OK = 0, FZ_SHAPE_OVERFLOW = 1 };

/*
 * The element count of a shape: FZ_SHAPE_INVALID (ndim out of range, a negative dimension, or NULL shape
 * with ndim > 0), FZ_SHAPE_OVERFLOW (the product does not fit int64: must be rejected), or FZ_SHAPE_OK with
 * *count. A shape with a zero dimension has count 0 even if its other dimensions overflow (*zero_dims_overflow
 * says so: the library may accept it or reject it).
 */
static inline int fz_numel(const int64_t *shape, int32_t ndim, int64_t *count, int *zero_dims_overflow)
{
    *count = 0;
    if (zero_dims_overflow) *zero_dims_overflow = 0;
    if (ndim < 0 || ndim > SQ_MAX_NDIM) return FZ_SHAPE_INVALID;
    if (ndim > 0 && shape == NULL) return FZ_SHAPE_INVALID;
    int has_zero = 0;
    for (int32_t i = 0; i < ndim; i++) {
        if (shape[i] < 0) return FZ_SHAPE_INVALID;
        if (shape[i] == 0) has_zero = 1;
    }
    int64_t c = 1;
    int over = 0;
    for (int32_t i = 0; i < ndim; i++) {
        if (shape[i] == 0) continue;
        if (!fz_mul(c, shape[i], &c)) { over = 1; break; }
    }
    if (has_zero) {
        if (zero_dims_overflow) *zero_dims_overflow = over;
        *count = 0;
        return FZ_SHAPE_OK;
    }
    if (over) return FZ_SHAPE_OVERFLOW;
    *count = c;
    return FZ_SHAPE_OK;
}

/*
 * The expected number of quantization parameters (sq_qparams): 1 known (*count), 0 the library may accept
 * or reject (zero-element shapes whose parameter shape product overflows), -1 must be rejected.
 */
static inline int fz_qparams_count(const int64_t *shape, int32_t ndim, int32_t axis, int64_t block, int64_t *count)
{
    int64_t n;
    int zo;
    *count = 0;
    int cls = fz_numel(shape, ndim, &n, &zo);
    if (cls != FZ_SHAPE_OK) return -1;
    if (block < 0) return -1;
    if (axis == SQ_PER_TENSOR) {
        if (block != 0) return -1;
        *count = 1;
        return zo ? 0 : 1;
    }
    if (axis < 0 || axis >= ndim) return -1;
    if (block == 0) {
        *count = shape[axis];
        return zo ? 0 : 1;
    }
    int64_t c = 1;
    int has_zero = 0, over = 0;
    for (int32_t i = 0; i < ndim; i++) {
        int64_t d = shape[i];
        if (i == axis) d = d / block + (d % block != 0);
        if (d == 0) { has_zero = 1; continue; }
        if (!over && !fz_mul(c, d, &c)) over = 1;
    }
    if (has_zero) { *count = 0; return (zo || over) ? 0 : 1; }
    if (over) return -1; /* cannot happen: the blocked product is at most the element count */
    *count = c;
    return 1;
}

/* ---- buffers ---------------------------------------------------------------------------------------- */

/* Exactly n * elem bytes (n <= FZ_MAX_ELEMS), so ASan catches an access one past the end. malloc(0) gives
 * a unique pointer that must never be dereferenced. */
static inline void *fz_alloc(int64_t n, size_t elem)
{
    if (n < 0 || n > FZ_MAX_ELEMS) abort();
    void *p = malloc((size_t)n * elem > 0 ? (size_t)n * elem : 1);
    if (p == NULL) abort();
    if (n > 0) memset(p, 0, (size_t)n * elem);
    return p;
}

/*
 * A buffer for an argument the call may touch `n` elements of (n < 0: the count is invalid or overflows).
 * Sets *must_fail when the call cannot be valid with it: NULL for a representable n above FZ_MAX_ELEMS,
 * a small buffer for an invalid n. For n == 0 it returns NULL or an empty allocation (selector bit).
 * The result must be released with free() (free(NULL) is fine).
 */
static inline void *fz_buffer(int64_t n, size_t elem, int *must_fail, uint8_t selector)
{
    if (n < 0) {
        *must_fail = 1;
        return fz_alloc(4, elem);
    }
    if (n == 0) return (selector & 1) ? NULL : fz_alloc(0, elem);
    if (n > FZ_MAX_ELEMS) {
        *must_fail = 1;
        return NULL;
    }
    return fz_alloc(n, elem);
}

/* ---- serialized state (observers "SQOB", Hessian observers "SQHS") ------------------------------------ */

/* The formats' checksum: 64-bit FNV-1a of every byte before the last 8. */
static inline uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = UINT64_C(0xCBF29CE484222325);
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * UINT64_C(0x00000100000001B3);
    return h;
}
static inline void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}
/* Rewrites the trailing checksum so mutations of the payload reach the field checks. */
static inline void fix_checksum(uint8_t *buf, size_t n)
{
    if (n >= 12) put_le(buf + n - 8, fnv1a(buf, n - 8), 8);
}

/* ---- value pickers ---------------------------------------------------------------------------------- */

static const int64_t fz_dim_table[] = {
    0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256,
    INT64_C(1) << 31, (INT64_C(1) << 31) - 1, INT64_C(1) << 32, INT64_C(1) << 40, INT64_C(1) << 59,
    INT64_C(1) << 62, INT64_MAX, INT64_MAX - 1, -1, -2, INT64_MIN, -(INT64_C(1) << 62),
};
#define FZ_NDIM_TABLE_SMALL 20 /* the first entries are the small dimensions */

/* A dimension: mostly small, sometimes huge or negative. */
static inline int64_t fz_pick_dim(FuzzIn *in)
{
    uint8_t b = fz_u8(in);
    if (b < 128) return b % 9;                     /* 0..8 */
    if (b < 192) return fz_dim_table[b % FZ_NDIM_TABLE_SMALL];
    if (b < 250) return fz_dim_table[b % (sizeof fz_dim_table / sizeof fz_dim_table[0])];
    return (int64_t)fz_u64(in);                    /* anything */
}

/* ndim: 0..4 mostly; sometimes 5..SQ_MAX_NDIM, SQ_MAX_NDIM + 1, -1 or INT32_MIN. */
static inline int32_t fz_pick_ndim(FuzzIn *in)
{
    uint8_t b = fz_u8(in);
    if (b < 200) return b % 5;
    switch (b % 8) {
    case 0: return -1;
    case 1: return SQ_MAX_NDIM + 1;
    case 2: return INT32_MIN;
    case 3: return SQ_MAX_NDIM;
    case 4: return INT32_MAX;
    default: return 5 + b % 4;
    }
}

/*
 * A heap shape of exactly max(0, min(ndim, SQ_MAX_NDIM + 2)) entries (an invalid ndim above that must be
 * rejected before the shape is read), or NULL (ndim 0 sometimes, and rarely ndim > 0: must fail).
 * *null_bad is set when NULL is passed with ndim > 0. Free with free().
 */
static inline int64_t *fz_pick_shape(FuzzIn *in, int32_t ndim, int *null_bad)
{
    uint8_t b = fz_u8(in);
    *null_bad = 0;
    if (ndim == 0 && (b & 1)) return NULL;
    if (ndim > 0 && b == 255) { *null_bad = 1; return NULL; }
    int32_t n = ndim < 0 ? 0 : (ndim > SQ_MAX_NDIM + 2 ? SQ_MAX_NDIM + 2 : ndim);
    int64_t *s = (int64_t *)malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    if (s == NULL) abort();
    for (int32_t i = 0; i < n; i++) s[i] = fz_pick_dim(in);
    return s;
}

/* An axis for a tensor of ndim dimensions: valid mostly, sometimes out of range. */
static inline int32_t fz_pick_axis(FuzzIn *in, int32_t ndim)
{
    uint8_t b = fz_u8(in);
    if (b < 80) return SQ_PER_TENSOR;
    if (b < 220) return ndim > 0 ? (int32_t)(b % (uint32_t)(ndim > 0 && ndim <= SQ_MAX_NDIM ? ndim : 1)) : 0;
    switch (b % 6) {
    case 0: return ndim;
    case 1: return -2;
    case 2: return INT32_MIN;
    case 3: return INT32_MAX;
    case 4: return SQ_MAX_NDIM;
    default: return ndim > INT32_MIN ? ndim - 1 : 0;
    }
}

/* A block size: 0 (none) often, small values, INT64_MAX and neighbours, negatives. */
static inline int64_t fz_pick_block(FuzzIn *in)
{
    static const int64_t t[] = {1, 2, 3, 4, 8, 16, 17, 32, 64, 128,
                                INT64_MAX, INT64_MAX - 1, INT64_MAX / 2, INT64_C(1) << 62, INT64_C(1) << 31,
                                -1, INT64_MIN};
    uint8_t b = fz_u8(in);
    if (b < 100) return 0;
    return t[b % (sizeof t / sizeof t[0])];
}

static inline int32_t fz_pick_enum(FuzzIn *in, int32_t nvalid)
{
    uint8_t b = fz_u8(in);
    if (b < 230) return (int32_t)(b % (uint32_t)nvalid);
    switch (b % 5) {
    case 0: return nvalid;
    case 1: return -1;
    case 2: return INT32_MIN;
    case 3: return INT32_MAX;
    default: return nvalid + 1;
    }
}

/* The integer dtypes (0..5); the float formats (6..12) have their own harness, fuzz_floatfmt. */
static inline int fz_dtype_valid(int32_t d) { return d >= 0 && d <= 5; }
/* An integer dtype, sometimes invalid: never a float format (fz_pick_enum's "just past the end" values 6
 * and 7 are float formats now, so they become 13 and 14, still past the end). */
static inline int32_t fz_pick_int_dtype(FuzzIn *in)
{
    int32_t d = fz_pick_enum(in, 6);
    return (d == 6 || d == 7) ? d + 7 : d;
}
static inline void fz_dtype_range(int32_t d, int32_t *lo, int32_t *hi)
{
    static const int32_t r[6][2] = {{-128, 127}, {0, 255}, {-32768, 32767}, {0, 65535}, {-8, 7}, {0, 15}};
    if (!fz_dtype_valid(d)) { *lo = 0; *hi = 0; return; }
    *lo = r[d][0];
    *hi = r[d][1];
}
/* Bytes per stored element of a dtype (invalid dtypes: 2, the largest, so buffers are never too small). */
static inline size_t fz_dtype_size(int32_t d) { return (d == 2 || d == 3 || !fz_dtype_valid(d)) ? 2 : 1; }

static inline float fz_bits_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* A scale: mostly valid, sometimes 0, negative, subnormal, NaN, inf, 1e30, FLT_MAX, raw bits. */
static inline float fz_pick_scale(FuzzIn *in)
{
    uint8_t b = fz_u8(in);
    static const float good[] = {1.0f, 0.5f, 0.1f, 0.02f, 2.0f, 1e-3f, 3.0f, 0.25f};
    if (b < 160) return good[b % 8];
    switch (b % 12) {
    case 0: return 0.0f;
    case 1: return -1.0f;
    case 2: return 1e-40f;          /* subnormal */
    case 3: return NAN;
    case 4: return INFINITY;
    case 5: return 1e30f;
    case 6: return FLT_MAX;
    case 7: return FLT_MIN;         /* smallest normal: valid */
    case 8: return 1e-30f;
    case 9: return -INFINITY;
    case 10: return 1e20f;
    default: return fz_bits_float(fz_u32(in));
    }
}
static inline int fz_scale_valid(float s) { return isfinite(s) && s >= FLT_MIN; }

/* A zero point for dtype: in range mostly, sometimes just outside or extreme. */
static inline int32_t fz_pick_zp(FuzzIn *in, int32_t dtype)
{
    int32_t lo, hi;
    fz_dtype_range(dtype, &lo, &hi);
    uint8_t b = fz_u8(in);
    if (b < 100) return 0;
    if (b < 220) return lo + (int32_t)(fz_u16(in) % (uint32_t)(hi - lo + 1));
    switch (b % 6) {
    case 0: return lo - 1;
    case 1: return hi + 1;
    case 2: return INT32_MIN;
    case 3: return INT32_MAX;
    case 4: return lo;
    default: return hi;
    }
}

/* A data value: ordinary values mostly, special ones sometimes. */
static inline float fz_pick_value(FuzzIn *in)
{
    uint8_t b = fz_u8(in);
    if (b < 180) return ((float)(int8_t)fz_u8(in)) * 0.125f;
    switch (b % 12) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return -0.0f;
    case 4: return 1e-40f;
    case 5: return FLT_MAX;
    case 6: return -FLT_MAX;
    case 7: return 1e30f;
    case 8: return 0.5f;
    case 9: return -2.5f;
    default: return fz_bits_float(fz_u32(in));
    }
}

/* Fills x[0..n) with values; a fill mode may make whole runs special (NaN blocks, all-inf, constant). */
static inline void fz_fill_floats(FuzzIn *in, float *x, int64_t n)
{
    if (x == NULL || n <= 0) return;
    uint8_t mode = fz_u8(in);
    if (mode < 40) {                                 /* one value everywhere */
        float v = fz_pick_value(in);
        for (int64_t i = 0; i < n; i++) x[i] = v;
        return;
    }
    if (mode < 60) {                                 /* ramp with an optional special value at one index */
        for (int64_t i = 0; i < n; i++) x[i] = (float)(i % 97) * 0.25f - 12.0f;
        int64_t at = (int64_t)(fz_u16(in) % (uint64_t)n);
        x[at] = fz_pick_value(in);
        return;
    }
    if (mode < 80) {                                 /* aligned runs of 16 of one special value */
        for (int64_t i = 0; i < n; i++) x[i] = 1.0f;
        int64_t start = ((int64_t)(fz_u8(in) % 16)) * 16 % n;
        float v = fz_pick_value(in);
        for (int64_t i = start; i < n && i < start + 16; i++) x[i] = v;
        return;
    }
    for (int64_t i = 0; i < n; i++) x[i] = in->n ? fz_pick_value(in) : (float)(i % 7) - 3.0f;
}

static inline int fz_has_nan(const float *x, int64_t n)
{
    for (int64_t i = 0; x != NULL && i < n; i++)
        if (isnan(x[i])) return 1;
    return 0;
}
static inline int fz_has_nonfinite(const float *x, int64_t n)
{
    for (int64_t i = 0; x != NULL && i < n; i++)
        if (!isfinite(x[i])) return 1;
    return 0;
}

/* A declared count: the right one mostly, else off by one, 0, 1, huge or negative. */
static inline int64_t fz_pick_count(FuzzIn *in, int64_t right)
{
    uint8_t b = fz_u8(in);
    if (b < 200) return right;
    switch (b % 8) {
    case 0: return right < INT64_MAX ? right + 1 : 0;
    case 1: return right > INT64_MIN ? right - 1 : 0;
    case 2: return 0;
    case 3: return 1;
    case 4: return -1;
    case 5: return INT64_MAX;
    case 6: return INT64_C(1) << 62;
    default: return (right >= 0 && right <= INT64_MAX / 2) ? right * 2 : 3;
    }
}

#endif /* SQ_FUZZ_COMMON_H */
