import Crypto

/// A seed file's contents, parsed (KMSServer/SeedFile.swift reads the YAML): keys with
/// fixed IDs and known material, aliases, policies and tags, in one account and region.
/// Applying it is idempotent: a key or alias that already exists is left as it is.
public struct Seed: Sendable {
    public struct Key: Sendable {
        public var keyId: String
        public var keySpec: KeySpec = .symmetricDefault
        public var keyUsage: KeyUsage?
        public var description = ""
        public var origin = "AWS_KMS"
        public var enabled = true
        /// Material versions, oldest first (more than one: a key already rotated). Symmetric
        /// and HMAC keys: raw bytes; asymmetric keys: PKCS#8 DER. Empty: generated, unless EXTERNAL.
        public var materials: [[UInt8]] = []
        public var policy: String?
        public var tags: [Tag] = []
        /// Automatic rotation: on with this period (days) when set.
        public var rotationPeriodInDays: Int?
        /// local-kms's NextKeyRotation: the date (epoch seconds) the next rotation falls due.
        public var nextRotation: Double?

        public init(keyId: String) { self.keyId = keyId }
    }

    public var account: String
    public var region: String
    public var keys: [Key] = []
    /// (alias name, target key ID)
    public var aliases: [(name: String, target: String)] = []

    public init(account: String, region: String) {
        self.account = account
        self.region = region
    }
}

extension KMSService {
    /// Creates the seed's keys and aliases that do not exist yet; returns how many objects
    /// it created. Material IDs are derived from the material (one-way), so two servers
    /// seeded with the same file agree on everything a ciphertext names.
    @discardableResult
    public func applySeed(_ seed: Seed) throws(KMSError) -> Int {
        var created = 0
        let now = clock.now()
        for entry in seed.keys {
            guard KeyIdentifier.isKeyId(entry.keyId) else { throw KMSError(.validation, "Seed: '\(entry.keyId)' is not a key ID") }
            if try registry.key(account: seed.account, region: seed.region, keyId: entry.keyId) != nil { continue }
            let usage = entry.keyUsage ?? entry.keySpec.validKeyUsages.first ?? .encryptDecrypt
            guard entry.keySpec.validKeyUsages.contains(usage) else {
                throw KMSError(.validation, "Seed: KeyUsage \(usage.rawValue) is not compatible with KeySpec \(entry.keySpec.rawValue) (key \(entry.keyId))")
            }
            var key = KMSKey(keyId: entry.keyId, account: seed.account, region: seed.region, creationDate: now,
                             description: entry.description, keyUsage: usage, keySpec: entry.keySpec, origin: entry.origin,
                             keyManager: "CUSTOMER", keyState: .enabled,
                             policy: entry.policy ?? KeyPolicy.defaultPolicy(account: seed.account), tags: entry.tags, materials: [])
            if entry.policy != nil { _ = try KeyPolicy.compile(key.policy) }
            for (index, secret) in entry.materials.enumerated() {
                key.materials.append(try Self.seedMaterial(secret, spec: entry.keySpec, version: UInt32(index + 1), keyId: entry.keyId, at: now))
            }
            // More than one version: a key already rotated (local-kms's several BackingKeys).
            for m in key.materials.dropFirst() {
                key.rotation.records.append(.init(version: m.version, materialId: m.materialId, date: now, type: "AUTOMATIC"))
            }
            if key.materials.isEmpty {
                if entry.origin == "EXTERNAL" {
                    key.keyState = .pendingImport
                } else {
                    key.materials = [try KeyGeneration.material(for: entry.keySpec, version: 1, createdAt: now)]
                }
            }
            if !entry.enabled, key.keyState == .enabled { key.keyState = .disabled }
            if entry.rotationPeriodInDays != nil || entry.nextRotation != nil {
                let period = entry.rotationPeriodInDays ?? KeyRotation.defaultPeriodInDays
                key.rotation.enabled = true
                key.rotation.periodInDays = period
                // The schedule counts from its base: a given next date sets the base one period before it.
                key.rotation.scheduleBase = entry.nextRotation.map { $0 - Double(period) * 86_400 } ?? now
            }
            try registry.write { () throws(KMSError) in
                // Another node seeding at once: the insert (version 0) of the one that loses conflicts,
                // and on the re-run the key is there.
                if try registry.key(account: seed.account, region: seed.region, keyId: key.keyId) != nil { return ((), []) }
                return ((), [.putKey(key)])
            }
            created += 1
        }
        for alias in seed.aliases {
            try checkSeedAlias(alias.name)
            if try registry.alias(account: seed.account, region: seed.region, name: alias.name) != nil { continue }
            guard try registry.key(account: seed.account, region: seed.region, keyId: alias.target) != nil else {
                throw KMSError(.notFound, "Seed: alias \(alias.name) names key \(alias.target), which the seed does not create")
            }
            try registry.write { () throws(KMSError) in
                if try registry.alias(account: seed.account, region: seed.region, name: alias.name) != nil { return ((), []) }
                return ((), [.putAlias(Alias(aliasName: alias.name, account: seed.account, region: seed.region,
                                             targetKeyId: alias.target, creationDate: now, lastUpdatedDate: now))])
            }
            created += 1
        }
        return created
    }

    func checkSeedAlias(_ name: String) throws(KMSError) {
        do { try checkAliasName(name) } catch { throw KMSError(.validation, "Seed: alias \(name): \(error.message ?? "")") }
    }

    /// One material version from known bytes, checked as ImportKeyMaterial checks them.
    static func seedMaterial(_ secret: [UInt8], spec: KeySpec, version: UInt32, keyId: String, at now: Double) throws(KMSError) -> KeyMaterial {
        // A one-way function of the material and key: equal on every server seeded alike,
        // and revealing nothing of the material.
        let id = Hex.lower(HMAC<SHA256>.authenticationCode(for: Array("kms seed material id \(keyId) \(version)".utf8),
                                                           using: SymmetricKey(data: secret)))
        if spec == .symmetricDefault {
            guard secret.count == 32 else { throw KMSError(.validation, "Seed: key \(keyId): symmetric key material must be 32 bytes") }
            return KeyMaterial(version: version, secret: secret, materialId: id, createdAt: now)
        }
        if spec.isHMAC {
            guard !secret.isEmpty else { throw KMSError(.validation, "Seed: key \(keyId): empty HMAC key material") }
            return KeyMaterial(version: version, secret: secret, materialId: id, createdAt: now)
        }
        do {
            return try KeyMaterial(keySpec: spec, version: version, secret: secret, materialId: id, createdAt: now)
        } catch {
            throw KMSError(.validation, "Seed: key \(keyId): the private key is not a valid \(spec.rawValue) key (PKCS#8)")
        }
    }
}
