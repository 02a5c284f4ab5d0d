// Codebooks through the public Swift API (plain `import SwiftQuant`): levels of small data worked out by
// hand, index round trips, the error report's rounding / clipping split, and errors naming the argument.
import XCTest
import SwiftQuant

private func message(_ e: Error) -> String { (e as! SwiftQuantError).message }
private func kind(_ e: Error) -> SwiftQuantError.Kind { (e as! SwiftQuantError).kind }

final class CodebookSwiftAPITests: XCTestCase {
    func testFitPerTensorAndRoundTrip() throws {
        // Two levels for {-1, -1, -1} and {5, 5, 6, 7}: the cluster means -1 and 23 / 4 = 5.75.
        let cb = try fitCodebook([-1, -1, -1, 5, 5, 6, 7], bits: 1)
        XCTAssertEqual(cb.levels, [[-1, 5.75]])
        XCTAssertEqual(cb.kind, .lloyd)
        XCTAssertNil(cb.axis)
        XCTAssertEqual(cb.bits, 1)
        XCTAssertEqual(cb.levelsPerGroup, 2)
        // Midpoint (-1 + 5.75) / 2 = 2.375: a tie goes to the lower index; ±inf to the end levels.
        let idx = try codebookQuantize([-1, 5, 2.375, 2.4, 100, -100, .infinity, -.infinity], codebook: cb)
        XCTAssertEqual(idx, [0, 1, 0, 1, 1, 0, 1, 0])
        XCTAssertEqual(try codebookDequantize(idx, codebook: cb), [-1, 5.75, -1, 5.75, 5.75, -1, 5.75, -1])
        // Levels quantize to their own index, and back to themselves.
        XCTAssertEqual(try codebookQuantize([-1, 5.75], codebook: cb), [0, 1])
        // Two tight clusters at four levels: each cluster is split at its median.
        XCTAssertEqual(try fitCodebook([0, 0, 1, 1, 10, 10, 11, 11], bits: 2).levels, [[0, 1, 10, 11]])
        // maxIter 0 from quantiles: n = 5, L = 2, positions 0.25 * 4 = 1 and 0.75 * 4 = 3.
        let q = try fitCodebook([0, 1, 2, 3, 100], bits: 1, kind: .lloydQuantile, maxIter: 0)
        XCTAssertEqual(q.levels, [[1, 3]])
        XCTAssertEqual(q.kind, .lloydQuantile)
    }

    func testFitPerChannel() throws {
        // Rows [0, 0, 1, 1] and [10, 10, 20, 20] with one codebook per row (axis 0, or -2 from the end).
        let x: [Float] = [0, 0, 1, 1, 10, 10, 20, 20]
        let cb = try fitCodebook(x, shape: [2, 4], bits: 1, axis: 0)
        XCTAssertEqual(cb.levels, [[0, 1], [10, 20]])
        XCTAssertEqual(cb.axis, 0)
        XCTAssertEqual(try fitCodebook(x, shape: [2, 4], bits: 1, axis: -2), cb)
        let idx = try codebookQuantize(x, shape: [2, 4], codebook: cb)
        XCTAssertEqual(idx, [0, 0, 1, 1, 0, 0, 1, 1])
        XCTAssertEqual(try codebookDequantize(idx, shape: [2, 4], codebook: cb), x)
        let r = try errorReport(x, shape: [2, 4], codebook: cb)
        XCTAssertEqual(r.sumSqError, 0)
        XCTAssertEqual(r.sqnrDB, .infinity)
        XCTAssertEqual(r.groups.count, 2)
        XCTAssertEqual(r.groups.map(\.count), [4, 4])
    }

    func testLog2Levels() throws {
        // max|x| = 4 = 0.5 * 2^3 with 0.5 < sqrt(1/2), so e = 2; 2 bits: P = L/2 - 1 = 1, levels
        // -2^2, -2^1, 0, 2^(e-P+1) = 4 (one more negative level than positive ones).
        let cb = try fitCodebook([4, -1, 0.5], bits: 2, kind: .log2)
        XCTAssertEqual(cb.levels, [[-4, -2, 0, 4]])
        XCTAssertEqual(cb.kind, .log2)
        XCTAssertEqual(try codebookQuantize([4, -1, 0.5, -3.5], codebook: cb), [3, 1, 2, 0])
    }

    func testErrorReportSplitsRoundingAndClipping() throws {
        // Levels [0, 1]: 0.25 -> 0 (error 0.25, rounding); 3 -> 1 (error 2, clipped: beyond 1 + 0.5).
        let cb = try Codebook(levels: [0, 1])
        XCTAssertNil(cb.kind)
        let r = try errorReport([0, 0.25, 1, 3], codebook: cb)
        XCTAssertEqual(r.sumSqError, 4.0625)
        XCTAssertEqual(r.sumSqErrorRounding, 0.0625)
        XCTAssertEqual(r.sumSqErrorClipping, 4)
        XCTAssertEqual(r.sumSqSignal, 10.0625)
        XCTAssertEqual(r.maxAbsError, 2)
        XCTAssertEqual(r.mse, 4.0625 / 4)
        XCTAssertEqual(r.clipped, 1)
        XCTAssertEqual(r.clippedFraction, 0.25)
        XCTAssertEqual(r.sqnrDB, 10 * log10(10.0625 / 4.0625), accuracy: 1e-12)
        XCTAssertEqual(r.groups.count, 1)
        XCTAssertEqual(r.groups[0].sumSqError, 4.0625)
    }

