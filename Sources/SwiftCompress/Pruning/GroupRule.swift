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

    /// Whether a target's group rule writes the caller's mask directly (small groups, N:M, of a
    /// fine-grained metric with 32-bit keys): no byte mask.
    static func directGroups(_ p: PruningTargetPlan) -> Bool {
        guard p.usesGroups, p.layout.isFineGrained, p.groupSize >= 1, p.groupSize <= 64, let m = p.metric else { return false }
        return !m.needsWideKeys
    }

    /// `groupRule` writing the caller's mask (shaped like the metric) straight from runs of 32-bit
    /// keys: 0 at the `prune` smallest of every `size` consecutive values, 1 elsewhere.
    static func groupRuleDirect(_ m: Metric, size: Int, prune: Int, mask: MutableTensorView) {
        let n = min(m.count, mask.count)
        guard size > 0, n > 0 else { return }
        if size == 4, groupsOfFour(m, prune: prune, mask: mask) { return }
        let groups = n / size
        let perRun = max(1, keyRun / size) * size  // one forEachKeyRun32 run holds whole groups
        let runs = (groups * size + perRun - 1) / perRun
        let perTask = max(1, (1 << 16) / perRun)
        let tasks = (runs + perTask - 1) / perTask
        parallelFor(tasks, parallel: tasks > 1) { task in
            withUnsafeTemporaryAllocation(of: Double.self, capacity: perRun) { decided in
                withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max(size, 1)) { group in
                    guard let d = decided.baseAddress, let g = group.baseAddress else { return }
                    let r0 = task * perTask, r1 = min(runs, r0 + perTask)
                    for r in r0..<r1 {
                        let lo = r * perRun, hi = min(groups * size, lo + perRun)
                        m.forEachKeyRun32(lo..<hi) { start, keys in
                            var j = 0
                            if size <= 16 {
                                // Small groups (2:4, 4:8, ...): each element's rank in its group by
                                // (key, position), branch-free; pruned when the rank is below `prune`.
                                // Each pair once: the later element outranks on ties.
                                while j + size <= keys.count {
                                    let base = start - lo + j
                                    for e in 0..<size { g[e] = 0 }
                                    for e in 0..<size {
                                        let ke = keys[j + e]
                                        for f in (e + 1)..<max(size, e + 1) {
                                            let later = keys[j + f] >= ke  // (ke, e) < (kf, f)
                                            g[f] &+= later ? 1 : 0
                                            g[e] &+= later ? 0 : 1
                                        }
                                    }
                                    for e in 0..<size { d[base + e] = g[e] < UInt64(prune) ? 0 : 1 }
                                    j += size
                                }
                                return
                            }
                            while j + size <= keys.count {
                                for e in 0..<size { g[e] = UInt64(keys[j + e]) << 32 | UInt64(e) }
                                // insertion sort of the group: key, then position
                                for a in 1..<max(size, 1) {
                                    let x = g[a]
                                    var b = a
                                    while b > 0 && g[b - 1] > x { g[b] = g[b - 1]; b -= 1 }
                                    g[b] = x
                                }
                                for e in 0..<size { d[start - lo + j + e] = 1 }
                                for e in 0..<min(prune, size) { d[start - lo + j + Int(truncatingIfNeeded: g[e] & 0xFFFF_FFFF)] = 0 }
                                j += size
                            }
                        }
                        storeDecisions(UnsafeBufferPointer(start: d, count: hi - lo), at: lo, into: mask)
                    }
                }
            }
        }
    }

    /// mask[at + j] = values[j] (0 or 1), fast for contiguous masks of the four dtypes.
    static func storeDecisions(_ values: UnsafeBufferPointer<Double>, at start: Int, into mask: MutableTensorView) {
        guard let p = mask.pointer, start >= 0, start + values.count <= mask.count else { return }
        if mask.layout.isContiguous {
            switch mask.dtype {
            case .float32:
                let o = p.assumingMemoryBound(to: Float.self) + start
                for j in values.indices { o[j] = Float(values[j]) }
            case .float64:
                let o = p.assumingMemoryBound(to: Double.self) + start
                for j in values.indices { o[j] = values[j] }
            case .bfloat16, .float16:
                let one: UInt16 = mask.dtype == .bfloat16 ? 0x3F80 : 0x3C00
                let o = p.assumingMemoryBound(to: UInt16.self) + start
                for j in values.indices { o[j] = values[j] == 0 ? 0 : one }
            }
            return
        }
        mask.store(start..<(start + values.count)) { i in values[i - start] }
    }

    /// N:4 (2:4, 1:4, 3:4) of the level metric of a contiguous float32 / bfloat16 / float16 tensor
    /// into a contiguous mask of one of those dtypes: magnitude keys read from the bits, each
    /// group's ranks from its 6 pairs in registers. False (nothing written) when it does not apply.
    static func groupsOfFour(_ m: Metric, prune: Int, mask: MutableTensorView) -> Bool {
        guard case .magnitude(let v) = m.values, v.layout.isContiguous, let vp = v.pointer, v.dtype != .float64,
              mask.layout.isContiguous, let mp = mask.pointer, mask.dtype != .float64, mask.count == v.count else { return false }
        let groups = v.count / 4
        let perTask = 1 << 14
        let tasks = (groups + perTask - 1) / perTask
        let n = UInt32(clamping: prune)
        func run<T>(_ out: UnsafeMutablePointer<T>, pruned: T, kept: T) {
            parallelFor(tasks, parallel: tasks > 1) { task in
                var g0 = task * perTask
                let g1 = min(groups, g0 + perTask)
                // Values and mask in the same width: four groups (16-bit) or two (32-bit) per vector.
                switch (v.dtype, mask.dtype) {
                case (.bfloat16, .bfloat16), (.float16, .float16), (.bfloat16, .float16), (.float16, .bfloat16):
                    g0 = fourVector16(g0, g1, n, vp.assumingMemoryBound(to: UInt16.self), mp.assumingMemoryBound(to: UInt16.self),
                                      nanAbove: v.dtype == .bfloat16 ? 0x7F80 : 0x7C00, kept: mask.dtype == .bfloat16 ? 0x3F80 : 0x3C00)
                case (.float32, .float32):
                    g0 = fourVector32(g0, g1, n, vp.assumingMemoryBound(to: UInt32.self), mp.assumingMemoryBound(to: UInt32.self))
                default: break
                }
                switch v.dtype {
                case .float32:
                    let bits = vp.assumingMemoryBound(to: UInt32.self)
                    fourLoop(g0, g1, n, out, pruned, kept) { i in
                        let b = bits[i] & 0x7FFF_FFFF
                        return b > 0x7F80_0000 ? 0xFFFF_FFFF : b
                    }
                case .bfloat16, .float16:
                    let nan: UInt16 = v.dtype == .bfloat16 ? 0x7F80 : 0x7C00
                    let bits = vp.assumingMemoryBound(to: UInt16.self)
                    fourLoop(g0, g1, n, out, pruned, kept) { i in
                        let b = bits[i] & 0x7FFF
                        return b > nan ? 0xFFFF : UInt32(b)
                    }
                case .float64: break
                }
            }
        }
        switch mask.dtype {
        case .float32: run(mp.assumingMemoryBound(to: Float.self), pruned: 0, kept: 1)
        case .bfloat16: run(mp.assumingMemoryBound(to: UInt16.self), pruned: 0, kept: 0x3F80)
        case .float16: run(mp.assumingMemoryBound(to: UInt16.self), pruned: 0, kept: 0x3C00)
        case .float64: return false
        }
        return true
    }
}

