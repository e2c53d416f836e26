// Granularity shared by the engines: pruning's metric blocks and quantization's scale blocks are
// both resolved by `BlockLayout` from a `PruningGranularity` (quantization maps its
// `QuantGranularity` onto it in QuantizationBlocks.swift).

/// How a target's metric is divided into blocks (NNI's `granularity`).
public enum PruningGranularity: Sendable, Hashable {
    /// The pruner's default: fine-grained for the level metric, `outChannel` for parameters and
    /// `perChannel` for inputs/outputs with L1, L2 and FPGM.
    case `default`
    /// One metric value per element (`granularity: None` in NNI).
    case fineGrained
    /// One block per index of dim 0 (rows of a Linear weight, filters of a conv weight).
    case outChannel
    /// One block per index of dim 1 (needs rank >= 2).
    case inChannel
    /// One block per index of dim 1 of an input/output (dim 0 is the batch).
    case perChannel
    /// Block sizes over the trailing dims, padded with 1 at the front; -1 means the whole dim.
    /// Every size must be -1 or >= 1 and divide its dim.
    case blocks([Int])
}
