/// A strict RFC 8259 parser over UTF-8 bytes. Errors carry a short reason that the
/// server turns into SerializationException; they never echo the input.
public struct JSONParseError: Error, Sendable, Equatable {
    public let reason: String
}

public enum JSONParser {
    /// Nesting deeper than this is refused, so hostile input cannot exhaust the stack
    /// (the deepest legal KMS request nests 3 levels).
    static let maxDepth = 64
    /// Members per object. The largest legal KMS object is an encryption context, capped far
    /// lower (`EncryptionContext.maxPairs`); key policies are small objects too. Refused as
    /// SerializationException, like any body the service cannot read.
    public static let maxMembers = 1000

    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { buf throws(JSONParseError) -> JSONValue in
            var p = Cursor(buf: buf, pos: 0)
            p.skipSpace()
            let v = try p.value(depth: 0)
            p.skipSpace()
            guard p.pos == buf.count else { throw JSONParseError(reason: "Unexpected content after the JSON document") }
            return v
        }
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    struct Cursor {
        let buf: UnsafeBufferPointer<UInt8>
        var pos: Int

        mutating func skipSpace() {
            while pos < buf.count {
                let c = buf[pos]
                if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { pos += 1 } else { break }
            }
        }

        func fail(_ reason: String) -> JSONParseError { JSONParseError(reason: reason) }

        mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
            guard depth < JSONParser.maxDepth else { throw fail("JSON nesting is too deep") }
            guard pos < buf.count else { throw fail("Unexpected end of JSON input") }
            switch buf[pos] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw fail("Unexpected character in JSON input")
            }
        }

        mutating func literal(_ word: StaticString) throws(JSONParseError) {
            let n = word.utf8CodeUnitCount
            guard pos + n <= buf.count else { throw fail("Unexpected end of JSON input") }
            let w = word.utf8Start
            for i in 0..<n where buf[pos + i] != w[i] { throw fail("Invalid JSON literal") }
            pos += n
        }

        mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
            pos += 1
            var obj = JSONObject()
            obj.reserveCapacity(4)
            var index: [String: Int]?  // built only for objects of more than a few members
            skipSpace()
            if pos < buf.count, buf[pos] == UInt8(ascii: "}") { pos += 1; return .object(obj) }
            while true {
                skipSpace()
                guard pos < buf.count, buf[pos] == UInt8(ascii: "\"") else { throw fail("Expected a member name in JSON object") }
                let key = try string()
                skipSpace()
                guard pos < buf.count, buf[pos] == UInt8(ascii: ":") else { throw fail("Expected ':' in JSON object") }
                pos += 1
                skipSpace()
                let v = try value(depth: depth + 1)
                // Duplicate keys: the last one wins, as Jackson (AWS's parser) does.
                guard obj.insertParsed(key, v, index: &index, limit: JSONParser.maxMembers) else {
                    throw fail("JSON object has more than \(JSONParser.maxMembers) members")
                }
                skipSpace()
                guard pos < buf.count else { throw fail("Unexpected end of JSON input") }
                if buf[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if buf[pos] == UInt8(ascii: "}") { pos += 1; return .object(obj) }
                throw fail("Expected ',' or '}' in JSON object")
            }
        }

        mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
            pos += 1
            var items: [JSONValue] = []
            skipSpace()
            if pos < buf.count, buf[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard pos < buf.count else { throw fail("Unexpected end of JSON input") }
                if buf[pos] == UInt8(ascii: ",") { pos += 1; continue }
                if buf[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
                throw fail("Expected ',' or ']' in JSON array")
            }
        }

        mutating func number() throws(JSONParseError) -> JSONValue {
            let start = pos
            if buf[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < buf.count, isDigit(buf[pos]) else { throw fail("Invalid JSON number") }
            if buf[pos] == UInt8(ascii: "0") { pos += 1 } else { while pos < buf.count, isDigit(buf[pos]) { pos += 1 } }
            if pos < buf.count, buf[pos] == UInt8(ascii: ".") {
                pos += 1
                guard pos < buf.count, isDigit(buf[pos]) else { throw fail("Invalid JSON number") }
                while pos < buf.count, isDigit(buf[pos]) { pos += 1 }
            }
            if pos < buf.count, buf[pos] == UInt8(ascii: "e") || buf[pos] == UInt8(ascii: "E") {
                pos += 1
                if pos < buf.count, buf[pos] == UInt8(ascii: "+") || buf[pos] == UInt8(ascii: "-") { pos += 1 }
                guard pos < buf.count, isDigit(buf[pos]) else { throw fail("Invalid JSON number") }
                while pos < buf.count, isDigit(buf[pos]) { pos += 1 }
            }
            return .number(String(decoding: UnsafeBufferPointer(rebasing: buf[start..<pos]), as: UTF8.self))
        }

        func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

        mutating func string() throws(JSONParseError) -> String {
            pos += 1
            let start = pos
            // Fast path: no escapes.
            while pos < buf.count {
                let c = buf[pos]
                if c == UInt8(ascii: "\"") {
                    let s = UnsafeBufferPointer(rebasing: buf[start..<pos])
                    pos += 1
                    // ASCII needs no validation; the generic validating initializer runs
                    // unspecialized and costs metadata lookups on every string.
                    if !s.contains(where: { $0 >= 0x80 }) { return String(decoding: s, as: UTF8.self) }
                    guard let str = String(validating: s, as: UTF8.self) else { throw fail("Invalid UTF-8 in JSON string") }
                    return str
                }
                if c == UInt8(ascii: "\\") { break }
                if c < 0x20 { throw fail("Unescaped control character in JSON string") }
                pos += 1
            }
            var out = [UInt8](UnsafeBufferPointer(rebasing: buf[start..<pos]))
            while pos < buf.count {
                let c = buf[pos]
                if c == UInt8(ascii: "\"") {
                    pos += 1
                    guard let str = String(validating: out, as: UTF8.self) else { throw fail("Invalid UTF-8 in JSON string") }
                    return str
                }
                if c < 0x20 { throw fail("Unescaped control character in JSON string") }
                if c != UInt8(ascii: "\\") { out.append(c); pos += 1; continue }
                pos += 1
                guard pos < buf.count else { break }
                let e = buf[pos]
                pos += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard pos + 1 < buf.count, buf[pos] == UInt8(ascii: "\\"), buf[pos + 1] == UInt8(ascii: "u") else {
                            throw fail("Invalid surrogate pair in JSON string")
                        }
                        pos += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw fail("Invalid surrogate pair in JSON string") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw fail("Invalid surrogate pair in JSON string")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw fail("Invalid escape in JSON string") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw fail("Invalid escape in JSON string")
                }
            }
            throw fail("Unterminated JSON string")
        }

        mutating func hex4() throws(JSONParseError) -> UInt32 {
            guard pos + 4 <= buf.count else { throw fail("Invalid escape in JSON string") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = buf[pos]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw fail("Invalid escape in JSON string")
                }
                v = v << 4 | d
                pos += 1
            }
            return v
        }
    }
}
