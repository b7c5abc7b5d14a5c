/// Encrypt, Decrypt and ReEncrypt: AES-256-GCM blobs under symmetric keys, RSAES-OAEP and
/// SM2PKE under asymmetric ENCRYPT_DECRYPT keys.
extension KMSService {
    /// The key must be for encryption, and the algorithm one its spec offers.
    func checkEncryptionUse(_ key: KMSKey, algorithm: EncryptionAlgorithm, operation: String) throws(KMSError) {
        guard key.keyUsage == .encryptDecrypt else {
            throw KMSError(.invalidKeyUsage, "\(key.arn) key usage is \(key.keyUsage.rawValue) which is not valid for \(operation).")
        }
        guard key.keySpec.encryptionAlgorithms(for: key.keyUsage).contains(algorithm) else {
            throw KMSError(.invalidKeyUsage, "Algorithm \(algorithm.rawValue) is incompatible with key spec \(key.keySpec.rawValue).")
        }
    }

    func encryptionAlgorithm(_ request: KMSRequest, _ member: String = "EncryptionAlgorithm") -> EncryptionAlgorithm {
        EncryptionAlgorithm(rawValue: request.string(member) ?? "") ?? .symmetricDefault
    }

    /// Encrypts under the key's current material with the given algorithm.
    func encryptWithKey(_ plaintext: [UInt8], key: KMSKey, algorithm: EncryptionAlgorithm,
                        context: [String: String]?, request: KMSRequest? = nil) throws(KMSError) -> ([UInt8], KeyMaterial) {
        if key.xksKeyId != nil { return try encryptExternal(plaintext, key: key, context: context, request: request) }
        if key.origin == Self.cloudHsmOrigin { return try encryptInCloudHsm(plaintext, key: key, context: context) }
        guard let material = key.currentMaterial else { throw KMSError(.kmsInvalidState, "\(key.arn) has no key material.") }
        if algorithm == .symmetricDefault {
            let blob = try SymmetricCipher.encrypt(plaintext: plaintext, account: key.account, keyId: key.keyId,
                                                   material: material, context: context, format: ciphertextFormat)
            return (blob, material)
        }
        try Self.refuseAsymmetricContext(context)
        if let maximum = algorithm.maxPlaintextLength(for: key.keySpec), plaintext.count > maximum {
            throw KMSError(.validation, "Algorithm \(algorithm.rawValue) and key spec \(key.keySpec.rawValue) cannot encrypt data larger than \(maximum) bytes.")
        }
        guard let privateKey = material.privateKey else { throw KMSError.internalError }
        do {
            return (try privateKey.encrypt(plaintext: plaintext, algorithm: algorithm), material)
        } catch {
            throw KMSError(crypto: error)
        }
    }

    /// Asymmetric encryption has no authenticated data; AWS documents encryption context
    /// as symmetric-only, so a context given here would silently protect nothing.
    static func refuseAsymmetricContext(_ context: [String: String]?) throws(KMSError) {
        if let context, !context.isEmpty {
            throw KMSError(.validation, "EncryptionContext is supported only with symmetric encryption KMS keys.")
        }
    }

