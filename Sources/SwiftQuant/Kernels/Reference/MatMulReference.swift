// The whole quantized product as one naive loop (after ruy's reference_mul): zero points, the exact sum in
// Int64, then the epilogue's formula element by element. It shares nothing with the driver or the kernels
// (MatMul/MatMul.swift, GemmConfig.swift) but the formulas' definitions, and every GEMM record with every
// epilogue must match it bit for bit (Tests/SwiftQuantTests/GemmPathTests.swift).

/// C or y for `shape` from raw A and B (B's zero points and scales: one, or one per column).
func matmulReference(a: UnsafeRawPointer, aDType: DType, za: Int32, shape: MatMulShape, b: UnsafeRawPointer,
                     bDType: DType, zeroPoints zb: [Int32], scales: [Float]?, epilogue: MatMulEpilogue) throws(SQError) {
    try checkAccumulator(k: shape.k, aDType: aDType, za: za, bDType: bDType,
                         bMaxAbs: maxAbsDeviation(bDType, zeroPoints: zb))
    func value(_ p: UnsafeRawPointer, _ d: DType, _ i: Int) -> Int64 {
        d == .int8 ? Int64(p.load(fromByteOffset: i, as: Int8.self)) : Int64(p.load(fromByteOffset: i, as: UInt8.self))
    }
    let m = shape.m, k = shape.k, n = shape.n
    for t in 0..<shape.batchCount {
        let (ao, bo) = shape.offsets(batch: t)
        for i in 0..<m {
            for j in 0..<n {
                let z = Int64(zb.count == 1 ? zb[0] : zb[j])
                var acc: Int64 = 0
                for kk in 0..<k { acc += (value(a, aDType, ao + i * k + kk) - Int64(za)) * (value(b, bDType, bo + kk * n + j) - z) }
                let c = Int32(acc)  // fits: checkAccumulator proved |C| <= 2^31 - 1
                let idx = (t * m + i) * n + j
                let sb = scales.map { $0.count == 1 ? $0[0] : $0[j] } ?? 1
                switch epilogue {
                case .int32(let out):
                    out[idx] = c
                case .requantize(let y, let dtype, let sa, let sy, let zy, let rounding, let seed):
                    let mult = Double(Float(sa * sb) / sy)
                    guard mult.isFinite else { throw SQError(.invalidScale, "reference: the multiplier of column \(j) is \(mult)") }
                    let r = rounding.round(Double(c) * mult + Double(zy), seed: seed, index: idx)
                    let q = Int32(Swift.min(Swift.max(r, Double(dtype.qmin)), Double(dtype.qmax)))
                    if dtype == .int8 { y.storeBytes(of: Int8(q), toByteOffset: idx, as: Int8.self) } else {
                        y.storeBytes(of: UInt8(q), toByteOffset: idx, as: UInt8.self)
                    }
                case .float(let y, let sa, let bias):
                    let f = sa * sb
                    guard f.isFinite else { throw SQError(.invalidScale, "reference: the scale product of column \(j) is \(f)") }
                    let v = Float(c) * f
                    y[idx] = bias.map { v + $0[j] } ?? v
                }
            }
        }
    }
}
