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
    /// Wanda (Sun et al. 2023): the caller supplies |W_ij| * ||X_j||_2 per element
    /// (`WandaMetrics.metric`), and a `sparse_ratio` is applied per output row (each row of dim 0
    /// prunes int(row length * ratio), the paper's comparison group) instead of over the whole
    /// target. Fine-grained by default; N:M, threshold, global and dependency rules as for any metric.
    case wanda
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
/// `root == false` gives the sums of x² themselves for p = 2 (a rank's partial sums of blocks that
/// span shards, finished after the ranks' sums are added: DistributedPruning.swift).
func normMetric(_ tensor: TensorView, layout: BlockLayout, p: Int, root: Bool = true) -> [Double] {
    let nb = layout.blockCount
    var out = [Double](repeating: 0, count: nb)
    if nb == 0 { return out }
    out.withUnsafeMutableBufferPointer { o in
        if layout.blocksAreRuns {
            let bs = layout.blockSize
            let parts = max(1, min(workerParts, layout.elementCount / 65536))
            let per = (nb + parts - 1) / parts
            let rows = tensor.dtype == .float32 && tensor.layout.isContiguous
                ? tensor.pointer.map { $0.assumingMemoryBound(to: Float.self) } : nil
            parallelFor(parts, parallel: parts > 1) { part in
                for b in (part * per)..<min(nb, (part + 1) * per) {
                    if let rows {
                        let acc = rowNorm(rows + b * bs, bs, p: p)
                        o[b] = p == 1 || !root ? acc : acc.squareRoot()
                        continue
                    }
                    var acc = 0.0
                    if p == 1 {
                        tensor.visitDoubles((b * bs)..<((b + 1) * bs)) { _, x in acc += Swift.abs(x) }
                    } else {
                        tensor.visitDoubles((b * bs)..<((b + 1) * bs)) { _, x in acc += x * x }
                    }
                    o[b] = p == 1 || !root ? acc : acc.squareRoot()
                }
            }
        } else {
            tensor.visitDoubles(0..<layout.elementCount) { i, x in
                let b = layout.blockIndex(ofLogical: i)
                o[b] += p == 1 ? Swift.abs(x) : x * x
            }
            if p == 2 && root { for b in 0..<nb { o[b] = o[b].squareRoot() } }
        }
    }
    return out
}

