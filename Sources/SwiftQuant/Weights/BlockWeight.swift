// Weights quantized in blocks along K (the input dimension), as ONNX Runtime's MatMulNBits and llama.cpp's
// Q4_0 / Q8_0 store them: W [N, K] = [out, in], one float32 scale and one unsigned zero point per block of
// `blockSize` consecutive k of a row, codes 0 ..< 2^bits, value = (code - zero_point) * scale.
//
// The quantizer is ONNX Runtime's (MlasQuantizeBlockwise, the one behind its MatMulNBits quantizer), so the
// codes, scales and zero points are the ones ORT writes:
//   symmetric:  v = max if |max| > |min| else min (the block's value of largest magnitude, the minimum on a
//               tie), scale = v / -2^(bits-1), zero point 2^(bits-1). The extreme value maps to code 0, so
//               all 2^bits codes are used, and the scale is negative when v is positive.
//   asymmetric: the range widened to include 0, scale = (max - min) / (2^bits - 1),
//               zero_point = clamp(roundf(-min / scale), 0, 2^bits - 1) (0 when scale is 0).
//   codes:      clamp(roundf(x * (1 / scale) + zero_point), 0, 2^bits - 1), 1 / 0 taken as 0;
//               roundf rounds half away from zero. (A subnormal scale makes 1 / scale infinite: 0 then
//               gets the zero point, other values the end codes.)
// A block past K's end is partial: its range covers only the k < K.

/// Largest block: the per-block int32 sum of |qx| * |code - zp| <= 127 * 255 * blockSize must fit int32.
let maxWeightBlockSize = 1 << 16

struct BlockWeight {
    let n: Int
    let k: Int
    let bits: Int
    let blockSize: Int
    /// Blocks per row: ceil(k / blockSize).
    let kBlocks: Int
    /// [n, k], one code per byte.
    let codes: [UInt8]
    /// [n, kBlocks].
    let scales: [Float]
    /// [n, kBlocks].
    let zeroPoints: [UInt8]

    var maxCode: Int { (1 << bits) - 1 }
    var midCode: UInt8 { UInt8(1 << (bits - 1)) }

    /// Checks the layout arguments shared by every entry point; returns kBlocks.
    static func checkLayout(n: Int, k: Int, bits: Int, blockSize: Int) throws(SQError) -> Int {
        guard [2, 3, 4, 8].contains(bits) else { throw SQError(.invalidArgument, "bits \(bits) is not 2, 3, 4 or 8") }
        guard blockSize >= 16 && blockSize <= maxWeightBlockSize && blockSize & (blockSize - 1) == 0 else {
            throw SQError(.invalidArgument, "block_size \(blockSize) is not a power of two in [16, \(maxWeightBlockSize)]")
        }
        guard n >= 0 && k >= 0 else { throw SQError(.shape, "weight: shape [\(n), \(k)] has a negative dimension") }
        // n * k bytes of codes and n * kBlocks * 4 of scales must be addressable.
        let count = try Checked.mul(n, k, "weight: N x K")
        guard count <= maxExtent else { throw SQError(.shape, "weight: [\(n), \(k)] has more than 2^60 elements") }
        return Checked.ceilDiv(k, blockSize)
    }

    /// Validates caller-provided codes, scales and zero points (copied).
    init(n: Int, k: Int, bits: Int, blockSize: Int, codes: UnsafePointer<UInt8>, scales: UnsafePointer<Float>,
         zeroPoints: UnsafePointer<UInt8>?) throws(SQError) {
        let kb = try BlockWeight.checkLayout(n: n, k: k, bits: bits, blockSize: blockSize)
        let maxCode = UInt8((1 << bits) - 1)
        let c = UnsafeBufferPointer(start: codes, count: n * k)
        if let i = c.firstIndex(where: { $0 > maxCode }) {
            throw SQError(.outOfRange, "codes: element \(i) (row \(i / Swift.max(k, 1))) is \(c[i]), above the \(bits)-bit maximum \(maxCode)")
        }
        let s = UnsafeBufferPointer(start: scales, count: n * kb)
        if let i = s.firstIndex(where: { !$0.isFinite }) {
            throw SQError(.invalidScale, "scales: element \(i) (row \(i / Swift.max(kb, 1)), block \(i % Swift.max(kb, 1))) is \(s[i])")
        }
        var zp = [UInt8](repeating: UInt8(1 << (bits - 1)), count: n * kb)
        if let zeroPoints {
            let z = UnsafeBufferPointer(start: zeroPoints, count: n * kb)
            if let i = z.firstIndex(where: { $0 > maxCode }) {
                throw SQError(.invalidZeroPoint, "zero_points: element \(i) is \(z[i]), above the \(bits)-bit maximum \(maxCode)")
            }
            zp = Array(z)
        }
        self.init(n: n, k: k, bits: bits, blockSize: blockSize, kBlocks: kb, codes: Array(c), scales: Array(s), zeroPoints: zp)
    }

