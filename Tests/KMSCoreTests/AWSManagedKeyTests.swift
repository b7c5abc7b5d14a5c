import Testing
@testable import KMSCore

/// AWS managed keys: made on first use of a predefined alias/aws/<service>, governed by
/// AWS's managed-key policy, yearly rotation that cannot be disabled, not deletable.
@Suite struct AWSManagedKeyTests {
    let clock = ManualClock()
    let store = InMemoryKeyStore()
    let service: KMSService
    let root = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIAROOT")

    init() throws {
        service = try KMSService(store: store, clock: clock)
    }

    @discardableResult
    func call(_ op: String, _ body: [(String, JSONValue)], as caller: Caller? = nil, on svc: KMSService? = nil) throws(KMSError) -> JSONObject {
        try (svc ?? service).handle(operation: op, body: .object(JSONObject(body)), caller: caller ?? root)
    }

    func describe(_ id: String, on svc: KMSService? = nil) throws -> JSONObject {
        try #require(try call("DescribeKey", [("KeyId", .string(id))], on: svc)["KeyMetadata"]?.objectValue)
    }

    func expectError(_ code: KMSError.Code, _ body: () throws(KMSError) -> Void) {
        do { try body(); Issue.record("expected \(code)") } catch { #expect(error.code == code, "\(error.message)") }
    }

    @Test func listAliasesShowsPredefinedAliasesWithoutTarget() throws {
        let aliases = try #require(try call("ListAliases", [])["Aliases"]?.arrayValue)
        let s3 = try #require(aliases.first { $0.objectValue?["AliasName"]?.stringValue == "alias/aws/s3" }?.objectValue)
        #expect(s3["TargetKeyId"] == nil)
        #expect(s3["AliasArn"]?.stringValue == "arn:aws:kms:us-east-1:111122223333:alias/aws/s3")
        #expect(aliases.count == AWSManagedKeys.predefinedAliases.count)
        // Nothing was created by listing.
        #expect(try call("ListKeys", [])["Keys"]?.arrayValue?.isEmpty == true)
    }

    @Test func describeKeyCreatesTheManagedKeyOnce() throws {
        let meta = try describe("alias/aws/s3")
        #expect(meta["KeyManager"]?.stringValue == "AWS")
        #expect(meta["KeyState"]?.stringValue == "Enabled")
        let keyId = try #require(meta["KeyId"]?.stringValue)
        // Same key again, by alias name and by alias ARN.
        #expect(try describe("alias/aws/s3")["KeyId"]?.stringValue == keyId)
        #expect(try describe("arn:aws:kms:us-east-1:111122223333:alias/aws/s3")["KeyId"]?.stringValue == keyId)
        #expect(try call("ListKeys", [])["Keys"]?.arrayValue?.count == 1)
        let aliases = try #require(try call("ListAliases", [])["Aliases"]?.arrayValue)
        let s3 = aliases.first { $0.objectValue?["AliasName"]?.stringValue == "alias/aws/s3" }?.objectValue
        #expect(s3?["TargetKeyId"]?.stringValue == keyId)
        #expect(aliases.count == AWSManagedKeys.predefinedAliases.count)
        // Another region and another account get their own key.
        let west = Caller(account: "111122223333", region: "us-west-2", accessKeyId: "AKIAROOT")
        let other = try call("DescribeKey", [("KeyId", .string("alias/aws/s3"))], as: west)["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue
        #expect(other != nil && other != keyId)
    }

    @Test func policyIsAWSManagedKeyPolicyAndRotationIsYearly() throws {
        let keyId = try #require(try describe("alias/aws/ebs")["KeyId"]?.stringValue)
        let policy = try #require(try call("GetKeyPolicy", [("KeyId", .string(keyId))])["Policy"]?.stringValue)
        #expect(policy.contains("\"kms:ViaService\" : \"ec2.us-east-1.amazonaws.com\""))
        #expect(policy.contains("\"kms:CallerAccount\" : \"111122223333\""))
        let status = try call("GetKeyRotationStatus", [("KeyId", .string(keyId))])
        #expect(status["KeyRotationEnabled"] == .bool(true))
        #expect(status["RotationPeriodInDays"]?.intValue == 365)
        // A year later the rotation job rotates it.
        clock.advance(by: 366 * 86_400)
        #expect(try service.rotateDueKeys() == [ARN.key(keyId, region: "us-east-1", account: "111122223333")])
    }

    @Test func managementIsRefusedByThePolicy() throws {
        let keyId = try #require(try describe("alias/aws/s3")["KeyId"]?.stringValue)
        let id: [(String, JSONValue)] = [("KeyId", .string(keyId))]
        expectError(.accessDenied) { () throws(KMSError) in try call("DisableKeyRotation", id) }
        expectError(.accessDenied) { () throws(KMSError) in try call("ScheduleKeyDeletion", id) }
        expectError(.accessDenied) { () throws(KMSError) in try call("DisableKey", id) }
        expectError(.accessDenied) { () throws(KMSError) in
            try call("PutKeyPolicy", id + [("PolicyName", .string("default")), ("Policy", .string(KeyPolicy.defaultPolicy(account: "111122223333")))])
        }
        expectError(.accessDenied) { () throws(KMSError) in
            try call("CreateAlias", [("AliasName", .string("alias/mine")), ("TargetKeyId", .string(keyId))])
        }
        expectError(.notAuthorized) { () throws(KMSError) in
            try call("DeleteAlias", [("AliasName", .string("alias/aws/s3"))])
        }
        expectError(.notAuthorized) { () throws(KMSError) in
            try call("UpdateAlias", [("AliasName", .string("alias/aws/s3")), ("TargetKeyId", .string(keyId))])
        }
        // Still there, still rotating, still aliased.
        #expect(try describe(keyId)["KeyState"]?.stringValue == "Enabled")
        #expect(try call("GetKeyRotationStatus", id)["KeyRotationEnabled"] == .bool(true))
        #expect(try describe("alias/aws/s3")["KeyId"]?.stringValue == keyId)
    }

    /// A direct caller (not through the service: no kms:ViaService) is refused
    /// cryptographic use as on AWS, and its refused call creates nothing.
    @Test func directEncryptIsRefusedAndCreatesNothing() throws {
        expectError(.accessDenied) { () throws(KMSError) in
            try call("Encrypt", [("KeyId", .string("alias/aws/s3")), ("Plaintext", .string(Base64.encode([1, 2, 3])))])
        }
        expectError(.accessDenied) { () throws(KMSError) in
            try call("GenerateDataKey", [("KeyId", .string("alias/aws/s3")), ("KeySpec", .string("AES_256"))])
        }
        #expect(try call("ListKeys", [])["Keys"]?.arrayValue?.isEmpty == true)
    }

    /// Only the predefined services have managed keys: other alias/aws/ names are missing aliases.
    @Test func unknownAWSAliasIsNotFound() throws {
        expectError(.notFound) { () throws(KMSError) in try call("DescribeKey", [("KeyId", .string("alias/aws/nosuchservice"))]) }
    }

    /// Two nodes (two services over one store) creating the same managed key end with one key.
    @Test func twoNodesCreatingAtOnceEndWithOneKey() async throws {
        let a = try KMSService(store: store, clock: clock)
        let b = try KMSService(store: store, clock: clock)
        let root = self.root
        async let ida = Task.detached { try a.handle(operation: "DescribeKey", body: .object(JSONObject([("KeyId", .string("alias/aws/lambda"))])), caller: root) }.value
        async let idb = Task.detached { try b.handle(operation: "DescribeKey", body: .object(JSONObject([("KeyId", .string("alias/aws/lambda"))])), caller: root) }.value
        let (ra, rb) = try await (ida, idb)
        let ka = ra["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue
        let kb = rb["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue
        #expect(ka != nil && ka == kb)
        #expect(try store.listKeys(account: "111122223333", region: "us-east-1", after: nil, limit: 10).count == 1)
    }

    /// Every predefined service's policy is JSON the policy engine compiles, and the services
    /// whose policy AWS published (or real accounts returned) get that text: Id, Sid wording,
    /// actions and description (AWSManagedKeyPolicies.swift names the sources).
    @Test func managedKeyPoliciesAreAWSsTexts() throws {
        for alias in AWSManagedKeys.predefinedAliases {
            let service = String(alias.dropFirst("alias/aws/".count))
            let text = AWSManagedKeys.policy(service: service, account: "111122223333", region: "eu-west-2")
            _ = try KeyPolicy.compile(text)
            let doc = try #require(try JSONParser.parse(Array(text.utf8)).objectValue, "\(service)")
            #expect(doc["Version"]?.stringValue == "2012-10-17")
        }
        let ebs = try #require(try JSONParser.parse(Array(AWSManagedKeys.policy(service: "ebs", account: "111122223333", region: "eu-west-2").utf8)).objectValue)
        #expect(ebs["Id"]?.stringValue == "auto-ebs-2")
        let first = try #require(ebs["Statement"]?.arrayValue?.first?.objectValue)
        #expect(first["Sid"]?.stringValue == "Allow access through EBS for all principals in the account that are authorized to use EBS")
        #expect(first["Action"]?.arrayValue?.compactMap(\.stringValue) ==
                ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"])
        let s3 = AWSManagedKeys.policy(service: "s3", account: "111122223333", region: "eu-west-2")
        #expect(s3.contains("\"Id\" : \"auto-s3-2\"") && !s3.contains("kms:CreateGrant") && !s3.contains("kms:RevokeGrant"))
        #expect(AWSManagedKeys.policy(service: "elasticfilesystem", account: "1", region: "r")
            .contains("Allow access to EFS for all principals in the account that are authorized to use EFS"))
        #expect(AWSManagedKeys.description(service: "ebs") == "Default key that protects my EBS volumes when no other key is defined")
        #expect(try describe("alias/aws/s3")["Description"]?.stringValue == "Default key that protects my S3 objects when no other key is defined")
    }

    /// Secrets Manager's policy allows GenerateDataKey* through its endpoint in any region (a
    /// second statement, StringLike), the rest only in the key's own region.
    @Test func secretsManagerPolicyAllowsGenerateDataKeyFromAnyRegion() throws {
        let text = AWSManagedKeys.policy(service: "secretsmanager", account: "111122223333", region: "us-east-1")
        let statements = try #require(try JSONParser.parse(Array(text.utf8)).objectValue?["Statement"]?.arrayValue)
        #expect(statements.count == 3)
        let second = try #require(statements[1].objectValue)
        #expect(second["Action"]?.stringValue == "kms:GenerateDataKey*" && second["Sid"] == nil)
        #expect(second["Condition"]?.objectValue?["StringLike"]?.objectValue?["kms:ViaService"]?.stringValue == "secretsmanager.*.amazonaws.com")
    }

    /// Redshift's policy as the Lake Formation guide shows aws/redshift's: Id auto-redshift-3, one
    /// statement through Redshift and one through Redshift Serverless, and DirectMetadataAccess.
    @Test func redshiftPolicyHasAStatementPerEndpointService() throws {
        let text = AWSManagedKeys.policy(service: "redshift", account: "111122223333", region: "us-east-1")
        let doc = try #require(try JSONParser.parse(Array(text.utf8)).objectValue)
        #expect(doc["Id"]?.stringValue == "auto-redshift-3")
        let statements = (doc["Statement"]?.arrayValue ?? []).compactMap(\.objectValue)
        try #require(statements.count == 3)
        #expect(statements.compactMap { $0["Sid"]?.stringValue } == ["RedshiftAllowAccessPolicy", "RedshiftServerlessAllowAccessPolicy", "DirectMetadataAccess"])
        #expect(statements.prefix(2).compactMap { $0["Condition"]?.objectValue?["StringEquals"]?.objectValue?["kms:ViaService"]?.stringValue }
            == ["redshift.us-east-1.amazonaws.com", "redshift-serverless.us-east-1.amazonaws.com"])
        #expect(statements[0]["Action"]?.arrayValue?.compactMap(\.stringValue) ==
                ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:DescribeKey"])
        #expect(statements[2]["Action"]?.arrayValue?.compactMap(\.stringValue) == ["kms:Describe*", "kms:Get*", "kms:List*", "kms:RevokeGrant"])
        #expect(statements[2]["Principal"]?.objectValue?["AWS"]?.stringValue == "arn:aws:iam::111122223333:root")
    }
}
