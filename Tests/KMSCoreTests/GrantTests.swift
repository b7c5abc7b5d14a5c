import Foundation
import Testing
@testable import IAMPolicy
@testable import KMSCore

/// An in-memory store with grants: keys and aliases kept by `InMemoryKeyStore` (the
/// registry reads through to it), grants here, versioned and conditional like the real backends.
final class GrantOnlyStore: KeyStore, @unchecked Sendable {
    private let lock = NSLock()
    private var rows: [String: KMSGrant] = [:]
    private let keys = InMemoryKeyStore()

    func loadKeys() throws -> [KMSKey] { try keys.loadKeys() }
    func loadAliases() throws -> [Alias] { try keys.loadAliases() }
    func key(account: String, region: String, keyId: String) throws -> KMSKey? { try keys.key(account: account, region: region, keyId: keyId) }
    func alias(account: String, region: String, aliasName: String) throws -> Alias? { try keys.alias(account: account, region: region, aliasName: aliasName) }
    func listKeys(account: String, region: String, after: String?, limit: Int) throws -> [KMSKey] {
        try keys.listKeys(account: account, region: region, after: after, limit: limit)
    }
    func listAliases(account: String, region: String, after: String?, limit: Int) throws -> [Alias] {
        try keys.listAliases(account: account, region: region, after: after, limit: limit)
    }
    func loadGrants() throws -> [KMSGrant] { lock.withLock { Array(rows.values) } }
    func grants(account: String, region: String, keyId: String) throws -> [KMSGrant] {
        lock.withLock { rows.values.filter { $0.account == account && $0.region == region && $0.keyId == keyId } }
    }
    func grants(retiringPrincipal: String) throws -> [KMSGrant] {
        lock.withLock { rows.values.filter { $0.retiringPrincipal == retiringPrincipal } }
    }
    func apply(_ changes: [StoreChange]) throws {
        try keys.apply(changes)  // ignores grant changes
        try lock.withLock {
            for change in changes {
                switch change {
                case .putGrant(var g):
                    guard g.storeVersion == 0, rows[g.grantId] == nil else { throw StoreConflict(object: change.target, expectedVersion: g.storeVersion) }
                    g.storeVersion = 1
                    rows[g.grantId] = g
                case .removeGrant(let g):
                    guard rows[g.grantId]?.storeVersion == g.storeVersion else { throw StoreConflict(object: change.target, expectedVersion: g.storeVersion) }
                    rows[g.grantId] = nil
                case .removeKey(let k):
                    rows = rows.filter { !($0.value.account == k.account && $0.value.region == k.region && $0.value.keyId == k.keyId) }
                default:
                    continue
                }
            }
        }
    }
}

@Suite struct GrantTests {
    let clock = ManualClock()
    let store = GrantOnlyStore()
    static let tokenKey = Array(repeating: UInt8(7), count: 32)
    let grants: GrantRegistry
    let service: KMSService
    let alice = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIAALICE")
    let bob = Caller(account: "444455556666", region: "us-east-1", accessKeyId: "AKIABOB")
    let bobArn = "arn:aws:iam::444455556666:root"

    init() throws {
        grants = try GrantRegistry(store: store, tokenKey: Self.tokenKey, clock: clock,
                                   limits: .init(grantsPerKey: 4, grantsPerGranteePerKey: 3))
        service = try KMSService(store: store, clock: clock, grants: grants)
    }

    @discardableResult
    func call(_ op: String, _ body: [(String, JSONValue)], as caller: Caller? = nil) throws(KMSError) -> JSONObject {
        try service.handle(operation: op, body: .object(JSONObject(body)), caller: caller ?? alice)
    }