/// Groups g0 ..< g1 of four: element e is pruned when its rank (the count of group members
/// before it in (key, position) order) is below n.
@inline(__always)
private func fourLoop<T>(_ g0: Int, _ g1: Int, _ n: UInt32, _ out: UnsafeMutablePointer<T>, _ pruned: T, _ kept: T,
                         _ key: (Int) -> UInt32) {
    @inline(__always) func lt(_ x: UInt32, _ y: UInt32) -> UInt32 { x < y ? 1 : 0 }
    @inline(__always) func le(_ x: UInt32, _ y: UInt32) -> UInt32 { x <= y ? 1 : 0 }
    for g in g0..<g1 {
        let i = g * 4
        let a = key(i), b = key(i + 1), c = key(i + 2), d = key(i + 3)
        let r0 = lt(b, a) + lt(c, a) + lt(d, a)
        let r1 = le(a, b) + lt(c, b) + lt(d, b)
        let r2 = le(a, c) + le(b, c) + lt(d, c)
        let r3 = le(a, d) + le(b, d) + le(c, d)
        out[i] = r0 < n ? pruned : kept
        out[i + 1] = r1 < n ? pruned : kept
        out[i + 2] = r2 < n ? pruned : kept
        out[i + 3] = r3 < n ? pruned : kept
    }
}

