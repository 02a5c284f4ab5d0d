// Entropy calibration: the fast TensorRT search (tensorRTEntropyCurve, prefix sums and pair costs) against a
// straightforward O(i)-per-candidate transcription of NVIDIA pytorch-quantization's _compute_amax_entropy,
// on seeded random histograms (dense, sparse, zero runs, spikes, a lone tail) for every dtype's level count
// and bin counts around levels and 2 levels; and the two entropy methods through the observer.
import XCTest
@testable import SwiftQuant

final class EntropyTests: XCTestCase {
    /// Seeded generator (GemmPathTests' SplitMix64), so every run sees the same histograms.
    typealias Rng = SplitMix64

    /// KL(p || q) of TensorRT's search for each candidate i in 128...n, written as NVIDIA's loop: chunks by
    /// floor(k levels / i), zero bins left out, q spread over each chunk's non-zero bins, p and q normalized,
    /// sum of p log(p / q) over p > 0 (+inf where q = 0 < p, or q all zero). O(i) per candidate.
    func directCurve(_ hist: [Double], levels nq: Int, only: [Int]? = nil) -> [Int: Double] {
        var bins = hist
        bins[0] = bins[1]
        let n = bins.count
        var out: [Int: Double] = [:]
        var sum = [Double](repeating: 0, count: nq), cnt = sum
        for i in only ?? Array(128...n) {
            for j in 0..<nq { sum[j] = 0; cnt[j] = 0 }
            for k in 0..<i where bins[k] > 0 {
                let j = k * nq / i
                sum[j] += bins[k]
                cnt[j] += 1
            }
            var p = Array(bins[0..<i])
            p[i - 1] += bins[i...].reduce(0, +)
            var q = [Double](repeating: 0, count: i)
            for k in 0..<i where bins[k] > 0 { q[k] = sum[k * nq / i] / cnt[k * nq / i] }
            let pt = p.reduce(0, +), qt = q.reduce(0, +)
            var kl = 0.0
            if qt == 0 { kl = .infinity }
            for k in 0..<i where p[k] > 0 && kl.isFinite {
                if q[k] == 0 { kl = .infinity; break }
                let pn = p[k] / pt, qn = q[k] / qt
                kl += pn * log(pn / qn)
            }
            out[i] = kl
        }
        return out
    }

    /// Count histograms of n bins in several shapes.
    func histogram(_ kind: Int, n: Int, rng: inout Rng) -> [Double] {
        var h = [Double](repeating: 0, count: n)
        let scale = 1 + rng.uniform() * 3000
        for b in 0..<n {
            let x = (Double(b) + 0.5) / Double(n)
            var mean: Double
            switch kind % 4 {
            case 0: mean = scale * exp(-x * x * 8)       // Gaussian |x|
            case 1: mean = scale * exp(-x * 9)           // Laplace |x|
            case 2: mean = scale * exp(-x * x * 20) + (b == 0 ? scale * 50 : 0)  // ReLU: a spike at 0
            default: mean = scale * rng.uniform()        // noise
            }
            // Rounded with noise: whole counts, as the observer's histograms are.
            h[b] = Swift.max(0, (mean * (0.5 + rng.uniform())).rounded(.down))
        }
        switch kind / 4 {
        case 1:  // sparse: most bins empty
            let keep = 0.02 + rng.uniform() * 0.3
            for b in 0..<n where rng.uniform() > keep { h[b] = 0 }
        case 2:  // runs of empty bins, and a few huge spikes
            for _ in 0..<6 {
                let a = rng.int(n), len = 1 + rng.int(Swift.max(1, n / 8))
                for b in a..<Swift.min(n, a + len) { h[b] = 0 }
            }
            for _ in 0..<3 { h[rng.int(n)] += 1e6 * rng.uniform() }
        case 3:  // everything in a few low bins, then one far outlier (a lone tail after empty bins)
            for b in 0..<n { h[b] = b < 40 ? h[b] : 0 }
            h[n - 1 - rng.int(n / 4)] = 1 + Double(rng.int(3))
        case 4:  // tiny counts, 0 / 1 / 2, many exact ties of pairs
            for b in 0..<n { h[b] = Double(rng.int(3)) }
        default: break
        }
        if h.allSatisfy({ $0 == 0 }) { h[rng.int(n)] = 1 }
        return h
    }

