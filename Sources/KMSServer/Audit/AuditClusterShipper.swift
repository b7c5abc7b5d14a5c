import Foundation
import KMSCore
import KMSStorage
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where the written trail ends (AuditLog.committedHorizon).
struct AuditHorizon: Sendable, Equatable {
    var segment: Int
    var size: Int
    var count: Int
}

/// A place in the node's chain: the segment and byte offset of the next record to read,
/// and how many records come before it.
struct AuditShipPosition: Sendable, Equatable {
    var segment: Int
    var offset: Int
    var sequence: Int
}

/// Ships a node's own audit records to the cluster trail in PostgreSQL (issue 11 §2).
///
/// The node's chain stays in its files; a background thread reads the records written
/// since the last pass (never past `AuditLog.committedHorizon`, so only whole groups that
/// reached the OS) and inserts them in batches, idempotently on (node, sequence): after a
/// crash or restart it resumes from the highest sequence the table has for the node, and
/// re-shipping inserts nothing twice. The request path never waits for it. Each pass also
/// reads the other nodes' key uses into this node's KeyUsageTracker (GetKeyLastUsage).
///
/// Bound: an event is in the table `interval` (0.25 s) plus one batch insert after its
/// response, while PostgreSQL is reachable; when it is not, events wait in the files and
/// ship, in order, once it is back (the log says so once).
final class AuditClusterShipper: Sendable {
    static let interval = 0.25
    /// Records per INSERT (one transaction each).
    static let batchLimit = 1000
    /// A pass reads at most this much of a segment at once.
    static let readChunk = 4 * 1024 * 1024

    let trail: PostgresAuditTrail
    let audit: AuditLog
    let tracker: KeyUsageTracker?
    let node: String

    struct State {
        var position: AuditShipPosition
        var usageCursor = 0.0
        var failing = false
        var stopped = false
        var shipped = 0
    }
    private let state: Mutex<State>
    private let wake = NSCondition()

    /// For /metrics, apart from `state` (held across a whole pass and its inserts).
    struct Stats {
        var shippedSequence = 0
        var caughtUpAt = Date().timeIntervalSince1970
        var records = 0
        var encodeNanoseconds: UInt64 = 0
    }
    private let stats = Mutex(Stats())

    /// Finds where to resume: the table's highest sequence for this node, located in the
    /// segment files. A table ahead of the files (a restored or replaced data dir) gets a
    /// new node ID, so no record of this chain is ever taken for one already shipped.
    init(trail: PostgresAuditTrail, audit: AuditLog, tracker: KeyUsageTracker?) throws {
        self.trail = trail
        self.audit = audit
        self.tracker = tracker
        var node = try AuditNodeID.loadOrCreate(directory: audit.directory)
        var shipped = Int(try trail.lastSequence(node: node))
        let horizon = audit.committedHorizon()
        if shipped > horizon.count {
            Console.error("kms: warning: the cluster audit trail has \(shipped) records of node \(node) but its files only "
                + "\(horizon.count); this data dir's chain is shipped under a new node ID")
            node = try AuditNodeID.replace(directory: audit.directory)
            shipped = 0
        }
        self.node = node
        let position = try Self.locate(sequence: shipped, directory: audit.directory, horizon: horizon)
        state = Mutex(State(position: position))
        stats.withLock { $0.shippedSequence = position.sequence }
        audit.pruneFloor.store(position.segment, ordering: .relaxed)
        // GetKeyLastUsage's TrackingStartDate: the oldest event of the whole cluster trail.
        if let tracker, let oldest = try trail.oldestEventTime() { tracker.startTracking(at: oldest) }
    }

    /// Starts the background thread (one pass every `interval`).
    func start() {
        let thread = Thread { [self] in self.run() }
        thread.name = "kms-audit-ship"
        thread.start()
    }

    /// Stops the thread after one last pass (at a clean shutdown: nothing is left behind).
    func stop() {
        _ = shipPending()
        state.withLock { $0.stopped = true }
        wake.lock(); wake.signal(); wake.unlock()
    }

