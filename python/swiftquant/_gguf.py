"""llama.cpp's GGUF block formats Q4_0, Q4_1 and Q8_0 over NumPy arrays (native sq_gguf_quantize,
sq_gguf_dequantize, sq_gguf_block_info): the bytes of ggml-quants.c's reference quantizers, bit for bit,
in the layout gguf-py's ``gguf.quants`` uses (rows of ``K / 32`` blocks)."""
from __future__ import annotations

import builtins
import ctypes
import operator
from typing import Optional, Tuple

import numpy as np

from . import _native
from ._convert import as_float32, as_int, as_quantized, check_out_overlap, output
from ._errors import SwiftQuantError

__all__ = ["GGUF_TYPES", "gguf_block_info", "gguf_quantize", "gguf_dequantize"]

# Names -> ggml type ids (the header's sq_gguf_type; the values of gguf.GGMLQuantizationType).
GGUF_TYPES = {"Q4_0": 2, "Q4_1": 3, "Q8_0": 8}
_BLOCK = 32


def _error(message: str, status: int) -> SwiftQuantError:
    return SwiftQuantError(f"{message} [{_native.status_name(status)}]", status, _native.status_name(status))


def _type_code(type) -> int:
    """The ggml type id of a name ("Q4_0", any case), a gguf.GGMLQuantizationType member or an int."""
    if isinstance(type, str):
        code = GGUF_TYPES.get(type.upper())
        if code is None:
            raise _error(f"type: unknown GGUF type {type!r} (expected one of {', '.join(GGUF_TYPES)})",
                         _native.SQ_ERROR_INVALID_ARGUMENT)
        return code
    if isinstance(type, (bool, np.bool_)):
        raise TypeError("type must be a GGUF type name (str), a gguf.GGMLQuantizationType or an int, got bool")
    try:
        code = operator.index(type)  # ints and IntEnum members such as gguf.GGMLQuantizationType.Q4_0
    except TypeError:
        raise TypeError("type must be a GGUF type name (str), a gguf.GGMLQuantizationType or an int, "
                        f"got {builtins.type(type).__name__}") from None
    if not -2**31 <= code < 2**31:
        raise _error(f"type: unknown GGUF type {code} (expected 2 Q4_0, 3 Q4_1 or 8 Q8_0)",
                     _native.SQ_ERROR_INVALID_ARGUMENT)
    return code


def gguf_block_info(type) -> Tuple[int, int]:
    """``(block_elements, block_bytes)`` of a GGUF type: (32, 18) Q4_0, (32, 20) Q4_1, (32, 34) Q8_0.

    Raises:
        TypeError: type of the wrong kind. SwiftQuantError (a ValueError): unknown type.
    """
    elements, nbytes = ctypes.c_int64(), ctypes.c_int64()
    _native.lib.sq_gguf_block_info(_type_code(type), ctypes.byref(elements), ctypes.byref(nbytes))
    return elements.value, nbytes.value


def _rows_of_blocks(k: int, name: str) -> None:
    if k % _BLOCK:
        raise _error(f"{name}: the last dimension ({k}) is not a multiple of 32, the GGUF block size",
                     _native.SQ_ERROR_SHAPE)


