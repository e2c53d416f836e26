/// A regular expression used with Python's `re.match` semantics: the match is anchored at the start
/// of the name and need not reach its end (`'layer1'` matches `'layer1.0.conv1'`; `'conv1'` does not
/// match `'layer1.0.conv1'`; add `$` to anchor the end).
///
/// The engine is swiftcompress's own (not the standard library's `Regex`): a parser of exactly
/// Python 3.11 `re` syntax for `str` patterns (PythonRegex+Parser.swift, refusing what
/// `re.compile` refuses with Python's message), a compiler that resolves flags and IGNORECASE as
/// sre does (PythonRegex+Compiler.swift), Unicode classes as Python's (PythonRegex+Unicode.swift)
/// and a backtracking matcher in sre's order with a step budget (PythonRegex+Matcher.swift).
/// Supported: everything `re` has — groups, named groups, backreferences, conditionals,
/// lookahead, fixed-width lookbehind, atomic groups, possessive and lazy quantifiers, inline and
/// scoped flags (`i a s m x u`), `\N{...}`. Not supported: nesting groups deeper than 64 levels
/// (refused; Python's own limit is near 480).
struct PythonRegex: Sendable {
    let pattern: String
    let program: PyReProgram

    /// Compiles `pattern`; the thrown error carries Python's `re.error` text
    /// (`"bad escape \p at position 0"`).
    init(_ pattern: String) throws(RegexCompileError) {
        self.pattern = pattern
        let scalars = pattern.unicodeScalars.map(\.value)
        do {
            let (tree, state) = try pyReParsePattern(scalars)
            program = try PyReCompiler.compile(tree, state)
        } catch {
            throw RegexCompileError(message: PythonRegex.describe(error, scalars))
        }
    }

    /// Python's `str(re.error)`: the message, `at position N`, and the line and column when the
    /// pattern has more than one line.
    static func describe(_ error: PyReSyntaxError, _ pattern: [UInt32]) -> String {
        guard let pos = error.position else { return error.message }
        var msg = "\(error.message) at position \(pos)"
        if pattern.contains(0x0A) {
            let before = pattern.prefix(Swift.max(0, Swift.min(pos, pattern.count)))
            let line = before.filter { $0 == 0x0A }.count + 1
            let col = pos - (before.lastIndex(of: 0x0A) ?? -1)
            msg += " (line \(line), column \(col))"
        }
        return msg
    }

    /// True when the pattern matches a prefix of `name` (Python's `re.match(pattern, name)` is not
    /// None). Throws when deciding takes more than `stepLimit` steps (instructions executed plus
    /// backtracks); Python's own backtracking is exponential on such patterns too.
    func matches(_ name: String, stepLimit: Int = PyReMatcher.defaultStepLimit) throws(RegexBudgetError) -> Bool {
        var m = PyReMatcher(prog: program, subject: name.unicodeScalars.map(\.value), stepLimit: stepLimit)
        do {
            return try m.run()
        } catch {
            throw RegexBudgetError(pattern: pattern, name: name, limit: stepLimit)
        }
    }
}

/// A pattern that `re.compile` refuses; `message` is Python's text.
struct RegexCompileError: Error {
    var message: String
}

/// A match that was not decided within the work bound.
struct RegexBudgetError: Error {
    var pattern: String
    var name: String
    var limit: Int
}
