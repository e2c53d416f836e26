// Pruning over tensors sharded across ranks (torch DTensor, FSDP2, tensor parallel, or any
// communicator of a C++ trainer): every rank ranks its local shard, and the exact cut of the
// unsharded model is found with all-reduces of small integer summaries, never by moving weights.
//
// The cut of a selection (a ratio target, a global group, a dependency part, a threshold fallback)
// is the first k blocks of the order (key, source, global block index) — the single-process
// order of Selection.swift — found by radix selection in rounds:
//   1. keys: 8-bit digits of the order-preserving keys (4 rounds for 32-bit keys, 8 for 64-bit):
//      each rank histograms the digit of its keys that share the prefix found so far (256 counts),
//      the histograms are summed across ranks, every rank picks the same bucket;
//   2. positions, only when the cut takes some but not all blocks with the cut key K: the same
//      radix selection over the global positions (source base + global block index, from the shard
//      offsets) of the blocks with key K, which finds the last position P the cut takes.
// A rank then prunes its blocks with key < K, and key == K at position <= P. Every round's summary
// has a size that all ranks derive from reduced values only, so all ranks make the same calls.
//
// Blocks that span a sharded dim (`out_channel` of a weight sharded along dim 1: a row-parallel
// Linear) have their level / L1 / L2 norms finished across ranks first: each rank's partial sums
// (of |x|, or x² for L2, in Double) per global block go in its own slot of one Int64 round (their
// bit patterns; the other ranks' slots are 0), so every rank gets every rank's partial sums bit
// for bit and adds them in rank order (then the square root for L2). The norms are then the
// unsharded model's whenever the partial sums are exact (docs/distributed.md); otherwise they may
// differ from one process's in the last bits, as the single-process sum's order is not kept.
//
// Round 0 is a status round of fixed size (world + 3): a rank whose local step (checks, plan,
// metrics) failed sets its flag; every rank then raises, the failing ones with their own error,
// the others with an error naming the failing ranks. It also checks that all ranks hold the same
// target list (a fingerprint and its square summed: equal sums mean equal fingerprints).

/// Where one rank's tensor lies in the unsharded ("global") tensor: a box of the global tensor
/// starting at `offsets` with the local tensor's shape.
public struct ShardPlacement: Sendable, Equatable {
    /// The unsharded tensor's shape (same rank as the local tensor).
    public var globalShape: [Int]
    /// The global coordinates of the local tensor's first element, one per dim.
    public var offsets: [Int]
    /// Whether this rank's copy counts in the global statistics. Exactly one rank holding a given
    /// block must count it: true on every rank for `Shard` placements, true on one replica only for
    /// `Replicate` (e.g. mesh coordinate 0 on the replicated mesh dims).
    public var counted: Bool

    /// A placement; checked against the target by `Pruning.generateMasksDistributed`.
    public init(globalShape: [Int], offsets: [Int], counted: Bool) {
        self.globalShape = globalShape
        self.offsets = offsets
        self.counted = counted
    }
}

/// The reductions a communicator performs in place, on every rank, over all ranks.
public enum DistributedReduceOp: Int32, Sendable {
    /// Elementwise sum of `Int64` values.
    case sumInt64 = 0
    /// Elementwise minimum of `Double` values.
    case minFloat64 = 1
    /// Elementwise maximum of `Double` values.
    case maxFloat64 = 2
}

/// The caller's collective: `allReduce(buffer, count, op)` reduces `count` elements (8 bytes each:
/// Int64 for `.sumInt64`, Double otherwise) at `buffer` in place across all `worldSize` ranks and
/// returns nil, or returns an error message (the call then throws). Every rank must make the same
/// sequence of calls with the same counts; the engine guarantees that as long as each rank is
/// handed the same target list.
public struct DistributedCommunicator {
    /// This rank, 0 ..< worldSize.
    public var rank: Int
    /// Number of ranks (>= 1).
    public var worldSize: Int
    /// The in-place all-reduce (see the type's description).
    public var allReduce: (UnsafeMutableRawPointer, Int, DistributedReduceOp) -> String?
    /// Number of all-reduce calls made through this communicator.
    public private(set) var rounds = 0
    /// Bytes this rank contributed to all-reduces (8 per element).
    public private(set) var bytes = 0

    /// A communicator over the caller's collective.
    public init(rank: Int, worldSize: Int, allReduce: @escaping (UnsafeMutableRawPointer, Int, DistributedReduceOp) -> String?) {
        self.rank = rank
        self.worldSize = worldSize
        self.allReduce = allReduce
    }

    /// Reduces `values` in place (sum of Int64).
    mutating func sum(_ values: inout [Int64], engine: EngineError.Engine) throws(EngineError) {
        try reduce(&values, .sumInt64, engine: engine)
    }

    /// Reduces `values` in place with `op` (8-byte elements).
    mutating func reduce<T>(_ values: inout [T], _ op: DistributedReduceOp, engine: EngineError.Engine) throws(EngineError) {
        if values.isEmpty { return }
        rounds += 1
        bytes += values.count * 8
        let fn = allReduce
        let n = values.count
        let failure: String? = values.withUnsafeMutableBytes { raw in
            guard let p = raw.baseAddress else { return nil }
            return fn(p, n, op)
        }
        if let failure {
            throw EngineError(engine, .distributed, target: "", "rank \(rank) of \(worldSize): the all-reduce failed: \(failure)")
        }
    }

