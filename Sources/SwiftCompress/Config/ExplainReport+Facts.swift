/// The typed facts of a target, as the report's JSON gives them to the bindings (`"facts"` beside
/// `"settings"`): what the target is and does, derived from the plan's typed settings
/// (`TargetPlan.typed`) and its kind, so that no binding reads a setting key.
///
/// Every mode: `"role"` (`"parameter"`, `"input"` or `"output"`), `"active"` (the target is
/// compressed: pruning, a metric is computed for it; quantization and distillation, always).
///
/// - pruning: `"apply"` (`"mul"`, `"add"`, `"bypass"`), `"prunes"` (sparse_ratio,
///   sparse_threshold or an N:M mask_structure set: the target gets a mask from a metric).
/// - quantization: `"apply"` (`"clamp_round"`, `"qat_clamp_round"`, `"bypass"`), `"quant_dtype"`
///   (`"int8"` when unset), `"quant_bits"`, `"quant_scheme"` (`"symmetric"` / `"affine"` when the
///   settings give one, null when they leave it unset, as NNI 3.0's calibration config reports it),
///   `"granularity"` (`"per_tensor"`, `"per_channel"`, `"out_channel"`, `"in_channel"`, or the
///   list of block sizes), `"quant_start_step"` (the legacy `quant_start_step` of the target's
///   config, null when not given).
/// - distillation: `"apply"` (`"mse"`, `"kl"`), `"lambda"`, `"links"` (teacher module names,
///   `'auto'` resolved).
extension TargetPlan {
    /// The facts of this target; `quantStartStep` is its config's legacy `quant_start_step`.
    public func facts(quantStartStep: Int? = nil) -> ConfigObject {
        var o = ConfigObject()
        switch kind {
        case .parameter: o["role"] = "parameter"
        case .input: o["role"] = "input"
        case .output: o["role"] = "output"
        }
        switch typed {
        case .pruning(let s):
            o["active"] = .bool(s.isActive)
            o["apply"] = .string(s.applyMethod.rawValue)
            o["prunes"] = .bool(s.isActive)
        case .quantization(let s):
            o["active"] = true
            o["apply"] = .string(s.applyMethod.rawValue)
            o["quant_dtype"] = .string(s.dtype.description)
            o["quant_bits"] = .int(s.dtype.bits)
            // Given or not is a fact of the canonical settings; the value is the typed one.
            o["quant_scheme"] = (settings["quant_scheme"]?.isNull ?? true) ? .null : .string(s.scheme.rawValue)
            switch s.granularity {
            case .perTensor: o["granularity"] = "per_tensor"
            case .perChannel: o["granularity"] = "per_channel"
            case .outChannel: o["granularity"] = "out_channel"
            case .inChannel: o["granularity"] = "in_channel"
            case .blocks(let sizes): o["granularity"] = .array(sizes.map(ConfigValue.int))
            }
            o["quant_start_step"] = quantStartStep.map(ConfigValue.int) ?? .null
        case .distillation(let s):
            o["active"] = true
            o["apply"] = .string(s.method.rawValue)
            o["lambda"] = .double(s.lambda)
            o["links"] = .array(s.links.map(ConfigValue.string))
        }
        return o
    }
}

extension ExplainReport {
    /// The legacy `quant_start_step` of config `index`, nil where not given.
    func quantStartStep(ofConfig index: Int) -> Int? {
        configs.first { $0.index == index }?.quantStartStep
    }

    /// Every fusion of the plan (`fuse_names` groups, quantization only), in config order.
    public var fusions: [[String]] { configs.flatMap(\.fusions) }
}
