import ArgumentParser
import Configuration
import Foundation
import KMSCore
import KMSServer
import KMSStorage
import SystemPackage
import STS

@main
struct KMSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kms",
        abstract: "A self-hosted key management service that speaks the AWS KMS protocol.",
        subcommands: [Server.self, BenchSign.self, BenchPipeline.self, AuditCommand.self, StoreStress.self,
                      Backup.self, Restore.self, Migrate.self, AdminCommand.self, XKSProxyCommand.self,
                      PKCS11Command.self])
}

/// `kms server`. Each flag may also come from the environment (KMS_HOST, KMS_PORT,
/// KMS_DATA_DIR, KMS_DEV, KMS_DEV_ACCOUNT, KMS_ROOT_KEY_FILE, KMS_TLS_CERT, KMS_TLS_KEY,
/// KMS_INSECURE_HTTP, KMS_ALLOW_CORE_DUMPS, KMS_STORAGE, KMS_QUOTAS_SYMMETRIC, ...) or a JSON file named by
/// --config / KMS_CONFIG ({"kms": {"port": 8080, ...}}); a flag wins over both.
struct Server: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the KMS server (embedded SQLite, or a PostgreSQL shared by several nodes).")

    @Option(help: "Address to listen on (default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (default 8080; 0 picks a free port).") var port: Int?
    @Option(name: .customLong("data-dir"), help: "Data directory: database, root key, credentials (default ./kms-data).") var dataDir: String?
    @Flag(help: "Development mode: accept any access key without checking signatures.") var dev = false
    @Option(name: .customLong("dev-account"), help: "Account of the root credentials and of non-numeric dev access keys (default 000000000000).") var devAccount: String?
    @Option(name: .customLong("root-key-file"), help: "Root key file (default <data-dir>/root.key).") var rootKeyFile: String?
    @Option(help: "A JSON configuration file.") var config: String?
    @Option(help: "Event loop threads (default: one per core).") var threads: Int?
    @Option(name: .customLong("idle-timeout"), help: "Seconds a connection may send nothing before it is closed (default 120).") var idleTimeout: Double?
    @Option(name: .customLong("request-timeout"), help: "Seconds a request may take to arrive, first byte to last, before its connection is closed (default 20).") var requestTimeout: Double?
    @Option(name: .customLong("max-connections"), help: "Open connections beyond this are closed at accept (default 4096).") var maxConnections: Int?
    @Option(name: .customLong("quota-symmetric"), help: "Requests per second per account and region shared by symmetric cryptographic operations (default unlimited).") var quotaSymmetric: Double?
    @Option(name: .customLong("quota-rsa"), help: "Requests per second per account and region shared by cryptographic operations with RSA keys (default unlimited).") var quotaRSA: Double?
    @Option(name: .customLong("quota-ecc"), help: "Requests per second per account and region shared by cryptographic operations with elliptic curve keys (default unlimited).") var quotaECC: Double?
    @Option(name: .customLong("quota-management"), help: "Requests per second per account and region for each other operation (CreateKey, DescribeKey, ...; default unlimited).") var quotaManagement: Double?
    @Option(name: .customLong("lifecycle-clock-offset"), help: .hidden) var lifecycleClockOffset: Double?
    @Option(name: .customLong("deletion-sweep-interval"), help: .hidden) var deletionSweepInterval: Double?
    @Option(name: .customLong("tls-cert"), help: "TLS certificate chain, PEM (with --tls-key; both re-read on SIGHUP).") var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: "TLS private key, PEM.") var tlsKey: String?
    @Flag(name: .customLong("insecure-http"), help: "Allow plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).") var insecureHttp = false
    @Flag(name: .customLong("allow-core-dumps"), help: "Leave core dumps on (off by default: they would hold unsealed keys).") var allowCoreDumps = false
    @Option(help: "Storage: sqlite:PATH (default <data-dir>/kms.sqlite) or postgresql://user@host:port/db?sslmode=verify-full.") var storage: String?
    /// Benchmark only: write ciphertext format 1 (random nonce under the material) to compare with v2.
    @Option(name: .customLong("ciphertext-format"), help: .hidden) var ciphertextFormat: UInt8?
    @Option(name: .customLong("audit-fsync"), help: "When the audit trail is fsynced: interval (every --audit-fsync-interval seconds, default) or always (before every group of responses).") var auditFsync: String?
    @Option(name: .customLong("audit-fsync-interval"), help: "Seconds between fsyncs of the audit trail with --audit-fsync interval (default 1).") var auditFsyncInterval: Double?
    @Option(name: .customLong("audit-digest-interval"), help: "Seconds between signed audit digest records (default 60).") var auditDigestInterval: Double?
    @Option(name: .customLong("audit-digest-events"), help: "Also write a signed audit digest after this many records (default 0: by time only).") var auditDigestEvents: Int?
    @Option(name: .customLong("audit-retention-days"), help: "Prune audit records older than this many days (whole segment files, and cluster rows on PostgreSQL); default: keep forever.") var auditRetentionDays: Double?
    /// Benchmark only: `--audit off` turns the trail off, with a loud warning at start.
    @Option(name: .customLong("audit"), help: .hidden) var audit: String?
    @Option(name: .customLong("admin-listen"), help: "HOST:PORT for /health/live, /health/ready and /metrics (default: on the main listener).") var adminListen: String?
    @Option(name: .customLong("shutdown-grace"), help: "Seconds in-flight requests get to finish after SIGTERM (default 10).") var shutdownGrace: Double?
    @Option(name: .customLong("key-cache-size"), help: "Keys (and aliases) kept in memory; others are read from the store on use (default 100000).") var keyCacheSize: Int?
    @Option(name: .customLong("change-poll-interval"), help: .hidden) var changePollInterval: Double?
    @Option(help: "A seed file (YAML; this server's layout or local-kms's seed.yaml): keys with fixed IDs and known material, aliases, policies and tags, created at start if missing.") var seed: String?
    @Option(name: .customLong("seed-region"), help: "Region of seeded keys when the seed file names none (default us-east-1).") var seedRegion: String?
    @Option(name: .customLong("oidc-ca-file"), help: "PATH: a PEM file of CAs trusted (beside the system's) when fetching an OIDC issuer's discovery document and JWKS over HTTPS, for providers with no JWKS file.") var oidcCAFile: String?
    @Option(name: .customLong("root-pkcs11-module"), help: "Root key in a PKCS#11 token: the module (e.g. /usr/lib/softhsm/libsofthsm2.so).") var rootPkcs11Module: String?
    @Option(name: .customLong("root-pkcs11-slot"), help: "The token's slot id (or --root-pkcs11-token).") var rootPkcs11Slot: UInt?
    @Option(name: .customLong("root-pkcs11-token"), help: "The token's label (or --root-pkcs11-slot).") var rootPkcs11Token: String?
    @Option(name: .customLong("root-pkcs11-pin-file"), help: "A file holding the token's user PIN (or KMS_PKCS11_PIN).") var rootPkcs11PinFile: String?
    @Option(name: .customLong("root-pkcs11-key-label"), help: "The root key's label in the token (default swift-kms-root; created at first start).") var rootPkcs11KeyLabel: String?
    @Option(name: .customLong("root-passphrase-file"), help: "Root key derived (scrypt) from the passphrase in this file.") var rootPassphraseFile: String?
    @Flag(name: .customLong("root-passphrase-stdin"), help: "Root key derived (scrypt) from a passphrase read from stdin at start.") var rootPassphraseStdin = false
    @Option(name: .customLong("root-kms-key-id"), help: "Auto-unseal: the key ARN, at another KMS, the root key is encrypted under.") var rootKmsKeyId: String?
    @Option(name: .customLong("root-kms-endpoint"), help: "Auto-unseal: that KMS's endpoint URL.") var rootKmsEndpoint: String?
    @Option(name: .customLong("root-kms-region"), help: "Auto-unseal: that KMS's region (SigV4).") var rootKmsRegion: String?
    @Option(name: .customLong("oidc-jwks"), help: "ISSUER=PATH: the JWKS file holding the signing keys of the OIDC issuer ISSUER (an IAM OIDC provider's URL, e.g. https://oidc.example.com), for AssumeRoleWithWebIdentity. Repeatable; re-read on use.") var oidcJwks: [String] = []
    @Option(help: "REGION=URL: a peer deployment serving REGION at URL (http(s)://host:port), linked by --peer-key-file. Repeatable.") var peer: [String] = []
    @Option(name: .customLong("peer-key-file"), help: "The peer key file both linked deployments hold (`kms admin peer-key --out FILE`; mode 0600).") var peerKeyFile: String?
    @Option(name: .customLong("peer-region"), help: "The region this deployment serves on its peer links (with --peer; default: the one region of --regions).") var peerRegion: String?
    @Option(name: .customLong("peer-ca-file"), help: "PATH: a PEM file of CAs trusted (beside the system's) when a peer URL is https.") var peerCAFile: String?
    @Option(name: .customLong("peer-poll-interval"), help: .hidden) var peerPollInterval: Double?
    @Option(name: .customLong("peer-max-backoff"), help: "Longest wait, in seconds, between retries to an unreachable peer (default 30).") var peerMaxBackoff: Double?
    @Option(name: .customLong("regions"), help: "REGION,REGION,...: the regions this deployment serves (default: any valid region a client names). A request signed for another region is refused.") var regions: String?

    @Option(name: .customLong("xks-proxy-ca-file"), help: "PATH: a PEM file of CAs trusted (beside the system's) for external key store (XKS) proxies.") var xksProxyCAFile: String?
    @Option(name: .customLong("xks-proxy-timeout-ms"), help: "Deadline per XKS proxy call in milliseconds (default 250, AWS's).") var xksProxyTimeoutMs: Int?
    @Option(name: .customLong("xks-proxy-connect-to"), help: "NAME=HOST:PORT: reach the XKS proxy endpoint https://NAME at HOST:PORT instead (still verified as NAME), like curl --connect-to. Repeatable.") var xksProxyConnectTo: [String] = []
    @Option(name: .customLong("xks-proxy-client-cert"), help: "PATH: the certificate (PEM) presented to XKS proxies that require mutual TLS.") var xksProxyClientCert: String?
    @Option(name: .customLong("xks-proxy-client-key"), help: "PATH: its private key (PEM).") var xksProxyClientKey: String?
    @Option(name: .customLong("trusted-service"), help: "NAME=ACCESS_KEY_ID or NAME=arn:aws:iam::ACCOUNT:user/USER: that identity may forward users' requests as AWS service NAME (e.g. secretsmanager), giving them kms:ViaService NAME.REGION.amazonaws.com. Repeatable.") var trustedService: [String] = []
    @Option(name: .customLong("pkcs11-cluster"), help: "CLUSTER_ID=MODULE_PATH:TOKEN_LABEL: a PKCS#11 token standing for a CloudHSM cluster of AWS_CLOUDHSM custom key stores. Repeatable.") var pkcs11Cluster: [String] = []
    @Option(name: .customLong("pkcs11-cluster-trust-anchor"), help: "CLUSTER_ID=PEM_FILE: the cluster's own trust anchor certificate; CreateCustomKeyStore must give the same one. Repeatable.") var pkcs11ClusterTrustAnchor: [String] = []

    func run() async throws {
        var providers: [any ConfigProvider] = [EnvironmentVariablesProvider()]
        let env = ConfigReader(provider: EnvironmentVariablesProvider())
        if let file = config ?? env.string(forKey: "kms.config") {
            providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(file)))
        }
        let reader = ConfigReader(providers: providers)
        var c = ServerConfiguration()
        c.host = host ?? reader.string(forKey: "kms.host", default: c.host)
        c.port = port ?? reader.int(forKey: "kms.port", default: c.port)
        c.dataDirectory = dataDir ?? reader.string(forKey: "kms.dataDir", default: c.dataDirectory)
        c.dev = dev || reader.bool(forKey: "kms.dev", default: false)
        c.devAccount = devAccount ?? reader.string(forKey: "kms.devAccount", default: c.devAccount)
        c.rootKeyPath = rootKeyFile ?? reader.string(forKey: "kms.rootKeyFile")
        c.root = try rootSpec(reader)
        c.eventLoopThreads = threads ?? reader.int(forKey: "kms.threads", default: c.eventLoopThreads)
        guard c.eventLoopThreads > 0 else { throw ValidationError("--threads must be positive") }
        c.idleTimeout = idleTimeout ?? reader.double(forKey: "kms.idleTimeout", default: c.idleTimeout)
        guard c.idleTimeout > 0 else { throw ValidationError("--idle-timeout must be positive") }
        c.requestTimeout = requestTimeout ?? reader.double(forKey: "kms.requestTimeout", default: c.requestTimeout)
        guard c.requestTimeout > 0 else { throw ValidationError("--request-timeout must be positive") }
        c.maxConnections = maxConnections ?? reader.int(forKey: "kms.maxConnections", default: c.maxConnections)
        guard c.maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        // Quotas: flags, or KMS_QUOTAS_SYMMETRIC etc., or {"kms": {"quotas": {"symmetric": 100, ...}}}.
        c.quotas.symmetric = quotaSymmetric ?? reader.double(forKey: "kms.quotas.symmetric")
        c.quotas.rsa = quotaRSA ?? reader.double(forKey: "kms.quotas.rsa")
        c.quotas.ecc = quotaECC ?? reader.double(forKey: "kms.quotas.ecc")
        c.quotas.management = quotaManagement ?? reader.double(forKey: "kms.quotas.management")
        for rate in [c.quotas.symmetric, c.quotas.rsa, c.quotas.ecc, c.quotas.management] {
            guard rate.map({ $0 > 0 && $0.isFinite }) ?? true else { throw ValidationError("--quota-* must be a positive number of requests per second") }
        }
        c.lifecycleClockOffset = lifecycleClockOffset ?? 0
        c.deletionSweepInterval = deletionSweepInterval ?? reader.double(forKey: "kms.deletionSweepInterval", default: 60)
        guard c.devAccount.count == 12, c.devAccount.allSatisfy(\.isNumber) else {
            throw ValidationError("--dev-account must be 12 digits")
        }
        guard c.deletionSweepInterval > 0 else { throw ValidationError("--deletion-sweep-interval must be positive") }
        c.tlsCertificatePath = tlsCert ?? reader.string(forKey: "kms.tlsCert")
        c.tlsPrivateKeyPath = tlsKey ?? reader.string(forKey: "kms.tlsKey")
        c.insecureHTTP = insecureHttp || reader.bool(forKey: "kms.insecureHttp", default: false)
        c.allowCoreDumps = allowCoreDumps || reader.bool(forKey: "kms.allowCoreDumps", default: false)
        c.storage = storage ?? reader.string(forKey: "kms.storage", isSecret: true)
        c.seedFile = seed ?? reader.string(forKey: "kms.seed")
        c.seedRegion = seedRegion ?? reader.string(forKey: "kms.seedRegion", default: c.seedRegion)
        // --regions, or KMS_REGIONS / {"kms": {"regions": "us-east-1,eu-west-1"}}.
        if let list = regions ?? reader.string(forKey: "kms.regions") {
            do { c.regions = try ServedRegions.parse(list) } catch { throw ValidationError(String(describing: error)) }
        }
        do { _ = try StorageLocation(c.storage, dataDirectory: c.dataDirectory) }
        catch { throw ValidationError(String(describing: error)) }
        // KMS_ROOT_ACCESS_KEY_ID / KMS_ROOT_SECRET_ACCESS_KEY: root credentials for a data dir's first start.
        let rootId = reader.string(forKey: "kms.rootAccessKeyId")
        let rootSecret = reader.string(forKey: "kms.rootSecretAccessKey", isSecret: true)
        switch (rootId, rootSecret) {
        case (nil, nil): break
        case (let id?, let secret?):
            do { c.rootCredentialSeed = try RootCredentialSeed(accessKeyId: id, secretAccessKey: secret) }
            catch { throw ValidationError(String(describing: error)) }
        default:
            throw ValidationError("KMS_ROOT_ACCESS_KEY_ID and KMS_ROOT_SECRET_ACCESS_KEY go together: set both, or neither.")
        }
        if let ciphertextFormat {
            guard ciphertextFormat == 1 || ciphertextFormat == 2 else { throw ValidationError("--ciphertext-format must be 1 or 2") }
            c.ciphertextFormat = ciphertextFormat
        }
        let fsync = auditFsync ?? reader.string(forKey: "kms.auditFsync", default: "interval")
        guard let policy = AuditLog.FsyncPolicy(rawValue: fsync) else { throw ValidationError("--audit-fsync must be interval or always") }
        c.auditFsync = policy
        c.auditFsyncInterval = auditFsyncInterval ?? reader.double(forKey: "kms.auditFsyncInterval", default: 1)
        guard c.auditFsyncInterval > 0, c.auditFsyncInterval.isFinite else { throw ValidationError("--audit-fsync-interval must be positive") }
        c.auditDigest.interval = auditDigestInterval ?? reader.double(forKey: "kms.auditDigestInterval", default: 60)
        c.auditDigest.everyEvents = auditDigestEvents ?? reader.int(forKey: "kms.auditDigestEvents", default: 0)
        guard c.auditDigest.interval > 0, c.auditDigest.interval.isFinite else { throw ValidationError("--audit-digest-interval must be positive") }
        guard c.auditDigest.everyEvents >= 0 else { throw ValidationError("--audit-digest-events must be 0 or more") }
        if let days = auditRetentionDays ?? reader.double(forKey: "kms.auditRetentionDays") {
            guard days > 0, days.isFinite else { throw ValidationError("--audit-retention-days must be positive") }
            c.auditRetentionDays = days
        }
        switch audit ?? "on" {
        case "on": c.audit = true
        case "off": c.audit = false
        default: throw ValidationError("--audit must be on or off")
        }
        if let admin = adminListen ?? reader.string(forKey: "kms.adminListen") {
            guard let colon = admin.lastIndex(of: ":"), let p = Int(admin[admin.index(after: colon)...]), (0...65535).contains(p) else {
                throw ValidationError("--admin-listen must be HOST:PORT")
            }
            var host = String(admin[..<colon])
            if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            c.adminListen = (host, p)
        }
        c.shutdownGrace = shutdownGrace ?? reader.double(forKey: "kms.shutdownGrace", default: c.shutdownGrace)
        guard c.shutdownGrace >= 0, c.shutdownGrace.isFinite else { throw ValidationError("--shutdown-grace must be a number of seconds") }
        c.keyCacheCapacity = keyCacheSize ?? reader.int(forKey: "kms.keyCacheSize", default: c.keyCacheCapacity)
        guard c.keyCacheCapacity > 0 else { throw ValidationError("--key-cache-size must be positive") }
        c.changePollInterval = changePollInterval ?? c.changePollInterval
        guard c.changePollInterval > 0 else { throw ValidationError("--change-poll-interval must be positive") }
        // --oidc-jwks ISSUER=PATH (repeatable), or KMS_OIDC_JWKS / {"kms": {"oidcJwks": "ISSUER=PATH,ISSUER=PATH"}}.
        let jwksSettings = oidcJwks.isEmpty
            ? (reader.string(forKey: "kms.oidcJwks")?.split(separator: ",").map(String.init) ?? []) : oidcJwks
        for setting in jwksSettings {
            guard let eq = setting.firstIndex(of: "="), eq != setting.startIndex, setting.index(after: eq) != setting.endIndex else {
                throw ValidationError("--oidc-jwks takes ISSUER=PATH (e.g. https://oidc.example.com=/etc/kms/oidc-jwks.json)")
            }
            c.oidcJWKS[OIDCIssuer.hostPath(String(setting[..<eq]))] = String(setting[setting.index(after: eq)...])
        }
        c.oidcCAFile = oidcCAFile ?? reader.string(forKey: "kms.oidcCaFile")
        // --peer REGION=URL (repeatable), or KMS_PEERS / {"kms": {"peers": "REGION=URL,REGION=URL"}}.
        let peerSettings = peer.isEmpty ? (reader.string(forKey: "kms.peers")?.split(separator: ",").map(String.init) ?? []) : peer
        for setting in peerSettings {
            guard let eq = setting.firstIndex(of: "="), eq != setting.startIndex, setting.index(after: eq) != setting.endIndex else {
                throw ValidationError("--peer takes REGION=URL (e.g. eu-west-1=https://kms.eu.example.com:8443)")
            }
            c.peers[String(setting[..<eq])] = String(setting[setting.index(after: eq)...])
        }
        c.peerKeyFile = peerKeyFile ?? reader.string(forKey: "kms.peerKeyFile")
        c.peerRegion = peerRegion ?? reader.string(forKey: "kms.peerRegion")
        c.peerCAFile = peerCAFile ?? reader.string(forKey: "kms.peerCaFile")
        c.peerPollInterval = peerPollInterval ?? c.peerPollInterval
        c.peerMaxBackoff = peerMaxBackoff ?? reader.double(forKey: "kms.peerMaxBackoff", default: c.peerMaxBackoff)
        guard c.peerPollInterval > 0, c.peerMaxBackoff > 0, c.peerMaxBackoff.isFinite else {
            throw ValidationError("--peer-max-backoff must be a positive number of seconds")
        }
        // Custom key stores (issue 14).
        c.xksProxyCAFile = xksProxyCAFile ?? reader.string(forKey: "kms.xksProxyCaFile")
        if let ms = xksProxyTimeoutMs ?? reader.int(forKey: "kms.xksProxyTimeoutMs") {
            guard ms > 0 else { throw ValidationError("--xks-proxy-timeout-ms must be positive") }
            c.xksProxyTimeoutMilliseconds = ms
        }
        c.xksProxyClientCertificate = xksProxyClientCert
        c.xksProxyClientKey = xksProxyClientKey
        for setting in xksProxyConnectTo {
            guard let eq = setting.firstIndex(of: "="), eq != setting.startIndex else {
                throw ValidationError("--xks-proxy-connect-to takes NAME=HOST:PORT")
            }
            c.xksProxyConnectTo[String(setting[..<eq])] = String(setting[setting.index(after: eq)...])
        }
        for setting in pkcs11Cluster {
            guard let cluster = PKCS11Cluster.parse(setting) else {
                throw ValidationError("--pkcs11-cluster takes CLUSTER_ID=MODULE_PATH:TOKEN_LABEL (e.g. cluster-1a23b4cdefg=/usr/lib/softhsm/libsofthsm2.so:kms)")
            }
            c.pkcs11Clusters.append(cluster)
        }
        for setting in pkcs11ClusterTrustAnchor {
            guard let eq = setting.firstIndex(of: "="), let index = c.pkcs11Clusters.firstIndex(where: { $0.clusterId == setting[..<eq] }) else {
                throw ValidationError("--pkcs11-cluster-trust-anchor takes CLUSTER_ID=PEM_FILE for a cluster given with --pkcs11-cluster")
            }
            let path = String(setting[setting.index(after: eq)...])
            guard let pem = try? String(contentsOfFile: path, encoding: .utf8), let der = PKCS11Cluster.certificateDER(pem: pem) else {
                throw ValidationError("--pkcs11-cluster-trust-anchor: \(path) is not a readable PEM certificate")
            }
            c.pkcs11Clusters[index].trustAnchorDER = der
        }
        // --trusted-service NAME=IDENTITY (repeatable), or KMS_TRUSTED_SERVICES / {"kms": {"trustedServices": "NAME=ID,NAME=ID"}}.
        let trustedSettings = trustedService.isEmpty
            ? (reader.string(forKey: "kms.trustedServices")?.split(separator: ",").map(String.init) ?? []) : trustedService
        for setting in trustedSettings {
            do { try c.trustedServices.add(setting) } catch { throw ValidationError(error.description) }
        }
        try await KMSHTTPServer.run(c)
    }
}

