// Quantization parameters as the core sees them: a validated, borrowed view of caller memory
// (sq_qparams), plus the range -> (scale, zero point) rules of README "Semantics".

import _SwiftQuantShims

/// Borrowed scales and zero points of one tensor, checked against the tensor's shape.
struct QParamsView {
    let dtype: DType
    let layout: Layout
    let scale: UnsafePointer<Float>
    /// nil means every zero point is 0.
    let zeroPoint: UnsafePointer<Int32>?

    /// `allowFloat`: the operation takes the float formats (quantize, dequantize, fake-quantize, reports).
    init(_ p: UnsafePointer<sq_qparams>?, shape: Shape, argument: String, allowFloat: Bool = false) throws(SQError) {
        guard let p else { throw SQError(.nullPointer, "\(argument) is NULL") }
        let q = p.pointee
        dtype = try DType(checking: q.dtype, argument: "\(argument).dtype", allowFloat: allowFloat)
        let g = try Granularity(axis: q.axis, blockSize: q.block_size, ndim: shape.ndim, argument: argument)
        layout = Layout(shape: shape, granularity: g)
        guard q.count == Int64(layout.paramCount) else {
            throw SQError(.shape, "\(argument).count is \(q.count) but the granularity over shape \(shape.dims) needs \(layout.paramCount) scale(s)")
        }
        guard let s = q.scale else { throw SQError(.nullPointer, "\(argument).scale is NULL") }
        scale = s
        zeroPoint = q.zero_point
        for i in 0..<layout.paramCount {
            try checkScale(s[i], argument: "\(argument).scale[\(i)]")
            if let z = q.zero_point { try dtype.checkZeroPoint(z[i], argument: "\(argument).zero_point[\(i)]") }
        }
    }

    /// Per-tensor parameters only (matmul operands); returns (scale, zero point).
    func scalar(argument: String) throws(SQError) -> (Float, Int32) {
        guard layout.granularity == .perTensor else {
            throw SQError(.invalidArgument, "\(argument) must be per tensor (axis -1, block_size 0)")
        }
        return (scale[0], zeroPoint?[0] ?? 0)
    }
}

@inline(__always)
func checkScale(_ s: Float, argument: String) throws(SQError) {
    // Normal and positive: a subnormal or zero scale makes x / scale overflow or divide by zero.
    guard s.isFinite && s >= Float.leastNormalMagnitude else {
        throw SQError(.invalidScale, "\(argument) is \(s); a scale must be finite, positive and normal (>= \(Float.leastNormalMagnitude))")
    }
}

/// Scale and zero point from an observed range (README "Semantics: ranges"), in float64.
/// An empty range (min = +inf, max = -inf) is allowed and behaves as all-zero data.
func qparamsFromRange(min lo: Float, max hi: Float, dtype: DType, symmetric: Bool, argument: String) throws(SQError) -> (scale: Float, zeroPoint: Int32) {
    guard !lo.isNaN && !hi.isNaN else { throw SQError(.nonfinite, "\(argument): the range [\(lo), \(hi)] contains NaN") }
    // Zero must be exactly representable: the range always contains it.
    let rmin = Swift.min(Double(lo), 0)
    let rmax = Swift.max(Double(hi), 0)
    guard rmin.isFinite && rmax.isFinite else {
        throw SQError(.nonfinite, "\(argument): the range [\(lo), \(hi)] is not finite")
    }
    if let f = dtype.format {
        // Float formats are symmetric by construction: scale = amax / max, zero point 0, in float32.
        let a = Swift.max(-Float(rmin), Float(rmax))
        let scale = a / f.maxValue
        return (scale.isNormal ? scale : 1.0, 0)
    }
    let qmin = Double(dtype.qmin), qmax = Double(dtype.qmax)
    let symmetricZero = dtype.isSigned ? Int32(0) : (dtype.qmin + dtype.qmax + 1) / 2
    var scale: Float
    if symmetric {
        let a = Swift.max(-rmin, rmax)
        // Signed types use the narrow range [-qmax, qmax] so that negation is exact.
        let levels = dtype.isSigned ? 2 * qmax : qmax - qmin
        scale = Float(2 * a / levels)
    } else {
        scale = Float((rmax - rmin) / (qmax - qmin))
    }
    guard scale.isNormal else {
        // Constant or all-zero data: any scale represents it; 1.0 keeps later divisions harmless.
        return (1.0, symmetric ? symmetricZero : Swift.min(Swift.max(0, dtype.qmin), dtype.qmax))
    }
    if symmetric { return (scale, symmetricZero) }
    let z = (qmin - rmin / Double(scale)).rounded(.toNearestOrEven)
    return (scale, Int32(Swift.min(Swift.max(z, qmin), qmax)))
}