    /// The status round (see the file's description): `failure` is this rank's local error, if
    /// any; `fingerprint` describes what every rank must agree on; `step` names what the ranks ran
    /// before the round, in the error of the passing ranks. Throws `failure` itself (prefixed
    /// `rank r of N: `) on a failing rank, an error naming the failing ranks on the others, a
    /// `.distributed` error when the fingerprints or world sizes differ.
    public mutating func statusRound(failure: EngineError?, fingerprint: UInt64, engine: EngineError.Engine,
                                     step: String = "the local step") throws(EngineError) {
        let world = worldSize
        guard world >= 1, rank >= 0, rank < world else {
            throw EngineError(engine, .distributed, target: "", "rank \(rank) is outside 0..<\(world) (world size \(world))")
        }
        var buf = [Int64](repeating: 0, count: world + 3)
        let h = Int64(fingerprint & 0xF_FFFF)
        if failure != nil { buf[rank] = 1 } else { buf[world] = h; buf[world + 1] = h * h }
        buf[world + 2] = 1
        try sum(&buf, engine: engine)
        if let failure {
            var f = failure
            f.message = "rank \(rank) of \(world): " + f.message
            throw f
        }
        let failed = (0..<world).filter { buf[$0] != 0 }
        if !failed.isEmpty {
            let names = failed.map(String.init).joined(separator: ", ")
            throw EngineError(engine, .distributed, target: "",
                              "rank\(failed.count > 1 ? "s" : "") \(names) of \(world) failed in \(step) (\(failed.count > 1 ? "they raise" : "it raises") the error); every rank stops here")
        }
        if buf[world + 2] != Int64(world) {
            throw EngineError(engine, .distributed, target: "",
                              "\(buf[world + 2]) ranks took part in the status round, but this rank (\(rank)) was told the world has \(world)")
        }
        let n = Int64(world)
        if buf[world] != n * h || buf[world + 1] != n * h * h {
            throw EngineError(engine, .distributed, target: "",
                              "the ranks were handed different target lists (names, global shapes or settings differ); every rank must bind the same targets")
        }
    }
}

/// FNV-1a over the UTF-8 of `text`.
func fingerprint(_ text: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in text.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
    return h ^ (h >> 20) ^ (h >> 40)
}

/// Local block index -> block index in the global metric (row-major), for a box shard.
struct ShardBlockMap: Sendable {
    var localShape: [Int]
    var offsets: [Int]
    var globalStrides: [Int]
    /// When set, the map of these local indices instead (a dependency part: explicit globals).
    var explicit: [Int]? = nil

    @inline(__always)
    func global(_ i: Int) -> Int {
        if let e = explicit { return i >= 0 && i < e.count ? e[i] : 0 }
        var rem = i
        var g = 0
        var d = localShape.count - 1
        while d >= 0 {
            let n = localShape[d]
            let c = n > 0 ? rem % n : 0
            rem = n > 0 ? rem / n : 0
            g += (c + offsets[d]) * globalStrides[d]
            d -= 1
        }
        return g
    }
}

/// One rank's part of a selection's source.
struct DistSource {
    var metric: Metric
    var counted: Bool
    var map: ShardBlockMap
    /// Position of the source's global block 0 in the selection's order.
    var base: Int
    /// Where the cut goes: a target's byte mask, or a dependency part's slice (local indices).
    var target: Int
    var localIndices: [Int]? = nil
}

/// The cut a selection found (the same on every rank).
enum DistCut: Equatable {
    case none
    case all
    /// key < K pruned; key == K pruned at positions <= `upTo` (nil: every one).
    case below(key: UInt64, upTo: Int?)
}

/// A selection in progress: radix state over keys, then positions.
final class DistSelection {
    let sources: [DistSource]
    let k: Int
    let wide: Bool
    let keyBits: Int
    let posBits: Int
    var cut: DistCut? = nil
    /// Started by a weighted selection, which applies its cut.
    var followUp = false
    var inKeys = true
    var prefix: UInt64 = 0
    var used = 0
    var below = 0
    var key: UInt64 = 0
    var taken = 0

    init(sources: [DistSource], k: Int, globalTotal: Int, wide: Bool? = nil) {
        self.sources = sources
        self.k = k
        self.wide = wide ?? sources.contains { $0.metric.needsWideKeys }
        self.keyBits = self.wide ? 64 : 32
        var bits = 8
        while bits < 63 && (globalTotal - 1) >> bits > 0 { bits += 8 }
        self.posBits = min(bits, 64)
        if k <= 0 { cut = DistCut.none } else if k >= globalTotal { cut = .all }
    }

    /// A selection that only places ties: the first `taken` blocks (by global position) with key
    /// `key` (1 <= taken < their count), the positions phase of a weighted selection's source.
    convenience init(ties source: DistSource, key: UInt64, taken: Int, globalTotal: Int, wide: Bool) {
        self.init(sources: [source], k: taken, globalTotal: globalTotal, wide: wide)
        cut = nil
        inKeys = false
        self.key = key
        self.taken = taken
    }

    static let digitBits = 8
    static let bins = 1 << digitBits

