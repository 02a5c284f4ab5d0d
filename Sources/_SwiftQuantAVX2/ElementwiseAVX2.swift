// AVX2 quantize, fake-quantize and dequantize: the AVX-512 kernels of Sources/_SwiftQuantAVX512 with 8
// lanes (the same operations in the same order, so x86-64-v3 CPUs without AVX-512 get vector code too).
// Each kernel handles whole 8-lane blocks and returns how many elements it did; the core finishes the tail
// with the reference kernel, which these must match bit for bit (Tests/SwiftQuantTests/KernelSweepTests.swift).
#if arch(x86_64)
import _Builtin_intrinsics.intel

typealias F8 = SIMD8<Float>
typealias I8 = SIMD8<Int32>

/// int32 -> float32 lanes with one vcvtdq2ps (the generic SIMD initializer is a per-lane loop).
@inline(__always) private func toFloat(_ v: I8) -> F8 {
    _mm256_cvtepi32_ps(unsafeBitCast(v, to: __m256i.self))
}

/// Storage kinds of quantized buffers (the dtype's C type).
public enum AVX2Storage: Int32 { case int8 = 0, uint8 = 1, int16 = 2, uint16 = 3 }

/// Rounding codes as in swiftquant.h (sq_rounding).
@inline(__always) private func roundLanes(_ c: F8, _ rounding: Int32, seed: UInt64, index: Int) -> I8 {
    switch rounding {
    case 0:  // nearest, ties to even: the conversion rounds by MXCSR, which is round-to-nearest-even
        return unsafeBitCast(_mm256_cvtps_epi32(c), to: I8.self)
    case 1:  // half away from zero: truncate, then step away when the remainder is at least one half
        let t = unsafeBitCast(_mm256_cvttps_epi32(c), to: I8.self)
        let d = c - toFloat(t)  // exact
        return t &+ I8(repeating: 0).replacing(with: 1, where: d .>= 0.5).replacing(with: -1, where: d .<= -0.5)
    case 2:
        return unsafeBitCast(_mm256_cvttps_epi32(c.rounded(.down)), to: I8.self)
    default:  // stochastic: floor + 1 with probability frac, bits from (seed, element index)
        let f = c.rounded(.down)
        let frac = c - f
        let u = stochasticThresholds(seed: seed, index: index)
        return unsafeBitCast(_mm256_cvttps_epi32(f), to: I8.self) &+ I8(repeating: 0).replacing(with: 1, where: u .< frac)
    }
}

/// The reference's splitmix64 of (seed, index) for 8 consecutive indices, as 24-bit uniforms in [0, 1).
@inline(__always) private func stochasticThresholds(seed: UInt64, index: Int) -> F8 {
    let idx = SIMD8<UInt64>(0, 1, 2, 3, 4, 5, 6, 7) &+ SIMD8(repeating: UInt64(truncatingIfNeeded: index) &+ 1)
    var z = SIMD8(repeating: seed) &+ idx &* 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z &>> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z &>> 27)) &* 0x94D0_49BB_1331_11EB
    z ^= z &>> 31
    return toFloat(SIMD8<Int32>(truncatingIfNeeded: z &>> 40)) * 0x1p-24
}

/// A segment's parameters: one scale and zero point (stride 0) or one per element (stride 1, contiguous).
public struct AVX2Params {
    public let scale: UnsafePointer<Float>
    public let zeroPoint: UnsafePointer<Int32>?
    public let stride: Int
    public init(scale: UnsafePointer<Float>, zeroPoint: UnsafePointer<Int32>?, stride: Int) {
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.stride = stride
    }

    /// (scale, zero point) lanes for elements i ..< i + 8.
    @inline(__always) func lanes(_ i: Int) -> (F8, I8) {
        if stride == 0 { return (F8(repeating: scale[0]), I8(repeating: zeroPoint?[0] ?? 0)) }
        let s = UnsafeRawPointer(scale + i).loadUnaligned(as: F8.self)
        let z = zeroPoint.map { UnsafeRawPointer($0 + i).loadUnaligned(as: I8.self) } ?? I8(repeating: 0)
        return (s, z)
    }
}

/// Runs whole 8-lane blocks: v = x / s (a true division, as the reference), stops at a NaN, clamps to the
/// integral bounds [qmin - z, qmax - z] (the same as rounding then saturating) and hands store the rounded
/// r = q - z with the block's zero points and scales.
@inline(__always) private func quantizeBlocks<T>(
    _ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<T>, _ n: Int, _ p: AVX2Params,
    qmin: Int32, qmax: Int32, rounding: Int32, seed: UInt64, index0: Int, store: (I8, I8, F8, UnsafeMutablePointer<T>) -> Void
) -> (done: Int, nanAt: Int?) {
    let vmin = I8(repeating: qmin), vmax = I8(repeating: qmax)
    let raw = UnsafeRawPointer(x)
    var i = 0
    while i + 8 <= n {
        let (vs, vz) = p.lanes(i)
        let v = raw.loadUnaligned(fromByteOffset: i * 4, as: F8.self) / vs
        if any(v .!= v) {
            for j in 0..<8 where v[j].isNaN { return (i, i + j) }
        }
        let lo = toFloat(vmin &- vz), hi = toFloat(vmax &- vz)
        let c = v.replacing(with: lo, where: v .< lo).replacing(with: hi, where: v .> hi)
        store(roundLanes(c, rounding, seed: seed, index: index0 &+ i), vz, vs, out + i)
        i += 8
    }
    return (i, nil)
}

