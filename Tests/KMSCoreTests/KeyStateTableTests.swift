import Testing
@testable import KMSCore

/// The Developer Guide's key state table, one row per operation that takes an existing key:
/// "Key states of AWS KMS keys", https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html
/// (table as published in awsdocs/aws-kms-developer-guide, doc_source/key-state.md). Its notes:
///   [1] DisabledException: <key ARN> is disabled.
///   [2]/[3] DisabledException or KMSInvalidStateException: <key ARN> is pending deletion.
///        (the table gives both for cryptographic operations; this server answers [3])
///   [4] KMSInvalidStateException: <key ARN> is not pending deletion.
///   [5] KMSInvalidStateException: <key ARN> is pending import.
///   [6] UnsupportedOperationException: <key ARN> origin is EXTERNAL which is not valid for this operation.
///   [10] UpdateAlias: a source key pending deletion succeeds, a target pending deletion fails [3].
/// Rows for operations newer than that table (GenerateMac, VerifyMac, DeriveSharedSecret,
/// RotateKeyOnDemand, ListKeyRotations, GetKeyLastUsage) follow their nearest rows (Sign and
/// Verify; EnableKeyRotation; the read-only rows). The Unavailable column applies only to keys in
/// custom key stores whose store is disconnected; CustomKeyStoreTests checks those.
@Suite struct KeyStateTableTests {
    let service: KMSService
    static let account = "111122223333"
    let root = Caller(account: KeyStateTableTests.account, region: "us-east-1", accessKeyId: "AKIAROOT")
    static let rootArn = "arn:aws:iam::111122223333:root"

    init() throws {
        let store = GrantOnlyStore()
        let clock = ManualClock()
        let grants = try GrantRegistry(store: store, tokenKey: Array(repeating: 9, count: 32), clock: clock)
        service = try KMSService(store: store, clock: clock, grants: grants)
    }

    @discardableResult
    func call(_ op: String, _ body: [(String, JSONValue)]) throws(KMSError) -> JSONObject {
        try service.handle(operation: op, body: .object(JSONObject(body)), caller: root)
    }

    // MARK: the table

    /// The kind of key a row is checked on. PendingImport exists only for EXTERNAL keys, which
    /// are symmetric here, so a symmetric row's PendingImport column uses an EXTERNAL key.
    enum Kind: Sendable { case symmetric, external, rsaSign, hmac, eccAgreement, multiRegion }

    enum Outcome: Sendable {
        case ok
        /// Fails with this code and the message "<key ARN> <suffix>" (nil: message not checked).
        case fails(KMSError.Code, String?)
        /// Not checked, with the reason (N/A in the table, or not reachable on this server).
        case unchecked(String)
    }

    /// Values a row's call needs that can only be made while the key is enabled (a ciphertext,
    /// a signature, a grant), made before the key is moved to the state under test.
    typealias Prepared = [String: JSONValue]

    typealias Prepare = @Sendable (KeyStateTableTests, String) throws -> Prepared
    typealias Call = @Sendable (KeyStateTableTests, String, Prepared) throws(KMSError) -> Void

    struct Row: Sendable {
        let operation: String
        let kind: Kind
        let enabled, disabled, pendingImport, pendingDeletion: Outcome
        var prepare: Prepare = { _, _ in [:] }
        let call: Call
    }

    static let disabled = Outcome.fails(.disabled, "is disabled.")
    static let pendingDeletion = Outcome.fails(.kmsInvalidState, "is pending deletion.")
    static let pendingImport = Outcome.fails(.kmsInvalidState, "is pending import.")
    static let notPendingDeletion = Outcome.fails(.kmsInvalidState, "is not pending deletion.")
    static let externalOrigin = Outcome.fails(.unsupportedOperation, "origin is EXTERNAL which is not valid for this operation.")
    static let asymmetricNoImport = Outcome.unchecked("N/A in the table: only symmetric keys are imported here")

    /// Cryptographic use: ✓, [1], [5], [2] or [3].
    static func crypto(_ op: String, _ kind: Kind = .symmetric, pendingImport: Outcome? = nil,
                       prepare: @escaping Prepare = { _, _ in [:] },
                       _ call: @escaping Call) -> Row {
        Row(operation: op, kind: kind, enabled: .ok, disabled: disabled,
            pendingImport: pendingImport ?? (kind == .symmetric ? Self.pendingImport : asymmetricNoImport),
            pendingDeletion: pendingDeletion, prepare: prepare, call: call)
    }

