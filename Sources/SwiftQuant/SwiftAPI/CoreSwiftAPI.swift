// The rest of the C surface in the Swift API: observers, dynamic quantization, int4 packing, error
// reports, integer matmul and packed weights, CPU info and version. Each call goes through the C export
// Python and C use, so checks, messages and results are identical in the three languages.

import _SwiftQuantShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The library's version, "MAJOR.MINOR.PATCH", and MAJOR*10000 + MINOR*100 + PATCH.
public let swiftQuantVersion: String = String(cString: sqVersion())
public let swiftQuantVersionNumber: Int = Int(sqVersionNumber())

/// CPU features, the kernel path in force and the kernel an operation runs with.
public struct CPUInfo: Equatable, Sendable {
    public var avx2, fma, avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, amxInt8, amxPermitted: Bool
    public var isa: ISA
    /// True when SWIFTQUANT_ISA chose the path.
    public var isaForced: Bool
    /// Why a SWIFTQUANT_ISA override cannot run here (then every computing call throws .unsupported).
    public var error: String?
}

public func cpuInfo() -> CPUInfo {
    var c = sq_cpu_info()
    let status = sqGetCPUInfo(&c)
    return CPUInfo(avx2: c.avx2 == 1, fma: c.fma == 1, avx512f: c.avx512f == 1, avx512bw: c.avx512bw == 1,
                   avx512vl: c.avx512vl == 1, avx512dq: c.avx512dq == 1, avx512vnni: c.avx512vnni == 1,
                   amxInt8: c.amx_int8 == 1, amxPermitted: c.amx_permitted == 1, isa: ISA(rawValue: c.isa) ?? .reference,
                   isaForced: c.isa_forced == 1, error: status == 0 ? nil : String(cString: sq_last_error_message()))
}

/// The kernel `op` runs with in this process, e.g. "qu8s8-gemm-6x64c4-avx512vnni" (README "Kernels").
public func kernelName(_ op: KernelOp) -> String { String(cString: sqKernelName(op.rawValue)) }

/// ONNX DynamicQuantizeLinear: uint8 values with the scale and zero point of x's range (and 0).
public func dynamicQuantize(_ x: [Float]) throws(SwiftQuantError) -> (q: [UInt8], scale: Float, zeroPoint: UInt8) {
    var q = [UInt8](repeating: 0, count: x.count)
    var scale: Float = 0, zp: UInt8 = 0
    try check(sqDynamicQuantize(x, Int64(x.count), &q, &scale, &zp))
    return (q, scale, zp)
}

/// Packs 4-bit values two per byte as ONNX stores INT4 / UINT4 / FLOAT4E2M1 (element 2i in the low nibble).
/// `dtype` defaults to int4 for Int8 values, uint4 for UInt8.
public func packInt4<Q: QuantStorage>(_ q: [Q], dtype: QuantDType? = nil) throws(SwiftQuantError) -> [UInt8] {
    let d = dtype ?? (Q.isSigned ? .int4 : .uint4)
    try requireStorage(Q.self, d, "dtype")
    var packed = [UInt8](repeating: 0, count: q.count / 2 + q.count % 2)
    try check(q.withUnsafeBytes { sqPackInt4($0.baseAddress, Int64(q.count), d.rawValue, &packed, Int64(packed.count)) })
    return packed
}

/// The inverse of packInt4: `count` values (int4 sign-extended into Int8; uint4, FP4 codes into UInt8).
public func unpackInt4<Q: QuantStorage>(_ packed: [UInt8], count: Int, dtype: QuantDType? = nil) throws(SwiftQuantError) -> [Q] {
    let d = dtype ?? (Q.isSigned ? .int4 : .uint4)
    try requireStorage(Q.self, d, "dtype")
    guard count >= 0 else { throw SwiftQuantError(.shape, "count is negative (\(count))") }
    // The C rule, checked before allocating count values: a hostile count must not size the output.
    guard packed.count == count / 2 + count % 2 else {
        throw SwiftQuantError(.shape, "count \(count) needs \(count / 2 + count % 2) packed byte(s), packed has \(packed.count)")
    }
    var q = [Q](repeating: 0, count: count)
    try check(q.withUnsafeMutableBytes { sqUnpackInt4(packed, Int64(packed.count), d.rawValue, $0.baseAddress, Int64(count)) })
    return q
}

