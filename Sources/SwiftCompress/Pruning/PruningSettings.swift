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

    /// Align to `targetName` of `moduleName` (nil: the same module), keeping the source mask's `dims`.
    public init(moduleName: String? = nil, targetName: String, dims: [Int]) {
        self.moduleName = moduleName
        self.targetName = targetName
        self.dims = dims
    }
}

/// `mask_structure: "N:M"`: in every M consecutive metric values along the input dim (per row of
/// dim 0: dim 1 of a Linear weight, the flattened dims 1... of a conv weight), exactly the N with
/// the smallest metric are pruned (equal metrics: the lower index first).
public struct PruningMaskStructure: Sendable, Hashable, CustomStringConvertible {
    /// Pruned per group (0 ... m).
    public var n: Int
    /// Group length (>= 1).
    public var m: Int

    /// `n` of every `m`; checked (0 <= n <= m, m >= 1) when the settings are used.
    public init(n: Int, m: Int) {
        self.n = n
        self.m = m
    }

    /// The fraction pruned, n / m.
    public var ratio: Double { Double(n) / Double(m) }

    /// `'N:M'` as a config writes it.
    public var description: String { "\(n):\(m)" }
}

/// The pruning settings of one target, typed. Built from the canonical settings dict the config
/// engine produces (`PruningSettings(_:target:)`) or directly. Nil means the key is unset.
public struct PruningSettings: Sendable, Hashable {
    /// Fraction of metric positions to prune, in [0, 1].
    public var sparseRatio: Double?
    /// Upper bound on this target's sparsity, in (0, 1] (NNI's schema: 0 is no valid bound).
    public var maxSparseRatio: Double?
    /// Lower bound on this target's sparsity, in [0, 1).
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
    /// nil means 1; otherwise >= 1 (the key table's rule, as in a config list).
    public var internalMetricBlock: Int?
    /// How the mask is applied (default `mul`).
    public var applyMethod: PruningApplyMethod
    /// Derive the mask from another target's mask.
    public var align: PruningAlign?
    /// N:M semi-structured masks (`mask_structure`); nil for unstructured (`'0:0'` or unset).
    public var maskStructure: PruningMaskStructure?

    /// Settings given directly; nil leaves a key unset. Ranges are checked (with the key table's
    /// rules) when the settings are used by `Pruning.generateMasks`.
    public init(sparseRatio: Double? = nil, maxSparseRatio: Double? = nil, minSparseRatio: Double? = nil,
                sparseThreshold: Double? = nil, globalGroupID: PruningGroupID? = nil,
                dependencyGroupID: PruningGroupID? = nil, granularity: PruningGranularity = .default,
                internalMetricBlock: Int? = nil, applyMethod: PruningApplyMethod = .mul,
                align: PruningAlign? = nil, maskStructure: PruningMaskStructure? = nil) {
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
        self.maskStructure = maskStructure
    }

    /// Parses one target's canonical settings dict (NNI's keys, see compression-config-v3).
    ///
    /// Every key is read through its row of the pruning key table (`SettingKeys.settings(.pruning)`),
    /// so a value is accepted here exactly when validation accepts it in a config list. Absent keys
    /// and `None` mean unset. An absent or `None` `granularity` means fine-grained (as in NNI);
    /// `'default'` means the pruner's default. Keys this type does not know (e.g. `quant_dtype`)
    /// are ignored: the config engine validates key names.
    ///
    /// - Parameters:
    ///   - settings: the dict for one target.
    ///   - target: `module.target`, used in errors.
    /// - Throws: `EngineError(.pruning, .invalidSetting)` naming the key, the expectation and the value.
    public init(_ settings: ConfigObject, target: String) throws(EngineError) {
        let value = SettingsReader(settings: settings, mode: .pruning, engine: .pruning, target: target)
        func groupID(_ key: String) throws(EngineError) -> PruningGroupID? {
            switch try value(key) {
            case .int(let i)?: return .int(i)
            case .string(let s)?: return .string(s)
            default: return nil
            }
        }
        sparseRatio = try value("sparse_ratio")?.number
        maxSparseRatio = try value("max_sparse_ratio")?.number
        minSparseRatio = try value("min_sparse_ratio")?.number
        sparseThreshold = try value("sparse_threshold")?.number
        globalGroupID = try groupID("global_group_id")
        dependencyGroupID = try groupID("dependency_group_id")
        switch try value("granularity") {
        case .string("out_channel")?: granularity = .outChannel
        case .string("in_channel")?: granularity = .inChannel
        case .string("per_channel")?: granularity = .perChannel
        case .string?: granularity = .default
        case .array(let items)?: granularity = .blocks(items.compactMap(\.intValue))
        default: granularity = .fineGrained
        }
        internalMetricBlock = try value("internal_metric_block")?.intValue
        applyMethod = try value("apply_method")?.string.flatMap(PruningApplyMethod.init(rawValue:)) ?? .mul
        if let o = try value("align")?.object {
            align = PruningAlign(moduleName: o["module_name"]?.string, targetName: o["target_name"]?.string ?? "",
                                 dims: o["dims"]?.array?.compactMap(\.intValue) ?? [])
        } else {
            align = nil
        }
        if let text = try value("mask_structure")?.string, let (n, m) = parseMaskStructure(text), m > 0 {
            maskStructure = PruningMaskStructure(n: n, m: m)
        } else {
            maskStructure = nil
        }
    }

