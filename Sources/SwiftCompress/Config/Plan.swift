/// What a config list does to a model in one mode: the targets to compress, each with its final
/// settings, and the explain report. Pure: no tensors, no threads, no I/O.
///
/// Build one with `Plan(configList:modules:mode:templates:)`; engines take its `targets`.
public struct Plan: Sendable {
    /// The mode the plan was resolved for.
    public let mode: CompressionMode
    /// True when the list was read in the legacy (v2) format.
    public let isLegacy: Bool
    /// Every configured target, in model order, then in NNI's target order within a module.
    public let targets: [TargetPlan]
    /// Module fusions (`fuse_names`, quantization only): each group's first module is the one the
    /// others are fused into.
    public let fusions: [[String]]
    /// Per config: legacy `quant_start_step` (quantization only), nil where not given.
    public let quantStartSteps: [Int?]
    /// The explain report: selections, targets, settings and warnings.
    public let report: ExplainReport

    /// The targets of `module`, in order.
    public func targets(ofModule module: String) -> [TargetPlan] { targets.filter { $0.moduleName == module } }

    /// The target `name` of `module`, or nil.
    public func target(module: String, name: String) -> TargetPlan? {
        targets.first { $0.moduleName == module && $0.targetName == name }
    }

    /// For a `(module, target)` pair that is not a configured target: what the caller may have
    /// meant, as `module.target` strings (at most `limit`). The configured targets of `module` when
    /// it has some, else the targets whose qualified names are closest by edit distance.
    public func suggestTargets(module: String, target: String, limit: Int = 3) -> [String] {
        let qualified = targets.map(\.qualifiedName)
        let ofModule = zip(targets, qualified).filter { $0.0.moduleName == module }.map(\.1)
        if !ofModule.isEmpty { return Array(ofModule.prefix(limit)) }
        let wanted = module.isEmpty ? target : module + "." + target
        return closestStrings(to: wanted, in: qualified, limit: limit)
    }
}

/// One compression target: a parameter (`weight`, `bias`), an input or an output of a module.
public struct TargetPlan: Sendable, Equatable {
    /// The module's name as `named_modules()` gives it (`''` for the root).
    public var moduleName: String
    /// The module's type name (class `__name__`).
    public var moduleType: String
    /// The target's name as NNI 3.0 names it: `weight`, `bias`, `_input_0`, `_input_x`, `_output_0`.
    public var targetName: String
    /// Parameter, input or output.
    public var kind: TargetKind
    /// The final settings: the template's keys with shorthand keys and `target_settings` merged in,
    /// None (`.null`) for unset (the keys and values of NNI 3.0's `canonicalize_settings`).
    public var settings: ConfigObject
    /// The index of the config that configured this target.
    public var configIndex: Int
    /// The typed settings the engines read, parsed once from `settings` through the mode's key
    /// table when the plan is built (no engine re-reads `settings`).
    public var typed: TargetSettings

    /// The pruning settings of a target of a pruning plan; nil in other modes.
    public var pruning: PruningSettings? {
        if case .pruning(let s) = typed { return s }
        return nil
    }

    /// The quantization settings (with the target's qualified name and role) of a target of a
    /// quantization plan; nil in other modes.
    public var quantization: QuantizationSettings? {
        if case .quantization(let s) = typed { return s }
        return nil
    }

    /// The distillation settings (links resolved, `'auto'` replaced by the module's name) of a
    /// target of a distillation plan; nil in other modes.
    public var distillation: DistillationSettings? {
        if case .distillation(let s) = typed { return s }
        return nil
    }

    /// `module.target`, or just `target` for the root module (named `''`), as errors name targets.
    public var qualifiedName: String { moduleName.isEmpty ? targetName : moduleName + "." + targetName }
}

/// A target's settings, typed for its plan's mode.
public enum TargetSettings: Sendable, Hashable {
    /// A target of a pruning plan.
    case pruning(PruningSettings)
    /// A target of a quantization plan (its qualified name and role included).
    case quantization(QuantizationSettings)
    /// A target of a distillation plan (links resolved).
    case distillation(DistillationSettings)

