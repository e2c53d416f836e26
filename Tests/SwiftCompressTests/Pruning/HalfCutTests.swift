import Testing
@testable import SwiftCompress

/// 16-bit targets on the fast path (issue 15): the masks of bfloat16 / float16 weights equal the
/// float32 masks of the same values (per target, in a global group of one dtype, in a global group
/// of mixed dtypes), with ties, ±0, ±inf and NaN among the values.
@Suite struct HalfCutTests {
    /// Deterministic values with many ties once rounded to 16 bits, and the special values.
    static func values(_ n: Int, seed: UInt64) -> [Double] {
        var s = seed
        var out = [Double](repeating: 0, count: n)
        for i in 0..<n {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            let u = Double(s >> 11) / Double(1 << 53)
            out[i] = (u - 0.5) * 4
        }
        let specials: [Double] = [0, -0.0, .infinity, -.infinity, .nan, -.nan, 1e-8, -1e-8, 65504, 3e38]
        for (j, x) in specials.enumerated() where j * 97 < n { out[j * 97] = x }
        return out
    }

    /// Masks for targets of `dtypes` holding `data` (each rounded to its dtype first), written in
    /// each target's dtype; and the masks of float32 targets holding the same (rounded) values.
    static func masks(_ data: [[Double]], dtypes: [ElementType], settings: PruningSettings) throws -> (half: [[Double]], single: [[Double]]) {
        let b = TestBuffers()
        var half: [PruningTarget] = [], single: [PruningTarget] = []
        var hm: [MutableTensorView] = [], sm: [MutableTensorView] = []
        for (i, (vals, dt)) in zip(data, dtypes).enumerated() {
            let shape = [vals.count / 8, 8]
            let t = try b.mutableView(vals, shape: shape, dtype: dt)
            let rounded = t.allValues
            let m = try b.mutableView([Double](repeating: 9, count: vals.count), shape: shape, dtype: dt)
            let t32 = try b.mutableView(rounded, shape: shape, dtype: .float32)
            let m32 = try b.mutableView([Double](repeating: 9, count: vals.count), shape: shape, dtype: .float32)
            hm.append(m); sm.append(m32)
            half.append(PruningTarget(moduleName: "l\(i)", targetName: "weight", settings: settings, tensor: t.readOnly, mask: m))
            single.append(PruningTarget(moduleName: "l\(i)", targetName: "weight", settings: settings, tensor: t32.readOnly, mask: m32))
        }
        try Pruning.generateMasks(half, metric: .level)
        try Pruning.generateMasks(single, metric: .level)
        return (hm.map(\.allValues), sm.map(\.allValues))
    }

    @Test(arguments: [ElementType.bfloat16, .float16])
    func perTargetEqualsFloat32(_ dtype: ElementType) throws {
        for ratio in [0.0, 0.3, 0.5, 0.999, 1.0] {
            for n in [800, 40_000, 300_000] {
                let (h, s) = try Self.masks([Self.values(n, seed: UInt64(n))], dtypes: [dtype],
                                            settings: PruningSettings(sparseRatio: ratio, granularity: .fineGrained))
                #expect(h == s, "\(dtype) n=\(n) ratio=\(ratio)")
                #expect(h[0].filter { $0 == 0 }.count == pruneCount(n, ratio), "\(dtype) n=\(n) ratio=\(ratio)")
            }
        }
    }

    @Test func globalGroupsEqualFloat32() throws {
        let data = [Self.values(40_000, seed: 1), Self.values(64_000, seed: 2), Self.values(8_000, seed: 3)]
        let g = PruningSettings(sparseRatio: 0.6, globalGroupID: .int(0), granularity: .fineGrained)
        for dtypes in [[ElementType.bfloat16, .bfloat16, .bfloat16], [.float16, .float16, .float16],
                       [.bfloat16, .float32, .float16], [.float16, .bfloat16, .float64]] {
            let (h, s) = try Self.masks(data, dtypes: dtypes, settings: g)
            #expect(h == s, "\(dtypes)")
            #expect(h.reduce(0) { $0 + $1.filter { $0 == 0 }.count } == pruneCount(112_000, 0.6), "\(dtypes)")
        }
    }

    /// The histogram cut called directly, with masks of two dtypes, against the float32 engine's masks.
    @Test(arguments: [ElementType.bfloat16, .float16])
    func histogramCutDirectly(_ dtype: ElementType) throws {
        let b = TestBuffers()
        let data = [Self.values(200_000, seed: 11), Self.values(50_000, seed: 12)]
        for ratio in [0.25, 0.5, 0.9] {
            var metrics: [Metric] = [], masks: [MutableTensorView] = [], single: [PruningTarget] = [], sm: [MutableTensorView] = []
            for (i, vals) in data.enumerated() {
                let t = try b.mutableView(vals, shape: [vals.count], dtype: dtype)
                metrics.append(Metric(values: .magnitude(t.readOnly), count: vals.count, singlePrecision: true))
                masks.append(try b.zeros([vals.count], dtype: i == 0 ? dtype : .float32))
                let t32 = try b.mutableView(t.allValues, shape: [vals.count], dtype: .float32)
                let m32 = try b.zeros([vals.count])
                sm.append(m32)
                single.append(PruningTarget(moduleName: "l\(i)", targetName: "weight",
                                            settings: PruningSettings(sparseRatio: ratio, globalGroupID: .int(0), granularity: .fineGrained),
                                            tensor: t32.readOnly, mask: m32))
            }
            #expect(halfCutAndWrite(metrics, masks: masks, count: pruneCount(250_000, ratio)))
            try Pruning.generateMasks(single, metric: .level)
            #expect(masks.map(\.allValues) == sm.map(\.allValues), "\(dtype) \(ratio)")
        }
    }

