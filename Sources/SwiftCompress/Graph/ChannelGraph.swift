/// A flat description of a traced model — module calls and functional ops with their output
/// shapes and input edges — and the channel-dependency analysis over it: which prunable modules'
/// output channels must be pruned together (dependency groups, as NNI 3.0's
/// `auto_set_denpendency_group_ids` gives them), the `internal_metric_block` of grouped convs, and
/// a shrink plan: for every node, the indices kept along its output channels and its input channels
/// once the pruned channels are physically removed.
///
/// The analysis tracks channel *elements*: every index of a tensor's channel dimension(s) is an
/// element id, and ops map ids (a conv's outputs are new ids; a BN passes its input's ids; `cat`
/// concatenates them; `flatten` repeats each channel's id over the flattened spatial size; a
/// residual `add` unions the ids of its inputs index by index). A union-find class of ids is
/// removed when at least one masked module votes on it, every vote says "pruned" and no member is
/// fixed (a graph input or output, or an input of an op that mixes channels in a way that removing
/// one would change: LayerNorm statistics, a grouped conv, softmax, ...).

/// The kind of one node (the C ABI's `SC_GRAPH_OP_*`, same values).
public enum GraphOp: Int, Sendable, CaseIterable {
    /// A graph input or a constant (`get_attr`): no attributes; its channels are fixed.
    case input = 0
    /// Conv1d/2d/3d or ConvTranspose: attrs `[in_channels, out_channels, groups, transposed (0/1)]`,
    /// optionally followed by `[bias (0/1), kernel sizes...]` (for `cost()`); one input.
    case conv = 1
    /// Linear on the last dim: attrs `[in_features, out_features]`, optionally `[..., bias (0/1)]`; one input.
    case linear = 2
    /// Embedding: attrs `[num_embeddings, embedding_dim]`; one input (the indices).
    case embedding = 3
    /// A norm over `dim`: attrs `[dim, num_groups]`: num_groups 0 = per channel (BatchNorm,
    /// InstanceNorm), -1 = statistics over the channels (LayerNorm), k >= 1 = GroupNorm(k).
    case norm = 4
    /// add / sub / mul / div of tensors with broadcasting (scalars are not inputs): ties channels.
    case elementwise = 5
    /// A per-channel op keeping the rank (activations, pooling, dropout, identity): no attributes.
    case pass = 6
    /// cat: attrs `[dim]`.
    case cat = 7
    /// One item of split / chunk: attrs `[dim, index, size_0, size_1, ...]` (a negative index counts from the end).
    case split = 8
    /// view / reshape / flatten / unflatten: no attributes (the shapes say it; a tracked dim split
    /// in two or two tracked dims merged fixes them), or one flag per output dim: 1 where the call
    /// gives that size as a constant (a literal other than -1, so it cannot shrink), 0 where it is
    /// computed at run time (-1, or from the input's sizes). With flags a tracked dim may be split
    /// (`view(b, t, -1, head_dim)`: heads and head dims) and tracked dims merged; the kept channels
    /// then form a product over the split dims (one kept set per dim) and a constant dim keeps all
    /// of its indices or none.
    case reshape = 9
    /// permute: attrs the permutation.
    case permute = 10
    /// transpose: attrs `[dim0, dim1]`.
    case transpose = 11
    /// mean / sum / amax over dims: attrs `[keepdim (0/1), dims...]` (no dims: all).
    case reduce = 12
    /// Anything else: its inputs' channels are fixed, its output is untracked.
    case opaque = 13
    /// A graph output: its inputs' channels are fixed.
    case output = 14
    /// `scaled_dot_product_attention(q, k, v[, attn_mask])`: q `[..., Hq, L, E]`, k `[..., Hkv, S, E]`,
    /// v `[..., Hkv, S, Ev]`, output `[..., Hq, L, Ev]`; attrs `[enable_gqa (0/1), scale_given (0/1)]`.
    /// When q, k and v are tracked over their head and head dims (after a `view(..., -1, head_dim)`
    /// and a transpose) and E == Ev, element (h, d) of q, of k's and of v's head h / (Hq / Hkv) are
    /// tied, the output carries v's channels, and a head is kept or removed whole (its head dim is
    /// not cut: without a given scale it would change the softmax scale). Otherwise q, k and v keep
    /// their channels. A mask keeps its channels.
    case attention = 15
    /// One item of `chunk(chunks, dim)`: attrs `[dim, index, chunks]`; items of ceil(size / chunks),
    /// the last smaller. Unlike a split with given sizes, the item sizes follow the input's at run
    /// time: when the chunks are equal, each keeps the same indices of its chunk (a shape rule over
    /// (chunk, index)); unequal chunks keep their channels.
    case chunk = 16

