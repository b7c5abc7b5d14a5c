/// Which principals exist, for the key policy check AWS makes: a policy naming a user or
/// role that does not exist is refused ("Policy contains a statement with one or more
/// invalid principals."). The IAM subsystem (issue 9) knows its users and roles and
/// supplies a real directory through `KMSService.principalDirectory`; until then
/// `AnyWellFormedPrincipal` accepts every principal the policy compiler accepts (account
/// IDs, root ARNs, user/role/assumed-role ARNs, "*", service principals).
public protocol PrincipalDirectory: Sendable {
    func exists(_ principal: String) -> Bool
}

public struct AnyWellFormedPrincipal: PrincipalDirectory {
    public init() {}
    public func exists(_ principal: String) -> Bool { true }
}
