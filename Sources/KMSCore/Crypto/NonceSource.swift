import Synchronization

/// Per-message salts (v2) and AES-GCM nonces (v1) cut from a buffer of CSPRNG output. Each
/// RAND_bytes call costs about a microsecond of DRBG locking and bookkeeping; drawing 4 KiB
/// at a time and handing out slices (every byte used once) keeps them random at a fraction
/// of that. They are public (they travel in the blob), so holding them in memory leaks nothing.
final class NonceSource: Sendable {
    static let shared = NonceSource()
    static let bufferSize = 4096  // a multiple of the v2 salt size

    private struct State {
        var buffer = [UInt8](repeating: 0, count: NonceSource.bufferSize)
        var offset = NonceSource.bufferSize  // empty: filled on first use
    }

    private let state = Mutex(State())

    /// Writes fresh random bytes into `out` (at most `bufferSize`; a short tail left in the
    /// buffer is discarded rather than reused).
    func fill(_ out: UnsafeMutableRawBufferPointer) {
        precondition(out.count <= Self.bufferSize)
        state.withLock { s in
            if s.offset + out.count > s.buffer.count {
                s.buffer.withUnsafeMutableBytes { SystemRandom.fill($0) }
                s.offset = 0
            }
            s.buffer.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[s.offset..<(s.offset + out.count)])) }
            s.offset += out.count
        }
    }
}
