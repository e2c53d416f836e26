/// The key tables: every key a config list may hold, one row each, with its type and rule, its
/// default, the spec section it comes from and what consumes it.
///
/// This file is the one place a key is described. Validation (`ConfigValidation.swift`) checks
/// values with the rows' rules; the engines' typed settings (`PruningSettings`,
/// `QuantizationSettings`, `DistillationSettings`) read values through the same rows
/// (`SettingKey.read(_:)`); the setting templates take their defaults from the rows;
/// docs/architecture.md maps each row to its spec section. A new key is a new row here, plus the
/// field of the typed settings that consumes it.

/// One row of a key table.
public struct SettingKey: Sendable {
    /// Where a key may appear.
    public enum Role: String, Sendable, Hashable {
        /// One of the eight common keys of every current-format config (selection and targets).
        case common
        /// A setting of a target (in `target_settings`, or as a shorthand key of a config).
        case setting
        /// A key of a config that is neither common nor a target setting (`fuse_names`).
        case config
        /// A legacy (v2) key, translated into the current format before validation.
        case legacy
        /// A sub-key of a structured setting value (`align.dims`).
        case subKey
    }

    /// The key as written in a config (`sparse_ratio`, `align.dims` for a sub-key).
    public let name: String
    /// The mode the row belongs to; nil for the common keys, which every mode shares.
    public let mode: CompressionMode?
    /// Where the key may appear.
    public let role: Role
    /// The value's type and range, in the words error messages use (`a number in [0, 1]`).
    public let type: String
    /// The value NNI 3.0's templates give the key (`None` for most), as in the canonical settings
    /// of a target.
    public let templateValue: ConfigValue
    /// What an absent or `None` value means (`int8`, `fine-grained`, `no bound`).
    public let unsetMeaning: String
    /// The spec document and section the key comes from (`compression-config-v3.rst: Pruning
    /// Specific Configuration Keys / sparse_ratio`).
    public let spec: String
    /// The typed field or code path that reads the key.
    public let consumer: String
    /// The file of the consumer, relative to Sources/SwiftCompress.
    public let consumerFile: String

    /// How validation checks the value (setting rows only).
    let rule: SettingRule?
    /// The expectation the typed settings' own errors state for a bad value (their messages predate
    /// the table and are asserted by tests); nil: `type`.
    let engineExpectation: String?
    /// Whether `None` is accepted (as "unset").
    let nullable: Bool

    init(_ name: String, _ mode: CompressionMode?, _ role: Role, rule: SettingRule? = nil, type: String? = nil,
         template: ConfigValue = nil, unset: String = "unset", spec: String, consumer: String, file: String,
         engineExpectation: String? = nil, nullable: Bool = true)
    {
        self.name = name
        self.mode = mode
        self.role = role
        self.rule = rule
        self.type = type ?? rule?.expectation ?? ""
        self.templateValue = template
        self.unsetMeaning = unset
        self.spec = spec
        self.consumer = consumer
        self.consumerFile = file
        self.engineExpectation = engineExpectation
        self.nullable = nullable
    }

    /// The expectation a typed-settings error states for a bad value of this key.
    var typedExpectation: String { engineExpectation ?? type }

    /// What a settings dict holds for this key, checked by the row's rule.
    enum Read {
        /// Absent or None.
        case unset
        /// A value the rule accepts.
        case value(ConfigValue)
        /// A value the rule refuses (the caller throws its error with `typedExpectation`).
        case invalid(ConfigValue)
    }

    /// Reads this key from one target's settings dict: absent and None are `.unset`, anything else
    /// is checked by the same rule validation uses.
    func read(_ settings: ConfigObject) -> Read {
        guard let v = settings[name], !v.isNull else { return .unset }
        guard let rule else { return .value(v) }
        do throws(ConfigError) {
            try checkSetting(name, v, rule: rule, nullable: nullable, at: KeyPath(configIndex: nil, text: name))
            return .value(v)
        } catch {
            return .invalid(v)
        }
    }
}

/// Reads one target's settings dict for a typed-settings initializer: each key through its row of
/// `mode`'s key table, a refused value thrown as `EngineError(engine, .invalidSetting)` naming the
/// target, the key, the row's expectation and the value. The one reader of PruningSettings,
/// QuantizationSettings and DistillationSettings.
struct SettingsReader {
    let settings: ConfigObject
    let mode: CompressionMode
    let engine: EngineError.Engine
    let target: String

