import SwiftCompress
import Synchronization

/// What `sc_session *` points at: one model's modules, one config list resolved against them, and
/// the caller buffers bound to its targets. Not thread-safe (one session per thread).
final class Session {
    let mode: CompressionMode
    private(set) var modules: [ModuleInfo] = []
    private var moduleNames: Set<String> = []
    private(set) var plan: Plan?
    /// `module \0 target` → index in `plan.targets`.
    private var targetIndex: [String: Int] = [:]
    /// C strings of each target's module and target name.
    private(set) var targetNames: [(module: CString, target: CString)] = []
    /// Per target: its bound buffers.
    var bindings: [Binding?] = []
    /// Per target (distillation sessions): its settings' links as C strings, and its bound tensors.
    var distill: [DistillBinding] = []
    /// Per target (quantization sessions): its observer and scale shape, set by sc_session_observe.
    var quant: [QuantState] = []
    /// The teacher's module names (distillation sessions).
    var teacherModules: [String] = []
    var teacherModuleSet: Set<String> = []
    /// The last JSON or text returned (valid until the next one).
    var output: CString?
    private(set) var lastError = CString("")

    /// A target's buffers, or `absent` for a target the model does not have (a Conv2d's bias
    /// with `bias=False`).
    enum Binding {
        case buffers(tensor: MutableTensorView, mask: MutableTensorView, metric: TensorView?)
        case absent
    }

    struct DistillBinding {
        var student: TensorView?
        var gradient: MutableTensorView?
        var teachers: [TensorView?] = []
        /// The resolved links, parsed on first use.
        var links: [CString]?
    }

    struct QuantState {
        /// Made by the target's first sc_session_observe (its kind is kept).
        var observer: QuantObserver?
        /// The observer's scale shape for sc_session_scale_shape (fixed once observed).
        var scaleShape: CInt64Array?
    }

    init(mode: CompressionMode) { self.mode = mode }

    func fail(_ error: CallError) { lastError = CString(error.message) }

    func addModules(_ list: [ModuleInfo]) throws(CallError) {
        var names = moduleNames
        for m in list {
            guard !m.typeName.isEmpty else { throw CallError(.invalidArgument, "module \(quoted(m.name)): type is empty") }
            guard names.insert(m.name).inserted else {
                throw CallError(.invalidArgument, "module \(quoted(m.name)) was added already (names must be unique, as in named_modules())")
            }
        }
        moduleNames = names
        modules += list
        if plan != nil { clearPlan() }
    }

    func setConfig(_ json: String) throws(CallError) {
        let p: Plan
        do throws(SwiftCompressError) { p = try Plan(json: json, modules: modules, mode: mode) } catch { throw CallError(error) }
        clearPlan()
        plan = p
        for (i, t) in p.targets.enumerated() {
            targetIndex[t.moduleName + "\u{0}" + t.targetName] = i
            targetNames.append((CString(t.moduleName), CString(t.targetName)))
        }
        bindings = Array(repeating: nil, count: p.targets.count)
        distill = Array(repeating: DistillBinding(), count: p.targets.count)
        quant = Array(repeating: QuantState(), count: p.targets.count)
    }

    private func clearPlan() {
        plan = nil
        targetIndex = [:]
        targetNames = []
        bindings = []
        distill = []
        quant = []
        output = nil
    }

    func requirePlan() throws(CallError) -> Plan {
        guard let plan else { throw CallError(.state, "no config list is set (call sc_session_set_config first)") }
        return plan
    }

    func requireMode(_ m: CompressionMode, for call: String) throws(CallError) {
        guard mode == m else {
            throw CallError(.state, "\(call) needs a \(m.rawValue) session; this session was created for \(mode.rawValue)")
        }
    }

    /// The index of a resolved target, or an error listing what the caller may have meant.
    func index(module: String, target: String) throws(CallError) -> Int {
        let p = try requirePlan()
        if let i = targetIndex[module + "\u{0}" + target] { return i }
        let name = module.isEmpty ? target : module + "." + target
        let hints = p.suggestTargets(module: module, target: target)
        var message = "\(quoted(name)) is not a resolved target of the config list"
        if !moduleNames.contains(module) { message += " (no module named \(quoted(module)))" }
        if !hints.isEmpty { message += "; did you mean " + hints.map(quoted).joined(separator: ", ") + "?" }
        throw CallError(.unknownName, message)
    }

    func checkIndex(_ index: Int) throws(CallError) -> TargetPlan {
        let p = try requirePlan()
        guard index >= 0, index < p.targets.count else {
            throw CallError(.invalidArgument, "target index \(index) is out of range 0..<\(p.targets.count)")
        }
        return p.targets[index]
    }

    /// `module.target` (just `target` for the root module) of resolved target `i`, as messages name it.
    func targetName(_ i: Int) -> String {
        guard let t = plan?.targets[i] else { return "target" }
        return t.moduleName.isEmpty ? t.targetName : t.moduleName + "." + t.targetName
    }

    func setOutput(_ s: String) -> CString {
        let c = CString(s)
        output = c
        return c
    }
}

func quoted(_ s: String) -> String { "'" + s + "'" }

/// The live sessions, so that a stale or foreign pointer gives an error instead of a crash.
enum SessionRegistry {
    private static let live = Mutex<Set<UInt>>([])

    static func register(_ s: Session) -> OpaquePointer {
        let p = Unmanaged.passRetained(s).toOpaque()
        _ = live.withLock { $0.insert(UInt(bitPattern: p)) }
        return OpaquePointer(p)
    }

    static func lookup(_ p: OpaquePointer) -> Session? {
        let isLive = live.withLock { $0.contains(UInt(bitPattern: UnsafeRawPointer(p))) }
        guard isLive else { return nil }
        return Unmanaged<Session>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }

    static func release(_ p: OpaquePointer) {
        let wasLive = live.withLock { $0.remove(UInt(bitPattern: UnsafeRawPointer(p))) != nil }
        if wasLive { Unmanaged<Session>.fromOpaque(UnsafeRawPointer(p)).release() }
    }
}

/// Runs a call on a session: a thrown `CallError` becomes its status and the session's message
/// (the thread's when the session pointer is NULL or not live).
func sessionCall(_ handle: OpaquePointer?, _ body: (Session) throws(CallError) -> Void) -> Int32 {
    guard let handle else {
        ThreadError.set("session is NULL")
        return Status.nullPointer.rawValue
    }
    guard let s = SessionRegistry.lookup(handle) else {
        ThreadError.set("session \(handle) is not a live session (freed, or not created by sc_session_create)")
        return Status.invalidArgument.rawValue
    }
    do {
        try body(s)
        return Status.ok.rawValue
    } catch {
        s.fail(error)
        return error.status.rawValue
    }
}
