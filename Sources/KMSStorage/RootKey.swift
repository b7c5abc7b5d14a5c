import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KMSCore
import PKCS11

/// The root key that seals key material and secrets before they reach the database.
/// By default it lives in a file of its own (0600), never in the database it protects; it may
/// instead be a non-extractable key in a PKCS#11 token, where sealing then runs (see RootOfTrust).
public struct RootKey: Sendable {
    /// What seals and opens: a key value in memory, or a key that never leaves a token.
    enum Sealer: Sendable {
        case software(SymmetricKey)
        case token(PKCS11SecretKey)
    }

    let sealer: Sealer
    /// The input of RootKey.derivedKey (HKDF). For a file root it is the root key itself (so
    /// derived keys are what they always were); for other roots a random value kept sealed
    /// under the root in the data dir's root record, so derived keys survive `kms admin rewrap`.
    let key: SymmetricKey

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw StorageError("The root key must be 32 bytes (256 bits).") }
        key = SymmetricKey(data: bytes)
        sealer = .software(key)
    }

    /// A root whose sealing key is `sealing` but whose derived keys come from `derivationKey`.
    init(sealing: Sealer, derivationKey: [UInt8]) throws {
        guard derivationKey.count == 32 else { throw StorageError("The root's derivation key must be 32 bytes.") }
        sealer = sealing
        key = SymmetricKey(data: derivationKey)
    }

    /// Whether sealing runs in an HSM token (for start-up lines).
    public var isInToken: Bool {
        if case .token = sealer { return true }
        return false
    }

    /// Reads the root key from `path`, creating it (32 random bytes, base64) when absent.
    /// An existing file must be the server user's own with mode 0600 or stricter; a new one
    /// is created with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600, so a planted file or
    /// symlink is never written through.
    /// Refuses a data dir whose root record names a root other than a file (PKCS#11,
    /// passphrase, KMS): tools that only know root key files must not make one beside it.
    public static func loadOrCreate(path: String) throws -> RootKey {
        let directory = (path as NSString).deletingLastPathComponent
        if let record = try RootRecord.load(dataDirectory: directory.isEmpty ? "." : directory), record.kind != "file" {
            throw StorageError("The data dir \(directory) is protected by a \(record.kind) root (\(record.description)), not by a root key file; give that root.")
        }
        return try loadOrCreateFile(path: path)
    }

    static func loadOrCreateFile(path: String) throws -> RootKey {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            try PrivateFile.check(fd: fd, path: path, what: "the root key file")
            let text = String(decoding: try SecureFile.readAll(fd: fd, path: path), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            guard let bytes = Base64.decode(text) else { throw StorageError("The root key file \(path) is not base64.") }
            return try RootKey(bytes: bytes)
        }
        guard errno == ENOENT else {
            throw StorageError("Cannot open the root key file \(path): \(String(cString: strerror(errno)))")
        }
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        try SecureFile.write(Base64.encode(bytes) + "\n", to: path, exclusive: true)
        return try RootKey(bytes: bytes)
    }

    /// AES-256-GCM; `context` names the row the secret belongs to, so sealed values
    /// cannot be swapped between rows.
    /// In a token the same layout (nonce, ciphertext, tag) is produced by C_Encrypt(CKM_AES_GCM).
    public func seal(_ plaintext: [UInt8], context: String) throws -> [UInt8] {
        switch sealer {
        case .software(let key):
            let box = try AES.GCM.seal(plaintext, using: key, authenticating: Array(context.utf8))
            guard let combined = box.combined else { throw StorageError("Sealing failed.") }
            return [UInt8](combined)
        case .token(let key):
            do { return try key.sealGCM(plaintext, aad: Array(context.utf8)) }
            catch { throw StorageError("Sealing in the PKCS#11 token failed: \(error)") }
        }
    }

    public func open(_ sealed: [UInt8], context: String) throws -> [UInt8] {
        do {
            switch sealer {
            case .software(let key):
                let box = try AES.GCM.SealedBox(combined: sealed)
                return [UInt8](try AES.GCM.open(box, using: key, authenticating: Array(context.utf8)))
            case .token(let key):
                return try key.openGCM(sealed, aad: Array(context.utf8))
            }
        } catch {
            throw StorageError("A sealed value did not open under the root key (wrong root key, or the row was altered).")
        }
    }
}

public struct StorageError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Files holding secrets are created with mode 0600 before anything is written to them,
/// never through a symlink (O_NOFOLLOW); `exclusive` also refuses an existing file (O_EXCL).
public enum SecureFile {
    public static func write(_ text: String, to path: String, exclusive: Bool = false) throws {
        let flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (exclusive ? O_EXCL : O_TRUNC)
        let fd = open(path, flags, 0o600)
        guard fd >= 0 else { throw StorageError("Cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw StorageError("Cannot make \(path) private (chmod 600).") }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw StorageError("Cannot write \(path).") }
            written += n
        }
        guard fsync(fd) == 0 else { throw StorageError("Cannot sync \(path) to disk.") }
    }

    /// The whole content of an open file (a root key or credentials file: a few bytes).
    static func readAll(fd: Int32, path: String, limit: Int = 1 << 20) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return out }
            guard n > 0 else { throw StorageError("Cannot read \(path): \(String(cString: strerror(errno)))") }
            out += chunk[0..<n]
            guard out.count <= limit else { throw StorageError("\(path) is too large to be a key file.") }
        }
    }
}
