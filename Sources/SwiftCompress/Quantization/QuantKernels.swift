// The element loops of the quantization engine: SIMD over contiguous runs of Float, plain loops
// for Double, with gather/scatter tiles for strided views and the 16-bit dtypes. Arithmetic is in
// Float for float32/float16/bfloat16 tensors and in Double for float64 tensors (see
// docs/quantization.md).

/// The per-block constants of fake / real quantization in precision T.
struct QuantConstants<T: QuantReal>: Sendable {
    var scale: T
    var zeroPoint: T
}

/// Float and Double, the two precisions the engine computes in. The element loops are
/// requirements so that Float gets concrete SIMD code: generic SIMD comparisons and blends compile
/// to per-lane loops, concrete ones to vector instructions.
protocol QuantReal: BinaryFloatingPoint, Sendable {
    /// The dtype whose memory holds this type directly.
    static var nativeDType: ElementType { get }
    /// Reads `x` at the logical indices `range` into `out[0..<range.count]`.
    static func gather(_ x: TensorView, _ range: Range<Int>, into out: UnsafeMutablePointer<Self>)
    /// Minimum and maximum of `n` values, and whether any is NaN (NaN values are skipped in the
    /// min and max; the caller turns a NaN block into NaN, as torch's `amin`/`amax` propagate it).
    static func minMax(_ p: UnsafePointer<Self>, _ n: Int) -> (min: Self, max: Self, nan: Bool)
    /// Fake quantization of `n` values (NNI's ClampRound): t = zp + x / scale, q = round half even
    /// of clamp(t, qmin, qmax) keeping the sign of zero, out = (q - zp) * scale. NaN stays NaN.
    /// When `mask` is given, writes 1 where qmin <= t <= qmax or t is NaN, 0 elsewhere (NNI's
    /// QATClampRound backward). `dst` may equal `src`.
    static func fakeQuantize(_ src: UnsafePointer<Self>, _ dst: UnsafeMutablePointer<Self>, _ n: Int,
                             _ c: QuantConstants<Self>, qmin: Self, qmax: Self, mask: UnsafeMutablePointer<Self>?)
}

extension Float: QuantReal {
    static var nativeDType: ElementType { .float32 }

    @inline(__always)
    static func gather(_ x: TensorView, _ range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let lo = range.lowerBound
        x.visitFloats(range) { i, v in out[i &- lo] = v }
    }

    static func minMax(_ p: UnsafePointer<Float>, _ n: Int) -> (min: Float, max: Float, nan: Bool) {
        typealias V = SIMD16<Float>
        var i = 0
        var lo = V(repeating: .infinity), hi = V(repeating: -.infinity)
        // NaN detection at the cost of one add per vector: a lane sum is NaN if a NaN went in
        // (or, rarely, +inf and -inf met); only then are the values compared one by one.
        var sum = V(repeating: 0)
        let raw = UnsafeRawPointer(p)
        while i &+ 16 <= n {
            let a = raw.loadUnaligned(fromByteOffset: i &* 4, as: V.self)
            lo = lo.replacing(with: a, where: a .< lo)
            hi = hi.replacing(with: a, where: a .> hi)
            sum += a
            i &+= 16
        }
        var nan = false
        if any(sum .!= sum) {
            for k in 0..<i where p[k] != p[k] {
                nan = true
                break
            }
        }
        return scalarMinMax(p, i, n, lo: lo.min(), hi: hi.max(), nan: nan)
    }

