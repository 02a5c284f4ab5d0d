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

/// One group's bins, stored compactly in blocks of 64 bins: a block holding no value is not stored, and a
/// stored block keeps its counts in the narrowest width (1, 2, 4 or 8 bytes) that holds its largest count,
/// widened on overflow. A few central bins with large counts so widen only their own blocks, and the sparse
/// tails cost nothing where no value fell. Storage only: the bins' meaning (and so every result) is that of
/// the dense histogram. Counts only grow between rebuilds, so the layout is a function of the counts alone
/// (equal however the data was batched), which is what makes `bytes` and the serialized form canonical.
struct CompactBins {
    static let blockBins = 64
    /// Per block: 0 when absent, else (its byte offset in `data` / 64) << 4 | its width in bytes. Empty
    /// (no allocation) while the group holds no count.
    private(set) var directory: [UInt32] = []
    /// The stored blocks in bin order, 64 counts each at the block's width, native byte order.
    private(set) var data: [UInt8] = []

    /// Bytes held (counts and directory): a function of the counts only.
    var bytes: Int { data.count + 4 * directory.count }
    /// Number of stored blocks.
    var storedBlocks: Int { directory.reduce(0) { $0 + ($1 == 0 ? 0 : 1) } }

    init() {}

    @inline(__always)
    func count(_ b: Int) -> Int64 {
        guard !directory.isEmpty else { return 0 }
        let e = Int(directory[b >> 6])
        guard e != 0 else { return 0 }
        let w = e & 15
        return CompactBins.load(data, ((e >> 4) << 6) + (b & 63) * w, w)
    }

    @inline(__always)
    private static func load(_ data: [UInt8], _ at: Int, _ width: Int) -> Int64 {
        data.withUnsafeBytes { p in
            switch width {
            case 1: return Int64(p.load(fromByteOffset: at, as: UInt8.self))
            case 2: return Int64(p.load(fromByteOffset: at, as: UInt16.self))
            case 4: return Int64(p.load(fromByteOffset: at, as: UInt32.self))
            default: return p.load(fromByteOffset: at, as: Int64.self)
            }
        }
    }

