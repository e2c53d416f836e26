/// The channel tracking of one tensor: the positions of its tracked dims (in layout order: `ids`
/// is row-major over these dims taken in this order) and one element id per index.
struct Track: Equatable {
    var dims: [Int]
    var ids: [Int]
}

/// A shape rule over the elements of a multi-dim (or constant-size) track: `ids` row-major over
/// `sizes`. The kept elements must form a product of one kept index set per dim (a tensor stays
/// rectangular), and a `whole` dim keeps all its indices once anything is kept.
struct ShapeRule {
    var sizes: [Int]
    var whole: [Bool]
    var ids: [Int]
}

/// The analysis of `ChannelGraph.analyze()`; see ChannelGraph.swift for the rules.
struct Analyzer {
    let graph: ChannelGraph
    var parent: [Int] = []
    var fixed: [Bool] = []
    var tracks: [Track?] = []
    /// (node, element) for every union that joined two classes, in node order.
    var ties: [(node: Int, element: Int)] = []
    /// Shape rules of split and constant-size tracks (reshape with flags, attention heads).
    var rules: [ShapeRule] = []

    init(graph: ChannelGraph) { self.graph = graph }

    mutating func fresh(_ n: Int, fixed isFixed: Bool) throws(GraphError) -> [Int] {
        guard parent.count + n <= ChannelGraph.maxTrackedElements else {
            throw GraphError("the graph tracks more than \(ChannelGraph.maxTrackedElements) channel elements")
        }
        let start = parent.count
        parent.append(contentsOf: start..<(start + n))
        fixed.append(contentsOf: repeatElement(isFixed, count: n))
        return Array(start..<(start + n))
    }

    mutating func find(_ x: Int) -> Int {
        var r = x
        while parent[r] != r { r = parent[r] }
        var y = x
        while parent[y] != r { let next = parent[y]; parent[y] = r; y = next }
        return r
    }

    mutating func union(_ a: Int, _ b: Int, at node: Int) {
        let ra = find(a), rb = find(b)
        guard ra != rb else { return }
        parent[max(ra, rb)] = min(ra, rb)
        ties.append((node, a))
    }

    mutating func tieCalls(_ a: Track?, _ b: Track?, at node: Int) {
        if let a, let b, a.dims == b.dims, a.ids.count == b.ids.count {
            for (x, y) in zip(a.ids, b.ids) { union(x, y, at: node) }
        } else {
            fix(a)
            fix(b)
        }
    }

    mutating func fix(_ t: Track?) {
        guard let t else { return }
        for i in t.ids { fixed[i] = true }
    }

    func shape(_ i: Int) -> [Int] { graph.nodes[i].shape }

