// The int8 matmul driver: overflow proof, batching with broadcast, packing of unpacked B, output blocks run
// on the thread pool with the packed matrix's kernel (Kernels/GemmConfig.swift), and the epilogues, applied
// per block by the thread that computed it (README "Semantics: integer matmul"):
//   int32      C[m, n] = sum_k (A[m, k] - za) (B[k, n] - zb[n])                  (ONNX MatMulInteger)
//   requantize y = saturate(round(double(C) * M[n] + zy)), M[n] = f32(f32(sa*sb[n]) / sy) (QLinearMatMul)
//   float      y = f32(C) * f32(sa*sb[n]) + bias[n]

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where B comes from: packed once by the caller, or raw (possibly batched) memory packed per batch here.
enum MatMulB {
    case packed(PackedMatrix)
    case raw(UnsafeRawPointer, dtype: DType, zeroPoints: [Int32], scales: [Float]?)
}

enum MatMulEpilogue {
    case int32(UnsafeMutablePointer<Int32>)
    case requantize(UnsafeMutableRawPointer, dtype: DType, aScale: Float, yScale: Float, yZeroPoint: Int32,
                    rounding: Rounding, seed: UInt64)
    case float(UnsafeMutablePointer<Float>, aScale: Float, bias: UnsafePointer<Float>?)
}

/// Largest |A - za| over the dtype's range.
func maxAbsDeviation(_ dtype: DType, zeroPoint z: Int32) -> Int { Int(Swift.max(dtype.qmax - z, z - dtype.qmin)) }

/// Largest |B - zb[n]| over the dtype's range and the columns' zero points; with no columns (N = 0), that of
/// zero point 0, so the overflow rule depends on K and the dtypes alone, as the header states it.
func maxAbsDeviation(_ dtype: DType, zeroPoints: [Int32]) -> Int {
    zeroPoints.map { maxAbsDeviation(dtype, zeroPoint: $0) }.max() ?? maxAbsDeviation(dtype, zeroPoint: 0)
}

/// Proves the exact result fits in int32 (worst case over the dtypes' ranges) or fails.
func checkAccumulator(k: Int, aDType: DType, za: Int32, bDType: DType, bMaxAbs: Int) throws(SQError) {
    let amax = maxAbsDeviation(aDType, zeroPoint: za)
    let (p1, o1) = k.multipliedReportingOverflow(by: amax)
    let (bound, o2) = p1.multipliedReportingOverflow(by: bMaxAbs)
    guard !o1 && !o2 && bound <= Int(Int32.max) else {
        throw SQError(.overflow, "a, b: K = \(k) could overflow the int32 accumulator: K * max|A - za| * max|B - zb| = \(k) * \(amax) * \(bMaxAbs) > 2^31 - 1 (\(aDType.name) a, za = \(za); \(bDType.name) b); split K or use smaller zero points")
    }
}

