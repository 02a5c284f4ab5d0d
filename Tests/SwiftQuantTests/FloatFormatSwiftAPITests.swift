// The float formats through the public Swift API (the same C exports as Python and C), against values
// worked out by hand from the formats' definitions.
import XCTest
import SwiftQuant

final class FloatFormatSwiftAPITests: XCTestCase {
    func testE4M3FNRoundTripByHand() throws {
        // amax 896 over E4M3FN's largest value 448: scale 2, zero point 0.
        let p = try calibrate([3, -896], dtype: .float8E4M3FN)
        XCTAssertEqual(p.scale, [2])
        XCTAssertEqual(p.zeroPoint, [0])
        XCTAssertEqual(QuantDType.float8E4M3FN.maxValue, 448)
        // 0.5 = 2^-1: exponent field -1 + 7 = 6, mantissa 0 -> 0x30; 448 -> 0x7E; 500 saturates to 0x7E.
        let x: [Float] = [1, -1, 896, 1000, .infinity, -0.0]
        let q = try quantize(x, params: p, as: UInt8.self)
        XCTAssertEqual(q, [0x30, 0xB0, 0x7E, 0x7E, 0x7E, 0x80])
        // Without saturation 500 rounds past 464, the midpoint above 448: NaN (0x7F); +inf too.
        let qn = try quantize(x, params: p, as: UInt8.self, saturate: false)
        XCTAssertEqual(qn, [0x30, 0xB0, 0x7E, 0x7F, 0x7F, 0x80])
        let back = try dequantize(q, params: p)
        XCTAssertEqual(back.map(\.bitPattern), ([1, -1, 896, 896, 896, -0.0] as [Float]).map(\.bitPattern))
        XCTAssertTrue(try dequantize(qn, params: p)[3].isNaN)
    }

    func testE5M2AndFNUZSpecials() throws {
        let e5 = QuantParams(scale: 1, dtype: .float8E5M2)
        // 61440 is the midpoint above 57344 (0x7B); the tie goes to the even code 0x7C, which is inf.
        XCTAssertEqual(try quantize([57344, 61439, 61440, .nan], params: e5, as: UInt8.self, saturate: false),
                       [0x7B, 0x7B, 0x7C, 0x7E])
        let fnuz = QuantParams(scale: 1, dtype: .float8E4M3FNUZ)
        // No -0 in FNUZ; 0x80 is its only NaN, given to NaN and (unsaturated) overflow alike.
        XCTAssertEqual(try quantize([-0.0, 240, 250, .nan], params: fnuz, as: UInt8.self, saturate: false), [0x00, 0x7F, 0x80, 0x80])
        XCTAssertTrue(try dequantize([UInt8(0x80)], params: fnuz)[0].isNaN)
    }

    func testFP4FakeQuantizeAndErrors() throws {
        // E2M1 values: 0, 0.5, 1, 1.5, 2, 3, 4, 6. In units of the scale: 0.4 -> 0.5; 2.5 is a tie between
        // 2 (mantissa 0) and 3: 2; 2.6 -> 3; 10 and -18 saturate to +-6.
        let p = QuantParams(scale: 0.5, dtype: .float4E2M1)
        XCTAssertEqual(try fakeQuantize([0.2, 1.25, 1.3, 5, -9], params: p), [0.25, 1, 1.5, 3, -3])
        XCTAssertThrowsError(try quantize([Float.nan], params: p, as: UInt8.self)) { e in
            XCTAssertTrue("\(e)".contains("no NaN"), "\(e)")
        }
        XCTAssertThrowsError(try dequantize([UInt8(16)], params: p)) { e in
            XCTAssertTrue("\(e)".contains("not a float4_e2m1 code"), "\(e)")
        }
        XCTAssertThrowsError(try quantize([1], params: p, as: UInt8.self, rounding: .halfAway)) { e in
            XCTAssertTrue("\(e)".contains("rounds to nearest even"), "\(e)")
        }
        XCTAssertThrowsError(try quantize([1], params: QuantParams(scale: 1, zeroPoint: 2, dtype: .float8E5M2), as: UInt8.self)) { e in
            XCTAssertTrue("\(e)".contains("float formats take zero point 0"), "\(e)")
        }
        XCTAssertThrowsError(try quantize([1], params: p, as: Int8.self)) { e in
            XCTAssertTrue("\(e)".contains("not stored as Int8"), "\(e)")
        }
        XCTAssertThrowsError(try quantize([1], params: QuantParams(scale: 1), as: Int8.self, saturate: false)) { e in
            XCTAssertTrue("\(e)".contains("always saturates"), "\(e)")
        }
    }
}
