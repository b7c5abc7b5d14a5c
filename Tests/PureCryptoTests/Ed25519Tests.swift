import Testing
@testable import PureCrypto

/// Ed25519 and Ed25519ph (RFC 8032) against the RFC's vectors, Python `cryptography`,
/// the RFC's reference code and Wycheproof.
@Suite struct Ed25519Tests {
    struct RFCVector: Sendable {
        let secret, publicKey, message, signature: String
    }

    /// RFC 8032 section 7.1: TEST 1, TEST 2, TEST 3 and TEST SHA(abc).
    static let rfc8032Ed25519: [RFCVector] = [
        RFCVector(
            secret: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            message: "",
            signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        RFCVector(
            secret: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            message: "72",
            signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        RFCVector(
            secret: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            message: "af82",
            signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
        RFCVector(
            secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
            publicKey: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
            message: "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            signature: "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704"),
    ]

    /// RFC 8032 section 7.3: TEST abc (Ed25519ph, empty context).
    static let rfc8032Ed25519ph = RFCVector(
        secret: "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        publicKey: "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
        message: "616263",
        signature: "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406")

    // MARK: Field, scalar and group sanity

    @Test func curveConstantsAreConsistent() {
        // d·121666 = -121665 and sqrt(-1)^2 = -1.
        let k121666 = FieldElement(bytes: [0x42, 0xDB, 0x01] + [UInt8](repeating: 0, count: 29))
        let k121665 = FieldElement(bytes: [0x41, 0xDB, 0x01] + [UInt8](repeating: 0, count: 29))
        #expect((FieldElement.d * k121666).isEqual(to: -k121665))
        #expect((FieldElement.d + FieldElement.d).isEqual(to: FieldElement.d2))
        #expect(FieldElement.sqrtMinusOne.squared().isEqual(to: -FieldElement.one))
        #expect((k121666 * k121666.inverted()).isEqual(to: .one))
        // The group order L, little endian.
        #expect(Scalar25519(reducing: [UInt8](repeating: 0, count: 64)).encoded() == [UInt8](repeating: 0, count: 32))
        let orderBytes = [UInt8](hex: "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
        #expect(Scalar25519(reducing: orderBytes + [UInt8](repeating: 0, count: 32)).encoded() == [UInt8](repeating: 0, count: 32))
        #expect(!Scalar25519.isCanonical(orderBytes))
        var orderMinusOne = orderBytes
        orderMinusOne[0] -= 1
        #expect(Scalar25519.isCanonical(orderMinusOne))
        // [L]B is the identity, [L-1]B = -B.
        #expect(EdwardsScalarMultiplication.variableTimeMultiple(.base, orderBytes).encoded() == EdwardsPoint.identity.encoded())
        #expect(EdwardsScalarMultiplication.baseMultiple(orderMinusOne).encoded() == EdwardsPoint.base.negated.encoded())
    }

    @Test func constantTimeAndVariableTimeMultiplicationAgree() {
        var scalar = [UInt8](repeating: 0, count: 32)
        for round in 0..<20 {
            scalar = SHA512Hasher.hash(scalar + [UInt8(round)]).prefix(32).map { $0 }
            scalar[31] &= 0x7F  // baseMultiple takes scalars below 2^255
            #expect(EdwardsScalarMultiplication.baseMultiple(scalar).encoded()
                    == EdwardsScalarMultiplication.variableTimeMultiple(.base, scalar).encoded())
        }
    }

    @Test func scalarArithmeticReducesWideValues() {
        // 2^512 - 1 mod L, computed independently with Python.
        let allOnes = [UInt8](repeating: 0xFF, count: 64)
        #expect(Scalar25519(reducing: allOnes).encoded().hex == "000f9c44e31106a447938568a71b0ed065bef517d273ecce3d9a307c1b419903")
    }

    // MARK: Known answers

    @Test func rfc8032Ed25519Vectors() throws {
        for vector in Self.rfc8032Ed25519 {
            let secret = [UInt8](hex: vector.secret)
            let message = [UInt8](hex: vector.message)
            #expect(try Ed25519.publicKey(seed: secret).hex == vector.publicKey)
            #expect(try Ed25519.sign(seed: secret, message: message).hex == vector.signature)
            #expect(Ed25519.verify(publicKey: [UInt8](hex: vector.publicKey), signature: [UInt8](hex: vector.signature), message: message))
            #expect(!Ed25519.verify(publicKey: [UInt8](hex: vector.publicKey), signature: [UInt8](hex: vector.signature), message: message + [0]))
        }
    }

    @Test func rfc8032Ed25519phVector() throws {
        let vector = Self.rfc8032Ed25519ph
        let secret = [UInt8](hex: vector.secret)
        let message = [UInt8](hex: vector.message)
        let publicKey = [UInt8](hex: vector.publicKey)
        let signature = [UInt8](hex: vector.signature)
        #expect(try Ed25519ph.publicKey(seed: secret).hex == vector.publicKey)
        #expect(try Ed25519ph.sign(seed: secret, message: message).hex == vector.signature)
        #expect(try Ed25519ph.sign(seed: secret, prehash: SHA512Hasher.hash(message)).hex == vector.signature)
        #expect(Ed25519ph.verify(publicKey: publicKey, signature: signature, message: message))
        #expect(Ed25519ph.verify(publicKey: publicKey, signature: signature, prehash: SHA512Hasher.hash(message)))
        // Domain separation: the same bytes are not a pure Ed25519 signature, nor one with a context.
        #expect(!Ed25519.verify(publicKey: publicKey, signature: signature, message: message))
        #expect(!Ed25519.verify(publicKey: publicKey, signature: signature, message: SHA512Hasher.hash(message)))
        #expect(!Ed25519ph.verify(publicKey: publicKey, signature: signature, message: message, context: [0]))
    }

    struct PythonFile: Decodable {
        struct Pure: Decodable { let seed, message, publicKey, signature: String }
        struct Prehashed: Decodable { let seed, message, context, publicKey, signature: String }
        let ed25519: [Pure]
        let ed25519ph: [Prehashed]
    }

    @Test func pureEd25519MatchesPythonCryptography() throws {
        let file = try loadVectors("ed25519_python", as: PythonFile.self)
        #expect(file.ed25519.count == 9)
        for vector in file.ed25519 {
            let seed = [UInt8](hex: vector.seed)
            let message = [UInt8](hex: vector.message)
            #expect(try Ed25519.publicKey(seed: seed).hex == vector.publicKey)
            #expect(try Ed25519.sign(seed: seed, message: message).hex == vector.signature)
            #expect(Ed25519.verify(publicKey: [UInt8](hex: vector.publicKey), signature: [UInt8](hex: vector.signature), message: message))
        }
    }

    @Test func ed25519phWithContextsMatchesRFCReferenceCode() throws {
        let file = try loadVectors("ed25519_python", as: PythonFile.self)
        #expect(file.ed25519ph.count == 5)
        for vector in file.ed25519ph {
            let seed = [UInt8](hex: vector.seed)
            let message = [UInt8](hex: vector.message)
            let context = [UInt8](hex: vector.context)
            let publicKey = [UInt8](hex: vector.publicKey)
            let signature = [UInt8](hex: vector.signature)
            #expect(try Ed25519ph.publicKey(seed: seed).hex == vector.publicKey)
            #expect(try Ed25519ph.sign(seed: seed, message: message, context: context).hex == vector.signature)
            #expect(Ed25519ph.verify(publicKey: publicKey, signature: signature, message: message, context: context))
            #expect(Ed25519ph.verify(publicKey: publicKey, signature: signature, prehash: SHA512Hasher.hash(message), context: context))
            #expect(!Ed25519ph.verify(publicKey: publicKey, signature: signature, message: message, context: context + [1]))
            #expect(!Ed25519ph.verify(publicKey: publicKey, signature: signature, message: message + [1], context: context))
        }
    }

    struct WycheproofFile: Decodable {
        struct Group: Decodable {
            struct Key: Decodable { let pk: String }
            let publicKey: Key
            let tests: [Test]
        }
        struct Test: Decodable { let tcId: Int; let comment: String; let msg, sig, result: String }
        let testGroups: [Group]
    }

    /// Includes S >= L, non-canonical and truncated encodings, and small-order components.
    @Test func wycheproofEd25519Verify() throws {
        let file = try loadVectors("wycheproof_ed25519_test", as: WycheproofFile.self)
        var checked = 0
        for group in file.testGroups {
            let publicKey = [UInt8](hex: group.publicKey.pk)
            for test in group.tests {
                checked += 1
                let verdict = Ed25519.verify(publicKey: publicKey, signature: [UInt8](hex: test.sig), message: [UInt8](hex: test.msg))
                #expect(verdict == (test.result == "valid"), "tcId \(test.tcId): \(test.comment)")
            }
        }
        #expect(checked == 150)
    }

    // MARK: Malformed input

    @Test func malformedInputThrowsOrFails() throws {
        let seed = [UInt8](hex: Self.rfc8032Ed25519ph.secret)
        let publicKey = try Ed25519ph.publicKey(seed: seed)
        let signature = try Ed25519ph.sign(seed: seed, message: [1, 2, 3], context: [9])

        #expect(throws: PureCryptoError.invalidSeedLength(expected: 32, actual: 33)) { try Ed25519ph.publicKey(seed: seed + [0]) }
        #expect(throws: PureCryptoError.invalidSeedLength(expected: 32, actual: 0)) { try Ed25519.sign(seed: [], message: []) }
        #expect(throws: PureCryptoError.invalidPrehashLength(actual: 32)) {
            try Ed25519ph.sign(seed: seed, prehash: [UInt8](repeating: 0, count: 32))
        }
        #expect(throws: PureCryptoError.contextTooLong(length: 256)) {
            try Ed25519ph.sign(seed: seed, message: [], context: [UInt8](repeating: 0, count: 256))
        }
        let longest = [UInt8](repeating: 0xAB, count: 255)
        let withLongest = try Ed25519ph.sign(seed: seed, message: [1], context: longest)
        #expect(Ed25519ph.verify(publicKey: publicKey, signature: withLongest, message: [1], context: longest))
        #expect(!Ed25519ph.verify(publicKey: publicKey, signature: withLongest, message: [1], context: longest + [0]))

        #expect(Ed25519ph.verify(publicKey: publicKey, signature: signature, message: [1, 2, 3], context: [9]))
        #expect(!Ed25519ph.verify(publicKey: publicKey, signature: signature, prehash: [1, 2, 3], context: [9]))
        #expect(!Ed25519ph.verify(publicKey: Array(publicKey.dropLast()), signature: signature, message: [1, 2, 3], context: [9]))
        #expect(!Ed25519ph.verify(publicKey: publicKey, signature: Array(signature.dropLast()), message: [1, 2, 3], context: [9]))

        // S + L encodes the same residue but must be rejected (malleability, RFC 8032 5.1.7).
        var sPlusL = Array(signature[32..<64])
        let order = [UInt8](hex: "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
        var carry = 0
        for i in 0..<32 {
            let sum = Int(sPlusL[i]) + Int(order[i]) + carry
            sPlusL[i] = UInt8(sum & 0xFF)
            carry = sum >> 8
        }
        #expect(carry == 0)
        #expect(!Ed25519ph.verify(publicKey: publicKey, signature: Array(signature[0..<32]) + sPlusL, message: [1, 2, 3], context: [9]))

        // A non-canonical public key encoding (y = p + 1, which would decode to y = 1) is refused.
        let nonCanonical = [UInt8](hex: "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
        #expect(EdwardsPoint(encoded: nonCanonical) == nil)
        #expect(EdwardsPoint(encoded: [UInt8](hex: "0100000000000000000000000000000000000000000000000000000000000000")) != nil)
    }
}
