/*
 * mx_test.c - OCP MX block formats through the public header, from C: sq_mx_quantize / sq_mx_dequantize of
 * hand-computed blocks (scale codes, ties to even, saturation, zero / NaN / inf blocks, a partial last block,
 * a middle axis), the round trip of every format against a scalar decoder written here, and the error cases
 * with their status and message.
 *
 * Build and run: Tests/c/run.sh (run by ./run-tests). Last line: "N passed, M failed".
 */
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int msg_has(const char *s) { return strstr(sq_last_error_message(), s) != NULL; }

/* The value of an element code, written here from the format tables of swiftquant.h. */
static double element_value(int fmt, uint8_t c)
{
    static const int ebits[] = {4, 5, 3, 2, 2}, mbits[] = {3, 2, 2, 3, 1};
    if (fmt == SQ_MX_INT8) return (double)(int8_t)c / 64;
    int e = ebits[fmt], m = mbits[fmt], bits = 1 + e + m, bias = (1 << (e - 1)) - 1;
    int neg = (c >> (bits - 1)) & 1, mag = c & ((1 << (bits - 1)) - 1);
    int ex = mag >> m, man = mag & ((1 << m) - 1);
    if (fmt == SQ_MX_FP8_E4M3 && mag == 0x7F) return NAN;
    if (fmt == SQ_MX_FP8_E5M2 && ex == 31) return man ? NAN : (neg ? -INFINITY : INFINITY);
    double v = ex == 0 ? ldexp(man, 1 - bias - m) : ldexp((1 << m) | man, ex - bias - m);
    return neg ? -v : v;
}

