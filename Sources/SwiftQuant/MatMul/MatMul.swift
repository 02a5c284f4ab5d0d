// The int8 matmul driver: overflow proof, batching with broadcast, packing of unpacked B, the kernel, and
// the epilogues (README "Semantics: integer matmul"):
//   int32      C[m, n] = sum_k (A[m, k] - za) (B[k, n] - zb[n])                  (ONNX MatMulInteger)
//   requantize y = saturate(round(double(C) * M[n] + zy)), M[n] = f32(f32(sa*sb[n]) / sy) (QLinearMatMul)
//   float      y = f32(C) * f32(sa*sb[n]) + bias[n]

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where B comes from: packed once by the caller, or raw (possibly batched) memory packed per batch here.
enum MatMulB {
    case packed(PackedMatrix)
    case raw(UnsafeRawPointer, dtype: DType, zeroPoints: [Int32], scales: [Float]?)
}

enum MatMulEpilogue {
    case int32(UnsafeMutablePointer<Int32>)
    case requantize(UnsafeMutableRawPointer, dtype: DType, aScale: Float, yScale: Float, yZeroPoint: Int32,
                    rounding: Rounding, seed: UInt64)
    case float(UnsafeMutablePointer<Float>, aScale: Float, bias: UnsafePointer<Float>?)
}

/// Largest |A - za| over the dtype's range.
func maxAbsDeviation(_ dtype: DType, zeroPoint z: Int32) -> Int { Int(Swift.max(dtype.qmax - z, z - dtype.qmin)) }

/// Proves the exact result fits in int32 (worst case over the dtypes' ranges) or fails.
func checkAccumulator(k: Int, aDType: DType, za: Int32, bDType: DType, bMaxAbs: Int) throws(SQError) {
    let amax = maxAbsDeviation(aDType, zeroPoint: za)
    let (p1, o1) = k.multipliedReportingOverflow(by: amax)
    let (bound, o2) = p1.multipliedReportingOverflow(by: bMaxAbs)
    guard !o1 && !o2 && bound <= Int(Int32.max) else {
        throw SQError(.overflow, "a, b: K = \(k) could overflow the int32 accumulator: K * max|A - za| * max|B - zb| = \(k) * \(amax) * \(bMaxAbs) > 2^31 - 1 (\(aDType.name) a, za = \(za); \(bDType.name) b); split K or use smaller zero points")
    }
}

func matmul(a: UnsafeRawPointer, aDType: DType, za: Int32, shape: MatMulShape, b: MatMulB,
            epilogue: MatMulEpilogue) throws(SQError) {
    let (bDType, bZeros) : (DType, [Int32])
    switch b {
    case .packed(let p): (bDType, bZeros) = (p.dtype, p.zeroPoints)
    case .raw(_, let d, let z, _): (bDType, bZeros) = (d, z)
    }
    try checkAccumulator(k: shape.k, aDType: aDType, za: za, bDType: bDType,
                         bMaxAbs: bZeros.map { maxAbsDeviation(bDType, zeroPoint: $0) }.max() ?? 0)
    let m = shape.m, k = shape.k, n = shape.n
    guard shape.outCount > 0 else { return }

    // int32 output is written in place; other epilogues go through a scratch tile of one batch.
    var scratch: UnsafeMutablePointer<Int32>? = nil
    if case .int32 = epilogue {} else {
        guard let raw = malloc(m * n * MemoryLayout<Int32>.stride) else {
            throw SQError(.outOfMemory, "cannot allocate \(m * n * 4) bytes for the int32 accumulator")
        }
        scratch = raw.bindMemory(to: Int32.self, capacity: m * n)
    }
    defer { free(scratch) }

    var packed: PackedMatrix? = nil
    var packedOffset = -1
    for t in 0..<shape.batchCount {
        let (ao, bo) = shape.offsets(batch: t)
        let bp: PackedMatrix
        switch b {
        case .packed(let p): bp = p
        case .raw(let ptr, let dtype, let zeros, let scales):
            if bo != packedOffset {  // consecutive batches sharing a broadcast B pack it once
                packed = try PackedMatrix(b: ptr + bo * dtype.storageBytes, dtype: dtype, k: k, n: n,
                                          zeroPoints: zeros, scales: scales)
                packedOffset = bo
            }
            bp = packed!
        }
        let outBase = t * m * n
        let c: UnsafeMutablePointer<Int32>
        if case .int32(let out) = epilogue { c = out + outBase } else { c = scratch! }
        let aBatch = a + ao * aDType.storageBytes
        if aDType == .int8 {
            gemmReference(aBatch.assumingMemoryBound(to: Int8.self), za: za, m: m, b: bp, c)
        } else {
            gemmReference(aBatch.assumingMemoryBound(to: UInt8.self), za: za, m: m, b: bp, c)
        }
        applyEpilogue(epilogue, c: UnsafePointer(c), m: m, n: n, b: bp, outBase: outBase)
    }
}

private func applyEpilogue(_ e: MatMulEpilogue, c: UnsafePointer<Int32>, m: Int, n: Int, b: PackedMatrix, outBase: Int) {
    switch e {
    case .int32:
        break
    case .requantize(let y, let dtype, let sa, let sy, let zy, let rounding, let seed):
        let mult = (0..<n).map { Double(Float(sa * b.scale(column: $0)) / sy) }
        let lo = Double(dtype.qmin), hi = Double(dtype.qmax), z = Double(zy)
        func store<T: FixedWidthInteger>(_ out: UnsafeMutablePointer<T>) {
            for i in 0..<m {
                for j in 0..<n {
                    let idx = i * n + j
                    // The zero point is added before rounding, as in the ONNX reference (it matters for ties).
                    let r = rounding.round(Double(c[idx]) * mult[j] + z, seed: seed, index: outBase + idx)
                    out[outBase + idx] = T(truncatingIfNeeded: Int32(Swift.min(Swift.max(r, lo), hi)))
                }
            }
        }
        if dtype == .int8 { store(y.assumingMemoryBound(to: Int8.self)) } else { store(y.assumingMemoryBound(to: UInt8.self)) }
    case .float(let y, let sa, let bias):
        let colScale = (0..<n).map { sa * b.scale(column: $0) }
        for i in 0..<m {
            let out = y + outBase + i * n
            for j in 0..<n {
                // Multiply then add, never fused, so results match NumPy bit for bit.
                let v = Float(c[i * n + j]) * colScale[j]
                out[j] = bias.map { v + $0[j] } ?? v
            }
        }
    }
}
