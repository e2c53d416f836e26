/// The parser of Python 3.11 `re` syntax for `str` patterns: from pattern text to the parse tree
/// `[PyReNode]`, accepting exactly what `re.compile` accepts and refusing the rest with Python's
/// message (`re.error`'s text, `"... at position N"`). The structure follows `Lib/re/_parser.py`
/// (the behavioural reference): the same tokens, the same order of checks, the same tree
/// simplifications (common prefixes of alternatives, single-character alternatives as sets,
/// one-item sets as literals), so that the compiled matcher sees what sre sees.

// MARK: - Parse tree

/// sre's flag bits (`re.I`, `re.M`, ...), as in `_constants.py`.
enum PyReFlag {
    static let template = 1, ignoreCase = 2, locale = 4, multiline = 8, dotAll = 16, unicode = 32
    static let verbose = 64, debug = 128, ascii = 256
    static let typeFlags = ascii | locale | unicode
    static let globalFlags = debug | template
}

/// `MAXREPEAT`: an unbounded repeat's maximum; counts must stay below it.
let pyReMaxRepeat = 4_294_967_295
/// `MAXGROUPS` of a 64-bit CPython.
let pyReMaxGroups = 1_073_741_823
/// `MAXWIDTH` stand-in: widths saturate here (Python's is 2**64; only equality and the
/// comparison with `MAXCODE` are observed).
let pyReMaxWidth = 1 << 62
/// Groups nested deeper than this are refused (Python's own parser raises RecursionError near
/// 480 levels); it keeps the recursive parser and compiler far from any thread's stack limit.
let pyReMaxNesting = 64

/// The categories of `\d \D \s \S \w \W`.
enum PyReCategory: Hashable, Sendable {
    case digit, notDigit, space, notSpace, word, notWord
}

/// One member of a character set (`IN`).
enum PyReSetItem: Hashable, Sendable {
    case negate
    case literal(UInt32)
    case range(UInt32, UInt32)
    case category(PyReCategory)
}

/// Zero-width positions (`AT`).
enum PyReAt: Hashable, Sendable {
    case beginning, beginningString, end, endString, boundary, nonBoundary
}

/// Greedy (`*`), lazy (`*?`) or possessive (`*+`).
enum PyReRepeatKind: Sendable {
    case greedy, lazy, possessive
}

/// A node of the parse tree (sre's `(op, av)` tuples).
indirect enum PyReNode: Sendable {
    case literal(UInt32)
    case notLiteral(UInt32)
    case any
    case set([PyReSetItem])
    case at(PyReAt)
    case branch([[PyReNode]])
    case subpattern(group: Int?, add: Int, del: Int, body: [PyReNode])
    case atomic([PyReNode])
    case repeatNode(kind: PyReRepeatKind, min: Int, max: Int, body: [PyReNode])
    case groupref(Int)
    case groupExists(group: Int, yes: [PyReNode], no: [PyReNode]?)
    case assertion(behind: Bool, negate: Bool, body: [PyReNode])

    /// Equality as `_parse_sub`'s common-prefix test sees it: tuples of values compare by value,
    /// tuples holding sub-patterns compare by identity (never equal between two alternatives).
    func samePrefix(_ other: PyReNode) -> Bool {
        switch (self, other) {
        case let (.literal(a), .literal(b)), let (.notLiteral(a), .notLiteral(b)): return a == b
        case (.any, .any): return true
        case let (.set(a), .set(b)): return a == b
        case let (.at(a), .at(b)): return a == b
        case let (.groupref(a), .groupref(b)): return a == b
        default: return false
        }
    }
}

/// A refused pattern: Python's message and, for parser errors, the position (in code points).
struct PyReSyntaxError: Error {
    var message: String
    var position: Int?
}

// MARK: - Parser state

/// `_parser.State`: flags, groups and their widths, the lookbehind context.
final class PyReParseState {
    var flags = 0
    var groupdict: [String: Int] = [:]
    var groupwidths: [(Int, Int)?] = [nil]  // group 0
    var lookbehindgroups: Int?
    var grouprefpos: [Int: Int] = [:]

    var groups: Int { groupwidths.count }

    /// Opens a capturing group (named or not); returns its number.
    func opengroup(_ name: String?) throws(PyReSyntaxError) -> Int {
        let gid = groups
        groupwidths.append(nil)
        if groups > pyReMaxGroups { throw PyReSyntaxError(message: "too many groups", position: nil) }
        if let name {
            if let ogid = groupdict[name] {
                throw PyReSyntaxError(message: "redefinition of group name \(pythonRepr(name)) as group \(gid); was group \(ogid)", position: nil)
            }
            groupdict[name] = gid
        }
        return gid
    }

    /// Closes a group, recording its width (for lookbehind and backreference widths).
    func closegroup(_ gid: Int, _ p: [PyReNode]) {
        if gid < groupwidths.count { groupwidths[gid] = pyReWidth(p, self) }
    }

    /// Whether group `gid` exists and is closed.
    func checkgroup(_ gid: Int) -> Bool { gid >= 0 && gid < groups && groupwidths[gid] != nil }

    /// Inside a lookbehind, a reference must name a closed group defined before it.
    func checklookbehindgroup(_ gid: Int, _ source: PyReTokenizer) throws(PyReSyntaxError) {
        if let lb = lookbehindgroups {
            if !checkgroup(gid) { throw source.error("cannot refer to an open group") }
            if gid >= lb { throw source.error("cannot refer to group defined in the same lookbehind subpattern") }
        }
    }
}

