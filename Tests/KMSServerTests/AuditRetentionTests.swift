import Foundation
import NIOHTTP1
import Testing
import KMSCore
import KMSStorage
import SigV4
@testable import KMSServer

/// Retention (`--audit-retention-days`): whole sealed segments older than the cutoff go,
/// the pruned prefix is recorded, and the kept trail still verifies (and still fails when
/// altered); a restart continues the chain after the prefix; the cluster shipper starts
/// there. Also: the shipper's rows from the index equal those parsed from the lines, and
/// group commit with `--audit-fsync always`.
@Suite struct AuditRetentionTests {
    func directory() throws -> String {
        let path = NSTemporaryDirectory() + "kms-audit-retention-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func entry(_ n: Int, time: Double) -> AuditIndexEntry {
        AuditIndexEntry(time: time, eventName: "Encrypt", source: .kms, account: "111122223333", username: "root",
                        accessKeyId: "AKIARETENTION0000001", readOnly: true, eventID: "e\(n)", resources: ["k"],
                        requestID: "r\(n)", succeeded: true)
    }

    /// Appends `count` records at `time`, `perGroup` a group (as event loops hand them over).
    func write(_ audit: AuditLog, from n: Int, count: Int, time: Double, perGroup: Int = 10) -> Bool {
        var i = n
        while i < n + count {
            var bytes: [UInt8] = [], ends: [Int] = [], entries: [AuditIndexEntry] = []
            for j in i..<min(i + perGroup, n + count) {
                var t: [UInt8] = []
                AuditRecord.writeTime(time, into: &t)
                bytes += Array(#"{"eventVersion":"1.08","eventTime":"#.utf8) + t
                    + Array(#","eventName":"Encrypt","eventID":"e\#(j)","requestID":"r\#(j)""#.utf8)
                ends.append(bytes.count)
                entries.append(entry(j, time: time))
            }
            guard audit.append(bytes, ends: ends, entries: &entries) else { return false }
            i += ends.count
        }
        return true
    }

    @Test func pruningKeepsTheRestVerifiable() throws {
        let dir = try directory()
        let old = 1_000_000.0, recent = Date().timeIntervalSince1970
        // Small segments: about 5 records each (each is ~190 bytes with its link). No
        // retention at first (the timer's sync would prune at once): `prune` is called below.
        var audit: AuditLog? = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000",
                                            segmentBytes: 900)
        #expect(write(audit!, from: 1, count: 20, time: old, perGroup: 1))
        #expect(write(audit!, from: 21, count: 12, time: recent, perGroup: 1))
        audit!.sync()
        let before = try AuditSegments.list(dir + "/audit")
        #expect(before.count >= 6)
        #expect(AuditVerifier.verify(dataDirectory: dir).intact)

        let removed = audit!.prune(olderThan: recent - 30 * 86_400)
        #expect(removed >= 3)
        let after = try AuditSegments.list(dir + "/audit")
        #expect(after.count == before.count - removed && after.first == before.first! + removed)
        let marker = try #require(try AuditPrunedPrefix.read(directory: dir + "/audit").get())
        #expect(marker.records > 0 && marker.records <= 20 && marker.segment == after.first! - 1)
        let report = AuditVerifier.verify(dataDirectory: dir)
        #expect(report.intact, "\(report.message)")
        #expect(report.records == 32 && report.message.contains("pruned by retention"))
        // Nothing recent goes, and a second run removes nothing more.
        #expect(audit!.prune(olderThan: recent - 30 * 86_400) == 0)
        // With retention on, the timer's sync prunes by itself (here: nothing is left to).

        // A restart continues the chain after the prefix: sequences go on, verify passes.
        audit = nil
        audit = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000",
                             retentionDays: 30, segmentBytes: 900)
        #expect(audit!.committedHorizon().count == 32)
        #expect(write(audit!, from: 33, count: 3, time: recent))
        audit!.sync()
        #expect(AuditVerifier.verify(dataDirectory: dir).intact)
        #expect(audit!.indexEntries(33, through: 35)?.map(\.eventID) == ["e33", "e34", "e35"])

        // The cluster shipper starts at the first kept record.
        let horizon = audit!.committedHorizon()
        var position = try AuditClusterShipper.locate(sequence: 0, directory: audit!.directory, horizon: horizon)
        #expect(position.sequence == marker.records && position.segment == marker.segment + 1)
        let records = AuditClusterShipper.read(from: &position, directory: audit!.directory, horizon: horizon, limit: 1000)
        #expect(records.first?.sequence == marker.records + 1 && records.last?.sequence == 35)

        // The kept trail is still tamper-evident: the first kept record altered, or the
        // first kept segment removed, fails.
        let firstKept = AuditSegments.path(directory: dir + "/audit", segment: after.first!)
        let original = try Data(contentsOf: URL(fileURLWithPath: firstKept))
        var bytes = [UInt8](original)
        bytes[30] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: firstKept))
        #expect(!AuditVerifier.verify(dataDirectory: dir).intact)
        try original.write(to: URL(fileURLWithPath: firstKept))
        #expect(AuditVerifier.verify(dataDirectory: dir).intact)
        try FileManager.default.removeItem(atPath: firstKept)
        let missing = AuditVerifier.verify(dataDirectory: dir)
        #expect(!missing.intact && missing.message.contains("missing"))
        try original.write(to: URL(fileURLWithPath: firstKept))
        // A forged marker (another hash) breaks the first kept record's link.
        var forged = marker
        forged.lastHash = String(repeating: "1", count: 64)
        #expect(forged.write(directory: dir + "/audit"))
        #expect(!AuditVerifier.verify(dataDirectory: dir).intact)
    }

    /// With digests on, retention signs its marker. Cutting the front of the trail by hand
    /// and writing a marker at a digest boundary (its hash is in the digest file) fails,
    /// unsigned or signed with another key; the honest marker verifies.
    @Test func aForgedPrunedMarkerAtADigestBoundaryFails() throws {
        let dir = try directory()
        let old = 1_000_000.0, recent = Date().timeIntervalSince1970
        let signer = try AuditDigestSigner(rootKey: RootKey(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) }))
        let audit = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000",
                                 digestSigner: signer, digestPolicy: AuditDigestPolicy(interval: 3600, everyEvents: 5),
                                 segmentBytes: 900)
        #expect(write(audit, from: 1, count: 20, time: old, perGroup: 5))
        #expect(write(audit, from: 21, count: 10, time: recent, perGroup: 5))
        audit.sync()
        let verify = { AuditVerifier.verify(dataDirectory: dir, publicKey: signer.publicKey) }
        #expect(verify().intact, "\(verify().message)")
        let segments = try AuditSegments.list(dir + "/audit")
        // Digest lines name the hash of the last record they cover: what a forger would use.
        let digestLines = try String(contentsOfFile: dir + "/audit/digests.jsonl", encoding: .utf8)
            .split(separator: "\n").compactMap { try? JSONParser.parse(Array($0.utf8)).objectValue }
        let boundary = try #require(digestLines.first { ($0["digestEndSequence"]?.intValue ?? 0) == 10 })
        let hash10 = try #require(boundary["lastEventHash"]?.stringValue)
        // Which segment record 10 ends: records are read back to find the cut a forger would make.
        var count = 0, cut = 0
        for segment in segments {
            let text = try String(contentsOfFile: AuditSegments.path(directory: dir + "/audit", segment: segment), encoding: .utf8)
            count += text.split(separator: "\n").count
            if count == 10 { cut = segment; break }
            if count > 10 { break }
        }
        #expect(cut > 0, "record 10 should end a segment (groups of 5 fill one each)")
        if cut > 0 {
            // Forge: remove the segments up to record 10, write an unsigned marker.
            let saved = try (segments.filter { $0 <= cut }).map {
                ($0, try Data(contentsOf: URL(fileURLWithPath: AuditSegments.path(directory: dir + "/audit", segment: $0))))
            }
            for (segment, _) in saved { unlink(AuditSegments.path(directory: dir + "/audit", segment: segment)) }
            let forged = AuditPrunedPrefix(records: 10, lastHash: hash10, segment: cut, before: old)
            #expect(forged.write(directory: dir + "/audit"))
            let unsigned = verify()
            #expect(!unsigned.intact && unsigned.message.contains("not signed"), "\(unsigned.message)")
            let other = try AuditDigestSigner(rootKey: RootKey(bytes: [UInt8](repeating: 9, count: 32)))
            #expect(forged.signed(by: other)!.write(directory: dir + "/audit"))
            let wrongKey = verify()
            #expect(!wrongKey.intact && wrongKey.message.contains("forged"), "\(wrongKey.message)")
            // Signed with the right key it would pass: that is the one retention writes.
            #expect(forged.signed(by: signer)!.write(directory: dir + "/audit"))
            #expect(verify().intact)
            for (segment, data) in saved {
                try data.write(to: URL(fileURLWithPath: AuditSegments.path(directory: dir + "/audit", segment: segment)))
            }
            unlink(dir + "/audit/" + AuditPrunedPrefix.fileName)
            #expect(verify().intact)
        }
        // Retention's own marker is signed, and the trail verifies after it.
        #expect(audit.prune(olderThan: recent - 30 * 86_400) >= 1)
        let marker = try #require(try AuditPrunedPrefix.read(directory: dir + "/audit").get())
        #expect(marker.isSigned(by: signer.publicKey))
        #expect(verify().intact, "\(verify().message)")
        // The honest marker with one field changed no longer verifies.
        var altered = marker
        altered.before += 1
        #expect(altered.write(directory: dir + "/audit"))
        #expect(!verify().intact)
    }

    @Test func aSegmentTheShipperHasNotReadIsKept() throws {
        let dir = try directory()
        let audit = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000",
                                 retentionDays: 1, segmentBytes: 900)
        #expect(write(audit, from: 1, count: 20, time: 1_000_000, perGroup: 1))
        let segments = try AuditSegments.list(dir + "/audit")
        audit.pruneFloor.store(segments[1], ordering: .relaxed)
        #expect(audit.prune(olderThan: Date().timeIntervalSince1970) == 1)
        #expect(try AuditSegments.list(dir + "/audit").first == segments[1])
        #expect(AuditVerifier.verify(dataDirectory: dir).intact)
    }

    @Test func retentionIsOffByDefault() throws {
        let dir = try directory()
        let audit = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000", segmentBytes: 900)
        #expect(audit.retention == nil)
        #expect(write(audit, from: 1, count: 20, time: 1_000_000, perGroup: 1))
        audit.sync()
        #expect(try AuditPrunedPrefix.read(directory: dir + "/audit").get() == nil)
        #expect(AuditVerifier.verify(dataDirectory: dir).records == 20)
    }

    @Test func metricsCountTheTrail() throws {
        let dir = try directory()
        let audit = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000")
        #expect(write(audit, from: 1, count: 3, time: 1_000_000))
        let text = String(decoding: AuditMetrics.exposition(audit: audit, shipper: nil), as: UTF8.self)
        #expect(text.contains("kms_audit_records 3\n") && text.contains("kms_audit_write_failures_total 0\n"))
        #expect(!text.contains("shipper"))
        #expect(AuditMetrics.exposition(audit: nil, shipper: nil).isEmpty)
    }

    @Test func groupCommitWithFsyncAlways() throws {
        let dir = try directory()
        let audit = try AuditLog(dataDirectory: dir, policy: .always, fallbackAccount: "000000000000")
        // Several writers at once (the event loops): every group is acknowledged durable.
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            for g in 0..<25 {
                #expect(write(audit, from: 10_000 * (t + 1) + g * 4, count: 4, time: 1_000_000, perGroup: 4))
            }
        }
        audit.sync()
        let report = AuditVerifier.verify(dataDirectory: dir)
        #expect(report.intact && report.records == 400)
    }

    // MARK: The shipper's rows from the index

    let credential = StoredCredential(accessKeyId: "AKIARETENTIONTEST001", secretAccessKey: "retention-secret",
                                      account: "111122223333", principalArn: "arn:aws:iam::111122223333:root")

    @Test func rowsFromTheIndexEqualRowsParsedFromTheLines() throws {
        let dir = try directory()
        let audit = try AuditLog(dataDirectory: dir, policy: .interval, fallbackAccount: "000000000000")
        let pipeline = RequestPipeline(service: try KMSService(store: InMemoryKeyStore()), authenticator: Authenticator(
            credentials: CredentialRegistry([credential]), dev: false, devAccount: "000000000000"), audit: audit)
        func call(_ op: String, _ body: String, secret: String? = nil) throws -> RequestPipeline.Response {
            var headers = HTTPHeaders([("Host", "localhost:8080"), ("Content-Type", "application/x-amz-json-1.1"),
                                       ("X-Amz-Target", "TrentService.\(op)"), ("User-Agent", "retention-test")])
            let signer = SigV4Signer(accessKeyId: credential.accessKeyId, secretAccessKey: secret ?? credential.secretAccessKey,
                                     region: "us-east-1")
            for (n, v) in try signer.sign(method: "POST", headers: headers.map { ($0.name, $0.value) }, body: Array(body.utf8)) {
                headers.add(name: n, value: v)
            }
            let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/", headers: headers)
            let r: RequestPipeline.Response
            switch pipeline.process(head: head, body: Array(body.utf8), sourceIP: "10.0.0.9") {
            case .respond(let x): r = x
            case .offload(let work): r = work()
            }
            var entries = r.entry.map { [$0] } ?? []
            #expect(audit.append(r.event, ends: [r.event.count], entries: &entries))
            return r
        }
        let created = try call("CreateKey", "{}")
        let keyId = try JSONParser.parse(created.body).objectValue?["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue ?? ""
        _ = try call("Encrypt", #"{"KeyId":"\#(keyId)","Plaintext":"AAAA"}"#)
        _ = try call("Encrypt", #"{"KeyId":"\#(keyId)","Plaintext":"AAAA"}"#, secret: "wrong")
        _ = try call("DescribeKey", #"{"KeyId":"alias/none"}"#)
        #expect(audit.appendServiceEvent(eventName: "DeleteKey", account: "111122223333", region: "us-east-1",
                                         keyArn: "arn:aws:kms:us-east-1:111122223333:key/\(keyId)"))
        let horizon = audit.committedHorizon()
        var position = try AuditClusterShipper.locate(sequence: 0, directory: audit.directory, horizon: horizon)
        let records = AuditClusterShipper.read(from: &position, directory: audit.directory, horizon: horizon, limit: 100)
        #expect(records.count == 5)
        let fromIndex = AuditClusterShipper.events(records, node: "n", audit: audit)
        let parsed = records.map { AuditClusterShipper.event($0.line, node: "n", sequence: $0.sequence) }
        #expect(fromIndex == parsed)
    }
}
