// The requantize epilogue of the VNNI GEMM path in AVX-512: int32 C -> int8/uint8, eight lanes of double at
// a time, the same operations in the same order as the core's scalar epilogue (MatMul/MatMul.swift), so
// the bytes are identical:
//   y = saturate(round(double(C) * M[n] + zy)),  multiply then add (no FMA), clamp, round.
// Clamping to the integral bounds before rounding equals rounding then saturating. Nearest-even uses the
// conversion's MXCSR rounding, which is round-to-nearest-even unless the host changed it (as the AVX-512
// quantize kernels assume). Stochastic rounding stays in the core.
#if arch(x86_64)
import _Builtin_intrinsics.intel

/// Rounding codes as in swiftquant.h (sq_rounding) that vnniRequantize handles.
public enum VNNIRounding: Int32 { case nearestEven = 0, halfAway = 1, floor = 2 }

/// out[i * ldo + j] = saturate(round(Double(c[i * ldc + j]) * mult[j] + z)) for i < rows, j < cols, as
/// bytes (int8 or uint8: the result lies in [lo, hi], so its low byte is the value).
public func vnniRequantize(_ c: UnsafePointer<Int32>, ldc: Int, rows: Int, cols: Int, mult: UnsafePointer<Double>,
                           z: Double, lo: Double, hi: Double, rounding: VNNIRounding,
                           _ out: UnsafeMutableRawPointer, ldo: Int) {
    switch rounding {
    case .nearestEven: requantize(c, ldc, rows, cols, mult, z, lo, hi, out, ldo) { _mm512_cvtpd_epi32($0) }
    case .floor: requantize(c, ldc, rows, cols, mult, z, lo, hi, out, ldo) { _mm512_cvttpd_epi32(_mm512_floor_pd($0)) }
    case .halfAway:
        requantize(c, ldc, rows, cols, mult, z, lo, hi, out, ldo) { v in
            // Truncate, then step away from zero when the (exact) remainder is at least one half. (The
            // compare intrinsics take an immediate, so they are C macros: Swift's SIMD compares stand in.)
            let t = _mm512_cvttpd_epi32(v)
            let d = _mm512_sub_pd(v, _mm512_cvtepi32_pd(t))
            let step = SIMD8<Int64>(repeating: 0).replacing(with: 1, where: d .>= 0.5).replacing(with: -1, where: d .<= -0.5)
            return unsafeBitCast(unsafeBitCast(t, to: SIMD8<Int32>.self) &+ SIMD8<Int32>(truncatingIfNeeded: step), to: __m256i.self)
        }
    }
}

@inline(__always) private func requantize(_ c: UnsafePointer<Int32>, _ ldc: Int, _ rows: Int, _ cols: Int,
                                          _ mult: UnsafePointer<Double>, _ z: Double, _ lo: Double, _ hi: Double,
                                          _ out: UnsafeMutableRawPointer, _ ldo: Int, _ round: (__m512d) -> __m256i) {
    let vz = _mm512_set1_pd(z), vlo = _mm512_set1_pd(lo), vhi = _mm512_set1_pd(hi)
    for i in 0..<rows {
        let ci = UnsafeRawPointer(c + i * ldc), oi = out + i * ldo
        var j = 0
        while j < cols {
            let mask: __mmask8 = cols - j >= 8 ? 0xFF : __mmask8((1 << (cols - j)) - 1)
            let v = _mm512_cvtepi32_pd(_mm256_maskz_loadu_epi32(mask, ci + 4 * j))
            let m = _mm512_maskz_loadu_pd(mask, UnsafeRawPointer(mult + j))
            let y = _mm512_min_pd(_mm512_max_pd(_mm512_add_pd(_mm512_mul_pd(v, m), vz), vlo), vhi)
            _mm256_mask_cvtepi32_storeu_epi8(oi + j, mask, round(y))
            j += 8
        }
    }
}
#endif
