import AWSQuery
import IAMPolicy
import KMSCore

/// One policy taking part in a simulation, with what MatchedStatements reports about it.
struct SimulatedPolicy: Sendable {
    let policy: CompiledPolicy
    let text: String
    /// SourcePolicyId: an inline policy's name, a managed policy's ARN, "PolicyInputList.N",
    /// "ResourcePolicy" for the ResourcePolicy parameter, the key ARN for a key's own policy.
    let id: String
    /// SourcePolicyType: user | group | role | aws-managed | user-managed | resource | none.
    let type: String
}

/// IAM's policy simulator on the KMS endpoint: SimulatePrincipalPolicy and
/// SimulateCustomPolicy evaluate with the same PolicyEvaluator that authorizes requests, so
/// an operator can ask why a call is (or would be) denied and get the deciding statement.
/// For a KMS key ARN the key's own policy (unless ResourcePolicy is given) and its grants
/// take part, as they do when the key is used.
enum IAMSimulation {
    static func register(into t: inout [String: IAMService.Entry]) {
        t["SimulatePrincipalPolicy"] = .init(resource: { _, p, _ in IAMService.str(p, "PolicySourceArn") }) { s, p, c throws(QueryError) in
            let a = s.registry.account(c.account)
            let (principal, policies) = try sourcePolicies(IAMService.str(p, "PolicySourceArn"), account: c.account, in: a)
            return try simulate(s, p, c, sourcePrincipal: principal, policies: policies + inputPolicies(p))
        }
        t["SimulateCustomPolicy"] = .init(resource: IAMService.anyResource) { s, p, c throws(QueryError) in
            try simulate(s, p, c, sourcePrincipal: nil, policies: inputPolicies(p))
        }
    }

    static func invalid(_ message: String) -> QueryError { IAMService.invalid(message) }

    static func malformed(_ error: PolicyError) -> QueryError {
        QueryError("MalformedPolicyDocument", IAMQuotas.iamWording(error.message), model: .iam)
    }

    /// PolicyInputList: identity-based policies, reported as PolicyInputList.1, .2, ...
    static func inputPolicies(_ p: JSONObject) throws(QueryError) -> [SimulatedPolicy] {
        var out: [SimulatedPolicy] = []
        for (i, v) in (p["PolicyInputList"]?.arrayValue ?? []).enumerated() {
            let text = v.stringValue ?? ""
            do {
                let compiled = try CompiledPolicy(text, kind: .identityBased, name: "PolicyInputList.\(i + 1)",
                                                  limits: IAMQuotas.parseLimits)
                out.append(SimulatedPolicy(policy: compiled, text: text, id: "PolicyInputList.\(i + 1)", type: "none"))
            } catch {
                throw malformed(error)
            }
        }
        return out
    }

    /// The policies of a user (with its groups'), group or role named by PolicySourceArn, and
    /// the principal it stands for (none for a group).
    static func sourcePolicies(_ arn: String, account: String, in a: AccountIdentities) throws(QueryError)
        -> (RequestPrincipal?, [SimulatedPolicy]) {
        let fields = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard fields.count == 6, fields[0] == "arn", fields[2] == "iam",
              let slash = fields[5].firstIndex(of: "/"), let name = fields[5].split(separator: "/").last.map(String.init)
        else { throw invalid("Invalid ARN: \(arn)") }
        let type = String(fields[5][..<slash])
        let notFound = IAMService.noSuch("The \(type) with name \(name) cannot be found.")
        // Another account's identities are not visible from this one.
        guard String(fields[4]) == account else { throw notFound }
        switch type {
        case "user":
            guard let user = a.users[name] else { throw notFound }
            var out = try compile(inline: user.inlinePolicies, type: "user", attached: user.attachedPolicies, in: a)
            for g in user.groups {
                guard let group = a.groups[g] else { continue }
                out += try compile(inline: group.inlinePolicies, type: "group", attached: group.attachedPolicies, in: a)
            }
            return (principal(of: user, account: account), out)
        case "group":
            guard let group = a.groups[name] else { throw notFound }
            return (nil, try compile(inline: group.inlinePolicies, type: "group", attached: group.attachedPolicies, in: a))
        case "role":
            guard let role = a.roles[name] else { throw notFound }
            var tags: [String: String] = [:]
            for t in role.tags { tags[t.key] = t.value }
            let principal = RequestPrincipal.assumedRole(roleArn: role.arn, session: "simulation", roleId: role.roleId, tags: tags)
            return (principal, try compile(inline: role.inlinePolicies, type: "role", attached: role.attachedPolicies, in: a))
        default:
            throw invalid("Invalid ARN: \(arn)")
        }
    }

