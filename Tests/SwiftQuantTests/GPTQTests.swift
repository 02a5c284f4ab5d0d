// GPTQ's linear algebra (Linalg/Cholesky.swift) against products computed here, and GPTQ through the
// Swift API: better than round-to-nearest on the Hessian's error, the damping fallback, argument errors.
// (The loop itself is checked against an independent NumPy transcription in Tests/python/test_gptq.py.)
import XCTest
@testable import SwiftQuant

final class GPTQTests: XCTestCase {
    /// A = B Bᵀ + n·I for a seeded B: symmetric positive definite.
    static func spd(_ n: Int, seed: UInt64) -> [Double] {
        var rng = SplitMix64(state: seed)
        let b = (0..<(n * n)).map { _ in Double.random(in: -1...1, using: &rng) }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n {
            var s = 0.0
            for p in 0..<n { s += b[i * n + p] * b[j * n + p] }
            a[i * n + j] = s + (i == j ? Double(n) : 0)
        } }
        return a
    }

    func testCholeskyAndInverseReproduceTheMatrix() {
        for n in [1, 2, 5, 16, 17, 127, 128, 129, 300] {
            let a = Self.spd(n, seed: UInt64(n))
            var l = a
            XCTAssertTrue(l.withUnsafeMutableBufferPointer { choleskyLower($0.baseAddress!, n: n) }, "n=\(n)")
            let scale = a.map(abs).max()!
            for i in 0..<n { for j in 0..<n {
                if j > i { XCTAssertEqual(l[i * n + j], 0, "n=\(n): upper [\(i), \(j)]"); continue }
                var s = 0.0
                for p in 0...j { s += l[i * n + p] * l[j * n + p] }
                XCTAssertEqual(s, a[i * n + j], accuracy: 1e-12 * scale * Double(n), "n=\(n): (L Lᵀ)[\(i), \(j)]")
            } }
            let x = l.withUnsafeBufferPointer { lowerInverse($0.baseAddress!, n: n) }
            for i in 0..<n { for j in 0..<n {
                if j > i { XCTAssertEqual(x[i * n + j], 0); continue }
                var s = 0.0
                for p in j...i { s += l[i * n + p] * x[p * n + j] }
                XCTAssertEqual(s, i == j ? 1 : 0, accuracy: 1e-11, "n=\(n): (L L⁻¹)[\(i), \(j)]")
            } }
        }
    }

    func testCholeskyRefusesWhatIsNotPositiveDefinite() {
        var singular: [Double] = [1, 1, 1, 1]  // pivot 1 - 1 = 0 exactly
        XCTAssertFalse(singular.withUnsafeMutableBufferPointer { choleskyLower($0.baseAddress!, n: 2) })
        var indefinite = Self.spd(200, seed: 9)
        indefinite[150 * 200 + 150] = -1
        XCTAssertFalse(indefinite.withUnsafeMutableBufferPointer { choleskyLower($0.baseAddress!, n: 200) })
        var nan = Self.spd(130, seed: 3)
        nan[129 * 130 + 129] = .nan
        XCTAssertFalse(nan.withUnsafeMutableBufferPointer { choleskyLower($0.baseAddress!, n: 130) })
    }

    /// Correlated inputs x = z M: the Hessian has strong off-diagonal structure for GPTQ to use.
    static func layer(n: Int, k: Int, seed: UInt64) -> (w: [Float], h: [Double]) {
        var rng = SplitMix64(state: seed)
        let rows = 3 * k
        let m = (0..<(k * k)).map { i in (i % (k + 1) == 0 ? 1 : 0) + Float.random(in: -0.3...0.3, using: &rng) }
        let z = (0..<(rows * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        var h = [Double](repeating: 0, count: k * k)
        var x = [Double](repeating: 0, count: k)
        for r in 0..<rows {
            for j in 0..<k { var s: Float = 0; for p in 0..<k { s += z[r * k + p] * m[p * k + j] }; x[j] = Double(s) }
            for i in 0..<k { for j in 0..<k { h[i * k + j] += x[i] * x[j] / Double(rows) } }
        }
        return ((0..<(n * k)).map { _ in Float.random(in: -0.1...0.1, using: &rng) }, h)
    }

    /// Σ eᵀ H e, e = w − dequantized.
    static func error(_ w: [Float], _ q: QuantizedWeight, _ h: [Double]) throws -> Double {
        let d = try q.dequantize()
        let n = q.n, k = q.k
        var total = 0.0
        for r in 0..<n {
            for i in 0..<k {
                let ei = Double(w[r * k + i] - d[r * k + i])
                for j in 0..<k { total += ei * h[i * k + j] * Double(w[r * k + j] - d[r * k + j]) }
            }
        }
        return total
    }

    func testBeatsRoundToNearestAndReportsIt() throws {
        let (n, k) = (24, 64)
        let (w, h) = Self.layer(n: n, k: k, seed: 42)
        let rtn = try QuantizedWeight(quantizing: w, n: n, k: k, bits: 4, blockSize: 16, symmetric: false)
        for actOrder in [false, true] {
            let (q, report) = try QuantizedWeight.gptq(quantizing: w, n: n, k: k, hessian: h, bits: 4, blockSize: 16, symmetric: false,
                                                        actOrder: actOrder)
            let eg = try Self.error(w, q, h), er = try Self.error(w, rtn, h)
            XCTAssertLessThan(eg, 0.9 * er, "actOrder \(actOrder)")
            XCTAssertEqual(report.damp, 0.01)
            XCTAssertEqual(report.rowsMeasured, n)
            XCTAssertLessThan(report.relativeErrorAfter, report.relativeErrorBefore)
            var signal = 0.0
            for r in 0..<n { for i in 0..<k { for j in 0..<k { signal += Double(w[r * k + i]) * h[i * k + j] * Double(w[r * k + j]) } } }
            XCTAssertEqual(report.relativeErrorAfter, eg / signal, accuracy: 1e-4 * eg / signal)  // H e in float32
            if actOrder {  // static groups: RTN's parameters
                XCTAssertEqual(q.scales, rtn.scales)
                XCTAssertEqual(q.zeroPoints, rtn.zeroPoints)
            }
        }
    }

    func testFromAHessianObserver() throws {
        let (n, k) = (8, 32)
        var rng = SplitMix64(state: 5)
        let x = (0..<(100 * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let w = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        var h = try HessianObserver(inFeatures: k)
        try h.update(x)
        let (a, ra) = try QuantizedWeight.gptq(quantizing: w, n: n, k: k, hessian: h, blockSize: 16)
        let (b, rb) = try QuantizedWeight.gptq(quantizing: w, n: n, k: k, hessian: try h.hessian(), blockSize: 16)
        XCTAssertEqual(a, b)
        XCTAssertEqual(ra, rb)
        XCTAssertThrowsError(try QuantizedWeight.gptq(quantizing: w, n: n, k: k, hessian: try HessianObserver(inFeatures: 16)))
    }

    func testDampingFallbackAndErrors() throws {
        // [[1, 3], [3, 1]] is indefinite (eigenvalues -2, 4): damp climbs 0 -> 1e-4 -> ... -> 10.
        let (_, report) = try QuantizedWeight.gptq(quantizing: [1, 2, 3, 4], n: 2, k: 2, hessian: [1, 3, 3, 1], blockSize: 16, damp: 0)
        XCTAssertEqual(report.damp, 10, accuracy: 1e-9)
        func code(_ body: () throws -> Void) -> Int32? {
            do { try body() } catch let e as SwiftQuantError { return e.status } catch { return -999 }
            return nil
        }
        let w: [Float] = [1, 2, 3, 4]
        XCTAssertEqual(code { _ = try QuantizedWeight.gptq(quantizing: w, n: 2, k: 2, hessian: [1, 0, 0], blockSize: 16) },
                       SQError.Kind.shape.rawValue)
        XCTAssertEqual(code { _ = try QuantizedWeight.gptq(quantizing: w, n: 2, k: 2, hessian: [1, 0.5, 0, 1], blockSize: 16) },
                       SQError.Kind.invalidArgument.rawValue)  // not symmetric
        XCTAssertEqual(code { _ = try QuantizedWeight.gptq(quantizing: w, n: 2, k: 2, hessian: [1, 0, 0, .nan], blockSize: 16) },
                       SQError.Kind.nonfinite.rawValue)
        XCTAssertEqual(code { _ = try QuantizedWeight.gptq(quantizing: w, n: 2, k: 2, hessian: [1, 0, 0, 1], blockSize: 16, damp: -1) },
                       SQError.Kind.invalidArgument.rawValue)
        XCTAssertEqual(code { _ = try QuantizedWeight.gptq(quantizing: w, n: 2, k: 2, hessian: [1, 0, 0, 1], blockSize: 12) },
                       SQError.Kind.invalidArgument.rawValue)
        XCTAssertEqual(code { _ = try QuantizedWeight.gptq(quantizing: w, n: 2, k: 2, hessian: [1, 0, 0, 1], blockSize: 16,
                                                           inputScales: [1, 0]) }, SQError.Kind.invalidScale.rawValue)
    }
}
