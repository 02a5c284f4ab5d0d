// AVX2 + FMA kernels of the block-weight linear layer, on the BlockPacked layout
// (Sources/SwiftQuant/Weights/BlockLinear.swift: 16-column panels, per block and 8-k octet 64 bytes,
// two ymm of 8 columns, lane j = 4 bytes of column j). A tile is R (1...4) rows x one panel. Both must agree bit for bit with the reference kernels:
//
// qbs8-f32-blockgemm-4x16c8-avx2 (per_block): integer dot products per block, exact:
//   4-bit codes (u8, <= 15) x int8 activations with vpmaddubsw: a pair sums to at most 2 * 15 * 127 = 3810,
//   so four octets (16 products per 16-bit lane, <= 30480) add in 16 bits before vpmaddwd widens them;
//   8-bit codes: w = code - 128 (s8), |w| * (x with w's sign) with vpmaddubsw (<= 2 * 128 * 127 = 32512,
//   no saturation), widened at once; D = dot - (zw - 128) * sum(qx).
//   Then acc = fma(f32(D), sx * sw, acc) per block in order; y = acc + bias.
// qbf32-f32-blockgemm-4x16-avx2 (none): t = fma(x[k], f32(code) - f32(zw), t) per k in order, then
//   acc = fma(t, sw, acc) per block; f32(code) - f32(zw) is exact (the reference's f32(code - zw)).
//   From 8 rows on, 6-row tiles run on panel-blocks dequantized once into L1 (weightOnlyWide).
//
// Wrapping int32 arithmetic is exact: the core proved every D and partial sum fits (block size <= 65536).
#if arch(x86_64)
import _Builtin_intrinsics.intel

/// The BlockPacked layout and the call's operands, flattened (the core's types are not visible here).
public struct BlockKernelArgs {
    public let m: Int, n: Int
    public let kBlocks: Int, blockSize: Int
    public let nibbles: Bool
    public let blockBytes: Int
    public let codes: UnsafeRawPointer
    public let scales: UnsafePointer<Float>
    public let zeroPoints: UnsafePointer<UInt8>?
    public let uniformZeroPoint: Int32
    public let bias: UnsafePointer<Float>?
    public let y: UnsafeMutablePointer<Float>
    /// per_block: qx [m, kBlocks * blockSize], sx and sums [m, kBlocks].
    public let qx: UnsafePointer<Int8>?
    public let sx: UnsafePointer<Float>?
    public let sums: UnsafePointer<Int32>?
    /// none: x [m, xStride], rows zero-padded to whole blocks.
    public let x: UnsafePointer<Float>?
    public let xStride: Int

    public init(m: Int, n: Int, kBlocks: Int, blockSize: Int, nibbles: Bool, blockBytes: Int, codes: UnsafeRawPointer,
                scales: UnsafePointer<Float>, zeroPoints: UnsafePointer<UInt8>?, uniformZeroPoint: Int32,
                bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>, qx: UnsafePointer<Int8>?,
                sx: UnsafePointer<Float>?, sums: UnsafePointer<Int32>?, x: UnsafePointer<Float>?, xStride: Int) {
        self.m = m; self.n = n; self.kBlocks = kBlocks; self.blockSize = blockSize; self.nibbles = nibbles
        self.blockBytes = blockBytes; self.codes = codes; self.scales = scales; self.zeroPoints = zeroPoints
        self.uniformZeroPoint = uniformZeroPoint; self.bias = bias; self.y = y; self.qx = qx; self.sx = sx
        self.sums = sums; self.x = x; self.xStride = xStride
    }
}

