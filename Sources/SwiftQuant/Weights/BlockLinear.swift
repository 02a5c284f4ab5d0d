// A linear layer on block-quantized weights, y = x W^T + b, W a BlockWeight [N, K]. Two activation modes:
//
// per_block (W4A8 / W8A8, ONNX Runtime MatMulNBits accuracy_level 4, llama.cpp Q4_0 x Q8_0): each row of x
//   is quantized to int8 per block of the weight's block size, symmetric, sx = max|x| / 127,
//   qx = clamp(round_half_even(x / sx), -127, 127) (qx = 0 when sx = 0); then, per output,
//     acc = 0;  for b in blocks:  acc = fma(f32(D_b), sx[m, b] * sw[n, b], acc)
//     D_b = sum_{k in b} qx[m, k] * (code[n, k] - zw[n, b])        (exact int32)
//     y[m, n] = acc + bias[n]
// none (weight-only): x stays float32, the weights are dequantized on the fly, per output
//     acc = 0;  for b:  t = 0;  for k in b (ascending):  t = fma(x[m, k], f32(code - zw), t)
//                       acc = fma(t, sw[n, b], acc)
//     y[m, n] = acc + bias[n]
// Both orders are fixed, so every kernel of the registry gives the same bits as the reference.
// Input scales s [K] (activation-aware weights, AWQ): x[m, k] is replaced by the float32 quotient
// x[m, k] / s[k] before either mode sees it.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The one block-activation enum: public as BlockQuantizedLinear.Activation.
typealias BlockActivation = BlockQuantizedLinear.Activation

/// The kernels' layout of a BlockWeight, built once per layer (its byte layout is documented at
/// `BlockPacked.init`).
final class BlockPacked {
    /// 16 columns per panel (two 8-lane AVX2 vectors): a panel's bytes are contiguous over all K, so a
    /// tile of 16 columns streams them front to back.
    static let panelWidth = 16
    let panels: Int
    let kBlocks: Int
    let blockSize: Int
    /// 4 for 2-, 3- and 4-bit codes (nibbles), 8 for 8-bit codes.
    let storedBits: Int
    /// Bytes of one (panel, block) of codes: 16 columns x blockSize codes.
    let blockBytes: Int
    let codes: UnsafeMutableRawPointer
    let scales: UnsafeMutablePointer<Float>
    /// nil when every zero point is `uniformZeroPoint`.
    let zeroPoints: UnsafeMutablePointer<UInt8>?
    let uniformZeroPoint: Int32

    /// Panel p, block b, at codes + (p * kBlocks + b) * blockBytes:
    ///   4-bit: blockSize / 8 octets of 64 bytes, each two 32-byte vectors (columns 0-7, 8-15); lane j
    ///          (4 bytes) of a vector holds byte r = code[k0 + r] | code[k0 + 4 + r] << 4 for its column j,
    ///          k0 = 8 * octet;
    ///   8-bit: blockSize / 4 quads of 64 bytes, two vectors; byte r of lane j is code[4 * quad + r].
    /// Codes past K and columns past N are 0. Scales: 16 floats per (panel, block), zero points 16 bytes;
    /// 0 for columns past N. The 64-byte alignment lets kernels use aligned loads.
    init(_ w: BlockWeight) throws(SQError) {
        let pw = BlockPacked.panelWidth
        panels = Checked.ceilDiv(w.n, pw)
        kBlocks = w.kBlocks
        blockSize = w.blockSize
        storedBits = w.bits == 8 ? 8 : 4
        blockBytes = pw * w.blockSize * storedBits / 8
        let pb = try Checked.mul(panels, kBlocks, "packed weight")
        let codeBytes = try Checked.mul(pb, blockBytes, "packed weight")
        let paramCount = try Checked.mul(pb, pw, "packed weight")
        codes = try allocateAligned(codeBytes)
        scales = try allocateAligned(paramCount * 4).bindMemory(to: Float.self, capacity: paramCount)
        uniformZeroPoint = Int32(w.midCode)
        zeroPoints = w.uniformZeroPoint ? nil : try allocateAligned(paramCount).bindMemory(to: UInt8.self, capacity: paramCount)
        codes.initializeMemory(as: UInt8.self, repeating: 0, count: codeBytes)
        scales.initialize(repeating: 0, count: paramCount)
        zeroPoints?.initialize(repeating: 0, count: paramCount)
        let c8 = codes.assumingMemoryBound(to: UInt8.self)
        let bs = w.blockSize, kb = kBlocks, bb = blockBytes, nibbles = storedBits == 4
        let (scales, zeroPoints) = (self.scales, self.zeroPoints)
        w.codes.withUnsafeBufferPointer { src in
            let src = src.baseAddress!
            parallelRows(panels, work: pw * w.k) { p in
                for j in 0..<Swift.min(pw, w.n - p * pw) {
                    let col = p * pw + j
                    let group = j / 8, lane = j % 8
                    for b in 0..<kb {
                        let dst = c8 + (p * kb + b) * bb
                        let k0 = b * bs
                        for i in 0..<Swift.min(bs, w.k - k0) {
                            let code = src[col * w.k + k0 + i]
                            if nibbles {
                                let octet = i / 8, r = i % 8
                                let at = octet * 64 + group * 32 + lane * 4 + r % 4
                                dst[at] |= r < 4 ? code : code << 4
                            } else {
                                dst[(i / 4) * 64 + group * 32 + lane * 4 + i % 4] = code
                            }
                        }
                        scales[(p * kb + b) * pw + j] = w.scales[col * kb + b]
                        zeroPoints?[(p * kb + b) * pw + j] = w.zeroPoints[col * kb + b]
                    }
                }
            }
        }
    }

