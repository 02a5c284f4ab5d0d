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
/// levels, as TensorRT, MXNet and ONNX Runtime compute it: the bin count i in levels...h.count minimising
/// KL(smooth(p) || smooth(q)); the largest i on ties. p = h[0..<i] with the tail folded into p[i-1];
/// q = h[0..<i] (no tail) merged into `levels` chunks and spread over the non-zero bins of p. Folding the
/// tail into p but not q is what makes clipping cost something; smoothing (eps = 1e-4 on counts) keeps a
/// tail bin with q = 0 from making KL infinite.
func entropyThreshold(_ h: [Double], width: Double, levels: Int) -> Double {
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
