// OCP Microscaling (MX) v1.0 block formats (swiftquant.h, "OCP Microscaling (MX) block formats"): blocks of
// 32 consecutive elements along one axis share an E8M0 scale 2^(code - 127); each element is an FP8 / FP6 /
// FP4 code (Formats/FloatFormat.swift) or an int8 with an implicit 2^-6. This file holds the formats, the
// reference block kernels every fast record must match bit for bit (Tests/SwiftQuantTests/MXTests.swift),
// and the drivers over (outer, n along the axis, inner) layouts, threaded over blocks.
//
// Quantize (OCP MX v1.0 §6.3), per block of values V_i:
//   amax = max |V_i|;  E = the biased float32 exponent field of amax (0 for zero and subnormals)
//   shared exponent X = max(floor(log2 amax) - emax_elem, -127) = max(E - 127 - emax_elem, -127)
//   scale code = X + 127 = max(E - emax_elem, 0)  (never above 254: E <= 254 for finite amax; an all-zero
//                block therefore gets code 0); NaN or ±inf anywhere in the block: code 255, elements 0
//   P_i = encode(V_i * 2^-X), round to nearest even, saturating to ±max (V * 2^-X < 2^(emax+1), which can
//         round above the element's largest value: it becomes ±max, as §6.3 says)
//   MXINT8: P_i = clamp(round_half_even(V_i * 2^-X * 64), -127, 127)
// No double rounding: 2^-X is a power of two in [2^-127, 2^127], exactly representable in float32 (2^-127 as
// a subnormal), so V * 2^-X is the one correctly rounded product, and it is exact whenever the result is a
// float32 normal. It rounds only when |V * 2^-X| < 2^-126 (a float32 subnormal result); the exact value and
// the rounded one are then both far below half the smallest element step (E5M2's 2^-16 is the smallest;
// MXINT8's is 2^-6), so both encode to ±0 with the same sign. The MXINT8 factor 64 is a second exact step
// (it scales a float32 that is normal, or one whose integer rounding is 0 anyway).
// Dequantize: value(P_i) * 2^(code - 127), one float32 multiply of two exact operands, hence the correctly
// rounded product (subnormal results included, convention 5's IEEE environment); code 255 gives NaN.

#if arch(x86_64)
import _SwiftQuantAVX2
#endif

/// The one MX-format enum: public as QuantMXFormat, MXFormat inside the core.
typealias MXFormat = QuantMXFormat

/// An MX format: 32-element blocks sharing an E8M0 scale; FP8 / FP6 / FP4 or int8 elements. The raw
/// values are the header's sq_mx_format codes.
public enum QuantMXFormat: Int32, CaseIterable, Sendable {
    case fp8E4M3 = 0, fp8E5M2 = 1, fp6E3M2 = 2, fp6E2M3 = 3, fp4 = 4, int8 = 5

    /// Elements per block (SQ_MX_BLOCK_SIZE); the last block along the axis may be shorter.
    static let blockSize = 32
    /// The E8M0 NaN scale code.
    static let nanScale: UInt8 = 255

    init(checking raw: Int32, argument: String) throws(SQError) {
        guard let f = MXFormat(rawValue: raw) else {
            throw SQError(.invalidArgument, "\(argument): unknown MX format \(raw) (expected 0 SQ_MX_FP8_E4M3 .. 5 SQ_MX_INT8)")
        }
        self = f
    }

    var name: String {
        switch self {
        case .fp8E4M3: "mxfp8_e4m3"
        case .fp8E5M2: "mxfp8_e5m2"
        case .fp6E3M2: "mxfp6_e3m2"
        case .fp6E2M3: "mxfp6_e2m3"
        case .fp4: "mxfp4"
        case .int8: "mxint8"
        }
    }

    /// The element's float format; nil for MXINT8.
    var element: FloatFormat? {
        switch self {
        case .fp8E4M3: .e4m3fn
        case .fp8E5M2: .e5m2
        case .fp6E3M2: .e3m2
        case .fp6E2M3: .e2m3
        case .fp4: .e2m1
        case .int8: nil
        }
    }

    /// OCP's emax_elem: E4M3 8, E5M2 15, E3M2 4, E2M3 2, E2M1 2, INT8 0 (1.111111b * 2^0 is its largest).
    var emax: Int { element?.maxExponent ?? 0 }

    /// Element codes are 0 ..< codeLimit (FP6: 64, FP4: 16; every byte for FP8 and int8).
    var codeLimit: Int { element.map { 1 << $0.bits } ?? 256 }

    /// The value of every byte as an element code (codes at or above codeLimit: 0, never read).
    var decodeTable: [Float] {
        if let e = element {
            let t = e.decodeTable()
            return (0..<256).map { $0 < t.count ? t[$0] : 0 }
        }
        return (0..<256).map { Float(Int8(truncatingIfNeeded: $0)) * 0x1p-6 }
    }
}

