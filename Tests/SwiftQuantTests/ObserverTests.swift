// Observers: histograms independent of batching, exact merges, serialization round trips and rejection of
// bad bytes, and each method's range on data whose answer is known independently.
import XCTest
@testable import SwiftQuant

final class ObserverTests: XCTestCase {
    func config(_ m: CalibrationMethod, symmetric: Bool = false, axis: Int? = nil, bins: Int = 256) -> ObserverConfig {
        ObserverConfig(method: m, dtype: .int8, symmetric: symmetric, axis: axis, blockSize: 0, numBins: bins,
                       ignoreNonfinite: false, percentile: 99, averagingConstant: 0.01)
    }

    func feed(_ o: Observer, _ x: [Float], dims: [Int]) throws {
        try x.withUnsafeBufferPointer { try o.update($0.baseAddress!, shape: Shape(dims)) }
    }

    /// Deterministic heavy-tailed data: a Laplace-like transform of a fixed sequence.
    func data(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            let u = (Double(s >> 11) + 0.5) / Double(1 << 53)
            return Float(u < 0.5 ? log(2 * u) : -log(2 - 2 * u))
        }
    }

    func testBatchingAndShardingGiveIdenticalHistograms() throws {
        let x = data(20_000, seed: 1)
        for m in [CalibrationMethod.minmax, .percentile, .entropy, .mse] {
            let one = Observer(config: config(m)), many = Observer(config: config(m))
            let a = Observer(config: config(m)), b = Observer(config: config(m))
            try feed(one, x, dims: [x.count])
            // Small batches first, so the range grows many times.
            for (i, start) in stride(from: 0, to: x.count, by: 700).enumerated() {
                let part = Array(x[start..<min(start + 700, x.count)])
                try feed(many, part, dims: [part.count])
                try feed(i % 2 == 0 ? a : b, part, dims: [part.count])
            }
            try a.merge(b)
            XCTAssertEqual(one.histograms?.counts, many.histograms?.counts, "\(m)")
            XCTAssertEqual(one.histograms?.counts, a.histograms?.counts, "\(m)")
            let r1 = try one.ranges(), r2 = try many.ranges(), r3 = try a.ranges()
            XCTAssertEqual(r1.map { $0.0 }, r2.map { $0.0 }, "\(m)")
            XCTAssertEqual(r1.map { $0.1 }, r3.map { $0.1 }, "\(m)")
            XCTAssertEqual(one.histograms?.counts.reduce(0, +), m.usesHistogram ? Int64(x.count) : nil)
        }
    }

    func testTinyNegativeValuesLandInTheSameBinHoweverBatched() throws {
        // With 2^e = 2^40 and 2048 streaming bins, -2^-30 * 1024 / 2^40 + 1024 rounds to exactly 1024 in
        // Double: adding half before the floor put it in bin 1024 (x >= 0) when the range was already wide,
        // but in bin 1023 (its true bin) when it arrived first and the range grew afterwards.
        let x: [Float] = [-0x1p-30, 0x1p39, -0x1p-30, 0x1p-31]
        let one = Observer(config: config(.percentile)), many = Observer(config: config(.percentile))
        try feed(one, x, dims: [4])
        for v in [x[0], x[1]] { try feed(many, [v], dims: [1]) }
        try feed(many, [x[2], x[3]], dims: [2])
        // (bin, count) of the nonzero bins: both -2^-30 in [-2^40 / 1024, 0), 2^-31 in [0, ...), 2^39 = 2^40 / 2.
        func nonzero(_ o: Observer) throws -> [[Int64]] {
            try XCTUnwrap(o.histograms?.counts).enumerated().filter { $0.1 != 0 }.map { [Int64($0.0), $0.1] }
        }
        XCTAssertEqual(try nonzero(one), [[1023, 2], [1024, 1], [1536, 1]])
        XCTAssertEqual(try nonzero(many), [[1023, 2], [1024, 1], [1536, 1]])
    }

    func testBlockStorageIsCanonicalAndWidensPerBlock() throws {
        // 300 values in bin 1024 (block 16) need two bytes; one value in bin 0 (block 0) one byte; the 30 empty
        // blocks are not stored. Built by increments or from the dense bins, the storage is the same.
        var h = GroupHistograms(groups: 1, bins: 2048)
        h.exponents[0] = 0
        let x = [Float](repeating: 0.0001, count: 300) + [-1]
        x.withUnsafeBufferPointer { h.add($0.baseAddress!, x.count, group: 0, stride: 0) }
        XCTAssertEqual(h.rows[0].blockList.map { [$0.index, $0.width] }, [[0, 1], [16, 2]])
        XCTAssertEqual(h.rows[0].data.count, 64 * 3)
        XCTAssertEqual(h.rows[0].bytes, 64 * 3 + 4 * 32)
        XCTAssertEqual(h.count(group: 0, bin: 1024), 300)
        XCTAssertEqual(h.count(group: 0, bin: 0), 1)
        let rebuilt = h.counts.withUnsafeBufferPointer { CompactBins(dense: $0) }
        XCTAssertEqual(rebuilt.directory, h.rows[0].directory)
        XCTAssertEqual(rebuilt.data, h.rows[0].data)
        XCTAssertEqual(CompactBins().bytes, 0)
    }

    func testSerializationRoundTripAndCorruption() throws {
        let o = Observer(config: config(.entropy, axis: 1))
        try feed(o, data(600, seed: 2), dims: [200, 3])
        let bytes = o.serialize()
        let back = try bytes.withUnsafeBufferPointer { try Observer.deserialize($0) }
        XCTAssertEqual(back.serialize(), bytes)
        XCTAssertEqual(try back.ranges().map { $0.1 }, try o.ranges().map { $0.1 })
        // Every truncation and a flipped magic byte are errors, never a crash.
        for cut in [0, 3, 10, 60, bytes.count / 2, bytes.count - 1] {
            XCTAssertThrowsError(try Array(bytes[0..<cut]).withUnsafeBufferPointer { try Observer.deserialize($0) }, "cut \(cut)")
        }
        var bad = bytes
        bad[0] = 0
        XCTAssertThrowsError(try bad.withUnsafeBufferPointer { try Observer.deserialize($0) })
        // The checksum turns any flipped byte into an error (sampled positions, header and counts alike).
        for pos in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 200)) {
            var flipped = bytes
            flipped[pos] ^= 0x10
            XCTAssertThrowsError(try flipped.withUnsafeBufferPointer { try Observer.deserialize($0) }, "byte \(pos)")
        }
        XCTAssertThrowsError(try (bytes + [0]).withUnsafeBufferPointer { try Observer.deserialize($0) })
    }

    func testPercentileOfUniformGrid() throws {
        // 0, 1, ..., 9999: the 99th percentile of x is 9900 to within one bin (10000 / 256).
        let x = (0..<10_000).map(Float.init)
        let o = Observer(config: config(.percentile))
        try feed(o, x, dims: [x.count])
        let (lo, hi) = try o.ranges()[0]
        XCTAssertEqual(Double(hi), 9900, accuracy: 10_000 / 256)
        XCTAssertEqual(Double(lo), 100, accuracy: 10_000 / 256)
    }

    func testEntropyAndMSEClipOutliersButNotUniformData() throws {
        // Uniform data: clipping only hurts, so every method keeps (nearly) the whole range.
        let u = (0..<20_000).map { Float($0 % 2000) / 1000 - 1 }
        for m in [CalibrationMethod.entropy, .mse] {
            let o = Observer(config: config(m, symmetric: true, bins: 2048))
            try feed(o, u, dims: [u.count])
            XCTAssertGreaterThan(try o.ranges()[0].1, 0.98, "\(m) on uniform data")
        }
        // Two huge outliers: ONNX Runtime's entropy clips far below them (its narrowest window is 64 of 2048
        // bins around zero, about 62 here). (TensorRT's cannot: every candidate
        // but the last puts the tail on an empty bin, an infinite KL, so it keeps the whole range; MSE rightly
        // keeps them too: clipping two values of 1000 costs more squared error than the coarser steps cost
        // 50 000 values.)
        var x = data(50_000, seed: 3)
        x[7] = 1000
        x[9] = -1000
        let e = Observer(config: config(.entropyOrt, symmetric: true, bins: 2048))
        try feed(e, x, dims: [x.count])
        XCTAssertLessThan(try e.ranges()[0].1, 200, "entropy with outliers")
        // Laplace tails: MSE clips, and the data's own quantization error confirms the choice.
        let y = data(50_000, seed: 4)
        let m = Observer(config: config(.mse, symmetric: true, bins: 2048))
        try feed(m, y, dims: [y.count])
        let t = try m.ranges()[0].1, amax = y.map(abs).max()!
        func dataMSE(_ t: Float) -> Double {
            let s = t / 127
            return y.reduce(0) { acc, v in
                let q = min(max((v / s).rounded(.toNearestOrEven), -127), 127)
                return acc + Double((q * s - v) * (q * s - v))
            } / Double(y.count)
        }
        XCTAssertLessThan(t, 0.95 * amax)
        XCTAssertLessThan(dataMSE(t), dataMSE(amax))
    }

    func testFailedUpdateChangesNothingAndNonfiniteCounting() throws {
        let o = Observer(config: config(.mse))
        try feed(o, [1, -2, 3], dims: [3])
        let before = o.serialize()
        XCTAssertThrowsError(try feed(o, [1, .nan, .infinity, 50], dims: [4])) { e in
            XCTAssertEqual((e as? SQError)?.kind, .nonfinite)
            XCTAssertTrue((e as? SQError)?.message.contains("2 of 4") ?? false)
        }
        XCTAssertEqual(o.serialize(), before)
        var c = config(.mse)
        c.ignoreNonfinite = true
        let p = Observer(config: c)
        try feed(p, [1, .nan, -.infinity, 50], dims: [4])
        XCTAssertEqual(p.nonfinite, 2)
        XCTAssertEqual(p.values, 2)
        XCTAssertEqual(p.maxs[0], 50)
    }

    func testMovingAverage() throws {
        let o = Observer(config: config(.movingAverage))
        try feed(o, [-1, 2], dims: [2])
        try feed(o, [-3, 4], dims: [2])
        XCTAssertEqual(o.mins[0], -1 + 0.01 * (-3 - -1))
        XCTAssertEqual(o.maxs[0], 2 + 0.01 * (4 - 2))
    }
}

