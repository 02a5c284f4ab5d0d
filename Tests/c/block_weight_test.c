/*
 * block_weight_test.c - block-quantized weights through the public header, from C: sq_weight_quantize of a
 * 24 x 100 weight (K not a multiple of the block), the MatMulNBits pack/unpack round trip, and
 * sq_block_linear_forward in both activation modes against the header's formulas evaluated here in C
 * (fmaf, the same order), bit for bit; then the error cases with their status and message.
 *
 * Build and run: Tests/c/run.sh (run by ./run-tests). Last line: "N passed, M failed".
 */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N 24
#define K 100
#define BS 32
#define KB ((K + BS - 1) / BS)
#define M 5


static float w[N * K], x[M * K], bias[N], y[M * N];
static uint8_t codes[N * K], zps[N * KB], codes2[N * K], zps2[N * KB];
static float scales[N * KB];

/* The header's per_block formula. */
static float per_block(int m, int n)
{
    float acc = 0;
    for (int b = 0; b < KB; b++) {
        float amax = 0;
        for (int k = b * BS; k < K && k < (b + 1) * BS; k++) amax = fmaxf(amax, fabsf(x[m * K + k]));
        float sx = amax / 127;
        int32_t d = 0, sum = 0;
        for (int k = b * BS; k < K && k < (b + 1) * BS; k++) {
            int32_t q = 0;
            if (sx != 0) {
                float v = nearbyintf(x[m * K + k] / sx); /* default rounding mode: half to even */
                q = (int32_t)fminf(fmaxf(v, -127), 127);
            }
            d += q * (int32_t)codes[n * K + k];
            sum += q;
        }
        d -= (int32_t)zps[n * KB + b] * sum;
        acc = fmaf((float)d, sx * scales[n * KB + b], acc);
    }
    return acc + bias[n];
}

/* The header's weight-only formula. */
static float weight_only(int m, int n)
{
    float acc = 0;
    for (int b = 0; b < KB; b++) {
        float t = 0;
        for (int k = b * BS; k < K && k < (b + 1) * BS; k++)
            t = fmaf(x[m * K + k], (float)((int32_t)codes[n * K + k] - (int32_t)zps[n * KB + b]), t);
        acc = fmaf(t, scales[n * KB + b], acc);
    }
    return acc + bias[n];
}

