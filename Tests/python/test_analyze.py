"""sq.analyze, Analysis rendering and the plots (matplotlib, Agg / no display)."""
import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import swiftquant as sq
from numpy_reference import dequantize_ref, quantize_ref


_ML = {"float8_e4m3fn": "float8_e4m3fn", "float8_e5m2": "float8_e5m2", "float4_e2m1": "float4_e2m1fn"}


def _float_dequantized(x, p):
    """Independent FP round trip: ONNX's clip-then-cast with ml_dtypes, times the scale."""
    import ml_dtypes
    t = getattr(ml_dtypes, _ML[p.dtype])
    s = p.scale if p.axis is None else np.expand_dims(p.scale, [d for d in range(x.ndim) if d != p.axis % x.ndim])
    top = float(ml_dtypes.finfo(t).max)
    return np.clip(x / s, -top, top).astype(t).astype(np.float32) * s


def _mx_dequantized(x, row):
    """The MX round trip by test_mx's independent NumPy + ml_dtypes implementation."""
    from test_mx import ref_dequantize, ref_quantize
    e, s = ref_quantize(x, row.dtype, axis=row.mx_axis)
    return ref_dequantize(e, s, row.dtype, axis=row.mx_axis)


def _sqnr_ref(x, p):
    if isinstance(p, sq.AnalysisRow):  # an MX row: its params are codes, the format is the dtype
        d = _mx_dequantized(x, p).astype(np.float64)
    elif p.dtype.startswith("float"):
        d = _float_dequantized(x, p).astype(np.float64)
    else:
        q = quantize_ref(x, p.scale, p.zero_point, p.dtype, axis=p.axis)
        d = dequantize_ref(q, p.scale, p.zero_point, p.dtype, axis=p.axis).astype(np.float64)
    e = x.astype(np.float64) - d
    return 10 * np.log10((x.astype(np.float64) ** 2).sum() / (e ** 2).sum())


def test_recommended_is_best_sqnr_recomputed(rng):
    x = (rng.standard_normal((200, 16)) * np.exp(rng.uniform(-2, 1, 16))).astype(np.float32)
    a = sq.analyze(x, axis=1)
    assert len(a) == 25  # 16 integer schemes, 8 FP8 (E4M3FN, E5M2 x minmax, percentile x 2 granularities), MXFP8
    ref = []
    for row in a.rows:
        r = _sqnr_ref(x, row if row.method == "mx" else row.params)
        assert row.sqnr_db == pytest.approx(r, abs=1e-6)
        ref.append(r)
    assert all(ref[i] >= ref[i + 1] - 1e-9 for i in range(len(ref) - 1))
    assert a.recommended is a.rows[int(np.argmax(ref))] or ref[0] == max(ref)
    assert {r.granularity for r in a.rows} == {"per tensor", "per channel", "per block of 32"}
    mx = [r for r in a.rows if r.method == "mx"]
    assert len(mx) == 1 and mx[0].dtype == "mxfp8_e4m3" and mx[0].mx_axis == 0  # axis 1 holds the channels
    assert {r.dtype for r in a.rows if r.symmetric} == {"int8", "float8_e4m3fn", "float8_e5m2", "mxfp8_e4m3"}
    assert {r.dtype for r in a.rows if not r.symmetric} == {"uint8"}


def test_clipping_method_beats_minmax_on_laplace_with_outlier(rng):
    x = rng.laplace(size=20000).astype(np.float32)
    x[0] = 200.0
    a = sq.analyze(x)
    ints = [r for r in a.rows if not r.dtype.startswith("float")]
    assert ints[0].method != "minmax"
    mm = max(r.sqnr_db for r in ints if r.method == "minmax")
    assert ints[0].sqnr_db > mm  # the outlier dominates the signal energy, so the gain is modest


def test_fp8_beats_int8_on_a_heavy_tail_with_an_outlier(rng):
    """FP8's levels are spaced in proportion to their size: one outlier costs it little where it stretches
    int8's uniform step. The ranking shows it, and the SQNR is recomputed with ml_dtypes."""
    x = rng.laplace(size=20000).astype(np.float32)
    x[0] = 200.0
    a = sq.analyze(x)
    assert a.recommended.dtype == "float8_e4m3fn"
    best_int = max(r.sqnr_db for r in a.rows if r.dtype in ("int8", "uint8"))
    assert a.recommended.sqnr_db > best_int + 3
    assert a.recommended.sqnr_db == pytest.approx(_sqnr_ref(x, a.recommended.params), abs=1e-6)
    assert "over the runner-up" in a.reason


