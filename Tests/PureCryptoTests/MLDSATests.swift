import Foundation
import Testing
@testable import PureCrypto

/// ML-DSA (FIPS 204) against independent implementations: Python `cryptography` (OpenSSL),
/// BoringSSL's self-test values, swift-crypto's KATs and Wycheproof.
@Suite struct MLDSATests {
    static func parameterSet(named name: String) -> MLDSAParameterSet {
        switch name {
        case "ML-DSA-44": .mldsa44
        case "ML-DSA-65": .mldsa65
        default: .mldsa87
        }
    }

    // MARK: Building blocks

    @Test func zetasMatchReferenceTable() {
        // Entries of the pq-crystals reference table (2^32·ζ^BitRev8(i) mod q, centred).
        #expect(Array(MLDSAField.zetas[1...8]) == [25847, -2608894, -518909, 237124, -777960, -876248, 466468, 1826347])
        #expect(MLDSAField.zetas[255] == 1976782)
    }

    @Test func nttRoundTripsAndMultiplies() {
        // (1 + X)·(1 - X) = 1 - X^2 in R_q, computed through the NTT.
        var a = PolyVec(count: 1)
        var b = PolyVec(count: 1)
        a.coefficients[0] = 1; a.coefficients[1] = 1
        b.coefficients[0] = 1; b.coefficients[1] = -1
        a.ntt(); b.ntt()
        var product = a.pointwiseMultiplied(by: b)
        product.inverseNTTToMontgomery()
        product.reduce()
        product.addQIfNegative()
        var expected = [Int32](repeating: 0, count: 256)
        expected[0] = 1
        expected[2] = MLDSAField.q - 1
        #expect(product.coefficients == expected)
        // X^255 · X = X^256 = -1.
        var c = PolyVec(count: 1)
        var d = PolyVec(count: 1)
        c.coefficients[255] = 1
        d.coefficients[1] = 1
        c.ntt(); d.ntt()
        var wrapped = c.pointwiseMultiplied(by: d)
        wrapped.inverseNTTToMontgomery()
        wrapped.reduce()
        #expect(wrapped.coefficients[0] == -1)
        #expect(wrapped.coefficients[1...].allSatisfy { $0 == 0 })
    }

    @Test func sizesMatchFIPS204Table2() {
        #expect(MLDSAParameterSet.mldsa44.publicKeyByteCount == 1312)
        #expect(MLDSAParameterSet.mldsa65.publicKeyByteCount == 1952)
        #expect(MLDSAParameterSet.mldsa87.publicKeyByteCount == 2592)
        #expect(MLDSAParameterSet.mldsa44.signatureByteCount == 2420)
        #expect(MLDSAParameterSet.mldsa65.signatureByteCount == 3309)
        #expect(MLDSAParameterSet.mldsa87.signatureByteCount == 4627)
        #expect(MLDSAParameterSet.mldsa44.parameters.privateKeyByteCount == 2560)
        #expect(MLDSAParameterSet.mldsa65.parameters.privateKeyByteCount == 4032)
        #expect(MLDSAParameterSet.mldsa87.parameters.privateKeyByteCount == 4896)
    }

    // MARK: Python cryptography (OpenSSL 4.0)

    struct PythonFile: Decodable {
        struct Case: Decodable {
            let parameterSet, seed, publicKey, message, context, pythonSignature: String
            /// Absent right after generate_vectors.py regenerates the file, until --verify-swift.
            let swiftDeterministicSignature: String?
        }
        struct Tampered: Decodable { let `case`: Int; let comment: String; let offset: Int; let xor: UInt8 }
        let cases: [Case]
        let tampered: [Tampered]
    }

