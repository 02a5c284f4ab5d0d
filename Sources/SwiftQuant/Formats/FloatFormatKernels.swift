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
