// libFuzzer target: JSONParser (every request body goes through it before authentication
// of its content). Invariants beyond "no crash":
// - an accepted document survives parse -> write -> parse unchanged;
// - the writer's output is a fixed point (writing the re-parsed value gives the same bytes).
#if canImport(Glibc)
import Glibc
#endif
import CLibFuzzer
@testable import KMSCore

func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard !condition else { return }
    fatalError("FuzzJSON invariant broken: \(message())")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let value = try? JSONParser.parse(bytes) else { return 0 }
    let written = JSONWriter.bytes(value)
    let reparsed: JSONValue
    do { reparsed = try JSONParser.parse(written) } catch {
        expect(false, "writer output does not parse: \(error.reason)")
        return 0
    }
    expect(reparsed == value, "parse(write(v)) != v")
    expect(JSONWriter.bytes(reparsed) == written, "write is not a fixed point")
    return 0
}

// The entry point: SwiftPM aliases `main` to this file's top-level code, so libFuzzer's own
// `main` never runs; hand libFuzzer the command line here (CLibFuzzer.h).
var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv) { data, size in fuzzJSON(data.map(UnsafeRawPointer.init), size) })
