/// DescribeKey's KeyMetadata for a key, with the fields AWS returns for its spec, usage and state.
extension KMSKey {
    public var metadataJSON: JSONValue {
        var m = JSONObject()
        m["AWSAccountId"] = .string(account)
        m["KeyId"] = .string(keyId)
        m["Arn"] = .string(arn)
        m["CreationDate"] = JSONValue(creationDate)
        m["Enabled"] = .bool(enabled)
        m["Description"] = .string(description)
        m["KeyUsage"] = .string(keyUsage.rawValue)
        m["KeyState"] = .string(keyState.rawValue)
        if let deletionDate { m["DeletionDate"] = JSONValue(deletionDate) }
        m["Origin"] = .string(origin)
        if let customKeyStoreId { m["CustomKeyStoreId"] = .string(customKeyStoreId) }
        m["KeyManager"] = .string(keyManager)
        if keySpec.isCustomerMasterKeySpec { m["CustomerMasterKeySpec"] = .string(keySpec.rawValue) }
        m["KeySpec"] = .string(keySpec.rawValue)
        algorithmLists(into: &m)
        m["MultiRegion"] = .bool(isMultiRegion)
        if let config = multiRegionConfigurationJSON { m["MultiRegionConfiguration"] = config }
        // A primary waiting for its replicas' deletion shows its waiting period, not yet a date.
        if keyState == .pendingReplicaDeletion, let days = pendingWindowInDays { m["PendingDeletionWindowInDays"] = JSONValue(days) }
        if let xksKeyId { m["XksKeyConfiguration"] = .object(JSONObject([("Id", .string(xksKeyId))])) }
        // The current imported material's expiry (ImportedKeyMaterial.swift); none before the first import.
        if origin == "EXTERNAL" {
            let records = importRecords
            if let version = records.currentVersion ?? materials.last?.version, let record = records.record(version: version) {
                m["ExpirationModel"] = .string(record.expirationModel)
                if let validTo = record.validTo { m["ValidTo"] = JSONValue(validTo) }
            }
        }
        if keySpec == .symmetricDefault, let current = currentMaterial {
            m["CurrentKeyMaterialId"] = .string(current.materialId)
        } else if keySpec == .symmetricDefault, let version = imports.currentVersion, let record = imports.record(version: version) {
            m["CurrentKeyMaterialId"] = .string(record.materialId)  // deleted or expired: still the current one
        }
        return .object(m)
    }

    /// The algorithm list that fits the key's usage, as DescribeKey and GetPublicKey return it.
    func algorithmLists(into m: inout JSONObject) {
        switch keyUsage {
        case .encryptDecrypt:
            m["EncryptionAlgorithms"] = .array(keySpec.encryptionAlgorithms(for: keyUsage).map { .string($0.rawValue) })
        case .signVerify:
            m["SigningAlgorithms"] = .array(keySpec.signingAlgorithms(for: keyUsage).map { .string($0.rawValue) })
        case .generateVerifyMac:
            m["MacAlgorithms"] = .array(keySpec.macAlgorithms.map { .string($0.rawValue) })
        case .keyAgreement:
            m["KeyAgreementAlgorithms"] = .array(keySpec.keyAgreementAlgorithms(for: keyUsage).map { .string($0.rawValue) })
        }
    }
}

extension KeySpec {
    /// The deprecated CustomerMasterKeySpec names only the specs that existed before KeySpec.
    var isCustomerMasterKeySpec: Bool {
        switch self {
        case .mlDSA44, .mlDSA65, .mlDSA87, .eccNISTEdwards25519: return false
        default: return true
        }
    }
}
