// CalibrationObserver and HessianObserver are value types with copy-on-write over one C handle: a copy is
// independent, a mutation of a shared copy clones the state exactly, and merging with oneself matches the
// C handle merged with itself. Expected states come from the C exports on separate handles.
import XCTest
@testable import SwiftQuant
import _SwiftQuantShims

final class ObserverValueSemanticsTests: XCTestCase {
    /// Every method, with data that moves each method's state (EMA over several batches, histograms).
    static func observers() throws -> [CalibrationObserver] {
        [try CalibrationObserver(method: .minmax, dtype: .uint8),
         try CalibrationObserver(method: .minmax, dtype: .int8, symmetric: true, axis: 1),
         try CalibrationObserver(method: .minmax, dtype: .int8, axis: 1, blockSize: 2),
         try CalibrationObserver(method: .movingAverage, dtype: .int8, averagingConstant: 0.3),
         try CalibrationObserver(method: .percentile, dtype: .uint8, percentile: 99),
         try CalibrationObserver(method: .entropy, dtype: .int8, symmetric: true, numBins: 256),
         try CalibrationObserver(method: .entropyOrt, dtype: .uint8, numBins: 256),
         try CalibrationObserver(method: .mse, dtype: .int8, numBins: 128)]
    }

    static func batch(_ seed: UInt64) -> [Float] {
        var rng = SplitMix64(state: seed)
        return (0..<64).map { _ in Float.random(in: -3...5, using: &rng) }
    }

    static let shape = [16, 4]

    /// The state of a C handle restored from `bytes` after `body` ran on it (the C semantics, no Swift copy).
    static func viaC(_ bytes: [UInt8], _ body: (OpaquePointer) -> Int32) throws -> [UInt8] {
        var h: OpaquePointer? = nil
        try check(sqObserverDeserialize(bytes, Int64(bytes.count), &h))
        defer { sqObserverDestroy(h) }
        try check(body(h!))
        return try serializedBytes { sqObserverSerialize(h, $0, $1, $2) }
    }

    func testACopyIsIndependent() throws {
        for var a in try Self.observers() {
            try a.update(Self.batch(1), shape: Self.shape)
            try a.update(Self.batch(2), shape: Self.shape)
            let bytes = try a.serialized(), params = try a.qparams(), range = try a.range()
            var b = a
            try b.update(Self.batch(3), shape: Self.shape)
            XCTAssertEqual(try a.serialized(), bytes, "\(a.method)")
            XCTAssertEqual(try a.qparams(), params, "\(a.method)")
            XCTAssertEqual(try a.range().min, range.min, "\(a.method)")
            XCTAssertEqual(a.stats.batches, 2)
            XCTAssertEqual(b.stats.batches, 3)
            // The copy is what the C observer gives for the same three batches.
            let x = Self.batch(3), dims = Self.shape.map(Int64.init)
            XCTAssertEqual(try b.serialized(), try Self.viaC(bytes) { sqObserverUpdate($0, x, dims, 2) }, "\(a.method)")
            // And the other way: mutating the original leaves the copy alone.
            let copyBytes = try b.serialized()
            try a.update(Self.batch(4), shape: Self.shape)
            XCTAssertEqual(try b.serialized(), copyBytes, "\(a.method)")
        }
    }

    func testTheCloneIsExactForEveryMethod() throws {
        // Merging an observer that saw nothing is a no-op, so after it a shared copy holds only the clone:
        // byte-identical state, and identical results for later batches (MOVING_AVERAGE included).
        for var a in try Self.observers() {
            for s in 1...5 { try a.update(Self.batch(UInt64(s)), shape: Self.shape) }
            var b = a
            try b.merge(try Self.fresh(like: a))
            XCTAssertEqual(try b.serialized(), try a.serialized(), "\(a.method)")
            try a.update(Self.batch(9), shape: Self.shape)
            try b.update(Self.batch(9), shape: Self.shape)
            XCTAssertEqual(try b.serialized(), try a.serialized(), "\(a.method)")
            XCTAssertEqual(try b.qparams(), try a.qparams(), "\(a.method)")
        }
        // A failed update of a shared copy leaves both as they were (the clone is already made).
        var a = try CalibrationObserver(method: .movingAverage)
        try a.update([1, -2, 3])
        var b = a
        XCTAssertThrowsError(try b.update([1, .nan]))
        XCTAssertEqual(try b.serialized(), try a.serialized())
    }

