/*
 * awq_test.c - the activation-aware entry points through the public header, from C: sq_weight_quantize_awq on a
 * 16 x 96 weight (K not a multiple of the block) and 40 calibration rows, its report against output errors
 * computed here in double from sq_weight_quantize / sq_weight_dequantize, the layer with input scales
 * (sq_block_linear_create_scaled) against the plain layer on x / s bit for bit, sq_smooth_quant_scales by the
 * header's formula and its alpha search; then the error cases with their status and message.
 *
 * Build and run: Tests/c/run.sh (run by ./run-tests). Last line: "N passed, M failed".
 */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N 16
#define K 96
#define BS 64
#define KB ((K + BS - 1) / BS)
#define M 40


static int close_rel(double a, double b, double rtol) { return fabs(a - b) <= rtol * fabs(b); }

static float w[N * K], x[M * K], xs[M * K], wq[N * K], bias[N], y[M * N], y2[M * N];
static uint8_t codes[N * K], zps[N * KB];
static float scales[N * KB], s[K];

/* mean over (M, N) of (x (wq - w)^T)^2 in double. */
static double output_error(void)
{
    double total = 0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double e = 0;
            for (int k = 0; k < K; k++) e += (double)x[m * K + k] * ((double)wq[n * K + k] - (double)w[n * K + k]);
            total += e * e;
        }
    return total / (M * N);
}

