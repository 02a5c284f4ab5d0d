// sq_error_report: hand-checked tiny cases, and agreement with sq_fake_quantize on random data for every
// dtype, granularity and rounding.
import XCTest
import _SwiftQuantShims
@testable import SwiftQuant

/// Runs sq_error_report on x (shape dims) with the given parameters; returns (status, groups, total).
private func report(_ x: [Float], dims: [Int], scale: [Float], zp: [Int32]?, dtype: DType, axis: Int32 = -1,
                    block: Int64 = 0, rounding: Rounding = .nearestEven, seed: UInt64 = 0,
                    groupCount: Int? = nil) -> (Int32, [sq_error_stats], sq_error_stats) {
    let shape = dims.map(Int64.init)
    let n = groupCount ?? scale.count
    var groups = [sq_error_stats](repeating: sq_error_stats(), count: max(n, 1))
    var total = sq_error_stats()
    let st: Int32 = scale.withUnsafeBufferPointer { s in
        (zp ?? []).withUnsafeBufferPointer { z in
            var p = sq_qparams(scale: s.baseAddress, zero_point: zp == nil ? nil : z.baseAddress,
                               count: Int64(scale.count), dtype: dtype.rawValue, axis: axis, block_size: block)
            return sqErrorReport(x, shape, Int32(shape.count), &p, rounding.rawValue, seed, &groups, Int64(n), &total)
        }
    }
    return (st, Array(groups.prefix(n)), total)
}

final class ErrorReportTests: XCTestCase {
    func testExactlyRepresentableHasNoError() {
        // int8, S = 0.5, Z = 0: multiples of 0.5 in [-64, 63.5] are exact.
        let x: [Float] = [0, 0.5, -1, 63.5, -64]
        let (st, _, t) = report(x, dims: [5], scale: [0.5], zp: [0], dtype: .int8)
        XCTAssertEqual(st, 0)
        XCTAssertEqual(t.sum_sq_error, 0)
        XCTAssertEqual(t.max_abs_error, 0)
        XCTAssertEqual(t.clipped, 0)
        XCTAssertEqual(t.count, 5)
        XCTAssertEqual(t.infinite, 0)
        XCTAssertEqual(t.sum_sq_signal, 0.25 + 1 + 63.5 * 63.5 + 64 * 64)
    }

    func testClippingAndRoundingSplit() {
        // int8, S = 0.5, Z = 0: representable range [-64, 63.5]. 63.6 (v = 127.2) rounds to 127 inside the
        // range: rounding error. 63.8 (v = 127.6) rounds to 128 and saturates: clipping error.
        let x: [Float] = [100, -70, 0.3, -64, 63.6, 63.8]
        let (st, _, t) = report(x, dims: [6], scale: [0.5], zp: nil, dtype: .int8)
        XCTAssertEqual(st, 0)
        XCTAssertEqual(t.count, 6)
        XCTAssertEqual(t.clipped, 3)  // 100, -70, 63.8; -64 is the end of the range
        let e03 = Double(Float(0.3)) - 0.5, e636 = Double(Float(63.6)) - 63.5, e638 = Double(Float(63.8)) - 63.5
        XCTAssertEqual(t.sum_sq_error_clipping, 36.5 * 36.5 + 6 * 6 + e638 * e638, accuracy: 1e-9)
        XCTAssertEqual(t.sum_sq_error_rounding, e03 * e03 + e636 * e636, accuracy: 1e-12)
        XCTAssertEqual(t.sum_sq_error, t.sum_sq_error_rounding + t.sum_sq_error_clipping, accuracy: 1e-12)
        XCTAssertEqual(t.max_abs_error, 36.5)
        // Asymmetric uint8, Z = 10, S = 1: range [-10, 245]. -10.4 rounds onto the end (not clipped);
        // -10.6 and 245.6 round outside and saturate (clipped).
        let (st2, _, t2) = report([-10.4, -10.6, 245.6, 3.2], dims: [4], scale: [1], zp: [10], dtype: .uint8)
        XCTAssertEqual(st2, 0)
        XCTAssertEqual(t2.clipped, 2)
        let a = Double(Float(-10.4)) + 10, b = Double(Float(-10.6)) + 10, c = Double(Float(245.6)) - 245
        let d = Double(Float(3.2)) - 3
        XCTAssertEqual(t2.sum_sq_error_clipping, b * b + c * c, accuracy: 1e-12)
        XCTAssertEqual(t2.sum_sq_error_rounding, a * a + d * d, accuracy: 1e-12)
        // Floor rounding: 63.9 (v = 127.8) floors to 127, inside; 64.0 (v = 128) is clipped.
        let (_, _, t3) = report([63.9, 64.0], dims: [2], scale: [0.5], zp: nil, dtype: .int8, rounding: .floor)
        XCTAssertEqual(t3.clipped, 1)
        XCTAssertEqual(t3.sum_sq_error_clipping, 0.25)
    }

    func testInfinitiesAreClippedButNotSummed() {
        let (st, _, t) = report([.infinity, -.infinity, 1.25], dims: [3], scale: [0.5], zp: [0], dtype: .int8)
        XCTAssertEqual(st, 0)
        XCTAssertEqual(t.count, 3)
        XCTAssertEqual(t.clipped, 2)
        XCTAssertEqual(t.infinite, 2)
        XCTAssertEqual(t.sum_sq_signal, 1.5625)
        XCTAssertEqual(t.sum_sq_error, 0.0625)  // 1.25 / 0.5 = 2.5 -> 2 (half to even) -> 1.0
        XCTAssertEqual(t.sum_sq_error_clipping, 0)
        XCTAssertEqual(t.max_abs_error, 0.25)
    }