/// Sum of |x| (p = 1) or of x² (p = 2) over `n` floats, in Double with four accumulators.
@inline(__always)
private func rowNorm(_ x: UnsafePointer<Float>, _ n: Int, p: Int) -> Double {
    var a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0
    var k = 0
    if p == 1 {
        while k + 4 <= n {
            a0 += Swift.abs(Double(x[k])); a1 += Swift.abs(Double(x[k + 1]))
            a2 += Swift.abs(Double(x[k + 2])); a3 += Swift.abs(Double(x[k + 3]))
            k += 4
        }
        while k < n { a0 += Swift.abs(Double(x[k])); k += 1 }
    } else {
        while k + 4 <= n {
            let d0 = Double(x[k]), d1 = Double(x[k + 1]), d2 = Double(x[k + 2]), d3 = Double(x[k + 3])
            a0 += d0 * d0; a1 += d1 * d1; a2 += d2 * d2; a3 += d3 * d3
            k += 4
        }
        while k < n { let d = Double(x[k]); a0 += d * d; k += 1 }
    }
    return (a0 + a1) + (a2 + a3)
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

/// Sum of Euclidean distances from each row to all rows of a row-major `rows x dim` matrix.
///
/// Rows of 16 or more values use the Gram form dist² = |a|² + |b|² - 2 a·b: dot products of row
/// tiles with a register-tiled float32 kernel (3 x 3 rows, k chunks of `fpgmKChunk` values whose
/// float32 partial sums are added in Double). Negative results are clamped to 0, and pairs whose
/// dist² is below (|a|² + |b|²) / 16 (where the subtraction would lose digits) are recomputed from
/// the differences. Shorter rows use the difference form directly.
func fpgmRows(_ a: UnsafePointer<Float>, rows: Int, dim: Int) -> [Double] {
    if rows < 2 || dim == 0 { return [Double](repeating: 0, count: max(rows, 0)) }
    if dim < 16 || rows < 6 { return fpgmRowsDirect(a, rows: rows, dim: dim) }
    return fpgmRowsGram(a, rows: rows, dim: dim)
}

/// Rows per panel of the Gram form (a multiple of 3) and values per k chunk.
let fpgmPanel = 192
let fpgmKChunk = 256

func fpgmRowsGram(_ a: UnsafePointer<Float>, rows: Int, dim: Int) -> [Double] {
    // Squared norms, by the same kernel as the dot products (so a row's distance to itself is 0).
    var norms = [Double](repeating: 0, count: rows)
    norms.withUnsafeMutableBufferPointer { n in
        for i in 0..<rows { n[i] = chunkedDot(a + i * dim, a + i * dim, dim) }
    }
    let panels = (rows + fpgmPanel - 1) / fpgmPanel
    // Tile pairs (I <= J), diagonal tiles weigh half.
    var pairs: [(Int, Int)] = []
    for i in 0..<panels { for j in i..<panels { pairs.append((i, j)) } }
    let work = Double(rows) * Double(rows) * Double(dim) / 2
    let parts = min(pairs.count, work < 4e6 ? 1 : workerParts * 2)
    var bounds = [0]
    var acc = 0.0
    let totalWeight = pairs.reduce(0.0) { $0 + ($1.0 == $1.1 ? 0.5 : 1) }
    for (k, p) in pairs.enumerated() {
        acc += p.0 == p.1 ? 0.5 : 1
        if bounds.count < parts && acc >= totalWeight * Double(bounds.count) / Double(parts) { bounds.append(k + 1) }
    }
    while bounds.count <= parts { bounds.append(pairs.count) }
    let partial = SharedSlots<[Double]>(repeating: [], count: parts)
    norms.withUnsafeBufferPointer { nb in
        guard let np = nb.baseAddress else { return }
        parallelFor(parts, parallel: parts > 1) { part in
            var sums = [Double](repeating: 0, count: rows)
            var tile = [Double](repeating: 0, count: fpgmPanel * fpgmPanel)
            sums.withUnsafeMutableBufferPointer { sb in
                tile.withUnsafeMutableBufferPointer { tb in
                    guard let sp = sb.baseAddress, let tp = tb.baseAddress else { return }
                    for k in bounds[part]..<bounds[part + 1] {
                        gramTile(a, rows: rows, dim: dim, panelI: pairs[k].0, panelJ: pairs[k].1, norms: np, tile: tp, sums: sp)
                    }
                }
            }
            partial[part] = sums
        }
    }
    return sumOfParts(partial, rows: rows)
}

/// Adds the distances of the pairs (i in panel I, j in panel J, i < j) to `sums[i]` and `sums[j]`.
private func gramTile(_ a: UnsafePointer<Float>, rows: Int, dim: Int, panelI: Int, panelJ: Int,
                      norms: UnsafePointer<Double>, tile: UnsafeMutablePointer<Double>, sums: UnsafeMutablePointer<Double>) {
    let i0 = panelI * fpgmPanel, i1 = min(rows, i0 + fpgmPanel)
    let j0 = panelJ * fpgmPanel, j1 = min(rows, j0 + fpgmPanel)
    let diagonal = panelI == panelJ
    let ni = i1 - i0, nj = j1 - j0
    tile.update(repeating: 0, count: fpgmPanel * fpgmPanel)
    // Dot products, 3 x 3 rows at a time (rows past the end repeat the last row; their results are dropped).
    var k0 = 0
    while k0 < dim {
        let len = min(fpgmKChunk, dim - k0)
        var ii = 0
        while ii < ni {
            let r0 = a + (i0 + ii) * dim + k0
            let r1 = a + (i0 + min(ii + 1, ni - 1)) * dim + k0
            let r2 = a + (i0 + min(ii + 2, ni - 1)) * dim + k0
            // On the diagonal only blocks with j >= i are needed.
            var jj = diagonal ? ii : 0
            while jj < nj {
                let c0 = a + (j0 + jj) * dim + k0
                let c1 = a + (j0 + min(jj + 1, nj - 1)) * dim + k0
                let c2 = a + (j0 + min(jj + 2, nj - 1)) * dim + k0
                let d = dot3x3(r0, r1, r2, c0, c1, c2, len)
                let t = tile + ii * fpgmPanel + jj
                t[0] += Double(d.0); t[1] += Double(d.1); t[2] += Double(d.2)
                t[fpgmPanel] += Double(d.3); t[fpgmPanel + 1] += Double(d.4); t[fpgmPanel + 2] += Double(d.5)
                t[2 * fpgmPanel] += Double(d.6); t[2 * fpgmPanel + 1] += Double(d.7); t[2 * fpgmPanel + 2] += Double(d.8)
                jj += 3
            }
            ii += 3
        }
        k0 += len
    }
    // Distances.
    for ii in 0..<ni {
        let i = i0 + ii
        let nI = norms[i]
        let t = tile + ii * fpgmPanel
        let jStart = diagonal ? ii + 1 : 0
        if jStart >= nj { continue }
        var close = false
        for jj in jStart..<nj {
            let nJ = norms[j0 + jj]
            let d2 = nI + nJ - 2 * t[jj]
            if d2 * 16 < nI + nJ { close = true }
            t[jj] = d2 > 0 ? d2 : 0
        }
        if close {
            // Recompute the pairs that lose digits in the Gram form from the differences.
            for jj in jStart..<nj where t[jj] * 16 < nI + norms[j0 + jj] {
                t[jj] = squaredDistance(a + i * dim, a + (j0 + jj) * dim, dim)
            }
        }
        var rowSum = 0.0
        for jj in jStart..<nj {
            let r = t[jj].squareRoot()
            rowSum += r
            sums[j0 + jj] += r
        }
        sums[i] += rowSum
    }
}

/// a·b over `n` values: float32 lanes within chunks of `fpgmKChunk`, chunks summed in Double.
@inline(__always)
private func chunkedDot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Double {
    var total = 0.0
    var k0 = 0
    while k0 < n {
        let len = min(fpgmKChunk, n - k0)
        let d = dot3x3(x + k0, x + k0, x + k0, y + k0, y + k0, y + k0, len)
        total += Double(d.0)
        k0 += len
    }
    return total
}

/// The nine dot products of rows (r0, r1, r2) with rows (c0, c1, c2) over `n` values, in float32
/// (four lanes per product, then the tail).
@inline(__always)
private func dot3x3(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ r2: UnsafePointer<Float>,
                    _ c0: UnsafePointer<Float>, _ c1: UnsafePointer<Float>, _ c2: UnsafePointer<Float>,
                    _ n: Int) -> (Float, Float, Float, Float, Float, Float, Float, Float, Float) {
    var s00 = SIMD4<Float>(), s01 = SIMD4<Float>(), s02 = SIMD4<Float>()
    var s10 = SIMD4<Float>(), s11 = SIMD4<Float>(), s12 = SIMD4<Float>()
    var s20 = SIMD4<Float>(), s21 = SIMD4<Float>(), s22 = SIMD4<Float>()
    var k = 0
    while k + 4 <= n {
        let a0 = UnsafeRawPointer(r0 + k).loadUnaligned(as: SIMD4<Float>.self)
        let a1 = UnsafeRawPointer(r1 + k).loadUnaligned(as: SIMD4<Float>.self)
        let a2 = UnsafeRawPointer(r2 + k).loadUnaligned(as: SIMD4<Float>.self)
        let b0 = UnsafeRawPointer(c0 + k).loadUnaligned(as: SIMD4<Float>.self)
        s00 += a0 * b0; s10 += a1 * b0; s20 += a2 * b0
        let b1 = UnsafeRawPointer(c1 + k).loadUnaligned(as: SIMD4<Float>.self)
        s01 += a0 * b1; s11 += a1 * b1; s21 += a2 * b1
        let b2 = UnsafeRawPointer(c2 + k).loadUnaligned(as: SIMD4<Float>.self)
        s02 += a0 * b2; s12 += a1 * b2; s22 += a2 * b2
        k += 4
    }
    var t = (s00.sum(), s01.sum(), s02.sum(), s10.sum(), s11.sum(), s12.sum(), s20.sum(), s21.sum(), s22.sum())
    while k < n {
        let x0 = r0[k], x1 = r1[k], x2 = r2[k], y0 = c0[k], y1 = c1[k], y2 = c2[k]
        t.0 += x0 * y0; t.1 += x0 * y1; t.2 += x0 * y2
        t.3 += x1 * y0; t.4 += x1 * y1; t.5 += x1 * y2
        t.6 += x2 * y0; t.7 += x2 * y1; t.8 += x2 * y2
        k += 1
    }
    return t
}

/// The difference form: each pair computed once; squared differences summed in float32 lanes,
/// distances in Double.
func fpgmRowsDirect(_ a: UnsafePointer<Float>, rows: Int, dim: Int) -> [Double] {
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
    return sumOfParts(partial, rows: rows)
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

/// The element-wise sum of the per-part row sums (each at most `rows` long), in part order.
func sumOfParts(_ partial: SharedSlots<[Double]>, rows: Int) -> [Double] {
    var out = [Double](repeating: 0, count: rows)
    for part in 0..<partial.storage.count {
        let p = partial[part]
        for i in 0..<min(rows, p.count) { out[i] += p[i] }
    }
    return out
}
