/*
 * fuzz_elementwise - libFuzzer harness for the element-wise entry points of swiftquant.h:
 *   sq_quantize, sq_dequantize, sq_fake_quantize (also in place), sq_calibrate_minmax, sq_minmax,
 *   sq_qparams_count, sq_qparams_from_range, sq_error_report, sq_dynamic_quantize, sq_dtype_range.
 * The input decodes to one call with a hostile shape (huge, zero, negative dimensions; invalid ndim), axis,
 * block size, dtype, rounding, declared parameter count, scales and zero points. Checks (abort on failure):
 * memory safety (ASan), no trap, SQ_OK only when the header allows it (valid shape and enums, right count,
 * valid scales and zero points, no NaN in x), every error has a message, outputs in range.
 * See fuzz_common.h for the buffer rules.
 */
#include "fuzz_common.h"

enum { OP_QUANTIZE, OP_DEQUANTIZE, OP_FAKE, OP_CALIBRATE, OP_MINMAX, OP_COUNT, OP_ERROR_REPORT, OP_DYNAMIC,
       OP_FROM_RANGE, OP_DTYPE_RANGE, OP_N };

static const char *op_names[OP_N] = {"sq_quantize", "sq_dequantize", "sq_fake_quantize", "sq_calibrate_minmax",
                                     "sq_minmax", "sq_qparams_count", "sq_error_report", "sq_dynamic_quantize",
                                     "sq_qparams_from_range", "sq_dtype_range"};

static int64_t count_nonfinite(const float *x, int64_t n)
{
    int64_t c = 0;
    for (int64_t i = 0; x != NULL && i < n; i++) c += !isfinite(x[i]);
    return c;
}

/* Stored quantized values q[0..n) are inside the dtype's range. */
static void check_q_range(const void *q, int64_t n, int32_t dtype, const char *what)
{
    int32_t lo, hi;
    fz_dtype_range(dtype, &lo, &hi);
    for (int64_t i = 0; q != NULL && i < n; i++) {
        int32_t v;
        switch (dtype) {
        case SQ_INT8: case SQ_INT4: v = ((const int8_t *)q)[i]; break;
        case SQ_UINT8: case SQ_UINT4: v = ((const uint8_t *)q)[i]; break;
        case SQ_INT16: v = ((const int16_t *)q)[i]; break;
        default: v = ((const uint16_t *)q)[i]; break;
        }
        if (v < lo || v > hi) fz_fail("%s: q[%lld] = %d outside dtype %d", what, (long long)i, v, dtype);
    }
}

/* Stores v into element i of a quantized buffer of dtype (raw storage, may be outside the dtype). */
static void store_q(void *q, int64_t i, int32_t dtype, int32_t v)
{
    switch (dtype) {
    case SQ_INT8: case SQ_INT4: ((int8_t *)q)[i] = (int8_t)v; break;
    case SQ_UINT8: case SQ_UINT4: ((uint8_t *)q)[i] = (uint8_t)v; break;
    default: ((uint16_t *)q)[i] = (uint16_t)v; break;
    }
}

