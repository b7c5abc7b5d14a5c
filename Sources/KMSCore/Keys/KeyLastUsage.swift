import Synchronization

/// The last successful cryptographic operation on a key, as GetKeyLastUsage reports it.
public struct KeyLastUsage: Sendable, Equatable {
    public let operation: String
    public let time: Double
    public let cloudTrailEventId: String
    public let kmsRequestId: String

    public init(operation: String, time: Double, cloudTrailEventId: String, kmsRequestId: String) {
        self.operation = operation
        self.time = time
        self.cloudTrailEventId = cloudTrailEventId
        self.kmsRequestId = kmsRequestId
    }
}

/// Each key's last successful cryptographic operation, fed by the audit trail (the event
/// of the call holds the IDs GetKeyLastUsage returns), and when tracking began: the
/// oldest event the node read from its trail at start, or the start itself.
public final class KeyUsageTracker: Sendable {
    /// KeyLastUsageTrackingOperation in the KMS model.
    public static let operations: Set<String> = [
        "Decrypt", "DeriveSharedSecret", "Encrypt", "GenerateDataKey", "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext", "GenerateDataKeyWithoutPlaintext", "GenerateMac",
        "ReEncrypt", "Sign", "Verify", "VerifyMac",
    ]

    struct State {
        var trackingStart: Double?
        var last: [String: KeyLastUsage] = [:]
        /// Sources that keep uses not recorded here yet (the audit trail keeps each key's
        /// newest and hands them over on read): each records them, and returns false once
        /// it is gone.
        var sources: [(id: Int, handOver: @Sendable () -> Bool)] = []
        var nextSource = 0
    }
    private let state = Mutex(State())

    public init() {}

    /// Tracking starts at the first call (later calls keep the earlier time).
    public func startTracking(at time: Double) {
        state.withLock { s in if s.trackingStart.map({ time < $0 }) ?? true { s.trackingStart = time } }
    }

    public var trackingStart: Double? { state.withLock { $0.trackingStart } }

    /// Records a successful call on the keys named (ReEncrypt names both of its keys).
    /// Times compare in whole seconds, the trail's precision (a cluster node's use read
    /// back from PostgreSQL has no fraction): in the same second the later record wins.
    public func record(keyArns: [String], _ usage: KeyLastUsage) {
        guard Self.operations.contains(usage.operation), !keyArns.isEmpty else { return }
        let second = usage.time.rounded(.down)
        state.withLock { s in
            for arn in keyArns where s.last[arn].map({ $0.time.rounded(.down) <= second }) ?? true { s.last[arn] = usage }
        }
    }

    /// Adds a source whose uses `handOver` records here before each read. It is called
    /// without this tracker's lock held (it records, which takes it).
    public func feed(from handOver: @escaping @Sendable () -> Bool) {
        state.withLock { s in
            s.sources.append((s.nextSource, handOver))
            s.nextSource += 1
        }
    }

    public func lastUsage(keyArn: String) -> KeyLastUsage? {
        let sources = state.withLock { $0.sources }
        var gone: [Int] = []
        for source in sources where !source.handOver() { gone.append(source.id) }
        return state.withLock { s in
            if !gone.isEmpty { s.sources.removeAll { gone.contains($0.id) } }
            return s.last[keyArn]
        }
    }
}
