import Crypto
import Foundation
import KMSCore
import KMSStorage

#if canImport(Glibc)
import Glibc
#endif

/// Signed digest records, in the spirit of CloudTrail's log file integrity validation:
/// `<data-dir>/audit/digests.jsonl` holds one JSON line per digest, covering the records
/// since the previous digest (first/last sequence, the hash of the last record, times),
/// chained to the previous digest line and signed with Ed25519.
///
/// A hash chain alone can be recomputed by whoever edits the files; the signature cannot
/// be made without the signing key, which is derived from the root key (HKDF, its own
/// label), so every node holding the root key signs with the same key and nothing new is
/// stored. `kms audit public-key` prints the public key; `kms audit verify` checks the
/// digests with it (or derives it from the data dir's root key).
public struct AuditDigestSigner: Sendable {
    static let label = "swift-kms audit digest signing key v1"
    let privateKey: Curve25519.Signing.PrivateKey

    public init(rootKey: RootKey) throws {
        let seed = rootKey.derivedKey(label: Self.label).withUnsafeBytes { Array($0) }
        privateKey = try Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    }

    public var publicKey: AuditDigestPublicKey { AuditDigestPublicKey(key: privateKey.publicKey) }

    func sign(_ bytes: [UInt8]) -> [UInt8]? { try? Array(privateKey.signature(for: bytes)) }
}

/// The digest verification key: raw Ed25519 (32 bytes), printed as a PEM SubjectPublicKeyInfo.
public struct AuditDigestPublicKey: Sendable {
    let key: Curve25519.Signing.PublicKey
    /// SubjectPublicKeyInfo prefix of an Ed25519 key (RFC 8410).
    static let spkiPrefix: [UInt8] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00]

    init(key: Curve25519.Signing.PublicKey) { self.key = key }

    /// PEM ("-----BEGIN PUBLIC KEY-----") or the base64 of the 32 raw bytes.
    public init?(text: String) {
        let body = text.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard var bytes = Base64.decode(body) else { return nil }
        if bytes.count == 44, Array(bytes.prefix(12)) == Self.spkiPrefix { bytes = Array(bytes.dropFirst(12)) }
        guard bytes.count == 32, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes) else { return nil }
        self.key = key
    }

    public var pem: String {
        let der = Self.spkiPrefix + Array(key.rawRepresentation)
        return "-----BEGIN PUBLIC KEY-----\n\(Base64.encode(der))\n-----END PUBLIC KEY-----\n"
    }

    /// SHA-256 of the raw key, hex: named in each digest so a verifier sees which key signed.
    public var fingerprint: String { AuditLog.hex(Array(SHA256.hash(data: Array(key.rawRepresentation)))) }

    func isValid(_ signature: [UInt8], for bytes: ArraySlice<UInt8>) -> Bool {
        key.isValidSignature(signature, for: Array(bytes))
    }
}

/// When digests are written: every `interval` seconds (at the fsync timer) when records
/// were added, and as soon as `everyEvents` records are not covered (0: time only).
public struct AuditDigestPolicy: Sendable {
    public var interval: Double = 60
    public var everyEvents = 0
    public init(interval: Double = 60, everyEvents: Int = 0) {
        self.interval = interval
        self.everyEvents = everyEvents
    }
}

/// The digest file and the writer's view of its end.
struct AuditDigests {
    static let fileName = "digests.jsonl"
    static let signatureMember = Array(#","signature":""#.utf8)

    var fd: Int32 = -1
    var count = 0
    /// Sequence of the last record covered, and when that digest was written.
    var lastEnd = 0
    var lastTime: Double = 0
    var lastLineHash = [UInt8](repeating: 0, count: 32)

    /// Opens the digest file and reads its end (a line cut by a crash is removed).
    static func open(directory: String, now: Double) throws -> AuditDigests {
        let path = directory + "/" + fileName
        var d = AuditDigests()
        if let data = FileManager.default.contents(atPath: path) {
            let bytes = [UInt8](data)
            var start = 0, complete = 0
            while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = bytes[start..<newline]
                d.count += 1
                d.lastLineHash = Array(SHA256.hash(data: line))
                if let o = try? JSONParser.parse(Array(line)).objectValue {
                    d.lastEnd = o["digestEndSequence"]?.intValue ?? 0
                }
                start = newline + 1
                complete = start
            }
            if complete < bytes.count {
                Console.error("kms: warning: \(path) ends in a partial digest (cut by a crash); removing it")
                guard truncate(path, off_t(complete)) == 0 else { throw AuditError("cannot truncate \(path)") }
            }
        }
        d.lastTime = now
        d.fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard d.fd >= 0 else { throw AuditError("cannot open \(path): \(String(cString: strerror(errno)))") }
        return d
    }

    /// Writes one signed digest covering records `lastEnd+1 ... end` (whose last hash is
    /// `lastHash`). The caller holds the audit lock, so no record slips in between.
    mutating func write(end: Int, lastHash: [UInt8], now: Double, signer: AuditDigestSigner, policy: AuditDigestPolicy) -> Bool {
        guard end > lastEnd else { return true }
        var line: [UInt8] = []
        line.reserveCapacity(600)
        func member(_ name: String, _ value: String, first: Bool = false) {
            line.append(contentsOf: ((first ? "{" : ",") + "\"\(name)\":\"\(value)\"").utf8)
        }
        func number(_ name: String, _ value: Int) { line.append(contentsOf: ",\"\(name)\":\(value)".utf8) }
        member("digestVersion", "1", first: true)
        number("digestStartSequence", lastEnd + 1)
        number("digestEndSequence", end)
        member("digestStartTime", ISO8601Time.format(lastTime))
        member("digestEndTime", ISO8601Time.format(now))
        member("lastEventHash", AuditLog.hex(lastHash))
        member("previousDigestHash", AuditLog.hex(lastLineHash))
        number("digestIntervalSeconds", Int(policy.interval.rounded(.up)))
        number("digestEveryEvents", policy.everyEvents)
        member("digestSignatureAlgorithm", "Ed25519")
        member("digestPublicKeyFingerprint", signer.publicKey.fingerprint)
        guard let signature = signer.sign(line) else { return false }
        line.append(contentsOf: Self.signatureMember)
        line.append(contentsOf: Base64.encode(signature).utf8)
        line.append(contentsOf: "\"}".utf8)
        let hash = Array(SHA256.hash(data: line))
        line.append(UInt8(ascii: "\n"))
        let size = lseek(fd, 0, SEEK_END)
        guard AuditLog.writeAll(fd, line) else {
            if size >= 0 { _ = ftruncate(fd, size) }  // no partial digest stays behind
            Console.error("kms: ERROR: cannot write an audit digest: \(String(cString: strerror(errno)))")
            return false
        }
        count += 1
        lastEnd = end
        lastTime = now
        lastLineHash = hash
        return true
    }
}
