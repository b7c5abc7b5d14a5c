import Foundation
import NIOSSL
import PostgresNIO

/// `postgresql://user[:password]@host[:port]/database?sslmode=...&sslrootcert=FILE`, parsed
/// into a postgres-nio client configuration. sslmode follows libpq: disable, allow/prefer
/// (TLS if the server offers it, unverified), require (TLS, unverified), verify-ca (TLS,
/// chain checked), verify-full (TLS, chain and host name checked). A missing password is
/// taken from PGPASSWORD. `description` never shows the password.
public struct PostgresStorageURL: Sendable, CustomStringConvertible {
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require, verifyCA = "verify-ca", verifyFull = "verify-full"
    }

    public let host: String
    public let port: Int
    public let username: String
    let password: String?
    public let database: String
    public let sslMode: SSLMode
    public let sslRootCert: String?

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(_ string: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let c = URLComponents(string: string), let scheme = c.scheme, ["postgresql", "postgres"].contains(scheme) else {
            throw Invalid(description: "storage URL must look like postgresql://user@host:port/database")
        }
        guard let host = c.host, !host.isEmpty else { throw Invalid(description: "storage URL has no host") }
        guard let user = c.user, !user.isEmpty else { throw Invalid(description: "storage URL has no user name") }
        let database = String(c.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw Invalid(description: "storage URL names no database (postgresql://user@host/DATABASE)") }
        self.host = host
        self.port = c.port ?? 5432
        guard (1...65535).contains(port) else { throw Invalid(description: "storage URL port out of range") }
        self.username = user.removingPercentEncoding ?? user
        self.password = c.password.map { $0.removingPercentEncoding ?? $0 } ?? environment["PGPASSWORD"]
        self.database = database.removingPercentEncoding ?? database
        var mode = SSLMode.prefer
        var rootCert: String?
        for item in c.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let parsed = SSLMode(rawValue: value) else {
                    throw Invalid(description: "sslmode must be one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                mode = parsed
            case "sslrootcert":
                rootCert = item.value
            default:
                throw Invalid(description: "unknown storage URL parameter \(item.name) (known: sslmode, sslrootcert)")
            }
        }
        sslMode = mode
        sslRootCert = rootCert
    }

    public var description: String {
        "postgresql://\(username)@\(host):\(port)/\(database)?sslmode=\(sslMode.rawValue)"
    }

    /// The same server with another database: tests and tools create scratch databases.
    public func with(database: String) -> PostgresStorageURL {
        PostgresStorageURL(host: host, port: port, username: username, password: password, database: database,
                           sslMode: sslMode, sslRootCert: sslRootCert)
    }

    private init(host: String, port: Int, username: String, password: String?, database: String, sslMode: SSLMode, sslRootCert: String?) {
        self.host = host; self.port = port; self.username = username; self.password = password
        self.database = database; self.sslMode = sslMode; self.sslRootCert = sslRootCert
    }

    func tlsConfiguration() throws -> NIOSSL.TLSConfiguration {
        var tls = NIOSSL.TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable, .allow, .prefer, .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let sslRootCert {
            tls.trustRoots = .file(sslRootCert)
        }
        return tls
    }

    func clientConfiguration() throws -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case .disable: tls = .disable
        case .allow, .prefer: tls = .prefer(try tlsConfiguration())
        case .require, .verifyCA, .verifyFull: tls = .require(try tlsConfiguration())
        }
        return PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
    }
}
