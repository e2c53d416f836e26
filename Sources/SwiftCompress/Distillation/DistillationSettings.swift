/// The loss a distillation target uses (NNI's `apply_method`).
public enum DistillationMethod: String, Sendable, Hashable, CaseIterable {
    /// Mean squared error over all elements (`F.mse_loss(s, t)`), for hidden states.
    case mse
    /// `F.kl_div(log_softmax(s / 2), softmax(t / 2), reduction='batchmean') * 4`, softmax over the
    /// last dim, for logits.
    case kl
}

/// The distillation settings of one student target, typed and resolved: `link: 'auto'` is
/// already replaced by the student module's name, defaults are filled in.
public struct DistillationSettings: Sendable, Hashable {
    /// The factor the target's loss is multiplied by (`lambda`, default 1). Finite; may be zero or
    /// negative (the chosen link is still the one with the smallest `lambda * loss`, as in NNI).
    public var lambda: Double
    /// The teacher modules whose same-named target this student target is compared with, in
    /// order; never empty. The target's loss is the smallest of the links' losses.
    public var links: [String]
    /// The loss function (`apply_method`, default `mse`).
    public var method: DistillationMethod

    /// Settings given directly. `links` must not be empty and `lambda` must be finite; both are
    /// checked when the settings are used (`Distillation.targetLoss`), not here.
    public init(lambda: Double = 1, links: [String], method: DistillationMethod = .mse) {
        self.lambda = lambda
        self.links = links
        self.method = method
    }

    /// Parses one target's canonical settings dict (the `settings` of a distillation `TargetPlan`).
    ///
    /// - `lambda`: a finite int or float; absent or `None` means 1.
    /// - `link`: absent, `None` or the string `'auto'` mean the student module's own name; any
    ///   other string is one teacher module name; a non-empty list of strings is several (inside a
    ///   list `'auto'` is an ordinary name, as in NNI).
    /// - `apply_method`: `'mse'` or `'kl'`; absent or `None` mean `'mse'` (NNI's default).
    ///
    /// Other keys are ignored (the config engine validates key names). Whether the links name
    /// teacher modules is checked separately, by `checkLinks(teacherModules:module:target:)`.
    ///
    /// - Parameters:
    ///   - settings: the dict for one target.
    ///   - module: the student module's name (`''` for the root); it is what `'auto'` links to.
    ///   - target: the target's name in the module (`_output_0`), used in errors.
    /// - Throws: `EngineError(.distillation, .invalidSetting)` naming the target, the key, what was expected
    ///   and what was given.
    public init(_ settings: ConfigObject, module: String, target: String) throws(EngineError) {
        let name = qualifiedTargetName(module: module, target: target)
        let value = SettingsReader(settings: settings, mode: .distillation, engine: .distillation, target: name)
        lambda = try value("lambda")?.number ?? 1
        switch try value("link") {
        case nil, .string("auto")?: links = [module]
        case .string(let s)?: links = [s]
        case let v?: links = v.array?.compactMap(\.string) ?? [module]
        }
        method = try value("apply_method")?.string.flatMap(DistillationMethod.init(rawValue:)) ?? .mse
    }

    /// Parses the settings of a target of a distillation plan (see `init(_:module:target:)`).
    public init(_ target: TargetPlan) throws(EngineError) {
        if let typed = target.distillation {
            self = typed
            return
        }
        try self.init(target.settings, module: target.moduleName, target: target.targetName)
    }

    /// Checks that every link names a module of the teacher model.
    ///
    /// - Parameters:
    ///   - teacherModules: the teacher's module names as `named_modules()` gives them (`''` for the
    ///     root).
    ///   - module, target: the student target, used in errors.
    /// - Throws: `EngineError(.distillation, .unknownLink)` for the first link that names no teacher module,
    ///   naming the link and up to three close teacher module names.
    public func checkLinks(teacherModules: [String], module: String, target: String) throws(EngineError) {
        let names = Set(teacherModules)
        for link in links where !names.contains(link) {
            let infos = teacherModules.map { ModuleInfo(name: $0, typeName: "") }
            let close = suggestNames(for: link, in: infos, names: names)
            let hint = close.isEmpty ? "" : "; closest: " + close.map(pythonRepr).joined(separator: ", ")
            throw EngineError(.distillation, .unknownLink, target: qualifiedTargetName(module: module, target: target), key: "link",
                                    "\(pythonRepr(link)) names no module of the teacher\(hint)")
        }
    }

    /// Checks values set directly (the dict initializer guarantees them).
    func validate(target: String) throws(EngineError) {
        if !lambda.isFinite {
            throw EngineError(.distillation, .invalidSetting, target: target, key: "lambda", "expected a finite number, got \(pythonFloat(lambda))")
        }
        if links.isEmpty {
            throw EngineError(.distillation, .invalidSetting, target: target, key: "link", "expected at least one teacher module name, got []")
        }
    }
}
