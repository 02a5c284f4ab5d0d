"""Integer matrix products over NumPy arrays: exact int32 (ONNX MatMulInteger), requantized (ONNX
QLinearMatMul) and float output, each with B as an array or as a prepacked PackedMatrix (native
sq_matmul_i32, sq_qlinear_matmul, sq_matmul_f32 and their _packed forms, sq_pack)."""
from __future__ import annotations

import ctypes
from typing import Optional, Tuple

import numpy as np

from . import _native
from ._convert import (error, as_array, as_float32, as_int, as_matmul_operand, as_quantized, check_in_range, check_out_overlap,
                       normalize_axis, output, rounding_code, seed_value)
from ._params import QParams, dtype_range, make_struct
from ._quantize import require_qparams

__all__ = ["matmul", "qlinear_matmul", "matmul_float", "pack", "PackedMatrix"]

_MATMUL_DTYPES = ("int8", "uint8")


# --- argument helpers -----------------------------------------------------------------------------------------
def _is_zero_scalar(value) -> bool:
    return np.ndim(value) == 0 and not isinstance(value, (str, bytes)) and value == 0


def _require_ndim(arr: np.ndarray, name: str, exact: Optional[int] = None) -> None:
    if exact is not None and arr.ndim != exact:
        raise error(f"{name} must be {exact}-D, got shape {arr.shape}", "SQ_ERROR_SHAPE")
    if arr.ndim == 0:
        raise error(f"{name} must have at least one dimension (matmul of a scalar), got shape ()", "SQ_ERROR_SHAPE")


def _columns(b_shape: tuple) -> int:
    """N of B [..., K, N]; a 1-D B is [K, 1]."""
    return b_shape[-1] if len(b_shape) >= 2 else 1


def _zero_points(value, dtype: str, n: int, name: str) -> np.ndarray:
    """A scalar or length-n integer zero point as an int32 array of 1 or n entries, checked against dtype."""
    arr = as_array(value, name)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an integer or a sequence of integers, got dtype {arr.dtype}")
    if arr.ndim > 1:
        raise error(f"{name} must be a scalar or 1-D (one per column), got shape {arr.shape}", "SQ_ERROR_SHAPE")
    if arr.ndim == 1 and arr.shape[0] != n:
        raise error(f"{name} must have one entry per column of b ({n}), got {arr.shape[0]}", "SQ_ERROR_SHAPE")
    qmin, qmax = dtype_range(dtype)
    if arr.size and (int(arr.min()) < qmin or int(arr.max()) > qmax):
        raise error(f"{name} must lie in [{qmin}, {qmax}] for {dtype} b, got values in "
                         f"[{int(arr.min())}, {int(arr.max())}]", "SQ_ERROR_OUT_OF_RANGE")
    return np.ascontiguousarray(arr.reshape(-1), dtype=np.int32)


def _check_matmul_params(params, name: str, per_column_ndim: Optional[int] = None) -> QParams:
    """int8/uint8 QParams, per tensor (or, when per_column_ndim is given, per column of a matrix of that ndim)."""
    params = require_qparams(params, name)
    if params.dtype not in _MATMUL_DTYPES:
        raise error(f"{name}.dtype must be 'int8' or 'uint8' for matrix products, got {params.dtype!r}")
    if params.axis is None:
        return params
    if per_column_ndim is None:
        raise error(f"{name} must be per tensor (axis=None), got axis={params.axis}")
    if params.block_size is not None or normalize_axis(params.axis, per_column_ndim, f"{name}.axis") != per_column_ndim - 1:
        raise error(f"{name} must be per tensor or per column (axis=-1 or {per_column_ndim - 1}, no block_size), "
                         f"got axis={params.axis}, block_size={params.block_size}")
    return params


def _result(out, a_arr: np.ndarray, b_shape: tuple, dtype, *inputs) -> np.ndarray:
    shape = _native.matmul_shape(a_arr.shape, b_shape)
    result = output(out, shape, dtype)
    check_out_overlap(out, "out", a_arr, *inputs)
    return result


def _shape(arr: np.ndarray):
    return _native.shape_arg(arr.shape), arr.ndim


