// Observer state as portable bytes (little-endian, versioned), so calibration can be split across
// processes or machines and merged. Every field is checked on the way in: bad bytes are an error.
// ByteWriter, ByteReader and checksum serve the whole format family (observers "SQOB", Hessians "SQHS").

private let magic: [UInt8] = Array("SQOB".utf8)
/// Version 2 stores each group's histogram as its stored blocks (Histogram.swift's CompactBins); version 1,
/// still read, stored every bin as an int64.
private let formatVersion: UInt32 = 2

struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func put<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func put(_ v: Double) { put(v.bitPattern) }
    mutating func put(_ v: Float) { put(v.bitPattern) }
    /// Whole arrays at once (histograms are megabytes): their memory is already little-endian here.
    mutating func put<T: BitwiseCopyable>(contentsOf values: [T], _ each: (inout ByteWriter, T) -> Void) {
        values.withUnsafeBufferPointer { put(contentsOf: $0, each) }
    }
    mutating func put<T: BitwiseCopyable>(contentsOf values: UnsafeBufferPointer<T>, _ each: (inout ByteWriter, T) -> Void) {
        #if _endian(little)
        bytes.append(contentsOf: UnsafeRawBufferPointer(values))
        #else
        for v in values { each(&self, v) }
        #endif
    }
}

struct ByteReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var offset = 0
    /// What the bytes hold, for messages ("observer", "Hessian").
    var kind = "observer"

    mutating func take(_ n: Int) throws(SQError) -> UnsafeBufferPointer<UInt8> {
        guard n >= 0 && n <= bytes.count - offset else {
            throw SQError(.invalidArgument, "data: truncated \(kind) data (needed \(n) more byte(s) at offset \(offset) of \(bytes.count))")
        }
        defer { offset += n }
        return UnsafeBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }
    mutating func get<T: FixedWidthInteger>(_: T.Type) throws(SQError) -> T {
        let b = try take(MemoryLayout<T>.size)
        var v = T.zero
        for i in 0..<MemoryLayout<T>.size { v |= T(truncatingIfNeeded: b[i]) << (8 * i) }
        return v
    }
    mutating func getDouble() throws(SQError) -> Double { Double(bitPattern: try get(UInt64.self)) }
    mutating func getFloat() throws(SQError) -> Float { Float(bitPattern: try get(UInt32.self)) }
    /// `n` floats at once (a per-channel state holds millions).
    mutating func getFloats(_ n: Int) throws(SQError) -> [Float] {
        let (size, overflow) = n.multipliedReportingOverflow(by: 4)
        guard !overflow else { throw SQError(.invalidArgument, "data: \(n) values is too many") }
        let raw = UnsafeRawPointer(try take(size).baseAddress ?? UnsafePointer(bitPattern: 1)!)
        return [Float](unsafeUninitializedCapacity: n) { out, count in
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            count = n
        }
    }
    mutating func getCount(_ what: String, max: Int) throws(SQError) -> Int {
        let v = try get(Int64.self)
        guard v >= 0 && v <= Int64(max) else { throw SQError(.invalidArgument, "data: \(what) \(v) is invalid") }
        return Int(v)
    }
}

extension ObserverConfig {
    fileprivate func write(_ w: inout ByteWriter) {
        w.put(method.rawValue)
        w.put(dtype.rawValue)
        w.put(Int32(symmetric ? 1 : 0))
        w.put(Int32(axis ?? -1))
        w.put(Int64(blockSize))
        w.put(Int32(numBins))
        w.put(Int32(ignoreNonfinite ? 1 : 0))
        w.put(percentile)
        w.put(averagingConstant)
    }
}

extension Observer {
    /// Bytes `serialize()` returns, without building them (a size query must not cost a serialization).
    var serializedSize: Int {
        4 + 4 + 48 + 4 + 8 * (firstShape?.count ?? 0) + 24 + 8 * groups
            + (histograms.map { h in h.rows.reduce(4 * h.exponents.count) { $0 + 4 + 4 * $1.storedBlocks + $1.data.count } } ?? 0) + 8
    }

