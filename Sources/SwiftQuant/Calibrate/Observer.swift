// Streaming calibration: an observer accumulates batches into bounded state (min/max, moving averages or
// histograms per group), merges with observers of other shards, and chooses a range by its method.

/// How an observer chooses a range (sq_method; swiftquant.h, "Calibration observers", gives each rule).
public enum CalibrationMethod: Int32, CaseIterable, Sendable {
    /// entropy: TensorRT's KL search; entropyOrt: ONNX Runtime's.
    case minmax = 0, movingAverage = 1, percentile = 2, entropy = 3, mse = 4, entropyOrt = 5
    var usesHistogram: Bool { self == .percentile || self == .entropy || self == .mse || self == .entropyOrt }

    /// The name the C header's comments and Python use.
    public var name: String {
        switch self {
        case .minmax: "minmax"
        case .movingAverage: "moving_average"
        case .percentile: "percentile"
        case .entropy: "entropy"
        case .mse: "mse"
        case .entropyOrt: "entropy_ort"
        }
    }
}

struct ObserverConfig: Equatable {
    var method: CalibrationMethod
    var dtype: DType
    var symmetric: Bool
    var axis: Int?
    var blockSize: Int
    var numBins: Int
    var ignoreNonfinite: Bool
    var percentile: Double
    var averagingConstant: Double

    /// Equal when every setting the method uses is equal: a field the method ignores (percentile for
    /// minmax, say) may hold anything, even NaN, and must not stop an observer merging with its own copy.
    static func == (a: ObserverConfig, b: ObserverConfig) -> Bool { a.differences(b).isEmpty }

    /// The settings that differ, as "name a vs b", among those the method uses.
    func differences(_ b: ObserverConfig) -> [String] {
        let a = self
        var d: [String] = []
        func check<T: Equatable>(_ name: String, _ x: T, _ y: T, _ used: Bool = true) {
            if used && x != y { d.append("\(name) \(x) vs \(y)") }
        }
        check("method", a.method.name, b.method.name)
        check("dtype", a.dtype.name, b.dtype.name)
        check("symmetric", a.symmetric, b.symmetric)
        check("axis", a.axis.map(String.init) ?? "per tensor", b.axis.map(String.init) ?? "per tensor")
        check("block_size", a.blockSize, b.blockSize)
        check("ignore_nonfinite", a.ignoreNonfinite, b.ignoreNonfinite)
        guard a.method == b.method else { return d }
        check("num_bins", a.numBins, b.numBins, a.method.usesHistogram)
        check("percentile", a.percentile, b.percentile, a.method == .percentile)
        check("averaging_constant", a.averagingConstant, b.averagingConstant, a.method == .movingAverage)
        return d
    }

    /// Bytes of state per group at most: the range (8), plus the histogram's exponent (4), its storage's
    /// fixed part, counts (every block stored, 8 bytes per bin) and block directory (4 bytes per 64 bins).
    var stateBytesPerGroup: Int {
        8 + (method.usesHistogram ? 4 + MemoryLayout<CompactBins>.stride + 8 * fineBins + 4 * ((fineBins + 63) / 64) : 0)
    }

    /// Streaming histogram bins per group (see Histogram.swift): over [-R, R) with R < 2 max|x|, so at least
    /// two streaming bins fall in each bin of the method's histogram over [0, max|x|].
    var fineBins: Int { 8 * numBins }

