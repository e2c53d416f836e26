import Testing
@testable import SwiftCompress

/// Parsing one target's canonical settings, ranges of every quant_dtype, errors naming the target
/// and the key, settings from a Plan (current and legacy lists), and block layouts.
@Suite struct QuantizationSettingsTests {
    func message(_ entries: [(String, ConfigValue)], target: String = "conv1.weight") -> String {
        do {
            _ = try quantSettings(target, entries)
            Issue.record("expected an error for \(entries)")
            return ""
        } catch {
            return error.description
        }
    }

    @Test func defaults() throws {
        // The template dict as the config engine fills it (quant_dtype and quant_scheme None).
        let template: ConfigObject = ["quant_dtype": nil, "quant_scheme": nil, "granularity": "default", "apply_method": "clamp_round"]
        for s in [try QuantizationSettings(template, target: "conv1.weight"), try quantSettings("conv1.weight")] {
            #expect(s.dtype == .int8)
            #expect(s.dtype.qmin == -127 && s.dtype.qmax == 127)
            #expect(s.scheme == .symmetric)
            #expect(s.granularity == .perTensor)
            #expect(s.applyMethod == .clampRound)
            #expect(s.role == .parameter)
            #expect(s.target == "conv1.weight")
        }
    }

    @Test func rolesFromTargetNames() throws {
        #expect(try quantSettings("conv1._input_0").role == .activation)
        #expect(try quantSettings("layer1.0.conv1._output_0").role == .activation)
        #expect(try quantSettings("fc._input_x").role == .activation)
        #expect(try quantSettings("weight").role == .parameter)  // root module
        #expect(try quantSettings("fc.bias").role == .parameter)
        #expect(try quantSettings("my_input_.weight").role == .parameter)  // only the last component counts
    }

    @Test func values() throws {
        let s = try quantSettings("fc.weight", [("quant_dtype", "uint4"), ("quant_scheme", "affine"),
                                               ("granularity", "per_channel"), ("apply_method", "qat_clamp_round")])
        #expect(s.dtype == .uint4 && s.dtype.qmin == 0 && s.dtype.qmax == 15)
        #expect(s.scheme == .affine)
        #expect(s.granularity == .perChannel)
        #expect(s.applyMethod == .qatClampRound)
        #expect(try quantSettings("fc.weight", [("granularity", [2, -1])]).granularity == .blocks([2, -1]))
        #expect(try quantSettings("fc.weight", [("granularity", "out_channel")]).granularity == .outChannel)
        #expect(try quantSettings("fc.weight", [("granularity", "in_channel")]).granularity == .inChannel)
        #expect(try quantSettings("fc.weight", [("apply_method", "bypass")]).applyMethod == .bypass)
    }