    /// The checked value of `key`, or nil when absent or None.
    func callAsFunction(_ key: String) throws(EngineError) -> ConfigValue? {
        let row = SettingKeys.row(key, mode)
        switch row.read(settings) {
        case .unset: return nil
        case .value(let v): return v
        case .invalid(let v):
            throw EngineError(engine, .invalidSetting, target: target, key: key, "expected \(row.typedExpectation), got \(v.pythonDescription)")
        }
    }
}

/// The bit widths `quant_dtype` (`intN` / `uintN`), legacy `quant_bits` and the C ABI's `bits`
/// accept: the one place the range is written.
public let quantBitRange: ClosedRange<Int> = 2...16

private let v3 = "compression-config-v3.rst"
private let v2 = "compression-config-v2.txt"
private let pruningV2 = "pruning-config-v2.txt"
private let semantics = "SEMANTICS.md"

/// The key tables of the config engine.
public enum SettingKeys {
    /// The eight common keys of every mode (compression-config-v3.rst, "Common Keys in Config").
    public static let common: [SettingKey] = [
        SettingKey("op_names", nil, .common, type: "a list of strings", unset: "no selection by name",
                   spec: "\(v3): Common Keys in Config / op_names; \(v2): Common Keys in Config; \(pruningV2): op_names",
                   consumer: "ModuleSelector (select by exact name)", file: "Config/ModuleSelection.swift"),
        SettingKey("op_names_re", nil, .common, type: "a list of strings (Python regular expressions)", unset: "no selection by pattern",
                   spec: "\(v3): Common Keys in Config / op_names_re; \(semantics): Selecting modules",
                   consumer: "ModuleSelector (re.match over module names)", file: "Config/ModuleSelection.swift"),
        SettingKey("op_types", nil, .common, type: "a list of strings", unset: "every module type",
                   spec: "\(v3): Common Keys in Config / op_types; \(v2): Common Keys in Config; \(pruningV2): op_types",
                   consumer: "ModuleSelector (select / intersect by type name)", file: "Config/ModuleSelection.swift"),
        SettingKey("exclude_op_names", nil, .common, type: "a list of strings", unset: "nothing excluded",
                   spec: "\(v3): Common Keys in Config / exclude_op_names",
                   consumer: "ModuleSelector (remove by exact name)", file: "Config/ModuleSelection.swift"),
        SettingKey("exclude_op_names_re", nil, .common, type: "a list of strings (Python regular expressions)", unset: "nothing excluded",
                   spec: "\(v3): Common Keys in Config / exclude_op_names_re",
                   consumer: "ModuleSelector (remove by re.match)", file: "Config/ModuleSelection.swift"),
        SettingKey("exclude_op_types", nil, .common, type: "a list of strings", unset: "nothing excluded",
                   spec: "\(v3): Common Keys in Config / exclude_op_types",
                   consumer: "ModuleSelector (remove by type name)", file: "Config/ModuleSelection.swift"),
        SettingKey("target_names", nil, .common, type: "a list of target names", unset: "every template target",
                   spec: "\(v3): Common Keys in Config / target_names",
                   consumer: "resolveTargets (picks and orders the targets)", file: "Config/Plan.swift"),
        SettingKey("target_settings", nil, .common, type: "a dict {target_name: {setting: value}}", unset: "template and shorthand settings only",
                   spec: "\(v3): Common Keys in Config / target_settings",
                   consumer: "resolveTargets (merged key by key into the template)", file: "Config/Plan.swift"),
    ]

    /// The target settings of `mode`, in documentation order: validation's rules and the typed
    /// settings' fields.
    public static func settings(_ mode: CompressionMode) -> [SettingKey] {
        switch mode {
        case .pruning: return pruning
        case .quantization: return quantization
        case .distillation: return distillation
        }
    }

    /// Keys of a `mode` config that are neither common keys nor target settings (`fuse_names`).
    public static func configKeys(_ mode: CompressionMode) -> [SettingKey] {
        mode == .quantization ? [fuseNames] : []
    }

    /// The sub-keys of structured settings (`align.module_name`, `align.target_name`, `align.dims`).
    public static func subKeys(_ mode: CompressionMode) -> [SettingKey] {
        mode == .pruning ? alignSubKeys : []
    }

