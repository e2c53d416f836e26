import SwiftCompress
import SwiftCompressABI

// The training-aware pruning entry points of include/swiftcompress.h (section "Training-aware
// pruning"); see the header for the contracts.

/// Reads `count` tensors from a C array; `what` names the array in errors.
private func tensorArray(_ p: UnsafePointer<sc_tensor>?, _ count: Int, _ what: String, writable: Bool) throws(CallError) -> [MutableTensorView] {
    guard count >= 0 else { throw CallError(.invalidArgument, "\(what): count is \(count); expected >= 0") }
    if count == 0 { return [] }
    guard let p else { throw CallError(.nullPointer, "\(what) is NULL (count \(count))") }
    var out: [MutableTensorView] = []
    out.reserveCapacity(count)
    for i in 0..<count { out.append(try tensorView(p + i, "\(what)[\(i)]", writable: writable)) }
    return out
}

/// The single element of a one-element tensor.
private func scalar(_ v: MutableTensorView, _ what: String) throws(CallError) -> Double {
    guard v.count == 1 else { throw CallError(.shape, "\(what) has \(v.count) elements (shape \(v.shape)); expected 1") }
    do throws(TensorViewError) { return try v.value(atLogicalIndex: 0) } catch { throw CallError(.shape, "\(what): \(error.message)") }
}

private func engine(_ body: () throws(EngineError) -> Void) throws(CallError) {
    do throws(EngineError) { try body() } catch { throw CallError(error) }
}

/// `int sc_taylor_accumulate(const sc_tensor *buffer, const sc_tensor *weight, const sc_tensor *gradient, int reset)`.
@_cdecl("sc_taylor_accumulate")
public func sc_taylor_accumulate(_ buffer: UnsafePointer<sc_tensor>?, _ weight: UnsafePointer<sc_tensor>?,
                                 _ gradient: UnsafePointer<sc_tensor>?, _ reset: Int32) -> Int32 {
    threadCall { () throws(CallError) in
        let b = try tensorView(buffer, "buffer", writable: true)
        let w = try tensorView(weight, "weight", writable: false)
        let g = try tensorView(gradient, "gradient", writable: false)
        try engine { () throws(EngineError) in
            try TrainingMetrics.taylorAccumulate(buffer: b, weight: w.readOnly, gradient: g.readOnly, reset: reset != 0, name: "buffer")
        }
    }
}

/// `int sc_taylor_average(const sc_tensor *buffer, int64_t steps, const sc_tensor *out)`.
@_cdecl("sc_taylor_average")
public func sc_taylor_average(_ buffer: UnsafePointer<sc_tensor>?, _ steps: Int64, _ out: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let b = try tensorView(buffer, "buffer", writable: false)
        let o = try tensorView(out, "out", writable: true)
        guard steps >= 1 else { throw CallError(.invalidArgument, "steps is \(steps); expected an int >= 1 (training_steps)") }
        try engine { () throws(EngineError) in try TrainingMetrics.taylorAverage(buffer: b.readOnly, steps: Int(steps), into: o, name: "out") }
    }
}

/// `int sc_slim_metric(const sc_tensor *factor, const sc_tensor *out)`.
@_cdecl("sc_slim_metric")
public func sc_slim_metric(_ factor: UnsafePointer<sc_tensor>?, _ out: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let f = try tensorView(factor, "factor", writable: false)
        let o = try tensorView(out, "out", writable: true)
        try engine { () throws(EngineError) in try TrainingMetrics.slimMetric(factor: f.readOnly, into: o, name: "out") }
    }
}

/// `int sc_slim_penalty(const sc_tensor *loss, const sc_tensor *factors, size_t count, double regular_scale, const sc_tensor *out)`.
@_cdecl("sc_slim_penalty")
public func sc_slim_penalty(_ loss: UnsafePointer<sc_tensor>?, _ factors: UnsafePointer<sc_tensor>?, _ count: Int,
                            _ regularScale: Double, _ out: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let l = try tensorView(loss, "loss", writable: false)
        let o = try tensorView(out, "out", writable: true)
        let fs = try tensorArray(factors, count, "factors", writable: false)
        let lv = try scalar(l, "loss")
        _ = try scalar(o, "out")
        guard regularScale.isFinite else { throw CallError(.invalidArgument, "regular_scale is \(regularScale); expected a finite number") }
        var v = 0.0
        try engine { () throws(EngineError) in
            v = try TrainingMetrics.slimPenalty(loss: lv, factors: fs.map(\.readOnly), regularScale: regularScale, dtype: o.dtype)
        }
        do throws(TensorViewError) { try o.setValue(v, atLogicalIndex: 0) } catch { throw CallError(.shape, "out: \(error.message)") }
    }
}

