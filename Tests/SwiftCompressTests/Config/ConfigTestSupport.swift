import Foundation
import Testing
@testable import SwiftCompress

/// A small model's modules (a LeNet-like net) used by the hand-written config tests.
let smallModel: [ModuleInfo] = [
    ModuleInfo(name: "", typeName: "Net", forwardArguments: ["x"]),
    ModuleInfo(name: "conv1", typeName: "Conv2d", forwardArguments: ["input"]),
    ModuleInfo(name: "bn1", typeName: "BatchNorm2d", forwardArguments: ["input"]),
    ModuleInfo(name: "relu", typeName: "ReLU", forwardArguments: ["input"]),
    ModuleInfo(name: "conv2", typeName: "Conv2d", forwardArguments: ["input"]),
    ModuleInfo(name: "fc1", typeName: "Linear", forwardArguments: ["input"]),
    ModuleInfo(name: "fc2", typeName: "Linear", forwardArguments: ["input"]),
    ModuleInfo(name: "embed", typeName: "Embedding", forwardArguments: ["input"]),
]

func plan(_ json: String, _ mode: CompressionMode = .pruning, modules: [ModuleInfo] = smallModel,
          templates: SettingTemplates = .standard) throws -> Plan
{
    try Plan(json: json, modules: modules, mode: mode, templates: templates)
}

/// The error message a config list produces (the test fails if it is accepted).
func errorMessage(_ json: String, _ mode: CompressionMode = .pruning, modules: [ModuleInfo] = smallModel) -> String {
    do {
        _ = try Plan(json: json, modules: modules, mode: mode)
        Issue.record("expected an error for \(json)")
        return ""
    } catch {
        return error.description
    }
}

func selected(_ p: Plan, _ config: Int = 0) -> [String] { p.report.configs[config].selected }

/// The repository root, found from this file's path.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

func readRepositoryFile(_ relative: String) throws -> String {
    try String(contentsOf: repositoryRoot.appendingPathComponent(relative), encoding: .utf8)
}
