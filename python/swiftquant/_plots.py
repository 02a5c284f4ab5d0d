"""Plots of quantization ranges and errors (matplotlib, optional: imported only when a plot is made).

The functions build a ``matplotlib.figure.Figure`` directly (no pyplot state), so they work headless; save
with ``fig.savefig("x.png")`` (the Agg renderer). In a notebook the returned Figure displays as a cell value.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ._codebook import Codebook
from ._convert import error, as_float32, as_int
from ._params import QParams, dtype_range
from ._quantize import dequantize
from ._report import ErrorReport

__all__ = ["plot_histogram", "plot_sqnr_per_channel"]

MAX_LEVEL_LINES = 64  # draw every quantization level only up to this many levels


def _matplotlib():
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("swiftquant's plots need matplotlib: pip install matplotlib") from exc
    return matplotlib, Figure


def _axes(ax):
    _, Figure = _matplotlib()
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=(8, 4.5), layout="constrained")
    return fig, fig.add_subplot()


def _unwrap(obj):
    """(QParams / Codebook, the scheme's name or None) from an Analysis (its recommended row) or an
    AnalysisRow; others as they are."""
    from ._analyze import Analysis, AnalysisRow
    if isinstance(obj, Analysis):
        obj = obj.recommended
    if isinstance(obj, AnalysisRow):
        return obj.params, obj.name
    return obj, None


def _legend_outside(ax):
    """The legend to the right of the axes, so it never covers bars, lines or levels."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize="small")


def _check_name(name):
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a str or None, got {type(name).__name__}")
    return name or "x"


def plot_histogram(x, params_or_codebook=None, bins: int = 200, ax=None, name: Optional[str] = None):
    """Histogram of x (log count axis) with the quantization range and levels.

    The title names the tensor (``name``, default "x") and the scheme; levels are dashed full-height lines
    drawn over the bars, and the legend sits to the right of the axes, clear of the data.

    ``params_or_codebook``: None (histogram only); per-tensor QParams: two full-height lines at the
    representable range ``[(qmin - Z) S, (qmax - Z) S]`` and, when the dtype has at most 64 levels, a short
    tick at every level ``(q - Z) S``; a per-tensor Codebook: lines at its end levels and a tick per level
    (at most 64); per-channel / per-block QParams or a per-channel Codebook: two lines at the widest range
    over the channels. An Analysis (its recommended scheme) or an AnalysisRow is accepted too.
    Non-finite values of x are left out of the histogram. Returns the matplotlib Figure (``ax``'s, if given).
    """
    tensor = _check_name(name)
    bins = as_int(bins, "bins")
    if bins < 1:
        raise error(f"bins must be >= 1, got {bins}")
    arr = as_float32(x, "x").ravel()
    arr = arr[np.isfinite(arr)]
    fig, ax = _axes(ax)
    ax.hist(arr, bins=bins, color="tab:blue", alpha=0.75, label="x")
    if arr.size:  # a log axis needs a positive count
        ax.set_yscale("log")
    ax.set_xlabel("value")
    ax.set_ylabel("count (log)")
    p, scheme = _unwrap(params_or_codebook)
    levels = None
    title = "histogram"
    if p is None:
        lo = hi = None
    elif isinstance(p, QParams):
        qmin, qmax = dtype_range(p.dtype)
        s = p.scale.astype(np.float64)
        z = p.zero_point.astype(np.float64)
        lows, highs = (qmin - z) * s, (qmax - z) * s
        lo, hi = float(lows.min()), float(highs.max())
        if p.axis is None:
            title = f"{p.dtype} per tensor, S = {float(s):.4g}, Z = {int(z)}"
            if p.is_float:
                # The format's values (non-uniform): every code decoded, once each.
                codes = np.arange({"float4": 16, "float6": 64}.get(p.dtype[:6], 256), dtype=np.uint8)
                values = np.unique(dequantize(codes, QParams(1.0, dtype=p.dtype)))
                values = values[np.isfinite(values)]
                if values.size <= MAX_LEVEL_LINES:
                    levels = values.astype(np.float64) * s
            elif qmax - qmin + 1 <= MAX_LEVEL_LINES:
                levels = (np.arange(qmin, qmax + 1) - z) * s
        else:
            where = f"axis {p.axis}" if p.block_size in (None, 0) else f"blocks of {p.block_size}, axis {p.axis}"
            title = f"{p.dtype}, {s.size} scales ({where}): widest range shown"
    elif isinstance(p, Codebook):
        lv = p.levels.astype(np.float64)
        lo, hi = float(lv.min()), float(lv.max())
        if p.axis is None:
            title = f"{p.kind} codebook per tensor, {p.num_levels} levels"
            if p.num_levels <= MAX_LEVEL_LINES:
                levels = lv
        else:
            title = f"{p.kind} codebook, {lv.shape[0]} channels: widest range shown"
    else:
        raise TypeError("params_or_codebook must be a QParams, Codebook, Analysis, AnalysisRow or None, got "
                        f"{type(p).__name__}")
    if lo is not None:
        ax.axvline(lo, color="tab:red", linewidth=1.5, label=f"range [{lo:.4g}, {hi:.4g}]")
        ax.axvline(hi, color="tab:red", linewidth=1.5)
    if levels is not None:
        # Full height and above the bars (zorder): short ticks at the foot of a log axis were hidden.
        for i, v in enumerate(levels):
            ax.axvline(float(v), color="tab:orange", linewidth=0.9, linestyle="--", alpha=0.9, zorder=3,
                       label=f"{len(levels)} levels" if i == 0 else None)
    ax.set_title(f"{tensor}: {scheme + ' — ' if scheme else ''}{title}")
    if lo is not None:
        _legend_outside(ax)
    return fig


def _report_of(obj) -> ErrorReport:
    from ._analyze import Analysis, AnalysisRow
    if isinstance(obj, Analysis):
        rows = [r for r in obj.rows if r.report.per_channel is not None]
        if not rows:
            raise error("the analysis has no per-channel scheme (call sq.analyze with axis=...)")
        obj = rows[0]  # the best per-channel scheme
    scheme = None
    if isinstance(obj, AnalysisRow):
        obj, scheme = obj.report, obj.name
    if not isinstance(obj, ErrorReport):
        raise TypeError(f"expected an ErrorReport, Analysis or AnalysisRow, got {type(obj).__name__}")
    if obj.per_channel is None:
        raise error("the report has no per-channel values (use per-axis QParams in sq.error_report)")
    return obj, scheme


def plot_sqnr_per_channel(report_or_analysis, ax=None, name: Optional[str] = None,
                          scheme: Optional[str] = None):
    """Bar chart of the SQNR (dB) of each channel, with the whole tensor's SQNR as a horizontal line.

    The title names the tensor (``name``, default "x") and the scheme (``scheme``; for an Analysis or
    AnalysisRow, its row's name unless given).
    When the channels' SQNRs lie close together (spread under half the largest), the axis starts just below
    the smallest instead of at 0, so the differences show; the legend sits to the right of the axes.

    Accepts an ErrorReport with per-channel values, an AnalysisRow of a per-channel scheme, or an Analysis
    (its best per-channel scheme). Channels with zero error (infinite SQNR) get no bar and are counted in the
    title. Returns the matplotlib Figure (``ax``'s, if given).
    """
    tensor = _check_name(name)
    if scheme is not None and not isinstance(scheme, str):
        raise TypeError(f"scheme must be a str or None, got {type(scheme).__name__}")
    report, row_scheme = _report_of(report_or_analysis)
    scheme = scheme or row_scheme
    fig, ax = _axes(ax)
    sqnr = np.asarray(report.per_channel.sqnr_db, dtype=np.float64)
    exact = int(np.isinf(sqnr).sum())
    shown = np.where(np.isfinite(sqnr), sqnr, np.nan)
    ax.bar(np.arange(len(shown)), shown, color="tab:blue", width=0.8)
    total = float(report.sqnr_db)
    if np.isfinite(total):
        ax.axhline(total, color="tab:red", linewidth=1.2, label=f"whole tensor {total:.2f} dB")
        _legend_outside(ax)
    finite = shown[np.isfinite(shown)]
    if finite.size:
        lo, hi = float(finite.min()), float(finite.max())
        if lo > 0 and hi - lo < 0.5 * hi:
            ax.set_ylim(bottom=lo - max(0.1 * (hi - lo), 0.5), top=hi + max(0.05 * (hi - lo), 0.25))
    ax.set_xlabel(f"channel (axis {report.axis})")
    ax.set_ylabel("SQNR (dB)")
    title = f"{tensor}: {scheme + ' — ' if scheme else ''}SQNR per channel, {len(shown)} channels"
    if exact:
        title += f" ({exact} exact, not drawn)"
    ax.set_title(title)
    return fig
