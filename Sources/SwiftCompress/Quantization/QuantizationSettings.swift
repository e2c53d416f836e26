/// A quantized integer type: `intN` or `uintN` with N in `quantBitRange` (2 to 16, `quant_dtype`).
///
/// The ranges are NNI 3.0's (SEMANTICS.md): `intN` is symmetric around 0, `[-(2^(N-1)) + 1,
/// 2^(N-1) - 1]` (int8: [-127, 127], the value -128 is never produced); `uintN` is `[0, 2^N - 1]`.
public struct QuantDType: Sendable, Hashable, CustomStringConvertible {
    /// True for `intN`, false for `uintN`.
    public let isSigned: Bool
    /// N, from 2 to 16.
    public let bits: Int

    /// The dtype with this signedness and width; nil unless `bits` is in `quantBitRange` (2...16).
    public init?(isSigned: Bool, bits: Int) {
        guard quantBitRange.contains(bits) else { return nil }
        self.isSigned = isSigned
        self.bits = bits
    }

    /// Parses `'int8'`, `'uint4'`, ... as the config engine accepts them (no sign, no leading zero);
    /// nil for anything else.
    public init?(_ name: String) {
        guard let (signed, bits) = parseQuantDtype(name) else { return nil }
        self.init(isSigned: signed, bits: bits)
    }

    /// [-127, 127], the default.
    public static let int8 = QuantDType(unchecked: true, 8)
    /// [0, 255].
    public static let uint8 = QuantDType(unchecked: false, 8)
    /// [-7, 7].
    public static let int4 = QuantDType(unchecked: true, 4)
    /// [0, 15].
    public static let uint4 = QuantDType(unchecked: false, 4)

    private init(unchecked signed: Bool, _ bits: Int) {
        self.isSigned = signed
        self.bits = bits
    }

    /// The smallest quantized value: `-(2^(N-1)) + 1` for intN, 0 for uintN.
    public var qmin: Int { isSigned ? -(1 << (bits - 1)) + 1 : 0 }
    /// The largest quantized value: `2^(N-1) - 1` for intN, `2^N - 1` for uintN.
    public var qmax: Int { isSigned ? (1 << (bits - 1)) - 1 : (1 << bits) - 1 }

    /// The config spelling, `int8` / `uint4`.
    public var description: String { (isSigned ? "int" : "uint") + String(bits) }
}

/// How scale and zero point are derived from the tracked range (`quant_scheme`).
public enum QuantScheme: String, Sendable, Hashable {
    /// scale = max(|min|, |max|) / ((qmax - qmin) / 2), zero point = (qmax + qmin + 1) div 2
    /// (0 for intN, 2^(N-1) for uintN). The default.
    case symmetric
    /// scale = (max - min) / (qmax - qmin) over the range widened to contain 0, zero point =
    /// qmin - round(min / scale), clamped into [qmin, qmax].
    case affine
}

/// Which elements share one scale and zero point (`granularity`).
public enum QuantGranularity: Sendable, Hashable {
    /// One scale for the whole target (`'default'`, or the key unset / None). The scale is a
    /// 0-dimensional value (shape `[]`), as NNI 3.0 tracks it.
    case perTensor
    /// `'per_channel'`: one scale per index of dim 0 for parameters (output channels), of dim 1 for
    /// inputs/outputs (dim 0 is the batch). NNI 3.0 rejects it for parameters; SEMANTICS.md asks
    /// for dim 0.
    case perChannel
    /// `'out_channel'` (parameters only, as in NNI 3.0): one scale per index of dim 0.
    case outChannel
    /// `'in_channel'` (parameters only, as in NNI 3.0): one scale per index of dim 1.
    case inChannel
    /// A list of block sizes over the trailing dims, padded with 1 at the front; -1 means the whole
    /// dim. One scale per block; every size must divide its dim (as pruning block lists).
    case blocks([Int])
}

/// What the quantizer does to a target in the forward pass (`apply_method`, NNI 3.0's quantization
/// apply methods accepted by its config schema).
public enum QuantApplyMethod: String, Sendable, Hashable {
    /// Fake quantization; the gradient passes straight through everywhere (NNI's `ClampRound`).
    /// The default.
    case clampRound = "clamp_round"
    /// Fake quantization; the gradient is zeroed where `zp + x / scale` falls outside
    /// [qmin, qmax] (NNI's `QATClampRound`).
    case qatClampRound = "qat_clamp_round"
    /// The target passes unchanged (`x * 1.`); used while calibrating.
    case bypass
}

/// Whether a target is a parameter (`weight`, `bias`: channel dim 0) or an input/output
/// (`_input_*`, `_output_*`: dim 0 is the batch, the channel dim is 1).
public enum QuantTargetRole: String, Sendable, Hashable {
    /// A parameter or buffer of the module (`weight`, `bias`).
    case parameter
    /// An input or output of the module (`_input_*`, `_output_*`).
    case activation

