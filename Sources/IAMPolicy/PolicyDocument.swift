/// Which kind of policy a document is: resource-based policies (key policies, trust
/// policies) must name a Principal; identity-based and session policies must not.
public enum PolicyKind: Sendable, Equatable { case resourceBased, identityBased }

public enum PolicyEffect: String, Sendable, Equatable { case allow = "Allow", deny = "Deny" }

/// One statement in evaluable form: actions pre-lowercased, wildcard patterns pre-split,
/// CIDRs, dates and numbers parsed.
public final class CompiledStatement: Sendable {
    public let sid: String?
    /// Position in the document's Statement list, for MatchedStatements.
    public let index: Int
    public let effect: PolicyEffect
    let principals: [PrincipalEntry]?
    let principalsNegated: Bool
    let actions: [Wildcard]
    let actionsNegated: Bool
    let resources: [ARNPattern]
    let resourcesNegated: Bool
    let conditions: [CompiledCondition]

    init(sid: String?, index: Int, effect: PolicyEffect, principals: [PrincipalEntry]?, principalsNegated: Bool,
         actions: [Wildcard], actionsNegated: Bool, resources: [ARNPattern], resourcesNegated: Bool,
         conditions: [CompiledCondition]) {
        self.sid = sid
        self.index = index
        self.effect = effect
        self.principals = principals
        self.principalsNegated = principalsNegated
        self.actions = actions
        self.actionsNegated = actionsNegated
        self.resources = resources
        self.resourcesNegated = resourcesNegated
        self.conditions = conditions
    }

    /// Does the statement apply to the action, resource and conditions (the principal is
    /// weighed separately, since how it matches decides whether identity policies must agree)?
    /// The element lists are walked through buffer pointers: their elements are then used in
    /// place, not copied out (a copy costs a reference count per pattern per decision).
    func appliesIgnoringPrincipal(_ c: AuthorizationContext) -> Bool {
        guard admits(actionLowercased: c.actionLowercased) else { return false }
        let resourceHit = resources.withUnsafeBufferPointer { r -> Bool in
            for i in 0..<r.count where r[i].matches(c.resource, c) { return true }
            return false
        }
        guard resourceHit != resourcesNegated else { return false }
        return conditions.withUnsafeBufferPointer { conds -> Bool in
            for i in 0..<conds.count where !conds[i].evaluate(c) { return false }
            return true
        }
    }

    /// Whether the Action or NotAction element admits the action (lowercased).
    func admits(actionLowercased action: String) -> Bool {
        var text = action
        let actionHit = text.withUTF8 { t in
            actions.withUnsafeBufferPointer { a -> Bool in
                for i in 0..<a.count where a[i].matches(buffer: t) { return true }
                return false
            }
        }
        return actionHit != actionsNegated
    }

    func principalMatch(_ caller: RequestPrincipal) -> PrincipalMatch {
        guard let principals else { return .exact }  // identity policy: it is the caller's own
        if principalsNegated {
            return PrincipalCompiler.excludes(principals, caller) ? .none : .broad
        }
        return PrincipalCompiler.match(principals, caller)
    }
}

/// A policy document parsed and compiled once, when it is stored or loaded; evaluation
/// never re-reads the JSON.
public struct CompiledPolicy: Sendable {
    public let kind: PolicyKind
    public let version: String
    public let id: String?
    /// A name for reports (an IAM policy name or ARN, "key policy"); not part of the document.
    public let name: String
    public let statements: [CompiledStatement]
    /// Every condition key the document reads (lowercased), in conditions or as a policy
    /// variable. The request path builds values only for these.
    public let conditionKeys: Set<String>

