/*
 * fuzz_awq - libFuzzer harness for the activation-aware entry points: sq_weight_quantize_awq (then
 * sq_weight_dequantize and sq_block_linear_create_scaled / _forward on its output) and sq_smooth_quant_scales.
 * The input decodes to n, k, rows (small, huge, negative), bits, block sizes and symmetric flags (valid and
 * not), weights and activations (finite, NaN, inf, FLT_MAX: float32 overflow of w * s, x / s and the
 * products), act_absmax (NULL, valid, negative, NaN), alpha (the grid, SQ_SMOOTH_ALPHA_AUTO, -0.5, 1.5, NaN,
 * inf) and NULL / non-NULL activations with zero or more rows. Checks: memory safety, no trap, SQ_OK only
 * for valid calls, every error with a message, and on success: codes within the bit width, input scales
 * finite and > 0, dequantize accepts the output, report values on their grids and never NaN, the layer
 * forward failing exactly when some x / s overflows; SmoothQuant scales finite and >= 1e-5, errors NaN
 * exactly without activations.
 * Work is bounded: valid sizes are capped so one call is about 2^17 * 32 multiply-adds at most.
 */
#include <math.h>

#include "fuzz_common.h"

static int32_t pick_bits(FuzzIn *f)
{
    static const int32_t t[] = {4, 8, 2, 3, 4, 4, 1, 5, 0, -1, 16};
    return t[fz_u8(f) % 11];
}

static int64_t pick_block_size(FuzzIn *f)
{
    static const int64_t t[] = {16, 32, 64, 16, 32, 128, 0, 8, 24, 65536, 131072, -16, INT64_MAX, (INT64_C(1) << 31)};
    return t[fz_u8(f) % 14];
}

static int64_t pick_size(FuzzIn *f)
{
    uint8_t b = fz_u8(f);
    if (b < 220) return b % 40;
    return fz_pick_dim(f);
}

static double pick_alpha(FuzzIn *f, int *valid, int *is_auto)
{
    static const double t[] = {0.5, 0.0, 1.0, 0.25, 0.85, SQ_SMOOTH_ALPHA_AUTO, SQ_SMOOTH_ALPHA_AUTO, 0.05,
                               -0.0, -0.5, 1.5, NAN, INFINITY, -INFINITY, -1.0000001, 1e-300};
    double a = t[fz_u8(f) % 16];
    *is_auto = a == SQ_SMOOTH_ALPHA_AUTO;
    *valid = *is_auto || (a >= 0 && a <= 1);
    return a;
}

/* count = a * b with overflow detection: -1 for negative or overflowing inputs. */
static int64_t count2(int64_t a, int64_t b)
{
    int64_t c;
    if (a < 0 || b < 0 || !fz_mul(a, b, &c)) return -1;
    return c;
}