/// Error statistics of quantizing then dequantizing (swiftquant.h, "Error analysis"): the raw float64
/// sums and the derived numbers of the Python ErrorReport.
public struct ErrorReport: Equatable, Sendable {
    public var sumSqError = 0.0, sumSqSignal = 0.0, maxAbsError = 0.0, sumSqErrorRounding = 0.0, sumSqErrorClipping = 0.0
    public var count = 0, clipped = 0, infinite = 0
    /// One report per parameter group (scale entry or codebook); empty inside a group's own report.
    public var groups: [ErrorReport] = []

    init(_ s: sq_error_stats) {
        (sumSqError, sumSqSignal, maxAbsError) = (s.sum_sq_error, s.sum_sq_signal, s.max_abs_error)
        (sumSqErrorRounding, sumSqErrorClipping) = (s.sum_sq_error_rounding, s.sum_sq_error_clipping)
        (count, clipped, infinite) = (Int(s.count), Int(s.clipped), Int(s.infinite))
    }

    private var finite: Double { Double(count - infinite) }
    public var mse: Double { finite > 0 ? sumSqError / finite : 0 }
    public var roundingMSE: Double { finite > 0 ? sumSqErrorRounding / finite : 0 }
    public var clippingMSE: Double { finite > 0 ? sumSqErrorClipping / finite : 0 }
    /// 10 log10(signal / error); +inf when the error is 0.
    public var sqnrDB: Double {
        sumSqError == 0 ? .infinity : 10 * log10(sumSqSignal / sumSqError)
    }
    public var clippedFraction: Double { count > 0 ? Double(clipped) / Double(count) : 0 }
}

/// The error report of quantize -> dequantize of x with params (rounding and seed as quantize).
public func errorReport(_ x: [Float], shape: [Int]? = nil, params: QuantParams, rounding: QuantRounding = .nearestEven,
                        seed: UInt64 = 0) throws(SwiftQuantError) -> ErrorReport {
    let dims = try shapeOf(shape, count: x.count, "x")
    var groups = [sq_error_stats](repeating: sq_error_stats(), count: params.scale.count)
    var total = sq_error_stats()
    try params.withC { (p) throws(SwiftQuantError) in
        try check(sqErrorReport(x, dims, Int32(dims.count), p, rounding.rawValue, seed, &groups, Int64(groups.count), &total))
    }
    var r = ErrorReport(total)
    r.groups = groups.map(ErrorReport.init)
    return r
}

/// Owns one sq_observer handle; destroying the box frees it. Shared between copies of a
/// CalibrationObserver until one of them mutates (copy-on-write), so it is only written while uniquely
/// referenced; reads from several threads are safe because the handle takes its own lock.
private final class ObserverBox: @unchecked Sendable {
    let handle: OpaquePointer
    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { sqObserverDestroy(handle) }

    /// A new handle with the same configuration and state: merging into an observer that has seen no batch
    /// copies the other's state field for field (counters, ranges, histograms), so it is exact for every
    /// method, MOVING_AVERAGE included (no weighted average is taken when one side is empty).
    func clone() throws(SwiftQuantError) -> ObserverBox {
        var c = sq_observer_config()
        try check(sqObserverConfigGet(handle, &c))
        var h: OpaquePointer? = nil
        try check(sqObserverCreate(&c, &h))
        let copy = ObserverBox(h!)
        try check(sqObserverMerge(copy.handle, handle))
        return copy
    }
}

