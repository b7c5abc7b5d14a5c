// Scalar multiplication on edwards25519: a constant-time fixed-base comb for the secret
// scalars of signing, and a variable-time window for the public scalar of verification.

enum EdwardsScalarMultiplication {
    /// baseTable[8i + j] = (j+1) · 256^i · B for i < 32, j < 8 (ref10's layout), computed once.
    static let baseTable: [AffineNielsPoint] = {
        var table = [AffineNielsPoint]()
        table.reserveCapacity(32 * 8)
        var row = EdwardsPoint.base
        for _ in 0..<32 {
            let rowCached = row.cached
            var multiple = row
            for j in 0..<8 {
                if j > 0 { multiple = multiple + rowCached }
                table.append(multiple.affineNiels)
            }
            for _ in 0..<8 { row = row.doubled() }
        }
        return table
    }()

    /// Signed radix-16 digits of a 32-byte little-endian scalar below 2^255:
    /// sum e[i]·16^i with e[i] in [-8, 8). Uses no secret-dependent branches.
    static func signedRadix16(_ scalar: [UInt8]) -> [Int8] {
        var e = [Int8](repeating: 0, count: 64)
        for i in 0..<32 {
            e[2 * i] = Int8(scalar[i] & 15)
            e[2 * i + 1] = Int8(scalar[i] >> 4)
        }
        var carry: Int8 = 0
        for i in 0..<63 {
            e[i] &+= carry
            carry = (e[i] &+ 8) >> 4
            e[i] &-= carry << 4
        }
        e[63] &+= carry
        return e
    }

    /// digit · 256^row · B from the table, scanning all eight entries with masks so the
    /// memory access pattern and timing do not depend on the (secret) digit.
    @inline(__always)
    private static func select(
        _ table: UnsafeBufferPointer<AffineNielsPoint>, row: Int, digit: Int8
    ) -> AffineNielsPoint {
        let negativeBit = UInt8(bitPattern: digit) >> 7
        // |digit| = digit - 2·digit when negative, via a mask instead of a branch.
        let negativeMask = Int8(bitPattern: 0 &- negativeBit)
        let absolute = UInt64(UInt8(bitPattern: digit &- ((negativeMask & digit) << 1)))
        let negative = UInt64(negativeBit)
        var result = AffineNielsPoint.identity
        for j in 1...8 {
            let difference = absolute ^ UInt64(j)
            let equal = (difference &- 1) >> 63
            result = .select(result, table[row * 8 + j - 1], choice: equal)
        }
        return .select(result, result.negated, choice: negative)
    }

    /// [scalar]B in constant time; `scalar` is 32 little-endian bytes below 2^255
    /// (every reduced scalar and every clamped secret qualifies).
    static func baseMultiple(_ scalar: [UInt8]) -> EdwardsPoint {
        let e = signedRadix16(scalar)
        return baseTable.withUnsafeBufferPointer { table in
            // Odd digits first, then multiply by 16, then even digits: 64 table additions, 4 doublings.
            var h = EdwardsPoint.identity
            for i in stride(from: 1, to: 64, by: 2) {
                h = h + select(table, row: i / 2, digit: e[i])
            }
            h = h.doubled().doubled().doubled().doubled()
            for i in stride(from: 0, to: 64, by: 2) {
                h = h + select(table, row: i / 2, digit: e[i])
            }
            return h
        }
    }

    /// [scalar]P in variable time (only for public values): unsigned 4-bit windows.
    static func variableTimeMultiple(_ point: EdwardsPoint, _ scalar: [UInt8]) -> EdwardsPoint {
        var multiples = [CachedPoint]()
        multiples.reserveCapacity(15)
        var current = point
        multiples.append(current.cached)
        for _ in 2...15 {
            current = current + multiples[0]
            multiples.append(current.cached)
        }
        var result = EdwardsPoint.identity
        for i in stride(from: 63, through: 0, by: -1) {
            if i != 63 { result = result.doubled().doubled().doubled().doubled() }
            let nibble = Int((scalar[i / 2] >> (4 * UInt8(i & 1))) & 15)
            if nibble != 0 { result = result + multiples[nibble - 1] }
        }
        return result
    }
}