    /// This rank's histogram for the next round.
    func histogram() -> [Int64] {
        let bins = DistSelection.bins
        struct Task { var source: Int; var range: Range<Int> }
        var tasks: [Task] = []
        for (s, src) in sources.enumerated() where src.counted {
            for r in metricChunks(src.metric.count) { tasks.append(Task(source: s, range: r)) }
        }
        let slots = SharedSlots<[Int]>(repeating: [], count: tasks.count)
        let total = tasks.reduce(0) { $0 + $1.range.count }
        let inKeys = self.inKeys, wide = self.wide, keyBits = self.keyBits, used = self.used, prefix = self.prefix
        let key = self.key, posBits = self.posBits
        let sources = self.sources
        parallelFor(tasks.count, parallel: total >= 1 << 17) { ti in
            let t = tasks[ti]
            let src = sources[t.source]
            var h = [Int](repeating: 0, count: bins)
            h.withUnsafeMutableBufferPointer { hp in
                if inKeys {
                    let shift = UInt64(keyBits - used - DistSelection.digitBits)
                    let psh = UInt64(keyBits - used)
                    if !wide {
                        let sh = UInt32(shift)
                        src.metric.forEachKeyRun32(t.range) { _, keys in
                            if used == 0 {
                                for x in keys { hp[Int(truncatingIfNeeded: (x &>> sh) & 0xFF)] &+= 1 }
                            } else {
                                let p32 = UInt32(truncatingIfNeeded: prefix), ps = UInt32(psh)
                                for x in keys where x &>> ps == p32 { hp[Int(truncatingIfNeeded: (x &>> sh) & 0xFF)] &+= 1 }
                            }
                        }
                    } else {
                        src.metric.forEachKey(t.range, wide: true) { _, x in
                            if used > 0 && x &>> psh != prefix { return }
                            hp[Int(truncatingIfNeeded: (x &>> shift) & 0xFF)] &+= 1
                        }
                    }
                } else {
                    let shift = posBits - used - DistSelection.digitBits
                    let psh = posBits - used
                    src.metric.forEachKey(t.range, wide: wide) { i, x in
                        guard x == key else { return }
                        let pos = UInt64(src.base + src.map.global(i))
                        if used > 0 && (psh >= 64 ? 0 : pos >> UInt64(psh)) != prefix { return }
                        hp[Int(truncatingIfNeeded: (pos >> UInt64(shift)) & 0xFF)] &+= 1
                    }
                }
            }
            slots[ti] = h
        }
        var out = [Int64](repeating: 0, count: bins)
        for ti in 0..<tasks.count {
            let h = slots[ti]
            for b in 0..<min(bins, h.count) where h[b] != 0 { out[b] &+= Int64(h[b]) }
        }
        return out
    }

    /// Consumes the reduced histogram of this round.
    func consume(_ h: ArraySlice<Int64>) {
        let want = inKeys ? k : taken
        var bucket = 0
        var before = below
        let base = h.startIndex
        while bucket < DistSelection.bins - 1 && before + Int(h[base + bucket]) < want {
            before += Int(h[base + bucket])
            bucket += 1
        }
        let ties = Int(h[base + bucket])
        below = before
        prefix = (prefix << UInt64(DistSelection.digitBits)) | UInt64(bucket)
        used += DistSelection.digitBits
        if inKeys {
            guard used >= keyBits else { return }
            key = prefix
            taken = k - below
            if taken >= ties {
                cut = .below(key: key, upTo: nil)
                return
            }
            inKeys = false
            prefix = 0
            used = 0
            below = 0
        } else if used >= posBits {
            cut = .below(key: key, upTo: Int(truncatingIfNeeded: prefix))
        }
    }

    /// Source `s`'s local cut in the single-process form (`SourceCut` over its local metric).
    func localCut(_ s: Int) -> SourceCut {
        guard let cut else { return .none }
        return distLocalCut(cut, sources[s], wide: wide)
    }
}

/// A found cut as the single-process `SourceCut` of one source's local metric: the ties with
/// global position <= `upTo` are, in each chunk, its first ties (local order follows global order).
func distLocalCut(_ cut: DistCut, _ src: DistSource, wide: Bool) -> SourceCut {
    switch cut {
    case .none: return .none
    case .all: return src.metric.count > 0 ? .all : .none
    case .below(let key, nil): return .below(key: key, wide: wide, ties: .prune)
    case .below(let key, let upTo?):
        let chunks = metricChunks(src.metric.count)
        let taken = SharedSlots<Int>(repeating: 0, count: chunks.count)
        parallelFor(chunks.count, parallel: chunks.count > 1) { c in
            var n = 0, all = 0
            src.metric.forEachKey(chunks[c], wide: wide) { i, x in
                guard x == key else { return }
                all += 1
                if src.base + src.map.global(i) <= upTo { n += 1 }
            }
            taken[c] = n == all && all > 0 ? allTies : n
        }
        let counts = (0..<chunks.count).map { taken[$0] }
        if counts.allSatisfy({ $0 == 0 }) { return .below(key: key, wide: wide, ties: .keep) }
        return .below(key: key, wide: wide, ties: .first(counts))
    }
}

/// The weighted form of a global group across ranks (members of different block sizes or with
/// min/max bounds), as `weightedCuts` in Selection.swift: per-source histograms summed over the
/// ranks (256 per member per round), the first bucket whose clamped weight does not fit, then the
/// ties walked in member order; a member whose ties are taken in part gets a ties selection over
/// its global positions, and one whose clamp changes its count gets an ordered selection of its
/// own (both run in later rounds).
final class WeightedDistSelection {
    let sources: [DistSource]
    let weights: [Int], lo: [Int], hi: [Int], counts: [Int]
    let budget: Int
    let wide: Bool
    let keyBits: Int
    /// Per-source probes: single-source selections whose key-phase histograms this one uses.
    let probes: [DistSelection]
    var done = false
    var prefix: UInt64 = 0
    var used = 0
    var below: [Int]
    /// Per source: the cut, once known, or the selection that will find it.
    var results: [DistCut?]
    var children: [DistSelection?]

    init(sources: [DistSource], weights: [Int], lo: [Int], hi: [Int], counts: [Int], budget: Int) {
        self.sources = sources
        self.weights = weights
        self.lo = lo
        self.hi = hi
        self.counts = counts
        self.budget = budget
        let wide = sources.contains { $0.metric.needsWideKeys }
        self.wide = wide
        self.keyBits = wide ? 64 : 32
        probes = sources.indices.map { j in DistSelection(sources: [sources[j]], k: 1, globalTotal: 2, wide: wide) }
        below = [Int](repeating: 0, count: sources.count)
        results = [DistCut?](repeating: nil, count: sources.count)
        children = [DistSelection?](repeating: nil, count: sources.count)
    }

    var bins: Int { sources.count * DistSelection.bins }

    private func consumed(_ c: [Int]) -> Int {
        var total = 0
        for s in sources.indices { total &+= min(max(c[s], lo[s]), hi[s]) &* weights[s] }
        return total
    }

