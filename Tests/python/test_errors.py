"""Bad inputs, one test each: the exception type (or, at the C ABI, the pinned status code) and a message
that names the argument or the problem. Also: empty arrays work everywhere, degenerate data stays usable,
and the version and status names agree with the header."""
import math
import re
from ctypes import byref, c_float, c_int32, c_int64, c_uint8, c_void_p

import numpy as np
import pytest

import swiftquant as sq
from conftest import HEADER, assert_same
from raw_abi import ptr, qp, raw, shape_of
from swiftquant import _native

# ---------------------------------------------------------------------------------------------------------
# The header, parsed: the status codes and version are the contract.

with open(HEADER, encoding="utf-8") as fh:
    HEADER_TEXT = fh.read()
_enum = re.search(r"typedef enum sq_status \{(.*?)\} sq_status;", HEADER_TEXT, re.S).group(1)
STATUS = {name: int(value) for name, value in re.findall(r"(SQ_[A-Z_]+)\s*=\s*(-?\d+)", _enum)}
VERSION = tuple(int(re.search(rf"#define SQ_VERSION_{p} (\d+)", HEADER_TEXT).group(1))
                for p in ("MAJOR", "MINOR", "PATCH"))


def test_header_status_codes_parsed():
    assert STATUS["SQ_OK"] == 0 and STATUS["SQ_ERROR_OVERFLOW"] == -8 and len(STATUS) == 12


def test_status_names_and_constants_match_header():
    for name, value in STATUS.items():
        assert raw.sq_status_string(value).decode() == name, (name, value)
        assert getattr(_native, name) == value, name
    for unknown in (1, -11, -99, 12345, -(2**31)):
        assert raw.sq_status_string(unknown).decode() == "SQ_UNKNOWN_STATUS", unknown


def test_version_matches_header():
    text = "%d.%d.%d" % VERSION
    assert sq.version() == text
    assert sq.__version__ == text
    assert raw.sq_version().decode() == text
    assert raw.sq_version_number() == VERSION[0] * 10000 + VERSION[1] * 100 + VERSION[2]


# ---------------------------------------------------------------------------------------------------------
# Raw C ABI (raw_abi.py): NULL pointers and impossible sizes reach the native checks; we read the codes.

def expect_status(status, name, *patterns):
    """status equals the header's value for name; the thread's last message matches every pattern."""
    msg = raw.sq_last_error_message().decode()
    assert status == STATUS[name], f"expected {name} ({STATUS[name]}), got {status} " \
                                   f"({raw.sq_status_string(status).decode()}): {msg!r}"
    assert msg, f"{name}: empty sq_last_error_message()"
    for pat in patterns:
        assert re.search(pat, msg, re.I), f"{name}: message {msg!r} does not match {pat!r}"
    return msg


def quantize_raw(x, shape, ndim, params, rounding=0, seed=0, out="auto"):
    if isinstance(out, str):
        n = 1 if x is None else max(x.size, 1)
        out = np.zeros(n, np.int8)
    return raw.sq_quantize(ptr(x), None if shape is None else ptr(shape), ndim,
                           None if params is None else byref(params), rounding, seed, ptr(out))


X6 = np.arange(6, dtype=np.float32)
S23 = shape_of(2, 3)


def test_c_quantize_ok_baseline():
    p, keep = qp()
    out = np.zeros(6, np.int8)
    assert quantize_raw(X6, S23, 2, p, out=out) == STATUS["SQ_OK"]
    assert out.tolist() == [0, 1, 2, 3, 4, 5]


def test_c_null_x():
    p, keep = qp()
    expect_status(quantize_raw(None, S23, 2, p), "SQ_ERROR_NULL_POINTER", r"\bx\b")


def test_c_null_shape():
    p, keep = qp()
    expect_status(quantize_raw(X6, None, 2, p), "SQ_ERROR_NULL_POINTER", r"shape")


def test_c_null_params():
    expect_status(quantize_raw(X6, S23, 2, None), "SQ_ERROR_NULL_POINTER", r"param")


def test_c_null_output():
    p, keep = qp()
    expect_status(quantize_raw(X6, S23, 2, p, out=None), "SQ_ERROR_NULL_POINTER", r"out")


def test_c_null_scale_pointer():
    p, keep = qp(scale=None, count=1)
    expect_status(quantize_raw(X6, S23, 2, p), "SQ_ERROR_NULL_POINTER", r"scale")


def test_c_null_data_allowed_when_empty():
    # "A data pointer may be NULL only when the buffer holds zero elements."
    p, keep = qp()
    assert raw.sq_quantize(None, ptr(shape_of(0, 3)), 2, byref(p), 0, 0, None) == STATUS["SQ_OK"]
    assert raw.sq_dequantize(None, ptr(shape_of(4, 0)), 2, byref(p), None) == STATUS["SQ_OK"]


def test_c_negative_dimension():
    p, keep = qp()
    expect_status(quantize_raw(X6, shape_of(2, -3), 2, p), "SQ_ERROR_SHAPE", r"shape|negative|dim")


def test_c_ndim_too_large():
    p, keep = qp()
    shape = np.ones(33, np.int64)
    expect_status(quantize_raw(X6, shape, 33, p), "SQ_ERROR_SHAPE", r"ndim|dimension|32")


def test_c_ndim_negative():
    p, keep = qp()
    expect_status(quantize_raw(X6, S23, -1, p), "SQ_ERROR_SHAPE", r"ndim|dimension")