    deinit {
        free(codes)
        free(scales)
        if let zeroPoints { free(zeroPoints) }
    }
}

private func allocateAligned(_ bytes: Int) throws(SQError) -> UnsafeMutableRawPointer {
    var p: UnsafeMutableRawPointer?
    guard posix_memalign(&p, 64, Swift.max(bytes, 64)) == 0, let p else {
        throw SQError(.outOfMemory, "packed weight: cannot allocate \(bytes) bytes")
    }
    return p
}

/// Activations quantized per block for the per_block mode: qx [m, kBlocks * blockSize] (0 past K),
/// sx and sums (sum_k qx) [m, kBlocks].
struct BlockActivations {
    var qx: [Int8]
    var sx: [Float]
    var sums: [Int32]
    let stride: Int

    /// The kernel record's vectorized row quantizer, or nil for this reference loop; both give the same bytes.
    typealias RowQuantizer = (_ x: UnsafePointer<Float>, _ k: Int, _ blockSize: Int, _ kBlocks: Int,
                              _ qx: UnsafeMutablePointer<Int8>, _ sx: UnsafeMutablePointer<Float>,
                              _ sums: UnsafeMutablePointer<Int32>) -> Void

    /// inputScales: each row is divided by them first, into a temporary row (on the stack when it fits).
    init(_ x: UnsafePointer<Float>, m: Int, k: Int, blockSize bs: Int, kBlocks kb: Int, rowQuantizer: RowQuantizer? = nil,
         inputScales: UnsafePointer<Float>? = nil) {
        stride = kb * bs
        qx = [Int8](repeating: 0, count: m * stride)
        sx = [Float](repeating: 0, count: m * kb)
        sums = [Int32](repeating: 0, count: m * kb)
        let stride = self.stride
        qx.withUnsafeMutableBufferPointer { qp in
            sx.withUnsafeMutableBufferPointer { sp in
                sums.withUnsafeMutableBufferPointer { up in
                    let q = qp.baseAddress!, s = sp.baseAddress!, u = up.baseAddress!
                    parallelRows(m, work: k) { row in
                        let quantizeRow = { (xr: UnsafePointer<Float>) in
                            if let rowQuantizer {
                                rowQuantizer(xr, k, bs, kb, q + row * stride, s + row * kb, u + row * kb)
                                return
                            }
                            for b in 0..<kb {
                                let k0 = b * bs, k1 = Swift.min(k0 + bs, k)
                                var amax: Float = 0
                                for i in k0..<k1 { amax = Swift.max(amax, abs(xr[i])) }
                                let scale = amax / 127
                                s[row * kb + b] = scale
                                guard scale != 0 else { continue }  // qx stays 0
                                var sum: Int32 = 0
                                for i in k0..<k1 {
                                    let v = Swift.min(Swift.max((xr[i] / scale).rounded(.toNearestOrEven), -127), 127)
                                    q[row * stride + i] = Int8(v)
                                    sum += Int32(v)
                                }
                                u[row * kb + b] = sum
                            }
                        }
                        guard let inputScales else { return quantizeRow(x + row * k) }
                        withUnsafeTemporaryAllocation(of: Float.self, capacity: k) { t in
                            let t = t.baseAddress!
                            for i in 0..<k { t[i] = x[row * k + i] / inputScales[i] }
                            quantizeRow(t)
                        }
                    }
                }
            }
        }
    }
}

