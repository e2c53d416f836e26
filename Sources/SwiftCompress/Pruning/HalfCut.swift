// The exact one-histogram cut of fine-grained level metrics held in 16 bits (bfloat16 or float16).
//
// |x| of a 16-bit float is its low 15 bits, and non-negative 16-bit floats order like their bits:
// a magnitude is a 15-bit key (NaNs, whatever their payload, get the largest key, 0x7FFF, as
// `magnitudeKey` gives every float32 NaN one key). One pass histograms the keys of every member
// (per worker, 2^15 bins), which locates the cut key and how many of its ties each worker takes;
// a second pass writes every mask (in the mask's own dtype, 16-bit masks as 16-bit words): key <
// cut pruned, key == cut pruned for the first ties in index order. No metric array, no float32
// conversion. The mask is the one the float32 path gives for the same values (their float32
// magnitudes order exactly like the 15-bit keys), and the one `orderedCuts` + `writeCut` give.

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
