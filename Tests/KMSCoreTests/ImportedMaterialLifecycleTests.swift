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

    /// Non-expiring material unless `extra` names ExpirationModel or ValidTo (AWS's default,
    /// KEY_MATERIAL_EXPIRES, needs a ValidTo); `bare`: neither field, as a client omitting both sends it.
    @discardableResult
    func importMaterial(_ keyId: String, _ material: [UInt8], algorithm: String = "RSAES_OAEP_SHA_256",
                        _ extra: [(String, JSONValue)] = [], bare: Bool = false) throws -> JSONObject {
        let (token, wrapped) = try wrap(keyId, material, algorithm: algorithm)
        let names = Set(extra.map(\.0))
        let expiry: [(String, JSONValue)] = bare || names.contains("ExpirationModel") || names.contains("ValidTo")
            ? [] : [("ExpirationModel", .string("KEY_MATERIAL_DOES_NOT_EXPIRE"))]
        return try call("ImportKeyMaterial", [("KeyId", .string(keyId)), ("ImportToken", .string(token)),
                                              ("EncryptedKeyMaterial", .string(wrapped))] + expiry + extra)
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
        let body: [(String, JSONValue)] = [("KeyId", .string(keyId)), ("ImportToken", .string(token)), ("EncryptedKeyMaterial", .string(wrapped)),
                                           ("ExpirationModel", .string("KEY_MATERIAL_DOES_NOT_EXPIRE"))]
        expectError(.invalidImportToken) { try call("ImportKeyMaterial", body, on: foreign) }
        try call("ImportKeyMaterial", body, on: other)
        #expect(try call("DescribeKey", [("KeyId", .string(keyId))], on: other)["KeyMetadata"]?.objectValue?["KeyState"]?.stringValue == "Enabled")
        // A token past its 24 hours is refused on every node.
        let (late, lateWrapped) = try wrap(keyId, material)
        clock.advance(by: 24 * 3600 + 1)
        expectError(.expiredImportToken) {
            try call("ImportKeyMaterial", [("KeyId", .string(keyId)), ("ImportToken", .string(late)), ("EncryptedKeyMaterial", .string(lateWrapped)),
                                           ("ExpirationModel", .string("KEY_MATERIAL_DOES_NOT_EXPIRE"))], on: other)
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

    /// AWS's default ExpirationModel is KEY_MATERIAL_EXPIRES, which needs a ValidTo: a request
    /// with neither field is refused (and changes nothing); ValidTo alone means it expires.
    @Test func expirationModelDefaultsToExpiringSoValidToIsRequired() throws {
        let keyId = try externalKey()
        let material = SystemRandom.bytes(32)
        #expect(throws: KMSError(.validation, "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")) {
            try importMaterial(keyId, material, bare: true)
        }
        #expect(throws: KMSError(.validation, "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")) {
            try importMaterial(keyId, material, [("ExpirationModel", .string("KEY_MATERIAL_EXPIRES"))])
        }
        #expect(throws: KMSError(.validation, "The parameter ValidTo cannot be specified for a key with an expiration model of KEY_MATERIAL_DOES_NOT_EXPIRE")) {
            try importMaterial(keyId, material, [("ExpirationModel", .string("KEY_MATERIAL_DOES_NOT_EXPIRE")), ("ValidTo", JSONValue(clock.now() + 60))])
        }
        #expect(try state(keyId) == "PendingImport")
        #expect(try store.key(account: alice.account, region: alice.region, keyId: keyId)?.imports.records.isEmpty == true)
        try importMaterial(keyId, material, [("ValidTo", JSONValue(clock.now() + 3600))])
        let md = try #require(try call("DescribeKey", [("KeyId", .string(keyId))])["KeyMetadata"]?.objectValue)
        #expect(md["ExpirationModel"]?.stringValue == "KEY_MATERIAL_EXPIRES" && md["ValidTo"]?.doubleValue == clock.now() + 3600)
    }

    /// KeyMaterialId: 64 hex characters keyed under the token key (a root-derived key on a
    /// server), bound to the key ID, equal for the same material on every node, and not a
    /// hash anyone can recompute from a guess of the material.
    @Test func keyMaterialIdIsKeyedAndBoundToTheKey() throws {
        let material = SystemRandom.bytes(32)
        let a = try externalKey(), b = try externalKey()
        let idA = try #require(try importMaterial(a, material)["KeyMaterialId"]?.stringValue)
        let idB = try #require(try importMaterial(b, material)["KeyMaterialId"]?.stringValue)
        #expect(idA.count == 64 && idA.allSatisfy(\.isHexDigit))
        #expect(idA != idB)
        let unkeyed = [SHA256.hash(data: material), SHA256.hash(data: Array("kms-imported-key-material|".utf8) + material)]
            .map { $0.map { String($0, radix: 16).leftPadded(2) }.joined() }
        #expect(!unkeyed.contains(idA) && !unkeyed.contains(idB))
        // Another node (same root key): deleting and re-importing there answers the same id.
        let other = try KMSService(store: store, clock: clock, importTokenKey: tokenKey)
        try call("DeleteImportedKeyMaterial", [("KeyId", .string(a))], on: other)
        let params = try call("GetParametersForImport", [("KeyId", .string(a)), ("WrappingAlgorithm", .string("RSAES_OAEP_SHA_256")),
                                                         ("WrappingKeySpec", .string("RSA_2048"))], on: other)
        let publicKey = try #require(params["PublicKey"]?.stringValue)
        let der = try #require(Base64.decode(publicKey))
        let wrapped = try AsymmetricPublicKey(spec: .rsa2048, derRepresentation: der).encrypt(plaintext: material, algorithm: .rsaesOAEPSHA256)
        let token = try #require(params["ImportToken"])
        let again = try call("ImportKeyMaterial", [("KeyId", .string(a)), ("ImportToken", token),
                                                   ("EncryptedKeyMaterial", .string(Base64.encode(wrapped))), ("KeyMaterialId", .string(idA)),
                                                   ("ExpirationModel", .string("KEY_MATERIAL_DOES_NOT_EXPIRE"))], on: other)
        #expect(again["KeyMaterialId"]?.stringValue == idA)
        // A server with another root key would give other ids.
        #expect(ImportTokenSealer(key: SymmetricKey(size: .bits256)).materialId(keyId: a, identity: material) != idA)
    }

    /// Material imported before keyed ids has the unkeyed id in its records and sealed row:
    /// it still re-imports, under that id, and its ciphertexts decrypt.
    @Test func materialWithALegacyIdStillReimports() throws {
        let keyId = try externalKey()
        let material = SystemRandom.bytes(32)
        try importMaterial(keyId, material)
        let blob = try encrypt(keyId, "old")
        // Rewrite the stored key as the previous release left it after DeleteImportedKeyMaterial.
        var old = try #require(try store.key(account: alice.account, region: alice.region, keyId: keyId))
        let legacy = ImportWrapping.legacyMaterialId(material)
        let record = try #require(old.imports.records.first)
        old.imports.records = [.init(version: record.version, materialId: legacy, imported: false, validTo: nil, description: nil, pendingRotation: false)]
        old.materials = []
        old.keyState = .pendingImport
        try store.apply([.putKey(old)])
        let restarted = try KMSService(store: store, clock: clock, importTokenKey: tokenKey)
        expectError(.incorrectKeyMaterial) {
            let (token, wrapped) = try wrap(keyId, SystemRandom.bytes(32))
            try call("ImportKeyMaterial", [("KeyId", .string(keyId)), ("ImportToken", .string(token)), ("EncryptedKeyMaterial", .string(wrapped)),
                                           ("ExpirationModel", .string("KEY_MATERIAL_DOES_NOT_EXPIRE"))], on: restarted)
        }
        let (token, wrapped) = try wrap(keyId, material)
        let out = try call("ImportKeyMaterial", [("KeyId", .string(keyId)), ("ImportToken", .string(token)), ("EncryptedKeyMaterial", .string(wrapped)),
                                                 ("KeyMaterialId", .string(legacy)), ("ExpirationModel", .string("KEY_MATERIAL_DOES_NOT_EXPIRE"))], on: restarted)
        #expect(out["KeyMaterialId"]?.stringValue == legacy)
        let md = try #require(try call("DescribeKey", [("KeyId", .string(keyId))], on: restarted)["KeyMetadata"]?.objectValue)
        #expect(md["KeyState"]?.stringValue == "Enabled" && md["CurrentKeyMaterialId"]?.stringValue == legacy)
        #expect(try call("Decrypt", [("CiphertextBlob", blob)], on: restarted)["Plaintext"]?.stringValue == Base64.encode(Array("old".utf8)))
    }

    /// A second NEW_KEY_MATERIAL while one waits is refused with AWS's wording, naming both ids.
    @Test func secondPendingMaterialIsRefused() throws {
        let keyId = try externalKey()
        try importMaterial(keyId, SystemRandom.bytes(32))
        let pending = try #require(try importMaterial(keyId, SystemRandom.bytes(32), [("ImportType", .string("NEW_KEY_MATERIAL"))])["KeyMaterialId"]?.stringValue)
        let arn = "arn:aws:kms:us-east-1:111122223333:key/\(keyId)"
        do {
            try importMaterial(keyId, SystemRandom.bytes(32), [("ImportType", .string("NEW_KEY_MATERIAL"))])
            Issue.record("a second pending material was accepted")
        } catch let error as KMSError {
            #expect(error.code == .kmsInvalidState)
            let message = error.message ?? ""
            #expect(message.hasPrefix("New key material (id: ") && message.hasSuffix(
                "cannot be imported into KMS key \(arn), because another key material (id: \(pending)) is pending rotation."))
        }
    }
}
