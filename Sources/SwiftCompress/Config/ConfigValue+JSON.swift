/// JSON reading and writing for `ConfigValue`, without Foundation.
///
/// Reading follows RFC 8259 with two extensions that Python's `json.dumps` emits by default:
/// `NaN`, `Infinity` and `-Infinity`. Integers that fit in `Int` become `.int`, other numbers
/// `.double`. Duplicate keys keep the last value (as Python's `json.loads` does) at the position of
/// the first. Nesting deeper than 512 levels is an error, not a stack overflow.
extension ConfigValue {
    /// Parses JSON text. Throws `JSONSyntaxError` with the byte offset, line and column of the problem.
    public init(json text: String) throws(JSONSyntaxError) {
        var parser = JSONParser(Array(text.utf8))
        self = try parser.parseDocument()
    }

    /// Compact JSON text (`{"a":[1,2.5,null]}`), keys in stored order. Non-finite doubles are written
    /// as `NaN` / `Infinity` / `-Infinity`, as Python does.
    public var jsonText: String {
        var out = ""
        writeJSON(into: &out, indent: nil, level: 0)
        return out
    }

    /// JSON text indented by `indent` spaces per level.
    public func prettyJSON(indent: Int = 2) -> String {
        var out = ""
        writeJSON(into: &out, indent: indent, level: 0)
        return out
    }

    func writeJSON(into out: inout String, indent: Int?, level: Int) {
        func newline(_ l: Int) {
            if let indent {
                out += "\n" + String(repeating: " ", count: indent * l)
            }
        }
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isNaN { out += "NaN" } else if d.isInfinite { out += d < 0 ? "-Infinity" : "Infinity" } else {
                out += pythonFloat(d)
            }
        case .string(let s): writeJSONString(s, into: &out)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                newline(level + 1)
                v.writeJSON(into: &out, indent: indent, level: level + 1)
            }
            newline(level)
            out += "]"
        case .object(let o):
            if o.isEmpty { out += "{}"; return }
            out += "{"
            for (i, e) in o.entries.enumerated() {
                if i > 0 { out += "," }
                newline(level + 1)
                writeJSONString(e.key, into: &out)
                out += indent == nil ? ":" : ": "
                e.value.writeJSON(into: &out, indent: indent, level: level + 1)
            }
            newline(level)
            out += "}"
        }
    }
}

func writeJSONString(_ s: String, into out: inout String) {
    appendQuoted(s, style: .json, into: &out)
}

/// A JSON syntax error: what was wrong and where (byte offset, 1-based line and column).
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var line: Int
    public var column: Int
    public var description: String { "invalid JSON at line \(line), column \(column): \(message)" }
}

struct JSONParser {
    let bytes: [UInt8]
    var pos = 0
    var depth = 0
    static let maxDepth = 512

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func error(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
        let off = min(offset ?? pos, bytes.count)
        var line = 1
        var col = 1
        for b in bytes[0..<off] {
            if b == UInt8(ascii: "\n") { line += 1; col = 1 } else { col += 1 }
        }
        return JSONSyntaxError(message: message, offset: off, line: line, column: col)
    }

    mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    mutating func parseDocument() throws(JSONSyntaxError) -> ConfigValue {
        skipWhitespace()
        let v = try parseValue()
        skipWhitespace()
        if pos != bytes.count { throw error("unexpected text after the JSON value") }
        return v
    }

    func describeByte() -> String {
        guard pos < bytes.count else { return "end of input" }
        let b = bytes[pos]
        if b >= 0x21 && b < 0x7f { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(hex2(UInt32(b)))"
    }

    mutating func expectLiteral(_ word: String, _ value: ConfigValue) throws(JSONSyntaxError) -> ConfigValue {
        let w = Array(word.utf8)
        guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else {
            throw error("expected a JSON value, found \(describeByte())")
        }
        pos += w.count
        return value
    }

    mutating func parseValue() throws(JSONSyntaxError) -> ConfigValue {
        guard pos < bytes.count else { throw error("expected a JSON value, found end of input") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expectLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try expectLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try expectLiteral("null", .null)
        case UInt8(ascii: "N"): return try expectLiteral("NaN", .double(.nan))
        case UInt8(ascii: "I"): return try expectLiteral("Infinity", .double(.infinity))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("expected a JSON value, found \(describeByte())")
        }
    }

    mutating func enter() throws(JSONSyntaxError) {
        depth += 1
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth) levels") }
    }

    mutating func parseObject() throws(JSONSyntaxError) -> ConfigValue {
        try enter()
        pos += 1
        var obj = ConfigObject()
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") {
            pos += 1
            depth -= 1
            return .object(obj)
        }
        while true {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
                throw error("expected a string key, found \(describeByte())")
            }
            let key = try parseString()
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else {
                throw error("expected ':' after a key, found \(describeByte())")
            }
            pos += 1
            skipWhitespace()
            obj[key] = try parseValue()
            skipWhitespace()
            guard pos < bytes.count else { throw error("unterminated object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; break }
            throw error("expected ',' or '}' in an object, found \(describeByte())")
        }
        depth -= 1
        return .object(obj)
    }

