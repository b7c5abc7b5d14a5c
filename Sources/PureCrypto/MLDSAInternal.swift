// ML-DSA.KeyGen_internal, Sign_internal and Verify_internal (FIPS 204 Algorithms 6-8),
// written over μ so the pure and external-μ interfaces share one path.

/// Everything KeyGen_internal derives from the seed ξ, kept so that signing does not
/// repeat the matrix expansion and NTTs.
struct MLDSAExpandedPrivateKey: Sendable {
    let parameters: MLDSAParameters
    let rho: [UInt8]
    let key: [UInt8]
    let tr: [UInt8]
    let matrix: PolyMatrix
    let s1: PolyVec
    let s2: PolyVec
    let t0: PolyVec
    let s1Hat: PolyVec
    let s2Hat: PolyVec
    let t0Hat: PolyVec
    let t1: PolyVec
    let encodedPublicKey: [UInt8]

    /// KeyGen_internal (Algorithm 6).
    init(seed: [UInt8], parameters: MLDSAParameters) {
        self.parameters = parameters
        // (ρ, ρ', K) = H(ξ || k || l, 128): binding k and l separates the parameter sets.
        let expanded = SHAKE.shake256(seed + [UInt8(parameters.k), UInt8(parameters.l)], outputByteCount: 128)
        rho = Array(expanded[0..<32])
        let rhoPrime = Array(expanded[32..<96])
        key = Array(expanded[96..<128])

        matrix = MLDSASampling.expandA(rho: rho, parameters: parameters)
        s1 = MLDSASampling.expandS(rhoPrime: rhoPrime, count: parameters.l, firstNonce: 0, eta: parameters.eta)
        s2 = MLDSASampling.expandS(
            rhoPrime: rhoPrime, count: parameters.k, firstNonce: parameters.l, eta: parameters.eta)

        var s1Hat = s1
        s1Hat.ntt()
        var t = matrix.multiply(s1Hat)
        t.reduce()
        t.inverseNTTToMontgomery()
        t.add(s2)
        t.addQIfNegative()

        var t1 = PolyVec(count: parameters.k)
        var t0 = PolyVec(count: parameters.k)
        for i in t.coefficients.indices {
            (t1.coefficients[i], t0.coefficients[i]) = MLDSARounding.power2Round(t.coefficients[i])
        }
        self.t1 = t1
        self.t0 = t0
        encodedPublicKey = MLDSAEncoding.encodePublicKey(rho: rho, t1: t1)
        tr = SHAKE.shake256(encodedPublicKey, outputByteCount: 64)

        self.s1Hat = s1Hat
        var s2Hat = s2
        s2Hat.ntt()
        self.s2Hat = s2Hat
        var t0Hat = t0
        t0Hat.ntt()
        self.t0Hat = t0Hat
    }

    /// skEncode of this key (Algorithm 24); only tests need the expanded form.
    var encoded: [UInt8] {
        MLDSAEncoding.encodePrivateKey(rho: rho, key: key, tr: tr, s1: s1, s2: s2, t0: t0, parameters: parameters)
    }

    /// Sign_internal (Algorithm 7) from μ onwards; `randomness` is rnd (32 bytes, zeros when deterministic).
    func sign(mu: [UInt8], randomness: [UInt8]) throws(PureCryptoError) -> [UInt8] {
        let p = parameters
        let rhoPrimePrime = SHAKE.shake256(key + randomness + mu, outputByteCount: 64)
        var kappa = 0
        // κ is encoded in 16 bits; stopping before it wraps keeps every mask y distinct.
        while kappa + p.l <= 0x10000 {
            let y = MLDSASampling.expandMask(rhoPrimePrime: rhoPrimePrime, kappa: kappa, parameters: p)
            kappa += p.l

            var yHat = y
            yHat.ntt()
            var w = matrix.multiply(yHat)
            w.reduce()
            w.inverseNTTToMontgomery()
            w.addQIfNegative()
            var w1 = PolyVec(count: p.k)
            var w0 = PolyVec(count: p.k)
            for i in w.coefficients.indices {
                (w1.coefficients[i], w0.coefficients[i]) = MLDSARounding.decompose(w.coefficients[i], gamma2: p.gamma2)
            }

            var xof = KeccakSponge.shake256()
            xof.absorb(mu)
            xof.absorb(MLDSAEncoding.encodeW1(w1, parameters: p))
            let commitmentHash = xof.squeeze(count: p.challengeByteCount)
            var cHat = PolyVec(coefficients: MLDSASampling.sampleInBall(commitmentHash, tau: p.tau))
            cHat.ntt()

            // z = y + c·s1; rejected when it would reveal s1.
            var z = s1Hat.pointwiseMultiplied(by: cHat)
            z.inverseNTTToMontgomery()
            z.add(y)
            z.reduce()
            if z.infinityNormAtLeast(p.gamma1 - p.beta) { continue }

            // r0 = LowBits(w - c·s2); rejected when it would reveal s2 or the high bits would change.
            var cs2 = s2Hat.pointwiseMultiplied(by: cHat)
            cs2.inverseNTTToMontgomery()
            w0.subtract(cs2)
            w0.reduce()
            if w0.infinityNormAtLeast(p.gamma2 - p.beta) { continue }

            var ct0 = t0Hat.pointwiseMultiplied(by: cHat)
            ct0.inverseNTTToMontgomery()
            ct0.reduce()
            if ct0.infinityNormAtLeast(p.gamma2) { continue }

            w0.add(ct0)
            var hint = PolyVec(count: p.k)
            var ones = 0
            for i in hint.coefficients.indices {
                let h = MLDSARounding.makeHint(low: w0.coefficients[i], high: w1.coefficients[i], gamma2: p.gamma2)
                hint.coefficients[i] = h
                ones += Int(h)
            }
            if ones > p.omega { continue }

            return MLDSAEncoding.encodeSignature(commitmentHash: commitmentHash, z: z, hint: hint, parameters: p)
        }
        throw .signingFailed
    }
}