def test_4bit_has_codebook_rows(rng):
    x = rng.standard_normal((128, 8)).astype(np.float32)
    a = sq.analyze(x, axis=-1, bits=4)
    cb = [r for r in a.rows if r.method == "lloyd"]
    assert len(cb) == 2 and all(isinstance(r.params, sq.Codebook) for r in cb)
    assert {r.dtype for r in a.rows if r.method != "lloyd"} == {"int4", "uint4", "float4_e2m1", "mxfp4"}
    for r in a.rows:
        if r.dtype == "float4_e2m1":
            assert r.sqnr_db == pytest.approx(_sqnr_ref(x, r.params), abs=1e-6)
        if r.dtype == "mxfp4":
            assert r.mx_axis == 0 and r.sqnr_db == pytest.approx(_sqnr_ref(x, r), abs=1e-6)
            d = _mx_dequantized(x, r).astype(np.float64)
            assert r.mse == pytest.approx(((x - d) ** 2).mean(), rel=1e-12)
            assert r.rounding_mse + r.clipping_mse == pytest.approx(r.mse, rel=1e-12)
    for r in cb:  # NumPy error of the codebook row
        d = sq.codebook_dequantize(sq.codebook_quantize(x, r.params), r.params).astype(np.float64)
        e = x - d
        assert r.mse == pytest.approx((e ** 2).mean(), rel=1e-9)
        assert r.rounding_mse + r.clipping_mse == pytest.approx(r.mse, rel=1e-9)


def test_rendering(rng):
    a = sq.analyze(rng.standard_normal((64, 4)).astype(np.float32), axis=0)
    text, html = str(a), a._repr_html_()
    assert a.recommended.name in text and a.recommended.name in html
    assert repr(a) == text and "<table>" in html and a.reason in text
    rows = a.to_rows()
    assert rows[0]["name"] == a.recommended.name and rows[0]["sqnr_db"] == a.recommended.sqnr_db


def test_plots_vertical_lines(rng):
    from matplotlib.figure import Figure
    x = rng.standard_normal(1000).astype(np.float32)
    assert len(sq.plot_histogram(x).axes[0].lines) == 0
    f = sq.plot_histogram(x, sq.calibrate(x, dtype="int4", symmetric=True))
    assert isinstance(f, Figure) and len(f.axes[0].lines) == 2 + 16
    assert len(sq.plot_histogram(x, sq.calibrate(x, dtype="int8")).axes[0].lines) == 2
    cb = sq.fit_codebook(x, bits=3)
    assert len(sq.plot_histogram(x, cb).axes[0].lines) == 2 + 8
    w = rng.standard_normal((32, 6)).astype(np.float32)
    f = sq.plot_sqnr_per_channel(sq.error_report(w, sq.calibrate(w, symmetric=True, axis=1)))
    assert isinstance(f, Figure) and len(f.axes[0].patches) == 6
    assert isinstance(sq.plot_sqnr_per_channel(sq.analyze(w, axis=1)), Figure)
    with pytest.raises(ValueError):
        sq.plot_sqnr_per_channel(sq.error_report(w, sq.calibrate(w)))
    with pytest.raises(ValueError, match="bins"):
        sq.plot_histogram(x, bins=0)
    with pytest.raises(TypeError, match="params_or_codebook"):
        sq.plot_histogram(x, "minmax")
    assert isinstance(sq.plot_histogram(np.zeros(0, np.float32)), Figure)  # empty data: an empty plot


def test_errors():
    x = np.ones((4, 3), np.float32)
    for bits in (2, 7, 16):
        with pytest.raises(ValueError, match="bits"):
            sq.analyze(x, bits=bits)
    with pytest.raises(ValueError, match="axis"):
        sq.analyze(x, axis=2)
    with pytest.raises(TypeError):
        sq.analyze(x, bits="8")
    for bad in (np.nan, np.inf, -np.inf):
        y = x.copy()
        y[1, 2] = bad
        with pytest.raises(ValueError, match="x has 1 NaN or infinite"):
            sq.analyze(y)
        assert np.isnan(y[1, 2]) or np.isinf(y[1, 2])  # the input is not modified


