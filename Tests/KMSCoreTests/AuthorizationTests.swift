import IAMPolicy
import Synchronization
import Testing
@testable import KMSCore

/// Records every evaluation and, when told to, refuses it; otherwise the real engine decides.
final class SpyAuthorizer: Authorizer {
    let denying = Mutex(false)
    let calls = Mutex<[(operation: String, action: String, resource: String)]>([])
    static let sentinel = "spy: refused"

    func decide(_ context: RequestContext, action: String, resource: AuthorizationResource,
                service: KMSService) throws(KMSError) -> RequestContext.Decision {
        calls.withLock { $0.append((context.operation, action, resource.arn)) }
        if denying.withLock({ $0 }) {
            return RequestContext.Decision(action: action, resource: resource.arn, allowed: false, message: Self.sentinel)
        }
        return try PolicyAuthorizer().decide(context, action: action, resource: resource, service: service)
    }
}

/// Authorization through the one funnel: every operation of the dispatch table passes the
/// evaluator, key policies, identity policies and cross-account use decide as AWS does.
@Suite struct AuthorizationTests {
    static let accountA = "111122223333"
    static let accountB = "444455556666"
    let clock = ManualClock()
    let spy = SpyAuthorizer()
    let service: KMSService
    let root = Caller(account: accountA, region: "us-east-1", accessKeyId: "AKIAROOT")
    let rootB = Caller(account: accountB, region: "us-east-1", accessKeyId: "AKIAROOTB")

    init() throws {
        // A store and registry with grants, so the grant operations reach the funnel too.
        let store = GrantOnlyStore()
        let grants = try GrantRegistry(store: store, tokenKey: Array(repeating: 7, count: 32), clock: clock)
        service = try KMSService(store: store, clock: clock, authorizer: spy, grants: grants)
    }

    @discardableResult
    func call(_ op: String, _ body: JSONObject, as caller: Caller? = nil) throws(KMSError) -> JSONObject {
        try service.handle(operation: op, body: .object(body), caller: caller ?? root)
    }

    func createKey(_ members: [(String, JSONValue)] = [], as caller: Caller? = nil) throws -> String {
        let out = try call("CreateKey", JSONObject(members), as: caller)
        return try #require(out["KeyMetadata"]?.objectValue?["Arn"]?.stringValue)
    }

    func deniedMessage(_ body: () throws(KMSError) -> Void) -> String? {
        do { try body(); return nil } catch {
            #expect(error.code == .accessDenied, "\(error)")
            return error.message
        }
    }

    static func policy(_ statements: String...) -> String {
        #"{"Version":"2012-10-17","Statement":["# + statements.joined(separator: ",") + "]}"
    }
    static let rootAllowsAll = #"{"Sid":"root","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}"#

    func user(_ name: String, policies: [String]) throws -> Caller {
        let compiled = try policies.map { try CompiledPolicy($0, kind: .identityBased, name: "p") }
        let arn = "arn:aws:iam::\(Self.accountA):user/\(name)"
        return Caller(account: Self.accountA, region: "us-east-1", accessKeyId: "AKIA\(name)", principalArn: arn,
                      principal: .user(arn, userId: "AIDA\(name)"), identityPolicies: compiled)
    }

    // MARK: - One funnel

