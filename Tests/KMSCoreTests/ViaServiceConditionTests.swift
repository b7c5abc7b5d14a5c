import Testing
@testable import KMSCore

/// kms:ViaService in the authorization funnel (issue 10 §4): bound on key resources,
/// "NAME.REGION.amazonaws.com" for a caller acting through a trusted service, absent on a
/// direct call and on operations without a key resource.
@Suite struct ViaServiceConditionTests {
    let service: KMSService
    let root = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIAROOT")

    init() throws { service = try KMSService(store: InMemoryKeyStore()) }

    @discardableResult
    func call(_ op: String, _ members: [(String, JSONValue)], as caller: Caller) throws(KMSError) -> JSONObject {
        try service.handle(operation: op, body: .object(JSONObject(members)), caller: caller)
    }

    func code(_ op: String, _ members: [(String, JSONValue)], as caller: Caller) -> KMSError.Code? {
        do { try call(op, members, as: caller); return nil } catch { return error.code }
    }

    /// The root may do anything, except what `deny` (a Condition block) matches.
    func key(denying action: String, when condition: String) throws -> String {
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},{"Effect":"Deny","Principal":"*","Action":"\#(action)","Resource":"*","Condition":\#(condition)}]}"#
        let out = try call("CreateKey", [("Policy", .string(policy))], as: root)
        return try #require(out["KeyMetadata"]?.objectValue?["Arn"]?.stringValue)
    }

    @Test func boundOnKeyResourcesOnly() {
        #expect(KMSConditionKeys.binds("kms:viaservice", operation: "Encrypt", onKey: true))
        #expect(KMSConditionKeys.binds("kms:viaservice", operation: "DisableKey", onKey: true))
        #expect(KMSConditionKeys.binds("kms:viaservice", operation: "CreateGrant", onKey: true))
        #expect(!KMSConditionKeys.binds("kms:viaservice", operation: "CreateKey", onKey: false))
        #expect(!KMSConditionKeys.binds("kms:viaservice", operation: "ListKeys", onKey: false))
    }

    @Test func onlyTheNamedServiceInTheRequestsRegionPasses() throws {
        let arn = try key(denying: "kms:Encrypt", when: #"{"StringNotEquals":{"kms:ViaService":"secretsmanager.us-east-1.amazonaws.com"}}"#)
        let encrypt: [(String, JSONValue)] = [("KeyId", .string(arn)), ("Plaintext", .string("AAAA"))]
        #expect(code("Encrypt", encrypt, as: root) == .accessDenied)
        #expect(code("Encrypt", encrypt, as: root.acting(through: "secretsmanager")) == nil)
        #expect(code("Encrypt", encrypt, as: root.acting(through: "ec2")) == .accessDenied)
        // The value names the request's region: from eu-west-1 it is secretsmanager.eu-west-1...
        let west = Caller(account: "111122223333", region: "eu-west-1", accessKeyId: "AKIAROOT").acting(through: "secretsmanager")
        #expect(west.viaService == "secretsmanager.eu-west-1.amazonaws.com")
    }

    @Test func nullAndIfExistsSeeNoKeyOnADirectCall() throws {
        // Deny whatever comes through any service: direct calls pass.
        let directOnly = try key(denying: "kms:Encrypt", when: #"{"Null":{"kms:ViaService":"false"}}"#)
        let encrypt: [(String, JSONValue)] = [("KeyId", .string(directOnly)), ("Plaintext", .string("AAAA"))]
        #expect(code("Encrypt", encrypt, as: root) == nil)
        #expect(code("Encrypt", encrypt, as: root.acting(through: "secretsmanager")) == .accessDenied)
        // Deny Lambda: direct calls and other services pass.
        let noLambda = try key(denying: "kms:Encrypt", when: #"{"StringLike":{"kms:ViaService":"lambda.*"}}"#)
        let e2: [(String, JSONValue)] = [("KeyId", .string(noLambda)), ("Plaintext", .string("AAAA"))]
        #expect(code("Encrypt", e2, as: root) == nil)
        #expect(code("Encrypt", e2, as: root.acting(through: "secretsmanager")) == nil)
        #expect(code("Encrypt", e2, as: root.acting(through: "lambda")) == .accessDenied)
        // ...IfExists holds when the key is absent: this Deny stops direct calls too.
        let onlySM = try key(denying: "kms:Encrypt", when: #"{"StringNotLikeIfExists":{"kms:ViaService":"secretsmanager.*"}}"#)
        let e3: [(String, JSONValue)] = [("KeyId", .string(onlySM)), ("Plaintext", .string("AAAA"))]
        #expect(code("Encrypt", e3, as: root) == .accessDenied)
        #expect(code("Encrypt", e3, as: root.acting(through: "secretsmanager")) == nil)
        #expect(code("Encrypt", e3, as: root.acting(through: "lambda")) == .accessDenied)
    }
}
