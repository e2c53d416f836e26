import SwiftCompress
import SwiftCompressABI

// The training-time quantization entry points of include/swiftcompress.h ("Training-time
// quantizers"); see the header for the contracts. Sessionless: every call reads and writes caller
// memory only during the call.

/// One value of a 1-element tensor (a per-tensor scale or zero point).
private func scalar(_ t: UnsafePointer<sc_tensor>?, _ what: String) throws(CallError) -> Double {
    let v = try tensorView(t, what, writable: false)
    guard v.count == 1 else { throw CallError(.shape, "\(what) has \(v.count) element(s) (shape \(v.shape)); expected 1 (a per-tensor value)") }
    do throws(TensorViewError) { return try v.value(atLogicalIndex: 0) } catch { throw CallError(.shape, "\(what): \(error.message)") }
}

private func optionalScalar(_ t: UnsafePointer<sc_tensor>?, _ what: String) throws(CallError) -> Double? {
    t == nil ? nil : try scalar(t, what)
}

private func range(_ qmin: Int64, _ qmax: Int64) throws(CallError) -> (Int, Int) {
    guard qmin < qmax, qmin >= -(1 << 32), qmax <= (1 << 32) else {
        throw CallError(.invalidArgument, "qmin \(qmin), qmax \(qmax): expected qmin < qmax within +-2^32")
    }
    return (Int(qmin), Int(qmax))
}

private func engine(_ body: () throws(EngineError) -> Void) throws(CallError) {
    do throws(EngineError) { try body() } catch { throw CallError(error) }
}

/// One value written into a 1-element tensor (rounded to its dtype).
private func writeScalar(_ t: UnsafePointer<sc_tensor>?, _ what: String, _ value: Double) throws(CallError) {
    let v = try tensorView(t, what, writable: true)
    guard v.count == 1 else { throw CallError(.shape, "\(what) has \(v.count) element(s) (shape \(v.shape)); expected 1") }
    v.fill(value)
}

/// `int sc_trainable_initial_params(int method, int64_t qmin, int64_t qmax, double *scale, double *zero_point)`.
@_cdecl("sc_trainable_initial_params")
public func sc_trainable_initial_params(_ method: Int32, _ qmin: Int64, _ qmax: Int64, _ scale: UnsafeMutablePointer<Double>?,
                                        _ zeroPoint: UnsafeMutablePointer<Double>?) -> Int32 {
    threadCall { () throws(CallError) in
        guard let scale else { throw CallError(.nullPointer, "scale is NULL") }
        guard let zeroPoint else { throw CallError(.nullPointer, "zero_point is NULL") }
        let methods: [TrainableQuantization.Method] = [.lsq, .lsqPlus, .doReFa, .bnn]
        guard method >= 0, Int(method) < methods.count else {
            throw CallError(.invalidArgument, "method is \(method); expected SC_TRAIN_LSQ (0), SC_TRAIN_LSQ_PLUS (1), SC_TRAIN_DOREFA (2) or SC_TRAIN_BNN (3)")
        }
        let (lo, hi) = try range(qmin, qmax)
        var result = (scale: 0.0, zeroPoint: 0.0)
        try engine { () throws(EngineError) in result = try TrainableQuantization.initialParameters(methods[Int(method)], qmin: lo, qmax: hi) }
        scale.pointee = result.scale
        zeroPoint.pointee = result.zeroPoint
    }
}

/// `int sc_trainable_tracked_range(const sc_tensor *scale, const sc_tensor *zero_point, int64_t qmin,
///                                 int64_t qmax, const sc_tensor *tracked_min, const sc_tensor *tracked_max)`.
@_cdecl("sc_trainable_tracked_range")
public func sc_trainable_tracked_range(_ scale: UnsafePointer<sc_tensor>?, _ zeroPoint: UnsafePointer<sc_tensor>?,
                                       _ qmin: Int64, _ qmax: Int64, _ trackedMin: UnsafePointer<sc_tensor>?,
                                       _ trackedMax: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let s = try scalar(scale, "scale"), z = try scalar(zeroPoint, "zero_point")
        let precision = try tensorView(scale, "scale", writable: false).dtype
        let (lo, hi) = try range(qmin, qmax)
        // both outputs checked before either is written
        for (t, what) in [(trackedMin, "tracked_min"), (trackedMax, "tracked_max")] {
            let v = try tensorView(t, what, writable: true)
            guard v.count == 1 else { throw CallError(.shape, "\(what) has \(v.count) element(s) (shape \(v.shape)); expected 1") }
        }
        var result = (min: 0.0, max: 0.0)
        try engine { () throws(EngineError) in
            result = try TrainableQuantization.trackedRange(scale: s, zeroPoint: z, qmin: lo, qmax: hi, precision: precision == .float64 ? .float64 : .float32)
        }
        try writeScalar(trackedMin, "tracked_min", result.min)
        try writeScalar(trackedMax, "tracked_max", result.max)
    }
}

