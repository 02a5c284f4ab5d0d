// The block-weight GEMM records of the kernel registry (Registry.blockGemmPerBlock / blockGemmWeightOnly),
// each against its table's reference record, bit for bit: every bit width, symmetric and asymmetric zero
// points, block sizes 16 ... 256, K not a multiple of the block (partial blocks, tails of the 8-k octet),
// N not a multiple of the 32-column panel, M across the 4-row tile and its 1-row tail, bias and no bias,
// all-zero activation blocks (sx = 0), extreme codes and negative or zero scales. Records this CPU cannot
// run are skipped, never counted as passing.
import XCTest
@testable import SwiftQuant

final class BlockGemmTests: XCTestCase {
    struct Case {
        let m: Int, n: Int, k: Int, bits: Int, bs: Int, symmetric: Bool, bias: Bool
    }

    static let cases: [Case] = {
        var c: [Case] = []
        for bits in [2, 3, 4, 8] {
            for (bs, k) in [(16, 16), (16, 37), (32, 96), (32, 100), (64, 64), (128, 300), (256, 129)] {
                for (m, n) in [(1, 1), (1, 33), (3, 64), (4, 31), (5, 70), (9, 32), (13, 17)] {
                    c.append(Case(m: m, n: n, k: k, bits: bits, bs: bs, symmetric: (m + n + bits) % 2 == 0, bias: n % 2 == 1))
                }
            }
        }
        return c
    }()

    /// A weight with extreme codes, zero points across the range, and scales of both signs (some zero).
    static func weight(_ c: Case, _ rng: inout SplitMix64) -> BlockWeight {
        let kb = (c.k + c.bs - 1) / c.bs, top = (1 << c.bits) - 1
        let codes = (0..<(c.n * c.k)).map { i -> UInt8 in
            switch i % 11 { case 0: 0; case 1: UInt8(top); default: UInt8.random(in: 0...UInt8(top), using: &rng) }
        }
        let scales = (0..<(c.n * kb)).map { i -> Float in i % 13 == 5 ? 0 : Float.random(in: -0.2...0.2, using: &rng) }
        let zps = (0..<(c.n * kb)).map { i -> UInt8 in c.symmetric ? UInt8(1 << (c.bits - 1)) : UInt8(i % (top + 1)) }
        return BlockWeight(n: c.n, k: c.k, bits: c.bits, blockSize: c.bs, kBlocks: kb, codes: codes, scales: scales, zeroPoints: zps)
    }

    /// x with an all-zero block in row 0 (sx = 0), exact ties for the int8 rounding, and large magnitudes.
    static func input(_ c: Case, _ rng: inout SplitMix64) -> [Float] {
        var x = (0..<(c.m * c.k)).map { _ in Float.random(in: -3...3, using: &rng) }
        for i in 0..<Swift.min(c.bs, c.k) { x[i] = 0 }
        if c.m > 1 { x[c.k] = 127; x[c.k + 1] = 0.5; x[c.k + 2] = -1.5 }  // qx = 127, 0.5 and -1.5 exactly: ties
        if c.m > 2 { x[2 * c.k] = 1e30 }
        return x
    }

    func runnable(_ records: [BlockGemmKernel]) throws -> [BlockGemmKernel] {
        let r = records.filter { $0.isa != .reference && Dispatch.supported($0.isa, dispatch.features) }
        if r.isEmpty { throw XCTSkip("no optimized record of \(records.map(\.name)) can run on this CPU") }
        return r
    }