/// Row `row`, columns col0 ..< col0 + 16 (fewer at N): acc + bias.
@inline(__always)
private func store(_ a: BlockKernelArgs, _ row: Int, _ col0: Int, _ v0: __m256, _ v1: __m256) {
    var o0 = v0, o1 = v1
    let width = min(16, a.n - col0)
    let out = a.y + row * a.n + col0
    if width == 16 {
        if let b = a.bias {
            o0 = _mm256_add_ps(o0, _mm256_loadu_ps(b + col0))
            o1 = _mm256_add_ps(o1, _mm256_loadu_ps(b + col0 + 8))
        }
        _mm256_storeu_ps(out, o0)
        _mm256_storeu_ps(out + 8, o1)
        return
    }
    var t = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0),
             Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
    withUnsafeMutableBytes(of: &t) { p in
        let f = p.baseAddress!.assumingMemoryBound(to: Float.self)
        _mm256_storeu_ps(f, o0)
        _mm256_storeu_ps(f + 8, o1)
        for j in 0..<width { out[j] = a.bias.map { f[j] + $0[col0 + j] } ?? f[j] }
    }
}

/// Zero points of (panel, block) for the tile's 16 columns, as int32 lanes (minus `offset`).
@inline(__always)
private func zeroPoints(_ a: BlockKernelArgs, _ pb: Int, offset: Int32) -> (__m256i, __m256i) {
    guard let z = a.zeroPoints else {
        let u = _mm256_set1_epi32(a.uniformZeroPoint &- offset)
        return (u, u)
    }
    let p = UnsafeRawPointer(z + pb * 16)
    let off = _mm256_set1_epi32(offset)
    return (_mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64(p.assumingMemoryBound(to: __m128i.self))), off),
            _mm256_sub_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((p + 8).assumingMemoryBound(to: __m128i.self))), off))
}

// MARK: - per_block

