import Foundation

/// Keys in custom key stores: CreateKey's placement checks, the connection check every
/// cryptographic use makes, and the double encryption of EXTERNAL_KEY_STORE keys (KMS's own
/// per-key material first, then the external key through the XKS proxy).
extension KMSService {
    struct CustomKeyStorePlacement {
        let storeId: String
        let xksKeyId: String?
    }

    static let notConnectedMessage = "This KMS key is in a custom key store that is not connected to its external key store proxy. Connect the external key store and try the request again."

    /// CreateKey's CustomKeyStoreId, XksKeyId and Origin, checked as AWS checks them; nil for
    /// a key outside custom key stores. Calls the proxy's GetKeyMetadata for an external key.
    func customKeyStorePlacement(_ request: KMSRequest, _ caller: Caller, origin: String, keySpec: KeySpec,
                                 keyUsage: KeyUsage) throws(KMSError) -> CustomKeyStorePlacement? {
        let custom = origin == "EXTERNAL_KEY_STORE" || origin == "AWS_CLOUDHSM"
        guard custom || request.has("CustomKeyStoreId") || request.has("XksKeyId") else { return nil }
        guard custom else {
            throw KMSError(.validation, "CustomKeyStoreId and XksKeyId are valid only when Origin is AWS_CLOUDHSM or EXTERNAL_KEY_STORE.")
        }
        guard let id = request.string("CustomKeyStoreId") else {
            throw KMSError(.validation, "You must specify a CustomKeyStoreId when Origin is \(origin).")
        }
        let xksKeyId = request.string("XksKeyId")
        if origin == "EXTERNAL_KEY_STORE", xksKeyId == nil {
            throw KMSError(.validation, "You must specify an XksKeyId when Origin is EXTERNAL_KEY_STORE.")
        }
        if origin == "AWS_CLOUDHSM", xksKeyId != nil {
            throw KMSError(.validation, "XksKeyId is valid only when Origin is EXTERNAL_KEY_STORE.")
        }
        guard keySpec == .symmetricDefault, keyUsage == .encryptDecrypt else {
            throw KMSError(.unsupportedOperation, "KMS keys in custom key stores must be symmetric encryption keys (KeySpec SYMMETRIC_DEFAULT, KeyUsage ENCRYPT_DECRYPT).")
        }
        if request.bool("MultiRegion") == true {
            throw KMSError(.unsupportedOperation, "You cannot create a multi-Region key in a custom key store.")
        }
        customKeyStores.invalidate(id)
        guard let store = try customKeyStores.store(account: caller.account, region: caller.region, id: id) else {
            throw Self.customKeyStoreNotFound
        }
        guard (store.type == .external) == (origin == "EXTERNAL_KEY_STORE") else {
            throw KMSError(.validation, "Origin \(origin) does not match the type of custom key store \(id) (\(store.type.rawValue)).")
        }
        guard store.connectionState == .connected else {
            throw KMSError(.customKeyStoreInvalidState, "The custom key store \(id) is not connected (ConnectionState \(store.connectionState.rawValue)). Connect the custom key store and try the request again.")
        }
        guard let xksKeyId else { return CustomKeyStorePlacement(storeId: id, xksKeyId: nil) }
        if try keysIn(store).contains(where: { $0.xksKeyId == xksKeyId }) {
            throw KMSError(.xksKeyAlreadyInUse, "The request was rejected because the (XksKeyId) is already associated with another KMS key in this external key store. Each KMS key in an external key store must be associated with a different external key.")
        }
        let metadata = XKSRequestMetadata(awsPrincipalArn: caller.principalArn, kmsKeyArn: nil, kmsOperation: "CreateKey",
                                          kmsRequestId: requestId(request))
        do { try customKeyStores.client.requireUsableKey(store, xksKeyId: xksKeyId, metadata: metadata) } catch {
            throw error.createKeyError
        }
        return CustomKeyStorePlacement(storeId: id, xksKeyId: xksKeyId)
    }

