import Crypto
import Foundation

/// Imported key material (origin EXTERNAL): GetParametersForImport, ImportKeyMaterial and
/// DeleteImportedKeyMaterial, for symmetric, HMAC, RSA and ECC keys, with expiring material
/// and NEW_KEY_MATERIAL for on-demand rotation of symmetric keys (KeyRotationOperations).
/// Per-material state lives in `KMSKey.imports` (ImportedKeyMaterial.swift).
extension KMSService {
    /// AWS: the import token and the wrapping key are valid for 24 hours.
    static let importParametersLifetime = 24 * 3600.0
    /// AWS: ValidTo is at most 365 days after the request.
    static let maximumMaterialLifetime = 365 * 86_400.0

    func getParametersForImport(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let algorithmName = try request.required("WrappingAlgorithm")
        let specName = try request.required("WrappingKeySpec")
        // Condition keys AWS binds to GetParametersForImport (read by key and identity policies).
        request.context?.setConditionValues("kms:WrappingAlgorithm", [algorithmName])
        request.context?.setConditionValues("kms:WrappingKeySpec", [specName])
        let key = try authorizedKey(request, action: "kms:GetParametersForImport", caller: caller)
        try requireImportable(key)
        let algorithm = try ImportWrapping.algorithm(algorithmName)
        let spec = try ImportWrapping.keySpec(specName)
        let pair: AsymmetricKeyPair
        do { pair = try AsymmetricKeyPair.generate(spec) } catch { throw KMSError.internalError }
        let validTo = clock.now() + Self.importParametersLifetime
        let token = try importTokens.seal(ImportTokenContents(
            account: key.account, region: key.region, keyId: key.keyId, validTo: validTo,
            wrappingAlgorithm: algorithm.rawValue, wrappingKeySpec: spec.rawValue, privateKey: Data(pair.privateKeyBytes)))
        return JSONObject([
            ("KeyId", .string(key.arn)),
            ("ImportToken", .string(Base64.encode(token))),
            ("PublicKey", .string(Base64.encode(pair.publicKeyDER))),
            ("ParametersValidTo", JSONValue(validTo)),
        ])
    }

