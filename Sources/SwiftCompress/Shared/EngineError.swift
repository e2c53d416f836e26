/// An error from an engine (pruning, quantization, distillation): which engine, which target, which
/// settings key (if any), what is wrong and what was given. The one error type of the engines;
/// `PruningError`, `QuantizationError` and `DistillationError` are names for it kept for source
/// compatibility.
///
/// `description` reads like `conv1.weight: sparse_ratio: expected a number in [0, 1], got 1.5`,
/// `fc._input_0: batch shape [8, 3] gives scale shape [1, 3, 1]...` or
/// `fc1._output_0: link: 'fc9' names no module of the teacher; closest: 'fc1'`.
///
/// The C ABI maps an error to its status code in one place (SwiftCompressC/Status.swift): shape
/// kinds to `SC_ERROR_SHAPE`, element-type kinds to `SC_ERROR_DTYPE`, every other kind to the
/// engine's code (`SC_ERROR_PRUNING`, `SC_ERROR_QUANTIZATION`, `SC_ERROR_DISTILLATION`).
public struct EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The engine that raised the error; it decides the C status of kinds that are not about
    /// shapes or element types.
    public enum Engine: String, Sendable, Hashable, CaseIterable {
        case pruning
        case quantization
        case distillation
    }

    /// The kind of problem, for programs that react to it.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// A settings key has a value of the wrong type or out of range.
        case invalidSetting
        /// A view's shape, strides or buffer size is unusable, or two shapes that must agree
        /// differ (mask and tensor, scale buffer and blocks, student and teacher).
        case shapeMismatch
        /// An element type the operation does not support (pruning).
        case unsupportedDType
        /// The granularity does not fit the target (`in_channel` on a 1-D weight, a block size
        /// that does not divide a dim, `out_channel` on an input).
        case invalidGranularity
        /// Members of a dependency or global group disagree (ratios, metric shapes) (pruning).
        case groupMismatch
        /// `align` names a target that is not in the list, or one that has no mask of its own
        /// (pruning).
        case missingAlignSource
        /// A metric is missing or unusable (e.g. `.supplied` without a metric view) (pruning).
        case invalidMetric
        /// The same module/target pair appears twice in one call.
        case duplicateTarget
        /// The target is empty where values are needed (observing an empty batch, an empty
        /// student).
        case emptyTensor
        /// The quantized storage cannot hold the quant_dtype's range (int8 storage for uint8).
        case unsupportedStorage
        /// Scale or zero point values that cannot quantize (scale <= 0 or not finite, zero point
        /// not an integer inside [qmin, qmax]).
        case invalidParameters
        /// A `fuse_names` group that cannot be folded, or folding inputs that do not fit together.
        case invalidFusion
        /// A distillation link names no module of the teacher model.
        case unknownLink
        /// The number of teacher tensors differs from the number of links.
        case teacherCountMismatch
        /// The student has more than `Distillation.maxElementCount` elements, or a `kl` row (the
        /// last dim) is longer than `Distillation.maxKLRowLength`: the work buffers could not be
        /// allocated (a broadcast view with stride 0 can claim such sizes without the memory
        /// behind it).
        case tooLarge
        /// Sharded targets across ranks: another rank failed, the ranks disagree, a collective
        /// failed, or a rule that cannot run over shards (docs/distributed.md).
        case distributed

        /// Whether the kind is about shapes or sizes (the C ABI's `SC_ERROR_SHAPE`).
        public var isShape: Bool {
            switch self {
            case .shapeMismatch, .emptyTensor, .teacherCountMismatch, .tooLarge: return true
            default: return false
            }
        }

        /// Whether the kind is about element types or storage (the C ABI's `SC_ERROR_DTYPE`).
        public var isElementType: Bool { self == .unsupportedDType || self == .unsupportedStorage }

        /// The engine that raises this kind when only one does; `.pruning` for the kinds several
        /// engines raise (used by `init(_:target:key:_:)` only).
        var soleEngine: Engine {
            switch self {
            case .unsupportedStorage, .invalidParameters, .invalidFusion: return .quantization
            case .unknownLink, .teacherCountMismatch, .tooLarge: return .distillation
            case .emptyTensor: return .quantization
            default: return .pruning
            }
        }
    }

    /// The engine that raised the error.
    public var engine: Engine
    /// What went wrong, for programs that react to it (the C ABI maps it to a status code).
    public var kind: Kind
    /// The target as `module.target` (`conv1.weight`; just the target name for the root module),
    /// or the fusion group (`conv1+bn1`) for folding errors.
    public var target: String
    /// The settings key involved (`sparse_ratio`, `quant_dtype`, `link`, ...), or nil.
    public var key: String?
    /// What is wrong, with the values involved.
    public var message: String

    /// An error of `engine` about `target` (and `key`, when a settings key is involved).
    public init(_ engine: Engine, _ kind: Kind, target: String, key: String? = nil, _ message: String) {
        self.engine = engine
        self.kind = kind
        self.target = target
        self.key = key
        self.message = message
    }

    /// An error about `target`, written as before the engines shared one type
    /// (`EngineError(.pruning, .invalidSetting, target: ..., ...)`). The engine is the one that raises
    /// `kind` when only one does, else `.pruning`; the engines themselves always name theirs
    /// with `init(_:_:target:key:_:)`.
    public init(_ kind: Kind, target: String, key: String? = nil, _ message: String) {
        self.init(kind.soleEngine, kind, target: target, key: key, message)
    }

    /// The same error raised by another engine, optionally as another kind and key (quantization
    /// reports a block layout's error as its own `granularity` error).
    public func reported(by engine: Engine, as kind: Kind? = nil, key: String?? = nil) -> EngineError {
        EngineError(engine, kind ?? self.kind, target: target, key: key ?? self.key, message)
    }

    /// Two errors are equal when they say the same thing (kind, target, key, message); the engine
    /// only routes the C status.
    public static func == (a: EngineError, b: EngineError) -> Bool {
        a.kind == b.kind && a.target == b.target && a.key == b.key && a.message == b.message
    }

    /// `target: key: message`, `target: message`, or the message alone when `target` is empty
    /// (an error about call arguments rather than a target).
    public var description: String {
        let prefix = target.isEmpty ? "" : target + ": "
        if let key { return "\(prefix)\(key): \(message)" }
        return prefix + message
    }
}

/// The errors of mask generation (an `EngineError` with `engine == .pruning`).
public typealias PruningError = EngineError
/// The errors of the quantization engine (an `EngineError` with `engine == .quantization`).
public typealias QuantizationError = EngineError
/// The errors of distillation (an `EngineError` with `engine == .distillation`).
public typealias DistillationError = EngineError

/// `module.target`, or just `target` for the root module (named `''`), as errors name targets.
func qualifiedTargetName(module: String, target: String) -> String {
    module.isEmpty ? target : module + "." + target
}