    static func fakeQuantize(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ n: Int,
                             _ c: QuantConstants<Float>, qmin: Float, qmax: Float, mask: UnsafeMutablePointer<Float>?) {
        typealias V = SIMD16<Float>
        let vs = V(repeating: c.scale), vz = V(repeating: c.zeroPoint)
        let vlo = V(repeating: qmin), vhi = V(repeating: qmax)
        // 1.5 * 2^23: adding and subtracting it rounds to an integer, ties to even, for |x| < 2^22
        // (clamped values are within +-65535); a zero result takes the sign of x, as torch.round.
        let magic = V(repeating: 12_582_912)
        let zero = V(repeating: 0), one = V(repeating: 1)
        let rs = UnsafeRawPointer(src), rd = UnsafeMutableRawPointer(dst)
        var i = 0
        if let mask {
            let rm = UnsafeMutableRawPointer(mask)
            while i &+ 16 <= n {
                let x = rs.loadUnaligned(fromByteOffset: i &* 4, as: V.self)
                let t = vz + x / vs
                let below = t .< vlo, above = t .> vhi
                let q = t.replacing(with: vlo, where: below).replacing(with: vhi, where: above)
                var r = (q + magic) - magic
                r = r.replacing(with: q * zero, where: r .== zero)
                rd.storeBytes(of: (r - vz) * vs, toByteOffset: i &* 4, as: V.self)
                rm.storeBytes(of: one.replacing(with: zero, where: below .| above), toByteOffset: i &* 4, as: V.self)
                i &+= 16
            }
        } else {
            while i &+ 16 <= n {
                let x = rs.loadUnaligned(fromByteOffset: i &* 4, as: V.self)
                let t = vz + x / vs
                let q = t.replacing(with: vlo, where: t .< vlo).replacing(with: vhi, where: t .> vhi)
                var r = (q + magic) - magic
                r = r.replacing(with: q * zero, where: r .== zero)
                rd.storeBytes(of: (r - vz) * vs, toByteOffset: i &* 4, as: V.self)
                i &+= 16
            }
        }
        scalarFakeQuantize(src, dst, i, n, c, qmin: qmin, qmax: qmax, mask: mask)
    }
}

extension Double: QuantReal {
    static var nativeDType: ElementType { .float64 }

    @inline(__always)
    static func gather(_ x: TensorView, _ range: Range<Int>, into out: UnsafeMutablePointer<Double>) {
        let lo = range.lowerBound
        x.visitDoubles(range) { i, v in out[i &- lo] = v }
    }

    // float64 tensors are rare in quantization: plain loops.
    static func minMax(_ p: UnsafePointer<Double>, _ n: Int) -> (min: Double, max: Double, nan: Bool) {
        scalarMinMax(p, 0, n, lo: .infinity, hi: -.infinity, nan: false)
    }

    static func fakeQuantize(_ src: UnsafePointer<Double>, _ dst: UnsafeMutablePointer<Double>, _ n: Int,
                             _ c: QuantConstants<Double>, qmin: Double, qmax: Double, mask: UnsafeMutablePointer<Double>?) {
        scalarFakeQuantize(src, dst, 0, n, c, qmin: qmin, qmax: qmax, mask: mask)
    }
}

/// Min/max/NaN of `p[from..<n]`, continuing from `lo`, `hi`, `nan`.
@inline(__always)
func scalarMinMax<T: QuantReal>(_ p: UnsafePointer<T>, _ from: Int, _ n: Int, lo: T, hi: T, nan: Bool) -> (min: T, max: T, nan: Bool) {
    var lo = lo, hi = hi, nan = nan
    var i = from
    while i < n {
        let v = p[i]
        if v < lo { lo = v }
        if v > hi { hi = v }
        if v != v { nan = true }
        i &+= 1
    }
    return (lo, hi, nan)
}

/// Fake quantization of `src[from..<n]` (see `QuantReal.fakeQuantize`), one value at a time.
@inline(__always)
func scalarFakeQuantize<T: QuantReal>(_ src: UnsafePointer<T>, _ dst: UnsafeMutablePointer<T>, _ from: Int, _ n: Int,
                                      _ c: QuantConstants<T>, qmin: T, qmax: T, mask: UnsafeMutablePointer<T>?) {
    var i = from
    while i < n {
        let t = c.zeroPoint + src[i] / c.scale
        var q = t
        if t < qmin { q = qmin }
        if t > qmax { q = qmax }
        q = q.rounded(.toNearestOrEven)
        dst[i] = (q - c.zeroPoint) * c.scale
        if let mask { mask[i] = (t < qmin || t > qmax) ? 0 : 1 }
        i &+= 1
    }
}

