// Range choice from a histogram: percentile, entropy (TensorRT's KL search, and ONNX Runtime's variant of
// it) and MSE. Each takes the method's num_bins histogram (re-binned from the streaming one) and returns a
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

/// ONNX Runtime's (and MXNet's) entropy threshold (SQ_METHOD_ENTROPY_ORT) over an |x| histogram `h` (bin
/// width `width`) for `levels` quantized levels: the bin count i in levels...h.count minimising
/// KL(smooth(p) || smooth(q)); the largest i on ties. Unlike TensorRT's (entropyThresholdTensorRT) the
/// zero bin keeps its count and both distributions are smoothed. p = h[0..<i] with the tail folded into p[i-1];
/// q = h[0..<i] (no tail) merged into `levels` chunks and spread over the non-zero bins of p. Folding the
/// tail into p but not q is what makes clipping cost something; smoothing (eps = 1e-4 on counts) keeps a
/// tail bin with q = 0 from making KL infinite.
func entropyThresholdORT(_ h: [Double], width: Double, levels: Int) -> Double {
    let n = h.count
    guard n > levels else { return Double(n) * width }
    let eps = 1e-4
    // Prefix sums over h: counts, non-zero bins, and the Taylor terms of (h - e) log(h - e) around h, so
    // that each candidate costs O(levels) instead of O(i) logarithms.
    var sum = [Double](repeating: 0, count: n + 1), nonzero = [Int](repeating: 0, count: n + 1)
    var t0 = sum, t1 = sum, t2 = sum, t3 = sum, t4 = sum
    var minNonzero = [Double](repeating: .infinity, count: n + 1)
    for b in 0..<n {
        let v = h[b]
        let nz = v > 0
        sum[b + 1] = sum[b] + v
        nonzero[b + 1] = nonzero[b] + (nz ? 1 : 0)
        t0[b + 1] = t0[b] + (nz ? v * log(v) : 0)
        t1[b + 1] = t1[b] + (nz ? log(v) + 1 : 0)
        t2[b + 1] = t2[b] + (nz ? 1 / v : 0)
        t3[b + 1] = t3[b] + (nz ? 1 / (v * v) : 0)
        t4[b + 1] = t4[b] + (nz ? 1 / (v * v * v) : 0)
        minNonzero[b + 1] = nz ? Swift.min(minNonzero[b], v) : minNonzero[b]
    }
    let total = sum[n]
    guard total > 0 else { return Double(n) * width }
    /// sum over non-zero h[b], b < k, of (h[b] - e) log(h[b] - e).
    func smoothedPLogP(_ k: Int, _ e: Double) -> Double {
        if e <= 0.01 {  // series through e^4: the remainder is below 1e-11 per bin (h >= 1 or h fractional > e)
            return t0[k] - e * t1[k] + e * e / 2 * t2[k] + e * e * e / 6 * t3[k] + e * e * e * e / 12 * t4[k]
        }
        var acc = 0.0
        for b in 0..<k where h[b] > 0 { acc += (h[b] - e) * log(h[b] - e) }
        return acc
    }
    var best = Double.infinity
    var bestI = n
    var chunkP = [Double](repeating: 0, count: levels), chunkH = chunkP
    var chunkNZ = [Int](repeating: 0, count: levels)
    candidates: for i in levels...n {
        let tail = total - sum[i]
        let last = h[i - 1] + tail  // p[i-1]
        let nzP = nonzero[i - 1] + (last > 0 ? 1 : 0)
        let e = eps * Double(i - nzP) / Double(nzP)
        guard minNonzero[i - 1] > e && (last == 0 || last > e) && sum[i] > 0 else { continue }
        var nzQ = 0
        for j in 0..<levels {
            let s = j * i / levels, t = (j + 1) * i / levels
            chunkH[j] = sum[t] - sum[s]
            chunkP[j] = chunkH[j]
            chunkNZ[j] = nonzero[t] - nonzero[s]
            if t == i {  // the chunk holding p[i-1]
                chunkP[j] += tail
                chunkNZ[j] += (last > 0 ? 1 : 0) - (h[i - 1] > 0 ? 1 : 0)
            }
            if chunkH[j] > 0 { nzQ += chunkNZ[j] }
        }
        let eq = eps * Double(i - nzQ) / Double(nzQ)
        // KL * P = sum p' log p' - sum p' log q' + P log(Q / P); bins where p = 0 have p' = q' = eps.
        var kl = smoothedPLogP(i - 1, e) + (last > 0 ? (last - e) * log(last - e) : 0) + total * log(sum[i] / total)
        for j in 0..<levels where chunkP[j] > 0 {
            let pPart = chunkP[j] - Double(chunkNZ[j]) * e
            if chunkH[j] > 0 {
                let q = chunkH[j] / Double(chunkNZ[j]) - eq
                guard q > 0 else { continue candidates }
                kl -= pPart * log(q)
            } else {
                kl -= pPart * log(eps)  // only p[i-1], holding the tail, in an otherwise empty chunk
            }
        }
        if kl <= best {
            best = kl
            bestI = i
        }
    }
    return Double(bestI) * width
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