    func histogram() -> [Int64] {
        var out: [Int64] = []
        out.reserveCapacity(bins)
        for p in probes {
            p.inKeys = true
            p.prefix = prefix
            p.used = used
            out.append(contentsOf: p.histogram())
        }
        return out
    }

    /// Consumes the summed histograms; returns the selections it starts (to run in later rounds).
    func consume(_ h: ArraySlice<Int64>) -> [DistSelection] {
        let t = sources.count, nb = DistSelection.bins, base0 = h.startIndex
        @inline(__always) func bin(_ s: Int, _ b: Int) -> Int { Int(h[base0 + s * nb + b]) }
        var cum = below
        var found = -1
        var c = cum
        for b in 0..<nb {
            var any = false
            for s in 0..<t where bin(s, b) != 0 { c[s] = cum[s] + bin(s, b); any = true }
            if !any { continue }
            if consumed(c) > budget { found = b; break }
            cum = c
        }
        if found < 0 {  // every block fits (only at the first digit)
            done = true
            var started: [DistSelection] = []
            for s in 0..<t { started += finish(s, unclamped: counts[s], cut: .all) }
            return started
        }
        below = cum
        prefix = (prefix << UInt64(DistSelection.digitBits)) | UInt64(found)
        used += DistSelection.digitBits
        if used < keyBits { return [] }
        // Full resolution: `prefix` is the exact key K; walk its ties in member order.
        done = true
        let key = prefix
        var remaining = budget - consumed(below)
        var stopped = false
        var started: [DistSelection] = []
        for s in 0..<t {
            let base = below[s]
            let ties = bin(s, found)
            var taken = 0
            if !stopped && ties > 0 {
                let start = max(base, lo[s])
                let payable = max(0, min(base + ties, hi[s]) - start)
                let affordable = weights[s] > 0 ? remaining / weights[s] : Int.max
                if payable <= affordable {
                    taken = ties
                    remaining -= payable * weights[s]
                } else {
                    taken = max(0, lo[s] - base) + affordable
                    stopped = true
                }
            }
            let cut: DistCut
            var tieChild: DistSelection? = nil
            if taken <= 0 { cut = .below(key: key, upTo: -1) } else if taken >= ties { cut = .below(key: key, upTo: nil) } else {
                cut = .below(key: key, upTo: nil)  // replaced by the ties selection's cut
                tieChild = DistSelection(ties: sources[s], key: key, taken: taken, globalTotal: counts[s], wide: wide)
                tieChild?.followUp = true
            }
            let p = min(max(base + taken, lo[s]), hi[s])
            if p == base + taken, p > 0, p < counts[s], let tc = tieChild {
                children[s] = tc
                started.append(tc)
            } else {
                started += finish(s, unclamped: base + taken, cut: cut)
            }
        }
        return started
    }

    /// `finish` of Selection.swift: the member's clamp; a changed count is selected on its own.
    private func finish(_ s: Int, unclamped: Int, cut: DistCut) -> [DistSelection] {
        let p = min(max(unclamped, lo[s]), hi[s])
        if p == 0 { results[s] = DistCut.none; return [] }
        if p >= counts[s] { results[s] = .all; return [] }
        if p == unclamped { results[s] = cut; return [] }
        var src = sources[s]
        src.base = 0
        let child = DistSelection(sources: [src], k: p, globalTotal: counts[s], wide: src.metric.needsWideKeys)
        child.followUp = true
        children[s] = child
        return child.cut == nil ? [child] : []
    }

    /// Member `s`'s local cut (after every round).
    func localCut(_ s: Int) -> SourceCut {
        if let child = children[s] {
            guard let cut = child.cut else { return .none }
            return distLocalCut(cut, child.sources[0], wide: child.wide)
        }
        guard let cut = results[s] else { return .none }
        return distLocalCut(cut, sources[s], wide: wide)
    }
}

extension Pruning {
    /// `generateMasks` over targets whose tensors are shards of larger tensors spread over the
    /// ranks of `communicator`: every rank calls it with its local targets (the same list, in the
    /// same order, with the same settings), `shards[i]` saying where target i's tensor lies in the
    /// unsharded tensor (nil: not sharded — the whole tensor on every rank, counted on rank 0).
    /// Each rank's masks are the local shards of the masks `generateMasks` writes for the
    /// unsharded tensors, bit for bit, ties included. Only summaries cross the communicator (see
    /// docs/distributed.md): a status round of world + 3 Int64, a partial-sums round of world x
    /// (blocks) Int64 when blocks span a sharded dim, one Int64 per threshold target with bounds,
    /// then rounds of 256 Int64 per selection still open (4 rounds for float32 metrics, 8 for
    /// float64 ones, up to 8 more when the cut splits the blocks of one key).
    ///
    /// Supported across shards: threshold, dependency groups, global groups (equal block sizes, and
    /// the weighted form: mixed block sizes or min/max bounds), ratio, N:M / Wanda groups whose rows
    /// are not split; any metric whose blocks lie inside one shard, and the level / L1 / L2 norms of
    /// blocks that span a sharded dim (e.g. `out_channel` of a weight split along dim 1: the ranks'
    /// partial sums added in rank order, equal to one process's norms whenever the partial sums are
    /// exact). Rejected: a supplied / Wanda / FPGM metric of blocks that span a sharded dim, blocks
    /// cut by a shard along a dim they do not reduce, FPGM and `align` on split targets.
    ///
    /// - Throws: on this rank, its own error (prefixed with the rank) when its targets fail the
    ///   checks; on the other ranks, `.distributed` naming the failing ranks; `.distributed` when
    ///   the ranks' target lists differ or an all-reduce fails. Masks are written only when every
    ///   rank passed its checks.
    @discardableResult
    public static func generateMasksDistributed(_ targets: [PruningTarget], shards: [ShardPlacement?], metric kind: PruningMetricKind,
                                                communicator: inout DistributedCommunicator) throws(EngineError) -> (rounds: Int, bytes: Int) {
        var local: DistributedPlan? = nil
        var failure: EngineError? = nil
        var print = ""
        do throws(EngineError) {
            let p = try DistributedPlan(targets, shards: shards, metric: kind, rank: communicator.rank)
            print = p.fingerprintText
            local = p
        } catch {
            failure = error
        }
        try communicator.statusRound(failure: failure, fingerprint: fingerprint(print), engine: .pruning)
        guard let plan = local else { return (communicator.rounds, communicator.bytes) }
        try plan.run(&communicator)
        return (communicator.rounds, communicator.bytes)
    }
}