@inline(__always)
private func perBlockTile(_ R: Int, _ a: BlockKernelArgs, panel p: Int, row r0: Int) {
    let kb = a.kBlocks, bs = a.blockSize, stride = kb * bs
    let qx = UnsafeRawPointer(a.qx!), sx = a.sx!, sums = a.sums!
    let zero = _mm256_setzero_si256(), ones = _mm256_set1_epi16(1), low = _mm256_set1_epi8(0x0F)
    let flip = _mm256_set1_epi8(-128)
    let x0 = qx + r0 * stride
    let x1 = R > 1 ? x0 + stride : x0, x2 = R > 2 ? x0 + 2 * stride : x0, x3 = R > 3 ? x0 + 3 * stride : x0
    @inline(__always) func bc(_ x: UnsafeRawPointer, _ at: Int) -> __m256i {
        _mm256_set1_epi32(x.loadUnaligned(fromByteOffset: at, as: Int32.self))
    }
    var f00 = _mm256_setzero_ps(), f01 = f00, f10 = f00, f11 = f00, f20 = f00, f21 = f00, f30 = f00, f31 = f00
    for b in 0..<kb {
        let pb = p * kb + b
        var w = a.codes + pb * a.blockBytes
        var i00 = zero, i01 = zero, i10 = zero, i11 = zero, i20 = zero, i21 = zero, i30 = zero, i31 = zero
        var at = b * bs
        if a.nibbles {
            var left = bs / 8
            while left > 0 {
                let chunk = min(4, left)
                left -= chunk
                var s00 = zero, s01 = zero, s10 = zero, s11 = zero, s20 = zero, s21 = zero, s30 = zero, s31 = zero
                for _ in 0..<chunk {
                    let v0 = _mm256_load_si256(OpaquePointer(w))
                    let v1 = _mm256_load_si256(OpaquePointer(w + 32))
                    let lo0 = _mm256_and_si256(v0, low), hi0 = _mm256_and_si256(_mm256_srli_epi16(v0, 4), low)
                    let lo1 = _mm256_and_si256(v1, low), hi1 = _mm256_and_si256(_mm256_srli_epi16(v1, 4), low)
                    @inline(__always) func row(_ x: UnsafeRawPointer, _ s0: inout __m256i, _ s1: inout __m256i) {
                        let xa = bc(x, at), xb = bc(x, at + 4)
                        s0 = _mm256_add_epi16(s0, _mm256_add_epi16(_mm256_maddubs_epi16(lo0, xa), _mm256_maddubs_epi16(hi0, xb)))
                        s1 = _mm256_add_epi16(s1, _mm256_add_epi16(_mm256_maddubs_epi16(lo1, xa), _mm256_maddubs_epi16(hi1, xb)))
                    }
                    row(x0, &s00, &s01)
                    if R > 1 { row(x1, &s10, &s11) }
                    if R > 2 { row(x2, &s20, &s21) }
                    if R > 3 { row(x3, &s30, &s31) }
                    w += 64
                    at += 8
                }
                i00 = _mm256_add_epi32(i00, _mm256_madd_epi16(s00, ones)); i01 = _mm256_add_epi32(i01, _mm256_madd_epi16(s01, ones))
                if R > 1 { i10 = _mm256_add_epi32(i10, _mm256_madd_epi16(s10, ones)); i11 = _mm256_add_epi32(i11, _mm256_madd_epi16(s11, ones)) }
                if R > 2 { i20 = _mm256_add_epi32(i20, _mm256_madd_epi16(s20, ones)); i21 = _mm256_add_epi32(i21, _mm256_madd_epi16(s21, ones)) }
                if R > 3 { i30 = _mm256_add_epi32(i30, _mm256_madd_epi16(s30, ones)); i31 = _mm256_add_epi32(i31, _mm256_madd_epi16(s31, ones)) }
            }
        } else {
            for _ in 0..<(bs / 4) {
                // w = code - 128 as s8; |w| is a valid u8 (128 included) and x takes w's sign.
                let w0 = _mm256_xor_si256(_mm256_load_si256(OpaquePointer(w)), flip)
                let w1 = _mm256_xor_si256(_mm256_load_si256(OpaquePointer(w + 32)), flip)
                let u0 = _mm256_abs_epi8(w0), u1 = _mm256_abs_epi8(w1)
                @inline(__always) func row(_ x: UnsafeRawPointer, _ i0: inout __m256i, _ i1: inout __m256i) {
                    let xa = bc(x, at)
                    i0 = _mm256_add_epi32(i0, _mm256_madd_epi16(_mm256_maddubs_epi16(u0, _mm256_sign_epi8(xa, w0)), ones))
                    i1 = _mm256_add_epi32(i1, _mm256_madd_epi16(_mm256_maddubs_epi16(u1, _mm256_sign_epi8(xa, w1)), ones))
                }
                row(x0, &i00, &i01)
                if R > 1 { row(x1, &i10, &i11) }
                if R > 2 { row(x2, &i20, &i21) }
                if R > 3 { row(x3, &i30, &i31) }
                w += 64
                at += 4
            }
        }
        let (z0, z1) = zeroPoints(a, pb, offset: a.nibbles ? 0 : 128)
        let sw0 = _mm256_loadu_ps(a.scales + pb * 16), sw1 = _mm256_loadu_ps(a.scales + pb * 16 + 8)
        @inline(__always) func fold(_ f0: inout __m256, _ f1: inout __m256, _ d0: __m256i, _ d1: __m256i, _ r: Int) {
            let sum = _mm256_set1_epi32(sums[(r0 + r) * kb + b])
            let e0 = _mm256_sub_epi32(d0, _mm256_mullo_epi32(z0, sum)), e1 = _mm256_sub_epi32(d1, _mm256_mullo_epi32(z1, sum))
            let s = _mm256_set1_ps(sx[(r0 + r) * kb + b])
            f0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(e0), _mm256_mul_ps(s, sw0), f0)
            f1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(e1), _mm256_mul_ps(s, sw1), f1)
        }
        fold(&f00, &f01, i00, i01, 0)
        if R > 1 { fold(&f10, &f11, i10, i11, 1) }
        if R > 2 { fold(&f20, &f21, i20, i21, 2) }
        if R > 3 { fold(&f30, &f31, i30, i31, 3) }
    }
    let col0 = p * 16
    store(a, r0, col0, f00, f01)
    if R > 1 { store(a, r0 + 1, col0, f10, f11) }
    if R > 2 { store(a, r0 + 2, col0, f20, f21) }
    if R > 3 { store(a, r0 + 3, col0, f30, f31) }
}

