import Foundation
import Testing
@testable import SwiftCompress

/// examples/c/quantize_mlp.c calibrates a tiny MLP through the C ABI (sc_session_observe,
/// sc_session_quant_params, sc_session_fake_quantize) and prints each target's scale shape, tracked
/// range, scales, zero points and largest fake-quantization error; tests/c/run.sh diffs that with
/// examples/c/expected/quantize_mlp.txt. This test computes the same text through the Swift API
/// (`Plan` + `QuantizationSettings` + `QuantObserver` + `Quantization.apply`), so what the C ABI
/// writes equals the Swift API's, and checks the scales against the formulas computed here directly.
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
        return lines
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
