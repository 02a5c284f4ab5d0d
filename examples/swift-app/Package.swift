// swift-tools-version:5.9
// A Swift program using SwiftQuant: depend on the package and link the static product SwiftQuantKit.
import PackageDescription

let package = Package(
    name: "SwiftApp",
    dependencies: [.package(name: "SwiftQuant", path: "../..")],  // or .package(url: ..., branch:) / revision: (not from:, README)
    targets: [
        .executableTarget(name: "SwiftApp", dependencies: [.product(name: "SwiftQuantKit", package: "SwiftQuant")]),
    ]
)
