import Foundation
import Testing
import KMSCore
@testable import KMSStorage

/// The backends the store contract runs against. PostgreSQL needs KMS_TEST_POSTGRES_URL
/// (scripts/with-postgres starts a throwaway cluster and sets it); without it the
/// PostgreSQL cases are skipped locally but FAIL under CI, so CI cannot pass by skipping.
enum StoreBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgresql

    var testDescription: String { rawValue }

    static var postgresURL: String? {
        let value = ProcessInfo.processInfo.environment["KMS_TEST_POSTGRES_URL"]
        return (value?.isEmpty ?? true) ? nil : value
    }
}

/// One scratch store: a fresh SQLite file, or a fresh PostgreSQL database, plus a root key
/// on disk so other processes (kms store-stress) can open the same store.
final class ScratchStore: @unchecked Sendable {
    let backend: StoreBackend
    let dir: String
    let rootKeyPath: String
    let rootKey: RootKey
    /// What `--storage` takes for this store.
    let storage: String
    private let pgURL: PostgresStorageURL?
    private let pgAdmin: PostgresStorageURL?
    private var opened: [any KeyStore & CredentialStore] = []

    /// nil when the backend is not available here (and that is allowed: not under CI).
    static func make(_ backend: StoreBackend) throws -> ScratchStore? {
        switch backend {
        case .sqlite:
            return try ScratchStore(backend: backend, pgAdmin: nil)
        case .postgresql:
            guard let url = StoreBackend.postgresURL else {
                if ProcessInfo.processInfo.environment["CI"] != nil {
                    Issue.record("KMS_TEST_POSTGRES_URL is not set under CI: the PostgreSQL store contract did not run (scripts/with-postgres sets it)")
                }
                return nil
            }
            return try ScratchStore(backend: backend, pgAdmin: try PostgresStorageURL(url))
        }
    }

    private init(backend: StoreBackend, pgAdmin: PostgresStorageURL?) throws {
        self.backend = backend
        dir = NSTemporaryDirectory() + "kms-contract-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        rootKeyPath = dir + "/root.key"
        rootKey = try RootKey.loadOrCreate(path: rootKeyPath)
        self.pgAdmin = pgAdmin
        if let pgAdmin {
            let url = try PostgresAdmin.createScratchDatabase(from: pgAdmin, prefix: "kms_contract")
            pgURL = url
            storage = Self.urlString(url, like: StoreBackend.postgresURL ?? "")
        } else {
            pgURL = nil
            storage = "sqlite:" + dir + "/kms.sqlite"
        }
    }

    /// The admin URL with the scratch database swapped in, keeping user, password and parameters.
    static func urlString(_ url: PostgresStorageURL, like base: String) -> String {
        guard var c = URLComponents(string: base) else { return url.description }
        c.path = "/" + url.database
        return c.string ?? url.description
    }

    /// A new, independent store instance (own connection or connection pool) on the same data.
    func open() throws -> any KeyStore & CredentialStore {
        let store = try StorageLocation(storage, dataDirectory: dir).open(rootKey: rootKey)
        opened.append(store)
        return store
    }

    deinit {
        for case let pg as PostgresKeyStore in opened { pg.close() }
        opened.removeAll()
        if let pgURL, let pgAdmin { try? PostgresAdmin.dropDatabase(pgURL, via: pgAdmin) }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

enum Fixtures {
    static let account = "111122223333"
    static let region = "us-east-1"

    static func key(id: String = KeyIdentifier.newKeyId(), secret: [UInt8] = SystemRandom.bytes(32), description: String = "d") -> KMSKey {
        KMSKey(keyId: id, account: account, region: region, creationDate: 1,
               description: description, keyUsage: .encryptDecrypt, keySpec: .symmetricDefault, origin: "AWS_KMS",
               keyManager: "CUSTOMER", keyState: .enabled, policy: "{}", tags: [Tag(key: "t", value: "v")],
               materials: [try! KeyMaterial(keySpec: .symmetricDefault, version: 1, secret: secret, materialId: "m1-" + id, createdAt: 1)])
    }

    static func material(version: UInt32, id: String) -> KeyMaterial {
        try! KeyMaterial(keySpec: .symmetricDefault, version: version, secret: SystemRandom.bytes(32), materialId: id, createdAt: Double(version))
    }

    static func alias(_ name: String, target: String) -> Alias {
        Alias(aliasName: name, account: account, region: region, targetKeyId: target, creationDate: 1, lastUpdatedDate: 1)
    }

    /// The kms binary next to the test bundle (swift test builds it), or KMS_BINARY.
    static var kmsBinary: String? {
        if let explicit = ProcessInfo.processInfo.environment["KMS_BINARY"], FileManager.default.isExecutableFile(atPath: explicit) {
            return explicit
        }
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("kms").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }
}
