import SwiftCompress

// The session entry points of include/swiftcompress.h. Each one checks and converts its arguments
// and calls the core; see the header for the contracts.

/// `int sc_session_create(int mode, sc_session **out)`.
@_cdecl("sc_session_create")
public func sc_session_create(_ mode: Int32, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    threadCall { () throws(CallError) in
        guard let out else { throw CallError(.nullPointer, "out is NULL") }
        out.pointee = nil
        let m: CompressionMode
        switch mode {
        case 0: m = .pruning
        case 1: m = .quantization
        case 2: m = .distillation
        default:
            throw CallError(.invalidArgument, "mode is \(mode); expected SC_MODE_PRUNING (0), SC_MODE_QUANTIZATION (1) or SC_MODE_DISTILLATION (2)")
        }
        out.pointee = SessionRegistry.register(Session(mode: m))
    }
}

/// `void sc_session_free(sc_session *session)`.
@_cdecl("sc_session_free")
public func sc_session_free(_ session: OpaquePointer?) {
    guard let session else { return }
    SessionRegistry.release(session)
}

/// `const char *sc_session_last_error(const sc_session *session)`.
@_cdecl("sc_session_last_error")
public func sc_session_last_error(_ session: OpaquePointer?) -> UnsafePointer<CChar> {
    guard let session, let s = SessionRegistry.lookup(session) else { return ThreadError.current }
    return s.lastError.constPointer
}

/// `int sc_session_add_module(sc_session *, const char *name, const char *type,
///                            const char *const *forward_args, size_t forward_arg_count)`.
@_cdecl("sc_session_add_module")
public func sc_session_add_module(_ session: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ type: UnsafePointer<CChar>?,
                                  _ forwardArgs: UnsafePointer<UnsafePointer<CChar>?>?, _ forwardArgCount: Int) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        let n = try string(name, "name")
        let t = try string(type, "type")
        var args: [String]? = nil
        if forwardArgCount != 0 {
            guard forwardArgCount > 0, forwardArgCount <= 1 << 20 else {
                throw CallError(.invalidArgument, "module \(quoted(n)): forward_arg_count \(UInt(bitPattern: forwardArgCount)) is not a plausible count")
            }
            guard let forwardArgs else {
                throw CallError(.nullPointer, "module \(quoted(n)): forward_args is NULL but forward_arg_count is \(forwardArgCount)")
            }
            var list: [String] = []
            for i in 0..<forwardArgCount {
                list.append(try string(forwardArgs[i], "module \(quoted(n)): forward_args[\(i)]"))
            }
            args = list
        }
        try s.addModules([ModuleInfo(name: n, typeName: t, forwardArguments: args)])
    }
}

/// `int sc_session_add_modules_json(sc_session *, const char *json, size_t length)`.
@_cdecl("sc_session_add_modules_json")
public func sc_session_add_modules_json(_ session: OpaquePointer?, _ json: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        let t = try text(json, length: length, "json")
        let list: [ModuleInfo]
        do throws(SwiftCompressError) { list = try ModuleInfo.list(fromJSON: t) } catch {
            // A parsed text that is not a module list is a bad argument, as for sc_session_add_module.
            if case .config(let e) = error { throw CallError(.invalidArgument, e.description) }
            throw CallError(error)
        }
        try s.addModules(list)
    }
}

/// `int sc_session_set_config(sc_session *, const char *json, size_t length)`.
@_cdecl("sc_session_set_config")
public func sc_session_set_config(_ session: OpaquePointer?, _ json: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        try s.setConfig(try text(json, length: length, "json"))
    }
}

/// `size_t sc_session_target_count(const sc_session *)`: 0 without a config or for a NULL session.
@_cdecl("sc_session_target_count")
public func sc_session_target_count(_ session: OpaquePointer?) -> Int {
    guard let session, let s = SessionRegistry.lookup(session) else { return 0 }
    return s.plan?.targets.count ?? 0
}

/// `int sc_session_target(const sc_session *, size_t index, const char **module_name,
///                        const char **target_name)`.
@_cdecl("sc_session_target")
public func sc_session_target(_ session: OpaquePointer?, _ index: Int,
                              _ moduleName: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                              _ targetName: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        _ = try s.checkIndex(index)
        let names = s.targetNames[index]
        moduleName?.pointee = names.module.constPointer
        targetName?.pointee = names.target.constPointer
    }
}

/// `int sc_session_target_settings(sc_session *, size_t index, const char **json, size_t *length)`.
@_cdecl("sc_session_target_settings")
public func sc_session_target_settings(_ session: OpaquePointer?, _ index: Int,
                                       _ json: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                       _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        guard let json else { throw CallError(.nullPointer, "json is NULL") }
        let t = try s.checkIndex(index)
        s.returnText(ConfigValue.object(t.settings).jsonText, json, length)
    }
}

/// `int sc_session_report(sc_session *, int table, const char **text, size_t *length)`.
@_cdecl("sc_session_report")
public func sc_session_report(_ session: OpaquePointer?, _ table: Int32,
                              _ text: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                              _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        guard let text else { throw CallError(.nullPointer, "text is NULL") }
        let p = try s.requirePlan()
        s.returnText(table != 0 ? p.report.table : p.report.json.jsonText, text, length)
    }
}
