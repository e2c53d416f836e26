/// The three kinds of compression a config list can describe. The mode decides which keys a config
/// may hold and which setting templates apply.
public enum CompressionMode: String, Sendable, Hashable, CaseIterable {
    case pruning
    case quantization
    case distillation
}
