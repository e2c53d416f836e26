import Testing
@testable import SwiftCompress

@Suite struct ExplainReportTests {
    static let config = #"""
        [{"op_types": ["Linear"], "op_names": ["fc1", "module.fc2"], "sparse_ratio": 0.5, "granularity": "out_channel"},
         {"op_names": ["fc1", "relu"], "target_names": ["weight"], "sparse_ratio": 0.9}]
        """#

    @Test func tableIsAlignedAndListsWarnings() throws {
        let p = try plan(Self.config)
        #expect(p.report.table == """
            pruning, current format: 2 config(s), 2 target(s) on 1 module(s), 3 warning(s)

            config_list[0]  selects 1 module: fc1
            config_list[1]  selects 2 modules: relu, fc1  [1 skipped: no template]

            module  type    target  config  settings (None omitted)
            fc1     Linear  weight  0       sparse_ratio=0.5, granularity='out_channel', apply_method='mul'
            fc1     Linear  bias    0       align={'module_name': None, 'target_name': 'weight', 'dims': [0]}, apply_method='mul'

            warnings:
              - config_list[0].op_names: 'module.fc2' names no module and is ignored; closest: 'fc2'
              - config_list[1] selects 'relu' (ReLU), which has no pruning template; skipped (narrow the selection, or register a template for ReLU)
              - config_list[1] reaches fc1.weight, already configured by config_list[0]; ignored (each target is configured once)

