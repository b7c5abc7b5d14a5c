import Foundation
import KMSCore
import Yams

/// `--seed FILE`: reads a seed file (YAML) into a `Seed`. Two layouts:
///
/// - this server's: `Account`, `Region`, `Keys: [{KeyId, KeySpec, KeyUsage, Description,
///   Origin, Enabled, KeyMaterial | KeyMaterials, PrivateKeyPem, Policy, Tags,
///   RotationPeriodInDays, Aliases}]`, `Aliases: [{AliasName, TargetKeyId}]`;
/// - local-kms's `seed.yaml`: `Keys: {Symmetric: {Aes: [{Metadata: {KeyId, Description,
///   Origin}, BackingKeys: [hex], NextKeyRotation}]}, Asymmetric: {Rsa|Ecc: [{Metadata:
///   {KeyId, KeyUsage, KeySpec}, PrivateKeyPem}]}}`, `Aliases: [...]`.
///
/// Key material is written `hex:...` or `base64:...` (bare hex, as local-kms writes it, is
/// accepted); asymmetric keys as PKCS#8 PEM. A file holding secrets is read only in dev
/// mode or when its permissions are 0600 (or stricter), like the root key.
public enum SeedFile {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ d: String) { description = "seed file: " + d }
    }

    public static func load(path: String, defaultAccount: String, defaultRegion: String, dev: Bool) throws -> Seed {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw Failure("\(path) cannot be read")
        }
        let seed = try parse(text, defaultAccount: defaultAccount, defaultRegion: defaultRegion)
        if !dev, seed.keys.contains(where: { !$0.materials.isEmpty }) {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0o777
            guard mode & 0o077 == 0 else {
                throw Failure("\(path) holds key material and is readable by others (mode \(String(mode, radix: 8))): outside --dev a seed file with secrets must be 0600 (chmod 600 \(path))")
            }
        }
        return seed
    }

    public static func parse(_ text: String, defaultAccount: String, defaultRegion: String) throws -> Seed {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else { return Seed(account: defaultAccount, region: defaultRegion) }
            root = node
        } catch {
            throw Failure("not valid YAML: \(error)")
        }
        guard root.mapping != nil else { throw Failure("the top level must be a mapping (Keys, Aliases)") }
        var seed = Seed(account: root["Account"]?.string ?? defaultAccount, region: root["Region"]?.string ?? defaultRegion)
        guard seed.account.count == 12, seed.account.allSatisfy(\.isNumber) else { throw Failure("Account must be 12 digits") }
        if let keys = root["Keys"] {
            if let list = keys.sequence {
                for node in list { seed.keys.append(try key(node, aliases: &seed.aliases)) }
            } else if keys.mapping != nil {
                try localKMSKeys(keys, into: &seed)
            } else {
                throw Failure("Keys must be a list (or local-kms's Symmetric/Asymmetric mapping)")
            }
        }
        for node in root["Aliases"]?.sequence ?? Node.Sequence() {
            guard let name = node["AliasName"]?.string, let target = node["TargetKeyId"]?.string else {
                throw Failure("each alias needs AliasName and TargetKeyId")
            }
            seed.aliases.append((name, target))
        }
        return seed
    }

    static func key(_ node: Node, aliases: inout [(name: String, target: String)]) throws -> Seed.Key {
        guard let keyId = node["KeyId"]?.string else { throw Failure("each key needs a KeyId") }
        var key = Seed.Key(keyId: keyId)
        if let spec = node["KeySpec"]?.string {
            guard let parsed = KeySpec(rawValue: spec) else { throw Failure("key \(keyId): unknown KeySpec \(spec)") }
            key.keySpec = parsed
        }
        if let usage = node["KeyUsage"]?.string {
            guard let parsed = KeyUsage(rawValue: usage) else { throw Failure("key \(keyId): unknown KeyUsage \(usage)") }
            key.keyUsage = parsed
        }
        key.description = node["Description"]?.string ?? ""
        key.origin = node["Origin"]?.string ?? "AWS_KMS"
        guard key.origin == "AWS_KMS" || key.origin == "EXTERNAL" else { throw Failure("key \(keyId): Origin must be AWS_KMS or EXTERNAL") }
        key.enabled = node["Enabled"]?.bool ?? true
        if let one = node["KeyMaterial"]?.string { key.materials = [try material(one, keyId: keyId)] }
        for m in node["KeyMaterials"]?.sequence ?? Node.Sequence() {
            guard let s = m.string else { throw Failure("key \(keyId): KeyMaterials must be strings") }
            key.materials.append(try material(s, keyId: keyId))
        }
        if let pem = node["PrivateKeyPem"]?.string { key.materials = [try pkcs8(pem, keyId: keyId)] }
        key.policy = node["Policy"]?.string
        key.tags = try tags(node["Tags"], keyId: keyId)
        if let days = node["RotationPeriodInDays"]?.int {
            guard (90...2560).contains(days) else { throw Failure("key \(keyId): RotationPeriodInDays must be 90 to 2560") }
            key.rotationPeriodInDays = days
        }
        for a in node["Aliases"]?.sequence ?? Node.Sequence() {
            guard let name = a.string else { throw Failure("key \(keyId): Aliases must be alias names") }
            aliases.append((name, keyId))
        }
        return key
    }

    /// local-kms's layout (its README, "Seeding file format").
    static func localKMSKeys(_ keys: Node, into seed: inout Seed) throws {
        for node in keys["Symmetric"]?["Aes"]?.sequence ?? Node.Sequence() {
            guard let meta = node["Metadata"], let keyId = meta["KeyId"]?.string else { throw Failure("each local-kms key needs Metadata.KeyId") }
            var key = Seed.Key(keyId: keyId)
            key.description = meta["Description"]?.string ?? ""
            key.origin = meta["Origin"]?.string ?? "AWS_KMS"
            for b in node["BackingKeys"]?.sequence ?? Node.Sequence() {
                guard let s = b.string else { throw Failure("key \(keyId): BackingKeys must be hex strings") }
                key.materials.append(try material(s, keyId: keyId))
            }
            if let next = node["NextKeyRotation"]?.string {
                guard let date = ISO8601DateFormatter().date(from: next) else { throw Failure("key \(keyId): NextKeyRotation is not an ISO 8601 date") }
                key.nextRotation = date.timeIntervalSince1970
            }
            seed.keys.append(key)
        }
        for family in ["Rsa", "Ecc"] {
            for node in keys["Asymmetric"]?[family]?.sequence ?? Node.Sequence() {
                guard let meta = node["Metadata"], let keyId = meta["KeyId"]?.string else { throw Failure("each local-kms key needs Metadata.KeyId") }
                // local-kms infers the size from the PEM; here the spec is named (KeySpec) or assumed as local-kms's examples are.
                var key = Seed.Key(keyId: keyId)
                let spec = meta["KeySpec"]?.string ?? meta["CustomerMasterKeySpec"]?.string ?? (family == "Rsa" ? "RSA_2048" : "ECC_NIST_P256")
                guard let parsed = KeySpec(rawValue: spec) else { throw Failure("key \(keyId): unknown KeySpec \(spec)") }
                key.keySpec = parsed
                key.keyUsage = KeyUsage(rawValue: meta["KeyUsage"]?.string ?? "SIGN_VERIFY")
                key.description = meta["Description"]?.string ?? ""
                guard let pem = node["PrivateKeyPem"]?.string else { throw Failure("key \(keyId): PrivateKeyPem is required") }
                key.materials = [try pkcs8(pem, keyId: keyId)]
                seed.keys.append(key)
            }
        }
    }

    static func material(_ text: String, keyId: String) throws -> [UInt8] {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if t.hasPrefix("base64:") {
            guard let bytes = Base64.decode(String(t.dropFirst(7))) else { throw Failure("key \(keyId): material is not valid base64") }
            return bytes
        }
        let hex = t.hasPrefix("hex:") ? String(t.dropFirst(4)) : t
        var bytes: [UInt8] = []
        var high: UInt8? = nil
        for c in hex.utf8 {
            guard let v = hexValue(c) else { throw Failure("key \(keyId): material must be hex:… or base64:…") }
            if let h = high { bytes.append(h << 4 | v); high = nil } else { high = v }
        }
        guard high == nil, !bytes.isEmpty else { throw Failure("key \(keyId): hex material must have an even number of digits") }
        return bytes
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: return nil
        }
    }

    static func pkcs8(_ pem: String, keyId: String) throws -> [UInt8] {
        let lines = pem.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.first == "-----BEGIN PRIVATE KEY-----" else {
            throw Failure("key \(keyId): PrivateKeyPem must be PKCS#8 (-----BEGIN PRIVATE KEY-----; convert with openssl pkcs8 -topk8 -nocrypt)")
        }
        let body = lines.dropFirst().prefix { !$0.hasPrefix("-----END") }.joined()
        guard let der = Base64.decode(body) else { throw Failure("key \(keyId): PrivateKeyPem is not valid base64") }
        return der
    }

    static func tags(_ node: Node?, keyId: String) throws -> [KMSCore.Tag] {
        guard let node else { return [] }
        if let mapping = node.mapping {
            return try mapping.map { pair in
                guard let k = pair.key.string, let v = pair.value.string else { throw Failure("key \(keyId): tags must be strings") }
                return KMSCore.Tag(key: k, value: v)
            }
        }
        return try (node.sequence ?? Node.Sequence()).map { t in
            guard let k = t["TagKey"]?.string, let v = t["TagValue"]?.string else { throw Failure("key \(keyId): each tag needs TagKey and TagValue") }
            return KMSCore.Tag(key: k, value: v)
        }
    }
}
