import Foundation

/// A custom key store (CreateCustomKeyStore): an AWS_CLOUDHSM store mapped onto a PKCS#11
/// token, or an EXTERNAL_KEY_STORE reached through an XKS proxy. Secrets (the token PIN,
/// the proxy's SigV4 secret) live here unsealed only in memory; the stores seal them
/// under the root key, and neither `describeJSON` nor the audit trail ever carries them.
public struct CustomKeyStore: Sendable, Equatable {
    public enum StoreType: String, Sendable, Codable { case cloudHSM = "AWS_CLOUDHSM", external = "EXTERNAL_KEY_STORE" }

    /// AWS's ConnectionStateType.
    public enum ConnectionState: String, Sendable, Codable {
        case connected = "CONNECTED", connecting = "CONNECTING", failed = "FAILED"
        case disconnected = "DISCONNECTED", disconnecting = "DISCONNECTING"
    }

    /// The XKS proxy's address and how KMS signs its requests.
    public struct XksProxy: Sendable, Equatable, Codable {
        public var uriEndpoint: String
        public var uriPath: String
        public var connectivity: String
        public var vpcEndpointServiceName: String?
        public var vpcEndpointServiceOwner: String?
        public var accessKeyId: String

        public init(uriEndpoint: String, uriPath: String, connectivity: String, vpcEndpointServiceName: String? = nil,
                    vpcEndpointServiceOwner: String? = nil, accessKeyId: String) {
            self.uriEndpoint = uriEndpoint
            self.uriPath = uriPath
            self.connectivity = connectivity
            self.vpcEndpointServiceName = vpcEndpointServiceName
            self.vpcEndpointServiceOwner = vpcEndpointServiceOwner
            self.accessKeyId = accessKeyId
        }
    }

    public let id: String
    public let account: String
    public let region: String
    public var name: String
    public let type: StoreType
    public let creationDate: Double
    public var connectionState: ConnectionState
    /// Set only while FAILED (AWS's ConnectionErrorCodeType).
    public var connectionErrorCode: String?
    public var cloudHsmClusterId: String?
    public var trustAnchorCertificate: String?
    public var xks: XksProxy?
    /// Secret: the token user's PIN (AWS_CLOUDHSM) or the proxy's raw SigV4 secret access key (XKS).
    public var secret: String
    public var storeVersion: Int64

    public init(id: String, account: String, region: String, name: String, type: StoreType, creationDate: Double,
                connectionState: ConnectionState = .disconnected, connectionErrorCode: String? = nil,
                cloudHsmClusterId: String? = nil, trustAnchorCertificate: String? = nil, xks: XksProxy? = nil,
                secret: String, storeVersion: Int64 = 0) {
        self.id = id
        self.account = account
        self.region = region
        self.name = name
        self.type = type
        self.creationDate = creationDate
        self.connectionState = connectionState
        self.connectionErrorCode = connectionErrorCode
        self.cloudHsmClusterId = cloudHsmClusterId
        self.trustAnchorCertificate = trustAnchorCertificate
        self.xks = xks
        self.secret = secret
        self.storeVersion = storeVersion
    }

    /// "cks-" and 17 hex digits, like AWS's.
    public static func newId() -> String {
        "cks-" + Hex.lower(SystemRandom.bytes(9)).prefix(17)
    }

    /// Whether `id` has the shape `newId` makes. Anything else cannot name a store, so it is
    /// not found without a store read (PostgreSQL refuses text with NUL, for one).
    public static func isWellFormedId(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard bytes.count == 21, bytes.starts(with: Array("cks-".utf8)) else { return false }
        return bytes[4...].allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// DescribeCustomKeyStores' CustomKeyStoresListEntry: never the password or the secret key.
    public var describeJSON: JSONValue {
        var m = JSONObject()
        m["CustomKeyStoreId"] = .string(id)
        m["CustomKeyStoreName"] = .string(name)
        if let cloudHsmClusterId { m["CloudHsmClusterId"] = .string(cloudHsmClusterId) }
        if let trustAnchorCertificate { m["TrustAnchorCertificate"] = .string(trustAnchorCertificate) }
        m["ConnectionState"] = .string(connectionState.rawValue)
        if connectionState == .failed, let connectionErrorCode { m["ConnectionErrorCode"] = .string(connectionErrorCode) }
        m["CreationDate"] = JSONValue(creationDate)
        m["CustomKeyStoreType"] = .string(type.rawValue)
        if let xks {
            var x = JSONObject()
            x["Connectivity"] = .string(xks.connectivity)
            x["AccessKeyId"] = .string(xks.accessKeyId)
            x["UriEndpoint"] = .string(xks.uriEndpoint)
            x["UriPath"] = .string(xks.uriPath)
            if let name = xks.vpcEndpointServiceName { x["VpcEndpointServiceName"] = .string(name) }
            if let owner = xks.vpcEndpointServiceOwner { x["VpcEndpointServiceOwner"] = .string(owner) }
            m["XksProxyConfiguration"] = .object(x)
        }
        return .object(m)
    }
}

/// Custom key stores in the shared store, versioned like keys (0: not stored yet). A put
/// with base version 0 of a name already used in the account and region is a conflict.
public protocol CustomKeyStoreStorage: Sendable {
    func customKeyStores(account: String, region: String) throws -> [CustomKeyStore]
    func customKeyStore(account: String, region: String, id: String) throws -> CustomKeyStore?
    /// Stores `store` as version `storeVersion + 1` if its stored version is still `storeVersion`.
    func putCustomKeyStore(_ store: CustomKeyStore) throws
    /// Deletes it if its stored version is still `storeVersion`.
    func removeCustomKeyStore(_ store: CustomKeyStore) throws
}

extension StoreObject {
    static func customKeyStore(_ s: CustomKeyStore) -> StoreObject {
        .identity(account: s.account, kind: "custom-key-store", name: s.region + "/" + s.id)
    }
}

/// For stores without a table (unit tests, the pipeline benchmark): process memory, same rules.
public final class InMemoryCustomKeyStores: CustomKeyStoreStorage, @unchecked Sendable {
    private let lock = NSLock()
    private var stores: [String: CustomKeyStore] = [:]

    public init() {}

    public func customKeyStores(account: String, region: String) throws -> [CustomKeyStore] {
        lock.withLock { stores.values.filter { $0.account == account && $0.region == region }.sorted { $0.id < $1.id } }
    }

    public func customKeyStore(account: String, region: String, id: String) throws -> CustomKeyStore? {
        lock.withLock { stores[id].flatMap { $0.account == account && $0.region == region ? $0 : nil } }
    }

    public func putCustomKeyStore(_ store: CustomKeyStore) throws {
        try lock.withLock {
            let stored = stores[store.id]
            let sameName = stores.values.contains { $0.id != store.id && $0.account == store.account && $0.region == store.region && $0.name == store.name }
            guard (stored?.storeVersion ?? 0) == store.storeVersion, !sameName else {
                throw StoreConflict(object: .customKeyStore(store), expectedVersion: store.storeVersion)
            }
            var next = store
            next.storeVersion += 1
            stores[store.id] = next
        }
    }

    public func removeCustomKeyStore(_ store: CustomKeyStore) throws {
        try lock.withLock {
            guard let stored = stores[store.id], stored.storeVersion == store.storeVersion else {
                throw StoreConflict(object: .customKeyStore(store), expectedVersion: store.storeVersion)
            }
            stores[store.id] = nil
        }
    }
}