    init(n: Int, k: Int, bits: Int, blockSize: Int, kBlocks: Int, codes: [UInt8], scales: [Float], zeroPoints: [UInt8]) {
        self.n = n
        self.k = k
        self.bits = bits
        self.blockSize = blockSize
        self.kBlocks = kBlocks
        self.codes = codes
        self.scales = scales
        self.zeroPoints = zeroPoints
    }

    /// Round-to-nearest quantization of w [n, k] (row-major, finite).
    static func quantize(_ w: UnsafePointer<Float>, n: Int, k: Int, bits: Int, blockSize: Int, symmetric: Bool) throws(SQError) -> BlockWeight {
        let kb = try checkLayout(n: n, k: k, bits: bits, blockSize: blockSize)
        if let i = UnsafeBufferPointer(start: w, count: n * k).firstIndex(where: { !$0.isFinite }) {
            throw SQError(.nonfinite, "weight: element \(i) (row \(i / Swift.max(k, 1)), column \(i % Swift.max(k, 1))) is \(w[i])")
        }
        var codes = [UInt8](repeating: 0, count: n * k)
        var scales = [Float](repeating: 0, count: n * kb)
        var zps = [UInt8](repeating: 0, count: n * kb)
        // No elements, nothing to do (and n alone may be huge: loops run over elements, not dimensions).
        guard n * k > 0 else {
            return BlockWeight(n: n, k: k, bits: bits, blockSize: blockSize, kBlocks: kb, codes: codes, scales: scales, zeroPoints: zps)
        }
        codes.withUnsafeMutableBufferPointer { cp in
            scales.withUnsafeMutableBufferPointer { sp in
                zps.withUnsafeMutableBufferPointer { zpp in
                    let c = cp.baseAddress!, s = sp.baseAddress!, z = zpp.baseAddress!
                    // Rows are independent; writes are disjoint.
                    parallelRows(n, work: k) { row in
                        for b in 0..<kb {
                            let k0 = b * blockSize, k1 = Swift.min(k0 + blockSize, k)
                            (s[row * kb + b], z[row * kb + b]) =
                                quantizeBlock(w + row * k + k0, count: k1 - k0, bits: bits, symmetric: symmetric,
                                              codes: c + row * k + k0)
                        }
                    }
                }
            }
        }
        return BlockWeight(n: n, k: k, bits: bits, blockSize: blockSize, kBlocks: kb, codes: codes, scales: scales, zeroPoints: zps)
    }

    /// The rule on one block x[0 ..< count] (finite, count >= 1): writes its codes, returns its scale and zero
    /// point. The rule lives here and in the two functions below only; quantize and the searches of the
    /// activation-aware methods call them.
    @inline(__always)
    static func quantizeBlock(_ x: UnsafePointer<Float>, count: Int, bits: Int, symmetric: Bool,
                              codes: UnsafeMutablePointer<UInt8>) -> (scale: Float, zeroPoint: UInt8) {
        let (scale, zp) = blockParams(x, count: count, bits: bits, symmetric: symmetric)
        let r: Float = scale != 0 ? 1 / scale : 0
        for i in 0..<count { codes[i] = code(x[i], reciprocal: r, zeroPoint: zp, bits: bits) }
        return (scale, zp)
    }

