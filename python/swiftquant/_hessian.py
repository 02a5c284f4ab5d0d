"""Hessian observers: H = sum of x x^T over calibration rows / their count (native ``sq_hessian``), the
statistic GPTQ needs; streaming over batches, mergeable across shards and processes, picklable.

The native handle does the arithmetic and holds its own lock, so this module only converts arguments and
owns the handle.
"""
from __future__ import annotations

import ctypes

import numpy as np

from . import _native
from ._convert import as_float32, as_int

__all__ = ["HessianObserver"]

_INT64 = (-2 ** 63, 2 ** 63 - 1)


class HessianObserver:
    """Streams activations ``x`` of shape ``[..., in_features]`` into ``S = sum of x x^T`` (float64,
    ``in_features x in_features``) and the row count; ``hessian()`` is ``S / count``.

    Semantics (native ``sq_hessian_*``, swiftquant.h "Hessian observers"):
      * ``update(x)`` converts x to float32 (as the other observers do) and adds each of its rows (leading
        dimensions flattened). A product of float32 values is exact in float64, so only the float64 additions
        round: batching the same rows differently, or sharding them across observers and merging, changes
        the result by float64 rounding only, and not at all for integer-valued data (sums below 2^53).
        Results never depend on the thread count.
      * NaN / +-inf, a last dimension other than ``in_features`` or a 0-d x raise SwiftQuantError and leave
        the observer unchanged.
      * ``merge(other)`` adds other's sums and count (other unchanged; merging an observer with itself counts
        its rows twice); different ``in_features`` raise SwiftQuantError.
      * State is ``8 * in_features**2`` bytes (in_features <= 65536), whatever the number of rows.
      * Pickling, ``copy.copy`` and ``to_bytes``/``from_bytes`` carry the exact state (versioned,
        little-endian, portable; hostile bytes raise SwiftQuantError).
      * One observer may be used from several threads (calls take turns on its lock).

    Example, calibrating over shards in worker processes::

        def observe(paths):                      # runs in a worker
            h = sq.HessianObserver(4096)
            for path in paths:
                h.update(np.load(path))
            return h.to_bytes()                  # or `return h`: observers pickle

        parts = pool.map(observe, shards)
        h = sq.HessianObserver.from_bytes(parts[0])
        for part in parts[1:]:
            h.merge(sq.HessianObserver.from_bytes(part))
        H = h.hessian()

    Raises (constructor): TypeError for a non-integer ``in_features``; SwiftQuantError (a ValueError) for
    in_features outside [1, 65536] or when the matrix cannot be allocated.
    """

    _destroy = staticmethod(_native.lib.sq_hessian_destroy)  # held here so __del__ works at interpreter exit

    def __init__(self, in_features):
        k = as_int(in_features, "in_features")
        self._handle = ctypes.c_void_p()
        # ctypes would truncate an int beyond int64; the nearest int64 is out of range just the same, and the
        # native check names it.
        _native.lib.sq_hessian_create(min(max(k, _INT64[0]), _INT64[1]), ctypes.byref(self._handle))
        self._k = k

    def _adopt(self, handle: ctypes.c_void_p) -> None:
        self._handle = handle
        k = ctypes.c_int64()
        _native.lib.sq_hessian_k(handle, ctypes.byref(k))
        self._k = k.value

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            self._handle = ctypes.c_void_p()
            HessianObserver._destroy(handle)

    # --- properties ------------------------------------------------------------------------------------------
    @property
    def in_features(self) -> int:
        """K: the length of each row."""
        return self._k

    @property
    def count(self) -> int:
        """Rows observed, including those of merged observers."""
        n = ctypes.c_int64()
        _native.lib.sq_hessian_count(self._handle, ctypes.byref(n))
        return n.value

    def __repr__(self) -> str:
        return f"HessianObserver(in_features={self._k}; count={self.count})"

    # --- streaming -------------------------------------------------------------------------------------------
    def update(self, x) -> "HessianObserver":
        """Add every row of ``x`` (array-like ``[..., in_features]`` of real numbers, converted to float32;
        never modified). Returns self."""
        arr = as_float32(x, "x")
        _native.lib.sq_hessian_update(self._handle, _native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim)
        return self

    def merge(self, other: "HessianObserver") -> "HessianObserver":
        """Add another observer's sums and count into this one (``other`` unchanged). Returns self."""
        if not isinstance(other, HessianObserver):
            raise TypeError(f"other must be a HessianObserver, got {type(other).__name__}")
        _native.lib.sq_hessian_merge(self._handle, other._handle)
        return self

    def hessian(self) -> np.ndarray:
        """``S / count``: a new float64 ``[in_features, in_features]`` symmetric array. SwiftQuantError
        before any row has been observed."""
        out = np.empty((self._k, self._k), dtype=np.float64)
        _native.lib.sq_hessian_get(self._handle, _native.ptr(out))
        return out

    def sums(self) -> np.ndarray:
        """The raw sums ``S = sum of x x^T``: a new float64 ``[in_features, in_features]`` symmetric array
        (zeros before any row)."""
        out = np.empty((self._k, self._k), dtype=np.float64)
        _native.lib.sq_hessian_sum(self._handle, _native.ptr(out))
        return out

    # --- serialization ---------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The exact state in the native portable format (``sq_hessian_serialize``, 32 + 4 K (K + 1) bytes);
        ``HessianObserver.from_bytes`` restores it, also in another process or machine."""
        size = ctypes.c_int64()
        _native.lib.sq_hessian_serialize(self._handle, None, 0, ctypes.byref(size))
        buf = np.empty(size.value, dtype=np.uint8)
        _native.lib.sq_hessian_serialize(self._handle, buf, buf.size, ctypes.byref(size))
        return buf.tobytes()

    @classmethod
    def from_bytes(cls, data) -> "HessianObserver":
        """An observer restored from ``to_bytes()`` (any bytes-like object; ``sq_hessian_deserialize``).
        TypeError for a non-bytes-like object; SwiftQuantError for data that is not valid Hessian data."""
        try:
            buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
        except TypeError:
            raise TypeError(f"data must be a bytes-like object, got {type(data).__name__}") from None
        ob = cls.__new__(cls)
        handle = ctypes.c_void_p()
        _native.lib.sq_hessian_deserialize(np.ascontiguousarray(buf), buf.size, ctypes.byref(handle))
        ob._adopt(handle)
        return ob

    def __reduce__(self):
        return (type(self).from_bytes, (self.to_bytes(),))
