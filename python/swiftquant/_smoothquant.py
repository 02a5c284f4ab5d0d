"""SmoothQuant per-input-channel scales (``sq.smooth_quant_scales``), over the native sq_smooth_quant_scales
(swiftquant.h, "Activation-aware weights")."""
from __future__ import annotations

import ctypes
import math
import numbers

import numpy as np

from . import _native
from ._blockweight import _error
from ._convert import as_float32

__all__ = ["SmoothQuantScales", "smooth_quant_scales"]


class SmoothQuantScales(np.ndarray):
    """float32 scales ``s`` ``[K]`` with what chose them: ``alpha``, ``error`` (mean squared output error of the
    int8 x int8 simulation at that alpha) and ``error_unsmoothed`` (the same with ``s = 1``); the errors are
    None when no calibration activations ``x`` were given."""

    alpha: float
    error: "float | None"
    error_unsmoothed: "float | None"

    def __array_finalize__(self, obj):
        for name in ("alpha", "error", "error_unsmoothed"):
            setattr(self, name, getattr(obj, name, None))


def smooth_quant_scales(act_absmax, w, alpha=0.5, *, x=None) -> SmoothQuantScales:
    """SmoothQuant's migration scales for a weight ``w`` ``[N, K]`` (``[out_features, in_features]``):
    ``s[j] = max(act_absmax[j]**alpha / wmax[j]**(1 - alpha), 1e-5)``, ``wmax[j] = max(max|w[:, j]|, 1e-5)``.
    Use them as ``x / s`` (folded into the previous op) and ``w * s``.

    ``act_absmax``: per-channel ``max|x|`` ``[K]`` (finite, >= 0), or None to compute it from ``x``.
    ``alpha``: in [0, 1], or ``"auto"``: the grid 0, 0.05, ..., 1 searched on ``x`` (required then), keeping the
    alpha whose int8 per-tensor activations x int8 per-row weights product is closest to ``x @ w.T`` (mean
    squared error). ``x``: calibration inputs ``[..., K]``; with it the errors are reported for a fixed alpha too.
    """
    if isinstance(alpha, str):
        if alpha != "auto":
            raise _error(f"alpha must be a number in [0, 1] or 'auto', got {alpha!r}", "SQ_ERROR_INVALID_ARGUMENT")
        a = _native.SQ_SMOOTH_ALPHA_AUTO
    elif isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"alpha must be a real number or 'auto', got {type(alpha).__name__}")
    else:
        a = float(alpha)
        if not (0.0 <= a <= 1.0):  # NaN too; the native check would take -1 as auto
            raise _error(f"alpha must be in [0, 1] or 'auto', got {a}", "SQ_ERROR_INVALID_ARGUMENT")
    wa = as_float32(w, "w")
    if wa.ndim != 2:
        raise _error(f"w must be 2-D [N, K] = [out_features, in_features], got shape {wa.shape}")
    n, k = wa.shape
    act = None
    if act_absmax is not None:
        act = as_float32(act_absmax, "act_absmax")
        if act.shape != (k,):
            raise _error(f"act_absmax must have shape ({k},) for w {wa.shape}, got {act.shape}")
        act = np.ascontiguousarray(act)
    xa, rows = None, 0
    if x is not None:
        xa = as_float32(x, "x")
        if xa.ndim < 1 or xa.shape[-1] != k:
            raise _error(f"x must have shape [..., {k}] (K = in_features of w {wa.shape}), got {xa.shape}")
        xa = np.ascontiguousarray(xa.reshape(-1, k))
        rows = xa.shape[0]
        if rows == 0:
            raise _error("x: no rows (calibration activations need at least one row)")
    if act is None and xa is None:
        raise _error("act_absmax is None and there is no x to compute it from", "SQ_ERROR_INVALID_ARGUMENT")
    if a == _native.SQ_SMOOTH_ALPHA_AUTO and xa is None:
        raise _error("alpha='auto' needs calibration activations x", "SQ_ERROR_INVALID_ARGUMENT")
    out = np.empty(k, np.float32)
    report = _native.SmoothReportStruct()
    _native.lib.sq_smooth_quant_scales(None if act is None else _native.ptr(act), _native.ptr(wa), n, k, a,
                                       None if xa is None else _native.ptr(xa), rows, _native.ptr(out),
                                       ctypes.byref(report))
    s = out.view(SmoothQuantScales)
    s.alpha = float(report.alpha)
    s.error = None if math.isnan(report.error) else float(report.error)
    s.error_unsmoothed = None if math.isnan(report.error_unsmoothed) else float(report.error_unsmoothed)
    return s