// MARK: - none (weight-only)

@inline(__always)
private func weightOnlyTile(_ R: Int, _ a: BlockKernelArgs, panel p: Int, row r0: Int) {
    let kb = a.kBlocks, bs = a.blockSize
    let mask = _mm256_set1_epi32(a.nibbles ? 0x0F : 0xFF)
    let x0 = a.x! + r0 * a.xStride
    let x1 = R > 1 ? x0 + a.xStride : x0, x2 = R > 2 ? x0 + 2 * a.xStride : x0, x3 = R > 3 ? x0 + 3 * a.xStride : x0
    var f00 = _mm256_setzero_ps(), f01 = f00, f10 = f00, f11 = f00, f20 = f00, f21 = f00, f30 = f00, f31 = f00
    for b in 0..<kb {
        let pb = p * kb + b
        let (zi0, zi1) = zeroPoints(a, pb, offset: 0)
        let z0 = _mm256_cvtepi32_ps(zi0), z1 = _mm256_cvtepi32_ps(zi1)
        var t00 = _mm256_setzero_ps(), t01 = t00, t10 = t00, t11 = t00, t20 = t00, t21 = t00, t30 = t00, t31 = t00
        var w = a.codes + pb * a.blockBytes
        var at = b * bs
        // The tile's 16 weights at k = kk, from bits `shift` of each lane.
        @inline(__always) func step(_ v0: __m256i, _ v1: __m256i, _ shift: Int32, _ kk: Int) {
            let d0 = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v0, shift), mask)), z0)
            let d1 = _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v1, shift), mask)), z1)
            var xv = _mm256_set1_ps(x0[kk])
            t00 = _mm256_fmadd_ps(xv, d0, t00); t01 = _mm256_fmadd_ps(xv, d1, t01)
            if R > 1 { xv = _mm256_set1_ps(x1[kk]); t10 = _mm256_fmadd_ps(xv, d0, t10); t11 = _mm256_fmadd_ps(xv, d1, t11) }
            if R > 2 { xv = _mm256_set1_ps(x2[kk]); t20 = _mm256_fmadd_ps(xv, d0, t20); t21 = _mm256_fmadd_ps(xv, d1, t21) }
            if R > 3 { xv = _mm256_set1_ps(x3[kk]); t30 = _mm256_fmadd_ps(xv, d0, t30); t31 = _mm256_fmadd_ps(xv, d1, t31) }
        }
        if a.nibbles {
            for _ in 0..<(bs / 8) {
                let v0 = _mm256_load_si256(OpaquePointer(w))
                let v1 = _mm256_load_si256(OpaquePointer(w + 32))
                // Low nibbles of bytes 0..3 are k0 .. k0 + 3, high nibbles k0 + 4 .. k0 + 7.
                step(v0, v1, 0, at); step(v0, v1, 8, at + 1); step(v0, v1, 16, at + 2); step(v0, v1, 24, at + 3)
                step(v0, v1, 4, at + 4); step(v0, v1, 12, at + 5); step(v0, v1, 20, at + 6); step(v0, v1, 28, at + 7)
                w += 64
                at += 8
            }
        } else {
            for _ in 0..<(bs / 4) {
                let v0 = _mm256_load_si256(OpaquePointer(w))
                let v1 = _mm256_load_si256(OpaquePointer(w + 32))
                step(v0, v1, 0, at); step(v0, v1, 8, at + 1); step(v0, v1, 16, at + 2); step(v0, v1, 24, at + 3)
                w += 64
                at += 4
            }
        }
        let s0 = _mm256_loadu_ps(a.scales + pb * 16), s1 = _mm256_loadu_ps(a.scales + pb * 16 + 8)
        f00 = _mm256_fmadd_ps(t00, s0, f00); f01 = _mm256_fmadd_ps(t01, s1, f01)
        if R > 1 { f10 = _mm256_fmadd_ps(t10, s0, f10); f11 = _mm256_fmadd_ps(t11, s1, f11) }
        if R > 2 { f20 = _mm256_fmadd_ps(t20, s0, f20); f21 = _mm256_fmadd_ps(t21, s1, f21) }
        if R > 3 { f30 = _mm256_fmadd_ps(t30, s0, f30); f31 = _mm256_fmadd_ps(t31, s1, f31) }
    }
    let col0 = p * 16
    store(a, r0, col0, f00, f01)
    if R > 1 { store(a, r0 + 1, col0, f10, f11) }
    if R > 2 { store(a, r0 + 2, col0, f20, f21) }
    if R > 3 { store(a, r0 + 3, col0, f30, f31) }
}

