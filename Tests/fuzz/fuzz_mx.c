/*
 * fuzz_mx - libFuzzer harness for the OCP MX block formats: sq_mx_quantize, sq_mx_dequantize.
 * Decoding: byte 0 picks the mode (quantize first, dequantize first); then ndim (fz_pick_ndim), the shape
 * (fz_pick_shape: 0, small, 2^31 .. INT64_MAX, negatives, NULL), the axis (valid mostly; -1, ndim,
 * INT32_MIN, INT32_MAX sometimes), the format (0 .. 5 mostly; 6, -1, INT32_MIN, INT32_MAX), the scale count
 * (right, off by one, 0, 1, -1, huge: fz_pick_count), two NULL/empty selectors, then the data: floats by
 * fz_fill_floats (NaN / inf runs, FLT_MAX, subnormals, raw bits) or raw element and scale bytes.
 * Checks: memory safety, no trap, SQ_OK exactly for valid calls (and otherwise a message and a known
 * status). Quantize: every scale code and element equals an independent computation here (the exponent by
 * frexp, each element by a search over all codes of the exact quotient in double, ties to even; MXINT8 by
 * rint); dequantize(quantize(x)) is NaN exactly on blocks holding NaN or inf and finite elsewhere, and
 * quantize(dequantize(quantize(x))) gives the same codes (the formats' fixed point). Dequantize of raw
 * bytes: SQ_ERROR_OUT_OF_RANGE exactly when an FP6 / FP4 code is out of range, else every float equals
 * value(code) * 2^(scale - 127) rounded once to float32, NaN for scale 255.
 */
#include "fuzz_common.h"

static const int fz_ebits[] = {4, 5, 3, 2, 2}, fz_mbits[] = {3, 2, 2, 3, 1}, fz_emax[] = {8, 15, 4, 2, 2, 0};
static const int fz_code_limit[] = {256, 256, 64, 64, 16, 256};

/* The value of an element code (the header's format table), NaN / inf for FP8's special codes. */
static double element_value(int fmt, uint8_t c)
{
    if (fmt == SQ_MX_INT8) return (double)(int8_t)c / 64;
    int e = fz_ebits[fmt], m = fz_mbits[fmt], bits = 1 + e + m, bias = (1 << (e - 1)) - 1;
    int neg = (c >> (bits - 1)) & 1, mag = c & ((1 << (bits - 1)) - 1);
    int ex = mag >> m, man = mag & ((1 << m) - 1);
    if (fmt == SQ_MX_FP8_E4M3 && mag == 0x7F) return NAN;
    if (fmt == SQ_MX_FP8_E5M2 && ex == 31) return man ? NAN : (neg ? -INFINITY : INFINITY);
    double v = ex == 0 ? ldexp(man, 1 - bias - m) : ldexp((1 << m) | man, ex - bias - m);
    return neg ? -v : v;
}

/* The element code of the exact quotient v: the nearest finite code of v's sign after clipping to the
 * largest finite value, ties to the even code. */
static uint8_t encode_search(int fmt, double v)
{
    if (fmt == SQ_MX_INT8) {
        double r = rint(v * 64);
        if (r > 127) r = 127;
        if (r < -127) r = -127;
        return (uint8_t)(int8_t)r;
    }
    int bits = 1 + fz_ebits[fmt] + fz_mbits[fmt], sign = signbit(v) ? 1 << (bits - 1) : 0;
    double a = fabs(v), best = INFINITY;
    int code = 0;
    for (int mag = 0; mag < (1 << (bits - 1)); mag++) {
        double val = element_value(fmt, (uint8_t)mag);
        if (!isfinite(val)) continue;
        double d = fabs(val - a);
        if (d < best || (d == best && (mag & 1) == 0)) { best = d; code = mag; }
    }
    return (uint8_t)(code | sign);
}

/* The scale code of a block, by frexp. */
static uint8_t scale_code(int fmt, const float *x, int64_t stride, int64_t count)
{
    float amax = 0;
    for (int64_t i = 0; i < count; i++) {
        float a = fabsf(x[i * stride]);
        if (!isfinite(a)) return 255;
        if (a > amax) amax = a;
    }
    if (amax == 0) return 0;
    int ex;
    frexpf(amax, &ex);
    int X = ex - 1 - fz_emax[fmt];
    if (X < -127) X = -127;
    if (X > 127) X = 127;
    return (uint8_t)(X + 127);
}

typedef struct Layout { int64_t outer, n, inner, nb; } Layout;

