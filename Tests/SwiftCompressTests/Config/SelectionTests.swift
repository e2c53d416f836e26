import Testing
@testable import SwiftCompress

/// Module selection (SEMANTICS.md "Selecting modules"), on `smallModel`:
/// '' Net, conv1 Conv2d, bn1 BatchNorm2d, relu ReLU, conv2 Conv2d, fc1 Linear, fc2 Linear, embed Embedding.
@Suite struct SelectionTests {
    @Test func opTypesAloneSelectsEveryModuleOfThoseTypes() throws {
        #expect(selected(try plan(#"[{"op_types": ["Linear", "Conv2d"]}]"#)) == ["conv1", "conv2", "fc1", "fc2"])
    }

    @Test func opNamesAlone() throws {
        #expect(selected(try plan(#"[{"op_names": ["fc2", "conv1"]}]"#)) == ["conv1", "fc2"])
    }

    @Test func opTypesWithOpNamesIsTheIntersection() throws {
        #expect(selected(try plan(#"[{"op_names": ["fc2", "conv1", "bn1"], "op_types": ["Linear"]}]"#)) == ["fc2"])
    }

    @Test func opNamesAndOpNamesReAreUnited() throws {
        #expect(selected(try plan(#"[{"op_names": ["embed"], "op_names_re": ["conv"]}]"#)) == ["conv1", "conv2", "embed"])
    }

    @Test func opNamesReIsAnchoredAtTheStartOnly() throws {
        #expect(selected(try plan(#"[{"op_names_re": ["fc"]}]"#)) == ["fc1", "fc2"])
        #expect(selected(try plan(#"[{"op_names_re": ["1"]}]"#)) == [])
        #expect(selected(try plan(#"[{"op_names_re": [".*1"]}]"#)) == ["conv1", "bn1", "fc1"])
        #expect(selected(try plan(#"[{"op_names_re": ["fc1$", "conv[12]"]}]"#)) == ["conv1", "conv2", "fc1"])
    }

    @Test func theRootModuleIsTheEmptyName() throws {
        let p = try plan(#"[{"op_names": [""]}]"#, .distillation)
        #expect(selected(p) == [""])
        #expect(p.targets.map(\.targetName) == ["_output_0"])
    }

    @Test func exclusionsApplyAfterSelection() throws {
        #expect(selected(try plan(#"[{"op_types": ["Linear", "Conv2d"], "exclude_op_names": ["fc2"]}]"#)) == ["conv1", "conv2", "fc1"])
        #expect(selected(try plan(#"[{"op_types": ["Linear", "Conv2d"], "exclude_op_names_re": ["conv"]}]"#)) == ["fc1", "fc2"])
        #expect(selected(try plan(#"[{"op_names_re": [".*"], "exclude_op_types": ["Net", "ReLU", "Linear"]}]"#)) == ["conv1", "bn1", "conv2", "embed"])
    }

    @Test func emptyListsCountAsAbsent() throws {
        // NNI: `if op_names or op_names_re` is false for [], so op_types selects on its own.
        #expect(selected(try plan(#"[{"op_names": [], "op_types": ["Linear"]}]"#)) == ["fc1", "fc2"])
        let p = try plan(#"[{"op_names": []}]"#)
        #expect(selected(p) == [])
        #expect(p.report.warnings.map(\.kind) == [.selectsNothing])
    }

    @Test func opNameThatNamesNoModuleIsIgnoredAndReportedWithCloseNames() throws {
        let modules = smallModel + [ModuleInfo(name: "features.fc3", typeName: "Linear")]
        let p = try plan(#"[{"op_names": ["module.fc1", "fc3", "fc9", "zzzzzzzz", "fc2"], "sparse_ratio": 0.5}]"#, modules: modules)
        #expect(selected(p) == ["fc2"])
        #expect(p.report.warnings.map(\.message) == [
            "config_list[0].op_names: 'module.fc1' names no module and is ignored; closest: 'fc1'",
            "config_list[0].op_names: 'fc3' names no module and is ignored; closest: 'features.fc3', 'fc1', 'fc2'",
            "config_list[0].op_names: 'fc9' names no module and is ignored; closest: 'fc1', 'fc2'",
            "config_list[0].op_names: 'zzzzzzzz' names no module and is ignored",
        ])
        #expect(p.report.warnings.allSatisfy { $0.kind == .unmatchedOpName && $0.configIndex == 0 })
    }

    @Test func dataParallelPrefixIsSuggestedBothWays() {
        let modules = [ModuleInfo(name: "module.fc", typeName: "Linear")]
        #expect(suggestNames(for: "fc", in: modules, names: ["module.fc"]) == ["module.fc"])
        let plain = [ModuleInfo(name: "fc", typeName: "Linear")]
        #expect(suggestNames(for: "module.fc", in: plain, names: ["fc"]) == ["fc"])
    }

    @Test func aConfigThatSelectsNothingIsReported() throws {
        let p = try plan(#"[{"op_types": ["Conv3d"], "sparse_ratio": 0.5}, {"op_types": ["ReLU"], "sparse_ratio": 0.5}]"#)
        #expect(p.targets.isEmpty)
        #expect(p.report.warnings.map(\.message) == [
            "config_list[0] selects no module; op_types 'Conv3d' names no module type of the model (closest: 'Conv2d')",
            "config_list[1] selects 'relu' (ReLU), which has no pruning template; skipped (narrow the selection, or register a template for ReLU)",
            "config_list[1] selects 1 module(s), none of a type with a pruning template",
        ])
    }

