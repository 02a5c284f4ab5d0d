// AVX2 kernels of the OCP MX block formats (the core's Formats/MX.swift defines them and holds the reference
// these match bit for bit, Tests/SwiftQuantTests/MXTests.swift): whole, contiguous 32-element blocks, four
// 8-lane vectors per block.
//
// Quantize, per block: amax as the integer maximum of the |x| bit patterns (monotonic for non-NaN floats;
// NaN and ±inf are the patterns >= 0x7F800000); scale code max(E - emax, 0) from amax's exponent field E;
// then v = x * 2^-X (exact, see MX.swift) and, for the float elements, with a = min(|v|, max) (clipping
// first is saturation: everything above max rounds to max or beyond):
//   e  = max(exponent(a), emin)          the binade, subnormals sharing the smallest normal's
//   n  = rint(a * 2^(M - e))             exact product, rounded half to even by vcvtps2dq (default MXCSR)
//   code = ((e - emin) << M) + n         n in [2^M, 2^(M+1)] for normals (2^(M+1) is the next binade's
//                                        first code, which the addition produces), n < 2^M for subnormals
//   | sign << (bits - 1)                 -0 keeps its sign, as ml_dtypes and the reference do
// MXINT8: clamp(rint(v * 64), -127, 127). Codes are packed to bytes with packs/packus and one lane permute.
// Dequantize: a table lookup per byte (the gather intrinsic is a C macro Swift cannot import), times the
// block's 2^(code - 127) in 8-lane vectors.
#if arch(x86_64)
import _Builtin_intrinsics.intel

/// An MX element format as this module needs it (the core's MXFormat, which it cannot see).
public struct MXElementAVX2 {
    public let isInt8: Bool
    public let mantissaBits: Int32
    /// Exponent of the smallest normal.
    public let minExponent: Int32
    public let maxValue: Float
    public let bits: Int32
    /// OCP's emax_elem.
    public let emax: Int32

    public init(isInt8: Bool, mantissaBits: Int32, minExponent: Int32, maxValue: Float, bits: Int32, emax: Int32) {
        self.isInt8 = isInt8
        self.mantissaBits = mantissaBits
        self.minExponent = minExponent
        self.maxValue = maxValue
        self.bits = bits
        self.emax = emax
    }
}

@inline(__always) private func splat(_ v: Int32) -> __m256i { _mm256_set1_epi32(v) }

/// 2^e as a float32, e in [-127, 127] (2^-127 is the subnormal 0x00400000).
@inline(__always) private func pow2(_ e: Int32) -> Float {
    e >= -126 ? Float(bitPattern: UInt32(e + 127) << 23) : Float(bitPattern: 0x0040_0000)
}

/// Codes of 8 lanes of v (already scaled by 2^-X), one per int32 lane.
@inline(__always) private func encodeFloat(_ v: __m256, _ absMask: __m256, _ maxv: __m256, _ emin: __m256i,
                                           _ iqBase: __m256i, _ m: Int32, _ signShift: Int32) -> __m256i {
    let a = _mm256_min_ps(_mm256_and_ps(v, absMask), maxv)
    let e = _mm256_max_epi32(_mm256_sub_epi32(_mm256_srli_epi32(_mm256_castps_si256(a), 23), splat(127)), emin)
    let iq = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_sub_epi32(iqBase, e), 23))  // 2^(M - e)
    let n = _mm256_cvtps_epi32(_mm256_mul_ps(a, iq))
    let code = _mm256_add_epi32(_mm256_slli_epi32(_mm256_sub_epi32(e, emin), m), n)
    let sign = _mm256_slli_epi32(_mm256_srli_epi32(_mm256_castps_si256(v), 31), signShift)
    return _mm256_or_si256(code, sign)
}

