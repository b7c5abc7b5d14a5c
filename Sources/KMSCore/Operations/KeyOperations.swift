/// CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, UpdateKeyDescription.
extension KMSService {
    func createKey(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        // Authorized first, on the request as given (kms:KeySpec, aws:RequestTag... are read
        // from it), so a refused caller learns nothing from validation.
        try authorize(request, on: .account)
        if request.has("KeySpec"), request.has("CustomerMasterKeySpec") {
            throw KMSError(.validation, "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.")
        }
        let keySpec = KeySpec(rawValue: request.string("KeySpec") ?? request.string("CustomerMasterKeySpec") ?? "") ?? .symmetricDefault
        // KeyUsage defaults to ENCRYPT_DECRYPT only for symmetric encryption keys; AWS requires it otherwise.
        guard request.has("KeyUsage") || keySpec == .symmetricDefault else {
            throw KMSError(.validation, "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
        }
        let keyUsage = KeyUsage(rawValue: request.string("KeyUsage") ?? "") ?? .encryptDecrypt
        let origin = request.string("Origin") ?? "AWS_KMS"
        // EXTERNAL: symmetric, HMAC, RSA and ECC keys take imported material (ImportKeyMaterial.swift).
        // EXTERNAL_KEY_STORE and AWS_CLOUDHSM: keys in custom key stores (ExternalKeyStoreKeys.swift).
        guard origin == "AWS_KMS" || (origin == "EXTERNAL" && keySpec.acceptsImportedMaterial)
                || origin == "EXTERNAL_KEY_STORE" || origin == "AWS_CLOUDHSM" else {
            throw KMSError(.unsupportedOperation, "Origin \(origin) is not supported by this server yet.")
        }
        // AWS: a multi-Region key cannot be created in a custom key store.
        if request.bool("MultiRegion") == true,
           request.has("CustomKeyStoreId") || origin == "EXTERNAL_KEY_STORE" || origin == "AWS_CLOUDHSM" {
            throw KMSError(.unsupportedOperation, "You cannot create a multi-Region key in a custom key store.")
        }
        guard keySpec.validKeyUsages.contains(keyUsage) else {
            throw KMSError(.validation, "KeyUsage \(keyUsage.rawValue) is not compatible with KeySpec \(keySpec.rawValue)")
        }
        let placement = try customKeyStorePlacement(request, caller, origin: origin, keySpec: keySpec, keyUsage: keyUsage)
        let now = clock.now()
        // Without a Policy, the default key policy exactly as AWS writes it.
        let multiRegionKey = request.bool("MultiRegion") == true
        var key = KMSKey(keyId: multiRegionKey ? KeyIdentifier.newMultiRegionKeyId() : KeyIdentifier.newKeyId(), account: caller.account, region: caller.region,
                         creationDate: now, description: request.string("Description") ?? "",
                         keyUsage: keyUsage, keySpec: keySpec, origin: origin, keyManager: "CUSTOMER",
                         keyState: origin == "EXTERNAL" ? .pendingImport : .enabled,
                         policy: KeyPolicy.defaultPolicy(account: caller.account), tags: [], materials: [])
        // A multi-Region primary, with no replicas yet (ReplicateKey adds them).
        if multiRegionKey { key.multiRegion = MultiRegionConfiguration(keyType: .primary, primaryRegion: caller.region) }
        key.customKeyStoreId = placement?.storeId
        key.xksKeyId = placement?.xksKeyId
        if let given = request.string("Policy") {
            let compiled = try validateKeyPolicy(given, request: request, key: key)
            key.policy = given
            keyPolicies.store(compiled, text: given, keyArn: key.arn)
        }
        key.tags = try TagRules.validated(request.object["Tags"], existing: [])
        // Tagging at creation also needs kms:TagResource (an IAM policy permission).
        if !key.tags.isEmpty { try authorize(request, "kms:TagResource", on: .account) }
        // An EXTERNAL key has no material until ImportKeyMaterial: it starts PendingImport.
        // An AWS_CLOUDHSM key's material is generated in its cluster's token instead (CloudHsmKeys.swift).
        if origin != "EXTERNAL" && origin != Self.cloudHsmOrigin {
            key.materials = [try KeyGeneration.material(for: keySpec, version: 1, createdAt: now)]
        }
        if origin == Self.cloudHsmOrigin { try generateCloudHsmKey(key) }
        do { try registry.write { () throws(KMSError) in ((), [.putKey(key)]) } } catch {
            if origin == Self.cloudHsmOrigin { discardCloudHsmKeys([key]) }
            throw error
        }
        return JSONObject([("KeyMetadata", metadataJSON(key))])
    }

    func describeKey(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        var key = try authorizedKey(request, caller: caller, allowAlias: true)
        if let shown = try keyStateShown(key) { key.keyState = shown }
        return JSONObject([("KeyMetadata", metadataJSON(key))])
    }

    func listKeys(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try authorize(request, on: .account)
        // One page (plus one, to know whether more follow) from the store, not the whole account.
        let limit = request.int("Limit") ?? 100
        let after = try Page<KMSKey>.markerValue(request)
        let keys = try registry.keys(account: caller.account, region: caller.region, after: after, limit: limit + 1)
        let page = try Page.of(keys, key: \.keyId, request: request)
        var out = JSONObject()
        out["Keys"] = .array(page.items.map { .object(JSONObject([("KeyId", .string($0.keyId)), ("KeyArn", .string($0.arn))])) })
        page.add(to: &out)
        return out
    }

    func setEnabled(_ enable: Bool, _ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try registry.write { () throws(KMSError) in
            var key = try authorizedKey(request, caller: caller)
            try requireNotPendingDeletion(key)
            if key.keyState == .pendingImport { throw KMSError(.kmsInvalidState, "\(key.arn) is pending import.") }
            // A multi-Region key being created or changing primary waits for that to finish.
            try requireNotInTransition(key)
            let target: KeyState = enable ? .enabled : .disabled
            guard key.keyState != target else { return ((), []) }
            key.keyState = target
            return ((), [.putKey(key)])
        }
        return JSONObject()
    }

    func updateKeyDescription(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let description = try request.required("Description")
        try registry.write { () throws(KMSError) in
            var key = try authorizedKey(request, caller: caller)
            try requireNotPendingDeletion(key)
            key.description = description
            return ((), [.putKey(key)])
        }
        return JSONObject()
    }
}