    /// The scale and zero point of one block x[0 ..< count] (finite, count >= 1).
    @inline(__always)
    static func blockParams(_ x: UnsafePointer<Float>, count: Int, bits: Int, symmetric: Bool) -> (scale: Float, zeroPoint: UInt8) {
        var lo = Float.greatestFiniteMagnitude, hi = -Float.greatestFiniteMagnitude
        for i in 0..<count {
            if x[i] < lo { lo = x[i] }
            if x[i] > hi { hi = x[i] }
        }
        return params(lo: lo, hi: hi, bits: bits, symmetric: symmetric)
    }

    /// The scale and zero point of a block whose smallest value is lo and largest hi.
    @inline(__always)
    static func params(lo: Float, hi: Float, bits: Int, symmetric: Bool) -> (scale: Float, zeroPoint: UInt8) {
        let maxCode = Float((1 << bits) - 1), mid = Float(1 << (bits - 1))
        var lo = lo, hi = hi
        if symmetric { return ((abs(hi) > abs(lo) ? hi : lo) / -mid, UInt8(mid)) }
        lo = Swift.min(lo, 0)
        hi = Swift.max(hi, 0)
        let scale = (hi - lo) / maxCode
        let zf: Float = scale != 0 ? 0 - lo / scale : lo
        return (scale, UInt8(zf < 0 ? 0 : (zf > maxCode ? maxCode : zf.rounded(.toNearestOrAwayFromZero))))
    }

    /// The code of x: clamp(roundf(x * reciprocal + zero_point), 0, 2^bits - 1), reciprocal = 1 / scale
    /// (0 for a zero scale).
    @inline(__always)
    static func code(_ x: Float, reciprocal r: Float, zeroPoint: UInt8, bits: Int) -> UInt8 {
        // 1 / scale overflows for a subnormal scale; 0 * inf then stands for 0.
        let q = (x * r + Float(zeroPoint)).rounded(.toNearestOrAwayFromZero)
        return q.isNaN ? zeroPoint : UInt8(Swift.min(Swift.max(q, 0), Float((1 << bits) - 1)))
    }

    /// The value of a code: an int difference times the scale (ORT's dequantization).
    @inline(__always)
    static func value(code: UInt8, zeroPoint: UInt8, scale: Float) -> Float {
        Float(Int32(code) - Int32(zeroPoint)) * scale
    }

    /// (code - zero_point) * scale, [n, k] row-major (ORT's dequantization: an int difference times the scale).
    func dequantize(into out: UnsafeMutablePointer<Float>) {
        guard n * k > 0 else { return }
        codes.withUnsafeBufferPointer { c in
            parallelRows(n, work: k) { row in
                for i in 0..<k {
                    let b = row * kBlocks + i / blockSize
                    out[row * k + i] = BlockWeight.value(code: c[row * k + i], zeroPoint: zeroPoints[b], scale: scales[b])
                }
            }
        }
    }

    /// True when every zero point is 2^(bits-1) (symmetric weights): the kernels then need none stored.
    var uniformZeroPoint: Bool { zeroPoints.allSatisfy { $0 == midCode } }
}

/// Runs body(row) for rows 0..<n on the thread pool when the work (n * work elements) is worth it.
func parallelRows(_ n: Int, work: Int, _ body: @escaping (Int) -> Void) {
    let total = n.multipliedReportingOverflow(by: Swift.max(work, 1))
    if total.overflow || total.partialValue >= 1 << 16 {
        let chunks = Swift.min(n, 4 * ThreadPool.shared.size)
        let per = n / chunks, extra = n % chunks  // no n * c: n may be near Int.max
        ThreadPool.shared.parallelFor(chunks) { c in
            let r0 = c * per + Swift.min(c, extra)
            for r in r0..<(r0 + per + (c < extra ? 1 : 0)) { body(r) }
        }
    } else {
        for r in 0..<n { body(r) }
    }
}

// MARK: - ONNX Runtime MatMulNBits layout (com.microsoft.MatMulNBits)
//
// B: uint8 [N, kBlocks, blockSize * bits / 8]; 8 / bits elements per byte, element j of a byte's group in
//    bits [j * bits, (j + 1) * bits) (4 bits: element 2i in the low nibble); elements past K are 0.
// zero_points: uint8 [N, ceil(kBlocks * bits / 8)], packed the same way along the blocks; padding fields
//    hold 2^(bits-1), MatMulNBits' default zero point. Absent: every zero point is 2^(bits-1).
// scales: float32 [N, kBlocks], the same as BlockWeight's.