    /// A body each operation accepts, so that only authorization can refuse it.
    func bodies() throws -> [String: JSONObject] {
        let sym = try createKey()
        let sym2 = try createKey()
        let sign = try createKey([("KeySpec", .string("ECC_NIST_P256")), ("KeyUsage", .string("SIGN_VERIFY"))])
        let mac = try createKey([("KeySpec", .string("HMAC_256")), ("KeyUsage", .string("GENERATE_VERIFY_MAC"))])
        let agree = try createKey([("KeySpec", .string("ECC_NIST_P256")), ("KeyUsage", .string("KEY_AGREEMENT"))])
        let mrk = try createKey([("MultiRegion", .bool(true))])
        try call("CreateAlias", JSONObject([("AliasName", .string("alias/t")), ("TargetKeyId", .string(sym))]))
        let blob = try #require(try call("Encrypt", JSONObject([("KeyId", .string(sym)), ("Plaintext", .string("AAAA"))]))["CiphertextBlob"])
        let publicKey = try #require(try call("GetPublicKey", JSONObject([("KeyId", .string(agree))]))["PublicKey"])
        let k: (String) -> (String, JSONValue) = { ("KeyId", .string($0)) }
        return [
            "CreateKey": JSONObject(),
            "DescribeKey": JSONObject([k(sym)]),
            "ListKeys": JSONObject(),
            "EnableKey": JSONObject([k(sym)]),
            "DisableKey": JSONObject([k(sym)]),
            "UpdateKeyDescription": JSONObject([k(sym), ("Description", .string("d"))]),
            "ScheduleKeyDeletion": JSONObject([k(sym), ("PendingWindowInDays", .number("7"))]),
            "CancelKeyDeletion": JSONObject([k(sym)]),
            "CreateAlias": JSONObject([("AliasName", .string("alias/new")), ("TargetKeyId", .string(sym))]),
            "UpdateAlias": JSONObject([("AliasName", .string("alias/t")), ("TargetKeyId", .string(sym2))]),
            "DeleteAlias": JSONObject([("AliasName", .string("alias/t"))]),
            "ListAliases": JSONObject(),
            "TagResource": JSONObject([k(sym), ("Tags", .array([.object(JSONObject([("TagKey", .string("a")), ("TagValue", .string("b"))]))]))]),
            "UntagResource": JSONObject([k(sym), ("TagKeys", .array([.string("a")]))]),
            "ListResourceTags": JSONObject([k(sym)]),
            "GetKeyPolicy": JSONObject([k(sym), ("PolicyName", .string("default"))]),
            "PutKeyPolicy": JSONObject([k(sym), ("PolicyName", .string("default")), ("Policy", .string(KeyPolicy.defaultPolicy(account: Self.accountA)))]),
            "ListKeyPolicies": JSONObject([k(sym)]),
            "Encrypt": JSONObject([k(sym), ("Plaintext", .string("AAAA"))]),
            "Decrypt": JSONObject([("CiphertextBlob", blob)]),
            "ReEncrypt": JSONObject([("CiphertextBlob", blob), ("DestinationKeyId", .string(sym2))]),
            "GenerateDataKey": JSONObject([k(sym), ("NumberOfBytes", .number("32"))]),
            "GenerateDataKeyWithoutPlaintext": JSONObject([k(sym), ("NumberOfBytes", .number("32"))]),
            "GenerateRandom": JSONObject([("NumberOfBytes", .number("16"))]),
            "GenerateDataKeyPair": JSONObject([k(sym), ("KeyPairSpec", .string("ECC_NIST_P256"))]),
            "GenerateDataKeyPairWithoutPlaintext": JSONObject([k(sym), ("KeyPairSpec", .string("ECC_NIST_P256"))]),
            "Sign": JSONObject([k(sign), ("Message", .string("AAAA")), ("SigningAlgorithm", .string("ECDSA_SHA_256"))]),
            "Verify": JSONObject([k(sign), ("Message", .string("AAAA")), ("Signature", .string("AAAA")), ("SigningAlgorithm", .string("ECDSA_SHA_256"))]),
            "GetPublicKey": JSONObject([k(sign)]),
            "GenerateMac": JSONObject([k(mac), ("Message", .string("AAAA")), ("MacAlgorithm", .string("HMAC_SHA_256"))]),
            "VerifyMac": JSONObject([k(mac), ("Message", .string("AAAA")), ("Mac", .string("AAAA")), ("MacAlgorithm", .string("HMAC_SHA_256"))]),
            "DeriveSharedSecret": JSONObject([k(agree), ("KeyAgreementAlgorithm", .string("ECDH")), ("PublicKey", publicKey)]),
            // The grant operations (issue 10 section 6), once they are in the dispatch table.
            "CreateGrant": JSONObject([k(sym), ("GranteePrincipal", .string("arn:aws:iam::\(Self.accountA):user/g")), ("Operations", .array([.string("Decrypt")]))]),
            "ListGrants": JSONObject([k(sym)]),
            "ListRetirableGrants": JSONObject([("RetiringPrincipal", .string("arn:aws:iam::\(Self.accountA):user/g"))]),
            "RevokeGrant": JSONObject([k(sym), ("GrantId", .string(String(repeating: "a", count: 64)))]),
            "RetireGrant": JSONObject([k(sym), ("GrantId", .string(String(repeating: "a", count: 64)))]),
            // Rotation and imported key material (issue 12).
            "EnableKeyRotation": JSONObject([k(sym)]),
            "DisableKeyRotation": JSONObject([k(sym)]),
            "GetKeyRotationStatus": JSONObject([k(sym)]),
            "GetKeyLastUsage": JSONObject([k(sym)]),
            "RotateKeyOnDemand": JSONObject([k(sym)]),
            "ListKeyRotations": JSONObject([k(sym)]),
            "GetParametersForImport": JSONObject([k(sym), ("WrappingAlgorithm", .string("RSAES_OAEP_SHA_256")), ("WrappingKeySpec", .string("RSA_2048"))]),
            "ImportKeyMaterial": JSONObject([k(sym), ("ImportToken", .string("AAAA")), ("EncryptedKeyMaterial", .string("AAAA")),
                                             ("ExpirationModel", .string("KEY_MATERIAL_DOES_NOT_EXPIRE"))]),
            "DeleteImportedKeyMaterial": JSONObject([k(sym)]),
            // Multi-Region keys (issue 13).
            "ReplicateKey": JSONObject([k(mrk), ("ReplicaRegion", .string("eu-west-1"))]),
            "UpdatePrimaryRegion": JSONObject([k(mrk), ("PrimaryRegion", .string("eu-west-1"))]),
            // Custom key stores (issue 14): authorized on the account before anything else.
            "CreateCustomKeyStore": JSONObject([("CustomKeyStoreName", .string("s")), ("CustomKeyStoreType", .string("EXTERNAL_KEY_STORE")),
                                                ("XksProxyUriEndpoint", .string("https://xks.example.com")),
                                                ("XksProxyUriPath", .string("/kms/xks/v1")), ("XksProxyConnectivity", .string("PUBLIC_ENDPOINT")),
                                                ("XksProxyAuthenticationCredential", .object(JSONObject([
                                                    ("AccessKeyId", .string("ABCDEFGHIJKLMNOPQRST")),
                                                    ("RawSecretAccessKey", .string(String(repeating: "s", count: 43)))])))]),
            "DescribeCustomKeyStores": JSONObject(),
            "UpdateCustomKeyStore": JSONObject([("CustomKeyStoreId", .string("cks-1234567890abcdef0")), ("NewCustomKeyStoreName", .string("n"))]),
            "ConnectCustomKeyStore": JSONObject([("CustomKeyStoreId", .string("cks-1234567890abcdef0"))]),
            "DisconnectCustomKeyStore": JSONObject([("CustomKeyStoreId", .string("cks-1234567890abcdef0"))]),
            "DeleteCustomKeyStore": JSONObject([("CustomKeyStoreId", .string("cks-1234567890abcdef0"))]),
        ]
    }