    /// The legacy (v2) keys `mode` translates (`LegacyTranslation.swift`), plus the legacy keys
    /// every mode knows (`op_partial_names`, `exclude`).
    public static func legacy(_ mode: CompressionMode) -> [SettingKey] {
        switch mode {
        case .pruning: return legacyCommon + legacyPruning
        case .quantization: return legacyCommon + legacyQuantization
        case .distillation: return legacyCommon
        }
    }

    /// Every row that applies to `mode`: common keys, settings, config keys, sub-keys, legacy keys.
    public static func all(_ mode: CompressionMode) -> [SettingKey] {
        common + settings(mode) + configKeys(mode) + subKeys(mode) + legacy(mode)
    }

    /// The row of setting `name` in `mode`, or nil.
    public static func setting(_ name: String, _ mode: CompressionMode) -> SettingKey? {
        settings(mode).first { $0.name == name }
    }

    /// The setting row `name` of `mode`; only for names this file defines (a missing row is a
    /// programming error caught by the key-table tests, so it falls back to an unchecked row).
    static func row(_ name: String, _ mode: CompressionMode) -> SettingKey {
        setting(name, mode) ?? SettingKey(name, mode, .setting, spec: "", consumer: "", file: "")
    }

    // MARK: pruning

    static let pruningSpec = "\(v3): Pruning Specific Configuration Keys"

    static let pruning: [SettingKey] = [
        SettingKey("sparse_ratio", .pruning, .setting, rule: .ratio(lowOpen: false, highOpen: false), unset: "no ratio rule",
                   spec: "\(pruningSpec) / sparse_ratio; \(semantics): Pruning masks (Ratio)",
                   consumer: "PruningSettings.sparseRatio -> ratio, global and dependency rules", file: "Pruning/PruningSettings.swift"),
        SettingKey("max_sparse_ratio", .pruning, .setting, rule: .ratio(lowOpen: true, highOpen: false), unset: "no upper bound",
                   spec: "\(pruningSpec) / max_sparse_ratio",
                   consumer: "PruningSettings.maxSparseRatio -> ratio, threshold and global rules", file: "Pruning/PruningSettings.swift"),
        SettingKey("min_sparse_ratio", .pruning, .setting, rule: .ratio(lowOpen: false, highOpen: true), unset: "no lower bound",
                   spec: "\(pruningSpec) / min_sparse_ratio",
                   consumer: "PruningSettings.minSparseRatio -> ratio, threshold and global rules", file: "Pruning/PruningSettings.swift"),
        SettingKey("sparse_threshold", .pruning, .setting, rule: .finiteNumber, unset: "no threshold rule",
                   spec: "\(pruningSpec) / sparse_threshold; \(semantics): Pruning masks (Threshold)",
                   consumer: "PruningSettings.sparseThreshold -> threshold rule", file: "Pruning/PruningSettings.swift"),
        SettingKey("global_group_id", .pruning, .setting, rule: .groupID, unset: "no global group",
                   spec: "\(pruningSpec) / global_group_id",
                   consumer: "PruningSettings.globalGroupID -> global rule", file: "Pruning/PruningSettings.swift"),
        SettingKey("dependency_group_id", .pruning, .setting, rule: .groupID, unset: "no dependency group",
                   spec: "\(pruningSpec) / dependency_group_id; \(semantics): Pruning masks (Dependency group)",
                   consumer: "PruningSettings.dependencyGroupID -> dependency rule", file: "Pruning/PruningSettings.swift"),
        SettingKey("granularity", .pruning, .setting, rule: .granularity, template: "default", unset: "fine-grained (a direct dict only; configs cannot set None)",
                   spec: "\(pruningSpec) / granularity; \(semantics): Pruning masks (Granularity)",
                   consumer: "PruningSettings.granularity -> BlockLayout of the metric", file: "Pruning/PruningSettings.swift",
                   engineExpectation: "'default', 'out_channel', 'in_channel', 'per_channel' or a list of block sizes (each -1 or >= 1)",
                   nullable: false),
        SettingKey("internal_metric_block", .pruning, .setting, rule: .positiveInt, unset: "1 (one part)",
                   spec: "\(semantics): Pruning masks (Dependency group); NNI 3.0 schema",
                   consumer: "PruningSettings.internalMetricBlock -> dependency rule", file: "Pruning/PruningSettings.swift"),
        SettingKey("apply_method", .pruning, .setting, rule: .choice(["mul", "add", "bypass"]), template: "mul", unset: "'mul'",
                   spec: "\(pruningSpec) / apply_method; \(semantics): Pruning masks",
                   consumer: "PruningSettings.applyMethod -> Pruning.applyMask", file: "Pruning/PruningSettings.swift",
                   engineExpectation: "'mul', 'add' or 'bypass'"),
        SettingKey("align", .pruning, .setting, rule: .align, unset: "no align (bias templates align to weight dim 0)",
                   spec: "\(pruningSpec) / align; \(semantics): Pruning masks (Align)",
                   consumer: "PruningSettings.align -> align rule", file: "Pruning/PruningSettings.swift",
                   engineExpectation: "a dict with 'target_name' and 'dims'"),
        SettingKey("mask_structure", .pruning, .setting, rule: .maskStructure, unset: "'0:0' (unstructured; not in the templates, as NNI 3.0 has no such key)",
                   spec: "\(semantics): Beyond the documents (mask_structure)",
                   consumer: "PruningSettings.maskStructure -> N:M group rule", file: "Pruning/PruningSettings.swift"),
    ]

