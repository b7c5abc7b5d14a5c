import Testing
@testable import KMSCore

/// The Developer Guide's "Key states" table for the tag operations: TagResource and
/// UntagResource succeed on Enabled, Disabled and PendingImport keys and fail with
/// KMSInvalidStateException on a key pending deletion; ListResourceTags succeeds in every state.
@Suite struct KeyStateTableTests {
    let service: KMSService
    let root = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIAROOT")

    init() throws { service = try KMSService(store: InMemoryKeyStore(), clock: ManualClock()) }

    @discardableResult
    func call(_ op: String, _ body: [(String, JSONValue)]) throws(KMSError) -> JSONObject {
        try service.handle(operation: op, body: .object(JSONObject(body)), caller: root)
    }

    func key(_ extra: [(String, JSONValue)] = []) throws -> String {
        try #require(try call("CreateKey", extra)["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
    }

    func tag(_ id: String) throws(KMSError) {
        try call("TagResource", [("KeyId", .string(id)), ("Tags", .array([.object(JSONObject([("TagKey", .string("k")), ("TagValue", .string("v"))]))]))])
    }

    func untag(_ id: String) throws(KMSError) {
        try call("UntagResource", [("KeyId", .string(id)), ("TagKeys", .array([.string("k")]))])
    }

    @Test func tagOperationsFollowTheKeyStateTable() throws {
        let disabled = try key()
        try call("DisableKey", [("KeyId", .string(disabled))])
        let pendingImport = try key([("Origin", .string("EXTERNAL"))])
        for id in [disabled, pendingImport] {
            try tag(id)
            #expect(try call("ListResourceTags", [("KeyId", .string(id))])["Tags"]?.arrayValue?.count == 1)
            try untag(id)
        }
        let pendingDeletion = try key()
        try tag(pendingDeletion)
        try call("ScheduleKeyDeletion", [("KeyId", .string(pendingDeletion)), ("PendingWindowInDays", JSONValue(7))])
        for op in [tag, untag] {
            do { try op(pendingDeletion); Issue.record("tag change accepted while pending deletion") } catch {
                #expect(error.code == .kmsInvalidState)
            }
        }
        #expect(try call("ListResourceTags", [("KeyId", .string(pendingDeletion))])["Tags"]?.arrayValue?.count == 1)
    }
}