    /// Succeeds in every state.
    static func always(_ op: String, prepare: @escaping Prepare = { _, _ in [:] },
                       _ call: @escaping Call) -> Row {
        Row(operation: op, kind: .symmetric, enabled: .ok, disabled: .ok, pendingImport: .ok, pendingDeletion: .ok,
            prepare: prepare, call: call)
    }

    /// Management: ✓ in every state but PendingDeletion [3].
    static func manage(_ op: String, prepare: @escaping Prepare = { _, _ in [:] },
                       _ call: @escaping Call) -> Row {
        Row(operation: op, kind: .symmetric, enabled: .ok, disabled: .ok, pendingImport: .ok, pendingDeletion: pendingDeletion,
            prepare: prepare, call: call)
    }

    static func id(_ k: String) -> (String, JSONValue) { ("KeyId", .string(k)) }
    static let message = ("Message", JSONValue.string(Base64.encode(Array("state table".utf8))))

    static let rows: [Row] = [
        always("DescribeKey") { t, k, _ throws(KMSError) in try t.call("DescribeKey", [id(k)]) },
        always("GetKeyPolicy") { t, k, _ throws(KMSError) in try t.call("GetKeyPolicy", [id(k), ("PolicyName", .string("default"))]) },
        always("ListKeyPolicies") { t, k, _ throws(KMSError) in try t.call("ListKeyPolicies", [id(k)]) },
        always("PutKeyPolicy") { t, k, _ throws(KMSError) in
            try t.call("PutKeyPolicy", [id(k), ("PolicyName", .string("default")), ("Policy", .string(KeyPolicy.defaultPolicy(account: account)))])
        },
        always("ListResourceTags") { t, k, _ throws(KMSError) in try t.call("ListResourceTags", [id(k)]) },
        always("ListAliases") { t, k, _ throws(KMSError) in try t.call("ListAliases", [id(k)]) },
        always("ListGrants") { t, k, _ throws(KMSError) in try t.call("ListGrants", [id(k)]) },
        always("GetKeyLastUsage") { t, k, _ throws(KMSError) in try t.call("GetKeyLastUsage", [id(k)]) },
        always("DeleteAlias", prepare: { t, k in
            let name = "alias/state-\(k)"
            try t.call("CreateAlias", [("AliasName", .string(name)), ("TargetKeyId", .string(k))])
            return ["alias": .string(name)]
        }) { t, _, p throws(KMSError) in try t.call("DeleteAlias", [("AliasName", p["alias"] ?? .null)]) },
        Row(operation: "RetireGrant", kind: .symmetric, enabled: .ok, disabled: .ok,
            pendingImport: .unchecked("a grant is made on an enabled key (CreateGrant fails [5])"), pendingDeletion: .ok,
            prepare: { t, k in try t.grant(k) }) { t, k, p throws(KMSError) in
            try t.call("RetireGrant", [id(k), ("GrantId", p["grant"] ?? .null)])
        },
        Row(operation: "RevokeGrant", kind: .symmetric, enabled: .ok, disabled: .ok,
            pendingImport: .unchecked("a grant is made on an enabled key (CreateGrant fails [5])"), pendingDeletion: .ok,
            prepare: { t, k in try t.grant(k) }) { t, k, p throws(KMSError) in
            try t.call("RevokeGrant", [id(k), ("GrantId", p["grant"] ?? .null)])
        },

        manage("UpdateKeyDescription") { t, k, _ throws(KMSError) in try t.call("UpdateKeyDescription", [id(k), ("Description", .string("d"))]) },
        manage("TagResource") { t, k, _ throws(KMSError) in
            try t.call("TagResource", [id(k), ("Tags", .array([.object(JSONObject([("TagKey", .string("k")), ("TagValue", .string("v"))]))]))])
        },
        manage("UntagResource") { t, k, _ throws(KMSError) in try t.call("UntagResource", [id(k), ("TagKeys", .array([.string("k")]))]) },
        manage("CreateAlias") { t, k, _ throws(KMSError) in
            try t.call("CreateAlias", [("AliasName", .string("alias/create-\(k)")), ("TargetKeyId", .string(k))])
        },
        // [10]: judged by the key the alias moves to (the source may be pending deletion).
        manage("UpdateAlias", prepare: { t, _ in
            let other = try t.key(.symmetric)
            let name = "alias/update-\(other)"
            try t.call("CreateAlias", [("AliasName", .string(name)), ("TargetKeyId", .string(other))])
            return ["alias": .string(name)]
        }) { t, k, p throws(KMSError) in try t.call("UpdateAlias", [("AliasName", p["alias"] ?? .null), ("TargetKeyId", .string(k))]) },
        manage("ScheduleKeyDeletion") { t, k, _ throws(KMSError) in try t.call("ScheduleKeyDeletion", [id(k), ("PendingWindowInDays", JSONValue(7))]) },
        Row(operation: "CancelKeyDeletion", kind: .symmetric, enabled: notPendingDeletion, disabled: notPendingDeletion,
            pendingImport: notPendingDeletion, pendingDeletion: .ok) { t, k, _ throws(KMSError) in try t.call("CancelKeyDeletion", [id(k)]) },
        Row(operation: "EnableKey", kind: .symmetric, enabled: .ok, disabled: .ok, pendingImport: pendingImport,
            pendingDeletion: pendingDeletion) { t, k, _ throws(KMSError) in try t.call("EnableKey", [id(k)]) },
        Row(operation: "DisableKey", kind: .symmetric, enabled: .ok, disabled: .ok, pendingImport: pendingImport,
            pendingDeletion: pendingDeletion) { t, k, _ throws(KMSError) in try t.call("DisableKey", [id(k)]) },

        crypto("CreateGrant") { t, k, _ throws(KMSError) in
            try t.call("CreateGrant", [id(k), ("GranteePrincipal", .string(rootArn)), ("Operations", .array([.string("Decrypt")]))])
        },
        crypto("Encrypt") { t, k, _ throws(KMSError) in try t.call("Encrypt", [id(k), ("Plaintext", message.1)]) },
        crypto("GenerateDataKey") { t, k, _ throws(KMSError) in try t.call("GenerateDataKey", [id(k), ("KeySpec", .string("AES_256"))]) },
        crypto("GenerateDataKeyWithoutPlaintext") { t, k, _ throws(KMSError) in
            try t.call("GenerateDataKeyWithoutPlaintext", [id(k), ("NumberOfBytes", JSONValue(32))])
        },
        crypto("GenerateDataKeyPair") { t, k, _ throws(KMSError) in
            try t.call("GenerateDataKeyPair", [id(k), ("KeyPairSpec", .string("ECC_NIST_P256"))])
        },
        crypto("GenerateDataKeyPairWithoutPlaintext") { t, k, _ throws(KMSError) in
            try t.call("GenerateDataKeyPairWithoutPlaintext", [id(k), ("KeyPairSpec", .string("ECC_NIST_P256"))])
        },
        crypto("Decrypt", pendingImport: .unchecked("a ciphertext needs material; deleting imported material is the import work"),
               prepare: { t, k in try t.ciphertext(k) }) { t, _, p throws(KMSError) in
            try t.call("Decrypt", [("CiphertextBlob", p["blob"] ?? .null)])
        },
        crypto("ReEncrypt", pendingImport: .unchecked("a ciphertext needs material; deleting imported material is the import work"),
               prepare: { t, k in try t.ciphertext(k) }) { t, _, p throws(KMSError) in
            try t.call("ReEncrypt", [("CiphertextBlob", p["blob"] ?? .null), ("DestinationKeyId", p["destination"] ?? .null)])
        },
        crypto("Sign", .rsaSign) { t, k, _ throws(KMSError) in
            try t.call("Sign", [id(k), message, ("SigningAlgorithm", .string("RSASSA_PSS_SHA_256"))])
        },
        crypto("Verify", .rsaSign, prepare: { t, k in
            let out = try t.call("Sign", [id(k), message, ("SigningAlgorithm", .string("RSASSA_PSS_SHA_256"))])
            return ["signature": out["Signature"] ?? .null]
        }) { t, k, p throws(KMSError) in
            try t.call("Verify", [id(k), message, ("Signature", p["signature"] ?? .null), ("SigningAlgorithm", .string("RSASSA_PSS_SHA_256"))])
        },
        crypto("GetPublicKey", .rsaSign) { t, k, _ throws(KMSError) in try t.call("GetPublicKey", [id(k)]) },
        crypto("GenerateMac", .hmac) { t, k, _ throws(KMSError) in
            try t.call("GenerateMac", [id(k), message, ("MacAlgorithm", .string("HMAC_SHA_256"))])
        },
        crypto("VerifyMac", .hmac, prepare: { t, k in
            let out = try t.call("GenerateMac", [id(k), message, ("MacAlgorithm", .string("HMAC_SHA_256"))])
            return ["mac": out["Mac"] ?? .null]
        }) { t, k, p throws(KMSError) in
            try t.call("VerifyMac", [id(k), message, ("Mac", p["mac"] ?? .null), ("MacAlgorithm", .string("HMAC_SHA_256"))])
        },
        crypto("DeriveSharedSecret", .eccAgreement, prepare: { t, k in
            ["peer": try t.call("GetPublicKey", [id(k)])["PublicKey"] ?? .null]
        }) { t, k, p throws(KMSError) in
            try t.call("DeriveSharedSecret", [id(k), ("KeyAgreementAlgorithm", .string("ECDH")), ("PublicKey", p["peer"] ?? .null)])
        },

        // Rotation settings: ✓ (or [7]), [1], [6], [3].
        Row(operation: "EnableKeyRotation", kind: .symmetric, enabled: .ok, disabled: disabled, pendingImport: externalOrigin,
            pendingDeletion: pendingDeletion) { t, k, _ throws(KMSError) in try t.call("EnableKeyRotation", [id(k)]) },
        Row(operation: "DisableKeyRotation", kind: .symmetric, enabled: .ok, disabled: disabled, pendingImport: externalOrigin,
            pendingDeletion: pendingDeletion) { t, k, _ throws(KMSError) in try t.call("DisableKeyRotation", [id(k)]) },
        Row(operation: "RotateKeyOnDemand", kind: .symmetric, enabled: .ok, disabled: disabled,
            pendingImport: .unchecked("on-demand rotation of imported material (NEW_KEY_MATERIAL) is the import work"),
            pendingDeletion: pendingDeletion) { t, k, _ throws(KMSError) in try t.call("RotateKeyOnDemand", [id(k)]) },
        // [7]: ✓ for keys with AWS_KMS material in Enabled, Disabled and PendingDeletion. The
        // table's [6] for PendingImport predates rotation of imported material (2025): ambiguous, unchecked.
        Row(operation: "GetKeyRotationStatus", kind: .symmetric, enabled: .ok, disabled: .ok,
            pendingImport: .unchecked("ambiguous: [6] in the table, which predates rotating imported keys"),
            pendingDeletion: .ok) { t, k, _ throws(KMSError) in try t.call("GetKeyRotationStatus", [id(k)]) },
        Row(operation: "ListKeyRotations", kind: .symmetric, enabled: .ok, disabled: .ok,
            pendingImport: .unchecked("not in the table; imported-key rotations are the import work"),
            pendingDeletion: .ok) { t, k, _ throws(KMSError) in try t.call("ListKeyRotations", [id(k)]) },

        // Import: ✓ on PendingImport, [8] KMSInvalidStateException pending deletion; a key that
        // cannot have imported material answers [9] (importParametersNeedAnExternalKey below).
        Row(operation: "GetParametersForImport", kind: .external,
            enabled: .unchecked("needs imported material: ImportKeyMaterialTests"),
            disabled: .unchecked("needs imported material: ImportKeyMaterialTests"),
            pendingImport: .ok, pendingDeletion: pendingDeletion) { t, k, _ throws(KMSError) in
            try t.call("GetParametersForImport", [id(k), ("WrappingAlgorithm", .string("RSAES_OAEP_SHA_256")),
                                                 ("WrappingKeySpec", .string("RSA_2048"))])
        },

        // Multi-Region keys (issue 13), on a multi-Region primary. The table: ReplicateKey ✓ Enabled
        // and Disabled, [3] pending deletion; UpdatePrimaryRegion ✓ Enabled and Disabled. A primary
        // with replicas waits in PendingReplicaDeletion, not PendingDeletion (MultiRegionKeyTests).
        Row(operation: "ReplicateKey", kind: .multiRegion, enabled: .ok, disabled: .ok,
            pendingImport: .unchecked("imported multi-Region keys: MultiRegionKeyTests"),
            pendingDeletion: pendingDeletion) { t, k, _ throws(KMSError) in
            try t.call("ReplicateKey", [id(k), ("ReplicaRegion", .string("eu-west-1"))])
        },
        Row(operation: "UpdatePrimaryRegion", kind: .multiRegion, enabled: .ok, disabled: .ok,
            pendingImport: .unchecked("imported multi-Region keys: MultiRegionKeyTests"),
            pendingDeletion: .unchecked("a primary with a replica is PendingReplicaDeletion: MultiRegionKeyTests"),
            prepare: { t, k in
                t.service.multiRegion.setCompletionDelay(nil)
                try t.call("ReplicateKey", [id(k), ("ReplicaRegion", .string("eu-west-1"))])
                return [:]
            }) { t, k, _ throws(KMSError) in
            try t.call("UpdatePrimaryRegion", [id(k), ("PrimaryRegion", .string("eu-west-1"))])
        },
    ]

