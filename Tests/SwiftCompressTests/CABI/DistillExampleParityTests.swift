import Foundation
import Testing
@testable import SwiftCompress

/// examples/c/distill_mlp.c distills a tiny student MLP from a teacher through the C ABI and prints
/// the loss per target, the total, a few gradient values and the losses of a few SGD steps on the
/// student's last layer; tests/c/run.sh diffs that with examples/c/expected/distill_mlp.txt. This
/// test runs the same model, LCG, config list and SGD through the Swift API (`Plan` +
/// `DistillationSettings` + `Distillation.totalLoss`) and checks that it prints the same text, so the
/// losses and gradients the C ABI returns equal the Swift API's. Step 0 is also checked against
/// torch (values below).
@Suite struct DistillExampleParityTests {
    static let batch = 4, inputs = 8, hidden = 16, outputs = 4, steps = 6
    static let learningRate = 0.5

    /// `y[b][o] = bias[o] + sum_k w[o][k] * in[b][k]` (ReLU on `in` first when `relu`), accumulated
    /// in Double in distill_mlp.c's order and stored as Float.
    static func linear(_ input: [Float], _ inFeatures: Int, relu: Bool, _ w: [Float], _ bias: [Float], _ outFeatures: Int) -> [Float] {
        var y = [Float](repeating: 0, count: batch * outFeatures)
        for b in 0..<batch {
            for o in 0..<outFeatures {
                var acc = Double(bias[o])
                for k in 0..<inFeatures {
                    var v = Double(input[b * inFeatures + k])
                    if relu && v < 0 { v = 0 }
                    let p = Double(w[o * inFeatures + k]) * v
                    acc += p
                }
                y[b * outFeatures + o] = Float(acc)
            }
        }
        return y
    }

    static let studentModules = """
        [{"name": "", "type": "Student"}, {"name": "fc1", "type": "Linear"},
         {"name": "relu", "type": "ReLU"}, {"name": "fc2", "type": "Linear"}]
        """
    static let teacherModules = ["", "fc1", "relu", "head", "aux"]
    static let config = """
        [{"op_names": ["fc1"], "apply_method": "mse", "lambda": 0.5},
         {"op_names": ["fc2"], "apply_method": "kl", "link": ["head", "aux"]}]
        """

