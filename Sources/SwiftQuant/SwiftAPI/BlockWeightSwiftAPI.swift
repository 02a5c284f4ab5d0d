// The Swift-facing API of block-quantized weights (swiftquant.h, "Block-quantized weights"): value types and
// throwing functions over arrays, through the same C exports as Python and C callers.

/// A weight [n, k] = [out_features, in_features] quantized in blocks of `blockSize` along k:
/// value = (code - zeroPoint) * scale, codes one per byte.
public struct QuantizedWeight: Equatable, Sendable {
    public let n: Int
    public let k: Int
    public let bits: Int
    public let blockSize: Int
    /// [n, k] row-major, 0 ..< 2^bits.
    public let codes: [UInt8]
    /// [n, kBlocks], kBlocks = ceil(k / blockSize).
    public let scales: [Float]
    /// [n, kBlocks].
    public let zeroPoints: [UInt8]
    /// Per-input-channel scales s [k] of activation-aware weights (`QuantizedWeight.awq`): the codes quantize
    /// w * s, the layer divides its input by s, `dequantize()` returns the effective weight deq / s. nil otherwise.
    public let inputScales: [Float]?

    public var kBlocks: Int { Checked.ceilDiv(k, blockSize) }

    /// Quantizes w [n, k] (row-major) with ONNX Runtime's MatMulNBits rule (the header gives it exactly).
    public init(quantizing w: [Float], n: Int, k: Int, bits: Int = 4, blockSize: Int = 32, symmetric: Bool = true) throws(SwiftQuantError) {
        guard n >= 0, k >= 0, w.count == exactProduct(n, k) else {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue, message: "w: \(w.count) value(s) for [n \(n), k \(k)]")
        }
        let kb = Checked.ceilDiv(k, blockSize)  // n * kb <= n * k = w.count
        var codes = [UInt8](repeating: 0, count: n * k)
        var scales = [Float](repeating: 0, count: n * kb), zps = [UInt8](repeating: 0, count: n * kb)
        try check(sqWeightQuantize(w, Int64(n), Int64(k), Int32(truncatingIfNeeded: bits), Int64(blockSize), symmetric ? 1 : 0,
                                   &codes, &scales, &zps))
        self.init(n: n, k: k, bits: bits, blockSize: blockSize, codes: codes, scales: scales, zeroPoints: zps)
    }

    /// Existing codes, scales and zero points (nil: every zero point 2^(bits-1)) and optional input scales;
    /// checked by dequantize and by the layer, which refuse codes or zero points above the bit width,
    /// non-finite scales and input scales that are not finite and > 0.
    public init(n: Int, k: Int, bits: Int, blockSize: Int, codes: [UInt8], scales: [Float], zeroPoints: [UInt8]? = nil,
                inputScales: [Float]? = nil) {
        self.n = n
        self.k = k
        self.bits = bits
        self.blockSize = blockSize
        self.codes = codes
        self.scales = scales
        self.zeroPoints = zeroPoints ?? [UInt8](repeating: bits >= 1 && bits <= 8 ? UInt8(1 << (bits - 1)) : 0, count: scales.count)
        self.inputScales = inputScales
    }

    func checkCounts() throws(SwiftQuantError) {
        // Checked products: n and k of the memberwise init are the caller's, and an overflow would trap.
        let kb = Checked.ceilDiv(k, blockSize)
        guard n >= 0, k >= 0, codes.count == exactProduct(n, k), scales.count == exactProduct(n, kb),
              zeroPoints.count == exactProduct(n, kb) else {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue,
                                  message: "weight: \(codes.count) codes, \(scales.count) scales, \(zeroPoints.count) zero points for [n \(n), k \(k)], block \(blockSize)")
        }
        if let inputScales {
            guard inputScales.count == k else {
                throw SwiftQuantError(status: SQError.Kind.shape.rawValue, message: "inputScales: \(inputScales.count) value(s), want k = \(k)")
            }
            if let i = inputScales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                throw SwiftQuantError(status: SQError.Kind.invalidScale.rawValue,
                                      message: "inputScales: element \(i) is \(inputScales[i]); input scales must be finite and > 0")
            }
        }
    }

    /// float32 [n, k]: (code - zeroPoint) * scale, divided by inputScales[k] when the weight has them.
    public func dequantize() throws(SwiftQuantError) -> [Float] {
        try checkCounts()
        var out = [Float](repeating: 0, count: n * k)
        try check(sqWeightDequantize(codes, scales, zeroPoints, Int64(n), Int64(k), Int32(truncatingIfNeeded: bits), Int64(blockSize), &out))
        if let inputScales {
            for i in out.indices { out[i] /= inputScales[i % k] }  // the effective weight deq / s
        }
        return out
    }

    /// The com.microsoft.MatMulNBits tensors: B [n, kBlocks, blockSize * bits / 8] and the packed zero points
    /// [n, ceil(kBlocks * bits / 8)] (4 and 8 bits). A weight with inputScales is refused: MatMulNBits cannot
    /// divide its input by s, so fold 1 / s into the previous operation and pass allowInputScales to export
    /// the codes of w * s anyway.
    public func matMulNBits(allowInputScales: Bool = false) throws(SwiftQuantError) -> (b: [UInt8], zeroPoints: [UInt8]) {
        try checkCounts()
        guard inputScales == nil || allowInputScales else {
            throw SwiftQuantError(status: SQError.Kind.invalidArgument.rawValue,
                                  message: "matMulNBits: this weight has inputScales s (AWQ): its codes quantize w * s, and MatMulNBits cannot divide its input by s. Fold 1 / s into the previous operation, then export with allowInputScales: true")
        }
        var bb: Int64 = 0, zb: Int64 = 0
        let b32 = Int32(truncatingIfNeeded: bits)
        try check(sqMatMulNBitsSizes(Int64(n), Int64(k), b32, Int64(blockSize), &bb, &zb))
        // B holds whole blocks: up to blockSize * bits / 8 bytes per code of a short row, so it can exceed codes.
        var b = [UInt8](repeating: 0, count: try checkedOutput(Int(bb), bytesEach: 1, "blockSize \(blockSize): B of [n \(n), k \(k)]"))
        var z = [UInt8](repeating: 0, count: Int(zb))
        try check(sqMatMulNBitsPack(codes, scales, zeroPoints, Int64(n), Int64(k), b32, Int64(blockSize), &b, &z))
        return (b, z)
    }

    /// The inverse of matMulNBits(); zeroPoints nil means MatMulNBits' default 2^(bits-1).
    public init(matMulNBits b: [UInt8], scales: [Float], zeroPoints: [UInt8]?, n: Int, k: Int, bits: Int, blockSize: Int) throws(SwiftQuantError) {
        var bb: Int64 = 0, zb: Int64 = 0
        let b32 = Int32(truncatingIfNeeded: bits)
        try check(sqMatMulNBitsSizes(Int64(n), Int64(k), b32, Int64(blockSize), &bb, &zb))
        // After the size query: n, k and blockSize are valid, and b.count == bb bounds n * k (B stores every code).
        let kb = Checked.ceilDiv(k, blockSize)
        guard b.count == Int(bb), scales.count == n * kb, zeroPoints.map({ $0.count == Int(zb) }) ?? true else {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue,
                                  message: "B: \(b.count) bytes (want \(bb)), scales: \(scales.count) (want \(n * kb)), zero_points: \(zeroPoints?.count ?? 0) (want \(zb))")
        }
        var codes = [UInt8](repeating: 0, count: n * k), zps = [UInt8](repeating: 0, count: n * kb)
        if let zeroPoints {
            try check(sqMatMulNBitsUnpack(b, scales, zeroPoints, Int64(n), Int64(k), b32, Int64(blockSize), &codes, &zps))
        } else {
            try check(sqMatMulNBitsUnpack(b, scales, nil, Int64(n), Int64(k), b32, Int64(blockSize), &codes, &zps))
        }
        self.init(n: n, k: k, bits: bits, blockSize: blockSize, codes: codes, scales: scales, zeroPoints: zps)
    }
}

