// ML-DSA's pseudorandom sampling (FIPS 204 section 7.3): ExpandA, ExpandS, ExpandMask
// and SampleInBall, all driven by SHAKE128/SHAKE256.

enum MLDSASampling {
    /// ExpandA (Algorithm 32): Â[r][s] = RejNTTPoly(ρ || s || r), sampled directly in the NTT domain.
    static func expandA(rho: [UInt8], parameters: MLDSAParameters) -> PolyMatrix {
        let n = MLDSAField.n
        var matrix = PolyMatrix(
            rows: parameters.k, columns: parameters.l,
            coefficients: [Int32](repeating: 0, count: parameters.k * parameters.l * n))
        matrix.coefficients.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for r in 0..<parameters.k {
                for s in 0..<parameters.l {
                    rejectionSampleNTTPoly(
                        seed: rho + [UInt8(s), UInt8(r)], into: base + (r * parameters.l + s) * n)
                }
            }
        }
        return matrix
    }

    /// RejNTTPoly (Algorithm 30): 23-bit candidates from SHAKE128, kept when below q.
    static func rejectionSampleNTTPoly(seed: [UInt8], into a: UnsafeMutablePointer<Int32>) {
        var xof = KeccakSponge.shake128()
        xof.absorb(seed)
        // One SHAKE128 block is 168 bytes = 56 whole 3-byte candidates.
        withUnsafeTemporaryAllocation(byteCount: 168, alignment: 8) { block in
            var filled = 0
            while filled < MLDSAField.n {
                xof.squeeze(into: block)
                var position = 0
                while position < 168 && filled < MLDSAField.n {
                    let candidate = Int32(block[position]) | Int32(block[position + 1]) << 8
                        | Int32(block[position + 2] & 0x7F) << 16
                    position += 3
                    if candidate < MLDSAField.q {
                        a[filled] = candidate
                        filled += 1
                    }
                }
            }
        }
    }

    /// ExpandS (Algorithm 33) for `count` polynomials with nonces starting at `firstNonce`:
    /// RejBoundedPoly over SHAKE256(ρ' || nonce16), coefficients in [-η, η].
    static func expandS(rhoPrime: [UInt8], count: Int, firstNonce: Int, eta: Int32) -> PolyVec {
        var vector = PolyVec(count: count)
        vector.coefficients.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for i in 0..<count {
                let nonce = firstNonce + i
                rejectionSampleBoundedPoly(
                    seed: rhoPrime + [UInt8(truncatingIfNeeded: nonce), UInt8(truncatingIfNeeded: nonce >> 8)],
                    eta: eta, into: base + i * MLDSAField.n)
            }
        }
        return vector
    }

    /// RejBoundedPoly (Algorithm 31) with CoeffFromHalfByte (Algorithm 15).
    static func rejectionSampleBoundedPoly(seed: [UInt8], eta: Int32, into a: UnsafeMutablePointer<Int32>) {
        var xof = KeccakSponge.shake256()
        xof.absorb(seed)
        withUnsafeTemporaryAllocation(byteCount: 136, alignment: 8) { block in
            var filled = 0
            while filled < MLDSAField.n {
                xof.squeeze(into: block)
                func accept(_ half: Int32) {
                    guard filled < MLDSAField.n else { return }
                    if eta == 2 && half < 15 {
                        a[filled] = 2 - half % 5
                        filled += 1
                    } else if eta == 4 && half < 9 {
                        a[filled] = 4 - half
                        filled += 1
                    }
                }
                for position in 0..<136 {
                    accept(Int32(block[position] & 0x0F))
                    accept(Int32(block[position] >> 4))
                }
            }
        }
    }

    /// ExpandMask (Algorithm 34): y[r] = γ1 - BitUnpack(SHAKE256(ρ'' || (κ + r)16)), in (-γ1, γ1].
    static func expandMask(rhoPrimePrime: [UInt8], kappa: Int, parameters: MLDSAParameters) -> PolyVec {
        var vector = PolyVec(count: parameters.l)
        let byteCount = 32 * parameters.zBits
        let gamma1 = parameters.gamma1
        vector.coefficients.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for r in 0..<parameters.l {
                let nonce = kappa + r
                var xof = KeccakSponge.shake256()
                xof.absorb(rhoPrimePrime + [UInt8(truncatingIfNeeded: nonce), UInt8(truncatingIfNeeded: nonce >> 8)])
                let bytes = xof.squeeze(count: byteCount)
                let poly = base + r * MLDSAField.n
                MLDSAEncoding.unpackBits(bytes, offset: 0, bits: parameters.zBits, into: poly)
                for i in 0..<MLDSAField.n { poly[i] = gamma1 &- poly[i] }
            }
        }
        return vector
    }

    /// SampleInBall (Algorithm 29): a polynomial with τ coefficients ±1 and the rest 0,
    /// from SHAKE256(c̃): 8 bytes of sign bits, then a Fisher-Yates style placement.
    static func sampleInBall(_ commitmentHash: [UInt8], tau: Int) -> [Int32] {
        var c = [Int32](repeating: 0, count: MLDSAField.n)
        var xof = KeccakSponge.shake256()
        xof.absorb(commitmentHash)
        var block = xof.squeeze(count: 136)
        var signs: UInt64 = 0
        for i in 0..<8 { signs |= UInt64(block[i]) << UInt64(8 * i) }
        var position = 8
        for i in (MLDSAField.n - tau)..<MLDSAField.n {
            var j: Int
            repeat {
                if position == block.count {
                    block = xof.squeeze(count: 136)
                    position = 0
                }
                j = Int(block[position])
                position += 1
            } while j > i
            c[i] = c[j]
            c[j] = 1 - 2 * Int32(signs & 1)
            signs >>= 1
        }
        return c
    }
}
