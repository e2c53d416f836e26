/// From the parse tree to the matcher's program, as `Lib/re/_compiler.py` turns it into sre code:
/// flags resolved per scope, literals and sets lowered for IGNORECASE exactly as sre does
/// (simple lowercase, the extra-case equivalences, the charset quirks), single-character repeats
/// as one instruction, lookbehind widths checked ("look-behind requires fixed-width pattern").

/// What one character must satisfy.
enum PyReCharTest: Sendable {
    case literal(UInt32), notLiteral(UInt32)
    /// IGNORECASE, Unicode: the character's lowercase equals / differs from the value.
    case literalLower(UInt32), notLiteralLower(UInt32)
    /// IGNORECASE, ASCII: the character's ASCII lowercase equals / differs from the value.
    case literalLowerASCII(UInt32), notLiteralLowerASCII(UInt32)
    /// `.` without DOTALL (anything but `\n`) and with it.
    case any, anyAll
    /// A character set (index into the program's sets).
    case set(Int)
}

/// A member of a compiled set that is tested one by one (the rest is a BMP bitmap).
enum PyReTailItem: Sendable {
    case literal(UInt32)
    case range(UInt32, UInt32)
    /// sre's RANGE_UNI_IGNORE: the (lowered) character or its uppercase is in the range.
    case rangeUniIgnore(UInt32, UInt32)
    case category(PyReCategory, unicode: Bool)
}

/// A compiled character set: `(found(x) != negate)` where `x` is the character, its ASCII
/// lowercase (mode 1) or its Unicode lowercase (mode 2).
struct PyReCharSet: Sendable {
    var negate = false
    var mode = 0
    var bitmap: [UInt64] = []  // BMP, 1024 words when any member is at or above U+0080
    var low: (UInt64, UInt64) = (0, 0)  // members below U+0080
    var tail: [PyReTailItem] = []
    /// The whole test's answer for characters below U+0080.
    var asciiAnswer: (UInt64, UInt64) = (0, 0)

    /// Whether `x` (already lowered per `mode`) is a member: bitmap, then the tail items.
    func found(_ x: UInt32) -> Bool {
        if x < 0x80 {
            let bit = UInt64(1) << UInt64(x & 63)
            if (x < 64 ? low.0 : low.1) & bit != 0 { return true }
        } else if x < 0x10000, !bitmap.isEmpty {
            if bitmap[Int(x >> 6)] & (UInt64(1) << UInt64(x & 63)) != 0 { return true }
        }
        for t in tail {
            switch t {
            case .literal(let c): if x == c { return true }
            case let .range(a, b): if a <= x && x <= b { return true }
            case let .rangeUniIgnore(a, b):
                if a <= x && x <= b { return true }
                let up = PyUnicode.upper(x)
                if a <= up && up <= b { return true }
            case let .category(cat, uni):
                if pyReCategory(cat, unicode: uni, x) { return true }
            }
        }
        return false
    }

    /// The set's test for the character `c` (a table lookup below U+0080).
    func matches(_ c: UInt32) -> Bool {
        if c < 0x80 {
            let bit = UInt64(1) << UInt64(c & 63)
            return (c < 64 ? asciiAnswer.0 : asciiAnswer.1) & bit != 0
        }
        return slowMatches(c)
    }

    /// The set's test computed from the members (used to fill the ASCII table and above U+0080).
    func slowMatches(_ c: UInt32) -> Bool {
        let x: UInt32
        switch mode {
        case 1: x = PyUnicode.lowerASCII(c)
        case 2: x = PyUnicode.lower(c)
        default: x = c
        }
        return found(x) != negate
    }
}

/// sre's category test (`CATEGORY_UNI_*` or the ASCII ones).
@inline(__always)
func pyReCategory(_ cat: PyReCategory, unicode: Bool, _ c: UInt32) -> Bool {
    switch cat {
    case .digit: return unicode ? PyUnicode.isDigit(c) : PyUnicode.isDigitASCII(c)
    case .notDigit: return !(unicode ? PyUnicode.isDigit(c) : PyUnicode.isDigitASCII(c))
    case .space: return unicode ? PyUnicode.isSpace(c) : PyUnicode.isSpaceASCII(c)
    case .notSpace: return !(unicode ? PyUnicode.isSpace(c) : PyUnicode.isSpaceASCII(c))
    case .word: return unicode ? PyUnicode.isWord(c) : PyUnicode.isWordASCII(c)
    case .notWord: return !(unicode ? PyUnicode.isWord(c) : PyUnicode.isWordASCII(c))
    }
}

