import Testing
@testable import KMSCore

/// Asymmetric, HMAC and key-agreement operations through `handle`, as the server calls them.
@Suite struct AsymmetricServiceTests {
    let service: KMSService
    let caller = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIATEST")

    init() throws {
        service = try KMSService(store: InMemoryKeyStore(), clock: ManualClock())
    }

    @discardableResult
    func call(_ op: String, _ members: [(String, JSONValue)]) throws(KMSError) -> JSONObject {
        try service.handle(operation: op, body: .object(JSONObject(members)), caller: caller)
    }

    func createKey(_ spec: String, _ usage: String) throws -> JSONObject {
        try #require(try call("CreateKey", [("KeySpec", .string(spec)), ("KeyUsage", .string(usage))])["KeyMetadata"]?.objectValue)
    }

    func code(_ body: () throws -> Void) -> KMSError.Code? {
        do { try body(); return nil } catch let error as KMSError { return error.code } catch { return nil }
    }

    @Test(arguments: [("ECC_NIST_P256", "ECDSA_SHA_256"), ("ECC_NIST_EDWARDS25519", "ED25519_SHA_512"),
                      ("ML_DSA_44", "ML_DSA_SHAKE_256"), ("ECC_SECG_P256K1", "ECDSA_SHA_256")])
    func signAndVerify(spec: String, algorithm: String) throws {
        let md = try createKey(spec, "SIGN_VERIFY")
        let keyId = try #require(md["KeyId"])
        #expect(md["SigningAlgorithms"]?.arrayValue?.contains(.string(algorithm)) == true)
        let message = JSONValue.string(Base64.encode(Array("attack at dawn".utf8)))
        let signed = try call("Sign", [("KeyId", keyId), ("Message", message), ("SigningAlgorithm", .string(algorithm))])
        let signature = try #require(signed["Signature"])
        let verified = try call("Verify", [("KeyId", keyId), ("Message", message), ("Signature", signature), ("SigningAlgorithm", .string(algorithm))])
        #expect(verified["SignatureValid"] == .bool(true))
        let other = JSONValue.string(Base64.encode(Array("attack at dusk".utf8)))
        #expect(code { try call("Verify", [("KeyId", keyId), ("Message", other), ("Signature", signature), ("SigningAlgorithm", .string(algorithm))]) } == .kmsInvalidSignature)
        let pub = try call("GetPublicKey", [("KeyId", keyId)])
        #expect(pub["KeySpec"] == .string(spec))
        #expect((pub["PublicKey"]?.stringValue.flatMap(Base64.decode)?.count ?? 0) > 30)
    }

    @Test func digestLengthAndAlgorithmAreChecked() throws {
        let keyId = try #require(try createKey("ECC_NIST_P256", "SIGN_VERIFY")["KeyId"])
        let shortDigest = JSONValue.string(Base64.encode(Array(repeating: 1, count: 31)))
        #expect(code { try call("Sign", [("KeyId", keyId), ("Message", shortDigest), ("MessageType", .string("DIGEST")), ("SigningAlgorithm", .string("ECDSA_SHA_256"))]) } == .validation)
        #expect(code { try call("Sign", [("KeyId", keyId), ("Message", shortDigest), ("SigningAlgorithm", .string("ECDSA_SHA_384"))]) } == .invalidKeyUsage)
        #expect(code { try call("Encrypt", [("KeyId", keyId), ("Plaintext", shortDigest)]) } == .invalidKeyUsage)
    }

    @Test func keyUsageMustFitTheSpec() {
        #expect(code { try call("CreateKey", [("KeySpec", .string("ECC_NIST_P256")), ("KeyUsage", .string("ENCRYPT_DECRYPT"))]) } == .validation)
        #expect(code { try call("CreateKey", [("KeySpec", .string("HMAC_256")), ("KeyUsage", .string("SIGN_VERIFY"))]) } == .validation)
        #expect(code { try call("CreateKey", [("KeyUsage", .string("SIGN_VERIFY"))]) } == .validation)
    }

