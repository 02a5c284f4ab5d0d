// Dense float32 / float64 products C += alpha · Aᵀ B, the linear algebra under the Hessian observer,
// GPTQ's factorizations and lazy updates, and the AWQ / SmoothQuant searches.
//
// A is read as A[p * lda + i] (p < k, i < m) and B as B[p * ldb + j]: both operands are walked along
// their rows, which is how every caller holds them (samples x features, Hessian rows, error rows).
// The order of operations is fixed so every kernel gives the same bits as the reference:
//   for each block of kc = 256 consecutive p:  t = Σ_p A[p,i] · B[p,j]  (fused multiply-adds, p ascending,
//   from t = 0);  C[i,j] = fma(t, alpha, C[i,j]).
// Threads split C into disjoint tiles (never along k), so results do not depend on the thread count.

#if arch(x86_64)
import _SwiftQuantAVX2
#endif

/// Elements of k per accumulation block (part of the bit-exact contract above).
let floatGemmKC = 256

/// A register-tile kernel: `rows x cols` (≤ mr x nr) of C += alpha · (packed A)ᵀ (packed B) over kc ≤ 256
/// steps; packed A holds mr values per step, packed B nr values per step, zero-padded.
struct FloatGemmKernel<T: BinaryFloatingPoint>: KernelRecord {
    let name: String
    let isa: ISA
    let mr: Int
    let nr: Int
    let tile: (_ kc: Int, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ c: UnsafeMutablePointer<T>, _ ldc: Int,
               _ alpha: T, _ rows: Int, _ cols: Int) -> Void
}

/// The reference tile: the contract's loop, one element at a time.
private func referenceTile<T: BinaryFloatingPoint>(mr: Int, nr: Int) -> FloatGemmKernel<T>.TileFunction {
    { kc, a, b, c, ldc, alpha, rows, cols in
        for i in 0..<rows {
            for j in 0..<cols {
                var t: T = 0
                for p in 0..<kc { t = t.addingProduct(a[p * mr + i], b[p * nr + j]) }
                c[i * ldc + j] = c[i * ldc + j].addingProduct(t, alpha)
            }
        }
    }
}

extension FloatGemmKernel {
    typealias TileFunction = (_ kc: Int, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ c: UnsafeMutablePointer<T>,
                              _ ldc: Int, _ alpha: T, _ rows: Int, _ cols: Int) -> Void
}

extension Registry {
    static let gemmF32: [FloatGemmKernel<Float>] =
        [FloatGemmKernel(name: "f32-gemm-1x1-reference", isa: .reference, mr: 1, nr: 1, tile: referenceTile(mr: 1, nr: 1))]
        + gemmF32Fast
    static let gemmF64: [FloatGemmKernel<Double>] =
        [FloatGemmKernel(name: "f64-gemm-1x1-reference", isa: .reference, mr: 1, nr: 1, tile: referenceTile(mr: 1, nr: 1))]
        + gemmF64Fast
    static let activeGemmF32 = gemmF32.resolved
    static let activeGemmF64 = gemmF64.resolved

    #if arch(x86_64)
    private static let gemmF32Fast = [FloatGemmKernel<Float>(name: "f32-gemm-6x16-avx2", isa: .avx2, mr: 6, nr: 16,
                                                             tile: gemmTileF32AVX2)]
    private static let gemmF64Fast = [FloatGemmKernel<Double>(name: "f64-gemm-6x8-avx2", isa: .avx2, mr: 6, nr: 8,
                                                              tile: gemmTileF64AVX2)]
    #else
    private static let gemmF32Fast: [FloatGemmKernel<Float>] = []
    private static let gemmF64Fast: [FloatGemmKernel<Double>] = []
    #endif
}

