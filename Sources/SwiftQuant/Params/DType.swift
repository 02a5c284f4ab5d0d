// Quantized data types and their integer ranges (sq_dtype in the C header).

enum DType: Int32, CaseIterable {
    case int8 = 0, uint8 = 1, int16 = 2, uint16 = 3, int4 = 4, uint4 = 5

    init(checking raw: Int32, argument: String) throws(SQError) {
        guard let d = DType(rawValue: raw) else {
            throw SQError(.invalidArgument, "\(argument): unknown dtype \(raw) (expected 0..5: int8, uint8, int16, uint16, int4, uint4)")
        }
        self = d
    }

    var name: String {
        switch self {
        case .int8: "int8"
        case .uint8: "uint8"
        case .int16: "int16"
        case .uint16: "uint16"
        case .int4: "int4"
        case .uint4: "uint4"
        }
    }

    var qmin: Int32 {
        switch self {
        case .int8: -128
        case .uint8, .uint16, .uint4: 0
        case .int16: -32768
        case .int4: -8
        }
    }

    var qmax: Int32 {
        switch self {
        case .int8: 127
        case .uint8: 255
        case .int16: 32767
        case .uint16: 65535
        case .int4: 7
        case .uint4: 15
        }
    }

    var isSigned: Bool { qmin < 0 }

    /// Bytes per stored value (4-bit values take one byte each).
    var storageBytes: Int {
        switch self {
        case .int8, .uint8, .int4, .uint4: 1
        case .int16, .uint16: 2
        }
    }

    /// True when the storage type holds values outside [qmin, qmax] (int4 in int8, uint4 in uint8),
    /// so quantized inputs must be range-checked.
    var needsRangeCheck: Bool { self == .int4 || self == .uint4 }

    func checkZeroPoint(_ z: Int32, argument: String) throws(SQError) {
        guard z >= qmin && z <= qmax else {
            throw SQError(.invalidZeroPoint, "\(argument): zero point \(z) is outside the \(name) range [\(qmin), \(qmax)]")
        }
    }
}
