import SwiftCompress
import SwiftCompressABI

// The sharded-targets entry points of include/swiftcompress.h (the summaries API); see the header
// for the contracts and docs/distributed.md for the protocol.

/// A communicator over the caller's C callback (checked non-NULL, rank and world checked).
private func communicator(_ rank: Int32, _ world: Int32, _ fn: sc_allreduce_fn?, _ user: UnsafeMutableRawPointer?) throws(CallError) -> DistributedCommunicator {
    guard let fn else { throw CallError(.nullPointer, "allreduce is NULL") }
    guard world >= 1 else { throw CallError(.invalidArgument, "world_size is \(world); expected >= 1") }
    guard rank >= 0, rank < world else { throw CallError(.invalidArgument, "rank is \(rank); expected 0..<\(world) (world_size \(world))") }
    return DistributedCommunicator(rank: Int(rank), worldSize: Int(world)) { buffer, count, op in
        let status = fn(buffer, Int64(count), op.rawValue, user)
        return status == 0 ? nil : "the allreduce callback returned \(status)"
    }
}

private func writeStats(_ stats: UnsafeMutablePointer<Int64>?, _ r: (rounds: Int, bytes: Int)) {
    guard let stats else { return }
    stats[0] = Int64(r.rounds)
    stats[1] = Int64(r.bytes)
}

/// `int sc_session_bind_shard(sc_session *, const char *module_name, const char *target_name, int ndim,
///                            const int64_t *local_shape, const int64_t *global_shape, const int64_t *offsets, int counted)`.
@_cdecl("sc_session_bind_shard")
public func sc_session_bind_shard(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                  _ ndim: Int32, _ localShape: UnsafePointer<Int64>?, _ globalShape: UnsafePointer<Int64>?,
                                  _ offsets: UnsafePointer<Int64>?, _ counted: Int32) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        let module = try string(moduleName, "module_name"), target = try string(targetName, "target_name")
        guard ndim >= 0, ndim <= 16 else { throw CallError(.invalidArgument, "ndim is \(ndim); expected 0...\(16) (SC_MAX_NDIM)") }
        let n = Int(ndim)
        func read(_ p: UnsafePointer<Int64>?, _ what: String) throws(CallError) -> [Int] {
            if n == 0 { return [] }
            guard let p else { throw CallError(.nullPointer, "\(what) is NULL but ndim is \(n)") }
            return (0..<n).map { Int(p[$0]) }
        }
        let l = try read(localShape, "local_shape"), g = try read(globalShape, "global_shape"), o = try read(offsets, "offsets")
        try s.call { (c) throws(SessionError) in
            try c.bindShard(module: module, target: target, localShape: l,
                            placement: ShardPlacement(globalShape: g, offsets: o, counted: counted != 0), call: "sc_session_bind_shard")
        }
    }
}

/// `int sc_session_generate_masks_distributed(sc_session *, int metric, int rank, int world_size,
///                                            sc_allreduce_fn, void *user_data, int64_t *stats)`.
@_cdecl("sc_session_generate_masks_distributed")
public func sc_session_generate_masks_distributed(_ session: OpaquePointer?, _ metric: Int32, _ rank: Int32, _ world: Int32,
                                                  _ fn: sc_allreduce_fn?, _ user: UnsafeMutableRawPointer?,
                                                  _ stats: UnsafeMutablePointer<Int64>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        var comm = try communicator(rank, world, fn, user)
        guard let kind = pruningMetricKind(metric) else {
            // Still a participant: the other ranks must not wait for this one.
            try? comm.statusRound(failure: EngineError(.pruning, .distributed, target: "", "bad metric"), fingerprint: 0, engine: .pruning)
            throw badMetric(metric)
        }
        let r = try s.call { (c) throws(SessionError) in
            try c.generateMasksDistributed(metric: kind, communicator: &comm, call: "sc_session_generate_masks_distributed")
        }
        writeStats(stats, r)
    }
}

/// `int sc_session_reduce_observers_distributed(sc_session *, int rank, int world_size, sc_allreduce_fn,
///                                              void *user_data, int64_t *stats)`.
@_cdecl("sc_session_reduce_observers_distributed")
public func sc_session_reduce_observers_distributed(_ session: OpaquePointer?, _ rank: Int32, _ world: Int32,
                                                    _ fn: sc_allreduce_fn?, _ user: UnsafeMutableRawPointer?,
                                                    _ stats: UnsafeMutablePointer<Int64>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        var comm = try communicator(rank, world, fn, user)
        let r = try s.call { (c) throws(SessionError) in
            try c.reduceObserversDistributed(communicator: &comm, call: "sc_session_reduce_observers_distributed")
        }
        writeStats(stats, r)
    }
}