    /// An observer with a's configuration that has seen nothing (its C configuration, a new handle).
    static func fresh(like a: CalibrationObserver) throws -> CalibrationObserver {
        let bytes = try a.serialized()
        var h: OpaquePointer? = nil, cfg = sq_observer_config()
        try check(sqObserverDeserialize(bytes, Int64(bytes.count), &h))
        defer { sqObserverDestroy(h) }
        try check(sqObserverConfigGet(h, &cfg))
        var e: OpaquePointer? = nil
        try check(sqObserverCreate(&cfg, &e))
        defer { sqObserverDestroy(e) }
        return try CalibrationObserver(serialized: try serializedBytes { sqObserverSerialize(e, $0, $1, $2) })
    }

    func testCopyThenMerge() throws {
        var a = try CalibrationObserver(method: .percentile, dtype: .uint8, percentile: 99)
        try a.update(Self.batch(1))
        let before = try a.serialized()
        var shard = try CalibrationObserver(method: .percentile, dtype: .uint8, percentile: 99)
        try shard.update(Self.batch(2))
        var b = a
        try b.merge(shard)
        XCTAssertEqual(try a.serialized(), before)
        let shardBytes = try shard.serialized()
        XCTAssertEqual(try b.serialized(), try Self.viaC(before) { h in
            var s: OpaquePointer? = nil
            _ = sqObserverDeserialize(shardBytes, Int64(shardBytes.count), &s)
            defer { sqObserverDestroy(s) }
            return sqObserverMerge(h, s)
        })
        // Merging a copy into its original: the original doubles, the copy is unchanged.
        let c = b
        try b.merge(c)
        XCTAssertEqual(b.stats.batches, 4)
        XCTAssertEqual(c.stats.batches, 2)
    }

    func testMergeWithItselfMergesACopy() throws {
        for var a in try Self.observers() {
            try a.update(Self.batch(1), shape: Self.shape)
            try a.update(Self.batch(2), shape: Self.shape)
            let bytes = try a.serialized()
            // The C export refuses one handle as both arguments (so the Swift API must clone first) ...
            XCTAssertThrowsError(try Self.viaC(bytes) { sqObserverMerge($0, $0) }) { e in
                XCTAssertTrue((e as! SwiftQuantError).message.contains("same observer"), "\(e)")
            }
            // ... and ob.merge(ob) is the C merge of a second handle with the same state (Python's rule).
            try a.merge(a)
            XCTAssertEqual(try a.serialized(), try Self.viaC(bytes) { h in
                var s: OpaquePointer? = nil
                _ = sqObserverDeserialize(bytes, Int64(bytes.count), &s)
                defer { sqObserverDestroy(s) }
                return sqObserverMerge(h, s)
            }, "\(a.method)")
            XCTAssertEqual(a.stats.batches, 4, "\(a.method)")
            XCTAssertEqual(a.stats.values, 256, "\(a.method)")
        }
        // Empty with itself: a no-op.
        var e = try CalibrationObserver()
        try e.merge(e)
        XCTAssertEqual(e.groupCount, 0)
    }

    func testSerializedRoundTripIsAValue() throws {
        var a = try CalibrationObserver(method: .entropy, numBins: 256)
        try a.update(Self.batch(5))
        let bytes = try a.serialized()
        let restored = try CalibrationObserver(serialized: bytes)
        var copy = restored
        try copy.update(Self.batch(6))
        XCTAssertEqual(try restored.serialized(), bytes)
        XCTAssertNotEqual(try copy.serialized(), bytes)
        try a.update(Self.batch(6))
        XCTAssertEqual(try copy.serialized(), try a.serialized())
    }

