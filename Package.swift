// swift-tools-version:5.9
// SwiftQuant: one dynamic library exporting the C ABI of Include/swiftquant.h.
import PackageDescription

let package = Package(
    name: "SwiftQuant",
    products: [
        // libSwiftQuant.so / .dylib, loaded by the Python wrapper (ctypes) and linked by C programs.
        .library(name: "SwiftQuant", type: .dynamic, targets: ["SwiftQuant"]),
    ],
    targets: [
        // Public API: the Swift core and its @_cdecl exports.
        .target(
            name: "SwiftQuant",
            dependencies: ["_SwiftQuantShims"],
            // The release .so carries the Swift runtime so it loads with no toolchain on the library path.
            linkerSettings: [.unsafeFlags(["-static-stdlib"], .when(platforms: [.linux], configuration: .release))]
        ),
        // Implementation detail, no stable API: C for what Swift cannot express (thread-local storage;
        // later AMX tile macros and arch_prctl). It also makes the public header's types visible to Swift.
        .target(name: "_SwiftQuantShims"),
        .testTarget(name: "SwiftQuantTests", dependencies: ["SwiftQuant"]),
    ]
)
