// Pruning benchmark on ResNet-50's weight shapes (conv, linear and batch-norm weights: 25.5 M
// float32 values). For each case it prints the median wall time of several runs and its ratio to
// allocating and filling one fresh float32 buffer per weight (runs of the case and of that
// baseline alternate, so both see the same machine load). Then, unless --no-nni, it runs
// tools/bench_nni_pruning.py (NNI 3.0's pruners on torchvision ResNet-50, after our runs, not at
// the same time) and prints a markdown table with both medians and their ratio.
//
//     swift run -c release --scratch-path .build-perf swiftcompress-bench [model.json] [--runs N]
//         [--fpgm-runs N] [--cases level,global,l1,fpgm] [--no-nni] [--nni-cases level,fpgm]
//         [--nni-runs N] [--nni-fpgm-runs N]
//
// NNI runs with /work/nnienv/bin/python, or the Python named by $SWIFTCOMPRESS_PYTHON. By default
// it times LevelPruner per target (3 runs) and FPGMPruner (1 run: minutes on a 2-core machine);
// its global group (about 8 minutes a run here) and L1 are timed with --nni-cases.
import Foundation
import SwiftCompress

var path = "examples/models/resnet50.json"
var runs = 9
var fpgmRuns = 3
var cases = ["level", "global", "l1", "fpgm"]
var useNNI = true
var nniCases = ["level", "fpgm"]
var nniRuns = 3
var nniFPGMRuns = 1
var argv = CommandLine.arguments.dropFirst()
while let a = argv.popFirst() {
    switch a {
    case "--runs": runs = argv.popFirst().flatMap { Int($0) } ?? runs
    case "--fpgm-runs": fpgmRuns = argv.popFirst().flatMap { Int($0) } ?? fpgmRuns
    case "--cases": cases = (argv.popFirst() ?? "").split(separator: ",").map(String.init)
    case "--no-nni": useNNI = false
    case "--nni-cases": nniCases = (argv.popFirst() ?? "").split(separator: ",").map(String.init)
    case "--nni-runs": nniRuns = argv.popFirst().flatMap { Int($0) } ?? nniRuns
    case "--nni-fpgm-runs": nniFPGMRuns = argv.popFirst().flatMap { Int($0) } ?? nniFPGMRuns
    default:
        if a.hasPrefix("-") {
            print("usage: swiftcompress-bench [model.json] [--runs N] [--fpgm-runs N] [--cases level,global,l1,fpgm] [--no-nni] [--nni-cases level,fpgm] [--nni-runs N] [--nni-fpgm-runs N]")
            exit(2)
        }
        path = a
    }
}
runs = max(1, runs)
fpgmRuns = max(1, fpgmRuns)

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

let fromFile = loadShapes(path)
let shapes = fromFile ?? builtinShapes()
let total = shapes.reduce(0) { $0 + $1.1.reduce(1, *) }
print("model: \(fromFile != nil ? path : "built-in ResNet-50 list"), \(shapes.count) weights, \(total) float32 values, \(ProcessInfo.processInfo.activeProcessorCount) cores")

// Weights: deterministic pseudo-random values; masks allocated and touched up front.
var state: UInt64 = 0x9E37_79B9_7F4A_7C15
let weights: [UnsafeMutableBufferPointer<Float>] = shapes.map { s in
    let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: s.1.reduce(1, *))
    for i in b.indices {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        b[i] = (Float(state >> 40) / Float(1 << 24) - 0.5) * 0.2
    }
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

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : s[s.count / 2]
}

func fmt(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }

/// The baseline: allocate and fill one fresh float32 buffer per weight (what producing masks as
/// new tensors costs at least), freed after the timing.
@MainActor func baselineRun() -> Double {
    let clock = ContinuousClock()
    var kept: [UnsafeMutableBufferPointer<Float>] = []
    kept.reserveCapacity(shapes.count)
    let t0 = clock.now
    for s in shapes {
        let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: s.1.reduce(1, *))
        b.initialize(repeating: 1)
        kept.append(b)
    }
    let t = seconds(clock.now - t0)
    for b in kept { b.deallocate() }
    return t
}

/// Zeros in all masks (outside the timings; nonisolated so the loop has no actor checks).
nonisolated func countZeros(_ masks: [UnsafeMutableBufferPointer<Float>]) -> Int {
    var n = 0
    for m in masks { for x in m where x == 0 { n += 1 } }
    return n
}

struct CaseResult { var name: String; var median: Double; var baseline: Double; var cpu: Double; var target: String }

/// User + system CPU seconds of this process so far (all threads).
func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6
}
var results: [CaseResult] = []

