// C exports of the OCP MX block formats (swiftquant.h, "OCP Microscaling (MX) block formats"); the maths is
// in Formats/MX.swift.

import _SwiftQuantShims

/// Shape, axis, format and scale count of an MX call, checked in the header's order.
private func mxArguments(_ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ axis: Int32, _ format: Int32,
                         _ scaleCount: Int64) throws(SQError) -> (MXLayout, MXFormat) {
    let s = try Shape(shape, ndim, argument: "shape")
    let L = try MXLayout(s, axis: Int(axis))
    let f = try MXFormat(checking: format, argument: "format")
    guard scaleCount == Int64(L.scaleCount) else {
        throw SQError(.shape, "scale_count is \(scaleCount) but shape \(s.dims) with axis \(axis) has \(L.scaleCount) block(s) of \(MXFormat.blockSize) (the shape with dimension \(axis) replaced by ceil(\(L.n) / 32), \(L.scaleDims))")
    }
    return (L, f)
}

@_cdecl("sq_mx_quantize")
public func sqMXQuantize(_ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ axis: Int32,
                         _ format: Int32, _ elementsOut: UnsafeMutableRawPointer?, _ scalesOut: UnsafeMutablePointer<UInt8>?,
                         _ scaleCount: Int64) -> Int32 {
    capi { () throws(SQError) in
        let (L, f) = try mxArguments(shape, ndim, axis, format, scaleCount)
        let xs = try requireData(x, count: L.count, argument: "x")
        let e = try requireData(elementsOut?.assumingMemoryBound(to: UInt8.self), count: L.count, argument: "elements_out")
        let s = try requireData(scalesOut, count: L.scaleCount, argument: "scales_out")
        MX.quantize(xs, L, format: f, e, s)
    }
}

@_cdecl("sq_mx_dequantize")
public func sqMXDequantize(_ elements: UnsafeRawPointer?, _ scales: UnsafePointer<UInt8>?, _ scaleCount: Int64,
                           _ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ axis: Int32, _ format: Int32,
                           _ xOut: UnsafeMutablePointer<Float>?) -> Int32 {
    capi { () throws(SQError) in
        let (L, f) = try mxArguments(shape, ndim, axis, format, scaleCount)
        let e = try requireData(elements?.assumingMemoryBound(to: UInt8.self), count: L.count, argument: "elements")
        let s = try requireData(scales, count: L.scaleCount, argument: "scales")
        let y = try requireData(xOut, count: L.count, argument: "x_out")
        try MX.dequantize(e, s, L, format: f, y)
    }
}
