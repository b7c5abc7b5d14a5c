#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Requests by operation and outcome, with latency histograms, kept per thread so the hot
/// path takes no lock another thread contends: each event-loop or pool thread writes its
/// own shard (an uncontended Mutex, ~20 ns); a scrape merges the shards. Labels are only
/// model operation names and AWS error codes, never key IDs or caller input.
final class RequestMetrics: Sendable {
    /// Upper bounds in seconds (Prometheus `le`), from 100 µs to 5 s.
    static let buckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    struct Key: Hashable, Sendable {
        let operation: String
        let outcome: String
    }

    struct Stats: Sendable {
        var counts = [UInt64](repeating: 0, count: RequestMetrics.buckets.count)
        var total: UInt64 = 0
        var sum: Double = 0

        mutating func add(_ seconds: Double) {
            total &+= 1
            sum += seconds
            // First bucket that holds it; cumulated when rendered.
            var i = 0
            while i < RequestMetrics.buckets.count, seconds > RequestMetrics.buckets[i] { i += 1 }
            if i < counts.count { counts[i] &+= 1 }
        }

        mutating func merge(_ other: Stats) {
            for i in counts.indices { counts[i] &+= other.counts[i] }
            total &+= other.total
            sum += other.sum
        }
    }

    final class Shard: Sendable {
        let stats = Mutex<[Key: Stats]>([:])
    }

    private let shards = Mutex<[Shard]>([])
    private let key: pthread_key_t

    init() {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        key = k
    }

    /// This thread's shard (created on first use; threads are long-lived pool and loop threads).
    private func shard() -> Shard {
        if let raw = pthread_getspecific(key) {
            return Unmanaged<Shard>.fromOpaque(raw).takeUnretainedValue()
        }
        let s = Shard()
        shards.withLock { $0.append(s) }  // the list keeps it alive
        pthread_setspecific(key, Unmanaged.passUnretained(s).toOpaque())
        return s
    }

    func record(operation: String, outcome: String, nanoseconds: UInt64) {
        let seconds = Double(nanoseconds) / 1e9
        shard().stats.withLock { $0[Key(operation: operation, outcome: outcome), default: Stats()].add(seconds) }
    }

    /// The Prometheus text of the merged shards.
    func exposition() -> String {
        var merged: [Key: Stats] = [:]
        for shard in shards.withLock({ $0 }) {
            for (k, s) in shard.stats.withLock({ $0 }) { merged[k, default: Stats()].merge(s) }
        }
        let sorted = merged.sorted { ($0.key.operation, $0.key.outcome) < ($1.key.operation, $1.key.outcome) }
        var out = "# HELP kms_requests_total Requests by operation and outcome (ok, or the AWS error code).\n# TYPE kms_requests_total counter\n"
        for (k, s) in sorted { out += "kms_requests_total{operation=\"\(k.operation)\",outcome=\"\(k.outcome)\"} \(s.total)\n" }
        out += "# HELP kms_request_duration_seconds Time from a request's arrival in the pipeline to its response, by operation and outcome.\n"
        out += "# TYPE kms_request_duration_seconds histogram\n"
        for (k, s) in sorted {
            let labels = "operation=\"\(k.operation)\",outcome=\"\(k.outcome)\""
            var cumulative: UInt64 = 0
            for (i, bound) in Self.buckets.enumerated() {
                cumulative &+= s.counts[i]
                out += "kms_request_duration_seconds_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "kms_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} \(s.total)\n"
            out += "kms_request_duration_seconds_sum{\(labels)} \(s.sum)\n"
            out += "kms_request_duration_seconds_count{\(labels)} \(s.total)\n"
        }
        return out
    }

    /// Monotonic nanoseconds (vDSO clock_gettime, no system call).
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}