/// Quantizes `blocks` whole blocks: x[0 ..< 32 blocks] -> e[0 ..< 32 blocks], scale codes s[0 ..< blocks].
public func mxQuantizeAVX2(_ x: UnsafePointer<Float>, _ e: UnsafeMutablePointer<UInt8>, _ s: UnsafeMutablePointer<UInt8>,
                           blocks: Int, _ f: MXElementAVX2) {
    let absBits = splat(0x7FFF_FFFF)
    let absMask = _mm256_castsi256_ps(absBits)
    let maxv = _mm256_set1_ps(f.maxValue)
    let emin = splat(f.minExponent), iqBase = splat(f.mantissaBits + 127)
    let m = f.mantissaBits, signShift = f.bits - 1
    let order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)
    let swapHalves = _mm256_setr_epi32(4, 5, 6, 7, 0, 1, 2, 3), swapPairs = _mm256_setr_epi32(2, 3, 0, 1, 6, 7, 4, 5)
    let swapLanes = _mm256_setr_epi32(1, 0, 3, 2, 5, 4, 7, 6)
    let lo = splat(-127), hi = splat(127)
    let sixtyFour = _mm256_set1_ps(64)
    let emax = Int32(f.emax)
    for b in 0..<blocks {
        let p = x + 32 * b
        let v0 = _mm256_loadu_ps(p), v1 = _mm256_loadu_ps(p + 8), v2 = _mm256_loadu_ps(p + 16), v3 = _mm256_loadu_ps(p + 24)
        // amax over the |x| bit patterns (signed int32 max: every pattern is below 2^31 after the mask).
        let a01 = _mm256_max_epi32(_mm256_and_si256(_mm256_castps_si256(v0), absBits), _mm256_and_si256(_mm256_castps_si256(v1), absBits))
        let a23 = _mm256_max_epi32(_mm256_and_si256(_mm256_castps_si256(v2), absBits), _mm256_and_si256(_mm256_castps_si256(v3), absBits))
        let a8 = _mm256_max_epi32(a01, a23)
        // Horizontal max by lane permutes (the immediate-operand shuffles are C macros Swift cannot import).
        let a4 = _mm256_max_epi32(a8, _mm256_permutevar8x32_epi32(a8, swapHalves))
        let a2 = _mm256_max_epi32(a4, _mm256_permutevar8x32_epi32(a4, swapPairs))
        let a1 = _mm256_max_epi32(a2, _mm256_permutevar8x32_epi32(a2, swapLanes))
        let amax = _mm_cvtsi128_si32(_mm256_castsi256_si128(a1))
        let out = UnsafeMutableRawPointer(e + 32 * b)
        if amax >= 0x7F80_0000 {  // NaN or ±inf: the NaN scale, elements 0
            s[b] = 255
            _mm256_storeu_si256(out.assumingMemoryBound(to: __m256i.self), _mm256_setzero_si256())
            continue
        }
        let code = Swift.max((amax >> 23) - emax, 0)
        s[b] = UInt8(truncatingIfNeeded: code)
        let mul = _mm256_set1_ps(pow2(127 - code))
        let packed: __m256i
        if f.isInt8 {
            @inline(__always) func q(_ v: __m256) -> __m256i {
                _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_mul_ps(v, mul), sixtyFour)), lo), hi)
            }
            packed = _mm256_packs_epi16(_mm256_packs_epi32(q(v0), q(v1)), _mm256_packs_epi32(q(v2), q(v3)))
        } else {
            @inline(__always) func q(_ v: __m256) -> __m256i {
                encodeFloat(_mm256_mul_ps(v, mul), absMask, maxv, emin, iqBase, m, signShift)
            }
            packed = _mm256_packus_epi16(_mm256_packs_epi32(q(v0), q(v1)), _mm256_packs_epi32(q(v2), q(v3)))
        }
        _mm256_storeu_si256(out.assumingMemoryBound(to: __m256i.self), _mm256_permutevar8x32_epi32(packed, order))
    }
}

