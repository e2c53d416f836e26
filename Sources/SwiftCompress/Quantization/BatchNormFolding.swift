/// A `fuse_names` group checked against NNI 3.0's table of fusable module types: what folding it
/// needs and whether a ReLU follows. The first module is the one configured and quantized; the
/// others are folded into it (batch norm) or applied to its output (ReLU).
public struct ModuleFusion: Sendable, Hashable {
    /// How the group's batch norm (if any) folds into the first module.
    public enum Fold: String, Sendable, Hashable {
        /// No batch norm: `(Conv*, ReLU)`, `(Linear, ReLU)`, `(BatchNorm*, ReLU)`.
        case none
        /// `(ConvNd, BatchNormNd[, ReLU])`: fold with `BatchNormFolding.fold(..., layer: .conv)`.
        case convBatchNorm
        /// `(Linear, BatchNorm1d[, ReLU])`: fold with `layer: .linear`.
        case linearBatchNorm
    }

    /// The module names, first the one fused into.
    public let names: [String]
    /// How the batch norm (if any) folds into the first module.
    public let fold: Fold
    /// True when the last module is a ReLU applied to the fused module's output (before its
    /// `_output_` quantization).
    public let appliesReLU: Bool

    /// Checks a group (`Plan.fusions` entry) with its modules' type names (`ModuleInfo.typeName`).
    ///
    /// - Throws: `EngineError(.quantization, .invalidFusion)` (target: the names joined by `+`, key
    ///   `fuse_names`) when the counts differ, the group has fewer than 2 or more than 3 modules,
    ///   or the type sequence is not one NNI 3.0 can fuse (listing the ones it can).
    public init(names: [String], types: [String]) throws(EngineError) {
        let target = names.joined(separator: "+")
        guard names.count == types.count else {
            throw EngineError(.quantization, .invalidFusion, target: target, key: "fuse_names",
                                    "\(names.count) module name(s) but \(types.count) type name(s)")
        }
        guard (2...3).contains(names.count) else {
            throw EngineError(.quantization, .invalidFusion, target: target, key: "fuse_names",
                                    "expected 2 or 3 modules to fuse, got \(names.count)")
        }
        let relu = types.count == 3 || types[1] == "ReLU"
        let first = types[0], second = types[1]
        var fold: Fold? = nil
        if types.count == 3 && types[2] != "ReLU" {
            fold = nil
        } else if second == "ReLU" && types.count == 2 {
            if ["Conv1d", "Conv2d", "Conv3d", "Linear", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d"].contains(first) { fold = Fold.none }
        } else if let d = ["Conv1d": "1d", "Conv2d": "2d", "Conv3d": "3d"][first], second == "BatchNorm" + d {
            fold = .convBatchNorm
        } else if first == "Linear" && second == "BatchNorm1d" {
            fold = .linearBatchNorm
        }
        guard let fold else {
            throw EngineError(.quantization, .invalidFusion, target: target, key: "fuse_names",
                                    "modules of types (\(types.joined(separator: ", "))) cannot be fused; NNI 3.0 fuses (ConvNd, BatchNormNd[, ReLU]), (Linear, BatchNorm1d[, ReLU]), (ConvNd or Linear, ReLU), (BatchNormNd, ReLU)")
        }
        self.names = names
        self.fold = fold
        self.appliesReLU = relu
    }
}

/// Folding a batch norm into the convolution or linear layer before it (`fuse_names`), as NNI 3.0's
/// `fuse_conv_bn` / `fuse_linear_bn` do before the fused weight is quantized.
public enum BatchNormFolding {
    /// The layer the batch norm follows. The folded weight is the same for both; NNI 3.0 orders the
    /// bias arithmetic differently, so float32 results differ in the last bit between the two.
    public enum Layer: String, Sendable, Hashable {
        /// Conv1d/2d/3d: bias' = ((bias - mean) * r) * gamma + beta.
        case conv
        /// Linear: bias' = (bias - mean) * (gamma * r) + beta.
        case linear
    }

    /// The batch norm's parameters and statistics, each a vector of C values (any float dtype and
    /// strides), in caller memory.
    public struct BatchNorm: @unchecked Sendable {
        /// gamma; nil for `affine=False` (all 1).
        public var weight: TensorView?
        /// beta; nil for `affine=False` (all 0).
        public var bias: TensorView?
        /// running_mean (or the batch mean when the batch norm does not track running statistics).
        public var runningMean: TensorView
        /// running_var (or the unbiased batch variance when it does not track running statistics).
        public var runningVar: TensorView
        /// eps (torch's default 1e-5), rounded to the computation precision before it is added.
        public var eps: Double

        /// Views of the batch norm's vectors (nothing is copied).
        public init(weight: TensorView?, bias: TensorView?, runningMean: TensorView, runningVar: TensorView, eps: Double = 1e-5) {
            self.weight = weight
            self.bias = bias
            self.runningMean = runningMean
            self.runningVar = runningVar
            self.eps = eps
        }
    }

