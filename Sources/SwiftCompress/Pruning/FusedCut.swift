// The one-pass form of a ratio or equal-weight global cut on fine-grained targets with 32-bit keys
// (the level metric of float32/16 tensors, or a supplied float metric): the mask is written in the
// same pass that locates the cut, instead of two histogram passes and a write pass.
//
// 1. A sample of the keys (one per 128, at least 1024, at most 65536; stratified, deterministic
//    positions) brackets the cut key: [lo, hi] holds the k-th smallest key unless the sample's rank
//    is off by more than `fusedMarginSigmas` standard deviations.
// 2. One pass over every key writes mask = (key < lo ? 0 : 1), counts the keys below lo and
//    collects the keys in [lo, hi] with their positions (a few percent of the keys; at most
//    `fusedCandidateLimit` in all, or one per 32 elements above 2^25 elements).
// 3. If the count below lo is < k <= count below lo + candidates, the k-th key K is selected among
//    the candidates (which are in index order) and the pruned candidates (key < K, then the first
//    ties of K) get a 0. Otherwise (or when the candidates overflow) nothing is decided and the
//    caller runs the radix form, which rewrites every mask element.
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
/// bounds the candidates kept (default: `fusedCandidateLimit` or one per 32 elements, the larger).
func fusedCutAndWrite(_ metrics: [Metric], masks: [MutableTensorView], count k: Int,
                      candidateLimit: Int? = nil) -> Bool {
    let total = metrics.reduce(0) { $0 + $1.count }
    let candidateLimit = candidateLimit ?? max(fusedCandidateLimit, total / 32)
    guard metrics.count == masks.count, total >= fusedMinimumTotal, total < Int(UInt32.max), k > 0, k < total,
          metrics.allSatisfy({ !$0.needsWideKeys }), zip(metrics, masks).allSatisfy({ $0.count == $1.count }) else { return false }
    var starts = [Int](repeating: 0, count: metrics.count)
    var acc = 0
    for (s, m) in metrics.enumerated() { starts[s] = acc; acc += m.count }
    let bracket = fusedBracket(metrics, starts: starts, total: total, count: k)
    guard let scan = fusedScan(metrics, masks: masks, starts: starts, bracket: bracket, total: total,
                               candidateLimit: candidateLimit) else { return false }
    guard scan.below < k, k <= scan.below + scan.candidates else { return false }
    fusedWriteCut(metrics, masks: masks, starts: starts, total: total, count: k, scan: scan)
    return true
}

/// The key bracket of phase 1: keys in `lowKey ... lowKey &+ span` are the cut's candidates.
struct FusedBracket {
    var lowKey: UInt32
    var span: UInt32
    var margin: Int
    var sampleCount: Int
}

/// Phase 1 of the fused cut: sample the keys and bracket the k-th smallest.
func fusedBracket(_ metrics: [Metric], starts: [Int], total: Int, count k: Int) -> FusedBracket {
    let positions = fusedSamplePositions(total: total)
    let sampleCount = positions.count
    var sample = [UInt32](repeating: 0, count: sampleCount)
    sample.withUnsafeMutableBufferPointer { out in
        positions.withUnsafeBufferPointer { pos in
            var j = 0
            for (s, m) in metrics.enumerated() {
                let end = s + 1 < metrics.count ? starts[s + 1] : total
                var e = j
                while e < sampleCount && pos[e] < end { e += 1 }
                if e > j, let op = out.baseAddress, let pp = pos.baseAddress {
                    m.keys32(at: UnsafeBufferPointer(start: pp + j, count: e - j), offset: starts[s], into: op + j)
                }
                j = e
            }
        }
    }
    return fusedBracket(sample: &sample, total: total, count: k)
}

/// The sample positions of phase 1, in increasing order: one per 128 elements (at least 1024, at
/// most 65536), one in each of that many equal strata, at deterministic pseudo-random offsets.
func fusedSamplePositions(total: Int) -> [Int] {
    let sampleCount = min(max(total / 128, 1024), 65536)
    var positions = [Int](repeating: 0, count: sampleCount)
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    for j in 0..<sampleCount {
        let lo = j * total / sampleCount, hi = (j + 1) * total / sampleCount
        state = state &* 6364136223846793005 &+ 1442695040888963407
        positions[j] = lo + Int(truncatingIfNeeded: ((state >> 33) &* UInt64(hi - lo)) >> 31)  // in lo ..< hi
    }
    return positions
}

