/// The backtracking matcher: sre's order of exploration (so atomic groups, possessive repeats and
/// lookarounds commit to what sre commits to), with an explicit choice stack (no recursion, any
/// pattern or name length is safe), an undo log for captures and loop registers, and a step
/// budget. Patterns without backreferences or conditionals (whose result cannot depend on
/// captures) never explore one state (instruction, position, relevant loop counts) twice, which
/// makes them polynomial: `(a+)+$` on 'a' * 25 + '!' takes microseconds instead of sre's seconds.

/// The budget was spent before the match was decided.
struct PyReBudgetExceeded: Error {
    var steps: Int
}

/// One match of a program against one subject (a module name's scalars); `run()` once.
struct PyReMatcher {
    /// The default work bound per (pattern, name): instructions executed plus backtracks.
    static let defaultStepLimit = 20_000_000
    /// Choice points and undo entries kept at once are bounded too (memory).
    static let stackLimit = 4_000_000
    /// Explored states remembered at once (memory of the memo, 8 bytes each plus the set).
    static let visitedLimit = 8_000_000

    private enum Kind: UInt8 {
        case alternative, greedyOne, lazyOne, untilTail, untilIterate
        case atomicBarrier, assertBarrier, negAssertBarrier, possMandatory, possOptional
        /// Only restores its capture snapshot (the last alternative of a branch, the last tail
        /// attempt of a single-character repeat) and keeps backtracking.
        case restoreOnly
    }

    /// Which captures a choice point restores when it is backtracked to: sre restores the
    /// highest set mark (`LASTMARK_RESTORE`) at its save points, and the marks themselves
    /// (`MARK_POP`) only where a repeat context is active or always (MAX_UNTIL iterations,
    /// possessive iterations). Captures set in a failed tail elsewhere stay, as in sre.
    private enum Snapshot {
        case none, lastmark, full, fullInRepeat
    }

    private struct Choice {
        var kind: Kind
        var pc: Int
        var pos: Int
        var aux: Int
        var log: Int
        var vlog: Int
        var savedLastmark: Int
        var savedMarks: [Int]?
    }

    let prog: PyReProgram
    let s: [UInt32]
    let n: Int
    /// [0]: the active repeat context (sre's `state->repeat`, a loop register or -1); then per
    /// loop register: count, last position, enclosing repeat context. Restored on backtracking.
    private var vals: [Int]
    private let regBase = 1
    /// Captures (sre's marks and lastmark): restored only where sre restores them.
    private var marks: [Int]
    private var lastmark = -1
    private var undo: [(Int, Int)] = []
    private var choices: [Choice] = []
    private var barriers: [Int] = []
    private var steps = 0
    private let stepLimit: Int

    // memo of explored states
    private let memo: Bool
    private var bitmap: [UInt64] = []
    private var visitedSet = Set<Int>()
    private var useBitmap = false
    private var visitedLog: [Int] = []
    private var overflowed = false
    private let progCount: Int
    private let posRadix: Int

    init(prog: PyReProgram, subject: [UInt32], stepLimit: Int = PyReMatcher.defaultStepLimit) {
        self.prog = prog
        s = subject
        n = subject.count
        self.stepLimit = stepLimit
        vals = [Int](repeating: -1, count: 1 + 3 * prog.registers)
        marks = [Int](repeating: -1, count: 2 * prog.groups)
        progCount = prog.insts.count
        posRadix = n + 1
        let (a, o1) = progCount.multipliedReportingOverflow(by: posRadix)
        let (space, o2) = a.multipliedReportingOverflow(by: prog.maxLoopRadix)
        memo = prog.memoizable && prog.maxLoopRadix <= (1 << 40) && !o1 && !o2 && space < (1 << 60)
        if memo && space <= (1 << 20) {
            useBitmap = true
            bitmap = [UInt64](repeating: 0, count: space / 64 + 1)
        }
    }

    // MARK: registers

    @inline(__always) private mutating func set(_ i: Int, _ v: Int) {
        if vals[i] != v {
            undo.append((i, vals[i]))
            vals[i] = v
        }
    }

    @inline(__always) private mutating func undoTo(_ h: Int) {
        while undo.count > h {
            let (i, v) = undo.removeLast()
            vals[i] = v
        }
    }

