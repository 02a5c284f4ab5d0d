/*
 * fuzz_blockweight - libFuzzer harness for block-quantized weights: sq_weight_quantize, sq_weight_dequantize,
 * sq_matmul_nbits_sizes / _pack / _unpack and sq_block_linear_create / _forward.
 * The input decodes to n, k (small, huge, negative), bits (valid and not), a block size (powers of two,
 * off-powers, huge, negative), the weights (finite, NaN, inf), codes and zero points (in range or one
 * above), scales (finite, negative, zero, NaN, inf), activations and a y_count (right or wrong). Checks:
 * memory safety, no trap, SQ_OK only for valid calls, every error with a message, and the round trips:
 * quantize -> dequantize within one step of w (asymmetric) and pack -> unpack gives the codes back.
 */
#include <math.h>

#include "fuzz_common.h"

static int32_t pick_bits(FuzzIn *f)
{
    static const int32_t t[] = {4, 8, 2, 3, 4, 8, 1, 5, 0, -1, 16};
    return t[fz_u8(f) % 11];
}

static int64_t pick_block_size(FuzzIn *f)
{
    static const int64_t t[] = {16, 32, 64, 128, 16, 32, 0, 8, 24, 65536, 131072, -16, INT64_MAX, (INT64_C(1) << 31)};
    return t[fz_u8(f) % 14];
}

static int64_t pick_size(FuzzIn *f)
{
    uint8_t b = fz_u8(f);
    if (b < 200) return b % 70;
    return fz_pick_dim(f);
}

