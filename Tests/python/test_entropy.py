"""Entropy calibration: method="entropy" is TensorRT's search (NVIDIA pytorch-quantization, calib/histogram.py,
_compute_amax_entropy), method="entropy_ort" ONNX Runtime's variant (Include/swiftquant.h, ENTROPY and
ENTROPY_ORT), against the NumPy transcriptions in observer_reference.py.

The transcription of TensorRT's function is checked against a literal re-statement of its loop
(numpy.digitize, scipy.stats.entropy) on small histograms, then run on two histograms of the data:
  * the header's own |x| histogram (observer_reference.header_histogram): the library must find the same
    threshold (float32 rounding of i * w);
  * numpy.histogram(|x|, num_bins, range=(0, max|x|)), what TensorRT's calibrator builds: the KL curve is
    flat near its minimum, so the re-binned histogram may move the argmin; the library's threshold must be
    within 2 bins, or give a range whose quantization MSE on the data is within 5% of the transcription's.
Data: Gaussian, Laplace, ReLU (1M values), Gaussian with outliers, GELU of a random linear layer, the
hidden ReLU layer of a network on scikit-learn's digits; int8 symmetric, uint8 asymmetric, int4, int16 and
uint16 with 65536 bins.
"""
import functools
import warnings

import numpy as np
import pytest

import observer_reference as orf
import swiftquant as sq

NUM_BINS = 2048


@functools.lru_cache(maxsize=None)
def _data(kind, n=1_000_000):
    rng = np.random.default_rng([7, n, sum(map(ord, kind))])
    if kind == "gauss":
        x = rng.standard_normal(n)
    elif kind == "laplace":
        x = rng.laplace(size=n)
    elif kind == "relu":
        x = np.maximum(rng.standard_normal(n), 0.0)
    elif kind == "outliers":
        x = rng.standard_normal(n)
        x[rng.choice(n, 20, replace=False)] = rng.uniform(15, 40, 20) * rng.choice([-1, 1], 20)
    elif kind == "gelu":
        # A random linear layer (64 -> 256, He init) of Gaussian inputs, then GELU (tanh form).
        a = rng.standard_normal((n // 256, 64)) @ (rng.standard_normal((64, 256)) * np.sqrt(2 / 64))
        x = 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3)))
    elif kind == "digits":
        # scikit-learn's digits through a 64 -> 256 ReLU layer (He init, small bias), as the demo's hidden layer.
        from sklearn.datasets import load_digits
        d = load_digits().data / 16.0
        w = rng.standard_normal((64, 256)) * np.sqrt(2 / 64)
        x = np.maximum(d @ w + rng.normal(0, 0.1, 256), 0.0)
    elif kind == "sparse16":
        # Few values over 65536 bins (the transcription's cost grows with the non-zero bins): a dense cluster
        # (most of its bins filled, so chunks of two non-zero bins occur) and a Laplace spread up to ~5.
        x = np.concatenate([rng.uniform(0.50, 0.52, 300) * rng.choice([-1, 1], 300), rng.laplace(size=100)])
    else:
        raise ValueError(kind)
    x = np.asarray(x, np.float32).ravel()
    x.setflags(write=False)
    return x


def _range_from_t(x, t, symmetric):
    if symmetric:
        return -t, t
    return max(float(x.min()), -t), min(float(x.max()), t)


def _lib_range(method, x, dtype, symmetric, num_bins, batches=1):
    ob = sq.Observer(method, dtype=dtype, symmetric=symmetric, num_bins=num_bins)
    for b in np.array_split(x, batches):
        ob.update(b)
    lo, hi = ob.range()
    return float(lo), float(hi), ob


def _lib_threshold(x, lo, hi, symmetric):
    """T the library used (symmetric [-T, T]; asymmetric [max(min, -T), min(max, T)])."""
    if symmetric or hi < float(x.max()):
        return hi
    if lo > float(x.min()):
        return -lo
    return float(np.abs(x).max())


# ---------------------------------------------------------------------------------------------------------
# The transcription itself


def _literal_trt_curve(hist, nbins):
    """TensorRT's loop restated literally (digitize over linspace, zero bins dropped, chunk means spread,
    scipy.stats.entropy); slow, for small histograms. NaN (q all zero) counted as +inf."""
    from scipy.stats import entropy
    bins = np.array(hist, dtype=np.float64)
    bins[0] = bins[1]
    out = []
    for i in range(orf.TRT_START_BIN, bins.size + 1):
        chunk = np.digitize(range(i), np.linspace(0, i, num=nbins + 1)) - 1
        chunk[bins[:i] == 0] = -1
        keep = chunk >= 0
        sums = np.bincount(chunk[keep], weights=bins[:i][keep], minlength=nbins)
        counts = np.bincount(chunk[keep], minlength=nbins)
        q = np.zeros(i)
        q[keep] = sums[chunk[keep]] / counts[chunk[keep]]
        p = bins[:i].copy()
        p[-1] += bins[i:].sum()
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            e = entropy(p, q)
        out.append(np.inf if np.isnan(e) else e)
    return np.array(out)


