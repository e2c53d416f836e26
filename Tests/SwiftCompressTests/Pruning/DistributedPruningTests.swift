import Foundation
import Testing
@testable import SwiftCompress

/// Results of the simulated ranks, by rank.
final class RankResults<T>: @unchecked Sendable {
    var out: [T?]
    init(_ n: Int) { out = [T?](repeating: nil, count: n) }
}

/// `Pruning.generateMasksDistributed` with ranks simulated by threads of one process over an
/// in-memory all-reduce: the ranks' masks put back together equal `Pruning.generateMasks` on the
/// unsharded tensors, bit for bit (ties included), and a rank with bad input makes every rank throw.
@Suite struct DistributedPruningTests {
    /// An in-process all-reduce for `world` threads: each call waits until every rank has added its
    /// buffer, then copies the result back.
    final class LocalGroup: @unchecked Sendable {
        let world: Int
        let lock = NSCondition()
        var sumI: [Int64] = []
        var sumD: [Double] = []
        var arrived = 0
        var departed = 0
        var generation = 0
        init(world: Int) { self.world = world }

        func reduce(_ p: UnsafeMutableRawPointer, _ n: Int, _ op: DistributedReduceOp) -> String? {
            lock.lock()
            while departed > 0 { lock.wait() }  // the previous round is still being read
            if arrived == 0 { sumI = [Int64](repeating: 0, count: n); sumD = [Double](repeating: op == .minFloat64 ? .infinity : -.infinity, count: n) }
            for i in 0..<n {
                switch op {
                case .sumInt64: sumI[i] += p.load(fromByteOffset: i * 8, as: Int64.self)
                case .minFloat64: sumD[i] = min(sumD[i], p.load(fromByteOffset: i * 8, as: Double.self))
                case .maxFloat64: sumD[i] = max(sumD[i], p.load(fromByteOffset: i * 8, as: Double.self))
                }
            }
            arrived += 1
            let gen = generation
            if arrived == world { generation += 1; departed = world; arrived = 0; lock.broadcast() } else {
                while generation == gen { lock.wait() }
            }
            for i in 0..<n {
                if op == .sumInt64 { p.storeBytes(of: sumI[i], toByteOffset: i * 8, as: Int64.self) } else {
                    p.storeBytes(of: sumD[i], toByteOffset: i * 8, as: Double.self)
                }
            }
            departed -= 1
            if departed == 0 { lock.broadcast() }
            lock.unlock()
            return nil
        }
    }

    /// Runs `body(rank)` on `world` threads and returns the results by rank.
    static func ranks<T: Sendable>(_ world: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
        let box = RankResults<T>(world)
        let group = DispatchGroup()
        let lock = NSLock()
        for r in 0..<world {
            group.enter()
            Thread.detachNewThread {
                let v = body(r)
                lock.lock(); box.out[r] = v; lock.unlock()
                group.leave()
            }
        }
        group.wait()
        return box.out.map { $0! }
    }

