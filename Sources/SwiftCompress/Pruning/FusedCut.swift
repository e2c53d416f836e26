// The one-pass form of a ratio or equal-weight global cut on fine-grained targets with 32-bit keys
// (the level metric of float32/16 tensors, or a supplied float metric): the mask is written in the
// same pass that locates the cut, instead of two histogram passes and a write pass.
//
// 1. A sample of the keys (`FusedSample`: runs of 8 neighbours, one per stratum, read in parallel)
//    brackets the cut key: [lo, hi] holds the k-th smallest key unless the sample's rank is off by
//    more than `fusedMarginSigmas` standard deviations; e, the sample's estimate of the cut key,
//    lies in it.
// 2. One pass over every key writes the tentative mask = (key < e ? 0 : 1), counts the keys below
//    lo and collects the keys in [lo, hi] with their positions (a few percent of the keys; at most
//    `fusedCandidateLimit` in all, or one per 32 elements above 2^25 elements). Float32
//    magnitudes take `scanFloatRun` (ScanKernels.swift).
// 3. If the count below lo is < k <= count below lo + candidates, the k-th key K is selected among
//    the candidates (which are in index order) and the candidates whose tentative mask is wrong
//    (pruned: key < K, then the first ties of K) are rewritten. Otherwise (or when the candidates
//    overflow) nothing is decided and the caller runs the radix form, which rewrites every mask
//    element.
// The result is the same as `orderedCuts` + `writeCut`: the first k positions of the order
// (key, target, index).

import Synchronization

/// Most candidates one fused cut collects (8 bytes each) for up to 2^25 elements; above, one per 32
/// elements (keys in the bracket up to about 3 % of the elements, at most 1/16 of float32 masks'
/// bytes; a Llama layer's float32 weights put about 1.4 % in it).
let fusedCandidateLimit = 1 << 20

/// Smallest total for which the fused form is tried (the radix form is cheap below it).
let fusedMinimumTotal = 1 << 15

/// Counts candidates across workers, to stop at `fusedCandidateLimit`.
final class CandidateBudget: Sendable {
    let used = Atomic<Int>(0)
}

/// Writes into `masks[s]` (shaped like `metrics[s]`, one block per element) the cut that prunes the
/// first `k` positions of the order (key, s, index), in one pass. Returns false, having written
/// something unspecified into the masks, when it cannot decide; the caller then runs the radix form.
/// Returns false, writing nothing, unless every metric has 32-bit keys (`needsWideKeys` false). `candidateLimit` (tests lower it)
/// bounds the candidates kept (default: `fusedCandidateLimit` or one per 32 elements, the larger);
/// `tentativeKey` (tests) replaces the sample's estimate of the cut key for the tentative masks
/// (clamped to the bracket): the masks must not depend on it.
func fusedCutAndWrite(_ metrics: [Metric], masks: [MutableTensorView], count k: Int,
                      candidateLimit: Int? = nil, tentativeKey: UInt32? = nil) -> Bool {
    let total = metrics.reduce(0) { $0 + $1.count }
    let candidateLimit = candidateLimit ?? max(fusedCandidateLimit, total / 32)
    guard metrics.count == masks.count, total >= fusedMinimumTotal, total < Int(UInt32.max), k > 0, k < total,
          metrics.allSatisfy({ !$0.needsWideKeys }), zip(metrics, masks).allSatisfy({ $0.count == $1.count }) else { return false }
    var starts = [Int](repeating: 0, count: metrics.count)
    var acc = 0
    for (s, m) in metrics.enumerated() { starts[s] = acc; acc += m.count }
    var bracket = fusedBracket(metrics, starts: starts, total: total, count: k)
    if let t = tentativeKey { bracket.estKey = min(max(t, bracket.lowKey), bracket.lowKey &+ bracket.span) }
    guard let scan = fusedScan(metrics, masks: masks, starts: starts, bracket: bracket, total: total,
                               candidateLimit: candidateLimit) else { return false }
    guard scan.below < k, k <= scan.below + scan.candidates else {
        releaseFound(scan.found, scan.workers)
        return false
    }
    fusedWriteCut(metrics, masks: masks, starts: starts, total: total, count: k, scan: scan)
    return true
}

