/// Why a tensor view could not be created or accessed.
public struct TensorViewError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, in words, with the values involved (e.g. `shape[1] is -3; dimensions must be >= 0`).
    public var message: String

    /// An error with `message`.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// The validated geometry of a view: shape, strides (in elements) and the range of element offsets
/// it addresses. Shared by `TensorView` and `MutableTensorView`.
public struct TensorLayout: Sendable, Hashable {
    /// Size of each dimension (all >= 0). `[]` is a scalar with one element.
    public let shape: [Int]
    /// Distance in elements between neighbours along each dimension; may be 0 or negative.
    public let strides: [Int]
    /// Number of elements, the product of `shape` (1 for a scalar).
    public let count: Int
    /// True when `strides` are the row-major contiguous strides of `shape` (the logical index of an
    /// element is then its offset). Dimensions of size 1 are ignored.
    public let isContiguous: Bool
    /// Smallest and largest element offset addressed (both 0 when `count` is 0).
    public let minOffset: Int
    public let maxOffset: Int

    /// The largest byte span a tensor view may address: 2^48 bytes (256 TiB). Larger views are
    /// refused by `TensorView`'s check: no process's memory holds them.
    public static let maxExtent = 1 << 48

    /// Row-major contiguous strides for `shape`, in elements (`[12, 4, 1]` for `[2, 3, 4]`).
    /// Sizes must be non-negative; overflowing products give `nil`.
    public static func contiguousStrides(for shape: [Int]) -> [Int]? {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[d] = running
            let (p, o) = running.multipliedReportingOverflow(by: Swift.max(shape[d], 1))
            if o { return nil }
            running = p
        }
        return strides
    }

    /// Validates a geometry: no negative dims, `strides.count == shape.count`, no overflow.
    /// `strides: nil` means row-major contiguous.
    public init(shape: [Int], strides: [Int]? = nil) throws(TensorViewError) {
        for (d, s) in shape.enumerated() where s < 0 {
            throw TensorViewError("shape[\(d)] is \(s); dimensions must be >= 0 (shape \(shape))")
        }
        var n = 1
        for s in shape {
            let (p, o) = n.multipliedReportingOverflow(by: s)
            if o { throw TensorViewError("shape \(shape) has too many elements") }
            n = p
        }
        guard let contiguous = TensorLayout.contiguousStrides(for: shape) else {
            throw TensorViewError("shape \(shape) has too many elements")
        }
        let st = strides ?? contiguous
        if st.count != shape.count {
            throw TensorViewError("strides \(st) has \(st.count) entries but shape \(shape) has rank \(shape.count)")
        }
        var lo = 0, hi = 0
        if n > 0 {
            for d in 0..<shape.count {
                let (span, o) = st[d].multipliedReportingOverflow(by: shape[d] - 1)
                if o { throw TensorViewError("strides \(st) overflow for shape \(shape)") }
                if span < 0 {
                    let (v, o2) = lo.addingReportingOverflow(span)
                    if o2 { throw TensorViewError("strides \(st) overflow for shape \(shape)") }
                    lo = v
                } else {
                    let (v, o2) = hi.addingReportingOverflow(span)
                    if o2 { throw TensorViewError("strides \(st) overflow for shape \(shape)") }
                    hi = v
                }
            }
        }
        var isContig = true
        for d in 0..<shape.count where shape[d] != 1 && st[d] != contiguous[d] { isContig = false }
        self.shape = shape
        self.strides = st
        self.count = n
        self.isContiguous = isContig
        self.minOffset = lo
        self.maxOffset = hi
    }

    /// Checks that every addressed element of `dtype` lies inside `[0, byteCount)` bytes from the base.
    func checkFits(byteCount: Int, dtype: ElementType) throws(TensorViewError) {
        if byteCount < 0 { throw TensorViewError("byte count \(byteCount) is negative") }
        if count == 0 { return }
        if minOffset < 0 {
            throw TensorViewError("strides \(strides) address element offset \(minOffset), before the start of the buffer")
        }
        let (endElements, o1) = maxOffset.addingReportingOverflow(1)
        let (endBytes, o2) = endElements.multipliedReportingOverflow(by: dtype.byteSize)
        if o1 || o2 || endBytes > byteCount {
            throw TensorViewError(
                "shape \(shape) with strides \(strides) of \(dtype.rawValue) needs \(o1 || o2 ? "more than Int.max" : String(endBytes)) bytes but the buffer has \(byteCount)")
        }
    }

    /// The element offset of the element at row-major logical index `index` (0 ..< count).
    @inline(__always)
    func offset(ofLogicalIndex index: Int) -> Int {
        if isContiguous { return index }
        var rem = index
        var off = 0
        var d = shape.count - 1
        while d >= 0 {
            let s = shape[d]
            if s > 1 {
                off &+= (rem % s) &* strides[d]
                rem /= s
            }
            d -= 1
        }
        return off
    }

    /// Calls `body(logicalIndex, elementOffset)` for each logical index in `range`, in order.
    /// `range` must lie inside `0..<count` (callers clamp it).
    @inline(__always)
    func forEachOffset(in range: Range<Int>, _ body: (Int, Int) -> Void) {
        if range.isEmpty { return }
        if isContiguous {
            for i in range { body(i, i) }
            return
        }
        // Drop dimensions of size 1; walk the rest like an odometer.
        var dims: [Int] = []
        var sts: [Int] = []
        for d in 0..<shape.count where shape[d] != 1 {
            dims.append(shape[d])
            sts.append(strides[d])
        }
        let r = dims.count
        if r == 0 {
            for i in range { body(i, 0) }
            return
        }
        var coord = [Int](repeating: 0, count: r)
        var rem = range.lowerBound
        var off = 0
        for d in stride(from: r - 1, through: 0, by: -1) {
            coord[d] = rem % dims[d]
            rem /= dims[d]
            off &+= coord[d] &* sts[d]
        }
        let lastDim = dims[r - 1], lastStride = sts[r - 1]
        var i = range.lowerBound
        let end = range.upperBound
        coord.withUnsafeMutableBufferPointer { c in
            while i < end {
                // Inner run along the last dimension.
                let run = Swift.min(lastDim - c[r - 1], end - i)
                for _ in 0..<run {
                    body(i, off)
                    i += 1
                    off &+= lastStride
                }
                c[r - 1] += run
                if c[r - 1] < lastDim { break }
                // Carry.
                off &-= lastDim &* lastStride
                c[r - 1] = 0
                var d = r - 2
                while d >= 0 {
                    c[d] += 1
                    off &+= sts[d]
                    if c[d] < dims[d] { break }
                    off &-= dims[d] &* sts[d]
                    c[d] = 0
                    d -= 1
                }
                if d < 0 { break }
            }
        }
    }
}