    static func principal(of user: IAMUser, account: String) -> RequestPrincipal {
        var tags: [String: String] = [:]
        for t in user.tags { tags[t.key] = t.value }
        return RequestPrincipal(arn: user.arn, account: account, kind: .user, userId: user.userId, username: user.name, tags: tags)
    }

    static func compile(inline: [String: String], type: String, attached: [String], in a: AccountIdentities) throws(QueryError)
        -> [SimulatedPolicy] {
        var out: [SimulatedPolicy] = []
        do {
            for name in inline.keys.sorted() {
                guard let text = inline[name] else { continue }
                let compiled = try CompiledPolicy(text, kind: .identityBased, name: name, limits: IAMQuotas.parseLimits)
                out.append(SimulatedPolicy(policy: compiled, text: text, id: name, type: type))
            }
            for arn in attached {
                guard let p = a.policy(arn: arn), let text = p.defaultDocument else { continue }
                let compiled = try CompiledPolicy(text, kind: .identityBased, name: arn, limits: IAMQuotas.parseLimits)
                out.append(SimulatedPolicy(policy: compiled, text: text, id: arn,
                                           type: arn.contains(":aws:policy/") ? "aws-managed" : "user-managed"))
            }
        } catch {
            throw malformed(error)
        }
        return out
    }

    /// The account a resource belongs to: its ARN's, else ResourceOwner (an account ID or
    /// its root ARN), else the caller's.
    static func owner(of resource: String, _ p: JSONObject, default account: String) -> String {
        let fields = resource.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        if fields.count == 6, !fields[4].isEmpty { return String(fields[4]) }
        if let o = p["ResourceOwner"]?.stringValue {
            let f = o.split(separator: ":", omittingEmptySubsequences: false)
            return f.count >= 5 ? String(f[4]) : o
        }
        return account
    }

    /// The resource side of one resource: the ResourcePolicy parameter, else a KMS key's own
    /// policy; `nil` policy with `synthetic` for a resource without one, where the account's
    /// identity policies decide (the evaluator's delegation to the account root).
    struct ResourceSide {
        var policy: SimulatedPolicy?
        var compiled: CompiledPolicy?
        var synthetic: Bool
        var grants: [GrantRule]
    }

    static func resourceSide(_ s: IAMService, resource: String, owner: String, given: SimulatedPolicy?) throws(QueryError) -> ResourceSide {
        var side = ResourceSide(policy: given, compiled: given?.policy, synthetic: false, grants: [])
        let fields = resource.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        if fields.count == 6, fields[2] == "kms", fields[5].hasPrefix("key/"), let kms = s.kms {
            let key: KMSKey?
            do {
                key = try kms.registry.key(account: String(fields[4]), region: String(fields[3]), keyId: String(fields[5].dropFirst(4)))
                if let key { side.grants = try kms.grants.grantRules(forKeyArn: key.arn, grantTokens: []) }
            } catch {
                throw QueryError.internalFailure
            }
            if let key, given == nil {
                side.compiled = kms.keyPolicies.compiled(for: key)
                side.policy = side.compiled.map { SimulatedPolicy(policy: $0, text: key.policy, id: key.arn, type: "resource") }
                // A stored policy that does not compile allows nothing (as when the key is used).
                return side
            }
        }
        if given == nil {
            let delegate = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::"#
                + owner + #":root"},"Action":"*","Resource":"*"}]}"#
            side.compiled = try? CompiledPolicy(delegate, kind: .resourceBased, name: "account")
            side.synthetic = true
        }
        return side
    }

