import Testing
@testable import SwiftCompress

let prunedWeight: ConfigObject = [
    "sparse_ratio": nil, "max_sparse_ratio": nil, "min_sparse_ratio": nil, "sparse_threshold": nil,
    "global_group_id": nil, "dependency_group_id": nil, "granularity": "default",
    "internal_metric_block": nil, "apply_method": "mul",
]
let alignedBias: ConfigObject = ["align": ["module_name": nil, "target_name": "weight", "dims": [0]], "apply_method": "mul"]
let quantTarget: ConfigObject = ["quant_dtype": nil, "quant_scheme": nil, "granularity": "default", "apply_method": "clamp_round"]

func with(_ base: ConfigObject, _ changes: [(String, ConfigValue)]) -> ConfigObject {
    var o = base
    for (k, v) in changes { o[k] = v }
    return o
}

/// Canonical settings per target (SEMANTICS.md "Settings per target"); the expected dicts are the
/// templates written out by hand with the documented merges applied.
@Suite struct SettingsTests {
    @Test func shorthandFillsEveryTemplateTargetThatHasTheKey() throws {
        let p = try plan(#"[{"op_names": ["fc1"], "sparse_ratio": 0.8, "apply_method": "add"}]"#)
        #expect(p.targets.map(\.targetName) == ["weight", "bias"])
        #expect(p.targets[0].settings == with(prunedWeight, [("sparse_ratio", 0.8), ("apply_method", "add")]))
        #expect(p.targets[1].settings == with(alignedBias, [("apply_method", "add")]))
        #expect(p.targets.allSatisfy { $0.kind == .parameter && $0.configIndex == 0 && $0.moduleType == "Linear" })
    }

    @Test func theSpecExampleShorthandEqualsTheStandardConfig() throws {
        // compression-config-v3.rst: shorthand_config and standard_config "have same effect".
        let models = [ModuleInfo(name: "fc1", typeName: "Linear"), ModuleInfo(name: "fc2", typeName: "Linear")]
        let short = try plan(#"[{"op_types": ["Linear"], "sparse_ratio": 0.8}]"#, modules: models)
        let standard = try plan(#"""
            [{"op_names": ["fc1", "fc2"], "target_names": ["weight", "bias"], "target_settings": {
              "weight": {"sparse_ratio": 0.8, "max_sparse_ratio": null, "min_sparse_ratio": null, "sparse_threshold": null,
                         "global_group_id": null, "dependency_group_id": null, "granularity": "default",
                         "internal_metric_block": null, "apply_method": "mul"},
              "bias": {"align": {"target_name": "weight", "dims": [0]}, "apply_method": "mul"}}}]
            """#, modules: models)
        #expect(short.targets.map(\.targetName) == standard.targets.map(\.targetName))
        #expect(short.targets.map { $0.settings["sparse_ratio"] } == standard.targets.map { $0.settings["sparse_ratio"] })
        #expect(short.targets[0].settings == standard.targets[0].settings)
    }

    @Test func alignAsShorthandOnlyReachesBias() throws {
        let p = try plan(#"[{"op_names": ["fc1", "embed"], "sparse_ratio": 0.5, "align": {"module_name": "fc2", "target_name": "weight", "dims": [0]}}]"#)
        #expect(p.target(module: "fc1", name: "bias")?.settings["align"] == ["module_name": "fc2", "target_name": "weight", "dims": [0]])
        #expect(p.target(module: "fc1", name: "weight")?.settings["align"] == nil)
        #expect(p.targets(ofModule: "embed").map(\.targetName) == ["weight"])
    }

    @Test func targetSettingsMergeKeyByKeyAndCanAddTargets() throws {
        let p = try plan(#"""
            [{"op_names": ["conv1"], "sparse_ratio": 0.5, "target_names": ["weight", "_output_"],
              "target_settings": {"weight": {"granularity": "out_channel", "sparse_ratio": 0.25},
                                  "_output_": {"apply_method": "add", "granularity": "per_channel"}}}]
            """#)
        #expect(p.targets.map(\.targetName) == ["weight", "_output_0"])
        #expect(p.targets[0].settings == with(prunedWeight, [("sparse_ratio", 0.25), ("granularity", "out_channel")]))
        // A target added by target_settings has only its own keys: shorthand does not reach it.
        #expect(p.targets[1].settings == ["apply_method": "add", "granularity": "per_channel"])
        #expect(p.targets[1].kind == .output(index: 0, key: nil))
    }

    @Test func targetNamesPicksTargetsAndMovesInputsAndOutputsLast() throws {
        let p = try plan(#"[{"op_names": ["fc1"], "target_names": ["_input_", "_output_", "weight"], "quant_dtype": "int4"}]"#, .quantization)
        // NNI removes `_input_`/`_output_` and appends `_input_0`/`_output_0`.
        #expect(p.targets.map(\.targetName) == ["weight", "_input_0", "_output_0"])
        #expect(p.targets.allSatisfy { $0.settings == with(quantTarget, [("quant_dtype", "int4")]) })
        #expect(p.targets.map(\.kind) == [.parameter, .input(position: 0, name: nil), .output(index: 0, key: nil)])
    }

    @Test func namedInputsMapToForwardPositions() throws {
        let modules = [ModuleInfo(name: "attn", typeName: "MultiheadAttention", forwardArguments: ["query", "key", "value"])]
        var templates = SettingTemplates.standard
        try templates.register("MultiheadAttention", mode: .quantization, targets: ["_input_": .object(quantTarget)])
        let p = try plan(#"""
            [{"op_names": ["attn"], "target_names": ["_input_value", "_input_1", "_input_query"],
              "target_settings": {"_input_value": {"quant_dtype": "uint8"}}}]
            """#, .quantization, modules: modules, templates: templates)
        #expect(p.targets.map(\.targetName) == ["_input_value", "_input_1", "_input_query"])
        #expect(p.targets.map(\.kind) == [.input(position: 2, name: "value"), .input(position: 1, name: nil), .input(position: 0, name: "query")])
        // `_input_value` takes its own target_settings entry; the others take the `_input_` template.
        #expect(p.targets[0].settings == ["quant_dtype": "uint8"])
        #expect(p.targets[2].settings == quantTarget)
        #expect(errorMessage2(#"[{"op_names": ["attn"], "target_names": ["_input_x"]}]"#, .quantization, modules, templates)
            == "config_list[0].target_names[0]: expected an input of MultiheadAttention.forward (_input_query, _input_key, _input_value, or _input_<position>) for module 'attn', got '_input_x'")
        let far = try plan(#"[{"op_names": ["attn"], "target_names": ["_input_5"], "quant_dtype": "int8"}]"#, .quantization, modules: modules, templates: templates)
        #expect(far.report.warnings.map(\.kind) == [.inputOutOfRange])
    }

    @Test func unknownForwardArgumentsKeepNamedInputsWithoutPosition() throws {
        let modules = [ModuleInfo(name: "fc", typeName: "Linear")]
        let p = try plan(#"[{"op_names": ["fc"], "target_names": ["_input_input", "_output_logits"]}]"#, .quantization, modules: modules)
        #expect(p.targets.map(\.kind) == [.input(position: nil, name: "input"), .output(index: nil, key: "logits")])
    }

    @Test func targetTheModuleTypeLacksIsAnError() {
        #expect(errorMessage(#"[{"op_names": ["embed"], "target_names": ["weight", "bias"], "sparse_ratio": 0.5}]"#)
            == "config_list[0].target_names[1]: expected a target that Embedding modules have in pruning ('weight') or one defined in target_settings, for module 'embed', got 'bias'")
        #expect(errorMessage(#"[{"op_types": ["Linear"], "target_names": ["_input_"]}]"#)
            == "config_list[0].target_names[0]: expected a target that Linear modules have in pruning ('weight', 'bias') or one defined in target_settings, for module 'fc1', got '_input_0'")
    }

    @Test func firstConfigWinsInTheCurrentFormat() throws {
        let p = try plan(#"""
            [{"op_names": ["fc1"], "target_names": ["weight"], "sparse_ratio": 0.5},
             {"op_types": ["Linear"], "sparse_ratio": 0.9}]
            """#)
        #expect(p.target(module: "fc1", name: "weight")?.settings["sparse_ratio"] == 0.5)
        #expect(p.target(module: "fc1", name: "weight")?.configIndex == 0)
        // fc1.bias was not configured by config 0, so config 1 configures it.
        #expect(p.target(module: "fc1", name: "bias")?.configIndex == 1)
        #expect(p.target(module: "fc2", name: "weight")?.settings["sparse_ratio"] == 0.9)
        #expect(p.report.warnings.map(\.message) == [
            "config_list[1] reaches fc1.weight, already configured by config_list[0]; ignored (each target is configured once)"
        ])
        // Targets are in model order, then in the order they were configured.
        #expect(p.targets.map { "\($0.moduleName).\($0.targetName)" } == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
    }

    @Test func unusedShorthandIsReported() throws {
        let p = try plan(#"[{"op_names": ["embed"], "sparse_ratio": 0.5, "align": {"target_name": "weight", "dims": [0]}}]"#)
        #expect(p.report.warnings.map(\.message) == ["config_list[0].align reaches no target of the selected modules and is dropped"])
        // sparse_ratio only reaches `weight`; with target_names ['bias'] it reaches nothing.
        let q = try plan(#"[{"op_names": ["fc1"], "target_names": ["bias"], "sparse_ratio": 0.5}]"#)
        #expect(q.report.warnings.map(\.kind) == [.unusedShorthand, .alignSourceMissing])
        // Overridden by target_settings for the only target that has it: dropped too.
        let r = try plan(#"[{"op_names": ["fc1"], "target_names": ["weight"], "sparse_ratio": 0.5, "target_settings": {"weight": {"sparse_ratio": 0.1}}}]"#)
        #expect(r.report.warnings.map(\.kind) == [.unusedShorthand])
        #expect(r.targets[0].settings["sparse_ratio"] == 0.1)
    }

    @Test func quantizationTemplates() throws {
        let p = try plan(#"[{"op_types": ["Conv2d", "ReLU", "BatchNorm2d"], "quant_dtype": "int8", "quant_scheme": "affine"}]"#, .quantization)
        let full = with(quantTarget, [("quant_dtype", "int8"), ("quant_scheme", "affine")])
        #expect(p.targets(ofModule: "conv1").map(\.targetName) == ["weight", "bias", "_input_0", "_output_0"])
        #expect(p.targets(ofModule: "relu").map(\.targetName) == ["_input_0", "_output_0"])
        #expect(p.targets(ofModule: "bn1").map(\.targetName) == ["weight", "bias", "_input_0", "_output_0"])
        #expect(p.targets.allSatisfy { $0.settings == full })
        // Linear has a quantization template; Embedding does not.
        let q = try plan(#"[{"op_types": ["Embedding"]}]"#, .quantization)
        #expect(q.report.warnings.map(\.kind) == [.missingTemplate, .selectsNothing])
    }

    @Test func distillationKnowsEveryModuleType() throws {
        let p = try plan(#"[{"op_names": ["relu", ""], "lambda": 0.5, "link": ["fc1", "fc2"], "apply_method": "kl"}]"#, .distillation)
        #expect(p.targets.map(\.moduleName) == ["", "relu"])
        #expect(p.targets.allSatisfy { $0.targetName == "_output_0" && $0.settings == ["lambda": 0.5, "link": ["fc1", "fc2"], "apply_method": "kl"] })
        let d = try plan(#"[{"op_names": ["fc1"]}]"#, .distillation)
        #expect(d.targets[0].settings == ["lambda": nil, "link": nil, "apply_method": nil])
    }

    @Test func registeredTemplatesExtendAMode() throws {
        var templates = SettingTemplates.standard
        try templates.register("ReLU", mode: .pruning, targets: ["_output_": ["sparse_ratio": nil, "granularity": "per_channel", "apply_method": "mul"]])
        let p = try plan(#"[{"op_types": ["ReLU"], "sparse_ratio": 0.3}]"#, templates: templates)
        #expect(p.targets.map(\.targetName) == ["_output_0"])
        #expect(p.targets[0].settings == ["sparse_ratio": 0.3, "granularity": "per_channel", "apply_method": "mul"])
        #expect(templates.registeredTypes(mode: .pruning).contains("ReLU"))
        #expect(!SettingTemplates.standard.registeredTypes(mode: .pruning).contains("ReLU"))
        #expect(throws: ConfigError.self) { try templates.register("X", mode: .pruning, targets: ["weight": 1]) }
        #expect(throws: ConfigError.self) { try templates.register("", mode: .pruning, targets: [:]) }
    }

    @Test func fuseNamesAreRecordedAndChecked() throws {
        let p = try plan(#"[{"op_names": ["conv1"], "quant_dtype": "int8", "fuse_names": [["conv1", "bn1"]]}]"#, .quantization)
        #expect(p.fusions == [["conv1", "bn1"]])
        #expect(errorMessage(#"[{"op_names": ["conv1"], "fuse_names": [["conv1", "bn9"]]}]"#, .quantization)
            == "config_list[0].fuse_names[0][1]: expected the name of a module of the model, got 'bn9'")
        #expect(errorMessage(#"[{"op_names": ["conv1"], "fuse_names": [["conv2", "bn1"]]}]"#, .quantization)
            == "config_list[0].fuse_names[0][0]: expected a module this config selects (the first module of a fusion is the one configured), got 'conv2'")
        #expect(errorMessage(#"[{"op_names": ["conv1"], "fuse_names": [["conv1"]]}]"#, .quantization)
            == "config_list[0].fuse_names[0]: expected at least two module names (the module, then the modules fused into it), got ['conv1']")
    }

    @Test func alignToATargetThePlanLacksIsReported() throws {
        let p = try plan(#"[{"op_names": ["fc1"], "target_names": ["bias"]}]"#)
        #expect(p.report.warnings.map(\.kind) == [.alignSourceMissing])
    }
}

func errorMessage2(_ json: String, _ mode: CompressionMode, _ modules: [ModuleInfo], _ templates: SettingTemplates) -> String {
    do {
        _ = try Plan(json: json, modules: modules, mode: mode, templates: templates)
        return "accepted"
    } catch {
        return error.description
    }
}
