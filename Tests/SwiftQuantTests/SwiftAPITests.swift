// The public Swift API as a package user sees it: a plain `import SwiftQuant`, no @testable. Expected
// values come from the notes' worked examples and from float arithmetic written out here.
import XCTest
import SwiftQuant

final class SwiftAPITests: XCTestCase {
    func testNotesWorkedExample() throws {
        // A in [-1.2, 1.0] to int8: S1 = 2.2 / 255, Z1 = round(-128 + 1.2 / S1) = round(11.09) = 11.
        let pa = try calibrate([-1.2, 1.0], dtype: .int8)
        XCTAssertEqual(pa.scale, [Float(2.2) / 255], "S1")
        XCTAssertEqual(pa.zeroPoint, [11])
        XCTAssertNil(pa.axis)
        // 0.3 / S1 = 34.77 -> 35, + 11 = 46; back: 35 * S1 = 0.30196.
        let q: [Int8] = try quantize([0.3], params: pa)
        XCTAssertEqual(q, [46])
        XCTAssertEqual(try dequantize(q, params: pa), [Float(35) * (Float(2.2) / 255)])
        // The notes truncate: floor(34.77) = 34.
        XCTAssertEqual(try quantize([0.3], params: pa, rounding: .floor) as [Int8], [45])
    }

    func testNotesSymmetricExample() throws {
        let x: [Float] = [10, -10, 0.11, 0.21, 0.15, 0.05, -0.14, -0.22, -0.08, -0.35]
        let p = try calibrate(x, dtype: .int8, symmetric: true)
        XCTAssertEqual(p.scale, [Float(10) / 127])
        XCTAssertEqual(p.zeroPoint, [0])
        // x * 127 / 10, rounded half to even by hand: 1.397 -> 1, 2.667 -> 3, ..., -4.445 -> -4.
        XCTAssertEqual(try quantize(x, params: p) as [Int8], [127, -127, 1, 3, 2, 1, -2, -3, -1, -4])
    }

    func testPerAxisAndStorageTypes() throws {
        // 2 x 3, one scale per column (axis 1): column ranges [0, 4], [-2, 0], [-1, 3] with 0 included.
        let x: [Float] = [1, -2, 3, 4, 0, -1]
        let p = try calibrate(x, shape: [2, 3], dtype: .uint8, axis: 1)
        XCTAssertEqual(p.scale, [Float(4) / 255, Float(2) / 255, Float(4) / 255])
        XCTAssertEqual(p.zeroPoint, [0, 255, 64])  // round(0 - rmin / S): 0, 255, 63.75 -> 64
        let q: [UInt8] = try quantize(x, shape: [2, 3], params: p, as: UInt8.self)
        let back = try dequantize(q, shape: [2, 3], params: p)
        for i in 0..<6 { XCTAssertEqual(back[i], x[i], accuracy: p.scale[i % 3] / 2 + 1e-6, "element \(i)") }
        XCTAssertEqual(try fakeQuantize(x, shape: [2, 3], params: p), back)
        // int4 lives in Int8, uint16 in UInt16.
        let p4 = QuantParams(scale: 0.5, dtype: .int4)
        XCTAssertEqual(try quantize([-9, 1.2, 3.3], params: p4) as [Int8], [-8, 2, 7])
        XCTAssertEqual(QuantDType.int4.range, -8...7)
        let p16 = QuantParams(scale: 1, zeroPoint: 100, dtype: .uint16)
        XCTAssertEqual(try quantize([-200, 5], params: p16, as: UInt16.self), [0, 105])
    }

