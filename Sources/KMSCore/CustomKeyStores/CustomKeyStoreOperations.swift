import Foundation
import X509

/// CreateCustomKeyStore, DescribeCustomKeyStores, UpdateCustomKeyStore, ConnectCustomKeyStore,
/// DisconnectCustomKeyStore, DeleteCustomKeyStore (KMS API Reference). All are authorized on
/// the account (IAM policy only), as AWS does. Connecting an external key store checks the
/// proxy's health now, so the call returns with the state settled (CONNECTED or FAILED)
/// instead of AWS's CONNECTING for a while; what a caller then sees is the same.
extension KMSService {
    /// AWS's quota: custom key stores per account and Region.
    static let customKeyStoreLimit = 10

    func requestId(_ request: KMSRequest) -> String { request.context?.requestId ?? UUID().uuidString.lowercased() }

    func customKeyStore(_ request: KMSRequest, _ caller: Caller, fresh: Bool = true) throws(KMSError) -> CustomKeyStore {
        let id = try request.required("CustomKeyStoreId")
        if fresh { customKeyStores.invalidate(id) }
        guard let store = try customKeyStores.store(account: caller.account, region: caller.region, id: id) else {
            throw Self.customKeyStoreNotFound
        }
        return store
    }

    static let customKeyStoreNotFound = KMSError(.customKeyStoreNotFound,
        "The request was rejected because AWS KMS cannot find a custom key store with the specified key store name or ID.")

    func allCustomKeyStores(_ caller: Caller) throws(KMSError) -> [CustomKeyStore] {
        do { return try customKeyStores.storage.customKeyStores(account: caller.account, region: caller.region) } catch {
            throw KMSError.storeUnavailable
        }
    }

    /// Writes `store`; a conflict on a new store's name is CustomKeyStoreNameInUseException.
    func save(_ store: CustomKeyStore) throws(KMSError) {
        defer { customKeyStores.invalidate(store.id) }
        do { try customKeyStores.storage.putCustomKeyStore(store) } catch is StoreConflict {
            let others = (try? customKeyStores.storage.customKeyStores(account: store.account, region: store.region)) ?? []
            if others.contains(where: { $0.id != store.id && $0.name == store.name }) {
                throw Self.nameInUse
            }
            throw KMSError.conflict
        } catch { throw KMSError.storeUnavailable }
    }

    /// A name is stored in a column of its own; PostgreSQL text cannot hold NUL, so neither
    /// backend takes it (the same name must work on both).
    static func requireStorableName(_ name: String) throws(KMSError) {
        if name.utf8.contains(0) {
            throw KMSError(.validation, "1 validation error detected: Value at 'customKeyStoreName' failed to satisfy constraint: Member must not contain the NUL character")
        }
    }

    static let nameInUse = KMSError(.customKeyStoreNameInUse,
        "The request was rejected because the specified custom key store name is already assigned to another custom key store in the account. Try again with a custom key store name that is unique in the account.")

    // MARK: CreateCustomKeyStore

    func createCustomKeyStore(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try authorize(request, on: .account)
        let name = try request.required("CustomKeyStoreName")
        try Self.requireStorableName(name)
        let type = CustomKeyStore.StoreType(rawValue: request.string("CustomKeyStoreType") ?? "AWS_CLOUDHSM") ?? .cloudHSM
        let existing = try allCustomKeyStores(caller)
        if existing.contains(where: { $0.name == name }) { throw Self.nameInUse }
        guard existing.count < Self.customKeyStoreLimit else {
            throw KMSError(.limitExceeded, "The request was rejected because you have reached the maximum number of custom key stores (\(Self.customKeyStoreLimit)) in this account and Region.")
        }
        var store: CustomKeyStore
        let id = CustomKeyStore.newId()
        switch type {
        case .cloudHSM:
            try refuse(request, Self.xksMembers, for: type)
            guard let cluster = request.string("CloudHsmClusterId"), let anchor = request.string("TrustAnchorCertificate"),
                  let password = request.string("KeyStorePassword") else {
                throw KMSError(.validation, "CloudHsmClusterId, TrustAnchorCertificate and KeyStorePassword are required for a custom key store of type AWS_CLOUDHSM.")
            }
            try checkCluster(cluster, anchor: anchor)
            if existing.contains(where: { $0.cloudHsmClusterId == cluster }) {
                throw KMSError(.cloudHsmClusterInUse, "The request was rejected because the specified AWS CloudHSM cluster is already associated with a custom key store or it shares a backup history with a cluster that is associated with a custom key store.")
            }
            store = CustomKeyStore(id: id, account: caller.account, region: caller.region, name: name, type: type,
                                   creationDate: clock.now(), cloudHsmClusterId: cluster, trustAnchorCertificate: anchor, secret: password)
        case .external:
            try refuse(request, Self.cloudHSMMembers, for: type)
            guard let endpoint = request.string("XksProxyUriEndpoint"), let path = request.string("XksProxyUriPath"),
                  let connectivity = request.string("XksProxyConnectivity"),
                  let credential = request.object["XksProxyAuthenticationCredential"]?.objectValue,
                  let accessKeyId = credential["AccessKeyId"]?.stringValue, let secret = credential["RawSecretAccessKey"]?.stringValue
            else {
                throw KMSError(.validation, "XksProxyUriEndpoint, XksProxyUriPath, XksProxyConnectivity and XksProxyAuthenticationCredential are required for a custom key store of type EXTERNAL_KEY_STORE.")
            }
            let xks = try xksProxy(endpoint: endpoint, path: path, connectivity: connectivity, accessKeyId: accessKeyId, request: request)
            try checkUriUnused(xks, among: existing, except: nil)
            store = CustomKeyStore(id: id, account: caller.account, region: caller.region, name: name, type: type,
                                   creationDate: clock.now(), xks: xks, secret: secret)
            // AWS checks the proxy (GetHealthStatus) with the new settings before it creates the store.
            do { try customKeyStores.client.health(store, operation: "CreateCustomKeyStore", requestId: requestId(request)) } catch {
                throw error.keyStoreError
            }
        }
        store.connectionState = .disconnected
        try save(store)
        return JSONObject([("CustomKeyStoreId", .string(store.id))])
    }

