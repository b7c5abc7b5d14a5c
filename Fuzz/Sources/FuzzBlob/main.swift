// libFuzzer target: CiphertextBlob.parse, which reads attacker-supplied Decrypt/ReEncrypt
// blobs (format v2, and v1 which still decrypts) before any key is looked up. Invariants
// beyond "no crash":
// - only formats 1 and 2 parse; the parsed fields are views inside the input (every
//   accessor stays in range);
// - the random field has its format's size (v1: 12-byte nonce, v2: 32-byte salt), the tag
//   16 bytes, and header + random field + ciphertext + tag is the input;
// - re-encoding the parsed fields in the parsed format gives the input back byte for byte;
// - the same header fields re-encoded in the other format, with the random field cut from
//   what follows the header, parse back to exactly those fields (so every input with a
//   valid header round-trips through both v1 and v2).
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
    let format = blob.format
    expect(format == CiphertextBlob.formatVersion || format == CiphertextBlob.formatVersion1, "format \(format)")
    expect(bytes[0] == format, "format differs from the first byte")
    expect(nonce.count == CiphertextBlob.randomFieldSize(format: format), "v\(format) random field size \(nonce.count)")
    expect(tag.count == CiphertextBlob.tagSize, "tag size \(tag.count)")
    expect(header.count + nonce.count + ciphertext.count + tag.count == bytes.count, "fields do not tile the blob")
    expect(blob.account.utf8.count == 12 && blob.account.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }, "account")
    expect(!blob.keyId.isEmpty, "empty key id")
    let rebuilt = CiphertextBlob(format: format, account: blob.account, keyId: blob.keyId,
                                 materialVersion: blob.materialVersion, nonce: nonce, ciphertext: ciphertext, tag: tag)
    expect(rebuilt.bytes == bytes, "v\(format) re-encoding differs from the input")
    expect(Array(CiphertextBlob.header(format: format, account: blob.account, keyId: blob.keyId,
                                       materialVersion: blob.materialVersion)) == Array(header),
           "v\(format) header differs")
    expect(CiphertextBlob.parse(rebuilt.bytes) == blob, "v\(format) re-encoding parses differently")

    // The other format: same header fields; its random field is cut from the bytes after the
    // header (padded with zeros when they are too few), the rest is ciphertext.
    let other = format == CiphertextBlob.formatVersion ? CiphertextBlob.formatVersion1 : CiphertextBlob.formatVersion
    let rest = nonce + ciphertext
    let otherSize = CiphertextBlob.randomFieldSize(format: other)
    let otherNonce = Array(rest.prefix(otherSize)) + [UInt8](repeating: 0, count: max(0, otherSize - rest.count))
    let otherCiphertext = Array(rest.dropFirst(otherSize))
    let converted = CiphertextBlob(format: other, account: blob.account, keyId: blob.keyId,
                                   materialVersion: blob.materialVersion, nonce: otherNonce, ciphertext: otherCiphertext, tag: tag)
    guard let reparsed = CiphertextBlob.parse(converted.bytes) else {
        expect(false, "a v\(other) blob with a valid header does not parse")
        return 0
    }
    expect(reparsed.format == other && reparsed.account == blob.account && reparsed.keyId == blob.keyId
               && reparsed.materialVersion == blob.materialVersion, "v\(other) header fields differ")
    expect(reparsed.nonce == otherNonce && reparsed.ciphertext == otherCiphertext && reparsed.tag == tag,
           "v\(other) fields differ")
    return 0
}

// The entry point: SwiftPM aliases `main` to this file's top-level code, so libFuzzer's own
// `main` never runs; hand libFuzzer the command line here (CLibFuzzer.h).
var arguments = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&arguments, &argv) { data, size in fuzzBlob(data.map(UnsafeRawPointer.init), size) })
