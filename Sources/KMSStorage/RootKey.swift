import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KMSCore

/// The root key that seals key material and secrets before they reach the database.
/// It lives in a file of its own (0600), never in the database it protects.
public struct RootKey: Sendable {
    let key: SymmetricKey

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw StorageError("The root key must be 32 bytes (256 bits).") }
        key = SymmetricKey(data: bytes)
    }

    /// Reads the root key from `path`, creating it (32 random bytes, base64, mode 0600) when absent.
    public static func loadOrCreate(path: String) throws -> RootKey {
        let fm = FileManager.default
        if fm.fileExists(atPath: path) {
            let text = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let bytes = Base64.decode(text) else { throw StorageError("The root key file \(path) is not base64.") }
            return try RootKey(bytes: bytes)
        }
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        try SecureFile.write(Base64.encode(bytes) + "\n", to: path)
        return try RootKey(bytes: bytes)
    }

    /// AES-256-GCM; `context` names the row the secret belongs to, so sealed values
    /// cannot be swapped between rows.
    public func seal(_ plaintext: [UInt8], context: String) throws -> [UInt8] {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Array(context.utf8))
        guard let combined = box.combined else { throw StorageError("Sealing failed.") }
        return [UInt8](combined)
    }

    public func open(_ sealed: [UInt8], context: String) throws -> [UInt8] {
        do {
            let box = try AES.GCM.SealedBox(combined: sealed)
            return [UInt8](try AES.GCM.open(box, using: key, authenticating: Array(context.utf8)))
        } catch {
            throw StorageError("A sealed value did not open under the root key (wrong root key, or the row was altered).")
        }
    }
}

public struct StorageError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Files holding secrets are created with mode 0600 before anything is written to them.
public enum SecureFile {
    public static func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw StorageError("Cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw StorageError("Cannot write \(path).") }
            written += n
        }
        fsync(fd)
    }
}
