/// How a target's metric is divided into blocks (NNI's `granularity`).
public enum PruningGranularity: Sendable, Hashable {
    /// The pruner's default: fine-grained for the level metric, `outChannel` for parameters and
    /// `perChannel` for inputs/outputs with L1, L2 and FPGM.
    case `default`
    /// One metric value per element (`granularity: None` in NNI).
    case fineGrained
    /// One block per index of dim 0 (rows of a Linear weight, filters of a conv weight).
    case outChannel
    /// One block per index of dim 1 (needs rank >= 2).
    case inChannel
    /// One block per index of dim 1 of an input/output (dim 0 is the batch).
    case perChannel
    /// Block sizes over the trailing dims, padded with 1 at the front; -1 means the whole dim.
    /// Every size must be -1 or >= 1 and divide its dim.
    case blocks([Int])
}

/// What a mask does to its target when applied (NNI's `apply_method`).
public enum PruningApplyMethod: String, Sendable, Hashable {
    /// target * mask.
    case mul
    /// target + (mask == 1 ? 0 : -1000), for scores fed to softmax.
    case add
    /// The target is left unchanged (the mask is still computed).
    case bypass
}

/// A group id: NNI accepts ints and strings, and `1` and `'1'` are different groups.
public enum PruningGroupID: Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case string(String)

    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .string(let s): return pythonRepr(s)
        }
    }
}

/// `align`: derive this target's mask from another target's mask instead of a metric.
public struct PruningAlign: Sendable, Hashable {
    /// The module holding the source target; nil means the target's own module.
    public var moduleName: String?
    /// The source target's name (`weight`).
    public var targetName: String
    /// Dims of the source mask that are kept; all other dims are reduced by "any kept". Negative
    /// dims count from the end.
    public var dims: [Int]

    public init(moduleName: String? = nil, targetName: String, dims: [Int]) {
        self.moduleName = moduleName
        self.targetName = targetName
        self.dims = dims
    }
}

/// The pruning settings of one target, typed. Built from the canonical settings dict the config
/// engine produces (`PruningSettings(_:target:)`) or directly. Nil means the key is unset.
public struct PruningSettings: Sendable, Hashable {
    /// Fraction of metric positions to prune, in [0, 1].
    public var sparseRatio: Double?
    /// Upper bound on this target's sparsity, in [0, 1].
    public var maxSparseRatio: Double?
    /// Lower bound on this target's sparsity, in [0, 1].
    public var minSparseRatio: Double?
    /// Metric positions with a value below this are pruned (finite, any sign).
    public var sparseThreshold: Double?
    /// Targets with the same id are ranked together.
    public var globalGroupID: PruningGroupID?
    /// Targets with the same id share one mask, computed from their mean metric.
    public var dependencyGroupID: PruningGroupID?
    /// Block division of the metric.
    public var granularity: PruningGranularity
    /// Number of equal parts the dependency-group metric is split into (each pruned at the ratio);
    /// nil or 0 mean 1.
    public var internalMetricBlock: Int?
    /// How the mask is applied (default `mul`).
    public var applyMethod: PruningApplyMethod
    /// Derive the mask from another target's mask.
    public var align: PruningAlign?

    public init(sparseRatio: Double? = nil, maxSparseRatio: Double? = nil, minSparseRatio: Double? = nil,
                sparseThreshold: Double? = nil, globalGroupID: PruningGroupID? = nil,
                dependencyGroupID: PruningGroupID? = nil, granularity: PruningGranularity = .default,
                internalMetricBlock: Int? = nil, applyMethod: PruningApplyMethod = .mul,
                align: PruningAlign? = nil) {
        self.sparseRatio = sparseRatio
        self.maxSparseRatio = maxSparseRatio
        self.minSparseRatio = minSparseRatio
        self.sparseThreshold = sparseThreshold
        self.globalGroupID = globalGroupID
        self.dependencyGroupID = dependencyGroupID
        self.granularity = granularity
        self.internalMetricBlock = internalMetricBlock
        self.applyMethod = applyMethod
        self.align = align
    }

