import IAMPolicy

/// Which condition keys each operation supplies, as the KMS Developer Guide binds them
/// ("AWS KMS permissions" and "AWS KMS condition keys"), and their values for one request.
/// Keys are lowercased; a name ending in ':' or '/' is a family (kms:EncryptionContext:<key>,
/// aws:ResourceTag/<key>). A key an operation does not supply is absent, as in AWS, so
/// `...IfExists` and Null behave as documented.
public enum KMSConditionKeys {
    /// Global keys every request carries.
    static let global: [String] = [
        "aws:sourceip", "aws:securetransport", "aws:currenttime", "aws:epochtime", "aws:requestedregion",
    ]

    /// "Conditions for KMS key operations": every operation whose resource is a KMS key.
    static let keyResource: [String] = [
        "kms:calleraccount", "kms:keyspec", "kms:keyusage", "kms:keyorigin", "kms:multiregion",
        "kms:resourcealiases", "aws:resourcetag/", "kms:multiregionkeytype",
        // "AWS KMS key resource operations": present only when a trusted service forwarded the call.
        "kms:viaservice",
    ]

    static let encryptionContext: [String] = ["kms:encryptioncontext:", "kms:encryptioncontextkeys"]

    /// Operation-specific keys, beyond `keyResource` (for key resources) and `global`.
    public static let byOperation: [String: [String]] = [
        "CreateKey": ["kms:bypasspolicylockoutsafetycheck", "kms:keyspec", "kms:keyusage", "kms:keyorigin",
                      "kms:multiregion", "aws:requesttag/", "aws:tagkeys"],
        "PutKeyPolicy": ["kms:bypasspolicylockoutsafetycheck"],
        "ScheduleKeyDeletion": ["kms:schedulekeydeletionpendingwindowindays"],
        "TagResource": ["aws:requesttag/", "aws:tagkeys"],
        "UntagResource": ["aws:tagkeys"],
        "DescribeKey": ["kms:requestalias"],
        "GetPublicKey": ["kms:requestalias"],
        "Encrypt": ["kms:encryptionalgorithm", "kms:requestalias"] + encryptionContext,
        "Decrypt": ["kms:encryptionalgorithm", "kms:requestalias"] + encryptionContext,
        "ReEncrypt": ["kms:encryptionalgorithm", "kms:reencryptonsamekey", "kms:requestalias"] + encryptionContext,
        "GenerateDataKey": ["kms:encryptionalgorithm", "kms:requestalias"] + encryptionContext,
        "GenerateDataKeyWithoutPlaintext": ["kms:encryptionalgorithm", "kms:requestalias"] + encryptionContext,
        "GenerateDataKeyPair": ["kms:datakeypairspec", "kms:encryptionalgorithm", "kms:requestalias"] + encryptionContext,
        "GenerateDataKeyPairWithoutPlaintext": ["kms:datakeypairspec", "kms:encryptionalgorithm", "kms:requestalias"] + encryptionContext,
        "Sign": ["kms:signingalgorithm", "kms:messagetype", "kms:requestalias"],
        "Verify": ["kms:signingalgorithm", "kms:messagetype", "kms:requestalias"],
        "GenerateMac": ["kms:macalgorithm", "kms:requestalias"],
        "VerifyMac": ["kms:macalgorithm", "kms:requestalias"],
        "DeriveSharedSecret": ["kms:keyagreementalgorithm", "kms:requestalias"],
        // The grant operations read their own request members; they pass them through
        // RequestContext.setConditionValues.
        "CreateGrant": ["kms:grantoperations", "kms:granteeprincipal", "kms:retiringprincipal",
                        "kms:grantconstrainttype", "kms:grantisforawsresource"] + encryptionContext,
        "ListGrants": ["kms:granteeprincipal", "kms:grantisforawsresource"],
        "RevokeGrant": ["kms:grantisforawsresource"],
        // Import: supplied by the operations (ImportKeyMaterial.swift).
        "GetParametersForImport": ["kms:wrappingalgorithm", "kms:wrappingkeyspec"],
        "ImportKeyMaterial": ["kms:expirationmodel", "kms:validto"],
        // Multi-Region keys (issue 13): the Region the request names.
        "ReplicateKey": ["kms:replicaregion", "kms:bypasspolicylockoutsafetycheck", "aws:requesttag/", "aws:tagkeys"],
        "UpdatePrimaryRegion": ["kms:primaryregion"],
    ]

    /// Each operation of `byOperation` numbered (sorted by name), for the per-key bit sets of
    /// `PlannedConditionKey`; at most 64.
    static let operationIndex: [String: Int] = {
        let names = byOperation.keys.sorted()
        precondition(names.count <= 64, "PlannedConditionKey.operations holds 64 operations")
        return Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
    }()

