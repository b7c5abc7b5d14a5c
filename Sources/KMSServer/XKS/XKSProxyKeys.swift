import Crypto
import Foundation
import KMSCore
import KMSStorage

/// The external keys of `kms xks-proxy`: AES-256 keys in `DIR/xks-keys.json` (mode 0600),
/// each sealed under the proxy's own root key (`DIR/root.key`), with its status and the KMS
/// key ARNs allowed to use it. The file is the proxy's configuration: the commands edit it,
/// an operator may too, and the server re-reads it when it changes, so disabling a key
/// takes effect on the next request.
public struct XKSProxyKey: Codable, Sendable, Equatable {
    public var id: String
    public var status: String
    /// KMS key ARNs (a trailing `*` matches any suffix) allowed in requestMetadata.kmsKeyArn;
    /// empty: any.
    public var allowedKeyArns: [String]
    public var createdAt: Double
    /// The AES-256 key sealed under the proxy's root key (Base64).
    public var sealedMaterial: String

    public var enabled: Bool { status == "ENABLED" }

    /// Whether `arn` may use the key (no ARN: CreateKey's metadata call, before the key exists).
    public func allows(_ arn: String?) -> Bool {
        guard !allowedKeyArns.isEmpty, let arn else { return true }
        return allowedKeyArns.contains { pattern in
            pattern.hasSuffix("*") ? arn.hasPrefix(String(pattern.dropLast())) : pattern == arn
        }
    }
}

public final class XKSProxyKeyFile: @unchecked Sendable {
    struct Contents: Codable { var keys: [XKSProxyKey] }

    public let directory: String
    let rootKey: RootKey
    private let lock = NSLock()
    private var loaded: (modified: Date, size: Int, keys: [String: XKSProxyKey])?
    private var materials: [String: SymmetricKey] = [:]

    public var path: String { directory + "/xks-keys.json" }

    public init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        self.directory = directory
        rootKey = try RootKey.loadOrCreate(path: directory + "/root.key")
    }

    static func sealingContext(_ id: String) -> String { "xks-proxy-key|" + id }

    /// The keys as the file holds them now (re-read when its modification time or size changed).
    public func keys() throws -> [String: XKSProxyKey] {
        try lock.withLock {
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            let modified = attributes?[.modificationDate] as? Date ?? .distantPast
            let size = (attributes?[.size] as? Int) ?? -1
            if let loaded, loaded.modified == modified, loaded.size == size { return loaded.keys }
            var keys: [String: XKSProxyKey] = [:]
            if size >= 0 {
                let contents = try JSONDecoder().decode(Contents.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
                for key in contents.keys { keys[key.id] = key }
            }
            loaded = (modified: modified, size: size, keys: keys)
            materials = materials.filter { keys[$0.key] != nil }
            return keys
        }
    }

    /// The key's AES-256 material, unsealed once and kept.
    public func material(_ key: XKSProxyKey) throws -> SymmetricKey {
        if let cached = lock.withLock({ materials[key.id] }) { return cached }
        guard let sealed = Base64.decode(key.sealedMaterial) else { throw StorageError("key \(key.id): sealed material is not Base64") }
        var opened = try rootKey.open(sealed, context: Self.sealingContext(key.id))
        defer { for i in opened.indices { opened[i] = 0 } }
        guard opened.count == 32 else { throw StorageError("key \(key.id): material is not 256 bits") }
        let symmetric = SymmetricKey(data: opened)
        lock.withLock { materials[key.id] = symmetric }
        return symmetric
    }

    /// Adds a new AES-256 key (`id` must be new) and answers it.
    public func create(id: String, allowedKeyArns: [String]) throws -> XKSProxyKey {
        guard XKSProxyKeyFile.validId(id) else { throw StorageError("an external key ID is 1 to 128 of A-Z a-z 0-9 - _ .") }
        var current = try keys()
        guard current[id] == nil else { throw StorageError("key \(id) exists already") }
        var secret = SystemRandom.bytes(32)
        defer { for i in secret.indices { secret[i] = 0 } }
        let sealed = try rootKey.seal(secret, context: Self.sealingContext(id))
        let key = XKSProxyKey(id: id, status: "ENABLED", allowedKeyArns: allowedKeyArns, createdAt: Date().timeIntervalSince1970,
                              sealedMaterial: Base64.encode(sealed))
        current[id] = key
        try save(current)
        return key
    }

    /// Changes a key's status or allow-list.
    public func update(id: String, _ change: (inout XKSProxyKey) -> Void) throws {
        var current = try keys()
        guard var key = current[id] else { throw StorageError("no key \(id)") }
        change(&key)
        current[id] = key
        try save(current)
    }

    func save(_ keys: [String: XKSProxyKey]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let text = String(decoding: try encoder.encode(Contents(keys: keys.values.sorted { $0.id < $1.id })), as: UTF8.self)
        let temporary = path + ".tmp"
        try SecureFile.write(text, to: temporary)
        guard rename(temporary, path) == 0 else { throw StorageError("cannot replace \(path)") }
        lock.withLock { loaded = nil }
    }

    static func validId(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
        }
    }
}
