import Crypto
import Foundation
import KMSCore

#if canImport(Glibc)
import Glibc
#endif

/// The segment files of an audit directory: naming, opening, and reading back at start.
enum AuditSegments {
    static func path(directory: String, segment: Int) -> String {
        var digits = String(segment)
        while digits.count < 8 { digits = "0" + digits }
        return "\(directory)/audit-\(digits).jsonl"
    }

    /// Segment numbers present, ascending.
    static func list(_ directory: String) throws -> [Int] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        return names.compactMap { name -> Int? in
            guard name.hasPrefix("audit-"), name.hasSuffix(".jsonl") else { return nil }
            return Int(name.dropFirst(6).dropLast(6))
        }.sorted()
    }

    static func open(directory: String, segment: Int) throws -> Int32 {
        let fd = Glibc.open(path(directory: directory, segment: segment), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AuditError("cannot open an audit segment in \(directory): \(String(cString: strerror(errno)))") }
        return fd
    }

    struct Recovery {
        var lastHash = [UInt8](repeating: 0, count: 32)
        var count = 0
        var lastSegmentSize = 0
        var entries: [AuditIndexEntry] = []
    }

    /// Reads one segment at start: the chain's last hash and count and, for the newest
    /// segments, the index. A record cut short by a crash mid-write (never acknowledged: its
    /// response waits for the whole write) is removed, with a warning.
    static func recover(directory: String, segment: Int, into r: inout Recovery, index: Bool) throws {
        let file = path(directory: directory, segment: segment)
        guard let data = FileManager.default.contents(atPath: file) else { throw AuditError("cannot read \(file)") }
        let bytes = [UInt8](data)
        var start = 0
        var complete = 0
        var lastLine: Range<Int>?
        // Only the newest segments are parsed (for the index); older ones are only counted.
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            let line = bytes[start..<newline]
            r.count += 1
            if index, let entry = indexEntry(line, segment: segment, offset: start, sequence: r.count) {
                r.entries.append(entry)
                if r.entries.count > 2 * AuditLog.indexCapacity { r.entries.removeFirst(AuditLog.indexCapacity) }
            }
            lastLine = start..<newline
            start = newline + 1
            complete = start
        }
        if let lastLine { r.lastHash = Array(SHA256.hash(data: bytes[lastLine])) }
        if complete < bytes.count {
            Console.error("kms: warning: \(file) ends in a partial audit record (\(bytes.count - complete) bytes, "
                + "cut by a crash before it was acknowledged); removing it")
            guard truncate(file, off_t(complete)) == 0 else { throw AuditError("cannot truncate \(file)") }
        }
        r.lastSegmentSize = complete
    }

    /// The index fields of a written line.
    static func indexEntry(_ line: ArraySlice<UInt8>, segment: Int, offset: Int, sequence: Int) -> AuditIndexEntry? {
        guard let json = try? JSONParser.parse(Array(line)), let o = json.objectValue else { return nil }
        let identity = o["userIdentity"]?.objectValue
        let arn = identity?["arn"]?.stringValue ?? ""
        let type = identity?["type"]?.stringValue
        let username = type == "Root" ? "root" : (identity?["userName"]?.stringValue ?? (arn.split(separator: "/").last.map(String.init) ?? ""))
        let resources = (o["resources"]?.arrayValue ?? []).compactMap { $0.objectValue?["ARN"]?.stringValue }
        return AuditIndexEntry(
            time: ISO8601Time.parse(o["eventTime"]?.stringValue ?? "") ?? 0,
            eventName: o["eventName"]?.stringValue ?? "",
            source: AuditEventSource(rawValue: o["eventSource"]?.stringValue ?? "") ?? .kms,
            account: o["recipientAccountId"]?.stringValue ?? "",
            username: username,
            accessKeyId: identity?["accessKeyId"]?.stringValue ?? "",
            readOnly: o["readOnly"]?.boolValue ?? false,
            eventID: o["eventID"]?.stringValue ?? "",
            resources: resources,
            isServiceEvent: o["eventType"]?.stringValue == "AwsServiceEvent",
            requestID: o["requestID"]?.stringValue ?? "",
            succeeded: o["errorCode"] == nil && o["eventType"]?.stringValue == "AwsApiCall",
            segment: segment, offset: offset, length: line.count, sequence: sequence)
    }
}
