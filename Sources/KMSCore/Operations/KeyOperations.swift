/// CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey, UpdateKeyDescription.
extension KMSService {
    func createKey(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
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
        // EXTERNAL: symmetric encryption keys only so far (ImportKeyMaterial.swift).
        guard origin == "AWS_KMS" || (origin == "EXTERNAL" && keySpec == .symmetricDefault) else {
            throw KMSError(.unsupportedOperation, "Origin \(origin) is not supported by this server yet.")
        }
        if request.has("CustomKeyStoreId") || request.has("XksKeyId") {
            throw KMSError(.unsupportedOperation, "Custom key stores are not supported by this server.")
        }
        if request.bool("MultiRegion") == true {
            throw KMSError(.unsupportedOperation, "Multi-Region keys are not supported by this server yet.")
        }
        guard keySpec.validKeyUsages.contains(keyUsage) else {
            throw KMSError(.validation, "KeyUsage \(keyUsage.rawValue) is not compatible with KeySpec \(keySpec.rawValue)")
        }
        let policy: String
        if let given = request.string("Policy") {
            try KeyPolicy.validate(given, lockoutCheckFor: request.bool("BypassPolicyLockoutSafetyCheck") == true ? nil : caller)
            policy = given
        } else {
            policy = KeyPolicy.defaultPolicy(account: caller.account)
        }
        let tags = try TagRules.validated(request.object["Tags"], existing: [])
        try authorizer.authorize(action: "kms:CreateKey", caller: caller, key: nil)

        let now = clock.now()
        // An EXTERNAL key has no material until ImportKeyMaterial: it starts PendingImport.
        let imported = origin == "EXTERNAL"
        let materials = imported ? [] : [try KeyGeneration.material(for: keySpec, version: 1, createdAt: now)]
        let key = KMSKey(keyId: KeyIdentifier.newKeyId(), account: caller.account, region: caller.region,
                         creationDate: now, description: request.string("Description") ?? "",
                         keyUsage: keyUsage, keySpec: keySpec, origin: origin, keyManager: "CUSTOMER",
                         keyState: imported ? .pendingImport : .enabled, policy: policy, tags: tags, materials: materials)
        try registry.write { () throws(KMSError) in ((), [.putKey(key)]) }
        return JSONObject([("KeyMetadata", key.metadataJSON)])
    }

    func describeKey(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        let key = try authorizedKey(request, action: "kms:DescribeKey", caller: caller, allowAlias: true)
        return JSONObject([("KeyMetadata", key.metadataJSON)])
    }

    func listKeys(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try authorizer.authorize(action: "kms:ListKeys", caller: caller, key: nil)
        let keys = registry.keys(account: caller.account, region: caller.region).sorted { $0.keyId < $1.keyId }
        let page = try Page.of(keys, key: \.keyId, request: request)
        var out = JSONObject()
        out["Keys"] = .array(page.items.map { .object(JSONObject([("KeyId", .string($0.keyId)), ("KeyArn", .string($0.arn))])) })
        page.add(to: &out)
        return out
    }

    func setEnabled(_ enable: Bool, _ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try registry.write { () throws(KMSError) in
            var key = try authorizedKey(request, action: enable ? "kms:EnableKey" : "kms:DisableKey", caller: caller)
            try requireNotPendingDeletion(key)
            if key.keyState == .pendingImport { throw KMSError(.kmsInvalidState, "\(key.arn) is pending import.") }
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
            var key = try authorizedKey(request, action: "kms:UpdateKeyDescription", caller: caller)
            try requireNotPendingDeletion(key)
            key.description = description
            return ((), [.putKey(key)])
        }
        return JSONObject()
    }
}
