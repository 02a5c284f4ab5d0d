// llama.cpp's GGUF block formats Q4_0, Q4_1 and Q8_0 (swiftquant.h, "GGUF block formats (llama.cpp)"):
// blocks of 32 consecutive floats, each stored as a float16 scale (and Q4_1's float16 minimum) plus codes,
// bit-identical to ggml-quants.c's reference quantizers (quantize_row_q4_0_ref, ...) and dequantizers.
//
// Two paths per operation, which must agree byte for byte (Tests/SwiftQuantTests/GGUFTests.swift):
//   reference  `GGUF.referenceQuantize` / `referenceDequantize`: the C reference transcribed element by
//              element (the sequential `amax < |v|` and `v < min` scans), one thread;
//   fast       `GGUF.quantize` / `dequantize`: range kernels over whole blocks written so the compiler can
//              vectorize them (integer-key max scans, fixed 32/16-element loops), run on the thread pool.
// Both refuse what llama.cpp would turn into garbage: NaN or +-inf in x, a block whose float16 scale or
// minimum would overflow to inf (|d| or |m| >= 65520), and stored scales that are inf or NaN.

/// llama.cpp's GGUF block formats (blocks of 32 values), with ggml's type ids as raw values (swiftquant.h's sq_gguf_type).
public enum GGUFType: Int32, CaseIterable, Sendable {
    case q4_0 = 2, q4_1 = 3, q8_0 = 8

    init(checking raw: Int32, argument: String) throws(SQError) {
        guard let f = GGUFType(rawValue: raw) else {
            throw SQError(.invalidArgument, "\(argument): unknown GGUF type \(raw) (expected 2 SQ_GGUF_Q4_0, 3 SQ_GGUF_Q4_1 or 8 SQ_GGUF_Q8_0)")
        }
        self = f
    }

    /// "Q4_0", "Q4_1", "Q8_0".
    public var name: String {
        switch self {
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q8_0: return "Q8_0"
        }
    }

    /// Bytes of one block: float16 d (+ float16 m for Q4_1), then 16 bytes of nibbles or 32 int8 codes.
    public var blockBytes: Int {
        switch self {
        case .q4_0: return 18
        case .q4_1: return 20
        case .q8_0: return 34
        }
    }
}


enum GGUF {
    /// The one GGUF-type enum: public as GGUFType.
    typealias Format = GGUFType

    /// Values per block in every format.
    static let blockElements = 32

    /// A failure found while quantizing or dequantizing, as an index the caller turns into a message.
    enum Issue: Equatable {
        /// x[index] is NaN or +-inf (quantize; wins over any overflow).
        case nonfinite(index: Int)
        /// The block's d or m does not fit float16 (quantize).
        case overflow(block: Int)
        /// The block's stored d or m is inf or NaN (dequantize).
        case badScale(block: Int)

        /// Issues of disjoint ranges combine into the one a sequential scan would have reported first.
        static func first(_ a: Issue?, _ b: Issue?) -> Issue? {
            guard let a else { return b }
            guard let b else { return a }
            switch (a, b) {
            case let (.nonfinite(i), .nonfinite(j)): return .nonfinite(index: Swift.min(i, j))
            case (.nonfinite, _): return a
            case (_, .nonfinite): return b
            case let (.overflow(i), .overflow(j)): return .overflow(block: Swift.min(i, j))
            case let (.badScale(i), .badScale(j)): return .badScale(block: Swift.min(i, j))
            default: return a
            }
        }
    }
}

// MARK: - float16

