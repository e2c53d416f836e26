import Testing
@testable import SwiftCompress

/// `mask_structure: "N:M"` and Wanda (issue 15): hand-computed masks for every dtype, Linear and
/// conv weights, every metric; the errors; Wanda's accumulator and metric.
@Suite struct NMWandaTests {
    static func masks(_ shape: [Int], _ values: [Float], _ settings: PruningSettings, metric: PruningMetricKind = .level,
                      dtype: ElementType = .float32, supplied: [Double]? = nil, suppliedShape: [Int]? = nil) throws -> [Double] {
        let b = TestBuffers()
        let t = try b.mutableView(values.map(Double.init), shape: shape, dtype: dtype).readOnly
        let m = try b.mutableView([Double](repeating: 9, count: values.count), shape: shape, dtype: dtype)
        var target = PruningTarget(moduleName: "fc", targetName: "weight", settings: settings, tensor: t, mask: m)
        if let supplied {
            target.metric = try b.mutableView(supplied, shape: suppliedShape ?? shape, dtype: .float32).readOnly
        }
        try Pruning.generateMasks([target], metric: metric)
        return m.allValues
    }

    static let nm24 = PruningSettings(sparseRatio: 0.5, granularity: .fineGrained, maskStructure: PruningMaskStructure(n: 2, m: 4))

    /// Linear [2, 8], 2:4: in each group of 4 along dim 1 the 2 smallest |w| are pruned.
    /// Row 0 groups |.| (0.5 0.1 0.3 0.7) -> prune 0.1, 0.3; (0.2 0.05 0.4 0.9) -> prune 0.05, 0.2.
    /// Row 1 (1 2 3 4) -> prune 1, 2; (4 3 2 1) -> prune 2, 1.
    @Test func linear24EveryDType() throws {
        let w: [Float] = [0.5, -0.1, 0.3, -0.7, 0.2, 0.05, -0.4, 0.9,
                          1, 2, 3, 4, -4, -3, -2, -1]
        let want: [Double] = [1, 0, 0, 1, 0, 0, 1, 1,
                              0, 0, 1, 1, 1, 1, 0, 0]
        for dtype in ElementType.allCases {
            #expect(try Self.masks([2, 8], w, Self.nm24, dtype: dtype) == want, "\(dtype)")
            // Without sparse_ratio: mask_structure alone activates the target.
            #expect(try Self.masks([2, 8], w, PruningSettings(maskStructure: PruningMaskStructure(n: 2, m: 4)), dtype: dtype) == want, "\(dtype)")
        }
    }

    /// The vector N:4 loops (values and masks of one width) against the scalar loop (values and
    /// masks of different widths) on 1 001 groups of values with many ties, -0, ±inf and NaN, for
    /// 1:4, 2:4 and 3:4 in three dtypes (1 001 groups: the 16-bit vector loop leaves a tail); and NaN
    /// hand-computed.
    @Test func groupsOfFourVectorEqualsScalar() throws {
        let b = TestBuffers()
        let groups = 1001, n = 4 * 1001
        var vals: [Double] = (0..<n).map { (i: Int) -> Double in Double((i &* 7919) % 13) * 0.25 - 1.5 }
        for j in stride(from: 5, to: n, by: 37) { vals[j] = .nan }
        for j in stride(from: 11, to: n, by: 53) { vals[j] = j % 2 == 0 ? Double.infinity : -Double.infinity }
        for j in stride(from: 17, to: n, by: 41) { vals[j] = -0.0 }
        for dtype in [ElementType.bfloat16, .float16, .float32] {
            let t = try b.mutableView(vals, shape: [n], dtype: dtype)
            let metric = Metric(values: .magnitude(t.readOnly), count: n, singlePrecision: true)
            for prune in 1...3 {
                let same = try b.zeros([n], dtype: dtype)
                let other = try b.zeros([n], dtype: dtype == .float32 ? .bfloat16 : .float32)
                #expect(Pruning.groupsOfFour(metric, prune: prune, mask: same))
                #expect(Pruning.groupsOfFour(metric, prune: prune, mask: other))
                #expect(same.allValues == other.allValues, "\(dtype) \(prune):4")
                #expect(same.allValues.filter { $0 == 0 }.count == prune * groups, "\(dtype) \(prune):4")
            }
        }
        // NaN above every magnitude, NaNs equal among themselves (the lower index first).
        let w: [Float] = [.nan, 1, 2, 3, .nan, .nan, .nan, .nan, 0, .nan, .infinity, 5, 1, -1, 1, -1]
        let want: [Double] = [1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 0, 0, 1, 1]
        for dtype in [ElementType.bfloat16, .float16, .float32] {
            #expect(try Self.masks([1, 16], w, Self.nm24, dtype: dtype) == want, "\(dtype)")
        }
    }

