import Foundation
import Testing
@testable import SwiftCompress

/// Selection and canonical settings against NNI 3.0 on the module lists of ResNet-50, MobileNetV2
/// and a transformer encoder. The expected outputs are in Tests/SwiftCompressTests/Fixtures/nni/,
/// produced by `/work/nnienv/bin/python tools/make_nni_fixtures.py` (torch 2.15.0, torchvision
/// 0.29.2, nni 3.0; see that folder's README). Where we follow the documents rather than NNI
/// (SEMANTICS.md, docs/config.md), the case is listed in `divergences` and tested as such.
@Suite struct NNIParityTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var model: String
        var mode: CompressionMode
        var configList: ConfigValue
        var selected: [ConfigValue]
        var result: ConfigObject
        var testDescription: String { name }
    }

    static let fixtureDirectory = repositoryRoot.appendingPathComponent("Tests/SwiftCompressTests/Fixtures/nni")

    static let cases: [Case] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: fixtureDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted().compactMap { file -> Case? in
            guard let text = try? String(contentsOf: fixtureDirectory.appendingPathComponent(file), encoding: .utf8),
                let value = try? ConfigValue(json: text), let o = value.object,
                let model = o["model"]?.string, let mode = o["mode"]?.string.flatMap(CompressionMode.init(rawValue:)),
                let configList = o["config_list"], let selected = o["selected"]?.array, let result = o["result"]?.object
            else { return nil }
            return Case(name: String(file.dropLast(5)), model: model, mode: mode, configList: configList, selected: selected, result: result)
        }
    }()

    static func modules(_ model: String) throws -> [ModuleInfo] {
        try ModuleInfo.list(fromJSON: readRepositoryFile("examples/models/\(model).json"))
    }

    @Test func allFixturesAreRead() {
        // 56 cases were generated; a fixture that fails to parse would silently drop out otherwise.
        #expect(Self.cases.count == 56)
    }

    @Test(arguments: cases)
    func sameSelectionAndSettingsAsNNI(_ c: Case) throws {
        let modules = try Self.modules(c.model)
        if let check = Self.divergences[c.name] {
            try check(c, modules)
            return
        }
        guard c.result["ok"] == .bool(true), let expected = c.result["targets"]?.object else {
            // NNI raises here (a target the module type does not have): so do we, with a message.
            #expect(throws: ConfigError.self, "NNI: \(c.result["error"]?.string ?? "")") {
                try Plan(configList: c.configList, modules: modules, mode: c.mode)
            }
            return
        }
        let plan = try Plan(configList: c.configList, modules: modules, mode: c.mode)
        #expect(plan.report.settingsByModule == expected)
        for (i, entry) in plan.report.configs.enumerated() where !entry.isExclusion {
            #expect(c.selected[i] == .array(entry.selected.sorted().map(ConfigValue.string)), "config_list[\(i)]")
        }
    }

    typealias Check = @Sendable (Case, [ModuleInfo]) throws -> Void

    /// The cases where swiftcompress deliberately differs from NNI 3.0, each with what we do instead.
    static let divergences: [String: Check] = [
        // An op_name that names no module is ignored and reported (NNI: KeyError).
        "resnet50_prune_missing_name_dataparallel": { c, modules in
            let plan = try Plan(configList: c.configList, modules: modules, mode: c.mode)
            #expect(plan.targets.isEmpty)
            #expect(plan.report.warnings.map(\.message) == [
                "config_list[0].op_names: 'module.conv1' names no module and is ignored; closest: 'conv1'",
                "config_list[0] selects no module",
            ])
        },
        "resnet50_prune_missing_name_typo": { c, modules in
            let plan = try Plan(configList: c.configList, modules: modules, mode: c.mode)
            #expect(plan.report.configs[0].selected == ["layer1.0.conv1"])
            #expect(plan.targets.map(\.targetName) == ["weight", "bias"])
            #expect(plan.report.warnings.map(\.message) == [
                "config_list[0].op_names: 'layer1.0.conv9' names no module and is ignored; closest: 'layer1.0.conv1', 'layer1.0.conv2', 'layer1.0.conv3'"
            ])
        },
        // Selected modules without a template are skipped and reported (NNI: AssertionError).
        "resnet50_prune_re_all": { c, modules in
            let plan = try Plan(configList: c.configList, modules: modules, mode: c.mode)
            let templated = modules.filter { ["Conv2d", "BatchNorm2d", "Linear"].contains($0.typeName) }.map(\.name)
            #expect(plan.report.modules.map(\.name) == templated)
            #expect(plan.report.configs[0].skipped == modules.filter { !templated.contains($0.name) }.map(\.name))
            #expect(plan.report.warnings.filter { $0.kind == .missingTemplate }.count == modules.count - templated.count)
        },
        "mobilenet_v2_quant_re_all": { c, modules in
            let plan = try Plan(configList: c.configList, modules: modules, mode: c.mode)
            let known = Set(["Conv2d", "BatchNorm2d", "Linear", "ReLU6"])
            #expect(plan.report.modules.map(\.name) == modules.filter { known.contains($0.typeName) }.map(\.name))
            #expect(plan.report.configs[0].skipped.count == modules.filter { !known.contains($0.typeName) }.count)
        },
        // JSON has no tuples: fuse_names lists are accepted (NNI wants tuples and raises ValueError
        // for lists; with tuples it configures conv1 as below).
        "resnet50_quant_fuse_names": { c, modules in
            let plan = try Plan(configList: c.configList, modules: modules, mode: c.mode)
            #expect(plan.fusions == [["conv1", "bn1"]])
            #expect(plan.targets.map(\.targetName) == ["weight", "_input_0", "_output_0"])
            #expect(plan.targets.allSatisfy { $0.moduleName == "conv1" && $0.settings["quant_dtype"] == "int8" })
        },
        // Legacy total_sparsity becomes a global group per sub-config (NNI writes `group_id`, which
        // its own schema rejects, and nothing reads it).
        "resnet50_legacy_total_sparsity": { c, modules in
            let plan = try Plan(configList: c.configList, modules: modules, mode: c.mode)
            var expected = c.result["targets"]?.object ?? [:]
            for (module, targets) in expected {
                guard var t = targets.object, var w = t["weight"]?.object, case .int(let g)? = w["group_id"] else { continue }
                w["group_id"] = nil
                w["global_group_id"] = .string("config_list[\(g)].total_sparsity")
                t["weight"] = .object(w)
                expected[module] = .object(t)
            }
            #expect(plan.report.settingsByModule == expected)
            #expect(plan.target(module: "fc", name: "weight")?.settings["global_group_id"] == "config_list[1].total_sparsity")
        },
        // Legacy: the later sub-config wins for the same layer (NNI keeps the first).
        "resnet50_legacy_same_layer_twice": { c, modules in
            let plan = try Plan(configList: c.configList, modules: modules, mode: c.mode)
            #expect(plan.target(module: "layer1.0.conv1", name: "weight")?.settings["sparse_ratio"] == 0.3)
            #expect(plan.target(module: "layer1.0.conv2", name: "weight")?.settings["sparse_ratio"] == 0.8)
            #expect(plan.target(module: "layer1.0.conv3", name: "weight")?.settings["sparse_ratio"] == 0.8)
            // Everything else is NNI's.
            var expected = c.result["targets"]?.object ?? [:]
            expected["layer1.0.conv2"] = expected["layer1.0.conv3"]
            #expect(plan.report.settingsByModule == expected)
        },
        // Legacy exclude removes the modules its sub-config selects: op_types ['Linear'] with
        // op_names ['layer1.0.conv1'] selects nothing (the documents' intersection), so nothing is
        // excluded; NNI excludes every Linear and layer1.0.conv1.
        "resnet50_legacy_exclude_types_and_names": { c, modules in
            let plan = try Plan(configList: c.configList, modules: modules, mode: c.mode)
            #expect(plan.report.configs[1].isExclusion)
            #expect(plan.report.configs[1].selected == [])
            #expect(plan.report.configs[0].selected == ["layer1.0.conv1", "layer1.0.conv2", "layer1.0.conv3", "layer1.0.downsample.0", "fc"])
        },
        // quant_start_step is kept for the QAT quantizer; the targets are NNI's.
        "transformer_encoder_legacy_quant_start_step": { c, modules in
            let plan = try Plan(configList: c.configList, modules: modules, mode: c.mode)
            #expect(plan.quantStartSteps == [100])
            #expect(plan.report.settingsByModule == c.result["targets"]?.object)
        },
    ]
}
