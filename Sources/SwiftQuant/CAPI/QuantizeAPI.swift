// C exports for quantize, dequantize and dynamic quantization (swiftquant.h, "Quantize and dequantize").

import _SwiftQuantShims

@_cdecl("sq_quantize")
public func sqQuantize(_ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32,
                       _ params: UnsafePointer<sq_qparams>?, _ rounding: Int32, _ seed: UInt64,
                       _ qOut: UnsafeMutableRawPointer?) -> Int32 {
    capi { () throws(SQError) in
        let s = try Shape(shape, ndim, argument: "shape")
        let p = try QParamsView(params, shape: s, argument: "params", allowFloat: true)
        let r = try Rounding(checking: rounding)
        let xs = try requireData(x, count: s.count, argument: "x")
        let q = try requireData(qOut?.assumingMemoryBound(to: UInt8.self), count: s.count, argument: "q_out")
        try quantize(xs, UnsafeMutableRawPointer(q), params: p, rounding: r, seed: seed)
    }
}

@_cdecl("sq_quantize_float")
public func sqQuantizeFloat(_ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32,
                            _ params: UnsafePointer<sq_qparams>?, _ saturate: Int32,
                            _ qOut: UnsafeMutablePointer<UInt8>?) -> Int32 {
    capi { () throws(SQError) in
        let s = try Shape(shape, ndim, argument: "shape")
        let p = try QParamsView(params, shape: s, argument: "params", allowFloat: true)
        guard p.dtype.isFloat else {
            throw SQError(.invalidArgument, "params.dtype: \(p.dtype.name) is an integer dtype, which always saturates; sq_quantize_float is for the float formats (use sq_quantize)")
        }
        let sat = try flag(saturate, argument: "saturate")
        let xs = try requireData(x, count: s.count, argument: "x")
        let q = try requireData(qOut, count: s.count, argument: "q_out")
        try quantize(xs, UnsafeMutableRawPointer(q), params: p, rounding: .nearestEven, seed: 0, saturate: sat)
    }
}

@_cdecl("sq_fake_quantize")
public func sqFakeQuantize(_ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32,
                           _ params: UnsafePointer<sq_qparams>?, _ rounding: Int32, _ seed: UInt64,
                           _ yOut: UnsafeMutablePointer<Float>?) -> Int32 {
    capi { () throws(SQError) in
        let s = try Shape(shape, ndim, argument: "shape")
        let p = try QParamsView(params, shape: s, argument: "params", allowFloat: true)
        let r = try Rounding(checking: rounding)
        try fakeQuantize(try requireData(x, count: s.count, argument: "x"), try requireData(yOut, count: s.count, argument: "y_out"),
                         params: p, rounding: r, seed: seed)
    }
}

@_cdecl("sq_dequantize")
public func sqDequantize(_ q: UnsafeRawPointer?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32,
                         _ params: UnsafePointer<sq_qparams>?, _ xOut: UnsafeMutablePointer<Float>?) -> Int32 {
    capi { () throws(SQError) in
        let s = try Shape(shape, ndim, argument: "shape")
        let p = try QParamsView(params, shape: s, argument: "params", allowFloat: true)
        let qs = try requireData(q?.assumingMemoryBound(to: UInt8.self), count: s.count, argument: "q")
        let xs = try requireData(xOut, count: s.count, argument: "x_out")
        try dequantize(UnsafeRawPointer(qs), xs, params: p)
    }
}

@_cdecl("sq_dynamic_quantize")
public func sqDynamicQuantize(_ x: UnsafePointer<Float>?, _ count: Int64, _ qOut: UnsafeMutablePointer<UInt8>?,
                              _ scaleOut: UnsafeMutablePointer<Float>?, _ zeroPointOut: UnsafeMutablePointer<UInt8>?) -> Int32 {
    capi { () throws(SQError) in
        guard count >= 0 else { throw SQError(.shape, "count is negative (\(count))") }
        let n = Int(count)
        let so = try out(scaleOut, "scale_out"), zo = try out(zeroPointOut, "zero_point_out")
        let (scale, zp) = try dynamicQuantize(try requireData(x, count: n, argument: "x"), count: n,
                                              try requireData(qOut, count: n, argument: "q_out"))
        so.pointee = scale
        zo.pointee = zp
    }
}

/// A 4-bit dtype; other dtypes are an error naming the argument.
private func fourBit(_ dtype: Int32) throws(SQError) -> DType {
    let d = try DType(checking: dtype, argument: "dtype", allowFloat: true)
    guard d == .int4 || d == .uint4 || d == .float4E2M1 else {
        throw SQError(.invalidArgument, "dtype must be SQ_INT4, SQ_UINT4 or SQ_FLOAT4E2M1 (got \(d.name)): only 4-bit values pack two per byte")
    }
    return d
}

/// count >= 0 and packed_count == (count + 1) / 2 (written without count + 1, which overflows at Int64.max).
private func packedCounts(_ count: Int64, _ packedCount: Int64) throws(SQError) -> Int {
    guard count >= 0 else { throw SQError(.shape, "count is negative (\(count))") }
    let bytes = count / 2 + count % 2
    guard packedCount == bytes else {
        throw SQError(.shape, "packed_count is \(packedCount) but \(count) 4-bit value(s) take (count + 1) / 2 = \(bytes) byte(s)")
    }
    return Int(count)
}

@_cdecl("sq_pack_int4")
public func sqPackInt4(_ q: UnsafeRawPointer?, _ count: Int64, _ dtype: Int32, _ packedOut: UnsafeMutablePointer<UInt8>?,
                       _ packedCount: Int64) -> Int32 {
    capi { () throws(SQError) in
        let d = try fourBit(dtype), signed = d == .int4
        let n = try packedCounts(count, packedCount)
        let qs = try requireData(q?.assumingMemoryBound(to: UInt8.self), count: n, argument: "q")
        let po = try requireData(packedOut, count: Int(packedCount), argument: "packed_out")
        if let bad = packInt4(qs, count: n, signed: signed, po) {
            let v = signed ? Int(Int8(bitPattern: qs[bad])) : Int(qs[bad])
            throw SQError(.outOfRange, "q: element \(bad) is \(v), outside \(signed ? "int4 [-8, 7]" : "\(d.name) [0, 15]")")
        }
    }
}

@_cdecl("sq_unpack_int4")
public func sqUnpackInt4(_ packed: UnsafePointer<UInt8>?, _ packedCount: Int64, _ dtype: Int32,
                         _ qOut: UnsafeMutableRawPointer?, _ count: Int64) -> Int32 {
    capi { () throws(SQError) in
        let signed = try fourBit(dtype) == .int4
        let n = try packedCounts(count, packedCount)
        let ps = try requireData(packed, count: Int(packedCount), argument: "packed")
        let qo = try requireData(qOut?.assumingMemoryBound(to: UInt8.self), count: n, argument: "q_out")
        guard unpackInt4(ps, count: n, signed: signed, qo) else {
            throw SQError(.invalidArgument, "packed: the padding nibble (high bits of the last byte, count \(count) is odd) is \(ps[n / 2] >> 4), not 0; is count right?")
        }
    }
}
