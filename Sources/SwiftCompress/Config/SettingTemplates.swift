/// The setting templates: for each mode and module type, the targets a module of that type has and
/// their default settings. A config's shorthand keys and `target_settings` are merged into a copy of
/// the template of each module it selects.
///
/// The defaults are those of NNI 3.0 (SEMANTICS.md, "Settings per target"). The value is an
/// ordinary struct, not a global registry: copy `SettingTemplates.standard`, `register` your own
/// module types, and pass it to `Plan`.
public struct SettingTemplates: Sendable, Equatable {
    /// mode -> module type name -> target name -> default settings (ordered).
    private var registry: [CompressionMode: [String: ConfigObject]]

    /// The built-in templates.
    public static let standard = SettingTemplates()

    public init() {
        let pruneWeight: ConfigObject = [
            "sparse_ratio": nil, "max_sparse_ratio": nil, "min_sparse_ratio": nil, "sparse_threshold": nil,
            "global_group_id": nil, "dependency_group_id": nil, "granularity": "default",
            "internal_metric_block": nil, "apply_method": "mul",
        ]
        let pruneBias: ConfigObject = [
            "align": ["module_name": nil, "target_name": "weight", "dims": [0]],
            "apply_method": "mul",
        ]
        let pruneDefault: ConfigObject = ["weight": .object(pruneWeight), "bias": .object(pruneBias)]
        let pruneEmbedding: ConfigObject = ["weight": .object(pruneWeight)]

        let quantTarget: ConfigValue = [
            "quant_dtype": nil, "quant_scheme": nil, "granularity": "default", "apply_method": "clamp_round",
        ]
        let quantDefault: ConfigObject = ["_input_": quantTarget, "weight": quantTarget, "bias": quantTarget, "_output_": quantTarget]
        let quantActivation: ConfigObject = ["_input_": quantTarget, "_output_": quantTarget]

        var pruning: [String: ConfigObject] = ["Embedding": pruneEmbedding]
        for t in ["Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
                  "BatchNorm1d", "BatchNorm2d", "BatchNorm3d"] {
            pruning[t] = pruneDefault
        }
        var quantization: [String: ConfigObject] = [:]
        for t in ["Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
                  "BatchNorm1d", "BatchNorm2d"] {
            quantization[t] = quantDefault
        }
        for t in ["ReLU", "ReLU6", "Hardtanh", "MaxPool2d"] { quantization[t] = quantActivation }
        registry = [.pruning: pruning, .quantization: quantization, .distillation: [:]]
    }

    /// The template every module type gets in distillation mode unless one is registered for it.
    public static let distillationDefault: ConfigObject = [
        "_output_": ["lambda": nil, "link": nil, "apply_method": nil]
    ]

    /// The template for `typeName` in `mode`, or nil when that mode does not know the type
    /// (distillation knows every type).
    public func template(for typeName: String, mode: CompressionMode) -> ConfigObject? {
        if let t = registry[mode]?[typeName] { return t }
        return mode == .distillation ? Self.distillationDefault : nil
    }

    /// The module types with a template of their own in `mode`, sorted.
    public func registeredTypes(mode: CompressionMode) -> [String] {
        (registry[mode] ?? [:]).keys.sorted()
    }

    /// Registers (or replaces) the template of `typeName` in `mode`. `targets` maps target names
    /// (`weight`, `_input_`, `_output_`, ...) to their default settings, each a dict.
    ///
    /// Throws `ConfigError` (path `templates[mode][type]...`) when the type name is empty or a target's
    /// settings are not a dict.
    public mutating func register(_ typeName: String, mode: CompressionMode, targets: ConfigObject) throws(ConfigError) {
        let path = "templates[\(pythonRepr(mode.rawValue))][\(pythonRepr(typeName))]"
        guard !typeName.isEmpty else {
            throw ConfigError(configIndex: nil, path: path, expected: "a non-empty module type name", got: "''")
        }
        for (name, value) in targets where value.object == nil {
            throw ConfigError(configIndex: nil, path: path + "[\(pythonRepr(name))]", expected: "a dict of settings", got: value.pythonDescription)
        }
        registry[mode, default: [:]][typeName] = targets
    }
}