/// Decode tables of every MX format, built once.
enum MXTables {
    static let tables: [[Float]] = MXFormat.allCases.map { $0.decodeTable }
    static func table(_ f: MXFormat) -> [Float] { tables[Int(f.rawValue)] }
}

/// 2^e as a float32, e in [-127, 127] (2^-127 is the subnormal 0x00400000).
@inline(__always)
func mxPow2(_ e: Int) -> Float { e >= -126 ? Float(bitPattern: UInt32(e + 127) << 23) : Float(bitPattern: 0x0040_0000) }

/// The scale code of a block from the largest |x| bit pattern in it (see the top of the file).
@inline(__always)
func mxScaleCode(amaxBits: UInt32, emax: Int) -> UInt8 {
    if amaxBits >= 0x7F80_0000 { return MXFormat.nanScale }  // NaN or ±inf
    return UInt8(Swift.max(Int(amaxBits >> 23) - emax, 0))
}

// MARK: - Reference block kernels

/// Reference quantization of one block of `count` (1 ... 32) elements at stride `stride`; the codes go to
/// e at the same stride. Returns the scale code.
@inline(__always)
func mxQuantizeBlockReference(_ x: UnsafePointer<Float>, stride: Int, count: Int, format: MXFormat,
                              _ e: UnsafeMutablePointer<UInt8>) -> UInt8 {
    var amax: UInt32 = 0
    for i in 0..<count { amax = Swift.max(amax, x[i * stride].bitPattern & 0x7FFF_FFFF) }
    let code = mxScaleCode(amaxBits: amax, emax: format.emax)
    if code == MXFormat.nanScale {
        for i in 0..<count { e[i * stride] = 0 }
        return code
    }
    let mul = mxPow2(127 - Int(code))  // 2^-X
    if let f = format.element {
        for i in 0..<count { e[i * stride] = f.encode(x[i * stride] * mul, saturate: true)! }
    } else {
        for i in 0..<count {
            let q = Swift.min(Swift.max((x[i * stride] * mul * 64).rounded(.toNearestOrEven), -127), 127)
            e[i * stride] = UInt8(bitPattern: Int8(q))
        }
    }
    return code
}

/// Reference dequantization of one block; returns the offset (in elements) of the first code at or above
/// the format's code limit, or nil.
@inline(__always)
func mxDequantizeBlockReference(_ e: UnsafePointer<UInt8>, stride: Int, count: Int, scale: UInt8, format: MXFormat,
                                table: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) -> Int? {
    let limit = format.codeLimit
    for i in 0..<count where Int(e[i * stride]) >= limit { return i }
    if scale == MXFormat.nanScale {
        for i in 0..<count { y[i * stride] = .nan }
        return nil
    }
    let mul = mxPow2(Int(scale) - 127)
    for i in 0..<count { y[i * stride] = table[Int(e[i * stride])] * mul }
    return nil
}

// MARK: - Kernel records (contiguous runs of whole blocks)

/// Quantizes `blocks` whole, contiguous 32-element blocks: x[0 ..< 32 blocks] -> e (same length), s[0 ..< blocks].
struct MXQuantizeKernel: KernelRecord {
    let name: String
    let isa: ISA
    let run: (_ x: UnsafePointer<Float>, _ e: UnsafeMutablePointer<UInt8>, _ s: UnsafeMutablePointer<UInt8>,
              _ blocks: Int, _ format: MXFormat) -> Void
    /// Blocks along a strided axis: `rows` rows `stride` apart, one block per column of `columns`; does a
    /// prefix of the columns and returns its length (the driver finishes with the reference). nil: none.
    var columns: ((_ x: UnsafePointer<Float>, _ e: UnsafeMutablePointer<UInt8>, _ s: UnsafeMutablePointer<UInt8>,
                   _ rows: Int, _ columns: Int, _ stride: Int, _ format: MXFormat) -> Int)? = nil
}

/// Dequantizes `blocks` whole, contiguous blocks; returns the offset of the first out-of-range code, or nil.
struct MXDequantizeKernel: KernelRecord {
    let name: String
    let isa: ISA
    let run: (_ e: UnsafePointer<UInt8>, _ s: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, _ blocks: Int,
              _ format: MXFormat) -> Int?
}

func mxQuantizeReferenceKernel(_ x: UnsafePointer<Float>, _ e: UnsafeMutablePointer<UInt8>, _ s: UnsafeMutablePointer<UInt8>,
                               _ blocks: Int, _ format: MXFormat) {
    for b in 0..<blocks {
        s[b] = mxQuantizeBlockReference(x + 32 * b, stride: 1, count: 32, format: format, e + 32 * b)
    }
}

