/// Sign, Verify and GetPublicKey with asymmetric SIGN_VERIFY keys.
extension KMSService {
    /// Resolves an enabled key of the usage an operation needs, after authorization.
    func usableKey(_ request: KMSRequest, caller: Caller, usage: KeyUsage,
                   operation: String) throws(KMSError) -> KMSKey {
        let key = try authorizedKey(request, caller: caller, allowAlias: true)
        try requireUsable(key)
        guard key.keyUsage == usage else {
            throw KMSError(.invalidKeyUsage, "\(key.arn) key usage is \(key.keyUsage.rawValue) which is not valid for \(operation).")
        }
        return key
    }

    func signingRequest(_ request: KMSRequest) throws(KMSError) -> (SigningAlgorithm, MessageType, [UInt8]) {
        guard let algorithm = SigningAlgorithm(rawValue: try request.required("SigningAlgorithm")) else {
            throw KMSError(.validation, "Unknown SigningAlgorithm.")
        }
        let messageType = MessageType(rawValue: request.string("MessageType") ?? "") ?? .raw
        return (algorithm, messageType, request.blob("Message") ?? [])
    }

    func checkSigningAlgorithm(_ algorithm: SigningAlgorithm, key: KMSKey, messageType: MessageType, message: [UInt8]) throws(KMSError) {
        guard key.keySpec.signingAlgorithms(for: key.keyUsage).contains(algorithm) else {
            throw KMSError(.invalidKeyUsage, "Algorithm \(algorithm.rawValue) is incompatible with key spec \(key.keySpec.rawValue).")
        }
        // AWS's wording for a digest of the wrong size (checked here, where the algorithm is known).
        if messageType == .digest, let length = algorithm.requiredMessageLength(for: .digest), message.count != length {
            throw KMSError(.validation, "Digest is invalid length for algorithm \(algorithm.rawValue).")
        }
    }

    func privateKey(of key: KMSKey) throws(KMSError) -> AsymmetricPrivateKey {
        guard let privateKey = key.currentMaterial?.privateKey else { throw KMSError.internalError }
        return privateKey
    }

    func sign(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let key = try usableKey(request, caller: caller, usage: .signVerify, operation: "Sign")
        let (algorithm, messageType, message) = try signingRequest(request)
        try checkSigningAlgorithm(algorithm, key: key, messageType: messageType, message: message)
        try dryRunCheck(request)
        let signature: [UInt8]
        do {
            signature = try privateKey(of: key).sign(message: message, messageType: messageType, algorithm: algorithm)
        } catch {
            throw KMSError(crypto: error)
        }
        return JSONObject([
            ("KeyId", .string(key.arn)),
            ("Signature", .string(Base64.encode(signature))),
            ("SigningAlgorithm", .string(algorithm.rawValue)),
        ])
    }

    func verify(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let key = try usableKey(request, caller: caller, usage: .signVerify, operation: "Verify")
        let (algorithm, messageType, message) = try signingRequest(request)
        try checkSigningAlgorithm(algorithm, key: key, messageType: messageType, message: message)
        try dryRunCheck(request)
        let valid: Bool
        do {
            valid = try privateKey(of: key).verify(signature: request.blob("Signature") ?? [], message: message,
                                                   messageType: messageType, algorithm: algorithm)
        } catch {
            throw KMSError(crypto: error)
        }
        // AWS answers an invalid signature with an error, never with SignatureValid false.
        guard valid else { throw KMSError(.kmsInvalidSignature, nil) }
        return JSONObject([
            ("KeyId", .string(key.arn)),
            ("SignatureValid", .bool(true)),
            ("SigningAlgorithm", .string(algorithm.rawValue)),
        ])
    }

    func getPublicKey(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let key = try authorizedKey(request, caller: caller, allowAlias: true)
        try requireUsable(key)
        guard key.keySpec.isAsymmetric else {
            throw KMSError(.unsupportedOperation, "\(key.arn) key spec is \(key.keySpec.rawValue); GetPublicKey needs an asymmetric KMS key.")
        }
        var out = JSONObject([("KeyId", .string(key.arn)), ("PublicKey", .string(Base64.encode(try privateKey(of: key).publicKeyDER)))])
        if key.keySpec.isCustomerMasterKeySpec { out["CustomerMasterKeySpec"] = .string(key.keySpec.rawValue) }
        out["KeySpec"] = .string(key.keySpec.rawValue)
        out["KeyUsage"] = .string(key.keyUsage.rawValue)
        key.algorithmLists(into: &out)
        return out
    }
}
