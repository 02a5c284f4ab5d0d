/*
 * fuzz_gguf - libFuzzer harness for the GGUF block formats: sq_gguf_block_info, sq_gguf_quantize,
 * sq_gguf_dequantize.
 * Decoding: byte 0 picks the mode (quantize first, dequantize first, block info); then the type (Q4_0,
 * Q4_1, Q8_0 mostly; 0, 1, 4, 7, 9, -1, INT32_MIN, INT32_MAX sometimes), the count (0..64 whole blocks
 * mostly; else fz_pick_dim: not a multiple of 32, 2^62, INT64_MAX, negative), the byte count (right, off by
 * one, 0, huge, negative), two NULL/empty selectors, then the data: floats by fz_fill_floats (NaN/inf runs,
 * 1e30, FLT_MAX, subnormals) or raw block bytes (a flag byte keeps every d and m finite, so most inputs
 * decode).
 * Checks: memory safety, no trap, SQ_OK exactly for valid calls, and for valid arguments the exact status
 * the header promises: SQ_ERROR_NONFINITE iff x holds NaN/inf (quantize) or a block stores an inf/NaN d
 * or m (dequantize), else SQ_ERROR_OUT_OF_RANGE iff some block's d or m reaches 65520 (float16 inf);
 * dequantized floats equal the header's formulas (computed here, with an independent float16 decoder);
 * quantizing dequantized floats gives the status predicted from them (OK after a quantize; decoded raw
 * bytes can exceed float16's limits: Q4_1 codes without a 0 lift the minimum, a stored Q8_0 code of -128
 * gives 128 |d|), and for Q4_0 and Q8_0 quantize -> dequantize -> quantize is then stable.
 */
#include "fuzz_common.h"

static const int32_t fz_bad_types[] = {0, 1, 4, 7, 9, -1, INT32_MIN, INT32_MAX};

static int64_t block_bytes_of(int32_t t)
{
    return t == SQ_GGUF_Q4_0 ? 18 : t == SQ_GGUF_Q4_1 ? 20 : t == SQ_GGUF_Q8_0 ? 34 : -1;
}

/* float16 bits -> float, exact (written here, independent of the library's). */
static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1F, m = h & 0x3FF, bits;
    if (e == 0x1F) {
        bits = sign | 0x7F800000u | (m << 13);
    } else if (e != 0) {
        bits = sign | ((e + 112) << 23) | (m << 13);
    } else {
        float v = ldexpf((float)m, -24);
        return sign ? -v : v;
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}
static uint16_t load_half(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static int half_finite(uint16_t h) { return (h & 0x7C00) != 0x7C00; }

/* Whether a block's stored d (or m) would be inf in float16: |v| >= 65520 (the tie with 65536 rounds to
 * even, i.e. to inf). The d of each format as the header defines it. */
static int block_overflows(int32_t t, const float *v)
{
    if (t == SQ_GGUF_Q4_1) {
        float mn = FLT_MAX, mx = -FLT_MAX;
        for (int j = 0; j < 32; j++) {
            if (v[j] < mn) mn = v[j];
            if (v[j] > mx) mx = v[j];
        }
        return fabsf((mx - mn) / 15) >= 65520.0f || fabsf(mn) >= 65520.0f;
    }
    float amax = 0;
    for (int j = 0; j < 32; j++)
        if (amax < fabsf(v[j])) amax = fabsf(v[j]);
    return (t == SQ_GGUF_Q4_0 ? amax / 8 : amax / 127) >= 65520.0f;
}

/* The expected status of a dequantize of valid size, and (if OK) checks every float against the header. */
static sq_status expected_dequantize(int32_t t, const uint8_t *data, int64_t blocks)
{
    int64_t bb = block_bytes_of(t);
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *p = data + b * bb;
        if (!half_finite(load_half(p)) || (t == SQ_GGUF_Q4_1 && !half_finite(load_half(p + 2))))
            return SQ_ERROR_NONFINITE;
    }
    return SQ_OK;
}

