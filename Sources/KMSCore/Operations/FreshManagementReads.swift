/// Read-your-writes for keys across cluster nodes. A key cached on this node is evicted
/// when another node changes it, but only once the change feed says so (milliseconds):
/// a client that tags, disables or schedules deletion through node A and describes the
/// key through node B at once would see the old state. So on a PostgreSQL node every
/// operation except the cryptographic ones reads its key (and alias) from the store;
/// those are administrative and rare. The cryptographic hot path stays on the cache,
/// where a change is seen within the feed's bound, as AWS documents for itself.
extension KMSService {
    /// Served from the cache even on a cluster node (the hot path never waits for the store).
    static let servedFromCache: Set<String> = [
        "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac",
        "Sign", "Verify", "GetPublicKey", "DeriveSharedSecret", "GenerateRandom",
    ]

    /// The key as the store holds it now (the alias too, when named by one). On an event
    /// loop the read throws `storeReadNeeded` and the request re-runs on the blocking pool.
    func freshlyResolvedKey(_ identifier: String, _ cached: KMSKey, caller: Caller, allowAlias: Bool) throws(KMSError) -> KMSKey {
        guard registry.mayBlock() else { throw KMSError.storeReadNeeded }
        var stale: [StoreObject] = [.key(account: cached.account, region: cached.region, keyId: cached.keyId)]
        if let range = identifier.range(of: "alias/") {
            stale.append(.alias(account: caller.account, region: caller.region, aliasName: String(identifier[range.lowerBound...])))
        }
        registry.invalidate(stale)
        return try resolveKey(identifier, caller: caller, allowAlias: allowAlias)
    }
}