int main(void)
{
    for (int i = 0; i < N * K; i++) w[i] = (float)((i * 7919) % 2001 - 1000) / 512.0f;
    for (int i = 0; i < M * K; i++) x[i] = (float)((i * 104729) % 1999 - 999) / 256.0f;
    for (int i = 0; i < N; i++) bias[i] = (float)i / 8.0f - 1.0f;

    check(sq_weight_quantize(w, N, K, 4, BS, 0, codes, scales, zps) == SQ_OK, "sq_weight_quantize");
    int in_range = 1;
    for (int i = 0; i < N * K; i++) in_range &= codes[i] <= 15;
    check(in_range, "codes in [0, 15]");
    /* Asymmetric rounding to the nearest code: within one step of w. */
    float deq[N * K];
    check(sq_weight_dequantize(codes, scales, zps, N, K, 4, BS, deq) == SQ_OK, "sq_weight_dequantize");
    int close = 1;
    for (int i = 0; i < N * K; i++) close &= fabsf(deq[i] - w[i]) <= scales[(i / K) * KB + (i % K) / BS] * 1.0001f;
    check(close, "dequantize within one step of w");

    int64_t bb = 0, zb = 0;
    check(sq_matmul_nbits_sizes(N, K, 4, BS, &bb, &zb) == SQ_OK && bb == N * KB * 16 && zb == N * 2, "sizes");
    uint8_t b[N * KB * 16], pz[N * 2];
    check(sq_matmul_nbits_pack(codes, scales, zps, N, K, 4, BS, b, pz) == SQ_OK, "pack");
    check(b[0] == (codes[0] | codes[1] << 4) && pz[0] == (zps[0] | zps[1] << 4) && pz[1] == (zps[2] | zps[3] << 4),
          "layout: element 2i and block 2i in the low nibble");
    check(sq_matmul_nbits_unpack(b, scales, pz, N, K, 4, BS, codes2, zps2) == SQ_OK &&
              memcmp(codes, codes2, sizeof codes) == 0 && memcmp(zps, zps2, sizeof zps) == 0, "unpack round trip");

    int64_t shape[2] = {M, K};
    for (int act = SQ_ACTIVATION_PER_BLOCK; act <= SQ_ACTIVATION_NONE; act++) {
        sq_block_linear *layer = NULL;
        check(sq_block_linear_create(codes, scales, zps, N, K, 4, BS, bias, act, &layer) == SQ_OK && layer, "create");
        check(sq_block_linear_forward(layer, x, shape, 2, y, M * N) == SQ_OK, "forward");
        int exact = 1;
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++) {
                float want = act == SQ_ACTIVATION_PER_BLOCK ? per_block(m, n) : weight_only(m, n);
                uint32_t a, c;
                memcpy(&a, &y[m * N + n], 4);
                memcpy(&c, &want, 4);
                if (a != c) {
                    if (exact) printf("  y[%d, %d] = %.9g, formula %.9g (activation %d)\n", m, n, y[m * N + n], want, act);
                    exact = 0;
                }
            }
        check(exact, act == SQ_ACTIVATION_PER_BLOCK ? "per_block equals the header's formula bit for bit"
                                                    : "none equals the header's formula bit for bit");
        /* Errors of forward: wrong last dimension, wrong y_count, NaN in x. */
        int64_t bad[2] = {M, K + 1};
        check(sq_block_linear_forward(layer, x, bad, 2, y, M * N) == SQ_ERROR_SHAPE, "forward: wrong K");
        check(sq_block_linear_forward(layer, x, shape, 2, y, M * N - 1) == SQ_ERROR_SHAPE, "forward: wrong y_count");
        float keep = x[7];
        x[7] = NAN;
        check(sq_block_linear_forward(layer, x, shape, 2, y, M * N) == SQ_ERROR_NONFINITE &&
                  strstr(sq_last_error_message(), "x: element 7") != NULL, "forward: NaN in x named");
        x[7] = keep;
        sq_block_linear_destroy(layer);
    }
    sq_block_linear_destroy(NULL);

    /* Errors of the other entry points. */
    check(sq_weight_quantize(w, N, K, 5, BS, 0, codes, scales, zps) == SQ_ERROR_INVALID_ARGUMENT &&
              strstr(sq_last_error_message(), "bits 5") != NULL, "bits 5");
    check(sq_weight_quantize(w, N, K, 4, 24, 0, codes, scales, zps) == SQ_ERROR_INVALID_ARGUMENT, "block 24");
    check(sq_weight_quantize(NULL, N, K, 4, BS, 0, codes, scales, zps) == SQ_ERROR_NULL_POINTER, "NULL w");
    codes2[3] = 16;
    check(sq_weight_dequantize(codes2, scales, zps, N, K, 4, BS, deq) == SQ_ERROR_OUT_OF_RANGE, "code 16");
    check(sq_matmul_nbits_sizes(N, K, 3, BS, &bb, &zb) == SQ_ERROR_INVALID_ARGUMENT, "MatMulNBits with 3 bits");
    check(sq_matmul_nbits_sizes(N, K, 2, BS, &bb, &zb) == SQ_OK && bb == N * KB * 8 && zb == N * 1, "2-bit sizes");
    sq_block_linear *none = NULL;
    check(sq_block_linear_create(codes, scales, zps, N, K, 4, BS, NULL, SQ_ACTIVATION_PER_ROW, &none) ==
              SQ_ERROR_INVALID_ARGUMENT && none == NULL, "create with a per-row activation");

    return finish();
}
