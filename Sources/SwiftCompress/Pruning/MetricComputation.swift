/// Which metric the pruner ranks blocks by.
public enum PruningMetricKind: String, Sendable, Hashable {
    /// |x| per element (NNI's LevelPruner). With a block granularity, the L1 norm of each block.
    case level
    /// L1 norm of each block (NNI's L1NormPruner).
    case l1Norm
    /// L2 norm of each block (NNI's L2NormPruner).
    case l2Norm
    /// For each block, the sum of L2 distances to every other block of the same target (NNI's
    /// FPGMPruner). Needs a block granularity (not fine-grained).
    case fpgm
    /// The caller supplies one metric tensor per active target (e.g. Taylor or movement scores).
    case supplied
}

extension BlockLayout {
    /// The block index of the element at logical index `i` (general layouts).
    @inline(__always)
    func blockIndex(ofLogical i: Int) -> Int {
        if isFineGrained { return i }
        if blocksAreRuns { return i / blockSize }
        var rem = i
        var b = 0
        var mstride = 1
        for d in stride(from: targetShape.count - 1, through: 0, by: -1) {
            let s = targetShape[d]
            let c = rem % s
            rem /= s
            if kernel[d] != -1 {
                b += (c / steps[d]) * mstride
                mstride *= metricShape[d]
            }
        }
        return b
    }
}

/// L1 (p = 1) or L2 (p = 2) norm of each block, accumulated in Double.
func normMetric(_ tensor: TensorView, layout: BlockLayout, p: Int) -> [Double] {
    let nb = layout.blockCount
    var out = [Double](repeating: 0, count: nb)
    if nb == 0 { return out }
    out.withUnsafeMutableBufferPointer { o in
        if layout.blocksAreRuns {
            let bs = layout.blockSize
            let parts = max(1, min(workerParts, layout.elementCount / 65536))
            let per = (nb + parts - 1) / parts
            parallelFor(parts, parallel: parts > 1) { part in
                for b in (part * per)..<min(nb, (part + 1) * per) {
                    var acc = 0.0
                    if p == 1 {
                        tensor.visitDoubles((b * bs)..<((b + 1) * bs)) { _, x in acc += Swift.abs(x) }
                    } else {
                        tensor.visitDoubles((b * bs)..<((b + 1) * bs)) { _, x in acc += x * x }
                    }
                    o[b] = p == 1 ? acc : acc.squareRoot()
                }
            }
        } else {
            tensor.visitDoubles(0..<layout.elementCount) { i, x in
                let b = layout.blockIndex(ofLogical: i)
                o[b] += p == 1 ? Swift.abs(x) : x * x
            }
            if p == 2 { for b in 0..<nb { o[b] = o[b].squareRoot() } }
        }
    }
    return out
}

/// FPGM: for each block, the sum of Euclidean distances to all blocks of the target.
/// Blocks are read in place when the target is contiguous float32 with row blocks; otherwise they
/// are gathered once into a float32 scratch matrix (one Float per element).
func fpgmMetric(_ tensor: TensorView, layout: BlockLayout) -> [Double] {
    let nb = layout.blockCount
    let d = layout.blockSize
    if nb == 0 { return [] }
    if layout.blocksAreRuns, tensor.dtype == .float32, tensor.layout.isContiguous, let p = tensor.pointer {
        return fpgmRows(p.assumingMemoryBound(to: Float.self), rows: nb, dim: d)
    }
    var scratch = [Float](repeating: 0, count: nb * d)
    var fill = [Int](repeating: 0, count: nb)
    scratch.withUnsafeMutableBufferPointer { s in
        tensor.visitFloats(0..<layout.elementCount) { i, x in
            let b = layout.blockIndex(ofLogical: i)
            s[b * d + fill[b]] = x
            fill[b] += 1
        }
    }
    return scratch.withUnsafeBufferPointer { s in
        guard let base = s.baseAddress else { return [Double](repeating: 0, count: nb) }
        return fpgmRows(base, rows: nb, dim: d)
    }
}

