// OCP MX block formats (Formats/MX.swift): every fast record of Registry.mxQuantize / mxDequantize against the
// reference record bit for bit on adversarial blocks (ties at every scale, subnormals, the exponent clamp,
// FLT_MAX, NaN / inf / zero blocks, every element code with every scale code), the driver's partial and
// strided blocks against the reference block kernel, hand-computed blocks pinning §6.3, and the C exports'
// errors. Tests/python/test_mx.py checks the same against an independent NumPy + ml_dtypes oracle.
import XCTest
import _SwiftQuantShims
@testable import SwiftQuant

final class MXTests: XCTestCase {
    /// Fast records this CPU can run; skips when there are none.
    func runnable<R: KernelRecord>(_ records: [R]) throws -> [R] {
        let r = records.filter { $0.isa != .reference && Dispatch.supported($0.isa, dispatch.features) }
        if r.isEmpty { throw XCTSkip("no optimized record of \(records.map(\.name)) can run on this CPU") }
        return r
    }

    /// Adversarial blocks: each block of 32 has its own magnitude and pattern.
    func blocks(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SplitMix64(state: seed)
        var x = [Float](repeating: 0, count: 32 * count)
        for b in 0..<count {
            let kind = b % 12
            let e = Int(rng.next() % 300) - 160  // block magnitude 2^-160 ... 2^139 (clamped to float32)
            for i in 0..<32 {
                var v: Float
                switch kind {
                case 0: v = 0
                case 1: v = -0.0
                case 2: v = Float(Int(rng.next() % 17) - 8) * 0.125 + 0.0625  // ties at a fine step
                case 3: v = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x807F_FFFF)  // subnormals
                case 4: v = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))  // any bits: NaN, inf too
                case 5: v = i == 7 ? .infinity : 1
                case 6: v = i == 31 ? -.nan : 2
                case 7: v = i == 0 ? .greatestFiniteMagnitude : Float(i) * 1e30
                default:
                    let g = Float(Double(Int64(bitPattern: rng.next())) * 0x1p-63)
                    v = Float(sign: .plus, exponent: Swift.max(-149, Swift.min(127, e + Int(rng.next() % 6))), significand: 1) * g
                }
                x[32 * b + i] = v
            }
            if kind == 2 {  // scale the ties into the block's magnitude, exactly
                let m = Float(sign: .plus, exponent: Swift.max(-126, Swift.min(100, e)), significand: 1)
                for i in 0..<32 { x[32 * b + i] *= m }
            }
        }
        return x
    }

    func testQuantizeRecordsMatchReference() throws {
        let fast = try runnable(Registry.mxQuantize)
        let x = blocks(600, seed: 31)
        let nb = x.count / 32
        for f in MXFormat.allCases {
            var we = [UInt8](repeating: 0, count: x.count), ws = [UInt8](repeating: 0, count: nb)
            mxQuantizeReferenceKernel(x, &we, &ws, nb, f)
            for r in fast {
                var e = [UInt8](repeating: 0xAA, count: x.count), s = [UInt8](repeating: 0xAA, count: nb)
                r.run(x, &e, &s, nb, f)
                for b in 0..<nb where s[b] != ws[b] {
                    XCTFail("\(r.name) \(f.name) block \(b): scale \(s[b]), reference \(ws[b]) (seed 31)")
                    break
                }
                if let i = (0..<x.count).first(where: { e[$0] != we[$0] }) {
                    XCTFail("\(r.name) \(f.name) element \(i) x = \(x[i]) (0x\(String(x[i].bitPattern, radix: 16))): code \(e[i]), reference \(we[i]), scale \(ws[i / 32]) (seed 31)")
                }
            }
        }
    }

    func testColumnsKernelsMatchReference() throws {
        let fast = try runnable(Registry.mxQuantize).filter { $0.columns != nil }
        if fast.isEmpty { throw XCTSkip("no record with a strided-axis kernel") }
        let data = blocks(64, seed: 41)
        for rows in [1, 7, 31, 32] {
            for columns in [0, 7, 8, 9, 23, 64] {
                let stride = columns + 3
                let x = (0..<(rows * stride)).map { data[($0 * 7919) % data.count] }
                for f in MXFormat.allCases {
                    var we = [UInt8](repeating: 0, count: x.count), ws = [UInt8](repeating: 0, count: columns)
                    x.withUnsafeBufferPointer { xp in
                        we.withUnsafeMutableBufferPointer { ep in
                            for j in 0..<columns {
                                ws[j] = mxQuantizeBlockReference(xp.baseAddress! + j, stride: stride, count: rows, format: f,
                                                                 ep.baseAddress! + j)
                            }
                        }
                    }
                    for r in fast {
                        var e = we, s = [UInt8](repeating: 0xAA, count: columns)
                        for j in 0..<columns { for i in 0..<rows { e[i * stride + j] = 0xAA } }
                        let done = r.columns!(x, &e, &s, rows, columns, stride, f)
                        XCTAssertEqual(done, columns / 8 * 8, "\(r.name)")
                        for j in 0..<done where s[j] != ws[j] { XCTFail("\(r.name) \(f.name) rows \(rows) column \(j): scale \(s[j]), reference \(ws[j])") }
                        for j in 0..<done {
                            for i in 0..<rows where e[i * stride + j] != we[i * stride + j] {
                                XCTFail("\(r.name) \(f.name) rows \(rows) column \(j) row \(i) x = \(x[i * stride + j]): code \(e[i * stride + j]), reference \(we[i * stride + j])")
                            }
                        }
                    }
                }
            }
        }
    }

    func testDequantizeRecordsMatchReferenceOnEveryCode() throws {
        let fast = try runnable(Registry.mxDequantize)
        // Every byte as an element code in every scale code (0, 1, 127, 253, 254, 255 and more).
        let scales: [UInt8] = Array(0...255)
        var e = [UInt8](repeating: 0, count: 32 * 8 * scales.count), s = [UInt8](repeating: 0, count: 8 * scales.count)
        for (k, sc) in scales.enumerated() {
            for b in 0..<8 {
                s[8 * k + b] = sc
                for i in 0..<32 { e[32 * (8 * k + b) + i] = UInt8(32 * b + i) }
            }
        }
        for f in MXFormat.allCases {
            // FP6 / FP4: keep the codes in range (the out-of-range path is tested below).
            let codes = e.map { UInt8(Int($0) % f.codeLimit) }
            var want = [Float](repeating: 0, count: e.count)
            XCTAssertNil(mxDequantizeReferenceKernel(codes, s, &want, s.count, f))
            for r in fast {
                var y = [Float](repeating: 1, count: e.count)
                XCTAssertNil(r.run(codes, s, &y, s.count, f), "\(r.name) \(f.name)")
                if let i = (0..<y.count).first(where: { y[$0].bitPattern != want[$0].bitPattern && !(y[$0].isNaN && want[$0].isNaN) }) {
                    XCTFail("\(r.name) \(f.name) element \(i) code \(codes[i]) scale \(s[i / 32]): \(y[i]), reference \(want[i])")
                }
            }
        }
    }

    func testOutOfRangeCodesAreFoundAtTheSameOffset() throws {
        let fast = try runnable(Registry.mxDequantize)
        for f in [MXFormat.fp6E3M2, .fp6E2M3, .fp4] {
            for at in [0, 5, 31, 32, 95] {
                var e = [UInt8](repeating: 1, count: 96)
                e[at] = UInt8(f.codeLimit)
                if at < 95 { e[95] = 255 }
                let s: [UInt8] = [127, 255, 0]
                var y = [Float](repeating: 0, count: 96)
                XCTAssertEqual(mxDequantizeReferenceKernel(e, s, &y, 3, f), at)
                for r in fast { XCTAssertEqual(r.run(e, s, &y, 3, f), at, "\(r.name) \(f.name)") }
            }
        }
    }

    /// The driver over (outer, n, inner) against the reference block kernel applied block by block.
    func testDriverPartialAndStridedBlocks() throws {
        let base = blocks(40, seed: 77)
        for (dims, axis) in [([3, 70], 1), ([70, 3], 0), ([2, 33, 5], 1), ([5, 31], 1), ([1, 1], 0), ([4, 64, 1], 1),
                             ([2, 96, 3], 1), ([3, 0, 4], 1), ([0, 40], 1)] {
            let shape = try Shape(dims)
            let L = try MXLayout(shape, axis: axis)
            let x = (0..<shape.count).map { base[$0 % base.count] }
            for f in MXFormat.allCases {
                var e = [UInt8](repeating: 0xAA, count: shape.count), s = [UInt8](repeating: 0xAA, count: L.scaleCount)
                x.withUnsafeBufferPointer { xp in
                    MX.quantize(xp.baseAddress ?? UnsafePointer(bitPattern: 4)!, L, format: f, &e, &s)
                }
                var we = e, ws = s
                for o in 0..<L.outer {
                    for k in 0..<L.nb {
                        for j in 0..<L.inner {
                            let at = (o * L.n + 32 * k) * L.inner + j
                            x.withUnsafeBufferPointer { xp in
                                we.withUnsafeMutableBufferPointer { ep in
                                    ws[(o * L.nb + k) * L.inner + j] = mxQuantizeBlockReference(
                                        xp.baseAddress! + at, stride: L.inner, count: Swift.min(32, L.n - 32 * k), format: f,
                                        ep.baseAddress! + at)
                                }
                            }
                        }
                    }
                }
                XCTAssertEqual(e, we, "\(f.name) elements, shape \(dims) axis \(axis)")
                XCTAssertEqual(s, ws, "\(f.name) scales, shape \(dims) axis \(axis)")
                var y = [Float](repeating: 0, count: shape.count)
                try MX.dequantize(e, s, L, format: f, &y)
            }
        }
    }

    /// Hand-computed blocks (OCP MX v1.0 §6.3).
    func testPinnedBlocks() {
        func q(_ v: [Float], _ f: MXFormat) -> ([UInt8], UInt8) {
            var x = v + [Float](repeating: 0, count: 32 - v.count)
            var e = [UInt8](repeating: 0, count: 32)
            let s = mxQuantizeBlockReference(&x, stride: 1, count: 32, format: f, &e)
            return (Array(e[0..<v.count]), s)
        }
        /// The elements followed by the scale code.
        func qs(_ v: [Float], _ f: MXFormat) -> [UInt8] { let (e, s) = q(v, f); return e + [s] }
        // amax 1: floor(log2) 0; E2M1 X = -2 (code 125): 1 -> 4.0 (0x6), 0.75 -> 3.0 (0x5), 0.3125 -> 1.25 -> 1.0 (tie to even, 0x2)
        XCTAssertEqual(q([1, 0.75, 0.3125, -0.0], .fp4).0, [0x6, 0x5, 0x2, 0x8])
        XCTAssertEqual(q([1, 0.75], .fp4).1, 125)
        // 1.999 * 4 = 7.996 saturates to 6 (0x7), as §6.3 requires.
        XCTAssertEqual(q([1.999], .fp4).0, [0x7])
        // E4M3: X = -8; 1 -> 256 = 0.1111.000 (0x78); MXINT8: X = 0, 1 -> 64, -0.5 -> -32, 1.999 -> 127.94 -> 127
        XCTAssertEqual(qs([1], .fp8E4M3), [0x78, 119])
        XCTAssertEqual(q([1, -0.5], .int8).0, [64, UInt8(bitPattern: -32)])
        XCTAssertEqual(q([1.999], .int8).0, [127])
        // All zero: scale code 0; NaN / inf: 255 and zero elements; subnormal amax: code 0.
        XCTAssertEqual(qs([0, 0], .fp8E5M2), [0, 0, 0])
        XCTAssertEqual(qs([1, .nan], .fp8E5M2), [0, 0, 255])
        XCTAssertEqual(qs([-.infinity, 1], .int8), [0, 0, 255])
        XCTAssertEqual(q([Float.leastNonzeroMagnitude], .int8).1, 0)
        // FLT_MAX: floor(log2) 127; MXINT8 code 254 (X = 127, 2^-127 a subnormal multiplier).
        XCTAssertEqual(qs([.greatestFiniteMagnitude], .int8), [127, 254])
        XCTAssertEqual(q([.greatestFiniteMagnitude], .fp8E4M3).1, 246)
        // Dequantize: 2^(code - 127) including 2^-127 (code 0) and NaN.
        var y = [Float](repeating: 0, count: 32)
        let t = MXTables.table(.int8)
        let e = [UInt8](repeating: 64, count: 32)
        t.withUnsafeBufferPointer { tp in
            _ = mxDequantizeBlockReference(e, stride: 1, count: 32, scale: 0, format: .int8, table: tp.baseAddress!, &y)
        }
        XCTAssertEqual(y[0].bitPattern, 0x0040_0000)
        t.withUnsafeBufferPointer { tp in
            _ = mxDequantizeBlockReference([UInt8](repeating: 0x80, count: 32), stride: 1, count: 32, scale: 128, format: .int8,
                                           table: tp.baseAddress!, &y)
        }
        XCTAssertEqual(y[0], -4)  // -128 decodes as -2, times 2
    }

    func testCErrors() {
        var x = [Float](repeating: 1, count: 80), e = [UInt8](repeating: 0, count: 80), s = [UInt8](repeating: 0, count: 40)
        var shape: [Int64] = [2, 40]
        func msg() -> String { String(cString: sq_last_error_message()) }
        XCTAssertEqual(sqMXQuantize(&x, &shape, 2, 1, 4, &e, &s, 4), SQ_OK.rawValue)
        XCTAssertEqual(sqMXQuantize(&x, &shape, 2, 1, 4, &e, &s, 6), SQ_ERROR_SHAPE.rawValue)
        XCTAssertTrue(msg().contains("scale_count is 6"), msg())
        XCTAssertEqual(sqMXQuantize(&x, &shape, 2, 0, 4, &e, &s, 40), SQ_OK.rawValue)  // axis 0: one block of 2 per column
        XCTAssertEqual(sqMXQuantize(&x, &shape, 2, 2, 4, &e, &s, 4), SQ_ERROR_INVALID_ARGUMENT.rawValue)
        XCTAssertTrue(msg().contains("axis = 2"), msg())
        XCTAssertEqual(sqMXQuantize(&x, &shape, 2, 1, 6, &e, &s, 4), SQ_ERROR_INVALID_ARGUMENT.rawValue)
        XCTAssertTrue(msg().contains("format"), msg())
        XCTAssertEqual(sqMXQuantize(nil, &shape, 2, 1, 4, &e, &s, 4), SQ_ERROR_NULL_POINTER.rawValue)
        XCTAssertTrue(msg().hasPrefix("x is NULL"), msg())
        XCTAssertEqual(sqMXQuantize(&x, nil, 0, 0, 4, &e, &s, 1), SQ_ERROR_INVALID_ARGUMENT.rawValue)
        var y = [Float](repeating: 0, count: 80)
        XCTAssertEqual(sqMXQuantize(&x, &shape, 2, 1, 4, &e, &s, 4), SQ_OK.rawValue)
        e[41] = 16
        XCTAssertEqual(sqMXDequantize(&e, &s, 4, &shape, 2, 1, 4, &y), SQ_ERROR_OUT_OF_RANGE.rawValue)
        XCTAssertTrue(msg().contains("element 41"), msg())
        XCTAssertEqual(sqMXDequantize(&e, &s, 4, &shape, 2, 1, 0, &y), SQ_OK.rawValue)  // every byte is an FP8 code
        XCTAssertEqual(sqMXDequantize(&e, nil, 4, &shape, 2, 1, 0, &y), SQ_ERROR_NULL_POINTER.rawValue)
        XCTAssertTrue(msg().hasPrefix("scales is NULL"), msg())
        var huge: [Int64] = [1 << 40, 0]
        XCTAssertEqual(sqMXQuantize(nil, &huge, 2, 0, 4, nil, nil, 0), SQ_OK.rawValue)  // empty
    }
}
