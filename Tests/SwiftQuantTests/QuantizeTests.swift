// Quantize, dequantize and min/max over every granularity through the C exports, against a naive
// per-element implementation written here with explicit index arithmetic.
import XCTest
import _SwiftQuantShims
@testable import SwiftQuant

/// Index of the parameter entry of flat element `i` in a tensor of `dims` (the ONNX blocked layout).
func naiveParamIndex(_ i: Int, dims: [Int], axis: Int?, block: Int) -> Int {
    guard let axis else { return 0 }
    var coord = [Int](repeating: 0, count: dims.count)
    var rest = i
    for d in stride(from: dims.count - 1, through: 0, by: -1) {
        coord[d] = rest % dims[d]
        rest /= dims[d]
    }
    if block == 0 { return coord[axis] }
    var pdims = dims
    pdims[axis] = (dims[axis] + block - 1) / block
    coord[axis] /= block
    return coord.indices.reduce(0) { $0 * pdims[$1] + coord[$1] }
}

struct Case {
    var dims: [Int]
    var axis: Int?
    var block: Int
    var dtype: DType
    var count: Int { dims.reduce(1, *) }
    var paramCount: Int {
        guard let axis else { return 1 }
        if block == 0 { return dims[axis] }
        var p = dims
        p[axis] = (dims[axis] + block - 1) / block
        return p.reduce(1, *)
    }
}

/// Calls a C export with an sq_qparams over Swift arrays.
func withQParams<R>(_ scale: [Float], _ zp: [Int32], _ c: Case, _ body: (UnsafePointer<sq_qparams>) -> R) -> R {
    scale.withUnsafeBufferPointer { s in
        zp.withUnsafeBufferPointer { z in
            var p = sq_qparams(scale: s.baseAddress, zero_point: z.baseAddress, count: Int64(scale.count),
                               dtype: c.dtype.rawValue, axis: Int32(c.axis ?? -1), block_size: Int64(c.block))
            return body(&p)
        }
    }
}

final class QuantizeTests: XCTestCase {
    var rng = SplitMix64(state: 111)  // seeded: a failure reruns identically

    func cases() -> [Case] {
        var out: [Case] = []
        for d in DType.allCases where !d.isFloat {
            out.append(Case(dims: [0], axis: nil, block: 0, dtype: d))
            out.append(Case(dims: [1], axis: nil, block: 0, dtype: d))
            out.append(Case(dims: [7, 5], axis: nil, block: 0, dtype: d))
            out.append(Case(dims: [7, 5], axis: 0, block: 0, dtype: d))
            out.append(Case(dims: [7, 5], axis: 1, block: 0, dtype: d))
            out.append(Case(dims: [3, 4, 5], axis: 1, block: 0, dtype: d))
            out.append(Case(dims: [3, 10, 2], axis: 1, block: 4, dtype: d))
            out.append(Case(dims: [6, 9], axis: 1, block: 4, dtype: d))
            out.append(Case(dims: [9, 6], axis: 0, block: 3, dtype: d))
            // Runs longer than the 16-lane SIMD blocks, with a tail: optimized kernels and the reference meet.
            out.append(Case(dims: [2, 37], axis: 1, block: 0, dtype: d))
            out.append(Case(dims: [37, 2], axis: 0, block: 0, dtype: d))
            out.append(Case(dims: [3, 50], axis: nil, block: 0, dtype: d))
        }
        return out
    }