    func importKeyMaterial(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        guard let tokenBytes = request.blob("ImportToken"), let wrapped = request.blob("EncryptedKeyMaterial") else {
            throw KMSError(.validation, "1 validation error detected: Value null at 'importToken' failed to satisfy constraint: Member must not be null")
        }
        let now = clock.now()
        let validTo = try Self.materialValidTo(request, now: now)
        let importType = request.string("ImportType")
        let requestedId = request.string("KeyMaterialId")
        if importType == "NEW_KEY_MATERIAL", requestedId != nil {
            throw KMSError(.validation, "You cannot specify a KeyMaterialId when ImportType is NEW_KEY_MATERIAL.")
        }
        let description = request.string("KeyMaterialDescription")
        // Condition keys AWS binds to ImportKeyMaterial: kms:ValidTo is seconds since the epoch.
        request.context?.setConditionValues("kms:ExpirationModel", [validTo == nil ? "KEY_MATERIAL_DOES_NOT_EXPIRE" : "KEY_MATERIAL_EXPIRES"])
        if let validTo { request.context?.setConditionValues("kms:ValidTo", [String(validTo)]) }
        return try registry.write { () throws(KMSError) in
            var key = try authorizedKey(request, action: "kms:ImportKeyMaterial", caller: caller)
            try requireImportable(key)
            // The token is bound to this key and to its wrapping key, which it carries sealed.
            guard let token = importTokens.open(tokenBytes), token.account == key.account, token.region == key.region,
                  token.keyId == key.keyId else {
                throw KMSError(.invalidImportToken, "The import token is not valid for this KMS key.")
            }
            guard now <= token.validTo else { throw KMSError(.expiredImportToken, "The import token has expired.") }
            guard let spec = KeySpec(rawValue: token.wrappingKeySpec), let algorithm = ImportWrapping.Algorithm(rawValue: token.wrappingAlgorithm),
                  let wrappingKey = try? AsymmetricPrivateKey(spec: spec, privateKeyBytes: [UInt8](token.privateKey)) else {
                throw KMSError.internalError
            }
            let material = try ImportWrapping.unwrap(wrapped, with: wrappingKey, algorithm: algorithm)
            let (secret, identity) = try ImportWrapping.checkMaterial(material, for: key)
            var records = key.importRecords
            let symmetric = key.keySpec == .symmetricDefault
            // The id a new material gets; material stored before keyed ids keeps the id it was
            // given then (its legacy id is recognised), so published ids never change.
            var materialId = importTokens.materialId(keyId: key.keyId, identity: identity)
            let legacyId = ImportWrapping.legacyMaterialId(identity)
            if records.record(materialId: materialId) == nil, records.record(materialId: legacyId) != nil { materialId = legacyId }
            // A replica of a primary in a peer deployment: the primary's ids are keyed by its
            // root, so the same material is recognised by the check it sent (sealed here).
            if records.record(materialId: materialId) == nil,
               let match = records.records.first(where: { r in
                   r.peerCheck.map { importTokens.peerCheckMatches($0, identity: identity, account: key.account, region: key.region,
                                                                   keyId: key.keyId, version: r.version) } ?? false
               }) {
                materialId = match.materialId
            }

            if let existing = records.record(materialId: materialId) {
                // The same material again: it comes back under its version (reimport).
                if let requestedId, requestedId != materialId {
                    throw KMSError(.incorrectKeyMaterial, "The key material does not match the KeyMaterialId \(requestedId).")
                }
                if importType == "NEW_KEY_MATERIAL" {
                    throw KMSError(.incorrectKeyMaterial, "This key material is already associated with \(key.arn). Use ImportType EXISTING_KEY_MATERIAL to reimport it.")
                }
                var record = existing
                record.imported = true
                record.validTo = validTo
                if let description { record.description = description }
                records.update(record)
                if key.material(version: record.version) == nil {
                    key.materials.append(try ImportWrapping.keyMaterial(secret, spec: key.keySpec, version: record.version, id: materialId, at: now))
                    key.materials.sort { $0.version < $1.version }
                }
            } else if records.records.isEmpty {
                // The first material of the key.
                if importType == "EXISTING_KEY_MATERIAL" || requestedId != nil {
                    throw KMSError(.incorrectKeyMaterial, "No key material has been imported into \(key.arn) yet. Import it with ImportType NEW_KEY_MATERIAL.")
                }
                let version = (key.materials.map(\.version).max() ?? 0) + 1
                key.materials.append(try ImportWrapping.keyMaterial(secret, spec: key.keySpec, version: version, id: materialId, at: now))
                records.update(.init(version: version, materialId: materialId, imported: true, validTo: validTo,
                                     description: symmetric ? description : nil, pendingRotation: false))
                records.currentVersion = version
            } else if importType == "NEW_KEY_MATERIAL" {
                // New material for an on-demand rotation: stored, not current until RotateKeyOnDemand.
                guard symmetric else {
                    throw KMSError(.unsupportedOperation, "ImportType NEW_KEY_MATERIAL is only valid for symmetric encryption KMS keys that already have key material.")
                }
                if let pending = records.records.first(where: \.pendingRotation) {
                    // AWS's wording, as LocalStack's AWS-recorded tests reproduce it.
                    throw KMSError(.kmsInvalidState, "New key material (id: \(materialId)) cannot be imported into KMS key \(key.arn), because another key material (id: \(pending.materialId)) is pending rotation.")
                }
                let version = max(key.materials.map(\.version).max() ?? 0, records.records.map(\.version).max() ?? 0) + 1
                key.materials.append(try ImportWrapping.keyMaterial(secret, spec: key.keySpec, version: version, id: materialId, at: now))
                records.update(.init(version: version, materialId: materialId, imported: true, validTo: validTo,
                                     description: description, pendingRotation: true))
            } else {
                throw KMSError(.incorrectKeyMaterial, "The key material does not match the key material previously imported into this KMS key.")
            }
            if records.currentVersion == nil { records.currentVersion = key.materials.last(where: { records.record(version: $0.version)?.pendingRotation != true })?.version }
            key.imports = records
            // Back in service once every associated material is present (a Disabled key stays
            // disabled only until its material is deleted: AWS then reports PendingImport).
            if key.keyState == .pendingImport, records.allAssociatedImported { key.keyState = .enabled }
            // A multi-Region primary's replicas learn which material they must import (the same, as AWS requires).
            let routed = try synchronizeReplicas(of: &key, now: now)
            return (JSONObject([("KeyId", .string(key.arn)), ("KeyMaterialId", .string(materialId))]), [.putKey(key)] + routed.changes)
        }
    }

