// Every GEMM record of the registry (Kernels/Registry.swift, GemmConfig.swift) against the whole-product
// reference loop (Kernels/Reference/MatMulReference.swift), bit for bit: the records are
// called directly, whatever the dispatch chose, over tile-edge sizes, every dtype pair, scalar and
// per-column zero points (extremes included), batches, packed and unpacked B, the three epilogues and
// several thread splits; the reference record is one of the paths checked.
import XCTest
@testable import SwiftQuant

/// Reproducible random bytes (splitmix64), so a failure names a case that can be rerun.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

final class GemmPathTests: XCTestCase {
    /// The epilogues; the "ties" ones use M = f32(f32(0.25 * 2) / 1) = 0.5 exactly, so every odd C lands on
    /// a tie (x.5) and the rounding rules disagree.
    enum Output: CaseIterable {
        case int32, requantizeInt8, requantizeUInt8, tiesNearestEven, tiesHalfAway, tiesFloor, float, floatBias
        var width: Int { self == .int32 || self == .float || self == .floatBias ? 4 : 1 }
        var ties: Bool { self == .tiesNearestEven || self == .tiesHalfAway || self == .tiesFloor }
    }

    struct Case: CustomStringConvertible {
        var m: Int, k: Int, n: Int
        var aType: DType, bType: DType
        var za: Int32
        var zb: [Int32]
        var batchA: [Int] = []
        var batchB: [Int] = []
        /// Instead of random values: A = qmin + qmax - za and B[k, n] = qmin + qmax - zb[n], the values
        /// farthest from the zero points (|A - za| = |B - zb| = 255 when the zero points are range ends).
        var mirror = false
        /// Instead of values over the whole range: values within `spread` of the zero points, so C is small
        /// and the requantized outputs are not saturated (their ties are seen).
        var spread: Int32? = nil
        var seed: UInt64
        var description: String {
            "\(batchA + [m, k]) \(aType.name) (za \(za)) x \(batchB + [k, n]) \(bType.name) (zb \(zb.count == 1 ? "\(zb[0])" : "per column, \(zb.prefix(3))...")) seed \(seed)"
        }
    }

    /// The paths other than the reference that this machine can run; skips (never fails) when there are none.
    func optimizedPaths() throws -> [GemmConfig] {
        let paths = Registry.gemm.filter { $0.isa != .reference }
        #if arch(x86_64)
        guard GemmConfig.vnni.isSupported else {
            throw XCTSkip("this CPU lacks AVX-512 VNNI (F/BW/VL/DQ + VNNI): the \(GemmConfig.vnni.name) path cannot run here")
        }
        #endif
        guard !paths.isEmpty else { throw XCTSkip("no optimized GEMM path is built for this architecture") }
        return paths
    }

    /// Values of a dtype, a tenth of them at the range's ends so extreme products occur.
    static func values(_ count: Int, _ d: DType, _ rng: inout SplitMix64) -> [UInt8] {
        (0..<count).map { _ in
            let v: Int32
            switch UInt8.random(in: 0..<20, using: &rng) {
            case 0: v = d.qmin
            case 1: v = d.qmax
            default: v = Int32.random(in: d.qmin...d.qmax, using: &rng)
            }
            return UInt8(truncatingIfNeeded: v)
        }
    }

