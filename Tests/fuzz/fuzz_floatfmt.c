/*
 * fuzz_floatfmt - libFuzzer harness for the float formats (SQ_FLOAT8E4M3FN .. SQ_FLOAT6E2M3) through
 *   sq_quantize_float, sq_quantize, sq_fake_quantize and sq_dequantize.
 * The input decodes to one call with a hostile shape, axis, block size, declared parameter count, scales,
 * zero points (which must be 0), rounding (which must be nearest even), saturate flag and data. Checks
 * (abort on failure): memory safety, no trap, SQ_OK exactly when the header allows it, and, per tensor, every
 * code against an oracle written here from the header's rules: the nearest finite value of the format (ties
 * to the even code), +-max beyond the range when saturating, a non-finite code when not, the format's NaN for
 * NaN. The format's values come from sq_dequantize of every code (checked against ml_dtypes in the Python
 * tests).
 */
#include "fuzz_common.h"

enum { OP_QFLOAT, OP_QUANTIZE, OP_FAKE, OP_DEQUANTIZE, OP_N };
static const char *op_names[OP_N] = {"sq_quantize_float", "sq_quantize", "sq_fake_quantize", "sq_dequantize"};

static int fmt_bits(int32_t d) { return d <= SQ_FLOAT8E5M2FNUZ ? 8 : (d == SQ_FLOAT4E2M1 ? 4 : 6); }
static int fmt_has_nan(int32_t d) { return d <= SQ_FLOAT8E5M2FNUZ; }
static int fmt_valid(int32_t d) { return d >= SQ_FLOAT8E4M3FN && d <= SQ_FLOAT6E2M3; }

/* The format's value of every code (scale 1). */
static void decode_table(int32_t d, float *table)
{
    int n = 1 << fmt_bits(d);
    uint8_t codes[256];
    for (int i = 0; i < n; i++) codes[i] = (uint8_t)i;
    int64_t shape[1] = {n};
    float one = 1.0f;
    sq_qparams p = {&one, NULL, 1, d, SQ_PER_TENSOR, 0};
    if (sq_dequantize(codes, shape, 1, &p, table) != SQ_OK) fz_fail("decode table of dtype %d failed", d);
}

