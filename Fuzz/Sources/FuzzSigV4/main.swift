// libFuzzer target: SigV4 Authorization parsing and request canonicalization, which run on
// every request before the signature is known to be good.
//
// Input: a request written loosely as `METHOD SP target LF (name ":" value LF)* LF body`
// (see Fuzz/make_corpus.py). Invariants beyond "no crash":
// - a parsed Authorization, written back out from its fields, parses to the same fields;
// - the canonical query string is a fixed point of canonicalization;
// - signer and verifier agree: a request SigV4Signer signs (any method, target, headers and
//   body a client could send on the wire, in the region its Host names) is accepted, unless
//   the verifier refuses it for one of its documented reasons, which must then hold of the
//   request: a repeated signed header, UNSIGNED-PAYLOAD, an x-amz-content-sha256 that is not
//   the body's hash, a region name that is not one, more than 128 signed headers, or a
//   canonical request over 64 KiB. A signature mismatch, or an unsigned host, content-type
//   or x-amz-* header (the signer signs all of them), breaks the invariant.
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
    static let signingCache = SigningKeyCache()
    static let defaultHost = "kms.us-east-1.amazonaws.com"
}

/// The region a client would sign for, as botocore derives it from a `kms.<region>.amazonaws.com`
/// endpoint; us-east-1 for any other host. Only characters that cannot end a Credential
/// field are taken, so invalid region names (upper case, `_`, wrong shape) still reach the verifier.
func region(ofHost host: String) -> String {
    let labels = host.split(separator: ".", omittingEmptySubsequences: false)
    guard labels.count == 4, labels[0] == "kms", labels[2] == "amazonaws", labels[3] == "com",
          labels[1].utf8.allSatisfy({ b in
              (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F
          })
    else { return "us-east-1" }
    return String(labels[1])
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
    let hostHeader = kept.first { asciiLowercased($0.name) == "host" }
    let host = hostHeader?.value ?? Fixture.defaultHost
    let signer = SigV4Signer(accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: Fixture.secret,
                             region: region(ofHost: host), cache: Fixture.signingCache)
    let date = Date(timeIntervalSince1970: 1_764_000_000)
    let added: [(name: String, value: String)]
    do {
        added = try signer.sign(method: request.method, path: String(path), query: String(query),
                                host: hostHeader == nil ? host : nil, headers: kept, body: request.body, date: date)
    } catch {
        expect(false, "the signer refuses a request with a host: \(error)")
        return 0
    }
    var sent = added + kept
    if hostHeader == nil { sent.append(("Host", host)) }

    // What the signer signed: every header but the hop-by-hop ones it skips.
    var counts: [String: Int] = [:]
    for h in sent {
        let name = asciiLowercased(h.name)
        if name != "authorization" && !SigV4Signer.unsignedHeaderNames.contains(name) { counts[name, default: 0] += 1 }
    }
    let auth: SigV4Authorization
    do { auth = try Fixture.verifier.parseAuthorization(headers: sent) } catch {
        expect(error == .tooManySignedHeaders && counts.count > SigV4Authorization.maxSignedHeaders,
               "signer output does not parse: \(error)")
        return 0
    }
    expect(auth.signedHeaders == counts.keys.sorted(), "SignedHeaders is not what the signer signed")

    // The verifier's documented refusals, and whether each applies to this request.
    let repeated = Set(counts.filter { $0.value > 1 }.keys)
    let declared = sent.first { asciiLowercased($0.name) == "x-amz-content-sha256" }?.value
    let bodyHash = request.body.withUnsafeBytes { SHA256Hasher.hash($0).withUnsafeBytes { ASCII.hex($0) } }
    let regionName = region(ofHost: host)
    let documented = !repeated.isEmpty || declared.map { $0 != bodyHash } == true || !RegionName.isValid(regionName)
    do {
        try Fixture.verifier.verify(method: request.method, uri: request.target, headers: sent, body: request.body,
                                    authorization: auth, secretAccessKey: Fixture.secret, now: date)
        expect(!documented, "accepted despite a documented refusal (repeated \(repeated), declared \(declared ?? "-"), region \(regionName))")
    } catch {
        let allowed = repeated.contains { error == .repeatedHeader($0) }
            || (declared == CanonicalRequest.unsignedPayload && error == .unsignedPayloadRefused)
            || (declared != nil && declared != bodyHash && error == .contentSHA256Mismatch)
            || (!RegionName.isValid(regionName) && error == .invalidRegion(regionName))
            || error == .canonicalRequestTooLarge
        expect(allowed, "signer and verifier disagree: \(error)")
    }
    return 0
}

// The entry point: SwiftPM aliases `main` to this file's top-level code, so libFuzzer's own
// `main` never runs; hand libFuzzer the command line here (CLibFuzzer.h).
var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv) { data, size in fuzzSigV4(data.map(UnsafeRawPointer.init), size) })
