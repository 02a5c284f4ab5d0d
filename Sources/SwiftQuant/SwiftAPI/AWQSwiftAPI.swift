// The Swift-facing API of the activation-aware methods (swiftquant.h, "Activation-aware weights"): AWQ-style
// block quantization and SmoothQuant scales, through the same C exports as Python and C callers.

import _SwiftQuantShims

/// What the AWQ search chose and its calibration errors (mean squared output errors over the rows used).
public struct AWQReport: Equatable, Sendable {
    /// r*, the exponent of the mean |x| per channel, in {0, 0.05, ..., 0.95}.
    public let ratio: Double
    /// Plain RTN (s = 1, no clipping).
    public let errorBefore: Double
    public let errorAfter: Double
    /// The errors over mean((x wᵀ)²).
    public let relativeErrorBefore: Double
    public let relativeErrorAfter: Double
    /// Calibration rows used: all of them up to 512, else 512 evenly spread ones.
    public let rowsUsed: Int
}

extension QuantizedWeight {
    /// AWQ-style quantization of `weight` [rows, columns] = [out_features, in_features] (row-major) on
    /// calibration `activations` [m, columns] (the layer's inputs): per-input-channel scales s and per-block
    /// clipping chosen to minimize the output error on them. The result's codes quantize w * s and its
    /// `inputScales` is s (a `BlockQuantizedLinear` divides its input by s; `dequantize()` gives deq / s).
    public static func awq(weight: [Float], rows n: Int, columns k: Int, bits: Int = 4, blockSize: Int = 32,
                           symmetric: Bool = true, activations x: [Float]) throws(SwiftQuantError) -> (weight: QuantizedWeight, report: AWQReport) {
        guard n >= 1, k >= 1, weight.count == exactProduct(n, k) else {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue, message: "weight: \(weight.count) value(s) for [rows \(n), columns \(k)]")
        }
        guard x.count % k == 0 else {
            throw SwiftQuantError(status: SQError.Kind.shape.rawValue, message: "activations: \(x.count) value(s) is not a multiple of columns = \(k)")
        }
        let kb = Checked.ceilDiv(k, blockSize)
        var codes = [UInt8](repeating: 0, count: n * k), scales = [Float](repeating: 0, count: n * kb)
        var zps = [UInt8](repeating: 0, count: n * kb), s = [Float](repeating: 0, count: k)
        var r = sq_awq_report()
        try check(sqWeightQuantizeAWQ(weight, Int64(n), Int64(k), Int32(truncatingIfNeeded: bits), Int64(blockSize), symmetric ? 1 : 0,
                                      x, Int64(x.count / k), &codes, &scales, &zps, &s, &r))
        let report = AWQReport(ratio: r.ratio, errorBefore: r.error_before, errorAfter: r.error_after,
                               relativeErrorBefore: r.relative_error_before, relativeErrorAfter: r.relative_error_after,
                               rowsUsed: Int(r.rows_used))
        return (QuantizedWeight(n: n, k: k, bits: bits, blockSize: blockSize, codes: codes, scales: scales, zeroPoints: zps,
                                inputScales: s), report)
    }
}

/// SmoothQuant's migration strength: a fixed alpha in [0, 1], or the grid search on calibration activations.
public enum SmoothQuantAlpha: Equatable, Sendable, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
    case fixed(Double)
    /// alpha in {0, 0.05, ..., 1} minimizing the int8 x int8 output error on the activations.
    case auto

    public init(floatLiteral value: Double) { self = .fixed(value) }
    public init(integerLiteral value: Int) { self = .fixed(Double(value)) }
}

/// SmoothQuant scales s [k] and what chose them.
public struct SmoothQuantScales: Equatable, Sendable {
    public let scales: [Float]
    public let alpha: Double
    /// Mean squared output error of the int8 simulation at alpha and with s = 1; nil without activations.
    public let error: Double?
    public let errorUnsmoothed: Double?
}

/// SmoothQuant's per-input-channel scales for `weight` [rows, columns] (row-major):
/// s[j] = max(actAbsmax[j]^alpha / max(max|w[., j]|, 1e-5)^(1 - alpha), 1e-5). Use them as x / s (folded into
/// the previous operation) and w * s. actAbsmax nil: max |x| per column of `activations` [m, columns], which
/// `.auto` needs and which, when given, also yields the errors for a fixed alpha.
public func smoothQuantScales(actAbsmax: [Float]? = nil, weight: [Float], rows n: Int, columns k: Int,
                              alpha: SmoothQuantAlpha = 0.5, activations x: [Float]? = nil) throws(SwiftQuantError) -> SmoothQuantScales {
    guard n >= 1, k >= 1, weight.count == exactProduct(n, k) else {
        throw SwiftQuantError(status: SQError.Kind.shape.rawValue, message: "weight: \(weight.count) value(s) for [rows \(n), columns \(k)]")
    }
    if let actAbsmax, actAbsmax.count != k {
        throw SwiftQuantError(status: SQError.Kind.shape.rawValue, message: "actAbsmax: \(actAbsmax.count) value(s), want columns = \(k)")
    }
    if let x, x.isEmpty || x.count % k != 0 {
        throw SwiftQuantError(status: SQError.Kind.shape.rawValue,
                              message: "activations: \(x.count) value(s) is not a positive multiple of columns = \(k)")
    }
    let a: Double
    switch alpha {
    case .auto: a = -1  // SQ_SMOOTH_ALPHA_AUTO
    case .fixed(let v):
        guard v >= 0 && v <= 1 else {  // -1 would mean auto to the C call
            throw SwiftQuantError(status: SQError.Kind.invalidArgument.rawValue, message: "alpha \(v) is outside [0, 1]")
        }
        a = v
    }
    var s = [Float](repeating: 0, count: k)
    var r = sq_smooth_report()
    let rows = Int64((x?.count ?? 0) / k)
    try check(withOptionalArray(actAbsmax) { ap in
        withOptionalArray(x) { xp in sqSmoothQuantScales(ap, weight, Int64(n), Int64(k), a, xp, rows, &s, &r) }
    })
    return SmoothQuantScales(scales: s, alpha: r.alpha, error: r.error.isNaN ? nil : r.error,
                             errorUnsmoothed: r.error_unsmoothed.isNaN ? nil : r.error_unsmoothed)
}
