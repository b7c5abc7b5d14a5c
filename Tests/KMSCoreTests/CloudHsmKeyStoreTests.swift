import Crypto
import Foundation
import Synchronization
import Testing
@testable import KMSCore

/// A token in process memory standing for a CloudHSM cluster: one user PIN, AES-256 keys by
/// label (never handed out), AES-GCM laid out as the PKCS#11 session lays it out.
final class FakeCloudHsmToken: CloudHsmConnector, @unchecked Sendable {
    struct State {
        var pin = "kmsuser-pin"
        var present = true
        var keys: [String: SymmetricKey] = [:]
        var openSessions = 0
        var operations = 0
        /// Every draw of GenerateRandom, in order.
        var randomDraws: [[UInt8]] = []
    }
    let state = Mutex(State())

    func connect(_ cluster: PKCS11Cluster, pin: String) throws(CloudHsmError) -> any CloudHsmSession {
        try state.withLock { (s) throws(CloudHsmError) in
            guard s.present else { throw CloudHsmError(.clusterNotFound, "no token labelled \(cluster.tokenLabel)") }
            guard s.pin == pin else { throw CloudHsmError(.invalidCredentials, "CKR_PIN_INCORRECT") }
            s.openSessions += 1
        }
        return Session(token: self)
    }

    final class Session: CloudHsmSession, @unchecked Sendable {
        let token: FakeCloudHsmToken
        let closed = Mutex(false)
        init(token: FakeCloudHsmToken) { self.token = token }

        func key(_ label: String) throws(CloudHsmError) -> SymmetricKey {
            guard !closed.withLock({ $0 }) else { throw CloudHsmError(.failed, "session closed") }
            guard let key = token.state.withLock({ s -> SymmetricKey? in s.operations += 1; return s.keys[label] }) else {
                throw CloudHsmError(.keyNotFound, "no key \(label)")
            }
            return key
        }

        func generateKey(label: String) throws(CloudHsmError) {
            guard !closed.withLock({ $0 }) else { throw CloudHsmError(.failed, "session closed") }
            token.state.withLock { $0.keys[label] = SymmetricKey(size: .bits256) }
        }

        func seal(label: String, plaintext: [UInt8], aad: [UInt8]) throws(CloudHsmError) -> [UInt8] {
            let key = try key(label)
            guard let box = try? AES.GCM.seal(plaintext, using: key, authenticating: aad) else { throw CloudHsmError(.failed, "seal") }
            return Array(box.nonce) + box.ciphertext + box.tag
        }

        func open(label: String, sealed: [UInt8], aad: [UInt8]) throws(CloudHsmError) -> [UInt8] {
            let key = try key(label)
            guard sealed.count >= 28, let box = try? AES.GCM.SealedBox(combined: sealed),
                  let plain = try? AES.GCM.open(box, using: key, authenticating: aad) else {
                throw CloudHsmError(.invalidCiphertext, "CKR_ENCRYPTED_DATA_INVALID")
            }
            return Array(plain)
        }

        func generateRandom(count: Int) throws(CloudHsmError) -> [UInt8] {
            guard !closed.withLock({ $0 }) else { throw CloudHsmError(.failed, "session closed") }
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255) }
            token.state.withLock { $0.operations += 1; $0.randomDraws.append(bytes) }
            return bytes
        }

        func destroyKey(label: String) throws(CloudHsmError) {
            guard !closed.withLock({ $0 }) else { throw CloudHsmError(.failed, "session closed") }
            _ = token.state.withLock { $0.keys.removeValue(forKey: label) }
        }

        func close() {
            let was = closed.withLock { c in defer { c = true }; return c }
            if !was { token.state.withLock { $0.openSessions -= 1 } }
        }
    }
}

