/*
 * fpenv_test.c - results never depend on the caller's floating-point environment (issue 9, item 9).
 *
 * Runs the computing entry points (quantize, dequantize, fake-quantize, error reports, min/max and dynamic
 * calibration, every observer method, codebook fit and quantize, the matmuls) once under the default
 * environment, then again under each rounding mode (fesetround: down, up, toward zero) and under
 * flush-to-zero + denormals-are-zero (MXCSR bits 15 and 6, what a library built with -ffast-math sets at
 * load), alone and combined. Every output must be
 * byte-identical to the default run, and every call must leave the caller's MXCSR exactly as it was.
 * The data has exact ties, subnormal inputs and scales whose products are subnormal, and is large enough
 * for the thread pool to split the work (workers inherit their creator's MXCSR).
 *
 * Build and run: Tests/c/run.sh (run by ./run-tests). Last line: "N passed, M failed".
 */
#include "swiftquant.h"

#include <fenv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xmmintrin.h>

#define N (1 << 19) /* > 2 x the element-wise parallel grain: the pool runs */
#define ROWS 64
#define COLS 8192  /* ROWS x COLS = N */
#define MM 96
#define MK 256
#define MN 192

static float x[N];
static int8_t a8[MM * MK], b8[MK * MN];
static float s_rows[ROWS]; /* set in main under the default environment, like all inputs */
static int32_t z_rows[ROWS];

static unsigned char *out;
static size_t out_len, out_cap;
static int n_passed, n_failed;
/* Which call's output starts where, to name the first difference. */
static size_t call_at[256];
static const char *call_name[256];
static int n_calls;

static void put(const void *p, size_t n)
{
    if (out_len + n > out_cap) {
        out_cap = (out_len + n) * 2;
        out = realloc(out, out_cap);
        if (!out) { perror("realloc"); exit(2); }
    }
    memcpy(out + out_len, p, n);
    out_len += n;
}

/* Records a call's status and checks that it restored the caller's MXCSR (modes and flags). */
static void call(sq_status st, unsigned before, const char *what)
{
    unsigned after = _mm_getcsr();
    if (n_calls < 256) { call_at[n_calls] = out_len; call_name[n_calls++] = what; }
    put(&st, sizeof st);
    if (after != before) {
        printf("  FAIL  %s changed MXCSR from %#x to %#x\n", what, before, after);
        n_failed++;
    }
}

#define CALL(expr) do { unsigned before_ = _mm_getcsr(); call((expr), before_, #expr); } while (0)

static sq_qparams params(const float *scale, const int32_t *zp, int64_t count, sq_dtype dtype, int32_t axis)
{
    sq_qparams p;
    p.scale = scale;
    p.zero_point = zp;
    p.count = count;
    p.dtype = (int32_t)dtype;
    p.axis = axis;
    p.block_size = 0;
    return p;
}

/* Every output of every entry point for the data above, appended to `out`. */
static void run_all(void)
{
    static int8_t q8[N];
    static uint8_t qu8[N];
    static float y[N];
    static int32_t c32[MM * MN];
    static int8_t y8[MM * MN];
    static float yf[MM * MN];
    const int64_t shape[2] = {ROWS, COLS}, shape2[2] = {ROWS, COLS - 32}, ashape[2] = {MM, MK}, bshape[2] = {MK, MN};
    const float s_tensor = 0.25f, s_a = 1e-20f, s_b = 1e-20f, s_y = 0.05f;
    const int32_t z_u8 = 131, z0 = 0;
    const float s_mm = 0.01f;
    out_len = 0;
    n_calls = 0;
    for (int r = SQ_ROUND_NEAREST_EVEN; r <= SQ_ROUND_STOCHASTIC; r++) {
        sq_qparams p = params(&s_tensor, NULL, 1, SQ_INT8, SQ_PER_TENSOR);
        CALL(sq_quantize(x, shape, 2, &p, r, 42, q8)); put(q8, sizeof q8);
        sq_qparams pu = params(&s_tensor, &z_u8, 1, SQ_UINT8, SQ_PER_TENSOR);
        CALL(sq_quantize(x, shape, 2, &pu, r, 42, qu8)); put(qu8, sizeof qu8);
        sq_qparams pr = params(s_rows, z_rows, ROWS, SQ_INT8, 0);
        CALL(sq_quantize(x, shape, 2, &pr, r, 7, q8)); put(q8, sizeof q8);
        CALL(sq_fake_quantize(x, shape, 2, &pr, r, 7, y)); put(y, sizeof y);
        CALL(sq_dequantize(q8, shape, 2, &pr, y)); put(y, sizeof y);
        sq_error_stats total;
        memset(&total, 0, sizeof total);
        CALL(sq_error_report(x, shape, 2, &pr, r, 7, NULL, 0, &total)); put(&total, sizeof total);
    }
    {
        float scales[ROWS];
        int32_t zps[ROWS];
        CALL(sq_calibrate_minmax(x, shape, 2, SQ_INT8, 0, 0, 0, scales, zps, ROWS));
        put(scales, sizeof scales); put(zps, sizeof zps);
        CALL(sq_calibrate_minmax(x, shape, 2, SQ_UINT8, 1, SQ_PER_TENSOR, 0, scales, zps, 1));
        put(scales, 4); put(zps, 4);
    }
    {
        static uint8_t qd[N], idx[N];
        float scale;
        uint8_t zp;
        CALL(sq_dynamic_quantize(x, N, qd, &scale, &zp)); put(qd, sizeof qd); put(&scale, 4); put(&zp, 1);
        float levels[ROWS * 16];
        for (int k = SQ_CODEBOOK_LLOYD; k <= SQ_CODEBOOK_LLOYD_QUANTILE; k++) {
            CALL(sq_codebook_fit(x, shape, 2, 0, 4, k, 20, 0.0, levels, ROWS * 16)); put(levels, sizeof levels);
            CALL(sq_codebook_quantize(x, shape, 2, 0, levels, 16, ROWS * 16, idx)); put(idx, sizeof idx);
        }
    }
    for (int m = SQ_METHOD_MINMAX; m <= SQ_METHOD_ENTROPY_ORT; m++) {
        sq_observer_config cfg = {m, SQ_INT8, m % 2, 0, 0, 256, 0, 99.5, 0.01};
        sq_observer *ob = NULL;
        float scales[ROWS];
        int32_t zps[ROWS];
        CALL(sq_observer_create(&cfg, &ob));
        CALL(sq_observer_update(ob, x, shape, 2));
        CALL(sq_observer_update(ob, x + 17, shape2, 2));
        CALL(sq_observer_qparams(ob, scales, zps, ROWS));
        put(scales, sizeof scales); put(zps, sizeof zps);
        sq_observer_destroy(ob);
    }
    {
        sq_qparams pa = params(&s_mm, &z0, 1, SQ_INT8, SQ_PER_TENSOR);
        sq_qparams pb = params(&s_mm, NULL, 1, SQ_INT8, SQ_PER_TENSOR);
        sq_qparams py = params(&s_y, &z0, 1, SQ_INT8, SQ_PER_TENSOR);
        for (int r = SQ_ROUND_NEAREST_EVEN; r <= SQ_ROUND_STOCHASTIC; r++) {
            CALL(sq_qlinear_matmul(a8, ashape, 2, &pa, b8, bshape, 2, &pb, &py, r, 3, y8, MM * MN));
            put(y8, sizeof y8);
        }
        sq_qparams ta = params(&s_a, &z0, 1, SQ_INT8, SQ_PER_TENSOR);
        sq_qparams tb = params(&s_b, NULL, 1, SQ_INT8, SQ_PER_TENSOR);
        CALL(sq_matmul_f32(a8, ashape, 2, &ta, b8, bshape, 2, &tb, NULL, 0, yf, MM * MN)); put(yf, sizeof yf);
        CALL(sq_matmul_i32(a8, SQ_INT8, ashape, 2, 3, b8, SQ_INT8, bshape, 2, NULL, 0, c32, MM * MN));
        put(c32, sizeof c32);
    }
}