    @Test func keyGenMatchesPythonAndCrossVerifies() throws {
        let file = try loadVectors("mldsa_python", as: PythonFile.self)
        #expect(file.cases.count == 12)
        for vector in file.cases {
            let parameterSet = Self.parameterSet(named: vector.parameterSet)
            let key = try MLDSAPrivateKey(seed: [UInt8](hex: vector.seed), parameterSet: parameterSet)
            let message = [UInt8](hex: vector.message)
            let context = [UInt8](hex: vector.context)
            #expect(key.publicKey.rawRepresentation.hex == vector.publicKey, "\(vector.parameterSet) public key")
            // Python's hedged signature verifies here, also through a decoded public key.
            let decoded = try MLDSAPublicKey(rawRepresentation: [UInt8](hex: vector.publicKey), parameterSet: parameterSet)
            #expect(decoded == key.publicKey)
            let pythonSignature = [UInt8](hex: vector.pythonSignature)
            #expect(decoded.isValidSignature(pythonSignature, for: message, context: context))
            #expect(decoded.isValidSignature(pythonSignature, forMu: try decoded.mu(for: message, context: context)))
            #expect(!decoded.isValidSignature(pythonSignature, for: message + [0x21], context: context))
            #expect(!decoded.isValidSignature(pythonSignature, for: message, context: context + [0x21]))
            // Our deterministic signature is exactly the one Python accepted when the vectors were made.
            let ours = try key.deterministicSignature(for: message, context: context)
            #expect(vector.swiftDeterministicSignature != nil)
            #expect(ours.hex == vector.swiftDeterministicSignature, "\(vector.parameterSet) deterministic signature")
            #expect(decoded.isValidSignature(ours, for: message, context: context))
        }
    }

    /// Off unless PURECRYPTO_EMIT_MLDSA_SIGNATURES names an output file: writes this code's
    /// deterministic signatures for mldsa_python.json's cases, for `generate_vectors.py --verify-swift`.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["PURECRYPTO_EMIT_MLDSA_SIGNATURES"] != nil))
    func emitDeterministicSignaturesForPython() throws {
        let path = ProcessInfo.processInfo.environment["PURECRYPTO_EMIT_MLDSA_SIGNATURES"] ?? ""
        let file = try loadVectors("mldsa_python", as: PythonFile.self)
        var produced: [[String: String]] = []
        for (index, vector) in file.cases.enumerated() {
            let key = try MLDSAPrivateKey(seed: [UInt8](hex: vector.seed), parameterSet: Self.parameterSet(named: vector.parameterSet))
            let signature = try key.deterministicSignature(for: [UInt8](hex: vector.message), context: [UInt8](hex: vector.context))
            produced.append(["index": String(index), "signature": signature.hex])
        }
        try JSONSerialization.data(withJSONObject: produced).write(to: URL(fileURLWithPath: path))
    }

    @Test func tamperedPythonSignaturesAreRejected() throws {
        let file = try loadVectors("mldsa_python", as: PythonFile.self)
        #expect(file.tampered.count == 24)
        for recipe in file.tampered {
            let vector = file.cases[recipe.case]
            let key = try MLDSAPublicKey(
                rawRepresentation: [UInt8](hex: vector.publicKey), parameterSet: Self.parameterSet(named: vector.parameterSet))
            var signature = [UInt8](hex: vector.pythonSignature)
            let message = [UInt8](hex: vector.message)
            let context = [UInt8](hex: vector.context)
            #expect(key.isValidSignature(signature, for: message, context: context))
            signature[recipe.offset] ^= recipe.xor
            #expect(!key.isValidSignature(signature, for: message, context: context), "\(vector.parameterSet) \(recipe.comment)")
        }
    }

    // MARK: Deterministic known answers

    struct WycheproofSignFile: Decodable { let seed, publicKey, message, mu, signature: String }

    @Test func mldsa44DeterministicSignatureMatchesWycheproof() throws {
        let vector = try loadVectors("wycheproof_mldsa44_sign_seed_tc1", as: WycheproofSignFile.self)
        let key = try MLDSAPrivateKey(seed: [UInt8](hex: vector.seed), parameterSet: .mldsa44)
        #expect(key.publicKey.rawRepresentation.hex == vector.publicKey)
        let message = [UInt8](hex: vector.message)
        #expect(try key.publicKey.mu(for: message).hex == vector.mu)
        #expect(try key.deterministicSignature(for: message).hex == vector.signature)
        #expect(try key.deterministicSignature(forMu: [UInt8](hex: vector.mu)).hex == vector.signature)
        #expect(key.publicKey.isValidSignature([UInt8](hex: vector.signature), forMu: [UInt8](hex: vector.mu)))
    }

