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

func quantize(_ x: UnsafePointer<Float>, _ q: UnsafeMutableRawPointer, params p: QParamsView,
              rounding: Rounding, seed: UInt64) throws(SQError) {
    let fast = kernelISA(elementwise: true) >= .avx512
    func nan(_ i: Int) -> SQError { SQError(.nonfinite, "x: element \(i) is NaN (NaN cannot be quantized; ±inf saturate)") }
    func run<T: FixedWidthInteger>(_ out: UnsafeMutablePointer<T>) throws(SQError) {
        try p.layout.forEachSegment { (start, length, pStart, pStride) throws(SQError) in
            let z = p.zeroPoint.map { $0 + pStart }
            var done = 0
            if fast {
                let r = quantizeFast(x + start, UnsafeMutableRawPointer(out + start), length, dtype: p.dtype,
                                     params: SegmentParams(scale: p.scale + pStart, zeroPoint: z, stride: pStride),
                                     rounding: rounding, seed: seed, index0: start)
                if let bad = r.nanAt { throw nan(start + bad) }
                done = r.done
            }
            if let bad = quantizeSegmentReference(
                // The tail's parameters start `done` entries further on when they advance with the elements.
                x + start + done, out + start + done, length - done, scale: p.scale + pStart + done * pStride,
                zeroPoint: z.map { $0 + done * pStride }, paramStride: pStride,
                qmin: p.dtype.qmin, qmax: p.dtype.qmax, rounding: rounding, seed: seed, index0: start + done)
            {
                throw nan(start + done + bad)
            }
        }
    }
    try withStorage(p.dtype, q, int8: run, uint8: run, int16: run, uint16: run)
}

/// Quantize then dequantize in one pass (float -> float), bit-identical to dequantize(quantize(x)).
func fakeQuantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, params p: QParamsView,
                  rounding: Rounding, seed: UInt64) throws(SQError) {
    let fast = kernelISA(elementwise: true) >= .avx512
    try p.layout.forEachSegment { (start, length, pStart, pStride) throws(SQError) in
        let z = p.zeroPoint.map { $0 + pStart }
        var done = 0
        if fast {
            let r = fakeQuantizeFast(x + start, y + start, length, dtype: p.dtype,
                                     params: SegmentParams(scale: p.scale + pStart, zeroPoint: z, stride: pStride),
                                     rounding: rounding, seed: seed, index0: start)
            if let bad = r.nanAt { throw SQError(.nonfinite, "x: element \(start + bad) is NaN (NaN cannot be quantized; ±inf saturate)") }
            done = r.done
        }
        if let bad = fakeQuantizeSegmentReference(
            x + start + done, y + start + done, length - done, scale: p.scale + pStart + done * pStride,
            zeroPoint: z.map { $0 + done * pStride }, paramStride: pStride,
            qmin: p.dtype.qmin, qmax: p.dtype.qmax, rounding: rounding, seed: seed, index0: start + done)
        {
            throw SQError(.nonfinite, "x: element \(start + done + bad) is NaN (NaN cannot be quantized; ±inf saturate)")
        }
    }
}

func dequantize(_ q: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, params p: QParamsView) throws(SQError) {
    let fast = kernelISA(elementwise: true) >= .avx512
    func run<T: FixedWidthInteger>(_ input: UnsafeMutablePointer<T>) throws(SQError) {
        func outside(_ i: Int) -> SQError {
            SQError(.outOfRange, "q: element \(i) is \(Int32(input[i])), outside the \(p.dtype.name) range [\(p.dtype.qmin), \(p.dtype.qmax)]")
        }
        try p.layout.forEachSegment { (start, length, pStart, pStride) throws(SQError) in
            let z = p.zeroPoint.map { $0 + pStart }
            var done = 0
            if fast {
                let r = dequantizeFast(UnsafeRawPointer(input + start), x + start, length, dtype: p.dtype,
                                       params: SegmentParams(scale: p.scale + pStart, zeroPoint: z, stride: pStride))
                if let bad = r.badAt { throw outside(start + bad) }
                done = r.done
            }
            if let bad = dequantizeSegmentReference(
                UnsafePointer(input + start + done), x + start + done, length - done, scale: p.scale + pStart + done * pStride,
                zeroPoint: z.map { $0 + done * pStride },
                paramStride: pStride, qmin: p.dtype.qmin, qmax: p.dtype.qmax, checkRange: p.dtype.needsRangeCheck)
            {
                throw outside(start + done + bad)
            }
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
