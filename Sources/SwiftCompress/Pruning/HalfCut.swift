// Cuts of fine-grained level metrics held in 16 bits (bfloat16 or float16), exact, on 15-bit keys.
//
// |x| of a 16-bit float is its low 15 bits, and non-negative 16-bit floats order like their bits:
// a magnitude is a 15-bit key (NaNs, whatever their payload, get the largest key, 0x7FFF, as
// `magnitudeKey` gives every float32 NaN one key). No metric array, no float32 conversion. Masks
// are the ones the float32 path gives for the same values (their float32 magnitudes order exactly
// like the 15-bit keys), and the ones `orderedCuts` + `writeCut` give. Two forms:
// - `fusedHalfCutAndWrite` (below, tried first): one pass over the weights, a sampled bracket;
// - `halfCutAndWrite`, the fallback: one pass histograms the keys of every member (per worker,
//   2^15 bins), which locates the cut key and how many of its ties each worker takes; a second
//   pass writes every mask (in the mask's own dtype, 16-bit masks as 16-bit words): key < cut
//   pruned, key == cut pruned for the first ties in index order.

/// Whether `halfCutAndWrite` applies: every metric the |x| of a contiguous 16-bit tensor, all of
/// one of the two 16-bit dtypes, masks contiguous and shaped like their metrics.
func halfCutApplies(_ metrics: [Metric], masks: [MutableTensorView]) -> Bool {
    guard let first = metrics.first, metrics.count == masks.count, case .magnitude(let v0) = first.values,
          v0.dtype == .float16 || v0.dtype == .bfloat16 else { return false }
    for (m, mask) in zip(metrics, masks) {
        guard case .magnitude(let v) = m.values, v.dtype == v0.dtype, v.layout.isContiguous, v.pointer != nil || v.count == 0,
              v.count == m.count, mask.count == m.count, mask.layout.isContiguous, mask.pointer != nil || mask.count == 0 else { return false }
    }
    return true
}

/// Writes into `masks[s]` the cut that prunes the first `k` positions of the order (|x| key, s,
/// index) over `metrics` (checked by `halfCutApplies`; returns false, writing nothing, otherwise).
func halfCutAndWrite(_ metrics: [Metric], masks: [MutableTensorView], count k: Int) -> Bool {
    guard halfCutApplies(metrics, masks: masks), case .magnitude(let v0)? = metrics.first?.values else { return false }
    let nanAbove: UInt16 = v0.dtype == .bfloat16 ? 0x7F80 : 0x7C00
    let counts = metrics.map(\.count)
    let total = counts.reduce(0, +)
    let plan = ChunkPlan(counts: counts, elementsPerWorker: minimumChunk)
    let tasks = plan.tasks, bounds = plan.bounds, workers = plan.workers
    let bins = 1 << 15
    // Cut key: keys < cut are pruned, then `ties` of key == cut in order. cut = bins prunes all.
    var cut = 0, ties = 0
    var quota = [Int](repeating: 0, count: workers)
    if k <= 0 {
        cut = 0; ties = 0
    } else if k >= total {
        cut = bins; ties = 0
    } else {
        let hists = SharedSlots<[Int32]>(repeating: [], count: workers)
        parallelFor(workers, parallel: workers > 1) { w in
            // Two interleaved histograms (even / odd elements) halve the chains of dependent
            // increments when neighbouring weights fall into the same bin; summed at the end.
            var h = [Int32](repeating: 0, count: 2 * bins)
            h.withUnsafeMutableBufferPointer { hb in
                guard let h0 = hb.baseAddress else { return }
                let h1 = h0 + bins
                for ti in bounds[w]..<bounds[w + 1] {
                    let task = tasks[ti]
                    guard case .magnitude(let v) = metrics[task.source].values, let p = v.pointer else { continue }
                    let bits = p.assumingMemoryBound(to: UInt16.self)
                    var i = task.range.lowerBound
                    let end = task.range.upperBound
                    while i + 1 < end {
                        let a = bits[i] & 0x7FFF, b = bits[i + 1] & 0x7FFF
                        h0[Int(a > nanAbove ? 0x7FFF : a)] &+= 1
                        h1[Int(b > nanAbove ? 0x7FFF : b)] &+= 1
                        i += 2
                    }
                    if i < end {
                        let a = bits[i] & 0x7FFF
                        h0[Int(a > nanAbove ? 0x7FFF : a)] &+= 1
                    }
                }
                for b in 0..<bins { h0[b] &+= h1[b] }
            }
            h.removeLast(bins)
            hists[w] = h
        }
        var below = 0
        var c = 0
        var sum = [Int](repeating: 0, count: bins)
        for w in 0..<workers {
            let h = hists[w]
            for b in 0..<min(bins, h.count) { sum[b] += Int(h[b]) }
        }
        while c < bins - 1 && below + sum[c] < k { below += sum[c]; c += 1 }
        cut = c
        ties = k - below
        var remaining = ties
        for w in 0..<workers {
            let h = hists[w]
            let have = c < h.count ? Int(h[c]) : 0
            quota[w] = min(have, remaining)
            remaining -= quota[w]
        }
    }
    let cutKey = cut, q = quota
    parallelFor(workers, parallel: workers > 1) { w in
        var left = q[w]
        for ti in bounds[w]..<bounds[w + 1] {
            let task = tasks[ti]
            guard case .magnitude(let v) = metrics[task.source].values else { continue }
            writeHalfCut(v, mask: masks[task.source], range: task.range, cut: cutKey, nanAbove: nanAbove, ties: &left)
        }
    }
    return true
}

