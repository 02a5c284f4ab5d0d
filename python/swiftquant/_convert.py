"""Argument conversion between array-likes and the C-contiguous buffers the native library takes.

Float inputs become float32 (the working precision); quantized inputs are converted only when no value
changes; ``out=`` buffers are checked, never converted (a DLPack tensor or writable buffer is viewed in
place, never copied). Every error names the argument.
"""
from __future__ import annotations

import ctypes
import math
import operator
import os
import threading
import weakref
from typing import Optional, Tuple

import numpy as np

from . import _native
from ._errors import SwiftQuantError

_FLOAT_KINDS = "iuf"  # integer and floating inputs convert to float32
_INT_KINDS = "iu"


def error(message: str, status_name: str = "SQ_ERROR_INVALID_ARGUMENT") -> SwiftQuantError:
    """The SwiftQuantError for a bad value or shape the wrapper detects, in the native errors' form
    (message, then the status name in brackets), so callers catch one exception type for both."""
    return SwiftQuantError(f"{message} [{status_name}]", getattr(_native, status_name), status_name)


def _describe(arr: np.ndarray) -> str:
    return f"dtype {arr.dtype}"


def as_array(x, name: str, raw_bytes: bool = False) -> np.ndarray:
    """The one place array inputs are read: an ndarray as it is; an object with ``__dlpack__`` (a PyTorch, JAX
    or CuPy-on-host tensor) through ``np.from_dlpack``; buffer-protocol objects (memoryview, array.array,
    bytearray) through ``np.asarray``. The last two share the object's memory (no copy); anything else
    (lists, scalars) is converted by NumPy. ``raw_bytes``: ``bytes`` is read as uint8 values (for byte
    inputs such as packed nibbles) instead of NumPy's 0-d string array.

    A tensor that cannot be exported to host memory (on a GPU, or requiring grad) is a TypeError naming the
    argument; a ragged nested list is a SwiftQuantError (SQ_ERROR_SHAPE).
    """
    if isinstance(x, np.ndarray):
        return x
    if raw_bytes and isinstance(x, bytes):
        return np.frombuffer(x, dtype=np.uint8)
    if hasattr(x, "__dlpack__") and hasattr(x, "__dlpack_device__"):
        try:
            return np.from_dlpack(x)
        except (BufferError, TypeError, RuntimeError, ValueError) as e:
            raise TypeError(f"{name}: cannot read the {type(x).__name__} as a host array through DLPack ({e}); "
                            "move it to the CPU (and detach it) first") from None
    try:
        return np.asarray(x)
    except ValueError as e:  # NumPy's "inhomogeneous shape" for ragged nested sequences
        raise error(f"{name} is not a rectangular array: {e}", "SQ_ERROR_SHAPE") from None


def as_float32(x, name: str) -> np.ndarray:
    """A C-contiguous float32 view or copy (same shape, 0-d included) of a float input (integer or floating dtype).

    bool, complex, string, object and other dtypes are a TypeError: their conversion would be ambiguous or lossy
    in a way the caller should decide. float64 values are rounded to float32 (out-of-range ones become +-inf).
    A C-contiguous float32 input (ndarray, DLPack tensor or buffer) is used without a copy.
    """
    arr = as_array(x, name)
    if arr.dtype.kind not in _FLOAT_KINDS:
        raise TypeError(f"{name} must be an array of real numbers (integer or floating dtype), got {_describe(arr)}")
    if arr.dtype == np.float32 and arr.flags.c_contiguous:
        return arr
    with np.errstate(over="ignore"):
        return np.asarray(arr, dtype=np.float32, order="C")


def _as_integer_array(x, name: str) -> np.ndarray:
    arr = as_array(x, name, raw_bytes=True)
    if arr.dtype.kind not in _INT_KINDS:
        # An empty array-like (e.g. []) defaults to float64 in NumPy; it holds no value to convert.
        if arr.size == 0 and not isinstance(x, np.ndarray) and arr.dtype.kind in "fb":
            return arr.astype(np.int8)
        raise TypeError(f"{name} must be an array of integers (quantized values), got {_describe(arr)}")
    return arr