def test_c_ndim_max_allowed():
    p, keep = qp()
    shape = np.ones(32, np.int64)
    out = np.zeros(1, np.int8)
    assert quantize_raw(np.array([3.0], np.float32), shape, 32, p, out=out) == STATUS["SQ_OK"]
    assert out[0] == 3


def test_c_overflowing_size():
    # 2^40 * 2^40 elements cannot be counted in int64: an error before any element is touched.
    p, keep = qp()
    expect_status(quantize_raw(X6, shape_of(2**40, 2**40), 2, p), "SQ_ERROR_SHAPE", r"overflow|size|large|shape")
    expect_status(quantize_raw(X6, shape_of(2**62, 4), 2, p), "SQ_ERROR_SHAPE", r"overflow|size|large|shape")


def test_c_zero_scale():
    p, keep = qp(scale=(0.0,))
    expect_status(quantize_raw(X6, S23, 2, p), "SQ_ERROR_INVALID_SCALE", r"scale")


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, -math.inf, 1e-40])
def test_c_bad_scales(bad):
    p, keep = qp(scale=(bad,))
    expect_status(quantize_raw(X6, S23, 2, p), "SQ_ERROR_INVALID_SCALE", r"scale")
    out = np.zeros(6, np.float32)
    q = np.zeros(6, np.int8)
    expect_status(raw.sq_dequantize(ptr(q), ptr(S23), 2, byref(p), ptr(out)), "SQ_ERROR_INVALID_SCALE", r"scale")


def test_c_bad_per_axis_scale_entry():
    p, keep = qp(scale=(1.0, 0.0, 1.0), axis=1)
    expect_status(quantize_raw(X6, S23, 2, p), "SQ_ERROR_INVALID_SCALE", r"scale")


def test_c_zero_point_out_of_range():
    p, keep = qp(zero_point=(128,))
    expect_status(quantize_raw(X6, S23, 2, p), "SQ_ERROR_INVALID_ZERO_POINT", r"zero")
    p, keep = qp(zero_point=(-9,), dtype=_native.SQ_INT4)
    expect_status(quantize_raw(X6, S23, 2, p), "SQ_ERROR_INVALID_ZERO_POINT", r"zero")


def test_c_unknown_dtype():
    p, keep = qp(dtype=13)
    expect_status(quantize_raw(X6, S23, 2, p), "SQ_ERROR_INVALID_ARGUMENT", r"dtype")
    lo, hi = c_int32(), c_int32()
    expect_status(raw.sq_dtype_range(-1, byref(lo), byref(hi)), "SQ_ERROR_INVALID_ARGUMENT", r"dtype")
    expect_status(raw.sq_dtype_range(0, None, byref(hi)), "SQ_ERROR_NULL_POINTER", r"qmin|null")


def test_c_unknown_rounding():
    p, keep = qp()
    expect_status(quantize_raw(X6, S23, 2, p, rounding=4), "SQ_ERROR_INVALID_ARGUMENT", r"round")


def test_c_axis_out_of_range():
    p, keep = qp(scale=(1.0, 1.0, 1.0), axis=2)
    expect_status(quantize_raw(X6, S23, 2, p), "SQ_ERROR_INVALID_ARGUMENT", r"axis")
    p, keep = qp(scale=(1.0, 1.0, 1.0), axis=-2)
    expect_status(quantize_raw(X6, S23, 2, p), "SQ_ERROR_INVALID_ARGUMENT", r"axis")


def test_c_bad_block_size():
    p, keep = qp(scale=(1.0, 1.0), axis=1, block_size=-2)
    expect_status(quantize_raw(X6, S23, 2, p), "SQ_ERROR_INVALID_ARGUMENT", r"block")
    p, keep = qp(block_size=2)  # block size with SQ_PER_TENSOR
    expect_status(quantize_raw(X6, S23, 2, p), "SQ_ERROR_INVALID_ARGUMENT", r"block")


def test_c_wrong_scale_count():
    p, keep = qp(scale=(1.0, 1.0), axis=1)  # shape[1] = 3 scales needed
    expect_status(quantize_raw(X6, S23, 2, p), "SQ_ERROR_SHAPE", r"count|scale|3")
    p, keep = qp(scale=(1.0,) * 4, axis=1, block_size=2)  # blocked shape (2, 2) = 4 entries: fine
    assert quantize_raw(X6, S23, 2, p) == STATUS["SQ_OK"]
    p, keep = qp(scale=(1.0,) * 3, axis=1, block_size=2)
    expect_status(quantize_raw(X6, S23, 2, p), "SQ_ERROR_SHAPE", r"count|scale|4")


def test_c_nan_in_data():
    p, keep = qp()
    x = X6.copy()
    x[4] = np.nan
    expect_status(quantize_raw(x, S23, 2, p), "SQ_ERROR_NONFINITE", r"nan")


def test_c_dequantize_int4_out_of_range():
    p, keep = qp(dtype=_native.SQ_INT4)
    q = np.array([1, 9, 0, 0, 0, 0], np.int8)
    out = np.zeros(6, np.float32)
    expect_status(raw.sq_dequantize(ptr(q), ptr(S23), 2, byref(p), ptr(out)), "SQ_ERROR_OUT_OF_RANGE", r"9|range")
    p, keep = qp(dtype=_native.SQ_UINT4)
    q = np.array([16, 0, 0, 0, 0, 0], np.uint8)
    expect_status(raw.sq_dequantize(ptr(q), ptr(S23), 2, byref(p), ptr(out)), "SQ_ERROR_OUT_OF_RANGE", r"16|range")


