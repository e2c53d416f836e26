/// One model's modules, one config list resolved against them, and the tensors bound to its targets:
/// plan → bind → generate (pruning), observe → quantize (quantization), bind → distill
/// (distillation), with no glue between the steps. The C ABI's `sc_session` is a thin handle over
/// this type; Swift programs use it directly.
///
/// Ownership: a session keeps tensor *views* (pointers) of the caller's memory between calls; the
/// caller keeps every bound buffer alive and unmoved until it is bound again, the config is set
/// again, or the session is released. `withArrays` / `generateMasks(metric:arrays:)` are scoped
/// alternatives over Swift arrays that bind, run and unbind inside one call.
///
/// Not thread-safe: use one session per thread (or serialize calls).
///
/// Errors are `SessionError`s; their messages name the calls of the API in use (`CallNames`), so
/// the C ABI's messages name `sc_session_*` functions and a Swift program's name these methods.
public final class CompressionSession {
    /// The names of the calls messages refer to ("call sc_session_set_config first").
    public struct CallNames: Sendable {
        /// The call that sets the config list.
        public var setConfig: String
        /// The call that binds a pruning target's tensor and mask.
        public var bind: String
        /// The call that binds a pruning target's metric.
        public var bindMetric: String
        /// How a target the model lacks is bound, as the "bind every target" hint says it.
        public var bindAbsentHint: String
        /// How an absent binding is described ("NULL tensor and mask").
        public var absentBinding: String
        /// The call that feeds a batch to a quantization observer.
        public var observe: String
        /// The call that binds a distillation student.
        public var bindStudent: String
        /// Where the scale shape of a target is read.
        public var scaleShape: String
        /// The name of an observer kind in messages.
        public var observerName: @Sendable (QuantObserverKind) -> String

        /// Names for every call messages mention (see the properties).
        public init(setConfig: String, bind: String, bindMetric: String, bindAbsentHint: String, absentBinding: String,
                    observe: String, bindStudent: String, scaleShape: String,
                    observerName: @escaping @Sendable (QuantObserverKind) -> String) {
            self.setConfig = setConfig
            self.bind = bind
            self.bindMetric = bindMetric
            self.bindAbsentHint = bindAbsentHint
            self.absentBinding = absentBinding
            self.observe = observe
            self.bindStudent = bindStudent
            self.scaleShape = scaleShape
            self.observerName = observerName
        }

        /// The names of this type's methods.
        public static let swift = CallNames(
            setConfig: "setConfig", bind: "bind(module:target:tensor:mask:)", bindMetric: "bindMetric(module:target:metric:)",
            bindAbsentHint: "bindAbsent(module:target:) for one the model lacks", absentBinding: "bindAbsent",
            observe: "observe(module:target:batch:observer:)", bindStudent: "bindStudent(module:target:student:gradient:)",
            scaleShape: "QuantObserver.scaleShape",
            observerName: { $0 == .minMax ? "QuantObserverKind.minMax" : "QuantObserverKind.qat" })
    }

    /// A pruning target's buffers, or `absent` for a target the model does not have (a Conv2d's
    /// bias with `bias=False`).
    public enum Binding {
        /// The caller's tensor, its mask (same shape) and an optional supplied metric.
        case buffers(tensor: MutableTensorView, mask: MutableTensorView, metric: TensorView?)
        /// A target the model lacks; it must not be pruned.
        case absent
    }

    /// A distillation target's tensors.
    public struct DistillationBinding {
        /// The student tensor (read only), or nil before `bindStudent`.
        public var student: TensorView?
        /// Where the loss gradient is written (student's shape), or nil for no gradient.
        public var gradient: MutableTensorView?
        /// One per link; nil where the teacher's tensor is not bound.
        public var teachers: [TensorView?] = []
    }