    /// The name used in messages and reports.
    public var name: String {
        switch self {
        case .input: return "input"
        case .conv: return "conv"
        case .linear: return "linear"
        case .embedding: return "embedding"
        case .norm: return "norm"
        case .elementwise: return "elementwise"
        case .pass: return "pass"
        case .cat: return "cat"
        case .split: return "split"
        case .reshape: return "reshape"
        case .permute: return "permute"
        case .transpose: return "transpose"
        case .reduce: return "reduce"
        case .opaque: return "opaque"
        case .output: return "output"
        case .attention: return "attention"
        case .chunk: return "chunk"
        }
    }
}

/// An invalid graph description or mask: the message names what was expected and what was given.
public struct GraphError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One node of a `ChannelGraph`.
public struct GraphNode: Sendable, Equatable {
    public var name: String
    public var op: GraphOp
    public var inputs: [Int]
    public var shape: [Int]
    public var attrs: [Int]
}

/// The result of `ChannelGraph.analyze()`.
public struct GraphAnalysis: Sendable, Equatable {
    /// Per node: its dependency group (index into `groups`), or -1 for nodes that are not conv /
    /// linear / embedding modules.
    public var groupOf: [Int]
    /// The dependency groups: node indices of the conv / linear / embedding modules whose output
    /// channels are tied, in node order; groups ordered by their first member. Singletons included.
    public var groups: [[Int]]
    /// Per group: the names of the nodes that tied its members (elementwise ops, cats, depthwise
    /// convs), in node order, no repeats.
    public var tiedBy: [[String]]
    /// Per node: NNI's `internal_metric_block` (the lcm of its own groups and its grouped-conv
    /// children's), or 0 where NNI sets none.
    public var internalMetricBlock: [Int]
    /// Per node: the kept indices of its output channel dim(s) (in the tracked layout), or nil when
    /// the output is untracked (nothing removed).
    public var keptOutput: [[Int]?]
    /// Per node: the kept indices of its (first) input's channels as the node reads them (conv:
    /// dim 1; linear: last dim; norm: its dim), or nil when nothing is removed there.
    public var keptInput: [[Int]?]
    /// Per node: the node's attributes after shrinking (same layout as its attrs: conv
    /// `[in, out, groups, transposed]`, linear `[in, out]`, embedding `[num, dim]`, norm
    /// `[dim, num_groups]`; attention `[enable_gqa, scale_given, query heads, key / value heads,
    /// kept query heads, kept key / value heads]`, key / value heads counted as v's distinct heads
    /// (a head repeated for grouped queries counts once); others unchanged).
    public var shrunkAttrs: [[Int]]
}

/// The graph description and its analysis. Build it node by node (inputs before their users),
/// set the masks of the pruned modules, then `analyze()`.
public final class ChannelGraph {
    public private(set) var nodes: [GraphNode] = []
    /// Per node: per output channel, whether its mask prunes it (nil: no mask set).
    public private(set) var pruned: [[Bool]?] = []

    /// The most nodes, dims and attributes one graph may have (protects against runaway input).
    public static let maxNodes = 1 << 20
    public static let maxRank = 16
    public static let maxTrackedElements = 1 << 26

    public init() {}

    /// Adds a node and returns its index. Errors: an input index that is not an earlier node, a
    /// negative size, a rank over 16, or attributes of the wrong count or value for `op`.
    @discardableResult
    public func addNode(name: String, op: GraphOp, inputs: [Int], shape: [Int], attrs: [Int]) throws(GraphError) -> Int {
        let index = nodes.count
        let what = "node \(index) '\(name)' (\(op.name))"
        guard index < Self.maxNodes else { throw GraphError("\(what): the graph already has \(Self.maxNodes) nodes, the most it may have") }
        for (k, i) in inputs.enumerated() where i < 0 || i >= index {
            throw GraphError("\(what): inputs[\(k)] is \(i); expected an earlier node index in 0..<\(index)")
        }
        guard shape.count <= Self.maxRank else { throw GraphError("\(what): rank \(shape.count); expected at most \(Self.maxRank)") }
        for (d, s) in shape.enumerated() where s < 0 {
            throw GraphError("\(what): shape[\(d)] is \(s); sizes must be >= 0 (shape \(shape))")
        }
        try checkAttrs(op: op, inputs: inputs, shape: shape, attrs: attrs, what: what)
        nodes.append(GraphNode(name: name, op: op, inputs: inputs, shape: shape, attrs: attrs))
        pruned.append(nil)
        return index
    }