    /// The role a target name implies: `_input_*` and `_output_*` are activations, everything
    /// else is a parameter (the rule NNI 3.0 and the config engine use).
    public init(targetName: String) {
        self = targetName.hasPrefix("_input_") || targetName.hasPrefix("_output_") ? .activation : .parameter
    }
}

/// The quantization settings of one target, typed. Built from the canonical settings dict the
/// config engine produces for the target (`QuantizationSettings(_:target:)`, or
/// `QuantizationSettings(plan:)` from a `TargetPlan`), or directly.
public struct QuantizationSettings: Sendable, Hashable {
    /// `module.target` (`conv1.weight`, `fc._input_0`; just the target name for the root module).
    /// Used in every error about this target.
    public var target: String
    /// Parameter or input/output; decides the channel dim of `per_channel`.
    public var role: QuantTargetRole
    /// The quantized type (default int8).
    public var dtype: QuantDType
    /// False when `dtype` is the default because the settings gave no `quant_dtype` (None or
    /// absent): the plan warns about such targets (`missing_quant_dtype`). True for settings given
    /// directly.
    public var dtypeGiven: Bool = true
    /// Symmetric (default) or affine.
    public var scheme: QuantScheme
    /// Per tensor (default), per channel, or blocks.
    public var granularity: QuantGranularity
    /// Fake quantization with or without the straight-through gradient mask, or bypass
    /// (default `clamp_round`).
    public var applyMethod: QuantApplyMethod

    /// Settings given directly (every field is already valid by its type; a granularity that does
    /// not fit a tensor is reported when blocks are computed for it).
    public init(target: String, role: QuantTargetRole, dtype: QuantDType = .int8, scheme: QuantScheme = .symmetric,
                granularity: QuantGranularity = .perTensor, applyMethod: QuantApplyMethod = .clampRound) {
        self.target = target
        self.role = role
        self.dtype = dtype
        self.scheme = scheme
        self.granularity = granularity
        self.applyMethod = applyMethod
    }

    /// Parses one target's canonical settings dict (compression-config-v3: `quant_dtype`,
    /// `quant_scheme`, `granularity`, `apply_method`). Absent keys and None take the defaults:
    /// int8, symmetric, per tensor, clamp_round. Other keys are ignored (the config engine
    /// validates key names; legacy `quant_bits` arrive already translated into `quant_dtype`).
    ///
    /// - Parameters:
    ///   - settings: the dict of one target (`TargetPlan.settings`).
    ///   - target: `module.target`, used in errors. Its last component (after the last `.`) is the
    ///     target name and gives the role: `_input_*` / `_output_*` are activations, the rest
    ///     parameters.
    /// - Throws: `EngineError(.quantization, .invalidSetting)` naming the target, the key, what was expected
    ///   and what was given.
    public init(_ settings: ConfigObject, target: String) throws(EngineError) {
        let name = target.split(separator: ".", omittingEmptySubsequences: false).last.map(String.init) ?? target
        try self.init(settings, target: target, role: QuantTargetRole(targetName: name))
    }

    /// Parses the settings of a target of a `Plan` (role from the target's kind).
    public init(plan: TargetPlan) throws(EngineError) {
        if let typed = plan.quantization {
            self = typed
            return
        }
        let qualified = plan.qualifiedName
        let role: QuantTargetRole
        switch plan.kind {
        case .parameter: role = .parameter
        case .input, .output: role = .activation
        }
        try self.init(plan.settings, target: qualified, role: role)
    }

    /// Parses `settings` for a target whose role is given explicitly; see `init(_:target:)`. Every
    /// key is read through its row of the quantization key table (`SettingKeys.settings(.quantization)`),
    /// so a value is accepted here exactly when validation accepts it in a config list.
    public init(_ settings: ConfigObject, target: String, role: QuantTargetRole) throws(EngineError) {
        let value = SettingsReader(settings: settings, mode: .quantization, engine: .quantization, target: target)
        self.target = target
        self.role = role
        let givenDtype = try value("quant_dtype")?.string.flatMap(QuantDType.init)
        dtype = givenDtype ?? .int8
        dtypeGiven = givenDtype != nil
        scheme = try value("quant_scheme")?.string.flatMap(QuantScheme.init(rawValue:)) ?? .symmetric
        switch try value("granularity") {
        case .string("per_channel")?: granularity = .perChannel
        case .string("out_channel")?: granularity = .outChannel
        case .string("in_channel")?: granularity = .inChannel
        case .array(let items)?: granularity = .blocks(items.compactMap(\.intValue))
        default: granularity = .perTensor
        }
        applyMethod = try value("apply_method")?.string.flatMap(QuantApplyMethod.init(rawValue:)) ?? .clampRound
    }

    /// How a tensor of `shape` is divided into blocks that share a scale, under these settings.
    ///
    /// - Throws: `EngineError(.quantization, .invalidGranularity)` when the granularity does not fit the
    ///   shape (see `QuantGranularity`), or `.invalidSetting` for block sizes that are not -1 or >= 1.
    public func blocks(forShape shape: [Int]) throws(EngineError) -> QuantizationBlocks {
        try QuantizationBlocks(shape: shape, granularity: granularity, role: role, target: target)
    }
}
