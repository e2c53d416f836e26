/// Metric accumulators of the training-aware pruners (NNI 3.0's TaylorPruner and SlimPruner), fed
/// with caller tensors each training step, like the quantization observers. Every function works
/// on caller buffers of any of the four dtypes and any strides; nothing is retained. Arithmetic is
/// done per element in Double and rounded to the destination's dtype after each operation, which
/// reproduces torch's per-operation float32 / float16 / bfloat16 rounding (a product, sum or
/// quotient of two floats is exact or correctly rounded in Double before the final rounding).
public enum TrainingMetrics {
    /// `v` rounded to `dtype` (and back to Double).
    @inline(__always)
    static func rounded(_ v: Double, _ dtype: ElementType) -> Double {
        switch dtype {
        case .float64: return v
        case .float32: return Double(Float(v))
        case .float16: return Double(float(fromFloat16Bits: float16Bits(from: Float(v))))
        case .bfloat16: return Double(float(fromBFloat16Bits: bfloat16Bits(from: Float(v))))
        }
    }

    static func requireSameShape(_ a: [Int], _ b: [Int], _ what: String, _ name: String) throws(EngineError) {
        guard a == b else {
            throw EngineError(.pruning, .shapeMismatch, target: name, "\(what) shape \(a) differs from \(b)")
        }
    }

    /// Taylor's per-step accumulation: `buffer[i] = (reset ? 0 : buffer[i]) + (weight[i] * gradient[i])^2`,
    /// each operation rounded to the buffer's dtype (NNI: `buffer += (w.detach() * g.detach()).pow(2)`).
    /// - Throws: `.shapeMismatch` naming `name` when the three shapes differ.
    public static func taylorAccumulate(buffer: MutableTensorView, weight: TensorView, gradient: TensorView,
                                        reset: Bool, name: String) throws(EngineError) {
        try requireSameShape(weight.shape, buffer.shape, "weight", name)
        try requireSameShape(gradient.shape, buffer.shape, "gradient", name)
        guard let wp = weight.pointer, let gp = gradient.pointer else { return }
        let d = buffer.dtype
        if d == .float32, weight.dtype == .float32, gradient.dtype == .float32, buffer.layout.isContiguous,
           weight.layout.isContiguous, gradient.layout.isContiguous, let bp = buffer.pointer {
            // the common case: three dense float32 tensors, Float arithmetic (the same roundings)
            let n = buffer.count
            let b = bp.bindMemory(to: Float.self, capacity: n)
            let w = wp.bindMemory(to: Float.self, capacity: n), g = gp.bindMemory(to: Float.self, capacity: n)
            if reset {
                for i in 0..<n { let p = w[i] * g[i]; b[i] = p * p }
            } else {
                for i in 0..<n { let p = w[i] * g[i]; b[i] += p * p }
            }
            return
        }
        buffer.update(0..<buffer.count) { i, x in
            let w = loadDouble(wp, weight.dtype, weight.layout.offset(ofLogicalIndex: i))
            let g = loadDouble(gp, gradient.dtype, gradient.layout.offset(ofLogicalIndex: i))
            let p = rounded(w * g, d)
            let sq = rounded(p * p, d)
            return reset ? sq : x + sq
        }
    }

    /// Taylor's average: `out[i] = buffer[i] / steps` rounded to `out`'s dtype (NNI: `buffer / training_steps`).
    /// - Throws: `.invalidSetting` (key `training_steps`) for `steps < 1`; `.shapeMismatch` when shapes differ.
    public static func taylorAverage(buffer: TensorView, steps: Int, into out: MutableTensorView, name: String) throws(EngineError) {
        guard steps >= 1 else {
            throw EngineError(.pruning, .invalidSetting, target: name, key: "training_steps", "expected an int >= 1, got \(steps)")
        }
        try requireSameShape(buffer.shape, out.shape, "buffer", name)
        guard let bp = buffer.pointer else { return }
        let s = Double(steps)
        out.store(0..<out.count) { i in loadDouble(bp, buffer.dtype, buffer.layout.offset(ofLogicalIndex: i)) / s }
    }

    /// Slim's metric: `out[i] = |factor[i]|` (NNI: the scaling factor's `abs()`).
    /// - Throws: `.shapeMismatch` when shapes differ.
    public static func slimMetric(factor: TensorView, into out: MutableTensorView, name: String) throws(EngineError) {
        try requireSameShape(factor.shape, out.shape, "factor", name)
        guard let fp = factor.pointer else { return }
        out.store(0..<out.count) { i in abs(loadDouble(fp, factor.dtype, factor.layout.offset(ofLogicalIndex: i))) }
    }

