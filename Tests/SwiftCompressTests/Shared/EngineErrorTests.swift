import Testing
import SwiftCompress

/// The one engine error type: what each engine raises carries its engine, the old names are the
/// same type, and the description is unchanged.
@Suite struct EngineErrorTests {
    @Test func enginesNameThemselves() {
        let p = #expect(throws: PruningError.self) { try PruningSettings(["sparse_ratio": 2], target: "fc.weight") }
        #expect(p?.engine == .pruning && p?.kind == .invalidSetting && p?.key == "sparse_ratio")
        let q = #expect(throws: QuantizationError.self) { try QuantizationSettings(["quant_dtype": "int1"], target: "fc.weight") }
        #expect(q?.engine == .quantization && q?.kind == .invalidSetting)
        let d = #expect(throws: DistillationError.self) { try DistillationSettings(["lambda": "x"], module: "fc", target: "_output_0") }
        #expect(d?.engine == .distillation && d?.description == "fc._output_0: lambda: expected a finite number, got 'x'")
    }

    @Test func oneTypeOneEquality() {
        let a = EngineError(.quantization, .invalidFusion, target: "conv1+bn1", key: "fuse_names", "m")
        let b = QuantizationError(.invalidFusion, target: "conv1+bn1", key: "fuse_names", "m")
        #expect(a == b && b.engine == .quantization)
        #expect(PruningError(.groupMismatch, target: "t", "m").engine == .pruning)
        #expect(DistillationError(.unknownLink, target: "t", "m").engine == .distillation)
        #expect(a.reported(by: .pruning, as: .invalidGranularity, key: "granularity").description == "conv1+bn1: granularity: m")
        #expect(EngineError.Kind.allCases.filter(\.isShape) == [.shapeMismatch, .emptyTensor, .teacherCountMismatch, .tooLarge])
        #expect(EngineError.Kind.allCases.filter(\.isElementType) == [.unsupportedDType, .unsupportedStorage])
    }
}
