// AWQ-style quantization and SmoothQuant scales: the public Swift API (QuantizedWeight.awq,
// smoothQuantScales, the layer's input scales) and the core's helpers, against the rules of swiftquant.h
// ("Activation-aware weights") worked out here.
import XCTest
@testable import SwiftQuant

/// Deterministic data: a weight [n, k] and activations [m, k] with per-channel magnitudes 2^(j % 5 - 2) and
/// an outlier channel, so AWQ's search has something to find.
private func layerData(n: Int, k: Int, m: Int) -> (w: [Float], x: [Float]) {
    var state: UInt64 = 0x9E3779B97F4A7C15
    func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
    }
    let w = (0..<(n * k)).map { _ in next() }
    let x = (0..<(m * k)).map { i -> Float in
        let j = i % k
        return next() * Float(1 << (j % 5)) / 4 * (j == 3 ? 40 : 1)
    }
    return (w, x)
}

final class AWQTests: XCTestCase {
    func testSearchImprovesOnRTNAndTheLayerDividesBySFirst() throws {
        let (n, k, m) = (24, 96, 40)
        let (w, x) = layerData(n: n, k: k, m: m)
        let (q, report) = try QuantizedWeight.awq(weight: w, rows: n, columns: k, bits: 4, blockSize: 32, activations: x)
        let s = try XCTUnwrap(q.inputScales)
        XCTAssertEqual(s.count, k)
        XCTAssertTrue(s.allSatisfy { $0.isFinite && $0 > 0 })
        XCTAssertEqual(report.rowsUsed, m)
        XCTAssertGreaterThan(report.ratio, 0)
        XCTAssertLessThan(report.errorAfter, report.errorBefore)
        XCTAssertLessThan(report.relativeErrorAfter, report.relativeErrorBefore)

        // errorBefore is the output error of plain RTN on the same rows (float64 here, float32 products there).
        let rtn = try QuantizedWeight(quantizing: w, n: n, k: k, bits: 4, blockSize: 32).dequantize()
        XCTAssertEqual(outputError(x, rtn, w, n: n, k: k), report.errorBefore, accuracy: 1e-4 * report.errorBefore)
        XCTAssertEqual(outputError(x, try q.dequantize(), w, n: n, k: k), report.errorAfter, accuracy: 1e-4 * report.errorAfter)

        // The layer equals the unscaled layer on x / s, bit for bit, in both modes.
        let plain = QuantizedWeight(n: n, k: k, bits: 4, blockSize: 32, codes: q.codes, scales: q.scales, zeroPoints: q.zeroPoints)
        let xs = x.indices.map { x[$0] / s[$0 % k] }
        for mode in [BlockQuantizedLinear.Activation.perBlock, .none] {
            XCTAssertEqual(try BlockQuantizedLinear(q, activation: mode)(x), try BlockQuantizedLinear(plain, activation: mode)(xs))
        }
        // dequantize() is the effective weight deq / s.
        let deq = try plain.dequantize()
        XCTAssertEqual(try q.dequantize(), deq.indices.map { deq[$0] / s[$0 % k] })
    }

    func testMatMulNBitsRefusesInputScales() throws {
        let (w, x) = layerData(n: 8, k: 32, m: 8)
        let (q, _) = try QuantizedWeight.awq(weight: w, rows: 8, columns: 32, blockSize: 32, activations: x)
        XCTAssertThrowsError(try q.matMulNBits()) { e in
            XCTAssertTrue("\(e)".contains("Fold 1 / s into the previous operation"), "\(e)")
        }
        let plain = QuantizedWeight(n: 8, k: 32, bits: 4, blockSize: 32, codes: q.codes, scales: q.scales, zeroPoints: q.zeroPoints)
        XCTAssertEqual(try q.matMulNBits(allowInputScales: true).b, try plain.matMulNBits().b)
    }

    func testErrorsNameTheArgument() {
        let (w, x) = layerData(n: 4, k: 32, m: 4)
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        var bad = x
        bad[5] = .nan
        XCTAssertTrue(message { _ = try QuantizedWeight.awq(weight: w, rows: 4, columns: 32, activations: bad) }
            .contains("activations x: element 5 (row 0, column 5) is nan"))
        XCTAssertTrue(message { _ = try QuantizedWeight.awq(weight: w, rows: 4, columns: 32, activations: []) }.contains("no rows"))
        XCTAssertTrue(message { _ = try QuantizedWeight.awq(weight: w, rows: 4, columns: 32, activations: Array(x.dropLast())) }
            .contains("not a multiple of columns = 32"))
        XCTAssertTrue(message { _ = try QuantizedWeight.awq(weight: w, rows: 4, columns: 32, blockSize: 20, activations: x) }
            .contains("block_size 20"))
        let q = QuantizedWeight(n: 1, k: 16, bits: 4, blockSize: 16, codes: [UInt8](repeating: 8, count: 16), scales: [1],
                                inputScales: [Float](repeating: 0, count: 16))
        XCTAssertTrue(message { _ = try BlockQuantizedLinear(q) }.contains("inputScales: element 0 is 0.0"))
    }

