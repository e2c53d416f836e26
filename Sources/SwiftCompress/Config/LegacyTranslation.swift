/// Translation of legacy (v2) config lists to the current format (SEMANTICS.md, "Settings per target").
///
/// A list is legacy when its first config has `exclude`, `sparsity`, `sparsity_per_layer`,
/// `total_sparsity` or `quant_types` (NNI 3.0's test). Translation, config by config:
/// - `op_partial_names: [p]` adds `op_names_re: ['.*p.*']` (p is used as a pattern, as NNI does).
/// - `exclude: True` turns the config into an exclusion: the modules it selects are removed from
///   every config of the list. `exclude: False` is an ordinary config. `exclude` with a sparsity or
///   quantization key in the same config is an error.
/// - `sparsity` / `sparsity_per_layer` / `total_sparsity` (pruning only; at most one per config)
///   become `target_names: ['weight', 'bias']`, `target_settings: {'weight': {'sparse_ratio': r,
///   'granularity': 'default'}}`; `max_sparsity_per_layer` adds `max_sparse_ratio`;
///   `total_sparsity` adds `global_group_id: 'config_list[i].total_sparsity'`, one group per config.
/// - `quant_types` + `quant_bits` (quantization only) become `target_names` (`_input_`, `weight`,
///   `_output_`, in that order) with `quant_dtype: 'int<bits>'` per target; `quant_start_step` is
///   kept on the side for the QAT quantizer.
struct TranslatedConfig: Sendable {
    var index: Int
    /// The current-format config (for an exclusion: its selection keys only).
    var config: ConfigObject
    var isExclusion: Bool
    var quantStartStep: Int?
    /// Keys the translation dropped because they had no effect, for the report.
    var droppedKeys: [String]
}

let legacyMarkerKeys: [String] = ["exclude", "sparsity", "sparsity_per_layer", "total_sparsity", "quant_types"]

/// NNI 3.0's test for a legacy list.
func isLegacyList(_ configs: [ConfigObject]) -> Bool {
    guard let first = configs.first else { return false }
    return legacyMarkerKeys.contains(where: first.contains)
}

