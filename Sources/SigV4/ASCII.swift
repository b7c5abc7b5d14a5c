/// Byte-level helpers: the SigV4 grammar is ASCII, so working on UTF-8 bytes
/// avoids Unicode-aware String operations (and their copies) on the hot path.
enum ASCII {
    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    static let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Whitespace as Python's `str.split()` sees it in ASCII (botocore's Trimall).
    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D) || (byte >= 0x1C && byte <= 0x1F)
    }

    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
    }

    /// RFC 3986 unreserved characters, the only ones SigV4 leaves unencoded.
    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E: return true
        default: return false
        }
    }

    /// `name` equals `lowercased` ignoring ASCII case; `lowercased` must already be lowercase.
    @inline(__always)
    static func equalsIgnoringCase(_ name: String, lowercased: String) -> Bool {
        let a = name.utf8
        let b = lowercased.utf8
        guard a.count == b.count else { return false }
        var j = b.startIndex
        for byte in a {
            guard lower(byte) == b[j] else { return false }
            b.formIndex(after: &j)
        }
        return true
    }

    static func lowercased(_ text: some StringProtocol) -> String {
        if !text.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) { return String(text) }
        return String(decoding: text.utf8.map(lower), as: UTF8.self)
    }

    /// Appends `value` trimmed, with inner whitespace runs collapsed to one space.
    static func appendTrimmed(_ value: String, to out: inout [UInt8]) {
        var pendingSpace = false
        var wroteAny = false
        for byte in value.utf8 {
            if isSpace(byte) {
                pendingSpace = wroteAny
            } else {
                if pendingSpace { out.append(0x20) }
                pendingSpace = false
                wroteAny = true
                out.append(byte)
            }
        }
    }

    static func appendHex(_ bytes: some Sequence<UInt8>, to out: inout [UInt8]) {
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var out = [UInt8]()
        out.reserveCapacity(64)
        appendHex(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Compares the lowercase hex of `digest` with `text` in time independent of where
    /// they differ, so a forger learns nothing from response timing.
    static func constantTimeHexEquals(_ digest: some Sequence<UInt8>, _ text: String) -> Bool {
        var expected = [UInt8]()
        expected.reserveCapacity(64)
        appendHex(digest, to: &expected)
        let given = text.utf8
        guard given.count == expected.count else { return false }
        var diff: UInt8 = 0
        var i = 0
        for byte in given {
            diff |= byte ^ expected[i]
            i += 1
        }
        return diff == 0
    }
}