// MARK: - per_block activations

/// One row of x [k] quantized per block for the per_block layer, as the reference (BlockActivations):
/// sx = max|x| / 127; qx = clamp(round_half_even(x / sx), -127, 127), 0 when sx = 0; sums = sum of qx.
/// qx (kBlocks * blockSize bytes) must be zeroed by the caller. Rounding and clamping commute here: |x / sx|
/// stays near 127 (sx is at least max|x| / 127 rounded), so the int32 conversion never overflows.
public func quantizeActivationsRowAVX2(_ x: UnsafePointer<Float>, k: Int, blockSize bs: Int, kBlocks kb: Int,
                                       qx: UnsafeMutablePointer<Int8>, sx: UnsafeMutablePointer<Float>,
                                       sums: UnsafeMutablePointer<Int32>) {
    let absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFF_FFFF))
    let lo = SIMD8<Int32>(repeating: -127), hi = SIMD8<Int32>(repeating: 127)
    for b in 0..<kb {
        let k0 = b * bs, k1 = min(k0 + bs, k)
        var vmax = _mm256_setzero_ps()
        var i = k0
        while i + 8 <= k1 { vmax = _mm256_max_ps(vmax, _mm256_and_ps(_mm256_loadu_ps(x + i), absMask)); i += 8 }
        var amax: Float = vmax.max()
        while i < k1 { amax = max(amax, abs(x[i])); i += 1 }
        let scale = amax / 127
        sx[b] = scale
        sums[b] = 0
        guard scale != 0 else { continue }
        let vs = _mm256_set1_ps(scale)
        var vsum = SIMD8<Int32>(repeating: 0)
        i = k0
        while i + 8 <= k1 {
            // vcvtps2dq rounds half to even under the default MXCSR the library runs with.
            let q = unsafeBitCast(_mm256_cvtps_epi32(_mm256_div_ps(_mm256_loadu_ps(x + i), vs)), to: SIMD8<Int32>.self)
            let c = q.clamped(lowerBound: lo, upperBound: hi)
            vsum &+= c
            UnsafeMutableRawPointer(qx + i).storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: c), as: SIMD8<Int8>.self)
            i += 8
        }
        var sum = vsum.wrappedSum()
        while i < k1 {
            let v = min(max((x[i] / scale).rounded(.toNearestOrEven), -127), 127)
            qx[i] = Int8(v)
            sum &+= Int32(v)
            i += 1
        }
        sums[b] = sum
    }
}

// MARK: - Drivers: every row of panels `panels`, tiles of 4 rows then single rows