    func serialize() -> [UInt8] {
        var w = ByteWriter()
        w.bytes.append(contentsOf: magic)
        w.put(formatVersion)
        config.write(&w)
        let shape = firstShape ?? []
        w.put(Int32(firstShape == nil ? -1 : shape.count))
        for d in shape { w.put(Int64(d)) }
        w.put(batches)
        w.put(values)
        w.put(nonfinite)
        w.bytes.reserveCapacity(serializedSize)
        w.put(contentsOf: mins) { $0.put($1) }
        w.put(contentsOf: maxs) { $0.put($1) }
        if let h = histograms {
            w.put(contentsOf: h.exponents) { $0.put($1) }
            // Per group: the number of stored blocks, a word per block (its index << 4 | its count width in
            // bytes), then the blocks' counts, 64 per block, little-endian at the block's width.
            for row in h.rows {
                let blocks = row.blockList
                w.put(UInt32(blocks.count))
                for (k, width) in blocks { w.put(UInt32(k << 4 | width)) }
                w.bytes.append(contentsOf: row.littleEndianData)
            }
        }
        w.put(w.bytes.withUnsafeBufferPointer { checksum($0) })  // so corrupted bytes are an error, not a plausible observer
        return w.bytes
    }

    static func deserialize(_ all: UnsafeBufferPointer<UInt8>) throws(SQError) -> Observer {
        guard all.count >= 12 else { throw SQError(.invalidArgument, "data: \(all.count) byte(s) is too short for observer data") }
        let bytes = UnsafeBufferPointer(rebasing: all[0..<(all.count - 8)])
        var tail = ByteReader(bytes: UnsafeBufferPointer(rebasing: all[(all.count - 8)...]))
        var r = ByteReader(bytes: bytes)
        guard Array(try r.take(4)) == magic else { throw SQError(.invalidArgument, "data: not SwiftQuant observer data (bad magic)") }
        guard try tail.get(UInt64.self) == checksum(bytes) else {
            throw SQError(.invalidArgument, "data: observer data is corrupted (checksum mismatch)")
        }
        let version = try r.get(UInt32.self)
        guard version == 1 || version == formatVersion else {
            throw SQError(.invalidArgument, "data: observer format version \(version) is not supported (this library reads 1 and \(formatVersion))")
        }
        let cfg = try configFromC(
            method: try r.get(Int32.self), dtype: try r.get(Int32.self), symmetric: try r.get(Int32.self),
            axis: try r.get(Int32.self), blockSize: try r.get(Int64.self), numBins: try r.get(Int32.self),
            ignoreNonfinite: try r.get(Int32.self), percentile: try r.getDouble(), averagingConstant: try r.getDouble())
        let o = Observer(config: cfg)
        let ndim = try r.get(Int32.self)
        guard ndim >= -1 && ndim <= Int32(maxNDim) else { throw SQError(.invalidArgument, "data: ndim \(ndim) is invalid") }
        var dims: [Int] = []
        for _ in 0..<Swift.max(ndim, 0) { dims.append(try r.getCount("dimension", max: Int.max / 8)) }
        o.batches = try r.get(Int64.self)
        o.values = try r.get(Int64.self)
        o.nonfinite = try r.get(Int64.self)
        // The checksum only catches accidents; anyone can recompute it. Every invariant the observer relies on
        // is checked here, so no later update, merge or qparams can trap on crafted bytes.
        guard o.batches >= 0 && o.values >= 0 && o.nonfinite >= 0 else { throw SQError(.invalidArgument, "data: negative counters") }
        guard (ndim >= 0) == (o.batches > 0) else {
            throw SQError(.invalidArgument, "data: \(o.batches) batch(es) recorded \(ndim >= 0 ? "with" : "without") a first-batch shape")
        }
        guard ndim >= 0 || (o.values == 0 && o.nonfinite == 0) else { throw SQError(.invalidArgument, "data: values counted without any batch") }
        guard o.nonfinite == 0 || cfg.ignoreNonfinite else {
            throw SQError(.invalidArgument, "data: \(o.nonfinite) non-finite value(s) recorded by an observer that rejects them")
        }
        if ndim >= 0 {
            let shape = try dims.map(Int64.init).withUnsafeBufferPointer { (p) throws(SQError) in
                try Shape(p.baseAddress, ndim, argument: "data: shape")
            }
            // The state this shape implies must be within the limit and present in the bytes; check before
            // allocating it.
            let groups = try o.layout(for: shape).paramCount
            try Observer.checkState(groups: groups, cfg)
            // Bytes per group in the data: exactly the dense bins in version 1, at least a block count in 2.
            let perGroup = 8 + (cfg.method.usesHistogram ? 4 + (version == 1 ? 8 * cfg.fineBins : 4) : 0)
            let (need, overflow) = groups.multipliedReportingOverflow(by: perGroup)
            guard !overflow && need <= bytes.count - r.offset else {
                throw SQError(.invalidArgument, "data: truncated observer data (\(groups) group(s) need \(need) more bytes)")
            }
            // Rebuild the group layout the way update() does, from the first batch's shape.
            try o.adopt(firstShape: shape)
            let mins = try r.getFloats(o.groups), maxs = try r.getFloats(o.groups)
            guard zip(mins, maxs).allSatisfy({ (lo, hi) in (lo <= hi && lo.isFinite && hi.isFinite) || (lo == .infinity && hi == -.infinity) }) else {
                throw SQError(.invalidArgument, "data: inconsistent min/max values")
            }
            o.mins = mins
            o.maxs = maxs
            if var h = o.histograms {
                for g in 0..<o.groups {
                    let e = try r.get(Int32.self)
                    // update() and merge() keep each group's range at exactly the exponent of its max |x|.
                    let want = mins[g] <= maxs[g] ? histogramExponent(Swift.max(-mins[g], maxs[g])) : GroupHistograms.empty
                    guard e == want else {
                        throw SQError(.invalidArgument, "data: group \(g)'s histogram exponent \(e) does not match its range [\(mins[g]), \(maxs[g])]")
                    }
                    h.exponents[g] = e
                }
                // Every finite value is in exactly one bin: the bins sum to `values`, so no later addition of
                // bins (merging runs of bins, merging observers) can overflow once `values` is checked.
                func sum(_ a: Int64, _ b: Int64) throws(SQError) -> Int64 {
                    let (s, o) = a.addingReportingOverflow(b)
                    guard !o else { throw SQError(.invalidArgument, "data: the histogram counts overflow a 64-bit total") }
                    return s
                }
                var total: Int64 = 0
                var dense = [Int64](repeating: 0, count: version == 1 ? h.bins : 0)
                for g in 0..<o.groups {
                    var groupTotal: Int64 = 0
                    if version == 1 {
                        let raw = UnsafeRawPointer(try r.take(8 * h.bins).baseAddress!)
                        for b in 0..<h.bins {
                            let c = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * b, as: Int64.self))
                            guard c >= 0 else { throw SQError(.invalidArgument, "data: negative histogram count") }
                            groupTotal = try sum(groupTotal, c)
                            dense[b] = c
                        }
                        h.setBins(group: g, dense)
                    } else {
                        h.rows[g] = try readBlocks(&r, group: g, bins: h.bins, total: &groupTotal)
                    }
                    guard (groupTotal > 0) == (h.exponents[g] != GroupHistograms.empty) else {
                        throw SQError(.invalidArgument, "data: group \(g) has \(groupTotal) histogram count(s) but \(mins[g] <= maxs[g] ? "a" : "no") range")
                    }
                    total = try sum(total, groupTotal)
                }
                guard total == o.values else {
                    throw SQError(.invalidArgument, "data: the histograms hold \(total) value(s) but the observer counted \(o.values)")
                }
                o.histograms = h
            }
        }
        guard r.offset == bytes.count else {
            throw SQError(.invalidArgument, "data: \(bytes.count - r.offset) unexpected trailing byte(s)")
        }
        return o
    }
}

