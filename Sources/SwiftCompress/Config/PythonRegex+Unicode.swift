/// Character predicates and case mappings of Python 3.11's `re` for `str` patterns (sre), computed
/// from the Swift standard library's Unicode data (`Unicode.Scalar.Properties`).
///
/// Python 3.11 ships Unicode 14.0; the standard library may carry a newer version, so characters
/// assigned after Unicode 14 (or whose properties changed since) can classify differently. Every
/// character of Unicode 14 classifies as in Python.
///
/// Code points are `UInt32` values; a value that is no Unicode scalar (a lone surrogate written as
/// `\ud800` in a pattern) has no properties: it is not a word character, digit or space and maps to
/// itself.
enum PyUnicode {
    /// The scalar of `c`, or nil for a surrogate or a value beyond U+10FFFF.
    @inline(__always)
    static func scalar(_ c: UInt32) -> Unicode.Scalar? { Unicode.Scalar(c) }

    /// `str.isalnum()` for one character: a letter (Lu, Ll, Lt, Lm, Lo) or a character with a
    /// numeric type (decimal, digit or numeric), as Python's `Py_UNICODE_ISALNUM`.
    static func isAlnum(_ c: UInt32) -> Bool {
        if c < 0x80 {
            return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
        }
        guard let s = scalar(c) else { return false }
        let p = s.properties
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return p.numericType != nil
        }
    }

    /// `\w` of a `str` pattern: `str.isalnum()` or `'_'`.
    @inline(__always)
    static func isWord(_ c: UInt32) -> Bool { c == 0x5F || isAlnum(c) }

    /// `\d` of a `str` pattern: a decimal digit of any script (`str.isdecimal()`, category Nd).
    static func isDigit(_ c: UInt32) -> Bool {
        if c < 0x80 { return c >= 0x30 && c <= 0x39 }
        guard let s = scalar(c) else { return false }
        return s.properties.numericType == .decimal
    }

    /// `\s` of a `str` pattern: Python's `str.isspace()` (bidirectional class WS, B or S, or
    /// category Zs), i.e. U+0009-U+000D, U+001C-U+0020, U+0085, U+00A0, U+1680, U+2000-U+200A,
    /// U+2028, U+2029, U+202F, U+205F and U+3000.
    static func isSpace(_ c: UInt32) -> Bool {
        switch c {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// `\w` under the ASCII flag.
    @inline(__always)
    static func isWordASCII(_ c: UInt32) -> Bool { c < 0x80 && isWord(c) }
    /// `\d` under the ASCII flag.
    @inline(__always)
    static func isDigitASCII(_ c: UInt32) -> Bool { c >= 0x30 && c <= 0x39 }
    /// `\s` under the ASCII flag: space, `\t`, `\n`, `\v`, `\f`, `\r`.
    @inline(__always)
    static func isSpaceASCII(_ c: UInt32) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }

    /// sre's Unicode lowercase (`_PyUnicode_ToLowercase`): the first character of the lowercase
    /// mapping (U+0130 -> 'i', U+212A KELVIN SIGN -> 'k').
    static func lower(_ c: UInt32) -> UInt32 {
        if c < 0x80 { return (c >= 0x41 && c <= 0x5A) ? c + 32 : c }
        guard let s = scalar(c) else { return c }
        let p = s.properties
        if !p.changesWhenLowercased { return c }
        return p.lowercaseMapping.unicodeScalars.first?.value ?? c
    }

    /// sre's Unicode uppercase (`_PyUnicode_ToUppercase`): the first character of the uppercase
    /// mapping ('ß' -> 'S').
    static func upper(_ c: UInt32) -> UInt32 {
        if c < 0x80 { return (c >= 0x61 && c <= 0x7A) ? c - 32 : c }
        guard let s = scalar(c) else { return c }
        let p = s.properties
        if !p.changesWhenUppercased { return c }
        return p.uppercaseMapping.unicodeScalars.first?.value ?? c
    }

    /// sre's `unicode_iscased`: the character changes under lower or upper.
    static func isCased(_ c: UInt32) -> Bool { lower(c) != c || upper(c) != c }

    /// sre's ASCII lowercase: only A-Z change.
    @inline(__always)
    static func lowerASCII(_ c: UInt32) -> UInt32 { (c >= 0x41 && c <= 0x5A) ? c + 32 : c }

    /// sre's `ascii_iscased`: an ASCII letter.
    @inline(__always)
    static func isCasedASCII(_ c: UInt32) -> Bool { (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }

    /// The lowercase characters that share their uppercase with another lowercase character, and
    /// those others (Python's `re._casefix._EXTRA_CASES`, Unicode 14): under IGNORECASE a literal
    /// whose lowercase is a key also matches the listed characters ('s' also matches 'ſ', 'i' also
    /// 'ı', 'µ' also 'μ', ...).
    static let extraCases: [UInt32: [UInt32]] = {
        // Groups of lowercase characters with one uppercase; each member maps to the others.
        let groups: [[UInt32]] = [
            [0x69, 0x131], [0x73, 0x17F], [0xB5, 0x3BC], [0x345, 0x3B9, 0x1FBE], [0x390, 0x1FD3],
            [0x3B0, 0x1FE3], [0x3B2, 0x3D0], [0x3B5, 0x3F5], [0x3B8, 0x3D1], [0x3BA, 0x3F0],
            [0x3C0, 0x3D6], [0x3C1, 0x3F1], [0x3C2, 0x3C3], [0x3C6, 0x3D5], [0x432, 0x1C80],
            [0x434, 0x1C81], [0x43E, 0x1C82], [0x441, 0x1C83], [0x442, 0x1C84, 0x1C85],
            [0x44A, 0x1C86], [0x463, 0x1C87], [0x1C88, 0xA64B], [0x1E61, 0x1E9B], [0xFB05, 0xFB06],
        ]
        var table: [UInt32: [UInt32]] = [:]
        for g in groups {
            for c in g { table[c] = g.filter { $0 != c } }
        }
        return table
    }()
}