/// Zero-width tests after MULTILINE and ASCII/UNICODE are applied.
enum PyReAtTest: Sendable {
    case beginning, beginningLine, end, endLine, endString
    case boundary(unicode: Bool), nonBoundary(unicode: Bool)
}

/// One instruction of the backtracking matcher. Loops keep their iteration count and the
/// position their last optional iteration began at in registers (sre's repeat contexts).
enum PyReInst: Sendable {
    case char(PyReCharTest)
    /// sre's REPEAT_ONE / MIN_REPEAT_ONE / POSSESSIVE_REPEAT_ONE; the tail is the next instruction.
    case repeatOne(PyReCharTest, min: Int, max: Int, kind: PyReRepeatKind)
    case branch([Int])
    case jump(Int)
    case at(PyReAtTest)
    case mark(Int)
    /// Backreference; mode 0 exact, 1 ASCII lowercase, 2 Unicode lowercase.
    case groupref(group: Int, mode: Int)
    case groupExists(group: Int, no: Int)
    case repeatInit(reg: Int, until: Int)
    /// sre's MAX_UNTIL / MIN_UNTIL; the tail is the next instruction.
    case until(reg: Int, min: Int, max: Int, body: Int, lazy: Bool)
    case possessiveInit(reg: Int)
    case possessiveLoop(reg: Int, min: Int, max: Int, body: Int, exit: Int)
    case atomic(body: Int, exit: Int)
    case assertion(back: Int, negate: Bool, body: Int, exit: Int)
    /// The end of the whole pattern or of a nested run (atomic group, lookaround, possessive
    /// iteration).
    case succeed
}

/// A compiled pattern.
struct PyReProgram: Sendable {
    var insts: [PyReInst] = []
    var sets: [PyReCharSet] = []
    var groups = 0
    var registers = 0
    /// Whether the result cannot depend on captures (no backreference, no conditional): then
    /// marks are left out and states already explored are not explored again.
    var memoizable = true
    /// Per instruction: index into `loopLists`, the loops whose counts its future depends on.
    var keyLoops: [Int] = []
    /// (register, radix) lists; a count is reduced to what can still matter (counts at or above
    /// the minimum of an unbounded loop are alike), and each loop adds one bit: whether the
    /// current position is where its last optional iteration began (the empty-iteration check).
    var loopLists: [[(reg: Int, radix: Int)]] = [[]]
    /// The largest product of (2 x radix) over one list.
    var maxLoopRadix = 1
}

private func containsBackrefs(_ nodes: [PyReNode]) -> Bool {
    for n in nodes {
        switch n {
        case .groupref, .groupExists: return true
        case .branch(let items): if items.contains(where: containsBackrefs) { return true }
        case .subpattern(_, _, _, let b), .atomic(let b), .repeatNode(_, _, _, let b), .assertion(_, _, let b):
            if containsBackrefs(b) { return true }
        default: break
        }
    }
    return false
}

/// Compiles a parsed pattern. Throws the compiler's errors (lookbehind width, TEMPLATE repeats).
struct PyReCompiler {
    var prog = PyReProgram()
    let state: PyReParseState
    var loopStack: [(reg: Int, radix: Int)] = []
    var listIndex: [String: Int] = ["": 0]

    init(state: PyReParseState) { self.state = state }

    /// The program of a parsed pattern under its global flags, ending in `succeed`.
    static func compile(_ nodes: [PyReNode], _ state: PyReParseState) throws(PyReSyntaxError) -> PyReProgram {
        var c = PyReCompiler(state: state)
        c.prog.groups = state.groups - 1
        c.prog.memoizable = !containsBackrefs(nodes)
        try c.emit(nodes, state.flags)
        c.append(.succeed)
        return c.prog
    }

