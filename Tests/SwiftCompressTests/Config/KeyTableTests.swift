import Foundation
import Testing
@testable import SwiftCompress

/// The key tables (`SettingKeys`) against the three spec documents: every key the documents name
/// has a row, and every row is exercised here (a value it accepts reaches its consumer, a value it
/// refuses is an error naming the key).
@Suite struct KeyTableTests {
    /// Every key of the spec documents, with its document and section. compression-config-v2.txt
    /// lost its key headings in conversion, so its keys are listed from the section text.
    static let specKeys: [(doc: String, section: String, key: String)] = {
        var out: [(String, String, String)] = []
        for k in ["op_names", "op_names_re", "op_types", "exclude_op_names", "exclude_op_names_re", "exclude_op_types",
                  "target_names", "target_settings"] {
            out.append(("compression-config-v3.rst", "Common Keys in Config", k))
        }
        for k in ["sparse_ratio", "max_sparse_ratio", "min_sparse_ratio", "sparse_threshold", "global_group_id",
                  "dependency_group_id", "granularity", "align", "align.module_name", "align.target_name", "align.dims", "apply_method"] {
            out.append(("compression-config-v3.rst", "Pruning Specific Configuration Keys", k))
        }
        for k in ["quant_dtype", "quant_scheme", "fuse_names", "granularity"] {
            out.append(("compression-config-v3.rst", "Quantization Specific Configuration Keys", k))
        }
        for k in ["lambda", "link", "apply_method"] {
            out.append(("compression-config-v3.rst", "Distillation Specific Configuration Keys", k))
        }
        for k in ["op_types", "op_names", "exclude"] { out.append(("compression-config-v2.txt", "Common Keys in Config", k)) }
        for k in ["op_partial_names", "sparsity_per_layer", "total_sparsity", "sparsity", "max_sparsity_per_layer"] {
            out.append(("compression-config-v2.txt", "Special Keys for Pruning", k))
        }
        for k in ["quant_types", "quant_bits", "quant_start_step"] {
            out.append(("compression-config-v2.txt", "Special Keys for Quantization", k))
        }
        for k in ["op_types", "op_names", "op_partial_names", "sparsity_per_layer", "total_sparsity", "sparsity",
                  "max_sparsity_per_layer", "exclude"] {
            out.append(("pruning-config-v2.txt", "The Keys in Config List", k))
        }
        return out
    }()

    /// The rows a spec section's keys must be found in.
    static func rows(forSection section: String) -> [SettingKey] {
        switch section {
        case "Common Keys in Config", "The Keys in Config List":
            return SettingKeys.common + SettingKeys.legacy(.pruning) + SettingKeys.legacy(.quantization)
        case "Pruning Specific Configuration Keys": return SettingKeys.settings(.pruning) + SettingKeys.subKeys(.pruning)
        case "Quantization Specific Configuration Keys": return SettingKeys.settings(.quantization) + SettingKeys.configKeys(.quantization)
        case "Distillation Specific Configuration Keys": return SettingKeys.settings(.distillation)
        case "Special Keys for Pruning": return SettingKeys.legacy(.pruning)
        case "Special Keys for Quantization": return SettingKeys.legacy(.quantization)
        default: return []
        }
    }

