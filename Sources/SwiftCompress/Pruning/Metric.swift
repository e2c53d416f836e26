/// The metric of one target: one value per block, read through `keys` for selection and `values`
/// for thresholds. Smaller means less important.
enum MetricValues: @unchecked Sendable {
    /// Values computed by us (norms, FPGM, fused means), one per block.
    case dense([Double])
    /// |x| of each element of the view (the level metric, fine-grained): nothing is copied.
    case magnitude(TensorView)
    /// A caller-supplied metric, one element per block, used as is.
    case view(TensorView)
}

/// Order-preserving unsigned keys: a < b as numbers iff key(a) < key(b). -0 and +0 get the same
/// key; NaN gets the largest key (NaN positions are the last to be pruned).
@inline(__always)
func sortKey(_ f: Float) -> UInt64 {
    if f.isNaN { return 0xFFFF_FFFF }
    if f == 0 { return 0x8000_0000 }
    let b = f.bitPattern
    return UInt64(b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000)
}

@inline(__always)
func sortKey(_ d: Double) -> UInt64 {
    if d.isNaN { return UInt64.max }
    if d == 0 { return 0x8000_0000_0000_0000 }
    let b = d.bitPattern
    return b & 0x8000_0000_0000_0000 != 0 ? ~b : b | 0x8000_0000_0000_0000
}

/// The 32-bit key of |x| from the bits of a Float x: |x| clears the sign bit, non-negative Floats
/// order like their bits, NaN gets the largest key (as `sortKey(abs(x))`).
@inline(__always)
func magnitudeKey(bits: UInt32) -> UInt32 {
    let b = bits & 0x7FFF_FFFF
    return b > 0x7F80_0000 ? 0xFFFF_FFFF : b | 0x8000_0000
}

/// The 32-bit magnitude key (`magnitudeKey`) of the float32 value of each float16 magnitude
/// (index: the low 15 bits), so float16 keys compare with float32 and bfloat16 keys in one group.
let float16MagnitudeKeys: [UInt32] = (0..<(1 << 15)).map { magnitudeKey(bits: float(fromFloat16Bits: UInt16($0)).bitPattern) }

/// Keys converted at a time by `Metric.forEachKeyRun32` (a stack buffer).
let keyRun = 1024

struct Metric: @unchecked Sendable {
    var values: MetricValues
    /// Number of blocks.
    var count: Int
    /// True when the metric should be compared in single precision (NNI computes metrics in the
    /// target's dtype; float32 here). Keys are then 32 bits wide unless the values are Double.
    var singlePrecision: Bool

    /// Whether keys need 64 bits (Double values that are not exactly Floats).
    var needsWideKeys: Bool {
        switch values {
        case .dense: return true
        case .magnitude(let v), .view(let v): return v.dtype == .float64
        }
    }

    /// Calls `body(index, key)` for indices in `range`, keys 32-bit (`wide == false`, only valid
    /// when `needsWideKeys` is false) or 64-bit.
    @inline(__always)
    func forEachKey(_ range: Range<Int>, wide: Bool, _ body: (Int, UInt64) -> Void) {
        switch values {
        case .dense(let a):
            a.withUnsafeBufferPointer { p in
                let r = range.clamped(to: 0..<p.count)
                if wide { for i in r { body(i, sortKey(p[i])) } } else { for i in r { body(i, sortKey(Float(p[i]))) } }
            }
        case .magnitude(let v):
            if let p = v.pointer, v.dtype == .float32, v.layout.isContiguous {
                let fp = p.assumingMemoryBound(to: Float.self)
                let r = range.clamped(to: 0..<v.count)
                if wide {
                    for i in r { body(i, sortKey(Double(Swift.abs(fp[i])))) }
                } else {
                    for i in r { body(i, UInt64(magnitudeKey(bits: fp[i].bitPattern))) }
                }
            } else if wide {
                v.visitDoubles(range) { i, x in body(i, sortKey(Swift.abs(x))) }
            } else {
                v.visitFloats(range) { i, x in body(i, sortKey(Swift.abs(x))) }
            }
        case .view(let v):
            if wide { v.visitDoubles(range) { i, x in body(i, sortKey(x)) } } else { v.visitFloats(range) { i, x in body(i, sortKey(x)) } }
        }
    }

