import Synchronization

/// A rotation of a key's material, as CloudTrail's RotateKey service event records it
/// (serviceEventDetails: rotationType, keyOrigin, previousKeyMaterialId, currentKeyMaterialId).
public struct KeyRotationEvent: Sendable, Equatable {
    public let account, region, keyArn: String
    public let rotationType: String
    public let keyOrigin: String
    public let previousKeyMaterialId: String?
    public let currentKeyMaterialId: String

    /// The event's serviceEventDetails, in CloudTrail's order.
    public var details: [(String, String)] {
        var out = [("rotationType", rotationType), ("keyOrigin", keyOrigin)]
        if let previousKeyMaterialId { out.append(("previousKeyMaterialId", previousKeyMaterialId)) }
        out.append(("currentKeyMaterialId", currentKeyMaterialId))
        return out
    }
}

/// Where on-demand rotations are reported once their material is stored: CloudTrail writes a
/// RotateKey AwsServiceEvent for each rotation, on demand as well as automatic. The server
/// installs the audit trail here; without one (tests, benchmarks) events go nowhere.
public final class KeyRotationEvents: Sendable {
    private let sink = Mutex<(@Sendable (KeyRotationEvent) -> Void)?>(nil)

    public init() {}

    public func install(_ sink: @escaping @Sendable (KeyRotationEvent) -> Void) {
        self.sink.withLock { $0 = sink }
    }

    func emit(_ event: KeyRotationEvent) {
        sink.withLock { $0 }?(event)
    }
}
