import Testing
@testable import SwiftCompress

/// The paths added for speed: masks written straight from a cut (tie handling per chunk), the
/// one-pass fused cut with its fallback, the radix selection with per-chunk tie counts, and the
/// Gram form of FPGM. Expected masks are hand-computed: the rule is "prune the k smallest
/// (|w|, target, index)", so with ties the lowest indices go first.
@Suite struct PruningFastPathTests {
    static func run(_ specs: [(String, [Int], [Float], PruningSettings)], metric: PruningMetricKind = .level,
                    maskType: ElementType = .float32) throws -> [[Double]] {
        let b = TestBuffers()
        var targets: [PruningTarget] = []
        var outs: [MutableTensorView] = []
        for (name, shape, values, settings) in specs {
            let parts = name.split(separator: ".").map(String.init)
            let t = try b.view(values, shape: shape)
            let m = try b.mutableView([Double](repeating: 9, count: values.count), shape: shape, dtype: maskType)
            outs.append(m)
            targets.append(PruningTarget(moduleName: parts[0], targetName: parts.count > 1 ? parts[1] : "weight",
                                         settings: settings, tensor: t, mask: m))
        }
        try Pruning.generateMasks(targets, metric: metric)
        return outs.map(\.allValues)
    }

    /// `body` applied to the rows of `a` (row-major float32).
    static func rows(_ a: [Float], _ body: (UnsafePointer<Float>) -> [Double]) -> [Double] {
        a.withUnsafeBufferPointer { p in p.baseAddress.map(body) ?? [] }
    }

    /// Indices of the zeros of a mask.
    static func zeros(_ m: [Double]) -> [Int] { m.indices.filter { m[$0] == 0 } }

    @Test func directMaskTiesHandComputed() throws {
        // |w| sorted: 0 (7), 1 (1, 3, 4, 6), 2, 3, 4; k = 4 -> index 7, then ties 1, 3, 4.
        let w: [Float] = [3, 1, -2, -1, 1, 4, 1, -0.0]
        for maskType in [ElementType.float32, .float64, .float16] {
            let m = try Self.run([("fc.weight", [2, 4], w, PruningSettings(sparseRatio: 0.5))], maskType: maskType)
            #expect(m[0] == [1, 0, 1, 0, 0, 1, 1, 0], "\(maskType)")
        }
        // Strided mask (transposed storage), ties at the cut: logical order is what counts.
        let b = TestBuffers()
        let t = try b.view([2, 2, 2, 1, 2, 3], shape: [6])
        let store = try b.zeros([6], dtype: .float64)
        let mask = try MutableTensorView(store.pointer, shape: [6], strides: [1], dtype: .float64)
        try Pruning.generateMasks([PruningTarget(moduleName: "a", targetName: "weight",
                                                 settings: PruningSettings(sparseRatio: 0.5), tensor: t, mask: mask)], metric: .level)
        #expect(mask.allValues == [0, 0, 1, 0, 1, 1])  // 1 (index 3), then the first two 2s
        // NaN is the largest: kept last.
        let n = try Self.run([("a.weight", [4], [.nan, 5, 0.5, 7], PruningSettings(sparseRatio: 0.75))])
        #expect(n[0] == [1, 0, 0, 0])
    }

    @Test func globalTiesAcrossTargets() throws {
        // Order (|w|, target, index): b2 (0), then the 1s a0 a1 a2 a3 b0 b1 b3; budget 4 of 8.
        let g = PruningGroupID.string("g")
        let m = try Self.run([("a.weight", [4], [1, -1, 1, 1], PruningSettings(sparseRatio: 0.5, globalGroupID: g)),
                              ("b.weight", [4], [1, 1, 0, 1], PruningSettings(sparseRatio: 0.5, globalGroupID: g))])
        #expect(m[0] == [0, 0, 0, 1] && m[1] == [1, 1, 0, 1])
    }

    /// 600,000 values: 4 chunks of `metricChunks`, above the fused form's minimum size.
    static let large = 600_000

