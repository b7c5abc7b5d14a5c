import AWSQuery
import KMSCore

/// Customer managed policies: versions (at most five), the default, attachments.
enum IAMManagedPolicies {
    static func attachmentCount(_ arn: String, in a: AccountIdentities) -> Int {
        a.users.values.filter { $0.attachedPolicies.contains(arn) }.count
            + a.groups.values.filter { $0.attachedPolicies.contains(arn) }.count
            + a.roles.values.filter { $0.attachedPolicies.contains(arn) }.count
    }

    static func render(_ p: IAMManagedPolicy, in a: AccountIdentities, tags: Bool = true) -> JSONValue {
        var o = JSONObject([("PolicyName", .string(p.name)), ("PolicyId", .string(p.policyId)), ("Arn", .string(p.arn)),
                            ("Path", .string(p.path)), ("DefaultVersionId", .string(p.defaultVersionId)),
                            ("AttachmentCount", JSONValue(attachmentCount(p.arn, in: a))),
                            ("PermissionsBoundaryUsageCount", JSONValue(0)), ("IsAttachable", .bool(true))])
        if let d = p.description { o["Description"] = .string(d) }
        o["CreateDate"] = JSONValue(p.createDate)
        o["UpdateDate"] = JSONValue(p.updateDate)
        if tags, !p.tags.isEmpty { o["Tags"] = IAMNames.json(p.tags) }
        return .object(o)
    }

    static func renderVersion(_ v: IAMPolicyVersion, isDefault: Bool, document: Bool = true) -> JSONValue {
        var o = JSONObject()
        if document { o["Document"] = IAMService.encodedDocument(v.document) }
        o["VersionId"] = .string(v.versionId)
        o["IsDefaultVersion"] = .bool(isDefault)
        o["CreateDate"] = JSONValue(v.createDate)
        return .object(o)
    }

    static func notFound(_ arn: String) -> QueryError { IAMService.noSuch("Policy \(arn) does not exist or is not attachable.") }

    static func checkDocument(_ document: String) throws(QueryError) {
        guard IAMQuotas.size(document) <= IAMQuotas.managedPolicyChars else {
            throw IAMService.limit("Cannot exceed quota for PolicySize: \(IAMQuotas.managedPolicyChars)")
        }
        try IAMQuotas.checkIdentityPolicy(document)
    }

