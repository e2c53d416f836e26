import Testing
@testable import SwiftCompress

/// Scales and zero points computed by hand, fake quantization per channel and per block, the
/// gradient mask, apply methods, in place / strided / 16-bit / float64 buffers, errors, and the
/// multi-threaded path against a scalar reference.
@Suite struct FakeQuantizationTests {
    @Test func scaleAndZeroPointByHand() throws {
        func p(_ lo: Double, _ hi: Double, _ dtype: String, _ scheme: String) throws -> (Double, Double) {
            let s = try quantSettings("m.weight", [("quant_dtype", .string(dtype)), ("quant_scheme", .string(scheme))])
            let q = try QuantParameters(trackedMin: [lo], trackedMax: [hi], scaleShape: [], settings: s)
            return (q.scale[0], q.zeroPoint[0])
        }
        // symmetric: max(|min|, |max|) / ((qmax - qmin) / 2); zp = (qmax + qmin + 1) div 2
        #expect(try p(-1, 2, "int8", "symmetric") == (Double(Float(2) / 127), 0))
        #expect(try p(-1, 2, "uint8", "symmetric") == (Double(Float(2) / 127.5), 128))
        #expect(try p(-3, 1, "int4", "symmetric") == (Double(Float(3) / 7), 0))
        #expect(try p(0.5, 1, "uint4", "symmetric") == (Double(Float(1) / 7.5), 8))
        #expect(try p(0, 0, "int8", "symmetric") == (Double(Float.ulpOfOne), 0))  // at least eps
        // affine: min <= 0 <= max; scale = (max - min) / (qmax - qmin); zp = qmin - round(min / scale)
        #expect(try p(-1, 2, "uint8", "affine") == (Double(Float(3) / 255), Double(0 - (Float(-1) / (Float(3) / 255)).rounded(.toNearestOrEven))))
        #expect(try p(-1, 2, "uint8", "affine").1 == 85)
        #expect(try p(0.5, 3, "uint8", "affine") == (Double(Float(3) / 255), 0))  // min widened to 0
        #expect(try p(-2, -1, "uint8", "affine") == (Double(Float(2) / 255), 255))  // max widened to 0
        #expect(try p(-2, -1, "int8", "affine") == (Double(Float(2) / 254), 127))
        #expect(try p(0, 0, "uint8", "affine") == (Double(Float.ulpOfOne), 0))
    }

