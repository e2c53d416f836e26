import Foundation
import Testing
@testable import SwiftCompress

/// Hand-computed losses and gradients, link choice, lambda, gradient options and errors.
@Suite struct DistillationLossTests {
    // MARK: - Hand-computed values

    /// s = [[1, 2], [3, 4]], t = [[0, 2], [5, 4]]: differences [1, 0, -2, 0], mean of squares 5/4,
    /// gradient 2 d / 4.
    @Test func mseByHand() throws {
        let b = TestBuffers()
        let s = try b.view([1, 2, 3, 4], shape: [2, 2], dtype: .float32, layout: .contiguous)
        let t = try b.view([0, 2, 5, 4], shape: [2, 2], dtype: .float32, layout: .contiguous)
        let g = try b.gradientBuffer(shape: [2, 2], dtype: .float32, layout: .contiguous)
        #expect(try Distillation.loss(.mse, student: s.readOnly, teacher: t.readOnly, gradient: g) == 1.25)
        #expect(g.allValues == [0.5, 0, -1, 0])
    }

    /// One row: s = [0, 0] gives q = [1/2, 1/2]; t = [2 ln 3, 0] gives p = softmax([ln 3, 0]) =
    /// [3/4, 1/4]. Row loss sum p ln(p/q) = 3/4 ln(3/2) + 1/4 ln(1/2); gradient 2 (q - p) / batch.
    static let rowLoss = 0.75 * log(1.5) + 0.25 * log(0.5)

    /// batchmean divides by shape[0] whatever the rank: the same rows give 4 * rows * rowLoss / shape[0].
    @Test(arguments: [
        ([2], 4 * rowLoss / 2, [-0.25, 0.25]),                                    // 1-D: batch is the row length
        ([1, 2], 4 * rowLoss, [-0.5, 0.5]),
        ([2, 2], 4 * rowLoss, [-0.25, 0.25, -0.25, 0.25]),
        ([2, 1, 2], 4 * rowLoss, [-0.25, 0.25, -0.25, 0.25]),
        ([1, 2, 2], 8 * rowLoss, [-0.5, 0.5, -0.5, 0.5]),                         // 2 rows, batch 1
        ([1, 1, 2, 2], 8 * rowLoss, [-0.5, 0.5, -0.5, 0.5]),
    ])
    func klByHand(shape: [Int], loss: Double, gradient: [Double]) throws {
        let b = TestBuffers()
        let rows = shape.reduce(1, *) / 2
        let s = try b.view([Double](repeating: 0, count: 2 * rows), shape: shape, dtype: .float64, layout: .contiguous)
        let t = try b.view(Array([[2 * log(3.0), 0]].joined()).repeated(rows), shape: shape, dtype: .float64, layout: .contiguous)
        let g = try b.gradientBuffer(shape: shape, dtype: .float64, layout: .contiguous)
        let got = try Distillation.loss(.kl, student: s.readOnly, teacher: t.readOnly, gradient: g)
        #expect(close(got, loss, tol: 1e-14), "\(got) vs \(loss)")
        #expect(relativeError(g.allValues, gradient) <= 1e-14)
    }

    /// A scalar (rank 0): the softmax of one element is 1, so KL is 0; MSE is the squared difference.
    @Test func scalars() throws {
        let b = TestBuffers()
        let s = try b.view([3], shape: [], dtype: .float32, layout: .contiguous)
        let t = try b.view([1], shape: [], dtype: .float32, layout: .contiguous)
        let g = try b.gradientBuffer(shape: [], dtype: .float32, layout: .contiguous)
        #expect(try Distillation.loss(.mse, student: s.readOnly, teacher: t.readOnly, gradient: g) == 4)
        #expect(g.allValues == [4])
        #expect(try Distillation.loss(.kl, student: s.readOnly, teacher: t.readOnly, gradient: g) == 0)
        #expect(g.allValues == [0])
    }

    @Test(arguments: DistillationMethod.allCases)
    func equalInputsGiveZero(_ method: DistillationMethod) throws {
        let b = TestBuffers()
        let x: [Double] = [0.5, -1, 2, 7, 3, -4]
        let s = try b.view(x, shape: [2, 3], dtype: .bfloat16, layout: .contiguous)
        let t = try b.view(x, shape: [2, 3], dtype: .bfloat16, layout: .reversed)
        let g = try b.gradientBuffer(shape: [2, 3], dtype: .float32, layout: .contiguous)
        #expect(try Distillation.loss(method, student: s.readOnly, teacher: t.readOnly, gradient: g) == 0)
        #expect(g.allValues == [0, 0, 0, 0, 0, 0])
    }