    mutating func run() throws(GraphError) -> GraphAnalysis {
        let nodes = graph.nodes
        tracks = []
        var firstCall: [String: Int] = [:]
        for (index, n) in nodes.enumerated() {
            tracks.append(try step(index, n))
            // Two calls of one module (same name and op) share its channels: tie outputs and inputs.
            guard [.conv, .linear, .embedding, .norm].contains(n.op) else { continue }
            guard let first = firstCall[n.name] else { firstCall[n.name] = index; continue }
            tieCalls(tracks[first], tracks[index], at: index)
            if let a = nodes[first].inputs.first, let b = n.inputs.first { tieCalls(tracks[a], tracks[b], at: index) }
        }
        // Votes: a class is removed when some mask votes on it, every vote says pruned and no member is fixed.
        var voted = [Bool](repeating: false, count: parent.count)
        var keptVote = [Bool](repeating: false, count: parent.count)
        for (index, flags) in graph.pruned.enumerated() {
            guard let flags, let t = tracks[index], t.ids.count == flags.count else { continue }
            for (j, p) in flags.enumerated() {
                let r = find(t.ids[j])
                voted[r] = true
                if !p { keptVote[r] = true }
            }
        }
        var fixedRoot = [Bool](repeating: false, count: parent.count)
        for e in 0..<parent.count where fixed[e] { fixedRoot[find(e)] = true }
        var removedRoot = [Bool](repeating: false, count: parent.count)
        for e in 0..<parent.count where find(e) == e {
            removedRoot[e] = voted[e] && !keptVote[e] && !fixedRoot[e]
        }
        enforceRules(&removedRoot)
        var removed = [Bool](repeating: false, count: parent.count)
        for e in 0..<parent.count { removed[e] = removedRoot[find(e)] }
        func kept(_ t: Track?) -> [Int]? {
            guard let t else { return nil }
            return t.ids.indices.filter { !removed[t.ids[$0]] }
        }

        var keptOutput: [[Int]?] = [], keptInput: [[Int]?] = [], shrunk: [[Int]] = []
        for (index, n) in nodes.enumerated() {
            keptOutput.append(kept(tracks[index]))
            var inKept: [Int]? = nil
            if let first = n.inputs.first, let t = tracks[first] {
                let rank = shape(first).count
                switch n.op {
                case .conv where t.dims == [1]: inKept = kept(t)
                case .linear where t.dims == [rank - 1]: inKept = kept(t)
                case .norm where t.dims == [normalize(n.attrs[0], rank: rank) ?? -1]: inKept = kept(t)
                default: break
                }
            }
            keptInput.append(inKept)
            var attrs = n.attrs
            switch n.op {
            case .conv:
                let cin = inKept?.count ?? n.attrs[0], cout = keptOutput[index]?.count ?? n.attrs[1]
                let depthwise = n.attrs[2] > 1 && n.attrs[2] == n.attrs[0]
                attrs = [cin, cout, depthwise ? cin : n.attrs[2], n.attrs[3]] + n.attrs.dropFirst(4)
            case .linear:
                attrs = [inKept?.count ?? n.attrs[0], keptOutput[index]?.count ?? n.attrs[1]] + n.attrs.dropFirst(2)
            case .norm:
                // GroupNorm with one channel per group stays so.
                if n.attrs[1] > 0, let first = n.inputs.first, let k = inKept, n.attrs[1] == shape(first)[normalize(n.attrs[0], rank: n.shape.count) ?? 0] {
                    attrs = [n.attrs[0], k.count]
                }
            case .embedding:
                attrs = [n.attrs[0], keptOutput[index]?.count ?? n.attrs[1]]
            case .attention:
                // Heads before and kept: query heads are the output's; key / value heads are v's
                // distinct heads (a head repeated for grouped queries, as repeat_kv does, counts once).
                let r = n.shape.count
                func heads(_ t: Track?, _ s: [Int], distinct: Bool) -> (all: Int, kept: Int) {
                    let d = s[r - 1]
                    guard let t, t.dims == [r - 3, r - 1], d > 0, t.ids.count == s[r - 3] * d else { return (s[r - 3], s[r - 3]) }
                    let slices = (0..<s[r - 3]).map { h in Array(t.ids[(h * d)..<((h + 1) * d)]) }
                    let keptSlices = slices.filter { $0.contains { !removed[$0] } }
                    return distinct ? (Set(slices).count, Set(keptSlices).count) : (slices.count, keptSlices.count)
                }
                let q = heads(tracks[index], n.shape, distinct: false)
                let kv = heads(tracks[n.inputs[2]], shape(n.inputs[2]), distinct: true)
                attrs = n.attrs + [q.all, kv.all, q.kept, kv.kept]
            default: break
            }
            shrunk.append(attrs)
        }

        // Module-level dependency groups (conv / linear / embedding), NNI's dependency sets: modules whose
        // output channels are tied index by index (the same class at every index) share a group. Modules
        // tied only in part or in another order (a depthwise conv after a channel shuffle) stay apart:
        // one dependency mask cannot serve them; the shrink plan's votes still keep them consistent.
        let modules = nodes.indices.filter { [.conv, .linear, .embedding].contains(nodes[$0].op) }
        var groupOf = [Int](repeating: -1, count: nodes.count)
        var groups: [[Int]] = []
        var groupOfKey: [[Int]: Int] = [:]
        var groupsOfRoot: [Int: [Int]] = [:]
        for m in modules {
            let key = (tracks[m]?.ids ?? []).map { find($0) }
            if let g = groupOfKey[key], !key.isEmpty {
                groups[g].append(m)
                groupOf[m] = g
            } else {
                let g = groups.count
                groupOfKey[key] = g
                groupOf[m] = g
                groups.append([m])
                for r in Set(key) { groupsOfRoot[r, default: []].append(g) }
            }
        }
        var tiedBy = [[String]](repeating: [], count: groups.count)
        for tie in ties {
            let name = nodes[tie.node].name
            for g in groupsOfRoot[find(tie.element)] ?? [] where !tiedBy[g].contains(name) { tiedBy[g].append(name) }
        }

        return GraphAnalysis(groupOf: groupOf, groups: groups, tiedBy: tiedBy,
                             internalMetricBlock: internalMetricBlocks(), keptOutput: keptOutput,
                             keptInput: keptInput, shrunkAttrs: shrunk)
    }

