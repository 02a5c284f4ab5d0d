// Hessian observers (Calibrate/Hessian.swift and the Swift API): S = Σ x xᵀ against a plain float64 loop
// written here, exact for integer-valued rows; every tile record the CPU runs gives the reference record's
// bits; merges of shards are exact; serialization round-trips and rejects bad bytes; NaN changes nothing.
import XCTest
@testable import SwiftQuant

final class HessianTests: XCTestCase {
    /// Deterministic rows: integer-valued in [-20, 20], or spread over many magnitudes.
    func rows(_ n: Int, _ k: Int, seed: UInt64, integer: Bool) -> [Float] {
        var rng = SplitMix64(state: seed)
        return (0..<(n * k)).map { _ in
            integer ? Float(Int.random(in: -20...20, using: &rng))
                    : Float.random(in: -1...1, using: &rng) * Float(1 << Int.random(in: 0...12, using: &rng))
        }
    }

    /// (S, Σ |x_i x_j|) by the definition, in float64.
    func reference(_ x: [Float], _ k: Int) -> (s: [Double], mag: [Double]) {
        var s = [Double](repeating: 0, count: k * k), mag = s
        for r in 0..<(x.count / k) {
            for i in 0..<k {
                for j in 0..<k {
                    let p = Double(x[r * k + i]) * Double(x[r * k + j])
                    s[i * k + j] += p
                    mag[i * k + j] += abs(p)
                }
            }
        }
        return (s, mag)
    }

    static let shapes: [(rows: Int, k: Int)] = [(1, 1), (3, 5), (255, 7), (256, 8), (257, 13), (600, 100), (70, 203)]

    func testSumsAgainstAPlainLoop() throws {
        for (n, k) in Self.shapes {
            for integer in [true, false] {
                let x = rows(n, k, seed: UInt64(n * 1000 + k), integer: integer)
                var h = try HessianObserver(inFeatures: k)
                try h.update(x)
                XCTAssertEqual(h.count, n)
                let s = h.sums(), (want, mag) = reference(x, k)
                for i in 0..<(k * k) {
                    if integer {
                        XCTAssertEqual(s[i], want[i], "n=\(n) k=\(k) element \(i)")
                    } else {
                        XCTAssertLessThanOrEqual(abs(s[i] - want[i]), 1e-12 * mag[i], "n=\(n) k=\(k) element \(i)")
                    }
                    XCTAssertEqual(s[i], s[(i % k) * k + i / k], "symmetric")
                }
                let hh = try h.hessian()
                for i in 0..<(k * k) { XCTAssertEqual(hh[i], s[i] / Double(n)) }
            }
        }
    }

    func testEveryTileRecordGivesTheReferenceBits() throws {
        let fast = Registry.gemmF64.filter { $0.isa != .reference && Dispatch.supported($0.isa, dispatch.features) }
        guard !fast.isEmpty else { throw XCTSkip("no optimized f64 tile record can run on this CPU") }
        for (n, k) in Self.shapes {
            let x = rows(n, k, seed: UInt64(k), integer: false)
            func run(_ record: FloatGemmKernel<Double>) throws -> [Double] {
                let h = try HessianAccumulator(k: k)
                try x.withUnsafeBufferPointer { p in
                    var r0 = 0
                    while r0 < n {  // chunks as update() cuts them
                        let m = Swift.min(256, n - r0)
                        try h.symmetricUpdate(record, p.baseAddress! + r0 * k, rows: m)
                        r0 += m
                    }
                }
                var s = [Double](repeating: 0, count: k * k)
                s.withUnsafeMutableBufferPointer { h.sums(into: $0.baseAddress!) }
                return s
            }
            let want = try run(Registry.gemmF64[0])
            for r in fast {
                let got = try run(r)
                if let i = got.indices.first(where: { got[$0].bitPattern != want[$0].bitPattern }) {
                    XCTFail("\(r.name) n=\(n) k=\(k): element \(i) got \(got[i]), reference \(want[i])")
                }
            }
        }
    }

    func testMergeOfShardsIsExactAndBatchingIsInvariant() throws {
        let k = 37, x = rows(1500, k, seed: 7, integer: true)
        var whole = try HessianObserver(inFeatures: k)
        try whole.update(x)
        var merged = try HessianObserver(inFeatures: k), batched = try HessianObserver(inFeatures: k)
        var start = 0
        for len in [1, 300, 255, 2, 700, 242] {
            let part = Array(x[(start * k)..<((start + len) * k)])
            var shard = try HessianObserver(inFeatures: k)
            try shard.update(part)
            try merged.merge(shard)
            try batched.update(part)
            start += len
        }
        XCTAssertEqual(start, 1500)
        XCTAssertEqual(merged.sums(), whole.sums())
        XCTAssertEqual(batched.sums(), whole.sums())
        XCTAssertEqual(try merged.serialized(), try whole.serialized())
        // Merging with itself counts the rows twice.
        try merged.merge(merged)
        XCTAssertEqual(merged.count, 3000)
        XCTAssertEqual(merged.sums(), whole.sums().map { 2 * $0 })
        // Different K: an error naming both.
        XCTAssertThrowsError(try merged.merge(try HessianObserver(inFeatures: 5))) { e in
            let e = e as! SwiftQuantError
            XCTAssertEqual(e.status, SQError.Kind.shape.rawValue)
            XCTAssertTrue(e.message.contains("K = 5") && e.message.contains("K = 37"), e.message)
        }
    }