    static func simulate(_ s: IAMService, _ p: JSONObject, _ c: Caller, sourcePrincipal: RequestPrincipal?,
                         policies: [SimulatedPolicy]) throws(QueryError) -> JSONObject {
        let actions = (p["ActionNames"]?.arrayValue ?? []).compactMap(\.stringValue)
        guard !actions.isEmpty else { throw invalid("ActionNames must not be empty.") }
        var resources = (p["ResourceArns"]?.arrayValue ?? []).compactMap(\.stringValue)
        if resources.isEmpty { resources = ["*"] }

        var given: SimulatedPolicy?
        if let text = p["ResourcePolicy"]?.stringValue {
            do {
                let compiled = try CompiledPolicy(text, kind: .resourceBased, name: "ResourcePolicy", limits: IAMQuotas.parseLimits)
                given = SimulatedPolicy(policy: compiled, text: text, id: "ResourcePolicy", type: "resource")
            } catch {
                throw malformed(error)
            }
        }

        // The simulated caller: CallerArn (a user), else the source user or role.
        var principal = sourcePrincipal
        if let callerArn = p["CallerArn"]?.stringValue {
            let f = callerArn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
            guard f.count == 6, f[0] == "arn", f[2] == "iam", f[5].hasPrefix("user/") else {
                throw invalid("Invalid CallerArn: \(callerArn). Only the ARN of an IAM user can be the caller.")
            }
            let name = f[5].split(separator: "/").last.map(String.init) ?? ""
            if String(f[4]) == c.account, let user = s.registry.account(c.account).users[name], user.arn == callerArn {
                principal = Self.principal(of: user, account: c.account)
            } else {
                principal = RequestPrincipal.user(callerArn)
            }
        }
        if principal == nil, given != nil {
            throw invalid("CallerArn is required when ResourcePolicy is specified and PolicySourceArn is not an IAM user.")
        }
        // Without a caller, identity policies alone decide: a stand-in user of the account.
        let who = principal ?? RequestPrincipal.user("arn:aws:iam::\(c.account):user/SimulatedUser")

        var conditions: [String: [String]] = [:]
        var encryptionContext: [String: String] = [:]
        for entry in p["ContextEntries"]?.arrayValue ?? [] {
            guard let o = entry.objectValue, let name = o["ContextKeyName"]?.stringValue else { continue }
            let values = (o["ContextKeyValues"]?.arrayValue ?? []).compactMap(\.stringValue)
            conditions[name.lowercased(), default: []] += values
            let prefix = "kms:encryptioncontext:"
            if name.lowercased().hasPrefix(prefix), let v = values.first { encryptionContext[String(name.dropFirst(prefix.count))] = v }
        }

        // Paging over (action, resource) pairs, action-major as IAM lists them.
        let total = actions.count * resources.count
        let maxItems = max(1, p["MaxItems"]?.intValue ?? 100)
        var start = 0
        if let marker = p["Marker"]?.stringValue {
            guard let m = Int(marker), m > 0, m < total else { throw invalid("Invalid value for parameter Marker: \(marker)") }
            start = m
        }
        let end = min(total, start + maxItems)

        var sides: [String: ResourceSide] = [:]
        var results: [JSONValue] = []
        for index in start..<end {
            let action = actions[index / resources.count], resource = resources[index % resources.count]
            let resourceOwner = Self.owner(of: resource, p, default: who.account)
            let side: ResourceSide
            if let known = sides[resource] { side = known } else {
                side = try resourceSide(s, resource: resource, owner: resourceOwner, given: given)
                sides[resource] = side
            }
            let context = AuthorizationContext(principal: who, action: action, resource: resource, resourceAccount: resourceOwner,
                                               encryptionContext: encryptionContext, conditions: conditions,
                                               conditionKeysAreLowercased: true)
            let evaluator = PolicyEvaluator(resourcePolicy: side.compiled, identityPolicies: policies.map(\.policy),
                                            grants: side.grants)
            let result = evaluator.evaluate(context)
            let matched: [JSONValue] = result.matchedStatements.compactMap { m in
                let source: SimulatedPolicy?
                switch m.source {
                case .resourcePolicy: source = side.synthetic ? nil : side.policy
                case .identityPolicy(let i): source = i < policies.count ? policies[i] : nil
                case .sessionPolicy: source = nil
                }
                guard let source else { return nil }
                return Self.statement(source, index: m.statementIndex)
            }
            var involved = policies
            if !side.synthetic, let rp = side.policy { involved.append(rp) }
            let missing = missingContextValues(involved, context: context)
            var r = JSONObject()
            r["EvalActionName"] = .string(action)
            r["EvalResourceName"] = .string(resource)
            r["EvalDecision"] = .string(result.decision.rawValue)
            r["MatchedStatements"] = .array(matched)
            r["MissingContextValues"] = .array(missing.map { .string($0) })
            if resource != "*" {
                r["ResourceSpecificResults"] = .array([.object(JSONObject([
                    ("EvalResourceName", .string(resource)), ("EvalResourceDecision", .string(result.decision.rawValue)),
                    ("MatchedStatements", .array(matched)), ("MissingContextValues", .array(missing.map { .string($0) })),
                ]))])
            }
            results.append(.object(r))
        }
        var out = JSONObject()
        out["EvaluationResults"] = .array(results)
        out["IsTruncated"] = .bool(end < total)
        if end < total { out["Marker"] = .string(String(end)) }
        return out
    }

