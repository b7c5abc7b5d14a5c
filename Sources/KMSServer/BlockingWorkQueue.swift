import KMSCore
import NIOCore
import NIOPosix
import Synchronization

/// Runs the operations that must not run on an event loop (SQLite writes, key-pair
/// generation) on bounded, per-account fair queues.
///
/// Why: with one FIFO pool, a caller that sends RSA-4096 generations (seconds each) ahead of
/// everyone else stalls every account's writes, and a flood of requests grows the queue
/// without limit. Here writes and key generation have separate lanes and threads, so slow
/// generation never delays a write; in each lane the accounts with waiting work take turns
/// (round-robin), so one account waits behind its own backlog, not others'; and each lane
/// holds at most `perAccount` jobs of one account and `total` jobs in all. A request that
/// finds its queue full is answered ThrottlingException at once, as AWS throttles.
final class BlockingWorkQueue: Sendable {
    enum Lane: Int, Sendable, CaseIterable {
        /// Disk writes: state changes, symmetric and HMAC CreateKey. Milliseconds each.
        case writes = 0
        /// Asymmetric key-pair generation (CreateKey of an asymmetric spec, GenerateDataKeyPair).
        case generation = 1
    }

    struct Limits: Sendable {
        var threads: Int
        var perAccount: Int
        var total: Int
    }

    static let defaultLimits: [Lane: Limits] = [
        .writes: Limits(threads: 2, perAccount: 64, total: 512),
        // RSA-4096 generation takes about a second in a release build: eight queued jobs of
        // one account are seconds of its own waiting, and 64 in all keep memory trivial.
        .generation: Limits(threads: 2, perAccount: 8, total: 64),
    ]

    /// One job: the work and the promise its connection waits on.
    struct Job: Sendable {
        let run: @Sendable () -> RequestPipeline.Response
        let promise: EventLoopPromise<RequestPipeline.Response>
    }

    /// Per-account FIFO queues and the order in which accounts take turns.
    struct FairQueue: Sendable {
        private var queues: [String: CircularBuffer<Job>] = [:]
        /// Accounts with waiting jobs; the first runs next, then goes to the back.
        private var turns = CircularBuffer<String>()
        private(set) var count = 0

        /// False when the account's queue or the whole lane is full.
        mutating func push(_ job: Job, account: String, limits: Limits) -> Bool {
            guard count < limits.total else { return false }
            if queues[account] != nil {
                guard (queues[account]?.count ?? 0) < limits.perAccount else { return false }
                queues[account]?.append(job)
            } else {
                guard limits.perAccount > 0 else { return false }
                queues[account] = CircularBuffer([job])
                turns.append(account)
            }
            count += 1
            return true
        }

        mutating func pop() -> Job? {
            guard let account = turns.popFirst(), let job = queues[account]?.popFirst() else { return nil }
            if queues[account]?.isEmpty ?? true {
                queues[account] = nil
            } else {
                turns.append(account)
            }
            count -= 1
            return job
        }
    }

    private final class LaneQueue: Sendable {
        let limits: Limits
        let pool: NIOThreadPool
        let queue = Mutex(FairQueue())

        init(limits: Limits) {
            self.limits = limits
            self.pool = NIOThreadPool(numberOfThreads: max(1, limits.threads))
        }
    }

    private let lanes: [LaneQueue]
    /// Requests refused because their queue was full.
    let rejected = Atomic<Int>(0)

    init(limits: [Lane: Limits] = BlockingWorkQueue.defaultLimits) {
        lanes = Lane.allCases.map { LaneQueue(limits: limits[$0] ?? Self.defaultLimits[$0] ?? Limits(threads: 1, perAccount: 1, total: 1)) }
    }

    func start() { lanes.forEach { $0.pool.start() } }

    func shutdownGracefully() async throws {
        for lane in lanes { try await lane.pool.shutdownGracefully() }
    }

    /// Queues `work` for `account` in `lane`; the future completes on `eventLoop` with its
    /// response, or at once with ThrottlingException when the queue is full.
    func submit(_ lane: Lane, account: String, on eventLoop: any EventLoop,
                _ work: @escaping @Sendable () -> RequestPipeline.Response) -> EventLoopFuture<RequestPipeline.Response> {
        let laneQueue = lanes[lane.rawValue]
        let promise = eventLoop.makePromise(of: RequestPipeline.Response.self)
        let accepted = laneQueue.queue.withLock { $0.push(Job(run: work, promise: promise), account: account, limits: laneQueue.limits) }
        guard accepted else {
            rejected.add(1, ordering: .relaxed)
            promise.succeed(RequestPipeline.error(.throttled))
            return promise.futureResult
        }
        // One pool item per queued job; each item runs whichever job's turn it is, so the
        // pool's FIFO order never decides who goes first.
        laneQueue.pool.submit { state in
            guard let job = laneQueue.queue.withLock({ $0.pop() }) else { return }
            guard state == .active else {
                job.promise.succeed(RequestPipeline.error(.internalError))
                return
            }
            job.promise.succeed(job.run())
        }
        return promise.futureResult
    }

    /// Jobs waiting in `lane` (tests).
    func queued(_ lane: Lane) -> Int { lanes[lane.rawValue].queue.withLock { $0.count } }
}

extension KMSError {
    /// AWS KMS's answer to a caller over its request quota (HTTP 400), word for word.
    static let throttled = KMSError(.throttling, "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.")
}
