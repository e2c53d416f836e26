/// "What will this config do to my model?": per config, the modules it selects; per module, its
/// targets and their final settings; and warnings for everything that is ignored or dropped.
///
/// Three forms: the values themselves, `table` (an aligned table for people) and `json` (for tools
/// and the C and Python layers).
public struct ExplainReport: Sendable, Equatable {
    public var mode: CompressionMode
    public var isLegacy: Bool
    public var configs: [ConfigEntry]
    /// All configured targets in model order (the plan's targets).
    public var targets: [TargetPlan]
    public var warnings: [Warning]

    public struct ConfigEntry: Sendable, Equatable {
        public var index: Int
        /// A legacy `exclude: True` config: `selected` are the modules it removes from every config.
        public var isExclusion: Bool
        /// The modules the config selects, in model order (after legacy exclusions).
        public var selected: [String]
        /// Selected modules skipped because their type has no template in this mode.
        public var skipped: [String]
        /// For a legacy list: the config as translated to the current format.
        public var translated: ConfigObject?
        /// Legacy `quant_start_step` of the config (quantization only; the QAT quantizer's warm-up
        /// steps for the config's targets), nil where not given.
        public var quantStartStep: Int? = nil
        /// The config's `fuse_names` groups (quantization only), each as given: the first module is
        /// the one the others are fused into.
        public var fusions: [[String]] = []
    }

    public struct Warning: Sendable, Equatable {
        public enum Kind: String, Sendable, Equatable, CaseIterable {
            /// An `op_names` / `exclude_op_names` entry names no module (the message lists close names).
            case unmatchedOpName = "unmatched_op_name"
            /// A config selects no module (or none this mode has a template for).
            case selectsNothing = "selects_nothing"
            /// A shorthand key no selected target has; dropped.
            case unusedShorthand = "unused_shorthand"
            /// A target already configured by an earlier config (current format); ignored.
            case ignoredReconfiguration = "ignored_reconfiguration"
            /// A module configured again by a later legacy sub-config, which replaces its settings.
            case overwrittenConfiguration = "overwritten_configuration"
            /// A selected module whose type has no template in this mode; skipped.
            case missingTemplate = "missing_template"
            /// A legacy key with no effect in its config (`max_sparsity_per_layer` without a sparsity).
            case droppedKey = "dropped_key"
            /// `_input_<n>` beyond the module's known forward arguments.
            case inputOutOfRange = "input_out_of_range"
            /// A target aligned to a target the plan does not configure.
            case alignSourceMissing = "align_source_missing"
            /// Pruning targets of a config that nothing prunes (no ratio, threshold or align).
            case prunesNothing = "prunes_nothing"
            /// Quantization targets of a config without a `quant_dtype` (quantized as int8, the default).
            case missingQuantDtype = "missing_quant_dtype"
        }
        public var kind: Kind
        public var configIndex: Int?
        public var module: String?
        public var target: String?
        /// A complete sentence naming the config, the key and the fix.
        public var message: String
    }

    /// The targets grouped by module, in model order.
    public var modules: [(name: String, type: String, targets: [TargetPlan])] {
        var out: [(name: String, type: String, targets: [TargetPlan])] = []
        for t in targets {
            if let last = out.last, last.name == t.moduleName {
                out[out.count - 1].targets.append(t)
            } else {
                out.append((t.moduleName, t.moduleType, [t]))
            }
        }
        return out
    }

    /// `{module: {target: settings}}`, the shape of NNI's canonical settings per module.
    public var settingsByModule: ConfigObject {
        var out = ConfigObject()
        for m in modules {
            var ts = ConfigObject()
            for t in m.targets { ts[t.targetName] = .object(t.settings) }
            out[m.name] = .object(ts)
        }
        return out
    }
}