/// The key bracket of phase 1: keys in `lowKey ... lowKey &+ span` are the cut's candidates.
struct FusedBracket {
    var lowKey: UInt32
    var span: UInt32
    var margin: Int
    var sampleCount: Int
    /// The sample's estimate of the cut key (in the bracket): the scan's tentative masks prune the
    /// keys below it, and phase 3 rewrites only the candidates on the other side of the cut.
    var estKey: UInt32
}

/// Phase 1 of the fused cut: sample the keys and bracket the k-th smallest.
func fusedBracket(_ metrics: [Metric], starts: [Int], total: Int, count k: Int) -> FusedBracket {
    let plan = FusedSample(total: total, run: 8)
    let sampleCount = plan.count
    var sample = [UInt32](repeating: 0, count: sampleCount)
    let parts = plan.parts
    sample.withUnsafeMutableBufferPointer { out in
        guard let op = out.baseAddress else { return }
        // Parts of the sample in parallel (the reads are cache misses, latency-bound), each in
        // batches of positions on the stack.
        parallelFor(parts, parallel: parts > 1) { part in
            let clusters = plan.clusters(part: part)
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 64 * plan.run) { pos in
                guard let pp = pos.baseAddress else { return }
                var c = clusters.lowerBound
                var s = 0
                while c < clusters.upperBound {
                    let batchEnd = min(c + 64, clusters.upperBound)
                    var n = 0
                    for cc in c..<batchEnd {
                        for p in plan.positions(cluster: cc) { pp[n] = p; n += 1 }
                    }
                    var j = 0
                    let first = c * plan.run  // the batch's first index in the sample
                    while j < n {
                        while s + 1 < metrics.count && starts[s + 1] <= pp[j] { s += 1 }
                        let end = s + 1 < metrics.count ? starts[s + 1] : total
                        var e = j
                        while e < n && pp[e] < end { e += 1 }
                        metrics[s].keys32(at: UnsafeBufferPointer(start: pp + j, count: e - j), offset: starts[s], into: op + first + j)
                        j = e
                    }
                    c = batchEnd
                }
            }
        }
    }
    return fusedBracket(sample: &sample, total: total, count: k)
}

/// The sample of phase 1: `run` consecutive elements (32 bytes: one cache line's read gives `run`
/// keys, against one key per miss for scattered positions; measured on 44 M bfloat16 weights,
/// 65 536 scattered reads took 9.5 ms of a 40 ms cut), aligned to `run`, at a deterministic
/// pseudo-random place in each of `clusterCount` = clamp(total / 1024, 128, 16384) equal strata
/// (fewer where a stratum would hold fewer than 2 runs). No position list is stored.
struct FusedSample {
    let total: Int
    let run: Int
    let clusterCount: Int

    init(total: Int, run: Int) {
        self.total = max(total, 0)
        self.run = max(run, 1)
        clusterCount = max(1, min(max(total / 1024, 128), 16384, total / (2 * self.run)))
    }

    /// Elements in the sample: `run` per cluster (strata hold at least two runs).
    var count: Int { total >= 2 * run ? clusterCount * run : min(run, total) }

    /// Positions of cluster `c`, in increasing order (clusters follow each other).
    @inline(__always)
    func positions(cluster c: Int) -> Range<Int> {
        if total < 2 * run { return 0..<min(run, total) }
        let lo = c * total / clusterCount, hi = (c + 1) * total / clusterCount
        var z = UInt64(truncatingIfNeeded: c) &+ 0x9E37_79B9_7F4A_7C15  // splitmix64 of the index
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        let aligned = (lo + run - 1) / run * run
        let slots = aligned + run <= hi ? (hi - aligned) / run : 0
        guard slots > 0 else { return lo..<min(lo + run, hi) }
        let start = aligned + run * Int(truncatingIfNeeded: ((z >> 33) &* UInt64(slots)) >> 31)
        return start..<(start + run)
    }

    /// Parallel parts the reads are split into (1 for small samples).
    var parts: Int { count >= 8192 ? 2 : 1 }