    func deleteImportedKeyMaterial(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let requestedId = request.string("KeyMaterialId")
        return try registry.write { () throws(KMSError) in
            var key = try authorizedKey(request, action: "kms:DeleteImportedKeyMaterial", caller: caller)
            guard key.origin == "EXTERNAL" else {
                throw KMSError(.unsupportedOperation, "\(key.arn) origin is \(key.origin) which is not valid for this operation.")
            }
            let records = key.importRecords
            let target: ImportedMaterials.Record?
            if let requestedId {
                guard let found = records.record(materialId: requestedId) else {
                    throw KMSError(.notFound, "Key material \(requestedId) is not associated with \(key.arn).")
                }
                target = found
            } else {
                target = records.currentVersion.flatMap { records.record(version: $0) } ?? records.records.last { !$0.pendingRotation }
            }
            var out = JSONObject([("KeyId", .string(key.arn))])
            guard let target else { return (out, []) }  // nothing imported yet: nothing to delete
            out["KeyMaterialId"] = .string(target.materialId)
            key.imports = records
            Self.deleteMaterial(target, from: &key)
            return (out, [.putKey(key)])
        }
    }

    /// Removes one imported material's secret. Material pending rotation is not associated
    /// with the key yet and goes entirely; any other leaves its record (PENDING_IMPORT) and
    /// moves the key to PendingImport, except a key pending deletion, which keeps its state.
    static func deleteMaterial(_ record: ImportedMaterials.Record, from key: inout KMSKey) {
        key.materials.removeAll { $0.version == record.version }
        if record.pendingRotation {
            key.imports.records.removeAll { $0.version == record.version }
            return
        }
        var deleted = record
        deleted.imported = false
        key.imports.update(deleted)
        if key.keyState != .pendingDeletion { key.keyState = .pendingImport }
    }

    /// ExpirationModel and ValidTo as AWS combines them. AWS documents KEY_MATERIAL_EXPIRES as the
    /// default, so a request with neither field is refused for want of a ValidTo (callers who
    /// want material that never expires say KEY_MATERIAL_DOES_NOT_EXPIRE); ValidTo is refused
    /// with KEY_MATERIAL_DOES_NOT_EXPIRE and lies in the next 365 days. nil: does not expire.
    /// The two refusals use AWS's observed wording (as LocalStack's AWS-recorded tests and
    /// local-kms reproduce it, "validTo" in lower camel case included).
    static func materialValidTo(_ request: KMSRequest, now: Double) throws(KMSError) -> Double? {
        let model = request.string("ExpirationModel") ?? "KEY_MATERIAL_EXPIRES"
        let validTo = request.object["ValidTo"]?.doubleValue
        switch (model, validTo) {
        case ("KEY_MATERIAL_DOES_NOT_EXPIRE", .none):
            return nil
        case ("KEY_MATERIAL_DOES_NOT_EXPIRE", .some):
            throw KMSError(.validation, "The parameter ValidTo cannot be specified for a key with an expiration model of KEY_MATERIAL_DOES_NOT_EXPIRE")
        case (_, .none):
            throw KMSError(.validation, "A validTo date must be set if the ExpirationModel is KEY_MATERIAL_EXPIRES")
        case (_, .some(let date)):
            guard date > now else { throw KMSError(.validation, "ValidTo must be a date and time in the future.") }
            guard date <= now + maximumMaterialLifetime else {
                throw KMSError(.validation, "ValidTo must be no more than 365 days from the date of the request.")
            }
            return date
        }
    }

    /// Import applies to EXTERNAL keys that are not pending deletion.
    func requireImportable(_ key: KMSKey) throws(KMSError) {
        guard key.origin == "EXTERNAL" else {
            throw KMSError(.unsupportedOperation, "\(key.arn) origin is \(key.origin) which is not valid for this operation.")
        }
        try requireNotPendingDeletion(key)
    }