    /// A key whose custom key store is not CONNECTED is Unavailable: its store, or the error.
    /// Needs a store read on a miss, so it moves an event-loop request to the blocking pool.
    func connectedStore(of key: KMSKey) throws(KMSError) -> CustomKeyStore? {
        guard let id = key.customKeyStoreId else { return nil }
        guard registry.mayBlock() else { throw KMSError.storeReadNeeded }
        let found = try customKeyStores.store(account: key.account, region: key.region, id: id)
        guard let store = found, store.connectionState == .connected else {
            if key.origin == Self.cloudHsmOrigin {
                // Disconnected here or on another node: this process logs out of the token too.
                customKeyStores.closeCloudHsm(id)
                throw KMSError(.kmsInvalidState, "\(key.arn) is unavailable. " + Self.cloudHsmNotConnectedMessage(found?.connectionState))
            }
            throw KMSError(.kmsInvalidState, "\(key.arn) is unavailable. " + Self.notConnectedMessage)
        }
        return store
    }

    /// DescribeKey's KeyState: Unavailable while the key's store is not connected (unless pending deletion).
    /// Reads the store on a miss: on an event loop it moves the request to the blocking pool.
    func keyStateShown(_ key: KMSKey) throws(KMSError) -> KeyState? {
        guard key.customKeyStoreId != nil, key.keyState != .pendingDeletion else { return nil }
        guard registry.mayBlock() else { throw KMSError.storeReadNeeded }
        guard let store = try? customKeyStores.store(account: key.account, region: key.region, id: key.customKeyStoreId ?? ""),
              store.connectionState == .connected else { return .unavailable }
        return nil
    }

    func xksMetadata(_ request: KMSRequest?, key: KMSKey) -> XKSRequestMetadata {
        let context = request?.context
        return XKSRequestMetadata(awsPrincipalArn: context?.caller.principalArn ?? "AWS Internal", kmsKeyArn: key.arn,
                                  kmsOperation: context?.operation ?? "Encrypt",
                                  kmsRequestId: context?.requestId ?? UUID().uuidString.lowercased())
    }

    /// KMS's own layer (a v2 blob under the key's material), then the proxy's Encrypt over it.
    func encryptExternal(_ plaintext: [UInt8], key: KMSKey, context: [String: String]?,
                         request: KMSRequest?) throws(KMSError) -> ([UInt8], KeyMaterial) {
        guard let store = try connectedStore(of: key), let xksKeyId = key.xksKeyId else { throw KMSError.internalError }
        guard let material = key.currentMaterial else { throw KMSError(.kmsInvalidState, "\(key.arn) has no key material.") }
        let inner = try SymmetricCipher.encrypt(plaintext: plaintext, account: key.account, keyId: key.keyId,
                                                material: material, context: context, format: CiphertextBlob.formatVersion)
        let header = CiphertextBlob.header(format: ExternalKeyStoreCiphertext.format, account: key.account, keyId: key.keyId,
                                           materialVersion: material.version)
        let parts: XKSCiphertextParts
        do {
            parts = try customKeyStores.client.encrypt(store, xksKeyId: xksKeyId, plaintext: inner,
                                                       aad: ExternalKeyStoreCiphertext.aad(header: header, context: context),
                                                       metadata: xksMetadata(request, key: key))
        } catch {
            throw error.cryptoError
        }
        let blob = ExternalKeyStoreCiphertext(account: key.account, keyId: key.keyId, materialVersion: material.version, parts: parts)
        return (blob.bytes, material)
    }

