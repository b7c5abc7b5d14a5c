import ArgumentParser
import Foundation
import KMSServer
import KMSStorage

extension AdminCommand {
    /// `kms admin peer-key --out FILE`: the shared secret of a peer link (both deployments hold the file).
    struct PeerKeyCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "peer-key",
            abstract: "Make a peer key file (256-bit secret and key id, mode 0600) for --peer-key-file on both linked deployments.")
        @Option(help: "Where to write the key file (must not exist).") var out: String

        func run() throws {
            let id = try PeerAdmin.makeKey(out: out)
            print("kms admin: peer key \(id) written to \(out) (mode 0600); copy it to the peer deployment over a secure channel")
        }
    }

    /// `kms admin peers`: each link's state and its queue of pending messages.
    struct PeersCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "peers",
            abstract: "Show each peer link's state (reachable/unreachable, last success, last error) and its pending messages.")
        @OptionGroup var store: StoreOptions
        @Option(name: .customLong("check"), help: "PEER_REGION: queue a link-check to that peer (needs --peer-region); the server delivers it.") var check: String?
        @Option(name: .customLong("peer-region"), help: "This deployment's region on the link (with --check).") var peerRegion: String?
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            if let check {
                guard let peerRegion else { throw ValidationError("--check needs --peer-region (this deployment's region on the link)") }
                let seq = try PeerAdmin.queueLinkCheck(localRegion: peerRegion, peer: check, dataDirectory: store.dataDir,
                                                       storage: store.storage, root: try store.rootSpec())
                print("kms admin: queued link-check #\(seq) \(peerRegion) -> \(check)")
            }
            let links = try PeerAdmin.status(dataDirectory: store.dataDir, storage: store.storage, root: try store.rootSpec())
            if json {
                let objects: [[String: Any]] = links.map { l in
                    var o: [String: Any] = [
                        "localRegion": l.record.localRegion, "peerRegion": l.record.peerRegion, "state": l.state,
                        "lastSentSequence": l.record.lastSentSequence, "lastReceivedSequence": l.record.lastReceivedSequence,
                        "pending": l.record.pending,
                        "queue": l.queue.map { ["sequence": $0.sequence, "kind": $0.kind, "createdAt": $0.createdAt] as [String: Any] },
                        "deadLetters": l.deadLetters.map {
                            ["sequence": $0.sequence, "kind": $0.kind, "reason": $0.reason, "createdAt": $0.createdAt,
                             "refusedAt": $0.refusedAt] as [String: Any]
                        },
                    ]
                    if let t = l.record.lastSuccessAt { o["lastSuccessAt"] = t }
                    if let e = l.record.lastError { o["lastError"] = e }
                    if let t = l.record.lastErrorAt { o["lastErrorAt"] = t }
                    if let t = l.record.lastReceivedAt { o["lastReceivedAt"] = t }
                    return o
                }
                let data = try JSONSerialization.data(withJSONObject: ["links": objects], options: [.sortedKeys, .prettyPrinted])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            if links.isEmpty { print("no peer links yet") }
            for l in links {
                func time(_ t: Double?) -> String { t.map { ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: $0)) } ?? "never" }
                print("\(l.record.localRegion) -> \(l.record.peerRegion)\t\(l.state)\tlast success \(time(l.record.lastSuccessAt))"
                      + "\tsent #\(l.record.lastSentSequence)\treceived #\(l.record.lastReceivedSequence)\tpending \(l.record.pending)"
                      + (l.deadLetters.isEmpty ? "" : "\tdead letters \(l.record.deadLetters)"))
                if let e = l.record.lastError { print("  last error (\(time(l.record.lastErrorAt))): \(e)") }
                for m in l.queue { print("  pending #\(m.sequence) \(m.kind) queued \(time(m.createdAt))") }
                for d in l.deadLetters { print("  dead letter #\(d.sequence) \(d.kind) refused \(time(d.refusedAt)): \(d.reason)") }
            }
        }
    }
}