/// Alternates `runs` runs of the case with `runs` baseline runs (after one warm-up of each).
@MainActor func measure(_ name: String, runs: Int, target: String, _ body: () throws -> Void) throws {
    let clock = ContinuousClock()
    try body()
    _ = baselineRun()
    var times: [Double] = [], base: [Double] = []
    var cpu = 0.0
    for _ in 0..<runs {
        base.append(baselineRun())
        let c0 = cpuSeconds()
        let t0 = clock.now
        try body()
        times.append(seconds(clock.now - t0))
        cpu += cpuSeconds() - c0
    }
    let pruned = countZeros(masks)
    let r = CaseResult(name: name, median: median(times), baseline: median(base), cpu: cpu / Double(runs), target: target)
    results.append(r)
    print(pad(name, 26) + " \(fmt(r.median * 1000, 1)) ms  fresh buffer \(fmt(r.baseline * 1000, 1)) ms  "
          + "\(fmt(r.median / r.baseline, 2))x  CPU \(fmt(r.cpu * 1000, 1)) ms/run  (sparsity \(fmt(Double(pruned) / Double(total), 4)), \(runs) runs)")
}

do {
    for c in cases {
        switch c {
        case "level":
            let t = try targets(PruningSettings(sparseRatio: 0.8))
            try measure("level 0.8 per target", runs: runs, target: "<= 3x") { try Pruning.generateMasks(t, metric: .level) }
        case "global":
            let t = try targets(PruningSettings(sparseRatio: 0.8, globalGroupID: .string("all")))
            try measure("level 0.8 global group", runs: runs, target: "<= 3x") { try Pruning.generateMasks(t, metric: .level) }
        case "l1":
            let t = try targets(PruningSettings(sparseRatio: 0.5, granularity: .outChannel))
            try measure("L1 out_channel 0.5", runs: runs, target: "<= 3x") { try Pruning.generateMasks(t, metric: .l1Norm) }
        case "fpgm":
            let t = try targets(PruningSettings(sparseRatio: 0.5, granularity: .outChannel))
            try measure("FPGM out_channel 0.5", runs: fpgmRuns, target: ">= 5x faster than NNI") { try Pruning.generateMasks(t, metric: .fpgm) }
        default:
            print("unknown case \(c) (level, global, l1, fpgm)")
            exit(2)
        }
    }
} catch {
    print("error: \(error)")
    exit(1)
}

// NNI 3.0 on torchvision ResNet-50, after our runs.
var nni: [String: Double] = [:]
var nniNote = "not measured (--no-nni)"
let nniSelected = nniCases.filter { cases.contains($0) }
if useNNI && !nniSelected.isEmpty {
    let python = ProcessInfo.processInfo.environment["SWIFTCOMPRESS_PYTHON"] ?? "/work/nnienv/bin/python"
    // Run from the repository root; otherwise next to this source file.
    let script = FileManager.default.fileExists(atPath: "tools/bench_nni_pruning.py") ? "tools/bench_nni_pruning.py"
        : URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("tools/bench_nni_pruning.py").path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: python)
    p.arguments = [script, "--runs", "\(nniRuns)", "--fpgm-runs", "\(nniFPGMRuns)", "--cases", nniSelected.joined(separator: ",")]
    let out = Pipe()
    p.standardOutput = out
    do {
        print("NNI: \(python) \(p.arguments?.joined(separator: " ") ?? "") ...")
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let o = try? ConfigValue(json: String(line)).object else { continue }
            if let name = o["case"]?.string, let t = o["median_s"]?.number { nni[name] = t }
            if let tv = o["torch"]?.string, let nv = o["nni"]?.string {
                nniNote = "NNI \(nv), torch \(tv), \(o["threads"]?.number.map { "\(Int($0))" } ?? "?") threads: pruner.generate_masks() on torchvision resnet50, median of \(nniRuns) runs (FPGM: \(nniFPGMRuns))"
            }
        }
        if p.terminationStatus != 0 { nniNote = "NNI script exited with status \(p.terminationStatus)" }
    } catch {
        nniNote = "NNI not run: \(error)"
    }
}

print("")
print("| case | swiftcompress | fresh buffer | ratio | issue target | NNI 3.0 | NNI / swiftcompress |")
print("|---|---|---|---|---|---|---|")
for r in results {
    let n = nni[r.name]
    print("| \(r.name) | \(fmt(r.median * 1000, 1)) ms | \(fmt(r.baseline * 1000, 1)) ms | \(fmt(r.median / r.baseline, 2))x | \(r.target) | "
          + (n.map { "\(fmt($0 * 1000, 0)) ms | \(fmt($0 / r.median, 1))x" } ?? "- | -") + " |")
}
print("")
print(nniNote)
