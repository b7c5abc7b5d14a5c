// libFuzzer target: KeyPolicy.validate (CreateKey / PutKeyPolicy documents, up to 32 KiB of
// caller text). Invariants beyond "no crash":
// - a policy that passes the lockout check for a caller also passes without it;
// - the verdict depends on the document, not its formatting: re-serializing an accepted
//   JSON document (JSONWriter) gives the same verdict and the same error.
#if canImport(Glibc)
import Glibc
#endif
import CLibFuzzer
@testable import KMSCore

func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard !condition else { return }
    fatalError("FuzzPolicy invariant broken: \(message())")
}

enum Fixture {
    static let caller = Caller(account: "111122223333", region: "us-east-1", accessKeyId: "AKIAFUZZFUZZFUZZFUZZ",
                               principalArn: "arn:aws:iam::111122223333:user/fuzz")
}

/// nil when valid, else the error's message (code is always MalformedPolicyDocument).
func verdict(_ text: String, _ who: Caller?) -> String? {
    do { try KeyPolicy.validate(text, lockoutCheckFor: who); return nil } catch { return "\(error)" }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPolicy(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    let plain = verdict(text, nil)
    let withCaller = verdict(text, Fixture.caller)
    if withCaller == nil { expect(plain == nil, "lockout-checked policy accepted but plain check refused: \(plain ?? "")") }
    // The rewrite keeps one member of each repeated name (JSONParser: the last wins), so a
    // document refused for a duplicate element is another document once rewritten.
    let refusedForDuplicate = plain?.contains("duplicate element") ?? false
    if !refusedForDuplicate, let doc = try? JSONParser.parse(text) {
        let rewritten = JSONWriter.string(doc)
        expect(verdict(rewritten, nil) == plain, "verdict changed by re-serialization")
        expect(verdict(rewritten, Fixture.caller) == withCaller, "lockout verdict changed by re-serialization")
    }
    return 0
}

// The entry point: SwiftPM aliases `main` to this file's top-level code, so libFuzzer's own
// `main` never runs; hand libFuzzer the command line here (CLibFuzzer.h).
var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv) { data, size in fuzzPolicy(data.map(UnsafeRawPointer.init), size) })