    /// The proxy's Decrypt first (the outer layer), then KMS's own layer.
    func decryptExternal(_ blob: ExternalKeyStoreCiphertext, key: KMSKey, context: [String: String]?,
                         request: KMSRequest?) throws(KMSError) -> ([UInt8], KeyMaterial) {
        guard let xksKeyId = key.xksKeyId else { throw KMSError.invalidCiphertext }
        guard let store = try connectedStore(of: key) else { throw KMSError.internalError }
        let inner: [UInt8]
        do {
            inner = try customKeyStores.client.decrypt(store, xksKeyId: xksKeyId, parts: blob.parts,
                                                       aad: ExternalKeyStoreCiphertext.aad(header: blob.header, context: context),
                                                       metadata: xksMetadata(request, key: key))
        } catch {
            throw error.cryptoError
        }
        guard let parsed = CiphertextBlob.parse(inner), parsed.keyId == key.keyId, parsed.account == key.account,
              parsed.materialVersion == blob.materialVersion, let material = key.material(version: parsed.materialVersion) else {
            throw KMSError(.kmsInvalidState, "The ciphertext that the external key store proxy submitted for decryption, or the encryption context, is corrupted, missing, or otherwise invalid.")
        }
        return (try SymmetricCipher.decrypt(blob: parsed, material: material, context: context), material)
    }

    /// decryptWithKey for a format-3 blob: the same order of checks (a KeyId given is
    /// resolved and authorized first), then both layers.
    func decryptExternalKeyStoreBlob(_ request: KMSRequest, _ blob: ExternalKeyStoreCiphertext, expected: KMSKey?,
                                     context: [String: String]?, algorithm: EncryptionAlgorithm, action: String?,
                                     operation: String, caller: Caller, dryRun: Bool) throws(KMSError) -> (KMSKey, [UInt8], KeyMaterial) {
        if let expected, expected.keyId != blob.keyId || expected.account != blob.account {
            throw KMSError(.incorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
        }
        let found: KMSKey?
        if let expected { found = expected } else { found = try registry.key(account: blob.account, region: caller.region, keyId: blob.keyId) }
        guard let key = found, key.xksKeyId != nil else { throw KMSError.invalidCiphertext }
        if expected == nil { try authorize(request, action, on: .key(key)) }
        if action == "kms:ReEncryptFrom" { request.context?.noteSourceKey(key.arn) }
        try requireUsable(key)
        try checkEncryptionUse(key, algorithm: algorithm, operation: operation)
        if dryRun { throw KMSError.dryRun }
        let (plaintext, material) = try decryptExternal(blob, key: key, context: context, request: request)
        return (key, plaintext, material)
    }

    /// GenerateRandom with a CustomKeyStoreId: only a connected AWS_CLOUDHSM store generates,
    /// and its token draws the bytes (AWS generates them in the cluster); AWS refuses external
    /// key stores. Returns the session with the store's token.
    func randomSourceInCustomKeyStore(_ id: String, caller: Caller) throws(KMSError) -> any CloudHsmSession {
        guard var store = try customKeyStores.store(account: caller.account, region: caller.region, id: id) else {
            throw Self.customKeyStoreNotFound
        }
        guard store.type == .cloudHSM else {
            throw KMSError(.unsupportedOperation, "GenerateRandom is not supported in an external key store (\(id)).")
        }
        // Before a login (first use here), read the row itself, as for a key's session: a
        // CONNECTED seen in the cache may be a Disconnect's predecessor.
        if store.connectionState == .connected, !customKeyStores.hasCloudHsmSession(store) {
            customKeyStores.invalidate(id)
            guard let fresh = try customKeyStores.store(account: caller.account, region: caller.region, id: id) else {
                throw Self.customKeyStoreNotFound
            }
            store = fresh
        }
        guard store.connectionState == .connected else {
            throw KMSError(.customKeyStoreInvalidState, "The custom key store \(id) is not connected. Connect the custom key store and try the request again.")
        }
        do { return try customKeyStores.cloudHsmSession(store) } catch {
            throw KMSError(.customKeyStoreInvalidState, "The AWS CloudHSM cluster of custom key store \(id) cannot be reached (\(error.connectionErrorCode)).")
        }
    }
}
