import Foundation
import GRDB
import Logging
import PostgresNIO
import Testing
import KMSCore
@testable import KMSStorage

/// Schema migrations and sealing at rest, per backend; storage URL parsing.
@Suite(.serialized) struct StoreMigrationTests {
    @Test func postgresMigrationsAreRecordedAndRunOnce() throws {
        guard let scratch = try ScratchStore.make(.postgresql) else { return }
        let first = try #require(try scratch.open() as? PostgresKeyStore)
        _ = try scratch.open() // a second node starting: nothing re-applied, nothing fails
        let versions = try first.wait { [client = first.client] in
            try await PostgresMigrations.appliedVersions(client, logger: Logger(label: "test"))
        }
        #expect(versions == PostgresMigrations.all.map(\.version))
    }

    @Test func postgresRefusesASchemaNewerThanItKnows() throws {
        guard let scratch = try ScratchStore.make(.postgresql) else { return }
        let store = try #require(try scratch.open() as? PostgresKeyStore)
        try store.wait { [client = store.client] in
            try await client.query("INSERT INTO kms_schema_migrations (version, name) VALUES (999, 'from the future')")
            return ()
        }
        #expect(throws: PostgresMigrations.TooNew.self) { _ = try scratch.open() }
    }

    @Test func postgresHoldsMaterialAndCredentialsOnlySealed() throws {
        guard let scratch = try ScratchStore.make(.postgresql) else { return }
        let store = try #require(try scratch.open() as? PostgresKeyStore)
        let secret = SystemRandom.bytes(32)
        let key = Fixtures.key(secret: secret)
        try store.apply([.putKey(key)])
        try store.saveCredential(StoredCredential(accessKeyId: "AKIASEALED", secretAccessKey: "pg-s3cr3t-pg-s3cr3t",
                                                  account: key.account, principalArn: "arn:aws:iam::111122223333:root"))
        let raw = try store.wait { [client = store.client] in
            var blobs: [Data] = []
            for row in try await client.query("SELECT sealed FROM key_materials UNION ALL SELECT sealed_secret FROM credentials").collect() {
                blobs.append(try row.decode(Data.self))
            }
            return blobs
        }
        #expect(raw.count == 2)
        for blob in raw {
            #expect(blob.range(of: Data(secret)) == nil)
            #expect(blob.range(of: Data("pg-s3cr3t-pg-s3cr3t".utf8)) == nil)
        }
        // Same sealing as SQLite: the AAD binds the row to its key and version.
        let opened = try scratch.rootKey.open([UInt8](raw[0]), context: SealingContext.material(key.account, key.region, key.keyId, 1))
        #expect(opened == secret)
        #expect(throws: (any Error).self) {
            _ = try scratch.rootKey.open([UInt8](raw[0]), context: SealingContext.material(key.account, key.region, key.keyId, 2))
        }
    }

    /// A data dir written before row versions (schema v1) opens with every row at version 1.
    @Test func sqliteUpgradesAVersionlessDatabase() throws {
        guard let scratch = try ScratchStore.make(.sqlite) else { return }
        let path = scratch.dir + "/old.sqlite"
        do {
            let queue = try DatabaseQueue(path: path)
            var v1Only = DatabaseMigrator()
            v1Only.registerMigration("v1") { db in
                try db.execute(sql: """
                    CREATE TABLE keys (account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, metadata TEXT NOT NULL,
                        PRIMARY KEY (account, region, key_id));
                    CREATE TABLE key_materials (account TEXT NOT NULL, region TEXT NOT NULL, key_id TEXT NOT NULL, version INTEGER NOT NULL,
                        material_id TEXT NOT NULL, created_at DOUBLE NOT NULL, sealed BLOB NOT NULL, PRIMARY KEY (account, region, key_id, version));
                    CREATE TABLE aliases (account TEXT NOT NULL, region TEXT NOT NULL, alias_name TEXT NOT NULL, target_key_id TEXT NOT NULL,
                        creation_date DOUBLE NOT NULL, last_updated_date DOUBLE NOT NULL, PRIMARY KEY (account, region, alias_name));
                    CREATE TABLE credentials (access_key_id TEXT PRIMARY KEY, account TEXT NOT NULL, principal_arn TEXT NOT NULL,
                        sealed_secret BLOB NOT NULL, created_at DOUBLE NOT NULL);
                    INSERT INTO aliases VALUES ('111122223333', 'us-east-1', 'alias/old', 'k', 1, 1);
                    """)
            }
            try v1Only.migrate(queue)
        }
        let store = try SQLiteKeyStore(path: path, rootKey: scratch.rootKey)
        var alias = try #require(try store.alias(account: "111122223333", region: "us-east-1", aliasName: "alias/old"))
        #expect(alias.storeVersion == 1)
        alias.targetKeyId = "k2"
        try store.apply([.putAlias(alias)])
        #expect(try store.alias(account: "111122223333", region: "us-east-1", aliasName: "alias/old")?.storeVersion == 2)
        let applied = try store.db.read { try SQLiteKeyStore.migrator.appliedIdentifiers($0) }
        // Every registered migration ran on the old database (v3: IAM identities, issue 9).
        #expect(applied == Set(SQLiteKeyStore.migrator.migrations))
        #expect(applied.contains("v3-iam-identities"))
    }

    @Test func storageLocationsAndSSLModesParse() throws {
        guard case .sqlite(let path) = try StorageLocation(nil, dataDirectory: "/data") else { Issue.record("default"); return }
        #expect(path == "/data/kms.sqlite")
        guard case .sqlite(let explicit) = try StorageLocation("sqlite:/tmp/x.db", dataDirectory: "/data") else { Issue.record("sqlite:"); return }
        #expect(explicit == "/tmp/x.db")
        guard case .postgresql(let url) = try StorageLocation("postgresql://kms:p%40ss@db.internal:6543/kmsdb?sslmode=verify-full&sslrootcert=/etc/ca.pem",
                                                              dataDirectory: "/data") else { Issue.record("postgresql"); return }
        #expect(url.host == "db.internal" && url.port == 6543 && url.username == "kms" && url.database == "kmsdb")
        #expect(url.password == "p@ss")
        #expect(url.sslMode == .verifyFull && url.sslRootCert == "/etc/ca.pem")
        #expect(!url.description.contains("p@ss") && !String(describing: StorageLocation.postgresql(url)).contains("p%40ss"))
        #expect(try PostgresStorageURL("postgres://u@h/d", environment: [:]).sslMode == .prefer)
        #expect(try PostgresStorageURL("postgres://u@h/d", environment: ["PGPASSWORD": "envpw"]).password == "envpw")
        #expect(try PostgresStorageURL("postgresql://u@h/d?sslmode=disable").sslMode == .disable)
        #expect(try PostgresStorageURL("postgresql://u@h/d?sslmode=require").sslMode == .require)
        #expect(try PostgresStorageURL("postgresql://u@h/d?sslmode=require").tlsConfiguration().certificateVerification == .none)
        #expect(try PostgresStorageURL("postgresql://u@h/d?sslmode=verify-full").tlsConfiguration().certificateVerification == .fullVerification)
        #expect(try PostgresStorageURL("postgresql://u@h/d?sslmode=verify-ca").tlsConfiguration().certificateVerification == .noHostnameVerification)
        for bad in ["mysql://u@h/d", "postgresql://h/d", "postgresql://u@h/", "postgresql://u@h/d?sslmode=sometimes",
                    "postgresql://u@h/d?application=x", "sqlite:", "kms.sqlite"] {
            #expect(throws: (any Error).self, "\(bad)") { _ = try StorageLocation(bad, dataDirectory: "/data") }
        }
    }

    /// With sslmode=require, a server without TLS is refused rather than used in the clear.
    @Test func requireRefusesAServerWithoutTLS() throws {
        guard let base = StoreBackend.postgresURL else {
            if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("KMS_TEST_POSTGRES_URL is not set under CI") }
            return
        }
        guard var c = URLComponents(string: base) else { Issue.record("bad URL"); return }
        c.queryItems = [URLQueryItem(name: "sslmode", value: "require")]
        let url = try PostgresStorageURL(try #require(c.string))
        let dir = NSTemporaryDirectory() + "kms-tls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: (any Error).self) { _ = try PostgresKeyStore(url: url, rootKey: try RootKey.loadOrCreate(path: dir + "/root.key"), timeout: .seconds(5)) }
    }
}