    @discardableResult
    /// Appends an instruction (recording the loops its memo key depends on); returns its index.
    mutating func append(_ i: PyReInst) -> Int {
        let key = loopStack.map { "\($0.reg):\($0.radix)" }.joined(separator: ",")
        let idx: Int
        if let existing = listIndex[key] {
            idx = existing
        } else {
            idx = prog.loopLists.count
            prog.loopLists.append(loopStack)
            listIndex[key] = idx
            var product = 1
            for l in loopStack {
                let r = 2 * Swift.max(l.radix, 1)
                product = product > (1 << 40) / r ? (1 << 41) : product * r
            }
            prog.maxLoopRadix = Swift.max(prog.maxLoopRadix, product)
        }
        prog.insts.append(i)
        prog.keyLoops.append(idx)
        return prog.insts.count - 1
    }

    /// `_combine_flags`: a scoped type flag (a, u) replaces the enclosing one.
    func combine(_ flags: Int, _ add: Int, _ del: Int) -> Int {
        var f = flags
        if add & PyReFlag.typeFlags != 0 { f &= ~PyReFlag.typeFlags }
        return (f | add) & ~del
    }

    /// The test of a literal (or its negation) under `flags`.
    mutating func literalTest(_ c: UInt32, _ flags: Int, negate: Bool) -> PyReCharTest {
        guard flags & PyReFlag.ignoreCase != 0 else { return negate ? .notLiteral(c) : .literal(c) }
        if flags & PyReFlag.unicode != 0 {
            if !PyUnicode.isCased(c) { return negate ? .notLiteral(c) : .literal(c) }
            let lo = PyUnicode.lower(c)
            guard let fixes = PyUnicode.extraCases[lo] else { return negate ? .notLiteralLower(lo) : .literalLower(lo) }
            var set = PyReCharSet()
            set.negate = negate
            set.mode = 2
            for k in [lo] + fixes { setBit(&set, k) }
            return .set(addSet(set))
        }
        if !PyUnicode.isCasedASCII(c) { return negate ? .notLiteral(c) : .literal(c) }
        let lo = PyUnicode.lowerASCII(c)
        return negate ? .notLiteralLowerASCII(lo) : .literalLowerASCII(lo)
    }

    /// Adds a BMP character to the set's bitmap (beyond the BMP is the caller's tail item).
    func setBit(_ set: inout PyReCharSet, _ x: UInt32) {
        if x < 0x80 {
            let bit = UInt64(1) << UInt64(x & 63)
            if x < 64 { set.low.0 |= bit } else { set.low.1 |= bit }
        } else if x < 0x10000 {
            if set.bitmap.isEmpty { set.bitmap = [UInt64](repeating: 0, count: 1024) }
            set.bitmap[Int(x >> 6)] |= UInt64(1) << UInt64(x & 63)
        }
    }

    /// Stores a set with its ASCII answer table; returns its index.
    mutating func addSet(_ s: PyReCharSet) -> Int {
        var s = s
        var a: (UInt64, UInt64) = (0, 0)
        for c in UInt32(0)..<0x80 where s.slowMatches(c) {
            let bit = UInt64(1) << UInt64(c & 63)
            if c < 64 { a.0 |= bit } else { a.1 |= bit }
        }
        s.asciiAnswer = a
        prog.sets.append(s)
        return prog.sets.count - 1
    }

