// AVX-512 codebook quantization (nearest level) over a run of elements that share one codebook, compiled
// for AVX-512 and called only after dispatch (a module apart from the element-wise kernels: see
// Package.swift). The search is branchless binary search over the codebook's decision thresholds, stored
// level by level (Eytzinger order) so that each step is one in-register permute, not a gather. The core
// keeps the plain reference (Codebook/Codebook.swift) and finishes tails with it;
// Tests/SwiftQuantTests/CodebookTests.swift checks this kernel against the nearest-level definition for 22
// codebook sizes from 1 to 256 levels.
#if arch(x86_64)
import _Builtin_intrinsics.intel

/// Floats of one codebook's search tables: levels 0-3 padded to 16 each, then 16, 32, 64 and 128.
public let codebookSearchTableStride = 4 * 16 + 16 + 32 + 64 + 128

@inline(__always) private func levelOffset(_ d: Int) -> Int { d < 4 ? 16 * d : 64 + 16 * ((1 << (d - 4)) - 1) }

/// Fills `tables` (codebookSearchTableStride floats) from w ascending float32 thresholds t (w <= 255) and
/// returns the search depth D = ceil(log2(w + 1)). Level d holds node n's threshold t[(2n + 1) P / 2^(d+1) - 1]
/// with P = 2^D, NaN past t's end: comparisons with NaN are false, so the search never goes past w.
public func codebookSearchTables(thresholds t: UnsafePointer<Float>, count w: Int,
                                 into tables: UnsafeMutablePointer<Float>) -> Int {
    var depth = 0
    while (1 << depth) < w + 1 { depth += 1 }
    tables.initialize(repeating: .nan, count: codebookSearchTableStride)
    let p = 1 << depth
    for d in 0..<depth {
        for node in 0..<(1 << d) {
            let i = (2 * node + 1) * (p >> (d + 1)) - 1
            if i < w { tables[levelOffset(d) + node] = t[i] }
        }
    }
    return depth
}

typealias CF16 = SIMD16<Float>
typealias CI16 = SIMD16<Int32>

@inline(__always) private func permute2(_ a: CF16, _ idx: CI16, _ b: CF16) -> CF16 {
    _mm512_permutex2var_ps(a, unsafeBitCast(idx, to: __m512i.self), b)  // __m512 is SIMD16<Float>
}

/// The thresholds of level d at each lane's node.
@inline(__always) private func lookup(_ tables: UnsafeRawPointer, _ d: Int, _ node: CI16) -> CF16 {
    let base = levelOffset(d) * 4
    if d <= 4 {
        let t = tables.loadUnaligned(fromByteOffset: base, as: CF16.self)
        return _mm512_permutexvar_ps(unsafeBitCast(node, to: __m512i.self), t)
    }
    // 32 thresholds per pair of registers (the permute reads the low 5 bits); higher bits pick the pair.
    var r = permute2(tables.loadUnaligned(fromByteOffset: base, as: CF16.self), node,
                     tables.loadUnaligned(fromByteOffset: base + 64, as: CF16.self))
    let pair = node &>> 5
    for c in 1..<(1 << (d - 5)) {
        let o = base + 128 * c
        let rc = permute2(tables.loadUnaligned(fromByteOffset: o, as: CF16.self), node,
                          tables.loadUnaligned(fromByteOffset: o + 64, as: CF16.self))
        r = r.replacing(with: rc, where: pair .== CI16(repeating: Int32(c)))
    }
    return r
}

/// out[i] = the number of thresholds t with t <= x[i] (the nearest level's index when t[j] is the smallest
/// float32 above the midpoint of levels j and j + 1), for whole 16-lane blocks of x[0..<n]. Returns the
/// elements done and, if a NaN stopped it, its offset.
public func codebookQuantizeAVX512(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<UInt8>, _ n: Int,
                                   tables: UnsafePointer<Float>, depth: Int) -> (done: Int, nanAt: Int?) {
    let raw = UnsafeRawPointer(x), tab = UnsafeRawPointer(tables)
    let one = CI16(repeating: 1), zero = CI16(repeating: 0)
    var i = 0
    while i + 16 <= n {
        let v = raw.loadUnaligned(fromByteOffset: i * 4, as: CF16.self)
        if any(v .!= v) {
            for j in 0..<16 where v[j].isNaN { return (i, i + j) }
        }
        var node = zero
        for d in 0..<depth {
            node = (node &<< 1) &+ zero.replacing(with: one, where: v .>= lookup(tab, d, node))
        }
        UnsafeMutableRawPointer(out + i).storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: node), as: SIMD16<UInt8>.self)
        i += 16
    }
    return (i, nil)
}
#endif