/// One group's histogram blocks (format version 2), validated as hostile: block indices ascending and
/// within the group, widths 1, 2, 4 or 8, every stored block holding a count and stored at the narrowest
/// width its largest count needs (so the bytes are canonical: serializing again gives them back), no count
/// beyond the last bin, no negative count, and the group's total without overflow.
private func readBlocks(_ r: inout ByteReader, group g: Int, bins: Int, total: inout Int64) throws(SQError) -> CompactBins {
    let blockCount = (bins + 63) / 64
    let n = Int(try r.get(UInt32.self))
    guard n <= blockCount else {
        throw SQError(.invalidArgument, "data: group \(g) stores \(n) histogram block(s); it has \(blockCount)")
    }
    var blocks: [(index: Int, width: Int)] = []
    blocks.reserveCapacity(n)
    var units = 0
    for _ in 0..<n {
        let d = try r.get(UInt32.self)
        let k = Int(d >> 4), w = Int(d & 15)
        guard k < blockCount && k > (blocks.last?.index ?? -1) else {
            throw SQError(.invalidArgument, "data: group \(g)'s histogram block \(k) is out of order or beyond its \(blockCount) blocks")
        }
        guard w == 1 || w == 2 || w == 4 || w == 8 else {
            throw SQError(.invalidArgument, "data: group \(g)'s histogram block \(k) has count width \(w) (1, 2, 4 or 8)")
        }
        blocks.append((k, w))
        units += w
    }
    let raw = try r.take(64 * units)
    let base = UnsafeRawPointer(raw.baseAddress ?? UnsafePointer(bitPattern: 1)!)
    var at = 0
    for (k, w) in blocks {
        var top: Int64 = 0
        for i in 0..<64 {
            let c: Int64
            switch w {
            case 1: c = Int64(base.load(fromByteOffset: at, as: UInt8.self))
            case 2: c = Int64(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt16.self)))
            case 4: c = Int64(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: at, as: UInt32.self)))
            default: c = Int64(littleEndian: base.loadUnaligned(fromByteOffset: at, as: Int64.self))
            }
            at += w
            guard c >= 0 else { throw SQError(.invalidArgument, "data: negative histogram count") }
            guard c == 0 || 64 * k + i < bins else {
                throw SQError(.invalidArgument, "data: group \(g) counts values in bin \(64 * k + i), beyond its \(bins) bins")
            }
            let (s, o) = total.addingReportingOverflow(c)
            guard !o else { throw SQError(.invalidArgument, "data: the histogram counts overflow a 64-bit total") }
            total = s
            top = Swift.max(top, c)
        }
        guard top > 0 && CompactBins.width(for: top) == w else {
            throw SQError(.invalidArgument, "data: group \(g)'s histogram block \(k) is \(top == 0 ? "stored but empty" : "stored \(w) bytes wide for a largest count of \(top)")")
        }
    }
    return CompactBins(blocks: blocks, count: blockCount, littleEndian: raw)
}