/// `int sc_lsq_forward(const sc_tensor *x, const sc_tensor *scale, const sc_tensor *zero_point,
///                     int64_t qmin, int64_t qmax, const sc_tensor *out)`.
@_cdecl("sc_lsq_forward")
public func sc_lsq_forward(_ x: UnsafePointer<sc_tensor>?, _ scale: UnsafePointer<sc_tensor>?, _ zeroPoint: UnsafePointer<sc_tensor>?,
                           _ qmin: Int64, _ qmax: Int64, _ out: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let xv = try tensorView(x, "x", writable: false).readOnly
        let s = try scalar(scale, "scale"), z = try optionalScalar(zeroPoint, "zero_point")
        let (lo, hi) = try range(qmin, qmax)
        let o = try tensorView(out, "out", writable: true)
        try engine { () throws(EngineError) in
            try TrainableQuantization.lsqForward(xv, into: o, scale: s, zeroPoint: z, qmin: lo, qmax: hi, name: "x")
        }
    }
}

/// `int sc_lsq_backward(const sc_tensor *x, const sc_tensor *scale, const sc_tensor *zero_point,
///                      int64_t qmin, int64_t qmax, const sc_tensor *grad_output, const sc_tensor *grad_input,
///                      const sc_tensor *grad_scale, const sc_tensor *grad_zero_point)`.
@_cdecl("sc_lsq_backward")
public func sc_lsq_backward(_ x: UnsafePointer<sc_tensor>?, _ scale: UnsafePointer<sc_tensor>?, _ zeroPoint: UnsafePointer<sc_tensor>?,
                            _ qmin: Int64, _ qmax: Int64, _ gradOutput: UnsafePointer<sc_tensor>?, _ gradInput: UnsafePointer<sc_tensor>?,
                            _ gradScale: UnsafePointer<sc_tensor>?, _ gradZeroPoint: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let xv = try tensorView(x, "x", writable: false).readOnly
        let s = try scalar(scale, "scale"), z = try optionalScalar(zeroPoint, "zero_point")
        let (lo, hi) = try range(qmin, qmax)
        let g = try tensorView(gradOutput, "grad_output", writable: false).readOnly
        let gi = try optionalTensorView(gradInput, "grad_input", writable: true)
        let gs = try tensorView(gradScale, "grad_scale", writable: true)
        guard gs.count == 1 else { throw CallError(.shape, "grad_scale has \(gs.count) element(s) (shape \(gs.shape)); expected 1") }
        let gz = try optionalTensorView(gradZeroPoint, "grad_zero_point", writable: true)
        if let gz, gz.count != 1 { throw CallError(.shape, "grad_zero_point has \(gz.count) element(s) (shape \(gz.shape)); expected 1") }
        if gz != nil && z == nil { throw CallError(.invalidArgument, "grad_zero_point is given but zero_point is NULL (LSQ has no learnable zero point)") }
        var r = (scale: 0.0, zeroPoint: 0.0)
        try engine { () throws(EngineError) in
            r = try TrainableQuantization.lsqBackward(xv, gradOutput: g, gradInput: gi, scale: s, zeroPoint: z, qmin: lo, qmax: hi, name: "x")
        }
        gs.fill(r.scale)
        gz?.fill(r.zeroPoint)
    }
}

/// `int sc_dorefa_weight_forward(const sc_tensor *weight, double scale, double zero_point, int64_t qmin,
///                               int64_t qmax, const sc_tensor *out)`.
@_cdecl("sc_dorefa_weight_forward")
public func sc_dorefa_weight_forward(_ weight: UnsafePointer<sc_tensor>?, _ scale: Double, _ zeroPoint: Double, _ qmin: Int64,
                                     _ qmax: Int64, _ out: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let w = try tensorView(weight, "weight", writable: false).readOnly
        let (lo, hi) = try range(qmin, qmax)
        let o = try tensorView(out, "out", writable: true)
        try engine { () throws(EngineError) in
            try TrainableQuantization.doReFaWeightForward(w, into: o, scale: scale, zeroPoint: zeroPoint, qmin: lo, qmax: hi, name: "weight")
        }
    }
}

/// `int sc_dorefa_weight_backward(const sc_tensor *weight, const sc_tensor *grad_output, const sc_tensor *grad_input)`.
@_cdecl("sc_dorefa_weight_backward")
public func sc_dorefa_weight_backward(_ weight: UnsafePointer<sc_tensor>?, _ gradOutput: UnsafePointer<sc_tensor>?,
                                      _ gradInput: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let w = try tensorView(weight, "weight", writable: false).readOnly
        let g = try tensorView(gradOutput, "grad_output", writable: false).readOnly
        let gi = try tensorView(gradInput, "grad_input", writable: true)
        try engine { () throws(EngineError) in
            try TrainableQuantization.doReFaWeightBackward(w, gradOutput: g, gradInput: gi, name: "weight")
        }
    }
}

