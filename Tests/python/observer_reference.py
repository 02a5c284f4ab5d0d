"""Independent NumPy reference of the calibration observers of Include/swiftquant.h ("Calibration observers").

Written from the header's text, never from the library's code or outputs. Plain, slow, obvious NumPy.

Two kinds of histogram feed the histogram methods:
  * numpy.histogram on the raw data (|x| over [0, max|x|], or x over [min, max]): the textbook histogram,
    independent of the header's streaming design; percentiles from it are also compared with
    numpy.percentile itself.
  * header_histogram: the header's own construction, written out from its text: 8 * num_bins bins of x
    over [-R, R), R the smallest power of two above max|x|, re-binned to the method's num_bins bins with
    counts split in proportion to overlap and made whole by rounding the running total. The header's
    algorithms run on it must give the library's results (to one bin, or to float slack).
Min/max and the moving average are exact formulas. The range -> (scale, zero point) step is
numpy_reference.qparams_from_range_ref (sq_qparams_from_range).

ENTROPY (TensorRT's, SQ_METHOD_ENTROPY): entropy_trt_*, transcribed from NVIDIA pytorch-quantization.
ENTROPY_ORT (ONNX Runtime's, SQ_METHOD_ENTROPY_ORT): ONNX Runtime itself is the oracle (ort_entropy_*).
"""
import math

import numpy as np

import numpy_reference as ref

METHODS = ("minmax", "moving_average", "percentile", "entropy", "mse", "entropy_ort")
HIST_METHODS = ("percentile", "entropy", "mse", "entropy_ort")


def levels(dtype):
    """L = qmax + 1: the number of quantization levels ENTROPY merges into (int8 128, uint8 256, int4 8)."""
    return ref.DTYPE_RANGES[dtype][1] + 1


def finite_values(x):
    x = np.asarray(x, dtype=np.float32).ravel()
    return x[np.isfinite(x)]


# ---------------------------------------------------------------------------------------------------------
# MINMAX and MOVING_AVERAGE (per tensor; per channel = the same applied to each channel)


def minmax_range_ref(batches):
    x = np.concatenate([finite_values(b) for b in batches])
    return np.float32(x.min()), np.float32(x.max())


def moving_average_range_ref(batches, c=0.01):
    """m = m + c * (batch_m - m) over each batch's min and max; the first batch sets m. float64 maths."""
    lo = hi = None
    for b in batches:
        v = finite_values(b).astype(np.float64)
        bmin, bmax = v.min(), v.max()
        if lo is None:
            lo, hi = bmin, bmax
        else:
            lo = lo + c * (bmin - lo)
            hi = hi + c * (bmax - hi)
    return lo, hi


def moving_average_merge_ref(range_a, n_a, range_b, n_b):
    """The two averages weighted by their batch counts."""
    w = float(n_a + n_b)
    return ((n_a * range_a[0] + n_b * range_b[0]) / w, (n_a * range_a[1] + n_b * range_b[1]) / w)


# ---------------------------------------------------------------------------------------------------------
# The header's histogram: 4 * num_bins bins of x over [-R, R), R the smallest power of two above max|x|,
# re-binned to the method's num_bins bins with counts split in proportion to overlap.


def pow2_above(a):
    """The smallest power of two strictly above a > 0 (exact, via frexp: a = m 2^k, 0.5 <= m < 1)."""
    _, k = math.frexp(float(a))
    return math.ldexp(1.0, k)


FINE_FACTOR = 8  # the streaming histogram has 8 * num_bins bins of x over [-R, R)


def fine_histogram(x, num_bins):
    """The streaming histogram of the header: counts of 8 * num_bins bins of x over [-R, R), and R.
    Bin index floor(x * half / R) + half (half = 4 num_bins), exact in float64 (R is a power of two)."""
    v = finite_values(x).astype(np.float64)
    r = pow2_above(np.abs(v).max())
    half = FINE_FACTOR * num_bins // 2
    idx = np.floor(v * (half / r)).astype(np.int64) + half
    return np.bincount(idx, minlength=2 * half).astype(np.float64), r


def rebin_split(counts, src_edges, lo, hi, n):
    """Counts of n bins over [lo, hi] from source bins (edges src_edges), each source bin's count split in
    proportion to the overlap of its part inside [lo, hi] (the data lies in [lo, hi]). The cumulative count
    is linear inside each source bin; a source bin reduced to the single point hi puts its count at hi.
    Returns the cumulative split counts at the n + 1 target edges."""
    src_edges = np.asarray(src_edges, dtype=np.float64)
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    edges = lo + (hi - lo) * np.arange(n + 1) / n
    c = np.interp(edges, np.clip(src_edges, lo, hi), cum)
    c[0], c[-1] = 0.0, cum[-1]
    return c


