"""Quantize, dequantize and ONNX DynamicQuantizeLinear over NumPy arrays (native sq_quantize,
sq_dequantize, sq_dynamic_quantize)."""
from __future__ import annotations

import ctypes
from typing import Optional, Tuple

import numpy as np

from . import _native
from ._convert import error, as_array, as_float32, as_int, as_quantized, check_out_overlap, output, rounding_code, seed_value
from ._params import QParams, dtype_name

__all__ = ["quantize", "fake_quantize", "dequantize", "dynamic_quantize", "pack_int4", "unpack_int4"]


def require_qparams(params, name: str) -> QParams:
    if not isinstance(params, QParams):
        raise TypeError(f"{name} must be a swiftquant.QParams, got {type(params).__name__}")
    return params


def quantize(x, params: QParams, rounding: str = "nearest_even", seed: Optional[int] = None,
             out: Optional[np.ndarray] = None, saturate: bool = True) -> np.ndarray:
    """``q = saturate(round(x / scale) + zero_point)``, per element with its group's scale and zero point.

    ``x / scale`` is a float32 division (not a multiplication by 1/scale); results saturate to
    ``[params.qmin, params.qmax]`` and +-inf saturate to the ends.

    Float formats (FP8, FP6, FP4; ONNX QuantizeLinear): ``q = convert(x / scale)``, rounded to nearest even,
    as uint8 bit patterns. ``saturate=True`` (ONNX's default) clips out-of-range values and +-inf to
    +-largest finite; ``saturate=False`` gives the format's inf (float8_e5m2) or NaN (float8_e4m3fn, FNUZ)
    instead. NaN becomes the format's NaN; FP4 and FP6 have none, so NaN is an error there, and they
    always saturate. The conversion rules are written out in swiftquant.h at ``sq_dtype``.

    Args:
        x: array-like of real numbers, converted to float32 (the working precision).
        params: QParams; per-axis/per-block parameters must match x's shape.
        rounding: one of ROUNDINGS. ``"nearest_even"`` (default; ONNX, numpy.rint), ``"half_away"`` (C round),
            ``"floor"``, or ``"stochastic"``: ``floor(v) + 1`` with probability ``v - floor(v)``, random bits
            keyed by (seed, flat index), so the result does not depend on threads or CPU.
        seed: int in ``[0, 2**64)`` for stochastic rounding; with None a seed is drawn from the OS, so pass a
            seed for reproducible results. Giving one with another rounding is an error.
        out: optional C-contiguous array of ``params.numpy_dtype`` and x's shape.
        saturate: float formats only (see above); ``False`` with an integer dtype is a SwiftQuantError (the
            integer dtypes always saturate).

    Returns:
        Array of ``params.numpy_dtype`` (int8 for int8/int4, uint8 for uint8/uint4 and the float formats,
        int16, uint16), x's shape.

    Raises:
        TypeError: x not real numbers, params not QParams, out of the wrong type/dtype, seed not an int.
        ValueError: unknown rounding, params not matching x's shape, bad out shape/layout, seed out of range;
            SwiftQuantError (a ValueError) for NaN in x (integer dtypes, FP4, FP6), a rounding other than
            nearest_even with a float format, saturate=False with an integer dtype.
    """
    params = require_qparams(params, "params")
    code = rounding_code(rounding)
    seed = seed_value(seed, code)
    if not isinstance(saturate, (bool, np.bool_)):
        raise TypeError(f"saturate must be a bool, got {type(saturate).__name__}")
    arr = as_float32(x, "x")
    struct = params.to_struct(arr.shape, "params")
    result = output(out, arr.shape, params.numpy_dtype)
    check_out_overlap(out, "out", arr, x if isinstance(x, np.ndarray) else None)
    if not saturate or (params.is_float and code == _native.SQ_ROUND_NEAREST_EVEN):
        _native.lib.sq_quantize_float(_native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim, ctypes.byref(struct),
                                      int(bool(saturate)), _native.ptr(result))
    else:
        _native.lib.sq_quantize(_native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim, ctypes.byref(struct), code,
                                seed, _native.ptr(result))
    return result