/// A streaming calibration observer (swiftquant.h, "Calibration observers"): batches in, a range and
/// QuantParams out; merges with observers of other shards and serializes exactly. Settings a method does
/// not use are refused, not ignored.
///
/// A value type: a copy is an independent observer (`var b = a; try b.update(x)` leaves `a` as it was).
/// Copies share one C handle until one of them mutates, which first clones the state (copy-on-write), so
/// copying is O(1) and only a mutation of a shared copy pays for the state's size.
public struct CalibrationObserver: Sendable {
    private var box: ObserverBox
    public let method: CalibrationMethod
    public let dtype: QuantDType
    public let symmetric: Bool
    public let axis: Int?
    public let blockSize: Int?

    /// percentile: PERCENTILE only (default 99.99); numBins: the histogram methods (default 2048);
    /// averagingConstant: MOVING_AVERAGE only (default 0.01); blockSize: MINMAX only.
    public init(method: CalibrationMethod = .minmax, dtype: QuantDType = .int8, symmetric: Bool = false,
                axis: Int? = nil, blockSize: Int? = nil, ignoreNonfinite: Bool = false, percentile: Double? = nil,
                numBins: Int? = nil, averagingConstant: Double? = nil) throws(SwiftQuantError) {
        if percentile != nil && method != .percentile {
            throw SwiftQuantError(.invalidArgument, "percentile: only the percentile method uses it (method is \(method.name))")
        }
        if numBins != nil && !method.usesHistogram {
            throw SwiftQuantError(.invalidArgument, "numBins: only the histogram methods use it (method is \(method.name))")
        }
        if averagingConstant != nil && method != .movingAverage {
            throw SwiftQuantError(.invalidArgument, "averagingConstant: only moving_average uses it (method is \(method.name))")
        }
        var c = sq_observer_config(method: method.rawValue, dtype: dtype.rawValue, symmetric: symmetric ? 1 : 0,
                                   axis: Int32(clamping: axis ?? -1), block_size: Int64(blockSize ?? 0),
                                   num_bins: Int32(clamping: numBins ?? 2048), ignore_nonfinite: ignoreNonfinite ? 1 : 0,
                                   percentile: percentile ?? 99.99, averaging_constant: averagingConstant ?? 0.01)
        var h: OpaquePointer? = nil
        try check(sqObserverCreate(&c, &h))
        self.init(box: ObserverBox(h!))
    }

    private init(box: ObserverBox) {
        self.box = box
        var c = sq_observer_config()
        _ = sqObserverConfigGet(box.handle, &c)
        method = CalibrationMethod(rawValue: c.method)!
        dtype = QuantDType(rawValue: c.dtype)!
        symmetric = c.symmetric == 1
        axis = c.axis < 0 ? nil : Int(c.axis)
        blockSize = c.block_size > 0 ? Int(c.block_size) : nil
    }

    /// An observer restored from serialized() (every field validated: bad bytes throw).
    public init(serialized bytes: [UInt8]) throws(SwiftQuantError) {
        var h: OpaquePointer? = nil
        try check(sqObserverDeserialize(bytes, Int64(bytes.count), &h))
        self.init(box: ObserverBox(h!))
    }

    /// The handle a mutation may write: this value's own, cloned first if another copy shares it.
    private mutating func uniqueHandle() throws(SwiftQuantError) -> OpaquePointer {
        if !isKnownUniquelyReferenced(&box) { box = try box.clone() }
        return box.handle
    }

    /// Adds a batch of `shape` (default 1-D). On any error the observer is unchanged.
    public mutating func update(_ x: [Float], shape: [Int]? = nil) throws(SwiftQuantError) {
        let dims = try shapeOf(shape, count: x.count, "x")
        try check(sqObserverUpdate(try uniqueHandle(), x, dims, Int32(dims.count)))
    }

