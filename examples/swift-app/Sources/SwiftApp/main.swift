// The notes' worked example through the Swift API: 0.3 x 0.5 in int8, then an int8 linear layer.
import SwiftQuant

let pa = try calibrate([-1.2, 1.0], dtype: .int8)  // A's range
let pb = try calibrate([-1.0, 1.2], dtype: .int8)  // B's range
let qa: [Int8] = try quantize([0.3], params: pa)
let qb: [Int8] = try quantize([0.5], params: pb)
print("A: S1 = \(pa.scale[0]), Z1 = \(pa.zeroPoint[0]); 0.3 -> \(qa[0])")
print("B: S2 = \(pb.scale[0]), Z2 = \(pb.zeroPoint[0]); 0.5 -> \(qb[0])")
let product = (Int32(qa[0]) - pa.zeroPoint[0]) * (Int32(qb[0]) - pb.zeroPoint[0])
print("(qa - Z1) * (qb - Z2) = \(product); times S1 * S2 = \(Float(product) * pa.scale[0] * pb.scale[0])")

let w: [Float] = [0.5, -0.25, 1.0, 0.75], bias: [Float] = [0.1, 0], x: [Float] = [1.0, 2.0]
let layer = try QuantizedLinearLayer(weight: w, outFeatures: 2, inFeatures: 2, bias: bias)
let exact = (0..<2).map { o in bias[o] + w[2 * o] * x[0] + w[2 * o + 1] * x[1] }
print("int8 layer: \(try layer(x)), float32: \(exact)")

do {
    _ = try quantize([.nan], params: pa) as [Int8]
} catch {
    print("NaN is an error: \(error)")
}
