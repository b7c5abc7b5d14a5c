import Foundation
@testable import KMSCrypto
import Testing

/// Where key material lives: pages the kernel reports as excluded from core dumps (and
/// locked, when RLIMIT_MEMLOCK allows), wiped when the secret is released.
@Suite struct SecretMemoryTests {
    /// The VmFlags of the mapping that contains `address`, from /proc/self/smaps.
    static func vmFlags(containing address: UInt) -> [String]? {
        // Read to EOF: /proc files report size 0, so size-based readers get nothing.
        guard let data = FileHandle(forReadingAtPath: "/proc/self/smaps")?.readDataToEndOfFile() else { return nil }
        let smaps = String(decoding: data, as: UTF8.self)
        var inside = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = bounds.count == 2 && bounds[0] <= address && address < bounds[1]
            } else if inside, line.hasPrefix("VmFlags:") {
                return fields.dropFirst().map(String.init)
            }
        }
        return nil
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/self/smaps")),
          arguments: [32, 200, 10_000])
    func secretsAreDumpExcludedAndLocked(size: Int) throws {
        let secret = SecretBytes(consuming: [UInt8](repeating: 0x5A, count: size))
        let address = secret.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        let flags = try #require(withExtendedLifetime(secret) { Self.vmFlags(containing: address) })
        #expect(flags.contains("dd"), "not excluded from core dumps: \(flags)")
        if SecretArena.shared.lockFailures == 0 {
            #expect(flags.contains("lo"), "not locked: \(flags)")
        }
    }

    /// A released slot is overwritten before it can be handed out again. (A 600-byte secret
    /// uses the 1 KiB slot class, which nothing else in the tests allocates; arena pages stay
    /// mapped, so reading the released slot is safe.)
    @Test func releasedSecretsAreWiped() {
        var address: UnsafeRawPointer?
        do {
            let secret = SecretBytes(consuming: [UInt8](repeating: 0xC3, count: 600))
            address = secret.withUnsafeBytes { $0.baseAddress }
            #expect(secret.bytes.allSatisfy { $0 == 0xC3 })
        }
        guard let address else { Issue.record("no address"); return }
        let after = Array(UnsafeRawBufferPointer(start: address, count: 600))
        #expect(after.allSatisfy { $0 == 0 }, "released secret memory still holds data")
    }
}
