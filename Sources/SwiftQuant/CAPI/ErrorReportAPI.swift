// C export for quantization error statistics (swiftquant.h, "Error analysis").

import _SwiftQuantShims

extension sq_error_stats {
    init(_ s: ErrorStats) {
        self.init(sum_sq_error: s.sumSqError, sum_sq_signal: s.sumSqSignal, max_abs_error: s.maxAbsError,
                  sum_sq_error_rounding: s.sumSqErrorRounding, sum_sq_error_clipping: s.sumSqErrorClipping,
                  count: Int64(s.count), clipped: Int64(s.clipped), infinite: Int64(s.infinite))
    }
}

@_cdecl("sq_error_report")
public func sqErrorReport(_ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32,
                          _ params: UnsafePointer<sq_qparams>?, _ rounding: Int32, _ seed: UInt64,
                          _ perGroup: UnsafeMutablePointer<sq_error_stats>?, _ groupCount: Int64,
                          _ total: UnsafeMutablePointer<sq_error_stats>?) -> Int32 {
    capi { () throws(SQError) in
        let s = try Shape(shape, ndim, argument: "shape")
        let p = try QParamsView(params, shape: s, argument: "params", allowFloat: true)
        let r = try Rounding(checking: rounding)
        let xs = try requireData(x, count: s.count, argument: "x")
        let t = try out(total, "total")
        try checkGroupCount(groupCount, perGroup, p.layout)
        let groups = try errorReport(xs, params: p, rounding: r, seed: seed)
        storeErrorStats(groups, perGroup, groupCount, t)
    }
}

/// group_count must be 0 or the number of parameter groups, with per_group given when it is not 0.
func checkGroupCount(_ groupCount: Int64, _ perGroup: UnsafeMutablePointer<sq_error_stats>?,
                     _ layout: Layout) throws(SQError) {
    guard groupCount == 0 || groupCount == Int64(layout.paramCount) else {
        throw SQError(.shape, "group_count is \(groupCount) but must be 0 or the number of parameter groups (\(layout.paramCount))")
    }
    if groupCount > 0 && perGroup == nil { throw SQError(.nullPointer, "per_group is NULL with group_count \(groupCount)") }
}

/// Writes the groups (when group_count > 0) and their sum, in group order.
func storeErrorStats(_ groups: [ErrorStats], _ perGroup: UnsafeMutablePointer<sq_error_stats>?, _ groupCount: Int64,
                     _ total: UnsafeMutablePointer<sq_error_stats>) {
    var sum = ErrorStats()
    for (i, g) in groups.enumerated() {
        sum.merge(g)
        if groupCount > 0 { perGroup![i] = sq_error_stats(g) }
    }
    total.pointee = sq_error_stats(sum)
}
