// The Hessian observer's state (sq_hessian; the Swift API's HessianObserver): H = Σ x xᵀ / n over
// calibration rows x (float32, K features), the second-order statistic GPTQ needs (its loss Hessian is 2H).
// Streams over batches, merges across shards and serializes in the observers' format family ("SQHS"),
// so calibration can be split across processes.
//
// Summation order. A product of two float32 values is exact in float64 (24 + 24 significant bits < 53), so
// only the additions round. An update adds its rows in blocks of floatGemmKC = 256 consecutive rows:
// t = Σ over the block of x_i x_j (fused multiply-adds, rows ascending, from 0), then sum += t; merging adds
// the two sums. So a result depends on where the batches, 256-row blocks and shards split the rows, and
// only through float64 rounding (nothing at all for integer-valued data whose sums stay below 2^53, which
// are exact); it never depends on the thread count or the ISA (the FloatGemmKernel tiles' contract).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Largest K: the K x K float64 sum must be allocatable (2^16: 32 GiB).
let maxHessianK = 1 << 16
/// Largest K the serialized format admits (the byte count is checked exactly before that matters).
let maxSerializedHessianK = 1 << 20

private let magic: [UInt8] = Array("SQHS".utf8)
private let formatVersion: UInt32 = 1
/// |x_i x_j| < 2^256 for float32 x (FLT_MAX^2 < 2^256): the most one row adds to any sum.
private let maxProduct = 0x1p256
/// A state may grow to this magnitude; beyond it a later addition could round to infinity.
private let magnitudeLimit = Double.greatestFiniteMagnitude / 4

final class HessianAccumulator {
    let k: Int
    /// Σ x xᵀ, k x k row-major. Only the upper triangle (j >= i) is kept current; the strict lower triangle
    /// holds whatever the tiles crossing the diagonal left there and is never read (hessian() mirrors).
    private let sum: UnsafeMutablePointer<Double>
    private(set) var count: Int64 = 0
    /// An upper bound on every |sum|: legitimate states stay below count · 2^256 <= 2^319, but crafted bytes
    /// may hold values near the float64 maximum; update and merge refuse to go past magnitudeLimit, so no
    /// state ever holds an infinity.
    private var magnitude = 0.0
    let lock = HandleLock()

    init(k: Int) throws(SQError) {
        guard k >= 1 && k <= maxHessianK else {
            throw SQError(.shape, "k: in_features \(k) is outside [1, \(maxHessianK)] (the observer holds a K x K float64 matrix)")
        }
        let n = try Checked.mul(k, k, "K x K")
        guard let p = calloc(n, MemoryLayout<Double>.size) else {
            throw SQError(.outOfMemory, "hessian: cannot allocate \(n * 8) bytes for a \(k) x \(k) float64 matrix")
        }
        self.k = k
        sum = p.assumingMemoryBound(to: Double.self)
    }

    deinit { free(sum) }

    /// Adds every row of x, shaped [..., K]. Checked before anything changes, so a failed update changes
    /// nothing: the last dimension, NaN / ±inf (the first one is named), the row counter.
    func update(_ x: UnsafePointer<Float>, shape: Shape) throws(SQError) {
        guard let last = shape.dims.last else {
            throw SQError(.shape, "x: a scalar has no feature dimension; expected shape [..., \(k)]")
        }
        guard last == k else {
            throw SQError(.shape, "x: last dimension \(last) is not in_features K = \(k) (shape \(shape.dims))")
        }
        let rows = shape.count / k
        if let i = firstNonfinite(x, shape.count) {
            throw SQError(.nonfinite, "x: element [\(i / k), \(i % k)] of the [\(rows), \(k)] rows (flat index \(i)) is \(x[i]); the Hessian needs finite values")
        }
        let newCount = try Checked.addCounter(count, Int64(rows), "hessian rows")
        let grown = magnitude + Double(rows) * maxProduct
        guard grown <= magnitudeLimit else {
            throw SQError(.overflow, "x: the sums (up to \(magnitude) in magnitude) could overflow float64 with \(rows) more row(s)")
        }
        if rows > 0 { try symmetricUpdate(Registry.activeGemmF64, x, rows: rows) }
        count = newCount
        magnitude = grown
    }