    /// The example's output, computed through the Swift API; `firstStep` receives step 0's result.
    static func run(firstStep: inout DistillationTotal?) throws -> [String] {
        var lcg = ExamplesParityTests.LCG(state: 2024)
        func fill(_ n: Int) -> [Float] { (0..<n).map { _ in Float(lcg.float24()) } }
        let sW1 = fill(hidden * inputs), sB1 = fill(hidden)
        var sW2 = fill(outputs * hidden), sB2 = fill(outputs)
        let tW1 = fill(hidden * inputs), tB1 = fill(hidden), tWh = fill(outputs * hidden), tBh = fill(outputs)
        let tWa = fill(outputs * hidden), tBa = fill(outputs)
        let x = fill(batch * inputs)

        let plan = try Plan(json: config, modules: ModuleInfo.list(fromJSON: studentModules), mode: .distillation)
        var lines = ["\(plan.targets.count) targets"]
        var settings: [DistillationSettings] = []
        for t in plan.targets {
            let s = try DistillationSettings(t)
            try s.checkLinks(teacherModules: teacherModules, module: t.moduleName, target: t.targetName)
            settings.append(s)
            lines.append("  \(t.moduleName).\(t.targetName) links " + s.links.joined(separator: " "))
        }
        guard settings.count == 2, plan.targets[0].moduleName == "fc1", plan.targets[1].moduleName == "fc2" else {
            Issue.record("unexpected plan \(plan.targets.map(\.moduleName))")
            return lines
        }

        let tH = linear(x, inputs, relu: false, tW1, tB1, hidden)
        let tHead = linear(tH, hidden, relu: true, tWh, tBh, outputs)
        let tAux = linear(tH, hidden, relu: true, tWa, tBa, outputs)
        func format(_ f: String, _ v: Double) -> String { String(format: f, v) }

        for step in 0..<steps {
            let sH = linear(x, inputs, relu: false, sW1, sB1, hidden)
            let sLogits = linear(sH, hidden, relu: true, sW2, sB2, outputs)
            let buffers = TestBuffers()
            let hiddenShape = [batch, hidden], logitsShape = [batch, outputs]
            let gH = try buffers.zeros(hiddenShape), gLogits = try buffers.zeros(logitsShape)
            let targets = [
                DistillationTarget(moduleName: "fc1", settings: settings[0], student: try buffers.view(sH, shape: hiddenShape),
                                   teachers: [try buffers.view(tH, shape: hiddenShape)], gradient: gH),
                DistillationTarget(moduleName: "fc2", settings: settings[1], student: try buffers.view(sLogits, shape: logitsShape),
                                   teachers: [try buffers.view(tHead, shape: logitsShape), try buffers.view(tAux, shape: logitsShape)],
                                   gradient: gLogits),
            ]
            let result = try Distillation.totalLoss(targets)
            if step == 0 { firstStep = result }
            lines.append("step \(step)  fc1 mse " + format("%.6f", result.targets[0].loss) + "  fc2 kl "
                         + format("%.6f", result.targets[1].loss) + "  total " + format("%.6f", result.total))
            let gh = gH.allValues, g = gLogits.allValues
            if step == 0 {
                lines.append("  d loss / d fc1 output [0, 0:4]: " + gh[0..<4].map { format("%+.8f", $0) }.joined(separator: " "))
                lines.append("  d loss / d logits [0, 0:4]:     " + g[0..<4].map { format("%+.8f", $0) }.joined(separator: " "))
            }
            // SGD on fc2, as distill_mlp.c: W2 -= lr * sum_b g[b][o] relu(h[b][j]), b2 -= lr * sum_b g[b][o].
            for o in 0..<outputs {
                var db = 0.0
                for j in 0..<hidden {
                    var dw = 0.0
                    for b in 0..<batch {
                        let h = sH[b * hidden + j] > 0 ? Double(sH[b * hidden + j]) : 0
                        let p = g[b * outputs + o] * h
                        dw += p
                    }
                    sW2[o * hidden + j] = Float(Double(sW2[o * hidden + j]) - learningRate * dw)
                }
                for b in 0..<batch { db += g[b * outputs + o] }
                sB2[o] = Float(Double(sB2[o]) - learningRate * db)
            }
        }
        return lines
    }

    @Test func sameOutputAsTheCExample() throws {
        var first: DistillationTotal? = nil
        let lines = try Self.run(firstStep: &first)
        #expect(lines.joined(separator: "\n") + "\n" == (try ExamplesParityTests.expected("distill_mlp.txt")))

        // Step 0 against torch 2.15 (float64 on the float32-rounded outputs of the same LCG values):
        //   /work/nnienv/bin/python examples/c/distill_mlp_torch.py
        // prints mse 1.3958804920124965 (0.5 * F.mse_loss), kl head 1.9938929977907387,
        // kl aux 1.0891318267376715, total 2.485012318750168, and d(0.5 mse + kl aux)/d logits[0] =
        // [0.0955077933361562, -0.012339210013846282, -0.03596332417230944, -0.047205259150000387].
        let r = try #require(first)
        #expect(abs(r.targets[0].loss - 1.3958804920124965) < 1e-6)
        #expect(abs(r.targets[1].loss - 1.0891318267376715) < 1e-6)
        #expect(abs(r.total - 2.485012318750168) < 1e-6)
        // The kl target chose its second link (aux), whose loss is the smaller.
        #expect(r.targets[1].chosenLink == 1)
        #expect(r.targets[1].linkLosses.count == 2)
        #expect(abs((r.targets[1].linkLosses[0] ?? 0) - 1.9938929977907387) < 1e-6)
    }

    /// The example's point: the kl term falls at every SGD step while the untrained fc1 term stays.
    @Test func lossFallsInTheExpectedFile() throws {
        let text = try ExamplesParityTests.expected("distill_mlp.txt")
        let steps = text.split(separator: "\n").filter { $0.hasPrefix("step ") }.map { line -> [Double] in
            line.split(separator: " ").compactMap { Double($0) }
        }
        #expect(steps.count == Self.steps)
        for (a, b) in zip(steps, steps.dropFirst()) {
            // [step, mse, kl, total]
            #expect(a.count == 4 && b.count == 4)
            #expect(b[2] < a[2])
            #expect(b[1] == a[1])
            #expect(b[3] < a[3])
        }
    }
}
