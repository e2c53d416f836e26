// Exact selection of the smallest metric positions, in linear time, by radix selection on
// order-preserving keys: each pass histograms one digit of the keys that share the prefix found so
// far. No sorting and no copy of the metric.
//
// One routine serves three rules:
// - ratio: one source, prune exactly k blocks;
// - global group: several sources, each block weighs its element count, each source's pruned
//   blocks clamped to [lo, hi]; the cut is the longest prefix of the global order
//   (key, source, index) whose clamped weight fits the budget;
// - threshold fallback and dependency parts reuse the one-source form.

/// Which blocks of one source a cut prunes.
enum SourceCut: Equatable {
    /// Nothing.
    case none
    /// Every block.
    case all
    /// Every block with key < `key`, and the first `ties` blocks (lowest index first) with key == `key`.
    case below(key: UInt64, ties: Int, wide: Bool)
}

struct SelectionSource {
    var metric: Metric
    /// Elements per block (the weight of one block in the budget).
    var weight: Int
    /// At least `lo` and at most `hi` blocks of this source are pruned (0 <= lo <= hi <= count).
    var lo: Int
    var hi: Int
}

/// The cuts for `sources` that prune the longest prefix of the global order whose weight, with each
/// source's count clamped to [lo, hi], is at most `budget` (in elements).
func selectCuts(_ sources: [SelectionSource], budget: Int) -> [SourceCut] {
    let t = sources.count
    if t == 0 { return [] }
    let wide = sources.contains { $0.metric.needsWideKeys }
    let keyBits = wide ? 64 : 32
    let totalCount = sources.reduce(0) { $0 + $1.metric.count }
    // Wide digits mean fewer passes over large metrics; small metrics get small histograms.
    let digitBits = totalCount < 1 << 14 ? 8 : (t == 1 && totalCount >= 1 << 20 ? 16 : 11)
    var widths: [Int] = []
    var rest = keyBits
    while rest > 0 { let w = min(digitBits, rest); widths.append(w); rest -= w }

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
    for (level, w) in widths.enumerated() {
        let shift = keyBits - usedBits - w
        let hists = histograms(sources, wide: wide, level: level, prefix: prefix, prefixShift: shift + w, shift: shift, width: w)
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
            return (0..<t).map { s in
                finish(sources[s], unclampedCount: sources[s].metric.count, cut: .all)
            }
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
        cuts.append(finish(src, unclampedCount: base + taken, cut: .below(key: prefix, ties: taken, wide: wide)))
    }
    return cuts
}

/// Applies the source's clamp; when the clamp changes the count, selects that count on its own.
private func finish(_ src: SelectionSource, unclampedCount: Int, cut: SourceCut) -> SourceCut {
    let p = min(max(unclampedCount, src.lo), src.hi)
    if p == 0 { return .none }
    if p >= src.metric.count { return .all }
    if p == unclampedCount { return cut }
    return selectCuts([SelectionSource(metric: src.metric, weight: 1, lo: 0, hi: src.metric.count)], budget: p)[0]
}

/// Per-source histograms of the digit at `shift` (width `width`) of keys whose bits above
/// `prefixShift` equal `prefix` (all keys at level 0).
private func histograms(_ sources: [SelectionSource], wide: Bool, level: Int, prefix: UInt64, prefixShift: Int,
                        shift: Int, width: Int) -> [[Int]] {
    struct Task { var source: Int; var range: Range<Int> }
    var tasks: [Task] = []
    for (s, src) in sources.enumerated() {
        let n = src.metric.count
        // Few parts per source: each part zeroes and merges a whole histogram.
        let parts = max(1, min(4, n / (1 << 19)))
        let step = (n + parts - 1) / max(parts, 1)
        var lo = 0
        while lo < n { tasks.append(Task(source: s, range: lo..<min(n, lo + step))); lo += step }
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
            if level == 0 {
                sources[task.source].metric.forEachKey(task.range, wide: wide) { _, k in
                    hp[Int(truncatingIfNeeded: (k >> sh) & mask)] &+= 1
                }
            } else {
                sources[task.source].metric.forEachKey(task.range, wide: wide) { _, k in
                    if k >> psh == prefix { hp[Int(truncatingIfNeeded: (k >> sh) & mask)] &+= 1 }
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

/// Sets `mask[i] = 0` for each block the cut prunes. `mask` has one byte per block of `metric`.
func applyCut(_ cut: SourceCut, metric: Metric, mask: UnsafeMutableBufferPointer<UInt8>) {
    let n = min(metric.count, mask.count)
    switch cut {
    case .none: return
    case .all:
        for i in 0..<n { mask[i] = 0 }
    case .below(let key, let ties, let wide):
        let parts = max(1, min(workerParts, n / 65536))
        let step = (n + parts - 1) / parts
        let tieCounts = SharedSlots<Int>(repeating: 0, count: parts)
        parallelFor(parts, parallel: parts > 1) { p in
            let r = (p * step)..<min(n, (p + 1) * step)
            var tiesHere = 0
            metric.forEachKey(r, wide: wide) { i, k in
                if k < key { mask[i] = 0 } else if k == key { tiesHere &+= 1 }
            }
            tieCounts[p] = tiesHere
        }
        var left = ties
        var p = 0
        while left > 0 && p < parts {
            if tieCounts[p] > 0 {
                let r = (p * step)..<min(n, (p + 1) * step)
                metric.forEachKey(r, wide: wide) { i, k in
                    if left > 0 && k == key { mask[i] = 0; left -= 1 }
                }
            }
            p += 1
        }
    }
}
