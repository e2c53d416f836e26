// Exact selection of the smallest metric positions, in linear time, by radix selection on
// order-preserving keys: each pass histograms one digit of the keys that share the prefix found so
// far. No sorting and no copy of the metric.
//
// Two forms:
// - ordered: sources whose blocks all weigh the same and whose bounds cannot bind (a ratio, a
//   threshold fallback, a dependency part, a global group of equal block sizes without min/max):
//   the cut is the first k blocks of the order (key, source, index); one histogram for all sources,
//   16-bit digits for large metrics (two passes for float32 keys);
// - weighted: a global group with different block sizes or per-member [lo, hi] clamps: per-source
//   histograms; the cut is the longest prefix of the order whose clamped weight fits the budget.
// Both find the exact key K of the cut and how many blocks with key K it takes. A cut that takes
// some but not all of them says how many in each chunk (`metricChunks`), so that writers prune
// "key < K, and the first m ties of this chunk" in one pass without a byte mask. The ordered form
// gets those counts from its last pass (2-bit counts per chunk and digit); the weighted form from
// one more pass over its partly taken source.
//
// Fine-grained targets with 32-bit keys usually skip this file: see FusedCut.swift.

/// The chunks of a metric's block indices that parallel passes work on. Tie counts of a cut are
/// per chunk, so every pass that applies a cut splits the metric with this function.
func metricChunks(_ n: Int) -> [Range<Int>] {
    if n <= 0 { return [] }
    let parts = max(1, min(workerParts, n / minimumChunk))
    let step = (n + parts - 1) / parts
    return Swift.stride(from: 0, to: n, by: step).map { $0..<min(n, $0 + step) }
}

/// Metrics smaller than two of these are one chunk.
let minimumChunk = 1 << 17

/// The chunks (`metricChunks`) of several metrics, in order, and contiguous runs of them of about
/// equal size for parallel workers: worker w takes `tasks[bounds[w] ..< bounds[w + 1]]`.
struct ChunkPlan {
    struct Task {
        var source: Int
        var chunk: Int
        var range: Range<Int>
    }
    var tasks: [Task] = []
    var bounds: [Int] = [0]
    var workers: Int { bounds.count - 1 }

    /// At least `elementsPerWorker` elements per worker, at most `workerParts` workers.
    init(counts: [Int], elementsPerWorker: Int) {
        for (s, n) in counts.enumerated() {
            for (c, r) in metricChunks(n).enumerated() { tasks.append(Task(source: s, chunk: c, range: r)) }
        }
        let total = counts.reduce(0, +)
        let workers = max(1, min(workerParts, total / max(elementsPerWorker, 1), tasks.count))
        var acc = 0
        for (i, t) in tasks.enumerated() {
            acc += t.range.count
            if bounds.count < workers && acc * workers >= total * bounds.count { bounds.append(i + 1) }
        }
        while bounds.count <= workers { bounds.append(tasks.count) }
    }
}

/// Which blocks whose key equals the cut key a cut prunes.
enum TieRule: Equatable {
    /// None of them.
    case keep
    /// All of them.
    case prune
    /// In chunk c of `metricChunks(count)`, the first `counts[c]` of them (lowest index first);
    /// `allTies` means every one in that chunk.
    case first([Int])

    /// How many ties chunk `c` prunes: 0, a count, or `allTies`.
    @inline(__always)
    func taken(inChunk c: Int) -> Int {
        switch self {
        case .keep: return 0
        case .prune: return allTies
        case .first(let counts): return c >= 0 && c < counts.count ? counts[c] : 0
        }
    }
}

/// In `TieRule.first`: the chunk prunes all its ties.
let allTies = Int.max

/// Which blocks of one source a cut prunes.
enum SourceCut: Equatable {
    /// Nothing.
    case none
    /// Every block.
    case all
    /// Every block with key < `key`, and the blocks with key == `key` that `ties` says.
    case below(key: UInt64, wide: Bool, ties: TieRule)
}

struct SelectionSource {
    var metric: Metric
    /// Elements per block (the weight of one block in the budget).
    var weight: Int
    /// At least `lo` and at most `hi` blocks of this source are pruned (0 <= lo <= hi <= count).
    var lo: Int
    var hi: Int
}