    /// The mode the session was created for (fixed).
    public let mode: CompressionMode
    /// The names messages use for calls.
    public let callNames: CallNames
    /// The modules added so far, in order.
    public private(set) var modules: [ModuleInfo] = []
    private var moduleNames: Set<String> = []
    /// The plan of the config list set last; nil before `setConfig` and after `addModules`.
    public private(set) var plan: Plan?
    /// `module \0 target` → index in `plan.targets`.
    private var targetIndex: [String: Int] = [:]
    /// Per target (pruning sessions): its bound buffers.
    public private(set) var bindings: [Binding?] = []
    /// Per target (distillation sessions): its bound tensors.
    public private(set) var distillationBindings: [DistillationBinding] = []
    /// Per target (quantization sessions): its observer, made by the target's first `observe`.
    public private(set) var observers: [QuantObserver?] = []
    /// Where bound tensors lie in their unsharded tensors (`bindShard`), by target index; cleared
    /// with the bindings. See docs/distributed.md.
    public internal(set) var shardPlacements: [Int: ShardPlacement] = [:]
    /// The local shapes given with `shardPlacements`.
    public internal(set) var shardLocalShapes: [Int: [Int]] = [:]
    /// A sparsity schedule applied to every pruning target's goals (sparse_ratio, sparse_threshold,
    /// max/min_sparse_ratio scaled by `SparsitySchedule.settings(_:step:totalSteps:)`) when masks are
    /// generated; nil: the config's goals. Cleared by a new config.
    public var pruningSchedule: (kind: SparsitySchedule, step: Int, totalSteps: Int)?
    /// The teacher's module names (distillation sessions), in order.
    public private(set) var teacherModules: [String] = []
    private var teacherModuleSet: Set<String> = []

    /// A session for `mode`; `callNames` decides how messages name the calls.
    public init(mode: CompressionMode, callNames: CallNames = .swift) {
        self.mode = mode
        self.callNames = callNames
    }

    // MARK: modules and config

    /// Adds modules (in `named_modules()` order). Clears the plan: set the config again after.
    ///
    /// - Throws: `.invalidArgument` for an empty type name or a name added before (nothing is added).
    public func addModules(_ list: [ModuleInfo]) throws(SessionError) {
        var names = moduleNames
        for m in list {
            guard !m.typeName.isEmpty else { throw .invalidArgument("module \(quoted(m.name)): type is empty") }
            guard names.insert(m.name).inserted else {
                throw .invalidArgument("module \(quoted(m.name)) was added already (names must be unique, as in named_modules())")
            }
        }
        moduleNames = names
        modules += list
        if plan != nil { clearPlan() }
    }

    /// Resolves a config list (JSON text) against the modules; every binding and observer starts over.
    /// - Throws: `.config` for invalid JSON or an invalid config list (the session keeps its plan).
    public func setConfig(_ json: String) throws(SessionError) {
        let p: Plan
        do throws(SwiftCompressError) { p = try Plan(json: json, modules: modules, mode: mode) } catch { throw .config(error) }
        install(p)
    }

    /// Resolves a config list given as a value; see `setConfig(_:)`.
    public func setConfig(_ configList: ConfigValue) throws(SessionError) {
        let p: Plan
        do throws(ConfigError) { p = try Plan(configList: configList, modules: modules, mode: mode) } catch { throw .config(.config(error)) }
        install(p)
    }

    private func install(_ p: Plan) {
        clearPlan()
        pruningSchedule = nil
        plan = p
        for (i, t) in p.targets.enumerated() { targetIndex[t.moduleName + "\u{0}" + t.targetName] = i }
        bindings = Array(repeating: nil, count: p.targets.count)
        shardPlacements = [:]
        shardLocalShapes = [:]
        distillationBindings = Array(repeating: DistillationBinding(), count: p.targets.count)
        observers = Array(repeating: nil, count: p.targets.count)
    }

    /// Forgets every pruning binding (the views of scoped calls must not outlive them).
    func unbindAll() {
        bindings = Array(repeating: nil, count: bindings.count)
        shardPlacements = [:]
        shardLocalShapes = [:]
    }

    private func clearPlan() {
        plan = nil
        targetIndex = [:]
        bindings = []
        shardPlacements = [:]
        shardLocalShapes = [:]
        distillationBindings = []
        observers = []
    }