    /// Logits of 1e4: q = [1, 0, 0] and p = [0, 1, 0] in Double, log q_1 = -5000, log p_1 = 0, so
    /// the loss is 4 * 5000 and the gradient 2 (q - p). Torch gives the same (finite) values.
    @Test(arguments: [ElementType.float32, .float16, .bfloat16, .float64])
    func largeLogitsByHand(_ dtype: ElementType) throws {
        let b = TestBuffers()
        let s = try b.view([1e4, 0, -1e4], shape: [1, 3], dtype: dtype, layout: .contiguous)
        let t = try b.view([0, 1e4, 0], shape: [1, 3], dtype: dtype, layout: .contiguous)
        let g = try b.gradientBuffer(shape: [1, 3], dtype: dtype, layout: .contiguous)
        let loss = try Distillation.loss(.kl, student: s.readOnly, teacher: t.readOnly, gradient: g)
        // bfloat16 rounds 1e4 to 9984 (and float16 keeps 10000).
        let e = rounded(1e4, to: dtype)
        #expect(loss == 4 * e / 2)
        #expect(g.allValues == [2, -2, 0])
    }

    // MARK: - Large inputs (several chunks, several threads) against a direct reference

    static func referenceMSE(_ s: [Double], _ t: [Double]) -> (Double, [Double]) {
        var sum = 0.0
        for i in s.indices { sum += (s[i] - t[i]) * (s[i] - t[i]) }
        return (sum / Double(s.count), s.indices.map { 2 * (s[$0] - t[$0]) / Double(s.count) })
    }

    static func referenceKL(_ s: [Double], _ t: [Double], rowLength v: Int, batch: Int) -> (Double, [Double]) {
        var total = 0.0
        var grad = [Double](repeating: 0, count: s.count)
        for r in 0..<(s.count / v) {
            let a = (0..<v).map { s[r * v + $0] / 2 }, c = (0..<v).map { t[r * v + $0] / 2 }
            let maxA = a.reduce(-Double.infinity, max), maxC = c.reduce(-Double.infinity, max)
            let lseA = log(a.map { exp($0 - maxA) }.reduce(0, +)) + maxA
            let lseC = log(c.map { exp($0 - maxC) }.reduce(0, +)) + maxC
            for j in 0..<v {
                let p = exp(c[j] - lseC), q = exp(a[j] - lseA)
                total += p * ((c[j] - lseC) - (a[j] - lseA))
                grad[r * v + j] = 2 * (q - p) / Double(batch)
            }
        }
        return (4 * total / Double(batch), grad)
    }

    /// Deterministic pseudo-random values in [-scale, scale).
    static func values(_ n: Int, seed: UInt64, scale: Double) -> [Double] {
        var x = seed
        return (0..<n).map { _ in
            x = x &* 6364136223846793005 &+ 1442695040888963407
            return (Double(x >> 11) / Double(1 << 53) * 2 - 1) * scale
        }
    }

    @Test(arguments: [
        (DistillationMethod.mse, [300_001]),     // one row split over chunks
        (.mse, [64, 2048]),
        (.mse, [3, 40_000, 2]),
        (.kl, [64, 2048]),
        (.kl, [2, 70_000]),                      // rows longer than a chunk
        (.kl, [4, 50_000, 1]),                   // rows of one element: loss 0, gradient 0
    ])
    func largeInputsMatchReference(_ method: DistillationMethod, _ shape: [Int]) throws {
        let n = shape.reduce(1, *)
        let sv = Self.values(n, seed: 1, scale: 8), tv = Self.values(n, seed: 2, scale: 8)
        let (refLoss, refGrad) = method == .mse
            ? Self.referenceMSE(sv, tv)
            : Self.referenceKL(sv, tv, rowLength: shape.last ?? 1, batch: shape[0])
        let b = TestBuffers()
        for (sl, gl) in [(TestLayout.contiguous, TestLayout.contiguous), (.reversed, .spaced)] {
            let s = try b.view(sv, shape: shape, dtype: .float64, layout: sl)
            let t = try b.view(tv, shape: shape, dtype: .float64, layout: .contiguous)
            let g = try b.gradientBuffer(shape: shape, dtype: .float64, layout: gl)
            let loss = try Distillation.loss(method, student: s.readOnly, teacher: t.readOnly, gradient: g)
            #expect(close(loss, refLoss, tol: 1e-12, floor: 1e-12), "\(method) \(shape) \(sl): \(loss) vs \(refLoss)")
            #expect(relativeError(g.allValues, refGrad) <= 1e-12, "\(method) \(shape) \(sl)")
            // Same bits on every call, whatever the threads did.
            let again = try Distillation.loss(method, student: s.readOnly, teacher: t.readOnly)
            #expect(again.bitPattern == loss.bitPattern)
        }
    }

