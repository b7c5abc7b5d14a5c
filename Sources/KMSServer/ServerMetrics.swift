import CoreMetrics
import KMSCore
import KMSStorage
import Prometheus

/// The node's Prometheus metrics at GET /metrics. Storage latency, background-job runs and
/// keys by state go through swift-metrics into a swift-prometheus registry (off the hot
/// path: store calls and jobs); requests by operation and outcome are kept per thread by
/// RequestMetrics (on the hot path: no contended lock); cache counters are read from the
/// registry at scrape time. No label carries a key ID, an alias, or anything a caller sent.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    let requests = RequestMetrics()
    private let storeTimers: [KeyRegistry.StoreCall: CoreMetrics.Timer]
    private let sweepsOK: CoreMetrics.Counter
    private let sweepsFailed: CoreMetrics.Counter
    private let keysByState: [KeyState: Prometheus.Gauge]

    static let storeBuckets: [Duration] = [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                                           .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                           .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1), .seconds(5)]
    static let states: [KeyState] = [.enabled, .disabled, .pendingDeletion, .pendingImport]

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["kms_storage_duration_seconds"] = Self.storeBuckets
        var timers: [KeyRegistry.StoreCall: CoreMetrics.Timer] = [:]
        for call in KeyRegistry.StoreCall.allCases {
            timers[call] = CoreMetrics.Timer(label: "kms_storage_duration_seconds", dimensions: [("call", call.rawValue)], factory: factory)
        }
        storeTimers = timers
        sweepsOK = CoreMetrics.Counter(label: "kms_background_job_runs_total", dimensions: [("job", "deletion_sweep"), ("outcome", "ok")], factory: factory)
        sweepsFailed = CoreMetrics.Counter(label: "kms_background_job_runs_total", dimensions: [("job", "deletion_sweep"), ("outcome", "failed")], factory: factory)
        var gauges: [KeyState: Prometheus.Gauge] = [:]
        for state in Self.states { gauges[state] = registry.makeGauge(name: "kms_keys", labels: [("state", state.rawValue)]) }
        keysByState = gauges
    }

    func observeStore(_ call: KeyRegistry.StoreCall, _ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        storeTimers[call]?.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    func jobRan(ok: Bool) { (ok ? sweepsOK : sweepsFailed).increment() }

    /// Counts of keys by state in the whole store (set by the node running the jobs).
    func setKeyCounts(_ counts: [String: Int]) {
        for state in Self.states { keysByState[state]?.set(Double(counts[state.rawValue] ?? 0)) }
    }

    func exposition(service: KMSService, cluster: ClusterMembership) -> [UInt8] {
        var out = registry.emitToBuffer()
        let stats = service.registry.stats
        var text = requests.exposition()
        func metric(_ name: String, _ type: String, _ help: String, _ value: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n\(name) \(value)\n"
        }
        metric("kms_key_cache_hits_total", "counter", "Key and alias lookups answered from memory.", "\(stats.hits)")
        metric("kms_key_cache_misses_total", "counter", "Key and alias lookups that read the store.", "\(stats.misses)")
        metric("kms_key_cache_keys", "gauge", "Keys held in memory.", "\(stats.cachedKeys)")
        metric("kms_key_cache_aliases", "gauge", "Aliases held in memory.", "\(stats.cachedAliases)")
        metric("kms_background_job_lease_held", "gauge", "1 while this node runs the background jobs.", cluster.lease.isHeld ? "1" : "0")
        out += Array(text.utf8)
        return out
    }
}
