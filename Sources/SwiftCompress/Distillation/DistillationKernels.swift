// The loss kernels: MSE and the temperature-2 KL divergence over caller tensors of any float dtype
// and strides, with the gradient with respect to the student written into a caller buffer.
//
// All arithmetic is in Double whatever the element types. Work is split into chunks whose bounds
// depend only on the shape (never on the number of threads), and per-chunk partial sums are added
// in chunk order, so the same inputs always give the same loss, bit for bit.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Loads and stores one element type as Double; generic code over it is specialized per dtype so
/// that the dtype switch happens once per run of elements, not once per element.
protocol DistillElement {
    static func load(_ p: UnsafeRawPointer, _ offset: Int) -> Double
    static func store(_ p: UnsafeMutableRawPointer, _ offset: Int, _ v: Double)
}

enum Float32Element: DistillElement {
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ o: Int) -> Double { Double(p.load(fromByteOffset: o &* 4, as: Float.self)) }
    @inline(__always) static func store(_ p: UnsafeMutableRawPointer, _ o: Int, _ v: Double) { p.storeBytes(of: Float(v), toByteOffset: o &* 4, as: Float.self) }
}

enum Float64Element: DistillElement {
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ o: Int) -> Double { p.load(fromByteOffset: o &* 8, as: Double.self) }
    @inline(__always) static func store(_ p: UnsafeMutableRawPointer, _ o: Int, _ v: Double) { p.storeBytes(of: v, toByteOffset: o &* 8, as: Double.self) }
}

enum Float16Element: DistillElement {
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ o: Int) -> Double { Double(float(fromFloat16Bits: p.load(fromByteOffset: o &* 2, as: UInt16.self))) }
    @inline(__always) static func store(_ p: UnsafeMutableRawPointer, _ o: Int, _ v: Double) { p.storeBytes(of: float16Bits(from: Float(v)), toByteOffset: o &* 2, as: UInt16.self) }
}

enum BFloat16Element: DistillElement {
    @inline(__always) static func load(_ p: UnsafeRawPointer, _ o: Int) -> Double { Double(float(fromBFloat16Bits: p.load(fromByteOffset: o &* 2, as: UInt16.self))) }
    @inline(__always) static func store(_ p: UnsafeMutableRawPointer, _ o: Int, _ v: Double) { p.storeBytes(of: bfloat16Bits(from: Float(v)), toByteOffset: o &* 2, as: UInt16.self) }
}

/// Copies `n` elements starting at element offset `start`, `stride` apart, into `out` as Double.
@inline(__always)
func gatherRun<E: DistillElement>(_: E.Type, _ p: UnsafeRawPointer, start: Int, stride: Int, count n: Int,
                                  into out: UnsafeMutablePointer<Double>) {
    var o = start
    for j in 0..<n {
        out[j] = E.load(p, o)
        o &+= stride
    }
}

/// Stores (or adds, when `accumulate`) `n` values from `src` at element offsets `start`,
/// `start + stride`, ...
@inline(__always)
func scatterRun<E: DistillElement>(_: E.Type, _ p: UnsafeMutableRawPointer, start: Int, stride: Int, count n: Int,
                                   from src: UnsafePointer<Double>, accumulate: Bool) {
    var o = start
    if accumulate {
        for j in 0..<n {
            E.store(p, o, E.load(UnsafeRawPointer(p), o) + src[j])
            o &+= stride
        }
    } else {
        for j in 0..<n {
            E.store(p, o, src[j])
            o &+= stride
        }
    }
}

/// A view's runs along its last dim: `gather`/`scatter(logical:count:)` cover the logical indices
/// `logical ..< logical + count`, which must lie in one row of the last dim unless the view is
/// contiguous.
struct RowAccess {
    let layout: TensorLayout
    let dtype: ElementType
    /// Distance between neighbours of a run: 1 for a contiguous view (whose runs may then also
    /// cross rows), else the stride of the last dim (0 for a scalar).
    let lastStride: Int

    init(_ layout: TensorLayout, _ dtype: ElementType) {
        self.layout = layout
        self.dtype = dtype
        self.lastStride = layout.isContiguous ? 1 : (layout.strides.last ?? 0)
    }

