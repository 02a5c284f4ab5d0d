// C exports for the int8 matmuls and packed matrices (swiftquant.h, "Integer matrix multiplication").

import _SwiftQuantShims

private func matmulDType(_ raw: Int32, argument: String) throws(SQError) -> DType {
    let d = try DType(checking: raw, argument: argument)
    guard d == .int8 || d == .uint8 else {
        throw SQError(.invalidArgument, "\(argument): matmul operands must be int8 or uint8 (got \(d.name))")
    }
    return d
}

private func checkCapacity(_ count: Int64, _ shape: MatMulShape, argument: String) throws(SQError) {
    guard count == Int64(shape.outCount) else {
        throw SQError(.shape, "\(argument) has \(count) element(s) but the result of shape \(shape.outDims) has \(shape.outCount)")
    }
}

/// B's zero points for sq_matmul_i32: NULL, one, or one per column.
private func bZeroPoints(_ p: UnsafePointer<Int32>?, _ count: Int64, n: Int, dtype: DType) throws(SQError) -> [Int32] {
    guard let p, count != 0 else {
        guard count == 0 || p != nil else { throw SQError(.nullPointer, "b_zero_point is NULL with b_zero_point_count \(count)") }
        return [0]
    }
    guard count == 1 || count == Int64(n) else {
        throw SQError(.shape, "b_zero_point_count is \(count); expected 1 (scalar) or N = \(n) (per column)")
    }
    let zs = Array(UnsafeBufferPointer(start: p, count: Int(count)))
    for (i, z) in zs.enumerated() { try dtype.checkZeroPoint(z, argument: "b_zero_point[\(i)]") }
    return zs
}

/// A matmul operand's per-tensor (scale, zero point) with int8/uint8 dtype.
private func operandParams(_ p: UnsafePointer<sq_qparams>?, shape: Shape, argument: String) throws(SQError) -> (DType, Float, Int32) {
    let v = try QParamsView(p, shape: shape, argument: argument)
    _ = try matmulDType(v.dtype.rawValue, argument: "\(argument).dtype")
    let (s, z) = try v.scalar(argument: argument)
    return (v.dtype, s, z)
}

/// B's parameters for the scaled products: per tensor, or per column (axis = ndim - 1).
private func bParams(_ p: UnsafePointer<sq_qparams>?, shape: Shape, n: Int) throws(SQError) -> (DType, [Int32], [Float]) {
    let v = try QParamsView(p, shape: shape, argument: "b_params")
    _ = try matmulDType(v.dtype.rawValue, argument: "b_params.dtype")
    switch v.layout.granularity {
    case .perTensor: break
    case .perAxis(let k) where k == shape.ndim - 1 && shape.ndim >= 2: break
    default:
        let perColumn = shape.ndim >= 2 ? "or per column (axis = \(shape.ndim - 1))" : "(b is 1-D, so it has no columns to scale separately)"
        throw SQError(.invalidArgument, "b_params must be per tensor \(perColumn), without blocks")
    }
    let c = v.layout.paramCount
    let zs = v.zeroPoint.map { Array(UnsafeBufferPointer(start: $0, count: c)) } ?? [Int32](repeating: 0, count: c)
    return (v.dtype, zs, Array(UnsafeBufferPointer(start: v.scale, count: c)))
}

private func yParams(_ p: UnsafePointer<sq_qparams>?) throws(SQError) -> (DType, Float, Int32) {
    let v = try QParamsView(p, shape: try Shape([]), argument: "y_params")
    guard v.dtype == .int8 || v.dtype == .uint8 else {
        throw SQError(.invalidArgument, "y_params.dtype: requantized output must be int8 or uint8 (got \(v.dtype.name))")
    }
    let (s, z) = try v.scalar(argument: "y_params")
    return (v.dtype, s, z)
}

private func biasPointer(_ bias: UnsafePointer<Float>?, _ count: Int64, n: Int) throws(SQError) -> UnsafePointer<Float>? {
    guard let bias else {
        guard count == 0 else { throw SQError(.nullPointer, "bias is NULL with bias_count \(count)") }
        return nil
    }
    guard count == Int64(n) else { throw SQError(.shape, "bias_count is \(count); expected N = \(n)") }
    return bias
}