    /// `_optimize_charset` and the choice of IN / IN_IGNORE / IN_UNI_IGNORE.
    mutating func setTest(_ items: [PyReSetItem], _ flags: Int) -> PyReCharTest {
        let ignore = flags & PyReFlag.ignoreCase != 0
        let uni = flags & PyReFlag.unicode != 0
        let lowerUni: (UInt32) -> UInt32 = { PyUnicode.lower($0) }
        let lowerASCII: (UInt32) -> UInt32 = { PyUnicode.lowerASCII($0) }
        let fixup: ((UInt32) -> UInt32)? = ignore ? (uni ? lowerUni : lowerASCII) : nil
        let iscased: (UInt32) -> Bool = { c in uni ? PyUnicode.isCased(c) : PyUnicode.isCasedASCII(c) }
        let useFixes = ignore && uni
        var set = PyReCharSet()
        var hascased = false
        for item in items {
            switch item {
            case .negate:
                set.negate = true
            case .literal(let av):
                if let f = fixup {
                    let lo = f(av)
                    if lo < 0x10000 {
                        setBit(&set, lo)
                        if useFixes, let fx = PyUnicode.extraCases[lo] { for k in fx { setBit(&set, k) } }
                        if !hascased && iscased(av) { hascased = true }
                    } else {
                        set.tail.append(.literal(av))
                        hascased = true
                    }
                } else if av < 0x10000 {
                    setBit(&set, av)
                } else {
                    set.tail.append(.literal(av))
                }
            case let .range(a, b):
                if let f = fixup {
                    var overflow = false
                    var i = a
                    while i <= b {
                        let l = f(i)
                        if l >= 0x10000 { overflow = true; break }
                        setBit(&set, l)
                        if useFixes, let fx = PyUnicode.extraCases[l] { for k in fx { setBit(&set, k) } }
                        if i == UInt32.max { break }
                        i += 1
                    }
                    if overflow {
                        set.tail.append(.rangeUniIgnore(a, b))
                        hascased = true
                    } else if !hascased {
                        var j = a
                        while j <= b {
                            if iscased(j) { hascased = true; break }
                            j += 1
                        }
                    }
                } else {
                    var i = a
                    while i <= b && i < 0x10000 { setBit(&set, i); i += 1 }
                    if b >= 0x10000 { set.tail.append(.range(a, b)) }
                }
            case .category(let cat):
                set.tail.append(.category(cat, unicode: uni))
            }
        }
        if ignore && hascased { set.mode = uni ? 2 : 1 }
        return .set(addSet(set))
    }

    /// The single-character test of a "simple" item (`_simple`), or nil.
    mutating func simpleTest(_ nodes: [PyReNode], _ flags: Int) -> PyReCharTest? {
        guard nodes.count == 1 else { return nil }
        switch nodes[0] {
        case .literal(let c): return literalTest(c, flags, negate: false)
        case .notLiteral(let c): return literalTest(c, flags, negate: true)
        case .any: return flags & PyReFlag.dotAll != 0 ? .anyAll : .any
        case .set(let items): return setTest(items, flags)
        case let .subpattern(group, add, del, body) where group == nil:
            guard isSimple(body) else { return nil }
            return simpleTest(body, combine(flags, add, del))
        default: return nil
        }
    }

    /// `_simple`: one single-character item, possibly in flag-only non-capturing groups.
    func isSimple(_ nodes: [PyReNode]) -> Bool {
        guard nodes.count == 1 else { return false }
        switch nodes[0] {
        case .literal, .notLiteral, .any, .set: return true
        case let .subpattern(group, _, _, body): return group == nil && isSimple(body)
        default: return false
        }
    }

    /// Points the jump at `at` to `target`.
    mutating func patchJump(_ at: Int, to target: Int) {
        if case .jump = prog.insts[at] { prog.insts[at] = .jump(target) }
    }

