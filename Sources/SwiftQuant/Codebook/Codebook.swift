// Non-uniform (codebook) quantization: fitting L = 2^bits levels to data (Lloyd-Max / 1-D k-means, or
// power-of-two levels) and mapping values to the index of their nearest level and back. The maths is
// stated in swiftquant.h, "Codebook (non-uniform) quantization"; CAPI/CodebookAPI.swift validates.

/// How codebook levels are fitted (sq_codebook_kind; swiftquant.h gives each rule).
public enum CodebookKind: Int32, CaseIterable, Sendable {
    case lloyd = 0          // Lloyd iterations from the optimal partition of the atoms (optimalLevels)
    case log2 = 1
    case lloydQuantile = 2  // classic Lloyd-Max from the (i + 0.5) / L quantiles

    /// The name the C header's comments and Python use.
    public var name: String {
        switch self {
        case .lloyd: "lloyd"
        case .log2: "log2"
        case .lloydQuantile: "lloyd_quantile"
        }
    }
}

/// Lloyd-Max on one group's sorted, finite values, started from the optimal partition (optimalLevels) or
/// from quantiles. Works on prefix sums, so an iteration costs O(L log n): each decision boundary (midpoint
/// of adjacent levels) is found by binary search and each centroid is a difference of two prefix sums
/// (rangeSum). Returns L levels, ascending, in float32.
func lloydLevels(sorted s: UnsafeBufferPointer<Float>, levels L: Int, maxIter: Int, tol: Double,
                 optimalInit: Bool) -> [Float] {
    let n = s.count
    guard n > 0 else { return [Float](repeating: 0, count: L) }
    // Prefix sums in float64: P[k] = s[0] + ... + s[k-1].
    var prefix = [Double](repeating: 0, count: n + 1)
    var acc = 0.0
    for k in 0..<n {
        acc += Double(s[k])
        prefix[k + 1] = acc
    }
    var c: [Double]
    if optimalInit {
        c = optimalLevels(sorted: s, levels: L)
    } else {
        // Level i: the (i + 0.5) / L quantile, linear interpolation between order statistics (NumPy's
        // default): pos = p (n - 1), c = s[lo] + (pos - lo) (s[lo + 1] - s[lo]).
        c = [Double](repeating: 0, count: L)
        for i in 0..<L {
            let pos = (Double(i) + 0.5) / Double(L) * Double(n - 1)
            let lo = Swift.min(Int(pos), n - 1)
            let hi = Swift.min(lo + 1, n - 1)
            let a = Double(s[lo]), b = Double(s[hi])
            c[i] = a + (pos - Double(lo)) * (b - a)
        }
    }
    // Bounds b[j] = number of values <= (c[j] + c[j+1]) / 2, so cluster j is s[b[j-1] ..< b[j]].
    var bounds = [Int](repeating: -1, count: L + 1)
    var next = [Int](repeating: 0, count: L + 1)
    next[L] = n
    var iter = 0
    while iter < maxIter {
        c.sort()  // a no-op in exact arithmetic (1-D centroids keep their order); guards against rounding
        for j in 0..<(L - 1) {
            let m = (c[j] + c[j + 1]) * 0.5
            // Upper bound of m in s, searched from the previous bound (bounds are non-decreasing).
            var lo = next[j], hi = n
            while lo < hi {
                let mid = (lo + hi) >> 1
                if Double(s[mid]) <= m { lo = mid + 1 } else { hi = mid }
            }
            next[j + 1] = lo
        }
        // Equal levels: the values of the run go to its first level (ties to the lower level).
        if L > 1 {
            for k in stride(from: L - 1, through: 1, by: -1) where c[k - 1] == c[k] { next[k] = next[k + 1] }
        }
        if next == bounds { break }  // no assignment changed
        bounds = next
        var moved = 0.0
        for j in 0..<L where bounds[j + 1] > bounds[j] {
            let cnt = bounds[j + 1] - bounds[j]
            let v = rangeSum(s, prefix, bounds[j], bounds[j + 1]) / Double(cnt)
            moved = Swift.max(moved, Swift.abs(v - c[j]))
            c[j] = v
        }  // an empty cluster keeps its level
        iter += 1
        if moved <= tol { break }
    }
    c.sort()
    return c.map { Float($0) }
}

