"""Codebook (non-uniform) quantization: fit_codebook against an independent NumPy Lloyd iteration written
here (argmin of distances, np.mean per cluster) and, for the default optimal start, against the least squared
error found by an exhaustive NumPy dynamic programme over every contiguous partition, codebook_quantize against argmin |x - level| with ties to
the lower index, the MSE of 4-bit Lloyd-Max against 4-bit uniform quantization, log2 levels, and errors
(Python and the raw C ABI's pinned status codes)."""
import ctypes
import pickle
from ctypes import c_double, c_int32, c_int64, c_void_p

import numpy as np
import pytest

import swiftquant as sq
from swiftquant import _native

# ---------------------------------------------------------------------------------------------------------
# Independent references


def ref_lloyd(x, L, max_iter=100):
    """Lloyd-Max in float64: quantile init, argmin assignment (ties to lower), means, stop on no change."""
    s = np.sort(np.asarray(x, dtype=np.float64).ravel())
    n = s.size
    if n == 0:
        return np.zeros(L)
    pos = (np.arange(L) + 0.5) / L * (n - 1)
    lo = np.minimum(np.floor(pos).astype(np.int64), n - 1)
    hi = np.minimum(lo + 1, n - 1)
    c = s[lo] + (pos - lo) * (s[hi] - s[lo])
    prev = None
    for _ in range(max_iter):
        assign = np.argmin(np.abs(s[:, None] - c[None, :]), axis=1)
        if prev is not None and np.array_equal(assign, prev):
            break
        prev = assign
        new = c.copy()
        for j in range(L):
            members = s[assign == j]
            if members.size:
                new[j] = members.mean()
        moved = np.max(np.abs(new - c))
        c = new
        if moved <= 0:
            break
    return np.sort(c)


def ref_best_sse(x, L):
    """Least squared error of any partition of sorted x into at most L contiguous clusters: O(L n^2) dynamic
    programme over all split points (vectorised over the split), float64."""
    s = np.sort(np.asarray(x, dtype=np.float64).ravel())
    s = s - s.mean()
    n = s.size
    p1 = np.concatenate([[0.0], np.cumsum(s)])
    p2 = np.concatenate([[0.0], np.cumsum(s * s)])
    i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = (p2[j] - p2[i]) - (p1[j] - p1[i]) ** 2 / (j - i)  # cost[i, j]: SSE of s[i:j]
    cost = np.where(j > i, np.maximum(cost, 0.0), np.inf)
    best = cost[0].copy()  # one cluster over s[:j]
    for _ in range(L - 1):
        best = np.minimum(best, np.min(best[:, None] + cost, axis=0))
    return float(best[n])


def sse_of(x, levels):
    x64 = np.asarray(x, dtype=np.float64).ravel()
    return float(np.sum(np.min((x64[:, None] - np.asarray(levels, np.float64)[None, :]) ** 2, axis=1)))


