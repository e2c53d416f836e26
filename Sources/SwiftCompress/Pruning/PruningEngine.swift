/// One pruning target handed to `Pruning.generateMasks`: the caller's tensor, the caller's mask
/// buffer and the target's settings. The caller owns every buffer; they must stay valid (and the
/// mask must not be read or written by others) until the call returns. Nothing is retained.
public struct PruningTarget: @unchecked Sendable {
    /// The module's name as `named_modules()` gives it (`layer1.0.conv1`; `''` for the root).
    public var moduleName: String
    /// The target's name in the module: `weight`, `bias`, `_input_0`, `_output_0`, ...
    /// Names starting with `_input_` or `_output_` are inputs/outputs; others are parameters.
    public var targetName: String
    /// The target's settings.
    public var settings: PruningSettings
    /// The target's values (any of the four dtypes, any strides).
    public var tensor: TensorView
    /// Where the mask is written: same shape as `tensor`, any dtype and strides. Receives 1 (keep)
    /// or 0 (prune) in every element.
    public var mask: MutableTensorView
    /// A metric to rank this target by instead of computing one: one value per block, shaped like
    /// the metric (NNI's keepdim shape, e.g. `[64, 1, 1, 1]` for a conv's out channels) or without
    /// the reduced dims (`[64]`). Required for every active target when the metric kind is
    /// `.supplied`; used whenever given.
    public var metric: TensorView?

    /// A target over caller buffers (see the properties for their contracts); nothing is checked
    /// until `Pruning.generateMasks`.
    public init(moduleName: String, targetName: String, settings: PruningSettings, tensor: TensorView,
                mask: MutableTensorView, metric: TensorView? = nil) {
        self.moduleName = moduleName
        self.targetName = targetName
        self.settings = settings
        self.tensor = tensor
        self.mask = mask
        self.metric = metric
    }

    /// `module.target` (just `target` for the root module), as errors name it.
    public var qualifiedName: String { moduleName.isEmpty ? targetName : moduleName + "." + targetName }

    /// True for parameters, false for `_input_*` / `_output_*` targets.
    public var isParameter: Bool { !(targetName.hasPrefix("_input_") || targetName.hasPrefix("_output_")) }
}

/// Mask generation and application (NNI 3.0's pruning rules over caller memory).
public enum Pruning {
    /// Computes every target's metric, runs the rules in NNI's order — threshold, dependency group,
    /// global group, ratio, align — multiplies the masks each target gets, and writes each mask
    /// (1 keep, 0 prune) into `targets[i].mask`. Targets no rule applies to get an all-ones mask.
    ///
    /// Which rules apply to a target (as in NNI): threshold when `sparseThreshold` is set; the
    /// dependency rule when `dependencyGroupID` is set; otherwise the global rule when
    /// `globalGroupID` is set; otherwise the ratio rule when `sparseRatio` is set; otherwise align
    /// when `align` is set. Counts are exact: a ratio prunes `Int(Double(blocks) * ratio)` blocks,
    /// the smallest metric first, equal metrics lowest index first.
    ///
    /// The whole list is needed at once because groups and align span targets. Masks are written
    /// only after every check passed: on error no mask has been touched.
    ///
    /// - Parameters:
    ///   - targets: the targets; `(moduleName, targetName)` pairs must be unique.
    ///   - metric: how to rank blocks.
    /// - Throws: `PruningError` naming the first target with a problem (bad settings, mismatched
    ///   shapes, bad granularity, group members that disagree, align to a missing target, missing
    ///   supplied metric).
    public static func generateMasks(_ targets: [PruningTarget], metric: PruningMetricKind) throws(EngineError) {
        let plans = try plan(targets, metric: metric)
        let masks = computeBlockMasks(targets, plans: plans, metric: metric)
        writeMasks(targets, plans: plans, blockMasks: masks)
    }

