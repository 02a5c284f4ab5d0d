// Quantize and dequantize over any granularity: validates nothing (CAPI did), walks the layout's
// segments and hands each to the element-wise kernel for the storage type of the dtype.

/// Calls `body` with the buffer typed as the storage type of `dtype`.
@inline(__always)
func withStorage<R>(
    _ dtype: DType, _ raw: UnsafeMutableRawPointer,
    int8: (UnsafeMutablePointer<Int8>) throws(SQError) -> R,
    uint8: (UnsafeMutablePointer<UInt8>) throws(SQError) -> R,
    int16: (UnsafeMutablePointer<Int16>) throws(SQError) -> R,
    uint16: (UnsafeMutablePointer<UInt16>) throws(SQError) -> R
) throws(SQError) -> R {
    switch dtype {
    case .int8, .int4: return try int8(raw.assumingMemoryBound(to: Int8.self))
    case .uint8, .uint4: return try uint8(raw.assumingMemoryBound(to: UInt8.self))
    case .int16: return try int16(raw.assumingMemoryBound(to: Int16.self))
    case .uint16: return try uint16(raw.assumingMemoryBound(to: UInt16.self))
    }
}

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

func quantize(_ x: UnsafePointer<Float>, _ q: UnsafeMutableRawPointer, params p: QParamsView,
              rounding: Rounding, seed: UInt64) throws(SQError) {
    let fast = kernelISA(elementwise: true) >= .avx512
    func run<T: FixedWidthInteger>(_ out: UnsafeMutablePointer<T>) -> Int? {
        forEachRun(p.layout) { start, length, pi, ps in
            let z = p.zeroPoint.map { $0 + pi }
            var done = 0
            if fast {
                let r = quantizeFast(x + start, UnsafeMutableRawPointer(out + start), length, dtype: p.dtype,
                                     params: SegmentParams(scale: p.scale + pi, zeroPoint: z, stride: ps),
                                     rounding: rounding, seed: seed, index0: start)
                if let bad = r.nanAt { return start + bad }
                done = r.done
            }
            // The tail's parameters start `done` entries further on when they advance with the elements.
            return quantizeSegmentReference(
                x + start + done, out + start + done, length - done, scale: p.scale + pi + done * ps,
                zeroPoint: z.map { $0 + done * ps }, paramStride: ps,
                qmin: p.dtype.qmin, qmax: p.dtype.qmax, rounding: rounding, seed: seed, index0: start + done
            ).map { start + done + $0 }
        }
    }
    if let bad = try withStorage(p.dtype, q, int8: run, uint8: run, int16: run, uint16: run) {
        throw SQError(.nonfinite, "x: element \(bad) is NaN (NaN cannot be quantized; ±inf saturate)")
    }
}

/// Quantize then dequantize in one pass (float -> float), bit-identical to dequantize(quantize(x)).
func fakeQuantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, params p: QParamsView,
                  rounding: Rounding, seed: UInt64) throws(SQError) {
    let fast = kernelISA(elementwise: true) >= .avx512
    let failed = forEachRun(p.layout) { start, length, pi, ps in
        let z = p.zeroPoint.map { $0 + pi }
        var done = 0
        if fast {
            let r = fakeQuantizeFast(x + start, y + start, length, dtype: p.dtype,
                                     params: SegmentParams(scale: p.scale + pi, zeroPoint: z, stride: ps),
                                     rounding: rounding, seed: seed, index0: start)
            if let bad = r.nanAt { return start + bad }
            done = r.done
        }
        return fakeQuantizeSegmentReference(
            x + start + done, y + start + done, length - done, scale: p.scale + pi + done * ps,
            zeroPoint: z.map { $0 + done * ps }, paramStride: ps,
            qmin: p.dtype.qmin, qmax: p.dtype.qmax, rounding: rounding, seed: seed, index0: start + done
        ).map { start + done + $0 }
    }
    if let bad = failed {
        throw SQError(.nonfinite, "x: element \(bad) is NaN (NaN cannot be quantized; ±inf saturate)")
    }
}

func dequantize(_ q: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, params p: QParamsView) throws(SQError) {
    let fast = kernelISA(elementwise: true) >= .avx512
    func run<T: FixedWidthInteger>(_ input: UnsafeMutablePointer<T>) throws(SQError) {
        let failed = forEachRun(p.layout) { start, length, pi, ps in
            let z = p.zeroPoint.map { $0 + pi }
            var done = 0
            if fast {
                let r = dequantizeFast(UnsafeRawPointer(input + start), x + start, length, dtype: p.dtype,
                                       params: SegmentParams(scale: p.scale + pi, zeroPoint: z, stride: ps))
                if let bad = r.badAt { return start + bad }
                done = r.done
            }
            return dequantizeSegmentReference(
                UnsafePointer(input + start + done), x + start + done, length - done, scale: p.scale + pi + done * ps,
                zeroPoint: z.map { $0 + done * ps },
                paramStride: ps, qmin: p.dtype.qmin, qmax: p.dtype.qmax, checkRange: p.dtype.needsRangeCheck
            ).map { start + done + $0 }
        }
        if let i = failed {
            throw SQError(.outOfRange, "q: element \(i) is \(Int32(input[i])), outside the \(p.dtype.name) range [\(p.dtype.qmin), \(p.dtype.qmax)]")
        }
    }
    // The input is only read; the mutable view exists to share withStorage.
    try withStorage(p.dtype, UnsafeMutableRawPointer(mutating: q), int8: run, uint8: run, int16: run, uint16: run)
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
