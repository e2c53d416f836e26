import Testing
import SwiftCompress
import SwiftCompressABI

/// The channel-dependency analysis on hand-built graphs; every expected value is worked out by
/// hand in the comments (channel k of a tensor is removed when every mask covering it prunes it).
@Suite struct ChannelGraphTests {
    /// x -> conv a (3->4) -> bn -> relu; x -> conv b (3->4); add(a', b) -> conv c (4->2) -> output.
    func residual() throws -> (ChannelGraph, a: Int, bn: Int, b: Int, add: Int, c: Int) {
        let g = ChannelGraph()
        let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 3, 8, 8], attrs: [])
        let a = try g.addNode(name: "a", op: .conv, inputs: [x], shape: [1, 4, 8, 8], attrs: [3, 4, 1, 0])
        let bn = try g.addNode(name: "bn", op: .norm, inputs: [a], shape: [1, 4, 8, 8], attrs: [1, 0])
        let r = try g.addNode(name: "relu", op: .pass, inputs: [bn], shape: [1, 4, 8, 8], attrs: [])
        let b = try g.addNode(name: "b", op: .conv, inputs: [x], shape: [1, 4, 8, 8], attrs: [3, 4, 1, 0])
        let add = try g.addNode(name: "add", op: .elementwise, inputs: [r, b], shape: [1, 4, 8, 8], attrs: [])
        let c = try g.addNode(name: "c", op: .conv, inputs: [add], shape: [1, 2, 8, 8], attrs: [4, 2, 1, 0])
        try g.addNode(name: "out", op: .output, inputs: [c], shape: [], attrs: [])
        return (g, a, bn, b, add, c)
    }

    @Test func residualAddTiesAndShrinks() throws {
        let (g, a, bn, b, add, c) = try residual()
        // a prunes {1, 3}, b prunes {1, 2}: only channel 1 is pruned by both votes.
        try g.setPruned(node: a, [false, true, false, true])
        try g.setPruned(node: b, [false, true, true, false])
        let r = try g.analyze()
        #expect(r.groups == [[a, b], [c]])
        #expect(r.groupOf[a] == 0 && r.groupOf[b] == 0 && r.groupOf[c] == 1 && r.groupOf[bn] == -1)
        #expect(r.tiedBy == [["add"], []])
        #expect(r.keptOutput[a] == [0, 2, 3] && r.keptOutput[b] == [0, 2, 3] && r.keptOutput[bn] == [0, 2, 3])
        #expect(r.keptInput[bn] == [0, 2, 3] && r.keptOutput[add] == [0, 2, 3])
        #expect(r.keptInput[c] == [0, 2, 3])
        // c's outputs reach the graph output: fixed, all kept; its input x is untracked.
        #expect(r.keptOutput[c] == [0, 1] && r.keptInput[a] == nil)
        #expect(r.shrunkAttrs[a] == [3, 3, 1, 0] && r.shrunkAttrs[c] == [3, 2, 1, 0])
        #expect(r.internalMetricBlock[a] == 1 && r.internalMetricBlock[bn] == 0)
    }

    @Test func untrackedAddendFixes() throws {
        // conv(x) + x: x is a graph input (untracked, not broadcast): nothing may be removed.
        let g = ChannelGraph()
        let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 4, 2, 2], attrs: [])
        let a = try g.addNode(name: "a", op: .conv, inputs: [x], shape: [1, 4, 2, 2], attrs: [4, 4, 1, 0])
        let s = try g.addNode(name: "add", op: .elementwise, inputs: [a, x], shape: [1, 4, 2, 2], attrs: [])
        let d = try g.addNode(name: "d", op: .conv, inputs: [s], shape: [1, 1, 2, 2], attrs: [4, 1, 1, 0])
        try g.addNode(name: "out", op: .output, inputs: [d], shape: [], attrs: [])
        try g.setPruned(node: a, [true, true, false, false])
        let r = try g.analyze()
        #expect(r.keptOutput[a] == [0, 1, 2, 3] && r.keptInput[d] == [0, 1, 2, 3])
    }

    @Test func catOffsetsAndSplit() throws {
        // cat(a: 2 ch, b: 3 ch) on dim 1 -> split [1, 4] -> item 1 (4 ch) -> conv c.
        let g = ChannelGraph()
        let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 1, 4, 4], attrs: [])
        let a = try g.addNode(name: "a", op: .conv, inputs: [x], shape: [1, 2, 4, 4], attrs: [1, 2, 1, 0])
        let b = try g.addNode(name: "b", op: .conv, inputs: [x], shape: [1, 3, 4, 4], attrs: [1, 3, 1, 0])
        let cat = try g.addNode(name: "cat", op: .cat, inputs: [a, b], shape: [1, 5, 4, 4], attrs: [1])
        let s0 = try g.addNode(name: "s0", op: .split, inputs: [cat], shape: [1, 1, 4, 4], attrs: [1, 0, 1, 4])
        let s1 = try g.addNode(name: "s1", op: .split, inputs: [cat], shape: [1, 4, 4, 4], attrs: [1, -1, 1, 4])
        let c = try g.addNode(name: "c", op: .conv, inputs: [s1], shape: [1, 2, 4, 4], attrs: [4, 2, 1, 0])
        try g.addNode(name: "out", op: .output, inputs: [c, s0], shape: [], attrs: [])
        // a prunes its channel 1 (cat 1), b prunes its channel 0 (cat 2) and 2 (cat 4).
        try g.setPruned(node: a, [false, true])
        try g.setPruned(node: b, [true, false, true])
        let r = try g.analyze()
        #expect(r.groups == [[a], [b], [c]])  // cat on the channel dim ties nothing
        #expect(r.keptOutput[cat] == [0, 3])
        // s1 holds cat channels 1..4 = [a1, b0, b1, b2]: a1, b0, b2 removed -> index 2 (b1) kept.
        #expect(r.keptOutput[s1] == [2] && r.keptInput[c] == [2])
        #expect(r.keptOutput[s0] == [0] && r.shrunkAttrs[c] == [1, 2, 1, 0])
    }

    @Test func depthwiseAndGroupedConvs() throws {
        // a (2->4) -> depthwise dw (4->4, groups 4) -> grouped gc (4->4, groups 2) -> output.
        let g = ChannelGraph()
        let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 2, 4, 4], attrs: [])
        let a = try g.addNode(name: "a", op: .conv, inputs: [x], shape: [1, 4, 4, 4], attrs: [2, 4, 1, 0])
        let dw = try g.addNode(name: "dw", op: .conv, inputs: [a], shape: [1, 4, 4, 4], attrs: [4, 4, 4, 0])
        let p = try g.addNode(name: "p", op: .conv, inputs: [dw], shape: [1, 4, 4, 4], attrs: [4, 4, 1, 0])
        let gc = try g.addNode(name: "gc", op: .conv, inputs: [p], shape: [1, 4, 4, 4], attrs: [4, 4, 2, 0])
        try g.addNode(name: "out", op: .output, inputs: [gc], shape: [], attrs: [])
        try g.setPruned(node: a, [true, false, false, true])
        try g.setPruned(node: dw, [true, false, true, true])  // dw keeps 1: only 0 and 3 are pruned by both
        try g.setPruned(node: p, [true, true, false, false])  // feeds a grouped conv: fixed
        let r = try g.analyze()
        #expect(r.groups == [[a, dw], [p], [gc]] && r.tiedBy[0] == ["dw"])
        #expect(r.keptOutput[a] == [1, 2] && r.keptOutput[dw] == [1, 2] && r.keptInput[dw] == [1, 2])
        #expect(r.shrunkAttrs[dw] == [2, 2, 2, 0])
        #expect(r.keptOutput[p] == [0, 1, 2, 3] && r.keptInput[p] == [1, 2])
        // NNI's blocks: every conv its own groups (depthwise: 1); gc's 2 goes to its parent p.
        #expect(r.internalMetricBlock[a] == 1 && r.internalMetricBlock[dw] == 1)
        #expect(r.internalMetricBlock[p] == 2 && r.internalMetricBlock[gc] == 2)
    }

    @Test func flattenIntoLinear() throws {
        // conv (1->3) [1, 3, 2, 2] -> flatten [1, 12] -> linear 12->5 -> output.
        let g = ChannelGraph()
        let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 1, 2, 2], attrs: [])
        let a = try g.addNode(name: "a", op: .conv, inputs: [x], shape: [1, 3, 2, 2], attrs: [1, 3, 1, 0])
        let f = try g.addNode(name: "flat", op: .reshape, inputs: [a], shape: [1, 12], attrs: [])
        let l = try g.addNode(name: "fc", op: .linear, inputs: [f], shape: [1, 5], attrs: [12, 5])
        try g.addNode(name: "out", op: .output, inputs: [l], shape: [], attrs: [])
        try g.setPruned(node: a, [false, true, false])
        let r = try g.analyze()
        // channel 1 covers flattened features 4..7.
        #expect(r.keptOutput[f] == [0, 1, 2, 3, 8, 9, 10, 11] && r.keptInput[l] == [0, 1, 2, 3, 8, 9, 10, 11])
        #expect(r.shrunkAttrs[l] == [8, 5])
    }

    @Test func channelShuffleAndLayerNorm() throws {
        // a (2->4) -> view [1, 2, 2, 1, 1] -> transpose(1, 2) -> view [1, 4, 1, 1] -> conv c.
        let g = ChannelGraph()
        let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 2, 1, 1], attrs: [])
        let a = try g.addNode(name: "a", op: .conv, inputs: [x], shape: [1, 4, 1, 1], attrs: [2, 4, 1, 0])
        let v = try g.addNode(name: "v", op: .reshape, inputs: [a], shape: [1, 2, 2, 1, 1], attrs: [])
        let t = try g.addNode(name: "t", op: .transpose, inputs: [v], shape: [1, 2, 2, 1, 1], attrs: [1, 2])
        let w = try g.addNode(name: "w", op: .reshape, inputs: [t], shape: [1, 4, 1, 1], attrs: [])
        let c = try g.addNode(name: "c", op: .conv, inputs: [w], shape: [1, 3, 1, 1], attrs: [4, 3, 1, 0])
        // c's output through a LayerNorm over dim 1: statistics over the channels fix them.
        let ln = try g.addNode(name: "ln", op: .norm, inputs: [c], shape: [1, 3, 1, 1], attrs: [1, -1])
        try g.addNode(name: "out", op: .output, inputs: [ln], shape: [], attrs: [])
        try g.setPruned(node: a, [false, true, false, false])
        try g.setPruned(node: c, [true, false, false])
        let r = try g.analyze()
        // The view splits a's channel dim in two (a channel shuffle): removing a1 would regroup the
        // kept channels differently, so a's channels are fixed; c's are fixed by the LayerNorm.
        #expect(r.keptOutput[a] == [0, 1, 2, 3] && r.keptOutput[w] == nil && r.keptInput[c] == nil)
        #expect(r.keptOutput[c] == [0, 1, 2])
        // A flatten after a transpose is still a merge of one tracked dim: [1, 2, 3] -> [1, 3, 2] -> [1, 6].
        let h = ChannelGraph()
        let hx = try h.addNode(name: "x", op: .input, inputs: [], shape: [1, 1, 3], attrs: [])
        let hl = try h.addNode(name: "l", op: .linear, inputs: [hx], shape: [1, 1, 2], attrs: [3, 2])
        let hr = try h.addNode(name: "r", op: .reshape, inputs: [hl], shape: [1, 2], attrs: [])
        let ht = try h.addNode(name: "t", op: .transpose, inputs: [hr], shape: [2, 1], attrs: [0, 1])
        try h.addNode(name: "out", op: .output, inputs: [ht], shape: [], attrs: [])
        try h.setPruned(node: hl, [true, false])
        let q = try h.analyze()
        #expect(q.keptOutput[hr] == [0, 1] && q.keptOutput[ht] == [0, 1])
    }

    /// x [1, 4, 8] -> q (8->8: 4 heads of 2), k and v (8->4: 2 heads of 2), each viewed [1, 4, -1, 2]
    /// (flags [0, 0, 0, 1]: heads computed, head dim constant) and transposed to [1, H, 4, 2];
    /// attention with enable_gqa (query heads 2h, 2h + 1 read key / value head h) -> transpose ->
    /// reshape [1, 4, 8] -> o (8->8) -> output. `flags: false` gives the views no flags.
    func attentionGraph(flags: Bool = true) throws -> (ChannelGraph, q: Int, k: Int, v: Int, attn: Int, o: Int) {
        let g = ChannelGraph()
        let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 4, 8], attrs: [])
        func heads(_ name: String, _ out: Int) throws -> (Int, Int) {
            let p = try g.addNode(name: name, op: .linear, inputs: [x], shape: [1, 4, out], attrs: [8, out])
            let v = try g.addNode(name: name + "_view", op: .reshape, inputs: [p], shape: [1, 4, out / 2, 2], attrs: flags ? [0, 0, 0, 1] : [])
            let t = try g.addNode(name: name + "_t", op: .transpose, inputs: [v], shape: [1, out / 2, 4, 2], attrs: [1, 2])
            return (p, t)
        }
        let (q, qt) = try heads("q", 8), (k, kt) = try heads("k", 4), (v, vt) = try heads("v", 4)
        let a = try g.addNode(name: "sdpa", op: .attention, inputs: [qt, kt, vt], shape: [1, 4, 4, 2], attrs: [1, 0])
        let t = try g.addNode(name: "a_t", op: .transpose, inputs: [a], shape: [1, 4, 4, 2], attrs: [1, 2])
        let m = try g.addNode(name: "merge", op: .reshape, inputs: [t], shape: [1, 4, 8], attrs: flags ? [0, 0, 0] : [])
        let o = try g.addNode(name: "o", op: .linear, inputs: [m], shape: [1, 4, 8], attrs: [8, 8])
        try g.addNode(name: "out", op: .output, inputs: [o], shape: [], attrs: [])
        return (g, q, k, v, a, o)
    }

    @Test func attentionRemovesWholeKeyValueGroups() throws {
        // q prunes heads 2 and 3 (rows 4..7), k and v prune head 1 (rows 2, 3): key / value head 1
        // with its query heads 2 and 3 goes; o reads the attention output's features 0..3.
        let (g, q, k, v, a, o) = try attentionGraph()
        try g.setPruned(node: q, [false, false, false, false, true, true, true, true])
        try g.setPruned(node: k, [false, false, true, true])
        try g.setPruned(node: v, [false, false, true, true])
        let r = try g.analyze()
        #expect(r.keptOutput[q] == [0, 1, 2, 3] && r.keptOutput[k] == [0, 1] && r.keptOutput[v] == [0, 1])
        #expect(r.keptInput[o] == [0, 1, 2, 3] && r.shrunkAttrs[o] == [4, 8])
        #expect(r.shrunkAttrs[a] == [1, 0, 4, 2, 2, 1] && r.shrunkAttrs[q] == [8, 4])
        // Query heads 2h, 2h + 1 and key / value head h are tied element by element: k and v (same
        // width, tied index by index) are one group, q (twice as wide) another, both by the attention.
        #expect(r.groups == [[q], [k, v], [o]] && r.tiedBy[0] == ["sdpa"] && r.tiedBy[1] == ["sdpa"])

        // Query head 3 alone: head 2 (same key / value head) votes kept, so nothing goes.
        let (g2, q2, k2, v2, _, o2) = try attentionGraph()
        try g2.setPruned(node: q2, [false, false, false, false, false, false, true, true])
        try g2.setPruned(node: k2, [false, false, true, true])
        try g2.setPruned(node: v2, [false, false, true, true])
        let r2 = try g2.analyze()
        #expect(r2.keptOutput[q2] == Array(0..<8) && r2.keptInput[o2] == Array(0..<8))

        // Head dim 0 of group 1 pruned everywhere (q rows 4, 6; k, v row 2), dim 1 kept: the head
        // dim is not cut (no scale given), so nothing goes.
        let (g3, q3, k3, v3, a3, _) = try attentionGraph()
        try g3.setPruned(node: q3, [false, false, false, false, true, false, true, false])
        try g3.setPruned(node: k3, [false, false, true, false])
        try g3.setPruned(node: v3, [false, false, true, false])
        let r3 = try g3.analyze()
        #expect(r3.keptOutput[q3] == Array(0..<8) && r3.keptOutput[v3] == [0, 1, 2, 3] && r3.shrunkAttrs[a3] == [1, 0, 4, 2, 4, 2])

        // Every head pruned everywhere: a view of 0 elements with a -1 would fail, so all stay.
        let (g5, q5, k5, v5, _, _) = try attentionGraph()
        try g5.setPruned(node: q5, [Bool](repeating: true, count: 8))
        try g5.setPruned(node: k5, [Bool](repeating: true, count: 4))
        try g5.setPruned(node: v5, [Bool](repeating: true, count: 4))
        #expect(try g5.analyze().keptOutput[q5] == Array(0..<8))

        // Without view flags the split of q's features into heads keeps every channel.
        let (g4, q4, k4, v4, _, o4) = try attentionGraph(flags: false)
        try g4.setPruned(node: q4, [false, false, false, false, true, true, true, true])
        try g4.setPruned(node: k4, [false, false, true, true])
        try g4.setPruned(node: v4, [false, false, true, true])
        let r4 = try g4.analyze()
        #expect(r4.keptOutput[q4] == Array(0..<8) && r4.keptInput[o4] == nil)
    }

    @Test func constantViewSizesKeepTheirDims() throws {
        // a (1->6) [1, 6, 1] -> view [1, 2, 3] with flags [0, 1, 0] (2 a constant) -> output;
        // a prunes 0, 1, 2 (the first of the two rows of 3): dim 1 of the view is constant, so
        // nothing goes. With flags [0, 0, 0] row 0 goes.
        for (flags, kept) in [([0, 1, 0], Array(0..<6)), ([0, 0, 0], [3, 4, 5])] {
            let g = ChannelGraph()
            let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 1, 1], attrs: [])
            let a = try g.addNode(name: "a", op: .conv, inputs: [x], shape: [1, 6, 1], attrs: [1, 6, 1, 0])
            let w = try g.addNode(name: "w", op: .reshape, inputs: [a], shape: [1, 2, 3], attrs: flags)
            let f = try g.addNode(name: "f", op: .reshape, inputs: [w], shape: [1, 6], attrs: [0, 0])
            let l = try g.addNode(name: "l", op: .linear, inputs: [f], shape: [1, 1], attrs: [6, 1])
            try g.addNode(name: "out", op: .output, inputs: [l], shape: [], attrs: [])
            try g.setPruned(node: a, [true, true, true, false, false, false])
            let r = try g.analyze()
            // A channel of a is a (row, column) of the view; the kept ones stay a product of rows
            // and columns, with all rows once the row count is constant.
            #expect(r.keptOutput[a] == kept && r.keptInput[l] == kept)
        }
        let g = ChannelGraph()
        let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 6], attrs: [])
        #expect(throws: GraphError("node 1 'r' (reshape): attributes [0, 2]; expected none or one flag (0 computed, 1 constant) per output dim (2)")) {
            try g.addNode(name: "r", op: .reshape, inputs: [x], shape: [2, 3], attrs: [0, 2])
        }
        #expect(throws: GraphError.self) {
            try g.addNode(name: "s", op: .attention, inputs: [x, x, x], shape: [1, 6], attrs: [0, 0])
        }
    }

    @Test func chunkItemsKeepEqualSizes() throws {
        // a (1->4) -> chunk(2) on dim 1: item 0 = a0, a1; item 1 = a2, a3 -> b and c read them.
        // a prunes 1 and 3 (the same index in both chunks): both go, each chunk keeps 1 channel.
        // a prunes 1 only: chunk 1 would keep 2 and chunk 0 one, so a1 stays too.
        for (pruned, kept) in [([false, true, false, true], [0, 2]), ([false, true, false, false], [0, 1, 2, 3])] {
            let g = ChannelGraph()
            let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 1, 2, 2], attrs: [])
            let a = try g.addNode(name: "a", op: .conv, inputs: [x], shape: [1, 4, 2, 2], attrs: [1, 4, 1, 0])
            let c0 = try g.addNode(name: "c0", op: .chunk, inputs: [a], shape: [1, 2, 2, 2], attrs: [1, 0, 2])
            let c1 = try g.addNode(name: "c1", op: .chunk, inputs: [a], shape: [1, 2, 2, 2], attrs: [1, 1, 2])
            let b = try g.addNode(name: "b", op: .conv, inputs: [c0], shape: [1, 1, 2, 2], attrs: [2, 1, 1, 0])
            let c = try g.addNode(name: "c", op: .conv, inputs: [c1], shape: [1, 1, 2, 2], attrs: [2, 1, 1, 0])
            try g.addNode(name: "out", op: .output, inputs: [b, c], shape: [], attrs: [])
            try g.setPruned(node: a, pruned)
            let r = try g.analyze()
            #expect(r.keptOutput[a] == kept)
            #expect(r.keptInput[b]?.count == kept.count / 2 && r.keptInput[c]?.count == kept.count / 2)
        }
        // chunk(2) of 3 channels gives 2 + 1; an index past the items is an error.
        let g = ChannelGraph()
        let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 3], attrs: [])
        try g.addNode(name: "c1", op: .chunk, inputs: [x], shape: [1, 1], attrs: [1, 1, 2])
        #expect(throws: GraphError.self) { try g.addNode(name: "c2", op: .chunk, inputs: [x], shape: [1, 1], attrs: [1, 2, 2]) }
    }

    @Test func badInputIsAnError() throws {
        let g = ChannelGraph()
        let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 3, 4, 4], attrs: [])
        #expect(throws: GraphError("node 1 'c' (conv): input shape [1, 3, 4, 4]; expected dim 1 of size in_channels 4")) {
            try g.addNode(name: "c", op: .conv, inputs: [x], shape: [1, 4, 4, 4], attrs: [4, 4, 1, 0])
        }
        #expect(throws: GraphError.self) { try g.addNode(name: "c", op: .conv, inputs: [7], shape: [1], attrs: [1, 1, 1, 0]) }
        #expect(throws: GraphError.self) { try g.addNode(name: "s", op: .split, inputs: [x], shape: [1, 2, 4, 4], attrs: [1, 5, 1, 2]) }
        #expect(throws: GraphError.self) { try g.addNode(name: "r", op: .reshape, inputs: [x], shape: [1, 5], attrs: []) }
        #expect(throws: GraphError.self) { try g.addNode(name: "p", op: .permute, inputs: [x], shape: [1, 3, 4, 4], attrs: [0, 0, 1, 2]) }
        #expect(throws: GraphError.self) { try g.setPruned(node: 0, [true]) }
        #expect(throws: GraphError.self) { try g.addNode(name: "n", op: .norm, inputs: [x], shape: [1, 3, 4, 4], attrs: [9, 0]) }
    }

    @Test func costsAsNNI() throws {
        // conv 3->8 k3x3 bias on a [1, 8, 6, 6] output: flops 8*36*9*3 = 7776, params 8*3*9 + 8 = 224;
        // linear 288->10 with bias: flops 2880, params 2890.
        let g = ChannelGraph()
        let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 3, 8, 8], attrs: [])
        let c = try g.addNode(name: "c", op: .conv, inputs: [x], shape: [1, 8, 6, 6], attrs: [3, 8, 1, 0, 1, 3, 3])
        let f = try g.addNode(name: "f", op: .reshape, inputs: [c], shape: [1, 288], attrs: [])
        try g.addNode(name: "fc", op: .linear, inputs: [f], shape: [1, 10], attrs: [288, 10, 1])
        let cost = g.cost()
        #expect(cost.flops == [0, 7776, 0, 2880] && cost.params == [0, 224, 0, 2890])
        #expect(cost.totalFlops == 10656 && cost.totalParams == 3114)
    }

    @Test func masksFromTensors() throws {
        // A linear 3->2 weight mask [[1,1,1],[0,0,0]] with bias mask [1, 0]: output 1 pruned.
        let g = ChannelGraph()
        let x = try g.addNode(name: "x", op: .input, inputs: [], shape: [1, 3], attrs: [])
        let l = try g.addNode(name: "l", op: .linear, inputs: [x], shape: [1, 2], attrs: [3, 2])
        var w: [Float] = [1, 1, 1, 0, 0, 0]
        var b: [Float] = [1, 0]
        try w.withUnsafeMutableBytes { wp in
            try b.withUnsafeMutableBytes { bp in
                let wv = try TensorView(UnsafeRawPointer(wp.baseAddress), shape: [2, 3], dtype: .float32)
                let bv = try TensorView(UnsafeRawPointer(bp.baseAddress), shape: [2], dtype: .float32)
                try g.setMask(node: l, weight: wv, bias: bv)
            }
        }
        #expect(g.pruned[l] == [false, true])
    }

    @Test func cABIBuildsTheSameDescription() throws {
        var g: OpaquePointer? = nil
        #expect(sc_graph_create(&g) == 0)
        defer { sc_graph_free(g) }
        var ix = 0, ia = 0, ib = 0, iadd = 0, ic = 0, iout = 0
        var s0: [Int64] = [1, 2, 2, 2], s1: [Int64] = [1, 3, 2, 2], s2: [Int64] = [1, 1, 2, 2]
        var conv23: [Int64] = [2, 3, 1, 0], conv31: [Int64] = [3, 1, 1, 0]
        #expect(sc_graph_add_node(g, "x", 0, nil, 0, &s0, 4, nil, 0, &ix) == 0)
        var inX = [ix]
        #expect(sc_graph_add_node(g, "a", 1, &inX, 1, &s1, 4, &conv23, 4, &ia) == 0)
        #expect(sc_graph_add_node(g, "b", 1, &inX, 1, &s1, 4, &conv23, 4, &ib) == 0)
        var ab = [ia, ib]
        #expect(sc_graph_add_node(g, "add", 5, &ab, 2, &s1, 4, nil, 0, &iadd) == 0)
        var inAdd = [iadd]
        #expect(sc_graph_add_node(g, "c", 1, &inAdd, 1, &s2, 4, &conv31, 4, &ic) == 0)
        var inC = [ic]
        #expect(sc_graph_add_node(g, "out", 14, &inC, 1, nil, 0, nil, 0, &iout) == 0)
        // masks: a and b both prune output 2 (weight [3, 2, 1, 1], rows of 2 values).
        var wm: [Float] = [1, 1, 1, 1, 0, 0]
        var shape: [Int64] = [3, 2, 1, 1]
        try wm.withUnsafeMutableBytes { p in
            try shape.withUnsafeBufferPointer { sp in
                var t = sc_tensor(data: p.baseAddress, dtype: 0, ndim: 4, shape: sp.baseAddress, strides: nil)
                #expect(sc_graph_set_mask(g, ia, &t, nil) == 0)
                #expect(sc_graph_set_mask(g, ib, &t, nil) == 0)
                #expect(sc_graph_set_mask(g, ix, &t, nil) == Int32(SC_ERROR_SHAPE))
            }
        }
        var groups = 0
        #expect(sc_graph_dependency_groups(g, &groups) == 0 && groups == 2)
        var members = [Int](repeating: 0, count: 2), count = 0
        #expect(sc_graph_group_members(g, 0, &members, 2, &count) == 0 && count == 2 && members == [ia, ib])
        var kept = [Int64](repeating: 0, count: 3), n: Int64 = 0
        #expect(sc_graph_shrink_plan(g, ic, 1, &kept, 3, &n) == 0 && n == 2 && Array(kept[0..<2]) == [0, 1])
        #expect(sc_graph_shrink_plan(g, ia, 1, &kept, 3, &n) == 0 && n == -1)
        #expect(sc_graph_shrink_plan(g, ia, 0, &kept, 1, &n) == Int32(SC_ERROR_INVALID_ARGUMENT))
        var group: Int64 = 0, block: Int64 = 0
        #expect(sc_graph_node_group(g, ic, &group, &block) == 0 && group == 1 && block == 1)
        var bad: Int = 99
        #expect(sc_graph_add_node(g, "bad", 1, &bad, 1, &s1, 4, &conv23, 4, nil) == Int32(SC_ERROR_INVALID_ARGUMENT))
        #expect(sc_graph_add_node(nil, "x", 0, nil, 0, nil, 0, nil, 0, nil) == Int32(SC_ERROR_NULL_POINTER))
    }
}
