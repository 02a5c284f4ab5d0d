// The sweep generated from the kernel registry (Kernels/Registry.swift): every record of every element-wise
// and codebook table, run through the same fast-body/reference-tail driver the library uses, against the
// table's reference record over the whole segment, bit for bit. Sizes 0...33, the block size +-1 at three
// blocks and a large size; every dtype, rounding rule and parameter stride; special values (NaN, +-inf,
// +-0, subnormals, exact ties, the saturation edges) at every position and filling whole blocks. Records
// this CPU cannot run are skipped, never counted as passing. (GEMM records: GemmPathTests; the min/max
// SIMD kernel: MinMaxKernelTests.)
import XCTest
@testable import SwiftQuant

final class KernelSweepTests: XCTestCase {
    static let sizes = Array(0...33) + [47, 48, 49, 1000]
    static let roundings: [Rounding] = [.nearestEven, .halfAway, .floor, .stochastic]

    /// The records of a table this machine can run, besides the reference; skips when there are none.
    func runnable(_ records: [some KernelRecord]) throws -> [Int] {
        let idx = records.indices.filter { records[$0].isa != .reference && Dispatch.supported(records[$0].isa, dispatch.features) }
        if idx.isEmpty {
            throw XCTSkip("no optimized record of \(records.map(\.name)) can run on this CPU")
        }
        return idx
    }

    /// Parameters for n elements: one scale/zero point (stride 0) or one per element, with tiny normal
    /// scales among them; zero points across the dtype's range.
    func params(_ d: DType, _ n: Int, stride: Int, _ rng: inout SplitMix64) -> ([Float], [Int32]) {
        let count = stride == 0 ? 1 : Swift.max(n, 1)
        let scales = (0..<count).map { i in i % 7 == 3 ? Float(1.5e-38) : Float.random(in: 0.05...2, using: &rng) }
        let zeros = (0..<count).map { i in i == 0 ? (d.isSigned ? d.qmin / 3 : d.qmax / 3) : Int32.random(in: d.qmin...d.qmax, using: &rng) }
        return (scales, zeros)
    }

    /// Special inputs for element i with scale s and zero point z: the kinds that stress a kernel.
    static func special(_ kind: Int, s: Float, z: Int32, _ d: DType) -> Float {
        switch kind {
        case 0: return .nan
        case 1: return .infinity
        case 2: return -.infinity
        case 3: return 0
        case 4: return -0.0
        case 5: return Float(1e-40 as Double)  // subnormal
        case 6: return Float(-3e-39 as Double)
        case 7: return (Float(z % 5) + 2.5) * s  // an exact tie after division (for representable products)
        case 8: return Float(d.qmax - z) * s + s / 2  // the saturation edge, a tie beyond qmax
        default: return (Float(d.qmin - z) - 0.5) * s  // and below qmin
        }
    }
    static let specialKinds = 10

    /// Runs `kernel` through the driver and the table's reference over the whole segment; compares the
    /// failing offset and, when nothing failed, every output byte.
    func compare(_ kernel: ElementwiseKernel, _ table: ElementwiseTable, input: [UInt8], n: Int, scales: [Float],
                 zeros: [Int32], stride: Int, args: ElementwiseArgs, what: @autoclosure () -> String) {
        let outBytes = kernel.op.outputBytes(args.dtype)
        var got = [UInt8](repeating: 0xAB, count: Swift.max(n * outBytes, 1)), want = got
        func run(_ out: inout [UInt8], _ body: (Segment) -> Int?) -> Int? {
            input.withUnsafeBytes { i in
                scales.withUnsafeBufferPointer { s in
                    zeros.withUnsafeBufferPointer { z in
                        out.withUnsafeMutableBytes { o in
                            body(Segment(input: i.baseAddress!, output: o.baseAddress!, count: n, scale: s.baseAddress!,
                                         zeroPoint: z.baseAddress, stride: stride, index0: 977))
                        }
                    }
                }
            }
        }
        let bad = run(&got) { runSegment(kernel, $0, args) }
        let refBad = run(&want) { table.reference.run($0, args).badAt }
        guard bad == refBad else {
            return XCTFail("\(kernel.name) \(what()): failing element \(String(describing: bad)), reference \(String(describing: refBad))")
        }
        if bad == nil, got != want {
            let i = (0..<got.count).first { got[$0] != want[$0] }! / outBytes
            XCTFail("\(kernel.name) \(what()): element \(i) differs from \(table.reference.name) (scale \(scales[stride * i]), zero point \(zeros[stride * i]))")
        }
    }

    /// Float inputs of a quantize-like table: random values, specials mixed in, for n elements.
    func floats(_ n: Int, scales: [Float], zeros: [Int32], stride: Int, _ d: DType, nan: Bool, _ rng: inout SplitMix64) -> [Float] {
        (0..<n).map { i in
            let s = scales[stride * i], z = zeros[stride * i]
            let kind = Int.random(in: 0..<(2 * Self.specialKinds), using: &rng)
            if kind < Self.specialKinds && (nan || kind != 0) { return Self.special(kind, s: s, z: z, d) }
            return Float.random(in: -300...300, using: &rng) * s
        }
    }