def rebin(counts, src_edges, lo, hi, n):
    """The header's re-binning: split in proportion to overlap, then made whole by rounding the running
    total (half to even), so no count is lost and every cumulative count is within 1/2 of the split one."""
    c = rebin_split(counts, src_edges, lo, hi, n)
    return np.diff(np.rint(c))


def header_histogram(x, num_bins, absolute):
    """The method's num_bins histogram as the header builds it: (counts, first edge, bin width).
    absolute: |x| over [0, max|x|] (the fine bins folded at 0); else x over [min, max]."""
    fine, r = fine_histogram(x, num_bins)
    v = finite_values(x).astype(np.float64)
    half = fine.size // 2
    fw = r / half
    if absolute:
        folded = fine[half:] + fine[:half][::-1]  # bin j: |x| in [j fw, (j + 1) fw]
        amax = np.abs(v).max()
        return rebin(folded, fw * np.arange(half + 1), 0.0, amax, num_bins), 0.0, amax / num_bins
    lo, hi = v.min(), v.max()
    return rebin(fine, -r + fw * np.arange(fine.size + 1), lo, hi, num_bins), lo, (hi - lo) / num_bins


# ---------------------------------------------------------------------------------------------------------
# PERCENTILE


def percentile_range_ref(x, p, symmetric):
    """asymmetric: [P(100 - p), P(p)] of x; symmetric: amax = P(p) of |x|, range [-amax, amax]."""
    x = finite_values(x).astype(np.float64)
    if symmetric:
        a = np.percentile(np.abs(x), p)
        return -a, a
    return np.percentile(x, 100.0 - p), np.percentile(x, p)


def percentile_interval(v, p):
    """All the usual definitions of the p-th percentile of the sample v (NumPy's linear interpolation, the
    lower and higher order statistics, the inverted CDF): in a sparse tail they can be several bins apart,
    and each is "the" percentile up to the sample's discreteness. Returns their hull (lo, hi)."""
    v = np.asarray(v, dtype=np.float64)
    vals = [np.percentile(v, p, method=m) for m in ("linear", "lower", "higher", "inverted_cdf")]
    return min(vals), max(vals)


def percentile_range_interval(x, p, symmetric):
    """((lo_min, lo_max), (hi_min, hi_max)): the percentile interval of each end of the range."""
    v = finite_values(x).astype(np.float64)
    if symmetric:
        a0, a1 = percentile_interval(np.abs(v), p)
        return (-a1, -a0), (a0, a1)
    return percentile_interval(v, 100.0 - p), percentile_interval(v, p)


def histogram_quantile(h, first, width, rank):
    """The value below which `rank` counts of the histogram lie, linear inside the bin where the
    cumulative count reaches it."""
    cum = np.cumsum(h)
    j = int(np.flatnonzero((cum >= rank) & (h > 0))[0])
    before = cum[j] - h[j]
    return first + (j + (rank - before) / h[j]) * width


def percentile_range_header(x, p, num_bins, symmetric):
    """Percentiles of the header's num_bins histogram (|x| over [0, max|x|] when symmetric, else x)."""
    h, first, w = header_histogram(x, num_bins, absolute=symmetric)
    total = h.sum()
    if symmetric:
        t = histogram_quantile(h, first, w, p / 100 * total)
        return -t, t
    return histogram_quantile(h, first, w, (1 - p / 100) * total), histogram_quantile(h, first, w, p / 100 * total)


def bin_width(x, num_bins, symmetric):
    """Width of the method's num_bins histogram: of |x| over [0, max|x|] when symmetric, of x over
    [min, max] otherwise (the tolerance "exact to one bin" refers to this histogram)."""
    x = finite_values(x).astype(np.float64)
    if symmetric:
        return np.abs(x).max() / num_bins
    return (x.max() - x.min()) / num_bins


# ---------------------------------------------------------------------------------------------------------
# ENTROPY_ORT: ONNX Runtime's calibration. The oracle is ONNX Runtime itself (onnxruntime.quantization.calibrate,
# installed from requirements-dev.txt): its HistogramCollector on the raw data, and its get_entropy_threshold on
# the header's histogram (x over [-max|x|, max|x|], the histogram ONNX Runtime's collect_value builds).


