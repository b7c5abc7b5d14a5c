import COpenSSL
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Secret bytes (key material, keyed hash states) held outside the Swift heap, in memory
/// that is locked against swapping (mlock), left out of core dumps (MADV_DONTDUMP on
/// Linux) and overwritten (OPENSSL_cleanse) when released.
///
/// Why a class: the bytes must have one address for their whole life, so they can be
/// locked and wiped; a Swift array may be copied or moved by the runtime at will.
/// Immutable after `init` returns, hence Sendable.
public final class SecretBytes: @unchecked Sendable {
    public let count: Int
    private let base: UnsafeMutableRawPointer
    private let slot: SecretArena.Slot

    /// Allocates `count` bytes (zeroed) and lets `initialize` fill them once.
    public init(count: Int, initialize: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        let slot = SecretArena.shared.allocate(max(count, 1))
        do {
            try initialize(UnsafeMutableRawBufferPointer(start: slot.pointer, count: count))
        } catch {
            SecretArena.shared.release(slot)
            throw error
        }
        self.count = count
        self.slot = slot
        base = slot.pointer
    }

    /// Copies `bytes` in. The caller's buffer is theirs to wipe (see `init(consuming:)`).
    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(count: bytes.count) { $0.copyMemory(from: bytes) }
    }

    /// Copies `bytes` in, then overwrites the array's storage when this was its only
    /// reference (the usual case for key material just unsealed or generated). Copies
    /// the array made earlier cannot be reached from here (docs/ARCHITECTURE.md).
    public convenience init(consuming bytes: consuming [UInt8]) {
        self.init(count: bytes.count) { dst in bytes.withUnsafeBytes { dst.copyMemory(from: $0) } }
        bytes.withUnsafeMutableBytes { raw in
            if let p = raw.baseAddress { OPENSSL_cleanse(p, raw.count) }
        }
    }

    deinit {
        SecretArena.shared.release(slot)
    }

    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// A Swift array copy, for APIs that take one (sealing for storage, swift-crypto HMAC).
    /// The copy lives on the ordinary heap and is not wiped: keep its life short.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// Locked, dump-excluded pages carved into power-of-two slots (64 B to 4 KiB) so a
/// 32-byte AES key does not cost a page of locked memory; larger secrets (RSA and ML-DSA
/// private keys) get mappings of their own. Released slots are wiped and reused; arena
/// pages stay mapped for the life of the process.
final class SecretArena: Sendable {
    static let shared = SecretArena()
    static let minimumSlot = 64
    static let chunkSize = 64 * 1024
    static var pageSize: Int { Int(sysconf(Int32(_SC_PAGESIZE))) }

    struct Slot: @unchecked Sendable {  // a pointer owned by exactly one SecretBytes
        let pointer: UnsafeMutableRawPointer
        let size: Int  // the slot size class, or the mapping length for large secrets
        let dedicated: Bool
    }

    private struct State {
        /// Free slots per size class (index: log2(size / minimumSlot)).
        var free: [[UnsafeMutableRawPointer]] = Array(repeating: [], count: 7)
        var lockFailures = 0
        var warned = false
    }

    private struct Locked: @unchecked Sendable { var state = State() }
    private let state = Mutex(Locked())

    /// How many mappings could not be locked (RLIMIT_MEMLOCK too low, or no privilege).
    var lockFailures: Int { state.withLock { $0.state.lockFailures } }

    func allocate(_ count: Int) -> Slot {
        let largest = Self.minimumSlot << 6  // 4096
        if count > largest {
            let length = (count + Self.pageSize - 1) / Self.pageSize * Self.pageSize
            return Slot(pointer: map(length), size: length, dedicated: true)
        }
        var size = Self.minimumSlot, index = 0
        while size < count { size <<= 1; index += 1 }
        return state.withLock { s in
            if s.state.free[index].isEmpty {
                let chunk = mapLocked(Self.chunkSize, &s.state)
                for offset in stride(from: Self.chunkSize - size, through: 0, by: -size) {
                    s.state.free[index].append(chunk + offset)
                }
            }
            return Slot(pointer: s.state.free[index].removeLast(), size: size, dedicated: false)
        }
    }

    func release(_ slot: Slot) {
        OPENSSL_cleanse(slot.pointer, slot.size)
        if slot.dedicated {
            munlock(slot.pointer, slot.size)
            munmap(slot.pointer, slot.size)
            return
        }
        var index = 0, size = Self.minimumSlot
        while size < slot.size { size <<= 1; index += 1 }
        state.withLock { $0.state.free[index].append(slot.pointer) }
    }

    private func map(_ length: Int) -> UnsafeMutableRawPointer {
        state.withLock { mapLocked(length, &$0.state) }
    }

    /// mmap'd (page-aligned, zero-filled) and excluded from dumps; locked when allowed.
    private func mapLocked(_ length: Int, _ s: inout State) -> UnsafeMutableRawPointer {
        guard let p = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              p != MAP_FAILED else {
            // Out of address space: nothing sensible can continue (as with malloc failing).
            fatalError("mmap of \(length) bytes for secret memory failed")
        }
        #if os(Linux)
        _ = madvise(p, length, Int32(MADV_DONTDUMP))
        #endif
        if mlock(p, length) != 0 {
            s.lockFailures += 1
            if !s.warned {
                s.warned = true
                let warning = "kms: warning: cannot mlock memory for key material (RLIMIT_MEMLOCK); it may be swapped to disk\n"
                _ = warning.withCString { write(2, $0, strlen($0)) }  // stderr; no logger at this layer
            }
        }
        return p
    }
}
