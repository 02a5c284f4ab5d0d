// The int8 GEMM records of the kernel registry (Registry.swift), each binding the packed-B layout, the
// kernel that reads it and its tile sizes, so they cannot drift apart (after XNNPACK's gemm-config).
// PackedMatrix packs B with a record and remembers it; the driver (MatMul/MatMul.swift) runs that record's
// kernel on output blocks.

#if arch(x86_64)
import _SwiftQuantVNNI
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// B as one record lays it out, owned by the PackedMatrix holding it (released with `deallocate`).
struct PackedLayout {
    /// Kernel-specific bytes, 64-byte aligned.
    let data: UnsafeMutableRawPointer
    /// VNNI: per packed column, K zb'[n] - colsum(b_s)[n] (GemmVNNI.swift gives the algebra).
    let columnTerms: UnsafeMutablePointer<Int32>?
    /// VNNI: per packed column, zb'[n] = zb[n] - cb, in columnTerms' allocation; nil when every zb' is 0
    /// (int8 B with zb = 0: the kernel then skips the row-sum term).
    let zbPrime: UnsafeMutablePointer<Int32>?

    func deallocate() {
        free(data)
        free(columnTerms)
    }
}

/// One product for a kernel: a batch's A [M, K] (row stride K) with its zero point, a packed B [K, N], and
/// C [M, N] (row stride N).
struct GemmOperands {
    let a: UnsafeRawPointer
    let aDType: DType
    let za: Int32
    let b: PackedMatrix
    let c: UnsafeMutablePointer<Int32>
}

struct GemmConfig: KernelRecord {
    let isa: ISA
    let name: String
    /// Rows per register tile: row blocks given to threads start at multiples of it.
    let mr: Int
    /// Columns per packed panel: column blocks given to threads start at multiples of it.
    let nr: Int
    /// Below this many multiply-adds a product runs on the calling thread alone (waking workers costs more).
    let minParallelMACs: Double
    /// Lays out B [K, N] (row stride N) with zero points (one, or one per column) for `kernel`.
    let pack: (_ b: UnsafeRawPointer, _ dtype: DType, _ k: Int, _ n: Int, _ zeroPoints: [Int32]) throws(SQError) -> PackedLayout
    /// Scratch bytes `kernel` needs for a block of `rows` rows at depth K.
    let scratchBytes: (_ rows: Int, _ k: Int) -> Int
    /// Computes C[rows, cols] exactly (wrapping int32; the caller proved the result fits). `cols` starts at
    /// a multiple of nr; `scratch` is 64-byte aligned with scratchBytes(rows.count, K) bytes.
    let kernel: (_ op: GemmOperands, _ rows: Range<Int>, _ cols: Range<Int>, _ scratch: UnsafeMutableRawPointer) -> Void
    /// The path's own requantize epilogue, if any, bit-identical to the core's scalar one; it returns false
    /// for a rounding rule it does not handle (the core's loop then runs).
    let requantize: RequantizeKernel?
}

/// out[i * ldo + j] = saturate(round(Double(c[i * ldc + j]) * mult[j] + z)) to [lo, hi], as bytes, for
/// `rows` x `cols` elements; false if the rounding rule is not supported.
typealias RequantizeKernel = (_ c: UnsafePointer<Int32>, _ ldc: Int, _ rows: Int, _ cols: Int, _ mult: UnsafePointer<Double>,
                              _ z: Double, _ lo: Double, _ hi: Double, _ rounding: Rounding,
                              _ out: UnsafeMutableRawPointer, _ ldo: Int) -> Bool

/// 64-byte aligned memory for packed data (free() releases it).
func alignedAllocate(_ bytes: Int, _ what: String) throws(SQError) -> UnsafeMutableRawPointer {
    var p: UnsafeMutableRawPointer? = nil
    guard posix_memalign(&p, 64, Swift.max(bytes, 64)) == 0, let p else {
        throw SQError(.outOfMemory, "cannot allocate \(bytes) bytes for \(what)")
    }
    return p
}

extension GemmConfig {
    /// Portable Swift: B - zb[n] as Int16, row-major (GemmReference.swift). The oracle for every other path.
    static let reference = GemmConfig(
        isa: .reference, name: "qx8-gemm-1x1-reference", mr: 1, nr: 1, minParallelMACs: 262_144,
        pack: packReference, scratchBytes: { _, _ in 0 },
        kernel: { op, rows, cols, _ in gemmReference(op, rows: rows, cols: cols) }, requantize: nil)

