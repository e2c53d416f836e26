import Testing
@testable import SwiftCompress

@Suite struct PruningTensorViewTests {
    @Test func halfConversions() {
        #expect(float16Bits(from: 1.0) == 0x3C00)
        #expect(float16Bits(from: -2.0) == 0xC000)
        #expect(float16Bits(from: 65504) == 0x7BFF)
        #expect(float16Bits(from: 65520) == 0x7C00)  // rounds up to infinity
        #expect(float16Bits(from: 0x1p-24) == 0x0001)  // smallest subnormal
        #expect(float16Bits(from: 0x1p-25) == 0x0000)  // tie to even: 0
        #expect(float16Bits(from: 1 + 0x1p-11) == 0x3C00)  // tie to even, down
        #expect(float16Bits(from: 1 + 3 * 0x1p-11) == 0x3C02)  // tie to even, up
        #expect(float(fromFloat16Bits: 0x0001) == 0x1p-24)
        #expect(float(fromFloat16Bits: 0xC000) == -2)
        #expect(float(fromFloat16Bits: 0x7C00) == .infinity)
        #expect(float(fromFloat16Bits: float16Bits(from: .nan)).isNaN)
        #expect(bfloat16Bits(from: 1.0) == 0x3F80)
        #expect(bfloat16Bits(from: Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie to even
        #expect(bfloat16Bits(from: Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(float(fromBFloat16Bits: 0xC080) == -4)
        #expect(float(fromBFloat16Bits: bfloat16Bits(from: .nan)).isNaN)
        // All finite float16 values round-trip.
        for h in UInt16(0)...UInt16.max where (h & 0x7C00) != 0x7C00 {
            #expect(float16Bits(from: float(fromFloat16Bits: h)) == h)
        }
    }

    @Test func stridedReadsInLogicalOrder() throws {
        let buffers = TestBuffers()
        // Storage [[0,1,2],[3,4,5]] read as its transpose (shape [3,2], strides [1,3]).
        let base = try buffers.mutableView([0, 1, 2, 3, 4, 5] as [Float], shape: [6])
        let t = try TensorView(UnsafeRawPointer(base.pointer), shape: [3, 2], strides: [1, 3], dtype: .float32, byteCount: 24)
        #expect(t.allValues == [0, 3, 1, 4, 2, 5])
        #expect(try t.value(at: [2, 1]) == 5)
        // channels_last: logical NCHW [1, 2, 2, 2] stored NHWC.
        let nhwc = try buffers.mutableView([0, 10, 1, 11, 2, 12, 3, 13] as [Float], shape: [8])
        let cl = try TensorView(UnsafeRawPointer(nhwc.pointer), shape: [1, 2, 2, 2], strides: [8, 1, 4, 2], dtype: .float32)
        #expect(cl.allValues == [0, 1, 2, 3, 10, 11, 12, 13])
    }

    @Test func dtypesReadAndWrite() throws {
        let buffers = TestBuffers()
        for dtype in ElementType.allCases {
            let v = try buffers.mutableView([1.5, -2, 0.25], shape: [3], dtype: dtype)
            #expect(v.allValues == [1.5, -2, 0.25])
        }
    }

    @Test func validationErrors() throws {
        let buffers = TestBuffers()
        let p = UnsafeRawPointer(buffers.allocate(bytes: 64))
        #expect(throws: TensorViewError.self) { try TensorView(p, shape: [2, -1], dtype: .float32) }
        #expect(throws: TensorViewError.self) { try TensorView(p, shape: [2, 2], strides: [1], dtype: .float32) }
        #expect(throws: TensorViewError.self) { try TensorView(nil, shape: [2], dtype: .float32) }
        #expect(throws: TensorViewError.self) { try TensorView(p, shape: [17], dtype: .float32, byteCount: 64) }
        #expect(throws: TensorViewError.self) { try TensorView(p, shape: [2, 3], strides: [8, 1], dtype: .float64, byteCount: 64) }
        #expect(throws: TensorViewError.self) { try TensorView(p + 1, shape: [2], dtype: .float32) }
        #expect(throws: TensorViewError.self) { try TensorView(p, shape: [Int.max, 4], dtype: .float32) }
        _ = try TensorView(nil, shape: [0, 3], dtype: .float32)
        _ = try TensorView(p, shape: [4, 4], dtype: .float32, byteCount: 64)
        let t = try TensorView(p, shape: [2], dtype: .float32)
        #expect(throws: TensorViewError.self) { try t.value(atLogicalIndex: 2) }
        #expect(throws: TensorViewError.self) { try t.value(at: [0, 0]) }
    }
}