# --- PackedMatrix ------------------------------------------------------------------------------------------------
class PackedMatrix:
    """A B matrix ``[K, N]`` packed once for the active kernel (native ``sq_pack``), with its zero points
    folded in and, if packed with QParams, its scales. It stands wherever ``b`` does in ``matmul``,
    ``qlinear_matmul`` (with ``b_params=None``) and ``matmul_float``.

    Construct it with ``swiftquant.pack`` (same arguments). The native memory is freed by ``close()``, by
    leaving a ``with`` block, or on garbage collection; using a closed matrix is a ValueError. Immutable and
    safe to share between threads; not picklable (pickle b and its QParams, and pack again).

    Attributes: ``shape`` (K, N), ``dtype`` ('int8' or 'uint8'), ``has_scale``, ``closed``.
    """

    _destroy = staticmethod(_native.lib.sq_packed_destroy)  # held here so __del__ works at interpreter exit

    def __init__(self, b, b_params: Optional[QParams] = None, b_zero_point=0):
        self._handle = ctypes.c_void_p()
        if b_params is not None:
            b_params = _check_matmul_params(b_params, "b_params", per_column_ndim=2)
            if not _is_zero_scalar(b_zero_point):
                raise error("b_zero_point must be left at 0 when b_params is given (its zero points are used)")
            b_arr = as_quantized(b, b_params.numpy_dtype, "b")
            _require_ndim(b_arr, "b", exact=2)
            struct = b_params.to_struct(b_arr.shape, "b_params")
        else:
            b_arr, dtype = as_matmul_operand(b, "b")
            _require_ndim(b_arr, "b", exact=2)
            zb = _zero_points(b_zero_point, dtype, b_arr.shape[1], "b_zero_point")
            per_tensor = np.ndim(b_zero_point) == 0
            struct = make_struct(None, zb, zb.size, dtype, _native.SQ_PER_TENSOR if per_tensor else 1, 0)
        shape, ndim = _shape(b_arr)
        _native.lib.sq_pack(b_arr, shape, ndim, ctypes.byref(struct), ctypes.byref(self._handle))
        k, n, dtype_code, has_scale = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int32(), ctypes.c_int32()
        _native.lib.sq_packed_info(self._handle, ctypes.byref(k), ctypes.byref(n), ctypes.byref(dtype_code),
                                   ctypes.byref(has_scale))
        self._shape = (k.value, n.value)
        self._dtype = _native.DTYPE_NAMES[dtype_code.value]
        self._has_scale = bool(has_scale.value)

    @property
    def shape(self) -> Tuple[int, int]:
        return self._shape

    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def has_scale(self) -> bool:
        return self._has_scale

    @property
    def closed(self) -> bool:
        return not self._handle

    def handle(self, name: str = "b") -> ctypes.c_void_p:
        """The native handle; ValueError naming ``name`` once closed."""
        if not self._handle:
            raise error(f"{name} is a closed PackedMatrix")
        return self._handle

    def close(self) -> None:
        """Free the native memory now (idempotent)."""
        handle = getattr(self, "_handle", None)
        if handle:
            self._handle = ctypes.c_void_p()
            self._destroy(handle)

    def __enter__(self) -> "PackedMatrix":
        self.handle("PackedMatrix")
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __reduce__(self):
        raise TypeError("a PackedMatrix cannot be pickled: pickle b and its QParams, and pack again")

    def __repr__(self) -> str:
        state = ", closed" if self.closed else ""
        return f"PackedMatrix(shape={self._shape}, dtype={self._dtype!r}, has_scale={self._has_scale}{state})"


def pack(b, b_params: Optional[QParams] = None, b_zero_point=0) -> PackedMatrix:
    """Pack a 2-D B ``[K, N]`` once for repeated products (weights).

    With ``b_params`` (int8/uint8, per tensor or per column: axis 1 or -1) b is converted losslessly to its
    dtype and the matrix also carries the scales, so it serves ``qlinear_matmul`` and ``matmul_float``;
    ``b_zero_point`` must then be left at 0. Without ``b_params`` the dtype follows b as in ``matmul`` and the
    zero point is ``b_zero_point`` (scalar or one per column); such a matrix serves ``matmul`` only.

    Raises:
        TypeError: b not integers, b_params not QParams. ValueError: b not 2-D, values or zero points out of
        range, bad granularity; SwiftQuantError for what the native library rejects.
    """
    return PackedMatrix(b, b_params, b_zero_point)