    // MARK: - Links, lambda, gradient options

    /// Student [1, 2, 3, 4] (shape [2, 2]); teachers at MSE distances 4, 1 and 1.
    struct LinkSetup {
        let b = TestBuffers()
        let student: MutableTensorView
        let far: TensorView, near: TensorView, nearToo: TensorView
        init() throws {
            student = try b.view([1, 2, 3, 4], shape: [2, 2], dtype: .float32, layout: .contiguous)
            far = try b.view([3, 4, 5, 6], shape: [2, 2], dtype: .float32, layout: .contiguous).readOnly  // mse 4
            near = try b.view([2, 3, 4, 5], shape: [2, 2], dtype: .float32, layout: .contiguous).readOnly // mse 1
            nearToo = try b.view([0, 1, 2, 3], shape: [2, 2], dtype: .float16, layout: .reversed).readOnly // mse 1
        }
        func target(lambda: Double = 1, teachers: [TensorView?], gradient: MutableTensorView?) -> DistillationTarget {
            let links = ["t0", "t1", "t2", "t3"].prefix(teachers.count).map { $0 }
            return DistillationTarget(moduleName: "fc", settings: DistillationSettings(lambda: lambda, links: links),
                                      student: student.readOnly, teachers: teachers, gradient: gradient)
        }
    }

    /// The smallest loss wins; of equal ones the first; the gradient is the chosen link's.
    @Test func linkListTakesTheMinimum() throws {
        let x = try LinkSetup()
        let g = try x.b.gradientBuffer(shape: [2, 2], dtype: .float32, layout: .contiguous)
        let r = try Distillation.targetLoss(x.target(lambda: 0.5, teachers: [x.far, x.near, x.nearToo], gradient: g))
        #expect(r == DistillationTargetLoss(loss: 0.5, chosenLink: 1, linkLosses: [2, 0.5, 0.5]))
        // d(0.5 * mean((s - near)^2)) = 0.5 * 2 (s - near) / 4 = -0.25 everywhere.
        #expect(g.allValues == [-0.25, -0.25, -0.25, -0.25])

        let r2 = try Distillation.targetLoss(x.target(teachers: [x.nearToo, x.near, x.far], gradient: g))
        #expect(r2.chosenLink == 0)
        #expect(g.allValues == [0.5, 0.5, 0.5, 0.5])  // 2 (s - nearToo) / 4
    }

    /// A negative lambda makes the largest raw loss the smallest `lambda * loss` (NNI takes the
    /// minimum of the weighted losses).
    @Test func negativeLambdaPicksTheLargestRawLoss() throws {
        let x = try LinkSetup()
        let g = try x.b.gradientBuffer(shape: [2, 2], dtype: .float64, layout: .contiguous)
        let r = try Distillation.targetLoss(x.target(lambda: -2, teachers: [x.near, x.far], gradient: g))
        #expect(r == DistillationTargetLoss(loss: -8, chosenLink: 1, linkLosses: [-2, -8]))
        #expect(g.allValues == [2, 2, 2, 2])  // -2 * 2 (s - far) / 4
    }

    /// Python's `min` over the losses: a NaN first candidate stays, a NaN later one is never taken.
    @Test func nanLossesFollowPythonsMin() throws {
        let x = try LinkSetup()
        let nanTeacher = try x.b.view([.nan, 0, 0, 0], shape: [2, 2], dtype: .float32, layout: .contiguous).readOnly
        let first = try Distillation.targetLoss(x.target(teachers: [nanTeacher, x.near], gradient: nil))
        #expect(first.chosenLink == 0)
        #expect(first.loss.isNaN)
        let later = try Distillation.targetLoss(x.target(teachers: [x.far, nanTeacher, x.near], gradient: nil))
        #expect(later.chosenLink == 2)
        #expect(later.loss == 1)
    }

