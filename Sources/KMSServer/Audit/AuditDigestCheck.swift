import Crypto
import Foundation
import KMSCore
import KMSStorage

/// The digest half of `kms audit verify`: every digest line's Ed25519 signature, its link
/// to the digest before it, contiguous coverage, and the hash of the last record it covers.
enum AuditDigestCheck {
    struct Problem: Error, CustomStringConvertible { let description: String }

    struct Digest {
        let number: Int
        let start: Int
        let end: Int
        let lastEventHash: String
        let interval: Double
        let everyEvents: Int
        let endTime: Double
    }

    struct Loaded {
        var digests: [Digest] = []
        var ends: Set<Int> = []
        var keySource = ""
        /// The key the signatures were checked with (nil: not checked).
        var key: AuditDigestPublicKey?

        /// Checks the records against the digests: nil when they agree.
        func check(records: Int, hashes: [Int: [UInt8]], head: AuditChainHead?, complete: Bool,
                   pruned: AuditPrunedPrefix? = nil) -> String? {
            for d in digests {
                // Digests of pruned records stay (their lines and signatures are checked above);
                // one ending where the prefix ends must name the hash the kept trail links to.
                if let pruned, d.end <= pruned.records {
                    if d.end == pruned.records, d.lastEventHash != pruned.lastHash {
                        return "the pruned prefix does not match signed digest \(d.number): its last hash differs"
                    }
                    continue
                }
                if d.end > records {
                    return "the trail is truncated: signed digest \(d.number) covers records up to \(d.end), the files hold \(records)"
                }
                guard let hash = hashes[d.end], AuditLog.hex(hash) == d.lastEventHash else {
                    return "record \(d.end) does not match signed digest \(d.number): records up to it were altered"
                }
            }
            guard complete else { return nil }
            if let head, head.digests > digests.count {
                return "signed digest(s) missing: the chain head (written at fsync) counts \(head.digests) digest(s), "
                    + "\(AuditDigests.fileName) holds \(digests.count)"
            }
            // Records past the last digest: a digest is written every interval (and every N
            // records); more uncovered records than that means digests were removed.
            let covered = digests.last?.end ?? 0
            let uncovered = records - covered
            if let last = digests.last, uncovered > 0 {
                if last.everyEvents > 0 && uncovered >= last.everyEvents {
                    return "signed digest(s) missing: \(uncovered) record(s) after digest \(last.number) are covered by "
                        + "no digest, but one is written every \(last.everyEvents) record(s)"
                }
            }
            return nil
        }

        func summary(records: Int) -> String {
            let covered = digests.last?.end ?? 0
            let tail = records - covered
            return "\(digests.count) signed digest(s) (\(keySource))"
                + (tail > 0 ? ", the newest \(tail) record(s) not yet covered by a digest" : "")
        }
    }

    /// Reads digests.jsonl and checks each line's signature and link. The public key is the
    /// one given, or derived from the data dir's root key (never created here).
    static func load(directory: String, dataDirectory: String, publicKey: AuditDigestPublicKey?) -> Result<Loaded, Problem> {
        let path = directory + "/" + AuditDigests.fileName
        var loaded = Loaded()
        guard let data = FileManager.default.contents(atPath: path) else { return .success(loaded) }
        let bytes = [UInt8](data)
        var key = publicKey
        loaded.keySource = "with the given public key"
        if key == nil {
            let rootPath = dataDirectory + "/root.key"
            if FileManager.default.fileExists(atPath: rootPath), let root = try? RootKey.loadOrCreate(path: rootPath),
               let signer = try? AuditDigestSigner(rootKey: root) {
                key = signer.publicKey
                loaded.keySource = "with the key derived from \(rootPath)"
            } else {
                // Links and coverage are still checked; the report says the signatures were not.
                loaded.keySource = "signatures NOT checked: pass --public-key (from `kms audit public-key`)"
            }
        }
        loaded.key = key
        var start = 0
        var previousHash = [UInt8](repeating: 0, count: 32)
        var previousEnd = 0
        while start < bytes.count {
            let number = loaded.digests.count + 1
            let place = "signed digest \(number) (\(path) line \(number))"
            guard let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) else {
                return .failure(Problem(description: "\(place) is truncated: the file ends inside it"))
            }
            let line = bytes[start..<newline]
            guard let o = try? JSONParser.parse(Array(line)).objectValue,
                  let signatureText = o["signature"]?.stringValue, let signature = Base64.decode(signatureText),
                  let cut = Self.signedPartEnd(line, signature: signatureText) else {
                return .failure(Problem(description: "\(place) is altered: it is not a signed digest record"))
            }
            if let key, !key.isValid(signature, for: line[line.startIndex..<cut]) {
                return .failure(Problem(description: "\(place) is forged or altered: its signature does not verify "
                    + "with the public key \(key.fingerprint)"))
            }
            guard o["previousDigestHash"]?.stringValue == AuditLog.hex(previousHash) else {
                return .failure(Problem(description: "\(place) does not follow the digest before it: a digest was removed, "
                    + "reordered or altered"))
            }
            let first = o["digestStartSequence"]?.intValue ?? -1
            let end = o["digestEndSequence"]?.intValue ?? -1
            guard first == previousEnd + 1, end >= first else {
                return .failure(Problem(description: "\(place) covers records \(first)...\(end), expected to start at \(previousEnd + 1)"))
            }
            loaded.digests.append(Digest(
                number: number, start: first, end: end, lastEventHash: o["lastEventHash"]?.stringValue ?? "",
                interval: o["digestIntervalSeconds"]?.doubleValue ?? 60, everyEvents: o["digestEveryEvents"]?.intValue ?? 0,
                endTime: ISO8601Time.parse(o["digestEndTime"]?.stringValue ?? "") ?? 0))
            loaded.ends.insert(end)
            previousHash = Array(SHA256.hash(data: line))
            previousEnd = end
            start = newline + 1
        }
        return .success(loaded)
    }

    /// Where the signed bytes end: the line must close with exactly `,"signature":"<sig>"}`.
    static func signedPartEnd(_ line: ArraySlice<UInt8>, signature: String) -> Int? {
        let suffix = AuditDigests.signatureMember + Array(signature.utf8) + Array("\"}".utf8)
        guard line.count > suffix.count, Array(line.suffix(suffix.count)) == suffix else { return nil }
        return line.endIndex - suffix.count
    }
}
