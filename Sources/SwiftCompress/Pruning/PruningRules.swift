// Phase 2 and 3 of `Pruning.generateMasks`: metrics, then the rules on per-block masks
// (one byte per metric block, 1 keep / 0 prune; rules only clear bytes, so masks multiply).

/// Per-target block masks, written by disjoint targets from parallel iterations.
final class BlockMasks: @unchecked Sendable {
    var masks: [UnsafeMutableBufferPointer<UInt8>]
    /// Whether a rule (threshold, dependency, global, ratio) produced this target's mask.
    var generated: [Bool]
    init(counts: [Int]) {
        masks = counts.map { n in
            let b = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(n, 1))
            b.initialize(repeating: 1)
            return b
        }
        generated = [Bool](repeating: false, count: counts.count)
    }
    deinit { for m in masks { m.deallocate() } }
}

extension Pruning {
    static func computeBlockMasks(_ targets: [PruningTarget], plans: [PruningTargetPlan],
                                  metric kind: PruningMetricKind) -> BlockMasks {
        let masks = BlockMasks(counts: plans.map { $0.layout.blockCount })
        // Phase 2: metrics (dense ones computed now, in parallel over targets).
        let metrics = SharedSlots<Metric?>(repeating: nil, count: plans.count)
        parallelFor(plans.count) { ti in
            guard var m = plans[ti].metric else { return }
            if case .dense(let a) = m.values, a.isEmpty, m.count > 0 {
                let t = targets[ti].tensor
                switch kind {
                case .level, .l1Norm: m.values = .dense(normMetric(t, layout: plans[ti].layout, p: 1))
                case .l2Norm: m.values = .dense(normMetric(t, layout: plans[ti].layout, p: 2))
                case .fpgm: m.values = .dense(fpgmMetric(t, layout: plans[ti].layout))
                case .supplied: break
                }
            }
            metrics[ti] = m
        }
        // Threshold.
        parallelFor(plans.count) { ti in
            guard let thr = targets[ti].settings.sparseThreshold, let m = metrics[ti] else { return }
            thresholdRule(m, threshold: thr, settings: targets[ti].settings, mask: masks.masks[ti])
        }
        for ti in plans.indices where targets[ti].settings.sparseThreshold != nil && metrics[ti] != nil {
            masks.generated[ti] = true
        }
        // Dependency groups, in order of first member.
        var depOrder: [PruningGroupID] = []
        var depMembers: [PruningGroupID: [Int]] = [:]
        var globalOrder: [PruningGroupID] = []
        var globalMembers: [PruningGroupID: [Int]] = [:]
        for ti in plans.indices {
            if plans[ti].inDependency, let g = targets[ti].settings.dependencyGroupID {
                if depMembers[g] == nil { depOrder.append(g) }
                depMembers[g, default: []].append(ti)
            } else if plans[ti].inGlobal, let g = targets[ti].settings.globalGroupID {
                if globalMembers[g] == nil { globalOrder.append(g) }
                globalMembers[g, default: []].append(ti)
            }
        }
        for g in depOrder {
            guard let members = depMembers[g] else { continue }
            dependencyRule(members.compactMap { ti in metrics[ti].map { (ti, $0) } }, targets: targets, masks: masks)
        }
        for g in globalOrder {
            guard let members = globalMembers[g] else { continue }
            globalRule(members.compactMap { ti in metrics[ti].map { (ti, $0) } }, targets: targets, plans: plans, masks: masks)
        }
        // Ratio.
        parallelFor(plans.count) { ti in
            guard plans[ti].usesRatio, let m = metrics[ti], let r = targets[ti].settings.sparseRatio else { return }
            let ratio = boundedRatio(r, targets[ti].settings)
            let k = pruneCount(m.count, ratio)
            let cut = selectCuts([SelectionSource(metric: m, weight: 1, lo: 0, hi: m.count)], budget: k)[0]
            applyCut(cut, metric: m, mask: masks.masks[ti])
        }
        for ti in plans.indices where plans[ti].usesRatio && metrics[ti] != nil { masks.generated[ti] = true }
        // Align (sources were checked in planning to have generated masks).
        // Every align mask is derived from the masks before align (as NNI does), then multiplied in.
        var aligned: [(Int, [UInt8])] = []
        for ti in plans.indices where plans[ti].usesAlign {
            guard let si = plans[ti].alignSource else { continue }
            var derived = [UInt8](repeating: 1, count: plans[ti].layout.blockCount)
            derived.withUnsafeMutableBufferPointer { d in
                alignRule(source: plans[si].layout, sourceMask: masks.masks[si], dims: plans[ti].alignDims, mask: d)
            }
            aligned.append((ti, derived))
        }
        for (ti, derived) in aligned {
            let m = masks.masks[ti]
            for i in 0..<min(m.count, derived.count) where derived[i] == 0 { m[i] = 0 }
            masks.generated[ti] = true
        }
        return masks
    }

