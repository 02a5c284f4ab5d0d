// The Swift-facing GPTQ (swiftquant.h, "GPTQ"), through the same C export as Python and C callers.

import _SwiftQuantShims

extension QuantizedWeight {
    /// GPTQ of w [n, k] (row-major) with the layer's input Hessian [k, k] (row-major, e.g.
    /// `HessianObserver.hessian()`): the same grid and format as `init(quantizing:)`, columns chosen so each
    /// column's rounding error is compensated on the later ones. `inputScales` s: quantize w·s with the
    /// Hessian of x / s (AWQ scaling first); the result carries s.
    public static func gptq(quantizing w: [Float], n: Int, k: Int, hessian: [Double], bits: Int = 4, blockSize: Int = 32,
                            symmetric: Bool = true, actOrder: Bool = false, damp: Double = 0.01,
                            inputScales: [Float]? = nil) throws(SwiftQuantError) -> (weight: QuantizedWeight, report: GPTQReport) {
        guard n >= 0, k >= 0, w.count == exactProduct(n, k) else {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue, message: "w: \(w.count) value(s) for [n \(n), k \(k)]")
        }
        guard hessian.count == exactProduct(k, k) else {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue, message: "hessian: \(hessian.count) value(s), want k x k = \(k) x \(k)")
        }
        if let inputScales, inputScales.count != k {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue, message: "inputScales: \(inputScales.count) value(s), want k = \(k)")
        }
        let kb = Checked.ceilDiv(k, blockSize)
        var codes = [UInt8](repeating: 0, count: n * k)
        var scales = [Float](repeating: 0, count: n * kb), zps = [UInt8](repeating: 0, count: n * kb)
        var r = sq_gptq_report()
        let status = withOptionalArray(inputScales) { s in
            sqWeightQuantizeGPTQ(w, Int64(n), Int64(k), Int32(truncatingIfNeeded: bits), Int64(blockSize), symmetric ? 1 : 0, hessian,
                                 actOrder ? 1 : 0, damp, s, &codes, &scales, &zps, &r)
        }
        try check(status)
        let weight = QuantizedWeight(n: n, k: k, bits: bits, blockSize: blockSize, codes: codes, scales: scales, zeroPoints: zps,
                                     inputScales: inputScales)
        return (weight, GPTQReport(damp: r.damp, deadInputs: Int(r.dead_inputs), relativeErrorBefore: r.relative_error_before,
                                   relativeErrorAfter: r.relative_error_after, rowsMeasured: Int(r.rows_measured)))
    }
}

extension QuantizedWeight {
    /// GPTQ with the Hessian of a `HessianObserver` of the layer's inputs (its `hessian()`).
    public static func gptq(quantizing w: [Float], n: Int, k: Int, hessian observer: HessianObserver, bits: Int = 4,
                            blockSize: Int = 32, symmetric: Bool = true, actOrder: Bool = false, damp: Double = 0.01,
                            inputScales: [Float]? = nil) throws(SwiftQuantError) -> (weight: QuantizedWeight, report: GPTQReport) {
        guard observer.inFeatures == k else {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue,
                                  message: "hessian: the observer has \(observer.inFeatures) input features, the weight k = \(k)")
        }
        return try gptq(quantizing: w, n: n, k: k, hessian: try observer.hessian(), bits: bits, blockSize: blockSize,
                        symmetric: symmetric, actOrder: actOrder, damp: damp, inputScales: inputScales)
    }
}