static void test_awq(void)
{
    /* Channel magnitudes 2^(k % 6 - 3), channel 5 an outlier: a search with something to find. */
    for (int i = 0; i < N * K; i++) w[i] = (float)((i * 7919) % 2001 - 1000) / 1000.0f;
    for (int i = 0; i < M * K; i++) {
        int k = i % K;
        x[i] = (float)((i * 104729) % 1999 - 999) / 999.0f * ldexpf(1.0f, k % 6 - 3) * (k == 5 ? 30.0f : 1.0f);
    }
    for (int n = 0; n < N; n++) bias[n] = (float)n / 4.0f - 2.0f;

    sq_awq_report r;
    memset(&r, 0xff, sizeof r);
    check(sq_weight_quantize_awq(w, N, K, 4, BS, 1, x, M, codes, scales, zps, s, &r) == SQ_OK, "sq_weight_quantize_awq");
    int ok = 1;
    for (int i = 0; i < N * K; i++) ok &= codes[i] <= 15;
    for (int k = 0; k < K; k++) ok &= isfinite(s[k]) && s[k] > 0;
    check(ok, "codes in [0, 15], input scales finite and > 0");
    check(r.rows_used == M && r.ratio >= 0 && r.ratio < 1 && r.ratio * 20 == floor(r.ratio * 20), "report: rows, ratio on the grid");
    check(r.error_after < r.error_before && r.relative_error_after < r.relative_error_before, "report: AWQ beats RTN on x");

    /* error_after: the effective weight deq / s. */
    check(sq_weight_dequantize(codes, scales, zps, N, K, 4, BS, wq) == SQ_OK, "dequantize");
    for (int i = 0; i < N * K; i++) wq[i] /= s[i % K];
    check(close_rel(output_error(), r.error_after, 1e-4), "error_after is the output error of deq / s");
    /* error_before: plain RTN. */
    static uint8_t c0[N * K], z0[N * KB];
    static float s0[N * KB];
    check(sq_weight_quantize(w, N, K, 4, BS, 1, c0, s0, z0) == SQ_OK &&
              sq_weight_dequantize(c0, s0, z0, N, K, 4, BS, wq) == SQ_OK, "RTN");
    check(close_rel(output_error(), r.error_before, 1e-4), "error_before is RTN's output error");
    double signal = 0;
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            double v = 0;
            for (int k = 0; k < K; k++) v += (double)x[m * K + k] * (double)w[n * K + k];
            signal += v * v;
        }
    signal /= M * N;
    check(close_rel(r.relative_error_after, r.error_after / signal, 1e-4), "relative error over mean((x w^T)^2)");

    /* The same result without a report. */
    static uint8_t c2[N * K];
    check(sq_weight_quantize_awq(w, N, K, 4, BS, 1, x, M, c2, s0, z0, wq, NULL) == SQ_OK &&
              memcmp(c2, codes, sizeof codes) == 0, "report may be NULL; deterministic");

    /* The layer with input scales equals the plain layer on x / s, bit for bit. */
    for (int i = 0; i < M * K; i++) xs[i] = x[i] / s[i % K];
    int64_t shape[2] = {M, K};
    for (int act = SQ_ACTIVATION_PER_BLOCK; act <= SQ_ACTIVATION_NONE; act++) {
        sq_block_linear *scaled = NULL, *plain = NULL;
        check(sq_block_linear_create_scaled(codes, scales, zps, N, K, 4, BS, bias, s, act, &scaled) == SQ_OK && scaled,
              "create_scaled");
        check(sq_block_linear_create(codes, scales, zps, N, K, 4, BS, bias, act, &plain) == SQ_OK, "create");
        check(sq_block_linear_forward(scaled, x, shape, 2, y, M * N) == SQ_OK &&
                  sq_block_linear_forward(plain, xs, shape, 2, y2, M * N) == SQ_OK && memcmp(y, y2, sizeof y) == 0,
              act == SQ_ACTIVATION_PER_BLOCK ? "per_block: layer(x) == plain(x / s)" : "none: layer(x) == plain(x / s)");
        sq_block_linear_destroy(scaled);
        sq_block_linear_destroy(plain);
    }
    sq_block_linear *none = NULL;
    check(sq_block_linear_create_scaled(codes, scales, zps, N, K, 4, BS, NULL, NULL, SQ_ACTIVATION_NONE, &none) == SQ_OK,
          "create_scaled with NULL input scales");
    check(sq_block_linear_forward(none, x, shape, 2, y, M * N) == SQ_OK, "forward without scales");
    sq_block_linear_destroy(none);

    /* Errors. */
    float keep = x[100];
    x[100] = NAN;
    check(sq_weight_quantize_awq(w, N, K, 4, BS, 1, x, M, codes, scales, zps, s, &r) == SQ_ERROR_NONFINITE &&
              strstr(sq_last_error_message(), "element 100 (row 1, column 4)") != NULL, "NaN in x named");
    x[100] = keep;
    check(sq_weight_quantize_awq(w, N, K, 4, BS, 1, x, 0, codes, scales, zps, s, &r) == SQ_ERROR_SHAPE &&
              strstr(sq_last_error_message(), "no rows") != NULL, "rows 0");
    check(sq_weight_quantize_awq(w, N, K, 4, BS, 1, NULL, M, codes, scales, zps, s, &r) == SQ_ERROR_NULL_POINTER, "x NULL");
    check(sq_weight_quantize_awq(w, N, K, 4, BS, 1, x, M, codes, scales, zps, NULL, &r) == SQ_ERROR_NULL_POINTER &&
              strstr(sq_last_error_message(), "input_scales") != NULL, "input_scales NULL");
    check(sq_weight_quantize_awq(w, 0, K, 4, BS, 1, x, M, codes, scales, zps, s, &r) == SQ_ERROR_SHAPE, "n 0");
    check(sq_weight_quantize_awq(w, N, K, 5, BS, 1, x, M, codes, scales, zps, s, &r) == SQ_ERROR_INVALID_ARGUMENT, "bits 5");
    check(sq_weight_quantize_awq(w, N, K, 4, BS, 2, x, M, codes, scales, zps, s, &r) == SQ_ERROR_INVALID_ARGUMENT, "symmetric 2");
    check(sq_weight_quantize_awq(w, N, K, 4, BS, 1, x, INT64_MAX, codes, scales, zps, s, &r) == SQ_ERROR_SHAPE,
          "rows * k overflowing");
    sq_block_linear *bad = NULL;
    float bad_s[K];
    for (int k = 0; k < K; k++) bad_s[k] = 1;
    bad_s[7] = 0;
    check(sq_block_linear_create_scaled(codes, scales, zps, N, K, 4, BS, NULL, bad_s, SQ_ACTIVATION_NONE, &bad) ==
              SQ_ERROR_INVALID_SCALE && bad == NULL && strstr(sq_last_error_message(), "input_scales: element 7") != NULL,
          "input scale 0 refused");
    bad_s[7] = NAN;
    check(sq_block_linear_create_scaled(codes, scales, zps, N, K, 4, BS, NULL, bad_s, SQ_ACTIVATION_NONE, &bad) ==
              SQ_ERROR_INVALID_SCALE, "input scale NaN refused");
    bad_s[7] = 1e-30f;
    check(sq_block_linear_create_scaled(codes, scales, zps, N, K, 4, BS, NULL, bad_s, SQ_ACTIVATION_PER_BLOCK, &bad) ==
              SQ_OK, "tiny input scale accepted");
    x[7] = 1e20f;
    check(sq_block_linear_forward(bad, x, shape, 2, y, M * N) == SQ_ERROR_NONFINITE &&
              strstr(sq_last_error_message(), "overflows") != NULL, "forward: x / s overflowing is an error");
    x[7] = 0.5f;
    sq_block_linear_destroy(bad);
}

