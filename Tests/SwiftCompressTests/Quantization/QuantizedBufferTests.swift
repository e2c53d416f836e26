import Testing
@testable import SwiftCompress

/// Real quantization into int8 / uint8 / int16 / packed 4-bit buffers (nibble order by hand),
/// dequantization, NaN handling, storage checks, and the parallel path.
@Suite struct QuantizedBufferTests {
    func bytes(_ q: QuantizedBuffer) -> [UInt8] {
        guard let p = q.pointer else { return [] }
        return (0..<q.storage.byteCount(forValues: q.count)).map { p.load(fromByteOffset: $0, as: UInt8.self) }
    }

    func buffer(_ b: TestBuffers, _ count: Int, _ storage: QuantizedStorage, fill: UInt8 = 0xAA) throws -> QuantizedBuffer {
        let n = storage.byteCount(forValues: count)
        let raw = b.allocate(bytes: n)
        for k in 0..<n { raw.storeBytes(of: fill, toByteOffset: k, as: UInt8.self) }
        return try QuantizedBuffer(raw, count: count, storage: storage, byteCount: n)
    }

    @Test func packedInt4NibbleOrder() throws {
        let b = TestBuffers()
        let s = QuantizationSettings(target: "m.weight", role: .parameter, dtype: .int4)
        let p = try QuantParameters(scale: [1], zeroPoint: [0], scaleShape: [], settings: s)
        let q = try buffer(b, 5, .int4)
        let nans = try Quantization.quantize(try b.view([-7, 7, 0, 1, -1], shape: [5]), into: q, parameters: p, settings: s)
        #expect(nans == 0)
        // value 2k in the low nibble of byte k, value 2k+1 in the high nibble; two's complement;
        // the unused high nibble of the last byte is 0.
        #expect(bytes(q) == [0x79, 0x10, 0x0F])
        #expect(try (0..<5).map { try q.readOnly.value(at: $0) } == [-7, 7, 0, 1, -1])
        let back = try b.zeros([5])
        try Quantization.dequantize(q.readOnly, into: back, parameters: p, settings: s)
        #expect(back.allValues == [-7, 7, 0, 1, -1])

        let u = QuantizationSettings(target: "m.weight", role: .parameter, dtype: .uint4)
        let pu = try QuantParameters(scale: [1], zeroPoint: [8], scaleShape: [], settings: u)
        let qu = try buffer(b, 3, .uint4)
        _ = try Quantization.quantize(try b.view([-8, 7, -5], shape: [3]), into: qu, parameters: pu, settings: u)
        #expect(bytes(qu) == [0xF0, 0x03])  // 0, 15, 3
    }

    @Test func bytesOfEachStorage() throws {
        let b = TestBuffers()
        let x = try b.view([-1.5, 0.2, 2.5, 300], shape: [4])
        let s8 = QuantizationSettings(target: "m.weight", role: .parameter)
        let p8 = try QuantParameters(scale: [0.5], zeroPoint: [0], scaleShape: [], settings: s8)
        let q8 = try buffer(b, 4, .int8)
        _ = try Quantization.quantize(x, into: q8, parameters: p8, settings: s8)
        #expect(bytes(q8) == [0xFD, 0x00, 0x05, 0x7F])  // -3, 0 (0.4), 5, 127

        let su = QuantizationSettings(target: "m.weight", role: .parameter, dtype: .uint8)
        let pu = try QuantParameters(scale: [0.5], zeroPoint: [128], scaleShape: [], settings: su)
        let qu = try buffer(b, 4, .uint8)
        _ = try Quantization.quantize(x, into: qu, parameters: pu, settings: su)
        #expect(bytes(qu) == [125, 128, 133, 255])

        let s16 = try quantSettings("m.weight", [("quant_dtype", "int16")])
        let p16 = try QuantParameters(scale: [0.001], zeroPoint: [0], scaleShape: [], settings: s16)
        let q16 = try buffer(b, 4, .int16)
        _ = try Quantization.quantize(x, into: q16, parameters: p16, settings: s16)
        #expect(try (0..<4).map { try q16.readOnly.value(at: $0) } == [-1500, 200, 2500, 32767])
        // int4 dtype in int8 storage works too (the range fits).
        let s4 = QuantizationSettings(target: "m.weight", role: .parameter, dtype: .int4)
        let p4 = try QuantParameters(scale: [1], zeroPoint: [0], scaleShape: [], settings: s4)
        let q48 = try buffer(b, 4, .int8)
        _ = try Quantization.quantize(x, into: q48, parameters: p4, settings: s4)
        #expect(bytes(q48) == [0xFE, 0x00, 0x02, 0x07])  // -2 (tie to even), 0, 2 (tie), 7
    }