    func testQuantizeDequantizeAgainstNaive() {
        for c in cases() {
            let x = (0..<c.count).map { _ in Float.random(in: -20...20, using: &rng) }
            let scale = (0..<c.paramCount).map { _ in Float.random(in: 0.01...0.5, using: &rng) }
            let zp = (0..<c.paramCount).map { _ in Int32.random(in: c.dtype.qmin...c.dtype.qmax, using: &rng) }
            for rounding in [Rounding.nearestEven, .halfAway, .floor, .stochastic] {
                var q = [Int32](repeating: 0, count: c.count)
                var raw = [UInt8](repeating: 0, count: max(c.count * c.dtype.storageBytes, 1))
                let st = withQParams(scale, zp, c) { p in
                    sqQuantize(x, c.dims.map(Int64.init), Int32(c.dims.count), p, rounding.rawValue, 99, &raw)
                }
                XCTAssertEqual(st, 0, "\(c)")
                raw.withUnsafeBytes { b in
                    for i in 0..<c.count {
                        switch c.dtype {
                        case .int8, .int4: q[i] = Int32(b.load(fromByteOffset: i, as: Int8.self))
                        case .uint8, .uint4: q[i] = Int32(b.load(fromByteOffset: i, as: UInt8.self))
                        case .int16: q[i] = Int32(b.load(fromByteOffset: 2 * i, as: Int16.self))
                        case .uint16: q[i] = Int32(b.load(fromByteOffset: 2 * i, as: UInt16.self))
                        default: XCTFail("cases() lists the integer dtypes only")
                        }
                    }
                }
                var deq = [Float](repeating: .nan, count: c.count)
                let st2 = withQParams(scale, zp, c) { p in
                    sqDequantize(raw, c.dims.map(Int64.init), Int32(c.dims.count), p, &deq)
                }
                XCTAssertEqual(st2, 0)
                for i in 0..<c.count {
                    let j = naiveParamIndex(i, dims: c.dims, axis: c.axis, block: c.block)
                    let v = Double(x[i] / scale[j])
                    let r: Double
                    switch rounding {
                    case .nearestEven: r = v.rounded(.toNearestOrEven)
                    case .halfAway: r = v.rounded(.toNearestOrAwayFromZero)
                    case .floor: r = v.rounded(.down)
                    case .stochastic:
                        r = Double(q[i] - zp[j])
                        let inRange = q[i] > c.dtype.qmin && q[i] < c.dtype.qmax
                        if inRange { XCTAssert(r == v.rounded(.down) || r == v.rounded(.down) + 1, "\(c) i=\(i) v=\(v) r=\(r)") }
                        continue
                    }
                    let want = Int32(min(max(r + Double(zp[j]), Double(c.dtype.qmin)), Double(c.dtype.qmax)))
                    XCTAssertEqual(q[i], want, "\(c) \(rounding) element \(i): x=\(x[i]) scale=\(scale[j]) zp=\(zp[j])")
                    XCTAssertEqual(deq[i], Float(q[i] - zp[j]) * scale[j], "\(c) dequantize element \(i)")
                }
            }
        }
    }

    func testInfinitySaturatesAndNaNFails() {
        let c = Case(dims: [3], axis: nil, block: 0, dtype: .int8)
        var q = [Int8](repeating: 0, count: 3)
        let st = withQParams([0.1], [3], c) { sqQuantize([.infinity, -.infinity, 1e30], [3], 1, $0, 0, 0, &q) }
        XCTAssertEqual(st, 0)
        XCTAssertEqual(q, [127, -128, 127])
        let bad = withQParams([0.1], [3], c) { sqQuantize([0, .nan, 1], [3], 1, $0, 0, 0, &q) }
        XCTAssertEqual(bad, SQError.Kind.nonfinite.rawValue)
        XCTAssertTrue(String(cString: sq_last_error_message()).contains("element 1 is NaN"))
    }

    func testMinMaxPerGroup() {
        let c = Case(dims: [4, 6], axis: 1, block: 4, dtype: .int8)
        let x = (0..<24).map { Float($0 % 7) - 3 }
        var lo = [Float](repeating: 0, count: 8), hi = lo
        var nonfinite: Int64 = -1
        XCTAssertEqual(sqMinMax(x, [4, 6], 2, 1, 4, 0, &lo, &hi, 8, &nonfinite), 0)
        for g in 0..<8 {
            let members = (0..<24).filter { naiveParamIndex($0, dims: c.dims, axis: 1, block: 4) == g }.map { x[$0] }
            XCTAssertEqual(lo[g], members.min()!, "group \(g)")
            XCTAssertEqual(hi[g], members.max()!, "group \(g)")
        }
        XCTAssertEqual(nonfinite, 0)
        var y = x
        y[5] = .nan
        y[6] = -.infinity
        XCTAssertEqual(sqMinMax(y, [4, 6], 2, 1, 4, 0, &lo, &hi, 8, &nonfinite), SQError.Kind.nonfinite.rawValue)
        XCTAssertTrue(String(cString: sq_last_error_message()).contains("2 of 24"))
        XCTAssertEqual(sqMinMax(y, [4, 6], 2, 1, 4, 1, &lo, &hi, 8, &nonfinite), 0)
        XCTAssertEqual(nonfinite, 2)
    }

