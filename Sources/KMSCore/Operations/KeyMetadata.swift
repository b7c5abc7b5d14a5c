/// DescribeKey's KeyMetadata for a key, with the fields AWS returns for its spec and state.
extension KMSKey {
    public var metadataJSON: JSONValue {
        var m = JSONObject()
        m["AWSAccountId"] = .string(account)
        m["KeyId"] = .string(keyId)
        m["Arn"] = .string(arn)
        m["CreationDate"] = JSONValue(creationDate)
        m["Enabled"] = .bool(enabled)
        m["Description"] = .string(description)
        m["KeyUsage"] = .string(keyUsage)
        m["KeyState"] = .string(keyState.rawValue)
        if let deletionDate { m["DeletionDate"] = JSONValue(deletionDate) }
        m["Origin"] = .string(origin)
        m["KeyManager"] = .string(keyManager)
        m["CustomerMasterKeySpec"] = .string(keySpec)
        m["KeySpec"] = .string(keySpec)
        if keyUsage == "ENCRYPT_DECRYPT" {
            m["EncryptionAlgorithms"] = .array(KeySpecInfo.encryptionAlgorithms(keySpec).map { .string($0) })
        }
        m["MultiRegion"] = .bool(false)
        if keySpec == "SYMMETRIC_DEFAULT", let current = currentMaterial {
            m["CurrentKeyMaterialId"] = .string(current.materialId)
        }
        return .object(m)
    }
}

/// What each key spec offers. Asymmetric and HMAC specs arrive with KMSCrypto.
public enum KeySpecInfo {
    public static func encryptionAlgorithms(_ keySpec: String) -> [String] {
        switch keySpec {
        case "SYMMETRIC_DEFAULT": return ["SYMMETRIC_DEFAULT"]
        case "RSA_2048", "RSA_3072", "RSA_4096": return ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256"]
        case "SM2": return ["SM2PKE"]
        default: return []
        }
    }
}
