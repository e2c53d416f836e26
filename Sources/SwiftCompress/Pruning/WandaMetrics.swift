/// Wanda (Sun et al. 2023, "A Simple and Effective Pruning Approach for Large Language Models"):
/// the input-norm accumulator fed by calibration batches, and the metric |W_ij| * ||X_j||_2.
///
/// The accumulator holds, per input channel j of a layer, the sum over every token of the
/// calibration inputs of x_j^2 (the squared L2 norm of that channel's column of the layer's input
/// matrix X, tokens as rows). The paper's code keeps the mean over samples instead; a common factor
/// does not change a mask (every comparison group is inside one layer). Sums are in Double and
/// stored in the accumulator's dtype (float64 recommended: a float32 accumulator rounds each add).
/// Pruning then ranks by the metric with `PruningMetricKind.wanda`: per output row at
/// `sparse_ratio` (the paper's comparison group), or per N:M group with `mask_structure`.
public enum WandaMetrics {
    /// Adds, for every channel c of `input` along `channelDim` (negative counts from the end), the
    /// sum of input^2 over all other positions to `norms[c]` (or stores it when `reset`).
    /// Linear layers: `channelDim` -1 (input `[..., in_features]`); convolutions: 1 (`[N, C, ...]`,
    /// summed over batch and spatial positions).
    /// - Throws: `.shapeMismatch` naming `name` when `channelDim` is out of range or `norms` does
    ///   not hold one value per channel; nothing is written then.
    public static func accumulate(norms: MutableTensorView, input: TensorView, channelDim: Int, reset: Bool,
                                  name: String) throws(EngineError) {
        let shape = input.shape
        let rank = shape.count
        let d = channelDim < 0 ? channelDim + rank : channelDim
        guard rank >= 1, d >= 0, d < rank else {
            throw EngineError(.pruning, .shapeMismatch, target: name,
                              "channel dim \(channelDim) is out of range for an input of shape \(shape)")
        }
        let channels = shape[d]
        guard norms.count == channels else {
            throw EngineError(.pruning, .shapeMismatch, target: name,
                              "norms hold \(norms.count) values (shape \(norms.shape)); the input of shape \(shape) has \(channels) channels along dim \(d)")
        }
        var sums = [Double](repeating: 0, count: channels)
        let inner = shape[(d + 1)...].reduce(1, *)
        if channels > 0, inner > 0, let p = input.pointer {
            sums.withUnsafeMutableBufferPointer { s in
                if input.dtype == .float32, input.layout.isContiguous {
                    let f = p.assumingMemoryBound(to: Float.self)
                    if inner == 1 {
                        // [tokens, channels]: rows of channels.
                        let rows = input.count / channels
                        for r in 0..<rows {
                            let row = f + r * channels
                            for c in 0..<channels { let x = Double(row[c]); s[c] += x * x }
                        }
                    } else {
                        for i in 0..<input.count {
                            let x = Double(f[i])
                            s[(i / inner) % channels] += x * x
                        }
                    }
                } else {
                    input.visitDoubles(0..<input.count) { i, x in s[(i / inner) % channels] += x * x }
                }
            }
        }
        norms.update(0..<channels) { c, old in reset ? sums[c] : old + sums[c] }
    }

    /// The Wanda metric of `weight` (rank >= 2, input channels along dim 1; a conv's kernel
    /// positions share their channel's norm): `out[i, j, ...] = |weight[i, j, ...]| * sqrt(norms[j])`,
    /// each factor rounded to `out`'s dtype and the product rounded once (float32 `out` gives the
    /// paper's float32 computation, `W.abs() * sqrt(scaler_row)`).
    /// - Throws: `.shapeMismatch` naming `name` when weight has rank < 2, `norms` does not hold
    ///   `weight.shape[1]` values, or `out` does not have the weight's shape; `.invalidMetric` for a
    ///   negative or NaN norm.
    public static func metric(weight: TensorView, norms: TensorView, into out: MutableTensorView, name: String) throws(EngineError) {
        let shape = weight.shape
        guard shape.count >= 2 else {
            throw EngineError(.pruning, .shapeMismatch, target: name, "Wanda needs a weight of rank >= 2 (input channels along dim 1), got shape \(shape)")
        }
        guard norms.count == shape[1] else {
            throw EngineError(.pruning, .shapeMismatch, target: name,
                              "norms hold \(norms.count) values (shape \(norms.shape)); the weight of shape \(shape) has \(shape[1]) input channels")
        }
        guard out.shape == shape else {
            throw EngineError(.pruning, .shapeMismatch, target: name, "metric shape \(out.shape) differs from the weight's \(shape)")
        }
        let channels = shape[1]
        var scale = [Double](repeating: 0, count: channels)
        var bad: (Int, Double)? = nil
        norms.visitDoubles(0..<channels) { c, x in
            if !(x >= 0), bad == nil { bad = (c, x) }
            scale[c] = TrainingMetrics.rounded(x.squareRoot(), out.dtype)
        }
        if let (c, x) = bad {
            throw EngineError(.pruning, .invalidMetric, target: name, "norms[\(c)] is \(x); expected a sum of squares (>= 0)")
        }
        let inner = shape[2...].reduce(1, *)
        guard let wp = weight.pointer, out.count > 0 else { return }
        let dt = out.dtype
        if dt == .float32, weight.dtype == .float32, weight.layout.isContiguous, out.layout.isContiguous, let op = out.pointer {
            let w = wp.assumingMemoryBound(to: Float.self), o = op.assumingMemoryBound(to: Float.self)
            let fs = scale.map { Float($0) }
            let n = out.count
            fs.withUnsafeBufferPointer { sc in
                if inner == 1 {
                    let rows = n / channels
                    for r in 0..<rows {
                        let base = r * channels
                        for c in 0..<channels { o[base + c] = Swift.abs(w[base + c]) * sc[c] }
                    }
                } else {
                    for i in 0..<n { o[i] = Swift.abs(w[i]) * sc[(i / inner) % channels] }
                }
            }
            return
        }
        out.store(0..<out.count) { i in
            let a = TrainingMetrics.rounded(Swift.abs(loadDouble(wp, weight.dtype, weight.layout.offset(ofLogicalIndex: i))), dt)
            return a * scale[(i / inner) % channels]
        }
    }
}