    /// Compiles a sequence under `flags` (`_compile`).
    mutating func emit(_ nodes: [PyReNode], _ flags: Int) throws(PyReSyntaxError) {
        for node in nodes {
            switch node {
            case .literal(let c):
                append(.char(literalTest(c, flags, negate: false)))
            case .notLiteral(let c):
                append(.char(literalTest(c, flags, negate: true)))
            case .any:
                append(.char(flags & PyReFlag.dotAll != 0 ? .anyAll : .any))
            case .set(let items):
                append(.char(setTest(items, flags)))
            case .at(let a):
                let multi = flags & PyReFlag.multiline != 0
                let uni = flags & PyReFlag.unicode != 0
                let t: PyReAtTest
                switch a {
                case .beginning: t = multi ? .beginningLine : .beginning
                case .beginningString: t = .beginning
                case .end: t = multi ? .endLine : .end
                case .endString: t = .endString
                case .boundary: t = .boundary(unicode: uni)
                case .nonBoundary: t = .nonBoundary(unicode: uni)
                }
                append(.at(t))
            case .branch(let items):
                let b = append(.branch([]))
                var starts: [Int] = []
                var jumps: [Int] = []
                for item in items {
                    starts.append(prog.insts.count)
                    try emit(item, flags)
                    jumps.append(append(.jump(0)))
                }
                let end = prog.insts.count
                for j in jumps { patchJump(j, to: end) }
                prog.insts[b] = .branch(starts)
            case let .subpattern(group, add, del, body):
                if let g = group, g > 0, !prog.memoizable { append(.mark(2 * (g - 1))) }
                try emit(body, combine(flags, add, del))
                if let g = group, g > 0, !prog.memoizable { append(.mark(2 * (g - 1) + 1)) }
            case .atomic(let body):
                let a = append(.atomic(body: 0, exit: 0))
                let saved = loopStack
                loopStack = []
                try emit(body, flags)
                append(.succeed)
                loopStack = saved
                prog.insts[a] = .atomic(body: a + 1, exit: prog.insts.count)
            case let .repeatNode(kind, mn, mx, body):
                if flags & PyReFlag.template != 0 {
                    let op = kind == .greedy ? "MAX_REPEAT" : kind == .lazy ? "MIN_REPEAT" : "POSSESSIVE_REPEAT"
                    throw PyReSyntaxError(message: "internal: unsupported template operator \(op)", position: nil)
                }
                if isSimple(body), let t = simpleTest(body, flags) {
                    append(.repeatOne(t, min: mn, max: mx, kind: kind))
                    continue
                }
                let reg = prog.registers
                prog.registers += 1
                let radix = mx == pyReMaxRepeat ? mn + 1 : mx + 1
                if kind == .possessive {
                    append(.possessiveInit(reg: reg))
                    loopStack.append((reg, radix))
                    let l = append(.possessiveLoop(reg: reg, min: mn, max: mx, body: 0, exit: 0))
                    loopStack.removeLast()
                    let saved = loopStack
                    loopStack = []
                    try emit(body, flags)
                    append(.succeed)
                    loopStack = saved
                    prog.insts[l] = .possessiveLoop(reg: reg, min: mn, max: mx, body: l + 1, exit: prog.insts.count)
                } else {
                    let r = append(.repeatInit(reg: reg, until: 0))
                    loopStack.append((reg, radix))
                    try emit(body, flags)
                    let j = append(.jump(0))
                    let u = append(.until(reg: reg, min: mn, max: mx, body: r + 1, lazy: kind == .lazy))
                    loopStack.removeLast()
                    patchJump(j, to: u)
                    prog.insts[r] = .repeatInit(reg: reg, until: u)
                }
            case .groupref(let g):
                let mode = flags & PyReFlag.ignoreCase == 0 ? 0 : (flags & PyReFlag.unicode != 0 ? 2 : 1)
                append(.groupref(group: g, mode: mode))
            case let .groupExists(g, yes, no):
                let e = append(.groupExists(group: g, no: 0))
                try emit(yes, flags)
                if let no {
                    let j = append(.jump(0))
                    prog.insts[e] = .groupExists(group: g, no: prog.insts.count)
                    try emit(no, flags)
                    patchJump(j, to: prog.insts.count)
                } else {
                    prog.insts[e] = .groupExists(group: g, no: prog.insts.count)
                }
            case let .assertion(behind, negate, body):
                var back = 0
                if behind {
                    let (lo, hi) = pyReWidth(body, state)
                    if lo > 0xFFFF_FFFF { throw PyReSyntaxError(message: "looks too much behind", position: nil) }
                    if lo != hi { throw PyReSyntaxError(message: "look-behind requires fixed-width pattern", position: nil) }
                    back = lo
                }
                let a = append(.assertion(back: 0, negate: negate, body: 0, exit: 0))
                let saved = loopStack
                loopStack = []
                try emit(body, flags)
                append(.succeed)
                loopStack = saved
                prog.insts[a] = .assertion(back: back, negate: negate, body: a + 1, exit: prog.insts.count)
            }
        }
    }
}
