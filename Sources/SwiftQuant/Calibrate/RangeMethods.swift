// Range choice from a histogram: percentile, entropy (TensorRT's KL search, and ONNX Runtime's) and MSE. Each takes the method's num_bins histogram (re-binned from the streaming one) and returns a
// clipping range; swiftquant.h ("Calibration observers") states each definition exactly.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The value below which `rank` of the histogram's total count lies, interpolating inside the bin.
func histogramQuantile(_ h: [Double], lo: Double, width: Double, rank: Double) -> Double {
    var cum = 0.0
    for (b, c) in h.enumerated() {
        if c > 0 && cum + c >= rank {
            let frac = Swift.min(Swift.max((rank - cum) / c, 0), 1)
            return lo + (Double(b) + frac) * width
        }
        cum += c
    }
    return lo + Double(h.count) * width
}

/// ONNX Runtime's entropy range (SQ_METHOD_ENTROPY_ORT): HistogramCollector.get_entropy_threshold of
/// onnxruntime.quantization.calibrate, with ORT's default num_quantized_bins = 128 whatever the dtype, over
/// `h`, a histogram of x with n bins over [-amax, amax] (ORT's collect_value). For i in 64...n/2 the window
/// is bins [z - i, min(z + i + 1, n)) around z = n/2; p = the window with the counts left and right of it
/// added to its first and last bin; q = the window (no outliers) merged into 128 chunks of
/// floor(window / 128) bins (the leftover bins' counts added to the last chunk, their q left 0), each chunk's
/// sum divided by its number of non-zero bins of p and truncated to an integer, assigned to every bin of the
/// chunk. Both smoothed: v' = 1e-4 where v = 0, v - 1e-4 zeros/nonzeros elsewhere (an all-zero vector, or a
/// correction >= 1, where ORT's assertion would stop, makes the candidate's KL infinite). KL(p'/|p'| ||
/// q'/|q'|); the first minimum wins. Returns the window's edges clipped to [min, max]. O(n^2 / 4) (as ORT's).
func entropyRangeORT(_ h: [Double], amax: Double, min dataMin: Double, max dataMax: Double) -> (Double, Double) {
    let n = h.count, zero = n / 2, half = ortQuantizedBins / 2
    guard zero >= half, amax > 0 else { return (dataMin, dataMax) }
    let kl = ortEntropyCurve(h)
    var bestI = half, best = Double.infinity
    for (j, v) in kl.enumerated() where v < best {  // numpy.argmin: the first minimum
        best = v
        bestI = half + j
    }
    let w = 2 * amax / Double(n)
    func edge(_ k: Int) -> Double { k == n ? amax : -amax + Double(k) * w }
    return (Swift.max(edge(zero - bestI), dataMin), Swift.min(edge(Swift.min(zero + bestI + 1, n)), dataMax))
}

/// ONNX Runtime's default num_quantized_bins.
let ortQuantizedBins = 128
private let ortEps = 1e-4

/// The window of candidate i: bins [z - i, min(z + i + 1, n)), z = n / 2.
@inline(__always) private func ortWindow(_ i: Int, _ n: Int) -> (Int, Int) { (n / 2 - i, Swift.min(n / 2 + i + 1, n)) }

