/*
 * c_example.c - a C quickstart for SwiftQuant that doubles as a test.
 *
 * It walks through the worked example of the quantization notes (0.3 x 0.5 computed in int8), runs the
 * integer matrix products (plain and with prepacked weights) against a plain C reference, and shows how
 * errors are reported. Every step is a check; the last line of output is "N passed, M failed" and the exit
 * status is 0 only when nothing failed.
 *
 * Build and run (from the repository root, after `swift build -c release`):
 *     examples/build-c-example.sh && examples/c_example
 */
#include "swiftquant.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int n_passed = 0;
static int n_failed = 0;

/* Records one check and prints it: "  ok    <what>" or "  FAIL  <what>". */
static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    if (ok) {
        n_passed++;
    } else {
        n_failed++;
    }
    printf("  %-5s ", ok ? "ok" : "FAIL");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* Checks that a call succeeded; on failure prints the status name and the library's message. */
static int check_ok(sq_status st, const char *call)
{
    if (st == SQ_OK) {
        check(1, "%s -> SQ_OK", call);
        return 1;
    }
    check(0, "%s -> %s: %s", call, sq_status_string(st), sq_last_error_message());
    return 0;
}

/* Checks that a call failed with the expected status and left a non-empty message. */
static void check_error(sq_status st, sq_status expected, const char *call)
{
    const char *msg = sq_last_error_message();
    int has_msg = msg != NULL && msg[0] != '\0';
    check(st == expected && has_msg, "%s -> %s (expected %s), message: \"%s\"", call, sq_status_string(st),
          sq_status_string(expected), msg != NULL ? msg : "(null)");
}

static int rel_close(double got, double want, double rel)
{
    return fabs(got - want) <= rel * fabs(want);
}

/* Per-tensor parameters over one scale and one zero point. */
static sq_qparams per_tensor(const float *scale, const int32_t *zero_point, sq_dtype dtype)
{
    sq_qparams p;
    p.scale = scale;
    p.zero_point = zero_point;
    p.count = 1;
    p.dtype = (int32_t)dtype;
    p.axis = SQ_PER_TENSOR;
    p.block_size = 0;
    return p;
}

/* --------------------------------------------------------------------------------------------------- */

static void version_and_status_names(void)
{
    printf("\n[1] version and status names\n");
    printf("  sq_version() = \"%s\", sq_version_number() = %d\n", sq_version(), (int)sq_version_number());
    check(sq_version_number() == SQ_VERSION_NUMBER, "sq_version_number() == SQ_VERSION_NUMBER (%d)",
          SQ_VERSION_NUMBER);
    check(strcmp(sq_status_string(SQ_ERROR_SHAPE), "SQ_ERROR_SHAPE") == 0,
          "sq_status_string(SQ_ERROR_SHAPE) = \"%s\"", sq_status_string(SQ_ERROR_SHAPE));
    check(strcmp(sq_status_string(SQ_OK), "SQ_OK") == 0, "sq_status_string(SQ_OK) = \"%s\"",
          sq_status_string(SQ_OK));
    check(strcmp(sq_status_string(12345), "SQ_UNKNOWN_STATUS") == 0, "sq_status_string(12345) = \"%s\"",
          sq_status_string(12345));
    {
        int32_t qmin = 0, qmax = 0;
        sq_status st = sq_dtype_range(SQ_INT8, &qmin, &qmax);
        check(st == SQ_OK && qmin == -128 && qmax == 127, "sq_dtype_range(SQ_INT8) = [%d, %d]", (int)qmin,
              (int)qmax);
    }
}

