// The optimized element-wise kernels behind one interface: each does whole SIMD blocks of a
// constant-parameter segment and reports how far it got; callers finish with the reference kernel.
// On CPUs or builds without AVX-512 they do nothing (done = 0), so the reference runs alone.

#if arch(x86_64)
import _SwiftQuantAVX512
import _SwiftQuantAVX512Codebook
#endif

private func storageCode(_ d: DType) -> Int32 {
    switch d {
    case .int8, .int4: 0
    case .uint8, .uint4: 1
    case .int16: 2
    case .uint16: 3
    }
}

/// Scale and zero point pointers of a segment with stride 0 (constant) or 1 (one per element).
struct SegmentParams {
    let scale: UnsafePointer<Float>
    let zeroPoint: UnsafePointer<Int32>?
    let stride: Int
}

#if arch(x86_64)
private extension SegmentParams {
    var avx512: AVX512Params { AVX512Params(scale: scale, zeroPoint: zeroPoint, stride: stride) }
}
#endif

func quantizeFast(_ x: UnsafePointer<Float>, _ q: UnsafeMutableRawPointer, _ n: Int, dtype: DType, params: SegmentParams,
                  rounding: Rounding, seed: UInt64, index0: Int) -> (done: Int, nanAt: Int?) {
    #if arch(x86_64)
    return quantizeAVX512(x, q, n, storage: AVX512Storage(rawValue: storageCode(dtype))!, params: params.avx512,
                          qmin: dtype.qmin, qmax: dtype.qmax, rounding: rounding.rawValue, seed: seed, index0: index0)
    #else
    return (0, nil)
    #endif
}

func dequantizeFast(_ q: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, _ n: Int, dtype: DType,
                    params: SegmentParams) -> (done: Int, badAt: Int?) {
    #if arch(x86_64)
    return dequantizeAVX512(q, x, n, storage: AVX512Storage(rawValue: storageCode(dtype))!, params: params.avx512,
                            qmin: dtype.qmin, qmax: dtype.qmax, checkRange: dtype.needsRangeCheck)
    #else
    return (0, nil)
    #endif
}

func fakeQuantizeFast(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, dtype: DType,
                      params: SegmentParams, rounding: Rounding, seed: UInt64, index0: Int) -> (done: Int, nanAt: Int?) {
    #if arch(x86_64)
    return fakeQuantizeAVX512(x, y, n, params: params.avx512, qmin: dtype.qmin, qmax: dtype.qmax,
                              rounding: rounding.rawValue, seed: seed, index0: index0)
    #else
    return (0, nil)
    #endif
}

/// Floats per codebook of the fast codebook kernel's search tables (0 without a fast kernel).
#if arch(x86_64)
let codebookFastTableStride = codebookSearchTableStride
#else
let codebookFastTableStride = 0
#endif

/// Builds the fast kernel's search tables of one codebook (`L` ascending levels) into `tables`
/// (codebookFastTableStride floats) and returns the search depth, or nil when the kernel cannot take it:
/// repeated levels (ties must go to the first of a run, which the reference does), or no fast kernel.
/// Threshold j is the smallest float32 above the float64 midpoint m of levels j and j + 1, so that for any
/// float32 x, `m < x` exactly when `x >= threshold`: the reference's decision, made in float32.
func codebookTablesFast(_ levels: UnsafePointer<Float>, _ L: Int, _ tables: UnsafeMutablePointer<Float>) -> Int? {
    #if arch(x86_64)
    var t = [Float](repeating: 0, count: Swift.max(L - 1, 1))
    for j in 0..<(L - 1) {
        guard levels[j] < levels[j + 1] else { return nil }
        let m = (Double(levels[j]) + Double(levels[j + 1])) * 0.5
        let f = Float(m)
        t[j] = Double(f) > m ? f : f.nextUp
    }
    return t.withUnsafeBufferPointer { codebookSearchTables(thresholds: $0.baseAddress!, count: L - 1, into: tables) }
    #else
    return nil
    #endif
}

func codebookQuantizeFast(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<UInt8>, _ n: Int,
                          tables: UnsafePointer<Float>, depth: Int) -> (done: Int, nanAt: Int?) {
    #if arch(x86_64)
    return codebookQuantizeAVX512(x, out, n, tables: tables, depth: depth)
    #else
    return (0, nil)
    #endif
}
