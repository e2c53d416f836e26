import Testing
@testable import SwiftCompress

/// Losses and gradients equal to torch's formulation (Fixtures/distillation/losses.json) and NNI
/// 3.0's total distillation loss (nni_total.json), both written by
/// `/work/nnienv/bin/python tools/make_distill_fixtures.py`.
@Suite struct DistillationFixtureTests {
    struct LossCase: CustomStringConvertible {
        var name: String
        var method: DistillationMethod
        var dtype: ElementType
        var shape: [Int]
        var student: [Double]
        var teacher: [Double]
        var loss: Double
        var gradient: [Double]
        var lossNative: Double?
        var description: String { name }
    }

    static let lossCases: [LossCase] = {
        guard let fixture = try? loadDistillationFixture("losses.json"), let cases = fixture["cases"]?.array else { return [] }
        return cases.compactMap { v -> LossCase? in
            guard let o = v.object, let name = o["name"]?.string,
                  let method = o["method"]?.string.flatMap(DistillationMethod.init(rawValue:)),
                  let dtype = o["dtype"]?.string.flatMap(ElementType.init(rawValue:)),
                  let shape = o["shape"]?.ints, let s = o["student"]?.doubles, let t = o["teacher"]?.doubles,
                  let loss = o["loss"]?.number, let g = o["gradient"]?.doubles
            else { return nil }
            return LossCase(name: name, method: method, dtype: dtype, shape: shape, student: s, teacher: t,
                            loss: loss, gradient: g, lossNative: o["loss_native"]?.number)
        }
    }()

    @Test func fixtureIsComplete() {
        // 2 methods x (5 shapes + 3 dtypes + 1 long row) + 4 large-logit + 1 masked-teacher cases.
        #expect(Self.lossCases.count == 23)
        #expect(Set(Self.lossCases.map(\.dtype)) == Set(ElementType.allCases))
        #expect(Set(Self.lossCases.map(\.shape.count)) == [0, 1, 2, 3, 4])
    }

    /// Contiguous inputs, float64 gradient buffer: the loss within 1e-9 of torch's float64 value
    /// (and 1e-5 of torch's own float32 computation), the gradient within 1e-9 of autograd's.
    @Test(arguments: lossCases)
    func lossAndGradientMatchTorch(_ c: LossCase) throws {
        let b = TestBuffers()
        let s = try b.view(c.student, shape: c.shape, dtype: c.dtype, layout: .contiguous)
        let t = try b.view(c.teacher, shape: c.shape, dtype: c.dtype, layout: .contiguous)
        let g = try b.gradientBuffer(shape: c.shape, dtype: .float64, layout: .contiguous)
        let loss = try Distillation.loss(c.method, student: s.readOnly, teacher: t.readOnly, gradient: g, target: c.name)
        #expect(loss.isFinite)
        #expect(close(loss, c.loss, tol: 1e-9), "\(c.name): \(loss) vs torch \(c.loss)")
        if let native = c.lossNative {
            #expect(close(loss, native, tol: 1e-5), "\(c.name): \(loss) vs torch \(c.dtype) \(native)")
        }
        #expect(relativeError(g.allValues, c.gradient) <= 1e-9, "\(c.name)")
        // The loss alone is the same number.
        let lossOnly = try Distillation.loss(c.method, student: s.readOnly, teacher: t.readOnly, target: c.name)
        #expect(lossOnly == loss)
    }

    /// Every layout of student, teacher and gradient, and every gradient dtype: the same loss, and
    /// the gradient equal to autograd's rounded to the buffer's dtype (within one rounding).
    @Test(arguments: lossCases.filter { $0.shape.count >= 2 })
    func stridesAndGradientDtypes(_ c: LossCase) throws {
        let b = TestBuffers()
        for (sl, tl) in [(TestLayout.reversed, TestLayout.spaced), (.spaced, .reversed), (.contiguous, .reversed)] {
            let s = try b.view(c.student, shape: c.shape, dtype: c.dtype, layout: sl)
            let t = try b.view(c.teacher, shape: c.shape, dtype: c.dtype, layout: tl)
            for gd in ElementType.allCases {
                for gl in TestLayout.allCases {
                    let g = try b.gradientBuffer(shape: c.shape, dtype: gd, layout: gl)
                    let loss = try Distillation.loss(c.method, student: s.readOnly, teacher: t.readOnly, gradient: g, target: c.name)
                    #expect(close(loss, c.loss, tol: 1e-9), "\(c.name) \(sl)/\(tl)")
                    let got = g.allValues
                    // One rounding to the dtype, plus float32's rounding on the way to 16 bits.
                    let ulp: Double = [.float64: 1e-12, .float32: 0x1p-23, .float16: 0x1p-10, .bfloat16: 0x1p-7][gd] ?? 0
                    for (i, (x, r)) in zip(got, c.gradient).enumerated() {
                        let ok = abs(x - r) <= ulp * abs(r) + 1e-300 || x == rounded(r, to: gd)
                        if !ok {
                            Issue.record("\(c.name) \(sl)/\(tl) grad \(gd) \(gl) [\(i)]: \(x) vs \(r)")
                            break
                        }
                    }
                }
            }
        }
    }

