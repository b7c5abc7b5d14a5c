import Testing
@testable import PureCrypto

/// SHA-512 (FIPS 180-4) and SHAKE128/256 (FIPS 202) against published and hashlib digests.
@Suite struct HashTests {
    /// The input pattern hashes_hashlib.json was made from.
    static func pattern(_ length: Int) -> [UInt8] { (0..<length).map { UInt8(($0 * 31 + 7) % 256) } }

    @Test func sha512NISTExamples() {
        #expect(SHA512Hasher.hash([]).hex == "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e")
        #expect(SHA512Hasher.hash(Array("abc".utf8)).hex == "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
        let twoBlocks = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        #expect(SHA512Hasher.hash(Array(twoBlocks.utf8)).hex == "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909")
    }

    @Test func sha512OneMillionA() {
        var hasher = SHA512Hasher()
        let chunk = [UInt8](repeating: 0x61, count: 1000)
        for _ in 0..<1000 { hasher.update(chunk) }
        #expect(hasher.finalize().hex == "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b")
    }

    struct HashFile: Decodable {
        struct SHA: Decodable { let length: Int; let digest: String }
        struct Shake: Decodable { let length: Int; let outputLength: Int; let shake128: String; let shake256: String }
        let sha512: [SHA]
        let shake: [Shake]
    }

    @Test func sha512MatchesHashlibAcrossBlockBoundaries() throws {
        let file = try loadVectors("hashes_hashlib", as: HashFile.self)
        #expect(file.sha512.count == 16)
        for vector in file.sha512 {
            let input = Self.pattern(vector.length)
            #expect(SHA512Hasher.hash(input).hex == vector.digest, "length \(vector.length)")
            // Same digest when fed in uneven pieces, exercising the partial-block buffer.
            var hasher = SHA512Hasher()
            var index = 0
            var step = 1
            while index < input.count {
                let end = min(input.count, index + step)
                hasher.update(Array(input[index..<end]))
                index = end
                step = step * 3 + 1
            }
            #expect(hasher.finalize().hex == vector.digest, "split, length \(vector.length)")
        }
    }

    @Test func shakeNISTEmptyInput() {
        #expect(SHAKE.shake128([], outputByteCount: 32).hex == "7f9c2ba4e88f827d616045507605853ed73b8093f6efbc88eb1a6eacfa66ef26")
        #expect(SHAKE.shake256([], outputByteCount: 64).hex == "46b9dd2b0ba88d13233b3feb743eeb243fcd52ea62b81b82b50c27646ed5762fd75dc4ddd8c0f200cb05019d67b592f6fc821c49479ab48640292eacb3b7c4be")
        #expect(SHAKE.shake128([], outputByteCount: -1).isEmpty)
    }

    @Test func shakeMatchesHashlib() throws {
        let file = try loadVectors("hashes_hashlib", as: HashFile.self)
        #expect(file.shake.count == 40)
        for vector in file.shake {
            let input = Self.pattern(vector.length)
            #expect(SHAKE.shake128(input, outputByteCount: vector.outputLength).hex == vector.shake128,
                    "SHAKE128 \(vector.length)->\(vector.outputLength)")
            #expect(SHAKE.shake256(input, outputByteCount: vector.outputLength).hex == vector.shake256,
                    "SHAKE256 \(vector.length)->\(vector.outputLength)")
        }
    }

    @Test func spongeIncrementalAbsorbAndSqueezeMatchOneShot() throws {
        let input = Self.pattern(500)
        let expected = SHAKE.shake256(input, outputByteCount: 700)
        var sponge = KeccakSponge.shake256()
        sponge.absorb(Array(input[0..<3]))
        sponge.absorb(Array(input[3..<140]))
        sponge.absorb(Array(input[140..<500]))
        var output = sponge.squeeze(count: 5)
        output += sponge.squeeze(count: 131)
        output += sponge.squeeze(count: 564)
        #expect(output == expected)
    }
}
