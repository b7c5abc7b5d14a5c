import NIOCore
import Testing
@testable import KMSServer

/// Request framing: whole requests out of arbitrary TCP segmentation, pipelining, chunked
/// bodies, keep-alive rules, and refusal of every ambiguous or malformed head.
@Suite struct HTTPRequestFramerTests {
    /// Feeds `text` in pieces of `piece` bytes (0: all at once) and collects what comes out.
    static func frame(_ text: String, piece: Int = 0, maxBody: Int = 1024) throws(HTTPRequestFramingError) -> [HTTPRequestMessage] {
        var framer = HTTPRequestFramer(maxBodyBytes: maxBody)
        var buffer = ByteBuffer()
        var out: [HTTPRequestMessage] = []
        let bytes = Array(text.utf8)
        let size = piece == 0 ? max(bytes.count, 1) : piece
        for start in stride(from: 0, to: bytes.count, by: size) {
            buffer.writeBytes(bytes[start..<min(start + size, bytes.count)])
            loop: while true {
                switch try framer.step(&buffer) {
                case .message(let m): out.append(m)
                case .progressed: continue
                case .needMoreData: break loop
                }
            }
        }
        return out
    }

    static let encrypt = "POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nX-Amz-Target: TrentService.Encrypt\r\n"
        + "Content-Type: application/x-amz-json-1.1\r\nContent-Length: 13\r\n\r\n{\"KeyId\":\"k\"}"

    @Test func wholeRequestFromAnySegmentation() throws {
        for piece in [0, 1, 2, 3, 7, 64] {
            let messages = try Self.frame(Self.encrypt, piece: piece)
            #expect(messages.count == 1, "piece \(piece)")
            let m = try #require(messages.first)
            #expect(m.method == "POST" && m.uri == "/" && m.keepAlive && !m.tooLarge)
            #expect(m.headers.map(\.name) == ["Host", "X-Amz-Target", "Content-Type", "Content-Length"])
            #expect(m.header("x-amz-target") == "TrentService.Encrypt")
            #expect(m.amzTarget == "TrentService.Encrypt" && m.userAgent == nil)
            #expect(m.header("host") == "127.0.0.1:8080")
            #expect(String(decoding: m.body, as: UTF8.self) == "{\"KeyId\":\"k\"}")
        }
    }

    @Test func pipelinedRequestsComeOutInOrder() throws {
        let second = Self.encrypt.replacingOccurrences(of: "Encrypt", with: "Decrypt")
        for piece in [0, 5] {
            let messages = try Self.frame("\r\n" + Self.encrypt + Self.encrypt + second, piece: piece)
            #expect(messages.map { $0.header("x-amz-target") } == ["TrentService.Encrypt", "TrentService.Encrypt", "TrentService.Decrypt"])
        }
    }

    @Test func chunkedBodiesAreJoined() throws {
        let request = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n"
            + "4;ext=1\r\n{\"a\"\r\nA\r\n:\"0123456\"\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n"
        for piece in [0, 1, 4] {
            let messages = try Self.frame(request + Self.encrypt, piece: piece)
            #expect(messages.count == 2)
            #expect(String(decoding: messages[0].body, as: UTF8.self) == "{\"a\":\"0123456\"}")
            #expect(messages[1].header("x-amz-target") == "TrentService.Encrypt")
        }
    }

    @Test func keepAliveRules() throws {
        func keepAlive(_ version: String, _ connection: String?) throws -> Bool {
            let header = connection.map { "Connection: \($0)\r\n" } ?? ""
            return try #require(Self.frame("GET / \(version)\r\nHost: h\r\n\(header)\r\n").first).keepAlive
        }
        #expect(try keepAlive("HTTP/1.1", nil))
        #expect(try !keepAlive("HTTP/1.1", "close"))
        #expect(try !keepAlive("HTTP/1.1", "Upgrade, Close"))
        #expect(try !keepAlive("HTTP/1.0", nil))
        #expect(try keepAlive("HTTP/1.0", "Keep-Alive"))
    }

    @Test func oversizedBodiesAreRefusedAndTheRestDropped() throws {
        let big = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n" + String(repeating: "x", count: 2000) + Self.encrypt
        let messages = try Self.frame(big, piece: 100)
        #expect(messages.count == 1)
        #expect(messages[0].tooLarge && !messages[0].keepAlive && messages[0].body.isEmpty)
        let chunked = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" + String(repeating: "x", count: 1024)
            + "\r\n1\r\nx\r\n0\r\n\r\n"
        let refused = try Self.frame(chunked)
        #expect(refused.count == 1 && refused[0].tooLarge)
    }

    @Test(arguments: [
        "POST /\r\n\r\n",                                              // no version
        "POST / HTTP/2.0\r\nHost: h\r\n\r\n",                          // unsupported version
        "POST  / HTTP/1.1\r\nHost: h\r\n\r\n",                         // empty target
        "PO ST / HTTP/1.1\r\n\r\n",                                    // four parts
        "POST / HTTP/1.1\r\nHost h\r\n\r\n",                           // no colon
        "POST / HTTP/1.1\r\nHost : h\r\n\r\n",                         // space before colon
        "POST / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",               // obs-fold
        "POST / HTTP/1.1\r\nX: a\u{01}b\r\n\r\n",                      // control character
        "POST / HTTP/1.1\nHost: h\r\n\r\n",                            // bare LF
        "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",               // not a number
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",       // conflicting lengths
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", // both framings
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",          // unknown coding
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", // bad chunk size
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n", // chunk longer than declared
    ])
    func malformedHeadsAreRefused(request: String) {
        #expect(throws: HTTPRequestFramingError.self) { try Self.frame(request) }
        #expect(throws: HTTPRequestFramingError.self) { try Self.frame(request, piece: 1) }
    }

