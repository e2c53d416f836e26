import SwiftCompress
import SwiftCompressABI

// The distillation entry points of include/swiftcompress.h; see the header for the contracts.

/// `int sc_session_add_teacher_module(sc_session *, const char *name)`.
@_cdecl("sc_session_add_teacher_module")
public func sc_session_add_teacher_module(_ session: OpaquePointer?, _ name: UnsafePointer<CChar>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        try s.requireMode(.distillation, for: "sc_session_add_teacher_module")
        let n = try string(name, "name")
        guard s.teacherModuleSet.insert(n).inserted else {
            throw CallError(.invalidArgument, "teacher module \(quoted(n)) was added already")
        }
        s.teacherModules.append(n)
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
        var g: MutableTensorView? = nil
        if gradient != nil {
            let gv = try tensorView(gradient, "\(name): gradient", writable: true)
            guard gv.shape == st.shape else {
                throw CallError(.shape, "\(name): gradient shape \(gv.shape) differs from student shape \(st.shape)")
            }
            g = gv
        }
        let l = try links(s, i)
        s.distill[i].student = st
        s.distill[i].gradient = g
        s.distill[i].teachers = Array(repeating: nil, count: l.count)
    }
}

/// `int sc_session_bind_teacher(sc_session *, const char *module_name, const char *target_name,
///                              size_t link, const sc_tensor *teacher)`.
@_cdecl("sc_session_bind_teacher")
public func sc_session_bind_teacher(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                    _ link: Int, _ teacher: UnsafePointer<sc_tensor>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        try s.requireMode(.distillation, for: "sc_session_bind_teacher")
        let i = try s.index(module: try string(moduleName, "module_name"), target: try string(targetName, "target_name"))
        let name = s.targetName(i)
        guard s.distill[i].student != nil else {
            throw CallError(.state, "\(quoted(name)) has no student bound; call sc_session_bind_student first")
        }
        let count = s.distill[i].teachers.count
        guard link >= 0, link < count else {
            throw CallError(.invalidArgument, "link \(link) is out of range 0..<\(count) for \(quoted(name))")
        }
        if teacher == nil {
            s.distill[i].teachers[link] = nil
            return
        }
        s.distill[i].teachers[link] = try tensorView(teacher, "\(name): teacher \(link)", writable: false).readOnly
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
        var targets: [DistillationTarget] = []
        targets.reserveCapacity(plan.targets.count)
        for (i, t) in plan.targets.enumerated() {
            let name = s.targetName(i)
            let settings = try distillationSettings(t)
            if !s.teacherModules.isEmpty {
                do throws(EngineError) {
                    try settings.checkLinks(teacherModules: s.teacherModules, module: t.moduleName, target: t.targetName)
                } catch { throw CallError(error) }
            }
            guard let student = s.distill[i].student else {
                throw CallError(.state, "\(quoted(name)) has no student bound (call sc_session_bind_student for every resolved target; \(plan.targets.count) targets)")
            }
            targets.append(DistillationTarget(moduleName: t.moduleName, targetName: t.targetName, settings: settings,
                                              student: student, teachers: s.distill[i].teachers, gradient: s.distill[i].gradient))
        }
        let result: DistillationTotal
        do throws(EngineError) { result = try Distillation.totalLoss(targets) } catch { throw CallError(error) }
        totalLoss.pointee = result.total
        if let targetLosses {
            for (i, r) in result.targets.enumerated() { targetLosses[i] = r.loss }
        }
    }
}

private func distillationSettings(_ t: TargetPlan) throws(CallError) -> DistillationSettings {
    guard let settings = t.distillation else { throw CallError(.internal, "\(quoted(t.qualifiedName)) has no distillation settings") }
    return settings
}

/// The resolved links of target `index` as C strings, parsed once per config.
private func links(_ s: Session, _ index: Int) throws(CallError) -> [CString] {
    try s.requireMode(.distillation, for: "a link query")
    let t = try s.checkIndex(index)
    if let l = s.distill[index].links { return l }
    let l = try distillationSettings(t).links.map(CString.init)
    s.distill[index].links = l
    return l
}