/// Elements per gather/scatter tile.
let quantTile = 2048

/// Calls `body(values, tile)` for consecutive tiles of `range` with the values of `x` at the
/// logical indices `tile` as `T`: the caller's memory directly when `x` is contiguous of T's dtype,
/// a gathered copy in `scratch` (capacity `quantTile`) otherwise. Direct tiles cover the whole
/// range unless `boundedTiles` (then every tile has at most `quantTile` elements, for callers that
/// write results into scratch tiles of that size).
@inline(__always)
func forEachTile<T: QuantReal>(_ x: TensorView, _ range: Range<Int>, scratch: UnsafeMutablePointer<T>, boundedTiles: Bool = false,
                               _ body: (_ values: UnsafePointer<T>, _ tile: Range<Int>) -> Void) {
    guard let base = x.pointer, !range.isEmpty else { return }
    let direct = x.layout.isContiguous && x.dtype == T.nativeDType
    if direct && !boundedTiles {
        body(base.assumingMemoryBound(to: T.self) + range.lowerBound, range)
        return
    }
    var lo = range.lowerBound
    while lo < range.upperBound {
        let hi = Swift.min(lo + quantTile, range.upperBound)
        if direct {
            body(base.assumingMemoryBound(to: T.self) + lo, lo..<hi)
        } else {
            T.gather(x, lo..<hi, into: scratch)
            body(UnsafePointer(scratch), lo..<hi)
        }
        lo = hi
    }
}

/// The writable memory of `out` over `range` as `T` when it is contiguous of T's dtype, else nil
/// (write into a tile and `scatter` it).
@inline(__always)
func directPointer<T: QuantReal>(_ out: MutableTensorView, _ range: Range<Int>, as: T.Type) -> UnsafeMutablePointer<T>? {
    guard let base = out.pointer, out.layout.isContiguous, out.dtype == T.nativeDType else { return nil }
    return base.assumingMemoryBound(to: T.self) + range.lowerBound
}

/// Stores `tile[0..<range.count]` into `out` at the logical indices `range`, rounding to its dtype.
@inline(__always)
func scatter<T: QuantReal>(_ tile: UnsafePointer<T>, into out: MutableTensorView, _ range: Range<Int>) {
    let lo = range.lowerBound
    out.store(range) { i in Double(tile[i &- lo]) }
}

/// Real quantization of `n` values into integers: round half even of clamp(zp + x / scale, qmin,
/// qmax), as fake quantization computes q. NaN becomes the zero point; returns how many NaN there were.
@inline(__always)
func quantizeKernel<T: QuantReal>(_ src: UnsafePointer<T>, _ dst: UnsafeMutablePointer<Int32>, _ n: Int,
                                  _ c: QuantConstants<T>, qmin: T, qmax: T) -> Int {
    var nans = 0
    for i in 0..<n {
        let t = c.zeroPoint + src[i] / c.scale
        var q = t
        if t < qmin { q = qmin }
        if t > qmax { q = qmax }
        if t != t {
            q = c.zeroPoint
            nans &+= 1
        }
        dst[i] = Int32(truncatingIfNeeded: Int(q.rounded(.toNearestOrEven)))
    }
    return nans
}

/// Dequantization of `n` integers: (q - zp) * scale.
@inline(__always)
func dequantizeKernel<T: QuantReal>(_ src: UnsafePointer<Int32>, _ dst: UnsafeMutablePointer<T>, _ n: Int, _ c: QuantConstants<T>) {
    for i in 0..<n {
        dst[i] = (T(src[i]) - c.zeroPoint) * c.scale
    }
}
