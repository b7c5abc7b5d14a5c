import AWSQuery
import KMSCore

/// Roles: trust policy, session duration, tags. STS assumes them (`IdentityRegistry.role`).
enum IAMRoles {
    static func render(_ r: IAMRole, tags: Bool = true) -> JSONValue {
        var o = JSONObject([("Path", .string(r.path)), ("RoleName", .string(r.name)), ("RoleId", .string(r.roleId)),
                            ("Arn", .string(r.arn)), ("CreateDate", JSONValue(r.createDate)),
                            ("AssumeRolePolicyDocument", IAMService.encodedDocument(r.assumeRolePolicyDocument))])
        if let d = r.description { o["Description"] = .string(d) }
        o["MaxSessionDuration"] = JSONValue(r.maxSessionDuration)
        if tags, !r.tags.isEmpty { o["Tags"] = IAMNames.json(r.tags) }
        return .object(o)
    }

    static func notFound(_ name: String) -> QueryError { IAMService.noSuch("The role with name \(name) cannot be found.") }

    static func maxSession(_ p: JSONObject) throws(QueryError) -> Int? {
        guard let v = p["MaxSessionDuration"]?.intValue else { return nil }
        // The model bounds it already (3600...43200); kept for a model without the bound.
        guard IAMQuotas.maxSessionDuration.contains(v) else {
            throw QueryError.validation("1 validation error detected: Value '\(v)' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200")
        }
        return v
    }

    static func register(into t: inout [String: IAMService.Entry]) {
        let role = IAMService.roleResource

        t["CreateRole"] = .init(resource: role) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "RoleName"), path = p["Path"]?.stringValue ?? "/"
            let trust = IAMService.str(p, "AssumeRolePolicyDocument")
            try IAMQuotas.checkTrustPolicy(trust)
            let duration = try maxSession(p) ?? 3600
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard a.roles.keys.first(where: { $0.lowercased() == name.lowercased() }) == nil else {
                    throw IAMService.exists("Role with name \(name) already exists.")
                }
                var tags: [IAMTag] = []
                try IAMNames.merge(IAMNames.tags(p["Tags"]), into: &tags)
                let r = IAMRole(name: name, path: path, roleId: IAMNames.uniqueId("AROA"),
                                arn: IAMNames.arn(c.account, "role", path: path, name: name), createDate: s.now(),
                                assumeRolePolicyDocument: trust, description: p["Description"]?.stringValue,
                                maxSessionDuration: duration, tags: tags)
                a.roles[name] = r
                return JSONObject([("Role", render(r))])
            }
        }
        t["GetRole"] = .init(resource: role) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "RoleName")
            guard let r = s.registry.account(c.account).roles[name] else { throw notFound(name) }
            return JSONObject([("Role", render(r))])
        }
        t["ListRoles"] = .init(resource: IAMService.anyResource) { s, p, c throws(QueryError) in
            let prefix = IAMService.pathPrefix(p)
            var out = JSONObject()
            IAMService.page(s.registry.account(c.account).roles.values.filter { $0.path.hasPrefix(prefix) }, key: \.name, p,
                            into: &out, member: "Roles") { render($0, tags: false) }
            return out
        }
        t["UpdateRole"] = .init(resource: role) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "RoleName")
            let duration = try maxSession(p)
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard var r = a.roles[name] else { throw notFound(name) }
                if let d = p["Description"]?.stringValue { r.description = d }
                if let duration { r.maxSessionDuration = duration }
                a.roles[name] = r
                return JSONObject()
            }
        }
        t["UpdateAssumeRolePolicy"] = .init(resource: role) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "RoleName"), trust = IAMService.str(p, "PolicyDocument")
            try IAMQuotas.checkTrustPolicy(trust)
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard var r = a.roles[name] else { throw notFound(name) }
                r.assumeRolePolicyDocument = trust
                a.roles[name] = r
                return JSONObject()
            }
        }
        t["DeleteRole"] = .init(resource: role) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "RoleName")
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard let r = a.roles[name] else { throw notFound(name) }
                if !r.inlinePolicies.isEmpty { throw IAMService.conflict("Cannot delete entity, must delete policies first.") }
                if !r.attachedPolicies.isEmpty { throw IAMService.conflict("Cannot delete entity, must detach all policies first.") }
                a.roles[name] = nil
                return JSONObject()
            }
        }
    }
}
