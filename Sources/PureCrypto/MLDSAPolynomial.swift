// Arithmetic in R_q = Z_q[X]/(X^256 + 1) for ML-DSA: Montgomery reduction, the NTT
// (FIPS 204 Algorithms 41/42, with Montgomery-form twiddles as in the reference code)
// and vectors of polynomials.

enum MLDSAField {
    static let q: Int32 = 8_380_417
    /// q^-1 mod 2^32, for Montgomery reduction.
    static let qInverse: Int32 = 58_728_449
    static let n = 256
    /// Dropped bits of t (FIPS 204 d).
    static let d: Int32 = 13

    /// Returns a·2^-32 mod q in (-q, q) for |a| < 2^31·q.
    @inline(__always)
    static func montgomeryReduce(_ a: Int64) -> Int32 {
        let t = Int32(truncatingIfNeeded: a) &* qInverse
        return Int32(truncatingIfNeeded: (a &- Int64(t) &* Int64(q)) >> 32)
    }

    /// Returns r ≡ a mod q with -6283009 <= r <= 6283007, for a <= 2^31 - 2^22 - 1.
    @inline(__always)
    static func reduce32(_ a: Int32) -> Int32 {
        let t = (a &+ (1 << 22)) >> 23
        return a &- t &* q
    }

    /// Maps (-q, q) to [0, q) without branching.
    @inline(__always)
    static func addQIfNegative(_ a: Int32) -> Int32 {
        a &+ ((a >> 31) & q)
    }

    /// zetas[i] = 2^32 · ζ^BitRev8(i) mod q (centred), ζ = 1753 the 512th root of unity.
    /// Computed rather than tabulated; a test pins the first entries to FIPS 204 Appendix B.
    static let zetas: [Int32] = {
        let q64 = Int64(q)
        func power(_ base: Int64, _ exponent: Int) -> Int64 {
            var result: Int64 = 1
            var b = base % q64
            var e = exponent
            while e > 0 {
                if e & 1 == 1 { result = result * b % q64 }
                b = b * b % q64
                e >>= 1
            }
            return result
        }
        let montgomery = (Int64(1) << 32) % q64
        return (0..<256).map { i in
            var reversed = 0
            for bit in 0..<8 where i & (1 << bit) != 0 { reversed |= 1 << (7 - bit) }
            var z = power(1753, reversed) * montgomery % q64
            if z > q64 / 2 { z -= q64 }
            return Int32(z)
        }
    }()

    /// In-place forward NTT; input |a| < q, output |a| < 9q, bit-reversed order.
    static func ntt(_ a: UnsafeMutablePointer<Int32>) {
        zetas.withUnsafeBufferPointer { zetas in
            var k = 0
            var length = 128
            while length > 0 {
                var start = 0
                while start < n {
                    k += 1
                    let zeta = Int64(zetas[k])
                    for j in start..<(start + length) {
                        let t = montgomeryReduce(zeta &* Int64(a[j + length]))
                        a[j + length] = a[j] &- t
                        a[j] = a[j] &+ t
                    }
                    start += 2 * length
                }
                length >>= 1
            }
        }
    }

    /// In-place inverse NTT that also multiplies by 2^32 (undoing one Montgomery factor
    /// left by a pointwise product); input |a| < q, output |a| < q.
    static func inverseNTTToMontgomery(_ a: UnsafeMutablePointer<Int32>) {
        // mont^2 / 256 mod q: the 1/n scaling and the Montgomery factor in one constant.
        let f: Int64 = 41_978
        zetas.withUnsafeBufferPointer { zetas in
            var k = 256
            var length = 1
            while length < n {
                var start = 0
                while start < n {
                    k -= 1
                    let zeta = -Int64(zetas[k])
                    for j in start..<(start + length) {
                        let t = a[j]
                        a[j] = t &+ a[j + length]
                        a[j + length] = montgomeryReduce(zeta &* Int64(t &- a[j + length]))
                    }
                    start += 2 * length
                }
                length <<= 1
            }
        }
        for j in 0..<n {
            a[j] = montgomeryReduce(f &* Int64(a[j]))
        }
    }
}