func mxDequantizeReferenceKernel(_ e: UnsafePointer<UInt8>, _ s: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>,
                                 _ blocks: Int, _ format: MXFormat) -> Int? {
    MXTables.table(format).withUnsafeBufferPointer { t in
        for b in 0..<blocks {
            if let bad = mxDequantizeBlockReference(e + 32 * b, stride: 1, count: 32, scale: s[b], format: format,
                                                    table: t.baseAddress!, y + 32 * b) {
                return 32 * b + bad
            }
        }
        return nil
    }
}

#if arch(x86_64)
/// The AVX2 module's view of an MX format (it cannot see FloatFormat).
func mxAVX2Element(_ f: MXFormat) -> MXElementAVX2 {
    guard let e = f.element else { return MXElementAVX2(isInt8: true, mantissaBits: 0, minExponent: 0, maxValue: 0, bits: 8, emax: 0) }
    return MXElementAVX2(isInt8: false, mantissaBits: Int32(e.mantissaBits), minExponent: Int32(e.minExponent),
                         maxValue: e.maxValue, bits: Int32(e.bits), emax: Int32(e.maxExponent))
}

func mxQuantizeAVX2Kernel(_ x: UnsafePointer<Float>, _ e: UnsafeMutablePointer<UInt8>, _ s: UnsafeMutablePointer<UInt8>,
                          _ blocks: Int, _ format: MXFormat) {
    mxQuantizeAVX2(x, e, s, blocks: blocks, mxAVX2Element(format))
}

func mxQuantizeColumnsAVX2Kernel(_ x: UnsafePointer<Float>, _ e: UnsafeMutablePointer<UInt8>, _ s: UnsafeMutablePointer<UInt8>,
                                 _ rows: Int, _ columns: Int, _ stride: Int, _ format: MXFormat) -> Int {
    mxQuantizeColumnsAVX2(x, e, s, rows: rows, columns: columns, stride: stride, mxAVX2Element(format))
}

func mxDequantizeAVX2Kernel(_ e: UnsafePointer<UInt8>, _ s: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>,
                            _ blocks: Int, _ format: MXFormat) -> Int? {
    MXTables.table(format).withUnsafeBufferPointer { t in
        mxDequantizeAVX2(e, s, y, blocks: blocks, table: t.baseAddress!, codeLimit: Int32(format.codeLimit))
    }
}
#endif

// MARK: - Drivers

/// A shape seen as (outer, n, inner) around the block axis, with its block and scale counts.
struct MXLayout {
    let outer: Int, n: Int, inner: Int
    /// Blocks along the axis, ceil(n / 32).
    let nb: Int
    let count: Int
    /// outer * nb * inner: the scales' element count.
    let scaleCount: Int
    /// The scales' shape: the shape with dimension `axis` replaced by nb.
    let scaleDims: [Int]

    init(_ shape: Shape, axis: Int, argument: String = "axis") throws(SQError) {
        guard shape.ndim > 0 else {
            throw SQError(.invalidArgument, "\(argument): a 0-dimensional x has no axis to block along (reshape it to [1])")
        }
        guard axis >= 0 && axis < shape.ndim else {
            throw SQError(.invalidArgument, "\(argument) = \(axis) is outside [0, \(shape.ndim - 1)] for ndim \(shape.ndim)")
        }
        outer = shape.product(0..<axis)
        n = shape.dims[axis]
        inner = shape.product((axis + 1)..<shape.ndim)
        nb = Checked.ceilDiv(n, MXFormat.blockSize)
        count = shape.count
        var dims = shape.dims
        dims[axis] = nb
        scaleDims = dims
        scaleCount = try Checked.mul(try Checked.mul(outer, nb, "scale count"), inner, "scale count")
    }
}

enum MX {
    /// Elements per thread-pool task (large enough that scheduling costs nothing, small enough to balance).
    static let taskElements = 1 << 16

    /// The pieces of work: with inner == 1, flat blocks (row * nb + k); otherwise (slab, column chunk) pairs,
    /// a slab being one block row (o, k) over all inner columns. Returns (pieces, pieces per task, columns
    /// per chunk).
    private static func plan(_ L: MXLayout) -> (pieces: Int, perTask: Int, columns: Int) {
        if L.inner == 1 { return (L.outer * L.nb, Swift.max(1, taskElements / 32), 1) }
        let columns = Swift.min(L.inner, 4096)
        let chunks = Checked.ceilDiv(L.inner, columns)
        return (L.outer * L.nb * chunks, Swift.max(1, taskElements / (32 * columns)), columns)
    }

    private static func run(_ tasks: Int, _ body: @escaping (Int) -> Void) {
        if tasks == 1 { body(0) } else { ThreadPool.shared.parallelFor(tasks, body) }
    }

