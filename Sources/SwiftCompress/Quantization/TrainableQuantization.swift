// The training-time quantizers of NNI 3.0 (LsqQuantizer, LsqPlusQuantizer, DoReFaQuantizer,
// BNNQuantizer): their forward values and their gradients, over caller tensors of any float dtype
// and strides. Per-tensor scale and zero point (NNI's default granularity for these quantizers).
//
// Precision: every element operation is rounded to Float for float32 / float16 / bfloat16 inputs
// and to Double for float64 inputs, in NNI's order, so element values (forward outputs, input
// gradients) are NNI's bit for bit where NNI's operations are IEEE operations. Two exceptions,
// documented in docs/quantization.md: (1) reductions over the tensor (the scale / zero-point
// gradient sums, DoReFa's gradient through max|tanh w|) are summed in Double and rounded once,
// where torch sums in float32 in its own order: they agree to about 1e-6 relative; (2) DoReFa's
// tanh is the C library's, torch's CPU kernel may differ by 1 ulp.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// NNI 3.0's training-time quantization methods, computed by the core (see the file comment for
/// the precision). Every function checks shapes before writing; nothing is written on error.
public enum TrainableQuantization {
    /// The quantizers whose initial scale and zero point `initialParameters` gives.
    public enum Method: String, Sendable, CaseIterable {
        /// LsqQuantizer: scale 0.01, zero point 0.
        case lsq
        /// LsqPlusQuantizer: scale 0.01, zero point (qmax - qmin) / 2.
        case lsqPlus
        /// DoReFaQuantizer (weights and outputs): the affine parameters of the range [0, 1]:
        /// scale = max(1 / (qmax - qmin), float32 eps), zero point = clamp(qmin - round(0 / scale)).
        case doReFa
        /// BNNQuantizer: scale 1, zero point 0 (not used by the sign function).
        case bnn
    }

    /// The scale and zero point NNI 3.0 starts `method` with, computed in float32 as NNI does
    /// (`torch.tensor(...)` is float32 whatever the model's dtype). Values are float32 numbers held
    /// in Double.
    /// - Throws: `.invalidSetting` (key `quant_dtype`) when `qmin >= qmax`.
    public static func initialParameters(_ method: Method, qmin: Int, qmax: Int) throws(EngineError) -> (scale: Double, zeroPoint: Double) {
        guard qmin < qmax else {
            throw EngineError(.quantization, .invalidSetting, target: "quant_dtype", key: "quant_dtype", "qmin \(qmin) must be below qmax \(qmax)")
        }
        switch method {
        case .lsq: return (Double(Float(0.01)), 0)
        case .lsqPlus: return (Double(Float(0.01)), Double(Float(Double(qmax - qmin) / 2)))
        case .bnn: return (1, 0)
        case .doReFa:
            let scale = Swift.max(Float(1) / Float(Double(qmax - qmin)), Float.ulpOfOne)
            let zp = Swift.min(Swift.max(Float(qmin) - (Float(0) / scale).rounded(.toNearestOrEven), Float(qmin)), Float(qmax))
            return (Double(scale), Double(zp))
        }
    }

    /// The range a calibration config reports for a learned scale and zero point (NNI 3.0's
    /// `get_calibration_config` for a target without tracked values):
    ///
    ///     tracked_max = scale * (qmax - zero_point),  tracked_min = scale * (qmin - zero_point)
    ///
    /// each operation rounded to float32 (`float64` keeps Double), as torch computes it on the
    /// float32 scale / zero point tensors.
    /// - Throws: `.invalidSetting` (key `quant_dtype`) when `qmin >= qmax`.
    public static func trackedRange(scale: Double, zeroPoint: Double, qmin: Int, qmax: Int,
                                    precision: ElementType) throws(EngineError) -> (min: Double, max: Double) {
        guard qmin < qmax else {
            throw EngineError(.quantization, .invalidSetting, target: "quant_dtype", key: "quant_dtype", "qmin \(qmin) must be below qmax \(qmax)")
        }
        if precision == .float64 {
            return (scale * (Double(qmin) - zeroPoint), scale * (Double(qmax) - zeroPoint))
        }
        let s = Float(scale), z = Float(zeroPoint)
        return (Double(s * (Float(qmin) - z)), Double(s * (Float(qmax) - z)))
    }

