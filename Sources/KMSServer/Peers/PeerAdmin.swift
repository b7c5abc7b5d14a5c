import Foundation
import KMSCore
import KMSStorage

/// `kms admin peer-key` and `kms admin peers`: work on the key file and on the store
/// directly (as the other admin commands do), so they need no running server.
public enum PeerAdmin {
    /// Writes a new peer key file (mode 0600; refuses an existing path); returns its key id.
    public static func makeKey(out path: String) throws -> String {
        let key = try PeerKey.generate()
        try key.write(to: path)
        return key.keyId
    }

    /// One link as `kms admin peers` shows it.
    public struct LinkStatus: Sendable {
        public let record: PeerLinkRecord
        public let queue: [(sequence: UInt64, kind: String, createdAt: Double)]
        /// Messages the peer refused for good (not retried; they no longer block the queue).
        public var deadLetters: [PeerDeadLetter] = []

        /// reachable: the last delivery attempt succeeded; unreachable: it failed; idle: never sent.
        public var state: String {
            switch (record.lastSuccessAt, record.lastErrorAt) {
            case (nil, nil): "idle"
            case (_?, nil): "reachable"
            case (nil, _?): "unreachable"
            case (let ok?, let failed?): ok >= failed ? "reachable" : "unreachable"
            }
        }
    }

    static func open(dataDirectory: String, storage: String?, root: RootSpec?) throws -> any PeerLinkStore {
        let store = try RootCredentialAdmin.open(dataDirectory: dataDirectory, storage: storage, root: root)
        guard let links = store as? any PeerLinkStore else { throw StorageError("this store has no peer link tables") }
        return links
    }

    public static func status(dataDirectory: String, storage: String?, root: RootSpec?, queueLimit: Int = 100) throws -> [LinkStatus] {
        let store = try open(dataDirectory: dataDirectory, storage: storage, root: root)
        return try store.peerLinks().map { link in
            let queue = try store.pendingPeerMessages(localRegion: link.localRegion, peerRegion: link.peerRegion, limit: queueLimit)
                .map { (sequence: $0.sequence, kind: $0.kind, createdAt: $0.createdAt) }
            var status = LinkStatus(record: link, queue: queue)
            status.deadLetters = try store.peerDeadLetters(localRegion: link.localRegion, peerRegion: link.peerRegion, limit: queueLimit)
            return status
        }
    }

    /// Queues a link-check to `peer` (the server's outbox worker delivers it); returns its sequence.
    public static func queueLinkCheck(localRegion: String, peer: String, dataDirectory: String, storage: String?,
                                      root: RootSpec?) throws -> UInt64 {
        guard PeerLinkWiring.isRegionName(localRegion), PeerLinkWiring.isRegionName(peer), localRegion != peer else {
            throw StorageError("--peer-region and --check take two different region names")
        }
        let store = try open(dataDirectory: dataDirectory, storage: storage, root: root)
        let now = Date().timeIntervalSince1970
        return try store.enqueuePeerMessage(LinkCheck.newMessage(localRegion: localRegion, peerRegion: peer, now: now), now: now)
    }
}
