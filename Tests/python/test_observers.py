"""Calibration observers (Include/swiftquant.h, "Calibration observers") against the independent NumPy
reference in observer_reference.py: every method's range, streaming (1 batch vs 100), merge, pickle and
to_bytes, multiprocessing, bounded state, per-channel, non-finite values, every dtype, bad arguments,
and the quality the histogram methods exist for (lower quantize -> dequantize error than min/max).

Tolerances: min/max is exact; the moving average is a float formula (rtol 1e-6). Percentile: within one
bin of numpy.percentile (any of its usual definitions) and of the same percentile of the header's own
histogram (observer_reference.header_histogram). Entropy (ONNX Runtime's variant, "entropy_ort"; TensorRT's
"entropy" is tested in test_entropy.py): within one bin of the header's algorithm run on the header's
histogram; on numpy.histogram the KL curve is too flat for thresholds to agree (they move by up to ~100
bins), so there the library's threshold must be near-optimal in KL. MSE: the minimum of
the header's objective as the header's search finds it on the header's histogram, and within 10% of a
brute-force search on the data.
Whatever the header promises bit for bit (qparams from the range, 1 batch vs 100, merge vs one observer,
pickling, per-channel vs per-tensor) is asserted bit for bit.
"""
import functools
import multiprocessing
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import numpy_reference as ref
import observer_reference as orf
import swiftquant as sq
from conftest import assert_same

METHODS = orf.METHODS
HIST_METHODS = orf.HIST_METHODS
EXACT_MERGE_METHODS = ("minmax",) + HIST_METHODS  # merge is exact for min/max and histograms
DTYPES = ("int8", "uint8", "int16", "uint16", "int4", "uint4")
F32_EPS = float(np.finfo(np.float32).eps)


# ---------------------------------------------------------------------------------------------------------
# Data and helpers


@functools.lru_cache(maxsize=None)
def _data(kind, n=200_000, seed=0):
    """Fixed-seed test distributions (read-only float32)."""
    rng = np.random.default_rng([seed, n, sum(map(ord, kind))])
    if kind == "laplace":
        x = rng.laplace(size=n)
    elif kind == "gauss_outliers":
        # Two isolated outliers at about 10 sigma: rare enough that clipping them pays off in squared error
        # (for int8, clipping wins only when outliers are about 1 in 10^5; more and min/max is MSE-optimal).
        x = rng.standard_normal(n)
        x[rng.choice(n, 2, replace=False)] = [12.0, -10.0]
    elif kind == "relu":
        x = np.maximum(rng.standard_normal(n), 0.0)
    elif kind == "uniform":
        x = rng.uniform(-1.0, 3.0, n)
    elif kind == "gauss":
        x = rng.standard_normal(n) * 0.5 + 0.25
    else:
        raise ValueError(kind)
    x = x.astype(np.float32)
    x.flags.writeable = False
    return x


# Settings each method uses; the sweeps below share one keyword set, so they drop the rest (giving a
# setting to a method that does not use it is an error, tested in test_conventions.py).
_USES = {"percentile": ("percentile",), "num_bins": ("percentile", "entropy", "entropy_ort", "mse"),
         "averaging_constant": ("moving_average",)}


def _used(method, kw):
    return {k: v for k, v in kw.items() if k not in _USES or method in _USES[k]}


def _observer(method, batches=(), **kw):
    ob = sq.Observer(method=method, **_used(method, kw))
    for b in batches:
        assert ob.update(b) is ob
    return ob


def _split(x, nbatches, rng):
    """x cut into nbatches pieces of random (non-zero) sizes, in order."""
    cuts = np.sort(rng.choice(np.arange(1, len(x)), nbatches - 1, replace=False))
    return np.split(x, cuts)


def _range(ob):
    lo, hi = ob.range()
    return np.asarray(lo, np.float32), np.asarray(hi, np.float32)


def _scalar_range(ob):
    lo, hi = _range(ob)
    assert lo.size == 1 and hi.size == 1, (lo.shape, hi.shape)
    return float(lo.reshape(())), float(hi.reshape(()))


def _assert_same_qparams(p, expected, what="", /, **ctx):
    assert_same(np.asarray(p.scale), np.asarray(expected.scale), f"{what} scale", **ctx)
    assert_same(np.asarray(p.zero_point), np.asarray(expected.zero_point), f"{what} zero_point", **ctx)
    assert (p.dtype, p.axis, p.block_size) == (expected.dtype, expected.axis, expected.block_size), (p, expected)


def _assert_same_state(ob, expected, what="", /, **ctx):
    """Same range, qparams and counters (bit for bit)."""
    lo, hi = _range(ob)
    elo, ehi = _range(expected)
    assert_same(lo, elo, f"{what} range min", **ctx)
    assert_same(hi, ehi, f"{what} range max", **ctx)
    _assert_same_qparams(ob.qparams(), expected.qparams(), what, **ctx)
    assert (ob.num_batches, ob.num_values, ob.nonfinite_count) == \
        (expected.num_batches, expected.num_values, expected.nonfinite_count), what


def _assert_qparams_follow_range(ob, dtype, symmetric, /, **ctx):
    """qparams() = sq_qparams_from_range(range()) with the observer's dtype and symmetry, exactly."""
    lo, hi = _range(ob)
    es, ez = ref.qparams_from_range_ref(lo, hi, dtype, symmetric)
    p = ob.qparams()
    assert_same(np.asarray(p.scale), es, "qparams scale from range", **ctx)
    assert_same(np.asarray(p.zero_point), ez, "qparams zero_point from range", **ctx)
    return p


def _data_mse(x, p):
    """Mean squared quantize -> dequantize error of x with the library's parameters."""
    xr = sq.dequantize(sq.quantize(x, p), p)
    return float(np.mean((xr.astype(np.float64) - np.asarray(x, np.float64)) ** 2))


def _within(got, expected, tol, what, /, **ctx):
    assert abs(float(got) - float(expected)) <= tol, \
        f"{what}: expected {float(expected)!r} +- {tol!r}, got {float(got)!r} (off by {abs(float(got) - float(expected))!r}); {ctx}"


def _within_interval(got, interval, tol, what, /, **ctx):
    a, b = float(interval[0]), float(interval[1])
    g = float(got)
    off = max(a - g, g - b, 0.0)
    assert off <= tol, f"{what}: expected within [{a!r}, {b!r}] +- {tol!r}, got {g!r} (off by {off!r}); {ctx}"


def _bin_tol(w, scale):
    """One bin of the method's histogram plus float slack."""
    return w * (1 + 1e-5) + 8 * F32_EPS * scale


# ---------------------------------------------------------------------------------------------------------
# Each method against the reference


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
def test_minmax_exact(symmetric, rng):
    batches = [(rng.standard_normal(n) * s + o).astype(np.float32)
               for n, s, o in ((100, 1, 0), (7, 5, 3), (1, 1, -9), (500, 0.1, 0))]
    ob = _observer("minmax", batches, symmetric=symmetric)
    mn, mx = orf.minmax_range_ref(batches)
    lo, hi = _scalar_range(ob)
    assert lo == mn and hi == mx, ((lo, hi), (mn, mx))
    _assert_qparams_follow_range(ob, "int8", symmetric)
    x = np.concatenate(batches)
    _assert_same_qparams(ob.qparams(), sq.calibrate(x, method="minmax", symmetric=symmetric), "observer vs calibrate")
    assert ob.num_batches == 4 and ob.num_values == x.size and ob.nonfinite_count == 0


