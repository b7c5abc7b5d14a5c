import Testing
@testable import KMSCore

/// The operations, driven through `handle` as the server does, on an in-memory store.
@Suite struct ServiceTests {
    let clock = ManualClock()
    let service: KMSService
    let alice = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIAALICE")

    init() throws {
        service = try KMSService(store: InMemoryKeyStore(), clock: clock)
    }

    @discardableResult
    func call(_ op: String, _ body: JSONObject, as caller: Caller? = nil) throws(KMSError) -> JSONObject {
        try service.handle(operation: op, body: .object(body), caller: caller ?? alice)
    }

    func createKey(as caller: Caller? = nil) throws -> String {
        let out = try call("CreateKey", JSONObject(), as: caller)
        return try #require(out["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
    }

    func encrypt(_ keyId: String, _ text: String, context: JSONObject? = nil) throws(KMSError) -> String {
        var body = JSONObject([("KeyId", .string(keyId)), ("Plaintext", .string(Base64.encode(Array(text.utf8))))])
        if let context { body["EncryptionContext"] = .object(context) }
        return try call("Encrypt", body)["CiphertextBlob"]?.stringValue ?? ""
    }

    @Test func createDescribeEncryptDecrypt() throws {
        let keyId = try createKey()
        let md = try #require(try call("DescribeKey", JSONObject([("KeyId", .string(keyId))]))["KeyMetadata"]?.objectValue)
        #expect(md["Arn"]?.stringValue == "arn:aws:kms:us-east-1:111122223333:key/\(keyId)")
        #expect(md["KeyState"]?.stringValue == "Enabled")
        #expect(md["KeySpec"]?.stringValue == "SYMMETRIC_DEFAULT")
        #expect(md["EncryptionAlgorithms"] == .array([.string("SYMMETRIC_DEFAULT")]))
        let ctx = JSONObject([("tenant", .string("42"))])
        let blob = try encrypt(keyId, "secret", context: ctx)
        let out = try call("Decrypt", JSONObject([("CiphertextBlob", .string(blob)), ("EncryptionContext", .object(ctx))]))
        #expect(out["Plaintext"]?.stringValue == Base64.encode(Array("secret".utf8)))
        #expect(out["KeyId"]?.stringValue == md["Arn"]?.stringValue)
        #expect(throws: KMSError.invalidCiphertext) { try call("Decrypt", JSONObject([("CiphertextBlob", .string(blob))])) }
    }

