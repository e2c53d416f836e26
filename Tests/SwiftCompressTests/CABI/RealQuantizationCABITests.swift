import Testing
import SwiftCompressABI

/// Real quantization, dequantization and batch-norm folding through the C ABI: these tests call
/// the functions declared in include/swiftcompress.h (imported from SwiftCompressABI, defined by
/// SwiftCompressC's @_cdecl entry points linked into the test) with C memory, and compare the
/// bytes and values written with numbers computed by hand in the comments.
@Suite struct RealQuantizationCABITests {
    /// An `sc_tensor` over memory this object owns (contiguous unless strides are given).
    final class CTensor {
        let data: UnsafeMutableRawPointer
        let count: Int
        let dims: UnsafeMutablePointer<Int64>
        let strideArray: UnsafeMutablePointer<Int64>?
        var t: sc_tensor

        init(_ values: [Double], shape: [Int], dtype: Int32 = SC_DTYPE_FLOAT32, strides: [Int]? = nil, storage: Int? = nil) {
            let n = storage ?? values.count
            count = n
            let size = dtype == SC_DTYPE_FLOAT64 ? 8 : 4
            data = .allocate(byteCount: Swift.max(n, 1) * size, alignment: 8)
            for i in 0..<n {
                let v = i < values.count ? values[i] : 0
                if dtype == SC_DTYPE_FLOAT64 { data.storeBytes(of: v, toByteOffset: i * 8, as: Double.self) } else {
                    data.storeBytes(of: Float(v), toByteOffset: i * 4, as: Float.self)
                }
            }
            dims = .allocate(capacity: Swift.max(shape.count, 1))
            for (i, s) in shape.enumerated() { dims[i] = Int64(s) }
            if let strides {
                let p = UnsafeMutablePointer<Int64>.allocate(capacity: Swift.max(strides.count, 1))
                for (i, s) in strides.enumerated() { p[i] = Int64(s) }
                strideArray = p
            } else {
                strideArray = nil
            }
            t = sc_tensor(data: data, dtype: dtype, ndim: Int32(shape.count), shape: UnsafePointer(dims),
                          strides: strideArray.map { UnsafePointer($0) })
        }

        /// The stored values in memory order (float32 storage).
        var floats: [Float] { (0..<count).map { data.load(fromByteOffset: $0 * 4, as: Float.self) } }
        /// The stored values in memory order (float64 storage).
        var doubles: [Double] { (0..<count).map { data.load(fromByteOffset: $0 * 8, as: Double.self) } }

        deinit {
            data.deallocate()
            dims.deallocate()
            strideArray?.deallocate()
        }
    }

    /// A quantization session over modules fc, fc2 with `config`.
    final class QSession {
        var handle: OpaquePointer?
        init(_ config: String) throws {
            #expect(sc_session_create(SC_MODE_QUANTIZATION, &handle) == SC_OK)
            let modules = #"[{"name": "", "type": "Net"}, {"name": "fc", "type": "Linear"}, {"name": "fc2", "type": "Linear"}]"#
            #expect(sc_session_add_modules_json(handle, modules, -1) == SC_OK)
            #expect(sc_session_set_config(handle, config, -1) == SC_OK, "\(message)")
        }
        var message: String { String(cString: sc_session_last_error(handle)) }
        deinit { sc_session_free(handle) }
    }

    static let config = """
        [{"op_names": ["fc"], "target_names": ["weight"], "quant_dtype": "int8", "quant_scheme": "symmetric"},
         {"op_names": ["fc2"], "target_names": ["weight"], "quant_dtype": "uint8", "quant_scheme": "affine"},
         {"op_names": ["fc2"], "target_names": ["bias"], "quant_dtype": "int4", "granularity": "per_channel"}]
        """

    static func bytes(_ p: UnsafeMutableRawPointer, _ n: Int) -> [UInt8] { (0..<n).map { p.load(fromByteOffset: $0, as: UInt8.self) } }