    @inline(__always)
    func gather(_ p: UnsafeRawPointer, logical: Int, count n: Int, into out: UnsafeMutablePointer<Double>) {
        let start = layout.offset(ofLogicalIndex: logical)
        switch dtype {
        case .float32: gatherRun(Float32Element.self, p, start: start, stride: lastStride, count: n, into: out)
        case .float64: gatherRun(Float64Element.self, p, start: start, stride: lastStride, count: n, into: out)
        case .float16: gatherRun(Float16Element.self, p, start: start, stride: lastStride, count: n, into: out)
        case .bfloat16: gatherRun(BFloat16Element.self, p, start: start, stride: lastStride, count: n, into: out)
        }
    }

    @inline(__always)
    func scatter(_ p: UnsafeMutableRawPointer, logical: Int, count n: Int, from src: UnsafePointer<Double>, accumulate: Bool) {
        let start = layout.offset(ofLogicalIndex: logical)
        switch dtype {
        case .float32: scatterRun(Float32Element.self, p, start: start, stride: lastStride, count: n, from: src, accumulate: accumulate)
        case .float64: scatterRun(Float64Element.self, p, start: start, stride: lastStride, count: n, from: src, accumulate: accumulate)
        case .float16: scatterRun(Float16Element.self, p, start: start, stride: lastStride, count: n, from: src, accumulate: accumulate)
        case .bfloat16: scatterRun(BFloat16Element.self, p, start: start, stride: lastStride, count: n, from: src, accumulate: accumulate)
        }
    }
}

/// Where a kernel writes `scale * d(loss)/d(student)`.
struct GradientSink {
    let pointer: UnsafeMutableRawPointer
    let access: RowAccess
    let scale: Double
    let accumulate: Bool
}

enum DistillationKernels {
    /// Elements per chunk of work (whole rows for KL: at least one row per chunk).
    static let chunkElements = 1 << 15
    /// Below this many elements everything runs on the calling thread.
    static let parallelThreshold = 1 << 16

    /// The loss of `method` between two views of equal, non-empty shape, writing the gradient into
    /// `gradient` when given. Callers have checked shapes and counts.
    static func run(_ method: DistillationMethod, student: TensorView, teacher: TensorView,
                    gradient: MutableTensorView?, gradientScale: Double, accumulate: Bool) -> Double {
        guard let sp = student.pointer, let tp = teacher.pointer, student.count > 0 else { return .nan }
        let sink = gradient.flatMap { g in
            g.pointer.map { GradientSink(pointer: $0, access: RowAccess(g.layout, g.dtype), scale: gradientScale, accumulate: accumulate) }
        }
        let s = RowAccess(student.layout, student.dtype)
        let t = RowAccess(teacher.layout, teacher.dtype)
        switch method {
        case .mse:
            // Runs may cross rows when every view is contiguous.
            let contiguous = student.layout.isContiguous && teacher.layout.isContiguous && (gradient?.layout.isContiguous ?? true)
            let runLength = contiguous ? student.count : (student.shape.last ?? 1)
            return mse(sp, s, tp, t, count: student.count, runLength: runLength, sink: sink)
        case .kl: return kl(sp, s, tp, t, shape: student.shape, count: student.count, sink: sink)
        }
    }

    /// Runs `chunk(i)` for every chunk, in parallel for large inputs, and adds the returned partial
    /// sums in chunk order.
    @inline(__always)
    static func sumOverChunks(_ chunks: Int, elements: Int, _ chunk: (Int) -> Double) -> Double {
        let partial = SharedSlots<Double>(repeating: 0, count: chunks)
        parallelFor(chunks, parallel: elements >= parallelThreshold) { i in partial[i] = chunk(i) }
        var total = 0.0
        for i in 0..<chunks { total += partial[i] }
        return total
    }

