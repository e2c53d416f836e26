import Foundation
import Testing
@testable import SwiftCompress

/// Masks equal to NNI 3.0's on the fixtures written by tools/make_pruning_fixtures.py.
@Suite struct PruningNNIParityTests {
    static let fixtureDir = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/pruning")

    static func load(_ name: String) throws -> ConfigObject {
        let text = try String(contentsOf: fixtureDir.appendingPathComponent(name), encoding: .utf8)
        guard let o = try ConfigValue(json: text).object else { throw TensorViewError("\(name) is not a JSON object") }
        return o
    }

    static func metricKind(_ pruner: String) -> PruningMetricKind? {
        switch pruner {
        case "level": return .level
        case "l1": return .l1Norm
        case "l2": return .l2Norm
        case "fpgm": return .fpgm
        default: return nil
        }
    }

    struct Outcome { var equal = 0; var total = 0; var mismatches: [String] = [] }

    /// Runs one case; returns how many target masks equal NNI's.
    static func run(_ c: ConfigObject, weights: ConfigObject) throws -> Outcome {
        let caseName = c["name"]?.string ?? "?"
        guard let kind = metricKind(c["pruner"]?.string ?? ""), let targets = c["targets"]?.array else { return Outcome() }
        var values: [[Float]] = []
        var masks: [[Float]] = []
        var expected: [[Float]] = []
        var meta: [(String, String, [Int], ConfigObject)] = []
        for t in targets {
            guard let o = t.object, let module = o["module"]?.string, let target = o["target"]?.string,
                  let shape = o["shape"]?.array?.compactMap({ v -> Int? in if case .int(let i) = v { return i } else { return nil } }),
                  let settings = o["settings"]?.object, let mask = o["mask"]?.array,
                  let w = weights[module.isEmpty ? target : module + "." + target]?.object?["values"]?.array
            else { throw TensorViewError("bad fixture target in \(caseName)") }
            values.append(w.map { Float($0.number ?? .nan) })
            expected.append(mask.map { Float($0.number ?? .nan) })
            masks.append([Float](repeating: -7, count: w.count))
            meta.append((module, target, shape, settings))
        }
        var outcome = Outcome()
        let buffers = TestBuffers()
        var list: [PruningTarget] = []
        var maskViews: [MutableTensorView] = []
        for i in meta.indices {
            let (module, target, shape, settings) = meta[i]
            let tv = try buffers.view(values[i], shape: shape)
            let mv = try buffers.mutableView([Float](repeating: -7, count: values[i].count), shape: shape)
            maskViews.append(mv)
            list.append(PruningTarget(moduleName: module, targetName: target,
                                      settings: try PruningSettings(settings, target: module + "." + target), tensor: tv, mask: mv))
        }
        try Pruning.generateMasks(list, metric: kind)
        for i in meta.indices { masks[i] = try (0..<maskViews[i].count).map { Float(try maskViews[i].value(atLogicalIndex: $0)) } }
        for i in meta.indices {
            outcome.total += 1
            if masks[i] == expected[i] { outcome.equal += 1 } else {
                outcome.mismatches.append("\(caseName): \(meta[i].0).\(meta[i].1) kept \(masks[i].filter { $0 == 1 }.count) vs NNI \(expected[i].filter { $0 == 1 }.count)")
            }
        }
        return outcome
    }

    @Test func masksEqualNNI() throws {
        let weights = try Self.load("weights.json")["parameters"]?.object ?? ConfigObject()
        let cases = try Self.load("cases.json")["cases"]?.array ?? []
        #expect(cases.count >= 20)
        var equal = 0, total = 0
        var mismatches: [String] = []
        for c in cases {
            guard let o = c.object else { continue }
            let r = try Self.run(o, weights: weights)
            equal += r.equal; total += r.total; mismatches += r.mismatches
        }
        print("NNI parity: \(equal)/\(total) masks equal")
        // Where we follow the documents (docs/pruning.md, "Deviations from NNI 3.0"):
        // - align of a 1-D source with every dim kept: NNI's `sum(dim=[])` reduces all dims, so a
        //   BatchNorm bias keeps every channel; we keep channel i iff weight i is kept.
        // - a global group whose members have different block sizes: NNI's heap walk prunes fewer
        //   elements than int(total * ratio) (here 360 of 432); we prune the longest prefix of the
        //   global order that fits (432).
        let documentedDeviations = [
            "level_ratio_per_target: bn1.bias kept 4 vs NNI 8",
            "l2_ratio: bn1.bias kept 6 vs NNI 8",
            "l1_global_mixed_rows: conv2.weight kept 432 vs NNI 504",
            "l1_global_mixed_rows: conv2.bias kept 6 vs NNI 7",
        ]
        #expect(mismatches == documentedDeviations, "\(mismatches.joined(separator: "\n"))")
        #expect(equal == total - documentedDeviations.count)
        #expect(total > 100)
    }
}
