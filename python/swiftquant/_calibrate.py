"""Calibration: from data to QParams, in one call (calibrate) or streaming over batches (Observer).

Everything numeric lives in the native library: the range rules (sq_qparams_from_range), one-shot min/max
calibration (sq_calibrate_minmax) and the streaming observers (sq_observer_*, with their histograms,
merging and serialization). This module converts arguments, owns the native observer handle and serialises
calls on one observer (the native observer is not locked).
"""
from __future__ import annotations

import ctypes
import numbers
import threading
from typing import Optional, Tuple

import numpy as np

from . import _native
from ._convert import error, as_float32, as_int, normalize_axis
from ._params import QParams, check_dtype

__all__ = ["METHODS", "calibrate", "Observer"]

METHODS = ("minmax", "moving_average", "percentile", "entropy", "mse", "entropy_ort")

# The settings that apply to some methods only, their native defaults, and the methods they apply to. A
# setting given (not None) with another method is an error rather than silently ignored.
_METHOD_SETTINGS = {
    "percentile": (99.99, ("percentile",)),
    "num_bins": (2048, ("percentile", "entropy", "entropy_ort", "mse")),
    "averaging_constant": (0.01, ("moving_average",)),
}

_STATE_VERSION = 2  # of Observer.__getstate__ (version 1: the pure-Python min/max observer of 0.1.0)


# --- argument checks -----------------------------------------------------------------------------------------
def _check_method(method) -> str:
    if isinstance(method, str) and method in _native.METHOD_CODES:
        return method
    raise error(f"method must be one of {METHODS}, got {method!r}")


def _check_granularity(axis, block_size, method: str) -> Tuple[Optional[int], Optional[int]]:
    axis = None if axis is None else as_int(axis, "axis")
    block_size = None if block_size is None else as_int(block_size, "block_size")
    # Range checks before anything reaches ctypes, which would silently truncate to int32 / int64.
    if axis is not None and not -_native.SQ_MAX_NDIM <= axis < _native.SQ_MAX_NDIM:
        raise error(f"axis = {axis} is out of range (arrays have at most {_native.SQ_MAX_NDIM} dimensions)", "SQ_ERROR_SHAPE")
    if block_size is not None:
        if axis is None:
            raise error("block_size requires axis (per-block calibration is along one axis)")
        if not 0 < block_size < 2 ** 63:
            raise error(f"block_size must be positive (and below 2**63), got {block_size}")
        if method != "minmax":
            raise error(f"block_size (per-block calibration) is supported by method 'minmax' only, "
                             f"not {method!r}")
    return axis, block_size


def _check_applicable(method: str, **given) -> None:
    """SwiftQuantError naming every setting given (not None) that ``method`` does not use."""
    extra = [f"{name} (used by method {' / '.join(repr(m) for m in _METHOD_SETTINGS[name][1])})"
             for name, value in given.items() if value is not None and method not in _METHOD_SETTINGS[name][1]]
    if extra:
        raise error(f"{', '.join(extra)} does not apply to method {method!r}; leave it unset (None)")


def _applicable(config: dict) -> dict:
    """``config`` with the method-specific settings the method does not use set to None."""
    return {k: (None if k in _METHOD_SETTINGS and config["method"] not in _METHOD_SETTINGS[k][1] else v)
            for k, v in config.items()}


