// A B matrix [K, N] prepared once for repeated products, in the layout of one GEMM record
// (Kernels/GemmConfig.swift): zero points and per-column sums are folded in at pack time, so the kernel
// only multiplies and adds. The record is the dispatch's unless a caller (a test) names another.

final class PackedMatrix {
    let k: Int
    let n: Int
    let dtype: DType
    /// One zero point, or one per column.
    let zeroPoints: [Int32]
    /// nil when packed without scales (int32 products only); else one or one per column.
    let scales: [Float]?
    /// The record whose layout this is; the driver runs its kernel.
    let config: GemmConfig
    let layout: PackedLayout

    /// `b` holds K*N values of `dtype` (int8 or uint8), row stride N.
    init(b: UnsafeRawPointer, dtype: DType, k: Int, n: Int, zeroPoints: [Int32], scales: [Float]?,
         config: GemmConfig = Registry.activeGemm) throws(SQError) {
        precondition(dtype == .int8 || dtype == .uint8)
        precondition(zeroPoints.count == 1 || zeroPoints.count == n)
        // An empty B (K = 0: every product is 0; N = 0: no columns) needs no kernel layout: the reference
        // record packs it in O(1) memory and time, whatever the other dimension is.
        let config = k == 0 || n == 0 ? GemmConfig.reference : config
        layout = try config.pack(b, dtype, k, n, zeroPoints)
        self.k = k
        self.n = n
        self.dtype = dtype
        self.zeroPoints = zeroPoints
        self.scales = scales
        self.config = config
    }

    deinit { layout.deallocate() }

    @inline(__always) func scale(column j: Int) -> Float { scales!.count == 1 ? scales![0] : scales![j] }
}
