import Foundation
import KMSCore

/// `kms audit export` / `kms audit tail`: the trail's records as JSON lines, one event a
/// line exactly as stored, filtered, for shipping to a SIEM. Reads the files alone.
public enum AuditExport {
    public struct Filter: Sendable {
        public var from: Double?
        public var to: Double?
        /// A key ID or key ARN named in resources.
        public var key: String?
        /// A principal ARN, access key ID or user name ("root").
        public var principal: String?
        public var eventName: String?

        public init(from: Double? = nil, to: Double? = nil, key: String? = nil, principal: String? = nil, eventName: String? = nil) {
            self.from = from
            self.to = to
            self.key = key
            self.principal = principal
            self.eventName = eventName
        }

        func matches(_ line: ArraySlice<UInt8>) -> Bool {
            guard let entry = AuditSegments.indexEntry(line, segment: 0, offset: 0, sequence: 0) else { return false }
            if let from, entry.time < from { return false }
            if let to, entry.time > to { return false }
            if let eventName, entry.eventName != eventName { return false }
            if let key, !CloudTrailLookup.matches(entry, ("ResourceName", key)) { return false }
            if let principal, entry.username != principal, entry.accessKeyId != principal,
               !String(decoding: line, as: UTF8.self).contains("\"arn\":\"\(principal)\"") {
                return false
            }
            return true
        }
    }

    /// Writes every matching record to `output`, oldest first; with `follow`, keeps waiting
    /// for new records (polling every `pollInterval` seconds) until the process is stopped.
    /// `last`: only the newest N matching records of what exists now.
    public static func run(dataDirectory: String, filter: Filter, last: Int? = nil, follow: Bool = false,
                           pollInterval: Double = 0.5, output: (String) -> Void) throws {
        let directory = dataDirectory + "/audit"
        var segment = 0, offset = 0
        var pending: [String] = []
        func scan(emit: (String) -> Void) throws {
            let segments = try AuditSegments.list(directory)
            for s in segments where s >= segment {
                if s != segment { segment = s; offset = 0 }
                guard let handle = FileHandle(forReadingAtPath: AuditSegments.path(directory: directory, segment: s)) else { continue }
                defer { try? handle.close() }
                try handle.seek(toOffset: UInt64(offset))
                let bytes = [UInt8](handle.readDataToEndOfFile())
                var start = 0
                while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
                    let line = bytes[start..<newline]
                    if filter.matches(line) { emit(String(decoding: line, as: UTF8.self)) }
                    start = newline + 1
                }
                offset += start  // a partial last line is read again next time
            }
        }
        if let last {
            try scan { pending.append($0); if pending.count > last { pending.removeFirst() } }
            pending.forEach(output)
        } else {
            try scan(emit: output)
        }
        while follow {
            Thread.sleep(forTimeInterval: pollInterval)
            try scan(emit: output)
        }
    }
}