/// Everything a block GEMM kernel reads and writes for rows 0..<m and panels `panels`.
struct BlockGemmArgs {
    let m: Int
    let n: Int
    let k: Int
    let weight: BlockWeight
    let packed: BlockPacked?
    /// per_block: the quantized activations.
    let qx: UnsafePointer<Int8>?
    let sx: UnsafePointer<Float>?
    let sums: UnsafePointer<Int32>?
    /// none: x rows zero-padded to kBlocks * blockSize floats.
    let x: UnsafePointer<Float>?
    let xStride: Int
    let bias: UnsafePointer<Float>?
    let y: UnsafeMutablePointer<Float>
}

/// A block GEMM kernel record. `run` computes the outputs of columns [16 p, 16 p + 16) for p in `panels`
/// (the reference ignores the packing and reads the BlockWeight).
struct BlockGemmKernel: KernelRecord {
    let name: String
    let isa: ISA
    let activation: BlockActivation
    let needsPacking: Bool
    /// per_block: quantizes x's rows (nil: the reference loop of BlockActivations).
    var rowQuantizer: BlockActivations.RowQuantizer? = nil
    let run: (_ args: BlockGemmArgs, _ panels: Range<Int>) -> Void
}

// MARK: - Reference kernels

func blockGemmPerBlockReference(_ a: BlockGemmArgs, _ panels: Range<Int>) {
    let w = a.weight, kb = w.kBlocks, bs = w.blockSize
    let qx = a.qx!, sx = a.sx!, sums = a.sums!
    w.codes.withUnsafeBufferPointer { codes in
        for row in 0..<a.m {
            for col in (panels.lowerBound * BlockPacked.panelWidth)..<Swift.min(a.n, panels.upperBound * BlockPacked.panelWidth) {
                var acc: Float = 0
                for b in 0..<kb {
                    var dot: Int32 = 0
                    for i in (b * bs)..<Swift.min(b * bs + bs, a.k) {
                        dot &+= Int32(qx[row * kb * bs + i]) &* Int32(codes[col * a.k + i])
                    }
                    let d = dot &- Int32(w.zeroPoints[col * kb + b]) &* sums[row * kb + b]
                    acc = acc.addingProduct(Float(d), sx[row * kb + b] * w.scales[col * kb + b])
                }
                a.y[row * a.n + col] = a.bias.map { acc + $0[col] } ?? acc
            }
        }
    }
}

func blockGemmWeightOnlyReference(_ a: BlockGemmArgs, _ panels: Range<Int>) {
    let w = a.weight, kb = w.kBlocks, bs = w.blockSize
    let x = a.x!
    w.codes.withUnsafeBufferPointer { codes in
        for row in 0..<a.m {
            for col in (panels.lowerBound * BlockPacked.panelWidth)..<Swift.min(a.n, panels.upperBound * BlockPacked.panelWidth) {
                var acc: Float = 0
                for b in 0..<kb {
                    let z = Int32(w.zeroPoints[col * kb + b])
                    var t: Float = 0
                    for i in (b * bs)..<Swift.min(b * bs + bs, a.k) {
                        t = t.addingProduct(x[row * a.xStride + i], Float(Int32(codes[col * a.k + i]) - z))
                    }
                    acc = acc.addingProduct(t, w.scales[col * kb + b])
                }
                a.y[row * a.n + col] = a.bias.map { acc + $0[col] } ?? acc
            }
        }
    }
}

// MARK: - The layer

final class BlockLinear {
    let weight: BlockWeight
    let bias: [Float]?
    /// s [K]: the layer computes (x / s) Wᵀ; nil for none.
    let inputScales: [Float]?
    let activation: BlockActivation
    let kernel: BlockGemmKernel
    let packed: BlockPacked?

