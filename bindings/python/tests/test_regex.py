"""op_names_re / exclude_op_names_re against Python's own ``re`` (issue 18).

swiftcompress compiles module-name patterns with its own engine (Sources/SwiftCompress/Config/
PythonRegex*.swift), which must accept, refuse and match exactly as Python 3.11's ``re.match``
(NNI's selection). The differential test generates seeded patterns over the whole ``re`` grammar
(and near-misses that ``re`` refuses) and module names (ASCII, dotted paths, CJK, Turkish I,
Kelvin sign, digits of other scripts, whitespace, the root module '') and checks, per pattern:

* ``re.compile(p)`` raises  <=>  ``set_config`` raises ``swiftcompress.errors.ConfigError``;
* otherwise the selected modules are exactly ``{n for n in names if re.match(p, n)}``.

It drives the core directly (``_core.Session``: one ``add_modules``, one ``set_config`` per
pattern) and prints its counts; the timing figure of ``(a+)+$`` is printed too (not a timed test).
"""
from __future__ import annotations

import json
import random
import re
import signal
import sys
import time
import warnings

import pytest

from swiftcompress import _core
from swiftcompress.errors import ConfigError

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the reference is Python 3.11's re")

# ---------------------------------------------------------------------------------------------
# names

NAMES_FIXED = [
    "", "conv1", "layer1", "layer1.0", "layer1.0.conv1", "layer1.0.conv2", "layer2.1.bn1",
    "layer10.0.conv1", "features.0", "features.17", "features.17.conv", "fc", "FC", "Fc.head",
    "encoder.layers.0.linear1", "encoder.layers.3.self_attn.out_proj", "module.fc", "head",
    "a", "aa", "aaa", "ab", "abab", "aab", "ba", "b", "abc", "abcabc", "a.b", "a\nb", "a\n", "\n",
    "İ", "i", "I", "ı", "İstanbul.conv", "ıi", "K", "k", "K", "Kelvin", "kk", "ſ", "s", "S", "ß", "SS",
    "µ", "μ", "Μ", "σ", "ς", "Σ", "ϐ", "β",
    "中文", "中文.层1", "层", "模型.编码器.0", "x中", "中x", "٣", "١٢٣", "layer٣", "೬", "²", "Ⅻ", "½",
    " ", "a b", "\t", "a\tb", "\u00a0", "x\u3000y", "\u2028", "\x1c", "\x85",
    "_", "__init__", "a_b", "_x", "x-y", "x+y", "a{2}", "a{", "{", "}", "[", "]", "(", ")", "\\", "$", "^",
    "ǅ", "ǆ", "Ǆ", "Ω", "ω", "Ω", "Å", "å", "Å", "ﬅ", "ﬆ", "ᲀ", "в", "В",
    "𝟘", "𐐀", "𐐨", "émile", "Émile", "e\u0301", "0", "00", "012", "9.9", "a1", "1a",
]

ALPHABET = list("abcxyzABC.019_ -") + ["İ", "ı", "i", "I", "K", "k", "s", "ſ", "中", "文", "٣", "\t", "\n", "µ", "ß"]


def gen_names(rng: random.Random, count: int):
    names = list(dict.fromkeys(NAMES_FIXED))
    seen = set(names)
    while len(names) < count:
        k = rng.choice([1, 2, 3, 4, 5, 6, 8, 12])
        parts = []
        for _ in range(rng.choice([1, 1, 2, 3])):
            parts.append("".join(rng.choice(ALPHABET) for _ in range(k)))
        n = ".".join(parts)
        if n not in seen:
            seen.add(n)
            names.append(n)
    return names


# ---------------------------------------------------------------------------------------------
# patterns

LITERALS = list("abcxyzAB.019_ ") + ["İ", "ı", "i", "I", "K", "k", "K", "s", "S", "ſ", "ß", "中", "文", "٣", "µ", "Σ", "ς", "𐐀", "𐐨"]
ESCAPES = [r"\d", r"\D", r"\w", r"\W", r"\s", r"\S", r"\.", r"\\", r"\-", r"\x41", r"\x61", r"\u0130", r"\u212a",
           r"\U0001d7d8", r"\N{LATIN SMALL LETTER A}", r"\N{KELVIN SIGN}", r"\N{LF}", r"\N{tab}", r"\0", r"\101", r"\t", r"\n", r"\a",
           r"\_", r"\ ", r"\#", r"\{", r"\*"]