static int fuzz_awq(FuzzIn *f)
{
    int64_t n = pick_size(f), k = pick_size(f), rows = pick_size(f);
    int32_t bits = pick_bits(f);
    int64_t bs = pick_block_size(f);
    int32_t symmetric = (fz_u8(f) % 8 == 0) ? 2 : (int32_t)(fz_u8(f) & 1);
    int bits_ok = bits == 2 || bits == 3 || bits == 4 || bits == 8;
    int bs_ok = bs >= 16 && bs <= 65536 && (bs & (bs - 1)) == 0;
    int64_t nk = count2(n, k), kb = (bs_ok && k >= 0) ? (k == 0 ? 0 : (k - 1) / bs + 1) : -1;
    int64_t nkb = kb >= 0 ? count2(n, kb) : -1;
    /* Bounded work for calls that can succeed: t * n * k <= 2^17 (t = min(rows, 512)). */
    if (nk > 0 && nk <= FZ_MAX_ELEMS && rows > 0) {
        int64_t t = rows < 512 ? rows : 512;
        if (t * nk > (1 << 17)) rows = (1 << 17) / nk > 0 ? (1 << 17) / nk : 1;
    }
    int64_t xk = count2(rows, k);
    fz_log("awq: n %lld k %lld rows %lld bits %d bs %lld sym %d\n", (long long)n, (long long)k, (long long)rows, bits,
           (long long)bs, symmetric);

    int mf = 0;
    float *w = (float *)fz_buffer(nk, 4, &mf, fz_u8(f));
    float *x = (float *)fz_buffer(xk, 4, &mf, fz_u8(f));
    uint8_t *codes = (uint8_t *)fz_buffer(nk, 1, &mf, fz_u8(f));
    float *scales = (float *)fz_buffer(nkb, 4, &mf, fz_u8(f));
    uint8_t *zps = (uint8_t *)fz_buffer(nkb, 1, &mf, fz_u8(f));
    float *s = (float *)fz_buffer(k >= 0 ? k : -1, 4, &mf, fz_u8(f));
    int64_t ne = (w && nk > 0 && nk <= FZ_MAX_ELEMS) ? nk : 0, nx = (x && xk > 0 && xk <= FZ_MAX_ELEMS) ? xk : 0;
    fz_fill_floats(f, w, ne);
    fz_fill_floats(f, x, nx);
    int nonfinite = fz_has_nonfinite(w, ne) || fz_has_nonfinite(x, nx);
    sq_awq_report r;
    sq_awq_report *rp = (fz_u8(f) & 3) ? &r : NULL;
    sq_status st = sq_weight_quantize_awq(w, n, k, bits, bs, symmetric, x, rows, codes, scales, zps, s, rp);
    fz_log("awq: status %d\n", (int)st);
    fz_check_message(st, "sq_weight_quantize_awq");
    int must_fail = mf || nonfinite || !bits_ok || !bs_ok || nk < 0 || xk < 0 || n < 1 || k < 1 || rows < 1 ||
                    (symmetric != 0 && symmetric != 1);
    fz_expect_fail(st, must_fail, "sq_weight_quantize_awq");
    if (st == SQ_OK) {
        for (int64_t i = 0; i < ne; i++)
            if (codes[i] > (1u << bits) - 1) fz_fail("awq: code %u above %d bits", codes[i], bits);
        for (int64_t j = 0; j < k; j++)
            if (!isfinite(s[j]) || !(s[j] > 0)) fz_fail("awq: input scale %lld is %g", (long long)j, s[j]);
        if (rp) {
            int64_t t = rows < 512 ? rows : 512;
            double g = r.ratio * 20;
            if (r.rows_used != t) fz_fail("awq: rows_used %lld, expected %lld", (long long)r.rows_used, (long long)t);
            if (!(g >= 0 && g <= 19 && g == floor(g))) fz_fail("awq: ratio %g is not on the grid", r.ratio);
            if (!(r.error_before >= 0) || !(r.error_after >= 0) || !(r.relative_error_before >= 0) ||
                !(r.relative_error_after >= 0))
                fz_fail("awq: report errors %g %g %g %g", r.error_before, r.error_after, r.relative_error_before,
                        r.relative_error_after);
        }
        float *back = (float *)fz_alloc(ne, 4);
        if (sq_weight_dequantize(codes, scales, zps, n, k, bits, bs, back) != SQ_OK)
            fz_fail("sq_weight_dequantize of sq_weight_quantize_awq's output failed");
        free(back);
        sq_block_linear *layer = NULL;
        int32_t act = (fz_u8(f) & 1) ? SQ_ACTIVATION_PER_BLOCK : SQ_ACTIVATION_NONE;
        if (sq_block_linear_create_scaled(codes, scales, zps, n, k, bits, bs, NULL, s, act, &layer) != SQ_OK || !layer)
            fz_fail("sq_block_linear_create_scaled of sq_weight_quantize_awq's output failed");
        int64_t m = rows < 4 ? rows : 4, yn = count2(m, n);
        if (yn >= 0 && yn <= FZ_MAX_ELEMS) {
            int over = 0;
            for (int64_t i = 0; i < m * k; i++) over |= !isfinite(x[i] / s[i % k]);
            float *y = (float *)fz_alloc(yn, 4);
            int64_t shape[2] = {m, k};
            st = sq_block_linear_forward(layer, x, shape, 2, y, yn);
            fz_check_message(st, "sq_block_linear_forward");
            if ((st == SQ_OK) == over) fz_fail("forward: status %d, x / s overflowing: %d", (int)st, over);
            free(y);
        }
        sq_block_linear_destroy(layer);
    }
    free(w);
    free(x);
    free(codes);
    free(scales);
    free(zps);
    free(s);
    return 0;
}