/// `fourLoop` for 16-bit magnitudes into 16-bit masks, four groups per step; returns the first
/// group it did not do (the caller's scalar loop takes the rest). The group of lane p's other
/// members come from rotating each group's 64-bit word by 16, 32 and 48 bits: rotation s holds
/// member q = (p + s) mod 4 at lane p, which precedes p (ties count) when p >= 4 - s. Keys are 15
/// bits; each is doubled (16 bits, mapped to signed order by flipping the top bit), and 1 is added
/// to a rotated member that does not precede, so one signed compare per rotation, 2r + t > 2v,
/// tells a member that comes after (r > v, or r == v and it does not precede): rank = 3 minus
/// those.
@inline(__always)
private func fourVector16(_ g0: Int, _ g1: Int, _ n: UInt32, _ bits: UnsafePointer<UInt16>, _ out: UnsafeMutablePointer<UInt16>,
                          nanAbove: UInt16, kept: UInt16) -> Int {
    let magnitude = SIMD16<Int16>(repeating: 0x7FFF), nan = SIMD16<Int16>(repeating: Int16(bitPattern: nanAbove))
    let flip = SIMD16<Int16>(repeating: Int16.min)
    let position = SIMD16<Int16>(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3)
    let zero = SIMD16<Int16>(), one = SIMD16<Int16>(repeating: 1), minusOne = SIMD16<Int16>(repeating: -1)
    let t1 = zero.replacing(with: one, where: position .< 3), t2 = zero.replacing(with: one, where: position .< 2)
    let t3 = zero.replacing(with: one, where: position .< 1)
    // Pruned when rank < n, i.e. (minus the members after it) < n - 3.
    let limit = SIMD16<Int16>(repeating: Int16(clamping: Int(n) - 3)), keep = SIMD16<Int16>(repeating: Int16(bitPattern: kept))
    var g = g0
    while g + 4 <= g1 {
        let i = g * 4
        var v = UnsafeRawPointer(bits + i).loadUnaligned(as: SIMD16<Int16>.self) & magnitude
        v = v.replacing(with: magnitude, where: v .> nan)
        let a = (v &<< 1) ^ flip
        let w = unsafeBitCast(a, to: SIMD4<UInt64>.self)
        let r1 = unsafeBitCast((w &>> 16) | (w &<< 48), to: SIMD16<Int16>.self) &+ t1
        let r2 = unsafeBitCast((w &>> 32) | (w &<< 32), to: SIMD16<Int16>.self) &+ t2
        let r3 = unsafeBitCast((w &>> 48) | (w &<< 16), to: SIMD16<Int16>.self) &+ t3
        let after = zero.replacing(with: minusOne, where: r1 .> a) &+ zero.replacing(with: minusOne, where: r2 .> a)
            &+ zero.replacing(with: minusOne, where: r3 .> a)
        UnsafeMutableRawPointer(out + i).storeBytes(of: keep.replacing(with: zero, where: after .< limit), as: SIMD16<Int16>.self)
        g += 4
    }
    return g
}

/// `fourLoop` for float32 magnitudes into float32 masks, two groups per step (see `fourVector16`);
/// a group is two 64-bit words, so its rotations take the other word of the group. NaN keys are
/// 0x7FFF_FFFF (above every other magnitude, all equal), so signed 32-bit compares order them.
@inline(__always)
private func fourVector32(_ g0: Int, _ g1: Int, _ n: UInt32, _ bits: UnsafePointer<UInt32>, _ out: UnsafeMutablePointer<UInt32>) -> Int {
    let magnitude = SIMD8<Int32>(repeating: 0x7FFF_FFFF), inf = SIMD8<Int32>(repeating: 0x7F80_0000)
    let position = SIMD8<Int32>(0, 1, 2, 3, 0, 1, 2, 3)
    let before1 = position .>= 3, before2 = position .>= 2, before3 = position .>= 1
    let prune = SIMD8<Int32>(repeating: Int32(clamping: n)), keep = SIMD8<Int32>(repeating: 0x3F80_0000)
    let zero = SIMD8<Int32>(), one = SIMD8<Int32>(repeating: 1)
    var g = g0
    while g + 2 <= g1 {
        let i = g * 4
        var v = UnsafeRawPointer(bits + i).loadUnaligned(as: SIMD8<Int32>.self) & magnitude
        v = v.replacing(with: magnitude, where: v .> inf)
        let w = unsafeBitCast(v, to: SIMD4<UInt64>.self)
        let other = SIMD4<UInt64>(w[1], w[0], w[3], w[2])
        let r1 = unsafeBitCast((w &>> 32) | (other &<< 32), to: SIMD8<Int32>.self)
        let r2 = unsafeBitCast(other, to: SIMD8<Int32>.self)
        let r3 = unsafeBitCast((w &<< 32) | (other &>> 32), to: SIMD8<Int32>.self)
        let c1 = (before1 .& (r1 .<= v)) .| (.!before1 .& (r1 .< v))
        let c2 = (before2 .& (r2 .<= v)) .| (.!before2 .& (r2 .< v))
        let c3 = (before3 .& (r3 .<= v)) .| (.!before3 .& (r3 .< v))
        let rank = zero.replacing(with: one, where: c1) &+ zero.replacing(with: one, where: c2) &+ zero.replacing(with: one, where: c3)
        UnsafeMutableRawPointer(out + i).storeBytes(of: keep.replacing(with: zero, where: rank .< prune), as: SIMD8<Int32>.self)
        g += 2
    }
    return g
}