ASSERTS = [r"\b", r"\B", r"\A", r"\Z", "^", "$"]
BAD = [r"\p{L}", r"\z", r"\G", r"\q", r"\e", r"\8", r"\x4", r"\u12", r"\N{NO SUCH NAME}", r"\N", "(", ")", "[", "[a-",
       "*", "a**", "+a", "(?<n>a)", "(?P<1a>x)", "(?P=zz)", "(?Q)", "(?i", "a{2,1}", "(?<=a+)", "(?<=a|bc)", r"[\d-z]",
       "[z-a]", "(?(9)a|b)", "(?(a)b)", r"\1", "(?x)(?i)a(?s)", "a(?i)", "(?a)(?u)", "(?au)", "(?-a:x)", "(?L)", "(?i-i:a)",
       "[[:alpha:]]", "(?#open", r"[\A]", r"\777", "(?P", "(?P<a>x)(?P<a>y)", "(?(1)a|b|c)", "a{4294967295}", "(?t)a*"]


class PatternGen:
    def __init__(self, rng: random.Random):
        self.rng = rng

    def set_(self) -> str:
        r = self.rng
        items = []
        for _ in range(r.randint(1, 4)):
            c = r.random()
            if c < 0.35:
                items.append(r.choice(LITERALS[:-2] + ["-", "^", "[", "]", "\\]", "\\-", "\\\\"]))
            elif c < 0.6:
                lo, hi = sorted(r.sample("abcxyzAIK09", 2))
                items.append(f"{lo}-{hi}")
            elif c < 0.7:
                items.append(r.choice(["a-zA-Z", "0-9", "\u0100-\u017f", "\u0370-\u03ff", "\u4e00-\u9fff", "\U00010400-\U0001044f"]))
            else:
                items.append(r.choice([r"\d", r"\w", r"\s", r"\W", r"\D", r"\S", r"\x41", r"\u0131", r"\b", r"\n"]))
        body = "".join(items)
        if body.startswith("^"):
            body = "\\" + body
        neg = "^" if r.random() < 0.3 else ""
        if r.random() < 0.08:
            return "[" + neg + "]" + body + "]"
        return "[" + neg + body + "]"

    def atom(self, depth: int) -> str:
        r = self.rng
        c = r.random()
        if depth > 2:
            c = c * 0.55
        if c < 0.28:
            return r.choice(LITERALS)
        if c < 0.38:
            return r.choice(ESCAPES)
        if c < 0.47:
            return self.set_()
        if c < 0.52:
            return "."
        if c < 0.57:
            return r.choice(ASSERTS)
        inner = self.alt(depth + 1)
        c = r.random()
        if c < 0.3:
            return "(" + inner + ")"
        if c < 0.45:
            return "(?:" + inner + ")"
        if c < 0.52:
            return "(?P<g%d>" % r.randint(0, 3) + inner + ")"
        if c < 0.6:
            return "(?=" + inner + ")"
        if c < 0.66:
            return "(?!" + inner + ")"
        if c < 0.72:
            w = r.choice(["a", "b.", r"\w", "[ab]", "(?:ab|cd)", r"\d\d", "中", "$", "", "x|y", "(a)", r"\b"])
            return ("(?<=" if r.random() < 0.5 else "(?<!") + w + ")"
        if c < 0.78:
            return "(?>" + inner + ")"
        if c < 0.86:
            fl = r.choice(["i", "s", "m", "x", "a", "u", "-i", "i-s", "-x", "ai", "-i", "im"])
            return "(?" + fl + ":" + inner + ")"
        if c < 0.92:
            return "(?(%d)" % r.randint(1, 3) + self.seq(depth + 1) + ("|" + self.seq(depth + 1) if r.random() < 0.6 else "") + ")"
        return r.choice([r"\1", r"\2", "(?P=g0)", "(?P=g1)"])

    def quant(self) -> str:
        r = self.rng
        q = r.choice(["*", "+", "?", "{2}", "{1,3}", "{0,}", "{,2}", "{3,}", "{0}", "{1,1}", "{", "{a}", "{1,", "{}"])
        if q[0] != "{" or q[-1] == "}" and q not in ("{}",):
            m = r.random()
            if m < 0.2:
                q += "?"
            elif m < 0.3:
                q += "+"
        return q

    def seq(self, depth: int) -> str:
        r = self.rng
        out = []
        for _ in range(r.randint(1, 3 if depth < 2 else 2)):
            a = self.atom(depth)
            if r.random() < 0.3:
                a += self.quant()
            out.append(a)
        return "".join(out)

    def alt(self, depth: int) -> str:
        r = self.rng
        n = 1 if r.random() < 0.7 else r.randint(2, 3)
        return "|".join(self.seq(depth) for _ in range(n))

    def pattern(self) -> str:
        r = self.rng
        c = r.random()
        if c < 0.07:
            return r.choice(BAD)
        p = self.alt(0)
        if c < 0.25:
            p = "(?" + r.choice(["i", "a", "s", "m", "x", "u", "ai", "im", "is", "ia", "x", "iu"]) + ")" + p
        if r.random() < 0.05:
            p = p[: r.randint(0, len(p))]  # a truncated pattern: often refused
        if r.random() < 0.03:
            p = p.replace("(", "", 1)
        return p


