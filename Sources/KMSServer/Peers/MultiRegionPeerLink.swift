import Foundation
import KMSCore
import KMSStorage

/// Multi-Region keys across peer deployments (issue 13 §3): a change addressed to a region
/// a peer serves is queued in the peer link's outbox as an `mrk-change` message (material
/// versions as secrets, sealed at rest and wrapped for the peer on the wire); the peer
/// applies it with `MultiRegionApplier` into its own store.
struct MultiRegionPeerReplication: MultiRegionReplication {
    let settings: PeerLinkSettings

    func serves(region: String) -> Bool { settings.peers[region] != nil }

    /// The outbox row is a change of the operation's own batch: it commits with the
    /// operation or not at all, so a batch that fails or conflicts (and re-runs) leaves no
    /// message for the peer to apply.
    func enqueue(_ change: MultiRegionChange) throws(KMSError) -> [StoreChange] {
        let wire = try change.wireForm()
        return [.queuePeerMessage(NewPeerMessage(localRegion: settings.localRegion, peerRegion: change.targetRegion,
                                                 kind: MultiRegionPeerHandler.kind, body: wire.body, secrets: wire.secrets))]
    }
}

/// `mrk-change` on the receiving deployment: reads the change, checks it is addressed to a
/// region this deployment serves itself, and applies it through the multi-Region router's
/// local route (the same applier and audit events as a change made here). Idempotent: the
/// applier ignores a change already applied, so a redelivery changes nothing.
struct MultiRegionPeerHandler: PeerMessageHandler {
    static let kind = "mrk-change"
    var kind: String { Self.kind }

    let service: KMSService
    /// The regions this deployment reaches only through peers: a change for one is refused
    /// here (it would loop back over a link).
    let peerRegions: Set<String>

    func apply(_ message: PeerInboundMessage, keys: PeerLinkKeys) throws -> String {
        let change: MultiRegionChange
        do {
            change = try MultiRegionChange(wireBody: message.body, secrets: message.secrets) { [service] account, region, keyId, version, check in
                service.sealPeerMaterialCheck(check, account: account, region: region, keyId: keyId, version: version)
            }
        }
        catch { throw PeerLinkError.refused("mrk-change: \(error)") }
        guard !peerRegions.contains(change.targetRegion), service.multiRegion.servesLocally(change.targetRegion) else {
            throw PeerLinkError.refused("mrk-change: this deployment does not serve \(change.targetRegion.prefix(64))")
        }
        let router = service.multiRegion
        let routed = try service.registry.write { () throws(KMSError) -> (MultiRegionRouter.Routed, [StoreChange]) in
            let r = try router.route(change, registry: service.registry, now: service.clock.now())
            return (r, r.changes)
        }
        router.record(routed.events)
        return "{\"applied\":\(routed.changes.isEmpty ? "false" : "true")}"
    }
}
