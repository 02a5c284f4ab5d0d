// The dense products under the activation-aware searches (AWQ, SmoothQuant): output errors of calibration
// rows x [t, K] through a weight difference D [N, K], e = x · Dᵀ [t, N], and their sums of squares.
// gemmAtB reads both operands with the reduction index leading, so callers hold xᵀ [K, t] and Dᵀ [K, N].

/// The rows of x [rows, K] a search uses: all of them up to `limit`, else the `limit` rows
/// x[i * rows / limit] (i < limit), evenly spread. i * rows is split so it cannot overflow.
func calibrationRows(_ rows: Int, limit: Int) -> [Int] {
    guard rows > limit else { return Array(0..<rows) }
    let q = rows / limit, r = rows % limit
    return (0..<limit).map { i in i * q + (i * r) / limit }
}

/// dst[j * rows + i] = src[i * cols + j]: the transpose of src [rows, cols], in 32 x 32 tiles.
func transpose(_ src: UnsafePointer<Float>, rows: Int, cols: Int, into dst: UnsafeMutablePointer<Float>) {
    let tile = 32
    let colTiles = Checked.ceilDiv(cols, tile)
    parallelRows(colTiles, work: rows * tile) { ct in
        let j0 = ct * tile, j1 = Swift.min(j0 + tile, cols)
        var i0 = 0
        while i0 < rows {
            let i1 = Swift.min(i0 + tile, rows)
            for j in j0..<j1 {
                for i in i0..<i1 { dst[j * rows + i] = src[i * cols + j] }
            }
            i0 = i1
        }
    }
}

/// Elements of a product tile held at once: products are computed in tiles so scratch memory stays bounded
/// (16 MiB) whatever t and N are.
let productTileElements = 1 << 22

/// Calls body(r0, rows, o0, cols, tile) for e = x · Dᵀ (t x n, reduction over k) with xT = xᵀ [k, t] (row
/// stride ldx) and dT = Dᵀ [k, n] (row stride ldd), in tiles e[r0 ..< r0 + rows, o0 ..< o0 + cols]
/// (row-major, row stride cols): columns outer, rows inner, so each column's rows arrive in order.
func forEachProductTile(xT: UnsafePointer<Float>, ldx: Int, t: Int, dT: UnsafePointer<Float>, ldd: Int, n: Int, k: Int,
                        _ body: (_ r0: Int, _ rows: Int, _ o0: Int, _ cols: Int, _ tile: UnsafeMutablePointer<Float>) -> Void) {
    guard t > 0 && n > 0 && k > 0 else { return }
    let cols = Swift.min(n, Swift.max(256, productTileElements / t))
    let rows = Swift.max(1, Swift.min(t, productTileElements / cols))
    let e = UnsafeMutablePointer<Float>.allocate(capacity: rows * cols)
    defer { e.deallocate() }
    var o0 = 0
    while o0 < n {
        let nc = Swift.min(cols, n - o0)
        var r0 = 0
        while r0 < t {
            let mr = Swift.min(rows, t - r0)
            e.initialize(repeating: 0, count: mr * nc)
            gemmAtB(m: mr, n: nc, k: k, alpha: 1, a: xT + r0, lda: ldx, b: dT + o0, ldb: ldd, c: e, ldc: nc)
            body(r0, mr, o0, nc, e)
            r0 += mr
        }
        o0 += nc
    }
}

/// sums[o] = Σ_t e[t, o]² (float64, t ascending) for e = x · Dᵀ (as forEachProductTile). A float32 product
/// that overflows gives +inf (or NaN) sums.
func productColumnSumsOfSquares(xT: UnsafePointer<Float>, ldx: Int, t: Int, dT: UnsafePointer<Float>, ldd: Int,
                                n: Int, k: Int, into sums: UnsafeMutablePointer<Double>) {
    sums.initialize(repeating: 0, count: n)
    forEachProductTile(xT: xT, ldx: ldx, t: t, dT: dT, ldd: ldd, n: n, k: k) { _, rows, o0, cols, e in
        for i in 0..<rows {
            let row = e + i * cols
            for o in 0..<cols {
                let v = Double(row[o])
                sums[o0 + o] += v * v
            }
        }
    }
}

/// mean over (t, n) of (x · Dᵀ)², the searches' output error. Non-finite (overflowed) results are +inf.
func meanSquaredProduct(xT: UnsafePointer<Float>, t: Int, dT: UnsafePointer<Float>, n: Int, k: Int) -> Double {
    let sums = UnsafeMutablePointer<Double>.allocate(capacity: Swift.max(n, 1))
    defer { sums.deallocate() }
    productColumnSumsOfSquares(xT: xT, ldx: t, t: t, dT: dT, ldd: n, n: n, k: k, into: sums)
    var total = 0.0
    for o in 0..<n { total += sums[o] }
    let mean = total / (Double(t) * Double(n))
    return mean.isFinite ? mean : .infinity
}

/// The first index of the smallest finite value, or nil when none is finite (NaN and ±inf never win).
func firstArgmin(_ values: [Double]) -> Int? {
    var best: Int? = nil
    for (i, v) in values.enumerated() where v.isFinite {
        if best == nil || v < values[best!] { best = i }
    }
    return best
}

/// error / signal, the relative error of a report: 0 when both are 0, +inf for error over no signal.
func relativeError(_ error: Double, signal: Double) -> Double {
    if error == 0 { return 0 }
    // An error that overflowed is infinitely large relative to any signal, even one that overflowed too
    // (inf / inf would be NaN).
    if error == .infinity { return .infinity }
    return signal > 0 ? error / signal : .infinity
}

/// Checks that every element of a [rows, cols] float32 argument is finite, naming the first that is not.
func checkFinite(_ p: UnsafePointer<Float>, rows: Int, cols: Int, argument: String) throws(SQError) {
    if let i = UnsafeBufferPointer(start: p, count: rows * cols).firstIndex(where: { !$0.isFinite }) {
        throw SQError(.nonfinite, "\(argument): element \(i) (row \(i / Swift.max(cols, 1)), column \(i % Swift.max(cols, 1))) is \(p[i])")
    }
}
