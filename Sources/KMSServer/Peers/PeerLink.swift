import Foundation
import KMSCore
import KMSStorage
import NIOHTTP1
import Synchronization

/// This deployment's side of its peer links (`--peer REGION=URL`, `--peer-key-file`,
/// `--peer-region`): the configuration both the receiver and the outbox worker read.
struct PeerLinkSettings: Sendable {
    /// The region this deployment answers for on its links (the sender of what it sends,
    /// the receiver it checks incoming messages are addressed to).
    let localRegion: String
    /// Peer region → base URL (http or https).
    let peers: [String: String]
    let key: PeerKey
    /// Incoming messages whose sentAt is further than this from now are refused.
    var maxClockSkew: Double = 300

    func outbound(to peer: String) -> PeerLinkKeys { PeerLinkKeys(peerKey: key, sender: localRegion, receiver: peer) }
    func inbound(from peer: String) -> PeerLinkKeys { PeerLinkKeys(peerKey: key, sender: peer, receiver: localRegion) }
}

/// POST /_peer/v1/messages: checks a message (key, MAC, receiver, sender, timestamp, kind,
/// sequence), applies it through its kind's handler and answers with a signed ack.
/// Refusals apply nothing and record nothing. One message at a time per process, so the
/// sequence check, the handler and the record are not interleaved with another delivery.
final class PeerReceiver: Sendable {
    static let path = "/_peer/v1/messages"
    /// Larger bodies are refused before parsing (the listener's own limit is above this).
    static let maxBodyBytes = 256 * 1024

    let settings: PeerLinkSettings
    let store: any PeerLinkStore
    let handlers: PeerMessageHandlers
    let now: @Sendable () -> Double
    private let serial = Mutex(())
    /// Messages applied by this process (tests, logs).
    let applied = Atomic<Int>(0)

    init(settings: PeerLinkSettings, store: any PeerLinkStore, handlers: PeerMessageHandlers = PeerMessageHandlers(),
         now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.settings = settings
        self.store = store
        self.handlers = handlers
        self.now = now
    }

    /// The HTTP answer: status and JSON body. Blocks (store): call off the event loop.
    func receive(_ body: [UInt8]) -> (status: HTTPResponseStatus, body: [UInt8]) {
        do {
            let ack = try accept(body)
            return (ack.status == PeerAck.applied ? .ok : .conflict, try Array(JSONEncoder().encode(ack)))
        } catch let error as PeerLinkError {
            return (HTTPResponseStatus(statusCode: error.status), Self.errorBody(error.code, error.description))
        } catch {
            return (.internalServerError, Self.errorBody("PeerInternalError", "the message could not be recorded; retry"))
        }
    }

    static func errorBody(_ code: String, _ message: String) -> [UInt8] {
        let object: [String: String] = ["__type": code, "message": message]
        return (try? Array(JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))) ?? []
    }

    /// The checks, in an order where nothing is trusted before the MAC is: shape, key id,
    /// receiver, sender, MAC (constant time), timestamp, kind, sequence; then apply.
    func accept(_ body: [UInt8]) throws -> PeerAck {
        guard body.count <= Self.maxBodyBytes else { throw PeerLinkError.tooLarge }
        let envelope = try PeerEnvelope.decode(body)
        guard envelope.keyId == settings.key.keyId else {
            throw PeerLinkError.authentication("the message is under peer key \(envelope.keyId.prefix(40)), not this deployment's")
        }
        guard envelope.receiver == settings.localRegion else { throw PeerLinkError.wrongReceiver(String(envelope.receiver.prefix(64))) }
        guard settings.peers[envelope.sender] != nil else { throw PeerLinkError.unknownSender(String(envelope.sender.prefix(64))) }
        let keys = settings.inbound(from: envelope.sender)
        guard envelope.hasValidMAC(keys.mac) else {
            throw PeerLinkError.authentication("the message's MAC is wrong (another peer key, or the message was altered)")
        }
        guard abs(Double(envelope.sentAt) / 1000 - now()) <= settings.maxClockSkew else { throw PeerLinkError.expired }
        guard let handler = handlers[envelope.kind] else { throw PeerLinkError.unknownKind(String(envelope.kind.prefix(64))) }
        return try serial.withLock { _ in
            let last = try lastAccepted(from: envelope.sender)
            if envelope.sequence <= last {
                // A replay, or the sender retrying after a lost ack: applied once already, never again.
                return PeerAck.make(keys: keys, status: PeerAck.duplicate, sequence: envelope.sequence, lastAccepted: last, reply: "")
            }
            guard envelope.sequence == last + 1 else {
                throw PeerLinkError.outOfOrder(expected: last + 1, got: envelope.sequence)
            }
            let message = PeerInboundMessage(sender: envelope.sender, receiver: envelope.receiver, sequence: envelope.sequence,
                                             kind: envelope.kind, body: envelope.body, secrets: try envelope.unwrapSecrets(keys))
            var reply: String
            var status = PeerAck.applied
            do { reply = try handler.apply(message, keys: keys) }
            catch PeerLinkError.refused(let why) {
                // Never applicable here: recorded like an applied message so the link moves on,
                // and answered with a signed refusal the sender keeps as a dead letter.
                status = PeerAck.refused
                reply = Self.refusalReply(why)
                Console.line("kms: peer link: refused \(envelope.kind) #\(envelope.sequence) from \(envelope.sender) for good")
            }
            catch let error as PeerLinkError { throw error }
            catch { throw PeerLinkError.handlerFailed(String(describing: error)) }
            do {
                try store.recordPeerMessageAccepted(localRegion: settings.localRegion, peerRegion: envelope.sender,
                                                    sequence: envelope.sequence, now: now())
            } catch let conflict as PeerSequenceConflict where conflict.lastAccepted >= envelope.sequence {
                // Another node of this cluster accepted it meanwhile (handlers are idempotent).
                return PeerAck.make(keys: keys, status: PeerAck.duplicate, sequence: envelope.sequence,
                                    lastAccepted: conflict.lastAccepted, reply: "")
            }
            if status == PeerAck.applied {
                applied.add(1, ordering: .relaxed)
                Console.line("kms: peer link: applied \(envelope.kind) #\(envelope.sequence) from \(envelope.sender)")
            }
            return PeerAck.make(keys: keys, status: status, sequence: envelope.sequence, lastAccepted: envelope.sequence, reply: reply)
        }
    }

    /// A refusal's reply: why, as JSON (no secrets: handlers word their refusals without them).
    static func refusalReply(_ why: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: ["refused": String(why.prefix(400))], options: [.sortedKeys])
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    private func lastAccepted(from sender: String) throws -> UInt64 {
        try store.peerLinks().first { $0.localRegion == settings.localRegion && $0.peerRegion == sender }?.lastReceivedSequence ?? 0
    }
}

extension PeerReceiver {
    /// The pipeline's outcome for a message: run off the event loop (the store blocks).
    func outcome(_ body: [UInt8]) -> RequestPipeline.Outcome {
        .offload(RequestPipeline.BlockingWork(lane: .writes, account: "-peer", refuse: { _ in
            RequestPipeline.Response(status: .serviceUnavailable, body: Self.errorBody("PeerBusy", "busy; retry"),
                                     requestID: RequestID.next(), contentType: "application/json")
        }) { [self] in
            let (status, answer) = receive(body)
            return RequestPipeline.Response(status: status, body: answer, requestID: RequestID.next(), contentType: "application/json")
        })
    }
}