    @Test func opTypesThatSelectNothingSuggestTheModelsTypes() throws {
        // PyTorch spells it Conv2d; a case-only difference comes first, then the nearest by edits
        let p = try plan(#"[{"op_types": ["Conv2D", "Lnear", "Transformer"], "sparse_ratio": 0.5}]"#)
        #expect(p.targets.isEmpty)
        #expect(p.report.warnings.map(\.message) == [
            "config_list[0] selects no module; op_types 'Conv2D' names no module type of the model (closest: 'Conv2d'); op_types 'Lnear' names no module type of the model (closest: 'Linear'); op_types 'Transformer' names no module type of the model",
        ])
        // a type the model has selects something: no hint, even when another type is absent
        let q = try plan(#"[{"op_types": ["Conv2d", "Conv3d"], "sparse_ratio": 0.5}]"#)
        #expect(q.report.warnings.isEmpty)
    }

    @Test func targetsThatNothingPrunesAreReportedOncePerConfig() throws {
        // config 0 sets no goal: conv1/conv2 weights are idle (their biases align to them: not listed);
        // config 1 prunes fc1; config 2 gives bn1.weight an align: it does something
        let p = try plan(#"[{"op_types": ["Conv2d"]}, {"op_names": ["fc1"], "sparse_ratio": 0.5}, {"op_names": ["bn1"], "target_names": ["weight"], "target_settings": {"weight": {"align": {"module_name": "conv1", "target_name": "weight", "dims": [0]}}}}]"#)
        #expect(p.report.warnings.map(\.kind) == [.prunesNothing])
        #expect(p.report.warnings.map(\.message) == [
            "config_list[0] configures 2 target(s) that nothing prunes ('conv1.weight', 'conv2.weight': no sparse_ratio, sparse_threshold or align); their masks stay all ones (set sparse_ratio or sparse_threshold)",
        ])
        #expect(p.report.warnings.first?.configIndex == 0)
        let q = try plan(#"[{"op_types": ["Conv2d", "Linear"], "sparse_ratio": 0.5}]"#)
        #expect(q.report.warnings.isEmpty)
    }