            """)
    }

    @Test func jsonCarriesTheSameData() throws {
        let p = try plan(Self.config)
        let j = p.report.json
        #expect(j.object?["mode"] == "pruning")
        #expect(j.object?["legacy"] == false)
        #expect(j.object?["configs"]?.array?.first == ["index": 0, "exclusion": false, "selected": ["fc1"], "skipped": []])
        let fc1 = j.object?["modules"]?.object?["fc1"]?.object
        #expect(fc1?["type"] == "Linear")
        #expect(fc1?["targets"]?.object?["weight"] == [
            "config": 0, "kind": "parameter",
            "settings": .object(with(prunedWeight, [("sparse_ratio", 0.5), ("granularity", "out_channel")])),
        ])
        #expect(j.object?["warnings"]?.array?.map { $0.object?["kind"] } == [
            "unmatched_op_name", "missing_template", "ignored_reconfiguration",
        ])
        #expect(j.object?["warnings"]?.array?[2].object?["target"] == "weight")
        // The JSON text reads back to the same value.
        #expect(try ConfigValue(json: j.jsonText) == j)
    }

    @Test func inputAndOutputTargetsShowTheirPositions() throws {
        let p = try plan(#"[{"op_names": ["fc1"], "target_names": ["_input_input", "_output_"]}]"#, .quantization)
        let targets = p.report.json.object?["modules"]?.object?["fc1"]?.object?["targets"]?.object
        #expect(targets?["_input_input"]?.object?["position"] == 0)
        #expect(targets?["_input_input"]?.object?["argument"] == "input")
        #expect(targets?["_output_0"]?.object?["kind"] == "output")
        #expect(targets?["_output_0"]?.object?["position"] == 0)
    }

    @Test func exclusionsAndTranslationsAreShownForLegacyLists() throws {
        let p = try plan(#"[{"op_types": ["Linear"], "sparsity": 0.5}, {"exclude": true, "op_names": ["fc2"]}]"#)
        #expect(p.report.table.contains("config_list[1]  excludes 1 module: fc2\n"))
        #expect(p.report.table.hasPrefix("pruning, legacy (v2) format: 2 config(s), 2 target(s) on 1 module(s), 0 warning(s)\n"))
        #expect(p.report.json.object?["configs"]?.array?[0].object?["translated"] == [
            "op_types": ["Linear"], "target_names": ["weight", "bias"],
            "target_settings": ["weight": ["sparse_ratio": 0.5, "granularity": "default"]],
        ])
    }

    @Test func longSelectionsAreShortened() throws {
        let modules = (0..<10).map { ModuleInfo(name: "fc\($0)", typeName: "Linear") }
        let p = try plan(#"[{"op_types": ["Linear"]}]"#, modules: modules)
        #expect(p.report.table.contains("config_list[0]  selects 10 modules: fc0, fc1, fc2, fc3, fc4, fc5, … (+4)\n"))
    }

    // MARK: facts (what the bindings read instead of setting keys)

    static func facts(_ p: Plan, _ module: String, _ target: String) -> ConfigValue? {
        p.report.json.object?["facts"]?.object?[module]?.object?[target]
    }

    @Test func pruningFactsGiveApplyAndWhetherTheTargetPrunes() throws {
        let p = try plan(#"[{"op_names": ["fc1"], "sparse_ratio": 0.5, "apply_method": "add"}, {"op_names": ["fc2"], "target_names": ["weight"], "sparse_threshold": 0.1}, {"op_names": ["conv1"], "target_names": ["weight"]}]"#)
        #expect(Self.facts(p, "fc1", "weight") == ["role": "parameter", "active": true, "apply": "add", "prunes": true])
        // The bias has no sparse_ratio: aligned to the weight, no metric of its own.
        #expect(Self.facts(p, "fc1", "bias") == ["role": "parameter", "active": false, "apply": "add", "prunes": false])
        #expect(Self.facts(p, "fc2", "weight") == ["role": "parameter", "active": true, "apply": "mul", "prunes": true])
        #expect(Self.facts(p, "conv1", "weight") == ["role": "parameter", "active": false, "apply": "mul", "prunes": false])
        // Same modules and targets, in the same order, as "modules".
        let j = p.report.json.object
        #expect(j?["facts"]?.object?.keys.map { $0 } == j?["modules"]?.object?.keys.map { $0 })
        #expect(j?["facts"]?.object?["fc1"]?.object?.keys.map { $0 } == ["weight", "bias"])
        #expect(j?["fusions"] == [])
        #expect(p.report.fusions == [])
    }

    @Test func quantizationFactsGiveDtypeSchemeGranularityAndApply() throws {
        let p = try plan(#"""
            [{"op_names": ["conv1"], "target_names": ["weight", "_input_"], "quant_dtype": "uint4", "fuse_names": [["conv1", "bn1"]]},
             {"op_names": ["fc1"], "target_names": ["weight", "_output_"], "quant_scheme": "affine",
              "target_settings": {"weight": {"granularity": [1, -1], "apply_method": "qat_clamp_round"},
                                  "_output_": {"granularity": "per_channel", "apply_method": "bypass"}}}]
            """#, .quantization)
        #expect(Self.facts(p, "conv1", "weight") == [
            "role": "parameter", "active": true, "apply": "clamp_round", "quant_dtype": "uint4", "quant_bits": 4,
            "quant_scheme": nil, "granularity": "per_tensor", "quant_start_step": nil,
        ])
        #expect(Self.facts(p, "conv1", "_input_0") == [
            "role": "input", "active": true, "apply": "clamp_round", "quant_dtype": "uint4", "quant_bits": 4,
            "quant_scheme": nil, "granularity": "per_tensor", "quant_start_step": nil,
        ])
        #expect(Self.facts(p, "fc1", "weight") == [
            "role": "parameter", "active": true, "apply": "qat_clamp_round", "quant_dtype": "int8", "quant_bits": 8,
            "quant_scheme": "affine", "granularity": [1, -1], "quant_start_step": nil,
        ])
        #expect(Self.facts(p, "fc1", "_output_0") == [
            "role": "output", "active": true, "apply": "bypass", "quant_dtype": "int8", "quant_bits": 8,
            "quant_scheme": "affine", "granularity": "per_channel", "quant_start_step": nil,
        ])
        let j = p.report.json.object
        #expect(j?["fusions"] == [["conv1", "bn1"]])
        #expect(j?["configs"]?.array?[0].object?["fusions"] == [["conv1", "bn1"]])
        #expect(j?["configs"]?.array?[1].object?["fusions"] == nil)
        #expect(p.report.configs.map(\.fusions) == [[["conv1", "bn1"]], []])
        #expect(p.report.fusions == p.fusions)
    }

    @Test func quantizationFactsCarryTheLegacyStartStep() throws {
        let p = try plan(#"""
            [{"quant_types": ["weight"], "quant_bits": 8, "op_names": ["conv1"]},
             {"quant_types": ["weight"], "quant_bits": 6, "op_names": ["fc1"], "quant_start_step": 100}]
            """#, .quantization)
        #expect(Self.facts(p, "conv1", "weight")?.object?["quant_start_step"] == .null)
        #expect(Self.facts(p, "fc1", "weight")?.object?["quant_start_step"] == 100)
        #expect(Self.facts(p, "fc1", "weight")?.object?["quant_dtype"] == "int6")
        #expect(Self.facts(p, "fc1", "weight")?.object?["quant_bits"] == 6)
    }

    @Test func distillationFactsGiveMethodLambdaAndLinks() throws {
        let p = try plan(#"[{"op_names": ["fc1"], "lambda": 0.5}, {"op_names": ["fc2"], "apply_method": "kl", "link": ["fc1", "fc2"]}]"#,
                         .distillation)
        #expect(Self.facts(p, "fc1", "_output_0") == ["role": "output", "active": true, "apply": "mse", "lambda": 0.5, "links": ["fc1"]])
        #expect(Self.facts(p, "fc2", "_output_0") == ["role": "output", "active": true, "apply": "kl", "lambda": 1.0, "links": ["fc1", "fc2"]])
    }
}