    /// The plan, or `.state` before `setConfig`.
    public func requirePlan() throws(SessionError) -> Plan {
        guard let plan else { throw .state("no config list is set (call \(callNames.setConfig) first)") }
        return plan
    }

    /// `.state` unless the session was created for `m`; `call` names the caller in the message.
    public func requireMode(_ m: CompressionMode, for call: String) throws(SessionError) {
        guard mode == m else { throw .state("\(call) needs a \(m.rawValue) session; this session was created for \(mode.rawValue)") }
    }

    /// The index of a resolved target, or `.unknownName` listing what the caller may have meant.
    public func index(module: String, target: String) throws(SessionError) -> Int {
        let p = try requirePlan()
        if let i = targetIndex[module + "\u{0}" + target] { return i }
        let name = qualifiedTargetName(module: module, target: target)
        let hints = p.suggestTargets(module: module, target: target)
        var message = "\(quoted(name)) is not a resolved target of the config list"
        if !moduleNames.contains(module) { message += " (no module named \(quoted(module)))" }
        if !hints.isEmpty { message += "; did you mean " + hints.map(quoted).joined(separator: ", ") + "?" }
        throw .unknownName(message)
    }

    /// Resolved target `index`, or `.invalidArgument` when out of range.
    public func target(at index: Int) throws(SessionError) -> TargetPlan {
        let p = try requirePlan()
        guard index >= 0, index < p.targets.count else {
            throw .invalidArgument("target index \(index) is out of range 0..<\(p.targets.count)")
        }
        return p.targets[index]
    }

    /// `module.target` (just `target` for the root module) of resolved target `i`, as messages name it.
    public func targetName(_ i: Int) -> String {
        guard let targets = plan?.targets, targets.indices.contains(i) else { return "target" }
        return targets[i].qualifiedName
    }

    // MARK: pruning

    /// Binds a pruning target's tensor and mask (same shape). The session keeps the views.
    /// - Throws: `.state` outside a pruning session or without a config, `.unknownName` for a
    ///   target that is not resolved, `.shape` when the shapes differ.
    public func bind(module: String, target: String, tensor: MutableTensorView, mask: MutableTensorView) throws(SessionError) {
        let i = try pruningIndex(module, target, callNames.bind)
        guard mask.shape == tensor.shape else {
            throw .shape("\(targetName(i)): mask shape \(mask.shape) differs from tensor shape \(tensor.shape)")
        }
        bindings[i] = .buffers(tensor: tensor, mask: mask, metric: nil)
    }

    /// Marks a pruning target as one the model lacks (it must not be pruned).
    public func bindAbsent(module: String, target: String) throws(SessionError) {
        let i = try pruningIndex(module, target, callNames.bind)
        bindings[i] = .absent
    }

    /// Binds a metric to a pruning target bound with buffers (`PruningTarget.metric`).
    public func bindMetric(module: String, target: String, metric: TensorView) throws(SessionError) {
        let i = try pruningIndex(module, target, callNames.bindMetric)
        guard case .buffers(let tensor, let mask, _) = bindings[i] else {
            throw .state("\(quoted(targetName(i))) has no buffers bound; call \(callNames.bind) with its tensor and mask before \(callNames.bindMetric)")
        }
        bindings[i] = .buffers(tensor: tensor, mask: mask, metric: metric)
    }

    /// The index of a named target of a pruning session; checks the mode first.
    public func pruningIndex(_ module: String, _ target: String, _ call: String) throws(SessionError) -> Int {
        try requireMode(.pruning, for: call)
        return try index(module: module, target: target)
    }

