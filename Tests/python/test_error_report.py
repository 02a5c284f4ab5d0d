"""sq.error_report against an independent NumPy implementation (numpy_reference's quantize/dequantize; for
codebooks, argmin of distances to the levels),
plus its properties: the rounding/clipping split, no clipping under minmax calibration, S^2/12 rounding
noise on uniform data, SQNR growing with bits."""
import json
import math

import numpy as np
import pytest

import swiftquant as sq
from numpy_reference import DTYPE_RANGES, dequantize_ref, expand, quantize_ref, round_ref

DTYPES = ["int8", "uint8", "int16", "uint16", "int4", "uint4"]


def report_ref(x, p: sq.QParams, rounding="nearest_even"):
    """Per-element statistics in float64, then per group (per-axis params) and totals."""
    x = np.asarray(x, dtype=np.float32)
    axis, block = p.axis, p.block_size
    qmin, qmax = DTYPE_RANGES[p.dtype]
    s = expand(p.scale, x.shape, axis, block).astype(np.float32)
    z = expand(p.zero_point, x.shape, axis, block).astype(np.int64)
    with np.errstate(over="ignore", under="ignore"):
        v = x / s
    unsat = round_ref(v.astype(np.float64), rounding) + z
    clipped = (unsat < qmin) | (unsat > qmax)
    q = quantize_ref(x, p.scale, p.zero_point, p.dtype, axis, block, rounding)
    xhat = dequantize_ref(q, p.scale, p.zero_point, p.dtype, axis, block).astype(np.float64)
    return stats_ref(x, xhat, clipped, axis if block is None else None)


def codebook_report_ref(x, cb: sq.Codebook):
    """Nearest level by argmin |x - level| (first index on ties; +-inf to the end levels); clipped beyond an
    end level by more than half the gap to its neighbour."""
    x = np.asarray(x, dtype=np.float32)
    lv = cb.levels.astype(np.float64)
    if cb.axis is None:
        lvx = np.broadcast_to(lv, x.shape + lv.shape[-1:])
    else:
        ax = cb.axis % x.ndim
        shape = [1] * x.ndim + [lv.shape[-1]]
        shape[ax] = lv.shape[0]
        lvx = np.broadcast_to(lv.reshape(shape), x.shape + lv.shape[-1:])
    x64 = x.astype(np.float64)[..., None]
    with np.errstate(invalid="ignore"):
        d = np.abs(x64 - lvx)
    d = np.where(np.isposinf(x64), np.where(np.arange(lv.shape[-1]) == lv.shape[-1] - 1, 0.0, np.inf), d)
    d = np.where(np.isneginf(x64), np.where(np.arange(lv.shape[-1]) == 0, 0.0, np.inf), d)
    idx = np.argmin(d, axis=-1)
    xhat = np.take_along_axis(lvx, idx[..., None], axis=-1)[..., 0]
    first, last = lvx[..., 0], lvx[..., -1]
    L = lv.shape[-1]
    lo = first - (lvx[..., 1] - first) / 2 if L > 1 else first
    hi = last + (last - lvx[..., -2]) / 2 if L > 1 else last
    clipped = (x64[..., 0] < lo) | (x64[..., 0] > hi)
    return stats_ref(x, xhat, clipped, cb.axis)


