/// Validation of one current-format (v3) config for a mode: every key's type and range.
///
/// Where NNI 3.0's schema is stricter than the documents we accept what the documents allow and
/// say so in docs/config.md: integers where a float is expected (`sparse_ratio: 1`), `None` for any
/// setting whose default is `None`, and a missing `quant_dtype` (default int8).

/// The eight keys every mode shares; all other keys of a config are settings (shorthand). From
/// the key table (`SettingKeys.common`).
let commonKeys: [String] = SettingKeys.common.map(\.name)
/// The six selection keys (the common keys that are lists of names or patterns).
let selectionListKeys: [String] = SettingKeys.common.filter { $0.name != "target_names" && $0.name != "target_settings" }.map(\.name)
/// Keys only the legacy format knows; in a current-format list they are errors with a hint.
let legacyOnlyKeys: Set<String> = Set(CompressionMode.allCases.flatMap { SettingKeys.legacy($0).map(\.name) })

/// How one setting value is checked.
enum SettingRule: Sendable {
    case ratio(lowOpen: Bool, highOpen: Bool)  // a number in [0, 1] with the given open ends
    case finiteNumber
    case groupID  // int or string
    case positiveInt
    case granularity
    case choice([String])
    case align
    case quantDtype
    case link
    case maskStructure  // "N:M", 0 <= N <= M, M >= 1, or "0:0"

    var expectation: String {
        switch self {
        case .ratio(let lo, let hi): return "a number in \(lo ? "(" : "[")0, 1\(hi ? ")" : "]")"
        case .finiteNumber: return "a finite number"
        case .groupID: return "an int or a string"
        case .positiveInt: return "an int >= 1"
        case .granularity: return "'default', 'in_channel', 'out_channel', 'per_channel' or a list of ints (each >= 1, or -1 for a whole dim)"
        case .choice(let c): return "one of " + c.map(pythonRepr).joined(separator: ", ")
        case .align: return "a dict {'module_name': str or None, 'target_name': str, 'dims': [int, ...]}"
        case .quantDtype: return "'intN' or 'uintN' with N from \(quantBitRange.lowerBound) to \(quantBitRange.upperBound)"
        case .link: return "a module name or a non-empty list of module names"
        case .maskStructure: return "'N:M' with ints 0 <= N <= M and M >= 1 (e.g. '2:4'), or '0:0' (unstructured)"
        }
    }
}

/// The settings keys of each mode, in documentation order, with their rules (the key table's
/// setting rows, `SettingKeys.settings(_:)`).
func settingRules(_ mode: CompressionMode) -> [(key: String, rule: SettingRule)] {
    SettingKeys.settings(mode).compactMap { row in row.rule.map { (row.name, $0) } }
}

/// The number `quant_dtype` text names: ("int", 8) for "int8"; nil when malformed.
func parseQuantDtype(_ s: String) -> (signed: Bool, bits: Int)? {
    let signed: Bool
    let digits: Substring
    if s.hasPrefix("uint") {
        signed = false
        digits = s.dropFirst(4)
    } else if s.hasPrefix("int") {
        signed = true
        digits = s.dropFirst(3)
    } else {
        return nil
    }
    guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), digits.first != "0",
        let bits = Int(digits), quantBitRange.contains(bits)
    else { return nil }
    return (signed, bits)
}

/// The (N, M) of a `mask_structure` text: (2, 4) for "2:4", (0, 0) for "0:0"; nil when malformed
/// (not two decimal ints, N > M, or M == 0 with N != 0).
func parseMaskStructure(_ s: String) -> (n: Int, m: Int)? {
    let parts = s.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2 else { return nil }
    func int(_ p: Substring) -> Int? {
        guard !p.isEmpty, p.count <= 9, p.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(p)
    }
    guard let n = int(parts[0]), let m = int(parts[1]) else { return nil }
    if n == 0 && m == 0 { return (0, 0) }
    guard m >= 1, n <= m else { return nil }
    return (n, m)
}

