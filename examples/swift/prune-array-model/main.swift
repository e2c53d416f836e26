// Prunes a small array-backed model from Swift: plan -> bind -> generate, no pointers, no glue.
//
//   swift run prune-array-model
//
// The model is two Linear layers whose weights and biases live in Swift arrays. The config list is
// NNI's: prune 50% of fc1's weight rows (out_channel) and 75% of fc2's weight rows (the L1
// pruner's default granularity is out_channel too: int(2 * 0.75) = 1 of its 2 rows); fc1's bias
// follows its weight (the templates align a bias to weight dim 0).
//
// Prints:
//   fc1.weight [4, 3]: kept 6 of 12; mask [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]
//   fc1.bias [4]: kept 2 of 4; mask [0, 1, 0, 1]
//   fc2.weight [2, 4]: kept 4 of 8; mask [1, 1, 1, 1, 0, 0, 0, 0]
import SwiftCompress

let modules = [
    ModuleInfo(name: "fc1", typeName: "Linear", forwardArguments: ["input"]),
    ModuleInfo(name: "fc2", typeName: "Linear", forwardArguments: ["input"]),
]
let configList = """
[{"op_names": ["fc1"], "sparse_ratio": 0.5, "granularity": "out_channel"},
 {"op_names": ["fc2"], "sparse_ratio": 0.75, "target_names": ["weight"]}]
"""

/// The model's parameters: weight [out, in] and bias [out] per layer, row-major.
var parameters: [String: (shape: [Int], values: [Float])] = [
    "fc1.weight": ([4, 3], [0.1, -0.2, 0.3, 2.0, 1.5, -1.0, 0.01, 0.02, -0.03, -3.0, 0.5, 0.25]),
    "fc1.bias": ([4], [0.1, 0.2, 0.3, 0.4]),
    "fc2.weight": ([2, 4], [0.5, -0.1, 0.9, -0.05, 0.3, 0.7, -0.2, 0.01]),
    "fc2.bias": ([2], [0.0, 1.0]),
]

do {
    let session = CompressionSession(mode: .pruning)
    try session.addModules(modules)
    try session.setConfig(configList)

    // One array target per resolved target of the plan.
    var targets: [ArrayTarget<Float>] = []
    for t in session.plan?.targets ?? [] {
        guard let p = parameters[t.qualifiedName] else { continue }  // a target the model lacks is bound absent
        targets.append(ArrayTarget(module: t.moduleName, target: t.targetName, shape: p.shape, values: p.values))
    }
    try session.prune(&targets, metric: .l1Norm, apply: true)

    for t in targets {
        let kept = t.mask.filter { $0 == 1 }.count
        print("\(t.module).\(t.target) \(t.shape): kept \(kept) of \(t.mask.count); mask \(t.mask.map { Int($0) })")
    }
} catch {
    print("error: \(error)")
}
