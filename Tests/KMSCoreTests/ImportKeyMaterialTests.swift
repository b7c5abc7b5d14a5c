import Testing
@testable import KMSCore

/// Imported symmetric key material on a manual clock: the 24-hour token, binding, re-import.
@Suite struct ImportKeyMaterialTests {
    let clock = ManualClock()
    let service: KMSService
    let alice = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIAALICE")

    init() throws {
        service = try KMSService(store: InMemoryKeyStore(), clock: clock)
    }

    @discardableResult
    func call(_ op: String, _ body: [(String, JSONValue)]) throws(KMSError) -> JSONObject {
        try service.handle(operation: op, body: .object(JSONObject(body)), caller: alice)
    }

    func externalKey() throws -> String {
        let md = try #require(try call("CreateKey", [("Origin", .string("EXTERNAL"))])["KeyMetadata"]?.objectValue)
        #expect(md["KeyState"]?.stringValue == "PendingImport")
        return try #require(md["KeyId"]?.stringValue)
    }

    /// (token, wrapped material) as a client would make them.
    func parameters(_ keyId: String, _ material: [UInt8]) throws -> (String, String) {
        let params = try call("GetParametersForImport", [("KeyId", .string(keyId)), ("WrappingAlgorithm", .string("RSAES_OAEP_SHA_256")),
                                                         ("WrappingKeySpec", .string("RSA_2048"))])
        let publicKey = try #require(params["PublicKey"]?.stringValue)
        let der = try #require(Base64.decode(publicKey))
        let wrapped = try AsymmetricPublicKey(spec: .rsa2048, derRepresentation: der).encrypt(plaintext: material, algorithm: .rsaesOAEPSHA256)
        #expect(params["ParametersValidTo"]?.doubleValue == clock.now() + 24 * 3600)
        return (try #require(params["ImportToken"]?.stringValue), Base64.encode(wrapped))
    }

    func importMaterial(_ keyId: String, _ token: String, _ wrapped: String) throws(KMSError) -> JSONObject {
        try call("ImportKeyMaterial", [("KeyId", .string(keyId)), ("ImportToken", .string(token)), ("EncryptedKeyMaterial", .string(wrapped)),
                                       ("ExpirationModel", .string("KEY_MATERIAL_DOES_NOT_EXPIRE"))])
    }

    @Test func tokenExpiresAfter24Hours() throws {
        let keyId = try externalKey()
        let material = SystemRandom.bytes(32)
        let (token, wrappedMaterial) = try parameters(keyId, material)
        clock.advance(by: 24 * 3600 + 1)
        #expect(throws: KMSError(.expiredImportToken, "The import token has expired.")) { try importMaterial(keyId, token, wrappedMaterial) }
        let (fresh, wrappedAgain) = try parameters(keyId, material)
        clock.advance(by: 24 * 3600)
        let out = try importMaterial(keyId, fresh, wrappedAgain)
        #expect(out["KeyMaterialId"]?.stringValue?.count == 64)
    }

    @Test func tokenIsBoundToItsKeyAndMaterialToTheFirstImport() throws {
        let a = try externalKey(), b = try externalKey()
        let material = SystemRandom.bytes(32)
        let (tokenA, wrappedA) = try parameters(a, material)
        do { _ = try importMaterial(b, tokenA, wrappedA); Issue.record("token of another key accepted") } catch { #expect(error.code == .invalidImportToken) }
        let first = try importMaterial(a, tokenA, wrappedA)
        let (again, wrappedAgain) = try parameters(a, material)
        #expect(try importMaterial(a, again, wrappedAgain)["KeyMaterialId"] == first["KeyMaterialId"])
        let (other, wrappedOther) = try parameters(a, SystemRandom.bytes(32))
        do { _ = try importMaterial(a, other, wrappedOther); Issue.record("other material accepted") } catch { #expect(error.code == .incorrectKeyMaterial) }
        let blob = try call("Encrypt", [("KeyId", .string(a)), ("Plaintext", .string(Base64.encode(Array("x".utf8))))])["CiphertextBlob"]
        #expect(try call("Decrypt", [("CiphertextBlob", try #require(blob))])["Plaintext"]?.stringValue == Base64.encode(Array("x".utf8)))
    }
}
