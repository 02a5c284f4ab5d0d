/*
 * gptq_test.c - GPTQ through the public header, from C: sq_weight_quantize_gptq of a 16 x 64 weight with the
 * Hessian of correlated inputs; the result lies on the same grid as sq_weight_quantize (a code in range, the
 * RTN scales and zero points with act_order), it lowers sum e^T H e below round-to-nearest (computed here),
 * the report agrees with that computation, the damping fallback on a singular Hessian; error cases with
 * their status and message.
 *
 * Build and run: Tests/c/run.sh (run by ./run-tests). Last line: "N passed, M failed".
 */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N 16
#define K 64
#define BS 16
#define KB (K / BS)
#define ROWS 200


static float w[N * K], deq[N * K], x[ROWS * K];
static double h[K * K];
static uint8_t codes[N * K], zps[N * KB], rcodes[N * K], rzps[N * KB];
static float scales[N * KB], rscales[N * KB];

/* A small deterministic generator (xorshift), uniform in [-1, 1). */
static unsigned long long state = 88172645463325252ull;
static double uniform(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (double)(state >> 11) / (double)(1ull << 52) - 1.0;
}

/* sum over rows of e^T H e, e = w - dequantized(codes, scales, zps). */
static double output_error(const uint8_t *c, const float *s, const uint8_t *z)
{
    check(sq_weight_dequantize(c, s, z, N, K, 4, BS, deq) == SQ_OK, "dequantize");
    double total = 0;
    for (int r = 0; r < N; r++)
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++)
                total += (double)(w[r * K + i] - deq[r * K + i]) * h[i * K + j] * (double)(w[r * K + j] - deq[r * K + j]);
    return total;
}

int main(void)
{
    for (int t = 0; t < ROWS; t++) {
        double z = uniform();
        for (int j = 0; j < K; j++) x[t * K + j] = (float)(0.7 * z + 0.5 * uniform()); /* correlated inputs */
    }
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            double s = 0;
            for (int t = 0; t < ROWS; t++) s += (double)x[t * K + i] * (double)x[t * K + j];
            h[i * K + j] = s / ROWS;
        }
    for (int i = 0; i < N * K; i++) w[i] = (float)(0.1 * uniform());

    check(sq_weight_quantize(w, N, K, 4, BS, 0, rcodes, rscales, rzps) == SQ_OK, "round to nearest");
    double e_rtn = output_error(rcodes, rscales, rzps), signal = 0;
    for (int r = 0; r < N; r++)
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++) signal += (double)w[r * K + i] * h[i * K + j] * (double)w[r * K + j];

    for (int act_order = 0; act_order <= 1; act_order++) {
        sq_gptq_report rep;
        memset(&rep, 0, sizeof rep);
        check(sq_weight_quantize_gptq(w, N, K, 4, BS, 0, h, act_order, 0.01, NULL, codes, scales, zps, &rep) == SQ_OK, "gptq");
        int in_range = 1;
        for (int i = 0; i < N * K; i++) in_range &= codes[i] <= 15;
        check(in_range, "codes are 4-bit");
        double e = output_error(codes, scales, zps);
        check(e < 0.9 * e_rtn, "GPTQ lowers e^T H e below round-to-nearest");
        check(fabs(rep.relative_error_after - e / signal) <= 1e-4 * e / signal, "report: error after"); /* H e in float32 */
        check(fabs(rep.relative_error_before - e_rtn / signal) <= 1e-4 * e_rtn / signal, "report: error before");
        check(rep.damp == 0.01 && rep.dead_inputs == 0 && rep.rows_measured == N, "report: damp, dead inputs, rows");
        if (act_order)
            check(memcmp(scales, rscales, sizeof scales) == 0 && memcmp(zps, rzps, sizeof zps) == 0,
                  "act_order: static groups are round-to-nearest's");
        /* Without a report (the error measurement skipped): the same result. */
        static uint8_t codes2[N * K];
        check(sq_weight_quantize_gptq(w, N, K, 4, BS, 0, h, act_order, 0.01, NULL, codes2, scales, zps, NULL) == SQ_OK &&
                  memcmp(codes2, codes, sizeof codes) == 0,
              "report NULL: the same codes");
    }

    /* The damping fallback: a singular Hessian (two identical inputs, integer values) with damp 0. */
    static double hs[4] = {1, 1, 1, 1};
    float w2[4] = {0.5f, -0.25f, 1, 2};
    uint8_t c2[4], z2[2];
    float s2[2];
    sq_gptq_report rep2;
    check(sq_weight_quantize_gptq(w2, 2, 2, 4, 16, 1, hs, 0, 0.0, NULL, c2, s2, z2, &rep2) == SQ_OK, "singular hessian");
    check(rep2.damp == 1e-4, "damp raised to 1e-4");

    /* Errors. */
    check(sq_weight_quantize_gptq(w, N, K, 4, BS, 0, NULL, 0, 0.01, NULL, codes, scales, zps, NULL) == SQ_ERROR_NULL_POINTER,
          "NULL hessian");
    check(strstr(sq_last_error_message(), "hessian") != NULL, "message names hessian");
    check(sq_weight_quantize_gptq(w, N, K, 4, BS, 0, h, 0, -1, NULL, codes, scales, zps, NULL) == SQ_ERROR_INVALID_ARGUMENT,
          "negative damp");
    check(sq_weight_quantize_gptq(w, N, K, 4, BS, 0, h, 2, 0.01, NULL, codes, scales, zps, NULL) == SQ_ERROR_INVALID_ARGUMENT,
          "act_order 2");
    h[1] += 1;
    check(sq_weight_quantize_gptq(w, N, K, 4, BS, 0, h, 0, 0.01, NULL, codes, scales, zps, NULL) == SQ_ERROR_INVALID_ARGUMENT,
          "non-symmetric hessian");
    check(strstr(sq_last_error_message(), "symmetric") != NULL, "message says not symmetric");
    h[1] -= 1;
    h[5 * K + 5] = NAN;
    check(sq_weight_quantize_gptq(w, N, K, 4, BS, 0, h, 0, 0.01, NULL, codes, scales, zps, NULL) == SQ_ERROR_NONFINITE, "NaN");
    h[5 * K + 5] = 1;
    float bad_scales[K];
    for (int j = 0; j < K; j++) bad_scales[j] = j == 7 ? 0.0f : 1.0f;
    check(sq_weight_quantize_gptq(w, N, K, 4, BS, 0, h, 0, 0.01, bad_scales, codes, scales, zps, NULL) == SQ_ERROR_INVALID_SCALE,
          "input scale 0");
    check(sq_weight_quantize_gptq(w, N, K, 5, BS, 0, h, 0, 0.01, NULL, codes, scales, zps, NULL) == SQ_ERROR_INVALID_ARGUMENT,
          "bits 5");
    check(sq_weight_quantize_gptq(w, -1, K, 4, BS, 0, h, 0, 0.01, NULL, codes, scales, zps, NULL) == SQ_ERROR_SHAPE, "n < 0");

    return finish();
}