/// `int sc_dorefa_output_forward(const sc_tensor *x, double scale, double zero_point, int64_t qmin, int64_t qmax,
///                               const sc_tensor *out, const sc_tensor *gradient_mask)`.
@_cdecl("sc_dorefa_output_forward")
public func sc_dorefa_output_forward(_ x: UnsafePointer<sc_tensor>?, _ scale: Double, _ zeroPoint: Double, _ qmin: Int64, _ qmax: Int64,
                                     _ out: UnsafePointer<sc_tensor>?, _ gradientMask: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let xv = try tensorView(x, "x", writable: false).readOnly
        let (lo, hi) = try range(qmin, qmax)
        let o = try tensorView(out, "out", writable: true)
        let m = try optionalTensorView(gradientMask, "gradient_mask", writable: true)
        try engine { () throws(EngineError) in
            try TrainableQuantization.doReFaOutputForward(xv, into: o, gradientMask: m, scale: scale, zeroPoint: zeroPoint,
                                                          qmin: lo, qmax: hi, name: "x")
        }
    }
}

/// `int sc_dorefa_input_forward(const sc_tensor *x, int64_t qmin, int64_t qmax, int symmetric,
///                              const sc_tensor *out, double *scale, double *zero_point)`.
@_cdecl("sc_dorefa_input_forward")
public func sc_dorefa_input_forward(_ x: UnsafePointer<sc_tensor>?, _ qmin: Int64, _ qmax: Int64, _ symmetric: Int32,
                                    _ out: UnsafePointer<sc_tensor>?, _ scale: UnsafeMutablePointer<Double>?,
                                    _ zeroPoint: UnsafeMutablePointer<Double>?) -> Int32 {
    threadCall { () throws(CallError) in
        guard let scale else { throw CallError(.nullPointer, "scale is NULL") }
        guard let zeroPoint else { throw CallError(.nullPointer, "zero_point is NULL") }
        guard symmetric == 0 || symmetric == 1 else {
            throw CallError(.invalidArgument, "symmetric is \(symmetric); expected 0 (affine) or 1 (symmetric)")
        }
        let xv = try tensorView(x, "x", writable: false).readOnly
        let (lo, hi) = try range(qmin, qmax)
        let o = try tensorView(out, "out", writable: true)
        var result = (scale: 0.0, zeroPoint: 0.0)
        try engine { () throws(EngineError) in
            result = try TrainableQuantization.doReFaInputForward(xv, into: o, qmin: lo, qmax: hi, symmetric: symmetric == 1, name: "x")
        }
        scale.pointee = result.scale
        zeroPoint.pointee = result.zeroPoint
    }
}

/// `int sc_dorefa_gradient(const sc_tensor *grad, const sc_tensor *noise, int bits, int64_t qmin,
///                         int64_t qmax, const sc_tensor *out)`.
@_cdecl("sc_dorefa_gradient")
public func sc_dorefa_gradient(_ grad: UnsafePointer<sc_tensor>?, _ noise: UnsafePointer<sc_tensor>?, _ bits: Int32,
                               _ qmin: Int64, _ qmax: Int64, _ out: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let g = try tensorView(grad, "grad", writable: false).readOnly
        let n = try tensorView(noise, "noise", writable: false).readOnly
        let (lo, hi) = try range(qmin, qmax)
        guard (1...16).contains(bits) else { throw CallError(.invalidArgument, "bits is \(bits); expected 1 to 16") }
        let o = try tensorView(out, "out", writable: true)
        try engine { () throws(EngineError) in
            try TrainableQuantization.doReFaGradientQuantize(g, noise: n, bits: Int(bits), qmin: lo, qmax: hi, into: o, name: "grad")
        }
    }
}

/// `int sc_binarize(const sc_tensor *x, int clip_outside, const sc_tensor *out, const sc_tensor *gradient_mask)`.
@_cdecl("sc_binarize")
public func sc_binarize(_ x: UnsafePointer<sc_tensor>?, _ clipOutside: Int32, _ out: UnsafePointer<sc_tensor>?,
                        _ gradientMask: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        guard clipOutside == 0 || clipOutside == 1 else { throw CallError(.invalidArgument, "clip_outside is \(clipOutside); expected 0 or 1") }
        let xv = try tensorView(x, "x", writable: false).readOnly
        let o = try tensorView(out, "out", writable: true)
        let m = try optionalTensorView(gradientMask, "gradient_mask", writable: true)
        try engine { () throws(EngineError) in
            try TrainableQuantization.binarize(xv, into: o, gradientMask: m, clipOutside: clipOutside == 1, name: "x")
        }
    }
}

