import AWSQuery
import KMSCore

/// TagUser/UntagUser/ListUserTags and TagRole/UntagRole/ListRoleTags: the same three
/// operations over the tags of either kind of principal.
enum IAMEntityTags {
    enum Kind: String, CaseIterable {
        case user = "User", role = "Role"

        var nameMember: String { rawValue + "Name" }

        var resource: IAMService.ResourceOf {
            switch self {
            case .user: IAMService.userResource
            case .role: IAMService.roleResource
            }
        }

        func notFound(_ name: String) -> QueryError {
            switch self {
            case .user: IAMUsers.notFound(name)
            case .role: IAMRoles.notFound(name)
            }
        }

        func tags(_ name: String, in a: AccountIdentities) -> [IAMTag]? {
            switch self {
            case .user: a.users[name]?.tags
            case .role: a.roles[name]?.tags
            }
        }

        /// Applies `change` to the entity's tags; throws NoSuchEntity when it is not there.
        func update(_ name: String, in a: inout AccountIdentities,
                    _ change: (inout [IAMTag]) throws(QueryError) -> Void) throws(QueryError) {
            guard var tags = tags(name, in: a) else { throw notFound(name) }
            try change(&tags)
            switch self {
            case .user: a.users[name]?.tags = tags
            case .role: a.roles[name]?.tags = tags
            }
        }
    }

    static func register(into t: inout [String: IAMService.Entry]) {
        for kind in Kind.allCases {
            t["Tag" + kind.rawValue] = .init(resource: kind.resource) { s, p, c throws(QueryError) in
                let name = IAMService.str(p, kind.nameMember)
                return try s.registry.write(account: c.account) { a throws(QueryError) in
                    try kind.update(name, in: &a) { tags throws(QueryError) in
                        try IAMNames.merge(IAMNames.tags(p["Tags"]), into: &tags)
                    }
                    return JSONObject()
                }
            }
            t["Untag" + kind.rawValue] = .init(resource: kind.resource) { s, p, c throws(QueryError) in
                let name = IAMService.str(p, kind.nameMember)
                let keys = Set((p["TagKeys"]?.arrayValue ?? []).compactMap { $0.stringValue?.lowercased() })
                return try s.registry.write(account: c.account) { a throws(QueryError) in
                    try kind.update(name, in: &a) { tags in tags.removeAll { keys.contains($0.key.lowercased()) } }
                    return JSONObject()
                }
            }
            t["List" + kind.rawValue + "Tags"] = .init(resource: kind.resource) { s, p, c throws(QueryError) in
                let name = IAMService.str(p, kind.nameMember)
                guard let tags = kind.tags(name, in: s.registry.account(c.account)) else { throw kind.notFound(name) }
                return JSONObject([("Tags", IAMNames.json(tags)), ("IsTruncated", .bool(false))])
            }
        }
    }
}