    /// intN: [-(2^(N-1)) + 1, 2^(N-1) - 1]; uintN: [0, 2^N - 1] (SEMANTICS.md), N from 2 to 16.
    @Test func rangesOfEveryDtype() throws {
        let expected: [(String, Int, Int)] = [
            ("int2", -1, 1), ("int3", -3, 3), ("int4", -7, 7), ("int8", -127, 127), ("int16", -32767, 32767),
            ("uint2", 0, 3), ("uint4", 0, 15), ("uint7", 0, 127), ("uint8", 0, 255), ("uint16", 0, 65535),
        ]
        for (name, lo, hi) in expected {
            let d = try #require(QuantDType(name))
            #expect(d.qmin == lo && d.qmax == hi, "\(name)")
            #expect(d.description == name)
        }
        for bad in ["int1", "int17", "uint0", "int08", "int", "float8", "Int8", "int8 "] { #expect(QuantDType(bad) == nil, "\(bad)") }
        #expect(QuantDType(isSigned: true, bits: 1) == nil)
        #expect(QuantDType(isSigned: false, bits: 16)?.qmax == 65535)
    }

    @Test func errorsNameTargetAndKey() {
        #expect(message([("quant_dtype", "int1")]) == "conv1.weight: quant_dtype: expected 'intN' or 'uintN' with N from 2 to 16, got 'int1'")
        #expect(message([("quant_dtype", 8)], target: "fc._input_0") == "fc._input_0: quant_dtype: expected 'intN' or 'uintN' with N from 2 to 16, got 8")
        #expect(message([("quant_scheme", "asymmetric")]) == "conv1.weight: quant_scheme: expected 'symmetric' or 'affine', got 'asymmetric'")
        #expect(message([("granularity", "per_row")]) == "conv1.weight: granularity: expected 'default', 'per_channel', 'out_channel', 'in_channel' or a list of block sizes (each -1 or >= 1), got 'per_row'")
        #expect(message([("granularity", [0])]) == "conv1.weight: granularity: expected 'default', 'per_channel', 'out_channel', 'in_channel' or a list of block sizes (each -1 or >= 1), got [0]")
        #expect(message([("granularity", [1.5])]) == "conv1.weight: granularity: expected 'default', 'per_channel', 'out_channel', 'in_channel' or a list of block sizes (each -1 or >= 1), got [1.5]")
        #expect(message([("apply_method", "mul")]) == "conv1.weight: apply_method: expected 'clamp_round', 'qat_clamp_round' or 'bypass', got 'mul'")
        do {
            _ = try quantSettings("conv1.weight", [("quant_dtype", "uint9x")])
        } catch {
            #expect(error.kind == .invalidSetting && error.key == "quant_dtype" && error.target == "conv1.weight")
        }
    }

    /// Settings of a Plan's targets: shorthand keys, target_settings, and a legacy list whose
    /// quant_bits the config engine translated into quant_dtype.
    @Test func fromPlan() throws {
        let modules = [ModuleInfo(name: "conv1", typeName: "Conv2d", forwardArguments: ["input"]),
                       ModuleInfo(name: "fc", typeName: "Linear", forwardArguments: ["input"])]
        let current = try Plan(json: #"[{"op_types": ["Conv2d", "Linear"], "quant_dtype": "uint8", "quant_scheme": "affine", "target_settings": {"weight": {"quant_dtype": "int4", "granularity": "per_channel"}}}]"#,
                               modules: modules, mode: .quantization)
        var seen: [String: QuantizationSettings] = [:]
        for t in current.targets { seen[t.moduleName + "." + t.targetName] = try QuantizationSettings(plan: t) }
        #expect(seen.keys.sorted() == ["conv1._input_0", "conv1._output_0", "conv1.bias", "conv1.weight",
                                       "fc._input_0", "fc._output_0", "fc.bias", "fc.weight"])
        #expect(seen["conv1.weight"]?.dtype == .int4 && seen["conv1.weight"]?.granularity == .perChannel)
        #expect(seen["conv1.weight"]?.scheme == .affine)
        #expect(seen["fc._input_0"]?.dtype == .uint8 && seen["fc._input_0"]?.role == .activation)
        #expect(seen["fc.bias"]?.role == .parameter && seen["fc.bias"]?.granularity == .perTensor)

