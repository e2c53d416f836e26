import SwiftCompress
import SwiftCompressABI

// Conversion of C arguments into core values. Every check a C caller can fail lives here, so
// nothing unchecked reaches the core.

/// `(size_t)-1` as a length: the text is NUL-terminated.
let nulTerminated = Int.max

/// A required C string, validated as UTF-8.
func string(_ p: UnsafePointer<CChar>?, _ what: String) throws(CallError) -> String {
    guard let p else { throw CallError(.nullPointer, "\(what) is NULL") }
    guard let s = String(validatingCString: p) else { throw CallError(.invalidArgument, "\(what) is not valid UTF-8") }
    return s
}

/// Text given with a length in bytes, or NUL-terminated when `length` is `(size_t)-1`.
func text(_ p: UnsafePointer<CChar>?, length: Int, _ what: String) throws(CallError) -> String {
    guard let p else { throw CallError(.nullPointer, "\(what) is NULL") }
    if length == -1 || length == nulTerminated { return try string(p, what) }
    guard length >= 0 else { throw CallError(.invalidArgument, "\(what): length \(length) is negative") }
    let bytes = UnsafeRawBufferPointer(start: p, count: length)
    guard let s = String(validating: bytes, as: UTF8.self) else {
        throw CallError(.invalidArgument, "\(what) (\(length) bytes) is not valid UTF-8")
    }
    return s
}

/// The dtype codes of the header.
func elementType(_ code: Int32, _ what: String) throws(CallError) -> ElementType {
    switch code {
    case 0: return .float32
    case 1: return .float64
    case 2: return .float16
    case 3: return .bfloat16
    default:
        throw CallError(.dtype, "\(what).dtype is \(code); expected SC_DTYPE_FLOAT32 (0), SC_DTYPE_FLOAT64 (1), SC_DTYPE_FLOAT16 (2) or SC_DTYPE_BFLOAT16 (3)")
    }
}

/// The most dimensions an `sc_tensor` may have (SC_MAX_NDIM).
let maxDimensions: Int32 = 16

/// `tensorView` for an optional argument: nil for a NULL pointer.
func optionalTensorView(_ t: UnsafePointer<sc_tensor>?, _ what: String, writable: Bool) throws(CallError) -> MutableTensorView? {
    t == nil ? nil : try tensorView(t, what, writable: writable)
}

/// Validates an `sc_tensor` and makes a view of it. `writable` views must not overlap (the library
/// writes them from several threads).
func tensorView(_ t: UnsafePointer<sc_tensor>?, _ what: String, writable: Bool) throws(CallError) -> MutableTensorView {
    guard let t else { throw CallError(.nullPointer, "\(what) is NULL") }
    let v = t.pointee
    let dtype = try elementType(v.dtype, what)
    guard v.ndim >= 0, v.ndim <= maxDimensions else {
        throw CallError(.shape, "\(what).ndim is \(v.ndim); expected 0 to \(maxDimensions)")
    }
    let n = Int(v.ndim)
    var shape: [Int] = []
    var strides: [Int]? = nil
    if n > 0 {
        guard let sp = v.shape else { throw CallError(.nullPointer, "\(what).shape is NULL but ndim is \(n)") }
        shape = (0..<n).map { Int(sp[$0]) }
        for (d, s) in shape.enumerated() where s < 0 {
            throw CallError(.shape, "\(what).shape[\(d)] is \(s); sizes must be >= 0 (shape \(shape))")
        }
        if let st = v.strides {
            let s = (0..<n).map { Int(st[$0]) }
            for (d, x) in s.enumerated() where x < 0 {
                throw CallError(.shape, "\(what).strides[\(d)] is \(x); negative strides are not supported (strides \(s))")
            }
            strides = s
        }
    }
    let layout: TensorLayout
    do throws(TensorViewError) { layout = try TensorLayout(shape: shape, strides: strides) } catch {
        throw CallError(.shape, "\(what): \(error.message)")
    }
    if layout.count > 0 && v.data == nil {
        throw CallError(.nullPointer, "\(what).data is NULL for a tensor of shape \(shape) (\(layout.count) elements)")
    }
    if writable, let d = overlappingDimension(layout) {
        throw CallError(.shape, "\(what): strides \(layout.strides) make elements of shape \(shape) overlap (dim \(d)); the library writes this buffer, so every element needs its own memory")
    }
    do throws(TensorViewError) { return try MutableTensorView(v.data, shape: shape, strides: strides, dtype: dtype) } catch {
        throw CallError(.shape, "\(what): \(error.message)")
    }
}

/// A dimension whose stride lets two elements share memory, or nil when none does: with the
/// dims of size > 1 ordered by stride, each stride must exceed the span of the smaller ones.
func overlappingDimension(_ layout: TensorLayout) -> Int? {
    let dims = layout.shape.indices.filter { layout.shape[$0] > 1 }.sorted { layout.strides[$0] < layout.strides[$1] }
    var extent = 1
    for d in dims {
        let stride = layout.strides[d]
        if stride < extent { return d }
        let (span, o1) = stride.multipliedReportingOverflow(by: layout.shape[d] - 1)
        let (e, o2) = extent.addingReportingOverflow(span)
        if o1 || o2 { return d }
        extent = e
    }
    return nil
}