/// C for `shape` with the epilogue. `config` packs a raw B (a packed B runs the record that packed it);
/// `threads` overrides the pool's size when splitting the output into blocks (tests use it: results never
/// depend on it).
func matmul(a: UnsafeRawPointer, aDType: DType, za: Int32, shape: MatMulShape, b: MatMulB,
            epilogue: MatMulEpilogue, config requested: GemmConfig = Registry.activeGemm, threads: Int? = nil) throws(SQError) {
    let (bDType, bZeros, bScales): (DType, [Int32], [Float]?)
    let config: GemmConfig
    switch b {
    case .packed(let p): (bDType, bZeros, bScales, config) = (p.dtype, p.zeroPoints, p.scales, p.config)
    case .raw(_, let d, let z, let s):
        // K = 0 makes every product 0: the reference record packs that in O(1) (PackedMatrix).
        (bDType, bZeros, bScales, config) = (d, z, s, shape.k == 0 ? .reference : requested)
    }
    try checkAccumulator(k: shape.k, aDType: aDType, za: za, bDType: bDType,
                         bMaxAbs: maxAbsDeviation(bDType, zeroPoints: bZeros))
    let m = shape.m, k = shape.k, n = shape.n
    guard shape.outCount > 0 else { return }
    let columns = try EpilogueColumns(epilogue, n: n, bScales: bScales)

    // Parallel over output blocks of each batch or, when one batch is too small to split, over groups of
    // whole batches (many small products: attention heads). Every (group, block) lane has its own scratch.
    let blocks = gemmBlocks(m: m, n: n, k: k, config: config, threads: threads)
    let groups = blocks.count > 1 ? 1 : batchGroups(shape, config: config, threads: threads)
    var offsets = [0]
    for _ in 0..<groups {
        for (rows, _) in blocks { offsets.append(offsets.last! + (config.scratchBytes(rows.count, k) + 63) / 64 * 64) }
    }
    let kernelScratch = try alignedAllocate(offsets.last!, "the kernel's scratch")
    defer { free(kernelScratch) }
    // int32 output is written in place; other epilogues go through a scratch C of one batch per group.
    var cScratch: UnsafeMutablePointer<Int32>? = nil
    if case .int32 = epilogue {} else {
        let bytes = try Checked.mul(try Checked.mul(groups, m * n, "the int32 accumulator"), 4, "the int32 accumulator")
        guard let raw = malloc(bytes) else {
            throw SQError(.outOfMemory, "cannot allocate \(bytes) bytes for the int32 accumulator")
        }
        cScratch = raw.bindMemory(to: Int32.self, capacity: groups * m * n)
    }
    defer { free(cScratch) }

    /// Runs the batches of group g, in order.
    func runGroup(_ g: Int, _ batches: Range<Int>) throws(SQError) {
        var packed: PackedMatrix? = nil
        var packedOffset = -1
        for t in batches {
            let (ao, bo) = shape.offsets(batch: t)
            let bp: PackedMatrix
            switch b {
            case .packed(let p): bp = p
            case .raw(let ptr, let dtype, let zeros, let scales):
                if bo != packedOffset {  // consecutive batches sharing a broadcast B pack it once
                    packed = try PackedMatrix(b: ptr + bo * dtype.storageBytes, dtype: dtype, k: k, n: n,
                                              zeroPoints: zeros, scales: scales, config: config)
                    packedOffset = bo
                }
                bp = packed!
            }
            let outBase = t * m * n
            let c: UnsafeMutablePointer<Int32>
            if case .int32(let out) = epilogue { c = out + outBase } else { c = cScratch! + g * m * n }
            let op = GemmOperands(a: a + ao * aDType.storageBytes, aDType: aDType, za: za, b: bp, c: c)
            let run = { (i: Int) in
                let (rows, cols) = blocks[i]
                config.kernel(op, rows, cols, kernelScratch + offsets[g * blocks.count + i])
                applyEpilogue(epilogue, columns, c: UnsafePointer(c), n: n, rows: rows, cols: cols, outBase: outBase,
                              requantize: config.requantize)
            }
            if blocks.count == 1 { run(0) } else { ThreadPool.shared.parallelFor(blocks.count, run) }
        }
    }

    let batches = shape.batchCount
    guard groups > 1 else { return try runGroup(0, 0..<batches) }
    let failures = UnsafeMutablePointer<SQError?>.allocate(capacity: groups)
    failures.initialize(repeating: nil, count: groups)
    defer { failures.deinitialize(count: groups); failures.deallocate() }
    ThreadPool.shared.parallelFor(groups) { g in
        do throws(SQError) { try runGroup(g, batches * g / groups..<batches * (g + 1) / groups) } catch { failures[g] = error }
    }
    for g in 0..<groups { if let e = failures[g] { throw e } }
}

/// Groups of whole batches for the threads when each batch alone is below the record's parallel work but
/// all of them are not; 1 otherwise.
func batchGroups(_ shape: MatMulShape, config: GemmConfig, threads: Int? = nil) -> Int {
    let batches = shape.batchCount
    guard batches > 1,
          Double(batches) * Double(shape.m) * Double(shape.n) * Double(Swift.max(shape.k, 1)) >= config.minParallelMACs
    else { return 1 }
    return Swift.max(1, Swift.min(batches, threads ?? ThreadPool.shared.size))
}

/// Output blocks for the threads, aligned to the record's tiles: rows split while there are enough row
/// tiles to keep every thread busy, else columns (and rows if still short). One block below the record's
/// minimum parallel work, so small products never touch the pool.
func gemmBlocks(m: Int, n: Int, k: Int, config: GemmConfig, threads: Int? = nil) -> [(rows: Range<Int>, cols: Range<Int>)] {
    let whole = [(rows: 0..<m, cols: 0..<n)]
    guard Double(m) * Double(n) * Double(Swift.max(k, 1)) >= config.minParallelMACs else { return whole }
    let t = threads ?? ThreadPool.shared.size
    guard t > 1 else { return whole }
    let mTiles = (m + config.mr - 1) / config.mr, nPanels = (n + config.nr - 1) / config.nr
    let mParts: Int, nParts: Int
    if mTiles >= 4 * t {
        (mParts, nParts) = (t, 1)
    } else {
        nParts = Swift.min(nPanels, t)
        mParts = Swift.min(mTiles, (t + nParts - 1) / nParts)
    }
    /// Splits `units` tiles of `size` (the last one cut at `end`) into `parts` near-equal ranges.
    func split(_ units: Int, _ parts: Int, _ size: Int, _ end: Int) -> [Range<Int>] {
        (0..<parts).map { p in
            Swift.min(units * p / parts * size, end)..<Swift.min(units * (p + 1) / parts * size, end)
        }.filter { !$0.isEmpty }
    }
    var blocks: [(rows: Range<Int>, cols: Range<Int>)] = []
    for rows in split(mTiles, mParts, config.mr, m) {
        for cols in split(nPanels, nParts, config.nr, n) { blocks.append((rows, cols)) }
    }
    return blocks
}

