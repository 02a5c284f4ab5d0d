// Min/max of a contiguous run with portable SIMD (SSE2 on the x86-64 baseline, NEON on arm64). It must
// agree exactly with minMaxSegmentReference; it only reports whether a non-finite value was seen, and the
// caller then falls back to the reference to count them.

/// (min, max, allFinite) of x[0..<n]; min/max are +inf / -inf for an empty run.
func minMaxSIMD(_ x: UnsafePointer<Float>, _ n: Int) -> (Float, Float, Bool) {
    typealias V = SIMD8<Float>
    var lo0 = V(repeating: .infinity), lo1 = lo0
    var hi0 = V(repeating: -.infinity), hi1 = hi0
    var poison0 = V(repeating: 0), poison1 = poison0  // v * 0 is NaN exactly when v is NaN or ±inf
    var i = 0
    let raw = UnsafeRawPointer(x)
    while i + 16 <= n {
        let a = raw.loadUnaligned(fromByteOffset: i * 4, as: V.self)
        let b = raw.loadUnaligned(fromByteOffset: (i + 8) * 4, as: V.self)
        // select(a < lo, a, lo) is a single minps/fmin; NaN never wins a comparison.
        lo0 = lo0.replacing(with: a, where: a .< lo0)
        lo1 = lo1.replacing(with: b, where: b .< lo1)
        hi0 = hi0.replacing(with: a, where: a .> hi0)
        hi1 = hi1.replacing(with: b, where: b .> hi1)
        poison0 += a * 0
        poison1 += b * 0
        i += 16
    }
    let lo = lo0.replacing(with: lo1, where: lo1 .< lo0), hi = hi0.replacing(with: hi1, where: hi1 .> hi0)
    var mn = lo.min(), mx = hi.max()
    // The poison lanes alone decide: a block of NaNs leaves lo/hi untouched (NaN never wins a comparison),
    // so min/max cannot tell it from an empty run.
    var finite = (poison0 + poison1).sum() == 0
    while i < n {
        let v = x[i]
        if !v.isFinite { finite = false }
        if v < mn { mn = v }
        if v > mx { mx = v }
        i += 1
    }
    return (mn, mx, finite)
}