def _fits(arr: np.ndarray, lo: int, hi: int) -> bool:
    if arr.size == 0:
        return True
    info = np.iinfo(arr.dtype)
    if info.min >= lo and info.max <= hi:
        return True
    return int(arr.min()) >= lo and int(arr.max()) <= hi


def as_quantized(q, storage: np.dtype, name: str) -> np.ndarray:
    """A C-contiguous array of the integer ``storage`` dtype holding exactly the values of ``q``.

    Float/bool/complex/other inputs are a TypeError; a value that does not fit the storage type is a
    ValueError (checked before the cast, so nothing wraps around).
    """
    arr = _as_integer_array(q, name)
    storage = np.dtype(storage)
    if arr.dtype != storage:
        info = np.iinfo(storage)
        if not _fits(arr, info.min, info.max):
            raise error(f"{name} has values outside the range of {storage} [{info.min}, {info.max}] "
                             f"(min {int(arr.min())}, max {int(arr.max())})", "SQ_ERROR_OUT_OF_RANGE")
    return np.asarray(arr, dtype=storage, order="C")


def as_matmul_operand(x, name: str) -> Tuple[np.ndarray, str]:
    """An int8 or uint8 operand of the int32 matmul, and its dtype name.

    int8 and uint8 arrays are used as they are; other integer arrays become int8 when every value fits
    [-128, 127], else uint8 when every value fits [0, 255], else ValueError.
    """
    arr = _as_integer_array(x, name)
    if arr.dtype == np.int8 or arr.dtype == np.uint8:
        return np.asarray(arr, order="C"), arr.dtype.name
    if _fits(arr, -128, 127):
        return np.asarray(arr, dtype=np.int8, order="C"), "int8"
    if _fits(arr, 0, 255):
        return np.asarray(arr, dtype=np.uint8, order="C"), "uint8"
    raise error(f"{name} has values that fit neither int8 [-128, 127] nor uint8 [0, 255] "
                     f"(min {int(arr.min())}, max {int(arr.max())})")


def as_int(value, name: str) -> int:
    """A Python int from an int-like (int, NumPy integer, 0-d integer array); bool and floats are a TypeError."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got bool")
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in _INT_KINDS:
        return int(value)
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None


def check_in_range(value: int, lo: int, hi: int, name: str) -> int:
    if not lo <= value <= hi:
        raise error(f"{name} = {value} is outside [{lo}, {hi}]", "SQ_ERROR_OUT_OF_RANGE")
    return value


def normalize_axis(axis: int, ndim: int, name: str = "axis") -> int:
    """Map a possibly negative axis to 0 .. ndim-1 (ValueError naming ``name`` when out of range)."""
    if not -ndim <= axis < ndim:
        raise error(f"{name} = {axis} is out of range for an array of {ndim} dimension(s)", "SQ_ERROR_SHAPE")
    return axis + ndim if axis < 0 else axis


def rounding_code(rounding) -> int:
    try:
        return _native.ROUNDING_CODES[rounding]
    except (KeyError, TypeError):
        raise error(f"rounding must be one of {tuple(_native.ROUNDING_CODES)}, got {rounding!r}") from None


def seed_value(seed, rounding: int) -> int:
    """The uint64 seed: the caller's, or (stochastic rounding without a seed) fresh bits from the OS."""
    if seed is None:
        if rounding == _native.SQ_ROUND_STOCHASTIC:
            return int.from_bytes(os.urandom(8), "little")
        return 0
    seed = as_int(seed, "seed")
    if rounding != _native.SQ_ROUND_STOCHASTIC:
        raise error(f"seed applies only to rounding='stochastic' (it would be ignored); leave it unset (None)")
    if not 0 <= seed < 2 ** 64:
        raise error(f"seed must be in [0, 2**64), got {seed}")
    return seed