    @Test func keyStatesAreEnforced() throws {
        let keyId = try createKey()
        let id = JSONObject([("KeyId", .string(keyId))])
        let blob = try encrypt(keyId, "x")
        try call("DisableKey", id)
        #expect(throws: KMSError(.disabled, "arn:aws:kms:us-east-1:111122223333:key/\(keyId) is disabled.")) { try encrypt(keyId, "x") }
        #expect(throws: KMSError.self) { try call("Decrypt", JSONObject([("CiphertextBlob", .string(blob))])) }
        try call("EnableKey", id)
        _ = try encrypt(keyId, "x")
        let sched = try call("ScheduleKeyDeletion", JSONObject([("KeyId", .string(keyId)), ("PendingWindowInDays", JSONValue(7))]))
        #expect(sched["KeyState"]?.stringValue == "PendingDeletion")
        #expect(sched["DeletionDate"]?.doubleValue == clock.now() + 7 * 86_400)
        do { _ = try encrypt(keyId, "x"); Issue.record("encrypted with a key pending deletion") } catch { #expect(error.code == .kmsInvalidState) }
        try call("CancelKeyDeletion", id)
        let md = try call("DescribeKey", id)["KeyMetadata"]?.objectValue
        #expect(md?["KeyState"]?.stringValue == "Disabled")
        #expect(md?["DeletionDate"] == nil)
        do { try call("CancelKeyDeletion", id); Issue.record("cancelled twice") } catch { #expect(error.code == .kmsInvalidState) }
    }

    @Test func deletionSweepRemovesKeyAndAliasesAfterWindow() throws {
        let keyId = try createKey()
        try call("CreateAlias", JSONObject([("AliasName", .string("alias/doomed")), ("TargetKeyId", .string(keyId))]))
        try call("ScheduleKeyDeletion", JSONObject([("KeyId", .string(keyId)), ("PendingWindowInDays", JSONValue(7))]))
        clock.advance(by: 7 * 86_400 - 1)
        #expect(try service.sweepDeletions() == 0)
        clock.advance(by: 2)
        #expect(try service.sweepDeletions() == 1)
        do { try call("DescribeKey", JSONObject([("KeyId", .string(keyId))])); Issue.record("still there") } catch { #expect(error.code == .notFound) }
        // Only the predefined alias/aws/* aliases remain, without a target (AWS managed keys).
        let left = try #require(try call("ListAliases", JSONObject())["Aliases"]?.arrayValue)
        #expect(left.allSatisfy { $0.objectValue?["TargetKeyId"] == nil })
        #expect(left.count == AWSManagedKeys.predefinedAliases.count)
    }

    @Test func scheduleWindowBounds() throws {
        let keyId = try createKey()
        for days in [6, 31] {
            do {
                try call("ScheduleKeyDeletion", JSONObject([("KeyId", .string(keyId)), ("PendingWindowInDays", JSONValue(days))]))
                Issue.record("accepted \(days)")
            } catch { #expect(error.code == .validation) }
        }
        let out = try call("ScheduleKeyDeletion", JSONObject([("KeyId", .string(keyId))]))
        #expect(out["PendingWindowInDays"]?.intValue == 30)
    }

    @Test func aliasesResolveEverywhere() throws {
        let keyId = try createKey()
        try call("CreateAlias", JSONObject([("AliasName", .string("alias/app")), ("TargetKeyId", .string(keyId))]))
        for ref in ["alias/app", "arn:aws:kms:us-east-1:111122223333:alias/app", keyId, "arn:aws:kms:us-east-1:111122223333:key/\(keyId)"] {
            let md = try call("DescribeKey", JSONObject([("KeyId", .string(ref))]))["KeyMetadata"]?.objectValue
            #expect(md?["KeyId"]?.stringValue == keyId)
        }
        do { try call("CreateAlias", JSONObject([("AliasName", .string("alias/app")), ("TargetKeyId", .string(keyId))])); Issue.record("dup") } catch { #expect(error.code == .alreadyExists) }
        do { try call("CreateAlias", JSONObject([("AliasName", .string("app")), ("TargetKeyId", .string(keyId))])); Issue.record("no prefix") } catch { #expect(error.code == .validation) }
        do { try call("CreateAlias", JSONObject([("AliasName", .string("alias/aws/x")), ("TargetKeyId", .string(keyId))])); Issue.record("reserved") } catch { #expect(error.code == .notAuthorized) }
        do { try call("DescribeKey", JSONObject([("KeyId", .string("alias/nope"))])); Issue.record("found") } catch {
            #expect(error == KMSError(.notFound, "Alias arn:aws:kms:us-east-1:111122223333:alias/nope is not found."))
        }
    }

    @Test func accountsAndRegionsAreIsolated() throws {
        let keyId = try createKey()
        let otherRegion = Caller(account: "111122223333", region: "eu-west-1", accessKeyId: "AKIAALICE")
        let bob = Caller(account: "444455556666", region: "us-east-1", accessKeyId: "AKIABOB")
        for caller in [otherRegion, bob] {
            do { try call("DescribeKey", JSONObject([("KeyId", .string(keyId))]), as: caller); Issue.record("visible") } catch { #expect(error.code == .notFound) }
        }
        // Cross-account by ARN resolves, then authorization denies.
        do {
            try call("DescribeKey", JSONObject([("KeyId", .string("arn:aws:kms:us-east-1:111122223333:key/\(keyId)"))]), as: bob)
            Issue.record("cross-account allowed")
        } catch { #expect(error.code == .accessDenied) }
        #expect(try call("ListKeys", JSONObject(), as: bob)["Keys"] == .array([]))
    }

    @Test func dryRunChangesNothing() throws {
        let keyId = try createKey()
        do {
            try call("Encrypt", JSONObject([("KeyId", .string(keyId)), ("Plaintext", .string("AA==")), ("DryRun", .bool(true))]))
            Issue.record("ran")
        } catch { #expect(error == KMSError.dryRun) }
    }

    @Test func dataKeysAndReEncrypt() throws {
        let a = try createKey(), b = try createKey()
        let dk = try call("GenerateDataKey", JSONObject([("KeyId", .string(a)), ("NumberOfBytes", JSONValue(64))]))
        let plain = try #require(dk["Plaintext"]?.stringValue.flatMap(Base64.decode))
        #expect(plain.count == 64)
        let re = try call("ReEncrypt", JSONObject([("CiphertextBlob", dk["CiphertextBlob"]!), ("DestinationKeyId", .string(b))]))
        let dec = try call("Decrypt", JSONObject([("CiphertextBlob", re["CiphertextBlob"]!), ("KeyId", .string(b))]))
        #expect(dec["Plaintext"]?.stringValue.flatMap(Base64.decode) == plain)
        do { try call("Decrypt", JSONObject([("CiphertextBlob", re["CiphertextBlob"]!), ("KeyId", .string(a))])); Issue.record("wrong key") } catch { #expect(error.code == .incorrectKey) }
        for body in [JSONObject([("KeyId", .string(a))]), JSONObject([("KeyId", .string(a)), ("KeySpec", .string("AES_256")), ("NumberOfBytes", JSONValue(32))])] {
            do { try call("GenerateDataKey", body); Issue.record("accepted") } catch { #expect(error.code == .validation) }
        }
        let without = try call("GenerateDataKeyWithoutPlaintext", JSONObject([("KeyId", .string(a)), ("KeySpec", .string("AES_128"))]))
        #expect(without["Plaintext"] == nil)
    }

    @Test func pagination() throws {
        for _ in 0..<5 { _ = try createKey() }
        var marker: String?
        var seen: [String] = []
        repeat {
            var body = JSONObject([("Limit", JSONValue(2))])
            if let marker { body["Marker"] = .string(marker) }
            let out = try call("ListKeys", body)
            seen += out["Keys"]?.arrayValue?.compactMap { $0.objectValue?["KeyId"]?.stringValue } ?? []
            marker = out["NextMarker"]?.stringValue
            #expect(out["Truncated"]?.boolValue == (marker != nil))
        } while marker != nil
        #expect(seen.count == 5)
        #expect(Set(seen).count == 5)
    }

    @Test func policiesAreValidatedWithLockoutCheck() throws {
        let keyId = try createKey()
        let policy = try call("GetKeyPolicy", JSONObject([("KeyId", .string(keyId))]))["Policy"]?.stringValue ?? ""
        #expect(policy.contains("arn:aws:iam::111122223333:root"))
        let lockout = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":["kms:Encrypt","kms:GetKeyPolicy"],"Resource":"*"}]}"#
        do { try call("PutKeyPolicy", JSONObject([("KeyId", .string(keyId)), ("Policy", .string(lockout))])); Issue.record("lockout") } catch { #expect(error.code == .malformedPolicyDocument) }
        try call("PutKeyPolicy", JSONObject([("KeyId", .string(keyId)), ("Policy", .string(lockout)), ("BypassPolicyLockoutSafetyCheck", .bool(true))]))
        #expect(try call("GetKeyPolicy", JSONObject([("KeyId", .string(keyId))]))["Policy"]?.stringValue == lockout)
        // The stored policy is now enforced: the caller can no longer change it.
        do { try call("PutKeyPolicy", JSONObject([("KeyId", .string(keyId)), ("Policy", .string(lockout))])); Issue.record("locked out") } catch { #expect(error.code == .accessDenied) }
        let other = try createKey()
        do { try call("PutKeyPolicy", JSONObject([("KeyId", .string(other)), ("Policy", .string("{not json"))])); Issue.record("bad json") } catch { #expect(error.code == .malformedPolicyDocument) }
    }

    @Test func tags() throws {
        let keyId = try createKey()
        let tags = JSONValue.array([.object(JSONObject([("TagKey", .string("b")), ("TagValue", .string("2"))])),
                                    .object(JSONObject([("TagKey", .string("a")), ("TagValue", .string("1"))]))])
        try call("TagResource", JSONObject([("KeyId", .string(keyId)), ("Tags", tags)]))
        try call("UntagResource", JSONObject([("KeyId", .string(keyId)), ("TagKeys", .array([.string("b")]))]))
        let out = try call("ListResourceTags", JSONObject([("KeyId", .string(keyId))]))
        #expect(out["Tags"] == .array([.object(JSONObject([("TagKey", .string("a")), ("TagValue", .string("1"))]))]))
        let reserved = JSONValue.array([.object(JSONObject([("TagKey", .string("aws:x")), ("TagValue", .string("1"))]))])
        do { try call("TagResource", JSONObject([("KeyId", .string(keyId)), ("Tags", reserved)])); Issue.record("reserved tag") } catch { #expect(error.code == .tag) }
    }
}