def fake_quantize(x, params: QParams, rounding: str = "nearest_even", seed: Optional[int] = None,
                  out: Optional[np.ndarray] = None) -> np.ndarray:
    """Quantize then dequantize in one native pass, float32 to float32:
    ``(saturate(round(x / scale) + zero_point) - zero_point) * scale``, bit-identical to
    ``dequantize(quantize(x, params, rounding, seed), params)`` without the intermediate array.

    Arguments, rounding, seed and errors are as for :func:`quantize`; ``out`` is an optional C-contiguous
    float32 array of x's shape, and may be x itself (a float32 C-contiguous array) for in-place use.
    """
    params = require_qparams(params, "params")
    code = rounding_code(rounding)
    seed = seed_value(seed, code)
    arr = as_float32(x, "x")
    struct = params.to_struct(arr.shape, "params")
    result = output(out, arr.shape, np.float32)
    if out is not x:  # in place is the one overlap allowed
        check_out_overlap(out, "out", arr, x if isinstance(x, np.ndarray) else None)
    _native.lib.sq_fake_quantize(_native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim, ctypes.byref(struct), code, seed,
                                 _native.ptr(result))
    return result


def dequantize(q, params: QParams, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``x = (q - zero_point) * scale`` in float32 (the difference is exact, then one float32 multiply).

    Float formats (ONNX DequantizeLinear): ``x = value(q) * scale``, q the uint8 codes ``quantize`` gives (or
    an ml_dtypes array of the same format); NaN codes give NaN, E5M2's inf codes +-inf.

    Args:
        q: array-like of integers; converted losslessly to ``params.numpy_dtype`` (a value outside that
            storage type is a ValueError; an int4/uint4 value outside [qmin, qmax], or an FP4 / FP6 code
            above 15 / 63, is a SwiftQuantError).
        params: QParams matching q's shape.
        out: optional C-contiguous float32 array of q's shape.

    Returns:
        float32 array of q's shape.

    Raises:
        TypeError: q not an integer array (floats and bools are rejected), params not QParams, bad out dtype.
        ValueError: values outside the storage type, params not matching q's shape, bad out shape/layout.
    """
    params = require_qparams(params, "params")
    q = _float_codes(q, params)
    arr = as_quantized(q, params.numpy_dtype, "q")
    struct = params.to_struct(arr.shape, "params")
    result = output(out, arr.shape, np.float32)
    check_out_overlap(out, "out", arr, q if isinstance(q, np.ndarray) else None)
    _native.lib.sq_dequantize(_native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim, ctypes.byref(struct), _native.ptr(result))
    return result


# ml_dtypes' names of the float formats: arrays of those dtypes are read as their bit patterns.
_ML_DTYPES_NAMES = {"float8_e4m3fn": "float8_e4m3fn", "float8_e4m3fnuz": "float8_e4m3fnuz",
                    "float8_e5m2": "float8_e5m2", "float8_e5m2fnuz": "float8_e5m2fnuz",
                    "float4_e2m1": "float4_e2m1fn", "float6_e3m2": "float6_e3m2fn", "float6_e2m3": "float6_e2m3fn"}


def _float_codes(q, params: QParams):
    """An ml_dtypes array of params' float format, viewed as its uint8 codes; anything else unchanged."""
    if params.is_float and isinstance(q, np.ndarray) and q.dtype.name == _ML_DTYPES_NAMES[params.dtype]:
        return q.view(np.uint8)
    return q


def dynamic_quantize(x) -> Tuple[np.ndarray, float, int]:
    """ONNX DynamicQuantizeLinear: uint8 quantization with parameters computed from x itself.

    In float32 arithmetic: ``scale = (max(0, max(x)) - min(0, min(x))) / 255``,
    ``zero_point = round_half_even(clip(-min(0, min(x)) / scale, 0, 255))``,
    ``q = saturate_uint8(round_half_even(x / scale) + zero_point)``. Empty or all-zero x gives scale 1.0, zero
    point 0.

    Returns:
        ``(q, scale, zero_point)``: uint8 array of x's shape, Python float, Python int.

    Raises:
        TypeError: x not real numbers. SwiftQuantError (a ValueError): NaN or +-inf in x.
    """
    arr = as_float32(x, "x")
    q = np.empty(arr.shape, dtype=np.uint8)
    scale = ctypes.c_float()
    zero_point = ctypes.c_uint8()
    _native.lib.sq_dynamic_quantize(arr, arr.size, q, ctypes.byref(scale), ctypes.byref(zero_point))
    return q, float(scale.value), int(zero_point.value)


_FOUR_BIT = {"int4": np.int8, "uint4": np.uint8, "float4_e2m1": np.uint8}


def _four_bit(dtype) -> str:
    name = dtype_name(dtype)
    if name not in _FOUR_BIT:
        raise error(f"dtype must be 'int4', 'uint4' or 'float4_e2m1' (or the NumPy / ml_dtypes type of one), "
                    f"got {dtype!r}")
    return name


def pack_int4(q, dtype: Optional[str] = None) -> np.ndarray:
    """Packs 4-bit values two per byte, as ONNX stores INT4/UINT4 tensors: element 2i (C order) in the low
    nibble of byte i, element 2i+1 in the high nibble, int4 as two's complement nibbles; an odd count
    leaves the last high nibble 0.

    Args:
        q: array-like of integers in the dtype's range (``quantize`` with an int4/uint4 QParams gives them).
        dtype: ``"int4"``, ``"uint4"`` or ``"float4_e2m1"`` (codes 0 .. 15, packed as ONNX stores FLOAT4E2M1);
            None takes int4 for signed integer input, uint4 for unsigned.

    Returns:
        1-D uint8 array of ``(q.size + 1) // 2`` bytes. ``unpack_int4(p, q.shape, dtype)`` gives q back.

    Raises:
        TypeError: q not integers. ValueError: bad dtype. SwiftQuantError (a ValueError,
        SQ_ERROR_OUT_OF_RANGE): a value outside the dtype, naming the first one.
    """
    q = as_array(q, "q", raw_bytes=True)
    if dtype is None:
        if q.dtype.kind not in "iu":
            raise TypeError(f"q must be an array of integers, got dtype {q.dtype}")
        dtype = "int4" if q.dtype.kind == "i" else "uint4"
    dtype = _four_bit(dtype)
    arr = as_quantized(q, _FOUR_BIT[dtype], "q")
    packed = np.empty((arr.size + 1) // 2, dtype=np.uint8)
    _native.lib.sq_pack_int4(_native.ptr(arr), arr.size, _native.DTYPE_CODES[dtype], _native.ptr(packed), packed.size)
    return packed


def unpack_int4(packed, shape, dtype: str = "int4") -> np.ndarray:
    """The inverse of :func:`pack_int4`: int8 (int4, sign-extended) or uint8 (uint4) values of ``shape``.

    Args:
        packed: array-like of bytes (uint8), ``(prod(shape) + 1) // 2`` of them, read in C order.
        shape: int or tuple of ints, the unpacked shape.
        dtype: ``"int4"``, ``"uint4"`` or ``"float4_e2m1"`` (uint8 codes).

    Raises:
        ValueError: bad dtype or shape, wrong number of bytes. SwiftQuantError (a ValueError): an odd count
        whose padding nibble is not 0 (usually a wrong shape).
    """
    dtype = _four_bit(dtype)
    dims = (shape,) if not isinstance(shape, (tuple, list)) else tuple(shape)
    dims = tuple(as_int(d, "shape") for d in dims)
    if any(d < 0 for d in dims):
        raise error(f"shape must not have negative dimensions, got {dims}", "SQ_ERROR_SHAPE")
    count = int(np.prod(dims, dtype=np.int64))
    arr = as_quantized(packed, np.uint8, "packed").ravel()
    if arr.size != (count + 1) // 2:
        raise error(f"packed has {arr.size} byte(s) but shape {dims} needs (count + 1) // 2 = {(count + 1) // 2}", "SQ_ERROR_SHAPE")
    out = np.empty(dims, dtype=_FOUR_BIT[dtype])
    _native.lib.sq_unpack_int4(_native.ptr(arr), arr.size, _native.DTYPE_CODES[dtype], _native.ptr(out), count)
    return out
