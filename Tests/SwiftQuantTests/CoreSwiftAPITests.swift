// The public Swift API beyond quantize: plain `import SwiftQuant`. Expected values are worked out by hand
// in the comments, not read back from the library.
import XCTest
import SwiftQuant

final class CoreSwiftAPITests: XCTestCase {
    func testObserverStreamsMergesAndSerializes() throws {
        // minmax over [-1, 2] then [-3, 1]: range [-3, 2]; uint8 asymmetric: scale 5/255,
        // zero point round(0 - (-3) / (5/255)) = round(153) = 153.
        var a = try CalibrationObserver(method: .minmax, dtype: .uint8)
        try a.update([-1, 2])
        var b = try CalibrationObserver(method: .minmax, dtype: .uint8)
        try b.update([-3, 1])
        try a.merge(b)
        XCTAssertEqual(try a.range().min, [-3])
        XCTAssertEqual(try a.range().max, [2])
        let p = try a.qparams()
        XCTAssertEqual(p.scale, [Float(5.0 / 255.0)])
        XCTAssertEqual(p.zeroPoint, [153])
        XCTAssertEqual(a.stats.batches, 2)
        XCTAssertEqual(a.stats.values, 4)
        let restored = try CalibrationObserver(serialized: try a.serialized())
        XCTAssertEqual(try restored.qparams(), p)
        XCTAssertEqual(restored.dtype, .uint8)
        // A setting the method does not use is refused, naming it.
        XCTAssertThrowsError(try CalibrationObserver(method: .minmax, percentile: 99)) { e in
            XCTAssertTrue((e as! SwiftQuantError).message.hasPrefix("percentile:"), "\(e)")
        }
        XCTAssertThrowsError(try CalibrationObserver(serialized: [1, 2, 3])) { e in
            XCTAssertEqual((e as! SwiftQuantError).kind, .invalidArgument)
        }
        // Per axis: column maxima of a 2 x 2 batch, symmetric int8: scale = amax / 127.
        var ax = try CalibrationObserver(dtype: .int8, symmetric: true, axis: 1)
        try ax.update([1, -4, 2, 3], shape: [2, 2])
        XCTAssertEqual(try ax.qparams().scale, [Float(2.0 / 127.0), Float(4.0 / 127.0)])
        XCTAssertEqual(try ax.qparams().axis, 1)
    }

    func testMatmulVariants() throws {
        // A [2, 2] int8, B [2, 2] uint8 with zero point 1: (A)(B - 1) by hand.
        let a: [Int8] = [1, 2, 3, 4], b: [UInt8] = [1, 2, 3, 4]   // B - 1 = [[0, 1], [2, 3]]
        XCTAssertEqual(try matmulShape([2, 2], [2, 2]), [2, 2])
        let c = try matmul(a, shape: [2, 2], b, shape: [2, 2], bZeroPoint: [1])
        XCTAssertEqual(c, [4, 7, 8, 15])  // [1*0+2*2, 1*1+2*3, 3*0+4*2, 3*1+4*3]
        // Float output: C * sa * sb + bias with sa = 0.5, sb = 0.25.
        let pa = QuantParams(scale: 0.5, dtype: .int8), pb = QuantParams(scale: 0.25, zeroPoint: 1, dtype: .uint8)
        let y = try matmulFloat(a, shape: [2, 2], params: pa, b, shape: [2, 2], params: pb, bias: [1, 0])
        let want: [Float] = [1.5, 0.875, 2, 1.875]  // [4, 7, 8, 15] * 0.125 + [1, 0, 1, 0]
        XCTAssertEqual(y, want)
        // Requantized to int8 with scale 0.125: y = C exactly; to uint8 with zero point 10: C + 10.
        let q: [Int8] = try qlinearMatmul(a, shape: [2, 2], params: pa, b, shape: [2, 2], params: pb,
                                          output: QuantParams(scale: 0.125, dtype: .int8))
        XCTAssertEqual(q, [4, 7, 8, 15])
        let qu: [UInt8] = try qlinearMatmul(a, shape: [2, 2], params: pa, b, shape: [2, 2], params: pb,
                                            output: QuantParams(scale: 0.125, zeroPoint: 10, dtype: .uint8))
        XCTAssertEqual(qu, [14, 17, 18, 25])
        // Packed B gives the same products.
        let packed = try PackedWeights(b, k: 2, n: 2, params: pb)
        XCTAssertEqual(try packed.matmul(a, shape: [2, 2]), c)
        XCTAssertEqual(try packed.matmulFloat(a, shape: [2, 2], params: pa, bias: [1, 0]), y)
        XCTAssertThrowsError(try matmul(a, shape: [2, 2], b, shape: [3, 1])) { e in
            XCTAssertEqual((e as! SwiftQuantError).kind, .shape)
        }
    }