    @inline(__always) private func count(_ reg: Int) -> Int { vals[regBase + 3 * reg] }
    @inline(__always) private func last(_ reg: Int) -> Int { vals[regBase + 3 * reg + 1] }
    @inline(__always) private func enclosing(_ reg: Int) -> Int { vals[regBase + 3 * reg + 2] }
    @inline(__always) private mutating func setCount(_ reg: Int, _ v: Int) { set(regBase + 3 * reg, v) }
    @inline(__always) private mutating func setLast(_ reg: Int, _ v: Int) { set(regBase + 3 * reg + 1, v) }

    private func groupSpan(_ group: Int) -> (Int, Int)? {
        let i = 2 * (group - 1)
        guard group >= 1, group <= prog.groups, i < lastmark else { return nil }
        let p = marks[i], e = marks[i + 1]
        if p < 0 || e < 0 || e < p { return nil }
        return (p, e)
    }

    // MARK: character tests

    @inline(__always) private func test(_ t: PyReCharTest, _ c: UInt32) -> Bool {
        switch t {
        case .literal(let v): return c == v
        case .notLiteral(let v): return c != v
        case .literalLower(let v): return PyUnicode.lower(c) == v
        case .notLiteralLower(let v): return PyUnicode.lower(c) != v
        case .literalLowerASCII(let v): return PyUnicode.lowerASCII(c) == v
        case .notLiteralLowerASCII(let v): return PyUnicode.lowerASCII(c) != v
        case .any: return c != 0x0A
        case .anyAll: return true
        case .set(let i): return prog.sets[i].matches(c)
        }
    }

    private func isWord(_ c: UInt32, _ unicode: Bool) -> Bool { unicode ? PyUnicode.isWord(c) : PyUnicode.isWordASCII(c) }

    private func at(_ t: PyReAtTest, _ pos: Int) -> Bool {
        switch t {
        case .beginning: return pos == 0
        case .beginningLine: return pos == 0 || s[pos - 1] == 0x0A
        case .end: return pos == n || (pos == n - 1 && s[pos] == 0x0A)
        case .endLine: return pos == n || s[pos] == 0x0A
        case .endString: return pos == n
        case .boundary(let uni):
            if n == 0 { return false }
            let that = pos > 0 && isWord(s[pos - 1], uni)
            let this = pos < n && isWord(s[pos], uni)
            return this != that
        case .nonBoundary(let uni):
            if n == 0 { return false }
            let that = pos > 0 && isWord(s[pos - 1], uni)
            let this = pos < n && isWord(s[pos], uni)
            return this == that
        }
    }

    // MARK: memo

    /// False when (pc, pos, loop counts) was explored already.
    private mutating func firstVisit(_ pc: Int, _ pos: Int) -> Bool {
        var regKey = 0
        var mul = 1
        for l in prog.loopLists[prog.keyLoops[pc]] {
            let c = Swift.min(Swift.max(count(l.reg), 0), l.radix - 1)
            regKey += (2 * c + (last(l.reg) == pos ? 1 : 0)) * mul
            mul *= 2 * l.radix
        }
        let key = pc + progCount * (pos + posRadix * regKey)
        if useBitmap {
            let w = key >> 6, b = UInt64(1) << UInt64(key & 63)
            if bitmap[w] & b != 0 { return false }
            bitmap[w] |= b
        } else {
            if !visitedSet.insert(key).inserted { return false }
        }
        visitedLog.append(key)
        if visitedLog.count > PyReMatcher.visitedLimit { overflowed = true }
        return true
    }

    /// Forgets the states explored since `height` (they belong to a nested run that succeeded, so
    /// they are not known failures).
    private mutating func forget(since height: Int) {
        while visitedLog.count > height {
            let key = visitedLog.removeLast()
            if useBitmap {
                bitmap[key >> 6] &= ~(UInt64(1) << UInt64(key & 63))
            } else {
                visitedSet.remove(key)
            }
        }
    }

    // MARK: run

    private mutating func push(_ kind: Kind, _ pc: Int, _ pos: Int, _ aux: Int = 0, _ snapshot: Snapshot = .none) throws(PyReBudgetExceeded) {
        var lm = -2
        var ms: [Int]?
        if !memo {
            switch snapshot {
            case .none: break
            case .lastmark: lm = lastmark
            case .full: lm = lastmark; ms = marks
            case .fullInRepeat: lm = lastmark; if vals[0] >= 0 { ms = marks }
            }
        }
        try push(kind, pc, pos, aux, savedLastmark: lm, savedMarks: ms)
    }

