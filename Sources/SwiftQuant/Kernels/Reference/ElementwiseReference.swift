// Reference element-wise kernels over one segment (see Layout.forEachSegment): plain, portable Swift.
// They are the oracle that optimized kernels must match bit for bit.

/// The shared core of quantize and fake-quantize: for each element, r = clamp(round(x[i] / s), qmin - z,
/// qmax - z), i.e. q - z, handed to `store(i, r, s, z)`. `paramStride` is 0 (one scale for the segment) or
/// 1 (scale index advances with the element); `index0` is the flat index of x[0] (stochastic rounding).
/// Returns the offset of the first NaN, or nil.
@inline(__always)
func roundSegmentReference(
    _ x: UnsafePointer<Float>, _ length: Int, scale: UnsafePointer<Float>, zeroPoint: UnsafePointer<Int32>?,
    paramStride: Int, qmin: Int32, qmax: Int32, rounding: Rounding, seed: UInt64, index0: Int,
    store: (Int, Float, Float, Int32) -> Void
) -> Int? {
    var s = scale[0]
    var z = zeroPoint?[0] ?? 0
    var lo = Float(qmin - z), hi = Float(qmax - z)
    for i in 0..<length {
        if paramStride != 0 {
            s = scale[i]
            z = zeroPoint?[i] ?? 0
            lo = Float(qmin - z)
            hi = Float(qmax - z)
        }
        let v = x[i] / s  // a true division: x * (1/s) differs in ~1e-6 of elements
        if v.isNaN { return i }
        // Clamping before adding z is the same as saturating after it, and keeps Int32(r) in range (±inf too).
        store(i, Swift.min(Swift.max(rounding.round(v, seed: seed, index: index0 &+ i), lo), hi), s, z)
    }
    return nil
}

/// q[i] = saturate(round(x[i] / s) + z) for one segment (see roundSegmentReference).
@inline(__always)
func quantizeSegmentReference<T: FixedWidthInteger>(
    _ x: UnsafePointer<Float>, _ q: UnsafeMutablePointer<T>, _ length: Int,
    scale: UnsafePointer<Float>, zeroPoint: UnsafePointer<Int32>?, paramStride: Int,
    qmin: Int32, qmax: Int32, rounding: Rounding, seed: UInt64, index0: Int
) -> Int? {
    roundSegmentReference(x, length, scale: scale, zeroPoint: zeroPoint, paramStride: paramStride, qmin: qmin, qmax: qmax,
                          rounding: rounding, seed: seed, index0: index0) { i, r, _, z in
        q[i] = T(truncatingIfNeeded: Int32(r) &+ z)
    }
}

/// y[i] = Float(saturate(round(x[i] / s) + z) - z) * s for one segment: quantize then dequantize without
/// the intermediate buffer. y may be x (in place). Returns the offset of the first NaN, or nil.
@inline(__always)
func fakeQuantizeSegmentReference(
    _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ length: Int,
    scale: UnsafePointer<Float>, zeroPoint: UnsafePointer<Int32>?, paramStride: Int,
    qmin: Int32, qmax: Int32, rounding: Rounding, seed: UInt64, index0: Int
) -> Int? {
    roundSegmentReference(x, length, scale: scale, zeroPoint: zeroPoint, paramStride: paramStride, qmin: qmin, qmax: qmax,
                          rounding: rounding, seed: seed, index0: index0) { i, r, s, _ in
        y[i] = Float(Int32(r)) * s  // q - z is the clamped integer r itself
    }
}

/// x[i] = Float(q[i] - z) * s for one segment. Returns the offset of the first value outside
/// [qmin, qmax] (possible only for 4-bit types stored in a byte), or nil.
@inline(__always)
func dequantizeSegmentReference<T: FixedWidthInteger>(
    _ q: UnsafePointer<T>, _ x: UnsafeMutablePointer<Float>, _ length: Int,
    scale: UnsafePointer<Float>, zeroPoint: UnsafePointer<Int32>?, paramStride: Int,
    qmin: Int32, qmax: Int32, checkRange: Bool
) -> Int? {
    var s = scale[0]
    var z = zeroPoint?[0] ?? 0
    for i in 0..<length {
        if paramStride != 0 {
            s = scale[i]
            z = zeroPoint?[i] ?? 0
        }
        let v = Int32(q[i])
        if checkRange && (v < qmin || v > qmax) { return i }
        x[i] = Float(v - z) * s
    }
    return nil
}

/// Running min/max of one segment into per-group accumulators; non-finite values are counted and skipped.
@inline(__always)
func minMaxSegmentReference(
    _ x: UnsafePointer<Float>, _ length: Int, mins: UnsafeMutablePointer<Float>, maxs: UnsafeMutablePointer<Float>,
    paramStride: Int
) -> Int {
    var nonfinite = 0
    if paramStride == 0 {
        var lo = mins[0], hi = maxs[0]
        for i in 0..<length {
            let v = x[i]
            if !v.isFinite { nonfinite += 1; continue }
            lo = Swift.min(lo, v)
            hi = Swift.max(hi, v)
        }
        mins[0] = lo
        maxs[0] = hi
    } else {
        for i in 0..<length {
            let v = x[i]
            if !v.isFinite { nonfinite += 1; continue }
            mins[i] = Swift.min(mins[i], v)
            maxs[i] = Swift.max(maxs[i], v)
        }
    }
    return nonfinite
}