    /// Adds everything `other` saw (other unchanged). Throws for a different configuration or group layout.
    /// `ob.merge(ob)` merges a copy of the observer's state, as Python's `ob.merge(ob)` does: every batch
    /// counts twice (the same min/max and averages, doubled histogram counts and counters).
    public mutating func merge(_ other: CalibrationObserver) throws(SwiftQuantError) {
        // sq_observer_merge refuses one handle as both arguments; a copy of self shares the box, so the
        // clone below gives `into` its own handle and leaves `other`'s state intact.
        try check(sqObserverMerge(try uniqueHandle(), other.box.handle))
    }

    /// Parameter groups: 0 before the first batch.
    public var groupCount: Int {
        var n: Int64 = 0
        _ = sqObserverGroups(box.handle, &n, nil, nil)
        return Int(n)
    }

    /// Batches, finite values seen, non-finite values skipped, bytes of state held.
    public var stats: (batches: Int, values: Int, nonfinite: Int, stateBytes: Int) {
        var b: Int64 = 0, v: Int64 = 0, n: Int64 = 0, s: Int64 = 0
        _ = sqObserverStats(box.handle, &b, &v, &n, &s)
        return (Int(b), Int(v), Int(n), Int(s))
    }

    /// The method's range per group (before zero is added). Throws before any batch.
    public func range() throws(SwiftQuantError) -> (min: [Float], max: [Float]) {
        let n = groupCount
        var lo = [Float](repeating: 0, count: n), hi = [Float](repeating: 0, count: n)
        try check(sqObserverRange(box.handle, &lo, &hi, Int64(n)))
        return (lo, hi)
    }

    /// Scale and zero point per group, with the observer's dtype, symmetry and granularity.
    public func qparams() throws(SwiftQuantError) -> QuantParams {
        let n = groupCount
        var s = [Float](repeating: 0, count: n), z = [Int32](repeating: 0, count: n)
        try check(sqObserverQParams(box.handle, &s, &z, Int64(n)))
        return QuantParams(scale: s, zeroPoint: z, dtype: dtype, axis: axis, blockSize: blockSize)
    }

    /// The exact state in sq_observer_serialize's portable, checksummed format.
    public func serialized() throws(SwiftQuantError) -> [UInt8] {
        try serializedBytes { sqObserverSerialize(box.handle, $0, $1, $2) }
    }
}

/// Integer types an integer matmul takes: Int8 (int8) and UInt8 (uint8).
public protocol MatMulOperand: QuantStorage {}
extension Int8: MatMulOperand {}
extension UInt8: MatMulOperand {}

private func operandDType<T: MatMulOperand>(_: T.Type) -> QuantDType { T.isSigned ? .int8 : .uint8 }

/// The numpy.matmul result shape of a [..., M, K] by b [..., K, N].
public func matmulShape(_ aShape: [Int], _ bShape: [Int]) throws(SwiftQuantError) -> [Int] {
    let a = aShape.map(Int64.init), b = bShape.map(Int64.init)
    var out = [Int64](repeating: 0, count: 32)
    var nd: Int32 = 0
    try check(sqMatMulShape(a, Int32(a.count), b, Int32(b.count), &out, &nd))
    return out[0..<Int(nd)].map { Int($0) }
}

/// The element count of a matmul result, checked against memory before it is allocated: matmulShape bounds
/// it by SQ_MAX_EXTENT only, and with K = 0 (or an outer product) it can far exceed both inputs.
private func resultCount(_ aShape: [Int], _ bShape: [Int], bytesEach: Int) throws(SwiftQuantError) -> Int {
    let shape = try matmulShape(aShape, bShape)
    return try checkedOutput(shape.reduce(1, *), bytesEach: bytesEach, "a shape \(aShape), b shape \(bShape): the result \(shape)")
}

