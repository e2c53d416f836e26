/// Module selection for one config (SEMANTICS.md, "Selecting modules"):
/// `(op_names ∪ op_names_re) ∩ op_types − exclude_op_names − exclude_op_names_re − exclude_op_types`,
/// where `op_types` alone selects every module of those types, and an empty list counts as absent
/// (as in NNI 3.0).
struct ModuleSelector: Sendable {
    var opNames: [String]
    var opNamesRe: [PythonRegex]
    var opTypes: [String]
    var excludeNames: Set<String>
    var excludeRe: [PythonRegex]
    var excludeTypes: Set<String>
    /// The index of the config in the list (for errors found while matching).
    var configIndex: Int

    /// Builds the selector of a validated current-format config; compiles its patterns.
    /// Throws `ConfigError` naming the config index, the key and the pattern that does not compile.
    init(_ config: ConfigObject, index: Int) throws(ConfigError) {
        let path = KeyPath.config(index)
        configIndex = index
        func strings(_ key: String) throws(ConfigError) -> [String] {
            guard let v = config[key] else { return [] }
            return try checkStringList(v, at: path.key(key))
        }
        func patterns(_ key: String) throws(ConfigError) -> [PythonRegex] {
            var out: [PythonRegex] = []
            for (i, p) in try strings(key).enumerated() {
                do { out.append(try PythonRegex(p)) } catch {
                    throw path.key(key).index(i).error(expected: "a Python regular expression that compiles (\(error.message))", got: pythonRepr(p))
                }
            }
            return out
        }
        opNames = try strings("op_names")
        opNamesRe = try patterns("op_names_re")
        opTypes = try strings("op_types")
        excludeNames = Set(try strings("exclude_op_names"))
        excludeRe = try patterns("exclude_op_names_re")
        excludeTypes = Set(try strings("exclude_op_types"))
    }

    /// The indices (into `modules`, in model order) of the selected modules.
    /// Throws `ConfigError` naming the config index, the key, the pattern and the module name when
    /// a pattern's match is not decided within the regex work bound (`PyReMatcher.defaultStepLimit`).
    func select(_ modules: [ModuleInfo]) throws(ConfigError) -> [Int] {
        let names = Set(opNames)
        let types = Set(opTypes)
        let byName = !opNames.isEmpty || !opNamesRe.isEmpty
        var result: [Int] = []
        for (i, m) in modules.enumerated() {
            var selected: Bool
            if byName {
                selected = names.contains(m.name)
                if !selected { selected = try anyMatches(opNamesRe, "op_names_re", m.name) }
                if !types.isEmpty { selected = selected && types.contains(m.typeName) }
            } else {
                selected = types.contains(m.typeName)
            }
            guard selected else { continue }
            if excludeNames.contains(m.name) || excludeTypes.contains(m.typeName) { continue }
            if try anyMatches(excludeRe, "exclude_op_names_re", m.name) { continue }
            result.append(i)
        }
        return result
    }

    /// Whether one of `patterns` (the list under `key`) matches `name`, as `re.match`.
    private func anyMatches(_ patterns: [PythonRegex], _ key: String, _ name: String) throws(ConfigError) -> Bool {
        for (j, p) in patterns.enumerated() {
            do {
                if try p.matches(name) { return true }
            } catch {
                throw KeyPath.config(configIndex).key(key).index(j).error(
                    expected: "a regular expression whose match against module \(pythonRepr(name)) is decided within \(error.limit) backtracking steps (the pattern backtracks exponentially, as it would in Python's re; simplify it, e.g. (a+)+ -> a+)",
                    got: pythonRepr(p.pattern))
            }
        }
        return false
    }

    /// The `op_names` and `exclude_op_names` that name no module, in config order, each with up to
    /// three close existing names (a missing or extra `module.` prefix, a trailing path, typos).
    func unmatchedNames(in modules: [ModuleInfo], names allNames: Set<String>) -> [(key: String, name: String, suggestions: [String])] {
        var out: [(String, String, [String])] = []
        for n in opNames where !allNames.contains(n) {
            out.append(("op_names", n, suggestNames(for: n, in: modules, names: allNames)))
        }
        for n in excludeNames.sorted() where !allNames.contains(n) {
            out.append(("exclude_op_names", n, suggestNames(for: n, in: modules, names: allNames)))
        }
        return out
    }
}

/// Close existing module names for a name that matches none: first the DataParallel prefix
/// (`module.x` <-> `x`), then names ending in `.name`, then the nearest by edit distance.
func suggestNames(for name: String, in modules: [ModuleInfo], names: Set<String>) -> [String] {
    var out: [String] = []
    func add(_ s: String) { if !out.contains(s), out.count < 3 { out.append(s) } }
    if name.hasPrefix("module."), names.contains(String(name.dropFirst(7))) { add(String(name.dropFirst(7))) }
    if names.contains("module." + name) { add("module." + name) }
    for m in modules where m.name.hasSuffix("." + name) { add(m.name) }
    for s in closestStrings(to: name, in: modules.map(\.name), limit: 3) { add(s) }
    return out
}
