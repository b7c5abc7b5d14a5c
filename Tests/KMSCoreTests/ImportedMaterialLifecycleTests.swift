import Crypto
import Testing
@testable import KMSCore

/// Imported key material beyond the first import, on a manual clock: tokens that open on
/// another service with the same token key (a restart, another node), every wrapping
/// algorithm and key type, expiry, DeleteImportedKeyMaterial, and NEW_KEY_MATERIAL rotation.
@Suite struct ImportedMaterialLifecycleTests {
    let clock = ManualClock()
    let store = InMemoryKeyStore()
    let tokenKey = SymmetricKey(size: .bits256)
    let service: KMSService
    let alice = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIAALICE")

    init() throws {
        service = try KMSService(store: store, clock: clock, importTokenKey: tokenKey)
    }

    @discardableResult
    func call(_ op: String, _ body: [(String, JSONValue)], on service: KMSService? = nil) throws(KMSError) -> JSONObject {
        try (service ?? self.service).handle(operation: op, body: .object(JSONObject(body)), caller: alice)
    }

    func externalKey(_ extra: [(String, JSONValue)] = []) throws -> String {
        let md = try #require(try call("CreateKey", [("Origin", .string("EXTERNAL"))] + extra)["KeyMetadata"]?.objectValue)
        #expect(md["KeyState"]?.stringValue == "PendingImport")
        return try #require(md["KeyId"]?.stringValue)
    }