    func bytes(_ x: [Float]) -> [UInt8] { x.withUnsafeBytes { Array($0) } + [0] }

    func sweepFloatInput(_ table: ElementwiseTable) throws {
        var rng = SplitMix64(state: 9001)
        for r in try runnable(table.records) {
            let kernel = table.records[r]
            let roundings = Self.roundings
            for d in DType.allCases where !d.isFloat {
                for stride in [0, 1] {
                    // Random data with every special but NaN, every size and rounding rule.
                    for rounding in roundings {
                        let args = ElementwiseArgs(dtype: d, rounding: rounding, seed: 77)
                        for n in Self.sizes {
                            let (s, z) = params(d, n, stride: stride, &rng)
                            let x = floats(n, scales: s, zeros: z, stride: stride, d, nan: false, &rng)
                            compare(kernel, table, input: bytes(x), n: n, scales: s, zeros: z, stride: stride, args: args,
                                    what: "\(d) \(rounding) stride \(stride) n \(n)")
                        }
                    }
                    // Each special at every position, and filling each whole block, for n in 0...33.
                    let args = ElementwiseArgs(dtype: d, rounding: .nearestEven, seed: 0)
                    for n in 0...49 {
                        let (s, z) = params(d, n, stride: stride, &rng)
                        let base = (0..<n).map { Float($0 % 9) * 0.75 * s[stride * $0] }
                        for kind in 0..<Self.specialKinds {
                            let positions = n <= 33 ? Array(0..<n) : [0, n / 2, n - 1]
                            for p in positions {
                                var x = base
                                x[p] = Self.special(kind, s: s[stride * p], z: z[stride * p], d)
                                compare(kernel, table, input: bytes(x), n: n, scales: s, zeros: z, stride: stride, args: args,
                                        what: "\(d) stride \(stride) n \(n): special \(kind) (\(x[p])) at \(p)")
                            }
                            for block in Swift.stride(from: 0, to: n / kernel.block * kernel.block, by: kernel.block) {
                                var x = base
                                for i in block..<(block + kernel.block) { x[i] = Self.special(kind, s: s[stride * i], z: z[stride * i], d) }
                                compare(kernel, table, input: bytes(x), n: n, scales: s, zeros: z, stride: stride, args: args,
                                        what: "\(d) stride \(stride) n \(n): special \(kind) filling block \(block)")
                            }
                        }
                    }
                }
            }
        }
    }

    func testQuantizeRecords() throws { try sweepFloatInput(Registry.quantize) }
    func testFakeQuantizeRecords() throws { try sweepFloatInput(Registry.fakeQuantize) }

    func testDequantizeRecords() throws {
        var rng = SplitMix64(state: 9002)
        let table = Registry.dequantize
        for r in try runnable(table.records) {
            let kernel = table.records[r]
            for d in DType.allCases where !d.isFloat {
                let args = ElementwiseArgs(dtype: d, rounding: .nearestEven, seed: 0)
                for stride in [0, 1] {
                    for n in Self.sizes {
                        let (s, z) = params(d, n, stride: stride, &rng)
                        // Codes across the range with its ends; for 4-bit storage an out-of-range byte
                        // (it must stop both paths at the same element) in some runs.
                        var codes = (0..<n).map { _ -> Int32 in
                            switch Int.random(in: 0..<8, using: &rng) {
                            case 0: d.qmin
                            case 1: d.qmax
                            default: Int32.random(in: d.qmin...d.qmax, using: &rng)
                            }
                        }
                        if d.needsRangeCheck && n > 0 && n % 3 == 0 { codes[Int.random(in: 0..<n, using: &rng)] = d.isSigned ? 9 : 16 }
                        var raw = [UInt8]()
                        for c in codes {
                            withUnsafeBytes(of: c.littleEndian) { raw += Array($0.prefix(d.storageBytes)) }
                        }
                        compare(kernel, table, input: raw + [0], n: n, scales: s, zeros: z, stride: stride, args: args,
                                what: "\(d) stride \(stride) n \(n)")
                    }
                }
            }
        }
    }

