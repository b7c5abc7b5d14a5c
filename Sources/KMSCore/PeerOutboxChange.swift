/// A message for a peer deployment (issue 13 §3): queued in the peer link's outbox, either
/// alone (`PeerLinkStore.enqueuePeerMessage`) or as `StoreChange.queuePeerMessage` in the same
/// store batch as the change that made it, so a batch that fails or conflicts leaves no
/// message behind for the peer to apply.
/// Its body is JSON without secrets; `secrets` are sealed at rest and wrapped for the peer
/// only when sent.
public struct NewPeerMessage: Sendable {
    public var localRegion: String
    public var peerRegion: String
    public var kind: String
    public var body: String
    public var secrets: [[UInt8]]

    public init(localRegion: String, peerRegion: String, kind: String, body: String, secrets: [[UInt8]] = []) {
        self.localRegion = localRegion
        self.peerRegion = peerRegion
        self.kind = kind
        self.body = body
        self.secrets = secrets
    }
}
