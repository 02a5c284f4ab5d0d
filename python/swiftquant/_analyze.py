"""Scheme analysis: try every quantization scheme on one tensor and rank them by SQNR (``sq.analyze``).

Each candidate is calibrated with ``sq.calibrate`` (or, for the codebooks tried at 4 bits, fitted with
``sq.fit_codebook``) and measured with ``sq.error_report``.
"""
from __future__ import annotations

import dataclasses
import html
import math
from typing import List, Optional, Union

import numpy as np

from ._calibrate import calibrate
from ._codebook import Codebook, fit_codebook
from ._mx import mx_dequantize, mx_quantize
from ._convert import error, as_float32, as_int, normalize_axis
from ._params import QParams
from ._report import ErrorReport, error_report

__all__ = ["ANALYZE_METHODS", "Analysis", "AnalysisRow", "analyze"]

ANALYZE_METHODS = ("minmax", "percentile", "entropy", "mse")
_DTYPES = {8: ("int8", "uint8"), 4: ("int4", "uint4")}  # (symmetric: signed, asymmetric: unsigned)
# Float formats tried at each width (symmetric by construction; minmax and percentile calibration).
_FLOAT_DTYPES = {8: ("float8_e4m3fn", "float8_e5m2"), 4: ("float4_e2m1",)}
_FLOAT_METHODS = ("minmax", "percentile")
# OCP MX formats tried at each width, with what "clipped" means for their elements: the value before
# saturation rounds beyond the element maximum, i.e. |x / 2^X| is above the midpoint past max (or on it,
# when max's mantissa is odd and the tie rounds up).
_MX = {8: ("mxfp8_e4m3", 464.0, False), 4: ("mxfp4", 7.0, True)}


@dataclasses.dataclass(frozen=True, repr=False, eq=False)
class AnalysisRow:
    """One scheme tried by :func:`analyze` and its error (fields of ``report``, copied as floats).

    ``method`` is a calibration method or ``"lloyd"`` (a codebook); ``symmetric`` is None for codebooks;
    ``granularity`` is ``"per tensor"``, ``"per channel"`` or ``"per block of 32"`` (MX); ``params`` is the
    QParams, the Codebook, or for MX rows the ``(elements, scales)`` of ``sq.mx_quantize`` (``dtype`` the MX
    format, ``method`` ``"mx"``, blocks along ``mx_axis``). Float and MX formats have ``symmetric`` True.
    """

    name: str
    method: str
    symmetric: Optional[bool]
    granularity: str
    dtype: str
    sqnr_db: float
    mse: float
    rounding_mse: float
    clipping_mse: float
    clipped_fraction: float
    max_abs_error: float
    params: Union[QParams, Codebook, tuple]
    report: ErrorReport
    mx_axis: Optional[int] = None

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("report", "mx_axis")}

    def __repr__(self) -> str:
        return (f"AnalysisRow({self.name!r}, dtype={self.dtype}, sqnr_db={self.sqnr_db:.4g}, mse={self.mse:.4g}, "
                f"clipped_fraction={self.clipped_fraction:.4g})")


def _pct(fraction: float) -> str:
    p = 100.0 * fraction
    if p == 0:
        return "0%"
    return f"{p:.2g}%" if p < 1 else f"{p:.1f}%"


def _db(v: float) -> str:
    return "inf" if math.isinf(v) else f"{v:.2f}"