extension GGUF {
    /// float32 -> float16 bits, rounding to nearest even (as the F16C instruction and NumPy's astype do),
    /// subnormals included; |f| >= 65520 becomes inf. NaN stays NaN (quiet, top mantissa bits kept).
    @inline(__always)
    static func halfBits(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let a = x & 0x7FFF_FFFF
        if a >= 0x7F80_0000 {  // inf or NaN
            return sign | 0x7C00 | (a > 0x7F80_0000 ? 0x0200 | UInt16(truncatingIfNeeded: (a >> 13) & 0x3FF) : 0)
        }
        if a >= 0x4780_0000 { return sign | 0x7C00 }  // >= 2^16: beyond the largest finite half after rounding
        if a >= 0x3880_0000 {
            // Normal half: rebias the exponent (127 -> 15), then round the 13 dropped mantissa bits to even;
            // a carry moves into the exponent, and 65520 ... 65536 carries into inf (0x7C00).
            let r = (a - 0x3800_0000) &+ 0x0FFF &+ ((a >> 13) & 1)
            return sign | UInt16(truncatingIfNeeded: r >> 13)
        }
        // Subnormal half: round |f| * 2^24 to an integer (1024 = the smallest normal, 0x0400, is right too).
        let e = Int(a >> 23)
        if e < 102 { return sign }  // |f| < 2^-25: rounds to 0 (2^-25 itself is a tie, to even: 0)
        let m = (a & 0x7F_FFFF) | 0x80_0000
        let shift = UInt32(126 - e)  // 14 ... 24: |f| * 2^24 = m / 2^shift
        let q = m >> shift, rem = m & ((1 << shift) - 1), halfway = UInt32(1) << (shift - 1)
        let up: UInt32 = (rem > halfway || (rem == halfway && q & 1 == 1)) ? 1 : 0
        return sign | UInt16(truncatingIfNeeded: q + up)
    }

    /// float16 bits -> float32, exact (every half is a float).
    @inline(__always)
    static func float(half h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let e = UInt32(h >> 10) & 0x1F, m = UInt32(h & 0x3FF)
        if e == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (m << 13)) }
        if e != 0 { return Float(bitPattern: sign | ((e + 112) << 23) | (m << 13)) }
        let v = Float(m) * 0x1p-24  // subnormal or zero: m * 2^-24, exact
        return sign != 0 ? -v : v
    }

    @inline(__always)
    static func halfIsFinite(_ h: UInt16) -> Bool { h & 0x7C00 != 0x7C00 }

    @inline(__always)
    static func loadHalf(_ p: UnsafePointer<UInt8>) -> UInt16 { UInt16(p[0]) | UInt16(p[1]) << 8 }

    @inline(__always)
    static func storeHalf(_ h: UInt16, _ p: UnsafeMutablePointer<UInt8>) {
        p[0] = UInt8(truncatingIfNeeded: h)
        p[1] = UInt8(truncatingIfNeeded: h >> 8)
    }
}

// MARK: - reference (the C reference, element by element)

extension GGUF {
    /// Quantizes `blocks` blocks of x into out (blocks * blockBytes bytes), one block after another exactly
    /// as ggml-quants.c does. Returns the first issue: the first non-finite element anywhere, else the
    /// first block whose d or m overflows float16 (the bytes are then unspecified).
    static func referenceQuantize(_ format: Format, _ x: UnsafePointer<Float>, blocks: Int,
                                  _ out: UnsafeMutablePointer<UInt8>) -> Issue? {
        var overflow: Issue? = nil
        for i in 0..<blocks {
            let v = x + i * blockElements
            for j in 0..<blockElements where !v[j].isFinite { return .nonfinite(index: i * blockElements + j) }
            let fits = referenceBlock(format, v, out + i * format.blockBytes)
            if !fits && overflow == nil { overflow = .overflow(block: i) }
        }
        return overflow
    }

    /// One block; false when its d or m does not fit float16.
    private static func referenceBlock(_ format: Format, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>) -> Bool {
        switch format {
        case .q4_0:
            var amax: Float = 0, max: Float = 0
            for j in 0..<32 where amax < abs(x[j]) {
                amax = abs(x[j])
                max = x[j]
            }
            let d = max / -8
            let id: Float = d != 0 ? 1 / d : 0
            let dh = halfBits(d)
            guard halfIsFinite(dh) else { return false }
            storeHalf(dh, y)
            for j in 0..<16 {
                y[2 + j] = referenceNibble(x[j] * id + 8.5, id) | referenceNibble(x[j + 16] * id + 8.5, id) << 4
            }
        case .q4_1:
            var min = Float.greatestFiniteMagnitude, max = -Float.greatestFiniteMagnitude
            for j in 0..<32 {
                if x[j] < min { min = x[j] }
                if x[j] > max { max = x[j] }
            }
            let d = (max - min) / 15
            let id: Float = d != 0 ? 1 / d : 0
            let dh = halfBits(d), mh = halfBits(min)
            guard halfIsFinite(dh) && halfIsFinite(mh) else { return false }
            storeHalf(dh, y)
            storeHalf(mh, y + 2)
            for j in 0..<16 {
                y[4 + j] = referenceNibble((x[j] - min) * id + 0.5, id) | referenceNibble((x[j + 16] - min) * id + 0.5, id) << 4
            }
        case .q8_0:
            var amax: Float = 0
            for j in 0..<32 { amax = Swift.max(amax, abs(x[j])) }
            let d = amax / 127
            let id: Float = d != 0 ? 1 / d : 0
            let dh = halfBits(d)
            guard halfIsFinite(dh) else { return false }
            storeHalf(dh, y)
            for j in 0..<32 {
                let v = (x[j] * id).rounded(.toNearestOrAwayFromZero)  // roundf
                // (int8_t)roundf(inf or NaN) is undefined in C; x86 (and NumPy) give 0. It happens only when
                // 1/d overflowed (0 < |d| < 2^-128), and then d is 0 in float16 anyway.
                y[2 + j] = v.isFinite ? UInt8(bitPattern: Int8(v)) : 0
            }
        }
        return true
    }