    func testPackedQLinearMatmul() throws {
        // The data of testMatmulVariants: C = [4, 7, 8, 15], sa * sb = 0.125. Output scale 0.25, zero point 1:
        // y = round(C / 2 + 1) = round([3, 4.5, 5, 8.5]), the zero point added before rounding, so the
        // ties 4.5 and 8.5 go to 4 and 8 (half to even) or 5 and 9 (half away).
        let a: [Int8] = [1, 2, 3, 4], b: [UInt8] = [1, 2, 3, 4]
        let pa = QuantParams(scale: 0.5, dtype: .int8), pb = QuantParams(scale: 0.25, zeroPoint: 1, dtype: .uint8)
        let py = QuantParams(scale: 0.25, zeroPoint: 1, dtype: .int8)
        let packed = try PackedWeights(b, k: 2, n: 2, params: pb)
        XCTAssertEqual(try packed.qlinearMatmul(a, shape: [2, 2], params: pa, output: py) as [Int8], [3, 4, 5, 8])
        XCTAssertEqual(try packed.qlinearMatmul(a, shape: [2, 2], params: pa, output: py, rounding: .halfAway) as [Int8],
                       [3, 5, 5, 9])
        // uint8 output with zero point 250: C + 250 saturates at 255 from C = 6 on.
        let yu: [UInt8] = try packed.qlinearMatmul(a, shape: [2, 2], params: pa,
                                                   output: QuantParams(scale: 0.125, zeroPoint: 250, dtype: .uint8))
        XCTAssertEqual(yu, [254, 255, 255, 255])
        // The storage type must match output.dtype, and a's K must be the packed K.
        XCTAssertThrowsError(try packed.qlinearMatmul(a, shape: [2, 2], params: pa, output: py) as [UInt8]) { e in
            XCTAssertTrue((e as! SwiftQuantError).message.hasPrefix("output.dtype:"), "\(e)")
        }
        XCTAssertThrowsError(try packed.qlinearMatmul([Int8](repeating: 1, count: 6), shape: [2, 3], params: pa, output: py) as [Int8]) { e in
            XCTAssertEqual((e as! SwiftQuantError).kind, .shape, "\(e)")
        }
    }

    func testPackedQLinearMatmulEqualsUnpacked() throws {
        // A batched [2, 3, 5] int8 by B [5, 4] int8 with per-column scales and zero points: the packed path
        // must give the unpacked result bit for bit, for every rounding (stochastic with the same seed).
        let (k, n) = (5, 4)
        let a = (0..<30).map { Int8($0 * 37 % 255 - 127) }
        let b = (0..<(k * n)).map { Int8($0 * 53 % 255 - 127) }
        let pa = QuantParams(scale: 0.02, zeroPoint: -3, dtype: .int8)
        let pb = QuantParams(scale: [0.01, 0.015, 0.02, 0.03], zeroPoint: [0, 1, -2, 3], dtype: .int8, axis: 1)
        let py = QuantParams(scale: 0.05, zeroPoint: 7, dtype: .int8)
        let packed = try PackedWeights(b, k: k, n: n, params: pb)
        for rounding in [QuantRounding.nearestEven, .halfAway, .floor, .stochastic] {
            let want: [Int8] = try qlinearMatmul(a, shape: [2, 3, k], params: pa, b, shape: [k, n], params: pb,
                                                 output: py, rounding: rounding, seed: 42)
            let got: [Int8] = try packed.qlinearMatmul(a, shape: [2, 3, k], params: pa, output: py, rounding: rounding, seed: 42)
            XCTAssertEqual(got.count, 2 * 3 * n)
            XCTAssertEqual(got, want, "rounding \(rounding)")
        }
    }

    func testInt4PackingDynamicQuantizeAndReport() throws {
        // int4 -1 = 0xF, 7 = 0x7: byte 0 = 0x7F; 3 alone: 0x03 (odd count, high nibble 0).
        let packed = try packInt4([Int8(-1), 7, 3])
        XCTAssertEqual(packed, [0x7F, 0x03])
        XCTAssertEqual(try unpackInt4(packed, count: 3) as [Int8], [-1, 7, 3])
        XCTAssertEqual(try unpackInt4([0xF0], count: 2) as [UInt8], [0, 15])
        XCTAssertThrowsError(try packInt4([Int8(8)])) { e in XCTAssertEqual((e as! SwiftQuantError).kind, .outOfRange) }
        // Dynamic: x in [-1, 1.55]: scale = 2.55 / 255 = 0.01, zero point = round(1 / 0.01) = 100.
        let (q, scale, zp) = try dynamicQuantize([-1, 0, 1.55])
        XCTAssertEqual(scale, (Float(1.55) + 1) / 255)
        XCTAssertEqual(zp, 100)
        XCTAssertEqual(q, [0, 100, 255])
        // Report: scale 1, values 0.25 and 3 in int8 [-128, 127]: errors 0.25 and 0 -> mse 0.03125;
        // signal 0.0625 + 9; 200 clips to 127 (error 73).
        let r = try errorReport([0.25, 3], params: QuantParams(scale: 1))
        XCTAssertEqual(r.mse, 0.03125)
        XCTAssertEqual(r.sqnrDB, 10 * log10(9.0625 / 0.0625), accuracy: 1e-12)
        XCTAssertEqual(r.clipped, 0)
        let c = try errorReport([200, 1], params: QuantParams(scale: 1))
        XCTAssertEqual(c.clipped, 1)
        XCTAssertEqual(c.clippingMSE, 73.0 * 73.0 / 2)
        XCTAssertEqual(c.clippedFraction, 0.5)
        XCTAssertEqual(c.groups.count, 1)
    }

    func testVersionAndCPUInfo() {
        XCTAssertEqual(swiftQuantVersion.split(separator: ".").count, 3)
        let parts = swiftQuantVersion.split(separator: ".").map { Int($0)! }
        XCTAssertEqual(swiftQuantVersionNumber, parts[0] * 10000 + parts[1] * 100 + parts[2])
        let info = cpuInfo()
        XCTAssertNil(info.error)
        XCTAssertTrue(kernelName(.gemm).hasSuffix(info.isa == .reference ? "reference" : kernelName(.gemm).split(separator: "-").last.map(String.init)!))
        XCTAssertTrue(kernelName(.gemm).contains("gemm"))
    }
}

#if canImport(Glibc)
import Glibc
#endif
