// AVX-512 VNNI int8 GEMM (qu8s8-gemm-6x64c4-avx512vnni): the packing of B, the packing of A panels, the
// 6 x 64 register-tile microkernel, the one-row (GEMV) kernel and the cache blocking that drives them.
// Internal API of the package: the core calls it only after dispatch saw AVX-512 VNNI
// (Sources/SwiftQuant/Kernels/GemmConfig.swift), and it must agree with the reference bit for bit.
//
// vpdpbusd multiplies u8 by s8, so the operands are shifted into those ranges and the shifts folded out:
//   a_u = A as u8 (A xor 0x80 for int8: a = a_u - ca, ca = 128 or 0)
//   b_s = B as s8 (B xor 0x80 for uint8: b = b_s + cb, cb = 128 or 0)
//   C[m, n] = sum_k (a - za)(b - zb[n]) = sum_k (a_u - A')(b_s - zb'[n]),  A' = ca + za, zb' = zb - cb
//           = sum_k a_u b_s  -  zb'[n] * rowsum(a_u)[m]  +  A' * (K zb'[n] - colsum(b_s)[n])
// The packer computes colsum(b_s); the core keeps colTerm[n] = K zb'[n] - colsum(b_s)[n] and zb'[n]; the
// kernel adds the two correction terms when it stores the last K block. All arithmetic wraps modulo 2^32:
// the core has proved the exact C fits int32, so the wrapped sum equals it.
#if arch(x86_64)
import _Builtin_intrinsics.intel

public typealias V512 = __m512i

/// Tile sizes of this path. B is packed in panels of `nr` columns; the kernel computes `mr` rows at once.
/// 6 x 64 holds 24 accumulators, 4 B vectors and a broadcast in the 32 zmm registers. On Zen 4 every tile
/// from 4x64 to 14x32 sustains one vpdpbusd per cycle from L1 (3.5 G/s per core, measured), so the choice
/// rests on loads: 6x64 issues 10 per 24 vpdpbusd, and its 64-column panels stream well in the GEMV case.
public enum VNNITile {
    public static let mr = 6
    public static let nr = 64
    /// K block in groups of 4 (K = 1024): the B micro-panel (64 KiB) and the packed A block (mc x 1 KiB)
    /// share the 1 MiB L2 of Zen 4; measured best of 64, 128, 256 and 512 at 1024^3 and 128 x 4096^2.
    public static let kc4 = 256
    /// Rows of A packed at once (a multiple of mr).
    public static let mc = 576
}

// MARK: - Packing B

/// Bytes of a packed K x N B: ceil(N / 64) panels of ceil(K / 4) groups of 64 columns x 4 bytes.
public func vnniPackedBBytes(k: Int, n: Int) -> Int { vnniPanels(n) * vnniGroups(k) * 256 }

public func vnniPanels(_ n: Int) -> Int { (n + VNNITile.nr - 1) / VNNITile.nr }
public func vnniGroups(_ k: Int) -> Int { (k + 3) / 4 }