    func validate() throws(SQError) {
        if dtype.isFloat && (method == .entropy || method == .mse || method == .entropyOrt) {
            throw SQError(.invalidArgument, "dtype: \(method.name) searches ranges for uniform integer levels; for \(dtype.name) use minmax, moving_average or percentile")
        }
        if blockSize != 0 && method != .minmax {
            throw SQError(.invalidArgument, "block_size: per-block calibration supports the minmax method only")
        }
        if blockSize < 0 { throw SQError(.invalidArgument, "block_size \(blockSize) is negative") }
        if blockSize > 0 && axis == nil { throw SQError(.invalidArgument, "block_size \(blockSize) needs an axis") }
        if method.usesHistogram && !(16...65536).contains(numBins) {
            throw SQError(.invalidArgument, "num_bins \(numBins) is outside [16, 65536]")
        }
        if method == .percentile && !(percentile > 0 && percentile <= 100) {
            throw SQError(.invalidArgument, "percentile \(percentile) is outside (0, 100]")
        }
        if method == .movingAverage && !(averagingConstant > 0 && averagingConstant <= 1) {
            throw SQError(.invalidArgument, "averaging_constant \(averagingConstant) is outside (0, 1]")
        }
    }
}

/// Largest observer state (swiftquant.h, "Limits"): groups x (8 bytes of range + the histogram's
/// 4 + 8 x 8 x num_bins bytes) must stay within it, checked before anything is allocated.
let maxObserverStateBytes = 1 << 30

final class Observer {
    let config: ObserverConfig
    /// Serializes calls on one handle from several threads (swiftquant.h convention 4); see `locked`.
    private let lock = HandleLock()
    /// Shape of the first batch (later batches are checked against it); nil before the first batch.
    private(set) var firstShape: [Int]?
    private(set) var groups = 0
    private(set) var paramShape: [Int] = []
    /// Exact min/max (or the moving averages), per group; +inf / -inf while a group has no data.
    var mins: [Float] = []
    var maxs: [Float] = []
    var histograms: GroupHistograms?
    var batches: Int64 = 0
    var values: Int64 = 0
    var nonfinite: Int64 = 0

    init(config: ObserverConfig) { self.config = config }

    /// Runs body holding this observer's lock (and `other`'s, taken in address order so that two merges in
    /// opposite directions cannot deadlock).
    func locked<R>(with other: Observer? = nil, _ body: () throws(SQError) -> R) throws(SQError) -> R {
        try lock.with(other?.lock, body)
    }

    /// Refuses a group count whose state would exceed maxObserverStateBytes (before allocating it).
    static func checkState(groups: Int, _ config: ObserverConfig) throws(SQError) {
        let perGroup = config.stateBytesPerGroup
        let (bytes, o) = groups.multipliedReportingOverflow(by: perGroup)
        guard !o && bytes <= maxObserverStateBytes else {
            throw SQError(.outOfMemory, "observer: \(groups) group(s) x \(perGroup) bytes of state exceeds the limit of \(maxObserverStateBytes) bytes (1 GiB); use fewer groups\(config.method.usesHistogram ? " or fewer bins (num_bins \(config.numBins))" : "")")
        }
    }

    /// Bytes of state held: constant once the groups are known, whatever the number of batches.
    /// Bytes of state held now (the histograms' compact storage as it stands); the limit check uses the
    /// worst case, `config.stateBytesPerGroup`.
    var stateBytes: Int { groups * 8 + (histograms.map { 4 * $0.exponents.count + $0.storedBytes } ?? 0) }

    func layout(for shape: Shape) throws(SQError) -> Layout {
        let g: Granularity
        if let axis = config.axis {
            guard axis < shape.ndim else {
                throw SQError(.shape, "x: axis \(axis) is out of range for a batch of \(shape.ndim) dimension(s)")
            }
            g = config.blockSize > 0 ? .perBlock(axis: axis, size: config.blockSize) : .perAxis(axis)
        } else {
            g = .perTensor
        }
        if let first = firstShape {
            switch g {
            case .perTensor: break
            case .perAxis(let k):
                guard shape.ndim == first.count && shape.dims[k] == first[k] else {
                    throw SQError(.shape, "x: batch shape \(shape.dims) does not match the first batch \(first) along axis \(k) (or in ndim)")
                }
            case .perBlock:
                guard shape.dims == first else {
                    throw SQError(.shape, "x: per-block calibration needs every batch to have the first batch's shape \(first) (got \(shape.dims))")
                }
            }
        }
        return Layout(shape: shape, granularity: g)
    }