    /// Ties: the lower index is pruned first. 1:4 of a constant row prunes the first of each group.
    @Test func tiesLowerIndexFirst() throws {
        let m = try Self.masks([1, 8], [Float](repeating: 1, count: 8), PruningSettings(maskStructure: PruningMaskStructure(n: 1, m: 4)))
        #expect(m == [0, 1, 1, 1, 0, 1, 1, 1])
        let m3 = try Self.masks([1, 4], [2, 1, 1, 2], PruningSettings(maskStructure: PruningMaskStructure(n: 3, m: 4)))
        #expect(m3 == [0, 0, 0, 1])  // 1, 1 (indices 1, 2), then the first 2 (index 0)
    }

    /// Conv weights [out, in, kh, kw]: groups run along the flattened dims 1... of each output row.
    @Test func convGroupsAlongFlattenedInputDims() throws {
        // [2, 2, 1, 2], 1:2: row 0 = (3 -1 | 2 5) -> prune -1, 2; row 1 = (0.25 0.5 | 7 -6) -> prune 0.25, -6.
        for dtype in ElementType.allCases {
            let m = try Self.masks([2, 2, 1, 2], [3, -1, 2, 5, 0.25, 0.5, 7, -6],
                                   PruningSettings(sparseRatio: 0.5, maskStructure: PruningMaskStructure(n: 1, m: 2)), dtype: dtype)
            #expect(m == [1, 0, 0, 1, 0, 1, 1, 0], "\(dtype)")
        }
        // [1, 2, 2, 2], 2:4: a group spans kernel positions of two input channels (1 2 3 4 | 8 7 6 5).
        let m = try Self.masks([1, 2, 2, 2], [1, 2, 3, 4, 8, 7, 6, 5], Self.nm24)
        #expect(m == [0, 0, 1, 1, 1, 1, 0, 0])
    }

    /// Every metric: L1 over blocks [1, 2] (groups of 4 blocks per row), a supplied metric, Wanda.
    @Test func everyMetric() throws {
        // Row (1 1 | 5 5 | 2 2 | 9 9): block L1 (2 10 4 18), 2:4 prunes blocks 0 and 2.
        let l1 = try Self.masks([1, 8], [1, 1, 5, 5, 2, 2, 9, 9],
                                PruningSettings(sparseRatio: 0.5, granularity: .blocks([1, 2]), maskStructure: PruningMaskStructure(n: 2, m: 4)),
                                metric: .l1Norm)
        #expect(l1 == [0, 0, 1, 1, 0, 0, 1, 1])
        // A supplied metric decides, not |w|.
        let sup = try Self.masks([1, 4], [1, 2, 3, 4], Self.nm24, metric: .supplied, supplied: [4, 3, 2, 1])
        #expect(sup == [1, 1, 0, 0])
        let wanda = try Self.masks([1, 4], [1, 2, 3, 4], Self.nm24, metric: .wanda, supplied: [4, 1, 3, 2])
        #expect(wanda == [1, 0, 1, 0])
    }

    /// Wanda without N:M: sparse_ratio per output row (the paper's comparison group), not per target.
    @Test func wandaRatioPerOutputRow() throws {
        let metric: [Double] = [4, 1, 3, 2, 10, 20, 30, 5]
        let s = PruningSettings(sparseRatio: 0.5)
        let perRow = try Self.masks([2, 4], [Float](repeating: 1, count: 8), s, metric: .wanda, supplied: metric)
        #expect(perRow == [1, 0, 1, 0, 0, 1, 1, 0])
        // The same metric supplied to the ordinary ratio rule ranks the whole target.
        let whole = try Self.masks([2, 4], [Float](repeating: 1, count: 8), PruningSettings(sparseRatio: 0.5, granularity: .fineGrained),
                                   metric: .supplied, supplied: metric)
        #expect(whole == [0, 0, 0, 0, 1, 1, 1, 1])  // the four smallest: 1, 2, 3, 4 (all in row 0)
        // Bounds apply per row: max_sparse_ratio 0.25 prunes one per row.
        let bounded = try Self.masks([2, 4], [Float](repeating: 1, count: 8), PruningSettings(sparseRatio: 0.5, maxSparseRatio: 0.25),
                                     metric: .wanda, supplied: metric)
        #expect(bounded == [1, 0, 1, 1, 1, 1, 1, 0])
    }

