import AWSQuery
import KMSCore

/// What holds policies (inline and attached): a user, a group or a role, handled alike.
enum PolicyHolder: String, Sendable {
    case user = "User", group = "Group", role = "Role"

    var nameMember: String { rawValue + "Name" }
    var lower: String { rawValue.lowercased() }
    var inlineQuota: Int {
        switch self {
        case .user: IAMQuotas.userInlineChars
        case .group: IAMQuotas.groupInlineChars
        case .role: IAMQuotas.roleInlineChars
        }
    }

    func notFound(_ name: String) -> QueryError { IAMService.noSuch("The \(lower) with name \(name) cannot be found.") }

    func exists(_ name: String, in a: AccountIdentities) -> Bool {
        switch self {
        case .user: a.users[name] != nil
        case .group: a.groups[name] != nil
        case .role: a.roles[name] != nil
        }
    }

    func inline(_ name: String, in a: AccountIdentities) -> [String: String]? {
        switch self {
        case .user: a.users[name]?.inlinePolicies
        case .group: a.groups[name]?.inlinePolicies
        case .role: a.roles[name]?.inlinePolicies
        }
    }

    func setInline(_ policies: [String: String], _ name: String, in a: inout AccountIdentities) {
        switch self {
        case .user: a.users[name]?.inlinePolicies = policies
        case .group: a.groups[name]?.inlinePolicies = policies
        case .role: a.roles[name]?.inlinePolicies = policies
        }
    }

    func attached(_ name: String, in a: AccountIdentities) -> [String]? {
        switch self {
        case .user: a.users[name]?.attachedPolicies
        case .group: a.groups[name]?.attachedPolicies
        case .role: a.roles[name]?.attachedPolicies
        }
    }

    func setAttached(_ arns: [String], _ name: String, in a: inout AccountIdentities) {
        switch self {
        case .user: a.users[name]?.attachedPolicies = arns
        case .group: a.groups[name]?.attachedPolicies = arns
        case .role: a.roles[name]?.attachedPolicies = arns
        }
    }

    var resource: IAMService.ResourceOf {
        switch self {
        case .user: IAMService.userResource
        case .group: IAMService.groupResource
        case .role: IAMService.roleResource
        }
    }
}

/// Put/Get/Delete/List of inline policies for users, groups and roles.
enum IAMInlinePolicies {
    static func register(into t: inout [String: IAMService.Entry]) {
        for holder in [PolicyHolder.user, .group, .role] {
            let who = holder.nameMember
            t["Put\(holder.rawValue)Policy"] = .init(resource: holder.resource) { s, p, c throws(QueryError) in
                let name = IAMService.str(p, who), policyName = IAMService.str(p, "PolicyName")
                let document = IAMService.str(p, "PolicyDocument")
                try IAMQuotas.checkIdentityPolicy(document)
                return try s.registry.write(account: c.account) { a throws(QueryError) in
                    guard var policies = holder.inline(name, in: a) else { throw holder.notFound(name) }
                    policies[policyName] = document
                    // The quota is on all of the entity's inline policies together.
                    let total = policies.values.reduce(0) { $0 + IAMQuotas.size($1) }
                    guard total <= holder.inlineQuota else {
                        throw IAMService.limit("Maximum policy size of \(holder.inlineQuota) bytes exceeded for \(holder.lower) \(name)")
                    }
                    holder.setInline(policies, name, in: &a)
                    return JSONObject()
                }
            }
            t["Get\(holder.rawValue)Policy"] = .init(resource: holder.resource) { s, p, c throws(QueryError) in
                let name = IAMService.str(p, who), policyName = IAMService.str(p, "PolicyName")
                guard let policies = holder.inline(name, in: s.registry.account(c.account)) else { throw holder.notFound(name) }
                guard let document = policies[policyName] else {
                    throw IAMService.noSuch("The \(holder.lower) policy with name \(policyName) cannot be found.")
                }
                return JSONObject([(who, .string(name)), ("PolicyName", .string(policyName)),
                                   ("PolicyDocument", IAMService.encodedDocument(document))])
            }
            t["Delete\(holder.rawValue)Policy"] = .init(resource: holder.resource) { s, p, c throws(QueryError) in
                let name = IAMService.str(p, who), policyName = IAMService.str(p, "PolicyName")
                return try s.registry.write(account: c.account) { a throws(QueryError) in
                    guard var policies = holder.inline(name, in: a) else { throw holder.notFound(name) }
                    guard policies.removeValue(forKey: policyName) != nil else {
                        throw IAMService.noSuch("The \(holder.lower) policy with name \(policyName) cannot be found.")
                    }
                    holder.setInline(policies, name, in: &a)
                    return JSONObject()
                }
            }
            t["List\(holder.rawValue)Policies"] = .init(resource: holder.resource) { s, p, c throws(QueryError) in
                let name = IAMService.str(p, who)
                guard let policies = holder.inline(name, in: s.registry.account(c.account)) else { throw holder.notFound(name) }
                var out = JSONObject()
                IAMService.page(Array(policies.keys), key: { $0 }, p, into: &out, member: "PolicyNames") { .string($0) }
                return out
            }
        }
    }
}
