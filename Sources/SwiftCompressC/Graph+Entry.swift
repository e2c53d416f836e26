import SwiftCompress
import SwiftCompressABI
import Synchronization

// The graph-analysis entry points of include/swiftcompress.h (section "Graph analysis: dependency
// groups and shrink plans"); see the header for the contracts. Errors go to sc_last_error() of the
// calling thread.

/// What `sc_graph *` points at: the core graph, its cached analysis and the last JSON returned.
final class GraphHandle {
    let graph = ChannelGraph()
    var analysis: GraphAnalysis?
    var output: CString?

    func analyzed() throws(CallError) -> GraphAnalysis {
        if let analysis { return analysis }
        do throws(GraphError) {
            let a = try graph.analyze()
            analysis = a
            return a
        } catch {
            throw CallError(.invalidArgument, error.message)
        }
    }

    func node(_ index: Int) throws(CallError) -> GraphNode {
        guard index >= 0, index < graph.nodes.count else {
            throw CallError(.invalidArgument, "node \(index) is out of range 0..<\(graph.nodes.count)")
        }
        return graph.nodes[index]
    }
}

/// The live graphs, so that a stale or foreign pointer gives an error instead of a crash.
enum GraphRegistry {
    private static let live = Mutex<Set<UInt>>([])

    static func register(_ g: GraphHandle) -> OpaquePointer {
        let p = Unmanaged.passRetained(g).toOpaque()
        _ = live.withLock { $0.insert(UInt(bitPattern: p)) }
        return OpaquePointer(p)
    }

    static func lookup(_ p: OpaquePointer) -> GraphHandle? {
        let isLive = live.withLock { $0.contains(UInt(bitPattern: UnsafeRawPointer(p))) }
        guard isLive else { return nil }
        return Unmanaged<GraphHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }

    static func release(_ p: OpaquePointer) {
        let wasLive = live.withLock { $0.remove(UInt(bitPattern: UnsafeRawPointer(p))) != nil }
        if wasLive { Unmanaged<GraphHandle>.fromOpaque(UnsafeRawPointer(p)).release() }
    }
}

func graphCall(_ handle: OpaquePointer?, _ body: (GraphHandle) throws(CallError) -> Void) -> Int32 {
    threadCall { () throws(CallError) in
        guard let handle else { throw CallError(.nullPointer, "graph is NULL") }
        guard let g = GraphRegistry.lookup(handle) else {
            throw CallError(.invalidArgument, "graph \(handle) is not a live graph (freed, or not created by sc_graph_create)")
        }
        try body(g)
    }
}

/// Reads `count` values of a C array (NULL allowed only for count 0).
func cArray<T>(_ p: UnsafePointer<T>?, _ count: Int, _ what: String) throws(CallError) -> [T] {
    guard count >= 0, count <= ChannelGraph.maxNodes else { throw CallError(.invalidArgument, "\(what): count \(count) is out of range 0...\(ChannelGraph.maxNodes)") }
    if count == 0 { return [] }
    guard let p else { throw CallError(.nullPointer, "\(what) is NULL but its count is \(count)") }
    return Array(UnsafeBufferPointer(start: p, count: count))
}

/// `int sc_graph_create(sc_graph **out)`.
@_cdecl("sc_graph_create")
public func sc_graph_create(_ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    threadCall { () throws(CallError) in
        guard let out else { throw CallError(.nullPointer, "out is NULL") }
        out.pointee = GraphRegistry.register(GraphHandle())
    }
}

/// `void sc_graph_free(sc_graph *graph)`.
@_cdecl("sc_graph_free")
public func sc_graph_free(_ graph: OpaquePointer?) {
    guard let graph else { return }
    GraphRegistry.release(graph)
}

/// `int sc_graph_add_node(sc_graph *, const char *name, int op, const size_t *inputs, size_t input_count,
///                        const int64_t *shape, size_t ndim, const int64_t *attrs, size_t attr_count, size_t *index)`.
@_cdecl("sc_graph_add_node")
public func sc_graph_add_node(_ graph: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ op: Int32,
                              _ inputs: UnsafePointer<Int>?, _ inputCount: Int,
                              _ shape: UnsafePointer<Int64>?, _ ndim: Int,
                              _ attrs: UnsafePointer<Int64>?, _ attrCount: Int,
                              _ index: UnsafeMutablePointer<Int>?) -> Int32 {
    graphCall(graph) { (g) throws(CallError) in
        let n = try string(name, "name")
        guard let kind = GraphOp(rawValue: Int(op)) else {
            throw CallError(.invalidArgument, "\(quoted(n)): op is \(op); expected an SC_GRAPH_OP_* value 0...\(GraphOp.allCases.count - 1)")
        }
        let ins = try cArray(inputs, inputCount, "\(quoted(n)): inputs")
        let dims = try cArray(shape, ndim, "\(quoted(n)): shape").map { Int($0) }
        let at = try cArray(attrs, attrCount, "\(quoted(n)): attrs").map { Int($0) }
        do throws(GraphError) {
            let i = try g.graph.addNode(name: n, op: kind, inputs: ins, shape: dims, attrs: at)
            g.analysis = nil
            index?.pointee = i
        } catch {
            throw CallError(.invalidArgument, error.message)
        }
    }
}

