// AVX2 + FMA register tiles of the dense float products (Sources/SwiftQuant/Kernels/FloatGemm.swift):
// f32 6 x 16 and f64 6 x 8, twelve accumulators each. Per step p: two loads of packed B, six broadcasts of
// packed A, twelve FMAs; each accumulator sums its p in order from 0, then C = fma(t, alpha, C), which is
// the reference's order, so the bits agree.
#if arch(x86_64)
import _Builtin_intrinsics.intel

public func gemmTileF32AVX2(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
                            _ ldc: Int, _ alpha: Float, _ rows: Int, _ cols: Int) {
    var c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps()
    var c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps()
    var c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = _mm256_loadu_ps(pb), b1 = _mm256_loadu_ps(pb + 8)
        var x = _mm256_set1_ps(pa[0])
        c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01)
        x = _mm256_set1_ps(pa[1])
        c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11)
        x = _mm256_set1_ps(pa[2])
        c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21)
        x = _mm256_set1_ps(pa[3])
        c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31)
        x = _mm256_set1_ps(pa[4])
        c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41)
        x = _mm256_set1_ps(pa[5])
        c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51)
        pa += 6
        pb += 16
    }
    // Spill the tile (stack memory), then C = fma(t, alpha, C): whole rows in vectors, edges per element.
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 96) { t in
        let p = t.baseAddress!
        _mm256_storeu_ps(p, c00); _mm256_storeu_ps(p + 8, c01)
        _mm256_storeu_ps(p + 16, c10); _mm256_storeu_ps(p + 24, c11)
        _mm256_storeu_ps(p + 32, c20); _mm256_storeu_ps(p + 40, c21)
        _mm256_storeu_ps(p + 48, c30); _mm256_storeu_ps(p + 56, c31)
        _mm256_storeu_ps(p + 64, c40); _mm256_storeu_ps(p + 72, c41)
        _mm256_storeu_ps(p + 80, c50); _mm256_storeu_ps(p + 88, c51)
        if cols == 16 {
            let al = _mm256_set1_ps(alpha)
            for r in 0..<rows {
                let row = c + r * ldc, tr = p + r * 16
                _mm256_storeu_ps(row, _mm256_fmadd_ps(_mm256_loadu_ps(tr), al, _mm256_loadu_ps(row)))
                _mm256_storeu_ps(row + 8, _mm256_fmadd_ps(_mm256_loadu_ps(tr + 8), al, _mm256_loadu_ps(row + 8)))
            }
        } else {
            for r in 0..<rows {
                let row = c + r * ldc
                for j in 0..<cols { row[j] = row[j].addingProduct(p[r * 16 + j], alpha) }
            }
        }
    }
}

public func gemmTileF64AVX2(_ kc: Int, _ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ c: UnsafeMutablePointer<Double>,
                            _ ldc: Int, _ alpha: Double, _ rows: Int, _ cols: Int) {
    var c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd(), c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd()
    var c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd(), c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd()
    var c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd(), c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd()
    var pa = a, pb = b
    for _ in 0..<kc {
        let b0 = _mm256_loadu_pd(pb), b1 = _mm256_loadu_pd(pb + 4)
        var x = _mm256_set1_pd(pa[0])
        c00 = _mm256_fmadd_pd(x, b0, c00); c01 = _mm256_fmadd_pd(x, b1, c01)
        x = _mm256_set1_pd(pa[1])
        c10 = _mm256_fmadd_pd(x, b0, c10); c11 = _mm256_fmadd_pd(x, b1, c11)
        x = _mm256_set1_pd(pa[2])
        c20 = _mm256_fmadd_pd(x, b0, c20); c21 = _mm256_fmadd_pd(x, b1, c21)
        x = _mm256_set1_pd(pa[3])
        c30 = _mm256_fmadd_pd(x, b0, c30); c31 = _mm256_fmadd_pd(x, b1, c31)
        x = _mm256_set1_pd(pa[4])
        c40 = _mm256_fmadd_pd(x, b0, c40); c41 = _mm256_fmadd_pd(x, b1, c41)
        x = _mm256_set1_pd(pa[5])
        c50 = _mm256_fmadd_pd(x, b0, c50); c51 = _mm256_fmadd_pd(x, b1, c51)
        pa += 6
        pb += 8
    }
    // Spill the tile (stack memory), then C = fma(t, alpha, C): whole rows in vectors, edges per element.
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 48) { t in
        let p = t.baseAddress!
        _mm256_storeu_pd(p, c00); _mm256_storeu_pd(p + 4, c01)
        _mm256_storeu_pd(p + 8, c10); _mm256_storeu_pd(p + 12, c11)
        _mm256_storeu_pd(p + 16, c20); _mm256_storeu_pd(p + 20, c21)
        _mm256_storeu_pd(p + 24, c30); _mm256_storeu_pd(p + 28, c31)
        _mm256_storeu_pd(p + 32, c40); _mm256_storeu_pd(p + 36, c41)
        _mm256_storeu_pd(p + 40, c50); _mm256_storeu_pd(p + 44, c51)
        if cols == 8 {
            let al = _mm256_set1_pd(alpha)
            for r in 0..<rows {
                let row = c + r * ldc, tr = p + r * 8
                _mm256_storeu_pd(row, _mm256_fmadd_pd(_mm256_loadu_pd(tr), al, _mm256_loadu_pd(row)))
                _mm256_storeu_pd(row + 4, _mm256_fmadd_pd(_mm256_loadu_pd(tr + 4), al, _mm256_loadu_pd(row + 4)))
            }
        } else {
            for r in 0..<rows {
                let row = c + r * ldc
                for j in 0..<cols { row[j] = row[j].addingProduct(p[r * 8 + j], alpha) }
            }
        }
    }
}
#endif
