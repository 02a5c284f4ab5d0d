// Optimized element-wise kernels against the reference, bit for bit: every dtype and rounding mode, ties,
// saturation, ±inf, NaN positions, and lengths around the 16-lane block. The kernels are called directly,
// whatever SWIFTQUANT_ISA says; on a CPU without AVX-512 the test is skipped, never counted as a pass.
import XCTest
@testable import SwiftQuant

final class ElementwiseKernelTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(dispatch.features.avx512, "this CPU has no AVX-512: the AVX-512 kernels cannot run here")
    }

    /// Values that stress rounding: exact ties at several scales, huge and tiny values, ±inf.
    func values(_ n: Int, scale: Float) -> [Float] {
        var rng = SystemRandomNumberGenerator()
        return (0..<n).map { i in
            switch i % 6 {
            case 0: return (Float(Int.random(in: -300...300, using: &rng)) + 0.5) * scale  // a tie after division
            case 1: return Float.random(in: -200...200, using: &rng) * scale
            case 2: return [Float.infinity, -.infinity, 1e30, -1e30, 0, -0.0][Int.random(in: 0..<6, using: &rng)]
            default: return Float.random(in: -3...3, using: &rng) * scale
            }
        }
    }

    /// Runs body with SegmentParams over arrays kept alive for the call (an implicit array-to-pointer
    /// conversion would dangle once the initializer returns).
    func withParams<R>(_ scales: [Float], _ zeros: [Int32]?, stride: Int, _ body: (SegmentParams) -> R) -> R {
        scales.withUnsafeBufferPointer { s in
            guard let zeros else { return body(SegmentParams(scale: s.baseAddress!, zeroPoint: nil, stride: stride)) }
            return zeros.withUnsafeBufferPointer { z in body(SegmentParams(scale: s.baseAddress!, zeroPoint: z.baseAddress, stride: stride)) }
        }
    }

    func bytes(_ d: DType, _ n: Int) -> [UInt8] { [UInt8](repeating: 0xAB, count: max(n * d.storageBytes, 1)) }

    func testQuantizeMatchesReference() {
        for d in DType.allCases {
            for rounding in [Rounding.nearestEven, .halfAway, .floor, .stochastic] {
                for n in [0, 1, 15, 16, 17, 33, 64, 100, 1000] {
                    let scale: Float = 0.37
                    let z = d.isSigned ? Int32(d.qmin / 3) : Int32(d.qmax / 3)
                    let x = values(n, scale: scale)
                    var fast = bytes(d, n), ref = bytes(d, n)
                    let r = fast.withUnsafeMutableBytes { b in
                        [scale].withUnsafeBufferPointer { sp in [z].withUnsafeBufferPointer { zp in
                            quantizeFast(x, b.baseAddress!, n, dtype: d, params: SegmentParams(scale: sp.baseAddress!, zeroPoint: zp.baseAddress, stride: 0),
                                         rounding: rounding, seed: 5, index0: 1000)
                        } }
                    }
                    XCTAssertNil(r.nanAt)
                    XCTAssertEqual(r.done, n / 16 * 16)
                    func refRun<T: FixedWidthInteger>(_ t: T.Type) {
                        ref.withUnsafeMutableBytes { b in
                            _ = quantizeSegmentReference(x, b.baseAddress!.assumingMemoryBound(to: T.self), r.done, scale: [scale], zeroPoint: [z],
                                                         paramStride: 0, qmin: d.qmin, qmax: d.qmax, rounding: rounding, seed: 5, index0: 1000)
                        }
                    }
                    switch d {
                    case .int8, .int4: refRun(Int8.self)
                    case .uint8, .uint4: refRun(UInt8.self)
                    case .int16: refRun(Int16.self)
                    case .uint16: refRun(UInt16.self)
                    }
                    let k = r.done * d.storageBytes
                    if fast[0..<k] != ref[0..<k] {
                        let i = (0..<k).first { fast[$0] != ref[$0] }! / d.storageBytes
                        XCTFail("\(d) \(rounding) n=\(n): element \(i) x=\(x[i]) x/s=\(x[i] / scale) z=\(z): fast and reference differ")
                    }
                }
            }
        }
    }

    /// Fake quantization equals quantize then dequantize, on both paths, in place too.
    func testFakeQuantizeEqualsQuantizeThenDequantize() {
        for d in DType.allCases {
            for rounding in [Rounding.nearestEven, .halfAway, .floor, .stochastic] {
                let n = 71, scale: Float = 0.21, z = d.isSigned ? Int32(1) : d.qmax / 2
                let x = values(n, scale: scale)
                var q = [Int32](repeating: 0, count: n), want = [Float](repeating: 0, count: n)
                for i in 0..<n {
                    let r = rounding.round(x[i] / scale, seed: 9, index: i)
                    q[i] = Int32(min(max(r + Float(z), Float(d.qmin)), Float(d.qmax)))
                    want[i] = Float(q[i] - z) * scale
                }
                var fast = [Float](repeating: .nan, count: n)
                let sp = UnsafeMutablePointer<Float>.allocate(capacity: 1), zp = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
                defer { sp.deallocate(); zp.deallocate() }
                sp.pointee = scale
                zp.pointee = z
                let params = SegmentParams(scale: sp, zeroPoint: zp, stride: 0)
                let r = fakeQuantizeFast(x, &fast, n, dtype: d, params: params, rounding: rounding, seed: 9, index0: 0)
                var inPlace = x
                let r2 = inPlace.withUnsafeMutableBufferPointer {
                    fakeQuantizeFast($0.baseAddress!, $0.baseAddress!, n, dtype: d, params: params, rounding: rounding, seed: 9, index0: 0)
                }
                var ref = [Float](repeating: .nan, count: n)
                _ = fakeQuantizeSegmentReference(x, &ref, n, scale: [scale], zeroPoint: [z], paramStride: 0, qmin: d.qmin, qmax: d.qmax,
                                                 rounding: rounding, seed: 9, index0: 0)
                XCTAssertEqual(ref, want, "\(d) \(rounding) reference")
                XCTAssertEqual(Array(fast[0..<r.done]), Array(want[0..<r.done]), "\(d) \(rounding) fast")
                XCTAssertEqual(Array(inPlace[0..<r2.done]), Array(want[0..<r2.done]), "\(d) \(rounding) in place")
            }
        }
    }

    /// One scale and zero point per element (per-channel along the last axis): quantize, dequantize and
    /// fake-quantize agree with the reference.
    func testPerElementParameters() {
        var rng = SystemRandomNumberGenerator()
        for d in DType.allCases {
            for rounding in [Rounding.nearestEven, .halfAway, .floor, .stochastic] {
                let n = 53
                let x = values(n, scale: 0.5)
                let scales = (0..<n).map { _ in Float.random(in: 0.05...2, using: &rng) }
                let zeros = (0..<n).map { _ in Int32.random(in: d.qmin...d.qmax, using: &rng) }
                var q = [Int32](repeating: 0, count: n), fq = [Float](repeating: .nan, count: n)
                var fast = bytes(d, n), fake = [Float](repeating: .nan, count: n), deq = fake
                let (r, rf, rd) = withParams(scales, zeros, stride: 1) { params in
                    let r = fast.withUnsafeMutableBytes { quantizeFast(x, $0.baseAddress!, n, dtype: d, params: params, rounding: rounding, seed: 3, index0: 7) }
                    let rf = fakeQuantizeFast(x, &fake, n, dtype: d, params: params, rounding: rounding, seed: 3, index0: 7)
                    let rd = fast.withUnsafeBytes { dequantizeFast($0.baseAddress!, &deq, r.done, dtype: d, params: params) }
                    return (r, rf, rd)
                }
                _ = roundSegmentReference(x, n, scale: scales, zeroPoint: zeros, paramStride: 1, qmin: d.qmin, qmax: d.qmax,
                                          rounding: rounding, seed: 3, index0: 7) { i, v, s, z in
                    q[i] = Int32(v) + z
                    fq[i] = Float(Int32(v)) * s
                }
                let got: [Int32] = fast.withUnsafeBytes { b in
                    (0..<r.done).map { i in
                        switch d {
                        case .int8, .int4: Int32(b.load(fromByteOffset: i, as: Int8.self))
                        case .uint8, .uint4: Int32(b.load(fromByteOffset: i, as: UInt8.self))
                        case .int16: Int32(b.load(fromByteOffset: 2 * i, as: Int16.self))
                        case .uint16: Int32(b.load(fromByteOffset: 2 * i, as: UInt16.self))
                        }
                    }
                }
                XCTAssertEqual(r.done, 48)
                XCTAssertEqual(got, Array(q[0..<48]), "\(d) \(rounding) quantize")
                XCTAssertEqual(Array(fake[0..<rf.done]), Array(fq[0..<rf.done]), "\(d) \(rounding) fake")
                XCTAssertEqual(Array(deq[0..<rd.done]), (0..<rd.done).map { Float(q[$0] - zeros[$0]) * scales[$0] }, "\(d) dequantize")
            }
        }
    }

    func testQuantizeReportsFirstNaN() {
        var x = values(64, scale: 1)
        x[37] = .nan
        x[50] = .nan
        var q = [Int8](repeating: 0, count: 64)
        let r = withParams([1], nil, stride: 0) { quantizeFast(x, &q, 64, dtype: .int8, params: $0, rounding: .nearestEven, seed: 0, index0: 0) }
        XCTAssertEqual(r.nanAt, 37)
        XCTAssertEqual(r.done, 32)
    }

    func testDequantizeMatchesReference() {
        var rng = SystemRandomNumberGenerator()
        for d in DType.allCases {
            for n in [0, 1, 16, 31, 100] {
                let raw = (0..<(n * d.storageBytes)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                var q = raw
                if d.needsRangeCheck {  // keep 4-bit values in range
                    for i in 0..<n { q[i] = UInt8(truncatingIfNeeded: Int32.random(in: d.qmin...d.qmax, using: &rng)) }
                }
                let z = d.qmax / 2
                var fast = [Float](repeating: .nan, count: n), ref = fast
                let r = [Float(0.123)].withUnsafeBufferPointer { sp in [z].withUnsafeBufferPointer { zp in
                    dequantizeFast(q, &fast, n, dtype: d, params: SegmentParams(scale: sp.baseAddress!, zeroPoint: zp.baseAddress, stride: 0))
                } }
                XCTAssertNil(r.badAt)
                func refRun<T: FixedWidthInteger>(_ t: T.Type) {
                    q.withUnsafeBytes { b in
                        _ = dequantizeSegmentReference(b.baseAddress!.assumingMemoryBound(to: T.self), &ref, r.done, scale: [0.123], zeroPoint: [z],
                                                       paramStride: 0, qmin: d.qmin, qmax: d.qmax, checkRange: d.needsRangeCheck)
                    }
                }
                switch d {
                case .int8, .int4: refRun(Int8.self)
                case .uint8, .uint4: refRun(UInt8.self)
                case .int16: refRun(Int16.self)
                case .uint16: refRun(UInt16.self)
                }
                XCTAssertEqual(Array(fast[0..<r.done]), Array(ref[0..<r.done]), "\(d) n=\(n)")
            }
        }
        // An int4 value of 9 stops the kernel at its offset.
        var q = [Int8](repeating: 1, count: 32)
        q[20] = 9
        var x = [Float](repeating: 0, count: 32)
        XCTAssertEqual(withParams([1], nil, stride: 0) { dequantizeFast(q, &x, 32, dtype: .int4, params: $0) }.badAt, 20)
    }
}
