import AWSQuery
import KMSCore

/// Users and their access keys.
enum IAMUsers {
    static func render(_ u: IAMUser, tags: Bool = true) -> JSONValue {
        var o = JSONObject([("Path", .string(u.path)), ("UserName", .string(u.name)), ("UserId", .string(u.userId)),
                            ("Arn", .string(u.arn)), ("CreateDate", JSONValue(u.createDate))])
        if tags, !u.tags.isEmpty { o["Tags"] = IAMNames.json(u.tags) }
        return .object(o)
    }

    static func notFound(_ name: String) -> QueryError { IAMService.noSuch("The user with name \(name) cannot be found.") }

    /// UserName, or the calling user's own name when omitted (as IAM does for a user).
    static func target(_ p: JSONObject, _ c: Caller) throws(QueryError) -> String {
        if let name = p["UserName"]?.stringValue { return name }
        if c.principal.kind == .user, let name = c.principal.username { return name }
        throw IAMService.invalid("Must specify userName when calling with non-User credentials")
    }

    static func register(into t: inout [String: IAMService.Entry]) {
        let user = IAMService.userResource

        t["CreateUser"] = .init(resource: user) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "UserName"), path = p["Path"]?.stringValue ?? "/"
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard a.users.keys.first(where: { $0.lowercased() == name.lowercased() }) == nil else {
                    throw IAMService.exists("User with name \(name) already exists.")
                }
                var tags: [IAMTag] = []
                try IAMNames.merge(IAMNames.tags(p["Tags"]), into: &tags)
                let u = IAMUser(name: name, path: path, userId: IAMNames.uniqueId("AIDA"),
                                arn: IAMNames.arn(c.account, "user", path: path, name: name), createDate: s.now(), tags: tags)
                a.users[name] = u
                return JSONObject([("User", render(u))])
            }
        }
        t["GetUser"] = .init(resource: user) { s, p, c throws(QueryError) in
            if p["UserName"] == nil, c.principal.kind == .root {
                return JSONObject([("User", .object(JSONObject([("Path", .string("/")), ("UserId", .string(c.account)),
                                                                 ("Arn", .string(c.principalArn)), ("CreateDate", JSONValue(0.0))])))])
            }
            let name = try target(p, c)
            guard let u = s.registry.account(c.account).users[name] else { throw notFound(name) }
            return JSONObject([("User", render(u))])
        }
        t["ListUsers"] = .init(resource: IAMService.anyResource) { s, p, c throws(QueryError) in
            let prefix = IAMService.pathPrefix(p)
            var out = JSONObject()
            IAMService.page(s.registry.account(c.account).users.values.filter { $0.path.hasPrefix(prefix) }, key: \.name, p,
                            into: &out, member: "Users") { render($0, tags: false) }
            return out
        }
        t["UpdateUser"] = .init(resource: user) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "UserName")
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard var u = a.users[name] else { throw notFound(name) }
                if let path = p["NewPath"]?.stringValue { u.path = path }
                var newName = name
                if let n = p["NewUserName"]?.stringValue, n != name {
                    guard a.users[n] == nil else { throw IAMService.exists("User with name \(n) already exists.") }
                    newName = n
                }
                u.name = newName
                u.arn = IAMNames.arn(c.account, "user", path: u.path, name: newName)
                a.users[name] = nil
                a.users[newName] = u
                if newName != name {
                    for (id, var k) in a.accessKeys where k.userName == name { k.userName = newName; a.accessKeys[id] = k }
                }
                return JSONObject()
            }
        }
        t["DeleteUser"] = .init(resource: user) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "UserName")
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard let u = a.users[name] else { throw notFound(name) }
                // AWS refuses while anything still hangs on the user.
                if !a.keys(of: name).isEmpty { throw IAMService.conflict("Cannot delete entity, must delete access keys first.") }
                if !u.inlinePolicies.isEmpty { throw IAMService.conflict("Cannot delete entity, must delete policies first.") }
                if !u.attachedPolicies.isEmpty { throw IAMService.conflict("Cannot delete entity, must detach all policies first.") }
                if !u.groups.isEmpty { throw IAMService.conflict("Cannot delete entity, must remove user from all groups first.") }
                a.users[name] = nil
                return JSONObject()
            }
        }

        // MARK: Access keys

        t["CreateAccessKey"] = .init(resource: user) { s, p, c throws(QueryError) in
            let name = try target(p, c)
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard a.users[name] != nil else { throw notFound(name) }
                guard a.keys(of: name).count < IAMQuotas.accessKeysPerUser else {
                    throw IAMService.limit("Cannot exceed quota for AccessKeysPerUser: \(IAMQuotas.accessKeysPerUser)")
                }
                var id = CredentialRegistry.newAccessKeyId()
                while a.accessKeys[id] != nil { id = CredentialRegistry.newAccessKeyId() }
                let secret = CredentialRegistry.newSecret()
                let key = IAMAccessKey(accessKeyId: id, userName: name, status: "Active", createDate: s.now())
                a.accessKeys[id] = key
                a.secrets[id] = secret
                // The only time the secret leaves the server.
                return JSONObject([("AccessKey", .object(JSONObject([
                    ("UserName", .string(name)), ("AccessKeyId", .string(id)), ("Status", .string("Active")),
                    ("SecretAccessKey", .string(secret)), ("CreateDate", JSONValue(key.createDate)),
                ])))])
            }
        }
        t["ListAccessKeys"] = .init(resource: user) { s, p, c throws(QueryError) in
            let name = try target(p, c)
            let a = s.registry.account(c.account)
            guard a.users[name] != nil else { throw notFound(name) }
            var out = JSONObject()
            IAMService.page(a.keys(of: name), key: \.accessKeyId, p, into: &out, member: "AccessKeyMetadata") { k in
                .object(JSONObject([("UserName", .string(k.userName)), ("AccessKeyId", .string(k.accessKeyId)),
                                    ("Status", .string(k.status)), ("CreateDate", JSONValue(k.createDate))]))
            }
            return out
        }
        t["UpdateAccessKey"] = .init(resource: user) { s, p, c throws(QueryError) in
            let name = try target(p, c), id = IAMService.str(p, "AccessKeyId"), status = IAMService.str(p, "Status")
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard a.users[name] != nil else { throw notFound(name) }
                guard var k = a.accessKeys[id], k.userName == name else {
                    throw IAMService.noSuch("The Access Key with id \(id) cannot be found.")
                }
                k.status = status
                a.accessKeys[id] = k
                return JSONObject()
            }
        }
        t["DeleteAccessKey"] = .init(resource: user) { s, p, c throws(QueryError) in
            let name = try target(p, c), id = IAMService.str(p, "AccessKeyId")
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard a.users[name] != nil else { throw notFound(name) }
                guard let k = a.accessKeys[id], k.userName == name else {
                    throw IAMService.noSuch("The Access Key with id \(id) cannot be found.")
                }
                a.accessKeys[id] = nil
                a.secrets[id] = nil
                return JSONObject()
            }
        }
        t["GetAccessKeyLastUsed"] = .init(resource: IAMService.anyResource) { s, p, c throws(QueryError) in
            let id = IAMService.str(p, "AccessKeyId")
            guard let k = s.registry.account(c.account).accessKeys[id] else {
                throw QueryError("AccessDenied", "The Access Key with id \(id) cannot be found.", status: 403)
            }
            var used = JSONObject([("ServiceName", .string("N/A")), ("Region", .string("N/A"))])
            if let use = s.registry.lastUse(accessKeyId: id) {
                used = JSONObject([("LastUsedDate", JSONValue(use.date)), ("ServiceName", .string(use.service)),
                                   ("Region", .string(use.region))])
            }
            return JSONObject([("UserName", .string(k.userName)), ("AccessKeyLastUsed", .object(used))])
        }
    }
}
