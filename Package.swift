// swift-tools-version:5.9
// SwiftQuant: one dynamic library exporting the C ABI of Include/swiftquant.h.
import PackageDescription

/// Kernel targets compiled for one x86 ISA each. Their code runs only after the core's dispatch has seen
/// the CPU support that ISA (Sources/SwiftQuant/Kernels/Dispatch.swift), so the flags never leak into
/// code every CPU runs. On other architectures the targets compile to nothing.
func isaFlags(_ features: [String]) -> [SwiftSetting] {
    #if arch(x86_64)
    return [.unsafeFlags(features.flatMap { ["-Xcc", "-m\($0)"] })]
    #else
    return []
    #endif
}
let avx512 = ["avx512f", "avx512bw", "avx512vl", "avx512dq"]

let package = Package(
    name: "SwiftQuant",
    products: [
        // libSwiftQuant.so / .dylib, loaded by the Python wrapper (ctypes) and linked by C programs.
        .library(name: "SwiftQuant", type: .dynamic, targets: ["SwiftQuant"]),
        // Swift programs link the library into themselves, with their own (single) Swift runtime: the
        // dynamic library above carries a private runtime, and Swift values crossing into it would meet
        // two runtimes in one process.
        .library(name: "SwiftQuantKit", type: .static, targets: ["SwiftQuant"]),
    ],
    targets: [
        // Public API: the Swift core and its @_cdecl exports.
        .target(
            name: "SwiftQuant",
            dependencies: ["_SwiftQuantShims", "_SwiftQuantAVX512", "_SwiftQuantAVX512Codebook", "_SwiftQuantAVX2",
                           "_SwiftQuantVNNI"],
            // The release .so carries the Swift runtime so it loads with no toolchain on the library path.
            linkerSettings: [.unsafeFlags(["-static-stdlib"], .when(platforms: [.linux], configuration: .release))]
        ),
        // Implementation details, no stable API.
        // AVX-512 (F, BW, VL, DQ) element-wise kernels.
        .target(name: "_SwiftQuantAVX512", swiftSettings: isaFlags(avx512)),
        // AVX-512 codebook (nearest-level) search. A module of its own: in the element-wise module its
        // generic SIMD code changed the optimizer's inlining there and made quantize 1.7x slower (measured).
        .target(name: "_SwiftQuantAVX512Codebook", swiftSettings: isaFlags(avx512)),
        // AVX2 + FMA kernels of the block-weight linear layer (x86-64-v3: every AVX-512 CPU runs them too).
        .target(name: "_SwiftQuantAVX2", swiftSettings: isaFlags(["avx2", "fma"])),
        // AVX-512 VNNI int8 GEMM kernels and their packing.
        .target(name: "_SwiftQuantVNNI", swiftSettings: isaFlags(avx512 + ["avx512vnni"])),
        // C for what Swift cannot express (thread-local storage, CPUID/XGETBV, arch_prctl); it also makes
        // the public header's types visible to Swift.
        .target(name: "_SwiftQuantShims"),
        .testTarget(name: "SwiftQuantTests", dependencies: ["SwiftQuant"]),
    ]
)
