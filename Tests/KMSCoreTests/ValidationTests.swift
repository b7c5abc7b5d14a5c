import Testing
@testable import KMSCore

@Suite struct ValidationTests {
    func validate(_ op: String, _ json: String) throws(KMSError) -> KMSRequest {
        let body: JSONValue
        do { body = try JSONParser.parse(json) } catch { throw KMSError(.serialization, "bad json") }
        return try RequestValidator.validate(operation: op, body: body)
    }

    @Test func missingRequiredMember() {
        #expect(throws: KMSError(.validation, "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")) {
            try validate("DescribeKey", "{}")
        }
    }

    @Test func plaintextTooLongIsNotEchoed() {
        let big = Base64.encode(Array(repeating: UInt8(65), count: 4097))
        do {
            _ = try validate("Encrypt", #"{"KeyId":"k","Plaintext":"\#(big)"}"#)
            Issue.record("accepted 4097 bytes")
        } catch {
            #expect(error.code == .validation)
            #expect(error.message == "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096")
        }
    }

    @Test func rangeEnumAndCount() {
        do {
            _ = try validate("GenerateDataKey", #"{"KeyId":"","NumberOfBytes":1025,"KeySpec":"AES_512"}"#)
            Issue.record("accepted")
        } catch {
            #expect(error.code == .validation)
            let m = error.message ?? ""
            #expect(m.hasPrefix("3 validation errors detected: "))
            #expect(m.contains("Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"))
            #expect(m.contains("Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"))
            #expect(m.contains("at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1"))
        }
    }

    @Test func patternAndNestedPaths() {
        do {
            _ = try validate("CreateAlias", #"{"AliasName":"alias/a b","TargetKeyId":"k"}"#)
            Issue.record("accepted")
        } catch {
            #expect(error.message?.contains("Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$") == true)
        }
        do {
            _ = try validate("TagResource", #"{"KeyId":"k","Tags":[{"TagKey":"","TagValue":"v"}]}"#)
            Issue.record("accepted")
        } catch {
            #expect(error.message?.contains("at 'tags.1.member.tagKey'") == true)
        }
    }

    @Test func wrongTypesAreSerializationErrors() {
        #expect(throws: KMSError.self) { try validate("GenerateRandom", #"{"NumberOfBytes":"12"}"#) }
        do { _ = try validate("GenerateRandom", #"{"NumberOfBytes":"12"}"#) } catch { #expect(error.code == .serialization) }
        do { _ = try validate("Encrypt", #"{"KeyId":"k","Plaintext":"!!!"}"#) } catch { #expect(error.code == .serialization) }
        do { _ = try validate("Encrypt", "[]") } catch { #expect(error.code == .serialization) }
    }

    @Test func unknownOperation() {
        #expect(throws: KMSError.unknownOperation) { try validate("Nope", "{}") }
    }
}
