// swift-tools-version: 6.0
// swiftcompress: model compression (pruning, quantization, distillation) from config lists.
// The core (`SwiftCompress`) depends on the Swift standard library only: no Foundation.
import PackageDescription

let package = Package(
    name: "swiftcompress",
    // Typed throws and the C ABI's registry (Synchronization.Mutex, FusedCut's atomics) need the
    // Swift 6 runtime: macOS 15 / iOS 18 on Apple platforms; Linux has no minimum.
    platforms: [.macOS(.v15), .iOS(.v18)],
    products: [
        // `import SwiftCompress` for Swift programs.
        .library(name: "SwiftCompress", targets: ["SwiftCompress"]),
        // libswiftcompress.so: the stable C ABI declared in include/swiftcompress.h.
        .library(name: "swiftcompress", type: .dynamic, targets: ["SwiftCompressC"]),
        // Prints the explain report of a config list for a module list.
        .executable(name: "swiftcompress-explain", targets: ["swiftcompress-explain"]),
    ],
    targets: [
        .target(name: "SwiftCompress"),
        // The C declarations of include/swiftcompress.h (a symlink), so the entry points share C's layouts.
        .target(name: "SwiftCompressABI"),
        .target(name: "SwiftCompressC", dependencies: ["SwiftCompress", "SwiftCompressABI"]),
        .executableTarget(name: "swiftcompress-explain", dependencies: ["SwiftCompress"]),
        // Benchmarks are programs that print figures (run them in release), not timed tests.
        .executableTarget(name: "swiftcompress-bench", dependencies: ["SwiftCompress"]),
        .executableTarget(name: "swiftcompress-quant-bench", dependencies: ["SwiftCompress"]),
        // examples/swift: a program someone can copy (prunes an array-backed model).
        .executableTarget(name: "prune-array-model", dependencies: ["SwiftCompress"], path: "examples/swift/prune-array-model"),
        // Fixtures are read from disk by path (they carry the commands that produced them).
        // SwiftCompressC is linked so that CABI tests call the header's functions (declared by SwiftCompressABI).
        .testTarget(name: "SwiftCompressTests", dependencies: ["SwiftCompress", "SwiftCompressC", "SwiftCompressABI"], exclude: ["Fixtures"]),
    ]
)
