extension Quantization {
    /// Fake quantization (NNI 3.0's `ClampRound` forward), element by element with the scale and
    /// zero point of the element's block:
    ///
    ///     t  = zp + x / scale
    ///     q  = round_half_even(clamp(t, qmin, qmax))
    ///     x' = (q - zp) * scale
    ///
    /// Each operation is rounded to float32 (float64 when `x` is float64), so float32 results are
    /// bit for bit NNI's. NaN inputs give NaN; infinities give the clamped end of the range.
    ///
    /// - Parameters:
    ///   - x: the target's values (any dtype and strides).
    ///   - out: where x' is written: same shape as `x`, any dtype and strides (rounded to its
    ///     dtype). May be `x`'s own memory with the same layout (in place); must not otherwise
    ///     overlap it.
    ///   - parameters: scale and zero point, one per block of `x` under `settings.granularity`.
    ///   - settings: dtype (must equal `parameters.dtype`), granularity, role and name.
    ///   - gradientMask: when given (same shape as `x`, any dtype), receives the straight-through
    ///     gradient mask of NNI's `QATClampRound`: 1 where qmin <= t <= qmax (or t is NaN), 0 where
    ///     t was clamped. Multiply the incoming gradient by it.
    /// - Throws: `QuantizationError` — `.shapeMismatch` for an output or mask of another shape or
    ///   parameters with another block count, `.invalidGranularity` when the granularity does not
    ///   fit `x`, `.invalidParameters` when `parameters.dtype` differs from `settings.dtype`.
    ///   Nothing is written on error.
    public static func fakeQuantize(_ x: TensorView, into out: MutableTensorView, parameters: QuantParameters,
                                    settings: QuantizationSettings, gradientMask: MutableTensorView? = nil) throws(EngineError) {
        let blocks = try checkedBlocks(x, out: out, mask: gradientMask, parameters: parameters, settings: settings)
        if x.dtype == .float64 {
            fakeQuant(x, out, parameters, blocks, gradientMask, Double.self)
        } else {
            fakeQuant(x, out, parameters, blocks, gradientMask, Float.self)
        }
    }

    /// Fake quantization in place: `fakeQuantize(x.readOnly, into: x, ...)`.
    public static func fakeQuantize(inPlace x: MutableTensorView, parameters: QuantParameters,
                                    settings: QuantizationSettings, gradientMask: MutableTensorView? = nil) throws(EngineError) {
        try fakeQuantize(x.readOnly, into: x, parameters: parameters, settings: settings, gradientMask: gradientMask)
    }

    /// Applies the target's `apply_method` (NNI 3.0's quantization apply methods):
    ///
    /// - `clamp_round`: fake quantization; the gradient mask (if given) is all 1 (NNI's
    ///   `ClampRound` passes the gradient straight through).
    /// - `qat_clamp_round`: fake quantization; the gradient mask is 0 where the value was clamped.
    /// - `bypass`: `out` receives `x` unchanged (converted to `out`'s dtype); the mask is all 1;
    ///   `parameters` may be nil.
    ///
    /// - Throws: as `fakeQuantize`; `.invalidParameters` when `parameters` is nil for
    ///   `clamp_round` / `qat_clamp_round`.
    public static func apply(_ x: TensorView, into out: MutableTensorView, parameters: QuantParameters?,
                             settings: QuantizationSettings, gradientMask: MutableTensorView? = nil) throws(EngineError) {
        switch settings.applyMethod {
        case .bypass:
            try checkSameShape(x, out.shape, "output", settings)
            if let gradientMask { try checkSameShape(x, gradientMask.shape, "gradient mask", settings) }
            if x.pointer != UnsafeRawPointer(out.pointer) || x.layout != out.layout || x.dtype != out.dtype {
                copy(x, into: out)
            }
            gradientMask?.fill(1)
        case .clampRound, .qatClampRound:
            guard let parameters else {
                throw EngineError(.quantization, .invalidParameters, target: settings.target, key: "apply_method",
                                        "'\(settings.applyMethod.rawValue)' needs a scale and a zero point; none were given (observe batches and compute them first)")
            }
            let qat = settings.applyMethod == .qatClampRound
            if let gradientMask { try checkSameShape(x, gradientMask.shape, "gradient mask", settings) }
            try fakeQuantize(x, into: out, parameters: parameters, settings: settings, gradientMask: qat ? gradientMask : nil)
            if !qat { gradientMask?.fill(1) }
        }
    }

    static func checkSameShape(_ x: TensorView, _ shape: [Int], _ what: String, _ settings: QuantizationSettings) throws(EngineError) {
        if shape != x.shape {
            throw EngineError(.quantization, .shapeMismatch, target: settings.target, "\(what) has shape \(shape), the target \(x.shape)")
        }
    }