# ---------------------------------------------------------------------------------------------
# driver


def make_session(names):
    session = _core.Session(_core.SC_MODE_PRUNING)
    session.add_modules([(n, "Linear", None) for n in names])
    return session


def selected(session, key: str, pattern: str, names):
    if key == "op_names_re":
        cfg = [{"op_names_re": [pattern], "op_types": ["Linear"], "sparse_ratio": 0.5}]
    else:
        cfg = [{"op_types": ["Linear"], "exclude_op_names_re": [pattern], "sparse_ratio": 0.5}]
    session.set_config(json.dumps(cfg))
    got = {m for m, _ in session.targets()}
    if key == "exclude_op_names_re":
        got = set(names) - got
    return got


class _SlowInPython(Exception):
    pass


def _alarm(signum, frame):
    raise _SlowInPython()


def python_verdict(pattern: str, names):
    """Python's refusal (None) or selection; raises _SlowInPython when Python's own backtracking
    takes over 0.5 s (sre checks signals while it matches), so such patterns are skipped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            rx = re.compile(pattern)
        except (re.error, OverflowError, ValueError, RecursionError):
            return None
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        return {n for n in names if rx.match(n)}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_differential_against_python_re(capsys):
    rng = random.Random(20261202)
    names = gen_names(rng, 260)
    session = make_session(names)
    gen = PatternGen(rng)
    budget_s = 20.0
    t0 = time.perf_counter()
    patterns = agreements = refused = slow = 0
    failures = []
    seen = set()
    while time.perf_counter() - t0 < budget_s and patterns < 10000:
        p = gen.pattern()
        if p in seen:
            continue
        seen.add(p)
        try:
            expected = python_verdict(p, names)
        except (_SlowInPython, SystemError):
            # too slow in Python, or sre's own "span of capturing group is wrong" SystemError
            slow += 1
            continue
        patterns += 1
        key = "op_names_re" if patterns % 5 else "exclude_op_names_re"
        try:
            got = selected(session, key, p, names)
        except ConfigError as e:
            got = None
            err = str(e)
        if expected is None:
            refused += 1
        if got == expected:
            agreements += 1
        else:
            if expected is None or got is None:
                detail = f"python refuses: {expected is None}, swiftcompress refuses: {got is None}" + (f" ({err})" if got is None else "")
            else:
                detail = f"only python: {sorted(expected - got)[:5]!r}; only swiftcompress: {sorted(got - expected)[:5]!r}"
            failures.append(f"{p!r}: {detail}")
    elapsed = time.perf_counter() - t0
    with capsys.disabled():
        print(f"\n[regex differential] patterns={patterns} (python refuses {refused}; {slow} skipped: over 0.5 s or a SystemError in python) names={len(names)} "
              f"agreements={agreements} disagreements={len(failures)} in {elapsed:.1f} s")
    assert not failures, "\n".join(failures[:30])


CASES = [
    # the defects of issue 18
    (r"\b", "", False), (r"(?i)[a-z]", "\u0130", True), (r"\w\b", "中文", False), (r"\w\b", "中", True),
    (r"[[:alpha:]]", ":]", True), (r"[[:alpha:]]", "b]", False), (r"[[:alpha:]]", "a", False),
    (r"[]]", "]", True), (r"(?a)\w", "a", True), (r"(?a)\w", "中", False), (r"(?i)k", "\u212a", True),
    (r"(?i)s", "\u017f", True), (r"(?i)\u0130", "i", True), (r"(?i)i", "\u0131", True),
    (r"\d", "\u0663", True), (r"(?a)\d", "\u0663", False), (r"\s", "\u3000", True), (r"\s", "\u200b", False),
    (r"a$", "a\n", True), (r"a\Z", "a\n", False), (r"(?m)^b", "a\nb", False), (r".b", "\nb", False),
    (r"(?s).b", "\nb", True), (r"(?<=a)b", "ab", False), (r"a(?<=a)b", "ab", True), (r"(a)\1", "aa", True),
    (r"(?P<x>a)(?P=x)", "aa", True), (r"(a)?(?(1)b|c)", "c", True), (r"(?>a+)a", "aaa", False),
    (r"a++a", "aaa", False), (r"a{,2}b", "aab", True), (r"a{", "a{", True), (r"x{2,1", "x{2,1", True),
]


@pytest.mark.parametrize("pattern,name,expected", CASES)
def test_cases_agree_with_python(pattern, name, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Possible nested set" (a FutureWarning of [[)
        assert bool(re.match(pattern, name)) == expected  # the expectation is Python's
    names = [name] if name else [""]
    session = make_session(names)
    assert (name in selected(session, "op_names_re", pattern, names)) == expected


@pytest.mark.parametrize("pattern", [r"\p{L}", r"\z", r"\G", "(?<=a+)b", "a**", "(?P<n>a)(?P<n>b)"])
def test_refused_like_python(pattern):
    with pytest.raises(re.error):
        re.compile(pattern)
    session = make_session(["a"])
    with pytest.raises(ConfigError) as info:
        selected(session, "op_names_re", pattern, ["a"])
    text = str(info.value)
    assert "config_list[0].op_names_re[0]" in text and repr(pattern)[1:-1].replace("\\\\", "\\") in text.replace("\\\\", "\\")


def test_backtracking_figure(capsys):
    """Not a timed test: prints the time of (a+)+$ on 'a'*n+'!' here and in Python's re."""
    lines = []
    for n in (18, 20, 22):
        name = "a" * n + "!"
        t = time.perf_counter()
        assert re.match(r"(a+)+$", name) is None
        py = time.perf_counter() - t
        session = make_session([name])
        t = time.perf_counter()
        assert selected(session, "op_names_re", r"(a+)+$", [name]) == set()
        sc = time.perf_counter() - t
        lines.append(f"n={n}: swiftcompress {sc * 1e3:.2f} ms (set_config + targets), python re.match {py * 1e3:.1f} ms")
    with capsys.disabled():
        print("\n[regex timing] (a+)+$ on 'a'*n+'!': " + "; ".join(lines))