/// Packs panels `panels` of B [K, N] (row stride N, int8 or uint8) as b_s into `dst` (vnniPackedBBytes
/// for the whole matrix, 64-byte aligned): panel p, group g, column j (0..<64), byte r holds
/// b_s[4g + r, 64p + j]; rows past K and columns past N are 0. `colSums` (64 per panel, for the whole
/// matrix) receives sum_k b_s[k, n] (0 in the padding) for those panels.
public func vnniPackB(_ b: UnsafeRawPointer, k: Int, n: Int, unsignedB: Bool, _ dst: UnsafeMutableRawPointer,
                      colSums: UnsafeMutablePointer<Int32>, panels: Range<Int>) {
    let groups = vnniGroups(k)
    let flip = _mm512_set1_epi32(unsignedB ? Int32(bitPattern: 0x8080_8080) : 0)
    let ones = _mm512_set1_epi32(0x0101_0101)
    let zero = _mm512_setzero_si512()
    // 128-bit lane shuffles of the 4 x 4 lane transpose (qword indices; 8+ selects the second source).
    let pairLo = _mm512_set_epi64(11, 10, 3, 2, 9, 8, 1, 0), pairHi = _mm512_set_epi64(15, 14, 7, 6, 13, 12, 5, 4)
    let halfLo = _mm512_set_epi64(11, 10, 9, 8, 3, 2, 1, 0), halfHi = _mm512_set_epi64(15, 14, 13, 12, 7, 6, 5, 4)
    for p in panels { (colSums + p * VNNITile.nr).initialize(repeating: 0, count: VNNITile.nr) }
    // Chunks of 256 rows: every panel reads the same few hundred pages of B, which stay in L2 and the TLB
    // (walking one panel down all of K would touch a new page per row).
    let chunk = 64
    for g0 in stride(from: 0, to: groups, by: chunk) {
        let g1 = min(g0 + chunk, groups)
        for p in panels {
            let col0 = p * VNNITile.nr
            let width = min(VNNITile.nr, n - col0)
            let mask: __mmask64 = width == 64 ? ~0 : (1 << UInt64(width)) - 1
            let cs = UnsafeMutableRawPointer(colSums + col0)
            var s0 = _mm512_loadu_si512(cs), s1 = _mm512_loadu_si512(cs + 64)
            var s2 = _mm512_loadu_si512(cs + 128), s3 = _mm512_loadu_si512(cs + 192)
            var out = dst + (p * groups + g0) * 256
            for g in g0..<g1 {
                @inline(__always) func row(_ r: Int) -> V512 {
                    let kk = 4 * g + r
                    guard kk < k else { return zero }
                    let v = _mm512_maskz_loadu_epi8(mask, b + kk * n + col0)
                    return _mm512_maskz_mov_epi8(mask, _mm512_xor_si512(v, flip))
                }
                let r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3)
                let t0 = _mm512_unpacklo_epi8(r0, r1), t1 = _mm512_unpackhi_epi8(r0, r1)
                let t2 = _mm512_unpacklo_epi8(r2, r3), t3 = _mm512_unpackhi_epi8(r2, r3)
                // u_i, 128-bit lane L: columns 16L + 4i ..< 16L + 4i + 4, four k bytes each.
                let u0 = _mm512_unpacklo_epi16(t0, t2), u1 = _mm512_unpackhi_epi16(t0, t2)
                let u2 = _mm512_unpacklo_epi16(t1, t3), u3 = _mm512_unpackhi_epi16(t1, t3)
                let v0 = _mm512_permutex2var_epi64(u0, pairLo, u1), v1 = _mm512_permutex2var_epi64(u0, pairHi, u1)
                let v2 = _mm512_permutex2var_epi64(u2, pairLo, u3), v3 = _mm512_permutex2var_epi64(u2, pairHi, u3)
                let o0 = _mm512_permutex2var_epi64(v0, halfLo, v2), o1 = _mm512_permutex2var_epi64(v0, halfHi, v2)
                let o2 = _mm512_permutex2var_epi64(v1, halfLo, v3), o3 = _mm512_permutex2var_epi64(v1, halfHi, v3)
                _mm512_store_si512(out, o0)
                _mm512_store_si512(out + 64, o1)
                _mm512_store_si512(out + 128, o2)
                _mm512_store_si512(out + 192, o3)
                // Column sums: vpdpbusd with u8 ones adds each column's four s8 bytes.
                s0 = _mm512_dpbusd_epi32(s0, ones, o0)
                s1 = _mm512_dpbusd_epi32(s1, ones, o1)
                s2 = _mm512_dpbusd_epi32(s2, ones, o2)
                s3 = _mm512_dpbusd_epi32(s3, ones, o3)
                out += 256
            }
            _mm512_storeu_si512(cs, s0)
            _mm512_storeu_si512(cs + 64, s1)
            _mm512_storeu_si512(cs + 128, s2)
            _mm512_storeu_si512(cs + 192, s3)
        }
    }
}

// MARK: - Packing A