    @Test func quantizationTargetsWithoutADtypeAreReportedOncePerConfig() throws {
        // config 0: fc1's weight has int4 from target_settings, its _input_0 has no dtype; config 1
        // sets none for fc2's weight; config 2 sets quant_dtype for every target: no warning
        let p = try plan(#"[{"op_names": ["fc1"], "target_names": ["weight", "_input_"], "target_settings": {"weight": {"quant_dtype": "int4"}}}, {"op_names": ["fc2"], "target_names": ["weight"]}, {"op_names": ["conv1"], "target_names": ["weight"], "quant_dtype": "uint8"}]"#, .quantization)
        #expect(p.report.warnings.map(\.kind) == [.missingQuantDtype, .missingQuantDtype])
        #expect(p.report.warnings.map(\.message) == [
            "config_list[0] configures 1 quantization target(s) without a quant_dtype ('fc1._input_0'); they are quantized as int8, the default (set quant_dtype, e.g. 'int8')",
            "config_list[1] configures 1 quantization target(s) without a quant_dtype ('fc2.weight'); they are quantized as int8, the default (set quant_dtype, e.g. 'int8')",
        ])
        #expect(p.report.warnings.map(\.configIndex) == [0, 1])
        #expect(p.targets.compactMap(\.quantization).map(\.dtype) == [.uint8, .int4, .int8, .int8])
        let q = try plan(#"[{"op_types": ["Linear"], "quant_dtype": "int8"}]"#, .quantization)
        #expect(q.report.warnings.isEmpty)
        // a legacy list's quant_bits become quant_dtype: nothing to warn about
        let legacy = try plan(#"[{"quant_types": ["weight"], "quant_bits": 8, "op_types": ["Linear"]}]"#, .quantization)
        #expect(legacy.report.warnings.isEmpty)
    }

    @Test func aSelectedModuleWithoutTemplateIsSkippedNotACrash() throws {
        // Documented divergence: NNI 3.0 raises AssertionError for Net and ReLU here.
        let p = try plan(#"[{"op_names_re": [".*"], "sparse_ratio": 0.5}]"#)
        #expect(p.report.configs[0].skipped == ["", "relu"])
        #expect(Set(p.targets.map(\.moduleName)) == ["conv1", "bn1", "conv2", "fc1", "fc2", "embed"])
        #expect(p.report.warnings.filter { $0.kind == .missingTemplate }.map(\.module) == ["", "relu"])
    }

    @Test func duplicateModuleNamesAreAnError() {
        let modules = [ModuleInfo(name: "fc", typeName: "Linear"), ModuleInfo(name: "fc", typeName: "Linear")]
        #expect(errorMessage(#"[{"op_types": ["Linear"]}]"#, modules: modules)
            == "modules[1].name: expected a name not used by an earlier module, got 'fc'")
    }

    @Test func moduleListFromJSON() throws {
        let m = try ModuleInfo.list(fromJSON: #"{"modules": [{"name": "", "type": "Net"}, {"name": "fc", "type": "Linear", "forward_args": ["input"], "parameters": {}}]}"#)
        #expect(m == [ModuleInfo(name: "", typeName: "Net"), ModuleInfo(name: "fc", typeName: "Linear", forwardArguments: ["input"])])
        #expect(try ModuleInfo.list(fromJSON: #"[{"name": "a", "type": "T"}]"#) == [ModuleInfo(name: "a", typeName: "T")])
        func message(_ json: String) -> String {
            do { _ = try ModuleInfo.list(fromJSON: json); return "accepted" } catch { return error.description }
        }
        #expect(message(#"[{"name": "a"}]"#) == "modules[0].type: expected a non-empty string (the class's __name__), got nothing")
        #expect(message(#"[{"name": 1, "type": "T"}]"#) == "modules[0].name: expected a string, got 1")
        #expect(message(#"[{"name": "a", "type": "T", "forward_args": "x"}]"#) == "modules[0].forward_args: expected a list of strings, got 'x'")
        #expect(message(#"{"mods": []}"#) == "modules: expected a list of modules (or an object with a 'modules' list), got a dict")
        #expect(message("[1]") == "modules[0]: expected a dict with 'name' and 'type', got 1")
        #expect(message("[") == "invalid JSON at line 1, column 2: expected a JSON value, found end of input")
    }
}