/// C[i*ldc + j] += alpha · Σ_p A[p*lda + i] · B[p*ldb + j] for i < m, j < n, p < k (C += alpha·AᵀB).
func gemmAtB(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
             c: UnsafeMutablePointer<Float>, ldc: Int) {
    floatGemm(Registry.activeGemmF32, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
}

/// The float64 product, as the float32 one.
func gemmAtB(m: Int, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
             c: UnsafeMutablePointer<Double>, ldc: Int) {
    floatGemm(Registry.activeGemmF64, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
}

/// The driver for any record (the kernel sweep calls it with each): C is cut into column chunks (or row
/// chunks when C is tall) run on the pool; each chunk packs kc x nr panels of B and kc x mr panels of A
/// (Goto's loop order, B panels reused across the rows of the chunk).
func floatGemm<T: BinaryFloatingPoint>(_ kernel: FloatGemmKernel<T>, m: Int, n: Int, k: Int, alpha: T,
                                       a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                       c: UnsafeMutablePointer<T>, ldc: Int) {
    guard m > 0 && n > 0 && k > 0 else { return }
    let mr = kernel.mr, nr = kernel.nr
    let work = Double(m) * Double(n) * Double(k)
    let threads = work < Double(1 << 21) ? 1 : ThreadPool.shared.size
    // Chunks along the longer side of C, in whole tiles.
    let alongRows = m > n
    let unit = alongRows ? mr : nr
    let tiles = Checked.ceilDiv(alongRows ? m : n, unit)
    // One chunk per thread: every chunk packs the whole operand it does not split, so more chunks would
    // repack it more often (measured: 8 chunks of a 128 x 128 x 2048 product spent a third of it packing).
    let chunks = Swift.min(tiles, threads)
    let per = tiles / chunks, extra = tiles % chunks
    let run: (Int) -> Void = { ch in
        let t0 = ch * per + Swift.min(ch, extra), t1 = t0 + per + (ch < extra ? 1 : 0)
        let lo = t0 * unit, hi = Swift.min(t1 * unit, alongRows ? m : n)
        if alongRows {
            floatGemmChunk(kernel, rows: lo..<hi, cols: 0..<n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        } else {
            floatGemmChunk(kernel, rows: 0..<m, cols: lo..<hi, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        }
    }
    if chunks == 1 { run(0) } else { ThreadPool.shared.parallelFor(chunks, run) }
}

private func floatGemmChunk<T: BinaryFloatingPoint>(_ kernel: FloatGemmKernel<T>, rows: Range<Int>, cols: Range<Int>, k: Int,
                                                    alpha: T, a: UnsafePointer<T>, lda: Int, b: UnsafePointer<T>, ldb: Int,
                                                    c: UnsafeMutablePointer<T>, ldc: Int) {
    let mr = kernel.mr, nr = kernel.nr, kc = floatGemmKC
    // B block: kc x nc (nc columns in panels of nr) sized for L2; A block: kc x mc.
    let nc = Swift.min(Checked.ceilDiv(cols.count, nr) * nr, 512 / nr * nr)
    let mc = Swift.min(Checked.ceilDiv(rows.count, mr) * mr, 120 / mr * mr)
    let pb = UnsafeMutablePointer<T>.allocate(capacity: kc * nc)
    let pa = UnsafeMutablePointer<T>.allocate(capacity: kc * mc)
    defer { pb.deallocate(); pa.deallocate() }
    var j0 = cols.lowerBound
    while j0 < cols.upperBound {
        let nb = Swift.min(nc, cols.upperBound - j0)
        var p0 = 0
        while p0 < k {
            let kb = Swift.min(kc, k - p0)
            // Pack B[p0 ..< p0+kb, j0 ..< j0+nb] as panels [panel][p][nr], zero-padded.
            for panel in 0..<Checked.ceilDiv(nb, nr) {
                let dst = pb + panel * kb * nr, jj = j0 + panel * nr, w = Swift.min(nr, j0 + nb - jj)
                packPanel(b + p0 * ldb + jj, ld: ldb, steps: kb, width: w, panel: nr, into: dst)
            }
            var i0 = rows.lowerBound
            while i0 < rows.upperBound {
                let mb = Swift.min(mc, rows.upperBound - i0)
                for panel in 0..<Checked.ceilDiv(mb, mr) {
                    let dst = pa + panel * kb * mr, ii = i0 + panel * mr, h = Swift.min(mr, i0 + mb - ii)
                    packPanel(a + p0 * lda + ii, ld: lda, steps: kb, width: h, panel: mr, into: dst)
                }
                for jp in 0..<Checked.ceilDiv(nb, nr) {
                    let jj = j0 + jp * nr, w = Swift.min(nr, j0 + nb - jj)
                    for ip in 0..<Checked.ceilDiv(mb, mr) {
                        let ii = i0 + ip * mr, h = Swift.min(mr, i0 + mb - ii)
                        kernel.tile(kb, pa + ip * kb * mr, pb + jp * kb * nr, c + ii * ldc + jj, ldc, alpha, h, w)
                    }
                }
                i0 += mb
            }
            p0 += kb
        }
        j0 += nb
    }
}

/// dst[p * panel + j] = src[p * ld + j] for j < width, 0 for width <= j < panel. Full panels of the
/// registry's widths copy with constant trip counts (a runtime count made each row a memmove call).
@inline(__always)
private func packPanel<T: BinaryFloatingPoint>(_ src: UnsafePointer<T>, ld: Int, steps: Int, width: Int, panel: Int,
                                               into dst: UnsafeMutablePointer<T>) {
    @inline(__always) func copy(_ n: Int) {
        for p in 0..<steps {
            let s = src + p * ld, d = dst + p * n
            for j in 0..<n { d[j] = s[j] }
        }
    }
    if width == panel {
        switch panel {
        case 16: return copy(16)
        case 8: return copy(8)
        case 6: return copy(6)
        default: break
        }
    }
    for p in 0..<steps {
        let s = src + p * ld, d = dst + p * panel
        for j in 0..<width { d[j] = s[j] }
        for j in width..<panel { d[j] = 0 }
    }
}