/// sum_k a_u[k] over one row of K bytes (a_u = byte xor 0x80 when A is int8).
@inline(__always) private func rowSum(_ a: UnsafeRawPointer, _ k: Int, _ flip: V512) -> Int32 {
    let zero = _mm512_setzero_si512()
    var acc = zero
    var i = 0
    while i + 64 <= k {
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_xor_si512(_mm512_loadu_si512(a + i), flip), zero))
        i += 64
    }
    if i < k {
        let mask: __mmask64 = (1 << UInt64(k - i)) - 1
        let v = _mm512_maskz_mov_epi8(mask, _mm512_xor_si512(_mm512_maskz_loadu_epi8(mask, a + i), flip))
        acc = _mm512_add_epi64(acc, _mm512_sad_epu8(v, zero))
    }
    return Int32(truncatingIfNeeded: _mm512_reduce_add_epi64(acc))
}

/// Packs rows [0, rows) of A (row stride lda), K bytes [k0, k0 + 4 groups) as a_u, into tiles of `mr`
/// rows: tile t, group g, row r is the UInt32 at dst[(t * groups + g) * mr + r]. Bytes past K and rows
/// past `rows` are 0.
@inline(__always) private func packA(_ a: UnsafeRawPointer, lda: Int, rows: Int, k: Int, k0: Int, groups: Int,
                                     flip: UInt32, mr: Int, _ dst: UnsafeMutablePointer<UInt32>) {
    let tiles = (rows + mr - 1) / mr
    let full = min(groups, max(0, (k - k0) / 4))  // groups with 4 real bytes
    for t in 0..<tiles {
        let tileDst = dst + t * groups * mr
        for r in 0..<mr {
            let row = t * mr + r
            var d = tileDst + r
            guard row < rows else {
                for _ in 0..<groups { d.pointee = 0; d += mr }
                continue
            }
            let src = a + row * lda + k0
            for g in 0..<full {
                d.pointee = src.loadUnaligned(fromByteOffset: 4 * g, as: UInt32.self) ^ flip
                d += mr
            }
            if full < groups {
                // The group straddling K: real bytes, then zeros; then any whole groups of padding.
                var w: UInt32 = 0
                let have = k - k0 - 4 * full
                for i in 0..<have { w |= UInt32(src.load(fromByteOffset: 4 * full + i, as: UInt8.self) ^ UInt8(truncatingIfNeeded: flip)) << (8 * i) }
                d.pointee = w
                d += mr
                for _ in (full + 1)..<groups { d.pointee = 0; d += mr }
            }
        }
    }
}

// MARK: - Kernels

/// What the kernel does with the tile of C it computed.
struct TileEnd {
    /// Add the tile to C's current values (a later K block) instead of overwriting them.
    var accumulate: Bool
    /// This is the last K block: add A' colTerm[n] - zb'[n] rowsum[m] before storing.
    var finish: Bool
}

@inline(__always) private func loadC(_ c: UnsafeMutablePointer<Int32>, _ mask: __mmask16) -> V512 {
    _mm512_maskz_loadu_epi32(mask, UnsafeRawPointer(c))
}

@inline(__always) private func storeC(_ c: UnsafeMutablePointer<Int32>, _ mask: __mmask16, _ v: V512) {
    if mask == 0xFFFF { _mm512_storeu_si512(UnsafeMutableRawPointer(c), v) } else { _mm512_mask_storeu_epi32(UnsafeMutableRawPointer(c), mask, v) }
}

