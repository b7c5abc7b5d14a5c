/// GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom.
extension KMSService {
    func generateDataKey(_ request: KMSRequest, _ caller: Caller, withPlaintext: Bool) throws(KMSError) -> JSONObject {
        if request.has("Recipient") {
            throw KMSError(.unsupportedOperation, "Recipient (Nitro Enclaves attestation) is not supported by this server.")
        }
        let operation = withPlaintext ? "GenerateDataKey" : "GenerateDataKeyWithoutPlaintext"
        let key = try authorizedKey(request, action: "kms:\(operation)", caller: caller, allowAlias: true)
        let byteCount: Int
        switch (request.string("KeySpec"), request.int("NumberOfBytes")) {
        case (let spec?, nil): byteCount = spec == "AES_128" ? 16 : 32
        case (nil, let n?): byteCount = n
        default: throw KMSError(.validation, "Please specify either number of bytes or key spec.")
        }
        try requireUsable(key)
        guard key.keySpec == "SYMMETRIC_DEFAULT", key.keyUsage == "ENCRYPT_DECRYPT" else {
            throw KMSError(.invalidKeyUsage, "\(key.arn) key usage is \(key.keyUsage) and key spec is \(key.keySpec), which is not valid for \(operation).")
        }
        try dryRunCheck(request)
        let dataKey = SymmetricCipher.randomBytes(byteCount)
        let (blob, material) = try sealSymmetric(dataKey, key: key, context: request.stringMap("EncryptionContext"))
        var out = JSONObject([("CiphertextBlob", .string(Base64.encode(blob)))])
        if withPlaintext { out["Plaintext"] = .string(Base64.encode(dataKey)) }
        out["KeyId"] = .string(key.arn)
        out["KeyMaterialId"] = .string(material.materialId)
        return out
    }

    func generateRandom(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        if request.has("CustomKeyStoreId") {
            throw KMSError(.unsupportedOperation, "Custom key stores are not supported by this server.")
        }
        if request.has("Recipient") {
            throw KMSError(.unsupportedOperation, "Recipient (Nitro Enclaves attestation) is not supported by this server.")
        }
        guard let n = request.int("NumberOfBytes") else { throw KMSError(.validation, "NumberOfBytes is required.") }
        try authorizer.authorize(action: "kms:GenerateRandom", caller: caller, key: nil)
        return JSONObject([("Plaintext", .string(Base64.encode(SymmetricCipher.randomBytes(n))))])
    }
}
