/// UTC times in the ISO 8601 form AWS writes them (`2026-11-29T12:00:00Z`, whole seconds):
/// CloudTrail's eventTime, aws:CurrentTime, and the timestamps of IAM's and STS's XML.
/// One formatter and parser for all of them, by bytes: no DateFormatter, no Calendar, no
/// intermediate String, since the audit stage formats one per request.
public enum ISO8601Time {
    /// The text's length for years 0 to 9999.
    public static let length = 20

    /// Appends `2026-11-29T12:00:00Z` (rounded down to the second) to `out`.
    public static func write(_ epoch: Double, into out: inout [UInt8]) {
        let seconds = epoch.isFinite ? Int64(max(min(epoch, 9.0e15), -9.0e15).rounded(.down)) : 0
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = civil(fromDays: days)
        if year >= 0 && year <= 9999 {
            two(Int(year / 100), into: &out)
            two(Int(year % 100), into: &out)
        } else {
            out.append(contentsOf: String(year).utf8)  // outside what AWS ever writes; kept exact
        }
        out.append(UInt8(ascii: "-")); two(month, into: &out)
        out.append(UInt8(ascii: "-")); two(day, into: &out)
        out.append(UInt8(ascii: "T")); two(secondOfDay / 3600, into: &out)
        out.append(UInt8(ascii: ":")); two(secondOfDay / 60 % 60, into: &out)
        out.append(UInt8(ascii: ":")); two(secondOfDay % 60, into: &out)
        out.append(UInt8(ascii: "Z"))
    }

    /// `2026-11-29T12:00:00Z` as a String.
    public static func format(_ epoch: Double) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(length)
        write(epoch, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Epoch seconds of `YYYY-MM-DDTHH:MM:SS` followed by anything (`Z`, fractions; they
    /// are ignored, as the trail and IAM write UTC whole seconds); nil when malformed.
    public static func parse(_ text: String) -> Double? {
        var text = text
        return text.withUTF8 { b -> Double? in
            guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T"),
                  b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":") else { return nil }
            func number(_ range: Range<Int>) -> Int? {
                var v = 0
                for i in range {
                    guard b[i] >= 0x30, b[i] <= 0x39 else { return nil }
                    v = v * 10 + Int(b[i] - 0x30)
                }
                return v
            }
            guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10), let hh = number(11..<13),
                  let mm = number(14..<16), let ss = number(17..<19),
                  (1...12).contains(m), (1...31).contains(d), hh < 24, mm < 60, ss < 61 else { return nil }
            return Double(days(fromCivil: Int64(y), m, d) * 86_400 + Int64(hh * 3600 + mm * 60 + ss))
        }
    }

    /// Howard Hinnant's days_from_civil (proleptic Gregorian, exact).
    static func days(fromCivil y0: Int64, _ m: Int, _ d: Int) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = Int64((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1)
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Howard Hinnant's civil_from_days.
    static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    @inline(__always)
    private static func two(_ v: Int, into out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: 0x30 + v / 10))
        out.append(UInt8(truncatingIfNeeded: 0x30 + v % 10))
    }
}
