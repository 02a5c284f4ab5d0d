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
