// The README's Swift block, verbatim (Tests/python/test_readme.py checks it), so `./run-tests` compiles and
// runs it; then the notes' worked example, 0.3 x 0.5 in int8, and an int8 linear layer.
import SwiftQuant

let x: [Float] = [0.3, -1.2, 0.5, 2.0, -0.7, 0.1, 1.5, -2.5]      // a 2 x 4 tensor, row-major
let p = try calibrate(x, shape: [2, 4], dtype: .int8, symmetric: true, axis: 1)  // one scale per column
let q: [Int8] = try quantize(x, shape: [2, 4], params: p)         // storage from the result type
let y = try dequantize(q, shape: [2, 4], params: p)               // [Float]
let r = try errorReport(x, shape: [2, 4], params: p)              // r.mse, r.sqnrDB, r.clippedFraction
print("int8 \(q) -> \(y), SQNR \(r.sqnrDB) dB")

var ob = try CalibrationObserver(method: .percentile, dtype: .uint8, percentile: 99.9)
var shard = ob                                                    // a value: an independent copy
try ob.update(x); try shard.update(y); try ob.merge(shard)        // streaming, mergeable
let restored = try CalibrationObserver(serialized: try ob.serialized())
print("observer: \(try restored.qparams().scale)")

let cb = try fitCodebook(x, bits: 2)                              // 4 Lloyd-Max levels (Codebook)
let idx = try codebookQuantize(x, codebook: cb)                   // [UInt8]: nearest level
let back = try codebookDequantize(idx, codebook: cb)              // [Float]: the levels
print("codebook \(cb.levels[0]): \(idx) -> \(back), SQNR \(try errorReport(x, codebook: cb).sqnrDB) dB")

let a: [Int8] = [1, 2, 3, 4], b: [Int8] = [1, -1, 2, 0, 1, 1]      // A [2, 2], B [2, 3]
let c = try matmul(a, shape: [2, 2], b, shape: [2, 3])            // exact int32 (MatMulInteger)
let packed = try PackedWeights(b, k: 2, n: 3, params: QuantParams(scale: 0.1))  // B packed once
let yq: [Int8] = try packed.qlinearMatmul(a, shape: [2, 2], params: QuantParams(scale: 0.5),
                                          output: QuantParams(scale: 0.05))     // QLinearMatMul
print("matmul \(c), requantized \(yq), int4 packed \(try packInt4([Int8(-1), 7]))")

// The notes' worked example (run-tests greps these lines).
let pa = try calibrate([-1.2, 1.0], dtype: .int8)  // A's range
let pb = try calibrate([-1.0, 1.2], dtype: .int8)  // B's range
let qa: [Int8] = try quantize([0.3], params: pa)
let qb: [Int8] = try quantize([0.5], params: pb)
print("A: S1 = \(pa.scale[0]), Z1 = \(pa.zeroPoint[0]); 0.3 -> \(qa[0])")
print("B: S2 = \(pb.scale[0]), Z2 = \(pb.zeroPoint[0]); 0.5 -> \(qb[0])")
let product = (Int32(qa[0]) - pa.zeroPoint[0]) * (Int32(qb[0]) - pb.zeroPoint[0])
print("(qa - Z1) * (qb - Z2) = \(product); times S1 * S2 = \(Float(product) * pa.scale[0] * pb.scale[0])")

let w: [Float] = [0.5, -0.25, 1.0, 0.75], bias: [Float] = [0.1, 0], input: [Float] = [1.0, 2.0]
let layer = try QuantizedLinearLayer(weight: w, outFeatures: 2, inFeatures: 2, bias: bias)
let exact = (0..<2).map { o in bias[o] + w[2 * o] * input[0] + w[2 * o + 1] * input[1] }
print("int8 layer: \(try layer(input)), float32: \(exact)")

do {
    _ = try quantize([.nan], params: pa) as [Int8]
} catch {
    print("NaN is an error: \(error)")
}