    /// Every resolved target that is present, with its typed settings and its writable tensor.
    /// - Throws: `.state` for the first unbound target, or an absent one whose settings prune it.
    public func pruningTargets() throws(SessionError) -> [(target: PruningTarget, tensor: MutableTensorView)] {
        let plan = try requirePlan()
        var out: [(target: PruningTarget, tensor: MutableTensorView)] = []
        out.reserveCapacity(plan.targets.count)
        for (i, t) in plan.targets.enumerated() {
            let name = targetName(i)
            guard let b = bindings[i] else {
                throw .state("\(quoted(name)) is not bound (call \(callNames.bind) for every resolved target, with \(callNames.bindAbsentHint); \(plan.targets.count) targets)")
            }
            guard var settings = t.pruning else { throw .internal("\(quoted(name)) has no pruning settings") }
            if let sch = pruningSchedule {
                do throws(EngineError) { settings = try sch.kind.settings(settings, step: sch.step, totalSteps: sch.totalSteps) } catch { throw .engine(error) }
            }
            switch b {
            case .absent:
                if settings.isActive {
                    throw .state("\(quoted(name)) was bound as absent (\(callNames.absentBinding)) but its settings prune it (sparse_ratio or sparse_threshold); narrow the config or bind its buffers")
                }
            case .buffers(let tensor, let mask, let metric):
                out.append((PruningTarget(moduleName: t.moduleName, targetName: t.targetName, settings: settings,
                                          tensor: tensor.readOnly, mask: mask, metric: metric), tensor))
            }
        }
        return out
    }

    /// Writes every bound target's mask (`Pruning.generateMasks` over the bound targets).
    public func generateMasks(metric: PruningMetricKind, call: String = "generateMasks(metric:)") throws(SessionError) {
        try requireMode(.pruning, for: call)
        let targets = try pruningTargets().map(\.target)
        do throws(EngineError) { try Pruning.generateMasks(targets, metric: metric) } catch { throw .engine(error) }
    }

    /// Applies every bound target's mask to its tensor with the target's `apply_method`.
    public func applyMasks(call: String = "applyMasks()") throws(SessionError) {
        try requireMode(.pruning, for: call)
        for (t, tensor) in try pruningTargets() {
            do throws(EngineError) {
                try Pruning.applyMask(t.mask.readOnly, to: tensor, method: t.settings.applyMethod, name: t.qualifiedName)
            } catch { throw .engine(error) }
        }
    }

    // MARK: quantization

    /// The index and typed settings of a named target of a quantization session.
    public func quantizationTarget(module: String, target: String, call: String) throws(SessionError) -> (index: Int, settings: QuantizationSettings) {
        try requireMode(.quantization, for: call)
        let i = try index(module: module, target: target)
        guard let plan, plan.targets.indices.contains(i), let settings = plan.targets[i].quantization else {
            throw .internal("target \(i) has no quantization settings")
        }
        return (i, settings)
    }

    /// Feeds a batch to target `index`'s observer (made with `kind` by the first batch).
    /// - Throws: `.state` when `kind` differs from the observer's, `.engine` for the observer's errors.
    public func observe(_ index: Int, batch: TensorView, kind: QuantObserverKind, settings: QuantizationSettings) throws(SessionError) {
        guard observers.indices.contains(index) else { throw .invalidArgument("target index \(index) is out of range 0..<\(observers.count)") }
        var o = observers[index] ?? QuantObserver(kind: kind)
        guard o.kind == kind else {
            throw .state("\(quoted(settings.target)) is observed with \(callNames.observerName(o.kind)) since its first batch; observer \(callNames.observerName(kind)) cannot be mixed in (set the config again to start over)")
        }
        do throws(EngineError) { try o.observe(batch, settings: settings) } catch { throw .engine(error) }
        observers[index] = o
    }

    /// Feeds a batch to a named target's observer; see `observe(_:batch:kind:settings:)`.
    public func observe(module: String, target: String, batch: TensorView, observer kind: QuantObserverKind) throws(SessionError) {
        let (i, settings) = try quantizationTarget(module: module, target: target, call: callNames.observe)
        try observe(i, batch: batch, kind: kind, settings: settings)
    }

    /// Replaces target `index`'s observer (the distributed reduction of its range).
    func setObserver(_ index: Int, _ o: QuantObserver) {
        if observers.indices.contains(index) { observers[index] = o }
    }

