/// How an observer folds each batch's per-block min and max into the tracked range.
public enum QuantObserverKind: Sendable, Hashable {
    /// Running min / max over every batch (NNI 3.0's PtqQuantizer, for calibration):
    /// tracked_min = min(tracked_min, batch_min), tracked_max = max(tracked_max, batch_max).
    case minMax
    /// Exponential moving average (NNI 3.0's QATQuantizer): the first batch sets the range, every
    /// later one gives tracked = tracked * decay + (1 - decay) * batch, with `1 - decay` computed
    /// in Double and each product and the sum rounded to the computation precision, as torch does.
    /// `decay` must be in [0, 1].
    case movingAverage(decay: Double)

    /// NNI 3.0's QAT observer: moving average with decay 0.99.
    public static let qat = QuantObserverKind.movingAverage(decay: 0.99)
}

/// The tracked range of one target, kept by the caller between batches: a value type holding one
/// tracked min and max per block. For trackers whose state lives in caller buffers (a C or Python
/// caller keeping `tracked_min` / `tracked_max` tensors), use `Quantization.observe(_:trackedMin:...)`.
///
///     var observer = QuantObserver(kind: .minMax)
///     for batch in calibration { try observer.observe(batch, settings: settings) }
///     let params = try observer.parameters(settings: settings)
public struct QuantObserver: Sendable, Hashable {
    /// Running min/max or moving average.
    public let kind: QuantObserverKind
    /// The shape of the tracked values (`QuantizationBlocks.scaleShape`); nil before the first batch.
    public private(set) var scaleShape: [Int]?
    /// One tracked minimum per block (empty before the first batch). Values are those of the
    /// computation precision (float32 unless the batches are float64), held exactly as Double.
    public private(set) var trackedMin: [Double] = []
    /// One tracked maximum per block (empty before the first batch).
    public private(set) var trackedMax: [Double] = []
    /// Number of batches observed.
    public private(set) var batchCount = 0
    /// The precision of the last batch: `.float64` for float64 batches, `.float32` otherwise.
    public private(set) var precision: ElementType = .float32
    /// True once a batch range reduced across ranks was folded in (`observeDistributed` of a
    /// target sharded along dims its scale blocks reduce): the tracked range is the unsharded
    /// tensor's already.
    public private(set) var acrossRanks = false

    /// An observer that has seen no batch yet.
    public init(kind: QuantObserverKind = .minMax) {
        self.kind = kind
    }

    /// Folds one batch into the tracked range: the batch's per-block min and max (NaN when a
    /// block holds NaN, as torch's amin/amax), then running min/max or the moving average.
    ///
    /// - Parameters:
    ///   - batch: the target's values for this batch (any dtype and strides). Its shape may change
    ///     between batches (the batch dim of activations) as long as the scale shape does not.
    ///   - settings: the target's settings (granularity, role and name are used).
    /// - Throws: `QuantizationError` — `.emptyTensor` for a batch without elements,
    ///   `.invalidGranularity` when the granularity does not fit the batch's shape,
    ///   `.shapeMismatch` when the batch's scale shape differs from the one tracked so far,
    ///   `.invalidSetting` (key `decay`) for a decay outside [0, 1]. The state is unchanged on error.
    public mutating func observe(_ batch: TensorView, settings: QuantizationSettings) throws(EngineError) {
        let blocks = try Quantization.observedBlocks(batch, settings: settings, kind: kind)
        if let scaleShape, scaleShape != blocks.scaleShape {
            throw EngineError(.quantization, .shapeMismatch, target: settings.target,
                                    "batch of shape \(batch.shape) gives scale shape \(blocks.scaleShape), but the observer tracks scale shape \(scaleShape)")
        }
        let first = batchCount == 0
        if batch.dtype == .float64 {
            let (lo, hi) = Quantization.batchMinMax(batch, blocks, Double.self)
            trackedMin = first ? lo : Quantization.combine(trackedMin, lo, kind: kind, isMax: false)
            trackedMax = first ? hi : Quantization.combine(trackedMax, hi, kind: kind, isMax: true)
            precision = .float64
        } else {
            let (lo, hi) = Quantization.batchMinMax(batch, blocks, Float.self)
            let oldLo = trackedMin.map { Float($0) }, oldHi = trackedMax.map { Float($0) }
            trackedMin = (first ? lo : Quantization.combine(oldLo, lo, kind: kind, isMax: false)).map { Double($0) }
            trackedMax = (first ? hi : Quantization.combine(oldHi, hi, kind: kind, isMax: true)).map { Double($0) }
            precision = .float32
        }
        scaleShape = blocks.scaleShape
        batchCount += 1
    }