public func blockGemmPerBlockAVX2(_ a: BlockKernelArgs, panels: Range<Int>) {
    var p = panels.lowerBound
    if a.m < 4 && a.nibbles {
        // GEMV-like: two panels per pass share the activation broadcasts and the loop.
        while p + 2 <= panels.upperBound {
            for r in 0..<a.m { perBlockPairRow(a, panel: p, row: r) }
            p += 2
        }
    }
    while p < panels.upperBound {
        var r = 0
        while r + 4 <= a.m { perBlockTile(4, a, panel: p, row: r); r += 4 }
        while r < a.m { perBlockTile(1, a, panel: p, row: r); r += 1 }
        p += 1
    }
}

/// One row over panels p and p + 1 (32 columns), 4-bit codes: the same operations per column as
/// perBlockTile, so the same bits.
@inline(never)
private func perBlockPairRow(_ a: BlockKernelArgs, panel p: Int, row r0: Int) {
    let kb = a.kBlocks, bs = a.blockSize, stride = kb * bs
    let x = UnsafeRawPointer(a.qx! + r0 * stride), sx = a.sx!, sums = a.sums!
    let zero = _mm256_setzero_si256(), ones = _mm256_set1_epi16(1), low = _mm256_set1_epi8(0x0F)
    let blocksPerPanel = kb * a.blockBytes
    var f0 = _mm256_setzero_ps(), f1 = f0, f2 = f0, f3 = f0
    for b in 0..<kb {
        let pbA = p * kb + b, pbB = pbA + kb
        var wA = a.codes + pbA * a.blockBytes
        var wB = wA + blocksPerPanel
        var i0 = zero, i1 = zero, i2 = zero, i3 = zero
        var at = b * bs
        var left = bs / 8
        while left > 0 {
            let chunk = min(4, left)
            left -= chunk
            var s0 = zero, s1 = zero, s2 = zero, s3 = zero
            for _ in 0..<chunk {
                let xa = _mm256_set1_epi32(x.loadUnaligned(fromByteOffset: at, as: Int32.self))
                let xb = _mm256_set1_epi32(x.loadUnaligned(fromByteOffset: at + 4, as: Int32.self))
                @inline(__always) func group(_ v: __m256i, _ acc: inout __m256i) {
                    let lo = _mm256_and_si256(v, low), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low)
                    acc = _mm256_add_epi16(acc, _mm256_add_epi16(_mm256_maddubs_epi16(lo, xa), _mm256_maddubs_epi16(hi, xb)))
                }
                group(_mm256_load_si256(OpaquePointer(wA)), &s0)
                group(_mm256_load_si256(OpaquePointer(wA + 32)), &s1)
                group(_mm256_load_si256(OpaquePointer(wB)), &s2)
                group(_mm256_load_si256(OpaquePointer(wB + 32)), &s3)
                wA += 64
                wB += 64
                at += 8
            }
            i0 = _mm256_add_epi32(i0, _mm256_madd_epi16(s0, ones)); i1 = _mm256_add_epi32(i1, _mm256_madd_epi16(s1, ones))
            i2 = _mm256_add_epi32(i2, _mm256_madd_epi16(s2, ones)); i3 = _mm256_add_epi32(i3, _mm256_madd_epi16(s3, ones))
        }
        let sum = _mm256_set1_epi32(sums[r0 * kb + b])
        let sxv = _mm256_set1_ps(sx[r0 * kb + b])
        @inline(__always) func fold(_ f: inout __m256, _ d: __m256i, _ z: __m256i, _ sw: __m256) {
            f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(d, _mm256_mullo_epi32(z, sum))), _mm256_mul_ps(sxv, sw), f)
        }
        let (zA0, zA1) = zeroPoints(a, pbA, offset: 0), (zB0, zB1) = zeroPoints(a, pbB, offset: 0)
        fold(&f0, i0, zA0, _mm256_loadu_ps(a.scales + pbA * 16))
        fold(&f1, i1, zA1, _mm256_loadu_ps(a.scales + pbA * 16 + 8))
        fold(&f2, i2, zB0, _mm256_loadu_ps(a.scales + pbB * 16))
        fold(&f3, i3, zB1, _mm256_loadu_ps(a.scales + pbB * 16 + 8))
    }
    store(a, r0, p * 16, f0, f1)
    store(a, r0, p * 16 + 16, f2, f3)
}