    static let xksMembers = ["XksProxyUriEndpoint", "XksProxyUriPath", "XksProxyVpcEndpointServiceName",
                             "XksProxyVpcEndpointServiceOwner", "XksProxyAuthenticationCredential", "XksProxyConnectivity"]
    static let cloudHSMMembers = ["CloudHsmClusterId", "TrustAnchorCertificate", "KeyStorePassword"]

    func refuse(_ request: KMSRequest, _ members: [String], for type: CustomKeyStore.StoreType) throws(KMSError) {
        if let member = members.first(where: { request.has($0) }) {
            throw KMSError(.validation, "\(member) is not valid for a custom key store of type \(type.rawValue).")
        }
    }

    /// The cluster must be one configured with `--pkcs11-cluster`, and the trust anchor a PEM
    /// certificate (equal to the cluster's own when one is configured).
    func checkCluster(_ cluster: String, anchor: String) throws(KMSError) {
        guard let configured = customKeyStores.clusters[cluster] else {
            throw KMSError(.cloudHsmClusterNotFound, "The request was rejected because AWS KMS cannot find the AWS CloudHSM cluster with the specified cluster ID. Retry the request with a different cluster ID.")
        }
        guard let der = PEMCertificate.der(anchor) else {
            throw KMSError(.incorrectTrustAnchor, "The request was rejected because the trust anchor certificate in the request to create an AWS CloudHSM key store is not a valid PEM certificate.")
        }
        if let expected = configured.trustAnchorDER, expected != der {
            throw KMSError(.incorrectTrustAnchor, "The request was rejected because the trust anchor certificate in the request to create an AWS CloudHSM key store is not the trust anchor certificate for the specified AWS CloudHSM cluster.")
        }
    }

    func xksProxy(endpoint: String, path: String, connectivity: String, accessKeyId: String,
                  request: KMSRequest) throws(KMSError) -> CustomKeyStore.XksProxy {
        if connectivity == "VPC_ENDPOINT_SERVICE" {
            guard request.has("XksProxyVpcEndpointServiceName") else {
                throw KMSError(.validation, "XksProxyVpcEndpointServiceName is required when XksProxyConnectivity is VPC_ENDPOINT_SERVICE.")
            }
            // This server has no VPC: no endpoint service can be found.
            throw KMSError(.xksProxyVpcEndpointServiceNotFound, "The request was rejected because AWS KMS could not find the specified VPC endpoint service. Use DescribeCustomKeyStores to verify the VPC endpoint service name for the external key store. (This server supports PUBLIC_ENDPOINT connectivity only.)")
        }
        if request.has("XksProxyVpcEndpointServiceName") || request.has("XksProxyVpcEndpointServiceOwner") {
            throw KMSError(.validation, "XksProxyVpcEndpointServiceName and XksProxyVpcEndpointServiceOwner are valid only when XksProxyConnectivity is VPC_ENDPOINT_SERVICE.")
        }
        return CustomKeyStore.XksProxy(uriEndpoint: endpoint, uriPath: path, connectivity: connectivity,
                                       vpcEndpointServiceName: nil, vpcEndpointServiceOwner: nil, accessKeyId: accessKeyId)
    }

