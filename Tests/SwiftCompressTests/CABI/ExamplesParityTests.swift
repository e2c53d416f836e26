import Foundation
import Testing
@testable import SwiftCompress

/// The C/C++ examples in examples/c/ print per-target mask statistics that tests/c/run.sh diffs
/// against examples/c/expected/*.txt. These tests run the same module lists, config lists, metrics
/// and LCG-filled weights through the Swift API (`Plan` + `Pruning.generateMasks` +
/// `Pruning.applyMask`) and check that they print the same text, so the masks written through the
/// C ABI equal the Swift API's (kept counts, zeros after apply and an FNV-1a hash of every mask).
@Suite struct ExamplesParityTests {
    static let expectedDir = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("examples/c/expected")

    static func expected(_ name: String) throws -> String {
        try String(contentsOf: expectedDir.appendingPathComponent(name), encoding: .utf8)
    }

    /// The examples' LCG (Knuth's MMIX constants).
    struct LCG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
        /// A 24-bit integer / 2^23 in [-1, 1) (exact in float32): prune_mlp.c, prune_conv.cpp.
        mutating func float24() -> Double { Double(Int64(next() >> 40) - (1 << 23)) / Double(1 << 23) }
        /// An 11-bit integer / 1024 in [-1, 1) (exact in float16): prune_strided_f16.c.
        mutating func half11() -> Double { Double(Int64(next() >> 53) - 1024) / 1024 }
        /// An 8-bit integer / 128 in [-1, 1) (exact in bfloat16): prune_strided_f16.c.
        mutating func bfloat8() -> Double { Double(Int64(next() >> 56) - 128) / 128 }
    }

    /// One parameter of an example model: logical row-major values and how they are stored.
    struct Parameter {
        var shape: [Int]
        var values: [Double]
        var dtype: ElementType = .float32
        var strides: [Int]? = nil
        var maskDType: ElementType = .float32
        var maskStrides: [Int]? = nil
    }

    /// Resolves `config` for `modules`, binds every target to its parameter, generates masks with
    /// `metric`, applies them and returns the examples' lines: the title with the target count,
    /// then one line per target in the plan's order. A target with no parameter is absent (as the
    /// examples bind it with NULL buffers): it is left out of the target list, as NNI skips it.
    /// `kept` collects the kept counts by target.
    static func run(title: String, modules: String, config: String, metric: PruningMetricKind,
                    parameters: [String: Parameter], kept: inout [String: Int]) throws -> [String] {
        let plan = try Plan(json: config, modules: ModuleInfo.list(fromJSON: modules), mode: .pruning)
        let buffers = TestBuffers()
        var targets: [PruningTarget] = []
        var tensors: [MutableTensorView] = []
        var absent: Set<String> = []
        for t in plan.targets {
            let name = t.moduleName + "." + t.targetName
            guard let p = parameters[name] else {
                absent.insert(name)
                continue
            }
            let tensor = try buffers.mutableView(p.values, shape: p.shape, strides: p.strides, dtype: p.dtype)
            let mask = try buffers.mutableView([Double](repeating: -1, count: p.values.count), shape: p.shape,
                                               strides: p.maskStrides, dtype: p.maskDType)
            tensors.append(tensor)
            targets.append(PruningTarget(moduleName: t.moduleName, targetName: t.targetName,
                                         settings: try PruningSettings(t.settings, target: name),
                                         tensor: tensor.readOnly, mask: mask))
        }
        try Pruning.generateMasks(targets, metric: metric)
        for (t, tensor) in zip(targets, tensors) {
            try Pruning.applyMask(t.mask.readOnly, to: tensor, method: t.settings.applyMethod, name: t.qualifiedName)
        }
        var lines = ["\(title): \(plan.targets.count) targets"]
        var present = zip(targets, tensors).makeIterator()
        for planned in plan.targets {
            let name = planned.moduleName + "." + planned.targetName
            if absent.contains(name) {
                lines.append("  " + left(name, 13) + " absent")
                continue
            }
            guard let (t, tensor) = present.next() else { break }
            let bits = t.mask.allValues.map { $0 != 0 ? 1 : 0 }
            let k = bits.reduce(0, +)
            let zeros = tensor.allValues.filter { $0 == 0 }.count
            kept[t.qualifiedName] = k
            lines.append(line(name: t.qualifiedName, shape: t.tensor.shape, kept: k, count: bits.count, zeros: zeros,
                              hash: fnv1a(bits)))
        }
        return lines
    }

    static func left(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }

    /// FNV-1a (64-bit) over one byte per element.
    static func fnv1a(_ bits: [Int]) -> UInt64 {
        var h: UInt64 = 14695981039346656037
        for b in bits { h = (h ^ UInt64(b)) &* 1099511628211 }
        return h
    }

    /// `"  %-13s %-14s kept %4lld/%-4lld sparsity %.4f zeros %4lld mask %016llx"`, as the examples print.
    static func line(name: String, shape: [Int], kept: Int, count: Int, zeros: Int, hash: UInt64) -> String {
        func right(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
        let shapeText = "[" + shape.map(String.init).joined(separator: ", ") + "]"
        let sparsity = String(format: "%.4f", Double(count - kept) / Double(count))
        return "  " + left(name, 13) + " " + left(shapeText, 14) + " kept " + right(String(kept), 4) + "/" + left(String(count), 4)
            + " sparsity " + sparsity + " zeros " + right(String(zeros), 4) + " mask " + right(String(hash, radix: 16), 16).replacingOccurrences(of: " ", with: "0")
    }

    // MARK: - prune_mlp.c

    static let mlpModules = """
        [{"name": "", "type": "MLP"}, {"name": "fc1", "type": "Linear"}, {"name": "relu1", "type": "ReLU"},
         {"name": "fc2", "type": "Linear"}, {"name": "relu2", "type": "ReLU"}, {"name": "fc3", "type": "Linear"}]
        """

    @Test func pruneMLP() throws {
        // Filled in the order of prune_mlp.c's `params` table from the LCG seeded with 42.
        var lcg = LCG(state: 42)
        var parameters: [String: Parameter] = [:]
        for (name, shape) in [("fc1.weight", [32, 16]), ("fc1.bias", [32]), ("fc2.weight", [32, 32]), ("fc2.bias", [32]),
                              ("fc3.weight", [10, 32]), ("fc3.bias", [10])] {
            parameters[name] = Parameter(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in lcg.float24() })
        }
        var kept: [String: Int] = [:]
        let level = try Self.run(title: "level 0.5 on fc1, fc3", modules: Self.mlpModules,
                                 config: #"[{"op_types": ["Linear"], "exclude_op_names": ["fc2"], "sparse_ratio": 0.5}]"#,
                                 metric: .level, parameters: parameters, kept: &kept)
        let l1 = try Self.run(title: "L1 out_channel 0.5 on fc2", modules: Self.mlpModules,
                              config: #"[{"op_names": ["fc2"], "sparse_ratio": 0.5, "granularity": "out_channel"}]"#,
                              metric: .l1Norm, parameters: parameters, kept: &kept)
        #expect((level + l1).joined(separator: "\n") + "\n" == (try Self.expected("prune_mlp.txt")))
        // Hand-computed: int(512 * 0.5) and int(320 * 0.5) weights pruned; 16 of fc2's 32 rows of 32.
        #expect(kept["fc1.weight"] == 256)
        #expect(kept["fc3.weight"] == 160)
        #expect(kept["fc2.weight"] == 16 * 32)
        #expect(kept["fc2.bias"] == 16)
    }

    // MARK: - prune_conv.cpp

    @Test func pruneConv() throws {
        let modules = """
            [{"name": "", "type": "SmallConvNet"},
             {"name": "conv1", "type": "Conv2d"}, {"name": "bn1", "type": "BatchNorm2d"}, {"name": "relu", "type": "ReLU"},
             {"name": "conv2", "type": "Conv2d"}, {"name": "bn2", "type": "BatchNorm2d"},
             {"name": "conv3", "type": "Conv2d"}, {"name": "bn3", "type": "BatchNorm2d"},
             {"name": "pool", "type": "AdaptiveAvgPool2d"}, {"name": "fc", "type": "Linear"}]
            """
        let config = """
            [{"op_names": ["conv2", "conv3"], "sparse_ratio": 0.5, "global_group_id": "body"},
             {"op_names": ["conv1"], "sparse_ratio": 0.25},
             {"op_names": ["bn1"], "target_settings": {
                 "weight": {"align": {"module_name": "conv1", "target_name": "weight", "dims": [0]}},
                 "bias": {"align": {"module_name": "conv1", "target_name": "weight", "dims": [0]}}}},
             {"op_names": ["bn2"], "target_settings": {
                 "weight": {"align": {"module_name": "conv2", "target_name": "weight", "dims": [0]}},
                 "bias": {"align": {"module_name": "conv2", "target_name": "weight", "dims": [0]}}}},
             {"op_names": ["bn3"], "target_settings": {
                 "weight": {"align": {"module_name": "conv3", "target_name": "weight", "dims": [0]}},
                 "bias": {"align": {"module_name": "conv3", "target_name": "weight", "dims": [0]}}}},
             {"op_types": ["Linear"], "sparse_ratio": 0.25}]
            """
        var lcg = LCG(state: 7)
        var parameters: [String: Parameter] = [:]
        let shapes: [(String, [Int])] = [
            ("conv1.weight", [8, 3, 3, 3]), ("conv1.bias", [8]), ("bn1.weight", [8]), ("bn1.bias", [8]),
            ("conv2.weight", [8, 8, 3, 3]), ("bn2.weight", [8]), ("bn2.bias", [8]),  // conv2, conv3: bias=False
            ("conv3.weight", [16, 8, 3, 3]), ("bn3.weight", [16]), ("bn3.bias", [16]),
            ("fc.weight", [10, 16]), ("fc.bias", [10]),
        ]
        for (name, shape) in shapes {
            parameters[name] = Parameter(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in lcg.float24() })
        }
        var kept: [String: Int] = [:]
        let lines = try Self.run(title: "L1, global group of conv2 + conv3, aligned biases and BatchNorms", modules: modules,
                                 config: config, metric: .l1Norm, parameters: parameters, kept: &kept)
        #expect(lines.joined(separator: "\n") + "\n" == (try Self.expected("prune_conv.txt")))
        // Hand-computed: the global group keeps 12 of its 24 channels of 72 weights; conv1 keeps 6
        // of 8 channels of 27; fc keeps 8 of 10 rows (int(10 * 0.25) = 2 pruned); each aligned
        // BatchNorm keeps as many channels as its conv.
        let conv2Channels = try #require(kept["conv2.weight"]) / 72
        let conv3Channels = try #require(kept["conv3.weight"]) / 72
        #expect(conv2Channels + conv3Channels == 12)
        #expect(kept["bn2.weight"] == conv2Channels && kept["bn2.bias"] == conv2Channels)
        #expect(kept["conv2.bias"] == nil && lines.contains("  conv2.bias    absent"))
        #expect(kept["bn3.weight"] == conv3Channels && kept["bn3.bias"] == conv3Channels)
        #expect(kept["conv1.weight"] == 6 * 27 && kept["bn1.weight"] == 6 && kept["bn1.bias"] == 6)
        #expect(kept["fc.weight"] == 8 * 16 && kept["fc.bias"] == 8)
    }

    // MARK: - prune_strided_f16.c

    @Test func pruneStridedHalf() throws {
        let modules = #"[{"name": "", "type": "Net"}, {"name": "conv", "type": "Conv2d"}, {"name": "fc", "type": "Linear"}]"#
        let config = """
            [{"op_names": ["conv"], "target_names": ["weight"], "sparse_ratio": 0.5},
             {"op_names": ["fc"], "target_names": ["weight"], "sparse_ratio": 0.34, "granularity": "in_channel"}]
            """
        var lcg = LCG(state: 2024)
        let conv = (0..<(16 * 8 * 3 * 3)).map { _ in lcg.half11() }
        let fc = (0..<(12 * 24)).map { _ in lcg.bfloat8() }
        let parameters: [String: Parameter] = [
            // channels_last storage, float16 mask with the same strides.
            "conv.weight": Parameter(shape: [16, 8, 3, 3], values: conv, dtype: .float16, strides: [72, 1, 24, 8],
                                     maskDType: .float16, maskStrides: [72, 1, 24, 8]),
            // transposed bfloat16 storage, contiguous float32 mask.
            "fc.weight": Parameter(shape: [12, 24], values: fc, dtype: .bfloat16, strides: [1, 12]),
        ]
        var kept: [String: Int] = [:]
        let lines = try Self.run(title: "L2, float16 channels_last conv + transposed bfloat16 linear", modules: modules,
                                 config: config, metric: .l2Norm, parameters: parameters, kept: &kept)
        #expect(lines.joined(separator: "\n") + "\n" == (try Self.expected("prune_strided_f16.txt")))
        // Hand-computed: 8 of 16 output channels of 72; int(24 * 0.34) = 8 of 24 input columns of 12.
        #expect(kept["conv.weight"] == 8 * 72)
        #expect(kept["fc.weight"] == 16 * 12)
    }
}
