// Sharded targets in a session: placements bound per target, masks and observer ranges computed
// across ranks through the caller's communicator (docs/distributed.md).

extension QuantizationBlocks {
    /// Whether the scale blocks reduce dim `d` (one scale along it): every dim per tensor (scale
    /// shape `[]`), the dims of extent 1 in the keepdim scale shape otherwise. A shard along such a
    /// dim holds part of each block, so its range is reduced across the ranks.
    func reducesDim(_ d: Int) -> Bool {
        scaleShape.isEmpty || (d < scaleShape.count && scaleShape[d] == 1)
    }
}

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

    /// `observe` of a target whose batch is this rank's shard of a tensor sharded across the ranks
    /// of `communicator` (its placement bound with `bindShard` before this call), so that the
    /// observer tracks the unsharded tensor's range batch by batch: a status round (world + 3
    /// Int64), then, for a target with a placement that is not sharded along the dims its scale
    /// blocks keep (sharded along any dim per tensor, along dims other than the channel per
    /// channel, or whole on this rank), one max-reduction of 3 x (scale blocks) Float64
    /// values (the negated minima, the maxima, a NaN flag per block) giving the global minima and
    /// maxima of this batch, which are then folded in as `observe` folds a batch (running min / max
    /// or the moving average). A target sharded only along the channel dim (its blocks whole on one
    /// rank) or not sharded is observed locally (after the status round). A rank's empty shard
    /// takes part without values. Every rank must call it for the same targets, in the same order,
    /// with the same observer kind; a rank whose check fails makes every rank throw (the others
    /// naming it). The observer's range is then the unsharded tensor's, and
    /// `reduceObserversDistributed` leaves it as it is.
    /// Returns the number of all-reduces and the bytes this rank contributed.
    @discardableResult
    public func observeDistributed(module: String, target: String, batch: TensorView, observer kind: QuantObserverKind,
                                   communicator: inout DistributedCommunicator,
                                   call: String = "observeDistributed(module:target:batch:observer:communicator:)") throws(SessionError) -> (rounds: Int, bytes: Int) {
        var index = -1
        var settings: QuantizationSettings? = nil
        var global: QuantizationBlocks? = nil      // set when the range is reduced across ranks
        var local: QuantizationBlocks? = nil       // the batch's blocks (nil for an empty shard)
        var text = "observe;\(kind);\(batch.dtype == .float64);"
        do throws(SessionError) {
            let (i, s) = try quantizationTarget(module: module, target: target, call: call)
            index = i
            settings = s
            let tracked = observers[i]
            if let o = tracked, o.kind != kind {
                throw .state("\(quoted(s.target)) is observed with \(callNames.observerName(o.kind)) since its first batch; observer \(callNames.observerName(kind)) cannot be mixed in (set the config again to start over)")
            }
            var reduced = false
            if let place = shardPlacements[i], let shape = shardLocalShapes[i] {
                guard shape == batch.shape else {
                    throw .shape("\(targetName(i)): the shard was bound with local shape \(shape) but the batch has shape \(batch.shape)")
                }
                let g: QuantizationBlocks
                do throws(EngineError) { g = try s.blocks(forShape: place.globalShape) } catch { throw .engine(error) }
                var reducedSplit = false, keptSplit = false
                for d in shape.indices where shape[d] != place.globalShape[d] {
                    if g.reducesDim(d) { reducedSplit = true } else { keptSplit = true }
                }
                if reducedSplit && keptSplit {
                    throw .shape("\(targetName(i)): sharded along dims its scale blocks reduce and dims they keep (local \(shape) of \(place.globalShape)); shard along one kind only")
                }
                // Reduced unless sharded along the dims the blocks keep (then each block is whole on
                // one rank): also when this rank holds the whole tensor (another rank may hold an
                // empty part, a replica), which the max leaves as it is.
                if !keptSplit {
                    if place.globalShape.contains(0) {
                        throw .engine(EngineError(.quantization, .emptyTensor, target: s.target,
                                                  "the unsharded tensor of shape \(place.globalShape) has no elements; min and max are undefined"))
                    }
                    guard g.blockCount <= 1 << 32 else {
                        throw .shape("\(targetName(i)): the unsharded shape \(place.globalShape) gives \(g.blockCount) scale blocks, more than a range reduction across ranks holds (2^32)")
                    }
                    if let o = tracked, let ts = o.scaleShape, ts != g.scaleShape {
                        throw .engine(EngineError(.quantization, .shapeMismatch, target: s.target,
                                                  "the unsharded tensor of shape \(place.globalShape) gives scale shape \(g.scaleShape), but the observer tracks scale shape \(ts)"))
                    }
                    reduced = true
                    global = g
                }
                text += "\(targetName(i))|\(place.globalShape)|\(reduced ? g.scaleShape : [-1]);"
            } else {
                text += "\(targetName(i))|local;"
            }
            if !reduced || batch.count > 0 {
                // Checked before the status round, so that a rank whose batch the observer rejects fails there.
                do throws(EngineError) { local = try Quantization.observedBlocks(batch, settings: s, kind: kind) } catch { throw .engine(error) }
                if reduced, let l = local, l.scaleShape != global?.scaleShape {
                    throw .shape("\(targetName(i)): the local scale shape \(l.scaleShape) differs from the global \(global?.scaleShape ?? [])")
                }
            }
        } catch {
            try? communicator.statusRound(failure: EngineError(.quantization, .distributed, target: "", error.description),
                                          fingerprint: 0, engine: .quantization)
            throw error
        }
        guard let s = settings else { throw .internal("observeDistributed: no settings") }
        do throws(EngineError) {
            try communicator.statusRound(failure: nil, fingerprint: fingerprint(text), engine: .quantization)
        } catch { throw .engine(error) }
        var o = observers[index] ?? QuantObserver(kind: kind)
        guard let g = global else {  // not sharded along a reduced dim: this rank's blocks are whole
            do throws(EngineError) { try o.observe(batch, settings: s) } catch { throw .engine(error) }
            setObserver(index, o)
            return (communicator.rounds, communicator.bytes)
        }
        // This batch's range on this rank (none for an empty shard): the negated minima, the maxima
        // and a NaN flag per block, reduced with one max over the ranks.
        let n = g.blockCount
        var buf = [Double](repeating: -.infinity, count: 3 * n)
        for b in 0..<n { buf[2 * n + b] = 0 }
        if let l = local {
            let r = QuantObserver.batchRange(batch, l)
            for b in 0..<min(n, r.min.count, r.max.count) {
                if r.min[b].isNaN || r.max[b].isNaN { buf[2 * n + b] = 1 } else { buf[b] = -r.min[b]; buf[n + b] = r.max[b] }
            }
        }
        do throws(EngineError) {
            try communicator.reduce(&buf, .maxFloat64, engine: .quantization)
        } catch { throw .engine(error) }
        var lo = [Double](repeating: 0, count: n), hi = [Double](repeating: 0, count: n)
        for b in 0..<n {
            if buf[2 * n + b] > 0 { lo[b] = .nan; hi[b] = .nan } else { lo[b] = -buf[b]; hi[b] = buf[n + b] }
        }
        do throws(EngineError) {
            try o.fold(min: lo, max: hi, scaleShape: g.scaleShape, precision: batch.dtype == .float64 ? .float64 : .float32,
                       settings: s, acrossRanks: true)
        } catch { throw .engine(error) }
        setObserver(index, o)
        return (communicator.rounds, communicator.bytes)
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
                if o.acrossRanks { continue }  // observed with its batches' ranges reduced (observeDistributed)
                guard o.kind == .minMax else {
                    throw .state("\(quoted(targetName(i))): a moving-average observer's range cannot be reduced after the batches (the average of the ranks' averages is not the average of the global ranges); observe its batches with \(call == "sc_session_reduce_observers_distributed" ? "sc_session_observe_distributed" : "observeDistributed") instead")
                }
                let global: QuantizationBlocks
                do throws(EngineError) { global = try settings.blocks(forShape: place.globalShape) } catch { throw .engine(error) }
                var reducedSplit = false, keptSplit = false
                for d in local.indices where local[d] != place.globalShape[d] {
                    if global.reducesDim(d) { reducedSplit = true } else { keptSplit = true }
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
