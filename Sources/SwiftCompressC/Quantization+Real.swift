import SwiftCompress
import SwiftCompressABI

// Real quantization, dequantization and batch-norm folding entry points of include/swiftcompress.h
// ("Real quantization and batch-norm folding"); see the header for the contracts. Argument
// checking and conversion only: the core's `Quantization.quantize` / `dequantize` and
// `BatchNormFolding.fold` compute.

/// The SC_QSTORAGE_* codes of the header.
func quantizedStorage(_ code: Int32) throws(CallError) -> QuantizedStorage {
    switch code {
    case 0: return .int8
    case 1: return .uint8
    case 2: return .int16
    case 3: return .uint16
    case 4: return .int4
    case 5: return .uint4
    default:
        throw CallError(.invalidArgument, "storage is \(code); expected SC_QSTORAGE_INT8 (0), SC_QSTORAGE_UINT8 (1), SC_QSTORAGE_INT16 (2), SC_QSTORAGE_UINT16 (3), SC_QSTORAGE_INT4 (4) or SC_QSTORAGE_UINT4 (5)")
    }
}

/// A `size_t` byte count as an Int (sizes beyond Int.max cannot be real buffers; they are read as Int.max).
private func byteCount(_ n: UInt) -> Int { Int(clamping: n) }

/// Checks a caller's quantized buffer of `count` values: non-NULL when it has values, large enough.
private func checkQuantizedBytes(_ pointer: UnsafeRawPointer?, bytes: UInt, count: Int, storage: QuantizedStorage,
                                 _ what: String, _ sizeName: String) throws(CallError) {
    let needed = storage.byteCount(forValues: count)
    if pointer == nil && needed > 0 {
        throw CallError(.nullPointer, "\(what) is NULL; \(count) \(storage.rawValue) value(s) need \(needed) byte(s)")
    }
    if byteCount(bytes) < needed {
        throw CallError(.invalidArgument, "\(sizeName) is \(bytes); \(count) \(storage.rawValue) value(s) need \(needed) byte(s)")
    }
}

private func quantizedBuffer(_ p: UnsafeMutableRawPointer?, bytes: UInt, count: Int, storage: QuantizedStorage,
                             _ what: String, _ sizeName: String) throws(CallError) -> QuantizedBuffer {
    try checkQuantizedBytes(p.map { UnsafeRawPointer($0) }, bytes: bytes, count: count, storage: storage, what, sizeName)
    do throws(TensorViewError) { return try QuantizedBuffer(p, count: count, storage: storage, byteCount: byteCount(bytes)) } catch {
        throw CallError(.invalidArgument, "\(what): \(error.message)")
    }
}

private func quantizedView(_ p: UnsafeRawPointer?, bytes: UInt, count: Int, storage: QuantizedStorage,
                           _ what: String, _ sizeName: String) throws(CallError) -> QuantizedView {
    try checkQuantizedBytes(p, bytes: bytes, count: count, storage: storage, what, sizeName)
    do throws(TensorViewError) { return try QuantizedView(p, count: count, storage: storage, byteCount: byteCount(bytes)) } catch {
        throw CallError(.invalidArgument, "\(what): \(error.message)")
    }
}

/// The scale and zero point of an observed target, as sc_session_quant_params computes them.
private func observedParameters(_ s: Session, _ i: Int, _ settings: QuantizationSettings) throws(CallError) -> QuantParameters {
    try s.call { (c) throws(SessionError) in try c.parameters(i, settings: settings) }
}

/// Settings and parameters of the session-free calls: the quantized type from `bits` / `isSigned`;
/// the core derives the rest from the caller's scale and zero point (`QuantParameters.explicit`).
private func explicitParameters(scale: UnsafePointer<sc_tensor>?, zeroPoint: UnsafePointer<sc_tensor>?, bits: Int32, isSigned: Int32,
                                shape: [Int], name: String) throws(CallError) -> (QuantizationSettings, QuantParameters) {
    guard isSigned == 0 || isSigned == 1 else {
        throw CallError(.invalidArgument, "is_signed is \(isSigned); expected 1 ('intN') or 0 ('uintN')")
    }
    guard let dtype = QuantDType(isSigned: isSigned == 1, bits: Int(bits)) else {
        throw CallError(.invalidArgument, "bits is \(bits); expected \(quantBitRange.lowerBound) to \(quantBitRange.upperBound)")
    }
    let sv = try tensorView(scale, "scale", writable: false).readOnly
    let zv = try tensorView(zeroPoint, "zero_point", writable: false).readOnly
    do throws(EngineError) {
        return try QuantParameters.explicit(scale: sv, zeroPoint: zv, dtype: dtype, shape: shape, name: name)
    } catch { throw CallError(error) }
}

