// Codebook (non-uniform) quantization in the Swift API, over sq_codebook_fit / _quantize / _dequantize /
// _error_report (the exact rules are in swiftquant.h, "Codebook (non-uniform) quantization").

import _SwiftQuantShims

/// Ascending float32 levels; a value is stored as the UInt8 index of its nearest level. One codebook for
/// the tensor (axis nil), or one per index along `axis`. Codebooks compare equal by value.
public struct Codebook: Equatable, Sendable {
    /// The levels of each codebook, levelsPerGroup each: one array per tensor, or one per index along axis.
    public let levels: [[Float]]
    /// nil: one codebook for the tensor; otherwise the axis whose index picks the codebook (negative counts
    /// from the end of x's dimensions).
    public let axis: Int?
    /// How the levels were fitted; nil for levels the caller gave.
    public let kind: CodebookKind?
    /// Levels per codebook (1 ... 256); stored, since a tensor with no index along axis has no codebook.
    public let levelsPerGroup: Int
    /// levels flattened, codebook g at g * levelsPerGroup: the C layout, built once.
    private let flat: [Float]
    /// Bits per index: the smallest b with 2^b >= levelsPerGroup (0 for a single level).
    public var bits: Int { Int.bitWidth - (levelsPerGroup - 1).leadingZeroBitCount }

    /// Caller-given levels: one array per codebook, all of one length in 1 ... 256 (per tensor: exactly
    /// one array). Whether the levels are finite and ascending is checked where it matters, by
    /// codebookQuantize and errorReport (codebookDequantize copies levels as they are, as the C call does).
    public init(levels: [[Float]], axis: Int? = nil, kind: CodebookKind? = nil) throws(SwiftQuantError) {
        guard let first = levels.first else { throw SwiftQuantError(.shape, "levels: no codebook given") }
        guard axis != nil || levels.count == 1 else {
            throw SwiftQuantError(.shape, "levels: \(levels.count) codebooks need an axis (one codebook per index along it)")
        }
        guard (1...256).contains(first.count) else {
            throw SwiftQuantError(.invalidArgument, "levels: a codebook holds 1 ... 256 levels (got \(first.count))")
        }
        if let g = levels.firstIndex(where: { $0.count != first.count }) {
            throw SwiftQuantError(.shape, "levels: codebook \(g) has \(levels[g].count) level(s) but codebook 0 has \(first.count)")
        }
        self.init(checked: levels, perGroup: first.count, axis: axis, kind: kind)
    }

    /// One codebook for the whole tensor.
    public init(levels: [Float], kind: CodebookKind? = nil) throws(SwiftQuantError) {
        try self.init(levels: [levels], axis: nil, kind: kind)
    }

    private init(checked levels: [[Float]], perGroup: Int, axis: Int?, kind: CodebookKind?) {
        (self.levels, self.levelsPerGroup, self.axis, self.kind) = (levels, perGroup, axis, kind)
        flat = levels.flatMap { $0 }
    }

    /// Splits the flat C levels into codebooks of L each.
    fileprivate init(flat: [Float], perGroup L: Int, axis: Int?, kind: CodebookKind) {
        let groups = (0..<flat.count / L).map { g in Array(flat[g * L ..< (g + 1) * L]) }
        self.init(checked: groups, perGroup: L, axis: axis, kind: kind)
    }

    /// Calls a codebook export with (axis, levels, levels per group, levels count) for a tensor of `dims`,
    /// after checking that the codebooks match x: one per index along the axis.
    fileprivate func withC(_ dims: [Int64], _ body: (Int32, UnsafePointer<Float>?, Int64, Int64) -> Int32) throws(SwiftQuantError) {
        var nativeAxis: Int32 = -1  // SQ_PER_TENSOR
        if let axis {
            let ax = try normalizedAxis(axis, ndim: dims.count, "codebook.axis")
            guard dims[ax] == Int64(levels.count) else {
                throw SwiftQuantError(.shape, "codebook has \(levels.count) codebook(s) but x has \(dims[ax]) index(es) along axis \(axis) (shape \(dims))")
            }
            nativeAxis = Int32(ax)
        }
        try check(flat.withUnsafeBufferPointer { body(nativeAxis, $0.baseAddress, Int64(levelsPerGroup), Int64($0.count)) })
    }
}

/// axis in 0 ..< ndim, negative counting from the end; the Swift API's nil (not -1) means per tensor.
private func normalizedAxis(_ axis: Int, ndim: Int, _ name: String) throws(SwiftQuantError) -> Int {
    let ax = axis < 0 ? axis + ndim : axis
    guard ax >= 0 && ax < ndim else {
        throw SwiftQuantError(.invalidArgument, "\(name): \(axis) is out of range for x of \(ndim) dimension(s) (nil for one codebook per tensor)")
    }
    return ax
}