static void check_dequantized(int32_t t, const uint8_t *data, int64_t blocks, const float *y)
{
    int64_t bb = block_bytes_of(t);
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *p = data + b * bb;
        float d = half_to_float(load_half(p)), m = t == SQ_GGUF_Q4_1 ? half_to_float(load_half(p + 2)) : 0;
        for (int j = 0; j < 32; j++) {
            float want;
            if (t == SQ_GGUF_Q8_0) {
                want = (float)(int8_t)p[2 + j] * d;
            } else {
                const uint8_t *q = p + (t == SQ_GGUF_Q4_1 ? 4 : 2);
                int code = j < 16 ? (q[j] & 15) : (q[j - 16] >> 4);
                if (t == SQ_GGUF_Q4_0) {
                    want = (float)(code - 8) * d;
                } else {
                    float prod = (float)code * d; /* a separate statement: never contracted into an FMA */
                    want = prod + m;
                }
            }
            float got = y[b * 32 + j];
            if (memcmp(&got, &want, 4) != 0)
                fz_fail("sq_gguf_dequantize type %d: element %lld = %a, expected %a", (int)t,
                        (long long)(b * 32 + j), (double)got, (double)want);
            if (!isfinite(got)) fz_fail("sq_gguf_dequantize returned a non-finite value with SQ_OK");
        }
    }
}

/* quantize(dequantize(data)) fails exactly when a decoded block is beyond float16's limits (never after a
 * quantize: its blocks hold code 0 at the minimum and |code| <= 8 or 127). For Q4_0 and Q8_0,
 * quantize -> dequantize -> quantize is then stable: a block that quantized z to (d, q) with d != 0 in
 * float16 decodes to values whose largest magnitude is 8 |d| (127 |d|), so requantizing finds the same d
 * and codes. A block whose float16 d is 0 decodes to zeros and requantizes to the zero block. */