/// Sum of sorted s[a ..< b] (a < b): the difference of prefix sums when it is accurate to about 2^-30 of
/// the range's largest magnitude, else summed directly. Prefix differences lose small values next to huge
/// ones (data spanning more than float64's 53 bits), which would merge distinct levels; normal data never
/// needs the direct sum, and a cluster that does is small next to the prefix, so it is cheap.
@inline(__always) func rangeSum(_ s: UnsafeBufferPointer<Float>, _ prefix: [Double], _ a: Int, _ b: Int) -> Double {
    let scale = Swift.max(Swift.abs(Double(s[a])), Swift.abs(Double(s[b - 1])))  // sorted: largest at an end
    if Swift.abs(prefix[a]) + Swift.abs(prefix[b]) <= 0x1p22 * Double(b - a) * scale {
        return prefix[b] - prefix[a]
    }
    var t = 0.0
    for k in a..<b { t += Double(s[k]) }
    return t
}

/// Atom budget of optimalLevels: the number of contiguous runs of the sorted data the partition is made of.
/// 64 per level, 1024 to 4096: enough that Lloyd's refinement from there moves little, small enough that the
/// O(L K log K) search stays in milliseconds for the many codebooks of a per-channel fit.
@inline(__always) func codebookAtomBudget(levels L: Int) -> Int { Swift.min(Swift.max(64 * L, 1024), 4096) }

