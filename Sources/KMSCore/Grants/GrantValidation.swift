/// CreateGrant's rules beyond the model: principal syntax, the operations a key of each
/// usage supports in a grant, and where an encryption-context constraint is allowed
/// (KMS API reference, CreateGrant and GrantConstraints).
enum GrantValidation {
    /// The grant operations a key supports, by key type: a grant may only allow what the
    /// key can do (no Sign on a symmetric key, no GenerateDataKey on an asymmetric one).
    static func supportedOperations(for key: KMSKey) -> Set<String> {
        var ops: Set<String> = ["DescribeKey", "CreateGrant", "RetireGrant"]
        switch key.keyUsage {
        case .encryptDecrypt where !key.keySpec.isAsymmetric:
            ops.formUnion(["Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GenerateDataKey",
                           "GenerateDataKeyWithoutPlaintext", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"])
        case .encryptDecrypt:
            ops.formUnion(["Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"])
        case .signVerify:
            ops.formUnion(["Sign", "Verify", "GetPublicKey"])
        case .generateVerifyMac:
            ops.formUnion(["GenerateMac", "VerifyMac"])
        case .keyAgreement:
            ops.formUnion(["DeriveSharedSecret", "GetPublicKey"])
        }
        return ops
    }

    /// Operations an encryption-context constraint may accompany: those that take an
    /// encryption context (on a symmetric encryption key), plus DescribeKey and
    /// RetireGrant, to which the constraint does not apply.
    static let constrainable: Set<String> = [
        "Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "CreateGrant", "DescribeKey", "RetireGrant",
    ]

    /// AWS: each constraint holds at most 8 pairs, and each value at most 384 characters.
    static let maxConstraintPairs = 8
    static let maxConstraintValueLength = 384

    static func checkOperations(_ operations: [String], constraints: KMSGrant.Constraints?, key: KMSKey) throws(KMSError) {
        guard !operations.isEmpty else {
            throw KMSError(.validation, "1 validation error detected: Value '[]' at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1")
        }
        if Set(operations) == ["CreateGrant"] {
            throw KMSError(.validation, "Grants must not contain only the CreateGrant operation.")
        }
        let supported = supportedOperations(for: key)
        let unsupported = operations.filter { !supported.contains($0) }
        if !unsupported.isEmpty {
            throw KMSError(.validation, "Grant operations must be compatible with key usage: \(unsupported.joined(separator: ", ")) "
                + "cannot be granted on a KMS key with KeyUsage \(key.keyUsage.rawValue) and KeySpec \(key.keySpec.rawValue).")
        }
        guard constraints != nil else { return }
        let symmetricEncryption = key.keyUsage == .encryptDecrypt && !key.keySpec.isAsymmetric
        let unconstrainable = operations.filter { !constrainable.contains($0) }
        if !symmetricEncryption || !unconstrainable.isEmpty {
            throw KMSError(.validation, "Grant constraints are supported only for operations that take an encryption context; "
                + "they cannot be used on a KMS key with KeySpec \(key.keySpec.rawValue)"
                + (unconstrainable.isEmpty ? "." : " or with \(unconstrainable.joined(separator: ", "))."))
        }
    }

    /// The request's Constraints member: at most one of the two kinds, within AWS's sizes.
    static func constraints(_ request: KMSRequest) throws(KMSError) -> KMSGrant.Constraints? {
        guard let object = request.object["Constraints"]?.objectValue else { return nil }
        func map(_ name: String) -> [String: String]? {
            guard let o = object[name]?.objectValue else { return nil }
            var m: [String: String] = [:]
            for e in o.entries { if let s = e.value.stringValue { m[e.key] = s } }
            return m
        }
        let equals = map("EncryptionContextEquals"), subset = map("EncryptionContextSubset")
        if equals == nil && subset == nil { return nil }
        if equals != nil && subset != nil {
            throw KMSError(.validation, "Specify either EncryptionContextEquals or EncryptionContextSubset in the grant constraints, not both.")
        }
        for (label, m) in [("encryptionContextEquals", equals), ("encryptionContextSubset", subset)] {
            guard let m else { continue }
            if m.count > maxConstraintPairs {
                throw KMSError(.validation, "1 validation error detected: Value at 'constraints.\(label)' failed to satisfy constraint: Member must have at most \(maxConstraintPairs) entries")
            }
            if m.values.contains(where: { $0.count > maxConstraintValueLength }) {
                throw KMSError(.validation, "1 validation error detected: Value at 'constraints.\(label)' failed to satisfy constraint: Map value must have length less than or equal to \(maxConstraintValueLength)")
            }
        }
        return KMSGrant.Constraints(encryptionContextEquals: equals, encryptionContextSubset: subset)
    }

    /// A grantee or retiring principal: the ARN of an account (root), IAM user or role,
    /// assumed-role session or federated user, or a service principal ("x.amazonaws.com").
    static func checkPrincipal(_ principal: String, member: String) throws(KMSError) {
        if principal.hasPrefix("arn:") {
            guard principalAccount(principal) != nil else {
                throw KMSError(.invalidArn, "\(member) \(principal) is not a valid principal ARN.")
            }
            return
        }
        if isServicePrincipal(principal) { return }
        throw KMSError(.validation, "\(member) \(principal) is not a valid principal: specify the ARN of an AWS principal.")
    }

    /// The account of a principal ARN; nil when the text is not a principal ARN.
    static func principalAccount(_ arn: String) -> String? {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[1].hasPrefix("aws"), parts[3].isEmpty,
              parts[4].count == 12, parts[4].allSatisfy(\.isASCIIDigit) else { return nil }
        let resource = parts[5]
        func named(_ prefix: String, segments: Int) -> Bool {
            guard resource.hasPrefix(prefix) else { return false }
            let rest = resource.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
            return rest.count >= segments && rest.allSatisfy { !$0.isEmpty }
        }
        let ok: Bool
        switch parts[2] {
        case "iam": ok = resource == "root" || named("user/", segments: 1) || named("role/", segments: 1)
        case "sts": ok = named("assumed-role/", segments: 2) || named("federated-user/", segments: 1)
        default: ok = false
        }
        return ok ? String(parts[4]) : nil
    }

    static func isServicePrincipal(_ p: String) -> Bool {
        (p.hasSuffix(".amazonaws.com") || p.hasSuffix(".amazonaws.com.cn")) && p.count <= 256
            && p.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E || $0 == 0x2D }
    }
}