/// `int sc_session_observe_distributed(sc_session *, const char *module_name, const char *target_name,
///                                     const sc_tensor *batch, int observer, int rank, int world_size,
///                                     sc_allreduce_fn, void *user_data, int64_t *stats)`.
@_cdecl("sc_session_observe_distributed")
public func sc_session_observe_distributed(_ session: OpaquePointer?, _ moduleName: UnsafePointer<CChar>?, _ targetName: UnsafePointer<CChar>?,
                                           _ batch: UnsafePointer<sc_tensor>?, _ observer: Int32, _ rank: Int32, _ world: Int32,
                                           _ fn: sc_allreduce_fn?, _ user: UnsafeMutableRawPointer?,
                                           _ stats: UnsafeMutablePointer<Int64>?) -> Int32 {
    sessionCall(session) { (s) throws(CallError) in
        var comm = try communicator(rank, world, fn, user)
        var module = "", target = "", kind = QuantObserverKind.minMax
        var view: TensorView? = nil
        do throws(CallError) {
            module = try string(moduleName, "module_name")
            target = try string(targetName, "target_name")
            switch observer {
            case 0: kind = .minMax
            case 1: kind = .qat
            default: throw CallError(.invalidArgument, "observer is \(observer); expected SC_OBSERVER_MINMAX (0) or SC_OBSERVER_EMA (1)")
            }
            view = try tensorView(batch, "\(module).\(target): batch", writable: false).readOnly
        } catch {
            // Still a participant: the other ranks must not wait for this one.
            try? comm.statusRound(failure: EngineError(.quantization, .distributed, target: "", error.message), fingerprint: 0, engine: .quantization)
            throw error
        }
        guard let b = view else { throw CallError(.internal, "sc_session_observe_distributed: no batch view") }
        let r = try s.call { (c) throws(SessionError) in
            try c.observeDistributed(module: module, target: target, batch: b, observer: kind, communicator: &comm,
                                     call: "sc_session_observe_distributed")
        }
        writeStats(stats, r)
    }
}

/// `int sc_distributed_fail(int rank, int world_size, sc_allreduce_fn, void *user_data)`.
@_cdecl("sc_distributed_fail")
public func sc_distributed_fail(_ rank: Int32, _ world: Int32, _ fn: sc_allreduce_fn?, _ user: UnsafeMutableRawPointer?) -> Int32 {
    threadCall { () throws(CallError) in
        var comm = try communicator(rank, world, fn, user)
        do throws(EngineError) {
            try comm.statusRound(failure: EngineError(.pruning, .distributed, target: "", "failed before the call"), fingerprint: 0, engine: .pruning)
        } catch {
            if error.message.contains("the all-reduce failed") { throw CallError(error) }
        }
    }
}

/// `int sc_distributed_status(int rank, int world_size, int failed, int mode, const char *step,
///                            sc_allreduce_fn, void *user_data)`.
@_cdecl("sc_distributed_status")
public func sc_distributed_status(_ rank: Int32, _ world: Int32, _ failed: Int32, _ mode: Int32, _ step: UnsafePointer<CChar>?,
                                  _ fn: sc_allreduce_fn?, _ user: UnsafeMutableRawPointer?) -> Int32 {
    threadCall { () throws(CallError) in
        var comm = try communicator(rank, world, fn, user)
        let engine: EngineError.Engine
        switch mode {
        case 0: engine = .pruning        // SC_MODE_PRUNING
        case 1: engine = .quantization   // SC_MODE_QUANTIZATION
        default:
            // Still a participant (a failing one): the other ranks must not wait for this one.
            try? comm.statusRound(failure: EngineError(.pruning, .distributed, target: "", "bad mode"), fingerprint: 0, engine: .pruning)
            throw CallError(.invalidArgument, "mode is \(mode); expected SC_MODE_PRUNING (0) or SC_MODE_QUANTIZATION (1)")
        }
        let name = step.map { String(cString: $0) } ?? "the local step"
        do throws(EngineError) {
            try comm.statusRound(failure: failed != 0 ? EngineError(engine, .distributed, target: "", "failed in \(name)") : nil,
                                 fingerprint: 0, engine: engine, step: name.isEmpty ? "the local step" : name)
        } catch {
            // A failing rank's own error is the caller's; only a failed all-reduce is reported then.
            if failed == 0 || error.message.contains("the all-reduce failed") { throw CallError(error) }
        }
    }
}
