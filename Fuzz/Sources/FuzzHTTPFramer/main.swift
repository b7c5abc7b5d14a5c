// libFuzzer target: HTTPRequestFramer, the first code every byte from the network meets.
//
// Input: one control byte, then the byte stream of a connection. The stream is framed twice:
// in one piece, and delivered in segments of (control byte + 1) bytes, as TCP may split it.
// Invariants beyond "no crash":
// - framing does not depend on segmentation: same requests, in the same order, and a
//   refusal in one delivery is a refusal in the other;
// - every step makes progress (no step loops without consuming input or finishing a request);
// - no body passes maxBodyBytes; a too-large request carries no body and closes the connection;
// - no request has more than maxHeaders header fields.
// The framer's other limits (16 KiB head, 256 chunks per body, trailers within a head's
// budget) are refusals, so segmentation-independence covers them: seeds sit at each limit.
import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import CLibFuzzer
@testable import KMSServer

func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard !condition else { return }
    fatalError("FuzzHTTPFramer invariant broken: \(message())")
}

/// Small, so that both bodies within the limit and refused ones are common.
let maxBodyBytes = 512

struct Outcome {
    var messages: [HTTPRequestMessage] = []
    var refused = false
}

/// Runs the framer over what `buffer` holds until it needs more data, as ByteToMessageDecoder does.
func drain(_ framer: inout HTTPRequestFramer, _ buffer: inout ByteBuffer, into outcome: inout Outcome) {
    // Each step either finishes a request, consumes bytes or changes state; a generous bound
    // on steps without consumption catches a framer that spins.
    var idleSteps = 0
    while !outcome.refused {
        let before = buffer.readerIndex
        do {
            switch try framer.step(&buffer) {
            case .needMoreData: return
            case .message(let message): outcome.messages.append(message); idleSteps = 0
            case .progressed: idleSteps = buffer.readerIndex == before ? idleSteps + 1 : 0
            }
        } catch {
            outcome.refused = true
        }
        expect(idleSteps < 4, "framer steps without progress")
    }
}

func frame(_ stream: UnsafeRawBufferPointer, segment: Int) -> Outcome {
    var framer = HTTPRequestFramer(maxBodyBytes: maxBodyBytes)
    var buffer = ByteBufferAllocator().buffer(capacity: stream.count)
    var outcome = Outcome()
    var offset = 0
    while offset < stream.count && !outcome.refused {
        let end = min(stream.count, offset + segment)
        buffer.writeBytes(UnsafeRawBufferPointer(rebasing: stream[offset..<end]))
        drain(&framer, &buffer, into: &outcome)
        buffer.discardReadBytes()
        offset = end
    }
    return outcome
}

func same(_ a: HTTPRequestMessage, _ b: HTTPRequestMessage) -> Bool {
    a.method == b.method && a.uri == b.uri && a.body == b.body && a.keepAlive == b.keepAlive
        && a.tooLarge == b.tooLarge && a.amzTarget == b.amzTarget && a.userAgent == b.userAgent
        && a.headers.count == b.headers.count
        && zip(a.headers, b.headers).allSatisfy { $0.name == $1.name && $0.value == $1.value }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFramer(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    guard count > 0 else { return 0 }
    let data = UnsafeRawBufferPointer(start: start, count: count)
    let segment = Int(data[0]) + 1
    let stream = UnsafeRawBufferPointer(rebasing: data[1...])
    let whole = frame(stream, segment: max(stream.count, 1))
    let pieces = frame(stream, segment: segment)
    for message in whole.messages {
        expect(message.body.count <= maxBodyBytes, "body over the limit")
        expect(message.headers.count <= HTTPRequestFramer.maxHeaders, "more than maxHeaders header fields")
        if message.tooLarge { expect(message.body.isEmpty && !message.keepAlive, "too-large request kept its body or connection") }
    }
    expect(whole.refused == pieces.refused, "refusal depends on segmentation (whole: \(whole.refused))")
    expect(whole.messages.count == pieces.messages.count,
           "request count depends on segmentation: \(whole.messages.count) vs \(pieces.messages.count)")
    for (a, b) in zip(whole.messages, pieces.messages) { expect(same(a, b), "request differs with segmentation") }
    return 0
}

// The entry point: SwiftPM aliases `main` to this file's top-level code, so libFuzzer's own
// `main` never runs; hand libFuzzer the command line here (CLibFuzzer.h).
var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv) { data, size in fuzzFramer(data.map(UnsafeRawPointer.init), size) })