/// Sum of Euclidean distances from each row to all rows of a row-major `rows x dim` matrix. Each
/// pair is computed once; squared differences are summed in float32 lanes, distances in Double.
func fpgmRows(_ a: UnsafePointer<Float>, rows: Int, dim: Int) -> [Double] {
    // Split the triangle of pairs (i < j) into parts of similar size, each with its own sums.
    let totalPairs = Double(rows) * Double(rows - 1) / 2
    let parts = totalPairs * Double(dim) < 4e6 ? 1 : workerParts
    var bounds = [0]
    var acc = 0.0
    for i in 0..<rows {
        acc += Double(rows - 1 - i)
        if bounds.count < parts && acc >= totalPairs * Double(bounds.count) / Double(parts) { bounds.append(i + 1) }
    }
    while bounds.count <= parts { bounds.append(rows) }
    let partial = SharedSlots<[Double]>(repeating: [], count: parts)
    parallelFor(parts, parallel: parts > 1) { part in
        var sums = [Double](repeating: 0, count: rows)
        sums.withUnsafeMutableBufferPointer { s in
            for i in bounds[part]..<bounds[part + 1] {
                let ai = a + i * dim
                var j = i + 1
                while j + 4 <= rows {
                    let (d0, d1, d2, d3) = squaredDistances4(ai, a + j * dim, dim)
                    let r0 = d0.squareRoot(), r1 = d1.squareRoot(), r2 = d2.squareRoot(), r3 = d3.squareRoot()
                    s[i] += r0 + r1 + r2 + r3
                    s[j] += r0; s[j + 1] += r1; s[j + 2] += r2; s[j + 3] += r3
                    j += 4
                }
                while j < rows {
                    let r = squaredDistance(ai, a + j * dim, dim).squareRoot()
                    s[i] += r
                    s[j] += r
                    j += 1
                }
            }
        }
        partial[part] = sums
    }
    var out = [Double](repeating: 0, count: rows)
    for part in 0..<parts {
        let p = partial[part]
        for i in 0..<min(rows, p.count) { out[i] += p[i] }
    }
    return out
}

@inline(__always)
private func squaredDistance(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Double {
    var acc = SIMD8<Float>()
    var k = 0
    while k + 8 <= n {
        let dv = UnsafeRawPointer(x + k).loadUnaligned(as: SIMD8<Float>.self) - UnsafeRawPointer(y + k).loadUnaligned(as: SIMD8<Float>.self)
        acc += dv * dv
        k += 8
    }
    var tail: Float = 0
    while k < n { let dv = x[k] - y[k]; tail += dv * dv; k += 1 }
    return Double(acc.sum()) + Double(tail)
}

/// Squared distances from row `x` to the four consecutive rows starting at `y` (stride `n`).
@inline(__always)
private func squaredDistances4(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> (Double, Double, Double, Double) {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    let y1 = y + n, y2 = y + 2 * n, y3 = y + 3 * n
    var k = 0
    while k + 8 <= n {
        let xv = UnsafeRawPointer(x + k).loadUnaligned(as: SIMD8<Float>.self)
        let d0 = xv - UnsafeRawPointer(y + k).loadUnaligned(as: SIMD8<Float>.self)
        let d1 = xv - UnsafeRawPointer(y1 + k).loadUnaligned(as: SIMD8<Float>.self)
        let d2 = xv - UnsafeRawPointer(y2 + k).loadUnaligned(as: SIMD8<Float>.self)
        let d3 = xv - UnsafeRawPointer(y3 + k).loadUnaligned(as: SIMD8<Float>.self)
        a0 += d0 * d0; a1 += d1 * d1; a2 += d2 * d2; a3 += d3 * d3
        k += 8
    }
    var t0: Float = 0, t1: Float = 0, t2: Float = 0, t3: Float = 0
    while k < n {
        let xv = x[k]
        let d0 = xv - y[k], d1 = xv - y1[k], d2 = xv - y2[k], d3 = xv - y3[k]
        t0 += d0 * d0; t1 += d1 * d1; t2 += d2 * d2; t3 += d3 * d3
        k += 1
    }
    return (Double(a0.sum()) + Double(t0), Double(a1.sum()) + Double(t1), Double(a2.sum()) + Double(t2), Double(a3.sum()) + Double(t3))
}
