import Foundation
import KMSCore
import KMSStorage

/// Builds the peer link from the server's configuration, or nil when no peer is set.
/// Refuses to start on a missing or bad key file, a peer without this deployment's
/// region, a peer URL that is not http(s), or a store without the link's tables.
struct PeerLinkWiring: Sendable {
    let receiver: PeerReceiver
    let worker: PeerOutboxWorker

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    static func isRegionName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 32 && s.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
    }

    static func settings(_ config: ServerConfiguration) throws -> PeerLinkSettings? {
        guard !config.peers.isEmpty else { return nil }
        guard let keyFile = config.peerKeyFile else {
            throw Invalid(description: "--peer needs --peer-key-file (make one with `kms admin peer-key --out FILE`; both deployments hold it)")
        }
        // Without --peer-region, a deployment serving exactly one region (--regions) is that region.
        let defaultRegion = config.regions.flatMap { $0.count == 1 ? $0.first : nil }
        guard let local = config.peerRegion ?? defaultRegion, isRegionName(local) else {
            throw Invalid(description: "--peer needs --peer-region REGION: the region this deployment serves on the link")
        }
        for (region, url) in config.peers {
            guard isRegionName(region), region != local else {
                throw Invalid(description: "--peer \(region)=...: the peer's region must be a region name other than --peer-region \(local)")
            }
            guard let u = URL(string: url), ["http", "https"].contains(u.scheme?.lowercased() ?? ""), u.host?.isEmpty == false else {
                throw Invalid(description: "--peer \(region)=\(url): the URL must be http(s)://host[:port]")
            }
        }
        let key: PeerKey
        do { key = try PeerKey.load(path: keyFile) }
        catch { throw Invalid(description: "refusing to start: \(error)") }
        return PeerLinkSettings(localRegion: local, peers: config.peers, key: key)
    }

    /// With `service`, multi-Region changes travel over the link both ways (MultiRegionPeerLink.swift).
    static func make(_ config: ServerConfiguration, store: any KeyStore, lease: any JobLease,
                     service: KMSService? = nil) throws -> PeerLinkWiring? {
        guard let settings = try settings(config) else { return nil }
        guard let linkStore = store as? any PeerLinkStore else { throw Invalid(description: "this store cannot hold the peer link's tables") }
        var handlers = PeerMessageHandlers()
        if let service {
            handlers.register(MultiRegionPeerHandler(service: service, peerRegions: Set(settings.peers.keys)))
            service.multiRegion.install(peers: MultiRegionPeerReplication(settings: settings))
        }
        let receiver = PeerReceiver(settings: settings, store: linkStore, handlers: handlers)
        let worker = PeerOutboxWorker(settings: settings, store: linkStore, handlers: handlers,
                                      client: PeerHTTPClient(caFile: config.peerCAFile), lease: lease,
                                      pollInterval: config.peerPollInterval, maxBackoff: config.peerMaxBackoff)
        // A commit that queued a peer message wakes the sender (no wait for the next poll).
        service?.registry.onPeerMessagesQueued { [worker] in worker.wake() }
        for (region, url) in settings.peers.sorted(by: { $0.key < $1.key }) {
            Console.line("kms: peer link: \(settings.localRegion) <-> \(region) at \(url) (peer key \(settings.key.keyId))")
        }
        return PeerLinkWiring(receiver: receiver, worker: worker)
    }
}
