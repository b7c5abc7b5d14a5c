import Crypto
import Foundation
import Testing
import KMSCore
import KMSStorage
@testable import KMSServer

/// Signed digests: written every N records and at shutdown, verified from the files with
/// the public key; a flipped byte, a removed digest, a cut trail or a re-chained forgery shows.
@Suite struct AuditDigestTests {
    struct Trail {
        let data: String
        let signer: AuditDigestSigner
        var audit: String { data + "/audit" }
        var segment: String { audit + "/audit-00000001.jsonl" }
        var digests: String { audit + "/digests.jsonl" }

        func verify(_ key: AuditDigestPublicKey? = nil) -> AuditVerifier.Report {
            AuditVerifier.verify(dataDirectory: data, publicKey: key ?? signer.publicKey)
        }
        func lines(_ path: String) throws -> [String] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        }
        func write(_ path: String, _ lines: [String]) throws {
            try Data((lines.map { $0 + "\n" }.joined()).utf8).write(to: URL(fileURLWithPath: path))
        }
    }

    /// Five records, a digest every two: digests cover 1-2, 3-4 and (at shutdown) 5.
    func makeTrail() throws -> Trail {
        let data = NSTemporaryDirectory() + "kms-digest-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let root = try RootKey(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })
        let signer = try AuditDigestSigner(rootKey: root)
        let audit = try AuditLog(dataDirectory: data, policy: .interval, fallbackAccount: "000000000000",
                                 digestSigner: signer, digestPolicy: AuditDigestPolicy(interval: 3600, everyEvents: 2))
        for i in 0..<5 {
            #expect(audit.appendServiceEvent(eventName: "DeleteKey", account: "111122223333", region: "us-east-1",
                                             keyArn: "arn:aws:kms:us-east-1:111122223333:key/k\(i)"))
        }
        audit.sync(final: true)
        return Trail(data: data, signer: signer)
    }

    @Test func digestsAreSignedAndVerify() throws {
        let t = try makeTrail()
        let digests = try t.lines(t.digests).map { try JSONParser.parse($0).objectValue }
        #expect(digests.count == 3)
        #expect(digests.map { $0?["digestEndSequence"]?.intValue } == [2, 4, 5])
        #expect(digests[1]?["digestStartSequence"]?.intValue == 3)
        #expect(digests[0]?["digestSignatureAlgorithm"]?.stringValue == "Ed25519")
        let report = t.verify()
        #expect(report.intact, "\(report.message)")
        #expect(report.message.contains("3 signed digest(s) (with the given public key)"))
        // The PEM round-trips, and the same root key gives the same key (cluster nodes agree).
        let pem = t.signer.publicKey.pem
        #expect(pem.hasPrefix("-----BEGIN PUBLIC KEY-----"))
        #expect(AuditDigestPublicKey(text: pem)?.fingerprint == t.signer.publicKey.fingerprint)
        // Another key does not verify them.
        let other = try AuditDigestSigner(rootKey: RootKey(bytes: [UInt8](repeating: 7, count: 32)))
        let wrong = t.verify(other.publicKey)
        #expect(!wrong.intact && wrong.message.contains("signed digest 1 (") && wrong.message.contains("forged or altered"))
    }

    @Test func flippedByteInADigestFails() throws {
        let t = try makeTrail()
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: t.digests)))
        let lines = try t.lines(t.digests)
        // A digit of the second digest's digestEndTime changes: still valid JSON, signature breaks.
        let second = lines[0].utf8.count + 1
        let at = second + Array(lines[1].utf8).firstIndex(of: UInt8(ascii: "Z"))! - 1
        bytes[at] = bytes[at] == UInt8(ascii: "1") ? UInt8(ascii: "2") : UInt8(ascii: "1")
        try Data(bytes).write(to: URL(fileURLWithPath: t.digests))
        let report = t.verify()
        #expect(!report.intact && report.message.contains("signed digest 2") && report.message.contains("forged or altered"),
                "\(report.message)")
    }

    @Test func removedDigestsAreReported() throws {
        let t = try makeTrail()
        let lines = try t.lines(t.digests)
        // The last digest removed: the chain head counted it.
        try t.write(t.digests, Array(lines.dropLast()))
        let last = t.verify()
        #expect(!last.intact && last.message.contains("signed digest(s) missing"), "\(last.message)")
        // A middle digest removed: the next one does not link to the one before it.
        try t.write(t.digests, [lines[0], lines[2]])
        let middle = t.verify()
        #expect(!middle.intact && middle.message.contains("signed digest 2"), "\(middle.message)")
        // The last two removed and the chain head deleted: more records uncovered than N.
        try t.write(t.digests, [lines[0]])
        try FileManager.default.removeItem(atPath: t.audit + "/chain-head")
        let uncovered = t.verify()
        #expect(!uncovered.intact && uncovered.message.contains("covered by no digest"), "\(uncovered.message)")
    }

    @Test func truncatedTrailIsReported() throws {
        let t = try makeTrail()
        let records = try t.lines(t.segment)
        try t.write(t.segment, Array(records.dropLast()))
        try FileManager.default.removeItem(atPath: t.audit + "/chain-head")  // the digests alone must tell
        let report = t.verify()
        #expect(!report.intact && report.message.contains("truncated") && report.message.contains("digest 3"), "\(report.message)")
    }

    /// Whoever edits a record and recomputes the hash chain still cannot re-sign the digests.
    @Test func rechainedForgeryFailsOnTheDigest() throws {
        let t = try makeTrail()
        var records = try t.lines(t.segment)
        records[0] = records[0].replacingOccurrences(of: "key/k0", with: "key/kX")
        var previous = [UInt8](repeating: 0, count: 32)
        for i in records.indices {
            let link = #","previousEventHash":""#
            let cut = try #require(records[i].range(of: link, options: .backwards))
            records[i] = String(records[i][..<cut.lowerBound]) + link + AuditLog.hex(previous) + "\"}"
            previous = Array(SHA256.hash(data: Array(records[i].utf8)))
        }
        try t.write(t.segment, records)
        try FileManager.default.removeItem(atPath: t.audit + "/chain-head")
        let report = t.verify()
        #expect(!report.intact && report.message.contains("does not match signed digest 1"), "\(report.message)")
    }
}
