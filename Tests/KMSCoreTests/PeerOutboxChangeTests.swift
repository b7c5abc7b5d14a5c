import Foundation
import Testing
@testable import KMSCore

/// A multi-Region change for a peer's region is queued as a change of the operation's own
/// store batch (StoreChange.queuePeerMessage): it commits with the operation, and a batch
/// that conflicts leaves nothing queued.
@Suite struct PeerOutboxChangeTests {
    static let account = "111122223333"
    let east = Caller(account: account, region: "us-east-1", accessKeyId: "AKIAROOT")

    /// Queues every change for eu-west-1 the way the peer link does (wire form, one message each).
    struct QueueingPeer: MultiRegionReplication {
        func serves(region: String) -> Bool { region == "eu-west-1" }
        func enqueue(_ change: MultiRegionChange) throws(KMSError) -> [StoreChange] {
            let wire = try change.wireForm()
            return [.queuePeerMessage(NewPeerMessage(localRegion: "us-east-1", peerRegion: change.targetRegion, kind: "mrk-change",
                                                     body: wire.body, secrets: wire.secrets))]
        }
    }

    @Test func inMemoryStoreQueuesOnlyWithACommittedBatch() throws {
        let store = InMemoryKeyStore()
        let key = KMSKey(keyId: KeyIdentifier.newKeyId(), account: Self.account, region: "us-east-1", creationDate: 1, description: "",
                         keyUsage: .encryptDecrypt, keySpec: .symmetricDefault, origin: "AWS_KMS", keyManager: "CUSTOMER",
                         keyState: .enabled, policy: "{}", tags: [], materials: [])
        let m = NewPeerMessage(localRegion: "us-east-1", peerRegion: "eu-west-1", kind: "k", body: "{}")
        try store.apply([.queuePeerMessage(m), .putKey(key)])
        #expect(store.queuedPeerMessages().count == 1)
        // Stale base: the whole batch is refused, the message with it.
        #expect(throws: StoreConflict.self) { try store.apply([.queuePeerMessage(m), .putKey(key)]) }
        #expect(store.queuedPeerMessages().count == 1)
        #expect(StoreChange.queuePeerMessage(m).target == .peerLink(localRegion: "us-east-1", peerRegion: "eu-west-1"))
    }

    @Test func replicateKeyToAPeerQueuesInTheOperationsBatch() throws {
        let store = InMemoryKeyStore()
        let service = try KMSService(store: store, clock: ManualClock())
        service.multiRegion.configure(servedRegions: ["us-east-1"])
        service.multiRegion.install(peers: QueueingPeer())
        service.multiRegion.setCompletionDelay(nil)
        let out = try service.handle(operation: "CreateKey", body: .object(JSONObject([("MultiRegion", .bool(true))])), caller: east)
        let keyId = try #require(out["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
        _ = try service.handle(operation: "ReplicateKey", body: .object(JSONObject([("KeyId", .string(keyId)),
                                                                                   ("ReplicaRegion", .string("eu-west-1"))])),
                               caller: east)
        // The replica's creation, then its completion step (its own write), in order.
        let queued = store.queuedPeerMessages()
        let kinds = try queued.map { try MultiRegionChange(wireBody: $0.body, secrets: $0.secrets).kind }
        #expect(kinds == [.createReplica, .completeReplica])
        #expect(queued.allSatisfy { $0.peerRegion == "eu-west-1" && $0.secrets.count == 1 })
        let primary = try #require(try store.key(account: Self.account, region: "us-east-1", keyId: keyId))
        #expect(primary.multiRegion?.replicaRegions == ["eu-west-1"])
        // Refused (already a replica there): nothing more is queued.
        #expect(throws: KMSError.self) {
            try service.handle(operation: "ReplicateKey", body: .object(JSONObject([("KeyId", .string(keyId)),
                                                                                   ("ReplicaRegion", .string("eu-west-1"))])),
                               caller: east)
        }
        #expect(store.queuedPeerMessages().count == 2)
    }
}
