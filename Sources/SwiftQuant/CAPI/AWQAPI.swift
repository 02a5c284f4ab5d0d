// C exports of the activation-aware methods (swiftquant.h, "Activation-aware weights"): AWQ-style block
// quantization and SmoothQuant scales.

import _SwiftQuantShims

/// The alpha that asks for the grid search (SQ_SMOOTH_ALPHA_AUTO).
private let smoothAlphaAuto = -1.0

@_cdecl("sq_weight_quantize_awq")
public func sqWeightQuantizeAWQ(_ w: UnsafePointer<Float>?, _ n: Int64, _ k: Int64, _ bits: Int32, _ blockSize: Int64,
                                _ symmetric: Int32, _ x: UnsafePointer<Float>?, _ rows: Int64,
                                _ codes: UnsafeMutablePointer<UInt8>?, _ scales: UnsafeMutablePointer<Float>?,
                                _ zeroPoints: UnsafeMutablePointer<UInt8>?, _ inputScales: UnsafeMutablePointer<Float>?,
                                _ report: UnsafeMutablePointer<sq_awq_report>?) -> Int32 {
    capi { () throws(SQError) in
        let (n, k, kb) = try blockLayout(n, k, bits, blockSize)
        let sym = try flag(symmetric, argument: "symmetric")
        guard rows >= 0 else { throw SQError(.shape, "rows \(rows) must be >= 1") }
        let xCount = try Checked.mul(Int(rows), k, "x: rows x k")
        let wp = try requireData(w, count: n * k, argument: "w")
        let xp = try requireData(x, count: xCount, argument: "x")
        let c = try requireData(codes, count: n * k, argument: "codes")
        let s = try requireData(scales, count: n * kb, argument: "scales")
        let z = try requireData(zeroPoints, count: n * kb, argument: "zero_points")
        let si = try requireData(inputScales, count: k, argument: "input_scales")
        let (q, inScales, r) = try AWQ.quantize(wp, n: n, k: k, bits: Int(bits), blockSize: Int(blockSize), symmetric: sym,
                                                x: xp, rows: Int(rows))
        c.update(from: q.codes, count: n * k)
        s.update(from: q.scales, count: n * kb)
        z.update(from: q.zeroPoints, count: n * kb)
        si.update(from: inScales, count: k)
        report?.pointee = sq_awq_report(ratio: r.ratio, error_before: r.errorBefore, error_after: r.errorAfter,
                                        relative_error_before: r.relativeErrorBefore,
                                        relative_error_after: r.relativeErrorAfter, rows_used: Int64(r.rowsUsed))
    }
}

@_cdecl("sq_smooth_quant_scales")
public func sqSmoothQuantScales(_ actAbsmax: UnsafePointer<Float>?, _ w: UnsafePointer<Float>?, _ n: Int64, _ k: Int64,
                                _ alpha: Double, _ x: UnsafePointer<Float>?, _ rows: Int64,
                                _ scales: UnsafeMutablePointer<Float>?, _ report: UnsafeMutablePointer<sq_smooth_report>?) -> Int32 {
    capi { () throws(SQError) in
        guard n >= 1 && k >= 1 else { throw SQError(.shape, "w: shape [\(n), \(k)]; SmoothQuant needs n, k >= 1") }
        guard rows >= 0 else { throw SQError(.shape, "rows \(rows) must be >= 0 (0 with x NULL: no activations)") }
        let nk = try Checked.mul(Int(n), Int(k), "w: n x k")
        let xCount = try Checked.mul(Int(rows), Int(k), "x: rows x k")
        guard alpha == smoothAlphaAuto || (alpha >= 0 && alpha <= 1) else {
            throw SQError(.invalidArgument, "alpha \(alpha) is neither in [0, 1] nor SQ_SMOOTH_ALPHA_AUTO (-1)")
        }
        // x NULL with rows 0: no activations; a non-NULL x with rows 0 is empty activations (an error below).
        let xp: UnsafePointer<Float>? = x == nil && rows == 0 ? nil : try requireData(x, count: xCount, argument: "x")
        let result = try SmoothQuant.scales(actAbsmax: actAbsmax, w: try requireData(w, count: nk, argument: "w"),
                                            n: Int(n), k: Int(k), alpha: alpha == smoothAlphaAuto ? nil : alpha,
                                            x: xp, rows: Int(rows))
        try requireData(scales, count: Int(k), argument: "scales").update(from: result.scales, count: Int(k))
        report?.pointee = sq_smooth_report(alpha: result.alpha, error: result.error ?? .nan,
                                           error_unsmoothed: result.errorUnsmoothed ?? .nan)
    }
}
