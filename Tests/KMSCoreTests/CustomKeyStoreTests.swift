import Crypto
import Foundation
import Synchronization
import Testing
@testable import KMSCore

/// An XKS proxy in process memory: AES-256-GCM keys, a status per key, and a switch that
/// makes it unreachable. Records each call's path and requestMetadata.
final class FakeXKSProxy: XKSProxyTransport, @unchecked Sendable {
    struct State {
        var keys: [String: (key: SymmetricKey, enabled: Bool)] = [:]
        var down = false
        var calls: [(path: String, metadata: JSONObject?)] = []
        var secret = String(repeating: "s", count: 43)
    }
    let state = Mutex(State())

    func add(_ id: String) { state.withLock { $0.keys[id] = (SymmetricKey(size: .bits256), true) } }

    func post(uriEndpoint: String, path: String, body: [UInt8], accessKeyId: String, secretAccessKey: String,
              region: String, timeout: Duration) throws(XKSTransportFailure) -> (status: Int, body: [UInt8]) {
        let request = (try? JSONParser.parse(body))?.objectValue ?? JSONObject()
        let s = state.withLock { s in
            s.calls.append((path, request["requestMetadata"]?.objectValue))
            return s
        }
        if s.down { throw .unreachable }
        func error(_ status: Int, _ name: String) -> (Int, [UInt8]) {
            (status, JSONWriter.bytes(.object(JSONObject([("errorName", .string(name))]))))
        }
        guard secretAccessKey == s.secret else { return error(401, "AuthenticationFailedException") }
        let parts = path.split(separator: "/").map(String.init)
        if parts.last == "health" {
            return (200, JSONWriter.bytes(.object(JSONObject([("xksProxyFleetSize", JSONValue(1)), ("ekmFleetDetails", .array([]))]))))
        }
        guard parts.count >= 3, let entry = s.keys[parts[parts.count - 2]] else { return error(404, "KeyNotFoundException") }
        let aad = request["additionalAuthenticatedData"]?.stringValue.flatMap(Base64.decode) ?? []
        switch parts.last {
        case "metadata":
            return (200, JSONWriter.bytes(.object(JSONObject([("keySpec", .string("AES_256")),
                                                              ("keyUsage", .array([.string("ENCRYPT"), .string("DECRYPT")])),
                                                              ("keyStatus", .string(entry.enabled ? "ENABLED" : "DISABLED"))]))))
        case "encrypt":
            guard entry.enabled else { return error(400, "InvalidStateException") }
            let plaintext = request["plaintext"]?.stringValue.flatMap(Base64.decode) ?? []
            guard let sealed = try? AES.GCM.seal(plaintext, using: entry.key, authenticating: aad) else { return error(500, "InternalException") }
            return (200, JSONWriter.bytes(.object(JSONObject([("ciphertext", .string(Base64.encode(sealed.ciphertext))),
                                                              ("initializationVector", .string(Base64.encode(Array(sealed.nonce)))),
                                                              ("authenticationTag", .string(Base64.encode(sealed.tag)))]))))
        default:
            guard entry.enabled else { return error(400, "InvalidStateException") }
            guard let ct = request["ciphertext"]?.stringValue.flatMap(Base64.decode),
                  let iv = request["initializationVector"]?.stringValue.flatMap(Base64.decode),
                  let tag = request["authenticationTag"]?.stringValue.flatMap(Base64.decode),
                  let nonce = try? AES.GCM.Nonce(data: iv), let box = try? AES.GCM.SealedBox(nonce: nonce, ciphertext: ct, tag: tag),
                  let plaintext = try? AES.GCM.open(box, using: entry.key, authenticating: aad) else {
                return error(400, "InvalidCiphertextException")
            }
            return (200, JSONWriter.bytes(.object(JSONObject([("plaintext", .string(Base64.encode(plaintext)))]))))
        }
    }
}