/// The 6 x 64 microkernel: C[0..<rows, 0..<cols] (row stride ldc) = sum over `groups` groups of the packed
/// A tile `a` times the packed B micro-panel `b`, plus the end-of-K corrections when `end.finish`.
@inline(__always) private func kernel6x64(_ a: UnsafePointer<UInt32>, _ b: UnsafeRawPointer, groups: Int,
                                          _ c: UnsafeMutablePointer<Int32>, ldc: Int, rows: Int, cols: Int, end: TileEnd,
                                          aPrime: Int32, colTerm: UnsafePointer<Int32>, zbPrime: UnsafePointer<Int32>?,
                                          rowSums: UnsafePointer<Int32>) {
    let z = _mm512_setzero_si512()
    var c00 = z, c01 = z, c02 = z, c03 = z
    var c10 = z, c11 = z, c12 = z, c13 = z
    var c20 = z, c21 = z, c22 = z, c23 = z
    var c30 = z, c31 = z, c32 = z, c33 = z
    var c40 = z, c41 = z, c42 = z, c43 = z
    var c50 = z, c51 = z, c52 = z, c53 = z
    var pa = a, pb = b
    for _ in 0..<groups {
        let b0 = _mm512_load_si512(pb), b1 = _mm512_load_si512(pb + 64)
        let b2 = _mm512_load_si512(pb + 128), b3 = _mm512_load_si512(pb + 192)
        var x = _mm512_set1_epi32(Int32(bitPattern: pa[0]))
        c00 = _mm512_dpbusd_epi32(c00, x, b0); c01 = _mm512_dpbusd_epi32(c01, x, b1)
        c02 = _mm512_dpbusd_epi32(c02, x, b2); c03 = _mm512_dpbusd_epi32(c03, x, b3)
        x = _mm512_set1_epi32(Int32(bitPattern: pa[1]))
        c10 = _mm512_dpbusd_epi32(c10, x, b0); c11 = _mm512_dpbusd_epi32(c11, x, b1)
        c12 = _mm512_dpbusd_epi32(c12, x, b2); c13 = _mm512_dpbusd_epi32(c13, x, b3)
        x = _mm512_set1_epi32(Int32(bitPattern: pa[2]))
        c20 = _mm512_dpbusd_epi32(c20, x, b0); c21 = _mm512_dpbusd_epi32(c21, x, b1)
        c22 = _mm512_dpbusd_epi32(c22, x, b2); c23 = _mm512_dpbusd_epi32(c23, x, b3)
        x = _mm512_set1_epi32(Int32(bitPattern: pa[3]))
        c30 = _mm512_dpbusd_epi32(c30, x, b0); c31 = _mm512_dpbusd_epi32(c31, x, b1)
        c32 = _mm512_dpbusd_epi32(c32, x, b2); c33 = _mm512_dpbusd_epi32(c33, x, b3)
        x = _mm512_set1_epi32(Int32(bitPattern: pa[4]))
        c40 = _mm512_dpbusd_epi32(c40, x, b0); c41 = _mm512_dpbusd_epi32(c41, x, b1)
        c42 = _mm512_dpbusd_epi32(c42, x, b2); c43 = _mm512_dpbusd_epi32(c43, x, b3)
        x = _mm512_set1_epi32(Int32(bitPattern: pa[5]))
        c50 = _mm512_dpbusd_epi32(c50, x, b0); c51 = _mm512_dpbusd_epi32(c51, x, b1)
        c52 = _mm512_dpbusd_epi32(c52, x, b2); c53 = _mm512_dpbusd_epi32(c53, x, b3)
        pa += 6
        pb += 256
    }
    let m0 = colMask(cols, 0), m1 = colMask(cols, 1), m2 = colMask(cols, 2), m3 = colMask(cols, 3)
    // Per-column correction A' colTerm[n], and zb'[n] for the row-sum term.
    var t0 = z, t1 = z, t2 = z, t3 = z, y0 = z, y1 = z, y2 = z, y3 = z
    if end.finish {
        let ap = _mm512_set1_epi32(aPrime), ct = UnsafeRawPointer(colTerm)
        t0 = _mm512_mullo_epi32(ap, _mm512_loadu_si512(ct)); t1 = _mm512_mullo_epi32(ap, _mm512_loadu_si512(ct + 64))
        t2 = _mm512_mullo_epi32(ap, _mm512_loadu_si512(ct + 128)); t3 = _mm512_mullo_epi32(ap, _mm512_loadu_si512(ct + 192))
        if let zbPrime {
            let zp = UnsafeRawPointer(zbPrime)
            y0 = _mm512_loadu_si512(zp); y1 = _mm512_loadu_si512(zp + 64)
            y2 = _mm512_loadu_si512(zp + 128); y3 = _mm512_loadu_si512(zp + 192)
        }
    }
    @inline(__always) func row(_ r: Int, _ v0: V512, _ v1: V512, _ v2: V512, _ v3: V512) {
        guard r < rows else { return }
        var v0 = v0, v1 = v1, v2 = v2, v3 = v3
        let cr = c + r * ldc
        if end.accumulate {
            v0 = _mm512_add_epi32(v0, loadC(cr, m0)); v1 = _mm512_add_epi32(v1, loadC(cr + 16, m1))
            v2 = _mm512_add_epi32(v2, loadC(cr + 32, m2)); v3 = _mm512_add_epi32(v3, loadC(cr + 48, m3))
        }
        if end.finish {
            v0 = _mm512_add_epi32(v0, t0); v1 = _mm512_add_epi32(v1, t1)
            v2 = _mm512_add_epi32(v2, t2); v3 = _mm512_add_epi32(v3, t3)
            if zbPrime != nil {
                let rs = _mm512_set1_epi32(0 &- rowSums[r])
                v0 = _mm512_add_epi32(v0, _mm512_mullo_epi32(rs, y0)); v1 = _mm512_add_epi32(v1, _mm512_mullo_epi32(rs, y1))
                v2 = _mm512_add_epi32(v2, _mm512_mullo_epi32(rs, y2)); v3 = _mm512_add_epi32(v3, _mm512_mullo_epi32(rs, y3))
            }
        }
        storeC(cr, m0, v0); storeC(cr + 16, m1, v1); storeC(cr + 32, m2, v2); storeC(cr + 48, m3, v3)
    }
    row(0, c00, c01, c02, c03)
    row(1, c10, c11, c12, c13)
    row(2, c20, c21, c22, c23)
    row(3, c30, c31, c32, c33)
    row(4, c40, c41, c42, c43)
    row(5, c50, c51, c52, c53)
}

