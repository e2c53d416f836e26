@testable import SwiftCompress

/// Owns raw buffers for views in tests; freed when the object goes away.
final class TestBuffers {
    private var raw: [UnsafeMutableRawPointer] = []
    deinit { for p in raw { p.deallocate() } }

    func allocate(bytes: Int) -> UnsafeMutableRawPointer {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 1), alignment: 16)
        raw.append(p)
        return p
    }

    /// A contiguous float32 view holding `values`.
    func view(_ values: [Float], shape: [Int]) throws -> TensorView {
        try mutableView(values, shape: shape).readOnly
    }

    func mutableView(_ values: [Float], shape: [Int], strides: [Int]? = nil) throws -> MutableTensorView {
        let p = allocate(bytes: values.count * 4)
        for (i, v) in values.enumerated() { p.storeBytes(of: v, toByteOffset: i * 4, as: Float.self) }
        return try MutableTensorView(p, shape: shape, strides: strides, dtype: .float32, byteCount: values.count * 4)
    }

    /// A view of `dtype` holding `values` (converted) at the given strides over `storageCount` elements.
    func mutableView(_ values: [Double], shape: [Int], strides: [Int]? = nil, dtype: ElementType,
                     storageCount: Int? = nil) throws -> MutableTensorView {
        let n = storageCount ?? values.count
        let p = allocate(bytes: n * dtype.byteSize)
        let v = try MutableTensorView(p, shape: shape, strides: strides, dtype: dtype, byteCount: n * dtype.byteSize)
        for (i, x) in values.enumerated() { try v.setValue(x, atLogicalIndex: i) }
        return v
    }

    func zeros(_ shape: [Int], dtype: ElementType = .float32) throws -> MutableTensorView {
        let n = shape.reduce(1, *)
        return try mutableView([Double](repeating: 0, count: n), shape: shape, dtype: dtype)
    }
}

extension MutableTensorView {
    /// All elements in logical order.
    var allValues: [Double] { (0..<count).map { (try? value(atLogicalIndex: $0)) ?? .nan } }
}

extension TensorView {
    var allValues: [Double] { (0..<count).map { (try? value(atLogicalIndex: $0)) ?? .nan } }
}