    @Test func everySpecKeyHasARow() {
        for (doc, section, key) in Self.specKeys {
            let row = Self.rows(forSection: section).first { $0.name == key }
            #expect(row != nil, "\(doc): \(section) / \(key) has no row in SettingKeys")
            if let row { #expect(row.spec.contains(doc), "\(key): its row cites \(row.spec), not \(doc)") }
        }
    }

    /// The headings of compression-config-v3.rst (a name underlined by ^ or ") and the key lines of
    /// pruning-config-v2.txt are all in `specKeys` (read when the spec folder is on this machine).
    @Test func specDocumentsNameNoOtherKeys() throws {
        // The spec folder sits beside the repository (shared/spec, as CI lays it out); the
        // workplace copy is the fallback. Without either, say so instead of passing silently.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let candidates = [root.deletingLastPathComponent().appendingPathComponent("shared/spec"),
                          URL(fileURLWithPath: "/work/shared/spec")]
        guard let spec = candidates.first(where: { FileManager.default.fileExists(atPath: $0.appendingPathComponent("compression-config-v3.rst").path) }) else {
            print("KeyTableTests: no shared/spec beside the repository or at /work/shared/spec; the spec documents were not read")
            return
        }
        let listed = Set(Self.specKeys.map { $0.doc + ":" + $0.section + ":" + $0.key })
        let v3 = try String(contentsOf: spec.appendingPathComponent("compression-config-v3.rst"), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var section = ""
        var parent = ""
        var found = 0
        for (i, line) in v3.enumerated() where i + 1 < v3.count && !line.isEmpty {
            let under = v3[i + 1]
            guard under.count == line.count, let c = under.first, under.allSatisfy({ $0 == c }) else { continue }
            switch c {
            case "-": section = line
            case "^":
                parent = line
                found += 1
                #expect(listed.contains("compression-config-v3.rst:\(section):\(line)"), "v3 \(section) / \(line) is not listed")
            case "\"":
                found += 1
                #expect(listed.contains("compression-config-v3.rst:\(section):\(parent).\(line)"), "v3 \(section) / \(parent).\(line) is not listed")
            default: break
            }
        }
        #expect(found == Self.specKeys.filter { $0.doc == "compression-config-v3.rst" }.count)
        let v2 = try String(contentsOf: spec.appendingPathComponent("pruning-config-v2.txt"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        let keyLines = v2.filter { !$0.isEmpty && $0.allSatisfy { $0.isLowercase || $0 == "_" } }
        #expect(keyLines.count == Self.specKeys.filter { $0.doc == "pruning-config-v2.txt" }.count)
        for k in keyLines { #expect(listed.contains("pruning-config-v2.txt:The Keys in Config List:\(k)"), "v2 \(k) is not listed") }
    }

    /// One exercise per row: a config list using the key that must be accepted, what the plan must
    /// then show, and one that must be refused with a message naming the key.
    struct Exercise: Sendable {
        var good: String
        var check: @Sendable (Plan) -> Bool
        var bad: String
    }

    static let modules: [ModuleInfo] = [
        ModuleInfo(name: "fc1", typeName: "Linear", forwardArguments: ["input"]),
        ModuleInfo(name: "fc2", typeName: "Linear", forwardArguments: ["input"]),
        ModuleInfo(name: "relu", typeName: "ReLU", forwardArguments: ["input"]),
    ]

    static func weight(_ p: Plan, _ module: String = "fc1") -> TargetPlan? { p.target(module: module, name: "weight") }

    static let exercises: [CompressionMode: [String: Exercise]] = [
        .pruning: [
            "op_names": .init(good: #"[{"op_names": ["fc2"], "sparse_ratio": 0.5}]"#, check: { $0.targets.allSatisfy { $0.moduleName == "fc2" } },
                              bad: #"[{"op_names": "fc2"}]"#),
            "op_names_re": .init(good: #"[{"op_names_re": ["fc[12]"], "sparse_ratio": 0.5}]"#, check: { $0.targets.count == 4 },
                                 bad: #"[{"op_names_re": ["fc("]}]"#),
            "op_types": .init(good: #"[{"op_types": ["Linear"]}]"#, check: { $0.targets.count == 4 }, bad: #"[{"op_types": [1]}]"#),
            "exclude_op_names": .init(good: #"[{"op_types": ["Linear"], "exclude_op_names": ["fc1"]}]"#, check: { $0.targets.count == 2 },
                                      bad: #"[{"op_types": ["Linear"], "exclude_op_names": 1}]"#),
            "exclude_op_names_re": .init(good: #"[{"op_types": ["Linear"], "exclude_op_names_re": ["fc"]}]"#, check: { $0.targets.isEmpty },
                                         bad: #"[{"op_types": ["Linear"], "exclude_op_names_re": ["("]}]"#),
            "exclude_op_types": .init(good: #"[{"op_names": ["fc1"], "exclude_op_types": ["Linear"]}]"#, check: { $0.targets.isEmpty },
                                      bad: #"[{"op_names": ["fc1"], "exclude_op_types": "Linear"}]"#),
            "target_names": .init(good: #"[{"op_names": ["fc1"], "target_names": ["weight"]}]"#, check: { $0.targets.map(\.targetName) == ["weight"] },
                                  bad: #"[{"op_names": ["fc1"], "target_names": ["weight", ""]}]"#),
            "target_settings": .init(good: #"[{"op_names": ["fc1"], "target_settings": {"weight": {"sparse_ratio": 0.25}}}]"#,
                                     check: { weight($0)?.pruning?.sparseRatio == 0.25 },
                                     bad: #"[{"op_names": ["fc1"], "target_settings": 1}]"#),
            "sparse_ratio": .init(good: #"[{"op_names": ["fc1"], "sparse_ratio": 0.5}]"#, check: { weight($0)?.pruning?.sparseRatio == 0.5 },
                                  bad: #"[{"op_names": ["fc1"], "sparse_ratio": 1.5}]"#),
            "max_sparse_ratio": .init(good: #"[{"op_names": ["fc1"], "max_sparse_ratio": 1}]"#, check: { weight($0)?.pruning?.maxSparseRatio == 1 },
                                      bad: #"[{"op_names": ["fc1"], "max_sparse_ratio": 0}]"#),
            "min_sparse_ratio": .init(good: #"[{"op_names": ["fc1"], "min_sparse_ratio": 0}]"#, check: { weight($0)?.pruning?.minSparseRatio == 0 },
                                      bad: #"[{"op_names": ["fc1"], "min_sparse_ratio": 1}]"#),
            "sparse_threshold": .init(good: #"[{"op_names": ["fc1"], "sparse_threshold": -2}]"#, check: { weight($0)?.pruning?.sparseThreshold == -2 },
                                      bad: #"[{"op_names": ["fc1"], "sparse_threshold": "x"}]"#),
            "global_group_id": .init(good: #"[{"op_names": ["fc1"], "sparse_ratio": 0.5, "global_group_id": 1}]"#,
                                     check: { weight($0)?.pruning?.globalGroupID == .int(1) },
                                     bad: #"[{"op_names": ["fc1"], "global_group_id": 1.5}]"#),
            "dependency_group_id": .init(good: #"[{"op_names": ["fc1"], "sparse_ratio": 0.5, "dependency_group_id": "d"}]"#,
                                         check: { weight($0)?.pruning?.dependencyGroupID == .string("d") },
                                         bad: #"[{"op_names": ["fc1"], "dependency_group_id": [1]}]"#),
            "granularity": .init(good: #"[{"op_names": ["fc1"], "granularity": [1, -1]}]"#, check: { weight($0)?.pruning?.granularity == .blocks([1, -1]) },
                                 bad: #"[{"op_names": ["fc1"], "granularity": []}]"#),
            "internal_metric_block": .init(good: #"[{"op_names": ["fc1"], "internal_metric_block": 2}]"#,
                                           check: { weight($0)?.pruning?.internalMetricBlock == 2 },
                                           bad: #"[{"op_names": ["fc1"], "internal_metric_block": 0}]"#),
            "apply_method": .init(good: #"[{"op_names": ["fc1"], "apply_method": "add"}]"#, check: { weight($0)?.pruning?.applyMethod == .add },
                                  bad: #"[{"op_names": ["fc1"], "apply_method": "scale"}]"#),
            "align": .init(good: #"[{"op_names": ["fc1"], "target_settings": {"bias": {"align": {"target_name": "weight", "dims": [0]}}}}]"#,
                           check: { $0.target(module: "fc1", name: "bias")?.pruning?.align == PruningAlign(targetName: "weight", dims: [0]) },
                           bad: #"[{"op_names": ["fc1"], "target_settings": {"bias": {"align": 1}}}]"#),
            "align.module_name": .init(good: #"[{"op_names": ["fc1"], "target_settings": {"bias": {"align": {"module_name": "fc2", "target_name": "weight", "dims": [0]}}}}]"#,
                                       check: { $0.target(module: "fc1", name: "bias")?.pruning?.align?.moduleName == "fc2" },
                                       bad: #"[{"op_names": ["fc1"], "target_settings": {"bias": {"align": {"module_name": 1, "target_name": "weight", "dims": [0]}}}}]"#),
            "align.target_name": .init(good: #"[{"op_names": ["fc1"], "target_settings": {"bias": {"align": {"target_name": "bias", "dims": [0]}}}}]"#,
                                       check: { $0.target(module: "fc1", name: "bias")?.pruning?.align?.targetName == "bias" },
                                       bad: #"[{"op_names": ["fc1"], "target_settings": {"bias": {"align": {"target_name": "", "dims": [0]}}}}]"#),
            "align.dims": .init(good: #"[{"op_names": ["fc1"], "target_settings": {"bias": {"align": {"target_name": "weight", "dims": [-1]}}}}]"#,
                                check: { $0.target(module: "fc1", name: "bias")?.pruning?.align?.dims == [-1] },
                                bad: #"[{"op_names": ["fc1"], "target_settings": {"bias": {"align": {"target_name": "weight", "dims": ["0"]}}}}]"#),
            "mask_structure": .init(good: #"[{"op_names": ["fc1"], "sparse_ratio": 0.5, "mask_structure": "2:4"}]"#,
                                    check: { weight($0)?.pruning?.maskStructure == PruningMaskStructure(n: 2, m: 4) && $0.target(module: "fc1", name: "bias")?.pruning?.maskStructure == nil },
                                    bad: #"[{"op_names": ["fc1"], "mask_structure": "4:2"}]"#),
            // legacy rows
            "op_partial_names": .init(good: #"[{"op_partial_names": ["c2"], "sparsity": 0.5}]"#, check: { $0.isLegacy && weight($0, "fc2") != nil && weight($0) == nil },
                                      bad: #"[{"op_partial_names": "c2", "sparsity": 0.5}]"#),
            "exclude": .init(good: #"[{"op_names": ["fc1"], "exclude": true}, {"op_types": ["Linear"], "sparsity": 0.5}]"#,
                             check: { weight($0) == nil && weight($0, "fc2") != nil },
                             bad: #"[{"op_names": ["fc1"], "exclude": 1}]"#),
            "sparsity_per_layer": .init(good: #"[{"op_names": ["fc1"], "sparsity_per_layer": 0.5}]"#, check: { weight($0)?.pruning?.sparseRatio == 0.5 },
                                        bad: #"[{"op_names": ["fc1"], "sparsity_per_layer": 2}]"#),
            "total_sparsity": .init(good: #"[{"op_names": ["fc1"], "total_sparsity": 0.5}]"#,
                                    check: { weight($0)?.pruning?.globalGroupID == .string("config_list[0].total_sparsity") },
                                    bad: #"[{"op_names": ["fc1"], "total_sparsity": -1}]"#),
            "sparsity": .init(good: #"[{"op_names": ["fc1"], "sparsity": 0.5}]"#, check: { weight($0)?.pruning?.sparseRatio == 0.5 },
                              bad: #"[{"op_names": ["fc1"], "sparsity": "half"}]"#),
            "max_sparsity_per_layer": .init(good: #"[{"op_names": ["fc1"], "total_sparsity": 0.5, "max_sparsity_per_layer": 0.7}]"#,
                                            check: { weight($0)?.pruning?.maxSparseRatio == 0.7 },
                                            bad: #"[{"op_names": ["fc1"], "total_sparsity": 0.5, "max_sparsity_per_layer": 0}]"#),
        ],
        .quantization: [
            "quant_dtype": .init(good: #"[{"op_names": ["fc1"], "quant_dtype": "uint4"}]"#, check: { weight($0)?.quantization?.dtype == .uint4 },
                                 bad: #"[{"op_names": ["fc1"], "quant_dtype": "int17"}]"#),
            "quant_scheme": .init(good: #"[{"op_names": ["fc1"], "quant_scheme": "affine"}]"#, check: { weight($0)?.quantization?.scheme == .affine },
                                  bad: #"[{"op_names": ["fc1"], "quant_scheme": "asym"}]"#),
            "granularity": .init(good: #"[{"op_names": ["fc1"], "granularity": "per_channel"}]"#,
                                 check: { weight($0)?.quantization?.granularity == .perChannel && $0.target(module: "fc1", name: "_input_0")?.quantization?.role == .activation },
                                 bad: #"[{"op_names": ["fc1"], "granularity": null}]"#),
            "apply_method": .init(good: #"[{"op_names": ["fc1"], "apply_method": "bypass"}]"#, check: { weight($0)?.quantization?.applyMethod == .bypass },
                                  bad: #"[{"op_names": ["fc1"], "apply_method": "mul"}]"#),
            "fuse_names": .init(good: #"[{"op_names": ["fc1"], "fuse_names": [["fc1", "relu"]]}]"#, check: { $0.fusions == [["fc1", "relu"]] },
                                bad: #"[{"op_names": ["fc1"], "fuse_names": [["fc1"]]}]"#),
            "quant_types": .init(good: #"[{"op_names": ["fc1"], "quant_types": ["weight"], "quant_bits": 8}]"#,
                                 check: { $0.targets.map(\.targetName) == ["weight"] },
                                 bad: #"[{"op_names": ["fc1"], "quant_types": ["bias"], "quant_bits": 8}]"#),
            "quant_bits": .init(good: #"[{"op_names": ["fc1"], "quant_types": ["weight"], "quant_bits": {"weight": 4}}]"#,
                                check: { weight($0)?.quantization?.dtype == .int4 },
                                bad: #"[{"op_names": ["fc1"], "quant_types": ["weight"], "quant_bits": 17}]"#),
            "quant_start_step": .init(good: #"[{"op_names": ["fc1"], "quant_types": ["weight"], "quant_bits": 8, "quant_start_step": 3}]"#,
                                      check: { $0.quantStartSteps == [3] },
                                      bad: #"[{"op_names": ["fc1"], "quant_types": ["weight"], "quant_bits": 8, "quant_start_step": -1}]"#),
        ],
        .distillation: [
            "lambda": .init(good: #"[{"op_names": ["fc1"], "lambda": -0.5}]"#, check: { $0.targets.first?.distillation?.lambda == -0.5 },
                            bad: #"[{"op_names": ["fc1"], "lambda": "x"}]"#),
            "link": .init(good: #"[{"op_names": ["fc1"], "link": ["t.fc1", "t.fc2"]}]"#, check: { $0.targets.first?.distillation?.links == ["t.fc1", "t.fc2"] },
                          bad: #"[{"op_names": ["fc1"], "link": []}]"#),
            "apply_method": .init(good: #"[{"op_names": ["fc1"], "apply_method": "kl"}]"#, check: { $0.targets.first?.distillation?.method == .kl },
                                  bad: #"[{"op_names": ["fc1"], "apply_method": "ce"}]"#),
        ],
    ]

    /// The common rows and the legacy rows every mode shares are exercised in pruning mode.
    static func exercise(_ row: SettingKey, _ mode: CompressionMode) -> Exercise? {
        Self.exercises[mode]?[row.name] ?? (row.mode == nil ? Self.exercises[.pruning]?[row.name] : nil)
    }

    @Test(arguments: CompressionMode.allCases)
    func everyRowIsExercised(_ mode: CompressionMode) throws {
        for row in SettingKeys.all(mode) {
            guard let e = Self.exercise(row, mode) else {
                Issue.record("\(mode.rawValue) row \(row.name) has no exercise in KeyTableTests")
                continue
            }
            let runMode = Self.exercises[mode]?[row.name] != nil ? mode : .pruning
            let p = try Plan(json: e.good, modules: Self.modules, mode: runMode)
            #expect(e.check(p), "\(mode.rawValue) \(row.name): \(e.good) does not reach \(row.consumer)")
            do {
                _ = try Plan(json: e.bad, modules: Self.modules, mode: runMode)
                Issue.record("\(mode.rawValue) \(row.name): \(e.bad) is accepted")
            } catch {
                let leaf = row.name.split(separator: ".").last.map(String.init) ?? row.name
                #expect(error.description.contains(leaf), "\(row.name): \(error.description)")
            }
            #expect(!row.spec.isEmpty && !row.consumer.isEmpty && !row.consumerFile.isEmpty, "\(row.name)")
            #expect(FileManager.default.fileExists(atPath: repositoryRoot.appendingPathComponent("Sources/SwiftCompress/" + row.consumerFile).path),
                    "\(row.name): \(row.consumerFile)")
        }
    }

    /// The typed settings accept exactly what validation accepts: each setting row's bad value is
    /// refused by the typed parser too, with the row's key (the rules of PruningSettings and
    /// ConfigValidation once differed on `max_sparse_ratio: 0` and `internal_metric_block: 0`).
    @Test func typedSettingsUseTheRowRules() {
        #expect(throws: PruningError.self) { try PruningSettings(["max_sparse_ratio": 0], target: "fc1.weight") }
        #expect(throws: PruningError.self) { try PruningSettings(["internal_metric_block": 0], target: "fc1.weight") }
        #expect(throws: PruningError.self) { try PruningSettings(["granularity": []], target: "fc1.weight") }
        #expect(throws: QuantizationError.self) { try QuantizationSettings(["quant_dtype": "int1"], target: "fc1.weight") }
        #expect(throws: DistillationError.self) { try DistillationSettings(["link": ""], module: "fc1", target: "_output_0") }
        let e = #expect(throws: PruningError.self) { try PruningSettings(["max_sparse_ratio": 0], target: "fc1.weight") }
        #expect(e?.description == "fc1.weight: max_sparse_ratio: expected a number in (0, 1], got 0")
        // Values set directly are checked by the same rows.
        #expect(throws: PruningError.self) { try PruningSettings(maxSparseRatio: 0).validate(target: "fc1.weight") }
        #expect(throws: PruningError.self) { try PruningSettings(internalMetricBlock: 0).validate(target: "fc1.weight") }
    }

    /// The quant bit range is one constant; every place that states it says the same.
    @Test func quantBitRangeIsOnePlace() throws {
        #expect(quantBitRange == 2...16)
        #expect(QuantDType(isSigned: true, bits: quantBitRange.upperBound + 1) == nil)
        #expect(QuantDType(isSigned: false, bits: quantBitRange.lowerBound) != nil)
        let message = errorMessage(#"[{"op_types": ["Linear"], "quant_types": ["weight"], "quant_bits": 1}]"#, .quantization)
        #expect(message == "config_list[0].quant_bits: expected an int from 2 to 16 (or a dict {quant_type: int}), got 1")
    }

    /// Templates take their defaults from the rows.
    @Test func templatesComeFromTheRows() {
        let weight = SettingTemplates.standard.template(for: "Linear", mode: .pruning)?["weight"]?.object
        // align is the bias's; the extension keys (mask_structure) are in no template.
        #expect(weight?.keys == SettingKeys.settings(.pruning).map(\.name).filter { $0 != "align" && $0 != "mask_structure" })
        #expect(weight?["granularity"] == "default" && weight?["apply_method"] == "mul" && weight?["sparse_ratio"] == .null)
        let q = SettingTemplates.standard.template(for: "Linear", mode: .quantization)?["weight"]?.object
        #expect(q?.keys == SettingKeys.settings(.quantization).map(\.name))
        #expect(SettingTemplates.distillationDefault["_output_"]?.object?.keys == ["lambda", "link", "apply_method"])
    }
}
