import Testing
@testable import KMSCore

@Suite struct JSONTests {
    @Test func parsesAndWritesRoundTrip() throws {
        let text = #"{"a":1,"b":[true,false,null],"c":{"d":"x\"y\\z\n\u00e9\ud83d\ude00"},"e":-1.5e3}"#
        let v = try JSONParser.parse(text)
        guard case .object(let o) = v else { Issue.record("not an object"); return }
        #expect(o["a"]?.intValue == 1)
        #expect(o["c"]?.objectValue?["d"]?.stringValue == "x\"y\\z\né😀")
        #expect(o["e"]?.doubleValue == -1500)
        let again = try JSONParser.parse(JSONWriter.string(v))
        #expect(again == v)
    }

    @Test(arguments: ["", "{", "{\"a\":}", "[1,]", "{\"a\":1}x", "\"\u{01}\"", "tru", "01", "{\"a\" 1}", "\"\\ud800\"", "\"\\q\""])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func refusesDeepNesting() {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
    }

    @Test func escapesControlCharacters() {
        #expect(JSONWriter.string(.string("a\u{01}b\"")) == #""a\u0001b\"""#)
    }

    @Test func timestampsKeepMilliseconds() {
        #expect(JSONValue(1_700_000_000.5).doubleValue == 1_700_000_000.5)
        #expect(JSONValue(1_700_000_000.0) == .number("1700000000"))
    }
}
