/// Something that holds stored objects whole in memory (grants, IAM identities, root
/// credentials) and must re-read those another node changed. The cluster's change feed
/// calls it off the event loops and off the store's own thread, one call at a time, so it
/// may read the store synchronously.
public protocol StoreChangeFollower: AnyObject, Sendable {
    /// These objects were inserted, updated or deleted by some node (possibly this one).
    func storeChanged(_ objects: [StoreObject])
    /// Changes may have been missed (a gap in the change log): re-read everything.
    func storeChangedUnknown()
}

/// A follower whose re-reads can fail and say so (grants, identities, root credentials).
/// ChangeFollowers retries a failure with backoff, and until a retry succeeds the node's
/// StoreFreshness runs out (fail closed).
public protocol FallibleStoreChangeFollower: StoreChangeFollower {
    /// Re-reads what these objects name; false if the store could not be read.
    func reread(_ objects: [StoreObject]) -> Bool
    /// Re-reads everything; false if the store could not be read.
    func rereadAll() -> Bool
}

/// Root credentials (`kms admin`) travel as identities of this kind in `StoreObject`.
public enum RootCredentialObject {
    public static let kind = "root-credential"
}