/// One rank's plan: local plans, global layouts, metrics, and the selections to run.
final class DistributedPlan {
    let targets: [PruningTarget]
    var plans: [PruningTargetPlan]
    let kind: PruningMetricKind
    let masks: BlockMasks
    var metrics: [Metric?]
    var maps: [ShardBlockMap]
    var globalLayouts: [BlockLayout]
    var counted: [Bool]
    /// Targets whose blocks span a sharded dim: their metrics are this rank's partial sums until
    /// the partial-sums round finishes them.
    var spanning: [Bool]
    /// Whether this rank's partial sums of a spanning target go into the partial-sums round (its
    /// copy counts: `ShardPlacement.counted`); `counted` is then true on the first part's rank only.
    var contributes: [Bool]
    var selections: [DistSelection] = []
    /// Global groups in the weighted form (their follow-up selections go to `selections`).
    var weighted: [WeightedDistSelection] = []
    /// Threshold targets with bounds (they need the global count below the threshold).
    var boundedThresholds: [Int] = []
    var fingerprintText = ""
    /// Dependency groups: members and the shared byte mask of the local blocks.
    var dependencies: [(members: [Int], shared: UnsafeMutableBufferPointer<UInt8>)] = []

    deinit { for d in dependencies { d.shared.deallocate() } }

