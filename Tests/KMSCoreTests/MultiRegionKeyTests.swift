import Testing
@testable import KMSCore

/// Multi-Region keys in one deployment serving us-east-1 and eu-west-1 (issue 13 §2): the
/// operations through `handle`, on an in-memory store. Completion steps run at once here
/// (completion delay nil) unless a test watches the intermediate states.
@Suite struct MultiRegionKeyTests {
    let clock = ManualClock()
    let service: KMSService
    static let account = "111122223333"
    let east = Caller(account: account, region: "us-east-1", accessKeyId: "AKIAROOT")
    let west = Caller(account: account, region: "eu-west-1", accessKeyId: "AKIAROOT")
    let tokyo = Caller(account: account, region: "ap-northeast-1", accessKeyId: "AKIAROOT")

    init() throws {
        service = try KMSService(store: InMemoryKeyStore(), clock: clock)
        service.multiRegion.configure(servedRegions: ["us-east-1", "eu-west-1", "ap-northeast-1"])
        service.multiRegion.setCompletionDelay(nil)
    }

    @discardableResult
    func call(_ op: String, _ body: [(String, JSONValue)], as caller: Caller) throws(KMSError) -> JSONObject {
        try service.handle(operation: op, body: .object(JSONObject(body)), caller: caller)
    }

    func metadata(_ keyId: String, as caller: Caller) throws -> JSONObject {
        try #require(try call("DescribeKey", [("KeyId", .string(keyId))], as: caller)["KeyMetadata"]?.objectValue)
    }

    func createPrimary(_ extra: [(String, JSONValue)] = []) throws -> String {
        let out = try call("CreateKey", [("MultiRegion", .bool(true))] + extra, as: east)
        return try #require(out["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
    }

    @discardableResult
    func replicate(_ keyId: String, to region: String = "eu-west-1", _ extra: [(String, JSONValue)] = []) throws(KMSError) -> JSONObject {
        try call("ReplicateKey", [("KeyId", .string(keyId)), ("ReplicaRegion", .string(region))] + extra, as: east)
    }

