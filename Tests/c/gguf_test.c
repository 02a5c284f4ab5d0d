/*
 * gguf_test.c - the GGUF block formats through the public header, from C: sq_gguf_quantize of a 64 x 256
 * tensor (x = ((i * 7919) % 2001 - 1000) / 256, one all-zero block) must give exactly the bytes gguf-py's
 * gguf.quants.quantize gives (pinned below: the first two blocks and an FNV-1a hash of all of them, computed
 * with gguf 0.19), dequantize must follow the header's formulas, and the error cases return their status
 * with a message.
 *
 * Build and run: Tests/c/run.sh (run by ./run-tests). Last line: "N passed, M failed".
 */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS 64
#define COLS 256
#define N (ROWS * COLS)


static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001B3ull;
    return h;
}

static int hex_equal(const uint8_t *p, const char *hex)
{
    for (size_t i = 0; hex[2 * i]; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1 || p[i] != v) return 0;
    }
    return 1;
}

static float half_to_float(const uint8_t *p)
{
    unsigned h = p[0] | (p[1] << 8), e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? ldexpf((float)m, -24) : ldexpf((float)(m | 1024), (int)e - 25);
    return (h & 0x8000) ? -v : v;
}

static const struct {
    int32_t type;
    int64_t block_bytes;
    uint64_t hash;
    const char *first_blocks;
} pins[] = {
    {SQ_GGUF_Q4_0, 18, 0x492a097441ae737aull,
     "d037504f4f3e2d2d1c0bfbfae9e9d8c7c6b6c237fafae9d8d8c7b6b5a594938372716150"},
    {SQ_GGUF_Q4_1, 20, 0xdff8c5f3738023ebull,
     "1638d0c3504f4e3d2d2c1b0bfae9e9d8c7c7b6a6fc37c2c3fae9e9d8c7c7b6a5a594838372616150"},
    {SQ_GGUF_Q8_0, 34, 0x926c5f377751bb3aull,
     "e02781746a5f54493e34291e1308fef3e8ddd2c8bdb2a79c92877a6f655a4f44392fd22724190e03f9eee3d8cdc2b7aca2978c81766b60554b40352a1f1409fef4e9ded3"},
};

int main(void)
{
    static float x[N], y[N];
    static uint8_t q[N / 32 * 34];
    for (int64_t i = 0; i < N; i++) x[i] = (float)((i * 7919) % 2001 - 1000) / 256.0f;
    x[5 * COLS + 40] = 0.0f;
    for (int j = 0; j < 32; j++) x[7 * COLS + j] = 0.0f;

    for (size_t k = 0; k < sizeof pins / sizeof pins[0]; k++) {
        int32_t t = pins[k].type;
        int64_t bb = pins[k].block_bytes, nbytes = N / 32 * bb, e = 0, b = 0;
        char what[128];
        check(sq_gguf_block_info(t, &e, &b) == SQ_OK && e == 32 && b == bb, "sq_gguf_block_info");
        check(sq_gguf_quantize(t, x, N, q, nbytes) == SQ_OK, "sq_gguf_quantize");
        snprintf(what, sizeof what, "type %d: the first two blocks are gguf-py's", (int)t);
        check(hex_equal(q, pins[k].first_blocks), what);
        snprintf(what, sizeof what, "type %d: all %lld bytes hash to gguf-py's (FNV-1a %016llx)", (int)t,
                 (long long)nbytes, (unsigned long long)fnv1a(q, (size_t)nbytes));
        check(fnv1a(q, (size_t)nbytes) == pins[k].hash, what);

        check(sq_gguf_dequantize(t, q, nbytes, y, N) == SQ_OK, "sq_gguf_dequantize");
        int formula = 1;
        for (int64_t i = 0; i < N && formula; i++) {
            const uint8_t *blk = q + (i / 32) * bb;
            int j = (int)(i % 32);
            float d = half_to_float(blk), want;
            if (t == SQ_GGUF_Q8_0) {
                want = (float)(int8_t)blk[2 + j] * d;
            } else {
                const uint8_t *nib = blk + (t == SQ_GGUF_Q4_1 ? 4 : 2);
                int code = j < 16 ? (nib[j] & 15) : (nib[j - 16] >> 4);
                float prod = (float)(t == SQ_GGUF_Q4_0 ? code - 8 : code) * d;
                want = t == SQ_GGUF_Q4_1 ? prod + half_to_float(blk + 2) : prod;
            }
            formula = memcmp(&want, &y[i], 4) == 0;
        }
        snprintf(what, sizeof what, "type %d: dequantize follows the header's formula", (int)t);
        check(formula, what);

        /* Errors. */
        check(sq_gguf_quantize(t, x, 48, q, 36) == SQ_ERROR_SHAPE, "count not a multiple of 32");
        check(sq_gguf_quantize(t, x, 64, q, 2 * bb + 1) == SQ_ERROR_SHAPE, "wrong out_bytes");
        check(sq_gguf_quantize(t, NULL, 64, q, 2 * bb) == SQ_ERROR_NULL_POINTER, "NULL x");
        check(sq_gguf_quantize(t, NULL, 0, NULL, 0) == SQ_OK, "empty with NULL");
        float saved = x[33];
        x[33] = NAN;
        check(sq_gguf_quantize(t, x, N, q, nbytes) == SQ_ERROR_NONFINITE &&
                  strstr(sq_last_error_message(), "element 33") != NULL, "NaN named by its index");
        x[33] = 1e7f;
        check(sq_gguf_quantize(t, x, N, q, nbytes) == SQ_ERROR_OUT_OF_RANGE &&
                  strstr(sq_last_error_message(), "block 1 ") != NULL, "float16 overflow of d named by its block");
        x[33] = saved;
        check(sq_gguf_quantize(t, x, N, q, nbytes) == SQ_OK, "requantize");
        q[bb + 1] = 0x7C; /* block 1: d's exponent all ones */
        check(sq_gguf_dequantize(t, q, nbytes, y, N) == SQ_ERROR_NONFINITE &&
                  strstr(sq_last_error_message(), "block 1 ") != NULL, "inf/NaN d named by its block");
    }
    check(sq_gguf_block_info(4, NULL, NULL) == SQ_ERROR_INVALID_ARGUMENT, "unknown type");
    return finish();
}
