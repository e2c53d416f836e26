/// Quantization of tensors over caller memory (NNI 3.0's quantizers, SEMANTICS.md
/// "Quantization"): observers, scale and zero point, fake quantization, real quantization into
/// integer buffers, and batch-norm folding. Every function takes views of caller memory and writes
/// results into caller buffers; nothing is retained after a call returns.
public enum Quantization {}

/// Scale and zero point of one target: one of each per block, with the quantized range.
///
/// Values are held as Double; when they were computed from float32 tracked values they are float32
/// values (exactly), and fake quantization of a float32 tensor uses them as float32.
public struct QuantParameters: Sendable, Hashable {
    /// One scale per block, each finite and > 0.
    public let scale: [Double]
    /// One zero point per block, each an integer in [qmin, qmax].
    public let zeroPoint: [Double]
    /// The shape of `scale` and `zeroPoint` (`QuantizationBlocks.scaleShape`).
    public let scaleShape: [Int]
    /// The quantized type; gives qmin and qmax.
    public let dtype: QuantDType

    /// Scale and zero point from tracked min and max, exactly as NNI 3.0 computes them
    /// (`compute_scale_zp` in its PTQ and QAT quantizers), per block:
    ///
    /// - min := min(min, 0), max := max(max, 0)
    /// - symmetric: scale = max(|min|, |max|) / ((qmax - qmin) / 2), at least float32 eps
    ///   (2^-23); zero point = (qmax + qmin + 1) div 2 (floor).
    /// - affine: scale = (max - min) / (qmax - qmin), at least eps; zero point = qmin -
    ///   round_half_even(min / scale), clamped into [qmin, qmax].
    ///
    /// Each operation is rounded to `precision` (`.float64` computes in Double, any other dtype
    /// in Float: torch computes in the tracked tensor's dtype).
    ///
    /// - Parameters:
    ///   - trackedMin, trackedMax: one value per block each.
    ///   - scaleShape: the blocks' shape; its element count must equal the number of values.
    ///   - settings: dtype and scheme are used; the target names errors.
    /// - Throws: `EngineError(.quantization, .shapeMismatch)` when the counts disagree,
    ///   `.invalidParameters` when a tracked value is NaN or infinite, or the scale overflows
    ///   (a range wider than the largest float32; NNI would produce NaN or infinite scales, here
    ///   the caller hears of it).
    public init(trackedMin: [Double], trackedMax: [Double], scaleShape: [Int], settings: QuantizationSettings,
                precision: ElementType = .float32) throws(EngineError) {
        let n = checkedElementCount(of: scaleShape) ?? -1
        guard trackedMin.count == n, trackedMax.count == n else {
            throw EngineError(.quantization, .shapeMismatch, target: settings.target,
                                    "scale shape \(scaleShape) has \(n < 0 ? "an invalid number of" : String(n)) element(s), but \(trackedMin.count) tracked min and \(trackedMax.count) tracked max values were given")
        }
        for i in 0..<n where !trackedMin[i].isFinite || !trackedMax[i].isFinite {
            throw EngineError(.quantization, .invalidParameters, target: settings.target,
                                    "tracked range of block \(i) is [\(pythonFloat(trackedMin[i])), \(pythonFloat(trackedMax[i]))]; the observed values held NaN or infinity")
        }
        var s = [Double](repeating: 0, count: n), z = [Double](repeating: 0, count: n)
        let d = settings.dtype, scheme = settings.scheme
        for i in 0..<n {
            if precision == .float64 {
                (s[i], z[i]) = QuantParameters.compute(trackedMin[i], trackedMax[i], d, scheme)
            } else {
                let (a, b) = QuantParameters.compute(Float(trackedMin[i]), Float(trackedMax[i]), d, scheme)
                (s[i], z[i]) = (Double(a), Double(b))
            }
            guard s[i].isFinite, z[i].isFinite else {
                throw EngineError(.quantization, .invalidParameters, target: settings.target,
                                        "tracked range of block \(i) is [\(pythonFloat(trackedMin[i])), \(pythonFloat(trackedMax[i]))]; its scale is not finite in \(precision == .float64 ? "float64" : "float32")")
            }
        }
        self.scale = s
        self.zeroPoint = z
        self.scaleShape = scaleShape
        self.dtype = d
    }