    func testSerializationRoundTripAndBadBytes() throws {
        let k = 9
        var h = try HessianObserver(inFeatures: k)
        try h.update(rows(300, k, seed: 3, integer: false))
        let bytes = try h.serialized()
        XCTAssertEqual(bytes.count, 32 + 4 * k * (k + 1))
        XCTAssertEqual(Array(bytes[0..<4]), Array("SQHS".utf8))
        let back = try HessianObserver(serialized: bytes)
        XCTAssertEqual(back.inFeatures, k)
        XCTAssertEqual(back.count, 300)
        XCTAssertEqual(try back.serialized(), bytes)
        XCTAssertEqual(try back.hessian(), try h.hessian())
        // Every truncation and every changed byte is an error (the checksum, then the fields).
        for n in stride(from: 0, to: bytes.count, by: 7) {
            XCTAssertThrowsError(try HessianObserver(serialized: Array(bytes[0..<n])), "truncated to \(n)")
        }
        for i in 0..<bytes.count {
            var bad = bytes
            bad[i] ^= 0x10
            XCTAssertThrowsError(try HessianObserver(serialized: bad), "byte \(i)")
        }
        // Fields checked past a recomputed checksum: negative count, NaN sum, negative diagonal.
        func resealed(_ edit: (inout [UInt8]) -> Void) -> [UInt8] {
            var b = bytes
            edit(&b)
            let sum = b[0..<(b.count - 8)].withUnsafeBufferPointer { checksum($0) }
            for i in 0..<8 { b[b.count - 8 + i] = UInt8(truncatingIfNeeded: sum >> (8 * i)) }
            return b
        }
        XCTAssertNoThrow(try HessianObserver(serialized: resealed { _ in }))
        let negativeCount = resealed { b in for i in 16..<24 { b[i] = 0xFF } }
        let nanSum = resealed { b in for (i, v) in withUnsafeBytes(of: Double.nan.bitPattern.littleEndian, Array.init).enumerated() { b[32 + i] = v } }
        let negativeDiagonal = resealed { b in b[31] |= 0x80 }  // the sign bit of sum[0, 0]
        for (what, b) in [("count", negativeCount), ("not finite", nanSum), ("negative", negativeDiagonal)] {
            XCTAssertThrowsError(try HessianObserver(serialized: b)) { e in
                let e = e as! SwiftQuantError
                XCTAssertEqual(e.status, SQError.Kind.invalidArgument.rawValue)
                XCTAssertTrue(e.message.contains(what), e.message)
            }
        }
    }

    func testNonfiniteAndBadShapesChangeNothing() throws {
        var h = try HessianObserver(inFeatures: 4)
        try h.update([1, 2, 3, 4])
        let before = try h.serialized()
        for bad: Float in [.nan, .infinity, -.infinity] {
            XCTAssertThrowsError(try h.update([1, 2, 3, 4, 5, 6, bad, 8])) { e in
                let e = e as! SwiftQuantError
                XCTAssertEqual(e.status, SQError.Kind.nonfinite.rawValue)
                XCTAssertTrue(e.message.contains("element [1, 2]"), e.message)
            }
        }
        XCTAssertThrowsError(try h.update([1, 2, 3]))
        XCTAssertEqual(try h.serialized(), before)
        XCTAssertThrowsError(try HessianObserver(inFeatures: 0))
        XCTAssertThrowsError(try HessianObserver(inFeatures: 65537))
        XCTAssertThrowsError(try HessianObserver(inFeatures: 3).hessian()) { e in
            XCTAssertTrue((e as! SwiftQuantError).message.contains("no data observed"))
        }
        XCTAssertEqual(try HessianObserver(inFeatures: 2).sums(), [0, 0, 0, 0])
    }

    func testAccessorForOtherExports() throws {
        let x = rows(40, 6, seed: 11, integer: true)
        let h = try HessianAccumulator(k: 6)
        try x.withUnsafeBufferPointer { try h.update($0.baseAddress!, shape: Shape([40, 6])) }
        let handle = OpaquePointer(Unmanaged.passRetained(h).toOpaque())
        defer { sqHessianDestroy(handle) }
        let (k, m) = try hessianMatrix(handle)
        XCTAssertEqual(k, 6)
        XCTAssertEqual(m, reference(x, 6).s.map { $0 / 40 })
        XCTAssertThrowsError(try hessianMatrix(nil, argument: "hessian")) { e in
            XCTAssertEqual((e as! SQError).kind, .nullPointer)
        }
    }
}
