// Quantization error statistics (swiftquant.h, "Error analysis"): one pass over x that quantizes each
// element exactly as sq_quantize (through roundSegmentReference, so the rounding rules live in one place),
// dequantizes it, and accumulates squared error, signal power, max error and clipping per parameter group.

/// Float64 accumulators of one group. Non-finite x (±inf) is counted in `count`, `clipped` and `infinite`
/// but adds nothing to the sums.
struct ErrorStats: Equatable {
    var sumSqError: Double = 0
    var sumSqSignal: Double = 0
    var maxAbsError: Double = 0
    var sumSqErrorRounding: Double = 0
    var sumSqErrorClipping: Double = 0
    var count: Int = 0
    var clipped: Int = 0
    var infinite: Int = 0

    /// Adds one element: x, its dequantized value, and whether round(x / s) lay outside [qmin - z, qmax - z].
    @inline(__always)
    mutating func add(_ x: Float, _ xHat: Float, clipped isClipped: Bool) {
        count += 1
        if isClipped { clipped += 1 }
        guard x.isFinite else {
            infinite += 1
            return
        }
        let e = Double(x) - Double(xHat)
        let e2 = e * e
        sumSqError += e2
        if isClipped { sumSqErrorClipping += e2 } else { sumSqErrorRounding += e2 }
        sumSqSignal += Double(x) * Double(x)
        maxAbsError = Swift.max(maxAbsError, Swift.abs(e))
    }

    /// Adds another group's statistics (totals from groups).
    mutating func merge(_ o: ErrorStats) {
        sumSqError += o.sumSqError
        sumSqSignal += o.sumSqSignal
        maxAbsError = Swift.max(maxAbsError, o.maxAbsError)
        sumSqErrorRounding += o.sumSqErrorRounding
        sumSqErrorClipping += o.sumSqErrorClipping
        count += o.count
        clipped += o.clipped
        infinite += o.infinite
    }
}

/// Error statistics per parameter entry (p.layout.paramCount groups) of quantizing x with p.
/// Single-threaded and in flat element order, so the float64 sums are deterministic.
/// Throws .nonfinite for NaN in x.
func errorReport(_ x: UnsafePointer<Float>, params p: QParamsView, rounding: Rounding,
                 seed: UInt64) throws(SQError) -> [ErrorStats] {
    var groups = [ErrorStats](repeating: ErrorStats(), count: p.layout.paramCount)
    let qmin = p.dtype.qmin, qmax = p.dtype.qmax
    var badAt: Int? = nil
    groups.withUnsafeMutableBufferPointer { gb in
        let g = gb.baseAddress!
        p.layout.forEachSegment { (start, length, pStart, pStride) in
            guard badAt == nil else { return }
            let xs = x + start
            let bad = roundSegmentReference(
                xs, length, scale: p.scale + pStart, zeroPoint: p.zeroPoint.map { $0 + pStart },
                paramStride: pStride, qmin: qmin, qmax: qmax, rounding: rounding, seed: seed, index0: start
            ) { i, r, s, z in
                // r = q - z (already saturated); x_hat as dequantize computes it.
                let xi = xs[i]
                let xHat = Float(Int32(r)) * s
                // Clipped: saturation changed the value, i.e. round(v) lies outside [qmin - z, qmax - z].
                // Only v outside that range can round outside it, so the rounding is redone (same
                // function, seed and index as the kernel's) only for those rare elements.
                let v = xi / s  // the same float32 division the rounding saw
                let lo = Float(qmin - z), hi = Float(qmax - z)
                var clipped = false
                if v < lo || v > hi {
                    let rv = rounding.round(v, seed: seed, index: start &+ i)
                    clipped = rv < lo || rv > hi
                }
                g[pStart + i * pStride].add(xi, xHat, clipped: clipped)
            }
            if let bad { badAt = start + bad }
        }
    }
    if let bad = badAt {
        throw SQError(.nonfinite, "x: element \(bad) is NaN (NaN cannot be quantized; ±inf saturate)")
    }
    return groups
}
