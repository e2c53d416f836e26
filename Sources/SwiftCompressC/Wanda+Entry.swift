import SwiftCompress
import SwiftCompressABI

// The Wanda entry points of include/swiftcompress.h (section "Wanda and N:M masks"); see the
// header for the contracts. Argument checking and conversion only: the sums and the metric are
// WandaMetrics' (Sources/SwiftCompress/Pruning/WandaMetrics.swift).

/// `int sc_wanda_accumulate(const sc_tensor *norms, const sc_tensor *input, int64_t channel_dim, int reset)`.
@_cdecl("sc_wanda_accumulate")
public func sc_wanda_accumulate(_ norms: UnsafePointer<sc_tensor>?, _ input: UnsafePointer<sc_tensor>?,
                                _ channelDim: Int64, _ reset: Int32) -> Int32 {
    threadCall { () throws(CallError) in
        let n = try tensorView(norms, "norms", writable: true)
        let x = try tensorView(input, "input", writable: false)
        guard let d = Int(exactly: channelDim) else { throw CallError(.invalidArgument, "channel_dim is \(channelDim); expected a dim of input") }
        do throws(EngineError) {
            try WandaMetrics.accumulate(norms: n, input: x.readOnly, channelDim: d, reset: reset != 0, name: "input")
        } catch { throw CallError(error) }
    }
}

/// `int sc_wanda_metric(const sc_tensor *weight, const sc_tensor *norms, const sc_tensor *out)`.
@_cdecl("sc_wanda_metric")
public func sc_wanda_metric(_ weight: UnsafePointer<sc_tensor>?, _ norms: UnsafePointer<sc_tensor>?,
                            _ out: UnsafePointer<sc_tensor>?) -> Int32 {
    threadCall { () throws(CallError) in
        let w = try tensorView(weight, "weight", writable: false)
        let n = try tensorView(norms, "norms", writable: false)
        let o = try tensorView(out, "out", writable: true)
        do throws(EngineError) {
            try WandaMetrics.metric(weight: w.readOnly, norms: n.readOnly, into: o, name: "weight")
        } catch { throw CallError(error) }
    }
}