    func testEmptyData() throws {
        // No values: the codebook's levels are all 0 (per tensor); no index along the axis: no codebook.
        let cb = try fitCodebook([], bits: 2)
        XCTAssertEqual(cb.levels, [[0, 0, 0, 0]])
        XCTAssertEqual(try codebookQuantize([], codebook: cb), [])
        let none = try fitCodebook([], shape: [0, 4], bits: 1, axis: 0)
        XCTAssertEqual(none.levels, [])
        XCTAssertEqual(none.levelsPerGroup, 2)
        XCTAssertEqual(none.bits, 1)
        XCTAssertEqual(try codebookQuantize([], shape: [0, 4], codebook: none), [])
        XCTAssertEqual(try codebookDequantize([], shape: [0, 4], codebook: none), [])
        let r = try errorReport([], shape: [0, 4], codebook: none)
        XCTAssertEqual(r.count, 0)
        XCTAssertEqual(r.groups.count, 0)
    }

    func testCustomCodebookBits() throws {
        XCTAssertEqual(try Codebook(levels: [0]).bits, 0)
        XCTAssertEqual(try Codebook(levels: [0, 1, 2]).bits, 2)
        XCTAssertEqual(try Codebook(levels: (0..<256).map(Float.init)).bits, 8)
        XCTAssertEqual(try Codebook(levels: [[0, 1], [2, 3]], axis: 1).levelsPerGroup, 2)
    }

    func testErrorsNameTheArgument() throws {
        let x: [Float] = [0, 1, 2, 3]
        for bits in [0, 9] {
            XCTAssertThrowsError(try fitCodebook(x, bits: bits)) { e in
                XCTAssertEqual(kind(e), .invalidArgument)
                XCTAssertTrue(message(e).hasPrefix("bits"), "\(e)")
            }
        }
        // Settings kind .log2 does not use are refused, not ignored.
        XCTAssertThrowsError(try fitCodebook(x, kind: .log2, maxIter: 10)) { e in
            XCTAssertTrue(message(e).hasPrefix("maxIter: only the Lloyd kinds"), "\(e)")
        }
        XCTAssertThrowsError(try fitCodebook(x, kind: .log2, maxIter: 10, tol: 0)) { e in
            XCTAssertTrue(message(e).hasPrefix("maxIter and tol:"), "\(e)")
        }
        XCTAssertThrowsError(try fitCodebook(x, kind: .lloyd, maxIter: Int(Int32.max) + 1)) { e in
            XCTAssertTrue(message(e).hasPrefix("maxIter"), "\(e)")
        }
        XCTAssertThrowsError(try fitCodebook(x, tol: -1)) { e in XCTAssertTrue(message(e).hasPrefix("tol"), "\(e)") }
        XCTAssertThrowsError(try fitCodebook(x, shape: [3], bits: 1)) { e in
            XCTAssertEqual(kind(e), .shape)
            XCTAssertTrue(message(e).hasPrefix("x has 4"), "\(e)")
        }
        XCTAssertThrowsError(try fitCodebook(x, shape: [2, 2], bits: 1, axis: 2)) { e in
            XCTAssertEqual(kind(e), .invalidArgument)
            XCTAssertTrue(message(e).hasPrefix("axis: 2 is out of range"), "\(e)")
        }
        XCTAssertThrowsError(try fitCodebook([1, .nan], bits: 1)) { e in XCTAssertEqual(kind(e), .nonfinite) }
        // Codebooks that do not match x, or malformed levels.
        let two = try Codebook(levels: [[0, 1], [2, 3]], axis: 1)
        XCTAssertThrowsError(try codebookQuantize(x, shape: [1, 4], codebook: two)) { e in
            XCTAssertEqual(kind(e), .shape)
            XCTAssertTrue(message(e).hasPrefix("codebook has 2 codebook(s) but x has 4"), "\(e)")
        }
        XCTAssertThrowsError(try codebookQuantize(x, codebook: two)) { e in
            XCTAssertTrue(message(e).hasPrefix("codebook.axis: 1 is out of range"), "\(e)")
        }
        XCTAssertThrowsError(try Codebook(levels: [[Float]]())) { e in XCTAssertEqual(kind(e), .shape) }
        XCTAssertThrowsError(try Codebook(levels: [[0, 1], [2, 3]])) { e in
            XCTAssertTrue(message(e).hasPrefix("levels: 2 codebooks need an axis"), "\(e)")
        }
        XCTAssertThrowsError(try Codebook(levels: [[0, 1], [2]], axis: 0)) { e in
            XCTAssertTrue(message(e).hasPrefix("levels: codebook 1 has 1 level(s)"), "\(e)")
        }
        XCTAssertThrowsError(try Codebook(levels: [Float](repeating: 0, count: 257))) { e in
            XCTAssertTrue(message(e).hasPrefix("levels:"), "\(e)")
        }
        XCTAssertThrowsError(try codebookQuantize(x, codebook: try Codebook(levels: [1, 0]))) { e in
            XCTAssertEqual(kind(e), .invalidArgument)
            XCTAssertTrue(message(e).contains("not ascending"), "\(e)")
        }
        XCTAssertThrowsError(try codebookQuantize([.nan], codebook: try Codebook(levels: [0, 1]))) { e in
            XCTAssertEqual(kind(e), .nonfinite)
        }
        XCTAssertThrowsError(try codebookDequantize([0, 2], codebook: try Codebook(levels: [0, 1]))) { e in
            XCTAssertEqual(kind(e), .outOfRange)
            XCTAssertTrue(message(e).hasPrefix("idx: index 2 at flat position 1"), "\(e)")
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