/// ONNX MatMulInteger: C = Σ_k (A - aZeroPoint)(B - bZeroPoint[n]) exactly in int32 (overflow refused).
/// bZeroPoint: one value or one per column. Shapes as numpy.matmul; the result shape is matmulShape.
public func matmul<A: MatMulOperand, B: MatMulOperand>(_ a: [A], shape aShape: [Int], aZeroPoint: Int32 = 0,
                                                      _ b: [B], shape bShape: [Int], bZeroPoint: [Int32] = [0]) throws(SwiftQuantError) -> [Int32] {
    let ad = try shapeOf(aShape, count: a.count, "a"), bd = try shapeOf(bShape, count: b.count, "b")
    var c = [Int32](repeating: 0, count: try resultCount(aShape, bShape, bytesEach: 4))
    try check(a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in
        sqMatMulI32(pa.baseAddress, operandDType(A.self).rawValue, ad, Int32(ad.count), aZeroPoint, pb.baseAddress,
                    operandDType(B.self).rawValue, bd, Int32(bd.count), bZeroPoint, Int64(bZeroPoint.count), &c, Int64(c.count))
    } })
    return c
}

/// ONNX QLinearMatMul: y = saturate(round(C * sa * sb[n] / sy) + zy), stored as Y (Int8 or UInt8, the
/// dtype of yParams), which the result type gives.
public func qlinearMatmul<A: MatMulOperand, B: MatMulOperand, Y: MatMulOperand>(
    _ a: [A], shape aShape: [Int], params aParams: QuantParams, _ b: [B], shape bShape: [Int], params bParams: QuantParams,
    output yParams: QuantParams, rounding: QuantRounding = .nearestEven, seed: UInt64 = 0) throws(SwiftQuantError) -> [Y] {
    try requireStorage(A.self, aParams.dtype, "a params.dtype")
    try requireStorage(B.self, bParams.dtype, "b params.dtype")
    try requireStorage(Y.self, yParams.dtype, "output.dtype")
    let ad = try shapeOf(aShape, count: a.count, "a"), bd = try shapeOf(bShape, count: b.count, "b")
    let yCount = try resultCount(aShape, bShape, bytesEach: MemoryLayout<Y>.stride)
    var y = [Y](repeating: 0, count: yCount)
    try aParams.withC { (pa) throws(SwiftQuantError) in try bParams.withC { (pb) throws(SwiftQuantError) in
        try yParams.withC { (py) throws(SwiftQuantError) in
            try check(a.withUnsafeBytes { ra in b.withUnsafeBytes { rb in y.withUnsafeMutableBytes { ry in
                sqQLinearMatMul(ra.baseAddress, ad, Int32(ad.count), pa, rb.baseAddress, bd, Int32(bd.count), pb, py,
                                rounding.rawValue, seed, ry.baseAddress, Int64(yCount))
            } } })
        } } }
    return y
}

/// Float output: y = float32(C) * float32(sa * sb[n]) + bias[n] (bias empty or N values).
public func matmulFloat<A: MatMulOperand, B: MatMulOperand>(
    _ a: [A], shape aShape: [Int], params aParams: QuantParams, _ b: [B], shape bShape: [Int], params bParams: QuantParams,
    bias: [Float] = []) throws(SwiftQuantError) -> [Float] {
    try requireStorage(A.self, aParams.dtype, "a params.dtype")
    try requireStorage(B.self, bParams.dtype, "b params.dtype")
    let ad = try shapeOf(aShape, count: a.count, "a"), bd = try shapeOf(bShape, count: b.count, "b")
    var y = [Float](repeating: 0, count: try resultCount(aShape, bShape, bytesEach: 4))
    try aParams.withC { (pa) throws(SwiftQuantError) in try bParams.withC { (pb) throws(SwiftQuantError) in
        try check(a.withUnsafeBytes { ra in b.withUnsafeBytes { rb in bias.withUnsafeBufferPointer { pbias in
            sqMatMulF32(ra.baseAddress, ad, Int32(ad.count), pa, rb.baseAddress, bd, Int32(bd.count), pb,
                        pbias.isEmpty ? nil : pbias.baseAddress, Int64(bias.count), &y, Int64(y.count))
        } } })
    } }
    return y
}