/* The notes' worked example: 0.3 * 0.5 = 0.15 computed through int8. */
static void worked_example(void)
{
    /* The ranges of the three matrices of the notes: A holds 0.3, B holds 0.5, C = A*B holds 0.15. */
    const float range_a[2] = {-1.2f, 1.0f};
    const float range_b[2] = {-1.0f, 1.2f};
    const float range_c[2] = {-0.8f, 2.0f};
    const int64_t range_shape[1] = {2};
    float s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    int32_t z1 = 0, z2 = 0, z3 = 0;
    const float x = 0.3f, w = 0.5f;
    const int64_t scalar_shape[1] = {1}; /* not read: ndim 0 is a scalar */
    int8_t qx = 0, qw = 0;
    const int64_t mat_shape[2] = {1, 1};
    int8_t y_floor = 0, y_even = 0;
    float r_floor = 0.0f, r_even = 0.0f;
    sq_qparams p1, p2, p3;

    printf("\n[2] the notes' worked example: 0.3 x 0.5 through int8\n");
    printf("  calibration (int8, asymmetric, per tensor): S = (rmax - rmin) / 255, Z = round(-128 - rmin / S)\n");
    if (!check_ok(sq_calibrate_minmax(range_a, range_shape, 1, SQ_INT8, 0, SQ_PER_TENSOR, 0, &s1, &z1, 1),
                  "sq_calibrate_minmax([-1.2, 1.0])") ||
        !check_ok(sq_calibrate_minmax(range_b, range_shape, 1, SQ_INT8, 0, SQ_PER_TENSOR, 0, &s2, &z2, 1),
                  "sq_calibrate_minmax([-1.0, 1.2])") ||
        !check_ok(sq_calibrate_minmax(range_c, range_shape, 1, SQ_INT8, 0, SQ_PER_TENSOR, 0, &s3, &z3, 1),
                  "sq_calibrate_minmax([-0.8, 2.0])")) {
        return;
    }
    /* The scale is stored as float32: 0.008627451 (the notes' value) is the nearest float32 to 2.2 / 255,
     * so equality with (float)0.008627451 is exact; the relative check uses float32 precision. */
    check(s1 == (float)0.008627451 && rel_close(s1, 2.2 / 255.0, 1e-7), "S1 = %.9f (notes: 0.008627451)",
          (double)s1);
    check(z1 == 11, "Z1 = %d (notes: 11)", (int)z1);
    check(s2 == s1, "S2 = %.9f (same range width as A)", (double)s2);
    check(z2 == -12, "Z2 = %d (notes: -12)", (int)z2);
    check(s3 == (float)0.010980392 && rel_close(s3, 2.8 / 255.0, 1e-7), "S3 = %.9f (notes: 0.010980392)",
          (double)s3);
    check(z3 == -55, "Z3 = %d (notes: -55)", (int)z3);

    p1 = per_tensor(&s1, &z1, SQ_INT8);
    p2 = per_tensor(&s2, &z2, SQ_INT8);
    p3 = per_tensor(&s3, &z3, SQ_INT8);

    printf("  quantize: q = round(x / S) + Z (scalars: ndim 0)\n");
    if (!check_ok(sq_quantize(&x, scalar_shape, 0, &p1, SQ_ROUND_NEAREST_EVEN, 0, &qx), "sq_quantize(0.3, S1, Z1)") ||
        !check_ok(sq_quantize(&w, scalar_shape, 0, &p2, SQ_ROUND_NEAREST_EVEN, 0, &qw), "sq_quantize(0.5, S2, Z2)")) {
        return;
    }
    check(qx == 46, "0.3 -> %d (0.3 / S1 = 34.77 -> 35, + 11; notes: 46)", (int)qx);
    check(qw == 46, "0.5 -> %d (0.5 / S2 = 57.95 -> 58, - 12; notes: 46)", (int)qw);

    printf("  requantized product: y = round((46 - Z1) * (46 - Z2) * S1*S2/S3 + Z3) = round(2030 * M - 55)\n");
    if (!check_ok(sq_qlinear_matmul(&qx, mat_shape, 2, &p1, &qw, mat_shape, 2, &p2, &p3, SQ_ROUND_FLOOR, 0,
                                    &y_floor, 1),
                  "sq_qlinear_matmul(1x1, SQ_ROUND_FLOOR)") ||
        !check_ok(sq_qlinear_matmul(&qx, mat_shape, 2, &p1, &qw, mat_shape, 2, &p2, &p3, SQ_ROUND_NEAREST_EVEN,
                                    0, &y_even, 1),
                  "sq_qlinear_matmul(1x1, SQ_ROUND_NEAREST_EVEN)") ||
        !check_ok(sq_dequantize(&y_floor, scalar_shape, 0, &p3, &r_floor), "sq_dequantize(floor result)") ||
        !check_ok(sq_dequantize(&y_even, scalar_shape, 0, &p3, &r_even), "sq_dequantize(nearest-even result)")) {
        return;
    }
    check(y_floor == -42, "floor:        -41.24 -> %d", (int)y_floor);
    check(fabs(r_floor - 0.142745) < 1e-6, "  dequantized (-42 + 55) * S3 = %.6f (notes: 0.142745), error %.6f",
          (double)r_floor, (double)r_floor - 0.15);
    check(y_even == -41, "nearest even: -41.24 -> %d", (int)y_even);
    check(fabs(r_even - 0.153725) < 1e-6, "  dequantized (-41 + 55) * S3 = %.6f (true 0.15), error %.6f",
          (double)r_even, (double)r_even - 0.15);
}