/// Per-column factors of the requantize and float epilogues, computed once per product.
private enum EpilogueColumns {
    case none
    /// M[n] = f32(f32(sa * sb[n]) / sy), widened to double.
    case requantize([Double])
    /// f32(sa * sb[n]).
    case float([Float])

    /// Fails when a factor is not finite: finite scales whose product overflows float32 have no defined
    /// output (the requantized value would be NaN, the float output inf or NaN), on every path alike.
    init(_ e: MatMulEpilogue, n: Int, bScales: [Float]?) throws(SQError) {
        func sb(_ j: Int) -> Float { bScales!.count == 1 ? bScales![0] : bScales![j] }
        func checked<T: BinaryFloatingPoint>(_ v: [T], _ what: String) throws(SQError) -> [T] {
            if let j = v.firstIndex(where: { !$0.isFinite }) {
                throw SQError(.invalidScale, "\(what) is \(v[j]) for column \(j) (b scale \(sb(j))): the scales' product overflows float32")
            }
            return v
        }
        switch e {
        case .int32: self = .none
        case .requantize(_, _, let sa, let sy, _, _, _):
            self = .requantize(try checked((0..<n).map { Double(Float(sa * sb($0)) / sy) },
                                           "a_params, b_params, y_params: the multiplier f32(f32(a_scale * b_scale) / y_scale)"))
        case .float(_, let sa, _):
            self = .float(try checked((0..<n).map { sa * sb($0) }, "a_params, b_params: f32(a_scale * b_scale)"))
        }
    }
}

/// Applies the epilogue to C[rows, cols] of one batch (C row stride n; the output's batch starts at outBase).
/// `requantize` is the kernel path's vector requantize, when it has one.
private func applyEpilogue(_ e: MatMulEpilogue, _ columns: EpilogueColumns, c: UnsafePointer<Int32>, n: Int,
                           rows: Range<Int>, cols: Range<Int>, outBase: Int, requantize: RequantizeKernel?) {
    switch (e, columns) {
    case (.requantize(let y, let dtype, _, _, let zy, let rounding, let seed), .requantize(let mult)):
        let lo = Double(dtype.qmin), hi = Double(dtype.qmax), z = Double(zy)
        if let requantize, !rows.isEmpty, !cols.isEmpty {
            let first = rows.lowerBound * n + cols.lowerBound
            let done = mult.withUnsafeBufferPointer { m in
                requantize(c + first, n, rows.count, cols.count, m.baseAddress! + cols.lowerBound, z, lo, hi, rounding,
                           y + outBase + first, n)
            }
            if done { return }
        }
        // One loop per rounding rule and output type, so the rule is not re-chosen per element.
        @inline(__always) func store<T: FixedWidthInteger>(_ out: UnsafeMutablePointer<T>, _ round: (Double, Int) -> Double) {
            mult.withUnsafeBufferPointer { mult in
                for i in rows {
                    for j in cols {
                        let idx = i * n + j
                        // The zero point is added before rounding, as in the ONNX reference (it matters for ties).
                        let r = round(Double(c[idx]) * mult[j] + z, outBase + idx)
                        out[outBase + idx] = T(truncatingIfNeeded: Int32(Swift.min(Swift.max(r, lo), hi)))
                    }
                }
            }
        }
        @inline(__always) func store<T: FixedWidthInteger>(_ out: UnsafeMutablePointer<T>) {
            switch rounding {
            case .nearestEven: store(out) { v, _ in v.rounded(.toNearestOrEven) }
            case .halfAway: store(out) { v, _ in v.rounded(.toNearestOrAwayFromZero) }
            case .floor: store(out) { v, _ in v.rounded(.down) }
            case .stochastic: store(out) { v, index in rounding.round(v, seed: seed, index: index) }
            }
        }
        if dtype == .int8 { store(y.assumingMemoryBound(to: Int8.self)) } else { store(y.assumingMemoryBound(to: UInt8.self)) }
    case (.float(let y, _, let bias), .float(let colScale)):
        colScale.withUnsafeBufferPointer { colScale in
            for i in rows {
                let out = y + outBase + i * n
                let ci = c + i * n
                // Multiply then add, never fused, so results match NumPy bit for bit.
                if let bias {
                    for j in cols { out[j] = Float(ci[j]) * colScale[j] + bias[j] }
                } else {
                    for j in cols { out[j] = Float(ci[j]) * colScale[j] }
                }
            }
        }
    default:
        break
    }
}