    struct BoringSSLFile: Decodable {
        struct SignCase: Decodable { let messagePrime, signature: String }
        let keyGenSeed, keyGenPublicKey, keyGenPrivateKey, signSeed: String
        let signCases: [SignCase]
        let verifyMessagePrime, verifySignature: String
    }

    /// BoringSSL signs M' directly (Sign_internal), so μ = SHAKE256(tr || M') is computed
    /// here and fed through the external-μ interface: a byte-exact test of that path,
    /// including the rejection-loop restarts these messages were chosen to trigger.
    @Test func mldsa65MatchesBoringSSLKnownValues() throws {
        let vectors = try loadVectors("boringssl_mldsa65_known_values", as: BoringSSLFile.self)
        let keyGen = try MLDSAPrivateKey(seed: [UInt8](hex: vectors.keyGenSeed), parameterSet: .mldsa65)
        #expect(keyGen.publicKey.rawRepresentation.hex == vectors.keyGenPublicKey)
        #expect(keyGen.expandedRepresentation.hex == vectors.keyGenPrivateKey)

        let key = try MLDSAPrivateKey(seed: [UInt8](hex: vectors.signSeed), parameterSet: .mldsa65)
        let tr = SHAKE.shake256(key.publicKey.rawRepresentation, outputByteCount: 64)
        for signCase in vectors.signCases {
            let mu = SHAKE.shake256(tr + [UInt8](hex: signCase.messagePrime), outputByteCount: 64)
            #expect(try key.deterministicSignature(forMu: mu).hex == signCase.signature)
            #expect(key.publicKey.isValidSignature([UInt8](hex: signCase.signature), forMu: mu))
        }
        let verifyMu = SHAKE.shake256(tr + [UInt8](hex: vectors.verifyMessagePrime), outputByteCount: 64)
        #expect(key.publicKey.isValidSignature([UInt8](hex: vectors.verifySignature), forMu: verifyMu))
    }

    struct KeyGenKAT: Decodable { let seed, pk, sk: String }

    @Test(arguments: [("mldsa65_keygen_kat", MLDSAParameterSet.mldsa65), ("mldsa87_keygen_kat", .mldsa87)])
    func keyGenMatchesSwiftCryptoKATs(file: String, parameterSet: MLDSAParameterSet) throws {
        let vectors = try loadVectors(file, as: [KeyGenKAT].self)
        #expect(vectors.count == 4)
        for vector in vectors {
            let key = try MLDSAPrivateKey(seed: [UInt8](hex: vector.seed), parameterSet: parameterSet)
            #expect(key.publicKey.rawRepresentation.hex == vector.pk)
            #expect(key.expandedRepresentation.hex == vector.sk)
        }
    }

    // MARK: Wycheproof verification (strict hint encoding, boundary cases)

    struct WycheproofVerifyFile: Decodable {
        struct Group: Decodable {
            let publicKey: String
            let tests: [Test]
        }
        struct Test: Decodable {
            let tcId: Int
            let comment: String
            let msg: String
            let ctx: String?
            let sig: String
            let result: String
        }
        let testGroups: [Group]
    }

    @Test(arguments: [("wycheproof_mldsa_65_verify_test", MLDSAParameterSet.mldsa65),
                      ("wycheproof_mldsa_87_verify_test", .mldsa87)])
    func wycheproofVerify(file: String, parameterSet: MLDSAParameterSet) throws {
        let vectors = try loadVectors(file, as: WycheproofVerifyFile.self)
        var checked = 0
        for group in vectors.testGroups {
            let publicKeyBytes = [UInt8](hex: group.publicKey)
            let key = try? MLDSAPublicKey(rawRepresentation: publicKeyBytes, parameterSet: parameterSet)
            for test in group.tests {
                checked += 1
                guard let key else {
                    // Wrong-length keys must be refused at decoding, and only invalid cases use them.
                    #expect(test.result == "invalid", "tcId \(test.tcId)")
                    continue
                }
                let verdict = key.isValidSignature(
                    [UInt8](hex: test.sig), for: [UInt8](hex: test.msg), context: [UInt8](hex: test.ctx ?? ""))
                #expect(verdict == (test.result == "valid"), "tcId \(test.tcId): \(test.comment)")
            }
        }
        #expect(checked == 49)
    }

    // MARK: API behaviour

