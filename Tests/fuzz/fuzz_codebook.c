/*
 * fuzz_codebook - libFuzzer harness for codebook (non-uniform) quantization:
 *   sq_codebook_fit, sq_codebook_quantize, sq_codebook_dequantize, sq_codebook_error_report.
 * The input decodes to a shape (huge, zero, negative dimensions; invalid ndim), an axis, bits (incl. 0, 9),
 * kind (incl. invalid), max_iter (incl. negative), tol (incl. NaN, inf, negative), levels counts (right and
 * wrong), levels (fitted, or decoded: unsorted, NaN, inf, equal levels), levels_per_group (0, 1, 256, 257,
 * huge) and the data (NaN / inf runs). Checks: memory safety, no trap, SQ_OK only for valid calls, fitted
 * levels ascending and finite, quantize equals the header's midpoint rule, dequantize returns the levels.
 */
#include "fuzz_common.h"

/* Number of codebooks: 1 per tensor or shape[axis]; -1 when the axis is invalid. */
static int64_t codebooks_of(const int64_t *shape, int32_t ndim, int32_t axis)
{
    if (axis == SQ_PER_TENSOR) return 1;
    if (axis < 0 || axis >= ndim || ndim > SQ_MAX_NDIM || shape == NULL) return -1;
    return shape[axis];
}

/* The codebook of flat element i (C-contiguous). */
static int64_t group_of(const int64_t *shape, int32_t ndim, int32_t axis, int64_t i)
{
    if (axis == SQ_PER_TENSOR) return 0;
    int64_t inner = 1;
    for (int32_t d = axis + 1; d < ndim; d++) inner *= shape[d];
    return (i / inner) % shape[axis];
}

/* The header's nearest-level rule. */
static int64_t nearest(const float *lv, int64_t L, float x)
{
    int64_t k = 0;
    for (int64_t j = 0; j + 1 < L; j++)
        if (((double)lv[j] + (double)lv[j + 1]) / 2.0 < (double)x) k++;
    while (k > 0 && lv[k - 1] == lv[k]) k--;
    return k;
}

