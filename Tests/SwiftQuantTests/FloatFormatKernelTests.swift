// The float formats' element-wise records (Registry.floatQuantize / floatDequantize / floatFakeQuantize),
// every fast record through the library's driver (runSegment: fast body, reference tail) against the
// table's reference record, bit for bit, for every format and saturate rule: ~1M float32 patterns (every
// value of the top 20 bits, random low bits), the format's ties, overflow edges, subnormals, ±0, ±inf, NaN
// payloads and float32 subnormals; per-tensor scales 1 and 0.37 and per-element scales; segment lengths
// that leave tails. The reference encode itself is checked against an independent definition (nearest of
// the sorted decoded values, ties to the even code), so the kernels are not only compared with themselves.
import XCTest
@testable import SwiftQuant

final class FloatFormatKernelTests: XCTestCase {
    /// Fast records of a table this CPU can run; skips (never passes silently) when there are none.
    func runnable(_ table: ElementwiseTable) throws -> [ElementwiseKernel] {
        let r = table.records.filter { $0.isa != .reference && Dispatch.supported($0.isa, dispatch.features) }
        if r.isEmpty { throw XCTSkip("no optimized record of \(table.records.map(\.name)) can run on this CPU") }
        return r
    }

    /// Segment lengths the inputs are cut into, cycled: tails of every length 0...7 after whole blocks.
    static let segmentLengths = [1, 2, 3, 5, 7, 8, 9, 13, 16, 17, 31, 33, 64, 100, 4093, 8191, 65541]

    /// Runs `kernel` through runSegment and the table's reference over `input` cut into segments; compares
    /// each segment's failing offset and, when nothing failed, its output bytes. Returns the failures.
    @discardableResult
    func compare(_ kernel: ElementwiseKernel, _ table: ElementwiseTable, input: [UInt8], n: Int, scales: [Float], stride: Int,
                 args: ElementwiseArgs, lengths: [Int] = segmentLengths, what: @autoclosure () -> String) -> Int {
        let op = kernel.op
        let inB = op.inputBytes(args.dtype), outB = op.outputBytes(args.dtype)
        var got = [UInt8](repeating: 0xAB, count: n * outB + 1), want = got
        var failures = 0
        input.withUnsafeBytes { i in
            scales.withUnsafeBufferPointer { s in
                got.withUnsafeMutableBytes { g in
                    want.withUnsafeMutableBytes { w in
                        var start = 0, k = 0
                        while start < n, failures < 5 {
                            let len = Swift.min(lengths[k % lengths.count], n - start)
                            k += 1
                            func seg(_ o: UnsafeMutableRawBufferPointer) -> Segment {
                                Segment(input: i.baseAddress! + start * inB, output: o.baseAddress! + start * outB, count: len,
                                        scale: s.baseAddress! + start * stride, zeroPoint: nil, stride: stride, index0: start)
                            }
                            let bad = runSegment(kernel, seg(g), args)
                            let refBad = table.reference.run(seg(w), args).badAt
                            if bad != refBad {
                                XCTFail("\(kernel.name) \(what()): segment at \(start) length \(len): failing element \(String(describing: bad)), reference \(String(describing: refBad))")
                                failures += 1
                            } else if bad == nil, !memcmpEqual(g.baseAddress! + start * outB, w.baseAddress! + start * outB, len * outB) {
                                let j = (0..<(len * outB)).first { g[start * outB + $0] != w[start * outB + $0] }! / outB + start
                                let x = inB == 4 ? "\(i.load(fromByteOffset: j * 4, as: Float.self)) (0x\(String(i.load(fromByteOffset: j * 4, as: UInt32.self), radix: 16)))"
                                                 : "code \(i[j])"
                                let gb = Array(g[(j * outB)..<((j + 1) * outB)]), wb = Array(w[(j * outB)..<((j + 1) * outB)])
                                XCTFail("\(kernel.name) \(what()): element \(j) = \(x), scale \(s[j * stride]): got \(gb), reference \(wb)")
                                failures += 1
                            }
                            start += len
                        }
                    }
                }
            }
        }
        return failures
    }