    @Test(arguments: MLDSAParameterSet.allCases)
    func hedgedAndExternalMuRoundTrip(parameterSet: MLDSAParameterSet) throws {
        let key = MLDSAPrivateKey.generate(parameterSet: parameterSet)
        let message = Array("transfer 100 to alice".utf8)
        let context = Array("kms".utf8)
        let first = try key.signature(for: message, context: context)
        let second = try key.signature(for: message, context: context)
        #expect(first != second, "hedged signing draws fresh randomness")
        #expect(first.count == parameterSet.signatureByteCount)
        #expect(key.publicKey.isValidSignature(first, for: message, context: context))
        #expect(key.publicKey.isValidSignature(second, for: message, context: context))
        #expect(!key.publicKey.isValidSignature(first, for: message))

        // A signature over an external μ is an ordinary signature over the message, and back.
        let mu = try key.publicKey.mu(for: message, context: context)
        let overMu = try key.signature(forMu: mu)
        #expect(key.publicKey.isValidSignature(overMu, for: message, context: context))
        #expect(key.publicKey.isValidSignature(first, forMu: mu))
        var otherMu = mu
        otherMu[0] ^= 1
        #expect(!key.publicKey.isValidSignature(overMu, forMu: otherMu))

        let restored = try MLDSAPrivateKey(seed: key.seed, parameterSet: parameterSet)
        #expect(restored.publicKey == key.publicKey)
        #expect(try restored.deterministicSignature(for: message) == key.deterministicSignature(for: message))
    }

    @Test func invalidInputsThrowOrReturnFalse() throws {
        #expect(throws: PureCryptoError.invalidSeedLength(expected: 32, actual: 31)) {
            try MLDSAPrivateKey(seed: [UInt8](repeating: 1, count: 31), parameterSet: .mldsa44)
        }
        #expect(throws: PureCryptoError.invalidPublicKeyLength(expected: 1312, actual: 1311)) {
            try MLDSAPublicKey(rawRepresentation: [UInt8](repeating: 0, count: 1311), parameterSet: .mldsa44)
        }
        let key = try MLDSAPrivateKey(seed: [UInt8](repeating: 7, count: 32), parameterSet: .mldsa44)
        let longContext = [UInt8](repeating: 0, count: 256)
        #expect(throws: PureCryptoError.contextTooLong(length: 256)) { try key.signature(for: [1], context: longContext) }
        #expect(throws: PureCryptoError.contextTooLong(length: 256)) { try key.publicKey.mu(for: [1], context: longContext) }
        #expect(throws: PureCryptoError.invalidMuLength(actual: 63)) { try key.signature(forMu: [UInt8](repeating: 0, count: 63)) }

        let signature = try key.signature(for: [1], context: [UInt8](repeating: 0, count: 255))
        #expect(key.publicKey.isValidSignature(signature, for: [1], context: [UInt8](repeating: 0, count: 255)))
        #expect(!key.publicKey.isValidSignature(signature, for: [1], context: longContext))
        #expect(!key.publicKey.isValidSignature(Array(signature.dropLast()), for: [1]))
        #expect(!key.publicKey.isValidSignature(signature + [0], for: [1]))
        #expect(!key.publicKey.isValidSignature([], for: [1]))
        #expect(!key.publicKey.isValidSignature(signature, forMu: [UInt8](repeating: 0, count: 32)))
        // A key of another parameter set cannot accept it.
        let other = try MLDSAPrivateKey(seed: [UInt8](repeating: 7, count: 32), parameterSet: .mldsa65)
        #expect(!other.publicKey.isValidSignature(signature, for: [1]))
    }
}

extension MLDSATests {
    @Test func privateKeyDescriptionsDoNotLeakTheSeed() throws {
        let seed = [UInt8](repeating: 0xAB, count: 32)
        let key = try MLDSAPrivateKey(seed: seed, parameterSet: .mldsa44)
        var dumped = ""
        dump(key, to: &dumped)
        for text in ["\(key)", String(reflecting: key), dumped] {
            #expect(!text.contains("171"), "decimal seed bytes in \(text)")
            #expect(!text.lowercased().contains("abab"), "hex seed bytes in \(text)")
            #expect(text.contains("mldsa44"))
        }
    }
}
