/*
 * fuzz_gptq - libFuzzer harness for sq_weight_quantize_gptq.
 * The input decodes to n, k (small, huge, negative), bits, a block size, symmetric and act_order (valid or
 * not), damp (ordinary, 0, negative, NaN, huge), the weights (finite, NaN, inf), a Hessian (X^T X of
 * input-chosen rows: positive semidefinite, possibly singular or with dead inputs; or an arbitrary
 * symmetric matrix, one made asymmetric, one with a NaN or a negative diagonal) and input scales (none,
 * positive, or one zero/NaN). Checks: memory safety, no trap, SQ_OK only for valid calls, every error with
 * a message, a positive semidefinite Hessian always succeeds (the damping fallback), codes within the bit
 * width, the reported damp at least the requested one and the grid that of sq_weight_quantize: with
 * act_order the scales and zero points are round-to-nearest's.
 */
#include <math.h>

#include "fuzz_common.h"

static int64_t pick_size(FuzzIn *f)
{
    uint8_t b = fz_u8(f);
    if (b < 240) return b % 40;
    return fz_pick_dim(f);
}

static float pick_float(FuzzIn *f, int *nonfinite)
{
    uint8_t b = fz_u8(f);
    if (b < 240) return ((float)(int8_t)fz_u8(f)) / 16.0f;
    *nonfinite = 1;
    return (b & 1) ? NAN : -INFINITY;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    FuzzIn *f = &in;
    int64_t n = pick_size(f), k = pick_size(f);
    static const int32_t bits_t[] = {4, 8, 2, 3, 5, 0};
    int32_t bits = bits_t[fz_u8(f) % 6];
    static const int64_t bs_t[] = {16, 32, 64, 16, 12, 0, -16, 131072};
    int64_t bs = bs_t[fz_u8(f) % 8];
    int32_t symmetric = fz_u8(f) % 3 == 2 ? 2 : (fz_u8(f) & 1);
    int32_t act_order = fz_u8(f) % 5 == 4 ? -1 : (fz_u8(f) & 1);
    static const double damp_t[] = {0.01, 0.0, 0.1, 1e4, -0.5, NAN, 1e5, INFINITY};
    double damp = damp_t[fz_u8(f) % 8];
    int damp_ok = damp >= 0 && damp <= 1e4;
    int bits_ok = bits == 2 || bits == 3 || bits == 4 || bits == 8;
    int bs_ok = bs >= 16 && bs <= 65536 && (bs & (bs - 1)) == 0;
    int64_t count = 0, kk = 0;
    int dims_ok = n >= 0 && k >= 0 && fz_mul(n, k, &count) && fz_mul(k, k, &kk);
    int64_t kb = dims_ok && bs_ok ? (k == 0 ? 0 : (k - 1) / bs + 1) : -1, nkb = 0;
    if (kb >= 0 && !fz_mul(n, kb, &nkb)) dims_ok = 0;
    int layout_ok = dims_ok && bits_ok && bs_ok;
    fz_log("n %lld k %lld bits %d block %lld sym %d act %d damp %g\n", (long long)n, (long long)k, bits, (long long)bs,
           symmetric, act_order, damp);

    int mf = !layout_ok;
    int64_t nbuf = layout_ok ? count : -1, pbuf = layout_ok ? nkb : -1, hbuf = layout_ok ? kk : -1;
    float *w = (float *)fz_buffer(nbuf, 4, &mf, fz_u8(f));
    double *h = (double *)fz_buffer(hbuf, 8, &mf, fz_u8(f));
    uint8_t *codes = (uint8_t *)fz_buffer(nbuf, 1, &mf, fz_u8(f));
    float *scales = (float *)fz_buffer(pbuf, 4, &mf, fz_u8(f));
    uint8_t *zps = (uint8_t *)fz_buffer(pbuf, 1, &mf, fz_u8(f));
    int64_t ne = (w != NULL && layout_ok && count <= FZ_MAX_ELEMS) ? count : 0;
    int64_t nh = (h != NULL && layout_ok && kk <= FZ_MAX_ELEMS) ? k : 0;

    int nonfinite = 0;
    for (int64_t i = 0; i < ne; i++) w[i] = pick_float(f, &nonfinite);
    /* The Hessian. */
    int h_kind = fz_u8(f) % 6, h_bad = 0;
    if (nh > 0) {
        if (h_kind <= 2) { /* X^T X of up to 12 rows of small integers: PSD, exactly symmetric */
            int rows = fz_u8(f) % 13;
            int8_t x[12 * 64]; /* nh <= 64: nh * nh <= FZ_MAX_ELEMS */
            for (int t = 0; t < rows * nh; t++) x[t] = (int8_t)(fz_u8(f) % 7) - 3;
            for (int64_t i = 0; i < nh; i++)
                for (int64_t j = 0; j < nh; j++) {
                    double s = 0;
                    for (int t = 0; t < rows; t++) s += (double)x[t * nh + i] * x[t * nh + j];
                    h[i * nh + j] = s;
                }
        } else { /* an arbitrary symmetric matrix with a non-negative diagonal, perhaps spoiled */
            for (int64_t i = 0; i < nh; i++)
                for (int64_t j = 0; j <= i; j++) {
                    double v = (double)(int8_t)fz_u8(f) / 8;
                    h[i * nh + j] = h[j * nh + i] = i == j ? fabs(v) : v;
                }
            int64_t a = fz_u8(f) % nh, b = fz_u8(f) % nh;
            if (h_kind == 4 && a != b) { h[a * nh + b] += 1; h_bad = 1; }                 /* not symmetric */
            if (h_kind == 5) { h[a * nh + a] = (fz_u8(f) & 1) ? NAN : -1.0; h_bad = 1; } /* NaN / negative */
        }
    }
    /* Input scales. */
    float *s = NULL;
    float sbuf[40];
    int s_bad = 0;
    if (k > 0 && k <= 40 && (fz_u8(f) & 3) == 0) {
        s = sbuf;
        for (int64_t j = 0; j < k; j++) sbuf[j] = (float)(1 + fz_u8(f) % 8) / 4;
        if (fz_u8(f) % 4 == 0) { sbuf[fz_u8(f) % k] = (fz_u8(f) & 1) ? 0.0f : NAN; s_bad = 1; }
    }
    sq_gptq_report rep;
    memset(&rep, 0, sizeof rep);
    sq_status st = sq_weight_quantize_gptq(w, n, k, bits, bs, symmetric, h, act_order, damp, s, codes, scales, zps,
                                           (fz_u8(f) & 1) ? &rep : NULL);
    fz_check_message(st, "sq_weight_quantize_gptq");
    int args_bad = mf || nonfinite || symmetric == 2 || act_order < 0 || !damp_ok || h_bad || s_bad;
    fz_expect_fail(st, args_bad, "sq_weight_quantize_gptq");
    /* Only an indefinite arbitrary matrix may legitimately fail beyond the argument checks. */
    if (st != SQ_OK && !args_bad && h_kind <= 2 && nh > 0)
        fz_fail("a positive semidefinite Hessian failed: status %d (%s)", (int)st, sq_last_error_message());
    if (st == SQ_OK && ne > 0) {
        for (int64_t i = 0; i < ne; i++)
            if (codes[i] > (1u << bits) - 1) fz_fail("code %u above %d bits", codes[i], bits);
        if (rep.rows_measured != 0 && !(rep.damp >= damp)) fz_fail("reported damp %g below the requested %g", rep.damp, damp);
        if (act_order == 1 && s == NULL) {
            uint8_t *c2 = (uint8_t *)fz_alloc(ne, 1), *z2 = (uint8_t *)fz_alloc(nkb, 1);
            float *s2 = (float *)fz_alloc(nkb, 4);
            for (int64_t i = 0; i < nh; i++)
                if (h[i * nh + i] == 0)
                    for (int64_t r = 0; r < n; r++) w[r * k + i] = 0; /* GPTQ zeroes dead inputs first */
            if (sq_weight_quantize(w, n, k, bits, bs, symmetric, c2, s2, z2) != SQ_OK) fz_fail("rtn failed");
            if (memcmp(s2, scales, (size_t)nkb * 4) != 0 || memcmp(z2, zps, (size_t)nkb) != 0)
                fz_fail("act_order: block parameters differ from round-to-nearest's");
            free(c2); free(z2); free(s2);
        }
    }
    free(w); free(h); free(codes); free(scales); free(zps);
    return 0;
}
