import KMSCore

/// Which request and response members an audit event names, per operation, as AWS logs
/// them for KMS (member names in lowerCamelCase). An allow-list: a member not listed here
/// never reaches the trail, so a new secret-bearing member cannot leak by default.
enum AuditFields {
    static let request: [String: [String]] = [
        "Encrypt": ["KeyId", "EncryptionAlgorithm", "EncryptionContext"],
        "Decrypt": ["KeyId", "EncryptionAlgorithm", "EncryptionContext"],
        "ReEncrypt": ["SourceKeyId", "DestinationKeyId", "SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm",
                      "SourceEncryptionContext", "DestinationEncryptionContext"],
        "GenerateDataKey": ["KeyId", "KeySpec", "NumberOfBytes", "EncryptionContext"],
        "GenerateDataKeyWithoutPlaintext": ["KeyId", "KeySpec", "NumberOfBytes", "EncryptionContext"],
        "GenerateDataKeyPair": ["KeyId", "KeyPairSpec", "EncryptionContext"],
        "GenerateDataKeyPairWithoutPlaintext": ["KeyId", "KeyPairSpec", "EncryptionContext"],
        "GenerateRandom": ["NumberOfBytes", "CustomKeyStoreId"],
        "Sign": ["KeyId", "SigningAlgorithm", "MessageType"],
        "Verify": ["KeyId", "SigningAlgorithm", "MessageType"],
        "GetPublicKey": ["KeyId"],
        "GenerateMac": ["KeyId", "MacAlgorithm"],
        "VerifyMac": ["KeyId", "MacAlgorithm"],
        "DeriveSharedSecret": ["KeyId", "KeyAgreementAlgorithm"],
        "CreateKey": ["Description", "KeyUsage", "KeySpec", "CustomerMasterKeySpec", "Origin", "MultiRegion",
                      "BypassPolicyLockoutSafetyCheck", "Tags", "Policy"],
        "DescribeKey": ["KeyId"],
        "ListKeys": ["Limit"],
        "EnableKey": ["KeyId"],
        "DisableKey": ["KeyId"],
        "UpdateKeyDescription": ["KeyId", "Description"],
        "ScheduleKeyDeletion": ["KeyId", "PendingWindowInDays"],
        "CancelKeyDeletion": ["KeyId"],
        "CreateAlias": ["AliasName", "TargetKeyId"],
        "UpdateAlias": ["AliasName", "TargetKeyId"],
        "DeleteAlias": ["AliasName"],
        "ListAliases": ["KeyId", "Limit"],
        "TagResource": ["KeyId", "Tags"],
        "UntagResource": ["KeyId", "TagKeys"],
        "ListResourceTags": ["KeyId", "Limit"],
        "GetKeyPolicy": ["KeyId", "PolicyName"],
        "PutKeyPolicy": ["KeyId", "PolicyName", "Policy", "BypassPolicyLockoutSafetyCheck"],
        "ListKeyPolicies": ["KeyId", "Limit"],
        "LookupEvents": ["LookupAttributes", "StartTime", "EndTime", "MaxResults"],
    ]

    /// responseElements: null for reads and cryptographic operations, as in AWS's trail.
    static let response: [String: [String]] = [
        "CreateKey": ["KeyMetadata"],
        "ScheduleKeyDeletion": ["KeyId", "DeletionDate", "KeyState", "PendingWindowInDays"],
        "CancelKeyDeletion": ["KeyId"],
    ]

    /// Members whose values name keys, for `resources`.
    static let keyMembers = ["KeyId", "TargetKeyId", "SourceKeyId", "DestinationKeyId"]

    /// CloudTrail's readOnly: true unless the operation changes state.
    static func isReadOnly(_ operation: String) -> Bool {
        readOnlyTable[operation] ?? computeReadOnly(operation)
    }

    /// Precomputed for the served operations: the hot path pays one lookup.
    static let readOnlyTable: [String: Bool] = {
        var table: [String: Bool] = ["LookupEvents": true]
        for name in KMSService.operations.keys { table[name] = computeReadOnly(name) }
        return table
    }()

    static func computeReadOnly(_ operation: String) -> Bool {
        for prefix in ["Create", "Enable", "Disable", "Update", "Schedule", "Cancel", "Delete", "Tag", "Untag", "Put",
                       "Replicate", "Import", "Retire", "Revoke", "Rotate", "Connect", "Disconnect",
                       // IAM's writes (issue 9)
                       "Add", "Attach", "Detach", "Remove", "Set"]
        where operation.hasPrefix(prefix) {
            return false
        }
        return true
    }

    static func writeRequestParameters(_ operation: String, _ request: JSONObject?, into out: inout [UInt8]) {
        write(request, allowed: request.flatMap { _ in Self.request[operation] }, into: &out)
    }

    static func writeResponseElements(_ operation: String, _ response: JSONObject?, into out: inout [UInt8]) {
        write(response, allowed: response.flatMap { _ in Self.response[operation] }, into: &out)
    }

    /// The allowed members present, renamed to lowerCamelCase; `null` when none is.
    private static func write(_ object: JSONObject?, allowed: [String]?, into out: inout [UInt8]) {
        guard let object, let allowed else { out.append(contentsOf: "null".utf8); return }
        var first = true
        for name in allowed {
            guard let value = object[name] else { continue }
            out.append(UInt8(ascii: first ? "{" : ","))
            first = false
            writeCamel(name, into: &out)
            out.append(UInt8(ascii: ":"))
            JSONWriter.write(value, into: &out)
        }
        out.append(contentsOf: (first ? "null" : "}").utf8)
    }

    private static func writeCamel(_ name: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var firstByte = true
        for b in name.utf8 {
            out.append(firstByte && b >= 0x41 && b <= 0x5A ? b + 0x20 : b)
            firstByte = false
        }
        out.append(UInt8(ascii: "\""))
    }

    /// The key ARNs a call touched: the ARNs the answer names when it succeeded, otherwise
    /// the key IDs and key ARNs of the request (aliases are not resolved for failed calls).
    static func resources(request: JSONObject?, response: JSONObject?, region: String, account: String) -> [String] {
        var arns: [String] = []
        func add(_ arn: String) { if !arns.contains(arn) { arns.append(arn) } }
        if let response {
            if let arn = response["KeyMetadata"]?.objectValue?["Arn"]?.stringValue { add(arn) }
            for member in ["SourceKeyId", "KeyId"] {
                if let id = response[member]?.stringValue, id.hasPrefix("arn:") { add(id) }
            }
            if !arns.isEmpty { return arns }
        }
        guard let request else { return arns }
        for member in keyMembers {
            guard let id = request[member]?.stringValue, !id.isEmpty else { continue }
            if id.hasPrefix("arn:") {
                if id.contains(":key/") { add(id) }
            } else if !id.hasPrefix("alias/"), id.utf8.count <= 64 {
                add(ARN.key(id, region: region, account: account))
            }
        }
        return arns
    }
}