    /// Parses the canonical settings of one target for `mode`. Every key with a row in the mode's
    /// key table is checked by the row's rule first, so a bad value (from a registered template,
    /// which validation does not see) is a `ConfigError` naming the config, the target and the key.
    static func parse(_ settings: ConfigObject, mode: CompressionMode, module: String, target: String, kind: TargetKind,
                      configIndex: Int) throws(ConfigError) -> TargetSettings
    {
        let qualified = module.isEmpty ? target : module + "." + target
        let path = KeyPath(configIndex: configIndex, text: "config_list[\(configIndex)] (\(qualified))")
        for row in SettingKeys.settings(mode) {
            guard let v = settings[row.name], let rule = row.rule else { continue }
            try checkSetting(row.name, v, rule: rule, nullable: row.nullable, at: path.key(row.name))
        }
        do {
            switch mode {
            case .pruning:
                return .pruning(try PruningSettings(settings, target: qualified))
            case .quantization:
                let role: QuantTargetRole
                switch kind {
                case .parameter: role = .parameter
                case .input, .output: role = .activation
                }
                return .quantization(try QuantizationSettings(settings, target: qualified, role: role))
            case .distillation:
                return .distillation(try DistillationSettings(settings, module: module, target: target))
            }
        } catch {
            // Unreachable after the row checks above; kept so that no input can trap.
            throw path.error(expected: "settings the \(mode.rawValue) engine accepts", got: String(describing: error))
        }
    }
}

/// What a target refers to.
public enum TargetKind: Sendable, Equatable {
    /// A parameter or buffer of the module, by attribute name.
    case parameter
    /// A `forward` input: `position` (0-based, `self` not counted) is known for `_input_<digits>`
    /// and for `_input_<name>` when the module's forward arguments are known; `name` is the
    /// argument name when the target was named by it.
    case input(position: Int?, name: String?)
    /// An output: `index` for a tensor or a tuple element (`_output_0`), `key` for a dict output.
    case output(index: Int?, key: String?)
}

extension Plan {
    /// Resolves a config list (JSON text) against a module list. See `init(configList:...)`.
    public init(json text: String, modules: [ModuleInfo], mode: CompressionMode,
                templates: SettingTemplates = .standard) throws(SwiftCompressError)
    {
        let value: ConfigValue
        do { value = try ConfigValue(json: text) } catch { throw .json(error) }
        do { try self.init(configList: value, modules: modules, mode: mode, templates: templates) } catch { throw .config(error) }
    }

    /// Resolves a config list against a module list for `mode`.
    ///
    /// - Parameters:
    ///   - configList: a list of dicts, in the current or the legacy format (detected as NNI does).
    ///   - modules: the model's modules in `named_modules()` order; names must be unique.
    ///   - templates: the setting templates (register your own module types on a copy of `.standard`).
    /// - Throws: `ConfigError` for the first invalid key or value, naming the config index, the key
    ///   path, what was expected and what was given. Problems that NNI 3.0 ignores or that cannot be
    ///   wrong in every model (an op_name that names no module, a config that selects nothing,
    ///   re-configured targets, modules without a template) are not errors: they are warnings in
    ///   `report`.
    public init(configList: ConfigValue, modules: [ModuleInfo], mode: CompressionMode,
                templates: SettingTemplates = .standard) throws(ConfigError)
    {
        guard let list = configList.array else {
            throw ConfigError(configIndex: nil, path: "config_list", expected: "a list of dicts", got: configList.pythonDescription)
        }
        var configs: [ConfigObject] = []
        for (i, c) in list.enumerated() {
            guard let o = c.object else { throw KeyPath.config(i).error(expected: "a dict", got: c) }
            configs.append(o)
        }
        try self.init(configs: configs, modules: modules, mode: mode, templates: templates)
    }