    @Test func everyOperationDeclaresItsActions() {
        for name in KMSService.operations.keys {
            let actions = OperationActions.table[name]
            #expect(actions?.isEmpty == false, "\(name) declares no action")
            for a in actions ?? [] { #expect(a.hasPrefix("kms:")) }
        }
    }

    @Test func noOperationAnswersWithoutPassingTheEvaluator() throws {
        let bodies = try bodies()
        spy.denying.withLock { $0 = true }
        for name in KMSService.operations.keys.sorted() {
            let body = try #require(bodies[name], "no request body for \(name): add one to this test")
            spy.calls.withLock { $0.removeAll() }
            do {
                try call(name, body)
                Issue.record("\(name) answered while the evaluator refused everything")
            } catch {
                #expect(error.code == .accessDenied && error.message == SpyAuthorizer.sentinel, "\(name): \(error)")
            }
            let calls = spy.calls.withLock { $0 }
            #expect(!calls.isEmpty && calls.allSatisfy { $0.operation == name }, "\(name): \(calls)")
            #expect(calls.allSatisfy { OperationActions.table[name]?.contains($0.action) == true }, "\(name): \(calls)")
        }
    }

    /// The same with the real engine: an identity policy denying everything stops every
    /// operation, including the account-level ones.
    @Test func anIdentityDenyStopsEveryOperation() throws {
        let bodies = try bodies()
        let denied = try user("denied", policies: [Self.policy(#"{"Effect":"Deny","Action":"*","Resource":"*"}"#)])
        for name in KMSService.operations.keys.sorted() {
            let body = try #require(bodies[name])
            let message = deniedMessage { () throws(KMSError) in try call(name, body, as: denied) }
            #expect(message?.contains("with an explicit deny in an identity-based policy") == true, "\(name): \(message ?? "allowed")")
        }
    }

    @Test func decisionsAreRecordedInTheContext() throws {
        let arn = try createKey()
        let request = try RequestValidator.validate(#require(OperationSpec.named("DescribeKey")),
                                                    body: .object(JSONObject([("KeyId", .string(arn))])))
        let context = RequestContext(requestId: "r-1", caller: root, operation: "DescribeKey", actions: ["kms:DescribeKey"],
                                     request: request, time: clock.now())
        var withContext = request
        withContext.context = context
        try service.authorize(withContext, on: .key(try #require(try service.registry.key(account: Self.accountA, region: "us-east-1", keyId: String(arn.split(separator: "/").last!)))))
        #expect(context.resources == [arn])
        #expect(context.decisions.map(\.allowed) == [true])
        // An action the operation does not declare is refused (a programming error, fail closed).
        #expect(throws: KMSError.self) { try service.authorize(withContext, "kms:Decrypt", on: .account) }
        // A request that did not come through `handle` has no context and is refused.
        #expect(throws: KMSError.self) { try service.authorize(request, on: .account) }
    }

    // MARK: - Key policies

    @Test func denyDecryptForEveryoneBlocksDecryptNotEncrypt() throws {
        let arn = try createKey()
        try call("PutKeyPolicy", JSONObject([("KeyId", .string(arn)), ("PolicyName", .string("default")), ("Policy", .string(Self.policy(
            Self.rootAllowsAll, #"{"Sid":"nodecrypt","Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}"#)))]))
        let blob = try #require(try call("Encrypt", JSONObject([("KeyId", .string(arn)), ("Plaintext", .string("AAAA"))]))["CiphertextBlob"])
        let message = deniedMessage { () throws(KMSError) in try call("Decrypt", JSONObject([("CiphertextBlob", blob)])) }
        #expect(message == "User: arn:aws:iam::111122223333:root is not authorized to perform: kms:Decrypt on resource: \(arn) with an explicit deny in a resource-based policy")
        // With a KeyId too, the refusal comes before anything about the ciphertext is checked.
        let other = try createKey()
        try call("PutKeyPolicy", JSONObject([("KeyId", .string(other)), ("Policy", .string(Self.policy(
            Self.rootAllowsAll, #"{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*"}"#)))]))
        #expect(deniedMessage { () throws(KMSError) in try call("Decrypt", JSONObject([("CiphertextBlob", blob), ("KeyId", .string(other))])) } != nil)
    }

    @Test func aDenyOnOneEncryptionContextValueBlocksExactlyThatValue() throws {
        let arn = try createKey([("Policy", .string(Self.policy(Self.rootAllowsAll,
            #"{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:purpose":"secret"}}}"#)))])
        func encrypt(_ purpose: String) throws(KMSError) {
            try call("Encrypt", JSONObject([("KeyId", .string(arn)), ("Plaintext", .string("AAAA")),
                                            ("EncryptionContext", .object(JSONObject([("purpose", .string(purpose))])))]))
        }
        #expect(deniedMessage { () throws(KMSError) in try encrypt("secret") } != nil)
        try encrypt("public")
        try call("Encrypt", JSONObject([("KeyId", .string(arn)), ("Plaintext", .string("AAAA"))]))
    }

    @Test func createKeyWithoutPolicyGetsTheDefaultPolicy() throws {
        let arn = try createKey()
        let policy = try call("GetKeyPolicy", JSONObject([("KeyId", .string(arn)), ("PolicyName", .string("default"))]))["Policy"]?.stringValue
        #expect(policy == KeyPolicy.defaultPolicy(account: Self.accountA))
        #expect(policy?.contains(#""Sid" : "Enable IAM User Permissions""#) == true)
    }

    @Test func compiledPoliciesAreCachedWithTheKey() throws {
        let arn = try createKey()
        let key = try #require(try service.registry.key(account: Self.accountA, region: "us-east-1", keyId: String(arn.split(separator: "/").last!)))
        let first = try #require(service.keyPolicies.compiled(for: key))
        let second = try #require(service.keyPolicies.compiled(for: key))
        #expect(first.statements[0] === second.statements[0])  // not recompiled
        var changed = key
        changed.policy = Self.policy(Self.rootAllowsAll)
        let third = try #require(service.keyPolicies.compiled(for: changed))
        #expect(third.statements[0] !== first.statements[0])  // a new text is compiled anew
    }

    @Test func lockoutSafetyCheckUsesTheEngine() throws {
        let arn = try createKey()
        let encryptOnly = Self.policy(#"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:Encrypt","Resource":"*"}"#)
        #expect(throws: KMSError(.malformedPolicyDocument, KeyPolicy.lockoutMessage)) {
            try call("PutKeyPolicy", JSONObject([("KeyId", .string(arn)), ("Policy", .string(encryptOnly))]))
        }
        #expect(throws: KMSError(.malformedPolicyDocument, KeyPolicy.lockoutMessage)) {
            try call("CreateKey", JSONObject([("Policy", .string(encryptOnly))]))
        }
        // A user whose identity policy denies PutKeyPolicy is locked out by a policy that
        // only delegates to IAM, although the structural rule would have let it pass.
        let noPut = try user("noput", policies: [Self.policy(
            #"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#,
            #"{"Effect":"Deny","Action":"kms:PutKeyPolicy","Resource":"*"}"#)])
        #expect(throws: KMSError(.malformedPolicyDocument, KeyPolicy.lockoutMessage)) {
            try call("CreateKey", JSONObject([("Policy", .string(KeyPolicy.defaultPolicy(account: Self.accountA)))]), as: noPut)
        }
        // Bypassing the check stores the policy; after it the caller is locked out for real.
        try call("PutKeyPolicy", JSONObject([("KeyId", .string(arn)), ("Policy", .string(encryptOnly)),
                                             ("BypassPolicyLockoutSafetyCheck", .bool(true))]))
        #expect(deniedMessage { () throws(KMSError) in
            try call("PutKeyPolicy", JSONObject([("KeyId", .string(arn)), ("Policy", .string(encryptOnly))]))
        }?.hasSuffix("because no resource-based policy allows the kms:PutKeyPolicy action") == true)
    }

    @Test func principalDirectoryRefusesUnknownPrincipals() throws {
        struct OnlyRoots: PrincipalDirectory {
            func exists(_ principal: String) -> Bool { principal.hasSuffix(":root") }
        }
        let strict = try KMSService(store: InMemoryKeyStore(), clock: clock, principalDirectory: OnlyRoots())
        let ghost = Self.policy(Self.rootAllowsAll, #"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/ghost"},"Action":"kms:Encrypt","Resource":"*"}"#)
        #expect(throws: KMSError(.malformedPolicyDocument, "Policy contains a statement with one or more invalid principals.")) {
            try strict.handle(operation: "CreateKey", body: .object(JSONObject([("Policy", .string(ghost))])), caller: root)
        }
    }

    // MARK: - Cross-account

    @Test func crossAccountUseNeedsTheKeyPolicyToNameTheOtherAccount() throws {
        let arn = try createKey()
        func encryptAsB() throws(KMSError) { try call("Encrypt", JSONObject([("KeyId", .string(arn)), ("Plaintext", .string("AAAA"))]), as: rootB) }
        #expect(deniedMessage(encryptAsB) == "User: arn:aws:iam::444455556666:root is not authorized to perform: kms:Encrypt on resource: \(arn) because no resource-based policy allows the kms:Encrypt action")
        try call("PutKeyPolicy", JSONObject([("KeyId", .string(arn)), ("Policy", .string(Self.policy(Self.rootAllowsAll,
            #"{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:DisableKey"],"Resource":"*"}"#)))]))
        try encryptAsB()
        try call("DescribeKey", JSONObject([("KeyId", .string(arn))]), as: rootB)
        // A user of B needs B's identity policy too.
        let arnB = "arn:aws:iam::\(Self.accountB):user/bob"
        let bobNoPolicy = Caller(account: Self.accountB, region: "us-east-1", accessKeyId: "AKIABOB", principalArn: arnB, principal: .user(arnB))
        #expect(deniedMessage { () throws(KMSError) in
            try call("Encrypt", JSONObject([("KeyId", .string(arn)), ("Plaintext", .string("AAAA"))]), as: bobNoPolicy)
        }?.hasSuffix("because no identity-based policy allows the kms:Encrypt action") == true)
        // Management operations never cross accounts, whatever the key policy says.
        #expect(deniedMessage { () throws(KMSError) in try call("DisableKey", JSONObject([("KeyId", .string(arn))]), as: rootB) } != nil)
        // Another account's alias ARN names nothing.
        try call("CreateAlias", JSONObject([("AliasName", .string("alias/x")), ("TargetKeyId", .string(arn))]))
        #expect(throws: KMSError.self) {
            try call("Encrypt", JSONObject([("KeyId", .string("arn:aws:kms:us-east-1:111122223333:alias/x")), ("Plaintext", .string("AAAA"))]), as: rootB)
        }
    }

    // MARK: - Aliases

    @Test func updateAliasNeedsTheAliasTheOldKeyAndTheNewKey() throws {
        let k1 = try createKey(), k2 = try createKey()
        try call("CreateAlias", JSONObject([("AliasName", .string("alias/app")), ("TargetKeyId", .string(k1))]))
        let aliasArn = "arn:aws:kms:us-east-1:111122223333:alias/app"
        func update(as caller: Caller, to key: String) throws(KMSError) {
            try call("UpdateAlias", JSONObject([("AliasName", .string("alias/app")), ("TargetKeyId", .string(key))]), as: caller)
        }
        let allow = { (resources: [String]) in
            Self.policy(#"{"Effect":"Allow","Action":"kms:UpdateAlias","Resource":["# + resources.map { "\"\($0)\"" }.joined(separator: ",") + "]}")
        }
        let onlyNew = try user("onlynew", policies: [allow([aliasArn, k2])])
        #expect(deniedMessage { () throws(KMSError) in try update(as: onlyNew, to: k2) }?.contains("on resource: \(k1)") == true)
        let noAlias = try user("noalias", policies: [allow([k1, k2])])
        #expect(deniedMessage { () throws(KMSError) in try update(as: noAlias, to: k2) }?.contains("on resource: \(aliasArn)") == true)
        let all = try user("all", policies: [allow([aliasArn, k1, k2])])
        try update(as: all, to: k2)
        #expect(spy.calls.withLock { $0.filter { $0.operation == "UpdateAlias" }.suffix(3).map(\.resource) } == [aliasArn, k1, k2])
    }

    // MARK: - Account-level actions

    @Test func accountLevelActionsAreGovernedByIdentityPolicies() throws {
        let nobody = try user("nobody", policies: [])
        for op in ["CreateKey", "ListKeys", "ListAliases"] {
            #expect(deniedMessage { () throws(KMSError) in try call(op, JSONObject(), as: nobody) }
                == "User: arn:aws:iam::111122223333:user/nobody is not authorized to perform: kms:\(op) on resource: * because no identity-based policy allows the kms:\(op) action")
        }
        let lister = try user("lister", policies: [Self.policy(#"{"Effect":"Allow","Action":"kms:List*","Resource":"*"}"#)])
        try call("ListKeys", JSONObject(), as: lister)
        try call("ListAliases", JSONObject(), as: lister)
        #expect(deniedMessage { () throws(KMSError) in try call("GenerateRandom", JSONObject([("NumberOfBytes", .number("8"))]), as: lister) } != nil)
        // CreateKey is authorized before the request is validated further.
        #expect(deniedMessage { () throws(KMSError) in
            try call("CreateKey", JSONObject([("KeySpec", .string("RSA_2048"))]), as: nobody)  // KeyUsage missing
        } != nil)
    }

    // MARK: - Condition keys, bound to the operations AWS binds them to

    /// A key whose policy denies when `key` is present with `value` (StringEquals).
    func keyDenying(_ condition: String, spec: [(String, JSONValue)] = []) throws -> String {
        try createKey(spec + [("Policy", .string(Self.policy(Self.rootAllowsAll,
            #"{"Effect":"Deny","Principal":"*","NotAction":["kms:PutKeyPolicy","kms:CreateAlias","kms:TagResource"],"Resource":"*","Condition":"# + condition + "}")))])
    }

    @Test func encryptionAlgorithmAppliesToCryptographicOperationsOnly() throws {
        let arn = try keyDenying(#"{"StringEquals":{"kms:EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#)
        #expect(deniedMessage { () throws(KMSError) in try call("Encrypt", JSONObject([("KeyId", .string(arn)), ("Plaintext", .string("AAAA"))])) } != nil)
        #expect(deniedMessage { () throws(KMSError) in try call("GenerateDataKey", JSONObject([("KeyId", .string(arn)), ("NumberOfBytes", .number("16"))])) } != nil)
        try call("DescribeKey", JSONObject([("KeyId", .string(arn))]))  // not bound: absent, the Deny does not apply
    }

    @Test func signingAlgorithmAndMessageTypeBindToSignAndVerify() throws {
        let arn = try keyDenying(#"{"StringEquals":{"kms:SigningAlgorithm":"ECDSA_SHA_384","kms:MessageType":"RAW"}}"#,
                                 spec: [("KeySpec", .string("ECC_NIST_P256")), ("KeyUsage", .string("SIGN_VERIFY"))])
        let sign = { (alg: String) throws(KMSError) -> Void in
            _ = try call("Sign", JSONObject([("KeyId", .string(arn)), ("Message", .string("AAAA")), ("SigningAlgorithm", .string(alg))]))
        }
        try sign("ECDSA_SHA_256")
        // ECDSA_SHA_384 on a P-256 key fails after authorization; the Deny must come first.
        #expect(deniedMessage { () throws(KMSError) in try sign("ECDSA_SHA_384") } != nil)
        try call("GetPublicKey", JSONObject([("KeyId", .string(arn))]))
    }

    @Test func requestAliasAndResourceAliases() throws {
        let arn = try keyDenying(#"{"StringLike":{"kms:RequestAlias":"alias/blocked*"}}"#)
        try call("CreateAlias", JSONObject([("AliasName", .string("alias/blocked-1")), ("TargetKeyId", .string(arn))]))
        try call("CreateAlias", JSONObject([("AliasName", .string("alias/open")), ("TargetKeyId", .string(arn))]))
        let encrypt = { (id: String) throws(KMSError) -> Void in _ = try call("Encrypt", JSONObject([("KeyId", .string(id)), ("Plaintext", .string("AAAA"))])) }
        #expect(deniedMessage { () throws(KMSError) in try encrypt("alias/blocked-1") } != nil)
        #expect(deniedMessage { () throws(KMSError) in try encrypt("arn:aws:kms:us-east-1:111122223333:alias/blocked-1") } != nil)
        try encrypt("alias/open")
        try encrypt(arn)

        let tagged = try keyDenying(#"{"ForAnyValue:StringEquals":{"kms:ResourceAliases":"alias/frozen"}}"#)
        try encrypt(tagged)
        try call("CreateAlias", JSONObject([("AliasName", .string("alias/frozen")), ("TargetKeyId", .string(tagged))]))
        #expect(deniedMessage { () throws(KMSError) in try encrypt(tagged) } != nil)
    }

    @Test func resourceTagsAndCallerAccount() throws {
        let arn = try keyDenying(#"{"StringEquals":{"aws:ResourceTag/stage":"frozen"}}"#)
        let encrypt = { () throws(KMSError) -> Void in _ = try call("Encrypt", JSONObject([("KeyId", .string(arn)), ("Plaintext", .string("AAAA"))])) }
        try encrypt()
        try call("TagResource", JSONObject([("KeyId", .string(arn)), ("Tags", .array([.object(JSONObject([("TagKey", .string("stage")), ("TagValue", .string("frozen"))]))]))]))
        #expect(deniedMessage(encrypt) != nil)

        let mine = try keyDenying(#"{"StringEquals":{"kms:CallerAccount":"111122223333"}}"#)
        #expect(deniedMessage { () throws(KMSError) in try call("DescribeKey", JSONObject([("KeyId", .string(mine))])) } != nil)
    }

    @Test func requestTagsTagKeysAndKeySpecOnCreateKey() throws {
        let creator = try user("creator", policies: [Self.policy(
            #"{"Effect":"Allow","Action":"kms:*","Resource":"*"}"#,
            #"{"Effect":"Deny","Action":"kms:CreateKey","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"red"}}}"#,
            #"{"Effect":"Deny","Action":"kms:CreateKey","Resource":"*","Condition":{"StringEquals":{"kms:KeySpec":"HMAC_512"}}}"#,
            #"{"Effect":"Deny","Action":"kms:UntagResource","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"owner"}}}"#)])
        let tag = { (k: String, v: String) -> JSONValue in .array([.object(JSONObject([("TagKey", .string(k)), ("TagValue", .string(v))]))]) }
        #expect(deniedMessage { () throws(KMSError) in try call("CreateKey", JSONObject([("Tags", tag("team", "red"))]), as: creator) } != nil)
        #expect(deniedMessage { () throws(KMSError) in
            try call("CreateKey", JSONObject([("KeySpec", .string("HMAC_512")), ("KeyUsage", .string("GENERATE_VERIFY_MAC"))]), as: creator)
        } != nil)
        let arn = try createKey([("Tags", tag("team", "blue"))], as: creator)
        // Tags at creation need kms:TagResource too, in AWS's wording (no resource named).
        let createOnly = try user("createonly", policies: [Self.policy(#"{"Effect":"Allow","Action":"kms:CreateKey","Resource":"*"}"#)])
        #expect(deniedMessage { () throws(KMSError) in try call("CreateKey", JSONObject([("Tags", tag("team", "blue"))]), as: createOnly) }
            == "User: arn:aws:iam::111122223333:user/createonly is not authorized to perform: kms:TagResource because no identity-based policy allows the kms:TagResource action")
        try call("CreateKey", JSONObject(), as: createOnly)
        try call("UntagResource", JSONObject([("KeyId", .string(arn)), ("TagKeys", .array([.string("team")]))]), as: creator)
        #expect(deniedMessage { () throws(KMSError) in
            try call("UntagResource", JSONObject([("KeyId", .string(arn)), ("TagKeys", .array([.string("owner")]))]), as: creator)
        } != nil)
    }

    @Test func pendingWindowBypassFlagAndReEncryptOnSameKey() throws {
        let arn = try keyDenying(#"{"NumericLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":"20"}}"#)
        #expect(deniedMessage { () throws(KMSError) in
            try call("ScheduleKeyDeletion", JSONObject([("KeyId", .string(arn)), ("PendingWindowInDays", .number("7"))]))
        } != nil)
        try call("ScheduleKeyDeletion", JSONObject([("KeyId", .string(arn)), ("PendingWindowInDays", .number("30"))]))

        let same = try keyDenying(#"{"Bool":{"kms:ReEncryptOnSameKey":"true"}}"#)
        let other = try createKey()
        let blob = try #require(try call("Encrypt", JSONObject([("KeyId", .string(same)), ("Plaintext", .string("AAAA"))]))["CiphertextBlob"])
        #expect(deniedMessage { () throws(KMSError) in try call("ReEncrypt", JSONObject([("CiphertextBlob", blob), ("DestinationKeyId", .string(same))])) } != nil)
        // Re-encrypting to another key is allowed (the Deny sees "false" for ReEncryptFrom on `same`).
        try call("ReEncrypt", JSONObject([("CiphertextBlob", blob), ("DestinationKeyId", .string(other))]))

        let bypass = try createKey([("Policy", .string(Self.policy(Self.rootAllowsAll,
            #"{"Effect":"Deny","Principal":"*","Action":"kms:PutKeyPolicy","Resource":"*","Condition":{"Bool":{"kms:BypassPolicyLockoutSafetyCheck":"true"}}}"#)))])
        #expect(deniedMessage { () throws(KMSError) in
            try call("PutKeyPolicy", JSONObject([("KeyId", .string(bypass)), ("Policy", .string(KeyPolicy.defaultPolicy(account: Self.accountA))),
                                                 ("BypassPolicyLockoutSafetyCheck", .bool(true))]))
        } != nil)
    }

    @Test func globalKeysSourceIpTransportRegionAndTime() throws {
        let arn = try keyDenying(#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#)
        let inside = Caller(account: Self.accountA, region: "us-east-1", accessKeyId: "AKIAROOT", sourceIP: "10.1.2.3")
        let outside = Caller(account: Self.accountA, region: "us-east-1", accessKeyId: "AKIAROOT", sourceIP: "192.0.2.1")
        try call("DescribeKey", JSONObject([("KeyId", .string(arn))]), as: inside)
        #expect(deniedMessage { () throws(KMSError) in try call("DescribeKey", JSONObject([("KeyId", .string(arn))]), as: outside) } != nil)

        let tls = try keyDenying(#"{"Bool":{"aws:SecureTransport":"false"}}"#)
        #expect(deniedMessage { () throws(KMSError) in try call("DescribeKey", JSONObject([("KeyId", .string(tls))])) } != nil)
        let secure = Caller(account: Self.accountA, region: "us-east-1", accessKeyId: "AKIAROOT", secureTransport: true)
        try call("DescribeKey", JSONObject([("KeyId", .string(tls))]), as: secure)

        // ManualClock starts at 1_700_000_000 (2023-11-14T22:13:20Z).
        let later = try keyDenying(#"{"DateGreaterThan":{"aws:CurrentTime":"2023-11-15T00:00:00Z"}}"#)
        try call("DescribeKey", JSONObject([("KeyId", .string(later))]))
        clock.advance(by: 86_400)
        #expect(deniedMessage { () throws(KMSError) in try call("DescribeKey", JSONObject([("KeyId", .string(later))])) } != nil)
        let epoch = try keyDenying(#"{"NumericGreaterThan":{"aws:EpochTime":"1700000000"}}"#)
        #expect(deniedMessage { () throws(KMSError) in try call("DescribeKey", JSONObject([("KeyId", .string(epoch))])) } != nil)
        let region = try keyDenying(#"{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}"#)
        #expect(deniedMessage { () throws(KMSError) in try call("DescribeKey", JSONObject([("KeyId", .string(region))])) } != nil)
        #expect(ISO8601Time.format(1_700_000_000) == "2023-11-14T22:13:20Z")
    }

    @Test func macPairSpecAgreementUsageAndContextKeys() throws {
        let mac = try keyDenying(#"{"StringEquals":{"kms:MacAlgorithm":"HMAC_SHA_256","kms:KeyUsage":"GENERATE_VERIFY_MAC"}}"#,
                                 spec: [("KeySpec", .string("HMAC_256")), ("KeyUsage", .string("GENERATE_VERIFY_MAC"))])
        #expect(deniedMessage { () throws(KMSError) in
            try call("GenerateMac", JSONObject([("KeyId", .string(mac)), ("Message", .string("AAAA")), ("MacAlgorithm", .string("HMAC_SHA_256"))]))
        } != nil)
        try call("DescribeKey", JSONObject([("KeyId", .string(mac))]))  // kms:MacAlgorithm is not bound to DescribeKey

        let pair = try keyDenying(#"{"StringEquals":{"kms:DataKeyPairSpec":"RSA_4096"}}"#)
        try call("GenerateDataKeyPairWithoutPlaintext", JSONObject([("KeyId", .string(pair)), ("KeyPairSpec", .string("ECC_NIST_P256"))]))
        #expect(deniedMessage { () throws(KMSError) in
            try call("GenerateDataKeyPair", JSONObject([("KeyId", .string(pair)), ("KeyPairSpec", .string("RSA_4096"))]))
        } != nil)

        let agree = try keyDenying(#"{"StringEquals":{"kms:KeyAgreementAlgorithm":"ECDH","kms:KeySpec":"ECC_NIST_P256"}}"#,
                                   spec: [("KeySpec", .string("ECC_NIST_P256")), ("KeyUsage", .string("KEY_AGREEMENT"))])
        let publicKey = try #require(try call("GetPublicKey", JSONObject([("KeyId", .string(agree))]))["PublicKey"])
        #expect(deniedMessage { () throws(KMSError) in
            try call("DeriveSharedSecret", JSONObject([("KeyId", .string(agree)), ("KeyAgreementAlgorithm", .string("ECDH")), ("PublicKey", publicKey)]))
        } != nil)

        // Only contexts whose every key starts with "tenant" may decrypt-or-encrypt (ForAllValues
        // is vacuously true without a context; a Null check closes that, as AWS advises).
        let scoped = try keyDenying(#"{"ForAnyValue:StringNotLike":{"kms:EncryptionContextKeys":"tenant*"}}"#)
        let encrypt = { (ctx: [(String, JSONValue)]) throws(KMSError) -> Void in
            _ = try call("Encrypt", JSONObject([("KeyId", .string(scoped)), ("Plaintext", .string("AAAA")), ("EncryptionContext", .object(JSONObject(ctx)))]))
        }
        try encrypt([("tenant", .string("1")), ("tenantName", .string("a"))])
        #expect(deniedMessage { () throws(KMSError) in try encrypt([("tenant", .string("1")), ("other", .string("x"))]) } != nil)
    }

    @Test func conditionKeyBindings() {
        #expect(KMSConditionKeys.binds("kms:encryptioncontext:purpose", operation: "Encrypt", onKey: true))
        #expect(!KMSConditionKeys.binds("kms:encryptioncontext:purpose", operation: "DescribeKey", onKey: true))
        #expect(KMSConditionKeys.binds("kms:signingalgorithm", operation: "Verify", onKey: true))
        #expect(!KMSConditionKeys.binds("kms:signingalgorithm", operation: "Encrypt", onKey: true))
        #expect(KMSConditionKeys.binds("kms:calleraccount", operation: "DisableKey", onKey: true))
        #expect(!KMSConditionKeys.binds("kms:calleraccount", operation: "ListKeys", onKey: false))
        #expect(KMSConditionKeys.binds("kms:keyspec", operation: "CreateKey", onKey: false))
        #expect(KMSConditionKeys.binds("aws:sourceip", operation: "ListKeys", onKey: false))
        #expect(KMSConditionKeys.binds("kms:grantoperations", operation: "CreateGrant", onKey: true))
        #expect(!KMSConditionKeys.binds("kms:grantoperations", operation: "Decrypt", onKey: true))
        #expect(KMSConditionKeys.binds("kms:datakeypairspec", operation: "GenerateDataKeyPair", onKey: true))
        #expect(!KMSConditionKeys.binds("kms:datakeypairspec", operation: "GenerateDataKey", onKey: true))
        #expect(KMSConditionKeys.binds("kms:keyagreementalgorithm", operation: "DeriveSharedSecret", onKey: true))
        #expect(KMSConditionKeys.binds("kms:macalgorithm", operation: "VerifyMac", onKey: true))
        #expect(!KMSConditionKeys.binds("aws:resourcetag/x", operation: "CreateKey", onKey: false))
        for op in KMSConditionKeys.byOperation.keys { #expect(OperationActions.table[op] != nil, "\(op)") }
    }

    /// CreateGrant's keys come from the grant operations through the context.
    @Test func operationsCanSupplyTheirOwnConditionValues() throws {
        let request = try RequestValidator.validate(#require(OperationSpec.named("DescribeKey")),
                                                    body: .object(JSONObject([("KeyId", .string("x"))])))
        let context = RequestContext(caller: root, operation: "CreateGrant", actions: ["kms:CreateGrant"], request: request, time: 0)
        context.setConditionValues("kms:GrantOperations", ["Decrypt", "Encrypt"])
        #expect(try KMSConditionKeys.value("kms:grantoperations", context: context, action: "kms:CreateGrant", key: nil, service: service) == ["Decrypt", "Encrypt"])
    }
}