/// q[i] = saturate(round(x[i] / scale) + zeroPoint) for whole 8-lane blocks of x[0..<n]. Returns the
/// elements done (a multiple of 8) and, if a NaN stopped it, its offset.
public func quantizeAVX2(_ x: UnsafePointer<Float>, _ q: UnsafeMutableRawPointer, _ n: Int, storage: AVX2Storage,
                           params p: AVX2Params, qmin: Int32, qmax: Int32, rounding: Int32, seed: UInt64,
                           index0: Int) -> (done: Int, nanAt: Int?) {
    @inline(__always) func run<T: FixedWidthInteger & SIMDScalar>(_ t: T.Type) -> (done: Int, nanAt: Int?) {
        quantizeBlocks(x, q.assumingMemoryBound(to: T.self), n, p, qmin: qmin, qmax: qmax, rounding: rounding, seed: seed,
                       index0: index0) { r, z, _, out in
            UnsafeMutableRawPointer(out).storeBytes(of: SIMD8<T>(truncatingIfNeeded: r &+ z), as: SIMD8<T>.self)
        }
    }
    switch storage {
    case .int8: return run(Int8.self)
    case .uint8: return run(UInt8.self)
    case .int16: return run(Int16.self)
    case .uint16: return run(UInt16.self)
    }
}

/// y[i] = (saturate(round(x[i] / scale) + zeroPoint) - zeroPoint) * scale for whole 8-lane blocks;
/// y may be x. Returns the elements done and, if a NaN stopped it, its offset.
public func fakeQuantizeAVX2(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int, params p: AVX2Params,
                               qmin: Int32, qmax: Int32, rounding: Int32, seed: UInt64,
                               index0: Int) -> (done: Int, nanAt: Int?) {
    quantizeBlocks(x, y, n, p, qmin: qmin, qmax: qmax, rounding: rounding, seed: seed, index0: index0) { r, _, s, out in
        UnsafeMutableRawPointer(out).storeBytes(of: toFloat(r) * s, as: F8.self)  // r is q - z
    }
}

@inline(__always) private func dequantizeBlocks<T: FixedWidthInteger>(
    _ q: UnsafePointer<T>, _ x: UnsafeMutablePointer<Float>, _ n: Int, _ p: AVX2Params,
    qmin: Int32, qmax: Int32, checkRange: Bool, load: (UnsafePointer<T>) -> I8
) -> (done: Int, badAt: Int?) {
    let lo = I8(repeating: qmin), hi = I8(repeating: qmax)
    let out = UnsafeMutableRawPointer(x)
    var i = 0
    while i + 8 <= n {
        let v = load(q + i)
        if checkRange && any((v .< lo) .| (v .> hi)) {
            for j in 0..<8 where v[j] < qmin || v[j] > qmax { return (i, i + j) }
        }
        let (vs, vz) = p.lanes(i)
        out.storeBytes(of: toFloat(v &- vz) * vs, toByteOffset: i * 4, as: F8.self)  // (q - z) exact, one multiply
        i += 8
    }
    return (i, nil)
}

/// x[i] = Float(q[i] - zeroPoint) * scale for whole 8-lane blocks. Returns the elements done and, with
/// checkRange, the offset of a value outside [qmin, qmax] that stopped it.
public func dequantizeAVX2(_ q: UnsafeRawPointer, _ x: UnsafeMutablePointer<Float>, _ n: Int, storage: AVX2Storage,
                             params p: AVX2Params, qmin: Int32, qmax: Int32, checkRange: Bool) -> (done: Int, badAt: Int?) {
    func run<T: FixedWidthInteger & SIMDScalar>(_ t: T.Type) -> (done: Int, badAt: Int?) {
        dequantizeBlocks(q.assumingMemoryBound(to: T.self), x, n, p, qmin: qmin, qmax: qmax, checkRange: checkRange) {
            I8(truncatingIfNeeded: UnsafeRawPointer($0).loadUnaligned(as: SIMD8<T>.self))
        }
    }
    switch storage {
    case .int8: return run(Int8.self)
    case .uint8: return run(UInt8.self)
    case .int16: return run(Int16.self)
    case .uint16: return run(UInt16.self)
    }
}
#endif