def gguf_quantize(w, type) -> np.ndarray:
    """Quantizes w to a GGUF block format, exactly as llama.cpp's reference quantizers
    (``quantize_row_q4_0_ref`` etc.) and gguf-py's ``gguf.quants.quantize``.

    Blocks are 32 consecutive values along the last axis; each is stored as a little-endian float16 scale
    d (Q4_1: then a float16 minimum m) followed by the codes:

    - Q4_0 (18 bytes): max = the first value of largest magnitude, d = max / -8,
      q = min(15, trunc(x / d + 8.5)) computed as ``x * (1/d) + 8.5``; byte j holds q[j] | q[j + 16] << 4.
    - Q4_1 (20 bytes): d = (max - min) / 15, q = min(15, trunc((x - min) * (1/d) + 0.5)), m = min.
    - Q8_0 (34 bytes): d = max|x| / 127, q = round_half_away(x * (1/d)) as int8.

    All in float32; d and m are rounded to float16 (nearest even) only when stored.

    Args:
        w: array-like of real numbers with at least one dimension, converted to float32; the last
            dimension must be a multiple of 32.
        type: "Q4_0", "Q4_1" or "Q8_0" (any case), a ``gguf.GGMLQuantizationType`` member or its int value.

    Returns:
        uint8 array of shape ``w.shape[:-1] + (w.shape[-1] // 32 * block_bytes,)``, gguf-py's layout.

    Raises:
        TypeError: w not real numbers, type of the wrong kind.
        SwiftQuantError (a ValueError): unknown type, w 0-d or its last dimension not a multiple of 32
            (SQ_ERROR_SHAPE), NaN or +-inf in w (SQ_ERROR_NONFINITE, naming the first flat index), a block
            whose d or m would overflow float16, i.e. exceed 65504 (SQ_ERROR_OUT_OF_RANGE: llama.cpp would
            store inf).
    """
    code = _type_code(type)
    arr = as_float32(w, "w")
    if arr.ndim == 0:
        raise _error("w: a 0-d array has no rows of blocks; give it at least one dimension", _native.SQ_ERROR_SHAPE)
    _rows_of_blocks(arr.shape[-1], "w")
    _, block_bytes = gguf_block_info(code)
    out = np.empty(arr.shape[:-1] + (arr.shape[-1] // _BLOCK * block_bytes,), dtype=np.uint8)
    _native.lib.sq_gguf_quantize(code, _native.ptr(arr), arr.size, _native.ptr(out), out.size)
    return out


def gguf_dequantize(data, type, shape=None, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Decodes GGUF blocks to float32, exactly as llama.cpp's ``dequantize_row_*`` and gguf-py's
    ``gguf.quants.dequantize``: Q4_0 ``(q - 8) * d``, Q4_1 ``q * d + m`` (a multiply, then an add: no fused
    multiply-add), Q8_0 ``q * d``, with d and m converted exactly from float16.

    Args:
        data: array-like of bytes (uint8 values), read in C order.
        type: as in :func:`gguf_quantize`.
        shape: the float shape (int or tuple; last dimension a multiple of 32), which must hold exactly
            ``data.size // block_bytes * 32`` values. None: data's own shape with its last dimension of
            bytes turned into values (gguf-py's convention).
        out: optional C-contiguous, writeable float32 array of that shape.

    Returns:
        float32 array of ``shape``.

    Raises:
        TypeError: data not integers, type or shape of the wrong kind, out of the wrong type or dtype.
        ValueError: a data value outside [0, 255], out of the wrong shape or layout.
        SwiftQuantError (a ValueError): unknown type, shape not matching data (SQ_ERROR_SHAPE), a block whose
            stored d or m is inf or NaN (SQ_ERROR_NONFINITE: the data is corrupt or not of this type).
    """
    code = _type_code(type)
    _, block_bytes = gguf_block_info(code)
    arr = as_quantized(data, np.uint8, "data")
    if shape is None:
        if arr.ndim == 0 or arr.shape[-1] % block_bytes:
            raise _error(f"data: the last dimension of shape {arr.shape} is not a whole number of "
                         f"{block_bytes}-byte blocks; pass shape=", _native.SQ_ERROR_SHAPE)
        dims = arr.shape[:-1] + (arr.shape[-1] // block_bytes * _BLOCK,)
    else:
        dims = (shape,) if not isinstance(shape, (tuple, list)) else tuple(shape)
        dims = tuple(as_int(d, "shape") for d in dims)
        if not dims:
            raise _error("shape: a 0-d shape has no rows of blocks", _native.SQ_ERROR_SHAPE)
        if any(d < 0 for d in dims):
            raise _error(f"shape must not have negative dimensions, got {dims}", _native.SQ_ERROR_SHAPE)
    _rows_of_blocks(dims[-1], "shape")
    count = 1
    for d in dims:
        count *= d
    if count >= 2**63:
        raise _error(f"shape {dims} has more than 2^63 values", _native.SQ_ERROR_SHAPE)
    result = output(out, dims, np.float32)
    check_out_overlap(out, "out", arr, data if isinstance(data, np.ndarray) else None)
    _native.lib.sq_gguf_dequantize(code, _native.ptr(arr), arr.size, _native.ptr(result), count)
    return result