@pytest.mark.parametrize("c", [0.01, 0.3, 1.0])
@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
def test_moving_average_formula(c, symmetric, rng):
    batches = [(rng.standard_normal(int(rng.integers(1, 300))) * rng.uniform(0.5, 4) + rng.uniform(-2, 2))
               .astype(np.float32) for _ in range(12)]
    ob = sq.Observer(method="moving_average", symmetric=symmetric, averaging_constant=c)
    for i, b in enumerate(batches):
        ob.update(b)
        elo, ehi = orf.moving_average_range_ref(batches[: i + 1], c)
        lo, hi = _scalar_range(ob)
        np.testing.assert_allclose([lo, hi], [elo, ehi], rtol=1e-6, atol=0,
                                   err_msg=f"EMA after {i + 1} batches, c={c}")
        _assert_qparams_follow_range(ob, "int8", symmetric, c=c, batches=i + 1)
    if c == 1.0:  # m = batch_m: the last batch's min and max (to the rounding of m + (batch_m - m))
        np.testing.assert_allclose(_scalar_range(ob), (batches[-1].min(), batches[-1].max()), rtol=1e-6)


def test_moving_average_first_batch_sets_range(rng):
    b = (rng.standard_normal(50) * 3).astype(np.float32)
    ob = _observer("moving_average", [b])
    assert _scalar_range(ob) == (float(b.min()), float(b.max()))


PERCENTILE_CASES = [
    # (data kind, percentile, num_bins)
    ("laplace", 99.99, 2048),
    ("laplace", 99.9, 2048),
    ("gauss", 99.0, 512),
    ("gauss", 90.0, 2048),
    ("relu", 99.99, 2048),
    ("relu", 75.0, 64),
    ("uniform", 99.99, 16),
    ("gauss_outliers", 100.0, 2048),
    ("laplace", 50.0, 1000),
]


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("kind, p, num_bins", PERCENTILE_CASES)
def test_percentile_matches_numpy(kind, p, num_bins, symmetric):
    x = _data(kind)
    ob = _observer("percentile", [x], symmetric=symmetric, percentile=p, num_bins=num_bins)
    (lo0, lo1), (hi0, hi1) = orf.percentile_range_interval(x, p, symmetric)
    w = orf.bin_width(x, num_bins, symmetric)
    lo, hi = _scalar_range(ob)
    scale = float(np.abs(x).max())
    ctx = dict(kind=kind, p=p, num_bins=num_bins, symmetric=symmetric, bin_width=w,
               numpy_linear=orf.percentile_range_ref(x, p, symmetric))
    # Within one bin of numpy.percentile (of any of its usual definitions: in a sparse tail consecutive
    # order statistics can be several bins apart, and the percentile is anywhere between them).
    _within_interval(lo, (lo0, lo1), _bin_tol(w, scale), "percentile range min", **ctx)
    _within_interval(hi, (hi0, hi1), _bin_tol(w, scale), "percentile range max", **ctx)
    if symmetric:
        assert lo == -hi, (lo, hi)
    _assert_qparams_follow_range(ob, "int8", symmetric, **ctx)


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("kind, p, num_bins", PERCENTILE_CASES)
def test_percentile_matches_header_histogram(kind, p, num_bins, symmetric):
    # The same percentiles from the header's own histogram (power-of-two bins re-binned in proportion to
    # overlap), computed in NumPy: the library's result must be within one bin of it.
    x = _data(kind)
    ob = _observer("percentile", [x], symmetric=symmetric, percentile=p, num_bins=num_bins)
    elo, ehi = orf.percentile_range_header(x, p, num_bins, symmetric)
    w = orf.bin_width(x, num_bins, symmetric)
    lo, hi = _scalar_range(ob)
    scale = float(np.abs(x).max())
    ctx = dict(kind=kind, p=p, num_bins=num_bins, symmetric=symmetric, bin_width=w)
    _within(lo, elo, _bin_tol(w, scale), "percentile range min vs header histogram", **ctx)
    _within(hi, ehi, _bin_tol(w, scale), "percentile range max vs header histogram", **ctx)


ORT_ENTROPY_CASES = [
    # (data kind, num_bins)
    ("laplace", 2048),
    ("gauss_outliers", 2048),
    ("relu", 2048),
    ("gauss", 1024),
    ("uniform", 2048),
    ("gauss_outliers", 1000),
    ("laplace", 200),
]


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("kind, num_bins", ORT_ENTROPY_CASES)
def test_entropy_ort_is_onnxruntimes(kind, num_bins, symmetric):
    x = _data(kind)
    amax = float(np.abs(x).max())
    w = 2 * amax / num_bins  # ONNX Runtime's histogram: x over [-amax, amax]
    ob = _observer("entropy_ort", [x], dtype="int8", symmetric=symmetric, num_bins=num_bins)
    lo, hi = _scalar_range(ob)
    ctx = dict(kind=kind, num_bins=num_bins, symmetric=symmetric, bin_width=w, amax=amax)

    def expected(pair):
        elo, ehi = pair
        t = max(-elo, ehi)
        return (-t, t) if symmetric else (elo, ehi)
    # 1. ONNX Runtime's own get_entropy_threshold on the header's histogram: the same window (its KL is
    #    float32, ours float64, so a near-tie may move the minimum by a bin).
    elo, ehi = expected(orf.ort_entropy_range_of_histogram(orf.header_histogram_symmetric(x, num_bins)))
    _within(lo, elo, _bin_tol(w, amax), "entropy_ort min vs ONNX Runtime on the header histogram", **ctx)
    _within(hi, ehi, _bin_tol(w, amax), "entropy_ort max vs ONNX Runtime on the header histogram", **ctx)
    # 2. ONNX Runtime end to end (its numpy.histogram): within two bins, or no more than 5% more squared error.
    olo, ohi = expected(orf.ort_entropy_range(x, num_bins))
    close = abs(lo - olo) <= 2 * w + 1e-6 * amax and abs(hi - ohi) <= 2 * w + 1e-6 * amax
    mse = orf.quant_dequant_mse(x, lo, hi, "int8", symmetric)
    mse_ort = orf.quant_dequant_mse(x, olo, ohi, "int8", symmetric)
    assert close or mse <= 1.05 * mse_ort, ((lo, hi), (olo, ohi), mse, mse_ort, ctx)
    _assert_qparams_follow_range(ob, "int8", symmetric, **ctx)


