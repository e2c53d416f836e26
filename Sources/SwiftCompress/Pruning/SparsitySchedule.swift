/// How the sparsity goals grow over an iterative pruning run (NNI's LinearPruner and AGPPruner).
///
/// At update `step` of `totalSteps` the goals `sparse_ratio`, `sparse_threshold`,
/// `max_sparse_ratio` and `min_sparse_ratio` are the final goals times `factor`:
/// - linear: `(1 - initial) * step / totalSteps`
/// - AGP (cubic): `1 - (1 - initial) * (1 - step / totalSteps)^3`
/// with `initial` = 0 in NNI 3.0, so step 0 is unpruned and step `totalSteps` reaches the goals.
/// (With a final sparsity s_f and s_i = 0 this is AGP's s_t = s_f + (s_i - s_f)(1 - t/n)^3.)
public enum SparsitySchedule: String, Sendable, Hashable {
    case linear
    case agp

    /// The factor at update `step` of `totalSteps`, evaluated in float64 in NNI's order of
    /// operations (the cube correctly rounded, as Python's `** 3`).
    ///
    /// - Throws: `EngineError(.pruning, .invalidSetting)` (target `schedule`) unless `totalSteps >= 1`,
    ///   `0 <= step <= totalSteps` and `initialRatio` is in [0, 1].
    public func factor(step: Int, totalSteps: Int, initialRatio: Double = 0) throws(EngineError) -> Double {
        guard totalSteps >= 1 else {
            throw EngineError(.pruning, .invalidSetting, target: "schedule", key: "total_times", "expected an int >= 1, got \(totalSteps)")
        }
        guard step >= 0, step <= totalSteps else {
            throw EngineError(.pruning, .invalidSetting, target: "schedule", key: "step", "expected an int in [0, \(totalSteps)], got \(step)")
        }
        guard initialRatio >= 0, initialRatio <= 1 else {
            throw EngineError(.pruning, .invalidSetting, target: "schedule", key: "initial_ratio", "expected a number in [0, 1], got \(pythonFloat(initialRatio))")
        }
        switch self {
        case .linear:
            return (1 - initialRatio) * Double(step) / Double(totalSteps)
        case .agp:
            let x = 1 - Double(step) / Double(totalSteps)
            return 1 - (1 - initialRatio) * cube(x)
        }
    }

    /// A final ratio scaled to update `step` of `totalSteps`: `ratio * factor(step:totalSteps:)`
    /// (what `sc_sparsity_schedule` returns).
    ///
    /// - Parameter ratio: the final goal, in [0, 1] (checked by the caller).
    /// - Throws: as `factor`.
    public func ratio(_ ratio: Double, step: Int, totalSteps: Int) throws(EngineError) -> Double {
        ratio * (try factor(step: step, totalSteps: totalSteps))
    }

    /// `settings` with its four goals multiplied by `factor(step:totalSteps:)`; other keys unchanged.
    /// A `max_sparse_ratio` scaled to 0 (step 0) is dropped: the key table's rule is (0, 1], and
    /// NNI treats a zero bound as unset.
    /// - Throws: as `factor`.
    public func settings(_ settings: PruningSettings, step: Int, totalSteps: Int) throws(EngineError) -> PruningSettings {
        let f = try factor(step: step, totalSteps: totalSteps)
        var s = settings
        s.sparseRatio = s.sparseRatio.map { $0 * f }
        s.sparseThreshold = s.sparseThreshold.map { $0 * f }
        s.maxSparseRatio = s.maxSparseRatio.map { $0 * f }.flatMap { $0 > 0 ? $0 : nil }
        s.minSparseRatio = s.minSparseRatio.map { $0 * f }
        return s
    }
}

/// x^3 rounded once (double-double product), matching C's pow(x, 3) for x in [0, 1].
func cube(_ x: Double) -> Double {
    let h = x * x
    let l = (-h).addingProduct(x, x)  // x*x - h exactly
    let p = h * x
    let e = (-p).addingProduct(h, x)  // h*x - p exactly
    return p + (e + l * x)
}
