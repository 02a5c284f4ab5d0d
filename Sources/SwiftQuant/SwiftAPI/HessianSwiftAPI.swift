// The Swift-facing Hessian observer (swiftquant.h, "Hessian observers"), through the same C exports as
// Python and C callers, so checks, messages and results are identical in the three languages.

/// Owns one sq_hessian handle; destroying the box frees it. Shared between copies of a HessianObserver
/// until one of them mutates (copy-on-write), so it is only written while uniquely referenced; reads from
/// several threads are safe because the handle takes its own lock.
private final class HessianBox: @unchecked Sendable {
    let handle: OpaquePointer
    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { sqHessianDestroy(handle) }

    /// A new handle with the same K, count and sums: merging into an empty observer adds each sum to 0.0
    /// and the count to 0, so the copy is exact, including the overflow bound a merge or update checks
    /// (a serialize / deserialize round trip would recompute that bound and allocate the bytes as well).
    /// The one difference: a sum of -0.0, possible only in crafted serialized bytes, becomes +0.0.
    func clone(k: Int) throws(SwiftQuantError) -> HessianBox {
        var h: OpaquePointer? = nil
        try check(sqHessianCreate(Int64(k), &h))
        let copy = HessianBox(h!)
        try check(sqHessianMerge(copy.handle, handle))
        return copy
    }
}

/// Streams activation rows (inFeatures floats each) into S = Σ x xᵀ (float64, inFeatures x inFeatures)
/// and their count; hessian() is S / count, the statistic GPTQ needs. Merges across shards and serializes
/// exactly; batching or sharding the same rows changes S by float64 rounding only (products of float32
/// values are exact in float64; integer-valued data gives identical sums).
///
/// A value type: a copy is an independent observer. Copies share one C handle until one of them mutates,
/// which first clones the K² sums (copy-on-write), so copying is O(1) and Sendable; only a mutation of a
/// shared copy pays for the state's size.
public struct HessianObserver: Sendable {
    private var box: HessianBox
    public let inFeatures: Int

    /// An empty observer of rows of `inFeatures` values (1 ... 65536; it holds inFeatures² doubles).
    public init(inFeatures: Int) throws(SwiftQuantError) {
        var h: OpaquePointer? = nil
        try check(sqHessianCreate(Int64(inFeatures), &h))
        box = HessianBox(h!)
        self.inFeatures = inFeatures
    }

    /// An observer restored from serialized() (validated: bad bytes throw).
    public init(serialized bytes: [UInt8]) throws(SwiftQuantError) {
        var h: OpaquePointer? = nil
        try check(sqHessianDeserialize(bytes, Int64(bytes.count), &h))
        box = HessianBox(h!)
        var k: Int64 = 0
        try check(sqHessianK(h, &k))
        inFeatures = Int(k)
    }

    /// The handle a mutation may write: this value's own, cloned first if another copy shares it.
    private mutating func uniqueHandle() throws(SwiftQuantError) -> OpaquePointer {
        if !isKnownUniquelyReferenced(&box) { box = try box.clone(k: inFeatures) }
        return box.handle
    }

    /// Adds the rows of x (row-major, x.count a multiple of inFeatures). NaN or ±inf throw and change nothing.
    public mutating func update(_ x: [Float]) throws(SwiftQuantError) {
        guard x.count % inFeatures == 0 else {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue,
                                  message: "x has \(x.count) value(s), not a multiple of inFeatures (\(inFeatures))")
        }
        let shape: [Int64] = [Int64(x.count / inFeatures), Int64(inFeatures)]
        try check(sqHessianUpdate(try uniqueHandle(), x, shape, 2))
    }

    /// Adds other's rows into this observer (other unchanged). `h.merge(h)` counts every row twice, as
    /// sq_hessian_merge(h, h) does. Throws for a different inFeatures.
    public mutating func merge(_ other: HessianObserver) throws(SwiftQuantError) {
        // `other` holds its box, so when it is a copy of self the clone below leaves other's state intact.
        try check(sqHessianMerge(try uniqueHandle(), other.box.handle))
    }

    /// Rows observed, merged ones included.
    public var count: Int {
        var n: Int64 = 0
        _ = sqHessianCount(box.handle, &n)
        return Int(n)
    }

    /// H = S / count, inFeatures² doubles, row-major, symmetric. Throws before any row.
    public func hessian() throws(SwiftQuantError) -> [Double] {
        var h = [Double](repeating: 0, count: inFeatures * inFeatures)
        try check(sqHessianGet(box.handle, &h))
        return h
    }

    /// The raw sums S = Σ x xᵀ, inFeatures² doubles, row-major, symmetric (zeros before any row).
    public func sums() -> [Double] {
        var s = [Double](repeating: 0, count: inFeatures * inFeatures)
        _ = sqHessianSum(box.handle, &s)
        return s
    }

    /// The exact state in the portable format of sq_hessian_serialize.
    public func serialized() throws(SwiftQuantError) -> [UInt8] {
        try serializedBytes { sqHessianSerialize(box.handle, $0, $1, $2) }
    }
}
