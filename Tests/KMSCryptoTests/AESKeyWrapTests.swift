import KMSCrypto
import Testing

/// AES Key Wrap with Padding (RFC 5649), the inner layer of RSA_AES_KEY_WRAP_SHA_*: the
/// RFC's two test vectors (192-bit KEK), a 256-bit round trip, and integrity failures.
@Suite struct AESKeyWrapTests {
    let kek = [UInt8](hex: "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8")

    @Test func rfc5649Vectors() throws {
        let twenty = [UInt8](hex: "c37b7e6492584340bed12207808941155068f738")
        let wrapped20 = [UInt8](hex: "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a")
        #expect(try AESKeyWrap.wrapWithPadding(twenty, kek: kek) == wrapped20)
        #expect(try AESKeyWrap.unwrapWithPadding(wrapped20, kek: kek) == twenty)
        let seven = [UInt8](hex: "466f7250617369")
        let wrapped7 = [UInt8](hex: "afbeb0f07dfbf5419200f2ccb50bb24f")
        #expect(try AESKeyWrap.wrapWithPadding(seven, kek: kek) == wrapped7)
        #expect(try AESKeyWrap.unwrapWithPadding(wrapped7, kek: kek) == seven)
    }

    @Test func tamperedOrWrongKeyFails() throws {
        let key = SystemRandom.bytes(32)
        let material = SystemRandom.bytes(1217)  // an RSA 2048 PKCS#8 key's length: not a multiple of 8
        var wrapped = try AESKeyWrap.wrapWithPadding(material, kek: key)
        #expect(try AESKeyWrap.unwrapWithPadding(wrapped, kek: key) == material)
        #expect(throws: KMSCryptoError.invalidCiphertext) { try AESKeyWrap.unwrapWithPadding(wrapped, kek: SystemRandom.bytes(32)) }
        wrapped[5] ^= 1
        #expect(throws: KMSCryptoError.invalidCiphertext) { try AESKeyWrap.unwrapWithPadding(wrapped, kek: key) }
        #expect(throws: KMSCryptoError.invalidCiphertext) { try AESKeyWrap.unwrapWithPadding(Array(wrapped.prefix(12)), kek: key) }
        #expect(throws: KMSCryptoError.invalidCiphertext) { try AESKeyWrap.unwrapWithPadding(wrapped, kek: [1, 2, 3]) }
    }
}
