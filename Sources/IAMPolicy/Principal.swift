/// One entry of a Principal or NotPrincipal element, normalised at compile time
/// (a bare account ID becomes that account's root).
enum PrincipalEntry: Sendable, Equatable {
    case anyone
    case account(String)
    case arn(String)
    case service(String)
    case federated(String)
    case canonicalUser(String)
}

/// How specifically a statement's Principal names the caller. `account` delegates to the
/// account's identity policies (the KMS "Enable IAM User Permissions" pattern).
enum PrincipalMatch: Int, Sendable, Comparable {
    case none = 0
    /// The caller's account root: its identity policies must allow too.
    case account = 1
    /// "*", or the role of an assumed-role session: a session policy still narrows it.
    case broad = 2
    /// The caller's own ARN (user, root, the session itself, the service).
    case exact = 3

    static func < (a: PrincipalMatch, b: PrincipalMatch) -> Bool { a.rawValue < b.rawValue }
}

enum PrincipalCompiler {
    static func invalid() -> PolicyError { PolicyError("Policy contains a statement with one or more invalid principals.") }

    static func strings(_ v: PolicyJSON, limit: Int) throws(PolicyError) -> [String] {
        switch v {
        case .string(let s): return [s]
        case .array(let a) where !a.isEmpty && a.count <= limit:
            var out: [String] = []
            for item in a {
                guard case .string(let s) = item else { throw invalid() }
                out.append(s)
            }
            return out
        default: throw invalid()
        }
    }

    static func compile(_ v: PolicyJSON, limits: PolicyLimits) throws(PolicyError) -> [PrincipalEntry] {
        if case .string(let s) = v {
            guard s == "*" else { throw invalid() }
            return [.anyone]
        }
        guard let members = v.objectEntries, !members.isEmpty else { throw invalid() }
        var out: [PrincipalEntry] = []
        for (type, value) in members {
            let list = try strings(value, limit: limits.maxValuesPerElement)
            for p in list {
                switch type {
                case "AWS": out.append(try aws(p))
                case "Service":
                    guard !p.isEmpty, !p.contains("*") || p == "*" else { throw invalid() }
                    out.append(p == "*" ? .anyone : .service(p))
                case "Federated":
                    guard !p.isEmpty, !p.contains("*") else { throw invalid() }
                    out.append(.federated(p))
                case "CanonicalUser":
                    guard !p.isEmpty, !p.contains("*") else { throw invalid() }
                    out.append(.canonicalUser(p))
                default: throw invalid()
                }
            }
        }
        return out
    }

    /// Account IDs, root/user/role ARNs, assumed-role session ARNs, or "*". Partial
    /// wildcards are not allowed in a Principal (they are in a condition on aws:PrincipalArn).
    static func aws(_ p: String) throws(PolicyError) -> PrincipalEntry {
        if p == "*" { return .anyone }
        if p.utf8.count == 12, p.allSatisfy(\.isASCIIDigit) { return .account(p) }
        guard !p.contains("*"), !p.contains("?"), let parts = ARNParts(p) else { throw invalid() }
        let service = parts.fields[2], account = String(parts.fields[4]), resource = parts.fields[5]
        guard account.utf8.count == 12, account.allSatisfy(\.isASCIIDigit), parts.fields[3].isEmpty else { throw invalid() }
        if service == "iam" {
            if resource == "root" { return .account(account) }
            guard resource.hasPrefix("user/") || resource.hasPrefix("role/"), resource.count > 5 else { throw invalid() }
            return .arn(p)
        }
        if service == "sts" {
            let pieces = resource.split(separator: "/", omittingEmptySubsequences: false)
            guard (pieces.first == "assumed-role" && pieces.count >= 3 || pieces.first == "federated-user" && pieces.count == 2),
                  !pieces.contains(where: \.isEmpty) else { throw invalid() }
            return .arn(p)
        }
        throw invalid()
    }

    static func match(_ entries: [PrincipalEntry], _ caller: RequestPrincipal) -> PrincipalMatch {
        var best = PrincipalMatch.none
        for e in entries {
            let m: PrincipalMatch
            switch e {
            case .anyone: m = .broad
            case .account(let a):
                m = caller.account == a && caller.kind != .service && caller.kind != .anonymous
                    ? (caller.kind == .root ? .exact : .account) : .none
            case .arn(let a):
                if a == caller.arn, caller.kind != .service { m = .exact }
                else if caller.kind == .assumedRole, a == caller.roleArn { m = .broad }
                else { m = .none }
            case .service(let s): m = caller.kind == .service && caller.arn == s ? .exact : .none
            case .federated(let f): m = caller.kind == .federatedUser && caller.arn == f ? .exact : .none
            case .canonicalUser: m = .none
            }
            if m > best { best = m }
            if best == .exact { break }
        }
        return best
    }

    /// NotPrincipal excludes a caller only when it names that caller exactly (for a session,
    /// the session's own ARN; naming only the role does not exclude its sessions).
    static func excludes(_ entries: [PrincipalEntry], _ caller: RequestPrincipal) -> Bool {
        match(entries, caller) == .exact
    }
}