    /// The phases: module names checked, legacy lists translated, every config validated and its
    /// selector compiled, legacy exclusions collected, each config resolved into targets
    /// (`PlanBuilder`), then the checks that need the merged settings.
    init(configs: [ConfigObject], modules: [ModuleInfo], mode: CompressionMode, templates: SettingTemplates) throws(ConfigError) {
        let allNames = try uniqueModuleNames(modules)
        let legacy = isLegacyList(configs)
        var translated: [TranslatedConfig] = []
        for (i, c) in configs.enumerated() {
            translated.append(legacy ? try translateLegacy(c, index: i, mode: mode)
                                     : TranslatedConfig(index: i, config: c, isExclusion: false, quantStartStep: nil, droppedKeys: []))
        }
        var selectors: [ModuleSelector] = []
        for t in translated {
            try validateConfig(t.config, index: t.index, mode: mode)
            selectors.append(try ModuleSelector(t.config, index: t.index))
        }
        var excluded = Set<Int>()
        for (t, s) in zip(translated, selectors) where t.isExclusion { excluded.formUnion(try s.select(modules)) }

        var builder = PlanBuilder(modules: modules, allNames: allNames, mode: mode, templates: templates, legacy: legacy)
        for (t, selector) in zip(translated, selectors) {
            try builder.add(t, selector: selector, excluded: excluded)
        }
        let targets = builder.table.ordered()
        var warnings = builder.warnings
        if mode == .pruning {
            try checkFinalPruningSettings(targets)
            warnings.append(contentsOf: alignWarnings(targets))
            warnings.append(contentsOf: prunesNothingWarnings(targets))
        }
        if mode == .quantization {
            warnings.append(contentsOf: missingQuantDtypeWarnings(targets))
        }
        self.mode = mode
        self.isLegacy = legacy
        self.targets = targets
        self.fusions = builder.fusions
        self.quantStartSteps = translated.map(\.quantStartStep)
        self.report = ExplainReport(mode: mode, isLegacy: legacy, configs: builder.configEntries, targets: targets, warnings: warnings)
    }
}

/// The module names, or an error for the first one used twice.
func uniqueModuleNames(_ modules: [ModuleInfo]) throws(ConfigError) -> Set<String> {
    var names = Set<String>()
    for (i, m) in modules.enumerated() where !names.insert(m.name).inserted {
        throw ConfigError(configIndex: nil, path: "modules[\(i)].name", expected: "a name not used by an earlier module", got: pythonRepr(m.name))
    }
    return names
}

/// What the configs of a list have produced so far: targets, report entries, warnings, fusions.
struct PlanBuilder {
    let modules: [ModuleInfo]
    let allNames: Set<String>
    let mode: CompressionMode
    let templates: SettingTemplates
    var table: TargetTable
    var warnings: [ExplainReport.Warning] = []
    var configEntries: [ExplainReport.ConfigEntry] = []
    var fusions: [[String]] = []

    init(modules: [ModuleInfo], allNames: Set<String>, mode: CompressionMode, templates: SettingTemplates, legacy: Bool) {
        self.modules = modules
        self.allNames = allNames
        self.mode = mode
        self.templates = templates
        self.table = TargetTable(legacy: legacy)
    }

    /// Resolves one (translated) config: its selection, its targets, its warnings and fusions.
    mutating func add(_ t: TranslatedConfig, selector: ModuleSelector, excluded: Set<Int>) throws(ConfigError) {
        let i = t.index
        let legacy = table.legacy
        reportUnmatchedNames(selector, index: i)
        for k in t.droppedKeys {
            warnings.append(.init(kind: .droppedKey, configIndex: i, module: nil, target: nil,
                                  message: "config_list[\(i)].\(k) has no effect in this config and is ignored"))
        }
        var selected = try selector.select(modules)
        if t.isExclusion {
            configEntries.append(.init(index: i, isExclusion: true, selected: selected.map { modules[$0].name }, skipped: [], translated: legacy ? t.config : nil))
            return
        }
        selected.removeAll(where: excluded.contains)
        let (skipped, usedShorthand, configured) = try configure(selected, config: t.config, index: i)
        reportSelection(selected: selected.count, configured: configured, config: t.config, index: i, usedShorthand: usedShorthand,
                        opTypes: selector.opTypes)
        let fusionsBefore = fusions.count
        if mode == .quantization { try addFusions(t.config, index: i, selected: selected) }
        configEntries.append(.init(index: i, isExclusion: false, selected: selected.map { modules[$0].name }, skipped: skipped,
                                   translated: legacy ? t.config : nil, quantStartStep: t.quantStartStep,
                                   fusions: Array(fusions[fusionsBefore...])))
    }