static void check_round_trips(int32_t t, const float *y1, int64_t count, int64_t nbytes, int after_quantize)
{
    int64_t bb = block_bytes_of(t);
    sq_status want = SQ_OK;
    for (int64_t b = 0; b < count / 32 && want == SQ_OK; b++)
        if (block_overflows(t, y1 + b * 32)) want = SQ_ERROR_OUT_OF_RANGE;
    if (after_quantize && want != SQ_OK) fz_fail("type %d: a quantized block decodes beyond float16's limits", (int)t);
    uint8_t *q2 = (uint8_t *)fz_alloc(nbytes, 1), *q3 = (uint8_t *)fz_alloc(nbytes, 1);
    float *y2 = (float *)fz_alloc(count, sizeof(float)), *y3 = (float *)fz_alloc(count, sizeof(float));
    sq_status st = sq_gguf_quantize(t, y1, count, q2, nbytes);
    fz_check_message(st, "sq_gguf_quantize of dequantized data");
    if (st != want) fz_fail("sq_gguf_quantize of dequantized data returned %d, expected %d", (int)st, (int)want);
    if (st != SQ_OK) goto done;
    if (sq_gguf_dequantize(t, q2, nbytes, y2, count) != SQ_OK) fz_fail("sq_gguf_dequantize of quantized data failed");
    check_dequantized(t, q2, count / 32, y2);
    if (sq_gguf_quantize(t, y2, count, q3, nbytes) != SQ_OK) fz_fail("second round trip: quantize failed");
    if (sq_gguf_dequantize(t, q3, nbytes, y3, count) != SQ_OK) fz_fail("second round trip: dequantize failed");
    check_dequantized(t, q3, count / 32, y3);
    for (int64_t b = 0; t != SQ_GGUF_Q4_1 && b < count / 32; b++) {
        const uint8_t *p2 = q2 + b * bb, *p3 = q3 + b * bb;
        if ((load_half(p2) & 0x7FFF) != 0) {
            if (memcmp(p2, p3, (size_t)bb) != 0 || memcmp(y2 + b * 32, y3 + b * 32, 32 * sizeof(float)) != 0)
                fz_fail("type %d block %lld: quantize -> dequantize -> quantize is not stable", (int)t, (long long)b);
        } else {
            for (int j = 0; j < 32; j++)
                if (y3[b * 32 + j] != 0) fz_fail("type %d block %lld: a float16 d of 0 did not decode to zeros", (int)t, (long long)b);
        }
    }
done:
    free(q2);
    free(q3);
    free(y2);
    free(y3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FuzzIn in = {data, size};
    FuzzIn *f = &in;
    uint8_t mode = fz_u8(f) % 3;
    uint8_t tb = fz_u8(f);
    int32_t t = tb < 200 ? (int32_t[]){SQ_GGUF_Q4_0, SQ_GGUF_Q4_1, SQ_GGUF_Q8_0}[tb % 3]
                         : fz_bad_types[tb % (sizeof fz_bad_types / sizeof fz_bad_types[0])];
    int64_t bb = block_bytes_of(t);
    int type_ok = bb > 0;

    if (mode == 2) {
        int64_t e = -1, b = -1;
        uint8_t sel = fz_u8(f);
        sq_status st = sq_gguf_block_info(t, (sel & 1) ? NULL : &e, (sel & 2) ? NULL : &b);
        fz_check_message(st, "sq_gguf_block_info");
        if ((st == SQ_OK) != type_ok) fz_fail("sq_gguf_block_info(%d) returned %d", (int)t, (int)st);
        if (st == SQ_OK && (!(sel & 1) && e != 32)) fz_fail("block_elements %lld", (long long)e);
        if (st == SQ_OK && (!(sel & 2) && b != bb)) fz_fail("block_bytes %lld", (long long)b);
        return 0;
    }

    uint8_t cb = fz_u8(f);
    int64_t count = cb < 220 ? 32 * (int64_t)(fz_u8(f) % 65) : fz_pick_dim(f);
    int count_ok = count >= 0 && count % 32 == 0;
    int64_t right = -1; /* count / 32 * block_bytes, or -1 when the count is invalid or it overflows */
    if (count_ok && type_ok && !fz_mul(count / 32, bb, &right)) right = -1;
    int64_t nbytes = fz_pick_count(f, right >= 0 ? right : 0);
    int mf = !type_ok || !count_ok || right < 0 || nbytes != right;
    uint8_t sel_a = fz_u8(f), sel_b = fz_u8(f);
    fz_log("gguf mode %d type %d count %lld bytes %lld (right %lld)\n", mode, (int)t, (long long)count,
           (long long)nbytes, (long long)right);

    if (mode == 0) {
        float *x = (float *)fz_buffer(count >= 0 ? count : -1, sizeof(float), &mf, sel_a);
        uint8_t *q = (uint8_t *)fz_buffer(nbytes >= 0 ? nbytes : -1, 1, &mf, sel_b);
        int64_t n = (x != NULL && count > 0 && count <= FZ_MAX_ELEMS) ? count : 0;
        fz_fill_floats(f, x, n);
        sq_status st = sq_gguf_quantize(t, x, count, q, nbytes);
        fz_check_message(st, "sq_gguf_quantize");
        fz_expect_fail(st, mf, "sq_gguf_quantize");
        if (!mf) {
            sq_status want = SQ_OK;
            if (fz_has_nonfinite(x, n)) {
                want = SQ_ERROR_NONFINITE;
            } else {
                for (int64_t b = 0; b < n / 32 && want == SQ_OK; b++)
                    if (block_overflows(t, x + b * 32)) want = SQ_ERROR_OUT_OF_RANGE;
            }
            if (st != want) fz_fail("sq_gguf_quantize type %d returned %d, expected %d", (int)t, (int)st, (int)want);
        }
        if (st == SQ_OK && n > 0) {
            float *y = (float *)fz_alloc(n, sizeof(float));
            sq_status st2 = sq_gguf_dequantize(t, q, nbytes, y, count);
            if (st2 != SQ_OK) fz_fail("sq_gguf_dequantize of sq_gguf_quantize's output failed: %d", (int)st2);
            check_dequantized(t, q, n / 32, y);
            check_round_trips(t, y, n, nbytes, 1);
            free(y);
        }
        free(x);
        free(q);
    } else {
        uint8_t *q = (uint8_t *)fz_buffer(nbytes >= 0 ? nbytes : -1, 1, &mf, sel_a);
        float *y = (float *)fz_buffer(count >= 0 ? count : -1, sizeof(float), &mf, sel_b);
        int64_t nq = (q != NULL && nbytes > 0 && nbytes <= FZ_MAX_ELEMS) ? nbytes : 0;
        int finite = fz_u8(f) < 200;
        for (int64_t i = 0; i < nq; i++) q[i] = fz_u8(f);
        if (finite && bb > 0)
            for (int64_t i = 1; i < nq; i += bb) {
                q[i] &= 0x7B; /* d: exponent below 31 */
                if (t == SQ_GGUF_Q4_1 && i + 2 < nq) q[i + 2] &= 0x7B;
            }
        sq_status st = sq_gguf_dequantize(t, q, nbytes, y, count);
        fz_check_message(st, "sq_gguf_dequantize");
        fz_expect_fail(st, mf, "sq_gguf_dequantize");
        int64_t blocks = (!mf && count > 0 && y != NULL && q != NULL) ? count / 32 : 0;
        if (!mf && blocks > 0) {
            sq_status want = expected_dequantize(t, q, blocks);
            if (st != want) fz_fail("sq_gguf_dequantize type %d returned %d, expected %d", (int)t, (int)st, (int)want);
        }
        if (st == SQ_OK && blocks > 0) {
            check_dequantized(t, q, blocks, y);
            check_round_trips(t, y, count, nbytes, 0);
        }
        free(q);
        free(y);
    }
    return 0;
}