    func update(_ x: UnsafePointer<Float>, shape: Shape) throws(SQError) {
        let layout = try layout(for: shape)
        if firstShape == nil { try Observer.checkState(groups: layout.paramCount, config) }
        // Validate the whole batch (data and counters) before touching state, so a failed update changes nothing.
        var bmin = [Float](repeating: 0, count: layout.paramCount), bmax = bmin
        let bad = minMax(x, layout: layout, mins: &bmin, maxs: &bmax)
        if bad > 0 && !config.ignoreNonfinite {
            throw SQError(.nonfinite, "x: \(bad) of \(shape.count) value(s) are NaN or infinite (pass ignore_nonfinite to skip them)")
        }
        let newBatches = try Checked.addCounter(batches, 1, "observer batches")
        let newValues = try Checked.addCounter(values, Int64(shape.count - bad), "observer values")
        let newNonfinite = try Checked.addCounter(nonfinite, Int64(bad), "observer non-finite values")
        if firstShape == nil { try adopt(firstShape: shape) }
        for g in 0..<groups where bmin[g] <= bmax[g] {
            if config.method == .movingAverage && mins[g] <= maxs[g] {
                // In float64: bmin - min overflows float32 for ranges near Float.greatestFiniteMagnitude.
                let c = config.averagingConstant
                mins[g] = Float(Double(mins[g]) + c * (Double(bmin[g]) - Double(mins[g])))
                maxs[g] = Swift.max(Float(Double(maxs[g]) + c * (Double(bmax[g]) - Double(maxs[g]))), mins[g])
            } else {
                mins[g] = Swift.min(mins[g], bmin[g])
                maxs[g] = Swift.max(maxs[g], bmax[g])
            }
            histograms?.grow(group: g, to: histogramExponent(Swift.max(-bmin[g], bmax[g])))
        }
        if histograms != nil {
            layout.forEachSegment { (start, length, pStart, pStride) in
                histograms!.add(x + start, length, group: pStart, stride: pStride)
            }
        }
        // Histogram bins sum to `values` (an invariant checked on load), so no bin can overflow either.
        batches = newBatches
        values = newValues
        nonfinite = newNonfinite
    }

    /// Sets up the groups for the first batch's shape (also used when deserializing).
    func adopt(firstShape shape: Shape) throws(SQError) {
        let layout = try layout(for: shape)
        try Observer.checkState(groups: layout.paramCount, config)
        firstShape = shape.dims
        groups = layout.paramCount
        switch layout.granularity {
        case .perTensor: paramShape = []
        case .perAxis(let k): paramShape = [shape.dims[k]]
        case .perBlock(let k, let b):
            paramShape = shape.dims
            paramShape[k] = Checked.ceilDiv(shape.dims[k], b)
        }
        mins = [Float](repeating: .infinity, count: groups)
        maxs = [Float](repeating: -.infinity, count: groups)
        if config.method.usesHistogram { histograms = GroupHistograms(groups: groups, bins: config.fineBins) }
    }

    func merge(_ other: Observer) throws(SQError) {
        let differences = config.differences(other.config)
        guard differences.isEmpty else {
            throw SQError(.invalidArgument, "from: observers with different configurations cannot merge (\(differences.joined(separator: ", ")))")
        }
        guard let otherShape = other.firstShape else { return }
        let newBatches = try Checked.addCounter(batches, other.batches, "observer batches")
        let newValues = try Checked.addCounter(values, other.values, "observer values")
        let newNonfinite = try Checked.addCounter(nonfinite, other.nonfinite, "observer non-finite values")
        guard firstShape != nil else {
            firstShape = otherShape
            groups = other.groups
            paramShape = other.paramShape
            mins = other.mins
            maxs = other.maxs
            histograms = other.histograms
            batches = other.batches
            values = other.values
            nonfinite = other.nonfinite
            return
        }
        guard other.paramShape == paramShape && other.groups == groups else {
            throw SQError(.shape, "from: parameter groups \(other.paramShape) differ from \(paramShape)")
        }
        for g in 0..<groups {
            let mine = mins[g] <= maxs[g], theirs = other.mins[g] <= other.maxs[g]
            if config.method == .movingAverage && mine && theirs {
                // In float64, so the weighted sums cannot overflow: the result lies between the two averages.
                let wa = Double(batches), wb = Double(other.batches)
                mins[g] = Float((Double(mins[g]) * wa + Double(other.mins[g]) * wb) / (wa + wb))
                maxs[g] = Swift.max(Float((Double(maxs[g]) * wa + Double(other.maxs[g]) * wb) / (wa + wb)), mins[g])
            } else {
                mins[g] = Swift.min(mins[g], other.mins[g])
                maxs[g] = Swift.max(maxs[g], other.maxs[g])
            }
        }
        if let oh = other.histograms { histograms!.merge(oh) }
        batches = newBatches
        values = newValues
        nonfinite = newNonfinite
    }