    /// Applies `mask` to `target` in place: `mul` multiplies, `add` adds -1000 where the mask is
    /// not 1 (and 0 where it is), `bypass` leaves the target unchanged. `mask` must have the target's
    /// shape; dtypes and strides may differ. Both buffers are the caller's.
    ///
    /// - Throws: `EngineError(.pruning, .shapeMismatch)` when the shapes differ (`name` is used in it).
    public static func applyMask(_ mask: TensorView, to target: MutableTensorView, method: PruningApplyMethod,
                                 name: String = "target") throws(EngineError) {
        guard mask.shape == target.shape else {
            throw EngineError(.pruning, .shapeMismatch, target: name, "mask shape \(mask.shape) differs from target shape \(target.shape)")
        }
        switch method {
        case .bypass: return
        case .mul:
            guard let mp = mask.pointer else { return }
            target.update(0..<target.count) { i, x in x * loadDouble(mp, mask.dtype, mask.layout.offset(ofLogicalIndex: i)) }
        case .add:
            guard let mp = mask.pointer else { return }
            target.update(0..<target.count) { i, x in
                loadDouble(mp, mask.dtype, mask.layout.offset(ofLogicalIndex: i)) == 1 ? x : x + smallMaskValue
            }
        }
    }

    /// The value `add` puts at pruned positions (NNI's SMALL_MASK_VALUE).
    public static let smallMaskValue: Double = -1000
}

/// What was decided for one target before any arithmetic.
struct PruningTargetPlan {
    var name: String
    var layout: BlockLayout
    var metric: Metric?
    /// Index of the align source in the target list.
    var alignSource: Int?
    var alignDims: [Int] = []
    var inDependency: Bool
    var inGlobal: Bool
    var usesRatio: Bool
    var usesAlign: Bool
    /// The group rule (N:M, or Wanda's per-row ratio) instead of the ratio rule: in each run of
    /// `groupSize` consecutive metric values, the `groupPrune` smallest are pruned.
    var usesGroups: Bool = false
    var groupSize: Int = 0
    var groupPrune: Int = 0
}

extension Pruning {
    /// Decides every target's layout, metric source and rule, then checks what spans targets:
    /// groups, dependency shapes, align sources and dependency parts. No arithmetic on tensors.
    static func plan(_ targets: [PruningTarget], metric kind: PruningMetricKind) throws(EngineError) -> [PruningTargetPlan] {
        var index: [String: Int] = [:]
        var plans: [PruningTargetPlan] = []
        for (ti, t) in targets.enumerated() {
            let name = t.qualifiedName
            let key = t.moduleName + "\u{0}" + t.targetName
            if index[key] != nil { throw EngineError(.pruning, .duplicateTarget, target: name, "appears more than once in the target list") }
            index[key] = ti
            plans.append(try planTarget(t, metric: kind))
        }
        try checkGroups(targets, plans)
        try checkDependencyShapes(targets, plans)
        try resolveAlignSources(targets, &plans, index: index)
        try checkDependencyParts(targets, plans)
        return plans
    }