    /// Scale and zero point given directly (e.g. read back from a checkpoint).
    ///
    /// - Throws: `EngineError(.quantization, .shapeMismatch)` when a count differs from the element count
    ///   of `scaleShape`; `.invalidParameters` for a scale that is not finite and > 0, or a zero
    ///   point that is not an integer in [qmin, qmax] of `settings.dtype`.
    public init(scale: [Double], zeroPoint: [Double], scaleShape: [Int], settings: QuantizationSettings) throws(EngineError) {
        let n = checkedElementCount(of: scaleShape) ?? -1
        guard scale.count == n, zeroPoint.count == n else {
            throw EngineError(.quantization, .shapeMismatch, target: settings.target,
                                    "scale shape \(scaleShape) has \(n < 0 ? "an invalid number of" : String(n)) element(s), but \(scale.count) scale(s) and \(zeroPoint.count) zero point(s) were given")
        }
        let d = settings.dtype
        for i in 0..<n {
            guard scale[i].isFinite, scale[i] > 0 else {
                throw EngineError(.quantization, .invalidParameters, target: settings.target,
                                        "scale of block \(i) is \(pythonFloat(scale[i])); expected a finite number > 0")
            }
            let zp = zeroPoint[i]
            guard zp.rounded() == zp, zp >= Double(d.qmin), zp <= Double(d.qmax) else {
                throw EngineError(.quantization, .invalidParameters, target: settings.target,
                                        "zero point of block \(i) is \(pythonFloat(zp)); expected an integer in [\(d.qmin), \(d.qmax)] (\(d))")
            }
        }
        self.scale = scale
        self.zeroPoint = zeroPoint
        self.scaleShape = scaleShape
        self.dtype = d
    }

    /// Scale and zero point read from caller buffers (one element per block each, any float dtype
    /// and strides); validated as `init(scale:zeroPoint:scaleShape:settings:)`. `scaleShape` is the
    /// scale buffer's shape.
    public init(scale: TensorView, zeroPoint: TensorView, settings: QuantizationSettings) throws(EngineError) {
        guard zeroPoint.count == scale.count else {
            throw EngineError(.quantization, .shapeMismatch, target: settings.target,
                                    "zero point buffer has \(zeroPoint.count) element(s) (shape \(zeroPoint.shape)), scale buffer \(scale.count) (shape \(scale.shape))")
        }
        try self.init(scale: scale.allValues(as: Double.self), zeroPoint: zeroPoint.allValues(as: Double.self),
                      scaleShape: scale.shape, settings: settings)
    }

    /// Settings and parameters for quantizing a tensor of `shape` with a caller's own scale and
    /// zero point (no config, no observer: the session-free `sc_quantize` / `sc_dequantize`).
    ///
    /// The granularity comes from the scale's shape: one element means per tensor; otherwise the
    /// scale has the tensor's rank and each of its sizes divides the tensor's, giving blocks of
    /// `shape[d] / scale.shape[d]` along dim d (`-1`, the whole dim, where the scale's size is 1).
    /// The target is a parameter named `name`.
    ///
    /// - Throws: `.shapeMismatch` (naming no target) when the zero point's shape differs from the
    ///   scale's or the scale's shape gives no blocks of `shape`; the errors of
    ///   `init(scale:zeroPoint:settings:)` for unusable values.
    public static func explicit(scale: TensorView, zeroPoint: TensorView, dtype: QuantDType, shape: [Int],
                                name: String) throws(EngineError) -> (settings: QuantizationSettings, parameters: QuantParameters) {
        guard zeroPoint.shape == scale.shape else {
            throw EngineError(.quantization, .shapeMismatch, target: "", "zero_point has shape \(zeroPoint.shape); expected scale's shape \(scale.shape)")
        }
        let granularity: QuantGranularity
        if scale.count == 1 {
            granularity = .perTensor
        } else {
            let fits = scale.shape.count == shape.count
                && zip(scale.shape, shape).allSatisfy { s, n in s == 1 || (s > 1 && n >= s && n % s == 0) }
            guard fits else {
                throw EngineError(.quantization, .shapeMismatch, target: "",
                                  "scale has shape \(scale.shape); expected one element (per tensor) or \(shape.count) dims each dividing \(name)'s shape \(shape) (the blocks)")
            }
            granularity = .blocks(zip(scale.shape, shape).map { s, n in s == 1 ? -1 : n / s })
        }
        let settings = QuantizationSettings(target: name, role: .parameter, dtype: dtype, granularity: granularity)
        return (settings, try QuantParameters(scale: scale, zeroPoint: zeroPoint, settings: settings))
    }