/// The bracket of the k-th smallest of `total` keys, from the keys at `fusedSamplePositions`
/// (`sample` is reordered).
func fusedBracket(sample: inout [UInt32], total: Int, count k: Int) -> FusedBracket {
    let ranks = fusedBracketRanks(sampleCount: sample.count, total: total, count: k)
    let lowKey: UInt32 = ranks.low.map { keyAtRank(&sample, $0).key } ?? 0
    let highKey: UInt32 = ranks.high.map { keyAtRank(&sample, $0).key } ?? UInt32.max
    let span = highKey &- lowKey  // candidates: key &- lowKey <= span (keys below lowKey wrap above it)
    return FusedBracket(lowKey: lowKey, span: span, margin: ranks.margin, sampleCount: sample.count)
}

/// The sample ranks (0-based) whose keys bound the bracket of the k-th smallest of `total` keys,
/// `fusedMarginSigmas` standard deviations of the sample's rank on each side; nil where the
/// bracket is open (below the smallest key, above the largest).
func fusedBracketRanks(sampleCount: Int, total: Int, count k: Int) -> (low: Int?, high: Int?, margin: Int) {
    let q = Double(k) / Double(total)
    let rank = Int(q * Double(sampleCount))
    let margin = Int(fusedMarginSigmas * (Double(sampleCount) * q * (1 - q)).squareRoot()) + 4
    return (rank - margin < 0 ? nil : rank - margin, rank + margin >= sampleCount ? nil : rank + margin, margin)
}

/// What phase 2 found: per worker its candidates (key << 32 | position, in index order), and the
/// counts of keys below the bracket and of candidates.
struct FusedScan {
    var found: SharedSlots<[UInt64]>
    var workers: Int
    var below: Int
    var candidates: Int
}

/// Phase 2 of the fused cut: one pass writing the masks of keys below the bracket, counting them,
/// and collecting the candidates; nil when the candidate budget overflows.
func fusedScan(_ metrics: [Metric], masks: [MutableTensorView], starts: [Int], bracket: FusedBracket, total: Int,
               candidateLimit: Int) -> FusedScan? {
    let lowKey = bracket.lowKey, span = bracket.span, margin = bracket.margin, sampleCount = bracket.sampleCount
    // 2. One pass: masks, count below, candidates. Workers take contiguous runs of chunks.
    let plan = ChunkPlan(counts: metrics.map(\.count), elementsPerWorker: minimumChunk)
    let tasks = plan.tasks, bounds = plan.bounds, workers = plan.workers
    let budget = CandidateBudget()
    let found = SharedSlots<[UInt64]>(repeating: [], count: workers)
    let belowCounts = SharedSlots<Int>(repeating: 0, count: workers)
    let expected = Int(Double(2 * margin + 1) / Double(sampleCount) * Double(total) * 1.5) + 1024
    parallelFor(workers, parallel: workers > 1) { w in
        var list: [UInt64] = []
        list.reserveCapacity(min(candidateLimit, expected / workers + 1024))
        var below = 0
        var overflow = false
        runs: for ti in bounds[w]..<bounds[w + 1] {
            let task = tasks[ti]
            let m = metrics[task.source], mask = masks[task.source]
            let base = UInt64(starts[task.source])
            var stop = false
            // One run of keys (or raw float32 bits): mask, count below, candidates.
            func run(_ raw: UnsafePointer<UInt32>, count: Int, start: Int, magnitudeBits: Bool) {
                let out = directFloats(mask).map { $0 + start }
                if out == nil, !magnitudeBits {
                    writeBelow(UnsafeBufferPointer(start: raw, count: count), start: start, lowKey: lowKey, mask: mask)
                }
                let first = base + UInt64(start)
                let (n, hits) = scanRun(raw, count: count, magnitudeBits: magnitudeBits, lowKey: lowKey, span: span,
                                        out: out) { j, x in list.append(UInt64(x) << 32 | (first + UInt64(j))) }
                below += n
                if hits > 0 && budget.used.add(hits, ordering: .relaxed).newValue > candidateLimit { stop = true }
            }
            if case .magnitude(let v) = m.values, v.dtype == .float32, v.layout.isContiguous, let p = v.pointer,
               directFloats(mask) != nil, v.count >= task.range.upperBound {
                let bits = p.assumingMemoryBound(to: UInt32.self)
                var lo = task.range.lowerBound
                while lo < task.range.upperBound && !stop {
                    let n = min(keyRun, task.range.upperBound - lo)
                    run(bits + lo, count: n, start: lo, magnitudeBits: true)
                    lo += n
                }
            } else {
                m.forEachKeyRun32(task.range) { start, keys in
                    if stop { return }
                    guard let kp = keys.baseAddress else { return }
                    run(kp, count: keys.count, start: start, magnitudeBits: false)
                }
            }
            if stop { overflow = true; break runs }
        }
        found[w] = overflow ? [] : list
        belowCounts[w] = overflow ? -1 : below
    }
    var below = 0
    var candidates = 0
    for w in 0..<workers {
        if belowCounts[w] < 0 { return nil }
        below += belowCounts[w]
        candidates += found[w].count
    }
    return FusedScan(found: found, workers: workers, below: below, candidates: candidates)
}

