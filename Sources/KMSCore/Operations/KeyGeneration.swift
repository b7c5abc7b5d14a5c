/// Fresh key material for CreateKey (and later rotation): 256-bit AES keys, HMAC keys of
/// the hash's length, asymmetric key pairs through KMSCrypto.
enum KeyGeneration {
    static func material(for spec: KeySpec, version: UInt32, createdAt: Double) throws(KMSError) -> KeyMaterial {
        let id = KeyIdentifier.newMaterialId()
        do {
            if spec == .symmetricDefault {
                return KeyMaterial(version: version, secret: SystemRandom.bytes(32), materialId: id, createdAt: createdAt)
            }
            if spec.isHMAC {
                return KeyMaterial(version: version, secret: try HMACKey.generate(spec), materialId: id, createdAt: createdAt)
            }
            let pair = try AsymmetricKeyPair.generate(spec)
            return KeyMaterial(version: version, secret: pair.privateKeyBytes, materialId: id, createdAt: createdAt,
                               privateKey: pair.privateKey)
        } catch {
            throw KMSError.internalError
        }
    }
}

extension KMSError {
    /// Maps KMSCrypto's failures to the errors AWS answers. Their messages carry names and
    /// lengths only, never key material or data.
    init(crypto error: any Error) {
        guard let e = error as? KMSCryptoError else { self = .internalError; return }
        switch e {
        case .unsupportedKeySpec, .incompatibleAlgorithm:
            self.init(.invalidKeyUsage, e.description + ".")
        case .unsupportedMessageType, .invalidMessageLength, .plaintextTooLarge, .invalidPeerPublicKey, .invalidPublicKey:
            self.init(.validation, e.description + ".")
        case .invalidCiphertext:
            self = .invalidCiphertext
        case .invalidPrivateKey, .invalidMacKey, .backendFailure:
            self = .internalError
        }
    }
}
