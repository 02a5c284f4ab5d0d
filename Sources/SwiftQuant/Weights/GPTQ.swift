// GPTQ (Frantar et al. 2022, the IST-DASLab / AutoGPTQ loop) on the block-weight grid of BlockWeight: the
// same codes, scales and zero points format as round-to-nearest, chosen column by column so that the
// error of each quantized column is compensated on the columns not yet quantized, weighted by the
// Hessian H = E[x xᵀ] of the layer's inputs.
//
//   1. Dead inputs (H[j, j] = 0) get H[j, j] = 1 and weight column 0.
//   2. act_order: columns in order of descending H[j, j] (stable); group parameters are then static, the
//      RTN rule on the original groups, so the result needs no permutation. Otherwise a group's
//      parameters come from the RTN rule on its columns as updated when the loop reaches the group.
//   3. λ = damp · mean(diag H) on the diagonal; when the Cholesky factorization fails, damp × 10, up to 1e4.
//   4. U = the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), float64. Computed as J L⁻¹ J with L the lower
//      Cholesky factor of J H J (J reverses the order): one factorization and one triangular inverse.
//   5. Columns in blocks of B = max(128, block_size): err = (w − q) / U[j, j]; later columns of the block
//      get w −= err · U[j, ·]; after the block, all later columns at once (the lazy update, a GEMM).
// Rows (outputs) are independent given U: the pool runs chunks of rows, each with its own loop. Results do
// not depend on the thread count (every row sees the same operations in the same order).

/// What GPTQ did (public: the Swift API returns it as is).
public struct GPTQReport: Equatable, Sendable {
    /// The damping actually used (the request, or the value the fallback reached).
    public var damp: Double
    /// Inputs with H[j, j] = 0.
    public var deadInputs: Int
    /// Σ eᵀ H e / Σ wᵀ H w over all `rowsMeasured` rows (H v in float32), e = w − dequantized, undamped H:
    /// round-to-nearest (before) and GPTQ (after).
    public var relativeErrorBefore: Double
    public var relativeErrorAfter: Double
    public var rowsMeasured: Int
}

enum GPTQ {
    static let maxDamp = 1e4

    /// Checks h [k, k]: finite, symmetric to 1e-6 relative, non-negative diagonal.
    static func checkHessian(_ h: UnsafePointer<Double>, k: Int) throws(SQError) {
        for i in 0..<k {
            let d = h[i * k + i]
            guard d.isFinite else { throw SQError(.nonfinite, "hessian: element [\(i), \(i)] is \(d)") }
            guard d >= 0 else {
                throw SQError(.invalidArgument, "hessian: diagonal element [\(i), \(i)] is \(d) < 0; a Hessian E[x xᵀ] is positive semidefinite")
            }
        }
        for i in 0..<k {
            for j in 0..<i {
                let a = h[i * k + j], b = h[j * k + i]
                guard a.isFinite && b.isFinite else {
                    throw SQError(.nonfinite, "hessian: element [\(i), \(j)] or [\(j), \(i)] is not finite")
                }
                let tol = 1e-6 * (h[i * k + i] * h[j * k + j]).squareRoot() + 1e-300
                guard abs(a - b) <= tol else {
                    throw SQError(.invalidArgument, "hessian: not symmetric: [\(i), \(j)] = \(a) but [\(j), \(i)] = \(b)")
                }
            }
        }
    }