    /// Weights with many ties: small integers / 4 (exact in float32).
    static func weight(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(s >> 60) - 8) / 4
        }
    }

    /// Single-process masks of `weights` (name, shape, values, settings).
    static func single(_ ts: [(String, [Int], [Float], PruningSettings)], metric: PruningMetricKind) throws -> [[Double]] {
        let buffers = TestBuffers()
        var targets: [PruningTarget] = []
        for (name, shape, values, settings) in ts {
            targets.append(PruningTarget(moduleName: name, targetName: "weight", settings: settings,
                                         tensor: try buffers.view(values, shape: shape), mask: try buffers.zeros(shape)))
        }
        try Pruning.generateMasks(targets, metric: metric)
        return targets.map { $0.mask.readOnly.allValues }
    }

    /// Rank `rank`'s masks of `ts` sharded along `dim` into `world` equal parts.
    static func sharded(_ ts: [(String, [Int], [Float], PruningSettings)], metric: PruningMetricKind, dim: Int, rank: Int,
                        world: Int, group: LocalGroup, badShapeOnRank: Int? = nil) -> Result<[[Double]], EngineError> {
        let buffers = TestBuffers()
        var targets: [PruningTarget] = []
        var shards: [ShardPlacement?] = []
        for (name, shape, values, settings) in ts {
            var local = shape
            local[dim] = shape[dim] / world
            var offsets = [Int](repeating: 0, count: shape.count)
            offsets[dim] = rank * local[dim]
            // The local box of the row-major values.
            var part: [Float] = []
            let inner = shape[(dim + 1)...].reduce(1, *), outer = shape[..<dim].reduce(1, *)
            for o in 0..<outer {
                for j in offsets[dim]..<(offsets[dim] + local[dim]) {
                    for i in 0..<inner { part.append(values[(o * shape[dim] + j) * inner + i]) }
                }
            }
            let maskShape = rank == badShapeOnRank ? [local.reduce(1, *)] : local
            targets.append(PruningTarget(moduleName: name, targetName: "weight", settings: settings,
                                         tensor: try! buffers.view(part, shape: local), mask: try! buffers.zeros(maskShape)))
            shards.append(ShardPlacement(globalShape: shape, offsets: offsets, counted: true))
        }
        var comm = DistributedCommunicator(rank: rank, worldSize: world) { p, n, op in group.reduce(p, n, op) }
        do {
            try Pruning.generateMasksDistributed(targets, shards: shards, metric: metric, communicator: &comm)
        } catch {
            return .failure(error)
        }
        return .success(targets.map { $0.mask.readOnly.allValues })
    }

    /// The ranks' masks of target t put back in global row-major order (sharded along `dim`).
    static func gather(_ parts: [[Double]], shape: [Int], dim: Int) -> [Double] {
        let world = parts.count
        let inner = shape[(dim + 1)...].reduce(1, *), outer = shape[..<dim].reduce(1, *)
        let local = shape[dim] / world
        var out = [Double](repeating: -1, count: shape.reduce(1, *))
        for r in 0..<world {
            var k = 0
            for o in 0..<outer {
                for j in (r * local)..<((r + 1) * local) {
                    for i in 0..<inner { out[(o * shape[dim] + j) * inner + i] = parts[r][k]; k += 1 }
                }
            }
        }
        return out
    }

    static func check(_ ts: [(String, [Int], [Float], PruningSettings)], metric: PruningMetricKind, dim: Int, world: Int) throws {
        let expected = try single(ts, metric: metric)
        let group = LocalGroup(world: world)
        let results = ranks(world) { r in sharded(ts, metric: metric, dim: dim, rank: r, world: world, group: group) }
        let masks = try results.map { try $0.get() }
        for t in ts.indices {
            let got = gather(masks.map { $0[t] }, shape: ts[t].1, dim: dim)
            #expect(got == expected[t], "target \(ts[t].0), sharded along dim \(dim) over \(world)")
        }
    }

    @Test func levelGlobalGroupWithTiesOverColumnsAndRows() throws {
        let g = PruningSettings(sparseRatio: 0.55, globalGroupID: .int(0), granularity: .fineGrained)
        let ts: [(String, [Int], [Float], PruningSettings)] = [
            ("a", [8, 12], Self.weight(96, seed: 1), g), ("b", [4, 12], Self.weight(48, seed: 2), g),
        ]
        // Ties are split: the cut takes some of the blocks of its key (checked by the expected counts below).
        let expected = try Self.single(ts, metric: .level)
        #expect(expected[0].filter { $0 == 0 }.count + expected[1].filter { $0 == 0 }.count == 79)  // int(144 * 0.55)
        try Self.check(ts, metric: .level, dim: 1, world: 2)
        try Self.check(ts, metric: .level, dim: 1, world: 4)
        try Self.check(ts, metric: .level, dim: 0, world: 4)
    }

    @Test func l1DependencyGroupAndRatiosAndThresholds() throws {
        let dep = PruningSettings(sparseRatio: 0.5, dependencyGroupID: .int(1), granularity: .outChannel)
        let ts: [(String, [Int], [Float], PruningSettings)] = [
            ("q", [8, 6], Self.weight(48, seed: 3), dep), ("k", [8, 6], Self.weight(48, seed: 4), dep),
            ("r", [8, 6], Self.weight(48, seed: 5), PruningSettings(sparseRatio: 0.3, granularity: .outChannel)),
            ("t", [8, 6], Self.weight(48, seed: 6), PruningSettings(maxSparseRatio: 0.25, sparseThreshold: 4, granularity: .outChannel)),
        ]
        try Self.check(ts, metric: .l1Norm, dim: 0, world: 2)
        try Self.check(ts, metric: .l1Norm, dim: 0, world: 4)
    }

    @Test func weightedGlobalGroupsOfMixedBlockSizesAndBounds() throws {
        // out_channel blocks of 6 and 12 elements (mixed sizes) with min/max bounds: the weighted form
        let a = PruningSettings(sparseRatio: 0.5, maxSparseRatio: 0.6, globalGroupID: .int(3), granularity: .outChannel)
        let b = PruningSettings(sparseRatio: 0.5, minSparseRatio: 0.25, globalGroupID: .int(3), granularity: .outChannel)
        let c = PruningSettings(sparseRatio: 0.5, globalGroupID: .int(3), granularity: .outChannel)
        let ts: [(String, [Int], [Float], PruningSettings)] = [
            ("a", [8, 6], Self.weight(48, seed: 9), a), ("b", [8, 12], Self.weight(96, seed: 10), b),
            ("c", [16, 6], Self.weight(96, seed: 11), c),
        ]
        try Self.check(ts, metric: .l1Norm, dim: 0, world: 2)
        try Self.check(ts, metric: .l1Norm, dim: 0, world: 4)
        // Level with bounds (fine-grained, weights 1, but clamped): ties split inside members
        let la = PruningSettings(sparseRatio: 0.5, maxSparseRatio: 0.3, globalGroupID: .int(4), granularity: .fineGrained)
        let lb = PruningSettings(sparseRatio: 0.5, globalGroupID: .int(4), granularity: .fineGrained)
        let ls: [(String, [Int], [Float], PruningSettings)] = [
            ("a", [8, 12], Self.weight(96, seed: 12), la), ("b", [4, 12], Self.weight(48, seed: 13), lb),
        ]
        try Self.check(ls, metric: .level, dim: 1, world: 2)
        try Self.check(ls, metric: .level, dim: 1, world: 4)
    }

    @Test func aRankWithBadInputMakesEveryRankThrow() {
        let ts: [(String, [Int], [Float], PruningSettings)] = [
            ("a", [4, 8], Self.weight(32, seed: 7), PruningSettings(sparseRatio: 0.5, granularity: .fineGrained)),
        ]
        let group = LocalGroup(world: 2)
        let results = Self.ranks(2) { r in Self.sharded(ts, metric: .level, dim: 1, rank: r, world: 2, group: group, badShapeOnRank: 1) }
        guard case .failure(let e0) = results[0], case .failure(let e1) = results[1] else {
            Issue.record("both ranks must throw: \(results)")
            return
        }
        #expect(e0.kind == .distributed)
        #expect(e0.message.contains("rank 1 of 2 failed"))
        #expect(e1.kind == .shapeMismatch)
        #expect(e1.message.hasPrefix("rank 1 of 2: "))
    }

    @Test func suppliedMetricsOfBlocksThatSpanShardsAreRejectedOnEveryRank() {
        // a caller's metric of out_channel blocks on a weight sharded along dim 1: its blocks' values
        // would need the other ranks' elements, which only the core's own norms sum across ranks
        let group = LocalGroup(world: 2)
        let results = Self.ranks(2) { r -> EngineError? in
            let buffers = TestBuffers()
            let w = Self.weight(32, seed: 8)
            var part: [Float] = []
            for i in 0..<4 { for j in 0..<4 { part.append(w[i * 8 + r * 4 + j]) } }
            let t = PruningTarget(moduleName: "a", targetName: "weight", settings: PruningSettings(sparseRatio: 0.5, granularity: .outChannel),
                                  tensor: try! buffers.view(part, shape: [4, 4]), mask: try! buffers.zeros([4, 4]),
                                  metric: try! buffers.view([1, 2, 3, 4], shape: [4, 1]))
            var comm = DistributedCommunicator(rank: r, worldSize: 2) { p, n, op in group.reduce(p, n, op) }
            do throws(EngineError) {
                try Pruning.generateMasksDistributed([t], shards: [ShardPlacement(globalShape: [4, 8], offsets: [0, 4 * r], counted: true)],
                                                     metric: .supplied, communicator: &comm)
                return nil
            } catch { return error }
        }
        #expect(results[0]?.kind == .distributed && results[0]?.message.contains("span dim 1") == true
                && results[0]?.message.contains("not a supplied metric") == true, "\(String(describing: results[0]))")
        #expect(results[1]?.kind == .distributed && results[1]?.message.contains("span dim 1") == true)
    }

    /// Shards of `ts` with explicit boxes per rank: (name, global shape, values, settings, local shape, offsets).
    static func boxes(_ ts: [(String, [Int], [Float], PruningSettings, [Int], [Int])], metric: PruningMetricKind, rank: Int,
                      world: Int, group: LocalGroup) -> Result<([[Double]], Int, Int), EngineError> {
        let buffers = TestBuffers()
        var targets: [PruningTarget] = []
        var shards: [ShardPlacement?] = []
        for (name, shape, values, settings, local, offsets) in ts {
            var part: [Float] = []
            for i in 0..<local[0] {
                for j in 0..<local[1] { part.append(values[(offsets[0] + i) * shape[1] + offsets[1] + j]) }
            }
            targets.append(PruningTarget(moduleName: name, targetName: "weight", settings: settings,
                                         tensor: try! buffers.view(part, shape: local), mask: try! buffers.zeros(local)))
            shards.append(ShardPlacement(globalShape: shape, offsets: offsets, counted: true))
        }
        var comm = DistributedCommunicator(rank: rank, worldSize: world) { p, n, op in group.reduce(p, n, op) }
        do {
            let r = try Pruning.generateMasksDistributed(targets, shards: shards, metric: metric, communicator: &comm)
            return .success((targets.map { $0.mask.readOnly.allValues }, r.rounds, r.bytes))
        } catch {
            return .failure(error)
        }
    }

    @Test func normsOfBlocksThatSpanShardsByHand() throws {
        // [2, 4] sharded along dim 1 over 2 ranks: rank 0 holds columns 0-1, rank 1 columns 2-3.
        //   row 0: 2, 1 | 0, 0.25       L1 3.25; sum of squares 5.0625, L2 2.25
        //   row 1: 0.25, 0.25 | 1.5, 1.5  L1 3.5;  sum of squares 4.625, L2 2.1506
        // Alone, rank 0 would rank row 1 lower (0.5 < 3) and rank 1 row 0 (0.25 < 3). Across ranks,
        // L1 prunes row 0 (3.25 < 3.5), L2 row 1 (2.1506 < 2.25).
        let w: [Float] = [2, 1, 0, 0.25, 0.25, 0.25, 1.5, 1.5]
        let s = PruningSettings(sparseRatio: 0.5, granularity: .outChannel)
        for (metric, pruned) in [(PruningMetricKind.l1Norm, 0), (.l2Norm, 1)] {
            let group = LocalGroup(world: 2)
            let results = Self.ranks(2) { r in
                Self.boxes([("a", [2, 4], w, s, [2, 2], [0, 2 * r])], metric: metric, rank: r, world: 2, group: group)
            }
            let expected: [Double] = pruned == 0 ? [0, 0, 1, 1] : [1, 1, 0, 0]
            for r in 0..<2 {
                let (masks, rounds, bytes) = try results[r].get()
                #expect(masks[0] == expected, "\(metric) rank \(r)")
                // status (2 + 3), partial sums (2 ranks x 2 blocks), 8 key rounds of 256 (64-bit keys)
                #expect(rounds == 10)
                #expect(bytes == (5 + 4 + 8 * 256) * 8)
            }
        }
    }

    @Test func normsOfBlocksThatSpanShardsEqualOneProcess() throws {
        // out_channel L1 / L2 of weights sharded along dim 1 (row-parallel): partial sums of quarters
        // (exact), so the norms and the masks equal one process's bit for bit, ties included
        let ratio = PruningSettings(sparseRatio: 0.5, granularity: .outChannel)
        let g = PruningSettings(sparseRatio: 0.4, globalGroupID: .int(5), granularity: .outChannel)
        let gb = PruningSettings(sparseRatio: 0.4, maxSparseRatio: 0.3, globalGroupID: .int(6), granularity: .outChannel)
        let dep = PruningSettings(sparseRatio: 0.5, dependencyGroupID: .int(7), granularity: .outChannel)
        let thr = PruningSettings(maxSparseRatio: 0.25, sparseThreshold: 3, granularity: .outChannel)
        let ts: [(String, [Int], [Float], PruningSettings)] = [
            ("a", [8, 12], Self.weight(96, seed: 14), ratio), ("b", [8, 12], Self.weight(96, seed: 15), g),
            ("c", [16, 12], Self.weight(192, seed: 16), g), ("d", [8, 12], Self.weight(96, seed: 17), gb),
            ("e", [4, 24], Self.weight(96, seed: 18), gb), ("f", [8, 12], Self.weight(96, seed: 19), dep),
            ("h", [8, 12], Self.weight(96, seed: 20), dep), ("t", [8, 12], Self.weight(96, seed: 21), thr),
        ]
        for metric in [PruningMetricKind.l1Norm, .l2Norm, .level] {
            let expected = try Self.single(ts, metric: metric)
            #expect(expected.contains { $0.contains(0) } && expected.contains { $0.contains(1) })
            try Self.check(ts, metric: metric, dim: 1, world: 2)
            try Self.check(ts, metric: metric, dim: 1, world: 4)
        }
    }

    // MARK: moving-average observers over shards (CompressionSession.observeDistributed)

    /// A rank's error, by its description.
    struct RankError: Error, Sendable { var message: String }

    static let quantModules = [ModuleInfo(name: "fc1", typeName: "Linear", forwardArguments: ["input"])]

    /// A quantization session over fc1.weight with `granularity` (nil: per tensor), affine int8.
    static func quantSession(_ granularity: String?) throws -> CompressionSession {
        let s = CompressionSession(mode: .quantization)
        try s.addModules(quantModules)
        let g = granularity.map { #", "granularity": "\#($0)""# } ?? ""
        try s.setConfig(#"[{"op_names": ["fc1"], "target_names": ["weight"], "quant_dtype": "int8", "quant_scheme": "affine"\#(g)}]"#)
        return s
    }

    /// Columns `cols` of a row-major [rows, n] matrix.
    static func columns(_ m: [Float], rows: Int, n: Int, _ cols: Range<Int>) -> [Float] {
        var out: [Float] = []
        for i in 0..<rows { for j in cols { out.append(m[i * n + j]) } }
        return out
    }

    /// The tracked (min, max) of fc1.weight after observing `batches` ([4, 8] matrices) with the
    /// moving average in one session.
    static func singleEMA(_ batches: [[Float]], granularity: String?) throws -> ([Double], [Double]) {
        let s = try quantSession(granularity)
        for b in batches {
            try b.withUnsafeBufferPointer { p in
                try s.observe(module: "fc1", target: "weight", batch: try TensorView(p, shape: [4, 8]), observer: .qat)
            }
        }
        let (i, settings) = try s.quantizationTarget(module: "fc1", target: "weight", call: "test")
        let o = try s.observer(i, settings: settings)
        return (o.trackedMin, o.trackedMax)
    }

    /// Each rank's tracked range after `observeDistributed` of its columns of `batches` (rank r's
    /// columns: `parts[r]`) and the (rounds, bytes) of its last call, or its error's description.
    static func shardedEMA(_ batches: [[Float]], granularity: String?, parts: [Range<Int>], badRank: Int? = nil)
        -> [Result<([Double], [Double], Int, Int), RankError>] {
        let world = parts.count
        let group = LocalGroup(world: world)
        return ranks(world) { r in
            do {
                let s = try quantSession(granularity)
                let cols = parts[r]
                try s.bindShard(module: "fc1", target: "weight", localShape: [4, cols.count],
                                placement: ShardPlacement(globalShape: [4, 8], offsets: [0, cols.lowerBound], counted: true))
                var stats = (0, 0)
                for b in batches {
                    var local = columns(b, rows: 4, n: 8, cols)
                    var shape = [4, cols.count]
                    if r == badRank { local.removeLast(4); shape = [4, cols.count - 1] }  // not the bound shard's shape
                    var comm = DistributedCommunicator(rank: r, worldSize: world) { p, n, op in group.reduce(p, n, op) }
                    stats = try local.withUnsafeBufferPointer { p in
                        try s.observeDistributed(module: "fc1", target: "weight", batch: try TensorView(p, shape: shape), observer: .qat,
                                                 communicator: &comm)
                    }
                }
                let (i, settings) = try s.quantizationTarget(module: "fc1", target: "weight", call: "test")
                let o = try s.observer(i, settings: settings)
                return .success((o.trackedMin, o.trackedMax, stats.0, stats.1))
            } catch {
                return .failure(RankError(message: "\(error)"))
            }
        }
    }

    @Test func movingAverageObserversOverShardsEqualOneProcess() throws {
        // [4, 8] weights of quarters, outliers 3 at (0, 0) and -2.5 at (3, 7): rank 0 holds columns
        // 0-3, rank 1 columns 4-7, so no rank alone holds the per-tensor range; 3 batches, the
        // second halved, the third negated
        var w = Self.weight(32, seed: 30)
        w[0] = 3
        w[31] = -2.5
        let batches = [w, w.map { $0 / 2 }, w.map { -$0 }]
        for granularity in [nil, "per_channel"] {
            let (lo, hi) = try Self.singleEMA(batches, granularity: granularity)
            for result in Self.shardedEMA(batches, granularity: granularity, parts: [0..<4, 4..<8]) {
                let (glo, ghi, rounds, bytes) = try result.get()
                #expect(glo == lo && ghi == hi, "\(granularity ?? "per_tensor")")
                // a status round (2 + 3 int64) and one max of 3 doubles per scale block
                #expect(rounds == 2 && bytes == (5 + 3 * lo.count) * 8)
            }
        }
        // the reduction matters: the maximum 3 is rank 0's only, the minimum -2.5 rank 1's only
        let part0 = Self.columns(w, rows: 4, n: 8, 0..<4), part1 = Self.columns(w, rows: 4, n: 8, 4..<8)
        #expect(part0.min() != w.min() && part1.max() != w.max())
    }

    @Test func movingAverageObserversOverShardsNaNAndEmptyShards() throws {
        var w = Self.weight(32, seed: 31)
        w[13] = .nan  // row 1, column 5: rank 1's
        let (lo, _) = try Self.singleEMA([w], granularity: nil)
        #expect(lo.count == 1 && lo[0].isNaN)
        for result in Self.shardedEMA([w], granularity: nil, parts: [0..<4, 4..<8]) {
            let (glo, ghi, _, _) = try result.get()
            #expect(glo.count == 1 && glo[0].isNaN && ghi[0].isNaN)
        }
        // rank 0 holds every column, rank 1 an empty part: both take part, the range is the whole's
        let v = Self.weight(32, seed: 32)
        let (vlo, vhi) = try Self.singleEMA([v, v.map { $0 / 2 }], granularity: nil)
        for result in Self.shardedEMA([v, v.map { $0 / 2 }], granularity: nil, parts: [0..<8, 8..<8]) {
            let (glo, ghi, _, _) = try result.get()
            #expect(glo == vlo && ghi == vhi)
        }
    }

    @Test func aRankWhoseBatchIsBadMakesEveryObserverThrow() {
        let results = Self.shardedEMA([Self.weight(32, seed: 33)], granularity: nil, parts: [0..<4, 4..<8], badRank: 1)
        guard case .failure(let e0) = results[0], case .failure(let e1) = results[1] else {
            Issue.record("both ranks must throw: \(results)")
            return
        }
        #expect(e0.message.contains("rank 1 of 2 failed"))
        #expect(e1.message.contains("the shard was bound with local shape [4, 4] but the batch has shape [4, 3]"))
    }
}