    #if arch(x86_64)
    /// AVX-512 VNNI: A as u8 times B as s8 with the shifts and zero points folded out (GemmVNNI.swift).
    static let vnni = GemmConfig(
        isa: .vnni, name: "qu8s8-gemm-6x64c4-avx512vnni", mr: VNNITile.mr, nr: VNNITile.nr, minParallelMACs: 4_194_304,
        pack: packVNNI, scratchBytes: { rows, k in vnniScratchBytes(rows: rows, k: k) },
        kernel: { op, rows, cols, scratch in
            let b = op.b, layout = b.layout
            let signedA = op.aDType == .int8
            vnniGemm(a: op.a, lda: b.k, signedA: signedA, aPrime: (signedA ? 128 : 0) &+ op.za,
                     m0: rows.lowerBound, m1: rows.upperBound, b: layout.data, k: b.k,
                     n0: cols.lowerBound, n1: cols.upperBound, colTerm: layout.columnTerms!,
                     zbPrime: layout.zbPrime, c: op.c, ldc: b.n, scratch: scratch)
        },
        requantize: { c, ldc, rows, cols, mult, z, lo, hi, rounding, out, ldo in
            guard let r = VNNIRounding(rawValue: rounding.rawValue) else { return false }
            vnniRequantize(c, ldc: ldc, rows: rows, cols: cols, mult: mult, z: z, lo: lo, hi: hi, rounding: r, out, ldo: ldo)
            return true
        })

    static let built: [GemmConfig] = [.reference, .vnni]
    #else
    static let built: [GemmConfig] = [.reference]
    #endif

    /// True when this CPU (and OS) can run the record's kernel.
    var isSupported: Bool { Dispatch.supported(isa, dispatch.features) }
}

private func packReference(_ b: UnsafeRawPointer, _ dtype: DType, _ k: Int, _ n: Int, _ zeroPoints: [Int32]) throws(SQError) -> PackedLayout {
    let raw = try alignedAllocate(try Checked.mul(k * n, MemoryLayout<Int16>.stride, "the packed matrix's bytes"), "the packed matrix")
    let data = raw.bindMemory(to: Int16.self, capacity: Swift.max(k * n, 1))
    guard k > 0 && n > 0 else { return PackedLayout(data: raw, columnTerms: nil, zbPrime: nil) }  // no loop over the other dimension
    func fill<T: FixedWidthInteger>(_ src: UnsafePointer<T>) {
        for kk in 0..<k {
            for j in 0..<n {
                let z = zeroPoints.count == 1 ? zeroPoints[0] : zeroPoints[j]
                data[kk * n + j] = Int16(truncatingIfNeeded: Int32(src[kk * n + j]) - z)
            }
        }
    }
    if dtype == .int8 { fill(b.assumingMemoryBound(to: Int8.self)) } else { fill(b.assumingMemoryBound(to: UInt8.self)) }
    return PackedLayout(data: raw, columnTerms: nil, zbPrime: nil)
}

#if arch(x86_64)
private func packVNNI(_ b: UnsafeRawPointer, _ dtype: DType, _ k: Int, _ n: Int, _ zeroPoints: [Int32]) throws(SQError) -> PackedLayout {
    let columns = vnniPanels(n) * VNNITile.nr
    // K and N are bounded (Shape), but the padded sizes are checked like every other size.
    let bytes = try Checked.mul(try Checked.mul(vnniPanels(n), vnniGroups(k), "the packed matrix"), 256, "the packed matrix")
    let termBytes = try Checked.mul(columns, 8, "the packed matrix's column terms")
    let data = try alignedAllocate(bytes, "the packed matrix")
    guard let terms = malloc(termBytes)?.bindMemory(to: Int32.self, capacity: 2 * columns) else {
        free(data)
        throw SQError(.outOfMemory, "cannot allocate \(2 * columns * 4) bytes for the packed matrix's column terms")
    }
    let shifted = terms + columns
    // Panels are independent: large matrices (unpacked B is packed on every call) pack on the pool.
    let panels = vnniPanels(n)
    let parts = k * n >= 1 << 20 ? Swift.min(panels, ThreadPool.shared.size) : 1
    let pack = { (i: Int) in
        vnniPackB(b, k: k, n: n, unsignedB: dtype == .uint8, data, colSums: terms,
                  panels: panels * i / parts..<panels * (i + 1) / parts)
    }
    if parts > 1 { ThreadPool.shared.parallelFor(parts, pack) } else { pack(0) }
    let cb: Int32 = dtype == .uint8 ? 128 : 0
    var anyShift = false
    for j in 0..<columns {
        let zbp = j < n ? (zeroPoints.count == 1 ? zeroPoints[0] : zeroPoints[j]) - cb : 0
        terms[j] = Int32(truncatingIfNeeded: k) &* zbp &- terms[j]
        shifted[j] = zbp
        anyShift = anyShift || zbp != 0
    }
    return PackedLayout(data: data, columnTerms: terms, zbPrime: anyShift ? shifted : nil)
}
#endif
