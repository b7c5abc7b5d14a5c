/// UTC timestamps in SigV4's ISO-8601 basic format (`20261123T120000Z`) and the
/// HTTP `Date` header's RFC 1123 / RFC 2822 form, converted by hand: no
/// DateFormatter (slow, locale-dependent) on the request path.
struct AmzDate: Sendable, Equatable {
    /// Seconds since 1970-01-01T00:00:00Z.
    let epochSeconds: Int64

    init(epochSeconds: Int64) {
        self.epochSeconds = epochSeconds
    }

    /// `yyyyMMdd'T'HHmmss'Z'`, 16 ASCII bytes.
    var basic: String {
        var out = [UInt8]()
        out.reserveCapacity(16)
        appendBasic(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func appendBasic(to out: inout [UInt8]) {
        let days = Self.floorDiv(epochSeconds, 86_400)
        let secs = Int(epochSeconds - days * 86_400)
        let (y, m, d) = Self.civil(fromDays: days)
        Self.appendDigits(Int(y), width: 4, to: &out)
        Self.appendDigits(m, width: 2, to: &out)
        Self.appendDigits(d, width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        Self.appendDigits(secs / 3600, width: 2, to: &out)
        Self.appendDigits(secs / 60 % 60, width: 2, to: &out)
        Self.appendDigits(secs % 60, width: 2, to: &out)
        out.append(UInt8(ascii: "Z"))
    }

    /// Parses exactly `yyyyMMdd'T'HHmmss'Z'`; nil for anything else.
    init?(basic text: String) {
        var text = text
        let parsed: AmzDate?? = text.withUTF8 { bytes -> AmzDate?? in
            guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z"),
                  let year = Self.number(bytes, 0, 4), let month = Self.number(bytes, 4, 2),
                  let day = Self.number(bytes, 6, 2), let hour = Self.number(bytes, 9, 2),
                  let minute = Self.number(bytes, 11, 2), let second = Self.number(bytes, 13, 2)
            else { return .some(nil) }
            return .some(AmzDate(year: year, month: month, day: day, hour: hour, minute: minute, second: second))
        }
        guard let value = parsed ?? nil else { return nil }
        self = value
    }

    /// Parses an HTTP date such as `Mon, 23 Nov 2026 12:00:00 GMT` (RFC 1123) or
    /// `Mon, 23 Nov 2026 12:00:00 -0000` (RFC 2822, what botocore writes); the weekday
    /// is optional and not checked. Also accepts the basic format, as AWS does.
    init?(httpDate text: String) {
        if let basic = AmzDate(basic: text) {
            self = basic
            return
        }
        var tokens = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if let first = tokens.first, first.hasSuffix(",") { tokens.removeFirst() }
        guard tokens.count == 5 || tokens.count == 4,
              let day = Int(tokens[0]), let year = Int(tokens[2]),
              let month = Self.months.firstIndex(of: tokens[1].lowercased()).map({ $0 + 1 })
        else { return nil }
        let clock = tokens[3].split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 3, clock.allSatisfy({ $0.count == 2 }),
              let hour = Int(clock[0]), let minute = Int(clock[1]), let second = Int(clock[2])
        else { return nil }
        var offset = 0
        if tokens.count == 5 {
            let zone = tokens[4]
            switch zone.uppercased() {
            case "GMT", "UTC", "UT", "Z": offset = 0
            default:
                guard zone.count == 5, let sign = zone.first, sign == "+" || sign == "-",
                      let hhmm = Int(zone.dropFirst()) else { return nil }
                offset = (hhmm / 100 * 3600 + hhmm % 100 * 60) * (sign == "-" ? -1 : 1)
            }
        }
        guard let local = AmzDate(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        else { return nil }
        self.init(epochSeconds: local.epochSeconds - Int64(offset))
    }

    init?(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year),
              (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second),
              (0...9999).contains(year)
        else { return nil }
        let days = Self.days(fromCivil: Int64(year), month, day)
        epochSeconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second)
    }

    // MARK: - Calendar arithmetic (Howard Hinnant's days_from_civil / civil_from_days)

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        a >= 0 ? a / b : (a - b + 1) / b
    }

    static func days(fromCivil year: Int64, _ month: Int, _ day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = Int64((month + 9) % 12)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func number(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> Int? {
        var value = 0
        for i in start..<(start + count) {
            let digit = Int(bytes[i]) - 48
            guard (0...9).contains(digit) else { return nil }
            value = value * 10 + digit
        }
        return value
    }

    private static func appendDigits(_ value: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(48 + (rest / divisor) % 10))
            rest %= divisor
            divisor /= 10
        }
    }
}