    /// Finds, authorizes and opens a ciphertext. Symmetric blobs name their key; asymmetric
    /// ciphertexts need `keyIdParameter`.
    func decryptWithKey(_ request: KMSRequest, _ ciphertext: [UInt8], keyIdParameter: String?, context: [String: String]?,
                        algorithm: EncryptionAlgorithm, action: String?, operation: String, caller: Caller,
                        dryRun: Bool) throws(KMSError) -> (KMSKey, [UInt8], KeyMaterial) {
        // A KeyId given is resolved and authorized before anything about the ciphertext is
        // checked, so an unauthorized caller learns nothing from the answer.
        let expected = try keyIdParameter.map { (id) throws(KMSError) in try resolveKey(id, caller: caller, allowAlias: true) }
        if let expected { try authorize(request, action, on: .key(expected)) }
        if let expected, expected.keySpec.isAsymmetric {
            try requireUsable(expected)
            try checkEncryptionUse(expected, algorithm: algorithm, operation: operation)
            try Self.refuseAsymmetricContext(context)
            if dryRun { throw KMSError.dryRun }
            guard let material = expected.currentMaterial, let privateKey = material.privateKey else { throw KMSError.internalError }
            do {
                return (expected, try privateKey.decrypt(ciphertext: ciphertext, algorithm: algorithm), material)
            } catch {
                throw KMSError(crypto: error)
            }
        }
        if let external = ExternalKeyStoreCiphertext.parse(ciphertext) {
            return try decryptExternalKeyStoreBlob(request, external, expected: expected, context: context, algorithm: algorithm,
                                                   action: action, operation: operation, caller: caller, dryRun: dryRun)
        }
        if let inToken = CloudHsmCiphertext.parse(ciphertext) {
            return try decryptCloudHsmBlob(request, inToken, expected: expected, context: context, algorithm: algorithm,
                                           action: action, operation: operation, caller: caller, dryRun: dryRun)
        }
        guard let blob = CiphertextBlob.parse(ciphertext) else { throw KMSError.invalidCiphertext }
        if let expected, expected.keyId != blob.keyId || expected.account != blob.account {
            throw KMSError(.incorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
        }
        let found: KMSKey?
        if let expected { found = expected } else { found = try registry.key(account: blob.account, region: caller.region, keyId: blob.keyId) }
        guard let key = found else {
            throw KMSError.invalidCiphertext
        }
        if expected == nil { try authorize(request, action, on: .key(key)) }
        if action == "kms:ReEncryptFrom" { request.context?.noteSourceKey(key.arn) }
        try requireUsable(key)
        try checkEncryptionUse(key, algorithm: algorithm, operation: operation)
        if dryRun { throw KMSError.dryRun }
        guard let material = key.material(version: blob.materialVersion) else { throw KMSError.invalidCiphertext }
        return (key, try SymmetricCipher.decrypt(blob: blob, material: material, context: context), material)
    }

    func encrypt(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let key = try authorizedKey(request, caller: caller, allowAlias: true)
        let algorithm = encryptionAlgorithm(request)
        try requireUsable(key)
        try checkEncryptionUse(key, algorithm: algorithm, operation: "Encrypt")
        try dryRunCheck(request)
        let (blob, _) = try encryptWithKey(request.blob("Plaintext") ?? [], key: key, algorithm: algorithm,
                                           context: request.stringMap("EncryptionContext"), request: request)
        return JSONObject([
            ("CiphertextBlob", .string(Base64.encode(blob))),
            ("KeyId", .string(key.arn)),
            ("EncryptionAlgorithm", .string(algorithm.rawValue)),
        ])
    }

    func decrypt(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        if request.has("Recipient") {
            throw KMSError(.unsupportedOperation, "Recipient (Nitro Enclaves attestation) is not supported by this server.")
        }
        guard let ciphertext = request.blob("CiphertextBlob") else {
            throw KMSError(.validation, "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null")
        }
        let algorithm = encryptionAlgorithm(request)
        let (key, plaintext, material) = try decryptWithKey(
            request, ciphertext, keyIdParameter: request.string("KeyId"), context: request.stringMap("EncryptionContext"),
            algorithm: algorithm, action: nil, operation: "Decrypt", caller: caller, dryRun: request.dryRun)
        var out = JSONObject()
        out.reserveCapacity(4)
        out["KeyId"] = .string(key.arn)
        out["Plaintext"] = .string(Base64.encode(plaintext))
        out["EncryptionAlgorithm"] = .string(algorithm.rawValue)
        if key.keySpec == .symmetricDefault { out["KeyMaterialId"] = .string(material.materialId) }
        return out
    }

    func reEncrypt(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let ciphertext = request.blob("CiphertextBlob") ?? []
        let sourceAlgorithm = encryptionAlgorithm(request, "SourceEncryptionAlgorithm")
        let destinationAlgorithm = encryptionAlgorithm(request, "DestinationEncryptionAlgorithm")
        // AWS judges the source first: a SourceKeyId that does not name the ciphertext's key
        // is IncorrectKeyException even when the destination could not encrypt either.
        let (source, plaintext, sourceMaterial) = try decryptWithKey(
            request, ciphertext, keyIdParameter: request.string("SourceKeyId"), context: request.stringMap("SourceEncryptionContext"),
            algorithm: sourceAlgorithm, action: "kms:ReEncryptFrom", operation: "ReEncrypt", caller: caller, dryRun: false)
        let destination = try authorizedKey(request, member: "DestinationKeyId", action: "kms:ReEncryptTo", caller: caller, allowAlias: true)
        try requireUsable(destination)
        try checkEncryptionUse(destination, algorithm: destinationAlgorithm, operation: "ReEncrypt")
        try dryRunCheck(request)
        let (blob, destinationMaterial) = try encryptWithKey(plaintext, key: destination, algorithm: destinationAlgorithm,
                                                             context: request.stringMap("DestinationEncryptionContext"), request: request)
        var out = JSONObject([
            ("CiphertextBlob", .string(Base64.encode(blob))),
            ("SourceKeyId", .string(source.arn)),
            ("KeyId", .string(destination.arn)),
            ("SourceEncryptionAlgorithm", .string(sourceAlgorithm.rawValue)),
            ("DestinationEncryptionAlgorithm", .string(destinationAlgorithm.rawValue)),
        ])
        if source.keySpec == .symmetricDefault { out["SourceKeyMaterialId"] = .string(sourceMaterial.materialId) }
        if destination.keySpec == .symmetricDefault { out["DestinationKeyMaterialId"] = .string(destinationMaterial.materialId) }
        return out
    }
}
