import KMSCore
import KMSStorage

/// What a node does to be one of several on a shared PostgreSQL: follow the changes the
/// others commit (PostgresChangeFeed evicts them from this node's cache) and take part in
/// choosing the one node that runs the background jobs (PostgresJobLease). On SQLite the
/// node is alone: nothing to follow, and it always runs the jobs. Several processes on one
/// SQLite file are not a supported cluster: their caches would not see each other's changes.
final class ClusterMembership: Sendable {
    let feed: PostgresChangeFeed?
    let lease: any JobLease
    private let postgresLease: PostgresJobLease?

    private init(feed: PostgresChangeFeed?, lease: any JobLease, postgresLease: PostgresJobLease?) {
        self.feed = feed
        self.lease = lease
        self.postgresLease = postgresLease
    }

    /// `followers`: what the node holds whole in memory (grants, identities, root
    /// credentials), re-read when another node changes it.
    static func join(store: any KeyStore, registry: KeyRegistry, pollInterval: Double,
                     followers: [any StoreChangeFollower] = []) throws -> ClusterMembership {
        guard let postgres = store as? PostgresKeyStore else {
            return ClusterMembership(feed: nil, lease: SingleNodeLease(), postgresLease: nil)
        }
        let feed = PostgresChangeFeed(store: postgres, registry: registry,
                                      pollInterval: .milliseconds(Int64(max(0.01, pollInterval) * 1000)))
        followers.forEach(feed.follow)
        try feed.start()
        let lease = PostgresJobLease(store: postgres)
        lease.start()
        return ClusterMembership(feed: feed, lease: lease, postgresLease: lease)
    }

    func stop() {
        feed?.stop()
        postgresLease?.stop()
    }
}