/// `SubPattern.getwidth()`: the (min, max) number of characters a sub-pattern can match.
func pyReWidth(_ p: [PyReNode], _ state: PyReParseState) -> (Int, Int) {
    func add(_ a: Int, _ b: Int) -> Int { a >= pyReMaxWidth - b ? pyReMaxWidth : a + b }
    func mul(_ a: Int, _ b: Int) -> Int {
        if a == 0 || b == 0 { return 0 }
        return a > pyReMaxWidth / b ? pyReMaxWidth : a * b
    }
    var lo = 0, hi = 0
    for node in p {
        switch node {
        case .branch(let items):
            var i = pyReMaxWidth, j = 0
            for item in items {
                let (l, h) = pyReWidth(item, state)
                i = Swift.min(i, l)
                j = Swift.max(j, h)
            }
            lo = add(lo, i); hi = add(hi, j)
        case .atomic(let body), .subpattern(_, _, _, let body):
            let (i, j) = pyReWidth(body, state)
            lo = add(lo, i); hi = add(hi, j)
        case let .repeatNode(_, mn, mx, body):
            let (i, j) = pyReWidth(body, state)
            lo = add(lo, mul(i, mn))
            if mx == pyReMaxRepeat && j != 0 { hi = pyReMaxWidth } else { hi = add(hi, mul(j, mx)) }
        case .any, .set, .literal, .notLiteral:
            lo = add(lo, 1); hi = add(hi, 1)
        case .groupref(let g):
            if g < state.groupwidths.count, let (i, j) = state.groupwidths[g] {
                lo = add(lo, i); hi = add(hi, j)
            }
        case let .groupExists(_, yes, no):
            var (i, j) = pyReWidth(yes, state)
            if let no {
                let (l, h) = pyReWidth(no, state)
                i = Swift.min(i, l); j = Swift.max(j, h)
            } else {
                i = 0
            }
            lo = add(lo, i); hi = add(hi, j)
        case .at, .assertion:
            break
        }
    }
    return (Swift.min(lo, pyReMaxWidth), Swift.min(hi, pyReMaxWidth))
}

// MARK: - Tokenizer

/// One token: a character, or a backslash and the character after it.
struct PyReToken: Equatable {
    var first: UInt32
    var second: UInt32?  // set for an escape: first is '\'

    var isEscape: Bool { second != nil }
    var count: Int { second == nil ? 1 : 2 }
    var text: String { PyReTokenizer.string([first] + (second.map { [$0] } ?? [])) }
    /// The single character of a plain token, nil for an escape.
    var char: UInt32? { second == nil ? first : nil }
}

/// `_parser.Tokenizer` over the pattern's code points.
final class PyReTokenizer {
    let s: [UInt32]
    var index = 0
    var next: PyReToken?

    init(_ scalars: [UInt32]) throws(PyReSyntaxError) {
        s = scalars
        try advance()
    }

    /// Code points as a String (a non-scalar value, a lone surrogate, written as `\u{...}`).
    static func string(_ cs: [UInt32]) -> String {
        var out = ""
        for c in cs { if let u = Unicode.Scalar(c) { out.unicodeScalars.append(u) } else { out += "\\u{\(String(c, radix: 16))}" } }
        return out
    }

    /// Reads the next token (`Tokenizer.__next`); a trailing backslash is 'bad escape (end of pattern)'.
    func advance() throws(PyReSyntaxError) {
        let i = index
        guard i < s.count else { next = nil; return }
        if s[i] == 0x5C {
            guard i + 1 < s.count else {
                throw PyReSyntaxError(message: "bad escape (end of pattern)", position: s.count - 1)
            }
            next = PyReToken(first: 0x5C, second: s[i + 1])
            index = i + 2
        } else {
            next = PyReToken(first: s[i], second: nil)
            index = i + 1
        }
    }

    /// Consumes the next token when it is the plain character `c`.
    func match(_ c: UInt32) throws(PyReSyntaxError) -> Bool {
        if let n = next, n.char == c {
            try advance()
            return true
        }
        return false
    }

    /// The next token, consumed (nil at the end).
    func get() throws(PyReSyntaxError) -> PyReToken? {
        let this = next
        try advance()
        return this
    }

    /// Up to `n` plain characters satisfying `ok`.
    func getwhile(_ n: Int, _ ok: (UInt32) -> Bool) throws(PyReSyntaxError) -> [UInt32] {
        var result: [UInt32] = []
        for _ in 0..<n {
            guard let c = next?.char, ok(c) else { break }
            result.append(c)
            try advance()
        }
        return result
    }

    /// The text up to the plain character `terminator` (consumed), as `Tokenizer.getuntil`.
    func getuntil(_ terminator: UInt32, _ name: String) throws(PyReSyntaxError) -> [UInt32] {
        var result: [UInt32] = []
        while true {
            let c = next
            try advance()
            guard let c else {
                if result.isEmpty { throw error("missing " + name) }
                throw error("missing \(PyReTokenizer.string([terminator])), unterminated name", result.count)
            }
            if c.char == terminator {
                if result.isEmpty { throw error("missing " + name, 1) }
                break
            }
            result.append(c.first)
            if let b = c.second { result.append(b) }
        }
        return result
    }

    var tell: Int { index - (next?.count ?? 0) }

    /// Moves back to position `i` (a `{` that is not a repeat).
    func seek(_ i: Int) throws(PyReSyntaxError) {
        index = i
        try advance()
    }

    /// An error at the current position minus `offset`, as `Tokenizer.error`.
    func error(_ msg: String, _ offset: Int = 0) -> PyReSyntaxError {
        PyReSyntaxError(message: msg, position: tell - offset)
    }

