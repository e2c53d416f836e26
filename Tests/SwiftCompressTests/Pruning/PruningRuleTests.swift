import Testing
@testable import SwiftCompress

/// Hand-computed masks for each rule, granularity and dtype.
@Suite struct PruningRuleTests {
    /// Runs the engine on float32 targets given as (name, shape, values, settings); returns masks.
    static func masks(_ specs: [(String, [Int], [Float], PruningSettings)], metric: PruningMetricKind,
                      dtype: ElementType = .float32) throws -> [[Double]] {
        let b = TestBuffers()
        var targets: [PruningTarget] = []
        var outs: [MutableTensorView] = []
        for (name, shape, values, settings) in specs {
            let parts = name.split(separator: ".").map(String.init)
            let t = try b.mutableView(values.map(Double.init), shape: shape, dtype: dtype).readOnly
            let m = try b.mutableView([Double](repeating: 9, count: values.count), shape: shape, dtype: dtype)
            outs.append(m)
            targets.append(PruningTarget(moduleName: parts[0], targetName: parts.count > 1 ? parts[1] : "weight",
                                         settings: settings, tensor: t, mask: m))
        }
        try Pruning.generateMasks(targets, metric: metric)
        return outs.map(\.allValues)
    }

    @Test func exactCountsMatchPythonInt() {
        #expect(pruneCount(100, 0.29) == 28)  // 0.29 * 100 = 28.999999999999996
        #expect(pruneCount(10, 0.7) == 7)  // 7.000000000000001
        #expect(pruneCount(3, 0.8) == 2)
        #expect(pruneCount(5, 1.0) == 5)
        #expect(pruneCount(0, 0.5) == 0)
    }

    @Test func levelRatioAllDTypes() throws {
        let w: [Float] = [0.5, -0.1, 0.3, -0.7, 0.2, 0.05, -0.4, 0.9]
        for dtype in ElementType.allCases {
            let m = try Self.masks([("fc.weight", [2, 4], w, PruningSettings(sparseRatio: 0.5, granularity: .fineGrained))], metric: .level, dtype: dtype)
            #expect(m[0] == [1, 0, 0, 1, 0, 0, 1, 1], "\(dtype)")
        }
    }

    @Test func tiesPruneLowerIndexFirst() throws {
        let m = try Self.masks([("a.weight", [6], [1, 1, 1, 1, 1, 1], PruningSettings(sparseRatio: 0.5))], metric: .level)
        #expect(m[0] == [0, 0, 0, 1, 1, 1])
        // -0 and +0 tie.
        let z = try Self.masks([("a.weight", [4], [0, -0.0, 0, 2], PruningSettings(sparseRatio: 0.5))], metric: .level)
        #expect(z[0] == [0, 0, 1, 1])
    }

    @Test func stridedTargetAndMask() throws {
        let b = TestBuffers()
        // Weight stored transposed: logical [[1, 4], [2, 5], [3, 6]] -> values 1..6 at strides [1, 3].
        let store = try b.mutableView([1, 2, 3, 4, 5, 6] as [Float], shape: [6])
        let t = try TensorView(UnsafeRawPointer(store.pointer), shape: [3, 2], strides: [1, 3], dtype: .float32)
        let maskStore = try b.zeros([6], dtype: .float64)
        let mask = try MutableTensorView(maskStore.pointer, shape: [3, 2], strides: [1, 3], dtype: .float64)
        try Pruning.generateMasks([PruningTarget(moduleName: "m", targetName: "weight", settings: PruningSettings(sparseRatio: 0.5), tensor: t, mask: mask)], metric: .level)
        #expect(mask.allValues == [0, 1, 0, 1, 0, 1])  // logical order: values 1,4,2,5,3,6
        #expect(maskStore.allValues == [0, 0, 0, 1, 1, 1])
    }