/// The cuts for `sources` that prune the longest prefix of the global order (key, source, index)
/// whose weight, with each source's count clamped to [lo, hi], is at most `budget` (in elements).
func selectCuts(_ sources: [SelectionSource], budget: Int) -> [SourceCut] {
    guard let first = sources.first else { return [] }
    let wide = sources.contains { $0.metric.needsWideKeys }
    let uniform = sources.allSatisfy { $0.weight == first.weight && $0.lo <= 0 && $0.hi >= $0.metric.count }
    if uniform {
        let k = first.weight > 0 ? max(0, budget) / first.weight : Int.max
        return orderedCuts(sources.map(\.metric), count: k, wide: wide)
    }
    return weightedCuts(sources, budget: budget, wide: wide)
}

/// Digit widths (most significant first) for keys of `keyBits` over `total` values: wide digits
/// mean fewer passes over large metrics, small metrics get small histograms.
private func digitWidths(keyBits: Int, total: Int, maxBits: Int) -> [Int] {
    let bits = min(maxBits, total < 1 << 14 ? 8 : (total < 1 << 18 ? 11 : 16))
    var widths: [Int] = []
    var rest = keyBits
    while rest > 0 { let w = min(bits, rest); widths.append(w); rest -= w }
    return widths
}

/// The first `count` blocks of the order (key, source, index) over `metrics`.
///
/// Passes: one histogram per digit over all keys (two for float32 keys), each worker counting a
/// contiguous run of chunks into its own histogram. The last pass also keeps, per chunk, a 2-bit
/// saturating count of each final digit, so the ties of the cut key are placed per chunk without
/// reading the keys again (only chunks holding 3 or more of them are counted exactly).
func orderedCuts(_ metrics: [Metric], count k: Int, wide: Bool) -> [SourceCut] {
    let total = metrics.reduce(0) { $0 + $1.count }
    if k <= 0 { return metrics.map { _ in .none } }
    if k >= total { return metrics.map { $0.count > 0 ? .all : .none } }
    // Each worker zeroes and sums a histogram: at least 4 chunks' worth of keys per worker.
    let plan = ChunkPlan(counts: metrics.map(\.count), elementsPerWorker: 4 * minimumChunk)
    let tasks = plan.tasks

    let keyBits = wide ? 64 : 32
    let widths = digitWidths(keyBits: keyBits, total: total, maxBits: 16)
    var below = 0
    var prefix: UInt64 = 0
    var usedBits = 0
    var ties = 0
    var tieCounters: SharedSlots<[UInt64]>? = nil
    var lastWidth = 0
    for (level, w) in widths.enumerated() {
        let shift = keyBits - usedBits - w
        let last = level == widths.count - 1
        let (hist, counters) = histogramPass(metrics, plan: plan, wide: wide, filtered: level > 0,
                                             prefix: prefix, prefixShift: shift + w, shift: shift, width: w,
                                             countDigits: last)
        // The bucket holding the k-th smallest key (1-based): below + before < k <= below + through.
        var bucket = 0
        var before = below
        while bucket < hist.count && before + hist[bucket] < k {
            before += hist[bucket]
            bucket += 1
        }
        if bucket >= hist.count { return metrics.map { $0.count > 0 ? .all : .none } }  // unreachable: k < total
        below = before
        ties = hist[bucket]
        prefix = (prefix << UInt64(w)) | UInt64(bucket)
        usedBits += w
        tieCounters = counters
        lastWidth = w
    }
    // `prefix` is the exact key K: the cut takes `k - below` of its `ties` occurrences.
    let key = prefix
    let taken = k - below
    if taken >= ties { return metrics.map { _ in .below(key: key, wide: wide, ties: .prune) } }
    // Place the taken ties chunk by chunk, in order.
    let digit = Int(truncatingIfNeeded: key & ((1 << UInt64(lastWidth)) - 1))
    var takes = metrics.map { [Int](repeating: 0, count: metricChunks($0.count).count) }
    var full = [Bool](repeating: true, count: metrics.count)
    var left = taken
    for (ti, t) in tasks.enumerated() {
        var here = 3
        if let c = tieCounters?[ti], digit >> 5 < c.count {
            here = Int((c[digit >> 5] >> UInt64((digit & 31) * 2)) & 3)
        }
        if left == 0 {
            // Nothing left to take: later chunks keep their ties (no need to count them).
            if here > 0 { full[t.source] = false }
            continue
        }
        if here == 3 {
            here = 0
            metrics[t.source].forEachKey(t.range, wide: wide) { _, x in if x == key { here &+= 1 } }
        }
        let take = min(left, here)
        takes[t.source][t.chunk] = take == here && here > 0 ? allTies : take
        if take < here { full[t.source] = false }
        left -= take
    }
    return metrics.indices.map { s in
        if takes[s].allSatisfy({ $0 == 0 }) { return .below(key: key, wide: wide, ties: .keep) }
        if full[s] { return .below(key: key, wide: wide, ties: .prune) }
        return .below(key: key, wide: wide, ties: .first(takes[s]))
    }
}

