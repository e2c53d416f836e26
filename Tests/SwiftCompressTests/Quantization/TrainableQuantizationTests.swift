import Testing
@testable import SwiftCompress

/// The training-time quantizers' values and gradients by hand (tests/test_nni_quantizers.py
/// compares them with NNI 3.0 through Python): LSQ, LSQ+, DoReFa, BNN, their initial parameters and
/// the errors for bad input.
@Suite struct TrainableQuantizationTests {
    @Test func lsqForwardAndGradients() throws {
        // s = 0.5, int8: x / s = [-300, -1.5, 0.5, 1, 300] -> half-even [-127, -2, 0, 1, 127] * 0.5.
        let b = TestBuffers()
        let x = try b.view([-150, -0.75, 0.25, 0.5, 150], shape: [5])
        let out = try b.zeros([5])
        try TrainableQuantization.lsqForward(x, into: out, scale: 0.5, zeroPoint: nil, qmin: -127, qmax: 127, name: "w")
        #expect(out.allValues == [-63.5, -1, 0, 0.5, 63.5])
        let g = try b.view([1, 1, 1, 1, 1], shape: [5]), gx = try b.zeros([5])
        let r = try TrainableQuantization.lsqBackward(x, gradOutput: g, gradInput: gx, scale: 0.5, zeroPoint: nil,
                                                      qmin: -127, qmax: 127, name: "w")
        #expect(gx.allValues == [0, 1, 1, 1, 0])
        // f * (-127 + (1.5 - 2) + (-0.5 + 0) + 0 + 127) = -f, f = float32(1 / sqrt(635))
        #expect(r.scale == -Double(Float(1.0 / (635.0).squareRoot())))
        #expect(r.zeroPoint == 0)
    }

    @Test func lsqPlusForwardAndGradients() throws {
        // s = 1, zp = 2, [0, 15]: t = [-3, 2.5, 22] -> [0, 2, 15] - 2 = [-2, 0, 13].
        let b = TestBuffers()
        let x = try b.view([-5, 0.5, 20], shape: [3]), out = try b.zeros([3])
        try TrainableQuantization.lsqForward(x, into: out, scale: 1, zeroPoint: 2, qmin: 0, qmax: 15, name: "x")
        #expect(out.allValues == [-2, 0, 13])
        let g = try b.view([1, 2, 1], shape: [3]), gx = try b.zeros([3])
        let r = try TrainableQuantization.lsqBackward(x, gradOutput: g, gradInput: gx, scale: 1, zeroPoint: 2, qmin: 0, qmax: 15, name: "x")
        #expect(gx.allValues == [0, 2, 0])
        let f = Float(1.0 / (45.0).squareRoot())
        // (0 - 2) * 1 * f + (-0.5 - 2 + 2) * 2 * f + (15 - 2) * 1 * f; zero point: -1 * 1 + -1 * 1
        let want = Double(Float(Double(-2 * f) + Double(-1 * f) + Double(13 * f)))
        #expect(r.scale == want)
        #expect(r.zeroPoint == -2)
    }

    @Test func initialParameters() throws {
        #expect(try TrainableQuantization.initialParameters(.lsq, qmin: -127, qmax: 127) == (Double(Float(0.01)), 0))
        #expect(try TrainableQuantization.initialParameters(.lsqPlus, qmin: 0, qmax: 255) == (Double(Float(0.01)), 127.5))
        #expect(try TrainableQuantization.initialParameters(.doReFa, qmin: 0, qmax: 255) == (Double(Float(1) / 255), 0))
        #expect(try TrainableQuantization.initialParameters(.doReFa, qmin: -128, qmax: 127) == (Double(Float(1) / 255), -128))
        #expect(try TrainableQuantization.initialParameters(.bnn, qmin: -127, qmax: 127) == (1, 0))
        #expect(throws: EngineError.self) { try TrainableQuantization.initialParameters(.lsq, qmin: 3, qmax: 3) }
    }