/* The oracle: the code the header's rules give for v (v not NaN). */
static int expected_code(int32_t d, const float *table, float v, int saturate)
{
    int n = 1 << fmt_bits(d), best = -1;
    double bd = 0, vv = (double)v, top = 0;
    for (int c = 0; c < n; c++)
        if (isfinite(table[c]) && table[c] > top) top = table[c];
    if (fabs(vv) > top && (saturate || !fmt_has_nan(d))) vv = vv < 0 ? -top : top;
    for (int c = 0; c < n; c++) {
        float t = table[c];
        if (!isfinite(t)) continue;
        /* Same sign as v (zero codes: the one whose sign bit matches v's, if the format has it). */
        if (t != 0 && (t < 0) != (vv < 0)) continue;
        if (t == 0 && signbit(t) != signbit(v) && !(d == SQ_FLOAT8E4M3FNUZ || d == SQ_FLOAT8E5M2FNUZ)) continue;
        double dist = fabs((double)t - vv);
        if (best < 0 || dist < bd || (dist == bd && (c & 1) == 0 && (best & 1) == 1)) { best = c; bd = dist; }
    }
    return best;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    FuzzIn *f = &in;
    int op = fz_u8(f) % OP_N;
    uint8_t db = fz_u8(f);
    /* Not a float format: 13 (no dtype) anywhere, int8 for sq_quantize_float (which takes float formats only). */
    int32_t dtype = db < 240 ? SQ_FLOAT8E4M3FN + db % 7 : ((db & 1) && op == OP_QFLOAT ? SQ_INT8 : 13);
    int32_t ndim = fz_pick_ndim(f);
    int null_shape = 0;
    int64_t *shape = fz_pick_shape(f, ndim, &null_shape);
    int64_t n = 0;
    int cls = fz_numel(shape, ndim, &n, NULL);
    int mf = cls != FZ_SHAPE_OK;
    int64_t n_buf = cls == FZ_SHAPE_OK ? n : -1;
    int32_t axis = fz_pick_axis(f, ndim);
    int64_t block = (fz_u8(f) & 1) ? fz_pick_block(f) : 0;
    int64_t expect = 0;
    int known = fz_qparams_count(shape, ndim, axis, block, &expect);
    int64_t declared = fz_pick_count(f, known >= 0 ? expect : 1);
    int mf_params = mf || known < 0 || (known == 1 && declared != expect);
    uint8_t rb = fz_u8(f);
    int32_t rounding = rb < 220 ? SQ_ROUND_NEAREST_EVEN : fz_pick_enum(f, 4);
    uint8_t sb = fz_u8(f);
    int32_t saturate = sb < 250 ? (int32_t)(sb & 1) : (sb & 1 ? 2 : -1);

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
        for (int64_t i = 0; zp != NULL && i < np; i++) {
            uint8_t zb = fz_u8(f);
            zp[i] = zb < 240 ? 0 : (int32_t)(zb % 5) - 2;
            if (declared >= 0 && zp[i] != 0 && fmt_valid(dtype)) mf_pbuf = 1;
        }
    }
    sq_qparams params = {scale, zp, declared, dtype, axis, block};
    const sq_qparams *pp = (fz_u8(f) == 255) ? NULL : &params;
    int mf_p = mf || mf_params || mf_pbuf || pp == NULL || !fmt_valid(dtype);

    int mf_x = 0;
    float *x = (float *)fz_buffer(n_buf, sizeof(float), &mf_x, fz_u8(f));
    int64_t nx = (x != NULL && n_buf > 0) ? n_buf : 0;
    fz_fill_floats(f, x, nx);
    int nan_bad = fz_has_nan(x, nx) && !fmt_has_nan(dtype);
    const char *what = op_names[op];
    if (fz_verbose()) {
        fz_log("%s: dtype %d, ", what, dtype);
        fz_log_shape("shape", shape, ndim);
        fz_log(", elements %lld, ", (long long)n);
        fz_log_params("params", pp);
        fz_log(", rounding %d, saturate %d\n", rounding, saturate);
    }

    sq_status st = SQ_OK;
    float table[256];
    if (fmt_valid(dtype)) decode_table(dtype, table);
    int mf_o = 0;
    switch (op) {
    case OP_QFLOAT:
    case OP_QUANTIZE: {
        uint8_t *q = (uint8_t *)fz_buffer(n_buf, 1, &mf_o, fz_u8(f));
        int sat = op == OP_QFLOAT ? saturate : 1;
        if (op == OP_QFLOAT) {
            st = sq_quantize_float(x, shape, ndim, pp, saturate, q);
            fz_expect_fail(st, mf_p || mf_x || mf_o || nan_bad || !(saturate == 0 || saturate == 1), what);
        } else {
            st = sq_quantize(x, shape, ndim, pp, rounding, 0, q);
            fz_expect_fail(st, mf_p || mf_x || mf_o || nan_bad || rounding != SQ_ROUND_NEAREST_EVEN, what);
        }
        if (st == SQ_OK && axis == SQ_PER_TENSOR && nx <= FZ_MAX_ELEMS) {
            for (int64_t i = 0; i < nx; i++) {
                float v = x[i] / scale[0];
                if (q[i] >= (1 << fmt_bits(dtype))) fz_fail("%s: q[%lld] = %d is not a code", what, (long long)i, q[i]);
                if (isnan(v)) {
                    if (!isnan(table[q[i]])) fz_fail("%s: NaN at %lld gave code %#x", what, (long long)i, q[i]);
                    continue;
                }
                int want = expected_code(dtype, table, v, sat);
                int overflow = !sat && fmt_has_nan(dtype) && fabsf(v) > table[expected_code(dtype, table, INFINITY, 1)];
                if (overflow) {
                    /* Beyond max without saturation: max if it rounds down to it, else inf or NaN. */
                    if (q[i] != want && isfinite(table[q[i]]))
                        fz_fail("%s: %g (x = %g) overflowed to the finite code %#x", what, (double)v, (double)x[i], q[i]);
                } else if (q[i] != want) {
                    fz_fail("%s: %g (x = %g, dtype %d, saturate %d) gave %#x, expected %#x", what, (double)v,
                            (double)x[i], dtype, sat, q[i], want);
                }
            }
        }
        free(q);
        break;
    }
    case OP_FAKE: {
        float *y = (float *)fz_buffer(n_buf, sizeof(float), &mf_o, fz_u8(f));
        st = sq_fake_quantize(x, shape, ndim, pp, rounding, 0, y);
        fz_expect_fail(st, mf_p || mf_x || mf_o || nan_bad || rounding != SQ_ROUND_NEAREST_EVEN, what);
        if (st == SQ_OK && axis == SQ_PER_TENSOR && nx <= FZ_MAX_ELEMS) {
            for (int64_t i = 0; i < nx; i++) {
                float v = x[i] / scale[0];
                if (isnan(v)) { if (!isnan(y[i])) fz_fail("%s: NaN at %lld gave %g", what, (long long)i, (double)y[i]); continue; }
                float want = table[expected_code(dtype, table, v, 1)] * scale[0];
                if (memcmp(&want, &y[i], 4) != 0)
                    fz_fail("%s: x = %g gave %g, expected %g", what, (double)x[i], (double)y[i], (double)want);
            }
        }
        free(y);
        break;
    }
    default: {
        int mf_i = 0;
        uint8_t *q = (uint8_t *)fz_buffer(n_buf, 1, &mf_i, fz_u8(f));
        int bad_q = 0;
        for (int64_t i = 0; q != NULL && n_buf > 0 && i < n_buf; i++) {
            uint8_t b = fz_u8(f);
            q[i] = b;
            if (fmt_valid(dtype) && b >= (1 << fmt_bits(dtype))) bad_q = 1;
        }
        st = sq_dequantize(q, shape, ndim, pp, x);
        fz_expect_fail(st, mf_p || mf_x || mf_i || bad_q, what);
        if (st == SQ_OK && axis == SQ_PER_TENSOR && nx <= FZ_MAX_ELEMS) {
            for (int64_t i = 0; i < nx; i++) {
                float want = table[q[i]] * scale[0];
                if (memcmp(&want, &x[i], 4) != 0 && !(isnan(want) && isnan(x[i])))
                    fz_fail("%s: code %#x gave %g, expected %g", what, q[i], (double)x[i], (double)want);
            }
        }
        free(q);
        break;
    }
    }
    fz_check_message(st, what);
    free(shape);
    free(scale);
    free(zp);
    free(x);
    return 0;
}