/// A decoded public key with the values verification needs precomputed.
struct MLDSAExpandedPublicKey: Sendable {
    let parameters: MLDSAParameters
    let tr: [UInt8]
    let matrix: PolyMatrix
    /// NTT(t1 · 2^d).
    let t1ShiftedHat: PolyVec

    init(encoded: [UInt8], parameters: MLDSAParameters) {
        let (rho, t1) = MLDSAEncoding.decodePublicKey(encoded, parameters: parameters)
        self.init(
            parameters: parameters, tr: SHAKE.shake256(encoded, outputByteCount: 64),
            matrix: MLDSASampling.expandA(rho: rho, parameters: parameters), t1: t1)
    }

    /// From parts a private key already computed, skipping a second ExpandA.
    init(parameters: MLDSAParameters, tr: [UInt8], matrix: PolyMatrix, t1: PolyVec) {
        self.parameters = parameters
        self.tr = tr
        self.matrix = matrix
        var shifted = t1
        for i in shifted.coefficients.indices { shifted.coefficients[i] <<= MLDSAField.d }
        shifted.ntt()
        t1ShiftedHat = shifted
    }

    /// Verify_internal (Algorithm 8) from μ onwards.
    func verify(signature: [UInt8], mu: [UInt8]) -> Bool {
        let p = parameters
        guard mu.count == 64,
              let (commitmentHash, z, hint) = MLDSAEncoding.decodeSignature(signature, parameters: p)
        else { return false }
        if z.infinityNormAtLeast(p.gamma1 - p.beta) { return false }

        var cHat = PolyVec(coefficients: MLDSASampling.sampleInBall(commitmentHash, tau: p.tau))
        cHat.ntt()
        var zHat = z
        zHat.ntt()
        // w'_approx = A·z - c·t1·2^d, computed in the NTT domain.
        var w = matrix.multiply(zHat)
        let ct1 = t1ShiftedHat.pointwiseMultiplied(by: cHat)
        w.subtract(ct1)
        w.reduce()
        w.inverseNTTToMontgomery()
        w.addQIfNegative()

        var w1 = PolyVec(count: p.k)
        for i in w.coefficients.indices {
            w1.coefficients[i] = MLDSARounding.useHint(w.coefficients[i], hint: hint.coefficients[i], gamma2: p.gamma2)
        }
        var xof = KeccakSponge.shake256()
        xof.absorb(mu)
        xof.absorb(MLDSAEncoding.encodeW1(w1, parameters: p))
        return xof.squeeze(count: p.challengeByteCount) == commitmentHash
    }
}

enum MLDSAMessage {
    /// μ = H(tr || M', 64) with M' = 0 || |ctx| || ctx || M, the FIPS 204 pure (non-prehash)
    /// message encoding (Algorithm 2 line 10, Algorithm 7 line 6).
    static func mu(tr: [UInt8], message: [UInt8], context: [UInt8]) throws(PureCryptoError) -> [UInt8] {
        guard context.count <= 255 else { throw .contextTooLong(length: context.count) }
        var xof = KeccakSponge.shake256()
        xof.absorb(tr)
        xof.absorb([0, UInt8(context.count)])
        xof.absorb(context)
        xof.absorb(message)
        return xof.squeeze(count: 64)
    }
}