/// Checks one setting value against its row's rule; the one implementation of each rule (typed
/// settings read values through `SettingKey.read`, which calls this).
func checkSetting(_ key: String, _ value: ConfigValue, rule: SettingRule, nullable: Bool, at path: KeyPath) throws(ConfigError) {
    if value.isNull {
        if !nullable { throw path.error(expected: rule.expectation, got: value) }
        return
    }
    switch rule {
    case .ratio(let lowOpen, let highOpen):
        guard let x = value.number, x.isFinite, lowOpen ? x > 0 : x >= 0, highOpen ? x < 1 : x <= 1 else {
            throw path.error(expected: rule.expectation, got: value)
        }
    case .finiteNumber:
        guard let x = value.number, x.isFinite else { throw path.error(expected: rule.expectation, got: value) }
    case .groupID:
        switch value {
        case .int, .string: break
        default: throw path.error(expected: rule.expectation, got: value)
        }
    case .positiveInt:
        guard case .int(let i) = value, i >= 1 else { throw path.error(expected: rule.expectation, got: value) }
    case .granularity:
        switch value {
        case .string(let s) where ["default", "in_channel", "out_channel", "per_channel"].contains(s): break
        case .array(let items) where !items.isEmpty:
            for (i, item) in items.enumerated() {
                guard case .int(let n) = item, n >= 1 || n == -1 else {
                    throw path.index(i).error(expected: "an int >= 1, or -1 for a whole dim", got: item)
                }
            }
        default: throw path.error(expected: rule.expectation, got: value)
        }
    case .choice(let choices):
        guard let s = value.string, choices.contains(s) else { throw path.error(expected: rule.expectation, got: value) }
    case .align:
        guard let o = value.object else { throw path.error(expected: rule.expectation, got: value) }
        for (k, v) in o {
            switch k {
            case "module_name":
                guard v.isNull || v.string != nil else { throw path.key(k).error(expected: "a module name or None", got: v) }
            case "target_name":
                guard let s = v.string, !s.isEmpty else { throw path.key(k).error(expected: "a target name", got: v) }
            case "dims":
                guard let dims = v.array else { throw path.key(k).error(expected: "a list of ints", got: v) }
                for (i, d) in dims.enumerated() {
                    guard case .int = d else { throw path.key(k).index(i).error(expected: "an int", got: d) }
                }
            default:
                throw path.key(k).error(expected: "one of the align keys 'module_name', 'target_name', 'dims'", got: pythonRepr(k))
            }
        }
        for required in ["target_name", "dims"] where !o.contains(required) {
            throw path.key(required).error(expected: "the key '\(required)' in align", got: "nothing")
        }
    case .maskStructure:
        guard let s = value.string, parseMaskStructure(s) != nil else { throw path.error(expected: rule.expectation, got: value) }
    case .quantDtype:
        guard let s = value.string, parseQuantDtype(s) != nil else { throw path.error(expected: rule.expectation, got: value) }
    case .link:
        switch value {
        case .string(let s) where !s.isEmpty: break
        case .array(let items) where !items.isEmpty:
            for (i, item) in items.enumerated() {
                guard let s = item.string, !s.isEmpty else { throw path.index(i).error(expected: "a module name", got: item) }
            }
        default: throw path.error(expected: rule.expectation, got: value)
        }
    }
}

/// Checks a dict of settings (a shorthand-bearing config, or one target of `target_settings`).
/// `keys` limits which keys are checked (for a config, the non-common keys).
func checkSettings(_ entries: [(key: String, value: ConfigValue)], mode: CompressionMode, at path: KeyPath,
                   isTargetSettings: Bool) throws(ConfigError)
{
    for (key, value) in entries {
        guard let row = SettingKeys.setting(key, mode), let rule = row.rule else {
            throw unknownKeyError(key, mode: mode, at: path.key(key), inTargetSettings: isTargetSettings)
        }
        try checkSetting(key, value, rule: rule, nullable: row.nullable, at: path.key(key))
    }
    if mode == .pruning {
        let ratio = entries.first(where: { $0.key == "sparse_ratio" })?.value
        let threshold = entries.first(where: { $0.key == "sparse_threshold" })?.value
        if let ratio, let threshold, !ratio.isNull, !threshold.isNull {
            throw path.key("sparse_threshold").error(
                expected: "either sparse_ratio or sparse_threshold in one dict, not both",
                got: "sparse_ratio=\(ratio.pythonDescription), sparse_threshold=\(threshold.pythonDescription)")
        }
    }
}

