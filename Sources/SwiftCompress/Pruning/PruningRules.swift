// Phase 2 and 3 of `Pruning.generateMasks`: metrics, then the rules on per-block masks
// (one byte per metric block, 1 keep / 0 prune; rules only clear bytes, so masks multiply).

/// Per-target block masks, written by disjoint targets from parallel iterations.
final class BlockMasks: @unchecked Sendable {
    /// One byte per block (1 keep, 0 prune); empty for targets without one (direct or untouched).
    var masks: [UnsafeMutableBufferPointer<UInt8>]
    /// Whether a rule (threshold, dependency, global, ratio, align) produced this target's mask.
    var generated: [Bool]
    /// Fine-grained targets whose whole mask is one cut of their metric (a ratio or a global group,
    /// nothing else): they get no byte mask; the rule writes the caller's mask straight from the cut
    /// as soon as it is known (while the keys are still in cache). A target aligned to one reads the
    /// caller's mask.
    let isDirect: [Bool]
    /// Targets whose mask has been written already.
    let written: SharedSlots<Bool>

    init(counts: [Int], byteMask: [Bool], isDirect: [Bool]) {
        masks = counts.indices.map { i in
            guard byteMask[i], counts[i] > 0 else { return UnsafeMutableBufferPointer<UInt8>(start: nil, count: 0) }
            let b = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: counts[i])
            b.initialize(repeating: 1)
            return b
        }
        generated = [Bool](repeating: false, count: counts.count)
        written = SharedSlots(repeating: false, count: counts.count)
        self.isDirect = isDirect
    }
    deinit { for m in masks { m.deallocate() } }

    /// Records the cut of a ratio or global rule: written into the caller's mask for a direct
    /// target, applied to the byte mask otherwise.
    func record(_ cut: SourceCut, metric: Metric, target ti: Int, mask: MutableTensorView) {
        guard isDirect[ti] else {
            applyCut(cut, metric: metric, mask: masks[ti])
            return
        }
        let chunks = metricChunks(min(metric.count, mask.count))
        parallelFor(chunks.count, parallel: chunks.count > 1) { c in
            Pruning.writeCut(cut, metric: metric, chunk: c, range: chunks[c], mask: mask)
        }
        written[ti] = true
    }
}

extension Pruning {
    /// Each plan's metric, the dense ones (level / L1 / L2 / FPGM over the target's own tensor)
    /// computed now, in parallel over targets; nil where a plan has no metric. `partial[ti]`: the
    /// sums of L2 without the square root (a shard's partial sums, DistributedPruning.swift).
    static func computeMetrics(_ targets: [PruningTarget], plans: [PruningTargetPlan],
                               metric kind: PruningMetricKind, partial: [Bool] = []) -> SharedSlots<Metric?> {
        let metrics = SharedSlots<Metric?>(repeating: nil, count: plans.count)
        parallelFor(plans.count) { ti in
            guard var m = plans[ti].metric else { return }
            if case .dense(let a) = m.values, a.isEmpty, m.count > 0 {
                let t = targets[ti].tensor
                switch kind {
                case .level, .l1Norm: m.values = .dense(normMetric(t, layout: plans[ti].layout, p: 1))
                case .l2Norm: m.values = .dense(normMetric(t, layout: plans[ti].layout, p: 2, root: ti >= partial.count || !partial[ti]))
                case .fpgm: m.values = .dense(fpgmMetric(t, layout: plans[ti].layout))
                case .supplied, .wanda: break
                }
            }
            metrics[ti] = m
        }
        return metrics
    }

    /// The members (target indices, in order) of each dependency group and each global group,
    /// groups in order of their first member; a target in a dependency group is in no global group.
    static func groupMembers(_ targets: [PruningTarget], plans: [PruningTargetPlan]) -> (dependency: [[Int]], global: [[Int]]) {
        var depOrder: [PruningGroupID] = [], depMembers: [PruningGroupID: [Int]] = [:]
        var globalOrder: [PruningGroupID] = [], globalMembers: [PruningGroupID: [Int]] = [:]
        for ti in plans.indices {
            if plans[ti].inDependency, let g = targets[ti].settings.dependencyGroupID {
                if depMembers[g] == nil { depOrder.append(g) }
                depMembers[g, default: []].append(ti)
            } else if plans[ti].inGlobal, let g = targets[ti].settings.globalGroupID {
                if globalMembers[g] == nil { globalOrder.append(g) }
                globalMembers[g, default: []].append(ti)
            }
        }
        return (depOrder.map { depMembers[$0] ?? [] }, globalOrder.map { globalMembers[$0] ?? [] })
    }

