import Crypto

/// The KMS domain service: one entry per operation in one dispatch table. The server
/// decodes and authenticates, then calls `handle`, which validates against the model,
/// resolves and authorizes inside each operation, and executes.
public final class KMSService: Sendable {
    public let registry: KeyRegistry
    public let clock: any KMSClock
    public let authorizer: any Authorizer
    /// Grants on keys, for authorization (CreateGrant and friends store them).
    public let grants: any GrantLookup
    /// The symmetric ciphertext format written: 2 (per-message keys). 1 exists only so a
    /// benchmark can compare the two in one run (`kms server --ciphertext-format 1`).
    public let ciphertextFormat: UInt8
    /// Compiled key policies, kept per key (parsed once, never per request).
    public let keyPolicies = KeyPolicyCache()
    /// Which principals exist, for key policy validation (the IAM subsystem supplies one).
    public let principalDirectory: any PrincipalDirectory
    /// On for a cluster node: management operations read their key from the store
    /// (FreshManagementReads.swift), so a change made through another node is seen at once.
    public let freshManagementReads = ReadThroughMode()
    /// Seals GetParametersForImport's tokens (ImportKeyMaterial.swift).
    let importTokens: ImportTokenSealer
    /// Each key's last cryptographic use, for GetKeyLastUsage (the audit trail feeds it).
    public let keyUsage = KeyUsageTracker()
    /// On-demand rotations, reported for the audit trail's RotateKey service event.
    public let rotationEvents = KeyRotationEvents()
    /// Served regions and the routes of multi-Region changes (MultiRegionReplication.swift).
    public let multiRegion = MultiRegionRouter()
    /// Custom key stores and the XKS proxy client (CustomKeyStores/).
    public let customKeyStores: CustomKeyStoreDirectory

    public init(store: any KeyStore, clock: any KMSClock = SystemClock(), authorizer: any Authorizer = PolicyAuthorizer(),
                ciphertextFormat: UInt8 = CiphertextBlob.formatVersion, grants: any GrantLookup = NoGrants(),
                principalDirectory: any PrincipalDirectory = AnyWellFormedPrincipal(),
                cacheCapacity: Int = KeyRegistry.defaultCapacity, mayBlock: @escaping @Sendable () -> Bool = { true },
                observeStore: (@Sendable (KeyRegistry.StoreCall, Duration) -> Void)? = nil,
                importTokenKey: SymmetricKey? = nil) throws {
        self.registry = KeyRegistry(store: store, capacity: cacheCapacity, mayBlock: mayBlock, observeStore: observeStore)
        self.clock = clock
        self.authorizer = authorizer
        self.grants = grants
        self.principalDirectory = principalDirectory
        // The server passes a key derived from the root key: tokens open after a restart and on every node.
        self.importTokens = ImportTokenSealer(key: importTokenKey)
        self.customKeyStores = CustomKeyStoreDirectory(store: store)
        self.ciphertextFormat = ciphertextFormat == CiphertextBlob.formatVersion1 ? ciphertextFormat : CiphertextBlob.formatVersion
    }

    /// Handlers throw `KMSError`; the untyped signature only keeps the table's closures short.
    public typealias Handler = @Sendable (KMSService, KMSRequest, Caller) throws -> JSONObject

    /// An operation's entry: whether it blocks (writes to disk or generates key pairs; the
    /// server runs those off the event loop) and its implementation.
    public struct Operation: Sendable {
        public let blocking: Bool
        public let run: Handler
    }

