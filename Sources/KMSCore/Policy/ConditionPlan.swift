import IAMPolicy

/// A condition key name parsed once: which request fact it reads.
enum ConditionKeyKind: Sendable, Equatable {
    case sourceIp, secureTransport, currentTime, epochTime, requestedRegion
    case callerAccount, keySpec, keyUsage, keyOrigin, multiRegion, resourceAliases
    case encryptionContextKeys, encryptionAlgorithm, signingAlgorithm, messageType, macAlgorithm
    case keyAgreementAlgorithm, dataKeyPairSpec, bypassLockoutCheck, pendingWindow, requestAlias
    case reEncryptOnSameKey, tagKeys
    /// The part after the prefix, lowercased.
    case encryptionContext(String), resourceTag(String), requestTag(String)
    /// A key only an operation itself supplies (RequestContext.setConditionValues), or none.
    case other(String)

    static let simple: [String: ConditionKeyKind] = [
        "aws:sourceip": .sourceIp, "aws:securetransport": .secureTransport, "aws:currenttime": .currentTime,
        "aws:epochtime": .epochTime, "aws:requestedregion": .requestedRegion, "kms:calleraccount": .callerAccount,
        "kms:keyspec": .keySpec, "kms:keyusage": .keyUsage, "kms:keyorigin": .keyOrigin, "kms:multiregion": .multiRegion,
        "kms:resourcealiases": .resourceAliases, "kms:encryptioncontextkeys": .encryptionContextKeys,
        "kms:encryptionalgorithm": .encryptionAlgorithm, "kms:signingalgorithm": .signingAlgorithm,
        "kms:messagetype": .messageType, "kms:macalgorithm": .macAlgorithm,
        "kms:keyagreementalgorithm": .keyAgreementAlgorithm, "kms:datakeypairspec": .dataKeyPairSpec,
        "kms:bypasspolicylockoutsafetycheck": .bypassLockoutCheck,
        "kms:schedulekeydeletionpendingwindowindays": .pendingWindow, "kms:requestalias": .requestAlias,
        "kms:reencryptonsamekey": .reEncryptOnSameKey, "aws:tagkeys": .tagKeys,
    ]

    /// `name` is lowercased (as `CompiledPolicy.conditionKeys` holds it).
    init(_ name: String) {
        if let k = Self.simple[name] { self = k; return }
        for (prefix, make) in [("kms:encryptioncontext:", ConditionKeyKind.encryptionContext),
                               ("aws:resourcetag/", ConditionKeyKind.resourceTag),
                               ("aws:requesttag/", ConditionKeyKind.requestTag)]
        where name.count > prefix.count && name.hasPrefix(prefix) {
            self = make(String(name.dropFirst(prefix.count)))
            return
        }
        self = .other(name)
    }
}

/// One condition key a policy reads, with where it is bound, worked out once.
struct PlannedConditionKey: Sendable {
    let name: String
    let kind: ConditionKeyKind
    let global: Bool
    let onKeyResources: Bool
    /// The operations binding it, one bit per `KMSConditionKeys.operationIndex` entry: a
    /// request tests a bit instead of hashing its operation name once per key.
    let operations: UInt64

    init(_ name: String) {
        self.name = name
        kind = ConditionKeyKind(name)
        global = KMSConditionKeys.binds(name, operation: "", onKey: false)
        onKeyResources = KMSConditionKeys.binds(name, operation: "", onKey: true)
        var bits: UInt64 = 0
        for (operation, index) in KMSConditionKeys.operationIndex
        where KMSConditionKeys.binds(name, operation: operation, onKey: false) { bits |= 1 << UInt64(index) }
        operations = bits
    }

    /// `operationIndex`: `KMSConditionKeys.operationIndex[operation]`, or nil for an operation
    /// that binds no keys of its own.
    func binds(operationIndex: Int?, onKey: Bool) -> Bool {
        if global || (onKey && onKeyResources) { return true }
        guard let operationIndex else { return false }
        return operations & (1 << UInt64(operationIndex)) != 0
    }

    func binds(operation: String, onKey: Bool) -> Bool {
        binds(operationIndex: KMSConditionKeys.operationIndex[operation], onKey: onKey)
    }
}

/// A policy's condition keys, parsed and bound once; `KeyPolicyCache` keeps the key
/// policy's plan with its compiled form, so a request does no string matching to find them.
struct ConditionPlan: Sendable {
    let keys: [PlannedConditionKey]
    /// For each action the dispatch table declares, the keys of only the statements whose
    /// Action admits it: the others' conditions are never reached for that action, so their
    /// values are not computed (empty when not built: `keys(for:)` then answers `keys`).
    let byAction: [String: [PlannedConditionKey]]

    init(_ policy: CompiledPolicy, perAction: Bool = true) {
        keys = policy.conditionKeys.sorted().map(PlannedConditionKey.init)
        var byAction: [String: [PlannedConditionKey]] = [:]
        if perAction, !keys.isEmpty {
            for action in Self.actions {
                let reached = policy.conditionKeys(forAction: action)
                byAction[action] = keys.filter { reached.contains($0.name) }
            }
        }
        self.byAction = byAction
    }

    /// The keys an evaluation of `action` can read.
    func keys(for action: String) -> [PlannedConditionKey] { byAction[action] ?? keys }

    /// Every action an operation is authorized as (declared or conditional).
    static let actions: Set<String> = Set(OperationActions.table.values.joined())
        .union(OperationActions.conditional.values.joined())
}
