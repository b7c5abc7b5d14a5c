import KMSCore

/// IAM changes other nodes commit reach this node through the cluster's change feed: the
/// accounts they touched are re-read whole (an account's identities are few, and a policy
/// or group change affects every user that refers to it).
extension IdentityRegistry: FallibleStoreChangeFollower {
    func storeChanged(_ objects: [StoreObject]) { _ = reread(objects) }

    func storeChangedUnknown() { _ = rereadAll() }

    /// False when the store could not be read: ChangeFollowers retries with backoff, and
    /// the node refuses requests once that lasts past its freshness bound.
    func reread(_ objects: [StoreObject]) -> Bool {
        var touched = Set<String>()
        for case .identity(let account, let kind, _) in objects where kind != RootCredentialObject.kind {
            touched.insert(account)
        }
        guard !touched.isEmpty else { return true }
        return (try? reload(accounts: touched)) != nil
    }

    func rereadAll() -> Bool { (try? reload()) != nil }
}