/// A read-only view of a tensor in memory the caller owns: base pointer, shape, strides (in
/// elements) and element type. Creating a view never copies; the memory must stay valid and
/// unchanged by others for as long as the view is used. Elements are read in logical (row-major)
/// order whatever the strides, so channels-last or transposed tensors can be passed as they are.
public struct TensorView: @unchecked Sendable {
    /// The address of the element with all-zero coordinates. Nil only when the view is empty.
    public let pointer: UnsafeRawPointer?
    /// Shape, strides and element count.
    public let layout: TensorLayout
    /// The element type.
    public let dtype: ElementType

    public var shape: [Int] { layout.shape }
    public var strides: [Int] { layout.strides }
    /// Number of elements.
    public var count: Int { layout.count }

    /// Creates a view after validating it.
    ///
    /// - Parameters:
    ///   - pointer: base address; must be non-nil when the view has elements, and aligned to the
    ///     element size.
    ///   - shape: sizes, each >= 0.
    ///   - strides: distance between neighbours in elements, one per dim; nil for row-major contiguous.
    ///   - dtype: element type.
    ///   - byteCount: when given, the size of the caller's buffer starting at `pointer`; every
    ///     addressed element must lie inside it.
    /// - Throws: `TensorViewError` naming the problem.
    public init(_ pointer: UnsafeRawPointer?, shape: [Int], strides: [Int]? = nil, dtype: ElementType,
                byteCount: Int? = nil) throws(TensorViewError) {
        let layout = try TensorLayout(shape: shape, strides: strides)
        try TensorView.check(pointer: pointer, layout: layout, dtype: dtype, byteCount: byteCount)
        self.pointer = pointer
        self.layout = layout
        self.dtype = dtype
    }