    // MARK: LSQ / LSQ+

    /// LSQ (zeroPoint nil) or LSQ+ (zeroPoint given) fake quantization, NNI's `LSQClampRound` /
    /// `LSQPlusClampRound` forward:
    ///
    ///     LSQ:  out = round(clamp(x / s, qmin, qmax)) * s
    ///     LSQ+: out = (round(clamp(x / s + zp, qmin, qmax)) - zp) * s
    ///
    /// round is half to even (torch.round). `out` has x's shape (any dtype, strides); it may be x's
    /// memory with the same layout.
    /// - Throws: `.shapeMismatch` for an `out` of another shape, `.invalidParameters` for a scale
    ///   that is not finite or is 0 in the computation precision, or a non-finite zero point.
    public static func lsqForward(_ x: TensorView, into out: MutableTensorView, scale: Double, zeroPoint: Double?,
                                  qmin: Int, qmax: Int, name: String) throws(EngineError) {
        try check(x, [out.shape], scale: scale, zeroPoint: zeroPoint, qmin: qmin, qmax: qmax, name: name)
        if x.dtype == .float64 {
            lsqValues(x, out, scale, zeroPoint, qmin, qmax, Double.self)
        } else {
            lsqValues(x, out, scale, zeroPoint, qmin, qmax, Float.self)
        }
    }

    /// The gradients of `lsqForward` (NNI's backward): with q = x / s, t = q (+ zp for LSQ+),
    /// neg = t < qmin, pos = t > qmax, mid = neither, and g the incoming gradient:
    ///
    ///     gradInput = g * mid
    ///     gradScale = sum((neg * (qmin - zp) + pos * (qmax - zp) + mid * (-q - zp + round(q + zp))) * g * f)
    ///     gradZeroPoint = sum((neg * -s + pos * -s) * g)                        (LSQ+ only)
    ///
    /// (zp = 0 for LSQ, whose middle term is -q + round(q)), with the grad-scale factor
    /// f = 1 / sqrt(qmax * numel) (1 when that is 0), computed in Double and rounded to the
    /// precision, as torch does with a Python float. Element products are rounded in the
    /// precision in that order; the sums are in Double (see the file comment).
    /// - Returns: the scale and zero-point gradients (the latter 0 for LSQ).
    /// - Throws: as `lsqForward`; `.shapeMismatch` for a gradient of another shape.
    public static func lsqBackward(_ x: TensorView, gradOutput: TensorView, gradInput: MutableTensorView?, scale: Double,
                                   zeroPoint: Double?, qmin: Int, qmax: Int, name: String) throws(EngineError) -> (scale: Double, zeroPoint: Double) {
        var shapes = [gradOutput.shape]
        if let gradInput { shapes.append(gradInput.shape) }
        try check(x, shapes, scale: scale, zeroPoint: zeroPoint, qmin: qmin, qmax: qmax, name: name)
        if x.dtype == .float64 {
            return lsqGradients(x, gradOutput, gradInput, scale, zeroPoint, qmin, qmax, Double.self)
        }
        return lsqGradients(x, gradOutput, gradInput, scale, zeroPoint, qmin, qmax, Float.self)
    }

    static func check(_ x: TensorView, _ shapes: [[Int]], scale: Double, zeroPoint: Double?, qmin: Int, qmax: Int,
                      name: String) throws(EngineError) {
        for s in shapes where s != x.shape {
            throw EngineError(.quantization, .shapeMismatch, target: name, "a buffer has shape \(s), the target \(x.shape)")
        }
        guard qmin < qmax else {
            throw EngineError(.quantization, .invalidSetting, target: name, key: "quant_dtype", "qmin \(qmin) must be below qmax \(qmax)")
        }
        let s = x.dtype == .float64 ? scale : Double(Float(scale))
        guard s.isFinite, s != 0 else {
            throw EngineError(.quantization, .invalidParameters, target: name, key: "scale",
                              "scale is \(pythonFloat(scale)) (\(pythonFloat(s)) in the computation precision); expected a finite non-zero number")
        }
        if let zeroPoint, !zeroPoint.isFinite {
            throw EngineError(.quantization, .invalidParameters, target: name, key: "zero_point",
                              "zero point is \(pythonFloat(zeroPoint)); expected a finite number")
        }
    }