def stats_ref(x, xhat, clipped, axis):
    """Totals, and per index along axis (None: no per-channel values), of the error x - xhat (float64)."""
    finite = np.isfinite(x)
    x64 = np.where(finite, x.astype(np.float64), 0.0)
    e = np.where(finite, x64 - xhat, 0.0)
    e2 = e * e

    def reduce(sel_axes):
        def r(a, f=np.sum):
            return f(a, axis=sel_axes)
        n = r(finite.astype(np.int64))
        count = r(np.ones(x.shape, np.int64))
        sse = r(e2)
        sig = r(x64 * x64)
        safe = np.maximum(n, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sqnr = np.where(sse == 0, np.inf, 10 * np.log10(sig / np.where(sse == 0, 1, sse)))
        return dict(mse=np.where(n > 0, sse / safe, 0.0),
                    rounding_mse=np.where(n > 0, r(np.where(clipped, 0.0, e2)) / safe, 0.0),
                    clipping_mse=np.where(n > 0, r(np.where(clipped, e2, 0.0)) / safe, 0.0),
                    max_abs_error=r(np.abs(e), np.max) if x.size else np.zeros(()),
                    sqnr_db=sqnr, count=count, clipped=r(clipped.astype(np.int64)),
                    infinite=r((~finite).astype(np.int64)),
                    clipped_fraction=np.where(count > 0, r(clipped.astype(np.int64)) / np.maximum(count, 1), 0.0))

    totals = reduce(None)
    per = None
    if axis is not None:
        ax = axis % x.ndim
        per = reduce(tuple(i for i in range(x.ndim) if i != ax))
    return totals, per


def check_against(got, ref, what=""):
    for k in ("count", "clipped", "infinite"):
        np.testing.assert_array_equal(getattr(got, k), ref[k], err_msg=f"{what} {k}")
    for k in ("mse", "rounding_mse", "clipping_mse", "clipped_fraction"):
        np.testing.assert_allclose(getattr(got, k), ref[k], rtol=1e-12, atol=1e-300, err_msg=f"{what} {k}")
    np.testing.assert_array_equal(getattr(got, "max_abs_error"), ref["max_abs_error"], err_msg=f"{what} max")
    np.testing.assert_allclose(got.sqnr_db, ref["sqnr_db"], rtol=1e-12, err_msg=f"{what} sqnr")


def make_params(x, dtype, granularity, shrink, rng):
    """Parameters covering `shrink` of x's range, so some elements clip when shrink < 1."""
    axis = {"tensor": None, "axis0": 0, "axis1": 1, "block": 1}[granularity]
    block = 4 if granularity == "block" else None
    p = sq.calibrate(x * shrink, dtype=dtype, symmetric=bool(rng.integers(2)), axis=axis, block_size=block)
    return p


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("granularity", ["tensor", "axis0", "axis1", "block"])
@pytest.mark.parametrize("rounding", ["nearest_even", "half_away", "floor"])
def test_matches_numpy_reference(dtype, granularity, rounding):
    rng = np.random.default_rng(abs(hash((dtype, granularity, rounding))) % 2 ** 32)
    x = (rng.standard_normal((6, 19)) * 3 + 0.5).astype(np.float32)
    x[2, 3] = np.inf
    x[4, 0] = -np.inf
    finite = np.where(np.isfinite(x), x, 0)
    p = make_params(finite, dtype, granularity, 0.6, rng)
    got = sq.error_report(x, p, rounding=rounding)
    totals, per = report_ref(x, p, rounding)
    check_against(got, totals, "totals")
    assert got.clipped >= 2  # the infinities, plus the data beyond the shrunk range
    assert got.infinite == 2
    if per is None:
        assert got.per_channel is None
    else:
        assert got.axis == p.axis
        for k in ("mse", "count", "clipped"):
            assert isinstance(getattr(got.per_channel, k), np.ndarray)
            assert getattr(got.per_channel, k).shape == (x.shape[p.axis],)
        check_against(got.per_channel, per, "per channel")
        assert got.per_channel.count.sum() == got.count
        assert got.per_channel.clipped.sum() == got.clipped
        n = got.count - got.infinite
        np.testing.assert_allclose((got.per_channel.mse * (got.per_channel.count - got.per_channel.infinite)).sum() / n,
                                   got.mse, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int4", "uint16"])
def test_split_sums_to_mse(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 300)).astype(np.float32)
    for axis in (None, 0):
        p = sq.calibrate(x * 0.5, dtype=dtype, axis=axis)
        r = sq.error_report(x, p)
        assert r.clipped > 0 and r.rounding_mse > 0 and r.clipping_mse > 0
        assert math.isclose(r.rounding_mse + r.clipping_mse, r.mse, rel_tol=1e-12)
        if axis is not None:
            np.testing.assert_allclose(r.per_channel.rounding_mse + r.per_channel.clipping_mse, r.per_channel.mse,
                                       rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("axis", [None, 1])
def test_no_clipping_when_calibrated_on_the_data(dtype, symmetric, axis):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((5, 400)) * 2 + 0.3).astype(np.float32)
    p = sq.calibrate(x, dtype=dtype, symmetric=symmetric, axis=axis)
    r = sq.error_report(x, p)
    if symmetric and dtype.startswith("u"):
        # Symmetric unsigned (S = 2a / (qmax - qmin), Z = (qmin + qmax + 1) / 2) puts +a at v = qmax - Z + 0.5,
        # which rounds (half to even) one past qmax and saturates: the largest positive value of each group
        # clips by exactly half a step. It is real clipping, and no worse than rounding.
        groups = 1 if axis is None else x.shape[axis]
        assert r.clipped <= groups
        s = np.asarray(p.scale, np.float64)
        ulp = float(np.spacing(np.abs(x).max()))
        assert r.max_abs_error <= (s / 2).max() + 2 * ulp
        return
    assert r.clipped == 0 and r.clipped_fraction == 0.0 and r.clipping_mse == 0.0
    assert r.rounding_mse == r.mse


def test_uniform_rounding_noise_is_s2_over_12():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, 200_000).astype(np.float32)
    p = sq.calibrate(x, dtype="int8", symmetric=True)
    s = float(p.scale)
    r = sq.error_report(x, p)
    assert r.clipped == 0
    assert abs(r.rounding_mse / (s * s / 12) - 1) < 0.05
    assert r.max_abs_error <= s / 2 * (1 + 1e-6)


