// Checked size arithmetic and validated shapes. Every size and count that comes from a caller or from
// serialized bytes is read through `Shape` and combined with `Checked`: overflow is an error, never a trap.
//
// Limits (swiftquant.h, "Limits"): ndim <= 32, and the product of a shape's non-zero dimensions (its
// extent) is at most 2^60. A zero dimension makes the element count 0, but the other dimensions still
// size parameter arrays and loops, so they are bounded too; with the extent bounded, every product of some
// of a shape's dimensions, times an element size of up to 8 bytes, fits in an Int64.

let maxNDim = 32
let maxExtent = 1 << 60

/// Size arithmetic that reports overflow as SQError(.shape) naming what was being computed.
enum Checked {
    @inline(__always)
    static func mul(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws(SQError) -> Int {
        let (p, o) = a.multipliedReportingOverflow(by: b)
        guard !o else { throw SQError(.shape, "\(what()): \(a) x \(b) overflows") }
        return p
    }

    @inline(__always)
    static func add(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws(SQError) -> Int {
        let (s, o) = a.addingReportingOverflow(b)
        guard !o else { throw SQError(.shape, "\(what()): \(a) + \(b) overflows") }
        return s
    }

    /// Same as `add` for the 64-bit counters of persistent state, reported as SQ_ERROR_OVERFLOW.
    @inline(__always)
    static func addCounter(_ a: Int64, _ b: Int64, _ what: @autoclosure () -> String) throws(SQError) -> Int64 {
        let (s, o) = a.addingReportingOverflow(b)
        guard !o && s >= 0 else { throw SQError(.overflow, "\(what()): the count \(a) + \(b) overflows a 64-bit counter") }
        return s
    }

    /// ceil(n / d) for n >= 0, d > 0 (0 otherwise, so it can size things before d is validated), without
    /// the n + d - 1 that overflows for huge d.
    @inline(__always)
    static func ceilDiv(_ n: Int, _ d: Int) -> Int { n <= 0 || d <= 0 ? 0 : (n - 1) / d + 1 }
}

struct Shape {
    let dims: [Int]
    /// Number of elements (0 when any dimension is 0).
    let count: Int
    /// Product of the non-zero dimensions (<= maxExtent): bounds every product of dimensions.
    let extent: Int

    /// Checks dimensions from Swift (the same rules as a C shape).
    init(_ dims: [Int], argument: String = "shape") throws(SQError) {
        guard dims.count <= maxNDim else {
            throw SQError(.shape, "\(argument): ndim \(dims.count) is outside [0, \(maxNDim)]")
        }
        var extent = 1
        for (i, d) in dims.enumerated() {
            guard d >= 0 else { throw SQError(.shape, "\(argument): dimension \(i) is negative (\(d))") }
            guard d > 0 else { continue }
            let (p, o) = extent.multipliedReportingOverflow(by: d)
            guard !o && p <= maxExtent else {
                throw SQError(.shape, "\(argument): shape \(dims) is too large (the product of its non-zero dimensions exceeds 2^60)")
            }
            extent = p
        }
        self.dims = dims
        self.extent = extent
        self.count = dims.contains(0) ? 0 : extent
    }

    /// Reads and checks a C shape. A NULL shape is allowed only for ndim == 0 (a scalar).
    init(_ ptr: UnsafePointer<Int64>?, _ ndim: Int32, argument: String) throws(SQError) {
        guard ndim >= 0 && ndim <= Int32(maxNDim) else {
            throw SQError(.shape, "\(argument): ndim \(ndim) is outside [0, \(maxNDim)]")
        }
        if ndim > 0 && ptr == nil { throw SQError(.nullPointer, "\(argument): shape pointer is NULL with ndim \(ndim)") }
        try self.init((0..<Int(ndim)).map { Int(ptr![$0]) }, argument: argument)
    }

    var ndim: Int { dims.count }

    /// Product of dims[range] (cannot overflow: bounded by the extent, or 0).
    func product(_ range: Range<Int>) -> Int {
        var p = 1
        for i in range { p &*= dims[i] }
        return p
    }
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