    func expectError(_ code: KMSError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected \(code.rawValue)", sourceLocation: sourceLocation)
        } catch {
            #expect((error as? KMSError)?.code == code, "\(error)", sourceLocation: sourceLocation)
        }
    }

    func createKey(_ extra: [(String, JSONValue)] = []) throws -> (id: String, arn: String) {
        let md = try #require(try call("CreateKey", extra)["KeyMetadata"]?.objectValue)
        return (try #require(md["KeyId"]?.stringValue), try #require(md["Arn"]?.stringValue))
    }

    func ops(_ names: String...) -> JSONValue { .array(names.map { .string($0) }) }

    func create(_ keyId: String, grantee: String? = nil, _ operations: JSONValue, extra: [(String, JSONValue)] = [],
                as caller: Caller? = nil) throws(KMSError) -> (id: String, token: String) {
        let out = try call("CreateGrant", [("KeyId", .string(keyId)), ("GranteePrincipal", .string(grantee ?? bobArn)),
                                           ("Operations", operations)] + extra, as: caller)
        return (out["GrantId"]?.stringValue ?? "", out["GrantToken"]?.stringValue ?? "")
    }

    @Test func createListRevokeAndTheRulesAuthorizationSees() throws {
        let key = try createKey()
        let g = try create(key.id, ops("Decrypt", "Encrypt"), extra: [("RetiringPrincipal", .string(bobArn)), ("Name", .string("app"))])
        #expect(g.id.count == 64 && g.id.allSatisfy(\.isHexDigit))
        let listed = try call("ListGrants", [("KeyId", .string(key.id))])
        let entry = try #require(listed["Grants"]?.arrayValue?.first?.objectValue)
        #expect(entry["GrantId"]?.stringValue == g.id)
        #expect(entry["KeyId"]?.stringValue == key.arn)
        #expect(entry["GranteePrincipal"]?.stringValue == bobArn)
        #expect(entry["RetiringPrincipal"]?.stringValue == bobArn)
        #expect(entry["IssuingAccount"]?.stringValue == "arn:aws:iam::111122223333:root")
        #expect(entry["Operations"] == ops("Decrypt", "Encrypt"))
        #expect(entry["Name"]?.stringValue == "app")
        #expect(listed["Truncated"] == .bool(false))
        // What the policy engine gets for the key: the stored grant, at once.
        let rules = try grants.grantRules(forKeyArn: key.arn, grantTokens: [])
        #expect(rules == [GrantRule(grantId: g.id, granteePrincipal: bobArn, operations: ["Decrypt", "Encrypt"])])
        #expect(try grants.grantRules(forKeyArn: "arn:aws:kms:us-east-1:111122223333:key/other", grantTokens: []).isEmpty)
        try call("RevokeGrant", [("KeyId", .string(key.id)), ("GrantId", .string(g.id))])
        #expect(try grants.grantRules(forKeyArn: key.arn, grantTokens: []).isEmpty)
        #expect(try call("ListGrants", [("KeyId", .string(key.id))])["Grants"] == .array([]))
        expectError(.notFound) { try call("RevokeGrant", [("KeyId", .string(key.id)), ("GrantId", .string(g.id))]) }
        // Revoked: its token no longer counts on this node either.
        #expect(try grants.grantRules(forKeyArn: key.arn, grantTokens: [g.token]).isEmpty)
    }

    @Test func theSameNameAndParametersReturnTheSameGrant() throws {
        let key = try createKey()
        let name: (String, JSONValue) = ("Name", .string("retry-safe"))
        let a = try create(key.id, ops("Decrypt"), extra: [name])
        let b = try create(key.id, ops("Decrypt"), extra: [name])
        #expect(a.id == b.id)
        #expect(a.token != b.token)  // AWS: a new token for every request, all interchangeable
        let c = try create(key.id, ops("Decrypt", "Encrypt"), extra: [name])  // other parameters: a new grant
        let d = try create(key.id, ops("Decrypt"))  // no name: always a new grant
        #expect(Set([a.id, c.id, d.id]).count == 3)
        #expect(try call("ListGrants", [("KeyId", .string(key.id))])["Grants"]?.arrayValue?.count == 3)
    }

    @Test func tokensAreTamperProofAndWorkBeforeTheGrantArrives() throws {
        let key = try createKey()
        let g = try create(key.id, ops("Decrypt"))
        // Another node: same root key (token key), a store that has not seen the grant yet.
        let lagging = try GrantRegistry(store: GrantOnlyStore(), tokenKey: Self.tokenKey, clock: clock)
        #expect(try lagging.grantRules(forKeyArn: key.arn, grantTokens: []).isEmpty)
        #expect(try lagging.grantRules(forKeyArn: key.arn, grantTokens: [g.token]).map(\.grantId) == [g.id])
        // A token names one key only.
        #expect(try lagging.grantRules(forKeyArn: key.arn.replacingOccurrences(of: key.id, with: "x"), grantTokens: [g.token]).isEmpty)
        // Every altered byte is refused (MAC), as is a token under another root key.
        var bytes = try #require(Base64.decode(g.token))
        for i in [0, 1, 20, 33, bytes.count / 2, bytes.count - 1] {
            bytes[i] ^= 0x01
            #expect(throws: KMSError.self) { try lagging.grantRules(forKeyArn: key.arn, grantTokens: [Base64.encode(bytes)]) }
            bytes[i] ^= 0x01
        }
        let otherRoot = try GrantRegistry(store: GrantOnlyStore(), tokenKey: Array(repeating: 9, count: 32), clock: clock)
        do { _ = try otherRoot.grantRules(forKeyArn: key.arn, grantTokens: [g.token]); Issue.record("foreign token accepted") } catch {
            #expect(error.code == .invalidGrantToken)
        }
        for junk in ["", "not base64 !", Base64.encode([1, 2, 3])] {
            #expect(throws: KMSError.self) { try lagging.grantRules(forKeyArn: key.arn, grantTokens: [junk]) }
        }
        // Past AWS's consistency window the token alone no longer proves the grant.
        clock.advance(by: GrantRegistry.tokenLifetime + 1)
        #expect(try lagging.grantRules(forKeyArn: key.arn, grantTokens: [g.token]).isEmpty)
        // RetireGrant with a tampered token: InvalidGrantTokenException, nothing retired.
        bytes[40] ^= 0x80
        expectError(.invalidGrantToken) { try call("RetireGrant", [("GrantToken", .string(Base64.encode(bytes)))]) }
        #expect(try grants.grantRules(forKeyArn: key.arn, grantTokens: []).count == 1)
    }

    @Test func anotherNodeSeesGrantsAfterARefresh() throws {
        let key = try createKey()
        // A second node on the same store: same token key, its own memory.
        let other = try GrantRegistry(store: store, tokenKey: Self.tokenKey, clock: clock)
        let g = try create(key.id, ops("Decrypt"))
        #expect(try other.grantRules(forKeyArn: key.arn, grantTokens: []).isEmpty)  // not yet
        #expect(try other.grantRules(forKeyArn: key.arn, grantTokens: [g.token]).map(\.grantId) == [g.id])  // the token at once
        try other.reload()
        #expect(try other.grantRules(forKeyArn: key.arn, grantTokens: []).map(\.grantId) == [g.id])
        // The token and the stored grant are one grant, not two.
        #expect(try other.grantRules(forKeyArn: key.arn, grantTokens: [g.token]).count == 1)
        try call("RevokeGrant", [("KeyId", .string(key.id)), ("GrantId", .string(g.id))])
        try other.reload()
        #expect(try other.grantRules(forKeyArn: key.arn, grantTokens: []).isEmpty)
    }

    @Test func constraintsAllowExactlyTheirEncryptionContext() throws {
        let key = try createKey()
        let equals = try create(key.id, ops("Decrypt", "DescribeKey"), extra: [("Constraints", .object(JSONObject([
            ("EncryptionContextEquals", .object(JSONObject([("tenant", .string("a")), ("app", .string("x"))]))),
        ])))])
        let subset = try create(key.id, grantee: "arn:aws:iam::444455556666:user/carol", ops("Encrypt"), extra: [("Constraints", .object(JSONObject([
            ("EncryptionContextSubset", .object(JSONObject([("tenant", .string("a"))]))),
        ])))])
        let rules = try grants.grantRules(forKeyArn: key.arn, grantTokens: [])
        let eq = try #require(rules.first { $0.grantId == equals.id })
        let sub = try #require(rules.first { $0.grantId == subset.id })
        func ctx(_ who: RequestPrincipal, _ action: String, _ ec: [String: String]) -> AuthorizationContext {
            AuthorizationContext(principal: who, action: action, resource: key.arn, encryptionContext: ec)
        }
        let bobP = RequestPrincipal.root("444455556666"), carol = RequestPrincipal.user("arn:aws:iam::444455556666:user/carol")
        #expect(eq.allows(ctx(bobP, "kms:Decrypt", ["tenant": "a", "app": "x"])))
        #expect(!eq.allows(ctx(bobP, "kms:Decrypt", ["tenant": "a"])))
        #expect(!eq.allows(ctx(bobP, "kms:Decrypt", ["tenant": "a", "app": "x", "more": "1"])))
        #expect(!eq.allows(ctx(bobP, "kms:Encrypt", ["tenant": "a", "app": "x"])))  // not its operation
        #expect(eq.allows(ctx(bobP, "kms:DescribeKey", [:])))  // the constraint does not apply to DescribeKey
        #expect(!eq.allows(ctx(carol, "kms:Decrypt", ["tenant": "a", "app": "x"])))  // not its grantee
        #expect(sub.allows(ctx(carol, "kms:Encrypt", ["tenant": "a", "other": "z"])))
        #expect(!sub.allows(ctx(carol, "kms:Encrypt", ["tenant": "b"])))
        #expect(!sub.allows(ctx(carol, "kms:Encrypt", [:])))
        // Constraint keys are not case sensitive, values are (GrantConstraints).
        #expect(eq.allows(ctx(bobP, "kms:Decrypt", ["Tenant": "a", "APP": "x"])))
        #expect(!eq.allows(ctx(bobP, "kms:Decrypt", ["tenant": "A", "app": "x"])))
        #expect(sub.allows(ctx(carol, "kms:Encrypt", ["TENANT": "a"])))
        #expect(!sub.allows(ctx(carol, "kms:Encrypt", ["tenant": "A"])))
        // Two request keys differing only by case are not an exact match of one constraint key.
        #expect(!eq.allows(ctx(bobP, "kms:Decrypt", ["tenant": "a", "Tenant": "a", "app": "x"])))
        // Listed back as created.
        let listed = try call("ListGrants", [("KeyId", .string(key.id)), ("GrantId", .string(equals.id))])["Grants"]?.arrayValue
        #expect(listed?.count == 1)
        #expect(listed?.first?.objectValue?["Constraints"]?.objectValue?["EncryptionContextEquals"]?.objectValue?["tenant"]?.stringValue == "a")
    }

    @Test func operationsMustSuitTheKeyAndConstraintsTheOperations() throws {
        let symmetric = try createKey()
        let signing = try createKey([("KeySpec", .string("ECC_NIST_P256")), ("KeyUsage", .string("SIGN_VERIFY"))])
        let hmac = try createKey([("KeySpec", .string("HMAC_256")), ("KeyUsage", .string("GENERATE_VERIFY_MAC"))])
        expectError(.validation) { _ = try create(symmetric.id, ops("Sign")) }
        expectError(.validation) { _ = try create(signing.id, ops("Encrypt")) }
        expectError(.validation) { _ = try create(signing.id, ops("GenerateDataKey")) }
        expectError(.validation) { _ = try create(hmac.id, ops("Decrypt")) }
        expectError(.validation) { _ = try create(symmetric.id, ops("CreateGrant")) }
        expectError(.validation) { _ = try create(symmetric.id, .array([])) }
        _ = try create(signing.id, ops("Sign", "Verify", "GetPublicKey", "DescribeKey"))
        _ = try create(hmac.id, ops("GenerateMac", "VerifyMac"))
        let constraint: (String, JSONValue) = ("Constraints", .object(JSONObject([("EncryptionContextSubset", .object(JSONObject([("a", .string("b"))])))])))
        expectError(.validation) { _ = try create(signing.id, ops("Sign"), extra: [constraint]) }
        expectError(.validation) { _ = try create(hmac.id, ops("GenerateMac"), extra: [constraint]) }
        let both: (String, JSONValue) = ("Constraints", .object(JSONObject([
            ("EncryptionContextSubset", .object(JSONObject([("a", .string("b"))]))),
            ("EncryptionContextEquals", .object(JSONObject([("a", .string("b"))]))),
        ])))
        expectError(.validation) { _ = try create(symmetric.id, ops("Decrypt"), extra: [both]) }
        let nine = JSONObject((0..<9).map { ("k\($0)", JSONValue.string("v")) })
        expectError(.validation) { _ = try create(symmetric.id, ops("Decrypt"), extra: [("Constraints", .object(JSONObject([("EncryptionContextEquals", .object(nine))])))]) }
        // Principals: ARNs of accounts, users, roles, sessions; service principals.
        for ok in ["arn:aws:iam::444455556666:user/path/carol", "arn:aws:iam::444455556666:role/app",
                   "arn:aws:sts::444455556666:assumed-role/app/session", "ec2.amazonaws.com"] {
            _ = try create(symmetric.id, grantee: ok, ops("Decrypt"))
        }
        expectError(.validation) { _ = try create(symmetric.id, grantee: "bob", ops("Decrypt")) }
        expectError(.invalidArn) { _ = try create(symmetric.id, grantee: "arn:aws:iam::12345:user/x", ops("Decrypt")) }
        expectError(.invalidArn) { _ = try create(symmetric.id, grantee: "arn:aws:iam::444455556666:group/admins", ops("Decrypt")) }
        // Nothing stored by the refused requests (4 accepted above on the symmetric key).
        #expect(try call("ListGrants", [("KeyId", .string(symmetric.id))])["Grants"]?.arrayValue?.count == 4)
        // Aliases are not accepted (CreateGrant takes a key ID or key ARN).
        try call("CreateAlias", [("AliasName", .string("alias/g")), ("TargetKeyId", .string(symmetric.id))])
        expectError(.notFound) { _ = try create("alias/g", ops("Decrypt")) }
    }

    @Test func quotasPerKeyAndPerGrantee() throws {
        let key = try createKey()
        for _ in 0..<3 { _ = try create(key.id, ops("Decrypt")) }
        expectError(.limitExceeded) { _ = try create(key.id, ops("Decrypt")) }  // 3 per grantee
        _ = try create(key.id, grantee: "arn:aws:iam::444455556666:user/carol", ops("Decrypt"))
        expectError(.limitExceeded) { _ = try create(key.id, grantee: "arn:aws:iam::444455556666:user/dave", ops("Decrypt")) }  // 4 per key
        // Retrying a named grant that exists is not a new grant: no quota needed.
        let other = try createKey()
        let named = try create(other.id, ops("Decrypt"), extra: [("Name", .string("n"))])
        for _ in 0..<2 { _ = try create(other.id, ops("Decrypt")) }
        #expect(try create(other.id, ops("Decrypt"), extra: [("Name", .string("n"))]).id == named.id)
    }

    @Test func whoMayRetire() throws {
        let key = try createKey()
        let carolArn = "arn:aws:iam::777788889999:root"
        let carol = Caller(account: "777788889999", region: "us-east-1", accessKeyId: "AKIACAROL")
        let plain = try create(key.id, ops("Decrypt"), extra: [("RetiringPrincipal", .string(carolArn))])
        // The grantee cannot retire a grant that does not include RetireGrant.
        expectError(.accessDenied) { try call("RetireGrant", [("GrantToken", .string(plain.token))], as: bob) }
        // The retiring principal can (by token, another account's key).
        try call("RetireGrant", [("GrantToken", .string(plain.token))], as: carol)
        expectError(.notFound) { try call("RetireGrant", [("GrantToken", .string(plain.token))], as: carol) }
        // The grantee can when the grant includes RetireGrant (by key ARN + grant ID).
        let selfRetiring = try create(key.id, ops("Decrypt", "RetireGrant"))
        try call("RetireGrant", [("KeyId", .string(key.arn)), ("GrantId", .string(selfRetiring.id))], as: bob)
        // The key's account can retire any grant on it.
        let third = try create(key.id, ops("Decrypt"))
        try call("RetireGrant", [("KeyId", .string(key.id)), ("GrantId", .string(third.id))])
        expectError(.validation) { try call("RetireGrant", [("KeyId", .string(key.id))]) }
        #expect(try grants.grantRules(forKeyArn: key.arn, grantTokens: []).isEmpty)
    }

    @Test func listRetirableGrantsAndPaging() throws {
        let key = try createKey()
        let bobUser = "arn:aws:iam::444455556666:user/ops"
        var ids: [String] = []
        for _ in 0..<3 { ids.append(try create(key.id, ops("Decrypt"), extra: [("RetiringPrincipal", .string(bobUser))]).id) }
        _ = try create(key.id, grantee: "arn:aws:iam::444455556666:user/other", ops("Encrypt"))
        let retirable = try call("ListRetirableGrants", [("RetiringPrincipal", .string(bobUser))], as: bob)
        #expect(Set(retirable["Grants"]?.arrayValue?.compactMap { $0.objectValue?["GrantId"]?.stringValue } ?? []) == Set(ids))
        // Only for a principal of the caller's own account.
        expectError(.accessDenied) { try call("ListRetirableGrants", [("RetiringPrincipal", .string(bobUser))]) }
        var seen: [String] = []
        var marker: String?
        repeat {
            var body: [(String, JSONValue)] = [("KeyId", .string(key.id)), ("Limit", JSONValue(3))]
            if let marker { body.append(("Marker", .string(marker))) }
            let page = try call("ListGrants", body)
            seen += page["Grants"]?.arrayValue?.compactMap { $0.objectValue?["GrantId"]?.stringValue } ?? []
            marker = page["NextMarker"]?.stringValue
            #expect(page["Truncated"] == .bool(marker != nil))
        } while marker != nil
        #expect(seen.count == 4 && Set(seen).count == 4)
        let byGrantee = try call("ListGrants", [("KeyId", .string(key.id)), ("GranteePrincipal", .string("arn:aws:iam::444455556666:user/none"))])
        #expect(byGrantee["Grants"] == .array([]))
    }

    @Test func grantsGoWithTheirKey() throws {
        let key = try createKey()
        _ = try create(key.id, ops("Decrypt"), extra: [("RetiringPrincipal", .string(bobArn))])
        try call("ScheduleKeyDeletion", [("KeyId", .string(key.id)), ("PendingWindowInDays", JSONValue(7))])
        expectError(.kmsInvalidState) { _ = try create(key.id, ops("Decrypt")) }
        #expect(try call("ListGrants", [("KeyId", .string(key.id))])["Grants"]?.arrayValue?.count == 1)
        clock.advance(by: 7 * 86_400 + 1)
        #expect(try service.sweepDeletions() == 1)
        #expect(try store.loadGrants().isEmpty)
        try grants.reload()
        #expect(try grants.grantRules(forKeyArn: key.arn, grantTokens: []).isEmpty)
        #expect(try call("ListRetirableGrants", [("RetiringPrincipal", .string(bobArn))], as: bob)["Grants"] == .array([]))
    }

    @Test func conditionKeysForTheAuthorizationContext() throws {
        let body = JSONObject([("KeyId", .string("k")), ("GranteePrincipal", .string(bobArn)), ("RetiringPrincipal", .string(bobArn)),
                               ("Operations", ops("Decrypt", "RetireGrant")),
                               ("Constraints", .object(JSONObject([("EncryptionContextSubset", .object(JSONObject()))])))])
        let request = try RequestValidator.validate(try #require(OperationSpec.named("CreateGrant")), body: .object(body))
        let c = GrantConditionKeys.conditions(operation: "CreateGrant", request: request)
        #expect(c["kms:GrantOperations"] == ["Decrypt", "RetireGrant"])
        #expect(c["kms:GranteePrincipal"] == [bobArn])
        #expect(c["kms:RetiringPrincipal"] == [bobArn])
        #expect(c["kms:GrantConstraintType"] == ["EncryptionContextSubset"])
        #expect(c["kms:GrantIsForAWSResource"] == ["false"])
        #expect(GrantConditionKeys.conditions(operation: "Encrypt", request: request).isEmpty)
    }

    @Test func aServiceWithoutGrantsSaysSo() throws {
        let plain = try KMSService(store: InMemoryKeyStore(), clock: clock)
        do {
            _ = try plain.handle(operation: "ListGrants", body: .object(JSONObject([("KeyId", .string("x"))])), caller: alice)
            Issue.record("answered")
        } catch { #expect(error.code == .unsupportedOperation) }
    }
}

@Suite struct GrantDelegationTests {
    let parentSubset = GrantRule(grantId: "p", granteePrincipal: "arn:aws:iam::444455556666:root", operations: ["Decrypt", "CreateGrant"],
                                 constraint: .encryptionContextSubset(["tenant": "a"]))
    let parentEquals = GrantRule(grantId: "q", granteePrincipal: "arn:aws:iam::444455556666:root", operations: ["Decrypt", "CreateGrant"],
                                 constraint: .encryptionContextEquals(["tenant": "a"]))

    @Test func constraintsMustBeAtLeastAsStrict() {
        typealias C = KMSGrant.Constraints
        #expect(GrantDelegation.isAtLeastAsStrict(nil, as: nil))
        #expect(GrantDelegation.isAtLeastAsStrict(C(encryptionContextSubset: ["x": "y"]), as: nil))
        #expect(!GrantDelegation.isAtLeastAsStrict(nil, as: parentSubset.constraint))
        #expect(GrantDelegation.isAtLeastAsStrict(C(encryptionContextSubset: ["tenant": "a"]), as: parentSubset.constraint))
        #expect(GrantDelegation.isAtLeastAsStrict(C(encryptionContextSubset: ["Tenant": "a", "app": "x"]), as: parentSubset.constraint))
        #expect(GrantDelegation.isAtLeastAsStrict(C(encryptionContextEquals: ["tenant": "a", "app": "x"]), as: parentSubset.constraint))
        #expect(!GrantDelegation.isAtLeastAsStrict(C(encryptionContextSubset: ["tenant": "b"]), as: parentSubset.constraint))
        #expect(!GrantDelegation.isAtLeastAsStrict(C(encryptionContextSubset: ["app": "x"]), as: parentSubset.constraint))
        #expect(GrantDelegation.isAtLeastAsStrict(C(encryptionContextEquals: ["tenant": "a"]), as: parentEquals.constraint))
        #expect(!GrantDelegation.isAtLeastAsStrict(C(encryptionContextSubset: ["tenant": "a"]), as: parentEquals.constraint))
        #expect(!GrantDelegation.isAtLeastAsStrict(C(encryptionContextEquals: ["tenant": "a", "app": "x"]), as: parentEquals.constraint))
    }

    @Test func operationsMustBeThoseOfTheParent() throws {
        try GrantDelegation.check(operations: ["Decrypt"], constraints: .init(encryptionContextSubset: ["tenant": "a"]), parent: parentSubset,
                                  callerArn: "arn:aws:iam::444455556666:root", keyArn: "arn:aws:kms:us-east-1:111122223333:key/k")
        #expect(throws: KMSError.self) {
            try GrantDelegation.check(operations: ["Decrypt", "Encrypt"], constraints: .init(encryptionContextSubset: ["tenant": "a"]),
                                      parent: parentSubset, callerArn: "arn:aws:iam::444455556666:root", keyArn: "k")
        }
        #expect(throws: KMSError.self) {
            try GrantDelegation.check(operations: ["Decrypt"], constraints: nil, parent: parentSubset,
                                      callerArn: "arn:aws:iam::444455556666:root", keyArn: "k")
        }
    }
}

