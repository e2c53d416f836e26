/// An error from mask generation: which target, what is wrong, what was given.
///
/// `description` reads like `conv1.weight: sparse_ratio: expected a number in [0, 1], got 1.5`.
public struct PruningError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of problem, for programs that react to it.
    public enum Kind: String, Sendable, Equatable {
        /// A settings key has a value of the wrong type or out of range.
        case invalidSetting
        /// A view's shape, strides or buffer size is unusable, or two shapes that must agree differ.
        case shapeMismatch
        /// An element type the operation does not support.
        case unsupportedDType
        /// The granularity does not fit the target (e.g. `in_channel` on a 1-D weight).
        case invalidGranularity
        /// Members of a dependency or global group disagree (ratios, metric shapes).
        case groupMismatch
        /// `align` names a target that is not in the list, or one that has no mask of its own.
        case missingAlignSource
        /// A metric is missing or unusable (e.g. `.supplied` without a metric view).
        case invalidMetric
        /// The same module/target pair appears twice in one call.
        case duplicateTarget
    }

    public var kind: Kind
    /// The target as `module.target` (`conv1.weight`); `module` alone is empty for the root module.
    public var target: String
    /// The settings key involved, or nil.
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