    /// Operations that take no existing key (the table omits them), and ImportKeyMaterial and
    /// DeleteImportedKeyMaterial, whose rows need wrapped material (ImportKeyMaterialTests and
    /// ImportedMaterialLifecycleTests cover their states).
    static let notInTable: Set<String> = ["CreateKey", "ListKeys", "GenerateRandom", "ListRetirableGrants", "ImportKeyMaterial",
                                          "DeleteImportedKeyMaterial",
                                          // Custom key stores take a store, not a key (issue 14).
                                          "CreateCustomKeyStore", "DescribeCustomKeyStores", "UpdateCustomKeyStore",
                                          "ConnectCustomKeyStore", "DisconnectCustomKeyStore", "DeleteCustomKeyStore"]

    // MARK: helpers

    func key(_ kind: Kind) throws -> String {
        let body: [(String, JSONValue)]
        switch kind {
        case .symmetric: body = []
        case .external: body = [("Origin", .string("EXTERNAL"))]
        case .rsaSign: body = [("KeySpec", .string("RSA_2048")), ("KeyUsage", .string("SIGN_VERIFY"))]
        case .hmac: body = [("KeySpec", .string("HMAC_256")), ("KeyUsage", .string("GENERATE_VERIFY_MAC"))]
        case .eccAgreement: body = [("KeySpec", .string("ECC_NIST_P256")), ("KeyUsage", .string("KEY_AGREEMENT"))]
        case .multiRegion: body = [("MultiRegion", .bool(true))]
        }
        return try #require(try call("CreateKey", body)["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue)
    }