    /// Calls `body(start, keys)` with the 32-bit keys of `range`, in order, in runs of at most
    /// `keyRun` (keys of indices `start ..< start + keys.count`). Only valid when `needsWideKeys`
    /// is false. The level metric of a contiguous float32 tensor is converted in a loop the
    /// compiler vectorizes; other metrics go through `forEachKey`.
    @inline(__always)
    func forEachKeyRun32(_ range: Range<Int>, _ body: (Int, UnsafeBufferPointer<UInt32>) -> Void) {
        let r = range.clamped(to: 0..<count)
        if r.isEmpty { return }
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: keyRun) { buf in
            guard let kp = buf.baseAddress else { return }
            var lo = r.lowerBound
            if case .magnitude(let v) = values, v.dtype == .float32, v.layout.isContiguous, let p = v.pointer, v.count >= r.upperBound {
                let bits = p.assumingMemoryBound(to: UInt32.self)
                while lo < r.upperBound {
                    let n = min(keyRun, r.upperBound - lo)
                    let src = bits + lo
                    for j in 0..<n { kp[j] = magnitudeKey(bits: src[j]) }
                    body(lo, UnsafeBufferPointer(start: kp, count: n))
                    lo += n
                }
                return
            }
            if case .magnitude(let v) = values, v.dtype == .bfloat16 || v.dtype == .float16, v.layout.isContiguous,
               let p = v.pointer, v.count >= r.upperBound {
                // 16-bit magnitudes: the float32 key of the same value, straight from the bits
                // (bfloat16: the high half of a float32; float16: a 2^15-entry table).
                let bits = p.assumingMemoryBound(to: UInt16.self)
                let isBF = v.dtype == .bfloat16
                float16MagnitudeKeys.withUnsafeBufferPointer { table in
                    while lo < r.upperBound {
                        let n = min(keyRun, r.upperBound - lo)
                        let src = bits + lo
                        if isBF {
                            for j in 0..<n { kp[j] = magnitudeKey(bits: UInt32(src[j]) << 16) }
                        } else {
                            for j in 0..<n { kp[j] = table[Int(src[j] & 0x7FFF)] }
                        }
                        body(lo, UnsafeBufferPointer(start: kp, count: n))
                        lo += n
                    }
                }
                return
            }
            while lo < r.upperBound {
                let hi = min(r.upperBound, lo + keyRun)
                let base = lo
                forEachKey(lo..<hi, wide: false) { i, k in kp[i - base] = UInt32(truncatingIfNeeded: k) }
                body(lo, UnsafeBufferPointer(start: kp, count: hi - lo))
                lo = hi
            }
        }
    }

    /// The 32-bit key of block `i` (0 ..< count), as `forEachKey(wide: false)` gives it. Only
    /// valid when `needsWideKeys` is false.
    func key32(at i: Int) -> UInt32 {
        guard i >= 0, i < count else { return 0 }
        switch values {
        case .dense(let a):
            return i < a.count ? UInt32(truncatingIfNeeded: sortKey(Float(a[i]))) : 0
        case .magnitude(let v):
            guard let p = v.pointer, i < v.count else { return 0 }
            return UInt32(truncatingIfNeeded: sortKey(Swift.abs(Float(loadDouble(p, v.dtype, v.layout.offset(ofLogicalIndex: i))))))
        case .view(let v):
            guard let p = v.pointer, i < v.count else { return 0 }
            return UInt32(truncatingIfNeeded: sortKey(Float(loadDouble(p, v.dtype, v.layout.offset(ofLogicalIndex: i)))))
        }
    }

    /// `out[j] = key32(at: positions[j] - offset)` for each j (positions inside the metric).
    func keys32(at positions: UnsafeBufferPointer<Int>, offset: Int, into out: UnsafeMutablePointer<UInt32>) {
        if case .magnitude(let v) = values, v.dtype == .float32, v.layout.isContiguous, let p = v.pointer {
            let bits = p.assumingMemoryBound(to: UInt32.self)
            for (j, pos) in positions.enumerated() {
                let i = pos - offset
                out[j] = i >= 0 && i < v.count ? magnitudeKey(bits: bits[i]) : 0
            }
            return
        }
        for (j, pos) in positions.enumerated() { out[j] = key32(at: pos - offset) }
    }

    /// Calls `body(index, value)` for indices in `range`.
    @inline(__always)
    func forEachValue(_ range: Range<Int>, _ body: (Int, Double) -> Void) {
        switch values {
        case .dense(let a):
            a.withUnsafeBufferPointer { p in
                for i in range.clamped(to: 0..<p.count) { body(i, p[i]) }
            }
        case .magnitude(let v): v.visitDoubles(range) { i, x in body(i, Swift.abs(x)) }
        case .view(let v): v.visitDoubles(range) { i, x in body(i, x) }
        }
    }

    /// All values as Doubles (for fusing dependency groups; metrics there are per block).
    func materialized() -> [Double] {
        if case .dense(let a) = values { return a }
        var out = [Double](repeating: 0, count: count)
        out.withUnsafeMutableBufferPointer { o in
            forEachValue(0..<count) { i, x in o[i] = x }
        }
        return out
    }
}