    init(weight: BlockWeight, bias: UnsafePointer<Float>?, inputScales: UnsafePointer<Float>? = nil, activation: BlockActivation,
         kernel: BlockGemmKernel? = nil) throws(SQError) {
        self.weight = weight
        self.activation = activation
        if let bias {
            let b = UnsafeBufferPointer(start: bias, count: weight.n)
            if let i = b.firstIndex(where: { !$0.isFinite }) { throw SQError(.nonfinite, "bias: element \(i) is \(b[i])") }
            self.bias = Array(b)
        } else {
            self.bias = nil
        }
        if let inputScales {
            let s = UnsafeBufferPointer(start: inputScales, count: weight.k)
            if let i = s.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
                throw SQError(.invalidScale, "input_scales: element \(i) is \(s[i]); input scales must be finite and > 0")
            }
            self.inputScales = Array(s)
        } else {
            self.inputScales = nil
        }
        let k = kernel ?? Registry.blockGemm(activation)
        precondition(k.activation == activation)
        self.kernel = k
        packed = k.needsPacking ? try BlockPacked(weight) : nil
    }

    /// y [m, n] for x [m, k].
    func forward(_ x: UnsafePointer<Float>, rows m: Int, _ y: UnsafeMutablePointer<Float>) throws(SQError) {
        let w = weight, n = w.n, k = w.k
        if let i = UnsafeBufferPointer(start: x, count: m * k).firstIndex(where: { !$0.isFinite }) {
            throw SQError(.nonfinite, "x: element \(i) (row \(i / Swift.max(k, 1))) is \(x[i])")
        }
        if let s = inputScales {
            // A small scale can push a finite x past Float.max; the kernels must never see inf.
            for r in 0..<m {
                for i in 0..<k where !(x[r * k + i] / s[i]).isFinite {
                    throw SQError(.nonfinite, "x: element \(r * k + i) (row \(r)) is \(x[r * k + i]), and x / input_scales[\(i)] = \(x[r * k + i] / s[i]) overflows float32")
                }
            }
        }
        guard m > 0 && n > 0 else { return }
        let panels = Checked.ceilDiv(n, BlockPacked.panelWidth)
        let stride = w.kBlocks * w.blockSize
        func launch(_ args: BlockGemmArgs) {
            // Columns split across threads; each task runs every row over its panels (the panels' weights
            // are read from memory once).
            let tasks = Swift.min(panels, m * n * k >= 1 << 15 ? 4 * ThreadPool.shared.size : 1)
            let run = kernel.run
            ThreadPool.shared.parallelFor(tasks) { t in
                run(args, (panels * t / tasks)..<(panels * (t + 1) / tasks))
            }
        }
        try withOptionalPointer(bias) { (bp) throws(SQError) in
            try withOptionalPointer(inputScales) { (sp) throws(SQError) in
                switch activation {
                case .perBlock:
                    let acts = BlockActivations(x, m: m, k: k, blockSize: w.blockSize, kBlocks: w.kBlocks,
                                                rowQuantizer: kernel.rowQuantizer, inputScales: sp)
                    acts.qx.withUnsafeBufferPointer { q in
                        acts.sx.withUnsafeBufferPointer { s in
                            acts.sums.withUnsafeBufferPointer { u in
                                launch(BlockGemmArgs(m: m, n: n, k: k, weight: w, packed: packed, qx: q.baseAddress, sx: s.baseAddress,
                                                     sums: u.baseAddress, x: nil, xStride: 0, bias: bp, y: y))
                            }
                        }
                    }
                case .none:
                    // Rows padded with zeros to whole blocks (a zero term leaves the fma chain's bits unchanged).
                    var padded = [Float](repeating: 0, count: try Checked.mul(m, stride, "x"))
                    padded.withUnsafeMutableBufferPointer { p in
                        for r in 0..<m {
                            let dst = p.baseAddress! + r * stride
                            if let sp {
                                for i in 0..<k { dst[i] = x[r * k + i] / sp[i] }
                            } else {
                                dst.update(from: x + r * k, count: k)
                            }
                        }
                    }
                    padded.withUnsafeBufferPointer { p in
                        launch(BlockGemmArgs(m: m, n: n, k: k, weight: w, packed: packed, qx: nil, sx: nil, sums: nil,
                                             x: p.baseAddress, xStride: stride, bias: bp, y: y))
                    }
                }
            }
        }
    }
}

private func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) throws(SQError) -> R) throws(SQError) -> R {
    guard let a else { return try body(nil) }
    return try a.withUnsafeBufferPointer { (p) throws(SQError) in try body(p.baseAddress) }
}
