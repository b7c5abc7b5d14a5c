// Integers modulo the group order L = 2^252 + 27742317777372353535851937790883648493,
// in five 52-bit limbs with Montgomery multiplication (R = 2^260), as in curve25519-dalek.
// Every operation is constant time: signing feeds it the secret scalar and nonce.

struct Scalar25519: Sendable {
    /// Little-endian 52-bit limbs; the value is below L after every public operation.
    private var limbs: [UInt64]

    private static let mask52: UInt64 = (1 << 52) - 1
    static let order: [UInt64] = [0x2_631A_5CF5_D3ED, 0xD_EA2F_79CD_6581, 0x0_0001_4DEF_9, 0, 0x0_1000_0000_0000]
    /// -L^-1 mod 2^52.
    private static let orderFactor: UInt64 = 0x5_1DA3_1254_7E1B
    /// R mod L and R^2 mod L.
    private static let r: [UInt64] = [0xF_48BD_6721_E6ED, 0x3_BAB5_AC67_E45A, 0xF_FFFF_EB35_E51B, 0xF_FFFF_FFFF_FFFF, 0x0_0FFF_FFFF_FFFF]
    private static let rr: [UInt64] = [0x9_D265_E952_D13B, 0xD_63C7_15BE_A69F, 0x5_BE65_CB68_7604, 0x3_DCEE_C73D_217F, 0x0_0941_1B7C_309A]

    private init(limbs: [UInt64]) { self.limbs = limbs }

    /// Reduces a 64-byte little-endian integer (a SHA-512 output) mod L.
    init(reducing bytes: [UInt8]) {
        var words = [UInt64](repeating: 0, count: 8)
        for i in 0..<min(bytes.count, 64) { words[i / 8] |= UInt64(bytes[i]) << UInt64(8 * (i % 8)) }
        let m = Self.mask52
        let low: [UInt64] = [
            words[0] & m,
            ((words[0] >> 52) | (words[1] << 12)) & m,
            ((words[1] >> 40) | (words[2] << 24)) & m,
            ((words[2] >> 28) | (words[3] << 36)) & m,
            ((words[3] >> 16) | (words[4] << 48)) & m,
        ]
        let high: [UInt64] = [
            (words[4] >> 4) & m,
            ((words[4] >> 56) | (words[5] << 8)) & m,
            ((words[5] >> 44) | (words[6] << 20)) & m,
            ((words[6] >> 32) | (words[7] << 32)) & m,
            words[7] >> 20,
        ]
        // low + high·2^260 ≡ low·R/R + high·R^2/R (mod L).
        let lowPart = Self.montgomeryMultiply(low, Self.r)
        let highPart = Self.montgomeryMultiply(high, Self.rr)
        self.init(limbs: Self.add(lowPart, highPart))
    }

    /// Whether 32 little-endian bytes encode an integer below L (RFC 8032 requires S < L).
    /// Variable time: only ever applied to the public S of a signature.
    static func isCanonical(_ bytes: [UInt8]) -> Bool {
        guard bytes.count == 32 else { return false }
        let orderBytes = Scalar25519(limbs: order).encoded()
        for i in stride(from: 31, through: 0, by: -1) where bytes[i] != orderBytes[i] {
            return bytes[i] < orderBytes[i]
        }
        return false
    }

    /// 32-byte little-endian encoding.
    func encoded() -> [UInt8] {
        let words = [
            limbs[0] | (limbs[1] << 52),
            (limbs[1] >> 12) | (limbs[2] << 40),
            (limbs[2] >> 24) | (limbs[3] << 28),
            (limbs[3] >> 36) | (limbs[4] << 16),
        ]
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        for word in words {
            for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(8 * i))) }
        }
        return bytes
    }

    static func + (a: Scalar25519, b: Scalar25519) -> Scalar25519 {
        Scalar25519(limbs: add(a.limbs, b.limbs))
    }

    static func * (a: Scalar25519, b: Scalar25519) -> Scalar25519 {
        // (ab/R)·R^2/R = ab.
        Scalar25519(limbs: montgomeryMultiply(montgomeryMultiply(a.limbs, b.limbs), rr))
    }

    /// (a + b) mod L for a, b < L.
    private static func add(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        var sum = [UInt64](repeating: 0, count: 5)
        var carry: UInt64 = 0
        for i in 0..<5 {
            carry = a[i] &+ b[i] &+ (carry >> 52)
            sum[i] = carry & mask52
        }
        return subtract(sum, order)
    }

    /// (a - b) mod L for a, b < L (or a < 2L, b = L): subtract, then add L back under a mask.
    private static func subtract(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        var difference = [UInt64](repeating: 0, count: 5)
        var borrow: UInt64 = 0
        for i in 0..<5 {
            borrow = a[i] &- (b[i] &+ (borrow >> 63))
            difference[i] = borrow & mask52
        }
        let underflowMask = ((borrow >> 63) ^ 1) &- 1
        var carry: UInt64 = 0
        for i in 0..<5 {
            carry = (carry >> 52) &+ difference[i] &+ (order[i] & underflowMask)
            difference[i] = carry & mask52
        }
        return difference
    }

    @inline(__always)
    private static func wide(_ a: UInt64, _ b: UInt64) -> UInt128 { UInt128(a) &* UInt128(b) }

    /// a·b/R mod L for a·b < R·L.
    private static func montgomeryMultiply(_ a: [UInt64], _ b: [UInt64]) -> [UInt64] {
        var z = [UInt128](repeating: 0, count: 9)
        for i in 0..<5 {
            for j in 0..<5 { z[i + j] &+= wide(a[i], b[j]) }
        }
        return montgomeryReduce(z)
    }

    /// Montgomery reduction of a 9-limb product: adds n·L so the low 260 bits vanish,
    /// then keeps the high half. L's limb 3 is zero, which the sums skip.
    private static func montgomeryReduce(_ z: [UInt128]) -> [UInt64] {
        let l = order
        let m = UInt128(mask52)
        @inline(__always) func part1(_ sum: UInt128) -> (UInt128, UInt64) {
            let p = (UInt64(truncatingIfNeeded: sum) &* orderFactor) & mask52
            return ((sum &+ wide(p, l[0])) >> 52, p)
        }
        @inline(__always) func part2(_ sum: UInt128) -> (UInt128, UInt64) {
            (sum >> 52, UInt64(truncatingIfNeeded: sum & m))
        }
        var carry: UInt128
        let n0, n1, n2, n3, n4, r0, r1, r2, r3: UInt64
        (carry, n0) = part1(z[0])
        (carry, n1) = part1(carry &+ z[1] &+ wide(n0, l[1]))
        (carry, n2) = part1(carry &+ z[2] &+ wide(n0, l[2]) &+ wide(n1, l[1]))
        (carry, n3) = part1(carry &+ z[3] &+ wide(n1, l[2]) &+ wide(n2, l[1]))
        (carry, n4) = part1(carry &+ z[4] &+ wide(n0, l[4]) &+ wide(n2, l[2]) &+ wide(n3, l[1]))
        (carry, r0) = part2(carry &+ z[5] &+ wide(n1, l[4]) &+ wide(n3, l[2]) &+ wide(n4, l[1]))
        (carry, r1) = part2(carry &+ z[6] &+ wide(n2, l[4]) &+ wide(n4, l[2]))
        (carry, r2) = part2(carry &+ z[7] &+ wide(n3, l[4]))
        (carry, r3) = part2(carry &+ z[8] &+ wide(n4, l[4]))
        let r4 = UInt64(truncatingIfNeeded: carry)
        return subtract([r0, r1, r2, r3, r4], l)
    }
}