    /// The clusters of part `p`.
    func clusters(part p: Int) -> Range<Int> {
        (p * clusterCount / parts)..<((p + 1) * clusterCount / parts)
    }
}

/// The bracket of the k-th smallest of `total` keys, from the keys of a `FusedSample`
/// (`sample` is reordered).
func fusedBracket(sample: inout [UInt32], total: Int, count k: Int) -> FusedBracket {
    let ranks = fusedBracketRanks(sampleCount: sample.count, total: total, count: k, designEffect: fusedSampleDesignEffect(run: 8))
    let lowKey: UInt32 = ranks.low.map { keyAtRank(&sample, $0).key } ?? 0
    let highKey: UInt32 = ranks.high.map { keyAtRank(&sample, $0).key } ?? UInt32.max
    let span = highKey &- lowKey  // candidates: key &- lowKey <= span (keys below lowKey wrap above it)
    let estimate = keyAtRank(&sample, ranks.estimate).key
    return FusedBracket(lowKey: lowKey, span: span, margin: ranks.margin, sampleCount: sample.count,
                        estKey: min(max(estimate, lowKey), highKey))
}

/// The sample ranks (0-based) whose keys bound the bracket of the k-th smallest of `total` keys,
/// `fusedMarginSigmas` standard deviations of the sample's rank on each side; nil where the
/// bracket is open (below the smallest key, above the largest); `estimate`, the rank of the cut
/// itself (the sample's estimate of the cut key). The sample's keys come in runs of
/// neighbours, which may be alike (a row's scale): the deviation is taken as that of
/// `sampleCount / designEffect` independent keys (`fusedSampleDesignEffect`).
func fusedBracketRanks(sampleCount: Int, total: Int, count k: Int, designEffect: Double)
    -> (low: Int?, high: Int?, margin: Int, estimate: Int) {
    let q = Double(k) / Double(total)
    let rank = Int(q * Double(sampleCount))
    let margin = Int(fusedMarginSigmas * (designEffect * Double(sampleCount) * q * (1 - q)).squareRoot()) + 4
    return (rank - margin < 0 ? nil : rank - margin, rank + margin >= sampleCount ? nil : rank + margin, margin, rank)
}

/// What phase 2 found: per worker its candidates (key << 32 | position, in index order), and the
/// counts of keys below the bracket and of candidates.
struct FusedScan {
    var found: SharedSlots<RawList<UInt64>?>
    var workers: Int
    var below: Int
    var candidates: Int
    /// The key below which the tentative masks prune (`FusedBracket.estKey`).
    var estKey: UInt32
}