    /// sum[i, j] += Σ_r x[r, i] x[r, j] for j >= i, with `kernel`'s register tiles (a symmetric rank-k
    /// update: gemmAtB's driver would compute both triangles and pack both operands from float64). Per
    /// chunk of 256 rows, x is converted to float64 while it is packed into B panels (nr features per row,
    /// shared) and A panels (mr features, each task packing its own); then every tile touching the upper
    /// triangle runs once, summing the chunk's rows in order as the tiles' contract says. Each element is
    /// written by one tile, so no bit depends on the thread count.
    func symmetricUpdate(_ kernel: FloatGemmKernel<Double>, _ x: UnsafePointer<Float>, rows: Int) throws(SQError) {
        let k = self.k, sum = self.sum, mr = kernel.mr, nr = kernel.nr
        let aPanels = Checked.ceilDiv(k, mr), bPanels = Checked.ceilDiv(k, nr)
        let chunk = Swift.min(rows, floatGemmKC), chunks = Checked.ceilDiv(rows, chunk)
        let aCount = try Checked.mul(try Checked.mul(aPanels, mr, "hessian panels"), chunk, "hessian panels")
        let bCount = try Checked.mul(try Checked.mul(bPanels, nr, "hessian panels"), chunk, "hessian panels")
        let total = try Checked.add(aCount, try Checked.mul(bCount, 2, "hessian panels"), "hessian panels")
        guard let raw = malloc(total * MemoryLayout<Double>.size) else {
            throw SQError(.outOfMemory, "hessian: cannot allocate \(total * 8) bytes of packed rows")
        }
        defer { free(raw) }
        // B panels double-buffered: chunk c + 1's are packed while chunk c's products run.
        let pa = raw.assumingMemoryBound(to: Double.self), pb0 = pa + aCount, pb1 = pb0 + bCount
        // Tasks: blocks of ~96 features (16 A panels, 192 KiB: they stay in L2), largest first so the pool's
        // threads balance. Inside, B panels go in groups of ~64 features (128 KiB, also L2) and each A panel
        // (L1) meets the group's panels left to right, so C is written along its rows.
        let aBlock = Swift.max(1, 96 / mr), bGroup = Swift.max(1, 64 / nr)
        let tasks = Checked.ceilDiv(aPanels, aBlock)
        let pieces = Swift.min(bPanels, 2 * ThreadPool.shared.size)
        let packB: (Int, Int) -> Void = { c, piece in
            let n = Swift.min(chunk, rows - c * chunk)
            packPanels(x + c * chunk * k, rows: n, k: k, width: nr,
                       panels: (bPanels * piece / pieces)..<(bPanels * (piece + 1) / pieces), into: c % 2 == 0 ? pb0 : pb1)
        }
        let products: (Int, Int) -> Void = { c, t in
            let n = Swift.min(chunk, rows - c * chunk), pb = c % 2 == 0 ? pb0 : pb1
            let ip0 = t * aBlock, ip1 = Swift.min(aPanels, ip0 + aBlock)
            packPanels(x + c * chunk * k, rows: n, k: k, width: mr, panels: ip0..<ip1, into: pa)
            var g0 = ip0 * mr / nr
            while g0 < bPanels {
                let g1 = Swift.min(bPanels, g0 + bGroup)
                for ip in ip0..<ip1 {
                    let i0 = ip * mr, h = Swift.min(mr, k - i0), a = pa + ip * n * mr
                    // Columns from the tile holding the diagonal element (i0, i0) on.
                    let first = Swift.max(g0, i0 / nr)
                    if first >= g1 { break }  // so are the later (lower) A panels'
                    for jp in first..<g1 {
                        let j0 = jp * nr
                        kernel.tile(n, a, pb + jp * n * nr, sum + i0 * k + j0, k, 1, h, Swift.min(nr, k - j0))
                    }
                }
                g0 = g1
            }
        }
        if Double(chunk) * Double(k) * Double(k) < Double(1 << 22) {  // too little work to wake the pool
            for c in 0..<chunks {
                for p in 0..<pieces { packB(c, p) }
                for t in 0..<tasks { products(c, t) }
            }
            return
        }
        ThreadPool.shared.parallelFor(pieces) { packB(0, $0) }
        for c in 0..<chunks {
            // The next chunk's packing last: short blocks that fill the threads' idle ends.
            let next = c + 1 < chunks ? pieces : 0
            ThreadPool.shared.parallelFor(tasks + next) { i in i < tasks ? products(c, i) : packB(c + 1, i - tasks) }
        }
    }

    /// Adds other's rows (sums and count). `other` may be this observer (its data counted twice).
    func merge(_ other: HessianAccumulator) throws(SQError) {
        guard other.k == k else {
            throw SQError(.shape, "from: in_features K = \(other.k) does not match K = \(k) of the observer merged into")
        }
        let newCount = try Checked.addCounter(count, other.count, "hessian rows")
        let grown = magnitude + other.magnitude
        guard grown <= magnitudeLimit else {
            throw SQError(.overflow, "from: the merged sums (up to \(magnitude) and \(other.magnitude) in magnitude) could overflow float64")
        }
        for i in 0..<k {
            let d = sum + i * k, s = UnsafePointer(other.sum + i * k)
            for j in i..<k { d[j] += s[j] }
        }
        count = newCount
        magnitude = grown
    }