    /// Is `key` (lowercased) bound to this operation on this kind of resource?
    static func binds(_ key: String, operation: String, onKey: Bool) -> Bool {
        func matches(_ list: [String]) -> Bool {
            for name in list {
                if name.hasSuffix(":") || name.hasSuffix("/") {
                    if key.count > name.count, key.hasPrefix(name) { return true }
                } else if key == name { return true }
            }
            return false
        }
        if matches(global) { return true }
        if onKey, matches(keyResource) { return true }
        return byOperation[operation].map(matches) ?? false
    }

    /// The values of the keys the policies read, for `action` on `resource`. Empty (and
    /// allocation-free) when no policy has a condition. The key policy's plan (which keys,
    /// parsed, and where each is bound) comes precompiled from `KeyPolicyCache`.
    /// With `timeAsNumber`, aws:CurrentTime and aws:EpochTime are left out: the caller sets
    /// `AuthorizationContext.requestTime` instead. Only the keys of statements that admit
    /// `action` are computed (`ConditionPlan.keys(for:)`).
    static func values(resourcePolicy: CompiledPolicy?, plan: ConditionPlan? = nil, caller: Caller,
                       context: RequestContext, action: String, resource: AuthorizationResource,
                       service: KMSService, timeAsNumber: Bool = false,
                       identityPolicies: [CompiledPolicy]? = nil) throws(KMSError) -> [String: [String]] {
        var out: [String: [String]] = [:]
        var key: KMSKey? = nil
        if case .key(let k) = resource { key = k }
        func add(_ plan: ConditionPlan) throws(KMSError) {
            let keys = plan.keys(for: action)
            out.reserveCapacity(out.count + keys.count)
            for planned in keys where planned.binds(operation: context.operation, onKey: key != nil) && out[planned.name] == nil {
                if timeAsNumber, planned.kind == .currentTime || planned.kind == .epochTime { continue }
                if let v = try value(planned.kind, context: context, action: action, key: key, service: service) { out[planned.name] = v }
            }
        }
        if let resourcePolicy, !resourcePolicy.conditionKeys.isEmpty { try add(plan ?? ConditionPlan(resourcePolicy, perAction: false)) }
        // `identityPolicies`: a cluster node's fresh re-read replaces the caller's (DenyReadThrough).
        for p in identityPolicies ?? caller.identityPolicies where !p.conditionKeys.isEmpty { try add(service.keyPolicies.identityPlans.plan(for: p)) }
        for p in caller.sessionPolicies ?? [] where !p.conditionKeys.isEmpty { try add(service.keyPolicies.identityPlans.plan(for: p)) }
        return out
    }

    /// `values` in the request path's form: a list the evaluator searches in order (building
    /// it hashes nothing; a lookup is usually one pointer comparison, the names being the
    /// compiled policies' own strings). The request time is left out: the caller sets
    /// `AuthorizationContext.requestTime`, compared as a number.
    static func valueList(resourcePolicy: CompiledPolicy?, plan: ConditionPlan?, caller: Caller,
                          context: RequestContext, action: String, resource: AuthorizationResource,
                          service: KMSService, identityPolicies: [CompiledPolicy]? = nil) throws(KMSError) -> [ConditionEntry] {
        var out: [ConditionEntry] = []
        // A `let`, not a `var` the closure would box: each read of a boxed key copied the
        // whole KMSKey (a retain per field), once per condition key.
        let key: KMSKey?
        if case .key(let k) = resource { key = k } else { key = nil }
        let onKey = key != nil
        let operationIndex = KMSConditionKeys.operationIndex[context.operation]
        func add(_ plan: ConditionPlan) throws(KMSError) {
            let keys = plan.keys(for: action)
            if out.isEmpty { out.reserveCapacity(keys.count) }
            // A plan's names are unique: only entries from earlier plans can repeat one.
            let earlier = out.count
            try keys.withUnsafeBufferPointer { (planned: UnsafeBufferPointer<PlannedConditionKey>) throws(KMSError) in
                for i in 0..<planned.count where planned[i].binds(operationIndex: operationIndex, onKey: onKey) {
                    let kind = planned[i].kind
                    if kind == .currentTime || kind == .epochTime { continue }
                    if earlier > 0, out[0..<earlier].contains(where: { $0.key == planned[i].name }) { continue }
                    if let v = try value(kind, context: context, action: action, key: key, service: service) {
                        out.append(ConditionEntry(key: planned[i].name, values: v))
                    }
                }
            }
        }
        if let resourcePolicy, !resourcePolicy.conditionKeys.isEmpty { try add(plan ?? ConditionPlan(resourcePolicy, perAction: false)) }
        // `identityPolicies`: a cluster node's fresh re-read replaces the caller's (DenyReadThrough).
        for p in identityPolicies ?? caller.identityPolicies where !p.conditionKeys.isEmpty { try add(service.keyPolicies.identityPlans.plan(for: p)) }
        for p in caller.sessionPolicies ?? [] where !p.conditionKeys.isEmpty { try add(service.keyPolicies.identityPlans.plan(for: p)) }
        return out
    }