    func testErrors() {
        XCTAssertEqual(report([1, .nan], dims: [2], scale: [1], zp: nil, dtype: .int8).0, SQError.Kind.nonfinite.rawValue)
        XCTAssertEqual(report([1, 2], dims: [2], scale: [1], zp: nil, dtype: .int8, groupCount: 2).0, SQError.Kind.shape.rawValue)
        XCTAssertEqual(report([1, 2], dims: [2], scale: [1], zp: nil, dtype: .int8, groupCount: 0).0, 0)
        XCTAssertEqual(report([1, 2], dims: [2], scale: [0], zp: nil, dtype: .int8).0, SQError.Kind.invalidScale.rawValue)
        var p = sq_qparams(scale: nil, zero_point: nil, count: 1, dtype: 0, axis: -1, block_size: 0)
        let one: [Float] = [1]
        one.withUnsafeBufferPointer { s in
            p.scale = s.baseAddress
            let x: [Float] = [1]
            XCTAssertEqual(sqErrorReport(x, nil, 0, &p, 0, 0, nil, 0, nil), SQError.Kind.nullPointer.rawValue)
            var t = sq_error_stats()
            XCTAssertEqual(sqErrorReport(x, nil, 0, &p, 0, 0, nil, 1, &t), SQError.Kind.nullPointer.rawValue)
            XCTAssertEqual(sqErrorReport(x, nil, 0, &p, 9, 0, nil, 0, &t), SQError.Kind.invalidArgument.rawValue)
        }
    }

    /// Per group, the report must equal statistics computed from sq_fake_quantize's output.
    func testAgreesWithFakeQuantize() {
        var rng = SplitMix64(state: 108)  // seeded: a failure reruns identically
        let layouts: [([Int], Int32, Int64)] = [([0], -1, 0), ([7, 5], -1, 0), ([7, 5], 0, 0), ([7, 5], 1, 0),
                                                ([3, 4, 5], 1, 0), ([3, 10, 2], 1, 4), ([6, 9], 1, 4), ([2, 37], 1, 0)]
        for d in DType.allCases where !d.isFloat {
            for (dims, axis, block) in layouts {
                let count = dims.reduce(1, *)
                var pdims = dims
                if axis >= 0 { pdims = block == 0 ? [dims[Int(axis)]] : { var p = dims; p[Int(axis)] = (dims[Int(axis)] + Int(block) - 1) / Int(block); return p }() }
                let pc = axis < 0 ? 1 : pdims.reduce(1, *)
                var x = (0..<count).map { _ in Float.random(in: -20...20, using: &rng) }
                if count > 3 { x[1] = .infinity; x[2] = -.infinity }
                let scale = (0..<pc).map { _ in Float.random(in: 0.01...0.5, using: &rng) }
                let zp = (0..<pc).map { _ in Int32.random(in: d.qmin...d.qmax, using: &rng) }
                for rounding in [Rounding.nearestEven, .halfAway, .floor, .stochastic] {
                    let (st, groups, total) = report(x, dims: dims, scale: scale, zp: zp, dtype: d, axis: axis,
                                                     block: block, rounding: rounding, seed: 42)
                    XCTAssertEqual(st, 0)
                    var y = [Float](repeating: 0, count: count)
                    let shape = dims.map(Int64.init)
                    let fs: Int32 = scale.withUnsafeBufferPointer { s in
                        zp.withUnsafeBufferPointer { z in
                            var p = sq_qparams(scale: s.baseAddress, zero_point: z.baseAddress, count: Int64(pc),
                                               dtype: d.rawValue, axis: axis, block_size: block)
                            return sqFakeQuantize(x, shape, Int32(shape.count), &p, rounding.rawValue, 42, &y)
                        }
                    }
                    XCTAssertEqual(fs, 0)
                    var sq = [Double](repeating: 0, count: pc), n = [Int](repeating: 0, count: pc)
                    var clipped = [Int](repeating: 0, count: pc)
                    for i in 0..<count {
                        let g = naiveParamIndex(i, dims: dims, axis: axis < 0 ? nil : Int(axis), block: Int(block))
                        n[g] += 1
                        let v = x[i] / scale[g]
                        let rv = rounding.round(v, seed: 42, index: i)
                        if rv < Float(d.qmin - zp[g]) || rv > Float(d.qmax - zp[g]) { clipped[g] += 1 }
                        if x[i].isFinite { let e = Double(x[i]) - Double(y[i]); sq[g] += e * e }
                    }
                    for g in 0..<pc {
                        XCTAssertEqual(groups[g].count, Int64(n[g]))
                        XCTAssertEqual(groups[g].clipped, Int64(clipped[g]))
                        XCTAssertEqual(groups[g].sum_sq_error, sq[g], accuracy: 1e-12 * max(1, sq[g]))
                        XCTAssertEqual(groups[g].sum_sq_error_rounding + groups[g].sum_sq_error_clipping,
                                       groups[g].sum_sq_error, accuracy: 1e-12 * max(1, sq[g]))
                    }
                    XCTAssertEqual(total.count, Int64(count))
                    XCTAssertEqual(total.sum_sq_error, sq.reduce(0, +), accuracy: 1e-12 * max(1, sq.reduce(0, +)))
                    XCTAssertEqual(total.clipped, Int64(clipped.reduce(0, +)))
                    XCTAssertEqual(total.infinite, count > 3 ? 2 : 0)
                }
            }
        }
    }
}