    /// The per-block min and max of `batch` (NaN for a block holding NaN), in the precision
    /// `observe` computes in (float64 for float64 batches, float32 otherwise: returned), held
    /// exactly as Double: `observe` is `fold(batchRange(...))`. The part of a batch a rank holds,
    /// reduced across the ranks before `fold` (CompressionSession.observeDistributed).
    static func batchRange(_ batch: TensorView, _ blocks: QuantizationBlocks) -> (min: [Double], max: [Double], precision: ElementType) {
        if batch.dtype == .float64 {
            let (lo, hi) = Quantization.batchMinMax(batch, blocks, Double.self)
            return (lo, hi, .float64)
        }
        let (lo, hi) = Quantization.batchMinMax(batch, blocks, Float.self)
        return (lo.map { Double($0) }, hi.map { Double($0) }, .float32)
    }

    /// Folds a batch's per-block range (`batchRange`, or its reduction across ranks: values of
    /// `precision`, held as Double) into the tracked range exactly as `observe` folds a batch.
    /// - Throws: `.shapeMismatch` when the counts differ from the scale shape's block count or the
    ///   scale shape from the tracked one. The state is unchanged on error.
    mutating func fold(min lo: [Double], max hi: [Double], scaleShape shape: [Int], precision p: ElementType,
                       settings: QuantizationSettings, acrossRanks reduced: Bool = false) throws(EngineError) {
        var n = 1
        for d in shape {
            let (m, o) = n.multipliedReportingOverflow(by: d)
            n = o || d < 0 ? -1 : m
            if n < 0 { break }
        }
        guard n >= 0, lo.count == n, hi.count == n else {
            throw EngineError(.quantization, .shapeMismatch, target: settings.target,
                              "a batch range of \(lo.count) minima and \(hi.count) maxima for scale shape \(shape)")
        }
        if let scaleShape, scaleShape != shape {
            throw EngineError(.quantization, .shapeMismatch, target: settings.target,
                              "the batch gives scale shape \(shape), but the observer tracks scale shape \(scaleShape)")
        }
        let first = batchCount == 0
        if p == .float64 {
            trackedMin = first ? lo : Quantization.combine(trackedMin, lo, kind: kind, isMax: false)
            trackedMax = first ? hi : Quantization.combine(trackedMax, hi, kind: kind, isMax: true)
            precision = .float64
        } else {
            let lf = lo.map { Float($0) }, hf = hi.map { Float($0) }
            let oldLo = trackedMin.map { Float($0) }, oldHi = trackedMax.map { Float($0) }
            trackedMin = (first ? lf : Quantization.combine(oldLo, lf, kind: kind, isMax: false)).map { Double($0) }
            trackedMax = (first ? hf : Quantization.combine(oldHi, hf, kind: kind, isMax: true)).map { Double($0) }
            precision = .float32
        }
        scaleShape = shape
        batchCount += 1
        if reduced { acrossRanks = true }
    }

    /// Scale and zero point from the tracked range (see `QuantParameters.init(trackedMin:...)`),
    /// computed in the precision of the last batch.
    ///
    /// - Throws: `EngineError(.quantization, .emptyTensor)` before the first batch; `.invalidParameters`
    ///   when a tracked value is NaN or infinite.
    /// Replaces the tracked range with `min` / `max` of the same block count (the range reduced
    /// over the ranks that hold shards of one tensor, docs/distributed.md). Ignored before the
    /// first batch or for other counts.
    mutating func replaceRange(min lo: [Double], max hi: [Double]) {
        guard scaleShape != nil, lo.count == trackedMin.count, hi.count == trackedMax.count else { return }
        trackedMin = lo
        trackedMax = hi
    }