    static func check(pointer: UnsafeRawPointer?, layout: TensorLayout, dtype: ElementType,
                      byteCount: Int?) throws(TensorViewError) {
        if layout.count > 0 {
            guard let p = pointer else {
                throw TensorViewError("null pointer for a tensor of shape \(layout.shape) (\(layout.count) elements)")
            }
            if Int(bitPattern: p) % dtype.byteSize != 0 {
                throw TensorViewError("pointer is not aligned to \(dtype.byteSize) bytes, as \(dtype.rawValue) requires")
            }
            // Every addressed byte must be reachable without the address arithmetic wrapping.
            let base = UInt(bitPattern: Int(bitPattern: p))
            let (hiBytes, o1) = layout.maxOffset.multipliedReportingOverflow(by: dtype.byteSize)
            let (loBytes, o2) = layout.minOffset.multipliedReportingOverflow(by: dtype.byteSize)
            let (end, o3) = base.addingReportingOverflow(UInt(max(0, hiBytes)) + UInt(dtype.byteSize))
            let lowestOK = loBytes >= 0 || UInt(loBytes.magnitude) <= base
            if o1 || o2 || o3 || end == 0 || !lowestOK {
                throw TensorViewError("strides \(layout.strides) for shape \(layout.shape) address elements outside the address space (offsets \(layout.minOffset)...\(layout.maxOffset) of \(dtype.byteSize)-byte elements)")
            }
            // No memory a process can hold spans 2^48 bytes (x86-64 and arm64 user space are at most
            // 2^47 / 2^48 bytes; 5-level paging's 2^56 is not reached by one tensor): larger spans
            // are refused for every entry point, before an engine's size arithmetic can overflow.
            // (Broadcast views that claim many elements over little memory are bounded by each
            // engine, which knows what it allocates per element or block.)
            let (span, o4) = (layout.maxOffset - layout.minOffset).addingReportingOverflow(1)
            let (spanBytes, o5) = span.multipliedReportingOverflow(by: dtype.byteSize)
            if o4 || o5 || spanBytes > TensorLayout.maxExtent {
                throw TensorViewError("shape \(layout.shape) with strides \(layout.strides) of \(dtype.byteSize)-byte elements spans more than 2^48 bytes (offsets \(layout.minOffset)...\(layout.maxOffset)); no buffer is that large")
            }
        }
        if let byteCount { try layout.checkFits(byteCount: byteCount, dtype: dtype) }
    }

    /// The element at row-major logical index `index`, converted to Double (exact for every dtype).
    /// - Throws: when `index` is outside `0..<count`.
    public func value(atLogicalIndex index: Int) throws(TensorViewError) -> Double {
        guard index >= 0, index < count, let p = pointer else {
            throw TensorViewError("index \(index) is outside 0..<\(count)")
        }
        return loadDouble(p, dtype, layout.offset(ofLogicalIndex: index))
    }

    /// The element at the given coordinates (one per dimension, each in range), as Double.
    /// - Throws: when the coordinates do not match the shape.
    public func value(at coordinates: [Int]) throws(TensorViewError) -> Double {
        guard coordinates.count == shape.count else {
            throw TensorViewError("\(coordinates.count) coordinates for a tensor of rank \(shape.count)")
        }
        var off = 0
        for d in 0..<shape.count {
            guard coordinates[d] >= 0, coordinates[d] < shape[d] else {
                throw TensorViewError("coordinate \(coordinates[d]) is outside 0..<\(shape[d]) in dim \(d)")
            }
            off += coordinates[d] * strides[d]
        }
        guard let p = pointer else { throw TensorViewError("empty tensor") }
        return loadDouble(p, dtype, off)
    }