    /// Folds `batchNorm` into a layer's weight and bias, with r = 1 / sqrt(var + eps):
    ///
    ///     weight'[c, ...] = weight[c, ...] * (gamma[c] * r[c])
    ///     bias'[c]        = see `Layer` (a missing layer bias counts as 0)
    ///
    /// Each operation is rounded to float32 (float64 when `weight` is float64), in NNI 3.0's order,
    /// so float32 results are NNI's bit for bit. Then BN(layer(x, weight, bias)) equals
    /// layer(x, weight', bias') up to rounding (in eval mode).
    ///
    /// - Parameters:
    ///   - weight: the layer's weight, `[C, ...]` (dim 0 = output channels / features).
    ///   - bias: the layer's bias, C values, or nil.
    ///   - batchNorm: C values each.
    ///   - foldedWeight: receives weight' (same shape as `weight`, any dtype). May be `weight`'s
    ///     memory (in place) with the same layout.
    ///   - foldedBias: receives bias' (C values, any dtype).
    ///   - name: names the layer in errors (`conv1` or `conv1+bn1`).
    /// - Throws: `EngineError(.quantization, .invalidFusion)` for a weight of rank 0, vectors whose element
    ///   count is not C, outputs of another shape, a negative or non-finite eps. Nothing is written
    ///   on error.
    public static func fold(weight: TensorView, bias: TensorView?, batchNorm bn: BatchNorm, layer: Layer,
                            foldedWeight: MutableTensorView, foldedBias: MutableTensorView, name: String) throws(EngineError) {
        func fail(_ m: String) -> QuantizationError { EngineError(.quantization, .invalidFusion, target: name, key: "fuse_names", m) }
        guard let c = weight.shape.first else { throw fail("the weight has shape \(weight.shape); folding needs a channel dim 0") }
        let vectors: [(String, TensorView?)] = [("bias", bias), ("batch norm weight", bn.weight), ("batch norm bias", bn.bias),
                                                ("running_mean", bn.runningMean), ("running_var", bn.runningVar)]
        for (what, v) in vectors {
            if let v, v.count != c { throw fail("\(what) has \(v.count) element(s) (shape \(v.shape)); the weight \(weight.shape) has \(c) channels") }
        }
        if foldedBias.count != c { throw fail("the folded bias buffer has \(foldedBias.count) element(s); expected \(c)") }
        if foldedWeight.shape != weight.shape { throw fail("the folded weight buffer has shape \(foldedWeight.shape); expected \(weight.shape)") }
        guard bn.eps.isFinite, bn.eps >= 0 else { throw fail("eps is \(pythonFloat(bn.eps)); expected a finite number >= 0") }
        if weight.dtype == .float64 {
            foldValues(weight, bias, bn, layer, foldedWeight, foldedBias, Double.self)
        } else {
            foldValues(weight, bias, bn, layer, foldedWeight, foldedBias, Float.self)
        }
    }

    static func foldValues<T: QuantReal>(_ weight: TensorView, _ bias: TensorView?, _ bn: BatchNorm, _ layer: Layer,
                                         _ outW: MutableTensorView, _ outB: MutableTensorView, _: T.Type) {
        let c = weight.shape[0]
        let ones = [T](repeating: 1, count: c), zeros = [T](repeating: 0, count: c)
        let gamma = bn.weight?.allValues(as: T.self) ?? ones
        let beta = bn.bias?.allValues(as: T.self) ?? zeros
        let mean = bn.runningMean.allValues(as: T.self)
        let variance = bn.runningVar.allValues(as: T.self)
        let b = bias?.allValues(as: T.self) ?? zeros
        let eps = T(bn.eps)
        var factor = [T](repeating: 0, count: c), newBias = [T](repeating: 0, count: c)
        for i in 0..<c {
            let r = 1 / (variance[i] + eps).squareRoot()
            factor[i] = gamma[i] * r
            switch layer {
            case .conv: newBias[i] = ((b[i] - mean[i]) * r) * gamma[i] + beta[i]
            case .linear: newBias[i] = (b[i] - mean[i]) * factor[i] + beta[i]
            }
        }
        // Each channel is a run of weight.count / c logical indices.
        let perChannel = c == 0 ? 0 : weight.count / c
        let f = factor
        let chunks = quantChunks(weight.count)
        parallelFor(chunks.count) { part in
            withUnsafeTemporaryAllocation(of: T.self, capacity: 2 * quantTile) { buffer in
                guard let scratch = buffer.baseAddress else { return }
                let outTile = scratch + quantTile
                forEachTile(weight, chunks[part], scratch: scratch, boundedTiles: true) { v, tile in
                    let dst = directPointer(outW, tile, as: T.self) ?? outTile
                    for k in 0..<tile.count { dst[k] = v[k] * f[(tile.lowerBound &+ k) / perChannel] }
                    if dst == outTile { scatter(outTile, into: outW, tile) }
                }
            }
        }
        let nb = newBias
        outB.store(0..<c) { Double(nb[$0]) }
    }
}