    /// With public endpoint connectivity each store needs its own endpoint and path pair.
    func checkUriUnused(_ xks: CustomKeyStore.XksProxy, among stores: [CustomKeyStore], except id: String?) throws(KMSError) {
        if stores.contains(where: { $0.id != id && $0.xks?.uriEndpoint == xks.uriEndpoint && $0.xks?.uriPath == xks.uriPath }) {
            throw KMSError(.xksProxyUriInUse, "The request was rejected because the concatenation of the XksProxyUriEndpoint and XksProxyUriPath is already associated with another external key store in this AWS Region. Each external key store in a Region must use a unique external key store proxy API address.")
        }
    }

    // MARK: DescribeCustomKeyStores

    func describeCustomKeyStores(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try authorize(request, on: .account)
        if request.has("CustomKeyStoreId"), request.has("CustomKeyStoreName") {
            throw KMSError(.validation, "Specify either CustomKeyStoreId or CustomKeyStoreName, not both.")
        }
        var stores = try allCustomKeyStores(caller)
        if let id = request.string("CustomKeyStoreId") { stores = stores.filter { $0.id == id } }
        if let name = request.string("CustomKeyStoreName") { stores = stores.filter { $0.name == name } }
        if stores.isEmpty, request.has("CustomKeyStoreId") || request.has("CustomKeyStoreName") { throw Self.customKeyStoreNotFound }
        let page = try Page.of(stores.sorted { $0.id < $1.id }, key: \.id, request: request, defaultLimit: 100, maxLimit: 1000)
        var out = JSONObject([("CustomKeyStores", .array(page.items.map(\.describeJSON)))])
        page.add(to: &out)
        return out
    }

    // MARK: UpdateCustomKeyStore

    func updateCustomKeyStore(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try authorize(request, on: .account)
        var store = try customKeyStore(request, caller)
        let disconnected = store.connectionState == .disconnected
        func requireDisconnected(_ member: String) throws(KMSError) {
            guard disconnected else {
                throw KMSError(.customKeyStoreInvalidState, "You cannot change \(member) of a custom key store that is not disconnected. This operation is valid only when the custom key store ConnectionState is DISCONNECTED.")
            }
        }
        var checkProxy = false
        if let name = request.string("NewCustomKeyStoreName"), name != store.name {
            try Self.requireStorableName(name)
            if try allCustomKeyStores(caller).contains(where: { $0.name == name && $0.id != store.id }) { throw Self.nameInUse }
            store.name = name
        }
        switch store.type {
        case .cloudHSM:
            try refuse(request, Self.xksMembers, for: store.type)
            if let password = request.string("KeyStorePassword") {
                try requireDisconnected("KeyStorePassword")
                store.secret = password
            }
            if let cluster = request.string("CloudHsmClusterId") {
                try requireDisconnected("CloudHsmClusterId")
                guard customKeyStores.clusters[cluster] != nil else {
                    throw KMSError(.cloudHsmClusterNotFound, "The request was rejected because AWS KMS cannot find the AWS CloudHSM cluster with the specified cluster ID. Retry the request with a different cluster ID.")
                }
                store.cloudHsmClusterId = cluster
            }
        case .external:
            try refuse(request, Self.cloudHSMMembers, for: store.type)
            guard var xks = store.xks else { throw KMSError.internalError }
            if let credential = request.object["XksProxyAuthenticationCredential"]?.objectValue {
                guard let id = credential["AccessKeyId"]?.stringValue, let secret = credential["RawSecretAccessKey"]?.stringValue else {
                    throw KMSError(.validation, "XksProxyAuthenticationCredential needs AccessKeyId and RawSecretAccessKey.")
                }
                xks.accessKeyId = id
                store.secret = secret
                checkProxy = true
            }
            let members: [(String, WritableKeyPath<CustomKeyStore.XksProxy, String>)] = [
                ("XksProxyUriEndpoint", \.uriEndpoint), ("XksProxyUriPath", \.uriPath), ("XksProxyConnectivity", \.connectivity)]
            for (member, path) in members {
                if let value = request.string(member), value != xks[keyPath: path] {
                    try requireDisconnected(member)
                    xks[keyPath: path] = value
                    checkProxy = true
                }
            }
            if checkProxy {
                xks = try xksProxy(endpoint: xks.uriEndpoint, path: xks.uriPath, connectivity: xks.connectivity,
                                   accessKeyId: xks.accessKeyId, request: request)
                try checkUriUnused(xks, among: try allCustomKeyStores(caller), except: store.id)
            }
            store.xks = xks
            if checkProxy {
                do { try customKeyStores.client.health(store, operation: "UpdateCustomKeyStore", requestId: requestId(request)) } catch {
                    throw error.keyStoreError
                }
            }
        }
        try save(store)
        return JSONObject()
    }