    @Test func normsAndGranularities() throws {
        // 3 rows of 2: L1 = [3, 0.5, 2], L2 = [sqrt(5), 0.5, 2].
        let w: [Float] = [1, -2, 0.5, 0, 2, 0]
        let l1 = try Self.masks([("fc.weight", [3, 2], w, PruningSettings(sparseRatio: 0.5, granularity: .default))], metric: .l1Norm)
        #expect(l1[0] == [1, 1, 0, 0, 1, 1])
        // in_channel: columns L2 = [sqrt(1.25+4), 2] -> prune column 1.
        let ic = try Self.masks([("fc.weight", [3, 2], w, PruningSettings(sparseRatio: 0.5, granularity: .inChannel))], metric: .l2Norm)
        #expect(ic[0] == [1, 0, 1, 0, 1, 0])
        // Blocks [1, 2] on [2, 4]: block L1 = [3, 7, 0.5, 1] -> prune 2 smallest.
        let bw: [Float] = [1, 2, 3, 4, 0.25, 0.25, 0.5, 0.5]
        let bl = try Self.masks([("fc.weight", [2, 4], bw, PruningSettings(sparseRatio: 0.5, granularity: .blocks([1, 2])))], metric: .l1Norm)
        #expect(bl[0] == [1, 1, 1, 1, 0, 0, 0, 0])
        // Conv weight [2, 1, 2, 2] out_channel.
        let cw: [Float] = [1, 1, 1, 1, 0.1, 0.1, 0.1, 0.1]
        let cm = try Self.masks([("conv.weight", [2, 1, 2, 2], cw, PruningSettings(sparseRatio: 0.5, granularity: .outChannel))], metric: .l1Norm)
        #expect(cm[0] == [1, 1, 1, 1, 0, 0, 0, 0])
    }

