import Foundation
import KMSCore
import KMSStorage
import Synchronization

/// The access keys the server accepts, held in memory for the hot path. On a cluster,
/// `kms admin` rotating or deactivating a root credential reaches running nodes through the
/// change feed (CredentialRegistry+ChangeFeed re-reads them all: they are few).
final class CredentialRegistry: Sendable {
    private let map: Mutex<[String: StoredCredential]>
    /// Where `replace(from:)` re-reads; nil for a fixed set (tests, benchmarks).
    let store: (any CredentialStore)?

    /// The credentials by access key ID, as they are now.
    var byAccessKey: [String: StoredCredential] { map.withLock { $0 } }

    /// One credential, looked up inside a short critical section: the hot path neither copies
    /// the dictionary out (a retain and release of its storage) nor holds the lock for long.
    func credential(accessKeyId: String) -> StoredCredential? { map.withLock { $0[accessKeyId] } }

    init(_ credentials: [StoredCredential], store: (any CredentialStore)? = nil) {
        map = Mutex(Self.index(credentials))
        self.store = store
    }

    static func index(_ credentials: [StoredCredential]) -> [String: StoredCredential] {
        var map: [String: StoredCredential] = [:]
        for c in credentials { map[c.accessKeyId] = c }
        return map
    }

    /// Re-reads every root credential from the store.
    func reload() throws {
        guard let store else { return }
        let fresh = Self.index(try store.loadCredentials())
        map.withLock { $0 = fresh }
    }

    /// What the first start did about root credentials, for the startup lines.
    enum Bootstrap {
        case existing
        /// Made now: random, or the operator's `seed`.
        case created(StoredCredential, seeded: Bool)
        /// A seed was given but the data dir already had other root credentials.
        case seedIgnored(existingAccessKeyId: String)
    }

    /// Creates the account's root credentials on first start (random, or the operator's
    /// `seed`) and writes them, in AWS shared-credentials format, to <data-dir>/credentials (0600).
    static func bootstrap(store: CredentialStore, account: String, dataDirectory: String,
                          seed: RootCredentialSeed? = nil) throws -> (CredentialRegistry, Bootstrap) {
        let existing = try store.loadCredentials()
        if let first = existing.first {
            let outcome: Bootstrap
            if let seed, !existing.contains(where: { seed.matches($0) }) {
                outcome = .seedIgnored(existingAccessKeyId: first.accessKeyId)
            } else {
                outcome = .existing
            }
            return (CredentialRegistry(existing, store: store), outcome)
        }
        let credential = StoredCredential(accessKeyId: seed?.accessKeyId ?? newAccessKeyId(),
                                          secretAccessKey: seed?.secretAccessKey ?? newSecret(),
                                          account: account, principalArn: "arn:aws:iam::\(account):root")
        try store.saveCredential(credential)
        try SecureFile.write("""
            [default]
            aws_access_key_id = \(credential.accessKeyId)
            aws_secret_access_key = \(credential.secretAccessKey)
            aws_account_id = \(credential.account)

            """, to: dataDirectory + "/credentials")
        return (CredentialRegistry([credential], store: store), .created(credential, seeded: seed != nil))
    }

    static func newAccessKeyId() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        return "AKIA" + String(SystemRandom.bytes(16).map { alphabet[Int($0 & 31)] })
    }

    static func newSecret() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        return String(SystemRandom.bytes(40).map { alphabet[Int($0 & 63)] })
    }
}

/// Root credentials chosen by the operator for a data dir's first start
/// (KMS_ROOT_ACCESS_KEY_ID / KMS_ROOT_SECRET_ACCESS_KEY), e.g. for a container whose
/// clients are configured in advance. Validated so they can be neither trivial nor break
/// the shared-credentials file they are written to.
public struct RootCredentialSeed: Sendable {
    public let accessKeyId: String
    public let secretAccessKey: String

    public init(accessKeyId: String, secretAccessKey: String) throws(RootCredentialError) {
        let idOK = (16...128).contains(accessKeyId.utf8.count)
            && accessKeyId.utf8.allSatisfy { Self.isAlphanumeric($0) }
        guard idOK else {
            throw RootCredentialError("KMS_ROOT_ACCESS_KEY_ID must be 16 to 128 letters and digits (like AKIA...), "
                                      + "got \(accessKeyId.utf8.count) characters.")
        }
        let secretOK = (16...128).contains(secretAccessKey.utf8.count)
            && secretAccessKey.utf8.allSatisfy { Self.isAlphanumeric($0) || "+/=_-".utf8.contains($0) }
        guard secretOK else {
            // The secret itself is never echoed.
            throw RootCredentialError("KMS_ROOT_SECRET_ACCESS_KEY must be 16 to 128 characters (AWS uses 40) of "
                                      + "A-Z a-z 0-9 + / = _ -, got \(secretAccessKey.utf8.count) characters.")
        }
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
    }

    func matches(_ credential: StoredCredential) -> Bool {
        guard credential.accessKeyId == accessKeyId else { return false }
        let a = Array(credential.secretAccessKey.utf8), b = Array(secretAccessKey.utf8)
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }  // constant time: a secret is compared
        return diff == 0
    }

    static func isAlphanumeric(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }
}

public struct RootCredentialError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
