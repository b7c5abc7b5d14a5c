import KMSCore

/// IAM changes other nodes commit reach this node through the cluster's change feed: the
/// accounts they touched are re-read whole (an account's identities are few, and a policy
/// or group change affects every user that refers to it).
extension IdentityRegistry: StoreChangeFollower {
    func storeChanged(_ objects: [StoreObject]) {
        var touched = Set<String>()
        for case .identity(let account, let kind, _) in objects where kind != RootCredentialObject.kind {
            touched.insert(account)
        }
        guard !touched.isEmpty else { return }
        // A failed read: fall back to a full re-read (which may fail too; the next change retries).
        if (try? reload(accounts: touched)) == nil { try? reload() }
    }

    func storeChangedUnknown() { try? reload() }
}
