// Errors of the Swift core. The core throws these typed values; CAPI/ maps them to sq_status codes and
// the thread-local message, so nothing below CAPI knows about raw status integers.

/// A failure with its C status kind and a message that names the argument and the problem.
struct SQError: Error {
    enum Kind: Int32 {
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
    }
    let kind: Kind
    let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}