    @Test func largeTiesEveryPath() throws {
        #expect(metricChunks(Self.large).count == 4)
        let ones = [Float](repeating: 1, count: Self.large)
        // Distinct values i + 1, except index 500,000 which repeats the value 11 of index 10.
        var distinct = (0..<Self.large).map { Float($0 + 1) }
        distinct[500_000] = 11
        // Direct targets take the fused one-pass form; a threshold that prunes nothing makes the
        // target use the radix form with a byte mask (counts of 3 or more ties recounted per chunk).
        for threshold in [nil, -1.0] as [Double?] {
            // All ties: the first 150,000 indices.
            let a = try Self.run([("a.weight", [Self.large], ones, PruningSettings(sparseRatio: 0.25, sparseThreshold: threshold))])
            #expect(Self.zeros(a[0]) == Array(0..<150_000), "threshold \(String(describing: threshold))")
            // k = 11: values 1...10 and the first 11 (index 10); index 500,000 is kept.
            let b = try Self.run([("a.weight", [Self.large], distinct, PruningSettings(sparseRatio: 11.5 / 600_000, sparseThreshold: threshold))])
            #expect(Self.zeros(b[0]) == Array(0...10), "threshold \(String(describing: threshold))")
            // k = 12: both 11s.
            let c = try Self.run([("a.weight", [Self.large], distinct, PruningSettings(sparseRatio: 12.5 / 600_000, sparseThreshold: threshold))])
            #expect(Self.zeros(c[0]) == Array(0...10) + [500_000], "threshold \(String(describing: threshold))")
        }
    }

    @Test func radixCutWrittenChunkByChunk() throws {
        // The radix form (used when the fused form cannot decide) with the cut written straight into
        // float32 and float64 masks: ties placed per chunk from the 2-bit digit counts.
        let n = Self.large
        var distinct = (0..<n).map { Float($0 + 1) }
        distinct[500_000] = 11
        let cases: [([Float], Int, [Int])] = [
            ([Float](repeating: 1, count: n), 150_000, Array(0..<150_000)),
            (distinct, 11, Array(0...10)),
            (distinct, 12, Array(0...10) + [500_000]),
        ]
        let b = TestBuffers()
        for (values, k, expected) in cases {
            let t = try b.view(values, shape: [n])
            let metric = Metric(values: .magnitude(t), count: n, singlePrecision: true)
            let cut = orderedCuts([metric], count: k, wide: false)[0]
            for maskType in [ElementType.float32, .float64] {
                let m = try b.zeros([n], dtype: maskType)
                for (c, r) in metricChunks(n).enumerated() {
                    Pruning.writeCut(cut, metric: metric, chunk: c, range: r, mask: m)
                }
                #expect(Self.zeros(m.allValues) == expected, "k \(k), \(maskType)")
            }
        }
    }

    @Test func largeGlobalTiesAcrossTargets() throws {
        // Two targets of 300,000 ones and one of zeros: budget int(900,000 * 0.5) = 450,000 =
        // the 300,000 zeros of c, then the first 150,000 ones in (target, index) order: a[0..<150,000].
        let g = PruningGroupID.int(1)
        let ones = [Float](repeating: 1, count: 300_000)
        let zeroes = [Float](repeating: 0, count: 300_000)
        let m = try Self.run([("a.weight", [300_000], ones, PruningSettings(sparseRatio: 0.5, globalGroupID: g)),
                              ("b.weight", [300_000], ones, PruningSettings(sparseRatio: 0.5, globalGroupID: g)),
                              ("c.weight", [300_000], zeroes, PruningSettings(sparseRatio: 0.5, globalGroupID: g))])
        #expect(Self.zeros(m[0]) == Array(0..<150_000))
        #expect(Self.zeros(m[1]).isEmpty)
        #expect(Self.zeros(m[2]).count == 300_000)
    }