def _fmt(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _as_real(value, name: str) -> float:
    """A Python float from a real number (int, float, NumPy scalar); bool, str and others are a TypeError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)


def _as_int32(value, name: str) -> int:
    value = as_int(value, name)
    if not -2 ** 31 <= value < 2 ** 31:
        raise error(f"{name} = {value} is out of range", "SQ_ERROR_OUT_OF_RANGE")
    return value


def _as_flag(value, name: str) -> bool:
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise TypeError(f"{name} must be a bool, got {value!r}")


# --- one call --------------------------------------------------------------------------------------------------
def calibrate(x, method: str = "minmax", dtype: str = "int8", symmetric: bool = False,
              axis: Optional[int] = None, block_size: Optional[int] = None, percentile: Optional[float] = None,
              num_bins: Optional[int] = None, ignore_nonfinite: bool = False) -> QParams:
    """Quantization parameters for the data ``x``: the ``qparams()`` of an Observer fed ``x`` as one batch.

    The method chooses a range per group (see ``Observer`` for the definitions):
      * ``"minmax"``: the data's min and max;
      * ``"moving_average"``: with one batch, the same as minmax;
      * ``"percentile"``: asymmetric ``[P(100 - p), P(p)]`` of x; symmetric ``amax = P(p)`` of ``|x|``;
      * ``"entropy"``: TensorRT's KL-divergence threshold on the ``|x|`` histogram (as NVIDIA's
        pytorch-quantization computes it, zero bin replaced by the next: ``bins[0] = bins[1]``);
      * ``"mse"``: the range minimising the expected quantize -> dequantize squared error;
      * ``"entropy_ort"``: ONNX Runtime's entropy calibration (its algorithm on the x histogram over
        [-max|x|, max|x|], 128 quantized bins whatever the dtype), to reproduce ONNX Runtime's ranges.
    The range then becomes (scale, zero point). Ranges include zero: ``rmin = min(min, 0)``,
    ``rmax = max(max, 0)`` per group, computed in float64:
      * asymmetric: ``scale = (rmax - rmin) / (qmax - qmin)``,
        ``zero_point = clamp(round_half_even(qmin - rmin / scale), qmin, qmax)``;
      * symmetric: ``a = max(-rmin, rmax)``; signed dtypes use the narrow range ``[-qmax, qmax]`` (int8:
        [-127, 127]); ``scale = 2a / (qmax' - qmin')``; zero point 0 (signed) or ``(qmin + qmax + 1) // 2``
        (unsigned: uint8 128).
      * float formats (FLOAT_DTYPES: FP8, FP6, FP4), symmetric by construction: ``scale = max(-rmin, rmax) /
        largest finite value`` in float32 (float8_e4m3fn: amax / 448), zero point 0; ``symmetric`` changes
        nothing. Their methods are minmax, moving_average and percentile (entropy and mse search uniform
        integer levels and refuse them).
    A scale that would be zero, subnormal or infinite (constant, all-zero or empty data) becomes 1.0.

    Args:
        x: array-like of real numbers, converted to float32 (the working precision); never modified.
        method: one of METHODS.
        dtype: one of DTYPES. symmetric: see above.
        axis, block_size: granularity as in QParams (negative axis allowed; the result holds it normalised).
            block_size (per block) is for ``"minmax"`` only.
        percentile: ``p`` of ``"percentile"``, in (0, 100]; None means 99.99.
        num_bins: histogram bins of ``"percentile"``, ``"entropy"``, ``"entropy_ort"`` and ``"mse"`` (16 .. 65536);
            None means 2048.
        Giving ``percentile`` or ``num_bins`` to a method that does not use them is a SwiftQuantError.
        ignore_nonfinite: skip NaN and +-inf instead of raising.

    Returns:
        QParams with scale shape () per tensor, ``(x.shape[axis],)`` per axis, or the blocked shape.

    Raises:
        ValueError: unknown method or dtype, bad axis/block_size/percentile/num_bins; SwiftQuantError (a
        ValueError) for NaN or +-inf in x unless ignore_nonfinite. TypeError: x not real numbers.
    """
    method = _check_method(method)
    _check_applicable(method, percentile=percentile, num_bins=num_bins)
    if method != "minmax" or ignore_nonfinite:
        ob = Observer(method, dtype=dtype, symmetric=symmetric, axis=axis, block_size=block_size,
                      ignore_nonfinite=ignore_nonfinite, percentile=percentile, num_bins=num_bins)
        return ob.update(x).qparams()
    # minmax: the one-pass native path (same range rules, so the same numbers as the observer).
    dtype = check_dtype(dtype)
    symmetric = _as_flag(symmetric, "symmetric")
    axis, block_size = _check_granularity(axis, block_size, method)
    arr = as_float32(x, "x")
    native_axis = _native.SQ_PER_TENSOR if axis is None else normalize_axis(axis, arr.ndim)
    block = block_size or 0
    count = _native.qparams_count(arr.shape, native_axis, block)
    scale = np.empty(count, dtype=np.float32)
    zero_point = np.empty(count, dtype=np.int32)
    _native.lib.sq_calibrate_minmax(arr, _native.shape_arg(arr.shape), arr.ndim, _native.DTYPE_CODES[dtype],
                                    int(symmetric), native_axis, block, scale, zero_point, count)
    group = _group_shape(arr.shape, native_axis, block)
    return QParams(scale.reshape(group), zero_point.reshape(group), dtype,
                   None if axis is None else native_axis, block_size)


def _group_shape(shape: tuple, axis: int, block_size: int) -> tuple:
    """Shape of the scale array: () per tensor, (n_k,) per axis, x's shape with n_k -> ceil(n_k/b) per block."""
    if axis == _native.SQ_PER_TENSOR:
        return ()
    if block_size == 0:
        return (shape[axis],)
    blocked = list(shape)
    blocked[axis] = -(-shape[axis] // block_size)
    return tuple(blocked)


# --- streaming -------------------------------------------------------------------------------------------------
class Observer:
    """Streaming calibration: feed batches with ``update``, then read ``qparams()`` (native ``sq_observer``).

    Methods (each symmetric or asymmetric, any dtype; per tensor or per axis; per block for minmax only):
      * ``"minmax"``: the observed min and max.
      * ``"moving_average"``: min and max are exponential moving averages of each batch's min and max,
        ``m = m + c * (batch_m - m)`` with ``c = averaging_constant``; the first batch sets ``m``.
      * ``"percentile"``: asymmetric ``[P(100 - p), P(p)]`` of x; symmetric ``amax = P(p)`` of ``|x|``
        (``p = percentile``), exact to one bin of a ``num_bins`` histogram.
      * ``"entropy"``: TensorRT's algorithm, as NVIDIA's pytorch-quantization computes it
        (``_compute_amax_entropy``): on the ``|x|`` histogram H of ``num_bins`` bins over ``[0, max|x|]``,
        first ``B = H`` with ``B[0] = B[1]`` (so ReLU's spike of exact zeros does not decide); for each
        candidate i in 128 .. num_bins, p = B[:i] with the tail folded into its last bin, q = B[:i] merged
        into qmax + 1 levels (bin k into level ``k * (qmax + 1) // i``) and spread back over each level's
        non-zero bins; the threshold T = upper edge of bin i with the smallest KL(p || q) (no smoothing),
        the largest i on ties; T = max|x| with fewer than 128 bins. Symmetric ``[-T, T]``; asymmetric
        ``[max(min, -T), min(max, T)]``. An exact search, well under a second per group for every dtype
        (int16 with 65536 bins included).
      * ``"entropy_ort"``: ONNX Runtime's entropy calibration, to reproduce ONNX Runtime's ranges: its
        search (``get_entropy_threshold``, 128 quantized bins whatever the dtype, smoothed distributions,
        symmetric windows around zero) on the histogram of x over ``[-max|x|, max|x|]``; the range is the
        chosen window clipped to ``[min, max]``. The same window as ONNX Runtime's own code on the same
        histogram (tested); on ReLU(N(0, 1)) it clips at about 0.56 max|x|. O(num_bins x 128).
      * ``"mse"``: the range minimising the expected quantize -> dequantize squared error over the histogram
        (``scale**2 / 12`` per value inside the range, the squared distance to the range outside it); the
        candidate ends are bin edges of a ``num_bins`` histogram.
    The chosen range becomes (scale, zero point) with the rules of ``calibrate``.

    Guarantees:
      * Bounded state: ``O(num_bins x groups)`` bytes whatever the number of batches (``state_bytes``);
        raw batches are never stored. At most 1 GiB per observer, counted at the worst case (8 bytes per
        group, plus about 64.5 x num_bins for the histogram methods: 8126 channels at 2048 bins): a first
        batch needing more raises SwiftQuantError before anything is allocated. What is held is far less
        (``state_bytes``: about 10-12 KB per channel at 2048 bins on Gaussian or Laplace data).
      * Thread-safe: one observer may be updated, merged and read from several threads (calls serialize).
      * Streaming: histograms are kept over ``[-R, R)``, R a power of two that depends only on max|x|, so
        they are identical however the data is split into batches or sharded across observers. minmax,
        percentile, entropy, entropy_ort and mse give the same parameters for one batch, many batches, or
        merged shards.
        (moving_average, by definition, depends on the batches.)
      * ``merge`` is exact (min/max and histogram counts add), except moving_average, whose averages are
        combined weighted by their batch counts. The merged-in observer is unchanged.
      * Pickling, ``copy.copy`` and ``to_bytes``/``from_bytes`` carry the full state (native
        ``sq_observer_serialize``: versioned, little-endian, portable across machines), so an observer can
        be saved, shipped to another process and resumed or merged there.
      * One observer serialises its own calls with a lock, so sharing it between threads is safe (calls
        on it simply take turns); distinct observers run in parallel.

    Batches: per tensor any shapes; per axis every batch has the same ndim and the same length along the
    axis; per block the same shape. A negative axis is normalised against the first batch's ndim (``axis``
    then reports the normalised value). NaN or +-inf in a batch raise SwiftQuantError and leave the
    observer unchanged, unless ``ignore_nonfinite``: then they are skipped and counted (``nonfinite_count``).

    Example, calibrating over shards in worker processes::

        import multiprocessing as mp
        import numpy as np
        import swiftquant as sq

        def observe(paths):                              # runs in a worker
            ob = sq.Observer("entropy", dtype="int8", symmetric=True, axis=1)
            for path in paths:
                ob.update(np.load(path))
            return ob.to_bytes()                         # or `return ob`: observers pickle

        if __name__ == "__main__":
            with mp.Pool(2) as pool:
                parts = pool.map(observe, [shard0_paths, shard1_paths])
            ob = sq.Observer.from_bytes(parts[0])
            for part in parts[1:]:
                ob.merge(sq.Observer.from_bytes(part))  # exact: as if one observer saw every batch
            params = ob.qparams()

    Args:
        method: one of METHODS (above).
        dtype: one of DTYPES. symmetric: symmetric range (see ``calibrate``).
        axis: None (per tensor) or the axis with one parameter per index (negative allowed).
        block_size: per-block granularity along ``axis`` (minmax only).
        ignore_nonfinite: skip (and count) NaN and +-inf instead of raising.
        percentile: ``p`` for ``"percentile"``, in (0, 100]; None means 99.99.
        num_bins: histogram bins for percentile, entropy, entropy_ort and mse, 16 .. 65536; None means 2048.
        averaging_constant: ``c`` for ``"moving_average"``, in (0, 1]; None means 0.01.
        A method-specific setting given to a method that does not use it is a SwiftQuantError, not ignored;
        ``config`` and the properties report it as None.

    Raises (constructor): ValueError for an unknown method (naming 'method') or dtype, block_size with a
    method other than minmax or without axis, and the native library's checks of num_bins, percentile and
    averaging_constant (SwiftQuantError, a ValueError); TypeError for arguments of the wrong type.
    """

    _destroy = staticmethod(_native.lib.sq_observer_destroy)  # held here so __del__ works at interpreter exit

    def __init__(self, method: str = "minmax", dtype: str = "int8", symmetric: bool = False,
                 axis: Optional[int] = None, block_size: Optional[int] = None, ignore_nonfinite: bool = False,
                 percentile: Optional[float] = None, num_bins: Optional[int] = None,
                 averaging_constant: Optional[float] = None):
        self._handle = ctypes.c_void_p()
        self._lock = threading.RLock()
        self._ndim: Optional[int] = None  # ndim of the batches, once known (per axis / per block)
        method = _check_method(method)
        axis, block_size = _check_granularity(axis, block_size, method)
        _check_applicable(method, percentile=percentile, num_bins=num_bins, averaging_constant=averaging_constant)
        percentile = _METHOD_SETTINGS["percentile"][0] if percentile is None else percentile
        num_bins = _METHOD_SETTINGS["num_bins"][0] if num_bins is None else num_bins
        if averaging_constant is None:
            averaging_constant = _METHOD_SETTINGS["averaging_constant"][0]
        self._set_config({
            "method": method,
            "dtype": check_dtype(dtype),
            "symmetric": _as_flag(symmetric, "symmetric"),
            "axis": axis,
            "block_size": block_size,
            "ignore_nonfinite": _as_flag(ignore_nonfinite, "ignore_nonfinite"),
            "percentile": _as_real(percentile, "percentile"),
            "num_bins": _as_int32(num_bins, "num_bins"),
            "averaging_constant": _as_real(averaging_constant, "averaging_constant"),
        })
        if axis is None or axis >= 0:
            self._create(axis)
        else:
            # The native axis must be non-negative: the native observer is created at the first batch, once
            # the axis is normalised. Validate the rest of the configuration now, with a throwaway observer.
            probe = ctypes.c_void_p()
            _native.lib.sq_observer_create(ctypes.byref(self._struct(0)), ctypes.byref(probe))
            Observer._destroy(probe)

    # --- native object ---------------------------------------------------------------------------------------
    def _set_config(self, config: dict) -> None:
        self._config = _applicable(config)

    def _struct(self, native_axis: int) -> _native.ObserverConfigStruct:
        # The native struct holds every setting: the ones the method does not use get their defaults.
        c = {k: (_METHOD_SETTINGS[k][0] if k in _METHOD_SETTINGS and v is None else v) for k, v in self._config.items()}
        return _native.ObserverConfigStruct(
            method=_native.METHOD_CODES[c["method"]], dtype=_native.DTYPE_CODES[c["dtype"]],
            symmetric=int(c["symmetric"]), axis=native_axis, block_size=c["block_size"] or 0,
            num_bins=c["num_bins"], ignore_nonfinite=int(c["ignore_nonfinite"]), percentile=c["percentile"],
            averaging_constant=c["averaging_constant"])

    def _create(self, axis: Optional[int]) -> None:
        """Create the native observer for a non-negative (or no) axis and adopt its configuration."""
        handle = ctypes.c_void_p()
        native_axis = _native.SQ_PER_TENSOR if axis is None else axis
        _native.lib.sq_observer_create(ctypes.byref(self._struct(native_axis)), ctypes.byref(handle))
        self._adopt(handle)

    def _adopt(self, handle: ctypes.c_void_p) -> None:
        """Take ownership of a native observer; the Python configuration is read back from it."""
        old, self._handle = self._handle, handle
        if old:
            Observer._destroy(old)
        s = _native.ObserverConfigStruct()
        _native.lib.sq_observer_config_get(self._handle, ctypes.byref(s))
        self._set_config({
            "method": _native.METHOD_NAMES[s.method],
            "dtype": _native.DTYPE_NAMES[s.dtype],
            "symmetric": bool(s.symmetric),
            "axis": None if s.axis == _native.SQ_PER_TENSOR else int(s.axis),
            "block_size": int(s.block_size) or None,
            "ignore_nonfinite": bool(s.ignore_nonfinite),
            "percentile": float(s.percentile),
            "num_bins": int(s.num_bins),
            "averaging_constant": float(s.averaging_constant),
        })
        if self._ndim is None and self._config["block_size"] is not None:
            _, shape = self._groups()
            if shape:
                self._ndim = len(shape)  # the blocked shape has the batches' ndim

    def __del__(self):
        handle = getattr(self, "_handle", None)
        if handle:
            self._handle = ctypes.c_void_p()
            Observer._destroy(handle)

    def _groups(self) -> Tuple[int, tuple]:
        if not self._handle:
            return 0, ()
        count, ndim = ctypes.c_int64(), ctypes.c_int32()
        shape = (ctypes.c_int64 * _native.SQ_MAX_NDIM)()
        _native.lib.sq_observer_groups(self._handle, ctypes.byref(count), shape, ctypes.byref(ndim))
        return count.value, tuple(shape[i] for i in range(ndim.value))

    def _stats(self) -> Tuple[int, int, int, int]:
        if not self._handle:
            return 0, 0, 0, 0
        out = [ctypes.c_int64() for _ in range(4)]
        _native.lib.sq_observer_stats(self._handle, *(ctypes.byref(v) for v in out))
        return tuple(v.value for v in out)

    def _serialize(self) -> Optional[bytes]:
        if not self._handle:
            return None
        size = ctypes.c_int64()
        _native.lib.sq_observer_serialize(self._handle, None, 0, ctypes.byref(size))
        buf = np.empty(size.value, dtype=np.uint8)
        _native.lib.sq_observer_serialize(self._handle, buf, buf.size, ctypes.byref(size))
        return buf[: size.value].tobytes()

    def _deserialize(self, data) -> None:
        try:
            buf = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
        except TypeError:
            raise TypeError(f"data must be a bytes-like object, got {type(data).__name__}") from None
        handle = ctypes.c_void_p()
        _native.lib.sq_observer_deserialize(np.ascontiguousarray(buf), buf.size, ctypes.byref(handle))
        self._adopt(handle)

    def _require_data(self, what: str) -> None:
        if self._stats()[0] == 0:
            raise error(f"the observer has seen no data: call update() before {what}()")

    # --- configuration ---------------------------------------------------------------------------------------
    @property
    def config(self) -> dict:
        """The configuration as constructor keyword arguments (``Observer(**ob.config)`` is a fresh observer
        with the same settings). ``axis`` is normalised once the first batch has fixed it."""
        with self._lock:
            return dict(self._config)

    @property
    def method(self) -> str:
        return self._config["method"]

    @property
    def dtype(self) -> str:
        return self._config["dtype"]

    @property
    def symmetric(self) -> bool:
        return self._config["symmetric"]

    @property
    def axis(self) -> Optional[int]:
        """None (per tensor), or the axis: as given until a negative axis is normalised by the first batch."""
        return self._config["axis"]

    @property
    def block_size(self) -> Optional[int]:
        return self._config["block_size"]

    @property
    def ignore_nonfinite(self) -> bool:
        return self._config["ignore_nonfinite"]

    @property
    def percentile(self) -> Optional[float]:
        """``p`` of method "percentile"; None for the other methods."""
        return self._config["percentile"]

    @property
    def num_bins(self) -> Optional[int]:
        """Histogram bins of percentile, entropy, entropy_ort and mse; None for minmax and moving_average."""
        return self._config["num_bins"]

    @property
    def averaging_constant(self) -> Optional[float]:
        """``c`` of method "moving_average"; None for the other methods."""
        return self._config["averaging_constant"]

    # --- counters (native sq_observer_stats) -----------------------------------------------------------------
    @property
    def num_batches(self) -> int:
        """Batches observed, including those of merged observers."""
        with self._lock:
            return self._stats()[0]

    @property
    def num_values(self) -> int:
        """Finite values observed."""
        with self._lock:
            return self._stats()[1]

    @property
    def nonfinite_count(self) -> int:
        """Non-finite values skipped (ignore_nonfinite=True)."""
        with self._lock:
            return self._stats()[2]

    @property
    def state_bytes(self) -> int:
        """Bytes of native state held now. Histogram methods store only the 64-bin blocks holding a value,
        each at the narrowest count width its largest count needs, so this depends on the data (never on
        its batching) and is at most 8 bytes per group plus 20 + 64 x num_bins + 4 x ceil(num_bins / 8)
        for the histogram methods. ``to_bytes()`` is about this size."""
        with self._lock:
            return self._stats()[3]

    def __repr__(self) -> str:
        c = self._config
        args = [f"{c['method']!r}", f"dtype={c['dtype']!r}", f"symmetric={c['symmetric']}"]
        if c["axis"] is not None:
            args.append(f"axis={c['axis']}")
        if c["block_size"] is not None:
            args.append(f"block_size={c['block_size']}")
        if c["ignore_nonfinite"]:
            args.append("ignore_nonfinite=True")
        if c["method"] == "percentile":
            args.append(f"percentile={c['percentile']!r}")
        if c["method"] in ("percentile", "entropy", "entropy_ort", "mse"):
            args.append(f"num_bins={c['num_bins']}")
        if c["method"] == "moving_average":
            args.append(f"averaging_constant={c['averaging_constant']!r}")
        with self._lock:
            batches, values, nonfinite, state = self._stats()
        counters = f"num_batches={batches}, num_values={values}"
        if c["ignore_nonfinite"]:
            counters += f", nonfinite_count={nonfinite}"
        return f"Observer({', '.join(args)}; {counters}, state_bytes={state})"

    # --- streaming -------------------------------------------------------------------------------------------
    def update(self, batch) -> "Observer":
        """Add a batch (array-like of real numbers, converted to float32; never modified). Returns self.

        Raises ValueError for an axis out of range for the batch; SwiftQuantError (a ValueError) for a batch
        that does not match the earlier ones (SQ_ERROR_SHAPE) or holds NaN/+-inf (SQ_ERROR_NONFINITE) unless
        ``ignore_nonfinite``. On any error the observer is unchanged.
        """
        arr = as_float32(batch, "batch")
        shape = _native.shape_arg(arr.shape)
        with self._lock:
            axis = self._config["axis"]
            if axis is not None:
                axis = normalize_axis(axis, arr.ndim)
            if self._handle:
                _native.lib.sq_observer_update(self._handle, arr, shape, arr.ndim)
            else:  # first batch with a negative axis: create the native observer for the normalised axis
                config = self._config
                self._create(axis)
                try:
                    _native.lib.sq_observer_update(self._handle, arr, shape, arr.ndim)
                except BaseException:  # leave the observer as it was: no native object, axis not fixed
                    handle, self._handle = self._handle, ctypes.c_void_p()
                    Observer._destroy(handle)
                    self._set_config(config)
                    raise
            if axis is not None and self._ndim is None:
                self._ndim = arr.ndim
        return self

    def qparams(self) -> QParams:
        """Scale and zero point from the method's range (rules as in ``calibrate``; native
        ``sq_observer_qparams``). Shapes: 0-d per tensor, ``(n,)`` per axis, the blocked shape per block.
        ValueError before any batch."""
        with self._lock:
            self._require_data("qparams")
            count, shape = self._groups()
            scale = np.empty(count, dtype=np.float32)
            zero_point = np.empty(count, dtype=np.int32)
            _native.lib.sq_observer_qparams(self._handle, scale, zero_point, count)
            c = self._config
        return QParams(scale.reshape(shape), zero_point.reshape(shape), c["dtype"], c["axis"], c["block_size"])

    def range(self) -> Tuple[np.ndarray, np.ndarray]:
        """``(min, max)``: the method's chosen range per group, before zero is added to it (float32 arrays
        shaped like ``qparams().scale``; native ``sq_observer_range``). ValueError before any batch."""
        with self._lock:
            self._require_data("range")
            count, shape = self._groups()
            lo = np.empty(count, dtype=np.float32)
            hi = np.empty(count, dtype=np.float32)
            _native.lib.sq_observer_range(self._handle, lo, hi, count)
        return lo.reshape(shape), hi.reshape(shape)

    @property
    def min(self) -> Optional[np.ndarray]:
        """``range()[0]``, or None before the first batch (for minmax: the observed minimum)."""
        with self._lock:
            return self.range()[0] if self._stats()[0] else None

    @property
    def max(self) -> Optional[np.ndarray]:
        """``range()[1]``, or None before the first batch (for minmax: the observed maximum)."""
        with self._lock:
            return self.range()[1] if self._stats()[0] else None

    # --- merging -------------------------------------------------------------------------------------------------
    def _compatible_axis(self, other: "Observer") -> bool:
        """Whether two axes can denote the same one, at least one observer having no native object yet."""
        a, b = self._config["axis"], other._config["axis"]
        if a is None or b is None or a == b:
            return a == b
        ndim = self._ndim if self._ndim is not None else other._ndim
        if ndim is None:
            # An observer that has seen no batch, merged with one whose batches' ndim is unknown (restored by
            # from_bytes, per axis): nothing contradicts it.
            return (a < 0) != (b < 0)
        return -ndim <= a < ndim and -ndim <= b < ndim and a % ndim == b % ndim

    def merge(self, other: "Observer") -> "Observer":
        """Fold another observer's data into this one, as if this one had also seen every batch ``other``
        saw (exact, except moving_average: averages weighted by batch counts). ``other`` is unchanged.
        Returns self.

        The configurations must match (SwiftQuantError, a ValueError, otherwise), as must the group layouts
        (axis length; per block, the shape). An observer that has seen no batch merges as a no-op.
        """
        if not isinstance(other, Observer):
            raise TypeError(f"other must be an Observer, got {type(other).__name__}")
        if other is self:
            if not self._handle:
                return self  # no batch seen: a no-op
            other = Observer.from_bytes(self.to_bytes())  # the native merge reads one observer, writes another
        first, second = sorted((self, other), key=id)
        with first._lock, second._lock:
            if self._handle and other._handle:
                _native.lib.sq_observer_merge(self._handle, other._handle)
            else:
                # The native check's wording, for the case it cannot see (an observer without native state).
                differences = [f"{k} {_fmt(v)} vs {_fmt(other._config[k])}" for k, v in self._config.items()
                               if k != "axis" and v != other._config[k]]
                if not self._compatible_axis(other):
                    a, b = (("per tensor" if o._config["axis"] is None else o._config["axis"]) for o in (self, other))
                    differences.insert(0, f"axis {a} vs {b}")
                if differences:
                    raise error(f"other: observers with different configurations cannot merge "
                                f"({', '.join(differences)})")
                if other._handle:  # this one has no native object yet (negative axis, no batch): adopt a copy
                    self._create(other._config["axis"])
                    _native.lib.sq_observer_merge(self._handle, other._handle)
            if self._ndim is None:
                self._ndim = other._ndim
        return self

    # --- serialization ---------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The full state (configuration, counters, histograms) in the native portable format
        (``sq_observer_serialize``); ``Observer.from_bytes`` restores it, also in another process or machine.
        Histograms are written as stored (format version 2), so the bytes are about ``state_bytes`` (4096
        Gaussian channels at 2048 bins: 44 MiB, not the dense 512 MiB of format 1, which still loads).

        Raises ValueError for an observer with a negative axis that has seen no batch (its axis is not yet
        known to the native library): pickle it instead.
        """
        with self._lock:
            if not self._handle:
                raise error(f"an observer with a negative axis ({self._config['axis']}) that has seen no batch "
                                 "has no native state yet; pickle it instead of to_bytes()")
            return self._serialize()

    @classmethod
    def from_bytes(cls, data) -> "Observer":
        """An observer restored from ``to_bytes()`` (any bytes-like object; native ``sq_observer_deserialize``).
        SwiftQuantError (a ValueError) for data that is not observer data, truncated, or of an unsupported
        format version."""
        ob = cls.__new__(cls)
        ob._handle = ctypes.c_void_p()
        ob._lock = threading.RLock()
        ob._ndim = None
        ob._deserialize(data)
        return ob

    def __getstate__(self) -> dict:
        with self._lock:
            return {"version": _STATE_VERSION, "config": dict(self._config), "ndim": self._ndim,
                    "native": self._serialize()}

    def __setstate__(self, state: dict) -> None:
        if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
            version = state.get("version") if isinstance(state, dict) else None
            raise error(f"cannot unpickle an Observer of state version {version!r} (this SwiftQuant reads "
                             f"version {_STATE_VERSION})")
        self._handle = ctypes.c_void_p()
        self._lock = threading.RLock()
        self._ndim = state["ndim"]
        if state["native"] is not None:
            self._deserialize(state["native"])
        else:
            self._set_config(dict(state["config"]))