    /// Setting rows that are our extensions (SEMANTICS.md, "Beyond the documents"): not in the
    /// templates, so a target's canonical settings are NNI 3.0's unless one is set; as a shorthand
    /// key each reaches the targets whose template has its anchor key (`(key, anchor)`).
    public static let shorthandExtensions: [(key: String, anchor: String)] = [("mask_structure", "sparse_ratio")]

    static let alignSubKeys: [SettingKey] = [
        SettingKey("align.module_name", .pruning, .subKey, type: "a module name or None", unset: "the target's own module",
                   spec: "\(pruningSpec) / align / module_name",
                   consumer: "PruningAlign.moduleName", file: "Pruning/PruningSettings.swift"),
        SettingKey("align.target_name", .pruning, .subKey, type: "a target name", unset: "required",
                   spec: "\(pruningSpec) / align / target_name",
                   consumer: "PruningAlign.targetName", file: "Pruning/PruningSettings.swift"),
        SettingKey("align.dims", .pruning, .subKey, type: "a list of ints", unset: "required",
                   spec: "\(pruningSpec) / align / dims",
                   consumer: "PruningAlign.dims", file: "Pruning/PruningSettings.swift"),
    ]

    // MARK: quantization

    static let quantizationSpec = "\(v3): Quantization Specific Configuration Keys"

    static let quantization: [SettingKey] = [
        SettingKey("quant_dtype", .quantization, .setting, rule: .quantDtype, unset: "int8",
                   spec: "\(quantizationSpec) / quant_dtype; \(semantics): Quantization",
                   consumer: "QuantizationSettings.dtype (QuantDType: qmin, qmax)", file: "Quantization/QuantizationSettings.swift"),
        SettingKey("quant_scheme", .quantization, .setting, rule: .choice(["affine", "symmetric"]), unset: "symmetric",
                   spec: "\(quantizationSpec) / quant_scheme; \(semantics): Quantization",
                   consumer: "QuantizationSettings.scheme -> QuantParameters", file: "Quantization/QuantizationSettings.swift",
                   engineExpectation: "'symmetric' or 'affine'"),
        SettingKey("granularity", .quantization, .setting, rule: .granularity, template: "default", unset: "per tensor (a direct dict only; configs cannot set None)",
                   spec: "\(quantizationSpec) / granularity; \(semantics): Quantization",
                   consumer: "QuantizationSettings.granularity -> QuantizationBlocks", file: "Quantization/QuantizationSettings.swift",
                   engineExpectation: "'default', 'per_channel', 'out_channel', 'in_channel' or a list of block sizes (each -1 or >= 1)",
                   nullable: false),
        SettingKey("apply_method", .quantization, .setting, rule: .choice(["clamp_round", "qat_clamp_round", "bypass"]), template: "clamp_round",
                   unset: "'clamp_round'",
                   spec: "NNI 3.0 quantization schema (apply_method); \(v3): Common Keys in Config / target_settings",
                   consumer: "QuantizationSettings.applyMethod -> Quantization.apply", file: "Quantization/QuantizationSettings.swift",
                   engineExpectation: "'clamp_round', 'qat_clamp_round' or 'bypass'"),
    ]

    static let fuseNames = SettingKey(
        "fuse_names", .quantization, .config, type: "a list of tuples of module names (at least two each)", unset: "no fusion",
        spec: "\(quantizationSpec) / fuse_names",
        consumer: "Plan.fusions -> BatchNormFolding", file: "Config/Plan.swift")

    // MARK: distillation

    static let distillationSpec = "\(v3): Distillation Specific Configuration Keys"

