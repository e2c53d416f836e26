import SwiftCompress
import Synchronization

/// What `sc_session *` points at: a thin handle over the core's `CompressionSession` (modules,
/// config, bindings, observers, links, teacher modules), plus what only C needs: the C strings and
/// arrays handed out through `const char **` / `const int64_t **` (valid until the next config),
/// the last returned text and the last error. Not thread-safe (one session per thread).
final class Session {
    let core: CompressionSession
    var mode: CompressionMode { core.mode }
    var plan: Plan? { core.plan }
    /// C strings of each target's module and target name.
    private(set) var targetNames: [(module: CString, target: CString)] = []
    /// Per target (distillation sessions): its links as C strings, made on first use.
    var linkStrings: [[CString]?] = []
    /// Per target (quantization sessions): its scale shape for sc_session_scale_shape, made once observed.
    var scaleShapes: [CInt64Array?] = []
    /// The last JSON or text returned (valid until the next one).
    var output: CString?
    private(set) var lastError = CString("")

    init(mode: CompressionMode) { core = CompressionSession(mode: mode, callNames: .c) }

    func fail(_ error: CallError) { lastError = CString(error.message) }

    /// Runs a core call, its `SessionError` converted to the C status and message.
    func call<T>(_ body: (CompressionSession) throws(SessionError) -> T) throws(CallError) -> T {
        do throws(SessionError) { return try body(core) } catch { throw CallError(error) }
    }

    func addModules(_ list: [ModuleInfo]) throws(CallError) {
        try call { (c) throws(SessionError) in try c.addModules(list) }
        if plan == nil { resetCaches() }
    }

    func setConfig(_ json: String) throws(CallError) {
        try call { (c) throws(SessionError) in try c.setConfig(json) }
        resetCaches()
        for t in plan?.targets ?? [] { targetNames.append((CString(t.moduleName), CString(t.targetName))) }
    }

    private func resetCaches() {
        let n = plan?.targets.count ?? 0
        targetNames = []
        linkStrings = Array(repeating: nil, count: n)
        scaleShapes = Array(repeating: nil, count: n)
        output = nil
    }

    func requirePlan() throws(CallError) -> Plan { try call { (c) throws(SessionError) in try c.requirePlan() } }

    func requireMode(_ m: CompressionMode, for call: String) throws(CallError) {
        try self.call { (c) throws(SessionError) in try c.requireMode(m, for: call) }
    }

    /// The index of a resolved target, or an error listing what the caller may have meant.
    func index(module: String, target: String) throws(CallError) -> Int {
        try call { (c) throws(SessionError) in try c.index(module: module, target: target) }
    }

    func checkIndex(_ index: Int) throws(CallError) -> TargetPlan {
        try call { (c) throws(SessionError) in try c.target(at: index) }
    }

    /// `module.target` (just `target` for the root module) of resolved target `i`, as messages name it.
    func targetName(_ i: Int) -> String { core.targetName(i) }

    /// Keeps `s` as the session's output (valid until the next one) and returns it through `text`
    /// and `length`.
    func returnText(_ s: String, _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>, _ length: UnsafeMutablePointer<Int>?) {
        let c = CString(s)
        output = c
        text.pointee = c.constPointer
        length?.pointee = c.byteCount
    }
}

extension CompressionSession.CallNames {
    /// The header's function names, as the C ABI's messages name them.
    static let c = CompressionSession.CallNames(
        setConfig: "sc_session_set_config", bind: "sc_session_bind", bindMetric: "sc_session_bind_metric",
        bindAbsentHint: "NULL tensor and mask for one the model lacks", absentBinding: "NULL tensor and mask",
        observe: "sc_session_observe", bindStudent: "sc_session_bind_student", scaleShape: "sc_session_scale_shape",
        observerName: { $0 == .minMax ? "SC_OBSERVER_MINMAX" : "SC_OBSERVER_EMA" })
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