    @Test func fpgm() throws {
        // Rows 0, 1, 3: distance sums 4, 3, 5 -> the middle row is pruned.
        let m = try Self.masks([("bn.weight", [3], [0, 1, 3], PruningSettings(sparseRatio: 0.34, granularity: .outChannel))], metric: .fpgm)
        #expect(m[0] == [1, 0, 1])
        #expect(throws: PruningError.self) {
            try Self.masks([("bn.weight", [3], [0, 1, 3], PruningSettings(sparseRatio: 0.5, granularity: .fineGrained))], metric: .fpgm)
        }
        #expect(fpgmRows([0, 0, 3, 4, 6, 8], rows: 3, dim: 2) == [15, 10, 15])
    }

    @Test func thresholdAndBounds() throws {
        let w: [Float] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
        let t = try Self.masks([("a.weight", [10], w, PruningSettings(sparseThreshold: 0.45))], metric: .level)
        #expect(t[0] == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
        // Threshold gives 0.4 < min 0.6 -> ratio 0.6.
        let lo = try Self.masks([("a.weight", [10], w, PruningSettings(minSparseRatio: 0.6, sparseThreshold: 0.45))], metric: .level)
        #expect(lo[0] == [0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
        // Ratio 0.9 bounded by max 0.3.
        let hi = try Self.masks([("a.weight", [10], w, PruningSettings(sparseRatio: 0.9, maxSparseRatio: 0.3))], metric: .level)
        #expect(hi[0] == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
    }

    @Test func globalGroup() throws {
        let a: [Float] = [1, 2, 3, 4]
        let b: [Float] = [0.1, 0.2, 5, 6]
        let g = PruningGroupID.string("g")
        let m = try Self.masks([("a.weight", [4], a, PruningSettings(sparseRatio: 0.5, globalGroupID: g)),
                                ("b.weight", [4], b, PruningSettings(sparseRatio: 0.5, globalGroupID: g))], metric: .level)
        #expect(m[0] == [0, 0, 1, 1] && m[1] == [0, 0, 1, 1])
        // Member bounds: b may lose at most 1 -> a loses 3.
        let bounded = try Self.masks([("a.weight", [4], a, PruningSettings(sparseRatio: 0.5, globalGroupID: g)),
                                      ("b.weight", [4], b, PruningSettings(sparseRatio: 0.5, maxSparseRatio: 0.25, globalGroupID: g))], metric: .level)
        #expect(bounded[0] == [0, 0, 0, 1] && bounded[1] == [0, 1, 1, 1])
        // Ratio 1 prunes everything.
        let all = try Self.masks([("a.weight", [4], a, PruningSettings(sparseRatio: 1, globalGroupID: g)),
                                  ("b.weight", [4], b, PruningSettings(sparseRatio: 1, globalGroupID: g))], metric: .level)
        #expect(all[0] == [0, 0, 0, 0] && all[1] == [0, 0, 0, 0])
    }

    @Test func dependencyGroup() throws {
        // Mean row L1: a = [1, 4, 2, 8], b = [9, 0, 2, 2] -> mean [5, 2, 2, 5]; prune 2 -> rows 1, 2.
        let d = PruningGroupID.int(1)
        let m = try Self.masks([("a.weight", [4, 1], [1, 4, 2, 8], PruningSettings(sparseRatio: 0.5, dependencyGroupID: d, granularity: .outChannel)),
                                ("b.weight", [4, 1], [9, 0, 2, 2], PruningSettings(sparseRatio: 0.5, dependencyGroupID: d, granularity: .outChannel))], metric: .l1Norm)
        #expect(m[0] == [1, 0, 0, 1] && m[1] == [1, 0, 0, 1])
        // internal_metric_block 2: halves [5, 2] and [2, 5] each lose one.
        let parts = try Self.masks([("a.weight", [4, 1], [1, 4, 2, 8], PruningSettings(sparseRatio: 0.5, dependencyGroupID: d, granularity: .outChannel, internalMetricBlock: 2)),
                                    ("b.weight", [4, 1], [9, 0, 2, 2], PruningSettings(sparseRatio: 0.5, dependencyGroupID: d, granularity: .outChannel))], metric: .l1Norm)
        #expect(parts[0] == [1, 0, 0, 1])
    }

    @Test func alignBiasAndApply() throws {
        let align = PruningAlign(targetName: "weight", dims: [0])
        let m = try Self.masks([("fc.weight", [2, 2], [1, 2, 0.1, 0.2], PruningSettings(sparseRatio: 0.5, granularity: .outChannel)),
                                ("fc.bias", [2], [5, 5], PruningSettings(align: align))], metric: .l1Norm)
        #expect(m[0] == [1, 1, 0, 0] && m[1] == [1, 0])
        let b = TestBuffers()
        let mask = try b.mutableView([1, 0, 1] as [Float], shape: [3]).readOnly
        let x = try b.mutableView([2, 3, 4] as [Float], shape: [3])
        try Pruning.applyMask(mask, to: x, method: .mul)
        #expect(x.allValues == [2, 0, 4])
        let y = try b.mutableView([2, 3, 4], shape: [3], dtype: .bfloat16)
        try Pruning.applyMask(mask, to: y, method: .add)
        #expect(y.allValues == [2, -996, 4])  // 3 - 1000 rounded to bfloat16's 8 significant bits
    }

    /// A fine-grained source is written straight into the caller's mask (no byte mask); the aligned
    /// bias is reduced from that mask, in every dtype, for a per-target ratio and a global group.
    @Test func alignToFineGrainedSource() throws {
        let align = PruningAlign(targetName: "weight", dims: [0])
        // Rows of |w|: [0.1 0.2 0.3] [4 5 6] [0.05 0.01 0.02]: level 0.5 prunes int(9 * 0.5) = 4, the
        // smallest: 0.01, 0.02, 0.05, 0.1 -> row 2 all pruned, row 0 keeps 0.2 and 0.3.
        let w: [Float] = [0.1, -0.2, 0.3, 4, -5, 6, 0.05, 0.01, -0.02]
        for dtype in ElementType.allCases {
            let m = try Self.masks([("fc.weight", [3, 3], w, PruningSettings(sparseRatio: 0.5, granularity: .fineGrained)),
                                    ("fc.bias", [3], [1, 1, 1], PruningSettings(align: align))], metric: .level, dtype: dtype)
            #expect(m[0] == [0, 1, 1, 1, 1, 1, 0, 0, 0], "\(dtype)")
            #expect(m[1] == [1, 1, 0], "\(dtype)")
        }
        // Aligned over dim 1 (the last dim is kept: every kept value marks its column). |w| 0.01,
        // 0.05, 0.1, 0.2 pruned -> mask [0 1 1, 0 1 1, 0 1 0]: column 0 all pruned.
        let columns = PruningAlign(targetName: "weight", dims: [1])
        let wc: [Float] = [0.1, 5, 0.3, -0.2, 6, 0.4, 0.05, 7, -0.01]
        for dtype in ElementType.allCases {
            let m = try Self.masks([("fc.weight", [3, 3], wc, PruningSettings(sparseRatio: 0.5, granularity: .fineGrained)),
                                    ("fc.bias", [3], [1, 1, 1], PruningSettings(align: columns))], metric: .level, dtype: dtype)
            #expect(m[0] == [0, 1, 1, 0, 1, 1, 0, 1, 0], "\(dtype)")
            #expect(m[1] == [0, 1, 1], "\(dtype)")
        }
        // A 4-D weight [2, 2, 1, 2] aligned over dim 0, pruned in a global group with another target:
        // budget int(12 * 0.5) = 6 of |values| 1...12 -> 1...6 pruned: out channel 0 (1...4) all,
        // out channel 1 (5...8) keeps 7 and 8; the other target keeps all.
        let g = PruningSettings(sparseRatio: 0.5, globalGroupID: .string("g"), granularity: .fineGrained)
        let conv: [Float] = [1, -2, 3, 4, 5, 6, -7, 8]
        let m = try Self.masks([("c.weight", [2, 2, 1, 2], conv, g),
                                ("c.bias", [2], [1, 1], PruningSettings(align: align)),
                                ("d.weight", [4], [9, 10, 11, 12], g)], metric: .level)
        #expect(m[0] == [0, 0, 0, 0, 0, 0, 1, 1])
        #expect(m[1] == [0, 1])
        #expect(m[2] == [1, 1, 1, 1])
    }

    @Test func settingsFromDict() throws {
        let s = try PruningSettings(["sparse_ratio": 0.8, "granularity": [2, -1], "global_group_id": "g",
                                     "align": ["module_name": nil, "target_name": "weight", "dims": [0]], "apply_method": "add"],
                                    target: "fc.weight")
        #expect(s.sparseRatio == 0.8 && s.granularity == .blocks([2, -1]) && s.globalGroupID == .string("g"))
        #expect(s.align == PruningAlign(targetName: "weight", dims: [0]) && s.applyMethod == .add)
        #expect(try PruningSettings([:], target: "x").granularity == .fineGrained)
        for bad: ConfigObject in [["sparse_ratio": 1.5], ["sparse_ratio": .double(.nan)], ["sparse_ratio": "0.5"],
                                  ["granularity": "rows"], ["granularity": [0]], ["apply_method": "scale"],
                                  ["global_group_id": 1.5], ["align": ["dims": [0]]], ["internal_metric_block": -1]] {
            #expect(throws: PruningError.self) { try PruningSettings(bad, target: "conv1.weight") }
        }
        let e = #expect(throws: PruningError.self) { try PruningSettings(["sparse_ratio": 1.5], target: "conv1.weight") }
        #expect(e?.description == "conv1.weight: sparse_ratio: expected a number in [0, 1], got 1.5")
    }

    @Test func errorsNameTheTarget() throws {
        func fails(_ specs: [(String, [Int], [Float], PruningSettings)], _ kind: PruningError.Kind, _ target: String,
                   metric: PruningMetricKind = .l1Norm) {
            let error = #expect(throws: PruningError.self) { try Self.masks(specs, metric: metric) }
            #expect(error?.kind == kind && error?.target == target, "\(String(describing: error))")
        }
        let d = PruningGroupID.int(3)
        fails([("a.weight", [2, 2], [1, 2, 3, 4], PruningSettings(sparseRatio: 0.5, dependencyGroupID: d)),
               ("b.weight", [3, 2], [1, 2, 3, 4, 5, 6], PruningSettings(sparseRatio: 0.5, dependencyGroupID: d))], .groupMismatch, "b.weight")
        fails([("a.weight", [2], [1, 2], PruningSettings(sparseRatio: 0.5, globalGroupID: d)),
               ("b.weight", [2], [1, 2], PruningSettings(sparseRatio: 0.4, globalGroupID: d))], .groupMismatch, "b.weight")
        fails([("a.bias", [2], [1, 2], PruningSettings(align: PruningAlign(moduleName: "nope", targetName: "weight", dims: [0])))],
              .missingAlignSource, "a.bias")
        fails([("bn.weight", [4], [1, 2, 3, 4], PruningSettings(sparseRatio: 0.5, granularity: .inChannel))], .invalidGranularity, "bn.weight")
        fails([("fc.weight", [3, 2], [1, 2, 3, 4, 5, 6], PruningSettings(sparseRatio: 0.5, granularity: .blocks([2, 1])))], .invalidGranularity, "fc.weight")
        fails([("fc.weight", [2], [1, 2], PruningSettings(sparseRatio: 2))], .invalidSetting, "fc.weight")
        fails([("fc.weight", [2], [1, 2], PruningSettings(sparseRatio: .nan))], .invalidSetting, "fc.weight")
        fails([("fc.weight", [2], [1, 2], PruningSettings(sparseRatio: 0.5))], .invalidMetric, "fc.weight", metric: .supplied)
        // Mask of the wrong shape.
        let b = TestBuffers()
        let t = try b.view([1, 2, 3, 4], shape: [4])
        let m = try b.zeros([2, 2])
        #expect(throws: PruningError.self) {
            try Pruning.generateMasks([PruningTarget(moduleName: "conv1", targetName: "weight", settings: PruningSettings(sparseRatio: 0.5), tensor: t, mask: m)], metric: .level)
        }
    }

    @Test func suppliedMetric() throws {
        let b = TestBuffers()
        let t = try b.view([1, 2, 3, 4, 5, 6], shape: [3, 2])
        let metric = try b.view([3, -1, 2], shape: [3])
        let m = try b.zeros([3, 2])
        try Pruning.generateMasks([PruningTarget(moduleName: "fc", targetName: "weight", settings: PruningSettings(sparseRatio: 0.34, granularity: .outChannel),
                                                 tensor: t, mask: m, metric: metric)], metric: .supplied)
        #expect(m.allValues == [1, 1, 0, 0, 1, 1])
    }

    @Test func schedules() throws {
        #expect(try SparsitySchedule.linear.factor(step: 1, totalSteps: 4) == 0.25)
        #expect(try SparsitySchedule.agp.factor(step: 0, totalSteps: 4) == 0)
        #expect(try SparsitySchedule.agp.factor(step: 4, totalSteps: 4) == 1)
        #expect(try SparsitySchedule.agp.factor(step: 1, totalSteps: 3) == 0.7037037037037036)  // Python: 1 - (1 - 1/3) ** 3
        let s = try SparsitySchedule.agp.settings(PruningSettings(sparseRatio: 0.8), step: 2, totalSteps: 4)
        #expect(s.sparseRatio == 0.8 * 0.875)
        #expect(throws: PruningError.self) { try SparsitySchedule.linear.factor(step: 5, totalSteps: 4) }
        #expect(throws: PruningError.self) { try SparsitySchedule.linear.factor(step: 0, totalSteps: 0) }
    }
}