static int levels_ok(const float *lv, int64_t n, int64_t L)
{
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(lv[i])) return 0;
        if (i % L != 0 && lv[i] < lv[i - 1]) return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    FuzzIn *f = &in;
    int32_t ndim = fz_pick_ndim(f);
    int null_shape = 0;
    int64_t *shape = fz_pick_shape(f, ndim, &null_shape);
    int64_t n = 0;
    int cls = fz_numel(shape, ndim, &n, NULL);
    int mf_shape = cls != FZ_SHAPE_OK || null_shape;
    int32_t axis = fz_pick_axis(f, ndim);
    int64_t books = mf_shape ? -1 : codebooks_of(shape, ndim, axis);
    int mf_axis = books < 0;

    int mf_x = 0;
    float *x = (float *)fz_buffer(cls == FZ_SHAPE_OK ? n : -1, sizeof(float), &mf_x, fz_u8(f));
    int64_t nx = (x && cls == FZ_SHAPE_OK && n <= FZ_MAX_ELEMS) ? n : 0;
    fz_fill_floats(f, x, nx);
    int x_nonfinite = fz_has_nonfinite(x, nx), x_nan = fz_has_nan(x, nx);

    /* Fit. */
    uint8_t bb = fz_u8(f);
    int32_t bits = bb < 230 ? 1 + (int32_t)(bb % 8) : (int32_t)(bb % 4 == 0 ? 0 : (bb % 4 == 1 ? 9 : (bb % 4 == 2 ? -1 : INT32_MAX)));
    int32_t kind = fz_pick_enum(f, 3);
    uint8_t mi = fz_u8(f);
    int32_t max_iter = mi < 200 ? (int32_t)(mi % 40) : (mi % 4 == 0 ? -1 : (mi % 4 == 1 ? INT32_MIN : (mi % 4 == 2 ? 1000 : 0)));
    static const double tols[] = {0.0, 1e-6, 1e-3, 1.0, -1e-9, NAN, INFINITY, -INFINITY};
    double tol = tols[fz_u8(f) % 8];
    int bits_ok = bits >= 1 && bits <= 8;
    int64_t L = bits_ok ? (INT64_C(1) << bits) : 1;
    int64_t right_levels = 0;
    int levels_known = books >= 0 && fz_mul(books, L, &right_levels);
    int64_t levels_count = fz_pick_count(f, levels_known ? right_levels : 1);
    int mf_lv = 0;
    float *levels = (float *)fz_buffer(levels_count >= 0 ? levels_count : -1, sizeof(float), &mf_lv, fz_u8(f));
    int64_t nl = (levels && levels_count > 0 && levels_count <= FZ_MAX_ELEMS) ? levels_count : 0;
    int mf_fit = mf_shape || mf_axis || mf_x || mf_lv || !bits_ok || !(kind >= 0 && kind <= 2) || max_iter < 0 ||
                 !(isfinite(tol) && tol >= 0) || !levels_known || levels_count != right_levels || x_nonfinite;
    if (fz_verbose()) {
        fz_log("sq_codebook_fit: ");
        fz_log_shape("shape", shape, ndim);
        fz_log(", x %s, axis %d, bits %d, kind %d, max_iter %d, tol %g, levels %s count %lld (right %lld)\n",
               x ? "buffer" : "NULL", axis, bits, kind, max_iter, tol, levels ? "buffer" : "NULL",
               (long long)levels_count, (long long)right_levels);
    }
    sq_status st = sq_codebook_fit(x, shape, ndim, axis, bits, kind, max_iter, tol, levels, levels_count);
    fz_check_message(st, "sq_codebook_fit");
    fz_expect_fail(st, mf_fit, "sq_codebook_fit");
    int fitted = st == SQ_OK;
    if (fitted && !levels_ok(levels, nl, L)) fz_fail("sq_codebook_fit: levels not ascending or not finite");

    /* Levels for quantize: the fitted ones, or decoded ones (levels_per_group and count decoded too). */
    int64_t lpg = L;
    uint8_t lm = fz_u8(f);
    if (!fitted || (lm & 3) == 0) {
        static const int64_t lpgs[] = {1, 2, 3, 4, 16, 255, 256, 0, 257, -1, INT64_MAX, INT64_C(1) << 62};
        lpg = (lm & 4) ? lpgs[fz_u8(f) % 12] : lpg;
        int64_t right = 0;
        int known = books >= 0 && lpg >= 0 && fz_mul(books, lpg, &right);
        levels_count = fz_pick_count(f, known ? right : 1);
        free(levels);
        mf_lv = 0;
        levels = (float *)fz_buffer(levels_count >= 0 ? levels_count : -1, sizeof(float), &mf_lv, fz_u8(f));
        nl = (levels && levels_count > 0 && levels_count <= FZ_MAX_ELEMS) ? levels_count : 0;
        uint8_t sorted = fz_u8(f);
        float v = -4.0f;
        for (int64_t i = 0; i < nl; i++) {
            if (sorted < 200) {
                if (lpg > 0 && i % lpg == 0) v = -4.0f;
                v += (fz_u8(f) % 4) * 0.5f; /* ascending, with equal levels */
                levels[i] = v;
            } else {
                levels[i] = fz_pick_value(f);
            }
        }
    }
    int64_t right_count = 0;
    int count_known = books >= 0 && lpg >= 1 && lpg <= 256 && fz_mul(books, lpg, &right_count);
    int mf_q = mf_shape || mf_axis || mf_x || mf_lv || !(lpg >= 1 && lpg <= 256) || !count_known ||
               levels_count != right_count;
    int mf_levels = mf_q || !levels_ok(levels, nl, lpg >= 1 ? lpg : 1);

    int mf_i = 0;
    uint8_t *idx = (uint8_t *)fz_buffer(cls == FZ_SHAPE_OK ? n : -1, 1, &mf_i, fz_u8(f));
    uint8_t op = fz_u8(f) % 3;
    if (op == 0) {
        fz_log("sq_codebook_quantize: levels_per_group %lld, levels_count %lld\n", (long long)lpg, (long long)levels_count);
        st = sq_codebook_quantize(x, shape, ndim, axis, levels, lpg, levels_count, idx);
        fz_check_message(st, "sq_codebook_quantize");
        fz_expect_fail(st, mf_levels || mf_i || x_nan, "sq_codebook_quantize");
        if (st == SQ_OK) {
            for (int64_t i = 0; i < nx; i++) {
                int64_t g = group_of(shape, ndim, axis, i);
                int64_t want = nearest(levels + g * lpg, lpg, x[i]);
                if (idx[i] != want)
                    fz_fail("sq_codebook_quantize: idx[%lld] = %d, the midpoint rule gives %lld (x = %g)", (long long)i,
                            idx[i], (long long)want, (double)x[i]);
            }
        }
    } else if (op == 1) {
        int bad = 0;
        for (int64_t i = 0; i < nx && idx; i++) {
            uint8_t b = fz_u8(f);
            idx[i] = (b < 250 || lpg <= 0) ? (uint8_t)(lpg > 0 && lpg <= 256 ? b % lpg : b) : b;
            if (lpg > 0 && idx[i] >= lpg) bad = 1;
        }
        float *y = (float *)fz_buffer(cls == FZ_SHAPE_OK ? n : -1, sizeof(float), &mf_i, fz_u8(f));
        fz_log("sq_codebook_dequantize: levels_per_group %lld, levels_count %lld\n", (long long)lpg, (long long)levels_count);
        st = sq_codebook_dequantize(idx, shape, ndim, axis, levels, lpg, levels_count, y);
        fz_check_message(st, "sq_codebook_dequantize");
        fz_expect_fail(st, mf_q || mf_i || bad, "sq_codebook_dequantize");
        if (st == SQ_OK) {
            for (int64_t i = 0; i < nx; i++) {
                float want = levels[group_of(shape, ndim, axis, i) * lpg + idx[i]];
                if (memcmp(&y[i], &want, 4) != 0) fz_fail("sq_codebook_dequantize: y[%lld] is not its level", (long long)i);
            }
        }
        free(y);
    } else {
        uint8_t mode = fz_u8(f);
        int64_t gc = (mode & 1) ? fz_pick_count(f, books >= 0 ? books : 1) : 0;
        int mf_g = 0;
        sq_error_stats *groups = (mode & 1) ? (sq_error_stats *)fz_buffer(gc >= 0 ? gc : -1, sizeof(sq_error_stats), &mf_g, 0) : NULL;
        if (gc != 0 && (gc != books || (gc > 0 && groups == NULL))) mf_g = 1;
        sq_error_stats total;
        int null_total = (mode & 6) == 6;
        fz_log("sq_codebook_error_report: levels_per_group %lld, levels_count %lld, group_count %lld\n", (long long)lpg,
               (long long)levels_count, (long long)gc);
        st = sq_codebook_error_report(x, shape, ndim, axis, levels, lpg, levels_count, groups, gc, null_total ? NULL : &total);
        fz_check_message(st, "sq_codebook_error_report");
        fz_expect_fail(st, mf_levels || mf_g || null_total || x_nan, "sq_codebook_error_report");
        if (st == SQ_OK && total.count != nx) fz_fail("sq_codebook_error_report: count %lld for %lld elements",
                                                    (long long)total.count, (long long)nx);
        free(groups);
    }
    free(idx);
    free(levels);
    free(x);
    free(shape);
    return 0;
}