    // MARK: Expiry

    /// Keys holding imported material whose ValidTo has passed at the clock's `now`.
    public func dueMaterialExpiries() throws(KMSError) -> [(account: String, region: String, keyId: String, arn: String)] {
        let now = clock.now()
        return try registry.allStoredKeys().filter { ($0.imports.nextExpiry ?? .infinity) <= now }.map { ($0.account, $0.region, $0.keyId, $0.arn) }
    }

    /// Deletes every imported material whose ValidTo has passed (as DeleteImportedKeyMaterial
    /// does). `only`: the key ARNs to handle (the audit stage records them first); nil: all.
    @discardableResult
    public func expireKeyMaterial(only: Set<String>? = nil) throws(KMSError) -> [String] {
        let now = clock.now()
        return try registry.write { () throws(KMSError) in
            var changes: [StoreChange] = []
            var expired: [String] = []
            for var key in try registry.allStoredKeys() where (key.imports.nextExpiry ?? .infinity) <= now && (only?.contains(key.arn) ?? true) {
                for record in key.imports.records where record.imported && (record.validTo ?? .infinity) <= now {
                    Self.deleteMaterial(record, from: &key)
                }
                changes.append(.putKey(key))
                expired.append(key.arn)
            }
            return (expired, changes)
        }
    }
}

/// What an import token carries: the key it is for, until when, and the wrapping key.
struct ImportTokenContents: Codable {
    let account, region, keyId: String
    let validTo: Double
    let wrappingAlgorithm, wrappingKeySpec: String
    /// Data, not [UInt8]: JSON writes it as base64, which keeps an RSA 4096 token under the model's 6144 bytes.
    let privateKey: Data
}

/// Seals import tokens (AES-256-GCM). The server gives it a key derived from the root key
/// (`RootKey.derivedKey(label:)`), so a token opens after a restart and on every node of a
/// cluster; without one (tests, tools) the key is random and lives in this process only.
///
/// The wrapping private key travels inside the sealed token rather than in a table: it is
/// recoverable wherever the root key is, at once on every node (no replication to wait for),
/// needs no migration or cleanup of expired rows, and is never stored. Deriving it from a
/// seed instead would need deterministic RSA prime generation, which OpenSSL does not offer.
/// The token is as safe as the root key's other derived seals (STS session tokens).
public final class ImportTokenSealer: Sendable {
    private let key: SymmetricKey
    /// Keys KeyMaterialIds (`materialId(keyId:identity:)`); derived from `key` with HKDF, so a
    /// token key never MACs anything else and no second root-derived key has to be wired in.
    private let materialIdKey: SymmetricKey
    static let aad = Array("kms-import-token|v2".utf8)