    /// One target's plan: settings and shapes checked, block layout, metric source, rule.
    static func planTarget(_ t: PruningTarget, metric kind: PruningMetricKind) throws(EngineError) -> PruningTargetPlan {
        let name = t.qualifiedName
        try t.settings.validate(target: name)
        guard t.mask.shape == t.tensor.shape else {
            throw EngineError(.pruning, .shapeMismatch, target: name, "mask shape \(t.mask.shape) differs from target shape \(t.tensor.shape)")
        }
        let layout = try BlockLayout(shape: t.tensor.shape, granularity: t.settings.granularity,
                                     isParameter: t.isParameter, levelDefault: kind == .level || kind == .wanda, target: name)
        let s = t.settings
        var m: Metric? = nil
        if s.isActive {
            if let mv = t.metric {
                let ok = mv.count == layout.blockCount
                    && (mv.shape == layout.metricShape || mv.shape == layout.squeezedShape)
                guard ok else {
                    throw EngineError(.pruning, .shapeMismatch, target: name,
                                       "supplied metric shape \(mv.shape) does not match the metric shape \(layout.metricShape) of granularity \(s.granularity) on shape \(t.tensor.shape)")
                }
                m = Metric(values: .view(mv), count: mv.count, singlePrecision: mv.dtype != .float64)
            } else if kind == .supplied || kind == .wanda {
                throw EngineError(.pruning, .invalidMetric, target: name, "metric kind is '\(kind.rawValue)' but no metric tensor was given")
            } else if kind == .fpgm && layout.isUnblocked {
                throw EngineError(.pruning, .invalidGranularity, target: name, key: "granularity",
                                   "FPGM needs blocks (e.g. 'out_channel'); it does not support fine-grained pruning")
            } else if layout.isFineGrained && kind != .fpgm {
                m = Metric(values: .magnitude(t.tensor), count: layout.blockCount, singlePrecision: t.tensor.dtype != .float64)
            } else {
                // Computed in phase 2.
                m = Metric(values: .dense([]), count: layout.blockCount, singlePrecision: t.tensor.dtype != .float64)
            }
        }
        let inDep = s.dependencyGroupID != nil
        let inGlobal = !inDep && s.globalGroupID != nil
        let usesRatio = !inDep && !inGlobal && s.sparseRatio != nil
        let usesAlign = !inDep && !inGlobal && !usesRatio && s.align != nil && s.maskStructure == nil
        var plan = PruningTargetPlan(name: name, layout: layout, metric: m, inDependency: inDep, inGlobal: inGlobal,
                                     usesRatio: usesRatio, usesAlign: usesAlign)
        // N:M, or Wanda's per-row ratio: groups of consecutive metric values within a row (dim 0).
        let rows = layout.metricShape.count >= 2 ? layout.metricShape[0] : 1
        let rowLength = rows > 0 ? layout.blockCount / rows : 0
        if let ms = s.maskStructure, m != nil {
            guard layout.blockCount == 0 || rowLength % ms.m == 0 else {
                throw EngineError(.pruning, .invalidSetting, target: name, key: "mask_structure",
                                  "M = \(ms.m) dividing the row length along the input dim, got a row of \(rowLength) metric values (shape \(t.tensor.shape), metric shape \(layout.metricShape))")
            }
            plan.usesRatio = false
            plan.usesGroups = true
            plan.groupSize = ms.m
            plan.groupPrune = ms.n
        } else if kind == .wanda, usesRatio, let r = s.sparseRatio {
            plan.usesRatio = false
            plan.usesGroups = true
            plan.groupSize = rowLength
            plan.groupPrune = pruneCount(rowLength, boundedRatio(r, s))
        }
        return plan
    }

    /// Group members need a metric and one sparse_ratio per group.
    static func checkGroups(_ targets: [PruningTarget], _ plans: [PruningTargetPlan]) throws(EngineError) {
        for dependency in [true, false] {
            var ratios: [PruningGroupID: (Double?, String)] = [:]
            var order: [PruningGroupID] = []
            for (ti, t) in targets.enumerated() {
                let inGroup = dependency ? plans[ti].inDependency : plans[ti].inGlobal
                guard inGroup, let gid = dependency ? t.settings.dependencyGroupID : t.settings.globalGroupID else { continue }
                let keyName = dependency ? "dependency_group_id" : "global_group_id"
                if plans[ti].metric == nil {
                    throw EngineError(.pruning, .invalidSetting, target: plans[ti].name, key: keyName,
                                       "a member of group \(gid) needs sparse_ratio or sparse_threshold")
                }
                if ratios[gid] == nil { order.append(gid); ratios[gid] = (nil, plans[ti].name) }
                if let r = t.settings.sparseRatio, let entry = ratios[gid] {
                    if let prev = entry.0, prev != r {
                        throw EngineError(.pruning, .groupMismatch, target: plans[ti].name, key: "sparse_ratio",
                                           "sparse_ratio \(pythonFloat(r)) differs from \(pythonFloat(prev)) of \(entry.1) in \(dependency ? "dependency" : "global") group \(gid)")
                    }
                    ratios[gid] = (r, plans[ti].name)
                }
            }
            for gid in order where ratios[gid]?.0 == nil {
                throw EngineError(.pruning, .invalidSetting, target: ratios[gid]?.1 ?? "", key: "sparse_ratio",
                                   "\(dependency ? "dependency" : "global") group \(gid) has no sparse_ratio")
            }
        }
    }

    /// Dependency members have the same prunable positions.
    static func checkDependencyShapes(_ targets: [PruningTarget], _ plans: [PruningTargetPlan]) throws(EngineError) {
        var firstShape: [PruningGroupID: (Int, [Int])] = [:]
        for (ti, t) in targets.enumerated() where plans[ti].inDependency {
            guard let gid = t.settings.dependencyGroupID else { continue }
            let sq = plans[ti].layout.squeezedShape
            if let (fi, shape) = firstShape[gid] {
                if shape != sq {
                    throw EngineError(.pruning, .groupMismatch, target: plans[ti].name, key: "dependency_group_id",
                                       "metric shape \(sq) differs from \(shape) of \(plans[fi].name) in dependency group \(gid)")
                }
            } else {
                firstShape[gid] = (ti, sq)
            }
        }
    }