    /// Calls `body` with every element as Double, in logical (row-major) order.
    public func forEachValue(_ body: (Double) -> Void) {
        visitDoubles(0..<count) { _, v in body(v) }
    }

    /// Calls `body(logicalIndex, value)` for the logical indices in `range` (clamped to
    /// `0..<count`), in order, values converted to Double.
    @inline(__always)
    func visitDoubles(_ range: Range<Int>, _ body: (Int, Double) -> Void) {
        guard let p = pointer else { return }
        let r = range.clamped(to: 0..<count)
        switch dtype {
        case .float32: layout.forEachOffset(in: r) { i, o in body(i, Double(p.load(fromByteOffset: o &* 4, as: Float.self))) }
        case .float64: layout.forEachOffset(in: r) { i, o in body(i, p.load(fromByteOffset: o &* 8, as: Double.self)) }
        case .float16: layout.forEachOffset(in: r) { i, o in body(i, Double(float(fromFloat16Bits: p.load(fromByteOffset: o &* 2, as: UInt16.self)))) }
        case .bfloat16: layout.forEachOffset(in: r) { i, o in body(i, Double(float(fromBFloat16Bits: p.load(fromByteOffset: o &* 2, as: UInt16.self)))) }
        }
    }

    /// Like `visitDoubles` with values as Float; for float64 the values are rounded to Float.
    @inline(__always)
    func visitFloats(_ range: Range<Int>, _ body: (Int, Float) -> Void) {
        guard let p = pointer else { return }
        let r = range.clamped(to: 0..<count)
        switch dtype {
        case .float32: layout.forEachOffset(in: r) { i, o in body(i, p.load(fromByteOffset: o &* 4, as: Float.self)) }
        case .float64: layout.forEachOffset(in: r) { i, o in body(i, Float(p.load(fromByteOffset: o &* 8, as: Double.self))) }
        case .float16: layout.forEachOffset(in: r) { i, o in body(i, float(fromFloat16Bits: p.load(fromByteOffset: o &* 2, as: UInt16.self))) }
        case .bfloat16: layout.forEachOffset(in: r) { i, o in body(i, float(fromBFloat16Bits: p.load(fromByteOffset: o &* 2, as: UInt16.self))) }
        }
    }
}

@inline(__always)
func loadDouble(_ p: UnsafeRawPointer, _ dtype: ElementType, _ off: Int) -> Double {
    switch dtype {
    case .float32: return Double(p.load(fromByteOffset: off &* 4, as: Float.self))
    case .float64: return p.load(fromByteOffset: off &* 8, as: Double.self)
    case .float16: return Double(float(fromFloat16Bits: p.load(fromByteOffset: off &* 2, as: UInt16.self)))
    case .bfloat16: return Double(float(fromBFloat16Bits: p.load(fromByteOffset: off &* 2, as: UInt16.self)))
    }
}

@inline(__always)
func storeDouble(_ p: UnsafeMutableRawPointer, _ dtype: ElementType, _ off: Int, _ v: Double) {
    switch dtype {
    case .float32: p.storeBytes(of: Float(v), toByteOffset: off &* 4, as: Float.self)
    case .float64: p.storeBytes(of: v, toByteOffset: off &* 8, as: Double.self)
    case .float16: p.storeBytes(of: float16Bits(from: Float(v)), toByteOffset: off &* 2, as: UInt16.self)
    case .bfloat16: p.storeBytes(of: bfloat16Bits(from: Float(v)), toByteOffset: off &* 2, as: UInt16.self)
    }
}

