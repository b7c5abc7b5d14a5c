import Crypto
import Foundation
import KMSCore
import PKCS11

/// Where the root key lives (issue 14 §1): a file (the default), a non-extractable AES key in
/// a PKCS#11 token, a key derived from an operator passphrase with scrypt, or a key file kept
/// encrypted under a key of another KMS and unsealed through it at start.
public enum RootOfTrust: Sendable {
    case file(path: String)
    case pkcs11(PKCS11Root)
    case passphrase(Passphrase)
    case kms(KMSUnseal)

    public struct PKCS11Root: Sendable {
        public var modulePath: String
        public var token: PKCS11TokenSelector
        public var pin: String
        public var keyLabel: String
        public static let defaultKeyLabel = "swift-kms-root"

        /// By slot id or by token label (exactly one), for callers that do not import PKCS11.
        public init(modulePath: String, slot: UInt?, tokenLabel: String?, pin: String, keyLabel: String = Self.defaultKeyLabel) throws {
            switch (slot, tokenLabel) {
            case (let s?, nil): self.init(modulePath: modulePath, token: .slot(s), pin: pin, keyLabel: keyLabel)
            case (nil, let l?): self.init(modulePath: modulePath, token: .label(l), pin: pin, keyLabel: keyLabel)
            default: throw StorageError("A PKCS#11 root needs exactly one of a slot id and a token label.")
            }
        }

        public init(modulePath: String, token: PKCS11TokenSelector, pin: String, keyLabel: String = Self.defaultKeyLabel) {
            self.modulePath = modulePath
            self.token = token
            self.pin = pin
            self.keyLabel = keyLabel
        }
    }

    /// The passphrase's bytes; read from a file or stdin, never from a flag (flags show in ps).
    public struct Passphrase: Sendable {
        let bytes: [UInt8]
        public init(_ bytes: [UInt8]) throws {
            guard !bytes.isEmpty else { throw StorageError("The root passphrase is empty.") }
            self.bytes = bytes
        }
    }

    /// Auto-unseal: `decrypt` and `encrypt` call the other KMS (SigV4-signed, see KMSServer's
    /// KMSUnsealClient); the blob of the root key under its key is kept in the data dir.
    public struct KMSUnseal: Sendable {
        public var keyId: String
        public var endpoint: String
        public var decrypt: @Sendable ([UInt8]) throws -> [UInt8]
        public var encrypt: @Sendable ([UInt8]) throws -> [UInt8]

        public init(keyId: String, endpoint: String, decrypt: @escaping @Sendable ([UInt8]) throws -> [UInt8],
                    encrypt: @escaping @Sendable ([UInt8]) throws -> [UInt8]) {
            self.keyId = keyId
            self.endpoint = endpoint
            self.decrypt = decrypt
            self.encrypt = encrypt
        }
    }

    /// The kind recorded in the data dir's root record.
    public var kind: String {
        switch self {
        case .file: "file"
        case .pkcs11: "pkcs11"
        case .passphrase: "passphrase"
        case .kms: "kms"
        }
    }

    /// Names the root without secrets (no PIN, no passphrase).
    public var description: String {
        switch self {
        case .file(let path): "root key file \(path)"
        case .pkcs11(let p): "PKCS#11 key \"\(p.keyLabel)\" in \(p.token) of \(p.modulePath)"
        case .passphrase: "passphrase root (scrypt)"
        case .kms(let k): "key \(k.keyId) of the KMS at \(k.endpoint) (auto-unseal)"
        }
    }

    /// The file the KMS-encrypted root key is kept in.
    public static func kmsBlobPath(dataDirectory: String) -> String { dataDirectory + "/root.key.kms" }
}

/// `<data-dir>/root-of-trust.json`: which kind of root protects this data dir, a check value
/// sealed under it (so a wrong root or passphrase fails the start before any data is touched),
/// the sealed derivation key for non-file roots, and the scrypt parameters of a passphrase root.
/// Nothing in it is secret in the clear.
struct RootRecord: Codable, Equatable {
    var format = 1
    var kind: String
    var description: String
    var check: String
    var derivation: String?
    var scrypt: ScryptParameters?

    static let checkContext = "swift-kms root check"
    static let checkPlaintext = Array("swift-kms root of trust v1".utf8)
    static let derivationContext = "swift-kms root derivation key"

    static func path(dataDirectory: String) -> String { dataDirectory + "/root-of-trust.json" }

    static func load(dataDirectory: String) throws -> RootRecord? {
        let path = path(dataDirectory: dataDirectory)
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        do { return try JSONDecoder().decode(RootRecord.self, from: data) }
        catch { throw StorageError("The root record \(path) is not readable JSON: \(error)") }
    }

    func save(dataDirectory: String, replace: Bool = false) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let text = String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
        let path = Self.path(dataDirectory: dataDirectory)
        if replace {
            // Written beside and renamed over, so a crash leaves the old record or the new one.
            let tmp = path + ".new"
            unlink(tmp)
            try SecureFile.write(text, to: tmp, exclusive: true)
            guard rename(tmp, path) == 0 else { throw StorageError("Cannot replace \(path): \(String(cString: strerror(errno)))") }
        } else {
            try SecureFile.write(text, to: path, exclusive: true)
        }
    }
}

