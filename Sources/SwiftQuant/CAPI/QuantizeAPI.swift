// C exports for quantize, dequantize and dynamic quantization (swiftquant.h, "Quantize and dequantize").

import _SwiftQuantShims

@_cdecl("sq_quantize")
public func sqQuantize(_ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32,
                       _ params: UnsafePointer<sq_qparams>?, _ rounding: Int32, _ seed: UInt64,
                       _ qOut: UnsafeMutableRawPointer?) -> Int32 {
    capi { () throws(SQError) in
        let s = try Shape(shape, ndim, argument: "shape")
        let p = try QParamsView(params, shape: s, argument: "params")
        let r = try Rounding(checking: rounding)
        let xs = try requireData(x, count: s.count, argument: "x")
        let q = try requireData(qOut?.assumingMemoryBound(to: UInt8.self), count: s.count, argument: "q_out")
        try quantize(xs, UnsafeMutableRawPointer(q), params: p, rounding: r, seed: seed)
    }
}

@_cdecl("sq_fake_quantize")
public func sqFakeQuantize(_ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32,
                           _ params: UnsafePointer<sq_qparams>?, _ rounding: Int32, _ seed: UInt64,
                           _ yOut: UnsafeMutablePointer<Float>?) -> Int32 {
    capi { () throws(SQError) in
        let s = try Shape(shape, ndim, argument: "shape")
        let p = try QParamsView(params, shape: s, argument: "params")
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
        let p = try QParamsView(params, shape: s, argument: "params")
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