    /// Target `index`'s observer, or `.state` before its first batch.
    public func observer(_ index: Int, settings: QuantizationSettings) throws(SessionError) -> QuantObserver {
        guard observers.indices.contains(index), let o = observers[index], o.scaleShape != nil else {
            throw .state("\(quoted(settings.target)) has observed no batch yet (call \(callNames.observe) first)")
        }
        return o
    }

    /// Scale and zero point of an observed target.
    public func parameters(_ index: Int, settings: QuantizationSettings) throws(SessionError) -> QuantParameters {
        let o = try observer(index, settings: settings)
        do throws(EngineError) { return try o.parameters(settings: settings) } catch { throw .engine(error) }
    }

    /// Writes an observed target's scale and zero point (and, when given, its tracked range) into
    /// caller buffers shaped like the scale.
    /// - Throws: `.shape` for a buffer of another shape, `.engine` for the parameters' errors.
    public func writeParameters(_ index: Int, settings: QuantizationSettings, scale: MutableTensorView, zeroPoint: MutableTensorView,
                                trackedMin: MutableTensorView? = nil, trackedMax: MutableTensorView? = nil) throws(SessionError) {
        let name = settings.target
        let observer = try observer(index, settings: settings)
        let scaleShape = observer.scaleShape ?? []
        for (what, v) in [("scale", scale), ("zero_point", zeroPoint), ("tracked_min", trackedMin), ("tracked_max", trackedMax)] {
            if let v, v.shape != scaleShape {
                throw .shape("\(name): \(what) buffer has shape \(v.shape); expected the scale shape \(scaleShape) (\(callNames.scaleShape))")
            }
        }
        do throws(EngineError) {
            let p = try observer.parameters(settings: settings)
            try p.write(scale: scale, zeroPoint: zeroPoint, target: name)
        } catch { throw .engine(error) }
        for (v, values) in [(trackedMin, observer.trackedMin), (trackedMax, observer.trackedMax)] {
            guard let v else { continue }
            for (j, x) in values.enumerated() {
                do throws(TensorViewError) { try v.setValue(x, atLogicalIndex: j) } catch {
                    throw .internal("\(name): writing the tracked range: \(error.message)")
                }
            }
        }
    }

    /// Applies target `index`'s apply method (or `method`) to `x` into `out`, with the observed
    /// parameters (none are needed for `bypass`).
    public func fakeQuantize(_ index: Int, settings parsed: QuantizationSettings, method: QuantApplyMethod? = nil, x: TensorView,
                             out: MutableTensorView, gradientMask: MutableTensorView?) throws(SessionError) {
        var settings = parsed
        if let method { settings.applyMethod = method }
        // Before the parameters are looked up: a mask of the wrong shape is reported even for a
        // target that has observed nothing yet.
        if let gradientMask, gradientMask.shape != x.shape {
            throw .shape("\(settings.target): gradient mask has shape \(gradientMask.shape), x \(x.shape)")
        }
        var p: QuantParameters? = nil
        if settings.applyMethod != .bypass { p = try parameters(index, settings: settings) }
        do throws(EngineError) {
            try Quantization.apply(x, into: out, parameters: p, settings: settings, gradientMask: gradientMask)
        } catch { throw .engine(error) }
    }

    // MARK: distillation

    /// Adds a teacher module name (links are checked against these when any are given).
    public func addTeacherModule(_ name: String, call: String = "addTeacherModule(_:)") throws(SessionError) {
        try requireMode(.distillation, for: call)
        guard teacherModuleSet.insert(name).inserted else { throw .invalidArgument("teacher module \(quoted(name)) was added already") }
        teacherModules.append(name)
    }

    /// The resolved links (teacher module names) of distillation target `index`.
    public func links(_ index: Int, call: String = "a link query") throws(SessionError) -> [String] {
        try requireMode(.distillation, for: call)
        let t = try target(at: index)
        guard let settings = t.distillation else { throw .internal("\(quoted(t.qualifiedName)) has no distillation settings") }
        return settings.links
    }

