import Foundation

/// The thread that runs the PostgreSQL client's async work. Store calls are synchronous
/// and block their caller until the work is done; if that work needed the Swift
/// concurrency pool, callers blocking pool threads (tests, a background job) could leave
/// it no thread to finish on: a deadlock. Tasks started with this executor as their
/// preference (and their children) run here instead; sockets stay on NIO's event loops.
final class StoreExecutor: TaskExecutor, @unchecked Sendable {
    /// One per process: the work is small (encode, decode, await I/O), one thread carries it.
    static let shared = StoreExecutor(name: "kms-store")

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init(name: String) {
        let thread = Thread { [unowned self] in self.run() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            condition.unlock()
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }

    /// Runs `operation` here and blocks the calling thread (which must not be an event
    /// loop, nor this executor's thread) until it finishes.
    static func blocking<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = ResultBox<T>()
        Task(executorPreference: shared) {
            do { result.set(.success(try await operation())) } catch { result.set(.failure(error)) }
            done.signal()
        }
        done.wait()
        return try result.get()
    }
}

private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<T, any Error>?
    func set(_ v: Result<T, any Error>) { lock.lock(); value = v; lock.unlock() }
    func get() throws -> T {
        lock.lock(); defer { lock.unlock() }
        guard let value else { throw CancellationError() }
        return try value.get()
    }
}
