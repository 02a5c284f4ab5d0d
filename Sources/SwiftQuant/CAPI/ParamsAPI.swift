// C exports for parameters and min/max calibration (swiftquant.h, "Parameters").

import _SwiftQuantShims

@_cdecl("sq_dtype_range")
public func sqDTypeRange(_ dtype: Int32, _ qmin: UnsafeMutablePointer<Int32>?, _ qmax: UnsafeMutablePointer<Int32>?) -> Int32 {
    capi { () throws(SQError) in
        let lo = try out(qmin, "qmin"), hi = try out(qmax, "qmax")
        let d = try DType(checking: dtype, argument: "dtype", allowFloat: true)
        lo.pointee = d.qmin
        hi.pointee = d.qmax
    }
}

@_cdecl("sq_dtype_max_value")
public func sqDTypeMaxValue(_ dtype: Int32, _ maxOut: UnsafeMutablePointer<Float>?) -> Int32 {
    capi { () throws(SQError) in
        let m = try out(maxOut, "max_out")
        let d = try DType(checking: dtype, argument: "dtype", allowFloat: true)
        m.pointee = d.format?.maxValue ?? Float(d.qmax)
    }
}

@_cdecl("sq_qparams_count")
public func sqQParamsCount(_ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ axis: Int32, _ blockSize: Int64,
                           _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    capi { () throws(SQError) in
        let c = try out(count, "count")
        let s = try Shape(shape, ndim, argument: "shape")
        let g = try Granularity(axis: axis, blockSize: blockSize, ndim: s.ndim, argument: "granularity")
        c.pointee = Int64(Layout(shape: s, granularity: g).paramCount)
    }
}

/// Validates a shape, a granularity over it, and that `count` is its number of groups.
private func groupLayout(_ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ axis: Int32, _ blockSize: Int64,
                         count: Int64) throws(SQError) -> (Shape, Layout) {
    let s = try Shape(shape, ndim, argument: "shape")
    let layout = Layout(shape: s, granularity: try Granularity(axis: axis, blockSize: blockSize, ndim: s.ndim, argument: "granularity"))
    guard count == Int64(layout.paramCount) else {
        throw SQError(.shape, "count is \(count) but the granularity over shape \(s.dims) has \(layout.paramCount) group(s)")
    }
    return (s, layout)
}

/// Shared by sq_minmax and sq_calibrate_minmax: reduces into caller buffers, returns the non-finite count.
private func checkedMinMax(_ x: UnsafePointer<Float>?, shape: Shape, layout: Layout, ignoreNonfinite: Bool,
                           _ mins: UnsafeMutablePointer<Float>?, _ maxs: UnsafeMutablePointer<Float>?) throws(SQError) -> Int {
    let xs = try requireData(x, count: shape.count, argument: "x")
    let lo = try requireData(mins, count: layout.paramCount, argument: "min_out")
    let hi = try requireData(maxs, count: layout.paramCount, argument: "max_out")
    let nonfinite = minMax(xs, layout: layout, mins: lo, maxs: hi)
    if nonfinite > 0 && !ignoreNonfinite {
        throw SQError(.nonfinite, "x: \(nonfinite) of \(shape.count) value(s) are NaN or infinite (ask to ignore non-finite values to skip them)")
    }
    return nonfinite
}

@_cdecl("sq_minmax")
public func sqMinMax(_ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ axis: Int32,
                     _ blockSize: Int64, _ ignoreNonfinite: Int32, _ minOut: UnsafeMutablePointer<Float>?,
                     _ maxOut: UnsafeMutablePointer<Float>?, _ count: Int64,
                     _ nonfiniteCount: UnsafeMutablePointer<Int64>?) -> Int32 {
    capi { () throws(SQError) in
        let ignore = try flag(ignoreNonfinite, argument: "ignore_nonfinite")
        let (s, layout) = try groupLayout(shape, ndim, axis, blockSize, count: count)
        let nonfinite = try checkedMinMax(x, shape: s, layout: layout, ignoreNonfinite: ignore, minOut, maxOut)
        nonfiniteCount?.pointee = Int64(nonfinite)
    }
}

/// Writes (scale, zero point) for `count` ranges.
private func fillQParams(_ mins: UnsafePointer<Float>, _ maxs: UnsafePointer<Float>, count: Int, dtype: DType,
                         symmetric: Bool, _ scales: UnsafeMutablePointer<Float>, _ zeros: UnsafeMutablePointer<Int32>) throws(SQError) {
    for i in 0..<count {
        let (s, z) = try qparamsFromRange(min: mins[i], max: maxs[i], dtype: dtype, symmetric: symmetric, argument: "range \(i)")
        scales[i] = s
        zeros[i] = z
    }
}

@_cdecl("sq_qparams_from_range")
public func sqQParamsFromRange(_ minIn: UnsafePointer<Float>?, _ maxIn: UnsafePointer<Float>?, _ count: Int64,
                               _ dtype: Int32, _ symmetric: Int32, _ scaleOut: UnsafeMutablePointer<Float>?,
                               _ zeroPointOut: UnsafeMutablePointer<Int32>?) -> Int32 {
    capi { () throws(SQError) in
        guard count >= 0 else { throw SQError(.shape, "count is negative (\(count))") }
        let n = Int(count)
        let d = try DType(checking: dtype, argument: "dtype", allowFloat: true)
        let sym = try flag(symmetric, argument: "symmetric")
        try fillQParams(try requireData(minIn, count: n, argument: "min"), try requireData(maxIn, count: n, argument: "max"),
                        count: n, dtype: d, symmetric: sym,
                        try requireData(scaleOut, count: n, argument: "scale_out"),
                        try requireData(zeroPointOut, count: n, argument: "zero_point_out"))
    }
}

@_cdecl("sq_calibrate_minmax")
public func sqCalibrateMinMax(_ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ dtype: Int32,
                              _ symmetric: Int32, _ axis: Int32, _ blockSize: Int64,
                              _ scaleOut: UnsafeMutablePointer<Float>?, _ zeroPointOut: UnsafeMutablePointer<Int32>?,
                              _ count: Int64) -> Int32 {
    capi { () throws(SQError) in
        let d = try DType(checking: dtype, argument: "dtype", allowFloat: true)
        let sym = try flag(symmetric, argument: "symmetric")
        let (s, layout) = try groupLayout(shape, ndim, axis, blockSize, count: count)
        let scales = try requireData(scaleOut, count: layout.paramCount, argument: "scale_out")
        let zeros = try requireData(zeroPointOut, count: layout.paramCount, argument: "zero_point_out")
        // The ranges are reduced into the output buffers themselves (the maxima as float bits in the
        // zero-point buffer) and converted in place, entry by entry: no scratch sized by the group count.
        let raw = UnsafeMutableRawPointer(zeros)
        _ = try checkedMinMax(x, shape: s, layout: layout, ignoreNonfinite: false, scales,
                              raw.bindMemory(to: Float.self, capacity: layout.paramCount))
        _ = raw.bindMemory(to: Int32.self, capacity: layout.paramCount)
        for i in 0..<layout.paramCount {
            let hi = raw.load(fromByteOffset: 4 * i, as: Float.self)
            (scales[i], zeros[i]) = try qparamsFromRange(min: scales[i], max: hi, dtype: d, symmetric: sym, argument: "range \(i)")
        }
    }
}