def test_sqnr_grows_with_bits():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(50_000).astype(np.float32)
    r8 = sq.error_report(x, sq.calibrate(x, dtype="int8", symmetric=True))
    r4 = sq.error_report(x, sq.calibrate(x, dtype="int4", symmetric=True))
    assert r8.sqnr_db > r4.sqnr_db + 15  # about 6 dB per bit
    r16 = sq.error_report(x, sq.calibrate(x, dtype="int16", symmetric=True))
    assert r16.sqnr_db > r8.sqnr_db


def test_hand_checked_values():
    p = sq.QParams(0.5, 0, "int8")  # range [-64, 63.5]
    r = sq.error_report(np.array([0, 0.5, -64, 63.5], np.float32), p)
    assert r.mse == 0 and r.max_abs_error == 0 and r.sqnr_db == math.inf and r.count == 4 and r.clipped == 0
    r = sq.error_report(np.array([100, 1.0], np.float32), p)
    assert r.clipped == 1 and r.clipped_fraction == 0.5
    assert r.clipping_mse == 36.5 ** 2 / 2 and r.rounding_mse == 0 and r.max_abs_error == 36.5
    assert math.isclose(r.sqnr_db, 10 * math.log10((100 ** 2 + 1) / 36.5 ** 2), rel_tol=1e-12)


def test_edge_cases():
    p = sq.QParams(0.1, 3, "uint8")
    z = sq.error_report(np.zeros((3, 4), np.float32), p)
    assert z.mse == 0 and z.sqnr_db == math.inf and z.clipped == 0
    e = sq.error_report(np.zeros((0,), np.float32), p)
    assert e.count == 0 and e.mse == 0 and e.clipped_fraction == 0 and e.sqnr_db == math.inf
    inf = sq.error_report(np.array([np.inf, -np.inf], np.float32), p)
    assert inf.count == 2 and inf.clipped == 2 and inf.infinite == 2 and inf.mse == 0 and inf.clipped_fraction == 1
    with pytest.raises(sq.SwiftQuantError):
        sq.error_report(np.array([1.0, np.nan], np.float32), p)
    with pytest.raises(ValueError):
        sq.error_report(np.ones(3), p, rounding="bogus")
    with pytest.raises(TypeError):
        sq.error_report(np.ones(3), 0.5)
    with pytest.raises(ValueError):
        sq.error_report(np.ones((2, 3)), sq.QParams(np.ones(4), 0, "int8", axis=1))


