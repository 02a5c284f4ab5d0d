// Quantize and dequantize over any granularity: validates nothing (CAPI did), walks the layout's
// segments (split across the thread pool when long) and hands each to the operation's active kernel.

/// Elements per chunk below which a run stays on one thread (splitting costs more than it saves).
let parallelGrain = 1 << 17

/// Walks the layout's segments in order, splitting long ones into chunks (multiples of 16 elements, so
/// SIMD blocks stay whole) run on the thread pool. `run(start, length, pIndex, pStride)` handles elements
/// start ..< start + length whose first parameters are at pIndex and returns the flat index of an element
/// it failed on, or nil. Returns the first failing index. Chunks write disjoint outputs and stochastic
/// rounding is keyed by the flat index, so results never depend on the thread count.
func forEachRun(_ layout: Layout, _ run: @escaping (Int, Int, Int, Int) -> Int?) -> Int? {
    var firstBad: Int? = nil
    layout.forEachSegment { (start, length, pStart, pStride) in
        guard firstBad == nil else { return }
        let chunks = Swift.min(ThreadPool.shared.size * 4, length / parallelGrain)
        guard chunks > 1 else {
            firstBad = run(start, length, pStart, pStride)
            return
        }
        let step = (length / chunks + 15) / 16 * 16
        var bad = [Int](repeating: Int.max, count: chunks)
        bad.withUnsafeMutableBufferPointer { b in
            let results = b.baseAddress!
            ThreadPool.shared.parallelFor(chunks) { c in
                let s = c * step, n = Swift.min(step, length - s)
                if n > 0, let i = run(start + s, n, pStart + s * pStride, pStride) { results[c] = i }
            }
        }
        let m = bad.min()!
        if m != Int.max { firstBad = m }
    }
    return firstBad
}

/// Runs `op`'s active kernel (Registry.swift) over every segment of the layout, from `input` to `output`;
/// returns the flat index of the first element it failed on. Float dtypes run the float variant.
private func elementwise(_ op: ElementwiseOp, _ input: UnsafeRawPointer, _ output: UnsafeMutableRawPointer,
                         params p: QParamsView, rounding: Rounding, seed: UInt64, saturate: Bool = true) -> Int? {
    let op = op.forDType(p.dtype)
    let kernel = Registry.table(op).active
    let args = ElementwiseArgs(dtype: p.dtype, rounding: rounding, seed: seed, saturate: saturate)
    let inBytes = op.inputBytes(p.dtype), outBytes = op.outputBytes(p.dtype)
    return forEachRun(p.layout) { start, length, pi, ps in
        let s = Segment(input: input + start * inBytes, output: output + start * outBytes, count: length,
                        scale: p.scale + pi, zeroPoint: p.zeroPoint.map { $0 + pi }, stride: ps, index0: start)
        return runSegment(kernel, s, args).map { start + $0 }
    }
}

/// Float formats round to nearest even only (ONNX); the error names the rounding asked for.
private func checkFloatRounding(_ p: QParamsView, _ r: Rounding) throws(SQError) {
    guard !p.dtype.isFloat || r == .nearestEven else {
        throw SQError(.invalidArgument, "rounding: \(p.dtype.name) rounds to nearest even (ONNX); rounding mode \(r.rawValue) is for the integer dtypes")
    }
}

private func nanError(_ p: QParamsView, _ i: Int) -> SQError {
    if p.dtype.isFloat {
        return SQError(.nonfinite, "x: element \(i) is NaN, and \(p.dtype.name) has no NaN to encode it (only the FP8 formats do)")
    }
    return SQError(.nonfinite, "x: element \(i) is NaN (NaN cannot be quantized; ±inf saturate)")
}

func quantize(_ x: UnsafePointer<Float>, _ q: UnsafeMutableRawPointer, params p: QParamsView,
              rounding: Rounding, seed: UInt64, saturate: Bool = true) throws(SQError) {
    try checkFloatRounding(p, rounding)
    if let bad = elementwise(.quantize, x, q, params: p, rounding: rounding, seed: seed, saturate: saturate) {
        throw nanError(p, bad)
    }
}

/// Quantize then dequantize in one pass (float -> float), bit-identical to dequantize(quantize(x)).
func fakeQuantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, params p: QParamsView,
                  rounding: Rounding, seed: UInt64) throws(SQError) {
    try checkFloatRounding(p, rounding)
    if let bad = elementwise(.fakeQuantize, x, y, params: p, rounding: rounding, seed: seed) {
        throw nanError(p, bad)
    }
}

func dequantize(_ q: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, params p: QParamsView) throws(SQError) {
    if let i = elementwise(.dequantize, q, x, params: p, rounding: .nearestEven, seed: 0) {
        if p.dtype.isFloat {
            throw SQError(.outOfRange, "q: element \(i) is \(q.load(fromByteOffset: i, as: UInt8.self)), not a \(p.dtype.name) code (codes are 0 ... \(p.dtype.qmax))")
        }
        let v = p.dtype.isSigned ? Int32(q.load(fromByteOffset: i, as: Int8.self)) : Int32(q.load(fromByteOffset: i, as: UInt8.self))
        throw SQError(.outOfRange, "q: element \(i) is \(v), outside the \(p.dtype.name) range [\(p.dtype.qmin), \(p.dtype.qmax)]")
    }
}

/// ONNX DynamicQuantizeLinear (uint8), float32 arithmetic as in the ONNX reference.
func dynamicQuantize(_ x: UnsafePointer<Float>, count: Int, _ q: UnsafeMutablePointer<UInt8>) throws(SQError) -> (Float, UInt8) {
    var lo: Float = 0, hi: Float = 0  // the range includes zero
    var nonfinite = 0
    for i in 0..<count {
        let v = x[i]
        if !v.isFinite { nonfinite += 1; continue }
        lo = Swift.min(lo, v)
        hi = Swift.max(hi, v)
    }
    guard nonfinite == 0 else {
        throw SQError(.nonfinite, "x: \(nonfinite) element(s) are NaN or infinite; dynamic quantization needs finite data")
    }
    var scale = (hi - lo) / 255
    if scale.isInfinite { scale = Float((Double(hi) - Double(lo)) / 255) }  // range wider than Float.max
    var zp: Float = 0
    if scale.isNormal {
        zp = Swift.min(Swift.max(-lo / scale, 0), 255).rounded(.toNearestOrEven)
    } else {
        scale = 1  // empty or all-zero data: ONNX would divide by zero
    }
    let s = [scale], z = [Int32(zp)]
    // The data is finite, so the kernel cannot report a NaN.
    _ = quantizeSegmentReference(x, q, count, scale: s, zeroPoint: z, paramStride: 0,
                                 qmin: 0, qmax: 255, rounding: .nearestEven, seed: 0, index0: 0)
    return (scale, UInt8(zp))
}
