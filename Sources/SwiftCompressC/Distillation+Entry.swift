import SwiftCompress
import SwiftCompressABI

// The distillation entry points of include/swiftcompress.h; see the header for the contracts.

/// `int sc_session_add_teacher_module(sc_session *, const char *name)`.
@_cdecl("sc_session_add_teacher_module")
public func sc_session_add_teacher_module(_ session: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        try s.requireMode(.distillation, for: "sc_session_add_teacher_module")
        let n = try string(name, "name")
        try s.call { (c) throws(SessionError) in try c.addTeacherModule(n, call: "sc_session_add_teacher_module") }
    }
}

/// `int sc_session_target_link_count(sc_session *, size_t index, size_t *count)`.
@_cdecl("sc_session_target_link_count")
public func sc_session_target_link_count(_ session: OpaquePointer?, _ index: Int, _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        guard let count else { throw CallError(.nullPointer, "count is NULL") }
        count.pointee = try links(s, index).count
    }
}

/// `int sc_session_target_link(sc_session *, size_t index, size_t link, const char **teacher_module)`.
@_cdecl("sc_session_target_link")
public func sc_session_target_link(_ session: OpaquePointer?, _ index: Int, _ link: Int,
                                   _ teacherModule: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        guard let teacherModule else { throw CallError(.nullPointer, "teacher_module is NULL") }
        let l = try links(s, index)
        guard link >= 0, link < l.count else {
            throw CallError(.invalidArgument, "link \(link) is out of range 0..<\(l.count) for \(quoted(s.targetName(index)))")
        }
        teacherModule.pointee = l[link].constPointer
    }
}

/// `int sc_session_bind_student(sc_session *, const char *module_name, const char *target_name,
///                              const sc_tensor *student, const sc_tensor *gradient)`.
@_cdecl("sc_session_bind_student")
public func sc_session_bind_student(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                    _ student: UnsafePointer<sc_tensor>?, _ gradient: UnsafePointer<sc_tensor>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        try s.requireMode(.distillation, for: "sc_session_bind_student")
        let i = try s.index(module: try string(moduleName, "module_name"), target: try string(targetName, "target_name"))
        let name = s.targetName(i)
        let st = try tensorView(student, "\(name): student", writable: false).readOnly
        let g = try optionalTensorView(gradient, "\(name): gradient", writable: true)
        let t = try s.checkIndex(i)
        try s.call { (c) throws(SessionError) in try c.bindStudent(module: t.moduleName, target: t.targetName, student: st, gradient: g) }
    }
}

/// `int sc_session_bind_teacher(sc_session *, const char *module_name, const char *target_name,
///                              size_t link, const sc_tensor *teacher)`.
@_cdecl("sc_session_bind_teacher")
public func sc_session_bind_teacher(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                    _ link: Int, _ teacher: UnsafePointer<sc_tensor>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        try s.requireMode(.distillation, for: "sc_session_bind_teacher")
        let module = try string(moduleName, "module_name"), target = try string(targetName, "target_name")
        let i = try s.index(module: module, target: target)
        let name = s.targetName(i)
        // The student and link checks come before the teacher tensor is converted.
        _ = try s.call { (c) throws(SessionError) in try c.teacherSlot(module: module, target: target, link: link, call: "sc_session_bind_teacher") }
        let tv = try optionalTensorView(teacher, "\(name): teacher \(link)", writable: false)?.readOnly
        try s.call { (c) throws(SessionError) in try c.bindTeacher(module: module, target: target, link: link, teacher: tv, call: "sc_session_bind_teacher") }
    }
}

/// `int sc_session_distill(sc_session *, double *total_loss, double *target_losses, size_t target_loss_count)`.
@_cdecl("sc_session_distill")
public func sc_session_distill(_ session: OpaquePointer?, _ totalLoss: UnsafeMutablePointer<Double>?,
                               _ targetLosses: UnsafeMutablePointer<Double>?, _ targetLossCount: Int) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        try s.requireMode(.distillation, for: "sc_session_distill")
        guard let totalLoss else { throw CallError(.nullPointer, "total_loss is NULL") }
        let plan = try s.requirePlan()
        if targetLosses != nil && targetLossCount != plan.targets.count {
            throw CallError(.invalidArgument, "target_loss_count is \(targetLossCount); expected the target count \(plan.targets.count)")
        }
        let result = try s.call { (c) throws(SessionError) in try c.distill(call: "sc_session_distill") }
        totalLoss.pointee = result.total
        if let targetLosses {
            for (i, r) in result.targets.enumerated() { targetLosses[i] = r.loss }
        }
    }
}

/// The resolved links of target `index` as C strings (kept by the session until the next config).
private func links(_ s: Session, _ index: Int) throws(CallError) -> [CString] {
    let names = try s.call { (c) throws(SessionError) in try c.links(index) }
    if s.linkStrings.indices.contains(index), let l = s.linkStrings[index] { return l }
    let l = names.map(CString.init)
    if s.linkStrings.indices.contains(index) { s.linkStrings[index] = l }
    return l
}
