// Codebook quantization through the C exports: small exact cases (two clusters, ties, equal levels, log2
// levels), per-channel fits equal per-tensor fits channel by channel, and the error codes.
import XCTest
import _SwiftQuantShims
@testable import SwiftQuant

private func fit(_ x: [Float], _ dims: [Int64], axis: Int32 = -1, bits: Int32, kind: Int32 = 0,
                 maxIter: Int32 = 100) -> (Int32, [Float]) {
    let groups = axis < 0 || Int(axis) >= dims.count ? 1 : Int(dims[Int(axis)])  // a bad axis is the export's to reject
    var lv = [Float](repeating: .nan, count: groups << Int(bits))
    let n = Int64(lv.count)
    let st = x.withUnsafeBufferPointer { xs in
        dims.withUnsafeBufferPointer { d in
            lv.withUnsafeMutableBufferPointer { l in
                sqCodebookFit(xs.baseAddress, d.baseAddress, Int32(dims.count), axis, bits, kind, maxIter, 0,
                              l.baseAddress, n)
            }
        }
    }
    return (st, lv)
}

private func quantize(_ x: [Float], _ dims: [Int64], axis: Int32 = -1, levels: [Float], perGroup: Int) -> (Int32, [UInt8]) {
    var idx = [UInt8](repeating: 255, count: x.count)
    let st = x.withUnsafeBufferPointer { xs in
        dims.withUnsafeBufferPointer { d in
            idx.withUnsafeMutableBufferPointer { q in
                sqCodebookQuantize(xs.baseAddress, d.baseAddress, Int32(dims.count), axis, levels, Int64(perGroup),
                                   Int64(levels.count), q.baseAddress)
            }
        }
    }
    return (st, idx)
}

private func lastError() -> String { String(cString: sq_last_error_message()) }

final class CodebookTests: XCTestCase {
    func testTwoClustersExact() {
        let (st, lv) = fit([-1, -1, -1, 5, 5, 6, 7], [7], bits: 1)
        XCTAssertEqual(st, 0)
        XCTAssertEqual(lv, [-1, 5.75])
        // Two tight clusters at 4 levels: each cluster's values are split around their median.
        let (st2, lv2) = fit([0, 0, 1, 1, 10, 10, 11, 11], [8], bits: 2)
        XCTAssertEqual(st2, 0)
        XCTAssertEqual(lv2, [0, 1, 10, 11])
    }

    func testMaxIterZeroGivesQuantiles() {
        // SQ_CODEBOOK_LLOYD_QUANTILE, n = 5, L = 2: positions 0.25 * 4 = 1 and 0.75 * 4 = 3.
        let (st, lv) = fit([4, 0, 3, 1, 2], [5], bits: 1, kind: 2, maxIter: 0)
        XCTAssertEqual(st, 0)
        XCTAssertEqual(lv, [1, 3])
    }

    /// Least squared error over every split of sorted s into L non-empty contiguous clusters (brute force).
    private func bruteForceBestSSE(_ s: [Double], _ L: Int) -> Double {
        func sse(_ a: Int, _ b: Int) -> Double {
            let m = s[a..<b].reduce(0, +) / Double(b - a)
            return s[a..<b].reduce(0) { $0 + ($1 - m) * ($1 - m) }
        }
        func best(_ from: Int, _ k: Int) -> Double {
            if k == 1 { return sse(from, s.count) }
            var b = Double.infinity
            if from + 1 <= s.count - k + 1 {
                for cut in (from + 1)...(s.count - k + 1) { b = Swift.min(b, sse(from, cut) + best(cut, k - 1)) }
            }
            return b
        }
        return best(0, L)
    }

    func testOptimalStartIsExactOnSmallData() {
        // Every split of 12 values into 4 clusters is tried; the start (max_iter 0) must reach the least error,
        // where the quantile start stays above it on this skewed data.
        var rng = SplitMix64(state: 101)  // seeded: a failure reruns identically
        var quantileStartWorse = 0
        for trial in 0..<20 {
            let x: [Float] = (0..<12).map { _ in
                let u = Float.random(in: 0.001...1, using: &rng)
                return -log(u) * (Bool.random(using: &rng) ? 1 : 4)  // mixture of two exponentials
            }
            let s = x.map(Double.init).sorted()
            let optimum = bruteForceBestSSE(s, 4)
            for maxIter: Int32 in [0, 100] {
                let (st, lv) = fit(x, [12], bits: 2, maxIter: maxIter)
                XCTAssertEqual(st, 0)
                let got = s.reduce(0.0) { acc, v in acc + lv.map { (v - Double($0)) * (v - Double($0)) }.min()! }
                XCTAssertEqual(got, optimum, accuracy: 1e-5 * Swift.max(optimum, 1e-12), "trial \(trial) max_iter \(maxIter)")
            }
            let (_, q) = fit(x, [12], bits: 2, kind: 2, maxIter: 0)
            let qsse = s.reduce(0.0) { acc, v in acc + q.map { (v - Double($0)) * (v - Double($0)) }.min()! }
            if qsse > optimum * (1 + 1e-3) { quantileStartWorse += 1 }
        }
        XCTAssertGreaterThan(quantileStartWorse, 0, "the data should be hard enough to tell the starts apart")
    }