    mutating func reportUnmatchedNames(_ selector: ModuleSelector, index i: Int) {
        for u in selector.unmatchedNames(in: modules, names: allNames) {
            let hint = u.suggestions.isEmpty ? "" : "; closest: " + u.suggestions.map(pythonRepr).joined(separator: ", ")
            warnings.append(.init(kind: .unmatchedOpName, configIndex: i, module: u.name, target: nil,
                                  message: "config_list[\(i)].\(u.key): \(pythonRepr(u.name)) names no module and is ignored\(hint)"))
        }
    }

    /// The targets of each selected module with a template; the modules without one are skipped.
    mutating func configure(_ selected: [Int], config: ConfigObject, index i: Int) throws(ConfigError)
        -> (skipped: [String], usedShorthand: Set<String>, configured: Int)
    {
        var skipped: [String] = []
        var usedShorthand = Set<String>()
        var configured = 0
        for mi in selected {
            let module = modules[mi]
            guard let template = templates.template(for: module.typeName, mode: mode) else {
                skipped.append(module.name)
                warnings.append(.init(kind: .missingTemplate, configIndex: i, module: module.name, target: nil,
                                      message: "config_list[\(i)] selects \(pythonRepr(module.name)) (\(module.typeName)), which has no \(mode.rawValue) template; skipped (narrow the selection, or register a template for \(module.typeName))"))
                continue
            }
            let resolved = try resolveTargets(config: config, index: i, module: module, template: template, mode: mode)
            usedShorthand.formUnion(resolved.usedShorthand)
            warnings.append(contentsOf: resolved.warnings)
            configured += 1
            table.add(resolved.targets, module: module, moduleIndex: mi, configIndex: i, warnings: &warnings)
        }
        return (skipped, usedShorthand, configured)
    }

    /// Warnings for a config that selects nothing usable, or whose shorthand keys reach no target.
    /// A config selecting nothing whose `op_types` name types the model lacks gets, per such type, the
    /// closest type names the model has (`'Conv2D'` -> `'Conv2d'`).
    mutating func reportSelection(selected: Int, configured: Int, config: ConfigObject, index i: Int, usedShorthand: Set<String>,
                                  opTypes: [String]) {
        if selected == 0 {
            var present: [String] = []
            for m in modules where !present.contains(m.typeName) { present.append(m.typeName) }
            var hints: [String] = []
            for type in opTypes where !present.contains(type) {
                let close = closestStrings(to: type, in: present, limit: 3)
                let lower = present.filter { $0.lowercased() == type.lowercased() && !close.contains($0) }
                let all = lower + close
                hints.append("op_types \(pythonRepr(type)) names no module type of the model"
                             + (all.isEmpty ? "" : " (closest: " + all.map(pythonRepr).joined(separator: ", ") + ")"))
            }
            warnings.append(.init(kind: .selectsNothing, configIndex: i, module: nil, target: nil,
                                  message: "config_list[\(i)] selects no module" + (hints.isEmpty ? "" : "; " + hints.joined(separator: "; "))))
        } else if configured == 0 {
            warnings.append(.init(kind: .selectsNothing, configIndex: i, module: nil, target: nil,
                                  message: "config_list[\(i)] selects \(selected) module(s), none of a type with a \(mode.rawValue) template"))
        } else {
            for key in config.keys where !commonKeys.contains(key) && key != "fuse_names" && !usedShorthand.contains(key) {
                warnings.append(.init(kind: .unusedShorthand, configIndex: i, module: nil, target: nil,
                                      message: "config_list[\(i)].\(key) reaches no target of the selected modules and is dropped"))
            }
        }
    }

    /// `fuse_names` groups (validated as lists of names): every name a module, the first selected.
    mutating func addFusions(_ config: ConfigObject, index i: Int, selected: [Int]) throws(ConfigError) {
        guard let groups = config["fuse_names"]?.array else { return }
        let selectedNames = Set(selected.map { modules[$0].name })
        for (g, group) in groups.enumerated() {
            let names = group.array?.compactMap(\.string) ?? []
            let p = KeyPath.config(i).key("fuse_names").index(g)
            for (k, n) in names.enumerated() where !allNames.contains(n) {
                throw p.index(k).error(expected: "the name of a module of the model", got: pythonRepr(n))
            }
            if let first = names.first, !selectedNames.contains(first) {
                throw p.index(0).error(expected: "a module this config selects (the first module of a fusion is the one configured)", got: pythonRepr(first))
            }
            fusions.append(names)
        }
    }
}