/// y = x W^T + bias on a QuantizedWeight: `.perBlock` quantizes x to int8 per block (W4A8, ORT MatMulNBits
/// accuracy_level 4), `.none` keeps x in float32 (weight-only). The header gives the exact arithmetic. A
/// weight with inputScales s gives y = (x / s) W^T + bias (x divided by s first, in float32).
public final class BlockQuantizedLinear {
    public enum Activation: Int32, Sendable { case perBlock = 2, none = 3 }
    public let weight: QuantizedWeight
    public let activation: Activation
    private let handle: OpaquePointer

    public init(_ weight: QuantizedWeight, bias: [Float]? = nil, activation: Activation = .perBlock) throws(SwiftQuantError) {
        try weight.checkCounts()
        if let bias, bias.count != weight.n {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue, message: "bias: \(bias.count) value(s), want \(weight.n)")
        }
        var h: OpaquePointer?
        let b32 = Int32(truncatingIfNeeded: weight.bits)
        try check(withOptionalArray(bias) { bp in
            withOptionalArray(weight.inputScales) { sp in
                sqBlockLinearCreateScaled(weight.codes, weight.scales, weight.zeroPoints, Int64(weight.n), Int64(weight.k), b32,
                                          Int64(weight.blockSize), bp, sp, activation.rawValue, &h)
            }
        })
        self.weight = weight
        self.activation = activation
        handle = h!
    }

    deinit { sqBlockLinearDestroy(handle) }

    /// y [rows, n] for x [rows, k] (row-major).
    public func callAsFunction(_ x: [Float]) throws(SwiftQuantError) -> [Float] {
        guard weight.k > 0, x.count % weight.k == 0 else {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue, message: "x: \(x.count) value(s) is not a multiple of k = \(weight.k)")
        }
        let rows = x.count / weight.k
        let yCount = try checkedOutput(try Checked.mul(rows, weight.n, "x: rows x n"), bytesEach: 4,
                                       "x: the result [\(rows), \(weight.n)]")
        var y = [Float](repeating: 0, count: yCount)
        let shape: [Int64] = [Int64(rows), Int64(weight.k)]
        try check(sqBlockLinearForward(handle, x, shape, 2, &y, Int64(y.count)))
        return y
    }
}

