/// An error from the quantization engine: which target, which settings key, what is wrong.
///
/// `description` reads like `conv1.weight: quant_dtype: expected 'intN' or 'uintN' with N from 2
/// to 16, got 'int1'`, or `fc._input_0: batch shape [8, 3] gives scale shape [1, 3, 1]...`.
public struct QuantizationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of problem, for programs that react to it.
    public enum Kind: String, Sendable, Equatable {
        /// A settings key has a value of the wrong type or out of range.
        case invalidSetting
        /// The granularity does not fit the target (block size that does not divide a dim,
        /// `per_channel` on a scalar, `out_channel` on an input).
        case invalidGranularity
        /// A buffer's element count or shape does not match what the target needs (scale buffer
        /// with the wrong number of blocks, output of another shape, observer state of another
        /// scale shape).
        case shapeMismatch
        /// The target is empty where values are needed (observing a batch with no elements).
        case emptyTensor
        /// The quantized storage cannot hold the quant_dtype's range (int8 storage for uint8).
        case unsupportedStorage
        /// Scale or zero point values that cannot quantize (scale <= 0 or not finite, zero point
        /// not an integer inside [qmin, qmax]).
        case invalidParameters
        /// A `fuse_names` group that cannot be folded, or folding inputs that do not fit together.
        case invalidFusion
    }

    /// What went wrong, for programs (the C ABI maps it to a status code).
    public var kind: Kind
    /// The target as `module.target` (`conv1.weight`), or the fusion group for folding errors.
    public var target: String
    /// The settings key involved (`quant_dtype`, `granularity`, ...), or nil.
    public var key: String?
    /// What is wrong, with the values involved.
    public var message: String

    /// An error about `target` (and `key`, when a settings key is involved).
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
