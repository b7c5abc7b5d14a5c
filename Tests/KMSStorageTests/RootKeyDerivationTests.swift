import Crypto
import Testing
@testable import KMSStorage

/// Keys derived from the root key (STS's session-token key): the same on every node with
/// the same root key, different per label and per root key, never the root key itself.
@Suite struct RootKeyDerivationTests {
    func bytes(_ k: SymmetricKey) -> [UInt8] { k.withUnsafeBytes { Array($0) } }

    @Test func derivationIsDeterministicAndSeparated() throws {
        let material = Array(repeating: UInt8(0x5A), count: 32)
        let a = try RootKey(bytes: material), b = try RootKey(bytes: material)
        let other = try RootKey(bytes: Array(repeating: UInt8(0x5B), count: 32))
        let k = bytes(a.derivedKey(label: "swift-kms sts session token key v1"))
        #expect(k.count == 32)
        #expect(k == bytes(b.derivedKey(label: "swift-kms sts session token key v1")))
        #expect(k != bytes(a.derivedKey(label: "another purpose")))
        #expect(k != bytes(other.derivedKey(label: "swift-kms sts session token key v1")))
        #expect(k != material)
        // RFC 5869 HKDF-SHA256 with no salt, as documented: the same as swift-crypto computes directly.
        let expected = HKDF<SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: material),
                                              info: Array("swift-kms sts session token key v1".utf8), outputByteCount: 32)
        #expect(k == bytes(expected))
    }
}