/// `int sc_qstorage_bytes(int storage, size_t count, size_t *bytes)`.
@_cdecl("sc_qstorage_bytes")
public func sc_qstorage_bytes(_ storage: Int32, _ count: UInt, _ bytes: UnsafeMutablePointer<UInt>?) -> Int32 {
    threadCall { () throws(CallError) in
        guard let bytes else { throw CallError(.nullPointer, "bytes is NULL") }
        let st = try quantizedStorage(storage)
        guard count <= UInt(Int.max / 2) else {
            throw CallError(.invalidArgument, "count \(count) is too large: its size does not fit in size_t")
        }
        bytes.pointee = UInt(st.byteCount(forValues: Int(count)))
    }
}

/// `int sc_session_quantize(sc_session *, const char *module_name, const char *target_name,
///                          const sc_tensor *x, void *out, size_t out_bytes, int storage, size_t *nan_count)`.
@_cdecl("sc_session_quantize")
public func sc_session_quantize(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                _ x: UnsafePointer<sc_tensor>?, _ out: UnsafeMutableRawPointer?, _ outBytes: UInt,
                                _ storage: Int32, _ nanCount: UnsafeMutablePointer<UInt>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        let (i, settings) = try quantTarget(s, moduleName, targetName, "sc_session_quantize")
        let name = settings.target
        let st = try quantizedStorage(storage)
        let xv = try tensorView(x, "\(name): x", writable: false).readOnly
        let q = try quantizedBuffer(out, bytes: outBytes, count: xv.count, storage: st, "\(name): out", "\(name): out_bytes")
        let p = try observedParameters(s, i, settings)
        let n: Int
        do throws(EngineError) { n = try Quantization.quantize(xv, into: q, parameters: p, settings: settings) } catch {
            throw CallError(error)
        }
        nanCount?.pointee = UInt(n)
    }
}

/// `int sc_session_dequantize(sc_session *, const char *module_name, const char *target_name,
///                            const void *q, size_t q_bytes, int storage, const sc_tensor *out)`.
@_cdecl("sc_session_dequantize")
public func sc_session_dequantize(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                  _ q: UnsafeRawPointer?, _ qBytes: UInt, _ storage: Int32, _ out: UnsafePointer<sc_tensor>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        let (i, settings) = try quantTarget(s, moduleName, targetName, "sc_session_dequantize")
        let name = settings.target
        let st = try quantizedStorage(storage)
        let ov = try tensorView(out, "\(name): out", writable: true)
        let qv = try quantizedView(q, bytes: qBytes, count: ov.count, storage: st, "\(name): q", "\(name): q_bytes")
        let p = try observedParameters(s, i, settings)
        do throws(EngineError) { try Quantization.dequantize(qv, into: ov, parameters: p, settings: settings) } catch {
            throw CallError(error)
        }
    }
}

/// `int sc_quantize(const sc_tensor *x, const sc_tensor *scale, const sc_tensor *zero_point, int bits,
///                  int is_signed, void *out, size_t out_bytes, int storage, size_t *nan_count)`.
@_cdecl("sc_quantize")
public func sc_quantize(_ x: UnsafePointer<sc_tensor>?, _ scale: UnsafePointer<sc_tensor>?, _ zeroPoint: UnsafePointer<sc_tensor>?,
                        _ bits: Int32, _ isSigned: Int32, _ out: UnsafeMutableRawPointer?, _ outBytes: UInt, _ storage: Int32,
                        _ nanCount: UnsafeMutablePointer<UInt>?) -> Int32 {
    threadCall { () throws(CallError) in
        let st = try quantizedStorage(storage)
        let xv = try tensorView(x, "x", writable: false).readOnly
        let (settings, p) = try explicitParameters(scale: scale, zeroPoint: zeroPoint, bits: bits, isSigned: isSigned, shape: xv.shape, name: "x")
        let q = try quantizedBuffer(out, bytes: outBytes, count: xv.count, storage: st, "out", "out_bytes")
        let n: Int
        do throws(EngineError) { n = try Quantization.quantize(xv, into: q, parameters: p, settings: settings) } catch {
            throw CallError(error)
        }
        nanCount?.pointee = UInt(n)
    }
}