/// Tie rule for taking the first `taken` ties of a source whose chunks hold `counts` ties.
private func firstTies(_ counts: [Int], taken: Int) -> TieRule {
    let total = counts.reduce(0, +)
    if taken <= 0 { return .keep }
    if taken >= total { return .prune }
    var left = taken
    return .first(counts.map { c in let t = min(left, c); left -= t; return t == c && c > 0 ? allTies : t })
}

/// Number of keys equal to `key` in each chunk of `metricChunks(metric.count)`.
func tieCounts(_ metric: Metric, key: UInt64, wide: Bool) -> [Int] {
    let chunks = metricChunks(metric.count)
    let slots = SharedSlots<Int>(repeating: 0, count: chunks.count)
    parallelFor(chunks.count, parallel: metric.count >= 2 * minimumChunk) { c in
        var n = 0
        metric.forEachKey(chunks[c], wide: wide) { _, k in if k == key { n &+= 1 } }
        slots[c] = n
    }
    return (0..<chunks.count).map { slots[$0] }
}

/// One histogram of the digit at `shift` (width `width`) over the keys of all tasks whose bits
/// above `prefixShift` equal `prefix` (all keys when not `filtered`): each worker of `plan` counts
/// its chunks into its own histogram; the histograms are summed. With
/// `countDigits`, each task also gets 2-bit saturating counts (0, 1, 2, 3 or more) of each digit,
/// packed 32 to a word.
private func histogramPass(_ metrics: [Metric], plan: ChunkPlan, wide: Bool, filtered: Bool,
                           prefix: UInt64, prefixShift: Int, shift: Int, width: Int,
                           countDigits: Bool) -> ([Int], SharedSlots<[UInt64]>?) {
    let size = 1 << width
    let tasks = plan.tasks, bounds = plan.bounds
    let workers = plan.workers
    let slots = SharedSlots<[UInt32]>(repeating: [], count: workers)
    let counters: SharedSlots<[UInt64]>? = countDigits ? SharedSlots(repeating: [], count: tasks.count) : nil
    let total = tasks.reduce(0) { $0 + $1.range.count }
    parallelFor(workers, parallel: workers > 1 && total >= 2 * minimumChunk) { wi in
        var h = [UInt32](repeating: 0, count: size)
        h.withUnsafeMutableBufferPointer { hb in
            guard let hp = hb.baseAddress else { return }
            for ti in bounds[wi]..<bounds[wi + 1] {
                let task = tasks[ti]
                let m = metrics[task.source]
                var digits = countDigits ? [UInt64](repeating: 0, count: (size + 31) / 32) : []
                digits.withUnsafeMutableBufferPointer { db in
                    @inline(__always) func bump(_ d: Int) {
                        guard let dp = db.baseAddress else { return }
                        let sh = UInt64((d & 31) &* 2)
                        if (dp[d &>> 5] &>> sh) & 3 != 3 { dp[d &>> 5] &+= 1 &<< sh }
                    }
                    if !wide {
                        let sh = UInt32(shift), mask = UInt32(size - 1)
                        // Keys with the prefix: lo ..< lo + span (the prefix is at least 8 bits wide).
                        let lo = filtered ? UInt32(truncatingIfNeeded: prefix &<< UInt64(prefixShift)) : 0
                        let span: UInt32 = filtered ? 1 &<< UInt32(min(prefixShift, 31)) : 0
                        m.forEachKeyRun32(task.range) { _, keys in
                            if !filtered {
                                if countDigits {
                                    for x in keys {
                                        let d = Int(truncatingIfNeeded: (x &>> sh) & mask)
                                        hp[d] &+= 1
                                        bump(d)
                                    }
                                } else {
                                    for x in keys { hp[Int(truncatingIfNeeded: (x &>> sh) & mask)] &+= 1 }
                                }
                                return
                            }
                            // Few keys have the prefix: blocks of 32 are tested with SIMD compares first.
                            let count = keys.count
                            let lov = SIMD8<UInt32>(repeating: lo), spv = SIMD8<UInt32>(repeating: span)
                            var j = 0
                            while j < count {
                                let e = min(count, j + 32)
                                if e - j == 32, let kp = keys.baseAddress {
                                    let raw = UnsafeRawPointer(kp + j)
                                    let a = raw.loadUnaligned(as: SIMD8<UInt32>.self) &- lov
                                    let b = raw.loadUnaligned(fromByteOffset: 32, as: SIMD8<UInt32>.self) &- lov
                                    let c = raw.loadUnaligned(fromByteOffset: 64, as: SIMD8<UInt32>.self) &- lov
                                    let d = raw.loadUnaligned(fromByteOffset: 96, as: SIMD8<UInt32>.self) &- lov
                                    let hit = (a .< spv) .| (b .< spv) .| (c .< spv) .| (d .< spv)
                                    if !anyLane(hit) { j = e; continue }
                                }
                                for t in j..<e where keys[t] &- lo < span {
                                    let d = Int(truncatingIfNeeded: (keys[t] &>> sh) & mask)
                                    hp[d] &+= 1
                                    if countDigits { bump(d) }
                                }
                                j = e
                            }
                        }
                    } else {
                        let sh = UInt64(shift), mask = UInt64(size - 1), psh = UInt64(min(prefixShift, 63))
                        m.forEachKey(task.range, wide: true) { _, x in
                            if filtered && x &>> psh != prefix { return }
                            let d = Int(truncatingIfNeeded: (x &>> sh) & mask)
                            hp[d] &+= 1
                            if countDigits { bump(d) }
                        }
                    }
                }
                if let counters { counters[ti] = digits }
            }
        }
        slots[wi] = h
    }
    var out = [Int](repeating: 0, count: size)
    out.withUnsafeMutableBufferPointer { o in
        for wi in 0..<workers {
            slots[wi].withUnsafeBufferPointer { hp in
                for b in 0..<min(size, hp.count) { o[b] &+= Int(hp[b]) }
            }
        }
    }
    return (out, counters)
}