    /// Writes scale and zero point into caller buffers (one element per block each, any float
    /// dtype and strides; values rounded to the buffer's dtype).
    ///
    /// - Throws: `EngineError(.quantization, .shapeMismatch)` when a buffer's element count is not the
    ///   block count (`target` names the target in the error).
    public func write(scale out: MutableTensorView, zeroPoint zpOut: MutableTensorView, target: String) throws(EngineError) {
        for (name, b) in [("scale", out), ("zero_point", zpOut)] where b.count != scale.count {
            throw EngineError(.quantization, .shapeMismatch, target: target,
                                    "\(name) buffer has \(b.count) element(s) (shape \(b.shape)); expected \(scale.count) (scale shape \(scaleShape))")
        }
        let s = scale, z = zeroPoint
        out.store(0..<s.count) { s[$0] }
        zpOut.store(0..<z.count) { z[$0] }
    }

    /// One block's scale and zero point in precision T (see `init(trackedMin:...)`).
    static func compute<T: QuantReal>(_ trackedMin: T, _ trackedMax: T, _ d: QuantDType, _ scheme: QuantScheme) -> (T, T) {
        let lo: T = trackedMin < 0 ? trackedMin : 0
        let hi: T = trackedMax > 0 ? trackedMax : 0
        let eps = T(Float.ulpOfOne)
        let qmin = d.qmin, qmax = d.qmax
        var scale: T
        var zp: T
        switch scheme {
        case .symmetric:
            let absMax = Swift.max(lo.magnitude, hi.magnitude)
            scale = absMax / T(Double(qmax - qmin) / 2)
            if scale < eps { scale = eps }
            zp = T((qmax + qmin + 1) >> 1)  // floor division by 2
        case .affine:
            scale = (hi - lo) / T(qmax - qmin)
            if scale < eps { scale = eps }
            zp = T(qmin) - (lo / scale).rounded(.toNearestOrEven)
        }
        if zp < T(qmin) { zp = T(qmin) }
        if zp > T(qmax) { zp = T(qmax) }
        return (scale, zp)
    }
}

extension Quantization {
    /// Computes scale and zero point from tracked min/max buffers into scale/zero-point buffers
    /// (the caller's `tracked_min`, `tracked_max`, `scale`, `zero_point` tensors), as
    /// `QuantParameters.init(trackedMin:...)`: in float64 when `trackedMin` is float64, float32
    /// otherwise; stored rounded to the output buffers' dtypes.
    ///
    /// - Throws: `EngineError(.quantization, .shapeMismatch)` when the four buffers do not all have the
    ///   same element count, `.invalidParameters` for NaN or infinite tracked values. Nothing is
    ///   written on error.
    public static func computeScaleAndZeroPoint(trackedMin: TensorView, trackedMax: TensorView,
                                                scale: MutableTensorView, zeroPoint: MutableTensorView,
                                                settings: QuantizationSettings) throws(EngineError) {
        guard trackedMax.count == trackedMin.count else {
            throw EngineError(.quantization, .shapeMismatch, target: settings.target,
                                    "tracked_max has \(trackedMax.count) element(s) (shape \(trackedMax.shape)), tracked_min \(trackedMin.count) (shape \(trackedMin.shape))")
        }
        let p = try QuantParameters(trackedMin: trackedMin.allValues(as: Double.self), trackedMax: trackedMax.allValues(as: Double.self),
                                    scaleShape: [trackedMin.count], settings: settings,
                                    precision: trackedMin.dtype == .float64 ? .float64 : .float32)
        try p.write(scale: scale, zeroPoint: zeroPoint, target: settings.target)
    }
}