    public func parameters(settings: QuantizationSettings) throws(EngineError) -> QuantParameters {
        guard let scaleShape else {
            throw EngineError(.quantization, .emptyTensor, target: settings.target, "no batch observed yet: nothing to compute a scale from")
        }
        return try QuantParameters(trackedMin: trackedMin, trackedMax: trackedMax, scaleShape: scaleShape,
                                   settings: settings, precision: precision)
    }
}

extension Quantization {
    /// Folds one batch into tracked min/max values that live in caller buffers (`tracked_min` /
    /// `tracked_max` tensors, as NNI keeps them on the module wrapper). Same arithmetic as
    /// `QuantObserver.observe`; the computation is in float64 when the batch is float64, float32
    /// otherwise, and results are stored rounded to the buffers' dtypes.
    ///
    /// - Parameters:
    ///   - batch: the target's values for this batch.
    ///   - trackedMin, trackedMax: caller buffers with one element per block
    ///     (`settings.blocks(forShape: batch.shape).blockCount`; shape `scaleShape` recommended,
    ///     only the element count is checked), any float dtype and strides. Read unless
    ///     `isFirstBatch`, then overwritten.
    ///   - isFirstBatch: true when the buffers hold nothing yet (NNI's `tracked_min is None`):
    ///     the batch's range is stored as it is.
    ///   - kind: running min/max or moving average.
    ///   - settings: the target's settings.
    /// - Throws: as `QuantObserver.observe`; `.shapeMismatch` when a buffer's element count is not
    ///   the block count. Nothing is written on error.
    public static func observe(_ batch: TensorView, trackedMin: MutableTensorView, trackedMax: MutableTensorView,
                               isFirstBatch: Bool, kind: QuantObserverKind,
                               settings: QuantizationSettings) throws(EngineError) {
        let blocks = try observedBlocks(batch, settings: settings, kind: kind)
        for (name, buffer) in [("tracked_min", trackedMin), ("tracked_max", trackedMax)] where buffer.count != blocks.blockCount {
            throw EngineError(.quantization, .shapeMismatch, target: settings.target,
                                    "\(name) buffer has \(buffer.count) elements (shape \(buffer.shape)); the batch of shape \(batch.shape) has \(blocks.blockCount) block(s), scale shape \(blocks.scaleShape)")
        }
        if batch.dtype == .float64 {
            update(batch, blocks, trackedMin, trackedMax, isFirstBatch, kind, Double.self)
        } else {
            update(batch, blocks, trackedMin, trackedMax, isFirstBatch, kind, Float.self)
        }
    }

    static func update<T: QuantReal>(_ batch: TensorView, _ blocks: QuantizationBlocks, _ minBuf: MutableTensorView,
                                     _ maxBuf: MutableTensorView, _ first: Bool, _ kind: QuantObserverKind, _: T.Type) {
        let (lo, hi) = batchMinMax(batch, blocks, T.self)
        var newLo = lo, newHi = hi
        if !first {
            let oldLo = minBuf.readOnly.allValues(as: T.self), oldHi = maxBuf.readOnly.allValues(as: T.self)
            newLo = combine(oldLo, lo, kind: kind, isMax: false)
            newHi = combine(oldHi, hi, kind: kind, isMax: true)
        }
        minBuf.store(0..<newLo.count) { Double(newLo[$0]) }
        maxBuf.store(0..<newHi.count) { Double(newHi[$0]) }
    }