static float pick_float(FuzzIn *f, int *nonfinite)
{
    uint8_t b = fz_u8(f);
    if (b < 230) return ((float)(int8_t)fz_u8(f)) / 16.0f;
    switch (b % 6) {
    case 0: *nonfinite = 1; return NAN;
    case 1: *nonfinite = 1; return INFINITY;
    case 2: return 0.0f;
    case 3: return -0.0f;
    case 4: return 1e30f;
    default: return 1e-40f;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    FuzzIn *f = &in;
    int64_t n = pick_size(f), k = pick_size(f);
    int32_t bits = pick_bits(f);
    int64_t bs = pick_block_size(f);
    int32_t symmetric = (fz_u8(f) % 8 == 0) ? 2 : (fz_u8(f) & 1);
    int bits_ok = bits == 2 || bits == 3 || bits == 4 || bits == 8;
    int bs_ok = bs >= 16 && bs <= 65536 && (bs & (bs - 1)) == 0;
    int64_t count = 0, kb = 0;
    int dims_ok = n >= 0 && k >= 0 && fz_mul(n, k, &count);
    if (dims_ok && bs_ok) kb = k == 0 ? 0 : (k - 1) / bs + 1;
    int64_t nkb = 0;
    if (dims_ok && bs_ok && !fz_mul(n, kb, &nkb)) dims_ok = 0;
    int layout_ok = dims_ok && bits_ok && bs_ok;
    fz_log("n %lld k %lld bits %d block %lld symmetric %d\n", (long long)n, (long long)k, bits, (long long)bs, symmetric);

    int mf = !layout_ok;
    int64_t nbuf = layout_ok ? count : -1, pbuf = layout_ok ? nkb : -1;
    float *w = (float *)fz_buffer(nbuf, 4, &mf, fz_u8(f));
    uint8_t *codes = (uint8_t *)fz_buffer(nbuf, 1, &mf, fz_u8(f));
    float *scales = (float *)fz_buffer(pbuf, 4, &mf, fz_u8(f));
    uint8_t *zps = (uint8_t *)fz_buffer(pbuf, 1, &mf, fz_u8(f));
    int64_t ne = (w != NULL && layout_ok && count <= FZ_MAX_ELEMS) ? count : 0;
    int64_t np = (scales != NULL && layout_ok && nkb <= FZ_MAX_ELEMS) ? nkb : 0;

    /* 1. Quantize (and check dequantize round trips). */
    int nonfinite = 0;
    for (int64_t i = 0; i < ne; i++) w[i] = pick_float(f, &nonfinite);
    sq_status st = sq_weight_quantize(w, n, k, bits, bs, symmetric, codes, scales, zps);
    fz_check_message(st, "sq_weight_quantize");
    fz_expect_fail(st, mf || nonfinite || symmetric == 2, "sq_weight_quantize");
    if (st == SQ_OK && ne > 0) {
        for (int64_t i = 0; i < ne; i++)
            if (codes[i] > (1u << bits) - 1) fz_fail("sq_weight_quantize: code %u above %d bits", codes[i], bits);
        float *back = (float *)fz_alloc(ne, 4);
        sq_status s2 = sq_weight_dequantize(codes, scales, zps, n, k, bits, bs, back);
        if (s2 != SQ_OK) fz_fail("sq_weight_dequantize of sq_weight_quantize's output failed: %d", (int)s2);
        for (int64_t i = 0; i < ne; i++) {
            float s = fabsf(scales[(i / k) * kb + (i % k) / bs]);
            if (!isfinite(back[i])) fz_fail("dequantized element %lld is not finite", (long long)i);
            /* Asymmetric grids cover the block's range: within one step (and float rounding). */
            if (!symmetric && fabsf(back[i] - w[i]) > s * 1.0001f + 1e-6f * fabsf(w[i]) + 1e-37f)
                fz_fail("element %lld: %g dequantizes to %g, more than one step %g away", (long long)i, w[i], back[i], s);
        }
        free(back);
    }

    /* 2. Codes, scales, zero points from the input: dequantize validates them. */
    int bad_code = 0, bad_zp = 0, bad_scale = 0;
    uint8_t top = bits_ok ? (uint8_t)((1u << bits) - 1) : 255;
    if (st != SQ_OK || (fz_u8(f) & 1)) {
        for (int64_t i = 0; i < ne; i++) {
            uint8_t b = fz_u8(f);
            codes[i] = b < 250 ? (uint8_t)(b % (top + 1u)) : (uint8_t)(top + 1);
            if (codes[i] > top) bad_code = 1;
        }
        for (int64_t i = 0; i < np; i++) {
            int nf = 0;
            scales[i] = pick_float(f, &nf);
            if (nf) bad_scale = 1;
            uint8_t b = fz_u8(f);
            zps[i] = b < 250 ? (uint8_t)(b % (top + 1u)) : (uint8_t)(top + 1);
            if (zps[i] > top) bad_zp = 1;
        }
    } else {
        for (int64_t i = 0; i < np; i++) if (!isfinite(scales[i])) bad_scale = 1;
    }
    const uint8_t *zarg = (fz_u8(f) & 3) ? zps : NULL;
    int zbad = zarg != NULL && bad_zp;
    float *out = (float *)fz_buffer(nbuf, 4, &mf, fz_u8(f));
    st = sq_weight_dequantize(codes, scales, zarg, n, k, bits, bs, out);
    fz_check_message(st, "sq_weight_dequantize");
    fz_expect_fail(st, mf || bad_code || zbad || bad_scale, "sq_weight_dequantize");

    /* 3. MatMulNBits layout: sizes, pack, unpack. */
    int64_t bb = -1, zb = -1;
    st = sq_matmul_nbits_sizes(n, k, bits, bs, &bb, &zb);
    fz_check_message(st, "sq_matmul_nbits_sizes");
    int nbits_ok = layout_ok && (bits == 2 || bits == 4 || bits == 8);
    fz_expect_fail(st, !nbits_ok, "sq_matmul_nbits_sizes");
    if (st == SQ_OK && bb >= 0 && bb <= FZ_MAX_ELEMS && zb >= 0 && zb <= FZ_MAX_ELEMS && !mf) {
        uint8_t *b = (uint8_t *)fz_alloc(bb, 1), *pz = (uint8_t *)fz_alloc(zb, 1);
        st = sq_matmul_nbits_pack(codes, scales, zarg, n, k, bits, bs, b, (fz_u8(f) & 1) ? pz : NULL);
        fz_check_message(st, "sq_matmul_nbits_pack");
        fz_expect_fail(st, bad_code || zbad || bad_scale, "sq_matmul_nbits_pack");
        if (st == SQ_OK) {
            /* Pack the zero points too, then unpack both: the same codes and zero points come back. */
            if (sq_matmul_nbits_pack(codes, scales, zarg, n, k, bits, bs, b, pz) != SQ_OK) fz_fail("second pack failed");
            uint8_t *c2 = (uint8_t *)fz_alloc(ne, 1), *z2 = (uint8_t *)fz_alloc(np, 1);
            if (sq_matmul_nbits_unpack(b, scales, pz, n, k, bits, bs, c2, z2) != SQ_OK) fz_fail("unpack of pack failed");
            if (ne && memcmp(c2, codes, (size_t)ne) != 0) fz_fail("MatMulNBits pack/unpack: codes differ");
            for (int64_t i = 0; i < np; i++) {
                uint8_t want = zarg ? zps[i] : (uint8_t)(1u << (bits - 1));
                if (z2[i] != want) fz_fail("MatMulNBits pack/unpack: zero point %lld is %u, expected %u", (long long)i, z2[i], want);
            }
            /* Unpack of arbitrary bytes: succeeds (padding ignored) with in-range codes. */
            for (int64_t i = 0; i < bb; i++) b[i] = fz_u8(f);
            if (sq_matmul_nbits_unpack(b, scales, NULL, n, k, bits, bs, c2, z2) != SQ_OK) fz_fail("unpack of any bytes failed");
            for (int64_t i = 0; i < ne; i++) if (c2[i] > top) fz_fail("unpack: code above %d bits", bits);
            free(c2);
            free(z2);
        }
        free(b);
        free(pz);
    }

    /* 4. The layer. */
    int32_t activation = (fz_u8(f) % 6 == 0) ? (int32_t)(fz_u8(f) % 5) : 2 + (fz_u8(f) & 1);
    int nbias_bad = 0;
    float *bias = NULL;
    if (fz_u8(f) & 1) {
        bias = (float *)fz_buffer(layout_ok ? n : -1, 4, &mf, fz_u8(f));
        for (int64_t i = 0; bias && layout_ok && i < n && n <= FZ_MAX_ELEMS; i++) bias[i] = pick_float(f, &nbias_bad);
    }
    sq_block_linear *layer = NULL;
    st = sq_block_linear_create(codes, scales, zarg, n, k, bits, bs, bias, activation, &layer);
    fz_check_message(st, "sq_block_linear_create");
    fz_expect_fail(st, mf || bad_code || zbad || bad_scale || nbias_bad || n < 1 || k < 1 ||
                   (activation != 2 && activation != 3), "sq_block_linear_create");
    if ((st == SQ_OK) != (layer != NULL)) fz_fail("sq_block_linear_create: status %d with handle %p", (int)st, (void *)layer);
    if (layer != NULL) {
        int64_t rows = fz_u8(f) % 5;
        int64_t shape[3] = {rows, k, 0};
        int32_t ndim = 2;
        uint8_t sel = fz_u8(f);
        if (sel % 8 == 0) shape[1] = k + 1;                    /* wrong last dimension */
        int64_t xn = rows * k, yn = rows * n;
        if (sel % 8 == 1) yn += 1;                             /* wrong y_count */
        int mf2 = shape[1] != k || yn != rows * n;
        int nf = 0;
        float *x = (float *)fz_alloc(xn <= FZ_MAX_ELEMS ? xn : 0, 4);
        float *y = (float *)fz_alloc(yn <= FZ_MAX_ELEMS ? yn : 0, 4);
        if (xn <= FZ_MAX_ELEMS && yn <= FZ_MAX_ELEMS) {
            for (int64_t i = 0; i < xn; i++) x[i] = pick_float(f, &nf);
            st = sq_block_linear_forward(layer, x, shape, ndim, y, yn);
            fz_check_message(st, "sq_block_linear_forward");
            fz_expect_fail(st, mf2 || nf, "sq_block_linear_forward");
        }
        free(x);
        free(y);
        sq_block_linear_destroy(layer);
    }
    sq_block_linear_destroy(NULL);
    free(bias);
    free(out);
    free(w);
    free(codes);
    free(scales);
    free(zps);
    return 0;
}