    @Test func nanBecomesTheZeroPointAndIsCounted() throws {
        let b = TestBuffers()
        let s = QuantizationSettings(target: "m._input_0", role: .activation, dtype: .uint8)
        let p = try QuantParameters(scale: [1], zeroPoint: [128], scaleShape: [], settings: s)
        let q = try buffer(b, 3, .uint8)
        let nans = try Quantization.quantize(try b.view([.nan, 1, .nan], shape: [3]), into: q, parameters: p, settings: s)
        #expect(nans == 2 && bytes(q) == [128, 129, 128])
    }

    @Test func storageErrors() throws {
        let b = TestBuffers()
        let s = QuantizationSettings(target: "m.weight", role: .parameter, dtype: .uint8)
        let p = try QuantParameters(scale: [1], zeroPoint: [128], scaleShape: [], settings: s)
        let x = try b.view([1, 2], shape: [2])
        #expect(throws: QuantizationError(.unsupportedStorage, target: "m.weight", key: "quant_dtype",
                                          "uint8 values [0, 255] do not fit int8 storage [-128, 127]; use uint8")) {
            _ = try Quantization.quantize(x, into: try buffer(b, 2, .int8), parameters: p, settings: s)
        }
        #expect(throws: QuantizationError(.shapeMismatch, target: "m.weight", "quantized buffer holds 3 value(s), the tensor of shape [2] has 2")) {
            _ = try Quantization.quantize(x, into: try buffer(b, 3, .uint8), parameters: p, settings: s)
        }
        #expect(throws: TensorViewError("5 int4 values need 3 bytes but the buffer has 2")) {
            _ = try QuantizedBuffer(b.allocate(bytes: 2), count: 5, storage: .int4, byteCount: 2)
        }
        #expect(throws: TensorViewError("null pointer for a quantized buffer of 1 values")) {
            _ = try QuantizedView(nil, count: 1, storage: .uint8)
        }
        #expect(QuantizedStorage.smallest(for: .int8) == .int8 && QuantizedStorage.smallest(for: .uint4) == .uint4)
        #expect(QuantizedStorage.smallest(for: QuantDType(isSigned: true, bits: 3) ?? .int8) == .int4)
        #expect(QuantizedStorage.smallest(for: QuantDType(isSigned: false, bits: 12) ?? .int8) == .uint16)
        #expect(QuantizedStorage.int8.canHold(.int8) && !QuantizedStorage.int8.canHold(.uint8) && QuantizedStorage.uint8.canHold(.uint4))
    }

    /// Per-channel int4 over an odd count with odd rows (nibbles of one byte from two channels),
    /// in parallel parts, against a scalar reference; dequantization equals fake quantization.
    @Test func parallelPackedPerChannel() throws {
        let rows = 3, cols = 33_335
        let n = rows * cols
        var values = [Float](repeating: 0, count: n)
        var state: UInt32 = 7
        for i in 0..<n {
            state = state &* 1_664_525 &+ 1_013_904_223
            values[i] = Float(Int32(bitPattern: state) >> 8) / 524_288
        }
        let b = TestBuffers()
        let s = QuantizationSettings(target: "m.weight", role: .parameter, dtype: .int4, granularity: .perChannel)
        let x = try b.view(values, shape: [rows, cols])
        var o = QuantObserver()
        try o.observe(x, settings: s)
        let p = try o.parameters(settings: s)
        let q = try buffer(b, n, .int4)
        #expect(try Quantization.quantize(x, into: q, parameters: p, settings: s) == 0)
        var wrong = 0
        for i in stride(from: 0, to: n, by: 1) {
            let r = i / cols
            let t = Float(p.zeroPoint[r]) + values[i] / Float(p.scale[r])
            let e = Int(Swift.min(Swift.max(t, -7), 7).rounded(.toNearestOrEven))
            if try q.readOnly.value(at: i) != e { wrong += 1 }
        }
        #expect(wrong == 0)
        let back = try b.zeros([rows, cols]), fake = try b.zeros([rows, cols])
        try Quantization.dequantize(q.readOnly, into: back, parameters: p, settings: s)
        try Quantization.fakeQuantize(x, into: fake, parameters: p, settings: s)
        #expect(back.allValues == fake.allValues)
    }
}
