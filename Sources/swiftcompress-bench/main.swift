// Pruning benchmark on ResNet-50's weight shapes (conv, linear and batch-norm weights: 25.5 M
// float32 values). Prints, for each case, the median wall time of several runs and its ratio to
// allocating and filling one fresh float32 buffer per weight.
//
//     swift run -c release --scratch-path .build-pruning swiftcompress-bench [path/to/resnet50.json]
import Foundation
import SwiftCompress

func loadShapes(_ path: String) -> [(String, [Int])]? {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
          let root = try? ConfigValue(json: text).object,
          let modules = root["modules"]?.array else { return nil }
    var out: [(String, [Int])] = []
    for m in modules {
        guard let o = m.object, let type = o["type"]?.string, let name = o["name"]?.string,
              ["Conv2d", "Linear", "BatchNorm2d"].contains(type),
              let shape = o["parameters"]?.object?["weight"]?.array else { continue }
        out.append((name, shape.compactMap { if case .int(let i) = $0 { return i } else { return nil } }))
    }
    return out.isEmpty ? nil : out
}

/// ResNet-50 (torchvision) weight shapes, used when the model file is missing.
func builtinShapes() -> [(String, [Int])] {
    var s: [(String, [Int])] = [("conv1", [64, 3, 7, 7]), ("bn1", [64])]
    var inC = 64
    for (li, (blocks, width)) in [(3, 64), (4, 128), (6, 256), (3, 512)].enumerated() {
        for b in 0..<blocks {
            let p = "layer\(li + 1).\(b)."
            s += [(p + "conv1", [width, inC, 1, 1]), (p + "bn1", [width]),
                  (p + "conv2", [width, width, 3, 3]), (p + "bn2", [width]),
                  (p + "conv3", [width * 4, width, 1, 1]), (p + "bn3", [width * 4])]
            if b == 0 { s += [(p + "downsample.0", [width * 4, inC, 1, 1]), (p + "downsample.1", [width * 4])] }
            inC = width * 4
        }
    }
    s.append(("fc", [1000, 2048]))
    return s
}

let args = CommandLine.arguments
let path = args.count > 1 ? args[1] : "examples/models/resnet50.json"
let fromFile = loadShapes(path)
let shapes = fromFile ?? builtinShapes()
let total = shapes.reduce(0) { $0 + $1.1.reduce(1, *) }
print("model: \(fromFile != nil ? path : "built-in ResNet-50 list"), \(shapes.count) weights, \(total) float32 values")

// Weights: deterministic pseudo-random normals-ish values; masks allocated and touched up front.
var state: UInt64 = 0x9E37_79B9_7F4A_7C15
@MainActor func nextFloat() -> Float {
    state = state &* 6364136223846793005 &+ 1442695040888963407
    let u = Float(state >> 40) / Float(1 << 24)
    return (u - 0.5) * 0.2
}
let weights: [UnsafeMutableBufferPointer<Float>] = shapes.map { s in
    let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: s.1.reduce(1, *))
    for i in b.indices { b[i] = nextFloat() }
    return b
}
let masks: [UnsafeMutableBufferPointer<Float>] = shapes.map { s in
    let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: s.1.reduce(1, *))
    b.initialize(repeating: 0)
    return b
}

@MainActor func targets(_ settings: PruningSettings) throws -> [PruningTarget] {
    try shapes.indices.map { i in
        PruningTarget(moduleName: shapes[i].0, targetName: "weight", settings: settings,
                      tensor: try TensorView(UnsafeRawPointer(weights[i].baseAddress), shape: shapes[i].1, dtype: .float32),
                      mask: try MutableTensorView(UnsafeMutableRawPointer(masks[i].baseAddress), shape: shapes[i].1, dtype: .float32))
    }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

func median(runs: Int, _ body: () throws -> Void) rethrows -> Double {
    var times: [Double] = []
    let clock = ContinuousClock()
    for _ in 0..<runs {
        let t0 = clock.now
        try body()
        times.append(seconds(clock.now - t0))
    }
    times.sort()
    return times[times.count / 2]
}

func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
func fmt(_ x: Double, _ digits: Int) -> String {
    var p = 1.0
    for _ in 0..<digits { p *= 10 }
    let r = (x * p).rounded() / p
    return "\(r)"
}

// Baseline: allocate and fill one fresh float32 buffer per weight (what producing masks as new
// tensors costs at least), freed after the timing.
var kept: [UnsafeMutableBufferPointer<Float>] = []
let baseline = median(runs: 9) {
    for s in shapes {
        let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: s.1.reduce(1, *))
        b.initialize(repeating: 1)
        kept.append(b)
    }
    for b in kept { b.deallocate() }
    kept.removeAll(keepingCapacity: true)
}
print(pad("fresh buffer per weight (baseline)", 34) + " \(fmt(baseline * 1000, 1)) ms")

@MainActor func report(_ name: String, runs: Int, _ body: () throws -> Void) throws {
    let t = try median(runs: runs, body)
    let pruned = masks.reduce(0) { acc, m in acc + m.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } }
    print(pad(name, 34) + " \(fmt(t * 1000, 1)) ms  \(fmt(t / baseline, 2))x baseline  (sparsity \(fmt(Double(pruned) / Double(total), 4)))")
}

do {
    let level = try targets(PruningSettings(sparseRatio: 0.8))
    try report("level 0.8 per target", runs: 9) { try Pruning.generateMasks(level, metric: .level) }
    let global = try targets(PruningSettings(sparseRatio: 0.8, globalGroupID: .string("all")))
    try report("level 0.8 global group", runs: 9) { try Pruning.generateMasks(global, metric: .level) }
    let l1 = try targets(PruningSettings(sparseRatio: 0.5, granularity: .outChannel))
    try report("L1 out_channel 0.5", runs: 9) { try Pruning.generateMasks(l1, metric: .l1Norm) }
    let fpgm = try targets(PruningSettings(sparseRatio: 0.5, granularity: .outChannel))
    try report("FPGM out_channel 0.5", runs: 3) { try Pruning.generateMasks(fpgm, metric: .fpgm) }
} catch {
    print("error: \(error)")
}
