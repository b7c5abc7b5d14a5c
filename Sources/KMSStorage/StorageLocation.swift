import Foundation
import KMSCore
import PostgresNIO

/// Where keys, aliases and credentials are stored, from `--storage` / KMS_STORAGE /
/// kms.storage: `sqlite:PATH` (the default, `<data-dir>/kms.sqlite`) or
/// `postgresql://user@host:port/db?sslmode=...`. The root key stays in the data dir either way.
public enum StorageLocation: Sendable, CustomStringConvertible {
    case sqlite(path: String)
    case postgresql(PostgresStorageURL)

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(_ value: String?, dataDirectory: String) throws {
        guard let value, !value.isEmpty else {
            self = .sqlite(path: dataDirectory + "/kms.sqlite")
            return
        }
        if value.hasPrefix("sqlite:") {
            let path = String(value.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw Invalid(description: "--storage sqlite:PATH needs a path") }
            self = .sqlite(path: path)
        } else if value.hasPrefix("postgresql://") || value.hasPrefix("postgres://") {
            do { self = .postgresql(try PostgresStorageURL(value)) }
            catch { throw Invalid(description: "--storage: \(error)") }
        } else {
            throw Invalid(description: "--storage must be sqlite:PATH or postgresql://user@host:port/database")
        }
    }

    /// Names the store without secrets (no password), for start-up lines and errors.
    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:" + path
        case .postgresql(let url): url.description
        }
    }

    public func open(rootKey: RootKey) throws -> any KeyStore & CredentialStore & IdentityStore & CredentialAdministration {
        switch self {
        case .sqlite(let path): try SQLiteKeyStore(path: path, rootKey: rootKey)
        case .postgresql(let url): try PostgresKeyStore(url: url, rootKey: rootKey)
        }
    }
}

/// Creating and dropping scratch databases, for the contract tests and the integration tests' helpers.
public enum PostgresAdmin {
    /// Runs one statement outside any transaction (CREATE DATABASE cannot run in one).
    public static func execute(_ sql: String, on url: PostgresStorageURL) throws {
        let client = PostgresClient(configuration: try url.clientConfiguration(), backgroundLogger: Logger(label: "kms.postgres.admin"))
        let run = Task(executorPreference: StoreExecutor.shared) { await client.run() }
        defer { run.cancel() }
        try StoreExecutor.blocking {
            try await client.query(PostgresQuery(unsafeSQL: sql))
            return ()
        }
    }

    /// A fresh, empty database on the same server; returns its URL.
    public static func createScratchDatabase(from url: PostgresStorageURL, prefix: String = "kms_scratch") throws -> PostgresStorageURL {
        let name = prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try execute("CREATE DATABASE \"\(name)\"", on: url)
        return url.with(database: name)
    }

    public static func dropDatabase(_ url: PostgresStorageURL, via admin: PostgresStorageURL) throws {
        try execute("DROP DATABASE IF EXISTS \"\(url.database)\" WITH (FORCE)", on: admin)
    }
}
