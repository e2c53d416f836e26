/// An invalid config list, module list or registration.
///
/// Every error names where the problem is (`path`, e.g.
/// `config_list[1].target_settings.weight.sparse_ratio`), what was expected and what was given, so
/// the message alone is enough to fix the input:
///
///     config_list[1].target_settings.weight.sparse_ratio: expected a number in [0, 1], got 1.5
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The index of the config in the list, or nil when the problem is not inside one config
    /// (the list itself, the module list, a template registration).
    public var configIndex: Int?
    /// The full key path, starting at `config_list[i]` (or `modules[i]`, `config_list`, ...).
    public var path: String
    /// What the engine expected there, in words.
    public var expected: String
    /// What it was given (Python-style rendering of the value), or an empty string when the
    /// problem is an absence.
    public var got: String

    /// An error at `path` (config `configIndex`, nil outside a config): `expected` in words, `got`
    /// the Python-style rendering of the value ("" for an absence).
    public init(configIndex: Int?, path: String, expected: String, got: String) {
        self.configIndex = configIndex
        self.path = path
        self.expected = expected
        self.got = got
    }

    public var description: String {
        got.isEmpty ? "\(path): expected \(expected)" : "\(path): expected \(expected), got \(got)"
    }
}

/// A position inside a config list, used to build `ConfigError`s with full key paths.
struct KeyPath: Sendable {
    var configIndex: Int?
    var text: String

    static func config(_ index: Int) -> KeyPath { KeyPath(configIndex: index, text: "config_list[\(index)]") }

    func key(_ k: String) -> KeyPath {
        let isIdentifier = !k.isEmpty && k.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0 == "_" || ("0"..."9").contains($0) }
        return KeyPath(configIndex: configIndex, text: isIdentifier ? text + "." + k : text + "[" + pythonRepr(k) + "]")
    }

    func index(_ i: Int) -> KeyPath { KeyPath(configIndex: configIndex, text: text + "[\(i)]") }

    func error(expected: String, got: ConfigValue) -> ConfigError {
        ConfigError(configIndex: configIndex, path: text, expected: expected, got: got.pythonDescription)
    }

    func error(expected: String, got: String) -> ConfigError {
        ConfigError(configIndex: configIndex, path: text, expected: expected, got: got)
    }
}
