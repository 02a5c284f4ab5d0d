// C exports for CPU features and kernel dispatch (swiftquant.h, "CPU features and kernel dispatch").

import _SwiftQuantShims

@_cdecl("sq_get_cpu_info")
public func sqGetCPUInfo(_ info: UnsafeMutablePointer<sq_cpu_info>?) -> Int32 {
    guard let info else {
        setLastError("info is NULL")
        return SQError.Kind.nullPointer.rawValue
    }
    let f = dispatch.features
    func b(_ v: Bool) -> Int32 { v ? 1 : 0 }
    info.pointee = sq_cpu_info(
        avx512f: b(f.avx512f), avx512bw: b(f.avx512bw), avx512vl: b(f.avx512vl), avx512dq: b(f.avx512dq),
        avx512vnni: b(f.avx512vnni), amx_int8: b(f.amxInt8), amx_permitted: b(f.amxPermitted),
        isa: dispatch.isa.rawValue, isa_forced: b(dispatch.forced), avx2: b(f.avx2), fma: b(f.fma))
    if let e = dispatch.error {
        setLastError(e)
        return SQError.Kind.unsupported.rawValue
    }
    return 0
}

private func isaCString(_ isa: ISA?) -> UnsafePointer<CChar> {
    switch isa {
    case .reference: cString("reference")
    case .avx2: cString("avx2")
    case .avx512: cString("avx512")
    case .vnni: cString("vnni")
    case .amx: cString("amx")
    case nil: cString("unknown")
    }
}

@_cdecl("sq_isa_name")
public func sqISAName(_ isa: Int32) -> UnsafePointer<CChar> { isaCString(ISA(rawValue: isa)) }

@_cdecl("sq_kernel_name")
public func sqKernelName(_ op: Int32) -> UnsafePointer<CChar> {
    guard let op = KernelOp(rawValue: op) else { return cString("unknown") }
    return kernelNames[Int(op.rawValue)]
}

/// The active records' names as C strings, made once and kept for the process (sq_kernel_name's pointers
/// stay valid).
private let kernelNames: [UnsafePointer<CChar>] = KernelOp.allCases.map { op in
    let name = Registry.activeName(op)
    let buf = UnsafeMutablePointer<CChar>.allocate(capacity: name.utf8.count + 1)
    name.withCString { buf.initialize(from: $0, count: name.utf8.count + 1) }
    return UnsafePointer(buf)
}