    /// `F.mse_loss(s, t)` = sum((s - t)^2) / n; gradient 2 (s - t) / n.
    static func mse(_ sp: UnsafeRawPointer, _ s: RowAccess, _ tp: UnsafeRawPointer, _ t: RowAccess,
                    count n: Int, runLength: Int, sink: GradientSink?) -> Double {
        let chunks = (n + chunkElements - 1) / chunkElements
        let gradFactor = 2 / Double(n) * (sink?.scale ?? 0)
        let sum = sumOverChunks(chunks, elements: n) { c in
            let lo = c * chunkElements, hi = Swift.min(n, lo + chunkElements)
            let bufS = UnsafeMutablePointer<Double>.allocate(capacity: hi - lo)
            let bufT = UnsafeMutablePointer<Double>.allocate(capacity: hi - lo)
            defer { bufS.deallocate(); bufT.deallocate() }
            var acc = 0.0
            var i = lo
            while i < hi {
                // A run stays inside one row of the last dim (unless all views are contiguous),
                // where elements are `lastStride` apart.
                let len = Swift.min(runLength - i % runLength, hi - i)
                s.gather(sp, logical: i, count: len, into: bufS)
                t.gather(tp, logical: i, count: len, into: bufT)
                for j in 0..<len {
                    let d = bufS[j] - bufT[j]
                    acc += d * d
                    bufS[j] = gradFactor * d
                }
                if let g = sink { g.access.scatter(g.pointer, logical: i, count: len, from: bufS, accumulate: g.accumulate) }
                i += len
            }
            return acc
        }
        return sum / Double(n)
    }

    /// `F.kl_div(log_softmax(s/2), softmax(t/2), reduction='batchmean') * 4`, softmax over the last
    /// dim; batchmean divides by `shape[0]` (1 for a scalar). Per row, with a = (s - max s)/2,
    /// b = (t - max t)/2, q = softmax(a), p = softmax(b):
    /// loss_row = sum p (log p - log q) (terms with p = 0 are 0, as torch's xlogy), and
    /// d loss / d s = 4 / batch * (q - p) / 2.
    static func kl(_ sp: UnsafeRawPointer, _ s: RowAccess, _ tp: UnsafeRawPointer, _ t: RowAccess,
                   shape: [Int], count n: Int, sink: GradientSink?) -> Double {
        let v = shape.last ?? 1
        let rows = n / v
        let batch = Double(shape.first ?? 1)
        let rowsPerChunk = Swift.max(1, chunkElements / v)
        let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
        let gradFactor = 2 / batch * (sink?.scale ?? 0)
        let sum = sumOverChunks(chunks, elements: n) { c in
            let a = UnsafeMutablePointer<Double>.allocate(capacity: 4 * v)
            defer { a.deallocate() }
            let b = a + v, ea = a + 2 * v, eb = a + 3 * v
            var acc = 0.0
            let firstRow = c * rowsPerChunk
            for r in firstRow..<Swift.min(rows, firstRow + rowsPerChunk) {
                s.gather(sp, logical: r * v, count: v, into: a)
                t.gather(tp, logical: r * v, count: v, into: b)
                // Shift by the row maximum so that exp never overflows (NaN propagates through the sums).
                var ma = -Double.infinity, mb = -Double.infinity
                for j in 0..<v {
                    if a[j] > ma { ma = a[j] }
                    if b[j] > mb { mb = b[j] }
                }
                var za = 0.0, zb = 0.0
                for j in 0..<v {
                    a[j] = (a[j] - ma) * 0.5
                    b[j] = (b[j] - mb) * 0.5
                    ea[j] = exp(a[j])
                    eb[j] = exp(b[j])
                    za += ea[j]
                    zb += eb[j]
                }
                let lza = log(za), lzb = log(zb)
                var rowLoss = 0.0
                for j in 0..<v {
                    let p = eb[j] / zb
                    if p != 0 { rowLoss += p * ((b[j] - lzb) - (a[j] - lza)) }
                    ea[j] = gradFactor * (ea[j] / za - p)
                }
                acc += rowLoss
                if let g = sink { g.access.scatter(g.pointer, logical: r * v, count: v, from: ea, accumulate: g.accumulate) }
            }
            return acc
        }
        return 4 * sum / batch
    }
}
