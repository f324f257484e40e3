import JSON
import Testing

@Suite("JSON")
struct JSONTests {
    @Test("parses every JSON type, keeping 64-bit integers exact")
    func parsesTypes() throws {
        let value = try JSONValue(
            parsing: #" {"a": [1, -2, 3.5, 1e3, true, false, null, "x"], "big": 9223372036854775807, "small": -9223372036854775808} "#)
        #expect(value["a"] == [1, -2, 3.5, 1000.0, true, false, nil, "x"])
        #expect(value["big"] == .integer(Int64.max))
        #expect(value["small"] == .integer(Int64.min))
        #expect(try JSONValue(parsing: "18446744073709551616") == .double(18446744073709551616))
        #expect(try JSONValue(parsing: "0") == .integer(0))
        #expect(try JSONValue(parsing: "-0.0") == .double(-0.0))
    }

    @Test("decodes escapes, including surrogate pairs, and writes them back")
    func strings() throws {
        let value = try JSONValue(parsing: #""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00""#)
        #expect(value == .string("a\"b\\c/d\u{8}\u{c}\n\r\té😀"))
        #expect(try JSONValue(parsing: value.jsonText) == value)
        #expect(JSONValue.string("\u{1}").jsonText == #""\u0001""#)
    }

    @Test(
        "rejects malformed input with the offset and what was expected",
        arguments: [
            ("", "expected a JSON value, found end of input"),
            ("{", "expected a string key in object"),
            (#"{"a" 1}"#, "expected ':' after object key"),
            ("[1,]", "expected a JSON value"),
            ("[1 2]", "expected ',' or ']'"),
            ("01", "leading zeros"),
            ("1.", "expected a digit after '.'"),
            ("tru", "expected 'true'"),
            (#""\x""#, "invalid escape"),
            (#""\ud800""#, "unpaired high surrogate"),
            ("\"a\nb\"", "control character"),
            (#"{"a":1,"a":2}"#, "duplicate object key"),
            ("1 2", "after the JSON value"),
            ("1e999", "out of range"),
        ])
    func rejects(input: String, message: String) {
        #expect {
            try JSONValue(parsing: input)
        } throws: { error in
            (error as? JSONError)?.message.contains(message) == true
        }
    }

    @Test("nesting is bounded, so hostile input cannot exhaust the stack")
    func depth() throws {
        #expect(throws: JSONError.self) { try JSONValue(parsing: String(repeating: "[", count: 100_000)) }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(try JSONValue(parsing: fine).arrayValue != nil)
    }

    @Test("writing sorts keys so equal values give equal text")
    func writing() throws {
        let value: JSONValue = ["b": 1, "a": ["y": true, "x": nil], "c": [1.5, "s"]]
        #expect(value.jsonText == #"{"a":{"x":null,"y":true},"b":1,"c":[1.5,"s"]}"#)
        #expect(try JSONValue(parsing: value.prettyJSONText) == value)
        #expect(JSONValue.double(.infinity).jsonText == "null")
    }

    @Test("accessors read typed values and integral doubles")
    func accessors() {
        let value: JSONValue = ["n": 2.0, "s": "x", "b": true]
        #expect(value["n"]?.integerValue == 2)
        #expect(JSONValue.double(2.5).integerValue == nil)
        #expect(value["s"]?.stringValue == "x")
        #expect(value["b"]?.boolValue == true)
        #expect(value["missing"] == nil)
        #expect(value.typeName == "object")
    }
}
