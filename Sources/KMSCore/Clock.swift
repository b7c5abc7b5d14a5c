import Foundation

/// Time for key lifecycle decisions (creation, deletion windows, rotation), injected so
/// tests move it instead of waiting.
public protocol KMSClock: Sendable {
    /// Seconds since the Unix epoch.
    func now() -> Double
}

/// Wall-clock time, optionally shifted (a testing aid: `--lifecycle-clock-offset`).
public struct SystemClock: KMSClock {
    public let offset: Double
    public init(offset: Double = 0) { self.offset = offset }
    public func now() -> Double { Date().timeIntervalSince1970 + offset }
}

/// A clock tests set by hand.
public final class ManualClock: KMSClock, @unchecked Sendable {
    private let lock = NSLock()
    private var value: Double
    public init(_ start: Double = 1_700_000_000) { value = start }
    public func now() -> Double { lock.withLock { value } }
    public func advance(by seconds: Double) { lock.withLock { value += seconds } }
}
