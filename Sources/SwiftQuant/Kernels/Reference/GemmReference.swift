// Reference int8 GEMM kernel: C[m, n] = sum_k (A[m, k] - za) * Bp[k, n] over the reference layout of a
// PackedMatrix (Bp = B - zb[n] as Int16, row-major; GemmConfig.reference). Plain Swift, blocked for cache,
// wrapping int32 arithmetic: the caller has proved the exact result fits in int32, and the partial sums are
// then exact modulo 2^32 too.

/// Computes C[rows, cols] (row stride N) for A rows of length K (row stride K).
func gemmReference(_ op: GemmOperands, rows: Range<Int>, cols: Range<Int>) {
    let data = UnsafePointer(op.b.layout.data.assumingMemoryBound(to: Int16.self))
    if op.aDType == .int8 {
        gemmReference(op.a.assumingMemoryBound(to: Int8.self), za: op.za, k: op.b.k, n: op.b.n, data, op.c, rows: rows, cols: cols)
    } else {
        gemmReference(op.a.assumingMemoryBound(to: UInt8.self), za: op.za, k: op.b.k, n: op.b.n, data, op.c, rows: rows, cols: cols)
    }
}

private func gemmReference<TA: FixedWidthInteger>(_ a: UnsafePointer<TA>, za: Int32, k: Int, n: Int, _ b: UnsafePointer<Int16>,
                                                  _ c: UnsafeMutablePointer<Int32>, rows: Range<Int>, cols: Range<Int>) {
    for i in rows { (c + i * n + cols.lowerBound).initialize(repeating: 0, count: cols.count) }
    // Blocks keep a K-panel of B (kBlock x nBlock Int16 = 128 KiB) in L2 while every row of A passes over it.
    let nBlock = 256, kBlock = 256
    for n0 in stride(from: cols.lowerBound, to: cols.upperBound, by: nBlock) {
        let n1 = Swift.min(n0 + nBlock, cols.upperBound)
        for k0 in stride(from: 0, to: k, by: kBlock) {
            let k1 = Swift.min(k0 + kBlock, k)
            for i in rows {
                let crow = c + i * n
                let arow = a + i * k
                for kk in k0..<k1 {
                    let av = Int32(arow[kk]) &- za
                    if av == 0 { continue }
                    let brow = b + kk * n
                    for j in n0..<n1 { crow[j] &+= av &* Int32(brow[j]) }
                }
            }
        }
    }
}