/// `int sc_graph_set_mask(sc_graph *, size_t node, const sc_tensor *weight_mask, const sc_tensor *bias_mask)`.
@_cdecl("sc_graph_set_mask")
public func sc_graph_set_mask(_ graph: OpaquePointer?, _ node: Int, _ weightMask: UnsafePointer<sc_tensor>?,
                              _ biasMask: UnsafePointer<sc_tensor>?) -> Int32 {
    graphCall(graph) { (g) throws(CallError) in
        let n = try g.node(node)
        let w = try tensorView(weightMask, "\(quoted(n.name)): weight_mask", writable: false).readOnly
        let b = try optionalTensorView(biasMask, "\(quoted(n.name)): bias_mask", writable: false)?.readOnly
        do throws(GraphError) {
            try g.graph.setMask(node: node, weight: w, bias: b)
            g.analysis = nil
        } catch {
            throw CallError(.shape, error.message)
        }
    }
}

/// `int sc_graph_dependency_groups(sc_graph *, size_t *group_count)`.
@_cdecl("sc_graph_dependency_groups")
public func sc_graph_dependency_groups(_ graph: OpaquePointer?, _ groupCount: UnsafeMutablePointer<Int>?) -> Int32 {
    graphCall(graph) { (g) throws(CallError) in
        guard let groupCount else { throw CallError(.nullPointer, "group_count is NULL") }
        groupCount.pointee = try g.analyzed().groups.count
    }
}

/// `int sc_graph_group_members(sc_graph *, size_t group, size_t *members, size_t capacity, size_t *count)`.
@_cdecl("sc_graph_group_members")
public func sc_graph_group_members(_ graph: OpaquePointer?, _ group: Int, _ members: UnsafeMutablePointer<Int>?,
                                   _ capacity: Int, _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    graphCall(graph) { (g) throws(CallError) in
        guard let count else { throw CallError(.nullPointer, "count is NULL") }
        let a = try g.analyzed()
        guard group >= 0, group < a.groups.count else { throw CallError(.invalidArgument, "group \(group) is out of range 0..<\(a.groups.count)") }
        let m = a.groups[group]
        count.pointee = m.count
        try fill(m, members, capacity, "members")
    }
}

/// `int sc_graph_node_group(sc_graph *, size_t node, int64_t *group, int64_t *internal_metric_block)`.
@_cdecl("sc_graph_node_group")
public func sc_graph_node_group(_ graph: OpaquePointer?, _ node: Int, _ group: UnsafeMutablePointer<Int64>?,
                                _ block: UnsafeMutablePointer<Int64>?) -> Int32 {
    graphCall(graph) { (g) throws(CallError) in
        _ = try g.node(node)
        let a = try g.analyzed()
        group?.pointee = Int64(a.groupOf[node])
        block?.pointee = Int64(a.internalMetricBlock[node])
    }
}

/// `int sc_graph_shrink_plan(sc_graph *, size_t node, int which, int64_t *indices, size_t capacity, int64_t *count)`.
@_cdecl("sc_graph_shrink_plan")
public func sc_graph_shrink_plan(_ graph: OpaquePointer?, _ node: Int, _ which: Int32, _ indices: UnsafeMutablePointer<Int64>?,
                                 _ capacity: Int, _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    graphCall(graph) { (g) throws(CallError) in
        guard let count else { throw CallError(.nullPointer, "count is NULL") }
        _ = try g.node(node)
        let a = try g.analyzed()
        let kept: [Int]?
        switch which {
        case 0: kept = a.keptOutput[node]
        case 1: kept = a.keptInput[node]
        default: throw CallError(.invalidArgument, "which is \(which); expected SC_GRAPH_OUTPUT (0) or SC_GRAPH_INPUT (1)")
        }
        guard let kept else { count.pointee = -1; return }
        count.pointee = Int64(kept.count)
        try fill(kept.map { Int64($0) }, indices, capacity, "indices")
    }
}