    /// One key's values by name; nil when the request does not carry it.
    static func value(_ name: String, context c: RequestContext, action: String, key: KMSKey?,
                      service: KMSService) throws(KMSError) -> [String]? {
        try value(ConditionKeyKind(name), context: c, action: action, key: key, service: service)
    }

    static func value(_ kind: ConditionKeyKind, context c: RequestContext, action: String, key: KMSKey?,
                      service: KMSService) throws(KMSError) -> [String]? {
        let r = c.request
        let isCreate = c.operation == "CreateKey"
        switch kind {
        case .other(let name):
            return multiRegionValue(name, request: r, key: key) ?? viaServiceValue(name, context: c) ?? c.extraCondition(name)
        case .sourceIp: return c.caller.sourceIP.isEmpty ? nil : [c.caller.sourceIP]
        case .secureTransport: return c.caller.secureTransport ? Self.trueList : Self.falseList
        case .currentTime: return [ISO8601Time.format(c.time)]
        case .epochTime: return [String(Int64(c.time))]
        case .requestedRegion: return [c.caller.region]
        case .callerAccount: return [c.caller.account]
        case .keySpec:
            if let key { return [key.keySpec.rawValue] }
            return isCreate ? [r.string("KeySpec") ?? r.string("CustomerMasterKeySpec") ?? KeySpec.symmetricDefault.rawValue] : nil
        case .keyUsage:
            if let key { return [key.keyUsage.rawValue] }
            return isCreate ? [r.string("KeyUsage") ?? KeyUsage.encryptDecrypt.rawValue] : nil
        case .keyOrigin:
            if let key { return [key.origin] }
            return isCreate ? [r.string("Origin") ?? "AWS_KMS"] : nil
        case .multiRegion:
            if let key { return key.isMultiRegion ? Self.trueList : Self.falseList }
            return isCreate ? [(r.bool("MultiRegion") ?? false) ? "true" : "false"] : nil
        case .resourceAliases:
            guard let key else { return nil }
            // A store that cannot answer fails the request: a Deny on aliases must not be skipped.
            let names = try service.registry.aliases(account: key.account, region: key.region)
                .filter { $0.targetKeyId == key.keyId }.map(\.aliasName).sorted()
            return names.isEmpty ? nil : names
        case .encryptionContextKeys:
            let ec = c.encryptionContext(for: action)
            return ec.isEmpty ? nil : ec.keys.sorted()
        case .encryptionAlgorithm:
            switch action {
            case "kms:ReEncryptFrom": return [r.string("SourceEncryptionAlgorithm") ?? EncryptionAlgorithm.symmetricDefault.rawValue]
            case "kms:ReEncryptTo": return [r.string("DestinationEncryptionAlgorithm") ?? EncryptionAlgorithm.symmetricDefault.rawValue]
            default: return r.string("EncryptionAlgorithm").map { [$0] } ?? Self.symmetricDefaultList
            }
        case .signingAlgorithm: return r.string("SigningAlgorithm").map { [$0] }
        case .messageType: return r.string("MessageType").map { [$0] } ?? Self.rawList
        case .macAlgorithm: return r.string("MacAlgorithm").map { [$0] }
        case .keyAgreementAlgorithm: return r.string("KeyAgreementAlgorithm").map { [$0] }
        case .dataKeyPairSpec: return r.string("KeyPairSpec").map { [$0] }
        case .bypassLockoutCheck: return [(r.bool("BypassPolicyLockoutSafetyCheck") ?? false) ? "true" : "false"]
        case .pendingWindow: return [String(r.int("PendingWindowInDays") ?? 30)]
        case .requestAlias:
            let member: String
            switch action {
            case "kms:ReEncryptFrom": member = "SourceKeyId"
            case "kms:ReEncryptTo": member = "DestinationKeyId"
            default: member = "KeyId"
            }
            guard let id = r.string(member) else { return nil }
            if id.hasPrefix("alias/") { return [id] }
            if id.hasPrefix("arn:"), let arn = ARN.parse(id), arn.resource.hasPrefix("alias/") { return [arn.resource] }
            return nil
        case .reEncryptOnSameKey:
            // Whether ReEncrypt's source and destination keys are the same key.
            guard let key else { return nil }
            let source = action == "kms:ReEncryptFrom" ? key.arn : (c.sourceKeyArn ?? sourceKeyArn(c, service: service))
            let destination = action == "kms:ReEncryptTo" ? key.arn
                : r.string("DestinationKeyId").flatMap { try? service.resolveKey($0, caller: c.caller, allowAlias: true).arn }
            guard let source, let destination else { return nil }
            return [source == destination ? "true" : "false"]
        case .tagKeys:
            if c.operation == "UntagResource" { return r.stringList("TagKeys") }
            let keys = requestTags(r).map(\.key)
            return keys.isEmpty ? nil : keys
        case .encryptionContext(let wanted):
            // Condition key names are case-insensitive; the context's values are not.
            for (k, v) in c.encryptionContext(for: action) where lowercasedEquals(k, wanted) { return [v] }
            return nil
        case .resourceTag(let wanted):
            guard let key else { return nil }
            return key.tags.first { lowercasedEquals($0.key, wanted) }.map { [$0.value] }
        case .requestTag(let wanted):
            return requestTags(r).first { $0.key.lowercased() == wanted }.map { [$0.value] }
        }
    }

