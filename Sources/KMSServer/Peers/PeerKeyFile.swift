import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KMSCore
import KMSStorage

/// The secret two peered deployments share (`kms admin peer-key --out FILE`; both sides are
/// given the same file). A JSON document, mode 0600, owned by the server's user:
///
///     {"format": "kms-peer-key-v1", "keyId": "pk-<32 hex>", "secret": "<base64 of 32 random bytes>"}
///
/// `keyId` names the key in every message, so a receiver holding another key refuses at
/// once and says so; the secret never leaves the file and the derived keys (PeerLinkKeys).
public struct PeerKey: Sendable {
    public static let format = "kms-peer-key-v1"
    public let keyId: String
    let secret: SymmetricKey

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = d }
    }

    init(keyId: String, secret: [UInt8]) throws {
        guard secret.count == 32 else { throw Invalid("the peer key secret must be 32 bytes (256 bits)") }
        guard Self.isValidKeyId(keyId) else { throw Invalid("the peer key id must be pk- followed by 32 hex digits") }
        self.keyId = keyId
        self.secret = SymmetricKey(data: secret)
    }

    static func isValidKeyId(_ id: String) -> Bool {
        id.hasPrefix("pk-") && id.utf8.count == 35 && id.utf8.dropFirst(3).allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// A new random key.
    public static func generate() throws -> PeerKey {
        let id = "pk-" + PeerRandom.bytes(16).map { String(format: "%02x", $0) }.joined()
        return try PeerKey(keyId: id, secret: PeerRandom.bytes(32))
    }

    /// The file's text (the only place the secret is ever written).
    func fileText() -> String {
        let secretBytes = secret.withUnsafeBytes { Array($0) }
        return "{\"format\": \"\(Self.format)\", \"keyId\": \"\(keyId)\", \"secret\": \"\(Base64.encode(secretBytes))\"}\n"
    }

    /// Writes a new key file (refuses an existing path: overwriting a link's key breaks it).
    public func write(to path: String) throws {
        try SecureFile.write(fileText(), to: path, exclusive: true)
    }

    /// Reads and checks a key file: the server refuses to start on anything else.
    public static func load(path: String) throws -> PeerKey {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Invalid("cannot open the peer key file \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        do { try PrivateFile.check(fd: fd, path: path, what: "the peer key file") }
        catch { throw Invalid(String(describing: error)) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { break }
            guard n > 0 else { throw Invalid("cannot read the peer key file \(path)") }
            bytes += chunk[0..<n]
            guard bytes.count <= 4096 else { throw Invalid("the peer key file \(path) is too large to be a peer key") }
        }
        return try parse(bytes, path: path)
    }

    static func parse(_ bytes: [UInt8], path: String = "peer key") throws -> PeerKey {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw Invalid("the peer key file \(path) is not a JSON object (make one with `kms admin peer-key --out FILE`)")
        }
        guard object["format"] as? String == format else { throw Invalid("the peer key file \(path) is not in format \(format)") }
        guard let id = object["keyId"] as? String, let text = object["secret"] as? String, let secret = Base64.decode(text) else {
            throw Invalid("the peer key file \(path) needs keyId and a base64 secret")
        }
        do { return try PeerKey(keyId: id, secret: secret) }
        catch let error as Invalid { throw Invalid("the peer key file \(path): \(error.description)") }
    }
}

/// The system CSPRNG (through swift-crypto), for keys, nonces and ids of the link.
enum PeerRandom {
    static func bytes(_ count: Int) -> [UInt8] {
        var out: [UInt8] = []
        while out.count < count {
            out += SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        }
        return Array(out.prefix(count))
    }
}