    /// The raw sums, k x k full symmetric, into out.
    func sums(into out: UnsafeMutablePointer<Double>) {
        for i in 0..<k { (out + i * k + i).update(from: sum + i * k + i, count: k - i) }
        mirrorUpperTriangle(out, k)
    }

    /// H = sum / count, k x k full symmetric, into out (each element divided, not multiplied by 1 / count).
    func hessian(into out: UnsafeMutablePointer<Double>) throws(SQError) {
        guard count > 0 else { throw SQError(.invalidArgument, "hessian: no data observed (count 0): call update first") }
        let c = Double(count)
        for i in 0..<k {
            for j in i..<k { out[i * k + j] = sum[i * k + j] / c }
        }
        mirrorUpperTriangle(out, k)
    }

    // MARK: serialization
    //
    // Version 1, little-endian: "SQHS", u32 version, i64 K, i64 count, the K(K+1)/2 float64 sums of the upper
    // triangle row by row (row i: columns i ..< K), then the FNV-1a checksum of all preceding bytes (u64).

    private static let headerBytes = 4 + 4 + 8 + 8

    /// 8 · K(K+1)/2 without overflow for any K the format admits.
    private static func triangleBytes(_ k: Int) throws(SQError) -> Int {
        try Checked.mul(try Checked.mul(k, k + 1, "hessian triangle") / 2, 8, "hessian triangle bytes")
    }

    /// Bytes serialize() returns (k <= 2^16: cannot overflow).
    var serializedSize: Int { Self.headerBytes + 8 * (k * (k + 1) / 2) + 8 }

    func serialize() -> [UInt8] {
        var w = ByteWriter()
        w.bytes.reserveCapacity(serializedSize)
        w.bytes.append(contentsOf: magic)
        w.put(formatVersion)
        w.put(Int64(k))
        w.put(count)
        for i in 0..<k { w.put(contentsOf: UnsafeBufferPointer(start: sum + i * k + i, count: k - i)) { $0.put($1) } }
        w.put(w.bytes.withUnsafeBufferPointer { checksum($0) })
        return w.bytes
    }

    /// A Hessian observer from serialize()'s bytes. The checksum only catches accidents, so every field is
    /// validated as hostile: K in [1, 2^20] with exactly its K(K+1)/2 sums present (checked before anything
    /// is allocated), count >= 0, every sum finite, the diagonal (sums of squares) >= 0, and all sums zero
    /// when count is 0.
    static func deserialize(_ all: UnsafeBufferPointer<UInt8>) throws(SQError) -> HessianAccumulator {
        guard all.count >= 12 else { throw SQError(.invalidArgument, "data: \(all.count) byte(s) is too short for Hessian data") }
        let bytes = UnsafeBufferPointer(rebasing: all[0..<(all.count - 8)])
        var tail = ByteReader(bytes: UnsafeBufferPointer(rebasing: all[(all.count - 8)...]), kind: "Hessian")
        var r = ByteReader(bytes: bytes, kind: "Hessian")
        guard Array(try r.take(4)) == magic else { throw SQError(.invalidArgument, "data: not SwiftQuant Hessian data (bad magic)") }
        guard try tail.get(UInt64.self) == checksum(bytes) else {
            throw SQError(.invalidArgument, "data: Hessian data is corrupted (checksum mismatch)")
        }
        let version = try r.get(UInt32.self)
        guard version == formatVersion else {
            throw SQError(.invalidArgument, "data: Hessian format version \(version) is not supported (this library reads \(formatVersion))")
        }
        let k64 = try r.get(Int64.self)
        guard k64 >= 1 && k64 <= Int64(maxSerializedHessianK) else {
            throw SQError(.invalidArgument, "data: K \(k64) is outside [1, \(maxSerializedHessianK)]")
        }
        let k = Int(k64)
        let count = try r.get(Int64.self)
        guard count >= 0 else { throw SQError(.invalidArgument, "data: count \(count) is negative") }
        let need = try triangleBytes(k)
        let have = bytes.count - r.offset
        guard have == need else {
            throw SQError(.invalidArgument, "data: K = \(k) needs exactly \(need) bytes of sums, found \(have) (\(have > need ? "trailing bytes" : "truncated"))")
        }
        let h = try HessianAccumulator(k: k)
        var magnitude = 0.0
        for i in 0..<k {
            let row = UnsafeRawPointer(try r.take(8 * (k - i)).baseAddress!)
            let d = h.sum + i * k + i
            for jj in 0..<(k - i) {
                let v = Double(bitPattern: UInt64(littleEndian: row.loadUnaligned(fromByteOffset: 8 * jj, as: UInt64.self)))
                guard v.isFinite else { throw SQError(.invalidArgument, "data: sum[\(i), \(i + jj)] = \(v) is not finite") }
                guard jj > 0 || v >= 0 else {
                    throw SQError(.invalidArgument, "data: diagonal sum[\(i), \(i)] = \(v) is negative (a sum of squares)")
                }
                guard count > 0 || v == 0 else {
                    throw SQError(.invalidArgument, "data: count is 0 but sum[\(i), \(i + jj)] = \(v) is not zero")
                }
                d[jj] = v
                magnitude = Swift.max(magnitude, v.magnitude)
            }
        }
        h.count = count
        h.magnitude = magnitude
        return h
    }
}