/// Boundaries (indices into s, ascending, first 0, last n) of the atoms optimalLevels partitions. Each atom is
/// a run of equal values when there are at most `budget` distinct values; otherwise the union of budget / 2
/// equal-count cuts (the bulk of the data) and budget / 2 equal-width cuts over [s[0], s[n-1]] (the tails,
/// where equal counts put too few cuts), each moved to the start of its run of equal values.
func codebookAtoms(sorted s: UnsafeBufferPointer<Float>, budget: Int) -> [Int] {
    let n = s.count
    var runs = [0]
    for k in 1..<n where s[k] != s[k - 1] {
        runs.append(k)
        if runs.count > budget { break }
    }
    if runs.count <= budget {
        runs.append(n)
        return runs
    }
    func lowerBound(_ v: Double) -> Int {  // first index with s[k] >= v
        var lo = 0, hi = n
        while lo < hi {
            let mid = (lo + hi) >> 1
            if Double(s[mid]) < v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }
    let half = budget / 2
    var cuts = [Int]()
    cuts.reserveCapacity(2 * half + 2)
    let first = Double(s[0]), width = (Double(s[n - 1]) - first) / Double(half)
    for k in 1..<half {
        cuts.append(lowerBound(Double(s[k * n / half])))   // equal count, at the start of its run
        cuts.append(lowerBound(first + Double(k) * width))  // equal width
    }
    cuts.append(0)
    cuts.append(n)
    cuts.sort()
    var out = [Int]()
    out.reserveCapacity(cuts.count)
    for b in cuts where out.last != b { out.append(b) }
    return out
}

/// Levels of the optimal partition of the atoms of s (sorted, finite, n > 0) into L contiguous clusters: the
/// exact minimum of the squared error over partitions that keep atoms whole (exact 1-D k-means when every
/// atom is one distinct value). Dynamic programming over clusters m and atom prefixes j,
///   D[m][j] = min over i < j of D[m-1][i] + SSE(atoms i ..< j),
/// with each row found by divide and conquer, which is valid because the best split i is non-decreasing in
/// j for the squared error in 1-D (Gronlund et al., "Fast exact k-means, k-medians and Bregman divergence
/// clustering in 1D", 2017). SSE comes from prefix sums of the centred values in float64. Fewer atoms than
/// levels: one level per atom, the largest repeated. Returns L levels ascending (the cluster means).
func optimalLevels(sorted s: UnsafeBufferPointer<Float>, levels L: Int) -> [Double] {
    let n = s.count
    let atoms = codebookAtoms(sorted: s, budget: codebookAtomBudget(levels: L))
    let K = atoms.count - 1
    var mean = 0.0
    for v in s { mean += Double(v) }
    mean /= Double(n)
    // Prefix sums over atoms: W = count, A = sum of (v - mean), Q = sum of (v - mean)^2.
    var W = [Double](repeating: 0, count: K + 1)
    var A = W, Q = W
    for a in 0..<K {
        var sa = 0.0, sq = 0.0
        for k in atoms[a]..<atoms[a + 1] {
            let d = Double(s[k]) - mean
            sa += d
            sq += d * d
        }
        W[a + 1] = W[a] + Double(atoms[a + 1] - atoms[a])
        A[a + 1] = A[a] + sa
        Q[a + 1] = Q[a] + sq
    }
    let M = Swift.min(L, K)  // clusters used
    var levels = [Double](repeating: 0, count: L)
    W.withUnsafeBufferPointer { W in A.withUnsafeBufferPointer { A in Q.withUnsafeBufferPointer { Q in
        @inline(__always) func sse(_ i: Int, _ j: Int) -> Double {
            let w = W[j] - W[i], a = A[j] - A[i]
            return Swift.max(Q[j] - Q[i] - a * a / w, 0)  // atoms are never empty, so w > 0
        }
        var prev = [Double](repeating: .infinity, count: K + 1)
        var cur = prev
        for j in 1...K { prev[j] = sse(0, j) }
        // split[(m - 1) * (K + 1) + j]: where the last of m clusters over atoms 0 ..< j starts (m >= 2).
        var split = [Int32](repeating: 0, count: M * (K + 1))
        var m = 2
        while m <= M {
            let row = (m - 1) * (K + 1)
            // Row m over j in [m, K] (each cluster needs an atom); the last row only needs j = K.
            var stack: [(Int, Int, Int, Int)] = [(m == M ? K : m, K, m - 1, K - 1)]
            while let top = stack.popLast() {
                let (jlo, jhi, olo, ohi) = top
                let j = (jlo + jhi) >> 1
                var best = Double.infinity, arg = olo
                for i in olo...Swift.min(ohi, j - 1) {
                    let v = prev[i] + sse(i, j)
                    if v < best { best = v; arg = i }
                }
                cur[j] = best
                split[row + j] = Int32(arg)
                if jlo < j { stack.append((jlo, j - 1, olo, arg)) }
                if j < jhi { stack.append((j + 1, jhi, arg, ohi)) }
            }
            swap(&prev, &cur)
            m += 1
        }
        // Walk back from the whole range: cluster m - 1 is atoms split ..< j. Its mean is summed directly
        // (O(n) once): prefix differences would lose small values next to huge ones.
        var j = K
        for m in stride(from: M, through: 1, by: -1) {
            let i = m == 1 ? 0 : Int(split[(m - 1) * (K + 1) + j])
            var t = 0.0
            for k in atoms[i]..<atoms[j] { t += Double(s[k]) }
            levels[m - 1] = t / Double(atoms[j] - atoms[i])
            j = i
        }
    } } }
    for m in M..<L { levels[m] = levels[M - 1] }
    return levels
}

/// Power-of-two levels for a group whose largest magnitude is m (finite, >= 0). With P = L/2 - 1 and e the
/// exponent of the power of two nearest to m in log2 (at most 127): ascending
/// -2^e, ..., -2^(e-P), 0, 2^(e-P+1), ..., 2^e. Magnitudes below float32's range become 0.
func log2Levels(maxAbs m: Float, levels L: Int) -> [Float] {
    guard m > 0 else { return [Float](repeating: 0, count: L) }
    // m = f * 2^k with f in [0.5, 1): log2(m) = k + log2(f); the nearest integer is k when
    // f >= sqrt(1/2), else k - 1 (a float32 f never equals the irrational sqrt(1/2)).
    let k = Int(m.exponent) + 1
    let f = Double(m.significand) / 2
    var e = f >= 0.70710678118654752 ? k : k - 1
    e = Swift.min(e, 127)
    let p = L / 2 - 1
    func pow2(_ x: Int) -> Float { x < -149 ? 0 : Float(sign: .plus, exponent: x, significand: 1) }
    var out: [Float] = []
    out.reserveCapacity(L)
    for i in 0...p { out.append(0 - pow2(e - i)) }       // -2^e ... -2^(e-P) (0 - x: no -0.0)
    out.append(0)
    for i in stride(from: p - 1, through: 0, by: -1) { out.append(pow2(e - i)) }  // 2^(e-P+1) ... 2^e
    return out
}

/// Sorts finite floats ascending. Large inputs use an LSD radix sort (3 passes of 11 bits) on order-preserving
/// keys (flip all bits of negatives, the sign bit of the rest): O(n) instead of O(n log n) comparisons.
func sortFloats(_ a: UnsafeMutableBufferPointer<Float>) {
    let n = a.count
    guard n >= 1 << 12 else {
        var s = a
        s.sort()
        return
    }
    let keys = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
    let tmp = UnsafeMutablePointer<UInt32>.allocate(capacity: n)
    defer {
        keys.deallocate()
        tmp.deallocate()
    }
    for i in 0..<n {
        let b = a[i].bitPattern
        keys[i] = b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000
    }
    var src = keys, dst = tmp
    var counts = [Int](repeating: 0, count: 2048)
    for shift in [0, 11, 22] as [UInt32] {
        for j in 0..<2048 { counts[j] = 0 }
        for i in 0..<n { counts[Int((src[i] >> shift) & 2047)] += 1 }
        var total = 0
        for j in 0..<2048 {
            let c = counts[j]
            counts[j] = total
            total += c
        }
        for i in 0..<n {
            let k = src[i]
            let d = Int((k >> shift) & 2047)
            dst[counts[d]] = k
            counts[d] += 1
        }
        swap(&src, &dst)
    }
    for i in 0..<n {
        let k = src[i]
        a[i] = Float(bitPattern: k & 0x8000_0000 != 0 ? k & 0x7FFF_FFFF : ~k)
    }
}

/// Fits `L` levels per group of `layout` (per tensor or per axis); `levelsOut` holds groups * L floats.
/// x must be finite (checked by the caller).
func fitCodebook(_ x: UnsafePointer<Float>, layout: Layout, levels L: Int, kind: CodebookKind, maxIter: Int,
                 tol: Double, _ levelsOut: UnsafeMutablePointer<Float>) {
    let groups = layout.paramCount
    let per = groups > 0 ? layout.count / groups : 0
    // Gather each group's values contiguously: group g occupies buf[g * per ..< (g + 1) * per].
    var buf = [Float](repeating: 0, count: Swift.max(layout.count, 1))  // never empty: base address below
    buf.withUnsafeMutableBufferPointer { b in
        var fill = [Int](repeating: 0, count: groups)
        layout.forEachSegment { (start: Int, len: Int, p0: Int, stride: Int) in
            if stride == 0 {
                let base = p0 * per + fill[p0]
                for i in 0..<len { b[base + i] = x[start + i] }
                fill[p0] += len
            } else {
                for i in 0..<len {
                    let g = p0 + i
                    b[g * per + fill[g]] = x[start + i]
                    fill[g] += 1
                }
            }
        }
        // Codebooks are independent: one block per codebook on the pool (results do not depend on threads).
        let base = b.baseAddress!
        ThreadPool.shared.parallelFor(groups) { g in
            let seg = UnsafeMutableBufferPointer(start: base + g * per, count: per)
            let lv: [Float]
            switch kind {
            case .lloyd, .lloydQuantile:
                sortFloats(seg)
                lv = lloydLevels(sorted: UnsafeBufferPointer(seg), levels: L, maxIter: maxIter, tol: tol,
                                 optimalInit: kind == .lloyd)
            case .log2:
                var m: Float = 0
                for v in seg { m = Swift.max(m, Swift.abs(v)) }
                lv = log2Levels(maxAbs: m, levels: L)
            }
            for i in 0..<L { levelsOut[g * L + i] = lv[i] }
        }
    }
}

/// idx = the number of midpoints (l[j] + l[j+1]) / 2 (float64) below x, moved to the first of a run of equal
/// levels: the nearest level, ties to the lower index. Returns the flat index of the first NaN, or nil.
func codebookQuantize(_ x: UnsafePointer<Float>, layout: Layout, levels: UnsafePointer<Float>, perGroup L: Int,
                      _ out: UnsafeMutablePointer<UInt8>) -> Int? {
    let groups = layout.paramCount
    // Midpoints per group, L - 1 each.
    var mids = [Double](repeating: 0, count: Swift.max(groups * (L - 1), 1))
    for g in 0..<groups {
        for j in 0..<(L - 1) {
            mids[g * (L - 1) + j] = (Double(levels[g * L + j]) + Double(levels[g * L + j + 1])) * 0.5
        }
    }
    // first[g * L + k]: the lowest index whose level equals level k (ties among equal levels go lowest).
    var first = [UInt8](repeating: 0, count: Swift.max(groups * L, 1))
    for g in 0..<groups {
        for k in 0..<L {
            let f = (k > 0 && levels[g * L + k - 1] == levels[g * L + k]) ? first[g * L + k - 1] : UInt8(k)
            first[g * L + k] = f
        }
    }
    // The fast kernel takes runs that share one codebook (stride 0) of a codebook without repeated levels;
    // its tables are built once per codebook, on first use.
    // Channels on the last axis (inner == 1) give one element per codebook in turn: no such runs.
    let kernel = Registry.activeCodebook
    let fast = kernel.isa != .reference && (layout.granularity == .perTensor || layout.inner >= kernel.block)
    let ts = kernel.tableStride
    var tables = [Float](repeating: 0, count: fast ? Swift.max(groups * ts, 1) : 1)
    var depth = [Int](repeating: -2, count: Swift.max(groups, 1))  // -2: not built, -1: no fast path
    var firstNaN: Int? = nil
    first.withUnsafeBufferPointer { fstBuf in
        mids.withUnsafeBufferPointer { mBuf in
            tables.withUnsafeMutableBufferPointer { tBuf in
                let fst = fstBuf.baseAddress!, m = mBuf.baseAddress!, tab = tBuf.baseAddress!
                /// Quantizes a run: the fast kernel for whole blocks when it can, then the reference.
                func run(_ start: Int, _ len: Int, _ p0: Int, _ stride: Int, depth d: Int) -> Int? {
                    var done = 0
                    if d >= 0 && stride == 0 {
                        let r = kernel.run(x + start, out + start, len, tab + p0 * ts, d)
                        if let nan = r.nanAt { return start + nan }
                        done = r.done
                    }
                    return quantizeRun(x, out, start: start + done, len: len - done, group: p0 + stride * done,
                                       stride: stride, mids: m, first: fst, levels: L)
                }
                func depthOf(_ g: Int) -> Int {
                    if depth[g] == -2 { depth[g] = fast ? kernel.buildTables(levels + g * L, L, tab + g * ts) ?? -1 : -1 }
                    return depth[g]
                }
                let chunk = 1 << 16
                if layout.granularity == .perTensor && layout.count > chunk {
                    // Large single-codebook tensors: chunks on the pool; each chunk records its first NaN.
                    let d = depthOf(0)
                    let chunks = (layout.count + chunk - 1) / chunk
                    let nans = UnsafeMutablePointer<Int>.allocate(capacity: chunks)
                    defer { nans.deallocate() }
                    let count = layout.count
                    ThreadPool.shared.parallelFor(chunks) { c in
                        nans[c] = run(c * chunk, Swift.min(chunk, count - c * chunk), 0, 0, depth: d) ?? -1
                    }
                    for c in 0..<chunks where nans[c] >= 0 {
                        firstNaN = nans[c]
                        break
                    }
                } else {
                    layout.forEachSegment { (start: Int, len: Int, p0: Int, stride: Int) in
                        let d = stride == 0 && len >= kernel.block ? depthOf(p0) : -1
                        let nan = run(start, len, p0, stride, depth: d)
                        if let nan, firstNaN == nil { firstNaN = nan }
                    }
                }
            }
        }
    }
    return firstNaN
}

/// Quantizes x[start ..< start + len], element i with codebook group + stride * i; returns the flat index
/// of the first NaN (its output is 0), or nil.
private func quantizeRun(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<UInt8>, start: Int, len: Int,
                         group p0: Int, stride: Int, mids m: UnsafePointer<Double>, first fst: UnsafePointer<UInt8>,
                         levels L: Int) -> Int? {
    let w = L - 1
    var nan: Int? = nil
    for i in 0..<len {
        let v = x[start + i]
        if v.isNaN {
            if nan == nil { nan = start + i }
            out[start + i] = 0
            continue
        }
        let d = Double(v)
        let g = p0 + stride * i
        let base = m + g * w
        var k = 0
        if w <= 16 {
            // Small codebooks: count the midpoints below d without branches (they ascend, so the count is
            // the binary search's answer).
            for j in 0..<w { k &+= base[j] < d ? 1 : 0 }
        } else {
            var hi = w
            while k < hi {
                let mid = (k + hi) >> 1
                if base[mid] < d { k = mid + 1 } else { hi = mid }
            }
        }
        out[start + i] = fst[g * L + k]
    }
    return nan
}

/// x = levels[g * L + idx]. Returns (flat index, value) of the first index >= L, or nil.
func codebookDequantize(_ q: UnsafePointer<UInt8>, layout: Layout, levels: UnsafePointer<Float>, perGroup L: Int,
                        _ out: UnsafeMutablePointer<Float>) -> (Int, Int)? {
    var bad: (Int, Int)? = nil
    layout.forEachSegment { (start: Int, len: Int, p0: Int, stride: Int) in
        for i in 0..<len {
            let k = Int(q[start + i])
            if k >= L {
                if bad == nil { bad = (start + i, k) }
                out[start + i] = 0
                continue
            }
            out[start + i] = levels[(p0 + stride * i) * L + k]
        }
    }
    return bad
}
