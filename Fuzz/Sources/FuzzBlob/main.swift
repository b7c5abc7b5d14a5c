// libFuzzer target: CiphertextBlob.parse, which reads attacker-supplied Decrypt/ReEncrypt
// blobs before any key is looked up. Invariants beyond "no crash":
// - the parsed fields are views inside the input (every accessor stays in range);
// - nonce and tag have their fixed sizes and header + nonce + ciphertext + tag is the input;
// - re-encoding the parsed fields gives the input back byte for byte.
#if canImport(Glibc)
import Glibc
#endif
import CLibFuzzer
@testable import KMSCore

func expect(_ condition: Bool, _ message: @autoclosure () -> String) {
    guard !condition else { return }
    fatalError("FuzzBlob invariant broken: \(message())")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBlob(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    guard let blob = CiphertextBlob.parse(bytes) else { return 0 }
    let header = blob.headerBytes, nonce = blob.nonce, ciphertext = blob.ciphertext, tag = blob.tag
    expect(nonce.count == CiphertextBlob.nonceSize, "nonce size \(nonce.count)")
    expect(tag.count == CiphertextBlob.tagSize, "tag size \(tag.count)")
    expect(header.count + nonce.count + ciphertext.count + tag.count == bytes.count, "fields do not tile the blob")
    expect(blob.account.utf8.count == 12 && blob.account.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }, "account")
    expect(!blob.keyId.isEmpty, "empty key id")
    let rebuilt = CiphertextBlob(account: blob.account, keyId: blob.keyId, materialVersion: blob.materialVersion,
                                 nonce: nonce, ciphertext: ciphertext, tag: tag)
    expect(rebuilt.bytes == bytes, "re-encoding differs from the input")
    expect(Array(CiphertextBlob.header(account: blob.account, keyId: blob.keyId, materialVersion: blob.materialVersion)) == Array(header),
           "header differs")
    return 0
}

// The entry point: SwiftPM aliases `main` to this file's top-level code, so libFuzzer's own
// `main` never runs; hand libFuzzer the command line here (CLibFuzzer.h).
var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv) { data, size in fuzzBlob(data.map(UnsafeRawPointer.init), size) })