    func testAtomsOfLargeData() {
        // More distinct values than the budget: equal-count and equal-width cuts, each at the start of its run.
        var x = (0..<100_000).map { i -> Float in i % 10 == 0 ? Float(i % 1000) : Float(i) * 1e-3 }
        x.append(contentsOf: [Float](repeating: 50, count: 20_000))  // a long run of equal values
        x.sort()
        let budget = codebookAtomBudget(levels: 16)
        XCTAssertEqual(budget, 1024)
        let atoms = x.withUnsafeBufferPointer { codebookAtoms(sorted: $0, budget: budget) }
        XCTAssertEqual(atoms.first, 0)
        XCTAssertEqual(atoms.last, x.count)
        XCTAssertLessThanOrEqual(atoms.count, budget + 1)
        XCTAssertGreaterThan(atoms.count, budget / 2)
        for k in 1..<atoms.count {
            XCTAssertLessThan(atoms[k - 1], atoms[k])
            if k < atoms.count - 1 { XCTAssertNotEqual(x[atoms[k] - 1], x[atoms[k]], "cut \(k) splits a run") }
        }
        // Few distinct values: one atom per run.
        let small: [Float] = [1, 1, 2, 3, 3, 3]
        XCTAssertEqual(small.withUnsafeBufferPointer { codebookAtoms(sorted: $0, budget: budget) }, [0, 2, 3, 6])
    }

    func testQuantizeTiesGoToLowerIndex() {
        let levels: [Float] = [0, 1, 2, 4, 4, 8]
        let x: [Float] = [-5, 0, 0.5, 1, 1.5, 2, 3, 4, 6, 7, 100, .infinity, -.infinity]
        let (st, idx) = quantize(x, [Int64(x.count)], levels: levels, perGroup: 6)
        XCTAssertEqual(st, 0)
        // 0.5, 1.5 and 3 are midpoints (lower index); 4 and 6 tie between the equal levels 3, 4 (and 5 for 6).
        XCTAssertEqual(idx, [0, 0, 0, 1, 1, 2, 2, 3, 3, 5, 5, 5, 0])
    }

    func testPerChannelEqualsPerTensorChannelByChannel() {
        var rng = SplitMix64(state: 102)  // seeded: a failure reruns identically
        let (r, c) = (37, 3)
        var x = [Float](repeating: 0, count: r * c)
        for i in 0..<x.count { x[i] = Float.random(in: -1...1, using: &rng) * Float(i % c + 1) * (i % 5 == 0 ? 3 : 1) }
        for kind: Int32 in [0, 1, 2] {
            // axis 1 (inner stride 1) and axis 0 of the transpose.
            let (st, lv) = fit(x, [Int64(r), Int64(c)], axis: 1, bits: 3, kind: kind)
            XCTAssertEqual(st, 0)
            var xt = [Float](repeating: 0, count: r * c)
            for i in 0..<r { for j in 0..<c { xt[j * r + i] = x[i * c + j] } }
            let (st0, lv0) = fit(xt, [Int64(c), Int64(r)], axis: 0, bits: 3, kind: kind)
            XCTAssertEqual(st0, 0)
            XCTAssertEqual(lv, lv0)
            for j in 0..<c {
                let column = (0..<r).map { x[$0 * c + j] }
                let (s1, one) = fit(column, [Int64(r)], bits: 3, kind: kind)
                XCTAssertEqual(s1, 0)
                XCTAssertEqual(Array(lv[(j * 8)..<(j * 8 + 8)]), one, "kind \(kind) channel \(j)")
                let (q1, idx1) = quantize(column, [Int64(r)], levels: one, perGroup: 8)
                XCTAssertEqual(q1, 0)
                let (q, idx) = quantize(x, [Int64(r), Int64(c)], axis: 1, levels: lv, perGroup: 8)
                XCTAssertEqual(q, 0)
                XCTAssertEqual((0..<r).map { idx[$0 * c + j] }, idx1)
            }
        }
    }

