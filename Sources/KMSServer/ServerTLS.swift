import Foundation
import NIOSSL
import Synchronization

/// The listener's TLS: a certificate chain and private key (PEM files) turned into an
/// NIOSSLContext for TLS 1.2 and 1.3 with ALPN http/1.1. The context sits in a lock so
/// SIGHUP can swap in a re-read certificate: new connections take the new context while
/// open ones keep the one they were accepted with.
public final class ServerTLS: Sendable {
    public let certificatePath: String
    public let privateKeyPath: String
    private let context: Mutex<NIOSSLContext>

    /// Reads both files now; a start with an unreadable or mismatched pair fails.
    public init(certificatePath: String, privateKeyPath: String) throws {
        self.certificatePath = certificatePath
        self.privateKeyPath = privateKeyPath
        context = Mutex(try Self.makeContext(certificatePath: certificatePath, privateKeyPath: privateKeyPath))
    }

    /// The listener's TLS when a certificate and key are configured; nil for plain HTTP.
    static func configured(certificatePath: String?, privateKeyPath: String?) throws -> ServerTLS? {
        switch (certificatePath, privateKeyPath) {
        case (nil, nil):
            return nil
        case (let cert?, let key?):
            return try ServerTLS(certificatePath: cert, privateKeyPath: key)
        default:
            throw TLSSetupError("--tls-cert and --tls-key (KMS_TLS_CERT, KMS_TLS_KEY) go together: give both, or neither.")
        }
    }

    /// The context a connection accepted now should use.
    public var current: NIOSSLContext { context.withLock { $0 } }

    /// Re-reads the certificate and key. On any failure the old context stays in use
    /// and the error is returned for the caller to report.
    @discardableResult
    public func reload() -> (any Error)? {
        do {
            let fresh = try Self.makeContext(certificatePath: certificatePath, privateKeyPath: privateKeyPath)
            context.withLock { $0 = fresh }
            return nil
        } catch {
            return error
        }
    }

    static func makeContext(certificatePath: String, privateKeyPath: String) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw TLSSetupError("cannot read the TLS certificate \(certificatePath) (PEM expected): \(error)")
        }
        guard !chain.isEmpty else { throw TLSSetupError("the TLS certificate file \(certificatePath) holds no PEM certificate") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKeyPath, format: .pem)
        } catch {
            throw TLSSetupError("cannot read the TLS private key \(privateKeyPath) (PEM expected): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.maximumTLSVersion = nil  // TLS 1.3 when the client offers it
        configuration.applicationProtocols = ["http/1.1"]
        do {
            // BoringSSL checks here that the key belongs to the leaf certificate.
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError("the TLS key \(privateKeyPath) does not fit the certificate \(certificatePath): \(error)")
        }
    }
}

public struct TLSSetupError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
