import Foundation
import Testing
import KMSCore
import KMSStorage
@testable import KMSServer

/// The peer link's message envelope and receiver: sealing and opening, wrong key, altered
/// fields, wrong receiver, replay, reordering, stale timestamps, unknown kinds, and wrapped
/// secrets never in clear in the serialized message.
@Suite struct PeerLinkTests {
    static let secret = Array(repeating: UInt8(0x5A), count: 32)

    static func key(_ byte: UInt8 = 0x5A, id: String = "pk-" + String(repeating: "ab", count: 16)) throws -> PeerKey {
        try PeerKey(keyId: id, secret: Array(repeating: byte, count: 32))
    }

    /// A receiver for eu-west-1 whose only peer is us-east-1, on a fresh SQLite store.
    static func receiver(key: PeerKey, now: Double = Date().timeIntervalSince1970) throws -> (PeerReceiver, SQLiteKeyStore) {
        let dir = NSTemporaryDirectory() + "kms-peer-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let store = try SQLiteKeyStore(path: dir + "/kms.sqlite", rootKey: try RootKey(bytes: Array(repeating: 7, count: 32)))
        let settings = PeerLinkSettings(localRegion: "eu-west-1", peers: ["us-east-1": "http://127.0.0.1:1"], key: key)
        return (PeerReceiver(settings: settings, store: store, now: { now }), store)
    }

    static func message(key: PeerKey, sequence: UInt64, kind: String = LinkCheck.kind, secrets: [[UInt8]]? = nil,
                        sender: String = "us-east-1", receiver: String = "eu-west-1",
                        sentAt: Double = Date().timeIntervalSince1970) throws -> PeerEnvelope {
        let keys = PeerLinkKeys(peerKey: key, sender: sender, receiver: receiver)
        return try PeerEnvelope.seal(keys: keys, sequence: sequence, kind: kind, body: "{\"n\":\(sequence)}",
                                     secrets: secrets ?? [PeerRandom.bytes(32)], sentAt: Int64(sentAt * 1000))
    }

    @Test func sealedMessageOpensAndWrappedSecretsAreNotInClear() throws {
        let key = try Self.key()
        let nonce = Array("THIS-IS-THE-SECRET-NONCE-32BYTE".utf8) + [0x21]
        let e = try Self.message(key: key, sequence: 1, secrets: [nonce])
        let wire = try e.encoded()
        let text = String(decoding: wire, as: UTF8.self)
        #expect(!text.contains("THIS-IS-THE-SECRET"))
        #expect(!text.contains(Base64.encode(nonce)))
        #expect(wire.count > 0 && !Self.contains(wire, nonce))
        let decoded = try PeerEnvelope.decode(wire)
        #expect(decoded == e)
        let keys = PeerLinkKeys(peerKey: key, sender: "us-east-1", receiver: "eu-west-1")
        #expect(decoded.hasValidMAC(keys.mac))
        #expect(try decoded.unwrapSecrets(keys) == [nonce])
        // The other direction's keys open nothing: a message cannot be reflected to its sender.
        let reverse = PeerLinkKeys(peerKey: key, sender: "eu-west-1", receiver: "us-east-1")
        #expect(!decoded.hasValidMAC(reverse.mac))
        #expect(throws: PeerLinkError.self) { try decoded.unwrapSecrets(reverse) }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        return (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<($0 + needle.count)]) == needle }
    }

