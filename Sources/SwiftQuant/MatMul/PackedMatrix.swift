// A B matrix [K, N] prepared once for repeated products. The reference layout stores B - zb[n] as Int16
// (row-major), so zero points are folded in at pack time and the kernel only multiplies and adds.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

final class PackedMatrix {
    let k: Int
    let n: Int
    let dtype: DType
    /// One zero point, or one per column.
    let zeroPoints: [Int32]
    /// nil when packed without scales (int32 products only); else one or one per column.
    let scales: [Float]?
    /// (B[k, n] - zb[n]) in [-255, 255], K x N row-major.
    let data: UnsafeMutablePointer<Int16>
    /// max over columns of max|B - zb| over the dtype's range: bounds the accumulator (overflow check).
    let maxAbs: Int

    /// `b` holds K*N values of `dtype` (int8 or uint8), row stride N.
    init(b: UnsafeRawPointer, dtype: DType, k: Int, n: Int, zeroPoints: [Int32], scales: [Float]?) throws(SQError) {
        precondition(dtype == .int8 || dtype == .uint8)
        precondition(zeroPoints.count == 1 || zeroPoints.count == n)
        let count = k * n
        guard let raw = malloc(Swift.max(count, 1) * MemoryLayout<Int16>.stride) else {
            throw SQError(.outOfMemory, "b: cannot allocate \(count * 2) bytes for the packed matrix")
        }
        let data = raw.bindMemory(to: Int16.self, capacity: Swift.max(count, 1))
        func fill<T: FixedWidthInteger>(_ src: UnsafePointer<T>) {
            for kk in 0..<k {
                for j in 0..<n {
                    let z = zeroPoints.count == 1 ? zeroPoints[0] : zeroPoints[j]
                    data[kk * n + j] = Int16(truncatingIfNeeded: Int32(src[kk * n + j]) - z)
                }
            }
        }
        if dtype == .int8 { fill(b.assumingMemoryBound(to: Int8.self)) } else { fill(b.assumingMemoryBound(to: UInt8.self)) }
        self.k = k
        self.n = n
        self.dtype = dtype
        self.zeroPoints = zeroPoints
        self.scales = scales
        self.data = data
        self.maxAbs = zeroPoints.map { Int(Swift.max(dtype.qmax - $0, $0 - dtype.qmin)) }.max() ?? 0
    }

    deinit { free(data) }

    @inline(__always) func scale(column j: Int) -> Float { scales!.count == 1 ? scales![0] : scales![j] }
}