    /// The result bytes of one product on one path (nil: the whole-product reference loop, the oracle).
    func run(_ c: Case, _ config: GemmConfig?, output: Output, packed: Bool, threads: Int? = nil,
             file: StaticString = #filePath, line: UInt = #line) -> [UInt8] {
        var rng = SplitMix64(state: c.seed)
        let aCount = c.batchA.reduce(1, *) * c.m * c.k, bCount = c.batchB.reduce(1, *) * c.k * c.n
        var a = Self.values(c.mirror ? 0 : aCount, c.aType, &rng), b = Self.values(c.mirror ? 0 : bCount, c.bType, &rng)
        if let d = c.spread {
            func near(_ z: Int32, _ t: DType) -> UInt8 {
                UInt8(truncatingIfNeeded: Int32.random(in: Swift.max(t.qmin, z - d)...Swift.min(t.qmax, z + d), using: &rng))
            }
            a = (0..<aCount).map { _ in near(c.za, c.aType) }
            b = (0..<bCount).map { i in near(c.zb[c.zb.count == 1 ? 0 : i % c.n], c.bType) }
        }
        if c.mirror {
            a = [UInt8](repeating: UInt8(truncatingIfNeeded: c.aType.qmin + c.aType.qmax - c.za), count: aCount)
            b = (0..<bCount).map { i in UInt8(truncatingIfNeeded: c.bType.qmin + c.bType.qmax - c.zb[c.zb.count == 1 ? 0 : i % c.n]) }
        }
        let bScales = (0..<(c.zb.count)).map { _ in output.ties ? 2 : Float.random(in: 0.0005...0.02, using: &rng) }
        let bias = (0..<c.n).map { _ in Float.random(in: -50...50, using: &rng) }
        do {
            let shape = try MatMulShape(a: Shape(c.batchA + [c.m, c.k]), b: Shape(c.batchB + [c.k, c.n]))
            let count = shape.outCount
            let width = output.width
            var out = [UInt8](repeating: 0xEE, count: Swift.max(count * width, 1))
            try a.withUnsafeBytes { ap in
                try b.withUnsafeBytes { bp in
                    try out.withUnsafeMutableBytes { op in
                        try bias.withUnsafeBufferPointer { biasp in
                            let o = op.baseAddress!
                            let epilogue: MatMulEpilogue
                            switch output {
                            case .int32: epilogue = .int32(o.assumingMemoryBound(to: Int32.self))
                            case .requantizeInt8:
                                epilogue = .requantize(o, dtype: .int8, aScale: 0.02, yScale: 0.7, yZeroPoint: -3,
                                                       rounding: .nearestEven, seed: 0)
                            case .requantizeUInt8:
                                epilogue = .requantize(o, dtype: .uint8, aScale: 0.03, yScale: 0.4, yZeroPoint: 131,
                                                       rounding: .stochastic, seed: c.seed)
                            case .tiesNearestEven:
                                epilogue = .requantize(o, dtype: .int8, aScale: 0.25, yScale: 1, yZeroPoint: 0, rounding: .nearestEven, seed: 0)
                            case .tiesHalfAway:
                                epilogue = .requantize(o, dtype: .uint8, aScale: 0.25, yScale: 1, yZeroPoint: 128, rounding: .halfAway, seed: 0)
                            case .tiesFloor:
                                epilogue = .requantize(o, dtype: .int8, aScale: 0.25, yScale: 1, yZeroPoint: -1, rounding: .floor, seed: 0)
                            case .float: epilogue = .float(o.assumingMemoryBound(to: Float.self), aScale: 0.05, bias: nil)
                            case .floatBias: epilogue = .float(o.assumingMemoryBound(to: Float.self), aScale: 0.05, bias: biasp.baseAddress)
                            }
                            guard let config else {
                                return try matmulReference(a: ap.baseAddress!, aDType: c.aType, za: c.za, shape: shape,
                                                           b: bp.baseAddress!, bDType: c.bType, zeroPoints: c.zb,
                                                           scales: bScales, epilogue: epilogue)
                            }
                            let bArg: MatMulB
                            if packed {
                                bArg = .packed(try PackedMatrix(b: bp.baseAddress!, dtype: c.bType, k: c.k, n: c.n,
                                                                zeroPoints: c.zb, scales: bScales, config: config))
                            } else {
                                bArg = .raw(bp.baseAddress!, dtype: c.bType, zeroPoints: c.zb, scales: bScales)
                            }
                            try matmul(a: ap.baseAddress!, aDType: c.aType, za: c.za, shape: shape, b: bArg,
                                       epilogue: epilogue, config: config, threads: threads)
                        }
                    }
                }
            }
            return out
        } catch {
            XCTFail("\(c) on \(config?.name ?? "the whole-product reference"): \(error)", file: file, line: line)
            return []
        }
    }

