/// How the elements of one tensor are divided into blocks that share a scale and a zero point,
/// for one shape and one granularity. Scales, zero points and tracked min/max hold one value per
/// block, in row-major order of `scaleShape`.
///
/// `scaleShape` is NNI 3.0's: `[]` (a 0-dimensional value) per tensor; the keepdim shape
/// otherwise (`[64, 1, 1, 1]` per channel of a conv weight, `[1, 16, 1, 1]` per channel of an
/// NCHW activation, `[4, 3]` for blocks `[2, 2]` of an `[8, 6]` weight).
public struct QuantizationBlocks: Sendable, Hashable {
    /// The tensor's shape.
    public let shape: [Int]
    /// The shape of scales / zero points / tracked min and max (see the type's description).
    public let scaleShape: [Int]
    /// Number of blocks: the element count of `scaleShape` (1 per tensor; 0 for an empty tensor
    /// divided into blocks).
    public let blockCount: Int
    /// Number of elements of the tensor.
    public let elementCount: Int

    /// Elements of one run: consecutive logical indices that share a block.
    let runLength: Int
    /// The runs, walked in order, as an odometer: digit sizes and the block-index step of each digit.
    let digitSizes: [Int]
    let digitBlockSteps: [Int]

    /// Resolves `granularity` for a tensor of `shape`. `target` names the tensor in errors.
    ///
    /// - Throws: `EngineError(.quantization, .invalidGranularity)` for block sizes that do not divide their
    ///   dim or outnumber the dims, `per_channel` on an activation of rank < 2 or a parameter of
    ///   rank 0, `out_channel` / `in_channel` on an activation or a tensor of too small a rank;
    ///   `.shapeMismatch` for a negative dim or a shape with more than `Int.max` elements.
    public init(shape: [Int], granularity: QuantGranularity, role: QuantTargetRole, target: String) throws(EngineError) {
        let isParameter = role == .parameter
        let g: PruningGranularity
        switch granularity {
        case .perTensor: g = .blocks([Int](repeating: -1, count: shape.count))
        case .perChannel: g = isParameter ? .outChannel : .perChannel
        case .outChannel: g = .outChannel
        case .inChannel: g = .inChannel
        case .blocks(let sizes): g = .blocks(sizes)
        }
        guard checkedElementCount(of: shape) != nil else {
            throw EngineError(.quantization, .shapeMismatch, target: target, "shape \(shape) has a negative dimension or too many elements")
        }
        let layout: BlockLayout
        do {
            layout = try BlockLayout(shape: shape, granularity: g, isParameter: isParameter, levelDefault: false, target: target)
        } catch {
            throw EngineError(.quantization, .invalidGranularity, target: target, key: "granularity", error.message)
        }
        self.shape = shape
        let n = layout.elementCount
        self.elementCount = n
        if case .perTensor = granularity {
            scaleShape = []
            blockCount = 1
        } else {
            scaleShape = layout.metricShape
            blockCount = layout.blockCount
        }
        // Runs: j = the last blocked dim (kernel != -1). A run is `steps[j]` indices of dim j times
        // everything after it; the dims before j and the block index of dim j are the odometer's
        // digits (a dim d < j contributes two digits: block index along d, and position inside the
        // block, which does not change the block).
        let kernel = layout.kernel
        guard let j = kernel.lastIndex(where: { $0 != -1 }), n > 0 else {
            runLength = Swift.max(n, 1)
            digitSizes = []
            digitBlockSteps = []
            return
        }
        var mstrides = [Int](repeating: 0, count: shape.count)
        var running = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) {
            mstrides[d] = kernel[d] == -1 ? 0 : running
            running *= layout.metricShape[d]
        }
        var inner = 1
        for d in (j + 1)..<shape.count { inner *= shape[d] }
        runLength = layout.steps[j] * inner
        var sizes: [Int] = []
        var steps: [Int] = []
        for d in 0..<j {
            let step = layout.steps[d]
            let outer = step == 0 ? 0 : shape[d] / step
            if outer != 1 {
                sizes.append(outer)
                steps.append(mstrides[d])
            }
            if step != 1 {
                sizes.append(step)
                steps.append(0)
            }
        }
        let last = layout.steps[j] == 0 ? 0 : shape[j] / layout.steps[j]
        if last != 1 {
            sizes.append(last)
            steps.append(mstrides[j])
        }
        digitSizes = sizes
        digitBlockSteps = steps
    }

    /// Calls `body(range, block)` for consecutive pieces of `range` (logical indices, clamped to
    /// the tensor) in which every element belongs to `block`, in order.
    @inline(__always)
    func forEachSegment(in range: Range<Int>, _ body: (Range<Int>, Int) -> Void) {
        let r = range.clamped(to: 0..<elementCount)
        if r.isEmpty { return }
        if digitSizes.isEmpty {
            body(r, 0)
            return
        }
        let rank = digitSizes.count
        withUnsafeTemporaryAllocation(of: Int.self, capacity: rank) { digits in
            var run = r.lowerBound / runLength
            var block = 0
            var rem = run
            for k in stride(from: rank - 1, through: 0, by: -1) {
                digits[k] = rem % digitSizes[k]
                rem /= digitSizes[k]
                block += digits[k] * digitBlockSteps[k]
            }
            var pos = r.lowerBound
            while pos < r.upperBound {
                let end = Swift.min((run + 1) * runLength, r.upperBound)
                body(pos..<end, block)
                pos = end
                run += 1
                var odometer = digits  // the same memory
                advanceOdometer(&odometer, sizes: digitSizes, steps: digitBlockSteps, lastDim: rank - 1, offset: &block)
            }
        }
    }

    /// The block of each element, in logical order (for tests and small tensors).
    public func blockIndices() -> [Int] {
        var out = [Int](repeating: 0, count: elementCount)
        forEachSegment(in: 0..<elementCount) { r, b in
            for i in r { out[i] = b }
        }
        return out
    }
}

/// The product of `shape`, or nil when a dim is negative or the product overflows.
func checkedElementCount(of shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = p
    }
    return n
}

/// Splits `0..<count` into parts for `parallelFor`: one part below `serialLimit` elements,
/// otherwise `workerParts` parts whose boundaries are multiples of `alignment` elements.
func quantChunks(_ count: Int, alignment: Int = 1024, serialLimit: Int = 1 << 16) -> [Range<Int>] {
    if count <= 0 { return [] }
    if count < serialLimit { return [0..<count] }
    let per = (count + workerParts - 1) / workerParts
    let size = (per + alignment - 1) / alignment * alignment
    var out: [Range<Int>] = []
    var lo = 0
    while lo < count {
        let hi = Swift.min(lo + size, count)
        out.append(lo..<hi)
        lo = hi
    }
    return out
}
