/// An error from distillation: which target, which settings key (if any), what is wrong and what
/// was given.
///
/// `description` reads like `fc1._output_0: lambda: expected a finite number, got 'x'` or
/// `fc1._output_0: link: 'fc9' names no module of the teacher; closest: 'fc1'`.
public struct DistillationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of problem, for programs that react to it.
    public enum Kind: String, Sendable, Equatable {
        /// `lambda`, `link` or `apply_method` has a value of the wrong type, or one out of range.
        case invalidSetting
        /// A link names no module of the teacher model.
        case unknownLink
        /// The number of teacher tensors differs from the number of links.
        case teacherCountMismatch
        /// Student and teacher (or student and gradient buffer) have different shapes.
        case shapeMismatch
        /// The student has no elements, so the loss is undefined.
        case emptyTensor
        /// The same `(module, target)` pair appears twice in one call.
        case duplicateTarget
        /// The student has more than `Distillation.maxElementCount` elements, or a `kl` row (the
        /// last dim) is longer than `Distillation.maxKLRowLength`: the work buffers could not be
        /// allocated (a broadcast view with stride 0 can claim such sizes without the memory
        /// behind it).
        case tooLarge
    }

    public var kind: Kind
    /// The target as `module.target` (`fc1._output_0`; just `_output_0` for the root module).
    public var target: String
    /// The settings key involved (`lambda`, `link`, `apply_method`), or nil.
    public var key: String?
    /// What is wrong, with the values involved.
    public var message: String

    public init(_ kind: Kind, target: String, key: String? = nil, _ message: String) {
        self.kind = kind
        self.target = target
        self.key = key
        self.message = message
    }

    public var description: String {
        if let key { return "\(target): \(key): \(message)" }
        return "\(target): \(message)"
    }
}

/// `module.target`, or just `target` for the root module (named `''`), as errors name targets.
func distillationTargetName(module: String, target: String) -> String {
    module.isEmpty ? target : module + "." + target
}
