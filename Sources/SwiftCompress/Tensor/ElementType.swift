/// The element types a tensor view can describe. These are the floating-point types PyTorch uses
/// for weights, activations and masks; integer tensors are not supported.
public enum ElementType: String, Sendable, Hashable, CaseIterable {
    /// IEEE 754 binary32 (`torch.float32`).
    case float32
    /// IEEE 754 binary64 (`torch.float64`).
    case float64
    /// IEEE 754 binary16 (`torch.float16`): 1 sign, 5 exponent, 10 fraction bits.
    case float16
    /// bfloat16 (`torch.bfloat16`): the upper 16 bits of a binary32.
    case bfloat16

    /// The size of one element in bytes (4, 8, 2, 2).
    public var byteSize: Int {
        switch self {
        case .float32: return 4
        case .float64: return 8
        case .float16, .bfloat16: return 2
        }
    }

    /// True for `float64`: values need double precision to be represented exactly.
    var isDoublePrecision: Bool { self == .float64 }
}