/* sq_matmul_i32 against a plain triple loop, then the same product with B prepacked. */
static void integer_matmul(void)
{
    /* A [2, 3] int8 with zero point -3; B [3, 2] int8 with one zero point per column. */
    const int8_t a[6] = {12, -7, 100, -128, 127, 0};
    const int8_t b[6] = {5, -9, 127, 33, -128, -1};
    const int64_t a_shape[2] = {2, 3};
    const int64_t b_shape[2] = {3, 2};
    const int32_t za = -3;
    const int32_t zb[2] = {2, -7};
    int32_t ref[4], c[4], c_packed[4];
    int64_t out_shape[SQ_MAX_NDIM];
    int32_t out_ndim = 0;
    int m, n, k, same;
    sq_packed *packed = NULL;
    sq_qparams bp;
    int64_t pk = 0, pn = 0;
    int32_t pdtype = -1, has_scale = -1;

    printf("\n[3] integer matmul: C[m,n] = sum_k (A[m,k] - za) * (B[k,n] - zb[n]), exact int32\n");
    for (m = 0; m < 2; m++) {
        for (n = 0; n < 2; n++) {
            int32_t acc = 0;
            for (k = 0; k < 3; k++) {
                acc += ((int32_t)a[m * 3 + k] - za) * ((int32_t)b[k * 2 + n] - zb[n]);
            }
            ref[m * 2 + n] = acc;
        }
    }
    if (check_ok(sq_matmul_shape(a_shape, 2, b_shape, 2, out_shape, &out_ndim), "sq_matmul_shape([2,3], [3,2])")) {
        check(out_ndim == 2 && out_shape[0] == 2 && out_shape[1] == 2, "result shape [%lld, %lld]",
              (long long)out_shape[0], (long long)(out_ndim > 1 ? out_shape[1] : -1));
    }
    if (check_ok(sq_matmul_i32(a, SQ_INT8, a_shape, 2, za, b, SQ_INT8, b_shape, 2, zb, 2, c, 4),
                 "sq_matmul_i32(2x3 by 3x2, za = -3, zb = {2, -7})")) {
        same = memcmp(c, ref, sizeof c) == 0;
        check(same, "C = [[%d, %d], [%d, %d]], C loop = [[%d, %d], [%d, %d]]", (int)c[0], (int)c[1], (int)c[2],
              (int)c[3], (int)ref[0], (int)ref[1], (int)ref[2], (int)ref[3]);
    }

    /* Pack B once (per-column zero points folded in; no scale, so it serves the int32 product only). */
    bp.scale = NULL;
    bp.zero_point = zb;
    bp.count = 2;
    bp.dtype = SQ_INT8;
    bp.axis = 1;
    bp.block_size = 0;
    if (!check_ok(sq_pack(b, b_shape, 2, &bp, &packed), "sq_pack(B [3, 2], per-column zero points)")) {
        return;
    }
    if (check_ok(sq_packed_info(packed, &pk, &pn, &pdtype, &has_scale), "sq_packed_info")) {
        check(pk == 3 && pn == 2 && pdtype == SQ_INT8 && has_scale == 0, "packed K = %lld, N = %lld, dtype %d, "
              "has_scale %d", (long long)pk, (long long)pn, (int)pdtype, (int)has_scale);
    }
    if (check_ok(sq_matmul_i32_packed(a, SQ_INT8, a_shape, 2, za, packed, c_packed, 4), "sq_matmul_i32_packed")) {
        check(memcmp(c_packed, ref, sizeof c_packed) == 0, "packed C = [[%d, %d], [%d, %d]] equals the unpacked C",
              (int)c_packed[0], (int)c_packed[1], (int)c_packed[2], (int)c_packed[3]);
    }
    sq_packed_destroy(packed);
    sq_packed_destroy(NULL);
    check(1, "sq_packed_destroy(packed) and sq_packed_destroy(NULL) returned");
}

