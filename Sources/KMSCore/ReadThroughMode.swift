import Foundation

/// Whether a registry held whole in memory must read the store on a miss (a cluster node:
/// other nodes write the same store, and their changes arrive only after a propagation
/// delay), and whether this thread may wait for the store (never on an event loop).
public final class ReadThroughMode: @unchecked Sendable {
    private let lock = NSLock()
    private var mayBlock: (@Sendable () -> Bool)?

    public init() {}

    /// On: misses read the store when `mayBlock()` says this thread may wait for it.
    public func enable(mayBlock: @escaping @Sendable () -> Bool) { lock.withLock { self.mayBlock = mayBlock } }

    public var isOn: Bool { lock.withLock { mayBlock != nil } }

    /// nil: off (the memory is the whole truth, as on a single SQLite node); else whether
    /// the store may be read on this thread now.
    public var mayReadNow: Bool? {
        guard let mayBlock = lock.withLock({ self.mayBlock }) else { return nil }
        return mayBlock()
    }
}
