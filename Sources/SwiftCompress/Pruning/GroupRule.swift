// The group rule of `mask_structure: "N:M"` and of Wanda's per-output-row ratio: the metric is cut
// into runs of `size` consecutive values (planning checked that a row of dim 0 holds a whole number
// of runs, so no run spans two rows) and in each run exactly the `prune` smallest are pruned, equal
// metrics lowest index first (SEMANTICS.md's tie rule). NaN metrics have the largest key, as in the
// ratio rule.

extension Pruning {
    /// Clears, in every run of `size` consecutive blocks of `mask` (one byte per block of `m`),
    /// the bytes of the `prune` blocks with the smallest metric (equal keys: lower index first).
    /// `size` <= 0 or `prune` <= 0 leaves the mask as it is; `prune` >= `size` clears every run.
    static func groupRule(_ m: Metric, size: Int, prune: Int, mask: UnsafeMutableBufferPointer<UInt8>) {
        let n = min(m.count, mask.count)
        guard size > 0, prune > 0, n > 0 else { return }
        let groups = n / size
        if prune >= size {
            for i in 0..<(groups * size) { mask[i] = 0 }
            return
        }
        let wide = m.needsWideKeys
        // Work items of whole groups, about 64 Ki metric values each.
        let perTask = max(1, 65536 / size)
        let tasks = (groups + perTask - 1) / perTask
        parallelFor(tasks, parallel: tasks > 1) { task in
            let g0 = task * perTask, g1 = min(groups, g0 + perTask)
            // (key, index) of one group, ordered by key then index.
            var keys = [UInt64](repeating: 0, count: size)
            var order = [(UInt64, Int)]()
            if wide { order.reserveCapacity(size) }
            for g in g0..<g1 {
                let base = g * size
                if !wide {
                    // 32-bit keys: key << 32 | offset sorts by key, then by index.
                    keys.withUnsafeMutableBufferPointer { kb in
                        m.forEachKey(base..<(base + size), wide: false) { i, k in
                            kb[i - base] = (k & 0xFFFF_FFFF) << 32 | UInt64(i - base)
                        }
                    }
                    if size <= 32 {
                        insertionSort(&keys)
                    } else {
                        keys.sort()
                    }
                    for j in 0..<prune { mask[base + Int(truncatingIfNeeded: keys[j] & 0xFFFF_FFFF)] = 0 }
                } else {
                    order.removeAll(keepingCapacity: true)
                    m.forEachKey(base..<(base + size), wide: true) { i, k in order.append((k, i)) }
                    order.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
                    for j in 0..<min(prune, order.count) { mask[order[j].1] = 0 }
                }
            }
        }
    }

    /// Sorts a small array in place (the groups of N:M: a few values each).
    @inline(__always)
    static func insertionSort(_ a: inout [UInt64]) {
        a.withUnsafeMutableBufferPointer { b in
            let n = b.count
            for i in 1..<max(n, 1) {
                let x = b[i]
                var j = i
                while j > 0 && b[j - 1] > x { b[j] = b[j - 1]; j -= 1 }
                b[j] = x
            }
        }
    }
}
