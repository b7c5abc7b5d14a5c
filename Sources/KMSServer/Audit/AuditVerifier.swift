import Crypto
import Foundation
import KMSCore

/// `kms audit verify`: walks the segment files alone (no server) and reports the first
/// broken link of the hash chain: an altered, missing, reordered or truncated record.
public enum AuditVerifier {
    public struct Report: Sendable {
        public let intact: Bool
        public let records: Int
        public let checked: Int
        public let message: String
    }

    /// `from`/`to` (epoch seconds) limit which records' links are checked; the chain is
    /// still hashed from the first record, and the chain head is only checked without `to`.
    public static func verify(dataDirectory: String, from: Double? = nil, to: Double? = nil,
                              publicKey: AuditDigestPublicKey? = nil) -> Report {
        let directory = dataDirectory + "/audit"
        var segments: [Int]
        do { segments = try AuditSegments.list(directory) } catch {
            return Report(intact: false, records: 0, checked: 0, message: "cannot read \(directory): \(error)")
        }
        // Retention's pruned prefix: the kept trail is checked from the record after it.
        let pruned: AuditPrunedPrefix?
        switch AuditPrunedPrefix.read(directory: directory) {
        case .success(let p): pruned = p
        case .failure(let problem): return Report(intact: false, records: 0, checked: 0, message: problem.description)
        }
        if let pruned { segments = segments.filter { $0 > pruned.segment } }
        // The signed digests, read (and their signatures checked) before the records.
        let digests: AuditDigestCheck.Loaded
        switch AuditDigestCheck.load(directory: directory, dataDirectory: dataDirectory, publicKey: publicKey) {
        case .success(let loaded): digests = loaded
        case .failure(let problem): return Report(intact: false, records: 0, checked: 0, message: problem.description)
        }
        // With digests, retention signs its marker: an unsigned or forged one is someone
        // cutting the front of the trail, not retention.
        if let pruned, let key = digests.key, !pruned.isSigned(by: key) {
            return Report(intact: false, records: pruned.records, checked: 0,
                          message: "the pruned-prefix marker \(directory)/\(AuditPrunedPrefix.fileName) is "
                            + (pruned.signature == nil ? "not signed" : "forged or altered: its signature does not verify")
                            + " with the digest key \(key.fingerprint): records before the kept trail were removed "
                            + "by something other than retention")
        }
        guard let first = segments.first ?? pruned.map({ $0.segment + 1 }) else {
            return Report(intact: true, records: 0, checked: 0, message: "no audit records in \(directory)")
        }
        func fail(_ count: Int, _ checked: Int, _ message: String) -> Report {
            Report(intact: false, records: count, checked: checked, message: message)
        }
        let expectedFirst = (pruned?.segment ?? 0) + 1
        if first != expectedFirst {
            return fail(pruned?.records ?? 0, 0, "segment(s) missing before \(AuditSegments.path(directory: directory, segment: first))")
        }
        var previous = pruned?.lastHashBytes ?? [UInt8](repeating: 0, count: 32)
        var count = pruned?.records ?? 0, checked = 0
        var hashes: [Int: [UInt8]] = [:]
        let head = AuditChainHead.read(directory: directory)
        for (i, segment) in segments.enumerated() {
            let file = AuditSegments.path(directory: directory, segment: segment)
            if segment != first + i { return fail(count, checked, "segment \(first + i) is missing (found \(file) next)") }
            guard let data = FileManager.default.contents(atPath: file) else { return fail(count, checked, "cannot read \(file)") }
            let bytes = [UInt8](data)
            var start = 0
            var lineNumber = 0
            while start < bytes.count {
                lineNumber += 1
                let place = "record \(count + 1) (\(file) line \(lineNumber))"
                guard let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                    return fail(count, checked, "\(place) is truncated: the file ends inside it")
                }
                let line = bytes[start..<newline]
                let record = try? JSONParser.parse(line)
                guard let object = record?.objectValue, let link = object["previousEventHash"]?.stringValue,
                      line.count > 90 else {
                    return fail(count, checked, "\(place) is altered: it is not a chained JSON record")
                }
                let time = ISO8601Time.parse(object["eventTime"]?.stringValue ?? "") ?? 0
                let inRange = (from.map { time >= $0 } ?? true) && (to.map { time <= $0 } ?? true)
                // The link must be the record's last member, exactly as written.
                let suffix = Array(#","previousEventHash":""#.utf8) + Array(link.utf8) + Array("\"}".utf8)
                let linkIntact = line.count > suffix.count && Array(line.suffix(suffix.count)) == suffix
                if inRange {
                    checked += 1
                    guard linkIntact, link == AuditLog.hex(previous) else {
                        return fail(count, checked, "\(place): its previousEventHash does not match the record before it: "
                            + "this record or the one before was altered, or records between them are missing or reordered")
                    }
                }
                previous = Array(SHA256.hash(data: line))
                count += 1
                if let head, count == head.count { hashes[count] = previous }
                if digests.ends.contains(count) { hashes[count] = previous }
                start = newline + 1
            }
        }
        if let problem = digests.check(records: count, hashes: hashes, head: head, complete: to == nil, pruned: pruned) {
            return fail(count, checked, problem)
        }
        if to == nil, let head {
            if count < head.count {
                return fail(count, checked, "the trail is truncated: the chain head (written at fsync) counts \(head.count) records, the files hold \(count)")
            }
            if let hash = hashes[head.count], AuditLog.hex(hash) != head.hash {
                return fail(count, checked, "record \(head.count) does not match the chain head: it was altered")
            }
        }
        let prunedNote = pruned.map {
            " (records 1...\($0.records) pruned by retention, the newest of them from \(ISO8601Time.format($0.before)))"
        } ?? ""
        return Report(intact: true, records: count, checked: checked,
                      message: "intact: \(count) record(s) in \(segments.count) segment(s)\(prunedNote), \(checked) checked; "
                        + digests.summary(records: count))
    }
}

extension AuditVerifier {
    /// `2026-11-29T12:00:00Z` to epoch seconds.
    public static func parseTime(_ text: String) -> Double? { ISO8601Time.parse(text) }
}
