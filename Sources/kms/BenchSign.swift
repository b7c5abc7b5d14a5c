import ArgumentParser
import Foundation
import KMSCore

/// `kms bench-sign`: the raw library cost of one signature, measured in a tight loop
/// with the same key code the server uses, so the benchmark can show the service's
/// Sign rate next to what the cryptography alone allows.
struct BenchSign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-sign", abstract: "Measure raw signing speed of a key spec (no server).")

    @Option(name: .customLong("key-spec"), help: "An asymmetric KeySpec, e.g. ECC_NIST_P256 or RSA_2048.") var keySpec: String
    @Option(help: "Signing algorithm (default: the spec's first, PSS SHA-256 for RSA).") var algorithm: String?
    @Option(help: "How long to measure.") var seconds: Double = 3
    @Option(help: "Threads signing concurrently (default: the core count, as the server uses).") var threads: Int?

    func run() throws {
        guard let spec = KeySpec(rawValue: keySpec), spec.isAsymmetric, spec.validKeyUsages.contains(.signVerify) else {
            throw ValidationError("\(keySpec) is not an asymmetric signing key spec")
        }
        let algorithms = spec.signingAlgorithms(for: .signVerify)
        let chosen: SigningAlgorithm
        if let algorithm {
            guard let a = SigningAlgorithm(rawValue: algorithm), algorithms.contains(a) else {
                throw ValidationError("\(algorithm) is not a signing algorithm of \(keySpec)")
            }
            chosen = a
        } else {
            chosen = algorithms.contains(.rsassaPSSSHA256) ? .rsassaPSSSHA256 : algorithms[0]
        }
        let key = try AsymmetricKeyPair.generate(spec).privateKey
        let message = Array(repeating: UInt8(0x61), count: 32)
        let messageType: MessageType = chosen == .ed25519PHSHA512 ? .digest : .raw
        let body = chosen == .ed25519PHSHA512 ? Array(repeating: UInt8(0x61), count: 64) : message
        let threadCount = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let deadline = Date().addingTimeInterval(seconds)
        let counter = SignCounter()
        let start = Date()
        DispatchQueue.concurrentPerform(iterations: threadCount) { _ in
            var n = 0
            while Date() < deadline {
                for _ in 0..<8 { _ = try? key.sign(message: body, messageType: messageType, algorithm: chosen) }
                n += 8
            }
            counter.add(n)
        }
        let elapsed = Date().timeIntervalSince(start)
        let total = counter.total
        print("key spec: \(spec.rawValue)  algorithm: \(chosen.rawValue)  threads: \(threadCount)")
        print("signs: \(total) in \(String(format: "%.2f", elapsed)) s")
        print("signs/s: \(Int(Double(total) / elapsed))")
    }
}

/// Per-thread counts summed once at the end; the lock is off the measured loop.
final class SignCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func add(_ n: Int) { lock.withLock { value += n } }
    var total: Int { lock.withLock { value } }
}