/// Phase 2 of the fused cut: one pass writing the masks of keys below the bracket, counting them,
/// and collecting the candidates; nil when the candidate budget overflows.
func fusedScan(_ metrics: [Metric], masks: [MutableTensorView], starts: [Int], bracket: FusedBracket, total: Int,
               candidateLimit: Int) -> FusedScan? {
    let lowKey = bracket.lowKey, span = bracket.span, margin = bracket.margin, sampleCount = bracket.sampleCount
    // 2. One pass: tentative masks, count below, candidates. Workers take contiguous runs of chunks.
    let estKey = bracket.estKey, highKey = lowKey &+ span
    let mapNaN = highKey > 0xFF80_0000  // the key of +inf: NaN keys can be in the bracket only above it
    let plan = ChunkPlan(counts: metrics.map(\.count), elementsPerWorker: minimumChunk)
    let tasks = plan.tasks, bounds = plan.bounds, workers = plan.workers
    let budget = CandidateBudget()
    let found = SharedSlots<RawList<UInt64>?>(repeating: nil, count: workers)
    let belowCounts = SharedSlots<Int>(repeating: 0, count: workers)
    let expected = Int(Double(2 * margin + 1) / Double(sampleCount) * Double(total) * 1.5) + 1024
    parallelFor(workers, parallel: workers > 1) { w in
        var list = RawList<UInt64>(capacity: min(candidateLimit, expected / workers + 1024))
        var below = 0
        var overflow = false
        runs: for ti in bounds[w]..<bounds[w + 1] {
            let task = tasks[ti]
            let m = metrics[task.source], mask = masks[task.source]
            let base = UInt64(starts[task.source])
            var stop = false
            if case .magnitude(let v) = m.values, v.dtype == .float32, v.layout.isContiguous, let p = v.pointer,
               let out = directFloats(mask), v.count >= task.range.upperBound {
                let bits = p.assumingMemoryBound(to: UInt32.self)
                var lo = task.range.lowerBound
                while lo < task.range.upperBound && !stop {
                    let n = min(keyRun, task.range.upperBound - lo)
                    let before = list.count
                    below += scanFloatRun(bits + lo, out + lo, count: n, first: base + UInt64(lo), lowKey: lowKey,
                                          estKey: estKey, highKey: highKey, mapNaN: mapNaN, found: &list)
                    let hits = list.count - before
                    if hits > 0 && budget.used.add(hits, ordering: .relaxed).newValue > candidateLimit { stop = true }
                    lo += n
                }
            } else {
                m.forEachKeyRun32(task.range) { start, keys in
                    if stop { return }
                    let out = directFloats(mask).map { $0 + start }
                    if out == nil { writeBelow(keys, start: start, lowKey: estKey, mask: mask) }
                    let first = base + UInt64(start)
                    let before = list.count
                    let n = scanRun(keys, lowKey: lowKey, estKey: estKey, span: span, out: out) { j, x in
                        list.reserve(1)
                        list.append(reserved: UInt64(x) << 32 | (first + UInt64(j)))
                    }
                    below += n
                    let hits = list.count - before
                    if hits > 0 && budget.used.add(hits, ordering: .relaxed).newValue > candidateLimit { stop = true }
                }
            }
            if stop { overflow = true; break runs }
        }
        found[w] = list
        belowCounts[w] = overflow ? -1 : below
    }
    var below = 0
    var candidates = 0
    for w in 0..<workers {
        if belowCounts[w] < 0 { releaseFound(found, workers); return nil }
        below += belowCounts[w]
        candidates += found[w]?.count ?? 0
    }
    return FusedScan(found: found, workers: workers, below: below, candidates: candidates, estKey: estKey)
}

/// Frees the candidate lists of a scan.
func releaseFound(_ found: SharedSlots<RawList<UInt64>?>, _ workers: Int) {
    for w in 0..<workers {
        found[w]?.release()
        found[w] = nil
    }
}

/// Phase 3 of the fused cut: the (k - below)-th smallest candidate key, then the pruned candidates.
func fusedWriteCut(_ metrics: [Metric], masks: [MutableTensorView], starts: [Int], total: Int, count k: Int, scan: FusedScan) {
    let found = scan.found, workers = scan.workers, below = scan.below, candidates = scan.candidates
    let estKey = scan.estKey
    defer { releaseFound(found, workers) }
    // 3. The (k - below)-th smallest candidate key, then the pruned candidates: every key below it
    //    and its first `ties` equal keys in index order. Each worker's list is in index order and
    //    the lists follow each other, so the ties are dealt out to the workers in order and the
    //    workers rewrite, in parallel, the candidates whose tentative mask (key < estKey) is wrong:
    //    those between the estimate and the cut, and the cut key's ties (scattered stores).
    let lists = (0..<workers).map { found[$0]?.buffer ?? UnsafeBufferPointer(start: nil, count: 0) }
    let (cutKey, less) = keyAtRank(count: candidates, k - below - 1) { visit in
        for list in lists {
            for e in list { visit(UInt32(truncatingIfNeeded: e >> 32)) }
        }
    }
    var remaining = k - below - less
    var tieQuota = [Int](repeating: 0, count: workers)
    for w in 0..<workers where remaining > 0 {
        var equal = 0
        for e in lists[w] where UInt32(truncatingIfNeeded: e >> 32) == cutKey { equal += 1 }
        tieQuota[w] = min(equal, remaining)
        remaining -= tieQuota[w]
    }
    let quota = tieQuota
    parallelFor(workers, parallel: workers > 1) { w in
        let list = lists[w]
        var ties = quota[w]
        var source = 0
        var end = metrics.count > 1 ? starts[1] : total
        var out = directFloats(masks[0]), out16 = directHalfWords(masks[0])
        var one16: UInt16 = masks[0].dtype == .bfloat16 ? 0x3F80 : 0x3C00
        for e in list {
            if estKey == cutKey && ties == 0 { break }  // only the cut key's ties change, and none are left
            let x = UInt32(truncatingIfNeeded: e >> 32)
            var pruned = x < cutKey
            if x == cutKey && ties > 0 {
                ties -= 1
                pruned = true
            }
            if pruned == (x < estKey) { continue }  // the tentative mask holds it already
            let pos = Int(truncatingIfNeeded: e & 0xFFFF_FFFF)
            if pos >= end {
                while source + 1 < metrics.count && starts[source + 1] <= pos { source += 1 }
                end = source + 1 < metrics.count ? starts[source + 1] : total
                out = directFloats(masks[source])
                out16 = directHalfWords(masks[source])
                one16 = masks[source].dtype == .bfloat16 ? 0x3F80 : 0x3C00
            }
            let i = pos - starts[source]
            guard i >= 0, i < masks[source].count else { continue }
            if let out { out[i] = pruned ? 0 : 1 } else if let out16 { out16[i] = pruned ? 0 : one16 } else {
                storeMask(masks[source], at: i, pruned: pruned)
            }
        }
    }
}