/// ORT's KL for each candidate i in 64...n/2 (entry i - 64), bin by bin as ONNX Runtime writes it: O(window)
/// per candidate. The oracle of ortEntropyCurve (EntropyTests).
func ortEntropyCurveDirect(_ h: [Double]) -> [Double] {
    let nq = ortQuantizedBins, n = h.count
    guard n / 2 >= nq / 2 else { return [] }
    var prefix = [Double](repeating: 0, count: n + 1)
    for k in 0..<n { prefix[k + 1] = prefix[k] + h[k] }
    var p = [Double](repeating: 0, count: n + 1), q = p
    return (nq / 2...n / 2).map { i in
        let (s, e) = ortWindow(i, n)
        let m = e - s
        for k in 0..<m { p[k] = h[s + k] }
        p[0] += prefix[s]
        p[m - 1] += prefix[n] - prefix[e]
        let merged = m / nq
        for j in 0..<nq {
            let a = j * merged, b = a + merged
            var chunk = prefix[s + b] - prefix[s + a]
            if j == nq - 1 { chunk += prefix[e] - prefix[s + nq * merged] }
            var norm = 0
            for k in a..<b where p[k] != 0 { norm += 1 }
            let v = norm == 0 ? 0 : (chunk / Double(norm)).rounded(.towardZero)
            for k in a..<b { q[k] = v }
        }
        for k in (nq * merged)..<m { q[k] = 0 }
        func correction(_ v: [Double]) -> Double? {
            var nz = 0
            for k in 0..<m where v[k] != 0 { nz += 1 }
            guard nz > 0 else { return nil }
            let c = ortEps * Double(m - nz) / Double(nz)
            return c < 1 ? c : nil
        }
        guard let cp = correction(p), let cq = correction(q) else { return .infinity }
        var sp = 0.0, sq = 0.0, cross = 0.0
        for k in 0..<m {
            let a = p[k] == 0 ? ortEps : p[k] - cp
            let b = q[k] == 0 ? ortEps : q[k] - cq
            sp += a
            sq += b
            cross += a * log(a / b)
        }
        return cross / sp - log(sp / sq)
    }
}

