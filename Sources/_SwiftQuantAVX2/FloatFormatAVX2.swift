// AVX2 kernels of the small float formats (FP8 E4M3FN / E4M3FNUZ / E5M2 / E5M2FNUZ, FP6 E3M2 / E2M3, FP4
// E2M1), 8 lanes per step: quantize (float32 -> one code per byte), dequantize and fake-quantize. Every
// format runs the same branch-free code, parametrized by AVX2FloatFormat (the core's FloatFormat, which
// this module cannot see). Each kernel does whole 8-lane blocks and returns how far it got; the core
// finishes the tail with the reference (Formats/FloatFormatKernels.swift), which these match bit for bit
// (Tests/SwiftQuantTests/FloatFormatKernelTests.swift).
//
// Encoding a = |x / scale| (one true division, as the reference):
//   normal range (a >= 2^minExp): round the float32 bits to M mantissa bits, ties to even, with the integer
//     trick bits + (2^(22-M) - 1) + ((bits >> (23-M)) & 1), then shift and rebias the exponent; a carry
//     out of the mantissa lands in the next binade by itself, and ±inf lands above maxCode.
//   subnormal range (a < 2^minExp, float32 subnormals included): a + 2^(minExp-M+23) rounds, in float32
//     round-to-nearest-even, to a multiple of the format's subnormal quantum 2^(minExp-M); the low bits of
//     the sum are the code (2^M when it rounds up to the smallest normal, which is that normal's code).
//   then overflow: min(code, maxCode) when saturating, else min(code, maxCode + 1), the code above max being
//   the format's inf (E5M2) or NaN (E4M3FN; FNUZ's 0x80 absorbs the sign); NaN; the sign (FNUZ: no -0).
// Quantize runs four blocks per iteration where it can (the codes of 32 lanes packed with the floats' signs
// by saturating packs into one 32-byte store), then single blocks; the record's block is still 8.
// Decoding is arithmetic too (the gather intrinsic is a C macro Swift cannot import): a normal code shifted
// into float32's mantissa plus the exponent rebias; subnormals through the same magic constant; the NaN
// and inf codes blended in. The result equals the core's decode tables, NaN bits included.
#if arch(x86_64)
import _Builtin_intrinsics.intel

/// A float format's parameters, as the core's FloatFormat defines them.
public struct AVX2FloatFormat {
    public let exponentBits: Int32
    public let mantissaBits: Int32
    public let bias: Int32
    /// Largest finite magnitude's code (sign bit clear).
    public let maxCode: Int32
    public let hasNaN: Bool
    public let hasInfinity: Bool
    public let isFNUZ: Bool
    /// NaN's code for a positive / negative NaN input (ignored without NaN).
    public let nanPositive: Int32
    public let nanNegative: Int32

    public init(exponentBits: Int32, mantissaBits: Int32, bias: Int32, maxCode: Int32, hasNaN: Bool, hasInfinity: Bool,
                isFNUZ: Bool, nanPositive: Int32, nanNegative: Int32) {
        self.exponentBits = exponentBits
        self.mantissaBits = mantissaBits
        self.bias = bias
        self.maxCode = maxCode
        self.hasNaN = hasNaN
        self.hasInfinity = hasInfinity
        self.isFNUZ = isFNUZ
        self.nanPositive = nanPositive
        self.nanNegative = nanNegative
    }

    var bits: Int32 { 1 + exponentBits + mantissaBits }
    var signBit: Int32 { 1 << (bits - 1) }
    var minExponent: Int32 { 1 - bias }
}

@inline(__always) private func splat(_ v: Int32) -> __m256i { _mm256_set1_epi32(v) }
@inline(__always) private func asInt(_ v: __m256) -> __m256i { _mm256_castps_si256(v) }
@inline(__always) private func asFloat(_ v: __m256i) -> __m256 { _mm256_castsi256_ps(v) }

/// 2^e as float32 bits (e a normal exponent).
@inline(__always) private func pow2Bits(_ e: Int32) -> Int32 { (e + 127) << 23 }

/// The encoder's constants for one format and saturate rule, built once per call.
private struct Encoder {
    let absMask = splat(0x7FFF_FFFF), infBits = splat(0x7F80_0000), one = splat(1), zero = _mm256_setzero_si256()
    let shift: Int32, signShift: Int32
    let roundAdd, magicBits, minNormalBits, clampCode, nanMag, signBit: __m256i
    let magic: __m256

