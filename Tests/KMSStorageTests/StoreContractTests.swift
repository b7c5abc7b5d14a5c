import Foundation
import Testing
import KMSCore
@testable import KMSStorage

/// The store contract: every `KeyStore` backend must pass the same tests. Each case gets a
/// fresh store (a new SQLite file or a new PostgreSQL database).
@Suite(.serialized) struct StoreContractTests {
    @Test(arguments: StoreBackend.allCases)
    func readsReturnWhatWasWrittenWithVersions(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try scratch.open()
        let keys = (0..<5).map { Fixtures.key(id: "k\($0)-" + UUID().uuidString) }
        try store.apply(keys.map { .putKey($0) } + [.putAlias(Fixtures.alias("alias/one", target: keys[0].keyId)),
                                                    .putAlias(Fixtures.alias("alias/two", target: keys[1].keyId))])
        let got = try #require(try store.key(account: Fixtures.account, region: Fixtures.region, keyId: keys[2].keyId))
        #expect(got.storeVersion == 1)
        #expect(got.materials.map(\.secret) == keys[2].materials.map(\.secret))
        #expect(got.materials.first?.materialId == keys[2].materials.first?.materialId)
        #expect(got.tags == [Tag(key: "t", value: "v")])
        #expect(try store.key(account: Fixtures.account, region: Fixtures.region, keyId: "absent") == nil)
        #expect(try store.key(account: "999999999999", region: Fixtures.region, keyId: keys[2].keyId) == nil)

        let alias = try #require(try store.alias(account: Fixtures.account, region: Fixtures.region, aliasName: "alias/one"))
        #expect(alias.targetKeyId == keys[0].keyId && alias.storeVersion == 1)
        #expect(try store.alias(account: Fixtures.account, region: "eu-west-1", aliasName: "alias/one") == nil)

        // Pages by key id, in order, across the whole account; other accounts never show.
        let sortedIds = keys.map(\.keyId).sorted()
        let page1 = try store.listKeys(account: Fixtures.account, region: Fixtures.region, after: nil, limit: 2)
        let page2 = try store.listKeys(account: Fixtures.account, region: Fixtures.region, after: page1.last?.keyId, limit: 2)
        let page3 = try store.listKeys(account: Fixtures.account, region: Fixtures.region, after: page2.last?.keyId, limit: 2)
        #expect((page1 + page2 + page3).map(\.keyId) == sortedIds)
        #expect(page3.count == 1)
        #expect(page1.allSatisfy { $0.materials.count == 1 })
        #expect(try store.listKeys(account: "999999999999", region: Fixtures.region, after: nil, limit: 10).isEmpty)
        #expect(try store.listAliases(account: Fixtures.account, region: Fixtures.region, after: nil, limit: 10).map(\.aliasName) == ["alias/one", "alias/two"])
        #expect(try store.listAliases(account: Fixtures.account, region: Fixtures.region, after: "alias/one", limit: 10).map(\.aliasName) == ["alias/two"])

        #expect(Set(try store.loadKeys().map(\.keyId)) == Set(sortedIds))
        #expect(try store.loadAliases().count == 2)

        // A second instance sees the same rows (a node starting later).
        let other = try scratch.open()
        #expect(try other.key(account: Fixtures.account, region: Fixtures.region, keyId: keys[0].keyId)?.materials.first?.secret
                == keys[0].materials.first?.secret)
    }

    @Test(arguments: StoreBackend.allCases)
    func putsAndRemovesAreConditionalOnTheStoredVersion(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try scratch.open()
        var key = Fixtures.key()
        try store.apply([.putKey(key)])
        // Creating what exists is a conflict, not an overwrite.
        #expect(throws: StoreConflict.self) { try store.apply([.putKey(key)]) }
        key.storeVersion = 1
        key.description = "second"
        try store.apply([.putKey(key)])
        // A writer still holding version 1 loses and changes nothing.
        var stale = key
        stale.description = "stale"
        let conflict = #expect(throws: StoreConflict.self) { try store.apply([.putKey(stale)]) }
        #expect(conflict?.object == .key(account: key.account, region: key.region, keyId: key.keyId))
        #expect(conflict?.expectedVersion == 1)
        let now = try #require(try store.key(account: key.account, region: key.region, keyId: key.keyId))
        #expect(now.description == "second" && now.storeVersion == 2)
        #expect(throws: StoreConflict.self) { try store.apply([.removeKey(stale)]) }
        try store.apply([.removeKey(now)])
        #expect(try store.key(account: key.account, region: key.region, keyId: key.keyId) == nil)
        // Removing what is gone is a conflict too: the writer's view is out of date.
        #expect(throws: StoreConflict.self) { try store.apply([.removeKey(now)]) }

        var alias = Fixtures.alias("alias/a", target: "k1")
        try store.apply([.putAlias(alias)])
        #expect(throws: StoreConflict.self) { try store.apply([.putAlias(alias)]) }
        alias.storeVersion = 1
        alias.targetKeyId = "k2"
        try store.apply([.putAlias(alias)])
        #expect(throws: StoreConflict.self) { try store.apply([.putAlias(alias)]) }
        #expect(throws: StoreConflict.self) { try store.apply([.removeAlias(alias)]) }
        alias.storeVersion = 2
        #expect(try store.alias(account: alias.account, region: alias.region, aliasName: alias.aliasName)?.targetKeyId == "k2")
        try store.apply([.removeAlias(alias)])
        #expect(try store.alias(account: alias.account, region: alias.region, aliasName: alias.aliasName) == nil)
    }

    @Test(arguments: StoreBackend.allCases)
    func materialVersionsAreNeverOverwrittenOrDropped(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try scratch.open()
        var key = Fixtures.key()
        try store.apply([.putKey(key)])
        key.storeVersion = 1
        var withV2 = key
        withV2.materials.append(Fixtures.material(version: 2, id: "m2"))
        try store.apply([.putKey(withV2)])
        withV2.storeVersion = 2

        // Same version number, other material: refused (this was ON CONFLICT DO NOTHING).
        var clash = withV2
        clash.materials[1] = Fixtures.material(version: 2, id: "m2-other")
        let c1 = #expect(throws: StoreConflict.self) { try store.apply([.putKey(clash)]) }
        #expect(c1?.reason.contains("material version 2") == true)
        // A write that lacks a stored version would drop it: refused.
        var lacking = withV2
        lacking.materials.removeLast()
        #expect(throws: StoreConflict.self) { try store.apply([.putKey(lacking)]) }

        let stored = try #require(try store.key(account: key.account, region: key.region, keyId: key.keyId))
        #expect(stored.materials.map(\.materialId) == [key.materials[0].materialId, "m2"])
        #expect(stored.materials.map(\.secret) == withV2.materials.map(\.secret))
        #expect(stored.storeVersion == 2)
    }

    @Test(arguments: StoreBackend.allCases)
    func aBatchIsAllOrNothing(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try scratch.open()
        let existing = Fixtures.key()
        try store.apply([.putKey(existing)])
        let fresh = Fixtures.key()
        // The second change conflicts (existing is at version 1), so the first must not stay.
        #expect(throws: StoreConflict.self) {
            try store.apply([.putKey(fresh), .putAlias(Fixtures.alias("alias/x", target: fresh.keyId)), .putKey(existing)])
        }
        #expect(try store.key(account: fresh.account, region: fresh.region, keyId: fresh.keyId) == nil)
        #expect(try store.alias(account: fresh.account, region: fresh.region, aliasName: "alias/x") == nil)
        // Creating one key twice in a batch (or an existing one among many new ones) is a conflict too.
        let many = (0..<50).map { _ in Fixtures.key() }
        #expect(throws: StoreConflict.self) { try store.apply((many + [many[7]]).map { .putKey($0) }) }
        #expect(throws: StoreConflict.self) { try store.apply((many + [existing]).map { .putKey($0) }) }
        #expect(try store.loadKeys().map(\.keyId) == [existing.keyId])
    }

    @Test(arguments: StoreBackend.allCases)
    func twoWritersOnTheSameBaseExactlyOneWins(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let a = try scratch.open(), b = try scratch.open()
        let key = Fixtures.key()
        try a.apply([.putKey(key)])
        for round in 0..<10 {
            let base = try #require(try a.key(account: key.account, region: key.region, keyId: key.keyId))
            var fromA = base, fromB = base
            fromA.description = "A\(round)"
            fromB.description = "B\(round)"
            fromB.materials.append(Fixtures.material(version: UInt32(base.materials.count + 1), id: "b\(round)"))
            // Both at once, from two threads with their own connections.
            let results = LockedResults()
            let group = DispatchGroup()
            for (store, change) in [(a, fromA), (b, fromB)] {
                DispatchQueue.global().async(group: group) {
                    do { try store.apply([.putKey(change)]); results.add(change.description) }
                    catch is StoreConflict { results.add("conflict") }
                    catch { results.add("error: \(error)") }
                }
            }
            group.wait()
            let outcome = results.all.sorted()
            #expect(outcome.count == 2 && outcome.filter { $0 == "conflict" }.count == 1, "round \(round): \(outcome)")
            let winner = try #require(outcome.first { $0 != "conflict" })
            let after = try #require(try b.key(account: key.account, region: key.region, keyId: key.keyId))
            #expect(after.description == winner)
            #expect(after.storeVersion == base.storeVersion + 1)
            #expect(after.materials.count == (winner.hasPrefix("B") ? base.materials.count + 1 : base.materials.count))
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func registryRetriesAWriteWhoseBaseMovedOnTheFreshState(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let nodeA = KeyRegistry(store: try scratch.open())
        let nodeB = try scratch.open()
        let key = Fixtures.key()
        try nodeA.write { () throws(KMSError) in ((), [.putKey(key)]) }
        #expect(try nodeA.key(account: key.account, region: key.region, keyId: key.keyId)?.storeVersion == 1)

        // Another node changes the key behind A's back.
        var behind = try #require(try nodeB.key(account: key.account, region: key.region, keyId: key.keyId))
        behind.description = "changed on B"
        try nodeB.apply([.putKey(behind)])

        // A disables it from its stale copy: the store refuses, A re-reads and re-runs.
        var runs = 0
        try nodeA.write { () throws(KMSError) in
            runs += 1
            guard var k = try nodeA.key(account: key.account, region: key.region, keyId: key.keyId) else { throw KMSError(.notFound, "gone") }
            k.keyState = .disabled
            return ((), [.putKey(k)])
        }
        #expect(runs == 2)
        let stored = try #require(try nodeB.key(account: key.account, region: key.region, keyId: key.keyId))
        #expect(stored.keyState == .disabled && stored.description == "changed on B" && stored.storeVersion == 3)
        #expect(try nodeA.key(account: key.account, region: key.region, keyId: key.keyId)?.description == "changed on B")

        // Deleted elsewhere: the retry sees it gone and answers NotFound, nothing resurrected.
        try nodeB.apply([.removeKey(stored)])
        #expect(throws: KMSError.self) {
            try nodeA.write { () throws(KMSError) in
                guard var k = try nodeA.key(account: key.account, region: key.region, keyId: key.keyId) else { throw KMSError(.notFound, "gone") }
                k.description = "x"
                return ((), [.putKey(k)])
            }
        }
        #expect(try nodeB.key(account: key.account, region: key.region, keyId: key.keyId) == nil)

        // A write that can never succeed (creating an existing id) is refused after the retries.
        let dup = Fixtures.key()
        try nodeB.apply([.putKey(dup)])
        let refused = #expect(throws: KMSError.self) { try nodeA.write { () throws(KMSError) in ((), [.putKey(dup)]) } }
        #expect(refused?.code == .kmsInternal)
    }

    @Test(arguments: StoreBackend.allCases)
    func largeBatchOfTenThousandKeys(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try scratch.open()
        let keys = (0..<10_000).map { i in Fixtures.key(id: String(format: "key-%05d", i)) }
        let started = Date()
        try store.apply(keys.map { .putKey($0) })
        let seconds = Date().timeIntervalSince(started)
        print("\(backend): 10,000 keys in one batch: \(String(format: "%.2f", seconds)) s")
        let loaded = try scratch.open().loadKeys()
        #expect(loaded.count == 10_000)
        #expect(Set(loaded.map(\.keyId)).count == 10_000)
        #expect(loaded.allSatisfy { $0.materials.count == 1 && $0.storeVersion == 1 })
        let page = try store.listKeys(account: Fixtures.account, region: Fixtures.region, after: "key-09990", limit: 100)
        #expect(page.map(\.keyId) == (9991..<10_000).map { String(format: "key-%05d", $0) })
    }

    @Test(arguments: StoreBackend.allCases)
    func credentialsAreStoredSealed(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let store = try scratch.open()
        let c = StoredCredential(accessKeyId: "AKIACONTRACT", secretAccessKey: "contract-secret-\(UUID().uuidString)",
                                 account: Fixtures.account, principalArn: "arn:aws:iam::111122223333:root")
        try store.saveCredential(c)
        #expect(try scratch.open().loadCredentials() == [c])
        #expect(throws: (any Error).self) { try store.saveCredential(c) }
    }

    /// Two processes (`kms store-stress`) doing conditional read-modify-writes of one key
    /// at once: every increment and every added material version lands exactly once.
    @Test(arguments: StoreBackend.allCases)
    func concurrentWritersFromSeveralProcesses(_ backend: StoreBackend) throws {
        guard let scratch = try ScratchStore.make(backend) else { return }
        let binary = try #require(Fixtures.kmsBinary, "the kms binary is not built next to the tests (set KMS_BINARY)")
        let store = try scratch.open()
        let key = Fixtures.key(description: "0")
        try store.apply([.putKey(key)])
        let increments = 150, processes = 2, materialEvery = 5
        var running: [Process] = []
        var outputs: [Pipe] = []
        for _ in 0..<processes {
            let p = Process()
            let out = Pipe()
            p.standardOutput = out
            outputs.append(out)
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = ["store-stress", "--storage", scratch.storage, "--root-key-file", scratch.rootKeyPath,
                           "--key-id", key.keyId, "--increments", String(increments), "--material-every", String(materialEvery)]
            try p.run()
            running.append(p)
        }
        for (p, out) in zip(running, outputs) {
            let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            print("\(backend) store-stress: \(printed.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let final = try #require(try store.key(account: key.account, region: key.region, keyId: key.keyId))
        #expect(final.description == String(increments * processes))
        #expect(final.storeVersion == Int64(1 + increments * processes))
        let versions = final.materials.map(\.version)
        #expect(versions == Array(1...UInt32(1 + processes * (increments / materialEvery))))
        #expect(Set(final.materials.map(\.materialId)).count == versions.count)
    }
}

final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String] = []
    func add(_ v: String) { lock.lock(); values.append(v); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return values }
}
