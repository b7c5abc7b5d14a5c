// libFuzzer target: SigV4 Authorization parsing and request canonicalization, which run on
// every request before the signature is known to be good.
//
// Input: a request written loosely as `METHOD SP target LF (name ":" value LF)* LF body`
// (see Fuzz/make_corpus.py). Invariants beyond "no crash":
// - a parsed Authorization, written back out from its fields, parses to the same fields;
// - the canonical query string is a fixed point of canonicalization;
// - signer and verifier agree: a request SigV4Signer signs (any method, target, headers and
//   body a client could send on the wire) never fails verification with a signature mismatch.
import Foundation
import CLibFuzzer
@testable import SigV4

func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard !condition else { return }
    fatalError("FuzzSigV4 invariant broken: \(message())")
}

enum Fixture {
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    static let verifier = SigV4Verifier(allowedClockSkew: 300, service: "kms", region: nil, cache: SigningKeyCache())
    static let signer = SigV4Signer(accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: secret, region: "us-east-1",
                                    cache: SigningKeyCache())
}

func asciiLowercased(_ s: String) -> String {
    String(decoding: s.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
}

struct Request {
    var method = ""
    var target = ""
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []
}

func split(_ data: UnsafeRawBufferPointer) -> Request {
    var request = Request()
    var lines: [Slice<UnsafeRawBufferPointer>] = []
    var i = data.startIndex, lineStart = i
    while i < data.endIndex {
        if data[i] == 0x0A {
            if i == lineStart && !lines.isEmpty {  // empty line: the body follows
                request.body = Array(data[(i + 1)...])
                break
            }
            lines.append(data[lineStart..<i])
            lineStart = i + 1
        }
        i += 1
    }
    if i == data.endIndex, lineStart < i { lines.append(data[lineStart..<i]) }
    guard let first = lines.first else { return request }
    let space = first.firstIndex(of: 0x20) ?? first.endIndex
    request.method = String(decoding: first[..<space], as: UTF8.self)
    request.target = space < first.endIndex ? String(decoding: first[(space + 1)...], as: UTF8.self) : ""
    for line in lines.dropFirst() {
        let colon = line.firstIndex(of: 0x3A) ?? line.endIndex
        let name = String(decoding: line[..<colon], as: UTF8.self)
        var value = colon < line.endIndex ? line[(colon + 1)...] : line[line.endIndex...]
        while let f = value.first, f == 0x20 || f == 0x09 { value = value.dropFirst() }
        while let l = value.last, l == 0x20 || l == 0x09 { value = value.dropLast() }
        request.headers.append((name, String(decoding: value, as: UTF8.self)))
    }
    return request
}

/// What HTTP/1.1 (and the server's framer) lets through: token names, values without controls.
func wireSafe(_ request: Request) -> Bool {
    func token(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }
    guard token(request.method), !request.target.isEmpty, request.target.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { return false }
    return request.headers.allSatisfy { h in
        token(h.name) && h.value.utf8.allSatisfy { ($0 >= 0x20 || $0 == 0x09) && $0 != 0x7F }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSigV4(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let request = split(UnsafeRawBufferPointer(start: start, count: count))

    // 1. Parse the Authorization header and canonicalize against it.
    if let auth = try? SigV4Authorization.parse(headers: request.headers) {
        let rewritten = "AWS4-HMAC-SHA256 Credential=\(auth.accessKeyId)/\(auth.date)/\(auth.region)/\(auth.service)/\(auth.terminator), "
            + "SignedHeaders=\(auth.signedHeadersLine), Signature=\(auth.signature)"
        // The same headers, the Authorization the parser used replaced by the rewrite.
        var headers = request.headers
        if let i = headers.firstIndex(where: { asciiLowercased($0.name) == "authorization" }) { headers[i].value = rewritten }
        let again = try? SigV4Authorization.parse(headers: headers)
        expect(again == auth, "Authorization does not survive a rewrite: \(rewritten)")
        let now = Date(timeIntervalSince1970: TimeInterval(auth.timestamp.epochSeconds))
        _ = try? Fixture.verifier.verify(method: request.method, uri: request.target, headers: request.headers, body: request.body,
                                 authorization: auth, secretAccessKey: Fixture.secret, now: now)
    }

    // 2. Canonical query strings are already canonical.
    let (path, query) = SigV4Verifier.split(uri: request.target)
    var once: [UInt8] = []
    CanonicalRequest.appendQuery(query, to: &once)
    var twice: [UInt8] = []
    CanonicalRequest.appendQuery(String(decoding: once, as: UTF8.self), to: &twice)
    expect(once == twice, "canonical query is not a fixed point")

    // 3. Sign what a client could send, then verify it.
    guard wireSafe(request) else { return 0 }
    let replaced: Set<String> = ["authorization", "x-amz-date", "x-amz-security-token"]
    let kept = request.headers.filter { !replaced.contains(asciiLowercased($0.name)) }
    let hasHost = kept.contains { asciiLowercased($0.name) == "host" }
    let date = Date(timeIntervalSince1970: 1_764_000_000)
    guard let added = try? Fixture.signer.sign(method: request.method, path: String(path), query: String(query),
                                       host: hasHost ? nil : "kms.us-east-1.amazonaws.com", headers: kept,
                                       body: request.body, date: date)
    else { return 0 }
    var sent = added + kept
    if !hasHost { sent.append(("Host", "kms.us-east-1.amazonaws.com")) }
    let auth: SigV4Authorization
    do { auth = try Fixture.verifier.parseAuthorization(headers: sent) } catch {
        expect(false, "signer output does not parse: \(error)")
        return 0
    }
    do {
        try Fixture.verifier.verify(method: request.method, uri: request.target, headers: sent, body: request.body,
                            authorization: auth, secretAccessKey: Fixture.secret, now: date)
    } catch {
        expect(error != .signatureMismatch, "signer and verifier disagree on the canonical request")
    }
    return 0
}

// The entry point: SwiftPM aliases `main` to this file's top-level code, so libFuzzer's own
// `main` never runs; hand libFuzzer the command line here (CLibFuzzer.h).
var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv) { data, size in fuzzSigV4(data.map(UnsafeRawPointer.init), size) })