    /// Binds a student tensor and, optionally, a gradient buffer of its shape; the teachers of the
    /// target are unbound again.
    public func bindStudent(module: String, target: String, student: TensorView, gradient: MutableTensorView?) throws(SessionError) {
        try requireMode(.distillation, for: callNames.bindStudent)
        let i = try index(module: module, target: target)
        if let gradient, gradient.shape != student.shape {
            throw .shape("\(targetName(i)): gradient shape \(gradient.shape) differs from student shape \(student.shape)")
        }
        let l = try links(i)
        distillationBindings[i] = DistillationBinding(student: student, gradient: gradient, teachers: Array(repeating: nil, count: l.count))
    }

    /// Binds (or, with nil, unbinds) the teacher tensor of link `link` of a target with a student.
    public func bindTeacher(module: String, target: String, link: Int, teacher: TensorView?, call: String = "bindTeacher(module:target:link:teacher:)") throws(SessionError) {
        let i = try teacherSlot(module: module, target: target, link: link, call: call)
        distillationBindings[i].teachers[link] = teacher
    }

    /// The index of a target whose teacher `link` may be bound: checks the mode, the name, that a
    /// student is bound and that `link` is in range.
    public func teacherSlot(module: String, target: String, link: Int, call: String) throws(SessionError) -> Int {
        try requireMode(.distillation, for: call)
        let i = try index(module: module, target: target)
        let name = targetName(i)
        guard distillationBindings.indices.contains(i), distillationBindings[i].student != nil else {
            throw .state("\(quoted(name)) has no student bound; call \(callNames.bindStudent) first")
        }
        let count = distillationBindings[i].teachers.count
        guard link >= 0, link < count else { throw .invalidArgument("link \(link) is out of range 0..<\(count) for \(quoted(name))") }
        return i
    }

    /// The total loss over every target (and gradients into the bound gradient buffers).
    /// - Throws: `.state` for a target without a student, `.engine` for unknown links and the
    ///   loss's errors.
    public func distill(call: String = "distill()") throws(SessionError) -> DistillationTotal {
        try requireMode(.distillation, for: call)
        let plan = try requirePlan()
        var targets: [DistillationTarget] = []
        targets.reserveCapacity(plan.targets.count)
        for (i, t) in plan.targets.enumerated() {
            let name = targetName(i)
            guard let settings = t.distillation else { throw .internal("\(quoted(name)) has no distillation settings") }
            if !teacherModules.isEmpty {
                do throws(EngineError) {
                    try settings.checkLinks(teacherModules: teacherModules, module: t.moduleName, target: t.targetName)
                } catch { throw .engine(error) }
            }
            let b = distillationBindings[i]
            guard let student = b.student else {
                throw .state("\(quoted(name)) has no student bound (call \(callNames.bindStudent) for every resolved target; \(plan.targets.count) targets)")
            }
            targets.append(DistillationTarget(moduleName: t.moduleName, targetName: t.targetName, settings: settings,
                                              student: student, teachers: b.teachers, gradient: b.gradient))
        }
        do throws(EngineError) { return try Distillation.totalLoss(targets) } catch { throw .engine(error) }
    }
}

/// A failed session call: what kind of problem, with the message. The C ABI maps each case to one
/// status code (SwiftCompressC/Status.swift).
public enum SessionError: Error, Sendable, CustomStringConvertible {
    /// A bad argument value (an index out of range, a name added twice).
    case invalidArgument(String)
    /// A module/target pair that is not a resolved target.
    case unknownName(String)
    /// A call out of order (no config, an unbound target, the wrong mode).
    case state(String)
    /// Tensors whose shapes must agree and do not.
    case shape(String)
    /// Invalid JSON or an invalid config list.
    case config(SwiftCompressError)
    /// An engine's error.
    case engine(EngineError)
    /// A broken invariant of the session (never expected).
    case `internal`(String)

    public var description: String {
        switch self {
        case .invalidArgument(let m), .unknownName(let m), .state(let m), .shape(let m), .internal(let m): return m
        case .config(let e): return e.description
        case .engine(let e): return e.description
        }
    }
}

func quoted(_ s: String) -> String { "'" + s + "'" }
