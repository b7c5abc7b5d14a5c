// Byte encodings of ML-DSA keys and signatures (FIPS 204 sections 7.1-7.2).

enum MLDSAEncoding {
    /// SimpleBitPack/BitPack core: appends 256 values, each already in [0, 2^bits),
    /// as a little-endian bit string.
    static func packBits(_ poly: UnsafePointer<Int32>, bits: Int, into output: inout [UInt8]) {
        var accumulator: UInt64 = 0
        var accumulatedBits = 0
        for i in 0..<MLDSAField.n {
            accumulator |= UInt64(UInt32(bitPattern: poly[i])) << UInt64(accumulatedBits)
            accumulatedBits += bits
            while accumulatedBits >= 8 {
                output.append(UInt8(truncatingIfNeeded: accumulator))
                accumulator >>= 8
                accumulatedBits -= 8
            }
        }
    }

    /// Inverse of `packBits`: reads 32·bits bytes starting at `offset` (the caller checks the length).
    static func unpackBits(_ bytes: [UInt8], offset: Int, bits: Int, into poly: UnsafeMutablePointer<Int32>) {
        let mask: UInt64 = (1 << UInt64(bits)) - 1
        var accumulator: UInt64 = 0
        var accumulatedBits = 0
        var position = offset
        bytes.withUnsafeBufferPointer { bytes in
            for i in 0..<MLDSAField.n {
                while accumulatedBits < bits {
                    accumulator |= UInt64(bytes[position]) << UInt64(accumulatedBits)
                    position += 1
                    accumulatedBits += 8
                }
                poly[i] = Int32(truncatingIfNeeded: accumulator & mask)
                accumulator >>= UInt64(bits)
                accumulatedBits -= bits
            }
        }
    }

    /// Packs every polynomial of `vector` after mapping each coefficient with `transform`.
    static func pack(_ vector: PolyVec, bits: Int, into output: inout [UInt8], transform: (Int32) -> Int32) {
        var mapped = vector
        mapped.coefficients.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for i in buffer.indices { buffer[i] = transform(buffer[i]) }
            for p in 0..<vector.count { packBits(base + p * MLDSAField.n, bits: bits, into: &output) }
        }
    }

    /// Unpacks `count` polynomials of `bits`-bit values starting at `offset`.
    static func unpack(_ bytes: [UInt8], offset: Int, count: Int, bits: Int) -> PolyVec {
        var vector = PolyVec(count: count)
        vector.coefficients.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for p in 0..<count {
                unpackBits(bytes, offset: offset + p * 32 * bits, bits: bits, into: base + p * MLDSAField.n)
            }
        }
        return vector
    }

    /// pkEncode (Algorithm 22): ρ || t1 as 10-bit values.
    static func encodePublicKey(rho: [UInt8], t1: PolyVec) -> [UInt8] {
        var output = rho
        pack(t1, bits: 10, into: &output) { $0 }
        return output
    }

    /// pkDecode (Algorithm 23); every bit string of the right length is a valid key.
    static func decodePublicKey(_ bytes: [UInt8], parameters: MLDSAParameters) -> (rho: [UInt8], t1: PolyVec) {
        (Array(bytes[0..<32]), unpack(bytes, offset: 32, count: parameters.k, bits: 10))
    }

    /// skEncode (Algorithm 24): ρ || K || tr || η-s1 || η-s2 || 2^12-t0.
    static func encodePrivateKey(
        rho: [UInt8], key: [UInt8], tr: [UInt8], s1: PolyVec, s2: PolyVec, t0: PolyVec, parameters: MLDSAParameters
    ) -> [UInt8] {
        var output = rho + key + tr
        let eta = parameters.eta
        pack(s1, bits: parameters.etaBits, into: &output) { eta - $0 }
        pack(s2, bits: parameters.etaBits, into: &output) { eta - $0 }
        pack(t0, bits: Int(MLDSAField.d), into: &output) { (1 << (MLDSAField.d - 1)) - $0 }
        return output
    }

    /// w1Encode (Algorithm 28).
    static func encodeW1(_ w1: PolyVec, parameters: MLDSAParameters) -> [UInt8] {
        var output = [UInt8]()
        output.reserveCapacity(w1.count * 32 * parameters.w1Bits)
        pack(w1, bits: parameters.w1Bits, into: &output) { $0 }
        return output
    }

    /// sigEncode (Algorithm 26): c̃ || γ1-z || HintBitPack(h). `hint` holds 0/1 coefficients.
    static func encodeSignature(
        commitmentHash: [UInt8], z: PolyVec, hint: PolyVec, parameters: MLDSAParameters
    ) -> [UInt8] {
        var output = commitmentHash
        output.reserveCapacity(parameters.signatureByteCount)
        let gamma1 = parameters.gamma1
        pack(z, bits: parameters.zBits, into: &output) { gamma1 - $0 }
        // HintBitPack (Algorithm 20): positions of the 1s, then the running count per polynomial.
        var positions = [UInt8](repeating: 0, count: parameters.omega + parameters.k)
        var index = 0
        hint.coefficients.withUnsafeBufferPointer { h in
            for i in 0..<parameters.k {
                for j in 0..<MLDSAField.n where h[i * MLDSAField.n + j] != 0 {
                    positions[index] = UInt8(j)
                    index += 1
                }
                positions[parameters.omega + i] = UInt8(index)
            }
        }
        return output + positions
    }

    /// sigDecode (Algorithm 27) with HintBitUnpack (Algorithm 21). Returns nil for a wrong
    /// length or a non-canonical hint (unordered, out of range or nonzero padding), which
    /// keeps signatures strongly unforgeable.
    static func decodeSignature(
        _ bytes: [UInt8], parameters: MLDSAParameters
    ) -> (commitmentHash: [UInt8], z: PolyVec, hint: PolyVec)? {
        guard bytes.count == parameters.signatureByteCount else { return nil }
        let hashCount = parameters.challengeByteCount
        let commitmentHash = Array(bytes[0..<hashCount])
        var z = unpack(bytes, offset: hashCount, count: parameters.l, bits: parameters.zBits)
        let gamma1 = parameters.gamma1
        z.coefficients.withUnsafeMutableBufferPointer { buffer in
            for i in buffer.indices { buffer[i] = gamma1 &- buffer[i] }
        }
        let hintOffset = hashCount + parameters.l * 32 * parameters.zBits
        let omega = parameters.omega
        var hint = PolyVec(count: parameters.k)
        var index = 0
        for i in 0..<parameters.k {
            let end = Int(bytes[hintOffset + omega + i])
            if end < index || end > omega { return nil }
            for j in index..<end {
                if j > index && bytes[hintOffset + j] <= bytes[hintOffset + j - 1] { return nil }
                hint.coefficients[i * MLDSAField.n + Int(bytes[hintOffset + j])] = 1
            }
            index = end
        }
        for j in index..<omega where bytes[hintOffset + j] != 0 { return nil }
        return (commitmentHash, z, hint)
    }
}
