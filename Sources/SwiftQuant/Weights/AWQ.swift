// AWQ-style activation-aware quantization (swiftquant.h, "Activation-aware weights"): per
// input channel scales s chosen on calibration activations x, codes of the RTN rule on w · s, per-block
// clipping chosen on the same rows; the layer divides its input by s. The spec's steps, in order:
//
//   rows:   t = min(rows, 512) calibration rows (x[i * rows / 512] when rows > 512), for both searches;
//           mean_abs[j] = mean over the t rows of |x[:, j]| (float64 sum, float32 result).
//   scales: for r = i / 20, i < 20:  s = max(float32(mean_abs^r), 1e-4);  s /= float32(sqrt(max s · min s));
//           Wq = deq(RTN(w · s)) / s;  err(r) = mean over (t, N) of (x · (Wq - w)ᵀ)².  r* = first argmin
//           (r = 0 gives s = 1: plain RTN, so the chosen scales never do worse than RTN on x).
//   clip:   ws = w · s*, xs = x / s*; per (row, block) and shrink i < 10: m = amax|ws| · (1 - i / 20),
//           qw = deq(RTN(clamp(ws, -m, m))) on that block alone, err_i = Σ_t (xs[t, block] · (qw - ws))²;
//           i* = first argmin; the codes are RTN(clamp(ws, ±m_i*)).
// Errors that are not finite (a float32 overflow of w · s or of a product) count as +inf: such a
// candidate never wins.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The report type is AWQReport (SwiftAPI/AWQSwiftAPI.swift), public as the Swift API returns it.

enum AWQ {
    static let maxRows = 512
    static let ratioSteps = 20
    static let clipSteps = 10

    /// Quantizes w [n, k] with the scales and clipping chosen on x [rows, k] (both row-major).
    static func quantize(_ w: UnsafePointer<Float>, n: Int, k: Int, bits: Int, blockSize: Int, symmetric: Bool,
                         x: UnsafePointer<Float>, rows: Int) throws(SQError) -> (weight: BlockWeight, inputScales: [Float], report: AWQReport) {
        let kb = try BlockWeight.checkLayout(n: n, k: k, bits: bits, blockSize: blockSize)
        guard n >= 1 && k >= 1 else { throw SQError(.shape, "w: shape [\(n), \(k)]; AWQ needs n, k >= 1") }
        guard rows >= 1 else { throw SQError(.shape, "activations x: no rows (AWQ needs at least one calibration row)") }
        let xCount = try Checked.mul(rows, k, "activations x: rows x K")
        guard xCount <= maxExtent else { throw SQError(.shape, "activations x: [\(rows), \(k)] has more than 2^60 elements") }
        try checkFinite(w, rows: n, cols: k, argument: "w")
        try checkFinite(x, rows: rows, cols: k, argument: "activations x")

        let used = calibrationRows(rows, limit: maxRows), t = used.count
        let nk = n * k
        // Scratch: xᵀ and (x / s*)ᵀ [k, t], a row-major [n, k] work matrix, its transpose, codes.
        let xT = UnsafeMutablePointer<Float>.allocate(capacity: k * t)
        let xsT = UnsafeMutablePointer<Float>.allocate(capacity: k * t)
        let work = UnsafeMutablePointer<Float>.allocate(capacity: nk)
        let ws = UnsafeMutablePointer<Float>.allocate(capacity: nk)
        let dT = UnsafeMutablePointer<Float>.allocate(capacity: nk)
        let codes = UnsafeMutablePointer<UInt8>.allocate(capacity: nk)
        defer { xT.deallocate(); xsT.deallocate(); work.deallocate(); ws.deallocate(); dT.deallocate(); codes.deallocate() }

        parallelRows(k, work: t) { j in
            for (i, r) in used.enumerated() { xT[j * t + i] = x[r * k + j] }
        }
        var meanAbs = [Float](repeating: 0, count: k)
        for j in 0..<k {
            var sum = 0.0
            for i in 0..<t { sum += Double(abs(xT[j * t + i])) }
            meanAbs[j] = Float(sum / Double(t))
        }

        // mean((x wᵀ)²), the denominator of the relative errors.
        transpose(w, rows: n, cols: k, into: dT)
        let signal = meanSquaredProduct(xT: xT, t: t, dT: dT, n: n, k: k)

        /// err of the effective weight deq(q) / s: work = deq / s - w, then the product.
        func outputError(_ q: BlockWeight, _ s: [Float]) -> Double {
            q.dequantize(into: work)
            parallelRows(n, work: k) { o in
                for j in 0..<k { work[o * k + j] = work[o * k + j] / s[j] - w[o * k + j] }
            }
            transpose(work, rows: n, cols: k, into: dT)
            return meanSquaredProduct(xT: xT, t: t, dT: dT, n: n, k: k)
        }

        // 1. The scale search.
        var errors = [Double](repeating: .infinity, count: ratioSteps)
        var candidates: [[Float]] = []
        for step in 0..<ratioSteps {
            let s = ratioScales(meanAbs, ratio: Double(step) / Double(ratioSteps))
            candidates.append(s)
            scaleColumns(w, by: s, n: n, k: k, into: ws)
            // w · s past Float.max: not a candidate (r = 0 is s = 1 and always is one).
            guard !UnsafeBufferPointer(start: ws, count: nk).contains(where: { !$0.isFinite }) else { continue }
            let q = try BlockWeight.quantize(ws, n: n, k: k, bits: bits, blockSize: blockSize, symmetric: symmetric)
            errors[step] = outputError(q, s)
        }
        guard let best = firstArgmin(errors) else {
            throw SQError(.outOfRange, "the calibration output error x · (Wq - w)ᵀ overflows float32 for every ratio; scale the weight or the activations down")
        }
        let s = candidates[best]

        // 2. The clip search on ws = w · s*, xs = x / s*.
        scaleColumns(w, by: s, n: n, k: k, into: ws)
        parallelRows(k, work: t) { j in
            for i in 0..<t { xsT[j * t + i] = xT[j * t + i] / s[j] }
        }
        let blocks = n * kb
        var bestError = [Double](repeating: .infinity, count: blocks)
        var bestShrink = [Int](repeating: 0, count: blocks)
        let sums = UnsafeMutablePointer<Double>.allocate(capacity: n)
        defer { sums.deallocate() }
        for shrink in 0..<clipSteps {
            // work = deq(RTN(clamp(ws))) - ws, every block clipped at this shrink.
            parallelRows(n, work: k) { o in
                for b in 0..<kb {
                    clippedBlock(ws, work, codes, row: o, block: b, k: k, blockSize: blockSize, bits: bits, symmetric: symmetric,
                                 shrink: shrink, difference: true)
                }
            }
            transpose(work, rows: n, cols: k, into: dT)
            for b in 0..<kb {
                let k0 = b * blockSize, len = Swift.min(blockSize, k - k0)
                productColumnSumsOfSquares(xT: xsT + k0 * t, ldx: t, t: t, dT: dT + k0 * n, ldd: n, n: n, k: len, into: sums)
                for o in 0..<n where sums[o].isFinite && sums[o] < bestError[o * kb + b] {
                    bestError[o * kb + b] = sums[o]
                    bestShrink[o * kb + b] = shrink
                }
            }
        }

        // 3. The final codes: each block at its chosen shrink.
        let chosen = bestShrink
        var scales = [Float](repeating: 0, count: blocks)
        var zeroPoints = [UInt8](repeating: 0, count: blocks)
        scales.withUnsafeMutableBufferPointer { sp in
            zeroPoints.withUnsafeMutableBufferPointer { zp in
                let sp = sp.baseAddress!, zp = zp.baseAddress!
                parallelRows(n, work: k) { o in
                    for b in 0..<kb {
                        (sp[o * kb + b], zp[o * kb + b]) =
                            clippedBlock(ws, work, codes, row: o, block: b, k: k, blockSize: blockSize, bits: bits,
                                         symmetric: symmetric, shrink: chosen[o * kb + b], difference: false)
                    }
                }
            }
        }
        let weight = BlockWeight(n: n, k: k, bits: bits, blockSize: blockSize, kBlocks: kb,
                                 codes: Array(UnsafeBufferPointer(start: codes, count: nk)), scales: scales, zeroPoints: zeroPoints)
        let after = outputError(weight, s)
        let report = AWQReport(ratio: Double(best) / Double(ratioSteps), errorBefore: errors[0], errorAfter: after,
                               relativeErrorBefore: relativeError(errors[0], signal: signal),
                               relativeErrorAfter: relativeError(after, signal: signal), rowsUsed: t)
        return (weight, s, report)
    }

