import Foundation
import Testing
import KMSCore
@testable import KMSStorage

@Suite struct SQLiteKeyStoreTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "kms-store-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func key(secret: [UInt8]) -> KMSKey {
        KMSKey(keyId: KeyIdentifier.newKeyId(), account: "111122223333", region: "us-east-1", creationDate: 1,
               description: "d", keyUsage: .encryptDecrypt, keySpec: .symmetricDefault, origin: "AWS_KMS",
               keyManager: "CUSTOMER", keyState: .enabled, policy: "{}", tags: [Tag(key: "t", value: "v")],
               materials: [KeyMaterial(version: 1, secret: secret, materialId: "m1", createdAt: 1)])
    }

    @Test func materialIsSealedAndSurvivesReopen() throws {
        let root = try RootKey.loadOrCreate(path: dir + "/root.key")
        let secret = SystemRandom.bytes(32)
        let k = key(secret: secret)
        do {
            let store = try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: root)
            try store.apply([.putKey(k), .putAlias(Alias(aliasName: "alias/a", account: k.account, region: k.region,
                                                          targetKeyId: k.keyId, creationDate: 1, lastUpdatedDate: 2))])
            try store.saveCredential(StoredCredential(accessKeyId: "AKIATEST", secretAccessKey: "s3cr3t-s3cr3t-s3cr3t",
                                                      account: k.account, principalArn: "arn:aws:iam::111122223333:root"))
        }
        // Nothing secret is in the database files in the clear.
        for file in ["/kms.sqlite", "/kms.sqlite-wal"] {
            guard let data = FileManager.default.contents(atPath: dir + file) else { continue }
            #expect(data.range(of: Data(secret)) == nil)
            #expect(data.range(of: Data("s3cr3t-s3cr3t-s3cr3t".utf8)) == nil)
        }
        let reopened = try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: try RootKey.loadOrCreate(path: dir + "/root.key"))
        let keys = try reopened.loadKeys()
        #expect(keys.count == 1)
        #expect(keys.first?.materials.first?.secret == secret)
        #expect(keys.first?.tags == [Tag(key: "t", value: "v")])
        #expect(try reopened.loadAliases().first?.targetKeyId == k.keyId)
        #expect(try reopened.loadCredentials().first?.secretAccessKey == "s3cr3t-s3cr3t-s3cr3t")
    }

    @Test func wrongRootKeyCannotOpen() throws {
        let store = try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: try RootKey(bytes: Array(repeating: 1, count: 32)))
        try store.apply([.putKey(key(secret: SystemRandom.bytes(32)))])
        let other = try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: try RootKey(bytes: Array(repeating: 2, count: 32)))
        #expect(throws: StorageError.self) { try other.loadKeys() }
    }

    @Test func rootKeyFileIsPrivate() throws {
        _ = try RootKey.loadOrCreate(path: dir + "/root.key")
        let attrs = try FileManager.default.attributesOfItem(atPath: dir + "/root.key")
        #expect((attrs[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test func removalDeletesMaterial() throws {
        let store = try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: try RootKey(bytes: Array(repeating: 1, count: 32)))
        let k = key(secret: SystemRandom.bytes(32))
        try store.apply([.putKey(k)])
        var stored = k
        stored.storeVersion = 1
        try store.apply([.removeKey(stored)])
        #expect(try store.loadKeys().isEmpty)
    }
}
