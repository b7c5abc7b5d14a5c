import Foundation
import Testing
@testable import SigV4

@Suite struct CanonicalFormTests {
    func uri(_ path: String) -> String {
        var out = [UInt8]()
        CanonicalRequest.appendURI(path, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func query(_ raw: String) -> String {
        var out = [UInt8]()
        CanonicalRequest.appendQuery(raw, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    func headers(_ hs: [(name: String, value: String)], _ signed: [String]) -> String {
        var out = [UInt8]()
        _ = CanonicalRequest.appendHeaders(hs, signed: signed, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func canonicalURI() {
        #expect(uri("") == "/")
        #expect(uri("/") == "/")
        #expect(uri("/a/b") == "/a/b")
        #expect(uri("/a//b/") == "/a/b/")
        #expect(uri("/a/./b/../c") == "/a/c")
        #expect(uri("/../..") == "/")
        #expect(uri("/a%20b") == "/a%2520b")  // the wire's %20 is encoded again
        #expect(uri("/~user/x_y-z.json") == "/~user/x_y-z.json")
        #expect(uri("/ü") == "/%C3%BC")
        #expect(uri("/a:b@c") == "/a%3Ab%40c")
    }

    @Test func canonicalQuery() {
        #expect(query("") == "")
        #expect(query("Param2=value2&Param1=value1") == "Param1=value1&Param2=value2")
        #expect(query("a=2&a=1&b") == "a=1&a=2&b=")
        #expect(query("k=a+b&x=%2a&y=%7E&&") == "k=a%20b&x=%2A&y=~")
        #expect(query("%zz=1") == "%25zz=1")
        #expect(query("B=1&a=1") == "B=1&a=1")  // byte order: uppercase first
    }

    @Test func canonicalHeaders() {
        let hs: [(name: String, value: String)] = [
            ("Host", "example.com"), ("X-Multi", " a  \t b "), ("x-multi", "c"), ("X-Other", "ignored"),
            ("Empty", ""),
        ]
        #expect(headers(hs, ["empty", "host", "x-multi"]) == "empty:\nhost:example.com\nx-multi:a b,c\n")
        #expect(headers(hs, ["absent"]) == "absent:\n")
    }

    @Test func returnsDeclaredContentSHA256() {
        var out = [UInt8]()
        let hs: [(name: String, value: String)] = [
            ("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"), ("x-amz-content-sha256", "second"),
        ]
        let declared = CanonicalRequest.appendHeaders(hs, signed: [], to: &out)
        #expect(declared == "UNSIGNED-PAYLOAD")
    }

    @Test func trimAll() {
        var out = [UInt8]()
        ASCII.appendTrimmed("  \t a   b\n\nc  ", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "a b c")
    }

    /// Long values take the eight-bytes-at-a-time scan: a whitespace byte anywhere (each
    /// position, each kind) must still send them to the trimming path.
    @Test func trimLongValues() {
        let base = String(repeating: "AbCdEfGh0123456789+/=", count: 3)
        var plain = [UInt8]()
        ASCII.appendTrimmed(base, to: &plain)
        #expect(plain == Array(base.utf8))
        for space: UInt8 in [0x20, 0x09, 0x0A, 0x0D, 0x1C, 0x1F] {
            for i in 0..<base.utf8.count {
                var bytes = Array(base.utf8)
                bytes[i] = space
                let value = String(decoding: bytes, as: UTF8.self)
                var out = [UInt8]()
                ASCII.appendTrimmed(value, to: &out)
                let expected = Array(bytes.split(whereSeparator: ASCII.isSpace).joined(separator: [0x20]))
                #expect(out == expected, "space \(space) at \(i)")
            }
        }
        #expect(!ASCII.containsByteAtMost0x20(UnsafeRawBufferPointer(start: nil, count: 0)))
        for b in [UInt8(0x21), 0x7F, 0x80, 0xFF] {
            #expect(!Array(repeating: b, count: 19).withUnsafeBytes { ASCII.containsByteAtMost0x20($0) })
        }
        for b in [UInt8(0x00), 0x01, 0x20] {
            for i in 0..<19 {
                var bytes = Array(repeating: UInt8(0xFF), count: 19)
                bytes[i] = b
                #expect(bytes.withUnsafeBytes { ASCII.containsByteAtMost0x20($0) })
            }
        }
    }

    @Test func constantTimeCompare() {
        let digest: [UInt8] = [0x00, 0xAB, 0xFF]
        #expect(ASCII.constantTimeHexEquals(digest, "00abff"))
        #expect(!ASCII.constantTimeHexEquals(digest, "00abfe"))
        #expect(!ASCII.constantTimeHexEquals(digest, "00ABFF"))
        #expect(!ASCII.constantTimeHexEquals(digest, "00abff0"))
        #expect(!ASCII.constantTimeHexEquals(digest, ""))
    }
}

@Suite struct AmzDateTests {
    @Test func basicRoundTrip() throws {
        let date = try #require(AmzDate(basic: "20261123T120000Z"))
        #expect(date.basic == "20261123T120000Z")
        #expect(date.epochSeconds == 1_795_435_200)
        #expect(AmzDate(epochSeconds: 0).basic == "19700101T000000Z")
        #expect(AmzDate(epochSeconds: 1_709_164_800).basic == "20240229T000000Z")
        #expect(AmzDate(epochSeconds: 1_440_938_160).basic == "20150830T123600Z")
        #expect(AmzDate(epochSeconds: -1).basic == "19691231T235959Z")
    }

    @Test func agreesWithFoundationAcrossYears() throws {
        for seconds in stride(from: Int64(-2_000_000_000), through: 4_000_000_000, by: 86_399 * 37) {
            let text = AmzDate(epochSeconds: seconds).basic
            let parsed = try #require(AmzDate(basic: text))
            #expect(parsed.epochSeconds == seconds)
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
            let foundation = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            #expect(foundation == text)
        }
    }

    @Test(arguments: ["20261123", "20261123T120000z", "2026112T1200000Z", "20260230T120000Z", "20261123T126000Z",
                      "2026-11-23T12:00:00Z", "20261123T12000OZ"])
    func rejectsMalformedBasic(_ text: String) {
        #expect(AmzDate(basic: text) == nil)
    }

    @Test func httpDates() {
        let noon = AmzDate(basic: "20261123T120000Z")
        #expect(AmzDate(httpDate: "Mon, 23 Nov 2026 12:00:00 GMT") == noon)
        #expect(AmzDate(httpDate: "Mon, 23 Nov 2026 12:00:00 -0000") == noon)
        #expect(AmzDate(httpDate: "23 Nov 2026 12:00:00 UTC") == noon)
        #expect(AmzDate(httpDate: "Mon, 23 Nov 2026 14:00:00 +0200") == noon)
        #expect(AmzDate(httpDate: "Mon, 23 Nov 2026 07:00:00 -0500") == noon)
        #expect(AmzDate(httpDate: "20261123T120000Z") == noon)
        #expect(AmzDate(httpDate: "Mon, 23 Foo 2026 12:00:00 GMT") == nil)
        #expect(AmzDate(httpDate: "Mon, 31 Nov 2026 12:00:00 GMT") == nil)
        #expect(AmzDate(httpDate: "Mon, 23 Nov 2026 12:00 GMT") == nil)
        #expect(AmzDate(httpDate: "") == nil)
    }
}