    static func lsqValues<T: QuantReal>(_ x: TensorView, _ out: MutableTensorView, _ scale: Double, _ zeroPoint: Double?,
                                        _ qmin: Int, _ qmax: Int, _: T.Type) {
        let v = x.allValues(as: T.self)
        let s = T(scale), lo = T(qmin), hi = T(qmax)
        var r = [T](repeating: 0, count: v.count)
        if let zeroPoint {
            let z = T(zeroPoint)
            for i in 0..<v.count {
                let t = clamp(v[i] / s + z, lo, hi)
                r[i] = (t.rounded(.toNearestOrEven) - z) * s
            }
        } else {
            for i in 0..<v.count {
                r[i] = clamp(v[i] / s, lo, hi).rounded(.toNearestOrEven) * s
            }
        }
        out.store(0..<r.count) { Double(r[$0]) }
    }

    /// torch.clamp: NaN stays NaN.
    @inline(__always)
    static func clamp<T: QuantReal>(_ v: T, _ lo: T, _ hi: T) -> T {
        if v.isNaN { return v }
        return Swift.min(Swift.max(v, lo), hi)
    }

    static func gradScaleFactor<T: QuantReal>(_ qmax: Int, _ n: Int, _: T.Type) -> T {
        let root = (Double(qmax) * Double(n)).squareRoot()
        return root != 0 ? T(1.0 / root) : 1
    }

    static func lsqGradients<T: QuantReal>(_ x: TensorView, _ gradOutput: TensorView, _ gradInput: MutableTensorView?,
                                           _ scale: Double, _ zeroPoint: Double?, _ qmin: Int, _ qmax: Int,
                                           _: T.Type) -> (scale: Double, zeroPoint: Double) {
        let v = x.allValues(as: T.self), g = gradOutput.allValues(as: T.self)
        let s = T(scale), z = T(zeroPoint ?? 0), lo = T(qmin), hi = T(qmax)
        let f = gradScaleFactor(qmax, v.count, T.self)
        var gi = [T](repeating: 0, count: v.count)
        var sumScale = 0.0, sumZero = 0.0
        for i in 0..<v.count {
            let q = v[i] / s
            let t = zeroPoint == nil ? q : q + z
            let term: T
            if t < lo {
                term = lo - z
                if zeroPoint != nil { sumZero += Double(-s * g[i]) }
            } else if t > hi {
                term = hi - z
                if zeroPoint != nil { sumZero += Double(-s * g[i]) }
            } else {
                term = zeroPoint == nil ? -q + q.rounded(.toNearestOrEven) : (-q - z) + t.rounded(.toNearestOrEven)
                gi[i] = g[i]
            }
            sumScale += Double(term * g[i] * f)
        }
        if let gradInput { gradInput.store(0..<gi.count) { Double(gi[$0]) } }
        return (Double(T(sumScale)), Double(T(sumZero)))
    }

    // MARK: DoReFa

    /// DoReFa's weight transform and quantization (NNI's `dorefa_clamp_round_weight`):
    ///
    ///     u = tanh(w),  y = u / (2 * max|u|) + 0.5
    ///     out = 2 * ((round(clamp(zp + y / s, qmin, qmax)) - zp) * s) - 1
    ///
    /// with the scale and zero point of `initialParameters(.doReFa, ...)`.
    /// - Throws: `.shapeMismatch`, `.invalidParameters` as `lsqForward`; `.emptyTensor` for an empty w.
    public static func doReFaWeightForward(_ w: TensorView, into out: MutableTensorView, scale: Double, zeroPoint: Double,
                                           qmin: Int, qmax: Int, name: String) throws(EngineError) {
        try check(w, [out.shape], scale: scale, zeroPoint: zeroPoint, qmin: qmin, qmax: qmax, name: name)
        guard w.count > 0 else { throw EngineError(.quantization, .emptyTensor, target: name, "the weight has no elements") }
        if w.dtype == .float64 {
            doReFaValues(w, out, scale, zeroPoint, qmin, qmax, Double.self)
        } else {
            doReFaValues(w, out, scale, zeroPoint, qmin, qmax, Float.self)
        }
    }