    // MARK: - core helpers

    func testCalibrationRowsAreEvenlySpreadWithoutOverflow() {
        XCTAssertEqual(calibrationRows(5, limit: 512), [0, 1, 2, 3, 4])
        let rows = calibrationRows(777, limit: 512)
        XCTAssertEqual(rows, (0..<512).map { $0 * 777 / 512 })
        let huge = calibrationRows(Int.max, limit: 512)  // i * rows would overflow
        XCTAssertEqual(huge.count, 512)
        for (i, r) in huge.enumerated() {
            XCTAssertEqual(r, 512.dividingFullWidth(i.multipliedFullWidth(by: Int.max)).quotient)  // exact i * rows / 512
        }
    }

    func testRatioScalesAreNormalized() {
        // mean_abs [4, 1, 0.25] at r = 1: s = [4, 1, 0.25] / sqrt(4 * 0.25) = [4, 1, 0.25]; r = 0.5: [2, 1, 0.5].
        XCTAssertEqual(AWQ.ratioScales([4, 1, 0.25], ratio: 1), [4, 1, 0.25])
        XCTAssertEqual(AWQ.ratioScales([4, 1, 0.25], ratio: 0.5), [2, 1, 0.5])
        XCTAssertEqual(AWQ.ratioScales([3, 0, 7], ratio: 0), [1, 1, 1])  // r = 0: s = 1 (0^0 = 1)
        // A dead channel gets the 1e-4 floor before normalization.
        let s = AWQ.ratioScales([1, 0], ratio: 1)
        XCTAssertEqual(s[0] / s[1], 1e4, accuracy: 1)
    }

    func testQuantizeBlockIsTheRTNRule() throws {
        let (w, _) = layerData(n: 3, k: 40, m: 1)
        for symmetric in [true, false] {
            let q = try w.withUnsafeBufferPointer { (p) throws(SQError) in
                try BlockWeight.quantize(p.baseAddress!, n: 3, k: 40, bits: 4, blockSize: 16, symmetric: symmetric)
            }
            var codes = [UInt8](repeating: 0, count: 8)
            // Row 2, block 2: the partial block k = 32 ..< 40.
            let (scale, zp) = w.withUnsafeBufferPointer { p in
                codes.withUnsafeMutableBufferPointer { c in
                    BlockWeight.quantizeBlock(p.baseAddress! + 2 * 40 + 32, count: 8, bits: 4, symmetric: symmetric, codes: c.baseAddress!)
                }
            }
            XCTAssertEqual(scale, q.scales[2 * 3 + 2])
            XCTAssertEqual(zp, q.zeroPoints[2 * 3 + 2])
            XCTAssertEqual(codes, Array(q.codes[(2 * 40 + 32)..<(3 * 40)]))
        }
    }

    func testTransposeAndTiledProducts() {
        let (rows, cols) = (37, 70)
        let a = (0..<(rows * cols)).map { Float($0 % 13) - 6 }
        var t = [Float](repeating: 0, count: rows * cols)
        a.withUnsafeBufferPointer { ap in t.withUnsafeMutableBufferPointer { transpose(ap.baseAddress!, rows: rows, cols: cols, into: $0.baseAddress!) } }
        for i in 0..<rows { for j in 0..<cols { XCTAssertEqual(t[j * rows + i], a[i * cols + j]) } }
        // Σ_t (x · d_o)² for integer data is exact: compare with a direct loop.
        let (n, k, m) = (9, 5, 7)
        let x = (0..<(m * k)).map { Float(($0 * 7) % 5) - 2 }, d = (0..<(n * k)).map { Float(($0 * 3) % 7) - 3 }
        var xT = [Float](repeating: 0, count: m * k), dT = [Float](repeating: 0, count: n * k)
        x.withUnsafeBufferPointer { p in xT.withUnsafeMutableBufferPointer { transpose(p.baseAddress!, rows: m, cols: k, into: $0.baseAddress!) } }
        d.withUnsafeBufferPointer { p in dT.withUnsafeMutableBufferPointer { transpose(p.baseAddress!, rows: n, cols: k, into: $0.baseAddress!) } }
        var sums = [Double](repeating: -1, count: n)
        xT.withUnsafeBufferPointer { xp in
            dT.withUnsafeBufferPointer { dp in
                sums.withUnsafeMutableBufferPointer {
                    productColumnSumsOfSquares(xT: xp.baseAddress!, ldx: m, t: m, dT: dp.baseAddress!, ldd: n, n: n, k: k, into: $0.baseAddress!)
                }
            }
        }
        for o in 0..<n {
            var want = 0.0
            for r in 0..<m {
                var e = 0.0
                for j in 0..<k { e += Double(x[r * k + j]) * Double(d[o * k + j]) }
                want += e * e
            }
            XCTAssertEqual(sums[o], want)
        }
        XCTAssertEqual(firstArgmin([3, .nan, 1, 1, .infinity]), 2)
        XCTAssertNil(firstArgmin([.nan, .infinity]))
    }