/* Visits every block: f(block's first element index, stride, count, scale index). */
#define FOR_BLOCKS(L, body)                                                                              \
    for (int64_t o_ = 0; o_ < (L).outer; o_++)                                                           \
        for (int64_t k_ = 0; k_ < (L).nb; k_++)                                                          \
            for (int64_t j_ = 0; j_ < (L).inner; j_++) {                                                 \
                int64_t at = (o_ * (L).n + 32 * k_) * (L).inner + j_, stride = (L).inner;                \
                int64_t cnt = (L).n - 32 * k_ < 32 ? (L).n - 32 * k_ : 32, si = (o_ * (L).nb + k_) * (L).inner + j_; \
                body                                                                                     \
            }

static void check_quantized(int fmt, Layout L, const float *x, const uint8_t *e, const uint8_t *s)
{
    FOR_BLOCKS(L, {
        uint8_t want = scale_code(fmt, x + at, stride, cnt);
        if (s[si] != want) fz_fail("format %d block at %lld: scale %d, expected %d", fmt, (long long)at, s[si], want);
        for (int64_t i = 0; i < cnt; i++) {
            uint8_t c = e[at + i * stride];
            uint8_t wc = want == 255 ? 0 : encode_search(fmt, (double)x[at + i * stride] * ldexp(1.0, 127 - want));
            if (c != wc)
                fz_fail("format %d element %lld (x = %a, scale %d): code %d, expected %d", fmt,
                        (long long)(at + i * stride), (double)x[at + i * stride], want, c, wc);
        }
    })
}