class _OutputCache:
    """Recycled memory for large results, like ONNX Runtime's arena.

    A fresh multi-megabyte NumPy array is new pages from the kernel: the first write to each 4 KiB page
    faults and the kernel zeroes it, which for a memory-bound operation (dequantize 16M values: 64 MB)
    costs as much as the operation itself. Results of at least ``min_bytes`` are therefore views of buffers
    kept here: when the last view of a result is garbage collected its buffer comes back (weakref.finalize)
    and the next result of that size reuses its already-mapped pages. At most ``limit`` bytes are kept
    (SWIFTQUANT_OUTPUT_CACHE_MB, default 256; 0 turns the cache off). Results are ordinary, writeable,
    C-contiguous arrays (``owndata`` is False: a ctypes buffer over the cached memory is their base).
    """

    min_bytes = 4 << 20

    def __init__(self):
        mb = os.environ.get("SWIFTQUANT_OUTPUT_CACHE_MB", "256")
        try:
            self.limit = max(0, int(mb)) << 20
        except ValueError:
            raise error(f"SWIFTQUANT_OUTPUT_CACHE_MB must be an integer (MB), got {mb!r}") from None
        self._free = {}  # nbytes -> [uint8 buffers]
        self._held = 0   # bytes in self._free
        self._lock = threading.Lock()

    def empty(self, shape: tuple, dtype: np.dtype) -> np.ndarray:
        nbytes = math.prod(shape) * dtype.itemsize  # every call goes through here: no NumPy reduction
        if self.limit == 0 or nbytes < self.min_bytes or nbytes > self.limit:
            return np.empty(shape, dtype=dtype)
        with self._lock:
            stack = self._free.get(nbytes)
            raw = stack.pop() if stack else None
            if raw is not None:
                self._held -= nbytes
        if raw is None:
            raw = np.empty(nbytes, np.uint8)
        # The result's base chain must end in an object every view keeps alive: NumPy collapses ndarray
        # bases (a view of a view of raw has raw as its base), so a finalizer on the result itself would
        # fire while a slice of it still lives. A ctypes buffer over raw is such an object.
        holder = (ctypes.c_char * nbytes).from_buffer(raw)
        weakref.finalize(holder, self._give_back, raw)
        return np.frombuffer(holder, dtype=dtype).reshape(shape)

    def _give_back(self, raw: np.ndarray) -> None:
        with self._lock:
            if self._held + raw.nbytes <= self.limit:
                self._free.setdefault(raw.nbytes, []).append(raw)
                self._held += raw.nbytes


_output_cache = _OutputCache()


def _out_view(out, name: str) -> np.ndarray:
    """``out`` as an ndarray sharing its memory: an ndarray itself, an object with ``__dlpack__`` (e.g. a
    PyTorch CPU tensor), or a buffer-protocol object (bytearray, array.array, memoryview). Anything else,
    a list in particular (results written to a converted copy would be lost), is a TypeError."""
    if isinstance(out, np.ndarray):
        return out
    if hasattr(out, "__dlpack__") and hasattr(out, "__dlpack_device__"):
        return as_array(out, name)
    try:
        return np.asarray(memoryview(out))
    except TypeError:
        raise TypeError(f"{name} must be a numpy.ndarray, a DLPack tensor or a writable buffer, "
                        f"got {type(out).__name__}") from None


def output(out, shape: tuple, dtype, name: str = "out") -> np.ndarray:
    """A new C-contiguous array (large ones from the output cache), or an ndarray view of the caller's ``out``
    (see _out_view) after checking its dtype, shape and layout: results are written into out's memory."""
    dtype = np.dtype(dtype)
    if out is None:
        return _output_cache.empty(shape, dtype)
    out = _out_view(out, name)
    if out.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {out.dtype}")
    if out.shape != tuple(shape):
        raise error(f"{name} must have shape {tuple(shape)}, got {out.shape}", "SQ_ERROR_SHAPE")
    if not out.flags.c_contiguous:
        raise error(f"{name} must be C-contiguous")
    if not out.flags.writeable:
        raise error(f"{name} must be writeable")
    return out


def check_out_overlap(out: Optional[np.ndarray], name: str, *inputs: np.ndarray) -> None:
    """Inputs are never modified: an ``out`` sharing memory with an input is a ValueError."""
    if out is None:
        return
    out = _out_view(out, name)
    for arr in inputs:
        if arr is not None and np.may_share_memory(out, arr):
            raise error(f"{name} must not share memory with an input array")