    init(_ f: AVX2FloatFormat, saturate: Bool) {
        let m = f.mantissaBits, bits = f.bits
        shift = 23 - m
        signShift = 32 - bits
        // Round half to even at bit 23 - M, with the exponent rebias (127 - bias) folded in: after the shift
        // the exponent field is the format's (lanes below the normal range take the subnormal path).
        roundAdd = splat((1 << (22 - m)) - 1 - ((127 - f.bias) << 23))
        magicBits = splat(pow2Bits(f.minExponent - m + 23))
        magic = asFloat(magicBits)
        minNormalBits = splat(pow2Bits(f.minExponent))
        // Overflow (a magnitude code above maxCode, ±inf included) clamps to maxCode when saturating (always
        // for FP4 / FP6), else to the code just above it, which is the format's overflow value: E5M2's inf
        // (0x7C), E4M3FN's NaN (0x7F, with the sign as nanCode has it), FNUZ's NaN (0x80, whatever the sign).
        clampCode = splat(saturate || !f.hasNaN ? f.maxCode : f.maxCode + 1)
        // NaN's magnitude code: with the sign or'ed in it is nanCode(negative:) (FNUZ: 0x80 either way).
        nanMag = splat(f.nanPositive)
        signBit = splat(1 << (bits - 1))
    }

    /// Magnitude codes (one per int32 lane, 0 ... 255) of v, and the lanes where v is NaN.
    @inline(__always) func magnitude(_ v: __m256) -> (mag: __m256i, nan: __m256i) {
        let ab = _mm256_and_si256(asInt(v), absMask)
        // Normal range: round the mantissa to M bits (ties to even: + 2^(22-M) - 1 + the kept lsb), rebias.
        let lsb = _mm256_and_si256(_mm256_srli_epi32(ab, shift), one)
        let normal = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(ab, roundAdd), lsb), shift)
        // Subnormal range: the float addition rounds to the subnormal quantum.
        let sub = _mm256_sub_epi32(asInt(_mm256_add_ps(asFloat(ab), magic)), magicBits)
        let code = _mm256_blendv_epi8(normal, sub, _mm256_cmpgt_epi32(minNormalBits, ab))
        let nan = _mm256_cmpgt_epi32(ab, infBits)
        return (_mm256_blendv_epi8(_mm256_min_epi32(code, clampCode), nanMag, nan), nan)
    }

    /// Full codes (sign included; FNUZ: no -0) of v, and its NaN lanes.
    @inline(__always) func encode(_ v: __m256, fnuz: Bool) -> (codes: __m256i, nan: __m256i) {
        let (mag, nan) = magnitude(v)
        var sign = _mm256_and_si256(_mm256_srli_epi32(asInt(v), signShift), signBit)
        if fnuz { sign = _mm256_andnot_si256(_mm256_cmpeq_epi32(mag, zero), sign) }  // +0 for a zero magnitude
        return (_mm256_or_si256(mag, sign), nan)
    }
}

/// Bytes of 4 x 8 lanes of magnitude codes with the signs of the float bits v0 ... v3, in lane order
/// (FNUZ: a zero magnitude drops its sign). The packs interleave 128-bit lanes; the permute restores order.
/// Signed saturating packs keep each float's sign in bit 7 of its byte.
@inline(__always) private func packCodes(_ c0: __m256i, _ c1: __m256i, _ c2: __m256i, _ c3: __m256i,
                                         signs v0: __m256, _ v1: __m256, _ v2: __m256, _ v3: __m256,
                                         bits: Int32, fnuz: Bool) -> __m256i {
    let mag = _mm256_packus_epi16(_mm256_packus_epi32(c0, c1), _mm256_packus_epi32(c2, c3))
    let s = _mm256_packs_epi16(_mm256_packs_epi32(asInt(v0), asInt(v1)), _mm256_packs_epi32(asInt(v2), asInt(v3)))
    var sign = _mm256_and_si256(s, _mm256_set1_epi8(-128))
    if bits < 8 { sign = _mm256_srli_epi16(sign, 8 - bits) }  // bit 7 of each byte to bit bits - 1
    if fnuz { sign = _mm256_andnot_si256(_mm256_cmpeq_epi8(mag, _mm256_setzero_si256()), sign) }
    return _mm256_permutevar8x32_epi32(_mm256_or_si256(mag, sign), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7))
}

/// The decoder's constants for one format.
private struct Decoder {
    let shift: Int32, signShift: Int32
    let magMask, signBit, rebias, subLimit, magicBits, maxCode, infMag, infBits, quietNaN, fnuzNaNCode, fnuzNaN, maxRaw: __m256i
    let magic: __m256