/// What the authorization funnel will do with `KMSService.grants`, end to end at the engine:
/// the key's default policy names only its account; a grant lets another account's root
/// decrypt, within its constraint, at once by token, until the grant is retired.
@Suite struct GrantEvaluationTests {
    @Test func aGranteeInAnotherAccountDecryptsUntilRetired() throws {
        let clock = ManualClock()
        let store = GrantOnlyStore()
        let grants = try GrantRegistry(store: store, tokenKey: GrantTests.tokenKey, clock: clock)
        let service = try KMSService(store: store, clock: clock, grants: grants)
        let owner = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIAOWNER")
        let md = try #require(try service.handle(operation: "CreateKey", body: .object(JSONObject()), caller: owner)["KeyMetadata"]?.objectValue)
        let keyId = try #require(md["KeyId"]?.stringValue), keyArn = try #require(md["Arn"]?.stringValue)
        let policy = try CompiledPolicy(KeyPolicy.defaultPolicy(account: "111122223333"), kind: .resourceBased)
        let bob = RequestPrincipal.root("444455556666")
        func decision(_ tokens: [String], _ ec: [String: String] = ["app": "x"], action: String = "kms:Decrypt",
                      lookup: GrantRegistry? = nil) throws -> AuthorizationResult.Decision {
            let rules = try (lookup ?? grants).grantRules(forKeyArn: keyArn, grantTokens: tokens)
            return PolicyEvaluator(resourcePolicy: policy, grants: rules)
                .evaluate(AuthorizationContext(principal: bob, action: action, resource: keyArn, encryptionContext: ec)).decision
        }
        #expect(try decision([]) == .implicitDeny)
        let out = try service.handle(operation: "CreateGrant", body: .object(JSONObject([
            ("KeyId", .string(keyId)), ("GranteePrincipal", .string("arn:aws:iam::444455556666:root")),
            ("Operations", .array([.string("Decrypt")])),
            ("Constraints", .object(JSONObject([("EncryptionContextEquals", .object(JSONObject([("app", .string("x"))])))]))),
        ])), caller: owner)
        let token = try #require(out["GrantToken"]?.stringValue), grantId = try #require(out["GrantId"]?.stringValue)
        #expect(try decision([]) == .allowed)
        #expect(try decision([], ["app": "y"]) == .implicitDeny)
        #expect(try decision([], action: "kms:Encrypt") == .implicitDeny)
        // A node that has not seen the grant yet: allowed with the token only.
        let lagging = try GrantRegistry(store: GrantOnlyStore(), tokenKey: GrantTests.tokenKey, clock: clock)
        #expect(try decision([], lookup: lagging) == .implicitDeny)
        #expect(try decision([token], lookup: lagging) == .allowed)
        _ = try service.handle(operation: "RetireGrant", body: .object(JSONObject([("KeyId", .string(keyId)), ("GrantId", .string(grantId))])),
                               caller: owner)
        #expect(try decision([]) == .implicitDeny)
        #expect(try decision([token]) == .implicitDeny)  // this node saw it retired
    }
}