/// AWS_CLOUDHSM key stores: Connect logs in to the cluster's token, keys are generated in it,
/// and Encrypt/Decrypt run in it; disconnecting makes the keys Unavailable.
@Suite struct CloudHsmKeyStoreTests {
    let token = FakeCloudHsmToken()
    let clock = ManualClock()
    let service: KMSService
    let root = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIAROOT",
                      principalArn: "arn:aws:iam::111122223333:root")
    static let cluster = "cluster-234abcdefgh"
    /// A real self-signed certificate: the trust anchor must parse as X.509.
    static let pem = "-----BEGIN CERTIFICATE-----\nMIIBozCCAUmgAwIBAgIUdEVnWdpmtxrRBVZwsA0TzgFtAZ4wCgYIKoZIzj0EAwIw\nJjEkMCIGA1UEAwwbc3dpZnQta21zIHRlc3QgdHJ1c3QgYW5jaG9yMCAXDTI2MTEz\nMDAwNTM1MFoYDzIxMjYxMTA2MDA1MzUwWjAmMSQwIgYDVQQDDBtzd2lmdC1rbXMg\ndGVzdCB0cnVzdCBhbmNob3IwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAT83Txg\n1Sls0XlT47US5So8INNHSORnT/wFc1FiIwsqOAWzNEIl7pLmp2YURBzqp02wEYIE\n2H2hyQpHcB1sqqI2o1MwUTAdBgNVHQ4EFgQUrOPRXV+AQnMbngCRWwLdqMCtDu0w\nHwYDVR0jBBgwFoAUrOPRXV+AQnMbngCRWwLdqMCtDu0wDwYDVR0TAQH/BAUwAwEB\n/zAKBggqhkjOPQQDAgNIADBFAiEAsqeljGCpawQy1C9qmg7IoFR/TLgwFGuL8bWi\n7fzALekCIHXA65KDQB8/wrT2iQv7F8YoEx6DqKny5/joPNd6lhQ+\n-----END CERTIFICATE-----\n"

    init() throws {
        service = try KMSService(store: InMemoryKeyStore(), clock: clock)
        service.customKeyStores.configure(clusters: [PKCS11Cluster(clusterId: Self.cluster, modulePath: "/lib/softhsm.so", tokenLabel: "t")])
        service.customKeyStores.configure(connector: token)
    }

    @discardableResult
    func call(_ op: String, _ members: [(String, JSONValue)]) throws(KMSError) -> JSONObject {
        try service.handle(operation: op, body: .object(JSONObject(members)), caller: root)
    }

    func expectError(_ code: KMSError.Code, _ body: () throws(KMSError) -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do { try body(); Issue.record("no error, expected \(code)", sourceLocation: sourceLocation) } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        }
    }

    func createStore(password: String = "kmsuser-pin") throws -> String {
        let out = try call("CreateCustomKeyStore", [("CustomKeyStoreName", .string("hsm")), ("CloudHsmClusterId", .string(Self.cluster)),
                                                    ("TrustAnchorCertificate", .string(Self.pem)), ("KeyStorePassword", .string(password))])
        return try #require(out["CustomKeyStoreId"]?.stringValue)
    }

    func store(_ id: String) throws -> JSONObject {
        try #require(try call("DescribeCustomKeyStores", [("CustomKeyStoreId", .string(id))])["CustomKeyStores"]?.arrayValue?.first?.objectValue)
    }

    func connect(_ id: String) throws { try call("ConnectCustomKeyStore", [("CustomKeyStoreId", .string(id))]) }
    func disconnect(_ id: String) throws { try call("DisconnectCustomKeyStore", [("CustomKeyStoreId", .string(id))]) }

    func hsmKey(_ storeId: String) throws -> JSONObject {
        try #require(try call("CreateKey", [("Origin", .string("AWS_CLOUDHSM")), ("CustomKeyStoreId", .string(storeId))])["KeyMetadata"]?.objectValue)
    }

    @Test func connectLogsInWithTheStorePassword() throws {
        let wrong = try createStore(password: "not-the-pin")
        try connect(wrong)
        #expect(try store(wrong)["ConnectionState"]?.stringValue == "FAILED")
        #expect(try store(wrong)["ConnectionErrorCode"]?.stringValue == "INVALID_CREDENTIALS")
        #expect(token.state.withLock { $0.openSessions } == 0)
        // FAILED must be disconnected before it is connected again (AWS); then the right PIN works.
        expectError(.customKeyStoreInvalidState) { () throws(KMSError) in try call("ConnectCustomKeyStore", [("CustomKeyStoreId", .string(wrong))]) }
        try disconnect(wrong)
        try call("UpdateCustomKeyStore", [("CustomKeyStoreId", .string(wrong)), ("KeyStorePassword", .string("kmsuser-pin"))])
        try connect(wrong)
        #expect(try store(wrong)["ConnectionState"]?.stringValue == "CONNECTED")
        #expect(try store(wrong)["ConnectionErrorCode"] == nil)
        #expect(token.state.withLock { $0.openSessions } == 1)
        try disconnect(wrong)
        #expect(token.state.withLock { $0.openSessions } == 0, "Disconnect logs out of the token")
        // A token that is gone: CLUSTER_NOT_FOUND.
        token.state.withLock { $0.present = false }
        try connect(wrong)
        #expect(try store(wrong)["ConnectionErrorCode"]?.stringValue == "CLUSTER_NOT_FOUND")
    }

    @Test func keysLiveAndRunInTheToken() throws {
        let storeId = try createStore()
        expectError(.customKeyStoreInvalidState) { () throws(KMSError) in _ = try call("CreateKey", [("Origin", .string("AWS_CLOUDHSM")), ("CustomKeyStoreId", .string(storeId))]) }
        try connect(storeId)
        let meta = try hsmKey(storeId)
        let keyId = try #require(meta["KeyId"]?.stringValue)
        #expect(meta["Origin"]?.stringValue == "AWS_CLOUDHSM")
        #expect(meta["CustomKeyStoreId"]?.stringValue == storeId)
        #expect(meta["CloudHsmClusterId"]?.stringValue == Self.cluster)
        #expect(meta["CurrentKeyMaterialId"] == nil, "AWS shows no key material ID for keys in CloudHSM key stores")
        #expect(token.state.withLock { $0.keys[keyId] } != nil, "the key's material is generated in the token, labelled with the key ID")
        let described = try #require(try call("DescribeKey", [("KeyId", .string(keyId))])["KeyMetadata"]?.objectValue)
        #expect(described["CloudHsmClusterId"]?.stringValue == Self.cluster)
        #expect(described["KeyState"]?.stringValue == "Enabled")

        let context = JSONValue.object(JSONObject([("purpose", .string("test"))]))
        let before = token.state.withLock { $0.operations }
        let blob = try #require(try call("Encrypt", [("KeyId", .string(keyId)), ("Plaintext", .string("aGVsbG8=")),
                                                      ("EncryptionContext", context)])["CiphertextBlob"]?.stringValue)
        #expect(Base64.decode(blob)?.first == CloudHsmCiphertext.format)
        let opened = try call("Decrypt", [("CiphertextBlob", .string(blob)), ("EncryptionContext", context)])
        #expect(opened["Plaintext"]?.stringValue == "aGVsbG8=")
        #expect(opened["KeyId"]?.stringValue?.hasSuffix(keyId) == true)
        #expect(token.state.withLock { $0.operations } == before + 2, "both ran in the token")
        // The context is the token's AAD; a tampered blob is refused too.
        expectError(.invalidCiphertext) { () throws(KMSError) in _ = try call("Decrypt", [("CiphertextBlob", .string(blob))]) }
        var tampered = try #require(Base64.decode(blob))
        tampered[tampered.count - 1] ^= 1
        expectError(.invalidCiphertext) { () throws(KMSError) in
            _ = try call("Decrypt", [("CiphertextBlob", .string(Base64.encode(tampered))), ("EncryptionContext", context)])
        }
        // Data keys and ReEncrypt in and out of the token.
        let dataKey = try call("GenerateDataKey", [("KeyId", .string(keyId)), ("KeySpec", .string("AES_256"))])
        let reopened = try call("Decrypt", [("CiphertextBlob", dataKey["CiphertextBlob"] ?? .null)])
        #expect(reopened["Plaintext"] == dataKey["Plaintext"])
        _ = try call("GenerateDataKeyWithoutPlaintext", [("KeyId", .string(keyId)), ("NumberOfBytes", JSONValue(16))])
        let plain = try #require(try call("CreateKey", [])["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
        let moved = try call("ReEncrypt", [("CiphertextBlob", .string(blob)), ("SourceEncryptionContext", context),
                                           ("DestinationKeyId", .string(plain))])
        let back = try call("ReEncrypt", [("CiphertextBlob", moved["CiphertextBlob"] ?? .null), ("DestinationKeyId", .string(keyId))])
        #expect(try call("Decrypt", [("CiphertextBlob", back["CiphertextBlob"] ?? .null)])["Plaintext"]?.stringValue == "aGVsbG8=")
        // A KeyId that is not the blob's key is IncorrectKeyException.
        expectError(.incorrectKey) { () throws(KMSError) in
            _ = try call("Decrypt", [("CiphertextBlob", .string(blob)), ("EncryptionContext", context), ("KeyId", .string(plain))])
        }
        // Rotation is not offered for keys in custom key stores.
        expectError(.unsupportedOperation) { () throws(KMSError) in _ = try call("EnableKeyRotation", [("KeyId", .string(keyId))]) }
    }

    @Test func disconnectingMakesTheKeysUnavailableUntilReconnected() throws {
        let storeId = try createStore()
        try connect(storeId)
        let keyId = try #require(try hsmKey(storeId)["KeyId"]?.stringValue)
        let blob = try #require(try call("Encrypt", [("KeyId", .string(keyId)), ("Plaintext", .string("AAAA"))])["CiphertextBlob"])
        try disconnect(storeId)
        let ops = token.state.withLock { $0.operations }
        for (op, body) in [("Encrypt", [("KeyId", JSONValue.string(keyId)), ("Plaintext", .string("AAAA"))]),
                           ("Decrypt", [("CiphertextBlob", blob)]),
                           ("GenerateDataKey", [("KeyId", .string(keyId)), ("KeySpec", .string("AES_256"))])] {
            do { try call(op, body); Issue.record("\(op) worked on a disconnected store") } catch {
                #expect(error.code == .kmsInvalidState)
                #expect(error.message?.contains("is unavailable") == true)
                #expect(error.message?.contains("AWS CloudHSM") == true)
            }
        }
        #expect(token.state.withLock { $0.operations } == ops, "nothing reaches the token while disconnected")
        let meta = try #require(try call("DescribeKey", [("KeyId", .string(keyId))])["KeyMetadata"]?.objectValue)
        #expect(meta["KeyState"]?.stringValue == "Unavailable")
        expectError(.customKeyStoreHasCMKs) { () throws(KMSError) in try call("DeleteCustomKeyStore", [("CustomKeyStoreId", .string(storeId))]) }
        try connect(storeId)
        #expect(try call("Decrypt", [("CiphertextBlob", blob)])["Plaintext"]?.stringValue == "AAAA")
    }

    /// GenerateRandom with the store's ID: the bytes come from the cluster's token (AWS draws
    /// them in the cluster), and only while the store is connected.
    @Test func generateRandomDrawsFromTheStoresToken() throws {
        let storeId = try createStore()
        let args: [(String, JSONValue)] = [("CustomKeyStoreId", .string(storeId)), ("NumberOfBytes", JSONValue(48))]
        expectError(.customKeyStoreInvalidState) { () throws(KMSError) in try call("GenerateRandom", args) }
        #expect(token.state.withLock { $0.randomDraws.isEmpty })
        try connect(storeId)
        let out = try #require(try call("GenerateRandom", args)["Plaintext"]?.stringValue)
        let draws = token.state.withLock { $0.randomDraws }
        #expect(draws.count == 1)
        #expect(draws.first?.count == 48)
        #expect(out == Data(draws[0]).base64EncodedString())
        // Without the ID, the host's generator answers and the token is not asked.
        #expect(try call("GenerateRandom", [("NumberOfBytes", JSONValue(16))])["Plaintext"] != nil)
        #expect(token.state.withLock { $0.randomDraws.count } == 1)
        try disconnect(storeId)
        expectError(.customKeyStoreInvalidState) { () throws(KMSError) in try call("GenerateRandom", args) }
        expectError(.customKeyStoreNotFound) { () throws(KMSError) in
            try call("GenerateRandom", [("CustomKeyStoreId", .string("cks-1234567890abcdef0")), ("NumberOfBytes", JSONValue(8))])
        }
    }

    @Test func deletionRemovesTheTokenKeyWhenConnected() throws {
        let storeId = try createStore()
        try connect(storeId)
        let orphaned = try #require(try hsmKey(storeId)["KeyId"]?.stringValue)
        let gone = try #require(try hsmKey(storeId)["KeyId"]?.stringValue)
        // ScheduleKeyDeletion works on a disconnected store (the key shows PendingDeletion).
        try disconnect(storeId)
        try call("ScheduleKeyDeletion", [("KeyId", .string(orphaned)), ("PendingWindowInDays", JSONValue(7))])
        #expect(try call("DescribeKey", [("KeyId", .string(orphaned))])["KeyMetadata"]?.objectValue?["KeyState"]?.stringValue == "PendingDeletion")
        try call("ScheduleKeyDeletion", [("KeyId", .string(gone)), ("PendingWindowInDays", JSONValue(30))])
        // Deleted while the store is disconnected: the token keeps the material (orphaned), as in AWS.
        clock.advance(by: 8 * 86_400)
        #expect(try service.sweepDeletions() == 1)
        #expect(token.state.withLock { $0.keys[orphaned] } != nil)
        // Deleted while connected: the token object goes too.
        try connect(storeId)
        clock.advance(by: 23 * 86_400)
        #expect(try service.sweepDeletions() == 1)
        #expect(token.state.withLock { $0.keys[gone] } == nil)
        try disconnect(storeId)
        try call("DeleteCustomKeyStore", [("CustomKeyStoreId", .string(storeId))])
    }

    @Test func format4ParsesOnlyWellFormedBlobs() throws {
        let blob = CloudHsmCiphertext(account: "111122223333", keyId: "1234abcd-12ab-34cd-56ef-1234567890ab",
                                      sealed: Array(repeating: 7, count: 12 + 5 + 16))
        #expect(CloudHsmCiphertext.parse(blob.bytes) == blob)
        let header = blob.header.count
        // Anything shorter than header + nonce + tag is not a blob; neither is another format or version.
        for n in 0..<(header + 28) { #expect(CloudHsmCiphertext.parse(Array(blob.bytes.prefix(n))) == nil) }
        var other = blob.bytes
        other[0] = CiphertextBlob.formatVersion
        #expect(CloudHsmCiphertext.parse(other) == nil)
        var version = blob.bytes
        version[header - 1] = 2
        #expect(CloudHsmCiphertext.parse(version) == nil)
        var badId = blob.bytes
        badId[14] = UInt8(ascii: "/")
        #expect(CloudHsmCiphertext.parse(badId) == nil)
        // And the other parsers do not take a format-4 blob for theirs.
        #expect(CiphertextBlob.parse(blob.bytes) == nil)
        #expect(ExternalKeyStoreCiphertext.parse(blob.bytes) == nil)
    }
}
