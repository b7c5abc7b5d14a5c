import Crypto
import Foundation
import KMSCore

#if canImport(Glibc)
import Glibc
#endif

/// What retention removed from the front of the chain (`<data-dir>/audit/pruned`): records
/// 1...`records`, in segments up to `segment`, the newest of them written at `before`.
/// `lastHash` is the hash of record `records`, which the first kept record links to, so
/// `kms audit verify` checks the kept trail from there. Written (fsynced, renamed into
/// place) before any segment it names is unlinked: a crash in between leaves segments the
/// marker already counts, which the next start and verify skip.
///
/// With digests on, the marker is signed with the digest key (a fifth field, base64
/// Ed25519): without it, whoever can edit the files could delete the front of the trail
/// and write a marker naming a digest's last hash, and verify would take it for retention.
struct AuditPrunedPrefix: Equatable {
    var records: Int
    var lastHash: String
    var segment: Int
    var before: Double
    var signature: [UInt8]? = nil

    static let fileName = "pruned"
    /// Domain separation: a digest line's signature can never pass for a marker's.
    static let signedPrefix = "swift-kms audit pruned prefix v1\n"

    /// The bytes the signature covers.
    var signedBytes: [UInt8] {
        Array((Self.signedPrefix + "\(records) \(lastHash) \(segment) \(Int64(before.rounded(.down)))").utf8)
    }

    func signed(by signer: AuditDigestSigner?) -> AuditPrunedPrefix? {
        guard let signer else { return self }
        var copy = self
        guard let signature = signer.sign(signedBytes) else { return nil }
        copy.signature = signature
        return copy
    }

    func isSigned(by key: AuditDigestPublicKey) -> Bool {
        guard let signature else { return false }
        return key.isValid(signature, for: signedBytes[...])
    }

    func write(directory: String) -> Bool {
        let path = directory + "/" + Self.fileName
        let temporary = path + ".tmp"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        let text = "\(records) \(lastHash) \(segment) \(Int64(before.rounded(.down)))"
            + (signature.map { " " + Base64.encode($0) } ?? "") + "\n"
        let ok = AuditLog.writeAll(fd, Array(text.utf8)) && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, path) == 0 else { return false }
        // The rename itself must be durable before a segment goes.
        let dir = Glibc.open(directory, O_RDONLY | O_CLOEXEC)
        if dir >= 0 { _ = fsync(dir); close(dir) }
        return true
    }

    /// nil when nothing was pruned; `.failure` when the file is there but unreadable.
    static func read(directory: String) -> Result<AuditPrunedPrefix?, AuditError> {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return .success(nil) }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return .failure(AuditError("cannot read \(path)"))
        }
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard parts.count == 4 || parts.count == 5, let records = Int(parts[0]), records >= 0, parts[1].utf8.count == 64,
              AuditLog.bytes(hex: String(parts[1])) != nil, let segment = Int(parts[2]), segment >= 1,
              let before = Double(parts[3]) else {
            return .failure(AuditError("\(path) is altered: not a pruned-prefix record"))
        }
        var signature: [UInt8]?
        if parts.count == 5 {
            guard let bytes = Base64.decode(String(parts[4])), bytes.count == 64 else {
                return .failure(AuditError("\(path) is altered: its signature is not an Ed25519 signature"))
            }
            signature = bytes
        }
        return .success(AuditPrunedPrefix(records: records, lastHash: String(parts[1]), segment: segment, before: before,
                                          signature: signature))
    }

    var lastHashBytes: [UInt8] { AuditLog.bytes(hex: lastHash) ?? [UInt8](repeating: 0, count: 32) }
}

extension AuditSegments {
    /// A sealed segment's record count, last record hash and the eventTime of its last record
    /// (retention decides on it: records are in write order). nil when unreadable.
    static func summary(directory: String, segment: Int) -> (records: Int, lastHash: [UInt8], lastTime: Double)? {
        guard let data = FileManager.default.contents(atPath: path(directory: directory, segment: segment)) else { return nil }
        let bytes = [UInt8](data)
        var records = 0
        var lastLine: Range<Int>?
        var start = 0
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            records += 1
            lastLine = start..<newline
            start = newline + 1
        }
        guard let lastLine, start == bytes.count,
              let object = try? JSONParser.parse(Array(bytes[lastLine])).objectValue,
              let time = ISO8601Time.parse(object["eventTime"]?.stringValue ?? "") else { return nil }
        return (records, Array(SHA256.hash(data: bytes[lastLine])), time)
    }

    /// Segments the pruned prefix already counts (left by a crash between the marker and the
    /// unlink) are removed; the rest, ascending.
    static func kept(_ segments: [Int], directory: String, pruned: AuditPrunedPrefix?) -> [Int] {
        guard let pruned else { return segments }
        for segment in segments where segment <= pruned.segment { unlink(path(directory: directory, segment: segment)) }
        return segments.filter { $0 > pruned.segment }
    }
}

extension AuditLog {
    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = value(digits[i]), let lo = value(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
