/// One student distillation target handed to `Distillation.targetLoss` / `totalLoss`: the
/// student's tensor, the linked teacher tensors, the target's settings and, optionally, where the
/// gradient goes. The caller owns every buffer; they must stay valid (and the gradient buffer must
/// not be read or written by others) until the call returns. Nothing is retained.
public struct DistillationTarget: @unchecked Sendable {
    /// The student module's name as `named_modules()` gives it (`''` for the root).
    public var moduleName: String
    /// The target's name in the module (`_output_0`, `_input_0`, ...). The teachers are the
    /// same-named target of each linked teacher module, as in NNI.
    public var targetName: String
    /// The target's settings (`links` gives the order of `teachers`).
    public var settings: DistillationSettings
    /// The student's tensor (any of the four dtypes, any strides, at least one element).
    public var student: TensorView
    /// One entry per `settings.links`, in the same order: the linked teacher module's tensor, of
    /// the student's shape (dtype and strides may differ), or nil when the teacher did not produce
    /// it this step (NNI skips such a link).
    public var teachers: [TensorView?]
    /// Where `d(loss)/d(student)` is written, or nil for the loss alone: the student's shape, any
    /// dtype and strides. It may be the student's own buffer with the student's layout (the
    /// gradient then replaces the values); it must not otherwise overlap the student or a teacher.
    public var gradient: MutableTensorView?

    /// A target over the given views; nothing is checked here: `Distillation.targetLoss` /
    /// `totalLoss` check settings, teacher count and shapes before computing anything.
    public init(moduleName: String, targetName: String = "_output_0", settings: DistillationSettings,
                student: TensorView, teachers: [TensorView?], gradient: MutableTensorView? = nil) {
        self.moduleName = moduleName
        self.targetName = targetName
        self.settings = settings
        self.student = student
        self.teachers = teachers
        self.gradient = gradient
    }

    /// `module.target` (just `target` for the root module), as errors name it.
    public var qualifiedName: String { qualifiedTargetName(module: moduleName, target: targetName) }
}

/// How gradients are written.
public struct DistillationGradientOptions: Sendable, Hashable {
    /// True (default): the gradient is that of `lambda * loss`, the target's term of the total.
    /// False: the gradient of the unweighted loss of the chosen link.
    public var includesLambda: Bool
    /// False (default): the gradient replaces the buffer's values. True: it is added to them (for
    /// a buffer shared by several targets, or one that already holds other gradients).
    public var accumulate: Bool

    /// Options for gradient buffers: whether the gradient includes the `lambda` factor, and whether it
    /// is added to the buffer (true) or overwrites it (false).
    public init(includesLambda: Bool = true, accumulate: Bool = false) {
        self.includesLambda = includesLambda
        self.accumulate = accumulate
    }
}

/// The loss of one target.
public struct DistillationTargetLoss: Sendable, Equatable {
    /// `lambda * loss` of the chosen link: the target's term of the total. 0 when no link had a
    /// teacher tensor.
    public var loss: Double
    /// The index in `settings.links` of the chosen link (the smallest `lambda * loss`; the first
    /// of equal ones), or nil when no link had a teacher tensor.
    public var chosenLink: Int?
    /// `lambda * loss` for every link, in link order; nil where the teacher tensor was nil.
    public var linkLosses: [Double?]
}

/// The losses of a list of targets.
public struct DistillationTotal: Sendable, Equatable {
    /// The sum of the targets' `loss` (each already multiplied by its lambda), in target order:
    /// NNI's `compute_distill_loss()`.
    public var total: Double
    /// Each target's loss, in the order given.
    public var targets: [DistillationTargetLoss]
}

/// Distillation losses and their gradients over caller memory (NNI 3.0's
/// `DynamicLayerwiseDistiller.compute_distill_loss`).
///
/// Losses are computed in Double whatever the element types, and are deterministic: the same
/// inputs give the same bits whatever the number of threads. Large inputs are split over threads.
public enum Distillation {
    /// The longest last dim `kl` accepts (2^28 elements): each row is held in four Double work
    /// buffers (32 bytes per element) while its softmaxes are computed.
    public static let maxKLRowLength = 1 << 28
    /// The most elements a student may have (2^40). No real tensor comes near it; a broadcast view
    /// (stride 0) can claim up to `Int.max`, whose per-chunk partial sums could not be allocated.
    public static let maxElementCount = 1 << 40