    func testRadixSortMatchesSort() {
        var rng = SplitMix64(state: 103)  // seeded: a failure reruns identically
        for n in [0, 1, 4095, 4096, 50_001] {
            var a = (0..<n).map { i -> Float in
                switch i % 7 {
                case 0: return 0
                case 1: return -Float.leastNonzeroMagnitude
                case 2: return Float.greatestFiniteMagnitude * (i % 2 == 0 ? 1 : -1)
                default: return Float.random(in: -1e6...1e6, using: &rng) * Float.random(in: 0...1e-3, using: &rng)
                }
            }
            let expected = a.sorted()
            a.withUnsafeMutableBufferPointer { sortFloats($0) }
            XCTAssertEqual(a, expected, "n \(n)")
        }
    }

    func testLog2Levels() {
        // max|x| = 3: log2 3 = 1.58 -> e = 2; 4 bits: -4 .. -2^-5, 0, 2^-4 .. 4.
        let (st, lv) = fit([0.5, -3, 1], [3], bits: 4, kind: 1)
        XCTAssertEqual(st, 0)
        let neg: [Float] = (0...7).map { -Float(sign: .plus, exponent: 2 - $0, significand: 1) }
        let pos: [Float] = (0...6).reversed().map { Float(sign: .plus, exponent: 2 - $0, significand: 1) }
        XCTAssertEqual(lv, neg + [0] + pos)
        // Largest finite float: e is capped at 127.
        let (st2, lv2) = fit([.greatestFiniteMagnitude], [1], bits: 1, kind: 1)
        XCTAssertEqual(st2, 0)
        XCTAssertEqual(lv2, [-Float(sign: .plus, exponent: 127, significand: 1), 0])
    }

    func testErrorReportSplitsRoundingAndClipping() {
        // Levels -1, 0, 2: the end thresholds are -1 - 0.5 and 2 + 1; beyond them an element is clipped.
        let x: [Float] = [-1.5, -1.51, 3.0, 3.01, 0.9]
        let levels: [Float] = [-1, 0, 2]
        var total = sq_error_stats()
        let st = sqCodebookErrorReport(x, [5], 1, -1, levels, 3, 3, nil, 0, &total)
        XCTAssertEqual(st, 0)
        XCTAssertEqual(total.count, 5)
        XCTAssertEqual(total.clipped, 2)
        // Errors: -0.5, -0.51 (clipped), 1.0, 1.01 (clipped), 0.9 (nearest is 0: below the midpoint 1).
        XCTAssertEqual(total.sum_sq_error_clipping, 0.51 * 0.51 + 1.01 * 1.01, accuracy: 1e-5)
        XCTAssertEqual(total.sum_sq_error_rounding, 0.25 + 1.0 + 0.81, accuracy: 1e-5)
        XCTAssertEqual(total.sum_sq_error, total.sum_sq_error_rounding + total.sum_sq_error_clipping, accuracy: 1e-12)
        XCTAssertEqual(total.max_abs_error, 1.01, accuracy: 1e-6)
        XCTAssertEqual(sqCodebookErrorReport([0, .nan], [2], 1, -1, levels, 3, 3, nil, 0, &total),
                       SQError.Kind.nonfinite.rawValue)
    }

    /// Nearest level by definition: argmin |x - level| in float64, ties to the lower index; ±inf to the ends.
    private func nearest(_ x: Float, _ levels: [Float]) -> UInt8 {
        if x == .infinity { return UInt8(levels.count - 1) }
        var best = 0
        for j in 1..<levels.count where abs(Double(x) - Double(levels[j])) < abs(Double(x) - Double(levels[best])) {
            best = j
        }
        return UInt8(best)
    }