    /// The method's range for each group; (+inf, -inf) for a group without data.
    func ranges() throws(SQError) -> [(Float, Float)] {
        guard firstShape != nil else {
            throw SQError(.invalidArgument, "observer: no batch observed yet")
        }
        return (0..<groups).map { g in
            let lo = mins[g], hi = maxs[g]
            guard lo <= hi, let h = histograms else { return (lo, hi) }
            return histogramRange(h, group: g, min: Double(lo), max: Double(hi))
        }
    }

    private func histogramRange(_ hist: GroupHistograms, group g: Int, min lo: Double, max hi: Double) -> (Float, Float) {
        let nb = config.numBins
        let amax = Swift.max(-lo, hi)
        guard amax > 0 else { return (Float(lo), Float(hi)) }
        let fineWidth = hist.binWidth(group: g)
        if config.method == .entropyOrt {
            // ONNX Runtime's histogram of x over [-max|x|, max|x|], whatever `symmetric` says (collect_value).
            let start = -Double(hist.bins / 2) * fineWidth
            let h = rebin(hist.signedCounts(group: g), start: start, width: fineWidth, lo: -amax, hi: amax, n: nb)
            let (a, b) = entropyRangeORT(h, amax: amax, min: lo, max: hi)
            let t = Float(Swift.max(-a, b))
            return config.symmetric ? (-t, t) : (Float(a), Float(b))
        }
        if config.symmetric || config.method == .entropy {
            let h = rebin(hist.absoluteCounts(group: g), start: 0, width: fineWidth, lo: 0, hi: amax, n: nb)
            let w = amax / Double(nb)
            let t: Double
            switch config.method {
            case .percentile:
                t = Swift.min(histogramQuantile(h, lo: 0, width: w, rank: config.percentile / 100 * h.reduce(0, +)), amax)
            case .entropy:
                t = entropyThresholdTensorRT(h, width: w, levels: Int(config.dtype.qmax) + 1)
            default:
                t = mseRange(h, first: 0, width: w, dtype: config.dtype, symmetric: true).1
            }
            if config.symmetric { return (Float(-t), Float(t)) }
            return (Float(Swift.max(lo, -t)), Float(Swift.min(hi, t)))
        }
        guard hi > lo else { return (Float(lo), Float(hi)) }
        let start = -Double(hist.bins / 2) * fineWidth
        let h = rebin(hist.signedCounts(group: g), start: start, width: fineWidth, lo: lo, hi: hi, n: nb)
        let w = (hi - lo) / Double(nb)
        if config.method == .percentile {
            let total = h.reduce(0, +)
            let a = histogramQuantile(h, lo: lo, width: w, rank: (1 - config.percentile / 100) * total)
            let b = histogramQuantile(h, lo: lo, width: w, rank: config.percentile / 100 * total)
            return (Float(Swift.max(a, lo)), Float(Swift.min(b, hi)))
        }
        let (a, b) = mseRange(h, first: lo, width: w, dtype: config.dtype, symmetric: false)
        return (Float(a), Float(b))
    }
}
