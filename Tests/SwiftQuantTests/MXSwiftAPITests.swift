// The MX formats through the public Swift API, against values worked out by hand from OCP MX v1.0.
import XCTest
import SwiftQuant

final class MXSwiftAPITests: XCTestCase {
    func testMXFP4ByHand() throws {
        // One block of 32: amax 12 -> floor(log2 12) = 3, minus E2M1's emax 2 -> X = 1, scale code 128.
        // Elements x / 2: 12 -> 6 (0x7), 5 -> 2.5 ties to 2 (0x4), -1 -> -0.5 (0x9), 0.2 -> 0.1 -> 0 (0x0).
        var x = [Float](repeating: 0, count: 40)
        x[0] = 12; x[1] = 5; x[2] = -1; x[3] = 0.2
        x[32] = 0.75  // the second, partial block (8 values): amax 0.75 -> X = -1 - 2 = -3, 0.75 * 8 = 6
        let t = try mxQuantize(x, format: .fp4)
        XCTAssertEqual(t.scales, [128, 124])
        XCTAssertEqual(Array(t.elements[0..<4]), [0x7, 0x4, 0x9, 0x0])
        XCTAssertEqual(t.elements[32], 0x7)
        let back = try mxDequantize(t)
        XCTAssertEqual(Array(back[0..<4]), [12, 4, -1, 0])
        XCTAssertEqual(back[32], 0.75)
    }

    func testAxisNaNAndErrors() throws {
        // 2 x 3, blocks along axis 0 (one per column, 2 elements each); a NaN makes its block's scale NaN.
        let x: [Float] = [1, .nan, -448, 2, 3, 0]
        let t = try mxQuantize(x, shape: [2, 3], axis: 0, format: .fp8E4M3)
        // Column 0: amax 2 -> X = 1 - 8 = -7 (code 120); column 2: amax 448 -> X = 0 (127); column 1: NaN.
        XCTAssertEqual(t.scales, [120, 255, 127])
        let back = try mxDequantize(t)
        XCTAssertEqual(back[0], 1)
        XCTAssertEqual(back[2], -448)
        XCTAssertTrue(back[1].isNaN && back[4].isNaN)
        var bad = try mxQuantize([1, 2], format: .fp4)
        bad.elements[1] = 16
        XCTAssertThrowsError(try mxDequantize(bad)) { e in XCTAssertTrue("\(e)".contains("OUT_OF_RANGE"), "\(e)") }
        XCTAssertThrowsError(try mxQuantize([1, 2], axis: 1, format: .int8))
    }
}