    func grant(_ keyId: String) throws -> Prepared {
        let out = try call("CreateGrant", [Self.id(keyId), ("GranteePrincipal", .string(Self.rootArn)),
                                           ("RetiringPrincipal", .string(Self.rootArn)), ("Operations", .array([.string("Decrypt")]))])
        return ["grant": out["GrantId"] ?? .null]
    }

    func ciphertext(_ keyId: String) throws -> Prepared {
        let blob = try call("Encrypt", [Self.id(keyId), ("Plaintext", Self.message.1)])["CiphertextBlob"] ?? .null
        return ["blob": blob, "destination": .string(try key(.symmetric))]
    }

    enum State: String, CaseIterable { case enabled = "Enabled", disabled = "Disabled", pendingImport = "PendingImport", pendingDeletion = "PendingDeletion" }

    /// A fresh key of the row's kind in `state`, with the row's prepared values.
    func keyInState(_ state: State, for row: Row) throws -> (String, Prepared) {
        let kind: Kind = state == .pendingImport && row.kind == .symmetric ? .external : row.kind
        let k = try key(kind)
        let prepared = try row.prepare(self, k)
        switch state {
        case .enabled: break
        case .disabled: try call("DisableKey", [Self.id(k)])
        case .pendingImport: break
        case .pendingDeletion: try call("ScheduleKeyDeletion", [Self.id(k), ("PendingWindowInDays", JSONValue(7))])
        }
        let actual = try call("DescribeKey", [Self.id(k)])["KeyMetadata"]?.objectValue?["KeyState"]?.stringValue
        #expect(actual == state.rawValue, "\(row.operation): key not in \(state.rawValue)")
        return (k, prepared)
    }