    /// C's MIN(15, (int8_t)t) for the t the 4-bit formats produce: t in [0, 17) truncated toward zero.
    /// When 1/d overflowed to inf (0 < |d| < 2^-128) t is inf or NaN, the C conversion undefined, and x86
    /// (cvttss2si, as NumPy's cast) gives 0; d is then 0 in float16 anyway.
    @inline(__always)
    private static func referenceNibble(_ t: Float, _ id: Float) -> UInt8 {
        guard id.isFinite else { return 0 }
        return UInt8(Swift.min(15, Int32(t)))
    }

    /// Dequantizes `blocks` blocks into out (blocks * 32 floats). Returns the first block whose stored d or
    /// m is inf or NaN (its outputs are then unspecified).
    static func referenceDequantize(_ format: Format, _ data: UnsafePointer<UInt8>, blocks: Int,
                                    _ out: UnsafeMutablePointer<Float>) -> Issue? {
        for i in 0..<blocks {
            let b = data + i * format.blockBytes, y = out + i * blockElements
            let dh = loadHalf(b)
            let d = float(half: dh)
            switch format {
            case .q4_0:
                guard halfIsFinite(dh) else { return .badScale(block: i) }
                for j in 0..<16 {
                    y[j] = Float(Int32(b[2 + j] & 0x0F) - 8) * d
                    y[j + 16] = Float(Int32(b[2 + j] >> 4) - 8) * d
                }
            case .q4_1:
                let mh = loadHalf(b + 2)
                guard halfIsFinite(dh) && halfIsFinite(mh) else { return .badScale(block: i) }
                let m = float(half: mh)
                for j in 0..<16 {
                    y[j] = Float(b[4 + j] & 0x0F) * d + m
                    y[j + 16] = Float(b[4 + j] >> 4) * d + m
                }
            case .q8_0:
                guard halfIsFinite(dh) else { return .badScale(block: i) }
                for j in 0..<32 { y[j] = Float(Int8(bitPattern: b[2 + j])) * d }
            }
        }
        return nil
    }
}

// MARK: - fast path

extension GGUF {
    /// Blocks per task below which the work stays on one thread (about 64K values).
    static let blocksPerTask = 2048
    /// Most tasks one call splits into, so the per-task issue slots stay a small allocation.
    static let maxTasks = 256

    /// Runs `body(firstBlock, blockCount)` over [0, blocks) in tasks on the thread pool and returns the
    /// issue a sequential run would report first (each task reports its own first, in order).
    private static func parallelBlocks(_ blocks: Int, _ body: @escaping (Int, Int) -> Issue?) -> Issue? {
        let tasks = Swift.min(maxTasks, Checked.ceilDiv(blocks, blocksPerTask))
        guard tasks > 1 else { return blocks > 0 ? body(0, blocks) : nil }
        let step = Checked.ceilDiv(blocks, tasks)
        let issues = UnsafeMutableBufferPointer<Issue?>.allocate(capacity: tasks)
        issues.initialize(repeating: nil)
        defer { issues.deallocate() }
        ThreadPool.shared.parallelFor(tasks) { t in
            let start = t * step
            guard start < blocks else { return }
            issues[t] = body(start, Swift.min(step, blocks - start))
        }
        return issues.reduce(nil) { Issue.first($0, $1) }
    }

