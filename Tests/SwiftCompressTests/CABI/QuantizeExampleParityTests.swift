import Foundation
import Testing
@testable import SwiftCompress

/// examples/c/quantize_mlp.c calibrates a tiny MLP through the C ABI (sc_session_observe,
/// sc_session_quant_params, sc_session_fake_quantize) and prints each target's scale shape, tracked
/// range, scales, zero points and largest fake-quantization error; tests/c/run.sh diffs that with
/// examples/c/expected/quantize_mlp.txt. This test computes the same text through the Swift API
/// (`Plan` + `QuantizationSettings` + `QuantObserver` + `Quantization.apply`, and for the real
/// quantization lines `Quantization.quantize` / `dequantize`), so what the C ABI writes equals the
/// Swift API's, and checks the scales and int4 bytes against the formulas computed here directly.
@Suite struct QuantizeExampleParityTests {
    static let batch = 4, inputs = 8, hidden = 16, outputs = 4, batches = 3
    static let modules = """
        [{"name": "", "type": "MLP"}, {"name": "fc1", "type": "Linear"},
         {"name": "relu", "type": "ReLU"}, {"name": "fc2", "type": "Linear"}]
        """
    static let config = """
        [{"op_names": ["fc1", "fc2"], "target_names": ["weight"], "quant_dtype": "int8",
          "quant_scheme": "symmetric", "granularity": "per_channel"},
         {"op_names": ["fc1", "fc2"], "target_names": ["_input_"], "quant_dtype": "uint8",
          "quant_scheme": "affine", "apply_method": "qat_clamp_round"}]
        """

    struct Data {
        var w1: [Float], w2: [Float], x: [[Float]], a2: [[Float]]
    }

    /// The example's LCG values (seed 7) and fc2's inputs relu(x @ w1^T), accumulated in Double.
    static func data() -> Data {
        var lcg = ExamplesParityTests.LCG(state: 7)
        func fill(_ n: Int) -> [Float] { (0..<n).map { _ in Float(lcg.float24()) } }
        let w1 = fill(hidden * inputs), w2 = fill(outputs * hidden)
        let x = (0..<batches).map { _ in fill(batch * inputs) }
        let a2 = x.map { xb in
            (0..<batch * hidden).map { idx -> Float in
                let i = idx / hidden, o = idx % hidden
                var acc = 0.0
                for k in 0..<inputs { acc += Double(w1[o * inputs + k]) * Double(xb[i * inputs + k]) }
                return acc > 0 ? Float(acc) : 0
            }
        }
        return Data(w1: w1, w2: w2, x: x, a2: a2)
    }

    static func run() throws -> [String] {
        let d = data()
        let plan = try Plan(json: config, modules: ModuleInfo.list(fromJSON: modules), mode: .quantization)
        let buffers = TestBuffers()
        var lines = ["\(plan.targets.count) targets"]
        for t in plan.targets {
            let settings = try QuantizationSettings(plan: t)
            let values: [Float], shape: [Int], observed: [[Float]]
            switch (t.moduleName, t.targetName) {
            case ("fc1", "weight"): (values, shape, observed) = (d.w1, [hidden, inputs], [d.w1])
            case ("fc2", "weight"): (values, shape, observed) = (d.w2, [outputs, hidden], [d.w2])
            case ("fc1", _): (values, shape, observed) = (d.x[batches - 1], [batch, inputs], d.x)
            default: (values, shape, observed) = (d.a2[batches - 1], [batch, hidden], d.a2)
            }
            var observer = QuantObserver(kind: .minMax)
            for v in observed { try observer.observe(try buffers.view(v, shape: shape), settings: settings) }
            let p = try observer.parameters(settings: settings)
            let dt = settings.dtype
            lines.append("\(t.moduleName).\(t.targetName): \(dt) [\(dt.qmin), \(dt.qmax)], scale shape [\((observer.scaleShape ?? []).map(String.init).joined(separator: ", "))]")
            for b in 0..<p.scale.count {
                lines.append(String(format: "  block %d: range [%.9g, %.9g] scale %.9g zero point %.0f",
                                    b, observer.trackedMin[b], observer.trackedMax[b], p.scale[b], p.zeroPoint[b]))
            }
            let out = try buffers.zeros(shape), mask = try buffers.zeros(shape)
            try Quantization.apply(try buffers.view(values, shape: shape), into: out, parameters: p, settings: settings, gradientMask: mask)
            let fq = out.allValues
            let err = zip(values, fq).map { abs(Double($0) - $1) }.max() ?? 0
            let clamped = mask.allValues.filter { $0 == 0 }.count
            lines.append(String(format: "  max |x - fake_quantize(x)| = %.9g over %d values, %d clamped", err, values.count, clamped))
        }
        lines.append("real quantization of the weights (per output channel):")
        for (module, w, shape) in [("fc1", d.w1, [hidden, inputs]), ("fc2", d.w2, [outputs, hidden])] {
            for dtype in [QuantDType.int8, .int4] {
                lines += try realQuantization(module: module, weight: w, shape: shape, dtype: dtype, buffers: buffers)
            }
        }
        return lines
    }

