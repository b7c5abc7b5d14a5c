import Foundation
import KMSCore
@testable import KMSStorage
import Testing

/// Issue 14 §1: the root record, passphrase roots, and rewrap between roots (SQLite).
@Suite struct RootOfTrustTests {
    func scratchDir() throws -> String {
        let dir = NSTemporaryDirectory() + "kms-root-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return dir
    }

    func passphrase(_ s: String) throws -> RootOfTrust { .passphrase(try RootOfTrust.Passphrase(Array(s.utf8))) }

    @Test func fileRootRecordKeepsDerivedKeysAndRefusesAnotherFile() throws {
        let dir = try scratchDir()
        let root = try RootOfTrust.file(path: dir + "/root.key").open(dataDirectory: dir)
        // A file root derives from itself, as before the record existed.
        let raw = try RootKey.loadOrCreateFile(path: dir + "/root.key")
        #expect(root.derivedKey(label: "x") == raw.derivedKey(label: "x"))
        #expect(FileManager.default.fileExists(atPath: dir + "/root-of-trust.json"))
        _ = try RootOfTrust.file(path: dir + "/root.key").open(dataDirectory: dir)
        let other = #expect(throws: StorageError.self) { try RootOfTrust.file(path: dir + "/other.key").open(dataDirectory: dir) }
        #expect(other?.description.contains("check value does not open") == true)
        let kind = #expect(throws: StorageError.self) { try passphrase("p").open(dataDirectory: dir) }
        #expect(kind?.description.contains("protected by a file root") == true)
    }

    @Test func passphraseRootOpensWithTheRightPassphraseOnly() throws {
        let dir = try scratchDir()
        let first = try passphrase("correct horse").open(dataDirectory: dir)
        let sealed = try first.seal([1, 2, 3], context: "c")
        let again = try passphrase("correct horse").open(dataDirectory: dir)
        #expect(try again.open(sealed, context: "c") == [1, 2, 3])
        #expect(again.derivedKey(label: "t") == first.derivedKey(label: "t"))
        let wrong = #expect(throws: StorageError.self) { try passphrase("correct horsE").open(dataDirectory: dir) }
        #expect(wrong?.description.contains("passphrase is wrong") == true)
        // Not the legacy root key file, and tools that only know files refuse the dir.
        #expect(!FileManager.default.fileExists(atPath: dir + "/root.key"))
        #expect(throws: StorageError.self) { try RootKey.loadOrCreate(path: dir + "/root.key") }
        #expect(!FileManager.default.fileExists(atPath: dir + "/root.key"))
    }

    @Test func scryptMatchesRFC7914Vector() throws {
        // RFC 7914 §12, second vector: "password", "NaCl", N=1024, r=8, p=16 (our floor is N=2^14, so
        // the bounded entry point refuses it; check the third vector, N=16384, r=8, p=1).
        let params = ScryptParameters(n: 16384, r: 8, p: 1, salt: Base64.encode(Array("SodiumChloride".utf8)))
        let out = try Scrypt.derive(passphrase: Array("pleaseletmein".utf8), parameters: params)
        #expect(out.map { String(format: "%02x", $0) }.joined() == "7023bdcb3afd7348461c06cd81fd38ebfda8fbba904f8e3ea9b543f6545da1f2")
    }

    @Test func rewrapMovesEverySealedRowAndKeepsDerivedKeys() throws {
        let dir = try scratchDir()
        let fileRoot = RootOfTrust.file(path: dir + "/root.key")
        let before = try fileRoot.open(dataDirectory: dir)
        let secret = SystemRandom.bytes(32)
        let key = Fixtures.key(secret: secret)
        do {
            let store = try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: before)
            try store.apply([.putKey(key)])
        }
        let summary = try RootRewrap.run(dataDirectory: dir, sqlitePath: dir + "/kms.sqlite", from: fileRoot, to: try passphrase("pw"))
        #expect(summary.keyMaterials == 1)
        // The old root no longer opens the dir; the new one opens the store and derives the same keys.
        #expect(throws: StorageError.self) { try fileRoot.open(dataDirectory: dir) }
        let after = try passphrase("pw").open(dataDirectory: dir)
        #expect(after.derivedKey(label: "grant") == before.derivedKey(label: "grant"))
        let store = try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: after)
        let loaded = try #require(try store.key(account: key.account, region: key.region, keyId: key.keyId))
        #expect(loaded.materials.first?.secret == secret)
        // The sealed bytes changed: the rows really are under the new root.
        #expect(throws: (any Error).self) { try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: before).key(account: key.account, region: key.region, keyId: key.keyId) }
        // And back to a new file root.
        _ = try RootRewrap.run(dataDirectory: dir, sqlitePath: dir + "/kms.sqlite", from: try passphrase("pw"), to: .file(path: dir + "/root2.key"))
        let back = try RootOfTrust.file(path: dir + "/root2.key").open(dataDirectory: dir)
        #expect(back.derivedKey(label: "grant") == before.derivedKey(label: "grant"))
        #expect(try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: back).key(account: key.account, region: key.region, keyId: key.keyId)?.materials.first?.secret == secret)
    }

    @Test func rewrapFromTheWrongRootChangesNothing() throws {
        let dir = try scratchDir()
        let fileRoot = RootOfTrust.file(path: dir + "/root.key")
        let root = try fileRoot.open(dataDirectory: dir)
        let key = Fixtures.key()
        try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: root).apply([.putKey(key)])
        #expect(throws: StorageError.self) {
            try RootRewrap.run(dataDirectory: dir, sqlitePath: dir + "/kms.sqlite", from: try passphrase("a"), to: try passphrase("b"))
        }
        #expect(try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: try fileRoot.open(dataDirectory: dir))
            .key(account: key.account, region: key.region, keyId: key.keyId) != nil)
    }
}