    /// The fast quantizer: same bytes and same issue as `referenceQuantize`.
    static func quantize(_ format: Format, _ x: UnsafePointer<Float>, blocks: Int, _ out: UnsafeMutablePointer<UInt8>) -> Issue? {
        parallelBlocks(blocks) { start, n in
            let bb = format.blockBytes
            var overflow: Issue? = nil
            for i in start..<(start + n) {
                let v = x + i * blockElements, y = out + i * bb
                let ok: Bool
                switch format {
                case .q4_0: ok = fastQ4_0(v, y)
                case .q4_1: ok = fastQ4_1(v, y)
                case .q8_0: ok = fastQ8_0(v, y)
                }
                if !ok {
                    if let j = firstNonfinite(v) { return .nonfinite(index: i * blockElements + j) }
                    if overflow == nil { overflow = .overflow(block: i) }
                }
            }
            return overflow
        }
    }

    /// The fast dequantizer: same floats and same issue as `referenceDequantize`.
    static func dequantize(_ format: Format, _ data: UnsafePointer<UInt8>, blocks: Int, _ out: UnsafeMutablePointer<Float>) -> Issue? {
        parallelBlocks(blocks) { start, n in
            let bb = format.blockBytes
            for i in start..<(start + n) {
                let ok: Bool
                switch format {
                case .q4_0: ok = fastDequantQ4_0(data + i * bb, out + i * blockElements)
                case .q4_1: ok = fastDequantQ4_1(data + i * bb, out + i * blockElements)
                case .q8_0: ok = fastDequantQ8_0(data + i * bb, out + i * blockElements)
                }
                if !ok { return .badScale(block: i) }
            }
            return nil
        }
    }

    /// 1.5 * 2^23: for |v| < 2^22, v + magic rounds v to the nearest integer, even on ties (the float's ulp
    /// there is 1), and that integer sits in the low mantissa bits (ggml's nearest_int). Swift's checked
    /// Float -> Int conversions would keep these loops scalar; this is exact and vectorizes.
    private static let magic: Float = 12_582_912
    private static let magicBits = Int32(bitPattern: magic.bitPattern)

    /// trunc(t) for 0 <= t < 2^22: the nearest integer, minus 1 where it rounded up.
    @inline(__always)
    private static func truncated(_ t: Float) -> Int32 {
        let s = t + magic
        return (Int32(bitPattern: s.bitPattern) &- magicBits) &- (s - magic > t ? 1 : 0)
    }

    /// roundf(v), half away from zero, for |v| < 2^22: the nearest-even integer, moved one step away from
    /// zero on the ties it rounded toward zero (v - r = +0.5 with v > 0, -0.5 with v < 0).
    @inline(__always)
    private static func roundedHalfAway(_ v: Float) -> Int32 {
        let s = v + magic
        let diff = v - (s - magic)  // exact
        let r = Int32(bitPattern: s.bitPattern) &- magicBits
        return r &+ (diff == 0.5 && v > 0 ? 1 : 0) &- (diff == -0.5 && v < 0 ? 1 : 0)
    }

    private static func firstNonfinite(_ x: UnsafePointer<Float>) -> Int? {
        for j in 0..<blockElements where !x[j].isFinite { return j }
        return nil
    }

    /// Largest |x| of a block as bits (for finite floats |a| < |b| exactly when their magnitude bits compare
    /// so), and whether any element is NaN or +-inf (exponent bits all ones).
    @inline(__always)
    private static func magnitudeScan(_ x: UnsafePointer<Float>) -> (amax: UInt32, special: Bool) {
        var amax: UInt32 = 0, special: UInt32 = 0
        for j in 0..<32 {
            let m = x[j].bitPattern & 0x7FFF_FFFF
            amax = Swift.max(amax, m)
            special |= m >= 0x7F80_0000 ? 1 : 0
        }
        return (amax, special != 0)
    }

