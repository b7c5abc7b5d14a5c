// The FIPS 202 sponge over Keccak-f[1600]: absorb, pad, squeeze.

/// An incremental Keccak sponge. ML-DSA needs SHAKE as an XOF it can read from
/// block by block (rejection sampling), so this is a value type with explicit phases.
struct KeccakSponge {
    private var state = [UInt64](repeating: 0, count: 25)
    /// Bytes absorbed or squeezed in the current block.
    private var position = 0
    private var squeezing = false
    /// Rate in bytes (168 for SHAKE128, 136 for SHAKE256).
    let rate: Int
    /// Domain-separation bits plus the first padding bit (0x1F for SHAKE).
    private let domainByte: UInt8

    init(rate: Int, domainByte: UInt8) {
        self.rate = rate
        self.domainByte = domainByte
    }

    static func shake128() -> KeccakSponge { KeccakSponge(rate: 168, domainByte: 0x1F) }
    static func shake256() -> KeccakSponge { KeccakSponge(rate: 136, domainByte: 0x1F) }

    mutating func absorb(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { absorb($0) }
    }

    mutating func absorb(_ bytes: UnsafeRawBufferPointer) {
        // Absorbing after squeezing has started is a programming error inside this module.
        assert(!squeezing, "absorb after squeeze")
        let rate = self.rate
        var position = self.position
        state.withUnsafeMutableBufferPointer { lanes in
            guard let s = lanes.baseAddress else { return }
            var index = 0
            let count = bytes.count
            while index < count {
                // Whole lanes when aligned: one 8-byte little-endian load instead of eight shifts.
                if position & 7 == 0 && count - index >= 8 && rate - position >= 8 {
                    s[position >> 3] ^= UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                    index += 8
                    position += 8
                } else {
                    s[position >> 3] ^= UInt64(bytes[index]) << UInt64((position & 7) << 3)
                    index += 1
                    position += 1
                }
                if position == rate {
                    KeccakF1600.permute(s)
                    position = 0
                }
            }
        }
        self.position = position
    }

    /// Applies the pad10*1 padding with the domain bits and switches to squeezing.
    private mutating func finalize() {
        let position = self.position
        let rate = self.rate
        let domain = domainByte
        state.withUnsafeMutableBufferPointer { lanes in
            guard let s = lanes.baseAddress else { return }
            s[position >> 3] ^= UInt64(domain) << UInt64((position & 7) << 3)
            s[(rate - 1) >> 3] ^= UInt64(0x80) << UInt64(((rate - 1) & 7) << 3)
            KeccakF1600.permute(s)
        }
        self.position = 0
        squeezing = true
    }

    mutating func squeeze(into output: UnsafeMutableRawBufferPointer) {
        if !squeezing { finalize() }
        let rate = self.rate
        var position = self.position
        state.withUnsafeMutableBufferPointer { lanes in
            guard let s = lanes.baseAddress else { return }
            var index = 0
            let count = output.count
            while index < count {
                if position == rate {
                    KeccakF1600.permute(s)
                    position = 0
                }
                if position & 7 == 0 && count - index >= 8 && rate - position >= 8 {
                    output.storeBytes(of: s[position >> 3].littleEndian, toByteOffset: index, as: UInt64.self)
                    index += 8
                    position += 8
                } else {
                    output[index] = UInt8(truncatingIfNeeded: s[position >> 3] >> UInt64((position & 7) << 3))
                    index += 1
                    position += 1
                }
            }
        }
        self.position = position
    }

    mutating func squeeze(count: Int) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: max(0, count))
        output.withUnsafeMutableBytes { squeeze(into: $0) }
        return output
    }
}

/// SHAKE128 and SHAKE256 extendable-output functions (FIPS 202).
public enum SHAKE {
    /// SHAKE128 of `data`, `outputByteCount` bytes long (a negative count gives no bytes).
    public static func shake128(_ data: [UInt8], outputByteCount: Int) -> [UInt8] {
        var sponge = KeccakSponge.shake128()
        sponge.absorb(data)
        return sponge.squeeze(count: outputByteCount)
    }

    /// SHAKE256 of `data`, `outputByteCount` bytes long (a negative count gives no bytes).
    public static func shake256(_ data: [UInt8], outputByteCount: Int) -> [UInt8] {
        var sponge = KeccakSponge.shake256()
        sponge.absorb(data)
        return sponge.squeeze(count: outputByteCount)
    }
}