    static let distillation: [SettingKey] = [
        SettingKey("lambda", .distillation, .setting, rule: .finiteNumber, unset: "1",
                   spec: "\(distillationSpec) / lambda; \(semantics): Distillation",
                   consumer: "DistillationSettings.lambda -> Distillation.targetLoss", file: "Distillation/DistillationSettings.swift"),
        SettingKey("link", .distillation, .setting, rule: .link, unset: "the student module's own name ('auto')",
                   spec: "\(distillationSpec) / link; \(semantics): Distillation",
                   consumer: "DistillationSettings.links -> Distillation.targetLoss (smallest loss)", file: "Distillation/DistillationSettings.swift",
                   engineExpectation: "'auto', a teacher module name or a non-empty list of teacher module names"),
        SettingKey("apply_method", .distillation, .setting, rule: .choice(["mse", "kl"]), unset: "'mse'",
                   spec: "\(distillationSpec) / apply_method; \(semantics): Distillation",
                   consumer: "DistillationSettings.method -> DistillationKernels", file: "Distillation/DistillationSettings.swift",
                   engineExpectation: "'mse' or 'kl'"),
    ]

    // MARK: legacy (v2)

    static let legacyCommon: [SettingKey] = [
        SettingKey("op_partial_names", nil, .legacy, type: "a list of strings", unset: "no selection by sub-string",
                   spec: "\(v2): Special Keys for Pruning; \(pruningV2): op_partial_names",
                   consumer: "translateLegacy -> op_names_re ['.*p.*']", file: "Config/LegacyTranslation.swift"),
        SettingKey("exclude", nil, .legacy, type: "True or False", unset: "False",
                   spec: "\(v2): Common Keys in Config; \(pruningV2): exclude",
                   consumer: "translateLegacy -> an exclusion of its modules from every config", file: "Config/LegacyTranslation.swift"),
    ]

    static let legacyPruning: [SettingKey] = [
        SettingKey("sparsity_per_layer", .pruning, .legacy, type: "a number in [0, 1]", unset: "no pruning",
                   spec: "\(v2): Special Keys for Pruning; \(pruningV2): sparsity_per_layer",
                   consumer: "translateLegacy -> weight sparse_ratio", file: "Config/LegacyTranslation.swift"),
        SettingKey("total_sparsity", .pruning, .legacy, type: "a number in [0, 1]", unset: "no pruning",
                   spec: "\(v2): Special Keys for Pruning; \(pruningV2): total_sparsity",
                   consumer: "translateLegacy -> weight sparse_ratio + a global_group_id per config", file: "Config/LegacyTranslation.swift"),
        SettingKey("sparsity", .pruning, .legacy, type: "a number in [0, 1]", unset: "no pruning",
                   spec: "\(v2): Special Keys for Pruning; \(pruningV2): sparsity",
                   consumer: "translateLegacy -> weight sparse_ratio", file: "Config/LegacyTranslation.swift"),
        SettingKey("max_sparsity_per_layer", .pruning, .legacy, type: "a number in (0, 1]", unset: "no bound",
                   spec: "\(v2): Special Keys for Pruning; \(pruningV2): max_sparsity_per_layer",
                   consumer: "translateLegacy -> weight max_sparse_ratio", file: "Config/LegacyTranslation.swift"),
    ]

    static let legacyQuantization: [SettingKey] = [
        SettingKey("quant_types", .quantization, .legacy, type: "'input', 'weight', 'output' or a list of them", unset: "no quantization",
                   spec: "\(v2): Special Keys for Quantization (quant_types)",
                   consumer: "translateLegacy -> target_names", file: "Config/LegacyTranslation.swift"),
        SettingKey("quant_bits", .quantization, .legacy, type: "an int from \(quantBitRange.lowerBound) to \(quantBitRange.upperBound) (or a dict {quant_type: int})",
                   unset: "required with quant_types",
                   spec: "\(v2): Special Keys for Quantization (quant_bits)",
                   consumer: "translateLegacy -> quant_dtype 'int<bits>' per target", file: "Config/LegacyTranslation.swift"),
        SettingKey("quant_start_step", .quantization, .legacy, type: "an int >= 0", unset: "0",
                   spec: "\(v2): Special Keys for Quantization (quant_start_step)",
                   consumer: "Plan.quantStartSteps (the QAT quantizer's start step)", file: "Config/LegacyTranslation.swift"),
    ]
}