@pytest.mark.parametrize("method", ["entropy"])
@pytest.mark.parametrize("dtype", ["int16", "uint16"])
@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
def test_entropy_fewer_bins_than_levels_is_minmax(dtype, symmetric, method):
    # L = qmax + 1 (32768, 65536) > num_bins = 2048: T = amax, so the range is the min/max range (TensorRT's:
    # every chunk is one bin, so KL only prices the tail and is 0 at T = amax).
    x = _data("laplace")
    ob = _observer(method, [x], dtype=dtype, symmetric=symmetric)
    amax = float(np.abs(x).max())
    expected = (-amax, amax) if symmetric else (float(x.min()), float(x.max()))
    assert _scalar_range(ob) == expected, (_scalar_range(ob), expected)


MSE_CASES = [
    # (data kind, dtype, symmetric)
    ("laplace", "int8", True),
    ("laplace", "int8", False),
    ("gauss_outliers", "int8", True),
    ("gauss_outliers", "int8", False),
    ("relu", "int8", True),
    ("relu", "uint8", False),
    ("uniform", "int8", True),
    ("gauss", "int4", True),
    ("laplace", "uint4", False),
]


@pytest.mark.parametrize("kind, dtype, symmetric", MSE_CASES)
def test_mse_close_to_bruteforce(kind, dtype, symmetric):
    # The library minimises a histogram model of the error (S^2/12 rounding noise inside the range, the bin
    # centre's squared distance outside) over bin-edge candidates, not the data's exact error over all
    # ranges; so it is near-optimal, not optimal, on the real data: allow 10% over the brute-force best.
    x = _data(kind, n=50_000)
    ob = _observer("mse", [x], dtype=dtype, symmetric=symmetric)
    p = _assert_qparams_follow_range(ob, dtype, symmetric, kind=kind)
    got = _data_mse(x, p)
    best, best_range = orf.mse_bruteforce_ref(x, dtype, symmetric)
    mm = orf.minmax_range_ref([x])
    minmax_err = orf.quant_dequant_mse(x, mm[0], mm[1], dtype, symmetric)
    ctx = f"kind={kind} dtype={dtype} symmetric={symmetric} library range={_scalar_range(ob)} " \
          f"brute-force best range={best_range} minmax range={mm}"
    assert got <= 1.1 * best, f"library MSE {got!r} > 1.1 x brute-force best {best!r}; {ctx}"
    # The minmax range is one of the candidates, so the model's optimum is never worse than it by more than
    # the model's approximation (1%).
    assert got <= 1.01 * minmax_err, f"library MSE {got!r} vs minmax {minmax_err!r}; {ctx}"
    lo, hi = _scalar_range(ob)
    assert x.min() <= lo <= hi <= x.max() or symmetric, ctx
    if symmetric:
        assert lo == -hi and 0 < hi <= np.abs(x).max(), ctx


@pytest.mark.parametrize("kind, dtype, symmetric, num_bins", [
    ("laplace", "int8", True, 2048),
    ("laplace", "int8", False, 512),
    ("gauss_outliers", "int8", True, 1000),
    ("gauss_outliers", "uint8", False, 512),
    ("relu", "uint8", False, 256),
    ("relu", "int8", True, 2048),
    ("uniform", "int8", False, 300),
    ("gauss", "int4", True, 512),
    ("gauss", "uint4", False, 512),
])
def test_mse_minimises_header_objective(kind, dtype, symmetric, num_bins):
    # The header's objective on the header's own histogram, minimised in NumPy by the header's search (every
    # bin edge when symmetric; asymmetric: every max(1, n/256)-th pair of edges, then edge by edge around
    # the best): the library's range must reach that minimum (float slack only).
    x = _data(kind, n=50_000)
    h, first, w = orf.header_histogram(x, num_bins, absolute=symmetric)
    best, best_range = orf.mse_model_best(h, first, w, dtype, symmetric)
    ob = _observer("mse", [x], dtype=dtype, symmetric=symmetric, num_bins=num_bins)
    lo, hi = _scalar_range(ob)
    cost = orf.mse_model_cost(h, first, w, lo, hi, dtype, symmetric)
    assert cost <= best * (1 + 1e-6), \
        f"objective at the library's range {(lo, hi)!r}: {cost!r}; minimum {best!r} at {best_range!r}; " \
        f"kind={kind} dtype={dtype} symmetric={symmetric} num_bins={num_bins}"


# ---------------------------------------------------------------------------------------------------------
# Quality: the histogram methods beat min/max where clipping pays


QUALITY_CASES = [
    # (data kind, dtype, symmetric, methods expected to beat minmax)
    ("laplace", "int8", True, ("percentile", "entropy", "mse", "entropy_ort")),
    # Asymmetric percentile clips 0.01% at *both* ends; on Laplace/Gaussian at int8 asymmetric resolution that
    # costs about what it saves (reference: ratio ~1.0), so it is not expected to win there.
    ("laplace", "int8", False, ("entropy", "mse", "entropy_ort")),
    ("gauss_outliers", "int8", True, ("percentile", "entropy", "mse", "entropy_ort")),
    ("gauss_outliers", "int8", False, ("entropy", "mse", "entropy_ort")),
    # ReLU(Gaussian): half the values are exactly 0 and fall in bin 0 of the |x| histogram. In ONNX Runtime's
    # entropy KL then favours small thresholds (the spike's chunk is smeared over more bins as i grows), so
    # entropy_ort clips at ~0.4 max and loses badly in squared error (measured: ~100x); TensorRT's entropy
    # replaces bin 0 by bin 1 first and wins (measured: 0.88x int8, 0.96x uint8). Percentile's upper end at
    # uint8 resolution clips more error than it saves. Not expected to win: entropy_ort (both), percentile
    # (asymmetric).
    ("relu", "int8", True, ("percentile", "entropy", "mse")),
    ("relu", "uint8", False, ("entropy", "mse")),
]


@pytest.mark.parametrize("kind, dtype, symmetric, methods", QUALITY_CASES)
def test_histogram_methods_beat_minmax(kind, dtype, symmetric, methods):
    x = _data(kind)
    base = _data_mse(x, sq.calibrate(x, method="minmax", dtype=dtype, symmetric=symmetric))
    for method in methods:
        p = sq.calibrate(x, method=method, dtype=dtype, symmetric=symmetric)
        err = _data_mse(x, p)
        assert err < base, f"{method} on {kind} ({dtype}, symmetric={symmetric}): MSE {err!r} >= minmax {base!r}; {p}"


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
def test_uniform_data_methods_agree(symmetric):
    x = _data("uniform")
    batches = np.split(x, 10)  # 20k values per batch: each batch's min/max is within a bin of the data's
    mlo, mhi = orf.minmax_range_ref([x])
    if symmetric:
        a = max(-mlo, mhi)
        mlo, mhi = -a, a
    num_bins = 2048
    w = orf.bin_width(x, num_bins, symmetric)
    for method in ("moving_average", "percentile", "entropy"):
        ob = _observer(method, batches, symmetric=symmetric, num_bins=num_bins, averaging_constant=0.5)
        lo, hi = _scalar_range(ob)
        if method == "moving_average" and symmetric:  # the range before symmetrisation
            lo, hi = -max(-lo, hi), max(-lo, hi)
        _within(lo, mlo, _bin_tol(w, 3.0), f"{method} min vs minmax", symmetric=symmetric)
        _within(hi, mhi, _bin_tol(w, 3.0), f"{method} max vs minmax", symmetric=symmetric)
    # MSE trades a little clipping for finer steps even on uniform data: for int8 the optimum sits about
    # 0.3% inside the data's range (several bins of 2048). Its error is about min/max's: the header's model
    # (S^2/12 inside) ignores that rounding the zero point shifts the grid by up to S/2, so on the data it
    # can come out a fraction of a percent above min/max (measured: +0.24% asymmetric).
    ob = _observer("mse", batches, symmetric=symmetric)
    lo, hi = _scalar_range(ob)
    assert abs(lo - mlo) <= 0.02 * (mhi - mlo) and abs(hi - mhi) <= 0.02 * (mhi - mlo), ((lo, hi), (mlo, mhi))
    p_minmax = sq.calibrate(x, symmetric=symmetric)
    assert _data_mse(x, ob.qparams()) <= _data_mse(x, p_minmax) * 1.01