    /// The gradient of `doReFaWeightForward` with respect to w, as torch's autograd computes it
    /// through NNI's expression (the quantization step passes the gradient straight through):
    /// with d = 2 * max|u| and g' = 2 * g,
    ///
    ///     gu = g' / d + [u_j == max] * sign(u_j) * 2 * sum(-g' * ((u / d) / d)) / #max
    ///     gradInput = gu * (1 - u * u)
    ///
    /// (the maximum's gradient is shared evenly between ties, as torch's max does).
    /// - Throws: as `doReFaWeightForward` (shapes of gradOutput and gradInput).
    public static func doReFaWeightBackward(_ w: TensorView, gradOutput: TensorView, gradInput: MutableTensorView,
                                            name: String) throws(EngineError) {
        for s in [gradOutput.shape, gradInput.shape] where s != w.shape {
            throw EngineError(.quantization, .shapeMismatch, target: name, "a buffer has shape \(s), the weight \(w.shape)")
        }
        guard w.count > 0 else { throw EngineError(.quantization, .emptyTensor, target: name, "the weight has no elements") }
        if w.dtype == .float64 {
            doReFaGradient(w, gradOutput, gradInput, Double.self)
        } else {
            doReFaGradient(w, gradOutput, gradInput, Float.self)
        }
    }

    static func tanhValues<T: QuantReal>(_ w: TensorView, _: T.Type) -> (u: [T], d: T) {
        let v = w.allValues(as: T.self)
        var u = [T](repeating: 0, count: v.count)
        var m: T = 0
        var nan = false
        for i in 0..<v.count {
            u[i] = T.self == Double.self ? T(tanh(Double(v[i]))) : T(tanhf(Float(v[i])))
            if u[i].isNaN { nan = true }
            m = Swift.max(m, Swift.abs(u[i]))
        }
        return (u, nan ? T.nan : 2 * m)
    }

    static func doReFaValues<T: QuantReal>(_ w: TensorView, _ out: MutableTensorView, _ scale: Double, _ zeroPoint: Double,
                                           _ qmin: Int, _ qmax: Int, _: T.Type) {
        let (u, d) = tanhValues(w, T.self)
        let s = T(scale), z = T(zeroPoint), lo = T(qmin), hi = T(qmax)
        var r = [T](repeating: 0, count: u.count)
        for i in 0..<u.count {
            let y = u[i] / d + T(0.5)
            let q = clamp(z + y / s, lo, hi).rounded(.toNearestOrEven)
            r[i] = 2 * ((q - z) * s) - 1
        }
        out.store(0..<r.count) { Double(r[$0]) }
    }

    static func doReFaGradient<T: QuantReal>(_ w: TensorView, _ gradOutput: TensorView, _ gradInput: MutableTensorView, _: T.Type) {
        let (u, d) = tanhValues(w, T.self)
        let g = gradOutput.allValues(as: T.self)
        let m = d / 2
        var sumD = 0.0
        var ties = 0
        for i in 0..<u.count {
            let gy = g[i] * 2
            sumD += Double(-gy * ((u[i] / d) / d))
            if Swift.abs(u[i]) == m { ties += 1 }
        }
        // d = 2 * M: the gradient of M is twice that of d, then shared between the maxima.
        let gM = T(sumD) * 2
        let share = ties > 0 ? gM / T(ties) : 0
        var r = [T](repeating: 0, count: u.count)
        for i in 0..<u.count {
            var gu = (g[i] * 2) / d
            if Swift.abs(u[i]) == m {
                let sign: T = u[i] > 0 ? 1 : (u[i] < 0 ? -1 : 0)
                gu = gu + share * sign
            }
            r[i] = gu * (1 - u[i] * u[i])
        }
        gradInput.store(0..<r.count) { Double(r[$0]) }
    }

