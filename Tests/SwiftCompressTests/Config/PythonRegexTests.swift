import Testing
@testable import SwiftCompress

/// Python `re.match` semantics; every expectation below was checked with CPython 3.11:
/// `python3 -c "import re; print(bool(re.match(PATTERN, NAME)))"`.
@Suite struct PythonRegexTests {
    @Test(arguments: [
        // anchoring: at the start, not at the end
        ("layer1", "layer1.0.conv1", true),
        ("conv1", "layer1.0.conv1", false),
        ("layer1.0.conv1$", "layer1.0.conv1", true),
        ("layer1.0.conv$", "layer1.0.conv1", false),
        (".*conv1", "layer1.0.conv1", true),
        ("", "anything", true),
        // escapes: '.' matches any character unless escaped
        ("layer1.0", "layer1x0.conv", true),
        ("layer1\\.0", "layer1x0.conv", false),
        ("layer1\\.0", "layer1.0.conv", true),
        ("features\\.1\\.", "features.1.conv", true),
        ("features\\.1\\.", "features.10.conv", false),
        // character classes
        ("layer[12]\\.[0-9]+\\.conv[13]", "layer2.13.conv3", true),
        ("layer[12]\\.[0-9]+\\.conv[13]", "layer3.0.conv1", false),
        ("layer[^1]", "layer1", false),
        ("layer[^1]", "layer4", true),
        ("\\w+\\.\\d+$", "features.17", true),
        ("\\w+\\.\\d+$", "features.17.conv", false),
        ("[\\d.]+", "1.0", true),
        // alternation and groups
        ("layer1\\.0\\.(conv1|conv2)", "layer1.0.conv2", true),
        ("layer1\\.0\\.(conv1|conv2)", "layer1.0.conv3", false),
        ("fc|conv", "conv1", true),
        ("(?:encoder\\.layers\\.[0-3]\\.)linear1", "encoder.layers.2.linear1", true),
        ("(?P<l>layer\\d)\\.0\\.conv", "layer3.0.conv1", true),
        // quantifiers
        ("layer\\d{2}", "layer1", false),
        ("layer\\d{1,2}\\.", "layer12.", true),
        ("a{", "a{", true),
        // flags, word boundaries, end of string
        ("(?i)LAYER", "layer1", true),
        ("LAYER", "layer1", false),
        ("\\bconv", "conv1", true),
        ("conv1\\Z", "conv1", true),
        ("conv\\Z", "conv1", false),
    ])
    func matchesLikePythonReMatch(pattern: String, name: String, expected: Bool) throws {
        #expect(try PythonRegex(pattern).matches(name) == expected)
    }

    @Test(arguments: ["(", "*a", "[a-", "a)"])
    func invalidPatternsDoNotCompile(pattern: String) {
        #expect(throws: RegexCompileError.self) { try PythonRegex(pattern) }
    }

    /// A documented limitation (docs/config.md): Python accepts lookbehind, the standard library's
    /// engine does not; the config gets an error naming the pattern instead of a wrong selection.
    @Test func lookbehindIsReportedNotMisread() {
        #expect(throws: RegexCompileError.self) { try PythonRegex("(?<=layer1\\.)conv") }
    }
}