    /// The fast curve (divided by the total) agrees with the direct one at each given candidate, and (with
    /// every candidate given) picks the same threshold, or one whose KL is equal within rounding.
    func check(_ h: [Double], levels nq: Int, only: [Int]? = nil, fastCurve: [Double]? = nil, _ ctx: String,
               file: StaticString = #filePath, line: UInt = #line) -> Bool {
        var bins = h
        bins[0] = bins[1]
        let total = bins.reduce(0, +)
        let fast = (fastCurve ?? tensorRTEntropyCurve(h, levels: nq)).map { $0 / total }
        let direct = directCurve(h, levels: nq, only: only)
        XCTAssertEqual(fast.count, h.count - 127, ctx, file: file, line: line)
        // Rounding: the direct sum has errors of about 1e-16 per term of p log(p/q); 1e-12 relative plus an
        // absolute floor of 1e-13 on KL is far above that and far below any real difference.
        func close(_ a: Double, _ b: Double) -> Bool {
            a == b || Swift.abs(a - b) <= 1e-12 * Swift.max(Swift.abs(a), Swift.abs(b)) + 1e-13
        }
        for (i, kd) in direct {
            let kf = fast[i - 128]
            guard kf.isInfinite == kd.isInfinite && (kd.isInfinite || close(kf, kd)) else {
                XCTFail("\(ctx): candidate \(i): fast KL \(kf), direct \(kd)", file: file, line: line)
                return false
            }
        }
        var fi = 128, bf = Double.infinity
        for (k, v) in fast.enumerated() where v <= bf { bf = v; fi = k + 128 }
        if only == nil {
            var di = 128, bd = Double.infinity
            for i in 128...h.count where direct[i]! <= bd { bd = direct[i]!; di = i }
            if fi != di {
                tiesResolvedByRounding += 1
                print("DIFF \(ctx): fast \(fi) direct \(di) dKL@fast \(direct[fi]!) dKL@direct \(bd) fKL@fast \(bf) fKL@direct \(fast[di - 128])")
                XCTAssertTrue(close(direct[fi]!, bd) && close(fast[di - 128], bf),
                              "\(ctx): fast picks \(fi) (KL \(direct[fi]!)), direct \(di) (KL \(bd))", file: file, line: line)
            }
            XCTAssertEqual(entropyThresholdTensorRT(h, width: 0.5, levels: nq), Double(fi) * 0.5, ctx, file: file, line: line)
        } else {
            // Sampled candidates only: none of them is better than the fast minimum.
            for (i, kd) in direct { XCTAssertTrue(bf <= kd || close(bf, kd), "\(ctx): \(i) beats the minimum", file: file, line: line) }
        }
        return true
    }

    var tiesResolvedByRounding = 0

    func testFastCurveMatchesDirectTranscription() {
        var rng = Rng(state: 9)
        var cases = 0
        // Levels of int4 (8), uint4 (16), int8 (128), uint8 (256); bin counts around 128, levels, 2 levels.
        for nq in [8, 16, 128, 256] {
            var sizes = Set([128, 129, 130, 200, 300, 700])
            for m in [nq, 2 * nq] { for delta in [-2, -1, 0, 1, 2, 3] where m + delta >= 128 { sizes.insert(m + delta) } }
            for n in sizes.sorted() {
                for kind in stride(from: 0, to: 24, by: n > 400 ? 3 : 1) {
                    let h = histogram(kind, n: n, rng: &rng)
                    guard check(h, levels: nq, "levels \(nq) n \(n) kind \(kind)") else { return }
                    cases += 1
                }
            }
        }
        // The pair regime in full for odd sizes (levels 100 and 200 are not TensorRT's, but the search is
        // defined for any level count): every d = i - levels from 1 to levels - 1.
        for nq in [100, 200] {
            for kind in [0, 2, 5, 9, 16] {
                let h = histogram(kind, n: 2 * nq + 7, rng: &rng)
                guard check(h, levels: nq, "levels \(nq) kind \(kind)") else { return }
                cases += 1
            }
        }
        XCTAssertGreaterThan(cases, 500)
        print("EntropyTests: \(cases) histograms, \(tiesResolvedByRounding) argmin(s) differing only within rounding")
    }

