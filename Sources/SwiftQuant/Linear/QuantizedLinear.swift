// A quantized linear layer, y = x W^T + b, run in int8: weights quantized once per output channel
// (symmetric int8) and packed; each call quantizes the input dynamically to uint8 (one scale per tensor,
// or per row = per token), multiplies in int32 exactly, and dequantizes with bias:
//   y[m, n] = f32(C[m, n]) * f32(sx[m] * sw[n]) + bias[n],  C = sum_k (xq[m, k] - zx[m]) * wq[n, k]
// (sx, zx as ONNX DynamicQuantizeLinear computes them, over the tensor or over each row).

final class QuantizedLinear {
    let inFeatures: Int
    let outFeatures: Int
    let perRow: Bool
    let weightScales: [Float]
    let bias: [Float]?
    let packed: PackedMatrix
    /// sum_k wq[n, k]: folds the input zero point out of the int32 product.
    let columnSums: [Int32]

    /// `weight` is [outFeatures, inFeatures] row-major (PyTorch's nn.Linear layout).
    init(weight: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int, bias: UnsafePointer<Float>?, perRow: Bool) throws(SQError) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.perRow = perRow
        var scales = [Float](repeating: 1, count: outFeatures)
        // Transposed to B [K = in, N = out] for the GEMM.
        var wq = [Int8](repeating: 0, count: inFeatures * outFeatures)
        var sums = [Int32](repeating: 0, count: outFeatures)
        for n in 0..<outFeatures {
            let row = weight + n * inFeatures
            var lo: Float = .infinity, hi: Float = -.infinity, bad = 0
            for k in 0..<inFeatures {
                let v = row[k]
                if !v.isFinite { bad += 1 } else { lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
            }
            guard bad == 0 else { throw SQError(.nonfinite, "weight: row \(n) has \(bad) NaN or infinite value(s)") }
            let (s, _) = try qparamsFromRange(min: lo, max: hi, dtype: .int8, symmetric: true, argument: "weight row \(n)")
            scales[n] = s
            for k in 0..<inFeatures {
                let q = Int8(Swift.min(Swift.max((row[k] / s).rounded(.toNearestOrEven), -127), 127))
                wq[k * outFeatures + n] = q
                sums[n] &+= Int32(q)
            }
        }
        weightScales = scales
        columnSums = sums
        if let bias {
            for n in 0..<outFeatures where !bias[n].isFinite {
                throw SQError(.nonfinite, "bias: element \(n) is NaN or infinite")
            }
            self.bias = Array(UnsafeBufferPointer(start: bias, count: outFeatures))
        } else {
            self.bias = nil
        }
        packed = try wq.withUnsafeBufferPointer { (b) throws(SQError) in
            try PackedMatrix(b: UnsafeRawPointer(b.baseAddress!), dtype: .int8, k: inFeatures, n: outFeatures, zeroPoints: [0], scales: scales)
        }
    }

    /// y [rows, outFeatures] for x [rows, inFeatures].
    func forward(_ x: UnsafePointer<Float>, rows m: Int, _ y: UnsafeMutablePointer<Float>) throws(SQError) {
        let k = inFeatures, n = outFeatures
        guard m > 0 && n > 0 else { return }
        // Dynamic uint8 quantization of the input (ONNX DynamicQuantizeLinear), per tensor or per row.
        var xq = [UInt8](repeating: 0, count: m * k)
        let groups = perRow ? m : 1
        var sx = [Float](repeating: 1, count: groups), zx = [Int32](repeating: 0, count: groups)
        try xq.withUnsafeMutableBufferPointer { (q) throws(SQError) in
            let span = perRow ? k : m * k
            for g in 0..<groups {
                let (s, z) = try dynamicQuantize(x + g * span, count: span, q.baseAddress! + g * span)
                sx[g] = s
                zx[g] = Int32(z)
            }
        }
        var c = [Int32](repeating: 0, count: m * n)
        try xq.withUnsafeBufferPointer { (a) throws(SQError) in
            try c.withUnsafeMutableBufferPointer { (cp) throws(SQError) in
                // za = 0 here; the input zero point comes out in the epilogue through the column sums.
                try matmul(a: UnsafeRawPointer(a.baseAddress!), aDType: .uint8, za: 0, shape: try MatMulShape(a: try Shape([m, k]), b: try Shape([k, n])),
                           b: .packed(packed), epilogue: .int32(cp.baseAddress!))
            }
        }
        for i in 0..<m {
            let g = perRow ? i : 0
            let z = zx[g], s = sx[g]
            let out = y + i * n
            for j in 0..<n {
                let exact = c[i * n + j] &- z &* columnSums[j]  // exact: the true C fits int32 (checked)
                let v = Float(exact) * (s * weightScales[j])
                out[j] = bias.map { v + $0[j] } ?? v
            }
        }
    }
}
