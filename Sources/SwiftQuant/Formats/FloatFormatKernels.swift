// The float formats' element-wise reference kernels in the segment interface (Kernels/ElementwiseKernels.swift):
// quantize is `encode(x / scale)` (a float32 division, as ONNX), dequantize `decode(code) * scale`.

func floatQuantizeReferenceKernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    let f = a.dtype.format!
    let x = s.input.assumingMemoryBound(to: Float.self), q = s.output.assumingMemoryBound(to: UInt8.self)
    for i in 0..<s.count {
        guard let c = f.encode(x[i] / s.scale[i * s.stride], saturate: a.saturate) else { return (s.count, i) }
        q[i] = c
    }
    return (s.count, nil)
}

func floatDequantizeReferenceKernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    let table = FloatFormatTables.table(a.dtype.format!)
    let q = s.input.assumingMemoryBound(to: UInt8.self), x = s.output.assumingMemoryBound(to: Float.self)
    for i in 0..<s.count {
        let c = Int(q[i])
        guard c < table.count else { return (s.count, i) }
        x[i] = table[c] * s.scale[i * s.stride]
    }
    return (s.count, nil)
}

func floatFakeQuantizeReferenceKernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    let f = a.dtype.format!
    let table = FloatFormatTables.table(f)
    let x = s.input.assumingMemoryBound(to: Float.self), y = s.output.assumingMemoryBound(to: Float.self)
    for i in 0..<s.count {
        let scale = s.scale[i * s.stride]
        guard let c = f.encode(x[i] / scale, saturate: a.saturate) else { return (s.count, i) }
        y[i] = table[Int(c)] * scale
    }
    return (s.count, nil)
}

// MARK: - AVX2 kernels in the segment interface (Sources/_SwiftQuantAVX2/FloatFormatAVX2.swift)

#if arch(x86_64)
import _SwiftQuantAVX2

extension FloatFormat {
    /// The parameters the AVX2 module's kernels take (it cannot see this type).
    var avx2: AVX2FloatFormat {
        AVX2FloatFormat(exponentBits: Int32(exponentBits), mantissaBits: Int32(mantissaBits), bias: Int32(bias),
                        maxCode: Int32(maxCode), hasNaN: hasNaN, hasInfinity: hasInfinity, isFNUZ: isFNUZ,
                        nanPositive: Int32(nanCode(negative: false) ?? 0), nanNegative: Int32(nanCode(negative: true) ?? 0))
    }

    /// Built once per format.
    static let avx2Formats: [AVX2FloatFormat] = allCases.map(\.avx2)
    var avx2Cached: AVX2FloatFormat { Self.avx2Formats[Int(rawValue - FloatFormat.e4m3fn.rawValue)] }
}

private extension Segment {
    var floatAVX2: AVX2Params { AVX2Params(scale: scale, zeroPoint: nil, stride: stride) }
}

func floatQuantizeAVX2Kernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    floatQuantizeAVX2(s.input.assumingMemoryBound(to: Float.self), s.output, s.count, format: a.dtype.format!.avx2Cached,
                      saturate: a.saturate, params: s.floatAVX2)
}

func floatDequantizeAVX2Kernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    floatDequantizeAVX2(s.input, s.output.assumingMemoryBound(to: Float.self), s.count, format: a.dtype.format!.avx2Cached,
                        params: s.floatAVX2)
}

func floatFakeQuantizeAVX2Kernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    floatFakeQuantizeAVX2(s.input.assumingMemoryBound(to: Float.self), s.output.assumingMemoryBound(to: Float.self), s.count,
                          format: a.dtype.format!.avx2Cached, saturate: a.saturate, params: s.floatAVX2)
}
#endif