    mutating func parseArray() throws(JSONSyntaxError) -> ConfigValue {
        try enter()
        pos += 1
        var items: [ConfigValue] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
            pos += 1
            depth -= 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue())
            skipWhitespace()
            guard pos < bytes.count else { throw error("unterminated list") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; break }
            throw error("expected ',' or ']' in a list, found \(describeByte())")
        }
        depth -= 1
        return .array(items)
    }

    mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[pos]
            let d: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            v = v * 16 + d
            pos += 1
        }
        return v
    }

    mutating func parseString() throws(JSONSyntaxError) -> String {
        let start = pos
        pos += 1
        var scalars = String.UnicodeScalarView()
        var run = pos  // start of a run of plain bytes
        var raw: [UInt8] = []
        func flush(_ p: Int) { raw.append(contentsOf: bytes[run..<p]) }
        while true {
            guard pos < bytes.count else { throw error("unterminated string", at: start) }
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                flush(pos)
                pos += 1
                break
            }
            if b < 0x20 { throw error("control character in a string") }
            if b == UInt8(ascii: "\\") {
                flush(pos)
                pos += 1
                guard pos < bytes.count else { throw error("unterminated string", at: start) }
                let e = bytes[pos]
                pos += 1
                var scalar: Unicode.Scalar
                switch e {
                case UInt8(ascii: "\""): scalar = "\""
                case UInt8(ascii: "\\"): scalar = "\\"
                case UInt8(ascii: "/"): scalar = "/"
                case UInt8(ascii: "b"): scalar = "\u{08}"
                case UInt8(ascii: "f"): scalar = "\u{0C}"
                case UInt8(ascii: "n"): scalar = "\n"
                case UInt8(ascii: "r"): scalar = "\r"
                case UInt8(ascii: "t"): scalar = "\t"
                case UInt8(ascii: "u"):
                    var v = try parseHex4()
                    if (0xD800..<0xDC00).contains(v) {
                        guard pos + 6 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"),
                            bytes[pos + 1] == UInt8(ascii: "u")
                        else { throw error("unpaired surrogate in \\u escape") }
                        pos += 2
                        let lo = try parseHex4()
                        guard (0xDC00..<0xE000).contains(lo) else { throw error("unpaired surrogate in \\u escape") }
                        v = 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(v) {
                        throw error("unpaired surrogate in \\u escape")
                    }
                    guard let s = Unicode.Scalar(v) else { throw error("invalid \\u escape") }
                    scalar = s
                default: throw error("invalid escape '\\\(Character(Unicode.Scalar(e)))'", at: pos - 2)
                }
                // Decode the raw bytes gathered so far, then the escaped scalar.
                guard let decoded = decodeUTF8(raw) else { throw error("invalid UTF-8 in a string", at: start) }
                scalars.append(contentsOf: decoded.unicodeScalars)
                raw.removeAll(keepingCapacity: true)
                scalars.append(scalar)
                run = pos
                continue
            }
            pos += 1
        }
        guard let decoded = decodeUTF8(raw) else { throw error("invalid UTF-8 in a string", at: start) }
        scalars.append(contentsOf: decoded.unicodeScalars)
        return String(scalars)
    }

    func decodeUTF8(_ raw: [UInt8]) -> String? {
        if raw.isEmpty { return "" }
        return String(validating: raw, as: UTF8.self)
    }

    mutating func parseNumber() throws(JSONSyntaxError) -> ConfigValue {
        let start = pos
        if bytes[pos] == UInt8(ascii: "-") {
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "I") {
                _ = try expectLiteral("Infinity", .null)
                return .double(-.infinity)
            }
        }
        func digits() -> Int {
            let s = pos
            while pos < bytes.count, bytes[pos] >= UInt8(ascii: "0"), bytes[pos] <= UInt8(ascii: "9") { pos += 1 }
            return pos - s
        }
        let intStart = pos
        let n = digits()
        if n == 0 { throw error("expected digits in a number") }
        if n > 1, bytes[intStart] == UInt8(ascii: "0") { throw error("leading zero in a number", at: intStart) }
        var isInteger = true
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            isInteger = false
            if digits() == 0 { throw error("expected digits after '.' in a number") }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            pos += 1
            isInteger = false
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            if digits() == 0 { throw error("expected digits in a number's exponent") }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if isInteger, let i = Int(text) { return .int(i) }
        guard let d = Double(text) else { throw error("invalid number '\(text)'", at: start) }
        return .double(d)
    }
}
