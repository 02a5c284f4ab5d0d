// The public Swift API of block-quantized weights as a package user sees it (no @testable). Expected values
// are worked out by hand from the rules in swiftquant.h.
import XCTest
import SwiftQuant

final class BlockWeightSwiftAPITests: XCTestCase {
    func testQuantizeByHandAndDequantize() throws {
        // One row, one block of 16: [3, -1, 0 ...]; v = 3, scale = 3 / -8 = -0.375; codes 3 -> 0, -1 -> 11, 0 -> 8.
        var w = [Float](repeating: 0, count: 16)
        w[0] = 3
        w[1] = -1
        let q = try QuantizedWeight(quantizing: w, n: 1, k: 16, bits: 4, blockSize: 16, symmetric: true)
        XCTAssertEqual(q.scales, [-0.375])
        XCTAssertEqual(q.zeroPoints, [8])
        XCTAssertEqual(Array(q.codes[0..<3]), [0, 11, 8])
        let d = try q.dequantize()
        XCTAssertEqual(d[0], 3)
        XCTAssertEqual(d[1], -1.125)  // (11 - 8) * -0.375
        // MatMulNBits bytes: element 0 low nibble, element 1 high nibble; round trip.
        let (b, z) = try q.matMulNBits()
        XCTAssertEqual(b.count, 8)
        XCTAssertEqual(b[0], 0 | 11 << 4)
        let back = try QuantizedWeight(matMulNBits: b, scales: q.scales, zeroPoints: z, n: 1, k: 16, bits: 4, blockSize: 16)
        XCTAssertEqual(back, q)
    }

    func testLayerPerBlockAndWeightOnly() throws {
        // codes [9, 7, 15], zero point 8, scale -0.5 (values -0.5, 0.5, -3.5), k = 3 in one block of 16.
        let q = QuantizedWeight(n: 1, k: 3, bits: 4, blockSize: 16, codes: [9, 7, 15], scales: [-0.5], zeroPoints: [8])
        // x = [63.5, -127, 31.75]: sx = 1, qx = [64, -127, 32], D = 64 + 127 + 224 = 415, y = 415 * -0.5 + 1.
        let perBlock = try BlockQuantizedLinear(q, bias: [1], activation: .perBlock)
        XCTAssertEqual(try perBlock([63.5, -127, 31.75]), [-206.5])
        // Weight-only: t = 63.5 + 127 + 222.25 = 412.75, y = 412.75 * -0.5 + 1.
        let weightOnly = try BlockQuantizedLinear(q, bias: [1], activation: .none)
        XCTAssertEqual(try weightOnly([63.5, -127, 31.75]), [-205.375])
    }

    func testErrorsNameTheArgument() {
        XCTAssertThrowsError(try QuantizedWeight(quantizing: [Float](repeating: 0, count: 32), n: 1, k: 32, bits: 5)) { e in
            XCTAssertTrue("\(e)".contains("bits 5"), "\(e)")
        }
        XCTAssertThrowsError(try QuantizedWeight(quantizing: [.nan] + [Float](repeating: 0, count: 31), n: 1, k: 32)) { e in
            XCTAssertTrue("\(e)".contains("SQ_ERROR_NONFINITE"), "\(e)")
        }
        let bad = QuantizedWeight(n: 1, k: 16, bits: 4, blockSize: 16, codes: [UInt8](repeating: 16, count: 16), scales: [1])
        XCTAssertThrowsError(try bad.dequantize()) { e in XCTAssertTrue("\(e)".contains("above the 4-bit maximum"), "\(e)") }
        XCTAssertThrowsError(try BlockQuantizedLinear(bad)) { e in XCTAssertTrue("\(e)".contains("codes"), "\(e)") }
    }
}

final class GGUFSwiftAPITests: XCTestCase {
    func testGGUFRoundTripAndWeights() throws {
        // One Q4_0 block: max = -8 at element 0 (first of largest |x|), d = -8 / -8 = 1, codes x / 1 + 8.5 truncated.
        var x = [Float](repeating: 0, count: 32)
        x[0] = -8
        x[1] = 3
        x[17] = 7
        let q = try ggufQuantize(x, type: .q4_0)
        XCTAssertEqual(q.count, 18)
        XCTAssertEqual(Array(q[0..<2]), [0x00, 0x3C])  // float16 1.0
        XCTAssertEqual(q[2], 0 | 8 << 4)      // element 0: -8 + 8.5 -> 0; element 16: 0 + 8.5 -> 8
        XCTAssertEqual(q[3], 11 | 15 << 4)    // element 1: 11; element 17: 7 + 8.5 = 15.5 -> 15
        XCTAssertEqual(try ggufDequantize(q, type: .q4_0), x)
        let w = try QuantizedWeight(gguf: q, type: .q4_0, n: 1, k: 32)
        XCTAssertEqual(try w.dequantize(), x)
        let w8 = try QuantizedWeight(gguf: try ggufQuantize(x, type: .q8_0), type: .q8_0, n: 1, k: 32)
        XCTAssertEqual(w8.zeroPoints, [128])
        XCTAssertEqual(try w8.dequantize(), try ggufDequantize(try ggufQuantize(x, type: .q8_0), type: .q8_0))
        XCTAssertThrowsError(try QuantizedWeight(gguf: try ggufQuantize(x, type: .q4_1), type: .q4_1, n: 1, k: 32))
        XCTAssertThrowsError(try ggufQuantize([1, 2, 3], type: .q8_0))
    }
}
