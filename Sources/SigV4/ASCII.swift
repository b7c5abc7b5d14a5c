/// Byte-level helpers: the SigV4 grammar is ASCII, so working on UTF-8 bytes
/// avoids Unicode-aware String operations (and their copies) on the hot path.
enum ASCII {
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
        guard name.utf8.count == lowercased.utf8.count else { return false }
        // Compare contiguous bytes: indexing String.UTF8View costs several checks per byte.
        let fast = name.utf8.withContiguousStorageIfAvailable { a in
            lowercased.utf8.withContiguousStorageIfAvailable { b in
                for i in 0..<a.count where lower(a[i]) != b[i] { return false }
                return true
            }
        }
        if let fast, let result = fast { return result }
        return name.utf8.lazy.map(lower).elementsEqual(lowercased.utf8)
    }

    /// Orders two byte ranges of `b` as their ASCII-lowercased forms: <0, 0 or >0.
    static func compareIgnoringCase(_ b: UnsafeBufferPointer<UInt8>, _ x: Range<Int>, _ y: Range<Int>) -> Int {
        let n = min(x.count, y.count)
        for i in 0..<n {
            let l = lower(b[x.lowerBound + i]), r = lower(b[y.lowerBound + i])
            if l != r { return l < r ? -1 : 1 }
        }
        return x.count - y.count
    }

    /// Orders `name` (any case) against `lowercased` as lowercase bytes: <0, 0 or >0.
    static func compareIgnoringCase(_ name: UnsafeBufferPointer<UInt8>, lowercased: UnsafeBufferPointer<UInt8>) -> Int {
        let n = min(name.count, lowercased.count)
        for i in 0..<n {
            let l = lower(name[i]), r = lowercased[i]
            if l != r { return l < r ? -1 : 1 }
        }
        return name.count - lowercased.count
    }

    /// `compareIgnoringCase` for Strings (contiguous bytes when native, as request headers are).
    static func compareIgnoringCase(_ name: String, lowercased: String) -> Int {
        let fast = name.utf8.withContiguousStorageIfAvailable { a in
            lowercased.utf8.withContiguousStorageIfAvailable { b in compareIgnoringCase(a, lowercased: b) }
        }
        if let fast, let result = fast { return result }
        return Array(name.utf8).withUnsafeBufferPointer { a in
            Array(lowercased.utf8).withUnsafeBufferPointer { b in compareIgnoringCase(a, lowercased: b) }
        }
    }

    /// `name` starts with `lowercased` ignoring ASCII case; `lowercased` must be lowercase.
    static func hasPrefixIgnoringCase(_ name: String, lowercased prefix: StaticString) -> Bool {
        let n = prefix.utf8CodeUnitCount
        guard name.utf8.count >= n else { return false }
        let p = prefix.utf8Start
        let fast = name.utf8.withContiguousStorageIfAvailable { b in
            for i in 0..<n where lower(b[i]) != p[i] { return false }
            return true
        }
        if let fast { return fast }
        var i = 0
        for byte in name.utf8 {
            if i == n { break }
            if lower(byte) != p[i] { return false }
            i += 1
        }
        return true
    }

    static func lowercased(_ text: some StringProtocol) -> String {
        if !text.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) { return String(text) }
        return String(decoding: text.utf8.map(lower), as: UTF8.self)
    }

    /// Appends a string's UTF-8 bytes with one copy (Array.append(contentsOf: utf8) goes byte by byte).
    @inline(__always)
    static func append(_ text: some StringProtocol, to out: inout [UInt8]) {
        let copied: Void? = text.utf8.withContiguousStorageIfAvailable { out.append(contentsOf: $0) }
        if copied == nil { out.append(contentsOf: text.utf8) }
    }

    /// Appends `value` trimmed, with inner whitespace runs collapsed to one space.
    static func appendTrimmed(_ value: String, to out: inout [UInt8]) {
        let done: Bool? = value.utf8.withContiguousStorageIfAvailable { bytes in
            // Common case first: nothing to trim, copy in one go. A long value (a ~400-byte
            // session token) is first scanned eight bytes at a time for any byte <= 0x20:
            // none means no whitespace at all (every space byte is <= 0x20).
            if bytes.count >= 16, !containsByteAtMost0x20(UnsafeRawBufferPointer(bytes)) {
                out.append(contentsOf: bytes)
                return true
            }
            var previousSpace = true  // a leading space needs trimming
            for byte in bytes {
                let space = isSpace(byte)
                if space && (previousSpace || byte != 0x20) { return false }
                previousSpace = space
            }
            if previousSpace { return false }  // trailing space, or empty
            out.append(contentsOf: bytes)
            return true
        }
        if done == true { return }
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

    /// Whether any byte is <= 0x20, eight bytes at a time ("determine if a word has a byte
    /// less than n", exact for n <= 128; bytes >= 0x80 never match).
    static func containsByteAtMost0x20(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let limit = ones &* 0x21
        var i = 0
        let n = bytes.count
        while i + 8 <= n {
            let w = bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            if (w &- limit) & ~w & highs != 0 { return true }
            i += 8
        }
        while i < n {
            if bytes[i] <= 0x20 { return true }
            i += 1
        }
        return false
    }

    /// Appends lowercase hex, writing into the array's storage once grown.
    static func appendHex(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: bytes.count * 2))
        out.withUnsafeMutableBufferPointer { buffer in
            var i = start
            for byte in bytes {
                buffer[i] = hexDigit(byte >> 4)
                buffer[i + 1] = hexDigit(byte & 0x0F)
                i += 2
            }
        }
    }

    static func appendHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        bytes.withUnsafeBytes { appendHex($0, to: &out) }
    }

    static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        appendHex(bytes, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { hex($0) }
    }

    /// Lowercase hex digit for a nibble, without a branch or table lookup on the secret value.
    @inline(__always)
    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        let v = Int(nibble)
        return UInt8(truncatingIfNeeded: 48 + v + (((9 - v) >> 8) & 39))
    }

    /// Compares the lowercase hex of `digest` with `text` in time independent of where
    /// they differ, so a forger learns nothing from response timing. No allocation.
    static func constantTimeHexEquals(_ digest: some Sequence<UInt8>, _ text: String) -> Bool {
        var text = text
        return text.withUTF8 { given in  // contiguous bytes; iterating a UTF8View is slow
            var diff: UInt8 = 0
            var i = 0
            for byte in digest {
                guard i + 1 < given.count else { return false }
                diff |= given[i] ^ hexDigit(byte >> 4)
                diff |= given[i + 1] ^ hexDigit(byte & 0x0F)
                i += 2
            }
            return i == given.count && diff == 0
        }
    }
}