/// body(nil) for nil, else body with the array's elements (valid only inside body).
func withOptionalArray<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress) }
}

/// The bytes ggml-quants.c's reference quantizer writes for x (x.count a multiple of 32).
public func ggufQuantize(_ x: [Float], type: GGUFType) throws(SwiftQuantError) -> [UInt8] {
    guard x.count % 32 == 0 else {
        throw SwiftQuantError(status: SQError.Kind.shape.rawValue, message: "x: \(x.count) values is not a multiple of 32")
    }
    var out = [UInt8](repeating: 0, count: x.count / 32 * type.blockBytes)
    try check(sqGGUFQuantize(type.rawValue, x, Int64(x.count), &out, Int64(out.count)))
    return out
}

/// The float32 values of GGUF blocks (data.count a multiple of the block size).
public func ggufDequantize(_ data: [UInt8], type: GGUFType) throws(SwiftQuantError) -> [Float] {
    guard data.count % type.blockBytes == 0 else {
        throw SwiftQuantError(status: SQError.Kind.shape.rawValue,
                              message: "data: \(data.count) bytes is not a whole number of \(type.blockBytes)-byte blocks")
    }
    var out = [Float](repeating: 0, count: data.count / type.blockBytes * 32)
    try check(sqGGUFDequantize(type.rawValue, data, Int64(data.count), &out, Int64(out.count)))
    return out
}

extension QuantizedWeight {
    /// A GGUF tensor [n, k] of type Q4_0 (4 bits, zero point 8, scale d) or Q8_0 (code q + 128, zero point
    /// 128) as block-32 weights; Q4_1's float minimum is not an integer zero point and is refused.
    public init(gguf data: [UInt8], type: GGUFType, n: Int, k: Int) throws(SwiftQuantError) {
        guard type != .q4_1 else {
            throw SwiftQuantError(status: SQError.Kind.invalidArgument.rawValue,
                                  message: "type q4_1: its per-block float minimum is not an integer zero point; dequantize and requantize")
        }
        // Checked: a hostile n or k must give an error, not an overflow trap; codes and scales are then
        // bounded by data.count.
        guard n >= 0, k >= 0, k % 32 == 0, data.count == exactProduct(n, k / 32).flatMap({ exactProduct($0, type.blockBytes) }) else {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue,
                                  message: "data: \(data.count) bytes for [n \(n), k \(k)] of \(type) (k must be a multiple of 32)")
        }
        let kb = k / 32, bb = type.blockBytes
        var codes = [UInt8](repeating: 0, count: n * k), scales = [Float](repeating: 0, count: n * kb)
        for blk in 0..<(n * kb) {
            let at = blk * bb
            let d = GGUF.float(half: UInt16(data[at]) | UInt16(data[at + 1]) << 8)
            guard d.isFinite else {
                throw SwiftQuantError(status: SQError.Kind.invalidScale.rawValue, message: "data: block \(blk) has a non-finite scale d = \(d)")
            }
            scales[blk] = d
            let row = blk / kb, c0 = row * k + (blk % kb) * 32
            for j in 0..<(type == .q4_0 ? 16 : 32) {
                let byte = data[at + 2 + j]
                if type == .q4_0 {
                    codes[c0 + j] = byte & 0x0F
                    codes[c0 + j + 16] = byte >> 4
                } else {
                    codes[c0 + j] = byte &+ 128  // int8 q + 128
                }
            }
        }
        self.init(n: n, k: k, bits: type == .q4_0 ? 4 : 8, blockSize: 32, codes: codes, scales: scales,
                  zeroPoints: [UInt8](repeating: type == .q4_0 ? 8 : 128, count: n * kb))
    }
}