    @Test func errorsNameTargetAndKey() throws {
        // A row of 6 is not divisible by M = 4.
        let e = #expect(throws: EngineError.self) { try Self.masks([2, 6], [Float](repeating: 1, count: 12), Self.nm24) }
        #expect(e?.description.hasPrefix("fc.weight: mask_structure: ") == true, "\(e?.description ?? "")")
        #expect(e?.description.contains("row of 6") == true)
        // sparse_ratio other than N/M.
        let r = #expect(throws: EngineError.self) {
            try Self.masks([1, 4], [1, 2, 3, 4], PruningSettings(sparseRatio: 0.3, maskStructure: PruningMaskStructure(n: 2, m: 4)))
        }
        #expect(r?.description == "fc.weight: sparse_ratio: expected N/M = 0.5 with mask_structure '2:4' (or no sparse_ratio), got 0.3")
        // N > M set directly.
        #expect(throws: EngineError.self) { try Self.masks([1, 4], [1, 2, 3, 4], PruningSettings(maskStructure: PruningMaskStructure(n: 5, m: 4))) }
    }

    @Test func configErrorsNameIndexKeyPathExpectedGiven() throws {
        let ratio = errorMessage(#"[{"op_names": ["fc1"], "sparse_ratio": 0.3, "mask_structure": "2:4"}]"#)
        #expect(ratio == "config_list[0] (fc1.weight).sparse_ratio: expected N/M = 0.5 with mask_structure '2:4' (or no sparse_ratio), got 0.3")
        let bad = errorMessage(#"[{"op_names": ["fc1"], "target_settings": {"weight": {"mask_structure": "2-4"}}}]"#)
        #expect(bad == "config_list[0].target_settings.weight.mask_structure: expected 'N:M' with ints 0 <= N <= M and M >= 1 (e.g. '2:4'), or '0:0' (unstructured), got '2-4'")
        let group = errorMessage(#"[{"op_names": ["fc1"], "sparse_ratio": 0.5, "global_group_id": 1, "mask_structure": "2:4"}]"#)
        #expect(group.hasPrefix("config_list[0] (fc1.weight).global_group_id: expected no global_group_id with mask_structure '2:4'"))
        // '0:0' is unstructured: no N:M settings, the plan is the plain ratio's.
        let p = try plan(#"[{"op_names": ["fc1"], "sparse_ratio": 0.5, "mask_structure": "0:0"}]"#)
        #expect(p.target(module: "fc1", name: "weight")?.pruning?.maskStructure == nil)
        // As a shorthand key it reaches the weight (whose template has sparse_ratio), not the bias.
        let q = try plan(#"[{"op_names": ["fc1"], "mask_structure": "2:4"}]"#)
        #expect(q.target(module: "fc1", name: "weight")?.pruning?.maskStructure == PruningMaskStructure(n: 2, m: 4))
        #expect(q.target(module: "fc1", name: "bias")?.settings["mask_structure"] == nil)
        #expect(q.target(module: "fc1", name: "weight")?.facts()["prunes"] == true)
    }

    @Test func explainReportShowsMaskStructure() throws {
        let p = try plan(#"[{"op_names": ["fc1"], "sparse_ratio": 0.5, "mask_structure": "2:4"}]"#)
        let text = p.report.table
        #expect(text.contains("mask_structure='2:4'"), "\(text)")
    }

    /// Wanda's accumulator: per channel, the sum of squares over every token (and batch / spatial position).
    @Test func wandaAccumulatorAndMetric() throws {
        let b = TestBuffers()
        let norms = try b.zeros([3], dtype: .float64)
        let x = try b.view([1, 2, 3, 4, 5, 6], shape: [2, 3])
        try WandaMetrics.accumulate(norms: norms, input: x, channelDim: -1, reset: true, name: "fc")
        #expect(norms.allValues == [17, 29, 45])
        try WandaMetrics.accumulate(norms: norms, input: x, channelDim: 1, reset: false, name: "fc")
        #expect(norms.allValues == [34, 58, 90])
        // A conv input [N, C, L] = [1, 2, 2]: channel 0 = (1, 2), channel 1 = (3, 4).
        let cn = try b.zeros([2], dtype: .float64)
        try WandaMetrics.accumulate(norms: cn, input: try b.view([1, 2, 3, 4], shape: [1, 2, 2]), channelDim: 1, reset: true, name: "conv")
        #expect(cn.allValues == [5, 25])
        // Metric: |W| * sqrt(norms[j]) with norms (4, 9, 16).
        let w = try b.view([1, -2, 3, -4, 5, -6], shape: [2, 3])
        let n = try b.mutableView([4, 9, 16], shape: [3], dtype: .float64).readOnly
        let out = try b.zeros([2, 3])
        try WandaMetrics.metric(weight: w, norms: n, into: out, name: "fc.weight")
        #expect(out.allValues == [2, 6, 12, 8, 15, 24])
        // Conv weight [1, 2, 1, 2]: kernel positions share their channel's norm.
        let cw = try b.view([1, 1, 1, 1], shape: [1, 2, 1, 2])
        let co = try b.zeros([1, 2, 1, 2], dtype: .bfloat16)
        try WandaMetrics.metric(weight: cw, norms: try b.mutableView([4, 9], shape: [2], dtype: .float64).readOnly, into: co, name: "c")
        #expect(co.allValues == [2, 2, 3, 3])
        // Errors: wrong channel count, dim out of range, negative norm.
        #expect(throws: EngineError.self) { try WandaMetrics.accumulate(norms: norms, input: x, channelDim: 0, reset: true, name: "fc") }
        #expect(throws: EngineError.self) { try WandaMetrics.accumulate(norms: norms, input: x, channelDim: 2, reset: true, name: "fc") }
        let neg = try b.mutableView([4, -1, 16], shape: [3], dtype: .float64).readOnly
        #expect(throws: EngineError.self) { try WandaMetrics.metric(weight: w, norms: neg, into: out, name: "fc.weight") }
    }
}