static void test_smooth_quant(void)
{
    /* By hand: act [16, 1, 0], column maxima of w [4, 1, 0 -> 1e-5]; alpha 0.5: s = [2, 1, 1e-5]. */
    const float act[3] = {16, 1, 0};
    const float w2[6] = {4, -1, 0, -2, 0.5f, 0};
    float sc[3];
    sq_smooth_report r;
    check(sq_smooth_quant_scales(act, w2, 2, 3, 0.5, NULL, 0, sc, &r) == SQ_OK && sc[0] == 2 && sc[1] == 1 &&
              sc[2] == 1e-5f, "formula by hand");
    check(r.alpha == 0.5 && isnan(r.error) && isnan(r.error_unsmoothed), "no x: errors NaN");
    check(sq_smooth_quant_scales(act, w2, 2, 3, 0.0, NULL, 0, sc, NULL) == SQ_OK && sc[0] == 0.25f && sc[2] == 1e5f,
          "alpha 0: 1 / wmax; report may be NULL");

    /* Auto on the AWQ data: the chosen alpha is on the grid and beats s = 1; a fixed call at that alpha agrees. */
    static float s1[K], s2[K];
    sq_smooth_report ra, rf;
    check(sq_smooth_quant_scales(NULL, w, N, K, SQ_SMOOTH_ALPHA_AUTO, x, M, s1, &ra) == SQ_OK, "auto");
    check(ra.alpha * 20 == floor(ra.alpha * 20) && ra.error < ra.error_unsmoothed, "auto: alpha on the grid, better than s = 1");
    check(sq_smooth_quant_scales(NULL, w, N, K, ra.alpha, x, M, s2, &rf) == SQ_OK && memcmp(s1, s2, sizeof s1) == 0 &&
              rf.error == ra.error && rf.error_unsmoothed == ra.error_unsmoothed, "fixed alpha* with x: same scales, errors");

    /* Errors. */
    check(sq_smooth_quant_scales(act, w2, 2, 3, 1.5, NULL, 0, sc, &r) == SQ_ERROR_INVALID_ARGUMENT &&
              strstr(sq_last_error_message(), "alpha 1.5") != NULL, "alpha 1.5");
    check(sq_smooth_quant_scales(act, w2, 2, 3, -0.5, NULL, 0, sc, &r) == SQ_ERROR_INVALID_ARGUMENT, "alpha -0.5");
    check(sq_smooth_quant_scales(act, w2, 2, 3, NAN, NULL, 0, sc, &r) == SQ_ERROR_INVALID_ARGUMENT, "alpha NaN");
    check(sq_smooth_quant_scales(act, w2, 2, 3, SQ_SMOOTH_ALPHA_AUTO, NULL, 0, sc, &r) == SQ_ERROR_NULL_POINTER &&
              strstr(sq_last_error_message(), "auto needs") != NULL, "auto without x");
    check(sq_smooth_quant_scales(NULL, w2, 2, 3, 0.5, NULL, 0, sc, &r) == SQ_ERROR_NULL_POINTER, "no act_absmax, no x");
    check(sq_smooth_quant_scales(act, w2, 2, 3, 0.5, x, 0, sc, &r) == SQ_ERROR_SHAPE &&
              strstr(sq_last_error_message(), "no rows") != NULL, "x with rows 0: empty activations");
    check(sq_smooth_quant_scales(act, w2, 2, 3, 0.5, NULL, 4, sc, &r) == SQ_ERROR_NULL_POINTER, "x NULL with rows 4");
    const float neg[3] = {16, -1, 0};
    check(sq_smooth_quant_scales(neg, w2, 2, 3, 0.5, NULL, 0, sc, &r) == SQ_ERROR_OUT_OF_RANGE &&
              strstr(sq_last_error_message(), "act_absmax: element 1") != NULL, "negative act_absmax");
    const float wn[6] = {4, -1, 0, -2, NAN, 0};
    check(sq_smooth_quant_scales(act, wn, 2, 3, 0.5, NULL, 0, sc, &r) == SQ_ERROR_NONFINITE &&
              strstr(sq_last_error_message(), "w: element 4") != NULL, "NaN in w named");
    check(sq_smooth_quant_scales(act, w2, 0, 3, 0.5, NULL, 0, sc, &r) == SQ_ERROR_SHAPE, "n 0");
    check(sq_smooth_quant_scales(act, w2, 2, 3, 0.5, NULL, 0, NULL, &r) == SQ_ERROR_NULL_POINTER, "scales NULL");
}

int main(void)
{
    test_awq();
    test_smooth_quant();
    return finish();
}