/// Sigmas of the sample's rank error that the bracket [lo, hi] allows on each side. A cut outside
/// it (probability about 5e-4) falls back to the radix form.
let fusedMarginSigmas = 3.5

/// How many times the variance of independent keys `fusedBracketRanks` allows for a sample of runs
/// of `run` neighbouring keys: 2 for runs of up to 8, else 3. Measured by
/// bindings/python/benchmarks/sample_design_effect.py on all-MiniLM-L6-v2's large weights: 1.04
/// for runs of 8 and 1.16 for runs of 16 over all of them; per weight at most 1.46 (runs of 8) and
/// 2.29 (runs of 16), both for attention output projections.
func fusedSampleDesignEffect(run: Int) -> Double {
    run <= 8 ? 2 : 3
}

/// The mask's memory as Floats when it is contiguous float32.
@inline(__always)
private func directFloats(_ mask: MutableTensorView) -> UnsafeMutablePointer<Float>? {
    guard mask.dtype == .float32, mask.layout.isContiguous, let p = mask.pointer else { return nil }
    return p.assumingMemoryBound(to: Float.self)
}

/// The mask's memory as 16-bit words when it is contiguous bfloat16 or float16 (a 0 word is 0.0).
@inline(__always)
private func directHalfWords(_ mask: MutableTensorView) -> UnsafeMutablePointer<UInt16>? {
    guard mask.dtype == .bfloat16 || mask.dtype == .float16, mask.layout.isContiguous, let p = mask.pointer else { return nil }
    return p.assumingMemoryBound(to: UInt16.self)
}

/// One run of keys: writes out[j] = key < estKey ? 0 : 1 when `out` is given, calls
/// `candidate(j, key)` for the keys in lowKey ... lowKey + span in order, and returns the count of
/// keys below lowKey. (Float32 magnitudes take `scanFloatRun`.)
@inline(__always)
private func scanRun(_ keys: UnsafeBufferPointer<UInt32>, lowKey: UInt32, estKey: UInt32, span: UInt32,
                     out: UnsafeMutablePointer<Float>?, _ candidate: (Int, UInt32) -> Void) -> Int {
    guard let raw = keys.baseAddress else { return 0 }
    let n = keys.count
    let lov = SIMD8<UInt32>(repeating: lowKey), spv = SIMD8<UInt32>(repeating: span)
    let estv = SIMD8<UInt32>(repeating: estKey)
    let one = SIMD8<UInt32>(repeating: 1), zero = SIMD8<UInt32>()
    let keep = SIMD8<Float>(repeating: 1), pruned = SIMD8<Float>()
    var below = zero
    var j = 0
    while j + 8 <= n {
        let v = UnsafeRawPointer(raw + j).loadUnaligned(as: SIMD8<UInt32>.self)
        if let out { UnsafeMutableRawPointer(out + j).storeBytes(of: keep.replacing(with: pruned, where: v .< estv), as: SIMD8<Float>.self) }
        below &+= zero.replacing(with: one, where: v .< lov)
        let hit = (v &- lov) .<= spv
        if anyLane(hit) {
            for t in 0..<8 where hit[t] { candidate(j + t, v[t]) }
        }
        j += 8
    }
    var b = Int(below.wrappedSum())
    while j < n {
        let x = raw[j]
        if let out { out[j] = x < estKey ? 0 : 1 }
        if x < lowKey { b += 1 }
        if x &- lowKey <= span { candidate(j, x) }
        j += 1
    }
    return b
}

