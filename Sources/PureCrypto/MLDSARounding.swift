// ML-DSA's rounding and hint functions (FIPS 204 section 7.4), in the branch-free
// forms of the reference implementation.

enum MLDSARounding {
    /// Power2Round (Algorithm 35) for a in [0, q): a = a1·2^13 + a0 with a0 in (-2^12, 2^12].
    @inline(__always)
    static func power2Round(_ a: Int32) -> (high: Int32, low: Int32) {
        let high = (a &+ (1 << (MLDSAField.d - 1)) &- 1) >> MLDSAField.d
        return (high, a &- (high << MLDSAField.d))
    }

    /// Decompose (Algorithm 36) for a in [0, q): a = a1·2γ2 + a0 with a0 in (-γ2, γ2],
    /// except that q-1 maps to (0, -1). The multiply-shift pairs compute floor division
    /// by 2γ2 without dividing.
    @inline(__always)
    static func decompose(_ a: Int32, gamma2: Int32) -> (high: Int32, low: Int32) {
        var high = (a &+ 127) >> 7
        if gamma2 == (MLDSAField.q - 1) / 32 {
            high = (high &* 1025 &+ (1 << 21)) >> 22
            high &= 15
        } else {
            high = (high &* 11275 &+ (1 << 23)) >> 24
            high ^= ((43 &- high) >> 31) & high
        }
        var low = a &- high &* 2 &* gamma2
        low &-= (((MLDSAField.q - 1) / 2 &- low) >> 31) & MLDSAField.q
        return (high, low)
    }

    /// MakeHint (Algorithm 39) in the reference's form: given the low part of
    /// w - cs2 + ct0 and the high part of w, whether adding -ct0 changes the high bits.
    @inline(__always)
    static func makeHint(low: Int32, high: Int32, gamma2: Int32) -> Int32 {
        (low > gamma2 || low < -gamma2 || (low == -gamma2 && high != 0)) ? 1 : 0
    }

    /// UseHint (Algorithm 40) for a in [0, q).
    @inline(__always)
    static func useHint(_ a: Int32, hint: Int32, gamma2: Int32) -> Int32 {
        let (high, low) = decompose(a, gamma2: gamma2)
        if hint == 0 { return high }
        if gamma2 == (MLDSAField.q - 1) / 32 {
            return low > 0 ? (high + 1) & 15 : (high - 1) & 15
        }
        if low > 0 { return high == 43 ? 0 : high + 1 }
        return high == 0 ? 43 : high - 1
    }
}
