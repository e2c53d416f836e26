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

    /// Lookbehind was refused by the former (standard library) engine; Python accepts fixed-width
    /// lookbehind, and so does the engine now (issue 18).
    @Test func lookbehindMatchesAsInPython() throws {
        #expect(try PythonRegex("(?<=layer1\\.)conv").matches("conv1") == false)
        #expect(try PythonRegex("layer1\\.(?<=1\\.)conv").matches("layer1.conv1"))
        #expect(try PythonRegex("layer\\d(?<!2)\\.").matches("layer2.conv") == false)
        #expect(try PythonRegex("layer\\d(?<!2)\\.").matches("layer3.conv"))
    }

    // MARK: issue 18: the outside test's cases

    @Test(arguments: [
        ("\\b", "", false),  // the root module: no word boundary in an empty string
        ("\\B", "", false),
        ("(?i)[a-z]", "\u{130}", true),  // U+0130 lowercases to 'i'
        ("\\w\\b", "中文", false),  // CJK ideographs are word characters
        ("\\w\\b", "中", true),
        ("[[:alpha:]]", ":]", true),  // a plain set '[:alph' then ']'
        ("[[:alpha:]]", "a", false),
        ("[[:alpha:]]", "b]", false),
        ("[]]", "]", true),
        ("[]a]", "a", true),
        ("(?a)\\w", "a", true),
        ("(?a)\\w", "中", false),
        ("(?a)\\w", "é", false),
        ("\\w", "é", true),
    ])
    func issue18Cases(pattern: String, name: String, expected: Bool) throws {
        #expect(try PythonRegex(pattern).matches(name) == expected)
    }

    @Test(arguments: [
        ("\\p{L}", "bad escape \\p at position 0"),
        ("\\z", "bad escape \\z at position 0"),
        ("\\G", "bad escape \\G at position 0"),
        ("ab\\", "bad escape (end of pattern) at position 2"),
        ("a**", "multiple repeat at position 2"),
        ("*a", "nothing to repeat at position 0"),
        ("(?<=a+)b", "look-behind requires fixed-width pattern"),
        ("(?P<n>a)(?P<n>b)", "redefinition of group name 'n' as group 2; was group 1 at position 12"),
        ("(a)\\2", "invalid group reference 2 at position 4"),
        ("(a\\1)", "cannot refer to an open group at position 2"),
        ("[z-a]", "bad character range z-a at position 1"),
        ("a{2,1}", "min repeat greater than max repeat at position 2"),
        ("(?i", "missing -, : or ) at position 3"),
        ("a(?i)", "global flags not at the start of the expression at position 1"),
        ("(?au)", "bad inline flags: flags 'a', 'u' and 'L' are incompatible at position 4"),
        ("(?a)(?u)", "ASCII and UNICODE flags are incompatible"),
        ("(?L)", "bad inline flags: cannot use 'L' flag with a str pattern at position 3"),
        ("a{4294967295}", "the repetition number is too large"),
        ("(?(1)a|b|c)", "conditional backref with more than two branches at position 8"),
        ("(?<n>x)", "unknown extension ?<n at position 1"),
        ("\\N{NO SUCH}", "undefined character name 'NO SUCH' at position 0"),
        ("\\8", "invalid group reference 8 at position 1"),
        ("[\\8]", "bad escape \\8 at position 1"),
        ("\\777", "octal escape value \\777 outside of range 0-0o377 at position 0"),
        ("\\x4", "incomplete escape \\x4 at position 0"),
        ("a\n(", "missing ), unterminated subpattern at position 2 (line 2, column 1)"),
        ("(?t)a*", "internal: unsupported template operator MAX_REPEAT"),
    ])
    func refusedWithPythonsMessage(pattern: String, message: String) {
        do {
            _ = try PythonRegex(pattern)
            Issue.record("\(pattern) compiled")
        } catch {
            #expect(error.message == message)
        }
    }

    // MARK: Unicode and case folding as sre

    @Test(arguments: [
        ("(?i)k", "\u{212A}", true),  // KELVIN SIGN lowercases to 'k'
        ("(?i)\u{212A}", "K", true),
        ("(?ai)k", "\u{212A}", false),  // ASCII: only A-Z fold
        ("(?i)s", "\u{17F}", true),  // LONG S: sre's extra case
        ("(?i)[s]", "\u{17F}", true),
        ("(?i)\u{17F}", "S", true),
        ("(?i)i", "\u{131}", true),  // dotless i
        ("(?i)I", "\u{130}", true),  // U+0130 -> 'i'
        ("(?i)\u{130}", "\u{131}", true),
        ("(?i)µ", "Μ", true),
        ("(?i)σ", "ς", true),
        ("(?i)ß", "SS", false),
        ("(?i)[\u{10400}]", "\u{10428}", true),  // one-item set: a literal
        ("(?i)[\u{10400}x]", "\u{10400}", false),  // sre's non-BMP set quirk
        ("(?i)[\u{10428}x]", "\u{10400}", true),
        ("\\d", "\u{663}", true),  // ARABIC-INDIC DIGIT THREE
        ("\\d", "²", false),  // superscript: a digit, not a decimal
        ("\\w", "²", true),  // but numeric, so alphanumeric
        ("\\w", "Ⅻ", true),
        ("(?a)\\d", "\u{663}", false),
        ("\\s", "\u{3000}", true),
        ("\\s", "\u{1C}", true),
        ("(?a)\\s", "\u{1C}", false),
        ("\\s", "\u{200B}", false),
        ("\\S", "\u{200B}", true),
        ("\\N{KELVIN SIGN}", "\u{212A}", true),
        ("\\N{kelvin sign}", "\u{212A}", true),
        ("\\N{LINE FEED}", "\n", true),  // formal aliases, as unicodedata.lookup
        ("\\N{LF}", "\n", true),
        ("\\N{BOM}", "\u{FEFF}", true),
        ("\\N{VS256}", "\u{E01EF}", true),
        ("\\N{LATIN CAPITAL LETTER GHA}", "\u{1A2}", true),
        ("\\N{CJK UNIFIED IDEOGRAPH-4E00}", "一", true),
        ("\\N{HANGUL SYLLABLE GA}", "가", true),
        ("\\u0130", "\u{130}", true),
        ("\\U0001d7d8", "𝟘", true),
        ("\\101", "A", true),
        ("\\0", "\u{0}", true),
        ("[\\x41-\\x43]+$", "ABC", true),
        ("(?i)[^k]", "\u{212A}", false),
        ("(?i:A)a", "aa", true),
        ("(?i)(?-i:A)a", "aA", false),
        ("(?i)(?-i:A)a", "AA", true),
    ])
    func unicodeLikeSre(pattern: String, name: String, expected: Bool) throws {
        #expect(try PythonRegex(pattern).matches(name) == expected)
    }

    // MARK: the rest of the syntax

    @Test(arguments: [
        ("a$", "a\n", true),  // `$` before a trailing newline
        ("a\\Z", "a\n", false),
        ("(?m)^b", "a\nb", false),  // re.match: position 0 only
        ("(?m)a$", "a\nb", true),
        ("a$", "a\nb", false),
        (".b", "\nb", false),
        ("(?s).b", "\nb", true),
        ("(?x) a b # comment", "ab", true),
        ("(?x)a\\ b", "a b", true),
        ("(?x)[ ]", " ", true),
        ("(?x)a {2}", "aa", true),
        ("(a)\\1", "aa", true),
        ("(a)\\1", "ab", false),
        ("(?i)(a)\\1", "aA", true),
        ("(?P<x>a)(?P=x)", "aa", true),
        ("(a)?(?(1)b|c)", "ab", true),
        ("(a)?(?(1)b|c)", "c", true),
        ("(a)?(?(1)b|c)", "b", false),
        ("(?P<g>a)?(?(g)b|c)", "c", true),
        ("(?>a+)a", "aaa", false),  // atomic
        ("(?:a+)a", "aaa", true),
        ("a++a", "aaa", false),  // possessive
        ("a*+b", "aab", true),
        ("(?:a|ab){2}+$", "aba", false),  // each possessive iteration is atomic
        ("(?>(?:a|ab){2})$", "aba", true),
        ("a+?b", "aab", true),
        ("a{2,}?$", "aaaa", true),
        ("a{,2}b", "aab", true),
        ("a{,2}b", "aaab", false),
        ("x{2,1", "x{2,1", true),
        ("a{1,2}{", "aa{", true),
        ("a{}", "a{}", true),
        ("(?=a)a", "a", true),
        ("(?!a)b", "b", true),
        ("(?!a)a", "a", false),
        ("(?=(a))\\1", "a", true),
        ("(?:)*a", "a", true),
        ("(?:a?)*+b", "aab", true),
        ("(|a)+b", "ab", true),
        ("(?:(a)|b)*\\1", "aba", true),
        ("(?#note)ab", "ab", true),
        ("()(((a))+?(?>(?(2).+)))a$", "aaaaaa", false),  // sre keeps group 2's end from a failed tail
        ("()(((a))+?(?>(?(2).+)))a$", "aa", true),
        ("a|", "x", true),
        ("[a-]", "-", true),
        ("[\\w-]+$", "a-b", true),
        ("[^\\W\\d]", "5", false),
    ])
    func syntaxLikePython(pattern: String, name: String, expected: Bool) throws {
        #expect(try PythonRegex(pattern).matches(name) == expected)
    }

    // MARK: work bound and safety

    /// `(a+)+$` backtracks exponentially in sre (13 s and 80 s in the former engine); here every
    /// state is explored once, so a small budget is enough.
    @Test func nestedQuantifiersAreFast() throws {
        let r = try PythonRegex("(a+)+$")
        for n in [18, 20, 25, 200] {
            #expect(try r.matches(String(repeating: "a", count: n) + "!", stepLimit: 200_000) == false)
            #expect(try r.matches(String(repeating: "a", count: n), stepLimit: 200_000))
        }
        // quadratic in the name: the inner a+ still tries every length from every start
        #expect(try r.matches(String(repeating: "a", count: 1000) + "!") == false)
        #expect(try PythonRegex("(?:a*)*b").matches(String(repeating: "a", count: 300)) == false)
        #expect(try PythonRegex("(x+x+)+y").matches(String(repeating: "x", count: 300), stepLimit: 1_000_000) == false)
    }

    @Test func theBoundIsAnErrorNotAHang() throws {
        // a backreference needs the captures, so nothing is pruned: exponential as in Python
        let r = try PythonRegex("(a|a)*\\1$")
        #expect(throws: RegexBudgetError.self) {
            try r.matches(String(repeating: "a", count: 40) + "!", stepLimit: 100_000)
        }
    }

    @Test func theBoundIsAConfigErrorNamingConfigKeyPatternAndModule() {
        let modules = [ModuleInfo(name: "", typeName: "Net"), ModuleInfo(name: String(repeating: "a", count: 60) + "!", typeName: "Linear")]
        let message = errorMessage(#"[{"op_names_re": ["fc"], "sparse_ratio": 0.5}, {"exclude_op_names_re": ["x", "(a|a)*\\1$"], "op_types": ["Linear"], "sparse_ratio": 0.5}]"#, modules: modules)
        #expect(message.hasPrefix("config_list[1].exclude_op_names_re[1]: expected a regular expression whose match against module 'aaaa"))
        #expect(message.contains("backtracking steps"))
        #expect(message.hasSuffix("got '(a|a)*\\\\1$'"))
    }

    @Test func compileErrorsKeepTheConfigErrorPath() {
        let message = errorMessage(#"[{"op_names_re": ["conv", "\\p{L}"], "sparse_ratio": 0.5}]"#)
        #expect(message == "config_list[0].op_names_re[1]: expected a Python regular expression that compiles (bad escape \\p at position 0), got '\\\\p{L}'")
    }

    @Test func longInputsAreSafe() throws {
        let long = String(repeating: "layer.", count: 20_000)
        #expect(try PythonRegex(".*x").matches(long) == false)
        #expect(try PythonRegex("(?:layer\\.)+$").matches(long))
        #expect(try PythonRegex("(?:\\w+\\.)*$").matches(long))
        let bigPattern = String(repeating: "a", count: 50_000)
        #expect(try PythonRegex(bigPattern).matches(String(repeating: "a", count: 50_000)))
        let alternatives = (0..<2000).map { "m\($0)" }.joined(separator: "|")
        #expect(try PythonRegex("(?:\(alternatives))$").matches("m1999"))
        #expect(throws: RegexCompileError.self) { try PythonRegex(String(repeating: "(", count: 100_000)) }
        #expect(throws: RegexCompileError.self) { try PythonRegex(String(repeating: "(", count: 65) + String(repeating: ")", count: 65)) }
        #expect(try PythonRegex(String(repeating: "(", count: 60) + "a" + String(repeating: ")", count: 60)).matches("a"))
        #expect(try PythonRegex("a{0,4294967294}b").matches(String(repeating: "a", count: 1000) + "b"))
        #expect(try PythonRegex("(?:ab){1000}").matches(String(repeating: "ab", count: 1000)))
        #expect(try PythonRegex("(?:ab){3000000000}").matches("abab") == false)
    }
}
