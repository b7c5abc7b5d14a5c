import Foundation
import Testing
import KMSCore
@testable import KMSStorage

/// The cluster audit trail in PostgreSQL (migration 6): idempotent shipping on (node,
/// sequence), LookupEvents' attributes, time range and paging, and each key's last use.
/// PostgreSQL only (SQLite single nodes keep the trail in their files).
@Suite(.serialized) struct AuditTrailStoreTests {
    static let account = "111122223333"
    static let arn1 = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    static let arn2 = "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"

    static func event(_ node: String, _ seq: Int64, time: Double, name: String = "Encrypt", account: String = account,
                      resources: [String] = [arn1], readOnly: Bool = false, succeeded: Bool = true) -> ClusterAuditEvent {
        ClusterAuditEvent(node: node, sequence: seq, time: time, account: account, eventName: name,
                          eventSource: "kms.amazonaws.com", username: "user-\(node.prefix(1))", accessKeyId: "AKIA\(node.prefix(1))",
                          readOnly: readOnly, eventID: "\(node)-\(seq)", requestID: "req-\(node)-\(seq)", resources: resources,
                          succeeded: succeeded, isServiceEvent: false, event: #"{"eventName":"\#(name)","n":\#(seq)}"#)
    }

    func trail() throws -> (PostgresAuditTrail, ScratchStore)? {
        guard let scratch = try ScratchStore.make(.postgresql) else { return nil }
        let store = try #require(try scratch.open() as? PostgresKeyStore)
        return (PostgresAuditTrail(store: store), scratch)
    }

    @Test func shippingTwiceInsertsOnce() throws {
        guard let (trail, scratch) = try trail() else { return }
        _ = scratch
        let a = "a".padding(toLength: 32, withPad: "a", startingAt: 0)
        #expect(try trail.lastSequence(node: a) == 0)
        let batch = (1...5).map { Self.event(a, $0, time: 1000 + Double($0)) }
        try trail.ship(batch, keyUsage: [:])
        // A restart re-ships an overlapping range: nothing twice, nothing lost.
        try trail.ship(Array(batch[3...]) + [Self.event(a, 6, time: 1006)], keyUsage: [:])
        #expect(try trail.lastSequence(node: a) == 6)
        let all = try trail.lookup(ClusterAuditQuery(account: Self.account, limit: 100))
        #expect(all.map(\.sequence) == [6, 5, 4, 3, 2, 1])
        #expect(all.last == batch[0])
        #expect(try trail.oldestEventTime() == 1001)
    }

    @Test func lookupFiltersAndPagesAcrossNodes() throws {
        guard let (trail, scratch) = try trail() else { return }
        _ = scratch
        let a = String(repeating: "a", count: 32), b = String(repeating: "b", count: 32)
        try trail.ship([Self.event(a, 1, time: 100, name: "CreateKey", resources: [Self.arn2]),
                        Self.event(a, 2, time: 102, name: "DescribeKey", readOnly: true),
                        Self.event(a, 3, time: 104, account: "999999999999")], keyUsage: [:])
        try trail.ship([Self.event(b, 1, time: 101), Self.event(b, 2, time: 103, resources: []),
                        Self.event(b, 3, time: 104)], keyUsage: [:])
        func ids(_ q: ClusterAuditQuery) throws -> [String] { try trail.lookup(q).map(\.eventID) }
        let acct = Self.account
        // Newest first across nodes; another account's event is never seen.
        #expect(try ids(ClusterAuditQuery(account: acct, limit: 50)) == ["\(b)-3", "\(b)-2", "\(a)-2", "\(b)-1", "\(a)-1"])
        #expect(try ids(ClusterAuditQuery(account: "999999999999", limit: 50)) == ["\(a)-3"])
        #expect(try ids(ClusterAuditQuery(account: acct, attributeKey: "EventName", attributeValue: "CreateKey", limit: 50)) == ["\(a)-1"])
        #expect(try ids(ClusterAuditQuery(account: acct, attributeKey: "ReadOnly", attributeValue: "true", limit: 50)) == ["\(a)-2"])
        #expect(try ids(ClusterAuditQuery(account: acct, attributeKey: "ReadOnly", attributeValue: "maybe", limit: 50)).isEmpty)
        #expect(try ids(ClusterAuditQuery(account: acct, attributeKey: "Username", attributeValue: "user-b", limit: 50)).count == 3)
        #expect(try ids(ClusterAuditQuery(account: acct, attributeKey: "AccessKeyId", attributeValue: "AKIAa", limit: 50)).count == 2)
        #expect(try ids(ClusterAuditQuery(account: acct, attributeKey: "EventId", attributeValue: "\(b)-2", limit: 50)) == ["\(b)-2"])
        #expect(try ids(ClusterAuditQuery(account: acct, attributeKey: "EventSource", attributeValue: "kms.amazonaws.com", limit: 50)).count == 5)
        #expect(try ids(ClusterAuditQuery(account: acct, attributeKey: "ResourceType", attributeValue: "AWS::KMS::Key", limit: 50)).count == 4)
        // ResourceName: the ARN or the key ID.
        #expect(try ids(ClusterAuditQuery(account: acct, attributeKey: "ResourceName", attributeValue: Self.arn2, limit: 50)) == ["\(a)-1"])
        #expect(try ids(ClusterAuditQuery(account: acct, attributeKey: "ResourceName",
                                          attributeValue: "0987dcba-09fe-87dc-65ba-ab0987654321", limit: 50)) == ["\(a)-1"])
        #expect(try ids(ClusterAuditQuery(account: acct, attributeKey: "ResourceName", attributeValue: "0987dcba", limit: 50)).isEmpty)
        #expect(try ids(ClusterAuditQuery(account: acct, start: 101.5, end: 103, limit: 50)) == ["\(b)-2", "\(a)-2", "\(b)-1"])
        // Paging: each page resumes strictly after the last result of the one before.
        var pages: [[String]] = []
        var before: ClusterAuditPosition?
        repeat {
            let page = try trail.lookup(ClusterAuditQuery(account: acct, before: before, limit: 2))
            pages.append(page.map(\.eventID))
            before = page.count == 2 ? page.last?.position : nil
        } while before != nil
        #expect(pages.flatMap { $0 } == ["\(b)-3", "\(b)-2", "\(a)-2", "\(b)-1", "\(a)-1"])
    }

    @Test func keyLastUsageMovesOnlyForward() throws {
        guard let (trail, scratch) = try trail() else { return }
        _ = scratch
        let a = String(repeating: "a", count: 32), b = String(repeating: "b", count: 32)
        let newer = KeyLastUsage(operation: "Decrypt", time: 200, cloudTrailEventId: "e2", kmsRequestId: "r2")
        let older = KeyLastUsage(operation: "Encrypt", time: 100, cloudTrailEventId: "e1", kmsRequestId: "r1")
        try trail.ship([Self.event(b, 1, time: 200)], keyUsage: [Self.arn1: newer])
        // A node that ships late with an older use does not move the key back.
        try trail.ship([Self.event(a, 1, time: 100)], keyUsage: [Self.arn1: older, Self.arn2: older])
        let rows = try trail.keyUsage(changedAfter: 0)
        #expect(Dictionary(uniqueKeysWithValues: rows.map { ($0.keyArn, $0.usage) }) == [Self.arn1: newer, Self.arn2: older])
        // Polling from the newest change on returns only what changed since (less the overlap).
        let cursor = rows.map(\.updatedAt).max() ?? 0
        #expect(try trail.keyUsage(changedAfter: cursor + 10).isEmpty)
        #expect(try trail.keyUsage(changedAfter: cursor, overlap: 60).count == 2)
    }

    /// Retention: rows older than the cutoff go, in batches, except each node's newest row
    /// (a restarted shipper resumes after it); newer rows stay.
    @Test func pruningDeletesOldRowsButEachNodesNewest() throws {
        guard let (trail, scratch) = try trail() else { return }
        _ = scratch
        let a = String(repeating: "a", count: 32), b = String(repeating: "b", count: 32)
        try trail.ship((1...7).map { Self.event(a, $0, time: 1000 + Double($0)) } + [Self.event(a, 8, time: 5000)], keyUsage: [:])
        try trail.ship((1...3).map { Self.event(b, $0, time: 1000 + Double($0)) }, keyUsage: [:])
        #expect(try trail.prune(olderThan: 2000, batch: 2) == 9)  // a's 1...7, b's 1 and 2
        #expect(try trail.lastSequence(node: a) == 8 && trail.lastSequence(node: b) == 3)
        let left = try trail.lookup(ClusterAuditQuery(account: Self.account, limit: 100))
        #expect(left.map(\.sequence).sorted() == [3, 8])
        #expect(try trail.prune(olderThan: 2000) == 0)
        #expect(try trail.oldestEventTime() == 1003)
    }
}