/// Lanes of 16-column vector `j` that lie inside `cols` columns.
@inline(__always) private func colMask(_ cols: Int, _ j: Int) -> __mmask16 {
    let have = cols - 16 * j
    return have >= 16 ? 0xFFFF : have <= 0 ? 0 : __mmask16((1 << have) - 1)
}

/// One row of A (packed a_u, `groups` UInt32s) times one 64-column panel of B, with the corrections: the
/// GEMV case, where streaming B once from memory is the whole cost. One group per iteration: unrolling to
/// two (eight accumulators) let LLVM issue each 512-byte step's loads in descending address order, which
/// halved the DRAM stream rate on Zen 4 (10 vs 24 GB/s per core, measured); this loop matches a plain read.
@inline(__always) private func kernel1x64(_ a: UnsafePointer<UInt32>, _ b: UnsafeRawPointer, groups: Int,
                                          _ c: UnsafeMutablePointer<Int32>, cols: Int, aPrime: Int32,
                                          colTerm: UnsafePointer<Int32>, zbPrime: UnsafePointer<Int32>?, rowSum: Int32) {
    let z = _mm512_setzero_si512()
    var p0 = z, p1 = z, p2 = z, p3 = z
    var pb = b
    for g in 0..<groups {
        let x = _mm512_set1_epi32(Int32(bitPattern: a[g]))
        p0 = _mm512_dpbusd_epi32(p0, x, _mm512_load_si512(pb)); p1 = _mm512_dpbusd_epi32(p1, x, _mm512_load_si512(pb + 64))
        p2 = _mm512_dpbusd_epi32(p2, x, _mm512_load_si512(pb + 128)); p3 = _mm512_dpbusd_epi32(p3, x, _mm512_load_si512(pb + 192))
        pb += 256
    }
    let ap = _mm512_set1_epi32(aPrime), rs = _mm512_set1_epi32(0 &- rowSum)
    let ct = UnsafeRawPointer(colTerm)
    @inline(__always) func out(_ j: Int, _ p: V512) {
        var v = _mm512_add_epi32(p, _mm512_mullo_epi32(ap, _mm512_loadu_si512(ct + 64 * j)))
        if let zbPrime { v = _mm512_add_epi32(v, _mm512_mullo_epi32(rs, _mm512_loadu_si512(UnsafeRawPointer(zbPrime) + 64 * j))) }
        storeC(c + 16 * j, colMask(cols, j), v)
    }
    out(0, p0); out(1, p1); out(2, p2); out(3, p3)
}

// MARK: - Driver

/// Bytes of scratch (64-byte aligned) vnniGemm needs for a block of `rows` rows and depth K.
public func vnniScratchBytes(rows: Int, k: Int) -> Int {
    let groups = vnniGroups(k)
    if rows <= 1 { return max(groups, 1) * 4 }
    let tiles = (min(VNNITile.mc, rows) + VNNITile.mr - 1) / VNNITile.mr
    return tiles * VNNITile.mr * (max(min(VNNITile.kc4, groups), 1) * 4 + 4)
}

