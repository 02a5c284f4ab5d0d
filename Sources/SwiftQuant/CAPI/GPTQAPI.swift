// C export of GPTQ (swiftquant.h, "GPTQ"): checks the pointers, runs Weights/GPTQ.swift, copies the result.

import _SwiftQuantShims

@_cdecl("sq_weight_quantize_gptq")
public func sqWeightQuantizeGPTQ(_ w: UnsafePointer<Float>?, _ n: Int64, _ k: Int64, _ bits: Int32, _ blockSize: Int64, _ symmetric: Int32,
                                 _ hessian: UnsafePointer<Double>?, _ actOrder: Int32, _ damp: Double,
                                 _ inputScales: UnsafePointer<Float>?, _ codes: UnsafeMutablePointer<UInt8>?,
                                 _ scales: UnsafeMutablePointer<Float>?, _ zeroPoints: UnsafeMutablePointer<UInt8>?,
                                 _ report: UnsafeMutablePointer<sq_gptq_report>?) -> Int32 {
    capi { () throws(SQError) in
        guard n >= 0 && k >= 0 else { throw SQError(.shape, "n \(n) and k \(k) must be >= 0") }
        guard blockSize >= 0 && blockSize <= Int64(Int32.max) else {
            throw SQError(.invalidArgument, "block_size \(blockSize) is not a power of two in [16, \(maxWeightBlockSize)]")
        }
        let (n, k) = (Int(n), Int(k))
        let kb = try BlockWeight.checkLayout(n: n, k: k, bits: Int(bits), blockSize: Int(blockSize))
        let sym = try flag(symmetric, argument: "symmetric")
        let order = try flag(actOrder, argument: "act_order")
        let wp = try requireData(w, count: n * k, argument: "w")
        let hp = try requireData(hessian, count: try Checked.mul(k, k, "hessian"), argument: "hessian")
        let c = try requireData(codes, count: n * k, argument: "codes")
        let s = try requireData(scales, count: n * kb, argument: "scales")
        let z = try requireData(zeroPoints, count: n * kb, argument: "zero_points")
        let (q, r) = try GPTQ.quantize(wp, n: n, k: k, hessian: hp, bits: Int(bits), blockSize: Int(blockSize), symmetric: sym,
                                       actOrder: order, damp: damp, inputScales: inputScales, measureErrors: report != nil)
        c.update(from: q.codes, count: n * k)
        s.update(from: q.scales, count: n * kb)
        z.update(from: q.zeroPoints, count: n * kb)
        report?.pointee = sq_gptq_report(damp: r.damp, dead_inputs: Int64(r.deadInputs),
                                         relative_error_before: r.relativeErrorBefore, relative_error_after: r.relativeErrorAfter,
                                         rows_measured: Int64(r.rowsMeasured))
    }
}