def test_c_qparams_count_errors():
    n = c_int64()
    assert raw.sq_qparams_count(ptr(shape_of(4, 10)), 2, 1, 3, byref(n)) == 0 and n.value == 16
    expect_status(raw.sq_qparams_count(ptr(S23), 2, 2, 0, byref(n)), "SQ_ERROR_INVALID_ARGUMENT", r"axis")
    expect_status(raw.sq_qparams_count(ptr(S23), 2, -1, 4, byref(n)), "SQ_ERROR_INVALID_ARGUMENT", r"block")
    expect_status(raw.sq_qparams_count(ptr(S23), 2, 0, -1, byref(n)), "SQ_ERROR_INVALID_ARGUMENT", r"block")
    expect_status(raw.sq_qparams_count(ptr(S23), 2, 0, 0, None), "SQ_ERROR_NULL_POINTER", r"count|null")


def test_c_qparams_from_range_errors():
    s = np.zeros(1, np.float32)
    z = np.zeros(1, np.int32)
    lo, hi = np.array([-1.0], np.float32), np.array([np.nan], np.float32)
    expect_status(raw.sq_qparams_from_range(ptr(lo), ptr(hi), 1, 0, 0, ptr(s), ptr(z)), "SQ_ERROR_NONFINITE",
                  r"nan|finite")
    hi = np.array([1.0], np.float32)
    expect_status(raw.sq_qparams_from_range(ptr(lo), ptr(hi), 1, 0, 2, ptr(s), ptr(z)),
                  "SQ_ERROR_INVALID_ARGUMENT", r"symmetric")
    expect_status(raw.sq_qparams_from_range(ptr(lo), ptr(hi), -1, 0, 0, ptr(s), ptr(z)), "SQ_ERROR_SHAPE",
                  r"count|negative")
    # An empty group (+inf, -inf) is allowed and gives scale 1.0.
    lo, hi = np.array([np.inf], np.float32), np.array([-np.inf], np.float32)
    assert raw.sq_qparams_from_range(ptr(lo), ptr(hi), 1, 1, 0, ptr(s), ptr(z)) == 0
    assert s[0] == 1.0 and z[0] == 0


def test_c_minmax_nonfinite():
    x = np.array([1.0, np.inf, -2.0, np.nan], np.float32)
    mn, mx = np.zeros(1, np.float32), np.zeros(1, np.float32)
    cnt = c_int64(-1)
    msg = expect_status(raw.sq_minmax(ptr(x), ptr(shape_of(4)), 1, -1, 0, 0, ptr(mn), ptr(mx), 1, byref(cnt)),
                        "SQ_ERROR_NONFINITE", r"2")  # the message says how many
    assert msg
    assert raw.sq_minmax(ptr(x), ptr(shape_of(4)), 1, -1, 0, 1, ptr(mn), ptr(mx), 1, byref(cnt)) == 0
    assert (mn[0], mx[0], cnt.value) == (-2.0, 1.0, 2)


def test_c_calibrate_wrong_count():
    s = np.zeros(3, np.float32)
    z = np.zeros(3, np.int32)
    expect_status(raw.sq_calibrate_minmax(ptr(X6), ptr(S23), 2, 0, 0, 1, 0, ptr(s), ptr(z), 2), "SQ_ERROR_SHAPE",
                  r"count")


def test_c_dynamic_quantize_errors():
    q = np.zeros(4, np.uint8)
    s, z = c_float(), c_uint8()
    expect_status(raw.sq_dynamic_quantize(ptr(X6), -1, ptr(q), byref(s), byref(z)), "SQ_ERROR_SHAPE",
                  r"count|negative")
    x = np.array([1.0, np.inf, 0.0, 2.0], np.float32)
    expect_status(raw.sq_dynamic_quantize(ptr(x), 4, ptr(q), byref(s), byref(z)), "SQ_ERROR_NONFINITE", r"inf|finite")
    expect_status(raw.sq_dynamic_quantize(ptr(X6), 4, ptr(q), None, byref(z)), "SQ_ERROR_NULL_POINTER", r"scale")


A23 = np.arange(6, dtype=np.int8)
B34 = np.arange(12, dtype=np.int8)


def mm_raw(a=A23, a_dtype=0, a_shape=S23, a_ndim=2, za=0, b=B34, b_dtype=0, b_shape=None, b_ndim=2,
           zb=None, zb_count=0, c="auto", c_count=8):
    b_shape = shape_of(3, 4) if b_shape is None else b_shape
    if isinstance(c, str):
        c = np.zeros(max(c_count, 1), np.int32)
    return raw.sq_matmul_i32(ptr(a), a_dtype, ptr(a_shape), a_ndim, za, ptr(b), b_dtype, ptr(b_shape), b_ndim,
                             ptr(zb), zb_count, ptr(c), c_count)


def test_c_matmul_ok_baseline():
    c = np.zeros(8, np.int32)
    assert mm_raw(c=c) == 0
    assert_same(c.reshape(2, 4), (A23.reshape(2, 3).astype(np.int32) @ B34.reshape(3, 4)).astype(np.int32))


def test_c_matmul_null_pointers():
    expect_status(mm_raw(a=None), "SQ_ERROR_NULL_POINTER", r"\ba\b")
    expect_status(mm_raw(b=None), "SQ_ERROR_NULL_POINTER", r"\bb\b")
    expect_status(mm_raw(c=None), "SQ_ERROR_NULL_POINTER", r"\bc\b|out")
    expect_status(raw.sq_matmul_i32(ptr(A23), 0, None, 2, 0, ptr(B34), 0, ptr(shape_of(3, 4)), 2, None, 0,
                                    ptr(np.zeros(8, np.int32)), 8), "SQ_ERROR_NULL_POINTER", r"shape")