    /// Quantizes x (layout L) into e (one code per element) and s (L.scaleCount codes).
    static func quantize(_ x: UnsafePointer<Float>, _ L: MXLayout, format: MXFormat, _ e: UnsafeMutablePointer<UInt8>,
                         _ s: UnsafeMutablePointer<UInt8>, kernel: MXQuantizeKernel = Registry.activeMXQuantize) {
        guard L.count > 0 else { return }
        let (pieces, perTask, columns) = plan(L)
        let tasks = Checked.ceilDiv(pieces, perTask)
        let n = L.n, nb = L.nb, inner = L.inner, full = n / 32
        run(tasks) { t in
            let end = Swift.min(pieces, (t + 1) * perTask)
            var b = t * perTask
            if inner == 1 {
                while b < end {
                    let row = b / nb, k = b - row * nb
                    let fullEnd = Swift.min(end, row * nb + full)
                    let at = row * n + 32 * k
                    if b < fullEnd {
                        kernel.run(x + at, e + at, s + b, fullEnd - b, format)
                        b = fullEnd
                    } else {
                        s[b] = mxQuantizeBlockReference(x + at, stride: 1, count: n - 32 * k, format: format, e + at)
                        b += 1
                    }
                }
                return
            }
            let chunks = Checked.ceilDiv(inner, columns)
            for p in b..<end {
                let slab = p / chunks, c = p - slab * chunks
                let o = slab / nb, k = slab - o * nb
                let rows = Swift.min(32, n - 32 * k)
                let base = (o * n + 32 * k) * inner, sbase = slab * inner
                var j = c * columns
                let jEnd = Swift.min(inner, (c + 1) * columns)
                if let fast = kernel.columns {
                    j += fast(x + base + j, e + base + j, s + sbase + j, rows, jEnd - j, inner, format)
                }
                while j < jEnd {
                    s[sbase + j] = mxQuantizeBlockReference(x + base + j, stride: inner, count: rows, format: format, e + base + j)
                    j += 1
                }
            }
        }
    }

    /// Dequantizes e and s (layout L) into y. Throws SQ_ERROR_OUT_OF_RANGE naming the first element (in C
    /// order) whose code is outside the format; y is then unspecified.
    static func dequantize(_ e: UnsafePointer<UInt8>, _ s: UnsafePointer<UInt8>, _ L: MXLayout, format: MXFormat,
                           _ y: UnsafeMutablePointer<Float>, kernel: MXDequantizeKernel = Registry.activeMXDequantize,
                           argument: String = "elements") throws(SQError) {
        guard L.count > 0 else { return }
        let (pieces, perTask, columns) = plan(L)
        let tasks = Checked.ceilDiv(pieces, perTask)
        let n = L.n, nb = L.nb, inner = L.inner, full = n / 32
        // Each task's first bad flat index (Int.max: none); the smallest wins, whatever the thread count.
        let bad = UnsafeMutablePointer<Int>.allocate(capacity: tasks)
        defer { bad.deallocate() }
        bad.initialize(repeating: Int.max, count: tasks)
        MXTables.table(format).withUnsafeBufferPointer { tb in
            let table = tb.baseAddress!
            run(tasks) { t in
                let end = Swift.min(pieces, (t + 1) * perTask)
                var b = t * perTask
                if inner == 1 {
                    while b < end {
                        let row = b / nb, k = b - row * nb
                        let fullEnd = Swift.min(end, row * nb + full)
                        let at = row * n + 32 * k
                        if b < fullEnd {
                            if let i = kernel.run(e + at, s + b, y + at, fullEnd - b, format) { bad[t] = at + i; return }
                            b = fullEnd
                        } else {
                            if let i = mxDequantizeBlockReference(e + at, stride: 1, count: n - 32 * k, scale: s[b], format: format,
                                                                  table: table, y + at) {
                                bad[t] = at + i
                                return
                            }
                            b += 1
                        }
                    }
                    return
                }
                let chunks = Checked.ceilDiv(inner, columns)
                for p in b..<end {
                    let slab = p / chunks, c = p - slab * chunks
                    let o = slab / nb, k = slab - o * nb
                    let rows = Swift.min(32, n - 32 * k)
                    let base = (o * n + 32 * k) * inner, sbase = slab * inner
                    for j in (c * columns)..<Swift.min(inner, (c + 1) * columns) {
                        if let i = mxDequantizeBlockReference(e + base + j, stride: inner, count: rows, scale: s[sbase + j],
                                                              format: format, table: table, y + base + j) {
                            bad[t] = Swift.min(bad[t], base + j + i * inner)
                        }
                    }
                }
            }
        }
        var first = Int.max
        for t in 0..<tasks { first = Swift.min(first, bad[t]) }
        if first != Int.max {
            throw SQError(.outOfRange, "\(argument): element \(first) (flat index) is code \(e[first]), outside \(format.name)'s element codes [0, \(format.codeLimit - 1)]")
        }
    }
}