    /// GPTQ of w [n, k] (finite) with Hessian h [k, k] (checked here). inputScales s [k] (finite, > 0): the
    /// weight quantized is w·s and the Hessian that of x / s (AWQ scaling before GPTQ).
    static func quantize(_ w: UnsafePointer<Float>, n: Int, k: Int, hessian h: UnsafePointer<Double>, bits: Int, blockSize: Int,
                         symmetric: Bool, actOrder: Bool, damp: Double, inputScales: UnsafePointer<Float>?,
                         measureErrors: Bool = true) throws(SQError) -> (BlockWeight, GPTQReport) {
        let kb = try BlockWeight.checkLayout(n: n, k: k, bits: bits, blockSize: blockSize)
        guard damp.isFinite && damp >= 0 && damp <= maxDamp else {
            throw SQError(.invalidArgument, "damp \(damp) must be finite, >= 0 and <= \(maxDamp)")
        }
        _ = try Checked.mul(k, k, "hessian: K x K")
        try checkHessian(h, k: k)
        if let i = UnsafeBufferPointer(start: w, count: n * k).firstIndex(where: { !$0.isFinite }) {
            throw SQError(.nonfinite, "weight: element \(i) (row \(i / Swift.max(k, 1)), column \(i % Swift.max(k, 1))) is \(w[i])")
        }
        if let s = inputScales, let i = UnsafeBufferPointer(start: s, count: k).firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw SQError(.invalidScale, "input_scales: element \(i) is \(s[i]); they must be finite and > 0")
        }
        guard n * k > 0 else {
            let empty = try BlockWeight.quantize(w, n: n, k: k, bits: bits, blockSize: blockSize, symmetric: symmetric)
            return (empty, GPTQReport(damp: damp, deadInputs: 0, relativeErrorBefore: 0, relativeErrorAfter: 0, rowsMeasured: 0))
        }
        // The problem in the scaled space: W' = W·s, H' = H / (s sᵀ).
        var wq = Array(UnsafeBufferPointer(start: w, count: n * k))
        var hs = Array(UnsafeBufferPointer(start: h, count: k * k))
        if let s = inputScales {
            for r in 0..<n { for j in 0..<k { wq[r * k + j] *= s[j] } }
            for i in 0..<k {
                let si = Double(s[i])
                for j in 0..<k { hs[i * k + j] /= si * Double(s[j]) }
            }
        }
        // As the reference loop: dead inputs get H[j, j] = 1 (before the column order is chosen) and a zero
        // weight column. Their error terms stay 0 (a zero column quantizes to 0 exactly), so the errors
        // below may use this H too.
        var dead = 0
        for j in 0..<k where hs[j * k + j] == 0 {
            dead += 1
            hs[j * k + j] = 1
            for r in 0..<n { wq[r * k + j] = 0 }
        }
        // Column order and inverse Cholesky factor.
        let perm: [Int] = actOrder
            ? (0..<k).sorted { a, b in
                let da = hs[a * k + a], db = hs[b * k + b]
                return da != db ? da > db : a < b
            }
            : Array(0..<k)
        let (u, used) = try inverseFactor(hs, k: k, perm: perm, damp: damp)
        let rtn = wq.withUnsafeBufferPointer { p in
            try? BlockWeight.quantize(p.baseAddress!, n: n, k: k, bits: bits, blockSize: blockSize, symmetric: symmetric)
        }
        guard let rtn else { throw SQError(.internal, "GPTQ: round-to-nearest of a checked weight failed") }
        var codes = [UInt8](repeating: 0, count: n * k)
        var scales = actOrder ? rtn.scales : [Float](repeating: 0, count: n * kb)
        var zps = actOrder ? rtn.zeroPoints : [UInt8](repeating: 0, count: n * kb)
        let lazy = Swift.max(128, blockSize)
        wq.withUnsafeBufferPointer { wb in
            u.withUnsafeBufferPointer { ub in
                codes.withUnsafeMutableBufferPointer { cb in
                    scales.withUnsafeMutableBufferPointer { sb in
                        zps.withUnsafeMutableBufferPointer { zb in
                            let job = Job(w: wb.baseAddress!, n: n, k: k, u: ub.baseAddress!, perm: perm, bits: bits, blockSize: blockSize,
                                          kBlocks: kb, symmetric: symmetric, dynamic: !actOrder, lazy: lazy, codes: cb.baseAddress!,
                                          scales: sb.baseAddress!, zeroPoints: zb.baseAddress!)
                            // Chunks of rows, each a whole GPTQ loop (gemm calls inside run inline on its thread).
                            let chunks = Swift.min(n, (n * k >= 1 << 16) ? 2 * ThreadPool.shared.size : 1)
                            let per = n / chunks, extra = n % chunks
                            ThreadPool.shared.parallelFor(chunks) { c in
                                let r0 = c * per + Swift.min(c, extra)
                                job.run(rows: r0..<(r0 + per + (c < extra ? 1 : 0)))
                            }
                        }
                    }
                }
            }
        }
        let result = BlockWeight(n: n, k: k, bits: bits, blockSize: blockSize, kBlocks: kb, codes: codes, scales: scales, zeroPoints: zps)
        // The measurement costs about 3 n k² multiply-adds (a third of the whole at n = k = 2048): skipped
        // when nobody reads it.
        let (before, after, rows) = measureErrors ? relativeErrors(w: wq, rtn: rtn, gptq: result, h: hs, n: n, k: k) : (.nan, .nan, 0)
        return (result, GPTQReport(damp: used, deadInputs: dead, relativeErrorBefore: before, relativeErrorAfter: after, rowsMeasured: rows))
    }

    /// U (float32 [k, k], upper) with U[a, b] the factor of the permuted, damped H⁻¹; retries with damp × 10.
    private static func inverseFactor(_ h: [Double], k: Int, perm: [Int], damp: Double) throws(SQError) -> ([Float], Double) {
        var mean = 0.0
        for j in 0..<k { mean += h[j * k + j] }
        mean /= Double(k)
        var d = damp
        var a = [Double](repeating: 0, count: k * k)
        while true {
            // a = J P (H + λI) Pᵀ J: a[x, y] = H[perm[k-1-x], perm[k-1-y]], lower triangle.
            let lambda = d * mean
            for x in 0..<k {
                let px = perm[k - 1 - x]
                for y in 0...x {
                    let py = perm[k - 1 - y]
                    var v = h[px * k + py]
                    if x == y { v += lambda }
                    a[x * k + y] = v
                }
            }
            let ok = a.withUnsafeMutableBufferPointer { choleskyLower($0.baseAddress!, n: k) }
            if ok {
                let inv = a.withUnsafeBufferPointer { lowerInverse($0.baseAddress!, n: k) }
                // U = J L⁻¹ J: U[i, j] = L⁻¹[k-1-i, k-1-j], upper triangular.
                var u = [Float](repeating: 0, count: k * k)
                for i in 0..<k { for j in i..<k { u[i * k + j] = Float(inv[(k - 1 - i) * k + (k - 1 - j)]) } }
                return (u, d)
            }
            let next = d == 0 ? 1e-4 : d * 10
            guard next <= maxDamp else {
                throw SQError(.invalidArgument, "hessian: not positive definite even with damp \(d) (λ = \(lambda)); check the calibration data")
            }
            d = next
        }
    }

    /// The loop over a range of rows. Holds the transposed rows wt [k][rows] in permuted column order.
    private struct Job {
        let w: UnsafePointer<Float>, n: Int, k: Int
        let u: UnsafePointer<Float>
        let perm: [Int]
        let bits: Int, blockSize: Int, kBlocks: Int, symmetric: Bool, dynamic: Bool, lazy: Int
        let codes: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<Float>, zeroPoints: UnsafeMutablePointer<UInt8>

        func run(rows: Range<Int>) {
            let m = rows.count, r0 = rows.lowerBound
            guard m > 0 else { return }
            let wt = UnsafeMutablePointer<Float>.allocate(capacity: k * m)
            let err = UnsafeMutablePointer<Float>.allocate(capacity: lazy * m)
            // Codes [k][m] and the chunk's block parameters [kBlocks][m] (scale, 1 / scale, zero point), so the
            // per-column loops run over contiguous rows; copied out in [n, k] / [n, kBlocks] order at the end.
            let ct = UnsafeMutablePointer<UInt8>.allocate(capacity: k * m)
            let ps = UnsafeMutablePointer<Float>.allocate(capacity: kBlocks * m)
            let pr = UnsafeMutablePointer<Float>.allocate(capacity: kBlocks * m)
            let pz = UnsafeMutablePointer<UInt8>.allocate(capacity: kBlocks * m)
            defer { wt.deallocate(); err.deallocate(); ct.deallocate(); ps.deallocate(); pr.deallocate(); pz.deallocate() }
            for j in 0..<k {
                let src = perm[j]
                for r in 0..<m { wt[j * m + r] = w[(r0 + r) * k + src] }
            }
            func setParams(_ g: Int, _ r: Int, _ s: Float, _ z: UInt8) {
                ps[g * m + r] = s
                pr[g * m + r] = s != 0 ? 1 / s : 0
                pz[g * m + r] = z
            }
            if !dynamic {  // static groups: given
                for r in 0..<m { for g in 0..<kBlocks { setParams(g, r, scales[(r0 + r) * kBlocks + g], zeroPoints[(r0 + r) * kBlocks + g]) } }
            }
            var i1 = 0
            while i1 < k {
                let i2 = Swift.min(i1 + lazy, k), count = i2 - i1
                var s0 = i1
                // Sub-blocks of 16 columns: vector updates inside, gemmAtB for the rest of the block.
                while s0 < i2 {
                    let s1 = Swift.min(s0 + 16, i2)
                    for j in s0..<s1 {
                        let col = perm[j], group = col / blockSize
                        let row = wt + j * m
                        if dynamic && col % blockSize == 0 {
                            // The group's columns j ..< j + blockSize as updated so far (no act_order: col == j).
                            let end = Swift.min(j + blockSize, k)
                            for r in 0..<m {
                                var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
                                for t in j..<end {
                                    let v = wt[t * m + r]
                                    if v < lo { lo = v }
                                    if v > hi { hi = v }
                                }
                                let (s, z) = BlockWeight.params(lo: lo, hi: hi, bits: bits, symmetric: symmetric)
                                setParams(group, r, s, z)
                            }
                        }
                        let d = u[j * k + j]
                        let e = err + (j - i1) * m, c = ct + col * m
                        let gs = ps + group * m, gr = pr + group * m, gz = pz + group * m
                        for r in 0..<m {
                            let q = BlockWeight.code(row[r], reciprocal: gr[r], zeroPoint: gz[r], bits: bits)
                            c[r] = q
                            e[r] = (row[r] - BlockWeight.value(code: q, zeroPoint: gz[r], scale: gs[r])) / d
                        }
                        for t in (j + 1)..<s1 {
                            let f = u[j * k + t], dst = wt + t * m
                            for r in 0..<m { dst[r] -= f * e[r] }
                        }
                    }
                    if s1 < i2 {
                        gemmAtB(m: i2 - s1, n: m, k: s1 - s0, alpha: -1, a: u + s0 * k + s1, lda: k, b: err + (s0 - i1) * m, ldb: m,
                                c: wt + s1 * m, ldc: m)
                    }
                    s0 = s1
                }
                if i2 < k {
                    // A[p, i] = U[i1 + p, i2 + i]: the weight of error row p in the update of column i2 + i.
                    gemmAtB(m: k - i2, n: m, k: count, alpha: -1, a: u + i1 * k + i2, lda: k, b: err, ldb: m, c: wt + i2 * m, ldc: m)
                }
                i1 = i2
            }
            for r in 0..<m {
                for col in 0..<k { codes[(r0 + r) * k + col] = ct[col * m + r] }
                if dynamic {
                    for g in 0..<kBlocks {
                        scales[(r0 + r) * kBlocks + g] = ps[g * m + r]
                        zeroPoints[(r0 + r) * kBlocks + g] = pz[g * m + r]
                    }
                }
            }
        }
    }

    /// Relative output errors of RTN and GPTQ over all rows: Σ vᵀ H v for v = e_rtn, e_gptq and w, with
    /// H v in float32 by gemmAtB (chunks of 256 rows) and the sums in float64. (Sampling rows is not an
    /// option: in real layers a few rows can carry nearly all of Σ wᵀ H w.) About 3 n k² multiply-adds.
    private static func relativeErrors(w: [Float], rtn: BlockWeight, gptq: BlockWeight, h: [Double], n: Int, k: Int)
        -> (Double, Double, Int) {
        let hf = h.map { Float($0) }
        let chunk = Swift.min(n, 256), cols = 3 * chunk
        var v = [Float](repeating: 0, count: k * cols), m = v
        var q = [0.0, 0.0, 0.0]
        var r0 = 0
        while r0 < n {
            let rc = Swift.min(chunk, n - r0)
            for i in 0..<rc {
                let r = r0 + i
                for j in 0..<k {
                    let x = w[r * k + j], b = r * rtn.kBlocks + j / rtn.blockSize
                    v[j * cols + 3 * i] = x - BlockWeight.value(code: rtn.codes[r * k + j], zeroPoint: rtn.zeroPoints[b], scale: rtn.scales[b])
                    v[j * cols + 3 * i + 1] = x - BlockWeight.value(code: gptq.codes[r * k + j], zeroPoint: gptq.zeroPoints[b],
                                                                    scale: gptq.scales[b])
                    v[j * cols + 3 * i + 2] = x
                }
            }
            for i in 0..<(k * cols) { m[i] = 0 }
            // H symmetric: H[p, i] = H[i, p], so m = Hᵀ v = H v.
            gemmAtB(m: k, n: 3 * rc, k: k, alpha: 1, a: hf, lda: k, b: v, ldb: cols, c: &m, ldc: cols)
            for j in 0..<k { for c in 0..<(3 * rc) { q[c % 3] += Double(v[j * cols + c]) * Double(m[j * cols + c]) } }
            r0 += rc
        }
        let signal = q[2] > 0 ? q[2] : 1
        return (q[0] / signal, q[1] / signal, n)
    }
}