/// The same curve with prefix sums: O(128) per candidate (n = 65536 bins: 32 769 candidates). With p' the
/// smoothed p and q' the smoothed q (constant over each chunk), KL = (sum p' log p' - sum_j log(q'_j) P'_j)
/// / |p'| - log(|p'| / |q'|), P'_j the sum of p' over chunk j: every term is a prefix-sum difference except
/// the two window ends, which hold the outliers and are handled apart. The sum over non-zero bins of
/// (v - c) log(v - c) is a series in the smoothing correction c (through c^4; c <= 0.01, every v >= 1) or,
/// for larger c, a loop.
func ortEntropyCurve(_ h: [Double]) -> [Double] {
    let nq = ortQuantizedBins, n = h.count
    guard n / 2 >= nq / 2 else { return [] }
    let eps = ortEps
    var sum = [Double](repeating: 0, count: n + 1), nonzero = [Int](repeating: 0, count: n + 1)
    var t0 = [Double](repeating: 0, count: n), t1 = t0, t2 = t0, t3 = t0, t4 = t0
    for k in 0..<n {
        let v = h[k]
        sum[k + 1] = sum[k] + v
        nonzero[k + 1] = nonzero[k] + (v != 0 ? 1 : 0)
        if v != 0 {
            t0[k] = v * log(v)
            t1[k] = log(v) + 1
            t2[k] = 1 / v
            t3[k] = 1 / (v * v)
            t4[k] = 1 / (v * v * v)
        }
    }
    let T0 = CompensatedPrefix(t0), T1 = CompensatedPrefix(t1), T2 = CompensatedPrefix(t2)
    let T3 = CompensatedPrefix(t3), T4 = CompensatedPrefix(t4)
    /// sum over non-zero h[k], k in a..<b, of (h - c) log(h - c).
    func plogp(_ a: Int, _ b: Int, _ c: Double) -> Double {
        guard b > a else { return 0 }
        if c <= 0.01 {
            return T0.range(a, b) - c * T1.range(a, b) + c * c / 2 * T2.range(a, b) + c * c * c / 6 * T3.range(a, b)
                + c * c * c * c / 12 * T4.range(a, b)
        }
        var acc = 0.0
        for k in a..<b where h[k] != 0 { acc += (h[k] - c) * log(h[k] - c) }
        return acc
    }
    var values = [Double](repeating: 0, count: nq)
    return (nq / 2...n / 2).map { i in
        let (s, e) = ortWindow(i, n)
        let m = e - s
        // The two end bins with the outliers (m >= 129, so they are distinct bins).
        let first = h[s] + sum[s], last = h[e - 1] + (sum[n] - sum[e])
        let nzP = (nonzero[e - 1] - nonzero[s + 1]) + (first != 0 ? 1 : 0) + (last != 0 ? 1 : 0)
        guard nzP > 0 else { return .infinity }
        let cp = eps * Double(m - nzP) / Double(nzP)
        guard cp < 1 else { return .infinity }
        func pPrime(_ v: Double) -> Double { v == 0 ? eps : v - cp }
        /// Over window positions a..<b (0 <= a <= b <= m): the sum of p' and the number of non-zero p.
        func pStats(_ a: Int, _ b: Int) -> (Double, Int) {
            guard b > a else { return (0, 0) }
            var total = 0.0, count = 0
            var lo = a, hi = b
            if a == 0 { total += pPrime(first); count += first != 0 ? 1 : 0; lo = 1 }
            if b == m { total += pPrime(last); count += last != 0 ? 1 : 0; hi = m - 1 }
            if hi > lo {
                let nz = nonzero[s + hi] - nonzero[s + lo]
                total += (sum[s + hi] - sum[s + lo]) - Double(nz) * cp + Double((hi - lo) - nz) * eps
                count += nz
            }
            return (total, count)
        }
        // q: the chunks' values, then its smoothing correction.
        let merged = m / nq, covered = nq * merged
        var nzQ = 0
        for j in 0..<nq {
            let a = j * merged, b = a + merged
            var chunk = sum[s + b] - sum[s + a]
            if j == nq - 1 { chunk += sum[e] - sum[s + covered] }
            let norm = pStats(a, b).1
            values[j] = norm == 0 ? 0 : (chunk / Double(norm)).rounded(.towardZero)
            if values[j] != 0 { nzQ += merged }
        }
        guard nzQ > 0 else { return .infinity }
        let cq = eps * Double(m - nzQ) / Double(nzQ)
        guard cq < 1 else { return .infinity }
        var sq = Double(m - covered) * eps, cross = 0.0
        for j in 0..<nq {
            let b = values[j] == 0 ? eps : values[j] - cq
            sq += Double(merged) * b
            cross -= pStats(j * merged, (j + 1) * merged).0 * log(b)
        }
        cross -= pStats(covered, m).0 * log(eps)  // the leftover bins: q = 0, smoothed to eps
        // sum p' log p': interior non-zero bins by series, interior zero bins eps log eps, the two ends apart.
        let zeros = (m - 2) - (nonzero[e - 1] - nonzero[s + 1])
        cross += plogp(s + 1, e - 1, cp) + Double(zeros) * eps * log(eps)
        cross += pPrime(first) * log(pPrime(first)) + pPrime(last) * log(pPrime(last))
        let sp = pStats(0, m).0
        return cross / sp - log(sp / sq)
    }
}

/// TensorRT's start_bin: the fewest bins a candidate threshold keeps (NVIDIA pytorch-quantization's default).
let tensorRTEntropyStartBin = 128

/// Prefix sums held as an unevaluated sum hi + lo (TwoSum at each step): the difference of two prefixes is
/// then accurate to the size of the difference, not of the prefixes.
struct CompensatedPrefix {
    private(set) var hi: [Double], lo: [Double]

    /// Prefixes of v with stride `stride`: element k + stride = element k + v[k] (stride 1: ordinary
    /// prefix sums; stride 2: separate sums over even and odd positions).
    init(_ v: [Double], stride: Int = 1) {
        hi = [Double](repeating: 0, count: v.count + stride)
        lo = hi
        for k in 0..<v.count {
            let a = hi[k], b = v[k], s = a + b
            let bb = s - a
            hi[k + stride] = s
            lo[k + stride] = lo[k] + ((a - (s - bb)) + (b - bb))
        }
    }

    /// Prefix b minus prefix a.
    @inline(__always) func range(_ a: Int, _ b: Int) -> Double { (hi[b] - hi[a]) + (lo[b] - lo[a]) }
}