    /// Keeps, until nothing changes, every removed class that a shape rule needs: per rule, the
    /// indices of each dim with a kept element (all of a `whole` dim's once any element is kept)
    /// span the kept product; a removed element inside it is kept again; a rule with nothing kept
    /// keeps all its elements. Keeping only ever grows,
    /// so the loop ends; what stays removed is a product in every rule.
    mutating func enforceRules(_ removedRoot: inout [Bool]) {
        guard !rules.isEmpty else { return }
        var changed = true
        while changed {
            changed = false
            for rule in rules {
                let n = rule.sizes.count
                // A rule always covers its ids row-major (ids.count == the sizes' product); one that
                // did not would be skipped, never read out of range.
                guard n == rule.whole.count, rule.sizes.allSatisfy({ $0 > 0 }),
                      rule.sizes.reduce(1, { $0 &* $1 }) == rule.ids.count else { continue }
                var along = rule.sizes.map { [Bool](repeating: false, count: max($0, 0)) }
                var coord = [Int](repeating: 0, count: n)
                var anyKept = false
                func advance() {
                    var k = n - 1
                    while k >= 0 {
                        coord[k] += 1
                        if coord[k] < rule.sizes[k] { return }
                        coord[k] = 0
                        k -= 1
                    }
                }
                for id in rule.ids {
                    if !removedRoot[find(id)] {
                        anyKept = true
                        for k in 0..<n { along[k][coord[k]] = true }
                    }
                    advance()
                }
                guard anyKept else {
                    // Nothing kept: a view of 0 elements with a computed size (-1) fails at run
                    // time, so the tensor keeps everything instead (keeping is always exact).
                    for id in rule.ids where removedRoot[find(id)] {
                        removedRoot[find(id)] = false
                        changed = true
                    }
                    continue
                }
                for k in 0..<n where rule.whole[k] { along[k] = [Bool](repeating: true, count: along[k].count) }
                coord = [Int](repeating: 0, count: n)
                for id in rule.ids {
                    let r = find(id)
                    if removedRoot[r], (0..<n).allSatisfy({ along[$0][coord[$0]] }) {
                        removedRoot[r] = false
                        changed = true
                    }
                    advance()
                }
            }
        }
    }

    /// NNI's group dependency: every conv gets its groups (1 when depthwise), every GroupNorm its
    /// num_groups; a value > 1 is also given to the nearest conv / linear nodes upstream; each
    /// node's block is the lcm of what it got.
    func internalMetricBlocks() -> [Int] {
        let nodes = graph.nodes
        var lists = [[Int]](repeating: [], count: nodes.count)
        for (index, n) in nodes.enumerated() {
            var own = 0
            if n.op == .conv {
                own = n.attrs[2] == n.attrs[1] ? 1 : n.attrs[2]
            } else if n.op == .norm, n.attrs[1] >= 1 {
                own = n.attrs[1]
            } else {
                continue
            }
            lists[index].append(own)
            guard own > 1 else { continue }
            var queue = n.inputs, seen = Set<Int>(), head = 0
            while head < queue.count {
                let p = queue[head]
                head += 1
                guard seen.insert(p).inserted else { continue }
                if nodes[p].op == .conv || nodes[p].op == .linear {
                    lists[p].append(own)
                } else {
                    queue.append(contentsOf: nodes[p].inputs)
                }
            }
        }
        return lists.map { l in l.isEmpty ? 0 : l.reduce(1) { lcm($0, $1) } }
    }

    // MARK: - Per-op rules