extension ExplainReport {
    /// The report as data: `{"mode", "legacy", "configs": [{"index", "exclusion", "selected",
    /// "skipped", "translated"?, "quant_start_step"?, "fusions"?}], "modules": {name: {"type",
    /// "targets": {target: {"config", "kind", "position"?, "argument"?, "output_key"?, "settings"}}}},
    /// "facts": {name: {target: facts}}, "fusions": [[module]], "warnings": [{"kind", "config",
    /// "module", "target", "message"}]}`. `"settings"` are the canonical settings (for people and
    /// tools); `"facts"` (same modules and targets, same order) are the typed facts the bindings
    /// read (`TargetPlan.facts(quantStartStep:)`); `"fusions"` every `fuse_names` group in config
    /// order (a config's own groups in its entry, when it has some).
    public var json: ConfigValue {
        var configsOut: [ConfigValue] = []
        for c in configs {
            var o: ConfigObject = [
                "index": .int(c.index), "exclusion": .bool(c.isExclusion),
                "selected": .array(c.selected.map(ConfigValue.string)),
                "skipped": .array(c.skipped.map(ConfigValue.string)),
            ]
            if let t = c.translated { o["translated"] = .object(t) }
            if let q = c.quantStartStep { o["quant_start_step"] = .int(q) }
            if !c.fusions.isEmpty { o["fusions"] = fusionsJSON(c.fusions) }
            configsOut.append(.object(o))
        }
        var modulesOut = ConfigObject()
        var factsOut = ConfigObject()
        for m in modules {
            var facts = ConfigObject()
            for t in m.targets { facts[t.targetName] = .object(t.facts(quantStartStep: quantStartStep(ofConfig: t.configIndex))) }
            factsOut[m.name] = .object(facts)
            var ts = ConfigObject()
            for t in m.targets {
                var o: ConfigObject = ["config": .int(t.configIndex)]
                switch t.kind {
                case .parameter: o["kind"] = "parameter"
                case .input(let position, let name):
                    o["kind"] = "input"
                    o["position"] = position.map(ConfigValue.int) ?? .null
                    if let name { o["argument"] = .string(name) }
                case .output(let index, let key):
                    o["kind"] = "output"
                    o["position"] = index.map(ConfigValue.int) ?? .null
                    if let key { o["output_key"] = .string(key) }
                }
                o["settings"] = .object(t.settings)
                ts[t.targetName] = .object(o)
            }
            modulesOut[m.name] = ["type": .string(m.type), "targets": .object(ts)]
        }
        let warningsOut: [ConfigValue] = warnings.map { w in
            [
                "kind": .string(w.kind.rawValue), "config": w.configIndex.map(ConfigValue.int) ?? .null,
                "module": w.module.map(ConfigValue.string) ?? .null, "target": w.target.map(ConfigValue.string) ?? .null,
                "message": .string(w.message),
            ]
        }
        return [
            "mode": .string(mode.rawValue), "legacy": .bool(isLegacy), "configs": .array(configsOut),
            "modules": .object(modulesOut), "facts": .object(factsOut), "fusions": fusionsJSON(fusions), "warnings": .array(warningsOut),
        ]
    }

    /// An aligned, human-readable table: one line per config, one row per target (settings that are
    /// None omitted), then the warnings.
    public var table: String {
        var lines: [String] = []
        let moduleCount = modules.count
        lines.append("\(mode.rawValue), \(isLegacy ? "legacy (v2) format" : "current format"): \(configs.count) config(s), \(targets.count) target(s) on \(moduleCount) module(s), \(warnings.count) warning(s)")
        lines.append("")
        for c in configs {
            let n = c.selected.count
            let verb = c.isExclusion ? "excludes" : "selects"
            var line = "config_list[\(c.index)]  \(verb) \(n) module\(n == 1 ? "" : "s")"
            if n > 0 {
                let shown = c.selected.prefix(6).map { $0.isEmpty ? "''" : $0 }
                line += ": " + shown.joined(separator: ", ") + (n > 6 ? ", … (+\(n - 6))" : "")
            }
            if !c.skipped.isEmpty { line += "  [\(c.skipped.count) skipped: no template]" }
            if let q = c.quantStartStep { line += "  [quant_start_step \(q)]" }
            lines.append(line)
        }
        if !targets.isEmpty {
            lines.append("")
            var rows: [[String]] = [["module", "type", "target", "config", "settings (None omitted)"]]
            for t in targets {
                let s = t.settings.entries.filter { !$0.value.isNull }
                    .map { "\($0.key)=\($0.value.pythonDescription)" }.joined(separator: ", ")
                rows.append([t.moduleName.isEmpty ? "''" : t.moduleName, t.moduleType, t.targetName, String(t.configIndex), s])
            }
            lines.append(contentsOf: alignColumns(rows))
        }
        if !warnings.isEmpty {
            lines.append("")
            lines.append("warnings:")
            for w in warnings { lines.append("  - " + w.message) }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

func fusionsJSON(_ groups: [[String]]) -> ConfigValue {
    .array(groups.map { .array($0.map(ConfigValue.string)) })
}

/// Pads every column but the last to its widest cell (counted in Characters).
func alignColumns(_ rows: [[String]]) -> [String] {
    let columns = rows.map(\.count).max() ?? 0
    var widths = [Int](repeating: 0, count: columns)
    for r in rows {
        for (i, cell) in r.enumerated() where i < columns - 1 { widths[i] = max(widths[i], cell.count) }
    }
    return rows.map { r in
        var line = ""
        for (i, cell) in r.enumerated() {
            if i < columns - 1 {
                line += cell + String(repeating: " ", count: widths[i] - cell.count + 2)
            } else {
                line += cell
            }
        }
        var trimmed = Substring(line)
        while trimmed.last == " " { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }
}