/// The weighted form: per-source histograms, clamped weights.
private func weightedCuts(_ sources: [SelectionSource], budget: Int, wide: Bool) -> [SourceCut] {
    let t = sources.count
    let keyBits = wide ? 64 : 32
    let totalCount = sources.reduce(0) { $0 + $1.metric.count }

    func consumed(_ counts: [Int]) -> Int {
        var total = 0
        for s in 0..<t {
            let c = min(max(counts[s], sources[s].lo), sources[s].hi)
            total &+= c &* sources[s].weight
        }
        return total
    }

    var below = [Int](repeating: 0, count: t)
    var prefix: UInt64 = 0
    var usedBits = 0
    var lastHist: [[Int]] = []
    var lastBucket = 0
    // Per-source histograms: at most 11-bit digits.
    for (level, w) in digitWidths(keyBits: keyBits, total: totalCount, maxBits: 11).enumerated() {
        let shift = keyBits - usedBits - w
        let hists = sourceHistograms(sources, wide: wide, filtered: level > 0, prefix: prefix, prefixShift: shift + w,
                                     shift: shift, width: w)
        // Scan buckets for the first whose end does not fit.
        var cum = below
        var found = -1
        var counts = cum
        for b in 0..<(1 << w) {
            var any = false
            for s in 0..<t where hists[s][b] != 0 { counts[s] = cum[s] + hists[s][b]; any = true }
            if !any { continue }
            if consumed(counts) > budget { found = b; break }
            cum = counts
        }
        if found < 0 {
            // Only possible at level 0: every block fits.
            return (0..<t).map { s in finish(sources[s], unclampedCount: sources[s].metric.count, cut: .all) }
        }
        below = cum
        prefix = (prefix << UInt64(w)) | UInt64(found)
        usedBits += w
        lastHist = hists
        lastBucket = found
    }
    // Full resolution: `prefix` is the exact key K. Walk its ties in (source, index) order.
    var remaining = budget - consumed(below)
    var stopped = false
    var cuts: [SourceCut] = []
    for s in 0..<t {
        let src = sources[s]
        let base = below[s]
        let ties = lastHist.isEmpty ? 0 : lastHist[s][lastBucket]
        var taken = 0
        if !stopped && ties > 0 {
            let start = max(base, src.lo)
            let payable = max(0, min(base + ties, src.hi) - start)
            let affordable = src.weight > 0 ? remaining / src.weight : Int.max
            if payable <= affordable {
                taken = ties
                remaining -= payable * src.weight
            } else {
                taken = max(0, src.lo - base) + affordable
                stopped = true
            }
        }
        let rule: TieRule
        if taken <= 0 { rule = .keep } else if taken >= ties { rule = .prune } else {
            rule = firstTies(tieCounts(src.metric, key: prefix, wide: wide), taken: taken)
        }
        cuts.append(finish(src, unclampedCount: base + taken, cut: .below(key: prefix, wide: wide, ties: rule)))
    }
    return cuts
}