int main(void)
{
    /* Block of 32 with amax 1.0: E2M1 X = floor(log2 1) - 2 = -2, scale code 125. */
    float x[64] = {0};
    uint8_t e[64], s[4];
    float y[64];
    int64_t shape1[1] = {32};
    x[0] = 1.0f;     /* 4.0 -> 0x6 */
    x[1] = 0.75f;    /* 3.0 -> 0x5 */
    x[2] = 0.3125f;  /* 1.25 -> tie between 1.0 and 1.5 -> 1.0 (even), 0x2 */
    x[3] = -0.4375f; /* -1.75 -> tie between 1.5 and 2.0 -> 2.0 (even), 0xC */
    check(sq_mx_quantize(x, shape1, 1, 0, SQ_MX_FP4, e, s, 1) == SQ_OK, "fp4 quantize");
    check(s[0] == 125, "fp4 scale code 125");
    check(e[0] == 0x6 && e[1] == 0x5 && e[2] == 0x2 && e[3] == 0xC, "fp4 codes and ties to even");
    check(sq_mx_dequantize(e, s, 1, shape1, 1, 0, SQ_MX_FP4, y) == SQ_OK, "fp4 dequantize");
    check(y[0] == 1.0f && y[1] == 0.75f && y[2] == 0.25f && y[3] == -0.5f, "fp4 values");
    x[0] = 1.999f; /* 7.996 -> saturates to 6 */
    check(sq_mx_quantize(x, shape1, 1, 0, SQ_MX_FP4, e, s, 1) == SQ_OK && e[0] == 0x7, "fp4 saturation");

    /* E4M3: amax 448 * 2^10 -> floor(log2) 18, X = 10, code 137, element 448 (0x7E). MXINT8 of the same. */
    memset(x, 0, sizeof x);
    x[0] = 448.0f * 1024.0f;
    x[1] = -1.0f;
    check(sq_mx_quantize(x, shape1, 1, 0, SQ_MX_FP8_E4M3, e, s, 1) == SQ_OK && s[0] == 137 && e[0] == 0x7E, "e4m3 max");
    check(e[1] == 0x80, "e4m3: -1 / 2^10 is half the smallest subnormal: ties to even, -0");
    check(sq_mx_quantize(x, shape1, 1, 0, SQ_MX_INT8, e, s, 1) == SQ_OK && s[0] == 145 && (int8_t)e[0] == 112, "int8");

    /* Zero, NaN and inf blocks; a partial last block (40 = 32 + 8). */
    int64_t shape2[2] = {3, 40};
    float z[120];
    uint8_t ez[120], sz[6];
    float yz[120];
    for (int i = 0; i < 120; i++) z[i] = 1.0f;
    for (int i = 0; i < 32; i++) z[i] = 0.0f;
    z[40 + 3] = NAN;
    z[80 + 35] = -INFINITY;
    check(sq_mx_quantize(z, shape2, 2, 1, SQ_MX_FP8_E5M2, ez, sz, 6) == SQ_OK, "special blocks");
    check(sz[0] == 0 && sz[1] == 112 && sz[2] == 255 && sz[3] == 112 && sz[4] == 112 && sz[5] == 255, "scale codes");
    check(sq_mx_dequantize(ez, sz, 6, shape2, 2, 1, SQ_MX_FP8_E5M2, yz) == SQ_OK, "special dequantize");
    check(yz[0] == 0 && isnan(yz[40]) && isnan(yz[71]) && yz[72] == 1.0f && isnan(yz[115]) && yz[80] == 1.0f, "NaN blocks");

    /* A middle axis: shape [2, 33, 3], axis 1 -> scales [2, 2, 3]; the round trip of every format is within
     * the element's precision and equals element_value * 2^(code - 127). */
    enum { A = 2, B = 33, C = 3, NS = A * 2 * C };
    int64_t shape3[3] = {A, B, C};
    float w[A * B * C], w2[A * B * C];
    uint8_t ew[A * B * C], sw[NS];
    unsigned long long st = 88172645463325252ull;
    for (int i = 0; i < A * B * C; i++) {
        st ^= st << 13; st ^= st >> 7; st ^= st << 17;
        w[i] = (float)ldexp((double)(st >> 11) / 9007199254740992.0 - 0.5, (int)(st % 20) - 10);
    }
    for (int fmt = 0; fmt <= SQ_MX_INT8; fmt++) {
        char what[64];
        snprintf(what, sizeof what, "format %d middle axis", fmt);
        check(sq_mx_quantize(w, shape3, 3, 1, fmt, ew, sw, NS) == SQ_OK, what);
        check(sq_mx_dequantize(ew, sw, NS, shape3, 3, 1, fmt, w2) == SQ_OK, what);
        int ok = 1;
        for (int a = 0; a < A; a++)
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++) {
                    int i = (a * B + b) * C + c, si = (a * 2 + b / 32) * C + c;
                    double want = element_value(fmt, ew[i]) * ldexp(1.0, sw[si] - 127);
                    if ((float)want != w2[i]) ok = 0;
                    if (fabs(w2[i] - w[i]) > fabs(w[i]) * 0.25 + ldexp(1.0, sw[si] - 127 + 3)) ok = 0;
                }
        check(ok, what);
    }

    /* Errors. */
    int64_t bad_shape[2] = {3, -1};
    check(sq_mx_quantize(z, shape2, 2, 1, SQ_MX_FP4, ez, sz, 5) == SQ_ERROR_SHAPE && msg_has("scale_count is 5"), "scale_count");
    check(sq_mx_quantize(z, shape2, 2, 2, SQ_MX_FP4, ez, sz, 6) == SQ_ERROR_INVALID_ARGUMENT && msg_has("axis"), "axis");
    check(sq_mx_quantize(z, shape2, 2, -1, SQ_MX_FP4, ez, sz, 6) == SQ_ERROR_INVALID_ARGUMENT && msg_has("axis"), "axis -1");
    check(sq_mx_quantize(z, shape2, 2, 1, 6, ez, sz, 6) == SQ_ERROR_INVALID_ARGUMENT && msg_has("format"), "format");
    check(sq_mx_quantize(NULL, shape2, 2, 1, SQ_MX_FP4, ez, sz, 6) == SQ_ERROR_NULL_POINTER && msg_has("x is NULL"), "x NULL");
    check(sq_mx_quantize(z, shape2, 2, 1, SQ_MX_FP4, NULL, sz, 6) == SQ_ERROR_NULL_POINTER && msg_has("elements_out"), "elements_out NULL");
    check(sq_mx_quantize(z, NULL, 2, 1, SQ_MX_FP4, ez, sz, 6) == SQ_ERROR_NULL_POINTER, "shape NULL");
    check(sq_mx_quantize(z, bad_shape, 2, 1, SQ_MX_FP4, ez, sz, 6) == SQ_ERROR_SHAPE, "negative dimension");
    check(sq_mx_quantize(z, NULL, 0, 0, SQ_MX_FP4, ez, sz, 1) == SQ_ERROR_INVALID_ARGUMENT && msg_has("0-dimensional"), "ndim 0");
    check(sq_mx_quantize(z, shape2, 2, 1, SQ_MX_FP4, ez, sz, 6) == SQ_OK, "fp4 of the special blocks");
    ez[77] = 16;
    check(sq_mx_dequantize(ez, sz, 6, shape2, 2, 1, SQ_MX_FP4, yz) == SQ_ERROR_OUT_OF_RANGE && msg_has("element 77"), "fp4 code 16");
    ez[77] = 64;
    check(sq_mx_dequantize(ez, sz, 6, shape2, 2, 1, SQ_MX_FP6_E2M3, yz) == SQ_ERROR_OUT_OF_RANGE && msg_has("element 77"), "fp6 code 64");
    check(sq_mx_dequantize(ez, sz, 6, shape2, 2, 1, SQ_MX_FP8_E4M3, yz) == SQ_OK, "every byte is an FP8 code");
    check(sq_mx_dequantize(ez, NULL, 6, shape2, 2, 1, SQ_MX_FP4, yz) == SQ_ERROR_NULL_POINTER && msg_has("scales is NULL"), "scales NULL");
    int64_t empty[2] = {0, 40};
    check(sq_mx_quantize(NULL, empty, 2, 1, SQ_MX_FP4, NULL, NULL, 0) == SQ_OK, "empty");
    return finish();
}
