/*
 * concurrency_test.c - many threads calling SwiftQuant at once, on separate data, for ThreadSanitizer.
 *
 * Each of NTHREADS threads repeatedly runs, on its own inputs and outputs:
 *   sq_quantize (per tensor, nearest-even and seeded stochastic; per channel), sq_dequantize,
 *   sq_fake_quantize, sq_matmul_i32, sq_qlinear_matmul, sq_matmul_i32_packed and sq_qlinear_matmul_packed
 *   with one packed B matrix shared by every thread, and sq_observer_update / sq_observer_qparams /
 *   sq_observer_merge on observers of its own (minmax and histogram methods);
 * and compares every result bit for bit with the results computed single-threaded before the threads
 * start. Sizes are large enough that the library's own worker pool runs too (its try-lock and inline
 * fallback are exercised by concurrent callers).
 *
 * Exit status: 0 when every result matched and every call succeeded; 1 otherwise (the first mismatches are
 * printed). Under ThreadSanitizer, run with TSAN_OPTIONS=halt_on_error=1 (or exitcode=66) so a data race
 * report fails the run.
 *
 * Build (scripts/run-sanitizers does this against the TSan library):
 *   clang -std=c11 -O1 -g -fsanitize=thread -I Include Tests/concurrency/concurrency_test.c \
 *       -L <libdir> -lSwiftQuant -Wl,-rpath,<libdir> -lpthread -lm
 */
#include "swiftquant.h"

#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 8
#define ITERATIONS 6
#define NX (1 << 16)          /* elements per quantize call */
#define ROWS 64               /* per-channel quantize: [ROWS, NX / ROWS] */
#define MM_M 48
#define MM_K 256
#define MM_N 64
#define OBS_BATCHES 3

typedef struct Expected {
    int8_t q_even[NX];
    int8_t q_stoch[NX];
    uint8_t q_chan[NX];
    float deq[NX];
    float fake[NX];
    int32_t c[MM_M * MM_N];
    int8_t y[MM_M * MM_N];
    int8_t y_packed[MM_M * MM_N];
    float obs_scale[3][ROWS];
    int32_t obs_zp[3][ROWS];
    float merged_scale[ROWS];
    int32_t merged_zp[ROWS];
} Expected;

typedef struct ThreadData {
    int id;
    float x[NX];
    float chan_scale[ROWS];
    int32_t chan_zp[ROWS];
    int8_t a[MM_M * MM_K];
    Expected want;
    Expected got;
    int failures;
    char first_failure[256];
} ThreadData;

