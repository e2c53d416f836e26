import Testing
@testable import SwiftCompress

/// Legacy (v2) lists: detection and every translation (SEMANTICS.md; compression-config-v2.txt,
/// pruning-config-v2.txt).
@Suite struct LegacyTests {
    @Test func detectionLooksAtTheFirstConfigOnly() throws {
        for key in ["exclude", "sparsity", "sparsity_per_layer", "total_sparsity"] {
            let value = key == "exclude" ? "true" : "0.5"
            #expect(try plan(#"[{"op_types": ["Linear"], "\#(key)": \#(value)}]"#).isLegacy, "\(key)")
        }
        #expect(try plan(#"[{"op_types": ["Linear"], "quant_types": ["weight"], "quant_bits": 8}]"#, .quantization).isLegacy)
        #expect(try !plan(#"[{"op_types": ["Linear"], "sparse_ratio": 0.5}]"#).isLegacy)
        // A legacy key after a current-format first config is an error with a hint.
        #expect(errorMessage(#"[{"op_types": ["Linear"], "sparse_ratio": 0.5}, {"op_names": ["fc1"], "sparsity": 0.8}]"#)
            == "config_list[1].sparsity: expected a pruning key (sparse_ratio, max_sparse_ratio, min_sparse_ratio, sparse_threshold, global_group_id, dependency_group_id, granularity, internal_metric_block, apply_method, align, mask_structure, op_names, op_names_re, op_types, exclude_op_names, exclude_op_names_re, exclude_op_types, target_names, target_settings); 'sparsity' is a legacy key, and this list is read in the current format because its first config has none of exclude, sparsity, sparsity_per_layer, total_sparsity, quant_types, got 'sparsity'")
    }

    @Test(arguments: ["sparsity", "sparsity_per_layer"])
    func sparsityBecomesWeightSparseRatio(key: String) throws {
        let p = try plan(#"[{"op_types": ["Conv2d"], "\#(key)": 0.5}, {"op_names": ["fc1"], "\#(key)": 0.8}]"#)
        #expect(p.targets.map { "\($0.moduleName).\($0.targetName)" } == ["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias"])
        #expect(p.target(module: "conv1", name: "weight")?.settings == with(prunedWeight, [("sparse_ratio", 0.5)]))
        #expect(p.target(module: "fc1", name: "weight")?.settings == with(prunedWeight, [("sparse_ratio", 0.8)]))
        #expect(p.target(module: "fc1", name: "bias")?.settings == alignedBias)
        #expect(p.report.configs[1].translated == [
            "op_names": ["fc1"], "target_names": ["weight", "bias"],
            "target_settings": ["weight": ["sparse_ratio": 0.8, "granularity": "default"]],
        ])
    }

    @Test func totalSparsityGivesEachConfigItsOwnGlobalGroup() throws {
        // Documented divergence: NNI 3.0 rejects its own translation of total_sparsity (SchemaError).
        let p = try plan(#"""
            [{"op_types": ["Conv2d"], "total_sparsity": 0.5, "max_sparsity_per_layer": 0.9},
             {"op_names": ["fc1", "fc2"], "total_sparsity": 0.8}]
            """#)
        #expect(p.target(module: "conv2", name: "weight")?.settings == with(prunedWeight, [
            ("sparse_ratio", 0.5), ("max_sparse_ratio", 0.9), ("global_group_id", "config_list[0].total_sparsity"),
        ]))
        #expect(p.target(module: "fc2", name: "weight")?.settings["global_group_id"] == "config_list[1].total_sparsity")
    }

    @Test func maxSparsityWithoutASparsityIsDroppedAndReported() throws {
        let p = try plan(#"[{"op_types": ["Linear"], "sparsity": 0.5}, {"op_names": ["fc1"], "max_sparsity_per_layer": 0.9}]"#)
        #expect(p.report.warnings.map(\.message).contains("config_list[1].max_sparsity_per_layer has no effect in this config and is ignored"))
    }

    @Test func excludeRemovesItsModulesFromEveryConfig() throws {
        // The v2 document's example: both lists select conv1, conv2 and fc1.
        let model = [
            ModuleInfo(name: "conv1", typeName: "Conv2d"), ModuleInfo(name: "conv2", typeName: "Conv2d"),
            ModuleInfo(name: "dropout1", typeName: "Dropout2d"), ModuleInfo(name: "dropout2", typeName: "Dropout2d"),
            ModuleInfo(name: "fc1", typeName: "Linear"), ModuleInfo(name: "fc2", typeName: "Linear"),
        ]
        let a = try plan(#"[{"op_types": ["Conv2d"], "sparsity": 0.5}, {"op_names": ["fc1"], "sparsity": 0.5}]"#, modules: model)
        let b = try plan(#"[{"op_types": ["Conv2d", "Linear"], "sparsity": 0.5}, {"exclude": true, "op_names": ["fc2"]}]"#, modules: model)
        #expect(Set(a.targets.map(\.moduleName)) == ["conv1", "conv2", "fc1"])
        #expect(a.targets == b.targets.map { var t = $0; t.configIndex = $0.moduleName == "fc1" ? 1 : 0; return t })
        #expect(b.report.configs[1].isExclusion)
        #expect(b.report.configs[1].selected == ["fc2"])
        #expect(b.report.configs[0].selected == ["conv1", "conv2", "fc1"])
        // An exclusion placed first applies to later configs too.
        let c = try plan(#"[{"exclude": true, "op_names_re": ["fc"]}, {"op_types": ["Conv2d", "Linear"], "sparsity": 0.5}]"#, modules: model)
        #expect(Set(c.targets.map(\.moduleName)) == ["conv1", "conv2"])
    }

    @Test func excludeRemovesTheModulesItsConfigSelects() throws {
        // op_types with op_names: the exclusion is their intersection (the modules that config
        // selects). NNI 3.0 excludes each list separately (all Linear modules and fc2); see docs/config.md.
        let p = try plan(#"[{"op_types": ["Conv2d", "Linear"], "sparsity": 0.5}, {"exclude": true, "op_types": ["Linear"], "op_names": ["fc2", "conv1"]}]"#)
        #expect(Set(p.targets.map(\.moduleName)) == ["conv1", "conv2", "fc1"])
    }

    @Test func excludeFalseIsAnOrdinaryConfig() throws {
        let p = try plan(#"[{"op_types": ["Linear"], "exclude": false, "sparsity": 0.3}]"#)
        #expect(p.targets.count == 4)
    }

    @Test func laterSubConfigsOverwriteEarlierOnes() throws {
        // Documented divergence: NNI 3.0 keeps the first.
        let p = try plan(#"[{"op_types": ["Linear"], "sparsity": 0.5}, {"op_names": ["fc2"], "sparsity": 0.9}]"#)
        #expect(p.target(module: "fc1", name: "weight")?.settings["sparse_ratio"] == 0.5)
        #expect(p.target(module: "fc2", name: "weight")?.settings["sparse_ratio"] == 0.9)
        #expect(p.target(module: "fc2", name: "weight")?.configIndex == 1)
        #expect(p.report.warnings.map(\.message) == [
            "config_list[1] replaces the settings config_list[0] gave to 'fc2' (legacy format: later sub-configs overwrite earlier ones)"
        ])
    }

    @Test func opPartialNamesIsASubstringPattern() throws {
        let p = try plan(#"[{"op_partial_names": ["onv"], "sparsity": 0.5}]"#)
        #expect(selected(p) == ["conv1", "conv2"])
        #expect(p.report.configs[0].translated?["op_names_re"] == [".*onv.*"])
        // Combined with op_names_re, both apply.
        let q = try plan(#"[{"op_partial_names": ["fc1"], "op_names_re": ["bn"], "sparsity": 0.5}]"#)
        #expect(selected(q) == ["bn1", "fc1"])
    }

    @Test func quantTypesAndBitsBecomeTargets() throws {
        let p = try plan(#"""
            [{"op_types": ["Conv2d"], "quant_types": ["input", "weight"], "quant_bits": {"input": 8, "weight": 4}},
             {"op_names": ["fc1"], "quant_types": ["output", "weight"], "quant_bits": 6, "quant_start_step": 100},
             {"op_names": ["relu"], "quant_types": "output", "quant_bits": {"output": 8}}]
            """#, .quantization)
        #expect(p.targets(ofModule: "conv1").map(\.targetName) == ["weight", "_input_0"])
        #expect(p.target(module: "conv1", name: "_input_0")?.settings == with(quantTarget, [("quant_dtype", "int8")]))
        #expect(p.target(module: "conv1", name: "weight")?.settings == with(quantTarget, [("quant_dtype", "int4")]))
        #expect(p.targets(ofModule: "fc1").map(\.targetName) == ["weight", "_output_0"])
        #expect(p.targets(ofModule: "fc1").allSatisfy { $0.settings["quant_dtype"] == "int6" })
        #expect(p.targets(ofModule: "relu").map(\.targetName) == ["_output_0"])
        #expect(p.quantStartSteps == [nil, 100, nil])
        // The report carries it per config (the Python QATQuantizer reads it there).
        #expect(p.report.configs.map(\.quantStartStep) == [nil, 100, nil])
        let configsJSON = p.report.json.object?["configs"]?.array ?? []
        #expect(configsJSON.count == 3)
        #expect(configsJSON.first?.object?["quant_start_step"] == nil)
        #expect(configsJSON.dropFirst().first?.object?["quant_start_step"] == .int(100))
        #expect(p.report.table.contains("config_list[1]  selects 1 module: fc1  [quant_start_step 100]"))
        #expect(p.report.configs[0].translated == [
            "op_types": ["Conv2d"], "target_names": ["_input_", "weight"],
            "target_settings": ["_input_": ["quant_dtype": "int8"], "weight": ["quant_dtype": "int4"]],
        ])
    }

    @Test(arguments: [
        (#"[{"op_types": ["Linear"], "sparsity": 1.5}]"#, CompressionMode.pruning,
         "config_list[0].sparsity: expected a number in [0, 1], got 1.5"),
        (#"[{"op_types": ["Linear"], "total_sparsity": "0.5"}]"#, .pruning,
         "config_list[0].total_sparsity: expected a number in [0, 1], got '0.5'"),
        (#"[{"op_types": ["Linear"], "sparsity": 0.5, "max_sparsity_per_layer": 0}]"#, .pruning,
         "config_list[0].max_sparsity_per_layer: expected a number in (0, 1], got 0"),
        (#"[{"op_types": ["Linear"], "sparsity": 0.5, "total_sparsity": 0.5}]"#, .pruning,
         "config_list[0].total_sparsity: expected one sparsity key per config, but 'sparsity' is given too, got 'total_sparsity'"),
        (#"[{"op_types": ["Linear"], "sparsity": 0.5}, {"exclude": true, "op_names": ["fc1"], "sparsity": 0.2}]"#, .pruning,
         "config_list[1].sparsity: expected no 'sparsity' in a config with exclude: True (exclude and sparsity are mutually exclusive), got 0.2"),
        (#"[{"op_types": ["Linear"], "exclude": 1}]"#, .pruning,
         "config_list[0].exclude: expected True or False, got 1"),
        (#"[{"exclude": true}]"#, .pruning,
         "config_list[0]: expected at least one of 'op_names', 'op_names_re', 'op_types' to select modules, got an empty config"),
        (#"[{"op_types": ["Linear"], "sparsity": 0.5}]"#, .quantization,
         "config_list[0].sparsity: expected a quantization key; 'sparsity' is a legacy pruning key, got 'sparsity'"),
        (#"[{"op_types": ["Linear"], "quant_types": ["weight"]}]"#, .quantization,
         "config_list[0].quant_bits: expected quant_bits (an int, or a dict {quant_type: int}) with quant_types, got nothing"),
        (#"[{"op_types": ["Linear"], "quant_types": ["weight", "input"], "quant_bits": {"weight": 8}}]"#, .quantization,
         "config_list[0].quant_bits.input: expected the bit width of 'input' (quant_types has it), got nothing"),
        (#"[{"op_types": ["Linear"], "quant_types": ["weight"], "quant_bits": 32}]"#, .quantization,
         "config_list[0].quant_bits: expected an int from 2 to 16 (or a dict {quant_type: int}), got 32"),
        (#"[{"op_types": ["Linear"], "quant_types": ["weights"], "quant_bits": 8}]"#, .quantization,
         "config_list[0].quant_types[0]: expected 'input', 'weight' or 'output', got 'weights'"),
        (#"[{"op_types": ["Linear"], "quant_types": ["weight"], "quant_bits": 8, "quant_start_step": -1}]"#, .quantization,
         "config_list[0].quant_start_step: expected an int >= 0, got -1"),
        (#"[{"op_types": ["Linear"], "quant_types": ["weight"], "quant_bits": 8}]"#, .pruning,
         "config_list[0].quant_types: expected a pruning key; 'quant_types' is a legacy quantization key, got 'quant_types'"),
        (#"[{"op_partial_names": "fc", "sparsity": 0.5}]"#, .pruning,
         "config_list[0].op_partial_names: expected a list of strings (write ['fc']), got 'fc'"),
    ])
    func invalidLegacyKeys(json: String, mode: CompressionMode, message: String) {
        #expect(errorMessage(json, mode) == message)
    }
}