# ---------------------------------------------------------------------------------------------------------
# Streaming: 1 batch vs 100 batches


def _widening_batches(rng):
    """100 batches whose magnitude grows by 10^5 overall (the power-of-two histogram range doubles ~17 times),
    with values on power-of-two bin edges, tiny negatives just below 0 and subnormals."""
    out = []
    for k in range(100):
        b = rng.laplace(size=int(rng.integers(50, 400))) * 10.0 ** (k / 20 - 3)
        b[:6] = [-2.0 ** -40, 2.0 ** -30, -1e-39, 2.0 ** (k // 10 - 8), -2.0 ** (k // 10 - 9), 0.0]
        out.append(b.astype(np.float32))
    return out


@pytest.mark.parametrize("data", ["laplace", "widening"])
@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("method", EXACT_MERGE_METHODS)
def test_one_batch_vs_hundred(method, symmetric, data, rng):
    # The histogram's range and bin edges depend only on max|x|, and pairs of bins merge exactly when it
    # grows, so the header promises identical histograms: qparams must be identical.
    if data == "laplace":
        x = np.array(_data("laplace", n=100_000))
        rng.shuffle(x)
        batches = _split(x, 100, rng)
    else:
        batches = _widening_batches(rng)
        x = np.concatenate(batches)
    kw = dict(symmetric=symmetric, dtype="int8", percentile=99.9, num_bins=1024)
    one = _observer(method, [x], **kw)
    many = _observer(method, batches, **kw)
    ctx = dict(method=method, symmetric=symmetric, data=data)
    lo1, hi1 = _range(one)
    lo100, hi100 = _range(many)
    assert_same(lo100, lo1, "range min, 100 batches vs 1", **ctx)
    assert_same(hi100, hi1, "range max, 100 batches vs 1", **ctx)
    _assert_same_qparams(many.qparams(), one.qparams(), "100 batches vs 1", **ctx)
    assert many.num_batches == 100 and one.num_batches == 1
    assert many.num_values == one.num_values == x.size


@pytest.mark.parametrize("method", HIST_METHODS)
def test_one_batch_vs_many_per_axis(method, rng):
    x = (rng.standard_normal((3, 6000)) * np.array([[0.01], [1.0], [300.0]])).astype(np.float32)
    x[1, :3] = [40.0, -2.0 ** -30, 2.0 ** 5]
    cuts = np.sort(rng.choice(np.arange(1, 6000), 29, replace=False))
    batches = np.split(x, cuts, axis=1)
    one = _observer(method, [x], axis=0, symmetric=False)
    many = _observer(method, batches, axis=0, symmetric=False)
    _assert_same_qparams(many.qparams(), one.qparams(), "per axis, 30 batches vs 1", method=method)


# ---------------------------------------------------------------------------------------------------------
# Merge


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("method", EXACT_MERGE_METHODS)
def test_merge_equals_one_observer(method, symmetric, rng):
    # Shards of very different magnitude: their histograms have different power-of-two ranges.
    shard_a = [(rng.laplace(size=3000) * 0.01).astype(np.float32) for _ in range(3)]
    shard_b = [(rng.standard_normal(5000) * 50 + 20).astype(np.float32) for _ in range(2)]
    shard_c = [rng.uniform(-1, 1, 100).astype(np.float32)]
    kw = dict(symmetric=symmetric, dtype="uint8", num_bins=512, percentile=99.5)
    everything = _observer(method, shard_a + shard_b + shard_c, **kw)
    a = _observer(method, shard_a, **kw)
    b = _observer(method, shard_b, **kw)
    c = _observer(method, shard_c, **kw)
    b_bytes = b.to_bytes()
    assert a.merge(b) is a
    assert b.to_bytes() == b_bytes, "merge changed the observer merged from"
    a.merge(c)
    _assert_same_state(a, everything, "merge(a, b, c) vs one observer", method=method)
    # The other order gives the same result.
    c2 = _observer(method, shard_c, **kw)
    c2.merge(_observer(method, shard_b, **kw)).merge(_observer(method, shard_a, **kw))
    _assert_same_qparams(c2.qparams(), everything.qparams(), "merge(c, b, a) vs one observer", method=method)
    # A merged observer keeps streaming like the single one.
    more = (rng.standard_normal(1000) * 200).astype(np.float32)
    a.update(more)
    everything.update(more)
    _assert_same_state(a, everything, "after a further update", method=method)


@pytest.mark.parametrize("method", EXACT_MERGE_METHODS)
def test_merge_per_axis(method, rng):
    x = (rng.standard_normal((4000, 5)) * np.array([0.1, 1, 10, 100, 1000])).astype(np.float32)
    everything = _observer(method, [x[:1000], x[1000:1500], x[1500:]], axis=1)
    a = _observer(method, [x[:1000]], axis=1)
    a.merge(_observer(method, [x[1000:1500], x[1500:]], axis=1))
    _assert_same_state(a, everything, "per-axis merge", method=method)


def test_merge_moving_average_weighted(rng):
    kw = dict(method="moving_average", averaging_constant=0.2)
    a_batches = [(rng.standard_normal(100) + i).astype(np.float32) for i in range(3)]
    b_batches = [(rng.standard_normal(100) * 4 - i).astype(np.float32) for i in range(5)]
    a = _observer(batches=a_batches, **kw)
    b = _observer(batches=b_batches, **kw)
    ra, rb = _scalar_range(a), _scalar_range(b)
    np.testing.assert_allclose(ra, orf.moving_average_range_ref(a_batches, 0.2), rtol=1e-6)
    a.merge(b)
    expected = orf.moving_average_merge_ref(ra, 3, rb, 5)
    np.testing.assert_allclose(_scalar_range(a), expected, rtol=1e-6, err_msg="(3 * m_a + 5 * m_b) / 8")
    assert a.num_batches == 8 and a.num_values == 800
    _assert_qparams_follow_range(a, "int8", False)


@pytest.mark.parametrize("method", METHODS)
def test_merge_empty_is_noop(method, rng):
    x = (rng.standard_normal(2000) * 3).astype(np.float32)
    full = _observer(method, [x[:1000], x[1000:]])
    before = full.to_bytes()
    full.merge(sq.Observer(method=method))
    assert full.to_bytes() == before, "merging an empty observer changed the state"
    empty = sq.Observer(method=method)
    empty.merge(full)
    _assert_same_state(empty, full, "empty.merge(full)", method=method)
    y = (rng.standard_normal(500) * 7).astype(np.float32)
    empty.update(y)
    full.update(y)
    _assert_same_state(empty, full, "empty.merge(full) then update", method=method)
    # Two empty observers merge into an empty one.
    e = sq.Observer(method=method).merge(sq.Observer(method=method))
    assert e.num_batches == 0
    with pytest.raises(ValueError):
        e.qparams()


@pytest.mark.parametrize(
    "other",
    [
        dict(method="percentile"),
        dict(method="entropy", dtype="uint8"),
        dict(method="entropy", symmetric=True),
        dict(method="entropy", num_bins=1024),
        dict(method="entropy", axis=0),
        dict(method="entropy", ignore_nonfinite=True),
    ],
)
def test_merge_config_mismatch(other, rng):
    x = rng.standard_normal((6, 4)).astype(np.float32)
    ob = _observer("entropy", [x])
    before = ob.to_bytes()
    o = sq.Observer(**other).update(x)
    with pytest.raises(ValueError):
        ob.merge(o)
    assert ob.to_bytes() == before, "a failed merge changed the observer"


def test_merge_parameter_mismatch(rng):
    x = rng.standard_normal(100).astype(np.float32)
    for method, a_kw, b_kw in (("percentile", dict(percentile=99.0), dict(percentile=99.9)),
                               ("moving_average", dict(averaging_constant=0.1), dict(averaging_constant=0.2)),
                               ("minmax", dict(dtype="int4"), dict(dtype="uint4"))):
        a = _observer(method, [x], **a_kw)
        with pytest.raises(ValueError):
            a.merge(_observer(method, [x], **b_kw))


@pytest.mark.parametrize("method", METHODS)
def test_merge_group_layout_mismatch(method, rng):
    a = _observer(method, [rng.standard_normal((5, 3)).astype(np.float32)], axis=1)
    b = _observer(method, [rng.standard_normal((5, 4)).astype(np.float32)], axis=1)
    before = a.to_bytes()
    with pytest.raises(ValueError) as ei:
        a.merge(b)
    if isinstance(ei.value, sq.SwiftQuantError):
        assert ei.value.status_name == "SQ_ERROR_SHAPE", ei.value.status_name
    assert a.to_bytes() == before


# ---------------------------------------------------------------------------------------------------------
# Pickle, to_bytes, multiprocessing, corrupted bytes


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("method", METHODS)
def test_pickle_and_bytes_round_trip(method, symmetric, rng):
    kw = dict(dtype="int4", symmetric=symmetric, axis=-1, num_bins=300, percentile=99.0, averaging_constant=0.25,
              ignore_nonfinite=True)
    b1 = (rng.standard_normal((50, 3)) * [1, 10, 0.1]).astype(np.float32)
    b1[0, 0] = np.nan
    ob = _observer(method, [b1, b1 * 2], **kw)
    data = ob.to_bytes()
    assert isinstance(data, bytes) and len(data) > 0
    for clone in (pickle.loads(pickle.dumps(ob)), sq.Observer.from_bytes(data),
                  pickle.loads(pickle.dumps(ob, protocol=pickle.HIGHEST_PROTOCOL))):
        _assert_same_state(clone, ob, "round trip", method=method)
        assert clone.to_bytes() == data
        assert clone.nonfinite_count == 2
        assert clone.state_bytes == ob.state_bytes
        # The clone keeps its configuration and continues exactly like the original.
        b2 = (rng.standard_normal((20, 3)) * 30).astype(np.float32)
        b2[3, 1] = -np.inf
        clone.update(b2)
        twin = _observer(method, [b1, b1 * 2, b2], **kw)
        _assert_same_state(clone, twin, "round trip then update", method=method)
        assert clone.qparams().dtype == "int4" and clone.qparams().axis == 1


def test_bytes_round_trip_empty_observer():
    ob = sq.Observer(method="mse", num_bins=64)
    clone = sq.Observer.from_bytes(ob.to_bytes())
    assert clone.num_batches == 0
    with pytest.raises(ValueError):
        clone.qparams()
    x = np.linspace(-1, 2, 101, dtype=np.float32)
    _assert_same_state(clone.update(x), ob.update(x), "empty round trip then update")


def _calibrate_shard(args):
    """Worker: an observer over one shard, returned pickled (it travels back through the Pool)."""
    kw, shard, nbatches = args
    ob = sq.Observer(**_used(kw["method"], kw))
    for b in np.array_split(shard, nbatches):
        ob.update(b)
    return ob


def test_multiprocessing_shards_merge(rng):
    x = np.array(_data("laplace", n=60_000))
    x[::7] *= 5
    shards = np.array_split(x, 4)
    configs = [_used(m, dict(method=m, symmetric=s, num_bins=512)) for m in EXACT_MERGE_METHODS for s in (False, True)]
    jobs = [(kw, shard, 3) for kw in configs for shard in shards]
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold native threads
    with ctx.Pool(2) as pool:
        results = pool.map(_calibrate_shard, jobs)
    for i, kw in enumerate(configs):
        parts = results[i * len(shards):(i + 1) * len(shards)]
        merged = parts[0]
        for part in parts[1:]:
            merged.merge(part)
        single = _calibrate_shard((kw, x, 12))
        _assert_same_state(merged, single, "workers + merge vs one process", **kw)
        assert merged.num_batches == 12


def test_corrupted_bytes_raise(rng):
    ob = _observer("entropy", [rng.standard_normal(1000).astype(np.float32)], num_bins=64)
    data = ob.to_bytes()
    cuts = sorted({0, 1, 2, 3, 4, 7, 8, 12, 16, 24, 32, 48, 64, len(data) // 3, len(data) // 2, len(data) - 8,
                   len(data) - 1} & set(range(len(data))))
    for n in cuts:
        with pytest.raises(sq.SwiftQuantError) as ei:
            sq.Observer.from_bytes(data[:n])
        assert ei.value.status_name == "SQ_ERROR_INVALID_ARGUMENT", (n, ei.value.status_name)
    for junk in (b"\x00" * len(data), b"\xff" * len(data), bytes(rng.integers(0, 256, len(data), dtype=np.uint8)),
                 b"not an observer", pickle.dumps(np.arange(10))):
        with pytest.raises(sq.SwiftQuantError) as ei:
            sq.Observer.from_bytes(junk)
        assert ei.value.status_name == "SQ_ERROR_INVALID_ARGUMENT"


_FUZZ_SCRIPT = r"""
import sys, numpy as np, swiftquant as sq
rng = np.random.default_rng(7)
outcomes = {"error": 0, "ok": 0}
for method in ("minmax", "moving_average", "percentile", "entropy", "mse"):
    ob = sq.Observer(method=method, axis=0, **({"num_bins": 32} if method in ("percentile", "entropy", "entropy_ort", "mse") else {}))
    ob.update(rng.standard_normal((3, 200)).astype(np.float32))
    data = bytearray(ob.to_bytes())
    positions = list(range(min(len(data), 96))) + list(rng.integers(0, len(data), 100))
    for pos in positions:
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(data)
            bad[pos] ^= flip
            try:
                clone = sq.Observer.from_bytes(bytes(bad))
            except sq.SwiftQuantError:
                outcomes["error"] += 1
                continue
            # Accepted: it must behave as a valid observer (usable parameters or a clean error).
            outcomes["ok"] += 1
            try:
                p = clone.qparams()
                s = np.asarray(p.scale)
                assert np.isfinite(s).all() and (s > 0).all(), (method, pos, flip, s)
                clone.update(rng.standard_normal((3, 10)).astype(np.float32))
                clone.qparams()
                clone.to_bytes()
            except ValueError:  # SwiftQuantError, or the wrapper's "no data yet" for an observer with no batch
                pass
print(outcomes)
"""


def test_corrupted_bytes_never_crash():
    # Single-byte corruption anywhere in the header and at random places: a clean SwiftQuantError or a valid
    # observer, never a crash. Run in a child process so a crash is a test failure, not a dead test run.
    proc = subprocess.run([sys.executable, "-c", _FUZZ_SCRIPT], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))
    assert proc.returncode == 0, f"child exited with {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"


# ---------------------------------------------------------------------------------------------------------
# Bounded state


@pytest.mark.parametrize("axis", [None, 1])
@pytest.mark.parametrize("method", METHODS)
def test_state_is_bounded(method, axis, rng):
    kw = _used(method, dict(method=method, axis=axis, num_bins=256))
    ob = sq.Observer(**kw)
    ob.update(rng.standard_normal((10, 4)).astype(np.float32))
    # Histogram methods store only the 64-bin blocks of their 8 x 256 streaming bins that hold a value, each
    # at the count width it needs (so state_bytes and the serialized size vary with the data), but never more
    # than the worst case: per group 8 bytes of range, plus 4 (exponent) + 16 (storage) + 8 bytes x 2048 bins
    # + 4 bytes x 32 blocks (directory); serialized: 4 (block count) + 4 per block + 8 per bin.
    hist = method not in ("minmax", "moving_average_minmax")
    bound = 4 * (8 + (4 + 16 + 8 * 2048 + 4 * 32 if hist else 0))
    header = len(sq.Observer(**kw).to_bytes()) + 8 * 2  # no batch yet; then the shape's two dimensions
    ser_bound = header + 4 * (8 + (4 + 4 + 4 * 32 + 8 * 2048 if hist else 0))
    size1, bytes1 = ob.state_bytes, len(ob.to_bytes())
    assert 0 < size1 <= bound and bytes1 <= ser_bound
    seen = [rng.standard_normal((10, 4)).astype(np.float32)]
    ob = sq.Observer(**kw).update(seen[0])
    for k in range(99):
        seen.append((rng.standard_normal((int(rng.integers(1, 200)), 4)) * (k + 1)).astype(np.float32))
        ob.update(seen[-1])
        assert 0 < ob.state_bytes <= bound, "state exceeds its bound"
    assert ob.num_batches == 100
    assert len(ob.to_bytes()) <= ser_bound and (hist or len(ob.to_bytes()) == bytes1)
    for mag in (1e6, 1e-6, 1e30):  # ranges that widen (and a batch of tiny values) by many powers of two
        seen.append((rng.standard_normal((50, 4)) * mag).astype(np.float32))
        ob.update(seen[-1])
        assert 0 < ob.state_bytes <= bound, "state exceeds its bound after the range widened"
    assert len(ob.to_bytes()) <= ser_bound and (hist or len(ob.to_bytes()) == bytes1)
    # The state is a function of the data, not of its batching: one batch of it all gives the same state.
    once = sq.Observer(**kw).update(np.concatenate(seen)) if axis is not None else None
    if once is not None:
        assert once.state_bytes == ob.state_bytes and len(once.to_bytes()) == len(ob.to_bytes())
    big = _observer(method, [rng.standard_normal((50_000, 4)).astype(np.float32)], axis=axis, num_bins=256)
    assert 0 < big.state_bytes <= bound and len(big.to_bytes()) <= ser_bound


# ---------------------------------------------------------------------------------------------------------
# Per channel = per tensor, channel by channel


@pytest.mark.parametrize("axis", [0, 1, -1, 2])
@pytest.mark.parametrize("method", METHODS)
def test_per_channel_equals_per_tensor(method, axis, rng):
    shape = (3, 4, 5)
    nax = axis % 3
    scales = np.array([0.01, 1.0, 7.0, 300.0, 2.0 ** -20])[: shape[nax]]
    view = [1, 1, 1]
    view[nax] = shape[nax]
    batches = []
    for k in range(4):
        bshape = [int(rng.integers(20, 60)), int(rng.integers(20, 60)), int(rng.integers(20, 60))]
        bshape[nax] = shape[nax]
        b = rng.laplace(size=bshape) * scales.reshape(view) + 0.1 * k * scales.reshape(view)
        batches.append(b.astype(np.float32))
    kw = dict(symmetric=False, dtype="uint8", num_bins=128, percentile=99.0, averaging_constant=0.3)
    ob = _observer(method, batches, axis=axis, **kw)
    p = ob.qparams()
    assert p.axis == nax and np.asarray(p.scale).shape == (shape[nax],)
    lo, hi = _range(ob)
    for c in range(shape[nax]):
        single = _observer(method, [np.take(b, c, axis=nax) for b in batches], **kw)
        slo, shi = _scalar_range(single)
        ctx = dict(method=method, axis=axis, channel=c)
        assert (float(lo[c]), float(hi[c])) == (slo, shi), (ctx, (float(lo[c]), float(hi[c])), (slo, shi))
        sp = single.qparams()
        assert float(np.asarray(p.scale)[c]) == float(sp.scale) and int(np.asarray(p.zero_point)[c]) == int(sp.zero_point), \
            (ctx, p, sp)
    assert ob.num_values == sum(b.size for b in batches)


def test_per_channel_batches_may_differ_off_axis(rng):
    ob = sq.Observer(method="entropy", axis=1)
    ob.update(rng.standard_normal((7, 3)).astype(np.float32))
    ob.update(rng.standard_normal((1, 3)).astype(np.float32))
    ob.update(rng.standard_normal((100, 3)).astype(np.float32))
    assert np.asarray(ob.qparams().scale).shape == (3,)


# ---------------------------------------------------------------------------------------------------------
# Non-finite values


def _bad_batch(rng, n_nonfinite=7, n=300):
    b = rng.standard_normal(n).astype(np.float32) * 50  # would widen the range if it were accepted
    pos = rng.choice(n, n_nonfinite, replace=False)
    b[pos] = np.array([np.nan, np.inf, -np.inf] * n_nonfinite, np.float32)[:n_nonfinite]
    return b


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("method", METHODS)
def test_nonfinite_is_error_and_leaves_observer_unchanged(method, symmetric, rng):
    ob = _observer(method, [rng.standard_normal(500).astype(np.float32) for _ in range(2)], symmetric=symmetric)
    before_bytes = ob.to_bytes()
    before_p = ob.qparams()
    before_range = _range(ob)
    for bad in (_bad_batch(rng, 7), np.array([np.nan], np.float32), np.array([1.0, -np.inf], np.float32)):
        n_bad = int((~np.isfinite(bad)).sum())
        with pytest.raises(sq.SwiftQuantError) as ei:
            ob.update(bad)
        assert ei.value.status_name == "SQ_ERROR_NONFINITE", ei.value.status_name
        assert f"{n_bad}" in str(ei.value).replace(",", ""), f"message should give the count {n_bad}: {ei.value}"
        assert ob.to_bytes() == before_bytes, "a failed update changed the observer"
        _assert_same_qparams(ob.qparams(), before_p, "after failed update", method=method)
        assert_same(_range(ob)[0], before_range[0], "range min after failed update")
        assert_same(_range(ob)[1], before_range[1], "range max after failed update")
        assert (ob.num_batches, ob.num_values, ob.nonfinite_count) == (2, 1000, 0)
    # A fresh observer stays empty after a failed first batch.
    fresh = sq.Observer(method=method)
    with pytest.raises(sq.SwiftQuantError):
        fresh.update(_bad_batch(rng, 3))
    assert fresh.num_batches == 0
    with pytest.raises(ValueError):
        fresh.qparams()


@pytest.mark.parametrize("method", METHODS)
def test_nonfinite_message_count(method, rng):
    ob = sq.Observer(method=method)
    with pytest.raises(sq.SwiftQuantError, match=r"\b13\b"):
        ob.update(_bad_batch(rng, 13, n=1000))
    with pytest.raises(sq.SwiftQuantError, match=r"\b1\b"):
        ob.update(np.array([0.5, np.inf, 2.0], np.float32))


@pytest.mark.parametrize("axis", [None, 0])
@pytest.mark.parametrize("method", METHODS)
def test_ignore_nonfinite_skips_and_counts(method, axis, rng):
    batches = [(rng.standard_normal((2, 400)) * 3).astype(np.float32) for _ in range(3)]
    dirty = []
    n_bad = 0
    for i, b in enumerate(batches):
        d = b.copy()
        idx = rng.choice(d.size, 5 + i, replace=False)
        d.ravel()[idx] = np.array([np.nan, np.inf, -np.inf] * 4, np.float32)[: idx.size]
        n_bad += idx.size
        dirty.append(d)
    ob = _observer(method, dirty, axis=axis, ignore_nonfinite=True)
    assert ob.nonfinite_count == n_bad
    assert ob.num_values == sum(b.size for b in batches) - n_bad
    assert ob.num_batches == 3
    # Same as an observer that never saw the non-finite values (per tensor: the finite values, flattened;
    # per axis: each channel's finite values).
    if axis is None:
        clean = _observer(method, [d[np.isfinite(d)] for d in dirty])
        _assert_same_qparams(ob.qparams(), clean.qparams(), "skipping vs clean data", method=method)
        assert_same(_range(ob)[0], _range(clean)[0], "range min, skipping vs clean")
        assert_same(_range(ob)[1], _range(clean)[1], "range max, skipping vs clean")
    else:
        for c in range(2):
            clean = _observer(method, [d[c][np.isfinite(d[c])] for d in dirty])
            assert float(np.asarray(ob.qparams().scale)[c]) == float(clean.qparams().scale), (method, c)
            assert int(np.asarray(ob.qparams().zero_point)[c]) == int(clean.qparams().zero_point), (method, c)


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("method", METHODS)
def test_no_finite_value_gives_unit_scale(method, symmetric):
    ob = _observer(method, [np.array([np.nan, np.inf, -np.inf], np.float32)], symmetric=symmetric,
                   dtype="uint8", ignore_nonfinite=True)
    assert ob.nonfinite_count == 3 and ob.num_values == 0
    es, ez = ref.qparams_from_range_ref(np.float32(np.inf), np.float32(-np.inf), "uint8", symmetric)
    p = ob.qparams()
    assert float(p.scale) == 1.0 == float(es) and int(p.zero_point) == int(ez)


@pytest.mark.parametrize("data", [np.zeros(100, np.float32), np.full(100, 3.5, np.float32),
                                  np.full(10, -2.0, np.float32)], ids=["zeros", "const+", "const-"])
@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("method", METHODS)
def test_degenerate_data(method, symmetric, data):
    ob = _observer(method, [data, data], symmetric=symmetric, dtype="int8")
    p = _assert_qparams_follow_range(ob, "int8", symmetric, method=method)
    s = float(p.scale)
    assert np.isfinite(s) and s >= float(ref.FLT_MIN)
    lo, hi = _scalar_range(ob)
    v = float(data[0])
    a = abs(v)
    # min/max and the moving average report the data's range; the others a symmetric one when symmetric.
    expected = (-a, a) if symmetric and method in HIST_METHODS else (v, v)
    # Histogram methods are exact to one bin (of width a / num_bins; MSE's model may clip the single occupied
    # bin to its lower edge, whose centre then lies outside the range by half a bin, cheaper than S^2/12).
    tol = 0.0 if method in ("minmax", "moving_average") else a / 2048 * 1.001
    _within(lo, expected[0], tol, "range min", method=method, data=v)
    _within(hi, expected[1], tol, "range max", method=method, data=v)


# ---------------------------------------------------------------------------------------------------------
# Every dtype


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", METHODS)
def test_every_dtype_gives_valid_qparams(method, dtype, symmetric):
    x = _data("gauss_outliers", n=20_000)
    ob = _observer(method, np.split(x, 4), dtype=dtype, symmetric=symmetric, num_bins=512)
    p = _assert_qparams_follow_range(ob, dtype, symmetric, method=method, dtype=dtype)
    s, z = float(p.scale), int(p.zero_point)
    qmin, qmax = ref.DTYPE_RANGES[dtype]
    assert np.isfinite(s) and s >= float(ref.FLT_MIN), s
    assert qmin <= z <= qmax, z
    assert p.dtype == dtype
    lo, hi = _scalar_range(ob)
    assert lo <= hi
    if method != "moving_average":  # an average of batch extremes lies inside the data anyway
        amax = float(np.abs(x).max())
        assert -amax * (1 + 1e-6) <= lo and hi <= amax * (1 + 1e-6), (lo, hi, amax)
    # The parameters quantize the data (saturating), and zero is exact.
    q = sq.quantize(x, p)
    assert sq.dequantize(sq.quantize(np.zeros(1, np.float32), p), p)[0] == 0.0
    assert q.dtype == p.numpy_dtype


def test_entropy_ort_ignores_the_dtype():
    # ONNX Runtime merges into num_quantized_bins = 128 (its default) whatever the target dtype, and its
    # range does not depend on it: the same range for every dtype, int16 included.
    x = _data("gauss_outliers", n=30_000)
    ranges = {d: _scalar_range(_observer("entropy_ort", [x], dtype=d, symmetric=False, num_bins=512)) for d in DTYPES}
    assert len(set(ranges.values())) == 1, ranges
    amax = float(np.abs(x).max())
    assert ranges["int8"][1] < amax  # it does clip these outliers


# ---------------------------------------------------------------------------------------------------------
# calibrate(method=...) is a one-batch observer


@pytest.mark.parametrize("method", METHODS)
def test_calibrate_equals_one_batch_observer(method, rng):
    x = (rng.standard_normal((30, 8)) * rng.uniform(0.1, 9, 8)).astype(np.float32)
    for kw in (dict(), dict(symmetric=True, dtype="uint8"), dict(axis=1, num_bins=128), dict(axis=0, percentile=97.0),
               dict(dtype="int4", num_bins=16, percentile=100.0)):
        p = sq.calibrate(x, method=method, **_used(method, kw))
        _assert_same_qparams(p, _observer(method, [x], **kw).qparams(), "calibrate vs observer", method=method, **kw)
    y = x.copy()
    y[0, 0] = np.nan
    with pytest.raises(sq.SwiftQuantError):
        sq.calibrate(y, method=method)
    p = sq.calibrate(y, method=method, ignore_nonfinite=True)
    _assert_same_qparams(p, _observer(method, [y], ignore_nonfinite=True).qparams(), "calibrate ignore_nonfinite")


# ---------------------------------------------------------------------------------------------------------
# Bad arguments


def test_bad_arguments():
    x = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="(?i)method"):
        sq.Observer(method="kl")
    with pytest.raises(ValueError, match="(?i)method"):
        sq.calibrate(x, method="histogram")
    for method in HIST_METHODS + ("moving_average",):
        with pytest.raises(ValueError, match="(?i)block"):
            sq.Observer(method=method, axis=1, block_size=2)
        with pytest.raises(ValueError, match="(?i)block"):
            sq.calibrate(x, method=method, axis=1, block_size=2)
    sq.Observer(method="minmax", axis=1, block_size=2).update(x)  # per block is fine for minmax
    for method in HIST_METHODS:
        for nb in (15, 65537, 0, -1, 1):
            with pytest.raises(ValueError, match="(?i)bins"):
                sq.Observer(method=method, num_bins=nb)
        for nb in (16, 65536):
            sq.Observer(method=method, num_bins=nb).update(x)
    for p in (0.0, -1.0, 100.0001, 101.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="(?i)percentile"):
            sq.Observer(method="percentile", percentile=p)
        with pytest.raises(ValueError, match="(?i)percentile"):
            sq.calibrate(x, method="percentile", percentile=p)
    for p in (100.0, 1e-6, 50):
        sq.Observer(method="percentile", percentile=p).update(x)
    for c in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="(?i)averaging"):
            sq.Observer(method="moving_average", averaging_constant=c)
    for method in METHODS:
        with pytest.raises(ValueError):
            sq.Observer(method=method).qparams()
        with pytest.raises(ValueError):
            sq.Observer(method=method).range()
        ob = sq.Observer(method=method, axis=1).update(x)
        before = ob.to_bytes()
        with pytest.raises(ValueError) as ei:
            ob.update(np.ones((4, 5), np.float32))  # a different length along the axis
        if isinstance(ei.value, sq.SwiftQuantError):
            assert ei.value.status_name == "SQ_ERROR_SHAPE"
        with pytest.raises(ValueError):
            ob.update(np.ones((2, 3, 1), np.float32))  # a different ndim
        with pytest.raises(ValueError, match="(?i)axis"):
            sq.Observer(method=method, axis=2).update(x)  # axis out of range
        assert ob.to_bytes() == before
        assert ob.num_batches == 1