/// Dequantizes `blocks` whole blocks with `table` (256 floats, the value of each byte as a code); returns the
/// offset of the first code at or above codeLimit (y then unspecified), or nil.
public func mxDequantizeAVX2(_ e: UnsafePointer<UInt8>, _ s: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>,
                             blocks: Int, table: UnsafePointer<Float>, codeLimit: Int32) -> Int? {
    let nan = _mm256_set1_ps(.nan)
    for b in 0..<blocks {
        let p = e + 32 * b, o = y + 32 * b
        if codeLimit < 256 {
            // Any byte >= codeLimit (a power of two) has a bit at or above it set.
            let v = _mm256_loadu_si256(UnsafeRawPointer(p).assumingMemoryBound(to: __m256i.self))
            let high = _mm256_andnot_si256(_mm256_set1_epi8(Int8(truncatingIfNeeded: codeLimit - 1)), v)
            if _mm256_testz_si256(high, high) == 0 {
                for i in 0..<32 where Int32(p[i]) >= codeLimit { return 32 * b + i }
            }
        }
        if s[b] == 255 {
            for k in 0..<4 { _mm256_storeu_ps(o + 8 * k, nan) }
            continue
        }
        let mul = _mm256_set1_ps(pow2(Int32(s[b]) - 127))
        for k in 0..<4 {
            let q = p + 8 * k
            let v = _mm256_setr_ps(table[Int(q[0])], table[Int(q[1])], table[Int(q[2])], table[Int(q[3])],
                                   table[Int(q[4])], table[Int(q[5])], table[Int(q[6])], table[Int(q[7])])
            _mm256_storeu_ps(o + 8 * k, _mm256_mul_ps(v, mul))
        }
    }
    return nil
}
#endif

#if arch(x86_64)
/// Low bytes of 8 int32 lanes, lane 0 first, as one 64-bit word (two's complement: int8 codes too).
@inline(__always) private func lowBytes(_ v: __m256i) -> Int64 {
    let inLane = _mm256_shuffle_epi8(v, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                                          0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1))
    let both = _mm256_permutevar8x32_epi32(inLane, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0))
    return _mm256_castsi256_si128(both)[0]
}

/// Blocks along a strided axis (the axis is not the last): `rows` (1 ... 32) rows `stride` floats apart,
/// one block per column, 8 columns per step (each lane its own block, scale and multiplier). Does whole
/// groups of 8 of the `columns` columns and returns how many it did; s receives one scale per column.
public func mxQuantizeColumnsAVX2(_ x: UnsafePointer<Float>, _ e: UnsafeMutablePointer<UInt8>, _ s: UnsafeMutablePointer<UInt8>,
                                  rows: Int, columns: Int, stride: Int, _ f: MXElementAVX2) -> Int {
    let absBits = splat(0x7FFF_FFFF)
    let absMask = _mm256_castsi256_ps(absBits)
    let maxv = _mm256_set1_ps(f.maxValue)
    let emin = splat(f.minExponent), iqBase = splat(f.mantissaBits + 127)
    let m = f.mantissaBits, signShift = f.bits - 1
    let lo = splat(-127), hi = splat(127), sixtyFour = _mm256_set1_ps(64)
    let emax = splat(f.emax), maxFinite = splat(0x7F7F_FFFF), c254 = splat(254), zero = _mm256_setzero_si256()
    var j = 0
    while j + 8 <= columns {
        var amax = zero
        for r in 0..<rows {
            amax = _mm256_max_epi32(amax, _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(x + r * stride + j)), absBits))
        }
        let special = _mm256_cmpgt_epi32(amax, maxFinite)  // NaN or ±inf in the lane's block
        let code = _mm256_max_epi32(_mm256_sub_epi32(_mm256_srli_epi32(amax, 23), emax), zero)
        UnsafeMutableRawPointer(s + j).storeBytes(of: lowBytes(_mm256_blendv_epi8(code, splat(255), special)), as: Int64.self)
        // 2^(127 - code): normal for code <= 253, the subnormal 2^-127 for 254.
        let mulBits = _mm256_blendv_epi8(_mm256_slli_epi32(_mm256_sub_epi32(c254, code), 23), splat(0x0040_0000),
                                         _mm256_cmpeq_epi32(code, c254))
        let mul = _mm256_castsi256_ps(mulBits)
        for r in 0..<rows {
            let v = _mm256_mul_ps(_mm256_loadu_ps(x + r * stride + j), mul)
            let c: __m256i
            if f.isInt8 {
                c = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(v, sixtyFour)), lo), hi)
            } else {
                c = encodeFloat(v, absMask, maxv, emin, iqBase, m, signShift)
            }
            UnsafeMutableRawPointer(e + r * stride + j).storeBytes(of: lowBytes(_mm256_andnot_si256(special, c)), as: Int64.self)
        }
        j += 8
    }
    return j
}
#endif
