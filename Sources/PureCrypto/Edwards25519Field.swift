// Arithmetic in GF(2^255 - 19) with five 51-bit limbs (the "radix 2^51" representation
// used by curve25519-dalek and donna64). All operations are constant time.

struct FieldElement: Sendable {
    var l0: UInt64, l1: UInt64, l2: UInt64, l3: UInt64, l4: UInt64

    private static let mask51: UInt64 = (1 << 51) - 1

    static let zero = FieldElement(l0: 0, l1: 0, l2: 0, l3: 0, l4: 0)
    static let one = FieldElement(l0: 1, l1: 0, l2: 0, l3: 0, l4: 0)

    /// d = -121665/121666, the Edwards curve constant.
    static let d = FieldElement(bytes: hexBytes("a3785913ca4deb75abd841414d0a700098e879777940c78c73fe6f2bee6c0352"))
    /// 2d, used by the addition formulas.
    static let d2 = FieldElement(bytes: hexBytes("59f1b226949bd6eb56b183829a14e00030d1f3eef2808e19e7fcdf56dcd90624"))
    /// sqrt(-1) = 2^((p-1)/4), used when decompressing points.
    static let sqrtMinusOne = FieldElement(
        bytes: hexBytes("b0a00e4a271beec478e42fad0618432fa7d7fb3d99004d2b0bdfc14f8024832b"))

    init(l0: UInt64, l1: UInt64, l2: UInt64, l3: UInt64, l4: UInt64) {
        (self.l0, self.l1, self.l2, self.l3, self.l4) = (l0, l1, l2, l3, l4)
    }

    /// Little-endian decoding of 32 bytes, ignoring the top bit (RFC 8032 5.1.3 step 1).
    /// The value may be >= p; callers that need canonical input check `isCanonicalEncoding`.
    init(bytes: [UInt8]) {
        func load(_ offset: Int) -> UInt64 {
            var word: UInt64 = 0
            for i in 0..<8 { word |= UInt64(bytes[offset + i]) << UInt64(8 * i) }
            return word
        }
        let w0 = load(0), w1 = load(8), w2 = load(16), w3 = load(24)
        l0 = w0 & Self.mask51
        l1 = ((w0 >> 51) | (w1 << 13)) & Self.mask51
        l2 = ((w1 >> 38) | (w2 << 26)) & Self.mask51
        l3 = ((w2 >> 25) | (w3 << 39)) & Self.mask51
        l4 = (w3 >> 12) & Self.mask51
    }

    /// Whether 32 bytes, top bit ignored, encode a value below p.
    static func isCanonicalEncoding(_ bytes: [UInt8]) -> Bool {
        var withoutSign = bytes
        withoutSign[31] &= 0x7F
        return FieldElement(bytes: bytes).encoded() == withoutSign
    }