static int fuzz_smooth(FuzzIn *f)
{
    int64_t n = pick_size(f), k = pick_size(f), rows = pick_size(f);
    int alpha_ok, is_auto;
    double alpha = pick_alpha(f, &alpha_ok, &is_auto);
    int64_t nk = count2(n, k);
    int64_t work = count2(rows, nk);
    if (nk > 0 && nk <= FZ_MAX_ELEMS && rows > 0 && (work < 0 || work > (1 << 17))) rows = (1 << 17) / nk > 0 ? (1 << 17) / nk : 1;
    int64_t xk = count2(rows, k);
    uint8_t sel = fz_u8(f);
    int mf = 0;
    float *w = (float *)fz_buffer(nk, 4, &mf, fz_u8(f));
    /* x: NULL (with rows 0 that is "no activations"), or a buffer. */
    float *x = (sel & 1) ? NULL : (float *)fz_buffer(xk, 4, &mf, fz_u8(f));
    int x_null = x == NULL;
    if (x_null && (sel & 1) && rows != 0) mf = 1;     /* NULL x with rows: must fail */
    float *act = (sel & 2) ? NULL : (float *)fz_buffer(k >= 0 ? k : -1, 4, &mf, fz_u8(f));
    float *scales = (float *)fz_buffer(k >= 0 ? k : -1, 4, &mf, fz_u8(f));
    int64_t ne = (w && nk > 0 && nk <= FZ_MAX_ELEMS) ? nk : 0, nx = (x && xk > 0 && xk <= FZ_MAX_ELEMS) ? xk : 0;
    int64_t na = (act && k > 0 && k <= FZ_MAX_ELEMS) ? k : 0;
    fz_fill_floats(f, w, ne);
    fz_fill_floats(f, x, nx);
    fz_fill_floats(f, act, na);
    if (act && (fz_u8(f) & 1)) for (int64_t j = 0; j < na; j++) act[j] = fabsf(act[j]);  /* mostly valid */
    int act_bad = 0;
    for (int64_t j = 0; j < na; j++) act_bad |= !isfinite(act[j]) || act[j] < 0;
    int has_x = !(x_null && rows == 0);
    fz_log("smooth: n %lld k %lld rows %lld alpha %g x %s act %s\n", (long long)n, (long long)k, (long long)rows, alpha,
           x_null ? "NULL" : "buffer", act ? "buffer" : "NULL");
    sq_smooth_report r;
    sq_smooth_report *rp = (fz_u8(f) & 3) ? &r : NULL;
    sq_status st = sq_smooth_quant_scales(act, w, n, k, alpha, x, rows, scales, rp);
    fz_log("smooth: status %d\n", (int)st);
    fz_check_message(st, "sq_smooth_quant_scales");
    int must_fail = mf || n < 1 || k < 1 || rows < 0 || nk < 0 || xk < 0 || !alpha_ok || (x_null && rows > 0) ||
                    (!x_null && rows == 0) || (is_auto && !has_x) || (act == NULL && !has_x) || (act && act_bad) ||
                    fz_has_nonfinite(w, ne) || fz_has_nonfinite(x, nx);
    fz_expect_fail(st, must_fail, "sq_smooth_quant_scales");
    if (st == SQ_OK) {
        for (int64_t j = 0; j < k; j++)
            if (!isfinite(scales[j]) || scales[j] < 1e-5f) fz_fail("smooth: scale %lld is %g", (long long)j, scales[j]);
        if (rp) {
            if (is_auto ? !(r.alpha * 20 == floor(r.alpha * 20) && r.alpha >= 0 && r.alpha <= 1) : r.alpha != alpha)
                fz_fail("smooth: report alpha %g for alpha %g", r.alpha, alpha);
            if (has_x ? !(r.error >= 0 && r.error_unsmoothed >= 0) : !(isnan(r.error) && isnan(r.error_unsmoothed)))
                fz_fail("smooth: errors %g, %g with x %d", r.error, r.error_unsmoothed, has_x);
        }
    }
    free(w);
    free(x);
    free(act);
    free(scales);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    FuzzIn *f = &in;
    uint8_t op = fz_u8(f);
    if (op % 3 != 1) fuzz_awq(f);
    if (op % 3 != 0) fuzz_smooth(f);
    return 0;
}