def test_c_matmul_k_mismatch():
    expect_status(mm_raw(b_shape=shape_of(4, 3)), "SQ_ERROR_SHAPE", r"K|inner|mismatch|shape")


def test_c_matmul_wrong_c_count():
    expect_status(mm_raw(c_count=7), "SQ_ERROR_SHAPE", r"c_count|count|8")


def test_c_matmul_bad_dtype():
    expect_status(mm_raw(a_dtype=_native.SQ_INT16), "SQ_ERROR_INVALID_ARGUMENT", r"dtype")
    expect_status(mm_raw(b_dtype=_native.SQ_INT4), "SQ_ERROR_INVALID_ARGUMENT", r"dtype")


def test_c_matmul_zero_points():
    expect_status(mm_raw(za=128), "SQ_ERROR_INVALID_ZERO_POINT", r"zero")
    zb = np.array([0, 0, 200, 0], np.int32)
    expect_status(mm_raw(zb=zb, zb_count=4), "SQ_ERROR_INVALID_ZERO_POINT", r"zero")
    zb = np.zeros(3, np.int32)
    expect_status(mm_raw(zb=zb, zb_count=3), "SQ_ERROR_SHAPE", r"zero|count")


def test_c_matmul_negative_and_overflowing_dims():
    expect_status(mm_raw(a_shape=shape_of(-2, 3)), "SQ_ERROR_SHAPE", r"shape|negative|dim")
    expect_status(mm_raw(a_shape=shape_of(2**62, 3), b_shape=shape_of(3, 2**62), c_count=8), "SQ_ERROR_SHAPE",
                  r"overflow|size|large|shape|count")
    expect_status(mm_raw(a_ndim=33, a_shape=np.ones(33, np.int64)), "SQ_ERROR_SHAPE", r"ndim|dimension|32")


def test_c_matmul_shape_errors():
    out = np.zeros(32, np.int64)
    nd = c_int32()
    assert raw.sq_matmul_shape(ptr(shape_of(2, 1, 3, 4)), 4, ptr(shape_of(5, 4, 6)), 3, ptr(out), byref(nd)) == 0
    assert tuple(out[: nd.value]) == (2, 5, 3, 6)
    expect_status(raw.sq_matmul_shape(ptr(shape_of(3)), 0, ptr(shape_of(3)), 1, ptr(out), byref(nd)),
                  "SQ_ERROR_SHAPE", r"ndim|scalar|dimension")
    expect_status(raw.sq_matmul_shape(ptr(shape_of(2, 3, 4)), 3, ptr(shape_of(3, 4, 5)), 3, ptr(out), byref(nd)),
                  "SQ_ERROR_SHAPE", r"broadcast|batch")


def test_c_matmul_overflow():
    k = 131072  # 128 * 128 * 131072 = 2^31 > INT32_MAX
    a = np.zeros(k, np.int8)
    b = np.zeros(k, np.int8)
    c = np.zeros(1, np.int32)
    expect_status(mm_raw(a=a, a_shape=shape_of(1, k), b=b, b_shape=shape_of(k, 1), c=c, c_count=1),
                  "SQ_ERROR_OVERFLOW", r"overflow|K")


def test_c_pack_errors_and_destroy_null():
    raw.sq_packed_destroy(None)  # accepted and ignored
    p, keep = qp(scale=None, zero_point=(0,), count=1)
    handle = c_void_p()
    expect_status(raw.sq_pack(ptr(B34), ptr(shape_of(3, 4)), 2, byref(p), None), "SQ_ERROR_NULL_POINTER", r"out")
    expect_status(raw.sq_pack(ptr(B34), ptr(shape_of(1, 3, 4)), 3, byref(p), byref(handle)), "SQ_ERROR_SHAPE",
                  r"ndim|2-D|dimension|shape")
    assert raw.sq_pack(ptr(B34), ptr(shape_of(3, 4)), 2, byref(p), byref(handle)) == 0
    try:
        k, n, dt, hs = c_int64(), c_int64(), c_int32(), c_int32(-1)
        assert raw.sq_packed_info(handle, byref(k), byref(n), byref(dt), byref(hs)) == 0
        assert (k.value, n.value, dt.value, hs.value) == (3, 4, 0, 0)
        # A packed matrix without scales serves only the int32 product.
        ap, keep_a = qp()
        yp, keep_y = qp()
        y = np.zeros(8, np.int8)
        expect_status(raw.sq_qlinear_matmul_packed(ptr(A23), ptr(S23), 2, byref(ap), handle, byref(yp), 0, 0,
                                                   ptr(y), 8), "SQ_ERROR_INVALID_ARGUMENT", r"scale")
        c = np.zeros(8, np.int32)
        assert raw.sq_matmul_i32_packed(ptr(A23), 0, ptr(S23), 2, 0, handle, ptr(c), 8) == 0
        assert_same(c.reshape(2, 4), (A23.reshape(2, 3).astype(np.int32) @ B34.reshape(3, 4)).astype(np.int32))
        expect_status(raw.sq_matmul_i32_packed(ptr(A23), 0, ptr(S23), 2, 0, None, ptr(c), 8),
                      "SQ_ERROR_NULL_POINTER", r"packed|\bb\b")
    finally:
        raw.sq_packed_destroy(handle)


