/// Standard base64 (RFC 4648, with padding) as AWS JSON carries blobs. Hand-written over
/// byte arrays: Foundation's Data-based codec costs allocations and dynamic casts on every
/// Encrypt and Decrypt.
public enum Base64 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    /// 0xFF marks bytes outside the alphabet.
    static let decodeTable: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    /// Decodes padded base64; nil for anything malformed (wrong length, bad characters,
    /// misplaced padding or non-zero padding bits), as AWS rejects it.
    public static func decode(_ s: String) -> [UInt8]? {
        var s = s
        return s.withUTF8 { decode(bytes: $0) }
    }

    static func decode(bytes input: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let n = input.count
        guard n % 4 == 0 else { return nil }
        if n == 0 { return [] }
        var padding = 0
        if input[n - 1] == UInt8(ascii: "=") { padding += 1 }
        if input[n - 2] == UInt8(ascii: "=") { padding += 1 }
        var out = [UInt8]()
        out.reserveCapacity(n / 4 * 3 - padding)
        let table = decodeTable
        var i = 0
        while i < n {
            let last = i + 4 == n
            let c0 = table[Int(input[i])], c1 = table[Int(input[i + 1])]
            var c2 = table[Int(input[i + 2])], c3 = table[Int(input[i + 3])]
            if last && padding > 0 {
                if padding == 2 { guard input[i + 2] == UInt8(ascii: "=") else { return nil }; c2 = 0 }
                c3 = 0
            }
            guard c0 | c1 | c2 | c3 != 0xFF, c0 < 64, c1 < 64, c2 < 64, c3 < 64 else { return nil }
            let v = UInt32(c0) << 18 | UInt32(c1) << 12 | UInt32(c2) << 6 | UInt32(c3)
            out.append(UInt8(truncatingIfNeeded: v >> 16))
            if !(last && padding == 2) { out.append(UInt8(truncatingIfNeeded: v >> 8)) } else if v & 0xFFFF != 0 { return nil }
            if !(last && padding >= 1) { out.append(UInt8(truncatingIfNeeded: v)) } else if padding == 1 && v & 0xFF != 0 { return nil }
            i += 4
        }
        return out
    }

    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        if let encoded = bytes.withContiguousStorageIfAvailable({ encode(UnsafeRawBufferPointer($0)) }) { return encoded }
        return Array(bytes).withUnsafeBytes { encode($0) }
    }

    /// Writes the encoding straight into the new string's storage (no intermediate array).
    static func encode(_ input: UnsafeRawBufferPointer) -> String {
        let length = (input.count + 2) / 3 * 4
        guard length > 0 else { return "" }
        return String(unsafeUninitializedCapacity: length) { out in
            alphabet.withUnsafeBufferPointer { a in
                var i = 0, o = 0
                while i + 3 <= input.count {
                    let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                    out[o] = a[Int(v >> 18 & 63)]; out[o + 1] = a[Int(v >> 12 & 63)]
                    out[o + 2] = a[Int(v >> 6 & 63)]; out[o + 3] = a[Int(v & 63)]
                    i += 3; o += 4
                }
                let rest = input.count - i
                if rest == 1 {
                    let v = UInt32(input[i]) << 16
                    out[o] = a[Int(v >> 18 & 63)]; out[o + 1] = a[Int(v >> 12 & 63)]
                    out[o + 2] = UInt8(ascii: "="); out[o + 3] = UInt8(ascii: "=")
                } else if rest == 2 {
                    let v = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8
                    out[o] = a[Int(v >> 18 & 63)]; out[o + 1] = a[Int(v >> 12 & 63)]
                    out[o + 2] = a[Int(v >> 6 & 63)]; out[o + 3] = UInt8(ascii: "=")
                }
            }
            return length
        }
    }
}