    /// `kernel` through runSegment on one segment with one scale: the output bytes and the failing offset.
    func runFast(_ kernel: ElementwiseKernel, _ input: [UInt8], _ n: Int, scale: Float, _ args: ElementwiseArgs) -> ([UInt8], badAt: Int?) {
        var out = [UInt8](repeating: 0, count: n * kernel.op.outputBytes(args.dtype) + 1)
        let scales = [scale]
        let bad = input.withUnsafeBytes { i in
            scales.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBytes { o in
                    runSegment(kernel, Segment(input: i.baseAddress!, output: o.baseAddress!, count: n, scale: s.baseAddress!,
                                               zeroPoint: nil, stride: 0, index0: 0), args)
                }
            }
        }
        return (Array(out.dropLast()), bad)
    }

    func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool { memcmp(a, b, n) == 0 }

    func bytes(_ x: [Float]) -> [UInt8] { x.withUnsafeBytes { Array($0) } }

    // MARK: - Inputs

    /// Every float32 whose top 20 bits vary (bit patterns i << 12 | random low 12 bits), ~1M values.
    static let sweep: [Float] = {
        var rng = SplitMix64(state: 0xF10A7)
        return (0..<(1 << 20)).map { i in Float(bitPattern: UInt32(i) << 12 | UInt32(truncatingIfNeeded: rng.next()) & 0xFFF) }
    }()

    /// The values that stress a format's conversion: every finite value and its neighbours, every tie
    /// (midpoint of adjacent codes) and its neighbours, the overflow edges, the subnormals, ±0, ±inf,
    /// NaNs with several payloads and both signs, float32 subnormals.
    static func specials(_ f: FloatFormat) -> [Float] {
        let vals = positiveValues(f)
        var x: [Float] = [0, .infinity, .leastNonzeroMagnitude, .leastNormalMagnitude, Float(bitPattern: 0x007F_FFFF),
                          Float(bitPattern: 0x0001_16C2), Float(bitPattern: 0x0020_AAAA), .greatestFiniteMagnitude]
        for (k, v) in vals.enumerated() {
            x += [v, v.nextUp, v.nextDown]
            if k + 1 < vals.count {
                let m = Float((Double(v) + Double(vals[k + 1])) / 2)  // exact: M + 2 significant bits
                x += [m, m.nextUp, m.nextDown]
            }
        }
        // Overflow: max, max ± 1 ulp, the midpoint above max (toward the next code's value) and its
        // neighbours, twice max.
        let maxV = f.maxValue, above = Float(sign: .plus, exponent: f.maxExponent - f.mantissaBits, significand: 1)
        let mid = maxV + above / 2
        x += [maxV, maxV.nextUp, maxV.nextDown, mid, mid.nextUp, mid.nextDown, maxV + above, 2 * maxV, 1e30]
        // Half the smallest subnormal (a tie with zero) and a quarter of it.
        let least = vals[1]
        x += [least / 2, (least / 2).nextUp, (least / 2).nextDown, least / 4]
        x = x + x.map { -$0 }
        let nans: [UInt32] = [0x7FC0_0000, 0x7F80_0001, 0x7FBF_FFFF, 0x7FFF_FFFF, 0x7FC1_2345, 0x7FA0_0000]
        return x + nans.flatMap { [Float(bitPattern: $0), Float(bitPattern: $0 | 0x8000_0000)] }
    }

    /// The format's finite non-negative values in code order (ascending), from its decode.
    static func positiveValues(_ f: FloatFormat) -> [Float] { (0...Int(f.maxCode)).map { f.decode(UInt8($0)) } }

    /// Scale configurations: per tensor 1 and 0.37, and one scale per element.
    static func scaleSets(_ n: Int) -> [(name: String, scales: [Float], stride: Int)] {
        var rng = SplitMix64(state: 0x5CA1E)
        let pool: [Float] = [1, 0.37, 0.5, 3, 1e-3, 1.5e-38, 448, 0.1]
        let per = (0..<n).map { i in i % 3 == 0 ? pool[i % pool.count] : Float.random(in: 0.01...50, using: &rng) }
        return [("scale 1", [1], 0), ("scale 0.37", [0.37], 0), ("per-element scales", per, 1)]
    }

    /// For formats without NaN the kernels stop at a NaN; sweeps replace NaNs with finite values (NaN
    /// positions have their own test).
    static func withoutNaN(_ x: [Float]) -> [Float] {
        x.map { $0.isNaN ? Float(bitPattern: $0.bitPattern & 0x807F_FFFF) : $0 }
    }

    // MARK: - Quantize and fake-quantize against the reference record

    func sweepQuantizeLike(_ table: ElementwiseTable) throws {
        for kernel in try runnable(table) {
            for f in FloatFormat.allCases {
                let d = DType(rawValue: f.rawValue)!
                var inputs: [(String, [Float])] = [("sweep", Self.sweep), ("specials", Self.specials(f))]
                if !f.hasNaN { inputs = inputs.map { ($0.0, Self.withoutNaN($0.1)) } }
                for saturate in [true, false] {
                    let args = ElementwiseArgs(dtype: d, rounding: .nearestEven, seed: 0, saturate: saturate)
                    for (inputName, x) in inputs {
                        // The specials also scaled by 0.37 so that they stay specials after the division.
                        let scaledSpecials = inputName == "specials" ? x.map { $0 * 0.37 } : x
                        for (scaleName, scales, stride) in Self.scaleSets(x.count) {
                            let input = scaleName == "scale 0.37" ? scaledSpecials : x
                            compare(kernel, table, input: bytes(input), n: input.count, scales: scales, stride: stride, args: args,
                                    what: "\(f.name) saturate \(saturate) \(inputName) \(scaleName)")
                        }
                    }
                }
            }
        }
    }

    func testQuantizeRecords() throws { try sweepQuantizeLike(Registry.floatQuantize) }
    func testFakeQuantizeRecords() throws { try sweepQuantizeLike(Registry.floatFakeQuantize) }

    /// FP4 / FP6: a NaN (or a NaN quotient) at any position stops the fast record and the reference at the
    /// same offset, inside whole blocks and in the tail.
    func testNaNStopsFormatsWithoutNaN() throws {
        for table in [Registry.floatQuantize, Registry.floatFakeQuantize] {
            for kernel in try runnable(table) {
                for f in FloatFormat.allCases where !f.hasNaN {
                    let d = DType(rawValue: f.rawValue)!
                    for n in [1, 7, 8, 9, 16, 23, 24, 41] {
                        for p in 0..<n {
                            for nan in [Float.nan, -Float.nan, Float(bitPattern: 0x7F80_0001)] {
                                var x = (0..<n).map { Float($0 % 13) * 0.37 - 2 }
                                x[p] = nan
                                if p + 3 < n { x[p + 3] = .nan }  // a later NaN must not win
                                for saturate in [true, false] {
                                    compare(kernel, table, input: bytes(x), n: n, scales: [0.5], stride: 0,
                                            args: ElementwiseArgs(dtype: d, rounding: .nearestEven, seed: 0, saturate: saturate),
                                            lengths: [n], what: "\(f.name) n \(n) NaN at \(p)")
                                    let bad = runFast(kernel, bytes(x), n, scale: 0.5,
                                                      ElementwiseArgs(dtype: d, rounding: .nearestEven, seed: 0, saturate: saturate)).badAt
                                    XCTAssertEqual(bad, p, "\(kernel.name) \(f.name) n \(n): NaN at \(p)")
                                }
                            }
                        }
                    }
                    // inf / inf: a NaN quotient from non-NaN data, per-element scales.
                    let x: [Float] = [1, 2, 3, 4, 5, .infinity, 7, 8, 9]
                    let s: [Float] = [1, 1, 1, 1, 1, .infinity, 1, 1, 1]
                    compare(kernel, table, input: bytes(x), n: 9, scales: s, stride: 1,
                            args: ElementwiseArgs(dtype: d, rounding: .nearestEven, seed: 0), lengths: [9],
                            what: "\(f.name) inf / inf")
                }
            }
        }
    }

    // MARK: - Dequantize

    func testDequantizeRecords() throws {
        let table = Registry.floatDequantize
        for kernel in try runnable(table) {
            for f in FloatFormat.allCases {
                let d = DType(rawValue: f.rawValue)!
                let args = ElementwiseArgs(dtype: d, rounding: .nearestEven, seed: 0)
                // Every code, many times over, in a shuffled order and in code order.
                var rng = SplitMix64(state: UInt64(f.rawValue))
                let all = (0..<(1 << f.bits)).map { UInt8($0) }
                let codes = Array(repeating: all, count: 40).joined().shuffled(using: &rng) + all
                for (scaleName, scales, stride) in Self.scaleSets(codes.count) {
                    compare(kernel, table, input: codes, n: codes.count, scales: scales, stride: stride, args: args,
                            what: "\(f.name) \(scaleName)")
                }
                // The fast path decodes like the table, NaN bits included (scale 1).
                let (out, bad) = runFast(kernel, all, all.count, scale: 1, args)
                XCTAssertNil(bad)
                let decoded = out.withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
                XCTAssertEqual(decoded, FloatFormatTables.table(f).map(\.bitPattern), "\(kernel.name) \(f.name) decode")
                // FP4 / FP6: a byte that is no code stops both at its offset, in blocks and tails.
                guard f.bits < 8 else { continue }
                for n in [1, 7, 8, 9, 16, 17, 31, 40] {
                    for p in 0..<n {
                        for badCode in [1 << f.bits, 0x80, 0xFF] {
                            var q = (0..<n).map { UInt8($0 % (1 << f.bits)) }
                            q[p] = UInt8(badCode)
                            if p + 2 < n { q[p + 2] = 0xFF }
                            compare(kernel, table, input: q, n: n, scales: [0.37], stride: 0, args: args, lengths: [n],
                                    what: "\(f.name) n \(n) code \(badCode) at \(p)")
                            let bad = runFast(kernel, q, n, scale: 1, args).badAt
                            XCTAssertEqual(bad, p, "\(kernel.name) \(f.name) n \(n): code \(badCode) at \(p)")
                        }
                    }
                }
            }
        }
    }

    // MARK: - The reference encode against an independent definition

    /// encode(v) by definition: the nearest of the format's values (ties to the even code), where the code
    /// just above maxCode stands for overflow (its value continues the last binade's spacing); overflow and
    /// ±inf give ±max when saturating (always without NaN), else E5M2's inf or the NaN code; FNUZ has no -0.
    static func nearest(_ f: FloatFormat, _ v: Float, saturate: Bool, values: [Float]) -> UInt8? {
        if v.isNaN { return f.nanCode(negative: v.sign == .minus) }
        let a = Double(v.magnitude)
        let over = Double(values.last!) + Double(Float(sign: .plus, exponent: f.maxExponent - f.mantissaBits, significand: 1))
        let ext = values.map(Double.init) + [over]
        var mag: Int
        if a >= over {
            mag = ext.count - 1
        } else {
            // values[k] <= a < ext[k + 1]
            var lo = 0, hi = ext.count - 1
            while hi - lo > 1 {
                let mid = (lo + hi) / 2
                if ext[mid] <= a { lo = mid } else { hi = mid }
            }
            let m = (ext[lo] + ext[lo + 1]) / 2
            mag = a < m ? lo : a > m ? lo + 1 : (lo % 2 == 0 ? lo : lo + 1)
        }
        if mag > Int(f.maxCode) {
            if saturate || !f.hasNaN { mag = Int(f.maxCode) }
            else if f.hasInfinity { return (v.sign == .minus ? f.signBit : 0) | 0x7C }
            else { return f.nanCode(negative: v.sign == .minus) }
        }
        if mag == 0 && f.isFNUZ { return 0 }
        return UInt8(mag) | (v.sign == .minus ? f.signBit : 0)
    }

    func testReferenceEncodeIsNearestEven() {
        var rng = SplitMix64(state: 0xE4C0DE)
        for f in FloatFormat.allCases {
            let values = Self.positiveValues(f)
            XCTAssertEqual(values, values.sorted(), "\(f.name): codes 0...maxCode ascend")
            // Random magnitudes across the format's range (exponents from below the smallest subnormal to
            // above max), some with the low mantissa bits cleared to land on ties, plus the specials.
            var xs = Self.specials(f)
            for _ in 0..<200_000 {
                let e = Int.random(in: (f.minExponent - f.mantissaBits - 4)...(f.maxExponent + 2), using: &rng)
                var m = UInt32.random(in: 0..<(1 << 23), using: &rng)
                if Bool.random(using: &rng) { m &= ~((1 << UInt32(Int.random(in: 18...23, using: &rng))) - 1) }
                let v = Float(sign: Bool.random(using: &rng) ? .minus : .plus, exponent: e,
                              significand: Float(bitPattern: 0x3F80_0000 | m))
                xs.append(v)
            }
            for saturate in [true, false] {
                var failures = 0
                for v in xs where failures < 5 {
                    let want = Self.nearest(f, v, saturate: saturate, values: values)
                    let got = f.encode(v, saturate: saturate)
                    if got != want {
                        XCTFail("\(f.name) saturate \(saturate): encode(\(v)) = \(String(describing: got)), nearest-even \(String(describing: want))")
                        failures += 1
                    }
                }
            }
        }
    }
}
