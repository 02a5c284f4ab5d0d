// Dense float64 factorizations for GPTQ: a blocked Cholesky factorization and a blocked lower-triangular
// inverse, both on gemmAtB (Kernels/FloatGemm.swift) for their O(n³) part. Row-major, in place.

/// Block width of the factorizations: the trailing updates are gemmAtB calls with k = nb.
private let nb = 128
/// Sub-block of the panel solves: within it a few rows are solved by vector updates, the rest by gemmAtB.
private let sb = 16

/// Lower Cholesky factor L of a symmetric positive definite a [n, n] (A = L Lᵀ), in place: the lower
/// triangle becomes L, the upper triangle 0. Reads only the lower triangle. False (a is then garbage)
/// when a pivot is not positive and finite: the matrix is not positive definite to working precision.
func choleskyLower(_ a: UnsafeMutablePointer<Double>, n: Int) -> Bool {
    guard n > 0 else { return true }
    var j0 = 0
    while j0 < n {
        let jb = Swift.min(nb, n - j0)
        // 1. The diagonal block (already updated by the panels to its left), unblocked.
        for j in j0..<(j0 + jb) {
            let rj = a + j * n
            var d = rj[j]
            for p in j0..<j { d -= rj[p] * rj[p] }
            guard d > 0 && d.isFinite else { return false }
            let l = d.squareRoot()
            rj[j] = l
            for i in (j + 1)..<(j0 + jb) {
                let ri = a + i * n
                var s = ri[j]
                for p in j0..<j { s -= ri[p] * rj[p] }
                ri[j] = s / l
            }
        }
        let r0 = j0 + jb, rows = n - r0
        if rows > 0 {
            // 2. The panel below: L21 = A21 L11⁻ᵀ, solved on its transpose t [jb, rows] (L11 t = A21ᵀ) so the
            //    updates run along contiguous rows.
            let t = UnsafeMutablePointer<Double>.allocate(capacity: jb * rows)
            defer { t.deallocate() }
            for i in 0..<rows { for j in 0..<jb { t[j * rows + i] = a[(r0 + i) * n + j0 + j] } }
            lowerSolve(a + j0 * n + j0, lda: n, m: jb, t, ldt: rows, cols: rows)
            for i in 0..<rows { for j in 0..<jb { a[(r0 + i) * n + j0 + j] = t[j * rows + i] } }
            // 3. The trailing lower triangle: A22 -= L21 L21ᵀ, block row by block row, columns up to the
            //    block's last row (the upper parts of the diagonal blocks are updated too and ignored).
            var i0 = 0
            while i0 < rows {
                let ib = Swift.min(nb, rows - i0)
                gemmAtB(m: ib, n: i0 + ib, k: jb, alpha: -1, a: t + i0, lda: rows, b: t, ldb: rows,
                        c: a + (r0 + i0) * n + r0, ldc: n)
                i0 += ib
            }
        }
        j0 += jb
    }
    for i in 0..<n { for j in (i + 1)..<n { a[i * n + j] = 0 } }
    return true
}

/// Solves L X = B in place (B [m, cols] at t with row stride ldt) for lower-triangular L [m, m] (row stride
/// lda, nonzero diagonal): forward substitution by sub-blocks of sb rows, earlier rows applied by gemmAtB.
private func lowerSolve(_ l: UnsafePointer<Double>, lda: Int, m: Int, _ t: UnsafeMutablePointer<Double>, ldt: Int, cols: Int) {
    // lt = Lᵀ (lt[p, i] = L[i, p]): gemmAtB reads its A operand along p.
    let lt = UnsafeMutablePointer<Double>.allocate(capacity: m * m)
    defer { lt.deallocate() }
    for i in 0..<m { for p in 0...i { lt[p * m + i] = l[i * lda + p] } }
    var s0 = 0
    while s0 < m {
        let s1 = Swift.min(s0 + sb, m)
        if s0 > 0 {
            gemmAtB(m: s1 - s0, n: cols, k: s0, alpha: -1, a: UnsafePointer(lt) + s0, lda: m, b: UnsafePointer(t), ldb: ldt,
                    c: t + s0 * ldt, ldc: ldt)
        }
        for j in s0..<s1 {
            let rj = t + j * ldt
            for p in s0..<j {
                let f = l[j * lda + p], rp = t + p * ldt
                for c in 0..<cols { rj[c] -= f * rp[c] }
            }
            let inv = 1 / l[j * lda + j]
            for c in 0..<cols { rj[c] *= inv }
        }
        s0 = s1
    }
}

/// L⁻¹ for lower-triangular l [n, n] with a positive diagonal (a Cholesky factor), as a new lower-triangular
/// array: block row by block row, X[i, :] = L_ii⁻¹ (E_i − Σ_{p<i} L[i, p] X[p, :]) with the sum restricted to
/// the nonzero blocks.
func lowerInverse(_ l: UnsafePointer<Double>, n: Int) -> [Double] {
    var x = [Double](repeating: 0, count: n * n)
    guard n > 0 else { return x }
    // lt = Lᵀ, the A operand of the gemm calls.
    var lt = [Double](repeating: 0, count: n * n)
    for i in 0..<n { for p in 0...i { lt[p * n + i] = l[i * n + p] } }
    x.withUnsafeMutableBufferPointer { xb in
        lt.withUnsafeBufferPointer { ltb in
            let x = xb.baseAddress!, lt = ltb.baseAddress!
            var i0 = 0
            while i0 < n {
                let ib = Swift.min(nb, n - i0)
                // r [ib, i0 + ib]: −Σ_p L[i, p] X[p, c] over the blocks left of the diagonal, then E.
                let w = i0 + ib
                let r = UnsafeMutablePointer<Double>.allocate(capacity: ib * w)
                defer { r.deallocate() }
                r.initialize(repeating: 0, count: ib * w)
                for i in 0..<ib { r[i * w + i0 + i] = 1 }
                var c0 = 0
                while c0 < i0 {
                    let cb = Swift.min(nb, i0 - c0)
                    // Rows p of X with p >= c0 are the nonzero ones in columns c0 ..< c0 + cb.
                    gemmAtB(m: ib, n: cb, k: i0 - c0, alpha: -1, a: lt + c0 * n + i0, lda: n, b: UnsafePointer(x) + c0 * n + c0,
                            ldb: n, c: r + c0, ldc: w)
                    c0 += cb
                }
                lowerSolve(l + i0 * n + i0, lda: n, m: ib, r, ldt: w, cols: w)
                for i in 0..<ib { for c in 0...(i0 + i) { x[(i0 + i) * n + c] = r[i * w + c] } }
                i0 += ib
            }
        }
    }
    return x
}