/// The targets configured so far, with NNI's rule for a target reached twice: the first config
/// wins (current format) — or the later config replaces the module's settings (legacy format).
struct TargetTable {
    let legacy: Bool
    /// module index -> its targets in insertion order
    var byModule: [Int: [TargetPlan]] = [:]

    init(legacy: Bool) { self.legacy = legacy }

    mutating func add(_ new: [TargetPlan], module: ModuleInfo, moduleIndex: Int, configIndex: Int,
                      warnings: inout [ExplainReport.Warning])
    {
        var existing = byModule[moduleIndex] ?? []
        if legacy {
            if let earlier = existing.first?.configIndex {
                warnings.append(.init(kind: .overwrittenConfiguration, configIndex: configIndex, module: module.name, target: nil,
                                      message: "config_list[\(configIndex)] replaces the settings config_list[\(earlier)] gave to \(pythonRepr(module.name)) (legacy format: later sub-configs overwrite earlier ones)"))
            }
            existing = new
        } else {
            for t in new {
                if let first = existing.first(where: { $0.targetName == t.targetName }) {
                    warnings.append(.init(kind: .ignoredReconfiguration, configIndex: configIndex, module: module.name, target: t.targetName,
                                          message: "config_list[\(configIndex)] reaches \(module.name).\(t.targetName), already configured by config_list[\(first.configIndex)]; ignored (each target is configured once)"))
                } else {
                    existing.append(t)
                }
            }
        }
        byModule[moduleIndex] = existing
    }

    func ordered() -> [TargetPlan] {
        byModule.keys.sorted().flatMap { byModule[$0] ?? [] }
    }
}

struct ResolvedTargets {
    var targets: [TargetPlan]
    var usedShorthand: Set<String>
    var warnings: [ExplainReport.Warning]
}

let inputPrefix = "_input_"
let outputPrefix = "_output_"

/// The settings of each target of one module under one config: template, then shorthand keys (only
/// keys the template target already has), then `target_settings` key by key; then `target_names`
/// picks the targets (`_input_` -> `_input_0`, `_output_` -> `_output_0`, moved to the end as NNI
/// does; `_input_<x>` without its own settings takes the `_input_` template).
func resolveTargets(config: ConfigObject, index: Int, module: ModuleInfo, template: ConfigObject,
                    mode: CompressionMode) throws(ConfigError) -> ResolvedTargets
{
    let path = KeyPath.config(index)
    let (settings, order, fromShorthand) = mergedTemplateSettings(config: config, template: template)
    let given = config["target_names"]?.array?.compactMap(\.string)
    var names = given ?? order
    if let j = names.firstIndex(of: inputPrefix) {
        names.remove(at: j)
        names.append(inputPrefix + "0")
    }
    if let j = names.firstIndex(of: outputPrefix) {
        names.remove(at: j)
        names.append(outputPrefix + "0")
    }

    var result: [TargetPlan] = []
    var used = Set<String>()
    var warnings: [ExplainReport.Warning] = []
    for name in names where !result.contains(where: { $0.targetName == name }) {
        // Where the name came from in target_names, for error paths.
        let namePath: KeyPath = {
            if let given, let j = given.firstIndex(where: { $0 == name || ($0 + "0" == name && ($0 == inputPrefix || $0 == outputPrefix)) }) {
                return path.key("target_names").index(j)
            }
            return path.key("target_names")
        }()
        let (source, kind) = try resolveTargetKind(name, settings: settings, module: module, index: index, namePath: namePath,
                                                   warnings: &warnings)
        guard let s = settings[source] else {
            let available = order.map(pythonRepr).joined(separator: ", ")
            throw namePath.error(expected: "a target that \(module.typeName) modules have in \(mode.rawValue) (\(available)) or one defined in target_settings, for module \(pythonRepr(module.name))", got: pythonRepr(name))
        }
        used.formUnion(fromShorthand[source] ?? [])
        let typed = try TargetSettings.parse(s, mode: mode, module: module.name, target: name, kind: kind, configIndex: index)
        result.append(TargetPlan(moduleName: module.name, moduleType: module.typeName, targetName: name, kind: kind, settings: s,
                                 configIndex: index, typed: typed))
    }
    return ResolvedTargets(targets: result, usedShorthand: used, warnings: warnings)
}

