"""Quantization parameters: dtypes, their ranges, and QParams (scale, zero point, granularity), plus the
conversion of a QParams into the native ``sq_qparams`` struct for one tensor shape."""
from __future__ import annotations

import ctypes
from typing import Optional, Tuple

import numpy as np

from . import _native
from ._convert import error, as_array, as_int, normalize_axis

__all__ = ["DTYPES", "INT_DTYPES", "FLOAT_DTYPES", "ROUNDINGS", "dtype_range", "QParams", "dtype_name"]

INT_DTYPES = ("int8", "uint8", "int16", "uint16", "int4", "uint4")
# ONNX's FP8 types, FP4 E2M1 and the two FP6 element types of OCP MX (README "Float formats").
FLOAT_DTYPES = ("float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float4_e2m1",
                "float6_e3m2", "float6_e2m3")
DTYPES = INT_DTYPES + FLOAT_DTYPES
ROUNDINGS = ("nearest_even", "half_away", "floor", "stochastic")
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # smallest normal float32 (FLT_MIN)


# ml_dtypes spells the OCP FP4/FP6 types with an "fn" suffix (no inf, no NaN); the FP8 names are the same.
_ML_DTYPES_ALIASES = {"float4_e2m1fn": "float4_e2m1", "float6_e3m2fn": "float6_e3m2", "float6_e2m3fn": "float6_e2m3"}


def dtype_name(dtype):
    """The name a dtype argument stands for: a string as it is; a NumPy dtype or scalar type (``np.int8``,
    ``np.dtype("uint8")``) or an ml_dtypes type (``ml_dtypes.float8_e4m3fn``, ``ml_dtypes.int4``) by its
    dtype name, so ml_dtypes is never imported here. Anything else is returned unchanged for the caller's
    error message."""
    if isinstance(dtype, str):
        return dtype
    if isinstance(dtype, np.dtype) or (isinstance(dtype, type) and issubclass(dtype, np.generic)):
        name = np.dtype(dtype).name
        return _ML_DTYPES_ALIASES.get(name, name)
    return dtype


def check_dtype(dtype, name: str = "dtype") -> str:
    """The dtype name if ``dtype`` is one of DTYPES (a string, NumPy dtype or type, or ml_dtypes type), else
    SwiftQuantError naming ``name``."""
    resolved = dtype_name(dtype)
    if isinstance(resolved, str) and resolved in _native.DTYPE_CODES:
        return resolved
    raise error(f"{name} must be one of {DTYPES} (a name, NumPy dtype or ml_dtypes type), got {dtype!r}")


def dtype_range(dtype: str):
    """``(qmin, qmax)`` of a quantized dtype (native ``sq_dtype_range`` / ``sq_dtype_max_value``).

    int8 (-128, 127), uint8 (0, 255), int16 (-32768, 32767), uint16 (0, 65535), int4 (-8, 7), uint4 (0, 15);
    a float format gives its finite value range as floats: float8_e4m3fn (-448.0, 448.0), float8_e4m3fnuz
    (-240.0, 240.0), float8_e5m2 and float8_e5m2fnuz (-57344.0, 57344.0), float4_e2m1 (-6.0, 6.0),
    float6_e3m2 (-28.0, 28.0), float6_e2m3 (-7.5, 7.5).
    Raises ValueError for a name not in DTYPES.
    """
    dtype = check_dtype(dtype)
    code = _native.DTYPE_CODES[dtype]
    if dtype in FLOAT_DTYPES:
        top = ctypes.c_float()
        _native.lib.sq_dtype_max_value(code, ctypes.byref(top))
        return -top.value, top.value
    qmin, qmax = ctypes.c_int32(), ctypes.c_int32()
    _native.lib.sq_dtype_range(code, ctypes.byref(qmin), ctypes.byref(qmax))
    return qmin.value, qmax.value


_RANGES = {name: dtype_range(name) for name in DTYPES}


def _as_scale(scale) -> np.ndarray:
    arr = as_array(scale, "scale")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"scale must be real numbers (integer or floating dtype), got dtype {arr.dtype}")
    with np.errstate(over="ignore", under="ignore"):
        arr = np.array(arr, dtype=np.float32, order="C", copy=True)
    bad = ~(np.isfinite(arr) & (arr >= _FLOAT32_TINY))
    if bad.any():
        raise error("scale must be finite, positive and normal in float32 (>= "
                         f"{_FLOAT32_TINY:.9g}); got {float(arr[bad].ravel()[0])!r}")
    return arr