    init(_ f: AVX2FloatFormat) {
        let m = f.mantissaBits
        shift = 23 - m
        signShift = 32 - f.bits
        magMask = splat(f.signBit - 1)
        signBit = splat(f.signBit)
        rebias = splat((127 - f.bias) << 23)
        subLimit = splat(1 << m)
        magicBits = splat(pow2Bits(f.minExponent - m + 23))
        magic = asFloat(magicBits)
        // FNUZ: the one NaN is the negative-zero code; its maxCode is signBit - 1, so no magnitude is above it.
        maxCode = splat(f.isFNUZ ? f.signBit - 1 : f.maxCode)
        infMag = splat(f.hasInfinity ? 0x7C : -1)
        infBits = splat(0x7F80_0000)
        quietNaN = splat(0x7FC0_0000)
        fnuzNaNCode = splat(f.isFNUZ ? f.signBit : -1)
        fnuzNaN = splat(Int32(bitPattern: 0xFFC0_0000))
        maxRaw = splat((1 << f.bits) - 1)
    }

    /// float32 values of codes c (each in 0 ..< 2^bits).
    @inline(__always) func decode(_ c: __m256i) -> __m256 {
        let mag = _mm256_and_si256(c, magMask)
        let normal = _mm256_add_epi32(_mm256_slli_epi32(mag, shift), rebias)
        let sub = asInt(_mm256_sub_ps(asFloat(_mm256_add_epi32(magicBits, mag)), magic))  // m * 2^(minExp - M), exact
        var v = _mm256_blendv_epi8(normal, sub, _mm256_cmpgt_epi32(subLimit, mag))
        let special = _mm256_blendv_epi8(quietNaN, infBits, _mm256_cmpeq_epi32(mag, infMag))
        v = _mm256_blendv_epi8(v, special, _mm256_cmpgt_epi32(mag, maxCode))
        v = _mm256_or_si256(v, _mm256_slli_epi32(_mm256_and_si256(c, signBit), signShift))
        return asFloat(_mm256_blendv_epi8(v, fnuzNaN, _mm256_cmpeq_epi32(c, fnuzNaNCode)))
    }
}

/// 8 bytes at p, zero-extended to int32 lanes.
@inline(__always) private func loadBytes(_ p: UnsafeRawPointer) -> __m256i {
    _mm256_cvtepu8_epi32(_mm_set_epi64x(0, p.loadUnaligned(as: Int64.self)))
}

/// Runs `body(i, scale lanes)` for every whole 8-lane block, the scale loop specialized by stride; stops at
/// the first block body reports a failing offset for.
@inline(__always) private func blocks(_ n: Int, _ p: AVX2Params, _ body: (Int, __m256) -> Int?) -> (done: Int, badAt: Int?) {
    var i = 0
    if p.stride == 0 {
        let s = _mm256_set1_ps(p.scale[0])
        while i + 8 <= n {
            if let bad = body(i, s) { return (i, bad) }
            i &+= 8
        }
    } else {
        while i + 8 <= n {
            if let bad = body(i, _mm256_loadu_ps(p.scale + i)) { return (i, bad) }
            i &+= 8
        }
    }
    return (i, nil)
}

/// q[i] = encode(x[i] / scale) for whole 8-lane blocks of x[0..<n]. Returns the elements done and, for
/// formats without NaN, the offset of a NaN quotient that stopped it.
public func floatQuantizeAVX2(_ x: UnsafePointer<Float>, _ q: UnsafeMutableRawPointer, _ n: Int, format f: AVX2FloatFormat,
                              saturate: Bool, params p: AVX2Params) -> (done: Int, badAt: Int?) {
    // FNUZ's sign rule as a constant of each copy (the other parameters are loop invariants).
    f.isFNUZ ? quantize(x, q, n, f, saturate, p, fnuz: true) : quantize(x, q, n, f, saturate, p, fnuz: false)
}