class Analysis:
    """The result of :func:`analyze`: schemes sorted by SQNR, best first.

    * ``rows``: tuple of AnalysisRow (also ``len(a)``, ``a[i]``, iteration);
    * ``recommended``: the best row (``rows[0]``); ``reason``: one line saying why;
    * ``to_rows()``: list of plain dicts; ``str(a)`` / ``repr(a)``: an aligned text table;
      ``_repr_html_()``: an HTML table (notebooks).
    """

    def __init__(self, rows: List[AnalysisRow], shape: tuple, axis: Optional[int], bits: int):
        self.rows = tuple(rows)
        self.shape = tuple(shape)
        self.axis = axis
        self.bits = bits

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, i):
        return self.rows[i]

    @property
    def recommended(self) -> AnalysisRow:
        return self.rows[0]

    @property
    def reason(self) -> str:
        best = self.recommended
        head = f"{best.name}: highest SQNR ({_db(best.sqnr_db)} dB)"
        if best.method == "lloyd":
            uniform = [r for r in self.rows if r.method != "lloyd"]
            other, what = (uniform[0], f"the best uniform scheme ({uniform[0].name})") if uniform else (None, "")
        elif best.method != "minmax":
            other = next((r for r in self.rows if r.method == "minmax" and r.symmetric == best.symmetric
                          and r.granularity == best.granularity), None)
            what = "minmax"
        else:
            other = self.rows[1] if len(self.rows) > 1 else None
            what = f"the runner-up ({other.name})" if other is not None else ""
        if other is not None:
            gap = best.sqnr_db - other.sqnr_db
            if gap == 0 or math.isnan(gap):
                head += ", as high as " + what
            elif math.isinf(gap):  # best is exact, the other is not
                head += f", exact where {what} reaches {_db(other.sqnr_db)} dB"
            else:
                head += f", {_db(gap)} dB over {what}"
        clip = "no values clipped" if best.clipped_fraction == 0 else f"clipping {_pct(best.clipped_fraction)} of values"
        return f"{head}; {clip}"

    def to_rows(self) -> List[dict]:
        """One dict per scheme, best first: name, method, symmetric, granularity, dtype, sqnr_db, mse,
        rounding_mse, clipping_mse, clipped_fraction, max_abs_error, params."""
        return [r.to_dict() for r in self.rows]

    # --- rendering -------------------------------------------------------------------------------------------
    _HEADERS = ("#", "scheme", "dtype", "SQNR dB", "MSE", "rounding MSE", "clipping MSE", "clipped")

    def _cells(self) -> List[List[str]]:
        return [[str(i + 1), r.name, r.dtype, _db(r.sqnr_db), f"{r.mse:.3e}", f"{r.rounding_mse:.3e}",
                 f"{r.clipping_mse:.3e}", _pct(r.clipped_fraction)] for i, r in enumerate(self.rows)]

    def _title(self) -> str:
        axis = "" if self.axis is None else f", channels along axis {self.axis}"
        return f"Analysis of a tensor of shape {self.shape} at {self.bits} bits{axis}: {len(self.rows)} schemes"

    def __str__(self) -> str:
        cells = self._cells()
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(self._HEADERS)]
        left = {1, 2}  # text columns

        def line(values):
            return "  ".join(v.ljust(w) if i in left else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))

        out = [self._title(), line(self._HEADERS), "  ".join("-" * w for w in widths)]
        out += [line(c) for c in cells]
        out.append(f"recommended: {self.reason}")
        return "\n".join(out)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        e = html.escape
        head = "".join(f"<th>{e(h)}</th>" for h in self._HEADERS)
        body = []
        for i, c in enumerate(self._cells()):
            style = ' style="font-weight:bold"' if i == 0 else ""
            body.append(f"<tr{style}>" + "".join(f"<td>{e(v)}</td>" for v in c) + "</tr>")
        return (f"<table><caption>{e(self._title())}<br>recommended: {e(self.reason)}</caption>"
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _mx_report(x: np.ndarray, e: np.ndarray, scales: np.ndarray, fmt: str, axis: int, threshold: float,
               tie_up: bool) -> ErrorReport:
    """The ErrorReport fields of an MX round trip, in float64 (x is finite: analyze checks)."""
    xh = mx_dequantize(e, scales, fmt, axis=axis).astype(np.float64)
    xd = x.astype(np.float64)
    # Each element's block scale 2^(code - 127), expanded along the axis.
    s = np.repeat(np.exp2(scales.astype(np.float64) - 127), 32, axis=axis)
    s = np.take(s, np.arange(x.shape[axis]), axis=axis)
    v = np.abs(xd / s)
    clipped = (v > threshold) | ((v == threshold) if tie_up else False)
    err2 = (xd - xh) ** 2
    n = x.size
    total = float(err2.sum())
    signal = float((xd ** 2).sum())
    sqnr = math.inf if total == 0 else (10 * math.log10(signal / total) if signal > 0 else -math.inf)
    clip = float(err2[clipped].sum())
    return ErrorReport(mse=total / n if n else 0.0, sqnr_db=sqnr,
                       max_abs_error=float(np.sqrt(err2.max())) if n else 0.0,
                       clipped_fraction=float(clipped.sum()) / n if n else 0.0,
                       rounding_mse=(total - clip) / n if n else 0.0, clipping_mse=clip / n if n else 0.0,
                       count=n, clipped=int(clipped.sum()), infinite=0)


def analyze(x, axis: Optional[int] = None, bits: int = 8) -> Analysis:
    """Tries the quantization schemes for ``x`` and ranks them by SQNR (best first).

    Schemes: symmetric and asymmetric, per tensor and (when ``axis`` is given) per channel along ``axis``,
    each calibrated with minmax, percentile (99.99), entropy and mse (``sq.calibrate``). Symmetric schemes
    use the signed dtype (int8 / int4, narrow range), asymmetric ones the unsigned dtype (uint8 / uint4).
    When ``bits <= 4`` the Lloyd-Max codebook (``sq.fit_codebook``, 2**bits levels) per tensor and per
    channel is tried too. The float formats of the same width are tried beside them, per tensor and per
    channel, with minmax and percentile scales: FP8 E4M3FN and E5M2 at 8 bits, FP4 E2M1 at 4; and the OCP
    MX format of that width (mxfp8_e4m3 at 8 bits, mxfp4 at 4; ``sq.mx_quantize``, power-of-two scales per
    block of 32, which cost 8 bits per 32 values on top) with blocks along the last axis, or the one before
    it when that is the channel axis; x must have at least one dimension for it. Every error comes from ``sq.error_report`` (uniform schemes with round half to
    even; for codebooks, clipped = beyond an end level by more than half the gap to its neighbour). Ties
    keep the order above (simpler schemes first).

    Args:
        x: array-like of finite real numbers (float32 working precision).
        axis: None, or the channel dimension (negative allowed) for the per-channel schemes.
        bits: 8 or 4.

    Returns:
        Analysis (``.rows``, ``.recommended``, ``.reason``, ``.to_rows()``; prints as a table).

    Raises:
        ValueError: bits not 8 or 4; axis out of range; NaN or +-inf in x. TypeError: x not real numbers,
        bits/axis not integers.
    """
    bits = as_int(bits, "bits")
    if bits not in _DTYPES:
        raise error(f"bits must be 8 or 4, got {bits}")
    arr = as_float32(x, "x")
    bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise error(f"x has {bad} NaN or infinite value(s); sq.analyze needs finite data")
    if axis is not None:
        if arr.ndim == 0:
            raise error("axis is given but x is a scalar (0-d)", "SQ_ERROR_SHAPE")
        axis = normalize_axis(as_int(axis, "axis"), arr.ndim)
    signed, unsigned = _DTYPES[bits]
    rows: List[AnalysisRow] = []

    def add(name, method, symmetric, granularity, dtype, params, report, mx_axis=None):
        rows.append(AnalysisRow(name=name, method=method, symmetric=symmetric, granularity=granularity,
                                dtype=dtype, sqnr_db=float(report.sqnr_db), mse=float(report.mse),
                                rounding_mse=float(report.rounding_mse), clipping_mse=float(report.clipping_mse),
                                clipped_fraction=float(report.clipped_fraction),
                                max_abs_error=float(report.max_abs_error), params=params, report=report,
                                mx_axis=mx_axis))

    granularities = [("per tensor", None)] + ([("per channel", axis)] if axis is not None else [])
    for gran, ax in granularities:
        for symmetric in (True, False):
            dtype = signed if symmetric else unsigned
            for method in ANALYZE_METHODS:
                p = calibrate(arr, method=method, dtype=dtype, symmetric=symmetric, axis=ax)
                name = f"{method}, {'symmetric' if symmetric else 'asymmetric'}, {gran}"
                add(name, method, symmetric, gran, dtype, p, error_report(arr, p))
    for gran, ax in granularities:
        for dtype in _FLOAT_DTYPES[bits]:
            for method in _FLOAT_METHODS:
                p = calibrate(arr, method=method, dtype=dtype, axis=ax)
                add(f"{dtype}, {method}, {gran}", method, True, gran, dtype, p, error_report(arr, p))
    if arr.ndim >= 1:
        mx_axis = arr.ndim - 1 if axis != arr.ndim - 1 or arr.ndim == 1 else arr.ndim - 2
        fmt = _MX[bits][0]
        e, sc = mx_quantize(arr, fmt, axis=mx_axis)
        add(f"{fmt}, blocks of 32 along axis {mx_axis}", "mx", True, "per block of 32", fmt, (e, sc),
            _mx_report(arr, e, sc, fmt, mx_axis, *_MX[bits][1:]), mx_axis)
    if bits <= 4:
        for gran, ax in granularities:
            cb = fit_codebook(arr, bits=bits, axis=ax, kind="lloyd")
            add(f"lloyd codebook, {gran}", "lloyd", None, gran, f"codebook{bits}", cb, error_report(arr, cb))
    order = sorted(range(len(rows)), key=lambda i: (-rows[i].sqnr_db if not math.isnan(rows[i].sqnr_db)
                                                    else math.inf, i))
    return Analysis([rows[i] for i in order], arr.shape, axis, bits)
