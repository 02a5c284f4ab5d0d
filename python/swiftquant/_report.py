"""Quantization error report (native ``sq_error_report``): how much error quantizing x with given
parameters introduces, split into rounding error and clipping error, in one native pass."""
from __future__ import annotations

import ctypes
import dataclasses
import math
from typing import Optional, Union

import numpy as np

from . import _native
from ._codebook import Codebook
from ._convert import as_float32, error, rounding_code, seed_value
from ._params import QParams

__all__ = ["ErrorReport", "error_report"]

_STATS_DTYPE = np.dtype([("sum_sq_error", "<f8"), ("sum_sq_signal", "<f8"), ("max_abs_error", "<f8"),
                         ("sum_sq_error_rounding", "<f8"), ("sum_sq_error_clipping", "<f8"),
                         ("count", "<i8"), ("clipped", "<i8"), ("infinite", "<i8")])
assert _STATS_DTYPE.itemsize == ctypes.sizeof(_native.ErrorStatsStruct)

Number = Union[float, int, np.ndarray]


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class ErrorReport:
    """Error statistics of ``x_hat = dequantize(quantize(x, params, rounding))`` against x.

    With ``e = float64(x) - float64(x_hat)`` over the ``n = count - infinite`` finite elements:

    * ``mse = sum(e**2) / n``; ``rounding_mse`` and ``clipping_mse`` are the same sum restricted to the
      elements that are not clipped / clipped, divided by the same n, so ``rounding_mse + clipping_mse ==
      mse`` (up to float64 summation). All three are 0 when n = 0.
    * ``sqnr_db = 10 log10(sum(x**2) / sum(e**2))``; +inf when the error is 0 (zero data is always exact).
    * ``max_abs_error = max |e|`` (0 when n = 0).
    * An element is clipped when saturation changes it: ``round(x / scale) + zero_point`` (the value before
      saturation) lies outside ``[qmin, qmax]``, i.e. x lies outside the representable range
      ``[(qmin - zero_point) scale, (qmax - zero_point) scale]`` by more than rounding reaches (half a
      step for the nearest modes); +-inf are clipped. ``clipped_fraction = clipped / count`` (0 when
      count = 0). So data inside the range (e.g. ``calibrate(x)`` with minmax) has no clipped element.
      For a Codebook: clipped when beyond an end level by more than half the gap to its neighbour.
    * ``count`` counts every element; ``infinite`` the +-inf ones, which are clipped but excluded from the
      sums (their error is infinite).

    For per-axis parameters, ``per_channel`` is an ErrorReport of the same fields as NumPy arrays of length
    ``x.shape[axis]`` (``axis`` gives that axis); otherwise it is None. Fields of the report itself are the
    whole-tensor totals.
    """

    mse: Number
    sqnr_db: Number
    max_abs_error: Number
    clipped_fraction: Number
    rounding_mse: Number
    clipping_mse: Number
    count: Number
    clipped: Number
    infinite: Number
    axis: Optional[int] = None
    per_channel: Optional["ErrorReport"] = None

    _FIELDS = ("mse", "sqnr_db", "max_abs_error", "clipped_fraction", "rounding_mse", "clipping_mse", "count",
               "clipped", "infinite")

    def to_dict(self) -> dict:
        """Plain Python values (lists for per-channel arrays), e.g. for JSON."""
        d = {}
        for name in self._FIELDS:
            v = getattr(self, name)
            d[name] = v.tolist() if isinstance(v, np.ndarray) else v
        if self.per_channel is not None:
            d["axis"] = self.axis
            d["per_channel"] = self.per_channel.to_dict()
        return d

    def __repr__(self) -> str:
        if isinstance(self.mse, np.ndarray):
            return f"ErrorReport(per channel: {len(self.mse)} channels)"
        text = (f"ErrorReport(mse={self.mse:.6g}, sqnr_db={self.sqnr_db:.4g}, max_abs_error={self.max_abs_error:.6g}, "
                f"clipped={self.clipped}/{self.count} ({100 * self.clipped_fraction:.4g}%), "
                f"rounding_mse={self.rounding_mse:.6g}, clipping_mse={self.clipping_mse:.6g}")
        if self.per_channel is not None:
            text += f", per_channel={len(self.per_channel.mse)} along axis {self.axis}"
        return text + ")"