def _as_zero_point(zero_point, shape: tuple, qmin: int, qmax: int, dtype: str) -> np.ndarray:
    arr = as_array(zero_point, "zero_point")
    if dtype in FLOAT_DTYPES and arr.dtype.kind in "iuf" and arr.size and np.any(arr != 0):
        raise error(f"zero_point must be 0 for the float format {dtype} (ONNX), got "
                         f"{arr[arr != 0].ravel()[0]!r}")
    if arr.dtype.kind == "f":
        integral = np.isfinite(arr) & (arr == np.floor(arr))
        if not integral.all():
            raise error(f"zero_point must hold integers, got {float(arr[~integral].ravel()[0])!r}")
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"zero_point must be integers, got dtype {arr.dtype}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < qmin or hi > qmax:
            raise error(f"zero_point must lie in [{qmin}, {qmax}], got values in [{lo}, {hi}]", "SQ_ERROR_OUT_OF_RANGE")
    if arr.shape != shape:
        if arr.size != 1:
            raise error(f"zero_point has shape {arr.shape}, but scale has shape {shape} "
                             "(give one zero point per scale, or a single one)", "SQ_ERROR_SHAPE")
        arr = np.broadcast_to(arr.reshape(()), shape)
    return np.array(arr, dtype=np.int32, order="C", copy=True)