    private func checkAttrs(op: GraphOp, inputs: [Int], shape: [Int], attrs: [Int], what: String) throws(GraphError) {
        func count(_ n: Int, _ layout: String) throws(GraphError) {
            guard attrs.count == n else { throw GraphError("\(what): \(attrs.count) attributes \(attrs); expected \(n): \(layout)") }
        }
        func oneInput() throws(GraphError) {
            guard inputs.count == 1 else { throw GraphError("\(what): \(inputs.count) inputs; expected 1") }
        }
        switch op {
        case .input:
            guard inputs.isEmpty else { throw GraphError("\(what): \(inputs.count) inputs; an input node has none") }
        case .conv:
            guard attrs.count == 4 || attrs.count >= 6 else {
                throw GraphError("\(what): \(attrs.count) attributes \(attrs); expected [in_channels, out_channels, groups, transposed] or [..., bias, kernel sizes...]")
            }
            try oneInput()
            let (cin, cout, g, t) = (attrs[0], attrs[1], attrs[2], attrs[3])
            guard cin > 0, cout > 0, g > 0, cin % g == 0, cout % g == 0, t == 0 || t == 1 else {
                throw GraphError("\(what): attributes \(attrs); expected in_channels and out_channels > 0 divisible by groups > 0, transposed 0 or 1")
            }
            guard attrs.count == 4 || (attrs[4] == 0 || attrs[4] == 1) && attrs[5...].allSatisfy({ $0 > 0 }) else {
                throw GraphError("\(what): attributes \(attrs); expected bias 0 or 1 and kernel sizes > 0")
            }
            let ins = nodes[inputs[0]].shape
            guard ins.count >= 2, ins[1] == cin else { throw GraphError("\(what): input shape \(ins); expected dim 1 of size in_channels \(cin)") }
            guard shape.count == ins.count, shape[1] == cout else { throw GraphError("\(what): output shape \(shape); expected rank \(ins.count) with dim 1 of size out_channels \(cout)") }
        case .linear:
            guard attrs.count == 2 || attrs.count == 3 && (attrs[2] == 0 || attrs[2] == 1) else {
                throw GraphError("\(what): attributes \(attrs); expected [in_features, out_features] or [..., bias 0/1]")
            }
            try oneInput()
            let ins = nodes[inputs[0]].shape
            guard let l = ins.last, l == attrs[0], attrs[0] > 0, attrs[1] > 0 else { throw GraphError("\(what): input shape \(ins); expected a last dim of size in_features \(attrs[0]) > 0") }
            guard shape.count == ins.count, shape.last == attrs[1] else { throw GraphError("\(what): output shape \(shape); expected rank \(ins.count) with a last dim of size out_features \(attrs[1])") }
        case .embedding:
            try count(2, "[num_embeddings, embedding_dim]")
            try oneInput()
            guard attrs[0] > 0, attrs[1] > 0, shape.last == attrs[1] else { throw GraphError("\(what): output shape \(shape) and attributes \(attrs); expected positive sizes and a last dim of size embedding_dim") }
        case .norm:
            try count(2, "[dim, num_groups]")
            try oneInput()
            let ins = nodes[inputs[0]].shape
            guard ins == shape else { throw GraphError("\(what): output shape \(shape); expected the input's \(ins)") }
            guard normalize(attrs[0], rank: shape.count) != nil else { throw GraphError("\(what): dim \(attrs[0]) is out of range for rank \(shape.count)") }
            guard attrs[1] >= -1 else { throw GraphError("\(what): num_groups \(attrs[1]); expected 0 (per channel), -1 (LayerNorm) or a group count >= 1") }
        case .elementwise:
            guard !inputs.isEmpty else { throw GraphError("\(what): no inputs; expected at least 1 tensor") }
            for i in inputs where nodes[i].shape.count > shape.count {
                throw GraphError("\(what): input \(i) has rank \(nodes[i].shape.count), above the output's \(shape.count)")
            }
        case .pass, .reshape, .opaque, .output:
            if op == .pass || op == .reshape { try oneInput() }
            if op == .reshape {
                let a = nodes[inputs[0]].shape.reduce(1, { $0 &* $1 }), b = shape.reduce(1, { $0 &* $1 })
                guard a == b else { throw GraphError("\(what): output shape \(shape) has \(b) elements; the input \(nodes[inputs[0]].shape) has \(a)") }
                guard attrs.isEmpty || attrs.count == shape.count && attrs.allSatisfy({ $0 == 0 || $0 == 1 }) else {
                    throw GraphError("\(what): attributes \(attrs); expected none or one flag (0 computed, 1 constant) per output dim (\(shape.count))")
                }
            }
        case .chunk:
            try count(3, "[dim, index, chunks]")
            try oneInput()
            let ins = nodes[inputs[0]].shape
            guard let d = normalize(attrs[0], rank: ins.count), attrs[2] >= 1 else {
                throw GraphError("\(what): attributes \(attrs); expected a dim in range for input shape \(ins) and chunks >= 1")
            }
            let size = (ins[d] + attrs[2] - 1) / attrs[2]
            let items = size == 0 ? 0 : (ins[d] + size - 1) / size
            guard attrs[1] >= 0, attrs[1] < items, shape.count == ins.count,
                  shape.indices.allSatisfy({ $0 == d ? shape[$0] == min(size, ins[d] - attrs[1] * size) : shape[$0] == ins[$0] }) else {
                throw GraphError("\(what): index \(attrs[1]) and output shape \(shape); expected one of the \(items) chunks of input shape \(ins) along dim \(d)")
            }
        case .attention:
            try count(2, "[enable_gqa 0/1, scale_given 0/1]")
            guard inputs.count == 3 || inputs.count == 4 else { throw GraphError("\(what): \(inputs.count) inputs; expected q, k, v and an optional mask") }
            guard attrs.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw GraphError("\(what): attributes \(attrs); expected flags 0 or 1") }
            let (q, k, v) = (nodes[inputs[0]].shape, nodes[inputs[1]].shape, nodes[inputs[2]].shape)
            let r = q.count
            guard r >= 3, k.count == r, v.count == r, shape.count == r else {
                throw GraphError("\(what): q \(q), k \(k), v \(v), output \(shape); expected one rank >= 3 for all")
            }
            let (hq, hk) = (q[r - 3], k[r - 3])
            let headsOK = hk == v[r - 3] && (hq == hk || attrs[0] == 1 && hk > 0 && hq % hk == 0)
            guard q[r - 1] == k[r - 1], k[r - 2] == v[r - 2], headsOK,
                  shape == Array(q.dropLast()) + [v[r - 1]] else {
                throw GraphError("\(what): q \(q), k \(k), v \(v), output \(shape); expected q [..., Hq, L, E], k [..., Hkv, S, E], v [..., Hkv, S, Ev] (Hkv == Hq, or dividing it with enable_gqa) and output [..., Hq, L, Ev]")
            }
        case .cat:
            try count(1, "[dim]")
            guard !inputs.isEmpty, normalize(attrs[0], rank: shape.count) != nil else { throw GraphError("\(what): dim \(attrs[0]) for rank \(shape.count) with \(inputs.count) inputs; expected a dim in range and inputs") }
            let d = normalize(attrs[0], rank: shape.count) ?? 0
            var total = 0
            for i in inputs {
                let s = nodes[i].shape
                guard s.count == shape.count, s.indices.allSatisfy({ $0 == d || s[$0] == shape[$0] }) else {
                    throw GraphError("\(what): input \(i) has shape \(s); expected the output's \(shape) except in dim \(d)")
                }
                total = total &+ s[d]
            }
            guard total == shape[d] else { throw GraphError("\(what): the inputs' dim \(d) add up to \(total); the output's is \(shape[d])") }
        case .split:
            try oneInput()
            guard attrs.count >= 3 else { throw GraphError("\(what): attributes \(attrs); expected [dim, index, size_0, ...]") }
            let ins = nodes[inputs[0]].shape
            guard let d = normalize(attrs[0], rank: ins.count), normalize(attrs[1], rank: attrs.count - 2) != nil else {
                throw GraphError("\(what): dim \(attrs[0]) / index \(attrs[1]) out of range (input shape \(ins), \(attrs.count - 2) sizes)")
            }
            let sizes = Array(attrs[2...])
            let item = normalize(attrs[1], rank: sizes.count) ?? 0
            guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, { $0 &+ $1 }) == ins[d], shape.count == ins.count, shape[d] == sizes[item] else {
                throw GraphError("\(what): sizes \(sizes) must add up to the input's dim \(d) (\(ins[d])) and give the output's \(shape)")
            }
        case .permute:
            try oneInput()
            let n = nodes[inputs[0]].shape.count
            let perm = attrs.compactMap { normalize($0, rank: n) }
            guard attrs.count == n, Set(perm).count == n, perm.count == n, shape == perm.map({ nodes[inputs[0]].shape[$0] }) else {
                throw GraphError("\(what): permutation \(attrs) and output shape \(shape); expected a permutation of the input's \(n) dims (input shape \(nodes[inputs[0]].shape))")
            }
        case .transpose:
            try count(2, "[dim0, dim1]")
            try oneInput()
            let n = nodes[inputs[0]].shape.count
            guard let a = normalize(attrs[0], rank: n), let b = normalize(attrs[1], rank: n) else {
                throw GraphError("\(what): dims \(attrs) out of range for rank \(n)")
            }
            var swapped = nodes[inputs[0]].shape
            swapped.swapAt(a, b)
            guard shape == swapped else { throw GraphError("\(what): output shape \(shape); expected \(swapped)") }
        case .reduce:
            try oneInput()
            let n = nodes[inputs[0]].shape.count
            guard !attrs.isEmpty, attrs[0] == 0 || attrs[0] == 1, attrs.dropFirst().allSatisfy({ normalize($0, rank: n) != nil }) else {
                throw GraphError("\(what): attributes \(attrs); expected [keepdim 0/1, dims in range for rank \(n)...]")
            }
            let ins = nodes[inputs[0]].shape
            let dims = attrs.count > 1 ? Set(attrs.dropFirst().compactMap { normalize($0, rank: n) }) : Set(0..<n)
            let expected = attrs[0] == 1 ? ins.indices.map { dims.contains($0) ? 1 : ins[$0] } : ins.indices.filter { !dims.contains($0) }.map { ins[$0] }
            guard shape == expected else { throw GraphError("\(what): output shape \(shape); expected \(expected) for input \(ins)") }
        }
    }

    /// Sets the mask of a conv / linear / embedding node from its weight mask (and bias mask):
    /// output channel j is pruned when every weight-mask entry of it (conv and linear: `weight[j]`;
    /// transposed conv: `weight[:, j]`, per group; embedding: `weight[:, j]`) is 0, and the bias
    /// mask (when given) is 0 at j. Without a bias mask a bias does not keep a channel: as NNI 3.0's
    /// ModelSpeedup does, the channel goes with its bias (the shrunk model then lacks that bias's
    /// contribution); a bias mask of 1 at j keeps it. Errors: another op, or a mask whose shape does
    /// not match.
    public func setMask(node: Int, weight: TensorView, bias: TensorView?) throws(GraphError) {
        guard node >= 0, node < nodes.count else { throw GraphError("node \(node) is out of range 0..<\(nodes.count)") }
        let n = nodes[node]
        let what = "node \(node) '\(n.name)' (\(n.op.name)) mask"
        let outs: Int
        switch n.op {
        case .conv: outs = n.attrs[1]
        case .linear, .embedding: outs = n.attrs[1]
        default: throw GraphError("\(what): masks are set on conv, linear and embedding nodes only")
        }
        let ws = weight.shape
        var keep = [Bool](repeating: false, count: outs)
        switch n.op {
        case .conv where n.attrs[3] == 1:
            // ConvTranspose weight: [in, out / groups, k...]; out channel j = group (j / (out/g)), column j % (out/g).
            let per = outs / n.attrs[2]
            guard ws.count >= 2, ws[0] == n.attrs[0], ws[1] == per else { throw GraphError("\(what): weight mask shape \(ws); expected [\(n.attrs[0]), \(per), ...]") }
            let inner = ws.dropFirst(2).reduce(1, *), inPer = n.attrs[0] / n.attrs[2]
            var i = 0
            weight.forEachValue { v in
                let col = (i / inner) % per, row = i / (inner * per)
                let j = (row / inPer) * per + col
                if v != 0 { keep[j] = true }
                i += 1
            }
        case .conv, .linear:
            guard !ws.isEmpty, ws[0] == outs else { throw GraphError("\(what): weight mask shape \(ws); expected dim 0 of size \(outs)") }
            let inner = ws.dropFirst().reduce(1, *)
            var i = 0
            weight.forEachValue { v in
                if v != 0 { keep[i / max(inner, 1)] = true }
                i += 1
            }
        default:
            guard ws.count == 2, ws[1] == outs else { throw GraphError("\(what): weight mask shape \(ws); expected [\(n.attrs[0]), \(outs)]") }
            var i = 0
            weight.forEachValue { v in
                if v != 0 { keep[i % outs] = true }
                i += 1
            }
        }
        if let bias {
            guard bias.shape == [outs] else { throw GraphError("\(what): bias mask shape \(bias.shape); expected [\(outs)]") }
            var i = 0
            bias.forEachValue { v in
                if v != 0 { keep[i] = true }
                i += 1
            }
        }
        pruned[node] = keep.map { !$0 }
    }

    /// Sets node `node`'s per-output-channel pruned flags directly.
    public func setPruned(node: Int, _ flags: [Bool]) throws(GraphError) {
        guard node >= 0, node < nodes.count else { throw GraphError("node \(node) is out of range 0..<\(nodes.count)") }
        let n = nodes[node]
        guard n.op == .conv || n.op == .linear || n.op == .embedding else { throw GraphError("node \(node) '\(n.name)' is \(n.op.name); masks are set on conv, linear and embedding nodes only") }
        guard flags.count == n.attrs[1] else { throw GraphError("node \(node) '\(n.name)': \(flags.count) flags; expected out channels \(n.attrs[1])") }
        pruned[node] = flags
    }

    /// Runs the analysis. Errors: a graph whose tracked channel elements exceed `maxTrackedElements`.
    public func analyze() throws(GraphError) -> GraphAnalysis {
        var a = Analyzer(graph: self)
        return try a.run()
    }
}