    @Test func doReFa() throws {
        let b = TestBuffers()
        // w = [-1, 1]: tanh(w) / (2 tanh 1) + 0.5 = [0, 1] exactly -> [0, 1] -> 2y - 1.
        let w = try b.view([-1, 1], shape: [2]), out = try b.zeros([2])
        try TrainableQuantization.doReFaWeightForward(w, into: out, scale: 0.25, zeroPoint: 0, qmin: 0, qmax: 4, name: "w")
        #expect(out.allValues == [-1, 1])
        // g = [1, 1]: both are maxima, sum(-2 u / d^2) = 0, so grad = (2 / d) * (1 - u^2), d = 2 tanh(1).
        let g = try b.view([1, 1], shape: [2]), gx = try b.zeros([2])
        try TrainableQuantization.doReFaWeightBackward(w, gradOutput: g, gradInput: gx, name: "w")
        let u = Float(0.7615941559557649) // tanh(1) in float32
        let want = Double((2 / (2 * u)) * (1 - u * u))
        #expect(abs(gx.allValues[0] - want) <= 1e-6 && gx.allValues[0] == gx.allValues[1])
        // output: clamp(x, 0, 1) quantized with s = 0.25; mask 1 inside [0, 1].
        let x = try b.view([-1, 0.3, 2], shape: [3]), o = try b.zeros([3]), m = try b.zeros([3])
        try TrainableQuantization.doReFaOutputForward(x, into: o, gradientMask: m, scale: 0.25, zeroPoint: 0, qmin: 0, qmax: 4, name: "relu")
        #expect(o.allValues == [0, 0.25, 1])
        #expect(m.allValues == [0, 1, 0])
        let empty = try b.view([], shape: [0]), emptyOut = try b.zeros([0])
        #expect(throws: EngineError.self) {
            try TrainableQuantization.doReFaWeightForward(empty, into: emptyOut, scale: 0.25, zeroPoint: 0, qmin: 0, qmax: 4, name: "w")
        }
    }

    @Test func bnnAndClamp() throws {
        let b = TestBuffers()
        let x = try b.mutableView([-2, -0.5, 0, 0.5, 3], shape: [5]), out = try b.zeros([5]), m = try b.zeros([5])
        try TrainableQuantization.binarize(x.readOnly, into: out, gradientMask: m, clipOutside: true, name: "relu")
        #expect(out.allValues == [-1, -1, 1, 1, 1])
        #expect(m.allValues == [0, 1, 1, 1, 0])
        try TrainableQuantization.binarize(x.readOnly, into: out, gradientMask: m, clipOutside: false, name: "w")
        #expect(m.allValues == [1, 1, 1, 1, 1])
        try TrainableQuantization.clampInPlace(x, lo: -1, hi: 1, name: "w")
        #expect(x.allValues == [-1, -0.5, 0, 0.5, 1])
        #expect(throws: EngineError.self) { try TrainableQuantization.clampInPlace(x, lo: 1, hi: -1, name: "w") }
    }

    @Test func badInput() throws {
        let b = TestBuffers()
        let x = try b.view([1, 2], shape: [2]), out = try b.zeros([2]), short = try b.zeros([3])
        #expect(throws: EngineError.self) {
            try TrainableQuantization.lsqForward(x, into: short, scale: 1, zeroPoint: nil, qmin: -1, qmax: 1, name: "x")
        }
        #expect(throws: EngineError.self) {
            try TrainableQuantization.lsqForward(x, into: out, scale: 0, zeroPoint: nil, qmin: -1, qmax: 1, name: "x")
        }
        #expect(throws: EngineError.self) {
            try TrainableQuantization.lsqForward(x, into: out, scale: 1e-300, zeroPoint: nil, qmin: -1, qmax: 1, name: "x")
        }
        #expect(throws: EngineError.self) {
            try TrainableQuantization.lsqForward(x, into: out, scale: 1, zeroPoint: .nan, qmin: -1, qmax: 1, name: "x")
        }
        #expect(out.allValues == [0, 0])
    }

    @Test func foldBackward() throws {
        // W = [[1, 2], [3, 4]], b = [0.5, -1], gamma = [2, 0.5], mean = [0.5, 1], var = [3, 15], eps = 1:
        // r = [0.5, 0.25], f = [1, 0.125]; gW' = 1, gb' = 1.
        let b = TestBuffers()
        let w = try b.view([1, 2, 3, 4], shape: [2, 2]), bias = try b.view([0.5, -1], shape: [2])
        let bn = BatchNormFolding.BatchNorm(weight: try b.view([2, 0.5], shape: [2]), bias: try b.view([1, 0], shape: [2]),
                                            runningMean: try b.view([0.5, 1], shape: [2]),
                                            runningVar: try b.view([3, 15], shape: [2]), eps: 1)
        let gw = try b.view([1, 1, 1, 1], shape: [2, 2]), gb = try b.view([1, 1], shape: [2])
        for layer in [BatchNormFolding.Layer.conv, .linear] {
            let ow = try b.zeros([2, 2]), ob = try b.zeros([2]), og = try b.zeros([2]), obeta = try b.zeros([2])
            try BatchNormFolding.foldBackward(weight: w, bias: bias, batchNorm: bn, layer: layer, gradFoldedWeight: gw,
                                              gradFoldedBias: gb, gradWeight: ow, gradBias: ob, gradGamma: og, gradBeta: obeta, name: "conv")
            #expect(ow.allValues == [1, 1, 0.125, 0.125])
            #expect(ob.allValues == [1, 0.125])
            #expect(og.allValues == [1.5, 1.25])  // sum(W) r + (b - mean) r
            #expect(obeta.allValues == [1, 1])
        }
        let short = try b.zeros([3])
        #expect(throws: EngineError.self) {
            try BatchNormFolding.foldBackward(weight: w, bias: bias, batchNorm: bn, layer: .conv, gradFoldedWeight: gw,
                                              gradFoldedBias: gb, gradWeight: try b.zeros([2, 2]), gradBias: short,
                                              gradGamma: nil, gradBeta: nil, name: "conv")
        }
    }
}