final class MinMaxKernelTests: XCTestCase {
    /// The SIMD kernel agrees with the reference on every length around its 16-wide steps, and flags any
    /// non-finite value wherever it sits.
    func testSIMDMatchesReference() {
        var rng = SplitMix64(state: 110)  // seeded: a failure reruns identically
        for n in [0, 1, 7, 15, 16, 17, 31, 32, 33, 100, 1000] {
            let x = (0..<n).map { _ in Float.random(in: -1e6...1e6, using: &rng) }
            var lo: Float = .infinity, hi: Float = -.infinity
            let bad = minMaxSegmentReference(x, n, mins: &lo, maxs: &hi, paramStride: 0)
            let (a, b, finite) = minMaxSIMD(x, n)
            XCTAssertEqual(bad, 0)
            XCTAssertTrue(finite, "n=\(n)")
            XCTAssertEqual(a, lo, "n=\(n)")
            XCTAssertEqual(b, hi, "n=\(n)")
            for special in [Float.nan, .infinity, -.infinity] where n > 0 {
                for pos in Set([0, n / 2, n - 1]) {
                    var y = x
                    y[pos] = special
                    XCTAssertFalse(minMaxSIMD(y, n).2, "n=\(n) \(special) at \(pos)")
                }
                // Whole 16-lane blocks of it (a block of NaNs leaves min/max untouched: issue 9, item 7).
                for block in stride(from: 0, to: n / 16 * 16, by: 16) {
                    var y = x
                    for i in block..<(block + 16) { y[i] = special }
                    XCTAssertFalse(minMaxSIMD(y, n).2, "n=\(n) \(special) filling block \(block)")
                }
                XCTAssertFalse(minMaxSIMD([Float](repeating: special, count: n), n).2, "n=\(n) all \(special)")
            }
        }
    }
}
