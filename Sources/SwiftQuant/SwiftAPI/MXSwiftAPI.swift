// OCP MX block formats in the Swift API, over sq_mx_quantize / sq_mx_dequantize (rules in swiftquant.h,
// "OCP Microscaling (MX) block formats").

/// An MX-quantized tensor: one element code per value (int8 elements as their two's complement bytes)
/// and one E8M0 scale code (value 2^(code - 127), 255 = NaN) per 32-element block along `axis`.
public struct MXTensor: Equatable, Sendable {
    public var elements: [UInt8]
    public var scales: [UInt8]
    public var shape: [Int]
    public var axis: Int
    public var format: QuantMXFormat
}

/// Blocks of 32 along `axis` (negative counts from the end; default the last); the scales have x's shape
/// with that dimension replaced by ceil(n / 32). NaN or ±inf in a block gives it the NaN scale (255).
public func mxQuantize(_ x: [Float], shape: [Int]? = nil, axis: Int = -1, format: QuantMXFormat) throws(SwiftQuantError) -> MXTensor {
    let dims = try shapeOf(shape, count: x.count, "x")
    let ax = axis < 0 ? axis + dims.count : axis
    guard ax >= 0 && ax < dims.count else {
        throw SwiftQuantError(status: SQError.Kind.invalidArgument.rawValue, message: "axis \(axis) is out of range for \(dims.count) dimension(s)")
    }
    var scaleDims = dims
    scaleDims[ax] = dims[ax] / 32 + (dims[ax] % 32 == 0 ? 0 : 1)
    let scaleCount = scaleDims.reduce(1, *)
    var elements = [UInt8](repeating: 0, count: x.count)
    var scales = [UInt8](repeating: 0, count: Int(scaleCount))
    try check(elements.withUnsafeMutableBytes { e in
        sqMXQuantize(x, dims, Int32(dims.count), Int32(ax), format.rawValue, e.baseAddress, &scales, scaleCount)
    })
    return MXTensor(elements: elements, scales: scales, shape: dims.map { Int($0) }, axis: ax, format: format)
}

/// value(element) * 2^(scale - 127) in float32; a NaN scale gives NaN for its block. An FP6 / FP4 code
/// beyond the format is an error.
public func mxDequantize(_ t: MXTensor) throws(SwiftQuantError) -> [Float] {
    let dims = try shapeOf(t.shape, count: t.elements.count, "elements")
    var x = [Float](repeating: 0, count: t.elements.count)
    try check(t.elements.withUnsafeBytes { e in
        sqMXDequantize(e.baseAddress, t.scales, Int64(t.scales.count), dims, Int32(dims.count), Int32(t.axis),
                       t.format.rawValue, &x)
    })
    return x
}