    /// s = max(float32(mean_abs^r), 1e-4), divided by float32(sqrt(max s · min s)) (pow and sqrt in float64).
    static func ratioScales(_ meanAbs: [Float], ratio: Double) -> [Float] {
        var s = meanAbs.map { Swift.max(Float(pow(Double($0), ratio)), Float(1e-4)) }
        let d = Float((Double(s.max()!) * Double(s.min()!)).squareRoot())
        for j in s.indices { s[j] = s[j] / d }
        return s
    }

    /// out[o, j] = w[o, j] · s[j] (float32).
    private static func scaleColumns(_ w: UnsafePointer<Float>, by s: [Float], n: Int, k: Int, into out: UnsafeMutablePointer<Float>) {
        parallelRows(n, work: k) { o in
            for j in 0..<k { out[o * k + j] = w[o * k + j] * s[j] }
        }
    }

    /// Block b of row o of ws clipped at ±amax · (1 - shrink / 20) and quantized by the RTN rule: codes into
    /// `codes`; `work` receives deq - ws when `difference`, else the clipped values. Returns the block's
    /// scale and zero point.
    @inline(__always) @discardableResult
    private static func clippedBlock(_ ws: UnsafePointer<Float>, _ work: UnsafeMutablePointer<Float>, _ codes: UnsafeMutablePointer<UInt8>,
                                     row o: Int, block b: Int, k: Int, blockSize: Int, bits: Int, symmetric: Bool,
                                     shrink: Int, difference: Bool) -> (Float, UInt8) {
        let k0 = o * k + b * blockSize, len = Swift.min(blockSize, k - b * blockSize)
        var amax: Float = 0
        for i in 0..<len { amax = Swift.max(amax, abs(ws[k0 + i])) }
        let m = amax * Float(1 - Double(shrink) / 20)
        for i in 0..<len { work[k0 + i] = Swift.min(Swift.max(ws[k0 + i], -m), m) }
        let (scale, zp) = BlockWeight.quantizeBlock(work + k0, count: len, bits: bits, symmetric: symmetric, codes: codes + k0)
        if difference {
            for i in 0..<len { work[k0 + i] = BlockWeight.value(code: codes[k0 + i], zeroPoint: zp, scale: scale) - ws[k0 + i] }
        }
        return (scale, zp)
    }
}
