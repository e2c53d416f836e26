// Sharded targets in a session: placements bound per target, masks and observer ranges computed
// across ranks through the caller's communicator (docs/distributed.md).

extension CompressionSession {
    /// Records where target `(module, target)`'s local tensor (of `localShape`) lies in its
    /// unsharded tensor. Pruning sessions check `localShape` against the bound tensor when masks
    /// are generated; quantization sessions use it to decide which observer ranges are reduced.
    /// - Throws: `.state` outside a pruning or quantization session, `.unknownName`, `.shape` when
    ///   the ranks of the shapes differ or the local box does not fit in the global shape.
    public func bindShard(module: String, target: String, localShape: [Int], placement: ShardPlacement,
                          call: String = "bindShard(module:target:localShape:placement:)") throws(SessionError) {
        guard mode == .pruning || mode == .quantization else {
            throw .state("\(call) is for pruning and quantization sessions; this session's mode is \(mode)")
        }
        let i = try index(module: module, target: target)
        let g = placement.globalShape, o = placement.offsets
        guard g.count == localShape.count, o.count == localShape.count else {
            throw .shape("\(targetName(i)): global shape \(g) and offsets \(o) need one entry per dim of the local shape \(localShape)")
        }
        for d in 0..<g.count where !(localShape[d] >= 0 && o[d] >= 0 && localShape[d] <= g[d] && o[d] <= g[d] - localShape[d]) {
            throw .shape("\(targetName(i)): the local shape \(localShape) at offsets \(o) does not fit in the global shape \(g) (dim \(d))")
        }
        shardPlacements[i] = placement
        shardLocalShapes[i] = localShape
    }

    /// `generateMasks` across ranks (`Pruning.generateMasksDistributed`) over the bound targets and
    /// their placements (`bindShard`; a target without one is whole on every rank). A rank whose
    /// bindings are incomplete still takes part in the status round, so that every rank raises.
    /// Returns the number of all-reduces and the bytes this rank contributed.
    @discardableResult
    public func generateMasksDistributed(metric: PruningMetricKind, communicator: inout DistributedCommunicator,
                                         call: String = "generateMasksDistributed(metric:communicator:)") throws(SessionError) -> (rounds: Int, bytes: Int) {
        var targets: [PruningTarget] = []
        var shards: [ShardPlacement?] = []
        do throws(SessionError) {
            try requireMode(.pruning, for: call)
            targets = try pruningTargets().map(\.target)
            let plan = try requirePlan()
            for i in plan.targets.indices {
                guard case .buffers(let tensor, _, _)? = bindings[i] else { continue }
                if let local = shardLocalShapes[i], local != tensor.shape {
                    throw .shape("\(targetName(i)): the shard was bound with local shape \(local) but the bound tensor has shape \(tensor.shape)")
                }
                shards.append(shardPlacements[i])
            }
        } catch {
            try? communicator.statusRound(failure: EngineError(.pruning, .distributed, target: "", error.description),
                                          fingerprint: 0, engine: .pruning)
            throw error
        }
        do throws(EngineError) {
            return try Pruning.generateMasksDistributed(targets, shards: shards, metric: metric, communicator: &communicator)
        } catch { throw .engine(error) }
    }

    /// Reduces the tracked ranges of the observed targets with placements over the ranks of
    /// `communicator` (running min / max observers only), so that each rank's scales equal those of
    /// the unsharded tensor: a target sharded along dims its scale blocks reduce gets the minimum of
    /// the ranks' minima and the maximum of their maxima; one sharded only along dims its blocks
    /// keep (the channel dim of `per_channel`) needs nothing (its blocks are whole on one rank).
    /// A target sharded along both kinds of dims is rejected. Every rank must call it after
    /// observing the same targets; a rank whose check fails makes every rank raise.
    /// Returns the number of all-reduces and the bytes this rank contributed.
    @discardableResult
    public func reduceObserversDistributed(communicator: inout DistributedCommunicator,
                                           call: String = "reduceObserversDistributed(communicator:)") throws(SessionError) -> (rounds: Int, bytes: Int) {
        var reduce: [Int] = []
        var text = "observers;"
        do throws(SessionError) {
            try requireMode(.quantization, for: call)
            let plan = try requirePlan()
            for i in plan.targets.indices {
                guard let place = shardPlacements[i], let local = shardLocalShapes[i] else { continue }
                guard let settings = plan.targets[i].quantization else { continue }
                let o = try observer(i, settings: settings)
                guard o.kind == .minMax else {
                    throw .state("\(quoted(targetName(i))): only running min / max observers (PTQ) can be reduced across shards; a moving average depends on the order of batches")
                }
                let global: QuantizationBlocks
                do throws(EngineError) { global = try settings.blocks(forShape: place.globalShape) } catch { throw .engine(error) }
                var reducedSplit = false, keptSplit = false
                for d in local.indices where local[d] != place.globalShape[d] {
                    if d < global.scaleShape.count && global.scaleShape[d] == 1 { reducedSplit = true } else { keptSplit = true }
                }
                if reducedSplit && keptSplit {
                    throw .shape("\(targetName(i)): sharded along dims its scale blocks reduce and dims they keep (local \(local) of \(place.globalShape)); shard along one kind only")
                }
                if reducedSplit {
                    guard o.scaleShape == global.scaleShape else {
                        throw .shape("\(targetName(i)): the local scale shape \(o.scaleShape ?? []) differs from the global \(global.scaleShape)")
                    }
                    reduce.append(i)
                    text += "\(targetName(i))|\(global.scaleShape);"
                }
            }
        } catch {
            try? communicator.statusRound(failure: EngineError(.quantization, .distributed, target: "", error.description),
                                          fingerprint: 0, engine: .quantization)
            throw error
        }
        do throws(EngineError) {
            try communicator.statusRound(failure: nil, fingerprint: fingerprint(text), engine: .quantization)
            if reduce.isEmpty { return (communicator.rounds, communicator.bytes) }
            var lo: [Double] = [], hi: [Double] = []
            for i in reduce {
                guard let o = observers[i] else { continue }
                lo.append(contentsOf: o.trackedMin)
                hi.append(contentsOf: o.trackedMax)
            }
            try communicator.reduce(&lo, .minFloat64, engine: .quantization)
            try communicator.reduce(&hi, .maxFloat64, engine: .quantization)
            var at = 0
            for i in reduce {
                guard var o = observers[i] else { continue }
                let n = o.trackedMin.count
                o.replaceRange(min: Array(lo[at..<(at + n)]), max: Array(hi[at..<(at + n)]))
                setObserver(i, o)
                at += n
            }
        } catch { throw .engine(error) }
        return (communicator.rounds, communicator.bytes)
    }
}
