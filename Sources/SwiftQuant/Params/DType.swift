// Quantized data types and their ranges (sq_dtype in the C header): the integer dtypes and the float
// formats (Formats/FloatFormat.swift), which store one code per byte. The one dtype enum of the library:
// public as QuantDType for Swift programs, DType inside the core.

typealias DType = QuantDType

/// Quantized data types and their ranges (sq_dtype). 4-bit values are stored one per byte. The float
/// formats (FP8, FP6, FP4; ONNX's rules, swiftquant.h at sq_dtype) store their bit patterns as UInt8.
public enum QuantDType: Int32, CaseIterable, Sendable {
    case int8 = 0, uint8 = 1, int16 = 2, uint16 = 3, int4 = 4, uint4 = 5
    case float8E4M3FN = 6, float8E4M3FNUZ = 7, float8E5M2 = 8, float8E5M2FNUZ = 9, float4E2M1 = 10
    case float6E3M2 = 11, float6E2M3 = 12

    /// `allowFloat`: whether the operation takes the float formats; where it does not, they are an error
    /// that says so (integer operations never see a float dtype).
    init(checking raw: Int32, argument: String, allowFloat: Bool = false) throws(SQError) {
        guard let d = DType(rawValue: raw) else {
            throw SQError(.invalidArgument, "\(argument): unknown dtype \(raw) (expected 0..5: int8, uint8, int16, uint16, int4, uint4; 6..12: the float formats)")
        }
        if d.isFloat && !allowFloat {
            throw SQError(.invalidArgument, "\(argument): \(d.name) is a float format; this operation takes the integer dtypes (int8 .. uint4) only")
        }
        self = d
    }

    /// The float format of a float dtype, nil for the integer dtypes.
    var format: FloatFormat? { FloatFormat(rawValue: rawValue) }
    /// True for the float formats (FP8, FP6, FP4).
    public var isFloat: Bool { rawValue >= 6 }

    /// The representable range [qmin, qmax]; for a float format, its codes [0, 2^bits - 1].
    public var range: ClosedRange<Int32> { qmin...qmax }

    /// The largest finite value: qmax for the integer dtypes, e.g. 448 for float8E4M3FN.
    public var maxValue: Float { format?.maxValue ?? Float(qmax) }

    /// The name C's comments and Python use: "int8", "uint4", "float8e4m3fn", ...
    public var name: String {
        if let f = format { return f.name }
        return switch self {
        case .int8: "int8"
        case .uint8: "uint8"
        case .int16: "int16"
        case .uint16: "uint16"
        case .int4: "int4"
        case .uint4: "uint4"
        default: "float"  // unreachable: format names came first
        }
    }

    /// Integer dtypes: the value range. Float formats: the code range [0, 2^bits - 1] (their values are
    /// ±format.maxValue).
    var qmin: Int32 {
        if isFloat { return 0 }
        return switch self {
        case .int8: -128
        case .uint8, .uint16, .uint4: 0
        case .int16: -32768
        case .int4: -8
        default: 0
        }
    }

    var qmax: Int32 {
        if let f = format { return (1 << Int32(f.bits)) - 1 }
        return switch self {
        case .int8: 127
        case .uint8: 255
        case .int16: 32767
        case .uint16: 65535
        case .int4: 7
        case .uint4: 15
        default: 255
        }
    }

    var isSigned: Bool { qmin < 0 }  // float formats: false (their codes are stored as uint8)

    /// Bytes per stored value (4-bit values take one byte each).
    var storageBytes: Int {
        switch self {
        case .int16, .uint16: 2
        default: 1
        }
    }

    /// True when the storage type holds values outside [qmin, qmax] (int4 in int8, uint4 in uint8),
    /// so quantized inputs must be range-checked.
    var needsRangeCheck: Bool { self == .int4 || self == .uint4 || (format.map { $0.bits < 8 } ?? false) }

    func checkZeroPoint(_ z: Int32, argument: String) throws(SQError) {
        if isFloat {
            guard z == 0 else { throw SQError(.invalidZeroPoint, "\(argument): zero point \(z) given for \(name); float formats take zero point 0 (ONNX)") }
            return
        }
        guard z >= qmin && z <= qmax else {
            throw SQError(.invalidZeroPoint, "\(argument): zero point \(z) is outside the \(name) range [\(qmin), \(qmax)]")
        }
    }
}
