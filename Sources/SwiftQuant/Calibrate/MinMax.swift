// Min/max calibration: per-group minimum and maximum over a tensor, then the range rules of
// Params/QParams.swift. Later calibrators (histograms) build on the same per-group walk.

/// Per-group min/max into `mins`/`maxs` (paramCount entries each; groups with no finite value get
/// +inf / -inf). Returns the number of non-finite values, which are skipped.
func minMax(_ x: UnsafePointer<Float>, layout: Layout, mins: UnsafeMutablePointer<Float>, maxs: UnsafeMutablePointer<Float>) -> Int {
    mins.initialize(repeating: .infinity, count: layout.paramCount)
    maxs.initialize(repeating: -.infinity, count: layout.paramCount)
    var nonfinite = 0
    layout.forEachSegment { (start, length, pStart, pStride) in
        if pStride == 0 {
            // The SIMD kernel settles the common all-finite case; the reference counts non-finite values.
            let (lo, hi, finite) = minMaxSIMD(x + start, length)
            if finite {
                mins[pStart] = Swift.min(mins[pStart], lo)
                maxs[pStart] = Swift.max(maxs[pStart], hi)
                return
            }
        }
        nonfinite += minMaxSegmentReference(x + start, length, mins: mins + pStart, maxs: maxs + pStart, paramStride: pStride)
    }
    return nonfinite
}