/// The settings of every template target under one config: the template's, then the shorthand
/// keys the target already has, then `target_settings` key by key (new targets appended). Also the
/// targets' order and, per target, the keys that came from shorthand.
func mergedTemplateSettings(config: ConfigObject, template: ConfigObject)
    -> (settings: [String: ConfigObject], order: [String], fromShorthand: [String: Set<String>])
{
    var settings: [String: ConfigObject] = [:]
    var order: [String] = []
    var fromShorthand: [String: Set<String>] = [:]
    for (name, value) in template {
        var s = value.object ?? ConfigObject()
        var set = Set<String>()
        for key in s.keys where !commonKeys.contains(key) && key != "fuse_names" {
            if let v = config[key] {
                s[key] = v
                set.insert(key)
            }
        }
        // Our extension keys are not in the templates (canonical settings stay NNI 3.0's when they
        // are unset); as shorthand they reach the targets whose template has their anchor key.
        for (key, anchor) in SettingKeys.shorthandExtensions where s.contains(anchor) && !s.contains(key) {
            if let v = config[key] {
                s[key] = v
                set.insert(key)
            }
        }
        settings[name] = s
        fromShorthand[name] = set
        order.append(name)
    }
    if let ts = config["target_settings"]?.object {
        for (name, value) in ts {
            let update = value.object ?? ConfigObject()
            if var s = settings[name] {
                for (k, v) in update {
                    s[k] = v
                    fromShorthand[name]?.remove(k)
                }
                settings[name] = s
            } else {
                settings[name] = update
                fromShorthand[name] = []
                order.append(name)
            }
        }
    }
    return (settings, order, fromShorthand)
}

/// What target `name` refers to, and which entry of `settings` configures it (`_input_<x>` without
/// its own settings takes the `_input_` template). An `_input_<name>` the module's forward
/// arguments lack is an error; a digit position beyond them is a warning.
func resolveTargetKind(_ name: String, settings: [String: ConfigObject], module: ModuleInfo, index: Int, namePath: KeyPath,
                       warnings: inout [ExplainReport.Warning]) throws(ConfigError) -> (source: String, kind: TargetKind)
{
    let source: String
    let kind: TargetKind
    if name.hasPrefix(inputPrefix) {
        source = settings[name] != nil ? name : inputPrefix
        let suffix = String(name.dropFirst(inputPrefix.count))
        if let p = Int(suffix), suffix.allSatisfy({ $0.isASCII && $0.isNumber }) {
            kind = .input(position: p, name: nil)
            if let args = module.forwardArguments, p >= args.count {
                warnings.append(.init(kind: .inputOutOfRange, configIndex: index, module: module.name, target: name,
                                      message: "config_list[\(index)]: \(module.name).\(name): \(module.typeName).forward takes \(args.count) argument(s) (\(args.joined(separator: ", "))); input \(p) exists only if it takes *args"))
            }
        } else if let args = module.forwardArguments {
            guard let p = args.firstIndex(of: suffix) else {
                throw namePath.error(expected: "an input of \(module.typeName).forward (\(args.map { inputPrefix + $0 }.joined(separator: ", ")), or \(inputPrefix)<position>) for module \(pythonRepr(module.name))", got: pythonRepr(name))
            }
            kind = .input(position: p, name: suffix)
        } else {
            kind = .input(position: nil, name: suffix)
        }
    } else if name.hasPrefix(outputPrefix) {
        source = settings[name] != nil ? name : outputPrefix
        let suffix = String(name.dropFirst(outputPrefix.count))
        if let p = Int(suffix), suffix.allSatisfy({ $0.isASCII && $0.isNumber }) {
            kind = .output(index: p, key: nil)
        } else {
            kind = .output(index: nil, key: suffix)
        }
    } else {
        source = name
        kind = .parameter
    }
    return (source, kind)
}