def test_budget_error_names_pattern_and_module():
    # a backreference turns the memo off: exponential, as in Python, so the work bound decides
    name = "a" * 40 + "!"
    session = make_session([name])
    with pytest.raises(ConfigError) as info:
        selected(session, "op_names_re", r"(a|a)*\1$", [name])
    text = str(info.value)
    assert "config_list[0].op_names_re[0]" in text and name in text and "(a|a)*" in text


class CaptureGen:
    """Patterns where captures decide: groups in loops, backreferences, conditionals, atomic groups
    and lookarounds over {a, b} (sre restores captures only at its own save points; a capture set
    in a failed tail can survive, and the result must be the same)."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def atom(self, d: int) -> str:
        r = self.rng
        c = r.random()
        if c < 0.3 or d > 2:
            return r.choice(["a", "b", "a", "", "."])
        if c < 0.5:
            return "(" + self.alt(d + 1) + ")"
        if c < 0.6:
            return "(?:" + self.alt(d + 1) + ")"
        if c < 0.72:
            return r.choice([r"\1", r"\1", r"\2"])
        if c < 0.82:
            return "(?(%d)%s|%s)" % (r.randint(1, 2), self.seq(d + 1), self.seq(d + 1))
        if c < 0.88:
            return "(?=" + self.alt(d + 1) + ")"
        if c < 0.93:
            return "(?!" + self.alt(d + 1) + ")"
        return "(?>" + self.alt(d + 1) + ")"

    def seq(self, d: int) -> str:
        r = self.rng
        out = ""
        for _ in range(r.randint(1, 3)):
            a = self.atom(d)
            if r.random() < 0.4:
                a += r.choice(["*", "+", "?", "{2}", "{0,2}", "*?", "+?", "??", "*+", "{1,2}?"])
            out += a
        return out

    def alt(self, d: int) -> str:
        return "|".join(self.seq(d) for _ in range(self.rng.choice([1, 1, 2])))

    def pattern(self) -> str:
        r = self.rng
        head = r.choice(["(a*|b)", "(a)?", "(b+)?", "(a|ab)*", "(?:(a)|b)*", ""]) + r.choice(["(b|a?)", "(a*)", ""])
        return head + self.alt(0) + r.choice(["", "$"])


def test_differential_captures_against_python_re(capsys):
    rng = random.Random(18)
    names = sorted({"".join(p) for k in range(7) for p in __import__("itertools").product("ab", repeat=k)})
    session = make_session(names)
    gen = CaptureGen(rng)
    t0 = time.perf_counter()
    patterns = agreements = refused = 0
    failures = []
    while time.perf_counter() - t0 < 10.0 and patterns < 5000:
        p = gen.pattern()
        try:
            expected = python_verdict(p, names)
        except (_SlowInPython, SystemError):
            continue
        patterns += 1
        try:
            got = selected(session, "op_names_re", p, names)
        except ConfigError:
            got = None
        refused += expected is None
        if got == expected:
            agreements += 1
        else:
            failures.append(f"{p!r}: python {None if expected is None else sorted(expected)[:6]!r}, swiftcompress {None if got is None else sorted(got)[:6]!r}")
    with capsys.disabled():
        print(f"\n[regex differential, captures] patterns={patterns} (python refuses {refused}) names={len(names)} "
              f"agreements={agreements} disagreements={len(failures)} in {time.perf_counter() - t0:.1f} s")
    assert not failures, "\n".join(failures[:30])