        let legacy = try Plan(json: #"[{"quant_types": ["input", "weight"], "quant_bits": {"input": 8, "weight": 4}, "op_types": ["Conv2d"]}]"#,
                              modules: modules, mode: .quantization)
        let w = try #require(legacy.target(module: "conv1", name: "weight"))
        let i = try #require(legacy.target(module: "conv1", name: "_input_0"))
        #expect(try QuantizationSettings(plan: w).dtype == .int4)
        #expect(try QuantizationSettings(plan: i).dtype == .int8)
        #expect(try QuantizationSettings(plan: i).role == .activation)
    }

    // MARK: blocks

    func blocks(_ shape: [Int], _ g: QuantGranularity, _ role: QuantTargetRole = .parameter) throws(QuantizationError) -> QuantizationBlocks {
        try QuantizationBlocks(shape: shape, granularity: g, role: role, target: "m.t")
    }

    func blockError(_ shape: [Int], _ g: QuantGranularity, _ role: QuantTargetRole = .parameter) -> String {
        do {
            _ = try blocks(shape, g, role)
            Issue.record("expected an error for \(shape) \(g)")
            return ""
        } catch {
            #expect(error.kind == .invalidGranularity && error.key == "granularity")
            return error.description
        }
    }

    @Test func perTensorAndPerChannelBlocks() throws {
        let t = try blocks([4, 3, 2], .perTensor)
        #expect(t.scaleShape == [] && t.blockCount == 1 && t.blockIndices() == [Int](repeating: 0, count: 24))
        let scalar = try blocks([], .perTensor)
        #expect(scalar.scaleShape == [] && scalar.blockCount == 1 && scalar.elementCount == 1)

        // Parameters: one scale per index of dim 0.
        let p = try blocks([4, 3, 2], .perChannel)
        #expect(p.scaleShape == [4, 1, 1] && p.blockCount == 4)
        #expect(p.blockIndices() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3])
        #expect(try blocks([5], .perChannel).blockIndices() == [0, 1, 2, 3, 4])  // a bias: one per element
        #expect(try blocks([4, 3, 2], .outChannel).scaleShape == [4, 1, 1])

        // Activations: one per index of dim 1, whatever the batch size.
        let a = try blocks([2, 3, 2], .perChannel, .activation)
        #expect(a.scaleShape == [1, 3, 1])
        #expect(a.blockIndices() == [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2])
        #expect(try blocks([5, 3, 2], .perChannel, .activation).scaleShape == [1, 3, 1])
        #expect(try blocks([2, 3], .perChannel, .activation).blockIndices() == [0, 1, 2, 0, 1, 2])

        let i = try blocks([2, 3, 2], .inChannel)
        #expect(i.scaleShape == [1, 3, 1] && i.blockIndices() == [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2])
    }

    @Test func blockLists() throws {
        // [2, 2] on [4, 6]: 2 x 3 blocks of 2 x 2.
        let b = try blocks([4, 6], .blocks([2, 2]))
        #expect(b.scaleShape == [2, 3] && b.blockCount == 6)
        #expect(b.blockIndices() == [0, 0, 1, 1, 2, 2,
                                     0, 0, 1, 1, 2, 2,
                                     3, 3, 4, 4, 5, 5,
                                     3, 3, 4, 4, 5, 5])
        // [2] on [3, 4] is padded to [1, 2]: rows, pairs of columns.
        let c = try blocks([3, 4], .blocks([2]))
        #expect(c.scaleShape == [3, 2] && c.blockIndices() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
        // -1 takes the whole dim.
        let d = try blocks([2, 2, 3], .blocks([2, -1]))
        #expect(d.scaleShape == [2, 1, 1] && d.blockIndices() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
        let e = try blocks([2, 4, 3], .blocks([-1, 2, -1]))
        #expect(e.scaleShape == [1, 2, 1] && e.blockIndices() == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    }

    @Test func granularityErrors() {
        #expect(blockError([4], .blocks([3])) == "m.t: granularity: block size 3 does not divide dim 0 of shape [4]")
        #expect(blockError([4, 4], .blocks([1, 2, 2])) == "m.t: granularity: block sizes [1, 2, 2] have more entries than the target's rank 2 (shape [4, 4])")
        #expect(blockError([8], .perChannel, .activation) == "m.t: granularity: 'per_channel' needs a tensor of rank >= 2 (batch, channel, ...), got shape [8]")
        #expect(blockError([], .perChannel) == "m.t: granularity: 'out_channel' needs a tensor of rank >= 1, got shape []")
        #expect(blockError([2, 3], .outChannel, .activation) == "m.t: granularity: 'out_channel' is for parameters; use 'per_channel' for inputs/outputs")
        #expect(blockError([6], .inChannel) == "m.t: granularity: 'in_channel' needs a tensor of rank >= 2, got shape [6]")
        for shape in [[2, -1], [Int.max, 3]] {
            #expect(throws: QuantizationError(.shapeMismatch, target: "m.t", "shape \(shape) has a negative dimension or too many elements")) {
                _ = try blocks(shape, .perTensor)
            }
        }
    }
}
