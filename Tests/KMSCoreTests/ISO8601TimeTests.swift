import Foundation
import KMSCore
import Testing

/// The one ISO 8601 formatter (audit eventTime, aws:CurrentTime, IAM/STS XML) against
/// Foundation's, and its parser back.
@Suite struct ISO8601TimeTests {
    @Test func agreesWithFoundation() {
        let reference = ISO8601DateFormatter()
        reference.timeZone = TimeZone(identifier: "UTC")
        var g = SystemRandomNumberGenerator()
        var times: [Double] = [0, 59, 86_399, 86_400, 951_782_400, 1_700_000_000, 1_796_040_000, 4_102_444_799,
                               -1, -86_400, -86_401, 253_402_300_799]  // through 9999-12-31T23:59:59Z
        for _ in 0..<2000 { times.append(Double(Int64.random(in: -2_000_000_000...253_402_300_799, using: &g))) }
        for t in times {
            let text = ISO8601Time.format(t)
            #expect(text == reference.string(from: Date(timeIntervalSince1970: t)), "\(t)")
            #expect(ISO8601Time.parse(text) == t, "\(text)")
        }
    }

    @Test func fractionsRoundDownAndWriteAppends() {
        #expect(ISO8601Time.format(1_700_000_000.999) == "2023-11-14T22:13:20Z")
        #expect(ISO8601Time.format(-0.5) == "1969-12-31T23:59:59Z")
        var out = Array("t=".utf8)
        ISO8601Time.write(951_782_400, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == "t=2000-02-29T00:00:00Z")
        #expect(ISO8601Time.format(.nan) == "1970-01-01T00:00:00Z")
    }

    @Test func parsesWhatAWSWritesAndRefusesTheRest() {
        #expect(ISO8601Time.parse("2026-11-30T12:00:00.123Z") == 1_796_040_000)
        for bad in ["", "2026-11-29", "2026-13-01T00:00:00Z", "2026-11-29 12:00:00Z", "2026-11-29T25:00:00Z",
                    "2026-1x-29T12:00:00Z", "2026/11/29T12:00:00Z", "2026-11-00T12:00:00Z"] {
            #expect(ISO8601Time.parse(bad) == nil, "\(bad)")
        }
    }
}