    /// Prunes where metric < threshold; when the resulting sparsity is outside
    /// [min_sparse_ratio, max_sparse_ratio], prunes at the violated bound by ratio instead.
    static func thresholdRule(_ m: Metric, threshold: Double, settings: PruningSettings,
                              mask: UnsafeMutableBufferPointer<UInt8>) {
        let n = m.count
        if n == 0 { return }
        // Comparisons in the metric's precision, as NNI compares float32 metrics with float32(threshold).
        var below = 0
        let single = m.singlePrecision
        let tf = Float(threshold)
        m.forEachValue(0..<n) { _, x in
            if single ? Float(x) < tf : x < threshold { below += 1 }
        }
        // NNI computes the sparsity in float32: 1 - kept / numel.
        let sparsity = Float(1) - Float(n - below) / Float(n)
        var fallback: Double? = nil
        if let lo = settings.minSparseRatio, sparsity < Float(lo) { fallback = lo }
        if let hi = settings.maxSparseRatio, sparsity > Float(hi) { fallback = hi }
        if let r = fallback {
            let cut = selectCuts([SelectionSource(metric: m, weight: 1, lo: 0, hi: n)], budget: pruneCount(n, r))[0]
            applyCut(cut, metric: m, mask: mask)
            return
        }
        m.forEachValue(0..<n) { i, x in
            if single ? Float(x) < tf : x < threshold { mask[i] = 0 }
        }
    }

    /// One shared mask from the mean metric, split into lcm(internal_metric_block) parts, each
    /// pruned at the group's sparse_ratio (bounds are not applied, as in NNI).
    static func dependencyRule(_ members: [(Int, Metric)], targets: [PruningTarget], masks: BlockMasks) {
        guard let first = members.first else { return }
        let n = first.1.count
        var ratio = 0.0
        var parts = 1
        var fused = [Double](repeating: 0, count: n)
        for (ti, m) in members {
            if let r = targets[ti].settings.sparseRatio { ratio = r }
            parts = pruningLCM(parts, targets[ti].settings.internalMetricBlock ?? 1)
            m.forEachValue(0..<n) { i, x in fused[i] += x }
        }
        let c = Double(members.count)
        for i in 0..<n { fused[i] /= c }
        if parts <= 0 || n % parts != 0 { return }  // rejected in planning
        var shared = [UInt8](repeating: 1, count: n)
        let per = n / parts
        let k = pruneCount(per, ratio)
        shared.withUnsafeMutableBufferPointer { sm in
            for p in 0..<parts {
                let slice = Array(fused[(p * per)..<((p + 1) * per)])
                let metric = Metric(values: .dense(slice), count: per, singlePrecision: false)
                let cut = selectCuts([SelectionSource(metric: metric, weight: 1, lo: 0, hi: per)], budget: k)[0]
                if let base = sm.baseAddress {
                    applyCut(cut, metric: metric, mask: UnsafeMutableBufferPointer(start: base + p * per, count: per))
                }
            }
        }
        for (ti, _) in members {
            let mask = masks.masks[ti]
            for i in 0..<min(n, mask.count) where shared[i] == 0 { mask[i] = 0 }
            masks.generated[ti] = true
        }
    }

