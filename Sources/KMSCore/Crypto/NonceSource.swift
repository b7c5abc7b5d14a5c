import Crypto
import Foundation

/// AES-GCM nonces from a buffer of CSPRNG output. BoringSSL's RAND_bytes makes a
/// getrandom system call on every request for its additional input; drawing 4 KiB at a
/// time and handing out 12-byte slices (each byte used once) keeps nonces random while
/// taking that call off the hot path.
final class NonceSource: @unchecked Sendable {
    static let shared = NonceSource()
    static let bufferSize = 4096

    private let lock = NSLock()
    private var buffer: [UInt8] = []
    private var offset = 0

    func nonce() -> AES.GCM.Nonce {
        lock.lock()
        if offset + CiphertextBlob.nonceSize > buffer.count {
            buffer = SymmetricCipher.randomBytes(Self.bufferSize)
            offset = 0
        }
        let bytes = buffer[offset..<(offset + CiphertextBlob.nonceSize)]
        offset += CiphertextBlob.nonceSize
        lock.unlock()
        // 12 bytes is always a valid GCM nonce size, so this cannot fail; fall back to a fresh one regardless.
        return (try? AES.GCM.Nonce(data: bytes)) ?? AES.GCM.Nonce()
    }
}