    init(_ targets: [PruningTarget], shards: [ShardPlacement?], metric kind: PruningMetricKind, rank: Int) throws(EngineError) {
        self.targets = targets
        self.kind = kind
        guard shards.count == targets.count else {
            throw EngineError(.pruning, .distributed, target: "", "\(shards.count) shard placements for \(targets.count) targets")
        }
        // Local plans (as `Pruning.plan`, without the dependency-part check, which needs the global count).
        var index: [String: Int] = [:]
        var plans: [PruningTargetPlan] = []
        for (ti, t) in targets.enumerated() {
            let key = t.moduleName + "\u{0}" + t.targetName
            if index[key] != nil { throw EngineError(.pruning, .duplicateTarget, target: t.qualifiedName, "appears more than once in the target list") }
            index[key] = ti
            plans.append(try Pruning.planTarget(t, metric: kind))
        }
        try Pruning.checkGroups(targets, plans)
        try Pruning.checkDependencyShapes(targets, plans)
        try Pruning.resolveAlignSources(targets, &plans, index: index)
        self.plans = plans
        // Global layouts and block maps.
        var maps: [ShardBlockMap] = []
        var layouts: [BlockLayout] = []
        var counted: [Bool] = []
        var spanning: [Bool] = []
        var contributes: [Bool] = []
        var text = "metric=\(kind.rawValue);"
        for (ti, t) in targets.enumerated() {
            let name = plans[ti].name
            let localShape = t.tensor.shape
            let place = shards[ti] ?? ShardPlacement(globalShape: localShape, offsets: [Int](repeating: 0, count: localShape.count), counted: rank == 0)
            guard place.globalShape.count == localShape.count, place.offsets.count == localShape.count else {
                throw EngineError(.pruning, .shapeMismatch, target: name,
                                  "shard placement of rank \(place.globalShape.count) (offsets \(place.offsets)) for a local tensor of shape \(localShape)")
            }
            var split = false, spans = false
            var firstPart = true  // this rank holds the first part of its blocks along every spanned split dim
            for d in 0..<localShape.count {
                let g = place.globalShape[d], o = place.offsets[d], l = localShape[d]
                guard g >= 0, o >= 0, l <= g, o <= g - l else {
                    throw EngineError(.pruning, .shapeMismatch, target: name,
                                      "the local shape \(localShape) at offsets \(place.offsets) does not fit in the global shape \(place.globalShape) (dim \(d))")
                }
                if l != g { split = true }
            }
            let global = try BlockLayout(shape: place.globalShape, granularity: t.settings.granularity, isParameter: t.isParameter,
                                         levelDefault: kind == .level || kind == .wanda, target: name)
            let localLayout = plans[ti].layout
            var blockOffsets = [Int](repeating: 0, count: localShape.count)
            for d in 0..<localShape.count where localShape[d] != place.globalShape[d] {
                let gran = "\(t.settings.granularity)"
                if global.kernel[d] == -1 {
                    guard t.settings.isActive else { continue }
                    // The block spans the sharded dim: its norm is finished from the ranks' partial sums.
                    let summed = (kind == .level || kind == .l1Norm || kind == .l2Norm) && t.metric == nil
                    guard summed else {
                        throw EngineError(.pruning, .distributed, target: name, key: "granularity",
                                          "the blocks of granularity \(gran) span dim \(d), along which the tensor is sharded (local \(localShape) of \(place.globalShape)); only the level / L1 / L2 norms that swiftcompress computes are summed across ranks, not a \(t.metric != nil ? "supplied" : kind.rawValue) metric. Shard along a dim the blocks do not reduce (e.g. dim 0 for 'out_channel')")
                    }
                    spans = true
                    if place.offsets[d] != 0 || localShape[d] == 0 { firstPart = false }
                    continue
                }
                let step = global.steps[d]
                if step > 0 && (place.offsets[d] % step != 0 || localShape[d] % step != 0) && t.settings.isActive {
                    throw EngineError(.pruning, .distributed, target: name, key: "granularity",
                                      "the shard along dim \(d) (offset \(place.offsets[d]), size \(localShape[d])) cuts blocks of size \(step)")
                }
                blockOffsets[d] = step > 0 ? place.offsets[d] / step : 0
            }
            var strides = [Int](repeating: 0, count: localShape.count)
            var acc = 1
            for d in stride(from: localShape.count - 1, through: 0, by: -1) {
                strides[d] = acc
                acc *= global.metricShape[d]
            }
            if split && t.settings.isActive {
                let p = plans[ti]
                if kind == .fpgm {
                    throw EngineError(.pruning, .distributed, target: name, "FPGM ranks a block against every other block of the target; it is not supported on a sharded tensor")
                }
                if p.usesAlign {
                    throw EngineError(.pruning, .distributed, target: name, key: "align", "align is not supported on a sharded tensor")
                }
                let rankN = localShape.count
                if p.usesGroups, rankN >= 1, localShape[rankN - 1] != place.globalShape[rankN - 1] {
                    throw EngineError(.pruning, .distributed, target: name, key: "mask_structure",
                                      "groups run along the last dim, along which the tensor is sharded; shard along another dim")
                }
            }
            if plans[ti].usesAlign, let si = plans[ti].alignSource, si < ti || si > ti {
                // An aligned target's source must not be split either (checked when the source is seen).
                if let sp = shards[si], sp.globalShape != targets[si].tensor.shape {
                    throw EngineError(.pruning, .distributed, target: name, key: "align", "align to a sharded source is not supported")
                }
            }
            maps.append(ShardBlockMap(localShape: localLayout.metricShape, offsets: blockOffsets, globalStrides: strides))
            layouts.append(global)
            // A block that spans shards lies on several ranks: the one holding its first part counts it.
            counted.append(place.counted && (!spans || firstPart))
            contributes.append(place.counted)
            spanning.append(spans)
            text += "\(t.qualifiedName)|\(place.globalShape)|\(t.settings)|\(t.tensor.dtype == .float64)|\(t.metric != nil)|\(spans);"
        }
        self.spanning = spanning
        self.contributes = contributes
        self.maps = maps
        self.globalLayouts = layouts
        self.counted = counted
        self.fingerprintText = text
        // Dependency parts against the global count.
        var blocksByGroup: [PruningGroupID: (Int, Int)] = [:]
        for (ti, t) in targets.enumerated() where plans[ti].inDependency {
            guard let gid = t.settings.dependencyGroupID else { continue }
            let b = t.settings.internalMetricBlock ?? 1
            blocksByGroup[gid] = (pruningLCM(blocksByGroup[gid]?.0 ?? 1, b), ti)
        }
        for (gid, (parts, ti)) in blocksByGroup {
            let n = layouts[ti].blockCount
            if parts <= 0 || n % parts != 0 {
                throw EngineError(.pruning, .invalidSetting, target: plans[ti].name, key: "internal_metric_block",
                                  "dependency group \(gid) splits its metric of \(n) values into \(parts) parts, which does not divide it")
            }
        }
        // Fine-grained targets whose mask is one cut (a ratio or a global group): written straight
        // from the cut into the caller's mask, as in `computeBlockMasks`.
        let isDirect = plans.indices.map { ti in
            let p = plans[ti]
            return p.layout.isFineGrained && p.metric != nil && (p.usesRatio || p.inGlobal) && targets[ti].settings.sparseThreshold == nil
        }
        let byteMask = plans.indices.map { ti in
            let p = plans[ti]
            return !isDirect[ti] && (p.inDependency || p.inGlobal || p.usesRatio || p.usesAlign || p.usesGroups
                                     || targets[ti].settings.sparseThreshold != nil)
        }
        masks = BlockMasks(counts: plans.map { $0.layout.blockCount }, byteMask: byteMask, isDirect: isDirect)
        // Metrics (local; partial sums where the blocks span shards).
        let slots = Pruning.computeMetrics(targets, plans: plans, metric: kind, partial: spanning)
        metrics = (0..<plans.count).map { slots[$0] }
        // Dependency groups: the members' shards of the metric must match.
        for group in Pruning.groupMembers(targets, plans: plans).dependency {
            let members = group.filter { metrics[$0] != nil }
            guard let first = members.first, let g = targets[first].settings.dependencyGroupID else { continue }
            for ti in members.dropFirst() where maps[ti].offsets != maps[first].offsets || counted[ti] != counted[first]
                || globalLayouts[ti].squeezedShape != globalLayouts[first].squeezedShape {
                throw EngineError(.pruning, .distributed, target: plans[ti].name, key: "dependency_group_id",
                                  "dependency group \(g): this member's shard of the metric differs from \(plans[first].name)'s (every member must hold the same channels on a rank)")
            }
        }
    }

