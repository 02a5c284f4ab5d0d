// Shapes of a batched matmul, numpy.matmul rules: A [..., M, K] x B [..., K, N] -> [..., M, N], leading
// dimensions broadcast; a 1-D A is a row [1, K] (M dropped), a 1-D B a column [K, 1] (N dropped).

struct MatMulShape {
    let m: Int, k: Int, n: Int
    let outDims: [Int]
    let batchDims: [Int]
    let batchCount: Int
    /// Element strides of A's and B's matrices per output batch dimension (0 where broadcast).
    private let aStrides: [Int]
    private let bStrides: [Int]

    init(a: Shape, b: Shape) throws(SQError) {
        guard a.ndim >= 1 else { throw SQError(.shape, "a: matmul needs at least 1 dimension (got a scalar)") }
        guard b.ndim >= 1 else { throw SQError(.shape, "b: matmul needs at least 1 dimension (got a scalar)") }
        let a2 = a.ndim == 1 ? [1, a.dims[0]] : a.dims
        let b2 = b.ndim == 1 ? [b.dims[0], 1] : b.dims
        m = a2[a2.count - 2]
        k = a2[a2.count - 1]
        n = b2[b2.count - 1]
        guard b2[b2.count - 2] == k else {
            throw SQError(.shape, "b: inner dimensions do not match: a has K = \(k) (shape \(a.dims)) but b has K = \(b2[b2.count - 2]) (shape \(b.dims))")
        }
        let aBatch = Array(a2.dropLast(2)), bBatch = Array(b2.dropLast(2))
        let nb = Swift.max(aBatch.count, bBatch.count)
        var batch = [Int](repeating: 1, count: nb)
        var aS = [Int](repeating: 0, count: nb), bS = [Int](repeating: 0, count: nb)
        var aStride = m * k, bStride = k * n
        for i in stride(from: nb - 1, through: 0, by: -1) {
            let ai = i - (nb - aBatch.count), bi = i - (nb - bBatch.count)
            let da = ai >= 0 ? aBatch[ai] : 1, db = bi >= 0 ? bBatch[bi] : 1
            guard da == db || da == 1 || db == 1 else {
                throw SQError(.shape, "a, b: batch dimensions do not broadcast: \(aBatch) vs \(bBatch)")
            }
            batch[i] = Swift.max(da, db)
            if da == 0 || db == 0 { batch[i] = 0 }
            aS[i] = da == 1 ? 0 : aStride
            bS[i] = db == 1 ? 0 : bStride
            aStride *= da
            bStride *= db
        }
        batchDims = batch
        // Broadcasting multiplies the operands' extents: the result's shape gets the same limit as any shape.
        let out = try Shape(batch + [m, n], argument: "a, b: the result")
        batchCount = out.product(0..<batch.count)
        aStrides = aS
        bStrides = bS
        outDims = batch + (a.ndim > 1 ? [m] : []) + (b.ndim > 1 ? [n] : [])
        guard outDims.count <= maxNDim else { throw SQError(.shape, "a, b: the result would have \(outDims.count) dimensions (at most \(maxNDim))") }
        outCount = out.count
    }

    /// Elements of the result (its dimensions' extent is at most 2^60).
    let outCount: Int

    /// Element offsets of A's and B's matrices for output batch `t` (row-major over batchDims).
    func offsets(batch t: Int) -> (a: Int, b: Int) {
        var rest = t, ao = 0, bo = 0
        for i in stride(from: batchDims.count - 1, through: 0, by: -1) {
            let d = batchDims[i]
            let idx = rest % d
            rest /= d
            ao += idx * aStrides[i]
            bo += idx * bStrides[i]
        }
        return (ao, bo)
    }
}
