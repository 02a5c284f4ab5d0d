// SmoothQuant scales (swiftquant.h, "Activation-aware weights"): per input channel s moves activation outliers
// into the weight, x' = x / s, w' = w · s (x' w'ᵀ = x wᵀ), so both quantize well to int8.
//
//   wmax[j] = max(max_n |w[n, j]|, 1e-5);  s_j = max(float32(act_absmax_j^α / wmax_j^(1-α)), 1e-5)
//   (pow and the quotient in float64).
// alpha auto, on calibration rows x: α = i / 20 for i = 0 ... 20; for each, the W8A8 simulation
//   x' int8 per tensor, symmetric narrow range: sx = max|x'| / 127, q = clamp(rint(x' / sx), -127, 127);
//   w' int8 per output row, the same rule (sw[n] = max|w'[n]| / 127);
//   a scale that would be zero or subnormal is 1 (README "Semantics": never a zero scale);
//   y = deq(x') · deq(w')ᵀ (float32 products),  err(α) = mean over (rows, N) of (y - x wᵀ)² (float64);
//   α* = first argmin. error_unsmoothed is err at s = 1. A non-finite error (x / s or w · s overflowing
//   float32) counts as +inf and never wins.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The result type is SmoothQuantScales (SwiftAPI/AWQSwiftAPI.swift), public as the Swift API returns it.

enum SmoothQuant {
    static let alphaSteps = 20

    /// The scales for w [n, k] from act_absmax [k] (nil: max |x| per column) and, when x [rows, k] is given,
    /// the simulation errors; alpha nil is the grid search (needs x).
    static func scales(actAbsmax: UnsafePointer<Float>?, w: UnsafePointer<Float>, n: Int, k: Int, alpha: Double?,
                       x: UnsafePointer<Float>?, rows: Int) throws(SQError) -> SmoothQuantScales {
        guard n >= 1 && k >= 1 else { throw SQError(.shape, "w: shape [\(n), \(k)]; SmoothQuant needs n, k >= 1") }
        let nk = try Checked.mul(n, k, "w: N x K")
        guard nk <= maxExtent else { throw SQError(.shape, "w: [\(n), \(k)] has more than 2^60 elements") }
        if let alpha, !(alpha >= 0 && alpha <= 1) {
            throw SQError(.invalidArgument, "alpha \(alpha) is outside [0, 1] (auto is SQ_SMOOTH_ALPHA_AUTO)")
        }
        if x != nil {
            guard rows >= 1 else { throw SQError(.shape, "x: no rows (calibration activations need at least one row)") }
            let count = try Checked.mul(rows, k, "x: rows x K")
            guard count <= maxExtent else { throw SQError(.shape, "x: [\(rows), \(k)] has more than 2^60 elements") }
        } else if alpha == nil {
            throw SQError(.nullPointer, "x is NULL: alpha auto needs calibration activations x")
        }
        guard actAbsmax != nil || x != nil else {
            throw SQError(.nullPointer, "act_absmax is NULL and there is no x to compute it from")
        }
        try checkFinite(w, rows: n, cols: k, argument: "w")
        if let x { try checkFinite(x, rows: rows, cols: k, argument: "x") }

        var act = [Float](repeating: 0, count: k)
        if let actAbsmax {
            for j in 0..<k {
                guard actAbsmax[j].isFinite && actAbsmax[j] >= 0 else {
                    throw SQError(.outOfRange, "act_absmax: element \(j) is \(actAbsmax[j]); it must be finite and >= 0")
                }
                act[j] = actAbsmax[j]
            }
        } else if let x {
            for r in 0..<rows {
                for j in 0..<k { act[j] = Swift.max(act[j], abs(x[r * k + j])) }
            }
        }
        var wmax = [Float](repeating: 0, count: k)
        for o in 0..<n {
            for j in 0..<k { wmax[j] = Swift.max(wmax[j], abs(w[o * k + j])) }
        }
        for j in 0..<k { wmax[j] = Swift.max(wmax[j], Float(1e-5)) }
        func formula(_ a: Double) -> [Float] {
            (0..<k).map { j in Swift.max(Float(pow(Double(act[j]), a) / pow(Double(wmax[j]), 1 - a)), Float(1e-5)) }
        }

        guard let x else {
            return SmoothQuantScales(scales: formula(alpha!), alpha: alpha!, error: nil, errorUnsmoothed: nil)
        }
        let sim = Simulation(w: w, n: n, k: k, x: x, rows: rows)
        let unsmoothed = sim.error(nil)
        if let alpha {
            let s = formula(alpha)
            return SmoothQuantScales(scales: s, alpha: alpha, error: sim.error(s), errorUnsmoothed: unsmoothed)
        }
        var candidates: [[Float]] = [], errors: [Double] = []
        for i in 0...alphaSteps {
            candidates.append(formula(Double(i) / Double(alphaSteps)))
            errors.append(sim.error(candidates[i]))
        }
        guard let best = firstArgmin(errors) else {
            throw SQError(.outOfRange, "x / s or w · s overflows float32 for every alpha of the grid; scale x or w down")
        }
        return SmoothQuantScales(scales: candidates[best], alpha: Double(best) / Double(alphaSteps), error: errors[best],
                                 errorUnsmoothed: unsmoothed)
    }
}

