// Fresh randomness for hedged ML-DSA signing and key generation.

enum SecureRandom {
    /// `count` bytes from SystemRandomNumberGenerator, which is the OS CSPRNG
    /// (getrandom on Linux, arc4random on Darwin).
    static func bytes(count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8]()
        bytes.reserveCapacity(count + 8)
        while bytes.count < count {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return Array(bytes.prefix(count))
    }
}