    /// DoReFa's input quantization (NNI's `update_scale_zp` for an input target, then
    /// `clamp_round`): from the batch's own range, `lo = min(min x, 0)`, `hi = max(max x, 0)`,
    ///
    ///     affine:    s = max((hi - lo) / (qmax - qmin), eps),  zp = clamp(qmin - round(lo / s), qmin, qmax)
    ///     symmetric: s = max(max(|lo|, |hi|) / ((qmax - qmin) / 2), eps),  zp = (qmax + qmin + 1) div 2
    ///     out = (round(clamp(zp + x / s, qmin, qmax)) - zp) * s
    ///
    /// (eps = float32's machine epsilon; round half to even), in float32 (Double for float64 x).
    /// Returns the scale and zero point used (the target's calibration values until the next batch);
    /// the gradient passes straight through (the caller's).
    /// - Throws: `.shapeMismatch` for an `out` of another shape, `.emptyTensor` for an empty x,
    ///   `.invalidParameters` when the batch holds NaN or an infinity (no finite range).
    public static func doReFaInputForward(_ x: TensorView, into out: MutableTensorView, qmin: Int, qmax: Int,
                                          symmetric: Bool, name: String) throws(EngineError) -> (scale: Double, zeroPoint: Double) {
        guard out.shape == x.shape else {
            throw EngineError(.quantization, .shapeMismatch, target: name, "out has shape \(out.shape), the input \(x.shape)")
        }
        guard x.count > 0 else { throw EngineError(.quantization, .emptyTensor, target: name, "the input has no elements") }
        guard qmin < qmax else {
            throw EngineError(.quantization, .invalidSetting, target: name, key: "quant_dtype", "qmin \(qmin) must be below qmax \(qmax)")
        }
        if x.dtype == .float64 {
            return try doReFaInput(x, out, qmin, qmax, symmetric, name, Double.self)
        }
        return try doReFaInput(x, out, qmin, qmax, symmetric, name, Float.self)
    }

    static func doReFaInput<T: QuantReal>(_ x: TensorView, _ out: MutableTensorView, _ qmin: Int, _ qmax: Int, _ symmetric: Bool,
                                          _ name: String, _: T.Type) throws(EngineError) -> (scale: Double, zeroPoint: Double) {
        let v = x.allValues(as: T.self)
        var lo = T.infinity, hi = -T.infinity
        for e in v {
            guard e.isFinite else {
                throw EngineError(.quantization, .invalidParameters, target: name, "the input holds \(e); its range is not finite")
            }
            lo = Swift.min(lo, e); hi = Swift.max(hi, e)
        }
        lo = Swift.min(lo, 0); hi = Swift.max(hi, 0)
        let eps = T(Double(Float.ulpOfOne))
        let qlo = T(qmin), qhi = T(qmax)
        let s: T, z: T
        if symmetric {
            s = Swift.max(Swift.max(Swift.abs(lo), Swift.abs(hi)) / T(Double(qmax - qmin) / 2), eps)
            z = clamp(T(Int((Double(qmax + qmin + 1) / 2).rounded(.down))), qlo, qhi)  // Python floor division
        } else {
            s = Swift.max((hi - lo) / T(Double(qmax - qmin)), eps)
            z = clamp(qlo - (lo / s).rounded(.toNearestOrEven), qlo, qhi)
        }
        out.store(0..<v.count) { i in Double((clamp(z + v[i] / s, qlo, qhi).rounded(.toNearestOrEven) - z) * s) }
        return (Double(s), Double(z))
    }