/// mask[i] for i in `range`: 0 where key(|v[i]|) < cut, or == cut while `ties` remain (decremented),
/// else 1; in the mask's dtype (16-bit masks are written as 16-bit words).
@inline(__always)
private func writeHalfCut(_ v: TensorView, mask: MutableTensorView, range: Range<Int>, cut: Int, nanAbove: UInt16, ties: inout Int) {
    guard let vp = v.pointer, let mp = mask.pointer else { return }
    let bits = vp.assumingMemoryBound(to: UInt16.self)
    if cut >= 1 << 15 {  // everything pruned
        switch mask.dtype {
        case .bfloat16, .float16: let o = mp.assumingMemoryBound(to: UInt16.self); for i in range { o[i] = 0 }
        case .float32: let o = mp.assumingMemoryBound(to: Float.self); for i in range { o[i] = 0 }
        case .float64: let o = mp.assumingMemoryBound(to: Double.self); for i in range { o[i] = 0 }
        }
        return
    }
    let c = UInt16(truncatingIfNeeded: cut)
    switch mask.dtype {
    case .bfloat16:
        halfCutLoop(bits, mp.assumingMemoryBound(to: UInt16.self), range, c, nanAbove, &ties, pruned: UInt16(0), kept: UInt16(0x3F80))
    case .float16:
        halfCutLoop(bits, mp.assumingMemoryBound(to: UInt16.self), range, c, nanAbove, &ties, pruned: UInt16(0), kept: UInt16(0x3C00))
    case .float32:
        halfCutLoop(bits, mp.assumingMemoryBound(to: Float.self), range, c, nanAbove, &ties, pruned: Float(0), kept: Float(1))
    case .float64:
        halfCutLoop(bits, mp.assumingMemoryBound(to: Double.self), range, c, nanAbove, &ties, pruned: Double(0), kept: Double(1))
    }
}

/// The write loop in blocks of 64: a branch-free pass (key < cut), and where a block holds keys
/// equal to the cut while ties remain, the first of them pruned in index order.
@inline(__always)
private func halfCutLoop<T>(_ bits: UnsafePointer<UInt16>, _ out: UnsafeMutablePointer<T>, _ range: Range<Int>, _ c: UInt16,
                            _ nanAbove: UInt16, _ ties: inout Int, pruned: T, kept: T) {
    var lo = range.lowerBound
    let end = range.upperBound
    while lo < end {
        let hi = min(end, lo + 64)
        var equal = 0
        for i in lo..<hi {
            let b = bits[i] & 0x7FFF
            let key = b > nanAbove ? 0x7FFF : b
            out[i] = key < c ? pruned : kept
            equal &+= key == c ? 1 : 0
        }
        if equal > 0 && ties > 0 {
            for i in lo..<hi where ties > 0 {
                let b = bits[i] & 0x7FFF
                let key = b > nanAbove ? 0x7FFF : b
                if key == c { out[i] = pruned; ties -= 1 }
            }
        }
        lo = hi
    }
}

