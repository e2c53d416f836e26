import SwiftCompress
import SwiftCompressABI

// The quantization entry points of include/swiftcompress.h; see the header for the contracts.

/// An `int64_t` array owned by the session (a scale shape returned through `const int64_t **`);
/// its pointer stays valid until the box is released.
final class CInt64Array: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Int64>
    let count: Int

    init(_ values: [Int]) {
        count = values.count
        pointer = .allocate(capacity: Swift.max(values.count, 1))
        for (i, v) in values.enumerated() { pointer[i] = Int64(v) }
    }

    deinit { pointer.deallocate() }
}

/// `int sc_session_observe(sc_session *, const char *module_name, const char *target_name,
///                         const sc_tensor *batch, int observer)`.
@_cdecl("sc_session_observe")
public func sc_session_observe(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                               _ batch: UnsafePointer<sc_tensor>?, _ observer: Int32) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        let (i, settings) = try quantTarget(s, moduleName, targetName, "sc_session_observe")
        let kind: QuantObserverKind
        switch observer {
        case 0: kind = .minMax
        case 1: kind = .qat
        default:
            throw CallError(.invalidArgument, "observer is \(observer); expected SC_OBSERVER_MINMAX (0) or SC_OBSERVER_EMA (1)")
        }
        let b = try tensorView(batch, "\(settings.target): batch", writable: false).readOnly
        try s.call { (c) throws(SessionError) in try c.observe(i, batch: b, kind: kind, settings: settings) }
    }
}

/// `int sc_session_scale_shape(sc_session *, const char *module_name, const char *target_name,
///                             size_t *ndim, const int64_t **shape)`.
@_cdecl("sc_session_scale_shape")
public func sc_session_scale_shape(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                   _ ndim: UnsafeMutablePointer<Int>?, _ shape: UnsafeMutablePointer<UnsafePointer<Int64>?>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        guard let ndim else { throw CallError(.nullPointer, "ndim is NULL") }
        guard let shape else { throw CallError(.nullPointer, "shape is NULL") }
        let (i, settings) = try quantTarget(s, moduleName, targetName, "sc_session_scale_shape")
        let a = try observed(s, i, settings).shape
        ndim.pointee = a.count
        shape.pointee = UnsafePointer(a.pointer)
    }
}

/// `int sc_session_quant_params(sc_session *, const char *module_name, const char *target_name,
///                              const sc_tensor *scale, const sc_tensor *zero_point,
///                              const sc_tensor *tracked_min, const sc_tensor *tracked_max)`.
@_cdecl("sc_session_quant_params")
public func sc_session_quant_params(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                    _ scale: UnsafePointer<sc_tensor>?, _ zeroPoint: UnsafePointer<sc_tensor>?,
                                    _ trackedMin: UnsafePointer<sc_tensor>?, _ trackedMax: UnsafePointer<sc_tensor>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        let (i, settings) = try quantTarget(s, moduleName, targetName, "sc_session_quant_params")
        let name = settings.target
        let scaleView = try tensorView(scale, "\(name): scale", writable: true)
        let zeroView = try tensorView(zeroPoint, "\(name): zero_point", writable: true)
        let minView = try optionalTensorView(trackedMin, "\(name): tracked_min", writable: true)
        let maxView = try optionalTensorView(trackedMax, "\(name): tracked_max", writable: true)
        try s.call { (c) throws(SessionError) in
            try c.writeParameters(i, settings: settings, scale: scaleView, zeroPoint: zeroView, trackedMin: minView, trackedMax: maxView)
        }
    }
}

/// `int sc_session_fake_quantize(sc_session *, const char *module_name, const char *target_name,
///                               const sc_tensor *x, const sc_tensor *out, const sc_tensor *gradient_mask)`.
@_cdecl("sc_session_fake_quantize")
public func sc_session_fake_quantize(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                     _ x: UnsafePointer<sc_tensor>?, _ out: UnsafePointer<sc_tensor>?,
                                     _ gradientMask: UnsafePointer<sc_tensor>?) -> Int32 {
    fakeQuantize(session, moduleName, targetName, method: nil, x, out, gradientMask, call: "sc_session_fake_quantize")
}

