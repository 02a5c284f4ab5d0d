"""Calibration: from data to QParams, in one call (calibrate) or streaming over batches (Observer).
The range rules live in the native library (sq_minmax, sq_qparams_from_range, sq_calibrate_minmax)."""
from __future__ import annotations

import ctypes
from typing import Optional, Tuple

import numpy as np

from . import _native
from ._convert import as_float32, as_int, normalize_axis
from ._params import QParams, check_dtype

__all__ = ["METHODS", "calibrate", "Observer"]

METHODS = ("minmax", "moving_average", "percentile", "entropy", "mse")
_IMPLEMENTED = ("minmax",)


def _check_method(method) -> str:
    if method in _IMPLEMENTED:
        return method
    if method in METHODS:
        raise NotImplementedError(f"calibration method {method!r} arrives in a later version of SwiftQuant; "
                                  f"available now: {_IMPLEMENTED}")
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


def _check_granularity(axis, block_size) -> Tuple[Optional[int], Optional[int]]:
    axis = None if axis is None else as_int(axis, "axis")
    block_size = None if block_size is None else as_int(block_size, "block_size")
    if block_size is not None:
        if axis is None:
            raise ValueError("block_size requires axis (per-block calibration is along one axis)")
        if block_size <= 0:
            raise ValueError(f"block_size must be positive, got {block_size}")
    return axis, block_size