    /// The canonical 32-byte little-endian encoding (fully reduced mod p).
    func encoded() -> [UInt8] {
        var t = weaklyReduced()
        // q = 1 exactly when t >= p: the carry out of t + 19 past bit 255.
        var q = (t.l0 &+ 19) >> 51
        q = (t.l1 &+ q) >> 51
        q = (t.l2 &+ q) >> 51
        q = (t.l3 &+ q) >> 51
        q = (t.l4 &+ q) >> 51
        t.l0 &+= 19 &* q
        t.l1 &+= t.l0 >> 51; t.l0 &= Self.mask51
        t.l2 &+= t.l1 >> 51; t.l1 &= Self.mask51
        t.l3 &+= t.l2 >> 51; t.l2 &= Self.mask51
        t.l4 &+= t.l3 >> 51; t.l3 &= Self.mask51
        t.l4 &= Self.mask51
        let words = [
            t.l0 | (t.l1 << 51),
            (t.l1 >> 13) | (t.l2 << 38),
            (t.l2 >> 26) | (t.l3 << 25),
            (t.l3 >> 39) | (t.l4 << 12),
        ]
        var bytes = [UInt8]()
        bytes.reserveCapacity(32)
        for word in words {
            for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(8 * i))) }
        }
        return bytes
    }

    /// Carries so every limb is below 2^51 + 2^13·19 (value unchanged mod p).
    @inline(__always)
    func weaklyReduced() -> FieldElement {
        let c0 = l0 >> 51, c1 = l1 >> 51, c2 = l2 >> 51, c3 = l3 >> 51, c4 = l4 >> 51
        return FieldElement(
            l0: (l0 & Self.mask51) &+ c4 &* 19,
            l1: (l1 & Self.mask51) &+ c0,
            l2: (l2 & Self.mask51) &+ c1,
            l3: (l3 & Self.mask51) &+ c2,
            l4: (l4 & Self.mask51) &+ c3)
    }

    @inline(__always)
    static func + (a: FieldElement, b: FieldElement) -> FieldElement {
        FieldElement(l0: a.l0 &+ b.l0, l1: a.l1 &+ b.l1, l2: a.l2 &+ b.l2, l3: a.l3 &+ b.l3, l4: a.l4 &+ b.l4)
            .weaklyReduced()
    }

    /// a - b computed as a + 16p - b so no limb underflows for limbs below 2^54.
    @inline(__always)
    static func - (a: FieldElement, b: FieldElement) -> FieldElement {
        FieldElement(
            l0: (a.l0 &+ 36_028_797_018_963_664) &- b.l0,
            l1: (a.l1 &+ 36_028_797_018_963_952) &- b.l1,
            l2: (a.l2 &+ 36_028_797_018_963_952) &- b.l2,
            l3: (a.l3 &+ 36_028_797_018_963_952) &- b.l3,
            l4: (a.l4 &+ 36_028_797_018_963_952) &- b.l4
        ).weaklyReduced()
    }

    @inline(__always)
    static prefix func - (a: FieldElement) -> FieldElement { zero - a }

    @inline(__always)
    private static func wide(_ a: UInt64, _ b: UInt64) -> UInt128 { UInt128(a) &* UInt128(b) }

    /// Carries five 128-bit column sums into limbs; the top carry wraps around times 19.
    @inline(__always)
    private static func carry(_ c0: UInt128, _ c1: UInt128, _ c2: UInt128, _ c3: UInt128, _ c4: UInt128) -> FieldElement {
        let mask = UInt128(mask51)
        var c1 = c1, c2 = c2, c3 = c3, c4 = c4
        c1 &+= c0 >> 51
        c2 &+= c1 >> 51
        c3 &+= c2 >> 51
        c4 &+= c3 >> 51
        // c4 >> 51 can exceed 2^64 / 19, so fold it back in 128-bit arithmetic.
        let r0 = (c0 & mask) &+ (c4 >> 51) &* 19
        let r1 = UInt64(truncatingIfNeeded: c1 & mask) &+ UInt64(truncatingIfNeeded: r0 >> 51)
        return FieldElement(
            l0: UInt64(truncatingIfNeeded: r0 & mask), l1: r1,
            l2: UInt64(truncatingIfNeeded: c2 & mask), l3: UInt64(truncatingIfNeeded: c3 & mask),
            l4: UInt64(truncatingIfNeeded: c4 & mask))
    }

    /// Schoolbook product with the 2^255 = 19 wrap folded into the operands; limbs below 2^54.
    static func * (a: FieldElement, b: FieldElement) -> FieldElement {
        let b1 = b.l1 &* 19, b2 = b.l2 &* 19, b3 = b.l3 &* 19, b4 = b.l4 &* 19
        let c0 = wide(a.l0, b.l0) &+ wide(a.l4, b1) &+ wide(a.l3, b2) &+ wide(a.l2, b3) &+ wide(a.l1, b4)
        let c1 = wide(a.l1, b.l0) &+ wide(a.l0, b.l1) &+ wide(a.l4, b2) &+ wide(a.l3, b3) &+ wide(a.l2, b4)
        let c2 = wide(a.l2, b.l0) &+ wide(a.l1, b.l1) &+ wide(a.l0, b.l2) &+ wide(a.l4, b3) &+ wide(a.l3, b4)
        let c3 = wide(a.l3, b.l0) &+ wide(a.l2, b.l1) &+ wide(a.l1, b.l2) &+ wide(a.l0, b.l3) &+ wide(a.l4, b4)
        let c4 = wide(a.l4, b.l0) &+ wide(a.l3, b.l1) &+ wide(a.l2, b.l2) &+ wide(a.l1, b.l3) &+ wide(a.l0, b.l4)
        return carry(c0, c1, c2, c3, c4)
    }

    func squared() -> FieldElement {
        let d0 = l0 &* 2, d1 = l1 &* 2
        let l3x19 = l3 &* 19, l4x19 = l4 &* 19
        let c0 = Self.wide(l0, l0) &+ Self.wide(d1, l4x19) &+ Self.wide(l2 &* 2, l3x19)
        let c1 = Self.wide(l3, l3x19) &+ Self.wide(d0, l1) &+ Self.wide(l2 &* 2, l4x19)
        let c2 = Self.wide(l1, l1) &+ Self.wide(d0, l2) &+ Self.wide(l4 &* 2, l3x19)
        let c3 = Self.wide(l4, l4x19) &+ Self.wide(d0, l3) &+ Self.wide(d1, l2)
        let c4 = Self.wide(l2, l2) &+ Self.wide(d0, l4) &+ Self.wide(d1, l3)
        return Self.carry(c0, c1, c2, c3, c4)
    }

    /// self^(2^k).
    func squared(times k: Int) -> FieldElement {
        var result = self
        for _ in 0..<k { result = result.squared() }
        return result
    }

    /// (self^(2^250 - 1), self^11), the shared prefix of the inversion and square-root chains.
    private func pow2250Minus1() -> (FieldElement, FieldElement) {
        let z2 = squared()
        let z9 = self * z2.squared(times: 2)
        let z11 = z2 * z9
        let z2_5_0 = z9 * z11.squared()
        let z2_10_0 = z2_5_0.squared(times: 5) * z2_5_0
        let z2_20_0 = z2_10_0.squared(times: 10) * z2_10_0
        let z2_40_0 = z2_20_0.squared(times: 20) * z2_20_0
        let z2_50_0 = z2_40_0.squared(times: 10) * z2_10_0
        let z2_100_0 = z2_50_0.squared(times: 50) * z2_50_0
        let z2_200_0 = z2_100_0.squared(times: 100) * z2_100_0
        let z2_250_0 = z2_200_0.squared(times: 50) * z2_50_0
        return (z2_250_0, z11)
    }

    /// self^(p-2) = 1/self (0 for 0), by Fermat.
    func inverted() -> FieldElement {
        let (z2_250_0, z11) = pow2250Minus1()
        return z2_250_0.squared(times: 5) * z11
    }

    /// self^((p-5)/8) = self^(2^252 - 3), the core of the square root in decompression.
    func powP58() -> FieldElement {
        let (z2_250_0, _) = pow2250Minus1()
        return z2_250_0.squared(times: 2) * self
    }

    var isZero: Bool { encoded().allSatisfy { $0 == 0 } }

    /// The low bit of the canonical encoding ("negative" in RFC 8032 terms).
    var isNegative: Bool { encoded()[0] & 1 == 1 }

    func isEqual(to other: FieldElement) -> Bool { encoded() == other.encoded() }

    /// Returns `b` when `choice` is 1 and `a` when 0, without branching.
    @inline(__always)
    static func select(_ a: FieldElement, _ b: FieldElement, choice: UInt64) -> FieldElement {
        let mask = 0 &- choice
        return FieldElement(
            l0: a.l0 ^ (mask & (a.l0 ^ b.l0)), l1: a.l1 ^ (mask & (a.l1 ^ b.l1)),
            l2: a.l2 ^ (mask & (a.l2 ^ b.l2)), l3: a.l3 ^ (mask & (a.l3 ^ b.l3)),
            l4: a.l4 ^ (mask & (a.l4 ^ b.l4)))
    }
}

/// Decodes a hex literal of this module's constants.
func hexBytes(_ hex: String) -> [UInt8] {
    var bytes = [UInt8]()
    var high: UInt8?
    for c in hex.utf8 {
        let nibble: UInt8 = c <= 57 ? c - 48 : c - 87
        if let h = high { bytes.append(h << 4 | nibble); high = nil } else { high = nibble }
    }
    return bytes
}