    /// Slim's patched loss: `loss + regularScale * (Σ_k ||factors[k]||_1) / count`, rounded to
    /// `dtype` after each operation as NNI's `loss_patch` computes it in torch: each L1 norm is
    /// accumulated in logical order in torch's accumulation type (float32 for float32 / float16 /
    /// bfloat16 factors, Double for float64) and rounded to `dtype` once, as `Tensor.norm(p=1)` does
    /// on one CPU thread (torch splits a factor of 32768 elements or more across its threads; the
    /// last bit may then differ); the scale is rounded to `dtype` before the product (torch casts
    /// the Python scalar to the tensor's type). `count == 0` gives `loss`.
    /// - Throws: `.invalidSetting` (key `regular_scale`) for a non-finite scale.
    public static func slimPenalty(loss: Double, factors: [TensorView], regularScale: Double,
                                   dtype: ElementType) throws(EngineError) -> Double {
        guard regularScale.isFinite else {
            throw EngineError(.pruning, .invalidSetting, target: "SlimPruner", key: "regular_scale", "expected a finite number, got \(regularScale)")
        }
        guard !factors.isEmpty else { return loss }
        var total = 0.0
        for f in factors {
            var norm = 0.0
            if f.dtype == .float64 {
                f.forEachValue { norm += abs($0) }
            } else {
                var acc: Float = 0
                f.forEachValue { acc += Float(abs($0)) }
                norm = Double(acc)
            }
            total = rounded(total + rounded(norm, dtype), dtype)
        }
        let scaled = rounded(rounded(rounded(regularScale, dtype) * total, dtype) / Double(factors.count), dtype)
        return rounded(loss + scaled, dtype)
    }

    /// The gradient of `slimPenalty` for each factor: `grads[k][i] = sign(factors[k][i]) * g`, with
    /// `g = (gradOutput / count) * regularScale` rounded as torch's backward of NNI's expression
    /// (`sign(0) = 0`). The loss's own gradient is `gradOutput` (returned unchanged by the caller).
    /// - Throws: `.invalidArgument` when the lists differ in length; `.shapeMismatch` naming
    ///   `names[k]` when a gradient buffer's shape differs from its factor's.
    public static func slimPenaltyGradient(factors: [TensorView], regularScale: Double, gradOutput: Double,
                                           into grads: [MutableTensorView], names: [String]) throws(EngineError) {
        guard grads.count == factors.count, names.count == factors.count else {
            throw EngineError(.pruning, .invalidSetting, target: "SlimPruner", key: "grads", "expected \(factors.count) gradient buffers, got \(grads.count)")
        }
        for (k, f) in factors.enumerated() {
            try requireSameShape(grads[k].shape, f.shape, "gradient", names[k])
        }
        for (k, f) in factors.enumerated() {
            let out = grads[k]
            let d = out.dtype
            let g = rounded(rounded(gradOutput / Double(factors.count), d) * rounded(regularScale, d), d)
            guard let fp = f.pointer else { continue }
            out.store(0..<out.count) { i in
                let x = loadDouble(fp, f.dtype, f.layout.offset(ofLogicalIndex: i))
                return x > 0 ? g : (x < 0 ? -g : (x.isNaN ? .nan : 0))
            }
        }
    }
}

extension CompressionSession {
    /// The metric shape (NNI's keepdim shape: one value per block) of the resolved pruning target
    /// `module.target` for a tensor of `shape` under the target's granularity; `levelDefault`
    /// selects LevelPruner's default (fine-grained) instead of `out_channel`. Training-aware pruners
    /// allocate their per-block scores with it.
    /// - Throws: `.state` / `.unknownName` as `index(module:target:)`; `.engine` for a granularity
    ///   that does not fit `shape`.
    public func pruningMetricShape(module: String, target: String, shape: [Int], levelDefault: Bool) throws(SessionError) -> [Int] {
        let t = try self.target(at: try index(module: module, target: target))
        guard let settings = t.pruning else { throw .state("\(t.qualifiedName) is not a pruning target") }
        let isParameter = !(target.hasPrefix("_input_") || target.hasPrefix("_output_"))
        do throws(EngineError) {
            return try BlockLayout(shape: shape, granularity: settings.granularity, isParameter: isParameter,
                                   levelDefault: levelDefault, target: t.qualifiedName).metricShape
        } catch { throw .engine(error) }
    }
}
