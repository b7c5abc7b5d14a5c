import Foundation
import KMSCore
import KMSStorage
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// `kms server`: opens the data directory (root key, SQLite store, credentials), starts
/// the background deletion job and serves the AWS KMS JSON protocol until SIGINT/SIGTERM.
public enum KMSHTTPServer {
    public static func run(_ config: ServerConfiguration, logger: Logger = Logger(label: "kms")) async throws {
        try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let rootKey = try RootKey.loadOrCreate(path: config.resolvedRootKeyPath)
        let store = try SQLiteKeyStore(path: config.dataDirectory + "/kms.sqlite", rootKey: rootKey)
        let service = try KMSService(store: store, clock: SystemClock(offset: config.lifecycleClockOffset))
        let (credentials, created) = try CredentialRegistry.bootstrap(store: store, account: config.devAccount,
                                                                       dataDirectory: config.dataDirectory)
        if let created {
            // Printed once, on the start that created them; afterwards only the file has them.
            Console.line("""
                kms: created root credentials for account \(created.account) (also in \(config.dataDirectory)/credentials):
                kms:   aws_access_key_id = \(created.accessKeyId)
                kms:   aws_secret_access_key = \(created.secretAccessKey)
                """)
        }
        let authenticator = Authenticator(credentials: credentials, dev: config.dev, devAccount: config.devAccount)
        let pipeline = RequestPipeline(service: service, authenticator: authenticator, quotas: config.quotas)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: config.eventLoopThreads)
        let blockingQueue = BlockingWorkQueue()
        blockingQueue.start()
        let maxBody = config.maxBodyBytes
        let flushers = FlushBatcher.perLoop(of: group)
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
        let port = channel.localAddress?.port ?? config.port
        Console.line("kms: listening on http://\(config.host):\(port)\(config.dev ? " (dev mode: signatures not checked)" : "")")

        let sweeper = Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(config.deletionSweepInterval * 1_000_000_000))
                do {
                    let deleted = try service.sweepDeletions()
                    if deleted > 0 { logger.info("deleted \(deleted) key(s) whose deletion window ended") }
                } catch {
                    logger.error("deletion sweep failed: \(error)")
                }
            }
        }

        let signals = SignalWatcher(signals: [SIGINT, SIGTERM]) {
            channel.close(promise: nil)
        }
        try await channel.closeFuture.get()
        signals.cancel()
        sweeper.cancel()
        try await blockingQueue.shutdownGracefully()
        try await group.shutdownGracefully()
        // What the limits refused while the server ran (tests and operators read these).
        Console.line("kms: throttled \(pipeline.quotas?.throttled.load(ordering: .relaxed) ?? 0) request(s) over quota, "
            + "\(blockingQueue.rejected.load(ordering: .relaxed)) with a full blocking queue; "
            + "refused \(limiter.refused.load(ordering: .relaxed)) connection(s) over --max-connections")
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
}
