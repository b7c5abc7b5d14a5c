import Foundation

/// An IPv4 or IPv6 CIDR block, as the IpAddress and NotIpAddress operators take it
/// ("203.0.113.0/24", "2001:DB8:1234:5678::/64"; a bare address is a /32 or /128).
struct CIDRBlock: Sendable, Equatable {
    let address: [UInt8]  // 4 or 16 bytes, already masked
    let prefix: Int

    init?(_ text: String) {
        let pieces = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let addr = CIDRBlock.parseAddress(String(pieces[0])) else { return nil }
        let bits = addr.count * 8
        var prefix = bits
        if pieces.count == 2 {
            guard let p = Int(pieces[1]), pieces[1].allSatisfy(\.isASCIIDigit), (0...bits).contains(p) else { return nil }
            prefix = p
        }
        self.prefix = prefix
        self.address = CIDRBlock.mask(addr, prefix)
        if addr.count == 4 {
            ipv4Mask = prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix)
            ipv4Network = CIDRBlock.ipv4Value(addr) & ipv4Mask
        } else {
            ipv4Mask = 0
            ipv4Network = 0
        }
    }

    /// An IPv4 block as numbers (zero for IPv6), so an IPv4 address is tested with one mask.
    let ipv4Network: UInt32
    let ipv4Mask: UInt32

    static func ipv4Value(_ a: [UInt8]) -> UInt32 {
        UInt32(a[0]) << 24 | UInt32(a[1]) << 16 | UInt32(a[2]) << 8 | UInt32(a[3])
    }

    /// `contains(address:)` for an IPv4 address given as a number.
    func contains(ipv4 a: UInt32) -> Bool {
        address.count == 4 && a & ipv4Mask == ipv4Network
    }

    /// A request value's IPv4 address as a number, without allocating, when it is one in the
    /// form inet_pton accepts (four decimal octets, no leading zeros). The address part is
    /// what `contains(_:)` tests: the first non-empty run before a '/'. nil means "not sure":
    /// the caller then takes the general path, so this only has to be right when non-nil.
    static func parseIPv4Value(_ text: String) -> UInt32? {
        var text = text
        return text.withUTF8 { b -> UInt32? in
            var i = 0
            while i < b.count, b[i] == UInt8(ascii: "/") { i += 1 }
            var end = i
            while end < b.count, b[end] != UInt8(ascii: "/") { end += 1 }
            guard end > i, end - i <= 15 else { return nil }
            var value: UInt32 = 0, octet: UInt32 = 0, octets = 0, digits = 0
            for j in i..<end {
                let c = b[j]
                if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                    if digits > 0 && octet == 0 { return nil }  // a leading zero
                    octet = octet * 10 + UInt32(c - UInt8(ascii: "0"))
                    guard octet <= 255 else { return nil }
                    digits += 1
                } else if c == UInt8(ascii: "."), digits > 0, octets < 3 {
                    value = value << 8 | octet
                    octets += 1
                    octet = 0
                    digits = 0
                } else {
                    return nil
                }
            }
            guard digits > 0, octets == 3 else { return nil }
            return value << 8 | octet
        }
    }

    func contains(_ ip: String) -> Bool {
        // A context value may itself carry a prefix; the address part is what is tested.
        let addrText = ip.split(separator: "/", maxSplits: 1).first.map(String.init) ?? ip
        guard let a = CIDRBlock.parseAddress(addrText), a.count == address.count else { return false }
        return CIDRBlock.mask(a, prefix) == address
    }

    /// `address` already parsed (4 or 16 bytes); compared without building the masked copy.
    func contains(address a: [UInt8]) -> Bool {
        guard a.count == address.count else { return false }
        for i in 0..<a.count {
            let keep = max(0, min(8, prefix - i * 8))
            let m: UInt8 = keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
            if a[i] & m != address[i] { return false }
        }
        return true
    }

    static func mask(_ a: [UInt8], _ prefix: Int) -> [UInt8] {
        var out = a
        for i in 0..<out.count {
            let keep = max(0, min(8, prefix - i * 8))
            out[i] &= keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        }
        return out
    }

    static func parseAddress(_ s: String) -> [UInt8]? {
        guard !s.isEmpty, s.utf8.count <= 45 else { return nil }
        // A byte search: Foundation's String.contains(String) goes through CFString.
        if !s.utf8.contains(UInt8(ascii: ":")) {
            var v4 = [UInt8](repeating: 0, count: 4)
            let ok = v4.withUnsafeMutableBytes { inet_pton(AF_INET, s, $0.baseAddress) }
            return ok == 1 ? v4 : nil
        }
        var v6 = [UInt8](repeating: 0, count: 16)
        let ok = v6.withUnsafeMutableBytes { inet_pton(AF_INET6, s, $0.baseAddress) }
        return ok == 1 ? v6 : nil
    }
}

