// The Swift-facing API: value types and throwing functions over arrays, for Swift programs that depend on
// the package (`import SwiftQuant`). Each call goes through the same C export as Python and C callers, so
// argument checks, error messages and results are identical in the three languages.

import _SwiftQuantShims
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The enums (QuantDType, QuantRounding, CalibrationMethod, CodebookKind, QuantMXFormat, GGUFType, ISA,
// KernelOp) and the error type (SwiftQuantError) are the core's own, defined once under Params/, Formats/,
// Calibrate/, Codebook/, Weights/ and Kernels/.

/// Runs a C export and turns a failure into a SwiftQuantError carrying the thread's last message.
func check(_ status: Int32) throws(SwiftQuantError) {
    guard status == 0 else { throw SwiftQuantError(status: status, message: String(cString: sq_last_error_message())) }
}

/// The bytes of a `_serialize` export, which takes (buf, capacity, &size): asked once for the size, then
/// filled. Asked again if the state grew in between (another thread updated the object), so a caller never
/// sees a spurious "capacity too small".
func serializedBytes(_ export: (UnsafeMutablePointer<UInt8>?, Int64, UnsafeMutablePointer<Int64>) -> Int32) throws(SwiftQuantError) -> [UInt8] {
    var size: Int64 = 0
    try check(export(nil, 0, &size))
    while true {
        let capacity = size
        var bytes = [UInt8](repeating: 0, count: Int(capacity))
        let status = bytes.withUnsafeMutableBufferPointer { export($0.baseAddress, capacity, &size) }
        if status == SwiftQuantError.Kind.shape.rawValue && size > capacity { continue }
        try check(status)
        return size == capacity ? bytes : Array(bytes.prefix(Int(size)))
    }
}

/// Integer types that hold quantized values: Int8 (int8, int4), UInt8 (uint8, uint4), Int16, UInt16.
public protocol QuantStorage: FixedWidthInteger, Sendable {}
extension Int8: QuantStorage {}
extension UInt8: QuantStorage {}
extension Int16: QuantStorage {}
extension UInt16: QuantStorage {}

func requireStorage<Q: QuantStorage>(_ q: Q.Type, _ d: QuantDType, _ argument: String = "params.dtype") throws(SwiftQuantError) {
    guard Q.bitWidth == 8 * d.storageBytes && Q.isSigned == d.isSigned else {
        throw SwiftQuantError(.invalidArgument, "\(argument): \(d.name) values are not stored as \(Q.self) (store \(d.storageName))")
    }
}

extension QuantDType {
    /// The Swift storage type of the dtype's values.
    var storageName: String {
        switch self {
        case .int8, .int4: "Int8"
        case .int16: "Int16"
        case .uint16: "UInt16"
        default: "UInt8"
        }
    }
}

/// Scale and zero point: one pair per tensor, per index along `axis`, or per block of `blockSize` along it.
public struct QuantParams: Equatable, Sendable {
    public var scale: [Float]
    public var zeroPoint: [Int32]
    public var dtype: QuantDType
    /// nil: per tensor; otherwise the channel axis (0-based).
    public var axis: Int?
    /// nil: per axis (or per tensor); otherwise the block length along `axis`.
    public var blockSize: Int?

    /// Per-tensor parameters.
    public init(scale: Float, zeroPoint: Int32 = 0, dtype: QuantDType = .int8) {
        self.init(scale: [scale], zeroPoint: [zeroPoint], dtype: dtype, axis: nil, blockSize: nil)
    }

    /// Any granularity: `scale` and `zeroPoint` hold one entry per group (per-axis: x's extent along axis).
    public init(scale: [Float], zeroPoint: [Int32], dtype: QuantDType, axis: Int?, blockSize: Int? = nil) {
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.dtype = dtype
        self.axis = axis
        self.blockSize = blockSize
    }

    /// Calls body with the C view of these parameters (valid only inside body).
    func withC<R>(_ body: (UnsafePointer<sq_qparams>) throws(SwiftQuantError) -> R) throws(SwiftQuantError) -> R {
        guard zeroPoint.count == scale.count else {
            throw SwiftQuantError(.shape,
                                  "params: \(scale.count) scale(s) but \(zeroPoint.count) zero point(s)")
        }
        let r: Result<R, SwiftQuantError> = scale.withUnsafeBufferPointer { s in
            zeroPoint.withUnsafeBufferPointer { z in
                var c = sq_qparams(scale: s.baseAddress, zero_point: z.baseAddress, count: Int64(scale.count),
                                   dtype: dtype.rawValue, axis: Int32(axis ?? -1), block_size: Int64(blockSize ?? 0))
                do throws(SwiftQuantError) { return .success(try body(&c)) } catch { return .failure(error) }
            }
        }
        return try r.get()
    }
}

/// Bytes of physical memory (0 if the system does not say). An output array larger than this can only
/// end in a trap or the OOM killer: a Swift Array allocation cannot fail with an error.
let physicalMemoryBytes: Int = {
    let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
    guard pages > 0, size > 0 else { return 0 }
    let (b, o) = Int(pages).multipliedReportingOverflow(by: Int(size))
    return o ? Int.max : b
}()

/// a * b for non-negative a and b, nil when it overflows (compare with an array's count: nil never matches).
func exactProduct(_ a: Int, _ b: Int) -> Int? {
    let (p, o) = a.multipliedReportingOverflow(by: b)
    return o || a < 0 || b < 0 ? nil : p
}

/// Checks `count` elements of `bytesEach` bytes before the Swift API allocates an output whose size comes
/// from a caller's shape or count and may legitimately exceed the inputs (a matmul's [M, N], parameters per
/// index of an empty tensor's axis). The C side leaves such buffers to the caller and returns
/// SQ_ERROR_OUT_OF_MEMORY when its own allocations fail; here the refusal comes first, as .outOfMemory
/// naming the argument, when the bytes exceed physical memory. Returns count.
func checkedOutput(_ count: Int, bytesEach: Int, _ what: @autoclosure () -> String) throws(SwiftQuantError) -> Int {
    let (bytes, o) = count.multipliedReportingOverflow(by: bytesEach)
    guard count >= 0, !o else { throw SwiftQuantError(.shape, "\(what()): \(count) element(s) of \(bytesEach) byte(s) overflow") }
    let limit = physicalMemoryBytes
    guard limit == 0 || bytes <= limit else {
        throw SwiftQuantError(.outOfMemory,
                              "\(what()): \(count) element(s) need \(bytes) bytes, more than this machine's \(limit) bytes of memory")
    }
    return count
}

/// The shape of x: `shape`, or one dimension of x.count; its element count must be x.count.
func shapeOf(_ shape: [Int]?, count: Int, _ name: String) throws(SwiftQuantError) -> [Int64] {
    let s = shape ?? [count]
    var product = 1, overflow = false
    for d in s {
        let r = product.multipliedReportingOverflow(by: d)
        (product, overflow) = (r.partialValue, overflow || r.overflow)
    }
    guard s.allSatisfy({ $0 >= 0 }), !overflow, product == count else {
        throw SwiftQuantError(.shape, "\(name) has \(count) element(s) but shape is \(s)")
    }
    return s.map(Int64.init)
}

/// Min/max calibration: scale and zero point covering x's range (and 0), per tensor, per index along
/// `axis`, or per block of `blockSize` along it; symmetric puts the zero point at the middle of the dtype
/// (int8: 0, narrow range [-127, 127]). NaN or infinity in x is an error.
public func calibrate(_ x: [Float], shape: [Int]? = nil, dtype: QuantDType = .int8, symmetric: Bool = false,
                      axis: Int? = nil, blockSize: Int? = nil) throws(SwiftQuantError) -> QuantParams {
    let dims = try shapeOf(shape, count: x.count, "x")
    let ax = Int32(axis ?? -1), block = Int64(blockSize ?? 0)
    var count: Int64 = 0
    try check(sqQParamsCount(dims, Int32(dims.count), ax, block, &count))
    // One pair per index along the axis even when x is empty: sized by a dimension, not by x.
    let n = try checkedOutput(Int(count), bytesEach: 8, "shape \(dims) with axis \(axis.map(String.init) ?? "nil"): the scales and zero points")
    var scale = [Float](repeating: 0, count: n)
    var zeroPoint = [Int32](repeating: 0, count: n)
    try check(sqCalibrateMinMax(x, dims, Int32(dims.count), dtype.rawValue, symmetric ? 1 : 0, ax, block, &scale,
                                &zeroPoint, count))
    return QuantParams(scale: scale, zeroPoint: zeroPoint, dtype: dtype, axis: axis, blockSize: blockSize)
}

/// q = saturate(round(x / scale) + zeroPoint), stored as Q, which the result type gives
/// (`let q: [Int8] = try quantize(x, params: p)`): Int8 for int8/int4, UInt8 for uint8/uint4 and the float
/// formats, Int16, UInt16 (another type is an error naming the right one). ±inf saturate; NaN is an error
/// (the FP8 formats encode it). `saturate: false` is ONNX's saturate = 0 for the float formats:
/// out-of-range values become inf or NaN.
public func quantize<Q: QuantStorage>(_ x: [Float], shape: [Int]? = nil, params: QuantParams,
                                      rounding: QuantRounding = .nearestEven, seed: UInt64 = 0,
                                      saturate: Bool = true) throws(SwiftQuantError) -> [Q] {
    try requireStorage(Q.self, params.dtype)
    let dims = try shapeOf(shape, count: x.count, "x")
    var q = [Q](repeating: 0, count: x.count)
    try params.withC { (p) throws(SwiftQuantError) in
        if !saturate {
            try check(q.withUnsafeMutableBytes {
                sqQuantizeFloat(x, dims, Int32(dims.count), p, 0, $0.baseAddress?.assumingMemoryBound(to: UInt8.self))
            })
        } else {
            try check(q.withUnsafeMutableBytes { sqQuantize(x, dims, Int32(dims.count), p, rounding.rawValue, seed, $0.baseAddress) })
        }
    }
    return q
}

/// quantize with the storage type named (`quantize(x, params: p, as: UInt8.self)`), where no result type
/// is written.
public func quantize<Q: QuantStorage>(_ x: [Float], shape: [Int]? = nil, params: QuantParams, as: Q.Type,
                                      rounding: QuantRounding = .nearestEven, seed: UInt64 = 0,
                                      saturate: Bool = true) throws(SwiftQuantError) -> [Q] {
    try quantize(x, shape: shape, params: params, rounding: rounding, seed: seed, saturate: saturate)
}

/// x = (q - zeroPoint) * scale in float32; for a float format, value(q) * scale. A 4-bit value outside its
/// range, or an FP4 / FP6 code beyond the format, is an error.
public func dequantize<Q: QuantStorage>(_ q: [Q], shape: [Int]? = nil, params: QuantParams) throws(SwiftQuantError) -> [Float] {
    try requireStorage(Q.self, params.dtype)
    let dims = try shapeOf(shape, count: q.count, "q")
    var x = [Float](repeating: 0, count: q.count)
    try params.withC { (p) throws(SwiftQuantError) in
        try check(q.withUnsafeBytes { sqDequantize($0.baseAddress, dims, Int32(dims.count), p, &x) })
    }
    return x
}

/// dequantize(quantize(x)) in one pass, bit for bit: the values a quantized model computes with.
public func fakeQuantize(_ x: [Float], shape: [Int]? = nil, params: QuantParams, rounding: QuantRounding = .nearestEven,
                         seed: UInt64 = 0) throws(SwiftQuantError) -> [Float] {
    let dims = try shapeOf(shape, count: x.count, "x")
    var y = [Float](repeating: 0, count: x.count)
    try params.withC { (p) throws(SwiftQuantError) in
        try check(sqFakeQuantize(x, dims, Int32(dims.count), p, rounding.rawValue, seed, &y))
    }
    return y
}

/// A linear layer y = x W^T + b run in int8: weights quantized symmetric per output row and packed once,
/// the input quantized per call (per tensor, or per row: one scale per token).
public final class QuantizedLinearLayer {
    public enum Activation: Int32, Sendable { case perTensor = 0, perRow = 1 }

    private let handle: OpaquePointer
    public let outFeatures: Int
    public let inFeatures: Int

    /// `weight` holds outFeatures x inFeatures floats, row-major; `bias` is empty or outFeatures floats.
    public init(weight: [Float], outFeatures: Int, inFeatures: Int, bias: [Float] = [],
                activation: Activation = .perTensor) throws(SwiftQuantError) {
        let size = outFeatures.multipliedReportingOverflow(by: inFeatures)
        guard outFeatures >= 1, inFeatures >= 1, !size.overflow, weight.count == size.partialValue else {
            throw SwiftQuantError(.shape,
                                  "weight has \(weight.count) value(s), not outFeatures x inFeatures = \(outFeatures) x \(inFeatures)")
        }
        guard bias.isEmpty || bias.count == outFeatures else {
            throw SwiftQuantError(.shape, "bias has \(bias.count) value(s), not \(outFeatures)")
        }
        var h: OpaquePointer? = nil
        try check(bias.withUnsafeBufferPointer { b in
            sqLinearCreate(weight, Int64(outFeatures), Int64(inFeatures), b.isEmpty ? nil : b.baseAddress, activation.rawValue, &h)
        })
        handle = h!
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
    }

    deinit { sqLinearDestroy(handle) }

    /// y for x of `rows` x inFeatures floats (row-major); returns rows x outFeatures floats.
    public func callAsFunction(_ x: [Float]) throws(SwiftQuantError) -> [Float] {
        guard x.count % inFeatures == 0 else {
            throw SwiftQuantError(.shape,
                                  "x has \(x.count) value(s), not a multiple of inFeatures (\(inFeatures))")
        }
        let rows = x.count / inFeatures
        let yCount = try checkedOutput(try Checked.mul(rows, outFeatures, "x: rows x outFeatures"), bytesEach: 4,
                                       "x: the result [\(rows), \(outFeatures)]")
        var y = [Float](repeating: 0, count: yCount)
        let shape: [Int64] = [Int64(rows), Int64(inFeatures)]
        try check(sqLinearForward(handle, x, shape, 2, &y, Int64(y.count)))
        return y
    }
}