/// x log(2x / (x + y)) + y log(2y / (x + y)) for counts x, y > 0: the KL cost (in counts) of replacing the
/// two by their mean. Near x = y by its series (c / 2) sum t^2k / (k (2k - 1)), t = (x - y) / (x + y).
@inline(__always) func pairMergeCost(_ x: Double, _ y: Double) -> Double {
    let c = x + y, t = (x - y) / c
    if Swift.abs(t) < 0.01 {
        let t2 = t * t
        return c / 2 * t2 * (1 + t2 * (1.0 / 6 + t2 * (1.0 / 15 + t2 / 28)))
    }
    return x * log(2 * x / c) + y * log(2 * y / c)
}

/// TensorRT's entropy search (NVIDIA pytorch-quantization, calib/histogram.py, _compute_amax_entropy, the
/// calibrator TensorRT documents): KL(p || q) times the total count for each candidate bin count i in
/// 128...hist.count (element i - 128), +inf where some p > 0 has q = 0; empty when hist.count < 128.
///
/// bins = hist with bins[0] = bins[1] (ReLU's spike of exact zeros does not decide the search); P = sum(bins).
/// Candidate i: p = bins[0..<i] with sum(bins[i...]) added to p[i-1]; chunk j (of `levels`) holds the bins
/// k < i with floor(k levels / i) = j (numpy.digitize over numpy.linspace(0, i, levels + 1), exact here);
/// q gives each non-zero bin of a chunk the chunk's sum over its number of non-zero bins, 0 elsewhere, so
/// Q = sum(bins[0..<i]). KL = sum over p > 0 of p/P log((p/P) / (q/Q)), no smoothing.
///
/// With T the tail, h = bins[i - 1] and D = sum over chunks of sum_k bins_k log(bins_k nz / c) (c the
/// chunk's sum, nz its non-zero bins; 0 for a chunk with one non-zero bin):
///   KL P = D + (h + T) log(1 + T / h) + T log(h / q[i-1]) + P log(1 - T / P).
/// i <= levels: every chunk is one bin, D = 0 and q[i-1] = h: O(1). levels < i < 2 levels: d = i - levels
/// chunks are pairs, starting at bins floor(m i / d), m < d, and the other levels - d are single bins
/// j + ceil(j d / levels) for chunks j = ceil(r levels / (levels - d)) - 1, r = 1 ... levels - d (bin i - 1
/// is single, so q[i-1] = h); D sums a precomputed cost per pair, over the pairs or, when singles are
/// fewer, over the runs of pairs between singles (stride-2 prefix sums): O(min(d, levels - d)) additions.
/// i >= 2 levels: one log per chunk from prefix sums of counts, non-zero bins and bins log bins: O(levels).
/// Total O(n min(n, levels)) additions and O(n + n levels [n >= 2 levels]) logarithms.
func tensorRTEntropyCurve(_ hist: [Double], levels nq: Int) -> [Double] {
    let n = hist.count, first = tensorRTEntropyStartBin
    guard n >= first && nq >= 1 else { return [] }
    var h = hist
    h[0] = h[1]
    var count = [Double](repeating: 0, count: n + 1), nonzero = [Int](repeating: 0, count: n + 1)
    var xlogx = [Double](repeating: 0, count: n)
    for b in 0..<n {
        count[b + 1] = count[b] + h[b]  // whole counts: exact
        nonzero[b + 1] = nonzero[b] + (h[b] > 0 ? 1 : 0)
        xlogx[b] = h[b] > 0 ? h[b] * log(h[b]) : 0
    }
    let total = count[n]
    var out = [Double](repeating: .infinity, count: n - first + 1)
    guard total > 0 else { return out }
    let hLogH = CompensatedPrefix(xlogx)
    // The first non-zero bin at or after k (n if none): the two bins of a chunk with two non-zero bins.
    var nextNonzero = [Int](repeating: n, count: n + 1)
    for b in stride(from: n - 1, through: 0, by: -1) { nextNonzero[b] = h[b] > 0 ? b : nextNonzero[b + 1] }
    // Merge cost of the pair (a, a + 1), and its stride-2 prefix sums (pair regime only).
    var pairPrefix: CompensatedPrefix?
    var pairCost: [Double] = []
    if n > nq {
        pairCost = [Double](repeating: 0, count: n - 1)
        for a in 0..<(n - 1) where h[a] > 0 && h[a + 1] > 0 { pairCost[a] = pairMergeCost(h[a], h[a + 1]) }
        pairPrefix = CompensatedPrefix(pairCost, stride: 2)
    }
    for i in first...n {
        let tail = total - count[i], last = h[i - 1]
        if last == 0 && tail > 0 { continue }  // p[i-1] = tail > 0 = q[i-1]: KL = inf
        // (h + T) log(1 + T / h) + P log(1 - T / P); 0 without a tail.
        var kl = tail > 0 ? (last + tail) * log1p(tail / last) + total * log1p(-tail / total) : 0
        if i <= nq { out[i - first] = kl; continue }
        var d = 0.0
        if i < 2 * nq {
            let pairs = i - nq, singles = nq - pairs
            // Without a tail, candidates whose chunks group the non-zero bins alike tie exactly (as in
            // TensorRT's loop): sum the same pair costs in the same order, never prefix differences.
            if pairs <= singles || tail == 0 {
                let step = i / pairs, rem = i % pairs
                var a = 0, r = 0
                for _ in 0..<pairs {
                    d += pairCost[a]
                    a += step
                    r += rem
                    if r >= pairs { a += 1; r -= pairs }
                }
            } else {
                let pp = pairPrefix!
                var prev = -1  // the previous single bin
                for r in 1...singles {
                    let j = (r * nq + singles - 1) / singles - 1
                    let s = j + (j * pairs + nq - 1) / nq
                    if s - prev > 2 { d += pp.range(prev + 1, s) }  // pairs at prev + 1, prev + 3, ..., s - 2
                    prev = s
                }
            }
        } else {
            var s = 0
            for j in 0..<nq {
                let e = ((j + 1) * i + nq - 1) / nq  // chunk j: bins [ceil(j i / nq), ceil((j + 1) i / nq))
                let z = nonzero[e] - nonzero[s]
                if z == 2 {  // as in the pair regime, so equal groupings give equal sums
                    let a = nextNonzero[s]
                    d += pairMergeCost(h[a], h[nextNonzero[a + 1]])
                } else if z > 2 {
                    let c = count[e] - count[s]
                    d += hLogH.range(s, e) - c * log(c / Double(z))
                }
                if j == nq - 1 && tail > 0 {  // the chunk of bin i - 1: q[i-1] = c / z
                    kl += tail * log(last * Double(z) / (count[e] - count[s]))
                }
                s = e
            }
        }
        out[i - first] = d + kl
    }
    return out
}