    @Test func repeatedEqualContentLengthsAreAccepted() throws {
        let m = try Self.frame("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}")
        #expect(m.count == 1 && m[0].body == Array("{}".utf8))
    }

    @Test func headsOverTheLimitAreRefused() {
        let huge = "POST / HTTP/1.1\r\nX-Pad: " + String(repeating: "a", count: HTTPRequestFramer.maxHeadBytes)
        #expect(throws: HTTPRequestFramingError.headTooLarge) { try Self.frame(huge) }
        let many = "POST / HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: HTTPRequestFramer.maxHeaders + 1) + "\r\n"
        #expect(throws: HTTPRequestFramingError.self) { try Self.frame(many) }
        let trailers = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
            + String(repeating: "X: y\r\n", count: HTTPRequestFramer.maxHeaders + 1) + "\r\n"
        #expect(throws: HTTPRequestFramingError.self) { try Self.frame(trailers) }
    }

    /// The word-at-a-time control check agrees with the plain definition for every byte
    /// value at every offset of a value longer than one word.
    @Test func controlCharacterCheckMatchesDefinition() {
        for value in 0...255 {
            for position in [0, 5, 7, 8, 15, 20] {
                var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: 21)
                bytes[position] = UInt8(value)
                let expected = (value < 0x20 && value != 0x09) || value == 0x7F
                let found = bytes.withUnsafeBytes { HTTPRequestFramer.containsControlCharacter($0) }
                #expect(found == expected, "byte \(value) at \(position)")
            }
        }
        // A tab early must not hide a control byte later in the value.
        let mixed: [UInt8] = Array("a\tbcdefghijkl".utf8) + [0x01]
        #expect(mixed.withUnsafeBytes { HTTPRequestFramer.containsControlCharacter($0) })
    }
}

/// Bounded work per request: chunk counts, trailer bytes, and what the framer holds before
/// a body's bytes arrive.
@Suite struct HTTPRequestFramerLimitTests {
    static func chunked(_ chunks: Int, size: Int = 1) -> String {
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(repeating: String(size, radix: 16) + "\r\n" + String(repeating: "x", count: size) + "\r\n", count: chunks)
            + "0\r\n\r\n"
    }

    @Test func chunkCountIsCapped() throws {
        let atCap = try HTTPRequestFramerTests.frame(Self.chunked(HTTPRequestFramer.maxChunks), maxBody: 4096)
        #expect(atCap.count == 1 && atCap[0].body.count == HTTPRequestFramer.maxChunks)
        #expect(throws: HTTPRequestFramingError.malformed("too many chunks")) {
            try HTTPRequestFramerTests.frame(Self.chunked(HTTPRequestFramer.maxChunks + 1), maxBody: 4096)
        }
        // Large chunks are unaffected: 256 KiB in 1 KiB chunks is exactly the cap.
        let big = try HTTPRequestFramerTests.frame(Self.chunked(256, size: 1024), piece: 4096, maxBody: 256 * 1024)
        #expect(big.count == 1 && big[0].body.count == 256 * 1024)
    }

    @Test func trailersShareOneHeadBudget() {
        // Fewer than 100 fields, but more than 16 KiB in all.
        let field = "X-T: " + String(repeating: "a", count: 1000) + "\r\n"
        let request = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + String(repeating: field, count: 20) + "\r\n"
        #expect(throws: HTTPRequestFramingError.self) { try HTTPRequestFramerTests.frame(request) }
    }

    /// The framer knows when a request is half-received (the request deadline runs only then).
    @Test func receivingStateFollowsTheRequest() throws {
        var framer = HTTPRequestFramer(maxBodyBytes: 1024)
        var buffer = ByteBuffer()
        #expect(!framer.isReceiving(buffer))
        buffer.writeString("POST / HTTP/1.1\r\nContent-Length: 100\r\n")
        #expect(try framer.step(&buffer) == .needMoreData)
        #expect(framer.isReceiving(buffer))
        buffer.writeString("\r\n{")
        #expect(try framer.step(&buffer) == .progressed)  // head parsed, body awaited
        #expect(try framer.step(&buffer) == .needMoreData)
        #expect(framer.isReceiving(buffer))
        buffer.writeString(String(repeating: " ", count: 98) + "}")
        guard case .message(let m) = try framer.step(&buffer) else { Issue.record("no message"); return }
        #expect(m.body.count == 100)
        #expect(!framer.isReceiving(buffer))
    }

    /// One-byte chunks up to the cap, many times over: the framing cost stays linear (the
    /// body is appended in place, never copied per chunk).
    @Test func chunkedFramingIsLinear() throws {
        let request = Self.chunked(HTTPRequestFramer.maxChunks, size: 1000)
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for _ in 0..<20 { _ = try HTTPRequestFramerTests.frame(request, piece: 1 << 16, maxBody: 256 * 1024) }
        }
        #expect(elapsed < .seconds(2), "20 x 256 chunks of 1000 bytes took \(elapsed)")
    }
}

extension HTTPRequestFramer.Step: Equatable {
    public static func == (a: Self, b: Self) -> Bool {
        switch (a, b) {
        case (.progressed, .progressed), (.needMoreData, .needMoreData): return true
        default: return false
        }
    }
}