    @inline(__always)
    private static func store(_ c: Int64, _ p: UnsafeMutableRawBufferPointer, _ at: Int, _ width: Int) {
        switch width {
        case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: c), toByteOffset: at, as: UInt8.self)
        case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: c), toByteOffset: at, as: UInt16.self)
        case 4: p.storeBytes(of: UInt32(truncatingIfNeeded: c), toByteOffset: at, as: UInt32.self)
        default: p.storeBytes(of: c, toByteOffset: at, as: Int64.self)
        }
    }

    /// The narrowest width holding counts up to c.
    @inline(__always)
    static func width(for c: Int64) -> Int { c <= 0xFF ? 1 : c <= 0xFFFF ? 2 : c <= 0xFFFF_FFFF ? 4 : 8 }

    /// Re-stores the dense bins `dense` (all of a group's bins).
    init(dense: UnsafeBufferPointer<Int64>) {
        let blocks = (dense.count + 63) / 64
        var widths = [Int](repeating: 0, count: blocks)
        var units = 0
        for k in 0..<blocks {
            let top = dense[(64 * k)..<Swift.min(64 * k + 64, dense.count)].max()!
            if top != 0 { widths[k] = CompactBins.width(for: top); units += widths[k] }
        }
        guard units > 0 else { return }
        directory = [UInt32](repeating: 0, count: blocks)
        data = [UInt8](repeating: 0, count: 64 * units)
        var unit = 0
        data.withUnsafeMutableBytes { p in
            for k in 0..<blocks where widths[k] != 0 {
                let w = widths[k]
                directory[k] = UInt32(unit << 4 | w)
                for i in 0..<Swift.min(64, dense.count - 64 * k) { CompactBins.store(dense[64 * k + i], p, 64 * unit + i * w, w) }
                unit += w
            }
        }
    }

    /// A group from its stored blocks as serialized: `blocks` (index, width) in ascending index order and
    /// their counts, little-endian. The caller has validated the layout and the counts.
    init(blocks: [(index: Int, width: Int)], count: Int, littleEndian bytes: UnsafeBufferPointer<UInt8>) {
        guard !blocks.isEmpty else { return }
        directory = [UInt32](repeating: 0, count: count)
        var unit = 0
        for (k, w) in blocks { directory[k] = UInt32(unit << 4 | w); unit += w }
        data = [UInt8](bytes)
        #if _endian(big)
        CompactBins.swapCounts(&data, directory)
        #endif
    }

    /// The stored blocks, as serialized: (index, width) for each, in index order.
    var blockList: [(index: Int, width: Int)] {
        directory.enumerated().compactMap { k, e in e == 0 ? nil : (k, Int(e & 15)) }
    }

    /// The counts of the stored blocks, little-endian (what the serialization writes).
    var littleEndianData: [UInt8] {
        #if _endian(big)
        var d = data
        CompactBins.swapCounts(&d, directory)
        return d
        #else
        return data
        #endif
    }

    #if _endian(big)
    private static func swapCounts(_ d: inout [UInt8], _ directory: [UInt32]) {
        for e in directory where e != 0 {
            let w = Int(e & 15), start = Int(e >> 4) << 6
            guard w > 1 else { continue }
            for i in 0..<64 { d[(start + i * w)..<(start + (i + 1) * w)].reverse() }
        }
    }
    #endif

    /// Writes all bins into `out` (zeroed first; out.count is the group's bin count).
    func expand(into out: UnsafeMutableBufferPointer<Int64>) {
        out.update(repeating: 0)
        for (k, e) in directory.enumerated() where e != 0 {
            let w = Int(e & 15), start = Int(e >> 4) << 6
            for i in 0..<Swift.min(64, out.count - 64 * k) { out[64 * k + i] = CompactBins.load(data, start + i * w, w) }
        }
    }

    /// Adds one to bin b (0 <= b < bins): O(1) unless the bin's block is new or its count outgrows the
    /// block's width (at most 4 times per block), when the blocks after it move.
    @inline(__always)
    mutating func increment(_ b: Int, bins: Int) {
        if directory.isEmpty { directory = [UInt32](repeating: 0, count: (bins + 63) / 64) }
        let k = b >> 6
        while true {
            let e = Int(directory[k])
            if e == 0 { resize(block: k, to: 1); continue }
            let w = e & 15, at = ((e >> 4) << 6) + (b & 63) * w
            let done: Bool = data.withUnsafeMutableBytes { p in
                switch w {
                case 1:
                    let c = p.load(fromByteOffset: at, as: UInt8.self)
                    if c == .max { return false }
                    p.storeBytes(of: c + 1, toByteOffset: at, as: UInt8.self)
                case 2:
                    let c = p.load(fromByteOffset: at, as: UInt16.self)
                    if c == .max { return false }
                    p.storeBytes(of: c + 1, toByteOffset: at, as: UInt16.self)
                case 4:
                    let c = p.load(fromByteOffset: at, as: UInt32.self)
                    if c == .max { return false }
                    p.storeBytes(of: c + 1, toByteOffset: at, as: UInt32.self)
                default:
                    // Bins sum to the observer's value count, which is checked against Int64.
                    p.storeBytes(of: p.load(fromByteOffset: at, as: Int64.self) + 1, toByteOffset: at, as: Int64.self)
                }
                return true
            }
            if done { return }
            resize(block: k, to: 2 * w)
        }
    }

    /// Stores block k (absent, or narrower) at width w, moving the blocks after it.
    private mutating func resize(block k: Int, to w: Int) {
        let e = Int(directory[k])
        let old = e & 15
        // Where the block is or would go: after the last stored block before it.
        var unit = 0
        if e != 0 {
            unit = e >> 4
        } else if let j = directory[..<k].lastIndex(where: { $0 != 0 }) {
            unit = Int(directory[j] >> 4) + Int(directory[j] & 15)
        }
        var counts = [Int64](repeating: 0, count: 64)
        if old != 0 { for i in 0..<64 { counts[i] = CompactBins.load(data, 64 * unit + i * old, old) } }
        var block = [UInt8](repeating: 0, count: 64 * w)
        block.withUnsafeMutableBytes { p in for i in 0..<64 { CompactBins.store(counts[i], p, i * w, w) } }
        data.replaceSubrange((64 * unit)..<(64 * (unit + old)), with: block)
        directory[k] = UInt32(unit << 4 | w)
        let shift = UInt32((w - old) << 4)
        for j in (k + 1)..<directory.count where directory[j] != 0 { directory[j] += shift }
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

    /// All groups' bins, dense (for tests).
    var counts: [Int64] {
        var out = [Int64](repeating: 0, count: rows.count * bins)
        out.withUnsafeMutableBufferPointer { all in
            for g in 0..<rows.count { rows[g].expand(into: UnsafeMutableBufferPointer(rebasing: all[g * bins ..< (g + 1) * bins])) }
        }
        return out
    }

    /// Bytes the bins take now.
    var storedBytes: Int { rows.reduce(0) { $0 + $1.bytes + MemoryLayout<CompactBins>.stride } }

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
        // v * half / 2^e is exact in Double (a Float times a power of two), so bin edges are exact; its
        // floor is taken before adding half, since the sum rounds (v = -2^-60 with 2^e = 2^10 would give
        // exactly half, the bin of v >= 0) and would put a value in a different bin than the runs that
        // growing the range merges put it in: the histogram would depend on the batching.
        var scale = exponents[g] == GroupHistograms.empty ? 0 : halfD / powerOfTwo(exponents[g])
        if stride == 0 {
            // One group: its storage is moved out of `rows` for the loop, so each increment mutates a
            // uniquely held value instead of going through the array (without it, updates measured 12 %
            // slower than the earlier single-span storage; with it, as fast).
            var row = CompactBins()
            swap(&row, &rows[g])
            defer { swap(&row, &rows[g]) }
            for i in 0..<length where x[i].isFinite {
                row.increment(Int((Double(x[i]) * scale).rounded(.down)) + half, bins: bins)
            }
            return
        }
        for i in 0..<length {
            if stride != 0 {
                g = g0 + i
                scale = exponents[g] == GroupHistograms.empty ? 0 : halfD / powerOfTwo(exponents[g])
            }
            let v = x[i]
            if !v.isFinite { continue }
            rows[g].increment(Int((Double(v) * scale).rounded(.down)) + half, bins: bins)
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