    /// Each aligned target's source (in the list, with a mask of its own) and the source dims kept.
    static func resolveAlignSources(_ targets: [PruningTarget], _ plans: inout [PruningTargetPlan], index: [String: Int]) throws(EngineError) {
        for (ti, t) in targets.enumerated() where plans[ti].usesAlign {
            guard let a = t.settings.align else { continue }
            let module = a.moduleName ?? t.moduleName
            guard let si = index[module + "\u{0}" + a.targetName] else {
                let src = module.isEmpty ? a.targetName : module + "." + a.targetName
                throw EngineError(.pruning, .missingAlignSource, target: plans[ti].name, key: "align",
                                   "align source \(src) is not in the target list")
            }
            let sp = plans[si]
            if !(sp.inDependency || sp.inGlobal || sp.usesRatio || sp.usesGroups || targets[si].settings.sparseThreshold != nil) {
                throw EngineError(.pruning, .missingAlignSource, target: plans[ti].name, key: "align",
                                   "align source \(sp.name) has no mask of its own (it needs sparse_ratio or sparse_threshold)")
            }
            let rank = sp.layout.targetShape.count
            var dims: [Int] = []
            for d in a.dims {
                let nd = d < 0 ? d + rank : d
                guard nd >= 0, nd < rank else {
                    throw EngineError(.pruning, .invalidSetting, target: plans[ti].name, key: "align.dims",
                                       "dim \(d) is out of range for \(sp.name) of shape \(sp.layout.targetShape)")
                }
                if !dims.contains(nd) { dims.append(nd) }
            }
            dims.sort()
            let reduced = dims.map { sp.layout.targetShape[$0] }
            let want = plans[ti].layout.squeezedShape
            guard reduced == want else {
                throw EngineError(.pruning, .shapeMismatch, target: plans[ti].name, key: "align",
                                   "mask of \(sp.name) reduced to dims \(dims) has shape \(reduced), but this target needs \(want)")
            }
            plans[ti].alignSource = si
            plans[ti].alignDims = dims
        }
    }

    /// A dependency group's parts (lcm of its members' internal_metric_block) divide its metric.
    static func checkDependencyParts(_ targets: [PruningTarget], _ plans: [PruningTargetPlan]) throws(EngineError) {
        var blocksByGroup: [PruningGroupID: (Int, Int)] = [:]
        for (ti, t) in targets.enumerated() where plans[ti].inDependency {
            guard let gid = t.settings.dependencyGroupID else { continue }
            let b = t.settings.internalMetricBlock ?? 1
            let prev = blocksByGroup[gid]?.0 ?? 1
            blocksByGroup[gid] = (pruningLCM(prev, b), ti)
        }
        for (gid, (parts, ti)) in blocksByGroup {
            let n = plans[ti].layout.blockCount
            if parts <= 0 || n % parts != 0 {
                throw EngineError(.pruning, .invalidSetting, target: plans[ti].name, key: "internal_metric_block",
                                   "dependency group \(gid) splits its metric of \(n) values into \(parts) parts, which does not divide it")
            }
        }
    }
}

func pruningGCD(_ a: Int, _ b: Int) -> Int { var a = abs(a), b = abs(b); while b != 0 { (a, b) = (b, a % b) }; return a }
func pruningLCM(_ a: Int, _ b: Int) -> Int {
    if a == 0 || b == 0 { return 0 }
    let g = pruningGCD(a, b)
    let (p, o) = (a / g).multipliedReportingOverflow(by: b)
    return o ? 0 : abs(p)
}

/// The pruning ratio after the per-target bounds: min(max, max(min, ratio)). Unset max is 1,
/// unset min is 0 (a max of 0 is a bound of 0, as the documents say).
@inline(__always)
func boundedRatio(_ r: Double, _ s: PruningSettings) -> Double {
    min(s.maxSparseRatio ?? 1, max(s.minSparseRatio ?? 0, r))
}

/// Python's `int(n * ratio)` for 0 <= ratio <= 1, in float64.
@inline(__always)
func pruneCount(_ n: Int, _ ratio: Double) -> Int {
    let p = Double(n) * ratio
    if !(p > 0) { return 0 }
    return min(n, Int(p))
}
