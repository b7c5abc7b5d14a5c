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
                      "BypassPolicyLockoutSafetyCheck", "Tags", "Policy", "CustomKeyStoreId", "XksKeyId"],
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
        // Grants: never GrantToken or GrantTokens (a token is a bearer credential for its grant).
        "CreateGrant": ["KeyId", "GranteePrincipal", "RetiringPrincipal", "Operations", "Constraints", "Name"],
        "ListGrants": ["KeyId", "GrantId", "GranteePrincipal", "Limit"],
        "ListRetirableGrants": ["RetiringPrincipal", "Limit"],
        "RetireGrant": ["KeyId", "GrantId"],
        "RevokeGrant": ["KeyId", "GrantId"],
        "GetKeyLastUsage": ["KeyId"],
        // Rotation and import (KMS Developer Guide, ct-enablekeyrotation, ct-importkeymaterial,
        // ct-getparametersforimport): never ImportToken, EncryptedKeyMaterial or PublicKey.
        "EnableKeyRotation": ["KeyId", "RotationPeriodInDays"],
        "DisableKeyRotation": ["KeyId"],
        "GetKeyRotationStatus": ["KeyId"],
        "RotateKeyOnDemand": ["KeyId"],
        "ListKeyRotations": ["KeyId", "Limit"],
        "GetParametersForImport": ["KeyId", "WrappingAlgorithm", "WrappingKeySpec"],
        "ImportKeyMaterial": ["KeyId", "ValidTo", "ExpirationModel", "ImportType", "KeyMaterialDescription", "KeyMaterialId"],
        "DeleteImportedKeyMaterial": ["KeyId", "KeyMaterialId"],
        // Multi-Region keys (ct-replicate-key, ct-update-primary-region).
        "ReplicateKey": ["KeyId", "ReplicaRegion", "BypassPolicyLockoutSafetyCheck", "Description", "Tags", "Policy"],
        "UpdatePrimaryRegion": ["KeyId", "PrimaryRegion"],
        // Custom key stores (issue 14): never KeyStorePassword or XksProxyAuthenticationCredential
        // (the proxy's secret access key); CloudTrail logs neither.
        "CreateCustomKeyStore": ["CustomKeyStoreName", "CustomKeyStoreType", "CloudHsmClusterId", "TrustAnchorCertificate",
                                 "XksProxyUriEndpoint", "XksProxyUriPath", "XksProxyConnectivity",
                                 "XksProxyVpcEndpointServiceName", "XksProxyVpcEndpointServiceOwner"],
        "DescribeCustomKeyStores": ["CustomKeyStoreId", "CustomKeyStoreName", "Limit"],
        "UpdateCustomKeyStore": ["CustomKeyStoreId", "NewCustomKeyStoreName", "CloudHsmClusterId", "XksProxyUriEndpoint",
                                 "XksProxyUriPath", "XksProxyConnectivity", "XksProxyVpcEndpointServiceName",
                                 "XksProxyVpcEndpointServiceOwner"],
        "ConnectCustomKeyStore": ["CustomKeyStoreId"],
        "DisconnectCustomKeyStore": ["CustomKeyStoreId"],
        "DeleteCustomKeyStore": ["CustomKeyStoreId"],
    ]

    /// responseElements: null for reads and cryptographic operations, as in AWS's trail.
    static let response: [String: [String]] = [
        "CreateKey": ["KeyMetadata"],
        "ScheduleKeyDeletion": ["KeyId", "DeletionDate", "KeyState", "PendingWindowInDays"],
        "CancelKeyDeletion": ["KeyId"],
        // CloudTrail logs the new grant's ID, never its token.
        "CreateGrant": ["GrantId"],
        "RotateKeyOnDemand": ["KeyId"],
        "ImportKeyMaterial": ["KeyId", "KeyMaterialId"],
        "DeleteImportedKeyMaterial": ["KeyId", "KeyMaterialId"],
        "ReplicateKey": ["ReplicaKeyMetadata", "ReplicaPolicy", "ReplicaTags"],
        "CreateCustomKeyStore": ["CustomKeyStoreId"],
    ]

    /// "CloudTrail log entries for this operation recorded on or after December 2022 include
    /// the key ARN of the affected KMS key in the responseElements.keyId value, even though
    /// this operation does not return the key ARN" (KMS Developer Guide, per operation).
    static let responseKeyArn: Set<String> = [
        "EnableKey", "DisableKey", "UpdateKeyDescription", "PutKeyPolicy", "TagResource", "UntagResource",
        "EnableKeyRotation", "DisableKeyRotation", "ImportKeyMaterial",
    ]

    /// Members whose values name keys, for `resources`.
    static let keyMembers = ["KeyId", "TargetKeyId", "SourceKeyId", "DestinationKeyId"]

    /// What an event needs to know of its operation, found with one dictionary lookup per
    /// event (each lookup hashes the name; the five separate ones were a tenth of the
    /// cost of building an event).
    /// A class: handing one out of `profiles` is one retain, not one per array it holds.
    final class Profile: Sendable {
        let readOnly: Bool
        /// The allow-lists of request and response members (nil: none is logged).
        let request: [String]?
        let response: [String]?
        /// responseElements.keyId carries the key's ARN (`responseKeyArn`).
        let responseKeyArn: Bool
        /// A successful call counts as its keys' last use (GetKeyLastUsage).
        let tracksKeyUsage: Bool
        /// `request` with each member's `"camelName":` written out once.
        let requestMembers: [Member]?

        init(_ operation: String) {
            readOnly = AuditFields.isReadOnly(operation)
            let request = AuditFields.request[operation]
            self.request = request
            requestMembers = request.map { $0.map(Member.init) }
            response = AuditFields.response[operation]
            responseKeyArn = AuditFields.responseKeyArn.contains(operation)
            tracksKeyUsage = KeyUsageTracker.operations.contains(operation)
        }
    }

    /// An allow-listed member: its name in the request and its key as the event writes it.
    struct Member: Sendable {
        let name: String
        let key: [UInt8]

        init(_ name: String) {
            self.name = name
            var key: [UInt8] = []
            AuditFields.writeCamel(name, into: &key)
            key.append(UInt8(ascii: ":"))
            self.key = key
        }
    }

    /// Precomputed for every operation the allow-lists or the service name.
    static let profiles: [String: Profile] = {
        var table: [String: Profile] = [:]
        for name in Set(request.keys).union(response.keys).union(readOnlyTable.keys) { table[name] = Profile(name) }
        return table
    }()

    static func profile(_ operation: String) -> Profile {
        profiles[operation] ?? Profile(operation)
    }

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

    /// The allowed request members present, as `write(_:allowed:into:)` writes them, with
    /// their keys precomputed and string values copied whole.
    static func writeRequestParameters(_ profile: Profile, _ request: JSONObject?, into out: inout [UInt8]) {
        guard let request, let members = profile.requestMembers else { AuditBytes.append("null", to: &out); return }
        var first = true
        for member in members {
            guard let value = request[member.name] else { continue }
            out.append(UInt8(ascii: first ? "{" : ","))
            first = false
            out.append(contentsOf: member.key)
            if case .string(let text) = value {
                AuditBytes.string(text, to: &out)
            } else {
                JSONWriter.write(value, into: &out)
            }
        }
        if first { AuditBytes.append("null", to: &out) } else { out.append(UInt8(ascii: "}")) }
    }

    /// responseElements of a successful call: the allowed members, with `keyId` set to the
    /// key's ARN for the operations AWS logs it for (their answers do not carry it).
    static func writeResponseElements(_ profile: Profile, _ response: JSONObject?, keyArn: String?,
                                      into out: inout [UInt8]) {
        guard let response, let keyArn, profile.responseKeyArn, response["KeyId"] == nil else {
            write(response, allowed: profile.response, into: &out)
            return
        }
        var withKey = response
        withKey["KeyId"] = .string(keyArn)
        write(withKey, allowed: profile.response ?? ["KeyId"], into: &out)
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

    static func writeCamel(_ name: String, into out: inout [UInt8]) {
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
    static func resources(request: JSONObject?, response: JSONObject?, region: String, account: String) -> AuditResources {
        var arns = AuditResources()
        if let response {
            // One pass over the answer's members (names are unique in a JSONObject), added
            // in the order KeyMetadata.Arn, SourceKeyId, KeyId.
            var metadataArn: String?, sourceKeyId: String?, keyId: String?
            for entry in response.entries {
                switch entry.key {
                case "KeyId": keyId = entry.value.stringValue
                case "SourceKeyId": sourceKeyId = entry.value.stringValue
                case "KeyMetadata": metadataArn = entry.value.objectValue?["Arn"]?.stringValue
                default: break
                }
            }
            if let metadataArn { arns.add(metadataArn) }
            if let sourceKeyId, startsWith(sourceKeyId, "arn:") { arns.add(sourceKeyId) }
            if let keyId, startsWith(keyId, "arn:") { arns.add(keyId) }
            if !arns.isEmpty { return arns }
        }
        guard let request else { return arns }
        for member in keyMembers {
            guard let id = request[member]?.stringValue, !id.isEmpty else { continue }
            if startsWith(id, "arn:") {
                if id.contains(":key/") { arns.add(id) }
            } else if !startsWith(id, "alias/"), id.utf8.count <= 64 {
                arns.add(ARN.key(id, region: region, account: account))
            }
        }
        return arns
    }

    /// `text` begins with the ASCII `prefix`, by bytes (String.hasPrefix compares
    /// grapheme by grapheme, a measurable part of building each event).
    static func startsWith(_ text: String, _ prefix: StaticString) -> Bool {
        let p = UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
        return text.utf8.count >= p.count && text.utf8.prefix(p.count).elementsEqual(p)
    }
}

/// The key ARNs of an event, in order and without repeats: most events name one, held
/// without an array (an array was an allocation per event).
struct AuditResources {
    private(set) var first: String?
    private(set) var others: [String] = []

    var isEmpty: Bool { first == nil }

    mutating func add(_ arn: String) {
        guard let first else { self.first = arn; return }
        if first != arn, !others.contains(arn) { others.append(arn) }
    }

    func forEach(_ body: (String) -> Void) {
        guard let first else { return }
        body(first)
        for arn in others { body(arn) }
    }

    var array: [String] {
        guard let first else { return [] }
        return [first] + others
    }
}