    /// Checks the ranges of values set directly (the dict initializer checks them already), with
    /// the key table's rules: `sparse_ratio` [0, 1], `max_sparse_ratio` (0, 1], `min_sparse_ratio`
    /// [0, 1), `sparse_threshold` finite, `internal_metric_block` >= 1, block sizes -1 or >= 1.
    func validate(target: String) throws(EngineError) {
        func check(_ key: String, _ v: ConfigValue) throws(EngineError) {
            let row = SettingKeys.row(key, .pruning)
            if case .invalid = row.read([key: v]) {
                throw EngineError(.pruning, .invalidSetting, target: target, key: key, "expected \(row.type), got \(v.pythonDescription)")
            }
        }
        for (key, v) in [("sparse_ratio", sparseRatio), ("max_sparse_ratio", maxSparseRatio), ("min_sparse_ratio", minSparseRatio),
                         ("sparse_threshold", sparseThreshold)] {
            if let v { try check(key, .double(v)) }
        }
        if let b = internalMetricBlock { try check("internal_metric_block", .int(b)) }
        if case .blocks(let sizes) = granularity, sizes.contains(where: { !($0 == -1 || $0 >= 1) }) {
            throw EngineError(.pruning, .invalidSetting, target: target, key: "granularity", "expected block sizes that are -1 or >= 1, got \(sizes)")
        }
        if let ms = maskStructure {
            guard ms.m >= 1, ms.n >= 0, ms.n <= ms.m else {
                throw EngineError(.pruning, .invalidSetting, target: target, key: "mask_structure",
                                  "expected \(SettingRule.maskStructure.expectation), got '\(ms)'")
            }
            if let problem = maskStructureConflict() {
                throw EngineError(.pruning, .invalidSetting, target: target, key: problem.key, "expected \(problem.expected), got \(problem.got)")
            }
        }
    }

    /// What `mask_structure` cannot be combined with: a `sparse_ratio` other than N/M, bounds that
    /// exclude N/M, a threshold, a global or dependency group (N:M fixes every group's count). The
    /// key at fault, the expectation and the value; nil when consistent (or no N:M is set).
    func maskStructureConflict() -> (key: String, expected: String, got: String)? {
        guard let ms = maskStructure else { return nil }
        let r = ms.ratio
        if let given = sparseRatio, abs(given - r) > 1e-9 {
            return ("sparse_ratio", "N/M = \(pythonFloat(r)) with mask_structure '\(ms)' (or no sparse_ratio)", pythonFloat(given))
        }
        if let hi = maxSparseRatio, r > hi + 1e-9 {
            return ("max_sparse_ratio", "a bound >= N/M = \(pythonFloat(r)) with mask_structure '\(ms)'", pythonFloat(hi))
        }
        if let lo = minSparseRatio, r < lo - 1e-9 {
            return ("min_sparse_ratio", "a bound <= N/M = \(pythonFloat(r)) with mask_structure '\(ms)'", pythonFloat(lo))
        }
        if let t = sparseThreshold {
            return ("sparse_threshold", "no sparse_threshold with mask_structure '\(ms)' (N:M fixes the count of every group)", pythonFloat(t))
        }
        if let g = globalGroupID {
            return ("global_group_id", "no global_group_id with mask_structure '\(ms)' (N:M fixes the count of every group)", g.description)
        }
        if let g = dependencyGroupID {
            return ("dependency_group_id", "no dependency_group_id with mask_structure '\(ms)' (N:M fixes the count of every group)", g.description)
        }
        return nil
    }

    /// Whether a metric is computed for this target (NNI: sparse_ratio or sparse_threshold set).
    /// An N:M structure makes a target active without a ratio.
    public var isActive: Bool { sparseRatio != nil || sparseThreshold != nil || maskStructure != nil }
}
