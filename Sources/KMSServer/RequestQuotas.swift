#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import KMSCore
import Synchronization

/// Request rates per second, as AWS KMS's request quotas group them ("Request quotas" in
/// the AWS KMS Developer Guide); nil is unlimited, the default.
public struct RequestQuotaRates: Sendable, Equatable {
    /// Shared by the symmetric cryptographic operations: Encrypt, Decrypt and ReEncrypt
    /// with a symmetric key, GenerateDataKey(WithoutPlaintext), GenerateMac, VerifyMac,
    /// GenerateRandom.
    public var symmetric: Double?
    /// Shared by Encrypt, Decrypt, ReEncrypt, Sign and Verify with RSA keys.
    public var rsa: Double?
    /// Shared by Sign, Verify, DeriveSharedSecret (and SM2 Encrypt/Decrypt) with elliptic
    /// curve keys; this server also counts Ed25519 and ML-DSA keys here.
    public var ecc: Double?
    /// Every other operation (CreateKey, DescribeKey, ListKeys, GetPublicKey, ...) has a
    /// quota of its own at this rate, as AWS gives each management API its own;
    /// GenerateDataKeyPair has one per key pair spec, as in AWS.
    public var management: Double?

    public init(symmetric: Double? = nil, rsa: Double? = nil, ecc: Double? = nil, management: Double? = nil) {
        self.symmetric = symmetric
        self.rsa = rsa
        self.ecc = ecc
        self.management = management
    }

    public var isUnlimited: Bool { symmetric == nil && rsa == nil && ecc == nil && management == nil }
}

/// Token buckets per (account, region, quota), refilled at the configured rate and holding
/// one second's worth of requests (AWS counts requests per second).
///
/// The hot path: with every quota unlimited (the default) the pipeline checks one Bool and
/// never gets here. With quotas, a check is one hash lookup under one of 16 locks picked by
/// the key's hash, so event loops rarely contend.
final class RequestQuotas: Sendable {
    let rates: RequestQuotaRates
    /// Requests refused for being over quota.
    let throttled = Atomic<Int>(0)

    struct BucketKey: Hashable, Sendable {
        let account: String
        let region: String
        let quota: String
    }

    struct TokenBucket: Sendable {
        var tokens: Double
        var updated: UInt64
        let rate: Double

        var capacity: Double { max(1, rate) }
        func tokens(at now: UInt64) -> Double { min(capacity, tokens + Double(now &- updated) / 1e9 * rate) }
    }

    private final class Shard: Sendable {
        let buckets = Mutex<[BucketKey: TokenBucket]>([:])
    }

    private let shards: [Shard] = (0..<16).map { _ in Shard() }
    /// Past this many buckets in a shard, buckets that have refilled completely (exactly
    /// like absent ones) are dropped, so callers inventing accounts or regions cannot grow
    /// the table without bound.
    static let maxBucketsPerShard = 4096

    init(rates: RequestQuotaRates) {
        self.rates = rates
    }

    /// Whether the caller may run `operation` now; charges one request to its quota.
    func admit(_ operation: String, body: JSONValue, caller: Caller, service: KMSService) -> Bool {
        guard let (quota, rate) = quota(for: operation, body: body, caller: caller, service: service) else { return true }
        if take(BucketKey(account: caller.account, region: caller.region, quota: quota), rate: rate, now: Self.now()) {
            return true
        }
        throttled.add(1, ordering: .relaxed)
        return false
    }

    /// The quota `operation` counts against and its rate, or nil when that quota is unlimited.
    func quota(for operation: String, body: JSONValue, caller: Caller, service: KMSService) -> (String, Double)? {
        let object = body.objectValue
        switch operation {
        case "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateMac", "VerifyMac", "GenerateRandom":
            return rates.symmetric.map { ("symmetric", $0) }
        case "Encrypt", "Decrypt", "ReEncrypt", "Sign", "Verify", "DeriveSharedSecret":
            // The quota follows the key's type, so the key is looked up (only when one of
            // these quotas is set). A key that does not resolve is charged as symmetric (or
            // ECC for asymmetric-only operations); the operation then fails as usual.
            guard rates.symmetric != nil || rates.rsa != nil || rates.ecc != nil else { return nil }
            let member = operation == "ReEncrypt" ? "DestinationKeyId" : "KeyId"
            var spec: KeySpec?
            if let id = object?[member]?.stringValue {
                spec = try? service.resolveKey(id, caller: caller, allowAlias: true).keySpec
            }
            let asymmetricOnly = operation == "Sign" || operation == "Verify" || operation == "DeriveSharedSecret"
            switch spec {
            case .some(.rsa2048), .some(.rsa3072), .some(.rsa4096):
                return rates.rsa.map { ("rsa", $0) }
            case .some(let s) where s.isAsymmetric:
                return rates.ecc.map { ("ecc", $0) }
            case nil where asymmetricOnly:
                return rates.ecc.map { ("ecc", $0) }
            default:
                return rates.symmetric.map { ("symmetric", $0) }
            }
        case "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext":
            guard let rate = rates.management else { return nil }
            return ("\(operation) (\(object?["KeyPairSpec"]?.stringValue ?? ""))", rate)
        default:
            return rates.management.map { (operation, $0) }
        }
    }

    /// Takes one token from the bucket of `key`, refilled for the time since its last use.
    func take(_ key: BucketKey, rate: Double, now: UInt64) -> Bool {
        guard rate > 0 else { return false }
        let capacity = max(1, rate)
        return shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))].buckets.withLock { buckets in
            if buckets.count >= Self.maxBucketsPerShard {
                buckets = buckets.filter { $0.value.tokens(at: now) < $0.value.capacity }
            }
            var bucket = buckets[key] ?? TokenBucket(tokens: capacity, updated: now, rate: rate)
            bucket.tokens = bucket.tokens(at: now)
            bucket.updated = now
            let admitted = bucket.tokens >= 1
            if admitted { bucket.tokens -= 1 }
            buckets[key] = bucket
            return admitted
        }
    }

    /// Monotonic nanoseconds.
    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