def ref_quantize(x, levels):
    """argmin |x - level| in float64; np.argmin takes the first (lower) index on ties."""
    x64 = np.asarray(x, dtype=np.float64)[..., None]
    lv = np.asarray(levels, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        d = np.abs(x64 - lv)
    d[np.isinf(x64[..., 0]) & (x64[..., 0] > 0), :-1] = np.inf  # +inf -> last, -inf -> first
    d[np.isinf(x64[..., 0]) & (x64[..., 0] > 0), -1] = 0
    d[np.isinf(x64[..., 0]) & (x64[..., 0] < 0), 1:] = np.inf
    d[np.isinf(x64[..., 0]) & (x64[..., 0] < 0), 0] = 0
    return np.argmin(d, axis=-1).astype(np.uint8)


def data(kind, n, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return rng.normal(size=n).astype(np.float32)
    if kind == "laplace":
        return rng.laplace(size=n).astype(np.float32)
    return rng.uniform(-1, 1, size=n).astype(np.float32)


def assert_levels_close(got, expected, x, what=""):
    scale = max(float(np.max(np.abs(x))), 1e-30)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * scale, err_msg=what)


# ---------------------------------------------------------------------------------------------------------
# Fitting


@pytest.mark.parametrize("kind", ["gaussian", "laplace", "uniform"])
@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_lloyd_quantile_matches_numpy_reference(kind, bits):
    x = data(kind, 3000, seed=bits)
    cb = sq.fit_codebook(x, bits=bits, kind="lloyd_quantile")
    assert cb.levels.shape == (2 ** bits,) and cb.levels.dtype == np.float32
    assert cb.bits == bits and cb.kind == "lloyd_quantile" and cb.axis is None
    assert np.all(np.diff(cb.levels) >= 0)
    assert_levels_close(cb.levels, ref_lloyd(x, 2 ** bits), x, f"{kind} bits={bits}")


@pytest.mark.parametrize("max_iter", [0, 1, 2, 5])
def test_lloyd_max_iter_matches_reference(max_iter):
    x = data("laplace", 2000, seed=7)
    cb = sq.fit_codebook(x, bits=3, kind="lloyd_quantile", max_iter=max_iter)
    assert_levels_close(cb.levels, ref_lloyd(x, 8, max_iter=max_iter), x, f"max_iter={max_iter}")


@pytest.mark.parametrize("kind", ["gaussian", "laplace", "uniform", "mixture"])
@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_lloyd_reaches_the_least_squared_error(kind, bits):
    # 600 values: fewer distinct values than the atom budget, so the start is the exact optimum.
    if kind == "mixture":  # two scales: the case where quantile starts stop in poor local optima
        rng = np.random.default_rng(bits)
        x = (rng.laplace(size=600) * np.where(rng.random(600) < 0.05, 20, 1)).astype(np.float32)
    else:
        x = data(kind, 600, seed=bits)
    best = ref_best_sse(x, 2 ** bits)
    for max_iter in (0, 100):
        cb = sq.fit_codebook(x, bits=bits, max_iter=max_iter)
        assert cb.kind == "lloyd" and np.all(np.diff(cb.levels) >= 0)
        assert sse_of(x, cb.levels) == pytest.approx(best, rel=1e-6), f"max_iter={max_iter}"
    assert sse_of(x, ref_lloyd(x, 2 ** bits)) >= best * (1 - 1e-9)  # the reference cannot beat the optimum


@pytest.mark.parametrize("bits", [4, 8])
def test_lloyd_on_large_data_is_a_fixed_point_no_worse_than_quantile_start(bits):
    # 100k distinct values: the start is optimal over atoms only, then Lloyd refines it on the data.
    rng = np.random.default_rng(5)
    x = (rng.laplace(size=100_000) * np.where(rng.random(100_000) < 0.01, 10, 1)).astype(np.float32)
    cb = sq.fit_codebook(x, bits=bits)
    quantile = sq.fit_codebook(x, bits=bits, kind="lloyd_quantile")
    e, eq = sse_of(x, cb.levels), sse_of(x, quantile.levels)
    assert e <= eq * (1 + 1e-6)
    if bits == 8:
        assert e < 0.5 * eq  # 100 Lloyd steps from quantiles are far from converged at 256 levels
    # Converged: every level is the mean of the values nearest to it (up to float32 rounding of the levels).
    idx = ref_quantize(x, cb.levels)
    x64 = x.astype(np.float64)
    for j in np.unique(idx):
        assert cb.levels[j] == pytest.approx(x64[idx == j].mean(), rel=1e-6, abs=1e-6 * np.abs(x64).max())


def test_per_channel_lloyd_never_worse_than_the_shared_codebook():
    # Channels of very different scales: each channel's own optimal codebook beats the per-tensor one there.
    rng = np.random.default_rng(0)
    w = (rng.laplace(size=(256, 64)) * np.exp(rng.uniform(-2, 1, 64))).astype(np.float32)
    own = sq.fit_codebook(w, bits=4, axis=1)
    shared = sq.fit_codebook(w, bits=4)
    for c in range(w.shape[1]):
        assert sse_of(w[:, c], own.levels[c]) <= sse_of(w[:, c], shared.levels) * (1 + 1e-6), f"channel {c}"


def test_lloyd_max_iter_zero_is_quantiles():
    x = data("gaussian", 1001, seed=3)
    cb = sq.fit_codebook(x, bits=2, kind="lloyd_quantile", max_iter=0)
    expected = np.quantile(x.astype(np.float64), (np.arange(4) + 0.5) / 4)
    assert_levels_close(cb.levels, expected, x)


def test_lloyd_two_clusters_exact():
    x = np.array([-1.0, -1.0, -1.0, 5.0, 5.0, 6.0, 7.0], np.float32)
    cb = sq.fit_codebook(x, bits=1)
    np.testing.assert_array_equal(cb.levels, np.array([-1.0, 5.75], np.float32))  # mean of 5, 5, 6, 7


def test_lloyd_few_distinct_values_keeps_empty_clusters():
    x = np.array([2.0] * 10 + [3.0] * 10, np.float32)
    cb = sq.fit_codebook(x, bits=3)
    assert set(np.unique(cb.levels)) <= {2.0, 3.0}
    np.testing.assert_array_equal(sq.codebook_dequantize(sq.codebook_quantize(x, cb), cb), x)
    # Fewer distinct values than levels: one level per value, the largest repeated (documented).
    np.testing.assert_array_equal(cb.levels, np.array([2.0] + [3.0] * 7, np.float32))
    q = sq.fit_codebook(x, bits=3, kind="lloyd_quantile")
    assert_levels_close(q.levels, ref_lloyd(x, 8), x)


def test_per_channel_equals_per_tensor_channel_by_channel():
    rng = np.random.default_rng(11)
    x = (rng.normal(size=(40, 5, 30)) * np.arange(1, 6)[None, :, None]).astype(np.float32)
    for axis in (0, 1, 2, -1):
        for kind in sq.CODEBOOK_KINDS:
            cb = sq.fit_codebook(x, bits=3, axis=axis, kind=kind)
            ax = axis % 3
            assert cb.levels.shape == (x.shape[ax], 8) and cb.axis == ax
            for i in range(x.shape[ax]):
                one = sq.fit_codebook(np.take(x, i, axis=ax), bits=3, kind=kind)
                np.testing.assert_array_equal(cb.levels[i], one.levels, err_msg=f"axis {axis} channel {i}")
            idx = sq.codebook_quantize(x, cb)
            for i in range(x.shape[ax]):
                xi = np.take(x, i, axis=ax)
                np.testing.assert_array_equal(np.take(idx, i, axis=ax), ref_quantize(xi, cb.levels[i]))
            back = sq.codebook_dequantize(idx, cb)
            for i in range(x.shape[ax]):
                np.testing.assert_array_equal(np.take(back, i, axis=ax), cb.levels[i][np.take(idx, i, axis=ax)])


def test_empty_and_constant_data():
    cb = sq.fit_codebook(np.zeros((0,), np.float32), bits=2)
    np.testing.assert_array_equal(cb.levels, np.zeros(4, np.float32))
    cb = sq.fit_codebook(np.full(10, 3.5, np.float32), bits=2)
    np.testing.assert_array_equal(cb.levels, np.full(4, 3.5, np.float32))
    np.testing.assert_array_equal(sq.codebook_quantize(np.full(10, 3.5), cb), np.zeros(10, np.uint8))
    cb = sq.fit_codebook(np.zeros(10), bits=2, kind="log2")
    np.testing.assert_array_equal(cb.levels, np.zeros(4, np.float32))


# ---------------------------------------------------------------------------------------------------------
# Quantize / dequantize


def test_quantize_matches_argmin_random():
    x = data("gaussian", 20000, seed=5) * 3
    cb = sq.fit_codebook(data("gaussian", 5000, seed=6), bits=4)
    idx = sq.codebook_quantize(x, cb)
    assert idx.dtype == np.uint8 and idx.shape == x.shape
    np.testing.assert_array_equal(idx, ref_quantize(x, cb.levels))


def test_quantize_large_tensor_chunked_path():
    # More than 65536 elements with one codebook: the native call splits the work into chunks on the pool.
    x = data("laplace", 300_000, seed=12) * 2
    cb = sq.fit_codebook(x[:5000], bits=4)  # 15 midpoints: the branch-free count
    np.testing.assert_array_equal(sq.codebook_quantize(x, cb), ref_quantize(x, cb.levels))
    cb = sq.fit_codebook(x[:5000], bits=8)  # 255 midpoints: the binary search
    lv = cb.levels.astype(np.float64)
    assert np.all(np.diff(lv) > 0)  # distinct levels: the nearest level is the count of midpoints below x
    expected = np.searchsorted((lv[1:] + lv[:-1]) / 2, x.astype(np.float64), side="left").astype(np.uint8)
    np.testing.assert_array_equal(sq.codebook_quantize(x, cb), expected)
    np.testing.assert_array_equal(sq.codebook_quantize(x[:3000], cb), ref_quantize(x[:3000], cb.levels))
    x[[250_001, 299_999]] = np.nan
    with pytest.raises(sq.SwiftQuantError, match="flat index 250001"):
        sq.codebook_quantize(x, cb)


def test_quantize_ties_go_to_lower_index():
    cb = sq.Codebook([0.0, 1.0, 2.0, 4.0, 4.0, 8.0])
    x = np.array([-5, 0, 0.5, 1, 1.5, 2, 3, 4, 6, 7, 100, np.inf, -np.inf, np.nextafter(np.float32(0.5), 1)],
                 np.float32)
    idx = sq.codebook_quantize(x, cb)
    #             -5 0 .5 1 1.5 2 3 4 6 7 100 inf -inf 0.5+
    np.testing.assert_array_equal(idx, np.array([0, 0, 0, 1, 1, 2, 2, 3, 3, 5, 5, 5, 0, 1], np.uint8))
    np.testing.assert_array_equal(idx, ref_quantize(x, cb.levels))


def test_roundtrip_shapes_and_scalar():
    cb = sq.fit_codebook(data("laplace", 500), bits=4)
    x = data("laplace", 60, seed=9).reshape(3, 4, 5)
    idx = sq.codebook_quantize(x, cb)
    np.testing.assert_array_equal(sq.codebook_dequantize(idx, cb), cb.levels[idx])
    assert sq.codebook_quantize(np.float32(0.3), cb).shape == ()
    out = np.empty(x.shape, np.uint8)
    assert sq.codebook_quantize(x, cb, out=out) is out
    assert sq.codebook_quantize(np.zeros((0, 3)), cb).shape == (0, 3)


def test_codebook_pickle_repr_eq():
    cb = sq.fit_codebook(data("gaussian", 100).reshape(10, 10), bits=2, axis=1)
    cb2 = pickle.loads(pickle.dumps(cb))
    assert cb2 == cb and cb2.axis == 1 and cb2.kind == "lloyd" and cb2.bits == 2
    r = repr(cb)
    assert r.startswith("Codebook(levels=") and "axis=1" in r and "'lloyd'" in r
    assert not cb.levels.flags.writeable


# ---------------------------------------------------------------------------------------------------------
# MSE: Lloyd-Max against uniform (min/max asymmetric int4), 4 bits


def uniform_mse(x):
    p = sq.calibrate(x, dtype="int4")
    return float(np.mean((sq.dequantize(sq.quantize(x, p), p).astype(np.float64) - x) ** 2))


def lloyd_mse(x):
    cb = sq.fit_codebook(x, bits=4)
    return float(np.mean((sq.codebook_dequantize(sq.codebook_quantize(x, cb), cb).astype(np.float64) - x) ** 2))


@pytest.mark.parametrize("kind", ["gaussian", "laplace"])
def test_lloyd_beats_uniform_on_bell_shaped_data(kind):
    x = data(kind, 200_000, seed=21)
    mu, ml = uniform_mse(x), lloyd_mse(x)
    print(f"\n{kind}: 4-bit MSE uniform int4 minmax {mu:.6g}, Lloyd-Max {ml:.6g}, ratio {mu / ml:.2f}")
    assert ml < mu


def test_lloyd_close_to_uniform_on_uniform_data():
    # On U(-1, 1) the optimal 4-bit quantizer is uniform with 16 cells (levels at the cell centres, MSE
    # (2/16)^2 / 12). Min/max int4 puts its 16 levels on the ends, i.e. 15 cells (MSE (2/15)^2 / 12), so it
    # is (16/15)^2 = 1.138x worse by construction: Lloyd-Max is compared within 10% with the 16-cell uniform
    # codebook, and the min/max int4 ratio is checked against (16/15)^2.
    x = data("uniform", 200_000, seed=22)
    mu, ml = uniform_mse(x), lloyd_mse(x)
    grid = sq.Codebook(-1 + (2 * np.arange(16) + 1) / 16)
    mg = float(np.mean((sq.codebook_dequantize(sq.codebook_quantize(x, grid), grid).astype(np.float64) - x) ** 2))
    print(f"\nuniform: 4-bit MSE uniform int4 minmax {mu:.6g}, uniform 16-cell grid {mg:.6g}, Lloyd-Max {ml:.6g}, "
          f"minmax/Lloyd {mu / ml:.3f} (theory {(16 / 15) ** 2:.3f})")
    assert abs(ml - mg) <= 0.10 * mg
    assert abs(ml - (2 / 16) ** 2 / 12) <= 0.05 * ml
    assert abs(mu / ml - (16 / 15) ** 2) <= 0.03 * (16 / 15) ** 2


# ---------------------------------------------------------------------------------------------------------
# log2


@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8])
def test_log2_levels_are_powers_of_two(bits):
    x = data("gaussian", 1000, seed=bits) * 5
    cb = sq.fit_codebook(x, bits=bits, kind="log2")
    L = 2 ** bits
    lv = cb.levels.astype(np.float64)
    assert lv.shape == (L,) and np.all(np.diff(lv) >= 0)
    nz = lv[lv != 0]
    mant, _ = np.frexp(np.abs(nz))
    assert np.all(mant == 0.5), lv
    e = int(np.round(np.log2(np.max(np.abs(x.astype(np.float64))))))
    P = L // 2 - 1
    expected = ([-(2.0 ** (e - i)) for i in range(P + 1)] + [0.0]
                + [2.0 ** (e - i) for i in range(P - 1, -1, -1)])
    np.testing.assert_array_equal(lv, np.array(expected))