static void check_qparams_out(const float *scale, const int32_t *zp, int64_t n, int32_t dtype, const char *what)
{
    int32_t lo, hi;
    fz_dtype_range(dtype, &lo, &hi);
    for (int64_t i = 0; i < n; i++) {
        if (scale != NULL && !fz_scale_valid(scale[i])) fz_fail("%s: scale[%lld] = %g is not valid", what, (long long)i, (double)scale[i]);
        if (zp != NULL && (zp[i] < lo || zp[i] > hi)) fz_fail("%s: zero_point[%lld] = %d outside dtype", what, (long long)i, zp[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    FuzzIn *f = &in;
    int op = fz_u8(f) % OP_N;
    int mf = 0; /* the header says this call must fail */

    int32_t ndim = fz_pick_ndim(f);
    int null_shape = 0;
    int64_t *shape = fz_pick_shape(f, ndim, &null_shape);
    int64_t n = 0;
    int cls = fz_numel(shape, ndim, &n, NULL);
    if (cls != FZ_SHAPE_OK) mf = 1;
    int64_t n_buf = cls == FZ_SHAPE_OK ? n : -1; /* -1: a small buffer, the call must fail */

    int32_t dtype = fz_pick_int_dtype(f);
    int32_t axis = fz_pick_axis(f, ndim);
    int64_t block = (fz_u8(f) & 1) ? fz_pick_block(f) : 0;
    int64_t expect = 0;
    int known = fz_qparams_count(shape, ndim, axis, block, &expect);
    int64_t declared = fz_pick_count(f, known >= 0 ? expect : 1);
    int mf_params = mf || known < 0 || (known == 1 && declared != expect) || !fz_dtype_valid(dtype);
    int32_t rounding = fz_pick_enum(f, 4);
    uint64_t seed = fz_u64(f);
    int32_t lo, hi;
    fz_dtype_range(dtype, &lo, &hi);

    /* Parameters: declared entries of scale and zero point (or NULL). */
    int mf_pbuf = 0;
    float *scale = (float *)fz_buffer(declared >= 0 ? declared : -1, sizeof(float), &mf_pbuf, fz_u8(f));
    if (declared > 0 && scale == NULL) mf_pbuf = 1;
    int64_t np = declared >= 0 && declared <= FZ_MAX_ELEMS ? declared : (declared < 0 ? 4 : 0);
    uint8_t scale_mode = fz_u8(f);
    float one_scale = fz_pick_scale(f);
    for (int64_t i = 0; scale != NULL && i < np; i++) {
        scale[i] = (scale_mode & 1) ? one_scale : fz_pick_scale(f);
        if (declared >= 0 && !fz_scale_valid(scale[i])) mf_pbuf = 1;
    }
    int32_t *zp = NULL;
    if (fz_u8(f) & 1) {
        zp = (int32_t *)fz_buffer(declared >= 0 ? declared : -1, sizeof(int32_t), &mf_pbuf, 0);
        int32_t one_zp = fz_pick_zp(f, dtype);
        for (int64_t i = 0; zp != NULL && i < np; i++) {
            zp[i] = (scale_mode & 2) ? one_zp : fz_pick_zp(f, dtype);
            if (declared >= 0 && (zp[i] < lo || zp[i] > hi)) mf_pbuf = 1;
        }
    }
    sq_qparams params = {scale, zp, declared, dtype, axis, block};
    const sq_qparams *pp = (fz_u8(f) == 255) ? NULL : &params;
    int mf_p = mf || mf_params || mf_pbuf || pp == NULL;       /* the tensor or its parameters are invalid */
    int mf_q = mf_p || !(rounding >= 0 && rounding <= 3);      /* ... or the rounding (calls that take one) */

    /* x: the float input of most calls. */
    int mf_x = 0;
    float *x = (float *)fz_buffer(n_buf, sizeof(float), &mf_x, fz_u8(f));
    int64_t nx = (x != NULL && n_buf > 0) ? n_buf : 0;
    fz_fill_floats(f, x, nx);
    int x_nan = fz_has_nan(x, nx);         /* before the call: fake_quantize may work in place */

    sq_status st = SQ_OK;
    const char *what = op_names[op];
    if (fz_verbose()) {
        fz_log("%s: ", what);
        fz_log_shape("shape", shape, ndim);
        fz_log(", elements %lld (class %d), x %s, ", (long long)n, cls, x ? "buffer" : "NULL");
        fz_log_params("params", pp);
        fz_log(", expected count %lld (known %d), rounding %d, axis %d, block %lld, dtype %d\n", (long long)expect,
               known, rounding, axis, (long long)block, dtype);
    }
    switch (op) {
    case OP_QUANTIZE: {
        int mf_o = 0;
        void *q = fz_buffer(n_buf, fz_dtype_size(dtype), &mf_o, fz_u8(f));
        st = sq_quantize(x, shape, ndim, pp, rounding, seed, q);
        fz_expect_fail(st, mf_q || mf_x || mf_o || x_nan, what);
        if (st == SQ_OK) check_q_range(q, nx, dtype, what);
        free(q);
        break;
    }
    case OP_FAKE: {
        int mf_o = 0;
        int in_place = fz_u8(f) & 1;
        float *y = in_place ? x : (float *)fz_buffer(n_buf, sizeof(float), &mf_o, fz_u8(f));
        st = sq_fake_quantize(x, shape, ndim, pp, rounding, seed, y);
        fz_expect_fail(st, mf_q || mf_x || mf_o || x_nan, what);
        if (!in_place) free(y);
        break;
    }
    case OP_DEQUANTIZE: {
        int mf_i = 0;
        void *q = fz_buffer(n_buf, fz_dtype_size(dtype), &mf_i, fz_u8(f));
        int bad_q = 0;
        for (int64_t i = 0; q != NULL && n_buf > 0 && i < n_buf; i++) {
            uint8_t b = fz_u8(f);
            int32_t v = b < 250 ? lo + (int32_t)(b % (uint32_t)(hi - lo + 1)) : (int32_t)(int8_t)fz_u8(f);
            if (dtype == SQ_UINT16) v = v < 0 ? 0 : v;
            store_q(q, i, dtype, v);
            if ((dtype == SQ_INT4 || dtype == SQ_UINT4) && (v < lo || v > hi)) bad_q = 1;
        }
        st = sq_dequantize(q, shape, ndim, pp, x);
        fz_expect_fail(st, mf_p || mf_x || mf_i || bad_q, what);
        free(q);
        break;
    }
    case OP_CALIBRATE: {
        int32_t symmetric = fz_pick_enum(f, 2);
        int mf_o = 0;
        float *s_out = (float *)fz_buffer(declared >= 0 ? declared : -1, sizeof(float), &mf_o, fz_u8(f));
        int32_t *z_out = (int32_t *)fz_buffer(declared >= 0 ? declared : -1, sizeof(int32_t), &mf_o, fz_u8(f));
        if (declared > 0 && (s_out == NULL || z_out == NULL)) mf_o = 1;
        st = sq_calibrate_minmax(x, shape, ndim, dtype, symmetric, axis, block, s_out, z_out, declared);
        fz_expect_fail(st, mf || mf_params || mf_x || mf_o || !(symmetric == 0 || symmetric == 1) ||
                               fz_has_nonfinite(x, nx), what);
        if (st == SQ_OK && declared <= FZ_MAX_ELEMS) check_qparams_out(s_out, z_out, declared, dtype, what);
        free(s_out);
        free(z_out);
        break;
    }
    case OP_MINMAX: {
        int32_t ignore = fz_pick_enum(f, 2);
        int mf_o = 0;
        float *mn = (float *)fz_buffer(declared >= 0 ? declared : -1, sizeof(float), &mf_o, fz_u8(f));
        float *mx = (float *)fz_buffer(declared >= 0 ? declared : -1, sizeof(float), &mf_o, fz_u8(f));
        if (declared > 0 && (mn == NULL || mx == NULL)) mf_o = 1;
        int64_t nonfinite = -12345;
        int64_t *nfp = (fz_u8(f) & 1) ? &nonfinite : NULL;
        st = sq_minmax(x, shape, ndim, axis, block, ignore, mn, mx, declared, nfp);
        int64_t nf = count_nonfinite(x, nx);
        int mf_all = mf || known < 0 || (known == 1 && declared != expect) || mf_x || mf_o ||
                     !(ignore == 0 || ignore == 1) || (ignore == 0 && nf > 0);
        fz_expect_fail(st, mf_all, what);
        if (st == SQ_OK && ignore == 1 && nfp != NULL && nonfinite != nf)
            fz_fail("sq_minmax: nonfinite_count %lld, the data has %lld", (long long)nonfinite, (long long)nf);
        if (st == SQ_OK && declared <= FZ_MAX_ELEMS) {
            for (int64_t i = 0; i < declared; i++) {
                int empty = mn[i] == INFINITY && mx[i] == -INFINITY;
                if (!empty && !(mn[i] <= mx[i] && isfinite(mn[i]) && isfinite(mx[i])))
                    fz_fail("sq_minmax: group %lld has min %g max %g", (long long)i, (double)mn[i], (double)mx[i]);
            }
        }
        free(mn);
        free(mx);
        break;
    }
    case OP_COUNT: {
        int64_t c = -777;
        int null_out = fz_u8(f) == 255;
        st = sq_qparams_count(shape, ndim, axis, block, null_out ? NULL : &c);
        fz_expect_fail(st, mf || known < 0 || null_out, what);
        if (st == SQ_OK && known == 1 && c != expect)
            fz_fail("sq_qparams_count = %lld, expected %lld", (long long)c, (long long)expect);
        if (st == SQ_OK && c < 0) fz_fail("sq_qparams_count = %lld is negative", (long long)c);
        break;
    }
    case OP_ERROR_REPORT: {
        uint8_t mode = fz_u8(f);
        int64_t group_count = (mode & 1) ? fz_pick_count(f, declared) : 0;
        int mf_o = 0;
        sq_error_stats *groups = NULL;
        if (group_count != 0 || (mode & 2)) {
            groups = (sq_error_stats *)fz_buffer(group_count >= 0 ? group_count : -1, sizeof(sq_error_stats), &mf_o, 0);
        }
        if (group_count > 0 && groups == NULL) mf_o = 1;
        if (group_count != 0 && group_count != declared) mf_o = 1;
        sq_error_stats total;
        int null_total = (mode & 12) == 12;
        st = sq_error_report(x, shape, ndim, pp, rounding, seed, groups, group_count, null_total ? NULL : &total);
        fz_expect_fail(st, mf_q || mf_x || mf_o || null_total || x_nan, what);
        if (st == SQ_OK) {
            if (total.count != nx) fz_fail("sq_error_report: count %lld, %lld elements", (long long)total.count, (long long)nx);
            if (total.clipped < 0 || total.clipped > total.count || total.infinite > total.clipped)
                fz_fail("sq_error_report: clipped %lld infinite %lld count %lld", (long long)total.clipped,
                        (long long)total.infinite, (long long)total.count);
        }
        free(groups);
        break;
    }
    case OP_DYNAMIC: {
        int64_t count = fz_pick_dim(f);
        int mf_b = 0;
        float *xd = (float *)fz_buffer(count >= 0 ? count : -1, sizeof(float), &mf_b, fz_u8(f));
        int64_t nd = (xd != NULL && count > 0 && count <= FZ_MAX_ELEMS) ? count : 0;
        fz_fill_floats(f, xd, nd);
        uint8_t *q = (uint8_t *)fz_buffer(count >= 0 ? count : -1, 1, &mf_b, fz_u8(f));
        float s = -1.0f;
        uint8_t z = 0;
        uint8_t nulls = fz_u8(f);
        st = sq_dynamic_quantize(xd, count, q, (nulls == 254) ? NULL : &s, (nulls == 255) ? NULL : &z);
        fz_expect_fail(st, mf_b || nulls >= 254 || fz_has_nonfinite(xd, nd), what);
        if (st == SQ_OK && !fz_scale_valid(s)) fz_fail("sq_dynamic_quantize: scale %g", (double)s);
        free(xd);
        free(q);
        break;
    }
    case OP_FROM_RANGE: {
        int64_t count = (fz_u8(f) & 1) ? fz_pick_dim(f) : (int64_t)(fz_u8(f) % 8);
        int32_t symmetric = fz_pick_enum(f, 2);
        int mf_b = 0;
        int64_t cb = count >= 0 ? count : -1;
        float *mn = (float *)fz_buffer(cb, sizeof(float), &mf_b, fz_u8(f));
        float *mx = (float *)fz_buffer(cb, sizeof(float), &mf_b, fz_u8(f));
        float *so = (float *)fz_buffer(cb, sizeof(float), &mf_b, fz_u8(f));
        int32_t *zo = (int32_t *)fz_buffer(cb, sizeof(int32_t), &mf_b, fz_u8(f));
        int64_t nr = (count > 0 && count <= FZ_MAX_ELEMS) ? count : 0;
        int has_nan = 0;
        for (int64_t i = 0; mn != NULL && mx != NULL && i < nr; i++) {
            mn[i] = fz_pick_value(f);
            mx[i] = (fz_u8(f) & 1) ? mn[i] + 1.0f : fz_pick_value(f);
            if (isnan(mn[i]) || isnan(mx[i])) has_nan = 1;
        }
        st = sq_qparams_from_range(mn, mx, count, dtype, symmetric, so, zo);
        fz_expect_fail(st, mf_b || count < 0 || !fz_dtype_valid(dtype) || !(symmetric == 0 || symmetric == 1) ||
                               has_nan, what);
        if (st == SQ_OK) check_qparams_out(so, zo, nr, dtype, what);
        free(mn);
        free(mx);
        free(so);
        free(zo);
        break;
    }
    case OP_DTYPE_RANGE: {
        int32_t a = 1, b = 0;
        st = sq_dtype_range(dtype, &a, &b);
        fz_expect_fail(st, !fz_dtype_valid(dtype), what);
        if (st == SQ_OK && (a != lo || b != hi)) fz_fail("sq_dtype_range(%d) = [%d, %d]", dtype, a, b);
        break;
    }
    }
    fz_check_message(st, what);
    free(x);
    free(scale);
    free(zp);
    free(shape);
    return 0;
}