@_cdecl("sq_matmul_shape")
public func sqMatMulShape(_ aShape: UnsafePointer<Int64>?, _ aNDim: Int32, _ bShape: UnsafePointer<Int64>?, _ bNDim: Int32,
                          _ outShape: UnsafeMutablePointer<Int64>?, _ outNDim: UnsafeMutablePointer<Int32>?) -> Int32 {
    capi { () throws(SQError) in
        let os = try out(outShape, "out_shape"), on = try out(outNDim, "out_ndim")
        let shape = try MatMulShape(a: try Shape(aShape, aNDim, argument: "a_shape"), b: try Shape(bShape, bNDim, argument: "b_shape"))
        for (i, d) in shape.outDims.enumerated() { os[i] = Int64(d) }
        on.pointee = Int32(shape.outDims.count)
    }
}

@_cdecl("sq_matmul_i32")
public func sqMatMulI32(_ a: UnsafeRawPointer?, _ aDType: Int32, _ aShape: UnsafePointer<Int64>?, _ aNDim: Int32,
                        _ aZeroPoint: Int32, _ b: UnsafeRawPointer?, _ bDType: Int32, _ bShape: UnsafePointer<Int64>?,
                        _ bNDim: Int32, _ bZeroPoint: UnsafePointer<Int32>?, _ bZeroPointCount: Int64,
                        _ c: UnsafeMutablePointer<Int32>?, _ cCount: Int64) -> Int32 {
    capi { () throws(SQError) in
        let ad = try matmulDType(aDType, argument: "a_dtype"), bd = try matmulDType(bDType, argument: "b_dtype")
        let sa = try Shape(aShape, aNDim, argument: "a_shape"), sb = try Shape(bShape, bNDim, argument: "b_shape")
        let shape = try MatMulShape(a: sa, b: sb)
        try ad.checkZeroPoint(aZeroPoint, argument: "a_zero_point")
        let zb = try bZeroPoints(bZeroPoint, bZeroPointCount, n: shape.n, dtype: bd)
        try checkCapacity(cCount, shape, argument: "c")
        let ap = try requireRawData(a, count: sa.count, argument: "a"), bp = try requireRawData(b, count: sb.count, argument: "b")
        try matmul(a: ap, aDType: ad, za: aZeroPoint, shape: shape, b: .raw(bp, dtype: bd, zeroPoints: zb, scales: nil),
                   epilogue: .int32(try requireData(c, count: shape.outCount, argument: "c")))
    }
}

@_cdecl("sq_qlinear_matmul")
public func sqQLinearMatMul(_ a: UnsafeRawPointer?, _ aShape: UnsafePointer<Int64>?, _ aNDim: Int32,
                            _ aParams: UnsafePointer<sq_qparams>?, _ b: UnsafeRawPointer?, _ bShape: UnsafePointer<Int64>?,
                            _ bNDim: Int32, _ bParamsIn: UnsafePointer<sq_qparams>?, _ yParamsIn: UnsafePointer<sq_qparams>?,
                            _ rounding: Int32, _ seed: UInt64, _ y: UnsafeMutableRawPointer?, _ yCount: Int64) -> Int32 {
    capi { () throws(SQError) in
        let sa = try Shape(aShape, aNDim, argument: "a_shape"), sb = try Shape(bShape, bNDim, argument: "b_shape")
        let shape = try MatMulShape(a: sa, b: sb)
        let (ad, aScale, za) = try operandParams(aParams, shape: sa, argument: "a_params")
        let (bd, zb, bScales) = try bParams(bParamsIn, shape: sb, n: shape.n)
        let (yd, yScale, zy) = try yParams(yParamsIn)
        let r = try Rounding(checking: rounding)
        try checkCapacity(yCount, shape, argument: "y")
        let ap = try requireRawData(a, count: sa.count, argument: "a"), bp = try requireRawData(b, count: sb.count, argument: "b")
        let yp = try requireData(y?.assumingMemoryBound(to: UInt8.self), count: shape.outCount, argument: "y")
        try matmul(a: ap, aDType: ad, za: za, shape: shape, b: .raw(bp, dtype: bd, zeroPoints: zb, scales: bScales),
                   epilogue: .requantize(UnsafeMutableRawPointer(yp), dtype: yd, aScale: aScale, yScale: yScale,
                                         yZeroPoint: zy, rounding: r, seed: seed))
    }
}

