import Foundation
import Synchronization

/// The custom key stores the service sees: the backing table, a short-lived cache for the
/// hot path (an XKS key's Encrypt needs its store's endpoint, credential and connection
/// state), and the XKS proxy client the server configures at start.
public final class CustomKeyStoreDirectory: Sendable {
    public let storage: any CustomKeyStoreStorage
    private struct State {
        var cache: [String: (store: CustomKeyStore, fetched: Double)] = [:]
        var client = XKSProxyClient(transport: NoXKSTransport())
        var clusters: [String: PKCS11Cluster] = [:]
        var connector: any CloudHsmConnector = NoCloudHsmConnector()
        /// Open token sessions of AWS_CLOUDHSM stores, by store ID, with the cluster each was opened on.
        var sessions: [String: (clusterId: String, session: any CloudHsmSession)] = [:]
    }
    private let state = Mutex(State())
    /// How long another node's change (a disconnect) may take to be seen here.
    public static let cacheSeconds = 1.0
    static let cacheLimit = 10_000

    public init(store: any KeyStore) {
        storage = (store as? any CustomKeyStoreStorage) ?? InMemoryCustomKeyStores()
    }

    /// The server sets the real transport (HTTPS, its CA file, timeout) once at start.
    public func configure(client: XKSProxyClient) { state.withLock { $0.client = client } }
    public var client: XKSProxyClient { state.withLock { $0.client } }

    /// The PKCS#11 tokens that stand for CloudHSM clusters (`--pkcs11-cluster`).
    public func configure(clusters: [PKCS11Cluster]) {
        state.withLock { s in for c in clusters { s.clusters[c.clusterId] = c } }
    }
    public var clusters: [String: PKCS11Cluster] { state.withLock { $0.clusters } }

    /// How AWS_CLOUDHSM stores reach their tokens (the server's PKCS#11 connector).
    public func configure(connector: any CloudHsmConnector) { state.withLock { $0.connector = connector } }

    /// Opens `store`'s token and logs in with its password, replacing (and closing) any
    /// session this process held for it. ConnectCustomKeyStore calls this.
    func openCloudHsm(_ store: CustomKeyStore) throws(CloudHsmError) {
        let (cluster, connector) = state.withLock { ($0.clusters[store.cloudHsmClusterId ?? ""], $0.connector) }
        guard let cluster else { throw CloudHsmError(.clusterNotFound, "The cluster is not configured (--pkcs11-cluster).") }
        let session = try connector.connect(cluster, pin: store.secret)
        let old = state.withLock { s in
            defer { s.sessions[store.id] = (cluster.clusterId, session) }
            return s.sessions[store.id]?.session
        }
        old?.close()
    }

    /// The open session of a CONNECTED store; opened on first use after a restart, or on a
    /// node that did not run the Connect (the password is in the store row).
    func cloudHsmSession(_ store: CustomKeyStore) throws(CloudHsmError) -> any CloudHsmSession {
        let clusterId = store.cloudHsmClusterId ?? ""
        if let open = state.withLock({ $0.sessions[store.id] }), open.clusterId == clusterId { return open.session }
        let (cluster, connector) = state.withLock { ($0.clusters[clusterId], $0.connector) }
        guard let cluster else { throw CloudHsmError(.clusterNotFound, "The cluster is not configured (--pkcs11-cluster).") }
        let session = try connector.connect(cluster, pin: store.secret)
        // Two requests may have opened one each: keep the first, close the other.
        let (kept, extra) = state.withLock { s -> (any CloudHsmSession, (any CloudHsmSession)?) in
            if let open = s.sessions[store.id], open.clusterId == clusterId { return (open.session, session) }
            let replaced = s.sessions[store.id]?.session
            s.sessions[store.id] = (clusterId, session)
            return (session, replaced)
        }
        extra?.close()
        return kept
    }

    /// Whether this process holds an open session for the store's cluster.
    func hasCloudHsmSession(_ store: CustomKeyStore) -> Bool {
        state.withLock { $0.sessions[store.id]?.clusterId == store.cloudHsmClusterId }
    }

    /// Closes this process's session of the store, if any (DisconnectCustomKeyStore, or a
    /// disconnect seen from another node).
    func closeCloudHsm(_ id: String) {
        state.withLock { $0.sessions.removeValue(forKey: id) }?.session.close()
    }

    /// The store, from the cache when fresh; nil when it does not exist.
    func store(account: String, region: String, id: String, now: Double = Date().timeIntervalSince1970) throws(KMSError) -> CustomKeyStore? {
        guard CustomKeyStore.isWellFormedId(id) else { return nil }
        if let hit = state.withLock({ $0.cache[id] }), now - hit.fetched < Self.cacheSeconds,
           hit.store.account == account, hit.store.region == region {
            return hit.store
        }
        let fresh: CustomKeyStore?
        do { fresh = try storage.customKeyStore(account: account, region: region, id: id) } catch { throw KMSError.storeUnavailable }
        state.withLock { s in
            if s.cache.count >= Self.cacheLimit { s.cache.removeAll() }
            if let fresh { s.cache[id] = (store: fresh, fetched: now) } else { s.cache[id] = nil }
        }
        return fresh
    }

    /// After a local write: the next read goes to the table.
    func invalidate(_ id: String) { _ = state.withLock { $0.cache.removeValue(forKey: id) } }
}

/// `--pkcs11-cluster CLUSTER_ID=MODULE_PATH:TOKEN_LABEL`: a PKCS#11 token standing in for a
/// CloudHSM cluster. ConnectCustomKeyStore opens the token through the configured
/// `CloudHsmConnector` and logs in with the store's KeyStorePassword.
public struct PKCS11Cluster: Sendable, Equatable {
    public let clusterId: String
    public let modulePath: String
    public let tokenLabel: String
    /// The cluster's own trust anchor (DER), when configured: CreateCustomKeyStore must match it.
    public var trustAnchorDER: [UInt8]?

    public init(clusterId: String, modulePath: String, tokenLabel: String, trustAnchorDER: [UInt8]? = nil) {
        self.clusterId = clusterId
        self.modulePath = modulePath
        self.tokenLabel = tokenLabel
        self.trustAnchorDER = trustAnchorDER
    }

    /// The DER of a PEM certificate (`--pkcs11-cluster-trust-anchor`); nil when it is not one.
    public static func certificateDER(pem: String) -> [UInt8]? { PEMCertificate.der(pem) }

    /// Parses `CLUSTER_ID=MODULE_PATH:TOKEN_LABEL`; nil when malformed.
    public static func parse(_ text: String) -> PKCS11Cluster? {
        guard let eq = text.firstIndex(of: "="), let colon = text.lastIndex(of: ":"), eq < colon else { return nil }
        let id = String(text[..<eq]), module = String(text[text.index(after: eq)..<colon]), label = String(text[text.index(after: colon)...])
        guard id.hasPrefix("cluster-"), !module.isEmpty, !label.isEmpty else { return nil }
        return PKCS11Cluster(clusterId: id, modulePath: module, tokenLabel: label)
    }
}