    func testStorageInferredFromResultType() throws {
        // uint8, asymmetric over [0, 2.55]: scale 0.01, zero point 0; 1.005 / 0.01 = 100.5 -> 100 (half to even).
        let p = QuantParams(scale: 0.01, zeroPoint: 0, dtype: .uint8)
        let q: [UInt8] = try quantize([1.005, 3], params: p)
        XCTAssertEqual(q, [100, 255])
        XCTAssertThrowsError(try quantize([1], params: p) as [Int8]) { e in
            let err = e as! SwiftQuantError
            XCTAssertEqual(err.kind, .invalidArgument)
            XCTAssertTrue(err.message.contains("store UInt8"), err.message)
        }
        // One enum per concept: the core's names and the public ones are the same types.
        XCTAssertEqual(SwiftQuantError.Kind.nonfinite.name, "SQ_ERROR_NONFINITE")
        XCTAssertEqual(QuantDType.float8E4M3FN.name, "float8_e4m3fn")
    }

    func testErrorsNameTheProblem() {
        let p = QuantParams(scale: 0.1)
        XCTAssertThrowsError(try quantize([1], params: p, as: UInt8.self) as [UInt8]) { e in
            XCTAssertTrue(String(describing: e).contains("not stored as UInt8"), "\(e)")
        }
        XCTAssertThrowsError(try quantize([1, .nan], params: p) as [Int8]) { e in
            let err = e as! SwiftQuantError
            XCTAssertEqual(String(cString: sqStatusString(err.status)), "SQ_ERROR_NONFINITE")
            XCTAssertTrue(err.message.contains("element 1"), err.message)
        }
        XCTAssertThrowsError(try calibrate([1, 2, 3], shape: [2, 2])) { e in
            XCTAssertTrue((e as! SwiftQuantError).message.contains("3 element(s) but shape is [2, 2]"))
        }
        XCTAssertThrowsError(try calibrate([1, 2], shape: [2], axis: 1)) { e in
            XCTAssertTrue((e as! SwiftQuantError).message.contains("axis"), "\(e)")
        }
        var bad = p
        bad.zeroPoint = [0, 0]
        XCTAssertThrowsError(try fakeQuantize([1], params: bad))
        XCTAssertThrowsError(try dequantize([Int8(9)], params: QuantParams(scale: 1, dtype: .int4))) { e in
            XCTAssertEqual(String(cString: sqStatusString((e as! SwiftQuantError).status)), "SQ_ERROR_OUT_OF_RANGE")
        }
    }

    func testLinearLayerMatchesFloat() throws {
        var rng = SplitMix64(state: 112)  // seeded: a failure reruns identically
        let (rows, inF, outF) = (5, 64, 7)
        let w = (0..<(outF * inF)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<outF).map { _ in Float.random(in: -1...1, using: &rng) }
        let x = (0..<(rows * inF)).map { _ in Float.random(in: -1...1, using: &rng) }
        for activation in [QuantizedLinearLayer.Activation.perTensor, .perRow] {
            let layer = try QuantizedLinearLayer(weight: w, outFeatures: outF, inFeatures: inF, bias: b, activation: activation)
            let y = try layer(x)
            XCTAssertEqual(y.count, rows * outF)
            var err = 0.0, norm = 0.0
            for r in 0..<rows {
                for o in 0..<outF {
                    var ref = Double(b[o])
                    for k in 0..<inF { ref += Double(x[r * inF + k]) * Double(w[o * inF + k]) }
                    err += (Double(y[r * outF + o]) - ref) * (Double(y[r * outF + o]) - ref)
                    norm += ref * ref
                }
            }
            XCTAssertLessThan((err / norm).squareRoot(), 0.02, "\(activation)")  // int8 on both sides: about 1%
        }
        XCTAssertThrowsError(try QuantizedLinearLayer(weight: w, outFeatures: outF, inFeatures: inF + 1))
        XCTAssertThrowsError(try QuantizedLinearLayer(weight: w, outFeatures: Int.max, inFeatures: 2))  // no overflow trap
        XCTAssertThrowsError(try calibrate([1], shape: [Int.max, 2]))
        let layer = try QuantizedLinearLayer(weight: w, outFeatures: outF, inFeatures: inF)
        XCTAssertThrowsError(try layer([1, 2, 3]))
        XCTAssertThrowsError(try QuantizedLinearLayer(weight: [.nan] + w.dropFirst(), outFeatures: outF, inFeatures: inF))
    }
}