    /// DoReFa's gradient quantization (NNI's backward pre-hook on a module whose weight, but not
    /// output, is quantized) of one gradient `g` of shape [B, ...] with per-sample noise `noise`
    /// (B elements: uniform in [-0.5, 0.5), drawn by the caller as NNI draws it, `torch.zeros(B, 1,
    /// ...).uniform_(-0.5, 0.5)`). With n = 2^bits - 1, m_b = max|g[b, ...]|, the affine scale s and
    /// zero point zp of the range [-0.5 / n, 1 + 0.5 / n]:
    ///
    ///     q = g / (2 m_b) + 0.5 + noise_b / n
    ///     out = ((((round(clamp(zp + q / s, qmin, qmax)) - zp) * s) - 0.5) * 2) * m_b
    ///
    /// each operation rounded to float32 (Double for float64 g), as torch computes NNI's
    /// expression; a sample whose gradient is all zero gives NaN (0 / 0), as NNI's.
    /// - Throws: `.shapeMismatch` (out's shape, a noise without B elements, a 0-dimensional g),
    ///   `.invalidSetting` (bits outside 1...16, qmin >= qmax).
    public static func doReFaGradientQuantize(_ g: TensorView, noise: TensorView, bits: Int, qmin: Int, qmax: Int,
                                              into out: MutableTensorView, name: String) throws(EngineError) {
        guard out.shape == g.shape else {
            throw EngineError(.quantization, .shapeMismatch, target: name, "out has shape \(out.shape), the gradient \(g.shape)")
        }
        guard let batch = g.shape.first else {
            throw EngineError(.quantization, .shapeMismatch, target: name, "the gradient is 0-dimensional; expected [B, ...]")
        }
        guard noise.count == batch else {
            throw EngineError(.quantization, .shapeMismatch, target: name, "noise has \(noise.count) element(s) (shape \(noise.shape)); expected one per sample (\(batch))")
        }
        guard (1...16).contains(bits), qmin < qmax else {
            throw EngineError(.quantization, .invalidSetting, target: name, key: "quant_dtype", "bits \(bits) (expected 1 to 16), qmin \(qmin), qmax \(qmax)")
        }
        if g.dtype == .float64 {
            doReFaGradientValues(g, noise, bits, qmin, qmax, out, Double.self)
        } else {
            doReFaGradientValues(g, noise, bits, qmin, qmax, out, Float.self)
        }
    }

    static func doReFaGradientValues<T: QuantReal>(_ g: TensorView, _ noise: TensorView, _ bits: Int, _ qmin: Int, _ qmax: Int,
                                                   _ out: MutableTensorView, _: T.Type) {
        let n = Double((1 << bits) - 1)
        // the range's ends: Python floats, then float32 tensors (torch.tensor(...))
        let trackedMax = Float(1.0 + 0.5 / n), trackedMin = Float(0 - 0.5 / n)
        let lo = Swift.min(trackedMin, 0), hi = Swift.max(trackedMax, 0)
        let s32 = Swift.max((hi - lo) / Float(Double(qmax - qmin)), Float.ulpOfOne)
        let z32 = Swift.min(Swift.max(Float(qmin) - (lo / s32).rounded(.toNearestOrEven), Float(qmin)), Float(qmax))
        let s = T(Double(s32)), z = T(Double(z32)), qlo = T(qmin), qhi = T(qmax), nT = T(n)
        let v = g.allValues(as: T.self), u = noise.allValues(as: T.self)
        let per = u.isEmpty ? 0 : v.count / u.count  // elements per sample (noise has one per sample)
        var r = [T](repeating: 0, count: v.count)
        for b in 0..<u.count {
            let range = (b * per)..<((b + 1) * per)
            var m: T = 0
            var nan = false
            for i in range { if v[i].isNaN { nan = true }; m = Swift.max(m, Swift.abs(v[i])) }
            if nan { m = .nan }
            let twoM = 2 * m, nk = u[b] / nT
            for i in range {
                let q = ((v[i] / twoM) + T(0.5)) + nk
                let t = clamp(z + q / s, qlo, qhi).rounded(.toNearestOrEven)
                r[i] = ((((t - z) * s) - T(0.5)) * 2) * m
            }
        }
        out.store(0..<r.count) { Double(r[$0]) }
    }

    /// DoReFa's output quantization (NNI's `dorefa_clamp_round_output`): out = ClampRound(clamp(x,
    /// 0, 1)) with the given scale and zero point; `gradientMask` (when given) receives torch's
    /// clamp gradient mask, 1 where 0 <= x <= 1 and 0 elsewhere (NaN included): the quantization
    /// step passes the gradient straight through.
    /// - Throws: as `lsqForward`.
    public static func doReFaOutputForward(_ x: TensorView, into out: MutableTensorView, gradientMask: MutableTensorView?,
                                           scale: Double, zeroPoint: Double, qmin: Int, qmax: Int, name: String) throws(EngineError) {
        var shapes = [out.shape]
        if let gradientMask { shapes.append(gradientMask.shape) }
        try check(x, shapes, scale: scale, zeroPoint: zeroPoint, qmin: qmin, qmax: qmax, name: name)
        if x.dtype == .float64 {
            doReFaOutput(x, out, gradientMask, scale, zeroPoint, qmin, qmax, Double.self)
        } else {
            doReFaOutput(x, out, gradientMask, scale, zeroPoint, qmin, qmax, Float.self)
        }
    }