def test_c_qlinear_bad_granularity_and_scale():
    ap, k1 = qp()
    bp, k2 = qp(scale=(1.0, 1.0, 1.0), axis=0)  # per row of B: not per column
    yp, k3 = qp()
    y = np.zeros(8, np.int8)
    expect_status(raw.sq_qlinear_matmul(ptr(A23), ptr(S23), 2, byref(ap), ptr(B34), ptr(shape_of(3, 4)), 2,
                                        byref(bp), byref(yp), 0, 0, ptr(y), 8),
                  "SQ_ERROR_INVALID_ARGUMENT", r"axis|column|granularity")
    bp, k2 = qp()
    yp, k3 = qp(scale=(0.0,))
    expect_status(raw.sq_qlinear_matmul(ptr(A23), ptr(S23), 2, byref(ap), ptr(B34), ptr(shape_of(3, 4)), 2,
                                        byref(bp), byref(yp), 0, 0, ptr(y), 8), "SQ_ERROR_INVALID_SCALE", r"scale")
    yp, k3 = qp(dtype=_native.SQ_INT16)
    expect_status(raw.sq_qlinear_matmul(ptr(A23), ptr(S23), 2, byref(ap), ptr(B34), ptr(shape_of(3, 4)), 2,
                                        byref(bp), byref(yp), 0, 0, ptr(np.zeros(8, np.int16)), 8),
                  "SQ_ERROR_INVALID_ARGUMENT", r"dtype")


def test_c_matmul_f32_bias_count():
    ap, k1 = qp()
    bp, k2 = qp()
    bias = np.zeros(3, np.float32)
    y = np.zeros(8, np.float32)
    expect_status(raw.sq_matmul_f32(ptr(A23), ptr(S23), 2, byref(ap), ptr(B34), ptr(shape_of(3, 4)), 2, byref(bp),
                                    ptr(bias), 3, ptr(y), 8), "SQ_ERROR_SHAPE", r"bias")


def test_native_errcheck_raises_swiftquant_error():
    # Through the wrapper's declarations (_native.lib), a failing status becomes SwiftQuantError.
    p, keep = qp()
    x = np.ones(1, np.float32)
    out = np.zeros(1, np.int8)
    with pytest.raises(sq.SwiftQuantError, match="(?i)ndim|dimension") as ei:
        _native.lib.sq_quantize(_native.ptr(x), _native.shape_arg([1] * 33), 33, byref(p), 0, 0, _native.ptr(out))
    assert ei.value.status == STATUS["SQ_ERROR_SHAPE"] and ei.value.status_name == "SQ_ERROR_SHAPE"
    assert isinstance(ei.value, ValueError)


def test_last_error_message_survives_success():
    # "Valid until the next failing call on this thread": a success in between does not clear it.
    p, keep = qp(scale=(0.0,))
    quantize_raw(X6, S23, 2, p)
    first = raw.sq_last_error_message().decode()
    ok, keep2 = qp()
    assert quantize_raw(X6, S23, 2, ok) == 0
    assert raw.sq_last_error_message().decode() == first


# ---------------------------------------------------------------------------------------------------------
# Python API


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, -math.inf, 1e-40])
def test_qparams_bad_scale(bad):
    with pytest.raises(ValueError, match="(?i)scale"):
        sq.QParams(bad)
    with pytest.raises(ValueError, match="(?i)scale"):
        sq.QParams([1.0, bad, 2.0], axis=0)


@pytest.mark.parametrize("dtype, zp", [("int8", 128), ("int8", -129), ("uint8", -1), ("uint8", 256), ("int4", 8),
                                       ("int4", -9), ("uint4", 16), ("int16", 32768), ("uint16", -1)])
def test_qparams_zero_point_outside_dtype(dtype, zp):
    with pytest.raises(ValueError, match="(?i)zero.?point"):
        sq.QParams(1.0, zp, dtype)
    with pytest.raises(ValueError, match="(?i)zero.?point"):
        sq.QParams([1.0, 1.0], [0 if dtype[0] == "i" else 1, zp], dtype, axis=0)


@pytest.mark.parametrize("dtype", ["int32", "float16", "INT8", "", None, 8])
def test_unknown_dtype(dtype):
    with pytest.raises(ValueError, match="(?i)dtype"):
        sq.QParams(1.0, 0, dtype)
    with pytest.raises(ValueError, match="(?i)dtype"):
        sq.calibrate(np.ones(3, np.float32), dtype=dtype)
    with pytest.raises(ValueError, match="(?i)dtype"):
        sq.dtype_range(dtype)
    with pytest.raises(ValueError, match="(?i)dtype"):
        sq.Observer(dtype=dtype)


@pytest.mark.parametrize("rounding", ["round", "NEAREST_EVEN", "", None, 0])
def test_unknown_rounding(rounding):
    with pytest.raises(ValueError, match="(?i)rounding"):
        sq.quantize(np.ones(3, np.float32), sq.QParams(1.0), rounding=rounding)
    a = np.ones((2, 2), np.int8)
    p = sq.QParams(1.0)
    with pytest.raises(ValueError, match="(?i)rounding"):
        sq.qlinear_matmul(a, p, a, p, p, rounding=rounding)


def test_unknown_method():
    with pytest.raises(ValueError, match="(?i)method"):
        sq.calibrate(np.ones(3, np.float32), method="kl")
    with pytest.raises(ValueError, match="(?i)method"):
        sq.Observer(method="kl")