int main(void)
{
    /* Ties at every multiple of s/2, subnormals, values near the saturation limits, and a smooth ramp. */
    uint32_t state = 12345;
    for (int i = 0; i < N; i++) {
        state = state * 1664525u + 1013904223u;
        int k = (int)(state >> 16) % 1024 - 512;
        switch (i % 5) {
        case 0: x[i] = 0.125f * (float)k; break;             /* exact ties of 0.25 / 2 */
        case 1: x[i] = 1e-39f * (float)(k % 17);  break;      /* subnormal (DAZ reads them as 0) */
        case 2: x[i] = 3e-38f * (float)(k % 9); break;        /* around the tiny scales */
        case 3: x[i] = 31.875f + 0.0625f * (float)(k % 5); break;
        default: x[i] = (float)k / 3.0f; break;
        }
    }
    for (int i = 0; i < ROWS; i++) {
        s_rows[i] = i % 3 == 0 ? 1.5e-38f : 0.125f * (float)(i + 1) / 7.0f;  /* tiny normal scales too */
        z_rows[i] = (i * 37) % 255 - 127;
    }
    for (int i = 0; i < MM * MK; i++) a8[i] = (int8_t)((int)((unsigned)i * 7919u % 255u) - 127);
    for (int i = 0; i < MK * MN; i++) b8[i] = (int8_t)((int)((unsigned)i * 104729u % 251u) - 125);

    run_all();
    size_t n = out_len;
    unsigned char *baseline = malloc(n);
    if (!baseline) return 2;
    memcpy(baseline, out, n);

    struct { const char *name; int round; unsigned ftz_daz; } envs[] = {
        {"round down", FE_DOWNWARD, 0},      {"round up", FE_UPWARD, 0},
        {"round toward zero", FE_TOWARDZERO, 0}, {"FTZ + DAZ", FE_TONEAREST, 0x8040u},
        {"round up + FTZ + DAZ", FE_UPWARD, 0x8040u}, {"round down + FTZ + DAZ", FE_DOWNWARD, 0x8040u},
    };
    const unsigned mxcsr0 = _mm_getcsr();
    for (size_t e = 0; e < sizeof envs / sizeof envs[0]; e++) {
        fesetround(envs[e].round);
        _mm_setcsr(_mm_getcsr() | envs[e].ftz_daz);
        unsigned set = _mm_getcsr();
        run_all();  /* CALL checks each call restores `set` exactly */
        _mm_setcsr(mxcsr0);
        size_t first = 0;
        while (first < n && first < out_len && out[first] == baseline[first]) first++;
        int same = out_len == n && first == n;
        printf("  %-5s %s: %zu output bytes %s the default environment's%s", same ? "ok" : "FAIL", envs[e].name, n,
               same ? "identical to" : "differ from", same ? "\n" : "");
        if (!same) {
            int c = 0;
            while (c + 1 < n_calls && call_at[c + 1] <= first) c++;
            printf(" (first difference at byte %zu, in the output of call %d: %s)\n", first, c, call_name[c]);
        }
        same ? n_passed++ : n_failed++;
        if (set == mxcsr0) { printf("  FAIL  %s: could not set MXCSR %#x\n", envs[e].name, set); n_failed++; }
    }
    free(baseline);
    free(out);
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed == 0 ? 0 : 1;
}
