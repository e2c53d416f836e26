import Testing
@testable import SwiftCompress

/// Observers: running min/max and moving average per tensor, per channel and per block, with
/// hand-computed expectations; NaN, empty batches, shape changes, dtypes and strides; the buffer
/// API; the multi-threaded path against a plain loop.
@Suite struct QuantObserverTests {
    let weight = QuantizationSettings(target: "conv.weight", role: .parameter)

    func setting(_ g: QuantGranularity, role: QuantTargetRole = .parameter, target: String = "conv.weight") -> QuantizationSettings {
        QuantizationSettings(target: target, role: role, granularity: g)
    }

    @Test func runningMinMaxPerTensor() throws {
        let b = TestBuffers()
        var o = QuantObserver(kind: .minMax)
        #expect(o.batchCount == 0 && o.scaleShape == nil)
        try o.observe(try b.view([0.5, -1.25, 3, 2], shape: [2, 2]), settings: weight)
        #expect(o.trackedMin == [-1.25] && o.trackedMax == [3] && o.scaleShape == [])
        try o.observe(try b.view([-0.5, 1, 4.5, -2], shape: [2, 2]), settings: weight)
        #expect(o.trackedMin == [-2] && o.trackedMax == [4.5] && o.batchCount == 2)
        try o.observe(try b.view([0, 0, 0, 0], shape: [2, 2]), settings: weight)
        #expect(o.trackedMin == [-2] && o.trackedMax == [4.5])
    }

    @Test func runningMinMaxPerChannelAndBlocks() throws {
        let b = TestBuffers()
        var o = QuantObserver()
        let s = setting(.perChannel)
        // [3, 2]: channel 0 = [1, -2], channel 1 = [5, 4], channel 2 = [-3, -7]
        try o.observe(try b.view([1, -2, 5, 4, -3, -7], shape: [3, 2]), settings: s)
        #expect(o.trackedMin == [-2, 4, -7] && o.trackedMax == [1, 5, -3] && o.scaleShape == [3, 1])
        try o.observe(try b.view([3, 0, 4.5, 6, -8, 2], shape: [3, 2]), settings: s)
        #expect(o.trackedMin == [-2, 4, -8] && o.trackedMax == [3, 6, 2])

        // Activation per channel (dim 1): the batch size may change between batches.
        var a = QuantObserver()
        let act = setting(.perChannel, role: .activation, target: "conv._input_0")
        try a.observe(try b.view([1, 2, 3, 4, 5, 6], shape: [2, 3]), settings: act)
        #expect(a.trackedMin == [1, 2, 3] && a.trackedMax == [4, 5, 6] && a.scaleShape == [1, 3])
        try a.observe(try b.view([-1, 9, 3.5], shape: [1, 3]), settings: act)
        #expect(a.trackedMin == [-1, 2, 3] && a.trackedMax == [4, 9, 6])

        // Blocks [2, 2] of a [2, 4]: two blocks.
        var k = QuantObserver()
        try k.observe(try b.view([1, 2, -3, 4, 5, -6, 7, 8], shape: [2, 4]), settings: setting(.blocks([2, 2])))
        #expect(k.trackedMin == [-6, -3] && k.trackedMax == [5, 8] && k.scaleShape == [1, 2])
    }

    /// tracked = tracked * decay + (1 - decay) * batch, each operation rounded to float32.
    @Test func movingAverage() throws {
        let b = TestBuffers()
        var half = QuantObserver(kind: .movingAverage(decay: 0.5))
        try half.observe(try b.view([-1, 2], shape: [2]), settings: weight)
        try half.observe(try b.view([-3, 4], shape: [2]), settings: weight)
        #expect(half.trackedMin == [-2] && half.trackedMax == [3])  // hand: -1/2 - 3/2, 2/2 + 4/2
        try half.observe(try b.view([0, 1], shape: [2]), settings: weight)
        #expect(half.trackedMin == [-1] && half.trackedMax == [2])

        var qat = QuantObserver(kind: .qat)
        try qat.observe(try b.view([-0.3, 0.7], shape: [2]), settings: weight)
        try qat.observe(try b.view([-0.1, 1.9], shape: [2]), settings: weight)
        let rest = Float(1 - 0.99)  // 0.010000000000000009 rounded to float32
        let expectedMax = Float(0.7) * Float(0.99) + rest * Float(1.9)
        let expectedMin = Float(-0.3) * Float(0.99) + rest * Float(-0.1)
        #expect(qat.trackedMax == [Double(expectedMax)] && qat.trackedMin == [Double(expectedMin)])
        // The same value again does not stay exactly the same in float32 (as NNI's tracked values).
        var constant = QuantObserver(kind: .qat)
        for _ in 0..<3 { try constant.observe(try b.view([0.9751296], shape: [1]), settings: weight) }
        var m = Float(0.9751296)
        for _ in 0..<2 { m = m * Float(0.99) + rest * Float(0.9751296) }
        #expect(constant.trackedMax == [Double(m)])
    }