/// An error for a key the mode does not know, with the most useful hint: the closest known key,
/// the mode the key belongs to, or the legacy format.
func unknownKeyError(_ key: String, mode: CompressionMode, at path: KeyPath, inTargetSettings: Bool) -> ConfigError {
    let known = settingRules(mode).map(\.key) + (inTargetSettings ? [] : commonKeys + SettingKeys.configKeys(mode).map(\.name))
    var expected = "a \(mode.rawValue) key (" + known.joined(separator: ", ") + ")"
    if let other = CompressionMode.allCases.first(where: { $0 != mode && settingRules($0).contains(where: { $0.key == key }) }) {
        expected += "; '\(key)' is a \(other.rawValue) key"
    } else if !inTargetSettings, legacyOnlyKeys.contains(key) {
        expected += "; '\(key)' is a legacy key, and this list is read in the current format because its first config has none of exclude, sparsity, sparsity_per_layer, total_sparsity, quant_types"
    } else if let near = closestStrings(to: key, in: known, limit: 1).first {
        expected += "; did you mean '\(near)'?"
    }
    return path.error(expected: expected, got: pythonRepr(key))
}

/// Checks a list-of-strings key such as `op_names`.
func checkStringList(_ value: ConfigValue, at path: KeyPath) throws(ConfigError) -> [String] {
    guard let items = value.array else {
        if case .string(let s) = value {
            throw path.error(expected: "a list of strings (write [\(pythonRepr(s))])", got: value)
        }
        throw path.error(expected: "a list of strings", got: value)
    }
    var out: [String] = []
    out.reserveCapacity(items.count)
    for (i, item) in items.enumerated() {
        guard let s = item.string else { throw path.index(i).error(expected: "a string", got: item) }
        out.append(s)
    }
    return out
}

/// Validates one current-format config for `mode`. Throws the first problem found.
func validateConfig(_ config: ConfigObject, index: Int, mode: CompressionMode) throws(ConfigError) {
    let path = KeyPath.config(index)
    var shorthand: [(key: String, value: ConfigValue)] = []
    for (key, value) in config {
        if selectionListKeys.contains(key) {
            _ = try checkStringList(value, at: path.key(key))
        } else if key == "target_names" {
            let names = try checkStringList(value, at: path.key(key))
            for (i, n) in names.enumerated() where n.isEmpty {
                throw path.key(key).index(i).error(expected: "a target name", got: "''")
            }
        } else if key == "target_settings" {
            guard let targets = value.object else { throw path.key(key).error(expected: "a dict {target_name: {setting: value}}", got: value) }
            for (target, settings) in targets {
                guard let s = settings.object else {
                    throw path.key(key).key(target).error(expected: "a dict of settings", got: settings)
                }
                try checkSettings(s.entries, mode: mode, at: path.key(key).key(target), isTargetSettings: true)
            }
        } else if key == "fuse_names", mode == .quantization {
            guard let groups = value.array else { throw path.key(key).error(expected: "a list of tuples of module names", got: value) }
            for (i, g) in groups.enumerated() {
                let names = try checkStringList(g, at: path.key(key).index(i))
                if names.count < 2 {
                    throw path.key(key).index(i).error(expected: "at least two module names (the module, then the modules fused into it)", got: g)
                }
            }
        } else {
            shorthand.append((key, value))
        }
    }
    guard config.contains("op_names") || config.contains("op_names_re") || config.contains("op_types") else {
        throw path.error(expected: "at least one of 'op_names', 'op_names_re', 'op_types' to select modules",
                         got: config.isEmpty ? "an empty config" : "only " + config.keys.map(pythonRepr).joined(separator: ", "))
    }
    try checkSettings(shorthand, mode: mode, at: path, isTargetSettings: false)
}

/// Up to `limit` strings of `candidates` closest to `s` by edit distance (ties in candidate order),
/// only those within a third of the longer length (at least 2 edits).
func closestStrings(to s: String, in candidates: [String], limit: Int) -> [String] {
    let a = Array(s.unicodeScalars)
    var scored: [(d: Int, i: Int, s: String)] = []
    for (i, c) in candidates.enumerated() {
        let b = Array(c.unicodeScalars)
        let bound = max(2, max(a.count, b.count) / 3)
        if abs(a.count - b.count) > bound { continue }
        let d = editDistance(a, b)
        if d <= bound { scored.append((d, i, c)) }
    }
    scored.sort { $0.d != $1.d ? $0.d < $1.d : $0.i < $1.i }
    return scored.prefix(limit).map(\.s)
}

func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var prev = Array(0...b.count)
    var cur = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        cur[0] = i
        for j in 1...b.count {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&prev, &cur)
    }
    return prev[b.count]
}