/// mask[start + j] = keys[j] < lowKey ? 0 : 1 (called with the tentative mask's key).
@inline(__always)
private func writeBelow(_ keys: UnsafeBufferPointer<UInt32>, start: Int, lowKey: UInt32, mask: MutableTensorView) {
    if mask.dtype == .float32, mask.layout.isContiguous, let p = mask.pointer, start + keys.count <= mask.count {
        let out = p.assumingMemoryBound(to: Float.self) + start
        for j in keys.indices { out[j] = keys[j] < lowKey ? 0 : 1 }
        return
    }
    if mask.dtype == .bfloat16 || mask.dtype == .float16, mask.layout.isContiguous, let p = mask.pointer,
       start + keys.count <= mask.count {
        // 16-bit masks as 16-bit words (1.0 is 0x3F80 in bfloat16, 0x3C00 in float16).
        let one: UInt16 = mask.dtype == .bfloat16 ? 0x3F80 : 0x3C00
        let out = p.assumingMemoryBound(to: UInt16.self) + start
        for j in keys.indices { out[j] = keys[j] < lowKey ? 0 : one }
        return
    }
    mask.store(start..<(start + keys.count)) { i in keys[i - start] < lowKey ? 0 : 1 }
}

@inline(__always)
private func storeMask(_ mask: MutableTensorView, at i: Int, pruned: Bool) {
    guard i >= 0, i < mask.count, let p = mask.pointer else { return }
    storeDouble(p, mask.dtype, mask.layout.offset(ofLogicalIndex: i), pruned ? 0 : 1)
}

/// The key of rank `rank` (0-based) among `keys` and how many keys are smaller: radix selection
/// (8-bit digits for fewer than 2048 keys, else 11, 11 and 10 bits); `keys` is not reordered.
func keyAtRank(_ keys: inout [UInt32], _ rank: Int) -> (key: UInt32, less: Int) {
    keys.withUnsafeBufferPointer { kb in
        keyAtRank(count: kb.count, rank) { visit in for x in kb { visit(x) } }
    }
}

/// `keyAtRank` over `count` keys that `forEachKey` visits (in any order, the same each call):
/// the fused cut selects among its candidate lists in place, without a copy of their keys.
@inline(__always)
func keyAtRank(count n: Int, _ rank: Int, _ forEachKey: ((UInt32) -> Void) -> Void) -> (key: UInt32, less: Int) {
    if n == 0 { return (0, 0) }
    let r = min(max(rank, 0), n - 1)
    let widths: [UInt32] = n < 2048 ? [8, 8, 8, 8] : [11, 11, 10]
    var hist = [Int](repeating: 0, count: 1 << 11)
    var less = 0
    var prefix: UInt32 = 0
    var used: UInt32 = 0
    hist.withUnsafeMutableBufferPointer { h in
        for width in widths {
            let size = 1 << Int(width)
            let shift = 32 - used - width
            let mask = UInt32(size - 1)
            for b in 0..<size { h[b] = 0 }
            if used == 0 {
                forEachKey { x in h[Int(truncatingIfNeeded: (x &>> shift) & mask)] &+= 1 }
            } else {
                let high = 32 - used, p = prefix
                forEachKey { x in if x &>> high == p { h[Int(truncatingIfNeeded: (x &>> shift) & mask)] &+= 1 } }
            }
            var b = 0
            while b < size - 1 && less + h[b] <= r { less += h[b]; b += 1 }
            prefix = prefix &<< width | UInt32(b)
            used += width
        }
    }
    return (prefix, less)
}