/// Dates for the Date* operators: ISO 8601 (date, or date and time with Z or an offset,
/// optional fractional seconds) or epoch seconds, compared as seconds since 1970.
public enum PolicyDate {
    static func parse(_ s: String) -> Double? {
        if !s.isEmpty, s.utf8.allSatisfy({ (0x30...0x39).contains($0) }) || (s.first == "-" && s.dropFirst().allSatisfy(\.isASCIIDigit) && s.count > 1) {
            return Double(s)
        }
        let b = Array(s.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in 0..<n {
                let c = b[i + k]
                guard (0x30...0x39).contains(c) else { return nil }
                v = v * 10 + Int(c - 0x30)
            }
            i += n
            return v
        }
        func take(_ c: Character) -> Bool {
            guard i < b.count, b[i] == c.asciiValue else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), take("-"), let month = digits(2), take("-"), let day = digits(2),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        var seconds = Double(daysFromCivil(year, month, day)) * 86_400
        if i == b.count { return seconds }
        guard take("T") || take("t") || take(" "), let hh = digits(2), take(":"), let mm = digits(2),
              hh < 24, mm < 60 else { return nil }
        var ss = 0
        if take(":") { guard let s2 = digits(2), s2 < 61 else { return nil }; ss = s2 }
        seconds += Double(hh * 3600 + mm * 60 + ss)
        if take(".") {
            var scale = 0.1
            var any = false
            while i < b.count, (0x30...0x39).contains(b[i]) { seconds += Double(b[i] - 0x30) * scale; scale /= 10; i += 1; any = true }
            guard any else { return nil }
        }
        if take("Z") || take("z") { return i == b.count ? seconds : nil }
        if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign: Double = b[i] == UInt8(ascii: "+") ? 1 : -1
            i += 1
            guard let oh = digits(2) else { return nil }
            _ = take(":")
            guard let om = digits(2), i == b.count else { return nil }
            return seconds - sign * Double(oh * 3600 + om * 60)
        }
        return i == b.count ? seconds : nil  // no zone: UTC, as AWS reads it
    }

    /// aws:CurrentTime's text, 2026-01-31T12:00:00Z (whole seconds, UTC).
    public static func iso8601(_ epoch: Double) -> String {
        let secs = Int64(epoch.rounded(.down))
        let days = secs >= 0 ? secs / 86_400 : (secs - 86_399) / 86_400
        let rem = secs - days * 86_400
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d))T\(two(rem / 3600)):\(two(rem % 3600 / 60)):\(two(rem % 60))Z"
    }

    /// Howard Hinnant's days_from_civil: exact for the proleptic Gregorian calendar.
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

enum PolicyNumber {
    /// Integers and decimals, as AWS's numeric condition operators accept them.
    static func parse(_ s: String) -> Double? {
        guard !s.isEmpty, s.utf8.count <= 64,
              s.utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") })
        else { return nil }
        guard let d = Double(s), d.isFinite else { return nil }
        return d
    }
}