/// Fits 2^bits levels (bits 1 ... 8) per codebook to x: one codebook, or one per index along `axis`.
/// kind .lloyd (default): least squared error, Lloyd-Max started from the optimal partition; .lloydQuantile:
/// Lloyd-Max from quantiles; .log2: powers of two scaled to max|x|. maxIter (default 100; 0 gives the
/// starting levels) and tol (default 0) are the Lloyd kinds' settings: giving either with .log2 is an error.
/// NaN or ±inf in x is an error.
public func fitCodebook(_ x: [Float], shape: [Int]? = nil, bits: Int = 4, axis: Int? = nil, kind: CodebookKind = .lloyd,
                        maxIter: Int? = nil, tol: Double? = nil) throws(SwiftQuantError) -> Codebook {
    if kind == .log2 {
        let unused = [maxIter == nil ? nil : "maxIter", tol == nil ? nil : "tol"].compactMap { $0 }
        if !unused.isEmpty {
            throw SwiftQuantError(.invalidArgument, "\(unused.joined(separator: " and ")): only the Lloyd kinds use it (kind is \(kind.name)); leave it unset")
        }
    }
    let iterations = maxIter ?? 100
    guard iterations <= Int(Int32.max) else {
        throw SwiftQuantError(.invalidArgument, "maxIter must be at most \(Int32.max) (got \(iterations))")
    }
    let dims = try shapeOf(shape, count: x.count, "x")
    let ax = try axis.map { (a) throws(SwiftQuantError) in try normalizedAxis(a, ndim: dims.count, "axis") }
    // An invalid bits gets no levels here; the C call then names it.
    let perGroup = (1...8).contains(bits) ? 1 << bits : 0
    let groups = ax.map { Int(dims[$0]) } ?? 1
    let total = groups.multipliedReportingOverflow(by: perGroup)
    guard !total.overflow else {
        throw SwiftQuantError(.overflow, "levels: \(groups) codebook(s) x \(perGroup) levels overflow")
    }
    // One codebook per index along the axis even when x is empty ([0, 1 << 40], axis 1): the levels are
    // sized by a dimension, not by x, so they are checked against memory before they are allocated.
    let levelCount = try checkedOutput(total.partialValue, bytesEach: 4,
                                       "shape \(dims) with axis \(ax.map(String.init) ?? "nil"): \(groups) codebook(s) of \(perGroup) levels")
    var levels = [Float](repeating: 0, count: levelCount)
    try check(sqCodebookFit(x, dims, Int32(dims.count), Int32(ax ?? -1), Int32(clamping: bits), kind.rawValue,
                            Int32(clamping: iterations), tol ?? 0, &levels, Int64(levels.count)))
    return Codebook(flat: levels, perGroup: perGroup, axis: ax, kind: kind)
}

/// The UInt8 index of each element's nearest level in its codebook, ties to the lower index (the number of
/// float64 midpoints below x). ±inf go to the end levels; NaN is an error, as are levels that are not
/// finite and ascending.
public func codebookQuantize(_ x: [Float], shape: [Int]? = nil, codebook: Codebook) throws(SwiftQuantError) -> [UInt8] {
    let dims = try shapeOf(shape, count: x.count, "x")
    var idx = [UInt8](repeating: 0, count: x.count)
    try codebook.withC(dims) { sqCodebookQuantize(x, dims, Int32(dims.count), $0, $1, $2, $3, &idx) }
    return idx
}

/// levels[idx] of each element's codebook, in float32. An index >= levelsPerGroup is an error naming it.
public func codebookDequantize(_ idx: [UInt8], shape: [Int]? = nil, codebook: Codebook) throws(SwiftQuantError) -> [Float] {
    let dims = try shapeOf(shape, count: idx.count, "idx")
    var x = [Float](repeating: 0, count: idx.count)
    try codebook.withC(dims) { sqCodebookDequantize(idx, dims, Int32(dims.count), $0, $1, $2, $3, &x) }
    return x
}

/// The error report of codebook quantization of x: each element to its nearest level, as codebookQuantize.
/// An element is clipped when it lies beyond an end level by more than half the gap to that level's
/// neighbour. `groups` holds one report per codebook.
public func errorReport(_ x: [Float], shape: [Int]? = nil, codebook: Codebook) throws(SwiftQuantError) -> ErrorReport {
    let dims = try shapeOf(shape, count: x.count, "x")
    var groups = [sq_error_stats](repeating: sq_error_stats(), count: codebook.levels.count)
    var total = sq_error_stats()
    try codebook.withC(dims) {
        sqCodebookErrorReport(x, dims, Int32(dims.count), $0, $1, $2, $3, &groups, Int64(groups.count), &total)
    }
    var r = ErrorReport(total)
    r.groups = groups.map(ErrorReport.init)
    return r
}