    mutating func step(_ index: Int, _ n: GraphNode) throws(GraphError) -> Track? {
        let ins = n.inputs.map { tracks[$0] }
        let rank = n.shape.count
        switch n.op {
        case .input:
            return nil
        case .output, .opaque:
            for t in ins { fix(t) }
            return nil
        case .conv:
            let (cin, cout, g) = (n.attrs[0], n.attrs[1], n.attrs[2])
            let t = ins[0]
            let readable = t?.dims == [1] && t?.ids.count == cin
            if !readable { fix(t) }
            if g > 1 && g == cin {
                // depthwise (with channel multiplier cout / cin): output channel j is input channel j / (cout / cin).
                if readable, let t {
                    let k = cout / cin
                    let ids = (0..<cout).map { t.ids[$0 / k] }
                    if let first = ids.first { ties.append((index, first)) }
                    return Track(dims: [1], ids: ids)
                }
                return Track(dims: [1], ids: try fresh(cout, fixed: true))
            }
            if g > 1 {
                // grouped: removing channels would break the groups; inputs and outputs stay.
                fix(t)
                return Track(dims: [1], ids: try fresh(cout, fixed: true))
            }
            return Track(dims: [1], ids: try fresh(cout, fixed: false))
        case .linear:
            let t = ins[0]
            let r = shape(n.inputs[0]).count
            if !(t?.dims == [r - 1] && t?.ids.count == n.attrs[0]) { fix(t) }
            return Track(dims: [rank - 1], ids: try fresh(n.attrs[1], fixed: false))
        case .embedding:
            fix(ins[0])
            return Track(dims: [rank - 1], ids: try fresh(n.attrs[1], fixed: false))
        case .norm:
            guard let t = ins[0] else { return nil }
            let d = normalize(n.attrs[0], rank: rank) ?? -1
            let perChannel = n.attrs[1] == 0 || n.attrs[1] == n.shape[d]
            if t.dims == [d] && perChannel { return t }
            if t.dims.contains(d) || !perChannel { fix(t) }
            return t
        case .pass:
            guard let t = ins[0] else { return nil }
            let inShape = shape(n.inputs[0])
            if inShape.count == rank && t.dims.allSatisfy({ inShape[$0] == n.shape[$0] }) { return t }
            fix(t)
            return nil
        case .elementwise:
            return elementwise(index, n, ins)
        case .cat:
            return try cat(index, n, ins)
        case .split:
            guard let t = ins[0] else { return nil }
            let d = normalize(n.attrs[0], rank: rank) ?? -1
            if t.dims == [d], t.ids.count == shape(n.inputs[0])[d] {
                let item = normalize(n.attrs[1], rank: n.attrs.count - 2) ?? 0
                let start = n.attrs[2..<(2 + item)].reduce(0, +)
                return Track(dims: [d], ids: Array(t.ids[start..<(start + n.attrs[2 + item])]))
            }
            if !t.dims.contains(d) { return t }
            fix(t)
            return nil
        case .reshape:
            return try reshape(ins[0], from: shape(n.inputs[0]), to: n.shape, constant: n.attrs)
        case .attention:
            return attention(index, n, ins)
        case .chunk:
            guard let t = ins[0] else { return nil }
            let d = normalize(n.attrs[0], rank: rank) ?? -1
            if !t.dims.contains(d) { return t }
            let c = shape(n.inputs[0])[d], parts = n.attrs[2]
            guard t.dims == [d], t.ids.count == c else { fix(t); return nil }
            let size = (c + parts - 1) / parts, start = n.attrs[1] * size
            let item = Array(t.ids[start..<min(c, start + size)])
            if c % parts == 0 {
                // Equal chunks at run time: the same kept indices in every chunk.
                rules.append(ShapeRule(sizes: [parts, size], whole: [true, false], ids: t.ids))
            } else {
                fix(t)
            }
            return Track(dims: [d], ids: item)
        case .permute, .transpose:
            guard let t = ins[0] else { return nil }
            var perm = Array(0..<rank)
            if n.op == .permute {
                perm = n.attrs.map { normalize($0, rank: rank) ?? 0 }
            } else {
                let a = normalize(n.attrs[0], rank: rank) ?? 0, b = normalize(n.attrs[1], rank: rank) ?? 0
                perm.swapAt(a, b)
            }
            // output dim k is input dim perm[k]: input position p moves to k.
            var moved = [Int](repeating: 0, count: rank)
            for (k, p) in perm.enumerated() { moved[p] = k }
            return Track(dims: t.dims.map { moved[$0] }, ids: t.ids)
        case .reduce:
            guard let t = ins[0] else { return nil }
            let inRank = shape(n.inputs[0]).count
            let dims = n.attrs.count > 1 ? Set(n.attrs.dropFirst().compactMap { normalize($0, rank: inRank) }) : Set(0..<inRank)
            if t.dims.contains(where: dims.contains) {
                fix(t)
                return nil
            }
            if n.attrs[0] == 1 { return t }
            return Track(dims: t.dims.map { p in p - dims.filter { $0 < p }.count }, ids: t.ids)
        }
    }