    func testSixteenBitLevelsOnSampledCandidates() {
        // int16 (32768 levels) and uint16 (65536): the direct loop is O(i) per candidate, so compare a sample
        // of candidates in every regime (one-bin chunks, pairs with pairs fewer or more than singles, the
        // fast minimum and its neighbours), and check that none beats the fast minimum.
        var rng = Rng(state: 16)
        for (nq, n, kind) in [(32768, 65536, 6), (32768, 40000, 9), (32768, 34000, 16), (65536, 65536, 1)] {
            let h = histogram(kind, n: n, rng: &rng)
            let fast = tensorRTEntropyCurve(h, levels: nq)
            var fi = 128, bf = Double.infinity
            for (k, v) in fast.enumerated() where v <= bf { bf = v; fi = k + 128 }
            var only = Set([128, 129, 1000, nq - 1, nq, nq + 1, nq + 2, nq + 3, n - 1, n, fi])
            for delta in -3...3 where (128...n).contains(fi + delta) { only.insert(fi + delta) }
            for _ in 0..<24 { only.insert(128 + rng.int(n - 127)) }
            only = only.filter { (128...n).contains($0) }
            _ = check(h, levels: nq, only: only.sorted(), fastCurve: fast, "levels \(nq) n \(n) kind \(kind)")
        }
    }

    func testPairChunkStructure() {
        // The claims the pair regime rests on, for levels < i < 2 levels, d = i - levels: chunk k (floor(k
        // levels / i)) pairs k with k + 1 exactly for k = floor(m i / d), m < d; the single-bin chunks are
        // j = ceil(r levels / (levels - d)) - 1, r = 1 ... levels - d, starting at bin j + ceil(j d / levels).
        var rng = Rng(state: 3)
        for nq in [8, 16, 128, 256, 32768] {
            for _ in 0..<40 {
                let i = nq + 1 + rng.int(nq - 1), d = i - nq, e = nq - d
                var pairs: [Int] = [], singles: [Int] = []
                var k = 0
                while k < i {
                    if k + 1 < i && k * nq / i == (k + 1) * nq / i { pairs.append(k); k += 2 } else { singles.append(k); k += 1 }
                }
                XCTAssertEqual(pairs, (0..<d).map { $0 * i / d }, "levels \(nq) i \(i)")
                let js = (1...e).map { ($0 * nq + e - 1) / e - 1 }
                XCTAssertEqual(singles, js.map { $0 + ($0 * d + nq - 1) / nq }, "levels \(nq) i \(i)")
            }
        }
    }

    func testDegenerateHistograms() {
        // Fewer than 128 bins: no candidate, T = n * width. All counts zero: every candidate infinite, T the
        // full range. One value: KL 0 at every candidate past it; the largest wins.
        XCTAssertEqual(entropyThresholdTensorRT([Double](repeating: 3, count: 100), width: 1, levels: 128), 100)
        XCTAssertEqual(entropyThresholdTensorRT([Double](repeating: 0, count: 300), width: 1, levels: 128), 300)
        var h = [Double](repeating: 0, count: 300)
        h[10] = 5
        XCTAssertEqual(entropyThresholdTensorRT(h, width: 1, levels: 128), 300)
        // Everything in the last bin (constant data): only i = n is finite.
        h = [Double](repeating: 0, count: 300)
        h[299] = 7
        XCTAssertEqual(tensorRTEntropyCurve(h, levels: 8).filter(\.isFinite), [0])
        XCTAssertEqual(entropyThresholdTensorRT(h, width: 1, levels: 8), 300)
        // bins[0] = bins[1]: a spike in bin 0 changes nothing.
        var a = histogram(2, n: 600, rng: &rngShared)
        let base = tensorRTEntropyCurve(a, levels: 128)
        a[0] = 1e9
        XCTAssertEqual(tensorRTEntropyCurve(a, levels: 128), base)
    }

    var rngShared = Rng(state: 77)

