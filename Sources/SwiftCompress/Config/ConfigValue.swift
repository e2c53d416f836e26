/// A value in a config list: the JSON data model, with object keys kept in the order they were
/// written (Python dicts keep insertion order, and reports follow it).
///
/// Integers and floating-point numbers are distinct cases so that `8` and `8.0` round-trip the way
/// Python prints them (`quant_bits: 8`, `sparse_ratio: 0.5`); numeric comparisons treat them alike.
public enum ConfigValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([ConfigValue])
    case object(ConfigObject)
}

/// An ordered string-keyed dictionary. Setting an existing key keeps its position (as Python's dict
/// does); setting a new key appends it.
public struct ConfigObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var entries: [(key: String, value: ConfigValue)] = []

    /// An empty dict.
    public init() {}

    /// A dict of `entries` in order; a key given twice keeps its first position and its last value.
    public init(_ entries: [(String, ConfigValue)]) {
        for (k, v) in entries { self[k] = v }
    }

    /// A dict literal, as `init(_:)`.
    public init(dictionaryLiteral elements: (String, ConfigValue)...) {
        self.init(elements)
    }

    public var keys: [String] { entries.map(\.key) }
    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// The value stored under `key`, or nil when the key is absent (a key set to JSON null gives
    /// `.null`, not nil).
    public subscript(key: String) -> ConfigValue? {
        get { entries.first(where: { $0.key == key })?.value }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let newValue { entries[i].value = newValue } else { entries.remove(at: i) }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }

    /// Whether `key` is present (also when its value is `.null`).
    public func contains(_ key: String) -> Bool { entries.contains(where: { $0.key == key }) }

    /// The entries in insertion order.
    public func makeIterator() -> IndexingIterator<[(key: String, value: ConfigValue)]> {
        entries.makeIterator()
    }

    public static func == (a: ConfigObject, b: ConfigObject) -> Bool {
        a.entries.count == b.entries.count
            && zip(a.entries, b.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(entries.count)
        for e in entries {
            hasher.combine(e.key)
            hasher.combine(e.value)
        }
    }
}

extension ConfigValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: ConfigValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, ConfigValue)...) { self = .object(ConfigObject(elements)) }
}

extension ConfigValue {
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// The number as a Double, for `.int` and `.double` (not for Bool, unlike Python).
    public var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The integer of an `.int` (not of a float or a bool), or nil.
    public var intValue: Int? { if case .int(let i) = self { return i } else { return nil } }
    public var array: [ConfigValue]? { if case .array(let a) = self { return a } else { return nil } }
    public var object: ConfigObject? { if case .object(let o) = self { return o } else { return nil } }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }

    /// The name of this value's kind as an error message says it ("a string", "a list", ...).
    public var kindDescription: String {
        switch self {
        case .null: return "None"
        case .bool: return "a bool"
        case .int: return "an int"
        case .double: return "a float"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "a dict"
        }
    }

    /// Python-style rendering (`None`, `True`, `'text'`, `[1, 2]`, `{'a': 0.5}`), as NNI prints
    /// settings. Used in error messages and the table report.
    public var pythonDescription: String {
        switch self {
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return pythonFloat(d)
        case .string(let s): return pythonRepr(s)
        case .array(let a): return "[" + a.map(\.pythonDescription).joined(separator: ", ") + "]"
        case .object(let o):
            return "{" + o.entries.map { pythonRepr($0.key) + ": " + $0.value.pythonDescription }
                .joined(separator: ", ") + "}"
        }
    }
}

/// Python's `repr(float)` for the values configs hold: shortest round-trip digits, `.0` for
/// integral values, `inf`/`nan`.
func pythonFloat(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    var s = d.description  // shortest round-trip representation
    if s.hasSuffix(".0") == false, s.contains("e") == false, s.contains(".") == false { s += ".0" }
    // Swift prints 1e-05 as "1e-05" and Python as "1e-05"; 1e+16 is "1e+16" in both.
    return s
}

/// Python's `repr(str)` with single quotes, for error messages and the table report.
func pythonRepr(_ s: String) -> String {
    var out = ""
    appendQuoted(s, style: .python, into: &out)
    return out
}

/// How `appendQuoted` quotes: Python (`'...'`, `\xNN` for control characters and DEL) or JSON
/// (`"..."`, `\u00NN` for control characters).
enum QuoteStyle {
    case python
    case json
}

/// Appends `s` quoted in `style`: the quote and backslash escaped, `\n` `\r` `\t` by name, other
/// control characters by code; every other scalar as is. The one string escaper of the report,
/// the error messages and the JSON writer.
func appendQuoted(_ s: String, style: QuoteStyle, into out: inout String) {
    let quote: Unicode.Scalar = style == .python ? "'" : "\""
    out.unicodeScalars.append(quote)
    for u in s.unicodeScalars {
        switch u {
        case quote:
            out += "\\"
            out.unicodeScalars.append(quote)
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if style == .json, u.value < 0x20 {
                out += "\\u00" + hex2(u.value)
            } else if style == .python, u.value < 0x20 || u.value == 0x7f {
                out += "\\x" + hex2(u.value)
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    out.unicodeScalars.append(quote)
}

func hex2(_ v: UInt32) -> String {
    let digits = Array("0123456789abcdef")
    return String(digits[Int((v >> 4) & 0xf)]) + String(digits[Int(v & 0xf)])
}
