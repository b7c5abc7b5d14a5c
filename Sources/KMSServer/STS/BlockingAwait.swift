import Dispatch
import Synchronization

/// Runs async work to completion from a synchronous caller that may block: a blocking-queue
/// thread, never an event loop or a thread of the concurrency pool (which it could starve).
/// Used for the JWT library, whose key collection is an actor.
enum BlockingAwait {
    static func run<T: Sendable, E: Error>(_ body: @escaping @Sendable () async throws(E) -> T) throws(E) -> T {
        let result = Mutex<Result<T, E>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let r: Result<T, E>
            do throws(E) { r = .success(try await body()) } catch { r = .failure(error) }
            result.withLock { $0 = r }
            done.signal()
        }
        // The task stores its result before it signals, so the first wake finds it.
        while true {
            done.wait()
            if let r = result.withLock({ $0 }) { return try r.get() }
        }
    }
}