/// Computes C[m0..<m1, n0..<n1] (C row stride ldc; n0 a multiple of 64) for A [M, K] (row stride lda, int8
/// when `signedA`, else uint8) and B packed by vnniPackB. aPrime = (128 if signedA else 0) + za;
/// colTerm and zbPrime (nil when all zero) hold K zb'[n] - colsum(b_s)[n] and zb'[n] for the padded columns.
/// `scratch` holds vnniScratchBytes(rows: m1 - m0, k: k) bytes, 64-byte aligned.
public func vnniGemm(a: UnsafeRawPointer, lda: Int, signedA: Bool, aPrime: Int32, m0: Int, m1: Int,
                     b: UnsafeRawPointer, k: Int, n0: Int, n1: Int, colTerm: UnsafePointer<Int32>,
                     zbPrime: UnsafePointer<Int32>?, c: UnsafeMutablePointer<Int32>, ldc: Int,
                     scratch: UnsafeMutableRawPointer) {
    guard m1 > m0 && n1 > n0 else { return }
    precondition(n0 % VNNITile.nr == 0)
    let groups = vnniGroups(k)
    let flip: UInt32 = signedA ? 0x8080_8080 : 0
    let vflip = _mm512_set1_epi32(Int32(bitPattern: flip))
    let mr = VNNITile.mr, nr = VNNITile.nr
    let p0 = n0 / nr, p1 = vnniPanels(n1)
    let panelBytes = groups * 256

    if m1 - m0 == 1 {
        // GEMV: one padded a_u row, then each panel of B streamed once.
        let buf = scratch.bindMemory(to: UInt32.self, capacity: max(groups, 1))
        let row = a + m0 * lda
        packA(row, lda: lda, rows: 1, k: k, k0: 0, groups: groups, flip: flip, mr: 1, buf)
        let rs = rowSum(row, k, vflip)
        for p in p0..<p1 {
            let col = p * nr
            kernel1x64(buf, b + p * panelBytes, groups: groups, c + m0 * ldc + col, cols: min(nr, n1 - col),
                       aPrime: aPrime, colTerm: colTerm + col, zbPrime: zbPrime.map { $0 + col }, rowSum: rs)
        }
        return
    }

    let mc = VNNITile.mc, kc4 = max(VNNITile.kc4, 1)
    let tilesMax = (min(mc, m1 - m0) + mr - 1) / mr
    let aBytes = tilesMax * mr * max(min(kc4, groups), 1) * 4
    let apack = scratch.bindMemory(to: UInt32.self, capacity: aBytes / 4)
    let sums = (scratch + aBytes).bindMemory(to: Int32.self, capacity: tilesMax * mr)

    for mb in stride(from: m0, to: m1, by: mc) {
        let rows = min(mc, m1 - mb)
        let tiles = (rows + mr - 1) / mr
        let aBlock = a + mb * lda
        for r in 0..<rows { sums[r] = rowSum(aBlock + r * lda, k, vflip) }
        if groups == 0 {
            // K = 0: only the (zero) corrections remain; C = 0.
            for r in 0..<rows { (c + (mb + r) * ldc + n0).initialize(repeating: 0, count: n1 - n0) }
            continue
        }
        for g0 in stride(from: 0, to: groups, by: kc4) {
            let glen = min(kc4, groups - g0)
            packA(aBlock, lda: lda, rows: rows, k: k, k0: 4 * g0, groups: glen, flip: flip, mr: mr, apack)
            let end = TileEnd(accumulate: g0 > 0, finish: g0 + glen == groups)
            for p in p0..<p1 {
                let col = p * nr
                let cols = min(nr, n1 - col)
                let bp = b + p * panelBytes + g0 * 256
                for t in 0..<tiles {
                    kernel6x64(apack + t * glen * mr, bp, groups: glen, c + (mb + t * mr) * ldc + col, ldc: ldc,
                               rows: min(mr, rows - t * mr), cols: cols, end: end, aPrime: aPrime, colTerm: colTerm + col,
                               zbPrime: zbPrime.map { $0 + col }, rowSums: sums + t * mr)
                }
            }
        }
    }
}
#endif
