// Range rules, rounding ties and the notes' worked example, checked against values computed here
// independently (plain Double arithmetic), not against the code under test.
import XCTest
@testable import SwiftQuant

final class ParamsTests: XCTestCase {
    func testNotesWorkedExampleCalibration() throws {
        // The notes: A in [-1.2, 1.0], B in [-1.0, 1.2], C in [-0.8, 2.0] to int8.
        let (s1, z1) = try qparamsFromRange(min: -1.2, max: 1.0, dtype: .int8, symmetric: false, argument: "a")
        let (s2, z2) = try qparamsFromRange(min: -1.0, max: 1.2, dtype: .int8, symmetric: false, argument: "b")
        let (s3, z3) = try qparamsFromRange(min: -0.8, max: 2.0, dtype: .int8, symmetric: false, argument: "c")
        XCTAssertEqual(Double(s1), 0.008627451, accuracy: 1e-9)
        XCTAssertEqual(s1, s2)
        XCTAssertEqual(z1, 11)
        XCTAssertEqual(z2, -12)
        XCTAssertEqual(Double(s3), 0.010980392, accuracy: 1e-9)
        XCTAssertEqual(z3, -55)
        XCTAssertEqual(Double(Float(s1 * s2) / s3), 0.006778711, accuracy: 1e-9)
    }

    func testAsymmetricMatchesFormula() throws {
        for (lo, hi) in [(-3.5, 0.25), (0.1, 7.0), (-9.0, -2.0), (-1e-3, 5e4)] as [(Float, Float)] {
            for d in DType.allCases where !d.isFloat {
                let (s, z) = try qparamsFromRange(min: lo, max: hi, dtype: d, symmetric: false, argument: "r")
                let rmin = min(Double(lo), 0), rmax = max(Double(hi), 0)
                let es = Float((rmax - rmin) / Double(d.qmax - d.qmin))
                let ez = min(max((Double(d.qmin) - rmin / Double(es)).rounded(.toNearestOrEven), Double(d.qmin)), Double(d.qmax))
                XCTAssertEqual(s, es, "\(d) [\(lo), \(hi)]")
                XCTAssertEqual(z, Int32(ez), "\(d) [\(lo), \(hi)]")
            }
        }
    }

    func testSymmetricNarrowRangeAndMidpoint() throws {
        let (s8, z8) = try qparamsFromRange(min: -0.35, max: 10, dtype: .int8, symmetric: true, argument: "r")
        XCTAssertEqual(s8, Float(10.0 / 127.0))
        XCTAssertEqual(z8, 0)
        let (su, zu) = try qparamsFromRange(min: -4, max: 1, dtype: .uint8, symmetric: true, argument: "r")
        XCTAssertEqual(su, Float(8.0 / 255.0))
        XCTAssertEqual(zu, 128)
        let (_, z4) = try qparamsFromRange(min: -4, max: 1, dtype: .uint4, symmetric: true, argument: "r")
        XCTAssertEqual(z4, 8)
    }

    func testDegenerateRangesGiveUsableScale() throws {
        for d in DType.allCases {
            for sym in [false, true] {
                for (lo, hi) in [(0, 0), (Float.infinity, -Float.infinity), (Float(1e-44 as Double), Float(1e-44 as Double))] as [(Float, Float)] {
                    let (s, z) = try qparamsFromRange(min: lo, max: hi, dtype: d, symmetric: sym, argument: "r")
                    XCTAssertEqual(s, 1.0, "\(d) sym=\(sym) [\(lo), \(hi)]")
                    XCTAssert(z >= d.qmin && z <= d.qmax)
                }
            }
        }
        // Constant non-zero data: the range still includes zero, so the scale is that of [0, c].
        let (s, z) = try qparamsFromRange(min: 3, max: 3, dtype: .uint8, symmetric: false, argument: "r")
        XCTAssertEqual(s, Float(3.0 / 255.0))
        XCTAssertEqual(z, 0)
    }

    func testNonFiniteRangesAreErrors() {
        for (lo, hi) in [(Float.nan, 1), (-Float.infinity, 1), (0, Float.infinity)] as [(Float, Float)] {
            XCTAssertThrowsError(try qparamsFromRange(min: lo, max: hi, dtype: .int8, symmetric: false, argument: "r")) { e in
                XCTAssertEqual((e as? SQError)?.kind, .nonfinite)
            }
        }
    }

    func testRoundingTies() {
        // Each column is a tie (or a plain value) with its expected result under each rule.
        let v: [Float] = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.3, -2.3]
        let expected: [Rounding: [Float]] = [
            .nearestEven: [-2, -2, 0, 0, 2, 2, 2, -2],
            .halfAway: [-3, -2, -1, 1, 2, 3, 2, -2],
            .floor: [-3, -2, -1, 0, 1, 2, 2, -3],
        ]
        for (rule, want) in expected {
            XCTAssertEqual(v.map { rule.round($0, seed: 0, index: 0) }, want, "\(rule)")
            XCTAssertEqual(v.map { rule.round(Double($0), seed: 0, index: 0) }, want.map(Double.init), "\(rule) (double)")
        }
    }

    func testStochasticRoundingIsUnbiasedAndReproducible() {
        let v: Float = 2.3
        var sum = 0.0
        let trials = 200_000
        for i in 0..<trials {
            let r = Rounding.stochastic.round(v, seed: 42, index: i)
            XCTAssert(r == 2 || r == 3)
            sum += Double(r)
        }
        // Standard error of the mean is sqrt(0.3 * 0.7 / n) ~ 0.001; allow 5 of them.
        XCTAssertEqual(sum / Double(trials), 2.3, accuracy: 0.005)
        XCTAssertEqual(Rounding.stochastic.round(v, seed: 7, index: 123), Rounding.stochastic.round(v, seed: 7, index: 123))
        XCTAssertEqual(Rounding.stochastic.round(Float(5), seed: 7, index: 9), 5)  // integers never move
        XCTAssertEqual(Rounding.stochastic.round(Float(-4), seed: 7, index: 9), -4)
    }
}
