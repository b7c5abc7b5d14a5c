import AWSQuery
import KMSCore

/// Groups and membership (kept on the user: `IAMUser.groups`).
enum IAMGroups {
    static func render(_ g: IAMGroup) -> JSONValue {
        .object(JSONObject([("Path", .string(g.path)), ("GroupName", .string(g.name)), ("GroupId", .string(g.groupId)),
                            ("Arn", .string(g.arn)), ("CreateDate", JSONValue(g.createDate))]))
    }

    static func notFound(_ name: String) -> QueryError { IAMService.noSuch("The group with name \(name) cannot be found.") }

    static func register(into t: inout [String: IAMService.Entry]) {
        let group = IAMService.groupResource

        t["CreateGroup"] = .init(resource: group) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "GroupName"), path = p["Path"]?.stringValue ?? "/"
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard a.groups.keys.first(where: { $0.lowercased() == name.lowercased() }) == nil else {
                    throw IAMService.exists("Group with name \(name) already exists.")
                }
                let g = IAMGroup(name: name, path: path, groupId: IAMNames.uniqueId("AGPA"),
                                 arn: IAMNames.arn(c.account, "group", path: path, name: name), createDate: s.now())
                a.groups[name] = g
                return JSONObject([("Group", render(g))])
            }
        }
        t["GetGroup"] = .init(resource: group) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "GroupName")
            let a = s.registry.account(c.account)
            guard let g = a.groups[name] else { throw notFound(name) }
            var out = JSONObject([("Group", render(g))])
            IAMService.page(a.users.values.filter { $0.groups.contains(name) }, key: \.name, p, into: &out, member: "Users") {
                IAMUsers.render($0, tags: false)
            }
            return out
        }
        t["ListGroups"] = .init(resource: IAMService.anyResource) { s, p, c throws(QueryError) in
            let prefix = IAMService.pathPrefix(p)
            var out = JSONObject()
            IAMService.page(s.registry.account(c.account).groups.values.filter { $0.path.hasPrefix(prefix) }, key: \.name, p,
                            into: &out, member: "Groups", render: render)
            return out
        }
        t["DeleteGroup"] = .init(resource: group) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "GroupName")
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard let g = a.groups[name] else { throw notFound(name) }
                if a.users.values.contains(where: { $0.groups.contains(name) }) {
                    throw IAMService.conflict("Cannot delete entity, must remove users from group first.")
                }
                if !g.inlinePolicies.isEmpty { throw IAMService.conflict("Cannot delete entity, must delete policies first.") }
                if !g.attachedPolicies.isEmpty { throw IAMService.conflict("Cannot delete entity, must detach all policies first.") }
                a.groups[name] = nil
                return JSONObject()
            }
        }
        t["AddUserToGroup"] = .init(resource: group) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "GroupName"), userName = IAMService.str(p, "UserName")
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard a.groups[name] != nil else { throw notFound(name) }
                guard var u = a.users[userName] else { throw IAMUsers.notFound(userName) }
                guard !u.groups.contains(name) else { return JSONObject() }
                guard u.groups.count < IAMQuotas.groupsPerUser else {
                    throw IAMService.limit("Cannot exceed quota for GroupsPerUser: \(IAMQuotas.groupsPerUser)")
                }
                u.groups.append(name)
                a.users[userName] = u
                return JSONObject()
            }
        }
        t["RemoveUserFromGroup"] = .init(resource: group) { s, p, c throws(QueryError) in
            let name = IAMService.str(p, "GroupName"), userName = IAMService.str(p, "UserName")
            return try s.registry.write(account: c.account) { a throws(QueryError) in
                guard a.groups[name] != nil else { throw notFound(name) }
                guard var u = a.users[userName] else { throw IAMUsers.notFound(userName) }
                guard u.groups.contains(name) else {
                    throw IAMService.noSuch("User \(userName) is not in group \(name).")
                }
                u.groups.removeAll { $0 == name }
                a.users[userName] = u
                return JSONObject()
            }
        }
        t["ListGroupsForUser"] = .init(resource: IAMService.userResource) { s, p, c throws(QueryError) in
            let userName = IAMService.str(p, "UserName")
            let a = s.registry.account(c.account)
            guard let u = a.users[userName] else { throw IAMUsers.notFound(userName) }
            var out = JSONObject()
            IAMService.page(u.groups.compactMap { a.groups[$0] }, key: \.name, p, into: &out, member: "Groups", render: render)
            return out
        }
    }
}