/// Phase 3 of the fused cut: the (k - below)-th smallest candidate key, then the pruned candidates.
func fusedWriteCut(_ metrics: [Metric], masks: [MutableTensorView], starts: [Int], total: Int, count k: Int, scan: FusedScan) {
    let found = scan.found, workers = scan.workers, below = scan.below, candidates = scan.candidates
    // 3. The (k - below)-th smallest candidate key, then the pruned candidates: every key below it
    //    and its first `ties` equal keys in index order. Each worker's list is in index order and
    //    the lists follow each other, so the ties are dealt out to the workers in order and the
    //    workers write their zeros in parallel (scattered stores: a pass over the mask's memory).
    var keys = [UInt32](unsafeUninitializedCapacity: candidates) { buffer, initialized in
        var n = 0
        for w in 0..<workers {
            for e in found[w] where n < buffer.count {
                buffer[n] = UInt32(truncatingIfNeeded: e >> 32)
                n += 1
            }
        }
        initialized = n
    }
    let (cutKey, less) = keyAtRank(&keys, k - below - 1)
    keys = []
    var remaining = k - below - less
    var tieQuota = [Int](repeating: 0, count: workers)
    for w in 0..<workers where remaining > 0 {
        var equal = 0
        for e in found[w] where UInt32(truncatingIfNeeded: e >> 32) == cutKey { equal += 1 }
        tieQuota[w] = min(equal, remaining)
        remaining -= tieQuota[w]
    }
    let quota = tieQuota
    parallelFor(workers, parallel: workers > 1) { w in
        var ties = quota[w]
        var source = 0
        var end = metrics.count > 1 ? starts[1] : total
        var out = directFloats(masks[0]), out16 = directHalfWords(masks[0])
        found[w].withUnsafeBufferPointer { list in
            for e in list {
                let x = UInt32(truncatingIfNeeded: e >> 32)
                if x > cutKey { continue }
                if x == cutKey {
                    if ties == 0 { continue }
                    ties -= 1
                }
                let pos = Int(truncatingIfNeeded: e & 0xFFFF_FFFF)
                if pos >= end {
                    while source + 1 < metrics.count && starts[source + 1] <= pos { source += 1 }
                    end = source + 1 < metrics.count ? starts[source + 1] : total
                    out = directFloats(masks[source])
                    out16 = directHalfWords(masks[source])
                }
                if let out { out[pos - starts[source]] = 0 } else if let out16 { out16[pos - starts[source]] = 0 } else {
                    storeZero(masks[source], at: pos - starts[source])
                }
            }
        }
    }
}

/// Sigmas of the sample's rank error that the bracket [lo, hi] allows on each side. A cut outside
/// it (probability about 5e-4) falls back to the radix form.
let fusedMarginSigmas = 3.5

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