    func outcome(_ row: Row, _ state: State) -> Outcome {
        switch state {
        case .enabled: row.enabled
        case .disabled: row.disabled
        case .pendingImport: row.pendingImport
        case .pendingDeletion: row.pendingDeletion
        }
    }

    // MARK: tests

    @Test(arguments: KeyStateTableTests.rows.map(\.operation))
    func operationFollowsTheKeyStateTable(_ operation: String) throws {
        let row = try #require(Self.rows.first { $0.operation == operation })
        for state in State.allCases {
            let expected = outcome(row, state)
            if case .unchecked = expected { continue }
            if state == .pendingImport, row.kind != .symmetric, row.kind != .external { continue }
            let (k, prepared) = try keyInState(state, for: row)
            let arn = ARN.key(k, region: root.region, account: root.account)
            do {
                try row.call(self, k, prepared)
                if case .fails(let code, _) = expected {
                    Issue.record("\(operation) on a \(state.rawValue) key succeeded; the table says \(code.rawValue)")
                }
            } catch {
                switch expected {
                case .ok:
                    Issue.record("\(operation) on a \(state.rawValue) key failed: \(error)")
                case .fails(let code, let suffix):
                    #expect(error.code == code, "\(operation) on a \(state.rawValue) key: \(error)")
                    if let suffix { #expect(error.message == "\(arn) \(suffix)", "\(operation) on a \(state.rawValue) key") }
                case .unchecked: break
                }
            }
        }
    }

    /// Every operation that uses an existing key has a row (a new operation must add one).
    @Test func everyKeyOperationHasARow() {
        let covered = Set(Self.rows.map(\.operation)).union(Self.notInTable)
        let missing = Set(KMSService.operations.keys).subtracting(covered).sorted()
        #expect(missing.isEmpty, "operations without a key state row: \(missing)")
        #expect(Set(Self.rows.map(\.operation)).count == Self.rows.count, "a row is listed twice")
    }

    /// [10]: UpdateAlias judges the key the alias moves to; the key it leaves may be pending deletion.
    @Test func updateAliasMayLeaveAKeyPendingDeletion() throws {
        let source = try key(.symmetric), target = try key(.symmetric)
        try call("CreateAlias", [("AliasName", .string("alias/leaving")), ("TargetKeyId", .string(source))])
        try call("ScheduleKeyDeletion", [Self.id(source), ("PendingWindowInDays", JSONValue(7))])
        try call("UpdateAlias", [("AliasName", .string("alias/leaving")), ("TargetKeyId", .string(target))])
        #expect(try call("DescribeKey", [Self.id("alias/leaving")])["KeyMetadata"]?.objectValue?["KeyId"]?.stringValue == target)
    }

    /// [9]: a key that cannot have imported material answers UnsupportedOperationException.
    @Test func importParametersNeedAnExternalKey() throws {
        let k = try key(.symmetric)
        do {
            try call("GetParametersForImport", [Self.id(k), ("WrappingAlgorithm", .string("RSAES_OAEP_SHA_256")),
                                                ("WrappingKeySpec", .string("RSA_2048"))])
            Issue.record("GetParametersForImport accepted an AWS_KMS key")
        } catch {
            #expect(error.code == .unsupportedOperation)
        }
    }

    /// A refused call leaves the key as it was: a disabled key refused a grant has no grant,
    /// a key pending deletion refused a tag keeps its tags.
    @Test func refusedCallsChangeNothing() throws {
        let disabled = try key(.symmetric)
        try call("DisableKey", [Self.id(disabled)])
        #expect(throws: KMSError.self) {
            try call("CreateGrant", [Self.id(disabled), ("GranteePrincipal", .string(Self.rootArn)), ("Operations", .array([.string("Decrypt")]))])
        }
        #expect(try call("ListGrants", [Self.id(disabled)])["Grants"]?.arrayValue?.isEmpty == true)
        let pending = try key(.symmetric)
        try call("TagResource", [Self.id(pending), ("Tags", .array([.object(JSONObject([("TagKey", .string("k")), ("TagValue", .string("v"))]))]))])
        try call("ScheduleKeyDeletion", [Self.id(pending), ("PendingWindowInDays", JSONValue(7))])
        #expect(throws: KMSError.self) { try call("UntagResource", [Self.id(pending), ("TagKeys", .array([.string("k")]))]) }
        #expect(try call("ListResourceTags", [Self.id(pending)])["Tags"]?.arrayValue?.count == 1)
    }
}
