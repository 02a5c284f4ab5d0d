// The C ABI's error plumbing and version: every export runs its body through `capi`, which maps a thrown
// SQError to its pinned status code and stores the message in the thread-local buffer (the C shim).

import _SwiftQuantShims

let versionString: StaticString = "0.1.0"
let versionNumber: Int32 = 100  // MAJOR*10000 + MINOR*100 + PATCH; keep in step with swiftquant.h

/// Every computing export runs here: under the default floating-point environment (the caller's MXCSR is
/// restored on return, flags included), with SQError mapped to a status code and the thread's message.
@inline(__always)
func capi(_ body: () throws(SQError) -> Void) -> Int32 {
    let savedFPEnv = _sq_shim_fpenv_enter()
    defer { _sq_shim_fpenv_leave(savedFPEnv) }
    if let e = dispatch.error {  // a SWIFTQUANT_ISA override this machine cannot honour
        setLastError(e)
        return SQError.Kind.unsupported.rawValue
    }
    do {
        try body()
        return 0
    } catch {
        setLastError(error.message)
        return error.kind.rawValue
    }
}

func setLastError(_ message: String) {
    message.withCString { _sq_shim_set_last_error($0, message.utf8.count) }
}

@inline(__always)
func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

@_cdecl("sq_version")
public func sqVersion() -> UnsafePointer<CChar> { cString(versionString) }

@_cdecl("sq_version_number")
public func sqVersionNumber() -> Int32 { versionNumber }

@_cdecl("sq_status_string")
public func sqStatusString(_ status: Int32) -> UnsafePointer<CChar> {
    if status == 0 { return cString("SQ_OK") }
    guard let kind = SQError.Kind(rawValue: status) else { return cString("SQ_UNKNOWN_STATUS") }
    return cString(kind.cName)
}

/// Checks a C boolean flag (0 or 1).
func flag(_ v: Int32, argument: String) throws(SQError) -> Bool {
    guard v == 0 || v == 1 else { throw SQError(.invalidArgument, "\(argument) must be 0 or 1 (got \(v))") }
    return v == 1
}

/// Checks an output pointer that receives a single value.
@inline(__always)
func out<T>(_ p: UnsafeMutablePointer<T>?, _ argument: String) throws(SQError) -> UnsafeMutablePointer<T> {
    guard let p else { throw SQError(.nullPointer, "\(argument) is NULL") }
    return p
}
