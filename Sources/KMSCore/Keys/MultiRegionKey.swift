/// A multi-Region key's place among its related keys: the primary and its replicas share a
/// key ID, spec, usage, origin, material and rotation settings, and each related key carries
/// this record. Stored with the key's metadata (JSON), like KeyRotation.
public struct MultiRegionConfiguration: Sendable, Codable, Equatable {
    public enum KeyType: String, Sendable, Codable {
        case primary = "PRIMARY"
        case replica = "REPLICA"
    }

    public var keyType: KeyType
    public var primaryRegion: String
    /// Every replica's region, sorted (this key's own when it is a replica).
    public var replicaRegions: [String]
    /// The last change of the family this key has applied (MultiRegionChange.sequence): a
    /// change at or below it is a repeat and is ignored, so delivery may be at-least-once.
    public var sequence: Int64
    /// While UpdatePrimaryRegion runs (state Updating): the state to return to.
    public var stateBeforeUpdate: KeyState?
    /// While UpdatePrimaryRegion runs: the region becoming primary (lets a restarted server finish it).
    public var pendingPrimaryRegion: String?

    public init(keyType: KeyType, primaryRegion: String, replicaRegions: [String] = [], sequence: Int64 = 0,
                stateBeforeUpdate: KeyState? = nil) {
        self.keyType = keyType
        self.primaryRegion = primaryRegion
        self.replicaRegions = replicaRegions.sorted()
        self.sequence = sequence
        self.stateBeforeUpdate = stateBeforeUpdate
    }

    /// The primary and every replica region.
    public var allRegions: [String] { [primaryRegion] + replicaRegions }

    /// The same family seen from `region`: PRIMARY there if it is the primary region.
    /// The configuration once `newPrimary` has become the primary (UpdatePrimaryRegion done).
    public func withPrimary(_ newPrimary: String) -> MultiRegionConfiguration {
        var next = self
        next.replicaRegions = allRegions.filter { $0 != newPrimary }.sorted()
        next.primaryRegion = newPrimary
        next.stateBeforeUpdate = nil
        next.pendingPrimaryRegion = nil
        return next
    }

    public func seen(from region: String) -> MultiRegionConfiguration {
        var out = self
        out.keyType = region == primaryRegion ? .primary : .replica
        return out
    }
}

extension KMSKey {
    public var isMultiRegion: Bool { multiRegion != nil }
    public var isPrimaryKey: Bool { multiRegion?.keyType == .primary }
    public var isReplicaKey: Bool { multiRegion?.keyType == .replica }

    /// DescribeKey's MultiRegionConfiguration: PrimaryKey {Arn, Region} and ReplicaKeys.
    var multiRegionConfigurationJSON: JSONValue? {
        guard let mr = multiRegion else { return nil }
        func entry(_ region: String) -> JSONValue {
            .object(JSONObject([("Arn", .string(ARN.key(keyId, region: region, account: account))), ("Region", .string(region))]))
        }
        return .object(JSONObject([
            ("MultiRegionKeyType", .string(mr.keyType.rawValue)),
            ("PrimaryKey", entry(mr.primaryRegion)),
            ("ReplicaKeys", .array(mr.replicaRegions.map(entry))),
        ]))
    }
}

extension KeyIdentifier {
    /// A multi-Region key ID: "mrk-" and 32 lower-case hex digits (AWS's form).
    public static func newMultiRegionKeyId() -> String {
        "mrk-" + Hex.lower(SystemRandom.bytes(16))
    }

    public static func isMultiRegionKeyId(_ s: String) -> Bool { s.hasPrefix("mrk-") && isKeyId(s) }
}
