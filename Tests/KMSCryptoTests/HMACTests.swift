import KMSCrypto
import Testing

/// HMAC keys: RFC 4231 test cases 1, 2, 3, 4, 6, 7 for all four hashes, key generation,
/// and GenerateMac/VerifyMac validation.
@Suite struct HMACTests {
    static let rfc4231: [(key: String, data: String, macs: [MacAlgorithm: String])] = [
        (Fixtures.rfc4231Key0, Fixtures.rfc4231Data0, [.hmacSHA224: Fixtures.rfc4231SHA224_0, .hmacSHA256: Fixtures.rfc4231SHA256_0, .hmacSHA384: Fixtures.rfc4231SHA384_0, .hmacSHA512: Fixtures.rfc4231SHA512_0]),
        (Fixtures.rfc4231Key1, Fixtures.rfc4231Data1, [.hmacSHA224: Fixtures.rfc4231SHA224_1, .hmacSHA256: Fixtures.rfc4231SHA256_1, .hmacSHA384: Fixtures.rfc4231SHA384_1, .hmacSHA512: Fixtures.rfc4231SHA512_1]),
        (Fixtures.rfc4231Key2, Fixtures.rfc4231Data2, [.hmacSHA224: Fixtures.rfc4231SHA224_2, .hmacSHA256: Fixtures.rfc4231SHA256_2, .hmacSHA384: Fixtures.rfc4231SHA384_2, .hmacSHA512: Fixtures.rfc4231SHA512_2]),
        (Fixtures.rfc4231Key3, Fixtures.rfc4231Data3, [.hmacSHA224: Fixtures.rfc4231SHA224_3, .hmacSHA256: Fixtures.rfc4231SHA256_3, .hmacSHA384: Fixtures.rfc4231SHA384_3, .hmacSHA512: Fixtures.rfc4231SHA512_3]),
        (Fixtures.rfc4231Key4, Fixtures.rfc4231Data4, [.hmacSHA224: Fixtures.rfc4231SHA224_4, .hmacSHA256: Fixtures.rfc4231SHA256_4, .hmacSHA384: Fixtures.rfc4231SHA384_4, .hmacSHA512: Fixtures.rfc4231SHA512_4]),
        (Fixtures.rfc4231Key5, Fixtures.rfc4231Data5, [.hmacSHA224: Fixtures.rfc4231SHA224_5, .hmacSHA256: Fixtures.rfc4231SHA256_5, .hmacSHA384: Fixtures.rfc4231SHA384_5, .hmacSHA512: Fixtures.rfc4231SHA512_5]),
    ]

    @Test func rfc4231Vectors() throws {
        for vector in Self.rfc4231 {
            for algorithm in MacAlgorithm.allCases {
                let mac = try HMACKey.authenticationCode(algorithm: algorithm, key: [UInt8](hex: vector.key), message: [UInt8](hex: vector.data))
                #expect(mac.hex == vector.macs[algorithm])
            }
        }
        // Literal values from RFC 4231 section 4.2 (test case 1), so the fixtures are anchored.
        #expect(Fixtures.rfc4231SHA224_0 == "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22")
        #expect(Fixtures.rfc4231SHA256_0 == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    @Test(arguments: [KeySpec.hmac224, .hmac256, .hmac384, .hmac512])
    func generateMacVerifyMac(spec: KeySpec) throws {
        let algorithm = try #require(spec.macAlgorithm)
        let key = try HMACKey.generate(spec)
        #expect(key.count == [KeySpec.hmac224: 28, .hmac256: 32, .hmac384: 48, .hmac512: 64][spec])
        #expect(try HMACKey.generate(spec) != key)
        let message = Array("GenerateMac".utf8)
        let mac = try HMACKey.mac(spec: spec, algorithm: algorithm, key: key, message: message)
        #expect(mac.count == algorithm.macLength)
        #expect(try HMACKey.verify(spec: spec, algorithm: algorithm, key: key, message: message, mac: mac))
        for index in [0, mac.count - 1] {
            #expect(try !HMACKey.verify(spec: spec, algorithm: algorithm, key: key, message: message, mac: mac.flippingBit(at: index)))
        }
        #expect(try !HMACKey.verify(spec: spec, algorithm: algorithm, key: key, message: message + [0], mac: mac))
        #expect(try !HMACKey.verify(spec: spec, algorithm: algorithm, key: key, message: message, mac: Array(mac.dropLast())))
        #expect(try !HMACKey.verify(spec: spec, algorithm: algorithm, key: key, message: message, mac: []))
    }

    @Test func invalidRequestsAreRejected() throws {
        let key = try HMACKey.generate(.hmac256)
        #expect(throws: KMSCryptoError.incompatibleAlgorithm(keySpec: .hmac256, algorithm: "HMAC_SHA_512")) {
            try HMACKey.mac(spec: .hmac256, algorithm: .hmacSHA512, key: key, message: [1])
        }
        #expect(throws: KMSCryptoError.unsupportedKeySpec(.rsa2048)) {
            try HMACKey.mac(spec: .rsa2048, algorithm: .hmacSHA256, key: key, message: [1])
        }
        #expect(throws: KMSCryptoError.unsupportedKeySpec(.symmetricDefault)) { try HMACKey.generate(.symmetricDefault) }
        #expect(throws: KMSCryptoError.invalidMacKey) {
            try HMACKey.mac(spec: .hmac256, algorithm: .hmacSHA256, key: Array(key.prefix(31)), message: [1])
        }
        #expect(throws: KMSCryptoError.invalidMacKey) {
            try HMACKey.verify(spec: .hmac256, algorithm: .hmacSHA256, key: key + key + [1], message: [1], mac: [])
        }
    }

    @Test func acceptedKeyLengths() {
        #expect(HMACKey.validKeyLengths(for: .hmac224) == 28...64)
        #expect(HMACKey.validKeyLengths(for: .hmac256) == 32...64)
        #expect(HMACKey.validKeyLengths(for: .hmac384) == 48...128)
        #expect(HMACKey.validKeyLengths(for: .hmac512) == 64...128)
        #expect(HMACKey.validKeyLengths(for: .rsa2048) == nil)
    }
}