@pytest.mark.parametrize("symmetric", [False, True], ids=["asym", "sym"])
@pytest.mark.parametrize("method", METHODS)
def test_extreme_magnitudes(method, symmetric):
    # Subnormal values first (the histogram's power-of-two range starts below 2^-126), then the range grows
    # up to FLT_MAX (the next power of two, 2^128, is not a float32): streaming equals one batch, and the
    # parameters are valid.
    big = float(np.finfo(np.float32).max)
    batches = [np.array([1e-40, -3e-41, 0.0], np.float32), np.array([1e-20, -5e-21], np.float32),
               np.array([1.0, -0.5, 0.25], np.float32), np.array([big, -big / 3, 7.0], np.float32)]
    x = np.concatenate(batches)
    many = _observer(method, batches, symmetric=symmetric, num_bins=64)
    p = _assert_qparams_follow_range(many, "int8", symmetric, method=method)
    s = float(p.scale)
    assert np.isfinite(s) and s >= float(ref.FLT_MIN), s
    if method != "moving_average":
        _assert_same_qparams(p, _observer(method, [x], symmetric=symmetric, num_bins=64).qparams(),
                             "4 batches vs 1 at extreme magnitudes", method=method)
    # Subnormal data alone: a degenerate (subnormal) scale becomes 1.0.
    tiny = _observer(method, [np.array([1e-40, -2e-40, 0.0], np.float32)], symmetric=symmetric, num_bins=64)
    p = _assert_qparams_follow_range(tiny, "int8", symmetric, method=method)
    assert float(p.scale) == 1.0