    /// int8 symmetric per tensor on [-1, 0.5, 2]: scale = 2/127 (float32), zero point 0.
    /// x = [-0.5, 0.3, 2, 3, NaN, -3]: x / scale = -31.75, 19.05, 127, 190.5, NaN, -190.5 ->
    /// [-32, 19, 127, 127, 0 (NaN -> zero point), -127], one NaN. Dequantized: q * scale, which is
    /// what sc_session_fake_quantize gives for every element but the NaN.
    @Test func int8RoundTripEqualsFakeQuantization() throws {
        let s = try QSession(Self.config)
        let w = CTensor([-1, 0.5, 2], shape: [3])
        #expect(sc_session_observe(s.handle, "fc", "weight", &w.t, SC_OBSERVER_MINMAX) == SC_OK)
        let x = CTensor([-0.5, 0.3, 2, 3, .nan, -3], shape: [2, 3])
        let q = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 1)
        defer { q.deallocate() }
        q.initializeMemory(as: UInt8.self, repeating: 0xEE, count: 8)
        var nans = 99
        #expect(sc_session_quantize(s.handle, "fc", "weight", &x.t, q, 8, SC_QSTORAGE_INT8, &nans) == SC_OK, "\(s.message)")
        #expect(Self.bytes(q, 8).map { Int8(bitPattern: $0) } == [-32, 19, 127, 127, 0, -127, -18, -18])
        #expect(nans == 1)
        let back = CTensor([], shape: [2, 3], storage: 6)
        #expect(sc_session_dequantize(s.handle, "fc", "weight", q, 6, SC_QSTORAGE_INT8, &back.t) == SC_OK)
        let step = Float(2) / 127
        #expect(back.floats == [-32 * step, 19 * step, 127 * step, 127 * step, 0, -127 * step])
        let fake = CTensor([], shape: [2, 3], storage: 6)
        #expect(sc_session_fake_quantize(s.handle, "fc", "weight", &x.t, &fake.t, nil) == SC_OK)
        let f = fake.floats
        #expect(f[4].isNaN)
        for i in [0, 1, 2, 3, 5] { #expect(f[i] == back.floats[i]) }
    }

    /// uint8 affine on [-1, 3]: scale = 4/255, zero point 64. y = [-1, 0, 1, 3, 4]:
    /// t = 64 + y / scale = 0.25, 64, 127.75, 255.25, 319 -> [0, 64, 128, 255, 255]. The same
    /// values in uint16 storage (native order); int8 storage cannot hold uint8.
    @Test func uint8AffineAndWiderStorage() throws {
        let s = try QSession(Self.config)
        let b = CTensor([0.5, 3, -1], shape: [3])
        #expect(sc_session_observe(s.handle, "fc2", "weight", &b.t, SC_OBSERVER_MINMAX) == SC_OK)
        let y = CTensor([-1, 0, 1, 3, 4], shape: [5])
        let q = UnsafeMutableRawPointer.allocate(byteCount: 10, alignment: 1)
        defer { q.deallocate() }
        q.initializeMemory(as: UInt8.self, repeating: 0, count: 10)
        #expect(sc_session_quantize(s.handle, "fc2", "weight", &y.t, q, 5, SC_QSTORAGE_UINT8, nil) == SC_OK)
        #expect(Self.bytes(q, 5) == [0, 64, 128, 255, 255])
        #expect(sc_session_quantize(s.handle, "fc2", "weight", &y.t, q, 10, SC_QSTORAGE_UINT16, nil) == SC_OK)
        #expect((0..<5).map { q.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self) } == [0, 64, 128, 255, 255])
        #expect(sc_session_quantize(s.handle, "fc2", "weight", &y.t, q, 10, SC_QSTORAGE_INT8, nil) == SC_ERROR_DTYPE)
        #expect(s.message.contains("quant_dtype") && s.message.contains("fc2.weight"))
    }