/* Float output with bias: y = C * sa * sb[n] + bias[n], checked against the same formula in C. */
static void float_matmul(void)
{
    const uint8_t a[4] = {0, 255, 128, 7};   /* uint8 activations, zero point 128 */
    const int8_t b[4] = {-127, 50, 3, 127};  /* int8 weights, symmetric per column */
    const int64_t a_shape[2] = {2, 2};
    const int64_t b_shape[2] = {2, 2};
    const float sa = 0.05f;
    const int32_t za = 128;
    const float sb[2] = {0.01f, 0.02f};
    const float bias[2] = {0.5f, -1.0f};
    sq_qparams ap, bp;
    float y[4];
    int m, n, k, ok = 1;

    printf("\n[4] float output: y = C * sa * sb[n] + bias[n] (uint8 A, per-column int8 B)\n");
    ap = per_tensor(&sa, &za, SQ_UINT8);
    bp.scale = sb;
    bp.zero_point = NULL;
    bp.count = 2;
    bp.dtype = SQ_INT8;
    bp.axis = 1;
    bp.block_size = 0;
    if (!check_ok(sq_matmul_f32(a, a_shape, 2, &ap, b, b_shape, 2, &bp, bias, 2, y, 4), "sq_matmul_f32")) {
        return;
    }
    for (m = 0; m < 2; m++) {
        for (n = 0; n < 2; n++) {
            int32_t acc = 0;
            volatile float scale, prod, want;
            for (k = 0; k < 2; k++) {
                acc += ((int32_t)a[m * 2 + k] - za) * (int32_t)b[k * 2 + n];
            }
            scale = sa * sb[n];
            prod = (float)acc * scale;
            want = prod + bias[n];
            if (y[m * 2 + n] != want) {
                ok = 0;
            }
        }
    }
    check(ok, "y = [[%.6f, %.6f], [%.6f, %.6f]] equals the float32 formula", (double)y[0], (double)y[1],
          (double)y[2], (double)y[3]);
}

/* The rounding table of the header, quantized with scale 1 and zero point 0. */
static void rounding_modes(void)
{
    const float v[8] = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 2.3f, -2.3f};
    static const int8_t want[3][8] = {
        {-2, -2, 0, 0, 2, 2, 2, -2},   /* NEAREST_EVEN */
        {-3, -2, -1, 1, 2, 3, 2, -2},  /* HALF_AWAY */
        {-3, -2, -1, 0, 1, 2, 2, -3},  /* FLOOR */
    };
    static const char *const names[3] = {"SQ_ROUND_NEAREST_EVEN", "SQ_ROUND_HALF_AWAY", "SQ_ROUND_FLOOR"};
    const int64_t shape[1] = {8};
    const float one = 1.0f;
    sq_qparams p = per_tensor(&one, NULL, SQ_INT8);
    int8_t q[8];
    int r;

    printf("\n[5] rounding of {-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.3, -2.3} (scale 1)\n");
    for (r = 0; r < 3; r++) {
        sq_status st = sq_quantize(v, shape, 1, &p, r, 0, q);
        if (st != SQ_OK) {
            check(0, "%s: %s: %s", names[r], sq_status_string(st), sq_last_error_message());
            continue;
        }
        check(memcmp(q, want[r], sizeof q) == 0, "%-22s -> {%d, %d, %d, %d, %d, %d, %d, %d}", names[r], (int)q[0],
              (int)q[1], (int)q[2], (int)q[3], (int)q[4], (int)q[5], (int)q[6], (int)q[7]);
    }
}

