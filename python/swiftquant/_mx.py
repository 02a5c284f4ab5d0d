"""OCP Microscaling (MX) v1.0 block formats over NumPy arrays (native sq_mx_quantize, sq_mx_dequantize):
blocks of 32 consecutive elements along one axis share a power-of-two E8M0 scale; the elements are FP8 /
FP6 / FP4 codes or int8. The rules are written out in swiftquant.h ("OCP Microscaling (MX) block formats")."""
from __future__ import annotations

import ctypes
from typing import Tuple

import numpy as np

from . import _native
from ._convert import error, as_float32, as_int, as_quantized, output

__all__ = ["MX_FORMATS", "MX_BLOCK_SIZE", "mx_quantize", "mx_dequantize"]

# Names -> the header's sq_mx_format codes.
MX_FORMATS = {"mxfp8_e4m3": 0, "mxfp8_e5m2": 1, "mxfp6_e3m2": 2, "mxfp6_e2m3": 3, "mxfp4": 4, "mxint8": 5}
MX_BLOCK_SIZE = 32

# ml_dtypes' names of the element formats: arrays of those dtypes are read as their bit patterns.
_ML_DTYPES_NAMES = {"mxfp8_e4m3": "float8_e4m3fn", "mxfp8_e5m2": "float8_e5m2", "mxfp6_e3m2": "float6_e3m2fn",
                    "mxfp6_e2m3": "float6_e2m3fn", "mxfp4": "float4_e2m1fn"}


def _format_code(fmt) -> int:
    if not isinstance(fmt, str):
        raise TypeError(f"fmt must be an MX format name (str), got {type(fmt).__name__}")
    try:
        return MX_FORMATS[fmt]
    except KeyError:
        raise error(f"fmt must be one of {tuple(MX_FORMATS)}, got {fmt!r}") from None


def _axis(axis, ndim: int) -> int:
    """A negative axis counts from the end; out-of-range values go to the library, which names them."""
    axis = as_int(axis, "axis")
    if -ndim <= axis < 0:
        axis += ndim
    return axis if -2**31 <= axis < 2**31 else -2**31


def _element_storage(fmt: str) -> np.dtype:
    return np.dtype(np.int8) if fmt == "mxint8" else np.dtype(np.uint8)


def _scale_shape(shape: tuple, axis: int) -> tuple:
    if not 0 <= axis < len(shape):
        return ()  # the native call rejects the axis
    return shape[:axis] + (-(-shape[axis] // MX_BLOCK_SIZE),) + shape[axis + 1:]


def mx_quantize(x, fmt: str, axis: int = -1) -> Tuple[np.ndarray, np.ndarray]:
    """Quantizes x to an OCP MX block format in blocks of 32 consecutive elements along ``axis``.

    Per block (OCP MX v1.0 section 6.3): ``X = clamp(floor(log2(max|x|)) - emax_elem, -127, 127)``, scale code
    ``X + 127`` (E8M0: value ``2**(code - 127)``), elements ``convert(x / 2**X)`` rounded to nearest even
    and saturated to the element's largest value (MXINT8: ``clip(rint(x / 2**X * 64), -127, 127)``). The
    last block along the axis may be shorter than 32; it is scaled by its own amax. An all-zero block gets
    scale code 0; a block holding NaN or +-inf gets the NaN scale code 255 and zero elements.

    Args:
        x: array-like of real numbers (at least 1-dimensional), converted to float32.
        fmt: one of MX_FORMATS: ``"mxfp8_e4m3"``, ``"mxfp8_e5m2"``, ``"mxfp6_e3m2"``, ``"mxfp6_e2m3"``,
            ``"mxfp4"``, ``"mxint8"``.
        axis: the axis the blocks run along (default the last; negative counts from the end).

    Returns:
        ``(elements, scales)``: elements of x's shape (uint8 codes, the element format's bit patterns; int8
        for mxint8), scales of x's shape with dimension ``axis`` replaced by ``ceil(n / 32)`` (uint8 E8M0
        codes).

    Raises:
        TypeError: x not real numbers, fmt not a str, axis not an int.
        ValueError: unknown fmt; SwiftQuantError (a ValueError) for a 0-dimensional x or an axis out of range.
    """
    code = _format_code(fmt)
    arr = as_float32(x, "x")
    ax = _axis(axis, arr.ndim)
    scale_shape = _scale_shape(arr.shape, ax)
    elements = output(None, arr.shape, _element_storage(fmt))
    scales = output(None, scale_shape, np.uint8)
    _native.lib.sq_mx_quantize(_native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim, ax, code,
                               _native.ptr(elements), _native.ptr(scales), scales.size if scale_shape else 0)
    return elements, scales


def mx_dequantize(elements, scales, fmt: str, axis: int = -1) -> np.ndarray:
    """Dequantizes MX elements and scales (as :func:`mx_quantize` returns them) to float32:
    ``value(element) * 2**(scale - 127)``, the correctly rounded float32 product; scale code 255 gives NaN
    for its whole block; MXINT8 elements are ``q / 64`` (-128, never produced, decodes as -2).

    Args:
        elements: integer array-like of element codes (uint8; int8 for mxint8), or an ml_dtypes array of
            the element format (read as its bit patterns).
        scales: integer array-like of E8M0 codes, elements' shape with dimension ``axis`` replaced by
            ``ceil(n / 32)``.
        fmt: one of MX_FORMATS.
        axis: the blocks' axis (default the last).

    Returns:
        float32 array of elements' shape.

    Raises:
        TypeError: elements or scales not integer arrays, fmt not a str, axis not an int.
        ValueError: unknown fmt, values outside the storage type, scales of the wrong shape;
            SwiftQuantError (a ValueError) for an element code outside the format (>= 64 for FP6, >= 16 for
            FP4), a 0-dimensional array or an axis out of range.
    """
    code = _format_code(fmt)
    if isinstance(elements, np.ndarray) and fmt in _ML_DTYPES_NAMES and elements.dtype.name == _ML_DTYPES_NAMES[fmt]:
        elements = elements.view(np.uint8)
    e = as_quantized(elements, _element_storage(fmt), "elements")
    s = as_quantized(scales, np.uint8, "scales")
    ax = _axis(axis, e.ndim)
    expected = _scale_shape(e.shape, ax)
    if expected and s.shape != expected:
        raise error(f"scales must have shape {expected} (elements' shape {e.shape} with axis {ax} in "
                         f"blocks of {MX_BLOCK_SIZE}), got {s.shape}", "SQ_ERROR_SHAPE")
    result = output(None, e.shape, np.float32)
    _native.lib.sq_mx_dequantize(_native.ptr(e), _native.ptr(s), s.size, _native.shape_arg(e.shape), e.ndim, ax,
                                 code, _native.ptr(result))
    return result
