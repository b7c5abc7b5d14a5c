/// `application/x-www-form-urlencoded` bodies, as botocore's query serializer writes them:
/// `Action=CreateUser&Version=2010-05-08&UserName=alice&Tags.member.1.Key=k`.
public enum FormBody {
    /// Bounds the work a hostile body can cause (the framer already bounds its size).
    public static let maxParameters = 1000

    /// The parameters in order; a repeated name keeps its last value. nil when the body is
    /// not well-formed (bad percent escape, invalid UTF-8, too many parameters).
    public static func parse(_ body: [UInt8]) -> [String: String]? {
        var out: [String: String] = [:]
        var count = 0
        for pair in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            count += 1
            guard count <= maxParameters else { return nil }
            let eq = pair.firstIndex(of: UInt8(ascii: "="))
            let rawName = eq.map { pair[pair.startIndex..<$0] } ?? pair[...]
            let rawValue = eq.map { pair[pair.index(after: $0)...] } ?? []
            guard let name = decode(rawName), let value = decode(rawValue) else { return nil }
            out[name] = value
        }
        return out
    }

    static func decode(_ bytes: ArraySlice<UInt8>) -> String? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let c = bytes[i]
            if c == UInt8(ascii: "+") {
                out.append(0x20)
            } else if c == UInt8(ascii: "%") {
                guard i + 2 < bytes.endIndex, let h = hex(bytes[i + 1]), let l = hex(bytes[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 2
            } else {
                out.append(c)
            }
            i += 1
        }
        // Strict: invalid UTF-8 is refused rather than replaced.
        guard let s = String(validating: out, as: UTF8.self) else { return nil }
        return s
    }

    static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    /// Encodes parameters the way botocore does (tests and clients).
    public static func encode(_ parameters: [(String, String)]) -> String {
        parameters.map { escape($0.0) + "=" + escape($0.1) }.joined(separator: "&")
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%" + String(b >> 4, radix: 16, uppercase: true) + String(b & 15, radix: 16, uppercase: true)
            }
        }
        return out
    }
}
