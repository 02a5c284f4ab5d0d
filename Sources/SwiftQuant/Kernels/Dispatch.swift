// Which kernels run, chosen once per process: the best path that is built, supported by the CPU,
// permitted by the OS (AMX) and allowed by the SWIFTQUANT_ISA override
// (reference | avx2 | avx512 | vnni | amx). An override the machine cannot honour makes every computing call
// fail with SQ_ERROR_UNSUPPORTED and a message saying why, rather than silently running something else.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Raw values are the header's sq_isa (pinned); the order of levels is `rank`'s.
public enum ISA: Int32, Comparable, CaseIterable, Sendable {
    case reference = 0, avx2 = 4, avx512 = 1, vnni = 2, amx = 3

    /// Each level includes the ones below it (an AVX-512 CPU runs the AVX2 kernels too).
    var rank: Int {
        switch self {
        case .reference: 0
        case .avx2: 1
        case .avx512: 2
        case .vnni: 3
        case .amx: 4
        }
    }

    /// "reference", "avx2", "avx512", "vnni", "amx" (the SWIFTQUANT_ISA values).
    public var name: String {
        switch self {
        case .reference: "reference"
        case .avx2: "avx2"
        case .avx512: "avx512"
        case .vnni: "vnni"
        case .amx: "amx"
        }
    }

    public static func < (a: ISA, b: ISA) -> Bool { a.rank < b.rank }
}

struct Dispatch {
    let features: CPUFeatures
    /// The level in force: the kernel registry (Registry.swift) runs, per operation, its best record at or
    /// below it.
    let isa: ISA
    let forced: Bool
    /// Why a forced ISA cannot run, if it cannot.
    let error: String?

    /// Paths compiled into this build (AMX kernels are not written yet).
    static var built: [ISA] {
        #if arch(x86_64)
        return [.reference, .avx2, .avx512, .vnni]
        #else
        return [.reference]
        #endif
    }

    static func supported(_ isa: ISA, _ f: CPUFeatures) -> Bool {
        switch isa {
        case .reference: true
        case .avx2: f.avx2fma
        case .avx512: f.avx512 && f.avx2fma
        case .vnni: f.avx512 && f.avx512vnni
        case .amx: f.avx512 && f.avx512vnni && f.amxInt8 && f.amxPermitted
        }
    }

    static func detect() -> Dispatch {
        let f = CPUFeatures.detect()
        let best = ISA.allCases.filter { built.contains($0) && supported($0, f) }.max() ?? .reference
        guard let raw = getenv("SWIFTQUANT_ISA"), raw.pointee != 0 else {
            return Dispatch(features: f, isa: best, forced: false, error: nil)
        }
        let name = String(cString: raw)
        guard let want = ISA.allCases.first(where: { $0.name == name }) else {
            return Dispatch(features: f, isa: .reference, forced: true,
                            error: "SWIFTQUANT_ISA=\(name) is not one of reference, avx2, avx512, vnni, amx")
        }
        if !built.contains(want) {
            return Dispatch(features: f, isa: .reference, forced: true,
                            error: "SWIFTQUANT_ISA=\(name): this build has no \(name) kernels (built: \(built.map(\.name).joined(separator: ", ")))")
        }
        if !supported(want, f) {
            return Dispatch(features: f, isa: .reference, forced: true,
                            error: "SWIFTQUANT_ISA=\(name): this CPU or OS does not support it (best available: \(best.name))")
        }
        return Dispatch(features: f, isa: want, forced: true, error: nil)
    }
}

/// Chosen on first use (Swift initialises globals once, thread-safely).
let dispatch = Dispatch.detect()