def test_reason_when_the_best_scheme_is_exact():
    # 12 distinct values fit 16 codebook levels exactly; no uniform 4-bit grid holds 0..11 and 100.
    x = np.r_[np.arange(11), 100].astype(np.float32)
    a = sq.analyze(x, bits=4)
    assert a.recommended.method == "lloyd" and a.recommended.sqnr_db == np.inf
    best_uniform = next(r for r in a.rows if r.method != "lloyd")
    assert np.isfinite(best_uniform.sqnr_db)
    assert f"exact where the best uniform scheme ({best_uniform.name}) reaches {best_uniform.sqnr_db:.2f} dB" in a.reason


def test_plot_histogram_draws_the_float_format_levels(rng):
    """FP4's levels are not uniform: the ticks are its 15 values times the scale, not integer steps."""
    x = rng.standard_normal(1000).astype(np.float32)
    p = sq.calibrate(x, dtype="float4_e2m1")
    ax = sq.plot_histogram(x, p).axes[0]
    ticks = sorted(float(line.get_xdata()[0]) for line in ax.lines if line.get_linestyle() == "--")
    s = float(p.scale)
    want = sorted(v * s for v in (0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.5, -1, -1.5, -2, -3, -4, -6))
    assert ticks == pytest.approx(want)


def _canvas_extents(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    return ax, ax.get_window_extent(), ax.get_legend().get_window_extent()


def test_plot_titles_levels_and_legend(rng):
    x = rng.laplace(size=2000).astype(np.float32)
    cb = sq.fit_codebook(x, bits=3)
    fig = sq.plot_histogram(x, cb, name="layer0.weight")
    ax, axes_box, legend_box = _canvas_extents(fig)
    assert ax.get_title() == "layer0.weight: lloyd codebook per tensor, 8 levels"
    # The 8 levels: full-height lines (data coordinates of the x axis, axes coordinates 0..1 in y) at the
    # codebook's levels, drawn above the histogram bars.
    levels = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert sorted(float(ln.get_xdata()[0]) for ln in levels) == pytest.approx(sorted(cb.levels.tolist()))
    assert all(tuple(ln.get_ydata()) == (0, 1) for ln in levels)
    assert min(ln.get_zorder() for ln in levels) > max(p.get_zorder() for p in ax.patches)
    # The legend lies outside the axes, so it covers no data.
    assert legend_box.x0 >= axes_box.x1
    p = sq.calibrate(x, dtype="int8", symmetric=True, axis=0) if x.ndim > 1 else sq.calibrate(x, dtype="int8")
    assert sq.plot_histogram(x, p).axes[0].get_title().startswith("x: int8 per tensor, S = ")
    a = sq.analyze(x.reshape(40, 50), axis=1, bits=4)
    assert sq.plot_histogram(x, a).axes[0].get_title().startswith(f"x: {a.recommended.name} — ")
    with pytest.raises(TypeError, match="name"):
        sq.plot_histogram(x, name=3)


def test_plot_sqnr_axis_and_title(rng):
    w = rng.standard_normal((256, 16)).astype(np.float32)
    r = sq.error_report(w, sq.calibrate(w, symmetric=True, axis=1))
    sqnr = np.asarray(r.per_channel.sqnr_db)
    assert sqnr.max() - sqnr.min() < 0.5 * sqnr.max()  # a small spread: the axis must not start at 0
    fig = sq.plot_sqnr_per_channel(r, name="fc.weight", scheme="int8 symmetric per channel")
    ax, axes_box, legend_box = _canvas_extents(fig)
    lo, hi = ax.get_ylim()
    assert 0 < lo < sqnr.min() and hi > sqnr.max()
    assert ax.get_title() == "fc.weight: int8 symmetric per channel — SQNR per channel, 16 channels"
    assert legend_box.x0 >= axes_box.x1
    # A wide spread keeps the zero baseline: channel 1 is noise plus one huge value, which int4 stores
    # exactly while the noise rounds to 0 (about 20 log10(1e5 / 16) = 76 dB), channel 0 plain noise (~20 dB).
    w2 = rng.standard_normal((256, 2)).astype(np.float32)
    w2[0, 1] = 1e5
    r2 = sq.error_report(w2, sq.calibrate(w2, dtype="int4", symmetric=True, axis=1))
    s2 = np.asarray(r2.per_channel.sqnr_db)
    assert s2[1] - s2[0] > 0.5 * s2[1]
    assert sq.plot_sqnr_per_channel(r2).axes[0].get_ylim()[0] == 0
