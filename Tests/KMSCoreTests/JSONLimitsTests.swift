import Testing
@testable import KMSCore

/// Bounded work in the JSON parser and request validation: duplicate members found in
/// linear time, members per object, nesting, and encryption-context size.
@Suite struct JSONLimitsTests {
    static func object(_ count: Int, prefix: String = "k", value: (Int) -> String = { "\"v\($0)\"" }) -> String {
        "{" + (0..<count).map { "\"\(prefix)\($0)\":\(value($0))" }.joined(separator: ",") + "}"
    }

    @Test func duplicateMembersLastWinsInSmallObjects() throws {
        let o = try #require(try JSONParser.parse(#"{"a":1,"b":2,"a":3}"#).objectValue)
        #expect(o.keys == ["a", "b"])
        #expect(o["a"]?.intValue == 3)
    }

    @Test func duplicateMembersLastWinsInLargeObjects() throws {
        // Past the scan threshold the parser keeps a name index; duplicates before and after it.
        var members = (0..<50).map { "\"k\($0)\":\($0)" }
        members += ["\"k3\":300", "\"k49\":4900", "\"k0\":0.5"]
        let o = try #require(try JSONParser.parse("{" + members.joined(separator: ",") + "}").objectValue)
        #expect(o.count == 50)
        #expect(o.keys == (0..<50).map { "k\($0)" })  // first position kept
        #expect(o["k3"]?.intValue == 300)
        #expect(o["k49"]?.intValue == 4900)
        #expect(o["k0"] == .number("0.5"))
        #expect(o["k7"]?.intValue == 7)
    }

    /// The index that makes duplicate detection linear is built once an object passes the
    /// threshold, and maps every name to its entry.
    @Test func nameIndexIsBuiltPastThreshold() {
        var o = JSONObject()
        var index: [String: Int]?
        for i in 0..<JSONObject.indexThreshold {
            #expect(o.insertParsed("m\(i)", .null, index: &index, limit: 1000))
        }
        #expect(index == nil)
        #expect(o.insertParsed("m-last", .bool(true), index: &index, limit: 1000))
        #expect(index != nil)
        let built = index ?? [:]
        #expect(built.count == JSONObject.indexThreshold + 1)
        for (i, e) in o.entries.enumerated() { #expect(built[e.key] == i) }
        #expect(o.insertParsed("m0", .bool(false), index: &index, limit: 1000))
        #expect(o["m0"] == .bool(false) && o.count == JSONObject.indexThreshold + 1)
    }

    @Test func membersPerObjectAreCapped() throws {
        #expect(try JSONParser.parse(Self.object(JSONParser.maxMembers)).objectValue?.count == JSONParser.maxMembers)
        #expect(throws: JSONParseError(reason: "JSON object has more than 1000 members")) {
            try JSONParser.parse(Self.object(JSONParser.maxMembers + 1))
        }
        // The issue's probe: 32k members in one 256 KiB body (names of 2 or 3 characters).
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        func shortName(_ i: Int) -> String {
            let n = alphabet.count
            return i < n * n ? String([alphabet[i / n], alphabet[i % n]])
                : String([alphabet[(i / n / n) % n], alphabet[(i / n) % n], alphabet[i % n]])
        }
        let probe = "{" + (0..<32_768).map { "\"\(shortName($0))\":1" }.joined(separator: ",") + "}"
        #expect(probe.utf8.count < 256 * 1024)
        #expect(throws: JSONParseError(reason: "JSON object has more than 1000 members")) { try JSONParser.parse(probe) }
        // Repeats of one name do not count against the cap: the object has one member.
        let repeats = "{" + Array(repeating: #""a":1"#, count: 5000).joined(separator: ",") + "}"
        #expect(try JSONParser.parse(repeats).objectValue?.count == 1)
    }

    @Test func nestingIsCapped() throws {
        let ok = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        _ = try JSONParser.parse(ok)
        let deep = String(repeating: "{\"a\":", count: JSONParser.maxDepth) + "1" + String(repeating: "}", count: JSONParser.maxDepth)
        #expect(throws: JSONParseError(reason: "JSON nesting is too deep")) { try JSONParser.parse(deep) }
    }

    // MARK: - Encryption context caps (request validation)

    func validate(_ op: String, _ json: String) throws(KMSError) -> KMSRequest {
        let body: JSONValue
        do { body = try JSONParser.parse(json) } catch { throw KMSError(.serialization, error.reason) }
        return try RequestValidator.validate(operation: op, body: body)
    }

    @Test func encryptionContextPairsAreCapped() throws {
        let atCap = Self.object(EncryptionContext.maxPairs)
        _ = try validate("Encrypt", #"{"KeyId":"k","Plaintext":"aGk=","EncryptionContext":\#(atCap)}"#)
        let over = Self.object(EncryptionContext.maxPairs + 1)
        #expect(throws: KMSError(.validation, "1 validation error detected: Value at 'encryptionContext' failed to satisfy constraint: Member must have length less than or equal to 128")) {
            try validate("Encrypt", #"{"KeyId":"k","Plaintext":"aGk=","EncryptionContext":\#(over)}"#)
        }
        #expect(throws: KMSError(.validation, "1 validation error detected: Value at 'destinationEncryptionContext' failed to satisfy constraint: Member must have length less than or equal to 128")) {
            try validate("ReEncrypt", #"{"CiphertextBlob":"aGk=","DestinationKeyId":"k","DestinationEncryptionContext":\#(over)}"#)
        }
        #expect(throws: KMSError.self) {
            try validate("Decrypt", #"{"CiphertextBlob":"aGk=","EncryptionContext":\#(over)}"#)
        }
    }

    @Test func encryptionContextBytesAreCapped() throws {
        // 4 pairs of key + value totalling exactly the cap, then one byte more (UTF-8 bytes: é is 2).
        let quarter = EncryptionContext.maxBytes / 4
        func context(extra: Int) -> String {
            (0..<4).map { i in
                let key = "k\(i)"
                let value = String(repeating: "é", count: (quarter - key.utf8.count) / 2)
                    + String(repeating: "v", count: (quarter - key.utf8.count) % 2 + (i == 0 ? extra : 0))
                return "\"\(key)\":\"\(value)\""
            }.joined(separator: ",")
        }
        _ = try validate("GenerateDataKey", #"{"KeyId":"k","KeySpec":"AES_256","EncryptionContext":{\#(context(extra: 0))}}"#)
        #expect(throws: KMSError(.validation, "1 validation error detected: Value at 'encryptionContext' failed to satisfy constraint: Member must have a total size of keys and values less than or equal to 16384 bytes")) {
            try validate("GenerateDataKey", #"{"KeyId":"k","KeySpec":"AES_256","EncryptionContext":{\#(context(extra: 1))}}"#)
        }
    }
}
