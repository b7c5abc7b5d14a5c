import Foundation
import KMSCore
import KMSStorage
import Logging
import NIOPosix
import Synchronization

/// Delivers each link's outbox in sequence order. A message leaves the outbox only once the
/// peer's signed ack says it was applied (now or before); while the peer is unreachable or
/// refuses, the worker retries the same message with exponential backoff (from
/// `initialBackoff`, doubling to `maxBackoff`), so nothing is skipped or reordered. Each
/// attempt is sealed afresh (a current timestamp) under the sequence fixed at enqueue.
/// On a PostgreSQL cluster only the node holding the job lease sends.
final class PeerOutboxWorker: Sendable {
    let settings: PeerLinkSettings
    let store: any PeerLinkStore
    let handlers: PeerMessageHandlers
    let client: PeerHTTPClient
    let lease: any JobLease
    let pollInterval: Double
    let initialBackoff: Double
    let maxBackoff: Double
    let logger: Logger
    private let tasks = Mutex<[Task<Void, Never>]>([])
    /// Per peer: ends an idle wait when a commit queued a message (`wake()`).
    private let wakeups: [String: PeerWakeup]

    init(settings: PeerLinkSettings, store: any PeerLinkStore, handlers: PeerMessageHandlers, client: PeerHTTPClient,
         lease: any JobLease, pollInterval: Double = 1, initialBackoff: Double = 0.5, maxBackoff: Double = 30,
         logger: Logger = Logger(label: "kms.peers")) {
        self.settings = settings
        self.store = store
        self.handlers = handlers
        self.client = client
        self.lease = lease
        self.pollInterval = pollInterval
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.logger = logger
        wakeups = Dictionary(uniqueKeysWithValues: settings.peers.keys.map { ($0, PeerWakeup()) })
    }

    /// A commit queued a message: idle links look at their outbox now, not at the next poll.
    /// A link backing off after a failure keeps its backoff.
    func wake() { for w in wakeups.values { w.wake() } }

    func start() {
        let started = settings.peers.keys.sorted().map { peer in
            Task.detached { [self] in await run(peer: peer) }
        }
        tasks.withLock { $0 += started }
    }

    func stop() {
        tasks.withLock { $0 }.forEach { $0.cancel() }
        wake()
    }

    private func run(peer: String) async {
        var backoff = initialBackoff
        while !Task.isCancelled {
            var wait = pollInterval
            var wakeable = false
            if lease.isHeld {
                let outcome = (try? await NIOThreadPool.singleton.runIfActive { [self] in deliverPending(to: peer) }) ?? .failed
                switch outcome {
                case .idle: backoff = initialBackoff; wakeable = true
                case .delivered: backoff = initialBackoff; wait = 0
                case .failed:
                    wait = backoff
                    backoff = min(maxBackoff, backoff * 2)
                }
            }
            if wait > 0 {
                if wakeable, let wakeup = wakeups[peer] { await wakeup.wait(seconds: wait) }
                else { try? await Task.sleep(nanoseconds: UInt64(wait * 1_000_000_000)) }
            }
        }
    }

    enum Outcome { case idle, delivered, failed }

    /// Sends the link's pending messages in order until one fails. Blocking.
    func deliverPending(to peer: String, batch: Int = 16) -> Outcome {
        let pending: [PeerOutboxMessage]
        do {
            pending = try store.pendingPeerMessages(localRegion: settings.localRegion, peerRegion: peer, limit: batch)
        } catch {
            logger.error("peer link \(peer): cannot read the outbox: \(error)")
            return .failed
        }
        guard !pending.isEmpty else { return .idle }
        for message in pending {
            do {
                try deliver(message)
            } catch {
                let text = String(describing: error)
                logger.warning("peer link \(peer): #\(message.sequence) \(message.kind) not delivered: \(text)")
                try? store.recordPeerDeliveryAttempt(localRegion: settings.localRegion, peerRegion: peer,
                                                     error: String(text.prefix(500)), now: Date().timeIntervalSince1970)
                return .failed
            }
        }
        return .delivered
    }