    // MARK: ConnectCustomKeyStore, DisconnectCustomKeyStore

    func connectCustomKeyStore(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try authorize(request, on: .account)
        var store = try customKeyStore(request, caller)
        switch store.connectionState {
        case .connected, .connecting: return JSONObject()
        case .failed, .disconnecting:
            throw KMSError(.customKeyStoreInvalidState, "You requested the ConnectCustomKeyStore operation on a custom key store with a ConnectionState of \(store.connectionState.rawValue). This operation is valid for all other ConnectionState values. To reconnect a custom key store in a FAILED state, disconnect it (DisconnectCustomKeyStore), then connect it (ConnectCustomKeyStore).")
        case .disconnected: break
        }
        switch store.type {
        case .external:
            do {
                try customKeyStores.client.health(store, operation: "ConnectCustomKeyStore", requestId: requestId(request))
                store.connectionState = .connected
                store.connectionErrorCode = nil
            } catch {
                store.connectionState = .failed
                store.connectionErrorCode = error.connectionErrorCode
            }
        case .cloudHSM:
            // Opens the cluster's token and logs in with the store's password (the token user's PIN).
            do {
                try customKeyStores.openCloudHsm(store)
                store.connectionState = .connected
                store.connectionErrorCode = nil
            } catch {
                store.connectionState = .failed
                store.connectionErrorCode = error.connectionErrorCode
            }
        }
        do { try save(store) } catch {
            if store.type == .cloudHSM { customKeyStores.closeCloudHsm(store.id) }
            throw error
        }
        return JSONObject()
    }

    func disconnectCustomKeyStore(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try authorize(request, on: .account)
        var store = try customKeyStore(request, caller)
        guard store.connectionState != .disconnected, store.connectionState != .disconnecting else {
            throw KMSError(.customKeyStoreInvalidState, "You requested the DisconnectCustomKeyStore operation on a custom key store with a ConnectionState of \(store.connectionState.rawValue). This operation is valid for all other ConnectionState values.")
        }
        store.connectionState = .disconnected
        store.connectionErrorCode = nil
        try save(store)
        // AWS logs out of the cluster: this process's token sessions close now; other nodes
        // close theirs when they next see the store disconnected.
        if store.type == .cloudHSM { customKeyStores.closeCloudHsm(store.id) }
        return JSONObject()
    }

    // MARK: DeleteCustomKeyStore

    func deleteCustomKeyStore(_ request: KMSRequest, _ caller: Caller) throws(KMSError) -> JSONObject {
        try authorize(request, on: .account)
        let store = try customKeyStore(request, caller)
        guard store.connectionState == .disconnected else {
            throw KMSError(.customKeyStoreInvalidState, "You requested the DeleteCustomKeyStore operation on a custom key store that is not disconnected. This operation is valid only when the custom key store ConnectionState is DISCONNECTED.")
        }
        // Keys pending deletion still count, as in AWS.
        if try keysIn(store).isEmpty == false {
            throw KMSError(.customKeyStoreHasCMKs, "The request was rejected because the custom key store contains KMS keys. After verifying that you do not need to use the KMS keys, use the ScheduleKeyDeletion operation to delete the KMS keys. After they are deleted, you can delete the custom key store.")
        }
        defer { customKeyStores.invalidate(store.id) }
        do { try customKeyStores.storage.removeCustomKeyStore(store) } catch is StoreConflict { throw KMSError.conflict } catch {
            throw KMSError.storeUnavailable
        }
        return JSONObject()
    }

    /// The account's keys in `store` (a scan of the account's keys, page by page).
    func keysIn(_ store: CustomKeyStore) throws(KMSError) -> [KMSKey] {
        var found: [KMSKey] = []
        var after: String?
        while true {
            let page = try registry.keys(account: store.account, region: store.region, after: after, limit: 1000)
            found += page.filter { $0.customKeyStoreId == store.id }
            guard page.count == 1000, let last = page.last else { return found }
            after = last.keyId
        }
    }
}

/// A PEM certificate's DER bytes (the first CERTIFICATE block); nil when there is none.
enum PEMCertificate {
    static func der(_ pem: String) -> [UInt8]? {
        guard let begin = pem.range(of: "-----BEGIN CERTIFICATE-----"),
              let end = pem.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<pem.endIndex) else { return nil }
        let body = pem[begin.upperBound..<end.lowerBound].filter { !$0.isWhitespace }
        // A certificate X.509 can parse, not merely DER-shaped bytes.
        guard let der = Base64.decode(String(body)), der.count > 64, der.first == 0x30,
              (try? Certificate(derEncoded: der)) != nil else { return nil }
        return der
    }
}