/// `int sc_session_fake_quantize_as(sc_session *, const char *module_name, const char *target_name,
///                                  int apply_method, const sc_tensor *x, const sc_tensor *out,
///                                  const sc_tensor *gradient_mask)`.
@_cdecl("sc_session_fake_quantize_as")
public func sc_session_fake_quantize_as(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                        _ applyMethod: Int32, _ x: UnsafePointer<sc_tensor>?, _ out: UnsafePointer<sc_tensor>?,
                                        _ gradientMask: UnsafePointer<sc_tensor>?) -> Int32 {
    let method: QuantApplyMethod?
    switch applyMethod {
    case 0: method = .clampRound
    case 1: method = .qatClampRound
    case 2: method = .bypass
    default: method = nil
    }
    guard let method else {
        return sessionCall(session) { (_) throws(CallError) in
            throw CallError(.invalidArgument, "apply_method is \(applyMethod); expected SC_APPLY_CLAMP_ROUND (0), SC_APPLY_QAT_CLAMP_ROUND (1) or SC_APPLY_BYPASS (2)")
        }
    }
    return fakeQuantize(session, moduleName, targetName, method: method, x, out, gradientMask, call: "sc_session_fake_quantize_as")
}

/// The body of both fake-quantize entry points; `method` replaces the target's apply_method when given.
private func fakeQuantize(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                          method: QuantApplyMethod?, _ x: UnsafePointer<sc_tensor>?, _ out: UnsafePointer<sc_tensor>?,
                          _ gradientMask: UnsafePointer<sc_tensor>?, call: String) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        let (i, settings) = try quantTarget(s, moduleName, targetName, call)
        let name = settings.target
        let xv = try tensorView(x, "\(name): x", writable: false).readOnly
        let ov = try tensorView(out, "\(name): out", writable: true)
        let mv = try optionalTensorView(gradientMask, "\(name): gradient_mask", writable: true)
        try s.call { (c) throws(SessionError) in
            try c.fakeQuantize(i, settings: settings, method: method, x: xv, out: ov, gradientMask: mv)
        }
    }
}

/// `int sc_session_quant_range(sc_session *, const char *module_name, const char *target_name,
///                             int *bits, int *is_signed, int64_t *qmin, int64_t *qmax)`.
@_cdecl("sc_session_quant_range")
public func sc_session_quant_range(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                   _ bits: UnsafeMutablePointer<Int32>?, _ isSigned: UnsafeMutablePointer<Int32>?,
                                   _ qmin: UnsafeMutablePointer<Int64>?, _ qmax: UnsafeMutablePointer<Int64>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        let (_, settings) = try quantTarget(s, moduleName, targetName, "sc_session_quant_range")
        let d = settings.dtype
        bits?.pointee = Int32(d.bits)
        isSigned?.pointee = d.isSigned ? 1 : 0
        qmin?.pointee = Int64(d.qmin)
        qmax?.pointee = Int64(d.qmax)
    }
}

/// The index and typed settings of a named target of a quantization session.
func quantTarget(_ s: Session, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                 _ call: String) throws(CallError) -> (Int, QuantizationSettings) {
    try s.requireMode(.quantization, for: call)
    let module = try string(moduleName, "module_name"), target = try string(targetName, "target_name")
    return try s.call { (c) throws(SessionError) in try c.quantizationTarget(module: module, target: target, call: call) }
}

/// The observer of target `i` and its scale shape as a C array (kept by the session), or
/// SC_ERROR_STATE before its first batch.
func observed(_ s: Session, _ i: Int, _ settings: QuantizationSettings) throws(CallError) -> (observer: QuantObserver, shape: CInt64Array) {
    let o = try s.call { (c) throws(SessionError) in try c.observer(i, settings: settings) }
    if s.scaleShapes.indices.contains(i), let shape = s.scaleShapes[i] { return (o, shape) }
    let shape = CInt64Array(o.scaleShape ?? [])
    if s.scaleShapes.indices.contains(i) { s.scaleShapes[i] = shape }
    return (o, shape)
}
