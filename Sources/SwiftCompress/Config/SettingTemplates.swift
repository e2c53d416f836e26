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

    /// The built-in templates (SEMANTICS.md, "Settings per target"), defaults from the key table.
    public init() {
        // Defaults from the key table: every pruning setting but align and mask_structure (our
        // extension: absent unless set, so canonical settings stay NNI 3.0's), with its template value.
        var pruneWeight = ConfigObject()
        for row in SettingKeys.settings(.pruning) where row.name != "align" && !SettingKeys.shorthandExtensions.contains(where: { $0.key == row.name }) { pruneWeight[row.name] = row.templateValue }
        let pruneBias: ConfigObject = [
            "align": ["module_name": nil, "target_name": "weight", "dims": [0]],
            "apply_method": "mul",
        ]
        let pruneDefault: ConfigObject = ["weight": .object(pruneWeight), "bias": .object(pruneBias)]
        let pruneEmbedding: ConfigObject = ["weight": .object(pruneWeight)]

        var quantSettings = ConfigObject()
        for row in SettingKeys.settings(.quantization) { quantSettings[row.name] = row.templateValue }
        let quantTarget = ConfigValue.object(quantSettings)
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
    public static let distillationDefault: ConfigObject = {
        var settings = ConfigObject()
        for row in SettingKeys.settings(.distillation) { settings[row.name] = row.templateValue }
        return ["_output_": .object(settings)]
    }()

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