    mutating func elementwise(_ index: Int, _ n: GraphNode, _ ins: [Track?]) -> Track? {
        let rank = n.shape.count
        var out: Track? = nil
        var aligned: [Track?] = []
        for (k, t) in ins.enumerated() {
            let s = shape(n.inputs[k])
            let off = rank - s.count
            guard let t else { aligned.append(nil); continue }
            let mapped = Track(dims: t.dims.map { $0 + off }, ids: t.ids)
            if t.dims.contains(where: { s[$0] != n.shape[$0 + off] }) {
                fix(t)  // a broadcast tracked dim
                aligned.append(nil)
                continue
            }
            aligned.append(mapped)
            if out == nil {
                out = mapped
            } else if let o = out, o.dims == mapped.dims, o.ids.count == mapped.ids.count {
                for (a, b) in zip(o.ids, mapped.ids) { union(a, b, at: index) }
            } else {
                fix(mapped)
                fix(out)
            }
        }
        guard let o = out else { return nil }
        // An input that is untracked where the output is tracked, without broadcasting there, keeps those channels.
        for (k, t) in aligned.enumerated() where t == nil || t?.dims != o.dims {
            let s = shape(n.inputs[k])
            let off = rank - s.count
            if o.dims.contains(where: { $0 - off >= 0 && s[$0 - off] > 1 }) { fix(o) }
        }
        return o
    }

    /// scaled_dot_product_attention: see `GraphOp.attention`.
    mutating func attention(_ index: Int, _ n: GraphNode, _ ins: [Track?]) -> Track? {
        if ins.count == 4 { fix(ins[3]) }
        let r = n.shape.count
        let hd = [r - 3, r - 1]
        let (q, k, v) = (shape(n.inputs[0]), shape(n.inputs[1]), shape(n.inputs[2]))
        let (hq, hk, e) = (q[r - 3], k[r - 3], q[r - 1])
        guard let tq = ins[0], let tk = ins[1], let tv = ins[2], tq.dims == hd, tk.dims == hd, tv.dims == hd,
              v[r - 1] == e, hk > 0, hq % hk == 0, tq.ids.count == hq * e, tk.ids.count == hk * e,
              tv.ids.count == hk * e else {
            for t in ins.prefix(3) { fix(t) }
            return nil
        }
        let per = hq / hk
        var out: [Int] = []
        out.reserveCapacity(hq * e)
        for h in 0..<hq {
            let g = h / per
            for d in 0..<e {
                let (qi, ki, vi) = (tq.ids[h * e + d], tk.ids[g * e + d], tv.ids[g * e + d])
                union(qi, ki, at: index)
                union(qi, vi, at: index)
                out.append(vi)
            }
        }
        // Heads are kept or removed whole; without a given scale the head dim is not cut either.
        rules.append(ShapeRule(sizes: [hq, e], whole: [false, n.attrs[1] == 0], ids: out))
        return Track(dims: hd, ids: out)
    }

    mutating func cat(_ index: Int, _ n: GraphNode, _ ins: [Track?]) throws(GraphError) -> Track? {
        let d = normalize(n.attrs[0], rank: n.shape.count) ?? -1
        if ins.contains(where: { $0?.dims == [d] }) {
            var ids: [Int] = []
            for (k, t) in ins.enumerated() {
                if let t, t.dims == [d] {
                    ids += t.ids
                } else {
                    fix(t)
                    ids += try fresh(shape(n.inputs[k])[d], fixed: true)
                }
            }
            return Track(dims: [d], ids: ids)
        }
        // Concatenation along an untracked dim: the inputs' channels are tied index by index.
        var out: Track? = nil
        for (k, t) in ins.enumerated() {
            guard let t else {
                if let o = out, o.dims.contains(where: { shape(n.inputs[k])[$0] > 1 }) { fix(o) }
                continue
            }
            if t.dims.contains(d) { fix(t); continue }
            if out == nil {
                out = t
            } else if let o = out, o.dims == t.dims, o.ids.count == t.ids.count {
                for (a, b) in zip(o.ids, t.ids) { union(a, b, at: index) }
            } else {
                fix(t)
                fix(out)
            }
        }
        if let o = out, ins.contains(where: { $0 == nil }) { fix(o) }
        return out
    }