extension RootOfTrust {
    /// Opens the root that protects `dataDirectory`, creating it (and the record) on first start.
    /// Fails, without touching the store, when the record names another kind of root or its
    /// check value does not open under this one.
    public func open(dataDirectory: String) throws -> RootKey {
        let record = try RootRecord.load(dataDirectory: dataDirectory)
        if let record, record.kind != kind {
            throw StorageError("""
                The data dir \(dataDirectory) is protected by a \(record.kind) root (\(record.description)), \
                but this start gives a \(kind) root (\(description)). Start with the root it was sealed under, \
                or move it with `kms admin rewrap`.
                """)
        }
        if record == nil, kind != "file", FileManager.default.fileExists(atPath: dataDirectory + "/root.key"),
           FileManager.default.fileExists(atPath: dataDirectory + "/kms.sqlite") {
            throw StorageError("""
                The data dir \(dataDirectory) holds data sealed under its root key file; it cannot be opened with a \
                \(kind) root. Move it with `kms admin rewrap --from file --to \(kind)`.
                """)
        }
        let (root, fresh) = try sealingRoot(dataDirectory: dataDirectory, record: record)
        if let record {
            return try root.verify(record: record, wrongRoot: wrongRootMessage(dataDirectory: dataDirectory, record: record))
        }
        // First start: a new derivation key for non-file roots, then the record.
        let made = try root.withNewRecord(kind: kind, description: description, scrypt: fresh)
        try made.record.save(dataDirectory: dataDirectory)
        return made.root
    }

    private func wrongRootMessage(dataDirectory: String, record: RootRecord) -> String {
        switch self {
        case .passphrase: "The root passphrase is wrong: the data dir \(dataDirectory)'s check value does not open under it."
        default: "The \(description) is not the root that protects \(dataDirectory) (\(record.description)): its check value does not open under it."
        }
    }

    /// The root's sealing side, before its derivation key is known (from the record, or new).
    /// The second value is the scrypt parameters used when a passphrase root is new.
    func sealingRoot(dataDirectory: String, record: RootRecord?) throws -> (RootKey, ScryptParameters?) {
        switch self {
        case .file(let path):
            return (try RootKey.loadOrCreateFile(path: path), nil)
        case .pkcs11(let config):
            let module = try PKCS11Module(path: config.modulePath)
            let token = try PKCS11Token(module: module, selector: config.token, pin: config.pin)
            let key: PKCS11SecretKey
            if let found = try token.findAESKey(label: config.keyLabel) {
                key = found
            } else if record == nil {
                key = try token.generateAESKey(label: config.keyLabel)
            } else {
                throw StorageError("""
                    The data dir \(dataDirectory) is protected by \(record?.description ?? "a PKCS#11 key"), \
                    but \(config.token) has no key labelled "\(config.keyLabel)": this is not the token that protects it.
                    """)
            }
            // The derivation key is unknown until the record is opened: a placeholder, replaced there.
            return (try RootKey(sealing: .token(key), derivationKey: [UInt8](repeating: 0, count: 32)), nil)
        case .passphrase(let passphrase):
            let params: ScryptParameters
            if let record {
                guard let stored = record.scrypt else { throw StorageError("The passphrase root record has no scrypt parameters.") }
                params = stored
            } else {
                params = ScryptParameters.fresh()
            }
            let bytes = try Scrypt.derive(passphrase: passphrase.bytes, parameters: params)
            return (try RootKey(bytes: bytes), record == nil ? params : nil)
        case .kms(let unseal):
            let path = RootOfTrust.kmsBlobPath(dataDirectory: dataDirectory)
            if let text = FileManager.default.contents(atPath: path) {
                guard let blob = Base64.decode(String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
                    throw StorageError("\(path) is not base64.")
                }
                let plain: [UInt8]
                do { plain = try unseal.decrypt(blob) }
                catch { throw StorageError("Auto-unseal failed: Decrypt of the root key at \(unseal.endpoint) (\(unseal.keyId)): \(error)") }
                return (try RootKey(bytes: plain), nil)
            }
            guard record == nil else { throw StorageError("The KMS-encrypted root key \(path) is missing.") }
            let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
            let blob: [UInt8]
            do { blob = try unseal.encrypt(bytes) }
            catch { throw StorageError("Auto-unseal failed: Encrypt of a new root key at \(unseal.endpoint) (\(unseal.keyId)): \(error)") }
            try SecureFile.write(Base64.encode(blob) + "\n", to: path, exclusive: true)
            return (try RootKey(bytes: bytes), nil)
        }
    }
}

extension RootKey {
    /// Opens the record's check value and, when present, its derivation key.
    func verify(record: RootRecord, wrongRoot: String) throws -> RootKey {
        guard let check = Base64.decode(record.check),
              let opened = try? open(check, context: RootRecord.checkContext),
              opened == RootRecord.checkPlaintext else { throw StorageError(wrongRoot) }
        guard let sealed = record.derivation else { return self }
        guard let bytes = Base64.decode(sealed), let derivation = try? open(bytes, context: RootRecord.derivationContext) else {
            throw StorageError("The root record's derivation key does not open under the root.")
        }
        return try RootKey(sealing: sealer, derivationKey: derivation)
    }

    /// A record for this root: a file root keeps deriving from itself; others get a new
    /// random derivation key sealed under them.
    func withNewRecord(kind: String, description: String, scrypt: ScryptParameters?,
                       derivationKey: [UInt8]? = nil) throws -> (root: RootKey, record: RootRecord) {
        var root = self
        var derivation: String?
        if kind != "file" || derivationKey != nil {
            let bytes = derivationKey ?? SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
            root = try RootKey(sealing: sealer, derivationKey: bytes)
            derivation = Base64.encode(try seal(bytes, context: RootRecord.derivationContext))
        }
        let check = Base64.encode(try seal(RootRecord.checkPlaintext, context: RootRecord.checkContext))
        return (root, RootRecord(kind: kind, description: description, check: check, derivation: derivation, scrypt: scrypt))
    }

    /// The derivation key's bytes, for rewrap (it moves to the new root unchanged).
    var derivationKeyBytes: [UInt8] { key.withUnsafeBytes { Array($0) } }
}
