/// A Swift floating-point type a tensor view can describe without conversion.
public protocol TensorElement: BinaryFloatingPoint {
    /// The view's element type for this Swift type.
    static var elementType: ElementType { get }
}

extension Float: TensorElement {
    public static var elementType: ElementType { .float32 }
}

extension Double: TensorElement {
    public static var elementType: ElementType { .float64 }
}

extension TensorView {
    /// A row-major view of a typed buffer the caller owns (it must outlive every use of the view).
    /// - Throws: `TensorViewError` when `shape` is invalid or needs more elements than `buffer` has.
    public init<E: TensorElement>(_ buffer: UnsafeBufferPointer<E>, shape: [Int]) throws(TensorViewError) {
        try self.init(UnsafeRawPointer(buffer.baseAddress), shape: shape, dtype: E.elementType,
                      byteCount: buffer.count * MemoryLayout<E>.stride)
    }
}

extension MutableTensorView {
    /// A row-major writable view of a typed buffer the caller owns (it must outlive every use of
    /// the view).
    /// - Throws: `TensorViewError` when `shape` is invalid or needs more elements than `buffer` has.
    public init<E: TensorElement>(_ buffer: UnsafeMutableBufferPointer<E>, shape: [Int]) throws(TensorViewError) {
        try self.init(UnsafeMutableRawPointer(buffer.baseAddress), shape: shape, dtype: E.elementType,
                      byteCount: buffer.count * MemoryLayout<E>.stride)
    }
}

/// One pruning target held in Swift arrays: its values (row-major, `shape`) and the mask the
/// session writes (same count; 1 keeps, 0 prunes).
public struct ArrayTarget<Element: TensorElement> {
    /// The module's name (`fc1`; `''` for the root).
    public var module: String
    /// The target's name in the module (`weight`, `bias`).
    public var target: String
    /// The row-major shape of `values` and `mask`.
    public var shape: [Int]
    /// The values, row-major; pruned in place by `prune(_:metric:apply:)` with `apply: true`.
    public var values: [Element]
    /// The mask, written by `prune(_:metric:apply:)`; starts all ones.
    public var mask: [Element]

    /// A target with `values` of `shape` and an all-ones mask.
    public init(module: String, target: String, shape: [Int], values: [Element]) {
        self.module = module
        self.target = target
        self.shape = shape
        self.values = values
        self.mask = Array(repeating: 1, count: values.count)
    }
}

extension CompressionSession {
    /// Prunes targets held in Swift arrays in one call: binds each of `targets` (every resolved
    /// target not among them is bound as absent), generates the masks into `targets[i].mask` and,
    /// with `apply`, applies them to `targets[i].values` with each target's `apply_method`.
    ///
    /// The arrays are copied into scratch buffers for the call and the results copied back; no
    /// binding survives the call (every target is unbound when it returns, also on error).
    ///
    /// - Throws: `.state` outside a pruning session, without a config, or when a target the
    ///   config prunes is missing from `targets`; `.unknownName` for a target the config does not
    ///   resolve; `.shape` when a target's `values` or `mask` count differs from its shape's element
    ///   count; `.engine` for the pruning engine's errors (nothing is written back then).
    public func prune<E: TensorElement>(_ targets: inout [ArrayTarget<E>], metric: PruningMetricKind, apply: Bool = false) throws(SessionError) {
        try requireMode(.pruning, for: "prune(_:metric:apply:)")
        let plan = try requirePlan()
        var scratch: [(values: UnsafeMutableBufferPointer<E>, mask: UnsafeMutableBufferPointer<E>)] = []
        defer {
            for s in scratch {
                s.values.deallocate()
                s.mask.deallocate()
            }
            unbindAll()
        }
        for t in targets {
            let name = qualifiedTargetName(module: t.module, target: t.target)
            let count: Int
            do throws(TensorViewError) { count = try TensorLayout(shape: t.shape).count } catch {
                throw .shape("\(name): \(error.message)")
            }
            guard t.values.count == count, t.mask.count == count else {
                throw .shape("\(name): values has \(t.values.count) element(s) and mask \(t.mask.count); shape \(t.shape) has \(count)")
            }
            let v = UnsafeMutableBufferPointer<E>.allocate(capacity: Swift.max(count, 1))
            let m = UnsafeMutableBufferPointer<E>.allocate(capacity: Swift.max(count, 1))
            scratch.append((v, m))
            _ = v.initialize(from: t.values)
            _ = m.initialize(from: t.mask)
            let tv: MutableTensorView, mv: MutableTensorView
            do throws(TensorViewError) {
                tv = try MutableTensorView(UnsafeMutableBufferPointer(rebasing: v[0..<count]), shape: t.shape)
                mv = try MutableTensorView(UnsafeMutableBufferPointer(rebasing: m[0..<count]), shape: t.shape)
            } catch { throw .shape("\(name): \(error.message)") }
            try bind(module: t.module, target: t.target, tensor: tv, mask: mv)
        }
        for (i, t) in plan.targets.enumerated() where bindings.indices.contains(i) && bindings[i] == nil {
            try bindAbsent(module: t.moduleName, target: t.targetName)
        }
        try generateMasks(metric: metric, call: "prune(_:metric:apply:)")
        if apply { try applyMasks(call: "prune(_:metric:apply:)") }
        for k in targets.indices {
            let n = targets[k].values.count
            targets[k].mask = Array(scratch[k].mask[0..<n])
            if apply { targets[k].values = Array(scratch[k].values[0..<n]) }
        }
    }
}