    @Test func parametersValidation() throws {
        let s = try quantSettings("m.weight", [("quant_dtype", "uint8")])
        func message(_ scale: [Double], _ zp: [Double], _ shape: [Int] = [1]) -> String {
            do {
                _ = try QuantParameters(scale: scale, zeroPoint: zp, scaleShape: shape, settings: s)
                Issue.record("expected an error")
                return ""
            } catch { return error.description }
        }
        #expect(message([0], [0]) == "m.weight: scale of block 0 is 0.0; expected a finite number > 0")
        #expect(message([.nan], [0]) == "m.weight: scale of block 0 is nan; expected a finite number > 0")
        #expect(message([1], [1.5]) == "m.weight: zero point of block 0 is 1.5; expected an integer in [0, 255] (uint8)")
        #expect(message([1], [256]) == "m.weight: zero point of block 0 is 256.0; expected an integer in [0, 255] (uint8)")
        #expect(message([1, 1], [0], [2]) == "m.weight: scale shape [2] has 2 element(s), but 2 scale(s) and 1 zero point(s) were given")
        #expect(throws: QuantizationError(.shapeMismatch, target: "m.weight", "scale shape [] has 1 element(s), but 2 tracked min and 2 tracked max values were given")) {
            _ = try QuantParameters(trackedMin: [0, 1], trackedMax: [1, 2], scaleShape: [], settings: s)
        }
        #expect(throws: QuantizationError(.shapeMismatch, target: "m.weight", "scale shape [-1] has an invalid number of element(s), but 1 tracked min and 1 tracked max values were given")) {
            _ = try QuantParameters(trackedMin: [0], trackedMax: [1], scaleShape: [-1], settings: s)
        }
        // max - min overflows float32: no infinite scale comes out.
        var affine = s
        affine.scheme = .affine
        #expect(throws: QuantizationError(.invalidParameters, target: "m.weight", "tracked range of block 0 is [-3e+38, 3e+38]; its scale is not finite in float32")) {
            _ = try QuantParameters(trackedMin: [-3e38], trackedMax: [3e38], scaleShape: [], settings: affine)
        }
        #expect(try QuantParameters(trackedMin: [-3e38], trackedMax: [3e38], scaleShape: [], settings: affine, precision: .float64).scale == [6e38 / 255])
    }

    /// Per channel of a [2, 4] weight: scales 0.5 and 0.25 (int8, zp 0), by hand.
    @Test func perChannelByHand() throws {
        let b = TestBuffers()
        let s = QuantizationSettings(target: "fc.weight", role: .parameter, granularity: .perChannel)
        let p = try QuantParameters(scale: [0.5, 0.25], zeroPoint: [0, 0], scaleShape: [2, 1], settings: s)
        let x = try b.view([0.3, -0.74, 100, 0.25, 0.3, -0.74, 100, 0.125], shape: [2, 4])
        let out = try b.zeros([2, 4]), mask = try b.zeros([2, 4])
        var qat = s
        qat.applyMethod = .qatClampRound
        try Quantization.apply(x, into: out, parameters: p, settings: qat, gradientMask: mask)
        // row 0: 0.3/0.5 = 0.6 -> 1 -> 0.5; -1.48 -> -1 -> -0.5; 200 -> 127 -> 63.5; 0.5 -> 0 (tie, even) -> 0
        // row 1: 1.2 -> 1 -> 0.25; -2.96 -> -3 -> -0.75; 400 -> 127 -> 31.75; 0.5 -> 0 -> 0
        #expect(out.allValues == [0.5, -0.5, 63.5, 0, 0.25, -0.75, 31.75, 0])
        #expect(mask.allValues == [1, 1, 0, 1, 1, 1, 0, 1])

        // Activation per channel (dim 1) of a [2, 2, 2]: channel scales 1 and 2, uint8 affine zp 10 and 0.
        let a = QuantizationSettings(target: "conv._input_0", role: .activation, dtype: .uint8, scheme: .affine, granularity: .perChannel)
        let pa = try QuantParameters(scale: [1, 2], zeroPoint: [10, 0], scaleShape: [1, 2, 1], settings: a)
        let xa = try b.view([-12, 3.4, 5, -1, 0.5, 1.5, 2.9, 1000], shape: [2, 2, 2])
        let oa = try b.zeros([2, 2, 2])
        try Quantization.fakeQuantize(xa, into: oa, parameters: pa, settings: a)
        // channel 0 (zp 10, scale 1): -12 -> -2 clamps to 0 -> -10; 3.4 -> 13 -> 3; 0.5 -> 10.5 -> 10 -> 0; 1.5 -> 11.5 -> 12 -> 2
        // channel 1 (zp 0, scale 2): 5 -> 2.5 -> 2 -> 4; -1 -> -0.5 -> clamp 0 -> 0; 2.9 -> 1.45 -> 1 -> 2; 1000 -> 255 -> 510
        #expect(oa.allValues == [-10, 3, 4, 0, 0, 2, 2, 510])
    }

    @Test func blocksByHand() throws {
        let b = TestBuffers()
        // [2, 4] with blocks [1, 2]: scales 1, 2 (row 0), 4, 8 (row 1); int4 symmetric.
        let s = QuantizationSettings(target: "fc.weight", role: .parameter, dtype: .int4, granularity: .blocks([1, 2]))
        let p = try QuantParameters(scale: [1, 2, 4, 8], zeroPoint: [0, 0, 0, 0], scaleShape: [2, 2], settings: s)
        let out = try b.zeros([2, 4])
        try Quantization.fakeQuantize(try b.view([2.5, 9, 3, -3, 13, 100, -20, 7], shape: [2, 4]), into: out, parameters: p, settings: s)
        // 2.5 -> 2; 9 -> 7 (clamp) -> 7; 3/2 = 1.5 -> 2 -> 4; -1.5 -> -2 -> -4; 13/4 = 3.25 -> 3 -> 12; 25 -> 7 -> 28; -2.5 -> -2 -> -16; 0.875 -> 1 -> 8
        #expect(out.allValues == [2, 7, 4, -4, 12, 28, -16, 8])
    }

    @Test func applyMethods() throws {
        let b = TestBuffers()
        var s = QuantizationSettings(target: "m._output_0", role: .activation)
        let p = try QuantParameters(scale: [0.5], zeroPoint: [0], scaleShape: [], settings: s)
        let x = try b.view([0.26, 100, -0.3], shape: [3])
        let out = try b.zeros([3]), mask = try b.zeros([3])
        s.applyMethod = .bypass
        try Quantization.apply(x, into: out, parameters: nil, settings: s, gradientMask: mask)
        #expect(out.allValues == [Double(Float(0.26)), 100, Double(Float(-0.3))] && mask.allValues == [1, 1, 1])
        s.applyMethod = .clampRound
        try Quantization.apply(x, into: out, parameters: p, settings: s, gradientMask: mask)
        #expect(out.allValues == [0.5, 63.5, -0.5] && mask.allValues == [1, 1, 1])  // straight through
        s.applyMethod = .qatClampRound
        try Quantization.apply(x, into: out, parameters: p, settings: s, gradientMask: mask)
        #expect(out.allValues == [0.5, 63.5, -0.5] && mask.allValues == [1, 0, 1])
        #expect(throws: QuantizationError(.invalidParameters, target: "m._output_0", key: "apply_method",
                                          "'qat_clamp_round' needs a scale and a zero point; none were given (observe batches and compute them first)")) {
            try Quantization.apply(x, into: out, parameters: nil, settings: s)
        }
    }

    @Test func layoutsAndDtypes() throws {
        let b = TestBuffers()
        let s = QuantizationSettings(target: "m.weight", role: .parameter, granularity: .perChannel)
        let p = try QuantParameters(scale: [0.1, 0.2], zeroPoint: [0, 0], scaleShape: [2, 1], settings: s)
        let values: [Double] = [0.33, -0.77, 1.01, 0.5, -0.09, 12.3]
        // Reference: contiguous float32.
        let ref = try b.zeros([2, 3])
        try Quantization.fakeQuantize(try b.mutableView(values, shape: [2, 3], dtype: .float32).readOnly, into: ref, parameters: p, settings: s)
        let expected = (0..<6).map { i in Double(referenceFakeQuant(Float(values[i]), scale: i < 3 ? Float(0.1) : Float(0.2), zeroPoint: 0, qmin: -127, qmax: 127)) }
        #expect(ref.allValues == expected)
        // Column-major input and output views, in place.
        let cm = try b.mutableView(values, shape: [2, 3], strides: [1, 2], dtype: .float32)
        try Quantization.fakeQuantize(inPlace: cm, parameters: p, settings: s)
        #expect(cm.allValues == expected)
        // float16 in, float16 out: computed in float32, rounded once when stored.
        let h = try b.mutableView(values, shape: [2, 3], dtype: .float16)
        let hin = h.readOnly.allValues
        try Quantization.fakeQuantize(inPlace: h, parameters: p, settings: s)
        let hexpected = (0..<6).map { i in
            Double(float(fromFloat16Bits: float16Bits(from: referenceFakeQuant(Float(hin[i]), scale: i < 3 ? Float(0.1) : Float(0.2), zeroPoint: 0, qmin: -127, qmax: 127))))
        }
        #expect(h.allValues == hexpected)
        // float64: computed in double.
        let d = try b.mutableView(values, shape: [2, 3], dtype: .float64)
        try Quantization.fakeQuantize(inPlace: d, parameters: p, settings: s)
        let dexpected: [Double] = (0..<6).map { i in
            let sc = i < 3 ? 0.1 : 0.2
            return (Swift.min(Swift.max(values[i] / sc, -127), 127)).rounded(.toNearestOrEven) * sc
        }
        #expect(d.allValues == dexpected)
        #expect(d.allValues[0] != expected[0])  // 3 * 0.1 differs in float32 and double
        // A bfloat16 mask.
        let bm = try b.zeros([2, 3], dtype: .bfloat16)
        try Quantization.fakeQuantize(try b.view([1, 2, 3, 100, -100, 0], shape: [2, 3]), into: ref, parameters: p, settings: s, gradientMask: bm)
        #expect(bm.allValues == [1, 1, 1, 0, 0, 1])  // 100 / 0.2 and -100 / 0.2 are clamped
    }

    @Test func errors() throws {
        let b = TestBuffers()
        let s = QuantizationSettings(target: "m.weight", role: .parameter, granularity: .perChannel)
        let p = try QuantParameters(scale: [0.1, 0.2], zeroPoint: [0, 0], scaleShape: [2, 1], settings: s)
        let x = try b.view([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(throws: QuantizationError(.shapeMismatch, target: "m.weight", "output has shape [3, 2], the target [2, 3]")) {
            try Quantization.fakeQuantize(x, into: try b.zeros([3, 2]), parameters: p, settings: s)
        }
        #expect(throws: QuantizationError(.shapeMismatch, target: "m.weight", "gradient mask has shape [6], the target [2, 3]")) {
            try Quantization.fakeQuantize(x, into: try b.zeros([2, 3]), parameters: p, settings: s, gradientMask: try b.zeros([6]))
        }
        #expect(throws: QuantizationError(.shapeMismatch, target: "m.weight", "2 scale(s) (scale shape [2, 1]) for a target of shape [3, 2] with 3 block(s) (scale shape [3, 1])")) {
            try Quantization.fakeQuantize(try b.view([1, 2, 3, 4, 5, 6], shape: [3, 2]), into: try b.zeros([3, 2]), parameters: p, settings: s)
        }
        var other = s
        other.dtype = .uint8
        #expect(throws: QuantizationError(.invalidParameters, target: "m.weight", key: "quant_dtype", "scale and zero point were computed for int8, the settings say uint8")) {
            try Quantization.fakeQuantize(x, into: try b.zeros([2, 3]), parameters: p, settings: other)
        }
        let out = try b.mutableView([7, 7, 7, 7, 7, 7], shape: [3, 2], dtype: .float32)
        _ = try? Quantization.fakeQuantize(x, into: out, parameters: p, settings: s)
        #expect(out.allValues == [7, 7, 7, 7, 7, 7])  // nothing written on error
    }

    /// Large tensors (parallel parts, SIMD bodies and scalar tails) equal the scalar reference.
    @Test func parallelPathEqualsReference() throws {
        let rows = 5, cols = 40_003
        let n = rows * cols
        var values = [Float](repeating: 0, count: n)
        var state: UInt32 = 99
        for i in 0..<n {
            state = state &* 1_664_525 &+ 1_013_904_223
            values[i] = Float(Int32(bitPattern: state) >> 8) / 1_048_576
        }
        values[3] = .nan
        values[70_000] = .infinity
        let s = QuantizationSettings(target: "m.weight", role: .parameter, dtype: .uint8, scheme: .affine, granularity: .perChannel)
        var o = QuantObserver()
        let b = TestBuffers()
        let x = try b.view(values, shape: [rows, cols])
        var clean = values
        clean[3] = 0
        clean[70_000] = 0
        try o.observe(try b.view(clean, shape: [rows, cols]), settings: s)
        let p = try o.parameters(settings: s)
        let out = try b.zeros([rows, cols]), mask = try b.zeros([rows, cols])
        try Quantization.fakeQuantize(x, into: out, parameters: p, settings: s, gradientMask: mask)
        let got = quantFloats(out), gotMask = quantFloats(mask)
        var mismatches = 0
        for i in 0..<n {
            let r = i / cols
            let sc = Float(p.scale[r]), zp = Float(p.zeroPoint[r])
            let e = referenceFakeQuant(values[i], scale: sc, zeroPoint: zp, qmin: 0, qmax: 255)
            let t = zp + values[i] / sc
            let em: Float = (t < 0 || t > 255) ? 0 : 1
            if bits([got[i]]) != bits([e]) || gotMask[i] != em { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(got[3].isNaN && gotMask[3] == 1 && gotMask[70_000] == 0)
    }
}