def test_axis_out_of_range():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="(?i)axis"):
        sq.quantize(x, sq.QParams([1.0] * 4, axis=2))
    with pytest.raises(ValueError, match="(?i)axis"):
        sq.quantize(x, sq.QParams([1.0] * 3, axis=-3))
    with pytest.raises(ValueError, match="(?i)axis"):
        sq.dequantize(np.ones((3, 4), np.int8), sq.QParams([1.0] * 4, axis=2))
    with pytest.raises(ValueError, match="(?i)axis"):
        sq.calibrate(x, axis=2)
    with pytest.raises(ValueError, match="(?i)axis"):
        sq.calibrate(x, axis=-3, block_size=2)
    with pytest.raises(ValueError, match="(?i)axis"):
        sq.Observer(axis=5).update(x)
    with pytest.raises(ValueError, match="(?i)axis"):
        sq.quantize(np.float32(1.0), sq.QParams([1.0], axis=0))  # a scalar has no axis 0


def test_block_size_errors():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="(?i)block"):
        sq.QParams(1.0, block_size=2)  # per-block needs an axis
    with pytest.raises(ValueError, match="(?i)block"):
        sq.QParams(np.ones((3, 2)), axis=1, block_size=0)
    with pytest.raises(ValueError, match="(?i)block"):
        sq.calibrate(x, axis=1, block_size=-1)


def test_wrong_scale_count():
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match="(?i)scale"):
        sq.quantize(x, sq.QParams([1.0, 1.0], axis=1))  # needs 4
    with pytest.raises(ValueError, match="(?i)scale"):
        sq.quantize(x, sq.QParams(np.ones((3, 3)), axis=1, block_size=2))  # needs (3, 2)
    with pytest.raises(ValueError, match="(?i)scale"):
        sq.dequantize(np.ones((3, 4), np.int8), sq.QParams([1.0] * 3, axis=1))
    with pytest.raises(ValueError, match="(?i)scale|zero"):
        sq.QParams([1.0, 1.0, 1.0], [0, 0], axis=0)  # zero points must match the scales


def test_nan_in_quantize_data():
    x = np.array([1.0, np.nan, 2.0], np.float32)
    for rounding in sq.ROUNDINGS:
        with pytest.raises(sq.SwiftQuantError, match="(?i)nan") as ei:
            sq.quantize(x, sq.QParams(0.1), rounding=rounding, seed=0 if rounding == "stochastic" else None)
        assert ei.value.status_name == "SQ_ERROR_NONFINITE" and ei.value.status == STATUS["SQ_ERROR_NONFINITE"]


