"""pack_int4 / unpack_int4 against an independent NumPy packing (ONNX's layout: element 2i in the low
nibble), round trips through quantize with int4/uint4 parameters, odd counts, and errors."""
import ctypes
from ctypes import c_int32, c_int64, c_void_p

import numpy as np
import pytest

import swiftquant as sq
from swiftquant import _native


def pack_ref(q):
    """Nibbles of the flat values, pairs (low, high), zero padded."""
    v = (np.asarray(q).astype(np.int64).ravel() & 0xF).astype(np.uint8)
    if v.size % 2:
        v = np.append(v, np.uint8(0))
    return v[0::2] | (v[1::2] << 4)


def unpack_ref(p, count, signed):
    p = np.asarray(p, np.uint8)
    v = np.stack([p & 0xF, p >> 4], axis=-1).ravel()[:count].astype(np.int16)
    return (np.where(v >= 8, v - 16, v) if signed else v).astype(np.int8 if signed else np.uint8)


@pytest.mark.parametrize("dtype,lo,hi", [("int4", -8, 7), ("uint4", 0, 15)])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 16, 33, 1001])
def test_matches_numpy_reference(dtype, lo, hi, n):
    rng = np.random.default_rng(n)
    q = rng.integers(lo, hi + 1, n).astype(np.int8 if dtype == "int4" else np.uint8)
    p = sq.pack_int4(q)
    assert p.dtype == np.uint8 and p.shape == ((n + 1) // 2,)
    np.testing.assert_array_equal(p, pack_ref(q))
    back = sq.unpack_int4(p, n, dtype)
    assert back.dtype == q.dtype
    np.testing.assert_array_equal(back, q)
    np.testing.assert_array_equal(unpack_ref(p, n, dtype == "int4"), q)


def test_onnx_layout_by_hand():
    # -1 = 0xF in the low nibble, 7 in the high one; 5 alone with a zero high nibble.
    np.testing.assert_array_equal(sq.pack_int4(np.array([-1, 7, 5], np.int8)), np.array([0x7F, 0x05], np.uint8))
    np.testing.assert_array_equal(sq.pack_int4(np.array([15, 0, 1, 14], np.uint8)), np.array([0x0F, 0xE1], np.uint8))
    np.testing.assert_array_equal(sq.unpack_int4([0x8F], 2, "int4"), np.array([-1, -8], np.int8))


def test_round_trip_through_quantize_keeps_shape():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 7)).astype(np.float32)
    for dtype in ("int4", "uint4"):
        p = sq.calibrate(x, dtype=dtype, axis=0)
        q = sq.quantize(x, p)
        packed = sq.pack_int4(q, dtype)
        assert packed.nbytes == (x.size + 1) // 2  # 18 bytes for 35 values
        np.testing.assert_array_equal(sq.dequantize(sq.unpack_int4(packed, q.shape, dtype), p), sq.dequantize(q, p))


def test_codebook_indices_pack_as_uint4():
    x = np.random.default_rng(4).laplace(size=101).astype(np.float32)
    cb = sq.fit_codebook(x, bits=4)
    idx = sq.codebook_quantize(x, cb)
    np.testing.assert_array_equal(sq.unpack_int4(sq.pack_int4(idx), idx.shape, "uint4"), idx)


def test_errors_and_input_untouched():
    q = np.array([1, 2, 8, -9], np.int8)
    before = q.copy()
    with pytest.raises(sq.SwiftQuantError, match="element 2 is 8, outside int4") as info:
        sq.pack_int4(q)
    assert info.value.status_name == "SQ_ERROR_OUT_OF_RANGE"
    np.testing.assert_array_equal(q, before)
    with pytest.raises(sq.SwiftQuantError, match="element 1 is 16, outside uint4"):
        sq.pack_int4(np.array([3, 16], np.uint8))
    with pytest.raises(ValueError, match="dtype"):
        sq.pack_int4(np.array([1]), "int8")
    with pytest.raises(TypeError):
        sq.pack_int4(np.array([1.0]))
    with pytest.raises(ValueError, match="outside the range of int8"):
        sq.pack_int4([300], "int4")
    with pytest.raises(ValueError, match="needs"):
        sq.unpack_int4(np.zeros(2, np.uint8), 5, "int4")
    with pytest.raises(sq.SwiftQuantError, match="padding nibble"):
        sq.unpack_int4(np.array([0x21], np.uint8), 1, "uint4")  # 2 in the padding: the count was 2
    with pytest.raises(ValueError, match="negative"):
        sq.unpack_int4(np.zeros(0, np.uint8), (2, -2))


_raw = ctypes.CDLL(_native.LIBRARY_PATH)
_raw.sq_pack_int4.restype = c_int32
_raw.sq_pack_int4.argtypes = [c_void_p, c_int64, c_int32, c_void_p, c_int64]
_raw.sq_unpack_int4.restype = c_int32
_raw.sq_unpack_int4.argtypes = [c_void_p, c_int64, c_int32, c_void_p, c_int64]


def test_c_abi_status_codes():
    q = np.array([1, -2, 3], np.int8)
    p = np.zeros(2, np.uint8)
    a = lambda arr: arr.ctypes.data  # noqa: E731
    assert _raw.sq_pack_int4(a(q), 3, _native.SQ_INT4, a(p), 2) == 0
    assert _raw.sq_pack_int4(a(q), 3, _native.SQ_INT4, a(p), 1) == _native.SQ_ERROR_SHAPE
    assert _raw.sq_pack_int4(a(q), -1, _native.SQ_INT4, a(p), 0) == _native.SQ_ERROR_SHAPE
    assert _raw.sq_pack_int4(a(q), 3, _native.SQ_INT8, a(p), 2) == _native.SQ_ERROR_INVALID_ARGUMENT
    assert _raw.sq_pack_int4(a(q), 3, 99, a(p), 2) == _native.SQ_ERROR_INVALID_ARGUMENT
    assert _raw.sq_pack_int4(None, 3, _native.SQ_INT4, a(p), 2) == _native.SQ_ERROR_NULL_POINTER
    assert _raw.sq_pack_int4(None, 0, _native.SQ_INT4, None, 0) == 0  # empty: NULL is fine
    out = np.zeros(3, np.int8)
    assert _raw.sq_unpack_int4(a(p), 2, _native.SQ_INT4, a(out), 3) == 0
    np.testing.assert_array_equal(out, q)
    assert _raw.sq_unpack_int4(a(p), 2, _native.SQ_UINT4, None, 3) == _native.SQ_ERROR_NULL_POINTER