/// The W8A8 simulation of SmoothQuant's search, with its scratch; x wᵀ is kept when it is small.
private final class Simulation {
    let w: UnsafePointer<Float>, x: UnsafePointer<Float>
    let n: Int, k: Int, rows: Int
    /// xᵀ [k, rows], wᵀ [k, n]; xq / wq (row-major) and their transposes.
    let xT: UnsafeMutablePointer<Float>, wT: UnsafeMutablePointer<Float>
    let xq: UnsafeMutablePointer<Float>, xqT: UnsafeMutablePointer<Float>
    let wq: UnsafeMutablePointer<Float>, wqT: UnsafeMutablePointer<Float>
    /// x wᵀ [rows, n] when rows · n <= 2^24, else recomputed tile by tile into `refTile`.
    let reference: UnsafeMutablePointer<Float>?
    let refTile: UnsafeMutablePointer<Float>?

    init(w: UnsafePointer<Float>, n: Int, k: Int, x: UnsafePointer<Float>, rows: Int) {
        self.w = w; self.x = x; self.n = n; self.k = k; self.rows = rows
        xT = .allocate(capacity: rows * k); xq = .allocate(capacity: rows * k); xqT = .allocate(capacity: rows * k)
        wT = .allocate(capacity: n * k); wq = .allocate(capacity: n * k); wqT = .allocate(capacity: n * k)
        transpose(x, rows: rows, cols: k, into: xT)
        transpose(w, rows: n, cols: k, into: wT)
        let product = rows.multipliedReportingOverflow(by: n)
        if !product.overflow && product.partialValue <= 1 << 24 {
            let ref = UnsafeMutablePointer<Float>.allocate(capacity: rows * n)
            forEachProductTile(xT: xT, ldx: rows, t: rows, dT: wT, ldd: n, n: n, k: k) { r0, mr, o0, nc, e in
                for i in 0..<mr { (ref + (r0 + i) * n + o0).update(from: e + i * nc, count: nc) }
            }
            reference = ref
            refTile = nil
        } else {
            reference = nil
            refTile = .allocate(capacity: productTileElements)
        }
    }

    deinit {
        for p in [xT, xq, xqT, wT, wq, wqT] { p.deallocate() }
        reference?.deallocate()
        refTile?.deallocate()
    }

    /// err for scales s (nil: s = 1), +inf when x / s or w · s overflows.
    func error(_ s: [Float]?) -> Double {
        let (x, w, k, n, rows) = (self.x, self.w, self.k, self.n, self.rows)
        let (xq, wq) = (self.xq, self.wq)
        parallelRows(rows, work: k) { r in
            for j in 0..<k { xq[r * k + j] = s.map { x[r * k + j] / $0[j] } ?? x[r * k + j] }
        }
        // One scale per tensor for x', one per row for w'.
        var amax: Float = 0
        for i in 0..<(rows * k) { amax = Swift.max(amax, abs(xq[i])) }
        guard amax.isFinite else { return .infinity }
        fakeQuantizeRows(xq, rows: rows, cols: k, perRow: false, tensorAmax: amax)
        parallelRows(n, work: k) { o in
            for j in 0..<k { wq[o * k + j] = s.map { w[o * k + j] * $0[j] } ?? w[o * k + j] }
        }
        guard !UnsafeBufferPointer(start: wq, count: n * k).contains(where: { !$0.isFinite }) else { return .infinity }
        fakeQuantizeRows(wq, rows: n, cols: k, perRow: true, tensorAmax: 0)
        transpose(xq, rows: rows, cols: k, into: xqT)
        transpose(wq, rows: n, cols: k, into: wqT)
        var total = 0.0
        forEachProductTile(xT: xqT, ldx: rows, t: rows, dT: wqT, ldd: n, n: n, k: k) { r0, mr, o0, nc, e in
            let ref: UnsafePointer<Float>, ld: Int
            if let reference {
                (ref, ld) = (UnsafePointer(reference + r0 * n + o0), n)
            } else {
                let tile = refTile!
                tile.initialize(repeating: 0, count: mr * nc)
                gemmAtB(m: mr, n: nc, k: k, alpha: 1, a: xT + r0, lda: rows, b: wT + o0, ldb: n, c: tile, ldc: nc)
                (ref, ld) = (UnsafePointer(tile), nc)
            }
            for i in 0..<mr {
                for o in 0..<nc {
                    let d = Double(e[i * nc + o]) - Double(ref[i * ld + o])
                    total += d * d
                }
            }
        }
        let mean = total / (Double(rows) * Double(n))
        return mean.isFinite ? mean : .infinity
    }
}

/// v = deq(q(v)) in place, int8 symmetric narrow range (scale = amax / 127; zero or subnormal -> 1): one
/// scale over the whole tensor (its amax given) or one per row.
private func fakeQuantizeRows(_ v: UnsafeMutablePointer<Float>, rows: Int, cols: Int, perRow: Bool, tensorAmax: Float) {
    parallelRows(rows, work: cols) { r in
        let row = v + r * cols
        var amax = tensorAmax
        if perRow {
            amax = 0
            for j in 0..<cols { amax = Swift.max(amax, abs(row[j])) }
        }
        var scale = amax / 127
        if !scale.isNormal { scale = 1 }
        // Finite input: no NaN to report.
        _ = fakeQuantizeSegmentReference(row, row, cols, scale: &scale, zeroPoint: nil, paramStride: 0, qmin: -127, qmax: 127,
                                         rounding: .nearestEven, seed: 0, index0: 0)
    }
}
