// C exports for block-quantized weights, the MatMulNBits layout and the block linear layer
// (swiftquant.h, "Block-quantized weights").

import _SwiftQuantShims

/// n, k, bits, block_size of a MatMulNBits call, checked; returns (n, k, kBlocks, bytes of B).
private func nbitsLayout(_ n: Int64, _ k: Int64, _ bits: Int32, _ blockSize: Int64) throws(SQError) -> (Int, Int, Int, Int) {
    let (n, k, kb) = try blockLayout(n, k, bits, blockSize)
    try MatMulNBits.checkBits(Int(bits))
    return (n, k, kb, try MatMulNBits.bBytes(n: n, kBlocks: kb, bits: Int(bits), blockSize: Int(blockSize)))
}

/// Checks n, k, bits, block_size from C; returns (n, k, kBlocks).
func blockLayout(_ n: Int64, _ k: Int64, _ bits: Int32, _ blockSize: Int64) throws(SQError) -> (Int, Int, Int) {
    guard n >= 0 && k >= 0 else { throw SQError(.shape, "n \(n) and k \(k) must be >= 0") }
    guard blockSize >= 0 && blockSize <= Int64(Int32.max) else {
        throw SQError(.invalidArgument, "block_size \(blockSize) is not a power of two in [16, \(maxWeightBlockSize)]")
    }
    let kb = try BlockWeight.checkLayout(n: Int(n), k: Int(k), bits: Int(bits), blockSize: Int(blockSize))
    return (Int(n), Int(k), kb)
}

@_cdecl("sq_weight_quantize")
public func sqWeightQuantize(_ w: UnsafePointer<Float>?, _ n: Int64, _ k: Int64, _ bits: Int32, _ blockSize: Int64, _ symmetric: Int32,
                             _ codes: UnsafeMutablePointer<UInt8>?, _ scales: UnsafeMutablePointer<Float>?,
                             _ zeroPoints: UnsafeMutablePointer<UInt8>?) -> Int32 {
    capi { () throws(SQError) in
        let (n, k, kb) = try blockLayout(n, k, bits, blockSize)
        let sym = try flag(symmetric, argument: "symmetric")
        let wp = try requireData(w, count: n * k, argument: "w")
        let c = try requireData(codes, count: n * k, argument: "codes")
        let s = try requireData(scales, count: n * kb, argument: "scales")
        let z = try requireData(zeroPoints, count: n * kb, argument: "zero_points")
        let q = try BlockWeight.quantize(wp, n: n, k: k, bits: Int(bits), blockSize: Int(blockSize), symmetric: sym)
        c.update(from: q.codes, count: n * k)
        s.update(from: q.scales, count: n * kb)
        z.update(from: q.zeroPoints, count: n * kb)
    }
}

@_cdecl("sq_weight_dequantize")
public func sqWeightDequantize(_ codes: UnsafePointer<UInt8>?, _ scales: UnsafePointer<Float>?, _ zeroPoints: UnsafePointer<UInt8>?,
                               _ n: Int64, _ k: Int64, _ bits: Int32, _ blockSize: Int64, _ out: UnsafeMutablePointer<Float>?) -> Int32 {
    capi { () throws(SQError) in
        let (n, k, kb) = try blockLayout(n, k, bits, blockSize)
        let w = try BlockWeight(n: n, k: k, bits: Int(bits), blockSize: Int(blockSize),
                                codes: try requireData(codes, count: n * k, argument: "codes"),
                                scales: try requireData(scales, count: n * kb, argument: "scales"),
                                zeroPoints: zeroPoints)
        w.dequantize(into: try requireData(out, count: n * k, argument: "out"))
    }
}

@_cdecl("sq_matmul_nbits_sizes")
public func sqMatMulNBitsSizes(_ n: Int64, _ k: Int64, _ bits: Int32, _ blockSize: Int64,
                               _ bBytes: UnsafeMutablePointer<Int64>?, _ zeroPointBytes: UnsafeMutablePointer<Int64>?) -> Int32 {
    capi { () throws(SQError) in
        let (n, _, kb, bb) = try nbitsLayout(n, k, bits, blockSize)
        bBytes?.pointee = Int64(bb)
        zeroPointBytes?.pointee = Int64(try MatMulNBits.zeroPointBytes(n: n, kBlocks: kb, bits: Int(bits)))
    }
}

@_cdecl("sq_matmul_nbits_pack")
public func sqMatMulNBitsPack(_ codes: UnsafePointer<UInt8>?, _ scales: UnsafePointer<Float>?, _ zeroPoints: UnsafePointer<UInt8>?,
                              _ n: Int64, _ k: Int64, _ bits: Int32, _ blockSize: Int64,
                              _ b: UnsafeMutablePointer<UInt8>?, _ packedZeroPoints: UnsafeMutablePointer<UInt8>?) -> Int32 {
    capi { () throws(SQError) in
        let (n, k, kb, bb) = try nbitsLayout(n, k, bits, blockSize)
        let w = try BlockWeight(n: n, k: k, bits: Int(bits), blockSize: Int(blockSize),
                                codes: try requireData(codes, count: n * k, argument: "codes"),
                                scales: try requireData(scales, count: n * kb, argument: "scales"), zeroPoints: zeroPoints)
        MatMulNBits.pack(w, b: try requireData(b, count: bb, argument: "b"), zeroPoints: packedZeroPoints)
    }
}