/// A vector of `count` polynomials of 256 coefficients each, stored contiguously.
/// Whether it holds NTT-domain or normal-domain values is up to the caller.
struct PolyVec: Sendable, Equatable {
    var coefficients: [Int32]

    init(count: Int) {
        coefficients = [Int32](repeating: 0, count: count * MLDSAField.n)
    }

    init(coefficients: [Int32]) {
        self.coefficients = coefficients
    }

    var count: Int { coefficients.count / MLDSAField.n }

    /// Calls `body` with the base of each polynomial in turn.
    @inline(__always)
    private mutating func forEachPolynomial(_ body: (UnsafeMutablePointer<Int32>) -> Void) {
        let count = self.count
        coefficients.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for i in 0..<count { body(base + i * MLDSAField.n) }
        }
    }

    @inline(__always)
    private mutating func mapCoefficients(_ transform: (Int32) -> Int32) {
        coefficients.withUnsafeMutableBufferPointer { buffer in
            for i in buffer.indices { buffer[i] = transform(buffer[i]) }
        }
    }

    mutating func ntt() { forEachPolynomial(MLDSAField.ntt) }
    mutating func inverseNTTToMontgomery() { forEachPolynomial(MLDSAField.inverseNTTToMontgomery) }
    mutating func reduce() { mapCoefficients(MLDSAField.reduce32) }
    mutating func addQIfNegative() { mapCoefficients(MLDSAField.addQIfNegative) }

    mutating func add(_ other: PolyVec) {
        other.coefficients.withUnsafeBufferPointer { b in
            coefficients.withUnsafeMutableBufferPointer { a in
                for i in a.indices { a[i] = a[i] &+ b[i] }
            }
        }
    }

    mutating func subtract(_ other: PolyVec) {
        other.coefficients.withUnsafeBufferPointer { b in
            coefficients.withUnsafeMutableBufferPointer { a in
                for i in a.indices { a[i] = a[i] &- b[i] }
            }
        }
    }

    /// True when some coefficient has |c| >= bound. Coefficients must be reduced (reduce32);
    /// it may return early because it only ever inspects values about to be rejected or public.
    func infinityNormAtLeast(_ bound: Int32) -> Bool {
        coefficients.withUnsafeBufferPointer { a in
            for c in a {
                let absolute = c &- ((c >> 31) & (c &* 2))
                if absolute >= bound { return true }
            }
            return false
        }
    }

    /// Each polynomial of `self` times the single polynomial `poly` (both NTT domain),
    /// Montgomery-reduced.
    func pointwiseMultiplied(by poly: PolyVec) -> PolyVec {
        var result = self
        poly.coefficients.withUnsafeBufferPointer { b in
            result.coefficients.withUnsafeMutableBufferPointer { r in
                for i in r.indices {
                    r[i] = MLDSAField.montgomeryReduce(Int64(r[i]) &* Int64(b[i & 255]))
                }
            }
        }
        return result
    }
}

/// The k×l matrix Â, row-major, each entry an NTT-domain polynomial.
struct PolyMatrix: Sendable {
    let rows: Int
    let columns: Int
    var coefficients: [Int32]

    /// Â ∘ v for an NTT-domain vector v of length `columns`; entries of the result are
    /// sums of Montgomery products (|c| < columns·q), not yet reduced.
    func multiply(_ vector: PolyVec) -> PolyVec {
        let n = MLDSAField.n
        var result = PolyVec(count: rows)
        let columns = self.columns
        coefficients.withUnsafeBufferPointer { matrix in
            vector.coefficients.withUnsafeBufferPointer { v in
                result.coefficients.withUnsafeMutableBufferPointer { out in
                    // Row by row, one matrix entry at a time, so every access is sequential.
                    for i in 0..<rows {
                        for j in 0..<columns {
                            let entry = (i * columns + j) * n
                            for c in 0..<n {
                                out[i * n + c] &+= MLDSAField.montgomeryReduce(
                                    Int64(matrix[entry + c]) &* Int64(v[j * n + c]))
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}