    public init(_ text: String, kind: PolicyKind, name: String = "", limits: PolicyLimits? = nil) throws(PolicyError) {
        let limits = limits ?? (kind == .resourceBased ? .keyPolicy : .identityPolicy)
        guard text.utf8.count <= limits.maxDocumentBytes else {
            throw PolicyError("The policy document exceeds the maximum size of \(limits.maxDocumentBytes) bytes.", kind: .tooLarge)
        }
        let doc: PolicyJSON
        do { doc = try PolicyJSON.parse(text) } catch { throw PolicyError("Syntax errors in policy.") }
        guard let members = doc.objectEntries else { throw PolicyError("The policy document must be a JSON object.") }
        self.kind = kind
        self.name = name
        var version = "2008-10-17"  // AWS's default when Version is omitted: no policy variables
        var id: String? = nil
        var statementJSON: PolicyJSON? = nil
        // Duplicates first: which member's value is judged must not decide the verdict
        // (a JSON rewrite keeps only the last of a repeated name).
        var seen = Set<String>()
        for (k, _) in members where !seen.insert(k).inserted {
            throw PolicyError("The policy document contains a duplicate element: \(k)")
        }
        for (k, v) in members {
            switch k {
            case "Version":
                guard let s = v.stringValue, s == "2012-10-17" || s == "2008-10-17" else {
                    throw PolicyError("The policy document contains an invalid Version.")
                }
                version = s
            case "Id":
                guard let s = v.stringValue else { throw PolicyError("The policy document contains an invalid Id.") }
                id = s
            case "Statement": statementJSON = v
            default: throw PolicyError("The policy document contains an unknown element: \(k)")
            }
        }
        self.version = version
        self.id = id
        let list: [PolicyJSON]
        switch statementJSON {
        case .object?: list = [statementJSON!]
        case .array(let a)? where !a.isEmpty: list = a
        default: throw PolicyError("The policy document must contain at least one Statement.")
        }
        guard list.count <= limits.maxStatements else {
            throw PolicyError("The policy document contains more than \(limits.maxStatements) statements.", kind: .tooLarge)
        }
        var statements: [CompiledStatement] = []
        var sids = Set<String>()
        for (i, s) in list.enumerated() {
            let st = try StatementCompiler.compile(s, index: i, kind: kind, variables: version == "2012-10-17", limits: limits)
            if let sid = st.sid, !sid.isEmpty {
                guard sids.insert(sid).inserted else { throw PolicyError("Statement IDs (SID) in a single policy must be unique.") }
            }
            statements.append(st)
        }
        self.statements = statements
        self.conditionKeys = ConditionKeyReferences.collect(statements)
    }

    /// The condition keys read by the statements whose Action or NotAction admits `action`
    /// (a subset of `conditionKeys`): the only statements whose conditions an evaluation
    /// of that action reaches. For building per-action value plans once, not per request.
    public func conditionKeys(forAction action: String) -> Set<String> {
        let a = action.lowercased()
        return ConditionKeyReferences.collect(statements.filter { $0.admits(actionLowercased: a) })
    }
}

enum StatementCompiler {
    static func compile(_ json: PolicyJSON, index: Int, kind: PolicyKind, variables: Bool, limits: PolicyLimits) throws(PolicyError) -> CompiledStatement {
        guard let members = json.objectEntries else { throw PolicyError("Each policy statement must be a JSON object.") }
        var byName: [String: PolicyJSON] = [:]
        for (k, v) in members {
            guard ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"].contains(k) else {
                throw PolicyError("Policy contains a statement with an unknown element: \(k)")
            }
            guard byName.updateValue(v, forKey: k) == nil else { throw PolicyError("Policy contains a statement with a duplicate element: \(k)") }
        }
        var sid: String? = nil
        if let s = byName["Sid"] {
            // Key policies use Sids with spaces ("Enable IAM User Permissions"): any string.
            guard let str = s.stringValue else { throw PolicyError("Statement IDs (SID) must be strings.") }
            sid = str
        }
        guard let e = byName["Effect"]?.stringValue, let effect = PolicyEffect(rawValue: e) else {
            throw PolicyError("Policy contains a statement with an invalid or missing Effect.")
        }

        // Principal
        var principals: [PrincipalEntry]? = nil
        var principalsNegated = false
        if byName["Principal"] != nil && byName["NotPrincipal"] != nil {
            throw PolicyError("Policy contains a statement with both Principal and NotPrincipal.")
        }
        if let p = byName["Principal"] ?? byName["NotPrincipal"] {
            guard kind == .resourceBased else { throw PolicyError("Policy document should not specify a principal.") }
            principals = try PrincipalCompiler.compile(p, limits: limits)
            // Allow with NotPrincipal is legal (AWS only discourages it): it allows everyone else.
            principalsNegated = byName["NotPrincipal"] != nil
        } else if kind == .resourceBased {
            throw PolicyError("Policy contains a statement with no principal.")
        }