    private mutating func push(_ kind: Kind, _ pc: Int, _ pos: Int, _ aux: Int, savedLastmark: Int, savedMarks: [Int]?) throws(PyReBudgetExceeded) {
        if choices.count >= PyReMatcher.stackLimit || undo.count >= PyReMatcher.stackLimit {
            throw PyReBudgetExceeded(steps: steps)
        }
        choices.append(Choice(kind: kind, pc: pc, pos: pos, aux: aux, log: undo.count, vlog: visitedLog.count,
                              savedLastmark: savedLastmark, savedMarks: savedMarks))
        switch kind {
        case .atomicBarrier, .assertBarrier, .negAssertBarrier, .possMandatory, .possOptional:
            barriers.append(choices.count - 1)
        default: break
        }
    }

    /// Whether the program matches at position 0 (`re.match`).
    mutating func run() throws(PyReBudgetExceeded) -> Bool {
        var pc = 0
        var pos = 0
        let insts = prog.insts
        mainLoop: while true {
            steps += 1
            if steps > stepLimit { throw PyReBudgetExceeded(steps: steps) }
            var ok = true
            if memo && !firstVisit(pc, pos) {
                ok = false
            } else if overflowed {
                throw PyReBudgetExceeded(steps: steps)
            } else {
                switch insts[pc] {
                case .char(let t):
                    if pos < n && test(t, s[pos]) { pos += 1; pc += 1 } else { ok = false }
                case let .repeatOne(t, mn, mx, kind):
                    if mn > n - pos { ok = false; break }
                    switch kind {
                    case .greedy, .possessive:
                        let limit = mx == pyReMaxRepeat ? n : Swift.min(n, pos + mx)
                        var e = pos
                        while e < limit && test(t, s[e]) { e += 1 }
                        steps += (e - pos) / 8
                        if e - pos < mn { ok = false; break }
                        if kind == .greedy {
                            try push(e - pos > mn ? .greedyOne : .restoreOnly, pc, e, pos + mn, .fullInRepeat)
                        }
                        pos = e
                        pc += 1
                    case .lazy:
                        var e = pos
                        while e - pos < mn {
                            if test(t, s[e]) { e += 1 } else { break }
                        }
                        if e - pos < mn { ok = false; break }
                        try push(.lazyOne, pc, e, pos, .fullInRepeat)
                        pos = e
                        pc += 1
                    }
                case .branch(let starts):
                    guard let first = starts.first else { ok = false; break }
                    try push(starts.count > 1 ? .alternative : .restoreOnly, pc, pos, 1, .fullInRepeat)
                    pc = first
                case .jump(let t):
                    pc = t
                case .at(let t):
                    if at(t, pos) { pc += 1 } else { ok = false }
                case .mark(let i):
                    if i > lastmark {
                        var j = lastmark + 1
                        while j < i { marks[j] = -1; j += 1 }
                        lastmark = i
                    }
                    marks[i] = pos
                    pc += 1
                case let .groupref(g, mode):
                    guard let (p, e) = groupSpan(g) else { ok = false; break }
                    if e - p > n - pos { ok = false; break }
                    var k = 0
                    while k < e - p {
                        let a = s[pos + k], b = s[p + k]
                        let same: Bool
                        switch mode {
                        case 1: same = PyUnicode.lowerASCII(a) == PyUnicode.lowerASCII(b)
                        case 2: same = PyUnicode.lower(a) == PyUnicode.lower(b)
                        default: same = a == b
                        }
                        if !same { break }
                        k += 1
                    }
                    if k < e - p { ok = false; break }
                    pos += e - p
                    pc += 1
                case let .groupExists(g, no):
                    pc = groupSpan(g) == nil ? no : pc + 1
                case let .repeatInit(reg, until):
                    setCount(reg, 0)
                    setLast(reg, -1)
                    set(regBase + 3 * reg + 2, vals[0])
                    set(0, reg)
                    pc = until
                case let .until(reg, mn, mx, body, lazy):
                    let c = count(reg)
                    if c < mn {
                        setCount(reg, c + 1)
                        pc = body
                    } else if lazy {
                        try push(.untilIterate, pc, pos, 0, enclosing(reg) >= 0 ? .full : .lastmark)
                        set(0, enclosing(reg))
                        pc += 1
                    } else if (c < mx || mx == pyReMaxRepeat) && pos != last(reg) {
                        try push(.untilTail, pc, pos, 0, .full)
                        setCount(reg, c + 1)
                        setLast(reg, pos)
                        pc = body
                    } else {
                        set(0, enclosing(reg))
                        pc += 1
                    }
                case .possessiveInit(let reg):
                    setCount(reg, 0)
                    setLast(reg, -2)
                    pc += 1
                case let .possessiveLoop(reg, mn, mx, body, exit):
                    let c = count(reg)
                    if c < mn {
                        try push(.possMandatory, pc, pos)
                        pc = body
                    } else if (c < mx || mx == pyReMaxRepeat) && pos != last(reg) {
                        setLast(reg, pos)
                        try push(.possOptional, pc, pos, exit, .full)
                        pc = body
                    } else {
                        pc = exit
                    }
                case let .atomic(body, exit):
                    try push(.atomicBarrier, exit, pos)
                    pc = body
                case let .assertion(back, negate, body, exit):
                    if pos < back {
                        if negate { pc = exit } else { ok = false }
                        break
                    }
                    try push(negate ? .negAssertBarrier : .assertBarrier, exit, pos, 0, negate ? .fullInRepeat : .none)
                    pos -= back
                    pc = body
                case .succeed:
                    guard let bi = barriers.popLast() else { return true }
                    let b = choices[bi]
                    choices.removeSubrange(bi...)
                    if memo { forget(since: b.vlog) }
                    switch b.kind {
                    case .atomicBarrier:
                        pc = b.pc
                    case .assertBarrier:
                        pc = b.pc
                        pos = b.pos
                    case .negAssertBarrier:
                        undoTo(b.log)
                        ok = false
                    case .possMandatory, .possOptional:
                        if case let .possessiveLoop(reg, _, _, _, _) = insts[b.pc] {
                            setCount(reg, count(reg) + 1)
                        }
                        pc = b.pc
                    default:
                        ok = false
                    }
                }
            }
            if ok { continue }
            // backtrack
            while let c = choices.popLast() {
                steps += 1
                undoTo(c.log)
                if c.savedLastmark != -2 { lastmark = c.savedLastmark }
                if let m = c.savedMarks { marks = m }
                switch c.kind {
                case .restoreOnly:
                    continue
                case .alternative:
                    guard case .branch(let starts) = insts[c.pc], c.aux < starts.count else { continue }
                    try push(c.aux + 1 < starts.count ? .alternative : .restoreOnly, c.pc, c.pos, c.aux + 1,
                             savedLastmark: c.savedLastmark, savedMarks: c.savedMarks)
                    pc = starts[c.aux]
                    pos = c.pos
                    continue mainLoop
                case .greedyOne:
                    let e = c.pos - 1
                    try push(e > c.aux ? .greedyOne : .restoreOnly, c.pc, e, c.aux, savedLastmark: c.savedLastmark, savedMarks: c.savedMarks)
                    pc = c.pc + 1
                    pos = e
                    continue mainLoop
                case .lazyOne:
                    guard case let .repeatOne(t, _, mx, _) = insts[c.pc] else { continue }
                    let e = c.pos
                    if mx != pyReMaxRepeat && e - c.aux >= mx { continue }
                    if e >= n || !test(t, s[e]) { continue }
                    try push(.lazyOne, c.pc, e + 1, c.aux, savedLastmark: c.savedLastmark, savedMarks: c.savedMarks)
                    pc = c.pc + 1
                    pos = e + 1
                    continue mainLoop
                case .untilTail:
                    if case let .until(reg, _, _, _, _) = insts[c.pc] { set(0, enclosing(reg)) }
                    pc = c.pc + 1
                    pos = c.pos
                    continue mainLoop
                case .untilIterate:
                    guard case let .until(reg, _, mx, body, _) = insts[c.pc] else { continue }
                    let cnt = count(reg)
                    if (mx != pyReMaxRepeat && cnt >= mx) || c.pos == last(reg) { continue }
                    setCount(reg, cnt + 1)
                    setLast(reg, c.pos)
                    pc = body
                    pos = c.pos
                    continue mainLoop
                case .atomicBarrier, .assertBarrier, .possMandatory:
                    barriers.removeLast()
                    continue
                case .negAssertBarrier:
                    barriers.removeLast()
                    pc = c.pc
                    pos = c.pos
                    continue mainLoop
                case .possOptional:
                    barriers.removeLast()
                    pc = c.aux
                    pos = c.pos
                    continue mainLoop
                }
            }
            return false
        }
    }
}
