// swiftcompress-explain: prints what a config list does to a model, before anything is compressed.
//
//   swiftcompress-explain --modules examples/models/resnet50.json \
//                         --config examples/configs/resnet50_pruning.json [--mode pruning] [--json]
//
// --modules: a module list (examples/models/*.json, or a JSON list of {"name", "type", "forward_args"}).
// --config:  a config list as JSON (current or legacy format).
// --mode:    pruning (default), quantization or distillation.
// --json:    print the report as JSON instead of the table.
// Exit status: 0 on success, 1 for an invalid config or module list (the message says where), 2 for usage.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SwiftCompress

func readFile(_ path: String) -> String? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n > 0 { bytes.append(contentsOf: buffer[0..<n]) }
        if n < buffer.count { break }
    }
    return String(decoding: bytes, as: UTF8.self)
}

func fail(_ message: String, status: Int32) -> Never {
    let line = "swiftcompress-explain: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(status)
}

var modulesPath: String?
var configPath: String?
var mode = CompressionMode.pruning
var asJSON = false
var args = CommandLine.arguments.dropFirst().makeIterator()
while let a = args.next() {
    switch a {
    case "--modules": modulesPath = args.next()
    case "--config": configPath = args.next()
    case "--mode":
        guard let m = args.next().flatMap(CompressionMode.init(rawValue:)) else {
            fail("--mode takes pruning, quantization or distillation", status: 2)
        }
        mode = m
    case "--json": asJSON = true
    case "-h", "--help":
        print("usage: swiftcompress-explain --modules MODULES.json --config CONFIG.json [--mode pruning|quantization|distillation] [--json]")
        exit(0)
    default: fail("unknown argument '\(a)' (see --help)", status: 2)
    }
}
guard let modulesPath, let configPath else { fail("--modules and --config are required (see --help)", status: 2) }
guard let modulesText = readFile(modulesPath) else { fail("cannot read \(modulesPath)", status: 2) }
guard let configText = readFile(configPath) else { fail("cannot read \(configPath)", status: 2) }

do {
    let modules = try ModuleInfo.list(fromJSON: modulesText)
    let plan = try Plan(json: configText, modules: modules, mode: mode)
    print(asJSON ? plan.report.json.prettyJSON() : plan.report.table, terminator: asJSON ? "\n" : "")
} catch {
    fail("\(error)", status: 1)
}
