// The int8 matmul against a naive triple loop in Int64 written here, including batching, 1-D operands,
// per-column zero points, packing, the epilogues, the reference path's thread splits and the overflow
// proof. (GemmPathTests holds the other paths to the reference.)
import XCTest
import _SwiftQuantShims
@testable import SwiftQuant

final class MatMulTests: XCTestCase {
    var rng = SplitMix64(state: 109)  // seeded: a failure reruns identically

    func randomValues(_ n: Int, _ d: DType) -> [Int32] { (0..<n).map { _ in Int32.random(in: d.qmin...d.qmax, using: &rng) } }

    func bytes(_ v: [Int32], _ d: DType) -> [UInt8] { v.map { UInt8(truncatingIfNeeded: $0) } }

    func naive(_ a: [Int32], za: Int32, _ b: [Int32], zb: [Int32], m: Int, k: Int, n: Int) -> [Int64] {
        var c = [Int64](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                let z = zb.count == 1 ? zb[0] : zb[j]
                for kk in 0..<k { c[i * n + j] += Int64(a[i * k + kk] - za) * Int64(b[kk * n + j] - z) }
            }
        }
        return c
    }

    func testInt32AgainstNaive() {
        let sizes = [(1, 1, 1), (0, 3, 4), (3, 0, 4), (2, 3, 0), (5, 17, 3), (33, 300, 257), (1, 513, 9)]
        for (m, k, n) in sizes {
            for ad in [DType.int8, .uint8] {
                for bd in [DType.int8, .uint8] {
                    let a = randomValues(m * k, ad), b = randomValues(k * n, bd)
                    let za = Int32.random(in: ad.qmin...ad.qmax, using: &rng) / 4
                    let zb = Bool.random(using: &rng) ? [Int32(bd.qmin + 7)] : randomValues(n, bd).map { $0 / 2 }
                    var c = [Int32](repeating: -1, count: m * n)
                    let st = sqMatMulI32(bytes(a, ad), ad.rawValue, [Int64(m), Int64(k)], 2, za, bytes(b, bd), bd.rawValue,
                                         [Int64(k), Int64(n)], 2, zb, Int64(zb.count), &c, Int64(m * n))
                    XCTAssertEqual(st, 0, String(cString: sq_last_error_message()))
                    XCTAssertEqual(c.map(Int64.init), naive(a, za: za, b, zb: zb, m: m, k: k, n: n), "\(m)x\(k)x\(n) \(ad) \(bd)")
                }
            }
        }
    }

    func testBatchBroadcastAndOneDimensional() throws {
        // (2, 1, 3, 4) x (5, 4, 6) -> (2, 5, 3, 6); 1-D operands drop their dimension.
        let s = try MatMulShape(a: Shape([2, 1, 3, 4]), b: Shape([5, 4, 6]))
        XCTAssertEqual(s.outDims, [2, 5, 3, 6])
        XCTAssertEqual(s.offsets(batch: 7).a, 1 * 12)  // batch (1, 2): a batch 1, b batch 2
        XCTAssertEqual(s.offsets(batch: 7).b, 2 * 24)
        XCTAssertEqual(try MatMulShape(a: Shape([4]), b: Shape([3, 4, 6])).outDims, [3, 6])
        XCTAssertEqual(try MatMulShape(a: Shape([2, 3, 4]), b: Shape([4])).outDims, [2, 3])
        XCTAssertEqual(try MatMulShape(a: Shape([4]), b: Shape([4])).outDims, [])
        XCTAssertThrowsError(try MatMulShape(a: Shape([2, 3, 4]), b: Shape([3, 4, 5])))
        XCTAssertThrowsError(try MatMulShape(a: Shape([3, 4]), b: Shape([5, 6])))

        let a = randomValues(2 * 3 * 4, .int8), b = randomValues(5 * 4 * 6, .uint8)
        var c = [Int32](repeating: 0, count: 2 * 5 * 3 * 6)
        XCTAssertEqual(sqMatMulI32(bytes(a, .int8), 0, [2, 1, 3, 4], 4, 1, bytes(b, .uint8), 1, [5, 4, 6], 3, [128], 1, &c, Int64(c.count)), 0)
        for i in 0..<2 {
            for j in 0..<5 {
                let want = naive(Array(a[(i * 12)..<(i * 12 + 12)]), za: 1, Array(b[(j * 24)..<(j * 24 + 24)]), zb: [128], m: 3, k: 4, n: 6)
                XCTAssertEqual(Array(c[((i * 5 + j) * 18)..<((i * 5 + j) * 18 + 18)]).map(Int64.init), want, "batch (\(i), \(j))")
            }
        }
    }

    func testPackedEqualsUnpackedAndEpilogues() {
        let m = 7, k = 40, n = 9
        let a = randomValues(m * k, .uint8), b = randomValues(k * n, .int8)
        let zb = randomValues(n, .int8).map { $0 / 8 }
        let sb = (0..<n).map { _ in Float.random(in: 0.001...0.02, using: &rng) }
        let sa: Float = 0.05, za: Int32 = 120, sy: Float = 0.9, zy: Int32 = -3
        let exact = naive(a, za: za, b, zb: zb, m: m, k: k, n: n)
        let bias = (0..<n).map { Float($0) - 4.5 }
        var handle: OpaquePointer? = nil
        var bq = sq_qparams(scale: nil, zero_point: nil, count: Int64(n), dtype: 0, axis: 1, block_size: 0)
        let bb = bytes(b, .int8)
        let st = sb.withUnsafeBufferPointer { s in
            zb.withUnsafeBufferPointer { z in
                bq.scale = s.baseAddress
                bq.zero_point = z.baseAddress
                return sqPack(bb, [Int64(k), Int64(n)], 2, &bq, &handle)
            }
        }
        XCTAssertEqual(st, 0, String(cString: sq_last_error_message()))
        defer { sqPackedDestroy(handle) }
        var c = [Int32](repeating: 0, count: m * n)
        XCTAssertEqual(sqMatMulI32Packed(bytes(a, .uint8), 1, [Int64(m), Int64(k)], 2, za, handle, &c, Int64(m * n)), 0)
        XCTAssertEqual(c.map(Int64.init), exact)

        let saArr = [sa], zaArr = [za], syArr = [sy], zyArr = [zy]
        var y8 = [Int8](repeating: 0, count: m * n)
        var yf = [Float](repeating: 0, count: m * n)
        saArr.withUnsafeBufferPointer { sap in zaArr.withUnsafeBufferPointer { zap in
            syArr.withUnsafeBufferPointer { syp in zyArr.withUnsafeBufferPointer { zyp in
                var ap = sq_qparams(scale: sap.baseAddress, zero_point: zap.baseAddress, count: 1, dtype: 1, axis: -1, block_size: 0)
                var yp = sq_qparams(scale: syp.baseAddress, zero_point: zyp.baseAddress, count: 1, dtype: 0, axis: -1, block_size: 0)
                XCTAssertEqual(sqQLinearMatMulPacked(bytes(a, .uint8), [Int64(m), Int64(k)], 2, &ap, handle, &yp, 0, 0, &y8, Int64(m * n)), 0)
                XCTAssertEqual(sqMatMulF32Packed(bytes(a, .uint8), [Int64(m), Int64(k)], 2, &ap, handle, bias, Int64(n), &yf, Int64(m * n)), 0)
            } }
        } }
        for i in 0..<m {
            for j in 0..<n {
                let mult = Double(Float(sa * sb[j]) / sy)
                let r = (Double(exact[i * n + j]) * mult + Double(zy)).rounded(.toNearestOrEven)
                XCTAssertEqual(Int32(y8[i * n + j]), Int32(min(max(r, -128), 127)), "requantized (\(i), \(j))")
                XCTAssertEqual(yf[i * n + j], Float(exact[i * n + j]) * (sa * sb[j]) + bias[j], "float (\(i), \(j))")
            }
        }
    }

    func testReferencePathThreadSplitsAgainstNaive() throws {
        // The reference record on output blocks (rows and columns split for 1 to 5 threads) equals the naive loop.
        for (m, k, n) in [(40, 300, 50), (1, 700, 900), (3, 257, 1000)] {
            let a = randomValues(m * k, .int8), b = randomValues(k * n, .uint8)
            let zb = randomValues(n, .uint8)
            let want = naive(a, za: -7, b, zb: zb, m: m, k: k, n: n)
            let shape = try MatMulShape(a: Shape([m, k]), b: Shape([k, n]))
            let ab = bytes(a, .int8), bb = bytes(b, .uint8)
            for t in 1...5 {
                XCTAssertGreaterThan(gemmBlocks(m: m, n: n, k: k, config: .reference, threads: t).count, t > 1 ? 1 : 0)
                var c = [Int32](repeating: 0, count: m * n)
                try ab.withUnsafeBytes { ap in
                    try bb.withUnsafeBytes { bp in
                        try c.withUnsafeMutableBufferPointer { cp in
                            try matmul(a: ap.baseAddress!, aDType: .int8, za: -7, shape: shape,
                                       b: .raw(bp.baseAddress!, dtype: .uint8, zeroPoints: zb, scales: nil),
                                       epilogue: .int32(cp.baseAddress!), config: .reference, threads: t)
                        }
                    }
                }
                XCTAssertEqual(c.map(Int64.init), want, "\(m)x\(k)x\(n), \(t) threads")
            }
        }
    }

    func testOverflowIsAnError() {
        // int8 x int8 with zero points 0: |A - za| <= 128, |B - zb| <= 128, so K = 131072 could reach 2^31.
        let okK = Int(Int32.max) / (128 * 128), badK = okK + 1
        XCTAssertNoThrow(try checkAccumulator(k: okK, aDType: .int8, za: 0, bDType: .int8, bMaxAbs: 128))
        XCTAssertThrowsError(try checkAccumulator(k: badK, aDType: .int8, za: 0, bDType: .int8, bMaxAbs: 128)) { e in
            XCTAssertEqual((e as? SQError)?.kind, .overflow)
        }
        let a = [UInt8](repeating: 0, count: badK), b = [UInt8](repeating: 0, count: badK)
        var c: [Int32] = [0]
        XCTAssertEqual(sqMatMulI32(a, 0, [1, Int64(badK)], 2, 0, b, 0, [Int64(badK), 1], 2, nil, 0, &c, 1), SQError.Kind.overflow.rawValue)
        XCTAssertTrue(String(cString: sq_last_error_message()).contains("overflow"))
        // The same K is fine with the most extreme accumulations it allows.
        let worst = [UInt8](repeating: 0x80, count: okK)  // -128 as int8
        XCTAssertEqual(sqMatMulI32(worst, 0, [1, Int64(okK)], 2, 0, worst, 0, [Int64(okK), 1], 2, nil, 0, &c, 1), 0)
        XCTAssertEqual(Int64(c[0]), Int64(okK) * 128 * 128)
    }
}