/// `int sc_dequantize(const void *q, size_t q_bytes, int storage, const sc_tensor *scale,
///                    const sc_tensor *zero_point, int bits, int is_signed, const sc_tensor *out)`.
@_cdecl("sc_dequantize")
public func sc_dequantize(_ q: UnsafeRawPointer?, _ qBytes: UInt, _ storage: Int32, _ scale: UnsafePointer<sc_tensor>?,
                          _ zeroPoint: UnsafePointer<sc_tensor>?, _ bits: Int32, _ isSigned: Int32,
                          _ out: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let st = try quantizedStorage(storage)
        let ov = try tensorView(out, "out", writable: true)
        let (settings, p) = try explicitParameters(scale: scale, zeroPoint: zeroPoint, bits: bits, isSigned: isSigned, shape: ov.shape, name: "out")
        let qv = try quantizedView(q, bytes: qBytes, count: ov.count, storage: st, "q", "q_bytes")
        do throws(EngineError) { try Quantization.dequantize(qv, into: ov, parameters: p, settings: settings) } catch {
            throw CallError(error)
        }
    }
}

/// `int sc_fold_batch_norm(int layer, const sc_tensor *weight, const sc_tensor *bias, const sc_tensor *bn_weight,
///                         const sc_tensor *bn_bias, const sc_tensor *running_mean, const sc_tensor *running_var,
///                         double eps, const sc_tensor *folded_weight, const sc_tensor *folded_bias)`.
@_cdecl("sc_fold_batch_norm")
public func sc_fold_batch_norm(_ layer: Int32, _ weight: UnsafePointer<sc_tensor>?, _ bias: UnsafePointer<sc_tensor>?,
                               _ bnWeight: UnsafePointer<sc_tensor>?, _ bnBias: UnsafePointer<sc_tensor>?,
                               _ runningMean: UnsafePointer<sc_tensor>?, _ runningVar: UnsafePointer<sc_tensor>?, _ eps: Double,
                               _ foldedWeight: UnsafePointer<sc_tensor>?, _ foldedBias: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let kind: BatchNormFolding.Layer
        switch layer {
        case 0: kind = .conv
        case 1: kind = .linear
        default: throw CallError(.invalidArgument, "layer is \(layer); expected SC_FOLD_CONV (0) or SC_FOLD_LINEAR (1)")
        }
        guard eps.isFinite, eps >= 0 else {
            throw CallError(.invalidArgument, "eps is \(pythonFloatText(eps)); expected a finite number >= 0")
        }
        let w = try tensorView(weight, "weight", writable: false).readOnly
        func optional(_ t: UnsafePointer<sc_tensor>?, _ what: String) throws(CallError) -> TensorView? {
            try optionalTensorView(t, what, writable: false)?.readOnly
        }
        let b = try optional(bias, "bias")
        let gamma = try optional(bnWeight, "bn_weight"), beta = try optional(bnBias, "bn_bias")
        let mean = try tensorView(runningMean, "running_mean", writable: false).readOnly
        let variance = try tensorView(runningVar, "running_var", writable: false).readOnly
        let ow = try tensorView(foldedWeight, "folded_weight", writable: true)
        let ob = try tensorView(foldedBias, "folded_bias", writable: true)
        guard let c = w.shape.first else {
            throw CallError(.shape, "weight has ndim 0; folding needs dim 0 = the output channels")
        }
        let vectors: [(String, TensorView?)] = [("bias", b), ("bn_weight", gamma), ("bn_bias", beta), ("running_mean", mean),
                                                ("running_var", variance), ("folded_bias", ob.readOnly)]
        for (what, v) in vectors {
            if let v, v.count != c {
                throw CallError(.shape, "\(what) has \(v.count) element(s) (shape \(v.shape)); the weight \(w.shape) has \(c) output channels")
            }
        }
        guard ow.shape == w.shape else {
            throw CallError(.shape, "folded_weight has shape \(ow.shape); expected the weight's shape \(w.shape)")
        }
        let bn = BatchNormFolding.BatchNorm(weight: gamma, bias: beta, runningMean: mean, runningVar: variance, eps: eps)
        do throws(EngineError) {
            try BatchNormFolding.fold(weight: w, bias: b, batchNorm: bn, layer: kind, foldedWeight: ow, foldedBias: ob, name: "weight")
        } catch { throw CallError(error) }
    }
}

/// A double as Python prints it, for messages ("1e-05", "-1.0", "nan", "inf").
private func pythonFloatText(_ x: Double) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return x < 0 ? "-inf" : "inf" }
    return "\(x)"
}