    /// A group name must be an identifier.
    func checkgroupname(_ name: [UInt32], _ offset: Int) throws(PyReSyntaxError) {
        if !pyIsIdentifier(name) {
            throw error("bad character in group name \(pythonRepr(PyReTokenizer.string(name)))", name.count + offset)
        }
    }
}

/// `str.isidentifier()`: XID_Start or '_' first, XID_Continue after.
func pyIsIdentifier(_ cs: [UInt32]) -> Bool {
    guard let f = cs.first else { return false }
    func start(_ c: UInt32) -> Bool { c == 0x5F || (Unicode.Scalar(c)?.properties.isXIDStart ?? false) }
    func cont(_ c: UInt32) -> Bool { Unicode.Scalar(c)?.properties.isXIDContinue ?? false }
    return start(f) && cs.dropFirst().allSatisfy(cont)
}

/// Python's `int(text)` for a conditional's group (whitespace, a sign, digits of any script,
/// single underscores between digits); nil where `int()` raises. Saturates far above MAXGROUPS.
func pyParseInt(_ cs: [UInt32]) -> Int? {
    var a = cs[...]
    while let f = a.first, PyUnicode.isSpace(f) { a = a.dropFirst() }
    while let l = a.last, PyUnicode.isSpace(l) { a = a.dropLast() }
    var negative = false
    if let f = a.first, f == 0x2B || f == 0x2D { negative = f == 0x2D; a = a.dropFirst() }
    guard !a.isEmpty else { return nil }
    var value = 0
    var lastWasDigit = false
    for c in a {
        if c == 0x5F {
            if !lastWasDigit { return nil }
            lastWasDigit = false
            continue
        }
        guard let d = pyDecimalValue(c) else { return nil }
        value = value > (1 << 40) ? value : value * 10 + d
        lastWasDigit = true
    }
    if !lastWasDigit { return nil }
    return negative ? -value : value
}

/// The value of a decimal digit of any script (`unicodedata.decimal`).
func pyDecimalValue(_ c: UInt32) -> Int? {
    if c >= 0x30 && c <= 0x39 { return Int(c - 0x30) }
    guard let s = Unicode.Scalar(c), s.properties.numericType == .decimal, let v = s.properties.numericValue else { return nil }
    return Int(v)
}

// MARK: - Parser