@_cdecl("sq_matmul_f32")
public func sqMatMulF32(_ a: UnsafeRawPointer?, _ aShape: UnsafePointer<Int64>?, _ aNDim: Int32,
                        _ aParams: UnsafePointer<sq_qparams>?, _ b: UnsafeRawPointer?, _ bShape: UnsafePointer<Int64>?,
                        _ bNDim: Int32, _ bParamsIn: UnsafePointer<sq_qparams>?, _ bias: UnsafePointer<Float>?,
                        _ biasCount: Int64, _ y: UnsafeMutablePointer<Float>?, _ yCount: Int64) -> Int32 {
    capi { () throws(SQError) in
        let sa = try Shape(aShape, aNDim, argument: "a_shape"), sb = try Shape(bShape, bNDim, argument: "b_shape")
        let shape = try MatMulShape(a: sa, b: sb)
        let (ad, aScale, za) = try operandParams(aParams, shape: sa, argument: "a_params")
        let (bd, zb, bScales) = try bParams(bParamsIn, shape: sb, n: shape.n)
        let bi = try biasPointer(bias, biasCount, n: shape.n)
        try checkCapacity(yCount, shape, argument: "y")
        let ap = try requireRawData(a, count: sa.count, argument: "a"), bp = try requireRawData(b, count: sb.count, argument: "b")
        try matmul(a: ap, aDType: ad, za: za, shape: shape, b: .raw(bp, dtype: bd, zeroPoints: zb, scales: bScales),
                   epilogue: .float(try requireData(y, count: shape.outCount, argument: "y"), aScale: aScale, bias: bi))
    }
}

// MARK: - Packed matrices

@_cdecl("sq_pack")
public func sqPack(_ b: UnsafeRawPointer?, _ bShape: UnsafePointer<Int64>?, _ bNDim: Int32,
                   _ bParamsIn: UnsafePointer<sq_qparams>?, _ outHandle: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try out(outHandle, "out")
        o.pointee = nil
        let sb = try Shape(bShape, bNDim, argument: "b_shape")
        guard sb.ndim == 2 else { throw SQError(.shape, "b_shape: a packed matrix must be 2-D [K, N] (got \(sb.ndim) dimension(s))") }
        guard let pin = bParamsIn else { throw SQError(.nullPointer, "b_params is NULL") }
        // Without scales the matrix serves int32 products only; validate the rest with placeholder scales.
        var q = pin.pointee
        let hasScale = q.scale != nil
        guard q.count == 1 || q.count == Int64(sb.dims[1]) else {
            throw SQError(.shape, "b_params.count is \(q.count); expected 1 (per tensor) or N = \(sb.dims[1]) (per column)")
        }
        let bp = try requireRawData(b, count: sb.count, argument: "b")
        // The placeholder scales are sized by a buffer the caller passed (the zero points), never by a count alone.
        guard hasScale || q.count == 1 || q.zero_point != nil else {
            throw SQError(.nullPointer, "b_params: count is \(q.count) (per column) but scale and zero_point are both NULL; use count 1 for zero points of 0 without scales")
        }
        let ones = [Float](repeating: 1, count: hasScale ? 0 : Int(q.count))
        let (bd, zb, scales) = try ones.withUnsafeBufferPointer { (onesPtr) throws(SQError) in
            if !hasScale { q.scale = onesPtr.baseAddress }
            return try withUnsafePointer(to: q) { (qp) throws(SQError) in try bParams(qp, shape: sb, n: sb.dims[1]) }
        }
        let packed = try PackedMatrix(b: bp, dtype: bd, k: sb.dims[0], n: sb.dims[1], zeroPoints: zb,
                                      scales: hasScale ? scales : nil)
        o.pointee = OpaquePointer(Unmanaged.passRetained(packed).toOpaque())
    }
}

@_cdecl("sq_packed_destroy")
public func sqPackedDestroy(_ handle: OpaquePointer?) {
    guard let handle else { return }
    Unmanaged<PackedMatrix>.fromOpaque(UnsafeRawPointer(handle)).release()
}