/// `int sc_graph_shrunk_attrs(sc_graph *, size_t node, int64_t *attrs, size_t capacity, size_t *count)`.
@_cdecl("sc_graph_shrunk_attrs")
public func sc_graph_shrunk_attrs(_ graph: OpaquePointer?, _ node: Int, _ attrs: UnsafeMutablePointer<Int64>?,
                                  _ capacity: Int, _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    graphCall(graph) { (g) throws(CallError) in
        guard let count else { throw CallError(.nullPointer, "count is NULL") }
        _ = try g.node(node)
        let s = try g.analyzed().shrunkAttrs[node]
        count.pointee = s.count
        try fill(s.map { Int64($0) }, attrs, capacity, "attrs")
    }
}

/// `int sc_graph_report(sc_graph *, const char **json, size_t *length)`.
@_cdecl("sc_graph_report")
public func sc_graph_report(_ graph: OpaquePointer?, _ json: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                            _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    graphCall(graph) { (g) throws(CallError) in
        guard let json else { throw CallError(.nullPointer, "json is NULL") }
        let c = CString(try g.analyzed().reportJSON(graph: g.graph))
        g.output = c
        json.pointee = c.constPointer
        length?.pointee = c.byteCount
    }
}

/// `int sc_graph_config_list(sc_graph *, const char *config_list, const char *report_configs, const char **json, size_t *length)`.
@_cdecl("sc_graph_config_list")
public func sc_graph_config_list(_ graph: OpaquePointer?, _ configList: UnsafePointer<CChar>?, _ reportConfigs: UnsafePointer<CChar>?,
                                 _ json: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ length: UnsafeMutablePointer<Int>?) -> Int32 {
    graphCall(graph) { (g) throws(CallError) in
        guard let json else { throw CallError(.nullPointer, "json is NULL") }
        let c = try string(configList, "config_list"), r = try string(reportConfigs, "report_configs")
        let a = try g.analyzed()
        do throws(GraphError) {
            let out = CString(try a.dependencyConfigList(graph: g.graph, configList: c, reportConfigs: r))
            g.output = out
            json.pointee = out.constPointer
            length?.pointee = out.byteCount
        } catch {
            throw CallError(.invalidJSON, error.message)
        }
    }
}

/// Copies `values` into a caller buffer of `capacity` elements (NULL with capacity 0: count only).
private func fill<T>(_ values: [T], _ buffer: UnsafeMutablePointer<T>?, _ capacity: Int, _ what: String) throws(CallError) {
    guard let buffer else {
        if capacity == 0 { return }
        throw CallError(.nullPointer, "\(what) is NULL but capacity is \(capacity)")
    }
    guard capacity >= values.count else {
        throw CallError(.invalidArgument, "\(what): capacity \(capacity) is below the \(values.count) values; call with capacity 0 for the count first")
    }
    for (i, v) in values.enumerated() { buffer[i] = v }
}

/// `int sc_graph_cost(sc_graph *, int64_t *node_flops, int64_t *node_params, size_t capacity,
///                    int64_t *total_flops, int64_t *total_params)`.
@_cdecl("sc_graph_cost")
public func sc_graph_cost(_ graph: OpaquePointer?, _ nodeFlops: UnsafeMutablePointer<Int64>?, _ nodeParams: UnsafeMutablePointer<Int64>?,
                          _ capacity: Int, _ totalFlops: UnsafeMutablePointer<Int64>?, _ totalParams: UnsafeMutablePointer<Int64>?) -> Int32 {
    graphCall(graph) { (g) throws(CallError) in
        let c = g.graph.cost()
        if nodeFlops != nil || nodeParams != nil {
            guard capacity >= c.flops.count else {
                throw CallError(.invalidArgument, "capacity \(capacity) is below the graph's \(c.flops.count) nodes")
            }
            for i in c.flops.indices {
                nodeFlops?[i] = Int64(c.flops[i])
                nodeParams?[i] = Int64(c.params[i])
            }
        }
        totalFlops?.pointee = Int64(c.totalFlops)
        totalParams?.pointee = Int64(c.totalParams)
    }
}

/// `int sc_graph_node_count(sc_graph *, size_t *count)`.
@_cdecl("sc_graph_node_count")
public func sc_graph_node_count(_ graph: OpaquePointer?, _ count: UnsafeMutablePointer<Int>?) -> Int32 {
    graphCall(graph) { (g) throws(CallError) in
        guard let count else { throw CallError(.nullPointer, "count is NULL") }
        count.pointee = g.graph.nodes.count
    }
}