extension ChannelGraph {
    /// NNI's `count_flops_params` in its default mode, per node: conv `flops = out_channels x
    /// prod(output spatial dims) x prod(kernel) x in_channels / groups` and `params = out x in /
    /// groups x prod(kernel) (+ out with a bias)`; linear `flops = in x out`, `params = in x out
    /// (+ out)`; other nodes 0. A module called more than once counts its FLOPs per call and its
    /// params once (first call). Conv nodes without kernel attributes count kernel 1.
    public func cost() -> (flops: [Int], params: [Int], totalFlops: Int, totalParams: Int) {
        var flops = [Int](repeating: 0, count: nodes.count), params = flops
        var seen = Set<String>()
        for (i, n) in nodes.enumerated() {
            let first = seen.insert(n.name + "\u{0}" + n.op.name).inserted
            switch n.op {
            case .conv:
                let kernel = n.attrs.count >= 6 ? n.attrs[5...].reduce(1, { $0 &* $1 }) : 1
                let spatial = n.shape.dropFirst(2).reduce(1, { $0 &* $1 })
                let perOut = (n.attrs[0] / n.attrs[2]) &* kernel
                flops[i] = n.attrs[1] &* spatial &* perOut
                if first { params[i] = n.attrs[1] &* perOut &+ (n.attrs.count >= 6 && n.attrs[4] == 1 ? n.attrs[1] : 0) }
            case .linear:
                flops[i] = n.attrs[0] &* n.attrs[1]
                if first { params[i] = n.attrs[0] &* n.attrs[1] &+ (n.attrs.count == 3 && n.attrs[2] == 1 ? n.attrs[1] : 0) }
            default: break
            }
        }
        return (flops, params, flops.reduce(0, &+), params.reduce(0, &+))
    }
}

/// `d` in `0..<rank` (negative counts from the end), or nil.
func normalize(_ d: Int, rank: Int) -> Int? {
    let r = d < 0 ? d + rank : d
    return r >= 0 && r < rank ? r : nil
}