def test_stochastic_matches_fake_quantize():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 1000)).astype(np.float32)
    p = sq.calibrate(x * 0.8, dtype="int8", axis=0)
    r = sq.error_report(x, p, rounding="stochastic", seed=123)
    y = sq.fake_quantize(x, p, rounding="stochastic", seed=123)
    e = x.astype(np.float64) - y.astype(np.float64)
    np.testing.assert_allclose(r.per_channel.mse, (e * e).mean(axis=1), rtol=1e-12)
    assert r.max_abs_error == np.abs(e).max()
    r2 = sq.error_report(x, p, rounding="stochastic", seed=123)
    assert r2.mse == r.mse


def test_repr_and_to_dict():
    x = np.linspace(-3, 3, 60, dtype=np.float32).reshape(3, 20)
    r = sq.error_report(x, sq.calibrate(x * 0.9, axis=0))
    text = repr(r)
    assert "\n" not in text and text.startswith("ErrorReport(mse=") and "sqnr_db=" in text
    d = r.to_dict()
    json.dumps(d)
    assert d["count"] == 60 and d["axis"] == 0 and len(d["per_channel"]["mse"]) == 3
    assert set(d) >= {"mse", "sqnr_db", "max_abs_error", "clipped_fraction", "rounding_mse", "clipping_mse", "count"}
    assert sq.error_report(x, sq.calibrate(x)).per_channel is None


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("bits", [1, 2, 4])
def test_codebook_report_matches_numpy_reference(axis, bits):
    rng = np.random.default_rng(bits * 10 + (9 if axis is None else axis + 3))
    x = (rng.laplace(size=(7, 23)) * np.arange(1, 24)).astype(np.float32)
    cb = sq.fit_codebook(x * 0.7, bits=bits, axis=axis)  # fitted on shrunk data, so the tails clip
    x[1, 2], x[5, 7] = np.inf, -np.inf
    got = sq.error_report(x, cb)
    totals, per = codebook_report_ref(x, cb)
    check_against(got, totals, "totals")
    assert got.infinite == 2 and got.clipped > 2
    assert got.rounding_mse + got.clipping_mse == pytest.approx(got.mse, rel=1e-12)
    # The error of the elements is that of codebook_dequantize(codebook_quantize(x)).
    finite = np.isfinite(x)
    xhat = sq.codebook_dequantize(sq.codebook_quantize(x, cb), cb).astype(np.float64)
    assert got.mse == pytest.approx(np.mean((x[finite] - xhat[finite]) ** 2), rel=1e-12)
    if axis is None:
        assert got.per_channel is None
    else:
        assert got.axis == axis % 2
        check_against(got.per_channel, per, "per channel")


def test_codebook_report_edges():
    cb = sq.Codebook([-1.0, 0.0, 2.0])  # end thresholds: -1.5 and 3.0
    r = sq.error_report(np.array([-1.5, -1.51, 3.0, 3.01, 0.9], np.float32), cb)
    assert r.clipped == 2  # -1.51 and 3.01; exactly on a threshold is not clipped
    assert r.max_abs_error == pytest.approx(1.01, rel=1e-6)
    one = sq.Codebook([0.5])
    r = sq.error_report(np.array([0.5, 0.5, 1.0], np.float32), one)
    assert r.clipped == 1 and r.rounding_mse == 0 and r.clipping_mse == pytest.approx(0.25 / 3)
    with pytest.raises(sq.SwiftQuantError, match="NaN"):
        sq.error_report(np.array([0.0, np.nan], np.float32), cb)
    with pytest.raises(ValueError, match="rounding"):
        sq.error_report(np.zeros(3, np.float32), cb, rounding="nearest")
    with pytest.raises(ValueError, match="codebook"):
        sq.error_report(np.zeros((3, 4), np.float32), sq.Codebook(np.zeros((2, 4)), axis=1))