/* int4 values live one per byte; sq_pack_int4 stores two per byte as ONNX does (element 2i low nibble). */
static void int4_packing(void)
{
    const float x[5] = {-1.0f, 0.75f, 0.25f, -0.5f, 0.9f};
    const int64_t shape[1] = {5};
    const float scale = 0.125f;
    sq_qparams p = per_tensor(&scale, NULL, SQ_INT4);
    int8_t q[5], back[5];
    uint8_t packed[3];
    static const uint8_t want[3] = {0x68, 0xC2, 0x07}; /* q = {-8, 6, 2, -4, 7}: nibbles 8,6 | 2,C | 7,0 */

    printf("\n[6] int4: quantize {-1, 0.75, 0.25, -0.5, 0.9} with scale 1/8, then pack two per byte\n");
    if (!check_ok(sq_quantize(x, shape, 1, &p, SQ_ROUND_NEAREST_EVEN, 0, q), "sq_quantize(int4)")) return;
    if (!check_ok(sq_pack_int4(q, 5, SQ_INT4, packed, 3), "sq_pack_int4")) return;
    check(memcmp(packed, want, sizeof want) == 0, "packed 5 values into 3 bytes: %02X %02X %02X", packed[0], packed[1],
          packed[2]);
    if (!check_ok(sq_unpack_int4(packed, 3, SQ_INT4, back, 5), "sq_unpack_int4")) return;
    check(memcmp(back, q, sizeof q) == 0, "unpacked: {%d, %d, %d, %d, %d}", back[0], back[1], back[2], back[3], back[4]);
    q[1] = 9; /* outside int4 */
    check_error(sq_pack_int4(q, 5, SQ_INT4, packed, 3), SQ_ERROR_OUT_OF_RANGE, "sq_pack_int4(9 in int4)");
}

/* Every failure returns a status code and leaves a message for sq_last_error_message(). */
static void error_handling(void)
{
    const float x[2] = {0.25f, -0.5f};
    const float x_nan[2] = {0.25f, NAN};
    const int64_t shape[1] = {2};
    const int64_t bad_shape[1] = {-1};
    const float scale = 0.01f, zero_scale = 0.0f;
    const int32_t zp = 0;
    sq_qparams p = per_tensor(&scale, &zp, SQ_INT8);
    sq_qparams p_zero = per_tensor(&zero_scale, &zp, SQ_INT8);
    int8_t q[2];
    int32_t qmin = 0;
    sq_status st;

    printf("\n[7] error handling: status codes and sq_last_error_message()\n");
    check_error(sq_quantize(NULL, shape, 1, &p, SQ_ROUND_NEAREST_EVEN, 0, q), SQ_ERROR_NULL_POINTER,
                "sq_quantize(x = NULL)");
    check_error(sq_dtype_range(SQ_INT8, &qmin, NULL), SQ_ERROR_NULL_POINTER, "sq_dtype_range(qmax = NULL)");
    check_error(sq_quantize(x, shape, 1, &p_zero, SQ_ROUND_NEAREST_EVEN, 0, q), SQ_ERROR_INVALID_SCALE,
                "sq_quantize(scale = 0)");
    check_error(sq_quantize(x, bad_shape, 1, &p, SQ_ROUND_NEAREST_EVEN, 0, q), SQ_ERROR_SHAPE,
                "sq_quantize(shape = [-1])");
    check_error(sq_quantize(x_nan, shape, 1, &p, SQ_ROUND_NEAREST_EVEN, 0, q), SQ_ERROR_NONFINITE,
                "sq_quantize(x = {0.25, NaN})");
    check_error(sq_quantize(x, shape, 1, &p, 99, 0, q), SQ_ERROR_INVALID_ARGUMENT, "sq_quantize(rounding = 99)");
    st = sq_quantize(x, shape, 1, &p, SQ_ROUND_NEAREST_EVEN, 0, q);
    check(st == SQ_OK && q[0] == 25 && q[1] == -50, "after the errors, sq_quantize({0.25, -0.5}, scale 0.01) -> %s, "
          "{%d, %d}", sq_status_string(st), (int)q[0], (int)q[1]);
}