def test_inf_in_quantize_data_saturates():
    q = sq.quantize(np.array([np.inf, -np.inf], np.float32), sq.QParams(0.1, 5, "uint8"))
    assert q.tolist() == [255, 0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_in_calibration_data(bad):
    x = np.array([1.0, bad, -1.0], np.float32)
    with pytest.raises(sq.SwiftQuantError, match="(?i)nan|inf|finite") as ei:
        sq.calibrate(x)
    assert ei.value.status_name == "SQ_ERROR_NONFINITE"
    with pytest.raises(sq.SwiftQuantError, match="(?i)nan|inf|finite") as ei:
        sq.calibrate(x.reshape(1, 3), axis=1)
    assert ei.value.status_name == "SQ_ERROR_NONFINITE"
    with pytest.raises(sq.SwiftQuantError, match="(?i)nan|inf|finite") as ei:
        sq.dynamic_quantize(x)
    assert ei.value.status_name == "SQ_ERROR_NONFINITE"


def test_dequantize_int4_value_outside_dtype():
    with pytest.raises(sq.SwiftQuantError, match="(?i)9|range") as ei:
        sq.dequantize(np.array([0, 9], np.int8), sq.QParams(1.0, 0, "int4"))
    assert ei.value.status_name == "SQ_ERROR_OUT_OF_RANGE"
    with pytest.raises(sq.SwiftQuantError, match="(?i)-9|range") as ei:
        sq.dequantize(np.array([-9], np.int8), sq.QParams(1.0, 0, "int4"))
    assert ei.value.status_name == "SQ_ERROR_OUT_OF_RANGE"
    with pytest.raises(sq.SwiftQuantError, match="(?i)16|range") as ei:
        sq.dequantize(np.array([16], np.uint8), sq.QParams(1.0, 0, "uint4"))
    assert ei.value.status_name == "SQ_ERROR_OUT_OF_RANGE"


def test_dequantize_value_outside_storage_type():
    with pytest.raises(ValueError, match="(?i)\\bq\\b.*range|range.*\\bq\\b|300"):
        sq.dequantize(np.array([1, 300], np.int64), sq.QParams(1.0, 0, "int8"))
    with pytest.raises(ValueError, match="(?i)range|-1"):
        sq.dequantize(np.array([-1], np.int32), sq.QParams(1.0, 0, "uint8"))


def test_dequantize_rejects_floats():
    with pytest.raises(TypeError, match="(?i)\\bq\\b|integer"):
        sq.dequantize(np.array([1.5], np.float32), sq.QParams(1.0))


def test_quantize_rejects_non_numeric():
    with pytest.raises(TypeError, match="(?i)\\bx\\b"):
        sq.quantize(np.array(["a"]), sq.QParams(1.0))
    with pytest.raises(TypeError, match="(?i)params|QParams"):
        sq.quantize(np.ones(2, np.float32), 0.5)


def test_matmul_k_mismatch():
    with pytest.raises(ValueError, match="(?i)K|inner|shape|mismatch"):
        sq.matmul(np.ones((2, 3), np.int8), np.ones((4, 5), np.int8))
    with pytest.raises(ValueError, match="(?i)K|inner|shape|mismatch"):
        sq.matmul(np.ones(3, np.int8), np.ones(4, np.int8))


def test_matmul_batch_not_broadcastable():
    with pytest.raises(ValueError, match="(?i)broadcast|batch|shape"):
        sq.matmul(np.ones((2, 3, 4), np.int8), np.ones((3, 4, 5), np.int8))


def test_matmul_scalar_operand():
    with pytest.raises(ValueError, match="(?i)\\ba\\b|dimension|scalar"):
        sq.matmul(np.int8(3), np.ones((1, 2), np.int8))


def test_matmul_out_wrong_shape_and_dtype():
    a, b = np.ones((2, 3), np.int8), np.ones((3, 4), np.int8)
    with pytest.raises(ValueError, match="(?i)out.*shape|shape.*out"):
        sq.matmul(a, b, out=np.zeros((2, 5), np.int32))
    with pytest.raises(TypeError, match="(?i)out.*dtype|dtype.*out"):
        sq.matmul(a, b, out=np.zeros((2, 4), np.int64))
    with pytest.raises(ValueError, match="(?i)out"):
        sq.quantize(np.ones((2, 3), np.float32), sq.QParams(1.0), out=np.zeros((3, 2), np.int8))
    with pytest.raises(ValueError, match="(?i)out"):
        sq.dequantize(np.ones((2, 3), np.int8), sq.QParams(1.0), out=np.zeros(6, np.float32))


def test_matmul_zero_point_outside_dtype():
    a, b = np.ones((2, 3), np.int8), np.ones((3, 4), np.uint8)
    with pytest.raises(ValueError, match="(?i)a_zero_point"):
        sq.matmul(a, b, a_zero_point=128)
    with pytest.raises(ValueError, match="(?i)b_zero_point"):
        sq.matmul(a, b, b_zero_point=-1)
    with pytest.raises(ValueError, match="(?i)b_zero_point"):
        sq.matmul(a, b, b_zero_point=[0, 0, 256, 0])


def test_matmul_per_column_zero_point_wrong_length():
    a, b = np.ones((2, 3), np.int8), np.ones((3, 4), np.int8)
    with pytest.raises(ValueError, match="(?i)b_zero_point"):
        sq.matmul(a, b, b_zero_point=[1, 2, 3])


def test_matmul_non_integer_operands():
    with pytest.raises((TypeError, ValueError), match="(?i)\\ba\\b"):
        sq.matmul(np.array([[0.5]]), np.ones((1, 1), np.int8))
    with pytest.raises(ValueError, match="(?i)\\bb\\b"):
        sq.matmul(np.ones((1, 1), np.int8), np.array([[1000]], np.int32))  # fits neither int8 nor uint8


@pytest.mark.parametrize(
    "a_dtype, za, b_dtype, zb, k_ok",
    [
        ("int8", 0, "int8", 0, 131071),          # 128 * 128
        ("uint8", 0, "int8", 0, 65793),          # 255 * 128 = 32640 -> floor((2^31 - 1) / 32640)
        ("int8", -128, "uint8", 0, 33025),       # 255 * 255
        ("uint8", 255, "uint8", 0, 33025),       # |A - 255| <= 255
    ],
)
def test_matmul_overflow_limit(a_dtype, za, b_dtype, zb, k_ok):
    # K is the largest with K * max|A - za| * max|B - zb| <= INT32_MAX (checked against the reference bound);
    # one more is SQ_ERROR_OVERFLOW, whatever the actual values (here zeros).
    import numpy_reference as ref
    assert ref.overflow_bound(a_dtype, za, b_dtype, zb, k_ok) <= 2**31 - 1 < ref.overflow_bound(a_dtype, za, b_dtype, zb, k_ok + 1)
    ok = sq.matmul(np.zeros((1, k_ok), a_dtype), np.zeros((k_ok, 1), b_dtype), za, zb)
    assert ok.shape == (1, 1)
    k = k_ok + 1
    with pytest.raises(sq.SwiftQuantError, match="(?i)overflow") as ei:
        sq.matmul(np.zeros((1, k), a_dtype), np.zeros((k, 1), b_dtype), za, zb)
    assert ei.value.status_name == "SQ_ERROR_OVERFLOW" and ei.value.status == STATUS["SQ_ERROR_OVERFLOW"]
    # The same limit for the packed, requantized and float products.
    ap = sq.QParams(1.0, za, a_dtype)
    bp = sq.QParams(1.0, zb, b_dtype)
    a, b = np.zeros((1, k), a_dtype), np.zeros((k, 1), b_dtype)
    with pytest.raises(sq.SwiftQuantError, match="(?i)overflow"):
        sq.qlinear_matmul(a, ap, b, bp, sq.QParams(1.0))
    with pytest.raises(sq.SwiftQuantError, match="(?i)overflow"):
        sq.matmul_float(a, ap, b, bp)
    with pytest.raises(sq.SwiftQuantError, match="(?i)overflow"):
        sq.matmul(a, sq.pack(b, b_zero_point=zb), za)


def test_matmul_overflow_per_column_zero_point_worst_column():
    # uint8 B: a column with zb = 0 allows |B - zb| = 255, one with zb = 128 only 128; the worst column counts.
    k = 65793 + 1  # overflows for 128 * 255 but not for 128 * 128
    a = np.zeros((1, k), np.int8)
    b = np.zeros((k, 2), np.uint8)
    assert sq.matmul(a, b, 0, [128, 128]).shape == (1, 2)
    with pytest.raises(sq.SwiftQuantError, match="(?i)overflow") as ei:
        sq.matmul(a, b, 0, [128, 0])
    assert ei.value.status_name == "SQ_ERROR_OVERFLOW"


def test_qlinear_params_errors():
    a, b = np.ones((2, 3), np.int8), np.ones((3, 4), np.int8)
    p = sq.QParams(1.0)
    with pytest.raises(ValueError, match="(?i)y_params"):
        sq.qlinear_matmul(a, p, b, p, sq.QParams(1.0, 0, "int16"))
    with pytest.raises(ValueError, match="(?i)a_params"):
        sq.qlinear_matmul(a, sq.QParams([1.0, 1.0, 1.0], axis=1), b, p, p)
    with pytest.raises(ValueError, match="(?i)b_params"):
        sq.qlinear_matmul(a, p, b, sq.QParams([1.0] * 3, axis=0), p)  # per row, not per column
    with pytest.raises(ValueError, match="(?i)b_params|scale"):
        sq.qlinear_matmul(a, p, b, sq.QParams([1.0] * 3, axis=1), p)  # 3 scales for 4 columns
    with pytest.raises(ValueError, match="(?i)\\ba\\b"):
        sq.qlinear_matmul(np.array([[200]], np.int32), p, np.ones((1, 1), np.int8), p, p)  # 200 is not int8
    with pytest.raises(ValueError, match="(?i)bias"):
        sq.matmul_float(a, p, b, p, bias=np.zeros(3, np.float32))


def test_packed_without_scale_in_qlinear():
    a = np.ones((2, 3), np.int8)
    w = sq.pack(np.ones((3, 4), np.int8))
    assert not w.has_scale
    with pytest.raises(ValueError, match="(?i)scale"):
        sq.qlinear_matmul(a, sq.QParams(1.0), w, None, sq.QParams(1.0))
    with pytest.raises(ValueError, match="(?i)scale"):
        sq.matmul_float(a, sq.QParams(1.0), w, None)


def test_pack_requires_2d():
    with pytest.raises(ValueError, match="(?i)\\bb\\b.*2-D|2-D|dimension"):
        sq.pack(np.ones((2, 3, 4), np.int8))
    with pytest.raises(ValueError, match="(?i)\\bb\\b|2-D|dimension"):
        sq.pack(np.ones(4, np.int8))


def test_packed_k_mismatch():
    w = sq.pack(np.ones((3, 4), np.int8))
    with pytest.raises(ValueError, match="(?i)K|inner|shape|mismatch"):
        sq.matmul(np.ones((2, 5), np.int8), w)


# ---------------------------------------------------------------------------------------------------------
# Empty arrays work everywhere; degenerate data stays usable.


def test_empty_everywhere():
    e = np.zeros((0, 4), np.float32)
    p = sq.calibrate(e)
    assert float(p.scale) == 1.0 and int(p.zero_point) == 0
    pa = sq.calibrate(e, axis=1)
    assert_same(np.asarray(pa.scale), np.ones(4, np.float32))
    pb = sq.calibrate(np.zeros((3, 0), np.float32), axis=1, block_size=2)
    assert pb.scale.shape == (3, 0)
    pc = sq.calibrate(np.zeros((0, 5), np.float32), axis=0)
    assert pc.scale.shape == (0,)
    assert sq.quantize(e, p).shape == (0, 4)
    assert sq.quantize(np.zeros((0, 5), np.float32), pc).shape == (0, 5)
    assert sq.quantize(np.zeros((3, 0), np.float32), pb).shape == (3, 0)
    assert sq.dequantize(np.zeros((0, 4), np.int8), p).shape == (0, 4)
    q, s, z = sq.dynamic_quantize(np.zeros(0, np.float32))
    assert q.shape == (0,) and float(s) == 1.0 and int(z) == 0
    assert sq.quantize([], p).shape == (0,)
    ob = sq.Observer()
    ob.update(np.zeros(0, np.float32))
    assert float(ob.qparams().scale) == 1.0
    assert sq.matmul(np.zeros((0, 3), np.int8), np.zeros((3, 2), np.int8)).shape == (0, 2)
    assert_same(sq.matmul(np.zeros((2, 0), np.int8), np.zeros((0, 3), np.uint8), 5, 7), np.zeros((2, 3), np.int32))
    assert sq.qlinear_matmul(np.zeros((0, 3), np.int8), sq.QParams(1.0), np.zeros((3, 2), np.int8), sq.QParams(1.0),
                             sq.QParams(1.0)).shape == (0, 2)
    assert_same(sq.matmul_float(np.zeros((2, 0), np.int8), sq.QParams(1.0), np.zeros((0, 3), np.int8),
                                sq.QParams(1.0), bias=[1.0, 2.0, 3.0]),
                np.tile(np.array([1.0, 2.0, 3.0], np.float32), (2, 1)))
    w = sq.pack(np.zeros((0, 3), np.int8))
    assert_same(sq.matmul(np.zeros((2, 0), np.int8), w), np.zeros((2, 3), np.int32))


def test_inputs_never_modified_by_any_function(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    a = rng.integers(-128, 128, (4, 5)).astype(np.int8)
    b = rng.integers(0, 256, (5, 3)).astype(np.uint8)
    copies = [v.copy() for v in (x, a, b)]
    p = sq.calibrate(x)
    sq.quantize(x, p)
    sq.quantize(x, p, rounding="stochastic", seed=1)
    sq.dequantize(a, p)
    sq.dynamic_quantize(x)
    sq.Observer().update(x)
    sq.matmul(a, b, 3, 4)
    pb = sq.QParams(0.5, 7, "uint8")
    sq.qlinear_matmul(a, p, b, pb, p)
    sq.matmul_float(a, p, b, pb, bias=np.ones(3, np.float32))
    sq.pack(b, pb)
    for v, c in zip((x, a, b), copies):
        assert_same(v, c, "input modified")