    /// Q4_0: `max` is the first element of largest magnitude (the strict `amax < |v|` scan), +0 when the block
    /// is all zeros. Returns false (bytes unspecified) for a non-finite element or an overflowing d.
    @inline(__always)
    private static func fastQ4_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>) -> Bool {
        let (amax, special) = magnitudeScan(x)
        guard !special else { return false }
        var max: Float = 0
        if amax != 0 {
            var j = 0
            while x[j].bitPattern & 0x7FFF_FFFF != amax { j += 1 }
            max = x[j]
        }
        let d = max / -8
        let id: Float = d != 0 ? 1 / d : 0
        let dh = halfBits(d)
        guard halfIsFinite(dh) else { return false }
        storeHalf(dh, y)
        let q = y + 2
        if id.isFinite {
            for j in 0..<16 {
                // t = x * id + 8.5 lies in [0, 17) (|x * id| <= 8 up to rounding): truncation is the C cast.
                let lo = Swift.min(truncated(x[j] * id + 8.5), 15), hi = Swift.min(truncated(x[j + 16] * id + 8.5), 15)
                q[j] = UInt8(truncatingIfNeeded: lo | hi << 4)
            }
        } else {
            for j in 0..<16 { q[j] = 0 }  // 1/d overflowed: see referenceNibble
        }
        return true
    }

    /// Q4_1: min and max are the first elements equal to the block's minimum and maximum (the C scans from
    /// FLT_MAX / -FLT_MAX); only a zero extreme can tell +0 from -0, so that case rescans for the first zero.
    @inline(__always)
    private static func fastQ4_1(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>) -> Bool {
        // Order-preserving integer keys of the floats: non-negative ones as they are, negative ones with the
        // magnitude bits flipped.
        var lo = Int32.max, hi = Int32.min, special: UInt32 = 0
        for j in 0..<32 {
            let b = x[j].bitPattern
            let k = Int32(bitPattern: b ^ ((b >> 31) * 0x7FFF_FFFF))
            lo = Swift.min(lo, k)
            hi = Swift.max(hi, k)
            special |= b & 0x7F80_0000 == 0x7F80_0000 ? 1 : 0
        }
        guard special == 0 else { return false }
        func value(_ k: Int32) -> Float {
            let b = UInt32(bitPattern: k)
            let v = Float(bitPattern: b ^ ((b >> 31) * 0x7FFF_FFFF))
            guard v == 0 else { return v }
            var j = 0
            while x[j] != 0 { j += 1 }
            return x[j]
        }
        let min = value(lo), max = value(hi)
        let d = (max - min) / 15
        let id: Float = d != 0 ? 1 / d : 0
        let dh = halfBits(d), mh = halfBits(min)
        guard halfIsFinite(dh) && halfIsFinite(mh) else { return false }
        storeHalf(dh, y)
        storeHalf(mh, y + 2)
        let q = y + 4
        if id.isFinite {
            for j in 0..<16 {
                // t = (x - min) * id + 0.5 lies in [0.5, 16): truncation is the C cast.
                let a = Swift.min(truncated((x[j] - min) * id + 0.5), 15)
                let b = Swift.min(truncated((x[j + 16] - min) * id + 0.5), 15)
                q[j] = UInt8(truncatingIfNeeded: a | b << 4)
            }
        } else {
            for j in 0..<16 { q[j] = 0 }
        }
        return true
    }

    @inline(__always)
    private static func fastQ8_0(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<UInt8>) -> Bool {
        let (amax, special) = magnitudeScan(x)
        guard !special else { return false }
        let d = Float(bitPattern: amax) / 127
        let id: Float = d != 0 ? 1 / d : 0
        let dh = halfBits(d)
        guard halfIsFinite(dh) else { return false }
        storeHalf(dh, y)
        let q = y + 2
        if id.isFinite {
            // |x * id| <= 127 up to rounding, so the rounded value is an int8.
            for j in 0..<32 { q[j] = UInt8(truncatingIfNeeded: roundedHalfAway(x[j] * id)) }
        } else {
            for j in 0..<32 { q[j] = 0 }
        }
        return true
    }

    @inline(__always)
    private static func fastDequantQ4_0(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) -> Bool {
        let dh = loadHalf(b)
        guard halfIsFinite(dh) else { return false }
        let d = float(half: dh), q = b + 2
        for j in 0..<16 {
            let v = q[j]
            y[j] = Float(Int32(v & 0x0F) &- 8) * d
            y[j + 16] = Float(Int32(v >> 4) &- 8) * d
        }
        return true
    }

    @inline(__always)
    private static func fastDequantQ4_1(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) -> Bool {
        let dh = loadHalf(b), mh = loadHalf(b + 2)
        guard halfIsFinite(dh) && halfIsFinite(mh) else { return false }
        let d = float(half: dh), m = float(half: mh), q = b + 4
        for j in 0..<16 {
            let v = q[j]
            y[j] = Float(Int32(v & 0x0F)) * d + m  // multiply, then add: no FMA (gguf-py's two roundings)
            y[j + 16] = Float(Int32(v >> 4)) * d + m
        }
        return true
    }

    @inline(__always)
    private static func fastDequantQ8_0(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) -> Bool {
        let dh = loadHalf(b)
        guard halfIsFinite(dh) else { return false }
        let d = float(half: dh), q = b + 2
        for j in 0..<32 { y[j] = Float(Int32(Int8(bitPattern: q[j]))) * d }
        return true
    }
}

