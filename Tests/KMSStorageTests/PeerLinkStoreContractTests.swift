import Foundation
import Testing
import KMSCore
@testable import KMSStorage

/// The peer link's tables on every backend: sequences handed out in order and never
/// twice (also by two store instances at once), the outbox in order with secrets sealed
/// at rest, acknowledged messages removed, and the accepted sequence conditional.
@Suite(.serialized) struct PeerLinkStoreContractTests {
    @Test(arguments: StoreBackend.allCases)
    func outboxKeepsOrderSealsSecretsAndRemovesOnAck(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try #require(try scratch.open() as? any PeerLinkStore)
        let secret = Array("peer-secret-in-clear-0123456789ab".utf8)
        for i in 1...3 {
            let s = try store.enqueuePeerMessage(NewPeerMessage(localRegion: "us-east-1", peerRegion: "eu-west-1", kind: "k\(i)",
                                                                body: "{\"i\":\(i)}", secrets: [secret]), now: Double(i))
            #expect(s == UInt64(i))
        }
        // Another link counts on its own.
        #expect(try store.enqueuePeerMessage(NewPeerMessage(localRegion: "us-east-1", peerRegion: "ap-south-1", kind: "k", body: "{}"),
                                             now: 9) == 1)
        let pending = try store.pendingPeerMessages(localRegion: "us-east-1", peerRegion: "eu-west-1", limit: 10)
        #expect(pending.map(\.sequence) == [1, 2, 3] && pending.map(\.kind) == ["k1", "k2", "k3"])
        #expect(pending.allSatisfy { $0.secrets == [secret] })
        #expect(try store.pendingPeerMessages(localRegion: "us-east-1", peerRegion: "eu-west-1", limit: 2).count == 2)
        // Sealed at rest: the clear secret is nowhere in the SQLite file.
        if backend == .sqlite {
            let file = try Data(contentsOf: URL(fileURLWithPath: scratch.dir + "/kms.sqlite"))
                + ((try? Data(contentsOf: URL(fileURLWithPath: scratch.dir + "/kms.sqlite-wal"))) ?? Data())
            #expect(file.range(of: Data(secret)) == nil)
        }
        try store.removePeerMessage(localRegion: "us-east-1", peerRegion: "eu-west-1", sequence: 1)
        try store.removePeerMessage(localRegion: "us-east-1", peerRegion: "eu-west-1", sequence: 1)  // idempotent
        // Sequences keep counting after removals (never reused), and another instance sees the same rows.
        let other = try #require(try scratch.open() as? any PeerLinkStore)
        #expect(try other.enqueuePeerMessage(NewPeerMessage(localRegion: "us-east-1", peerRegion: "eu-west-1", kind: "k4", body: "{}"),
                                             now: 4) == 4)
        #expect(try other.pendingPeerMessages(localRegion: "us-east-1", peerRegion: "eu-west-1", limit: 10).map(\.sequence) == [2, 3, 4])
        try store.recordPeerDeliveryAttempt(localRegion: "us-east-1", peerRegion: "eu-west-1", error: "connection refused", now: 10)
        try store.recordPeerDeliveryAttempt(localRegion: "us-east-1", peerRegion: "eu-west-1", error: nil, now: 11)
        let link = try #require(try other.peerLinks().first { $0.peerRegion == "eu-west-1" })
        #expect(link.lastSentSequence == 4 && link.pending == 3 && link.lastError == "connection refused"
                && link.lastErrorAt == 10 && link.lastSuccessAt == 11)
    }

    @Test(arguments: StoreBackend.allCases)
    func acceptedSequenceIsConditional(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try #require(try scratch.open() as? any PeerLinkStore)
        let other = try #require(try scratch.open() as? any PeerLinkStore)
        // Only the next sequence is accepted; a gap or a replay is a conflict naming the stored one.
        #expect(throws: PeerSequenceConflict(localRegion: "eu-west-1", peerRegion: "us-east-1", lastAccepted: 0, offered: 2)) {
            try store.recordPeerMessageAccepted(localRegion: "eu-west-1", peerRegion: "us-east-1", sequence: 2, now: 1)
        }
        try store.recordPeerMessageAccepted(localRegion: "eu-west-1", peerRegion: "us-east-1", sequence: 1, now: 1)
        // A second node recording the same message loses.
        #expect(throws: PeerSequenceConflict(localRegion: "eu-west-1", peerRegion: "us-east-1", lastAccepted: 1, offered: 1)) {
            try other.recordPeerMessageAccepted(localRegion: "eu-west-1", peerRegion: "us-east-1", sequence: 1, now: 2)
        }
        try other.recordPeerMessageAccepted(localRegion: "eu-west-1", peerRegion: "us-east-1", sequence: 2, now: 3)
        let link = try #require(try store.peerLinks().first)
        #expect(link.lastReceivedSequence == 2 && link.lastReceivedAt == 3 && link.lastSentSequence == 0)
    }

    @Test(arguments: StoreBackend.allCases)
    func concurrentEnqueuesNeverShareASequence(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let stores = try (0..<2).map { _ in try #require(try scratch.open() as? any PeerLinkStore) }
        let results = LockedResults()
        DispatchQueue.concurrentPerform(iterations: 40) { i in
            if let s = try? stores[i % 2].enqueuePeerMessage(NewPeerMessage(localRegion: "a-1", peerRegion: "b-1", kind: "k", body: "{}"),
                                                             now: Double(i)) {
                results.add(String(s))
            }
        }
        #expect(Set(results.all).count == 40 && Set(results.all) == Set((1...40).map(String.init)))
    }

    /// The outbox row as a change of the operation's own batch (StoreChange.queuePeerMessage):
    /// it commits with the batch, a batch that conflicts leaves no row and no gap in the
    /// sequence, and the registry's re-run after a conflict queues the message once.
    @Test(arguments: StoreBackend.allCases)
    func queuedMessageCommitsOnlyWithItsBatch(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let kv = try scratch.open()
        let store = try #require(kv as? any PeerLinkStore)
        let secret = Array("material-in-clear-0123456789abcdef".utf8)
        func message(_ kind: String) -> NewPeerMessage {
            NewPeerMessage(localRegion: "us-east-1", peerRegion: "eu-west-1", kind: kind, body: "{\"k\":\"\(kind)\"}", secrets: [secret])
        }
        func pending() throws -> [PeerOutboxMessage] {
            try store.pendingPeerMessages(localRegion: "us-east-1", peerRegion: "eu-west-1", limit: 10)
        }
        // Committed with the key it goes with (queue change first in the batch: still applied last).
        let key = Fixtures.key()
        try kv.apply([.queuePeerMessage(message("first")), .putKey(key)])
        #expect(try pending().map(\.sequence) == [1] && pending().first?.secrets == [secret] && pending().first?.kind == "first")
        #expect(try kv.key(account: key.account, region: key.region, keyId: key.keyId)?.storeVersion == 1)

        // A batch whose key change conflicts (stale base) queues nothing.
        #expect(throws: StoreConflict.self) { try kv.apply([.putKey(key), .queuePeerMessage(message("lost"))]) }
        #expect(throws: StoreConflict.self) { try kv.apply([.queuePeerMessage(message("lost")), .putKey(key)]) }
        #expect(try pending().map(\.kind) == ["first"])
        #expect(try store.peerLinks().first { $0.peerRegion == "eu-west-1" }?.lastSentSequence == 1)

        // Through the registry: the first run's base moved behind its back; the re-run commits
        // the message once, with the next sequence (no gap where the lost ones were).
        let registry = KeyRegistry(store: kv)
        let behind = try scratch.open()
        var stale = try #require(try registry.key(account: key.account, region: key.region, keyId: key.keyId))
        var changed = stale
        changed.description = "changed elsewhere"
        try behind.apply([.putKey(changed)])
        var runs = 0
        try registry.write { () throws(KMSError) in
            runs += 1
            if runs > 1 { stale = try registry.key(account: key.account, region: key.region, keyId: key.keyId) ?? stale }
            stale.keyState = .disabled
            return ((), [.putKey(stale), .queuePeerMessage(message("retried"))])
        }
        #expect(runs == 2)
        #expect(try pending().map(\.kind) == ["first", "retried"] && pending().map(\.sequence) == [1, 2])
        // Sealed at rest here too.
        if backend == .sqlite {
            let file = try Data(contentsOf: URL(fileURLWithPath: scratch.dir + "/kms.sqlite"))
                + ((try? Data(contentsOf: URL(fileURLWithPath: scratch.dir + "/kms.sqlite-wal"))) ?? Data())
            #expect(file.range(of: Data(secret)) == nil)
        }
    }

    /// A message the peer refused for good leaves the queue (the next one is sent) and stays
    /// as a dead letter with the reason, counted apart from the pending ones.
    @Test(arguments: StoreBackend.allCases)
    func refusedMessageBecomesADeadLetter(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try #require(try scratch.open() as? any PeerLinkStore)
        for i in 1...3 {
            _ = try store.enqueuePeerMessage(NewPeerMessage(localRegion: "us-east-1", peerRegion: "eu-west-1", kind: "k\(i)", body: "{}"),
                                             now: Double(i))
        }
        try store.deadLetterPeerMessage(localRegion: "us-east-1", peerRegion: "eu-west-1", sequence: 1, reason: "{\"refused\":\"bad\"}", now: 7)
        #expect(try store.pendingPeerMessages(localRegion: "us-east-1", peerRegion: "eu-west-1", limit: 10).map(\.sequence) == [2, 3])
        #expect(try store.peerDeadLetters(localRegion: "us-east-1", peerRegion: "eu-west-1", limit: 10)
                == [PeerDeadLetter(sequence: 1, kind: "k1", reason: "{\"refused\":\"bad\"}", createdAt: 1, refusedAt: 7)])
        let link = try #require(try store.peerLinks().first { $0.peerRegion == "eu-west-1" })
        #expect(link.pending == 2 && link.deadLetters == 1 && link.lastSentSequence == 3)
    }
}