    static func computeBlockMasks(_ targets: [PruningTarget], plans: [PruningTargetPlan],
                                  metric kind: PruningMetricKind) -> BlockMasks {
        // Which targets need a byte mask, and which are written straight from one cut.
        let isDirect = plans.indices.map { ti in
            let p = plans[ti]
            return p.layout.isFineGrained && p.metric != nil && (p.usesRatio || p.inGlobal || directGroups(p))
                && targets[ti].settings.sparseThreshold == nil
        }
        let byteMask = plans.indices.map { ti in
            let p = plans[ti]
            return !isDirect[ti] && (p.inDependency || p.inGlobal || p.usesRatio || p.usesAlign || p.usesGroups
                                     || targets[ti].settings.sparseThreshold != nil)
        }
        let masks = BlockMasks(counts: plans.map { $0.layout.blockCount }, byteMask: byteMask, isDirect: isDirect)
        // Phase 2: metrics (dense ones computed now, in parallel over targets).
        let metrics = computeMetrics(targets, plans: plans, metric: kind)
        // Threshold.
        parallelFor(plans.count) { ti in
            guard let thr = targets[ti].settings.sparseThreshold, let m = metrics[ti] else { return }
            thresholdRule(m, threshold: thr, settings: targets[ti].settings, mask: masks.masks[ti])
        }
        for ti in plans.indices where targets[ti].settings.sparseThreshold != nil && metrics[ti] != nil {
            masks.generated[ti] = true
        }
        // Dependency groups, in order of first member.
        let (dependencyGroups, globalGroups) = groupMembers(targets, plans: plans)
        for members in dependencyGroups {
            dependencyRule(members.compactMap { ti in metrics[ti].map { (ti, $0) } }, targets: targets, masks: masks)
        }
        for members in globalGroups {
            globalRule(members.compactMap { ti in metrics[ti].map { (ti, $0) } }, targets: targets, plans: plans, masks: masks)
        }
        // Ratio, the largest targets first (the small ones then fill the workers' tails).
        let ratioOrder = plans.indices.filter { plans[$0].usesRatio }.sorted {
            (plans[$0].layout.blockCount, $1) > (plans[$1].layout.blockCount, $0)
        }
        parallelFor(ratioOrder.count) { oi in
            let ti = ratioOrder[oi]
            guard let m = metrics[ti], let r = targets[ti].settings.sparseRatio else { return }
            let ratio = boundedRatio(r, targets[ti].settings)
            let k = pruneCount(m.count, ratio)
            if masks.isDirect[ti] && directCutAndWrite([m], masks: [targets[ti].mask], count: k) {
                masks.written[ti] = true
                return
            }
            let cut = selectCuts([SelectionSource(metric: m, weight: 1, lo: 0, hi: m.count)], budget: k)[0]
            masks.record(cut, metric: m, target: ti, mask: targets[ti].mask)
        }
        for ti in plans.indices where plans[ti].usesRatio && metrics[ti] != nil { masks.generated[ti] = true }
        // Groups: N:M, or Wanda's per-row ratio.
        for ti in plans.indices where plans[ti].usesGroups {
            guard let m = metrics[ti] else { continue }
            if masks.isDirect[ti] {
                groupRuleDirect(m, size: plans[ti].groupSize, prune: plans[ti].groupPrune, mask: targets[ti].mask)
                masks.written[ti] = true
            } else {
                groupRule(m, size: plans[ti].groupSize, prune: plans[ti].groupPrune, mask: masks.masks[ti])
            }
            masks.generated[ti] = true
        }
        // Align (sources were checked in planning to have generated masks).
        // Every align mask is derived from the masks before align (as NNI does), then multiplied in.
        var aligned: [(Int, [UInt8])] = []
        for ti in plans.indices where plans[ti].usesAlign {
            guard let si = plans[ti].alignSource else { continue }
            var derived = [UInt8](repeating: 1, count: plans[ti].layout.blockCount)
            let source = plans[si].layout
            // A direct (fine-grained) source has written the caller's mask: blocks are its elements.
            let kept: AlignSourceMask = masks.isDirect[si] ? .written(targets[si].mask.readOnly) : .bytes(masks.masks[si])
            derived.withUnsafeMutableBufferPointer { d in
                alignRule(source: source, kept: kept, dims: plans[ti].alignDims, mask: d)
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
        // Fine-grained members without bounds: the one-pass form when it can decide.
        if members.allSatisfy({ masks.isDirect[$0.0] }),
           sources.allSatisfy({ $0.weight == 1 && $0.lo <= 0 && $0.hi >= $0.metric.count }),
           directCutAndWrite(members.map(\.1), masks: members.map { targets[$0.0].mask }, count: budget) {
            for (ti, _) in members {
                masks.written[ti] = true
                masks.generated[ti] = true
            }
            return
        }
        let cuts = selectCuts(sources, budget: budget)
        parallelFor(members.count) { j in
            masks.record(cuts[j], metric: members[j].1, target: members[j].0, mask: targets[members[j].0].mask)
        }
        for (ti, _) in members { masks.generated[ti] = true }
    }

    /// The source mask reduced to `dims` by "any kept", ANDed into `mask` (checked in planning to
    /// have the reduced shape). The blocks are walked row by row (a row: the last dim's blocks); when
    /// the last dim is reduced away a row only needs its first kept block, so the scan of a row stops
    /// there (a Linear bias aligned to a pruned weight reads a few values per row).
    static func alignRule(source: BlockLayout, kept: AlignSourceMask, dims: [Int],
                          mask: UnsafeMutableBufferPointer<UInt8>) {
        let rank = source.targetShape.count
        let keptBlockShape = dims.map { source.metricShape[$0] }
        let keptCount = keptBlockShape.reduce(1, *)
        var reduced = [UInt8](repeating: 0, count: max(keptCount, 0))
        // Reduced index = sum of block coordinate x reducedStride (0 on the reduced-away dims).
        var reducedStride = [Int](repeating: 0, count: rank)
        var acc = 1
        for j in stride(from: dims.count - 1, through: 0, by: -1) where dims[j] < rank {
            reducedStride[dims[j]] = acc
            acc *= keptBlockShape[j]
        }
        let metricShape = source.metricShape
        let rowLength = rank == 0 ? 1 : metricShape[rank - 1]
        let rowStride = rank == 0 ? 0 : reducedStride[rank - 1]
        let blockCount = min(source.blockCount, kept.count)
        if rowLength > 0 && blockCount > 0 {
            var coord = [Int](repeating: 0, count: max(rank - 1, 0))  // the row's coordinates
            var rowBase = 0  // reduced index of the row's first block
            reduced.withUnsafeMutableBufferPointer { red in
                var start = 0
                while start < blockCount {
                    let n = min(rowLength, blockCount - start)
                    if rowStride == 0 {
                        if rowBase >= 0 && rowBase < red.count && red[rowBase] == 0 && kept.anyKept(start, n) {
                            red[rowBase] = 1
                        }
                    } else {
                        kept.forEachKept(start, n) { j in
                            let r = rowBase + j * rowStride
                            if r >= 0 && r < red.count { red[r] = 1 }
                        }
                    }
                    start += n
                    // Next row: an odometer over the leading dims.
                    advanceOdometer(&coord, sizes: metricShape, steps: reducedStride, lastDim: rank - 2, offset: &rowBase)
                }
            }
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

    /// Phase 4: expand block masks into the callers' mask buffers (1 keep, 0 prune). Direct targets
    /// were written by their rule already.
    static func writeMasks(_ targets: [PruningTarget], plans: [PruningTargetPlan], blockMasks: BlockMasks) {
        struct Task { var target: Int; var range: Range<Int> }
        var tasks: [Task] = []
        for (ti, t) in targets.enumerated() where !blockMasks.written[ti] {
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
            if !blockMasks.generated[task.target] || bm.count < layout.blockCount {
                t.mask.store(task.range) { _ in 1 }
                return
            }
            if t.mask.dtype == .float32, t.mask.layout.isContiguous, let p = t.mask.pointer {
                let fp = p.assumingMemoryBound(to: Float.self)
                if layout.isFineGrained {
                    for i in task.range { fp[i] = bm[i] == 0 ? 0 : 1 }
                } else if layout.blocksAreRuns {
                    // Block by block: one value per run of `bs` elements.
                    let bs = layout.blockSize
                    var i = task.range.lowerBound
                    while i < task.range.upperBound {
                        let b = i / bs
                        let end = min(task.range.upperBound, (b + 1) * bs)
                        let v: Float = bm[b] == 0 ? 0 : 1
                        for j in i..<end { fp[j] = v }
                        i = end
                    }
                } else {
                    for i in task.range { fp[i] = bm[layout.blockIndex(ofLogical: i)] == 0 ? 0 : 1 }
                }
                return
            }
            t.mask.store(task.range) { i in bm[layout.blockIndex(ofLogical: i)] == 0 ? 0 : 1 }
        }
    }

    /// Writes chunk `chunk` (`range`) of a fine-grained target's mask from its cut: 0 where the cut
    /// prunes, 1 elsewhere. One pass: keys are compared with the cut key as they are read (plus a
    /// pass over this chunk's keys when it prunes some but not all of its ties).
    static func writeCut(_ cut: SourceCut, metric: Metric, chunk: Int, range: Range<Int>, mask: MutableTensorView) {
        if case .float32 = mask.dtype, mask.layout.isContiguous, let mp = mask.pointer {
            let out = mp.assumingMemoryBound(to: Float.self)
            switch cut {
            case .none:
                for i in range { out[i] = 1 }
                return
            case .all:
                for i in range { out[i] = 0 }
                return
            case .below(let key, false, let rule):
                // |x| of contiguous float32: compare the magnitude bits (keys are those bits with the
                // top bit set; NaN keys are not compared here).
                if case .magnitude(let v) = metric.values, v.dtype == .float32, v.layout.isContiguous,
                   let vp = v.pointer, v.count >= range.upperBound, key < 0xFFFF_FFFF, key >= 0x8000_0000 {
                    let bits = vp.assumingMemoryBound(to: UInt32.self)
                    let kb = UInt32(truncatingIfNeeded: key) & 0x7FFF_FFFF
                    let take = rule.taken(inChunk: chunk)
                    if take == allTies {
                        for i in range { out[i] = bits[i] & 0x7FFF_FFFF <= kb ? 0 : 1 }
                        return
                    }
                    for i in range { out[i] = bits[i] & 0x7FFF_FFFF < kb ? 0 : 1 }
                    var left = take
                    var i = range.lowerBound
                    while left > 0 && i < range.upperBound {
                        if bits[i] & 0x7FFF_FFFF == kb { out[i] = 0; left -= 1 }
                        i += 1
                    }
                    return
                }
            case .below: break
            }
            var ties = cut.tiesTaken(inChunk: chunk)
            cut.forEachDecision(metric: metric, range: range, ties: &ties) { i, pruned in out[i] = pruned ? 0 : 1 }
            return
        }
        // Other mask dtypes or strides: decisions for a run of indices, then stored through the view.
        let run = 4096
        var decided = [Double](repeating: 1, count: min(run, range.count))
        var ties = cut.tiesTaken(inChunk: chunk)
        var lo = range.lowerBound
        while lo < range.upperBound {
            let hi = min(range.upperBound, lo + run)
            decided.withUnsafeMutableBufferPointer { d in
                cut.forEachDecision(metric: metric, range: lo..<hi, ties: &ties) { i, pruned in d[i - lo] = pruned ? 0 : 1 }
            }
            let base = lo
            decided.withUnsafeBufferPointer { d in mask.store(base..<hi) { i in d[i - base] } }
            lo = hi
        }
    }
}

/// The mask an aligned target is derived from: a byte mask, or the caller's mask already written
/// by a direct source (1 keep, any value but 0).
enum AlignSourceMask {
    case bytes(UnsafeMutableBufferPointer<UInt8>)
    case written(TensorView)

    var count: Int {
        switch self {
        case .bytes(let b): return b.count
        case .written(let v): return v.count
        }
    }

    /// Whether any of the blocks start ..< start + n is kept (stops at the first).
    func anyKept(_ start: Int, _ n: Int) -> Bool {
        switch self {
        case .bytes(let b):
            for i in start..<(start + n) where b[i] != 0 { return true }
            return false
        case .written(let v):
            if v.dtype == .float32, v.layout.isContiguous, let p = v.pointer {
                let f = p.assumingMemoryBound(to: Float.self)
                for i in start..<(start + n) where f[i] != 0 { return true }
                return false
            }
            var found = false
            v.visitFloats(start..<(start + n)) { _, x in if x != 0 { found = true } }
            return found
        }
    }

    /// Calls `body(j)` for each kept block start + j, j in 0 ..< n, in order.
    func forEachKept(_ start: Int, _ n: Int, _ body: (Int) -> Void) {
        switch self {
        case .bytes(let b):
            for j in 0..<n where b[start + j] != 0 { body(j) }
        case .written(let v):
            v.visitFloats(start..<(start + n)) { i, x in if x != 0 { body(i - start) } }
        }
    }
}

/// The forms of a fine-grained cut that write the masks directly, in the order they are tried:
/// 16-bit level metrics the one-pass cut on 15-bit keys, else the histogram cut (HalfCut.swift);
/// 32-bit keys the fused one-pass cut (FusedCut.swift). False, having written something
/// unspecified, when none applies or decides: the caller then runs the radix form, which rewrites
/// every mask element.
private func directCutAndWrite(_ metrics: [Metric], masks: [MutableTensorView], count k: Int) -> Bool {
    fusedHalfCutAndWrite(metrics, masks: masks, count: k)
        || halfCutAndWrite(metrics, masks: masks, count: k)
        || fusedCutAndWrite(metrics, masks: masks, count: k)
}