/// The six custom key store operations and EXTERNAL_KEY_STORE keys against an in-process proxy.
@Suite struct CustomKeyStoreTests {
    let proxy = FakeXKSProxy()
    let service: KMSService
    let root = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIAROOT",
                      principalArn: "arn:aws:iam::111122223333:root")

    init() throws {
        service = try KMSService(store: InMemoryKeyStore())
        service.customKeyStores.configure(client: XKSProxyClient(transport: proxy))
        proxy.add("ext-1")
        proxy.add("ext-2")
    }

    @discardableResult
    func call(_ op: String, _ members: [(String, JSONValue)]) throws(KMSError) -> JSONObject {
        try service.handle(operation: op, body: .object(JSONObject(members)), caller: root)
    }

    func createStore(_ name: String = "xks", path: String = "/kms/xks/v1") throws(KMSError) -> String {
        let out = try call("CreateCustomKeyStore", [
            ("CustomKeyStoreName", .string(name)), ("CustomKeyStoreType", .string("EXTERNAL_KEY_STORE")),
            ("XksProxyUriEndpoint", .string("https://xks.example.com")), ("XksProxyUriPath", .string(path)),
            ("XksProxyConnectivity", .string("PUBLIC_ENDPOINT")),
            ("XksProxyAuthenticationCredential", .object(JSONObject([("AccessKeyId", .string("ABCDEFGHIJKLMNOPQRST")),
                                                                     ("RawSecretAccessKey", .string(String(repeating: "s", count: 43)))]))),
        ])
        return out["CustomKeyStoreId"]?.stringValue ?? ""
    }

    func describe(_ id: String) throws(KMSError) -> JSONObject {
        try call("DescribeCustomKeyStores", [("CustomKeyStoreId", .string(id))])["CustomKeyStores"]?.arrayValue?.first?.objectValue ?? JSONObject()
    }

    func expectError(_ code: KMSError.Code, _ body: () throws(KMSError) -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do { try body(); Issue.record("no error, expected \(code)", sourceLocation: sourceLocation) } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        }
    }

    func connectedKey() throws -> (store: String, key: String) {
        let store = try createStore()
        try call("ConnectCustomKeyStore", [("CustomKeyStoreId", .string(store))])
        let out = try call("CreateKey", [("Origin", .string("EXTERNAL_KEY_STORE")), ("CustomKeyStoreId", .string(store)),
                                         ("XksKeyId", .string("ext-1"))])
        return (store, try #require(out["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue))
    }

    @Test func createDescribeAndTheNameRule() throws {
        let id = try createStore()
        #expect(id.hasPrefix("cks-") && id.count == 21)
        let entry = try describe(id)
        #expect(entry["ConnectionState"]?.stringValue == "DISCONNECTED")
        #expect(entry["CustomKeyStoreType"]?.stringValue == "EXTERNAL_KEY_STORE")
        #expect(entry["XksProxyConfiguration"]?.objectValue?["AccessKeyId"]?.stringValue == "ABCDEFGHIJKLMNOPQRST")
        #expect(!JSONWriter.string(.object(entry)).contains("sssssssss"), "the secret access key must never be described")
        #expect(proxy.state.withLock { $0.calls.last?.metadata?["kmsOperation"]?.stringValue } == "CreateCustomKeyStore")
        expectError(.customKeyStoreNameInUse) { () throws(KMSError) in _ = try createStore() }
        expectError(.xksProxyUriInUse) { () throws(KMSError) in _ = try createStore("other") }
        _ = try createStore("third", path: "/tenant/kms/xks/v1")
        expectError(.customKeyStoreNotFound) { () throws(KMSError) in _ = try describe("cks-00000000000000000") }
    }

    @Test func anUnreachableProxyFailsCreationAndConnection() throws {
        proxy.state.withLock { $0.down = true }
        expectError(.xksProxyUriUnreachable) { () throws(KMSError) in _ = try createStore() }
        proxy.state.withLock { $0.down = false }
        let id = try createStore()
        proxy.state.withLock { $0.down = true }
        try call("ConnectCustomKeyStore", [("CustomKeyStoreId", .string(id))])
        var entry = try describe(id)
        #expect(entry["ConnectionState"]?.stringValue == "FAILED")
        #expect(entry["ConnectionErrorCode"]?.stringValue == "XKS_PROXY_NOT_REACHABLE")
        // FAILED: disconnect first, then connect.
        expectError(.customKeyStoreInvalidState) { () throws(KMSError) in try call("ConnectCustomKeyStore", [("CustomKeyStoreId", .string(id))]) }
        try call("DisconnectCustomKeyStore", [("CustomKeyStoreId", .string(id))])
        proxy.state.withLock { $0.down = false }
        try call("ConnectCustomKeyStore", [("CustomKeyStoreId", .string(id))])
        entry = try describe(id)
        #expect(entry["ConnectionState"]?.stringValue == "CONNECTED")
        #expect(entry["ConnectionErrorCode"] == nil)
    }

    @Test func externalKeysDoubleEncryptThroughTheProxy() throws {
        let (store, key) = try connectedKey()
        let metadata = try #require(try call("DescribeKey", [("KeyId", .string(key))])["KeyMetadata"]?.objectValue)
        #expect(metadata["Origin"]?.stringValue == "EXTERNAL_KEY_STORE")
        #expect(metadata["CustomKeyStoreId"]?.stringValue == store)
        #expect(metadata["XksKeyConfiguration"]?.objectValue?["Id"]?.stringValue == "ext-1")
        let plaintext = Base64.encode(Array("hello xks".utf8))
        let context: JSONValue = .object(JSONObject([("purpose", .string("test"))]))
        let blob = try #require(try call("Encrypt", [("KeyId", .string(key)), ("Plaintext", .string(plaintext)),
                                                     ("EncryptionContext", context)])["CiphertextBlob"]?.stringValue)
        #expect(Base64.decode(blob)?.first == ExternalKeyStoreCiphertext.format)
        let encryptCall = try #require(proxy.state.withLock { $0.calls.last })
        #expect(encryptCall.path.hasSuffix("/keys/ext-1/encrypt"))
        #expect(encryptCall.metadata?["kmsKeyArn"]?.stringValue?.hasSuffix(key) == true)
        #expect(encryptCall.metadata?["awsPrincipalArn"]?.stringValue == "arn:aws:iam::111122223333:root")
        let out = try call("Decrypt", [("CiphertextBlob", .string(blob)), ("EncryptionContext", context)])
        #expect(out["Plaintext"]?.stringValue == plaintext)
        // Another context fails (the proxy layer's AAD binds it).
        expectError(.kmsInvalidState) { () throws(KMSError) in
            try call("Decrypt", [("CiphertextBlob", .string(blob)), ("EncryptionContext", .object(JSONObject([("purpose", .string("x"))])))])
        }
        let dataKey = try call("GenerateDataKey", [("KeyId", .string(key)), ("KeySpec", .string("AES_256"))])
        let reopened = try call("Decrypt", [("CiphertextBlob", dataKey["CiphertextBlob"] ?? .null)])
        #expect(reopened["Plaintext"] == dataKey["Plaintext"])
        // ReEncrypt out of the external key store to an ordinary key and back.
        let plain = try #require(try call("CreateKey", [])["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
        let moved = try call("ReEncrypt", [("CiphertextBlob", .string(blob)), ("SourceEncryptionContext", context),
                                           ("DestinationKeyId", .string(plain))])
        #expect(try call("Decrypt", [("CiphertextBlob", moved["CiphertextBlob"] ?? .null)])["Plaintext"]?.stringValue == plaintext)
    }

    @Test func aDisabledExternalKeyOrADisconnectedStoreStopsDecryption() throws {
        let (store, key) = try connectedKey()
        let blob = try #require(try call("Encrypt", [("KeyId", .string(key)), ("Plaintext", .string("AAAA"))])["CiphertextBlob"])
        proxy.state.withLock { $0.keys["ext-1"]?.enabled = false }
        expectError(.kmsInvalidState) { () throws(KMSError) in try call("Decrypt", [("CiphertextBlob", blob)]) }
        proxy.state.withLock { $0.keys["ext-1"]?.enabled = true }
        _ = try call("Decrypt", [("CiphertextBlob", blob)])
        try call("DisconnectCustomKeyStore", [("CustomKeyStoreId", .string(store))])
        let calls = proxy.state.withLock { $0.calls.count }
        expectError(.kmsInvalidState) { () throws(KMSError) in try call("Decrypt", [("CiphertextBlob", blob)]) }
        expectError(.kmsInvalidState) { () throws(KMSError) in try call("Encrypt", [("KeyId", .string(key)), ("Plaintext", .string("AAAA"))]) }
        #expect(proxy.state.withLock { $0.calls.count } == calls, "a disconnected store sends nothing to its proxy")
        let state = try call("DescribeKey", [("KeyId", .string(key))])["KeyMetadata"]?.objectValue?["KeyState"]?.stringValue
        #expect(state == "Unavailable")
        // Deleting needs no keys left.
        expectError(.customKeyStoreHasCMKs) { () throws(KMSError) in try call("DeleteCustomKeyStore", [("CustomKeyStoreId", .string(store))]) }
    }

    @Test func createKeyChecksTheStoreAndTheExternalKey() throws {
        let store = try createStore()
        func create(_ xks: String) throws(KMSError) {
            try call("CreateKey", [("Origin", .string("EXTERNAL_KEY_STORE")), ("CustomKeyStoreId", .string(store)), ("XksKeyId", .string(xks))])
        }
        expectError(.customKeyStoreInvalidState) { () throws(KMSError) in try create("ext-1") }  // not connected
        try call("ConnectCustomKeyStore", [("CustomKeyStoreId", .string(store))])
        expectError(.xksKeyNotFound) { () throws(KMSError) in try create("missing") }
        proxy.state.withLock { $0.keys["ext-2"]?.enabled = false }
        expectError(.xksKeyInvalidConfiguration) { () throws(KMSError) in try create("ext-2") }
        try create("ext-1")
        expectError(.xksKeyAlreadyInUse) { () throws(KMSError) in try create("ext-1") }
        expectError(.validation) { () throws(KMSError) in
            try call("CreateKey", [("Origin", .string("EXTERNAL_KEY_STORE")), ("CustomKeyStoreId", .string(store))])
        }
        expectError(.customKeyStoreNotFound) { () throws(KMSError) in
            try call("CreateKey", [("Origin", .string("EXTERNAL_KEY_STORE")), ("CustomKeyStoreId", .string("cks-00000000000000000")),
                                   ("XksKeyId", .string("ext-1"))])
        }
    }

    @Test func updateAndDeleteFollowTheConnectionState() throws {
        let store = try createStore()
        try call("ConnectCustomKeyStore", [("CustomKeyStoreId", .string(store))])
        // Name: allowed while connected; the endpoint needs DISCONNECTED.
        try call("UpdateCustomKeyStore", [("CustomKeyStoreId", .string(store)), ("NewCustomKeyStoreName", .string("renamed"))])
        #expect(try describe(store)["CustomKeyStoreName"]?.stringValue == "renamed")
        expectError(.customKeyStoreInvalidState) { () throws(KMSError) in
            try call("UpdateCustomKeyStore", [("CustomKeyStoreId", .string(store)), ("XksProxyUriPath", .string("/a/kms/xks/v1"))])
        }
        expectError(.customKeyStoreInvalidState) { () throws(KMSError) in try call("DeleteCustomKeyStore", [("CustomKeyStoreId", .string(store))]) }
        try call("DisconnectCustomKeyStore", [("CustomKeyStoreId", .string(store))])
        expectError(.customKeyStoreInvalidState) { () throws(KMSError) in
            try call("DisconnectCustomKeyStore", [("CustomKeyStoreId", .string(store))])
        }
        // A wrong credential is refused by the proxy's health check.
        expectError(.xksProxyIncorrectAuthenticationCredential) { () throws(KMSError) in
            try call("UpdateCustomKeyStore", [("CustomKeyStoreId", .string(store)), ("XksProxyAuthenticationCredential", .object(JSONObject([
                ("AccessKeyId", .string("ABCDEFGHIJKLMNOPQRST")), ("RawSecretAccessKey", .string(String(repeating: "w", count: 43)))])))])
        }
        try call("UpdateCustomKeyStore", [("CustomKeyStoreId", .string(store)), ("XksProxyUriPath", .string("/a/kms/xks/v1"))])
        #expect(try describe(store)["XksProxyConfiguration"]?.objectValue?["UriPath"]?.stringValue == "/a/kms/xks/v1")
        try call("DeleteCustomKeyStore", [("CustomKeyStoreId", .string(store))])
        expectError(.customKeyStoreNotFound) { () throws(KMSError) in _ = try describe(store) }
    }

    @Test func cloudHSMStoresNeedAConfiguredCluster() throws {
        /// A real self-signed certificate: the trust anchor must parse as X.509.
        let pem = "-----BEGIN CERTIFICATE-----\nMIIBozCCAUmgAwIBAgIUdEVnWdpmtxrRBVZwsA0TzgFtAZ4wCgYIKoZIzj0EAwIw\nJjEkMCIGA1UEAwwbc3dpZnQta21zIHRlc3QgdHJ1c3QgYW5jaG9yMCAXDTI2MTEz\nMDAwNTM1MFoYDzIxMjYxMTA2MDA1MzUwWjAmMSQwIgYDVQQDDBtzd2lmdC1rbXMg\ndGVzdCB0cnVzdCBhbmNob3IwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAT83Txg\n1Sls0XlT47US5So8INNHSORnT/wFc1FiIwsqOAWzNEIl7pLmp2YURBzqp02wEYIE\n2H2hyQpHcB1sqqI2o1MwUTAdBgNVHQ4EFgQUrOPRXV+AQnMbngCRWwLdqMCtDu0w\nHwYDVR0jBBgwFoAUrOPRXV+AQnMbngCRWwLdqMCtDu0wDwYDVR0TAQH/BAUwAwEB\n/zAKBggqhkjOPQQDAgNIADBFAiEAsqeljGCpawQy1C9qmg7IoFR/TLgwFGuL8bWi\n7fzALekCIHXA65KDQB8/wrT2iQv7F8YoEx6DqKny5/joPNd6lhQ+\n-----END CERTIFICATE-----\n"
        func create() throws(KMSError) -> JSONObject {
            try call("CreateCustomKeyStore", [("CustomKeyStoreName", .string("hsm")), ("CloudHsmClusterId", .string("cluster-234abcdefgh")),
                                              ("TrustAnchorCertificate", .string(pem)), ("KeyStorePassword", .string("kmsuser-pin"))])
        }
        expectError(.cloudHsmClusterNotFound) { () throws(KMSError) in _ = try create() }
        service.customKeyStores.configure(clusters: [PKCS11Cluster(clusterId: "cluster-234abcdefgh", modulePath: "/lib/softhsm.so", tokenLabel: "t")])
        let id = try #require(try create()["CustomKeyStoreId"]?.stringValue)
        let entry = try describe(id)
        #expect(entry["CustomKeyStoreType"]?.stringValue == "AWS_CLOUDHSM")
        #expect(!JSONWriter.string(.object(entry)).contains("kmsuser-pin"))
        expectError(.incorrectTrustAnchor) { () throws(KMSError) in
            _ = try call("CreateCustomKeyStore", [("CustomKeyStoreName", .string("hsm2")), ("CloudHsmClusterId", .string("cluster-234abcdefgh")),
                                                  ("TrustAnchorCertificate", .string("not a certificate")), ("KeyStorePassword", .string("kmsuser-pin"))])
        }
        // DER-shaped bytes that are no certificate are refused too.
        let fake = "-----BEGIN CERTIFICATE-----\n" + Base64.encode([0x30] + Array(repeating: 1, count: 100)) + "\n-----END CERTIFICATE-----\n"
        expectError(.incorrectTrustAnchor) { () throws(KMSError) in
            _ = try call("CreateCustomKeyStore", [("CustomKeyStoreName", .string("hsm3")), ("CloudHsmClusterId", .string("cluster-234abcdefgh")),
                                                  ("TrustAnchorCertificate", .string(fake)), ("KeyStorePassword", .string("kmsuser-pin"))])
        }
    }
}
