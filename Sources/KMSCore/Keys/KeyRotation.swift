/// A key's rotation settings and history. Stored with the key's metadata (JSON), so it
/// needs no table of its own; each rotation's material is an ordinary material version.
public struct KeyRotation: Sendable, Codable, Equatable {
    /// One completed rotation: which material version it made current, when, and why.
    public struct Record: Sendable, Codable, Equatable {
        public let version: UInt32
        public let materialId: String
        public let date: Double
        /// "AUTOMATIC" or "ON_DEMAND", as ListKeyRotations names them.
        public let type: String

        public init(version: UInt32, materialId: String, date: Double, type: String) {
            self.version = version
            self.materialId = materialId
            self.date = date
            self.type = type
        }
    }

    /// Automatic rotation is on (EnableKeyRotation).
    public var enabled = false
    /// Days between automatic rotations; nil until rotation is first enabled (AWS's default is 365).
    public var periodInDays: Int?
    /// Where the schedule counts from: the date rotation was enabled or the last automatic
    /// rotation. AWS keeps this when the period changes, so the next date moves with it.
    public var scheduleBase: Double?
    public var records: [Record] = []

    public init() {}

    public static let defaultPeriodInDays = 365
    /// AWS's lifetime limit of on-demand rotations per key (Developer Guide, "Perform
    /// on-demand key rotation": 25; older API reference pages still say 10).
    public static let onDemandLimit = 25

    public var nextRotationDate: Double? {
        guard enabled, let base = scheduleBase else { return nil }
        return base + Double(periodInDays ?? Self.defaultPeriodInDays) * 86_400
    }

    public var onDemandCount: Int { records.reduce(0) { $0 + ($1.type == "ON_DEMAND" ? 1 : 0) } }
}