    /// A nil teacher (its module did not run) is skipped; with none the loss is 0 and the gradient
    /// zero, or untouched when accumulating.
    @Test func missingTeachersAreSkipped() throws {
        let x = try LinkSetup()
        let g = try x.b.gradientBuffer(shape: [2, 2], dtype: .float32, layout: .contiguous)
        let r = try Distillation.targetLoss(x.target(teachers: [nil, x.far, nil], gradient: g))
        #expect(r == DistillationTargetLoss(loss: 4, chosenLink: 1, linkLosses: [nil, 4, nil]))
        #expect(g.allValues == [-1, -1, -1, -1])

        let none = try Distillation.targetLoss(x.target(teachers: [nil, nil], gradient: g), options: .init(accumulate: true))
        #expect(none == DistillationTargetLoss(loss: 0, chosenLink: nil, linkLosses: [nil, nil]))
        #expect(g.allValues == [-1, -1, -1, -1])
        _ = try Distillation.targetLoss(x.target(teachers: [nil], gradient: g))
        #expect(g.allValues == [0, 0, 0, 0])
    }

    @Test func gradientOptions() throws {
        let x = try LinkSetup()
        let g = try x.b.gradientBuffer(shape: [2, 2], dtype: .float32, layout: .contiguous, fill: 10)
        // Unweighted gradient, added to what the buffer holds.
        let r = try Distillation.targetLoss(x.target(lambda: 3, teachers: [x.far], gradient: g),
                                            options: .init(includesLambda: false, accumulate: true))
        #expect(r.loss == 12)
        #expect(g.allValues == [9, 9, 9, 9])
        // Weighted (default), replacing.
        _ = try Distillation.targetLoss(x.target(lambda: 3, teachers: [x.far, x.near], gradient: g))
        #expect(g.allValues == [-1.5, -1.5, -1.5, -1.5])
    }

    /// The gradient may overwrite the student's own buffer (same layout).
    @Test func gradientInPlaceOfTheStudent() throws {
        let b = TestBuffers()
        let s = try b.view([1, 2, 3, 4, 5, 6], shape: [2, 3], dtype: .float32, layout: .reversed)
        let t = try b.view([0, 0, 0, 0, 0, 0], shape: [2, 3], dtype: .float32, layout: .contiguous)
        let loss = try Distillation.loss(.mse, student: s.readOnly, teacher: t.readOnly, gradient: s)
        #expect(loss == 91.0 / 6)
        let expected: [Double] = [1.0, 2, 3, 4, 5, 6].map { (v: Double) -> Double in Double(Float(v / 3)) }
        #expect(s.allValues == expected)
    }

    /// The total is the sum of every target's `lambda * min loss`, in order.
    @Test func totalSumsTheTargets() throws {
        let x = try LinkSetup()
        let a = x.target(lambda: 2, teachers: [x.far, x.near], gradient: nil)
        var c = x.target(lambda: 0.25, teachers: [x.far], gradient: nil)
        c.moduleName = "other"
        let total = try Distillation.totalLoss([a, c])
        #expect(total.total == 2 * 1 + 0.25 * 4)
        #expect(total.targets.map(\.chosenLink) == [1, 0])
        #expect(try Distillation.totalLoss([]).total == 0)
    }

    // MARK: - Errors

