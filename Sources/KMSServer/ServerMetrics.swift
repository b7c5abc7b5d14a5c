import KMSCore

/// The Prometheus text exposition of this node's counters (no key IDs, no material).
enum ServerMetrics {
    static func exposition(service: KMSService, cluster: ClusterMembership) -> [UInt8] {
        let stats = service.registry.stats
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ value: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        metric("kms_key_cache_hits_total", "counter", "Key and alias lookups answered from memory.", "\(stats.hits)")
        metric("kms_key_cache_misses_total", "counter", "Key and alias lookups that read the store.", "\(stats.misses)")
        metric("kms_key_cache_keys", "gauge", "Keys held in memory.", "\(stats.cachedKeys)")
        metric("kms_key_cache_aliases", "gauge", "Aliases held in memory.", "\(stats.cachedAliases)")
        metric("kms_background_job_runs_total", "counter", "Deletion sweeps this node ran.", "\(cluster.jobRuns.load(ordering: .relaxed))")
        metric("kms_background_job_lease_held", "gauge", "1 while this node runs the background jobs.", cluster.lease.isHeld ? "1" : "0")
        return Array(out.utf8)
    }
}