    /// The loss between one student tensor and one teacher tensor, and optionally its gradient.
    ///
    /// - `mse`: `sum((s - t)^2) / count` (`F.mse_loss`); gradient `2 (s - t) / count`.
    /// - `kl`: `F.kl_div(log_softmax(s/2, -1), softmax(t/2, -1), reduction='batchmean') * 4`,
    ///   where batchmean divides the sum over all elements by `shape[0]` (by 1 for a scalar), as
    ///   torch does for inputs of any rank; gradient `2 (softmax(s/2) - softmax(t/2)) / shape[0]`.
    ///   Softmaxes are shifted by the row maximum, so large logits (1e4 and beyond) stay finite.
    ///   Teacher positions whose probability underflows to 0 add 0 (torch's xlogy).
    ///
    /// - Parameters:
    ///   - student, teacher: equal shapes with at least one element; dtypes and strides may differ.
    ///   - gradient: when given, receives `gradientScale * d(loss)/d(student)` (rounded to its dtype),
    ///     replacing its values or, with `accumulate`, added to them. The student's shape; any
    ///     dtype and strides; see `DistillationTarget.gradient` for overlap.
    ///   - target: the name errors use.
    /// - Returns: the loss (unweighted).
    /// - Throws: `EngineError(.distillation, .shapeMismatch)` when the shapes differ,
    ///   `.emptyTensor` when the student has no elements, `.tooLarge` for more than
    ///   `maxElementCount` elements or a `kl` last dim over `maxKLRowLength`.
    public static func loss(_ method: DistillationMethod, student: TensorView, teacher: TensorView,
                            gradient: MutableTensorView? = nil, gradientScale: Double = 1, accumulate: Bool = false,
                            target: String = "target") throws(EngineError) -> Double {
        try checkStudent(student, gradient: gradient, target: target)
        try checkRow(method, student, target: target)
        try checkTeacher(teacher, student: student, link: nil, target: target)
        return DistillationKernels.run(method, student: student, teacher: teacher, gradient: gradient,
                                       gradientScale: gradientScale, accumulate: accumulate)
    }

    /// The loss of one target: `lambda * loss` for each link that has a teacher tensor, the
    /// smallest of them chosen (the first on ties, and a NaN is kept only when it is the first
    /// candidate: Python's `min`, as NNI uses it), and the chosen link's gradient written into
    /// `target.gradient` when given.
    ///
    /// When no link has a teacher tensor the loss is 0, `chosenLink` nil, and the gradient buffer
    /// is filled with zeros (left as it is with `accumulate`).
    ///
    /// Everything is checked before any gradient is written.
    ///
    /// - Throws: `DistillationError`: `.invalidSetting` for a non-finite lambda or no links,
    ///   `.teacherCountMismatch` when `teachers` and `settings.links` differ in length,
    ///   `.shapeMismatch` naming the link whose teacher (or the gradient buffer) differs in shape
    ///   from the student, `.emptyTensor` for a student without elements, `.tooLarge` for more
    ///   than `maxElementCount` elements or a `kl` last dim over `maxKLRowLength`.
    public static func targetLoss(_ target: DistillationTarget,
                                  options: DistillationGradientOptions = .init()) throws(EngineError) -> DistillationTargetLoss {
        try check(target)
        return compute(target, options: options)
    }

    /// The losses of every target and their sum, NNI's distillation loss for one step:
    /// `sum over targets of min over links of lambda * loss`. Gradients are written as
    /// `targetLoss` writes them. All targets are checked before any gradient is written.
    ///
    /// - Throws: what `targetLoss` throws, for the first target with a problem, and
    ///   `.duplicateTarget` when a `(moduleName, targetName)` pair appears twice (its loss would
    ///   count twice).
    public static func totalLoss(_ targets: [DistillationTarget],
                                 options: DistillationGradientOptions = .init()) throws(EngineError) -> DistillationTotal {
        var seen = Set<String>()
        for t in targets {
            if !seen.insert(t.moduleName + "\u{0}" + t.targetName).inserted {
                throw EngineError(.distillation, .duplicateTarget, target: t.qualifiedName, "appears more than once in the target list")
            }
            try check(t)
        }
        var results: [DistillationTargetLoss] = []
        var total = 0.0
        for t in targets {
            let r = compute(t, options: options)
            total += r.loss
            results.append(r)
        }
        return DistillationTotal(total: total, targets: results)
    }

    // MARK: - Checks

