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

    /// Imported material is never copied to a related key, so a change of an EXTERNAL key
    /// carries none on the wire, not even wrapped: only a check of it (HMAC keyed by the
    /// material), which the receiver seals into the replica's import records.
    @Test func importedMaterialNeverTravels() throws {
        let p = try primary()
        var source = KMSKey(keyId: p.keyId, account: p.account, region: p.region, creationDate: p.creationDate, description: "",
                            keyUsage: p.keyUsage, keySpec: p.keySpec, origin: "EXTERNAL", keyManager: p.keyManager,
                            keyState: .enabled, policy: p.policy, tags: [], materials: p.materials)
        source.multiRegion = p.multiRegion
        let secret = try #require(source.materials.first?.secret)
        for kind in [MultiRegionChange.Kind.createReplica, .synchronize] {
            let change = MultiRegionChange(kind: kind, from: source, to: "eu-west-1", sequence: 2,
                                           replica: ReplicaProperties(description: "", policy: "{}", tags: []))
            let wire = try change.wireForm()
            let check = try #require(MultiRegionMaterialCheck.value(of: secret, spec: .symmetricDefault, keyId: source.keyId, version: 1))
            #expect(wire.secrets == [check] && check != secret)
            #expect(!wire.body.contains(Data(secret).base64EncodedString()))
            let received = try MultiRegionChange(wireBody: wire.body, secrets: wire.secrets) { _, region, keyId, version, c in
                region == "eu-west-1" && keyId == source.keyId && version == 1 && c == check ? "sealed" : nil
            }
            #expect(received.shared.materials.isEmpty && received.shared.origin == "EXTERNAL")
            #expect(received.shared.imports.records.map(\.peerCheck) == ["sealed"])
            // Peer checks never travel onward.
            #expect(!(try received.wireForm().body.contains("sealed")))
        }
        let wire = try MultiRegionChange(kind: .createReplica, from: source, to: "eu-west-1", sequence: 2,
                                         replica: ReplicaProperties(description: "", policy: "{}", tags: [])).wireForm()
        let created = try #require(MultiRegionApplier.apply(
            try MultiRegionChange(wireBody: wire.body, secrets: wire.secrets) { _, _, _, _, _ in "sealed" }, to: nil, now: 5))
        #expect(created.materials.isEmpty && created.keyState == .creating)
        #expect(created.imports.records.map(\.peerCheck) == ["sealed"] && created.imports.records.allSatisfy { !$0.imported })
        // A check missing from the secrets is refused (the counts must agree).
        #expect(throws: MultiRegionWireError.self) { try MultiRegionChange(wireBody: wire.body, secrets: []) }
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
