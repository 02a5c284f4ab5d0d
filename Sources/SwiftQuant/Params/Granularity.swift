// Which elements share a scale: per tensor, per axis, or per block along an axis (ONNX blocked layout).
// Every element-wise operation walks a tensor as "segments": contiguous runs of elements whose parameter
// index is constant (stride 0) or advances by one per element (stride 1). Kernels only see segments.

enum Granularity: Equatable {
    case perTensor
    case perAxis(Int)
    case perBlock(axis: Int, size: Int)

    /// Validates the C encoding (axis = SQ_PER_TENSOR or 0..<ndim, block_size 0 or > 0) against a shape.
    init(axis: Int32, blockSize: Int64, ndim: Int, argument: String) throws(SQError) {
        guard blockSize >= 0 else {
            throw SQError(.invalidArgument, "\(argument): block_size \(blockSize) is negative")
        }
        if axis == -1 {
            guard blockSize == 0 else {
                throw SQError(.invalidArgument, "\(argument): block_size \(blockSize) needs an axis (got per-tensor axis -1)")
            }
            self = .perTensor
            return
        }
        guard axis >= 0 && Int(axis) < ndim else {
            throw SQError(.invalidArgument, "\(argument): axis \(axis) is out of range for a tensor of \(ndim) dimension(s) (expected -1 for per tensor or 0..\(ndim - 1))")
        }
        self = blockSize == 0 ? .perAxis(Int(axis)) : .perBlock(axis: Int(axis), size: Int(blockSize))
    }
}

/// A tensor of `shape` viewed as [outer, n, inner] around the granularity's axis.
struct Layout {
    let granularity: Granularity
    let count: Int
    let outer: Int
    let n: Int
    let inner: Int
    /// Number of parameter entries (scales) the granularity needs.
    let paramCount: Int

    init(shape: Shape, granularity: Granularity) {
        self.granularity = granularity
        count = shape.count
        switch granularity {
        case .perTensor:
            (outer, n, inner) = (1, shape.count, 1)
            paramCount = 1
        case .perAxis(let k), .perBlock(let k, _):
            // Products of dimensions are bounded by the shape's extent (Shape.swift), so none overflows.
            outer = shape.product(0..<k)
            n = shape.dims[k]
            inner = shape.product((k + 1)..<shape.ndim)
            if case .perBlock(_, let b) = granularity {
                paramCount = outer * Checked.ceilDiv(n, b) * inner
            } else {
                paramCount = n
            }
        }
    }

    /// Calls body(elementStart, length, paramStart, paramStride) for every segment, in element order.
    @inline(__always)
    func forEachSegment<E: Error>(_ body: (Int, Int, Int, Int) throws(E) -> Void) throws(E) {
        guard count > 0 else { return }
        switch granularity {
        case .perTensor:
            try body(0, count, 0, 0)
        case .perAxis:
            if inner == 1 {
                for o in 0..<outer { try body(o * n, n, 0, 1) }
            } else {
                for o in 0..<outer {
                    for j in 0..<n { try body((o * n + j) * inner, inner, j, 0) }
                }
            }
        case .perBlock(_, let b):
            let nb = Checked.ceilDiv(n, b)
            if inner == 1 {
                for o in 0..<outer {
                    for blk in 0..<nb {
                        try body(o * n + blk * b, Swift.min(b, n - blk * b), o * nb + blk, 0)
                    }
                }
            } else {
                for o in 0..<outer {
                    for j in 0..<n { try body((o * n + j) * inner, inner, (o * nb + j / b) * inner, 1) }
                }
            }
        }
    }
}