    /// Records shipped by this process (tests, the shutdown line).
    var shipped: Int { state.withLock { $0.shipped } }

    private func run() {
        var lastPrune = 0.0
        while !state.withLock({ $0.stopped }) {
            _ = shipPending()
            pollKeyUsage()
            // Retention in the cluster table too (each node prunes: the deletes are idempotent).
            let now = Date().timeIntervalSince1970
            if let retention = audit.retention, now - lastPrune >= AuditLog.pruneEvery {
                lastPrune = now
                do {
                    let deleted = try trail.prune(olderThan: now - retention)
                    if deleted > 0 { Console.line("kms: audit retention: removed \(deleted) row(s) from the cluster trail") }
                } catch {
                    Console.error("kms: warning: audit retention in the cluster trail failed (\(error)); retried in an hour")
                }
            }
            wake.lock()
            _ = wake.wait(until: Date(timeIntervalSinceNow: Self.interval))
            wake.unlock()
        }
    }

    /// Ships everything written up to now. LookupEvents calls it first, so a node always
    /// finds its own calls; passes are serialized by the state lock. False when
    /// PostgreSQL refused (the records stay in the files for the next pass).
    @discardableResult
    func shipPending() -> Bool {
        state.withLock { s in
            let passStarted = Date().timeIntervalSince1970
            let horizon = audit.committedHorizon()
            while s.position.sequence < horizon.count {
                var position = s.position
                let records = Self.read(from: &position, directory: audit.directory, horizon: horizon, limit: Self.batchLimit)
                guard !records.isEmpty else { break }
                let cpuStart = Self.threadCPUNanoseconds()
                let events = Self.events(records, node: node, audit: audit)
                let cpu = Self.threadCPUNanoseconds() &- cpuStart
                do {
                    try trail.ship(events, keyUsage: Self.lastUses(events))
                } catch {
                    if !s.failing {
                        Console.error("kms: warning: audit events cannot reach the cluster trail in PostgreSQL (\(error)); "
                            + "they stay in this node's files and are shipped when it answers again")
                    }
                    s.failing = true
                    return false
                }
                if s.failing { Console.line("kms: audit events reach the cluster trail again") }
                s.failing = false
                s.position = position
                audit.pruneFloor.store(position.segment, ordering: .relaxed)
                s.shipped += events.count
                stats.withLock {
                    $0.records += events.count
                    $0.encodeNanoseconds &+= cpu
                    $0.shippedSequence = position.sequence
                }
            }
            // Every record written before this pass began is in the table now.
            if s.position.sequence >= horizon.count {
                stats.withLock { $0.shippedSequence = s.position.sequence; $0.caughtUpAt = passStarted }
            }
            return true
        }
    }

    /// Records of a batch as cluster rows: from the trail's index when it still holds
    /// them (no parsing: it is what the records were written from), else from the lines.
    static func events(_ records: [(line: ArraySlice<UInt8>, sequence: Int)], node: String,
                       audit: AuditLog) -> [ClusterAuditEvent] {
        if let first = records.first?.sequence, let last = records.last?.sequence, last - first + 1 == records.count,
           let entries = audit.indexEntries(first, through: last) {
            return zip(records, entries).map { record, e in
                event(e, line: record.line, node: node)
            }
        }
        return records.map { event($0.line, node: node, sequence: $0.sequence) }
    }

    /// The cluster row of a record from its index entry. The time is whole seconds, as the
    /// line's eventTime has it (and as parsing the line gives).
    static func event(_ e: AuditIndexEntry, line: ArraySlice<UInt8>, node: String) -> ClusterAuditEvent {
        ClusterAuditEvent(node: node, sequence: Int64(e.sequence), time: e.time.rounded(.down), account: e.account,
                          eventName: e.eventName, eventSource: e.source.rawValue, username: e.username,
                          accessKeyId: e.accessKeyId, readOnly: e.readOnly, eventID: e.eventID, requestID: e.requestID,
                          resources: e.resources, succeeded: e.succeeded, isServiceEvent: e.isServiceEvent,
                          event: String(decoding: line, as: UTF8.self))
    }

