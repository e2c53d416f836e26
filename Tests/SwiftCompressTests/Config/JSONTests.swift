import Testing
@testable import SwiftCompress

@Suite struct JSONTests {
    @Test func parsesEveryKindKeepingKeyOrder() throws {
        let v = try ConfigValue(json: #" {"b": [1, -2.5, 1e-5, true, false, null], "a": {"x": "y\n\u00e9\ud83d\ude00"}} "#)
        guard case .object(let o) = v else { Issue.record("not an object"); return }
        #expect(o.keys == ["b", "a"])
        #expect(o["b"] == .array([.int(1), .double(-2.5), .double(0.00001), .bool(true), .bool(false), .null]))
        #expect(o["a"]?.object?["x"] == .string("y\né😀"))
    }

    @Test func pythonExtensionsAndLargeIntegers() throws {
        #expect(try ConfigValue(json: "NaN").number?.isNaN == true)
        #expect(try ConfigValue(json: "-Infinity") == .double(-.infinity))
        #expect(try ConfigValue(json: "Infinity") == .double(.infinity))
        #expect(try ConfigValue(json: "123456789012345678901234567890") == .double(1.2345678901234568e29))
        #expect(try ConfigValue(json: "-0") == .int(0))
        #expect(try ConfigValue(json: "2.0") == .double(2))
    }

    @Test func duplicateKeysKeepTheLastValueAtTheFirstPosition() throws {
        let v = try ConfigValue(json: #"{"a": 1, "b": 2, "a": 3}"#)
        #expect(v.object?.keys == ["a", "b"])
        #expect(v.object?["a"] == .int(3))
    }

    @Test(arguments: [
        ("", "invalid JSON at line 1, column 1: expected a JSON value, found end of input"),
        ("[1, 2", "invalid JSON at line 1, column 6: unterminated list"),
        ("{\"a\" 1}", "invalid JSON at line 1, column 6: expected ':' after a key, found '1'"),
        ("[1,]", "invalid JSON at line 1, column 4: expected a JSON value, found ']'"),
        ("[01]", "invalid JSON at line 1, column 2: leading zero in a number"),
        ("{'op_types': 1}", "invalid JSON at line 1, column 2: expected a string key, found '''"),
        ("[\n  tru]", "invalid JSON at line 2, column 3: expected a JSON value, found 't'"),
        ("\"\\x\"", "invalid JSON at line 1, column 2: invalid escape '\\x'"),
        ("\"\\ud800\"", "invalid JSON at line 1, column 8: unpaired surrogate in \\u escape"),
        ("[1] 2", "invalid JSON at line 1, column 5: unexpected text after the JSON value"),
        ("1.", "invalid JSON at line 1, column 3: expected digits after '.' in a number"),
    ])
    func syntaxErrorsSayWhereAndWhat(text: String, message: String) {
        #expect(throws: (any Error).self) { try ConfigValue(json: text) }
        do { _ = try ConfigValue(json: text) } catch { #expect(error.description == message) }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 100_000)
        do {
            _ = try ConfigValue(json: deep)
            Issue.record("accepted")
        } catch {
            #expect(error.message == "nesting deeper than 512 levels")
        }
    }

    @Test func writesCompactAndPrettyJSONThatReadsBack() throws {
        let v: ConfigValue = ["s": "a\"b\\c\u{1}", "n": [1, 0.5, nil, true], "e": [:], "l": []]
        #expect(v.jsonText == #"{"s":"a\"b\\c\u0001","n":[1,0.5,null,true],"e":{},"l":[]}"#)
        #expect(try ConfigValue(json: v.prettyJSON()) == v)
        #expect(v.prettyJSON(indent: 1) == "{\n \"s\": \"a\\\"b\\\\c\\u0001\",\n \"n\": [\n  1,\n  0.5,\n  null,\n  true\n ],\n \"e\": {},\n \"l\": []\n}")
    }

    @Test func pythonRendering() {
        let v: ConfigValue = ["a": [1, 2.0, 0.1, nil, true, "it's"], "b": 1e-5, "c": 1e16]
        #expect(v.pythonDescription == #"{'a': [1, 2.0, 0.1, None, True, 'it\'s'], 'b': 1e-05, 'c': 1e+16}"#)
    }
}
