/// A regular expression used with Python's `re.match` semantics: the match is anchored at the start
/// of the name and need not reach its end (`'layer1'` matches `'layer1.0.conv1'`; `'conv1'` does not
/// match `'layer1.0.conv1'`; add `$` to anchor the end).
///
/// Patterns are compiled by the Swift standard library's regex engine, whose syntax is a superset
/// of Python's for everything module names need (character classes, alternation, groups including
/// `(?P<name>...)` and `(?P=name)`, lazy and bounded quantifiers, escapes, `\b`, `\Z`, inline flags,
/// lookahead). Matching runs over Unicode scalars, as Python's `str` patterns do. Lookbehind
/// (`(?<=...)`, `(?<!...)`) is not supported and is reported as a compile error.
struct PythonRegex: @unchecked Sendable {
    // Regex<AnyRegexOutput> is not Sendable; a compiled PythonRegex is only read after creation.
    let pattern: String
    private let regex: Regex<AnyRegexOutput>

    /// Compiles `pattern`; the thrown error is the engine's message.
    init(_ pattern: String) throws(RegexCompileError) {
        self.pattern = pattern
        do {
            regex = try Regex(pattern).matchingSemantics(.unicodeScalar)
        } catch {
            throw RegexCompileError(message: "\(error)")
        }
    }

    /// True when the pattern matches a prefix of `name` (Python's `re.match(pattern, name)` is not None).
    func matches(_ name: String) -> Bool {
        // prefixMatch only throws from custom components, which runtime-compiled patterns lack.
        ((try? regex.prefixMatch(in: name)) ?? nil) != nil
    }
}

struct RegexCompileError: Error {
    var message: String
}