    /// The one-pass 16-bit cut (`fusedHalfCutAndWrite`) decides on these values and writes the
    /// histogram cut's masks, for one and for several metrics.
    @Test(arguments: [ElementType.bfloat16, .float16])
    func fusedHalfCutEqualsHistogramCut(_ dtype: ElementType) throws {
        let b = TestBuffers()
        for data in [[Self.values(200_000, seed: 21), Self.values(50_000, seed: 22)], [Self.values(300_000, seed: 23)]] {
            let total = data.reduce(0) { $0 + $1.count }
            for ratio in [0.1, 0.5, 0.97] {
                let k = pruneCount(total, ratio)
                var metrics: [Metric] = [], fused: [MutableTensorView] = [], hist: [MutableTensorView] = []
                for vals in data {
                    let t = try b.mutableView(vals, shape: [vals.count], dtype: dtype)
                    metrics.append(Metric(values: .magnitude(t.readOnly), count: vals.count, singlePrecision: true))
                    fused.append(try b.zeros([vals.count], dtype: dtype))
                    hist.append(try b.zeros([vals.count], dtype: dtype))
                }
                #expect(fusedHalfCutAndWrite(metrics, masks: fused, count: k), "\(dtype) \(ratio)")
                #expect(halfCutAndWrite(metrics, masks: hist, count: k))
                #expect(fused.map(\.allValues) == hist.map(\.allValues), "\(dtype) \(ratio)")
                #expect(fused.reduce(0) { $0 + $1.allValues.filter { $0 == 0 }.count } == k)
            }
        }
    }

    /// Hand-computed: |x| cycles 0.25, 0.5, 0.75, 1.0 (signs alternating) over 2^18 elements (two
    /// chunks, so the ties of the cut are dealt to two workers); k = 100 000 prunes the 65 536
    /// quarters and the first 34 464 halves in index order. With 1 000 note bytes allowed the
    /// one-pass form declines and the histogram cut rewrites every element to the same mask.
    @Test(arguments: [ElementType.bfloat16, .float16])
    func fusedHalfCutTiesHandComputed(_ dtype: ElementType) throws {
        let b = TestBuffers()
        let n = 1 << 18
        let vals: [Double] = (0..<n).map { (i: Int) -> Double in
            let sign: Double = i % 2 == 0 ? 1 : -1
            return Double(i % 4 + 1) * 0.25 * sign
        }
        let t = try b.mutableView(vals, shape: [n], dtype: dtype)
        let metric = Metric(values: .magnitude(t.readOnly), count: n, singlePrecision: true)
        let expected: [Double] = (0..<n).map { (i: Int) -> Double in i % 4 == 0 || (i % 4 == 1 && i / 4 < 34_464) ? 0 : 1 }
        let m = try b.zeros([n], dtype: dtype)
        #expect(fusedHalfCutAndWrite([metric], masks: [m], count: 100_000))
        #expect(m.allValues == expected)
        let m2 = try b.zeros([n], dtype: dtype)
        #expect(!fusedHalfCutAndWrite([metric], masks: [m2], count: 100_000, noteLimit: 1_000))
        #expect(halfCutAndWrite([metric], masks: [m2], count: 100_000))
        #expect(m2.allValues == expected)
        // Not this form: float32 masks, k at the ends, too few elements.
        let m32 = try b.zeros([n])
        #expect(!fusedHalfCutAndWrite([metric], masks: [m32], count: 100_000))
        #expect(!fusedHalfCutAndWrite([metric], masks: [m], count: 0))
        #expect(!fusedHalfCutAndWrite([metric], masks: [m], count: n))
        let small = try b.mutableView(Array(vals[0..<1000]), shape: [1000], dtype: dtype)
        #expect(!fusedHalfCutAndWrite([Metric(values: .magnitude(small.readOnly), count: 1000, singlePrecision: true)],
                                      masks: [try b.zeros([1000], dtype: dtype)], count: 500))
    }

    /// `anyLane` against the lanes set one by one, all and none, for 16 x 16-bit and 8 x 32-bit masks.
    @Test func anyLaneHandComputed() {
        let v16 = SIMD16<UInt16>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        for i in 0..<16 { #expect(anyLane(v16 .== SIMD16<UInt16>(repeating: UInt16(i)))) }
        #expect(anyLane(v16 .< SIMD16<UInt16>(repeating: 16)) && !anyLane(v16 .> SIMD16<UInt16>(repeating: 15)))
        let v8 = SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7)
        for i in 0..<8 { #expect(anyLane(v8 .== SIMD8<UInt32>(repeating: UInt32(i)))) }
        #expect(anyLane(v8 .< SIMD8<UInt32>(repeating: 8)) && !anyLane(v8 .> SIMD8<UInt32>(repeating: 7)))
    }

    /// The raw 16-bit words of a bfloat16 mask are 0 and 0x3F80 (1.0).
    @Test func sixteenBitMaskWords() throws {
        let b = TestBuffers()
        let t = try b.mutableView([0.5, -0.1, 0.3, -0.7, 0.2, 0.05, -0.4, 0.9], shape: [2, 4], dtype: .bfloat16)
        let m = try b.zeros([2, 4], dtype: .bfloat16)
        try Pruning.generateMasks([PruningTarget(moduleName: "fc", targetName: "weight", settings: PruningSettings(sparseRatio: 0.5),
                                                 tensor: t.readOnly, mask: m)], metric: .level)
        let words = (0..<8).map { m.pointer!.load(fromByteOffset: $0 * 2, as: UInt16.self) }
        #expect(words == [0x3F80, 0, 0, 0x3F80, 0, 0, 0x3F80, 0x3F80])
    }
}
