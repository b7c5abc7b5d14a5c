import Testing
import KMSCore
@testable import KMSServer

/// The index keeps eventIDs and requestIDs as 128 bits and one key ARN outside an array:
/// what it hands back must be exactly what was written.
@Suite struct AuditIndexEntryTests {
    @Test func eventIDBitsAreTheWrittenText() {
        for _ in 0..<3 {
            var out: [UInt8] = Array("x".utf8)
            let id = EventID.write(into: &out)
            let text = String(decoding: out.dropFirst(2).dropLast(), as: UTF8.self)  // without "x" and the quotes
            #expect(out.count == 1 + 38 && out[1] == UInt8(ascii: "\"") && out.last == UInt8(ascii: "\""))
            #expect(id.string == text)
            #expect(AuditID(text) == id)
            guard case .uuid = id else { Issue.record("not kept as bits: \(id)"); continue }
        }
        var a: [UInt8] = [], b: [UInt8] = []
        #expect(EventID.write(into: &a) != EventID.write(into: &b))
    }

    @Test func idsRoundTripAndOthersStayText() {
        let uuid = "0123abcd-4567-89ef-8000-00000000002a"
        #expect(AuditID(uuid).string == uuid)
        guard case .uuid = AuditID(uuid) else { Issue.record("a UUID kept as text"); return }
        // Not the service's shape: kept as given, and never equal to a different text.
        for text in ["", "e1", "0123ABCD-4567-89EF-8000-00000000002A", "0123abcd-4567-89ef-8000-00000000002", "0123abcd04567-89ef-8000-00000000002a"] {
            #expect(AuditID(text).string == text)
            #expect(AuditID(text) == .text(text))
            #expect(AuditID(text) != AuditID(uuid))
        }
        let request = RequestID.next()
        #expect(AuditID(request).string == request)
    }

    /// The pipeline hands RequestID's counter to the index instead of parsing the text: it
    /// must be exactly what parsing gives, across a carry into the counter's upper digits.
    @Test func requestIDBitsAreItsText() {
        for _ in 0..<3 {
            let (text, id) = RequestID.nextWithAuditID()
            #expect(id == AuditID(text) && id.string == text)
            guard case .uuid = id else { Issue.record("not kept as bits: \(id)"); continue }
        }
        RequestID.counter.add(0xFFFF_FFFF, ordering: .relaxed)
        let (text, id) = RequestID.nextWithAuditID()
        #expect(id == AuditID(text) && id.string == text)
        let (next, _) = RequestID.nextWithAuditID()
        #expect(next != text)
    }

    @Test func resourcesComeBackInOrder() {
        func entry(_ resources: [String]) -> AuditIndexEntry {
            AuditIndexEntry(time: 1, eventName: "ReEncrypt", source: .kms, account: "111122223333", username: "root",
                            accessKeyId: "AKIA", readOnly: true, eventID: "e", resources: resources, requestID: "r")
        }
        for resources in [[], ["arn:a"], ["arn:a", "arn:b"], ["arn:a", "arn:b", "arn:c"]] {
            let e = entry(resources)
            #expect(e.resources == resources)
            var seen: [String] = []
            e.forEachResource { seen.append($0) }
            #expect(seen == resources)
            #expect(e.containsResource { $0 == "arn:b" } == resources.contains("arn:b"))
            #expect(e.eventID == "e" && e.requestID == "r")
        }
    }

    @Test func userNameIsTheLastPathComponent() {
        #expect(AuditRecord.lastPathComponent("arn:aws:iam::111122223333:user/dev/alice") == "alice")
        #expect(AuditRecord.lastPathComponent("arn:aws:iam::111122223333:user/a-rather-long-user-name-here") == "a-rather-long-user-name-here")
        #expect(AuditRecord.lastPathComponent("no-slash") == "no-slash")
        #expect(AuditFields.startsWith("arn:aws:kms", "arn:") && !AuditFields.startsWith("ar", "arn:"))
        #expect(!AuditFields.startsWith("alias/x", "arn:") && AuditFields.startsWith("alias/x", "alias/"))
    }
}
