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

/// One group's bins, stored compactly: only the span [first, first + length) that holds nonzero bins, each
/// count in the narrowest width (1, 2, 4 or 8 bytes) that holds the largest count, widened on overflow.
/// Storage only: the bins' meaning (and so every result) is that of the dense histogram.
struct CompactBins {
    var first = 0
    var width = 1            // bytes per count
    var data: [UInt8] = []   // length * width bytes, native byte order
    var length: Int { data.count / width }
    /// Payload bytes (the span at its width): a function of the counts only, so equal however they were batched.
    var bytes: Int { data.count }

    /// Drops the slack `increment` added: the span becomes exactly the nonzero bins again.
    mutating func trim() {
        var lo = first, hi = first + length - 1
        while lo <= hi && count(lo) == 0 { lo += 1 }
        while hi >= lo && count(hi) == 0 { hi -= 1 }
        if lo > hi { self = CompactBins(); return }
        if lo != first || hi != first + length - 1 { relayout(first: lo, last: hi, width: width) }
    }

    @inline(__always)
    func count(_ b: Int) -> Int64 {
        let i = b - first
        guard i >= 0 && i < length else { return 0 }
        return data.withUnsafeBytes { p in
            switch width {
            case 1: return Int64(p.load(fromByteOffset: i, as: UInt8.self))
            case 2: return Int64(p.load(fromByteOffset: 2 * i, as: UInt16.self))
            case 4: return Int64(p.load(fromByteOffset: 4 * i, as: UInt32.self))
            default: return p.load(fromByteOffset: 8 * i, as: Int64.self)
            }
        }
    }

    init() {}

    /// Re-stores the bins `dense` (all `bins` of them) in the smallest span and width.
    init(dense: UnsafeBufferPointer<Int64>) {
        guard let lo = dense.firstIndex(where: { $0 != 0 }), let hi = dense.lastIndex(where: { $0 != 0 }) else { self.init(); return }
        let top = dense[lo...hi].max()!
        self.init(first: lo, width: CompactBins.width(for: top), span: dense[lo...hi])
    }

    private init<C: Collection>(first: Int, width: Int, span: C) where C.Element == Int64 {
        self.first = first
        self.width = width
        data = [UInt8](repeating: 0, count: span.count * width)
        data.withUnsafeMutableBytes { p in
            for (i, c) in span.enumerated() { CompactBins.store(c, p, i, width) }
        }
    }

    @inline(__always)
    private static func width(for c: Int64) -> Int { c <= 0xFF ? 1 : c <= 0xFFFF ? 2 : c <= 0xFFFF_FFFF ? 4 : 8 }

    @inline(__always)
    private static func store(_ c: Int64, _ p: UnsafeMutableRawBufferPointer, _ i: Int, _ width: Int) {
        switch width {
        case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: c), toByteOffset: i, as: UInt8.self)
        case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: c), toByteOffset: 2 * i, as: UInt16.self)
        case 4: p.storeBytes(of: UInt32(truncatingIfNeeded: c), toByteOffset: 4 * i, as: UInt32.self)
        default: p.storeBytes(of: c, toByteOffset: 8 * i, as: Int64.self)
        }
    }

    /// Writes all `bins` bins into `out` (zeroed first).
    func expand(into out: UnsafeMutableBufferPointer<Int64>) {
        out.update(repeating: 0)
        for i in 0..<length { out[first + i] = count(first + i) }
    }

    /// Adds one to bin b (0 <= b < bins). Extends the span with slack (half the span, within [0, bins)) so
    /// values arriving in order of |x| cost amortized O(1), and widens counts that would overflow.
    @inline(__always)
    mutating func increment(_ b: Int, bins: Int) {
        let i = b - first
        if i >= 0 && i < length {
            let done: Bool = data.withUnsafeMutableBytes { p in
                switch width {
                case 1:
                    let c = p.load(fromByteOffset: i, as: UInt8.self)
                    if c == .max { return false }
                    p.storeBytes(of: c + 1, toByteOffset: i, as: UInt8.self)
                case 2:
                    let c = p.load(fromByteOffset: 2 * i, as: UInt16.self)
                    if c == .max { return false }
                    p.storeBytes(of: c + 1, toByteOffset: 2 * i, as: UInt16.self)
                case 4:
                    let c = p.load(fromByteOffset: 4 * i, as: UInt32.self)
                    if c == .max { return false }
                    p.storeBytes(of: c + 1, toByteOffset: 4 * i, as: UInt32.self)
                default:
                    // Bins sum to the observer's value count, which is checked against Int64.
                    p.storeBytes(of: p.load(fromByteOffset: 8 * i, as: Int64.self) + 1, toByteOffset: 8 * i, as: Int64.self)
                }
                return true
            }
            if done { return }
            relayout(first: first, last: first + length - 1, width: width * 2)
        } else {
            let slack = length / 2
            if length == 0 {
                relayout(first: b, last: b, width: width)
            } else if i < 0 {
                relayout(first: Swift.max(0, b - slack), last: first + length - 1, width: width)
            } else {
                relayout(first: first, last: Swift.min(bins - 1, b + slack), width: width)
            }
        }
        increment(b, bins: bins)
    }

    private mutating func relayout(first f: Int, last l: Int, width w: Int) {
        let old = self
        self = CompactBins(first: f, width: w, span: (f...l).lazy.map { old.count($0) })
    }
}

