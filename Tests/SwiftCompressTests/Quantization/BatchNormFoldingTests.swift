import Testing
@testable import SwiftCompress

/// Conv + batch-norm and Linear + batch-norm folding: bit for bit NNI 3.0's fuse_conv_bn /
/// fuse_linear_bn (fixture), equal to the unfused computation (a direct convolution and linear
/// layer followed by batch norm, in double), affine=False and missing bias, fusion groups, errors.
@Suite struct BatchNormFoldingTests {
    @Test func matchesNNI() throws {
        let root = try loadQuantFixture("fold.json")
        let cases = try #require(root["cases"]?.array)
        #expect(cases.count == 2)
        var layers: [String] = []
        for c in cases {
            let o = try #require(c.object)
            let layerName = try #require(o["layer"]?.string)
            let layer = try #require(BatchNormFolding.Layer(rawValue: layerName))
            layers.append(layerName)
            let w = try #require(o["weight"]?.object), fw = try #require(o["folded_weight"]?.object)
            let shape = try w.quantValue("shape").quantInts("shape")
            let b = TestBuffers()
            let weight = try b.view(try w.quantValue("values").quantFloats("weight"), shape: shape)
            let bias = try b.view(try o.quantValue("bias").object?.quantValue("values").quantFloats("bias") ?? [], shape: [shape[0]])
            let bn = BatchNormFolding.BatchNorm(
                weight: try b.view(try o.quantValue("bn_weight").quantFloats("bn_weight"), shape: [shape[0]]),
                bias: try b.view(try o.quantValue("bn_bias").quantFloats("bn_bias"), shape: [shape[0]]),
                runningMean: try b.view(try o.quantValue("running_mean").quantFloats("running_mean"), shape: [shape[0]]),
                runningVar: try b.view(try o.quantValue("running_var").quantFloats("running_var"), shape: [shape[0]]),
                eps: try #require(o["eps"]?.number))
            let outW = try b.zeros(shape), outB = try b.zeros([shape[0]])
            try BatchNormFolding.fold(weight: weight, bias: bias, batchNorm: bn, layer: layer, foldedWeight: outW, foldedBias: outB, name: "m")
            #expect(bits(quantFloats(outW)) == bits(try fw.quantValue("values").quantFloats("folded_weight")), "\(layerName) weight")
            #expect(bits(quantFloats(outB)) == bits(try o.quantValue("folded_bias").quantFloats("folded_bias")), "\(layerName) bias")
        }
        #expect(layers == ["conv", "linear"])
    }

    /// BN(conv(x, W, b)) equals conv(x, W', b') for a 2-channel 3x3 conv over a 4x4 input.
    @Test func convEqualsUnfused() throws {
        let cout = 2, cin = 2, k = 3, h = 4
        var state: UInt32 = 3
        func next() -> Double {
            state = state &* 1_664_525 &+ 1_013_904_223
            return Double(Int32(bitPattern: state) >> 8) / 8_388_608
        }
        let w = (0..<(cout * cin * k * k)).map { _ in next() }
        let bias = [0.3, -0.2], gamma = [1.5, 0.7], beta = [0.1, -0.4], mean = [0.05, -0.3], variance = [0.8, 1.9]
        let eps = 1e-5
        let x = (0..<(cin * h * h)).map { _ in next() }
        let o = h - k + 1
        func conv(_ w: [Double], _ b: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: cout * o * o)
            for co in 0..<cout {
                for i in 0..<o {
                    for j in 0..<o {
                        var s = b[co]
                        for ci in 0..<cin {
                            for u in 0..<k {
                                for v in 0..<k { s += w[((co * cin + ci) * k + u) * k + v] * x[(ci * h + i + u) * h + j + v] }
                            }
                        }
                        out[(co * o + i) * o + j] = s
                    }
                }
            }
            return out
        }
        let unfused = conv(w, bias).enumerated().map { idx, y in
            let c = idx / (o * o)
            return (y - mean[c]) / (variance[c] + eps).squareRoot() * gamma[c] + beta[c]
        }
        for dtype in [ElementType.float32, .float64] {
            let b = TestBuffers()
            func v(_ a: [Double], _ shape: [Int]) throws -> TensorView { try b.mutableView(a, shape: shape, dtype: dtype).readOnly }
            let outW = try b.zeros([cout, cin, k, k], dtype: dtype), outB = try b.zeros([cout], dtype: dtype)
            try BatchNormFolding.fold(weight: try v(w, [cout, cin, k, k]), bias: try v(bias, [cout]),
                                      batchNorm: .init(weight: try v(gamma, [cout]), bias: try v(beta, [cout]),
                                                       runningMean: try v(mean, [cout]), runningVar: try v(variance, [cout]), eps: eps),
                                      layer: .conv, foldedWeight: outW, foldedBias: outB, name: "conv1+bn1")
            let fused = conv(outW.allValues, outB.allValues)
            let tol = dtype == .float64 ? 1e-12 : 1e-5
            #expect(zip(fused, unfused).allSatisfy { abs($0 - $1) <= tol * Swift.max(1, abs($1)) }, "\(dtype)")
        }
    }