    func testDynamicQuantizeMatchesOnnxFormula() {
        let x: [Float] = [-1.5, 0.25, 3.0, 2.9, -0.1]
        var q = [UInt8](repeating: 0, count: 5)
        var s: Float = 0
        var z: UInt8 = 0
        XCTAssertEqual(sqDynamicQuantize(x, 5, &q, &s, &z), 0)
        let es = (Float(3.0) - Float(-1.5)) / 255
        let ez = min(max(Float(1.5) / es, 0), 255).rounded(.toNearestOrEven)
        XCTAssertEqual(s, es)
        XCTAssertEqual(Float(z), ez)
        XCTAssertEqual(q, x.map { UInt8(min(max(($0 / es).rounded(.toNearestOrEven) + ez, 0), 255)) })
        XCTAssertEqual(sqDynamicQuantize([0, 0], 2, &q, &s, &z), 0)
        XCTAssertEqual(s, 1)
        XCTAssertEqual(z, 0)
    }

    func testBadArguments() {
        let c = Case(dims: [2, 3], axis: 1, block: 0, dtype: .int8)
        var q = [Int8](repeating: 0, count: 6)
        let x = [Float](repeating: 1, count: 6)
        func status(_ scale: [Float], _ zp: [Int32], _ c: Case, dims: [Int64] = [2, 3], rounding: Int32 = 0) -> Int32 {
            withQParams(scale, zp, c) { sqQuantize(x, dims, Int32(dims.count), $0, rounding, 0, &q) }
        }
        XCTAssertEqual(status([1, 1, 1], [0, 0, 0], c), 0)
        XCTAssertEqual(status([1, 0, 1], [0, 0, 0], c), SQError.Kind.invalidScale.rawValue)
        XCTAssertEqual(status([1, .nan, 1], [0, 0, 0], c), SQError.Kind.invalidScale.rawValue)
        XCTAssertEqual(status([1, 1, Float(1e-40 as Double)], [0, 0, 0], c), SQError.Kind.invalidScale.rawValue)
        XCTAssertEqual(status([1, 1, 1], [0, 128, 0], c), SQError.Kind.invalidZeroPoint.rawValue)
        XCTAssertEqual(status([1, 1], [0, 0], c), SQError.Kind.shape.rawValue)
        XCTAssertEqual(status([1, 1, 1], [0, 0, 0], c, dims: [2, -3]), SQError.Kind.shape.rawValue)
        XCTAssertEqual(status([1, 1, 1], [0, 0, 0], c, rounding: 9), SQError.Kind.invalidArgument.rawValue)
        XCTAssertEqual(status([1], [0], Case(dims: [2, 3], axis: 2, block: 0, dtype: .int8)), SQError.Kind.invalidArgument.rawValue)
        XCTAssertEqual(withQParams([1], [0], Case(dims: [6], axis: nil, block: 0, dtype: .int8)) { sqQuantize(nil, [6], 1, $0, 0, 0, &q) },
                       SQError.Kind.nullPointer.rawValue)
        var p = sq_qparams(scale: nil, zero_point: nil, count: 1, dtype: 17, axis: -1, block_size: 0)
        XCTAssertEqual(sqQuantize(x, [6], 1, &p, 0, 0, &q), SQError.Kind.invalidArgument.rawValue)
        XCTAssertTrue(String(cString: sq_last_error_message()).contains("unknown dtype 17"))
        // int4 stored in int8: 9 is not an int4 value.
        let bad: [Int8] = [1, 9]
        var out = [Float](repeating: 0, count: 2)
        let st = withQParams([1], [0], Case(dims: [2], axis: nil, block: 0, dtype: .int4)) { sqDequantize(bad, [2], 1, $0, &out) }
        XCTAssertEqual(st, SQError.Kind.outOfRange.rawValue)
        XCTAssertEqual(String(cString: sqStatusString(st)), "SQ_ERROR_OUT_OF_RANGE")
    }
}