    @Test func nanPropagatesAndIsReported() throws {
        let b = TestBuffers()
        var o = QuantObserver()
        try o.observe(try b.view([1, .nan, 3, 4], shape: [2, 2]), settings: setting(.perChannel))
        #expect(o.trackedMin[0].isNaN && o.trackedMax[0].isNaN && o.trackedMin[1] == 3 && o.trackedMax[1] == 4)
        try o.observe(try b.view([0, 0, 0, 0], shape: [2, 2]), settings: setting(.perChannel))
        #expect(o.trackedMin[0].isNaN)  // torch.min(nan, x) is nan
        do {
            _ = try o.parameters(settings: setting(.perChannel))
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "conv.weight: tracked range of block 0 is [nan, nan]; the observed values held NaN or infinity")
            #expect(error.kind == .invalidParameters)
        }
    }

    @Test func errors() throws {
        let b = TestBuffers()
        var o = QuantObserver()
        #expect(throws: QuantizationError(.emptyTensor, target: "conv.weight", "no batch observed yet: nothing to compute a scale from")) {
            _ = try o.parameters(settings: weight)
        }
        #expect(throws: QuantizationError(.emptyTensor, target: "conv.weight", "batch of shape [0, 3] has no elements; min and max are undefined")) {
            try o.observe(try b.view([], shape: [0, 3]), settings: weight)
        }
        try o.observe(try b.view([1, 2, 3, 4], shape: [2, 2]), settings: setting(.perChannel))
        #expect(throws: QuantizationError(.shapeMismatch, target: "conv.weight", "batch of shape [4, 1] gives scale shape [4, 1], but the observer tracks scale shape [2, 1]")) {
            try o.observe(try b.view([1, 2, 3, 4], shape: [4, 1]), settings: setting(.perChannel))
        }
        #expect(o.batchCount == 1 && o.trackedMax == [2, 4])  // unchanged
        var bad = QuantObserver(kind: .movingAverage(decay: 1.5))
        #expect(throws: QuantizationError(.invalidSetting, target: "conv.weight", key: "decay", "expected a moving-average decay in [0, 1], got 1.5")) {
            try bad.observe(try b.view([1], shape: [1]), settings: weight)
        }
        let lo = try b.zeros([3]), hi = try b.zeros([2])
        #expect(throws: QuantizationError(.shapeMismatch, target: "conv.weight", "tracked_min buffer has 3 elements (shape [3]); the batch of shape [2, 2] has 2 block(s), scale shape [2, 1]")) {
            try Quantization.observe(try b.view([1, 2, 3, 4], shape: [2, 2]), trackedMin: lo, trackedMax: hi, isFirstBatch: true,
                                     kind: .minMax, settings: setting(.perChannel))
        }
    }

    /// Strided, float16 and float64 batches; float64 is tracked in double precision.
    @Test func dtypesAndStrides() throws {
        let b = TestBuffers()
        // A column-major [3, 2] view (strides [1, 3]) holding rows (1, 2), (3, 4), (5, 6):
        // memory is 1 3 5 2 4 6.
        let t = try b.mutableView([1, 2, 3, 4, 5, 6], shape: [3, 2], strides: [1, 3], dtype: .float32)
        #expect((t.pointer?.load(fromByteOffset: 4, as: Float.self)) == 3)
        var o = QuantObserver()
        try o.observe(t.readOnly, settings: setting(.perChannel))
        #expect(o.trackedMin == [1, 3, 5] && o.trackedMax == [2, 4, 6])

        let h = try b.mutableView([0.1, -2.5, 7], shape: [3], dtype: .float16).readOnly
        var oh = QuantObserver()
        try oh.observe(h, settings: weight)
        #expect(oh.trackedMin == [-2.5] && oh.trackedMax == [7] && oh.precision == .float32)

        let d = try b.mutableView([0.1, -0.3], shape: [2], dtype: .float64).readOnly
        var od = QuantObserver()
        try od.observe(d, settings: weight)
        #expect(od.trackedMin == [-0.3] && od.trackedMax == [0.1] && od.precision == .float64)
        let p = try od.parameters(settings: weight)
        #expect(p.scale == [0.3 / 127])  // in double, not float32
    }

    @Test func bufferAPI() throws {
        let b = TestBuffers()
        let s = setting(.perChannel)
        let lo = try b.mutableView([9, 9], shape: [2, 1], dtype: .float64), hi = try b.mutableView([9, 9], shape: [2, 1], dtype: .float16)
        try Quantization.observe(try b.view([1, -2, 5, 4], shape: [2, 2]), trackedMin: lo, trackedMax: hi, isFirstBatch: true, kind: .minMax, settings: s)
        #expect(lo.allValues == [-2, 4] && hi.allValues == [1, 5])
        try Quantization.observe(try b.view([3, 0, -1, 2], shape: [2, 2]), trackedMin: lo, trackedMax: hi, isFirstBatch: false, kind: .minMax, settings: s)
        #expect(lo.allValues == [-2, -1] && hi.allValues == [3, 5])
        try Quantization.observe(try b.view([0, 0, 0, 0], shape: [2, 2]), trackedMin: lo, trackedMax: hi, isFirstBatch: false,
                                 kind: .movingAverage(decay: 0.5), settings: s)
        #expect(lo.allValues == [-1, -0.5] && hi.allValues == [1.5, 2.5])
    }

    /// Large tensors run in parallel parts; the result equals a plain loop's.
    @Test func parallelPathEqualsPlainLoop() throws {
        let n = 300_007
        var values = [Float](repeating: 0, count: n)
        var state: UInt32 = 12345
        for i in 0..<n {
            state = state &* 1_664_525 &+ 1_013_904_223
            values[i] = Float(Int32(bitPattern: state) >> 8) / 65536
        }
        values[299_999] = 1000  // in the last part
        values[17] = -1000  // in the first
        let b = TestBuffers()
        var o = QuantObserver()
        try o.observe(try b.view(values, shape: [n]), settings: weight)
        #expect(o.trackedMin == [-1000] && o.trackedMax == [1000])

        // Per channel over 7 rows of 42_858 (not a multiple of 16).
        let rows = 7, cols = 42_858
        let x = Array(values[0..<(rows * cols)])
        var oc = QuantObserver()
        try oc.observe(try b.view(x, shape: [rows, cols]), settings: setting(.perChannel))
        var lo = [Double](), hi = [Double]()
        for r in 0..<rows {
            let row = x[(r * cols)..<((r + 1) * cols)]
            lo.append(Double(row.min() ?? 0))
            hi.append(Double(row.max() ?? 0))
        }
        #expect(oc.trackedMin == lo && oc.trackedMax == hi)

        // A NaN deep inside a large tensor is found.
        var withNaN = values
        withNaN[150_001] = .nan
        var on = QuantObserver()
        try on.observe(try b.view(withNaN, shape: [n]), settings: weight)
        #expect(on.trackedMin[0].isNaN && on.trackedMax[0].isNaN)
        // Infinities are values, not NaN.
        var withInf = values
        withInf[5] = .infinity
        withInf[6] = -.infinity
        var oi = QuantObserver()
        try oi.observe(try b.view(withInf, shape: [n]), settings: weight)
        #expect(oi.trackedMin == [-.infinity] && oi.trackedMax == [.infinity])
    }
}