@_cdecl("sq_matmul_nbits_unpack")
public func sqMatMulNBitsUnpack(_ b: UnsafePointer<UInt8>?, _ scales: UnsafePointer<Float>?, _ packedZeroPoints: UnsafePointer<UInt8>?,
                                _ n: Int64, _ k: Int64, _ bits: Int32, _ blockSize: Int64,
                                _ codes: UnsafeMutablePointer<UInt8>?, _ zeroPoints: UnsafeMutablePointer<UInt8>?) -> Int32 {
    capi { () throws(SQError) in
        let (n, k, kb, bb) = try nbitsLayout(n, k, bits, blockSize)
        let (c, z) = MatMulNBits.unpack(b: try requireData(b, count: bb, argument: "b"), zeroPoints: packedZeroPoints,
                                        n: n, k: k, bits: Int(bits), blockSize: Int(blockSize), kBlocks: kb)
        // Checked as every entry point checks a weight (non-finite scales fail here, not later); absent zero
        // points become the default 2^(bits-1).
        let w = try c.withUnsafeBufferPointer { (cp) throws(SQError) in
            try withOptionalBytes(z) { (zp) throws(SQError) in
                try BlockWeight(n: n, k: k, bits: Int(bits), blockSize: Int(blockSize),
                                codes: cp.baseAddress ?? UnsafePointer(bitPattern: 1)!,
                                scales: try requireData(scales, count: n * kb, argument: "scales"), zeroPoints: zp)
            }
        }
        try requireData(codes, count: n * k, argument: "codes").update(from: w.codes, count: n * k)
        try requireData(zeroPoints, count: n * kb, argument: "zero_points").update(from: w.zeroPoints, count: n * kb)
    }
}

private func withOptionalBytes<R>(_ a: [UInt8]?, _ body: (UnsafePointer<UInt8>?) throws(SQError) -> R) throws(SQError) -> R {
    guard let a else { return try body(nil) }
    return try a.withUnsafeBufferPointer { (p) throws(SQError) in try body(p.baseAddress ?? UnsafePointer(bitPattern: 1)!) }
}

// MARK: - The block linear layer

private func blockLinear(_ h: OpaquePointer?) throws(SQError) -> BlockLinear {
    guard let h else { throw SQError(.nullPointer, "linear is NULL") }
    return Unmanaged<BlockLinear>.fromOpaque(UnsafeRawPointer(h)).takeUnretainedValue()
}

@_cdecl("sq_block_linear_create")
public func sqBlockLinearCreate(_ codes: UnsafePointer<UInt8>?, _ scales: UnsafePointer<Float>?, _ zeroPoints: UnsafePointer<UInt8>?,
                                _ n: Int64, _ k: Int64, _ bits: Int32, _ blockSize: Int64, _ bias: UnsafePointer<Float>?,
                                _ activation: Int32, _ outHandle: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    sqBlockLinearCreateScaled(codes, scales, zeroPoints, n, k, bits, blockSize, bias, nil, activation, outHandle)
}

@_cdecl("sq_block_linear_create_scaled")
public func sqBlockLinearCreateScaled(_ codes: UnsafePointer<UInt8>?, _ scales: UnsafePointer<Float>?, _ zeroPoints: UnsafePointer<UInt8>?,
                                      _ n: Int64, _ k: Int64, _ bits: Int32, _ blockSize: Int64, _ bias: UnsafePointer<Float>?,
                                      _ inputScales: UnsafePointer<Float>?, _ activation: Int32,
                                      _ outHandle: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    capi { () throws(SQError) in
        let o = try out(outHandle, "out")
        o.pointee = nil
        let (n, k, kb) = try blockLayout(n, k, bits, blockSize)
        guard n >= 1 && k >= 1 else { throw SQError(.shape, "n \(n) and k \(k) must be >= 1 for a layer") }
        guard let act = BlockActivation(rawValue: activation) else {
            throw SQError(.invalidArgument, "activation \(activation) is not SQ_ACTIVATION_PER_BLOCK (2) or SQ_ACTIVATION_NONE (3)")
        }
        let w = try BlockWeight(n: n, k: k, bits: Int(bits), blockSize: Int(blockSize),
                                codes: try requireData(codes, count: n * k, argument: "codes"),
                                scales: try requireData(scales, count: n * kb, argument: "scales"), zeroPoints: zeroPoints)
        let l = try BlockLinear(weight: w, bias: bias, inputScales: inputScales, activation: act)
        o.pointee = OpaquePointer(Unmanaged.passRetained(l).toOpaque())
    }
}

@_cdecl("sq_block_linear_destroy")
public func sqBlockLinearDestroy(_ h: OpaquePointer?) {
    guard let h else { return }
    Unmanaged<BlockLinear>.fromOpaque(UnsafeRawPointer(h)).release()
}

@_cdecl("sq_block_linear_forward")
public func sqBlockLinearForward(_ h: OpaquePointer?, _ x: UnsafePointer<Float>?, _ shape: UnsafePointer<Int64>?, _ ndim: Int32,
                                 _ y: UnsafeMutablePointer<Float>?, _ yCount: Int64) -> Int32 {
    capi { () throws(SQError) in
        let l = try blockLinear(h)
        let s = try Shape(shape, ndim, argument: "shape")
        guard s.ndim >= 1 && s.dims[s.ndim - 1] == l.weight.k else {
            throw SQError(.shape, "x: shape \(s.dims) must end in in_features = \(l.weight.k)")
        }
        let rows = s.count / l.weight.k
        let want = try Checked.mul(rows, l.weight.n, "y")
        guard yCount == Int64(want) else {
            throw SQError(.shape, "y_count is \(yCount) but the result [\(rows) rows, \(l.weight.n)] has \(want)")
        }
        try l.forward(try requireData(x, count: s.count, argument: "x"), rows: rows, try requireData(y, count: want, argument: "y"))
    }
}
