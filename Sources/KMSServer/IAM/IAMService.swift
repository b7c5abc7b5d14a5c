import AWSQuery
import Foundation
import IAMPolicy
import KMSCore

/// The IAM API on the KMS endpoint (query protocol, SigV4 service `iam`, us-east-1): the
/// subset of issue 9, over the IdentityRegistry. Every handler goes through
/// `authorizeIAM` first.
struct IAMService: Sendable {
    let registry: IdentityRegistry
    let now: @Sendable () -> Double
    /// The KMS service, so the policy simulator can read a key's policy and grants (set by
    /// the server; nil in tests of IAM alone).
    var kms: KMSService?

    init(registry: IdentityRegistry, now: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970.rounded(.down) }) {
        self.registry = registry
        self.now = now
    }

    /// A handler: the validated parameters, the caller's account; returns the result members.
    typealias Handler = @Sendable (IAMService, JSONObject, Caller) throws(QueryError) -> JSONObject

    /// What an operation acts on, for authorization: the ARN the policy's Resource matches.
    typealias ResourceOf = @Sendable (IAMService, JSONObject, Caller) -> String

    func queryService() -> QueryService {
        var ops: [String: QueryOperation] = [:]
        for (name, entry) in Self.table {
            let service = self
            ops[name] = QueryOperation(authentication: .signed, blocking: true) { call throws(QueryError) -> JSONObject in
                guard let caller = call.caller else { throw QueryError("AccessDenied", "Access denied", status: 403) }
                // A cluster node reads the account from the store first (read-your-writes; IAM
                // calls run off the event loop and are administrative: one indexed read each).
                _ = service.registry.freshAccount(caller.account)
                try service.authorizeIAM(action: "iam:" + name, resource: entry.resource(service, call.parameters, caller), caller: caller)
                return try entry.handler(service, call.parameters, caller)
            }
        }
        return QueryService(model: .iam, signingRegion: "us-east-1", operations: ops,
                            auditRequestMembers: Self.auditRequestMembers, auditResponseMembers: [:])
    }

    /// The one authorization point of IAM. Until the authorization engine (issue 10) is
    /// merged: an account's root may do everything; an IAM user what its identity policies
    /// allow (and none denies), IAM having no resource policies. Anyone else is refused.
    /// The lead may re-point this at the final funnel.
    func authorizeIAM(action: String, resource: String, caller: Caller) throws(QueryError) {
        switch caller.principal.kind {
        case .root:
            return
        case .user, .assumedRole, .federatedUser:
            // IAM's same-account rule as the evaluator states it: a resource policy that
            // delegates to the account, so the identity policies decide (for a role session,
            // its role's policies narrowed by its session policy).
            let delegate = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::"#
                + caller.account + #":root"},"Action":"*","Resource":"*"}]}"#
            if let delegation = try? CompiledPolicy(delegate, kind: .resourceBased, name: "iam") {
                let evaluator = PolicyEvaluator(resourcePolicy: delegation, identityPolicies: caller.identityPolicies,
                                                sessionPolicies: caller.sessionPolicies)
                let context = AuthorizationContext(principal: caller.principal, action: action,
                                                   resource: resource, resourceAccount: caller.account)
                let result = evaluator.evaluate(context)
                if result.isAllowed { return }
                let message = result.accessDeniedMessage(for: context)
                    ?? "User: \(caller.principalArn) is not authorized to perform: \(action) on resource: \(resource)"
                throw QueryError("AccessDenied", message, status: 403)
            }
        default:
            break
        }
        throw QueryError("AccessDenied", "User: \(caller.principalArn) is not authorized to perform: \(action) on resource: \(resource)", status: 403)
    }

    // MARK: Common

    static func noSuch(_ message: String) -> QueryError { QueryError("NoSuchEntity", message, model: .iam) }
    static func exists(_ message: String) -> QueryError { QueryError("EntityAlreadyExists", message, model: .iam) }
    static func limit(_ message: String) -> QueryError { QueryError("LimitExceeded", message, model: .iam) }
    static func conflict(_ message: String) -> QueryError { QueryError("DeleteConflict", message, model: .iam) }
    static func invalid(_ message: String) -> QueryError { QueryError("InvalidInput", message, model: .iam) }

    /// Policy documents come back URL-encoded, as IAM returns them (botocore decodes them).
    static func encodedDocument(_ text: String) -> JSONValue {
        var out = ""
        for b in text.utf8 {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"),
                 UInt8(ascii: "*"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return .string(out)
    }

    /// Marker/MaxItems paging over `items` sorted by `key`: the marker is the last key returned.
    static func page<T>(_ items: [T], key: (T) -> String, _ p: JSONObject, into out: inout JSONObject, member: String,
                        render: (T) -> JSONValue) {
        let maxItems = p["MaxItems"]?.intValue ?? 100
        var sorted = items.sorted { key($0) < key($1) }
        if let marker = p["Marker"]?.stringValue { sorted = sorted.filter { key($0) > marker } }
        let shown = sorted.prefix(maxItems)
        out[member] = .array(shown.map(render))
        let truncated = sorted.count > shown.count
        out["IsTruncated"] = .bool(truncated)
        if truncated, let last = shown.last { out["Marker"] = .string(key(last)) }
    }

    static func pathPrefix(_ p: JSONObject) -> String { p["PathPrefix"]?.stringValue ?? "/" }

    static func str(_ p: JSONObject, _ name: String) -> String { p[name]?.stringValue ?? "" }

    func user(_ p: JSONObject, _ caller: Caller) -> String { Self.str(p, "UserName") }

    static func userResource(_ s: IAMService, _ p: JSONObject, _ c: Caller) -> String {
        let name = p["UserName"]?.stringValue ?? c.principal.username ?? ""
        return s.registry.account(c.account).users[name]?.arn ?? IAMNames.arn(c.account, "user", path: p["Path"]?.stringValue ?? "/", name: name)
    }

    static func groupResource(_ s: IAMService, _ p: JSONObject, _ c: Caller) -> String {
        let name = str(p, "GroupName")
        return s.registry.account(c.account).groups[name]?.arn ?? IAMNames.arn(c.account, "group", path: p["Path"]?.stringValue ?? "/", name: name)
    }

    static func roleResource(_ s: IAMService, _ p: JSONObject, _ c: Caller) -> String {
        let name = str(p, "RoleName")
        return s.registry.account(c.account).roles[name]?.arn ?? IAMNames.arn(c.account, "role", path: p["Path"]?.stringValue ?? "/", name: name)
    }

    static func policyResource(_ s: IAMService, _ p: JSONObject, _ c: Caller) -> String {
        if let arn = p["PolicyArn"]?.stringValue { return arn }
        return IAMNames.arn(c.account, "policy", path: p["Path"]?.stringValue ?? "/", name: str(p, "PolicyName"))
    }

    static func oidcResource(_ s: IAMService, _ p: JSONObject, _ c: Caller) -> String {
        if let arn = p["OpenIDConnectProviderArn"]?.stringValue { return arn }
        if let url = p["Url"]?.stringValue { return "arn:aws:iam::\(c.account):oidc-provider/" + IAMOIDC.providerPath(url) }
        return "*"
    }

    static func anyResource(_ s: IAMService, _ p: JSONObject, _ c: Caller) -> String { "*" }

    struct Entry: Sendable {
        let resource: ResourceOf
        let handler: Handler
    }

    static let table: [String: Entry] = {
        var t: [String: Entry] = [:]
        IAMUsers.register(into: &t)
        IAMGroups.register(into: &t)
        IAMRoles.register(into: &t)
        IAMEntityTags.register(into: &t)
        IAMInlinePolicies.register(into: &t)
        IAMManagedPolicies.register(into: &t)
        IAMOIDC.register(into: &t)
        IAMSimulation.register(into: &t)
        return t
    }()

    /// requestParameters of IAM's audit events: names, paths, ARNs and documents; never an
    /// access key's secret (no request carries one; CreateAccessKey's response is not logged).
    static let auditRequestMembers: [String: [String]] = {
        var t: [String: [String]] = [:]
        let members = ["UserName", "NewUserName", "GroupName", "RoleName", "PolicyName", "PolicyArn", "Path", "NewPath",
                       "AccessKeyId", "Status", "VersionId", "SetAsDefault", "Description", "MaxSessionDuration",
                       "OpenIDConnectProviderArn", "Url", "ClientIDList", "ThumbprintList", "Tags", "TagKeys",
                       "PolicyDocument", "AssumeRolePolicyDocument", "EntityFilter", "PathPrefix", "MaxItems", "Marker"]
        for name in table.keys {
            let input = QueryServiceModel.iam.operations[name]?.input?.members.map(\.name) ?? []
            t[name] = members.filter { input.contains($0) }
        }
        return t
    }()
}