/// An immutable B [K, N] packed once for the active kernel, zero points folded in; shareable across threads.
public final class PackedWeights: @unchecked Sendable {
    private let handle: OpaquePointer
    public let k: Int, n: Int
    public let params: QuantParams

    /// b: K x N values of params.dtype (int8 / uint8), row-major; params per tensor or per column (axis 1).
    public init<B: MatMulOperand>(_ b: [B], k: Int, n: Int, params: QuantParams) throws(SwiftQuantError) {
        try requireStorage(B.self, params.dtype)
        let dims = try shapeOf([k, n], count: b.count, "b")
        var h: OpaquePointer? = nil
        try params.withC { (p) throws(SwiftQuantError) in
            try check(b.withUnsafeBytes { sqPack($0.baseAddress, dims, 2, p, &h) })
        }
        handle = h!
        (self.k, self.n, self.params) = (k, n, params)
    }

    deinit { sqPackedDestroy(handle) }

    /// matmul against the packed B: a [..., K] -> [..., N] int32.
    public func matmul<A: MatMulOperand>(_ a: [A], shape: [Int], aZeroPoint: Int32 = 0) throws(SwiftQuantError) -> [Int32] {
        let ad = try shapeOf(shape, count: a.count, "a")
        // From the shape, not a.count / k: K = 0 still gives [..., N], and N of an empty B is unbounded.
        var c = [Int32](repeating: 0, count: try resultCount(shape, [k, n], bytesEach: 4))
        try check(a.withUnsafeBytes { sqMatMulI32Packed($0.baseAddress, operandDType(A.self).rawValue, ad, Int32(ad.count), aZeroPoint, handle, &c, Int64(c.count)) })
        return c
    }

    /// qlinearMatmul against the packed B (which must have been packed with its scales): a [..., K] ->
    /// [..., N] values of Y, the dtype of yParams, which the result type gives.
    public func qlinearMatmul<A: MatMulOperand, Y: MatMulOperand>(_ a: [A], shape: [Int], params aParams: QuantParams,
                                                                 output yParams: QuantParams, rounding: QuantRounding = .nearestEven,
                                                                 seed: UInt64 = 0) throws(SwiftQuantError) -> [Y] {
        try requireStorage(A.self, aParams.dtype, "a params.dtype")
        try requireStorage(Y.self, yParams.dtype, "output.dtype")
        let ad = try shapeOf(shape, count: a.count, "a")
        var y = [Y](repeating: 0, count: try resultCount(shape, [k, n], bytesEach: MemoryLayout<Y>.stride))
        try aParams.withC { (pa) throws(SwiftQuantError) in try yParams.withC { (py) throws(SwiftQuantError) in
            try check(a.withUnsafeBytes { ra in y.withUnsafeMutableBytes { ry in
                sqQLinearMatMulPacked(ra.baseAddress, ad, Int32(ad.count), pa, handle, py, rounding.rawValue, seed,
                                      ry.baseAddress, Int64(ry.count / MemoryLayout<Y>.stride))
            } })
        } }
        return y
    }

    /// matmulFloat against the packed B.
    public func matmulFloat<A: MatMulOperand>(_ a: [A], shape: [Int], params aParams: QuantParams,
                                              bias: [Float] = []) throws(SwiftQuantError) -> [Float] {
        try requireStorage(A.self, aParams.dtype, "a params.dtype")
        let ad = try shapeOf(shape, count: a.count, "a")
        var y = [Float](repeating: 0, count: try resultCount(shape, [k, n], bytesEach: 4))
        try aParams.withC { (pa) throws(SwiftQuantError) in
            try check(a.withUnsafeBytes { ra in bias.withUnsafeBufferPointer { pb in
                sqMatMulF32Packed(ra.baseAddress, ad, Int32(ad.count), pa, handle, pb.isEmpty ? nil : pb.baseAddress,
                                  Int64(bias.count), &y, Int64(y.count))
            } })
        }
        return y
    }
}
