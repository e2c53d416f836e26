import Testing
@testable import SwiftCompress

/// `DistillationSettings`: parsing a target's settings dict, defaults, errors and link checks.
@Suite struct DistillationSettingsTests {
    @Test func defaults() throws {
        let empty = try DistillationSettings([:], module: "fc1", target: "_output_0")
        #expect(empty == DistillationSettings(lambda: 1, links: ["fc1"], method: .mse))
        // The template's unset values (None) mean the same.
        let nones = try DistillationSettings(SettingTemplates.distillationDefault["_output_"]?.object ?? [:], module: "fc1", target: "_output_0")
        #expect(nones == empty)
        // The root module links to the teacher's root module.
        #expect(try DistillationSettings([:], module: "", target: "_output_0").links == [""])
    }

    static let linkCases: [(ConfigValue, [String])] = [
        ("auto", ["layer1.0"]),
        ("encoder.layer1", ["encoder.layer1"]),
        (["a", "b", "a"], ["a", "b", "a"]),
        // Inside a list 'auto' is an ordinary name (NNI replaces only the string 'auto').
        (["auto", "b"], ["auto", "b"]),
    ]

    @Test(arguments: linkCases)
    func links(_ link: ConfigValue, _ expected: [String]) throws {
        #expect(try DistillationSettings(["link": link], module: "layer1.0", target: "_output_0").links == expected)
    }

    @Test func values() throws {
        let s = try DistillationSettings(["lambda": 2, "link": "t", "apply_method": "kl"], module: "m", target: "_output_1")
        #expect(s == DistillationSettings(lambda: 2, links: ["t"], method: .kl))
        #expect(try DistillationSettings(["lambda": -0.25], module: "m", target: "_output_0").lambda == -0.25)
        #expect(try DistillationSettings(["lambda": 0, "apply_method": "mse"], module: "m", target: "_output_0")
                == DistillationSettings(lambda: 0, links: ["m"], method: .mse))
    }

    static let badCases: [(String, ConfigValue, String)] = [
        ("lambda", "0.5", "fc1._output_0: lambda: expected a finite number, got '0.5'"),
        ("lambda", true, "fc1._output_0: lambda: expected a finite number, got True"),
        ("lambda", .double(.nan), "fc1._output_0: lambda: expected a finite number, got nan"),
        ("lambda", [1], "fc1._output_0: lambda: expected a finite number, got [1]"),
        ("apply_method", "ce", "fc1._output_0: apply_method: expected 'mse' or 'kl', got 'ce'"),
        ("apply_method", "MSE", "fc1._output_0: apply_method: expected 'mse' or 'kl', got 'MSE'"),
        ("apply_method", 1, "fc1._output_0: apply_method: expected 'mse' or 'kl', got 1"),
        ("link", 3, "fc1._output_0: link: expected 'auto', a teacher module name or a non-empty list of teacher module names, got 3"),
        ("link", [], "fc1._output_0: link: expected 'auto', a teacher module name or a non-empty list of teacher module names, got []"),
        ("link", ["fc1", 2], "fc1._output_0: link: expected 'auto', a teacher module name or a non-empty list of teacher module names, got ['fc1', 2]"),
        ("link", ["name": "fc1"], "fc1._output_0: link: expected 'auto', a teacher module name or a non-empty list of teacher module names, got {'name': 'fc1'}"),
    ]

    @Test(arguments: badCases)
    func badSettings(_ key: String, _ value: ConfigValue, _ message: String) {
        let e = #expect(throws: DistillationError.self) {
            try DistillationSettings([key: value], module: "fc1", target: "_output_0")
        }
        #expect(e?.kind == .invalidSetting)
        #expect(e?.key == key)
        #expect(e?.description == message)
    }

    @Test func errorsOnTheRootModuleNameTheTargetAlone() {
        let e = #expect(throws: DistillationError.self) {
            try DistillationSettings(["lambda": "x"], module: "", target: "_output_0")
        }
        #expect(e?.description == "_output_0: lambda: expected a finite number, got 'x'")
    }

    @Test func checkLinks() throws {
        let teacher = ["", "encoder", "encoder.fc1", "encoder.fc2", "head"]
        try DistillationSettings(links: ["encoder.fc1", "head", ""]).checkLinks(teacherModules: teacher, module: "fc1", target: "_output_0")

        let e = #expect(throws: DistillationError.self) {
            try DistillationSettings(links: ["head", "module.encoder.fc2"]).checkLinks(teacherModules: teacher, module: "s.fc2", target: "_output_0")
        }
        #expect(e?.kind == .unknownLink)
        #expect(e?.key == "link")
        #expect(e?.description == "s.fc2._output_0: link: 'module.encoder.fc2' names no module of the teacher; closest: 'encoder.fc2'")

        // 'auto' on a student module the teacher lacks.
        let auto = try DistillationSettings([:], module: "adapter", target: "_output_0")
        let e2 = #expect(throws: DistillationError.self) {
            try auto.checkLinks(teacherModules: teacher, module: "adapter", target: "_output_0")
        }
        #expect(e2?.description.hasPrefix("adapter._output_0: link: 'adapter' names no module of the teacher") == true)
    }

    /// From a plan: the config engine's canonical settings parse into the typed settings.
    @Test func fromAPlan() throws {
        let modules = [ModuleInfo(name: "", typeName: "Net"), ModuleInfo(name: "fc1", typeName: "Linear"),
                       ModuleInfo(name: "fc2", typeName: "Linear")]
        let plan = try Plan(json: #"[{"op_names": ["fc1"], "lambda": 0.5, "link": ["fc1", "fc2"], "apply_method": "kl"}, {"op_types": ["Linear"]}]"#,
                            modules: modules, mode: .distillation)
        let settings = try plan.targets.map(DistillationSettings.init)
        #expect(plan.targets.map(\.targetName) == ["_output_0", "_output_0"])
        #expect(settings == [DistillationSettings(lambda: 0.5, links: ["fc1", "fc2"], method: .kl),
                             DistillationSettings(lambda: 1, links: ["fc2"], method: .mse)])
    }
}
