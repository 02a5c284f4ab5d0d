// GGUF block formats (Weights/GGUF.swift): the float16 conversions against Swift's Float16, the fast path
// against the element-by-element reference on adversarial blocks (bytes, floats and reported issues all
// identical, across thread-pool task boundaries), hand-computed blocks pinning the tie rules, and the C
// exports' error codes and messages. Tests/python/test_gguf.py checks both against gguf-py itself.
import XCTest
import _SwiftQuantShims
@testable import SwiftQuant

final class GGUFTests: XCTestCase {
    typealias F = GGUF.Format

    // MARK: float16

    #if !(os(macOS) && arch(x86_64))  // Float16 is unavailable on Intel macOS
    func testHalfToFloatMatchesFloat16ForEveryPattern() {
        for h in 0...UInt16.max {
            let want = Float(Float16(bitPattern: h)), got = GGUF.float(half: h)
            if want.isNaN {
                XCTAssertTrue(got.isNaN, "half 0x\(String(h, radix: 16))")
            } else {
                XCTAssertEqual(got.bitPattern, want.bitPattern, "half 0x\(String(h, radix: 16)): expected \(want), got \(got)")
            }
        }
    }

    func testFloatToHalfMatchesFloat16AtEveryRoundingBoundary() {
        var checked = 0
        func check(_ f: Float) {
            let want = Float16(f).bitPattern, got = GGUF.halfBits(f)
            if f.isNaN {
                XCTAssertEqual(got & 0x7C00, 0x7C00)
                XCTAssertNotEqual(got & 0x3FF, 0)
                return
            }
            if got != want {
                XCTFail("float \(f) (bits 0x\(String(f.bitPattern, radix: 16))): expected half 0x\(String(want, radix: 16)), got 0x\(String(got, radix: 16))")
            }
            checked += 1
        }
        // Every half, the midpoints to its neighbour (ties, to even) and one float ulp either side of them.
        for h in UInt16(0)..<0x7C00 {
            let a = GGUF.float(half: h), b = GGUF.float(half: h + 1)
            let mid = a + (b - a) / 2  // exact: a and b are halves, their midpoint is a float
            for f in [a, mid, mid.nextDown, mid.nextUp, a.nextUp, a.nextDown] { check(f); check(-f) }
        }
        let specials: [Float] = [65504, 65519.996, 65520, 65536, 1e10, .greatestFiniteMagnitude, .infinity, .nan,
                                 0x1p-24, 0x1p-25, Float(0x1p-25).nextUp, 0x1p-26, 0x1p-14, Float(0x1p-14).nextDown,
                                 .leastNonzeroMagnitude, .leastNormalMagnitude, 0, Float(1e-40 as Double)]
        for f in specials {
            check(f)
            check(-f)
        }
        var rng = SplitMix64(state: 1601)  // seeded: a failure reruns identically
        for _ in 0..<200_000 { check(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))) }
        XCTAssertGreaterThan(checked, 300_000)
    }
    #endif

    // MARK: reference vs fast

    /// Blocks that probe every rule: ties after scaling, first-of-equal magnitudes of both signs, zeros of
    /// both signs, constant blocks, subnormal and tiny magnitudes (1/d overflows), float16-subnormal d,
    /// magnitudes just under the float16 overflow, and ordinary random values.
    func adversarialBlocks(_ rng: inout SplitMix64, blocks: Int) -> [Float] {
        var x = [Float](repeating: 0, count: blocks * 32)
        func uniform(_ lo: Float, _ hi: Float) -> Float {
            lo + (hi - lo) * Float(rng.next() >> 40) / Float(1 << 24)
        }
        for b in 0..<blocks {
            let kind = Int(rng.next() % 12)
            for j in 0..<32 {
                let i = b * 32 + j
                switch kind {
                case 0: x[i] = uniform(-1, 1)
                case 1: x[i] = Float(Int(rng.next() % 17) - 8) * 0.5 - 0.25 * Float(rng.next() % 2)  // quarter steps
                case 2: x[i] = Float(Int(rng.next() % 33) - 16) / 2  // max +-8: id = -+1, s on half steps
                case 3: x[i] = [0, -0.0, 0, -0.0][Int(rng.next() % 4)]
                case 4: x[i] = b % 2 == 0 ? 3.25 : -0.0  // constant
                case 5: x[i] = uniform(-1, 1) * Float(1e-39 as Double)  // subnormal: 1/d overflows
                case 6: x[i] = uniform(-1, 1) * 1e-5  // d subnormal in float16
                case 7: x[i] = uniform(-1, 1) * 500_000  // Q4_0 near its float16 limit (524160)
                case 8: x[i] = j % 7 == 0 ? -5 : (j % 5 == 0 ? 5 : uniform(-5, 5))  // equal magnitudes, both signs
                case 9: x[i] = uniform(0, 1) * Float(1 << (rng.next() % 20))
                case 10: x[i] = Float(Int(rng.next() % 31)) * 0.5 + 100  // Q4_1 half steps above an offset
                default: x[i] = uniform(-1, 1) * Float(1 << (rng.next() % 24)) / 4096
                }
            }
        }
        return x
    }

    func quantizeBoth(_ f: F, _ x: [Float]) -> (ref: [UInt8], fast: [UInt8], refIssue: GGUF.Issue?, fastIssue: GGUF.Issue?) {
        let blocks = x.count / 32
        var r = [UInt8](repeating: 0xEE, count: blocks * f.blockBytes), q = r
        let ri = x.withUnsafeBufferPointer { xs in r.withUnsafeMutableBufferPointer { GGUF.referenceQuantize(f, xs.baseAddress!, blocks: blocks, $0.baseAddress!) } }
        let qi = x.withUnsafeBufferPointer { xs in q.withUnsafeMutableBufferPointer { GGUF.quantize(f, xs.baseAddress!, blocks: blocks, $0.baseAddress!) } }
        return (r, q, ri, qi)
    }

    func dequantizeBoth(_ f: F, _ data: [UInt8]) -> (ref: [Float], fast: [Float], refIssue: GGUF.Issue?, fastIssue: GGUF.Issue?) {
        let blocks = data.count / f.blockBytes
        var r = [Float](repeating: .nan, count: blocks * 32), y = r
        let ri = data.withUnsafeBufferPointer { d in r.withUnsafeMutableBufferPointer { GGUF.referenceDequantize(f, d.baseAddress!, blocks: blocks, $0.baseAddress!) } }
        let yi = data.withUnsafeBufferPointer { d in y.withUnsafeMutableBufferPointer { GGUF.dequantize(f, d.baseAddress!, blocks: blocks, $0.baseAddress!) } }
        return (r, y, ri, yi)
    }

    func assertSameBytes(_ got: [UInt8], _ want: [UInt8], _ f: F, _ x: [Float], _ what: String) {
        guard got != want else { return }
        let i = got.indices.first { got[$0] != want[$0] }!
        let b = i / f.blockBytes
        XCTFail("\(what) \(f.name): byte \(i) (block \(b), offset \(i % f.blockBytes)): reference 0x\(String(want[i], radix: 16)), fast 0x\(String(got[i], radix: 16)); block values \(Array(x[(b * 32)..<(b * 32 + 32)]))")
    }

    func assertSameFloats(_ got: [Float], _ want: [Float], _ f: F, _ what: String) {
        for i in got.indices where got[i].bitPattern != want[i].bitPattern {
            XCTFail("\(what) \(f.name): element \(i): reference \(want[i]), fast \(got[i])")
            return
        }
    }

    func testFastQuantizeEqualsReferenceOnAdversarialBlocks() {
        var rng = SplitMix64(state: 1602)
        // 5000 blocks: several thread-pool tasks (GGUF.blocksPerTask = 2048) and a short last one.
        let x = adversarialBlocks(&rng, blocks: 5000)
        for f in F.allCases {
            // Q4_1's near-limit blocks: made to span [0, 943718], inside its limits (range 982800, |min| 65520).
            var keep = x
            if f == .q4_1 {
                for b in 0..<(x.count / 32) where x[(b * 32)..<(b * 32 + 32)].contains(where: { abs($0) > 60_000 }) {
                    for i in (b * 32)..<(b * 32 + 32) { keep[i] = abs(x[i]) * 1.8 }
                    keep[b * 32 + 5] = 0
                }
            }
            let (r, q, ri, qi) = quantizeBoth(f, keep)
            XCTAssertNil(ri, "\(f.name)")
            XCTAssertNil(qi, "\(f.name)")
            assertSameBytes(q, r, f, keep, "quantize")
            let (dr, dq, dri, dqi) = dequantizeBoth(f, r)
            XCTAssertNil(dri)
            XCTAssertNil(dqi)
            assertSameFloats(dq, dr, f, "dequantize")
        }
    }

    func testFastDequantizeEqualsReferenceOnRandomBytes() {
        var rng = SplitMix64(state: 1603)
        for f in F.allCases {
            var data = (0..<(4500 * f.blockBytes)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            for b in 0..<4500 {  // finite d and m (exponent below 31), every code pattern
                data[b * f.blockBytes + 1] &= 0x7B
                if f == .q4_1 { data[b * f.blockBytes + 3] &= 0x7B }
            }
            let (r, y, ri, yi) = dequantizeBoth(f, data)
            XCTAssertNil(ri)
            XCTAssertNil(yi)
            assertSameFloats(y, r, f, "dequantize")
        }
    }

    func testIssuesAreTheSequentialFirstOnEveryPath() {
        var rng = SplitMix64(state: 1604)
        let blocks = 6000
        let base = (0..<(blocks * 32)).map { _ in Float(Int(rng.next() % 2001) - 1000) / 1000 }
        for f in F.allCases {
            let huge: Float = f == .q8_0 ? 9e6 : (f == .q4_1 ? 2e6 : 6e5)
            // (NaN/inf positions, overflow blocks, expected issue)
            let cases: [([Int], [Int], GGUF.Issue)] = [
                ([5], [], .nonfinite(index: 5)),
                ([150_001, 7_000], [], .nonfinite(index: 7_000)),
                ([], [4_500, 100, 3_000], .overflow(block: 100)),
                ([190_000], [2], .nonfinite(index: 190_000)),  // NaN anywhere wins over overflow
                ([], [blocks - 1], .overflow(block: blocks - 1)),
            ]
            for (bad, over, want) in cases {
                var x = base
                for (k, i) in bad.enumerated() { x[i] = k % 2 == 0 ? .nan : -.infinity }
                for b in over { x[b * 32 + 31] = huge }
                let (_, _, ri, qi) = quantizeBoth(f, x)
                XCTAssertEqual(ri, want, "\(f.name) reference, bad \(bad), overflow \(over)")
                XCTAssertEqual(qi, want, "\(f.name) fast, bad \(bad), overflow \(over)")
            }
            var data = [UInt8](repeating: 0x11, count: blocks * f.blockBytes)
            func put(_ h: UInt16, at i: Int) { data[i] = UInt8(h & 0xFF); data[i + 1] = UInt8(h >> 8) }
            for (b, h) in [(4_444, UInt16(0x7C00)), (3_001, 0xFE00), (5_000, 0xFC00)] { put(h, at: b * f.blockBytes) }
            if f == .q4_1 { put(0x7D00, at: 17 * f.blockBytes + 2) }  // a NaN minimum
            let want = GGUF.Issue.badScale(block: f == .q4_1 ? 17 : 3_001)
            let (_, _, ri, yi) = dequantizeBoth(f, data)
            XCTAssertEqual(ri, want, "\(f.name) reference")
            XCTAssertEqual(yi, want, "\(f.name) fast")
        }
    }

    // MARK: hand-computed blocks

    func q(_ f: F, _ x: [Float]) -> [UInt8] {
        let (r, fast, _, _) = quantizeBoth(f, x)
        XCTAssertEqual(fast, r, "\(f.name) fast vs reference on \(x)")
        return r
    }

    func testQ4_0TiesRoundHalfUpInScaledSpace() {
        // max = -8 is the first of largest magnitude (8 appears later): d = 1, id = 1, s = v.
        // s -2.5 -1.5 -0.5 0.5 1.5 2.5 -> q - 8 = -2 -1 0 1 2 3 (trunc(s + 8.5) - 8).
        var x: [Float] = [-8, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 8, 7.5, 7.49, -7.5, -7.51]
        x += [Float](repeating: 0, count: 32 - x.count)
        let b = q(.q4_0, x)
        XCTAssertEqual(Array(b[0..<2]), [0x00, 0x3C], "d = 1.0 in float16 (0x3C00)")
        let codes: [UInt8] = (0..<32).map { (j: Int) -> UInt8 in j < 16 ? b[2 + j] & 0xF : b[2 + j - 16] >> 4 }
        let signed: [Int] = codes[0..<12].map { Int($0) - 8 }
        XCTAssertEqual(signed, [-8, -2, -1, 0, 1, 2, 3, 7, 7, 7, -7, -8],
                       "8 -> 16 saturates to 15 (7); 7.5 -> 16 -> 15; 7.49 -> 15.99 -> 15; -7.5 -> 1 (-7); -7.51 -> 0.99 -> 0 (-8)")
        XCTAssertEqual(Array(codes[12...]), [UInt8](repeating: 8, count: 20))
        // max positive: d = -1, id = -1, so s = -v.
        var y: [Float] = [8, 2.5, -2.5]
        y += [Float](repeating: 0, count: 29)
        let c = q(.q4_0, y)
        XCTAssertEqual(Array(c[0..<2]), [0x00, 0xBC], "d = -1.0")
        XCTAssertEqual([c[2] & 0xF, c[3] & 0xF, c[4] & 0xF], [0, 6, 11], "s = -8 -> 0; s = -2.5 -> 6; s = 2.5 -> 11")
    }

    func testQ4_1AndQ8_0Ties() {
        // Q4_1: min 0, max 15: d = 1, id = 1, s = v; q = trunc(s + 0.5): 0.5 -> 1, 1.5 -> 2, 14.5 -> 15.
        var x: [Float] = [0, 15, 0.5, 1.5, 2.5, 14.5, 14.49]
        x += [Float](repeating: 3, count: 32 - x.count)
        let b = q(.q4_1, x)
        XCTAssertEqual(Array(b[0..<4]), [0x00, 0x3C, 0x00, 0x00], "d = 1, m = 0")
        XCTAssertEqual((0..<7).map { b[4 + $0] & 0xF }, [0, 15, 1, 2, 3, 15, 14])
        // Q8_0: amax 127: d = 1; roundf: +-0.5 -> +-1, +-1.5 -> +-2, +-2.5 -> +-3.
        var y: [Float] = [127, -0.5, 0.5, -1.5, 1.5, -2.5, 2.5, 0.49999997, -126.5]
        y += [Float](repeating: 0, count: 32 - y.count)
        let c = q(.q8_0, y)
        XCTAssertEqual(Array(c[0..<2]), [0x00, 0x3C])
        XCTAssertEqual((0..<9).map { Int8(bitPattern: c[2 + $0]) }, [127, -1, 1, -2, 2, -3, 3, 0, -127])
    }

    func testZeroAndTinyBlocks() {
        let zeros = [Float](repeating: 0, count: 32)
        var negFirst = zeros
        negFirst[0] = -0.0
        // Q4_0: max stays +0, d = +0 / -8 = -0 (0x8000), id = 0, every code 8.
        for x in [zeros, negFirst] {
            XCTAssertEqual(q(.q4_0, x), [0x00, 0x80] + [UInt8](repeating: 0x88, count: 16))
            XCTAssertEqual(q(.q8_0, x), [UInt8](repeating: 0, count: 34))
        }
        XCTAssertEqual(q(.q4_1, zeros), [UInt8](repeating: 0, count: 20))
        XCTAssertEqual(q(.q4_1, negFirst), [0, 0, 0x00, 0x80] + [UInt8](repeating: 0, count: 16), "m = the first zero, -0")
        // 1e-40: 1/d overflows to inf; codes 0 as on x86, d = -0 (Q4_0) / +0 in float16.
        var tiny = [Float](repeating: Float(1e-40 as Double), count: 32)
        tiny[3] = 0
        XCTAssertEqual(q(.q4_0, tiny), [0x00, 0x80] + [UInt8](repeating: 0, count: 16))
        XCTAssertEqual(q(.q8_0, tiny), [UInt8](repeating: 0, count: 34))
    }

    // MARK: C API

    func lastError() -> String { String(cString: sq_last_error_message()) }

    func testCAPIInfoAndErrors() {
        var e: Int64 = 0, nb: Int64 = 0
        for (t, bytes) in [(Int32(2), Int64(18)), (3, 20), (8, 34)] {
            XCTAssertEqual(sqGGUFBlockInfo(t, &e, &nb), 0)
            XCTAssertEqual([e, nb], [32, bytes])
        }
        XCTAssertEqual(sqGGUFBlockInfo(2, nil, nil), 0, "outputs may be NULL")
        XCTAssertEqual(sqGGUFBlockInfo(1, &e, &nb), SQError.Kind.invalidArgument.rawValue)
        XCTAssertTrue(lastError().contains("unknown GGUF type 1"), lastError())

        let x = (0..<64).map { Float($0) - 20 }
        var out = [UInt8](repeating: 0, count: 36)
        XCTAssertEqual(sqGGUFQuantize(2, x, 64, &out, 36), 0)
        XCTAssertEqual(sqGGUFQuantize(7, x, 64, &out, 36), SQError.Kind.invalidArgument.rawValue)
        XCTAssertEqual(sqGGUFQuantize(2, x, 48, &out, 36), SQError.Kind.shape.rawValue)
        XCTAssertTrue(lastError().contains("not a multiple of 32"), lastError())
        XCTAssertEqual(sqGGUFQuantize(2, x, -32, &out, 36), SQError.Kind.shape.rawValue)
        XCTAssertEqual(sqGGUFQuantize(2, x, 64, &out, 35), SQError.Kind.shape.rawValue)
        XCTAssertTrue(lastError().contains("2 block(s) x 18 = 36 byte(s)"), lastError())
        // count / 32 * 34 overflows int64: a shape error, not a trap.
        XCTAssertEqual(sqGGUFQuantize(8, x, Int64.max - 31, &out, 36), SQError.Kind.shape.rawValue)
        XCTAssertTrue(lastError().contains("overflows"), lastError())
        XCTAssertEqual(sqGGUFQuantize(2, nil, 64, &out, 36), SQError.Kind.nullPointer.rawValue)
        XCTAssertEqual(sqGGUFQuantize(2, x, 64, nil, 36), SQError.Kind.nullPointer.rawValue)
        XCTAssertEqual(sqGGUFQuantize(2, nil, 0, nil, 0), 0, "empty: NULL allowed")

        var bad = x
        bad[37] = .nan
        XCTAssertEqual(sqGGUFQuantize(2, bad, 64, &out, 36), SQError.Kind.nonfinite.rawValue)
        XCTAssertTrue(lastError().contains("x: element 37 is nan"), lastError())
        var big = x
        big[40] = -6e5
        XCTAssertEqual(sqGGUFQuantize(2, big, 64, &out, 36), SQError.Kind.outOfRange.rawValue)
        XCTAssertTrue(lastError().contains("block 1 (elements 32 ..< 64)") && lastError().contains("65504"), lastError())
        var out1 = [UInt8](repeating: 0, count: 40)
        XCTAssertEqual(sqGGUFQuantize(3, [Float](repeating: 70_000, count: 64), 64, &out1, 40), SQError.Kind.outOfRange.rawValue)
        XCTAssertTrue(lastError().contains("minimum m = 70000"), lastError())

        var y = [Float](repeating: 0, count: 64)
        XCTAssertEqual(sqGGUFDequantize(2, out, 36, &y, 64), 0)
        XCTAssertEqual(sqGGUFDequantize(2, out, 36, &y, 32), SQError.Kind.shape.rawValue)
        XCTAssertEqual(sqGGUFDequantize(2, nil, 36, &y, 64), SQError.Kind.nullPointer.rawValue)
        XCTAssertEqual(sqGGUFDequantize(2, nil, 0, nil, 0), 0)
        var corrupt = out
        corrupt[18] = 0x00
        corrupt[19] = 0x7C  // block 1: d = +inf
        XCTAssertEqual(sqGGUFDequantize(2, corrupt, 36, &y, 64), SQError.Kind.nonfinite.rawValue)
        XCTAssertTrue(lastError().contains("block 1 (bytes 18 ..< 36) stores Q4_0 d = inf (float16 bits 0x7c00)"), lastError())
    }
}