enum MatMulNBits {
    static func checkBits(_ bits: Int) throws(SQError) {
        guard bits == 2 || bits == 4 || bits == 8 else {
            throw SQError(.invalidArgument, "bits \(bits): MatMulNBits stores 2, 4 or 8 bits")
        }
    }
    static func bBytes(n: Int, kBlocks: Int, bits: Int, blockSize: Int) throws(SQError) -> Int {
        try Checked.mul(try Checked.mul(n, kBlocks, "B"), blockSize * bits / 8, "B")
    }
    static func zeroPointRow(kBlocks: Int, bits: Int) -> Int { Checked.ceilDiv(kBlocks, 8 / bits) }
    static func zeroPointBytes(n: Int, kBlocks: Int, bits: Int) throws(SQError) -> Int {
        try Checked.mul(n, zeroPointRow(kBlocks: kBlocks, bits: bits), "zero_points")
    }

    static func pack(_ w: BlockWeight, b: UnsafeMutablePointer<UInt8>, zeroPoints: UnsafeMutablePointer<UInt8>?) {
        guard w.n * w.k > 0 else { return }  // B and the zero points are empty
        let bits = w.bits, per = 8 / bits
        let blob = w.blockSize * bits / 8
        let zpRow = zeroPointRow(kBlocks: w.kBlocks, bits: bits)
        // Every field of a padding byte is the default zero point: 0x88 (4 bits), 0xAA (2 bits).
        var fill: UInt8 = 0
        for j in 0..<per { fill |= w.midCode << UInt8(j * bits) }
        w.codes.withUnsafeBufferPointer { c in
            for row in 0..<w.n {
                let dst = b + row * w.kBlocks * blob
                dst.initialize(repeating: 0, count: w.kBlocks * blob)
                let src = c.baseAddress! + row * w.k
                for i in 0..<w.k { dst[i / per] |= src[i] << UInt8((i % per) * bits) }
                if let zeroPoints {
                    let z = zeroPoints + row * zpRow
                    z.initialize(repeating: per == 1 ? 0 : fill, count: zpRow)
                    let mask = UInt8(truncatingIfNeeded: (1 << bits) - 1)
                    for blk in 0..<w.kBlocks {
                        let v = w.zeroPoints[row * w.kBlocks + blk], sh = UInt8((blk % per) * bits)
                        z[blk / per] = (z[blk / per] & ~(mask << sh)) | (v << sh)
                    }
                }
            }
        }
    }

    /// Codes [n, k] and zero points [n, kBlocks] from the MatMulNBits tensors (sizes checked by the caller).
    static func unpack(b: UnsafePointer<UInt8>, zeroPoints: UnsafePointer<UInt8>?, n: Int, k: Int, bits: Int, blockSize: Int,
                       kBlocks: Int) -> (codes: [UInt8], zeroPoints: [UInt8]?) {
        let blob = blockSize * bits / 8, per = 8 / bits
        let mask = UInt8(truncatingIfNeeded: (1 << bits) - 1)
        var codes = [UInt8](repeating: 0, count: n * k)
        guard n * k > 0 else { return (codes, zeroPoints == nil ? nil : []) }
        for row in 0..<n {
            let src = b + row * kBlocks * blob
            for i in 0..<k { codes[row * k + i] = (src[i / per] >> UInt8((i % per) * bits)) & mask }
        }
        guard let zeroPoints else { return (codes, nil) }
        let zpRow = zeroPointRow(kBlocks: kBlocks, bits: bits)
        var zps = [UInt8](repeating: 0, count: n * kBlocks)
        for row in 0..<n {
            for blk in 0..<kBlocks {
                zps[row * kBlocks + blk] = (zeroPoints[row * zpRow + blk / per] >> UInt8((blk % per) * bits)) & mask
            }
        }
        return (codes, zps)
    }
}
