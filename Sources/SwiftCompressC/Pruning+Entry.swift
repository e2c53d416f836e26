import SwiftCompress
import SwiftCompressABI

// The pruning entry points of include/swiftcompress.h; see the header for the contracts.

/// `int sc_session_bind(sc_session *, const char *module_name, const char *target_name,
///                      const sc_tensor *tensor, const sc_tensor *mask)`.
@_cdecl("sc_session_bind")
public func sc_session_bind(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                            _ tensor: UnsafePointer<sc_tensor>?, _ mask: UnsafePointer<sc_tensor>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        try s.requireMode(.pruning, for: "sc_session_bind")
        let module = try string(moduleName, "module_name"), target = try string(targetName, "target_name")
        if tensor == nil && mask == nil {
            try s.call { (c) throws(SessionError) in try c.bindAbsent(module: module, target: target) }
            return
        }
        let name = s.targetName(try s.index(module: module, target: target))
        let t = try tensorView(tensor, "\(name): tensor", writable: true)
        let m = try tensorView(mask, "\(name): mask", writable: true)
        try s.call { (c) throws(SessionError) in try c.bind(module: module, target: target, tensor: t, mask: m) }
    }
}

/// `int sc_session_bind_metric(sc_session *, const char *module_name, const char *target_name,
///                             const sc_tensor *metric)`.
@_cdecl("sc_session_bind_metric")
public func sc_session_bind_metric(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                   _ metric: UnsafePointer<sc_tensor>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        try s.requireMode(.pruning, for: "sc_session_bind_metric")
        let module = try string(moduleName, "module_name"), target = try string(targetName, "target_name")
        let name = s.targetName(try s.index(module: module, target: target))
        let m = try tensorView(metric, "\(name): metric", writable: false)
        try s.call { (c) throws(SessionError) in try c.bindMetric(module: module, target: target, metric: m.readOnly) }
    }
}

/// `int sc_session_generate_masks(sc_session *, int metric)`.
/// The `SC_METRIC_*` code's metric, or nil.
func pruningMetricKind(_ code: Int32) -> PruningMetricKind? {
    switch code {
    case 0: return .level
    case 1: return .l1Norm
    case 2: return .l2Norm
    case 3: return .fpgm
    case 4: return .supplied
    case 5: return .wanda
    default: return nil
    }
}

/// The error for a metric code that is no `SC_METRIC_*`.
func badMetric(_ code: Int32) -> CallError {
    CallError(.invalidArgument, "metric is \(code); expected SC_METRIC_LEVEL (0), SC_METRIC_L1 (1), SC_METRIC_L2 (2), SC_METRIC_FPGM (3), SC_METRIC_SUPPLIED (4) or SC_METRIC_WANDA (5)")
}

@_cdecl("sc_session_generate_masks")
public func sc_session_generate_masks(_ session: OpaquePointer?, _ metric: Int32) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        try s.requireMode(.pruning, for: "sc_session_generate_masks")
        guard let kind = pruningMetricKind(metric) else { throw badMetric(metric) }
        try s.call { (c) throws(SessionError) in try c.generateMasks(metric: kind, call: "sc_session_generate_masks") }
    }
}

/// `int sc_session_apply_masks(sc_session *)`.
@_cdecl("sc_session_apply_masks")
public func sc_session_apply_masks(_ session: OpaquePointer?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        try s.call { (c) throws(SessionError) in try c.applyMasks(call: "sc_session_apply_masks") }
    }
}

/// `int sc_apply_mask(const sc_tensor *mask, const sc_tensor *target, int method)`.
@_cdecl("sc_apply_mask")
public func sc_apply_mask(_ mask: UnsafePointer<sc_tensor>?, _ target: UnsafePointer<sc_tensor>?, _ method: Int32) -> Int32 {
    threadCall { () throws(CallError) in
        let m = try tensorView(mask, "mask", writable: false)
        let t = try tensorView(target, "target", writable: true)
        let how: PruningApplyMethod
        switch method {
        case 0: how = .mul
        case 1: how = .add
        default: throw CallError(.invalidArgument, "method is \(method); expected 0 (mul) or 1 (add)")
        }
        do throws(EngineError) { try Pruning.applyMask(m.readOnly, to: t, method: how, name: "target") } catch { throw CallError(error) }
    }
}

/// `int sc_sparsity_schedule(int schedule, double ratio, int64_t step, int64_t total_steps, double *out)`.
@_cdecl("sc_sparsity_schedule")
public func sc_sparsity_schedule(_ schedule: Int32, _ ratio: Double, _ step: Int64, _ totalSteps: Int64,
                                 _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    threadCall { () throws(CallError) in
        guard let out else { throw CallError(.nullPointer, "out is NULL") }
        let kind: SparsitySchedule
        switch schedule {
        case 0: kind = .linear
        case 1: kind = .agp
        default: throw CallError(.invalidArgument, "schedule is \(schedule); expected SC_SCHEDULE_LINEAR (0) or SC_SCHEDULE_AGP (1)")
        }
        guard ratio.isFinite, ratio >= 0, ratio <= 1 else {
            throw CallError(.invalidArgument, "ratio is \(ratio); expected a number in [0, 1]")
        }
        do throws(EngineError) { out.pointee = try kind.ratio(ratio, step: Int(step), totalSteps: Int(totalSteps)) } catch {
            throw CallError(.invalidArgument, error.description)
        }
    }
}