def test_digitize_is_the_floor():
    # digitize(k, linspace(0, i, nbins + 1)) - 1 == floor(k nbins / i): linspace's edges are exact.
    rng = np.random.default_rng(1)
    for nbins in (8, 16, 128, 256, 32768, 65536):
        for i in list(rng.integers(128, 70000, 6)) + [128, nbins - 1, nbins, nbins + 1, 2 * nbins - 1, 2 * nbins]:
            i = int(i)
            if i < 128:
                continue
            got = np.digitize(range(i), np.linspace(0, i, num=nbins + 1)) - 1
            assert np.array_equal(got, orf.trt_chunks(i, nbins)), (nbins, i)


def test_transcription_matches_literal_loop():
    rng = np.random.default_rng(2)
    for trial in range(9):
        n = int(rng.integers(128, 290))
        nbins = int(rng.choice([8, 16, 128, 256]))
        h = rng.poisson(rng.uniform(0.5, 60), n).astype(np.float64)
        if trial % 3 == 1:
            h[rng.random(n) < 0.7] = 0            # sparse
        if trial % 3 == 2:
            h[rng.integers(0, n, 3)] += 5000      # spikes
            h[-rng.integers(1, 40):] = 0          # empty top bins: the tail can meet q = 0
        a, b = _literal_trt_curve(h, nbins), orf.entropy_trt_kl_curve(h, nbins)
        assert np.array_equal(np.isinf(a), np.isinf(b)), trial
        fin = np.isfinite(a)
        np.testing.assert_allclose(b[fin], a[fin], rtol=1e-9, atol=1e-14, err_msg=f"trial {trial}")
    # Fewer than 128 bins: TensorRT has no candidate; the threshold is then amax.
    assert orf.entropy_trt_kl_curve(np.ones(100), 128).size == 0
    assert orf.entropy_trt_threshold_from_hist(np.ones(100), 128, 3.0) == 3.0


# ---------------------------------------------------------------------------------------------------------
# The library against the transcription

CASES = [
    # (data, dtype, symmetric, num_bins)
    ("gauss", "int8", True, NUM_BINS),
    ("laplace", "int8", True, NUM_BINS),
    ("relu", "int8", True, NUM_BINS),
    ("outliers", "int8", True, NUM_BINS),
    ("gelu", "int8", True, NUM_BINS),
    ("digits", "int8", True, NUM_BINS),
    ("relu", "uint8", False, NUM_BINS),
    ("gelu", "uint8", False, NUM_BINS),
    ("digits", "uint8", False, NUM_BINS),
    ("laplace", "int8", False, NUM_BINS),
    ("outliers", "uint8", True, 1000),
    ("laplace", "int4", True, NUM_BINS),
    ("gelu", "uint4", False, 700),
    ("sparse16", "int16", True, 65536),
    ("gelu", "uint16", False, 4096),
]


@pytest.mark.parametrize("kind, dtype, symmetric, num_bins", CASES)
def test_entropy_is_tensorrt(kind, dtype, symmetric, num_bins):
    x = _data(kind)
    nbins = orf.levels(dtype)  # 1 << (num_bits - 1 + unsigned)
    amax = float(np.abs(x).max())
    w = amax / num_bins
    lo, hi, ob = _lib_range("entropy", x, dtype, symmetric, num_bins)
    t = _lib_threshold(x, lo, hi, symmetric)
    ctx = dict(kind=kind, dtype=dtype, symmetric=symmetric, num_bins=num_bins, bin_width=w)
    # 1. On the header's own histogram: the same threshold (i * w, rounded to float32).
    t_header = orf.entropy_trt_threshold_header(x, num_bins, nbins)
    assert abs(t - t_header) <= 1e-6 * amax, (t, t_header, ctx)
    # 2. On numpy.histogram (TensorRT's histogram): within 2 bins, or as good in quantization MSE.
    t_np = orf.entropy_trt_threshold_ref(x, num_bins, nbins)
    if abs(t - t_np) > 2 * w * (1 + 1e-6):
        mse_lib = orf.quant_dequant_mse(x, lo, hi, dtype, symmetric)
        mse_np = orf.quant_dequant_mse(x, *_range_from_t(x, t_np, symmetric), dtype, symmetric)
        assert mse_lib <= 1.05 * mse_np, (t, t_np, mse_lib, mse_np, ctx)
    # The one-call form and a streamed observer (10 batches) give the same parameters.
    p = sq.calibrate(x, method="entropy", dtype=dtype, symmetric=symmetric, num_bins=num_bins)
    q = ob.qparams()
    assert float(p.scale) == float(q.scale) and int(p.zero_point) == int(q.zero_point), ctx
    if kind not in ("sparse16",):
        lo10, hi10, _ = _lib_range("entropy", x, dtype, symmetric, num_bins, batches=10)
        assert (lo10, hi10) == (lo, hi), ctx