    /// view / reshape: the dims are grouped into runs whose sizes multiply to the same value; the
    /// output dim of each run holding a tracked input dim becomes tracked, its ids read through the
    /// row-major order of the run. A run that splits a tracked dim or merges two fixes them.
    ///
    /// With `constant` flags (one per output dim) a run may also split one tracked dim into several
    /// output dims or merge several tracked dims: the output track covers every output dim of size
    /// > 1 of the tracked runs, and a shape rule keeps the kept channels a product (with the
    /// constant dims whole).
    mutating func reshape(_ t: Track?, from a: [Int], to b: [Int], constant: [Int] = []) throws(GraphError) -> Track? {
        guard let t else { return nil }
        let flexible = constant.count == b.count && !b.isEmpty
        if a == b {
            if flexible, t.dims.contains(where: { constant[$0] == 1 }) {
                rules.append(ShapeRule(sizes: t.dims.map { a[$0] }, whole: t.dims.map { constant[$0] == 1 }, ids: t.ids))
            }
            return t
        }
        var runs: [(ins: Range<Int>, outs: Range<Int>)] = []
        var i = 0, j = 0
        while i < a.count || j < b.count {
            let si = i, sj = j
            var pa = 1, pb = 1
            if i < a.count { pa = a[i]; i += 1 }
            if j < b.count { pb = b[j]; j += 1 }
            while pa != pb {
                if pa < pb, i < a.count {
                    pa = pa &* a[i]; i += 1
                } else if pb < pa, j < b.count {
                    pb = pb &* b[j]; j += 1
                } else {
                    fix(t)
                    return nil
                }
            }
            // Trailing size-1 dims join the run.
            while i < a.count, a[i] == 1, j == b.count || b[j] != 1 { i += 1 }
            while j < b.count, b[j] == 1, i == a.count || a[i] != 1 { j += 1 }
            runs.append((si..<i, sj..<j))
        }
        let trackedRuns = runs.filter { r in t.dims.contains(where: r.ins.contains) }
        // Removing channels commutes with the reshape only when each run holds one tracked dim and
        // gives one output dim (a merge with untracked dims, as flatten, or a move): splitting a
        // channel dim (the view of a channel shuffle) would regroup the kept channels differently.
        var outDims: [Int] = []
        for r in trackedRuns {
            let big = r.outs.filter { b[$0] != 1 }
            if flexible {
                guard let first = r.outs.first else { fix(t); return nil }
                outDims += big.isEmpty ? [first] : big
                continue
            }
            guard t.dims.filter(r.ins.contains).count == 1, big.count <= 1, let o = big.first ?? r.outs.first else {
                fix(t)
                return nil
            }
            outDims.append(o)
        }
        guard !outDims.isEmpty else {
            fix(t)
            return nil
        }
        let sizes = outDims.map { b[$0] }
        var total = 1
        for s in sizes {
            let (p, o) = total.multipliedReportingOverflow(by: s)
            guard !o, p <= ChannelGraph.maxTrackedElements else { fix(t); return nil }
            total = p
        }
        // Strides of the old layout (row-major over t.dims in their order).
        var oldStride = [Int](repeating: 1, count: t.dims.count)
        var acc = 1
        for k in stride(from: t.dims.count - 1, through: 0, by: -1) { oldStride[k] = acc; acc *= a[t.dims[k]] }
        var ids = [Int](repeating: 0, count: total)
        var coord = [Int](repeating: 0, count: a.count)
        var outCoord = [Int](repeating: 0, count: b.count)
        for flat in 0..<total {
            var rem = flat
            for k in stride(from: outDims.count - 1, through: 0, by: -1) {
                outCoord[outDims[k]] = rem % sizes[k]
                rem /= sizes[k]
            }
            for r in trackedRuns {
                var f = 0
                for o in r.outs { f = f * b[o] + outCoord[o] }
                for p in r.ins.reversed() { coord[p] = f % max(a[p], 1); f /= max(a[p], 1) }
            }
            var old = 0
            for (k, p) in t.dims.enumerated() { old += coord[p] * oldStride[k] }
            guard old >= 0, old < t.ids.count else { fix(t); return nil }
            ids[flat] = t.ids[old]
        }
        if flexible, outDims.count > 1 || outDims.contains(where: { constant[$0] == 1 }) {
            rules.append(ShapeRule(sizes: sizes, whole: outDims.map { constant[$0] == 1 }, ids: ids))
        }
        return Track(dims: outDims, ids: ids)
    }
}

func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? abs(a) : gcd(b, a % b) }
func lcm(_ a: Int, _ b: Int) -> Int { a == 0 || b == 0 ? 0 : abs(a / gcd(a, b) * b) }