    static func doReFaOutput<T: QuantReal>(_ x: TensorView, _ out: MutableTensorView, _ mask: MutableTensorView?, _ scale: Double,
                                           _ zeroPoint: Double, _ qmin: Int, _ qmax: Int, _: T.Type) {
        let v = x.allValues(as: T.self)
        let s = T(scale), z = T(zeroPoint), lo = T(qmin), hi = T(qmax)
        var r = [T](repeating: 0, count: v.count), k = [T](repeating: 0, count: v.count)
        for i in 0..<v.count {
            let c = clamp(v[i], 0, 1)
            r[i] = (clamp(z + c / s, lo, hi).rounded(.toNearestOrEven) - z) * s
            k[i] = v[i] >= 0 && v[i] <= 1 ? 1 : 0
        }
        out.store(0..<r.count) { Double(r[$0]) }
        mask?.store(0..<k.count) { Double(k[$0]) }
    }

    // MARK: BNN

    /// BNN's binarization (NNI's `BNNClampRound` forward): out = sign(x) with sign(0) = 1 (NaN
    /// stays NaN). `gradientMask` (when given) receives NNI's backward mask: for an output target
    /// (`clipOutside`) 0 where |x| > 1 and 1 elsewhere; otherwise all 1 (straight through).
    /// - Throws: `.shapeMismatch` for buffers of another shape.
    public static func binarize(_ x: TensorView, into out: MutableTensorView, gradientMask: MutableTensorView?, clipOutside: Bool,
                                name: String) throws(EngineError) {
        for s in [out.shape] + (gradientMask.map { [$0.shape] } ?? []) where s != x.shape {
            throw EngineError(.quantization, .shapeMismatch, target: name, "a buffer has shape \(s), the target \(x.shape)")
        }
        let v = x.allValues(as: Double.self)
        out.store(0..<v.count) { v[$0].isNaN ? v[$0] : (v[$0] < 0 ? -1 : 1) }
        gradientMask?.store(0..<v.count) { clipOutside && Swift.abs(v[$0]) > 1 ? 0 : 1 }
    }

    /// Clamps every element of `x` into [lo, hi] in place (BNNQuantizer clips its weights to
    /// [-1, 1] after each optimizer step). NaN stays NaN.
    /// - Throws: `.invalidParameters` when lo > hi or either is NaN.
    public static func clampInPlace(_ x: MutableTensorView, lo: Double, hi: Double, name: String) throws(EngineError) {
        guard lo <= hi else {
            throw EngineError(.quantization, .invalidParameters, target: name, "clamp range [\(pythonFloat(lo)), \(pythonFloat(hi))] is empty")
        }
        let v = x.readOnly.allValues(as: Double.self)
        x.store(0..<v.count) { clamp(v[$0], lo, hi) }
    }
}