static uint8_t g_b[MM_K * MM_N];      /* shared B (uint8), read by every thread */
static int32_t g_b_zp[MM_N];
static float g_b_scale[MM_N];
static sq_packed *g_packed;           /* shared packed B */

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}
static float uniform(uint64_t *s) { return (float)((splitmix(s) >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }

static void fail(ThreadData *t, const char *what, sq_status st)
{
    if (t->failures++ == 0)
        snprintf(t->first_failure, sizeof t->first_failure, "%s: %s (%s)", what, sq_status_string(st),
                 st != SQ_OK ? sq_last_error_message() : "result differs from the single-threaded one");
}

static sq_qparams per_tensor(const float *scale, const int32_t *zp, int32_t dtype)
{
    sq_qparams p = {scale, zp, 1, dtype, SQ_PER_TENSOR, 0};
    return p;
}

static const float k_scale = 0.0125f;
static const int32_t k_zp = 3;
static const float k_a_scale = 0.02f, k_y_scale = 4.0f;
static const int32_t k_a_zp = -2, k_y_zp = 1;

/* One round of every operation into *out; returns 0 if a call failed. */
static int run_all(ThreadData *t, Expected *out)
{
    const int64_t shape1[1] = {NX};
    const int64_t shape2[2] = {ROWS, NX / ROWS};
    sq_qparams pt = per_tensor(&k_scale, &k_zp, SQ_INT8);
    sq_qparams pc = {t->chan_scale, t->chan_zp, ROWS, SQ_UINT8, 0, 0};
    sq_status st;
#define CALL(expr, name)                                                                                 \
    do {                                                                                                 \
        st = (expr);                                                                                     \
        if (st != SQ_OK) { fail(t, name, st); return 0; }                                                \
    } while (0)
    CALL(sq_quantize(t->x, shape1, 1, &pt, SQ_ROUND_NEAREST_EVEN, 0, out->q_even), "sq_quantize");
    CALL(sq_quantize(t->x, shape1, 1, &pt, SQ_ROUND_STOCHASTIC, 1234 + (uint64_t)t->id, out->q_stoch), "sq_quantize stochastic");
    CALL(sq_quantize(t->x, shape2, 2, &pc, SQ_ROUND_HALF_AWAY, 0, out->q_chan), "sq_quantize per channel");
    CALL(sq_dequantize(out->q_even, shape1, 1, &pt, out->deq), "sq_dequantize");
    CALL(sq_fake_quantize(t->x, shape1, 1, &pt, SQ_ROUND_FLOOR, 0, out->fake), "sq_fake_quantize");

    const int64_t a_shape[2] = {MM_M, MM_K}, b_shape[2] = {MM_K, MM_N};
    CALL(sq_matmul_i32(t->a, SQ_INT8, a_shape, 2, k_a_zp, g_b, SQ_UINT8, b_shape, 2, g_b_zp, MM_N, out->c, MM_M * MM_N),
         "sq_matmul_i32");
    sq_qparams ap = per_tensor(&k_a_scale, &k_a_zp, SQ_INT8);
    sq_qparams bp = {g_b_scale, g_b_zp, MM_N, SQ_UINT8, 1, 0};
    sq_qparams yp = per_tensor(&k_y_scale, &k_y_zp, SQ_INT8);
    CALL(sq_qlinear_matmul(t->a, a_shape, 2, &ap, g_b, b_shape, 2, &bp, &yp, SQ_ROUND_NEAREST_EVEN, 0, out->y, MM_M * MM_N),
         "sq_qlinear_matmul");
    int32_t c_packed[MM_M * MM_N];
    CALL(sq_matmul_i32_packed(t->a, SQ_INT8, a_shape, 2, k_a_zp, g_packed, c_packed, MM_M * MM_N), "sq_matmul_i32_packed");
    if (memcmp(c_packed, out->c, sizeof c_packed) != 0) { fail(t, "sq_matmul_i32_packed != sq_matmul_i32", SQ_OK); return 0; }
    CALL(sq_qlinear_matmul_packed(t->a, a_shape, 2, &ap, g_packed, &yp, SQ_ROUND_NEAREST_EVEN, 0, out->y_packed, MM_M * MM_N),
         "sq_qlinear_matmul_packed");

    /* Observers of this thread only: minmax per channel, percentile per tensor, entropy per channel. */
    sq_observer_config cfg[3];
    memset(cfg, 0, sizeof cfg);
    cfg[0].method = SQ_METHOD_MINMAX; cfg[0].dtype = SQ_UINT8; cfg[0].axis = 0;
    cfg[1].method = SQ_METHOD_PERCENTILE; cfg[1].dtype = SQ_INT8; cfg[1].symmetric = 1; cfg[1].axis = SQ_PER_TENSOR;
    cfg[1].num_bins = 2048; cfg[1].percentile = 99.9;
    cfg[2].method = SQ_METHOD_ENTROPY; cfg[2].dtype = SQ_INT8; cfg[2].symmetric = 1; cfg[2].axis = 0; cfg[2].num_bins = 256;
    sq_observer *obs[3] = {NULL, NULL, NULL};
    sq_observer *half = NULL;
    int ok = 1;
    for (int k = 0; k < 3 && ok; k++) {
        if ((st = sq_observer_create(&cfg[k], &obs[k])) != SQ_OK) { fail(t, "sq_observer_create", st); ok = 0; break; }
        for (int b = 0; b < OBS_BATCHES && ok; b++) {
            /* Batch b: rows of x scaled by (b + 1). */
            static _Thread_local float batch[NX];
            for (int i = 0; i < NX; i++) batch[i] = t->x[i] * (float)(b + 1);
            if ((st = sq_observer_update(obs[k], batch, shape2, 2)) != SQ_OK) { fail(t, "sq_observer_update", st); ok = 0; }
        }
        int64_t groups = 0;
        if (ok && (st = sq_observer_groups(obs[k], &groups, NULL, NULL)) != SQ_OK) { fail(t, "sq_observer_groups", st); ok = 0; }
        if (ok && (st = sq_observer_qparams(obs[k], out->obs_scale[k], out->obs_zp[k], groups)) != SQ_OK) {
            fail(t, "sq_observer_qparams", st);
            ok = 0;
        }
    }
    /* Merge: a second minmax observer fed the first batch, merged into a fresh one. */
    if (ok && (st = sq_observer_create(&cfg[0], &half)) != SQ_OK) { fail(t, "sq_observer_create", st); ok = 0; }
    if (ok && (st = sq_observer_update(half, t->x, shape2, 2)) != SQ_OK) { fail(t, "sq_observer_update", st); ok = 0; }
    if (ok && (st = sq_observer_merge(half, obs[0])) != SQ_OK) { fail(t, "sq_observer_merge", st); ok = 0; }
    if (ok && (st = sq_observer_qparams(half, out->merged_scale, out->merged_zp, ROWS)) != SQ_OK) {
        fail(t, "sq_observer_qparams (merged)", st);
        ok = 0;
    }
    for (int k = 0; k < 3; k++) sq_observer_destroy(obs[k]);
    sq_observer_destroy(half);
#undef CALL
    return ok;
}

static void *worker(void *arg)
{
    ThreadData *t = (ThreadData *)arg;
    for (int it = 0; it < ITERATIONS; it++) {
        memset(&t->got, 0x5A, sizeof t->got);
        if (!run_all(t, &t->got)) break;
        if (memcmp(&t->got, &t->want, sizeof t->got) != 0) {
            /* Name the first differing field. */
            const char *names[] = {"q_even", "q_stoch", "q_chan", "deq", "fake", "c", "y", "y_packed",
                                   "obs_scale", "obs_zp", "merged_scale", "merged_zp"};
            size_t offs[] = {offsetof(Expected, q_even), offsetof(Expected, q_stoch), offsetof(Expected, q_chan),
                             offsetof(Expected, deq), offsetof(Expected, fake), offsetof(Expected, c),
                             offsetof(Expected, y), offsetof(Expected, y_packed), offsetof(Expected, obs_scale),
                             offsetof(Expected, obs_zp), offsetof(Expected, merged_scale), offsetof(Expected, merged_zp),
                             sizeof(Expected)};
            const char *which = "?";
            for (int k = 0; k < 12; k++)
                if (memcmp((char *)&t->got + offs[k], (char *)&t->want + offs[k], offs[k + 1] - offs[k]) != 0) {
                    which = names[k];
                    break;
                }
            char msg[128];
            snprintf(msg, sizeof msg, "iteration %d: %s", it, which);
            fail(t, msg, SQ_OK);
            break;
        }
    }
    return NULL;
}

int main(void)
{
    static ThreadData td[NTHREADS];
    uint64_t seed = 42;
    for (int i = 0; i < MM_K * MM_N; i++) g_b[i] = (uint8_t)(splitmix(&seed) & 0xFF);
    for (int j = 0; j < MM_N; j++) {
        g_b_zp[j] = 100 + j;
        g_b_scale[j] = 0.01f + 0.001f * (float)j;
    }
    const int64_t b_shape[2] = {MM_K, MM_N};
    sq_qparams bp = {g_b_scale, g_b_zp, MM_N, SQ_UINT8, 1, 0};
    sq_status st = sq_pack(g_b, b_shape, 2, &bp, &g_packed);
    if (st != SQ_OK) {
        fprintf(stderr, "sq_pack: %s: %s\n", sq_status_string(st), sq_last_error_message());
        return 1;
    }
    for (int t = 0; t < NTHREADS; t++) {
        ThreadData *d = &td[t];
        d->id = t;
        uint64_t s = 1000 + (uint64_t)t;
        for (int i = 0; i < NX; i++) d->x[i] = uniform(&s) * (1.0f + (float)t) + ((i % 97 == 0) ? 0.5f * (float)t : 0.0f);
        for (int r = 0; r < ROWS; r++) {
            d->chan_scale[r] = 0.01f * (float)(1 + (r + t) % 7);
            d->chan_zp[r] = 100 + r;
        }
        for (int i = 0; i < MM_M * MM_K; i++) d->a[i] = (int8_t)(splitmix(&s) & 0xFF);
        /* Single-threaded results first. */
        memset(&d->want, 0x5A, sizeof d->want);
        if (!run_all(d, &d->want)) {
            fprintf(stderr, "single-threaded run of thread %d failed: %s\n", t, d->first_failure);
            return 1;
        }
    }
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++)
        if (pthread_create(&th[t], NULL, worker, &td[t]) != 0) { fprintf(stderr, "pthread_create failed\n"); return 1; }
    for (int t = 0; t < NTHREADS; t++) pthread_join(th[t], NULL);
    sq_packed_destroy(g_packed);

    int failed = 0;
    for (int t = 0; t < NTHREADS; t++)
        if (td[t].failures) {
            failed++;
            fprintf(stderr, "thread %d: %d failure(s); first: %s\n", t, td[t].failures, td[t].first_failure);
        }
    printf("concurrency: %d threads x %d iterations, %d thread(s) failed\n", NTHREADS, ITERATIONS, failed);
    return failed ? 1 : 0;
}