    /// The example's real-quantization lines for one weight: per-channel symmetric settings of
    /// `dtype` (int8: the calibration config; int4: the example's second config), min/max observed
    /// once, quantized into the smallest storage, dequantized back with the observer's parameters
    /// and with the float32 scales and zero points as sc_dequantize reads them (blocks from the
    /// scale shape [rows, 1]: blocks [1, -1]).
    static func realQuantization(module: String, weight w: [Float], shape: [Int], dtype: QuantDType,
                                 buffers: TestBuffers) throws -> [String] {
        let settings = QuantizationSettings(target: module + ".weight", role: .parameter, dtype: dtype,
                                            scheme: .symmetric, granularity: .perChannel)
        let x = try buffers.view(w, shape: shape)
        var observer = QuantObserver(kind: .minMax)
        try observer.observe(x, settings: settings)
        let p = try observer.parameters(settings: settings)
        let storage = QuantizedStorage.smallest(for: dtype)
        let bytes = storage.byteCount(forValues: w.count)
        let raw = buffers.allocate(bytes: bytes)
        let q = try QuantizedBuffer(raw, count: w.count, storage: storage, byteCount: bytes)
        let nans = try Quantization.quantize(x, into: q, parameters: p, settings: settings)
        let back = try buffers.zeros(shape), fake = try buffers.zeros(shape), back2 = try buffers.zeros(shape)
        try Quantization.dequantize(q.readOnly, into: back, parameters: p, settings: settings)
        try Quantization.fakeQuantize(x, into: fake, parameters: p, settings: settings)
        var explicit = settings
        explicit.granularity = .blocks([1, -1])
        let p2 = try QuantParameters(scale: p.scale.map { Double(Float($0)) }, zeroPoint: p.zeroPoint.map { Double(Float($0)) },
                                     scaleShape: [shape[0], 1], settings: explicit)
        try Quantization.dequantize(q.readOnly, into: back2, parameters: p2, settings: explicit)
        let b = back.allValues, f = fake.allValues
        let err = zip(w, b).map { abs(Double($0) - $1) }.max() ?? 0
        let same = zip(b, f).filter { $0 == $1 }.count
        let first = (0..<8).map { String(format: " %02x", raw.load(fromByteOffset: $0, as: UInt8.self)) }.joined()
        return ["\(module).weight as \(dtype): \(w.count) values in \(bytes) bytes, first bytes" + first,
                String(format: "  max |w - dequantize(quantize(w))| = %.9g; %d of %d equal fake quantization; %d NaN; sc_dequantize %@",
                       err, same, w.count, nans, back2.allValues == b ? "agrees" : "differs")]
    }

    /// The int4 weights by hand from the LCG values: q = round_half_even(w / scale) with
    /// scale = max|w| / 7 per row (float32), packed two per byte, low nibble first.
    @Test func int4BytesFollowTheFormula() throws {
        let d = Self.data()
        var q: [Int] = []
        for o in 0..<Self.hidden {
            let row = Array(d.w1[(o * Self.inputs)..<((o + 1) * Self.inputs)])
            let scale = (row.map { abs($0) }.max() ?? 0) / 7
            q += row.map { Int(min(max(($0 / scale).rounded(.toNearestOrEven), -7), 7)) }
        }
        let first = (0..<8).map { String(format: " %02x", (q[2 * $0] & 0xf) | ((q[2 * $0 + 1] & 0xf) << 4)) }.joined()
        let text = try ExamplesParityTests.expected("quantize_mlp.txt")
        #expect(text.contains("fc1.weight as int4: 128 values in 64 bytes, first bytes" + first + "\n"))
    }

    @Test func swiftAPIPrintsTheExpectedFile() throws {
        let lines = try Self.run()
        #expect(lines.joined(separator: "\n") + "\n" == (try ExamplesParityTests.expected("quantize_mlp.txt")))
    }

    /// The scales by the formulas, computed here in Float from the LCG values: per output channel
    /// max|w| / 127 (int8 symmetric), and (max - min) / 255 with min := min(min, 0) over all batches
    /// (uint8 affine), zero point 0 - round(min / scale).
    @Test func scalesFollowTheFormulas() throws {
        let d = Self.data()
        let text = try ExamplesParityTests.expected("quantize_mlp.txt")
        for o in 0..<Self.hidden {
            let row = d.w1[(o * Self.inputs)..<((o + 1) * Self.inputs)]
            let scale = (row.map { abs($0) }.max() ?? 0) / 127
            #expect(text.contains(String(format: "  block %d: range [%.9g, %.9g] scale %.9g zero point 0",
                                         o, row.min() ?? 0, row.max() ?? 0, scale)))
        }
        let all = d.x.flatMap { $0 }
        let lo = min(all.min() ?? 0, 0), hi = max(all.max() ?? 0, 0)
        let scale = (hi - lo) / 255
        let zp = 0 - (lo / scale).rounded(.toNearestOrEven)
        #expect(text.contains("fc1._input_0: uint8 [0, 255], scale shape []\n" +
                              String(format: "  block 0: range [%.9g, %.9g] scale %.9g zero point %.0f", lo, hi, scale, zp)))
    }
}
