// The library's one error type. The core throws it (typed throws, as SQError); CAPI/ maps it to the
// sq_status code and the thread-local message; the Swift API throws it as SwiftQuantError unchanged.

typealias SQError = SwiftQuantError

/// A failure: its kind (the C status code, sq_status) and a message that names the argument and the problem.
public struct SwiftQuantError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The pinned sq_status codes of the C header.
    public enum Kind: Int32, CaseIterable, Sendable {
        case nullPointer = -1
        case invalidArgument = -2
        case shape = -3
        case invalidScale = -4
        case invalidZeroPoint = -5
        case nonfinite = -6
        case outOfRange = -7
        case overflow = -8
        case outOfMemory = -9
        case unsupported = -10
        case `internal` = -100

        /// The C name, e.g. "SQ_ERROR_SHAPE" (sq_status_string).
        public var name: String { "\(cName)" }

        var cName: StaticString {
            switch self {
            case .nullPointer: "SQ_ERROR_NULL_POINTER"
            case .invalidArgument: "SQ_ERROR_INVALID_ARGUMENT"
            case .shape: "SQ_ERROR_SHAPE"
            case .invalidScale: "SQ_ERROR_INVALID_SCALE"
            case .invalidZeroPoint: "SQ_ERROR_INVALID_ZERO_POINT"
            case .nonfinite: "SQ_ERROR_NONFINITE"
            case .outOfRange: "SQ_ERROR_OUT_OF_RANGE"
            case .overflow: "SQ_ERROR_OVERFLOW"
            case .outOfMemory: "SQ_ERROR_OUT_OF_MEMORY"
            case .unsupported: "SQ_ERROR_UNSUPPORTED"
            case .internal: "SQ_ERROR_INTERNAL"
            }
        }
    }

    public let kind: Kind
    public let message: String

    /// The C status code (kind.rawValue).
    public var status: Int32 { kind.rawValue }

    /// "SQ_ERROR_SHAPE: x has 3 element(s) but shape is [2, 2]".
    public var description: String { "\(kind.name): \(message)" }

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// From a C status code (unknown codes become .internal).
    init(status: Int32, message: String) {
        self.init(Kind(rawValue: status) ?? .internal, message)
    }
}