/// Checks that only the merged settings can get wrong: min_sparse_ratio <= max_sparse_ratio,
/// mask_structure with what it cannot be combined with (`PruningSettings.maskStructureConflict`), and
/// sparse_ratio / min / max within each other (SEMANTICS.md: ratio is clamped into [min, max]).
func checkFinalPruningSettings(_ targets: [TargetPlan]) throws(ConfigError) {
    for t in targets {
        if let lo = t.pruning?.minSparseRatio, let hi = t.pruning?.maxSparseRatio, lo > hi {
            throw ConfigError(configIndex: t.configIndex, path: "config_list[\(t.configIndex)] (\(t.moduleName).\(t.targetName))",
                              expected: "min_sparse_ratio <= max_sparse_ratio", got: "min_sparse_ratio=\(pythonFloat(lo)), max_sparse_ratio=\(pythonFloat(hi))")
        }
        if let conflict = t.pruning?.maskStructureConflict() {
            throw ConfigError(configIndex: t.configIndex, path: "config_list[\(t.configIndex)] (\(t.moduleName).\(t.targetName)).\(conflict.key)",
                              expected: conflict.expected, got: conflict.got)
        }
    }
}

/// Warnings for targets aligned to a target that is not configured in this plan.
/// One warning per config whose pruning targets include some that nothing prunes: no sparse_ratio,
/// no sparse_threshold, no align (their masks stay all ones).
func prunesNothingWarnings(_ targets: [TargetPlan]) -> [ExplainReport.Warning] {
    let idle = targets.filter { t in t.pruning.map { !$0.isActive && $0.align == nil } ?? false }
    return namesPerConfig(idle.map { ($0.configIndex, $0.moduleName + "." + $0.targetName) }).map { entry in
        .init(kind: .prunesNothing, configIndex: entry.config, module: nil, target: nil,
              message: "config_list[\(entry.config)] configures \(entry.count) target(s) that nothing prunes (\(entry.shown): no sparse_ratio, sparse_threshold or align); their masks stay all ones (set sparse_ratio or sparse_threshold)")
    }
}

/// Target names grouped by config, in order: each config's name count and its first three names
/// as Python reprs (`'m.weight', ... and N more`).
func namesPerConfig(_ names: [(config: Int, name: String)]) -> [(config: Int, count: Int, shown: String)] {
    var grouped: [(config: Int, names: [String])] = []
    for (config, name) in names {
        if let k = grouped.firstIndex(where: { $0.config == config }) {
            grouped[k].names.append(pythonRepr(name))
        } else {
            grouped.append((config, [pythonRepr(name)]))
        }
    }
    return grouped.map { entry in
        let more = entry.names.count > 3 ? " and \(entry.names.count - 3) more" : ""
        return (entry.config, entry.names.count, entry.names.prefix(3).joined(separator: ", ") + more)
    }
}

/// One warning per config whose quantization targets include some without a `quant_dtype` (None
/// or absent in the merged settings): they are quantized as int8, NNI 3.0's default, which the
/// config list does not say.
func missingQuantDtypeWarnings(_ targets: [TargetPlan]) -> [ExplainReport.Warning] {
    let untyped = targets.filter { t in t.quantization.map { !$0.dtypeGiven } ?? false }
    return namesPerConfig(untyped.map { ($0.configIndex, $0.qualifiedName) }).map { entry in
        .init(kind: .missingQuantDtype, configIndex: entry.config, module: nil, target: nil,
              message: "config_list[\(entry.config)] configures \(entry.count) quantization target(s) without a quant_dtype (\(entry.shown)); they are quantized as int8, the default (set quant_dtype, e.g. 'int8')")
    }
}

func alignWarnings(_ targets: [TargetPlan]) -> [ExplainReport.Warning] {
    var present = Set<String>()
    for t in targets { present.insert(t.moduleName + "\u{0}" + t.targetName) }
    var out: [ExplainReport.Warning] = []
    for t in targets {
        guard let align = t.pruning?.align else { continue }
        let target = align.targetName
        let module = align.moduleName ?? t.moduleName
        if !present.contains(module + "\u{0}" + target) {
            out.append(.init(kind: .alignSourceMissing, configIndex: t.configIndex, module: t.moduleName, target: t.targetName,
                             message: "\(t.moduleName).\(t.targetName) aligns with \(module).\(target), which this plan does not configure (configure it, or the pruning engine reports the missing align source)"))
        }
    }
    return out
}