class QParams:
    """Quantization parameters of one tensor: ``q = saturate(round(x / scale) + zero_point)``.

    Granularity:
      * per tensor (``axis=None``): one scale; ``scale`` is 0-d.
      * per axis (``axis=k``): one scale per index along axis k; ``scale`` is 1-D of length ``x.shape[k]``.
      * per block (``axis=k, block_size=b``): ONNX blocked layout; ``scale`` has x's shape with dim k replaced
        by ``ceil(x.shape[k] / b)``, and element ``x[..., i, ...]`` uses ``scale[..., i // b, ...]``.
    A negative axis is allowed; it is normalised against the tensor the parameters are used with.

    Args:
        scale: array-like of positive, finite, normal float32 values (stored as float32).
        zero_point: integers in ``[qmin, qmax]`` of the dtype; one per scale, or a scalar that broadcasts.
        dtype: one of DTYPES. Storage (``numpy_dtype``): int8 for int8/int4, uint8 for uint8/uint4, int16, uint16;
            uint8 bit patterns for the float formats (FLOAT_DTYPES: FP8, FP6, FP4), whose zero point is 0.
        axis, block_size: the granularity, as above.

    Raises:
        ValueError: unknown dtype; block_size without axis or <= 0; a per-tensor scale with more than one
            value; a per-axis scale that is not 1-D; a scale that is not finite, positive and normal; a zero
            point that is not an integer or lies outside the dtype's range.
        TypeError: scale or zero_point of a non-numeric dtype; axis or block_size not an integer.

    The arrays are read-only copies; QParams compare equal by value and pickle.
    """

    __hash__ = None  # equality is by array value

    def __init__(self, scale, zero_point=0, dtype: str = "int8", axis: Optional[int] = None,
                 block_size: Optional[int] = None):
        self._dtype = check_dtype(dtype)
        self._axis = None if axis is None else as_int(axis, "axis")
        self._block_size = None if block_size is None else as_int(block_size, "block_size")
        if self._block_size is not None:
            if self._axis is None:
                raise error("block_size requires axis (per-block quantization is along one axis)")
            if not 0 < self._block_size < 2 ** 63:  # int64 in the native struct
                raise error(f"block_size must be positive (and below 2**63), got {self._block_size}")
        scale = _as_scale(scale)
        if self._axis is None:
            if scale.size != 1:
                raise error(f"scale must hold one value for per-tensor parameters (axis=None), "
                                 f"got shape {scale.shape}", "SQ_ERROR_SHAPE")
            scale = scale.reshape(())
        elif self._block_size is None and scale.ndim != 1:
            raise error(f"scale must be 1-D for per-axis parameters (axis={self._axis}), got shape {scale.shape}", "SQ_ERROR_SHAPE")
        elif self._block_size is not None and scale.ndim == 0:
            raise error("scale must have the blocked shape for per-block parameters, got a 0-d array", "SQ_ERROR_SHAPE")
        qmin, qmax = _RANGES[self._dtype]
        zero_point = _as_zero_point(zero_point, scale.shape, qmin, qmax, self._dtype)
        scale.flags.writeable = False
        zero_point.flags.writeable = False
        self._scale, self._zero_point = scale, zero_point

    # --- read-only attributes -------------------------------------------------------------------------------
    @property
    def scale(self) -> np.ndarray:
        """float32 array: 0-d per tensor, 1-D per axis, the blocked shape per block (read-only)."""
        return self._scale

    @property
    def zero_point(self) -> np.ndarray:
        """int32 array of the same shape as ``scale`` (read-only)."""
        return self._zero_point

    @property
    def dtype(self) -> str:
        return self._dtype

    @property
    def axis(self) -> Optional[int]:
        return self._axis

    @property
    def block_size(self) -> Optional[int]:
        return self._block_size

    @property
    def qmin(self):
        """The smallest quantized value: an int, or -largest finite value (a float) for a float format."""
        return _RANGES[self._dtype][0]

    @property
    def qmax(self):
        """The largest quantized value: an int, or the largest finite value (a float) for a float format."""
        return _RANGES[self._dtype][1]

    @property
    def is_float(self) -> bool:
        """True for the float formats (FLOAT_DTYPES)."""
        return self._dtype in FLOAT_DTYPES

    @property
    def numpy_dtype(self) -> np.dtype:
        """The storage dtype of quantized values: int8 (int8, int4), uint8 (uint8, uint4, float formats), int16,
        uint16."""
        return _native.STORAGE_DTYPES[self._dtype]

    @property
    def granularity(self) -> str:
        """``"tensor"``, ``"axis"`` or ``"block"``."""
        return "tensor" if self._axis is None else ("axis" if self._block_size is None else "block")

    # --- value semantics ------------------------------------------------------------------------------------
    def __eq__(self, other):
        if not isinstance(other, QParams):
            return NotImplemented
        return (self._dtype == other._dtype and self._axis == other._axis
                and self._block_size == other._block_size
                and self._scale.shape == other._scale.shape
                and np.array_equal(self._scale, other._scale)
                and np.array_equal(self._zero_point, other._zero_point))

    def __repr__(self) -> str:
        def fmt(a: np.ndarray) -> str:
            if a.ndim == 0:
                return str(a[()])
            return np.array2string(a, separator=", ", threshold=8, max_line_width=1 << 30).replace("\n", "")

        text = f"QParams(scale={fmt(self._scale)}, zero_point={fmt(self._zero_point)}, dtype={self._dtype!r}"
        if self._axis is not None:
            text += f", axis={self._axis}"
        if self._block_size is not None:
            text += f", block_size={self._block_size}"
        return text + ")"

    def __reduce__(self):
        return (QParams, (np.array(self._scale), np.array(self._zero_point), self._dtype, self._axis,
                          self._block_size))

    # --- native form ----------------------------------------------------------------------------------------
    def native_axis(self, ndim: int, name: str = "params") -> int:
        """The axis for the native library: SQ_PER_TENSOR or 0 .. ndim-1."""
        if self._axis is None:
            return _native.SQ_PER_TENSOR
        return normalize_axis(self._axis, ndim, f"{name}.axis")

    def expected_scale_shape(self, shape: tuple, name: str = "params") -> tuple:
        """The scale shape these parameters need for a tensor of ``shape``."""
        axis = self.native_axis(len(shape), name)
        if axis == _native.SQ_PER_TENSOR:
            return ()
        if self._block_size is None:
            return (shape[axis],)
        blocked = list(shape)
        blocked[axis] = -(-shape[axis] // self._block_size)
        return tuple(blocked)

    def to_struct(self, shape: tuple, name: str = "params") -> _native.QParamsStruct:
        """An ``sq_qparams`` for a tensor of ``shape`` (ValueError naming ``name`` if they do not match).

        The struct keeps references to the arrays it points into (``_keep``), so it is safe for as long as
        it lives.
        """
        shape = tuple(shape)
        # Small calls are dominated by building the struct: reuse the last one (the arrays are read-only).
        cached = self.__dict__.get("_struct_cache")
        if cached is not None and cached[0] == shape:
            return cached[1]
        expected = self.expected_scale_shape(shape, name)
        if self._scale.shape != expected:
            raise error(f"{name}.scale has shape {self._scale.shape}, but a tensor of shape {shape} with "
                             f"{self.granularity} granularity (axis={self._axis}, block_size={self._block_size}) "
                             f"needs {expected}", "SQ_ERROR_SHAPE")
        struct = make_struct(self._scale, self._zero_point, self._scale.size, self._dtype,
                             self.native_axis(len(shape), name), self._block_size or 0)
        self.__dict__["_struct_cache"] = (shape, struct)
        return struct


def make_struct(scale: Optional[np.ndarray], zero_point: Optional[np.ndarray], count: int, dtype: str,
                axis: int, block_size: int) -> _native.QParamsStruct:
    """Fill an ``sq_qparams`` from C-contiguous float32 / int32 arrays (either may be None -> NULL)."""
    struct = _native.QParamsStruct(
        scale.ctypes.data_as(ctypes.POINTER(ctypes.c_float)) if scale is not None else None,
        zero_point.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)) if zero_point is not None else None,
        count, _native.DTYPE_CODES[dtype], axis, block_size)
    struct._keep = (scale, zero_point)  # the pointers borrow these buffers
    return struct