    /// Parses one target's canonical settings dict (NNI's keys, see compression-config-v3).
    ///
    /// Absent keys and `None` mean unset. An absent or `None` `granularity` means fine-grained
    /// (as in NNI); `'default'` means the pruner's default. Keys this type does not know (e.g.
    /// `quant_dtype`) are ignored: the config engine validates key names.
    ///
    /// - Parameters:
    ///   - settings: the dict for one target.
    ///   - target: `module.target`, used in errors.
    /// - Throws: `PruningError(.invalidSetting)` naming the key, the expectation and the value.
    public init(_ settings: ConfigObject, target: String) throws(PruningError) {
        func bad(_ key: String, _ expected: String, _ v: ConfigValue) -> PruningError {
            PruningError(.invalidSetting, target: target, key: key, "expected \(expected), got \(v.pythonDescription)")
        }
        func value(_ key: String) -> ConfigValue? {
            guard let v = settings[key], !v.isNull else { return nil }
            return v
        }
        func ratio(_ key: String) throws(PruningError) -> Double? {
            guard let v = value(key) else { return nil }
            guard let d = v.number, d >= 0, d <= 1 else { throw bad(key, "a number in [0, 1]", v) }
            return d
        }
        func groupID(_ key: String) throws(PruningError) -> PruningGroupID? {
            guard let v = value(key) else { return nil }
            switch v {
            case .int(let i): return .int(i)
            case .string(let s): return .string(s)
            default: throw bad(key, "an int or a string", v)
            }
        }
        sparseRatio = try ratio("sparse_ratio")
        maxSparseRatio = try ratio("max_sparse_ratio")
        minSparseRatio = try ratio("min_sparse_ratio")
        if let v = value("sparse_threshold") {
            guard let d = v.number, d.isFinite else { throw bad("sparse_threshold", "a finite number", v) }
            sparseThreshold = d
        } else {
            sparseThreshold = nil
        }
        globalGroupID = try groupID("global_group_id")
        dependencyGroupID = try groupID("dependency_group_id")

        if let v = value("granularity") {
            switch v {
            case .string("default"): granularity = .default
            case .string("out_channel"): granularity = .outChannel
            case .string("in_channel"): granularity = .inChannel
            case .string("per_channel"): granularity = .perChannel
            case .array(let items):
                var sizes: [Int] = []
                for item in items {
                    guard case .int(let i) = item, i == -1 || i >= 1 else {
                        throw bad("granularity", "'default', 'out_channel', 'in_channel', 'per_channel' or a list of block sizes (each -1 or >= 1)", v)
                    }
                    sizes.append(i)
                }
                granularity = .blocks(sizes)
            default:
                throw bad("granularity", "'default', 'out_channel', 'in_channel', 'per_channel' or a list of block sizes (each -1 or >= 1)", v)
            }
        } else {
            granularity = .fineGrained
        }

        if let v = value("internal_metric_block") {
            guard case .int(let i) = v, i >= 0 else { throw bad("internal_metric_block", "an int >= 1", v) }
            internalMetricBlock = i == 0 ? nil : i
        } else {
            internalMetricBlock = nil
        }

        if let v = value("apply_method") {
            guard let s = v.string, let m = PruningApplyMethod(rawValue: s) else {
                throw bad("apply_method", "'mul', 'add' or 'bypass'", v)
            }
            applyMethod = m
        } else {
            applyMethod = .mul
        }

        if let v = value("align") {
            guard let o = v.object else { throw bad("align", "a dict with 'target_name' and 'dims'", v) }
            var moduleName: String? = nil
            if let m = o["module_name"], !m.isNull {
                guard let s = m.string else { throw bad("align.module_name", "a string or None", m) }
                moduleName = s
            }
            guard let t = o["target_name"], let tn = t.string else {
                throw bad("align.target_name", "a string", o["target_name"] ?? .null)
            }
            guard let d = o["dims"], let arr = d.array else { throw bad("align.dims", "a list of ints", o["dims"] ?? .null) }
            var dims: [Int] = []
            for item in arr {
                guard case .int(let i) = item else { throw bad("align.dims", "a list of ints", d) }
                dims.append(i)
            }
            align = PruningAlign(moduleName: moduleName, targetName: tn, dims: dims)
        } else {
            align = nil
        }
    }

    /// Checks the ranges of values set directly (the dict initializer checks them already).
    func validate(target: String) throws(PruningError) {
        for (key, v) in [("sparse_ratio", sparseRatio), ("max_sparse_ratio", maxSparseRatio), ("min_sparse_ratio", minSparseRatio)] {
            if let v, !(v >= 0 && v <= 1) {
                throw PruningError(.invalidSetting, target: target, key: key, "expected a number in [0, 1], got \(pythonFloat(v))")
            }
        }
        if let t = sparseThreshold, !t.isFinite {
            throw PruningError(.invalidSetting, target: target, key: "sparse_threshold", "expected a finite number, got \(pythonFloat(t))")
        }
        if let b = internalMetricBlock, b < 0 {
            throw PruningError(.invalidSetting, target: target, key: "internal_metric_block", "expected an int >= 1, got \(b)")
        }
        if case .blocks(let sizes) = granularity, sizes.contains(where: { !($0 == -1 || $0 >= 1) }) {
            throw PruningError(.invalidSetting, target: target, key: "granularity", "expected block sizes that are -1 or >= 1, got \(sizes)")
        }
    }

    /// Whether a metric is computed for this target (NNI: sparse_ratio or sparse_threshold set).
    public var isActive: Bool { sparseRatio != nil || sparseThreshold != nil }
}