    @Test func shapeMismatchNamesTheTargetAndLink() throws {
        let x = try LinkSetup()
        let wide = try x.b.view([1, 2, 3, 4, 5, 6], shape: [2, 3], dtype: .float32, layout: .contiguous).readOnly
        let g = try x.b.gradientBuffer(shape: [2, 2], dtype: .float32, layout: .contiguous)
        var target = x.target(teachers: [x.near, wide], gradient: g)
        target.moduleName = "layer1.fc"
        #expect(throws: DistillationError(.shapeMismatch, target: "layer1.fc._output_0",
                                          "the teacher of link 't1' has shape [2, 3] but the student has shape [2, 2]")) {
            try Distillation.targetLoss(target)
        }
        // Nothing was written.
        #expect(g.allValues == [-7, -7, -7, -7])
        let e = #expect(throws: DistillationError.self) {
            try Distillation.loss(.kl, student: x.student.readOnly, teacher: wide, target: "head._output_0")
        }
        #expect(e?.description == "head._output_0: the teacher has shape [2, 3] but the student has shape [2, 2]")

        let badGradient = try x.b.gradientBuffer(shape: [4], dtype: .float32, layout: .contiguous)
        #expect(throws: DistillationError(.shapeMismatch, target: "fc._output_0",
                                          "the gradient buffer has shape [4] but the student has shape [2, 2]")) {
            try Distillation.targetLoss(x.target(teachers: [x.near], gradient: badGradient))
        }
    }

    @Test func otherErrors() throws {
        let x = try LinkSetup()
        let empty = try x.b.view([], shape: [0, 3], dtype: .float32, layout: .contiguous).readOnly
        #expect(throws: DistillationError(.emptyTensor, target: "target", "the student tensor of shape [0, 3] has no elements")) {
            try Distillation.loss(.mse, student: empty, teacher: empty)
        }
        #expect(throws: DistillationError(.teacherCountMismatch, target: "fc._output_0",
                                          "expected 2 teacher tensors (one per link in ['t0', 't1']), got 1")) {
            var t = x.target(teachers: [x.near, x.far], gradient: nil)
            t.teachers = [x.near]
            return try Distillation.targetLoss(t)
        }
        #expect(throws: DistillationError(.invalidSetting, target: "fc._output_0", key: "lambda", "expected a finite number, got inf")) {
            try Distillation.targetLoss(x.target(lambda: .infinity, teachers: [x.near], gradient: nil))
        }
        #expect(throws: DistillationError(.invalidSetting, target: "fc._output_0", key: "link", "expected at least one teacher module name, got []")) {
            try Distillation.targetLoss(x.target(teachers: [], gradient: nil))
        }
        let a = x.target(teachers: [x.near], gradient: nil)
        #expect(throws: DistillationError(.duplicateTarget, target: "fc._output_0", "appears more than once in the target list")) {
            try Distillation.totalLoss([a, a])
        }
    }

    /// A broadcast view (stride 0 over one element) may claim any size without the memory behind
    /// it: a kl row's work buffers (32 bytes per element) would fail to allocate or overflow `4 * v`,
    /// and a count near Int.max overflows the chunk count (traps), so rows over `maxKLRowLength`
    /// and counts over `maxElementCount` are refused before any work.
    @Test func hugeBroadcastViewsAreRefused() throws {
        let one = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        defer { one.deallocate() }
        one.pointee = 1
        for v in [Distillation.maxKLRowLength + 1, Distillation.maxElementCount] {
            let view = try TensorView(UnsafeRawPointer(one), shape: [1, v], strides: [0, 0], dtype: .float32)
            #expect(throws: DistillationError(.tooLarge, target: "target",
                                              "kl: the last dim of the student's shape [1, \(v)] is \(v); at most 268435456 is supported (a softmax row is held in memory)")) {
                try Distillation.loss(.kl, student: view, teacher: view)
            }
            let settings = DistillationSettings(links: ["t"], method: .kl)
            let target = DistillationTarget(moduleName: "fc", settings: settings, student: view, teachers: [view])
            #expect(throws: DistillationError(.tooLarge, target: "fc._output_0",
                                              "kl: the last dim of the student's shape [1, \(v)] is \(v); at most 268435456 is supported (a softmax row is held in memory)")) {
                try Distillation.totalLoss([target])
            }
        }
        // More elements than maxElementCount (up to Int.max, which would overflow the chunk count
        // and whose partial sums could not be allocated): refused for both methods.
        for n in [Distillation.maxElementCount + 1, 1 << 62, Int.max] {
            let view = try TensorView(UnsafeRawPointer(one), shape: [n], strides: [0], dtype: .float32)
            for method in DistillationMethod.allCases {
                #expect(throws: DistillationError(.tooLarge, target: "target",
                                                  "the student tensor of shape [\(n)] has \(n) elements; at most 1099511627776 are supported")) {
                    try Distillation.loss(method, student: view, teacher: view)
                }
            }
        }
        // A long broadcast row below the row limit is computed (uniform rows: loss 0).
        let row = try TensorView(UnsafeRawPointer(one), shape: [2, 1 << 20], strides: [0, 0], dtype: .float32)
        #expect(try Distillation.loss(.kl, student: row, teacher: row) == 0)
    }
}

extension Array {
    /// The array repeated `n` times.
    func repeated(_ n: Int) -> [Element] { (0..<n).flatMap { _ in self } }
}