    func testFarOutliersPastEmptyBins() {
        // TensorRT's KL is +inf when the tail lands on an empty bin (p > 0 = q): with the data in the first
        // 30 bins and two outliers in the last, only i = n is finite, so T = amax (NVIDIA's code does the
        // same); ONNX Runtime's smoothing makes such candidates finite, and it clips the outliers.
        var h = [Double](repeating: 0, count: 2048)
        for b in 0..<30 { h[b] = (20_000 * exp(-Double(b) / 4)).rounded() }
        h[2047] = 2
        let kl = tensorRTEntropyCurve(h, levels: 128)
        XCTAssertEqual(kl.indices.filter { kl[$0].isFinite }, [2048 - 128])
        XCTAssertEqual(entropyThresholdTensorRT(h, width: 1, levels: 128), 2048)
        // ONNX Runtime's search sees x over [-amax, amax]: the same data on the positive side of 4096 bins.
        var x = [Double](repeating: 0, count: 4096)
        for b in 0..<2048 { x[2048 + b] = h[b] }
        let (lo, hi) = entropyRangeORT(x, amax: 2048, min: 0, max: 2048)
        XCTAssertEqual(lo, 0)
        XCTAssertLessThan(hi, 200)
    }

    func testORTPrefixSumCurveMatchesDirectTranscription() {
        // ONNX Runtime's search with prefix sums against its bin-by-bin form, on seeded histograms of x over
        // [-amax, amax] (dense, sparse, zero runs, spikes, lone tails), sizes around the window's 128 chunks.
        var rng = Rng(state: 31)
        var worst = 0.0
        for n in [129, 130, 256, 257, 300, 511, 1000, 2048] {
            for kind in 0..<5 {
                let h = histogram(kind, n: n, rng: &rng)
                let fast = ortEntropyCurve(h), direct = ortEntropyCurveDirect(h)
                XCTAssertEqual(fast.count, direct.count)
                for (j, (a, b)) in zip(fast, direct).enumerated() {
                    if a.isInfinite || b.isInfinite {
                        XCTAssertEqual(a, b, "n \(n) kind \(kind) candidate \(j)")
                        continue
                    }
                    let err = abs(a - b) / Swift.max(abs(b), 1e-3)
                    worst = Swift.max(worst, err)
                    XCTAssertLessThan(err, 1e-9, "n \(n) kind \(kind) candidate \(j): \(a) vs \(b)")
                }
                let argmin = { (v: [Double]) in v.indices.min { v[$0] < v[$1] || (v[$0] == v[$1] && $0 < $1) } }
                if let fa = argmin(fast), let da = argmin(direct), fa != da {
                    // Only a near-tie may pick another candidate.
                    XCTAssertLessThan(abs(fast[fa] - direct[da]), 1e-9 * Swift.max(abs(direct[da]), 1e-3), "n \(n) kind \(kind)")
                }
            }
        }
        print("ORT curve: worst relative difference \(worst)")
    }

    func config(_ m: CalibrationMethod, _ dtype: DType, symmetric: Bool, bins: Int) -> ObserverConfig {
        ObserverConfig(method: m, dtype: dtype, symmetric: symmetric, axis: nil, blockSize: 0, numBins: bins,
                       ignoreNonfinite: false, percentile: 99, averagingConstant: 0.01)
    }

    func testObserverMethodsOnReLUData() throws {
        // ReLU(N(0, 1)): half the values are exactly 0. TensorRT's entropy (bins[0] = bins[1]) keeps most of
        // the range; ONNX Runtime's (the spike decides) clips at about 0.4 of it.
        var rng = Rng(state: 5)
        let x: [Float] = (0..<200_000).map { _ in
            let g = sqrt(-2 * log(rng.uniform())) * cos(2 * Double.pi * rng.uniform())
            return Float(Swift.max(g, 0))
        }
        let amax = Double(x.max()!)
        var t: [CalibrationMethod: Double] = [:]
        for m in [CalibrationMethod.entropy, .entropyOrt] {
            let o = Observer(config: config(m, .int8, symmetric: true, bins: 2048))
            try x.withUnsafeBufferPointer { try o.update($0.baseAddress!, shape: Shape([x.count])) }
            let r = try o.ranges()[0]
            XCTAssertEqual(r.0, -r.1)
            t[m] = Double(r.1)
        }
        XCTAssertGreaterThan(t[.entropy]!, 0.8 * amax, "\(t)")
        XCTAssertLessThan(t[.entropyOrt]!, 0.7 * amax, "\(t)")
        XCTAssertTrue(CalibrationMethod.entropyOrt.usesHistogram)
        XCTAssertEqual(CalibrationMethod(rawValue: 5), .entropyOrt)
    }
}

extension SplitMix64 {
    mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / Double(1 << 53) }
    mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