    /// `text.lowercased() == lowercased` without building the lowercased copy when `text` is
    /// ASCII (encryption context keys and tag keys, compared once per request).
    static func lowercasedEquals(_ text: String, _ lowercased: String) -> Bool {
        var ascii = true
        let equal: Bool? = text.utf8.withContiguousStorageIfAvailable { a in
            lowercased.utf8.withContiguousStorageIfAvailable { b -> Bool in
                for byte in a where byte >= 0x80 { ascii = false; return false }
                guard a.count == b.count else { return false }
                for i in 0..<a.count {
                    let x = a[i] >= 0x41 && a[i] <= 0x5A ? a[i] | 0x20 : a[i]
                    if x != b[i] { return false }
                }
                return true
            } ?? nil
        } ?? nil
        if ascii, let equal { return equal }
        return text.lowercased() == lowercased
    }

    // Constant values, allocated once rather than per request.
    static let trueList = ["true"]
    static let falseList = ["false"]
    static let symmetricDefaultList = [EncryptionAlgorithm.symmetricDefault.rawValue]
    static let rawList = ["RAW"]

    static func requestTags(_ r: KMSRequest) -> [(key: String, value: String)] {
        guard let list = r.object["Tags"]?.arrayValue else { return [] }
        return list.compactMap { t in
            guard let o = t.objectValue, let k = o["TagKey"]?.stringValue, let v = o["TagValue"]?.stringValue else { return nil }
            return (k, v)
        }
    }

    /// ReEncrypt's source key, from SourceKeyId or the ciphertext's header, before the
    /// source has been opened.
    static func sourceKeyArn(_ c: RequestContext, service: KMSService) -> String? {
        if let id = c.request.string("SourceKeyId"),
           let key = try? service.resolveKey(id, caller: c.caller, allowAlias: true) { return key.arn }
        guard let blob = c.request.blob("CiphertextBlob"), let parsed = CiphertextBlob.parse(blob) else { return nil }
        return ARN.key(parsed.keyId, region: c.caller.region, account: parsed.account)
    }
}

extension KMSConditionKeys {
    /// kms:MultiRegionKeyType (the key's PRIMARY or REPLICA; absent on a regional key),
    /// kms:ReplicaRegion (ReplicateKey's ReplicaRegion), kms:PrimaryRegion (UpdatePrimaryRegion's PrimaryRegion).
    static func multiRegionValue(_ name: String, request r: KMSRequest, key: KMSKey?) -> [String]? {
        switch name {
        case "kms:multiregionkeytype": return key?.multiRegion.map { [$0.keyType.rawValue] }
        case "kms:replicaregion": return r.string("ReplicaRegion").map { [$0] }
        case "kms:primaryregion": return r.string("PrimaryRegion").map { [$0] }
        default: return nil
        }
    }
}

extension KMSConditionKeys {
    /// kms:ViaService: "NAME.REGION.amazonaws.com" when a trusted service forwarded the
    /// request (Caller.viaService); absent on a direct call, so StringEquals fails and
    /// ...IfExists / Null see no key, as in AWS.
    static func viaServiceValue(_ name: String, context c: RequestContext) -> [String]? {
        guard name == "kms:viaservice", let via = c.caller.viaService else { return nil }
        return [via]
    }
}