    /// int4 per channel (fc2.bias, dim 0) on [[-7, 1, 3], [14, 0, 2]]: scales 7/7 = 1 and
    /// 14/7 = 2. x = [[2.5, -0.5, 9], [-3, 5, 1]]: row 0 / 1 -> 2 (2.5 to even), -0 (-0.5 to even),
    /// 7 (clamped); row 1 / 2 -> -2 (-1.5 to even), 2 (2.5 to even), 0 (0.5 to even).
    /// Packed: bytes [0x02 | 0x00 << 4, 0x7 | 0xE << 4, 0x2 | 0x0 << 4] = [0x02, 0xE7, 0x02]
    /// (-2 = 0xE). An odd count (x's first row alone through sc_quantize, 3 values) leaves the last
    /// high nibble 0 even over 0xFF bytes.
    @Test func packedInt4PerChannelAndOddCounts() throws {
        let s = try QSession(Self.config)
        let b = CTensor([-7, 1, 3, 14, 0, 2], shape: [2, 3])
        #expect(sc_session_observe(s.handle, "fc2", "bias", &b.t, SC_OBSERVER_MINMAX) == SC_OK)
        let x = CTensor([2.5, -0.5, 9, -3, 5, 1], shape: [2, 3])
        let q = UnsafeMutableRawPointer.allocate(byteCount: 4, alignment: 1)
        defer { q.deallocate() }
        q.initializeMemory(as: UInt8.self, repeating: 0xFF, count: 4)
        #expect(sc_session_quantize(s.handle, "fc2", "bias", &x.t, q, 2, SC_QSTORAGE_INT4, nil) == SC_ERROR_INVALID_ARGUMENT)
        #expect(s.message.contains("out_bytes") && s.message.contains("3 byte"))
        #expect(Self.bytes(q, 4) == [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(sc_session_quantize(s.handle, "fc2", "bias", &x.t, q, 4, SC_QSTORAGE_INT4, nil) == SC_OK, "\(s.message)")
        #expect(Self.bytes(q, 4) == [0x02, 0xE7, 0x02, 0xFF])
        let back = CTensor([], shape: [2, 3], dtype: SC_DTYPE_FLOAT64, storage: 6)
        #expect(sc_session_dequantize(s.handle, "fc2", "bias", q, 3, SC_QSTORAGE_INT4, &back.t) == SC_OK)
        #expect(back.doubles == [2, 0, 7, -4, 4, 0])

        // The first row alone, per tensor with scale 1 and zero point 0: 3 values, 2 bytes.
        let row = CTensor([2.5, -0.5, 9], shape: [3])
        let scale = CTensor([1], shape: []), zero = CTensor([0], shape: [])
        q.initializeMemory(as: UInt8.self, repeating: 0xFF, count: 4)
        var nans = 7
        #expect(sc_quantize(&row.t, &scale.t, &zero.t, 4, 1, q, 2, SC_QSTORAGE_INT4, &nans) == SC_OK)
        #expect(Self.bytes(q, 4) == [0x02, 0x07, 0xFF, 0xFF])
        #expect(nans == 0)
        // One value: one byte, high nibble 0.
        let one = CTensor([-1], shape: [1])
        #expect(sc_quantize(&one.t, &scale.t, &zero.t, 4, 1, q, 1, SC_QSTORAGE_INT4, nil) == SC_OK)
        #expect(Self.bytes(q, 2) == [0x0F, 0x07])
        var size = 0
        #expect(sc_qstorage_bytes(SC_QSTORAGE_INT4, 3, &size) == SC_OK && size == 2)
        #expect(sc_qstorage_bytes(SC_QSTORAGE_UINT16, 3, &size) == SC_OK && size == 6)
    }