/// Histograms of `groups` groups, `bins` bins each (each group's stored compactly).
struct GroupHistograms {
    static let empty = Int32.min
    let bins: Int
    var exponents: [Int32]   // `empty` until the group sees a finite value
    var rows: [CompactBins]

    init(groups: Int, bins: Int) {
        self.bins = bins
        exponents = [Int32](repeating: GroupHistograms.empty, count: groups)
        rows = [CompactBins](repeating: CompactBins(), count: groups)
    }

    /// All groups' bins, dense (for tests and the dense serialization).
    var counts: [Int64] {
        var out = [Int64](repeating: 0, count: rows.count * bins)
        out.withUnsafeMutableBufferPointer { all in
            for g in 0..<rows.count { rows[g].expand(into: UnsafeMutableBufferPointer(rebasing: all[g * bins ..< (g + 1) * bins])) }
        }
        return out
    }

    /// Bytes the bins take now.
    var storedBytes: Int { rows.reduce(0) { $0 + $1.bytes + MemoryLayout<CompactBins>.stride } }

    /// Trims every group's span (after a batch: the state is then canonical, independent of batching).
    mutating func trim() { for g in 0..<rows.count { rows[g].trim() } }

    func count(group g: Int, bin b: Int) -> Int64 { rows[g].count(b) }

    /// Replaces group g's bins with `dense` (`bins` of them).
    mutating func setBins(group g: Int, _ dense: [Int64]) {
        rows[g] = dense.withUnsafeBufferPointer { CompactBins(dense: $0) }
    }

    /// Raises group g's range to 2^e (e >= its current exponent), merging runs of bins.
    mutating func grow(group g: Int, to e: Int32) {
        let cur = exponents[g]
        if cur == GroupHistograms.empty { exponents[g] = e; return }
        guard e > cur else { return }
        var tmp = [Int64](repeating: 0, count: bins)
        let bins = self.bins
        tmp.withUnsafeMutableBufferPointer { t in
            rows[g].expand(into: t)
            GroupHistograms.merge(runsOf: Int(Swift.min(e - cur, 62)), t.baseAddress!, bins: bins)
            rows[g] = CompactBins(dense: UnsafeBufferPointer(t))
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
        let bins = self.bins
        var g = g0
        // v * half / 2^e is exact in Double (24 + 17 bits), so bin edges are exact powers-of-two
        // fractions; adding half makes it non-negative so truncation is floor.
        var scale = exponents[g] == GroupHistograms.empty ? 0 : halfD / powerOfTwo(exponents[g])
        for i in 0..<length {
            if stride != 0 {
                g = g0 + i
                scale = exponents[g] == GroupHistograms.empty ? 0 : halfD / powerOfTwo(exponents[g])
            }
            let v = x[i]
            if !v.isFinite { continue }
            rows[g].increment(Int(Double(v) * scale + halfD), bins: bins)
        }
    }

    /// Adds another set of histograms with the same layout (exact: both are brought to the larger range).
    mutating func merge(_ other: GroupHistograms) {
        var tmp = [Int64](repeating: 0, count: bins)
        var mine = [Int64](repeating: 0, count: bins)
        let bins = self.bins
        for g in 0..<exponents.count {
            let oe = other.exponents[g]
            if oe == GroupHistograms.empty { continue }
            let target = exponents[g] == GroupHistograms.empty ? oe : Swift.max(exponents[g], oe)
            grow(group: g, to: target)
            tmp.withUnsafeMutableBufferPointer { t in
                mine.withUnsafeMutableBufferPointer { m in
                    other.rows[g].expand(into: t)
                    if target > oe { GroupHistograms.merge(runsOf: Int(Swift.min(target - oe, 62)), t.baseAddress!, bins: bins) }
                    rows[g].expand(into: m)
                    for b in 0..<bins { m[b] += t[b] }
                    rows[g] = CompactBins(dense: UnsafeBufferPointer(m))
                }
            }
        }
    }

    /// Group g's counts folded to |x|: bins/2 bins of width 2^e / (bins/2) from 0.
    func absoluteCounts(group g: Int) -> [Double] {
        let half = bins / 2
        let r = rows[g]
        return (0..<half).map { j in Double(r.count(half + j) + r.count(half - 1 - j)) }
    }

    /// Width of one bin of group g.
    func binWidth(group g: Int) -> Double { powerOfTwo(exponents[g]) / Double(bins / 2) }

    func signedCounts(group g: Int) -> [Double] { let r = rows[g]; return (0..<bins).map { Double(r.count($0)) } }
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