    /// This thread's CPU time (what building the rows costs; PostgreSQL's wire work runs on
    /// NIO's threads and the server's own process).
    static func threadCPUNanoseconds() -> UInt64 {
        var t = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t) == 0 else { return 0 }
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }

    /// How far behind the written trail the table is: records, and seconds since the
    /// oldest record not yet shipped could have been written (an upper bound: the start
    /// of the last pass that caught up; 0 when nothing waits).
    func lag(now: Double = Date().timeIntervalSince1970) -> (records: Int, seconds: Double) {
        let horizon = audit.committedHorizon()
        return stats.withLock { t in
            let behind = max(0, horizon.count - t.shippedSequence)
            return (behind, behind == 0 ? 0 : max(0, now - t.caughtUpAt))
        }
    }

    /// Records shipped by this process and the CPU time spent turning them into rows.
    var shipping: (records: Int, encodeSeconds: Double) {
        stats.withLock { ($0.records, Double($0.encodeNanoseconds) / 1e9) }
    }

    /// Reads the other nodes' key uses into this node's tracker.
    func pollKeyUsage() {
        guard let tracker else { return }
        let since = state.withLock { $0.usageCursor }
        guard let rows = try? trail.keyUsage(changedAfter: since) else { return }
        var newest = since
        for row in rows {
            tracker.record(keyArns: [row.keyArn], row.usage)
            newest = max(newest, row.updatedAt)
        }
        state.withLock { $0.usageCursor = max($0.usageCursor, newest) }
    }

    /// The cluster row of one record line.
    static func event(_ line: ArraySlice<UInt8>, node: String, sequence: Int) -> ClusterAuditEvent {
        let text = String(decoding: line, as: UTF8.self)
        // An unreadable line still takes its place (and is visible to nobody: no account).
        guard let e = AuditSegments.indexEntry(line, segment: 0, offset: 0, sequence: sequence) else {
            return ClusterAuditEvent(node: node, sequence: Int64(sequence), time: 0, account: "", eventName: "", eventSource: "",
                                     username: "", accessKeyId: "", readOnly: false, eventID: "", requestID: "",
                                     resources: [], succeeded: false, isServiceEvent: false, event: text)
        }
        return ClusterAuditEvent(node: node, sequence: Int64(sequence), time: e.time, account: e.account, eventName: e.eventName,
                                 eventSource: e.source.rawValue, username: e.username, accessKeyId: e.accessKeyId,
                                 readOnly: e.readOnly, eventID: e.eventID, requestID: e.requestID, resources: e.resources,
                                 succeeded: e.succeeded, isServiceEvent: e.isServiceEvent, event: text)
    }

    /// Each key's latest successful cryptographic use in a batch.
    static func lastUses(_ events: [ClusterAuditEvent]) -> [String: KeyLastUsage] {
        var out: [String: KeyLastUsage] = [:]
        for e in events where e.succeeded && KeyUsageTracker.operations.contains(e.eventName) {
            let usage = KeyLastUsage(operation: e.eventName, time: e.time, cloudTrailEventId: e.eventID, kmsRequestId: e.requestID)
            for arn in e.resources where out[arn].map({ $0.time <= e.time }) ?? true { out[arn] = usage }
        }
        return out
    }

    /// Up to `limit` whole records from `position` on, never past `horizon`; moves
    /// `position` past them. Older segments are read to their end (they are closed once
    /// the next one is begun).
    static func read(from position: inout AuditShipPosition, directory: String, horizon: AuditHorizon,
                     limit: Int) -> [(line: ArraySlice<UInt8>, sequence: Int)] {
        var out: [(line: ArraySlice<UInt8>, sequence: Int)] = []
        while out.count < limit, position.sequence < horizon.count, position.segment <= horizon.segment {
            let path = AuditSegments.path(directory: directory, segment: position.segment)
            let end = position.segment < horizon.segment ? fileSize(path) : horizon.size
            guard let end, position.offset < end else {
                if position.segment < horizon.segment {
                    position.segment += 1
                    position.offset = 0
                    continue
                }
                break
            }
            guard let bytes = pread(path, offset: position.offset, count: min(end - position.offset, readChunk)) else { break }
            var start = bytes.startIndex
            var took = 0
            while out.count < limit, let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
                position.sequence += 1
                out.append((bytes[start..<newline], position.sequence))
                took = newline + 1 - bytes.startIndex
                start = newline + 1
            }
            // A record longer than the chunk: read it whole next time.
            if took == 0 {
                guard let whole = pread(path, offset: position.offset, count: end - position.offset),
                      let newline = whole.firstIndex(of: UInt8(ascii: "\n")) else { break }
                position.sequence += 1
                out.append((whole[whole.startIndex..<newline], position.sequence))
                took = newline + 1 - whole.startIndex
            }
            position.offset += took
        }
        return out
    }

    /// The position just after record number `sequence` (0: the start of the trail).
    static func locate(sequence: Int, directory: String, horizon: AuditHorizon) throws -> AuditShipPosition {
        // After retention, the files begin at the record after the pruned prefix.
        let pruned = try AuditPrunedPrefix.read(directory: directory).get()
        let segments = try AuditSegments.list(directory).filter { $0 > (pruned?.segment ?? 0) }
        var position = AuditShipPosition(segment: segments.first ?? horizon.segment, offset: 0, sequence: pruned?.records ?? 0)
        guard sequence > position.sequence else {
            if sequence < position.sequence {
                Console.error("kms: warning: audit records \(sequence + 1)...\(position.sequence) were pruned by retention "
                    + "before they reached the cluster trail")
            }
            return position
        }
        for segment in segments where segment <= horizon.segment {
            let path = AuditSegments.path(directory: directory, segment: segment)
            let end = segment < horizon.segment ? (fileSize(path) ?? 0) : horizon.size
            guard let bytes = pread(path, offset: 0, count: end) else { throw AuditError("cannot read \(path)") }
            position = AuditShipPosition(segment: segment, offset: 0, sequence: position.sequence)
            var offset = 0
            while position.sequence < sequence, let newline = bytes[offset...].firstIndex(of: UInt8(ascii: "\n")) {
                position.sequence += 1
                offset = newline + 1
            }
            position.offset = offset
            if position.sequence == sequence {
                // At a segment's end, the next record is at the start of the next segment.
                if offset == end, segment < horizon.segment, let next = segments.first(where: { $0 > segment }) {
                    return AuditShipPosition(segment: next, offset: 0, sequence: sequence)
                }
                return position
            }
        }
        throw AuditError("the audit files hold fewer than \(sequence) records")
    }

    static func fileSize(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_size)
    }

    static func pread(_ path: String, offset: Int, count: Int) -> ArraySlice<UInt8>? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return -1 }
                return Glibc.pread(fd, base + done, count - done, off_t(offset + done))
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return nil }
            done += n
        }
        return buffer[...]
    }
}

/// The node's name in the cluster trail: random, made once per audit directory
/// (`<data-dir>/audit/node-id`), so it outlives restarts and goes with the chain it names.
enum AuditNodeID {
    static let fileName = "node-id"

    static func loadOrCreate(directory: String) throws -> String {
        let path = directory + "/" + fileName
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if valid(id) { return id }
        }
        return try replace(directory: directory)
    }

    /// A fresh ID, written atomically.
    static func replace(directory: String) throws -> String {
        var random = SystemRandomNumberGenerator()
        let id = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &random)) }.joined()
        let path = directory + "/" + fileName
        let temporary = path + ".tmp"
        let fd = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AuditError("cannot write \(path): \(String(cString: strerror(errno)))") }
        let ok = AuditLog.writeAll(fd, Array((id + "\n").utf8)) && fsync(fd) == 0
        close(fd)
        guard ok, rename(temporary, path) == 0 else { throw AuditError("cannot write \(path)") }
        return id
    }

    static func valid(_ id: String) -> Bool {
        id.utf8.count == 32 && id.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}