/// Panels of `width` features: into[(p · rows + r) · width + c] = x[r, p · width + c] as float64 for p in
/// panels, zero past k (the layout FloatGemmKernel tiles read). Eight rows at a time across the panels, so
/// x is read along its rows (a panel at a time over all rows strides through x and was 13% slower at
/// K = 768); full panels of the AVX2 tiles' widths (6, 8) convert as vectors (cvtps2pd).
private func packPanels(_ x: UnsafePointer<Float>, rows: Int, k: Int, width: Int, panels: Range<Int>,
                        into: UnsafeMutablePointer<Double>) {
    var r0 = 0
    while r0 < rows {
        let r1 = Swift.min(rows, r0 + 8)
        for p in panels {
            let c0 = p * width, w = Swift.min(width, k - c0)
            var d = into + (p * rows + r0) * width, s = x + r0 * k + c0
            if w == 8 && width == 8 {
                for _ in r0..<r1 {
                    let v = UnsafeRawPointer(s).loadUnaligned(as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(d).storeBytes(of: SIMD8<Double>(v), as: SIMD8<Double>.self)
                    d += 8; s += k
                }
            } else if w == 6 && width == 6 {
                for _ in r0..<r1 {
                    let v = UnsafeRawPointer(s).loadUnaligned(as: SIMD4<Float>.self)
                    let u = UnsafeRawPointer(s + 4).loadUnaligned(as: SIMD2<Float>.self)
                    UnsafeMutableRawPointer(d).storeBytes(of: SIMD4<Double>(v), as: SIMD4<Double>.self)
                    UnsafeMutableRawPointer(d + 4).storeBytes(of: SIMD2<Double>(u), as: SIMD2<Double>.self)
                    d += 6; s += k
                }
            } else {
                for _ in r0..<r1 {
                    for c in 0..<w { d[c] = Double(s[c]) }
                    for c in w..<width { d[c] = 0 }
                    d += width; s += k
                }
            }
        }
        r0 = r1
    }
}

/// The index of the first NaN or ±inf among x[0 ..< n], or nil: SIMD scans of 16 Ki-element blocks (on the
/// pool for large x, each thread a contiguous range), then the first bad block element by element.
private func firstNonfinite(_ x: UnsafePointer<Float>, _ n: Int) -> Int? {
    func scan(_ range: Range<Int>) -> Int? {
        var i0 = range.lowerBound
        while i0 < range.upperBound {
            let len = Swift.min(1 << 14, range.upperBound - i0)
            if !minMaxSIMD(x + i0, len).2 { return (i0..<(i0 + len)).first { !x[$0].isFinite } }
            i0 += len
        }
        return nil
    }
    let pieces = n < (1 << 20) ? 1 : ThreadPool.shared.size
    guard pieces > 1 else { return scan(0..<n) }
    let first = UnsafeMutablePointer<Int>.allocate(capacity: pieces)
    defer { first.deallocate() }
    let per = n / pieces, extra = n % pieces
    let start: (Int) -> Int = { p in p * per + Swift.min(p, extra) }
    ThreadPool.shared.parallelFor(pieces) { p in first[p] = scan(start(p)..<start(p + 1)) ?? -1 }
    return (0..<pieces).lazy.map { first[$0] }.first { $0 >= 0 }
}

/// m[i, j] = m[j, i] for j < i, over a k x k row-major matrix, tile by tile (a plain column walk would
/// stride through memory 8k bytes at a time).
private func mirrorUpperTriangle(_ m: UnsafeMutablePointer<Double>, _ k: Int) {
    let t = 64
    for i0 in stride(from: 0, to: k, by: t) {
        for j0 in stride(from: 0, through: i0, by: t) {
            for i in i0..<Swift.min(i0 + t, k) {
                for j in j0..<Swift.min(j0 + t, i) { m[i * k + j] = m[j * k + i] }
            }
        }
    }
}
