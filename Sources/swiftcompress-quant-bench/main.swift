// Quantization benchmark: observer update (min/max) and fake quantization of 100 M float32 values,
// per tensor and per channel (1000 channels), against torch's native CPU kernels on the same sizes.
// Prints the median wall time of several runs of each case and, when torch is available, a
// markdown table with torch's medians and the ratios (ours / torch: below 1 is faster).
//
//     swift run -c release --scratch-path .build-quant swiftcompress-quant-bench [--size N] [--runs R] [--no-torch]
//
// torch is timed by tools/bench_torch_quant.py, run after our own measurements (not at the same
// time) with /work/nnienv/bin/python, or the Python named by $SWIFTCOMPRESS_PYTHON.
import Foundation
import SwiftCompress

var size = 100_000_000
var runs = 7
let channels = 1000
var useTorch = true
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--size": size = args.popFirst().flatMap { Int($0) } ?? size
    case "--runs": runs = args.popFirst().flatMap { Int($0) } ?? runs
    case "--no-torch": useTorch = false
    default:
        print("usage: swiftcompress-quant-bench [--size N] [--runs R] [--no-torch]")
        exit(2)
    }
}
size = max(channels, size / channels * channels)

/// Median wall time in milliseconds of `runs` calls after one warm-up call.
func medianMs(runs: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var times: [Double] = []
    for _ in 0..<runs {
        let t = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
    }
    times.sort()
    return times[times.count / 2]
}

// Normal-ish values (sum of uniforms), deterministic.
let input = UnsafeMutableBufferPointer<Float>.allocate(capacity: size)
let output = UnsafeMutableBufferPointer<Float>.allocate(capacity: size)
let maskBuffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: size)
var state: UInt64 = 0x9E37_79B9_7F4A_7C15
for i in 0..<size {
    var s: Float = 0
    for _ in 0..<3 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        s += Float(state >> 40) / Float(1 << 24) - 0.5
    }
    input[i] = s * 2
    output[i] = 0
    maskBuffer[i] = 0
}
print("values: \(size) float32 (\(size * 4 / 1_000_000) MB), \(channels) channels for per-channel cases, median of \(runs) runs, \(ProcessInfo.processInfo.activeProcessorCount) cores")

do {
    let x = try TensorView(UnsafeRawPointer(input.baseAddress), shape: [size], dtype: .float32)
    let xc = try TensorView(UnsafeRawPointer(input.baseAddress), shape: [channels, size / channels], dtype: .float32)
    let out = try MutableTensorView(UnsafeMutableRawPointer(output.baseAddress), shape: [size], dtype: .float32)
    let outc = try MutableTensorView(UnsafeMutableRawPointer(output.baseAddress), shape: [channels, size / channels], dtype: .float32)
    let mask = try MutableTensorView(UnsafeMutableRawPointer(maskBuffer.baseAddress), shape: [size], dtype: .float32)
    let perTensor = QuantizationSettings(target: "x.weight", role: .parameter, dtype: .int8)
    var perChannel = perTensor
    perChannel.granularity = .perChannel

    var observer = QuantObserver(kind: .minMax)
    let minmaxTensor = try medianMs(runs: runs) { try observer.observe(x, settings: perTensor) }
    let params = try observer.parameters(settings: perTensor)
    var channelObserver = QuantObserver(kind: .minMax)
    let minmaxChannel = try medianMs(runs: runs) { try channelObserver.observe(xc, settings: perChannel) }
    let channelParams = try channelObserver.parameters(settings: perChannel)
    let fakeTensor = try medianMs(runs: runs) { try Quantization.fakeQuantize(x, into: out, parameters: params, settings: perTensor) }
    let fakeChannel = try medianMs(runs: runs) { try Quantization.fakeQuantize(xc, into: outc, parameters: channelParams, settings: perChannel) }
    let fakeMask = try medianMs(runs: runs) { try Quantization.fakeQuantize(x, into: out, parameters: params, settings: perTensor, gradientMask: mask) }
    // In place on a copy (the copy is refreshed outside the timed region would double the
    // traffic; fake quantization is idempotent, so repeated in-place runs do the same work).
    for i in 0..<size { output[i] = input[i] }
    let fakeInPlace = try medianMs(runs: runs) { try Quantization.fakeQuantize(inPlace: out, parameters: params, settings: perTensor) }

    let ours: [(String, String, Double)] = [
        ("minmax_tensor", "observer update, min/max per tensor", minmaxTensor),
        ("minmax_channel", "observer update, min/max per channel", minmaxChannel),
        ("fakequant_tensor", "fake quantization int8 per tensor (into a buffer)", fakeTensor),
        ("fakequant_channel", "fake quantization int8 per channel (into a buffer)", fakeChannel),
        ("fakequant_tensor", "fake quantization int8 per tensor (in place)", fakeInPlace),
        ("fakequant_tensor", "fake quantization int8 per tensor + gradient mask", fakeMask),
    ]
    for (_, name, ms) in ours {
        print("  " + name.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: "%9.1f ms", ms))
    }

    // torch, after our runs (never concurrently).
    var torch: [String: Double] = [:]
    var torchInfo = ""
    let python = ProcessInfo.processInfo.environment["SWIFTCOMPRESS_PYTHON"] ?? "/work/nnienv/bin/python"
    let script = "tools/bench_torch_quant.py"
    if useTorch && FileManager.default.isExecutableFile(atPath: python) && FileManager.default.fileExists(atPath: script) {
        input.deallocate()  // leave the memory to torch
        output.deallocate()
        maskBuffer.deallocate()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [script, "--size", String(size), "--channels", String(channels), "--runs", String(runs)]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let cases = root["cases"] as? [String: Double] {
            torch = cases
            torchInfo = "torch \(root["torch"] ?? "?"), \(root["threads"] ?? "?") threads, \(root["cpu_capability"] ?? "?")"
        } else {
            print("torch benchmark failed (exit \(p.terminationStatus)): \(String(decoding: data, as: UTF8.self))")
        }
    } else if useTorch {
        print("torch not found (\(python)); run `\(python) \(script) --size \(size)` for its figures")
    }
    if !torch.isEmpty {
        print("\n| case (\(size) float32) | swiftcompress | \(torchInfo) | ratio |")
        print("|---|---|---|---|")
        for (key, name, ms) in ours {
            guard let t = torch[key] else { continue }
            print(String(format: "| %@ | %.1f ms | %.1f ms | %.2fx |", name as NSString, ms, t, ms / t))
        }
        print("\nratio = ours / torch (below 1: faster than torch). torch: aminmax; fake_quantize_per_tensor_affine /")
        print("per_channel_affine, which allocate their output and compute the gradient mask (cachemask) too.")
    }
} catch {
    print("error: \(error)")
    exit(1)
}
