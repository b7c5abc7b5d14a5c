import KMSCore
import NIOCore

/// Everything `kms server` is started with.
public struct ServerConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var dataDirectory = "./kms-data"
    /// Accept any access key without checking signatures, as local emulators do.
    public var dev = false
    public var devAccount = "000000000000"
    /// Where the root key lives; defaults to <data-dir>/root.key.
    public var rootKeyPath: String?
    /// Shifts the lifecycle clock (deletion windows, STS session expiry); for tests only.
    public var lifecycleClockOffset: Double = 0
    /// How often the background job deletes keys whose waiting period has ended.
    public var deletionSweepInterval: Double = 60
    /// Larger request bodies are refused; KMS's largest legal request is a 32 KiB policy.
    public var maxBodyBytes = 256 * 1024
    public var eventLoopThreads = max(1, System.coreCount)
    /// A connection that sends nothing for this many seconds, with no request of its
    /// being processed, is closed: idle or stalled clients cannot hold sockets forever.
    public var idleTimeout: Double = 120
    /// TLS on the listener: a PEM certificate chain and its PEM private key, both or neither.
    /// Both files are read again on SIGHUP.
    public var tlsCertificatePath: String?
    public var tlsPrivateKeyPath: String?
    /// Serve plain HTTP on a non-loopback address; refused without it (loopback needs no flag).
    public var insecureHTTP = false
    /// Leave core dumps possible; off by default since a core file would hold unsealed keys.
    public var allowCoreDumps = false
    /// Root credentials for a data dir's first start, instead of random ones.
    public var rootCredentialSeed: RootCredentialSeed?
    /// `--storage`: `sqlite:PATH` or `postgresql://...`; nil is SQLite in the data dir.
    public var storage: String?

    /// Symmetric ciphertext format written (2; 1 only for benchmarks comparing the two,
    /// hidden flag `--ciphertext-format`). Both formats always decrypt.
    public var ciphertextFormat: UInt8 = 2
    /// Seconds a request may take to arrive, from its first byte to its last (slowloris
    /// defence); separate from the idle timeout, which waits between requests.
    public var requestTimeout: Double = 20
    /// Open connections beyond this are closed as they are accepted.
    public var maxConnections = 4096
    /// Request quotas per account and region (requests per second); unlimited by default.
    public var quotas = RequestQuotaRates()
    /// Audit trail under <data-dir>/audit: fsync every `auditFsyncInterval` seconds, or
    /// before every group of responses (`.always`).
    public var auditFsync: AuditLog.FsyncPolicy = .interval
    public var auditFsyncInterval: Double = 1
    /// Signed digest records: every `interval` seconds and/or every `everyEvents` records.
    public var auditDigest = AuditDigestPolicy()
    /// Off only for benchmarks (hidden `--audit off`); the server warns loudly at start.
    public var audit = true
    /// `--audit-retention-days`: older audit segments (and cluster rows) are pruned; nil keeps all.
    public var auditRetentionDays: Double?

    /// Keys (and, separately, aliases) the node keeps in memory; more are read from the store on use.
    public var keyCacheCapacity = KeyRegistry.defaultCapacity
    /// `--admin-listen HOST:PORT`: health and metrics on a listener of their own (and not
    /// on the main one); nil serves them on the main listener.
    public var adminListen: (host: String, port: Int)?
    /// SIGTERM/SIGINT: seconds in-flight requests get to finish before the process stops.
    public var shutdownGrace: Double = 10
    /// How often a node polls the change log (PostgreSQL), seconds.
    public var changePollInterval: Double = 0.25
    /// JWKS files of OIDC issuers, by issuer host/path ("oidc.example.com/path"), for
    /// AssumeRoleWithWebIdentity (`--oidc-jwks ISSUER=PATH`); read again on each use.
    public var oidcJWKS: [String: String] = [:]
    /// `--oidc-ca-file PATH`: extra CAs (PEM) trusted when fetching an issuer's discovery
    /// document and JWKS over HTTPS (a private issuer), beside the system's.
    public var oidcCAFile: String?
    /// `--seed FILE`: keys, aliases, policies and tags created at start if missing (SeedFile.swift).
    public var seedFile: String?
    /// The region seeded keys land in when the file names none (`--seed-region`).
    public var seedRegion = "us-east-1"
    /// `--regions us-east-1,eu-west-1`: the regions this deployment serves; nil serves any
    /// valid region a client names (ServedRegions.swift).
    public var regions: Set<String>?

    /// The peer link between deployments (issue 13 §3), Peers/: `--peer REGION=URL` (peer
    /// region → base URL), `--peer-key-file`, and `--peer-region` (this deployment's region on
    /// its links). No peers: no link, and /_peer/v1/messages is not served.
    public var peers: [String: String] = [:]
    public var peerKeyFile: String?
    public var peerRegion: String?
    /// `--peer-ca-file PATH`: extra CAs (PEM) trusted when a peer URL is https, beside the system's.
    public var peerCAFile: String?
    /// Outbox worker: idle poll and the cap of its exponential backoff, seconds.
    public var peerPollInterval: Double = 1
    public var peerMaxBackoff: Double = 30

    /// Where the root key lives (issue 14): nil is the root key file (rootKeyPath).
    public var root: RootSpec?

    public init() {}

    public var resolvedRootKeyPath: String { rootKeyPath ?? dataDirectory + "/root.key" }

    /// `--xks-proxy-ca-file PATH`: extra CAs (PEM) trusted for external key store proxies.
    public var xksProxyCAFile: String?
    /// `--xks-proxy-timeout-ms N`: the deadline per XKS proxy call (AWS: 250 ms).
    public var xksProxyTimeoutMilliseconds = 250
    /// `--pkcs11-cluster CLUSTER_ID=MODULE_PATH:TOKEN_LABEL` (repeatable): AWS_CLOUDHSM stand-ins.
    public var pkcs11Clusters: [PKCS11Cluster] = []
    /// `--xks-proxy-connect-to NAME=HOST:PORT`: reach the proxy named NAME at HOST:PORT.
    public var xksProxyConnectTo: [String: String] = [:]
    /// `--xks-proxy-client-cert`/`--xks-proxy-client-key`: KMS's certificate for proxies that require mutual TLS.
    public var xksProxyClientCertificate: String?
    public var xksProxyClientKey: String?
    /// `--trusted-service NAME=IDENTITY` (repeatable): who may act as AWS service NAME calling
    /// on a user's behalf (kms:ViaService, TrustedServices.swift). Empty: none.
    public var trustedServices = TrustedServices()
}
