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
    if let f = p.dtype.format {
        guard rounding == .nearestEven else {
            throw SQError(.invalidArgument, "rounding: \(f.name) rounds to nearest even (ONNX); rounding mode \(rounding.rawValue) is for the integer dtypes")
        }
        return try floatErrorReport(x, params: p, format: f)
    }
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

/// The float formats' statistics: each element is quantized as sq_quantize does (saturating) and decoded;
/// it is clipped when saturation changed it: x / scale rounds beyond the largest finite value (as
/// round(v) + z beyond qmax for the integers). NaN is an error here for every format: it has no error to measure.
private func floatErrorReport(_ x: UnsafePointer<Float>, params p: QParamsView, format f: FloatFormat) throws(SQError) -> [ErrorStats] {
    var groups = [ErrorStats](repeating: ErrorStats(), count: p.layout.paramCount)
    let table = FloatFormatTables.table(f)
    var badAt: Int? = nil
    p.layout.forEachSegment { (start, length, pStart, pStride) in
        guard badAt == nil else { return }
        for i in 0..<length {
            let xi = x[start + i], s = p.scale[pStart + i * pStride]
            let v = xi / s
            guard let c = f.encode(v, saturate: true), !xi.isNaN else { badAt = start + i; return }
            groups[pStart + i * pStride].add(xi, table[Int(c)] * s, clipped: f.roundsBeyondMax(v))
        }
    }
    if let bad = badAt { throw SQError(.nonfinite, "x: element \(bad) is NaN (an error report needs numbers)") }
    return groups
}

/// Error statistics per codebook (layout.paramCount groups) of codebook quantization of x: each element goes
/// to its nearest level exactly as sq_codebook_quantize. An element is clipped when it lies beyond an end
/// level by more than half the gap to that level's neighbour (the codebook's analogue of the uniform range's
/// half step; a one-level codebook clips everything but its level); ±inf are clipped. Single-threaded
/// accumulation in flat element order. Throws .nonfinite for NaN in x.
func codebookErrorReport(_ x: UnsafePointer<Float>, layout: Layout, levels lv: UnsafePointer<Float>,
                         perGroup L: Int) throws(SQError) -> [ErrorStats] {
    let n = layout.count
    let idx = UnsafeMutablePointer<UInt8>.allocate(capacity: Swift.max(n, 1))
    defer { idx.deallocate() }
    if let bad = codebookQuantize(x, layout: layout, levels: lv, perGroup: L, idx) {
        throw SQError(.nonfinite, "x: element \(bad) is NaN (NaN cannot be quantized; ±inf go to the end levels)")
    }
    let groups = layout.paramCount
    var lo = [Double](repeating: 0, count: groups), hi = lo
    for g in 0..<groups {
        let first = Double(lv[g * L]), last = Double(lv[g * L + L - 1])
        lo[g] = L > 1 ? first - (Double(lv[g * L + 1]) - first) * 0.5 : first
        hi[g] = L > 1 ? last + (last - Double(lv[g * L + L - 2])) * 0.5 : last
    }
    var stats = [ErrorStats](repeating: ErrorStats(), count: groups)
    layout.forEachSegment { (start: Int, len: Int, p0: Int, stride: Int) in
        for i in 0..<len {
            let g = p0 + stride * i
            let v = x[start + i]
            let d = Double(v)
            stats[g].add(v, lv[g * L + Int(idx[start + i])], clipped: d < lo[g] || d > hi[g])
        }
    }
    return stats
}
