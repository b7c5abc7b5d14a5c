import Testing
import KMSCrypto

/// The enums must match botocore's KMS model exactly (raw values are wire strings).
@Suite struct KeySpecTests {
    @Test func keySpecValuesMatchTheAWSModel() {
        #expect(KeySpec.allCases.map(\.rawValue) == [
            "RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
            "ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512",
            "SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519",
        ])
    }

    @Test func otherEnumValuesMatchTheAWSModel() {
        #expect(Set(SigningAlgorithm.allCases.map(\.rawValue)) == [
            "RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512", "RSASSA_PKCS1_V1_5_SHA_256",
            "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512", "ECDSA_SHA_256", "ECDSA_SHA_384",
            "ECDSA_SHA_512", "SM2DSA", "ML_DSA_SHAKE_256", "ED25519_SHA_512", "ED25519_PH_SHA_512",
        ])
        #expect(Set(EncryptionAlgorithm.allCases.map(\.rawValue)) == ["SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"])
        #expect(Set(MacAlgorithm.allCases.map(\.rawValue)) == ["HMAC_SHA_224", "HMAC_SHA_256", "HMAC_SHA_384", "HMAC_SHA_512"])
        #expect(KeyAgreementAlgorithm.allCases.map(\.rawValue) == ["ECDH"])
        #expect(Set(MessageType.allCases.map(\.rawValue)) == ["RAW", "DIGEST", "EXTERNAL_MU"])
        #expect(Set(KeyUsage.allCases.map(\.rawValue)) == ["SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"])
        #expect(DataKeyPairSpec.allCases.map(\.rawValue) == [
            "RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
            "ECC_SECG_P256K1", "SM2", "ECC_NIST_EDWARDS25519",
        ])
        for spec in DataKeyPairSpec.allCases { #expect(spec.keySpec.rawValue == spec.rawValue) }
    }

    @Test func usagesAndAlgorithmsPerSpec() {
        #expect(KeySpec.rsa2048.validKeyUsages == [.encryptDecrypt, .signVerify])
        #expect(KeySpec.eccNISTP384.validKeyUsages == [.signVerify, .keyAgreement])
        #expect(KeySpec.eccSECGP256K1.validKeyUsages == [.signVerify])
        #expect(KeySpec.sm2.validKeyUsages == [.encryptDecrypt, .signVerify, .keyAgreement])
        #expect(KeySpec.hmac384.validKeyUsages == [.generateVerifyMac])
        #expect(KeySpec.symmetricDefault.encryptionAlgorithms(for: .encryptDecrypt) == [.symmetricDefault])
        #expect(KeySpec.rsa3072.encryptionAlgorithms(for: .encryptDecrypt) == [.rsaesOAEPSHA1, .rsaesOAEPSHA256])
        #expect(KeySpec.rsa3072.encryptionAlgorithms(for: .signVerify) == [])
        #expect(KeySpec.rsa4096.signingAlgorithms(for: .signVerify).count == 6)
        #expect(KeySpec.eccNISTP256.signingAlgorithms(for: .signVerify) == [.ecdsaSHA256])
        #expect(KeySpec.eccNISTP384.signingAlgorithms(for: .signVerify) == [.ecdsaSHA384])
        #expect(KeySpec.eccNISTP521.signingAlgorithms(for: .signVerify) == [.ecdsaSHA512])
        #expect(KeySpec.eccSECGP256K1.signingAlgorithms(for: .signVerify) == [.ecdsaSHA256])
        #expect(KeySpec.eccNISTEdwards25519.signingAlgorithms(for: .signVerify) == [.ed25519SHA512, .ed25519PHSHA512])
        #expect(KeySpec.mlDSA44.signingAlgorithms(for: .signVerify) == [.mlDSASHAKE256])
        #expect(KeySpec.sm2.signingAlgorithms(for: .signVerify) == [.sm2DSA])
        #expect(KeySpec.sm2.encryptionAlgorithms(for: .encryptDecrypt) == [.sm2PKE])
        #expect(KeySpec.sm2.keyAgreementAlgorithms(for: .keyAgreement) == [.ecdh])
        #expect(KeySpec.eccNISTP521.keyAgreementAlgorithms(for: .keyAgreement) == [.ecdh])
        #expect(KeySpec.eccSECGP256K1.keyAgreementAlgorithms(for: .keyAgreement) == [])
        #expect(KeySpec.hmac224.macAlgorithms == [.hmacSHA224])
        #expect(KeySpec.rsa2048.macAlgorithms == [])
        #expect(KeySpec.allCases.filter { !$0.isAsymmetric } == [.symmetricDefault, .hmac224, .hmac256, .hmac384, .hmac512])
    }

    /// The table in the AWS Encrypt API reference.
    @Test func maximumPlaintextSizes() {
        #expect(EncryptionAlgorithm.rsaesOAEPSHA1.maxPlaintextLength(for: .rsa2048) == 214)
        #expect(EncryptionAlgorithm.rsaesOAEPSHA256.maxPlaintextLength(for: .rsa2048) == 190)
        #expect(EncryptionAlgorithm.rsaesOAEPSHA1.maxPlaintextLength(for: .rsa3072) == 342)
        #expect(EncryptionAlgorithm.rsaesOAEPSHA256.maxPlaintextLength(for: .rsa3072) == 318)
        #expect(EncryptionAlgorithm.rsaesOAEPSHA1.maxPlaintextLength(for: .rsa4096) == 470)
        #expect(EncryptionAlgorithm.rsaesOAEPSHA256.maxPlaintextLength(for: .rsa4096) == 446)
        #expect(EncryptionAlgorithm.sm2PKE.maxPlaintextLength(for: .sm2) == 1024)
        #expect(EncryptionAlgorithm.symmetricDefault.maxPlaintextLength(for: .symmetricDefault) == 4096)
        #expect(EncryptionAlgorithm.rsaesOAEPSHA256.maxPlaintextLength(for: .sm2) == nil)
        #expect(EncryptionAlgorithm.sm2PKE.maxPlaintextLength(for: .rsa2048) == nil)
    }

    @Test func messageTypeRules() {
        #expect(SigningAlgorithm.ed25519SHA512.supportedMessageTypes == [.raw])
        #expect(SigningAlgorithm.ed25519PHSHA512.supportedMessageTypes == [.digest])
        #expect(SigningAlgorithm.mlDSASHAKE256.supportedMessageTypes == [.raw, .externalMu])
        #expect(SigningAlgorithm.ecdsaSHA384.requiredMessageLength(for: .digest) == 48)
        #expect(SigningAlgorithm.rsassaPSSSHA512.requiredMessageLength(for: .digest) == 64)
        #expect(SigningAlgorithm.sm2DSA.requiredMessageLength(for: .digest) == 32)
        #expect(SigningAlgorithm.ed25519PHSHA512.requiredMessageLength(for: .digest) == 64)
        #expect(SigningAlgorithm.mlDSASHAKE256.requiredMessageLength(for: .externalMu) == 64)
        #expect(SigningAlgorithm.mlDSASHAKE256.requiredMessageLength(for: .digest) == nil)
        #expect(SigningAlgorithm.ecdsaSHA256.requiredMessageLength(for: .raw) == nil)
    }
}