extension BatchNormFolding {
    /// The gradients of `fold` (training through `fuse_names`, as torch's autograd goes through
    /// NNI 3.0's `fuse_conv_bn` / `fuse_linear_bn`; the running statistics get none), with
    /// r = 1 / sqrt(var + eps), f = gamma * r, gW' / gb' the incoming gradients of the folded
    /// weight and bias:
    ///
    ///     gradWeight[c, ...] = gW'[c, ...] * f[c]
    ///     gradBias[c]        = conv: (gb'[c] * gamma[c]) * r[c];  linear: gb'[c] * f[c]
    ///     gradGamma[c]       = conv: sum(gW'[c, ...] * W[c, ...]) * r[c] + gb'[c] * ((b[c] - mean[c]) * r[c])
    ///                          linear: (sum(gW'[c, ...] * W[c, ...]) + gb'[c] * (b[c] - mean[c])) * r[c]
    ///     gradBeta[c]        = gb'[c]
    ///
    /// (a missing layer bias counts as 0; `gradientThroughBias` false drops the bias terms, as NNI
    /// detaches the folded bias of a layer without one). Element products are rounded to the
    /// precision; the per-channel sums are accumulated in Double.
    /// - Throws: as `fold` for shapes; nothing is written on error.
    public static func foldBackward(weight: TensorView, bias: TensorView?, batchNorm bn: BatchNorm, layer: Layer,
                                    gradFoldedWeight: TensorView, gradFoldedBias: TensorView?,
                                    gradWeight: MutableTensorView, gradBias: MutableTensorView?,
                                    gradGamma: MutableTensorView?, gradBeta: MutableTensorView?, name: String) throws(EngineError) {
        func fail(_ m: String) -> QuantizationError { EngineError(.quantization, .invalidFusion, target: name, key: "fuse_names", m) }
        guard let c = weight.shape.first else { throw fail("the weight has shape \(weight.shape); folding needs a channel dim 0") }
        let vectors: [(String, Int?)] = [("bias", bias?.count), ("batch norm weight", bn.weight?.count), ("batch norm bias", bn.bias?.count),
                                         ("running_mean", bn.runningMean.count), ("running_var", bn.runningVar.count),
                                         ("grad of the folded bias", gradFoldedBias?.count), ("grad_bias", gradBias?.count),
                                         ("grad_bn_weight", gradGamma?.count), ("grad_bn_bias", gradBeta?.count)]
        for (what, n) in vectors {
            if let n, n != c { throw fail("\(what) has \(n) element(s); the weight \(weight.shape) has \(c) channels") }
        }
        for (what, s) in [("grad of the folded weight", gradFoldedWeight.shape), ("grad_weight", gradWeight.shape)] where s != weight.shape {
            throw fail("\(what) has shape \(s); expected \(weight.shape)")
        }
        guard bn.eps.isFinite, bn.eps >= 0 else { throw fail("eps is \(pythonFloat(bn.eps)); expected a finite number >= 0") }
        if weight.dtype == .float64 {
            foldGradients(weight, bias, bn, layer, gradFoldedWeight, gradFoldedBias, gradWeight, gradBias, gradGamma, gradBeta, Double.self)
        } else {
            foldGradients(weight, bias, bn, layer, gradFoldedWeight, gradFoldedBias, gradWeight, gradBias, gradGamma, gradBeta, Float.self)
        }
    }

    static func foldGradients<T: QuantReal>(_ weight: TensorView, _ bias: TensorView?, _ bn: BatchNorm, _ layer: Layer,
                                            _ gW: TensorView, _ gB: TensorView?, _ outW: MutableTensorView, _ outB: MutableTensorView?,
                                            _ outGamma: MutableTensorView?, _ outBeta: MutableTensorView?, _: T.Type) {
        let c = weight.shape[0]
        let zeros = [T](repeating: 0, count: c)
        let gamma = bn.weight?.allValues(as: T.self) ?? [T](repeating: 1, count: c)
        let mean = bn.runningMean.allValues(as: T.self), variance = bn.runningVar.allValues(as: T.self)
        let b = bias?.allValues(as: T.self) ?? zeros
        let gb = gB?.allValues(as: T.self) ?? zeros
        let w = weight.allValues(as: T.self), gw = gW.allValues(as: T.self)
        let eps = T(bn.eps)
        let per = c == 0 ? 0 : w.count / c
        var r = zeros, f = zeros, sums = [Double](repeating: 0, count: c)
        for i in 0..<c {
            r[i] = 1 / (variance[i] + eps).squareRoot()
            f[i] = gamma[i] * r[i]
        }
        var dw = [T](repeating: 0, count: w.count)
        for k in 0..<w.count {
            let ch = k / per
            dw[k] = gw[k] * f[ch]
            sums[ch] += Double(gw[k] * w[k])
        }
        outW.store(0..<dw.count) { Double(dw[$0]) }
        var dBias = zeros, dGamma = zeros
        for i in 0..<c {
            let s = T(sums[i])
            switch layer {
            case .conv:
                dBias[i] = (gb[i] * gamma[i]) * r[i]
                dGamma[i] = s * r[i] + gb[i] * ((b[i] - mean[i]) * r[i])
            case .linear:
                dBias[i] = gb[i] * f[i]
                dGamma[i] = (s + gb[i] * (b[i] - mean[i])) * r[i]
            }
        }
        outB?.store(0..<c) { Double(dBias[$0]) }
        outGamma?.store(0..<c) { Double(dGamma[$0]) }
        outBeta?.store(0..<c) { Double(gb[$0]) }
    }
}