    /// Large logits (magnitude 1e4) give finite losses and gradients in every dtype.
    @Test func largeLogitsStayFinite() throws {
        let cases = Self.lossCases.filter { $0.name.hasPrefix("kl_large_logits") }
        #expect(cases.count == 4)
        for c in cases {
            let b = TestBuffers()
            let s = try b.view(c.student, shape: c.shape, dtype: c.dtype, layout: .contiguous)
            let t = try b.view(c.teacher, shape: c.shape, dtype: c.dtype, layout: .contiguous)
            let g = try b.gradientBuffer(shape: c.shape, dtype: c.dtype, layout: .contiguous)
            let loss = try Distillation.loss(.kl, student: s.readOnly, teacher: t.readOnly, gradient: g)
            #expect(loss.isFinite && loss > 1000, "\(c.name): \(loss)")
            #expect(g.allValues.allSatisfy { $0.isFinite }, "\(c.name)")
        }
    }

    // MARK: - NNI 3.0 end to end

    /// The config list resolved by the config engine gives NNI's settings; the total over targets
    /// equals NNI's `compute_distill_loss()` and the gradients equal autograd's through it.
    @Test func totalEqualsNNI() throws {
        let f = try loadDistillationFixture("nni_total.json")
        guard let configList = f["config_list"], let moduleList = f["modules"]?.array,
              let teacherModules = f["teacher_modules"]?.array?.compactMap(\.string),
              let fixtureTargets = f["targets"]?.array, let nniTotal = f["total"]?.number
        else { Issue.record("bad fixture"); return }
        let modules = moduleList.compactMap { v -> ModuleInfo? in
            guard let o = v.object, let n = o["name"]?.string, let t = o["type"]?.string else { return nil }
            return ModuleInfo(name: n, typeName: t)
        }
        let plan = try Plan(configList: configList, modules: modules, mode: .distillation)
        #expect(plan.targets.count == fixtureTargets.count)

        let b = TestBuffers()
        var targets: [DistillationTarget] = []
        var expectedGradients: [[Double]] = []
        for ft in fixtureTargets {
            guard let o = ft.object, let module = o["module"]?.string, let name = o["target"]?.string,
                  let shape = o["shape"]?.ints, let lambda = o["lambda"]?.number,
                  let links = o["link"]?.array?.compactMap(\.string), let method = o["apply_method"]?.string,
                  let student = o["student"]?.doubles, let teachers = o["teachers"]?.array?.compactMap(\.doubles),
                  let gradient = o["gradient"]?.doubles
            else { Issue.record("bad fixture target"); return }
            guard let tp = plan.target(module: module, name: name) else {
                Issue.record("plan has no target \(module).\(name)")
                continue
            }
            let settings = try DistillationSettings(tp)
            #expect(settings == DistillationSettings(lambda: lambda, links: links, method: DistillationMethod(rawValue: method) ?? .kl),
                    "\(module).\(name)")
            try settings.checkLinks(teacherModules: teacherModules, module: module, target: name)
            let sv = try b.view(student, shape: shape, dtype: .float32, layout: .contiguous)
            var tvs: [TensorView?] = []
            for t in teachers { tvs.append(try b.view(t, shape: shape, dtype: .float32, layout: .contiguous).readOnly) }
            let g = try b.gradientBuffer(shape: shape, dtype: .float32, layout: .contiguous)
            targets.append(DistillationTarget(moduleName: module, targetName: name, settings: settings,
                                              student: sv.readOnly, teachers: tvs, gradient: g))
            expectedGradients.append(gradient)
        }
        let result = try Distillation.totalLoss(targets)
        #expect(close(result.total, nniTotal, tol: 1e-5), "\(result.total) vs NNI \(nniTotal)")
        #expect(close(result.targets.map(\.loss).reduce(0, +), result.total, tol: 1e-15))
        // fc2 links ['fc1', 'fc3', 'fc2']: fc3 is closest; fc3 has lambda -0.5, so the largest
        // loss (link 'fc2') gives the smallest lambda * loss.
        #expect(result.targets.map(\.chosenLink) == [0, 1, 0, 0])
        for (t, expected) in zip(targets, expectedGradients) {
            #expect(relativeError(t.gradient?.allValues ?? [], expected) <= 1e-5, "\(t.qualifiedName)")
        }
    }
}
