import Foundation
import Testing
@testable import KMSCore

/// The wire form of a multi-Region change (what a peer link carries): the body holds no key
/// material, the secrets travel apart, and a received change applies as the original does.
@Suite struct MultiRegionChangeWireTests {
    static let account = "111122223333"
    let east = Caller(account: account, region: "us-east-1", accessKeyId: "AKIAROOT")

    func primary() throws -> KMSKey {
        let service = try KMSService(store: InMemoryKeyStore(), clock: ManualClock())
        service.multiRegion.configure(servedRegions: ["us-east-1"])
        let out = try service.handle(operation: "CreateKey", body: .object(JSONObject([("MultiRegion", .bool(true))])), caller: east)
        let keyId = try #require(out["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
        var key = try #require(try service.registry.key(account: Self.account, region: "us-east-1", keyId: keyId))
        var config = try #require(key.multiRegion)
        config.replicaRegions = ["eu-west-1"]
        config.sequence = 1
        key.multiRegion = config
        return key
    }

    @Test func bodyHoldsNoMaterialAndRoundTrips() throws {
        let source = try primary()
        let change = MultiRegionChange(kind: .createReplica, from: source, to: "eu-west-1", sequence: 1,
                                       replica: ReplicaProperties(description: "eu", policy: "{}", tags: [Tag(key: "a", value: "b")]))
        let wire = try change.wireForm()
        let secret = try #require(source.materials.first?.secret)
        #expect(wire.secrets == [secret])
        #expect(!wire.body.contains(Data(secret).base64EncodedString()))
        #expect(!wire.body.lowercased().contains(secret.map { String(format: "%02x", $0) }.joined()))

        let received = try MultiRegionChange(wireBody: wire.body, secrets: wire.secrets)
        #expect(received.kind == .createReplica && received.targetRegion == "eu-west-1" && received.sequence == 1)
        let here = try #require(MultiRegionApplier.apply(change, to: nil, now: 5))
        let there = try #require(MultiRegionApplier.apply(received, to: nil, now: 5))
        #expect(there.materials.map(\.materialId) == here.materials.map(\.materialId))
        #expect(there.materials.map(\.secret) == here.materials.map(\.secret))
        #expect(there.multiRegion == here.multiRegion && there.description == "eu" && there.tags == here.tags)
        // Applied twice (a redelivery): nothing more to do.
        #expect(MultiRegionApplier.apply(received, to: there, now: 6) == nil)
    }

    @Test func malformedOrMismatchedMessagesAreRefused() throws {
        let change = MultiRegionChange(kind: .synchronize, from: try primary(), to: "eu-west-1", sequence: 2)
        let wire = try change.wireForm()
        #expect(throws: MultiRegionWireError.self) { try MultiRegionChange(wireBody: wire.body, secrets: []) }
        #expect(throws: MultiRegionWireError.self) { try MultiRegionChange(wireBody: "{}", secrets: wire.secrets) }
        #expect(throws: MultiRegionWireError.self) {
            try MultiRegionChange(wireBody: wire.body.replacingOccurrences(of: "mrk-change-v1", with: "mrk-change-v9"), secrets: wire.secrets)
        }
    }
}