    func testCopiesAcrossTasks() async throws {
        var a = try CalibrationObserver(method: .percentile, dtype: .uint8, percentile: 99)
        try a.update(Self.batch(1))
        let shared = a, before = try a.serialized()
        // Each task updates its own copy of one shared value and reads the shared one concurrently.
        let results = try await withThrowingTaskGroup(of: (Int, [UInt8], [UInt8]).self) { group in
            for i in 0..<4 {
                group.addTask {
                    var mine = shared
                    try mine.update(Self.batch(UInt64(10 + i)))
                    return (i, try mine.serialized(), try shared.serialized())
                }
            }
            var out: [(Int, [UInt8], [UInt8])] = []
            for try await r in group { out.append(r) }
            return out
        }
        XCTAssertEqual(try shared.serialized(), before)
        for (i, mine, seen) in results {
            XCTAssertEqual(seen, before)
            var want = shared
            try want.update(Self.batch(UInt64(10 + i)))
            XCTAssertEqual(mine, try want.serialized(), "task \(i)")
        }
    }

    // MARK: HessianObserver

    static func rows(_ n: Int, _ k: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(state: seed)
        return (0..<(n * k)).map { _ in Float.random(in: -2...2, using: &rng) }
    }

    static func hessianViaC(_ bytes: [UInt8], _ body: (OpaquePointer) -> Int32) throws -> [UInt8] {
        var h: OpaquePointer? = nil
        try check(sqHessianDeserialize(bytes, Int64(bytes.count), &h))
        defer { sqHessianDestroy(h) }
        try check(body(h!))
        return try serializedBytes { sqHessianSerialize(h, $0, $1, $2) }
    }

    func testHessianCopyIsIndependentAndTheCloneExact() throws {
        let k = 7
        var a = try HessianObserver(inFeatures: k)
        try a.update(Self.rows(300, k, seed: 1))
        let bytes = try a.serialized(), sums = a.sums(), h = try a.hessian()
        var b = a
        let x = Self.rows(20, k, seed: 2)
        try b.update(x)
        XCTAssertEqual(try a.serialized(), bytes)
        XCTAssertEqual(a.sums(), sums)
        XCTAssertEqual(try a.hessian(), h)
        XCTAssertEqual(a.count, 300)
        XCTAssertEqual(b.count, 320)
        XCTAssertEqual(try b.serialized(), try Self.hessianViaC(bytes) { sqHessianUpdate($0, x, [20, Int64(k)], 2) })
        // The clone alone (merging an empty observer is a no-op) is byte-identical.
        var c = a
        try c.merge(try HessianObserver(inFeatures: k))
        XCTAssertEqual(try c.serialized(), bytes)
        // Copy then merge: the original stays.
        var d = a
        try d.merge(b)
        XCTAssertEqual(try a.serialized(), bytes)
        XCTAssertEqual(d.count, 620)
        // A failed update of a shared copy changes neither.
        var e = a
        XCTAssertThrowsError(try e.update([Float](repeating: .nan, count: k)))
        XCTAssertEqual(try e.serialized(), bytes)
        XCTAssertEqual(try a.serialized(), bytes)
    }

    func testHessianMergeWithItselfMatchesTheCHandle() throws {
        let k = 5
        var a = try HessianObserver(inFeatures: k)
        try a.update(Self.rows(40, k, seed: 3))
        let bytes = try a.serialized(), sums = a.sums()
        try a.merge(a)
        XCTAssertEqual(a.count, 80)
        XCTAssertEqual(a.sums(), sums.map { 2 * $0 })
        XCTAssertEqual(try a.serialized(), try Self.hessianViaC(bytes) { sqHessianMerge($0, $0) })
        // Through a restored value too: the restored observer is untouched by its copy's merge.
        let restored = try HessianObserver(serialized: bytes)
        var twice = restored
        try twice.merge(restored)
        XCTAssertEqual(try twice.serialized(), try a.serialized())
        XCTAssertEqual(try restored.serialized(), bytes)
    }

    func testHessianCopiesAcrossTasks() async throws {
        let k = 6
        var a = try HessianObserver(inFeatures: k)
        try a.update(Self.rows(50, k, seed: 4))
        let shared = a, before = try a.serialized()
        let counts = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 1...4 {
                group.addTask {
                    var mine = shared
                    try mine.update(Self.rows(i, k, seed: UInt64(i)))
                    return mine.count
                }
            }
            var out: [Int] = []
            for try await c in group { out.append(c) }
            return out.sorted()
        }
        XCTAssertEqual(counts, [51, 52, 53, 54])
        XCTAssertEqual(try shared.serialized(), before)
    }
}