def _student_t_with_outliers(rng, shape):
    x = rng.standard_t(3, size=shape)
    x[rng.random(shape) < 1e-4] *= 50
    return x


@pytest.mark.parametrize("data", ["normal", "laplace", "student_t"])
@pytest.mark.parametrize("method", ["percentile", "entropy", "mse"])
def test_state_per_channel_is_under_16_kb(method, data):
    # 16 channels x 300,000 values at the default num_bins (2048): 16,384 streaming bins over [-R, R), R the
    # power of two above max|x|, stored in 256 blocks of 64 (a 1 KB directory). N(0, 1): max|x| ~ 5, R = 8,
    # peak count ~ 300,000 x (2R / 16,384) x 0.4 ~ 117, so one byte per bin over the ~ 10,000 bins that
    # hold values. Laplace: max|x| ~ 12, R = 16, bins 2^-9 wide; the 2 or 3 central blocks with counts over
    # 255 take two bytes, the sparse tails only the blocks with a value. The outliers of Student-t widen R,
    # so fewer, fuller bins. Dense storage would be 131 KB per channel.
    rng = np.random.default_rng(1234)
    gen = {"normal": lambda s: rng.standard_normal(s), "laplace": lambda s: rng.laplace(size=s),
           "student_t": lambda s: _student_t_with_outliers(rng, s)}[data]
    ob = sq.Observer(method, axis=1)
    for _ in range(15):
        ob.update(gen((20_000, 16)).astype(np.float32))
    assert ob.num_values == 16 * 300_000
    assert ob.state_bytes / 16 <= 16 * 1024
    assert ob.state_bytes / 16 > 2048  # the blocks really are stored (a count per bin of a held block)
    assert len(ob.to_bytes()) / 16 <= 16 * 1024  # and serialized as stored
