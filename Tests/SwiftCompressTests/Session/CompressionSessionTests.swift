import Testing
import SwiftCompress

/// The core session from Swift: plan -> bind -> generate over arrays, messages naming Swift calls.
@Suite struct CompressionSessionTests {
    static let modules = [
        ModuleInfo(name: "fc1", typeName: "Linear", forwardArguments: ["input"]),
        ModuleInfo(name: "fc2", typeName: "Linear", forwardArguments: ["input"]),
    ]

    @Test func prunesArrays() throws {
        let session = CompressionSession(mode: .pruning)
        try session.addModules(Self.modules)
        try session.setConfig(#"[{"op_names": ["fc1"], "sparse_ratio": 0.5, "granularity": "out_channel"}]"#)
        var targets = [
            ArrayTarget<Float>(module: "fc1", target: "weight", shape: [4, 2], values: [1, 1, 0.1, 0.1, 3, 3, 0.2, -0.2]),
            ArrayTarget<Float>(module: "fc1", target: "bias", shape: [4], values: [1, 2, 3, 4]),
        ]
        try session.prune(&targets, metric: .l1Norm, apply: true)
        #expect(targets[0].mask == [1, 1, 0, 0, 1, 1, 0, 0])
        #expect(targets[0].values == [1, 1, 0, 0, 3, 3, 0, 0])
        #expect(targets[1].mask == [1, 0, 1, 0] && targets[1].values == [1, 0, 3, 0])
        // Nothing stays bound after the scoped call.
        #expect(session.bindings.allSatisfy { $0 == nil })
        var doubles = [ArrayTarget<Double>(module: "fc1", target: "weight", shape: [4, 2], values: [1, 1, 0.1, 0.1, 3, 3, 0.2, -0.2])]
        try session.prune(&doubles, metric: .l1Norm)
        #expect(doubles[0].mask == [1, 1, 0, 0, 1, 1, 0, 0] && doubles[0].values[2] == 0.1)
    }

    @Test func errorsNameSwiftCalls() throws {
        let session = CompressionSession(mode: .pruning)
        #expect(throws: SessionError.self) { try session.requirePlan() }
        do { _ = try session.requirePlan() } catch { #expect(error.description == "no config list is set (call setConfig first)") }
        try session.addModules(Self.modules)
        try session.setConfig(#"[{"op_names": ["fc1"], "sparse_ratio": 0.5}]"#)
        var missing: [ArrayTarget<Float>] = []
        do {
            try session.prune(&missing, metric: .level)
            Issue.record("pruned without the weight")
        } catch {
            #expect(error.description.hasPrefix("'fc1.weight' was bound as absent (bindAbsent) but its settings prune it"))
        }
        var wrong = [ArrayTarget<Float>(module: "fc1", target: "weight", shape: [2, 2], values: [1, 2, 3])]
        do {
            try session.prune(&wrong, metric: .level)
            Issue.record("accepted 3 values for shape [2, 2]")
        } catch { if case .shape = error {} else { Issue.record("\(error)") } }
        var unknown = [ArrayTarget<Float>(module: "fc9", target: "weight", shape: [1], values: [1])]
        do {
            try session.prune(&unknown, metric: .level)
            Issue.record("accepted fc9")
        } catch { if case .unknownName = error {} else { Issue.record("\(error)") } }
        let q = CompressionSession(mode: .quantization)
        do { try q.addTeacherModule("t") } catch {
            #expect(error.description == "addTeacherModule(_:) needs a distillation session; this session was created for quantization")
        }
    }

    /// The session-free quantization parameters derive the blocks from the scale's shape.
    @Test func explicitParameters() throws {
        let scale: [Float] = [0.5, 0.25], zero: [Float] = [0, 0]
        try scale.withUnsafeBufferPointer { s in
            try zero.withUnsafeBufferPointer { z in
                let (settings, p) = try QuantParameters.explicit(scale: try TensorView(s, shape: [2, 1]), zeroPoint: try TensorView(z, shape: [2, 1]),
                                                                 dtype: .int8, shape: [4, 3], name: "x")
                #expect(settings.granularity == .blocks([2, -1]) && p.scale == [0.5, 0.25])
                let e = #expect(throws: EngineError.self) {
                    try QuantParameters.explicit(scale: try TensorView(s, shape: [2]), zeroPoint: try TensorView(z, shape: [2]),
                                                 dtype: .int8, shape: [3, 3], name: "x")
                }
                #expect(e?.description == "scale has shape [2]; expected one element (per tensor) or 2 dims each dividing x's shape [3, 3] (the blocks)")
            }
        }
        #expect(try SparsitySchedule.linear.ratio(0.8, step: 1, totalSteps: 4) == 0.8 * 0.25)
        #expect(try SparsitySchedule.linear.settings(PruningSettings(sparseRatio: 0.5, maxSparseRatio: 0.9), step: 0, totalSteps: 4).maxSparseRatio == nil)
    }
}