    func testRelativeErrorIsNeverNaN() {
        // fuzz_awq found plain RTN's error and the signal mean((x wᵀ)²) both overflowing: inf / inf was NaN.
        XCTAssertEqual(relativeError(.infinity, signal: .infinity), .infinity)
        XCTAssertEqual(relativeError(.infinity, signal: 2), .infinity)
        XCTAssertEqual(relativeError(390924, signal: .infinity), 0)
        XCTAssertEqual(relativeError(3, signal: 2), 1.5)
        XCTAssertEqual(relativeError(0, signal: 0), 0)
        XCTAssertEqual(relativeError(1, signal: 0), .infinity)
    }
}

final class AWQSmoothQuantTests: XCTestCase {
    func testFormulaByHand() throws {
        // act [16, 1, 0], column maxima of w [4, 1, 0 -> 1e-5]; alpha 0.5: s = [16^.5 / 4^.5, 1, max(0, 1e-5)].
        let w: [Float] = [4, -1, 0,
                          -2, 0.5, 0]
        let r = try smoothQuantScales(actAbsmax: [16, 1, 0], weight: w, rows: 2, columns: 3, alpha: 0.5)
        XCTAssertEqual(r.scales, [2, 1, 1e-5])
        XCTAssertEqual(r.alpha, 0.5)
        XCTAssertNil(r.error)
        XCTAssertNil(r.errorUnsmoothed)
        // alpha 1: s = act (floored); alpha 0: 1 / wmax.
        XCTAssertEqual(try smoothQuantScales(actAbsmax: [16, 1, 0], weight: w, rows: 2, columns: 3, alpha: 1).scales, [16, 1, 1e-5])
        XCTAssertEqual(try smoothQuantScales(actAbsmax: [16, 1, 0], weight: w, rows: 2, columns: 3, alpha: 0).scales, [0.25, 1, 1e5])
    }

    func testAutoSearchesTheGridAndReportsErrors() throws {
        let (n, k, m) = (16, 40, 30)
        let (w, x) = layerData(n: n, k: k, m: m)
        let r = try smoothQuantScales(weight: w, rows: n, columns: k, alpha: .auto, activations: x)
        XCTAssertEqual((r.alpha * 20).rounded(), r.alpha * 20)
        let e = try XCTUnwrap(r.error), u = try XCTUnwrap(r.errorUnsmoothed)
        XCTAssertLessThan(e, u)  // the outlier channel makes per-tensor int8 activations poor unsmoothed
        // The chosen alpha's scales and error are those of a fixed call at that alpha.
        let fixed = try smoothQuantScales(weight: w, rows: n, columns: k, alpha: .fixed(r.alpha), activations: x)
        XCTAssertEqual(fixed, r)
        // act_absmax computed from x when omitted.
        var act = [Float](repeating: 0, count: k)
        for i in x.indices { act[i % k] = max(act[i % k], abs(x[i])) }
        XCTAssertEqual(try smoothQuantScales(actAbsmax: act, weight: w, rows: n, columns: k, alpha: .auto, activations: x), r)
    }

    func testErrorsNameTheArgument() {
        let w = [Float](repeating: 1, count: 8)
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        XCTAssertTrue(message { _ = try smoothQuantScales(actAbsmax: [1, 1, 1, 1], weight: w, rows: 2, columns: 4, alpha: 1.5) }
            .contains("alpha 1.5"))
        XCTAssertTrue(message { _ = try smoothQuantScales(actAbsmax: [1, 1, 1, 1], weight: w, rows: 2, columns: 4, alpha: -1) }
            .contains("alpha -1.0"))
        XCTAssertTrue(message { _ = try smoothQuantScales(actAbsmax: [1, 1, 1, 1], weight: w, rows: 2, columns: 4, alpha: .auto) }
            .contains("alpha auto needs calibration activations x"))
        XCTAssertTrue(message { _ = try smoothQuantScales(actAbsmax: [1, .nan, 1, 1], weight: w, rows: 2, columns: 4) }
            .contains("act_absmax: element 1 is nan"))
        XCTAssertTrue(message { _ = try smoothQuantScales(weight: w, rows: 2, columns: 4) }.contains("no x to compute it from"))
        XCTAssertTrue(message { _ = try smoothQuantScales(weight: w, rows: 2, columns: 4, activations: []) }.contains("positive multiple"))
        XCTAssertTrue(message { _ = try smoothQuantScales(weight: w, rows: 2, columns: 4, activations: [1, 2, .infinity, 4]) }
            .contains("x: element 2 (row 0, column 2) is inf"))
    }
}

/// mean over (rows, n) of (x (wq - w)ᵀ)², float64.
private func outputError(_ x: [Float], _ wq: [Float], _ w: [Float], n: Int, k: Int) -> Double {
    let m = x.count / k
    var total = 0.0
    for r in 0..<m {
        for o in 0..<n {
            var e = 0.0
            for j in 0..<k { e += Double(x[r * k + j]) * (Double(wq[o * k + j]) - Double(w[o * k + j])) }
            total += e * e
        }
    }
    return total / Double(m * n)
}
