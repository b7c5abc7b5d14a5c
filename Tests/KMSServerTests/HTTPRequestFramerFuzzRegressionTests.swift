import NIOCore
import Testing
@testable import KMSServer

/// Inputs found by the FuzzHTTPFramer target (Fuzz/, docs/FUZZING.md), kept as tests: the
/// framer's verdict must not depend on how TCP splits the stream.
@Suite struct HTTPRequestFramerFuzzRegressionTests {
    /// Frames `bytes` delivered in pieces of `piece` bytes; nil when the framer refuses them.
    static func frame(_ bytes: [UInt8], piece: Int) -> [HTTPRequestMessage]? {
        var framer = HTTPRequestFramer(maxBodyBytes: 1024)
        var buffer = ByteBuffer()
        var out: [HTTPRequestMessage] = []
        for start in stride(from: 0, to: bytes.count, by: piece) {
            buffer.writeBytes(bytes[start..<min(start + piece, bytes.count)])
            do {
                loop: while true {
                    switch try framer.step(&buffer) {
                    case .message(let m): out.append(m)
                    case .progressed: continue
                    case .needMoreData: break loop
                    }
                }
            } catch {
                return nil
            }
        }
        return out
    }

    /// A head of `length` bytes before its CRLFCRLF.
    static func head(length: Int) -> [UInt8] {
        let start = Array("POST / HTTP/1.1\r\nHost: x\r\nX-Pad: ".utf8)
        return start + Array(repeating: UInt8(ascii: "a"), count: length - start.count) + Array("\r\n\r\n".utf8)
    }

    /// Fuzz/Corpus/FuzzHTTPFramer/head-at-limit-split145: a head of exactly maxHeadBytes was
    /// accepted in one piece but refused when 1 to 3 bytes of its CRLFCRLF arrived later.
    @Test(arguments: [0, 1, 145, 16385, 16386, 16387])
    func headAtTheLimitIsAcceptedHoweverSplit(piece: Int) {
        let bytes = Self.head(length: HTTPRequestFramer.maxHeadBytes)
        let messages = Self.frame(bytes, piece: piece == 0 ? bytes.count : piece)
        #expect(messages?.count == 1)
    }

    @Test(arguments: [0, 1, 145, 16385])
    func headOverTheLimitIsRefusedHoweverSplit(piece: Int) {
        let bytes = Self.head(length: HTTPRequestFramer.maxHeadBytes + 1)
        #expect(Self.frame(bytes, piece: piece == 0 ? bytes.count : piece) == nil)
    }
}