/// TensorRT's entropy threshold (SQ_METHOD_ENTROPY) over an |x| histogram `h` of bin width `width` for
/// `levels` = qmax + 1 levels (TensorRT's 1 << (num_bits - 1 + unsigned)): i * width for the i minimising
/// tensorRTEntropyCurve, the largest i on ties (TensorRT's last argmin); h.count * width when h has fewer
/// than 128 bins (TensorRT has no candidate then) or every candidate is infinite.
func entropyThresholdTensorRT(_ h: [Double], width: Double, levels: Int) -> Double {
    var best = Double.infinity, bestI = h.count
    for (k, v) in tensorRTEntropyCurve(h, levels: levels).enumerated() where v <= best {
        best = v
        bestI = k + tensorRTEntropyStartBin
    }
    return Double(bestI) * width
}

/// Expected squared quantize -> dequantize error of a histogram (bin centres `centre(b)`) for the
/// candidate range [lo, hi]: S^2 / 12 for each value inside, the squared distance to the range outside.
struct MSEObjective {
    let h: [Double]
    let first: Double, width: Double
    // Prefix sums of n, n c, n c^2 over bin centres c.
    private var n0: [Double], n1: [Double], n2: [Double]

    init(_ h: [Double], first: Double, width: Double) {
        self.h = h
        self.first = first
        self.width = width
        n0 = [0]; n1 = [0]; n2 = [0]
        for (b, c) in h.enumerated() {
            let x = first + (Double(b) + 0.5) * width
            n0.append(n0[b] + c)
            n1.append(n1[b] + c * x)
            n2.append(n2[b] + c * x * x)
        }
    }