static void check_dequantized(int fmt, Layout L, const uint8_t *e, const uint8_t *s, const float *y)
{
    FOR_BLOCKS(L, {
        for (int64_t i = 0; i < cnt; i++) {
            int64_t idx = at + i * stride;
            float want = s[si] == 255 ? NAN : (float)(element_value(fmt, e[idx]) * ldexp(1.0, s[si] - 127));
            float got = y[idx];
            if (!(isnan(want) ? isnan(got) : memcmp(&got, &want, 4) == 0))
                fz_fail("format %d dequantize element %lld (code %d, scale %d): %a, expected %a", fmt, (long long)idx,
                        e[idx], s[si], (double)got, (double)want);
        }
    })
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    FuzzIn *f = &in;
    int mode = fz_u8(f) & 1;
    int32_t ndim = fz_pick_ndim(f);
    int null_bad = 0;
    int64_t *shape = fz_pick_shape(f, ndim, &null_bad);
    uint8_t ab = fz_u8(f);
    int32_t axis = ab < 230 ? (ndim > 0 && ndim <= SQ_MAX_NDIM ? (int32_t)(ab % (uint32_t)ndim) : 0)
                            : (int32_t[]){-1, ndim, INT32_MIN, INT32_MAX, -2}[ab % 5];
    int32_t fmt = fz_pick_enum(f, 6);

    /* Validity, computed independently: shape (convention 6: extent <= 2^60), ndim >= 1, axis, format. */
    int64_t count = 0;
    int cls = shape == NULL && ndim > 0 ? FZ_SHAPE_INVALID : fz_numel(shape, ndim, &count, NULL);
    int valid = cls == FZ_SHAPE_OK && ndim >= 1;
    int64_t extent = 1;
    for (int32_t i = 0; valid && i < ndim; i++)
        if (shape[i] > 0 && (!fz_mul(extent, shape[i], &extent) || extent > SQ_MAX_EXTENT)) valid = 0;
    int args_ok = valid && axis >= 0 && axis < ndim && fmt >= 0 && fmt <= SQ_MX_INT8;
    Layout L = {1, 0, 1, 0};
    int64_t right = 0;
    if (args_ok) {
        for (int32_t i = 0; i < axis; i++) L.outer *= shape[i];
        L.n = shape[axis];
        for (int32_t i = axis + 1; i < ndim; i++) L.inner *= shape[i];
        L.nb = L.n / 32 + (L.n % 32 != 0);
        right = L.outer * L.nb * L.inner; /* at most the extent */
    }
    int64_t scount = fz_pick_count(f, right);
    int mf = !args_ok || scount != right;
    uint8_t sel_a = fz_u8(f), sel_b = fz_u8(f), sel_c = fz_u8(f);
    fz_log_shape("mx shape", shape, ndim);
    fz_log(" mode %d axis %d format %d scale_count %lld (right %lld)\n", mode, axis, fmt, (long long)scount, (long long)right);

    int64_t n = args_ok ? count : 0, ns = args_ok ? right : 0;
    if (mode == 0) {
        float *x = (float *)fz_buffer(args_ok ? count : 0, sizeof(float), &mf, sel_a);
        uint8_t *e = (uint8_t *)fz_buffer(args_ok ? count : 0, 1, &mf, sel_b);
        uint8_t *s = (uint8_t *)fz_buffer(scount >= 0 ? scount : -1, 1, &mf, sel_c);
        if (x != NULL && n <= FZ_MAX_ELEMS) fz_fill_floats(f, x, n);
        sq_status st = sq_mx_quantize(x, shape, ndim, axis, fmt, e, s, scount);
        fz_check_message(st, "sq_mx_quantize");
        fz_expect_fail(st, mf, "sq_mx_quantize");
        if (!mf && st != SQ_OK) fz_fail("sq_mx_quantize failed (%d) for valid arguments", (int)st);
        if (st == SQ_OK && n > 0 && n <= FZ_MAX_ELEMS && ns <= FZ_MAX_ELEMS) {
            check_quantized(fmt, L, x, e, s);
            float *y = (float *)fz_alloc(n, sizeof(float));
            uint8_t *e2 = (uint8_t *)fz_alloc(n, 1), *s2 = (uint8_t *)fz_alloc(ns, 1);
            if (sq_mx_dequantize(e, s, ns, shape, ndim, axis, fmt, y) != SQ_OK) fz_fail("dequantize of quantize's output failed");
            check_dequantized(fmt, L, e, s, y);
            FOR_BLOCKS(L, {
                for (int64_t i = 0; i < cnt; i++) {
                    float yv = y[at + i * stride];
                    if ((s[si] == 255) != (isnan(yv) != 0) || (s[si] != 255 && !isfinite(yv)))
                        fz_fail("element %lld: %a with scale %d (NaN exactly on NaN/inf blocks)", (long long)(at + i * stride), (double)yv, s[si]);
                }
            })
            if (sq_mx_quantize(y, shape, ndim, axis, fmt, e2, s2, ns) != SQ_OK) fz_fail("requantize failed");
            if (memcmp(e, e2, (size_t)n) != 0 || memcmp(s, s2, (size_t)ns) != 0)
                fz_fail("format %d: quantize(dequantize(quantize(x))) differs from quantize(x)", fmt);
            free(y);
            free(e2);
            free(s2);
        }
        free(x);
        free(e);
        free(s);
    } else {
        uint8_t *e = (uint8_t *)fz_buffer(args_ok ? count : 0, 1, &mf, sel_a);
        uint8_t *s = (uint8_t *)fz_buffer(scount >= 0 ? scount : -1, 1, &mf, sel_b);
        float *y = (float *)fz_buffer(args_ok ? count : 0, sizeof(float), &mf, sel_c);
        int in_range = fz_u8(f) < 200;
        for (int64_t i = 0; e != NULL && i < n && n <= FZ_MAX_ELEMS; i++) {
            e[i] = fz_u8(f);
            if (in_range && args_ok) e[i] = (uint8_t)(e[i] % fz_code_limit[fmt]);
        }
        for (int64_t i = 0; s != NULL && i < scount && scount <= FZ_MAX_ELEMS; i++) s[i] = fz_u8(f);
        sq_status st = sq_mx_dequantize(e, s, scount, shape, ndim, axis, fmt, y);
        fz_check_message(st, "sq_mx_dequantize");
        fz_expect_fail(st, mf, "sq_mx_dequantize");
        if (!mf && n <= FZ_MAX_ELEMS) {
            int64_t first = -1;
            for (int64_t i = 0; i < n && first < 0; i++)
                if (e[i] >= fz_code_limit[fmt]) first = i;
            sq_status want = first >= 0 ? SQ_ERROR_OUT_OF_RANGE : SQ_OK;
            if (st != want) fz_fail("sq_mx_dequantize returned %d, expected %d", (int)st, (int)want);
            if (first >= 0) {
                char needle[64];
                snprintf(needle, sizeof needle, "element %lld ", (long long)first);
                if (strstr(sq_last_error_message(), needle) == NULL) fz_fail("the message does not name element %lld", (long long)first);
            }
            if (st == SQ_OK && n > 0) check_dequantized(fmt, L, e, s, y);
        }
        free(e);
        free(s);
        free(y);
    }
    free(shape);
    return 0;
}
