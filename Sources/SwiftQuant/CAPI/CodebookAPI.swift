// C exports for codebook (non-uniform) quantization (swiftquant.h, "Codebook (non-uniform) quantization"):
// argument checks, then the core in Codebook/Codebook.swift.

import _SwiftQuantShims

/// Validates (shape, axis) for a codebook: per tensor (axis -1) or one codebook per index along axis.
private func codebookLayout(_ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ axis: Int32) throws(SQError) -> (Shape, Layout) {
    let s = try Shape(shape, ndim, argument: "shape")
    let g = try Granularity(axis: axis, blockSize: 0, ndim: s.ndim, argument: "codebook")
    return (s, Layout(shape: s, granularity: g))
}

/// Checks levels_per_group and levels_count against the layout's number of groups.
private func checkLevelCount(_ perGroup: Int64, _ count: Int64, _ layout: Layout) throws(SQError) -> Int {
    guard perGroup >= 1 && perGroup <= 256 else {
        throw SQError(.invalidArgument, "levels_per_group must be in [1, 256] (got \(perGroup))")
    }
    let want = Int64(try Checked.mul(layout.paramCount, Int(perGroup), "levels_count: \(layout.paramCount) codebook(s) x \(perGroup) level(s)"))
    guard count == want else {
        throw SQError(.shape, "levels_count is \(count) but \(layout.paramCount) codebook(s) of \(perGroup) level(s) need \(want)")
    }
    return Int(perGroup)
}

/// Levels must be finite and ascending within each codebook.
private func checkLevels(_ lv: UnsafePointer<Float>, _ layout: Layout, _ L: Int) throws(SQError) {
    for g in 0..<layout.paramCount {
        for j in 0..<L {
            let v = lv[g * L + j]
            guard v.isFinite else {
                throw SQError(.invalidArgument, "levels[\(g * L + j)] (codebook \(g), level \(j)) is \(v); levels must be finite")
            }
            if j > 0 && v < lv[g * L + j - 1] {
                throw SQError(.invalidArgument, "levels of codebook \(g) are not ascending: level \(j) = \(v) < level \(j - 1) = \(lv[g * L + j - 1])")
            }
        }
    }
}

@_cdecl("sq_codebook_fit")
public func sqCodebookFit(_ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ axis: Int32,
                          _ bits: Int32, _ kind: Int32, _ maxIter: Int32, _ tol: Double,
                          _ levelsOut: UnsafeMutablePointer<Float>?, _ levelsCount: Int64) -> Int32 {
    capi { () throws(SQError) in
        guard bits >= 1 && bits <= 8 else { throw SQError(.invalidArgument, "bits must be in [1, 8] (got \(bits))") }
        guard let k = CodebookKind(rawValue: kind) else {
            throw SQError(.invalidArgument, "kind must be SQ_CODEBOOK_LLOYD (0), SQ_CODEBOOK_LOG2 (1) or SQ_CODEBOOK_LLOYD_QUANTILE (2) (got \(kind))")
        }
        guard maxIter >= 0 else { throw SQError(.invalidArgument, "max_iter must be >= 0 (got \(maxIter))") }
        guard tol >= 0 && tol.isFinite else { throw SQError(.invalidArgument, "tol must be finite and >= 0 (got \(tol))") }
        let (s, layout) = try codebookLayout(shape, ndim, axis)
        let L = try checkLevelCount(Int64(1) << Int64(bits), levelsCount, layout)
        let xs = try requireData(x, count: s.count, argument: "x")
        let lv = try requireData(levelsOut, count: Int(levelsCount), argument: "levels_out")
        var nonfinite = 0, first = -1
        for i in 0..<s.count where !xs[i].isFinite {
            if first < 0 { first = i }
            nonfinite += 1
        }
        if nonfinite > 0 {
            throw SQError(.nonfinite, "x: \(nonfinite) of \(s.count) value(s) are NaN or infinite (first at flat index \(first): \(xs[first])); a codebook is fitted to finite data only")
        }
        fitCodebook(xs, layout: layout, levels: L, kind: k, maxIter: Int(maxIter), tol: tol, lv)
    }
}

@_cdecl("sq_codebook_quantize")
public func sqCodebookQuantize(_ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ axis: Int32,
                               _ levels: UnsafePointer<Float>?, _ levelsPerGroup: Int64, _ levelsCount: Int64,
                               _ idxOut: UnsafeMutablePointer<UInt8>?) -> Int32 {
    capi { () throws(SQError) in
        let (s, layout) = try codebookLayout(shape, ndim, axis)
        let L = try checkLevelCount(levelsPerGroup, levelsCount, layout)
        let lv = try requireData(levels, count: Int(levelsCount), argument: "levels")
        let xs = try requireData(x, count: s.count, argument: "x")
        let q = try requireData(idxOut, count: s.count, argument: "idx_out")
        try checkLevels(lv, layout, L)
        if let bad = codebookQuantize(xs, layout: layout, levels: lv, perGroup: L, q) {
            throw SQError(.nonfinite, "x: NaN at flat index \(bad)")
        }
    }
}

@_cdecl("sq_codebook_dequantize")
public func sqCodebookDequantize(_ idx: UnsafePointer<UInt8>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ axis: Int32,
                                 _ levels: UnsafePointer<Float>?, _ levelsPerGroup: Int64, _ levelsCount: Int64,
                                 _ xOut: UnsafeMutablePointer<Float>?) -> Int32 {
    capi { () throws(SQError) in
        let (s, layout) = try codebookLayout(shape, ndim, axis)
        let L = try checkLevelCount(levelsPerGroup, levelsCount, layout)
        let lv = try requireData(levels, count: Int(levelsCount), argument: "levels")
        let q = try requireData(idx, count: s.count, argument: "idx")
        let xo = try requireData(xOut, count: s.count, argument: "x_out")
        if let (at, v) = codebookDequantize(q, layout: layout, levels: lv, perGroup: L, xo) {
            throw SQError(.outOfRange, "idx: index \(v) at flat position \(at) is out of range for a codebook of \(L) level(s) (valid: 0..\(L - 1))")
        }
    }
}

@_cdecl("sq_codebook_error_report")
public func sqCodebookErrorReport(_ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32,
                                  _ axis: Int32, _ levels: UnsafePointer<Float>?, _ levelsPerGroup: Int64,
                                  _ levelsCount: Int64, _ perGroup: UnsafeMutablePointer<sq_error_stats>?,
                                  _ groupCount: Int64, _ total: UnsafeMutablePointer<sq_error_stats>?) -> Int32 {
    capi { () throws(SQError) in
        let (s, layout) = try codebookLayout(shape, ndim, axis)
        let L = try checkLevelCount(levelsPerGroup, levelsCount, layout)
        let lv = try requireData(levels, count: Int(levelsCount), argument: "levels")
        let xs = try requireData(x, count: s.count, argument: "x")
        let t = try out(total, "total")
        try checkGroupCount(groupCount, perGroup, layout)
        try checkLevels(lv, layout, L)
        let groups = try codebookErrorReport(xs, layout: layout, levels: lv, perGroup: L)
        storeErrorStats(groups, perGroup, groupCount, t)
    }
}