    public static let operations: [String: Operation] = {
        var table: [String: Operation] = [:]
        func add(_ name: String, blocking: Bool, _ run: @escaping Handler) { table[name] = Operation(blocking: blocking, run: run) }
        add("CreateKey", blocking: true) { try $0.createKey($1, $2) }
        add("DescribeKey", blocking: false) { try $0.describeKey($1, $2) }
        add("ListKeys", blocking: false) { try $0.listKeys($1, $2) }
        add("EnableKey", blocking: true) { try $0.setEnabled(true, $1, $2) }
        add("DisableKey", blocking: true) { try $0.setEnabled(false, $1, $2) }
        add("UpdateKeyDescription", blocking: true) { try $0.updateKeyDescription($1, $2) }
        add("ScheduleKeyDeletion", blocking: true) { try $0.scheduleKeyDeletion($1, $2) }
        add("CancelKeyDeletion", blocking: true) { try $0.cancelKeyDeletion($1, $2) }
        add("CreateAlias", blocking: true) { try $0.createAlias($1, $2) }
        add("UpdateAlias", blocking: true) { try $0.updateAlias($1, $2) }
        add("DeleteAlias", blocking: true) { try $0.deleteAlias($1, $2) }
        add("ListAliases", blocking: false) { try $0.listAliases($1, $2) }
        add("TagResource", blocking: true) { try $0.tagResource($1, $2) }
        add("UntagResource", blocking: true) { try $0.untagResource($1, $2) }
        add("ListResourceTags", blocking: false) { try $0.listResourceTags($1, $2) }
        add("GetKeyPolicy", blocking: false) { try $0.getKeyPolicy($1, $2) }
        add("PutKeyPolicy", blocking: true) { try $0.putKeyPolicy($1, $2) }
        add("ListKeyPolicies", blocking: false) { try $0.listKeyPolicies($1, $2) }
        add("Encrypt", blocking: false) { try $0.encrypt($1, $2) }
        add("Decrypt", blocking: false) { try $0.decrypt($1, $2) }
        add("ReEncrypt", blocking: false) { try $0.reEncrypt($1, $2) }
        add("GenerateDataKey", blocking: false) { try $0.generateDataKey($1, $2, withPlaintext: true) }
        add("GenerateDataKeyWithoutPlaintext", blocking: false) { try $0.generateDataKey($1, $2, withPlaintext: false) }
        add("GenerateRandom", blocking: false) { try $0.generateRandom($1, $2) }
        // Key pair generation takes up to seconds (RSA 4096): off the event loop like writes.
        add("GenerateDataKeyPair", blocking: true) { try $0.generateDataKeyPair($1, $2, withPlaintext: true) }
        add("GenerateDataKeyPairWithoutPlaintext", blocking: true) { try $0.generateDataKeyPair($1, $2, withPlaintext: false) }
        add("Sign", blocking: false) { try $0.sign($1, $2) }
        add("Verify", blocking: false) { try $0.verify($1, $2) }
        add("GetPublicKey", blocking: false) { try $0.getPublicKey($1, $2) }
        add("GenerateMac", blocking: false) { try $0.generateMac($1, $2) }
        add("VerifyMac", blocking: false) { try $0.verifyMac($1, $2) }
        add("DeriveSharedSecret", blocking: false) { try $0.deriveSharedSecret($1, $2) }
        // Grants read the store (other nodes' grants, quotas): off the event loop.
        add("CreateGrant", blocking: true) { try $0.createGrant($1, $2) }
        add("ListGrants", blocking: true) { try $0.listGrants($1, $2) }
        add("ListRetirableGrants", blocking: true) { try $0.listRetirableGrants($1, $2) }
        add("RetireGrant", blocking: true) { try $0.retireGrant($1, $2) }
        add("RevokeGrant", blocking: true) { try $0.revokeGrant($1, $2) }
        add("EnableKeyRotation", blocking: true) { try $0.enableKeyRotation($1, $2) }
        add("DisableKeyRotation", blocking: true) { try $0.disableKeyRotation($1, $2) }
        add("GetKeyRotationStatus", blocking: false) { try $0.getKeyRotationStatus($1, $2) }
        add("RotateKeyOnDemand", blocking: true) { try $0.rotateKeyOnDemand($1, $2) }
        add("ListKeyRotations", blocking: false) { try $0.listKeyRotations($1, $2) }
        // RSA wrapping key generation takes up to seconds (RSA 4096).
        add("GetParametersForImport", blocking: true) { try $0.getParametersForImport($1, $2) }
        add("ImportKeyMaterial", blocking: true) { try $0.importKeyMaterial($1, $2) }
        add("DeleteImportedKeyMaterial", blocking: true) { try $0.deleteImportedKeyMaterial($1, $2) }
        add("GetKeyLastUsage", blocking: false) { try $0.getKeyLastUsage($1, $2) }
        // Multi-Region keys (issue 13).
        add("ReplicateKey", blocking: true) { try $0.replicateKey($1, $2) }
        add("UpdatePrimaryRegion", blocking: true) { try $0.updatePrimaryRegion($1, $2) }
        // Custom key stores (issue 14): they read the store and call the XKS proxy.
        add("CreateCustomKeyStore", blocking: true) { try $0.createCustomKeyStore($1, $2) }
        add("DescribeCustomKeyStores", blocking: true) { try $0.describeCustomKeyStores($1, $2) }
        add("UpdateCustomKeyStore", blocking: true) { try $0.updateCustomKeyStore($1, $2) }
        add("ConnectCustomKeyStore", blocking: true) { try $0.connectCustomKeyStore($1, $2) }
        add("DisconnectCustomKeyStore", blocking: true) { try $0.disconnectCustomKeyStore($1, $2) }
        add("DeleteCustomKeyStore", blocking: true) { try $0.deleteCustomKeyStore($1, $2) }
        return table
    }()

    /// Validates `body` against the model and runs the operation.
    public func handle(operation: String, body: JSONValue, caller: Caller, requestId: String? = nil) throws(KMSError) -> JSONObject {
        guard let spec = OperationSpec.named(operation) else { throw KMSError.unknownOperation }
        return try handle(spec, body: body, caller: caller, requestId: requestId)
    }

    /// Same, for an operation the caller has already looked up (the server does, once).
    public func handle(_ spec: OperationSpec, body: JSONValue, caller: Caller, requestId: String? = nil) throws(KMSError) -> JSONObject {
        var request = try RequestValidator.validate(spec, body: body)
        guard let entry = spec.entry else {
            throw KMSError(.unsupportedOperation, "\(spec.name) is not supported by this server yet.")
        }
        // Authorization: one context per call; an operation that declares no action is refused.
        guard let actions = OperationActions.table[spec.name], !actions.isEmpty else { throw KMSError.internalError }
        let context = RequestContext(requestId: requestId, caller: caller, operation: spec.name, actions: actions,
                                     request: request, time: clock.now())
        request.context = context
        do {
            let out = try entry.run(self, request, caller)
            // No answer leaves unless every declared action passed the evaluator (fail closed).
            guard context.authorizedAllDeclaredActions() else { throw KMSError.internalError }
            return out
        } catch let error as KMSError {
            throw error
        } catch {
            throw KMSError.internalError
        }
    }
}
