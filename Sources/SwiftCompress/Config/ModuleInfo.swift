/// One module of a model, as the config engine sees it: the name from PyTorch's
/// `model.named_modules(remove_duplicate=False)` (the root is `""`), the class's `__name__`
/// (not qualified), and optionally the argument names of its `forward` (without `self`), which
/// map input target names such as `_input_x` to positions.
public struct ModuleInfo: Sendable, Hashable {
    public var name: String
    public var typeName: String
    /// Argument names of `forward`, `self` excluded; nil when unknown (then `_input_<name>` targets
    /// keep their name and have no position).
    public var forwardArguments: [String]?

    /// A module as `named_modules()` names it (`''` for the root), its class `__name__`, and its
    /// forward arguments without `self` (nil when unknown; used to resolve `_input_<name>`).
    public init(name: String, typeName: String, forwardArguments: [String]? = nil) {
        self.name = name
        self.typeName = typeName
        self.forwardArguments = forwardArguments
    }
}

extension ModuleInfo {
    /// Reads a module list: either a JSON list of modules, or an object with a `modules` list (the
    /// format of `examples/models/*.json`). Each module is `{"name": str, "type": str,
    /// "forward_args": [str]}` (`forward_args` optional; other keys are ignored).
    ///
    /// Throws `ConfigError` naming `modules[i].key` for a missing or mistyped field, and for a name
    /// that appears twice.
    public static func list(fromJSON text: String) throws(SwiftCompressError) -> [ModuleInfo] {
        let value: ConfigValue
        do { value = try ConfigValue(json: text) } catch { throw .json(error) }
        do { return try list(from: value) } catch { throw .config(error) }
    }

    /// Reads a module list from a parsed value; see `list(fromJSON:)`.
    public static func list(from value: ConfigValue) throws(ConfigError) -> [ModuleInfo] {
        let items: [ConfigValue]
        switch value {
        case .array(let a): items = a
        case .object(let o):
            guard let m = o["modules"]?.array else {
                throw ConfigError(configIndex: nil, path: "modules", expected: "a list of modules (or an object with a 'modules' list)", got: value.kindDescription)
            }
            items = m
        default:
            throw ConfigError(configIndex: nil, path: "modules", expected: "a list of modules", got: value.kindDescription)
        }
        var result: [ModuleInfo] = []
        result.reserveCapacity(items.count)
        var seen = Set<String>()
        for (i, item) in items.enumerated() {
            let path = "modules[\(i)]"
            guard let o = item.object else {
                throw ConfigError(configIndex: nil, path: path, expected: "a dict with 'name' and 'type'", got: item.pythonDescription)
            }
            guard let name = o["name"]?.string else {
                throw ConfigError(configIndex: nil, path: path + ".name", expected: "a string", got: o["name"]?.pythonDescription ?? "nothing")
            }
            guard let type = o["type"]?.string, !type.isEmpty else {
                throw ConfigError(configIndex: nil, path: path + ".type", expected: "a non-empty string (the class's __name__)", got: o["type"]?.pythonDescription ?? "nothing")
            }
            var args: [String]? = nil
            if let a = o["forward_args"], !a.isNull {
                guard let arr = a.array, arr.allSatisfy({ $0.string != nil }) else {
                    throw ConfigError(configIndex: nil, path: path + ".forward_args", expected: "a list of strings", got: a.pythonDescription)
                }
                args = arr.compactMap(\.string)
            }
            guard seen.insert(name).inserted else {
                throw ConfigError(configIndex: nil, path: path + ".name", expected: "a name not used by an earlier module", got: pythonRepr(name))
            }
            result.append(ModuleInfo(name: name, typeName: type, forwardArguments: args))
        }
        return result
    }
}

/// Any error the library reports: a config problem, a JSON syntax problem.
/// (Engines add their own cases in later layers.)
public enum SwiftCompressError: Error, Sendable, Equatable, CustomStringConvertible {
    case config(ConfigError)
    case json(JSONSyntaxError)

    public var description: String {
        switch self {
        case .config(let e): return e.description
        case .json(let e): return e.description
        }
    }
}
