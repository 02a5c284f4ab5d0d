// 4-bit packing through the C exports: every int4 and uint4 value in both nibbles, odd counts, the
// padding check, and the error codes.
import XCTest
import _SwiftQuantShims
@testable import SwiftQuant

final class Int4PackingTests: XCTestCase {
    func testEveryPairRoundTripsInOnnxLayout() {
        for (dtype, range) in [(DType.int4, -8...7), (.uint4, 0...15)] {
            // Every ordered pair of values, then one more so the count is odd.
            var q = [UInt8]()
            for a in range { for b in range { q += [UInt8(truncatingIfNeeded: a), UInt8(truncatingIfNeeded: b)] } }
            q.append(UInt8(truncatingIfNeeded: range.upperBound))
            var packed = [UInt8](repeating: 0xAA, count: (q.count + 1) / 2)
            XCTAssertEqual(sqPackInt4(q, Int64(q.count), dtype.rawValue, &packed, Int64(packed.count)), 0)
            for i in 0..<(q.count / 2) {
                XCTAssertEqual(packed[i], (q[2 * i] & 0xF) | (q[2 * i + 1] << 4), "byte \(i)")
            }
            XCTAssertEqual(packed.last, q.last! & 0xF, "odd count: high nibble 0")
            var back = [UInt8](repeating: 0x55, count: q.count)
            XCTAssertEqual(sqUnpackInt4(packed, Int64(packed.count), dtype.rawValue, &back, Int64(q.count)), 0)
            XCTAssertEqual(back, q, "\(dtype.name)")
        }
    }

    func testErrors() {
        var packed = [UInt8](repeating: 0, count: 2)
        let q: [UInt8] = [1, 0xF7, 3]  // 0xF7 = -9 as int4 storage, 247 as uint4
        XCTAssertEqual(sqPackInt4(q, 3, DType.int4.rawValue, &packed, 2), SQError.Kind.outOfRange.rawValue)
        XCTAssertTrue(String(cString: sq_last_error_message()).contains("element 1 is -9"))
        XCTAssertEqual(sqPackInt4(q, 3, DType.uint4.rawValue, &packed, 2), SQError.Kind.outOfRange.rawValue)
        XCTAssertTrue(String(cString: sq_last_error_message()).contains("element 1 is 247"))
        XCTAssertEqual(sqPackInt4(q, 3, DType.int8.rawValue, &packed, 2), SQError.Kind.invalidArgument.rawValue)
        XCTAssertEqual(sqPackInt4(q, 3, DType.int4.rawValue, &packed, 3), SQError.Kind.shape.rawValue)
        XCTAssertEqual(sqPackInt4(q, Int64.max, DType.int4.rawValue, &packed, 2), SQError.Kind.shape.rawValue)  // no overflow trap
        var out = [UInt8](repeating: 0, count: 4)
        let padded: [UInt8] = [0x21, 0x13]  // count 3: the high nibble of byte 1 must be 0
        XCTAssertEqual(sqUnpackInt4(padded, 2, DType.uint4.rawValue, &out, 3), SQError.Kind.invalidArgument.rawValue)
        XCTAssertTrue(String(cString: sq_last_error_message()).contains("padding nibble"))
        XCTAssertEqual(sqUnpackInt4(padded, 2, DType.uint4.rawValue, &out, 4), 0)
        XCTAssertEqual(out, [1, 2, 3, 1])
    }
}