    /// Explicit parameters, blocks from the scale's shape: uint4 with scale [[0.5], [0.25]] and
    /// zero points [[3], [8]] on a [2, 2] x = [[-1, 6.1], [0.3, -3]]: t = 3 + 2x = 1, 15.2 -> 1,
    /// 15; t = 8 + 4x = 9.2, -4 -> 9, 0. Bytes [0xF1, 0x09]. Dequantized: (q - zp) * scale =
    /// [-1, 6, 0.25, -2]. x given transposed in memory (strides [1, 2]) gives the same bytes.
    @Test func explicitParametersAndStridedInput() throws {
        let x = CTensor([-1, 0.3, 6.1, -3], shape: [2, 2], strides: [1, 2])
        let scale = CTensor([0.5, 0.25], shape: [2, 1]), zero = CTensor([3, 8], shape: [2, 1], dtype: SC_DTYPE_FLOAT64)
        let q = UnsafeMutableRawPointer.allocate(byteCount: 2, alignment: 1)
        defer { q.deallocate() }
        #expect(sc_quantize(&x.t, &scale.t, &zero.t, 4, 0, q, 2, SC_QSTORAGE_UINT4, nil) == SC_OK,
                "\(String(cString: sc_last_error()))")
        #expect(Self.bytes(q, 2) == [0xF1, 0x09])
        let back = CTensor([], shape: [2, 2], storage: 4)
        #expect(sc_dequantize(q, 2, SC_QSTORAGE_UINT4, &scale.t, &zero.t, 4, 0, &back.t) == SC_OK)
        #expect(back.floats == [-1, 6, 0.25, -2])
        // A zero point outside [0, 15] and a scale shape that does not divide x's are refused.
        let far = CTensor([3, 16], shape: [2, 1])
        #expect(sc_quantize(&x.t, &scale.t, &far.t, 4, 0, q, 2, SC_QSTORAGE_UINT4, nil) == SC_ERROR_QUANTIZATION)
        #expect(String(cString: sc_last_error()).contains("zero point of block 1"))
        let odd = CTensor([1, 1, 1], shape: [3, 1])
        #expect(sc_quantize(&x.t, &odd.t, &odd.t, 4, 0, q, 2, SC_QSTORAGE_UINT4, nil) == SC_ERROR_SHAPE)
    }

    /// Folding, conv and linear, against hand computation: W = [[1, 2], [3, 4]] (as a [2, 2, 1, 1]
    /// conv weight), b = [0.5, -1], gamma = [2, 0.5], beta = [1, 0], mean = [0.5, 1],
    /// var = [3, 15], eps = 1 -> r = [0.5, 0.25], gamma * r = [1, 0.125];
    /// W' = [[1, 2], [0.375, 0.5]], b' = [(0 * 0.5) * 2 + 1, (-2 * 0.25) * 0.5 + 0] = [1, -0.25].
    /// eps = 1e-5 with var = [0.25, 4]: r = 1 / sqrt(var + eps) in float32, checked per element
    /// against the same float32 operations in NNI's order.
    @Test func foldBatchNorm() throws {
        let w = CTensor([1, 2, 3, 4], shape: [2, 2, 1, 1]), b = CTensor([0.5, -1], shape: [2])
        let gamma = CTensor([2, 0.5], shape: [2]), beta = CTensor([1, 0], shape: [2])
        let mean = CTensor([0.5, 1], shape: [2]), variance = CTensor([3, 15], shape: [2])
        let fw = CTensor([], shape: [2, 2, 1, 1], storage: 4), fb = CTensor([], shape: [2], dtype: SC_DTYPE_FLOAT64, storage: 2)
        #expect(sc_fold_batch_norm(SC_FOLD_CONV, &w.t, &b.t, &gamma.t, &beta.t, &mean.t, &variance.t, 1, &fw.t, &fb.t) == SC_OK)
        #expect(fw.floats == [1, 2, 0.375, 0.5])
        #expect(fb.doubles == [1, -0.25])

        let v2 = CTensor([0.25, 4], shape: [2])
        for layer in [SC_FOLD_CONV, SC_FOLD_LINEAR] {
            #expect(sc_fold_batch_norm(layer, &w.t, &b.t, &gamma.t, &beta.t, &mean.t, &v2.t, 1e-5, &fw.t, &fb.t) == SC_OK)
            let eps = Float(1e-5)
            let g: [Float] = [2, 0.5], bb: [Float] = [0.5, -1], m: [Float] = [0.5, 1], v: [Float] = [0.25, 4], be: [Float] = [1, 0]
            var wantW: [Float] = [], wantB: [Double] = []
            for c in 0..<2 {
                let r = 1 / (v[c] + eps).squareRoot()
                let factor = g[c] * r
                wantW += [Float(1 + 2 * c) * factor, Float(2 + 2 * c) * factor]
                let nb: Float = layer == SC_FOLD_CONV ? ((bb[c] - m[c]) * r) * g[c] + be[c] : (bb[c] - m[c]) * factor + be[c]
                wantB.append(Double(nb))
            }
            #expect(fw.floats == wantW)
            #expect(fb.doubles == wantB)
        }
        // A layer code out of range.
        #expect(sc_fold_batch_norm(7, &w.t, &b.t, &gamma.t, &beta.t, &mean.t, &variance.t, 1, &fw.t, &fb.t) == SC_ERROR_INVALID_ARGUMENT)
        #expect(String(cString: sc_last_error()).contains("layer is 7"))
    }

    /// Fuzzing found these (fuzz/regressions/qfree/quantize-scale-underflows-in-float32): a float64
    /// scale that is > 0 and finite as given but 0 or infinite in float32 was accepted and gave NaN
    /// outputs with SC_OK. It is refused now, naming the block, and the caller's buffer is unchanged.
    @Test func explicitScalesAreCheckedInTheComputePrecision() throws {
        let x = CTensor([0, 1, -1, 0.5], shape: [4])
        let zero = CTensor([3], shape: [], dtype: SC_DTYPE_FLOAT64)
        for bad in [1e-300, 1e300] {
            let scale = CTensor([bad], shape: [], dtype: SC_DTYPE_FLOAT64)
            var q: [UInt8] = [7, 7, 7, 7]
            var nans = 99
            let status = q.withUnsafeMutableBytes { sc_quantize(&x.t, &scale.t, &zero.t, 2, 0, $0.baseAddress, 4, SC_QSTORAGE_UINT8, &nans) }
            #expect(status == SC_ERROR_QUANTIZATION)
            #expect(String(cString: sc_last_error()).contains("in float32"), "\(String(cString: sc_last_error()))")
            #expect(q == [7, 7, 7, 7] && nans == 99)
            let out = CTensor([9, 9, 9, 9], shape: [4])
            let qs: [UInt8] = [3, 4, 2, 3]
            let st = qs.withUnsafeBytes { sc_dequantize($0.baseAddress, 4, SC_QSTORAGE_UINT8, &scale.t, &zero.t, 2, 0, &out.t) }
            #expect(st == SC_ERROR_QUANTIZATION)
            #expect(out.floats == [9, 9, 9, 9])
        }
        // In float64 the same scale is usable: q = round(3 + x / 1e-300) clamps to [0, 3].
        let x64 = CTensor([0, 1, -1, 0.5], shape: [4], dtype: SC_DTYPE_FLOAT64)
        let tiny = CTensor([1e-300], shape: [], dtype: SC_DTYPE_FLOAT64)
        var q: [UInt8] = [7, 7, 7, 7]
        let status = q.withUnsafeMutableBytes { sc_quantize(&x64.t, &tiny.t, &zero.t, 2, 0, $0.baseAddress, 4, SC_QSTORAGE_UINT8, nil) }
        #expect(status == SC_OK)
        #expect(q == [3, 3, 0, 3])
    }

    /// Fuzzing found this (fuzz/regressions/quantization/observe-view-of-2pow63-bytes): a view of
    /// 2^63 bytes that does not wrap the address space was accepted and trapped on an overflow in
    /// the observer. Views spanning more than 2^48 bytes are refused; a broadcast batch with more
    /// blocks than distinct elements too.
    @Test func hugeAndBroadcastViewsAreRefused() throws {
        var s: OpaquePointer?
        #expect(sc_session_create(SC_MODE_QUANTIZATION, &s) == SC_OK)
        defer { sc_session_free(s) }
        #expect(sc_session_add_module(s, "q0", "Linear", nil, 0) == SC_OK)
        #expect(sc_session_set_config(s, #"[{"op_names": ["q0"], "granularity": [2], "quant_dtype": "int8"}]"#, -1) == SC_OK)
        let buf = UnsafeMutablePointer<UInt16>.allocate(capacity: 32)
        defer { buf.deallocate() }
        buf.initialize(repeating: 0x3c00, count: 32)  // 1.0 in float16
        var shape: [Int64] = [1 << 62]
        var status = shape.withUnsafeBufferPointer { sh in
            var x = sc_tensor(data: buf, dtype: SC_DTYPE_FLOAT16, ndim: 1, shape: sh.baseAddress, strides: nil)
            return sc_session_observe(s, "q0", "weight", &x, SC_OBSERVER_MINMAX)
        }
        #expect(status == SC_ERROR_SHAPE)
        #expect(String(cString: sc_session_last_error(s)).contains("more than 2^48 bytes"), "\(String(cString: sc_session_last_error(s)))")
        // Stride 0: 2^50 elements over one float16 value.
        shape = [1 << 50]
        var zeroStride: [Int64] = [0]
        status = shape.withUnsafeBufferPointer { sh in
            zeroStride.withUnsafeBufferPointer { st in
                var x = sc_tensor(data: buf, dtype: SC_DTYPE_FLOAT16, ndim: 1, shape: sh.baseAddress, strides: st.baseAddress)
                return sc_session_observe(s, "q0", "weight", &x, SC_OBSERVER_MINMAX)
            }
        }
        #expect(status == SC_ERROR_SHAPE)
        #expect(String(cString: sc_session_last_error(s)).contains("addresses 1 distinct elements but its granularity asks for 562949953421312 blocks"),
                "\(String(cString: sc_session_last_error(s)))")
        // Stride 0 within the bounds, but 8 blocks of 2 over one distinct element.
        shape = [16]
        status = shape.withUnsafeBufferPointer { sh in
            zeroStride.withUnsafeBufferPointer { st in
                var x = sc_tensor(data: buf, dtype: SC_DTYPE_FLOAT16, ndim: 1, shape: sh.baseAddress, strides: st.baseAddress)
                return sc_session_observe(s, "q0", "weight", &x, SC_OBSERVER_MINMAX)
            }
        }
        #expect(status == SC_ERROR_SHAPE)
        #expect(String(cString: sc_session_last_error(s)).contains("8 blocks"), "\(String(cString: sc_session_last_error(s)))")
        // The same 16 values as a real buffer: observed.
        shape = [16]
        status = shape.withUnsafeBufferPointer { sh in
            var x = sc_tensor(data: buf, dtype: SC_DTYPE_FLOAT16, ndim: 1, shape: sh.baseAddress, strides: nil)
            return sc_session_observe(s, "q0", "weight", &x, SC_OBSERVER_MINMAX)
        }
        #expect(status == SC_OK, "\(String(cString: sc_session_last_error(s)))")
    }
}