    /// The partial-sums round (see the file's description): one slot of Int64 per rank, each the
    /// bit patterns of the rank's partial sums of every spanning target's global blocks (0 where
    /// it holds no part or does not count its copy); then each local block's norm is the sum of
    /// the slots in rank order (the square root of it for L2).
    private func finishSpanningMetrics(_ comm: inout DistributedCommunicator) throws(EngineError) {
        let spans = plans.indices.filter { spanning[$0] && metrics[$0] != nil }
        if spans.isEmpty { return }
        let world = comm.worldSize, rank = comm.rank
        var starts: [Int] = [], total = 0
        for ti in spans {
            starts.append(total)
            let (t, o) = total.addingReportingOverflow(globalLayouts[ti].blockCount)
            guard !o else { throw EngineError(.pruning, .distributed, target: plans[ti].name, "the global block counts of the targets whose blocks span shards overflow") }
            total = t
        }
        // The same on every rank (global shapes and world size agree after the status round).
        let (size, overflow) = world.multipliedReportingOverflow(by: total)
        guard !overflow, size <= 1 << 40 else {
            throw EngineError(.pruning, .distributed, target: "",
                              "the partial-sums round of blocks that span shards would hold \(world) ranks x \(total) blocks int64 values, too many")
        }
        var buf = [Int64](repeating: 0, count: size)
        for (j, ti) in spans.enumerated() where contributes[ti] {
            guard case .dense(let a)? = metrics[ti]?.values else { continue }
            let base = rank * total + starts[j]
            for i in a.indices {
                let g = maps[ti].global(i)
                if g >= 0 && g < globalLayouts[ti].blockCount { buf[base + g] = Int64(bitPattern: a[i].bitPattern) }
            }
        }
        try comm.sum(&buf, engine: .pruning)
        let root = kind == .l2Norm
        for (j, ti) in spans.enumerated() {
            guard var m = metrics[ti], case .dense(var a) = m.values else { continue }
            for i in a.indices {
                let g = maps[ti].global(i)
                guard g >= 0 && g < globalLayouts[ti].blockCount else { continue }
                var s = 0.0
                for r in 0..<world { s += Double(bitPattern: UInt64(bitPattern: buf[r * total + starts[j] + g])) }
                a[i] = root ? s.squareRoot() : s
            }
            m.values = .dense(a)
            metrics[ti] = m
        }
    }