    /// One message: seal, POST, check the signed ack, then remove it from the outbox.
    func deliver(_ message: PeerOutboxMessage) throws {
        guard let url = settings.peers[message.peerRegion] else { throw PeerHTTPClient.Failure("no URL for peer \(message.peerRegion)") }
        let keys = settings.outbound(to: message.peerRegion)
        let envelope = try PeerEnvelope.seal(keys: keys, sequence: message.sequence, kind: message.kind, body: message.body,
                                             secrets: message.secrets, sentAt: Int64(Date().timeIntervalSince1970 * 1000))
        let (status, answer) = try client.post(baseURL: url, path: PeerReceiver.path, body: try envelope.encoded())
        guard status == 200 || status == 409, let ack = try? JSONDecoder().decode(PeerAck.self, from: Data(answer)), ack.isValid(keys),
              ack.sequence == message.sequence else {
            let refusal = (try? JSONSerialization.jsonObject(with: Data(answer)) as? [String: Any]).flatMap { o -> String? in
                guard let code = o["__type"] as? String else { return nil }
                return code + ": " + ((o["message"] as? String) ?? "")
            }
            throw PeerHTTPClient.Failure("HTTP \(status)" + (refusal.map { " " + $0 } ?? " without a valid signed ack"))
        }
        let now = Date().timeIntervalSince1970
        if ack.status == PeerAck.applied {
            try handlers[message.kind]?.checkReply(ack.reply, to: message, keys: keys)
        } else if ack.status == PeerAck.refused {
            // Authentic (signed) and final: kept as a dead letter for `kms admin peers`, not retried.
            try store.deadLetterPeerMessage(localRegion: message.localRegion, peerRegion: message.peerRegion,
                                            sequence: message.sequence, reason: String(ack.reply.prefix(500)), now: now)
            try store.recordPeerDeliveryAttempt(localRegion: message.localRegion, peerRegion: message.peerRegion, error: nil, now: now)
            logger.warning("peer link \(message.peerRegion): #\(message.sequence) \(message.kind) refused for good; kept as a dead letter")
            Console.line("kms: peer link: \(message.peerRegion) refused \(message.kind) #\(message.sequence): dead letter")
            return
        } else if !(ack.status == PeerAck.duplicate && ack.lastAccepted >= message.sequence) {
            throw PeerHTTPClient.Failure("the peer did not apply #\(message.sequence) (\(ack.status))")
        }
        try store.removePeerMessage(localRegion: message.localRegion, peerRegion: message.peerRegion, sequence: message.sequence)
        try store.recordPeerDeliveryAttempt(localRegion: message.localRegion, peerRegion: message.peerRegion, error: nil, now: now)
        Console.line("kms: peer link: \(message.peerRegion) acknowledged \(message.kind) #\(message.sequence) (\(ack.status))")
    }
}

/// An idle wait that a commit can end early: `wait(seconds:)` returns after the time, or at
/// once on `wake()` (also one that came while nobody was waiting, so none is missed).
final class PeerWakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
        var token: UInt64 = 0
    }

    private let state = Mutex(State())

    func wake() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { s in
            guard let w = s.waiter else { s.pending = true; return nil }
            s.waiter = nil
            return w
        }
        waiter?.resume()
    }

    func wait(seconds: Double) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let token: UInt64? = state.withLock { s in
                if s.pending { s.pending = false; return nil }
                s.token &+= 1
                s.waiter = c
                return s.token
            }
            guard let token else { return c.resume() }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
                // Only this wait's timer resumes it (a woken wait's timer finds another token or none).
                let waiter: CheckedContinuation<Void, Never>? = state.withLock { s in
                    guard s.token == token, let w = s.waiter else { return nil }
                    s.waiter = nil
                    return w
                }
                waiter?.resume()
            }
        }
    }
}