extension Server {
    /// At most one root of trust besides the default file (issue 14). Each flag may also come
    /// from the environment (KMS_ROOT_PKCS11_MODULE, KMS_ROOT_PASSPHRASE_FILE, KMS_ROOT_KMS_KEY_ID, ...)
    /// or the config file ({"kms": {"rootPkcs11": {"module": ..., "token": ...}}}); a flag wins over both.
    func rootSpec(_ reader: ConfigReader) throws -> RootSpec? {
        let rootPkcs11Module = self.rootPkcs11Module ?? reader.string(forKey: "kms.rootPkcs11.module")
        let rootPkcs11Token = self.rootPkcs11Token ?? reader.string(forKey: "kms.rootPkcs11.token")
        let rootPkcs11PinFile = self.rootPkcs11PinFile ?? reader.string(forKey: "kms.rootPkcs11.pinFile")
        let rootPkcs11KeyLabel = self.rootPkcs11KeyLabel ?? reader.string(forKey: "kms.rootPkcs11.keyLabel")
        var rootPkcs11Slot = self.rootPkcs11Slot
        if rootPkcs11Slot == nil, let text = reader.string(forKey: "kms.rootPkcs11.slot") {
            guard let slot = UInt(text) else { throw ValidationError("KMS_ROOT_PKCS11_SLOT (rootPkcs11.slot) must be a slot number") }
            rootPkcs11Slot = slot
        }
        let rootPassphraseFile = self.rootPassphraseFile ?? reader.string(forKey: "kms.rootPassphrase.file")
        let rootPassphraseStdin = self.rootPassphraseStdin || reader.bool(forKey: "kms.rootPassphrase.stdin", default: false)
        let rootKmsKeyId = self.rootKmsKeyId ?? reader.string(forKey: "kms.rootKms.keyId")
        let rootKmsEndpoint = self.rootKmsEndpoint ?? reader.string(forKey: "kms.rootKms.endpoint")
        let rootKmsRegion = self.rootKmsRegion ?? reader.string(forKey: "kms.rootKms.region")
        let rootKeyFile = self.rootKeyFile ?? reader.string(forKey: "kms.rootKeyFile")
        var given: [RootSpec] = []
        if let module = rootPkcs11Module {
            guard (rootPkcs11Slot == nil) != (rootPkcs11Token == nil) else {
                throw ValidationError("--root-pkcs11-module needs exactly one of --root-pkcs11-slot and --root-pkcs11-token")
            }
            given.append(.pkcs11(module: module, slot: rootPkcs11Slot, token: rootPkcs11Token, pinFile: rootPkcs11PinFile,
                                 keyLabel: rootPkcs11KeyLabel ?? RootOfTrust.PKCS11Root.defaultKeyLabel))
        } else if rootPkcs11Slot != nil || rootPkcs11Token != nil || rootPkcs11PinFile != nil || rootPkcs11KeyLabel != nil {
            throw ValidationError("the --root-pkcs11-* options need --root-pkcs11-module")
        }
        if rootPassphraseFile != nil && rootPassphraseStdin { throw ValidationError("give --root-passphrase-file or --root-passphrase-stdin, not both") }
        if let file = rootPassphraseFile { given.append(.passphrase(file: file)) }
        if rootPassphraseStdin { given.append(.passphrase(file: nil)) }
        switch (rootKmsKeyId, rootKmsEndpoint, rootKmsRegion) {
        case (nil, nil, nil): break
        case (let key?, let endpoint?, let region?): given.append(.kms(keyId: key, endpoint: endpoint, region: region))
        default: throw ValidationError("auto-unseal needs --root-kms-key-id, --root-kms-endpoint and --root-kms-region together")
        }
        guard given.count <= 1 else { throw ValidationError("give one root of trust: a PKCS#11 token, a passphrase, or auto-unseal") }
        if !given.isEmpty && rootKeyFile != nil { throw ValidationError("--root-key-file is the file root; it does not go with another root") }
        return given.first
    }
}
