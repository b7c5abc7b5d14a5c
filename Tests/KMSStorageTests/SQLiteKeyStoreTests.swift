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
        try store.apply([.removeKey(account: k.account, region: k.region, keyId: k.keyId)])
        #expect(try store.loadKeys().isEmpty)
    }

    /// Deleted key material leaves no trace on disk: neither its sealed row nor any
    /// 16-byte slice of it is in any file of the directory (secure_delete + TRUNCATE checkpoint).
    @Test func removalScrubsSealedMaterialFromEveryFile() throws {
        let store = try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: try RootKey(bytes: Array(repeating: 1, count: 32)))
        let doomed = key(secret: SystemRandom.bytes(32)), kept = key(secret: SystemRandom.bytes(32))
        try store.apply([.putKey(doomed), .putKey(kept)])
        // Force the rows through a checkpoint into the database file too, as a long-running server would.
        try store.scrubDeletedMaterial()
        try store.apply([.putAlias(Alias(aliasName: "alias/x", account: kept.account, region: kept.region,
                                         targetKeyId: kept.keyId, creationDate: 1, lastUpdatedDate: 1))])
        let sealed = try store.db.read { db in
            try Data.fetchOne(db, sql: "SELECT sealed FROM key_materials WHERE key_id = ?", arguments: [doomed.keyId])
        }
        let sealedBytes = try #require(sealed)
        #expect(sealedBytes.count == 12 + 32 + 16)
        #expect(Self.filesContaining(sealedBytes.prefix(16), in: dir) == ["kms.sqlite"])  // the probe finds it before
        try store.apply([.removeKey(account: doomed.account, region: doomed.region, keyId: doomed.keyId)])
        for start in stride(from: 0, through: sealedBytes.count - 16, by: 4) {
            let slice = sealedBytes[sealedBytes.startIndex + start ..< sealedBytes.startIndex + start + 16]
            #expect(Self.filesContaining(slice, in: dir).isEmpty, "slice at \(start)")
        }
        #expect(try store.loadKeys().map(\.keyId) == [kept.keyId])
        // Set by the store itself, not left to how the system's SQLite was compiled (Debian
        // builds it with SQLITE_SECURE_DELETE; other builds do not).
        #expect(try store.db.read { try Int.fetchOne($0, sql: "PRAGMA secure_delete") } == 1)
        #expect(try store.db.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
    }

    static func filesContaining(_ needle: Data, in dir: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.sorted().filter { name in
            FileManager.default.contents(atPath: dir + "/" + name)?.range(of: needle) != nil
        }
    }
}