    @Test func rsaEncryptionAndSymmetricOnlyOperations() throws {
        let keyId = try #require(try createKey("RSA_2048", "ENCRYPT_DECRYPT")["KeyId"])
        let plaintext = JSONValue.string(Base64.encode(Array(repeating: 7, count: 190)))
        let enc = try call("Encrypt", [("KeyId", keyId), ("Plaintext", plaintext), ("EncryptionAlgorithm", .string("RSAES_OAEP_SHA_256"))])
        let dec = try call("Decrypt", [("KeyId", keyId), ("CiphertextBlob", try #require(enc["CiphertextBlob"])), ("EncryptionAlgorithm", .string("RSAES_OAEP_SHA_256"))])
        #expect(dec["Plaintext"] == plaintext)
        let tooLong = JSONValue.string(Base64.encode(Array(repeating: 7, count: 191)))
        #expect(code { try call("Encrypt", [("KeyId", keyId), ("Plaintext", tooLong), ("EncryptionAlgorithm", .string("RSAES_OAEP_SHA_256"))]) } == .validation)
        #expect(code { try call("Encrypt", [("KeyId", keyId), ("Plaintext", plaintext)]) } == .invalidKeyUsage)
        #expect(code { try call("GenerateDataKey", [("KeyId", keyId), ("KeySpec", .string("AES_256"))]) } == .invalidKeyUsage)
        let symmetric = try #require(try call("CreateKey", [])["KeyMetadata"]?.objectValue?["KeyId"])
        #expect(code { try call("GetPublicKey", [("KeyId", symmetric)]) } == .unsupportedOperation)
    }

    @Test func macsVerifyInConstantTimeAndRejectTampering() throws {
        let md = try createKey("HMAC_384", "GENERATE_VERIFY_MAC")
        let keyId = try #require(md["KeyId"])
        #expect(md["MacAlgorithms"] == .array([.string("HMAC_SHA_384")]))
        let message = JSONValue.string(Base64.encode(Array("m".utf8)))
        let mac = try call("GenerateMac", [("KeyId", keyId), ("Message", message), ("MacAlgorithm", .string("HMAC_SHA_384"))])
        var bytes = try #require(mac["Mac"]?.stringValue.flatMap(Base64.decode))
        #expect(bytes.count == 48)
        #expect(try call("VerifyMac", [("KeyId", keyId), ("Message", message), ("Mac", .string(Base64.encode(bytes))), ("MacAlgorithm", .string("HMAC_SHA_384"))])["MacValid"] == .bool(true))
        bytes[0] ^= 1
        #expect(code { try call("VerifyMac", [("KeyId", keyId), ("Message", message), ("Mac", .string(Base64.encode(bytes))), ("MacAlgorithm", .string("HMAC_SHA_384"))]) } == .kmsInvalidMac)
        #expect(code { try call("GenerateMac", [("KeyId", keyId), ("Message", message), ("MacAlgorithm", .string("HMAC_SHA_256"))]) } == .invalidKeyUsage)
    }

    @Test func keyAgreementMatchesOnBothSides() throws {
        let a = try #require(try createKey("ECC_NIST_P256", "KEY_AGREEMENT")["KeyId"])
        let b = try #require(try createKey("ECC_NIST_P256", "KEY_AGREEMENT")["KeyId"])
        let pubA = try #require(try call("GetPublicKey", [("KeyId", a)])["PublicKey"])
        let pubB = try #require(try call("GetPublicKey", [("KeyId", b)])["PublicKey"])
        let ab = try call("DeriveSharedSecret", [("KeyId", a), ("KeyAgreementAlgorithm", .string("ECDH")), ("PublicKey", pubB)])
        let ba = try call("DeriveSharedSecret", [("KeyId", b), ("KeyAgreementAlgorithm", .string("ECDH")), ("PublicKey", pubA)])
        #expect(ab["SharedSecret"] != nil && ab["SharedSecret"] == ba["SharedSecret"])
    }

    @Test func dataKeyPairPrivateKeyDecrypts() throws {
        let keyId = try #require(try call("CreateKey", [])["KeyMetadata"]?.objectValue?["KeyId"])
        let context = JSONValue.object(JSONObject([("purpose", .string("test"))]))
        let pair = try call("GenerateDataKeyPair", [("KeyId", keyId), ("KeyPairSpec", .string("ECC_NIST_P256")), ("EncryptionContext", context)])
        let dec = try call("Decrypt", [("CiphertextBlob", try #require(pair["PrivateKeyCiphertextBlob"])), ("EncryptionContext", context)])
        #expect(dec["Plaintext"] == pair["PrivateKeyPlaintext"])
        let without = try call("GenerateDataKeyPairWithoutPlaintext", [("KeyId", keyId), ("KeyPairSpec", .string("ECC_NIST_EDWARDS25519"))])
        #expect(without["PrivateKeyPlaintext"] == nil && without["PublicKey"] != nil)
    }
}
