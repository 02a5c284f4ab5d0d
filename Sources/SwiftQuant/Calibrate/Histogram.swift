// Streaming histograms with exact re-binning. A group's histogram has `bins` (= 8 * num_bins) bins of x
// over [-R, R), R = 2^e the smallest power of two above max|x| seen so far. Growing R by 2^k merges each
// run of 2^k bins into one, so counts never split and never drift: the histogram depends only on the data
// (not on how it was batched), and two histograms merge exactly.

/// Smallest exponent e with 2^e > a (a finite, >= 0), at least the exponent of the smallest normal Float.
@inline(__always)
func histogramExponent(_ a: Float) -> Int32 {
    guard a >= Float.leastNormalMagnitude else { return Int32(Float.leastNormalMagnitude.exponent) }
    return Int32(a.exponent) + 1
}

/// 2^e as a Double (exact).
@inline(__always)
func powerOfTwo(_ e: Int32) -> Double { Double(sign: .plus, exponent: Int(e), significand: 1) }

/// Histograms of `groups` groups, `bins` bins each, stored contiguously.
struct GroupHistograms {
    static let empty = Int32.min
    let bins: Int
    var exponents: [Int32]   // `empty` until the group sees a finite value
    var counts: [Int64]

    init(groups: Int, bins: Int) {
        self.bins = bins
        exponents = [Int32](repeating: GroupHistograms.empty, count: groups)
        counts = [Int64](repeating: 0, count: groups * bins)
    }

    /// Raises group g's range to 2^e (e >= its current exponent), merging runs of bins.
    mutating func grow(group g: Int, to e: Int32) {
        let cur = exponents[g]
        if cur == GroupHistograms.empty { exponents[g] = e; return }
        guard e > cur else { return }
        let bins = self.bins
        counts.withUnsafeMutableBufferPointer { all in
            GroupHistograms.merge(runsOf: Int(Swift.min(e - cur, 62)), all.baseAddress! + g * bins, bins: bins)
        }
        exponents[g] = e
    }

    /// Bin b holds [(b - half) w, (b - half + 1) w); after growing the range by 2^shift it belongs to
    /// half + floor((b - half) / 2^shift). Walking away from the centre never overwrites a bin before it
    /// has been moved.
    private static func merge(runsOf shift: Int, _ c: UnsafeMutablePointer<Int64>, bins: Int) {
        let half = bins / 2
        for b in half..<bins {
            let t = half + ((b - half) >> shift)
            if t != b { c[t] += c[b]; c[b] = 0 }
        }
        for b in stride(from: half - 1, through: 0, by: -1) {
            let t = half + ((b - half) >> shift)
            if t != b { c[t] += c[b]; c[b] = 0 }
        }
    }

    /// Counts the finite values of one segment (group g, or one group per element when `stride` is 1).
    mutating func add(_ x: UnsafePointer<Float>, _ length: Int, group g0: Int, stride: Int) {
        let half = bins / 2
        let halfD = Double(half)
        exponents.withUnsafeBufferPointer { exps in
            counts.withUnsafeMutableBufferPointer { all in
                var g = g0
                // v * half / 2^e is exact in Double (24 + 17 bits), so bin edges are exact powers-of-two
                // fractions; adding half makes it non-negative so truncation is floor.
                var scale = exps[g] == GroupHistograms.empty ? 0 : halfD / powerOfTwo(exps[g])
                var c = all.baseAddress! + g * bins
                for i in 0..<length {
                    if stride != 0 {
                        g = g0 + i
                        scale = exps[g] == GroupHistograms.empty ? 0 : halfD / powerOfTwo(exps[g])
                        c = all.baseAddress! + g * bins
                    }
                    let v = x[i]
                    if !v.isFinite { continue }
                    c[Int(Double(v) * scale + halfD)] += 1
                }
            }
        }
    }

    /// Adds another set of histograms with the same layout (exact: both are brought to the larger range).
    mutating func merge(_ other: GroupHistograms) {
        var tmp = [Int64](repeating: 0, count: bins)
        for g in 0..<exponents.count {
            let oe = other.exponents[g]
            if oe == GroupHistograms.empty { continue }
            let target = exponents[g] == GroupHistograms.empty ? oe : Swift.max(exponents[g], oe)
            grow(group: g, to: target)
            for b in 0..<bins { tmp[b] = other.counts[g * bins + b] }
            if target > oe {
                let bins = self.bins
                tmp.withUnsafeMutableBufferPointer { GroupHistograms.merge(runsOf: Int(Swift.min(target - oe, 62)), $0.baseAddress!, bins: bins) }
            }
            for b in 0..<bins { counts[g * bins + b] += tmp[b] }
        }
    }

    /// Group g's counts folded to |x|: bins/2 bins of width 2^e / (bins/2) from 0.
    func absoluteCounts(group g: Int) -> [Double] {
        let half = bins / 2
        return (0..<half).map { j in Double(counts[g * bins + half + j] + counts[g * bins + half - 1 - j]) }
    }

    /// Width of one bin of group g.
    func binWidth(group g: Int) -> Double { powerOfTwo(exponents[g]) / Double(bins / 2) }

    func signedCounts(group g: Int) -> [Double] { (0..<bins).map { Double(counts[g * bins + $0]) } }
}

/// Re-bins counts from bins [start + b w, start + (b + 1) w) to `n` bins over [lo, hi], splitting each
/// source bin in proportion to its overlap with each target bin, then rounding to whole counts. Splitting
/// avoids the aliasing of whole-bin assignment (target bins alternately getting one or two source bins);
/// rounding keeps counts whole, as a histogram of the data itself would be. The part of a source bin
/// outside [lo, hi] holds no data (lo and hi are the data's extremes), so its count goes to the inside part.
func rebin(_ src: [Double], start: Double, width: Double, lo: Double, hi: Double, n: Int) -> [Double] {
    var out = [Double](repeating: 0, count: n)
    let tw = (hi - lo) / Double(n)
    for (b, c) in src.enumerated() where c != 0 {
        let a0 = Swift.min(Swift.max(start + Double(b) * width, lo), hi)
        let a1 = Swift.min(Swift.max(start + Double(b + 1) * width, lo), hi)
        var t = tw > 0 ? Swift.min(Swift.max(Int((a0 - lo) / tw), 0), n - 1) : 0
        guard a1 > a0 else { out[t] += c; continue }  // only the extreme value itself, at lo or hi
        var pos = a0
        while pos < a1 {
            let end = t == n - 1 ? a1 : Swift.min(a1, lo + Double(t + 1) * tw)
            out[t] += c * (end - pos) / (a1 - a0)
            pos = end
            t += 1
        }
    }
    // Whole counts by rounding the running total, not each bin: no mass is lost or created (a single value
    // split over two bins lands in one of them), so every cumulative count is within 1/2 of the split one.
    var cum = 0.0, prev = 0.0
    for t in 0..<n {
        cum += out[t]
        let r = cum.rounded(.toNearestOrEven)
        out[t] = r - prev
        prev = r
    }
    return out
}
