/*
 * float_format_test - the float formats through the C ABI, with values worked out by hand from the header's
 * table and rules (sq_dtype): codes, saturation, NaN, FNUZ's zero, decoding, calibration, FP4 packing, and
 * the errors an integer-only call gives a float dtype.
 */
#include <math.h>
#include <string.h>

#include "check.h"

static int same_bytes(const uint8_t *a, const uint8_t *b, int n) { return memcmp(a, b, (size_t)n) == 0; }

int main(void)
{
    int64_t shape6[1] = {6};
    float one = 1.0f, two = 2.0f;

    /* E4M3FN, scale 2: 0.5 -> 0x30, 448 -> 0x7E, 500 -> 0x7E saturated or 0x7F (NaN) without, +inf likewise. */
    const float x[6] = {1.0f, -1.0f, 896.0f, 1000.0f, INFINITY, -0.0f};
    sq_qparams p = {&two, NULL, 1, SQ_FLOAT8E4M3FN, SQ_PER_TENSOR, 0};
    uint8_t q[6], qn[6];
    const uint8_t want_sat[6] = {0x30, 0xB0, 0x7E, 0x7E, 0x7E, 0x80}, want_nosat[6] = {0x30, 0xB0, 0x7E, 0x7F, 0x7F, 0x80};
    check(sq_quantize(x, shape6, 1, &p, SQ_ROUND_NEAREST_EVEN, 0, q) == SQ_OK && same_bytes(q, want_sat, 6),
          "e4m3fn sq_quantize saturates");
    check(sq_quantize_float(x, shape6, 1, &p, 0, qn) == SQ_OK && same_bytes(qn, want_nosat, 6),
          "e4m3fn sq_quantize_float(saturate = 0) gives NaN for overflow");
    float back[6];
    check(sq_dequantize(q, shape6, 1, &p, back) == SQ_OK && back[0] == 1.0f && back[2] == 896.0f && back[3] == 896.0f &&
              back[5] == 0.0f && signbit(back[5]), "e4m3fn decodes, -0 kept");
    check(sq_dequantize(qn, shape6, 1, &p, back) == SQ_OK && isnan(back[3]), "e4m3fn NaN code decodes to NaN");

    /* E5M2: 61440 is the midpoint above 57344 and ties to the even code 0x7C, inf. FNUZ: no -0; 0x80 is NaN. */
    const float e5[4] = {57344.0f, 61439.0f, 61440.0f, NAN};
    int64_t shape4[1] = {4};
    sq_qparams p5 = {&one, NULL, 1, SQ_FLOAT8E5M2, SQ_PER_TENSOR, 0};
    const uint8_t want5[4] = {0x7B, 0x7B, 0x7C, 0x7E};
    check(sq_quantize_float(e5, shape4, 1, &p5, 0, q) == SQ_OK && same_bytes(q, want5, 4), "e5m2 overflow to inf, NaN 0x7E");
    const float fz[4] = {-0.0f, 240.0f, 250.0f, -1e-9f};
    sq_qparams pz = {&one, NULL, 1, SQ_FLOAT8E4M3FNUZ, SQ_PER_TENSOR, 0};
    const uint8_t wantz[4] = {0x00, 0x7F, 0x80, 0x00};
    check(sq_quantize_float(fz, shape4, 1, &pz, 0, q) == SQ_OK && same_bytes(q, wantz, 4), "e4m3fnuz: no -0, 0x80 for overflow");

    /* FP4 E2M1, per axis (scales 1 and 0.5 by column): 2.5 ties to 2 (0x4, even), 7 / 0.5 saturates to 6 (0x7),
     * 1.25 ties to 1 (0x2, even) over 1.5, -7 saturates to -6 (0xF). */
    const float x4[4] = {2.5f, 7.0f, 1.25f, -3.5f};
    int64_t shape22[2] = {2, 2};
    const float s2[2] = {1.0f, 0.5f};
    sq_qparams p4 = {s2, NULL, 2, SQ_FLOAT4E2M1, 1, 0};
    check(sq_quantize(x4, shape22, 2, &p4, SQ_ROUND_NEAREST_EVEN, 0, q) == SQ_OK && q[0] == 0x4 && q[1] == 0x7 &&
              q[2] == 0x2 && q[3] == 0xF, "e2m1 per axis: ties to even, saturation");
    uint8_t packed[2], unpacked[4];
    check(sq_pack_int4(q, 4, SQ_FLOAT4E2M1, packed, 2) == SQ_OK && packed[0] == 0x74 && packed[1] == 0xF2,
          "FP4 codes pack two per byte, element 2i low");
    check(sq_unpack_int4(packed, 2, SQ_FLOAT4E2M1, unpacked, 4) == SQ_OK && same_bytes(unpacked, q, 4), "FP4 unpack");
    const float nan1[1] = {NAN};
    int64_t shape1[1] = {1};
    check(sq_quantize(x4, shape4, 1, &p4, SQ_ROUND_NEAREST_EVEN, 0, q) == SQ_ERROR_INVALID_ARGUMENT,
          "a per-axis axis beyond the tensor is checked");
    sq_qparams p41 = {&one, NULL, 1, SQ_FLOAT4E2M1, SQ_PER_TENSOR, 0};
    check(sq_quantize(nan1, shape1, 1, &p41, SQ_ROUND_NEAREST_EVEN, 0, q) == SQ_ERROR_NONFINITE &&
              strstr(sq_last_error_message(), "no NaN") != NULL, "FP4 has no NaN: an error");
    uint8_t bad_code[1] = {16};
    check(sq_dequantize(bad_code, shape1, 1, &p41, back) == SQ_ERROR_OUT_OF_RANGE, "FP4 code 16 is out of range");

    /* Calibration: amax / largest finite value, zero point 0. */
    const float cal[3] = {3.0f, -896.0f, 5.0f};
    int64_t shape3[1] = {3};
    float scale = 0;
    int32_t zp = 7;
    check(sq_calibrate_minmax(cal, shape3, 1, SQ_FLOAT8E4M3FN, 0, SQ_PER_TENSOR, 0, &scale, &zp, 1) == SQ_OK &&
              scale == 2.0f && zp == 0, "calibrate e4m3fn: 896 / 448");
    float top = 0;
    check(sq_dtype_max_value(SQ_FLOAT8E5M2FNUZ, &top) == SQ_OK && top == 57344.0f, "max value e5m2fnuz");
    check(sq_dtype_max_value(SQ_FLOAT6E2M3, &top) == SQ_OK && top == 7.5f, "max value e2m3");
    check(sq_dtype_max_value(SQ_INT4, &top) == SQ_OK && top == 7.0f, "max value int4");
    int32_t lo = 1, hi = 0;
    check(sq_dtype_range(SQ_FLOAT6E3M2, &lo, &hi) == SQ_OK && lo == 0 && hi == 63, "code range e3m2");

    /* Errors. */
    const int32_t zp3 = 3;
    sq_qparams pbad = {&one, &zp3, 1, SQ_FLOAT8E4M3FN, SQ_PER_TENSOR, 0};
    check(sq_quantize(x, shape6, 1, &pbad, SQ_ROUND_NEAREST_EVEN, 0, q) == SQ_ERROR_INVALID_ZERO_POINT, "zero point must be 0");
    check(sq_quantize(x, shape6, 1, &p, SQ_ROUND_HALF_AWAY, 0, q) == SQ_ERROR_INVALID_ARGUMENT &&
              strstr(sq_last_error_message(), "nearest even") != NULL, "rounding must be nearest even");
    sq_qparams pint = {&one, NULL, 1, SQ_INT8, SQ_PER_TENSOR, 0};
    check(sq_quantize_float(x, shape6, 1, &pint, 1, q) == SQ_ERROR_INVALID_ARGUMENT, "sq_quantize_float refuses int8");
    check(sq_quantize_float(x, shape6, 1, &p, 2, q) == SQ_ERROR_INVALID_ARGUMENT, "saturate must be 0 or 1");
    const int8_t a[4] = {1, 2, 3, 4};
    int32_t c[4];
    int64_t shape2x2[2] = {2, 2};
    check(sq_matmul_i32(a, SQ_FLOAT8E4M3FN, shape2x2, 2, 0, a, SQ_INT8, shape2x2, 2, NULL, 0, c, 4) == SQ_ERROR_INVALID_ARGUMENT &&
              strstr(sq_last_error_message(), "float format") != NULL, "matmul refuses a float dtype, saying why");
    return finish();
}