    /// Error with bins [0, i) clipped to lo, [i, j) inside, [j, n) clipped to hi; `step` is the scale S.
    func error(i: Int, j: Int, lo: Double, hi: Double, step: Double) -> Double {
        let below = n2[i] - 2 * lo * n1[i] + lo * lo * n0[i]
        let k = h.count
        let above = (n2[k] - n2[j]) - 2 * hi * (n1[k] - n1[j]) + hi * hi * (n0[k] - n0[j])
        return Swift.max(below, 0) + Swift.max(above, 0) + (n0[j] - n0[i]) * step * step / 12
    }
}

/// The candidate range minimising MSEObjective. Symmetric: h is |x| over [0, amax], candidates [-T, T]
/// with T a bin edge. Asymmetric: h is x over [first, first + n w], candidates pairs of bin edges (zero
/// always inside), searched on a coarse grid and refined around the best cell.
func mseRange(_ h: [Double], first: Double, width: Double, dtype: DType, symmetric: Bool) -> (Double, Double) {
    let n = h.count
    let obj = MSEObjective(h, first: first, width: width)
    let qmin = Double(dtype.qmin), qmax = Double(dtype.qmax)
    if symmetric {
        let levels = dtype.isSigned ? 2 * qmax : qmax - qmin
        var best = Double.infinity, bestT = Double(n) * width
        for j in 1...n {
            let t = Double(j) * width
            // |x| below T is inside; bins at or above j are clipped to T (i = 0: nothing clipped below).
            let e = obj.error(i: 0, j: j, lo: 0, hi: t, step: 2 * t / levels)
            if e < best { best = e; bestT = t }
        }
        return (-bestT, bestT)
    }
    /// The range [min(lo, 0), max(hi, 0)] for bin edges i < j; bins are inside when their centre is.
    func effective(_ i: Int, _ j: Int) -> (Double, Double) {
        (Swift.min(first + Double(i) * width, 0), Swift.max(first + Double(j) * width, 0))
    }
    func cost(_ i: Int, _ j: Int) -> Double {
        let (lo, hi) = effective(i, j)
        // Number of bins whose centre lies below lo, and at or below hi.
        let below = Swift.min(Swift.max(Int(((lo - first) / width - 0.5).rounded(.up)), 0), n)
        let upTo = Swift.min(Swift.max(Int(((hi - first) / width - 0.5).rounded(.down)) + 1, below), n)
        return obj.error(i: below, j: upTo, lo: lo, hi: hi, step: (hi - lo) / (qmax - qmin))
    }
    let step = Swift.max(1, n / 256)
    var best = Double.infinity, bi = 0, bj = n
    for i in stride(from: 0, to: n, by: step) {
        for j in stride(from: n, to: i, by: -step) {
            let e = cost(i, j)
            if e < best { best = e; bi = i; bj = j }
        }
    }
    let (ci, cj) = (bi, bj)
    for i in Swift.max(0, ci - step)...Swift.min(n - 1, ci + step) {
        for j in stride(from: Swift.max(i + 1, cj - step), through: Swift.min(n, cj + step), by: 1) {
            let e = cost(i, j)
            if e < best { best = e; bi = i; bj = j }
        }
    }
    return effective(bi, bj)
}