/// `int sc_slim_penalty_backward(const sc_tensor *factors, size_t count, double regular_scale,
///                               const sc_tensor *grad_output, const sc_tensor *grads)`.
@_cdecl("sc_slim_penalty_backward")
public func sc_slim_penalty_backward(_ factors: UnsafePointer<sc_tensor>?, _ count: Int, _ regularScale: Double,
                                     _ gradOutput: UnsafePointer<sc_tensor>?, _ grads: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let fs = try tensorArray(factors, count, "factors", writable: false)
        let gs = try tensorArray(grads, count, "grads", writable: true)
        let go = try scalar(try tensorView(gradOutput, "grad_output", writable: false), "grad_output")
        guard regularScale.isFinite else { throw CallError(.invalidArgument, "regular_scale is \(regularScale); expected a finite number") }
        try engine { () throws(EngineError) in
            try TrainingMetrics.slimPenaltyGradient(factors: fs.map(\.readOnly), regularScale: regularScale, gradOutput: go,
                                                    into: gs, names: (0..<count).map { "grads[\($0)]" })
        }
    }
}

/// `int sc_session_set_schedule(sc_session *, int schedule, int64_t step, int64_t total_steps)`.
@_cdecl("sc_session_set_schedule")
public func sc_session_set_schedule(_ session: OpaquePointer?, _ schedule: Int32, _ step: Int64, _ totalSteps: Int64) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        try s.requireMode(.pruning, for: "sc_session_set_schedule")
        let kind: SparsitySchedule
        switch schedule {
        case -1:
            try s.call { (c) throws(SessionError) in c.pruningSchedule = nil }
            return
        case 0: kind = .linear
        case 1: kind = .agp
        default: throw CallError(.invalidArgument, "schedule is \(schedule); expected SC_SCHEDULE_NONE (-1), SC_SCHEDULE_LINEAR (0) or SC_SCHEDULE_AGP (1)")
        }
        guard totalSteps >= 1 else { throw CallError(.invalidArgument, "total_steps is \(totalSteps); expected an int >= 1 (total_times)") }
        guard step >= 0, step <= totalSteps else { throw CallError(.invalidArgument, "step is \(step); expected an int in [0, \(totalSteps)]") }
        try s.call { (c) throws(SessionError) in c.pruningSchedule = (kind, Int(step), Int(totalSteps)) }
    }
}

/// `int sc_session_metric_shape(sc_session *, const char *module_name, const char *target_name, const int64_t *shape,
///                              int32_t ndim, int level_default, int64_t *out_shape, int32_t *out_ndim)`.
@_cdecl("sc_session_metric_shape")
public func sc_session_metric_shape(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                    _ shape: UnsafePointer<Int64>?, _ ndim: Int32, _ levelDefault: Int32,
                                    _ outShape: UnsafeMutablePointer<Int64>?, _ outNdim: UnsafeMutablePointer<Int32>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        try s.requireMode(.pruning, for: "sc_session_metric_shape")
        let module = try string(moduleName, "module_name"), target = try string(targetName, "target_name")
        guard ndim >= 0, ndim <= maxDimensions else { throw CallError(.shape, "ndim is \(ndim); expected 0 to \(maxDimensions)") }
        guard let outShape else { throw CallError(.nullPointer, "out_shape is NULL") }
        guard let outNdim else { throw CallError(.nullPointer, "out_ndim is NULL") }
        var dims: [Int] = []
        if ndim > 0 {
            guard let shape else { throw CallError(.nullPointer, "shape is NULL (ndim \(ndim))") }
            for i in 0..<Int(ndim) {
                guard shape[i] >= 0, shape[i] < Int64(1 << 48) else { throw CallError(.shape, "shape[\(i)] is \(shape[i]); expected a size >= 0") }
                dims.append(Int(shape[i]))
            }
        }
        let out = try s.call { (c) throws(SessionError) in
            try c.pruningMetricShape(module: module, target: target, shape: dims, levelDefault: levelDefault != 0)
        }
        guard out.count <= Int(maxDimensions) else { throw CallError(.shape, "metric shape \(out) has more than \(maxDimensions) dimensions") }
        for (i, d) in out.enumerated() { outShape[i] = Int64(d) }
        outNdim.pointee = Int32(out.count)
    }
}
