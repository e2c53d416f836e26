import Testing
@testable import SwiftCompress

/// TrainingMetrics (Taylor / Slim accumulators) with hand-computed values.
@Suite struct MetricAccumulatorsTests {
    @Test func taylorAccumulatesSquaredProductsAndAverages() throws {
        let b = TestBuffers()
        let w = try b.view([1, -2, 3, 0.5], shape: [2, 2])
        let g = try b.view([0.5, 0.25, -1, 4], shape: [2, 2])
        // a transposed float64 buffer: logical [[a, b], [c, d]] stored column-major
        let buf = try b.mutableView([9, 9, 9, 9], shape: [2, 2], strides: [1, 2], dtype: .float64)
        try TrainingMetrics.taylorAccumulate(buffer: buf, weight: w, gradient: g, reset: true, name: "fc.weight")
        #expect(buf.allValues == [0.25, 0.25, 9, 4])
        try TrainingMetrics.taylorAccumulate(buffer: buf, weight: w, gradient: g, reset: false, name: "fc.weight")
        #expect(buf.allValues == [0.5, 0.5, 18, 8])
        let avg = try b.mutableView([0, 0, 0, 0], shape: [2, 2], dtype: .float16)
        try TrainingMetrics.taylorAverage(buffer: buf.readOnly, steps: 4, into: avg, name: "fc.weight")
        #expect(avg.allValues == [0.125, 0.125, 4.5, 2])
    }

    @Test func taylorRoundsEachOperationToTheBufferDtype() throws {
        let b = TestBuffers()
        // 1.1f * 1.1f rounded to float32, then squared in float32: not the Double result
        let w = try b.view([1.1], shape: [1]), g = try b.view([1.1], shape: [1])
        let buf = try b.mutableView([0], shape: [1], dtype: .float32)
        try TrainingMetrics.taylorAccumulate(buffer: buf, weight: w, gradient: g, reset: true, name: "t")
        let p = Float(1.1) * Float(1.1)
        #expect(buf.allValues == [Double(p * p)])
    }

    @Test func shapeMismatchesNameTheTarget() throws {
        let b = TestBuffers()
        let w = try b.view([1, 2, 3], shape: [3]), g = try b.view([1, 2], shape: [2])
        let buf = try b.mutableView([0, 0, 0], shape: [3], dtype: .float32)
        #expect(throws: EngineError.self) {
            try TrainingMetrics.taylorAccumulate(buffer: buf, weight: w, gradient: g, reset: true, name: "conv1.weight")
        }
        do {
            try TrainingMetrics.taylorAccumulate(buffer: buf, weight: w, gradient: g, reset: true, name: "conv1.weight")
        } catch {
            #expect(error.description.contains("conv1.weight"))
        }
        #expect(throws: EngineError.self) {
            try TrainingMetrics.taylorAverage(buffer: buf.readOnly, steps: 0, into: buf, name: "x")
        }
    }

    @Test func slimMetricPenaltyAndGradient() throws {
        let b = TestBuffers()
        let f1 = try b.view([1, -2, 0], shape: [3]), f2 = try b.view([0.5, 0.5], shape: [2])
        let m = try b.mutableView([9, 9, 9], shape: [3], dtype: .bfloat16)
        try TrainingMetrics.slimMetric(factor: f1, into: m, name: "bn.weight")
        #expect(m.allValues == [1, 2, 0])
        // 1 + 0.5 * (3 + 1) / 2 = 2
        #expect(try TrainingMetrics.slimPenalty(loss: 1, factors: [f1, f2], regularScale: 0.5, dtype: .float32) == 2)
        #expect(try TrainingMetrics.slimPenalty(loss: 1, factors: [], regularScale: 0.5, dtype: .float32) == 1)
        // torch's float32 order: each norm accumulated in float32, the scale cast to float32 first.
        // Fixture (torch 2.15): f = [torch.full((512,1,1,1), .99), torch.full((64,), .99)];
        // reg = torch.tensor(0.); reg = reg + x.norm(p=1) for x in f; (torch.tensor(2.5) + 0.1 * reg / 2).item()
        // == 31.01190757751465 (a Double sum rounded once gives 31.011999130249023).
        let nines = [Float](repeating: 0.99, count: 512)
        let big = try b.view(nines, shape: [512, 1, 1, 1])
        let small = try b.view(Array(nines.prefix(64)), shape: [64])
        #expect(try TrainingMetrics.slimPenalty(loss: 2.5, factors: [big, small], regularScale: 0.1, dtype: .float32)
                == 31.01190757751465)
        let g1 = try b.mutableView([9, 9, 9], shape: [3], dtype: .float32)
        let g2 = try b.mutableView([9, 9], shape: [2], dtype: .float64)
        try TrainingMetrics.slimPenaltyGradient(factors: [f1, f2], regularScale: 0.5, gradOutput: 2, into: [g1, g2], names: ["a", "b"])
        #expect(g1.allValues == [0.5, -0.5, 0])  // sign * (2 / 2) * 0.5
        #expect(g2.allValues == [0.5, 0.5])
        #expect(throws: EngineError.self) {
            try TrainingMetrics.slimPenaltyGradient(factors: [f1, f2], regularScale: 0.5, gradOutput: 2, into: [g2, g1], names: ["a", "b"])
        }
        #expect(throws: EngineError.self) {
            _ = try TrainingMetrics.slimPenalty(loss: 1, factors: [f1], regularScale: .infinity, dtype: .float32)
        }
    }
}