    /// The selections in a fixed order: dependency parts, global groups, ratio targets (threshold
    /// fallbacks are added after the threshold round).
    private func buildSelections() {
        // Dependency groups, in order of first member (their shards checked in `init`).
        let (dependencyGroups, globalGroups) = Pruning.groupMembers(targets, plans: plans)
        for group in dependencyGroups {
            let members = group.filter { metrics[$0] != nil }
            guard let first = members.first, let m0 = metrics[first] else { continue }
            let n = m0.count
            var ratio = 0.0, parts = 1
            var fused = [Double](repeating: 0, count: n)
            for ti in members {
                if let r = targets[ti].settings.sparseRatio { ratio = r }
                parts = pruningLCM(parts, targets[ti].settings.internalMetricBlock ?? 1)
                metrics[ti]?.forEachValue(0..<n) { i, x in fused[i] += x }
            }
            let c = Double(members.count)
            for i in 0..<n { fused[i] /= c }
            let globalN = globalLayouts[first].blockCount
            guard parts > 0, globalN % parts == 0 else { continue }
            let per = globalN / parts
            let k = pruneCount(per, ratio)
            let shared = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(n, 1))
            shared.initialize(repeating: 1)
            dependencies.append((members, shared))
            var values = [[Double]](repeating: [], count: parts)
            var locals = [[Int]](repeating: [], count: parts)
            var globals = [[Int]](repeating: [], count: parts)
            for i in 0..<n {
                let gi = maps[first].global(i)
                let p = min(parts - 1, max(0, gi / max(per, 1)))
                values[p].append(fused[i])
                locals[p].append(i)
                globals[p].append(gi - p * per)
            }
            for p in 0..<parts {
                var map = maps[first]
                map.explicit = globals[p]
                let src = DistSource(metric: Metric(values: .dense(values[p]), count: values[p].count, singlePrecision: false),
                                     counted: counted[first], map: map, base: 0, target: dependencies.count - 1,
                                     localIndices: locals[p])
                selections.append(DistSelection(sources: [src], k: k, globalTotal: per))
            }
        }
        for group in globalGroups {
            let members = group.filter { metrics[$0] != nil }
            var ratio = 0.0, total = 0, base = 0
            var sources: [DistSource] = []
            var ws: [Int] = [], los: [Int] = [], his: [Int] = [], nbs: [Int] = []
            for ti in members {
                guard let m = metrics[ti] else { continue }
                let s = targets[ti].settings
                if let r = s.sparseRatio { ratio = r }
                let nb = globalLayouts[ti].blockCount
                total += globalLayouts[ti].elementCount
                let hi = s.maxSparseRatio.map { pruneCount(nb, $0) } ?? nb
                los.append(min(pruneCount(nb, s.minSparseRatio ?? 0), hi))
                his.append(hi)
                ws.append(globalLayouts[ti].blockSize)
                nbs.append(nb)
                sources.append(DistSource(metric: m, counted: counted[ti], map: maps[ti], base: base, target: ti))
                base += nb
            }
            let budget = pruneCount(total, ratio)
            guard let w = ws.first else { continue }
            let uniform = sources.indices.allSatisfy { ws[$0] == w && los[$0] <= 0 && his[$0] >= nbs[$0] }
            if uniform {
                let k = w > 0 ? max(0, budget) / w : Int.max
                selections.append(DistSelection(sources: sources, k: k, globalTotal: base))
            } else {
                for j in sources.indices { sources[j].base = 0 }  // positions within each member
                weighted.append(WeightedDistSelection(sources: sources, weights: ws, lo: los, hi: his, counts: nbs, budget: budget))
            }
        }
        for ti in plans.indices where plans[ti].usesRatio {
            guard let m = metrics[ti], let r = targets[ti].settings.sparseRatio else { continue }
            let nb = globalLayouts[ti].blockCount
            let k = pruneCount(nb, boundedRatio(r, targets[ti].settings))
            selections.append(DistSelection(sources: [DistSource(metric: m, counted: counted[ti], map: maps[ti], base: 0, target: ti)],
                                            k: k, globalTotal: nb))
        }
        for ti in plans.indices where targets[ti].settings.sparseThreshold != nil && metrics[ti] != nil {
            let s = targets[ti].settings
            if s.minSparseRatio != nil || s.maxSparseRatio != nil { boundedThresholds.append(ti) }
        }
    }

    /// The partial-sums round, the threshold round, the selection rounds, then the masks.
    func run(_ comm: inout DistributedCommunicator) throws(EngineError) {
        try finishSpanningMetrics(&comm)
        buildSelections()
        // Thresholds: the count below each bounded threshold, summed.
        var belowCounts = [Int64](repeating: 0, count: boundedThresholds.count)
        for (j, ti) in boundedThresholds.enumerated() where counted[ti] {
            guard let m = metrics[ti], let thr = targets[ti].settings.sparseThreshold else { continue }
            var below = 0
            let single = m.singlePrecision, tf = Float(thr)
            m.forEachValue(0..<m.count) { _, x in if single ? Float(x) < tf : x < thr { below += 1 } }
            belowCounts[j] = Int64(below)
        }
        try comm.sum(&belowCounts, engine: .pruning)
        var fallback = Set<Int>()
        for (j, ti) in boundedThresholds.enumerated() {
            guard let m = metrics[ti] else { continue }
            let s = targets[ti].settings
            let n = globalLayouts[ti].blockCount
            if n == 0 { continue }
            let sparsity = Float(1) - Float(n - Int(belowCounts[j])) / Float(n)
            var r: Double? = nil
            if let lo = s.minSparseRatio, sparsity < Float(lo) { r = lo }
            if let hi = s.maxSparseRatio, sparsity > Float(hi) { r = hi }
            if let r {
                fallback.insert(ti)
                selections.append(DistSelection(sources: [DistSource(metric: m, counted: counted[ti], map: maps[ti], base: 0, target: ti)],
                                                k: pruneCount(n, r), globalTotal: n))
            }
        }
        // Selection rounds.
        while true {
            let open = selections.filter { $0.cut == nil }
            let openWeighted = weighted.filter { !$0.done }
            if open.isEmpty && openWeighted.isEmpty { break }
            let parts = SharedSlots<[Int64]>(repeating: [], count: open.count)
            parallelFor(open.count, parallel: open.count > 1) { j in parts[j] = open[j].histogram() }
            var buf: [Int64] = []
            buf.reserveCapacity(open.count * DistSelection.bins + openWeighted.reduce(0) { $0 + $1.bins })
            for j in 0..<open.count { buf.append(contentsOf: parts[j]) }
            for w in openWeighted { buf.append(contentsOf: w.histogram()) }
            try comm.sum(&buf, engine: .pruning)
            var at = 0
            for s in open {
                s.consume(buf[at..<(at + DistSelection.bins)])
                at += DistSelection.bins
            }
            for w in openWeighted {
                let n = w.bins
                selections.append(contentsOf: w.consume(buf[at..<(at + n)]))
                at += n
            }
        }
        // Thresholds without fallback: local compares.
        for ti in plans.indices where targets[ti].settings.sparseThreshold != nil && !fallback.contains(ti) {
            guard let m = metrics[ti], let thr = targets[ti].settings.sparseThreshold else { continue }
            let mask = masks.masks[ti]
            let single = m.singlePrecision, tf = Float(thr)
            m.forEachValue(0..<min(m.count, mask.count)) { i, x in if single ? Float(x) < tf : x < thr { mask[i] = 0 } }
        }
        for ti in plans.indices where targets[ti].settings.sparseThreshold != nil && metrics[ti] != nil { masks.generated[ti] = true }
        // Cuts into byte masks.
        for sel in selections where !sel.followUp {
            for (s, src) in sel.sources.enumerated() {
                let cut = sel.localCut(s)
                if let locals = src.localIndices {
                    let shared = dependencies[src.target].shared
                    var part = [UInt8](repeating: 1, count: src.metric.count)
                    part.withUnsafeMutableBufferPointer { pb in applyCut(cut, metric: src.metric, mask: pb) }
                    for (j, i) in locals.enumerated() where part[j] == 0 && i < shared.count { shared[i] = 0 }
                } else {
                    masks.record(cut, metric: src.metric, target: src.target, mask: targets[src.target].mask)
                    masks.generated[src.target] = true
                }
            }
        }
        for w in weighted {
            for (s, src) in w.sources.enumerated() {
                masks.record(w.localCut(s), metric: src.metric, target: src.target, mask: targets[src.target].mask)
                masks.generated[src.target] = true
            }
        }
        for d in dependencies {
            for ti in d.members {
                let mask = masks.masks[ti]
                for i in 0..<min(d.shared.count, mask.count) where d.shared[i] == 0 { mask[i] = 0 }
                masks.generated[ti] = true
            }
        }
        for ti in plans.indices where plans[ti].usesRatio && metrics[ti] != nil { masks.generated[ti] = true }
        // Groups and align: local (checked in planning not to cross shards).
        for ti in plans.indices where plans[ti].usesGroups {
            guard let m = metrics[ti] else { continue }
            Pruning.groupRule(m, size: plans[ti].groupSize, prune: plans[ti].groupPrune, mask: masks.masks[ti])
            masks.generated[ti] = true
        }
        var aligned: [(Int, [UInt8])] = []
        for ti in plans.indices where plans[ti].usesAlign {
            guard let si = plans[ti].alignSource else { continue }
            var derived = [UInt8](repeating: 1, count: plans[ti].layout.blockCount)
            derived.withUnsafeMutableBufferPointer { d in
                let kept: AlignSourceMask = masks.isDirect[si] ? .written(targets[si].mask.readOnly) : .bytes(masks.masks[si])
                Pruning.alignRule(source: plans[si].layout, kept: kept, dims: plans[ti].alignDims, mask: d)
            }
            aligned.append((ti, derived))
        }
        for (ti, derived) in aligned {
            let m = masks.masks[ti]
            for i in 0..<min(m.count, derived.count) where derived[i] == 0 { m[i] = 0 }
            masks.generated[ti] = true
        }
        Pruning.writeMasks(targets, plans: plans, blockMasks: masks)
    }
}