func translateLegacy(_ config: ConfigObject, index: Int, mode: CompressionMode) throws(ConfigError) -> TranslatedConfig {
    let path = KeyPath.config(index)
    var out = ConfigObject()
    var isExclusion = false
    var quantStartStep: Int? = nil
    var dropped: [String] = []
    var sparsityKey: String? = nil
    var ratio: ConfigValue? = nil
    var maxRatio: ConfigValue? = nil
    var quantTypes: [String]? = nil
    var quantBits: ConfigValue? = nil
    var partialPatterns: [ConfigValue] = []

    let sparsityKeys = ["sparsity", "sparsity_per_layer", "total_sparsity"]
    for (key, value) in config {
        let p = path.key(key)
        switch key {
        case "op_partial_names":
            partialPatterns = try checkStringList(value, at: p).map { .string(".*" + $0 + ".*") }
        case "exclude":
            guard let b = value.bool else { throw p.error(expected: "True or False", got: value) }
            isExclusion = b
        case "sparsity", "sparsity_per_layer", "total_sparsity", "max_sparsity_per_layer":
            guard mode == .pruning else {
                throw p.error(expected: "a \(mode.rawValue) key; '\(key)' is a legacy pruning key", got: pythonRepr(key))
            }
            // The current-format row the key becomes gives its rule (max_sparsity_per_layer: (0, 1]).
            let row = SettingKeys.row(key == "max_sparsity_per_layer" ? "max_sparse_ratio" : "sparse_ratio", .pruning)
            guard case .value = row.read([row.name: value]) else { throw p.error(expected: row.type, got: value) }
            if key == "max_sparsity_per_layer" {
                maxRatio = value
            } else {
                if let sparsityKey {
                    throw p.error(expected: "one sparsity key per config, but '\(sparsityKey)' is given too", got: pythonRepr(key))
                }
                sparsityKey = key
                ratio = value
            }
        case "quant_types", "quant_bits", "quant_start_step":
            guard mode == .quantization else {
                throw p.error(expected: "a \(mode.rawValue) key; '\(key)' is a legacy quantization key", got: pythonRepr(key))
            }
            if key == "quant_types" {
                let types: [String]
                if let s = value.string { types = [s] } else { types = try checkStringList(value, at: p) }
                for (i, t) in types.enumerated() where !["input", "weight", "output"].contains(t) {
                    throw (value.string == nil ? p.index(i) : p).error(expected: "'input', 'weight' or 'output'", got: pythonRepr(t))
                }
                quantTypes = types
            } else if key == "quant_bits" {
                quantBits = value
            } else {
                guard case .int(let n) = value, n >= 0 else { throw p.error(expected: "an int >= 0", got: value) }
                quantStartStep = n
            }
        default:
            out[key] = value
        }
    }

    if isExclusion {
        for key in sparsityKeys + ["quant_types", "quant_bits"] where config.contains(key) {
            throw path.key(key).error(expected: "no '\(key)' in a config with exclude: True (exclude and sparsity are mutually exclusive)", got: config[key]?.pythonDescription ?? "")
        }
    }
    if !partialPatterns.isEmpty {
        let existing = out["op_names_re"]?.array ?? []
        out["op_names_re"] = .array(existing + partialPatterns)
    }
    if isExclusion {
        // Keep only what selects modules: the exclusion removes exactly the modules these select.
        var selection = ConfigObject()
        for (k, v) in out where selectionListKeys.contains(k) { selection[k] = v }
        for (k, _) in out where !selectionListKeys.contains(k) { dropped.append(k) }
        return TranslatedConfig(index: index, config: selection, isExclusion: true, quantStartStep: nil, droppedKeys: dropped)
    }

    if let ratio, let sparsityKey {
        var weight: ConfigObject = ["sparse_ratio": ratio, "granularity": "default"]
        if let maxRatio { weight["max_sparse_ratio"] = maxRatio }
        if sparsityKey == "total_sparsity" { weight["global_group_id"] = .string("config_list[\(index)].total_sparsity") }
        out["target_names"] = ["weight", "bias"]
        out["target_settings"] = ["weight": .object(weight)]
    } else if maxRatio != nil {
        dropped.append("max_sparsity_per_layer")
    }

    if let quantTypes {
        guard let bits = quantBits else {
            throw path.key("quant_bits").error(expected: "quant_bits (an int, or a dict {quant_type: int}) with quant_types", got: "nothing")
        }
        var names: [ConfigValue] = []
        var settings = ConfigObject()
        for (type, target) in [("input", "_input_"), ("weight", "weight"), ("output", "_output_")] where quantTypes.contains(type) {
            let b: ConfigValue
            let bp: KeyPath
            if let o = bits.object {
                guard let v = o[type] else {
                    throw path.key("quant_bits").key(type).error(expected: "the bit width of '\(type)' (quant_types has it)", got: "nothing")
                }
                b = v
                bp = path.key("quant_bits").key(type)
            } else {
                b = bits
                bp = path.key("quant_bits")
            }
            guard case .int(let n) = b, quantBitRange.contains(n) else {
                throw bp.error(expected: "an int from \(quantBitRange.lowerBound) to \(quantBitRange.upperBound) (or a dict {quant_type: int})", got: b)
            }
            names.append(.string(target))
            settings[target] = ["quant_dtype": .string("int\(n)")]
        }
        out["target_names"] = .array(names)
        out["target_settings"] = .object(settings)
    } else if quantBits != nil {
        dropped.append("quant_bits")
    }
    return TranslatedConfig(index: index, config: out, isExclusion: false, quantStartStep: quantStartStep, droppedKeys: dropped)
}
