// The element-wise kernels (quantize, dequantize, fake-quantize) behind one segment interface, and the one
// driver that runs them: the record's fast function does whole SIMD blocks of a segment and reports how far
// it got; the operation's reference kernel finishes the tail from there. Records live in Registry.swift.

#if arch(x86_64)
import _SwiftQuantAVX512
#endif

/// One run of an element-wise operation: `count` elements whose scale and zero point start at `scale` /
/// `zeroPoint` and advance by `stride` (0: constant, 1: one per element); `index0` is the flat index of
/// the first element (stochastic rounding keys on it).
struct Segment {
    var input: UnsafeRawPointer
    var output: UnsafeMutableRawPointer
    var count: Int
    var scale: UnsafePointer<Float>
    var zeroPoint: UnsafePointer<Int32>?
    var stride: Int
    var index0: Int

    /// The segment's elements from `done` on.
    func dropping(_ done: Int, inputBytes: Int, outputBytes: Int) -> Segment {
        Segment(input: input + done * inputBytes, output: output + done * outputBytes, count: count - done,
                scale: scale + done * stride, zeroPoint: zeroPoint.map { $0 + done * stride }, stride: stride,
                index0: index0 + done)
    }
}

/// What stays fixed over a whole call.
struct ElementwiseArgs {
    let dtype: DType
    let rounding: Rounding
    let seed: UInt64
    /// Float formats: ONNX's saturate attribute (the integer dtypes always saturate).
    var saturate: Bool = true
}

/// Processes a prefix of the segment: returns the elements done (all of them for a reference kernel) and
/// the offset of an element it failed on (NaN to quantize, out-of-range code to dequantize), if any.
typealias SegmentKernel = (Segment, ElementwiseArgs) -> (done: Int, badAt: Int?)

enum ElementwiseOp {
    case quantize, dequantize, fakeQuantize
    /// The same operations on the float formats (Formats/), tables of their own.
    case floatQuantize, floatDequantize, floatFakeQuantize

    var kernelOp: KernelOp {
        switch self {
        case .quantize: .quantize
        case .dequantize: .dequantize
        case .fakeQuantize: .fakeQuantize
        case .floatQuantize: .floatQuantize
        case .floatDequantize: .floatDequantize
        case .floatFakeQuantize: .floatFakeQuantize
        }
    }

    /// The operation for a dtype: the float variant for the float formats.
    func forDType(_ d: DType) -> ElementwiseOp {
        guard d.isFloat else { return self }
        switch self {
        case .quantize: return .floatQuantize
        case .dequantize: return .floatDequantize
        case .fakeQuantize: return .floatFakeQuantize
        default: return self
        }
    }

    var isDequantize: Bool { self == .dequantize || self == .floatDequantize }
    var isQuantize: Bool { self == .quantize || self == .floatQuantize }
    func inputBytes(_ d: DType) -> Int { isDequantize ? d.storageBytes : 4 }
    func outputBytes(_ d: DType) -> Int { isQuantize ? d.storageBytes : 4 }
}

/// Fast body, reference tail: `kernel` (any record of the operation) on the segment, then the operation's
/// reference on what it left. Returns the segment offset of the first failing element, or nil.
@inline(__always)
func runSegment(_ kernel: ElementwiseKernel, _ s: Segment, _ a: ElementwiseArgs) -> Int? {
    var done = 0
    if kernel.isa != .reference {
        let r = kernel.run(s, a)
        if let bad = r.badAt { return bad }
        done = r.done
    }
    guard done < s.count else { return nil }
    let op = kernel.op
    let rest = s.dropping(done, inputBytes: op.inputBytes(a.dtype), outputBytes: op.outputBytes(a.dtype))
    return Registry.table(op).reference.run(rest, a).badAt.map { done + $0 }
}

// MARK: - Reference kernels in the segment interface (Kernels/Reference/ElementwiseReference.swift)

/// Calls `body` with the output typed as the storage type of `dtype`.
@inline(__always)
func withStorage<R>(_ dtype: DType, _ raw: UnsafeMutableRawPointer, _ i8: (UnsafeMutablePointer<Int8>) -> R,
                    _ u8: (UnsafeMutablePointer<UInt8>) -> R, _ i16: (UnsafeMutablePointer<Int16>) -> R,
                    _ u16: (UnsafeMutablePointer<UInt16>) -> R) -> R {
    switch dtype {
    case .int8, .int4: i8(raw.assumingMemoryBound(to: Int8.self))
    case .uint8, .uint4: u8(raw.assumingMemoryBound(to: UInt8.self))
    case .int16: i16(raw.assumingMemoryBound(to: Int16.self))
    case .uint16: u16(raw.assumingMemoryBound(to: UInt16.self))
    default: u8(raw.assumingMemoryBound(to: UInt8.self))  // float codes (never reached: their own kernels)
    }
}

func quantizeReferenceKernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    let x = s.input.assumingMemoryBound(to: Float.self)
    func run<T: FixedWidthInteger>(_ q: UnsafeMutablePointer<T>) -> Int? {
        quantizeSegmentReference(x, q, s.count, scale: s.scale, zeroPoint: s.zeroPoint, paramStride: s.stride,
                                 qmin: a.dtype.qmin, qmax: a.dtype.qmax, rounding: a.rounding, seed: a.seed, index0: s.index0)
    }
    return (s.count, withStorage(a.dtype, s.output, run, run, run, run))
}

func dequantizeReferenceKernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    let x = s.output.assumingMemoryBound(to: Float.self)
    func run<T: FixedWidthInteger>(_ q: UnsafeMutablePointer<T>) -> Int? {
        dequantizeSegmentReference(UnsafePointer(q), x, s.count, scale: s.scale, zeroPoint: s.zeroPoint,
                                   paramStride: s.stride, qmin: a.dtype.qmin, qmax: a.dtype.qmax,
                                   checkRange: a.dtype.needsRangeCheck)
    }
    // The input is only read; the mutable view exists to share withStorage.
    return (s.count, withStorage(a.dtype, UnsafeMutableRawPointer(mutating: s.input), run, run, run, run))
}

func fakeQuantizeReferenceKernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    (s.count, fakeQuantizeSegmentReference(
        s.input.assumingMemoryBound(to: Float.self), s.output.assumingMemoryBound(to: Float.self), s.count,
        scale: s.scale, zeroPoint: s.zeroPoint, paramStride: s.stride, qmin: a.dtype.qmin, qmax: a.dtype.qmax,
        rounding: a.rounding, seed: a.seed, index0: s.index0))
}

// MARK: - AVX-512 kernels in the segment interface (Sources/_SwiftQuantAVX512)

#if arch(x86_64)
private func storage(_ d: DType) -> AVX512Storage {
    switch d {
    case .int8, .int4: .int8
    case .uint8, .uint4: .uint8
    case .int16: .int16
    case .uint16: .uint16
    default: .uint8  // float codes (never reached: their own kernels)
    }
}

private extension Segment {
    var avx512: AVX512Params { AVX512Params(scale: scale, zeroPoint: zeroPoint, stride: stride) }
}

func quantizeAVX512Kernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    let r = quantizeAVX512(s.input.assumingMemoryBound(to: Float.self), s.output, s.count, storage: storage(a.dtype),
                           params: s.avx512, qmin: a.dtype.qmin, qmax: a.dtype.qmax, rounding: a.rounding.rawValue,
                           seed: a.seed, index0: s.index0)
    return (r.done, r.nanAt)
}

func dequantizeAVX512Kernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    dequantizeAVX512(s.input, s.output.assumingMemoryBound(to: Float.self), s.count, storage: storage(a.dtype),
                     params: s.avx512, qmin: a.dtype.qmin, qmax: a.dtype.qmax, checkRange: a.dtype.needsRangeCheck)
}

func fakeQuantizeAVX512Kernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    let r = fakeQuantizeAVX512(s.input.assumingMemoryBound(to: Float.self), s.output.assumingMemoryBound(to: Float.self),
                               s.count, params: s.avx512, qmin: a.dtype.qmin, qmax: a.dtype.qmax,
                               rounding: a.rounding.rawValue, seed: a.seed, index0: s.index0)
    return (r.done, r.nanAt)
}
#endif

// MARK: - AVX2 kernels in the segment interface (Sources/_SwiftQuantAVX2)

#if arch(x86_64)
import _SwiftQuantAVX2

/// The same storage kinds as the AVX-512 module's (the two enums share their raw values).
private func storage2(_ d: DType) -> AVX2Storage { AVX2Storage(rawValue: storage(d).rawValue)! }

private extension Segment {
    var avx2: AVX2Params { AVX2Params(scale: scale, zeroPoint: zeroPoint, stride: stride) }
}

func quantizeAVX2Kernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    let r = quantizeAVX2(s.input.assumingMemoryBound(to: Float.self), s.output, s.count, storage: storage2(a.dtype),
                         params: s.avx2, qmin: a.dtype.qmin, qmax: a.dtype.qmax, rounding: a.rounding.rawValue,
                         seed: a.seed, index0: s.index0)
    return (r.done, r.nanAt)
}

func dequantizeAVX2Kernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    dequantizeAVX2(s.input, s.output.assumingMemoryBound(to: Float.self), s.count, storage: storage2(a.dtype),
                   params: s.avx2, qmin: a.dtype.qmin, qmax: a.dtype.qmax, checkRange: a.dtype.needsRangeCheck)
}

func fakeQuantizeAVX2Kernel(_ s: Segment, _ a: ElementwiseArgs) -> (done: Int, badAt: Int?) {
    let r = fakeQuantizeAVX2(s.input.assumingMemoryBound(to: Float.self), s.output.assumingMemoryBound(to: Float.self),
                             s.count, params: s.avx2, qmin: a.dtype.qmin, qmax: a.dtype.qmax,
                             rounding: a.rounding.rawValue, seed: a.seed, index0: s.index0)
    return (r.done, r.nanAt)
}
#endif