def test_log2_nearest_power_in_log2():
    # max|x| = 2^0.49 -> e = 0; 2^0.51 -> e = 1; 3 (log2 1.58) -> 2; 0.7 (log2 -0.51) -> -1
    for m, e in ((2 ** 0.49, 0), (2 ** 0.51, 1), (3.0, 2), (0.7, -1), (1.0, 0)):
        cb = sq.fit_codebook(np.array([0.1, -m], np.float32), bits=2, kind="log2")
        np.testing.assert_array_equal(cb.levels, np.array([-2.0 ** e, -2.0 ** (e - 1), 0, 2.0 ** e], np.float32))


# ---------------------------------------------------------------------------------------------------------
# Errors


def test_python_argument_errors():
    x = data("gaussian", 100)
    with pytest.raises(sq.SwiftQuantError, match="max_iter and tol apply only to the Lloyd kinds"):
        sq.fit_codebook(x, bits=3, kind="log2", max_iter=100, tol=0.0)
    assert sq.fit_codebook(x, bits=3, kind="lloyd", max_iter=0).num_levels == 8
    with pytest.raises(ValueError, match="bits"):
        sq.fit_codebook(x, bits=0)
    with pytest.raises(ValueError, match="bits"):
        sq.fit_codebook(x, bits=9)
    with pytest.raises(ValueError, match="kind"):
        sq.fit_codebook(x, kind="kmeans")
    with pytest.raises(ValueError, match="max_iter"):
        sq.fit_codebook(x, max_iter=-1)
    with pytest.raises(ValueError, match="tol"):
        sq.fit_codebook(x, tol=-1)
    with pytest.raises(ValueError, match="axis"):
        sq.fit_codebook(x, axis=1)
    with pytest.raises(TypeError):
        sq.fit_codebook(np.array(["a"]))
    with pytest.raises(TypeError, match="Codebook"):
        sq.codebook_quantize(x, [0.0, 1.0])
    with pytest.raises(ValueError, match="ascending"):
        sq.Codebook([1.0, 0.0])
    with pytest.raises(ValueError, match="finite"):
        sq.Codebook([0.0, np.nan])
    with pytest.raises(ValueError, match="1 .. 256"):
        sq.Codebook(np.zeros(257))
    cb = sq.fit_codebook(x.reshape(10, 10), bits=2, axis=0)
    with pytest.raises(ValueError, match="codebook"):
        sq.codebook_quantize(np.zeros((5, 10)), cb)
    with pytest.raises(ValueError, match="idx"):
        sq.codebook_dequantize(np.array([300]), sq.Codebook([0.0, 1.0]))
    with pytest.raises(TypeError):
        sq.codebook_dequantize(np.array([0.5]), sq.Codebook([0.0, 1.0]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fit_nonfinite_raises(bad):
    x = data("gaussian", 50)
    x[17] = bad
    for kind in sq.CODEBOOK_KINDS:
        with pytest.raises(sq.SwiftQuantError, match="17") as info:
            sq.fit_codebook(x, kind=kind)
        assert info.value.status_name == "SQ_ERROR_NONFINITE"


def test_quantize_nan_raises():
    cb = sq.Codebook([0.0, 1.0])
    with pytest.raises(sq.SwiftQuantError, match="NaN") as info:
        sq.codebook_quantize(np.array([0.0, 1.0, np.nan]), cb)
    assert info.value.status_name == "SQ_ERROR_NONFINITE"


def test_dequantize_index_out_of_range_names_it():
    cb = sq.fit_codebook(data("gaussian", 100), bits=2)
    with pytest.raises(sq.SwiftQuantError, match=r"index 7 at flat position 2") as info:
        sq.codebook_dequantize(np.array([0, 3, 7, 1], np.uint8), cb)
    assert info.value.status_name == "SQ_ERROR_OUT_OF_RANGE"


# Raw C ABI: NULL pointers and wrong counts reach the native checks.
_raw = ctypes.CDLL(_native.LIBRARY_PATH)
_P = c_void_p
_raw.sq_last_error_message.restype = ctypes.c_char_p
_raw.sq_last_error_message.argtypes = []
_raw.sq_codebook_fit.restype = c_int32
_raw.sq_codebook_fit.argtypes = [_P, _P, c_int32, c_int32, c_int32, c_int32, c_int32, c_double, _P, c_int64]
_raw.sq_codebook_quantize.restype = c_int32
_raw.sq_codebook_quantize.argtypes = [_P, _P, c_int32, c_int32, _P, c_int64, c_int64, _P]
_raw.sq_codebook_dequantize.restype = c_int32
_raw.sq_codebook_dequantize.argtypes = [_P, _P, c_int32, c_int32, _P, c_int64, c_int64, _P]
_raw.sq_codebook_error_report.restype = c_int32
_raw.sq_codebook_error_report.argtypes = [_P, _P, c_int32, c_int32, _P, c_int64, c_int64, _P, c_int64, _P]


def _addr(a):
    return a.ctypes.data


def test_c_abi_status_codes():
    x = data("gaussian", 8)
    shape = (c_int64 * 1)(8)
    lv = np.empty(4, np.float32)
    fit = _raw.sq_codebook_fit
    assert fit(_addr(x), shape, 1, -1, 2, 0, 10, 0.0, _addr(lv), 4) == 0
    assert fit(None, shape, 1, -1, 2, 0, 10, 0.0, _addr(lv), 4) == _native.SQ_ERROR_NULL_POINTER
    assert fit(_addr(x), shape, 1, -1, 2, 0, 10, 0.0, None, 4) == _native.SQ_ERROR_NULL_POINTER
    assert fit(_addr(x), shape, 1, -1, 2, 0, 10, 0.0, _addr(lv), 3) == _native.SQ_ERROR_SHAPE
    assert fit(_addr(x), shape, 1, -1, 9, 0, 10, 0.0, _addr(lv), 4) == _native.SQ_ERROR_INVALID_ARGUMENT
    assert fit(_addr(x), shape, 1, -1, 2, 2, 10, 0.0, _addr(lv), 4) == 0  # SQ_CODEBOOK_LLOYD_QUANTILE
    assert fit(_addr(x), shape, 1, -1, 2, 3, 10, 0.0, _addr(lv), 4) == _native.SQ_ERROR_INVALID_ARGUMENT
    assert b"kind" in _raw.sq_last_error_message()
    assert fit(_addr(x), shape, 1, 1, 2, 0, 10, 0.0, _addr(lv), 4) == _native.SQ_ERROR_INVALID_ARGUMENT
    assert fit(_addr(x), shape, 1, -1, 2, 0, -1, 0.0, _addr(lv), 4) == _native.SQ_ERROR_INVALID_ARGUMENT
    assert fit(_addr(x), shape, 1, -1, 2, 0, 10, float("nan"), _addr(lv), 4) == _native.SQ_ERROR_INVALID_ARGUMENT
    assert b"tol" in _raw.sq_last_error_message()
    idx = np.empty(8, np.uint8)
    q = _raw.sq_codebook_quantize
    assert q(_addr(x), shape, 1, -1, _addr(lv), 4, 4, _addr(idx)) == 0
    assert q(_addr(x), shape, 1, -1, _addr(lv), 4, 5, _addr(idx)) == _native.SQ_ERROR_SHAPE
    assert q(_addr(x), shape, 1, -1, _addr(lv), 0, 0, _addr(idx)) == _native.SQ_ERROR_INVALID_ARGUMENT
    assert q(_addr(x), shape, 1, -1, None, 4, 4, _addr(idx)) == _native.SQ_ERROR_NULL_POINTER
    unsorted = lv[::-1].copy()
    assert q(_addr(x), shape, 1, -1, _addr(unsorted), 4, 4, _addr(idx)) == _native.SQ_ERROR_INVALID_ARGUMENT
    assert b"ascending" in _raw.sq_last_error_message()
    out = np.empty(8, np.float32)
    d = _raw.sq_codebook_dequantize
    assert d(_addr(idx), shape, 1, -1, _addr(lv), 4, 4, _addr(out)) == 0
    np.testing.assert_array_equal(out, lv[idx])
    assert d(_addr(idx), shape, 1, -1, _addr(lv), 2, 2, _addr(out)) in (0, _native.SQ_ERROR_OUT_OF_RANGE)
    assert d(None, shape, 1, -1, _addr(lv), 4, 4, _addr(out)) == _native.SQ_ERROR_NULL_POINTER
    r = _raw.sq_codebook_error_report
    total = _native.ErrorStatsStruct()
    groups = (_native.ErrorStatsStruct * 2)()
    tot = ctypes.addressof(total)
    assert r(_addr(x), shape, 1, -1, _addr(lv), 4, 4, None, 0, tot) == 0 and total.count == 8
    assert r(_addr(x), shape, 1, -1, _addr(lv), 4, 4, None, 0, None) == _native.SQ_ERROR_NULL_POINTER
    assert r(_addr(x), shape, 1, -1, _addr(lv), 4, 4, None, 1, tot) == _native.SQ_ERROR_NULL_POINTER
    assert r(_addr(x), shape, 1, -1, _addr(lv), 4, 4, ctypes.addressof(groups), 2, tot) == _native.SQ_ERROR_SHAPE
    assert b"group_count" in _raw.sq_last_error_message()
    assert r(_addr(x), shape, 1, -1, _addr(unsorted), 4, 4, None, 0, tot) == _native.SQ_ERROR_INVALID_ARGUMENT
    # Empty tensors accept NULL data.
    empty = (c_int64 * 1)(0)
    assert fit(None, empty, 1, -1, 2, 0, 10, 0.0, _addr(lv), 4) == 0
    assert q(None, empty, 1, -1, _addr(lv), 4, 4, None) == 0


@pytest.mark.parametrize("kind", ["lloyd", "lloyd_quantile"])
def test_lloyd_keeps_small_values_next_to_huge_ones(kind):
    # 3e38 and 5 differ by 2^126: float64 prefix sums cannot resolve 5 next to 3e38, so centroids must not
    # come from prefix differences there (they would merge 0, 1e-30 and 5 into one level 0).
    x = np.array([3e38, -3e38, 1e-30, 0, 5, 5, 0], np.float32)
    cb = sq.fit_codebook(x, bits=3, kind=kind)
    assert {0.0, np.float32(1e-30), 5.0, np.float32(3e38), np.float32(-3e38)} <= set(cb.levels.tolist())
    np.testing.assert_array_equal(sq.codebook_dequantize(sq.codebook_quantize(x, cb), cb), x)