    /// The blocks of `x` after checking outputs and parameters against it.
    static func checkedBlocks(_ x: TensorView, out: MutableTensorView?, mask: MutableTensorView?, parameters: QuantParameters,
                              settings: QuantizationSettings) throws(EngineError) -> QuantizationBlocks {
        if let out { try checkSameShape(x, out.shape, "output", settings) }
        if let mask { try checkSameShape(x, mask.shape, "gradient mask", settings) }
        if parameters.dtype != settings.dtype {
            throw EngineError(.quantization, .invalidParameters, target: settings.target, key: "quant_dtype",
                                    "scale and zero point were computed for \(parameters.dtype), the settings say \(settings.dtype)")
        }
        let blocks = try settings.blocks(forShape: x.shape)
        if parameters.scale.count != blocks.blockCount {
            throw EngineError(.quantization, .shapeMismatch, target: settings.target,
                                    "\(parameters.scale.count) scale(s) (scale shape \(parameters.scaleShape)) for a target of shape \(x.shape) with \(blocks.blockCount) block(s) (scale shape \(blocks.scaleShape))")
        }
        if x.dtype != .float64 {
            // The values are computed in float32: a scale must be usable there, not only as given
            // (1e-300 is 0 and 1e300 infinite in float32; either would divide into garbage).
            for (i, scale) in parameters.scale.enumerated() {
                let s = Float(scale)
                guard s.isFinite, s > 0 else {
                    throw EngineError(.quantization, .invalidParameters, target: settings.target,
                                      "scale of block \(i) is \(pythonFloat(scale)), which is \(pythonFloat(Double(s))) in float32, the precision this \(x.dtype.rawValue) tensor is computed in; expected a finite number > 0 there")
                }
            }
        }
        return blocks
    }

    static func constants<T: QuantReal>(_ p: QuantParameters, _: T.Type) -> [QuantConstants<T>] {
        zip(p.scale, p.zeroPoint).map { QuantConstants(scale: T($0), zeroPoint: T($1)) }
    }

    static func fakeQuant<T: QuantReal>(_ x: TensorView, _ out: MutableTensorView, _ p: QuantParameters, _ blocks: QuantizationBlocks,
                                        _ mask: MutableTensorView?, _: T.Type) {
        let consts = constants(p, T.self)
        let qmin = T(p.dtype.qmin), qmax = T(p.dtype.qmax)
        let chunks = quantChunks(x.count)
        let outDirect = out.layout.isContiguous && out.dtype == T.nativeDType
        let maskDirect = mask.map { $0.layout.isContiguous && $0.dtype == T.nativeDType } ?? true
        let bounded = !outDirect || !maskDirect
        parallelFor(chunks.count) { part in
            withUnsafeTemporaryAllocation(of: T.self, capacity: 3 * quantTile) { buffer in
                guard let scratch = buffer.baseAddress else { return }
                let outTile = scratch + quantTile, maskTile = scratch + 2 * quantTile
                blocks.forEachSegment(in: chunks[part]) { segment, b in
                    let c = consts[b]
                    forEachTile(x, segment, scratch: scratch, boundedTiles: bounded) { v, tile in
                        let dst = directPointer(out, tile, as: T.self) ?? outTile
                        var m: UnsafeMutablePointer<T>? = nil
                        if let mask { m = directPointer(mask, tile, as: T.self) ?? maskTile }
                        T.fakeQuantize(v, dst, tile.count, c, qmin: qmin, qmax: qmax, mask: m)
                        if !outDirect { scatter(outTile, into: out, tile) }
                        if let mask, !maskDirect { scatter(maskTile, into: mask, tile) }
                    }
                }
            }
        }
    }

    /// Copies `x` into `out` (same element count), converting dtypes.
    static func copy(_ x: TensorView, into out: MutableTensorView) {
        let chunks = quantChunks(x.count)
        parallelFor(chunks.count) { part in
            if x.dtype == .float64 || out.dtype == .float64 {
                var buf = [Double](repeating: 0, count: 0)
                let r = chunks[part]
                buf.reserveCapacity(r.count)
                x.visitDoubles(r) { _, v in buf.append(v) }
                out.store(r) { buf[$0 &- r.lowerBound] }
            } else {
                var buf = [Float](repeating: 0, count: 0)
                let r = chunks[part]
                buf.reserveCapacity(r.count)
                x.visitFloats(r) { _, v in buf.append(v) }
                out.store(r) { Double(buf[$0 &- r.lowerBound]) }
            }
        }
    }
}
