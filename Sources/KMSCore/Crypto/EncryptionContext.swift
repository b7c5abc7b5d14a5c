/// The canonical byte form of an encryption context, bound to a ciphertext as AES-GCM
/// additional authenticated data. Pairs are sorted by key bytes and length-prefixed, so
/// the same map always yields the same bytes and no two maps collide.
public enum EncryptionContext {
    public static func canonicalBytes(_ context: [String: String]?) -> [UInt8] {
        appendCanonicalBytes(context, to: [])
    }

    /// `prefix` followed by the canonical bytes: the AAD of a blob is its header then these.
    public static func appendCanonicalBytes(_ context: [String: String]?, to prefix: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(prefix.count + 64)
        out.append(contentsOf: prefix)
        guard let context, !context.isEmpty else {
            out.append(0)
            out.append(0)
            return out
        }
        let pairs = context.map { (Array($0.key.utf8), Array($0.value.utf8)) }
            .sorted { $0.0.lexicographicallyPrecedes($1.0) }
        appendLength(pairs.count, to: &out)
        for (k, v) in pairs {
            appendLength(k.count, to: &out)
            out.append(contentsOf: k)
            appendLength(v.count, to: &out)
            out.append(contentsOf: v)
        }
        return out
    }

    private static func appendLength(_ n: Int, to out: inout [UInt8]) {
        // The model caps keys/values far below 2^16, but write 32 bits to stay unambiguous.
        out.append(UInt8(truncatingIfNeeded: n >> 24))
        out.append(UInt8(truncatingIfNeeded: n >> 16))
        out.append(UInt8(truncatingIfNeeded: n >> 8))
        out.append(UInt8(truncatingIfNeeded: n))
    }
}

/// Request-time caps on an encryption context. AWS documents none for cryptographic
/// operations (only for grant constraints: 8 pairs, 384 characters each), so these are this
/// server's own, far above any real use, and keep the work per request and the bytes
/// authenticated (and audited) per call bounded. `JSONParser.maxMembers` bounds any object
/// before these run.
extension EncryptionContext {
    public static let maxPairs = 128
    /// UTF-8 bytes of all keys and values together.
    public static let maxBytes = 16 * 1024

    /// The model shape every EncryptionContext member (and grant constraint) uses.
    static let modelShape: ResolvedShape? = ResolvedShape.all["EncryptionContextType"]

    /// The constraint a context breaks, worded for a ValidationException, or nil.
    static func limitViolation(_ context: JSONObject) -> String? {
        if context.count > maxPairs {
            return "Member must have length less than or equal to \(maxPairs)"
        }
        var bytes = 0
        for entry in context.entries {
            bytes += entry.key.utf8.count
            if case .string(let value) = entry.value { bytes += value.utf8.count }
        }
        if bytes > maxBytes {
            return "Member must have a total size of keys and values less than or equal to \(maxBytes) bytes"
        }
        return nil
    }
}
