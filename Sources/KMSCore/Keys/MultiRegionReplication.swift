import Dispatch
import Synchronization

/// Carries multi-Region changes to regions this deployment does not serve itself (the
/// peer link of issue 13 §3 implements it: an outbox in the store, retried until the peer
/// applies the change with `MultiRegionApplier`). Without one, such regions are refused.
public protocol MultiRegionReplication: Sendable {
    /// Whether a peer serves `region`.
    func serves(region: String) -> Bool
    /// Queues `change` for its region's peer; the returned store changes (an outbox row)
    /// commit in the same batch as the operation that made the change.
    func enqueue(_ change: MultiRegionChange) throws(KMSError) -> [StoreChange]
}

/// An audit event a multi-Region step leaves in the region it changed (CloudTrail records
/// ReplicateKey's CreateKey in the replica's region, UpdatePrimaryRegion in both, and
/// SynchronizeMultiRegionKey when shared properties are copied).
public struct MultiRegionEvent: Sendable, Equatable {
    public let eventName: String
    public let account, region, keyArn: String
    public let details: [String]
}

/// Routes each change: to this deployment's own store when it serves the target region
/// (applied in the caller's batch, idempotently), else to the installed peer link.
/// Completion steps (the replica leaving Creating, the keys leaving Updating) run later,
/// off the request, through the same route.
public final class MultiRegionRouter: Sendable {
    struct State: Sendable {
        /// nil: every valid region (the default).
        var servedRegions: Set<String>?
        var peers: (any MultiRegionReplication)?
        /// Seconds before a completion step runs; nil runs it at once (tests).
        var completionDelay: Double? = 0.2
        var sink: (@Sendable (MultiRegionEvent) -> Void)?
    }

    private let state = Mutex(State())

    public init() {}

    public func configure(servedRegions: Set<String>?) { state.withLock { $0.servedRegions = servedRegions } }
    public func install(peers: any MultiRegionReplication) { state.withLock { $0.peers = peers } }
    public func install(events sink: @escaping @Sendable (MultiRegionEvent) -> Void) { state.withLock { $0.sink = sink } }
    public func setCompletionDelay(_ seconds: Double?) { state.withLock { $0.completionDelay = seconds } }

    public var servedRegions: Set<String>? { state.withLock { $0.servedRegions } }

    /// This deployment holds `region`'s keys.
    public func servesLocally(_ region: String) -> Bool {
        // The region's syntax is checked by the request model (RegionType's pattern).
        return state.withLock { $0.servedRegions?.contains(region) ?? true }
    }

    /// Some route reaches `region` (this deployment or a peer).
    public func reaches(_ region: String) -> Bool {
        servesLocally(region) || (state.withLock { $0.peers }?.serves(region: region) ?? false)
    }

    /// A batch's worth of routed changes: the store writes and the events to record once they commit.
    public struct Routed: Sendable {
        public var changes: [StoreChange] = []
        public var events: [MultiRegionEvent] = []

        public init() {}

        mutating func add(_ other: Routed) {
            changes += other.changes
            events += other.events
        }
    }

    /// The store changes that apply `change` (to be written in the caller's batch).
    public func route(_ change: MultiRegionChange, registry: KeyRegistry, now: Double) throws(KMSError) -> Routed {
        var out = Routed()
        if servesLocally(change.targetRegion) {
            let existing = try registry.key(account: change.account, region: change.targetRegion, keyId: change.keyId)
            guard let updated = MultiRegionApplier.apply(change, to: existing, now: now) else { return out }
            out.changes.append(.putKey(updated))
            if let name = Self.eventName(change.kind) {
                out.events.append(MultiRegionEvent(eventName: name, account: change.account, region: change.targetRegion,
                                                   keyArn: updated.arn, details: [change.kind.rawValue]))
            }
            return out
        }
        guard let peers = state.withLock({ $0.peers }), peers.serves(region: change.targetRegion) else {
            throw KMSError(.kmsInternal, "The Region \(change.targetRegion) is not reachable from this deployment.")
        }
        out.changes = try peers.enqueue(change)
        return out
    }

    /// CloudTrail's names for each step in the region it changes.
    static func eventName(_ kind: MultiRegionChange.Kind) -> String? {
        switch kind {
        case .createReplica: "CreateKey"
        case .beginPrimaryUpdate: "UpdatePrimaryRegion"
        case .completeReplica, .synchronize, .completePrimaryUpdate, .replicaDeleted: "SynchronizeMultiRegionKey"
        }
    }

    /// Records committed steps' events.
    public func record(_ events: [MultiRegionEvent]) {
        guard !events.isEmpty, let sink = state.withLock({ $0.sink }) else { return }
        for e in events { sink(e) }
    }

    /// Runs `changes` after the completion delay, each in its own write (a conflict or a
    /// missing target is retried by the write, then left for the repair in `resumeStalled`).
    func schedule(_ changes: [MultiRegionChange], service: KMSService, now: Bool = false) {
        guard !changes.isEmpty else { return }
        let run: @Sendable () -> Void = { [self] in
            for change in changes {
                let routed = try? service.registry.write { () throws(KMSError) -> (Routed, [StoreChange]) in
                    let r = try self.route(change, registry: service.registry, now: service.clock.now())
                    return (r, r.changes)
                }
                if let routed { record(routed.events) }
            }
        }
        if !now, let delay = state.withLock({ $0.completionDelay }) {
            DispatchQueue.global().asyncAfter(deadline: .now() + delay, execute: run)
        } else {
            run()
        }
    }
}
