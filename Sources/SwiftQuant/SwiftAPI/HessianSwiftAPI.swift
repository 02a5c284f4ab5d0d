// The Swift-facing Hessian observer (swiftquant.h, "Hessian observers"), through the same C exports as
// Python and C callers, so checks, messages and results are identical in the three languages.

/// Streams activation rows (inFeatures floats each) into S = Σ x xᵀ (float64, inFeatures x inFeatures)
/// and their count; hessian() is S / count, the statistic GPTQ needs. Merges across shards and serializes
/// exactly; batching or sharding the same rows changes S by float64 rounding only (products of float32
/// values are exact in float64; integer-valued data gives identical sums). Calls on one observer take
/// turns on its lock, so it may be shared between threads.
public final class HessianObserver: @unchecked Sendable {
    private let handle: OpaquePointer
    public let inFeatures: Int

    /// An empty observer of rows of `inFeatures` values (1 ... 65536; it holds inFeatures² doubles).
    public init(inFeatures: Int) throws(SwiftQuantError) {
        var h: OpaquePointer? = nil
        try check(sqHessianCreate(Int64(inFeatures), &h))
        handle = h!
        self.inFeatures = inFeatures
    }

    /// An observer restored from serialized() (validated: bad bytes throw).
    public init(serialized bytes: [UInt8]) throws(SwiftQuantError) {
        var h: OpaquePointer? = nil
        try check(sqHessianDeserialize(bytes, Int64(bytes.count), &h))
        var k: Int64 = 0
        try check(sqHessianK(h, &k))
        handle = h!
        inFeatures = Int(k)
    }

    deinit { sqHessianDestroy(handle) }

    /// Adds the rows of x (row-major, x.count a multiple of inFeatures). NaN or ±inf throw and change nothing.
    public func update(_ x: [Float]) throws(SwiftQuantError) {
        guard x.count % inFeatures == 0 else {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue,
                                  message: "x has \(x.count) value(s), not a multiple of inFeatures (\(inFeatures))")
        }
        let shape: [Int64] = [Int64(x.count / inFeatures), Int64(inFeatures)]
        try check(sqHessianUpdate(handle, x, shape, 2))
    }

    /// Adds other's rows into this observer (other unchanged; it may be this observer). Throws for a
    /// different inFeatures.
    public func merge(_ other: HessianObserver) throws(SwiftQuantError) {
        try check(sqHessianMerge(handle, other.handle))
    }

    /// Rows observed, merged ones included.
    public var count: Int {
        var n: Int64 = 0
        _ = sqHessianCount(handle, &n)
        return Int(n)
    }

    /// H = S / count, inFeatures² doubles, row-major, symmetric. Throws before any row.
    public func hessian() throws(SwiftQuantError) -> [Double] {
        var h = [Double](repeating: 0, count: inFeatures * inFeatures)
        try check(sqHessianGet(handle, &h))
        return h
    }

    /// The raw sums S = Σ x xᵀ, inFeatures² doubles, row-major, symmetric (zeros before any row).
    public func sums() -> [Double] {
        var s = [Double](repeating: 0, count: inFeatures * inFeatures)
        _ = sqHessianSum(handle, &s)
        return s
    }

    /// The exact state in the portable format of sq_hessian_serialize.
    public func serialized() throws(SwiftQuantError) -> [UInt8] {
        try serializedBytes { sqHessianSerialize(handle, $0, $1, $2) }
    }
}