def _group_shape(shape: tuple, axis: int, block_size: int) -> tuple:
    """Shape of the scale array: () per tensor, (n_k,) per axis, x's shape with n_k -> ceil(n_k/b) per block."""
    if axis == _native.SQ_PER_TENSOR:
        return ()
    if block_size == 0:
        return (shape[axis],)
    blocked = list(shape)
    blocked[axis] = -(-shape[axis] // block_size)
    return tuple(blocked)


def calibrate(x, method: str = "minmax", dtype: str = "int8", symmetric: bool = False,
              axis: Optional[int] = None, block_size: Optional[int] = None, percentile: float = 99.99,
              num_bins: int = 2048) -> QParams:
    """Quantization parameters that cover the data ``x``.

    Ranges include zero: ``rmin = min(min(x), 0)``, ``rmax = max(max(x), 0)`` per group, computed in float64:
      * asymmetric: ``scale = (rmax - rmin) / (qmax - qmin)``,
        ``zero_point = clamp(round_half_even(qmin - rmin / scale), qmin, qmax)``;
      * symmetric: ``a = max(-rmin, rmax)``; signed dtypes use the narrow range ``[-qmax, qmax]`` (int8:
        [-127, 127]); ``scale = 2a / (qmax' - qmin')``; zero point 0 (signed) or ``(qmin + qmax + 1) // 2``
        (unsigned: uint8 128).
    A scale that would be zero, subnormal or infinite (constant, all-zero or empty data) becomes 1.0.

    Args:
        x: array-like of real numbers, converted to float32 (the working precision).
        method: ``"minmax"``. ``"moving_average"``, ``"percentile"``, ``"entropy"`` and ``"mse"`` are part of
            the API but arrive in a later version (NotImplementedError).
        dtype: one of DTYPES. symmetric: see above.
        axis, block_size: granularity as in QParams (negative axis allowed; the result holds it normalised).
        percentile, num_bins: for the histogram methods (unused by ``"minmax"``).

    Returns:
        QParams with scale shape () per tensor, ``(x.shape[axis],)`` per axis, or the blocked shape.

    Raises:
        ValueError: unknown method or dtype, bad axis/block_size; SwiftQuantError (a ValueError) for NaN or
        +-inf in x. TypeError: x not real numbers.
    """
    _check_method(method)
    dtype = check_dtype(dtype)
    axis, block_size = _check_granularity(axis, block_size)
    arr = as_float32(x, "x")
    native_axis = _native.SQ_PER_TENSOR if axis is None else normalize_axis(axis, arr.ndim)
    block = block_size or 0
    count = _native.qparams_count(arr.shape, native_axis, block)
    scale = np.empty(count, dtype=np.float32)
    zero_point = np.empty(count, dtype=np.int32)
    _native.lib.sq_calibrate_minmax(arr, _native.shape_arg(arr.shape), arr.ndim, _native.DTYPE_CODES[dtype],
                                    int(bool(symmetric)), native_axis, block, scale, zero_point, count)
    group = _group_shape(arr.shape, native_axis, block)
    return QParams(scale.reshape(group), zero_point.reshape(group), dtype,
                   None if axis is None else native_axis, block_size)


class Observer:
    """Streaming calibration: feed batches with ``update``, then read ``qparams()``.

    Keeps the running elementwise min and max per group (native ``sq_minmax`` per batch); ``qparams()``
    applies the same range rules as ``calibrate`` (native ``sq_qparams_from_range``), so one observer fed
    every batch gives the same parameters as ``calibrate`` on their concatenation. Observers with the same
    configuration ``merge`` (e.g. across workers), and pickle (the state is plain NumPy arrays and numbers).

    Args:
        method, dtype, symmetric, axis, block_size: as in ``calibrate``.
        ignore_nonfinite: skip NaN and +-inf in the data (counted in ``nonfinite_count``) instead of raising.

    Attributes:
        min, max: float32 arrays of the group shape (copies), or None before the first update.
        num_batches: number of batches seen (including merged observers' batches).
        nonfinite_count: non-finite values skipped so far.
    """

    def __init__(self, method: str = "minmax", dtype: str = "int8", symmetric: bool = False,
                 axis: Optional[int] = None, block_size: Optional[int] = None, ignore_nonfinite: bool = False):
        self._method = _check_method(method)
        self._dtype = check_dtype(dtype)
        self._symmetric = bool(symmetric)
        self._axis, self._block_size = _check_granularity(axis, block_size)
        self._ignore_nonfinite = bool(ignore_nonfinite)
        self._reset()

    def _reset(self) -> None:
        self._min: Optional[np.ndarray] = None
        self._max: Optional[np.ndarray] = None
        self._native_axis: Optional[int] = None  # the axis normalised against the first batch
        self._axis_length: Optional[int] = None  # x.shape[axis] of the first batch (per axis / per block)
        self._num_batches = 0
        self._nonfinite_count = 0

    # --- configuration and state ----------------------------------------------------------------------------
    @property
    def config(self) -> dict:
        """The constructor arguments."""
        return {"method": self._method, "dtype": self._dtype, "symmetric": self._symmetric, "axis": self._axis,
                "block_size": self._block_size, "ignore_nonfinite": self._ignore_nonfinite}

    @property
    def min(self) -> Optional[np.ndarray]:
        return None if self._min is None else self._min.copy()

    @property
    def max(self) -> Optional[np.ndarray]:
        return None if self._max is None else self._max.copy()

    @property
    def num_batches(self) -> int:
        return self._num_batches

    @property
    def nonfinite_count(self) -> int:
        return self._nonfinite_count

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"Observer({args}; num_batches={self._num_batches})"

    def __getstate__(self) -> dict:
        return {"version": 1, "config": self.config, "min": self._min, "max": self._max,
                "native_axis": self._native_axis, "axis_length": self._axis_length,
                "num_batches": self._num_batches, "nonfinite_count": self._nonfinite_count}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state["config"])
        self._min, self._max = state["min"], state["max"]
        self._native_axis, self._axis_length = state["native_axis"], state["axis_length"]
        self._num_batches, self._nonfinite_count = state["num_batches"], state["nonfinite_count"]

    # --- streaming ------------------------------------------------------------------------------------------
    def _accumulate(self, mins: np.ndarray, maxs: np.ndarray, native_axis: Optional[int],
                    axis_length: Optional[int], what: str) -> None:
        if self._min is None:
            self._min, self._max = mins, maxs
            self._native_axis, self._axis_length = native_axis, axis_length
            return
        if (native_axis, axis_length) != (self._native_axis, self._axis_length) or mins.shape != self._min.shape:
            raise ValueError(f"{what} does not match the observed data along the axis: statistics of shape "
                             f"{mins.shape} (axis {native_axis}, length {axis_length}) versus {self._min.shape} "
                             f"(axis {self._native_axis}, length {self._axis_length})")
        self._min = np.minimum(self._min, mins)
        self._max = np.maximum(self._max, maxs)

    def update(self, batch) -> "Observer":
        """Add a batch (array-like of real numbers, converted to float32). Returns self.

        Later batches must agree with the first along the axis (same normalised axis and length; per block,
        the same blocked shape): ValueError otherwise. NaN/+-inf raise SwiftQuantError unless
        ``ignore_nonfinite``.
        """
        arr = as_float32(batch, "batch")
        if self._axis is None:
            native_axis, axis_length = _native.SQ_PER_TENSOR, None
        else:
            native_axis = normalize_axis(self._axis, arr.ndim)
            axis_length = arr.shape[native_axis]
        block = self._block_size or 0
        count = _native.qparams_count(arr.shape, native_axis, block)
        mins = np.empty(count, dtype=np.float32)
        maxs = np.empty(count, dtype=np.float32)
        skipped = ctypes.c_int64(0)
        _native.lib.sq_minmax(arr, _native.shape_arg(arr.shape), arr.ndim, native_axis, block,
                              int(self._ignore_nonfinite), mins, maxs, count, ctypes.byref(skipped))
        group = _group_shape(arr.shape, native_axis, block)
        self._accumulate(mins.reshape(group), maxs.reshape(group),
                         None if self._axis is None else native_axis, axis_length, "batch")
        self._num_batches += 1
        self._nonfinite_count += skipped.value
        return self

    def merge(self, other: "Observer") -> "Observer":
        """Fold another observer's data into this one (same configuration required). Returns self.

        Afterwards this observer's min/max equal those of one observer fed both observers' batches.
        """
        if not isinstance(other, Observer):
            raise TypeError(f"other must be an Observer, got {type(other).__name__}")
        if other.config != self.config:
            raise ValueError(f"cannot merge observers with different configurations: {self.config} and "
                             f"{other.config}")
        if other._min is not None:
            self._accumulate(other._min.copy(), other._max.copy(), other._native_axis, other._axis_length,
                             "other")
        self._num_batches += other._num_batches
        self._nonfinite_count += other._nonfinite_count
        return self

    def qparams(self) -> QParams:
        """QParams from the observed range (rules as in ``calibrate``). ValueError before any update."""
        if self._min is None:
            raise ValueError("the observer has seen no data: call update() before qparams()")
        mins = np.ascontiguousarray(self._min.ravel())
        maxs = np.ascontiguousarray(self._max.ravel())
        scale = np.empty(mins.size, dtype=np.float32)
        zero_point = np.empty(mins.size, dtype=np.int32)
        _native.lib.sq_qparams_from_range(mins, maxs, mins.size, _native.DTYPE_CODES[self._dtype],
                                          int(self._symmetric), scale, zero_point)
        shape = self._min.shape
        return QParams(scale.reshape(shape), zero_point.reshape(shape), self._dtype, self._native_axis,
                       self._block_size)
