import AWSQuery
import Foundation
import KMSCore
import KMSStorage
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// `kms server`: opens the data directory (root key, SQLite store, credentials), starts
/// the background deletion job and serves the AWS KMS JSON protocol until SIGINT/SIGTERM.
public enum KMSHTTPServer {
    public static func run(_ config: ServerConfiguration, logger: Logger = Logger(label: "kms")) async throws {
        try ProcessHardening.apply(allowCoreDumps: config.allowCoreDumps)
        let tls = try ServerTLS.configured(certificatePath: config.tlsCertificatePath,
                                              privateKeyPath: config.tlsPrivateKeyPath)
        try ListenAddress.requireSafe(host: config.host, tls: tls != nil, insecureHTTP: config.insecureHTTP)
        // Checked before anything in the data dir is opened: its mode, and who may read it.
        if let adopted = try DataDirectory.prepare(path: config.dataDirectory, mode: config.dev ? .dev : .production) {
            Console.line(adopted)
        }
        // The root of trust (file, PKCS#11 token, passphrase, or auto-unseal through another KMS),
        // checked against the data dir's root record before the store is opened.
        let rootOfTrust = try (config.root ?? .file(path: config.resolvedRootKeyPath)).resolve(dataDirectory: config.dataDirectory)
        // Off the concurrency pool: a token login or an unseal call to another KMS blocks.
        let rootKey = try await NIOThreadPool.singleton.runIfActive { try rootOfTrust.open(dataDirectory: config.dataDirectory) }
        if config.root != nil { Console.line("kms: root of trust: \(rootOfTrust.description)") }
        let storage = try StorageLocation(config.storage, dataDirectory: config.dataDirectory)
        // Stores block their caller (PostgreSQL waits on its client): off the Swift
        // concurrency pool and off the event loops, on a thread meant for blocking.
        let metrics = ServerMetrics()
        let (service, credentials, created, store, identities) = try await NIOThreadPool.singleton.runIfActive {
            let store = try storage.open(rootKey: rootKey)
            // IAM identities (issue 9), from the same store; key policies may name them.
            let identities = try IdentityRegistry(store: store)
            // Grants: in memory per key for authorization; their tokens MACed under a key every node derives.
            let grants = try GrantRegistry(store: store, tokenKey: rootKey.derivedKey(purpose: "grant-token-v1"),
                                           clock: SystemClock(offset: config.lifecycleClockOffset))
            // Event loops never wait for the store: a cache miss there is re-run off the loop.
            let service = try KMSService(store: store, clock: SystemClock(offset: config.lifecycleClockOffset),
                                         ciphertextFormat: config.ciphertextFormat, grants: grants, principalDirectory: identities,
                                         cacheCapacity: config.keyCacheCapacity,
                                         mayBlock: { MultiThreadedEventLoopGroup.currentEventLoop == nil },
                                         observeStore: { metrics.observeStore($0, $1) },
                                         importTokenKey: rootKey.derivedKey(label: "import-token-v1"))
            // Custom key stores: the XKS proxy client and the PKCS#11 cluster map (issue 14).
            try XKSWiring.configure(service, config)
            // --seed: created before the listener opens, so the first request sees them.
            if let seedFile = config.seedFile {
                let seed = try SeedFile.load(path: seedFile, defaultAccount: config.devAccount, defaultRegion: config.seedRegion, dev: config.dev)
                do {
                    let made = try service.applySeed(seed)
                    Console.line("kms: seed file \(seedFile): \(made) new keys and aliases in account \(seed.account), \(seed.region)")
                } catch let error as KMSError {
                    throw SeedFile.Failure(error.message ?? error.code.rawValue)
                }
            }
            let (credentials, created) = try CredentialRegistry.bootstrap(store: store, account: config.devAccount,
                                                                           dataDirectory: config.dataDirectory,
                                                                           seed: config.rootCredentialSeed)
            return (service, credentials, created, store, identities)
        }
        // A cluster node (PostgreSQL): follow other nodes' changes, and take part in
        // choosing the one node that runs the background jobs.
        let cluster = try await NIOThreadPool.singleton.runIfActive {
            // Held whole in memory, so re-read when another node changes them.
            var followers: [any StoreChangeFollower] = [identities, credentials]
            if let grants = service.grants as? GrantRegistry { followers.append(grants) }
            return try ClusterMembership.join(store: store, registry: service.registry, pollInterval: config.changePollInterval,
                                              followers: followers)
        }
        if cluster.feed != nil {
            // Other nodes write the same store: identities and grants read through on a miss or a denial.
            let mayBlock: @Sendable () -> Bool = { MultiThreadedEventLoopGroup.currentEventLoop == nil }
            identities.readThrough.enable(mayBlock: mayBlock)
            (service.grants as? GrantRegistry)?.readThrough.enable(mayBlock: mayBlock)
            service.freshManagementReads.enable(mayBlock: mayBlock)
        }
        if config.ciphertextFormat == 1 {
            FileHandle.standardError.write(Data("kms: warning: --ciphertext-format 1 is for benchmarks only: new ciphertexts use random nonces directly under the key material\n".utf8))
        }
        let credentialsFile = config.dataDirectory + "/credentials"
        switch created {
        case .created(let credential, let seeded):
            // The secret is never printed (logs outlive it); only the 0600 file holds it.
            Console.line("""
                kms: created root credentials for account \(credential.account)\(seeded ? " from KMS_ROOT_ACCESS_KEY_ID / KMS_ROOT_SECRET_ACCESS_KEY" : ""): \
                access key id \(credential.accessKeyId); the secret access key is in \(credentialsFile) (mode 0600)
                """)
        case .seedIgnored(let existingId):
            Console.error("""
                kms: warning: KMS_ROOT_ACCESS_KEY_ID / KMS_ROOT_SECRET_ACCESS_KEY are ignored: \(config.dataDirectory) \
                already has root credentials (access key id \(existingId)), set at its first start; they are in \(credentialsFile)
                """)
        case .existing:
            break
        }
        var authenticator = Authenticator(credentials: credentials, dev: config.dev, devAccount: config.devAccount,
                                          identities: identities)
        // The query-protocol services on the same endpoint: IAM (issue 9).
        var queryServices = QueryServices()
        var iam = IAMService(registry: identities)
        iam.kms = service  // the policy simulator reads keys' policies and grants
        queryServices.register(iam.queryService())
        // STS session tokens: sealed under a key derived from the root key, verified on every request.
        let stsDirectory = IAMSTSDirectory(registry: identities, credentials: credentials, jwksFiles: config.oidcJWKS,
                                           discovery: OIDCDiscovery(caFile: config.oidcCAFile))
        let sts = STSWiring(rootKey: rootKey, clock: service.clock, directory: stsDirectory, identity: stsDirectory)
        authenticator.sessions = sts.sessions
        authenticator.freshness = cluster.feed?.freshness
        authenticator.trustedServices = config.trustedServices
        // The audit trail: one event per request, written before its response leaves.
        let audit: AuditLog? = try config.audit ? AuditLog(dataDirectory: config.dataDirectory, policy: config.auditFsync,
                                                             fallbackAccount: config.devAccount,
                                                             digestSigner: AuditDigestSigner(rootKey: rootKey),
                                                             digestPolicy: config.auditDigest,
                                                             keyUsage: service.keyUsage,
                                                             retentionDays: config.auditRetentionDays) : nil
        // On-demand rotations leave CloudTrail's RotateKey service event, as automatic ones do.
        if let audit {
            service.rotationEvents.install { event in
                _ = audit.appendServiceEvent(eventName: "RotateKey", account: event.account, region: event.region,
                                             keyArn: event.keyArn, details: event.details)
            }
            // Multi-Region steps leave a service event in each region they change (CreateKey
            // for a new replica, UpdatePrimaryRegion, SynchronizeMultiRegionKey).
            service.multiRegion.install { event in
                _ = audit.appendServiceEvent(eventName: event.eventName, account: event.account, region: event.region,
                                             keyArn: event.keyArn, details: event.details.map { ("step", $0) })
            }
        }
        if audit == nil {
            Console.error("kms: WARNING: --audit off: NO AUDIT TRAIL. Calls are not recorded; nobody can tell who used, "
                + "disabled or deleted which key. For benchmarks only; never run a real service like this.")
        }
        queryServices.register(STSQueryService.make(model: .sts, sts: sts).serving(regions: config.regions))
        // Served regions (ServedRegions.swift): KMS and STS refuse others; ReplicateKey routes by them.
        authenticator.serve(regions: config.regions)
        service.multiRegion.configure(servedRegions: config.regions)
        var configured = RequestPipeline(service: service, authenticator: authenticator, quotas: config.quotas, audit: audit,
                                         secureTransport: tls != nil, queryServices: queryServices)
        // A cluster node ships its own audit records to PostgreSQL, where LookupEvents and
        // GetKeyLastUsage see every node's (AuditClusterShipper).
        let auditShipper: AuditClusterShipper? = try await NIOThreadPool.singleton.runIfActive {
            guard let audit, let postgres = store as? PostgresKeyStore else { return nil }
            return try AuditClusterShipper(trail: PostgresAuditTrail(store: postgres), audit: audit, tracker: service.keyUsage)
        }
        auditShipper?.start()
        configured.clusterAudit = auditShipper
        // The peer link between deployments (issue 13 §3): messages arrive on this listener;
        // the outbox is delivered in the background (on a cluster, by the lease holder).
        let peerLink = try PeerLinkWiring.make(config, store: store, lease: cluster.lease, service: service)
        configured.peers = peerLink?.receiver
        peerLink?.worker.start()
        let drain = ShutdownDrain()
        let operations = OperationsEndpoints(readiness: { try (store as? any StoreReadiness)?.checkReady() },
                                             metrics: { metrics.exposition(service: service, cluster: cluster)
                                                 + AuditMetrics.exposition(audit: audit, shipper: auditShipper) },
                                             draining: drain)
        if config.adminListen == nil { configured.operations = operations }
        configured.metrics = metrics.requests
        let pipeline = configured
        let adminPipeline: RequestPipeline = {
            var p = RequestPipeline(service: service, authenticator: authenticator)
            p.operations = operations
            p.operationsOnly = true
            return p
        }()

        let group = MultiThreadedEventLoopGroup(numberOfThreads: config.eventLoopThreads)
        let blockingQueue = BlockingWorkQueue()
        blockingQueue.start()
        let maxBody = config.maxBodyBytes
        let flushers = FlushBatcher.perLoop(of: group, audit: audit)
        let idleTimeout = TimeAmount.milliseconds(Int64(config.idleTimeout * 1000))
        let requestTimeout = TimeAmount.milliseconds(Int64(config.requestTimeout * 1000))
        let limiter = ConnectionLimiter(maxConnections: config.maxConnections)
        ConnectionLimiter.raiseOpenFileLimit(toAtLeast: config.maxConnections + 64)

        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            // At most 4 reads of at most 16 KiB per connection per event-loop turn: a client
            // that pipelines thousands of requests gets ~150 answered per turn, then the other
            // connections of the loop get theirs (with 16 x 64 KiB, one turn was ~2,000).
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 4)
            .childChannelOption(ChannelOptions.recvAllocator,
                                value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: 16 * 1024))
            // Half-closing clients still get their answers (KMSHTTPHandler closes after them).
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            // Unsent responses past 64 KiB make the channel unwritable, and KMSHTTPHandler
            // stops reading that client until they drain below 32 KiB.
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 32 * 1024, high: 64 * 1024))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard limiter.admit(channel) else {
                        try channel.pipeline.syncOperations.addHandler(ConnectionLimiter.Refuse())
                        return
                    }
                    drain.track(channel)
                    // TLS first: everything after it sees plaintext. The context is read per
                    // connection, so a SIGHUP reload applies to the next connection accepted.
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.current)) }
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    // Requests are framed by HTTPRequestFramer; responses are encoded by KMSHTTPHandler.
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(HTTPRequestFramer(maxBodyBytes: maxBody, requestTimeout: requestTimeout)))
                    try channel.pipeline.syncOperations.addHandler(
                        KMSHTTPHandler(pipeline: pipeline, blockingQueue: blockingQueue, maxBodyBytes: maxBody,
                                       flusher: flushers[ObjectIdentifier(channel.eventLoop)]))
                }
            }
        let channel = try await bootstrap.bind(host: config.host, port: config.port).get()
        var adminChannel: (any Channel)?
        if let admin = config.adminListen {
            adminChannel = try await ServerBootstrap(group: group)
                .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(HTTPRequestFramer(maxBodyBytes: 4096, requestTimeout: requestTimeout)))
                        try channel.pipeline.syncOperations.addHandler(
                            KMSHTTPHandler(pipeline: adminPipeline, blockingQueue: blockingQueue, maxBodyBytes: 4096))
                    }
                }
                .bind(host: admin.host, port: admin.port).get()
        }
        if let adminChannel {
            Console.line("kms: health and metrics on http://\(ListenAddress.urlHost(config.adminListen?.host ?? "")):\(adminChannel.localAddress?.port ?? 0)")
        }
        let port = channel.localAddress?.port ?? config.port
        let address = "\(tls == nil ? "http" : "https")://\(ListenAddress.urlHost(config.host)):\(port)"
        if config.dev {
            Console.error("""
                kms: WARNING: dev mode: signatures are not checked. Anyone who can reach \(address) can use and \
                manage every key in \(config.dataDirectory), under any account. Never expose it; never give it real keys.
                """)
        }
        if tls == nil, !ListenAddress.isLoopback(config.host) {
            Console.error("""
                kms: WARNING: --insecure-http: serving plain HTTP on \(address), reachable from the network. \
                Requests, plaintexts and data keys cross it unencrypted; only do this behind a TLS-terminating proxy.
                """)
        }
        Console.line("kms: listening on \(address)\(config.dev ? " (dev mode: signatures not checked)" : "")")

        let sweeper = Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(config.deletionSweepInterval * 1_000_000_000))
                // Stopping cancels the sleep: no run then (each job would fail with
                // CancellationError, logged as an error at every clean stop).
                if Task.isCancelled { break }
                // On a cluster, only the node holding the job lease runs the sweep.
                guard cluster.lease.isHeld else { continue }
                do {
                    // AwsServiceEvent records first: a key whose event cannot be written is
                    // not deleted (the next sweep tries again). Off the concurrency pool: the
                    // store and the audit file block their caller.
                    let deleted = try await NIOThreadPool.singleton.runIfActive { () throws -> Int in
                        var recorded: Set<String>?
                        if let audit {
                            recorded = Set(try service.dueDeletions().filter {
                                audit.appendServiceEvent(eventName: "DeleteKey", account: $0.account, region: $0.region, keyArn: $0.arn)
                            }.map(\.arn))
                        }
                        return try recorded?.isEmpty == true ? 0 : service.sweepDeletions(only: recorded)
                    }
                    if deleted > 0 { logger.info("deleted \(deleted) key(s) whose deletion window ended") }
                    metrics.jobRan(ok: true)
                    try await NIOThreadPool.singleton.runIfActive {
                        try cluster.feed?.prune()
                        if let counts = try (store as? any StoreStatistics)?.keyCountsByState() { metrics.setKeyCounts(counts) }
                    }
                } catch {
                    metrics.jobRan(ok: false)
                    logger.error("deletion sweep failed: \(error)")
                }
                do {
                    let rotated = try await NIOThreadPool.singleton.runIfActive { try KeyRotationJob.runOnce(service: service, audit: audit) }
                    if rotated > 0 { logger.info("rotated \(rotated) key(s) whose automatic rotation fell due") }
                } catch {
                    logger.error("key rotation run failed: \(error)")
                }
                // Multi-Region steps a stopped server left half done (a replica in Creating, keys in Updating).
                do {
                    _ = try await NIOThreadPool.singleton.runIfActive { try service.resumeMultiRegionSteps() }
                } catch {
                    logger.error("multi-Region resume failed: \(error)")
                }
                do {
                    let expired = try await NIOThreadPool.singleton.runIfActive { try KeyMaterialExpiryJob.runOnce(service: service, audit: audit) }
                    if expired > 0 { logger.info("deleted the expired imported key material of \(expired) key(s)") }
                } catch {
                    logger.error("imported key material expiry run failed: \(error)")
                }
            }
        }

        // Grants created or removed by other nodes sharing the store take effect here within
        // this interval (until then, a new grant's token proves it).
        let grantRefresh = (service.grants as? GrantRegistry).map { grants in
            Task.detached {
                while !Task.isCancelled {
                    // On a cluster the change feed re-reads a key's grants as they change: this is only the fallback.
                    let interval = cluster.feed == nil ? GrantRegistry.refreshInterval : GrantRegistry.tokenLifetime
                    try? await Task.sleep(nanoseconds: UInt64(interval * 1_000_000_000))
                    if Task.isCancelled { break }  // stopping: no reload (as the sweep above)
                    do {
                        try await NIOThreadPool.singleton.runIfActive { try grants.reload() }
                    } catch {
                        logger.error("grant refresh failed: \(error)")
                    }
                }
            }
        }

        // fsync of the audit trail on a timer (with --audit-fsync always, every group is fsynced).
        let auditSync = audit.map { audit in
            Task.detached {
                while !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: UInt64(config.auditFsyncInterval * 1_000_000_000))
                    audit.sync()
                }
            }
        }

        // SIGINT/SIGTERM: ready answers 503, the listener closes, open connections finish
        // what they received (up to --shutdown-grace seconds), then the process stops.
        let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) {
            channel.close(promise: nil)
        }
        // SIGHUP re-reads the TLS certificate and key; a bad pair keeps the old context.
        let reloads = tls.map { tls in
            SignalWatcher(signals: [SIGHUP]) {
                if let error = tls.reload() {
                    Console.error("kms: SIGHUP: TLS certificate not reloaded, still serving the previous one: \(error)")
                } else {
                    Console.line("kms: SIGHUP: reloaded the TLS certificate \(tls.certificatePath) and key \(tls.privateKeyPath)")
                }
            }
        }
        try await channel.closeFuture.get()
        Console.line("kms: draining \(drain.openChannels) connection(s), up to \(config.shutdownGrace) s")
        await drain.drain(deadline: config.shutdownGrace)
        try? await adminChannel?.close()
        peerLink?.worker.stop()
        cluster.stop()
        signals.cancel()
        reloads?.cancel()
        sweeper.cancel()
        grantRefresh?.cancel()
        auditSync?.cancel()
        try await blockingQueue.shutdownGracefully()
        try await group.shutdownGracefully()
        // What the limits refused while the server ran (tests and operators read these).
        Console.line("kms: throttled \(pipeline.quotas?.throttled.load(ordering: .relaxed) ?? 0) request(s) over quota, "
            + "\(blockingQueue.rejected.load(ordering: .relaxed)) with a full blocking queue; "
            + "refused \(limiter.refused.load(ordering: .relaxed)) connection(s) over --max-connections")
        if let audit {
            audit.sync(final: true)  // and the last signed digest
            Console.line("kms: audit: \(audit.writeFailures) event(s) could not be written")
        }
        if let auditShipper {
            // The last records reach the cluster trail before the process ends.
            _ = try? await NIOThreadPool.singleton.runIfActive { auditShipper.stop() }
            Console.line("kms: audit: \(auditShipper.shipped) event(s) shipped to the cluster trail by this process")
        }
        Console.line("kms: stopped")
    }
}

/// Turns SIGINT/SIGTERM into a clean shutdown.
final class SignalWatcher: @unchecked Sendable {  // the sources are only cancelled once
    private let sources: [any DispatchSourceSignal]

    init(signals: [Int32], onSignal: @escaping @Sendable () -> Void) {
        let queue = DispatchQueue(label: "kms.signals")
        sources = signals.map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler(handler: onSignal)
            source.resume()
            return source
        }
    }

    func cancel() { sources.forEach { $0.cancel() } }
}

/// Unbuffered lines on standard output, so a supervisor (or a test) sees them at once.
enum Console {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// Warnings and refusals go to standard error.
    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