    public init(key: SymmetricKey? = nil) {
        let key = key ?? SymmetricKey(size: .bits256)
        self.key = key
        self.materialIdKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Array("kms-key-material-id-v1".utf8), outputByteCount: 32)
    }

    func seal(_ contents: ImportTokenContents) throws(KMSError) -> [UInt8] {
        do {
            let plain = try JSONEncoder().encode(contents)
            guard let combined = try AES.GCM.seal(plain, using: key, authenticating: Self.aad).combined else { throw KMSError.internalError }
            return Array(combined)
        } catch {
            throw KMSError.internalError
        }
    }

    /// The KeyMaterialId of imported material: HMAC-SHA256 of the key ID and the material under
    /// a key derived from the token key (so from the root key on a server). AWS assigns the id
    /// "based on the KMS key ID and the imported key material": the same material imported
    /// again into the same key gets the same id, on every node, after a restart; the id tells
    /// nothing about the material to anyone without the root key (an unkeyed hash would let
    /// a guess of weak HMAC material be checked against the published id).
    func materialId(keyId: String, identity: [UInt8]) -> String {
        var mac = HMAC<SHA256>(key: materialIdKey)
        mac.update(data: Array("kms-key-material-id|v1|".utf8))
        mac.update(data: Array(keyId.utf8))
        mac.update(data: [0])
        mac.update(data: identity)
        return Hex.lower(mac.finalize())
    }

    /// Seals a multi-Region material check received from a peer (MultiRegionMaterialCheck)
    /// under a key derived from this deployment's token key, bound to the replica and version.
    func sealPeerCheck(_ check: [UInt8], account: String, region: String, keyId: String, version: UInt32) -> String? {
        guard let box = try? AES.GCM.seal(check, using: peerCheckKey, authenticating: Self.peerCheckAAD(account, region, keyId, version)),
              let combined = box.combined else { return nil }
        return Base64.encode(Array(combined))
    }

    /// Whether `identity` (of material being imported) is the material the sealed check names.
    func peerCheckMatches(_ sealed: String, identity: [UInt8], account: String, region: String, keyId: String, version: UInt32) -> Bool {
        guard let bytes = Base64.decode(sealed), let box = try? AES.GCM.SealedBox(combined: bytes),
              let check = try? AES.GCM.open(box, using: peerCheckKey, authenticating: Self.peerCheckAAD(account, region, keyId, version)) else {
            return false
        }
        return ImportWrapping.constantTimeEquals(Array(check), MultiRegionMaterialCheck.value(identity: identity, keyId: keyId, version: version))
    }

    private var peerCheckKey: SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Array("kms-mrk-material-check-seal-v1".utf8), outputByteCount: 32)
    }

    private static func peerCheckAAD(_ account: String, _ region: String, _ keyId: String, _ version: UInt32) -> [UInt8] {
        Array("kms-mrk-material-check|\(account)|\(region)|\(keyId)|\(version)".utf8)
    }

    func open(_ token: [UInt8]) -> ImportTokenContents? {
        guard let box = try? AES.GCM.SealedBox(combined: token),
              let plain = try? AES.GCM.open(box, using: key, authenticating: Self.aad) else { return nil }
        return try? JSONDecoder().decode(ImportTokenContents.self, from: plain)
    }
}

enum ImportWrapping {
    /// The wrapping algorithms AWS offers today: RSAES_OAEP_* wrap the material directly;
    /// RSA_AES_KEY_WRAP_* wrap a fresh AES key with OAEP and the material under it with
    /// AES Key Wrap with Padding (RFC 5649), so material of any size fits.
    enum Algorithm: String {
        case rsaesOAEPSHA1 = "RSAES_OAEP_SHA_1"
        case rsaesOAEPSHA256 = "RSAES_OAEP_SHA_256"
        case rsaAESKeyWrapSHA1 = "RSA_AES_KEY_WRAP_SHA_1"
        case rsaAESKeyWrapSHA256 = "RSA_AES_KEY_WRAP_SHA_256"

        var oaep: EncryptionAlgorithm {
            switch self {
            case .rsaesOAEPSHA1, .rsaAESKeyWrapSHA1: .rsaesOAEPSHA1
            case .rsaesOAEPSHA256, .rsaAESKeyWrapSHA256: .rsaesOAEPSHA256
            }
        }
        var wrapsWithAES: Bool { self == .rsaAESKeyWrapSHA1 || self == .rsaAESKeyWrapSHA256 }
    }

    static func algorithm(_ name: String) throws(KMSError) -> Algorithm {
        if let algorithm = Algorithm(rawValue: name) { return algorithm }
        switch name {
        case "RSAES_PKCS1_V1_5":
            // AWS: "As of October 10, 2023, KMS does not support the RSAES_PKCS1_V1_5 wrapping algorithm."
            throw KMSError(.validation, "KMS does not support the RSAES_PKCS1_V1_5 wrapping algorithm. Use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.")
        case "SM2PKE":
            throw KMSError(.unsupportedOperation, "The SM2PKE wrapping algorithm is supported only in China Regions.")
        default:
            throw KMSError(.validation, "WrappingAlgorithm \(name) is not valid.")
        }
    }

    static func keySpec(_ name: String) throws(KMSError) -> KeySpec {
        switch name {
        case "RSA_2048": return .rsa2048
        case "RSA_3072": return .rsa3072
        case "RSA_4096": return .rsa4096
        case "SM2": throw KMSError(.unsupportedOperation, "The SM2 wrapping key spec is supported only in China Regions.")
        default: throw KMSError(.validation, "WrappingKeySpec \(name) is not valid.")
        }
    }

