/// Encrypt, Decrypt and ReEncrypt with symmetric keys (asymmetric encryption joins with KMSCrypto).
extension KMSService {
    /// The key must be for encryption, and the algorithm one the key offers.
    func checkEncryptionUse(_ key: KMSKey, algorithm: String, operation: String) throws(KMSError) {
        guard key.keyUsage == "ENCRYPT_DECRYPT" else {
            throw KMSError(.invalidKeyUsage, "\(key.arn) key usage is \(key.keyUsage) which is not valid for \(operation).")
        }
        guard KeySpecInfo.encryptionAlgorithms(key.keySpec).contains(algorithm) else {
            throw KMSError(.invalidKeyUsage, "Algorithm \(algorithm) is incompatible with key spec \(key.keySpec).")
        }
    }

    /// Encrypts under the key's current material; returns the blob and the material used.
    func sealSymmetric(_ plaintext: [UInt8], key: KMSKey, context: [String: String]?) throws(KMSError) -> ([UInt8], KeyMaterial) {
        guard let material = key.currentMaterial else { throw KMSError(.kmsInvalidState, "\(key.arn) has no key material.") }
        let blob = try SymmetricCipher.encrypt(plaintext: plaintext, account: key.account, keyId: key.keyId, material: material, context: context)
        return (blob, material)
    }

    /// Finds, authorizes and opens a symmetric ciphertext, checking an optional expected key.
    func openSymmetric(_ bytes: [UInt8], expectedKeyId: String?, context: [String: String]?, algorithm: String,
                       action: String, operation: String, caller: Caller, dryRun: Bool) throws(KMSError) -> (KMSKey, [UInt8], KeyMaterial) {
        let expected = try expectedKeyId.map { (id) throws(KMSError) in try resolveKey(id, caller: caller, allowAlias: true) }
        guard let blob = CiphertextBlob.parse(bytes) else { throw KMSError.invalidCiphertext }
        if let expected, expected.keyId != blob.keyId || expected.account != blob.account {
            throw KMSError(.incorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
        }
        let found = expected ?? registry.key(account: blob.account, region: caller.region, keyId: blob.keyId)
        guard let key = found else { throw KMSError.invalidCiphertext }
        try authorizer.authorize(action: action, caller: caller, key: key)
        try requireUsable(key)
        try checkEncryptionUse(key, algorithm: algorithm, operation: operation)
        if dryRun { throw KMSError.dryRun }
        guard let material = key.material(version: blob.materialVersion) else { throw KMSError.invalidCiphertext }
        let plaintext = try SymmetricCipher.decrypt(blob: blob, material: material, context: context)
        return (key, plaintext, material)
    }

    func encrypt(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let key = try authorizedKey(request, action: "kms:Encrypt", caller: caller, allowAlias: true)
        let algorithm = request.string("EncryptionAlgorithm") ?? "SYMMETRIC_DEFAULT"
        try requireUsable(key)
        try checkEncryptionUse(key, algorithm: algorithm, operation: "Encrypt")
        try dryRunCheck(request)
        let (blob, _) = try sealSymmetric(request.blob("Plaintext") ?? [], key: key, context: request.stringMap("EncryptionContext"))
        return JSONObject([
            ("CiphertextBlob", .string(Base64.encode(blob))),
            ("KeyId", .string(key.arn)),
            ("EncryptionAlgorithm", .string(algorithm)),
        ])
    }

    func decrypt(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        if request.has("Recipient") {
            throw KMSError(.unsupportedOperation, "Recipient (Nitro Enclaves attestation) is not supported by this server.")
        }
        guard let ciphertext = request.blob("CiphertextBlob") else {
            throw KMSError(.validation, "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null")
        }
        let algorithm = request.string("EncryptionAlgorithm") ?? "SYMMETRIC_DEFAULT"
        let (key, plaintext, material) = try openSymmetric(
            ciphertext, expectedKeyId: request.string("KeyId"), context: request.stringMap("EncryptionContext"),
            algorithm: algorithm, action: "kms:Decrypt", operation: "Decrypt", caller: caller, dryRun: request.dryRun)
        return JSONObject([
            ("KeyId", .string(key.arn)),
            ("Plaintext", .string(Base64.encode(plaintext))),
            ("EncryptionAlgorithm", .string(algorithm)),
            ("KeyMaterialId", .string(material.materialId)),
        ])
    }

    func reEncrypt(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let ciphertext = request.blob("CiphertextBlob") ?? []
        let sourceAlgorithm = request.string("SourceEncryptionAlgorithm") ?? "SYMMETRIC_DEFAULT"
        let destinationAlgorithm = request.string("DestinationEncryptionAlgorithm") ?? "SYMMETRIC_DEFAULT"
        let destination = try authorizedKey(request, member: "DestinationKeyId", action: "kms:ReEncryptTo", caller: caller, allowAlias: true)
        try requireUsable(destination)
        try checkEncryptionUse(destination, algorithm: destinationAlgorithm, operation: "ReEncrypt")
        let (source, plaintext, sourceMaterial) = try openSymmetric(
            ciphertext, expectedKeyId: request.string("SourceKeyId"), context: request.stringMap("SourceEncryptionContext"),
            algorithm: sourceAlgorithm, action: "kms:ReEncryptFrom", operation: "ReEncrypt", caller: caller, dryRun: request.dryRun)
        let (blob, destinationMaterial) = try sealSymmetric(plaintext, key: destination, context: request.stringMap("DestinationEncryptionContext"))
        return JSONObject([
            ("CiphertextBlob", .string(Base64.encode(blob))),
            ("SourceKeyId", .string(source.arn)),
            ("KeyId", .string(destination.arn)),
            ("SourceEncryptionAlgorithm", .string(sourceAlgorithm)),
            ("DestinationEncryptionAlgorithm", .string(destinationAlgorithm)),
            ("SourceKeyMaterialId", .string(sourceMaterial.materialId)),
            ("DestinationKeyMaterialId", .string(destinationMaterial.materialId)),
        ])
    }
}
