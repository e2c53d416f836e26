/// The config list of NNI 3.0's `auto_set_denpendency_group_ids`, built from a graph analysis.
extension GraphAnalysis {
    /// The keys that select modules; they are dropped from the per-module configs (which select by
    /// `op_names: [name]`).
    public static let selectionKeys: Set<String> = ["op_names", "op_names_re", "op_types", "exclude_op_names",
                                                    "exclude_op_names_re", "exclude_op_types", "fuse_names"]

    /// For each non-exclusion config of `reportConfigs` (the explain report's `configs`: objects with
    /// `index`, `exclusion`, `selected`, optionally `translated`), in order, and each module it
    /// selects, in order: `{"op_names": [module], ...the config (its translation for a legacy one)
    /// without the selection keys}` with `dependency_group_id` set to `"<prefix><group>"` for modules
    /// in the graph's conv / linear / embedding nodes (replacing a configured one), and
    /// `internal_metric_block` for the nodes NNI gives one. Returns the list as JSON text.
    /// Errors: text that is not JSON, or not of these shapes.
    public func dependencyConfigList(graph: ChannelGraph, configList: String, reportConfigs: String,
                                     prefix: String = "auto_group_") throws(GraphError) -> String {
        let parsedConfigs: ConfigValue, parsedReport: ConfigValue
        do throws(JSONSyntaxError) {
            parsedConfigs = try ConfigValue(json: configList)
            parsedReport = try ConfigValue(json: reportConfigs)
        } catch {
            throw GraphError("config list JSON: \(error.description)")
        }
        guard case .array(let configs) = parsedConfigs else { throw GraphError("config_list: expected a JSON array") }
        guard case .array(let report) = parsedReport else { throw GraphError("report configs: expected a JSON array") }
        var groupOfName: [String: Int] = [:], blockOfName: [String: Int] = [:]
        for (i, n) in graph.nodes.enumerated() {
            if groupOf.indices.contains(i), groupOf[i] >= 0, groupOfName[n.name] == nil { groupOfName[n.name] = groupOf[i] }
            if internalMetricBlock.indices.contains(i), internalMetricBlock[i] > 0 {
                blockOfName[n.name] = lcm(blockOfName[n.name] ?? 1, internalMetricBlock[i])
            }
        }
        var out: [ConfigValue] = []
        for (k, entry) in report.enumerated() {
            guard case .object(let e) = entry, case .int(let index)? = e["index"], case .array(let selected)? = e["selected"] else {
                throw GraphError("report configs[\(k)]: expected an object with an int 'index' and a 'selected' array")
            }
            if case .bool(true)? = e["exclusion"] { continue }
            var base: ConfigObject
            if case .object(let t)? = e["translated"] {
                base = t
            } else {
                guard configs.indices.contains(index), case .object(let c) = configs[index] else {
                    throw GraphError("report configs[\(k)]: index \(index) is not a config object of the \(configs.count)-config list")
                }
                base = c
            }
            var pub = ConfigObject()
            for (key, value) in base where !Self.selectionKeys.contains(key) { pub[key] = value }
            for name in selected {
                guard case .string(let s) = name else { throw GraphError("report configs[\(k)].selected: expected strings") }
                var c: ConfigObject = ["op_names": .array([.string(s)])]
                for (key, value) in pub { c[key] = value }
                if let g = groupOfName[s] { c["dependency_group_id"] = .string(prefix + String(g)) }
                if let b = blockOfName[s] { c["internal_metric_block"] = .int(b) }
                out.append(.object(c))
            }
        }
        return ConfigValue.array(out).jsonText
    }

    /// The analysis as JSON for people and tools: `{"groups": [{"group", "members", "tied_by"}],
    /// "nodes": [{"name", "op", "group"?, "internal_metric_block"?, "kept_output"?, "kept_input"?,
    /// "attrs", "shrunk_attrs"}]}` (kept lists only for tracked channels).
    public func reportJSON(graph: ChannelGraph) -> String {
        var gs: [ConfigValue] = []
        for (g, members) in groups.enumerated() {
            gs.append(.object(["group": .int(g), "members": .array(members.map { .string(graph.nodes[$0].name) }),
                               "tied_by": .array(tiedBy[g].map(ConfigValue.string))]))
        }
        var ns: [ConfigValue] = []
        for (i, n) in graph.nodes.enumerated() {
            var o: ConfigObject = ["name": .string(n.name), "op": .string(n.op.name)]
            if groupOf[i] >= 0 { o["group"] = .int(groupOf[i]) }
            if internalMetricBlock[i] > 0 { o["internal_metric_block"] = .int(internalMetricBlock[i]) }
            if let k = keptOutput[i] { o["kept_output"] = .array(k.map(ConfigValue.int)) }
            if let k = keptInput[i] { o["kept_input"] = .array(k.map(ConfigValue.int)) }
            o["attrs"] = .array(n.attrs.map(ConfigValue.int))
            o["shrunk_attrs"] = .array(shrunkAttrs[i].map(ConfigValue.int))
            ns.append(.object(o))
        }
        return ConfigValue.object(["groups": .array(gs), "nodes": .array(ns)]).jsonText
    }
}