    /// Linear + BatchNorm1d, affine=False (no gamma/beta) and no layer bias: W' = W * r, b' = -mean * r.
    @Test func linearWithoutAffineOrBias() throws {
        let b = TestBuffers()
        let w = try b.view([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let bn = BatchNormFolding.BatchNorm(weight: nil, bias: nil, runningMean: try b.view([1, -2], shape: [2]),
                                            runningVar: try b.view([3, 0], shape: [2]), eps: 1)
        let outW = try b.zeros([2, 3]), outB = try b.zeros([2])
        try BatchNormFolding.fold(weight: w, bias: nil, batchNorm: bn, layer: .linear, foldedWeight: outW, foldedBias: outB, name: "fc+bn")
        // r = 1/sqrt(3 + 1) = 0.5 and 1/sqrt(0 + 1) = 1
        #expect(outW.allValues == [0.5, 1, 1.5, 4, 5, 6])
        #expect(outB.allValues == [-0.5, 2])
        // In place on the weight's own memory.
        let inPlace = try b.mutableView([1, 2, 3, 4, 5, 6], shape: [2, 3], dtype: .float32)
        try BatchNormFolding.fold(weight: inPlace.readOnly, bias: nil, batchNorm: bn, layer: .conv, foldedWeight: inPlace, foldedBias: outB, name: "fc+bn")
        #expect(inPlace.allValues == [0.5, 1, 1.5, 4, 5, 6])
    }

    @Test func foldErrors() throws {
        let b = TestBuffers()
        let w = try b.view([1, 2, 3, 4], shape: [2, 2])
        let good = BatchNormFolding.BatchNorm(weight: nil, bias: nil, runningMean: try b.view([0, 0], shape: [2]), runningVar: try b.view([1, 1], shape: [2]))
        #expect(throws: QuantizationError(.invalidFusion, target: "conv1+bn1", key: "fuse_names", "bias has 3 element(s) (shape [3]); the weight [2, 2] has 2 channels")) {
            try BatchNormFolding.fold(weight: w, bias: try b.view([1, 2, 3], shape: [3]), batchNorm: good, layer: .conv,
                                      foldedWeight: try b.zeros([2, 2]), foldedBias: try b.zeros([2]), name: "conv1+bn1")
        }
        var badEps = good
        badEps.eps = -1
        #expect(throws: QuantizationError(.invalidFusion, target: "conv1+bn1", key: "fuse_names", "eps is -1.0; expected a finite number >= 0")) {
            try BatchNormFolding.fold(weight: w, bias: nil, batchNorm: badEps, layer: .conv,
                                      foldedWeight: try b.zeros([2, 2]), foldedBias: try b.zeros([2]), name: "conv1+bn1")
        }
        #expect(throws: QuantizationError(.invalidFusion, target: "conv1+bn1", key: "fuse_names", "the folded weight buffer has shape [4]; expected [2, 2]")) {
            try BatchNormFolding.fold(weight: w, bias: nil, batchNorm: good, layer: .conv,
                                      foldedWeight: try b.zeros([4]), foldedBias: try b.zeros([2]), name: "conv1+bn1")
        }
    }

    @Test func fusionGroups() throws {
        let a = try ModuleFusion(names: ["conv1", "bn1"], types: ["Conv2d", "BatchNorm2d"])
        #expect(a.fold == .convBatchNorm && !a.appliesReLU)
        let b = try ModuleFusion(names: ["conv1", "bn1", "relu"], types: ["Conv1d", "BatchNorm1d", "ReLU"])
        #expect(b.fold == .convBatchNorm && b.appliesReLU)
        let c = try ModuleFusion(names: ["fc", "bn"], types: ["Linear", "BatchNorm1d"])
        #expect(c.fold == .linearBatchNorm && !c.appliesReLU)
        let d = try ModuleFusion(names: ["fc", "relu"], types: ["Linear", "ReLU"])
        #expect(d.fold == ModuleFusion.Fold.none && d.appliesReLU)
        #expect(try ModuleFusion(names: ["bn", "relu"], types: ["BatchNorm3d", "ReLU"]).fold == ModuleFusion.Fold.none)
        let allowed = "NNI 3.0 fuses (ConvNd, BatchNormNd[, ReLU]), (Linear, BatchNorm1d[, ReLU]), (ConvNd or Linear, ReLU), (BatchNormNd, ReLU)"
        #expect(throws: QuantizationError(.invalidFusion, target: "conv1+bn1", key: "fuse_names", "modules of types (Conv2d, BatchNorm1d) cannot be fused; " + allowed)) {
            _ = try ModuleFusion(names: ["conv1", "bn1"], types: ["Conv2d", "BatchNorm1d"])
        }
        #expect(throws: QuantizationError(.invalidFusion, target: "fc+bn+relu", key: "fuse_names", "modules of types (Linear, BatchNorm1d, ReLU6) cannot be fused; " + allowed)) {
            _ = try ModuleFusion(names: ["fc", "bn", "relu"], types: ["Linear", "BatchNorm1d", "ReLU6"])
        }
        #expect(throws: QuantizationError(.invalidFusion, target: "conv1", key: "fuse_names", "expected 2 or 3 modules to fuse, got 1")) {
            _ = try ModuleFusion(names: ["conv1"], types: ["Conv2d"])
        }
    }
}