    /// (token, wrapped material) as a client makes them, for any wrapping algorithm.
    func wrap(_ keyId: String, _ material: [UInt8], algorithm: String = "RSAES_OAEP_SHA_256", spec: String = "RSA_2048",
              on service: KMSService? = nil) throws -> (String, String) {
        let params = try call("GetParametersForImport", [("KeyId", .string(keyId)), ("WrappingAlgorithm", .string(algorithm)),
                                                         ("WrappingKeySpec", .string(spec))], on: service)
        let publicKeyText = try #require(params["PublicKey"]?.stringValue)
        let der = try #require(Base64.decode(publicKeyText))
        let publicKey = try AsymmetricPublicKey(spec: try #require(KeySpec(rawValue: spec)), derRepresentation: der)
        let oaep: EncryptionAlgorithm = algorithm.hasSuffix("SHA_1") ? .rsaesOAEPSHA1 : .rsaesOAEPSHA256
        let wrapped: [UInt8]
        if algorithm.hasPrefix("RSA_AES_KEY_WRAP") {
            let aesKey = SystemRandom.bytes(32)
            wrapped = try publicKey.encrypt(plaintext: aesKey, algorithm: oaep) + AESKeyWrap.wrapWithPadding(material, kek: aesKey)
        } else {
            wrapped = try publicKey.encrypt(plaintext: material, algorithm: oaep)
        }
        return (try #require(params["ImportToken"]?.stringValue), Base64.encode(wrapped))
    }

    @discardableResult
    func importMaterial(_ keyId: String, _ material: [UInt8], algorithm: String = "RSAES_OAEP_SHA_256",
                        _ extra: [(String, JSONValue)] = []) throws -> JSONObject {
        let (token, wrapped) = try wrap(keyId, material, algorithm: algorithm)
        return try call("ImportKeyMaterial", [("KeyId", .string(keyId)), ("ImportToken", .string(token)),
                                              ("EncryptedKeyMaterial", .string(wrapped))] + extra)
    }

    func expectError(_ code: KMSError.Code, _ body: () throws -> Void) {
        do { try body(); Issue.record("expected \(code.rawValue)") } catch let error as KMSError { #expect(error.code == code, "\(error)") } catch {
            Issue.record("unexpected \(error)")
        }
    }

    func state(_ keyId: String) throws -> String? {
        try call("DescribeKey", [("KeyId", .string(keyId))])["KeyMetadata"]?.objectValue?["KeyState"]?.stringValue
    }

    func encrypt(_ keyId: String, _ text: String) throws -> JSONValue {
        try #require(try call("Encrypt", [("KeyId", .string(keyId)), ("Plaintext", .string(Base64.encode(Array(text.utf8))))])["CiphertextBlob"])
    }

    func decrypt(_ blob: JSONValue) throws -> JSONObject { try call("Decrypt", [("CiphertextBlob", blob)]) }

    @Test func tokenOpensOnAnotherServiceWithTheSameKeyOnly() throws {
        let keyId = try externalKey()
        let material = SystemRandom.bytes(32)
        let (token, wrapped) = try wrap(keyId, material)
        // A restarted server or another node: same store, same derived token key.
        let other = try KMSService(store: store, clock: clock, importTokenKey: tokenKey)
        let foreign = try KMSService(store: store, clock: clock, importTokenKey: SymmetricKey(size: .bits256))
        let body: [(String, JSONValue)] = [("KeyId", .string(keyId)), ("ImportToken", .string(token)), ("EncryptedKeyMaterial", .string(wrapped))]
        expectError(.invalidImportToken) { try call("ImportKeyMaterial", body, on: foreign) }
        try call("ImportKeyMaterial", body, on: other)
        #expect(try call("DescribeKey", [("KeyId", .string(keyId))], on: other)["KeyMetadata"]?.objectValue?["KeyState"]?.stringValue == "Enabled")
        // A token past its 24 hours is refused on every node.
        let (late, lateWrapped) = try wrap(keyId, material)
        clock.advance(by: 24 * 3600 + 1)
        expectError(.expiredImportToken) {
            try call("ImportKeyMaterial", [("KeyId", .string(keyId)), ("ImportToken", .string(late)), ("EncryptedKeyMaterial", .string(lateWrapped))], on: other)
        }
    }

    @Test(arguments: ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"])
    func everyWrappingAlgorithmImportsSymmetricAndHMAC(_ algorithm: String) throws {
        let sym = try externalKey()
        try importMaterial(sym, SystemRandom.bytes(32), algorithm: algorithm)
        #expect(try decrypt(encrypt(sym, "sym"))["Plaintext"]?.stringValue == Base64.encode(Array("sym".utf8)))
        let hmac = try externalKey([("KeySpec", .string("HMAC_384")), ("KeyUsage", .string("GENERATE_VERIFY_MAC"))])
        let secret = SystemRandom.bytes(100)
        try importMaterial(hmac, secret, algorithm: algorithm)
        let mac = try call("GenerateMac", [("KeyId", .string(hmac)), ("MacAlgorithm", .string("HMAC_SHA_384")),
                                           ("Message", .string(Base64.encode(Array("m".utf8))))])["Mac"]?.stringValue
        let expected = HMAC<SHA384>.authenticationCode(for: Array("m".utf8), using: SymmetricKey(data: secret))
        #expect(mac == Base64.encode(Array(expected)))
    }

    @Test func asymmetricMaterialIsAPKCS8KeyOfTheKeysSpec() throws {
        let rsa = try externalKey([("KeySpec", .string("RSA_2048")), ("KeyUsage", .string("SIGN_VERIFY"))])
        let pair = try AsymmetricKeyPair.generate(.rsa2048)
        // An RSA private key is too long for OAEP alone: only RSA_AES_KEY_WRAP carries it.
        #expect(throws: KMSCryptoError.self) { _ = try wrap(rsa, pair.privateKeyBytes, algorithm: "RSAES_OAEP_SHA_256") }
        try importMaterial(rsa, pair.privateKeyBytes, algorithm: "RSA_AES_KEY_WRAP_SHA_256")
        #expect(try call("GetPublicKey", [("KeyId", .string(rsa))])["PublicKey"]?.stringValue == Base64.encode(pair.publicKeyDER))

        let ecc = try externalKey([("KeySpec", .string("ECC_NIST_P256")), ("KeyUsage", .string("SIGN_VERIFY"))])
        let p384 = try AsymmetricKeyPair.generate(.eccNISTP384)
        expectError(.incorrectKeyMaterial) { try importMaterial(ecc, p384.privateKeyBytes, algorithm: "RSAES_OAEP_SHA_1") }
        expectError(.incorrectKeyMaterial) { try importMaterial(ecc, SystemRandom.bytes(32)) }
        let p256 = try AsymmetricKeyPair.generate(.eccNISTP256)
        try importMaterial(ecc, p256.privateKeyBytes, algorithm: "RSAES_OAEP_SHA_1")
        #expect(try call("GetPublicKey", [("KeyId", .string(ecc))])["PublicKey"]?.stringValue == Base64.encode(p256.publicKeyDER))
        expectError(.incorrectKeyMaterial) { try importMaterial(ecc, try AsymmetricKeyPair.generate(.eccNISTP256).privateKeyBytes) }
        #expect(try state(ecc) == "Enabled")
    }

    @Test func wrongSizesAndRetiredAlgorithmsAreRefused() throws {
        let hmac = try externalKey([("KeySpec", .string("HMAC_256")), ("KeyUsage", .string("GENERATE_VERIFY_MAC"))])
        expectError(.incorrectKeyMaterial) { try importMaterial(hmac, SystemRandom.bytes(31)) }
        expectError(.incorrectKeyMaterial) { try importMaterial(hmac, SystemRandom.bytes(65)) }
        expectError(.validation) { _ = try wrap(hmac, [1], algorithm: "RSAES_PKCS1_V1_5") }
        expectError(.unsupportedOperation) { _ = try call("CreateKey", [("Origin", .string("EXTERNAL")), ("KeySpec", .string("ML_DSA_44")), ("KeyUsage", .string("SIGN_VERIFY"))]) }
        #expect(try state(hmac) == "PendingImport")
    }

    @Test func expiringMaterialMovesTheKeyToPendingImportUntilReimported() throws {
        let keyId = try externalKey()
        let material = SystemRandom.bytes(32)
        let now = clock.now()
        for bad: [(String, JSONValue)] in [[("ExpirationModel", .string("KEY_MATERIAL_EXPIRES"))],
                                           [("ExpirationModel", .string("KEY_MATERIAL_DOES_NOT_EXPIRE")), ("ValidTo", JSONValue(now + 60))],
                                           [("ValidTo", JSONValue(now - 1))], [("ValidTo", JSONValue(now + 366 * 86_400))]] {
            expectError(.validation) { try importMaterial(keyId, material, bad) }
        }
        try importMaterial(keyId, material, [("ExpirationModel", .string("KEY_MATERIAL_EXPIRES")), ("ValidTo", JSONValue(now + 86_400))])
        let md = try #require(try call("DescribeKey", [("KeyId", .string(keyId))])["KeyMetadata"]?.objectValue)
        #expect(md["ExpirationModel"]?.stringValue == "KEY_MATERIAL_EXPIRES" && md["ValidTo"]?.doubleValue == now + 86_400)
        let blob = try encrypt(keyId, "before")
        clock.advance(by: 86_400)
        // Expired: unusable at once (the lazy check), before the job runs.
        #expect(try state(keyId) == "PendingImport")
        expectError(.kmsInvalidState) { _ = try encrypt(keyId, "after") }
        expectError(.kmsInvalidState) { _ = try decrypt(blob) }
        #expect(try service.dueMaterialExpiries().map(\.keyId) == [keyId])
        #expect(try service.expireKeyMaterial().count == 1)
        #expect(try service.dueMaterialExpiries().isEmpty)
        let stored = try #require(try store.key(account: alice.account, region: alice.region, keyId: keyId))
        #expect(stored.materials.isEmpty && stored.keyState == .pendingImport)
        expectError(.incorrectKeyMaterial) { try importMaterial(keyId, SystemRandom.bytes(32)) }
        try importMaterial(keyId, material, [("ExpirationModel", .string("KEY_MATERIAL_DOES_NOT_EXPIRE"))])
        #expect(try state(keyId) == "Enabled")
        #expect(try decrypt(blob)["Plaintext"]?.stringValue == Base64.encode(Array("before".utf8)))
    }

    @Test func deleteImportedKeyMaterialThenReimport() throws {
        let keyId = try externalKey()
        let material = SystemRandom.bytes(32)
        let id = try #require(try importMaterial(keyId, material)["KeyMaterialId"]?.stringValue)
        let blob = try encrypt(keyId, "kept")
        try call("DisableKey", [("KeyId", .string(keyId))])
        let out = try call("DeleteImportedKeyMaterial", [("KeyId", .string(keyId))])
        #expect(out["KeyMaterialId"]?.stringValue == id)
        #expect(try state(keyId) == "PendingImport")
        expectError(.kmsInvalidState) { _ = try decrypt(blob) }
        expectError(.incorrectKeyMaterial) { try importMaterial(keyId, SystemRandom.bytes(32)) }
        try importMaterial(keyId, material)
        #expect(try state(keyId) == "Enabled")
        #expect(try decrypt(blob)["KeyMaterialId"]?.stringValue == id)
        let aws = try #require(try call("CreateKey", [])["KeyMetadata"]?.objectValue?["KeyId"])
        expectError(.unsupportedOperation) { try call("DeleteImportedKeyMaterial", [("KeyId", aws)]) }
    }

    @Test func newKeyMaterialRotatesOnDemandAndOldCiphertextsStillDecrypt() throws {
        let keyId = try externalKey()
        let first = try #require(try importMaterial(keyId, SystemRandom.bytes(32))["KeyMaterialId"]?.stringValue)
        let blob1 = try encrypt(keyId, "one")
        expectError(.kmsInvalidState) { try call("RotateKeyOnDemand", [("KeyId", .string(keyId))]) }
        expectError(.unsupportedOperation) { try call("EnableKeyRotation", [("KeyId", .string(keyId))]) }
        let second = try #require(try importMaterial(keyId, SystemRandom.bytes(32), [("ImportType", .string("NEW_KEY_MATERIAL")),
                                                                                   ("KeyMaterialDescription", .string("second"))])["KeyMaterialId"]?.stringValue)
        #expect(second != first)
        // Pending rotation: stored, not current.
        #expect(try decrypt(encrypt(keyId, "x"))["KeyMaterialId"]?.stringValue == first)
        let all = try #require(try call("ListKeyRotations", [("KeyId", .string(keyId)), ("IncludeKeyMaterial", .string("ALL_KEY_MATERIAL"))])["Rotations"]?.arrayValue)
        #expect(all.compactMap { $0.objectValue?["KeyMaterialState"]?.stringValue } == ["CURRENT", "PENDING_ROTATION"])
        #expect(all.last?.objectValue?["KeyMaterialDescription"]?.stringValue == "second")
        #expect(all.allSatisfy { $0.objectValue?["ImportState"]?.stringValue == "IMPORTED" })
        try call("RotateKeyOnDemand", [("KeyId", .string(keyId))])
        #expect(try decrypt(encrypt(keyId, "y"))["KeyMaterialId"]?.stringValue == second)
        #expect(try decrypt(blob1)["Plaintext"]?.stringValue == Base64.encode(Array("one".utf8)))
        let rotations = try #require(try call("ListKeyRotations", [("KeyId", .string(keyId))])["Rotations"]?.arrayValue)
        #expect(rotations.count == 1 && rotations[0].objectValue?["RotationType"]?.stringValue == "ON_DEMAND"
            && rotations[0].objectValue?["KeyMaterialState"]?.stringValue == "CURRENT")
        #expect(try call("DescribeKey", [("KeyId", .string(keyId))])["KeyMetadata"]?.objectValue?["CurrentKeyMaterialId"]?.stringValue == second)
        // Deleting the earlier (non-current) material makes the key PendingImport until it comes back.
        try call("DeleteImportedKeyMaterial", [("KeyId", .string(keyId)), ("KeyMaterialId", .string(first))])
        #expect(try state(keyId) == "PendingImport")
        let listed = try #require(try call("ListKeyRotations", [("KeyId", .string(keyId)), ("IncludeKeyMaterial", .string("ALL_KEY_MATERIAL"))])["Rotations"]?.arrayValue)
        #expect(listed.compactMap { $0.objectValue?["ImportState"]?.stringValue } == ["PENDING_IMPORT", "IMPORTED"])
    }

    @Test func importConditionKeysReachTheKeyPolicy() throws {
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},"#
            + #"{"Effect":"Deny","Principal":"*","Action":"kms:GetParametersForImport","Resource":"*","Condition":{"StringEquals":{"kms:WrappingAlgorithm":"RSAES_OAEP_SHA_1"}}},"#
            + #"{"Effect":"Deny","Principal":"*","Action":"kms:ImportKeyMaterial","Resource":"*","Condition":{"StringEquals":{"kms:ExpirationModel":"KEY_MATERIAL_DOES_NOT_EXPIRE"}}}]}"#
        let keyId = try externalKey([("Policy", .string(policy))])
        expectError(.accessDenied) { _ = try wrap(keyId, SystemRandom.bytes(32), algorithm: "RSAES_OAEP_SHA_1") }
        expectError(.accessDenied) { try importMaterial(keyId, SystemRandom.bytes(32)) }
        try importMaterial(keyId, SystemRandom.bytes(32), [("ValidTo", JSONValue(clock.now() + 3600))])
        #expect(try state(keyId) == "Enabled")
    }
}