/// `int sc_clamp_in_place(const sc_tensor *x, double lo, double hi)`.
@_cdecl("sc_clamp_in_place")
public func sc_clamp_in_place(_ x: UnsafePointer<sc_tensor>?, _ lo: Double, _ hi: Double) -> Int32 {
    threadCall { () throws(CallError) in
        guard !lo.isNaN, !hi.isNaN, lo <= hi else {
            throw CallError(.invalidArgument, "lo \(lo), hi \(hi): expected lo <= hi, neither NaN")
        }
        let v = try tensorView(x, "x", writable: true)
        try engine { () throws(EngineError) in try TrainableQuantization.clampInPlace(v, lo: lo, hi: hi, name: "x") }
    }
}

/// `int sc_fold_batch_norm_backward(int layer, const sc_tensor *weight, const sc_tensor *bias,
///     const sc_tensor *bn_weight, const sc_tensor *running_mean, const sc_tensor *running_var, double eps,
///     const sc_tensor *grad_folded_weight, const sc_tensor *grad_folded_bias, const sc_tensor *grad_weight,
///     const sc_tensor *grad_bias, const sc_tensor *grad_bn_weight, const sc_tensor *grad_bn_bias)`.
@_cdecl("sc_fold_batch_norm_backward")
public func sc_fold_batch_norm_backward(_ layer: Int32, _ weight: UnsafePointer<sc_tensor>?, _ bias: UnsafePointer<sc_tensor>?,
                                        _ bnWeight: UnsafePointer<sc_tensor>?, _ runningMean: UnsafePointer<sc_tensor>?,
                                        _ runningVar: UnsafePointer<sc_tensor>?, _ eps: Double,
                                        _ gradFoldedWeight: UnsafePointer<sc_tensor>?, _ gradFoldedBias: UnsafePointer<sc_tensor>?,
                                        _ gradWeight: UnsafePointer<sc_tensor>?, _ gradBias: UnsafePointer<sc_tensor>?,
                                        _ gradBnWeight: UnsafePointer<sc_tensor>?, _ gradBnBias: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let kind: BatchNormFolding.Layer
        switch layer {
        case 0: kind = .conv
        case 1: kind = .linear
        default: throw CallError(.invalidArgument, "layer is \(layer); expected SC_FOLD_CONV (0) or SC_FOLD_LINEAR (1)")
        }
        guard eps.isFinite, eps >= 0 else { throw CallError(.invalidArgument, "eps is \(eps); expected a finite number >= 0") }
        let w = try tensorView(weight, "weight", writable: false).readOnly
        let b = try optionalTensorView(bias, "bias", writable: false)?.readOnly
        let gamma = try optionalTensorView(bnWeight, "bn_weight", writable: false)?.readOnly
        let mean = try tensorView(runningMean, "running_mean", writable: false).readOnly
        let variance = try tensorView(runningVar, "running_var", writable: false).readOnly
        let gw = try tensorView(gradFoldedWeight, "grad_folded_weight", writable: false).readOnly
        let gb = try optionalTensorView(gradFoldedBias, "grad_folded_bias", writable: false)?.readOnly
        let ow = try tensorView(gradWeight, "grad_weight", writable: true)
        let ob = try optionalTensorView(gradBias, "grad_bias", writable: true)
        let og = try optionalTensorView(gradBnWeight, "grad_bn_weight", writable: true)
        let obeta = try optionalTensorView(gradBnBias, "grad_bn_bias", writable: true)
        guard let c = w.shape.first else { throw CallError(.shape, "weight has ndim 0; folding needs dim 0 = the output channels") }
        let vectors: [(String, Int?)] = [("bias", b?.count), ("bn_weight", gamma?.count), ("running_mean", mean.count),
                                         ("running_var", variance.count), ("grad_folded_bias", gb?.count), ("grad_bias", ob?.count),
                                         ("grad_bn_weight", og?.count), ("grad_bn_bias", obeta?.count)]
        for (what, n) in vectors {
            if let n, n != c { throw CallError(.shape, "\(what) has \(n) element(s); the weight \(w.shape) has \(c) output channels") }
        }
        for (what, s) in [("grad_folded_weight", gw.shape), ("grad_weight", ow.shape)] where s != w.shape {
            throw CallError(.shape, "\(what) has shape \(s); expected the weight's shape \(w.shape)")
        }
        let bn = BatchNormFolding.BatchNorm(weight: gamma, bias: nil, runningMean: mean, runningVar: variance, eps: eps)
        try engine { () throws(EngineError) in
            try BatchNormFolding.foldBackward(weight: w, bias: b, batchNorm: bn, layer: kind, gradFoldedWeight: gw, gradFoldedBias: gb,
                                              gradWeight: ow, gradBias: ob, gradGamma: og, gradBeta: obeta, name: "weight")
        }
    }
}