/* Streaming calibration: an observer fed two batches equals one fed their concatenation (the histogram
 * depends only on the data), survives a serialize/deserialize round trip, and clips an outlier. */
static void observers(void)
{
    enum { N = 4000 };
    static float x[N];
    const int64_t half_shape[1] = {N / 2}, full_shape[1] = {N};
    sq_observer_config cfg;
    sq_observer *a = NULL, *b = NULL, *c = NULL;
    float sa = 0, sb = 0, sc = 0;
    int32_t za = 0, zb = 0, zc = 0;
    int64_t size = 0, groups = 0;
    uint8_t *bytes = NULL;
    int i;

    printf("\n[8] calibration observers (percentile 99.9, symmetric int8)\n");
    /* A deterministic bell-ish shape in [-1, 1] and one outlier at 50. */
    for (i = 0; i < N; i++) {
        double u = (double)((i * 7919) % N) / N;
        x[i] = (float)((u - 0.5) * (u - 0.5) * (u < 0.5 ? -4.0 : 4.0));
    }
    x[123] = 50.0f;

    memset(&cfg, 0, sizeof cfg);
    cfg.method = SQ_METHOD_PERCENTILE;
    cfg.dtype = SQ_INT8;
    cfg.symmetric = 1;
    cfg.axis = SQ_PER_TENSOR;
    cfg.num_bins = 2048;
    cfg.percentile = 99.9;
    if (!check_ok(sq_observer_create(&cfg, &a), "sq_observer_create") ||
        !check_ok(sq_observer_create(&cfg, &b), "sq_observer_create (second)")) {
        goto done;
    }
    check_ok(sq_observer_update(a, x, half_shape, 1), "sq_observer_update(first half)");
    check_ok(sq_observer_update(a, x + N / 2, half_shape, 1), "sq_observer_update(second half)");
    check_ok(sq_observer_update(b, x, full_shape, 1), "sq_observer_update(all at once)");
    check_ok(sq_observer_groups(a, &groups, NULL, NULL), "sq_observer_groups");
    check(groups == 1, "one group per tensor (got %lld)", (long long)groups);
    check_ok(sq_observer_qparams(a, &sa, &za, 1), "sq_observer_qparams (two batches)");
    check_ok(sq_observer_qparams(b, &sb, &zb, 1), "sq_observer_qparams (one batch)");
    check(sa == sb && za == zb, "two batches and one batch give the same scale: %.9g vs %.9g", sa, sb);
    check(sa * 127 < 2.0f, "the 99.9th percentile clips the outlier 50: range +-%.4f", sa * 127);

    check_ok(sq_observer_serialize(a, NULL, 0, &size), "sq_observer_serialize (size query)");
    bytes = (uint8_t *)malloc((size_t)size);
    if (bytes != NULL && check_ok(sq_observer_serialize(a, bytes, size, &size), "sq_observer_serialize") &&
        check_ok(sq_observer_deserialize(bytes, size, &c), "sq_observer_deserialize")) {
        check_ok(sq_observer_qparams(c, &sc, &zc, 1), "sq_observer_qparams (restored)");
        check(sc == sa && zc == za, "the restored observer gives the same scale (%lld bytes of state)", (long long)size);
        bytes[0] ^= 0xFF;
        sq_observer_destroy(c);
        c = NULL;
        check_error(sq_observer_deserialize(bytes, size, &c), SQ_ERROR_INVALID_ARGUMENT,
                    "sq_observer_deserialize(corrupted bytes)");
    }
done:
    free(bytes);
    sq_observer_destroy(a);
    sq_observer_destroy(b);
    sq_observer_destroy(c);
    sq_observer_destroy(NULL);
}

int main(void)
{
    printf("SwiftQuant C example - library version %s\n", sq_version());
    version_and_status_names();
    worked_example();
    integer_matmul();
    float_matmul();
    rounding_modes();
    int4_packing();
    error_handling();
    observers();
    printf("\n%d passed, %d failed\n", n_passed, n_failed);
    return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