/// One run of keys (or of float32 bits whose magnitudes are the keys, with `magnitudeBits`):
/// writes out[j] = key < lowKey ? 0 : 1 when `out` is given, calls `candidate(j, key)` for the keys
/// in lowKey ... lowKey + span in order, and returns (keys below lowKey, candidates).
@inline(__always)
private func scanRun(_ raw: UnsafePointer<UInt32>, count n: Int, magnitudeBits: Bool, lowKey: UInt32, span: UInt32,
                     out: UnsafeMutablePointer<Float>?, _ candidate: (Int, UInt32) -> Void) -> (Int, Int) {
    let lov = SIMD8<UInt32>(repeating: lowKey), spv = SIMD8<UInt32>(repeating: span)
    let one = SIMD8<UInt32>(repeating: 1), zero = SIMD8<UInt32>()
    let lanes = SIMD8<UInt32>(1, 2, 4, 8, 16, 32, 64, 128)
    let abs = SIMD8<UInt32>(repeating: 0x7FFF_FFFF), inf = SIMD8<UInt32>(repeating: 0x7F80_0000)
    let top = SIMD8<UInt32>(repeating: 0x8000_0000), nan = SIMD8<UInt32>(repeating: 0xFFFF_FFFF)
    let keep = SIMD8<Float>(repeating: 1), pruned = SIMD8<Float>()
    var below = zero
    var hits = 0
    var j = 0
    while j + 8 <= n {
        var v = UnsafeRawPointer(raw + j).loadUnaligned(as: SIMD8<UInt32>.self)
        if magnitudeBits {
            let b = v & abs
            v = (b | top).replacing(with: nan, where: b .> inf)
        }
        let lt = v .< lov
        if let out { UnsafeMutableRawPointer(out + j).storeBytes(of: keep.replacing(with: pruned, where: lt), as: SIMD8<Float>.self) }
        below &+= zero.replacing(with: one, where: lt)
        let hit = (v &- lov) .<= spv
        j += 8
        if !anyLane(hit) { continue }  // most runs of 8 hold no candidate: one test and a branch
        var bits = zero.replacing(with: lanes, where: hit).wrappedSum()
        j -= 8
        while bits != 0 {
            let t = bits.trailingZeroBitCount
            candidate(j + t, v[t])
            hits += 1
            bits &= bits &- 1
        }
        j += 8
    }
    var b = Int(below.wrappedSum())
    while j < n {
        let x = magnitudeBits ? magnitudeKey(bits: raw[j]) : raw[j]
        if let out { out[j] = x < lowKey ? 0 : 1 }
        if x < lowKey { b += 1 }
        if x &- lowKey <= span { candidate(j, x); hits += 1 }
        j += 1
    }
    return (b, hits)
}

/// mask[start + j] = keys[j] < lowKey ? 0 : 1.
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
private func storeZero(_ mask: MutableTensorView, at i: Int) {
    guard i >= 0, i < mask.count, let p = mask.pointer else { return }
    storeDouble(p, mask.dtype, mask.layout.offset(ofLogicalIndex: i), 0)
}

/// The key of rank `rank` (0-based) among `keys` and how many keys are smaller: radix selection
/// (8-bit digits for fewer than 2048 keys, else 11, 11 and 10 bits); `keys` is not reordered.
func keyAtRank(_ keys: inout [UInt32], _ rank: Int) -> (key: UInt32, less: Int) {
    let n = keys.count
    if n == 0 { return (0, 0) }
    let r = min(max(rank, 0), n - 1)
    let widths: [UInt32] = n < 2048 ? [8, 8, 8, 8] : [11, 11, 10]
    return keys.withUnsafeBufferPointer { kb -> (UInt32, Int) in
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
                    for x in kb { h[Int(truncatingIfNeeded: (x &>> shift) & mask)] &+= 1 }
                } else {
                    for x in kb where x &>> (32 - used) == prefix { h[Int(truncatingIfNeeded: (x &>> shift) & mask)] &+= 1 }
                }
                var b = 0
                while b < size - 1 && less + h[b] <= r { less += h[b]; b += 1 }
                prefix = prefix &<< width | UInt32(b)
                used += width
            }
        }
        return (prefix, less)
    }
}