    @Test func fusedFormFallsBackWhenCandidatesOverflow() throws {
        // Every value equal: every key is a candidate. With room for 1,000 candidates the fused form
        // gives up (returns false); with the default room it decides: the first 40,000 indices.
        let n = 100_000
        let b = TestBuffers()
        let t = try b.view([Float](repeating: 0.5, count: n), shape: [n])
        let m = try b.zeros([n])
        let metric = Metric(values: .magnitude(t), count: n, singlePrecision: true)
        #expect(!fusedCutAndWrite([metric], masks: [m], count: 40_000, candidateLimit: 1_000))
        #expect(fusedCutAndWrite([metric], masks: [m], count: 40_000))
        #expect(Self.zeros(m.allValues) == Array(0..<40_000))
        // Too small for the fused form: the caller uses the radix form.
        #expect(!fusedCutAndWrite([metric], masks: [m], count: 0))
    }

    @Test func keyAtRankHandComputed() {
        var keys: [UInt32] = [5, 3, 9, 3, 1]
        let r2 = keyAtRank(&keys, 2), r4 = keyAtRank(&keys, 4)
        #expect(r2.key == 3 && r2.less == 1)  // sorted 1 3 3 5 9
        #expect(r4.key == 9 && r4.less == 4)
        #expect(keys == [5, 3, 9, 3, 1])  // not reordered
        // 3000 keys (11-bit digits): 0x10000 * (i % 1000) for i < 3000 -> rank 1500 is the 500th value.
        var many = (0..<3000).map { UInt32($0 % 1000) << 16 }
        let r = keyAtRank(&many, 1500)
        #expect(r.key == 500 << 16 && r.less == 1500)
    }

    @Test func fpgmGramForm() throws {
        // Rows c_i * e_i (orthogonal): dist(i, j) = sqrt(c_i^2 + c_j^2).
        let rows = 7, dim = 16
        let c: [Double] = [1, 2, 3, 4, 5, 6, 7]
        var a = [Float](repeating: 0, count: rows * dim)
        for i in 0..<rows { a[i * dim + i] = Float(c[i]) }
        var expected = [Double](repeating: 0, count: rows)
        for i in 0..<rows {
            for j in 0..<rows where j != i {
                let d2: Double = c[i] * c[i] + c[j] * c[j]
                expected[i] += d2.squareRoot()
            }
        }
        let gram = Self.rows(a) { fpgmRowsGram($0, rows: rows, dim: dim) }
        let direct = Self.rows(a) { fpgmRowsDirect($0, rows: rows, dim: dim) }
        #expect(gram.count == rows && direct.count == rows)
        for i in 0..<min(rows, gram.count, direct.count) {
            #expect(abs(gram[i] - expected[i]) <= 1e-9 * expected[i], "row \(i)")
            #expect(abs(direct[i] - expected[i]) <= 1e-9 * expected[i])
        }
    }

    @Test func fpgmGramFormCloseRowsAndTiles() throws {
        // 200 rows of 20 (two panels, partial 3-row blocks). Rows 0 and 1 differ in one value by
        // 2^-10: the Gram form would lose that distance, so it is recomputed from the differences.
        let rows = 200, dim = 20
        var a = [Float](repeating: 0, count: rows * dim)
        var state: UInt32 = 12345
        for i in a.indices {
            state = state &* 1_103_515_245 &+ 12345
            a[i] = Float(Int(state >> 16) % 2001 - 1000) / 256  // exact in Float
        }
        for k in 0..<dim { a[dim + k] = a[k] }
        a[dim] += 1.0 / 1024
        // Exact distances in Double.
        var expected = [Double](repeating: 0, count: rows)
        for i in 0..<rows {
            for j in 0..<rows where j != i {
                var s = 0.0
                for k in 0..<dim { let d = Double(a[i * dim + k]) - Double(a[j * dim + k]); s += d * d }
                expected[i] += s.squareRoot()
            }
        }
        let got = Self.rows(a) { fpgmRows($0, rows: rows, dim: dim) }
        #expect(got.count == rows)
        for i in 0..<min(rows, got.count) { #expect(abs(got[i] - expected[i]) <= 1e-6 * expected[i], "row \(i)") }
        // The pair (0, 1) itself: 2^-10 exactly, seen through the sums of a 2-row matrix.
        let pair = Self.rows(a) { fpgmRowsGram($0, rows: 2, dim: dim) }
        #expect(pair == [1.0 / 1024, 1.0 / 1024])
    }
}