// MARK: - checked entry points (the C API calls these)

extension GGUF {
    /// Blocks in `count` values: count >= 0 and a multiple of 32 (SQ_ERROR_SHAPE otherwise).
    static func blocks(count: Int64, argument: String) throws(SQError) -> Int {
        guard count >= 0 else { throw SQError(.shape, "\(argument) is negative (\(count))") }
        guard count % Int64(blockElements) == 0 else {
            throw SQError(.shape, "\(argument) (\(count)) is not a multiple of 32, the GGUF block size: each row's length must be")
        }
        return Int(count / Int64(blockElements))
    }

    /// Checks that `bytes` is exactly blocks * blockBytes (the product checked for overflow).
    static func checkBytes(_ format: Format, blocks: Int, bytes: Int64, argument: String) throws(SQError) {
        let need = try Checked.mul(blocks, format.blockBytes, "\(argument): \(blocks) blocks x \(format.blockBytes) bytes")
        guard bytes == Int64(need) else {
            throw SQError(.shape, "\(argument) is \(bytes) but \(blocks * blockElements) value(s) of \(format.name) take \(blocks) block(s) x \(format.blockBytes) = \(need) byte(s)")
        }
    }

    /// Quantizes through the fast path, with the issue as an SQError naming `x`.
    static func quantizeChecked(_ format: Format, _ x: UnsafePointer<Float>, blocks: Int, _ out: UnsafeMutablePointer<UInt8>) throws(SQError) {
        guard let issue = quantize(format, x, blocks: blocks, out) else { return }
        switch issue {
        case .nonfinite(let i):
            throw SQError(.nonfinite, "x: element \(i) is \(x[i]); GGUF blocks need finite values (llama.cpp would write a meaningless block)")
        case .overflow(let b):
            let v = x + b * blockElements
            var amax: Float = 0, max: Float = 0, lo = v[0], hi = v[0]
            for j in 0..<blockElements {
                if amax < abs(v[j]) { amax = abs(v[j]); max = v[j] }
                lo = Swift.min(lo, v[j])
                hi = Swift.max(hi, v[j])
            }
            let what: String
            switch format {
            case .q4_0: what = "d = max / -8 = \(max / -8)"
            case .q8_0: what = "d = amax / 127 = \(amax / 127)"
            case .q4_1: what = halfIsFinite(halfBits(lo)) ? "d = (max - min) / 15 = \((hi - lo) / 15)" : "minimum m = \(lo)"
            }
            throw SQError(.outOfRange, "x: block \(b) (elements \(b * blockElements) ..< \((b + 1) * blockElements)) needs \(format.name) \(what), beyond float16's largest finite value 65504 (llama.cpp would store inf); scale the tensor down")
        case .badScale:
            throw SQError(.internal, "GGUF quantize reported a stored-scale issue")
        }
    }

    /// Dequantizes through the fast path, with the issue as an SQError naming `data`.
    static func dequantizeChecked(_ format: Format, _ data: UnsafePointer<UInt8>, blocks: Int, _ out: UnsafeMutablePointer<Float>) throws(SQError) {
        guard let issue = dequantize(format, data, blocks: blocks, out) else { return }
        guard case .badScale(let b) = issue else { throw SQError(.internal, "GGUF dequantize reported a quantize issue") }
        let p = data + b * format.blockBytes
        let dh = loadHalf(p)
        let (field, h) = halfIsFinite(dh) ? ("m", loadHalf(p + 2)) : ("d", dh)
        throw SQError(.nonfinite, "data: block \(b) (bytes \(b * format.blockBytes) ..< \((b + 1) * format.blockBytes)) stores \(format.name) \(field) = \(float(half: h)) (float16 bits 0x\(String(h, radix: 16))), which decodes to non-finite values; the data is corrupt or not \(format.name)")
    }
}
