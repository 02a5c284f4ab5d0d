// C exports for the quantized linear layer (swiftquant.h, "Quantized linear layer").

import _SwiftQuantShims

private func linear(_ h: OpaquePointer?) throws(SQError) -> QuantizedLinear {
    guard let h else { throw SQError(.nullPointer, "linear is NULL") }
    return Unmanaged<QuantizedLinear>.fromOpaque(UnsafeRawPointer(h)).takeUnretainedValue()
}

@_cdecl("sq_linear_create")
public func sqLinearCreate(_ weight: UnsafePointer<Float>?, _ outFeatures: Int64, _ inFeatures: Int64, _ bias: UnsafePointer<Float>?,
                           _ activation: Int32, _ outHandle: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try out(outHandle, "out")
        o.pointee = nil
        // K * 255 * 128 (the bound the matmul checks: uint8 input, int8 weights) must fit int32.
        guard inFeatures >= 1 && inFeatures <= Int64(Int32.max) / (255 * 128) else {
            throw SQError(.shape, "in_features \(inFeatures) is outside [1, \(Int32.max / (255 * 128))]")
        }
        guard outFeatures >= 1 && outFeatures <= Int64(Int.max / 8) / inFeatures else {
            throw SQError(.shape, "out_features \(outFeatures) is invalid")
        }
        guard activation == 0 || activation == 1 else {
            throw SQError(.invalidArgument, "activation \(activation) is not SQ_ACTIVATION_PER_TENSOR (0) or SQ_ACTIVATION_PER_ROW (1)")
        }
        guard let weight else { throw SQError(.nullPointer, "weight is NULL") }
        let l = try QuantizedLinear(weight: weight, outFeatures: Int(outFeatures), inFeatures: Int(inFeatures), bias: bias,
                                    perRow: activation == 1)
        o.pointee = OpaquePointer(Unmanaged.passRetained(l).toOpaque())
    }
}

@_cdecl("sq_linear_destroy")
public func sqLinearDestroy(_ h: OpaquePointer?) {
    guard let h else { return }
    Unmanaged<QuantizedLinear>.fromOpaque(UnsafeRawPointer(h)).release()
}

@_cdecl("sq_linear_info")
public func sqLinearInfo(_ h: OpaquePointer?, _ outFeatures: UnsafeMutablePointer<Int64>?, _ inFeatures: UnsafeMutablePointer<Int64>?,
                         _ activation: UnsafeMutablePointer<Int32>?, _ weightScales: UnsafeMutablePointer<Float>?) -> Int32 {
    capi { () throws(SQError) in
        let l = try linear(h)
        outFeatures?.pointee = Int64(l.outFeatures)
        inFeatures?.pointee = Int64(l.inFeatures)
        activation?.pointee = l.perRow ? 1 : 0
        if let weightScales { for (i, s) in l.weightScales.enumerated() { weightScales[i] = s } }
    }
}

@_cdecl("sq_linear_forward")
public func sqLinearForward(_ h: OpaquePointer?, _ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32,
                            _ y: UnsafeMutablePointer<Float>?, _ yCount: Int64) -> Int32 {
    capi { () throws(SQError) in
        let l = try linear(h)
        let s = try Shape(shape, ndim, argument: "shape")
        guard s.ndim >= 1 && s.dims[s.ndim - 1] == l.inFeatures else {
            throw SQError(.shape, "x: shape \(s.dims) must end in in_features = \(l.inFeatures)")
        }
        let rows = s.count / l.inFeatures
        guard yCount == Int64(rows * l.outFeatures) else {
            throw SQError(.shape, "y_count is \(yCount) but the result [\(rows) rows, \(l.outFeatures)] has \(rows * l.outFeatures)")
        }
        try l.forward(try requireData(x, count: s.count, argument: "x"), rows: rows,
                      try requireData(y, count: rows * l.outFeatures, argument: "y"))
    }
}