# --- products ------------------------------------------------------------------------------------------------------
def matmul(a, b, a_zero_point=0, b_zero_point=0, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Exact int32 ``C[..., m, n] = sum_k (A[..., m, k] - a_zero_point) * (B[..., k, n] - zb[n])`` (ONNX
    MatMulInteger).

    Shapes follow numpy.matmul: leading dimensions broadcast; a 1-D a is a row vector and a 1-D b a column
    vector, dropped from the result.

    dtypes: int8 and uint8 arrays are used as they are; other integer arrays become int8 if every value fits
    [-128, 127], else uint8 if every value fits [0, 255] (pass a uint8 array to force uint8).

    Args:
        a: integer array-like ``[..., M, K]``. b: integer array-like ``[..., K, N]``, or a PackedMatrix.
        a_zero_point: int in a's dtype range. b_zero_point: int or length-N sequence in b's dtype range; must be
            left at 0 when b is a PackedMatrix (the packed zero points are used).
        out: optional C-contiguous int32 array of the result shape.

    Raises:
        TypeError: non-integer a/b/zero points, bad out dtype. ValueError: values that fit neither int8 nor
        uint8, zero points out of range, shape mismatch, a closed PackedMatrix; SwiftQuantError
        (SQ_ERROR_OVERFLOW) when K and the value ranges could overflow int32.
    """
    a_arr, a_dtype = as_matmul_operand(a, "a")
    _require_ndim(a_arr, "a")
    za = check_in_range(as_int(a_zero_point, "a_zero_point"), *dtype_range(a_dtype), "a_zero_point")
    a_shape, a_ndim = _shape(a_arr)
    if isinstance(b, PackedMatrix):
        if not _is_zero_scalar(b_zero_point):
            raise error("b_zero_point must be left at 0 when b is a PackedMatrix (its packed zero points "
                             "are used)")
        handle = b.handle("b")
        c = _result(out, a_arr, b.shape, np.int32, a if isinstance(a, np.ndarray) else None)
        _native.lib.sq_matmul_i32_packed(a_arr, _native.DTYPE_CODES[a_dtype], a_shape, a_ndim, za, handle, c, c.size)
        return c
    b_arr, b_dtype = as_matmul_operand(b, "b")
    _require_ndim(b_arr, "b")
    zb = _zero_points(b_zero_point, b_dtype, _columns(b_arr.shape), "b_zero_point")
    c = _result(out, a_arr, b_arr.shape, np.int32, b_arr, *(v for v in (a, b) if isinstance(v, np.ndarray)))
    b_shape, b_ndim = _shape(b_arr)
    _native.lib.sq_matmul_i32(a_arr, _native.DTYPE_CODES[a_dtype], a_shape, a_ndim, za,
                              b_arr, _native.DTYPE_CODES[b_dtype], b_shape, b_ndim, zb, zb.size, c, c.size)
    return c


def _operands(a, a_params, b, b_params):
    """Checked (a_arr, a_struct, b_arr-or-None, b_struct-or-None, packed-or-None) of the qlinear/float products."""
    a_params = _check_matmul_params(a_params, "a_params")
    a_arr = as_quantized(a, a_params.numpy_dtype, "a")
    _require_ndim(a_arr, "a")
    a_struct = a_params.to_struct(a_arr.shape, "a_params")
    if isinstance(b, PackedMatrix):
        if b_params is not None:
            raise error("b_params must be None when b is a PackedMatrix (it carries its own parameters)")
        b.handle("b")
        if not b.has_scale:
            raise error("b is a PackedMatrix without scales: pack it with b_params to use it here")
        return a_arr, a_struct, None, None, b
    if b_params is None:
        raise TypeError("b_params must be a swiftquant.QParams when b is an array")
    # Per column needs a matrix: a 1-D b is one column (N dropped), so it takes per-tensor parameters.
    b_ndim = np.ndim(b)
    b_params = _check_matmul_params(b_params, "b_params", per_column_ndim=b_ndim if b_ndim >= 2 else None)
    b_arr = as_quantized(b, b_params.numpy_dtype, "b")
    _require_ndim(b_arr, "b")
    return a_arr, a_struct, b_arr, b_params.to_struct(b_arr.shape, "b_params"), None


def qlinear_matmul(a, a_params: QParams, b, b_params: Optional[QParams], y_params: QParams,
                   rounding: str = "nearest_even", seed: Optional[int] = None,
                   out: Optional[np.ndarray] = None) -> np.ndarray:
    """Requantized product (ONNX QLinearMatMul):
    ``y = saturate(round(double(C) * M + zy))``, ``M = float32(float32(sa * sb[n]) / sy)``, where C is the exact
    int32 product of ``matmul`` with the parameters' zero points. The zero point is added before rounding.

    Args:
        a: integer array-like ``[..., M, K]``, converted losslessly to ``a_params.numpy_dtype``.
        a_params: int8/uint8, per tensor.
        b: integer array-like ``[..., K, N]`` (converted to ``b_params.numpy_dtype``), or a PackedMatrix packed
            with b_params (then pass ``b_params=None``).
        b_params: int8/uint8, per tensor or per column (axis -1 or b.ndim - 1).
        y_params: int8/uint8, per tensor; the result dtype is ``y_params.numpy_dtype``.
        rounding, seed: as in ``quantize`` (the stochastic index is the flat output index).
        out: optional C-contiguous array of ``y_params.numpy_dtype`` and the result shape.

    Raises:
        TypeError: non-integer a/b, params not QParams. ValueError: bad dtype or granularity of the params,
        values out of range, shape mismatch; SwiftQuantError for overflow and what the native library rejects.
    """
    a_arr, a_struct, b_arr, b_struct, packed = _operands(a, a_params, b, b_params)
    y_params = _check_matmul_params(y_params, "y_params")
    code = rounding_code(rounding)
    seed = seed_value(seed, code)
    y_struct = y_params.to_struct((), "y_params")
    a_shape, a_ndim = _shape(a_arr)
    originals = [v for v in (a, b) if isinstance(v, np.ndarray)]
    if packed is not None:
        y = _result(out, a_arr, packed.shape, y_params.numpy_dtype, *originals)
        _native.lib.sq_qlinear_matmul_packed(a_arr, a_shape, a_ndim, ctypes.byref(a_struct), packed.handle("b"),
                                             ctypes.byref(y_struct), code, seed, y, y.size)
        return y
    y = _result(out, a_arr, b_arr.shape, y_params.numpy_dtype, b_arr, *originals)
    b_shape, b_ndim = _shape(b_arr)
    _native.lib.sq_qlinear_matmul(a_arr, a_shape, a_ndim, ctypes.byref(a_struct), b_arr, b_shape, b_ndim,
                                  ctypes.byref(b_struct), ctypes.byref(y_struct), code, seed, y, y.size)
    return y


def matmul_float(a, a_params: QParams, b, b_params: Optional[QParams], bias=None,
                 out: Optional[np.ndarray] = None) -> np.ndarray:
    """Float product of quantized operands: ``y = float32(C) * float32(sa * sb[n]) + bias[n]`` in float32
    (multiply, then add), C the exact int32 product with the parameters' zero points.

    Args:
        a, a_params, b, b_params: as in ``qlinear_matmul`` (b may be a PackedMatrix with ``b_params=None``).
        bias: None, a scalar, or a length-N array-like of real numbers (converted to float32).
        out: optional C-contiguous float32 array of the result shape.

    Returns:
        float32 array of the numpy.matmul result shape.

    Raises:
        As ``qlinear_matmul``; ValueError for a bias of the wrong length.
    """
    a_arr, a_struct, b_arr, b_struct, packed = _operands(a, a_params, b, b_params)
    b_shape_tuple = packed.shape if packed is not None else b_arr.shape
    n = _columns(b_shape_tuple)
    bias_arr = None
    if bias is not None:
        bias_arr = as_float32(bias, "bias")
        if bias_arr.ndim == 0:
            bias_arr = np.full(n, bias_arr, dtype=np.float32)
        elif bias_arr.ndim != 1 or bias_arr.shape[0] != n:
            raise error(f"bias must be a scalar or have one entry per column of b ({n}), got shape "
                             f"{bias_arr.shape}", "SQ_ERROR_SHAPE")
    originals = [v for v in (a, b, bias) if isinstance(v, np.ndarray)]
    y = _result(out, a_arr, b_shape_tuple, np.float32, *originals, *(v for v in (b_arr, bias_arr) if v is not None))
    a_shape, a_ndim = _shape(a_arr)
    bias_count = 0 if bias_arr is None else bias_arr.size
    if packed is not None:
        _native.lib.sq_matmul_f32_packed(a_arr, a_shape, a_ndim, ctypes.byref(a_struct), packed.handle("b"),
                                         bias_arr, bias_count, y, y.size)
        return y
    b_shape, b_ndim = _shape(b_arr)
    _native.lib.sq_matmul_f32(a_arr, a_shape, a_ndim, ctypes.byref(a_struct), b_arr, b_shape, b_ndim,
                              ctypes.byref(b_struct), bias_arr, bias_count, y, y.size)
    return y