public func blockGemmWeightOnlyAVX2(_ a: BlockKernelArgs, panels: Range<Int>) {
    if a.m >= 8 { return weightOnlyWide(a, panels: panels) }
    for p in panels {
        var r = 0
        while r + 4 <= a.m { weightOnlyTile(4, a, panel: p, row: r); r += 4 }
        while r < a.m { weightOnlyTile(1, a, panel: p, row: r); r += 1 }
    }
}

// MARK: - none, many rows: dequantize each panel-block once, reuse it for every row

/// With many rows the on-the-fly unpacking above costs as much as the FMAs. Here each (panel, block) is
/// dequantized once into an L1 buffer d [blockSize][16] and every tile of up to 6 rows runs pure FMAs on it;
/// panels go in groups of 8 so the group's accumulators (m x 128 floats) stay in L2 while x's block slice is
/// re-read. Same operations in the same order as the reference: t = fma(x, d, t) over k ascending per block,
/// acc = fma(t, sw, acc) per block in order, y = acc + bias.
private func weightOnlyWide(_ a: BlockKernelArgs, panels: Range<Int>) {
    let kb = a.kBlocks, bs = a.blockSize, m = a.m, group = 8
    let d = UnsafeMutablePointer<Float>.allocate(capacity: bs * 16)
    let acc = UnsafeMutablePointer<Float>.allocate(capacity: m * 16 * group)
    defer {
        d.deallocate()
        acc.deallocate()
    }
    let mask = _mm256_set1_epi32(a.nibbles ? 0x0F : 0xFF)
    var g0 = panels.lowerBound
    while g0 < panels.upperBound {
        let g1 = min(g0 + group, panels.upperBound)
        acc.initialize(repeating: 0, count: m * 16 * (g1 - g0))
        for b in 0..<kb {
            for p in g0..<g1 {
                let pb = p * kb + b
                let (zi0, zi1) = zeroPoints(a, pb, offset: 0)
                let z0 = _mm256_cvtepi32_ps(zi0), z1 = _mm256_cvtepi32_ps(zi1)
                var w = a.codes + pb * a.blockBytes
                @inline(__always) func put(_ v0: __m256i, _ v1: __m256i, _ shift: Int32, _ i: Int) {
                    _mm256_storeu_ps(d + 16 * i, _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v0, shift), mask)), z0))
                    _mm256_storeu_ps(d + 16 * i + 8, _mm256_sub_ps(_mm256_cvtepi32_ps(_mm256_and_si256(_mm256_srli_epi32(v1, shift), mask)), z1))
                }
                if a.nibbles {
                    for o in 0..<(bs / 8) {
                        let v0 = _mm256_load_si256(OpaquePointer(w)), v1 = _mm256_load_si256(OpaquePointer(w + 32))
                        let i = 8 * o
                        put(v0, v1, 0, i); put(v0, v1, 8, i + 1); put(v0, v1, 16, i + 2); put(v0, v1, 24, i + 3)
                        put(v0, v1, 4, i + 4); put(v0, v1, 12, i + 5); put(v0, v1, 20, i + 6); put(v0, v1, 28, i + 7)
                        w += 64
                    }
                } else {
                    for q in 0..<(bs / 4) {
                        let v0 = _mm256_load_si256(OpaquePointer(w)), v1 = _mm256_load_si256(OpaquePointer(w + 32))
                        let i = 4 * q
                        put(v0, v1, 0, i); put(v0, v1, 8, i + 1); put(v0, v1, 16, i + 2); put(v0, v1, 24, i + 3)
                        w += 64
                    }
                }
                let s0 = _mm256_loadu_ps(a.scales + pb * 16), s1 = _mm256_loadu_ps(a.scales + pb * 16 + 8)
                let ap = acc + (p - g0) * m * 16
                var r = 0
                while r + 6 <= m { wideTile(6, a, d, s0, s1, ap, row: r, k0: b * bs, bs); r += 6 }
                while r < m { wideTile(1, a, d, s0, s1, ap, row: r, k0: b * bs, bs); r += 1 }
            }
        }
        for p in g0..<g1 {
            let ap = acc + (p - g0) * m * 16
            for row in 0..<m { store(a, row, p * 16, _mm256_loadu_ps(ap + 16 * row), _mm256_loadu_ps(ap + 16 * row + 8)) }
        }
        g0 = g1
    }
}

