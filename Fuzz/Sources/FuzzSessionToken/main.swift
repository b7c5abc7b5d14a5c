// libFuzzer target: session tokens (X-Amz-Security-Token), which every request with
// temporary credentials carries and the server opens before anything else is known.
//
// The first input byte picks what the rest is:
// - 0: a token's text, opened by SessionTokenSealer with a fixed key. It must be refused
//   (nobody forges AES-GCM by chance) without a crash, for any length and alphabet.
// - 1: an opened token's plaintext, read by CompactSessionToken.decode, which must not
//   trust any length. A session it accepts must survive encode + decode unchanged: the
//   encoder represents everything the decoder can read.
// - otherwise: the fields of a session (kind, account, role, names, tags, policies, times,
//   chosen so that the encoder's derived forms are hit as well as the carried ones), sealed
//   and opened again: the opened session must equal the sealed one.
#if canImport(Glibc)
import Glibc
#endif
import CLibFuzzer
import Crypto
@testable import STS

func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard !condition else { return }
    fatalError("FuzzSessionToken invariant broken: \(message())")
}

enum Fixture {
    static let sealer = SessionTokenSealer(key: SymmetricKey(data: [UInt8](repeating: 7, count: 32)))
    /// Encodes account 111122223333 (AccessKeyID.account reads it back).
    static let keyId = "ASIABTX3GSDSQAAAAAAA"
}

/// Reads fields off the fuzz input; past its end every read gives empty or zero values.
struct Fields {
    let bytes: [UInt8]
    var at = 0
    mutating func byte() -> UInt8 {
        defer { at += 1 }
        return at < bytes.count ? bytes[at] : 0
    }
    mutating func string(max limit: Int = 40) -> String {
        let wanted = Int(byte()) % (limit + 1)
        let start = Swift.min(at, bytes.count), n = Swift.min(wanted, bytes.count - start)
        at = start + n
        return String(decoding: bytes[start..<(start + n)], as: UTF8.self)
    }
    mutating func double() -> Double {
        var bits: UInt64 = 0
        for _ in 0..<8 { bits = bits << 8 | UInt64(byte()) }
        return Double(bitPattern: bits)
    }
}

func session(from input: [UInt8]) -> STSSession {
    var f = Fields(bytes: input)
    let shape = f.byte()
    let account = shape & 1 == 0 ? "111122223333" : f.string(max: 14)
    let keyId = shape & 2 == 0 ? Fixture.keyId : "ASIA" + f.string(max: 20)
    let secret = shape & 4 == 0 ? String(repeating: "A", count: 39) + "/" : f.string()
    let role = shape & 8 == 0
    let roleName = f.string(max: 16), sessionName = f.string(max: 16), roleId = "AROA" + f.string(max: 12)
    let roleArn = "arn:aws:iam::\(account):role/\(roleName)"
    let derived = CompactSessionToken.assumedRoleArn(account: account, roleArn: roleArn, sessionName: sessionName)
    let arn = role && shape & 16 == 0 ? derived ?? roleArn : (shape & 32 == 0 ? "arn:aws:iam::\(account):user/\(f.string())"
                                                                               : f.string())
    let userId = role && shape & 64 == 0 ? "\(roleId):\(sessionName)" : (shape & 128 == 0 ? account : f.string())
    var tags: [String: String] = [:]
    for _ in 0..<(Int(f.byte()) % 4) { tags[f.string(max: 8)] = f.string(max: 8) }
    let flags = f.byte()
    let policy = flags & 1 == 0 ? nil : f.string()
    let policyArns = flags & 2 == 0 ? nil : (0..<(Int(f.byte()) % 3)).map { _ in "arn:aws:iam::\(account):policy/\(f.string(max: 8))" }
    let issued = flags & 4 == 0 ? 1_796_032_800 + Double(f.byte()) : f.double()
    let expires = flags & 8 == 0 ? issued + 3600 * Double(f.byte() % 13) : f.double()
    return STSSession(kind: role ? .assumedRole : .sessionToken, accessKeyId: keyId, secretAccessKey: secret,
                      account: account, arn: arn, userId: userId, roleArn: role ? roleArn : nil,
                      roleId: role ? roleId : nil, sessionName: role ? sessionName : nil,
                      sourceIdentity: flags & 16 == 0 ? nil : f.string(), tags: tags, policy: policy,
                      policyArns: policyArns, issuedFor: flags & 32 == 0 ? "arn:aws:iam::\(account):root" : f.string(),
                      issued: issued, expires: expires)
}

/// Equal field by field, the times by bit pattern (NaN is a value the decoder can produce).
func same(_ a: STSSession, _ b: STSSession) -> Bool {
    var x = a, y = b
    guard x.issued.bitPattern == y.issued.bitPattern, x.expires.bitPattern == y.expires.bitPattern else { return false }
    x.issued = 0; x.expires = 0; y.issued = 0; y.expires = 0
    return x == y
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSessionToken(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start, count > 0 else { return 0 }
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let rest = Array(bytes[1...])
    switch bytes[0] {
    case 0:
        let token = String(decoding: rest, as: UTF8.self)
        do {
            _ = try Fixture.sealer.open(token, accessKeyId: Fixture.keyId)
            expect(false, "a token nobody sealed opened")
        } catch {
            expect(error == .invalid, "refused as \(error), not invalid")
        }
    case 1:
        guard let s = CompactSessionToken.decode(rest, accessKeyId: Fixture.keyId) else { return 0 }
        let again = CompactSessionToken.decode(CompactSessionToken.encode(s), accessKeyId: Fixture.keyId)
        expect(again.map { same($0, s) } ?? false, "decode(encode(s)) != s for \(s)")
    default:
        let s = session(from: rest)
        do {
            let token = try Fixture.sealer.seal(s)
            let opened = try Fixture.sealer.open(token, accessKeyId: s.accessKeyId)
            expect(same(opened, s), "sealed \(s), opened \(opened)")
        } catch {
            expect(false, "seal or open failed: \(error) for \(s)")
        }
    }
    return 0
}

// The entry point: SwiftPM aliases `main` to this file's top-level code, so libFuzzer's own
// `main` never runs; hand libFuzzer the command line here (CLibFuzzer.h).
var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv) { data, size in fuzzSessionToken(data.map(UnsafeRawPointer.init), size) })
