import Crypto
import Synchronization

/// Caches SigV4 signing keys per (secret, date, region, service). Deriving one costs
/// four chained HMACs (~10 µs); a request's scope repeats all day, so a hit replaces
/// them with one dictionary lookup. Also keeps the HMAC state already keyed with the
/// signing key, which saves re-padding the key on every request.
///
/// Thread-safe (one Mutex; derivation happens outside it). Bounded: when it holds
/// more than `limit` entries it is emptied, which only costs re-derivations.
public final class SigningKeyCache: Sendable {
    struct Scope: Hashable, Sendable {
        let secret: String
        let date: String
        let region: String
        let service: String
    }

    struct Entry: Sendable {
        let key: SymmetricKey
        /// HMAC-SHA256 already keyed with `key`: the per-request MAC skips the key setup.
        let mac: HMACSHA256
    }

    public let limit: Int
    private let entries = Mutex<[Scope: Entry]>([:])
    private let last = Mutex<(scope: Scope, entry: Entry)?>(nil)

    /// A process-wide cache, for verifiers and signers that are not given one.
    public static let shared = SigningKeyCache()

    public init(limit: Int = 4096) {
        self.limit = max(1, limit)
    }

    /// The signing key for this scope, from the cache or derived and stored.
    public func signingKey(secretAccessKey: String, date: String, region: String, service: String) -> SymmetricKey {
        entry(secretAccessKey: secretAccessKey, date: date, region: region, service: service).key
    }

    /// Number of cached keys.
    public var count: Int { entries.withLock { $0.count } }

    public func removeAll() {
        last.withLock { $0 = nil }
        entries.withLock { $0.removeAll() }
    }

    func entry(secretAccessKey: String, date: String, region: String, service: String) -> Entry {
        let scope = Scope(secret: secretAccessKey, date: date, region: region, service: service)
        // Most requests repeat the previous scope: four string compares instead of hashing.
        if let hit = last.withLock({ $0?.scope == scope ? $0?.entry : nil }) { return hit }
        if let hit = entries.withLock({ $0[scope] }) {
            last.withLock { $0 = (scope, hit) }
            return hit
        }
        let keyBytes = Self.derive(secretAccessKey: secretAccessKey, date: date, region: region, service: service)
        let entry = Entry(key: SymmetricKey(data: keyBytes), mac: HMACSHA256(key: keyBytes))
        let limit = self.limit
        entries.withLock { table in
            if table.count >= limit { table.removeAll(keepingCapacity: true) }
            table[scope] = entry
        }
        return entry
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"),
    /// computed afresh (no cache).
    public static func deriveSigningKey(secretAccessKey: String, date: String, region: String, service: String) -> SymmetricKey {
        SymmetricKey(data: derive(secretAccessKey: secretAccessKey, date: date, region: region, service: service))
    }

    static func derive(secretAccessKey: String, date: String, region: String, service: String) -> [UInt8] {
        var key = Array(("AWS4" + secretAccessKey).utf8)
        for part in [date, region, service, "aws4_request"] {
            key = HMACSHA256(key: key).authenticationCode(for: Array(part.utf8)).bytes
        }
        return key
    }
}