def header_histogram_symmetric(x, num_bins):
    """The header's num_bins histogram of x over [-max|x|, max|x|]: (counts, edges, min, max, max|x|), the
    tuple ONNX Runtime's HistogramCollector keeps per tensor."""
    fine, r = fine_histogram(x, num_bins)
    v = finite_values(x).astype(np.float64)
    fw = r / (fine.size // 2)
    amax = float(np.abs(v).max())
    counts = rebin(fine, -r + fw * np.arange(fine.size + 1), -amax, amax, num_bins)
    edges = np.linspace(-amax, amax, num_bins + 1).astype(np.float32)
    return counts.astype(np.int64), edges, np.float32(v.min()), np.float32(v.max()), np.float32(amax)


def ort_entropy_range_of_histogram(hist_tuple, num_quantized_bins=128):
    """ONNX Runtime's get_entropy_threshold on a given histogram tuple."""
    from onnxruntime.quantization.calibrate import HistogramCollector

    lo, hi = HistogramCollector.get_entropy_threshold(None, hist_tuple, num_quantized_bins)
    return float(lo), float(hi)


def ort_entropy_range(x, num_bins, num_quantized_bins=128):
    """ONNX Runtime's entropy calibration of one batch x, end to end (its own numpy.histogram)."""
    import contextlib
    import io

    from onnxruntime.quantization.calibrate import HistogramCollector

    hc = HistogramCollector("entropy", symmetric=True, num_bins=num_bins, num_quantized_bins=num_quantized_bins,
                            percentile=99.99, scenario="same")
    with contextlib.redirect_stdout(io.StringIO()):  # it prints progress
        hc.collect({"x": [np.asarray(x, np.float32)]})
        lo, hi = hc.compute_collection_result()["x"][:2]
    return float(lo), float(hi)


# ---------------------------------------------------------------------------------------------------------
# ENTROPY: TensorRT's calibration, transcribed from NVIDIA pytorch-quantization (calib/histogram.py,
# _compute_amax_entropy(calib_hist, calib_bin_edges, num_bits, unsigned, stride=1, start_bin=128)), with
# numpy.digitize written as the floor it computes and the loop over candidates vectorized in blocks.


TRT_START_BIN = 128  # start_bin: the fewest bins a candidate keeps


def trt_chunks(i, nbins):
    """TensorRT's chunk of each bin k < i: numpy.digitize(range(i), numpy.linspace(0, i, nbins + 1)) - 1.
    That equals floor(k * nbins / i) exactly (linspace's edges j * (i / nbins) are exact for nbins a power
    of two); entropy_trt_kl_curve uses the floor, test_entropy checks it against digitize."""
    return (np.arange(i, dtype=np.int64) * nbins) // i


def entropy_trt_kl_curve(hist, nbins, block=512):
    """scipy.stats.entropy(p, q) of TensorRT's search for every candidate i in 128 .. len(hist) (element
    i - 128). nbins = 1 << (num_bits - 1 + unsigned) (= qmax + 1 here).

    bins = hist with bins[0] = bins[1]; p = bins[:i] with sum(bins[i:]) added to p[i-1]; bins with zero
    count are left out of their chunk (digitized to -1); each chunk's sum of bins over its number of
    non-zero bins is spread to those bins (q, 0 elsewhere). entropy normalizes p and q and sums
    p log(p / q) over p > 0: +inf when some p > 0 has q = 0. Where q is all zero (TensorRT divides 0 / 0
    and gets NaN) the candidate is +inf here. Only the non-zero bins are touched (they carry every term)."""
    bins = np.array(hist, dtype=np.float64)
    n = bins.size
    if n < TRT_START_BIN:
        return np.zeros(0)
    bins[0] = bins[1]
    total = bins.sum()
    prefix = np.concatenate([[0.0], np.cumsum(bins)])  # prefix[i] = sum(bins[:i]) = sum(q) before normalizing
    nz = np.flatnonzero(bins)
    cands = np.arange(TRT_START_BIN, n + 1, dtype=np.int64)
    out = np.full(cands.size, np.inf)
    for b0 in range(0, cands.size, block):
        ii = cands[b0:b0 + block]
        rows, cols = np.nonzero(nz[None, :] < ii[:, None])  # row-major: per candidate, its non-zero bins k < i
        k = nz[cols]
        chunk = (k * nbins) // ii[rows]
        key = rows * nbins + chunk  # ascending
        if key.size == 0:
            continue
        v = bins[k]
        starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
        sizes = np.diff(np.append(starts, key.size))
        q = np.repeat(np.add.reduceat(v, starts) / sizes, sizes)  # chunk sum / non-zero bins in the chunk
        p = v.copy()
        last = np.flatnonzero(np.concatenate([rows[1:] != rows[:-1], [True]]))  # each row's last non-zero bin
        tail = total - prefix[ii]
        r = rows[last]
        at_end = k[last] == ii[r] - 1
        p[last[at_end]] += tail[r[at_end]]
        pn = p / total
        qn = q / prefix[ii][rows]
        terms = pn * np.log(pn / qn)
        kl = np.bincount(rows, weights=terms, minlength=ii.size)
        kl[(tail > 0) & ~np.isin(np.arange(ii.size), r[at_end])] = np.inf  # the tail lands on a q = 0 bin
        kl[prefix[ii] == 0] = np.inf
        out[b0:b0 + ii.size] = kl
    return out


def entropy_trt_threshold_from_hist(hist, nbins, amax):
    """bin_edges[i] (= i * amax / len(hist)) for the last argmin i of the KL curve; amax when the
    histogram has fewer than 128 bins (TensorRT has no candidate then)."""
    n = len(hist)
    kls = entropy_trt_kl_curve(hist, nbins)
    if kls.size == 0:
        return amax
    i = kls.size - 1 - int(np.argmin(kls[::-1])) + TRT_START_BIN
    return i * (amax / n)


def entropy_trt_threshold_ref(x, num_bins, nbins):
    """TensorRT's threshold on H = numpy.histogram(|x|, num_bins, range=(0, amax))."""
    a = np.abs(finite_values(x).astype(np.float64))
    amax = a.max()
    hist, _ = np.histogram(a, bins=num_bins, range=(0.0, amax))
    return entropy_trt_threshold_from_hist(hist, nbins, amax)


def entropy_trt_threshold_header(x, num_bins, nbins):
    """TensorRT's threshold on the header's own |x| histogram (re-binned from the streaming one)."""
    h, _, w = header_histogram(x, num_bins, absolute=True)
    return entropy_trt_threshold_from_hist(h, nbins, w * num_bins)


# ---------------------------------------------------------------------------------------------------------
# MSE


def quant_dequant_mse(x, lo, hi, dtype, symmetric):
    """Mean squared error of x -> quantize -> dequantize with the parameters sq_qparams_from_range gives for
    the range [lo, hi] (float32 division, half-to-even, saturation, as sq_quantize / sq_dequantize)."""
    s, z = ref.qparams_from_range_ref(np.float32(lo), np.float32(hi), dtype, symmetric)
    x = np.asarray(x, dtype=np.float32)
    qmin, qmax = ref.DTYPE_RANGES[dtype]
    q = np.clip(np.rint((x / s).astype(np.float64)) + float(z), qmin, qmax)
    xr = ((q - float(z)).astype(np.float32) * s).astype(np.float64)
    return float(np.mean((xr - x.astype(np.float64)) ** 2))


def mse_bruteforce_ref(x, dtype, symmetric, candidates=200, grid=24):
    """The best data MSE over a brute-force set of ranges, and that range.

    symmetric: amax = k / candidates * max|x|, k = 1 .. candidates.
    asymmetric: lo = min * j / grid, hi = max * k / grid (j, k = 1 .. grid), plus a finer pass of the same
    size around the best pair of the first pass.
    """
    x = finite_values(x)
    if symmetric:
        amax = float(np.abs(x).max())
        best = (math.inf, None)
        for k in range(1, candidates + 1):
            a = amax * k / candidates
            best = min(best, (quant_dequant_mse(x, -a, a, dtype, True), (-a, a)), key=lambda t: t[0])
        return best
    lo0, hi0 = float(x.min()), float(x.max())

    def search(los, his):
        best = (math.inf, None)
        for lo in los:
            for hi in his:
                if hi > lo:
                    best = min(best, (quant_dequant_mse(x, lo, hi, dtype, False), (lo, hi)), key=lambda t: t[0])
        return best

    fr = np.arange(1, grid + 1) / grid
    err, (lo, hi) = search(lo0 * fr, hi0 * fr)
    dlo, dhi = abs(lo0) / grid, abs(hi0) / grid
    return min((err, (lo, hi)),
               search(np.clip(lo + np.linspace(-dlo, dlo, grid // 2), lo0, 0.0),
                      np.clip(hi + np.linspace(-dhi, dhi, grid // 2), 0.0, hi0)),
               key=lambda t: t[0])


def _mse_levels(dtype, symmetric):
    qmin, qmax = ref.DTYPE_RANGES[dtype]
    if symmetric and ref.SIGNED[dtype]:
        return 2.0 * qmax  # the narrow range [-qmax, qmax]
    return float(qmax - qmin)


def mse_model_cost(h, first, width, lo, hi, dtype, symmetric):
    """The header's MSE objective of the range [lo, hi] over a histogram (bins [first + b w, first + (b+1) w)):
    sum over bins of count * (S^2 / 12 if the bin (its centre) is inside the range, else the squared
    distance of the bin centre to the range). The range is widened to include zero, as the quantization
    grid is (sq_qparams_from_range); S = (rmax - rmin) / (qmax - qmin), symmetric S = 2 amax / levels."""
    h = np.asarray(h, dtype=np.float64)
    c = first + (np.arange(h.size) + 0.5) * width
    rlo, rhi = min(lo, 0.0), max(hi, 0.0)
    if symmetric:
        a = max(-rlo, rhi)
        rlo, rhi = -a, a
    s = (rhi - rlo) / _mse_levels(dtype, symmetric)
    d = np.maximum(rlo - c, 0.0) + np.maximum(c - rhi, 0.0)
    return float(np.sum(np.where(d > 0, h * d * d, h * s * s / 12.0)))


def mse_model_best(h, first, width, dtype, symmetric, search="header"):
    """The header's search for the minimum of the objective, and the range it finds.
    symmetric: h is the |x| histogram, candidates T = j w (j = 1 .. n), range [-T, T], every j.
    asymmetric: h is the x histogram, candidate ranges [e_i, e_j], i < j (e_k = first + k w), widened to
    include zero. search="header": a grid of every s-th edge (s = max(1, n / 256); i = 0, s, 2s, .. < n;
    j = n, n - s, .. > i), then edge by edge around the best pair (i, j): i within s of it, j within s of
    it (and > i). search="all": every pair."""
    h = np.asarray(h, dtype=np.float64)
    n = h.size
    c = first + (np.arange(n) + 0.5) * width
    n0 = np.concatenate([[0.0], np.cumsum(h)])
    n1 = np.concatenate([[0.0], np.cumsum(h * c)])
    n2 = np.concatenate([[0.0], np.cumsum(h * c * c)])
    levels_ = _mse_levels(dtype, symmetric)

    def clipped_above(k, t):  # sum over bins b >= k of h (c - t)^2
        return (n2[-1] - n2[k]) - 2 * t * (n1[-1] - n1[k]) + t * t * (n0[-1] - n0[k])

    def clipped_below(k, t):  # sum over bins b < k of h (t - c)^2
        return n2[k] - 2 * t * n1[k] + t * t * n0[k]

    if symmetric:
        j = np.arange(1, n + 1)
        t = j * width
        # bins with centre above T are clipped: centres c_b = (b + 0.5) w > j w  <=>  b >= j
        cost = np.maximum(clipped_above(j, t), 0.0) + n0[j] * (2 * t / levels_) ** 2 / 12
        k = int(np.argmin(cost))
        return float(cost[k]), (-float(t[k]), float(t[k]))
    edges = first + np.arange(n + 1) * width

    def costs(i, js):  # objective of [e_i, e_j] for the j in js
        rlo = min(edges[i], 0.0)
        rhi = np.maximum(edges[js], 0.0)
        below = int(np.searchsorted(c, rlo, side="left"))     # centres < rlo
        upto = np.searchsorted(c, rhi, side="right")           # centres <= rhi
        s = (rhi - rlo) / levels_
        return (np.maximum(clipped_below(below, rlo), 0.0) + np.maximum(clipped_above(upto, rhi), 0.0)
                + (n0[upto] - n0[below]) * s * s / 12)

    def search_pairs(pairs):
        best = (math.inf, None)
        for i, js in pairs:
            js = np.asarray(js, dtype=np.int64)
            if js.size == 0:
                continue
            cost = costs(i, js)
            k = int(np.argmin(cost))
            if cost[k] < best[0]:
                best = (float(cost[k]), (i, int(js[k])))
        return best

    if search == "all":
        best = search_pairs((i, np.arange(i + 1, n + 1)) for i in range(n))
    else:
        step = max(1, n // 256)
        best = search_pairs((i, np.arange(n, i, -step)) for i in range(0, n, step))
        bi, bj = best[1]
        refine = search_pairs((i, np.arange(max(i + 1, bj - step), min(n, bj + step) + 1))
                              for i in range(max(0, bi - step), min(n - 1, bi + step) + 1))
        best = min(best, refine, key=lambda v: v[0])
    i, j = best[1]
    return best[0], (float(edges[i]), float(edges[j]))
