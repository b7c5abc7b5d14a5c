// Ed25519 and Ed25519ph (RFC 8032 section 5.1). Pure Ed25519 matches swift-crypto's
// Curve25519.Signing; Ed25519ph (phflag = 1) is what KMS calls ED25519_PH_SHA_512.

/// The shared EdDSA core: `domain` is dom2(phflag, context) (empty for pure Ed25519) and
/// `message` is M or, for Ed25519ph, PH(M) = SHA-512(M).
enum EdDSA25519 {
    /// dom2(x, y) = "SigEd25519 no Ed25519 collisions" || x || |y| || y.
    static func dom2(prehashed: Bool, context: [UInt8]) -> [UInt8] {
        Array("SigEd25519 no Ed25519 collisions".utf8) + [prehashed ? 1 : 0, UInt8(context.count)] + context
    }

    /// The secret scalar s (clamped, reduced mod L) and the nonce prefix from SHA-512(seed).
    private static func expand(seed: [UInt8]) -> (scalar: Scalar25519, prefix: [UInt8]) {
        var h = SHA512Hasher.hash(seed)
        // Clamping: clear the cofactor bits and fix bit 254 (RFC 8032 5.1.5 step 2).
        h[0] &= 248
        h[31] &= 127
        h[31] |= 64
        return (Scalar25519(reducing: Array(h[0..<32])), Array(h[32..<64]))
    }

    static func publicKey(seed: [UInt8]) -> [UInt8] {
        let (s, _) = expand(seed: seed)
        return EdwardsScalarMultiplication.baseMultiple(s.encoded()).encoded()
    }

    /// RFC 8032 5.1.6.
    static func sign(seed: [UInt8], domain: [UInt8], message: [UInt8]) -> [UInt8] {
        let (s, prefix) = expand(seed: seed)
        let publicKey = EdwardsScalarMultiplication.baseMultiple(s.encoded()).encoded()

        var nonceHash = SHA512Hasher()
        nonceHash.update(domain)
        nonceHash.update(prefix)
        nonceHash.update(message)
        let r = Scalar25519(reducing: nonceHash.finalize())
        let encodedR = EdwardsScalarMultiplication.baseMultiple(r.encoded()).encoded()

        let k = challenge(domain: domain, encodedR: encodedR, publicKey: publicKey, message: message)
        let bigS = r + k * s
        return encodedR + bigS.encoded()
    }

    /// RFC 8032 5.1.7, checking [S]B = R + [k]A by comparing encodings (cofactorless, like
    /// swift-crypto/BoringSSL). Rejects S >= L and non-canonical or off-curve A.
    static func verify(publicKey: [UInt8], signature: [UInt8], domain: [UInt8], message: [UInt8]) -> Bool {
        guard publicKey.count == 32, signature.count == 64,
              let a = EdwardsPoint(encoded: publicKey)
        else { return false }
        let encodedR = Array(signature[0..<32])
        let encodedS = Array(signature[32..<64])
        guard Scalar25519.isCanonical(encodedS) else { return false }
        let k = challenge(domain: domain, encodedR: encodedR, publicKey: publicKey, message: message)
        // R' = [S]B - [k]A; equal encodings mean R' = R, and R' is canonical by construction.
        let sB = EdwardsScalarMultiplication.baseMultiple(encodedS)
        let kA = EdwardsScalarMultiplication.variableTimeMultiple(a.negated, k.encoded())
        return (sB + kA.cached).encoded() == encodedR
    }

    /// k = SHA-512(dom || R || A || M) mod L.
    private static func challenge(domain: [UInt8], encodedR: [UInt8], publicKey: [UInt8], message: [UInt8]) -> Scalar25519 {
        var hasher = SHA512Hasher()
        hasher.update(domain)
        hasher.update(encodedR)
        hasher.update(publicKey)
        hasher.update(message)
        return Scalar25519(reducing: hasher.finalize())
    }

    static func checkSeed(_ seed: [UInt8]) throws(PureCryptoError) {
        guard seed.count == 32 else { throw .invalidSeedLength(expected: 32, actual: seed.count) }
    }
}

/// Pure Ed25519 (RFC 8032 5.1, no context, no prehash).
public enum Ed25519 {
    /// The 32-byte public key A = [s]B for a 32-byte private key (seed).
    public static func publicKey(seed: [UInt8]) throws(PureCryptoError) -> [UInt8] {
        try EdDSA25519.checkSeed(seed)
        return EdDSA25519.publicKey(seed: seed)
    }

    /// The 64-byte signature R || S of `message`.
    public static func sign(seed: [UInt8], message: [UInt8]) throws(PureCryptoError) -> [UInt8] {
        try EdDSA25519.checkSeed(seed)
        return EdDSA25519.sign(seed: seed, domain: [], message: message)
    }

    /// Whether `signature` is a valid Ed25519 signature of `message`; false for malformed input.
    public static func verify(publicKey: [UInt8], signature: [UInt8], message: [UInt8]) -> Bool {
        EdDSA25519.verify(publicKey: publicKey, signature: signature, domain: [], message: message)
    }
}

/// Ed25519ph (RFC 8032 5.1, phflag = 1): signs SHA-512(M) under dom2(1, context).
/// The context may be empty (KMS uses the empty context) and is at most 255 bytes.
public enum Ed25519ph {
    /// The same public key as Ed25519: the variants differ only in what is signed.
    public static func publicKey(seed: [UInt8]) throws(PureCryptoError) -> [UInt8] {
        try Ed25519.publicKey(seed: seed)
    }

    /// Signs `message`, hashing it with SHA-512 first.
    public static func sign(seed: [UInt8], message: [UInt8], context: [UInt8] = []) throws(PureCryptoError) -> [UInt8] {
        try sign(seed: seed, prehash: SHA512Hasher.hash(message), context: context)
    }

    /// Signs an already computed 64-byte SHA-512 digest of the message (KMS MessageType DIGEST).
    public static func sign(seed: [UInt8], prehash: [UInt8], context: [UInt8] = []) throws(PureCryptoError) -> [UInt8] {
        try EdDSA25519.checkSeed(seed)
        guard prehash.count == SHA512Hasher.digestByteCount else { throw .invalidPrehashLength(actual: prehash.count) }
        guard context.count <= 255 else { throw .contextTooLong(length: context.count) }
        return EdDSA25519.sign(seed: seed, domain: EdDSA25519.dom2(prehashed: true, context: context), message: prehash)
    }

    /// Whether `signature` is a valid Ed25519ph signature of `message`; false for malformed input.
    public static func verify(publicKey: [UInt8], signature: [UInt8], message: [UInt8], context: [UInt8] = []) -> Bool {
        verify(publicKey: publicKey, signature: signature, prehash: SHA512Hasher.hash(message), context: context)
    }

    /// Verification against a 64-byte SHA-512 digest of the message.
    public static func verify(publicKey: [UInt8], signature: [UInt8], prehash: [UInt8], context: [UInt8] = []) -> Bool {
        guard prehash.count == SHA512Hasher.digestByteCount, context.count <= 255 else { return false }
        return EdDSA25519.verify(
            publicKey: publicKey, signature: signature,
            domain: EdDSA25519.dom2(prehashed: true, context: context), message: prehash)
    }
}
