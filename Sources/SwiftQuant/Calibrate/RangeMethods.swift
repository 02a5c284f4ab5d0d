// Range choice from a histogram: percentile, entropy (TensorRT's KL search) and MSE. Each takes the
// method's num_bins histogram (re-binned from the streaming one) and returns a clipping range;
// swiftquant.h ("Calibration observers") states each definition exactly.

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

/// TensorRT's entropy threshold over an |x| histogram `h` (bin width `width`) for `levels` quantized
/// levels: the bin count i in levels...h.count minimising KL(p || q); the largest i on ties.
/// p = h[0..<i] with the tail folded into p[i-1]; q = h[0..<i] (no tail) merged into `levels` chunks and
/// spread over the non-zero bins of p. Folding the tail into p but not into q is what makes clipping cost
/// something: with q built from p, i = levels would give q = p and KL = 0.
func entropyThreshold(_ h: [Double], width: Double, levels: Int) -> Double {
    let n = h.count
    guard n > levels else { return Double(n) * width }
    // Prefix sums make each candidate O(levels). With P = |p| (the total) and Q = |q| = sum(h[0..<i]):
    // KL * P = sum p log p - sum_chunks (chunk sum of p) log(chunk sum of h / non-zero bins) + P log(Q / P).
    var sum = [Double](repeating: 0, count: n + 1)
    var nonzero = [Int](repeating: 0, count: n + 1)
    var plogp = [Double](repeating: 0, count: n + 1)
    for b in 0..<n {
        sum[b + 1] = sum[b] + h[b]
        nonzero[b + 1] = nonzero[b] + (h[b] > 0 ? 1 : 0)
        plogp[b + 1] = plogp[b] + (h[b] > 0 ? h[b] * log(h[b]) : 0)
    }
    let total = sum[n]
    guard total > 0 else { return Double(n) * width }
    var best = Double.infinity
    var bestI = n
    for i in levels...n {
        let tail = total - sum[i]
        let last = h[i - 1] + tail  // p[i-1]
        var kl = plogp[i - 1] + (last > 0 ? last * log(last) : 0) + total * log(sum[i] / total)
        for j in 0..<levels {
            let s = j * i / levels, e = (j + 1) * i / levels
            let hSum = sum[e] - sum[s]
            var pSum = hSum
            var pNonzero = nonzero[e] - nonzero[s]
            if e == i {  // the chunk holding p[i-1]
                pSum += tail
                pNonzero += (last > 0 ? 1 : 0) - (h[i - 1] > 0 ? 1 : 0)
            }
            guard pSum > 0 else { continue }
            // p > 0 where q = 0 (only the tail bin of an otherwise empty chunk): KL is infinite.
            guard hSum > 0 else { kl = .infinity; break }
            kl -= pSum * log(hSum / Double(pNonzero))
        }
        if kl <= best {
            best = kl
            bestI = i
        }
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