@inline(__always) private func quantize(_ x: UnsafePointer<Float>, _ q: UnsafeMutableRawPointer, _ n: Int, _ f: AVX2FloatFormat,
                                        _ saturate: Bool, _ p: AVX2Params, fnuz: Bool) -> (done: Int, badAt: Int?) {
    let bits = f.bits
    let e = Encoder(f, saturate: saturate)
    let stopAtNaN = !f.hasNaN
    // Four blocks per iteration while they last, stored as one 32-byte vector; a NaN that must stop the
    // kernel leaves them to the block loop below, which finds it.
    var i = 0
    @inline(__always) func four(_ s: (Int) -> __m256) {
        while i + 32 <= n {
            let v0 = _mm256_div_ps(_mm256_loadu_ps(x + i), s(i)), v1 = _mm256_div_ps(_mm256_loadu_ps(x + i + 8), s(i + 8))
            let v2 = _mm256_div_ps(_mm256_loadu_ps(x + i + 16), s(i + 16)), v3 = _mm256_div_ps(_mm256_loadu_ps(x + i + 24), s(i + 24))
            let (c0, n0) = e.magnitude(v0), (c1, n1) = e.magnitude(v1), (c2, n2) = e.magnitude(v2), (c3, n3) = e.magnitude(v3)
            if stopAtNaN && _mm256_movemask_ps(asFloat(_mm256_or_si256(_mm256_or_si256(n0, n1), _mm256_or_si256(n2, n3)))) != 0 {
                return
            }
            (q + i).storeBytes(of: packCodes(c0, c1, c2, c3, signs: v0, v1, v2, v3, bits: bits, fnuz: fnuz), as: __m256i.self)
            i &+= 32
        }
    }
    if p.stride == 0 {
        let s = _mm256_set1_ps(p.scale[0])
        four { _ in s }
    } else {
        four { _mm256_loadu_ps(p.scale + $0) }
    }
    // The remaining blocks one at a time (the first 8 bytes of a pack of one block four times).
    let head = i
    let r = blocks(n - head, AVX2Params(scale: p.scale + head * p.stride, zeroPoint: nil, stride: p.stride)) { j, s in
        let k = head + j
        let v = _mm256_div_ps(_mm256_loadu_ps(x + k), s)
        let (c, nan) = e.magnitude(v)
        if stopAtNaN {
            let mask = _mm256_movemask_ps(asFloat(nan))
            if mask != 0 { return k + mask.trailingZeroBitCount }
        }
        let packed = packCodes(c, c, c, c, signs: v, v, v, v, bits: bits, fnuz: fnuz)
        q.storeBytes(of: _mm256_castsi256_si128(packed)[0], toByteOffset: k, as: Int64.self)
        return nil
    }
    return (head + r.done, r.badAt)
}

/// y[i] = decode(encode(x[i] / scale)) * scale for whole 8-lane blocks; y may be x. Returns the elements
/// done and, for formats without NaN, the offset of a NaN quotient that stopped it.
public func floatFakeQuantizeAVX2(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
                                  format f: AVX2FloatFormat, saturate: Bool, params p: AVX2Params) -> (done: Int, badAt: Int?) {
    f.isFNUZ ? fakeQuantize(x, y, n, f, saturate, p, fnuz: true) : fakeQuantize(x, y, n, f, saturate, p, fnuz: false)
}

@inline(__always) private func fakeQuantize(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, _ f: AVX2FloatFormat,
                                            _ saturate: Bool, _ p: AVX2Params, fnuz: Bool) -> (done: Int, badAt: Int?) {
    let e = Encoder(f, saturate: saturate), d = Decoder(f)
    let stopAtNaN = !f.hasNaN
    return blocks(n, p) { i, s in
        let (codes, nan) = e.encode(_mm256_div_ps(_mm256_loadu_ps(x + i), s), fnuz: fnuz)
        if stopAtNaN {
            let m = _mm256_movemask_ps(asFloat(nan))
            if m != 0 { return i + m.trailingZeroBitCount }
        }
        _mm256_storeu_ps(y + i, _mm256_mul_ps(d.decode(codes), s))
        return nil
    }
}

/// x[i] = decode(q[i]) * scale for whole 8-lane blocks. Returns the elements done and the offset of a
/// byte that is no code of the format (>= 2^bits: FP4, FP6) that stopped it.
public func floatDequantizeAVX2(_ q: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, _ n: Int, format f: AVX2FloatFormat,
                                params p: AVX2Params) -> (done: Int, badAt: Int?) {
    let d = Decoder(f)
    let checkRange = f.bits < 8
    return blocks(n, p) { i, s in
        let c = loadBytes(q + i)
        if checkRange {
            let m = _mm256_movemask_ps(asFloat(_mm256_cmpgt_epi32(c, d.maxRaw)))
            if m != 0 { return i + m.trailingZeroBitCount }
        }
        _mm256_storeu_ps(x + i, _mm256_mul_ps(d.decode(c), s))
        return nil
    }
}
#endif