// The one-pass form of `halfCutAndWrite`, FusedCut.swift's scheme on 15-bit keys: a sample (runs
// of 16 neighbours) brackets the cut key and estimates it; one pass (`scanHalfRun`,
// ScanKernels.swift) writes every tentative mask (key below the estimate 0, else 1), counts the
// keys below the bracket, histograms the keys in it and notes where they are (a few percent of
// the elements, 2 or 3 bytes each: the gap from the previous one and the key's offset in the
// bracket); the cut key and its ties per worker come from the histograms, and the notes give the
// masks to rewrite (keys between the estimate and the cut, and the cut key's ties). One read of
// the weights and one write of the masks, against two reads and a write for `halfCutAndWrite`, and at most a few percent of the masks' bytes of memory. The result
// is the same: the first k positions of the order (key, s, index).

/// Most note bytes one fused 16-bit cut keeps (over all workers), for up to 2^26 elements; above,
/// one byte per 16 elements (at most 1/32 of the 16-bit masks' bytes: keys in the bracket up to
/// about 3 % of the elements).
let fusedHalfNoteLimit = 1 << 22

/// Writes into `masks[s]` the cut that prunes the first `k` positions of the order (|x| key, s,
/// index) over `metrics` in one pass. Applies where `halfCutApplies` does and every mask is 16-bit;
/// returns false, writing nothing, otherwise, and false with the masks holding something
/// unspecified when the sample's bracket misses the cut or its notes overflow `noteLimit` bytes (default: 4 MiB
/// or a byte per 16 elements, the larger; the caller then runs `halfCutAndWrite`, which rewrites every element).
/// `tentativeKey` (tests) replaces the sample's estimate of the cut key for the tentative masks
/// (clamped to the bracket): the masks must not depend on it.
func fusedHalfCutAndWrite(_ metrics: [Metric], masks: [MutableTensorView], count k: Int,
                          noteLimit: Int? = nil, tentativeKey: UInt16? = nil) -> Bool {
    guard halfCutApplies(metrics, masks: masks), case .magnitude(let v0)? = metrics.first?.values,
          masks.allSatisfy({ $0.dtype == .bfloat16 || $0.dtype == .float16 }) else { return false }
    let counts = metrics.map(\.count)
    let total = counts.reduce(0, +)
    guard total >= fusedMinimumTotal, total < Int(UInt32.max), k > 0, k < total else { return false }
    let noteLimit = noteLimit ?? max(fusedHalfNoteLimit, total / 16)
    let nanAbove: UInt16 = v0.dtype == .bfloat16 ? 0x7F80 : 0x7C00
    var starts = [Int](repeating: 0, count: metrics.count)
    var acc = 0
    for (s, n) in counts.enumerated() { starts[s] = acc; acc += n }
    // 1. Sample and bracket, on the 15-bit keys (ranked with one histogram of the sample; runs of
    //    16 keys, 32 bytes, read in parallel parts).
    var words: [UnsafePointer<UInt16>?] = []
    for m in metrics {
        guard case .magnitude(let v) = m.values else { return false }
        words.append(v.pointer.map { UnsafePointer($0.assumingMemoryBound(to: UInt16.self)) })
    }
    guard words.allSatisfy({ $0 != nil }) else { return false }
    let sample = FusedSample(total: total, run: 16)
    let parts = sample.parts
    let partHists = SharedSlots<[Int32]>(repeating: [], count: parts)
    parallelFor(parts, parallel: parts > 1) { part in
        var h = [Int32](repeating: 0, count: 1 << 15)
        h.withUnsafeMutableBufferPointer { hb in
            // Batches of 16 runs: their 16 loads (cache misses) are issued together, then counted.
            withUnsafeTemporaryAllocation(of: SIMD16<UInt16>.self, capacity: 16) { batch in
                var s = 0
                let clusters = sample.clusters(part: part)
                var c = clusters.lowerBound
                while c < clusters.upperBound {
                    let end = min(c + 16, clusters.upperBound)
                    var loaded = 0
                    for cc in c..<end {
                        let r = sample.positions(cluster: cc)
                        while s + 1 < starts.count && starts[s + 1] <= r.lowerBound { s += 1 }
                        let stop = s + 1 < starts.count ? starts[s + 1] : total
                        if r.count == 16 && r.upperBound <= stop, let p = words[s] {
                            batch[loaded] = UnsafeRawPointer(p + (r.lowerBound - starts[s])).loadUnaligned(as: SIMD16<UInt16>.self)
                            loaded += 1
                        } else {  // a run across two metrics
                            var t = s
                            for pos in r {
                                while t + 1 < starts.count && starts[t + 1] <= pos { t += 1 }
                                if let p = words[t] { hb[Int(halfKey(p[pos - starts[t]], nanAbove))] &+= 1 }
                            }
                        }
                    }
                    for b in 0..<loaded {
                        let v = batch[b]
                        for l in 0..<16 { hb[Int(halfKey(v[l], nanAbove))] &+= 1 }
                    }
                    c = end
                }
            }
        }
        partHists[part] = h
    }
    var sampleHist = partHists[0]
    for part in 1..<parts {
        let h = partHists[part]
        for b in 0..<min(h.count, sampleHist.count) { sampleHist[b] &+= h[b] }
    }
    let ranks = fusedBracketRanks(sampleCount: sample.count, total: total, count: k, designEffect: fusedSampleDesignEffect(run: 16))
    func keyAt(_ rank: Int) -> UInt32 {
        var below = 0
        for (key, c) in sampleHist.enumerated() {
            below += Int(c)
            if below > rank { return UInt32(key) }
        }
        return 0x7FFF
    }
    let low = ranks.low.map(keyAt) ?? 0
    guard low <= 0x7FFF else { return false }
    let lowKey = UInt16(low)
    // Keys above 0x7FFF do not exist: a bracket open at the top ends at 0x7FFF.
    let highKey = UInt16(min(ranks.high.map(keyAt) ?? 0x7FFF, 0x7FFF))
    guard highKey >= lowKey else { return false }
    let span = highKey - lowKey
    // The tentative mask prunes the keys below the sample's own estimate of the cut key: the
    // notes then change only the keys between it and the cut, and the cut key's ties.
    let estKey = UInt16(min(max(tentativeKey.map(UInt32.init) ?? keyAt(ranks.estimate), UInt32(lowKey)), UInt32(highKey)))
    let estOffset = Int(estKey) - Int(lowKey)
    let bracketShare = Double(2 * ranks.margin + 1) / Double(sample.count)
    let wide = span > 255  // offsets in two note bytes
    let mapNaN = highKey > nanAbove  // NaN keys can be in the bracket only then
    // 2. One pass: masks, count below, the bracket's histogram and notes.
    let plan = ChunkPlan(counts: counts, elementsPerWorker: minimumChunk)
    let tasks = plan.tasks, bounds = plan.bounds, workers = plan.workers
    let budget = CandidateBudget()
    let noteSlots = SharedSlots<HalfNotes?>(repeating: nil, count: workers)
    let belowCounts = SharedSlots<Int>(repeating: 0, count: workers)
    let expected = Int(bracketShare * Double(total) * 2.5) + 1024
    defer { for w in 0..<workers { noteSlots[w]?.release() } }
    parallelFor(workers, parallel: workers > 1) { w in
        let last = bounds[w] < tasks.count ? starts[tasks[bounds[w]].source] + tasks[bounds[w]].range.lowerBound - 1 : 0
        var notes = HalfNotes(capacity: min(noteLimit, expected / workers + 1024), last: last, span: Int(span),
                              lowKey: Int(lowKey))
        var below = 0
        var overflow = false
        runs: for ti in bounds[w]..<bounds[w + 1] {
            let task = tasks[ti]
            guard case .magnitude(let v) = metrics[task.source].values, let vp = v.pointer,
                  let mp = masks[task.source].pointer else { continue }
            let bits = vp.assumingMemoryBound(to: UInt16.self), out = mp.assumingMemoryBound(to: UInt16.self)
            let one: UInt16 = masks[task.source].dtype == .bfloat16 ? 0x3F80 : 0x3C00
            let base = starts[task.source]
            var lo = task.range.lowerBound
            while lo < task.range.upperBound {
                let n = min(keyRun, task.range.upperBound - lo)
                let before = notes.count
                below += scanHalfRun(bits + lo, out + lo, count: n, first: base + lo, lowKey: lowKey, estKey: estKey,
                                     highKey: highKey, nanAbove: nanAbove, mapNaN: mapNaN, one: one, notes: &notes)
                let used = notes.count - before
                if used > 0 && budget.used.add(used, ordering: .relaxed).newValue > noteLimit {
                    overflow = true
                    break runs
                }
                lo += n
            }
        }
        noteSlots[w] = notes
        belowCounts[w] = overflow ? -1 : below
    }
    var below = 0
    var sum = [Int](repeating: 0, count: Int(span) + 1)
    for w in 0..<workers {
        guard belowCounts[w] >= 0, let notes = noteSlots[w] else { return false }
        below += belowCounts[w]
        for o in 0..<min(notes.histCount, sum.count) { sum[o] += notes.hist[o] }
    }
    // 3. The cut: offsets below `cut` pruned, then the first `ties` of offset `cut` in order.
    guard below < k else { return false }
    var cut = 0, taken = below
    while cut < sum.count && taken + sum[cut] < k { taken += sum[cut]; cut += 1 }
    guard cut < sum.count else { return false }
    var remaining = k - taken
    var quota = [Int](repeating: 0, count: workers)
    for w in 0..<workers where remaining > 0 {
        guard let notes = noteSlots[w] else { continue }
        let have = cut < notes.histCount ? notes.hist[cut] : 0
        quota[w] = min(have, remaining)
        remaining -= quota[w]
    }
    let q = quota, cutOffset = cut
    parallelFor(workers, parallel: workers > 1) { w in
        guard bounds[w] < bounds[w + 1], let notes = noteSlots[w] else { return }
        var ties = q[w]
        let firstTask = tasks[bounds[w]]
        var pos = starts[firstTask.source] + firstTask.range.lowerBound - 1
        var source = firstTask.source
        var end = source + 1 < metrics.count ? starts[source + 1] : total
        var start = starts[source], count = masks[source].count
        var out = masks[source].pointer?.assumingMemoryBound(to: UInt16.self)
        var one: UInt16 = masks[source].dtype == .bfloat16 ? 0x3F80 : 0x3C00
        let note = notes.buffer
        var i = 0
        while i < note.count {
            // With the estimate at the cut, only the cut key's ties change: none left, done.
            if estOffset == cutOffset && ties == 0 { break }
            pos += readGap(note, &i)
            guard i + (wide ? 1 : 0) < note.count else { return }
            var off = Int(note[i])
            i += 1
            if wide { off |= Int(note[i]) << 8; i += 1 }
            var pruned = off < cutOffset
            if off == cutOffset && ties > 0 {
                ties -= 1
                pruned = true
            }
            if pruned == (off < estOffset) { continue }  // the tentative mask holds it already
            if pos >= end {
                while source + 1 < metrics.count && starts[source + 1] <= pos { source += 1 }
                end = source + 1 < metrics.count ? starts[source + 1] : total
                start = starts[source]
                count = masks[source].count
                out = masks[source].pointer?.assumingMemoryBound(to: UInt16.self)
                one = masks[source].dtype == .bfloat16 ? 0x3F80 : 0x3C00
            }
            let index = pos - start
            if let out, index >= 0, index < count { out[index] = pruned ? 0 : one }
        }
    }
    return true
}

/// Reads a gap written by `HalfNotes.add` at `i`, advancing `i` (0 when the notes end early).
@inline(__always)
private func readGap(_ note: UnsafeBufferPointer<UInt8>, _ i: inout Int) -> Int {
    guard i < note.count else { return 0 }
    let b = note[i]
    i += 1
    if b < 255 { return Int(b) }
    guard i + 4 <= note.count else { i = note.count; return 0 }
    let g = Int(note[i]) | Int(note[i + 1]) << 8 | Int(note[i + 2]) << 16 | Int(note[i + 3]) << 24
    i += 4
    return g
}

/// The 15-bit key of a 16-bit float's magnitude; NaNs (above `nanAbove`) get 0x7FFF.
@inline(__always)
func halfKey(_ bits: UInt16, _ nanAbove: UInt16) -> UInt16 {
    let b = bits & 0x7FFF
    return b > nanAbove ? 0x7FFF : b
}