    static func register(into t: inout [String: IAMService.Entry]) {
        let policy = IAMService.policyResource

        t["CreatePolicy"] = .init(resource: policy) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "PolicyName"), path = p["Path"]?.stringValue ?? "/"
            let document = IAMService.str(p, "PolicyDocument")
            try checkDocument(document)
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard a.policies.keys.first(where: { $0.lowercased() == name.lowercased() }) == nil else {
                    throw IAMService.exists("A policy called \(name) already exists. Duplicate names are not allowed.")
                }
                var tags: [IAMTag] = []
                try IAMNames.merge(IAMNames.tags(p["Tags"]), into: &tags)
                let now = s.now()
                let mp = IAMManagedPolicy(name: name, path: path, policyId: IAMNames.uniqueId("ANPA"),
                                          arn: IAMNames.arn(c.account, "policy", path: path, name: name), createDate: now,
                                          updateDate: now, description: p["Description"]?.stringValue, defaultVersionId: "v1",
                                          versions: [IAMPolicyVersion(versionId: "v1", document: document, createDate: now)],
                                          nextVersion: 2, tags: tags)
                a.policies[name] = mp
                return JSONObject([("Policy", render(mp, in: a))])
            }
        }
        t["GetPolicy"] = .init(resource: policy) { s, p, c throws(QueryError) in
            let arn = IAMService.str(p, "PolicyArn"), a = s.registry.account(c.account)
            guard let mp = a.policy(arn: arn) else { throw notFound(arn) }
            return JSONObject([("Policy", render(mp, in: a))])
        }
        t["ListPolicies"] = .init(resource: IAMService.anyResource) { s, p, c throws(QueryError) in
            let a = s.registry.account(c.account), prefix = IAMService.pathPrefix(p)
            // Only customer managed policies exist here (Scope AWS lists none).
            let scope = p["Scope"]?.stringValue ?? "All"
            let onlyAttached = p["OnlyAttached"]?.boolValue ?? false
            let items = scope == "AWS" ? [] : a.policies.values.filter {
                $0.path.hasPrefix(prefix) && (!onlyAttached || attachmentCount($0.arn, in: a) > 0)
            }
            var out = JSONObject()
            IAMService.page(items, key: \.name, p, into: &out, member: "Policies") { render($0, in: a, tags: false) }
            return out
        }
        t["DeletePolicy"] = .init(resource: policy) { s, p, c throws(QueryError) in
            let arn = IAMService.str(p, "PolicyArn")
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard let mp = a.policy(arn: arn) else { throw notFound(arn) }
                if attachmentCount(arn, in: a) > 0 { throw IAMService.conflict("Cannot delete a policy attached to entities.") }
                if mp.versions.count > 1 {
                    throw IAMService.conflict("This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy.")
                }
                a.policies[mp.name] = nil
                return JSONObject()
            }
        }
        t["CreatePolicyVersion"] = .init(resource: policy) { s, p, c throws(QueryError) in
            let arn = IAMService.str(p, "PolicyArn"), document = IAMService.str(p, "PolicyDocument")
            let setDefault = p["SetAsDefault"]?.boolValue ?? false
            try checkDocument(document)
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard var mp = a.policy(arn: arn) else { throw notFound(arn) }
                guard mp.versions.count < IAMQuotas.versionsPerManagedPolicy else {
                    throw IAMService.limit("A managed policy can have up to \(IAMQuotas.versionsPerManagedPolicy) versions. Before you create a new version, you must delete an existing version.")
                }
                let v = IAMPolicyVersion(versionId: "v\(mp.nextVersion)", document: document, createDate: s.now())
                mp.nextVersion += 1
                mp.versions.append(v)
                if setDefault { mp.defaultVersionId = v.versionId }
                mp.updateDate = v.createDate
                a.policies[mp.name] = mp
                return JSONObject([("PolicyVersion", renderVersion(v, isDefault: setDefault, document: false))])
            }
        }
        t["GetPolicyVersion"] = .init(resource: policy) { s, p, c throws(QueryError) in
            let arn = IAMService.str(p, "PolicyArn"), id = IAMService.str(p, "VersionId")
            guard let mp = s.registry.account(c.account).policy(arn: arn) else { throw notFound(arn) }
            guard let v = mp.versions.first(where: { $0.versionId == id }) else {
                throw IAMService.noSuch("Policy \(arn) version \(id) does not exist or is not attachable.")
            }
            return JSONObject([("PolicyVersion", renderVersion(v, isDefault: id == mp.defaultVersionId))])
        }
        t["ListPolicyVersions"] = .init(resource: policy) { s, p, c throws(QueryError) in
            let arn = IAMService.str(p, "PolicyArn")
            guard let mp = s.registry.account(c.account).policy(arn: arn) else { throw notFound(arn) }
            var out = JSONObject()
            // Newest first, as IAM lists them; the marker is the version ID's number, zero-padded.
            let items = mp.versions.reversed().map { $0 }
            IAMService.page(items, key: { String(repeating: "0", count: max(0, 6 - $0.versionId.count)) + $0.versionId }, p,
                            into: &out, member: "Versions") { renderVersion($0, isDefault: $0.versionId == mp.defaultVersionId, document: false) }
            if case .array(let list)? = out["Versions"] { out["Versions"] = .array(list.reversed()) }
            return out
        }
        t["DeletePolicyVersion"] = .init(resource: policy) { s, p, c throws(QueryError) in
            let arn = IAMService.str(p, "PolicyArn"), id = IAMService.str(p, "VersionId")
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard var mp = a.policy(arn: arn) else { throw notFound(arn) }
                guard mp.versions.contains(where: { $0.versionId == id }) else {
                    throw IAMService.noSuch("Policy \(arn) version \(id) does not exist or is not attachable.")
                }
                guard id != mp.defaultVersionId else { throw IAMService.conflict("Cannot delete the default version of a policy.") }
                mp.versions.removeAll { $0.versionId == id }
                a.policies[mp.name] = mp
                return JSONObject()
            }
        }
        t["SetDefaultPolicyVersion"] = .init(resource: policy) { s, p, c throws(QueryError) in
            let arn = IAMService.str(p, "PolicyArn"), id = IAMService.str(p, "VersionId")
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard var mp = a.policy(arn: arn) else { throw notFound(arn) }
                guard mp.versions.contains(where: { $0.versionId == id }) else {
                    throw IAMService.noSuch("Policy \(arn) version \(id) does not exist or is not attachable.")
                }
                mp.defaultVersionId = id
                a.policies[mp.name] = mp
                return JSONObject()
            }
        }

        for holder in [PolicyHolder.user, .group, .role] {
            let who = holder.nameMember
            t["Attach\(holder.rawValue)Policy"] = .init(resource: holder.resource) { s, p, c throws(QueryError) in
                let name = IAMService.str(p, who), arn = IAMService.str(p, "PolicyArn")
                return try s.registry.write(account: c.account) { a throws(QueryError) in
                    guard var attached = holder.attached(name, in: a) else { throw holder.notFound(name) }
                    guard a.policy(arn: arn) != nil else { throw notFound(arn) }
                    guard !attached.contains(arn) else { return JSONObject() }
                    guard attached.count < IAMQuotas.managedPoliciesPerEntity else {
                        throw IAMService.limit("Cannot exceed quota for PoliciesPer\(holder.rawValue): \(IAMQuotas.managedPoliciesPerEntity)")
                    }
                    attached.append(arn)
                    holder.setAttached(attached, name, in: &a)
                    return JSONObject()
                }
            }
            t["Detach\(holder.rawValue)Policy"] = .init(resource: holder.resource) { s, p, c throws(QueryError) in
                let name = IAMService.str(p, who), arn = IAMService.str(p, "PolicyArn")
                return try s.registry.write(account: c.account) { a throws(QueryError) in
                    guard var attached = holder.attached(name, in: a) else { throw holder.notFound(name) }
                    guard attached.contains(arn) else { throw IAMService.noSuch("Policy \(arn) was not found.") }
                    attached.removeAll { $0 == arn }
                    holder.setAttached(attached, name, in: &a)
                    return JSONObject()
                }
            }
            t["ListAttached\(holder.rawValue)Policies"] = .init(resource: holder.resource) { s, p, c throws(QueryError) in
                let name = IAMService.str(p, who), a = s.registry.account(c.account), prefix = IAMService.pathPrefix(p)
                guard let attached = holder.attached(name, in: a) else { throw holder.notFound(name) }
                let items = attached.compactMap { a.policy(arn: $0) }.filter { $0.path.hasPrefix(prefix) }
                var out = JSONObject()
                IAMService.page(items, key: \.name, p, into: &out, member: "AttachedPolicies") {
                    .object(JSONObject([("PolicyName", .string($0.name)), ("PolicyArn", .string($0.arn))]))
                }
                return out
            }
        }
        t["ListEntitiesForPolicy"] = .init(resource: policy) { s, p, c throws(QueryError) in
            let arn = IAMService.str(p, "PolicyArn"), a = s.registry.account(c.account)
            guard a.policy(arn: arn) != nil else { throw notFound(arn) }
            let filter = p["EntityFilter"]?.stringValue
            func wants(_ kind: String) -> Bool { filter == nil || filter == kind }
            var out = JSONObject()
            out["PolicyGroups"] = .array(wants("Group") ? a.groups.values.filter { $0.attachedPolicies.contains(arn) }
                .sorted { $0.name < $1.name }
                .map { .object(JSONObject([("GroupName", .string($0.name)), ("GroupId", .string($0.groupId))])) } : [])
            out["PolicyUsers"] = .array(wants("User") ? a.users.values.filter { $0.attachedPolicies.contains(arn) }
                .sorted { $0.name < $1.name }
                .map { .object(JSONObject([("UserName", .string($0.name)), ("UserId", .string($0.userId))])) } : [])
            out["PolicyRoles"] = .array(wants("Role") ? a.roles.values.filter { $0.attachedPolicies.contains(arn) }
                .sorted { $0.name < $1.name }
                .map { .object(JSONObject([("RoleName", .string($0.name)), ("RoleId", .string($0.roleId))])) } : [])
            out["IsTruncated"] = .bool(false)
            return out
        }
    }
}