    /// Runs the case on the given paths and the reference record, and compares each with the whole-product
    /// reference loop; on a mismatch names the first differing element with both values.
    func check(_ c: Case, _ paths: [GemmConfig], output: Output = .int32, packed: Bool = true, threads: [Int?] = [nil],
               file: StaticString = #filePath, line: UInt = #line) {
        let want = run(c, nil, output: output, packed: packed, file: file, line: line)
        for config in [GemmConfig.reference] + paths {
            for t in threads {
                let got = run(c, config, output: output, packed: packed, threads: t, file: file, line: line)
                guard got != want else { continue }
                let width = output.width
                let i = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }!.offset / width
                func value(_ bytes: [UInt8]) -> String {
                    let w = Array(bytes[(i * width)..<(i * width + width)])
                    switch output {
                    case .int32: return "\(w.withUnsafeBytes { $0.load(as: Int32.self) })"
                    case .float, .floatBias: return "\(w.withUnsafeBytes { $0.load(as: Float.self) })"
                    case .requantizeInt8, .tiesNearestEven, .tiesFloor: return "\(Int8(bitPattern: w[0]))"
                    case .requantizeUInt8, .tiesHalfAway: return "\(w[0])"
                    }
                }
                let mn = c.m * c.n
                XCTFail("\(config.name) \(output) \(packed ? "packed" : "unpacked") threads \(t.map(String.init) ?? "pool") \(c): element \(i) (batch \(i / Swift.max(mn, 1)), row \(i % Swift.max(mn, 1) / c.n), column \(i % c.n)) whole-product reference \(value(want)) got \(value(got))",
                        file: file, line: line)
            }
        }
    }

    static let sizes = [1, 2, 3, 15, 16, 17, 31, 63, 64, 65, 255]
    static let dtypePairs: [(DType, DType)] = [(.uint8, .int8), (.int8, .int8), (.uint8, .uint8), (.int8, .uint8)]

    /// Zero points cycling through the interesting kinds: zero, the range's ends, random, per column.
    static func zeroPoints(_ variant: Int, _ a: DType, _ b: DType, n: Int, _ rng: inout SplitMix64) -> (Int32, [Int32]) {
        switch variant % 5 {
        case 0: return (0, [0])
        case 1: return (a.qmax, [b.qmin])
        case 2: return (a.qmin, [b.qmax])
        case 3: return (Int32.random(in: a.qmin...a.qmax, using: &rng), (0..<n).map { _ in Int32.random(in: b.qmin...b.qmax, using: &rng) })
        default: return (a == .int8 ? 127 : 255, (0..<n).map { $0 % 2 == 0 ? b.qmin : b.qmax })
        }
    }

    func testEdgeSizesEveryDTypeAndZeroPoint() throws {
        let paths = try optimizedPaths()
        var rng = SplitMix64(state: 1)
        let s = Self.sizes
        // Every (M, N) pair of edge sizes, K cycling through them too, so each value meets each dimension.
        for (i, m) in s.enumerated() {
            for (j, n) in s.enumerated() {
                let k = s[(3 * i + 5 * j + 1) % s.count]
                let (ad, bd) = Self.dtypePairs[(i + j) % 4]
                let (za, zb) = Self.zeroPoints(i * 7 + j, ad, bd, n: n, &rng)
                check(Case(m: m, k: k, n: n, aType: ad, bType: bd, za: za, zb: zb, seed: rng.next()), paths)
            }
        }
        // Every K with every dtype pair and zero-point kind at tile-straddling M and N.
        for (i, k) in s.enumerated() {
            for (p, (ad, bd)) in Self.dtypePairs.enumerated() {
                let (za, zb) = Self.zeroPoints(i + p, ad, bd, n: 65, &rng)
                check(Case(m: 7, k: k, n: 65, aType: ad, bType: bd, za: za, zb: zb, seed: rng.next()), paths)
            }
        }
    }

    func testLargeAndDeepShapes() throws {
        let paths = try optimizedPaths()
        var rng = SplitMix64(state: 2)
        // 1000 in each dimension; K past one K block (1024) and M past one M block (576) so the blocked
        // accumulation in C and the row-block loop are exercised; odd K everywhere.
        let shapes = [(1000, 65, 63), (3, 1000, 130), (17, 63, 1000), (1, 1000, 1000), (1000, 17, 3),
                      (13, 2053, 70), (1, 3001, 65), (601, 1030, 17)]
        for (t, (m, k, n)) in shapes.enumerated() {
            let (ad, bd) = Self.dtypePairs[t % 4]
            let (za, zb) = Self.zeroPoints(t + 1, ad, bd, n: n, &rng)
            check(Case(m: m, k: k, n: n, aType: ad, bType: bd, za: za, zb: zb, seed: rng.next()), paths, threads: [1, 2, 3])
        }
    }

    func testWorstCaseAccumulationWraps() throws {
        // |A - za| = |B - zb| = 255 on every term at the deepest K the overflow proof allows: the exact C is
        // +-2147450625 and the kernels' shifted partial sums wrap on the way there. Checked against the exact
        // value (the reference is slow at this depth in debug builds; MatMulTests covers it).
        let paths = try optimizedPaths()
        let k = Int(Int32.max) / (255 * 255)
        for (ad, za, bd, zb) in [(DType.uint8, Int32(0), DType.uint8, Int32(255)), (.uint8, 255, .int8, -128),
                                 (.int8, 127, .uint8, 0), (.int8, -128, .int8, 127)] {
            let (m, n) = (2, 65)
            for perColumn in [false, true] {
                let zbs = perColumn ? (0..<n).map { $0 % 2 == 0 ? zb : bd.qmin + bd.qmax - zb } : [zb]
                let c = Case(m: m, k: k, n: n, aType: ad, bType: bd, za: za, zb: zbs, mirror: true, seed: 0)
                let da = Int64(ad.qmin + ad.qmax - 2 * za)
                let want = (0..<(m * n)).map { i in
                    let z = zbs[perColumn ? i % n : 0]
                    return Int32(Int64(k) * da * Int64(bd.qmin + bd.qmax - 2 * z))
                }
                for config in paths {
                    let got = run(c, config, output: .int32, packed: true).withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
                    XCTAssertEqual(got, want, "\(config.name) \(c)")
                }
            }
        }
    }

    func testEpiloguesPackedUnpackedAndBatches() throws {
        let paths = try optimizedPaths()
        var rng = SplitMix64(state: 4)
        for (t, (m, k, n)) in [(1, 64, 65), (7, 31, 17), (64, 255, 130), (65, 17, 1)].enumerated() {
            for output in Output.allCases {
                let (ad, bd) = Self.dtypePairs[t % 4]
                let (za, zb) = Self.zeroPoints(t + 3, ad, bd, n: n, &rng)
                let c = Case(m: m, k: k, n: n, aType: ad, bType: bd, za: za, zb: zb, seed: rng.next())
                check(c, paths, output: output, packed: true, threads: [1, 2])
                check(c, paths, output: output, packed: false)
            }
        }
        // Small C (values near the zero points), so the requantized outputs sit on ties and in range.
        for (t, (m, k, n)) in [(1, 17, 65), (7, 64, 33), (13, 3, 70)].enumerated() {
            for output in Output.allCases where output.ties {
                let (ad, bd) = Self.dtypePairs[t % 4]
                let (za, zb) = Self.zeroPoints(t + 3, ad, bd, n: n, &rng)
                let c = Case(m: m, k: k, n: n, aType: ad, bType: bd, za: za, zb: zb, spread: 2, seed: rng.next())
                check(c, paths, output: output)
            }
        }
        // Batches with broadcast on both sides, one B packed per distinct batch.
        for (t, (ba, bb)) in [([2, 1], [3]), ([3], []), ([], [2]), ([2, 2], [2, 2])].enumerated() {
            let (ad, bd) = Self.dtypePairs[(t + 1) % 4]
            let (za, zb) = Self.zeroPoints(t + 2, ad, bd, n: 33, &rng)
            let c = Case(m: 9, k: 70, n: 33, aType: ad, bType: bd, za: za, zb: zb, batchA: ba, batchB: bb, seed: rng.next())
            check(c, paths, output: t % 2 == 0 ? .int32 : .requantizeUInt8, packed: false, threads: [nil, 3])
            if bb.isEmpty { check(c, paths, output: .floatBias, packed: true) }
        }
    }

    func testManySmallBatchesRunInGroups() throws {
        // Each batch is below the parallel threshold but all of them are not: whole batches go to threads,
        // each group with its own scratch C (requantize) and its own packed copies of raw B.
        let paths = try optimizedPaths()
        var rng = SplitMix64(state: 6)
        let (m, k, n) = (17, 65, 70)
        for (ba, bb, output) in [([64], [64], Output.int32), ([8, 8], [1], .requantizeUInt8), ([64], [], .floatBias)] {
            let (za, zb) = Self.zeroPoints(3, .int8, .uint8, n: n, &rng)
            let c = Case(m: m, k: k, n: n, aType: .int8, bType: .uint8, za: za, zb: zb, batchA: ba, batchB: bb, seed: rng.next())
            let shape = try MatMulShape(a: Shape(ba + [m, k]), b: Shape(bb + [k, n]))
            for config in paths {
                XCTAssertEqual(gemmBlocks(m: m, n: n, k: k, config: config, threads: 3).count, 1)
                XCTAssertEqual(batchGroups(shape, config: config, threads: 3), 3)
            }
            check(c, paths, output: output, packed: false, threads: [1, 2, 3])
            if bb.isEmpty { check(c, paths, output: output, packed: true, threads: [3]) }
        }
    }

    func testKZeroGivesZeros() throws {
        let paths = try optimizedPaths()
        for (m, n) in [(1, 5), (8, 70)] {
            check(Case(m: m, k: 0, n: n, aType: .int8, bType: .uint8, za: 5, zb: [200], seed: 5), paths)
            check(Case(m: m, k: 0, n: n, aType: .uint8, bType: .int8, za: 5, zb: [-7], seed: 5), paths, output: .floatBias)
        }
    }

    func testBlocksCoverTheOutputOnce() {
        // The thread split: disjoint blocks covering [0, M) x [0, N), aligned to the record's tiles.
        for config in Registry.gemm {
            for (m, n, k) in [(1, 4096, 4096), (7, 1000, 1000), (128, 4096, 4096), (1024, 1024, 1024), (5, 3, 2)] {
                for t in [1, 2, 3, 8] {
                    let blocks = gemmBlocks(m: m, n: n, k: k, config: config, threads: t)
                    var seen = [Int](repeating: 0, count: m * n)
                    for (rows, cols) in blocks {
                        XCTAssertEqual(rows.lowerBound % config.mr, 0)
                        XCTAssertEqual(cols.lowerBound % config.nr, 0)
                        for i in rows { for j in cols { seen[i * n + j] += 1 } }
                    }
                    XCTAssertTrue(seen.allSatisfy { $0 == 1 }, "\(config.name) \(m)x\(k)x\(n) threads \(t): \(blocks)")
                    if t > 1 && Double(m * n * k) >= config.minParallelMACs { XCTAssertGreaterThan(blocks.count, 1) }
                }
            }
        }
    }

    func testActivePathFollowsDispatch() {
        // The registry's choice: the highest record at or below the dispatch level.
        XCTAssertLessThanOrEqual(Registry.activeGemm.isa, dispatch.isa)
        XCTAssertEqual(Registry.activeGemm.name, Registry.gemm.filter { $0.isa <= dispatch.isa }.last!.name)
        if dispatch.isa >= .vnni { XCTAssertEqual(Registry.activeGemm.isa, .vnni) }
        if dispatch.isa == .reference { XCTAssertEqual(Registry.activeGemm.isa, .reference) }
    }
}
