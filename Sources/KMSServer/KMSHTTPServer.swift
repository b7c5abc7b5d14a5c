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
        let service = try KMSService(store: store, clock: SystemClock(offset: config.lifecycleClockOffset),
                                     ciphertextFormat: config.ciphertextFormat)
        if config.ciphertextFormat == 1 {
            FileHandle.standardError.write(Data("kms: warning: --ciphertext-format 1 is for benchmarks only: new ciphertexts use random nonces directly under the key material\n".utf8))
        }
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
        let pipeline = RequestPipeline(service: service, authenticator: authenticator)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: config.eventLoopThreads)
        let threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
        let maxBody = config.maxBodyBytes
        let flushers = FlushBatcher.perLoop(of: group)
        let idleTimeout = TimeAmount.milliseconds(Int64(config.idleTimeout * 1000))

        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 16)
            // Half-closing clients still get their answers (KMSHTTPHandler closes after them).
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    // Requests are framed by HTTPRequestFramer; responses are encoded by KMSHTTPHandler.
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(HTTPRequestFramer(maxBodyBytes: maxBody)))
                    try channel.pipeline.syncOperations.addHandler(
                        KMSHTTPHandler(pipeline: pipeline, threadPool: threadPool, maxBodyBytes: maxBody,
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
        try await threadPool.shutdownGracefully()
        try await group.shutdownGracefully()
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