def _derive(s) -> dict:
    """The report's fields from sq_error_stats values (NumPy scalars or arrays)."""
    sse = np.asarray(s["sum_sq_error"], dtype=np.float64)
    signal = np.asarray(s["sum_sq_signal"], dtype=np.float64)
    count = np.asarray(s["count"], dtype=np.int64)
    clipped = np.asarray(s["clipped"], dtype=np.int64)
    infinite = np.asarray(s["infinite"], dtype=np.int64)
    n = count - infinite
    safe_n = np.maximum(n, 1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        sqnr = np.where(sse == 0, np.inf, 10.0 * np.log10(signal / np.where(sse == 0, 1.0, sse)))
    return dict(
        mse=np.where(n > 0, sse / safe_n, 0.0),
        sqnr_db=sqnr,
        max_abs_error=np.asarray(s["max_abs_error"], dtype=np.float64),
        clipped_fraction=np.where(count > 0, clipped / np.maximum(count, 1), 0.0),
        rounding_mse=np.where(n > 0, np.asarray(s["sum_sq_error_rounding"]) / safe_n, 0.0),
        clipping_mse=np.where(n > 0, np.asarray(s["sum_sq_error_clipping"]) / safe_n, 0.0),
        count=count, clipped=clipped, infinite=infinite)


def _scalars(d: dict) -> dict:
    return {k: (int(v) if k in ("count", "clipped", "infinite") else float(v)) for k, v in d.items()}


def _report(total, groups: np.ndarray, axis: Optional[int]) -> ErrorReport:
    """ErrorReport from the native totals and per-group stats; per-channel values only when axis is set."""
    totals = _scalars(_derive({name: getattr(total, name) for name, _ in _native.ErrorStatsStruct._fields_}))
    if axis is None:
        return ErrorReport(**totals)
    return ErrorReport(**totals, axis=axis, per_channel=ErrorReport(**_derive(groups)))


def _codebook_report(arr: np.ndarray, cb: Codebook) -> ErrorReport:
    native_axis, levels, per, count = cb._native_args(arr.shape, "codebook")
    groups = np.zeros(count // per, dtype=_STATS_DTYPE)
    total = _native.ErrorStatsStruct()
    _native.lib.sq_codebook_error_report(_native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim, native_axis,
                                         _native.ptr(levels), per, count, groups.ctypes.data, len(groups),
                                         ctypes.byref(total))
    return _report(total, groups, None if cb.axis is None else native_axis)


def error_report(x, params: Union[QParams, Codebook], rounding: str = "nearest_even",
                 seed: Optional[int] = None) -> ErrorReport:
    """Quantization error of x under ``params`` (QParams or a Codebook), in one native call without
    materialising q.

    With QParams, each element is quantized exactly as :func:`quantize` (same rounding; stochastic rounding
    with the same seed gives the same q) and dequantized as :func:`dequantize`. With a Codebook, each element
    goes to its nearest level as :func:`codebook_quantize`; it counts as clipped when it lies beyond an end
    level by more than half the gap to that level's neighbour (the analogue of the uniform range's half
    step), and ``rounding`` / ``seed`` do not apply. Errors are accumulated in float64; see
    :class:`ErrorReport` for the exact definitions.

    Args:
        x: array-like of real numbers, converted to float32.
        params: QParams of any dtype and granularity matching x's shape, or a Codebook (per tensor, or per
            channel along its axis).
        rounding: one of ROUNDINGS; seed: for ``"stochastic"`` (None draws one from the OS).

    Returns:
        ErrorReport; with per-axis params or a per-channel codebook it also carries per-channel arrays
        (``report.per_channel``).

    Raises:
        TypeError / ValueError as :func:`quantize` / :func:`codebook_quantize`; SwiftQuantError (a ValueError)
        for NaN in x.
    """
    if isinstance(params, Codebook):
        rounding_code(rounding)  # still validated, so a typo is not silently ignored
        if seed is not None:
            raise error("seed does not apply to a Codebook (nearest level, no rounding mode); leave it unset")
        return _codebook_report(as_float32(x, "x"), params)
    if not isinstance(params, QParams):
        raise TypeError(f"params must be a swiftquant.QParams or Codebook, got {type(params).__name__}")
    code = rounding_code(rounding)
    seed = seed_value(seed, code)
    arr = as_float32(x, "x")
    struct = params.to_struct(arr.shape, "params")
    groups = np.zeros(struct.count, dtype=_STATS_DTYPE)
    total = _native.ErrorStatsStruct()
    _native.lib.sq_error_report(_native.ptr(arr), _native.shape_arg(arr.shape), arr.ndim, ctypes.byref(struct),
                                code, seed, groups.ctypes.data, struct.count, ctypes.byref(total))
    return _report(total, groups, params.native_axis(arr.ndim) if params.granularity == "axis" else None)