    /// Ranks the blocks of all members together: prunes int(total elements * sparse_ratio)
    /// elements where each member's own [min, max] bounds allow, smallest metric first.
    static func globalRule(_ members: [(Int, Metric)], targets: [PruningTarget], plans: [PruningTargetPlan], masks: BlockMasks) {
        var ratio = 0.0
        var total = 0
        var sources: [SelectionSource] = []
        for (ti, m) in members {
            let s = targets[ti].settings
            if let r = s.sparseRatio { ratio = r }
            let nb = m.count
            total += plans[ti].layout.elementCount
            let hi = s.maxSparseRatio.map { pruneCount(nb, $0) } ?? nb
            let lo = min(pruneCount(nb, s.minSparseRatio ?? 0), hi)
            sources.append(SelectionSource(metric: m, weight: plans[ti].layout.blockSize, lo: lo, hi: hi))
        }
        let budget = pruneCount(total, ratio)
        let cuts = selectCuts(sources, budget: budget)
        parallelFor(members.count) { j in
            applyCut(cuts[j], metric: members[j].1, mask: masks.masks[members[j].0])
        }
        for (ti, _) in members { masks.generated[ti] = true }
    }

    /// The source mask reduced to `dims` by "any kept", ANDed into `mask` (checked in planning to
    /// have the reduced shape).
    static func alignRule(source: BlockLayout, sourceMask: UnsafeMutableBufferPointer<UInt8>, dims: [Int],
                          mask: UnsafeMutableBufferPointer<UInt8>) {
        let rank = source.targetShape.count
        // Reduce the block mask over the other dims, in block space.
        let keptBlockShape = dims.map { source.metricShape[$0] }
        let keptCount = keptBlockShape.reduce(1, *)
        var reduced = [UInt8](repeating: 0, count: max(keptCount, 0))
        var coord = [Int](repeating: 0, count: rank)
        for b in 0..<source.blockCount {
            var rem = b
            for d in stride(from: rank - 1, through: 0, by: -1) {
                let s = source.metricShape[d]
                coord[d] = s == 0 ? 0 : rem % s
                rem = s == 0 ? 0 : rem / s
            }
            var r = 0
            for (j, d) in dims.enumerated() { r = r * keptBlockShape[j] + coord[d] }
            if r < reduced.count && b < sourceMask.count && sourceMask[b] != 0 { reduced[r] = 1 }
        }
        // Expand to element positions along the kept dims.
        let outShape = dims.map { source.targetShape[$0] }
        let outCount = outShape.reduce(1, *)
        var oc = [Int](repeating: 0, count: dims.count)
        for i in 0..<min(outCount, mask.count) {
            var rem = i
            for j in stride(from: dims.count - 1, through: 0, by: -1) {
                oc[j] = rem % outShape[j]
                rem /= outShape[j]
            }
            var r = 0
            for (j, d) in dims.enumerated() {
                let bc = source.kernel[d] == -1 ? 0 : oc[j] / max(source.steps[d], 1)
                r = r * keptBlockShape[j] + bc
            }
            if r < reduced.count && reduced[r] == 0 { mask[i] = 0 }
        }
    }

    /// Phase 4: expand block masks into the callers' mask buffers (1 keep, 0 prune).
    static func writeMasks(_ targets: [PruningTarget], plans: [PruningTargetPlan], blockMasks: BlockMasks) {
        struct Task { var target: Int; var range: Range<Int> }
        var tasks: [Task] = []
        for (ti, t) in targets.enumerated() {
            let n = t.mask.count
            let parts = max(1, min(workerParts, n / 65536))
            let step = (n + parts - 1) / parts
            var lo = 0
            while lo < n { tasks.append(Task(target: ti, range: lo..<min(n, lo + step))); lo += step }
        }
        parallelFor(tasks.count) { k in
            let task = tasks[k]
            let t = targets[task.target]
            let bm = blockMasks.masks[task.target]
            let layout = plans[task.target].layout
            if !blockMasks.generated[task.target] {
                t.mask.store(task.range) { _ in 1 }
                return
            }
            if t.mask.dtype == .float32, t.mask.layout.isContiguous, let p = t.mask.pointer {
                let fp = p.assumingMemoryBound(to: Float.self)
                if layout.isFineGrained {
                    for i in task.range { fp[i] = bm[i] == 0 ? 0 : 1 }
                } else if layout.blocksAreRuns {
                    let bs = layout.blockSize
                    for i in task.range { fp[i] = bm[i / bs] == 0 ? 0 : 1 }
                } else {
                    for i in task.range { fp[i] = bm[layout.blockIndex(ofLogical: i)] == 0 ? 0 : 1 }
                }
                return
            }
            t.mask.store(task.range) { i in bm[layout.blockIndex(ofLogical: i)] == 0 ? 0 : 1 }
        }
    }
}