    static func checkStudent(_ student: TensorView, gradient: MutableTensorView?, target: String) throws(EngineError) {
        if student.count == 0 {
            throw EngineError(.distillation, .emptyTensor, target: target, "the student tensor of shape \(student.shape) has no elements")
        }
        if student.count > maxElementCount {
            throw EngineError(.distillation, .tooLarge, target: target,
                                    "the student tensor of shape \(student.shape) has \(student.count) elements; at most \(maxElementCount) are supported")
        }
        if let g = gradient, g.shape != student.shape {
            throw EngineError(.distillation, .shapeMismatch, target: target,
                                    "the gradient buffer has shape \(g.shape) but the student has shape \(student.shape)")
        }
    }

    static func checkRow(_ method: DistillationMethod, _ student: TensorView, target: String) throws(EngineError) {
        if method == .kl, let v = student.shape.last, v > maxKLRowLength {
            throw EngineError(.distillation, .tooLarge, target: target,
                                    "kl: the last dim of the student's shape \(student.shape) is \(v); at most \(maxKLRowLength) is supported (a softmax row is held in memory)")
        }
    }

    static func checkTeacher(_ teacher: TensorView, student: TensorView, link: String?, target: String) throws(EngineError) {
        if teacher.shape != student.shape {
            let which = link.map { "the teacher of link \(pythonRepr($0))" } ?? "the teacher"
            throw EngineError(.distillation, .shapeMismatch, target: target,
                                    "\(which) has shape \(teacher.shape) but the student has shape \(student.shape)")
        }
    }

    static func check(_ t: DistillationTarget) throws(EngineError) {
        let name = t.qualifiedName
        try t.settings.validate(target: name)
        if t.teachers.count != t.settings.links.count {
            throw EngineError(.distillation, .teacherCountMismatch, target: name,
                                    "expected \(t.settings.links.count) teacher tensors (one per link in [\(t.settings.links.map(pythonRepr).joined(separator: ", "))]), got \(t.teachers.count)")
        }
        try checkStudent(t.student, gradient: t.gradient, target: name)
        try checkRow(t.settings.method, t.student, target: name)
        for (link, teacher) in zip(t.settings.links, t.teachers) {
            if let teacher { try checkTeacher(teacher, student: t.student, link: link, target: name) }
        }
    }

    // MARK: - Computation (after the checks)

    static func compute(_ t: DistillationTarget, options: DistillationGradientOptions) -> DistillationTargetLoss {
        let lambda = t.settings.lambda
        let gradientScale = options.includesLambda ? lambda : 1
        let present = t.teachers.indices.filter { t.teachers[$0] != nil }
        var linkLosses = [Double?](repeating: nil, count: t.teachers.count)
        if present.isEmpty {
            if let g = t.gradient, !options.accumulate { g.fill(0) }
            return DistillationTargetLoss(loss: 0, chosenLink: nil, linkLosses: linkLosses)
        }
        if present.count == 1, let teacher = t.teachers[present[0]] {
            // One candidate: loss and gradient in one pass.
            let raw = DistillationKernels.run(t.settings.method, student: t.student, teacher: teacher, gradient: t.gradient,
                                              gradientScale: gradientScale, accumulate: options.accumulate)
            linkLosses[present[0]] = lambda * raw
            return DistillationTargetLoss(loss: lambda * raw, chosenLink: present[0], linkLosses: linkLosses)
        }
        // Several candidates: every loss first, then the chosen link's gradient (the kernels are
        // deterministic, so the second pass gives the same loss).
        var chosen = -1
        for i in present {
            guard let teacher = t.teachers[i] else { continue }
            let weighted = lambda * DistillationKernels.run(t.settings.method, student: t.student, teacher: teacher,
                                                            gradient: nil, gradientScale: 0, accumulate: false)
            linkLosses[i] = weighted
            // Python's min: a candidate replaces the current one only when strictly smaller.
            if chosen < 0 || weighted < (linkLosses[chosen] ?? .nan) { chosen = i }
        }
        if let g = t.gradient, chosen >= 0, let teacher = t.teachers[chosen] {
            _ = DistillationKernels.run(t.settings.method, student: t.student, teacher: teacher, gradient: g,
                                        gradientScale: gradientScale, accumulate: options.accumulate)
        }
        return DistillationTargetLoss(loss: linkLosses[chosen] ?? 0, chosenLink: chosen, linkLosses: linkLosses)
    }
}
