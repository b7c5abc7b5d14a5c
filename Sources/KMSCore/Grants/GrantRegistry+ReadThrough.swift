import IAMPolicy

/// A cluster node reads a key's grants from the store when a request on that key is
/// denied (DenyReadThrough.swift): a grant created through another node counts here at
/// once, not only once the change feed brings it. Allowed requests read nothing.
extension GrantRegistry: GrantReadThrough {
    public func freshGrantRules(for key: KMSKey, grantTokens: [String]) throws(KMSError) -> [GrantRule]? {
        guard let mayRead = readThrough.mayReadNow else { return nil }
        guard mayRead else { throw KMSError.storeReadNeeded }
        _ = try storedGrants(on: key)
        return try grantRules(forKeyArn: key.arn, grantTokens: grantTokens)
    }
}
