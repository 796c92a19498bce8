import PulseCore
import Testing

@Suite struct JSONValueTests {
    func parse(_ text: String) -> JSONValue? {
        try? JSONValue.parse(Array(text.utf8)).get()
    }

    @Test func parsesDocuments() {
        #expect(parse(#" {"a": [1, -2.5e3, true, false, null, "x\"\u00e9\ud83d\ude80"]} "#) == .object([
            ("a", .array([.number("1"), .number("-2.5e3"), .bool(true), .bool(false), .null, .string("x\"é🚀")])),
        ]))
        #expect(parse(#"{"k":1,"k":2}"#) == .object([("k", .number("1")), ("k", .number("2"))]), "repeats are kept, in order")
        #expect(parse("[]") == .array([]))
        #expect(parse("{}") == .object([]))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "01", "1.", "-", "1e", "tru", "nul", "\"abc", "\"a\u{01}b\"",
        "\"\\x\"", "\"\\u12\"", "\"\\ud83d\"", "\"\\ude80\"", "{} {}", "[1] x", "{'a':1}", "NaN", "Infinity", "+1",
    ])
    func refusesInvalidJSON(_ text: String) {
        #expect(parse(text) == nil, "\(text)")
    }

    @Test func refusesInvalidUTF8() {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse([0x22, 0xFF, 0xFE, 0x22]).get() }
    }

    @Test func refusesDeepNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(parse(deep) == nil)
        let fine = String(repeating: "[", count: 10) + String(repeating: "]", count: 10)
        #expect(parse(fine) != nil)
    }
}
