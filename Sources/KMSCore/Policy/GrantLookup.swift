import IAMPolicy

/// Where authorization finds the grants on a key: the grants stored for it, plus those
/// named by the request's grant tokens (usable at once, before they reach every node).
/// The grants subsystem provides the real one; `NoGrants` is the default until it does.
public protocol GrantLookup: Sendable {
    func grantRules(forKeyArn keyArn: String, grantTokens: [String]) throws(KMSError) -> [GrantRule]
}

public struct NoGrants: GrantLookup {
    public init() {}
    public func grantRules(forKeyArn keyArn: String, grantTokens: [String]) throws(KMSError) -> [GrantRule] { [] }
}