    /// The blocks of `batch` after checking the observer's inputs.
    static func observedBlocks(_ batch: TensorView, settings: QuantizationSettings,
                               kind: QuantObserverKind) throws(EngineError) -> QuantizationBlocks {
        if case .movingAverage(let decay) = kind, !(decay >= 0 && decay <= 1) {
            throw EngineError(.quantization, .invalidSetting, target: settings.target, key: "decay",
                                    "expected a moving-average decay in [0, 1], got \(pythonFloat(decay))")
        }
        let blocks = try settings.blocks(forShape: batch.shape)
        if batch.count == 0 {
            throw EngineError(.quantization, .emptyTensor, target: settings.target,
                                    "batch of shape \(batch.shape) has no elements; min and max are undefined")
        }
        // The observer keeps per-block state for each part of the pass: bounded by the memory the
        // batch really addresses (a broadcast view with more blocks than distinct elements would
        // otherwise make the state, not the data, the size of its claimed element count).
        let distinct = batch.layout.maxOffset - batch.layout.minOffset + 1
        if blocks.blockCount > distinct {
            throw EngineError(.quantization, .shapeMismatch, target: settings.target,
                                    "batch of shape \(batch.shape) with strides \(batch.layout.strides) addresses \(distinct) distinct elements but its granularity asks for \(blocks.blockCount) blocks; pass the batch without broadcasting (.contiguous())")
        }
        return blocks
    }

    /// Per-block min and max of `x` (NaN for a block holding NaN), in precision T.
    static func batchMinMax<T: QuantReal>(_ x: TensorView, _ blocks: QuantizationBlocks, _: T.Type) -> (min: [T], max: [T]) {
        let nb = blocks.blockCount
        let chunks = quantChunks(x.count)
        let parts = chunks.count
        let mins = SharedSlots<T>(repeating: .infinity, count: parts * nb)
        let maxs = SharedSlots<T>(repeating: -.infinity, count: parts * nb)
        let nans = SharedSlots<Bool>(repeating: false, count: parts * nb)
        parallelFor(parts) { p in
            withUnsafeTemporaryAllocation(of: T.self, capacity: quantTile) { scratch in
                guard let s = scratch.baseAddress else { return }
                blocks.forEachSegment(in: chunks[p]) { segment, b in
                    let k = p &* nb &+ b
                    forEachTile(x, segment, scratch: s) { v, tile in
                        let r = T.minMax(v, tile.count)
                        if r.min < mins[k] { mins[k] = r.min }
                        if r.max > maxs[k] { maxs[k] = r.max }
                        if r.nan { nans[k] = true }
                    }
                }
            }
        }
        var lo = [T](repeating: .infinity, count: nb), hi = [T](repeating: -.infinity, count: nb)
        for p in 0..<parts {
            for b in 0..<nb {
                let k = p * nb + b
                if nans[k] {
                    lo[b] = .nan
                    hi[b] = .nan
                }
                if mins[k] < lo[b] { lo[b] = mins[k] }
                if maxs[k] > hi[b] { hi[b] = maxs[k] }
            }
        }
        return (lo, hi)
    }

    /// NNI's update of a tracked value by a batch value: torch.min / torch.max (NaN wins), or the
    /// moving average `old * decay + (1 - decay) * new`.
    static func combine<T: QuantReal>(_ old: [T], _ new: [T], kind: QuantObserverKind, isMax: Bool) -> [T] {
        var out = new
        switch kind {
        case .minMax:
            for i in out.indices {
                let a = old[i], b = new[i]
                if a.isNaN || b.isNaN {
                    out[i] = .nan
                } else {
                    out[i] = isMax ? Swift.max(a, b) : Swift.min(a, b)
                }
            }
        case .movingAverage(let decay):
            let d = T(decay), rest = T(1 - decay)
            for i in out.indices {
                let kept = old[i] * d
                let added = rest * new[i]
                out[i] = kept + added
            }
        }
        return out
    }
}

extension TensorView {
    /// Every element in logical order, converted to T (exact for Double; Float rounds float64).
    func allValues<T: QuantReal>(as: T.Type) -> [T] {
        var out = [T](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { b in
            guard let p = b.baseAddress else { return }
            T.gather(self, 0..<count, into: p)
        }
        return out
    }
}