/// A mutable view of a tensor in memory the caller owns (a mask buffer, or a weight to mask in
/// place). Same geometry rules as `TensorView`; writes convert from Double with round-to-nearest-even.
/// The memory must stay valid, and not be accessed by others, while the view is used. Views whose
/// strides make elements overlap are allowed; the last write to a shared element wins.
public struct MutableTensorView: @unchecked Sendable {
    /// The address of the element with all-zero coordinates. Nil only when the view is empty.
    public let pointer: UnsafeMutableRawPointer?
    /// Shape, strides and element count.
    public let layout: TensorLayout
    /// The element type.
    public let dtype: ElementType

    public var shape: [Int] { layout.shape }
    public var strides: [Int] { layout.strides }
    /// Number of elements.
    public var count: Int { layout.count }

    /// Creates a view after validating it; same rules and errors as `TensorView.init`.
    public init(_ pointer: UnsafeMutableRawPointer?, shape: [Int], strides: [Int]? = nil, dtype: ElementType,
                byteCount: Int? = nil) throws(TensorViewError) {
        let layout = try TensorLayout(shape: shape, strides: strides)
        try TensorView.check(pointer: pointer.map { UnsafeRawPointer($0) }, layout: layout, dtype: dtype, byteCount: byteCount)
        self.pointer = pointer
        self.layout = layout
        self.dtype = dtype
    }

    /// The same memory seen read-only.
    public var readOnly: TensorView {
        // The layout was validated already; rebuild without re-checking.
        TensorView(unchecked: pointer.map { UnsafeRawPointer($0) }, layout: layout, dtype: dtype)
    }

    /// The element at row-major logical index `index`, as Double.
    /// - Throws: when `index` is outside `0..<count`.
    public func value(atLogicalIndex index: Int) throws(TensorViewError) -> Double {
        try readOnly.value(atLogicalIndex: index)
    }

    /// Stores `value` (rounded to the element type) at row-major logical index `index`.
    /// - Throws: when `index` is outside `0..<count`.
    public func setValue(_ value: Double, atLogicalIndex index: Int) throws(TensorViewError) {
        guard index >= 0, index < count, let p = pointer else {
            throw TensorViewError("index \(index) is outside 0..<\(count)")
        }
        storeDouble(p, dtype, layout.offset(ofLogicalIndex: index), value)
    }

    /// Stores `value` in every element.
    public func fill(_ value: Double) {
        store(0..<count) { _ in value }
    }

    /// Stores `value(i)` at each logical index `i` of `range` (clamped to `0..<count`), in order.
    @inline(__always)
    func store(_ range: Range<Int>, _ value: (Int) -> Double) {
        guard let p = pointer else { return }
        let r = range.clamped(to: 0..<count)
        switch dtype {
        case .float32: layout.forEachOffset(in: r) { i, o in p.storeBytes(of: Float(value(i)), toByteOffset: o &* 4, as: Float.self) }
        case .float64: layout.forEachOffset(in: r) { i, o in p.storeBytes(of: value(i), toByteOffset: o &* 8, as: Double.self) }
        case .float16: layout.forEachOffset(in: r) { i, o in p.storeBytes(of: float16Bits(from: Float(value(i))), toByteOffset: o &* 2, as: UInt16.self) }
        case .bfloat16: layout.forEachOffset(in: r) { i, o in p.storeBytes(of: bfloat16Bits(from: Float(value(i))), toByteOffset: o &* 2, as: UInt16.self) }
        }
    }

    /// Replaces each element `x` at logical index `i` in `range` by `transform(i, x)`.
    @inline(__always)
    func update(_ range: Range<Int>, _ transform: (Int, Double) -> Double) {
        guard let p = pointer else { return }
        let r = range.clamped(to: 0..<count)
        layout.forEachOffset(in: r) { i, o in
            storeDouble(p, dtype, o, transform(i, loadDouble(UnsafeRawPointer(p), dtype, o)))
        }
    }
}

extension TensorView {
    /// A view over already-validated geometry (internal use only).
    init(unchecked pointer: UnsafeRawPointer?, layout: TensorLayout, dtype: ElementType) {
        self.pointer = pointer
        self.layout = layout
        self.dtype = dtype
    }
}