    func sweep(_ records: [BlockGemmKernel], _ activation: BlockActivation) throws {
        let fast = try runnable(records)
        var rng = SplitMix64(state: 20261201)
        for c in BlockGemmTests.cases {
            let w = BlockGemmTests.weight(c, &rng)
            let x = BlockGemmTests.input(c, &rng)
            let bias = (0..<c.n).map { _ in Float.random(in: -1...1, using: &rng) }
            func run(_ kernel: BlockGemmKernel) throws -> [Float] {
                var y = [Float](repeating: .nan, count: c.m * c.n)
                try bias.withUnsafeBufferPointer { (b) throws in
                    let layer = try BlockLinear(weight: w, bias: c.bias ? b.baseAddress : nil, activation: activation, kernel: kernel)
                    try x.withUnsafeBufferPointer { (xp) throws in
                        try y.withUnsafeMutableBufferPointer { (yp) throws in
                            try layer.forward(xp.baseAddress!, rows: c.m, yp.baseAddress!)
                        }
                    }
                }
                return y
            }
            let want = try run(records[0])
            XCTAssertFalse(want.contains { $0.isNaN }, "reference left an output unwritten for \(c)")
            for kernel in fast {
                let got = try run(kernel)
                for i in 0..<want.count where got[i].bitPattern != want[i].bitPattern {
                    XCTFail("\(kernel.name) \(c): y[\(i / c.n), \(i % c.n)] = \(got[i]), reference \(want[i])")
                    break
                }
            }
        }
    }

    func testPerBlockRecordsMatchReference() throws { try sweep(Registry.blockGemmPerBlock, .perBlock) }
    func testWeightOnlyRecordsMatchReference() throws { try sweep(Registry.blockGemmWeightOnly, .none) }

    /// The reference itself, on a case small enough to check by hand: K = 3 in one block of 16, bits 4.
    func testPerBlockReferenceByHand() throws {
        // w row: codes [9, 7, 15], zero point 8, scale -0.5  ->  values [-0.5, 0.5, -3.5]
        let w = BlockWeight(n: 1, k: 3, bits: 4, blockSize: 16, kBlocks: 1, codes: [9, 7, 15], scales: [-0.5], zeroPoints: [8])
        // x = [63.5, -127, 31.75]: sx = 127 / 127 = 1, qx = [64 (a tie, to even), -127, 32]
        let x: [Float] = [63.5, -127, 31.75]
        // D = 64 * 1 + (-127) * (-1) + 32 * 7 = 415;  y = f32(415) * (1 * -0.5)
        var y: [Float] = [0]
        let layer = try BlockLinear(weight: w, bias: nil, activation: .perBlock, kernel: Registry.blockGemmPerBlock[0])
        try layer.forward(x, rows: 1, &y)
        XCTAssertEqual(y[0], -207.5)
        // Weight-only: t = 63.5 * 1 + (-127) * (-1) + 31.75 * 7 = 412.75 (exact), y = t * -0.5
        let wo = try BlockLinear(weight: w, bias: [1], activation: .none, kernel: Registry.blockGemmWeightOnly[0])
        try wo.forward(x, rows: 1, &y)
        XCTAssertEqual(y[0], -206.375 + 1)
    }

    /// ORT's quantizer rule on a block whose extremes tie in magnitude: the minimum wins (scale positive).
    func testSymmetricTieTakesTheMinimum() throws {
        let w: [Float] = [2, -2] + [Float](repeating: 0, count: 14)
        let q = try BlockWeight.quantize(w, n: 1, k: 16, bits: 4, blockSize: 16, symmetric: true)
        XCTAssertEqual(q.scales, [0.25])  // -2 / -8
        XCTAssertEqual(Array(q.codes[0..<2]), [15, 0])  // 2 * 4 + 8 = 16, clamped to 15; -2 * 4 + 8 = 0
        let p = try BlockWeight.quantize([3, -1] + [Float](repeating: 0, count: 14), n: 1, k: 16, bits: 4, blockSize: 16, symmetric: true)
        XCTAssertEqual(p.scales, [-0.375])  // 3 / -8: the positive extreme maps to code 0
        XCTAssertEqual(Array(p.codes[0..<3]), [0, 11, 8])  // -1 * (1 / -0.375) + 8 = 10.67 -> 11; 0 -> 8
    }
}