    /// The material, unwrapped with the token's private key. Any failure is InvalidCiphertextException.
    static func unwrap(_ wrapped: [UInt8], with wrappingKey: AsymmetricPrivateKey, algorithm: Algorithm) throws(KMSError) -> [UInt8] {
        do {
            guard algorithm.wrapsWithAES else { return try wrappingKey.decrypt(ciphertext: wrapped, algorithm: algorithm.oaep) }
            // RSA_AES_KEY_WRAP: the OAEP-wrapped AES key (one modulus long), then the RFC 5649 wrapped material.
            guard let modulusBytes = wrappingKey.keySpec.rsaModulusBits.map({ $0 / 8 }), wrapped.count > modulusBytes else {
                throw KMSError.invalidCiphertext
            }
            var aesKey = try wrappingKey.decrypt(ciphertext: Array(wrapped[0..<modulusBytes]), algorithm: algorithm.oaep)
            defer { for i in aesKey.indices { aesKey[i] = 0 } }
            return try AESKeyWrap.unwrapWithPadding(Array(wrapped[modulusBytes...]), kek: aesKey)
        } catch {
            throw KMSError.invalidCiphertext
        }
    }

    /// Checks the material against the key spec as AWS does, and returns the secret to store
    /// and what its KeyMaterialId is computed from: symmetric keys take 256 bits, HMAC keys
    /// between the hash length and the hash block size, asymmetric keys a PKCS#8 DER private
    /// key of the key's spec (identified by its public key, so a re-encoding is the same material).
    static func checkMaterial(_ material: [UInt8], for key: KMSKey) throws(KMSError) -> (secret: [UInt8], identity: [UInt8]) {
        switch key.keySpec {
        case .symmetricDefault:
            guard material.count == AESGCMKey.keySize else {
                throw KMSError(.incorrectKeyMaterial, "The key material must be 256 bits for a symmetric encryption KMS key.")
            }
            return (material, material)
        case let spec where spec.macAlgorithm != nil:
            guard let range = HMACKey.validKeyLengths(for: spec), range.contains(material.count) else {
                let range = HMACKey.validKeyLengths(for: spec) ?? 0...0
                throw KMSError(.incorrectKeyMaterial, "The key material for a \(spec.rawValue) KMS key must be between \(range.lowerBound * 8) and \(range.upperBound * 8) bits.")
            }
            return (material, material)
        default:
            // The public key derives from the private key: parsing under the key's spec checks
            // the algorithm, the curve or modulus size, and that the key is well formed.
            guard let parsed = try? AsymmetricPrivateKey(spec: key.keySpec, privateKeyBytes: material) else {
                throw KMSError(.incorrectKeyMaterial, "The key material is not a valid PKCS #8 DER-encoded private key for a \(key.keySpec.rawValue) KMS key.")
            }
            // The id follows the key pair, not its encoding: the same private key re-encoded is the same material.
            return (material, parsed.publicKeyDER)
        }
    }

    /// What a material's id and check follow: the material, or an asymmetric key's public key.
    static func identity(of secret: [UInt8], spec: KeySpec) -> [UInt8]? {
        if spec == .symmetricDefault || spec.macAlgorithm != nil { return secret }
        return (try? AsymmetricPrivateKey(spec: spec, privateKeyBytes: secret))?.publicKeyDER
    }

    static func keyMaterial(_ secret: [UInt8], spec: KeySpec, version: UInt32, id: String, at now: Double) throws(KMSError) -> KeyMaterial {
        do { return try KeyMaterial(keySpec: spec, version: version, secret: secret, materialId: id, createdAt: now) } catch {
            throw KMSError(.incorrectKeyMaterial, "The key material is not valid for a \(spec.rawValue) KMS key.")
        }
    }

    /// The id material imported before keyed ids had: an unkeyed SHA-256 of the material (or
    /// of an asymmetric key's public key). Only recognised on import, for material already
    /// associated under it; new material never gets one (ImportTokenSealer.materialId).
    static func legacyMaterialId(_ material: [UInt8]) -> String {
        Hex.lower(SHA256.hash(data: Array("kms-imported-key-material|".utf8) + material))
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
