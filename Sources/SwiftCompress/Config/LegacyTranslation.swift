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

/// The legacy keys of one config, read and checked (`readLegacyKeys`), and the rest of the config.
struct LegacyKeys {
    var rest = ConfigObject()
    var isExclusion = false
    var quantStartStep: Int? = nil
    var sparsityKey: String? = nil
    var ratio: ConfigValue? = nil
    var maxRatio: ConfigValue? = nil
    var quantTypes: [String]? = nil
    var quantBits: ConfigValue? = nil
    var partialPatterns: [ConfigValue] = []
}

let legacySparsityKeys = ["sparsity", "sparsity_per_layer", "total_sparsity"]

/// Translates one legacy config: its keys read, then the exclusion, the pruning and the
/// quantization translations in turn.
func translateLegacy(_ config: ConfigObject, index: Int, mode: CompressionMode) throws(ConfigError) -> TranslatedConfig {
    let path = KeyPath.config(index)
    var k = try readLegacyKeys(config, path: path, mode: mode)
    if k.isExclusion {
        for key in legacySparsityKeys + ["quant_types", "quant_bits"] where config.contains(key) {
            throw path.key(key).error(expected: "no '\(key)' in a config with exclude: True (exclude and sparsity are mutually exclusive)", got: config[key]?.pythonDescription ?? "")
        }
    }
    if !k.partialPatterns.isEmpty {
        let existing = k.rest["op_names_re"]?.array ?? []
        k.rest["op_names_re"] = .array(existing + k.partialPatterns)
    }
    if k.isExclusion {
        // Keep only what selects modules: the exclusion removes exactly the modules these select.
        var selection = ConfigObject()
        var dropped: [String] = []
        for (key, v) in k.rest {
            if selectionListKeys.contains(key) { selection[key] = v } else { dropped.append(key) }
        }
        return TranslatedConfig(index: index, config: selection, isExclusion: true, quantStartStep: nil, droppedKeys: dropped)
    }
    var dropped: [String] = []
    translateLegacySparsity(&k, index: index, dropped: &dropped)
    try translateLegacyQuantization(&k, path: path, dropped: &dropped)
    return TranslatedConfig(index: index, config: k.rest, isExclusion: false, quantStartStep: k.quantStartStep, droppedKeys: dropped)
}

/// Reads and checks the legacy keys of `config`; every other key is kept in `rest`.
func readLegacyKeys(_ config: ConfigObject, path: KeyPath, mode: CompressionMode) throws(ConfigError) -> LegacyKeys {
    var k = LegacyKeys()
    for (key, value) in config {
        let p = path.key(key)
        switch key {
        case "op_partial_names":
            k.partialPatterns = try checkStringList(value, at: p).map { .string(".*" + $0 + ".*") }
        case "exclude":
            guard let b = value.bool else { throw p.error(expected: "True or False", got: value) }
            k.isExclusion = b
        case "sparsity", "sparsity_per_layer", "total_sparsity", "max_sparsity_per_layer":
            guard mode == .pruning else {
                throw p.error(expected: "a \(mode.rawValue) key; '\(key)' is a legacy pruning key", got: pythonRepr(key))
            }
            // The current-format row the key becomes gives its rule (max_sparsity_per_layer: (0, 1]).
            let row = SettingKeys.row(key == "max_sparsity_per_layer" ? "max_sparse_ratio" : "sparse_ratio", .pruning)
            guard case .value = row.read([row.name: value]) else { throw p.error(expected: row.type, got: value) }
            if key == "max_sparsity_per_layer" {
                k.maxRatio = value
            } else {
                if let first = k.sparsityKey {
                    throw p.error(expected: "one sparsity key per config, but '\(first)' is given too", got: pythonRepr(key))
                }
                k.sparsityKey = key
                k.ratio = value
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
                k.quantTypes = types
            } else if key == "quant_bits" {
                k.quantBits = value
            } else {
                guard case .int(let n) = value, n >= 0 else { throw p.error(expected: "an int >= 0", got: value) }
                k.quantStartStep = n
            }
        default:
            k.rest[key] = value
        }
    }
    return k
}

/// `sparsity` / `sparsity_per_layer` / `total_sparsity` (+ `max_sparsity_per_layer`) -> the
/// weight's settings.
func translateLegacySparsity(_ k: inout LegacyKeys, index: Int, dropped: inout [String]) {
    if let ratio = k.ratio, let sparsityKey = k.sparsityKey {
        var weight: ConfigObject = ["sparse_ratio": ratio, "granularity": "default"]
        if let maxRatio = k.maxRatio { weight["max_sparse_ratio"] = maxRatio }
        if sparsityKey == "total_sparsity" { weight["global_group_id"] = .string("config_list[\(index)].total_sparsity") }
        k.rest["target_names"] = ["weight", "bias"]
        k.rest["target_settings"] = ["weight": .object(weight)]
    } else if k.maxRatio != nil {
        dropped.append("max_sparsity_per_layer")
    }
}

/// `quant_types` + `quant_bits` -> target_names and a quant_dtype per target.
func translateLegacyQuantization(_ k: inout LegacyKeys, path: KeyPath, dropped: inout [String]) throws(ConfigError) {
    guard let quantTypes = k.quantTypes else {
        if k.quantBits != nil { dropped.append("quant_bits") }
        return
    }
    guard let bits = k.quantBits else {
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
    k.rest["target_names"] = .array(names)
    k.rest["target_settings"] = .object(settings)
}
