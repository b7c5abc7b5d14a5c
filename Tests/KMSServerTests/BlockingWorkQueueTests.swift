import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing
@testable import KMSServer

/// The blocking operations' queue: per-account turns, bounded queues, throttling when full.
@Suite struct BlockingWorkQueueTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    static func response(_ text: String) -> RequestPipeline.Response {
        RequestPipeline.Response(status: .ok, body: Array(text.utf8))
    }

    /// Accounts take turns: one account's backlog does not go ahead of another's next job.
    @Test func accountsTakeTurns() throws {
        let loop = Self.group.next()
        var queue = BlockingWorkQueue.FairQueue()
        let limits = BlockingWorkQueue.Limits(threads: 1, perAccount: 10, total: 10)
        func job(_ name: String) -> BlockingWorkQueue.Job {
            let promise = loop.makePromise(of: RequestPipeline.Response.self)
            promise.succeed(Self.response(name))  // never run here; completed so no promise leaks
            return BlockingWorkQueue.Job(run: { Self.response(name) }, promise: promise)
        }
        for (name, account) in [("a1", "A"), ("a2", "A"), ("a3", "A"), ("b1", "B"), ("c1", "C"), ("b2", "B")] {
            #expect(Bool(queue.push(job(name), account: account, limits: limits)))
        }
        var order: [String] = []
        while let next = queue.pop() { order.append(String(decoding: next.run().body, as: UTF8.self)) }
        #expect(order == ["a1", "b1", "c1", "a2", "b2", "a3"])
        #expect(queue.count == 0)
    }

    @Test func queuesAreBoundedPerAccountAndInAll() {
        let loop = Self.group.next()
        var queue = BlockingWorkQueue.FairQueue()
        let limits = BlockingWorkQueue.Limits(threads: 1, perAccount: 2, total: 3)
        func job() -> BlockingWorkQueue.Job {
            let promise = loop.makePromise(of: RequestPipeline.Response.self)
            promise.succeed(Self.response(""))
            return BlockingWorkQueue.Job(run: { Self.response("") }, promise: promise)
        }
        #expect(Bool(queue.push(job(), account: "A", limits: limits)))
        #expect(Bool(queue.push(job(), account: "A", limits: limits)))
        #expect(!Bool(queue.push(job(), account: "A", limits: limits)))  // A's queue is full
        #expect(Bool(queue.push(job(), account: "B", limits: limits)))
        #expect(!Bool(queue.push(job(), account: "C", limits: limits)))  // the lane is full
        _ = queue.pop()
        #expect(Bool(queue.push(job(), account: "C", limits: limits)))
    }

    /// A full queue answers ThrottlingException (HTTP 400, AWS's words) at once, while the
    /// other lane keeps running: slow generation never holds up writes.
    @Test func fullQueueThrottlesAndLanesAreIndependent() throws {
        let loop = Self.group.next()
        let queue = BlockingWorkQueue(limits: [
            .generation: .init(threads: 1, perAccount: 1, total: 2),
            .writes: .init(threads: 1, perAccount: 8, total: 8),
        ])
        queue.start()
        defer { try? Self.shutdown(queue) }
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let slow = queue.submit(.generation, account: "A", on: loop) {
            started.signal()
            release.wait()
            return Self.response("slow")
        }
        started.wait()  // the only generation thread is now busy
        let waiting = queue.submit(.generation, account: "A", on: loop) { Self.response("a2") }
        let throttled = try queue.submit(.generation, account: "A", on: loop) { Self.response("a3") }.wait()
        #expect(throttled.status.code == 400)
        let error = String(decoding: throttled.body, as: UTF8.self)
        #expect(error.contains("ThrottlingException") && error.contains("You have exceeded the rate at which you may call KMS."))
        #expect(queue.rejected.load(ordering: .relaxed) == 1)
        // Another account still gets a place in the generation lane, and writes run now.
        let other = queue.submit(.generation, account: "B", on: loop) { Self.response("b1") }
        let write = try queue.submit(.writes, account: "A", on: loop) { Self.response("write") }.wait()
        #expect(String(decoding: write.body, as: UTF8.self) == "write")
        release.signal()
        #expect(String(decoding: try slow.wait().body, as: UTF8.self) == "slow")
        #expect(String(decoding: try waiting.wait().body, as: UTF8.self) == "a2")
        #expect(String(decoding: try other.wait().body, as: UTF8.self) == "b1")
    }

    static func shutdown(_ queue: BlockingWorkQueue) throws {
        let done = DispatchSemaphore(value: 0)
        Task {
            try? await queue.shutdownGracefully()
            done.signal()
        }
        done.wait()
    }
}