/// Applies the source's clamp; when the clamp changes the count, selects that count on its own.
private func finish(_ src: SelectionSource, unclampedCount: Int, cut: SourceCut) -> SourceCut {
    let p = min(max(unclampedCount, src.lo), src.hi)
    if p == 0 { return .none }
    if p >= src.metric.count { return .all }
    if p == unclampedCount { return cut }
    return orderedCuts([src.metric], count: p, wide: src.metric.needsWideKeys)[0]
}

/// Per-source histograms of the digit at `shift` (width `width`) of keys whose bits above
/// `prefixShift` equal `prefix` (all keys when not `filtered`).
private func sourceHistograms(_ sources: [SelectionSource], wide: Bool, filtered: Bool, prefix: UInt64, prefixShift: Int,
                              shift: Int, width: Int) -> [[Int]] {
    struct Task { var source: Int; var range: Range<Int> }
    var tasks: [Task] = []
    for (s, src) in sources.enumerated() {
        for r in metricChunks(src.metric.count) { tasks.append(Task(source: s, range: r)) }
    }
    let size = 1 << width
    let slots = SharedSlots<[Int]>(repeating: [], count: tasks.count)
    let mask = UInt64(size - 1)
    let sh = UInt64(shift)
    let psh = UInt64(min(prefixShift, 63))
    let total = tasks.reduce(0) { $0 + $1.range.count }
    parallelFor(tasks.count, parallel: total >= 1 << 17) { ti in
        let task = tasks[ti]
        var h = [Int](repeating: 0, count: size)
        h.withUnsafeMutableBufferPointer { hp in
            if filtered {
                sources[task.source].metric.forEachKey(task.range, wide: wide) { _, k in
                    if k >> psh == prefix { hp[Int(truncatingIfNeeded: (k >> sh) & mask)] &+= 1 }
                }
            } else {
                sources[task.source].metric.forEachKey(task.range, wide: wide) { _, k in
                    hp[Int(truncatingIfNeeded: (k >> sh) & mask)] &+= 1
                }
            }
        }
        slots[ti] = h
    }
    var out = [[Int]](repeating: [Int](repeating: 0, count: size), count: sources.count)
    for (ti, task) in tasks.enumerated() {
        let h = slots[ti]
        out[task.source].withUnsafeMutableBufferPointer { o in
            for b in 0..<size where h[b] != 0 { o[b] &+= h[b] }
        }
    }
    return out
}

extension SourceCut {
    /// How many blocks with the cut key chunk `c` of `metricChunks(count)` prunes (0, a count, or
    /// `allTies`).
    func tiesTaken(inChunk c: Int) -> Int {
        if case .below(_, _, let rule) = self { return rule.taken(inChunk: c) }
        return 0
    }

    /// Calls `body(index, pruned)` for every index of `range`, in order. `ties` is how many blocks
    /// with the cut key are still to be pruned in this chunk (start from `tiesTaken(inChunk:)`;
    /// successive ranges of one chunk pass the same variable).
    @inline(__always)
    func forEachDecision(metric: Metric, range: Range<Int>, ties left: inout Int, _ body: (Int, Bool) -> Void) {
        switch self {
        case .none: for i in range { body(i, false) }
        case .all: for i in range { body(i, true) }
        case .below(let key, let wide, _):
            if left == 0 {
                metric.forEachKey(range, wide: wide) { i, k in body(i, k < key) }
            } else if left == allTies {
                metric.forEachKey(range, wide: wide) { i, k in body(i, k <= key) }
            } else {
                var l = left
                metric.forEachKey(range, wide: wide) { i, k in
                    if k == key && l > 0 {
                        l -= 1
                        body(i, true)
                    } else {
                        body(i, k < key)
                    }
                }
                left = l
            }
        }
    }
}

/// Sets `mask[i] = 0` for each block the cut prunes. `mask` has one byte per block of `metric`.
func applyCut(_ cut: SourceCut, metric: Metric, mask: UnsafeMutableBufferPointer<UInt8>) {
    let n = min(metric.count, mask.count)
    switch cut {
    case .none: return
    case .all:
        for i in 0..<n { mask[i] = 0 }
    case .below:
        let chunks = metricChunks(metric.count)
        parallelFor(chunks.count, parallel: chunks.count > 1) { c in
            var ties = cut.tiesTaken(inChunk: c)
            cut.forEachDecision(metric: metric, range: chunks[c].clamped(to: 0..<n), ties: &ties) { i, pruned in
                if pruned { mask[i] = 0 }
            }
        }
    }
}