    /// A MatchedStatements entry: the policy's id and type, and where the statement is.
    static func statement(_ source: SimulatedPolicy, index: Int) -> JSONValue {
        var o = JSONObject([("SourcePolicyId", .string(source.id)), ("SourcePolicyType", .string(source.type))])
        let spans = StatementPositions.spans(source.text)
        if index >= 0, index < spans.count {
            let sp = spans[index]
            o["StartPosition"] = .object(JSONObject([("Line", JSONValue(sp.start.line)), ("Column", JSONValue(sp.start.column))]))
            o["EndPosition"] = .object(JSONObject([("Line", JSONValue(sp.end.line)), ("Column", JSONValue(sp.end.column))]))
        }
        return .object(o)
    }

    /// The condition keys the policies read that neither ContextEntries nor the principal
    /// supply, spelled as the policies spell them.
    static func missingContextValues(_ policies: [SimulatedPolicy], context: AuthorizationContext) -> [String] {
        var seen = Set<String>(), out: [String] = []
        for sp in policies {
            for key in conditionKeys(sp.text) where !seen.contains(key.lowercased()) {
                seen.insert(key.lowercased())
                if context.values(forKey: key.lowercased()) == nil { out.append(key) }
            }
        }
        return out
    }

    /// Condition keys as written in a (valid) document: Statement[].Condition.<operator>.<key>.
    static func conditionKeys(_ text: String) -> [String] {
        guard let doc = try? JSONParser.parse(text).objectValue, let st = doc["Statement"] else { return [] }
        let statements = st.arrayValue ?? [st]
        var keys: [String] = []
        for s in statements {
            guard let condition = s.objectValue?["Condition"]?.objectValue else { continue }
            for (_, block) in condition.entries {
                for (key, _) in block.objectValue?.entries ?? [] { keys.append(key) }
            }
        }
        return keys
    }
}