    @Test func everyFieldIsCoveredByTheMAC() throws {
        let key = try Self.key()
        let keys = PeerLinkKeys(peerKey: key, sender: "us-east-1", receiver: "eu-west-1")
        let e = try Self.message(key: key, sequence: 3)
        var altered = [e, e, e, e, e, e, e]
        altered[0].sequence = 4
        altered[1].kind = "other"
        altered[2].body = "{\"n\":4}"
        altered[3].sentAt += 1
        altered[4].secrets = []
        altered[5].receiver = "eu-west-2"
        altered[6].keyId = "pk-" + String(repeating: "cd", count: 16)
        for a in altered { #expect(!a.hasValidMAC(keys.mac)) }
        #expect(e.hasValidMAC(keys.mac))
    }

    @Test func receiverAppliesInOrderAndRefusesReplayAndReordering() throws {
        let key = try Self.key()
        let (receiver, store) = try Self.receiver(key: key)
        let m1 = try Self.message(key: key, sequence: 1), m2 = try Self.message(key: key, sequence: 2)
        let m3 = try Self.message(key: key, sequence: 3)
        // Out of order: 2 before 1 is refused and nothing is recorded.
        #expect(throws: PeerLinkError.outOfOrder(expected: 1, got: 2)) { try receiver.accept(try m2.encoded()) }
        let ack1 = try receiver.accept(try m1.encoded())
        let inbound = PeerLinkKeys(peerKey: key, sender: "us-east-1", receiver: "eu-west-1")
        #expect(ack1.status == PeerAck.applied && ack1.isValid(inbound))
        // The link-check reply proves the receiver unwrapped the nonce with the same key.
        let outbox = PeerOutboxMessage(localRegion: "us-east-1", peerRegion: "eu-west-1", sequence: 1, kind: LinkCheck.kind,
                                       body: m1.body, secrets: try m1.unwrapSecrets(inbound), createdAt: 0)
        try LinkCheck().checkReply(ack1.reply, to: outbox, keys: inbound)
        let otherKeys = PeerLinkKeys(peerKey: try Self.key(0x11), sender: "us-east-1", receiver: "eu-west-1")
        #expect(throws: PeerLinkError.self) { try LinkCheck().checkReply(ack1.reply, to: outbox, keys: otherKeys) }
        // Replay of 1: not applied again; the signed answer says so.
        let replay = try receiver.accept(try m1.encoded())
        #expect(replay.status == PeerAck.duplicate && replay.lastAccepted == 1 && replay.isValid(inbound))
        #expect(receiver.applied.load(ordering: .relaxed) == 1)
        // 3 before 2: refused; then 2 and 3 in order.
        #expect(throws: PeerLinkError.outOfOrder(expected: 2, got: 3)) { try receiver.accept(try m3.encoded()) }
        #expect(try receiver.accept(try m2.encoded()).status == PeerAck.applied)
        #expect(try receiver.accept(try m3.encoded()).status == PeerAck.applied)
        #expect(receiver.applied.load(ordering: .relaxed) == 3)
        // Durable: a new receiver on the same store (a restart) still refuses the replay.
        let restarted = PeerReceiver(settings: receiver.settings, store: store)
        #expect(try restarted.accept(try m2.encoded()).status == PeerAck.duplicate)
        #expect(restarted.applied.load(ordering: .relaxed) == 0)
        #expect(try store.peerLinks().first?.lastReceivedSequence == 3)
        // The HTTP shape of a replay: 409 with the signed ack.
        #expect(restarted.receive(try m1.encoded()).status == .conflict)
    }

    @Test func receiverRefusesWrongKeyReceiverSenderStaleAndUnknownKind() throws {
        let key = try Self.key()
        let (receiver, store) = try Self.receiver(key: key)
        // Same key id, another secret: the MAC fails.
        let forged = try Self.message(key: try Self.key(0x11), sequence: 1)
        #expect(throws: PeerLinkError.self) { try receiver.accept(try forged.encoded()) }
        #expect(receiver.receive(try forged.encoded()).status == .forbidden)
        // Another key id altogether.
        let otherId = try Self.message(key: try Self.key(id: "pk-" + String(repeating: "01", count: 16)), sequence: 1)
        #expect(receiver.receive(try otherId.encoded()).status == .forbidden)
        // Altered after signing.
        var altered = try Self.message(key: key, sequence: 1)
        altered.body = "{\"n\":99}"
        #expect(receiver.receive(try altered.encoded()).status == .forbidden)
        // Addressed to another region; from a region that is not a peer.
        #expect(throws: PeerLinkError.wrongReceiver("eu-west-2")) {
            try receiver.accept(try Self.message(key: key, sequence: 1, receiver: "eu-west-2").encoded())
        }
        #expect(throws: PeerLinkError.unknownSender("ap-south-1")) {
            try receiver.accept(try Self.message(key: key, sequence: 1, sender: "ap-south-1").encoded())
        }
        // Stale or from the future beyond the skew window.
        #expect(throws: PeerLinkError.expired) {
            try receiver.accept(try Self.message(key: key, sequence: 1, sentAt: Date().timeIntervalSince1970 - 3600).encoded())
        }
        #expect(throws: PeerLinkError.expired) {
            try receiver.accept(try Self.message(key: key, sequence: 1, sentAt: Date().timeIntervalSince1970 + 3600).encoded())
        }
        // A kind nobody handles: refused, nothing applied or recorded.
        #expect(throws: PeerLinkError.unknownKind("replicate-key-v9")) {
            try receiver.accept(try Self.message(key: key, sequence: 1, kind: "replicate-key-v9").encoded())
        }
        // Garbage.
        #expect(receiver.receive(Array("not json".utf8)).status == .badRequest)
        #expect(receiver.applied.load(ordering: .relaxed) == 0)
        #expect(try store.peerLinks().allSatisfy { $0.lastReceivedSequence == 0 })
        // And the genuine first message is still accepted.
        #expect(try receiver.accept(try Self.message(key: key, sequence: 1).encoded()).status == PeerAck.applied)
    }

    @Test func peerKeyFileRoundTripsAndBadFilesAreRefused() throws {
        let dir = NSTemporaryDirectory() + "kms-peerkey-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/peer.key"
        let id = try PeerAdmin.makeKey(out: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try PeerKey.load(path: path).keyId == id)
        #expect(throws: (any Error).self) { try PeerAdmin.makeKey(out: path) }  // never overwritten
        chmod(path, 0o644)
        #expect(throws: PeerKey.Invalid.self) { try PeerKey.load(path: path) }  // readable by others
        for bad in ["{}", "not json", #"{"format": "kms-peer-key-v1", "keyId": "pk-00", "secret": "AAAA"}"#,
                    #"{"format": "kms-peer-key-v1", "keyId": "pk-\#(String(repeating: "0", count: 32))", "secret": "AAAA"}"#] {
            let p = dir + "/bad-" + UUID().uuidString
            try SecureFile.write(bad, to: p)
            #expect(throws: PeerKey.Invalid.self) { try PeerKey.load(path: p) }
        }
        #expect(throws: PeerKey.Invalid.self) { try PeerKey.load(path: dir + "/missing") }
    }
}
