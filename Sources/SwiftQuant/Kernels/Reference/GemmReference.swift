// Reference int8 GEMM kernel: C[m, n] = sum_k (A[m, k] - za) * Bp[k, n] over a PackedMatrix (zero points
// already folded into Bp). Plain Swift, blocked for cache, wrapping int32 arithmetic: the caller has proved
// the exact result fits in int32, and the partial sums are then exact modulo 2^32 too.

/// Computes rows 0..<m of C (row stride b.n) for A rows of length b.k at `a` (row stride b.k).
func gemmReference<TA: FixedWidthInteger>(_ a: UnsafePointer<TA>, za: Int32, m: Int, b: PackedMatrix,
                                          _ c: UnsafeMutablePointer<Int32>) {
    let k = b.k, n = b.n
    c.initialize(repeating: 0, count: m * n)
    // Blocks keep a K-panel of B (kBlock x nBlock Int16 = 128 KiB) in L2 while every row of A passes over it.
    let nBlock = 256, kBlock = 256
    for n0 in stride(from: 0, to: n, by: nBlock) {
        let n1 = Swift.min(n0 + nBlock, n)
        for k0 in stride(from: 0, to: k, by: kBlock) {
            let k1 = Swift.min(k0 + kBlock, k)
            for i in 0..<m {
                let crow = c + i * n
                let arow = a + i * k
                for kk in k0..<k1 {
                    let av = Int32(arow[kk]) &- za
                    if av == 0 { continue }
                    let brow = UnsafePointer(b.data + kk * n)
                    for j in n0..<n1 { crow[j] &+= av &* Int32(brow[j]) }
                }
            }
        }
    }
}
