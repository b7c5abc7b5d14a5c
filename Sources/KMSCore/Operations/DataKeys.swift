/// GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateDataKeyPair,
/// GenerateDataKeyPairWithoutPlaintext, GenerateRandom.
extension KMSService {
    /// Data keys are protected by a symmetric encryption key.
    func requireSymmetricEncryptionKey(_ key: KMSKey, operation: String) throws(KMSError) {
        guard key.keySpec == .symmetricDefault, key.keyUsage == .encryptDecrypt else {
            throw KMSError(.invalidKeyUsage, "\(key.arn) key usage is \(key.keyUsage.rawValue) and key spec is \(key.keySpec.rawValue), which is not valid for \(operation).")
        }
    }

    func refuseRecipient(_ request: KMSRequest) throws(KMSError) {
        if request.has("Recipient") {
            throw KMSError(.unsupportedOperation, "Recipient (Nitro Enclaves attestation) is not supported by this server.")
        }
    }

    func generateDataKey(_ request: KMSRequest, _ caller: Caller, withPlaintext: Bool) throws(KMSError) -> JSONObject {
        try refuseRecipient(request)
        let operation = withPlaintext ? "GenerateDataKey" : "GenerateDataKeyWithoutPlaintext"
        let key = try authorizedKey(request, caller: caller, allowAlias: true)
        let byteCount: Int
        switch (request.string("KeySpec"), request.int("NumberOfBytes")) {
        case (let spec?, nil): byteCount = spec == "AES_128" ? 16 : 32
        case (nil, let n?): byteCount = n
        default: throw KMSError(.validation, "Please specify either number of bytes or key spec.")
        }
        try requireUsable(key)
        try requireSymmetricEncryptionKey(key, operation: operation)
        try dryRunCheck(request)
        let dataKey = SystemRandom.bytes(byteCount)
        let (blob, material) = try encryptWithKey(dataKey, key: key, algorithm: .symmetricDefault,
                                                  context: request.stringMap("EncryptionContext"), request: request)
        var out = JSONObject()
        out.reserveCapacity(4)
        out["CiphertextBlob"] = .string(Base64.encode(blob))
        if withPlaintext { out["Plaintext"] = .string(Base64.encode(dataKey)) }
        out["KeyId"] = .string(key.arn)
        out["KeyMaterialId"] = .string(material.materialId)
        return out
    }

    func generateDataKeyPair(_ request: KMSRequest, _ caller: Caller, withPlaintext: Bool) throws(KMSError) -> JSONObject {
        try refuseRecipient(request)
        let operation = withPlaintext ? "GenerateDataKeyPair" : "GenerateDataKeyPairWithoutPlaintext"
        let key = try authorizedKey(request, caller: caller, allowAlias: true)
        guard let pairSpec = DataKeyPairSpec(rawValue: try request.required("KeyPairSpec")) else {
            throw KMSError(.validation, "Unknown KeyPairSpec.")
        }
        try requireUsable(key)
        try requireSymmetricEncryptionKey(key, operation: operation)
        try dryRunCheck(request)
        let pair: AsymmetricKeyPair
        do { pair = try AsymmetricKeyPair.generate(dataKeyPairSpec: pairSpec) } catch { throw KMSError(crypto: error) }
        let (blob, material) = try encryptWithKey(pair.pkcs8, key: key, algorithm: .symmetricDefault,
                                                  context: request.stringMap("EncryptionContext"), request: request)
        var out = JSONObject([("PrivateKeyCiphertextBlob", .string(Base64.encode(blob)))])
        if withPlaintext { out["PrivateKeyPlaintext"] = .string(Base64.encode(pair.pkcs8)) }
        out["PublicKey"] = .string(Base64.encode(pair.publicKeyDER))
        out["KeyId"] = .string(key.arn)
        out["KeyPairSpec"] = .string(pairSpec.rawValue)
        out["KeyMaterialId"] = .string(material.materialId)
        return out
    }

    func generateRandom(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try authorize(request, on: .account)
        // With a CustomKeyStoreId, the store's token draws the bytes (checked before the rest, as before).
        var hsm: (any CloudHsmSession)?
        if let id = request.string("CustomKeyStoreId") { hsm = try randomSourceInCustomKeyStore(id, caller: caller) }
        try refuseRecipient(request)
        guard let n = request.int("NumberOfBytes") else { throw KMSError(.validation, "NumberOfBytes is required.") }
        if let hsm {
            let bytes: [UInt8]
            do { bytes = try hsm.generateRandom(count: n) } catch { throw KMSError.internalError }
            return JSONObject([("Plaintext", .string(Base64.encode(bytes)))])
        }
        return JSONObject([("Plaintext", .string(Base64.encode(SystemRandom.bytes(n))))])
    }
}