/// FNV-1a, 64-bit: cheap, and any single changed byte changes it.
func checksum(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
    return h
}

/// Checks a C configuration and converts it.
func configFromC(method: Int32, dtype: Int32, symmetric: Int32, axis: Int32, blockSize: Int64, numBins: Int32,
                 ignoreNonfinite: Int32, percentile: Double, averagingConstant: Double) throws(SQError) -> ObserverConfig {
    guard let m = CalibrationMethod(rawValue: method) else {
        throw SQError(.invalidArgument, "method: unknown calibration method \(method) (expected 0 minmax, 1 moving_average, 2 percentile, 3 entropy, 4 mse, 5 entropy_ort)")
    }
    guard axis >= -1 else { throw SQError(.invalidArgument, "axis \(axis) is invalid (SQ_PER_TENSOR or a non-negative axis)") }
    let cfg = ObserverConfig(
        method: m, dtype: try DType(checking: dtype, argument: "dtype", allowFloat: true), symmetric: try flag(symmetric, argument: "symmetric"),
        axis: axis == -1 ? nil : Int(axis), blockSize: Int(blockSize), numBins: Int(numBins),
        ignoreNonfinite: try flag(ignoreNonfinite, argument: "ignore_nonfinite"), percentile: percentile,
        averagingConstant: averagingConstant)
    try cfg.validate()
    return cfg
}
