import Crypto

/// Keys in AWS_CLOUDHSM key stores: the key material is a non-extractable AES-256 object in
/// the cluster's token, labelled with the KMS key ID, and Encrypt/Decrypt (and everything
/// built on them) run AES-GCM in the token. The key row holds no material at all.
extension KMSService {
    static let cloudHsmOrigin = "AWS_CLOUDHSM"

    static func cloudHsmNotConnectedMessage(_ state: CustomKeyStore.ConnectionState?) -> String {
        "This KMS key is in an AWS CloudHSM key store that is not connected to its AWS CloudHSM cluster (ConnectionState \(state?.rawValue ?? "DISCONNECTED")). Connect the custom key store (ConnectCustomKeyStore) and try the request again."
    }

    /// CreateKey: generates the key's token object before the key row is written, so a key
    /// that exists always has its material in the token.
    func generateCloudHsmKey(_ key: KMSKey) throws(KMSError) {
        let (_, session) = try cloudHsmSession(of: key)
        do { try session.generateKey(label: key.keyId) } catch {
            throw KMSError(.kmsInvalidState, "The AWS CloudHSM cluster of custom key store \(key.customKeyStoreId ?? "") could not generate the key material: \(error.description)")
        }
    }

    /// Best effort, as AWS: the key row is gone; its material is deleted from the token when
    /// the store is connected, and otherwise stays there (orphaned key material).
    func discardCloudHsmKeys(_ keys: [KMSKey]) {
        for key in keys where key.origin == Self.cloudHsmOrigin {
            guard let id = key.customKeyStoreId,
                  let store = try? customKeyStores.store(account: key.account, region: key.region, id: id),
                  store.connectionState == .connected,
                  let session = try? customKeyStores.cloudHsmSession(store) else { continue }
            try? session.destroyKey(label: key.keyId)
        }
    }

    /// The key's store (which must be CONNECTED) and this process's session with its token.
    func cloudHsmSession(of key: KMSKey) throws(KMSError) -> (CustomKeyStore, any CloudHsmSession) {
        guard var store = try connectedStore(of: key) else { throw KMSError.internalError }
        // Before a login (first use here), read the row itself: a CONNECTED seen in the cache
        // may be a Disconnect's predecessor, and logging in again would undo that Disconnect.
        if !customKeyStores.hasCloudHsmSession(store) {
            customKeyStores.invalidate(store.id)
            guard let fresh = try connectedStore(of: key) else { throw KMSError.internalError }
            store = fresh
        }
        do { return (store, try customKeyStores.cloudHsmSession(store)) } catch {
            // The reason stays in the connection error code: module paths are the operator's business.
            throw KMSError(.kmsInvalidState, "\(key.arn) is unavailable. The AWS CloudHSM cluster of its custom key store cannot be reached (\(error.connectionErrorCode)).")
        }
    }

    /// The stand-in KeyMaterial of a token key: an identifier for KeyMaterialId, no value
    /// (its secret is empty, so no software cipher can be built from it).
    func cloudHsmMaterial(_ key: KMSKey) -> KeyMaterial {
        let digest = SHA256.hash(data: Array("AWS_CLOUDHSM\u{0}\(key.arn)".utf8))
        return KeyMaterial(version: CloudHsmCiphertext.materialVersion, secret: [],
                           materialId: Hex.lower(digest), createdAt: key.creationDate)
    }

    /// AES-GCM in the token; the blob is format 4 (CloudHsmCiphertext).
    func encryptInCloudHsm(_ plaintext: [UInt8], key: KMSKey, context: [String: String]?) throws(KMSError) -> ([UInt8], KeyMaterial) {
        let (_, session) = try cloudHsmSession(of: key)
        let header = CloudHsmCiphertext.header(account: key.account, keyId: key.keyId)
        let sealed: [UInt8]
        do { sealed = try session.seal(label: key.keyId, plaintext: plaintext, aad: CloudHsmCiphertext.aad(header: header, context: context)) } catch {
            throw Self.cloudHsmFailure(key, error)
        }
        return (header + sealed, cloudHsmMaterial(key))
    }

    /// AWS: in a custom key store, KMSInvalidStateException stands for any failure of the
    /// cluster to do the cryptographic operation.
    static func cloudHsmFailure(_ key: KMSKey, _ error: CloudHsmError) -> KMSError {
        switch error.kind {
        case .invalidCiphertext: return KMSError.invalidCiphertext
        case .keyNotFound:
            return KMSError(.kmsInvalidState, "The key material for \(key.arn) cannot be found in the AWS CloudHSM cluster of its custom key store.")
        default:
            return KMSError(.kmsInvalidState, "The AWS CloudHSM cluster of the custom key store that holds \(key.arn) could not complete the request: \(error.description)")
        }
    }

    /// decryptWithKey for a format-4 blob: the same order of checks (a KeyId given is
    /// resolved and authorized first), then AES-GCM in the token.
    func decryptCloudHsmBlob(_ request: KMSRequest, _ blob: CloudHsmCiphertext, expected: KMSKey?, context: [String: String]?,
                             algorithm: EncryptionAlgorithm, action: String?, operation: String, caller: Caller,
                             dryRun: Bool) throws(KMSError) -> (KMSKey, [UInt8], KeyMaterial) {
        if let expected, expected.keyId != blob.keyId || expected.account != blob.account {
            throw KMSError(.incorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
        }
        let found: KMSKey?
        if let expected { found = expected } else { found = try registry.key(account: blob.account, region: caller.region, keyId: blob.keyId) }
        guard let key = found, key.origin == Self.cloudHsmOrigin else { throw KMSError.invalidCiphertext }
        if expected == nil { try authorize(request, action, on: .key(key)) }
        if action == "kms:ReEncryptFrom" { request.context?.noteSourceKey(key.arn) }
        try requireUsable(key)
        try checkEncryptionUse(key, algorithm: algorithm, operation: operation)
        if dryRun { throw KMSError.dryRun }
        let (_, session) = try cloudHsmSession(of: key)
        do {
            let plaintext = try session.open(label: key.keyId, sealed: blob.sealed, aad: CloudHsmCiphertext.aad(header: blob.header, context: context))
            return (key, plaintext, cloudHsmMaterial(key))
        } catch {
            throw Self.cloudHsmFailure(key, error)
        }
    }

    /// DescribeKey's CloudHsmClusterId: the cluster of the key's store (nil when the store is gone).
    func cloudHsmClusterId(of key: KMSKey) -> String? {
        guard key.origin == Self.cloudHsmOrigin, let id = key.customKeyStoreId else { return nil }
        return (try? customKeyStores.store(account: key.account, region: key.region, id: id))?.cloudHsmClusterId
    }

    /// KeyMetadata with CloudHsmClusterId for a key in an AWS_CLOUDHSM key store, as AWS shows it.
    func metadataJSON(_ key: KMSKey) -> JSONValue {
        guard let cluster = cloudHsmClusterId(of: key), case .object(var m) = key.metadataJSON else { return key.metadataJSON }
        m["CloudHsmClusterId"] = .string(cluster)
        return .object(m)
    }
}