private let specialChars: Set<UInt32> = Set(".\\[{()*+?^$|".unicodeScalars.map(\.value))
private let whitespaceChars: Set<UInt32> = [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C]
private func isDigitChar(_ c: UInt32) -> Bool { c >= 0x30 && c <= 0x39 }
private func isOctDigit(_ c: UInt32) -> Bool { c >= 0x30 && c <= 0x37 }
private func isHexDigit(_ c: UInt32) -> Bool {
    isDigitChar(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}
private func isASCIILetter(_ c: UInt32) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
private func u(_ s: Unicode.Scalar) -> UInt32 { s.value }

private func flagBit(_ c: UInt32) -> Int? {
    switch c {
    case u("i"): return PyReFlag.ignoreCase
    case u("L"): return PyReFlag.locale
    case u("m"): return PyReFlag.multiline
    case u("s"): return PyReFlag.dotAll
    case u("x"): return PyReFlag.verbose
    case u("a"): return PyReFlag.ascii
    case u("t"): return PyReFlag.template
    case u("u"): return PyReFlag.unicode
    default: return nil
    }
}

private func hexValue(_ cs: ArraySlice<UInt32>) -> UInt32 {
    var v: UInt32 = 0
    for c in cs {
        let d: UInt32 = isDigitChar(c) ? c - 0x30 : (c | 0x20) - 0x61 + 10
        v = v &* 16 &+ d
    }
    return v
}

private func octValue(_ cs: ArraySlice<UInt32>) -> UInt32 {
    var v: UInt32 = 0
    for c in cs { v = v &* 8 &+ (c - 0x30) }
    return v
}

/// The result of an escape: a literal, a category (inside or outside a set), a position, a
/// backreference.
private enum EscapeCode {
    case literal(UInt32)
    case category(PyReCategory)
    case at(PyReAt)
    case groupref(Int)
}

private func simpleEscape(_ c: UInt32) -> UInt32? {
    switch c {
    case u("a"): return 7
    case u("b"): return 8
    case u("f"): return 12
    case u("n"): return 10
    case u("r"): return 13
    case u("t"): return 9
    case u("v"): return 11
    case u("\\"): return 0x5C
    default: return nil
    }
}

private func categoryEscape(_ c: UInt32) -> EscapeCode? {
    switch c {
    case u("A"): return .at(.beginningString)
    case u("b"): return .at(.boundary)
    case u("B"): return .at(.nonBoundary)
    case u("d"): return .category(.digit)
    case u("D"): return .category(.notDigit)
    case u("s"): return .category(.space)
    case u("S"): return .category(.notSpace)
    case u("w"): return .category(.word)
    case u("W"): return .category(.notWord)
    case u("Z"): return .at(.endString)
    default: return nil
    }
}

/// `\x`, `\u`, `\U`, `\N{...}` (shared by both escape contexts); nil when `c` is none of them.
private func codeEscape(_ source: PyReTokenizer, _ c: UInt32) throws(PyReSyntaxError) -> UInt32? {
    let head: [UInt32] = [0x5C, c]
    func incomplete(_ digits: [UInt32]) -> PyReSyntaxError {
        let e = head + digits
        return source.error("incomplete escape \(PyReTokenizer.string(e))", e.count)
    }
    switch c {
    case u("x"):
        let d = try source.getwhile(2, isHexDigit)
        if d.count != 2 { throw incomplete(d) }
        return hexValue(d[...])
    case u("u"):
        let d = try source.getwhile(4, isHexDigit)
        if d.count != 4 { throw incomplete(d) }
        return hexValue(d[...])
    case u("U"):
        let d = try source.getwhile(8, isHexDigit)
        if d.count != 8 { throw incomplete(d) }
        let v = hexValue(d[...])
        if v > 0x10FFFF {
            let e = head + d
            throw source.error("bad escape \(PyReTokenizer.string(e))", e.count)
        }
        return v
    case u("N"):
        if !(try source.match(u("{"))) { throw source.error("missing {") }
        let name = try source.getuntil(u("}"), "character name")
        if let v = pyLookupCharacterName(PyReTokenizer.string(name)) { return v }
        throw source.error("undefined character name \(pythonRepr(PyReTokenizer.string(name)))", name.count + 4)
    default:
        return nil
    }
}

/// `unicodedata.lookup` for the names the standard library knows (`Unicode.Scalar.Properties.name`
/// and `nameAlias`), matched case-insensitively as Python does; built on first use.
func pyLookupCharacterName(_ name: String) -> UInt32? {
    var key = ""
    for u in name.unicodeScalars {  // Python upper-cases ASCII letters only
        key.unicodeScalars.append(u.value >= 0x61 && u.value <= 0x7A ? Unicode.Scalar(u.value - 32) ?? u : u)
    }
    return PyReNameTable.shared.table[key]
}

/// Every named scalar by upper-cased name and alias (about 150 000 entries, built once on the first
/// `\N{...}`): the standard library's names and correction aliases, plus the other formal aliases
/// of NameAliases.txt that `unicodedata.lookup` accepts (control, alternate, figment and
/// abbreviation: `LINE FEED`, `LF`, `BOM`, `ZWJ`, `VS1`-`VS256`, ...; checked against Python 3.11).
final class PyReNameTable: Sendable {
    /// The table, built on first use.
    static let shared = PyReNameTable()
    let table: [String: UInt32]

    /// The non-correction formal aliases (Unicode 14), "|"-separated per code point.
    private static let formalAliases: [(UInt32, String)] = [
        (0x0000, "NULL|NUL"),
        (0x0001, "START OF HEADING|SOH"),
        (0x0002, "START OF TEXT|STX"),
        (0x0003, "END OF TEXT|ETX"),
        (0x0004, "END OF TRANSMISSION|EOT"),
        (0x0005, "ENQUIRY|ENQ"),
        (0x0006, "ACKNOWLEDGE|ACK"),
        (0x0007, "ALERT|BEL"),
        (0x0008, "BACKSPACE|BS"),
        (0x0009, "CHARACTER TABULATION|HORIZONTAL TABULATION|HT|TAB"),
        (0x000A, "LINE FEED|NEW LINE|END OF LINE|LF|NL|EOL"),
        (0x000B, "LINE TABULATION|VERTICAL TABULATION|VT"),
        (0x000C, "FORM FEED|FF"),
        (0x000D, "CARRIAGE RETURN|CR"),
        (0x000E, "SHIFT OUT|LOCKING-SHIFT ONE|SO"),
        (0x000F, "SHIFT IN|LOCKING-SHIFT ZERO|SI"),
        (0x0010, "DATA LINK ESCAPE|DLE"),
        (0x0011, "DEVICE CONTROL ONE|DC1"),
        (0x0012, "DEVICE CONTROL TWO|DC2"),
        (0x0013, "DEVICE CONTROL THREE|DC3"),
        (0x0014, "DEVICE CONTROL FOUR|DC4"),
        (0x0015, "NEGATIVE ACKNOWLEDGE|NAK"),
        (0x0016, "SYNCHRONOUS IDLE|SYN"),
        (0x0017, "END OF TRANSMISSION BLOCK|ETB"),
        (0x0018, "CANCEL|CAN"),
        (0x0019, "END OF MEDIUM|EOM"),
        (0x001A, "SUBSTITUTE|SUB"),
        (0x001B, "ESCAPE|ESC"),
        (0x001C, "INFORMATION SEPARATOR FOUR|FILE SEPARATOR|FS"),
        (0x001D, "INFORMATION SEPARATOR THREE|GROUP SEPARATOR|GS"),
        (0x001E, "INFORMATION SEPARATOR TWO|RECORD SEPARATOR|RS"),
        (0x001F, "INFORMATION SEPARATOR ONE|UNIT SEPARATOR|US"),
        (0x0020, "SP"),
        (0x007F, "DELETE|DEL"),
        (0x0080, "PADDING CHARACTER|PAD"),
        (0x0081, "HIGH OCTET PRESET|HOP"),
        (0x0082, "BREAK PERMITTED HERE|BPH"),
        (0x0083, "NO BREAK HERE|NBH"),
        (0x0084, "INDEX|IND"),
        (0x0085, "NEXT LINE|NEL"),
        (0x0086, "START OF SELECTED AREA|SSA"),
        (0x0087, "END OF SELECTED AREA|ESA"),
        (0x0088, "CHARACTER TABULATION SET|HORIZONTAL TABULATION SET|HTS"),
        (0x0089, "CHARACTER TABULATION WITH JUSTIFICATION|HORIZONTAL TABULATION WITH JUSTIFICATION|HTJ"),
        (0x008A, "LINE TABULATION SET|VERTICAL TABULATION SET|VTS"),
        (0x008B, "PARTIAL LINE FORWARD|PARTIAL LINE DOWN|PLD"),
        (0x008C, "PARTIAL LINE BACKWARD|PARTIAL LINE UP|PLU"),
        (0x008D, "REVERSE LINE FEED|REVERSE INDEX|RI"),
        (0x008E, "SINGLE SHIFT TWO|SINGLE-SHIFT-2|SS2"),
        (0x008F, "SINGLE SHIFT THREE|SINGLE-SHIFT-3|SS3"),
        (0x0090, "DEVICE CONTROL STRING|DCS"),
        (0x0091, "PRIVATE USE ONE|PRIVATE USE-1|PU1"),
        (0x0092, "PRIVATE USE TWO|PRIVATE USE-2|PU2"),
        (0x0093, "SET TRANSMIT STATE|STS"),
        (0x0094, "CANCEL CHARACTER|CCH"),
        (0x0095, "MESSAGE WAITING|MW"),
        (0x0096, "START OF GUARDED AREA|START OF PROTECTED AREA|SPA"),
        (0x0097, "END OF GUARDED AREA|END OF PROTECTED AREA|EPA"),
        (0x0098, "START OF STRING|SOS"),
        (0x0099, "SINGLE GRAPHIC CHARACTER INTRODUCER|SGC"),
        (0x009A, "SINGLE CHARACTER INTRODUCER|SCI"),
        (0x009B, "CONTROL SEQUENCE INTRODUCER|CSI"),
        (0x009C, "STRING TERMINATOR|ST"),
        (0x009D, "OPERATING SYSTEM COMMAND|OSC"),
        (0x009E, "PRIVACY MESSAGE|PM"),
        (0x009F, "APPLICATION PROGRAM COMMAND|APC"),
        (0x00A0, "NBSP"),
        (0x00AD, "SHY"),
        (0x034F, "CGJ"),
        (0x061C, "ALM"),
        (0x180B, "FVS1"),
        (0x180C, "FVS2"),
        (0x180D, "FVS3"),
        (0x180E, "MVS"),
        (0x180F, "FVS4"),
        (0x200B, "ZWSP"),
        (0x200C, "ZWNJ"),
        (0x200D, "ZWJ"),
        (0x200E, "LRM"),
        (0x200F, "RLM"),
        (0x202A, "LRE"),
        (0x202B, "RLE"),
        (0x202C, "PDF"),
        (0x202D, "LRO"),
        (0x202E, "RLO"),
        (0x202F, "NNBSP"),
        (0x205F, "MMSP"),
        (0x2060, "WJ"),
        (0x2066, "LRI"),
        (0x2067, "RLI"),
        (0x2068, "FSI"),
        (0x2069, "PDI"),
        (0xFEFF, "BYTE ORDER MARK|BOM|ZWNBSP"),
    ]

    private init() {
        var t: [String: UInt32] = [:]
        t.reserveCapacity(160_000)
        for v in UInt32(0)...0x10FFFF {
            guard let s = Unicode.Scalar(v) else { continue }
            let p = s.properties
            if let n = p.name { t[n] = v }
            if let a = p.nameAlias, t[a] == nil { t[a] = v }
        }
        for (v, names) in PyReNameTable.formalAliases {
            for n in names.split(separator: "|") { t[String(n)] = v }
        }
        for i in UInt32(0)..<16 { t["VS\(i + 1)"] = 0xFE00 + i }
        for i in UInt32(0)..<240 { t["VS\(i + 17)"] = 0xE0100 + i }
        table = t
    }
}

/// `_class_escape`: an escape inside `[...]`.
private func classEscape(_ source: PyReTokenizer, _ tok: PyReToken) throws(PyReSyntaxError) -> PyReSetItem {
    let c = tok.second ?? 0
    if let v = simpleEscape(c) { return .literal(v) }
    if let code = categoryEscape(c), case .category(let cat) = code { return .category(cat) }
    if let v = try codeEscape(source, c) { return .literal(v) }
    if isOctDigit(c) {
        let more = try source.getwhile(2, isOctDigit)
        let digits = [c] + more
        let v = octValue(digits[...])
        if v > 0o377 {
            let e = [UInt32(0x5C)] + digits
            throw source.error("octal escape value \(PyReTokenizer.string(e)) outside of range 0-0o377", e.count)
        }
        return .literal(v)
    }
    if isDigitChar(c) || isASCIILetter(c) {
        throw source.error("bad escape \(tok.text)", 2)
    }
    return .literal(c)
}

/// `_escape`: an escape outside a set.
private func escape(_ source: PyReTokenizer, _ tok: PyReToken, _ state: PyReParseState) throws(PyReSyntaxError) -> EscapeCode {
    let c = tok.second ?? 0
    if let code = categoryEscape(c) { return code }
    if let v = simpleEscape(c) { return .literal(v) }
    if let v = try codeEscape(source, c) { return .literal(v) }
    if c == u("0") {
        let more = try source.getwhile(2, isOctDigit)
        return .literal(octValue(([c] + more)[...]))
    }
    if isDigitChar(c) {
        var digits: [UInt32] = [c]
        if let n = source.next?.char, isDigitChar(n) {
            try source.advance()
            digits.append(n)
            if isOctDigit(digits[0]), isOctDigit(digits[1]), let n3 = source.next?.char, isOctDigit(n3) {
                try source.advance()
                digits.append(n3)
                let v = octValue(digits[...])
                if v > 0o377 {
                    let e = [UInt32(0x5C)] + digits
                    throw source.error("octal escape value \(PyReTokenizer.string(e)) outside of range 0-0o377", e.count)
                }
                return .literal(v)
            }
        }
        var group = 0
        for d in digits { group = group * 10 + Int(d - 0x30) }
        if group < state.groups {
            if !state.checkgroup(group) { throw source.error("cannot refer to an open group", digits.count + 1) }
            try state.checklookbehindgroup(group, source)
            return .groupref(group)
        }
        throw source.error("invalid group reference \(group)", digits.count)
    }
    if isASCIILetter(c) { throw source.error("bad escape \(tok.text)", 2) }
    return .literal(c)
}

/// `_parse_sub`: alternatives separated by `|`.
func pyReParseSub(_ source: PyReTokenizer, _ state: PyReParseState, _ verboseIn: Bool, _ nested: Int) throws(PyReSyntaxError) -> [PyReNode] {
    if nested > 2 * pyReMaxNesting {
        throw PyReSyntaxError(message: "too many nested groups (more than \(pyReMaxNesting))", position: source.tell)
    }
    var verbose = verboseIn
    var items: [[PyReNode]] = []
    while true {
        items.append(try pyReParse(source, state, verbose, nested + 1, nested == 0 && items.isEmpty))
        if !(try source.match(u("|"))) { break }
        if nested == 0 { verbose = state.flags & PyReFlag.verbose != 0 }
    }
    if items.count == 1 { return items[0] }

    var subpattern: [PyReNode] = []
    // common prefix of every alternative
    prefixLoop: while true {
        var prefix: PyReNode?
        for item in items {
            guard let first = item.first else { break prefixLoop }
            if let p = prefix {
                if !p.samePrefix(first) { break prefixLoop }
            } else {
                prefix = first
            }
        }
        guard let p = prefix else { break }
        for i in items.indices { items[i].removeFirst() }
        subpattern.append(p)
    }
    // alternatives of one character each: a set
    var set: [PyReSetItem] = []
    var allSingle = true
    for item in items {
        guard item.count == 1 else { allSingle = false; break }
        switch item[0] {
        case .literal(let c): set.append(.literal(c))
        case .set(let s) where s.first != .negate: set.append(contentsOf: s)
        default: allSingle = false
        }
        if !allSingle { break }
    }
    if allSingle {
        subpattern.append(.set(uniq(set)))
        return subpattern
    }
    subpattern.append(.branch(items))
    return subpattern
}

private func uniq(_ items: [PyReSetItem]) -> [PyReSetItem] {
    var seen = Set<PyReSetItem>()
    return items.filter { seen.insert($0).inserted }
}

/// `_parse`: a sequence of items up to `|`, `)` or the end.
func pyReParse(_ source: PyReTokenizer, _ state: PyReParseState, _ verboseIn: Bool, _ nested: Int, _ first: Bool) throws(PyReSyntaxError) -> [PyReNode] {
    var verbose = verboseIn
    var subpattern: [PyReNode] = []
    while true {
        guard let this = source.next else { break }
        if this.char == u("|") || this.char == u(")") { break }
        try source.advance()

        if verbose {
            if let c = this.char, whitespaceChars.contains(c) { continue }
            if this.char == u("#") {
                while true {
                    let t = try source.get()
                    if t == nil || t?.char == 0x0A { break }
                }
                continue
            }
        }

        if this.isEscape {
            switch try escape(source, this, state) {
            case .literal(let v): subpattern.append(.literal(v))
            case .category(let cat): subpattern.append(.set([.category(cat)]))
            case .at(let a): subpattern.append(.at(a))
            case .groupref(let g): subpattern.append(.groupref(g))
            }
            continue
        }
        let ch = this.first
        if !specialChars.contains(ch) {
            subpattern.append(.literal(ch))
        } else if ch == u("[") {
            subpattern.append(try parseSet(source))
        } else if ch == u("*") || ch == u("+") || ch == u("?") || ch == u("{") {
            let here = source.tell
            var mn = 0, mx = pyReMaxRepeat
            if ch == u("?") {
                mx = 1
            } else if ch == u("+") {
                mn = 1
            } else if ch == u("{") {
                if source.next?.char == u("}") {
                    subpattern.append(.literal(ch))
                    continue
                }
                var lo: [UInt32] = [], hi: [UInt32] = []
                while let c = source.next?.char, isDigitChar(c) { lo.append(c); try source.advance() }
                if try source.match(u(",")) {
                    while let c = source.next?.char, isDigitChar(c) { hi.append(c); try source.advance() }
                } else {
                    hi = lo
                }
                if !(try source.match(u("}"))) {
                    subpattern.append(.literal(ch))
                    try source.seek(here)
                    continue
                }
                func number(_ ds: [UInt32]) -> Int {
                    var v = 0
                    for d in ds { v = v > pyReMaxRepeat ? v : v * 10 + Int(d - 0x30) }
                    return v
                }
                if !lo.isEmpty {
                    mn = number(lo)
                    if mn >= pyReMaxRepeat { throw PyReSyntaxError(message: "the repetition number is too large", position: nil) }
                }
                if !hi.isEmpty {
                    mx = number(hi)
                    if mx >= pyReMaxRepeat { throw PyReSyntaxError(message: "the repetition number is too large", position: nil) }
                    if mx < mn { throw source.error("min repeat greater than max repeat", source.tell - here) }
                }
            }
            guard let last = subpattern.last else {
                throw source.error("nothing to repeat", source.tell - here + 1)
            }
            var item: [PyReNode] = [last]
            switch last {
            case .at: throw source.error("nothing to repeat", source.tell - here + 1)
            case .repeatNode: throw source.error("multiple repeat", source.tell - here + 1)
            case let .subpattern(group, add, del, body) where group == nil && add == 0 && del == 0:
                item = body
            default: break
            }
            let kind: PyReRepeatKind
            if try source.match(u("?")) {
                kind = .lazy
            } else if try source.match(u("+")) {
                kind = .possessive
            } else {
                kind = .greedy
            }
            subpattern[subpattern.count - 1] = .repeatNode(kind: kind, min: mn, max: mx, body: item)
        } else if ch == u(".") {
            subpattern.append(.any)
        } else if ch == u("(") {
            let v = verbose
            if let node = try parseGroup(source, state, v, nested, first, subpattern.isEmpty, &verbose) {
                subpattern.append(node)
            }
        } else if ch == u("^") {
            subpattern.append(.at(.beginning))
        } else if ch == u("$") {
            subpattern.append(.at(.end))
        }
    }
    // unpack non-capturing groups without flags
    var out: [PyReNode] = []
    out.reserveCapacity(subpattern.count)
    for node in subpattern {
        if case let .subpattern(group, add, del, body) = node, group == nil, add == 0, del == 0 {
            out.append(contentsOf: body)
        } else {
            out.append(node)
        }
    }
    return out
}

/// `[...]` after the `[`.
private func parseSet(_ source: PyReTokenizer) throws(PyReSyntaxError) -> PyReNode {
    let here = source.tell - 1
    var set: [PyReSetItem] = []
    let negate = try source.match(u("^"))
    while true {
        guard let this = try source.get() else {
            throw source.error("unterminated character set", source.tell - here)
        }
        if this.char == u("]") && !set.isEmpty { break }
        var code1: PyReSetItem
        if this.isEscape {
            code1 = try classEscape(source, this)
        } else {
            code1 = .literal(this.first)
        }
        if try source.match(u("-")) {
            guard let that = try source.get() else {
                throw source.error("unterminated character set", source.tell - here)
            }
            if that.char == u("]") {
                set.append(code1)
                set.append(.literal(u("-")))
                break
            }
            let code2: PyReSetItem = that.isEscape ? try classEscape(source, that) : .literal(that.first)
            guard case .literal(let lo) = code1, case .literal(let hi) = code2, hi >= lo else {
                throw source.error("bad character range \(this.text)-\(that.text)", this.count + 1 + that.count)
            }
            set.append(.range(lo, hi))
        } else {
            set.append(code1)
        }
    }
    set = uniq(set)
    if set.count == 1, case .literal(let c) = set[0] {
        return negate ? .notLiteral(c) : .literal(c)
    }
    if negate { set.insert(.negate, at: 0) }
    return .set(set)
}

/// `(...)` after the `(`; nil for a comment or global flags (nothing to append).
private func parseGroup(_ source: PyReTokenizer, _ state: PyReParseState, _ verbose: Bool, _ nested: Int,
                        _ first: Bool, _ subpatternEmpty: Bool, _ verboseOut: inout Bool) throws(PyReSyntaxError) -> PyReNode? {
    let start = source.tell - 1
    var capture = true
    var atomic = false
    var name: [UInt32]?
    var addFlags = 0, delFlags = 0
    if try source.match(u("?")) {
        guard let charTok = try source.get() else { throw source.error("unexpected end of pattern") }
        let char = charTok.char
        if char == u("P") {
            if try source.match(u("<")) {
                let n = try source.getuntil(u(">"), "group name")
                try source.checkgroupname(n, 1)
                name = n
            } else if try source.match(u("=")) {
                let n = try source.getuntil(u(")"), "group name")
                try source.checkgroupname(n, 1)
                guard let gid = state.groupdict[PyReTokenizer.string(n)] else {
                    throw source.error("unknown group name \(pythonRepr(PyReTokenizer.string(n)))", n.count + 1)
                }
                if !state.checkgroup(gid) { throw source.error("cannot refer to an open group", n.count + 1) }
                try state.checklookbehindgroup(gid, source)
                return .groupref(gid)
            } else {
                guard let c = try source.get() else { throw source.error("unexpected end of pattern") }
                throw source.error("unknown extension ?P\(c.text)", c.count + 2)
            }
        } else if char == u(":") {
            capture = false
        } else if char == u("#") {
            while true {
                if source.next == nil { throw source.error("missing ), unterminated comment", source.tell - start) }
                if try source.get()?.char == u(")") { break }
            }
            return nil
        } else if char == u("=") || char == u("!") || char == u("<") {
            var behind = false
            var kind = charTok
            var savedLookbehind: Int?? = .none
            if char == u("<") {
                guard let c2 = try source.get() else { throw source.error("unexpected end of pattern") }
                guard c2.char == u("=") || c2.char == u("!") else {
                    throw source.error("unknown extension ?<\(c2.text)", c2.count + 2)
                }
                kind = c2
                behind = true
                savedLookbehind = .some(state.lookbehindgroups)
                if state.lookbehindgroups == nil { state.lookbehindgroups = state.groups }
            }
            let p = try pyReParseSub(source, state, verbose, nested + 1)
            if behind, case .some(let saved) = savedLookbehind, saved == nil { state.lookbehindgroups = nil }
            if !(try source.match(u(")"))) { throw source.error("missing ), unterminated subpattern", source.tell - start) }
            return .assertion(behind: behind, negate: kind.char == u("!"), body: p)
        } else if char == u("(") {
            let condname = try source.getuntil(u(")"), "group name")
            let condgroup: Int
            if pyIsIdentifier(condname) {
                guard let g = state.groupdict[PyReTokenizer.string(condname)] else {
                    throw source.error("unknown group name \(pythonRepr(PyReTokenizer.string(condname)))", condname.count + 1)
                }
                condgroup = g
            } else {
                guard let g = pyParseInt(condname), g >= 0 else {
                    throw source.error("bad character in group name \(pythonRepr(PyReTokenizer.string(condname)))", condname.count + 1)
                }
                if g == 0 { throw source.error("bad group number", condname.count + 1) }
                if g >= pyReMaxGroups { throw source.error("invalid group reference \(g)", condname.count + 1) }
                if state.grouprefpos[g] == nil { state.grouprefpos[g] = source.tell - condname.count - 1 }
                condgroup = g
            }
            try state.checklookbehindgroup(condgroup, source)
            let yes = try pyReParse(source, state, verbose, nested + 1, false)
            var no: [PyReNode]?
            if try source.match(u("|")) {
                no = try pyReParse(source, state, verbose, nested + 1, false)
                if source.next?.char == u("|") { throw source.error("conditional backref with more than two branches") }
            }
            if !(try source.match(u(")"))) { throw source.error("missing ), unterminated subpattern", source.tell - start) }
            return .groupExists(group: condgroup, yes: yes, no: no)
        } else if char == u(">") {
            capture = false
            atomic = true
        } else if let c = char, flagBit(c) != nil || c == u("-") {
            guard let flags = try parseFlags(source, state, c) else {
                if !first || !subpatternEmpty {
                    throw source.error("global flags not at the start of the expression", source.tell - start)
                }
                verboseOut = state.flags & PyReFlag.verbose != 0
                return nil
            }
            addFlags = flags.add
            delFlags = flags.del
            capture = false
        } else {
            throw source.error("unknown extension ?\(charTok.text)", charTok.count + 1)
        }
    }
    var group: Int?
    if capture {
        do {
            group = try state.opengroup(name.map(PyReTokenizer.string))
        } catch {
            throw source.error(error.message, (name?.count ?? 0) + 1)
        }
    }
    let subVerbose = (verbose || addFlags & PyReFlag.verbose != 0) && delFlags & PyReFlag.verbose == 0
    let p = try pyReParseSub(source, state, subVerbose, nested + 1)
    if !(try source.match(u(")"))) { throw source.error("missing ), unterminated subpattern", source.tell - start) }
    if let group { state.closegroup(group, p) }
    if atomic { return .atomic(p) }
    return .subpattern(group: group, add: addFlags, del: delFlags, body: p)
}

/// `_parse_flags`: nil for global flags `(?aiLmsux)`, else the scoped flags of `(?flags-flags:...)`.
private func parseFlags(_ source: PyReTokenizer, _ state: PyReParseState, _ first: UInt32) throws(PyReSyntaxError) -> (add: Int, del: Int)? {
    var addFlags = 0, delFlags = 0
    var char: PyReToken? = PyReToken(first: first, second: nil)
    func isAlpha(_ t: PyReToken) -> Bool {
        guard let c = t.char, let s = Unicode.Scalar(c) else { return false }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
    if first != u("-") {
        while true {
            guard let c = char?.char, let flag = flagBit(c) else { break }
            if c == u("L") { throw source.error("bad inline flags: cannot use 'L' flag with a str pattern") }
            addFlags |= flag
            if flag & PyReFlag.typeFlags != 0 && addFlags & PyReFlag.typeFlags != flag {
                throw source.error("bad inline flags: flags 'a', 'u' and 'L' are incompatible")
            }
            char = try source.get()
            guard let t = char else { throw source.error("missing -, : or )") }
            if t.char == u(")") || t.char == u("-") || t.char == u(":") { break }
            if t.char.flatMap(flagBit) == nil {
                throw source.error(isAlpha(t) ? "unknown flag" : "missing -, : or )", t.count)
            }
        }
    }
    if char?.char == u(")") {
        state.flags |= addFlags
        return nil
    }
    if addFlags & PyReFlag.globalFlags != 0 { throw source.error("bad inline flags: cannot turn on global flag", 1) }
    if char?.char == u("-") {
        char = try source.get()
        guard let t = char else { throw source.error("missing flag") }
        if t.char.flatMap(flagBit) == nil {
            throw source.error(isAlpha(t) ? "unknown flag" : "missing flag", t.count)
        }
        while true {
            guard let c = char?.char, let flag = flagBit(c) else { break }
            if flag & PyReFlag.typeFlags != 0 { throw source.error("bad inline flags: cannot turn off flags 'a', 'u' and 'L'") }
            delFlags |= flag
            char = try source.get()
            guard let t2 = char else { throw source.error("missing :") }
            if t2.char == u(":") { break }
            if t2.char.flatMap(flagBit) == nil {
                throw source.error(isAlpha(t2) ? "unknown flag" : "missing :", t2.count)
            }
        }
    }
    if delFlags & PyReFlag.globalFlags != 0 { throw source.error("bad inline flags: cannot turn off global flag", 1) }
    if addFlags & delFlags != 0 { throw source.error("bad inline flags: flag turned on and off", 1) }
    return (addFlags, delFlags)
}

/// `_parser.parse`: the whole pattern; returns the tree, the state (groups, global flags).
func pyReParsePattern(_ pattern: [UInt32]) throws(PyReSyntaxError) -> ([PyReNode], PyReParseState) {
    let source = try PyReTokenizer(pattern)
    let state = PyReParseState()
    let p = try pyReParseSub(source, state, false, 0)
    // fix_flags
    if state.flags & PyReFlag.locale != 0 {
        throw PyReSyntaxError(message: "cannot use LOCALE flag with a str pattern", position: nil)
    }
    if state.flags & PyReFlag.ascii == 0 {
        state.flags |= PyReFlag.unicode
    } else if state.flags & PyReFlag.unicode != 0 {
        throw PyReSyntaxError(message: "ASCII and UNICODE flags are incompatible", position: nil)
    }
    if source.next != nil { throw source.error("unbalanced parenthesis") }
    for (g, pos) in state.grouprefpos.sorted(by: { $0.value < $1.value }) where g >= state.groups {
        throw PyReSyntaxError(message: "invalid group reference \(g)", position: pos)
    }
    return (p, state)
}