private func packed(_ handle: OpaquePointer?) throws(SQError) -> PackedMatrix {
    guard let handle else { throw SQError(.nullPointer, "b (packed matrix) is NULL") }
    return Unmanaged<PackedMatrix>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

@_cdecl("sq_packed_info")
public func sqPackedInfo(_ handle: OpaquePointer?, _ k: UnsafeMutablePointer<Int64>?, _ n: UnsafeMutablePointer<Int64>?,
                         _ dtype: UnsafeMutablePointer<Int32>?, _ hasScale: UnsafeMutablePointer<Int32>?) -> Int32 {
    capi { () throws(SQError) in
        let p = try packed(handle)
        k?.pointee = Int64(p.k)
        n?.pointee = Int64(p.n)
        dtype?.pointee = p.dtype.rawValue
        hasScale?.pointee = p.scales == nil ? 0 : 1
    }
}

/// Shape of a product with a packed [K, N] B.
private func packedShape(_ aShape: UnsafePointer<Int64>?, _ aNDim: Int32, _ p: PackedMatrix) throws(SQError) -> (Shape, MatMulShape) {
    let sa = try Shape(aShape, aNDim, argument: "a_shape")
    return (sa, try MatMulShape(a: sa, b: try Shape([p.k, p.n])))
}

private func requireScales(_ p: PackedMatrix) throws(SQError) {
    guard p.scales != nil else {
        throw SQError(.invalidArgument, "b: the packed matrix has no scales (packed with b_params.scale = NULL); it serves sq_matmul_i32_packed only")
    }
}

@_cdecl("sq_matmul_i32_packed")
public func sqMatMulI32Packed(_ a: UnsafeRawPointer?, _ aDType: Int32, _ aShape: UnsafePointer<Int64>?, _ aNDim: Int32,
                              _ aZeroPoint: Int32, _ handle: OpaquePointer?, _ c: UnsafeMutablePointer<Int32>?,
                              _ cCount: Int64) -> Int32 {
    capi { () throws(SQError) in
        let p = try packed(handle)
        let ad = try matmulDType(aDType, argument: "a_dtype")
        let (sa, shape) = try packedShape(aShape, aNDim, p)
        try ad.checkZeroPoint(aZeroPoint, argument: "a_zero_point")
        try checkCapacity(cCount, shape, argument: "c")
        try matmul(a: try requireRawData(a, count: sa.count, argument: "a"), aDType: ad, za: aZeroPoint, shape: shape,
                   b: .packed(p), epilogue: .int32(try requireData(c, count: shape.outCount, argument: "c")))
    }
}

@_cdecl("sq_qlinear_matmul_packed")
public func sqQLinearMatMulPacked(_ a: UnsafeRawPointer?, _ aShape: UnsafePointer<Int64>?, _ aNDim: Int32,
                                  _ aParams: UnsafePointer<sq_qparams>?, _ handle: OpaquePointer?,
                                  _ yParamsIn: UnsafePointer<sq_qparams>?, _ rounding: Int32, _ seed: UInt64,
                                  _ y: UnsafeMutableRawPointer?, _ yCount: Int64) -> Int32 {
    capi { () throws(SQError) in
        let p = try packed(handle)
        try requireScales(p)
        let (sa, shape) = try packedShape(aShape, aNDim, p)
        let (ad, aScale, za) = try operandParams(aParams, shape: sa, argument: "a_params")
        let (yd, yScale, zy) = try yParams(yParamsIn)
        let r = try Rounding(checking: rounding)
        try checkCapacity(yCount, shape, argument: "y")
        let yp = try requireData(y?.assumingMemoryBound(to: UInt8.self), count: shape.outCount, argument: "y")
        try matmul(a: try requireRawData(a, count: sa.count, argument: "a"), aDType: ad, za: za, shape: shape, b: .packed(p),
                   epilogue: .requantize(UnsafeMutableRawPointer(yp), dtype: yd, aScale: aScale, yScale: yScale,
                                         yZeroPoint: zy, rounding: r, seed: seed))
    }
}

@_cdecl("sq_matmul_f32_packed")
public func sqMatMulF32Packed(_ a: UnsafeRawPointer?, _ aShape: UnsafePointer<Int64>?, _ aNDim: Int32,
                              _ aParams: UnsafePointer<sq_qparams>?, _ handle: OpaquePointer?, _ bias: UnsafePointer<Float>?,
                              _ biasCount: Int64, _ y: UnsafeMutablePointer<Float>?, _ yCount: Int64) -> Int32 {
    capi { () throws(SQError) in
        let p = try packed(handle)
        try requireScales(p)
        let (sa, shape) = try packedShape(aShape, aNDim, p)
        let (ad, aScale, za) = try operandParams(aParams, shape: sa, argument: "a_params")
        let bi = try biasPointer(bias, biasCount, n: shape.n)
        try checkCapacity(yCount, shape, argument: "y")
        try matmul(a: try requireRawData(a, count: sa.count, argument: "a"), aDType: ad, za: za, shape: shape, b: .packed(p),
                   epilogue: .float(try requireData(y, count: shape.outCount, argument: "y"), aScale: aScale, bias: bi))
    }
}
