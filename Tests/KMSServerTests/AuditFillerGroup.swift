@testable import KMSServer

/// A group of padded Encrypt-like records, as an event loop hands them to `AuditLog.append`:
/// for the tests that need the trail's files to grow (page cache, preallocation).
struct AuditFillerGroup {
    var bytes: [UInt8] = []
    var ends: [Int] = []
    var entries: [AuditIndexEntry] = []

    /// Records `first..<first + count`, each ~1 KB, eventID `e<n>`.
    init(first: Int, count: Int, accessKeyId: String) {
        for n in first..<(first + count) {
            bytes += Array(#"{"eventVersion":"1.08","eventTime":"2026-11-30T10:00:00Z","eventName":"Encrypt","padding":""#.utf8)
                + [UInt8](repeating: UInt8(ascii: "x"), count: 900) + Array(#"","eventID":"e\#(n)""#.utf8)
            ends.append(bytes.count)
            entries.append(AuditIndexEntry(time: 1_796_032_800, eventName: "Encrypt", source: .kms, account: "000000000000",
                                           username: "root", accessKeyId: accessKeyId, readOnly: true,
                                           eventID: "e\(n)", resources: [], requestID: "r\(n)", succeeded: true,
                                           tracksKeyUsage: false))
        }
    }

    /// Appends a copy (the log takes the entries it is given).
    func append(to audit: AuditLog) -> Bool {
        var entries = entries
        return audit.append(bytes, ends: ends, entries: &entries)
    }
}
