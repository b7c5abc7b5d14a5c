import Foundation
import Testing
import KMSCore
@testable import KMSServer

/// AuditLog's group write: the chain (hashed partly before the lock) verifies, each key's
/// last use is the newest successful call of the group, and a full index keeps the newest.
@Suite struct AuditWriterTests {
    func directory() throws -> String {
        let path = NSTemporaryDirectory() + "kms-audit-writer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func entry(_ n: Int, time: Double, key: String, tracks: Bool = true) -> AuditIndexEntry {
        AuditIndexEntry(time: time, eventName: "Encrypt", source: .kms, account: "111122223333", username: "root",
                        accessKeyId: "AKIAWRITERTEST000001", readOnly: true, eventID: "e\(n)", resources: [key],
                        requestID: "r\(n)", succeeded: tracks, tracksKeyUsage: tracks)
    }

    /// Records as the batcher hands them over: back to back, without their closing brace.
    func group(_ entries: [AuditIndexEntry]) -> (bytes: [UInt8], ends: [Int]) {
        var bytes: [UInt8] = [], ends: [Int] = []
        for e in entries {
            var event: [UInt8] = []
            AuditRecord.writeTime(e.time, into: &event)
            bytes += Array(#"{"eventVersion":"1.08","eventTime":"#.utf8) + event
                + Array(#","eventName":"Encrypt","eventID":"\#(e.eventID)","requestID":"\#(e.requestID)""#.utf8)
            ends.append(bytes.count)
        }
        return (bytes, ends)
    }

    @Test func aGroupRecordsEachKeysNewestSuccessfulUse() throws {
        let dir = try directory()
        let tracker = KeyUsageTracker()
        let audit = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000", keyUsage: tracker)
        let a = "arn:aws:kms:us-east-1:111122223333:key/a", b = "arn:aws:kms:us-east-1:111122223333:key/b"
        // Out of order in time (an offloaded call answered late), and a failed call last.
        var entries = [entry(1, time: 1000, key: a), entry(2, time: 1002, key: b), entry(3, time: 1001, key: a),
                       entry(4, time: 999, key: a), entry(5, time: 1005, key: a, tracks: false)]
        let (bytes, ends) = group(entries)
        #expect(audit.append(bytes, ends: ends, entries: &entries))
        #expect(tracker.lastUsage(keyArn: a)?.kmsRequestId == "r3")
        #expect(tracker.lastUsage(keyArn: a)?.cloudTrailEventId == "e3")
        #expect(tracker.lastUsage(keyArn: b)?.kmsRequestId == "r2")
        // A later group moves the key on; an older call in it does not move it back.
        var later = [entry(6, time: 1003, key: a), entry(7, time: 1000, key: b)]
        let (bytes2, ends2) = group(later)
        #expect(audit.append(bytes2, ends: ends2, entries: &later))
        #expect(tracker.lastUsage(keyArn: a)?.kmsRequestId == "r6")
        #expect(tracker.lastUsage(keyArn: b)?.kmsRequestId == "r2")
        audit.sync()
        #expect(AuditVerifier.verify(dataDirectory: dir).intact)
        let head = try #require(AuditChainHead.read(directory: dir + "/audit"))
        #expect(head.count == 7)
        var newest: [String] = []
        audit.forEachNewestFirst { newest.append($0.eventID); return true }
        #expect(newest == ["e7", "e6", "e5", "e4", "e3", "e2", "e1"])
    }

    /// The trail keeps uses for the tracker and hands them over when it reads: every written
    /// use is visible, also past the number of keys kept (they are handed over early).
    @Test func keptUsesAreVisibleOnEveryRead() throws {
        let dir = try directory()
        let tracker = KeyUsageTracker()
        let audit = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000", keyUsage: tracker)
        let keys = (0..<(AuditLog.pendingKeyUses * 2 + 3)).map { "arn:aws:kms:us-east-1:111122223333:key/k\($0)" }
        var n = 0
        for round in 0..<2 {
            var entries = keys.map { key -> AuditIndexEntry in
                n += 1
                return entry(n, time: 2000 + Double(round), key: key)
            }
            let (bytes, ends) = group(entries)
            #expect(audit.append(bytes, ends: ends, entries: &entries))
            for (i, key) in keys.enumerated() {
                #expect(tracker.lastUsage(keyArn: key)?.kmsRequestId == "r\(round * keys.count + i + 1)")
            }
        }
        // A use written after a read is seen by the next read.
        var one = [entry(n + 1, time: 2005, key: keys[0])]
        let (bytes, ends) = group(one)
        #expect(audit.append(bytes, ends: ends, entries: &one))
        #expect(tracker.lastUsage(keyArn: keys[0])?.cloudTrailEventId == "e\(n + 1)")
    }

    @Test func aFullIndexKeepsTheNewestEvents() throws {
        let dir = try directory()
        let audit = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000")
        let total = AuditLog.indexCapacity + 5
        var n = 0
        while n < total {
            let size = min(20_000, total - n)
            var entries = (n..<(n + size)).map { entry($0 + 1, time: 1000, key: "k", tracks: false) }
            let (bytes, ends) = group(entries)
            #expect(audit.append(bytes, ends: ends, entries: &entries))
            n += size
        }
        var seen: [String] = []
        audit.forEachNewestFirst { seen.append($0.eventID); return true }
        #expect(seen.count == AuditLog.indexCapacity)
        #expect(seen.first == "e\(total)" && seen.last == "e6")
        #expect(Set(seen).count == seen.count)
    }

    /// A group larger than one writev(2) takes (1024 buffers: 512 records and their links),
    /// then small groups after it: one chain that verifies, every index entry pointing at
    /// exactly its line, and a restart that reads back the same chain end.
    @Test func largeGroupsChainAndIndexEveryLine() throws {
        let dir = try directory()
        var audit: AuditLog? = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000")
        var n = 0
        for size in [AuditChainLinks.maxBuffers / 2 + 7, 1, 3, AuditChainLinks.maxBuffers + 1] {
            var entries = (n..<(n + size)).map { entry($0 + 1, time: 1000 + Double($0), key: "k", tracks: false) }
            let (bytes, ends) = group(entries)
            #expect(audit?.append(bytes, ends: ends, entries: &entries) == true)
            n += size
        }
        audit?.sync()
        #expect(AuditVerifier.verify(dataDirectory: dir).intact)
        var checked = 0
        audit?.forEachNewestFirst { e in
            let line = audit?.line(of: e) ?? ""
            let object = try? JSONParser.parse(line).objectValue
            #expect(object?["eventID"]?.stringValue == e.eventID, "line of \(e.eventID): \(line.prefix(80))")
            #expect(line.hasSuffix("\"}") && !line.contains("\n"))
            checked += 1
            return true
        }
        #expect(checked == n)
        let text = try String(contentsOfFile: dir + "/audit/audit-00000001.jsonl", encoding: .utf8)
        #expect(text.split(separator: "\n").count == n && text.hasSuffix("\"}\n"))
        let head = try #require(AuditChainHead.read(directory: dir + "/audit"))
        audit = nil
        // Reopened: the chain continues from the same hash.
        let reopened = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000")
        #expect(reopened.committedHorizon().count == n && head.count == n)
        var more = [entry(n + 1, time: 5000, key: "k", tracks: false)]
        let (bytes, ends) = group(more)
        #expect(reopened.append(bytes, ends: ends, entries: &more))
        reopened.sync()
        #expect(AuditVerifier.verify(dataDirectory: dir).intact)
    }
    /// With `.interval`, a segment closed by rotation is fsynced by the timer's sync, not
    /// under the lock in the middle of a write: the sync closes every one of them and then
    /// records the chain head. With `.always`, rotation still fsyncs at once.
    @Test func closedSegmentsAreSyncedByTheTimer() throws {
        for policy in [AuditLog.FsyncPolicy.interval, .always] {
            let dir = try directory()
            let audit = try AuditLog(dataDirectory: dir, policy: policy, fallbackAccount: "000000000000", segmentBytes: 900)
            var n = 0
            for _ in 0..<6 {
                var entries = (n..<(n + 5)).map { entry($0 + 1, time: 1000, key: "k", tracks: false) }
                let (bytes, ends) = group(entries)
                #expect(audit.append(bytes, ends: ends, entries: &entries))
                n += 5  // ~1,000 bytes: each group closes its segment
            }
            #expect(audit.committedHorizon().segment == 7)
            #expect(audit.unsyncedSealedSegments == (policy == .interval ? 6 : 0))
            audit.sync()
            #expect(audit.unsyncedSealedSegments == 0)
            let head = try #require(AuditChainHead.read(directory: dir + "/audit"))
            #expect(head.count == n)
            #expect(AuditVerifier.verify(dataDirectory: dir).intact)
        }
    }
}
