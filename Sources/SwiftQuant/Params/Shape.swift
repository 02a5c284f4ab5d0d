// Validated shapes from C (pointer, ndim) pairs: no negative dimensions, no overflowing element counts.

let maxNDim = 32

struct Shape {
    let dims: [Int]
    let count: Int

    init(_ dims: [Int]) {
        self.dims = dims
        self.count = dims.reduce(1, *)
    }

    /// Reads and checks a C shape. A NULL shape is allowed only for ndim == 0 (a scalar).
    init(_ ptr: UnsafePointer<Int64>?, _ ndim: Int32, argument: String) throws(SQError) {
        guard ndim >= 0 && ndim <= Int32(maxNDim) else {
            throw SQError(.shape, "\(argument): ndim \(ndim) is outside [0, \(maxNDim)]")
        }
        if ndim > 0 && ptr == nil { throw SQError(.nullPointer, "\(argument): shape pointer is NULL with ndim \(ndim)") }
        var dims: [Int] = []
        dims.reserveCapacity(Int(ndim))
        var count = 1
        var overflow = false
        for i in 0..<Int(ndim) {
            let d = ptr![i]
            guard d >= 0 else { throw SQError(.shape, "\(argument): dimension \(i) is negative (\(d))") }
            let (p, o) = count.multipliedReportingOverflow(by: Int(d))
            overflow = overflow || o
            count = p
            dims.append(Int(d))
        }
        // An empty dimension makes the product 0 whatever the others are, but a huge product is still
        // a caller bug: reject any overflow of the running product.
        guard !overflow && count <= Int.max / 8 else {
            throw SQError(.shape, "\(argument): the element count of shape \(dims) overflows")
        }
        self.dims = dims
        self.count = count
    }

    var ndim: Int { dims.count }
}

/// Checks that a data pointer exists when the buffer holds elements; returns a pointer usable for `count`
/// elements (a dummy for empty buffers).
@inline(__always)
func requireData<T>(_ p: UnsafePointer<T>?, count: Int, argument: String) throws(SQError) -> UnsafePointer<T> {
    if let p { return p }
    if count == 0 { return UnsafePointer(bitPattern: MemoryLayout<T>.alignment)! }
    throw SQError(.nullPointer, "\(argument) is NULL")
}

@inline(__always)
func requireData<T>(_ p: UnsafeMutablePointer<T>?, count: Int, argument: String) throws(SQError) -> UnsafeMutablePointer<T> {
    if let p { return p }
    if count == 0 { return UnsafeMutablePointer(bitPattern: MemoryLayout<T>.alignment)! }
    throw SQError(.nullPointer, "\(argument) is NULL")
}

/// Raw-pointer form for quantized buffers whose element type depends on a dtype.
@inline(__always)
func requireRawData(_ p: UnsafeRawPointer?, count: Int, argument: String) throws(SQError) -> UnsafeRawPointer {
    if let p { return p }
    if count == 0 { return UnsafeRawPointer(bitPattern: 16)! }
    throw SQError(.nullPointer, "\(argument) is NULL")
}
