import KMSCore

/// Appends for building an audit event, by memcpy where JSONWriter goes byte by byte: an
/// event is ~800 bytes of fixed fragments and a dozen short strings, and checking those
/// strings one byte at a time was the largest single part of building it.
enum AuditBytes {
    /// A fixed fragment of the event (`,"eventSource":` and the like), copied whole.
    @inline(__always)
    static func append(_ fragment: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: fragment.utf8Start, count: fragment.utf8CodeUnitCount))
    }

    /// `s` as a JSON string, exactly as JSONWriter.writeString writes it: copied whole
    /// when no byte needs escaping (checked eight bytes at a time), else escaped by
    /// JSONWriter.
    static func string(_ s: String, to out: inout [UInt8]) {
        let copied = s.utf8.withContiguousStorageIfAvailable { b -> Bool in
            guard !needsEscaping(b) else { return false }
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: b)
            out.append(UInt8(ascii: "\""))
            return true
        }
        if copied != true { JSONWriter.writeString(s, into: &out) }
    }

    /// Whether any byte is a control character (< 0x20), `"` or `\`: what JSONWriter
    /// escapes. Bytes of 0x80 and above (UTF-8 beyond ASCII) are written as they are.
    @inline(__always)
    static func needsEscaping(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = b.baseAddress else { return false }
        let count = b.count
        var i = 0
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        let quotes = ones &* 0x22, backslashes = ones &* 0x5C
        while i + 8 <= count {
            let x = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
            // A byte below 0x20 (bytes from 0x80 are excluded by `~x`), or one equal to
            // `"` or `\` (a zero byte after the XOR): the classic "has less / has zero" tests.
            let below = (x &- ones &* 0x20) & ~x & highs
            let q = x ^ quotes, s = x ^ backslashes
            let equal = ((q &- ones) & ~q | (s &- ones) & ~s) & highs
            if below | equal != 0 { return true }
            i += 8
        }
        while i < count {
            let c = base[i]
            if c < 0x20 || c == 0x22 || c == 0x5C { return true }
            i += 1
        }
        return false
    }
}