def test_relu_tensorrt_vs_ort():
    # ReLU(N(0, 1)), 1M values, int8 symmetric, 2048 bins: TensorRT's search (bins[0] = bins[1]) keeps
    # most of the range (the transcription: 4.37 .. 4.87 over seeds 0-5 and this one, max|x| 4.6 .. 5.6;
    # the KL curve is flat there); ONNX Runtime's, decided by the spike of zeros, clips at about 1.8 and
    # costs some 100x the squared error.
    x = _data("relu")
    amax = float(np.abs(x).max())
    w = amax / NUM_BINS
    t_np = orf.entropy_trt_threshold_ref(x, NUM_BINS, 128)
    assert 4.3 <= t_np <= 4.9, t_np
    lo, hi, _ = _lib_range("entropy", x, "int8", True, NUM_BINS)
    mse = orf.quant_dequant_mse(x, lo, hi, "int8", True)
    mse_np = orf.quant_dequant_mse(x, -t_np, t_np, "int8", True)
    assert abs(hi - t_np) <= 2 * w or mse <= 1.05 * mse_np, (hi, t_np, mse, mse_np)
    # ONNX Runtime's search (entropy_ort), on its x histogram over [-amax, amax], clips near 2.6 here and
    # costs several times the squared error.
    lo_o, hi_o, _ = _lib_range("entropy_ort", x, "int8", True, NUM_BINS)
    t_ort = orf.ort_entropy_range(x, NUM_BINS)[1]
    assert abs(hi_o - t_ort) <= 2 * (2 * amax / NUM_BINS), (hi_o, t_ort)
    assert 2.2 <= hi_o <= 3.2, hi_o
    assert orf.quant_dequant_mse(x, lo_o, hi_o, "int8", True) > 3 * mse


@pytest.mark.parametrize("kind, dtype, symmetric", [("laplace", "int8", True), ("digits", "uint8", False),
                                                     ("outliers", "int8", False)])
def test_entropy_ort_is_onnxruntimes(kind, dtype, symmetric):
    # ONNX Runtime's get_entropy_threshold itself on the header's histogram (x over [-amax, amax]): the
    # same window, to a bin (ORT's KL is float32). The dtype does not enter (ORT's 128 quantized bins).
    x = _data(kind)
    amax = float(np.abs(x).max())
    lo, hi, _ = _lib_range("entropy_ort", x, dtype, symmetric, NUM_BINS)
    elo, ehi = orf.ort_entropy_range_of_histogram(orf.header_histogram_symmetric(x, NUM_BINS))
    if symmetric:
        elo, ehi = -max(-elo, ehi), max(-elo, ehi)
    w = 2 * amax / NUM_BINS
    assert abs(lo - elo) <= w * (1 + 1e-5) and abs(hi - ehi) <= w * (1 + 1e-5), ((lo, hi), (elo, ehi), kind)


def test_per_channel_is_per_tensor_of_each_channel():
    rng = np.random.default_rng(4)
    cols = [np.maximum(rng.standard_normal(20000), 0), rng.laplace(size=20000) * 3, rng.standard_normal(20000)]
    x = np.stack(cols, axis=1).astype(np.float32)
    p = sq.calibrate(x, method="entropy", dtype="int8", symmetric=True, axis=1)
    for c in range(3):
        t = orf.entropy_trt_threshold_header(x[:, c], NUM_BINS, 128)
        s = sq.calibrate(np.ascontiguousarray(x[:, c]), method="entropy", dtype="int8", symmetric=True)
        assert float(np.asarray(p.scale)[c]) == float(s.scale), c
        assert abs(float(s.scale) * 127 - t) <= 1e-6 * t, (c, float(s.scale) * 127, t)


def test_method_names_and_codes():
    assert "entropy" in sq.METHODS and "entropy_ort" in sq.METHODS
    from swiftquant import _native
    assert _native.METHOD_CODES["entropy"] == _native.SQ_METHOD_ENTROPY == 3
    assert _native.METHOD_CODES["entropy_ort"] == _native.SQ_METHOD_ENTROPY_ORT == 5
    ob = sq.Observer("entropy_ort", num_bins=512).update(np.arange(-50, 50, dtype=np.float32))
    assert ob.method == "entropy_ort"
    back = sq.Observer.from_bytes(ob.to_bytes())
    assert back.method == "entropy_ort" and back.range() == ob.range()