        // Action
        if byName["Action"] != nil && byName["NotAction"] != nil {
            throw PolicyError("Policy contains a statement with both Action and NotAction.")
        }
        guard let a = byName["Action"] ?? byName["NotAction"] else { throw PolicyError("Policy contains a statement with no Action.") }
        let actionStrings = try strings(a, element: "Action", limits: limits)
        var actions: [Wildcard] = []
        for s in actionStrings {
            guard s == "*" || isVendorAction(s) else {
                throw PolicyError("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
            }
            actions.append(Wildcard(s, wildcards: true, lowercase: true))
        }

        // Resource
        if byName["Resource"] != nil && byName["NotResource"] != nil {
            throw PolicyError("Policy contains a statement with both Resource and NotResource.")
        }
        guard let r = byName["Resource"] ?? byName["NotResource"] else { throw PolicyError("Policy contains a statement with no Resource.") }
        var resources: [ARNPattern] = []
        for s in try strings(r, element: "Resource", limits: limits) {
            guard s == "*" || s.hasPrefix("arn:") else {
                throw PolicyError("Resource \(s) must be in ARN format or \"*\".")
            }
            resources.append(ARNPattern(try PolicyTemplate(s, wildcards: true, lowercase: false, variables: variables)))
        }

        // Condition
        var conditions: [CompiledCondition] = []
        if let c = byName["Condition"] {
            guard let ops = c.objectEntries else { throw PolicyError("Syntax errors in policy: the Condition element must be an object.") }
            for (opName, block) in ops {
                guard let (op, qualifier, ifExists) = CompiledCondition.parseOperatorName(opName) else {
                    throw PolicyError("Invalid Condition type : \(opName)")
                }
                guard let keys = block.objectEntries, !keys.isEmpty else {
                    throw PolicyError("Syntax errors in policy: the \(opName) condition must map keys to values.")
                }
                for (key, raw) in keys {
                    guard !key.isEmpty, key.contains(":") else {
                        throw PolicyError("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
                    }
                    var values: [ConditionValue] = []
                    for text in try conditionStrings(raw, key: key, limits: limits) {
                        values.append(try CompiledCondition.compileValue(text, op: op, variables: variables && op.allowsVariables, key: key))
                    }
                    conditions.append(CompiledCondition(op: op, qualifier: qualifier, ifExists: ifExists, key: key.lowercased(), values: values))
                }
            }
        }

        return CompiledStatement(sid: sid, index: index, effect: effect, principals: principals,
                                 principalsNegated: principalsNegated, actions: actions,
                                 actionsNegated: byName["NotAction"] != nil, resources: resources,
                                 resourcesNegated: byName["NotResource"] != nil, conditions: conditions)
    }

    /// "kms:Decrypt", "kms:Get*", "iam:*": a vendor prefix of letters, digits and '-'.
    static func isVendorAction(_ s: String) -> Bool {
        guard let colon = s.firstIndex(of: ":") else { return false }
        let vendor = s[..<colon], name = s[s.index(after: colon)...]
        return !vendor.isEmpty && vendor.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            && !name.isEmpty && !name.contains(":")
    }

    static func strings(_ v: PolicyJSON, element: String, limits: PolicyLimits) throws(PolicyError) -> [String] {
        switch v {
        case .string(let s): return [s]
        case .array(let a) where !a.isEmpty && a.count <= limits.maxValuesPerElement:
            var out: [String] = []
            for item in a {
                guard case .string(let s) = item else { throw PolicyError("Policy contains a statement with an invalid \(element).") }
                out.append(s)
            }
            return out
        default: throw PolicyError("Policy contains a statement with an invalid \(element).")
        }
    }

    /// Condition values may be strings, numbers or booleans, alone or in a list.
    static func conditionStrings(_ v: PolicyJSON, key: String, limits: PolicyLimits) throws(PolicyError) -> [String] {
        func scalar(_ x: PolicyJSON) throws(PolicyError) -> String {
            switch x {
            case .string(let s): return s
            case .number(let n): return n
            case .bool(let b): return b ? "true" : "false"
            default: throw PolicyError("Invalid Condition value for key \(key).")
            }
        }
        if case .array(let a) = v {
            guard !a.isEmpty, a.count <= limits.maxValuesPerElement else { throw PolicyError("Invalid Condition value for key \(key).") }
            var out: [String] = []
            for item in a { out.append(try scalar(item)) }
            return out
        }
        return [try scalar(v)]
    }
}
