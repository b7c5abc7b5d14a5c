import Crypto
import Foundation

/// Imported key material (origin EXTERNAL), symmetric keys: GetParametersForImport and
/// ImportKeyMaterial. The slice this server has: RSA wrapping keys with RSAES_OAEP_SHA_1/256,
/// material that does not expire, and re-import of the same material.
extension KMSService {
    /// AWS: the import token and the wrapping key are valid for 24 hours.
    static let importParametersLifetime = 24 * 3600.0

    func getParametersForImport(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let algorithm = try request.required("WrappingAlgorithm")
        let specName = try request.required("WrappingKeySpec")
        let key = try authorizedKey(request, action: "kms:GetParametersForImport", caller: caller)
        try requireImportable(key)
        guard let wrappingAlgorithm = ImportWrapping.algorithm(algorithm) else {
            throw KMSError(.unsupportedOperation, "WrappingAlgorithm \(algorithm) is not supported by this server yet.")
        }
        guard let spec = ImportWrapping.keySpec(specName) else {
            throw KMSError(.unsupportedOperation, "WrappingKeySpec \(specName) is not supported by this server yet.")
        }
        let pair: AsymmetricKeyPair
        do { pair = try AsymmetricKeyPair.generate(spec) } catch { throw KMSError.internalError }
        let validTo = clock.now() + Self.importParametersLifetime
        let token = try importTokens.seal(ImportTokenContents(
            account: key.account, region: key.region, keyId: key.keyId, validTo: validTo,
            wrappingAlgorithm: wrappingAlgorithm.rawValue, wrappingKeySpec: spec.rawValue, privateKey: Data(pair.privateKeyBytes)))
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
        if request.string("ExpirationModel") == "KEY_MATERIAL_EXPIRES" || request.has("ValidTo") {
            throw KMSError(.unsupportedOperation, "Key material that expires is not supported by this server yet.")
        }
        if request.string("ImportType") == "NEW_KEY_MATERIAL" {
            throw KMSError(.unsupportedOperation, "Importing new key material for on-demand rotation is not supported by this server yet.")
        }
        let now = clock.now()
        return try registry.write { () throws(KMSError) in
            var key = try authorizedKey(request, action: "kms:ImportKeyMaterial", caller: caller)
            try requireImportable(key)
            // The token is bound to this key and to its wrapping key, which it carries sealed.
            guard let token = importTokens.open(tokenBytes), token.account == key.account, token.region == key.region,
                  token.keyId == key.keyId else {
                throw KMSError(.invalidImportToken, "The import token is not valid for this KMS key.")
            }
            guard now <= token.validTo else { throw KMSError(.expiredImportToken, "The import token has expired.") }
            guard let spec = KeySpec(rawValue: token.wrappingKeySpec), let algorithm = EncryptionAlgorithm(rawValue: token.wrappingAlgorithm),
                  let wrappingKey = try? AsymmetricPrivateKey(spec: spec, privateKeyBytes: [UInt8](token.privateKey)) else {
                throw KMSError.internalError
            }
            let material: [UInt8]
            do { material = try wrappingKey.decrypt(ciphertext: wrapped, algorithm: algorithm) } catch { throw KMSError.invalidCiphertext }
            guard material.count == AESGCMKey.keySize else {
                throw KMSError(.incorrectKeyMaterial, "The key material must be 256 bits for a symmetric encryption KMS key.")
            }
            if let existing = key.materials.first {
                // Imported once: only the same material may come back.
                guard ImportWrapping.constantTimeEquals(existing.secret, material) else {
                    throw KMSError(.incorrectKeyMaterial, "The key material does not match the key material previously imported into this KMS key.")
                }
                let out = JSONObject([("KeyId", .string(key.arn)), ("KeyMaterialId", .string(existing.materialId))])
                guard key.keyState == .pendingImport else { return (out, []) }
                key.keyState = .enabled
                return (out, [.putKey(key)])
            }
            let id = ImportWrapping.materialId(material)
            key.materials = [KeyMaterial(version: 1, secret: material, materialId: id, createdAt: now)]
            key.keyState = .enabled
            return (JSONObject([("KeyId", .string(key.arn)), ("KeyMaterialId", .string(id))]), [.putKey(key)])
        }
    }

    /// Import applies to EXTERNAL keys that are not pending deletion.
    func requireImportable(_ key: KMSKey) throws(KMSError) {
        guard key.origin == "EXTERNAL" else {
            throw KMSError(.unsupportedOperation, "\(key.arn) origin is \(key.origin) which is not valid for this operation.")
        }
        try requireNotPendingDeletion(key)
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

/// Seals import tokens under a key that lives only in this process's memory: a token opens
/// on the node that issued it, until it restarts (a cluster-wide token key is future work).
public final class ImportTokenSealer: Sendable {
    private let key = SymmetricKey(size: .bits256)
    static let aad = Array("kms-import-token|v1".utf8)

    public init() {}

    func seal(_ contents: ImportTokenContents) throws(KMSError) -> [UInt8] {
        do {
            let plain = try JSONEncoder().encode(contents)
            guard let combined = try AES.GCM.seal(plain, using: key, authenticating: Self.aad).combined else { throw KMSError.internalError }
            return Array(combined)
        } catch {
            throw KMSError.internalError
        }
    }

    func open(_ token: [UInt8]) -> ImportTokenContents? {
        guard let box = try? AES.GCM.SealedBox(combined: token),
              let plain = try? AES.GCM.open(box, using: key, authenticating: Self.aad) else { return nil }
        return try? JSONDecoder().decode(ImportTokenContents.self, from: plain)
    }
}

enum ImportWrapping {
    static func algorithm(_ name: String) -> EncryptionAlgorithm? {
        switch name {
        case "RSAES_OAEP_SHA_1": .rsaesOAEPSHA1
        case "RSAES_OAEP_SHA_256": .rsaesOAEPSHA256
        default: nil  // RSA_AES_KEY_WRAP_*, RSAES_PKCS1_V1_5 and SM2PKE: not yet
        }
    }

    static func keySpec(_ name: String) -> KeySpec? {
        switch name {
        case "RSA_2048": .rsa2048
        case "RSA_3072": .rsa3072
        case "RSA_4096": .rsa4096
        default: nil
        }
    }

    /// The same material always gets the same id (a re-import answers it again).
    static func materialId(_ material: [UInt8]) -> String {
        SHA256.hash(data: Array("kms-imported-key-material|".utf8) + material).map { String($0, radix: 16).leftPadded(2) }.joined()
    }

    static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
