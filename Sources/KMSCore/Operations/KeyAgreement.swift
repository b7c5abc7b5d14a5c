/// DeriveSharedSecret with KEY_AGREEMENT keys (ECDH over NIST curves and SM2).
extension KMSService {
    func deriveSharedSecret(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try refuseRecipient(request)
        let key = try usableKey(request, caller: caller, usage: .keyAgreement,
                                operation: "DeriveSharedSecret")
        guard let algorithm = KeyAgreementAlgorithm(rawValue: try request.required("KeyAgreementAlgorithm")),
              key.keySpec.keyAgreementAlgorithms(for: key.keyUsage).contains(algorithm) else {
            throw KMSError(.invalidKeyUsage, "KeyAgreementAlgorithm is incompatible with key spec \(key.keySpec.rawValue).")
        }
        try dryRunCheck(request)
        let secret: [UInt8]
        do {
            secret = try privateKey(of: key).deriveSharedSecret(peerPublicKeyDER: request.blob("PublicKey") ?? [], algorithm: algorithm)
        } catch KMSCryptoError.invalidPeerPublicKey, KMSCryptoError.invalidPublicKey {
            // AWS answers a public key it cannot use with a ValidationException whose message is empty.
            throw KMSError(.validation, "")
        } catch {
            throw KMSError(crypto: error)
        }
        return JSONObject([
            ("KeyId", .string(key.arn)),
            ("SharedSecret", .string(Base64.encode(secret))),
            ("KeyAgreementAlgorithm", .string(algorithm.rawValue)),
            ("KeyOrigin", .string(key.origin)),
        ])
    }
}
