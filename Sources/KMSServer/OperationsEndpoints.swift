import Foundation
import KMSCore
import NIOCore
import NIOHTTP1
import Synchronization

/// GET /health/live, /health/ready and /metrics, for load balancers and Prometheus.
/// Live: the process answers. Ready: the store answers with the schema this build
/// expects, and the node is not draining (SIGTERM). Neither needs credentials nor says
/// more than ok / not ready and why; metrics carry no key IDs or material.
struct OperationsEndpoints: Sendable {
    /// Throws what is not ready; blocks (reads the store), so it runs off the event loop.
    let readiness: @Sendable () throws -> Void
    /// The Prometheus text exposition.
    let metrics: @Sendable () -> [UInt8]
    let draining: ShutdownDrain

    func outcome(for uri: String) -> RequestPipeline.Outcome? {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        switch path {
        case "/health/live":
            return .respond(Self.text(.ok, "ok\n"))
        case "/health/ready":
            if draining.isDraining { return .respond(Self.text(.serviceUnavailable, "not ready: shutting down\n")) }
            let readiness = readiness
            return .offload(RequestPipeline.BlockingWork(lane: .writes, account: "-health", refuse: { _ in
                Self.text(.serviceUnavailable, "not ready: busy\n")
            }) {
                do {
                    try readiness()
                    return Self.text(.ok, "ready\n")
                } catch {
                    return Self.text(.serviceUnavailable, "not ready: storage: \(error)\n")
                }
            })
        case "/metrics":
            return .respond(RequestPipeline.Response(status: .ok, body: metrics(), requestID: RequestID.next(),
                                                     contentType: "text/plain; version=0.0.4; charset=utf-8"))
        default:
            return nil
        }
    }

    static func text(_ status: HTTPResponseStatus, _ body: String) -> RequestPipeline.Response {
        RequestPipeline.Response(status: status, body: Array(body.utf8), requestID: RequestID.next(),
                                 contentType: "text/plain; charset=utf-8")
    }
}

/// SIGTERM: stop accepting, tell every open connection to close once its requests are
/// answered (as if the client had half-closed), and wait for them up to a deadline.
final class ShutdownDrain: Sendable {
    private let state = Mutex<(draining: Bool, channels: [ObjectIdentifier: any Channel])>((false, [:]))

    var isDraining: Bool { state.withLock { $0.draining } }
    var openChannels: Int { state.withLock { $0.channels.count } }

    /// Tracks `channel` until it closes (once per connection, not per request).
    func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        state.withLock { $0.channels[id] = channel }
        channel.closeFuture.whenComplete { _ in _ = self.state.withLock { $0.channels.removeValue(forKey: id) } }
    }

    /// Asks every connection to finish; returns after they closed or `deadline` seconds.
    func drain(deadline: Double) async {
        let channels = state.withLock { s -> [any Channel] in
            s.draining = true
            return Array(s.channels.values)
        }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(DrainRequest()) }
        let end = Date().addingTimeInterval(deadline)
        while openChannels > 0, Date() < end {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// The user event KMSHTTPHandler treats like the client's half-close: answer what was
/// received, then close.
struct DrainRequest: Sendable {}