/// R (1...6) rows of one dequantized panel-block: t = fma chain over the block, then acc = fma(t, sw, acc).
@inline(__always)
private func wideTile(_ R: Int, _ a: BlockKernelArgs, _ d: UnsafePointer<Float>, _ s0: __m256, _ s1: __m256,
                      _ acc: UnsafeMutablePointer<Float>, row r0: Int, k0: Int, _ bs: Int) {
    let x0 = a.x! + r0 * a.xStride + k0
    let x1 = R > 1 ? x0 + a.xStride : x0, x2 = R > 2 ? x0 + 2 * a.xStride : x0
    let x3 = R > 3 ? x0 + 3 * a.xStride : x0, x4 = R > 4 ? x0 + 4 * a.xStride : x0, x5 = R > 5 ? x0 + 5 * a.xStride : x0
    var t00 = _mm256_setzero_ps(), t01 = t00, t10 = t00, t11 = t00, t20 = t00, t21 = t00
    var t30 = t00, t31 = t00, t40 = t00, t41 = t00, t50 = t00, t51 = t00
    for i in 0..<bs {
        let d0 = _mm256_loadu_ps(d + 16 * i), d1 = _mm256_loadu_ps(d + 16 * i + 8)
        var xv = _mm256_set1_ps(x0[i])
        t00 = _mm256_fmadd_ps(xv, d0, t00); t01 = _mm256_fmadd_ps(xv, d1, t01)
        if R > 1 { xv = _mm256_set1_ps(x1[i]); t10 = _mm256_fmadd_ps(xv, d0, t10); t11 = _mm256_fmadd_ps(xv, d1, t11) }
        if R > 2 { xv = _mm256_set1_ps(x2[i]); t20 = _mm256_fmadd_ps(xv, d0, t20); t21 = _mm256_fmadd_ps(xv, d1, t21) }
        if R > 3 { xv = _mm256_set1_ps(x3[i]); t30 = _mm256_fmadd_ps(xv, d0, t30); t31 = _mm256_fmadd_ps(xv, d1, t31) }
        if R > 4 { xv = _mm256_set1_ps(x4[i]); t40 = _mm256_fmadd_ps(xv, d0, t40); t41 = _mm256_fmadd_ps(xv, d1, t41) }
        if R > 5 { xv = _mm256_set1_ps(x5[i]); t50 = _mm256_fmadd_ps(xv, d0, t50); t51 = _mm256_fmadd_ps(xv, d1, t51) }
    }
    @inline(__always) func fold(_ r: Int, _ u0: __m256, _ u1: __m256) {
        let p = acc + 16 * (r0 + r)
        _mm256_storeu_ps(p, _mm256_fmadd_ps(u0, s0, _mm256_loadu_ps(p)))
        _mm256_storeu_ps(p + 8, _mm256_fmadd_ps(u1, s1, _mm256_loadu_ps(p + 8)))
    }
    fold(0, t00, t01)
    if R > 1 { fold(1, t10, t11) }
    if R > 2 { fold(2, t20, t21) }
    if R > 3 { fold(3, t30, t31) }
    if R > 4 { fold(4, t40, t41) }
    if R > 5 { fold(5, t50, t51) }
}
#endif