    func expectError(_ code: KMSError.Code, _ body: () throws(KMSError) -> Void, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("expected \(code.rawValue)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func createKeyMakesAPrimaryWithAnMrkId() throws {
        let keyId = try createPrimary()
        #expect(keyId.hasPrefix("mrk-") && keyId.count == 36 && keyId.dropFirst(4).allSatisfy(\.isHexDigit))
        let md = try metadata(keyId, as: east)
        #expect(md["MultiRegion"] == .bool(true))
        let config = try #require(md["MultiRegionConfiguration"]?.objectValue)
        #expect(config["MultiRegionKeyType"] == .string("PRIMARY"))
        #expect(config["PrimaryKey"]?.objectValue?["Region"] == .string("us-east-1"))
        #expect(config["PrimaryKey"]?.objectValue?["Arn"] == .string("arn:aws:kms:us-east-1:\(Self.account):key/\(keyId)"))
        #expect(config["ReplicaKeys"] == .array([]))
        // A regional key says so and has no configuration.
        let regional = try #require(try call("CreateKey", [], as: east)["KeyMetadata"]?.objectValue)
        #expect(regional["MultiRegion"] == .bool(false) && regional["MultiRegionConfiguration"] == nil)
    }

    @Test func replicateKeyCreatesAReplicaWithTheSameMaterial() throws {
        let keyId = try createPrimary([("Description", .string("primary"))])
        let out = try replicate(keyId, [("Description", .string("replica")),
                                        ("Tags", .array([.object(JSONObject([("TagKey", .string("t")), ("TagValue", .string("v"))]))]))])
        let replica = try #require(out["ReplicaKeyMetadata"]?.objectValue)
        #expect(replica["KeyState"] == .string("Creating") && replica["Enabled"] == .bool(false))
        #expect(replica["Arn"] == .string("arn:aws:kms:eu-west-1:\(Self.account):key/\(keyId)"))
        #expect(replica["Description"] == .string("replica"))
        #expect(out["ReplicaPolicy"]?.stringValue == KeyPolicy.defaultPolicy(account: Self.account))
        #expect(out["ReplicaTags"]?.arrayValue?.count == 1)
        // Completed (at once here): Enabled, and both keys list the family.
        let west = try metadata(keyId, as: self.west)
        #expect(west["KeyState"] == .string("Enabled"))
        #expect(west["MultiRegionConfiguration"]?.objectValue?["MultiRegionKeyType"] == .string("REPLICA"))
        #expect(west["MultiRegionConfiguration"]?.objectValue?["PrimaryKey"]?.objectValue?["Region"] == .string("us-east-1"))
        let east = try metadata(keyId, as: self.east)
        #expect(east["MultiRegionConfiguration"]?.objectValue?["ReplicaKeys"]?.arrayValue?.first?.objectValue?["Region"] == .string("eu-west-1"))
        #expect(east["Description"] == .string("primary"))
        // A ciphertext from one related key decrypts under the other.
        let plaintext = JSONValue.string(Base64.encode(Array("across regions".utf8)))
        let blob = try #require(try call("Encrypt", [("KeyId", .string(keyId)), ("Plaintext", plaintext)], as: self.east)["CiphertextBlob"])
        let back = try call("Decrypt", [("CiphertextBlob", blob)], as: self.west)
        #expect(back["Plaintext"] == plaintext)
        #expect(back["KeyId"] == .string("arn:aws:kms:eu-west-1:\(Self.account):key/\(keyId)"))
        let blob2 = try #require(try call("Encrypt", [("KeyId", .string(keyId)), ("Plaintext", plaintext)], as: self.west)["CiphertextBlob"])
        #expect(try call("Decrypt", [("CiphertextBlob", blob2)], as: self.east)["Plaintext"] == plaintext)
    }

    @Test func replicaStartsCreatingAndCompletesAsynchronously() async throws {
        service.multiRegion.setCompletionDelay(0.3)
        let keyId = try createPrimary()
        try replicate(keyId)
        #expect(try metadata(keyId, as: west)["KeyState"] == .string("Creating"))
        // A key in Creating is not usable yet.
        expectError(.kmsInvalidState) { () throws(KMSError) in
            try call("Encrypt", [("KeyId", .string(keyId)), ("Plaintext", .string("AAAA"))], as: west)
        }
        // Nor can its state be changed under the completion step.
        expectError(.kmsInvalidState) { () throws(KMSError) in try call("DisableKey", [("KeyId", .string(keyId))], as: west) }
        expectError(.kmsInvalidState) { () throws(KMSError) in try call("ScheduleKeyDeletion", [("KeyId", .string(keyId))], as: west) }
        var state: JSONValue?
        for _ in 0..<50 {
            state = try metadata(keyId, as: west)["KeyState"]
            if state == .string("Enabled") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(state == .string("Enabled"))
    }

    @Test func replicateKeyRefusesWhatAWSRefuses() throws {
        let keyId = try createPrimary()
        let regional = try #require(try call("CreateKey", [], as: east)["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
        expectError(.unsupportedOperation) { () throws(KMSError) in try replicate(regional) }
        expectError(.validation) { () throws(KMSError) in try replicate(keyId, to: "us-east-1") }
        // A region this deployment does not serve.
        expectError(.unsupportedOperation) { () throws(KMSError) in try replicate(keyId, to: "sa-east-1") }
        try replicate(keyId)
        expectError(.alreadyExists) { () throws(KMSError) in try replicate(keyId) }
        // A replica cannot be replicated: only its primary.
        expectError(.unsupportedOperation) { () throws(KMSError) in
            try call("ReplicateKey", [("KeyId", .string(keyId)), ("ReplicaRegion", .string("ap-northeast-1"))], as: west)
        }
        // Nothing of the refused calls was stored.
        expectError(.notFound) { () throws(KMSError) in try call("DescribeKey", [("KeyId", .string(keyId))], as: tokyo) }
        #expect(try metadata(keyId, as: east)["MultiRegionConfiguration"]?.objectValue?["ReplicaKeys"]?.arrayValue?.count == 1)
    }

    @Test func rotationReachesEveryReplicaAndIsSetOnThePrimaryOnly() throws {
        let keyId = try createPrimary()
        try replicate(keyId)
        try replicate(keyId, to: "ap-northeast-1")
        // Rotation settings are shared, and refused on a replica.
        expectError(.unsupportedOperation) { () throws(KMSError) in try call("EnableKeyRotation", [("KeyId", .string(keyId))], as: west) }
        expectError(.unsupportedOperation) { () throws(KMSError) in try call("RotateKeyOnDemand", [("KeyId", .string(keyId))], as: west) }
        try call("EnableKeyRotation", [("KeyId", .string(keyId)), ("RotationPeriodInDays", .number("90"))], as: east)
        let status = try call("GetKeyRotationStatus", [("KeyId", .string(keyId))], as: tokyo)
        #expect(status["KeyRotationEnabled"] == .bool(true) && status["RotationPeriodInDays"] == .number("90"))
        try call("RotateKeyOnDemand", [("KeyId", .string(keyId))], as: east)
        let primaryMaterial = try metadata(keyId, as: east)["CurrentKeyMaterialId"]
        #expect(primaryMaterial != nil)
        #expect(try metadata(keyId, as: west)["CurrentKeyMaterialId"] == primaryMaterial)
        #expect(try metadata(keyId, as: tokyo)["CurrentKeyMaterialId"] == primaryMaterial)
        // Automatic rotation of the primary reaches them too.
        clock.advance(by: 91 * 86_400)
        #expect(try service.rotateDueKeys() == ["arn:aws:kms:us-east-1:\(Self.account):key/\(keyId)"])
        let rotated = try metadata(keyId, as: east)["CurrentKeyMaterialId"]
        let westRotated = try metadata(keyId, as: west)["CurrentKeyMaterialId"]
        #expect(rotated != primaryMaterial && westRotated == rotated)
        let plaintext = JSONValue.string("AAAA")
        let blob = try #require(try call("Encrypt", [("KeyId", .string(keyId)), ("Plaintext", plaintext)], as: east)["CiphertextBlob"])
        #expect(try call("Decrypt", [("CiphertextBlob", blob)], as: tokyo)["Plaintext"] == plaintext)
    }

    @Test func updatePrimaryRegionSwapsTheTypes() throws {
        let keyId = try createPrimary()
        try replicate(keyId)
        try replicate(keyId, to: "ap-northeast-1")
        expectError(.unsupportedOperation) { () throws(KMSError) in
            try call("UpdatePrimaryRegion", [("KeyId", .string(keyId)), ("PrimaryRegion", .string("us-east-1"))], as: west)
        }
        expectError(.notFound) { () throws(KMSError) in
            try call("UpdatePrimaryRegion", [("KeyId", .string(keyId)), ("PrimaryRegion", .string("sa-east-1"))], as: east)
        }
        try call("UpdatePrimaryRegion", [("KeyId", .string(keyId)), ("PrimaryRegion", .string("eu-west-1"))], as: east)
        for caller in [east, west, tokyo] {
            let md = try metadata(keyId, as: caller)
            let config = try #require(md["MultiRegionConfiguration"]?.objectValue)
            #expect(md["KeyState"] == .string("Enabled"))
            #expect(config["MultiRegionKeyType"] == .string(caller.region == "eu-west-1" ? "PRIMARY" : "REPLICA"))
            #expect(config["PrimaryKey"]?.objectValue?["Region"] == .string("eu-west-1"))
            #expect(config["ReplicaKeys"]?.arrayValue?.compactMap { $0.objectValue?["Region"]?.stringValue } == ["ap-northeast-1", "us-east-1"])
        }
        // The new primary rotates; the old one is now refused.
        expectError(.unsupportedOperation) { () throws(KMSError) in try call("RotateKeyOnDemand", [("KeyId", .string(keyId))], as: east) }
        try call("RotateKeyOnDemand", [("KeyId", .string(keyId))], as: west)
        let westMaterial = try metadata(keyId, as: west)["CurrentKeyMaterialId"]
        #expect(try metadata(keyId, as: east)["CurrentKeyMaterialId"] == westMaterial)
    }

    @Test func bothKeysPassThroughUpdating() async throws {
        let keyId = try createPrimary()
        try call("DisableKey", [("KeyId", .string(keyId))], as: east)
        try replicate(keyId)
        service.multiRegion.setCompletionDelay(0.3)
        try call("UpdatePrimaryRegion", [("KeyId", .string(keyId)), ("PrimaryRegion", .string("eu-west-1"))], as: east)
        #expect(try metadata(keyId, as: east)["KeyState"] == .string("Updating"))
        #expect(try metadata(keyId, as: west)["KeyState"] == .string("Updating"))
        expectError(.kmsInvalidState) { () throws(KMSError) in try call("EnableKey", [("KeyId", .string(keyId))], as: east) }
        for _ in 0..<50 {
            let states = [try metadata(keyId, as: west)["KeyState"], try metadata(keyId, as: east)["KeyState"]]
            if !states.contains(.string("Updating")) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        // Each returns to its own state (the old primary was disabled).
        #expect(try metadata(keyId, as: east)["KeyState"] == .string("Disabled"))
        #expect(try metadata(keyId, as: west)["KeyState"] == .string("Enabled"))
        #expect(try metadata(keyId, as: west)["MultiRegionConfiguration"]?.objectValue?["MultiRegionKeyType"] == .string("PRIMARY"))
    }

    @Test func independentPropertiesStayPerKey() throws {
        let keyId = try createPrimary()
        try replicate(keyId)
        try call("DisableKey", [("KeyId", .string(keyId))], as: west)
        try call("UpdateKeyDescription", [("KeyId", .string(keyId)), ("Description", .string("west only"))], as: west)
        try call("TagResource", [("KeyId", .string(keyId)),
                                 ("Tags", .array([.object(JSONObject([("TagKey", .string("w")), ("TagValue", .string("1"))]))]))], as: west)
        try call("CreateAlias", [("AliasName", .string("alias/shared-name")), ("TargetKeyId", .string(keyId))], as: west)
        let east = try metadata(keyId, as: self.east)
        #expect(east["KeyState"] == .string("Enabled") && east["Description"] == .string(""))
        #expect(try call("ListResourceTags", [("KeyId", .string(keyId))], as: self.east)["Tags"] == .array([]))
        expectError(.notFound) { () throws(KMSError) in try call("DescribeKey", [("KeyId", .string("alias/shared-name"))], as: self.east) }
        // The same alias name in the other region names its own key.
        try call("CreateAlias", [("AliasName", .string("alias/shared-name")), ("TargetKeyId", .string(keyId))], as: self.east)
        // A shared-material change leaves them independent: rotating does not re-enable the replica.
        try call("RotateKeyOnDemand", [("KeyId", .string(keyId))], as: self.east)
        #expect(try metadata(keyId, as: west)["KeyState"] == .string("Disabled"))
        #expect(try metadata(keyId, as: west)["Description"] == .string("west only"))
    }

    @Test func deletingAPrimaryWaitsForItsReplicas() throws {
        let keyId = try createPrimary()
        try replicate(keyId)
        let scheduled = try call("ScheduleKeyDeletion", [("KeyId", .string(keyId)), ("PendingWindowInDays", .number("10"))], as: east)
        #expect(scheduled["KeyState"] == .string("PendingReplicaDeletion") && scheduled["DeletionDate"] == nil)
        let md = try metadata(keyId, as: east)
        #expect(md["KeyState"] == .string("PendingReplicaDeletion") && md["PendingDeletionWindowInDays"] == .number("10"))
        #expect(md["DeletionDate"] == nil)
        // Neither usable nor replicable meanwhile.
        expectError(.kmsInvalidState) { () throws(KMSError) in
            try call("Encrypt", [("KeyId", .string(keyId)), ("Plaintext", .string("AAAA"))], as: east)
        }
        expectError(.kmsInvalidState) { () throws(KMSError) in try replicate(keyId, to: "ap-northeast-1") }
        expectError(.kmsInvalidState) { () throws(KMSError) in try call("EnableKey", [("KeyId", .string(keyId))], as: east) }
        // The replica keeps working and has its own waiting period.
        try call("Encrypt", [("KeyId", .string(keyId)), ("Plaintext", .string("AAAA"))], as: west)
        let replicaDeletion = try call("ScheduleKeyDeletion", [("KeyId", .string(keyId)), ("PendingWindowInDays", .number("7"))], as: west)
        #expect(replicaDeletion["KeyState"] == .string("PendingDeletion"))
        clock.advance(by: 8 * 86_400)
        #expect(try service.sweepDeletions() == 1)
        expectError(.notFound) { () throws(KMSError) in try call("DescribeKey", [("KeyId", .string(keyId))], as: west) }
        // The last replica is gone: the primary's own 10 days start now.
        let after = try metadata(keyId, as: east)
        #expect(after["KeyState"] == .string("PendingDeletion"))
        #expect(after["DeletionDate"] == JSONValue(clock.now() + 10 * 86_400))
        #expect(after["MultiRegionConfiguration"]?.objectValue?["ReplicaKeys"] == .array([]))
        clock.advance(by: 11 * 86_400)
        #expect(try service.sweepDeletions() == 1)
        expectError(.notFound) { () throws(KMSError) in try call("DescribeKey", [("KeyId", .string(keyId))], as: east) }
    }

    @Test func cancellingAPrimaryDeletionLeavesItDisabled() throws {
        let keyId = try createPrimary()
        try replicate(keyId)
        try call("ScheduleKeyDeletion", [("KeyId", .string(keyId))], as: east)
        try call("CancelKeyDeletion", [("KeyId", .string(keyId))], as: east)
        #expect(try metadata(keyId, as: east)["KeyState"] == .string("Disabled"))
    }

    @Test func signaturesAndMacsVerifyAcrossRegions() throws {
        let sign = try createPrimary([("KeySpec", .string("ECC_NIST_P256")), ("KeyUsage", .string("SIGN_VERIFY"))])
        let mac = try createPrimary([("KeySpec", .string("HMAC_256")), ("KeyUsage", .string("GENERATE_VERIFY_MAC"))])
        try replicate(sign)
        try replicate(mac)
        let message = JSONValue.string(Base64.encode(Array("signed in one region".utf8)))
        let signature = try #require(try call("Sign", [("KeyId", .string(sign)), ("Message", message),
                                                       ("SigningAlgorithm", .string("ECDSA_SHA_256"))], as: east)["Signature"])
        let verified = try call("Verify", [("KeyId", .string(sign)), ("Message", message), ("Signature", signature),
                                           ("SigningAlgorithm", .string("ECDSA_SHA_256"))], as: west)
        #expect(verified["SignatureValid"] == .bool(true))
        #expect(try call("GetPublicKey", [("KeyId", .string(sign))], as: west)["PublicKey"]
                == (try call("GetPublicKey", [("KeyId", .string(sign))], as: east)["PublicKey"]))
        let tag = try #require(try call("GenerateMac", [("KeyId", .string(mac)), ("Message", message),
                                                        ("MacAlgorithm", .string("HMAC_SHA_256"))], as: west)["Mac"])
        let ok = try call("VerifyMac", [("KeyId", .string(mac)), ("Message", message), ("Mac", tag),
                                        ("MacAlgorithm", .string("HMAC_SHA_256"))], as: east)
        #expect(ok["MacValid"] == .bool(true))
    }

    @Test func conditionKeysSeeTheKeyTypeAndRegions() throws {
        let keyId = try createPrimary()
        try replicate(keyId)
        let root = "arn:aws:iam::\(Self.account):root"
        func policy(_ deny: String) -> String {
            #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"\#(root)"},"Action":"kms:*","Resource":"*"},\#(deny)]}"#
        }
        // On the replica: deny Encrypt to REPLICA keys. On the primary: deny replication to ap-northeast-1.
        try call("PutKeyPolicy", [("KeyId", .string(keyId)), ("PolicyName", .string("default")), ("Policy", .string(policy(
            #"{"Effect":"Deny","Principal":{"AWS":"\#(root)"},"Action":"kms:Encrypt","Resource":"*","Condition":{"StringEquals":{"kms:MultiRegionKeyType":"REPLICA"},"Bool":{"kms:MultiRegion":"true"}}}"#)))], as: west)
        try call("PutKeyPolicy", [("KeyId", .string(keyId)), ("PolicyName", .string("default")), ("Policy", .string(policy(
            #"{"Effect":"Deny","Principal":{"AWS":"\#(root)"},"Action":["kms:ReplicateKey","kms:UpdatePrimaryRegion"],"Resource":"*","Condition":{"StringEquals":{"kms:ReplicaRegion":"ap-northeast-1"}}},{"Effect":"Deny","Principal":{"AWS":"\#(root)"},"Action":"kms:UpdatePrimaryRegion","Resource":"*","Condition":{"StringEquals":{"kms:PrimaryRegion":"eu-west-1"}}}"#)))], as: east)
        expectError(.accessDenied) { () throws(KMSError) in
            try call("Encrypt", [("KeyId", .string(keyId)), ("Plaintext", .string("AAAA"))], as: west)
        }
        try call("Encrypt", [("KeyId", .string(keyId)), ("Plaintext", .string("AAAA"))], as: east)
        expectError(.accessDenied) { () throws(KMSError) in try replicate(keyId, to: "ap-northeast-1") }
        expectError(.accessDenied) { () throws(KMSError) in
            try call("UpdatePrimaryRegion", [("KeyId", .string(keyId)), ("PrimaryRegion", .string("eu-west-1"))], as: east)
        }
    }

    /// A server stopped between a step and its completion: the background job finishes it.
    @Test func theJobFinishesStepsAStoppedServerLeft() throws {
        service.multiRegion.setCompletionDelay(3_600)  // never within this test
        let keyId = try createPrimary()
        try replicate(keyId)
        #expect(try metadata(keyId, as: west)["KeyState"] == .string("Creating"))
        #expect(try service.resumeMultiRegionSteps() == 1)
        #expect(try metadata(keyId, as: west)["KeyState"] == .string("Enabled"))
        try call("UpdatePrimaryRegion", [("KeyId", .string(keyId)), ("PrimaryRegion", .string("eu-west-1"))], as: east)
        #expect(try metadata(keyId, as: east)["KeyState"] == .string("Updating"))
        try service.resumeMultiRegionSteps()
        #expect(try metadata(keyId, as: east)["KeyState"] == .string("Enabled"))
        #expect(try metadata(keyId, as: west)["KeyState"] == .string("Enabled"))
        #expect(try metadata(keyId, as: west)["MultiRegionConfiguration"]?.objectValue?["MultiRegionKeyType"] == .string("PRIMARY"))
        #expect(try metadata(keyId, as: east)["MultiRegionConfiguration"]?.objectValue?["MultiRegionKeyType"] == .string("REPLICA"))
        // Nothing left to do; running again changes nothing.
        #expect(try service.resumeMultiRegionSteps() == 0)
    }

    @Test func changesApplyOnceWhateverTheDelivery() throws {
        let keyId = try createPrimary()
        let primary = try #require(try service.registry.key(account: Self.account, region: "us-east-1", keyId: keyId))
        var config = try #require(primary.multiRegion)
        config.replicaRegions = ["eu-west-1"]
        config.sequence = 1
        var source = primary
        source.multiRegion = config
        let create = MultiRegionChange(kind: .createReplica, from: source, to: "eu-west-1", sequence: 1,
                                       replica: ReplicaProperties(description: "", policy: "{}", tags: []))
        let made = try #require(MultiRegionApplier.apply(create, to: nil, now: 1))
        // A repeat of a change already applied does nothing.
        #expect(MultiRegionApplier.apply(create, to: made, now: 2) == nil)
        let sync = MultiRegionChange(kind: .synchronize, from: source, to: "eu-west-1", sequence: 1)
        #expect(MultiRegionApplier.apply(sync, to: made, now: 2) == nil)
        let complete = MultiRegionChange(kind: .completeReplica, from: source, to: "eu-west-1", sequence: 1)
        let enabled = try #require(MultiRegionApplier.apply(complete, to: made, now: 3))
        #expect(enabled.keyState == .enabled)
        #expect(MultiRegionApplier.apply(complete, to: enabled, now: 4) == nil)
        #expect(enabled.materials.map(\.materialId) == primary.materials.map(\.materialId))
    }
}
