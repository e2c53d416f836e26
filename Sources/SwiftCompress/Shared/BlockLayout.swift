/// How a target's elements map to metric blocks: the resolved kernel of a granularity.
///
/// `kernel[d]` is the block size along dim d, or -1 for the whole dim (that dim is reduced). The
/// metric has shape `metricShape` (NNI's keepdim shape: 1 where the kernel is -1) and one value
/// per block; blocks are numbered in row-major order of `metricShape`.
struct BlockLayout: Sendable, Equatable {
    let targetShape: [Int]
    let kernel: [Int]
    /// Block size per dim (kernel resolved: -1 -> the dim size).
    let steps: [Int]
    /// Metric shape with keepdim (1 at reduced dims).
    let metricShape: [Int]
    /// Metric shape without the reduced dims: the "prunable positions".
    let squeezedShape: [Int]
    let blockCount: Int
    let elementCount: Int
    /// True when the kernel is all 1: one block per element.
    let isFineGrained: Bool
    /// True when the granularity is fine-grained itself (NNI: no scaler), as opposed to blocks
    /// that happen to hold one element (e.g. `out_channel` on a 1-D weight).
    let isUnblocked: Bool
    /// True when each block is a contiguous run of logical indices (kernel `[1, ..., 1, -1, ..., -1]`).
    let blocksAreRuns: Bool

    /// Resolves `granularity` for a target of `shape`. `metricDefault` is the pruner's default
    /// (`.fineGrained` for level, `.outChannel` for norms/FPGM; `.perChannel` is substituted for
    /// inputs/outputs).
    init(shape: [Int], granularity: PruningGranularity, isParameter: Bool, levelDefault: Bool,
         target: String) throws(EngineError) {
        var g = granularity
        if case .default = g {
            g = levelDefault ? .fineGrained : (isParameter ? .outChannel : .perChannel)
        }
        let rank = shape.count
        func err(_ m: String) -> PruningError { EngineError(.pruning, .invalidGranularity, target: target, key: "granularity", m) }
        var kernel: [Int]
        var unblocked = false
        switch g {
        case .default, .fineGrained:
            kernel = [Int](repeating: 1, count: rank)
            unblocked = true
        case .outChannel:
            guard isParameter else { throw err("'out_channel' is for parameters; use 'per_channel' for inputs/outputs") }
            guard rank >= 1 else { throw err("'out_channel' needs a tensor of rank >= 1, got shape \(shape)") }
            kernel = [1] + [Int](repeating: -1, count: rank - 1)
        case .inChannel:
            guard isParameter else { throw err("'in_channel' is for parameters; use 'per_channel' for inputs/outputs") }
            guard rank >= 2 else { throw err("'in_channel' needs a tensor of rank >= 2, got shape \(shape)") }
            kernel = [-1, 1] + [Int](repeating: -1, count: rank - 2)
        case .perChannel:
            guard !isParameter else { throw err("'per_channel' is for inputs/outputs; use 'out_channel' or 'in_channel' for parameters") }
            guard rank >= 2 else { throw err("'per_channel' needs a tensor of rank >= 2 (batch, channel, ...), got shape \(shape)") }
            kernel = [-1, 1] + [Int](repeating: -1, count: rank - 2)
        case .blocks(let sizes):
            guard sizes.count <= rank else {
                throw err("block sizes \(sizes) have more entries than the target's rank \(rank) (shape \(shape))")
            }
            for s in sizes where !(s == -1 || s >= 1) { throw err("block size \(s) must be -1 or >= 1") }
            kernel = [Int](repeating: 1, count: rank - sizes.count) + sizes
        }
        var steps = [Int](), metric = [Int](), squeezed = [Int]()
        for d in 0..<rank {
            let step = kernel[d] == -1 ? shape[d] : kernel[d]
            if kernel[d] != -1 && shape[d] % step != 0 {
                throw err("block size \(step) does not divide dim \(d) of shape \(shape)")
            }
            let m = step == 0 ? 0 : shape[d] / step
            steps.append(step)
            metric.append(kernel[d] == -1 ? 1 : m)
            if kernel[d] != -1 { squeezed.append(m) }
        }
        // A dim of size 0 with kernel -1 has step 0: the target is empty.
        let n = shape.reduce(1, *)
        self.targetShape = shape
        self.kernel = kernel
        self.steps = steps
        self.metricShape = metric
        self.squeezedShape = squeezed
        self.elementCount = n
        self.blockCount = n == 0 ? 0 : metric.reduce(1, *)
        self.isFineGrained = kernel.allSatisfy { $0 == 1 }
        self.isUnblocked = unblocked
        var runs = true
        var seenReduced = false
        for k in kernel {
            if k == -1 { seenReduced = true } else if k != 1 || seenReduced { runs = false }
        }
        self.blocksAreRuns = runs
    }

    /// Elements per block.
    var blockSize: Int { blockCount == 0 ? 0 : elementCount / blockCount }

    /// Calls `body(logicalIndex, blockIndex)` for each element in `range` of logical indices.
    @inline(__always)
    func forEachBlockIndex(in range: Range<Int>, _ body: (Int, Int) -> Void) {
        let r = range.clamped(to: 0..<elementCount)
        if r.isEmpty { return }
        if blocksAreRuns {
            let bs = blockSize
            for i in r { body(i, i / bs) }
            return
        }
        let rank = targetShape.count
        // Metric strides (row-major over metricShape).
        var mstrides = [Int](repeating: 0, count: rank)
        var running = 1
        for d in stride(from: rank - 1, through: 0, by: -1) {
            mstrides[d] = kernel[d] == -1 ? 0 : running
            running *= metricShape[d]
        }
        var coord = [Int](repeating: 0, count: rank)
        var rem = r.lowerBound
        for d in stride(from: rank - 1, through: 0, by: -1) {
            coord[d] = rem % targetShape[d]
            rem /= targetShape[d]
        }
        func blockOf(_ c: [Int]) -> Int {
            var b = 0
            for d in 0..<rank where mstrides[d] != 0 { b += (c[d] / steps[d]) * mstrides[d] }
            return b
        }
        var block = blockOf(coord)
        let last = rank - 1
        let lastDim = targetShape[last], lastStep = steps[last], lastM = mstrides[last]
        var i = r.lowerBound
        while i < r.upperBound {
            body(i, block)
            i += 1
            coord[last] += 1
            if coord[last] < lastDim {
                if lastM != 0 && coord[last] % lastStep == 0 { block += lastM }
            } else {
                var d = last
                while d >= 0 && coord[d] >= targetShape[d] {
                    coord[d] = 0
                    if d > 0 { coord[d - 1] += 1 }
                    d -= 1
                }
                block = blockOf(coord)
            }
        }
    }
}