    /// Codebook records: runs sharing one codebook, every size and level count, midpoints and their
    /// neighbours, specials, through the export (which drives the active record) and the record itself.
    func testCodebookRecords() throws {
        var rng = SplitMix64(state: 9003)
        for r in try runnable(Registry.codebook) {
            let kernel = Registry.codebook[r]
            for L in [1, 2, 3, 16, 17, 255, 256] {
                var levels = [Float]()
                var v = Float.random(in: -10...0, using: &rng)
                for _ in 0..<L {
                    levels.append(v)
                    v += Float.random(in: 0.01...2, using: &rng)
                }
                var tables = [Float](repeating: 0, count: Swift.max(kernel.tableStride, 1))
                guard let depth = levels.withUnsafeBufferPointer({ kernel.buildTables($0.baseAddress!, L, &tables) }) else {
                    XCTFail("\(kernel.name) declined \(L) distinct levels")
                    continue
                }
                let mids = (0..<Swift.max(L - 1, 0)).map { Float((Double(levels[$0]) + Double(levels[$0 + 1])) / 2) }
                for n in Self.sizes {
                    var x = (0..<n).map { _ -> Float in
                        switch Int.random(in: 0..<6, using: &rng) {
                        case 0 where !mids.isEmpty: return mids[Int.random(in: 0..<mids.count, using: &rng)]
                        case 1 where !mids.isEmpty: return mids[Int.random(in: 0..<mids.count, using: &rng)].nextUp
                        case 2: return [Float.infinity, -.infinity, 0, -0.0, Float(1e-40 as Double)][Int.random(in: 0..<5, using: &rng)]
                        default: return Float.random(in: -12...(v + 2), using: &rng)
                        }
                    }
                    for nanAt in [nil] + (n > 0 ? [n - 1, n / 2] : []) {
                        if let p = nanAt { x[p] = .nan }
                        var got = [UInt8](repeating: 0xEE, count: n), want = got
                        let fast = kernel.run(x, &got, n, tables, depth)
                        XCTAssertEqual(fast.done % kernel.block, 0)
                        if let bad = fast.nanAt {
                            XCTAssertEqual(bad, x.firstIndex { $0.isNaN }, "\(kernel.name) L \(L) n \(n)")
                            continue
                        }
                        // The reference's rule (swiftquant.h): the number of float64 midpoints below x.
                        for i in 0..<fast.done {
                            want[i] = UInt8((0..<(L - 1)).filter { (Double(levels[$0]) + Double(levels[$0 + 1])) * 0.5 < Double(x[i]) }.count)
                        }
                        XCTAssertEqual(Array(got[..<fast.done]), Array(want[..<fast.done]), "\(kernel.name) L \(L) n \(n)")
                        // Through the export: the active record's blocks plus the reference tail, every element.
                        if kernel.name == Registry.activeCodebook.name && nanAt == nil {
                            var idx = [UInt8](repeating: 0, count: Swift.max(n, 1))
                            let st = sqCodebookQuantize(x, [Int64(n)], 1, -1, levels, Int64(L), Int64(L), &idx)
                            XCTAssertEqual(st, 0)
                            let all = (0..<n).map { i in UInt8((0..<(L - 1)).filter { (Double(levels[$0]) + Double(levels[$0 + 1])) * 0.5 < Double(x[i]) }.count) }
                            XCTAssertEqual(Array(idx[..<n]), all, "sq_codebook_quantize L \(L) n \(n)")
                        }
                    }
                }
            }
        }
    }

    /// Fake quantization equals the formula of quantize then dequantize on every record, in place too.
    func testFakeQuantizeIsQuantizeThenDequantize() {
        var rng = SplitMix64(state: 9004)
        for kernel in Registry.fakeQuantize.records where Dispatch.supported(kernel.isa, dispatch.features) {
            for d in DType.allCases where !d.isFloat {
                for rounding in Self.roundings {
                    let n = 71, scale: Float = 0.21, z = d.isSigned ? Int32(1) : d.qmax / 2
                    let x = floats(n, scales: [scale], zeros: [z], stride: 0, d, nan: false, &rng)
                    let want = (0..<n).map { i -> Float in
                        let r = rounding.round(x[i] / scale, seed: 9, index: i)
                        return Float(Int32(Swift.min(Swift.max(r + Float(z), Float(d.qmin)), Float(d.qmax))) - z) * scale
                    }
                    var y = x
                    let bad = [scale].withUnsafeBufferPointer { s in [z].withUnsafeBufferPointer { zp in
                        y.withUnsafeMutableBytes { b in
                            runSegment(kernel, Segment(input: UnsafeRawPointer(b.baseAddress!), output: b.baseAddress!, count: n,
                                                       scale: s.baseAddress!, zeroPoint: zp.baseAddress, stride: 0, index0: 0),
                                       ElementwiseArgs(dtype: d, rounding: rounding, seed: 9))
                        }
                    } }
                    XCTAssertNil(bad)
                    XCTAssertEqual(y.map(\.bitPattern), want.map(\.bitPattern), "\(kernel.name) \(d) \(rounding) in place")
                }
            }
        }
    }

    func testSQKernelNameReportsTheActiveRecords() {
        let isas = ["reference", "simd", "avx2", "avx512", "avx512vnni"]
        for op in KernelOp.allCases {
            let name = String(cString: sqKernelName(op.rawValue))
            XCTAssertEqual(name, Registry.activeName(op))
            // <input>[-<output>]-<op>-<tile>-<isa>
            let parts = name.split(separator: "-").map(String.init)
            XCTAssertTrue(parts.count >= 4 && isas.contains(parts.last!), name)
        }
        XCTAssertEqual(String(cString: sqKernelName(99)), "unknown")
        XCTAssertEqual(Registry.quantize.active.isa, Registry.quantize.records.last { $0.isa <= dispatch.isa }!.isa)
    }
}