    func testFastKernelMatchesNearestLevelForEverySize() throws {
        let fast = Registry.codebook.filter { $0.isa != .reference && Dispatch.supported($0.isa, dispatch.features) }
        try XCTSkipIf(fast.isEmpty, "no optimized codebook record can run on this CPU")
        var rng = SplitMix64(state: 104)  // seeded: a failure reruns identically
        for kernel in fast {
            for L in [1, 2, 3, 4, 5, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 200, 255, 256] {
                // Strictly increasing levels with uneven gaps, some of them a few ulps apart.
                var levels = [Float]()
                var v = Float.random(in: -10...0, using: &rng)
                for j in 0..<L {
                    levels.append(v)
                    v = j % 7 == 3 ? v.nextUp.nextUp : v + Float.random(in: 0.01...2, using: &rng)
                }
                // Every midpoint and its float32 neighbours (ties and the values either side), each level, ±inf,
                // huge values and random values; length not a multiple of 16.
                var x: [Float] = [.infinity, -.infinity, 1e6, -1e6, 0]  // (at 1e38 float64 distances tie)
                for j in 0..<(L - 1) {
                    let m = Float((Double(levels[j]) + Double(levels[j + 1])) / 2)
                    x += [m, m.nextUp, m.nextDown, levels[j]]
                }
                for _ in 0..<300 { x.append(Float.random(in: -12...(v + 2), using: &rng)) }
                let expected = x.map { nearest($0, levels) }
                var tables = [Float](repeating: 0, count: kernel.tableStride)
                let depth = try XCTUnwrap(levels.withUnsafeBufferPointer { kernel.buildTables($0.baseAddress!, L, &tables) })
                var out = [UInt8](repeating: 0xEE, count: x.count)
                let r = kernel.run(x, &out, x.count, tables, depth)
                XCTAssertNil(r.nanAt)
                XCTAssertEqual(r.done, x.count / kernel.block * kernel.block)
                XCTAssertEqual(Array(out[..<r.done]), Array(expected[..<r.done]), "\(kernel.name) L \(L)")
                // Through the export (fast blocks plus the reference tail): every element.
                let (st, idx) = quantize(x, [Int64(x.count)], levels: levels, perGroup: L)
                XCTAssertEqual(st, 0)
                XCTAssertEqual(idx, expected, "L \(L) via sq_codebook_quantize")
            }
            // Repeated levels: the fast path declines (ties go to the first of a run, the reference's job).
            var tables = [Float](repeating: 0, count: kernel.tableStride)
            XCTAssertNil(kernel.buildTables([0, 1, 1, 2], 4, &tables))
            // A NaN stops the kernel at its block and reports its offset.
            var x = [Float](repeating: 0.3, count: 48)
            x[37] = .nan
            let depth = try XCTUnwrap(kernel.buildTables([0, 1], 2, &tables))
            var out = [UInt8](repeating: 0, count: 48)
            let r = kernel.run(x, &out, 48, tables, depth)
            XCTAssertEqual(r.nanAt, 37)
            XCTAssertEqual(r.done, 32)
        }
    }

    func testErrors() {
        var (st, _) = fit([1, .nan, 2], [3], bits: 2)
        XCTAssertEqual(st, SQError.Kind.nonfinite.rawValue)
        XCTAssertTrue(lastError().contains("index 1"), lastError())
        (st, _) = fit([1, .infinity], [2], bits: 2, kind: 1)
        XCTAssertEqual(st, SQError.Kind.nonfinite.rawValue)
        (st, _) = fit([1, 2], [2], bits: 0)
        XCTAssertEqual(st, SQError.Kind.invalidArgument.rawValue)
        (st, _) = fit([1, 2], [2], bits: 2, kind: 7)
        XCTAssertEqual(st, SQError.Kind.invalidArgument.rawValue)
        (st, _) = fit([1, 2], [2], axis: 1, bits: 2)
        XCTAssertEqual(st, SQError.Kind.invalidArgument.rawValue)
        var (qs, _) = quantize([0, .nan], [2], levels: [0, 1], perGroup: 2)
        XCTAssertEqual(qs, SQError.Kind.nonfinite.rawValue)
        (qs, _) = quantize([0, 1], [2], levels: [1, 0], perGroup: 2)
        XCTAssertEqual(qs, SQError.Kind.invalidArgument.rawValue)
        (qs, _) = quantize([0, 1], [2], levels: [0, 1, 2], perGroup: 2)
        XCTAssertEqual(qs, SQError.Kind.shape.rawValue)
        let idx: [UInt8] = [0, 1, 2]
        var out = [Float](repeating: 0, count: 3)
        let dims: [Int64] = [3]
        let ds = sqCodebookDequantize(idx, dims, 1, -1, [5, 6], 2, 2, &out)
        XCTAssertEqual(ds, SQError.Kind.outOfRange.rawValue)
        XCTAssertTrue(lastError().contains("index 2 at flat position 2"), lastError())
        XCTAssertEqual(sqCodebookDequantize(idx, dims, 1, -1, [5, 6, 7], 3, 3, &out), 0)
        XCTAssertEqual(out, [5, 6, 7])
    }
}
